--
-- Training and the model catalog: the function and aggregate forms,
-- versions, retrain, drop, predict, and every kind of bad input.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- A tiny matrix whose answers are known ------------------------------------
CREATE TABLE tiny (u int, i text, r real, t timestamptz);
INSERT INTO tiny VALUES
	(1, 'a', 5, '2024-01-01'), (1, 'b', 3, '2024-01-02'), (2, 'a', 4, '2024-01-03'),
	(2, 'c', 1, '2024-01-04'), (3, 'b', 2, '2024-01-05'), (3, 'c', 5, '2024-01-06'),
	(3, 'a', NULL, '2024-01-07'),			-- NULL rating: skipped
	(NULL, 'a', 3, '2024-01-08'),			-- NULL user: skipped
	(1, 'b', 4, '2024-01-09');				-- duplicate (1,'b'): mean 3.5 / sum 7

-- popularity counts the users of each item (a duplicate row counts once)
SELECT model, version, algorithm, users, items, interactions, skipped, duplicates
FROM recsys.train('tiny_pop', 'tiny', 'u', 'i', NULL, 'popularity');
SELECT item_key, item_idx, bias AS score FROM recsys.item_factors
WHERE model = 'tiny_pop' ORDER BY item_idx;
-- rows with a NULL rating are skipped when a rating column is given
SELECT interactions, skipped, duplicates
FROM recsys.train('tiny_pop2', 'tiny', 'u', 'i', 'r', 'popularity');
SELECT item_key, bias AS score FROM recsys.item_factors
WHERE model = 'tiny_pop2' ORDER BY item_idx;
-- time decay: a half-life of one day halves each day of age, counted back
-- from the newest interaction; a duplicate counts once, at its newest time
SELECT interactions FROM recsys.train('tiny_decay', 'tiny', 'u', 'i', NULL, 'popularity',
	'{"half_life_days": 1, "time_column": "t"}');
SELECT item_key, round(bias::numeric, 4) AS score FROM recsys.item_factors
WHERE model = 'tiny_decay' ORDER BY item_idx;
SELECT round((0.5 ^ 8 + 0.5 ^ 6 + 0.5 ^ 2)::numeric, 4) AS expected_a,
	   round((0.5 ^ 0 + 0.5 ^ 4)::numeric, 4) AS expected_b,
	   round((0.5 ^ 5 + 0.5 ^ 3)::numeric, 4) AS expected_c;

-- explicit: duplicates are averaged; global mean is over the combined values
SELECT algorithm, users, items, interactions, skipped, duplicates
FROM recsys.train('tiny_als', 'SELECT u, i, r FROM tiny', 'u', 'i', 'r', 'als',
	'{"factors": 2, "iterations": 30, "regularization": 0.01}');
SELECT round(global_mean::numeric, 4) AS mean, round((5 + 3.5 + 4 + 1 + 2 + 5) / 6.0, 4) AS expected
FROM recsys.model_versions WHERE model = 'tiny_als';
-- it fits the training data closely
SELECT u, i, r, round(recsys.predict('tiny_als', u, i)::numeric, 1) AS predicted
FROM (SELECT u, i, avg(r) AS r FROM tiny WHERE u IS NOT NULL AND r IS NOT NULL GROUP BY u, i) s
ORDER BY u, i;
-- unknown user or item: the bias baseline for explicit models, NULL for implicit
SELECT recsys.predict('tiny_als', 99, 'a') IS NOT NULL AS explicit_fallback,
	   recsys.predict('tiny_pop', 99, 'zzz') IS NULL AS unknown_item_null,
	   recsys.predict('tiny_pop', 99, 'a') AS popularity_ignores_user,
	   recsys.predict('tiny_als', NULL, 'a') IS NULL AS null_user_null;

-- The catalog --------------------------------------------------------------
SELECT name, algorithm, source, user_column, item_column, rating_column,
	   user_key_type, item_key_type, options, active_version, owner = current_user::regrole AS mine
