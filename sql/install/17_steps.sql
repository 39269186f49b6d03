-- 17_steps.sql: one half-step of ALS and iALS as aggregates (src/step_agg.c),
-- so that a half-sweep is one GROUP BY statement that parallel query,
-- partition-wise aggregation or a distributed engine can split into
-- partial aggregates; train(..., '{"execution": "sql"}') trains through
-- them (src/train_sql.c).  The statements: doc/scale-out.md.
--
-- The transition state is a real type, recsys.step_state: the parameters,
-- a count and the sums of the normal equations in double precision.  Its
-- binary form is its fields in network order, its text form that in hex;
-- both are checked whole on input.  The combine function adds two states
-- of the same step and options.

CREATE TYPE recsys.step_state;

CREATE FUNCTION recsys.step_state_in(cstring) RETURNS recsys.step_state
	AS 'MODULE_PATHNAME', 'rs_step_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.step_state_out(recsys.step_state) RETURNS cstring
	AS 'MODULE_PATHNAME', 'rs_step_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.step_state_recv(internal) RETURNS recsys.step_state
	AS 'MODULE_PATHNAME', 'rs_step_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.step_state_send(recsys.step_state) RETURNS bytea
	AS 'MODULE_PATHNAME', 'rs_step_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE recsys.step_state (
	INPUT = recsys.step_state_in,
	OUTPUT = recsys.step_state_out,
	RECEIVE = recsys.step_state_recv,
	SEND = recsys.step_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE recsys.step_state IS
	'the state of recsys.als_step, ials_step and gram: parameters, count and the sums of the normal equations';

-- What a step gives an entity: its new factors, its bias (als; NULL for
-- ials) and the number of its rows that were read.
CREATE TYPE recsys.step_result AS (factors recsys.embedding, bias real, interactions bigint);

CREATE FUNCTION recsys.als_step_accum(recsys.step_state, recsys.embedding, real, double precision, jsonb)
	RETURNS recsys.step_state
	AS 'MODULE_PATHNAME', 'rs_als_step_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION recsys.ials_step_accum(recsys.step_state, recsys.embedding, double precision,
	double precision[], jsonb)
	RETURNS recsys.step_state
	AS 'MODULE_PATHNAME', 'rs_ials_step_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION recsys.gram_accum(recsys.step_state, recsys.embedding)
	RETURNS recsys.step_state
	AS 'MODULE_PATHNAME', 'rs_gram_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION recsys.step_combine(recsys.step_state, recsys.step_state)
	RETURNS recsys.step_state
	AS 'MODULE_PATHNAME', 'rs_step_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.step_final(recsys.step_state) RETURNS recsys.step_result
	AS 'MODULE_PATHNAME', 'rs_step_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.gram_final(recsys.step_state) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'rs_gram_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.step_state_in(cstring) IS 'recsys.step_state input: its binary form in hex, checked whole';
COMMENT ON FUNCTION recsys.step_state_out(recsys.step_state) IS 'recsys.step_state output: its binary form in hex';
COMMENT ON FUNCTION recsys.step_state_recv(internal) IS 'recsys.step_state binary input, checked whole';
COMMENT ON FUNCTION recsys.step_state_send(recsys.step_state) IS 'recsys.step_state binary output: the fields in network order';
COMMENT ON FUNCTION recsys.als_step_accum(recsys.step_state, recsys.embedding, real, double precision, jsonb) IS
	'transition function of recsys.als_step: adds one rating to the entity''s normal equations';
COMMENT ON FUNCTION recsys.ials_step_accum(recsys.step_state, recsys.embedding, double precision, double precision[], jsonb) IS
	'transition function of recsys.ials_step: adds one interaction to the entity''s normal equations';
COMMENT ON FUNCTION recsys.gram_accum(recsys.step_state, recsys.embedding) IS
	'transition function of recsys.gram: adds y y^T';
COMMENT ON FUNCTION recsys.step_combine(recsys.step_state, recsys.step_state) IS
	'combine function of the step aggregates: the sums of two partial states of the same step and options';
COMMENT ON FUNCTION recsys.step_final(recsys.step_state) IS
	'final function of recsys.als_step and ials_step: the entity''s solution (factors, bias, interactions)';
COMMENT ON FUNCTION recsys.gram_final(recsys.step_state) IS
	'final function of recsys.gram: Y^T Y as float8[] of k * k';

-- SSPACE: the state of 64 factors is ~22 kB (als) or ~38 kB (ials): the
-- planner sorts rather than hashes many groups of it.
CREATE AGGREGATE recsys.als_step(factors recsys.embedding, bias real, rating double precision,
	options jsonb) (
	SFUNC = recsys.als_step_accum,
	STYPE = recsys.step_state,
	SSPACE = 22000,
	FINALFUNC = recsys.step_final,
	COMBINEFUNC = recsys.step_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.als_step(recsys.embedding, real, double precision, jsonb) IS
	'one ALS half-step for the group''s entity: solves als''s normal equations over the other side''s factors and biases (options: regularization, bias_regularization, biases, mean)';

CREATE AGGREGATE recsys.ials_step(factors recsys.embedding, value double precision,
	gram double precision[], options jsonb) (
	SFUNC = recsys.ials_step_accum,
	STYPE = recsys.step_state,
	SSPACE = 38000,
	FINALFUNC = recsys.step_final,
	COMBINEFUNC = recsys.step_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.ials_step(recsys.embedding, double precision, double precision[], jsonb) IS
	'one iALS half-step for the group''s entity: solves (Y^T Y + sum alpha r y y^T + lambda I) x = sum (1 + alpha r) y (options: regularization, alpha)';

CREATE AGGREGATE recsys.gram(factors recsys.embedding) (
	SFUNC = recsys.gram_accum,
	STYPE = recsys.step_state,
	FINALFUNC = recsys.gram_final,
	COMBINEFUNC = recsys.step_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.gram(recsys.embedding) IS
	'Y^T Y of the factor vectors, as float8[] of k * k (row-major)';
