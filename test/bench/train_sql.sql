-- test/bench/train_sql.sql: train()'s "execution": "sql" against the
-- in-memory trainer on one node, same data, same options, same run:
-- generated interactions (:rows of them, users = rows / 80, items =
-- rows / 400), als on ratings and ials on clicks, :factors factors; in
-- memory with the exact solver on 2 threads, in SQL with 0 and with 2
-- parallel workers per statement (the parallel cost settings lowered so
-- that the planner takes them).  Each is timed with 1 and with 3
-- iterations: the difference is the cost of an iteration, the rest the
-- fixed cost (reading the source, storing the version).  Prints those and
-- the largest difference of 2000 predictions against the in-memory model.
-- A measurement, not a test.
--
--   psql -X -d DB -v rows=1000000 -v factors=64 -f test/bench/train_sql.sql
--
-- DB: a database with recsys installed, where tables ts_* and models of
-- those names may be created (they are dropped at the end).
\if :{?rows}
\else
\set rows 1000000
\endif
\if :{?factors}
\else
\set factors 64
\endif
SET client_min_messages = warning;
SELECT relation, rows FROM recsys.generate_dataset('ts', users => (:rows / 80)::int, items => (:rows / 400)::int,
	interactions => :rows, seed => 3);
ANALYZE ts_interactions;
CREATE TEMP TABLE ts_runs (model text, algorithm text, execution text, workers int, iterations int, seconds float8);
CREATE FUNCTION pg_temp.run(m text, alg text, col text, exe text, workers int, iterations int, factors int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; o jsonb;
BEGIN
	o := jsonb_build_object('factors', factors, 'iterations', iterations, 'seed', 1);
	IF alg = 'als' THEN o := o || '{"regularization": 0.1}'; END IF;
	IF exe = 'sql' THEN o := o || '{"execution": "sql"}'; ELSE o := o || '{"solver": "cholesky", "threads": 2}'; END IF;
	PERFORM set_config('max_parallel_workers_per_gather', workers::text, true);
	PERFORM set_config('parallel_setup_cost', '0', true);
	PERFORM set_config('parallel_tuple_cost', '0', true);
	t0 := clock_timestamp();
	PERFORM recsys.train(m, 'ts_interactions', 'user_id', 'item_id', col, alg, o);
	INSERT INTO ts_runs VALUES (m, alg, exe, workers, iterations, extract(epoch FROM clock_timestamp() - t0));
END $$;
SELECT pg_temp.run('ts_' || alg || '_' || exe || w, alg, CASE alg WHEN 'als' THEN 'rating' ELSE 'clicks' END, exe, w, it, :factors)
FROM (VALUES ('als'), ('ials')) a(alg), (VALUES ('memory', 0), ('sql', 0), ('sql', 2)) e(exe, w),
	 (VALUES (1), (3)) i(it)
ORDER BY alg, exe, w, it;
WITH t AS (
	SELECT model, algorithm, execution, workers,
		   (max(seconds) FILTER (WHERE iterations = 3) - max(seconds) FILTER (WHERE iterations = 1)) / 2 AS per_iteration,
		   max(seconds) FILTER (WHERE iterations = 1) AS one
	FROM ts_runs GROUP BY 1, 2, 3, 4)
SELECT r.algorithm, r.execution, r.workers, round(r.per_iteration::numeric, 2) AS s_per_iteration,
	   round((r.one - r.per_iteration)::numeric, 2) AS s_fixed,
	   round((r.per_iteration / m.per_iteration)::numeric, 1) AS iteration_vs_memory,
	   (SELECT max(abs(recsys.predict(r.model, user_id, item_id) - recsys.predict(m.model, user_id, item_id)))
		FROM (SELECT user_id, item_id FROM ts_interactions LIMIT 2000) s) AS max_prediction_diff
FROM t r JOIN t m ON m.algorithm = r.algorithm AND m.execution = 'memory'
ORDER BY r.algorithm, r.execution, r.workers;
SELECT recsys.drop_model(model) FROM (SELECT DISTINCT model FROM ts_runs) m;
DROP TABLE ts_interactions, ts_users, ts_items;
