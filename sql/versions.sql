--
-- Versions: recsys.activate() rolls a model back to a kept version and
-- forward again, recorded in recsys.model_activations; version => serves
-- and evaluates a given kept version; pins keep versions from pruning.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN hint <> '' THEN ' (' || hint || ')' ELSE '' END;
END $$;

SELECT relation, rows FROM recsys.generate_dataset('vs', users => 60, items => 40,
	interactions => 900, seed => 3);

-- version 1, and what it serves while it is the only version
SELECT model, version FROM recsys.train('vs_m', 'vs_interactions', 'user_id', 'item_id', 'rating', 'als',
	'{"factors": 4, "iterations": 8, "seed": 1}');
CREATE TABLE v1_lists AS
	SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5) r;
CREATE TABLE v1_all AS SELECT * FROM recsys.recommend_all('vs_m', 5);
CREATE TABLE v1_pred AS
	SELECT u, i, recsys.predict('vs_m', u, i) AS p FROM generate_series(1, 10) u, generate_series(1, 10) i;
CREATE TABLE v1_sim AS SELECT i, s.item, s.similarity FROM generate_series(1, 10) i, recsys.similar_items('vs_m', i, 3) s;
CREATE TABLE v1_simu AS SELECT u, s."user", s.similarity FROM generate_series(1, 10) u, recsys.similar_users('vs_m', u, 3) s;
CREATE TABLE v1_items AS SELECT * FROM recsys.recommend_for_items('vs_m', ARRAY[1, 2, 3], 5);
CREATE TABLE v1_eval AS SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5);
CREATE TABLE v1_evalu AS SELECT * FROM recsys.evaluate_users('vs_m', 'vs_interactions', 5);
CREATE TABLE v1_expo AS SELECT * FROM recsys.audit_exposure('vs_m', 'SELECT item_id, item_id % 3 FROM vs_items', 5);

-- version 2, trained with other options, becomes active
SELECT model, version FROM recsys.train('vs_m', 'vs_interactions', 'user_id', 'item_id', 'rating', 'als',
	'{"factors": 8, "iterations": 5, "regularization": 1.0, "seed": 2}');
CREATE TABLE v2_lists AS
	SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5) r;
CREATE TABLE v2_pred AS
	SELECT u, i, recsys.predict('vs_m', u, i) AS p FROM generate_series(1, 10) u, generate_series(1, 10) i;
CREATE TABLE v2_eval AS SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5);
CREATE TABLE v2_expo AS SELECT * FROM recsys.audit_exposure('vs_m', 'SELECT item_id, item_id % 3 FROM vs_items', 5);
-- the two versions serve different lists (else the test below proves nothing)
SELECT count(*) > 10 AS lists_differ
FROM (SELECT * FROM v1_lists EXCEPT SELECT * FROM v2_lists) d;

-- version => 1 serves exactly what version 1 served, while 2 is active
SELECT count(*) AS rows, bool_and(a.item = b.item AND a.score = b.score) AS same
FROM recsys.recommend('vs_m', 7, 5, version => 1) a JOIN v1_lists b ON b.u = 7 AND b.rank = a.rank;
SELECT (SELECT count(*) FROM v1_lists) AS v1_rows,
	   (SELECT count(*) FROM (SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u,
			recsys.recommend('vs_m', u, 5, version => 1) r
		EXCEPT SELECT * FROM v1_lists) d) AS differ;

-- rollback: activate(m, 1) returns the version that was active
SELECT recsys.activate('vs_m', 1) AS previous;
SELECT active_version FROM recsys.models WHERE name = 'vs_m';
-- recommend returns exactly version 1's lists again (items, ranks, scores)
SELECT count(*) AS differ FROM (
	(SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5) r
	 EXCEPT SELECT * FROM v1_lists)
	UNION ALL
	(SELECT * FROM v1_lists
	 EXCEPT SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5) r)) d;
-- and version => 2 still returns version 2's
SELECT count(*) AS differ FROM (
	SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5, version => 2) r
	EXCEPT SELECT * FROM v2_lists) d;
-- alternating versions in one statement: each row from its own version
SELECT bool_and(a.item = b.item AND a.score = b.score) AS same, count(*) AS rows
FROM generate_series(1, 20) g
CROSS JOIN LATERAL recsys.recommend('vs_m', g, 5, version => CASE WHEN g % 2 = 0 THEN 2 ELSE 1 END) a
JOIN (SELECT * FROM v1_lists WHERE u % 2 = 1 UNION ALL SELECT * FROM v2_lists WHERE u % 2 = 0) b
  ON b.u = g AND b.rank = a.rank;
