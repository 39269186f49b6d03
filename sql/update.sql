--
-- Updates: recsys.update() folds the interactions newer than the active
-- version's data_until into a new version with the items fixed.  Each
-- user with new interactions is solved as fold-in solves a user from all
-- their interactions; every other row is the old version's.
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

-- planted preferences with times: the oldest 80% are the past, the next
-- 10% arrive later, the newest 10% are held out
SELECT relation, rows FROM recsys.generate_dataset('up', users => 200, items => 120,
	interactions => 6000, seed => 5);
CREATE TABLE up_cut AS
	SELECT percentile_disc(0.8) WITHIN GROUP (ORDER BY ts) AS past,
		   percentile_disc(0.9) WITHIN GROUP (ORDER BY ts) AS later
	FROM up_interactions;
CREATE TABLE up_src AS SELECT i.* FROM up_interactions i, up_cut c WHERE i.ts <= c.past;
CREATE TABLE up_test AS
	SELECT i.user_id, i.item_id, i.rating FROM up_interactions i, up_cut c WHERE i.ts > c.later;
CREATE INDEX ON up_src (ts);

SELECT model, version, users, items, interactions FROM recsys.train('up_ials', 'up_src', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "ts", "factors": 8, "iterations": 10, "seed": 1}');
-- data_until is the newest time read; updated_from is NULL for a trained version
SELECT v.data_until = c.past AS data_until_is_newest, v.updated_from
FROM recsys.model_versions v, up_cut c WHERE v.model = 'up_ials';
-- the users' values are kept, for update(), where only the catalog's
-- owner reads them
CREATE TABLE up_v1 AS
	SELECT f.user_key, f.user_idx, f.bias, f.factors, f.seen, v."values" AS vals
	FROM recsys.user_factors f JOIN recsys.user_values v USING (model, version, user_key)
	WHERE f.model = 'up_ials' AND f.version = 1;
SELECT count(*) AS users, bool_and(cardinality(vals) = cardinality(seen)) AS aligned FROM up_v1;
SELECT count(*) AS ratings_in_user_factors FROM recsys.user_factors
WHERE model = 'up_ials' AND ratings IS NOT NULL;

-- the later rows arrive; a new user 9001; user 1 clicks again on an item
-- they had (an implicit value adds to the stored one); an item the model
-- does not have
INSERT INTO up_src SELECT i.* FROM up_interactions i, up_cut c WHERE i.ts > c.past AND i.ts <= c.later;
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 9001, item, 4, 2, c.later FROM up_cut c, unnest(ARRAY[3, 5, 8]) item;
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 1, (SELECT min(item_id) FROM up_src WHERE user_id = 1), 3, 3, c.later FROM up_cut c;
INSERT INTO up_src (user_id, item_id, rating, clicks, ts) SELECT 2, 99999, 4, 1, c.later FROM up_cut c;

SELECT model, version, algorithm, users, items, interactions, skipped, final_loss
FROM recsys.update('up_ials');
SELECT version, users, interactions, updated_from, data_until = (SELECT later FROM up_cut) AS data_until_moved
FROM recsys.model_versions WHERE model = 'up_ials' ORDER BY version;
SELECT active_version FROM recsys.models WHERE name = 'up_ials';
SELECT version, previous_version FROM recsys.model_activations WHERE model = 'up_ials' ORDER BY activated_at, version;

-- users without new interactions: their rows unchanged
CREATE TABLE up_changed AS
	SELECT DISTINCT s.user_id FROM up_src s, up_cut c WHERE s.ts > c.past AND s.item_id <> 99999;
SELECT count(*) AS unchanged_users,
	   bool_and(f.factors = o.factors AND f.seen = o.seen AND v."values" = o.vals
				AND f.user_idx = o.user_idx) AS same_rows
FROM recsys.user_factors f JOIN up_v1 o ON o.user_key = f.user_key
JOIN recsys.user_values v ON v.model = f.model AND v.version = f.version AND v.user_key = f.user_key
WHERE f.model = 'up_ials' AND f.version = 2
  AND f.user_key::int NOT IN (SELECT user_id FROM up_changed);
