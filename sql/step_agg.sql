--
-- The training half-steps as aggregates (recsys.als_step, ials_step, gram):
-- against hand-solved systems; their state's text and binary forms, written
-- by hand from the documented layout, checked whole; combining; bad input
-- gets errors with SQLSTATEs, never a crash.  Small enough for valgrind
-- (scripts/sanitize.sh); the plans and train()'s "execution": "sql" are in
-- train_sql.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- 1. One user, k = 1, items q = 1 and 2 (biases 0.5 and -1), ratings 3 and
-- 4, mean 3, lambda 0.5, lambda_b 0.25.  Without biases: targets 3 - 3 - b_i
-- = -0.5 and 2, A = 1 + 4 + 0.5 * 2 = 6, b = -0.5 + 4 = 3.5: p = 3.5 / 6.
SELECT round(((recsys.als_step(f, b, r, '{"regularization": 0.5, "biases": false, "mean": 3}')).factors::real[])[1]::numeric, 6) AS p,
	   round((3.5 / 6.0)::numeric, 6) AS by_hand,
	   (recsys.als_step(f, b, r, '{"regularization": 0.5, "biases": false, "mean": 3}')).bias,
	   (recsys.als_step(f, b, r, '{"regularization": 0.5, "biases": false, "mean": 3}')).interactions
FROM (VALUES ('[1]'::recsys.embedding, 0.5::real, 3::float8), ('[2]', -1, 4)) v(f, b, r);
-- With the bias: [[5 + 1, 3], [3, 2 + 0.5]] [p; b_u] = [3.5; 1.5]:
-- det = 6 * 2.5 - 9 = 6, p = (3.5 * 2.5 - 3 * 1.5) / 6, b_u = (6 * 1.5 - 3 * 3.5) / 6.
SELECT round(((s).factors::real[])[1]::numeric, 6) AS p, round(((3.5 * 2.5 - 4.5) / 6)::numeric, 6) AS p_by_hand,
	   round((s).bias::numeric, 6) AS b_u, round(((9 - 10.5) / 6)::numeric, 6) AS b_by_hand
FROM (SELECT recsys.als_step(f, b, r, '{"regularization": 0.5, "bias_regularization": 0.25, "mean": 3}') s
	  FROM (VALUES ('[1]'::recsys.embedding, 0.5::real, 3::float8), ('[2]', -1, 4)) v(f, b, r)) x;
-- iALS, k = 1, items y = 1, 2, 3 (Y^T Y = 14), the user has item 1 with
-- value 2 and item 3 with 0, alpha 5, lambda 1: (14 + 10 * 1 + 0 + 1) x =
-- 11 * 1 + 1 * 3, x = 14 / 25.
SELECT recsys.gram(f) AS gram FROM (VALUES ('[1]'::recsys.embedding), ('[2]'), ('[3]')) v(f);
SELECT round(((s).factors::real[])[1]::numeric, 6) AS x, round(14 / 25.0, 6) AS by_hand, (s).bias, (s).interactions
FROM (SELECT recsys.ials_step(f, r, (SELECT recsys.gram(f) FROM (VALUES ('[1]'::recsys.embedding), ('[2]'), ('[3]')) g(f)),
							  '{"regularization": 1, "alpha": 5}') s
	  FROM (VALUES ('[1]'::recsys.embedding, 2::float8), ('[3]', 0)) v(f, r)) x;
-- NULL rows are skipped, as aggregates skip them; a NULL bias counts as 0
SELECT (recsys.als_step(f, b, r, '{"biases": false}')).interactions
FROM (VALUES ('[1]'::recsys.embedding, NULL::real, 3::float8), (NULL, 0, 4), ('[1]', 0, NULL)) v(f, b, r);
SELECT recsys.als_step(f, 0, 1, '{}') IS NULL AS no_rows FROM (SELECT '[1]'::recsys.embedding f WHERE false) v;

-- 2. The state's forms.  Binary: kind (int2: 1 als, 2 ials, 3 gram), k
-- (int2), flags (int4: 1 = biases), count (int8), lambda, lambda_b, alpha,
-- mu (float8), then the sums (float8): A's upper triangle by rows, b, and
-- for ials Y^T Y's upper triangle.  Text: the binary form in hex.  The
-- first system of section 1 by hand:
CREATE TEMP TABLE st AS
SELECT encode(int2send(1::int2) || int2send(1::int2) || int4send(0) || int8send(2) ||
			  float8send(0.5) || float8send(0.25) || float8send(0) || float8send(3) ||
			  float8send(5) || float8send(3) || float8send(2) ||	-- A: a11 a12 a22
			  float8send(3.5) || float8send(1.5), 'hex')::recsys.step_state AS s;
