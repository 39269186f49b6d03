--
-- recsys.tune(): hyper-parameter search with k-fold cross-validation.
-- Each fold's value is checked against the same split, train and
-- evaluate run by hand; the best trial is the one with the best mean and
-- becomes the model's version; same seed, same trials and same model;
-- random draws stay in their ranges; the time budget, cancel, bad input
-- and who may tune or read what.
--
SET search_path = public, recsys;
SET extra_float_digits = 3;

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS OR query_canceled THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN h <> '' THEN ' (hint: ' || h || ')' ELSE '' END;
END $$;

SELECT relation, rows FROM recsys.generate_dataset('tu', users => 300, items => 120,
	interactions => 9000, seed => 5, sigma => 1.0);

------------------------------------------------------------------------------
-- A grid: trial 0 is the defaults, then every combination, the first
-- option varying slowest.
------------------------------------------------------------------------------
CREATE TEMP TABLE served_before AS
SELECT count(*) AS n FROM pg_backend_memory_contexts WHERE name = 'recsys served model';
CREATE TEMP TABLE grid AS
SELECT * FROM recsys.tune('tu_als', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": [0.05, 0.5], "factors": [4, 8]}', folds => 3,
	base_options => '{"threads": 1, "iterations": 8}');
SELECT trial, options, version FROM grid ORDER BY trial;
-- the metric's mean and sd are those of the folds' values
SELECT bool_and(abs(g.mean - (SELECT avg(x) FROM unnest(t.fold_values) x)) < 1e-12
				AND abs(g.sd - (SELECT stddev_samp(x) FROM unnest(t.fold_values) x)) < 1e-12
				AND cardinality(t.fold_values) = 3) AS mean_sd_of_folds,
	   bool_and(t.metric = 'rmse' AND t.k IS NULL AND t.folds = 3 AND t.seed = 42
				AND t.options = g.options AND t.best = g.best AND t.seconds > 0) AS recorded
FROM grid g JOIN recsys.tuning_trials t ON t.model = 'tu_als' AND t.version = 1 AND t.trial = g.trial;
-- exactly one best: the lowest mean RMSE, no worse than the defaults'
SELECT count(*) FILTER (WHERE best) AS bests,
	   (SELECT mean FROM grid WHERE best) = min(mean) AS best_is_lowest,
	   (SELECT mean FROM grid WHERE best) <= (SELECT mean FROM grid WHERE trial = 0) AS no_worse_than_defaults
FROM grid;
-- the model's version 1 was trained with the best options on all the data
SELECT m.active_version, m.options = (SELECT options FROM grid WHERE best) AS best_options,
	   v.interactions = (SELECT count(*) FROM tu_interactions) AS all_rows
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
WHERE m.name = 'tu_als';
-- no scratch model and no fold table is left behind
SELECT string_agg(name, ', ' ORDER BY name) AS models FROM recsys.models
WHERE name LIKE 'tu\_%' OR name LIKE 'recsys tuning scratch%';
SELECT count(*) AS temp_tables FROM pg_class WHERE relname LIKE 'recsys tune %';
-- nor a fold model in this session's serving cache
SELECT count(*) - (SELECT n FROM served_before) AS served_models_left
FROM pg_backend_memory_contexts WHERE name = 'recsys served model';

-- Each fold's value is what split(kfold), train and evaluate give by hand.
SELECT part, rows > 0 AS has_rows FROM recsys.split('tu_interactions', 'user_id', 'item_id',
	method => 'kfold', folds => 3, fold => 2, seed => 42,
	train_table => 'by_hand_train', test_table => 'by_hand_test', "temporary" => true);
SELECT version FROM recsys.train('by_hand', 'by_hand_train', 'user_id', 'item_id', 'rating', 'als',
	(SELECT options FROM grid WHERE trial = 3));
SELECT e.value = (SELECT t.fold_values[2] FROM recsys.tuning_trials t
				   WHERE t.model = 'tu_als' AND t.trial = 3) AS fold_2_of_trial_3_exact
FROM recsys.evaluate('by_hand', 'by_hand_test', metrics => ARRAY['rmse']) e;
SELECT recsys.drop_model('by_hand');