-- every user with new interactions: their seen items are all their items
SELECT count(*) AS changed_users,
	   bool_and(f.seen = (SELECT array_agg(DISTINCT i.item_idx ORDER BY i.item_idx)
						  FROM up_src s JOIN recsys.item_factors i
						  ON i.model = 'up_ials' AND i.version = 2 AND i.item_key = s.item_id::text
						  WHERE s.user_id = c.user_id)) AS seen_is_all
FROM up_changed c JOIN recsys.user_factors f
  ON f.model = 'up_ials' AND f.version = 2 AND f.user_key = c.user_id::text;
-- the new user has the next index; user 2's unknown item is not there
SELECT f.user_idx, f.interactions, cardinality(v."values") AS values
FROM recsys.user_factors f JOIN recsys.user_values v USING (model, version, user_key)
WHERE f.model = 'up_ials' AND f.version = 2 AND f.user_key = '9001';
-- user 1's repeated click: the stored value and the new one add up
SELECT v."values"[array_position(n.seen, o.seen[1])] - o.vals[1] AS added
FROM recsys.user_factors n JOIN up_v1 o ON o.user_key = n.user_key
JOIN recsys.user_values v ON v.model = n.model AND v.version = n.version AND v.user_key = n.user_key
WHERE n.model = 'up_ials' AND n.version = 2 AND n.user_key = '1';
-- items: their factors unchanged, their counts grown by the new pairs
SELECT bool_and(n.factors = o.factors) AS item_factors_same,
	   sum(n.interactions - o.interactions) AS new_pairs,
	   bool_and(n.interactions = (SELECT count(DISTINCT s.user_id) FROM up_src s
								  WHERE s.item_id::text = n.item_key)) AS counts_right
FROM recsys.item_factors n JOIN recsys.item_factors o
  ON o.model = n.model AND o.version = 1 AND o.item_key = n.item_key
WHERE n.model = 'up_ials' AND n.version = 2;

-- what update stored is what fold-in gives: a changed user's list from
-- version 2 against version 1 folding in all their rows (summed clicks)
CREATE TABLE up_rows AS
	SELECT user_id, item_id, sum(clicks)::float8 AS clicks, avg(rating)::float8 AS rating
	FROM up_src WHERE item_id <> 99999 GROUP BY user_id, item_id;
SELECT count(*) AS users, max(d) < 1e-4 AS same_scores
FROM (SELECT c.user_id, max(abs(a.score - b.score)) AS d
	  FROM up_changed c,
		   LATERAL recsys.recommend('up_ials', c.user_id, 10, exclude_seen => false) a
		   JOIN LATERAL recsys.recommend_for_items('up_ials',
				(SELECT array_agg(item_id ORDER BY item_id) FROM up_rows r WHERE r.user_id = c.user_id), 10,
				ratings => (SELECT array_agg(clicks ORDER BY item_id) FROM up_rows r WHERE r.user_id = c.user_id),
				exclude_seen => false, version => 1) b ON b.item = a.item
	  GROUP BY c.user_id) d;
-- the new user: version 2 serves the stored vector, version 1 folds the
-- user in from the source (all of their rows)
SELECT count(*) AS items, max(abs(a.score - b.score)) < 1e-5 AS same_scores
FROM recsys.recommend('up_ials', 9001, 10) a JOIN recsys.recommend('up_ials', 9001, 10, version => 1) b USING (item);

-- held out (the newest 10%): the updated model is no worse than the stale one
SELECT a.value >= b.value AS recall_no_worse, a.value > b.value AS recall_higher
FROM recsys.evaluate('up_ials', 'up_test', 10, version => 2) a
JOIN recsys.evaluate('up_ials', 'up_test', 10, version => 1) b USING (metric)
WHERE metric = 'recall';

-- nothing newer: the model stays at its version
SELECT version, users, interactions FROM recsys.update('up_ials');
SELECT max(version) AS versions FROM recsys.model_versions WHERE model = 'up_ials';