-- recommend_all, recommend_for_items, predict, similar_* under the active
-- version (1) and by number
SELECT count(*) AS differ FROM (SELECT * FROM recsys.recommend_all('vs_m', 5) EXCEPT SELECT * FROM v1_all) d;
SELECT count(*) AS differ FROM (SELECT * FROM recsys.recommend_all('vs_m', 5, version => 1) EXCEPT SELECT * FROM v1_all) d;
SELECT count(*) AS differ FROM (
	SELECT a."user"::int AS u, a.item::int, a.score, a.rank FROM recsys.recommend_all('vs_m', 5, version => 2,
		users => ARRAY(SELECT g::text FROM generate_series(1, 20) g)) a
	EXCEPT SELECT * FROM v2_lists) d;
SELECT count(*) AS differ FROM (SELECT * FROM recsys.recommend_for_items('vs_m', ARRAY[1, 2, 3], 5) EXCEPT SELECT * FROM v1_items) d;
SELECT count(*) AS differ FROM (SELECT * FROM recsys.recommend_for_items('vs_m', ARRAY[1, 2, 3], 5, version => 1) EXCEPT SELECT * FROM v1_items) d;
SELECT count(*) FILTER (WHERE recsys.predict('vs_m', u, i) = p) AS same_v1,
	   count(*) FILTER (WHERE recsys.predict('vs_m', u, i, version => 1) = p) AS same_v1_by_number
FROM v1_pred;
SELECT count(*) FILTER (WHERE recsys.predict('vs_m', u, i, version => 2) = p) AS same_v2,
	   count(*) FILTER (WHERE recsys.predict('vs_m', u, i) = p) AS same_as_active
FROM v2_pred;
-- explain: version 2's terms add up to version 2's prediction, not to 1's
SELECT abs(sum(contribution) - recsys.predict('vs_m', 3, 5, version => 2)) < 1e-4 AS sums_to_v2,
	   abs(sum(contribution) - recsys.predict('vs_m', 3, 5)) > 1e-3 AS not_to_v1
FROM recsys.explain('vs_m', 3, 5, NULL, version => 2);
SELECT abs(sum(contribution) - recsys.predict('vs_m', 3, 5)) < 1e-4 AS sums_to_active
FROM recsys.explain('vs_m', 3, 5, NULL);
SELECT count(*) AS differ FROM (
	SELECT i, s.item, s.similarity FROM generate_series(1, 10) i, recsys.similar_items('vs_m', i, 3) s
	EXCEPT SELECT * FROM v1_sim) d;
SELECT count(*) AS differ FROM (
	SELECT u, s."user", s.similarity FROM generate_series(1, 10) u, recsys.similar_users('vs_m', u, 3, version => 1) s
	EXCEPT SELECT * FROM v1_simu) d;
SELECT count(*) AS differ_from_v1 FROM (
	SELECT i, s.item, s.similarity FROM generate_series(1, 10) i, recsys.similar_items('vs_m', i, 3, version => 2) s
	EXCEPT SELECT * FROM v1_sim) d \gset
SELECT :differ_from_v1 > 0 AS v2_similar_items_differ;

-- evaluation by number measures the version asked for
SELECT count(*) AS differ FROM (SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5) EXCEPT SELECT * FROM v1_eval) d;
SELECT count(*) AS differ FROM (SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5, version => 2) EXCEPT SELECT * FROM v2_eval) d;
SELECT count(*) AS differ FROM (SELECT * FROM recsys.evaluate_users('vs_m', 'vs_interactions', 5, version => 1) EXCEPT SELECT * FROM v1_evalu) d;
SELECT (SELECT value FROM recsys.evaluate('vs_m', 'vs_interactions', 5, metrics => '{rmse}', version => 2))
	 = (SELECT value FROM v2_eval WHERE metric = 'rmse') AS rmse_v2_same,
	   (SELECT value FROM recsys.evaluate('vs_m', 'vs_interactions', 5, metrics => '{rmse}', version => 2))
	 <> (SELECT value FROM v1_eval WHERE metric = 'rmse') AS rmse_differs_from_v1;
-- predictions: the bulk predict of the version given
SELECT count(*) AS rows, count(*) FILTER (WHERE p.prediction = v.p) AS same
FROM recsys.predictions('vs_m', 'SELECT * FROM vs_interactions WHERE user_id <= 10 AND item_id <= 10', version => 2) p
JOIN v2_pred v ON v.u = p.user_key::int AND v.i = p.item_key::int;
-- audits by number: the ranking audit's means are evaluate_users' of that version
CREATE TABLE vs_groups AS SELECT user_id, user_id % 2 AS grp FROM vs_users;
SELECT a.metric, a.group_key, abs(a.mean - e.mean) < 1e-12 AS same
FROM recsys.audit_ranking('vs_m', 'vs_interactions', 'vs_groups', 5, version => 2) a
JOIN (SELECT 'ndcg' AS metric, (e.user_key::int % 2)::text AS grp, avg(e.ndcg) AS mean
	  FROM recsys.evaluate_users('vs_m', 'vs_interactions', 5, version => 2) e GROUP BY 2
	  UNION ALL
	  SELECT 'recall', (e.user_key::int % 2)::text, avg(e.recall)
	  FROM recsys.evaluate_users('vs_m', 'vs_interactions', 5, version => 2) e GROUP BY 2) e
  ON e.metric = a.metric AND e.grp = a.group_key
