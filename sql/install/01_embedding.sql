-- 01_embedding.sql: the embedding type (src/embedding.c, src/distance.c,
-- src/embedding_agg.c): its I/O and typmod, casts from and to arrays, the
-- distance functions and operators (<->, <#>, <=>), arithmetic, btree and
-- hash operator classes, and the sum()/avg() aggregates.

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

