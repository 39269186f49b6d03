-- 02_bloom.sql: Bloom filters (src/bloom.c, src/core/bloom_parse.c): the
-- bloom type, bloom_agg() to build one, and the functions that test and
-- describe it.

-- A Bloom filter of keys, for exclusion lists too large for an array.
-- Keys are hashed by their text form, as the catalog stores them, so
-- 42, 42::bigint and '42' are the same key.  Text form
-- bloom:v=1,k=<probes>,m=<bits>,n=<items>:<bits in base64>.

CREATE TYPE recsys.bloom;

CREATE FUNCTION recsys.bloom_in(cstring) RETURNS recsys.bloom
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_out(recsys.bloom) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_recv(internal) RETURNS recsys.bloom
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_send(recsys.bloom) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The bits are incompressible at the designed load, so they are stored
-- out of line without trying to compress them.
CREATE TYPE recsys.bloom (
	INPUT = recsys.bloom_in,
	OUTPUT = recsys.bloom_out,
	RECEIVE = recsys.bloom_recv,
	SEND = recsys.bloom_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = external
);

COMMENT ON TYPE recsys.bloom IS
	'Bloom filter of keys (hashed by their text form); text form bloom:v=1,k=<probes>,m=<bits>,n=<items>:<base64 bits>';
COMMENT ON FUNCTION recsys.bloom_in(cstring) IS 'bloom input: bloom:v=1,k=..,m=..,n=..:<base64>';
COMMENT ON FUNCTION recsys.bloom_out(recsys.bloom) IS 'bloom output: bloom:v=1,k=..,m=..,n=..:<base64>';
COMMENT ON FUNCTION recsys.bloom_recv(internal) IS
	'bloom binary input: uint8 version, uint8 flags, int16 probes, int64 bits, int64 items, bit array';
COMMENT ON FUNCTION recsys.bloom_send(recsys.bloom) IS 'bloom binary output';

-- Building: bloom_agg sizes the filter for the distinct keys it saw.
CREATE FUNCTION recsys.bloom_agg_transfn(internal, anyelement)
RETURNS internal AS 'MODULE_PATHNAME', 'bloom_agg_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_agg_transfn(internal, anyelement, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'bloom_agg_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_agg_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_agg_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_agg_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.bloom_agg_finalfn(internal)
RETURNS recsys.bloom AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.bloom_agg_transfn(internal, anyelement) IS
	'recsys.bloom_agg transition: collects the hash of one key';
COMMENT ON FUNCTION recsys.bloom_agg_transfn(internal, anyelement, double precision) IS
	'recsys.bloom_agg transition: collects the hash of one key, with the requested false-positive rate';
COMMENT ON FUNCTION recsys.bloom_agg_combinefn(internal, internal) IS
	'recsys.bloom_agg combine: merges partial hash lists';
COMMENT ON FUNCTION recsys.bloom_agg_serialfn(internal) IS 'recsys.bloom_agg state to bytea';
COMMENT ON FUNCTION recsys.bloom_agg_deserialfn(bytea, internal) IS 'recsys.bloom_agg state from bytea';
COMMENT ON FUNCTION recsys.bloom_agg_finalfn(internal) IS
	'recsys.bloom_agg final: sizes the filter for the distinct keys and sets their bits';

CREATE AGGREGATE recsys.bloom_agg(key anyelement) (
	SFUNC = recsys.bloom_agg_transfn,
	STYPE = internal,
	FINALFUNC = recsys.bloom_agg_finalfn,
	COMBINEFUNC = recsys.bloom_agg_combinefn,
	SERIALFUNC = recsys.bloom_agg_serialfn,
	DESERIALFUNC = recsys.bloom_agg_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.bloom_agg(anyelement) IS
	'Bloom filter of the non-NULL keys, sized for a false-positive rate of 0.01; no keys give an empty filter';

CREATE AGGREGATE recsys.bloom_agg(key anyelement, false_positive_rate double precision) (
	SFUNC = recsys.bloom_agg_transfn,
	STYPE = internal,
	FINALFUNC = recsys.bloom_agg_finalfn,
	COMBINEFUNC = recsys.bloom_agg_combinefn,
	SERIALFUNC = recsys.bloom_agg_serialfn,
	DESERIALFUNC = recsys.bloom_agg_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.bloom_agg(anyelement, double precision) IS
	'Bloom filter of the non-NULL keys, sized for the given false-positive rate in (0, 0.5]; no keys give an empty filter';

-- Using
CREATE FUNCTION recsys.bloom_contains(filter recsys.bloom, key anyelement) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.bloom_contains(recsys.bloom, anyelement) IS
	'false if the key is certainly not in the filter; true if it is, or (at about the filter''s false-positive rate) if it is not';
-- so that a quoted literal works without a cast: bloom_contains(f, 'item-7')
CREATE FUNCTION recsys.bloom_contains(filter recsys.bloom, key text) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.bloom_contains(recsys.bloom, text) IS
	'false if the text key is certainly not in the filter; true if it is, or (at about the filter''s false-positive rate) if it is not';

CREATE FUNCTION recsys.bloom_stats(filter recsys.bloom,
	OUT bits bigint, OUT probes integer, OUT items bigint,
	OUT expected_false_positive_rate double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.bloom_stats(recsys.bloom) IS
	'size of a filter (bits, probes per key, distinct keys added) and its expected false-positive rate (1 - e^(-k n / m))^k';