SELECT round(((recsys.step_final(s)).factors::real[])[1]::numeric, 6) AS p, (recsys.step_final(s)).bias FROM st;
SELECT s::text::recsys.step_state::text = s::text AS text_round_trip,
	   recsys.step_state_send(s) = decode(s::text, 'hex') AS binary_is_hex FROM st;
-- a state as the transition function leaves it (its rows held, not yet in
-- the sums, through an aggregate without a final function): its forms and
-- its solution are those of the sums
CREATE AGGREGATE pg_temp.raw_als(recsys.embedding, real, double precision, jsonb) (
	SFUNC = recsys.als_step_accum, STYPE = recsys.step_state);
CREATE TEMP TABLE raw_st AS
SELECT pg_temp.raw_als(f, b, r, '{"regularization": 0.5, "bias_regularization": 0.25, "biases": false, "mean": 3}') AS s
FROM (VALUES ('[1]'::recsys.embedding, 0.5::real, 3::float8), ('[2]', -1, 4)) v(f, b, r);
SELECT r.s::text = st.s::text AS same_text, recsys.step_state_send(r.s) = recsys.step_state_send(st.s) AS same_binary,
	   round(((recsys.step_final(r.s)).factors::real[])[1]::numeric, 6) AS p
FROM raw_st r, st;
-- combine, through an aggregate of states: the sums add up
CREATE AGGREGATE pg_temp.combined(recsys.step_state) (SFUNC = recsys.step_combine, STYPE = recsys.step_state);
SELECT (recsys.step_final(pg_temp.combined(s))).interactions,
	   round(((recsys.step_final(pg_temp.combined(s))).factors::real[])[1]::numeric, 6) AS p
FROM (SELECT s FROM st UNION ALL SELECT s FROM st) x;
-- a state with rows held, combined: they count
SELECT (recsys.step_final(pg_temp.combined(s))).interactions,
	   round(((recsys.step_final(pg_temp.combined(s))).factors::real[])[1]::numeric, 6) AS p
FROM (SELECT s FROM st UNION ALL SELECT s FROM raw_st) x;
-- hand-made states are checked whole
SELECT pg_temp.try($$SELECT 'abc'::recsys.step_state$$) AS odd;
SELECT pg_temp.try($$SELECT 'zz'::recsys.step_state$$) AS not_hex;
SELECT pg_temp.try($$SELECT ''::recsys.step_state$$) AS empty;
SELECT pg_temp.try($$SELECT (SELECT substr(s::text, 1, 40) FROM st)::recsys.step_state$$) AS short;
SELECT pg_temp.try($$SELECT ((SELECT s::text FROM st) || '00')::recsys.step_state$$) AS long;
SELECT pg_temp.try($$SELECT ('0009' || substr((SELECT s::text FROM st), 5))::recsys.step_state$$) AS bad_kind;
SELECT pg_temp.try($$SELECT ('00017fff' || substr((SELECT s::text FROM st), 9))::recsys.step_state$$) AS bad_dim;
SELECT pg_temp.try($$SELECT ('0002' || substr((SELECT s::text FROM st), 5))::recsys.step_state$$) AS ials_size;
SELECT pg_temp.try($$SELECT recsys.step_state_recv(NULL)$$) AS recv_null;
-- combining different steps, or different options, is refused
SELECT pg_temp.try($$SELECT pg_temp.combined(s) FROM (SELECT s FROM st UNION ALL
	SELECT (encode(int2send(1::int2) || int2send(1::int2) || int4send(0) || int8send(2) ||
			  float8send(0.7) || float8send(0.25) || float8send(0) || float8send(3) ||
			  float8send(5) || float8send(3) || float8send(2) || float8send(3.5) || float8send(1.5), 'hex'))::recsys.step_state) x$$) AS other_options;
SELECT pg_temp.try($$SELECT recsys.step_final(recsys.gram(f)::text::recsys.step_state) FROM (VALUES ('[1]'::recsys.embedding)) v(f)$$) AS not_a_state;

-- a count past 2^63 (three states of 2^62 rows)
SELECT pg_temp.try($$SELECT pg_temp.combined(s) FROM (SELECT (encode(int2send(3::int2) || int2send(1::int2) || int4send(0) ||
	int8send(4611686018427387904) || float8send(0) || float8send(0) || float8send(0) || float8send(0) || float8send(1), 'hex'))::recsys.step_state AS s
	FROM generate_series(1, 3)) x$$) AS count_overflow;
