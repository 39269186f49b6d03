--
-- Training steps as aggregates (recsys.als_step, ials_step, gram) and
-- train(..., '{"execution": "sql"}'), which trains through them:
--  * the aggregates against hand-solved systems, and their state's text
--    and binary forms (written by hand from the documented layout);
--  * a parallel plan (Partial and Finalize aggregates) and partition-wise
--    plans give the factors of the serial plan;
--  * execution sql gives the in-memory model (solver cholesky, the same
--    seed) for als with and without biases, ials, text keys, a source
--    with duplicates, and a retrain; nothing is left behind;
--  * bad input: errors with SQLSTATEs, never a crash.
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
-- combine, through an aggregate of states: the sums add up
CREATE AGGREGATE pg_temp.combined(recsys.step_state) (SFUNC = recsys.step_combine, STYPE = recsys.step_state);
SELECT (recsys.step_final(pg_temp.combined(s))).interactions,
	   round(((recsys.step_final(pg_temp.combined(s))).factors::real[])[1]::numeric, 6) AS p
FROM (SELECT s FROM st UNION ALL SELECT s FROM st) x;
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

-- 3. Bad input to the aggregates
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

-- 4. Plans.  The user step over 600 users x 40 items, item factors in a
-- table; the serial plan's factors are the reference.
CREATE TABLE sq_rows AS
SELECT u, i, (1 + (u * 7 + i * 3) % 5)::real AS r, 1 + (u + i) % 3 AS c
FROM generate_series(1, 600) u, generate_series(1, 40) i WHERE (u + 2 * i) % 3 <> 0;
CREATE TABLE sq_items AS
SELECT i AS key, ('[' || sin(i) || ',' || cos(i * 2) || ',' || sin(i * 3) || ']')::recsys.embedding AS factors,
	   (0.1 * sin(i * 5))::real AS bias
FROM generate_series(1, 40) i;
ANALYZE sq_rows, sq_items;
CREATE VIEW sq_step AS
SELECT r.u, recsys.als_step(f.factors, f.bias, r.r, '{"regularization": 0.1, "mean": 3}') AS s
FROM sq_rows r JOIN sq_items f ON f.key = r.i GROUP BY r.u;
CREATE VIEW sq_istep AS
SELECT r.u, recsys.ials_step(f.factors, r.c, (SELECT recsys.gram(factors) FROM sq_items),
							 '{"regularization": 2, "alpha": 3}') AS s
FROM sq_rows r JOIN sq_items f ON f.key = r.i GROUP BY r.u;
CREATE TABLE sq_serial AS SELECT 'als' AS step, * FROM sq_step UNION ALL SELECT 'ials', * FROM sq_istep;
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		-- the kinds of node, not how this server chose to sort or hash
		IF l ~ 'Aggregate|Gather|Append' THEN
			RETURN NEXT regexp_replace(regexp_replace(regexp_replace(l, '^\s*(->\s*)?', ''),
				'(Hash|Group|Mixed)Aggregate', 'Aggregate'), '(Gather|Append) Merge|Merge (Append)', '\1\2');
		END IF;
	END LOOP;
END $$;
CREATE FUNCTION pg_temp.diff(q text) RETURNS TABLE (step text, entities bigint, max_diff float8) LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE
	'SELECT a.step, count(*), max(greatest(abs(coalesce((a.s).bias - (b.s).bias, 0)),
		(SELECT max(abs(x - y)) FROM unnest((a.s).factors::real[], (b.s).factors::real[]) t(x, y))))::float8
	 FROM sq_serial a JOIN (' || q || ') b ON b.u = a.u AND b.step = a.step
	 WHERE (a.s).interactions = (b.s).interactions GROUP BY a.step ORDER BY 1';
END $$;
-- parallel: partial states from the workers, combined by Finalize
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
SELECT * FROM pg_temp.plan('SELECT * FROM sq_step');
SELECT step, entities, max_diff < 1e-6 AS same FROM pg_temp.diff('SELECT ''als'' AS step, * FROM sq_step UNION ALL SELECT ''ials'', * FROM sq_istep');
RESET enable_hashagg;
SELECT step, entities, max_diff < 1e-6 AS same FROM pg_temp.diff('SELECT ''als'' AS step, * FROM sq_step UNION ALL SELECT ''ials'', * FROM sq_istep');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- partition-wise: PostgreSQL 15 joins a partitioned table with a plain one
-- above the partitions, so the factors come by a scalar subquery per row
-- (an index on the key); grouped by the partition key, each partition is
-- aggregated whole; grouped by the item, partially per partition, combined
CREATE TABLE sq_parts (u integer, i integer, r real, c integer) PARTITION BY HASH (u);
CREATE TABLE sq_parts_0 PARTITION OF sq_parts FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE sq_parts_1 PARTITION OF sq_parts FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE sq_parts_2 PARTITION OF sq_parts FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO sq_parts SELECT * FROM sq_rows;
CREATE UNIQUE INDEX ON sq_items (key);
CREATE TABLE sq_users AS SELECT u AS key, ('[' || cos(u) || ',' || sin(u * 2) || ',' || cos(u * 3) || ']')::recsys.embedding AS factors,
	(0.1 * cos(u * 5))::real AS bias FROM generate_series(1, 600) u;