-- Same seed: the same trials and the same model.
CREATE TEMP TABLE grid2 AS
SELECT * FROM recsys.tune('tu_als2', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": [0.05, 0.5], "factors": [4, 8]}', folds => 3,
	base_options => '{"threads": 1, "iterations": 8}');
SELECT bool_and(a.options = b.options AND a.mean = b.mean AND a.sd = b.sd AND a.best = b.best) AS same_trials
FROM grid a JOIN grid2 b USING (trial);
SELECT count(*) AS factor_rows,
	   bool_and(a.factors::text = b.factors::text AND a.bias = b.bias) AS same_user_factors
FROM recsys.user_factors a JOIN recsys.user_factors b ON b.model = 'tu_als2' AND b.user_key = a.user_key
WHERE a.model = 'tu_als';
-- another seed, other folds
SELECT (SELECT array_agg(mean ORDER BY trial) FROM grid) IS DISTINCT FROM
	   (SELECT array_agg(mean ORDER BY trial)
		FROM recsys.tune('tu_als3', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
			 space => '{"regularization": [0.05, 0.5], "factors": [4, 8]}', folds => 3, seed => 7,
			 base_options => '{"threads": 1, "iterations": 8}')) AS other_seed_other_folds;

-- Tuning an existing model adds a version; its trials go with the version.
SELECT version, count(*) AS trials FROM recsys.tune('tu_als', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => 2, base_options => '{"threads": 1, "iterations": 4}')
GROUP BY version;
SELECT version, count(*) FROM recsys.tuning_trials WHERE model = 'tu_als' GROUP BY version ORDER BY version;
SELECT recsys.drop_model('tu_als3');
SELECT count(*) AS trials_of_dropped FROM recsys.tuning_trials WHERE model = 'tu_als3';

------------------------------------------------------------------------------
-- Random search: draws from lists and ranges, in range, integers where
-- asked, the same for a seed on every machine (md5-based draws).
------------------------------------------------------------------------------
SELECT trial, options FROM recsys.tune('tu_rand', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": {"min": 0.01, "max": 1, "log": true},
			   "factors": {"min": 2, "max": 12, "integer": true},
			   "iterations": [3, 5]}',
	folds => 2, trials => 4, seed => 11, base_options => '{"threads": 1}')
ORDER BY trial;
SELECT options FROM recsys.tune_candidates('{"x": {"min": 5, "max": 5}, "n": {"min": 1, "max": 1000, "integer": true, "log": true}}',
	3, 1) AS c(options_array), unnest(options_array) AS options;

-- An implicit model is tuned on ndcg@k by default.
SELECT trial, options, best IS NOT NULL AS has_best, mean BETWEEN 0 AND 1 AS ndcg_in_range
FROM recsys.tune('tu_ials', 'tu_interactions', 'user_id', 'item_id', NULL, 'ials',
	space => '{"factors": [4, 8]}', folds => 2, k => 5, base_options => '{"threads": 1, "iterations": 3}')
ORDER BY trial;
SELECT DISTINCT metric, k FROM recsys.tuning_trials WHERE model = 'tu_ials';

-- The time budget: after it is spent no further trial starts (trial 0
-- always runs).
SELECT trial, best FROM recsys.tune('tu_budget', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4, 8]}', folds => 2, base_options => '{"threads": 1, "iterations": 2}',
	time_budget => '1 microsecond');