ORDER BY 1, 2;
SELECT a.group_key, abs(a.rmse - sqrt(avg((p.prediction - p.rating) ^ 2))) < 1e-9 AS same_rmse
FROM recsys.audit_error('vs_m', 'vs_interactions', 'vs_groups', version => 2) a
JOIN recsys.predictions('vs_m', 'vs_interactions', version => 2) p ON (p.user_key::int % 2)::text = a.group_key
GROUP BY a.group_key, a.rmse ORDER BY 1;
SELECT count(*) AS differ FROM (
	SELECT * FROM recsys.audit_exposure('vs_m', 'SELECT item_id, item_id % 3 FROM vs_items', 5, version => 2)
	EXCEPT SELECT * FROM v2_expo) d;
SELECT count(*) AS differ FROM (
	SELECT * FROM recsys.audit_exposure('vs_m', 'SELECT item_id, item_id % 3 FROM vs_items', 5)
	EXCEPT SELECT * FROM v1_expo) d;
SELECT count(*) > 0 AS exposures_differ FROM (SELECT * FROM v1_expo EXCEPT SELECT * FROM v2_expo) d;

-- roll forward again
SELECT recsys.activate('vs_m', 2) AS previous;
SELECT count(*) AS differ FROM (
	SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5) r
	EXCEPT SELECT * FROM v2_lists) d;
-- activating the active version changes nothing (NOTICE)
SELECT recsys.activate('vs_m', 2) AS previous;

-- the history: trainings and activations, by whom
SELECT version, previous_version, activated_by = current_user::regrole AS by_me
FROM recsys.model_activations WHERE model = 'vs_m' ORDER BY activated_at;