-- parameters out of the options' ranges
SELECT pg_temp.try($$SELECT (encode(int2send(1::int2) || int2send(1::int2) || int4send(0) || int8send(2) ||
	float8send('NaN') || float8send(0.25) || float8send(0) || float8send(3) ||
	float8send(5) || float8send(3) || float8send(2) || float8send(3.5) || float8send(1.5), 'hex'))::recsys.step_state$$) AS nan_lambda;
SELECT pg_temp.try($$SELECT (encode(int2send(1::int2) || int2send(1::int2) || int4send(0) || int8send(2) ||
	float8send(0.5) || float8send(-1) || float8send(0) || float8send(3) ||
	float8send(5) || float8send(3) || float8send(2) || float8send(3.5) || float8send(1.5), 'hex'))::recsys.step_state$$) AS negative_lambda_b;

-- 3. Bad input to the aggregates
-- the rows of a group must agree on the options and the Gram matrix (a
-- serial plan would otherwise solve with the first row's)
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, o::jsonb) FROM (VALUES ('{"regularization": 0.1}'), ('{"regularization": 1000}')) v(o)$$) AS options_differ;
SELECT (recsys.als_step('[1]', 0, 1, o::jsonb)).interactions AS same_options_other_bytes
FROM (VALUES ('{"regularization": 0.1, "mean": 0}'), ('{"mean": 0.0, "regularization": 0.10}')) v(o);
SELECT pg_temp.try($$SELECT recsys.ials_step('[1]', 1, g, '{}') FROM (VALUES ('{1}'::float8[]), ('{2}')) v(g)$$) AS grams_differ;
SELECT (recsys.ials_step('[1]', 1, g, '{}')).interactions AS same_gram FROM (VALUES ('{1}'::float8[]), ('{1}')) v(g);
-- ... also when a matrix built per row lands where the last one was, and
-- when the rows of groups interleave (hashed): A's rows pass {1}, then {2}
SELECT pg_temp.try($$SELECT recsys.ials_step('[1]', 1, ARRAY[g]::float8[], '{}') FROM (VALUES (1::float8), (2), (3)) v(g)$$) AS built_per_row;
CREATE TEMP TABLE grams (seg integer, g float8[]);
INSERT INTO grams VALUES (1, '{1}'), (2, '{2}');
CREATE TEMP TABLE segs (u text, seg integer);
INSERT INTO segs VALUES ('A', 1), ('B', 2), ('A', 2);
ANALYZE grams, segs;
SET enable_sort = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT pg_temp.try($$SELECT u, recsys.ials_step('[1]', 1, g.g, '{}') FROM segs JOIN grams g USING (seg) GROUP BY u$$) AS interleaved;
RESET enable_sort;
RESET enable_mergejoin;
RESET enable_nestloop;

SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, '{"lambda": 1}')$$) AS unknown_option;
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, '{"alpha": 1}')$$) AS ials_option_to_als;
SELECT pg_temp.try($$SELECT recsys.ials_step('[1]', 1, '{1}', '{"mean": 1}')$$) AS als_option_to_ials;
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, '[1]')$$) AS not_an_object;
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, '{"regularization": -1}')$$) AS negative;
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, '{"regularization": "a"}')$$) AS not_a_number;
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 1, '{"biases": 1}')$$) AS not_a_bool;
SELECT pg_temp.try($$SELECT recsys.als_step(f, 0, 1, '{}') FROM (VALUES ('[1]'::recsys.embedding), ('[1,2]')) v(f)$$) AS dims;
SELECT pg_temp.try($$SELECT recsys.als_step('[1]', 0, 'infinity', '{}')$$) AS infinite;
SELECT pg_temp.try($$SELECT recsys.als_step('[0]', 0, 1, '{"regularization": 0, "bias_regularization": 0}')$$) AS singular;
SELECT pg_temp.try($$SELECT recsys.ials_step('[1]', -1, '{1}', '{}')$$) AS negative_value;
SELECT pg_temp.try($$SELECT recsys.ials_step('[1]', 1, NULL, '{}')$$) AS no_gram;
SELECT pg_temp.try($$SELECT recsys.ials_step('[1,2]', 1, '{1,2,3}', '{}')$$) AS gram_size;
SELECT pg_temp.try($$SELECT recsys.ials_step('[1]', 1, '{NaN}', '{}')$$) AS gram_nan;
SELECT pg_temp.try($$SELECT recsys.gram(f) FROM (VALUES ('[1]'::recsys.embedding), ('[1,2]')) v(f)$$) AS gram_dims;
SELECT pg_temp.try($$SELECT recsys.als_step_accum(NULL, '[1]', 0, 1, '{}')$$) AS outside_an_aggregate;

