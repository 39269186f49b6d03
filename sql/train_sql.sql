--
-- train(..., '{"execution": "sql"}') and the plans of its statements
-- (the aggregates themselves: step_agg):
--  * a parallel plan (Partial and Finalize aggregates) and partition-wise
--    plans give the factors of the serial plan;
--  * execution sql gives the in-memory model (solver cholesky, the same
--    seed) for als with and without biases, ials, text keys, a source
--    with duplicates, and a retrain; nothing is left behind;
--  * what it refuses, and whose rights read the source.
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

-- 1. Plans.  The user step over 600 users x 40 items, item factors in a
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

-- 2. execution sql against the in-memory model (exact solver, same seed)
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
-- held out, on planted data: the same metrics (ials, 75/25 per user)
SELECT relation, rows FROM recsys.generate_dataset('sqh', users => 300, items => 120,
	interactions => 9000, seed => 11);
SELECT count(*) AS split_rows FROM recsys.split('sqh_interactions', 'user_id', 'item_id', 'random', 0.25, seed => 3,
	train_table => 'sq_train', test_table => 'sq_test', temporary => true);
SELECT count(*) AS models FROM (VALUES ('sq_ho_mem', '{"factors": 8, "iterations": 5, "solver": "cholesky"}'),
			 ('sq_ho_sql', '{"factors": 8, "iterations": 5, "execution": "sql"}')) v(m, o),
	 LATERAL recsys.train(m, 'sq_train', 'user_id', 'item_id', 'clicks', 'ials', o::jsonb) t;
SELECT a.metric, round(a.value::numeric, 2) AS value, abs(a.value - b.value) < 1e-3 AS same
FROM recsys.evaluate('sq_ho_mem', 'sq_test', 10, metrics => '{ndcg,recall}') a
JOIN recsys.evaluate('sq_ho_sql', 'sq_test', 10, metrics => '{ndcg,recall}') b
  USING (metric) ORDER BY 1;
-- and als's held-out RMSE
SELECT count(*) AS models FROM (VALUES ('sq_hr_mem', '{"factors": 8, "iterations": 5, "regularization": 0.1, "solver": "cholesky"}'),
			 ('sq_hr_sql', '{"factors": 8, "iterations": 5, "regularization": 0.1, "execution": "sql"}')) v(m, o),
	 LATERAL recsys.train(m, 'sq_train', 'user_id', 'item_id', 'rating', 'als', o::jsonb) t;
SELECT a.metric, round(a.value::numeric, 2) AS value, abs(a.value - b.value) < 1e-4 AS same
FROM recsys.evaluate('sq_hr_mem', 'sq_test', 10, rating_col => 'rating', metrics => '{rmse}') a
JOIN recsys.evaluate('sq_hr_sql', 'sq_test', 10, rating_col => 'rating', metrics => '{rmse}') b
  USING (metric) ORDER BY 1;
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
-- text keys under a nondeterministic collation ('U1' and 'u1' equal to
-- it): told apart bytewise in every step, as training tells them apart
CREATE COLLATION sq_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE sq_ci_rows AS SELECT (CASE WHEN u % 2 = 0 THEN 'U' ELSE 'u' END || (u / 2)) COLLATE sq_ci AS uk, i, r
FROM sq_rows WHERE u <= 40;
SELECT count(DISTINCT uk) AS equal_to_the_collation, count(DISTINCT uk::bytea) AS bytewise FROM sq_ci_rows;
SELECT t.users FROM recsys.train('sq_ci_mem', 'sq_ci_rows', 'uk', 'i', 'r', 'als',
	'{"factors": 2, "iterations": 2, "regularization": 0.1, "solver": "cholesky"}') t;
SELECT t.users FROM recsys.train('sq_ci_sql', 'sq_ci_rows', 'uk', 'i', 'r', 'als',
	'{"factors": 2, "iterations": 2, "regularization": 0.1, "execution": "sql"}') t;
SELECT count(*), max(abs(recsys.predict('sq_ci_mem', uk, i) - recsys.predict('sq_ci_sql', uk, i))) < 1e-4 AS same
FROM sq_ci_rows;
-- a partitioned source (sq_parts, by user): the factors by a scalar
-- subquery per row, so that partitions can be aggregated where they are
SET enable_partitionwise_aggregate = on;
SELECT t.users, t.interactions FROM recsys.train('sq_part_sql', 'sq_parts', 'u', 'i', 'r', 'als',
	'{"factors": 3, "iterations": 4, "regularization": 0.1, "execution": "sql", "seed": 5}') t;
RESET enable_partitionwise_aggregate;
SELECT n, max_diff < 1e-4 AS same FROM pg_temp.compare('sq_part_sql', 'sq_als_mem', 'sq_rows');
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

-- 3. What execution sql refuses
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'r', 'als', '{"execution": "sql"}')$$) AS no_penalty;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'r', 'als', '{"execution": "sql", "regularization": 0.1, "solver": "cg"}')$$) AS solver;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "sql", "threads": 2}')$$) AS threads;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "sql", "time_column": "c"}')$$) AS time_column;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'r', 'nmf', '{"execution": "sql"}')$$) AS nmf;
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'sq_rows', 'u', 'i', 'c', 'ials', '{"execution": "cluster"}')$$) AS unknown;
SELECT pg_temp.try($$SELECT (recsys.fit('sq_x', u, i, c, '{"algorithm": "ials", "execution": "sql"}')).model FROM sq_rows$$) AS fit;
-- each step reads the source again: one whose rows change from reading to
-- reading cannot be trained so
SELECT pg_temp.try($$SELECT recsys.train('sq_x', 'SELECT u, i, c FROM sq_rows WHERE random() < 0.9', 'u', 'i', 'c', 'ials', '{"execution": "sql"}')$$) AS volatile_source;
SELECT count(*) AS not_created FROM recsys.models WHERE name = 'sq_x';

-- 4. Whose rights: the caller reads the source; a role without SELECT on it
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
	'sq_ials_sql', 'sq_txt_mem', 'sq_txt_sql', 'sq_ials_par', 'sq_granted', 'sq_ho_mem', 'sq_ho_sql', 'sq_ci_mem', 'sq_ci_sql', 'sq_part_sql', 'sq_hr_mem', 'sq_hr_sql']) m;
REVOKE ALL ON sq_rows FROM sq_reader;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) FROM sq_reader, sq_other;
DROP ROLE sq_reader;
DROP ROLE sq_other;