-- since: only rows after it; before data_until is refused (they would count twice)
SELECT pg_temp.try($$SELECT recsys.update('up_ials', since => '2000-01-01')$$);
SELECT pg_temp.try($$SELECT recsys.update('up_ials', since => 'infinity')$$);
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 9002, 3, 4, 1, c.later + interval '1 day' FROM up_cut c
UNION ALL SELECT 9003, 4, 4, 1, c.later + interval '3 days' FROM up_cut c;
SELECT version, users, interactions FROM recsys.update('up_ials', since => (SELECT later + interval '2 days' FROM up_cut));
SELECT array_agg(user_key ORDER BY user_key) AS added FROM recsys.user_factors f
WHERE model = 'up_ials' AND version = 3 AND NOT EXISTS
	(SELECT 1 FROM recsys.user_factors o WHERE o.model = 'up_ials' AND o.version = 2 AND o.user_key = f.user_key);

-- als on ratings: the ridge step of fold-in, with the items' biases
TRUNCATE up_src;
INSERT INTO up_src SELECT i.* FROM up_interactions i, up_cut c WHERE i.ts <= c.past;
SELECT model, version FROM recsys.train('up_als', 'up_src', 'user_id', 'item_id', 'rating', 'als',
	'{"time_column": "ts", "factors": 6, "iterations": 8, "seed": 2}');
SELECT model, version FROM recsys.train('up_svd', 'up_src', 'user_id', 'item_id', 'rating', 'svd',
	'{"time_column": "ts", "factors": 6, "iterations": 8, "seed": 2}');
SELECT model, version FROM recsys.train('up_bpr', 'up_src', 'user_id', 'item_id', NULL, 'bpr',
	'{"time_column": "ts", "factors": 6, "iterations": 8, "seed": 2}');
SELECT model, version FROM recsys.train('up_pop', 'up_src', 'user_id', 'item_id', NULL, 'popularity',
	'{"time_column": "ts"}');
SELECT model, version FROM recsys.train('up_knn', 'up_src', 'user_id', 'item_id', 'rating', 'item_knn',
	'{"time_column": "ts", "feedback": "explicit", "neighbors": 20}');
SELECT model, version FROM recsys.train('up_iknn', 'up_src', 'user_id', 'item_id', NULL, 'item_knn',
	'{"time_column": "ts", "neighbors": 20}');
INSERT INTO up_src SELECT i.* FROM up_interactions i, up_cut c WHERE i.ts > c.past AND i.ts <= c.later;
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 9001, item, 4, 2, c.later FROM up_cut c, unnest(ARRAY[3, 5, 8]) item;
SELECT m, u.version, u.users, u.interactions
FROM unnest(ARRAY['up_als', 'up_svd', 'up_bpr', 'up_pop', 'up_knn', 'up_iknn']) m,
	 LATERAL recsys.update(m) u;
DROP TABLE up_changed, up_rows;
CREATE TABLE up_changed AS SELECT DISTINCT s.user_id FROM up_src s, up_cut c WHERE s.ts > c.past;
CREATE TABLE up_rows AS
	SELECT user_id, item_id, avg(rating)::float8 AS rating FROM up_src GROUP BY user_id, item_id;
-- each changed user's predicted ratings: as fold-in of all their ratings
SELECT m, count(*) AS users, max(d) < 1e-3 AS same_scores
FROM unnest(ARRAY['up_als', 'up_svd', 'up_bpr']) m,
	 LATERAL (SELECT c.user_id, max(abs(a.score - b.score)) AS d
			  FROM up_changed c,
				   LATERAL recsys.recommend(m, c.user_id, 10, exclude_seen => false) a
				   JOIN LATERAL recsys.recommend_for_items(m,
						(SELECT array_agg(item_id ORDER BY item_id) FROM up_rows r WHERE r.user_id = c.user_id), 10,
						ratings => CASE WHEN m <> 'up_bpr' THEN
							(SELECT array_agg(rating ORDER BY item_id) FROM up_rows r WHERE r.user_id = c.user_id) END,
						exclude_seen => false, version => 1) b ON b.item = a.item
			  GROUP BY c.user_id) d