FROM recsys.models ORDER BY name;
SELECT model, version, algorithm, params->>'factors' AS factors, users, items,
	   interactions, rows_read, rows_skipped, duplicates,
	   cardinality(loss_history) AS iterations, memory_bytes > 0 AS measured,
	   seconds >= 0 AS timed, trained_by = current_user AS by_me
FROM recsys.model_versions ORDER BY model, version;
-- every user and item has one row per version, with dims = factors
SELECT model, count(*) AS users, min(dims(factors)) AS dims, count(bias) AS biases
FROM recsys.user_factors GROUP BY model ORDER BY model;
-- the loss goes down
SELECT loss_history[1] > loss_history[30] AS loss_decreases
FROM recsys.model_versions WHERE model = 'tiny_als';

-- Versions: retrain adds one and switches; keep prunes the oldest ---------
SELECT model, version FROM recsys.retrain('tiny_pop');
SELECT model, version FROM recsys.retrain('tiny_pop');
SELECT model, version FROM recsys.retrain('tiny_pop');
SELECT active_version FROM recsys.models WHERE name = 'tiny_pop';
SELECT array_agg(version ORDER BY version) AS kept FROM recsys.model_versions WHERE model = 'tiny_pop';
SELECT count(DISTINCT version) AS versions_with_rows FROM recsys.item_factors WHERE model = 'tiny_pop';
SELECT version FROM recsys.train('tiny_pop', 'tiny', 'u', 'i', NULL, 'popularity', '{"keep": 1}');
SELECT array_agg(version ORDER BY version) AS kept FROM recsys.model_versions WHERE model = 'tiny_pop';
-- a failed training leaves the active version as it was
SELECT pg_temp.try($$SELECT recsys.train('tiny_pop', 'tiny', 'u', 'no_such_column')$$);
SELECT active_version, algorithm FROM recsys.models WHERE name = 'tiny_pop';
-- retraining inside a rolled-back transaction changes nothing
BEGIN;
SELECT version FROM recsys.retrain('tiny_pop');
ROLLBACK;
SELECT active_version FROM recsys.models WHERE name = 'tiny_pop';

-- The aggregate form: the same model as the function form -----------------
SELECT (r).model, (r).version, (r).users, (r).items, (r).interactions, (r).skipped, (r).duplicates
FROM (SELECT recsys.fit('tiny_fit', u, i, r,
		'{"algorithm": "als", "factors": 2, "iterations": 30, "regularization": 0.01}') AS r
	  FROM tiny) s;
SELECT count(*) AS items, max(abs(a.bias - b.bias)) AS bias_diff,
	   max(a.factors <-> b.factors) AS factor_diff
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'tiny_als' AND b.model = 'tiny_fit';
-- one model per group
SELECT (r).model, (r).users, (r).interactions
FROM (SELECT recsys.fit('tiny_by_item_' || i, u, i, r, '{"algorithm": "popularity"}') AS r
	  FROM tiny GROUP BY i) s ORDER BY 1;
-- a parallel plan (partial aggregates in workers, combined in the leader,
-- the model stored when the query ends) gives the same model as a serial one
CREATE TABLE fit_par AS
SELECT (g % 500) AS u, (g * 7919) % 97 AS i, ((g * 31) % 9) / 2.0 + 0.5 AS r
FROM generate_series(1, 60000) g;
ANALYZE fit_par;
SET max_parallel_workers_per_gather = 0;
SELECT (r).users, (r).items, (r).interactions, (r).duplicates
FROM (SELECT recsys.fit('fit_serial', u, i, r, '{"algorithm": "als", "factors": 4}') AS r FROM fit_par) s;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT recsys.fit('fit_parallel', u, i, r, '{"algorithm": "als", "factors": 4}') FROM fit_par;
SELECT (r).users, (r).items, (r).interactions, (r).duplicates
FROM (SELECT recsys.fit('fit_parallel', u, i, r, '{"algorithm": "als", "factors": 4}') AS r FROM fit_par) s;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
SELECT count(*) AS items, max(abs(a.bias - b.bias)) AS bias_diff,
	   max(a.factors <-> b.factors) AS factor_diff
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'fit_serial' AND b.model = 'fit_parallel';
SELECT name, active_version FROM recsys.models WHERE name LIKE 'fit_%' ORDER BY name;