------------------------------------------------------------------------------
-- Bad input: refused before anything is trained.
------------------------------------------------------------------------------
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factor": [4]}')$$) AS unknown_option;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"learning_rate": [0.01]}')$$) AS option_of_another_algorithm;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4, 0]}')$$) AS value_out_of_range;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": []}')$$) AS empty_list;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": {"min": 1, "max": 0.5}}', trials => 3)$$) AS empty_range;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": {"min": 4.2, "max": 4.8, "integer": true}}', trials => 3)$$) AS empty_integer_range;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": {"min": 0, "max": 1, "log": true}}', trials => 3)$$) AS log_range_from_zero;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": {"min": 4, "max": 12}}', trials => 3)$$) AS fractional_draws_of_whole_option;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": {"min": 0.1, "max": 1, "step": 0.1}}', trials => 3)$$) AS unknown_range_key;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"regularization": {"min": 0.1, "max": 1}}')$$) AS range_in_grid;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": 8}')$$) AS not_list_or_range;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{}')$$) AS empty_space;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als')$$) AS no_space;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"algorithm": ["als", "svd"]}')$$) AS tuning_the_algorithm;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4, 8]}', base_options => '{"factors": 16}')$$) AS fixed_and_tuned;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4, 8]}', base_options => '{"factorz": 16}')$$) AS bad_base_option;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"weighting": ["bm25"]}')$$) AS option_of_knn;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'item_knn',
	space => '{"bm25_k1": [1.2]}')$$) AS combination_checked;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => 1)$$) AS one_fold;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => NULL)$$) AS null_folds;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => 101)$$) AS too_many_folds;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', trials => 0)$$) AS zero_trials;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', trials => -3)$$) AS negative_trials;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', metric => 'auc')$$) AS unknown_metric;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', NULL, 'ials',
	space => '{"factors": [4]}', metric => 'rmse')$$) AS rmse_without_ratings;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', NULL, 'ials',
	space => '{"factors": [4]}', k => 0)$$) AS zero_k;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', k => 5)$$) AS k_with_rmse;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', time_budget => '-1 second')$$) AS negative_budget;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [1,2,3,4,5,6,7,8,9,10,11], "iterations": [1,2,3,4,5,6,7,8,9,10], "regularization": [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1]}')$$) AS grid_too_large;
