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
    IF num_nulls(users, items, interactions, seed, categories, factors, sigma,
                 noisy_sigma, preference, zipf) > 0 THEN
        RAISE EXCEPTION 'dataset parameters must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave an argument out to get its default; only noisy_gender may be NULL.';
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

------------------------------------------------------------------------------
-- 8. Evaluation and statistics
------------------------------------------------------------------------------

-- 8a. Statistics (src/stats.c, src/stats_agg.c): tests that compare the
-- values of groups, as plain aggregates over (group, value) rows, and the
-- survival functions their p-values come from.  Groups compare by their
-- text form; rows with a NULL group or value are skipped; NaN or infinite
-- values are an error (22003).  A test that is undefined for its data (one
-- group, no variance within the groups, every value tied) gives a NULL
-- statistic and p-value, with n and groups filled in.

CREATE TYPE recsys.anova_result AS (
	statistic double precision,
	df_between integer,
	df_within bigint,
	p_value double precision,
	n bigint,
	groups integer
);
COMMENT ON TYPE recsys.anova_result IS
	'one-way ANOVA: F statistic, degrees of freedom between and within groups, p-value P(F > statistic), values and groups counted';

CREATE TYPE recsys.welch_result AS (
	statistic double precision,
	df double precision,
	p_value double precision,
	n bigint,
	group_1 text,
	group_2 text,
	mean_difference double precision
);
COMMENT ON TYPE recsys.welch_result IS
	'Welch''s t-test: t of mean(group_1) - mean(group_2) (group_1: the key that sorts first in byte order), Welch-Satterthwaite df, two-sided p-value';

CREATE TYPE recsys.kruskal_result AS (
	statistic double precision,
	df integer,
	p_value double precision,
	n bigint,
	groups integer
);
COMMENT ON TYPE recsys.kruskal_result IS
	'Kruskal-Wallis: H statistic (corrected for ties), df = groups - 1, p-value P(chi2 > H)';