CREATE UNIQUE INDEX ON sq_users (key);
ANALYZE sq_parts, sq_items, sq_users;
CREATE VIEW sq_pw_users AS
SELECT 'als' AS step, r.u, recsys.als_step((SELECT factors FROM sq_items f WHERE f.key = r.i),
	(SELECT bias FROM sq_items f WHERE f.key = r.i), r.r, '{"regularization": 0.1, "mean": 3}') AS s
FROM sq_parts r GROUP BY r.u;
CREATE VIEW sq_pw_items AS
SELECT r.i, recsys.als_step((SELECT factors FROM sq_users f WHERE f.key = r.u),
	(SELECT bias FROM sq_users f WHERE f.key = r.u), r.r, '{"regularization": 0.1, "mean": 3}') AS s
FROM sq_parts r GROUP BY r.i;
SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
SELECT * FROM pg_temp.plan('SELECT * FROM sq_pw_users');
SELECT step, entities, max_diff < 1e-6 AS same FROM pg_temp.diff('SELECT * FROM sq_pw_users');
SELECT * FROM pg_temp.plan('SELECT * FROM sq_pw_items');
SELECT count(*) AS items, max((SELECT max(abs(x - y)) FROM unnest((a.s).factors::real[], (b.s).factors::real[]) t(x, y))) < 1e-6 AS same
FROM sq_pw_items a
JOIN (SELECT r.i, recsys.als_step(f.factors, f.bias, r.r, '{"regularization": 0.1, "mean": 3}') AS s
	  FROM sq_rows r JOIN sq_users f ON f.key = r.u GROUP BY r.i) b USING (i)
WHERE (a.s).interactions = (b.s).interactions;
RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;

-- 5. execution sql against the in-memory model (exact solver, same seed)
CREATE FUNCTION pg_temp.compare(a text, b text, src text) RETURNS TABLE (n bigint, max_diff float8) LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT count(*), max(abs(recsys.predict(%L, u, i) - recsys.predict(%L, u, i)))::float8 FROM %s',
		a, b, src);
END $$;
SELECT m, t.users, t.items, t.interactions, round(t.final_loss::numeric, 6) AS loss
FROM (VALUES ('sq_als_mem', 'als', '{"factors": 3, "iterations": 4, "regularization": 0.1, "solver": "cholesky", "seed": 5}'),
			 ('sq_als_sql', 'als', '{"factors": 3, "iterations": 4, "regularization": 0.1, "execution": "sql", "seed": 5}'),
			 ('sq_nb_mem', 'als', '{"factors": 3, "iterations": 4, "regularization": 0.1, "biases": false, "solver": "cholesky"}'),
			 ('sq_nb_sql', 'als', '{"factors": 3, "iterations": 4, "regularization": 0.1, "biases": false, "execution": "sql"}')) v(m, alg, o),
	 LATERAL recsys.train(m, 'sq_rows', 'u', 'i', 'r', alg, o::jsonb) t ORDER BY m;
SELECT m, t.users, t.items, round(t.final_loss::numeric, 4) AS loss
FROM (VALUES ('sq_ials_mem', '{"factors": 3, "iterations": 4, "solver": "cholesky"}'),
			 ('sq_ials_sql', '{"factors": 3, "iterations": 4, "execution": "sql"}')) v(m, o),
	 LATERAL recsys.train(m, 'sq_rows', 'u', 'i', 'c', 'ials', o::jsonb) t ORDER BY m;
SELECT 'als' AS model, n, max_diff < 1e-4 AS same FROM pg_temp.compare('sq_als_mem', 'sq_als_sql', 'sq_rows')
UNION ALL SELECT 'als without biases', n, max_diff < 1e-4 FROM pg_temp.compare('sq_nb_mem', 'sq_nb_sql', 'sq_rows')
UNION ALL SELECT 'ials', n, max_diff < 1e-4 FROM pg_temp.compare('sq_ials_mem', 'sq_ials_sql', 'sq_rows');
-- the same version record but for how it was trained
SELECT a.params - 'execution' - 'threads' = b.params - 'threads' AS same_options, a.params ->> 'execution' AS execution,
	   NOT a.biases AS no_biases