SELECT pg_temp.err($$SELECT recsys.tune('', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}')$$) AS empty_model_name;
-- more folds than users have rows leaves a fold empty
CREATE TABLE tu_few AS SELECT u AS user_id, i AS item_id, (u + i) % 5 + 1 AS rating
	FROM generate_series(1, 4) u, generate_series(1, 2) i;
SELECT pg_temp.err($$SELECT recsys.tune('tu_bad', 'tu_few', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [2]}', folds => 6)$$) AS folds_beyond_users_rows;
SELECT count(*) AS nothing_trained FROM recsys.models WHERE name = 'tu_bad';

-- A cancelled tune changes nothing: the model keeps its active version,
-- no scratch model, trial or fold table remains.  (The run takes several
-- seconds, so it is cancelled while it trains the trials.)
SELECT active_version AS before FROM recsys.models WHERE name = 'tu_als';
SET statement_timeout = '1s';
SELECT pg_temp.err($$SELECT recsys.tune('tu_als', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4, 8, 16, 32]}', folds => 5)$$) AS cancelled;
RESET statement_timeout;
SELECT active_version AS after FROM recsys.models WHERE name = 'tu_als';
SELECT string_agg(name, ', ' ORDER BY name) AS models FROM recsys.models
WHERE name LIKE 'tu\_%' OR name LIKE 'recsys tuning scratch%';
SELECT max(version) AS newest_trials FROM recsys.tuning_trials WHERE model = 'tu_als';
SELECT count(*) AS temp_tables FROM pg_class WHERE relname LIKE 'recsys tune %';

-- A schema on the caller's path before pg_catalog cannot take over what
-- the run calls while that path is in force (around each train()).
CREATE SCHEMA tu_evil;
CREATE TABLE tu_evil.calls (what text);
CREATE FUNCTION tu_evil.set_config(text, text, boolean) RETURNS text LANGUAGE sql
AS $$ INSERT INTO tu_evil.calls VALUES ('set_config'); SELECT pg_catalog.set_config($1, $2, $3) $$;
CREATE FUNCTION tu_evil.arrow(jsonb, text) RETURNS jsonb LANGUAGE sql
AS $$ INSERT INTO tu_evil.calls VALUES ('->'); SELECT $1 OPERATOR(pg_catalog.->) $2 $$;
CREATE OPERATOR tu_evil.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = tu_evil.arrow);
SET search_path = tu_evil, pg_catalog, public, recsys;
SELECT count(*) AS trials FROM recsys.tune('tu_path', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [2]}', folds => 2, base_options => '{"threads": 1, "iterations": 2, "regularization": 0.1}');
SET search_path = public, recsys;
SELECT count(*) AS hijacked_calls FROM tu_evil.calls;
DROP SCHEMA tu_evil CASCADE;

------------------------------------------------------------------------------
-- training_options(): checks as train() checks, trains nothing.
------------------------------------------------------------------------------
SELECT recsys.training_options('als', '{"factors": 12, "threads": 1}') - 'seed' AS als_effective;
SELECT pg_temp.err($$SELECT recsys.training_options('als', '{"factors": "many"}')$$) AS wrong_type;
SELECT pg_temp.err($$SELECT recsys.training_options('lda', NULL)$$) AS unknown_algorithm;

------------------------------------------------------------------------------
-- Who may tune and who reads the trials.
------------------------------------------------------------------------------
CREATE ROLE tu_other;
CREATE ROLE tu_trainer;
GRANT USAGE ON SCHEMA public TO tu_other, tu_trainer;
GRANT SELECT ON tu_interactions TO tu_other, tu_trainer;
GRANT CREATE ON SCHEMA public TO tu_trainer;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) TO tu_trainer;
SET ROLE tu_other;
-- without EXECUTE on train(), tuning trains nothing
SELECT pg_temp.err($$SELECT recsys.tune('tu_other_m', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => 2)$$) AS no_train_privilege;
-- others' trials are not visible, nor writable
SELECT count(*) AS visible_trials FROM recsys.tuning_trials;
SELECT pg_temp.err($$INSERT INTO recsys.tuning_trials VALUES ('tu_als', 1, 99, '{}', 'rmse', NULL, 2, 1, 0, 0, '{0,0}', 0, true)$$) AS insert_refused;
SELECT pg_temp.err($$SELECT recsys.tune_store('tu_als', 1, '[{"trial": 99, "options": {}, "metric": "rmse", "folds": 2, "seed": 1, "mean": 0, "fold_values": [0, 0], "seconds": 0, "best": true}]')$$) AS store_refused;
RESET ROLE;
-- trials are recorded only for a version the run itself trained (in its
-- transaction), as one run: not by hand, not twice
SELECT pg_temp.err($$SELECT recsys.tune_store('tu_als', 1, '[{"trial": 0, "options": {}, "metric": "rmse", "folds": 2, "seed": 1, "mean": 0, "fold_values": [0, 0], "seconds": 0, "best": true}]')$$) AS store_by_hand;
BEGIN;
SELECT version FROM recsys.train('tu_als', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als', '{"factors": 2, "iterations": 1}');
SELECT pg_temp.err($$SELECT recsys.tune_store('tu_als', 3, '[{"trial": 0, "options": {}, "metric": "rmse", "folds": 2, "seed": 1, "mean": -5, "fold_values": [0, 0], "seconds": 0, "best": true}]')$$) AS mean_not_of_folds;
SELECT pg_temp.err($$SELECT recsys.tune_store('tu_als', 3, '[{"trial": 0, "options": {}, "metric": "rmse", "folds": 2, "seed": 1, "mean": 0, "fold_values": [0, 0], "seconds": 0, "best": true}, {"trial": 1, "options": {}, "metric": "rmse", "folds": 2, "seed": 1, "mean": 0, "fold_values": [0, 0], "seconds": 0, "best": true}]')$$) AS two_bests;
SELECT pg_temp.err($$SELECT recsys.tune_store('tu_als', 3, '[{"trial": 0, "options": {}, "metric": "bogus", "folds": 2, "seed": 1, "mean": 0, "fold_values": [0, 0], "seconds": 0, "best": true}]')$$) AS unknown_metric_stored;
ROLLBACK;
SET ROLE tu_trainer;
-- a trainer cannot tune another's model: refused before any training
SELECT pg_temp.err($$SELECT recsys.tune('tu_als', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => 2)$$) AS not_owner;
SELECT version, count(*) AS trials FROM recsys.tune('tu_mine', 'tu_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [4]}', folds => 2, base_options => '{"threads": 1, "iterations": 2}') GROUP BY version;
SELECT DISTINCT model FROM recsys.tuning_trials;
RESET ROLE;
SELECT recsys.grant_model('tu_als', 'tu_other');
SET ROLE tu_other;
SELECT model, count(*) AS visible_after_grant FROM recsys.tuning_trials GROUP BY model;
RESET ROLE;
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'tu\_%' ORDER BY name;
DROP OWNED BY tu_other, tu_trainer;
DROP ROLE tu_other;
DROP ROLE tu_trainer;