GROUP BY m ORDER BY m;
-- the new user as version 1 folds them in from the source
SELECT m, count(*) AS items, max(abs(a.score - b.score)) < 1e-4 AS same_scores
FROM unnest(ARRAY['up_als', 'up_svd', 'up_bpr', 'up_knn', 'up_iknn']) m,
	 LATERAL recsys.recommend(m, 9001, 5) a
	 JOIN LATERAL recsys.recommend(m, 9001, 5, version => 1) b ON b.item = a.item
GROUP BY m ORDER BY m;
-- popularity: the scores are the counts a retrain gives
SELECT model, version FROM recsys.train('up_pop_full', 'up_src', 'user_id', 'item_id', NULL, 'popularity');
SELECT count(*) AS items, bool_and(a.bias = b.bias) AS same_scores
FROM recsys.item_factors a JOIN recsys.item_factors b
  ON b.model = 'up_pop_full' AND b.version = 1 AND b.item_key = a.item_key
WHERE a.model = 'up_pop' AND a.version = 2;
-- explicit item_knn: a user it had keeps their baseline bias, with all
-- their ratings (a new user's is 0, as fold-in's)
SELECT count(*) AS users, bool_and(n.bias = o.bias) AS same_bias,
	   bool_and(n.ratings = (SELECT array_agg(r.rating::real ORDER BY i.item_idx) FROM up_rows r
							 JOIN recsys.item_factors i ON i.model = 'up_knn' AND i.version = 2
							   AND i.item_key = r.item_id::text
							 WHERE r.user_id::text = n.user_key)) AS all_ratings
FROM recsys.user_factors n JOIN recsys.user_factors o
  ON o.model = n.model AND o.version = 1 AND o.user_key = n.user_key
WHERE n.model = 'up_knn' AND n.version = 2
  AND n.user_key::int IN (SELECT user_id FROM up_changed);
SELECT bias FROM recsys.user_factors WHERE model = 'up_knn' AND version = 2 AND user_key = '9001';
-- item_knn: the neighbour lists are the old version's
SELECT count(*) AS lists, bool_and(a.neighbor_keys = b.neighbor_keys AND a.similarity = b.similarity) AS same
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b
  ON b.model = a.model AND b.version = 1 AND b.item_key = a.item_key
WHERE a.model = 'up_knn' AND a.version = 2;

-- what update refuses, and why
SELECT model, version FROM recsys.train('up_notime', 'up_src', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 4, "iterations": 2}');
SELECT model, version FROM recsys.train('up_decay', 'up_src', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 4, "iterations": 2, "time_column": "ts", "half_life": "30 days"}');
SELECT model, version FROM recsys.train('up_uknn', 'up_src', 'user_id', 'item_id', NULL, 'user_knn',
	'{"time_column": "ts"}');
SELECT recsys.fit('up_fit', user_id, item_id, clicks, '{"factors": 4, "iterations": 2}') IS NOT NULL AS fitted FROM up_src;
SELECT pg_temp.try($$SELECT recsys.update('up_notime')$$);
SELECT pg_temp.try($$SELECT recsys.update('up_decay')$$);
SELECT pg_temp.try($$SELECT recsys.update('up_uknn')$$);
SELECT pg_temp.try($$SELECT recsys.update('up_fit')$$);
SELECT pg_temp.try($$SELECT recsys.update('up_nope')$$);
SELECT pg_temp.try($$SELECT recsys.update(NULL)$$);
-- a version without data_until (as one trained before 0.3.0)
UPDATE recsys.model_versions SET data_until = NULL, params = params - 'data_until_epoch', definition_md5 = NULL
WHERE model = 'up_bpr' AND version = 2;
SELECT pg_temp.try($$SELECT recsys.update('up_bpr')$$);

-- a version active again after train() replaced the definition is not
-- extended with rows of the new one
SELECT model, version FROM recsys.train('up_def', 'up_src', 'user_id', 'item_id', 'rating', 'als',
	'{"time_column": "ts", "factors": 2, "iterations": 2}');