CREATE FUNCTION recsys.stats_moments_transfn(internal, anyelement, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_moments_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.stats_values_transfn(internal, anyelement, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_values_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.stats_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.stats_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'rs_stats_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.stats_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.anova_finalfn(internal)
RETURNS recsys.anova_result AS 'MODULE_PATHNAME', 'rs_anova_finalfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.welch_finalfn(internal)
RETURNS recsys.welch_result AS 'MODULE_PATHNAME', 'rs_welch_finalfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.kruskal_finalfn(internal)
RETURNS recsys.kruskal_result AS 'MODULE_PATHNAME', 'rs_kruskal_finalfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.stats_moments_transfn(internal, anyelement, double precision) IS
	'anova / welch_t_test transition: count, mean and squared deviations per group';
COMMENT ON FUNCTION recsys.stats_values_transfn(internal, anyelement, double precision) IS
	'kruskal_wallis transition: every value with its group';
COMMENT ON FUNCTION recsys.stats_combinefn(internal, internal) IS
	'statistics aggregates combine: merges per-group summaries (and concatenates values)';
COMMENT ON FUNCTION recsys.stats_serialfn(internal) IS 'statistics aggregate state to bytea';
COMMENT ON FUNCTION recsys.stats_deserialfn(bytea, internal) IS 'statistics aggregate state from bytea';
COMMENT ON FUNCTION recsys.anova_finalfn(internal) IS 'recsys.anova final: the F test';
COMMENT ON FUNCTION recsys.welch_finalfn(internal) IS 'recsys.welch_t_test final: the t test';
COMMENT ON FUNCTION recsys.kruskal_finalfn(internal) IS 'recsys.kruskal_wallis final: ranks and H';

CREATE AGGREGATE recsys.anova("group" anyelement, value double precision) (
	SFUNC = recsys.stats_moments_transfn,
	STYPE = internal,
	FINALFUNC = recsys.anova_finalfn,
	COMBINEFUNC = recsys.stats_combinefn,
	SERIALFUNC = recsys.stats_serialfn,
	DESERIALFUNC = recsys.stats_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.anova(anyelement, double precision) IS
	'one-way ANOVA of value across groups: (statistic F, df_between, df_within, p_value, n, groups); NULL statistic when undefined';

CREATE AGGREGATE recsys.welch_t_test("group" anyelement, value double precision) (
	SFUNC = recsys.stats_moments_transfn,
	STYPE = internal,
	FINALFUNC = recsys.welch_finalfn,
	COMBINEFUNC = recsys.stats_combinefn,
	SERIALFUNC = recsys.stats_serialfn,
	DESERIALFUNC = recsys.stats_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.welch_t_test(anyelement, double precision) IS
	'Welch''s unequal-variance t-test of value between exactly two groups: (statistic t, df, two-sided p_value, n, group_1, group_2, mean_difference)';

CREATE AGGREGATE recsys.kruskal_wallis("group" anyelement, value double precision) (
	SFUNC = recsys.stats_values_transfn,
	STYPE = internal,
	FINALFUNC = recsys.kruskal_finalfn,
	COMBINEFUNC = recsys.stats_combinefn,
	SERIALFUNC = recsys.stats_serialfn,
	DESERIALFUNC = recsys.stats_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.kruskal_wallis(anyelement, double precision) IS
	'Kruskal-Wallis rank test of value across groups, ties corrected: (statistic H, df, p_value, n, groups); keeps every value in memory';

CREATE FUNCTION recsys.f_sf(x double precision, df1 double precision, df2 double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_f_sf_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.f_sf(double precision, double precision, double precision) IS
	'P(F > x) for the F distribution with (df1, df2) degrees of freedom, upper tail computed directly (accurate far below 1e-16)';

CREATE FUNCTION recsys.t_sf(t double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_t_sf_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.t_sf(double precision, double precision) IS
	'P(T > t) for Student''s t with df degrees of freedom (two-sided p-value: 2 * t_sf(abs(t), df))';

CREATE FUNCTION recsys.chi2_sf(x double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_chi2_sf_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.chi2_sf(double precision, double precision) IS
	'P(X > x) for the chi-squared distribution with df degrees of freedom';

-- 8b. Splits, accuracy and ranking metrics, item exposure (src/evaluate.c).
-- Lists are ranked by recsys.recommend_all(), so items a user interacted
-- with in training are left out exactly as recommend() leaves them out;
-- predictions come from recsys.predictions(), the bulk form of
-- recsys.predict().  Every source (test set, groups, lists) is a table, a
-- view or a single SELECT, read with the caller's rights (no SECURITY
-- DEFINER) and as if the transaction were read-only (SET
-- transaction_read_only = on for the function; split reads its source
-- through recsys.exec_read_only()); every identifier spliced into a query
-- is quoted.

CREATE FUNCTION recsys.eval_source(source text, what text DEFAULT 'source', min_columns integer DEFAULT 0)
RETURNS text
AS 'MODULE_PATHNAME', 'rs_eval_source' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.eval_source(text, text, integer) IS
	'internal: the FROM item for a source given as a relation name (resolved and quoted) or a single SELECT (checked, in parentheses), with at least min_columns columns; used by the evaluation functions';

CREATE FUNCTION recsys.predictions(
	model text,
	test text,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL)
RETURNS TABLE (user_key text, item_key text, rating double precision, prediction double precision,
			   known_user boolean, known_item boolean)
AS 'MODULE_PATHNAME', 'rs_predictions' LANGUAGE C STABLE PARALLEL SAFE ROWS 100000;
COMMENT ON FUNCTION recsys.predictions(text, text, text, text, text) IS
	'every (user, item) row of a test set (relation or SELECT; columns default to the model''s) with its observed rating, recsys.predict()''s prediction, and whether the user and the item are in the model; users in byte order; keys as text';

CREATE FUNCTION recsys.split(
	source text,
	user_col text,
	item_col text,
	method text DEFAULT 'random',
	test_fraction double precision DEFAULT 0.2,
	seed integer DEFAULT 42,
	time_col text DEFAULT NULL,
	train_table text DEFAULT NULL,
	test_table text DEFAULT NULL,
	"temporary" boolean DEFAULT false)
RETURNS TABLE (part text, relation text, "rows" bigint, users bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
	src text := recsys.eval_source(source, 'source');
	h text;
	tie text;
	win text;
	cond text;
	marked text;
	base text;
	cols text;
	train_name text := train_table;
	test_name text := test_table;
	total bigint;
	n bigint;
	nu bigint;
BEGIN
	IF user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'user_col and item_col must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Name the columns holding the user and item keys.';
	END IF;
	IF method IS NULL OR method NOT IN ('random', 'per_user', 'temporal', 'leave_last_out') THEN
		RAISE EXCEPTION 'unknown split method "%"', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use random, per_user, temporal or leave_last_out.';
	END IF;
	IF method <> 'leave_last_out' AND (test_fraction IS NULL OR NOT (test_fraction > 0 AND test_fraction < 1)) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1 (exclusive), not %', coalesce(test_fraction::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example test_fraction => 0.2 holds out a fifth of the rows.';
	END IF;
	IF seed IS NULL THEN
		RAISE EXCEPTION 'seed must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF method IN ('temporal', 'leave_last_out') AND time_col IS NULL THEN
		RAISE EXCEPTION 'split method % needs time_col', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the column holding the interaction time, e.g. time_col => ''ts''.';
	END IF;
	IF train_name IS NULL OR test_name IS NULL THEN
		IF left(src, 1) = '(' THEN
			RAISE EXCEPTION 'train_table and test_table must be given when the source is a query'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'For example train_table => ''ratings_train'', test_table => ''ratings_test''.';
		END IF;
		base := (parse_ident(source))[array_length(parse_ident(source), 1)];
		train_name := coalesce(train_name, quote_ident(base || '_train'));
		test_name := coalesce(test_name, quote_ident(base || '_test'));
	END IF;
	-- quoted part by part, so 'analytics.train' and '"My Train"' both work
	train_name := array_to_string(ARRAY(SELECT quote_ident(p) FROM unnest(parse_ident(train_name)) p), '.');
	test_name := array_to_string(ARRAY(SELECT quote_ident(p) FROM unnest(parse_ident(test_name)) p), '.');

	-- A seeded hash of (user, item) orders the rows: the split depends on
	-- the seed and the data, never on the order rows are read in.  The
	-- whole row's text breaks the remaining ties.
	-- (the source's alias is unusual: a bare alias names the whole row
	-- only when no column has that name)
	h := format('hashtextextended(coalesce(recsys_src.%I::text, '''') || chr(31) || coalesce(recsys_src.%I::text, ''''), %s)',
				user_col, item_col, seed);
	tie := h || ', recsys_src::text';
	CASE method
	WHEN 'random' THEN
		win := format('row_number() OVER (ORDER BY %s) AS rn, count(*) OVER () AS n', tie);
		cond := format('rn <= round(%s * n)', test_fraction);
	WHEN 'per_user' THEN
		-- every user keeps at least one row in train
		win := format('row_number() OVER (PARTITION BY recsys_src.%1$I ORDER BY %2$s) AS rn, count(*) OVER (PARTITION BY recsys_src.%1$I) AS n',
					  user_col, tie);
		cond := format('rn <= least(floor(%s * n + 0.5), n - 1)', test_fraction);
	WHEN 'temporal' THEN
		win := format('row_number() OVER (ORDER BY recsys_src.%I DESC NULLS LAST, %s) AS rn, count(*) OVER () AS n',
					  time_col, tie);
		cond := format('rn <= round(%s * n)', test_fraction);
	ELSE
		-- leave_last_out: each user's latest row, if the user has another
		win := format('row_number() OVER (PARTITION BY recsys_src.%1$I ORDER BY recsys_src.%2$I DESC NULLS LAST, %3$s) AS rn, count(*) OVER (PARTITION BY recsys_src.%1$I) AS n',
					  user_col, time_col, tie);
		cond := 'rn = 1 AND n >= 2';
	END CASE;

	-- One pass of the source, sorted once, marks every row; the two tables
	-- are then copied from it with the source's own columns.  The source
	-- is read while the transaction is read-only (a function in it that
	-- writes fails with 25006): the temporary table is created empty
	-- first, then filled read-only, which a temporary table allows.
	IF to_regclass('pg_temp.recsys_split_rows') IS NOT NULL THEN
		DROP TABLE pg_temp.recsys_split_rows;
	END IF;
	marked := format('SELECT (x.r).*, (%s) AS "recsys split: test" FROM (SELECT recsys_src AS r, %s FROM %s AS recsys_src) x',
					 cond, win, src);
	EXECUTE format('CREATE TEMPORARY TABLE recsys_split_rows AS %s WITH NO DATA', marked);
	PERFORM recsys.exec_read_only('INSERT INTO pg_temp.recsys_split_rows ' || marked);
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_attribute a
	 WHERE a.attrelid = 'pg_temp.recsys_split_rows'::regclass AND a.attnum > 0
	   AND NOT a.attisdropped AND a.attname <> 'recsys split: test';
	EXECUTE format('CREATE %s TABLE %s AS SELECT %s FROM pg_temp.recsys_split_rows WHERE NOT "recsys split: test"',
				   CASE WHEN "temporary" THEN 'TEMPORARY' ELSE '' END, train_name, cols);
	EXECUTE format('CREATE %s TABLE %s AS SELECT %s FROM pg_temp.recsys_split_rows WHERE "recsys split: test"',
				   CASE WHEN "temporary" THEN 'TEMPORARY' ELSE '' END, test_name, cols);
	DROP TABLE pg_temp.recsys_split_rows;

	EXECUTE format('ANALYZE %s', train_name);
	EXECUTE format('ANALYZE %s', test_name);
	EXECUTE format('SELECT count(*), count(DISTINCT %I) FROM %s', user_col, train_name) INTO n, nu;
	total := n;
	part := 'train'; relation := train_name; "rows" := n; users := nu;
	RETURN NEXT;
	EXECUTE format('SELECT count(*), count(DISTINCT %I) FROM %s', user_col, test_name) INTO n, nu;
	total := total + n;
	part := 'test'; relation := test_name; "rows" := n; users := nu;
	RETURN NEXT;
	IF total = 0 THEN
		RAISE EXCEPTION 'source has no rows to split'
			USING ERRCODE = 'no_data_found',
				  HINT = 'Check the source query.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.split(text, text, text, text, double precision, integer, text, text, text, boolean) IS
	'splits a table, view or SELECT into new train and test tables (every column; default names <source>_train, <source>_test) by method random, per_user (every user keeps a row in train), temporal (latest rows to test) or leave_last_out (each user''s latest row); deterministic for a seed; returns each part''s rows and users';

-- Everything evaluate() and evaluate_users() share: the arguments checked,
-- the columns resolved, and the query that ranks the test users with
-- recommend_all() and measures each user's list.  Its rows: user_key,
-- n_relevant, precision, recall, ndcg, ap, rr, hit, items (the list), and
-- test_users (all test users with a relevant item, known or not).  The
-- check query counts test users, known users and known items: it reads
-- the test set again, so it runs only when a result needs explaining.
CREATE FUNCTION recsys.eval_ranking_sql(
	model text,
	test text,
	cutoff integer,
	user_col text,
	item_col text,
	rating_col text,
	threshold double precision,
	lists text,
	serve_unknown boolean,
	OUT query text,
	OUT check_query text)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
	m record;
	ucol text;
	icol text;
	rcol text;
	src text;
	t text;
	r text;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cutoff IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cutoff <= 0 THEN
		RAISE EXCEPTION 'k must be positive, not %', cutoff
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'k is the length of the lists that are measured.';
	END IF;
	SELECT d.user_column, d.item_column, d.rating_column, d.active_version, d.user_key_type
	  INTO m FROM recsys.models d WHERE d.name = model;
	IF NOT FOUND OR m.active_version IS NULL THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
	ucol := coalesce(user_col, m.user_column);
	icol := coalesce(item_col, m.item_column);
	rcol := coalesce(rating_col, m.rating_column);
	IF ucol IS NULL OR icol IS NULL THEN
		RAISE EXCEPTION 'user_col and item_col must be given: the model has no stored source columns'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Models trained with recsys.fit() need user_col => and item_col =>.';
	END IF;
	IF threshold IN ('NaN', 'Infinity', '-Infinity') THEN
		RAISE EXCEPTION 'threshold must be finite, not %', threshold
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF threshold IS NOT NULL AND rcol IS NULL THEN
		RAISE EXCEPTION 'a relevance threshold needs a rating column'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass rating_col => ''<column>''.';
	END IF;
	src := recsys.eval_source(test, 'test');

	-- the relevant test items of each user: distinct, non-NULL, and rated
	-- at least threshold when one is given
	t := format('SELECT DISTINCT (s.%1$I)::text AS user_key, (s.%2$I)::text AS item_key '
				'FROM %3$s AS s WHERE s.%1$I IS NOT NULL AND s.%2$I IS NOT NULL%4$s',
				ucol, icol, src,
				CASE WHEN threshold IS NULL THEN ''
					 ELSE format(' AND s.%I >= %s', rcol, threshold) END);

	check_query := format($q$
WITH t AS MATERIALIZED (%1$s),
u AS (SELECT t.user_key FROM t GROUP BY t.user_key),
i AS (SELECT t.item_key FROM t GROUP BY t.item_key)
SELECT (SELECT count(*) FROM u) AS test_users,
	   (SELECT count(*) FROM u JOIN recsys.user_factors f
		  ON f.model = %2$L AND f.version = %3$s AND f.user_key = u.user_key) AS known_users,
	   (SELECT count(*) FROM i JOIN recsys.item_factors f
		  ON f.model = %2$L AND f.version = %3$s AND f.item_key = i.item_key) AS known_items
$q$, t, model, m.active_version);

	-- the lists: served by recommend_all(), or made elsewhere (re-ranked,
	-- another system) as (user, item, rank), of which ranks up to k count
	IF lists IS NULL THEN
		r := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank '
					'FROM recsys.recommend_all(%L, %s, users => ARRAY(SELECT u.user_key FROM u WHERE u.known)) a',
					model, cutoff);
		IF serve_unknown THEN
			-- users the model does not know get what recommend() gives them
			-- (fold-in from the model's source, or popular items)
			r := r || format(' UNION ALL SELECT u.user_key, x.item::text, x.rank FROM u '
							 'CROSS JOIN LATERAL recsys.recommend(%L, (u.user_key)::%s, %s) x WHERE NOT u.known',
							 model, m.user_key_type, cutoff);
		END IF;
	ELSE
		-- (checked: each rank and each item at most once in a user's list)
		r := recsys.eval_lists_sql(lists, cutoff, '(x.lu)::text IN (SELECT u.user_key FROM u)');
	END IF;

	-- rank is the position in the served list: ties in score are broken
	-- as serving breaks them (by item key), so a metric measures the list
	-- a user would see
	query := format($q$
WITH tu AS MATERIALIZED (
	SELECT t.user_key, count(*)::integer AS n_relevant, array_agg(t.item_key) AS relevant
	FROM (%1$s) t GROUP BY t.user_key),
u AS MATERIALIZED (
	SELECT tu.user_key, row_number() OVER () AS uid, tu.n_relevant, tu.relevant,
		   f.user_key IS NOT NULL AS known
	FROM tu %6$s JOIN recsys.user_factors f
	  ON f.model = %2$L AND f.version = %3$s AND f.user_key = tu.user_key),
r AS MATERIALIZED (%5$s),
h AS (
	SELECT u.uid, r.item_key, r.rank, r.item_key = ANY (u.relevant) AS rel
	FROM r JOIN u ON u.user_key = r.user_key),
w AS (
	SELECT h.*, count(*) FILTER (WHERE h.rel) OVER (PARTITION BY h.uid ORDER BY h.rank) AS hits_so_far
	FROM h),
m AS (
	SELECT w.uid,
		   count(*) FILTER (WHERE w.rel) AS hits,
		   sum(ln(2::float8) / ln(w.rank + 1::float8)) FILTER (WHERE w.rel) AS dcg,
		   sum(w.hits_so_far::float8 / w.rank) FILTER (WHERE w.rel) AS sum_precision,
		   min(w.rank) FILTER (WHERE w.rel) AS first_hit,
		   array_agg(w.item_key ORDER BY w.rank) AS items
	FROM w GROUP BY w.uid),
idcg AS (
	SELECT array_agg(z.c ORDER BY z.i) AS v
	FROM (SELECT i, sum(ln(2::float8) / ln(i + 1::float8)) OVER (ORDER BY i) AS c
		  FROM generate_series(1, least(%4$s, (SELECT max(u.n_relevant) FROM u))) i) z)
SELECT u.user_key, u.n_relevant,
	   coalesce(m.hits, 0)::float8 / %4$s AS "precision",
	   coalesce(m.hits, 0)::float8 / u.n_relevant AS recall,
	   coalesce(m.dcg, 0) / (SELECT v FROM idcg)[least(u.n_relevant, %4$s)] AS ndcg,
	   coalesce(m.sum_precision, 0) / least(u.n_relevant, %4$s) AS ap,
	   coalesce(1.0::float8 / m.first_hit, 0) AS rr,
	   (coalesce(m.hits, 0) > 0)::integer::float8 AS hit,
	   coalesce(m.items, '{}') AS items,
	   (SELECT count(*) FROM tu) AS test_users
FROM u LEFT JOIN m ON m.uid = u.uid
$q$, t, model, m.active_version, cutoff, r, CASE WHEN serve_unknown THEN 'LEFT' ELSE '' END);
END
$fn$;
COMMENT ON FUNCTION recsys.eval_ranking_sql(text, text, integer, text, text, text, double precision, text, boolean) IS
	'internal to evaluate() and evaluate_users(): checks their arguments and returns the query measuring each test user''s top-k list (served by recommend_all, or given as lists), and the query counting test users, known users and known items';

-- Raises the error for a test set evaluate() cannot measure.
CREATE FUNCTION recsys.eval_check(model text, test_users bigint, known_users bigint, known_items bigint,
	threshold double precision)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
	IF test_users = 0 THEN
		RAISE EXCEPTION 'test set has no %', CASE WHEN threshold IS NULL THEN 'rows' ELSE format('rows rated at least %s', threshold) END
			USING ERRCODE = 'no_data_found',
				  HINT = 'Check the test set and its columns (rows with a NULL user or item are skipped).';
	END IF;
	IF known_users = 0 THEN
		RAISE EXCEPTION 'no user of the test set is in model "%"', model
			USING ERRCODE = 'no_data_found',
				  HINT = 'Evaluate on a split of the data the model was trained on (recsys.split); check the key columns.';
	END IF;
	IF known_items = 0 THEN
		RAISE EXCEPTION 'no item of the test set is in model "%"', model
			USING ERRCODE = 'no_data_found',
				  HINT = 'Evaluate on a split of the data the model was trained on (recsys.split); check the key columns.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.eval_check(text, bigint, bigint, bigint, double precision) IS
	'internal to evaluate() and evaluate_users(): the error for an empty test set, or one without a user or an item of the model';

CREATE FUNCTION recsys.evaluate_users(
	model text,
	test text,
	k integer DEFAULT 10,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL)
RETURNS TABLE (user_key text, n_relevant integer, "precision" double precision,
			   recall double precision, ndcg double precision, ap double precision,
			   rr double precision, hit double precision)
LANGUAGE plpgsql STABLE SET transaction_read_only = on
AS $fn$
DECLARE
	q record;
	c record;
BEGIN
	q := recsys.eval_ranking_sql(model, test, k, user_col, item_col, rating_col, threshold, NULL, false);
	RETURN QUERY EXECUTE
		'SELECT e.user_key, e.n_relevant, e."precision", e.recall, e.ndcg, e.ap, e.rr, e.hit FROM ('
		|| q.query || ') e ORDER BY e.user_key';
	IF NOT FOUND THEN
		-- say why: no rows, or no user of the model
		EXECUTE q.check_query INTO c;
		PERFORM recsys.eval_check(model, c.test_users, c.known_users, c.known_items, threshold);
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.evaluate_users(text, text, integer, text, text, text, double precision) IS
	'ranking metrics of each test user known to the model: relevant test items, precision@k, recall@k, NDCG@k, AP@k, reciprocal rank and hit of the user''s top-k list from recommend_all (training items excluded); user keys as text';

-- The body of evaluate() (a PL/pgSQL function cannot name an argument and
-- a result column both k).
CREATE FUNCTION recsys.eval_metrics(
	model text,
	test text,
	cutoff integer,
	user_col text,
	item_col text,
	rating_col text,
	threshold double precision,
	user_groups text,
	metrics text[],
	lists text,
	unknown_users text)
RETURNS TABLE (metric text, at_k integer, value double precision, user_group text)
LANGUAGE plpgsql STABLE SET transaction_read_only = on
AS $fn$
DECLARE
	known_metrics constant text[] := ARRAY['rmse', 'mae', 'precision', 'recall', 'ndcg', 'map',
										   'hit_rate', 'mrr', 'coverage', 'novelty', 'users'];
	want text[] := coalesce(metrics, known_metrics);
	bad text;
	q record;
	c record;
	v record;
	is_explicit boolean;
	do_rating boolean;
	do_ranking boolean;
	g text;
	parts text[] := '{}';
	r_metric text[];
	r_k integer[];
	r_value double precision[];
	r_group text[];
	measured double precision;
	test_users double precision;
	hit_rate double precision;
	predicted double precision;
	known_user_rows double precision;
	known_item_rows double precision;
	serve_unknown boolean := unknown_users = 'serve';
	messages text;
BEGIN
	IF unknown_users IS NULL OR unknown_users NOT IN ('skip', 'serve') THEN
		RAISE EXCEPTION 'unknown_users must be skip or serve, not %', coalesce(quote_literal(unknown_users), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'skip leaves test users the model does not know out of the ranking metrics; serve measures what recommend() gives them.';
	END IF;
	SELECT x INTO bad FROM unnest(want) x WHERE x IS NULL OR NOT x = ANY (known_metrics) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'unknown metric "%"', coalesce(bad, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Metrics: ' || array_to_string(known_metrics, ', ') || '.';
	END IF;
	q := recsys.eval_ranking_sql(model, test, cutoff, user_col, item_col, rating_col, threshold, lists, serve_unknown);
	SELECT mv.version, mv.items, mv.users,
		   CASE WHEN mv.algorithm IN ('item_knn', 'user_knn') THEN mv.params->>'feedback' = 'explicit'
				ELSE mv.algorithm IN ('als', 'svd') END AS explicit_model
	  INTO v
	  FROM recsys.models m JOIN recsys.model_versions mv
		ON mv.model = m.name AND mv.version = m.active_version
	 WHERE m.name = eval_metrics.model;
	is_explicit := coalesce(v.explicit_model, false);
	IF metrics IS NOT NULL AND NOT is_explicit AND want && ARRAY['rmse', 'mae'] THEN
		RAISE EXCEPTION 'model "%" does not predict ratings: rmse and mae need an explicit model', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'als, svd and neighbourhood models with "feedback": "explicit" predict ratings; ask for ranking metrics instead.';
	END IF;
	do_rating := is_explicit AND want && ARRAY['rmse', 'mae'];
	do_ranking := want && ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr', 'coverage', 'novelty', 'users'];

	-- user -> group; a user without a group counts in the overall rows only.
	-- Groups compare by their output text, as the re-ranking constraints
	-- compare them (a boolean group is t or f).
	g := CASE WHEN user_groups IS NULL THEN 'SELECT NULL::text AS user_key, NULL::text AS grp WHERE false'
			  ELSE format('SELECT DISTINCT (g.gu)::text AS user_key, format(''%%s'', g.gg) AS grp FROM %s AS g(gu, gg) '
						  'WHERE g.gu IS NOT NULL AND g.gg IS NOT NULL',
						  recsys.eval_source(user_groups, 'user_groups', 2)) END;

	IF do_rating THEN
		parts := parts || format($q$
WITH p AS (
	SELECT p.user_key, p.prediction - p.rating AS err, p.known_user, p.known_item
	FROM recsys.predictions(%1$L, %2$L, %3$L, %4$L, %5$L) p
	WHERE p.prediction IS NOT NULL AND p.rating IS NOT NULL),
g AS (%6$s),
pg AS (SELECT p.err, p.known_user, p.known_item, NULL::text AS grp FROM p
	   UNION ALL SELECT p.err, p.known_user, p.known_item, g.grp FROM p JOIN g ON g.user_key = p.user_key),
a AS (SELECT pg.grp, sqrt(avg(pg.err * pg.err)) AS rmse, avg(abs(pg.err)) AS mae,
			 count(*)::float8 AS n, count(*) FILTER (WHERE pg.known_user)::float8 AS n_user,
			 count(*) FILTER (WHERE pg.known_item)::float8 AS n_item
	  FROM pg GROUP BY pg.grp)
SELECT x.ord, x.metric, NULL::integer AS at_k, x.value, a.grp
FROM a CROSS JOIN LATERAL (VALUES (1, 'rmse', a.rmse), (2, 'mae', a.mae), (13, '.predicted', a.n),
								  (14, '.known_user', a.n_user), (15, '.known_item', a.n_item)) x(ord, metric, value)
$q$, model, test, user_col, item_col, rating_col, g);
	END IF;

	IF do_ranking THEN
		-- novelty: the self-information -log2(p) of a recommended item, p the
		-- share of the model's users who interacted with it in training
		parts := parts || format($q$
WITH e AS MATERIALIZED (%1$s),
g AS (%2$s),
eg AS (SELECT e.*, NULL::text AS grp FROM e
	   UNION ALL SELECT e.*, g.grp FROM e JOIN g ON g.user_key = e.user_key),
pop AS (SELECT f.item_key, -ln(greatest(f.interactions, 1)::float8 / %5$s) / ln(2::float8) AS info
		FROM recsys.item_factors f WHERE f.model = %3$L AND f.version = %4$s),
a AS (SELECT eg.grp, count(*) AS users, avg(eg."precision") AS p, avg(eg.recall) AS r,
			 avg(eg.ndcg) AS n, avg(eg.ap) AS ap, avg(eg.hit) AS h, avg(eg.rr) AS rr,
			 max(eg.test_users) AS test_users
	  FROM eg GROUP BY eg.grp),
i AS (SELECT eg.grp, count(DISTINCT x.item) AS distinct_items, avg(pop.info) AS novelty
	  FROM eg CROSS JOIN LATERAL unnest(eg.items) x(item) JOIN pop ON pop.item_key = x.item
	  GROUP BY eg.grp)
SELECT x.ord, x.metric, CASE WHEN x.metric = 'users' THEN NULL ELSE %6$s END AS at_k, x.value, a.grp
FROM a LEFT JOIN i ON i.grp IS NOT DISTINCT FROM a.grp
CROSS JOIN LATERAL (VALUES (3, 'precision', a.p), (4, 'recall', a.r), (5, 'ndcg', a.n),
						   (6, 'map', a.ap), (7, 'hit_rate', a.h), (8, 'mrr', a.rr),
						   (9, 'coverage', coalesce(i.distinct_items, 0)::float8 / %7$s),
						   (10, 'novelty', i.novelty), (11, 'users', a.users::float8),
						   (12, '.test_users', a.test_users::float8)) x(ord, metric, value)
$q$, q.query, g, model, v.version, greatest(v.users, 1), cutoff, greatest(v.items, 1));
	END IF;

	-- The rows are gathered first: the counts behind them (hidden rows whose
	-- names start with a dot) decide whether the test set needs the check
	-- query, which reads it again to explain an empty or unusable result.
	IF serve_unknown THEN
		-- recommend() says for every unknown user how it served them
		messages := current_setting('client_min_messages');
		PERFORM set_config('client_min_messages', 'warning', true);
	END IF;
	EXECUTE format('SELECT array_agg(z.metric ORDER BY z.grp NULLS FIRST, z.ord), '
				   'array_agg(z.at_k ORDER BY z.grp NULLS FIRST, z.ord), '
				   'array_agg(z.value ORDER BY z.grp NULLS FIRST, z.ord), '
				   'array_agg(z.grp ORDER BY z.grp NULLS FIRST, z.ord) FROM ((%s)) z',
				   array_to_string(parts, ') UNION ALL ('))
		INTO r_metric, r_k, r_value, r_group;
	IF serve_unknown THEN
		PERFORM set_config('client_min_messages', messages, true);
	END IF;
	SELECT max(x.v) FILTER (WHERE x.m = 'users'), max(x.v) FILTER (WHERE x.m = '.test_users'),
		   max(x.v) FILTER (WHERE x.m = 'hit_rate'), max(x.v) FILTER (WHERE x.m = '.predicted'),
		   max(x.v) FILTER (WHERE x.m = '.known_user'), max(x.v) FILTER (WHERE x.m = '.known_item')
	  INTO measured, test_users, hit_rate, predicted, known_user_rows, known_item_rows
	  FROM unnest(r_metric, r_value, r_group) x(m, v, g) WHERE x.g IS NULL;
	IF do_rating THEN
		-- predictions say themselves which rows the model knows
		PERFORM recsys.eval_check(model, coalesce(predicted, 0)::bigint,
								  coalesce(CASE WHEN serve_unknown THEN predicted ELSE known_user_rows END, 0)::bigint,
								  coalesce(known_item_rows, 0)::bigint, NULL);
	END IF;
	IF do_ranking AND (coalesce(measured, 0) = 0 OR coalesce(hit_rate, 0) = 0) THEN
		EXECUTE q.check_query INTO c;
		-- (served, users the model does not know are measured too)
		PERFORM recsys.eval_check(model, c.test_users,
								  CASE WHEN serve_unknown THEN c.test_users ELSE c.known_users END,
								  c.known_items, threshold);
	END IF;
	IF do_ranking AND measured < test_users THEN
		RAISE NOTICE '% of % test users are not in model "%": they are left out of the ranking metrics',
			test_users - measured, test_users, model;
	END IF;
	RETURN QUERY SELECT x.m, x.k, x.v, x.g FROM unnest(r_metric, r_k, r_value, r_group) x(m, k, v, g)
				 WHERE x.m = ANY (want);
END
$fn$;
COMMENT ON FUNCTION recsys.eval_metrics(text, text, integer, text, text, text, double precision, text, text[], text, text) IS
	'internal: the body of recsys.evaluate()';

CREATE FUNCTION recsys.evaluate(
	model text,
	test text,
	k integer DEFAULT 10,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL,
	user_groups text DEFAULT NULL,
	metrics text[] DEFAULT NULL,
	lists text DEFAULT NULL,
	unknown_users text DEFAULT 'skip')
RETURNS TABLE (metric text, k integer, value double precision, user_group text)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.eval_metrics($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
$fn$;
COMMENT ON FUNCTION recsys.evaluate(text, text, integer, text, text, text, double precision, text, text[], text, text) IS
	'accuracy of a model on a test set (relation or SELECT): rmse, mae (explicit models), precision, recall, ndcg, map, hit_rate, mrr (means over test users known to the model, as evaluate_users gives them), catalogue coverage and novelty of the top-k lists (recommend_all''s, or lists: user, item, rank), users measured; one row per metric, and per user group when user_groups (user, group) is given; test users the model does not know are left out, or with unknown_users => ''serve'' measured on what recommend() gives them';

-- Exposure of item groups in top-k lists.
CREATE FUNCTION recsys.audit_exposure(
	model text,
	item_groups text,
	k integer DEFAULT 10,
	users text DEFAULT NULL,
	lists text DEFAULT NULL)
RETURNS TABLE (item_group text, metric text, value double precision)
LANGUAGE plpgsql STABLE SET transaction_read_only = on
AS $fn$
DECLARE
	v record;
	l text;
	ig text;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k <= 0 THEN
		RAISE EXCEPTION 'k must be positive, not %', k
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'k is the length of the lists that are audited.';
	END IF;
	SELECT mv.version, mv.users INTO v
	  FROM recsys.models m JOIN recsys.model_versions mv
		ON mv.model = m.name AND mv.version = m.active_version
	 WHERE m.name = audit_exposure.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;

	IF lists IS NOT NULL THEN
		-- lists made elsewhere (re-ranked, or by another system): user, item, rank
		-- (checked: each rank and each item at most once in a user's list)
		l := recsys.eval_lists_sql(lists, k,
			CASE WHEN users IS NOT NULL
				 THEN format('(x.lu)::text IN (SELECT (y.recsys_user)::text FROM %s AS y(recsys_user))',
							 recsys.eval_source(users, 'users', 1)) END);
	ELSE
		l := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank FROM recsys.recommend_all(%L, %s, users => %s) a',
					model, k,
					CASE WHEN users IS NULL THEN 'NULL'
						 ELSE format('ARRAY(SELECT DISTINCT (y.recsys_user)::text FROM %s AS y(recsys_user) WHERE y.recsys_user IS NOT NULL)',
									 recsys.eval_source(users, 'users', 1)) END);
	END IF;
	-- item -> group, by the group's output text as recommend()'s
	-- item_groups (a boolean group is t or f); an item listed in several
	-- groups counts in the first by text order; items without a group form
	-- the group NULL
	ig := CASE WHEN item_groups IS NULL THEN 'SELECT NULL::text AS item_key, NULL::text AS grp WHERE false'
			   ELSE format('SELECT DISTINCT ON (1) (g.gi)::text AS item_key, format(''%%s'', g.gg) AS grp FROM %s AS g(gi, gg) '
						   'WHERE g.gi IS NOT NULL ORDER BY 1, 2',
						   recsys.eval_source(item_groups, 'item_groups', 2)) END;

	RETURN QUERY EXECUTE format($q$
WITH ci AS MATERIALIZED (
	SELECT f.item_key, f.interactions::float8 AS interactions,
		   f.interactions::float8 / %3$s AS popularity, ig.grp
	FROM recsys.item_factors f LEFT JOIN (%4$s) ig ON ig.item_key = f.item_key
	WHERE f.model = %1$L AND f.version = %2$s),
e AS MATERIALIZED (
	SELECT l.user_key, l.item_key, l.rank, ci.grp, ci.popularity,
		   ln(2::float8) / ln(greatest(l.rank, 1) + 1::float8) AS w
	FROM (%5$s) l JOIN ci ON ci.item_key = l.item_key),
tot AS (
	SELECT (SELECT count(*) FROM ci)::float8 AS items,
		   (SELECT greatest(sum(ci.interactions), 1) FROM ci) AS interactions,
		   (SELECT count(*) FROM e)::float8 AS slots,
		   (SELECT sum(e.w) FROM e) AS weight),
per_item AS (
	SELECT ci.item_key, ci.grp, count(e.item_key)::float8 AS x
	FROM ci LEFT JOIN e ON e.item_key = ci.item_key GROUP BY ci.item_key, ci.grp),
grp AS (
	SELECT ci.grp, count(*)::float8 AS items, sum(ci.interactions) AS interactions
	FROM ci GROUP BY ci.grp),
ex AS (
	SELECT e.grp, count(*)::float8 AS slots, sum(e.w) AS weight, count(DISTINCT e.item_key)::float8 AS distinct_items
	FROM e GROUP BY e.grp),
overall AS (
	SELECT (SELECT count(DISTINCT e.user_key) FROM e)::float8 AS lists,
		   (SELECT count(DISTINCT e.item_key) FROM e)::float8 / tot.items AS coverage,
		   (SELECT sum((2 * o.i - o.n - 1) * o.x) / nullif(o.n * sum(o.x), 0)
			FROM (SELECT per_item.x, row_number() OVER (ORDER BY per_item.x) AS i,
						 count(*) OVER () AS n FROM per_item) o GROUP BY o.n) AS gini,
		   (SELECT avg(e.popularity) FROM e) AS pop_recommended,
		   (SELECT sum(ci.interactions * ci.popularity) / tot.interactions FROM ci) AS pop_interacted
	FROM tot)
SELECT r.grp, r.metric, r.value FROM (
	SELECT 0 AS part, grp.grp, x.ord, x.metric, x.value
	FROM grp CROSS JOIN tot LEFT JOIN ex ON ex.grp IS NOT DISTINCT FROM grp.grp
	CROSS JOIN LATERAL (VALUES
		(1, 'items', grp.items),
		(2, 'catalogue_share', grp.items / tot.items),
		(3, 'interaction_share', grp.interactions / tot.interactions),
		(4, 'exposure_share', coalesce(ex.slots, 0) / nullif(tot.slots, 0)),
		(5, 'discounted_exposure_share', coalesce(ex.weight, 0) / nullif(tot.weight, 0)),
		(6, 'coverage', coalesce(ex.distinct_items, 0) / grp.items)) x(ord, metric, value)
	UNION ALL
	SELECT 1, NULL, x.ord, x.metric, x.value
	FROM overall CROSS JOIN LATERAL (VALUES
		(1, 'lists', overall.lists),
		(2, 'coverage', overall.coverage),
		(3, 'gini', overall.gini),
		(4, 'mean_popularity_recommended', overall.pop_recommended),
		(5, 'mean_popularity_interacted', overall.pop_interacted),
		(6, 'popularity_lift', overall.pop_recommended / nullif(overall.pop_interacted, 0))) x(ord, metric, value)
) r
ORDER BY r.part, r.grp NULLS LAST, r.ord
$q$, model, v.version, greatest(v.users, 1), ig, l);
END
$fn$;
COMMENT ON FUNCTION recsys.audit_exposure(text, text, integer, text, text) IS
	'exposure of item groups (item_groups: item, group) in the top-k lists of recommend_all (or of lists: user, item, rank, e.g. re-ranked): per group items, catalogue_share, interaction_share, exposure_share, discounted_exposure_share (1/log2(rank+1)), coverage; overall lists, coverage, gini of item exposure, mean popularity of recommended and of interacted items and their ratio';

-- (end of 8b)

-- 8c. Fairness audits across user groups (src/audit.c).  groups is a
-- relation or SELECT whose first two columns are (user, group); users are
-- matched to the test set by their text form, groups compare as text.  A
-- user listed under several groups counts in each; test rows of users
-- without a group are left out (NOTICE).  Groups with fewer than two values
-- are reported (tested = false) but left out of the tests (NOTICE).  The
-- across-group columns are repeated on every row; welch_* only when exactly
-- two groups are tested (t of the first minus the second in byte order).

CREATE FUNCTION recsys.audit_error(
	model text,
	test text,
	groups text,
	error text DEFAULT 'squared',
	bootstrap integer DEFAULT 0,
	confidence double precision DEFAULT 0.95,
	seed integer DEFAULT 42,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL)
RETURNS TABLE (group_key text, n bigint, rmse double precision, mae double precision,
			   mean_error double precision, rmse_low double precision, rmse_high double precision,
			   tested boolean,
			   anova_f double precision, anova_df_between integer, anova_df_within bigint,
			   anova_p double precision,
			   welch_t double precision, welch_df double precision, welch_p double precision,
			   kruskal_h double precision, kruskal_df integer, kruskal_p double precision,
			   disparity_ratio double precision, disparity_difference double precision)
AS 'MODULE_PATHNAME', 'rs_audit_error' LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.audit_error(text, text, text, text, integer, double precision, integer, text, text, text) IS
	'prediction error per user group (groups: user, group) on a test set (columns default to the model''s): n, rmse, mae, mean_error (predicted - actual), optional bootstrap interval of the rmse; across groups ANOVA, Welch (two groups) and Kruskal-Wallis on squared (error => ''absolute'': absolute) errors and the max/min ratio and difference of rmse (mae)';

CREATE FUNCTION recsys.audit_ranking(
	model text,
	test text,
	groups text,
	k integer DEFAULT 10,
	metrics text[] DEFAULT NULL,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL)
RETURNS TABLE (group_key text, metric text, k integer, users bigint, mean double precision,
			   stddev double precision, tested boolean,
			   anova_f double precision, anova_df_between integer, anova_df_within bigint,
			   anova_p double precision,
			   welch_t double precision, welch_df double precision, welch_p double precision,
			   kruskal_h double precision, kruskal_df integer, kruskal_p double precision,
			   disparity_ratio double precision, disparity_difference double precision)
AS 'MODULE_PATHNAME', 'rs_audit_ranking' LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.audit_ranking(text, text, text, integer, text[], text, text, text, double precision) IS
	'ranking quality per user group (groups: user, group): each group''s mean per-user metric at k from recsys.evaluate_users (metrics: ndcg, recall (the default two), precision, ap, rr, hit), one row per group and metric, with ANOVA, Welch (two groups) and Kruskal-Wallis across groups on the per-user values and the max/min ratio and difference of the group means';
-- (end of 8c)

------------------------------------------------------------------------------
-- 11. Reliability helpers
------------------------------------------------------------------------------

-- A statement whose reading of caller-supplied queries must not write,
-- run as if the transaction were read-only (only temporary tables can be
-- written; anything else fails with 25006), with the caller's rights.
-- recsys.split() fills its temporary table of marked rows through it.
CREATE FUNCTION recsys.exec_read_only(statement text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET transaction_read_only = on
AS $fn$
DECLARE
	n bigint;
BEGIN
	EXECUTE statement;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$fn$;
COMMENT ON FUNCTION recsys.exec_read_only(text) IS
	'internal: runs a statement with the caller''s rights as if the transaction were read-only (only temporary tables may be written; any other write fails with 25006) and returns its row count; split fills its temporary table through it';

-- The rows of lists (user, item, rank: made elsewhere, read by position)
-- that evaluate() and audit_exposure() measure: ranks up to cutoff, rows
-- with a NULL user, item or rank skipped, and filter (SQL over x.lu, the
-- user column) when given.  A list that is no ranking -- a rank below 1,
-- two items at one rank, one item at two ranks of the same user -- is an
-- error (22023): it would count an item twice and let NDCG pass 1.
CREATE FUNCTION recsys.eval_lists_sql(lists text, cutoff integer, filter text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
	RETURN format($q$
SELECT l.user_key, l.item_key, l.rank
FROM (SELECT x.user_key, x.item_key, x.rank,
			 count(*) OVER (PARTITION BY x.user_key, x.rank) AS same_rank,
			 count(*) OVER (PARTITION BY x.user_key, x.item_key) AS same_item
	  FROM (SELECT (x.lu)::text AS user_key, (x.li)::text AS item_key, (x.lr)::integer AS rank
			FROM %1$s AS x(lu, li, lr)
			WHERE x.lu IS NOT NULL AND x.li IS NOT NULL AND x.lr <= %2$s%3$s) x) l
WHERE (l.rank >= 1 AND l.same_rank = 1 AND l.same_item = 1)
   OR recsys.eval_lists_error(l.user_key, l.item_key, l.rank, l.same_rank, l.same_item)
$q$, recsys.eval_source(lists, 'lists', 3), cutoff,
		 CASE WHEN filter IS NULL THEN '' ELSE ' AND ' || filter END);
END
$fn$;
COMMENT ON FUNCTION recsys.eval_lists_sql(text, integer, text) IS
	'internal to evaluate() and audit_exposure(): the query reading lists (user, item, rank) up to a cutoff, which fails (22023) on a rank below 1 or a rank or item given twice in one user''s list';

-- The error for a row of lists that is no ranking (see eval_lists_sql).
CREATE FUNCTION recsys.eval_lists_error(user_key text, item_key text, rank integer,
	same_rank bigint, same_item bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
	u text := quote_literal(left(user_key, 100));
	hint constant text := 'Number each user''s list 1, 2, 3, ... with one item per rank, '
		'e.g. row_number() OVER (PARTITION BY user_id ORDER BY score DESC) AS rank.';
BEGIN
	IF rank < 1 THEN
		RAISE EXCEPTION 'lists must rank from 1: user % has a rank of %', u, rank
			USING ERRCODE = 'invalid_parameter_value', HINT = hint;
	ELSIF same_rank > 1 THEN
		RAISE EXCEPTION 'lists must give each rank of a user once: user % has % items at rank %', u, same_rank, rank
			USING ERRCODE = 'invalid_parameter_value', HINT = hint;
	END IF;
	RAISE EXCEPTION 'lists must rank each item of a user once: user % has item % at % ranks',
		u, quote_literal(left(item_key, 100)), same_item
		USING ERRCODE = 'invalid_parameter_value', HINT = hint;
END
$fn$;
COMMENT ON FUNCTION recsys.eval_lists_error(text, text, integer, bigint, bigint) IS
	'internal to eval_lists_sql(): raises the error (22023) for a row of lists with a rank below 1, a rank given twice or an item given twice in one user''s list';