FROM (SELECT v.params, (SELECT bool_or(bias IS NOT NULL) FROM recsys.user_factors f WHERE f.model = v.model) AS biases
	  FROM recsys.model_versions v WHERE model = 'sq_nb_sql') a,
	 recsys.model_versions b WHERE b.model = 'sq_nb_mem';
-- text keys and duplicate rows (the mean of a pair's ratings, as in memory),
-- the source given as a query
SELECT t.users, t.interactions, t.duplicates FROM recsys.train('sq_txt_mem',
	$$SELECT 'u' || u AS uk, 'i' || i AS ik, r FROM sq_rows UNION ALL SELECT 'u' || u, 'i' || i, r + 1 FROM sq_rows WHERE u % 5 = 0$$,
	'uk', 'ik', 'r', 'als', '{"factors": 2, "iterations": 3, "regularization": 0.1, "solver": "cholesky"}') t;
SELECT t.users, t.interactions, t.duplicates FROM recsys.train('sq_txt_sql',
	$$SELECT 'u' || u AS uk, 'i' || i AS ik, r FROM sq_rows UNION ALL SELECT 'u' || u, 'i' || i, r + 1 FROM sq_rows WHERE u % 5 = 0$$,
	'uk', 'ik', 'r', 'als', '{"factors": 2, "iterations": 3, "regularization": 0.1, "execution": "sql"}') t;
SELECT count(*), max(abs(recsys.predict('sq_txt_mem', 'u' || u, 'i' || i) - recsys.predict('sq_txt_sql', 'u' || u, 'i' || i))) < 1e-4 AS same
FROM sq_rows;
-- a retrain reads the stored definition, as the owner: the same model again
SELECT version FROM recsys.retrain('sq_als_sql');
SELECT n, max_diff < 1e-4 AS same FROM pg_temp.compare('sq_als_sql', 'sq_als_mem', 'sq_rows');
-- with parallel workers for the steps: the same model
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT version FROM recsys.train('sq_ials_par', 'sq_rows', 'u', 'i', 'c', 'ials', '{"factors": 3, "iterations": 4, "execution": "sql"}');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT n, max_diff < 1e-4 AS same FROM pg_temp.compare('sq_ials_par', 'sq_ials_mem', 'sq_rows');
-- the factor tables went with the training
SELECT count(*) AS left_behind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'recsys' AND c.relname LIKE 'train_sql%';

-- 6. What execution sql refuses
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'r', 'als', '{"execution": "sql"}')$$) AS no_penalty;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'r', 'als', '{"execution": "sql", "regularization": 0.1, "solver": "cg"}')$$) AS solver;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "sql", "threads": 2}')$$) AS threads;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "sql", "time_column": "c"}')$$) AS time_column;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'r', 'nmf', '{"execution": "sql"}')$$) AS nmf;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "cluster"}')$$) AS unknown;
SELECT pg_temp.try($$SELECT (recsys.fit('sq_x', u, i, c, '{"algorithm": "ials", "execution": "sql"}')).model FROM sq_rows$$) AS fit;
SELECT count(*) AS not_created FROM recsys.models WHERE name = 'sq_x';

-- 7. Whose rights: the caller reads the source; a role without SELECT on it
-- cannot train from it, and the factor tables are not readable by others
CREATE ROLE sq_reader;
CREATE ROLE sq_other;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) TO sq_reader, sq_other;
GRANT SELECT ON sq_rows TO sq_reader;
SET ROLE sq_other;
SELECT pg_temp.try($$SELECT recsys.train('sq_denied', 'public.sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "sql", "factors": 2, "iterations": 1}')$$) AS denied;
RESET ROLE;
SET ROLE sq_reader;
SELECT version, users FROM recsys.train('sq_granted', 'public.sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "sql", "factors": 2, "iterations": 1}');
RESET ROLE;
SELECT count(*) AS left_behind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'recsys' AND c.relname LIKE 'train_sql%';
SELECT recsys.drop_model(m) FROM unnest(ARRAY['sq_als_mem', 'sq_als_sql', 'sq_nb_mem', 'sq_nb_sql', 'sq_ials_mem',
	'sq_ials_sql', 'sq_txt_mem', 'sq_txt_sql', 'sq_ials_par', 'sq_granted']) m;
REVOKE ALL ON sq_rows FROM sq_reader;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) FROM sq_reader, sq_other;
DROP ROLE sq_reader;
DROP ROLE sq_other;