SELECT model, version FROM recsys.train('up_def', 'up_src', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "ts", "factors": 4, "iterations": 2}');
SELECT recsys.activate('up_def', 1);
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 1, 3, 4, 1, max(ts) + interval '1 hour' FROM up_src;
SELECT pg_temp.try($$SELECT recsys.update('up_def')$$);
SELECT recsys.activate('up_def', 2);
SELECT version, users, interactions FROM recsys.update('up_def');
-- keys whose type changed since training
CREATE VIEW up_kv AS SELECT user_id, item_id, clicks, ts FROM up_src;
SELECT model, version FROM recsys.train('up_kt', 'up_kv', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "ts", "factors": 2, "iterations": 2}');
DROP VIEW up_kv;
CREATE VIEW up_kv AS SELECT user_id::text AS user_id, item_id, clicks, ts FROM up_src;
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 2, 3, 4, 1, max(ts) + interval '1 hour' FROM up_src;
SELECT pg_temp.try($$SELECT recsys.update('up_kt')$$);
SELECT version, users FROM recsys.update('up_def');
-- only items the version does not have: no new version
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 2, 99998, 4, 1, max(ts) + interval '1 hour' FROM up_src;
SELECT version, users, skipped FROM recsys.update('up_def');
-- times as seconds: float8 with more digits than microseconds are compared
-- as the loader read them, so the newest row is not read again
CREATE TABLE up_fsec AS SELECT user_id, item_id, clicks,
	extract(epoch FROM ts)::float8 + 0.0000004 AS t FROM up_interactions i, up_cut c WHERE i.ts <= c.past;
SELECT model, version FROM recsys.train('up_f', 'up_fsec', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "t", "factors": 2, "iterations": 2}');
SELECT version, users FROM recsys.update('up_f');
INSERT INTO up_fsec SELECT 5, 7, 1, max(t) + 0.5 FROM up_fsec;
SELECT version, users, interactions FROM recsys.update('up_f');
SELECT version, users FROM recsys.update('up_f');
-- microseconds as seconds: out of the range of a time, refused
SELECT pg_temp.try($$SELECT recsys.train('up_us', 'SELECT user_id, item_id, clicks, (t * 1000000)::bigint AS t FROM up_fsec',
	'user_id', 'item_id', 'clicks', 'ials', '{"time_column": "t", "factors": 2, "iterations": 2}')$$);
-- scheduling refuses what update() refuses, before pg_cron is asked
SELECT pg_temp.try($$SELECT recsys.schedule_update('up_decay', '0 2 * * *')$$);
SELECT pg_temp.try($$SELECT recsys.schedule_update('up_uknn', '0 2 * * *')$$);
SELECT pg_temp.try($$SELECT recsys.schedule_update('up_notime', '0 2 * * *')$$);
SELECT pg_temp.try($$SELECT recsys.schedule_model_job('up_ials', '0 2 * * *', NULL, 'drop')$$);