-- no rows: no model
SELECT recsys.fit('nothing', u, i, r, '{"algorithm": "popularity"}') IS NULL AS no_model
FROM tiny WHERE false;
SELECT pg_temp.try($$SELECT recsys.retrain('tiny_fit')$$);

-- Keys of every supported type come back as they went in --------------------
CREATE TABLE keys_big (u bigint, i varchar, r real);
INSERT INTO keys_big VALUES (9007199254740993, 'it''s', 1), (-5, 'ünï', 2), (9007199254740993, 'x"; DROP TABLE keys_big; --', 3);
SELECT users, items FROM recsys.train('keys', 'keys_big', 'u', 'i', 'r', 'popularity');
SELECT user_key_type, item_key_type FROM recsys.models WHERE name = 'keys';
SELECT user_key FROM recsys.user_factors WHERE model = 'keys' ORDER BY user_idx;
SELECT item_key, bias FROM recsys.item_factors WHERE model = 'keys' ORDER BY item_idx;
SELECT recsys.predict('keys', 9007199254740993::bigint, 'it''s'::varchar) AS score;

-- drop_model
SELECT recsys.drop_model('tiny_by_item_b');
SELECT recsys.drop_model('tiny_by_item_b', if_exists => true);
SELECT count(*) FROM recsys.item_factors WHERE model = 'tiny_by_item_b';

-- Bad input: each a clear error with its SQLSTATE ---------------------------
CREATE TABLE empty_src (u int, i int, r real);
CREATE TABLE wrong_types (u float8, i int, r text);
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT recsys.train('m', 'no_such_table', 'u', 'i')$$),
	($$SELECT recsys.train('m', 'tiny', 'no_such_col', 'i')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'no_such_algorithm')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"no_such_option": 1}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"alpha": 1}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"factors": 0}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"factors": -3}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"factors": 2.5}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"factors": "64"}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"regularization": -0.1}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"iterations": 100000}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'ials', '{"solver": "qr"}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '[1, 2]')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"algorithm": "svd"}')$$),
	($$SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'popularity', '{"half_life_days": 2}')$$),
	($$SELECT recsys.train('m', 'empty_src', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'SELECT * FROM tiny WHERE false', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'wrong_types', 'u', 'i')$$),
	($$SELECT recsys.train('m', 'wrong_types', 'i', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'SELECT u, i, ''NaN''::float8 AS r FROM tiny', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'DELETE FROM tiny RETURNING *', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'WITH d AS (DELETE FROM tiny RETURNING *) SELECT * FROM d', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'SELECT * INTO stolen FROM tiny', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'SELECT 1; SELECT 2', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'pg_class', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'tiny; DROP TABLE tiny', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'tiny', 'u"; DROP TABLE tiny; --', 'i', 'r')$$),
	($$SELECT recsys.train('', 'tiny', 'u', 'i', 'r')$$),
	($$SELECT recsys.train(repeat('x', 201), 'tiny', 'u', 'i', 'r')$$),
	($$SELECT recsys.train(NULL, 'tiny', 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', NULL, 'u', 'i', 'r')$$),
	($$SELECT recsys.train('m', 'tiny', NULL, 'i', 'r')$$),
	($$SELECT recsys.retrain('no_such_model')$$),
	($$SELECT recsys.drop_model('no_such_model')$$),
	($$SELECT recsys.predict('no_such_model', 1, 1)$$),
	($$SELECT recsys.fit(NULL, u, i, r, NULL) FROM tiny$$),
	($$SELECT recsys.fit('m' || u, u, i, r, NULL) FROM tiny$$),
	($$SELECT recsys.fit('m', u::float8, i, r, NULL) FROM tiny$$)
) AS t(q);
-- the hint says what to do
SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"factros": 8}');
SELECT recsys.train('m', 'tiny', 'u', 'i', 'r', 'als', '{"factors": 0}');
-- nothing above created a model or touched the source
SELECT count(*) AS models_named_m FROM recsys.models WHERE name LIKE 'm%';
SELECT count(*) AS tiny_rows FROM tiny;

