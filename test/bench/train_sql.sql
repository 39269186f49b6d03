-- test/bench/train_sql.sql: train()'s "execution": "sql" against the
-- in-memory trainer on one node, same data, same options, same run:
-- generated interactions (users x items x rows below), als and ials with
-- 32 factors and 3 iterations; in memory with the exact solver on 2
-- threads, in SQL with 0 and with 2 parallel workers per statement (the
-- cost settings lowered so that the planner takes them).  Prints seconds
-- per iteration and the largest difference of predictions against the
-- in-memory model.  A measurement, not a test.
--
--   psql -X -d DB -v rows=1000000 -f test/bench/train_sql.sql
--
-- DB: a database with recsys installed, where tables ts_* and models of
-- those names may be created (they are dropped at the end).
\if :{?rows}
\else
\set rows 1000000
\endif
SET client_min_messages = warning;
SELECT relation, rows FROM recsys.generate_dataset('ts', users => (:rows / 80)::int, items => (:rows / 400)::int,
	interactions => :rows, seed => 3);
ANALYZE ts_interactions;
CREATE TEMP TABLE ts_runs (model text, algorithm text, execution text, workers int, seconds float8);
CREATE FUNCTION pg_temp.run(m text, alg text, col text, exe text, workers int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; o jsonb;
BEGIN
	o := jsonb_build_object('factors', 32, 'iterations', 3, 'seed', 1);
	IF alg = 'als' THEN o := o || '{"regularization": 0.1}'; END IF;
	IF exe = 'sql' THEN o := o || '{"execution": "sql"}'; ELSE o := o || '{"solver": "cholesky", "threads": 2}'; END IF;
	PERFORM set_config('max_parallel_workers_per_gather', workers::text, true);
	PERFORM set_config('parallel_setup_cost', '0', true);
	PERFORM set_config('parallel_tuple_cost', '0', true);
	t0 := clock_timestamp();
	PERFORM recsys.train(m, 'ts_interactions', 'user_id', 'item_id', col, alg, o);
	INSERT INTO ts_runs VALUES (m, alg, exe, workers, extract(epoch FROM clock_timestamp() - t0));
END $$;
SELECT pg_temp.run('ts_als_mem', 'als', 'rating', 'memory', 0);
SELECT pg_temp.run('ts_als_sql0', 'als', 'rating', 'sql', 0);
SELECT pg_temp.run('ts_als_sql2', 'als', 'rating', 'sql', 2);
SELECT pg_temp.run('ts_ials_mem', 'ials', 'clicks', 'memory', 0);
SELECT pg_temp.run('ts_ials_sql0', 'ials', 'clicks', 'sql', 0);
SELECT pg_temp.run('ts_ials_sql2', 'ials', 'clicks', 'sql', 2);
SELECT r.algorithm, r.execution, r.workers, round((r.seconds / 3)::numeric, 2) AS s_per_iteration,
	   round((r.seconds / m.seconds)::numeric, 1) AS vs_memory,
	   (SELECT max(abs(recsys.predict(r.model, user_id, item_id) - recsys.predict(m.model, user_id, item_id)))
		FROM (SELECT user_id, item_id FROM ts_interactions LIMIT 2000) s) AS max_prediction_diff
FROM ts_runs r JOIN ts_runs m ON m.algorithm = r.algorithm AND m.execution = 'memory'
ORDER BY r.algorithm, r.execution, r.workers;
SELECT recsys.drop_model(model) FROM ts_runs;
DROP TABLE ts_interactions, ts_users, ts_items;
