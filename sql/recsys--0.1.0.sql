-- recsys 0.1.0 install script.
--
-- Objects are grouped by area, in the same order as the source tree:
--   1. the embedding type (src/embedding.c, src/distance.c, src/embedding_agg.c)
--   2. synthetic data (src/synth.c)
-- Every public function carries a COMMENT ON so \df+ documents it.

\echo Use "CREATE EXTENSION recsys" to load this file. \quit

------------------------------------------------------------------------------
-- 1. The embedding type
------------------------------------------------------------------------------

-- An embedding: 1..16000 float4 elements, all finite.  Text form [1,2,3];
-- typmod embedding(n) fixes the dimension count.

CREATE TYPE recsys.embedding;

CREATE FUNCTION recsys.embedding_in(cstring, oid, integer) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_out(recsys.embedding) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_recv(internal, oid, integer) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_send(recsys.embedding) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE recsys.embedding (
	INPUT = recsys.embedding_in,
	OUTPUT = recsys.embedding_out,
	TYPMOD_IN = recsys.embedding_typmod_in,
	TYPMOD_OUT = recsys.embedding_typmod_out,
	RECEIVE = recsys.embedding_recv,
	SEND = recsys.embedding_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = external
);

COMMENT ON TYPE recsys.embedding IS
	'dense float4 vector of 1 to 16000 finite elements; text form [1,2,3], typmod embedding(n)';
COMMENT ON FUNCTION recsys.embedding_in(cstring, oid, integer) IS 'embedding input: [1,2,3]';
COMMENT ON FUNCTION recsys.embedding_out(recsys.embedding) IS 'embedding output: shortest exact decimals';
COMMENT ON FUNCTION recsys.embedding_typmod_in(cstring[]) IS 'embedding(n) type modifier input';
COMMENT ON FUNCTION recsys.embedding_typmod_out(integer) IS 'embedding(n) type modifier output';
COMMENT ON FUNCTION recsys.embedding_recv(internal, oid, integer) IS 'embedding binary input: int16 dims, int16 flags, float4s';
COMMENT ON FUNCTION recsys.embedding_send(recsys.embedding) IS 'embedding binary output';

-- Casts --------------------------------------------------------------------

CREATE FUNCTION recsys.embedding(recsys.embedding, integer, boolean) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME', 'embedding_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding(recsys.embedding, integer, boolean) IS
	'checks an embedding against the dimension count of embedding(n)';

CREATE FUNCTION recsys.array_to_embedding(real[], integer, boolean) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.array_to_embedding(double precision[], integer, boolean) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.array_to_embedding(integer[], integer, boolean) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.array_to_embedding(numeric[], integer, boolean) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.array_to_embedding(real[], integer, boolean) IS
	'cast: one-dimensional real[] without NULLs to embedding';
COMMENT ON FUNCTION recsys.array_to_embedding(double precision[], integer, boolean) IS
	'cast: one-dimensional double precision[] without NULLs to embedding (each element must fit float4)';
COMMENT ON FUNCTION recsys.array_to_embedding(integer[], integer, boolean) IS
	'cast: one-dimensional integer[] without NULLs to embedding';
COMMENT ON FUNCTION recsys.array_to_embedding(numeric[], integer, boolean) IS
	'cast: one-dimensional numeric[] without NULLs to embedding (each element must fit float4)';