-- The memory bound: a clear error, nothing stored -------------------------
SET recsys.memory_limit = '1MB';
SELECT pg_temp.try($$SELECT recsys.train('too_big', 'SELECT g AS u, g % 1000 AS i, 1 AS r FROM generate_series(1, 200000) g', 'u', 'i', 'r', 'popularity')$$);
RESET recsys.memory_limit;
SELECT count(*) AS stored FROM recsys.models WHERE name = 'too_big';

-- Privileges --------------------------------------------------------------
CREATE ROLE recsys_reader;
CREATE ROLE recsys_trainer;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO recsys_reader;
-- (the reader uses a model it was granted: see security_models)
SELECT count(recsys.grant_model('tiny_als', 'recsys_reader')) AS granted;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) TO recsys_trainer;
GRANT EXECUTE ON FUNCTION recsys.retrain(text) TO recsys_trainer;
GRANT EXECUTE ON FUNCTION recsys.drop_model(text, boolean) TO recsys_trainer;
CREATE TABLE trainer_data (u int, i int);
INSERT INTO trainer_data VALUES (1, 1), (1, 2), (2, 1);
GRANT SELECT ON trainer_data TO recsys_trainer;
SET ROLE recsys_reader;
SELECT count(*) > 0 AS reader_sees_catalog FROM recsys.models;
SELECT round(recsys.predict('tiny_als', 1, 'a')::numeric, 1) AS reader_predicts;
SELECT pg_temp.try($$SELECT recsys.train('r', 'trainer_data', 'u', 'i')$$) AS reader_trains;
SELECT pg_temp.try($$SELECT recsys.drop_model('tiny_als')$$) AS reader_drops;
RESET ROLE;
SET ROLE recsys_trainer;
SELECT model, users, items FROM recsys.train('trainers_model', 'trainer_data', 'u', 'i', NULL, 'popularity');
-- a table the trainer may not read stays unreadable through training
SELECT pg_temp.try($$SELECT recsys.train('stolen', 'tiny', 'u', 'i')$$) AS train_on_forbidden;
SELECT pg_temp.try($$SELECT recsys.train('stolen', 'SELECT * FROM tiny', 'u', 'i')$$) AS query_forbidden;
-- someone else's model can be neither retrained, overwritten nor dropped
SELECT pg_temp.try($$SELECT recsys.retrain('tiny_pop')$$) AS retrain_others;
SELECT pg_temp.try($$SELECT recsys.train('tiny_pop', 'trainer_data', 'u', 'i')$$) AS overwrite_others;
SELECT pg_temp.try($$SELECT recsys.drop_model('tiny_pop')$$) AS drop_others;
-- nor can the catalog be written directly
SELECT pg_temp.try($$DELETE FROM recsys.models$$) AS direct_write;
SELECT recsys.drop_model('trainers_model') AS drops_own;
RESET ROLE;
SELECT owner, active_version FROM recsys.models WHERE name = 'tiny_pop';
SELECT count(*) FROM recsys.models WHERE name IN ('r', 'stolen', 'trainers_model');
DROP TABLE trainer_data;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM recsys_reader;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) FROM recsys_trainer;
REVOKE ALL ON FUNCTION recsys.retrain(text) FROM recsys_trainer;
REVOKE ALL ON FUNCTION recsys.drop_model(text, boolean) FROM recsys_trainer;
DROP ROLE recsys_reader;
DROP ROLE recsys_trainer;
-- no training function runs with elevated rights
SELECT count(*) AS security_definer FROM pg_proc
WHERE pronamespace = 'recsys'::regnamespace AND prosecdef;