-- cancelled while it reads: the active version and the catalog unchanged
CREATE FUNCTION up_slow(t timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF t > (SELECT later FROM up_cut) THEN
		PERFORM pg_sleep(0.2);
	END IF;
	RETURN true;
END $$;
CREATE VIEW up_slow_src AS SELECT * FROM up_src WHERE up_slow(ts);
SELECT model, version FROM recsys.train('up_slow_m', 'up_slow_src', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "ts", "factors": 4, "iterations": 2}');
INSERT INTO up_src (user_id, item_id, rating, clicks, ts)
SELECT 9100 + g, 3, 4, 1, c.later + g * interval '1 hour' FROM up_cut c, generate_series(1, 5) g;
SET statement_timeout = '300ms';
\set VERBOSITY terse
SELECT recsys.update('up_slow_m');
\set VERBOSITY default
RESET statement_timeout;
SELECT m.active_version, (SELECT count(*) FROM recsys.model_versions v WHERE v.model = m.name) AS versions,
	   (SELECT count(*) FROM recsys.user_factors f WHERE f.model = m.name AND f.version = 2) AS v2_rows
FROM recsys.models m WHERE m.name = 'up_slow_m';

-- who may update: the owner only (granted EXECUTE, like train()); the
-- source is read with the owner's rights, not the caller's
CREATE ROLE up_owner;
CREATE ROLE up_other;
GRANT USAGE ON SCHEMA recsys TO up_owner, up_other;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.update(text, timestamptz) TO up_owner;
CREATE TABLE up_private AS SELECT * FROM up_interactions i, up_cut c WHERE i.ts <= c.past;
ALTER TABLE up_private DROP COLUMN past, DROP COLUMN later;
GRANT SELECT ON up_private TO up_owner;
SET ROLE up_owner;
SELECT model, version FROM recsys.train('up_owned', 'up_private', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "ts", "factors": 4, "iterations": 2}');
SELECT recsys.grant_model('up_owned', 'up_other');
RESET ROLE;
-- the owner schedules only what they may run (the job runs as them)
REVOKE EXECUTE ON FUNCTION recsys.update(text, timestamptz) FROM up_owner;
SET ROLE up_owner;
SELECT pg_temp.try($$SELECT recsys.schedule_model_job('up_owned', '0 2 * * *', NULL, 'update')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION recsys.update(text, timestamptz) TO up_owner;
INSERT INTO up_private SELECT i.* FROM up_interactions i, up_cut c WHERE i.ts > c.past AND i.ts <= c.later;
SET ROLE up_other;
SELECT pg_temp.try($$SELECT recsys.update('up_owned')$$);
-- a grantee serves the model but reads no values of the source
SELECT count(*) AS rows, count(ratings) AS with_ratings FROM recsys.user_factors WHERE model = 'up_owned';
SELECT pg_temp.try($$SELECT count(*) FROM recsys.user_values$$);
RESET ROLE;
-- even granted SELECT on the table (as ON ALL TABLES IN SCHEMA recsys would)
GRANT SELECT ON recsys.user_values TO up_other;
SET ROLE up_other;
SELECT count(*) AS values_seen FROM recsys.user_values;
RESET ROLE;
REVOKE SELECT ON recsys.user_values FROM up_other;
SELECT count(*) > 0 AS values_exist FROM recsys.user_values WHERE model = 'up_owned';
SET ROLE up_other;
-- nor schedules what it may not run
SELECT pg_temp.try($$SELECT recsys.schedule_model_job('up_owned', '0 2 * * *', NULL, 'update')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION recsys.update(text, timestamptz) TO up_other;
SET ROLE up_other;
SELECT pg_temp.try($$SELECT recsys.update('up_owned')$$);
RESET ROLE;
-- a superuser's update still reads as the owner: without the owner's
-- SELECT it fails, though the superuser could read the table
REVOKE SELECT ON up_private FROM up_owner;
SELECT pg_temp.try($$SELECT recsys.update('up_owned')$$);
GRANT SELECT ON up_private TO up_owner;
SELECT version, users FROM recsys.update('up_owned');
SELECT trained_by FROM recsys.model_versions WHERE model = 'up_owned' AND version = 2;

SELECT recsys.drop_model(m) FROM unnest(ARRAY['up_ials', 'up_als', 'up_svd', 'up_bpr', 'up_pop', 'up_pop_full',
	'up_knn', 'up_iknn', 'up_notime', 'up_decay', 'up_uknn', 'up_fit', 'up_slow_m', 'up_owned', 'up_def',
	'up_kt', 'up_f']) m;
-- dropping took the values with the models
SELECT count(*) AS values_left FROM recsys.user_values WHERE model LIKE 'up\_%';
DROP VIEW up_slow_src;
DROP FUNCTION up_slow(timestamptz);
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.update(text, timestamptz) FROM up_owner, up_other;
REVOKE ALL ON SCHEMA recsys FROM up_owner, up_other;
DROP TABLE up_private;
DROP ROLE up_owner;
DROP ROLE up_other;