CREATE FUNCTION recsys.embedding_to_float4_array(recsys.embedding, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_to_float8_array(recsys.embedding, integer, boolean) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding_to_float4_array(recsys.embedding, integer, boolean) IS
	'cast: embedding to real[]';
COMMENT ON FUNCTION recsys.embedding_to_float8_array(recsys.embedding, integer, boolean) IS
	'cast: embedding to double precision[]';

CREATE CAST (recsys.embedding AS recsys.embedding)
	WITH FUNCTION recsys.embedding(recsys.embedding, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS recsys.embedding)
	WITH FUNCTION recsys.array_to_embedding(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS recsys.embedding)
	WITH FUNCTION recsys.array_to_embedding(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS recsys.embedding)
	WITH FUNCTION recsys.array_to_embedding(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS recsys.embedding)
	WITH FUNCTION recsys.array_to_embedding(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (recsys.embedding AS real[])
	WITH FUNCTION recsys.embedding_to_float4_array(recsys.embedding, integer, boolean) AS ASSIGNMENT;
CREATE CAST (recsys.embedding AS double precision[])
	WITH FUNCTION recsys.embedding_to_float8_array(recsys.embedding, integer, boolean) AS ASSIGNMENT;

-- Functions ----------------------------------------------------------------

CREATE FUNCTION recsys.dims(recsys.embedding) RETURNS integer
	AS 'MODULE_PATHNAME', 'embedding_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.dims(recsys.embedding) IS
	'number of dimensions of an embedding';

CREATE FUNCTION recsys.norm(recsys.embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.norm(recsys.embedding) IS
	'Euclidean (L2) norm of an embedding';

CREATE FUNCTION recsys.l2_normalize(recsys.embedding) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME', 'embedding_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.l2_normalize(recsys.embedding) IS
	'the embedding scaled to unit L2 norm; a zero vector is returned unchanged';

CREATE FUNCTION recsys.inner_product(recsys.embedding, recsys.embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.inner_product(recsys.embedding, recsys.embedding) IS
	'inner (dot) product of two embeddings of equal dimension';

CREATE FUNCTION recsys.cosine_similarity(recsys.embedding, recsys.embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_cosine_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.cosine_similarity(recsys.embedding, recsys.embedding) IS
	'cosine of the angle between two embeddings, in [-1, 1]; NaN if either is a zero vector';

CREATE FUNCTION recsys.l2_distance(recsys.embedding, recsys.embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.l2_distance(recsys.embedding, recsys.embedding) IS
	'Euclidean distance (operator <->)';

CREATE FUNCTION recsys.negative_inner_product(recsys.embedding, recsys.embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.negative_inner_product(recsys.embedding, recsys.embedding) IS
	'minus the inner product, so ascending order ranks the largest product first (operator <#>)';

CREATE FUNCTION recsys.cosine_distance(recsys.embedding, recsys.embedding) RETURNS double precision
	AS 'MODULE_PATHNAME', 'embedding_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.cosine_distance(recsys.embedding, recsys.embedding) IS
	'1 - cosine similarity, in [0, 2]; NaN if either is a zero vector (operator <=>)';

CREATE FUNCTION recsys.embedding_add(recsys.embedding, recsys.embedding) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding_add(recsys.embedding, recsys.embedding) IS
	'element-wise sum (operator +)';
CREATE FUNCTION recsys.embedding_sub(recsys.embedding, recsys.embedding) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding_sub(recsys.embedding, recsys.embedding) IS
	'element-wise difference (operator -)';
CREATE FUNCTION recsys.embedding_mul_scalar(recsys.embedding, double precision) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding_mul_scalar(recsys.embedding, double precision) IS
	'every element times a scalar (operator *)';
CREATE FUNCTION recsys.scalar_mul_embedding(double precision, recsys.embedding) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.scalar_mul_embedding(double precision, recsys.embedding) IS
	'a scalar times every element (operator *)';

-- Operators ----------------------------------------------------------------

CREATE OPERATOR recsys.<-> (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding,
	FUNCTION = recsys.l2_distance, COMMUTATOR = OPERATOR(recsys.<->)
);
CREATE OPERATOR recsys.<#> (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding,
	FUNCTION = recsys.negative_inner_product, COMMUTATOR = OPERATOR(recsys.<#>)
);
CREATE OPERATOR recsys.<=> (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding,
	FUNCTION = recsys.cosine_distance, COMMUTATOR = OPERATOR(recsys.<=>)
);
CREATE OPERATOR recsys.+ (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding,
	FUNCTION = recsys.embedding_add, COMMUTATOR = OPERATOR(recsys.+)
);
CREATE OPERATOR recsys.- (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding,
	FUNCTION = recsys.embedding_sub
);
CREATE OPERATOR recsys.* (
	LEFTARG = recsys.embedding, RIGHTARG = double precision,
	FUNCTION = recsys.embedding_mul_scalar, COMMUTATOR = OPERATOR(recsys.*)
);
CREATE OPERATOR recsys.* (
	LEFTARG = double precision, RIGHTARG = recsys.embedding,
	FUNCTION = recsys.scalar_mul_embedding, COMMUTATOR = OPERATOR(recsys.*)
);

-- Ordering, equality, hashing ------------------------------------------------

CREATE FUNCTION recsys.embedding_lt(recsys.embedding, recsys.embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_le(recsys.embedding, recsys.embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_eq(recsys.embedding, recsys.embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_ne(recsys.embedding, recsys.embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_ge(recsys.embedding, recsys.embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_gt(recsys.embedding, recsys.embedding) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_cmp(recsys.embedding, recsys.embedding) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_hash(recsys.embedding) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_hash_extended(recsys.embedding, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding_lt(recsys.embedding, recsys.embedding) IS 'operator <';
COMMENT ON FUNCTION recsys.embedding_le(recsys.embedding, recsys.embedding) IS 'operator <=';
COMMENT ON FUNCTION recsys.embedding_eq(recsys.embedding, recsys.embedding) IS 'operator =';
COMMENT ON FUNCTION recsys.embedding_ne(recsys.embedding, recsys.embedding) IS 'operator <>';
COMMENT ON FUNCTION recsys.embedding_ge(recsys.embedding, recsys.embedding) IS 'operator >=';
COMMENT ON FUNCTION recsys.embedding_gt(recsys.embedding, recsys.embedding) IS 'operator >';
COMMENT ON FUNCTION recsys.embedding_cmp(recsys.embedding, recsys.embedding) IS
	'btree comparison: element by element, then by dimension count';
COMMENT ON FUNCTION recsys.embedding_hash(recsys.embedding) IS 'hash support (-0 and +0 hash alike)';
COMMENT ON FUNCTION recsys.embedding_hash_extended(recsys.embedding, bigint) IS 'seeded hash support';

CREATE OPERATOR recsys.< (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding, FUNCTION = recsys.embedding_lt,
	COMMUTATOR = OPERATOR(recsys.>), NEGATOR = OPERATOR(recsys.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR recsys.<= (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding, FUNCTION = recsys.embedding_le,
	COMMUTATOR = OPERATOR(recsys.>=), NEGATOR = OPERATOR(recsys.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR recsys.= (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding, FUNCTION = recsys.embedding_eq,
	COMMUTATOR = OPERATOR(recsys.=), NEGATOR = OPERATOR(recsys.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR recsys.<> (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding, FUNCTION = recsys.embedding_ne,
	COMMUTATOR = OPERATOR(recsys.<>), NEGATOR = OPERATOR(recsys.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR recsys.>= (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding, FUNCTION = recsys.embedding_ge,
	COMMUTATOR = OPERATOR(recsys.<=), NEGATOR = OPERATOR(recsys.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR recsys.> (
	LEFTARG = recsys.embedding, RIGHTARG = recsys.embedding, FUNCTION = recsys.embedding_gt,
	COMMUTATOR = OPERATOR(recsys.<), NEGATOR = OPERATOR(recsys.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS recsys.embedding_ops
	DEFAULT FOR TYPE recsys.embedding USING btree AS
	OPERATOR 1 recsys.< ,
	OPERATOR 2 recsys.<= ,
	OPERATOR 3 recsys.= ,
	OPERATOR 4 recsys.>= ,
	OPERATOR 5 recsys.> ,
	FUNCTION 1 recsys.embedding_cmp(recsys.embedding, recsys.embedding);

CREATE OPERATOR CLASS recsys.embedding_ops
	DEFAULT FOR TYPE recsys.embedding USING hash AS
	OPERATOR 1 recsys.= ,
	FUNCTION 1 recsys.embedding_hash(recsys.embedding),
	FUNCTION 2 recsys.embedding_hash_extended(recsys.embedding, bigint);

-- Aggregates: sum(embedding), avg(embedding) ----------------------------------

CREATE FUNCTION recsys.embedding_accum(internal, recsys.embedding) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_agg_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_agg_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_sum_final(internal) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION recsys.embedding_avg_final(internal) RETURNS recsys.embedding
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.embedding_accum(internal, recsys.embedding) IS
	'sum/avg transition: adds an embedding to a double-precision running sum';
COMMENT ON FUNCTION recsys.embedding_combine(internal, internal) IS
	'sum/avg combine: merges two partial states (parallel aggregation)';
COMMENT ON FUNCTION recsys.embedding_agg_serialize(internal) IS
	'sum/avg state to bytea, for parallel workers';
COMMENT ON FUNCTION recsys.embedding_agg_deserialize(bytea, internal) IS
	'sum/avg state from bytea, for parallel workers';
COMMENT ON FUNCTION recsys.embedding_sum_final(internal) IS 'sum final function';
COMMENT ON FUNCTION recsys.embedding_avg_final(internal) IS 'avg final function';

CREATE AGGREGATE recsys.sum(recsys.embedding) (
	SFUNC = recsys.embedding_accum,
	STYPE = internal,
	FINALFUNC = recsys.embedding_sum_final,
	COMBINEFUNC = recsys.embedding_combine,
	SERIALFUNC = recsys.embedding_agg_serialize,
	DESERIALFUNC = recsys.embedding_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.sum(recsys.embedding) IS
	'element-wise sum of embeddings (NULLs ignored; error if the result overflows float4)';

CREATE AGGREGATE recsys.avg(recsys.embedding) (
	SFUNC = recsys.embedding_accum,
	STYPE = internal,
	FINALFUNC = recsys.embedding_avg_final,
	COMBINEFUNC = recsys.embedding_combine,
	SERIALFUNC = recsys.embedding_agg_serialize,
	DESERIALFUNC = recsys.embedding_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.avg(recsys.embedding) IS
	'element-wise mean of embeddings (NULLs ignored), accumulated in double precision';

------------------------------------------------------------------------------
-- 2. Synthetic data
------------------------------------------------------------------------------

-- A deterministic generator of users, items and interactions with planted
-- structure (popularity, categories, low-rank tastes, demographic groups).
-- What it plants, with numbers: doc/generator.md.

CREATE FUNCTION recsys.synth_users(
    users integer,
    seed bigint DEFAULT 42)
RETURNS TABLE(user_id integer, gender text, age_band text, region text)
AS 'MODULE_PATHNAME', 'recsys_synth_users'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION recsys.synth_users(integer, bigint) IS
'synthetic users 1..users with gender (F/M/X 0.49/0.49/0.02), age_band and region; a pure function of (users, seed); see doc/generator.md';

CREATE FUNCTION recsys.synth_items(
    items integer,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10)
RETURNS TABLE(item_id integer, category integer, provider text,
              long_tail boolean, created_at timestamptz)
AS 'MODULE_PATHNAME', 'recsys_synth_items'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION recsys.synth_items(integer, bigint, integer) IS
'synthetic items 1..items in order of expected popularity (Zipf), with category, provider, long_tail (item_id > ceil(0.2*items)) and created_at in 2020-2022; see doc/generator.md';

CREATE FUNCTION recsys.synth_interactions(
    users integer,
    items integer,
    interactions bigint,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8,
    sigma real DEFAULT 0.5,
    noisy_gender text DEFAULT NULL,
    noisy_sigma real DEFAULT 1.0,
    preference real DEFAULT 0.8,
    zipf real DEFAULT 1.0)
RETURNS TABLE(user_id integer, item_id integer, rating real, clicks integer,
              ts timestamptz)
AS 'MODULE_PATHNAME', 'recsys_synth_interactions'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 20000;

COMMENT ON FUNCTION recsys.synth_interactions(integer, integer, bigint, bigint, integer, integer, real, text, real, real, real) IS
'exactly interactions distinct (user, item) rows with a 1-5 rating (biased low-rank model + N(0, sigma) noise, noisy_sigma for users of gender noisy_gender), clicks >= 1 and a timestamp; same arguments, same rows; see doc/generator.md';

CREATE FUNCTION recsys.synth_user_profile(
    users integer,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10)
RETURNS TABLE(user_id integer, favourite_category integer,
              second_category integer, affinity real, bias real)
AS 'MODULE_PATHNAME', 'recsys_synth_user_profile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION recsys.synth_user_profile(integer, bigint, integer) IS
'the tastes planted in each synthetic user: favourite category, optional second favourite, the favourite''s share of affinity, and the user bias; for tests that check a model recovers them';

CREATE FUNCTION recsys.synth_truth(
    user_id integer,
    item_id integer,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_synth_truth'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.synth_truth(integer, integer, bigint, integer, integer) IS
'noise-free, unclipped score mu + b_u + b_i + p_u.q_i of a synthetic (user, item) pair, the value synth_interactions adds noise to; pass the same seed, categories and factors';

CREATE FUNCTION recsys.generate_dataset(
    name text,
    users integer DEFAULT 1000,
    items integer DEFAULT 500,
    interactions bigint DEFAULT 20000,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8,
    sigma real DEFAULT 0.5,
    noisy_gender text DEFAULT NULL,
    noisy_sigma real DEFAULT 1.0,
    preference real DEFAULT 0.8,
    zipf real DEFAULT 1.0)
RETURNS TABLE(relation regclass, rows bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    -- Tables go to the current schema, named explicitly so that the
    -- regclass returned is the table created, whatever search_path says.
    sch text := pg_catalog.current_schema();
    kind text;
    tbl text;
    q text;
    n bigint;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'dataset name must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a name; tables <name>_users, <name>_items and <name>_interactions are created.';
    END IF;
    IF sch IS NULL THEN
        RAISE EXCEPTION 'no current schema to create the dataset in'
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Set search_path to an existing schema.';
    END IF;
    IF pg_catalog.octet_length(name || '_interactions') > 63 THEN
        RAISE EXCEPTION 'dataset name "%" is too long', name
            USING ERRCODE = 'name_too_long',
                  HINT = 'Table names are limited to 63 bytes; use a name of at most 50 bytes.';
    END IF;

    FOREACH kind IN ARRAY ARRAY['users', 'items', 'interactions'] LOOP
        tbl := name || '_' || kind;
        q := CASE kind
            WHEN 'users' THEN pg_catalog.format(
                'SELECT * FROM recsys.synth_users(%s, %s)', users, seed)
            WHEN 'items' THEN pg_catalog.format(
                'SELECT * FROM recsys.synth_items(%s, %s, %s)', items, seed, categories)
            ELSE pg_catalog.format(
                'SELECT * FROM recsys.synth_interactions(%s, %s, %s, %s, %s, %s, %L::real, %L::text, %L::real, %L::real, %L::real)',
                users, items, interactions, seed, categories, factors,
                sigma, noisy_gender, noisy_sigma, preference, zipf)
            END;
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I AS %s', sch, tbl, q);
        GET DIAGNOSTICS n = ROW_COUNT;
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I ADD PRIMARY KEY (%s)', sch, tbl,
            CASE kind WHEN 'users' THEN 'user_id'
                      WHEN 'items' THEN 'item_id'
                      ELSE 'user_id, item_id' END);
        EXECUTE pg_catalog.format('ANALYZE %I.%I', sch, tbl);
        relation := pg_catalog.format('%I.%I', sch, tbl)::regclass;
        rows := n;
        RETURN NEXT;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION recsys.generate_dataset(text, integer, integer, bigint, bigint, integer, integer, real, text, real, real, real) IS
'create, fill, index and analyze tables <name>_users, <name>_items and <name>_interactions in the current schema from the synth_* generators; runs as the caller; returns each table and its row count';

------------------------------------------------------------------------------
-- 3. Training and the model catalog
------------------------------------------------------------------------------

-- The catalog.  Keys are stored in their text form; user_key_type and
-- item_key_type name the type they came in.  Catalog rows are written only
-- by the training functions (which write them as the catalog's owner);
-- the data a model is trained on is always read with the caller's rights.

CREATE TABLE recsys.models (
	name text PRIMARY KEY CHECK (name <> '' AND octet_length(name) <= 200),
	algorithm text NOT NULL,
	source text,
	user_column text,
	item_column text,
	rating_column text,
	user_key_type regtype NOT NULL,
	item_key_type regtype NOT NULL,
	options jsonb NOT NULL DEFAULT '{}',
	active_version integer,
	owner name NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE recsys.models IS
	'recommendation models: definition (source, columns, options), owner and active version';

CREATE TABLE recsys.model_versions (
	model text NOT NULL REFERENCES recsys.models (name) ON DELETE CASCADE ON UPDATE CASCADE,
	version integer NOT NULL,
	algorithm text NOT NULL,
	params jsonb NOT NULL,
	users integer NOT NULL,
	items integer NOT NULL,
	interactions bigint NOT NULL,
	rows_read bigint NOT NULL,
	rows_skipped bigint NOT NULL,
	duplicates bigint NOT NULL,
	global_mean double precision NOT NULL,
	final_loss double precision,
	loss_history double precision[] NOT NULL,
	memory_bytes bigint NOT NULL,
	seconds double precision,
	trained_by name NOT NULL,
	trained_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (model, version)
);
COMMENT ON TABLE recsys.model_versions IS
	'one row per trained version: effective parameters, data sizes, time, memory and loss history';

CREATE TABLE recsys.user_factors (
	model text NOT NULL,
	version integer NOT NULL,
	user_key text NOT NULL,
	user_idx integer NOT NULL,
	bias real,
	factors recsys.embedding,
	interactions integer NOT NULL,
	seen integer[] NOT NULL,
	ratings real[],
	PRIMARY KEY (model, version, user_key)
);
COMMENT ON TABLE recsys.user_factors IS
	'one row per user and model version: key (as text), bias, latent factors, the item_idx of the items the user interacted with in training, and (explicit neighbourhood models) their ratings';

CREATE TABLE recsys.item_factors (
	model text NOT NULL,
	version integer NOT NULL,
	item_key text NOT NULL,
	item_idx integer NOT NULL,
	bias real,
	factors recsys.embedding,
	interactions integer NOT NULL,
	PRIMARY KEY (model, version, item_key)
);
COMMENT ON TABLE recsys.item_factors IS
	'one row per item and model version: the item''s key (as text), bias (popularity: score) and latent factors';

-- Neighbourhood models (item_knn, user_knn): each entity's K most similar
-- entities, best first, as arrays; an entity without neighbours has empty
-- arrays.  support is the number of common users (items), 0 for a
-- neighbour found by attribute vectors.
CREATE TABLE recsys.item_neighbors (
	model text NOT NULL,
	version integer NOT NULL,
	item_key text NOT NULL,
	item_idx integer NOT NULL,
	neighbor_keys text[] NOT NULL,
	neighbor_idx integer[] NOT NULL,
	similarity real[] NOT NULL,
	support integer[] NOT NULL,
	PRIMARY KEY (model, version, item_key)
);
COMMENT ON TABLE recsys.item_neighbors IS
	'item_knn: one row per item and model version: the keys and item_idx of its most similar items, best first, with their similarities and supports';

CREATE TABLE recsys.user_neighbors (
	model text NOT NULL,
	version integer NOT NULL,
	user_key text NOT NULL,
	user_idx integer NOT NULL,
	neighbor_keys text[] NOT NULL,
	neighbor_idx integer[] NOT NULL,
	similarity real[] NOT NULL,
	support integer[] NOT NULL,
	PRIMARY KEY (model, version, user_key)
);
COMMENT ON TABLE recsys.user_neighbors IS
	'user_knn: one row per user and model version: the keys and user_idx of its most similar users, best first, with their similarities and supports';

CREATE VIEW recsys.neighbors AS
SELECT n.model, n.version, 'item'::text AS kind, n.item_key AS key, p.neighbor,
	   p.similarity, p.support, p.rank::integer AS rank
FROM recsys.item_neighbors n,
	 unnest(n.neighbor_keys, n.similarity, n.support) WITH ORDINALITY AS p(neighbor, similarity, support, rank)
UNION ALL
SELECT n.model, n.version, 'user'::text, n.user_key, p.neighbor,
	   p.similarity, p.support, p.rank::integer
FROM recsys.user_neighbors n,
	 unnest(n.neighbor_keys, n.similarity, n.support) WITH ORDINALITY AS p(neighbor, similarity, support, rank);
COMMENT ON VIEW recsys.neighbors IS
	'neighbourhood models: one row per (item or user, neighbour) and model version, keys as text, rank 1 = most similar';

-- pg_dump keeps the models with the data they describe
SELECT pg_catalog.pg_extension_config_dump('recsys.models', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.model_versions', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.user_factors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_factors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_neighbors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.user_neighbors', '');

-- The summary every training returns.
CREATE TYPE recsys.train_result AS (
	model text,
	version integer,
	algorithm text,
	users integer,
	items integer,
	interactions bigint,
	skipped bigint,
	duplicates bigint,
	seconds double precision,
	final_loss double precision
);
COMMENT ON TYPE recsys.train_result IS
	'summary of a training run: model, new version, sizes, rows skipped and merged, seconds, final loss';

CREATE FUNCTION recsys.train(
	model text,
	source text,
	user_col text,
	item_col text,
	rating_col text DEFAULT NULL,
	algorithm text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS recsys.train_result
AS 'MODULE_PATHNAME', 'rs_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) IS
	'trains a model from a table, view or SELECT (read with the caller''s rights) and makes the new version active';

CREATE FUNCTION recsys.retrain(model text)
RETURNS recsys.train_result
AS 'MODULE_PATHNAME', 'rs_retrain' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.retrain(text) IS
	're-runs a model''s stored definition as a new version and switches to it at commit';

CREATE FUNCTION recsys.drop_model(model text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_drop_model_sql' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.drop_model(text, boolean) IS
	'drops a model with all its versions (owner only); false if it did not exist and if_exists';

CREATE FUNCTION recsys.predict(model text, "user" "any", item "any")
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_predict' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.predict(text, "any", "any") IS
	'predicted rating (als, svd) or score (ials, bpr, popularity) of an item for a user under the active version';

-- The aggregate form: one model per group.
CREATE FUNCTION recsys.fit_transfn(internal, text, "any", "any", "any", jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.fit_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_fit_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.fit_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'rs_fit_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.fit_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_fit_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb)
RETURNS recsys.train_result AS 'MODULE_PATHNAME', 'rs_fit_finalfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.fit_transfn(internal, text, "any", "any", "any", jsonb) IS
	'recsys.fit transition: collects one interaction';
COMMENT ON FUNCTION recsys.fit_combinefn(internal, internal) IS
	'recsys.fit combine: merges partial training sets';
COMMENT ON FUNCTION recsys.fit_serialfn(internal) IS 'recsys.fit state to bytea';
COMMENT ON FUNCTION recsys.fit_deserialfn(bytea, internal) IS 'recsys.fit state from bytea';
COMMENT ON FUNCTION recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb) IS
	'recsys.fit final: trains and stores the group''s model';

CREATE AGGREGATE recsys.fit(model text, "user" "any", item "any", rating "any", options jsonb) (
	SFUNC = recsys.fit_transfn,
	STYPE = internal,
	FINALFUNC = recsys.fit_finalfn,
	FINALFUNC_EXTRA,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.fit_combinefn,
	SERIALFUNC = recsys.fit_serialfn,
	DESERIALFUNC = recsys.fit_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.fit(text, "any", "any", "any", jsonb) IS
	'aggregate form of training: the rows of each group train (and store) one model';

-- Who may do what: training writes the catalog, so it is granted
-- explicitly (GRANT EXECUTE ON FUNCTION recsys.train(...) TO trainer);
-- reading models needs SELECT on the catalog tables.
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.retrain(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.drop_model(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.fit(text, "any", "any", "any", jsonb) FROM PUBLIC;

-- Everyone may use the type and the read-only functions; what they may
-- read of the catalog is up to GRANT SELECT on its tables.
GRANT USAGE ON SCHEMA recsys TO PUBLIC;

------------------------------------------------------------------------------
-- 4. Scheduling (pg_cron)
------------------------------------------------------------------------------

CREATE FUNCTION recsys.schedule_retrain(model text, schedule text, job_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job bigint;
BEGIN
	IF model IS NULL OR schedule IS NULL THEN
		RAISE EXCEPTION 'model and schedule must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM recsys.models m WHERE m.name = model) THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Train it once with recsys.train() before scheduling retrains.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name, and CREATE EXTENSION pg_cron.';
	END IF;
	-- pg_cron may not exist when recsys is installed, so it is called dynamically
	EXECUTE 'SELECT cron.schedule($1, $2, $3)'
		INTO job
		USING coalesce(job_name, 'recsys-retrain-' || model), schedule,
			  format('SELECT recsys.retrain(%L)', model);
	RETURN job;
END
$$;
COMMENT ON FUNCTION recsys.schedule_retrain(text, text, text) IS
	'schedules SELECT recsys.retrain(model) with pg_cron (job name recsys-retrain-<model> unless given); returns the job id';
REVOKE ALL ON FUNCTION recsys.schedule_retrain(text, text, text) FROM PUBLIC;

------------------------------------------------------------------------------
-- 5. Bloom filters (src/bloom.c)
------------------------------------------------------------------------------

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

------------------------------------------------------------------------------
-- 6. Serving: top-N recommendations
------------------------------------------------------------------------------

-- Every serving function ends with the same re-ranking arguments (see
-- src/rerank.c for what each does and in which order they apply):
--   exclude_query   SELECT returning item keys never to recommend
--   item_times      SELECT returning (item, timestamp) for freshness
--   half_life       interval: a score halves its lead over the lowest per half-life of age
--   item_groups     SELECT returning (item, group) for the group constraints
--   max_per_group   at most this many items of one group
--   protected_group the group whose share is guaranteed ...
--   min_share       ... in every prefix of the list: floor(min_share * rank) items
--   max_similarity  diversity: cosine similarity to every item above it at most this
--   mmr_lambda      diversity: maximal marginal relevance, 1 = relevance only
--   pool            candidates the constraints choose from first (default 5 k)
--   forbidden       a recsys.bloom of item keys never to recommend
-- The queries run with the caller's rights, once per statement.

CREATE FUNCTION recsys.recommend(
	model text,
	"user" anyelement,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true,
	exclude "any" DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL)
RETURNS TABLE (item anyelement, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(text, anyelement, integer, boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom) IS
	'top-k items for a user under the model''s active version, best first, with optional exclusions and re-ranking constraints; items come back in the type of the user argument';

CREATE FUNCTION recsys.recommend_for_items(
	model text,
	items anyarray,
	k integer DEFAULT 10,
	ratings double precision[] DEFAULT NULL,
	exclude_seen boolean DEFAULT true,
	exclude "any" DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL)
RETURNS TABLE (item anyelement, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend_for_items' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend_for_items(text, anyarray, integer, double precision[], boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom) IS
	'top-k items for an anonymous session or a new user described by the items seen (and optional ratings): the user is folded into the model';

CREATE FUNCTION recsys.recommend_all(
	model text,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true,
	exclude text[] DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL,
	users text[] DEFAULT NULL)
RETURNS TABLE ("user" text, item text, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend_all' LANGUAGE C STABLE PARALLEL SAFE ROWS 100000;
COMMENT ON FUNCTION recsys.recommend_all(text, integer, boolean, text[], text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, text[]) IS
	'top-k items for every user of the model (blocked matrix multiply), or for the users listed (keys as text), with the same exclusions and constraints as recommend(); user and item keys in their text form (cast them back, e.g. "user"::int)';

CREATE FUNCTION recsys.similar_items(model text, item anyelement, k integer DEFAULT 10)
RETURNS TABLE (item anyelement, similarity double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_similar_items' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.similar_items(text, anyelement, integer) IS
	'the k items most similar to an item: cosine of the item factors (factor models) or the stored neighbours (item_knn)';

CREATE FUNCTION recsys.similar_users(model text, "user" anyelement, k integer DEFAULT 10)
RETURNS TABLE ("user" anyelement, similarity double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_similar_users' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.similar_users(text, anyelement, integer) IS
	'the k users most similar to a user: cosine of the user factors (factor models) or the stored neighbours (user_knn)';

CREATE FUNCTION recsys.rerank(
	items anyarray,
	scores double precision[],
	k integer DEFAULT 10,
	exclude "any" DEFAULT NULL,
	item_times timestamptz[] DEFAULT NULL,
	half_life interval DEFAULT NULL,
	groups text[] DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	vectors recsys.embedding[] DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL)
RETURNS TABLE (item anyelement, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_rerank' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.rerank(anyarray, double precision[], integer, "any", timestamptz[], interval, text[], integer, text, double precision, recsys.embedding[], double precision, double precision, recsys.bloom) IS
	'the re-ranking constraints over any candidate set: items and scores (and optional item_times, groups, vectors) are parallel arrays; returns the top k that satisfy them';

------------------------------------------------------------------------------
-- 7. Nearest-neighbour index: recsys_hnsw (src/hnsw*.c)
------------------------------------------------------------------------------

-- A hierarchical navigable small-world graph over embeddings:
--   CREATE INDEX ON items USING recsys_hnsw (v recsys.embedding_ip_ops)
--       WITH (m = 16, ef_construction = 64);
--   SELECT id FROM items ORDER BY v OPERATOR(recsys.<#>) $1 LIMIT 10;
-- Support function 1 of each opclass tells the index which distance it
-- serves (the stored-vector transform differs: see src/hnsw.h).

CREATE FUNCTION recsys.recsys_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION recsys.recsys_hnsw_handler(internal) IS
	'index access method handler of recsys_hnsw';

CREATE ACCESS METHOD recsys_hnsw TYPE INDEX HANDLER recsys.recsys_hnsw_handler;
COMMENT ON ACCESS METHOD recsys_hnsw IS
	'approximate nearest-neighbour index (HNSW graph) for ORDER BY embedding <op> query LIMIT k';

CREATE FUNCTION recsys.hnsw_l2_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.hnsw_ip_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.hnsw_cosine_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.hnsw_l2_support(internal) IS
	'recsys_hnsw support: the opclass orders by Euclidean distance (<->)';
COMMENT ON FUNCTION recsys.hnsw_ip_support(internal) IS
	'recsys_hnsw support: the opclass orders by negative inner product (<#>), graph built on norm-augmented vectors';
COMMENT ON FUNCTION recsys.hnsw_cosine_support(internal) IS
	'recsys_hnsw support: the opclass orders by cosine distance (<=>), graph built on unit vectors';

CREATE OPERATOR CLASS recsys.embedding_l2_ops
	FOR TYPE recsys.embedding USING recsys_hnsw AS
	OPERATOR 1 recsys.<-> (recsys.embedding, recsys.embedding) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 recsys.hnsw_l2_support(internal);

CREATE OPERATOR CLASS recsys.embedding_ip_ops
	FOR TYPE recsys.embedding USING recsys_hnsw AS
	OPERATOR 1 recsys.<#> (recsys.embedding, recsys.embedding) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 recsys.hnsw_ip_support(internal);

CREATE OPERATOR CLASS recsys.embedding_cosine_ops
	FOR TYPE recsys.embedding USING recsys_hnsw AS
	OPERATOR 1 recsys.<=> (recsys.embedding, recsys.embedding) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 recsys.hnsw_cosine_support(internal);