-- errors
SELECT pg_temp.try($$SELECT recsys.activate('vs_nope', 1)$$);
SELECT pg_temp.try($$SELECT recsys.activate('vs_m', 9)$$);
SELECT pg_temp.try($$SELECT recsys.activate('vs_m', NULL)$$);
SELECT pg_temp.try($$SELECT recsys.activate(NULL, 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('vs_m', 1, 5, version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('vs_m', 1, 5, version => 0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_all('vs_m', 5, version => -1)$$);
SELECT pg_temp.try($$SELECT recsys.predict('vs_m', 1, 1, version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('vs_m', 1, 3, version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.explain('vs_m', 1, 1, version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.predictions('vs_m', 'vs_interactions', version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5, version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.audit_ranking('vs_m', 'vs_interactions', 'vs_groups', 5, version => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('vs_m', NULL, 5, version => 9)$$);
SELECT pg_temp.try($$SELECT recsys.pin_version('vs_m', 9)$$);
-- the active version still serves after the failed calls
SELECT active_version FROM recsys.models WHERE name = 'vs_m';

-- roles: another role may not activate or pin (42501), even when it may
-- use the model; one that may not use it cannot read any version of it,
-- and learns nothing of which versions exist
CREATE ROLE vs_user;
CREATE ROLE vs_other;
GRANT SELECT ON vs_interactions, v1_lists TO vs_user, vs_other;
SELECT recsys.grant_model('vs_m', 'vs_user');
-- (activate and the pins are granted like training; not to PUBLIC)
SET ROLE vs_other;
SELECT pg_temp.try($$SELECT recsys.activate('vs_m', 1)$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.activate(text, integer), recsys.pin_version(text, integer),
	recsys.unpin_version(text, integer), recsys.drop_model(text, boolean) TO vs_user;
SET ROLE vs_user;
SELECT pg_temp.try($$SELECT recsys.activate('vs_m', 1)$$);
SELECT pg_temp.try($$SELECT recsys.pin_version('vs_m', 1)$$);
SELECT pg_temp.try($$SELECT recsys.unpin_version('vs_m', 1)$$);
SELECT count(*) AS differ FROM (
	SELECT u, r.item, r.score, r.rank FROM generate_series(1, 20) u, recsys.recommend('vs_m', u, 5, version => 1) r
	EXCEPT SELECT * FROM v1_lists) d;
SELECT version, previous_version FROM recsys.model_activations WHERE model = 'vs_m' ORDER BY activated_at;
-- a role activates and pins the versions of its own model
SELECT version FROM recsys.train('vs_own', 'vs_interactions', 'user_id', 'item_id', 'clicks', 'popularity');
SELECT version FROM recsys.train('vs_own', 'SELECT * FROM vs_interactions WHERE user_id <= 30', 'user_id', 'item_id', 'clicks', 'popularity');
SELECT recsys.activate('vs_own', 1) AS previous, recsys.pin_version('vs_own', 2) AS pinned;
SELECT version, previous_version, activated_by::text FROM recsys.model_activations WHERE model = 'vs_own' ORDER BY activated_at;
SELECT version, reason, pinned_by::text FROM recsys.version_pins WHERE model = 'vs_own';
SELECT users FROM recsys.model_versions v JOIN recsys.models m ON m.name = v.model AND m.active_version = v.version
WHERE m.name = 'vs_own';
SELECT recsys.drop_model('vs_own');
RESET ROLE;
SET ROLE vs_other;
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('vs_m', 1, 5, version => 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('vs_m', 1, 5, version => 99)$$);
SELECT pg_temp.try($$SELECT recsys.predict('vs_m', 1, 1, version => 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5, version => 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('vs_m', 'vs_interactions', 5, version => 99)$$);
SELECT count(*) AS activations_seen FROM recsys.model_activations WHERE model = 'vs_m';
SELECT pg_temp.try($$SELECT recsys.activate('vs_m', 1)$$);
RESET ROLE;
SELECT active_version FROM recsys.models WHERE name = 'vs_m';

-- pins and pruning: keep 2 keeps the newest two versions, and besides them
-- every pinned one, whatever the reason of the pin
SELECT version FROM recsys.train('vs_k', 'vs_interactions', 'user_id', 'item_id', 'clicks', 'popularity', '{"keep": 2}');
SELECT version FROM recsys.retrain('vs_k');
SELECT recsys.pin_version('vs_k', 1) AS pinned, recsys.pin_version('vs_k', 1) AS again;
SELECT version FROM recsys.retrain('vs_k');
SELECT version FROM recsys.retrain('vs_k');
SELECT array_agg(version ORDER BY version) AS kept FROM recsys.model_versions WHERE model = 'vs_k';
-- an experiment's pin (another part of recsys writes them) keeps a version too
INSERT INTO recsys.version_pins (model, version, reason, pinned_by)
VALUES ('vs_k', 3, 'experiment vs_ab', current_user::regrole);
SELECT version FROM recsys.retrain('vs_k');
SELECT version FROM recsys.retrain('vs_k');
SELECT array_agg(version ORDER BY version) AS kept FROM recsys.model_versions WHERE model = 'vs_k';
SELECT version, reason FROM recsys.version_pins WHERE model = 'vs_k' ORDER BY version, reason;
-- unpinning takes back the owner's pin only; the next training prunes it
SELECT recsys.unpin_version('vs_k', 1) AS unpinned, recsys.unpin_version('vs_k', 1) AS again,
	   recsys.unpin_version('vs_k', 3) AS experiment_pin;
SELECT version FROM recsys.retrain('vs_k');
SELECT array_agg(version ORDER BY version) AS kept FROM recsys.model_versions WHERE model = 'vs_k';
-- after a rollback, a retrain makes its new version active; the version
-- that was active (3) stays because of its pin, version 6 goes
SELECT recsys.activate('vs_k', 3) AS previous;
SELECT version FROM recsys.retrain('vs_k');
SELECT array_agg(version ORDER BY version) AS kept, max(m.active_version) AS active
FROM recsys.model_versions v JOIN recsys.models m ON m.name = v.model WHERE v.model = 'vs_k';
-- a pinned version serves by number like any kept one
SELECT count(*) AS rows FROM recsys.recommend('vs_k', 1, 5, version => 3);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('vs_k', 1, 5, version => 1)$$);
-- nobody else writes pins
SET ROLE vs_user;
SELECT pg_temp.try($$INSERT INTO recsys.version_pins VALUES ('vs_k', 4, 'user', 'vs_user', now())$$);
SELECT pg_temp.try($$DELETE FROM recsys.version_pins$$);
SELECT pg_temp.try($$INSERT INTO recsys.model_activations VALUES ('vs_k', 4, 3, 'vs_user', now())$$);
SELECT count(*) AS pins_seen FROM recsys.version_pins;
RESET ROLE;

-- drop_model takes the model's pins and history with it
SELECT recsys.drop_model('vs_k');
SELECT (SELECT count(*) FROM recsys.version_pins WHERE model = 'vs_k') AS pins,
	   (SELECT count(*) FROM recsys.model_activations WHERE model = 'vs_k') AS activations;

SELECT recsys.drop_model('vs_m');
DROP OWNED BY vs_user, vs_other;
DROP ROLE vs_user;
DROP ROLE vs_other;
