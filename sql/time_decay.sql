--
-- Time decay: every algorithm takes "time_column" and "half_life" (and
-- "as_of"), or refuses them with an error; on data whose users' tastes
-- drift, decay raises the held-out recall on the latest interactions.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;
SET timezone = 'UTC';
SET datestyle = 'ISO';

-- the SQLSTATE, message and hint of an error, or 'ok'
CREATE FUNCTION pg_temp.why(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN h <> '' THEN ' | ' || h ELSE '' END;
END $$;

-- A tiny source with times, one day apart ----------------------------------
CREATE TABLE td_tiny (u int, i text, r real, t timestamptz);
INSERT INTO td_tiny VALUES
	(1, 'a', 5, '2024-01-01'), (1, 'b', 3, '2024-01-02'), (2, 'a', 4, '2024-01-03'),
	(2, 'c', 1, '2024-01-04'), (3, 'b', 2, '2024-01-05'), (3, 'c', 5, '2024-01-06'),
	(3, 'a', 4, NULL),						-- no time: skipped with decay
	(1, 'b', 4, '2024-01-09');				-- duplicate (1,'b'): its newest time counts

-- Every algorithm accepts time decay ---------------------------------------
SELECT a AS algorithm, pg_temp.why(format(
	$$SELECT recsys.train('td_%s', 'td_tiny', 'u', 'i', 'r', %L, '{"time_column": "t", "half_life": "2 days", "factors": 2, "iterations": 3}'::jsonb - %L::text[])$$,
	a, a, CASE WHEN a IN ('popularity', 'item_knn', 'user_knn') THEN '{factors,iterations}' ELSE '{}' END)) AS result
FROM unnest(ARRAY['als', 'svd', 'ials', 'bpr', 'popularity', 'item_knn', 'user_knn']) a;
-- ("factors" and "iterations" were dropped for the models without them: an
-- option of another algorithm is still refused)
SELECT pg_temp.why($$SELECT recsys.train('td_pk', 'td_tiny', 'u', 'i', NULL, 'popularity', '{"time_column": "t", "half_life": "2 days", "factors": 2}')$$);
SELECT algorithm, params ? 'half_life' AS recorded FROM recsys.model_versions
WHERE model LIKE 'td\_%' ORDER BY model;

-- the row without a time is skipped (and counted), like a NULL rating
SELECT interactions, rows_skipped, duplicates FROM recsys.model_versions WHERE model = 'td_als';
-- the version records what was used: as_of defaults to the newest time
SELECT params->>'time_column' AS time_column, params->>'half_life' AS half_life,
	   params->'half_life_seconds' AS seconds, params->>'as_of' AS as_of,
	   params->'as_of_epoch' = to_jsonb(extract(epoch FROM timestamptz '2024-01-09')) AS epoch_ok
FROM recsys.model_versions WHERE model = 'td_ials';

-- popularity with "half_life" sums the weights 0.5^(age / half_life): the
-- same scores as its "half_life_days" (age from 2024-01-09)
SELECT version FROM recsys.train('td_popd', 'SELECT * FROM td_tiny WHERE t IS NOT NULL', 'u', 'i', NULL, 'popularity',
	'{"time_column": "t", "half_life_days": 2}');
SELECT i.item_key, round(i.bias::numeric, 4) AS score, round(d.bias::numeric, 4) AS by_days
FROM recsys.item_factors i
JOIN recsys.item_factors d ON d.item_key = i.item_key AND d.model = 'td_popd'
WHERE i.model = 'td_popularity'
ORDER BY 1;
-- a: 0.5^(8/2) + 0.5^(6/2); b: 0.5^0 + 0.5^(4/2); c: 0.5^(5/2) + 0.5^(3/2)
SELECT round((0.5 ^ 4 + 0.5 ^ 3)::numeric, 4) AS a, round((1 + 0.5 ^ 2)::numeric, 4) AS b,
	   round((0.5 ^ 2.5 + 0.5 ^ 1.5)::numeric, 4) AS c;

-- as_of: a time given as timestamptz text or as seconds; later rows (here
-- 2024-01-09 against an as_of of 2024-01-05) weigh 1, like rows at as_of
SELECT version FROM recsys.train('td_asof', 'td_tiny', 'u', 'i', NULL, 'popularity',
	'{"time_column": "t", "half_life": "1 day", "as_of": "2024-01-05 00:00+00"}');
SELECT item_key, round(bias::numeric, 4) AS score FROM recsys.item_factors
WHERE model = 'td_asof' ORDER BY 1;
-- a: 0.5^4 + 0.5^2; b: 1 (the newer duplicate) + 1; c: 0.5^1 + 1
SELECT round((0.5 ^ 4 + 0.5 ^ 2)::numeric, 4) AS a, 2 AS b, 1.5 AS c;
SELECT version FROM recsys.train('td_asof', 'td_tiny', 'u', 'i', NULL, 'popularity',
	format('{"time_column": "t", "half_life": "1 day", "as_of": %s}',
		   extract(epoch FROM timestamptz '2024-01-05'))::jsonb);
SELECT params->>'as_of' AS as_of FROM recsys.model_versions WHERE model = 'td_asof' AND version = 2;
SELECT count(*) AS same_scores FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'td_asof' AND a.version = 1 AND b.model = 'td_asof' AND b.version = 2 AND a.bias = b.bias;
-- times may be seconds as numbers too
SELECT version FROM recsys.train('td_secs', 'SELECT u, i, extract(epoch FROM t)::float8 AS s FROM td_tiny', 'u', 'i', NULL,
	'popularity', '{"time_column": "s", "half_life": "2 days"}');
SELECT count(*) FILTER (WHERE abs(a.bias - b.bias) < 1e-6) AS same_scores, count(*) AS items
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'td_secs' AND b.model = 'td_popularity';

-- als's solution depends only on the ratios of the weights: an as_of after
-- every row multiplies them all by one number and predicts the same
SELECT version FROM recsys.train('td_als_late', 'td_tiny', 'u', 'i', 'r', 'als',
	'{"time_column": "t", "half_life": "2 days", "as_of": "2024-01-19 00:00+00", "factors": 2, "iterations": 3}');
SELECT max(abs(recsys.predict('td_als', u, i) - recsys.predict('td_als_late', u, i))) < 1e-4 AS same_predictions
FROM (SELECT DISTINCT u, i FROM td_tiny WHERE u IS NOT NULL) s;
-- and decay changes the model: without it (all weights 1) it predicts otherwise
SELECT version FROM recsys.train('td_als_none', 'td_tiny', 'u', 'i', 'r', 'als', '{"factors": 2, "iterations": 3}');
SELECT max(abs(recsys.predict('td_als', u, i) - recsys.predict('td_als_none', u, i))) > 0.01 AS decay_changes_it
FROM (SELECT DISTINCT u, i FROM td_tiny WHERE u IS NOT NULL) s;

-- A time column without a half-life weighs nothing: the model is the one
-- trained without it (on the rows that have a time), and the version
-- records the newest time, where recsys.update() starts
SELECT version FROM recsys.train('td_als_tc', 'SELECT * FROM td_tiny WHERE t IS NOT NULL', 'u', 'i', 'r', 'als',
	'{"time_column": "t", "factors": 2, "iterations": 3}');
SELECT version FROM recsys.train('td_als_notc', 'SELECT * FROM td_tiny WHERE t IS NOT NULL', 'u', 'i', 'r', 'als',
	'{"factors": 2, "iterations": 3}');
SELECT max(abs(recsys.predict('td_als_tc', u, i) - recsys.predict('td_als_notc', u, i))) = 0 AS same_model
FROM (SELECT DISTINCT u, i FROM td_tiny WHERE u IS NOT NULL AND i IS NOT NULL) s;
SELECT v.model, v.data_until = (SELECT max(t) FROM td_tiny) AS data_until_is_newest
FROM recsys.model_versions v WHERE v.model IN ('td_als_tc', 'td_als_notc') ORDER BY v.model;
SELECT recsys.drop_model('td_als_tc'), recsys.drop_model('td_als_notc');

-- Errors: nothing is silently ignored ---------------------------------------
SELECT pg_temp.why(q) FROM (VALUES
	-- a half-life without a time column, or not positive, or not an interval
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"half_life": "7 days"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "0 days"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "-1 day"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "a week"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": 7}')$$),
	-- as_of without a half-life; not a time
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"as_of": "2024-01-01"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "1 day", "as_of": "yesterday-ish"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "1 day", "as_of": "infinity"}')$$),
	-- popularity: the two half-lives at once
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'popularity', '{"time_column": "t", "half_life": "1 day", "half_life_days": 1}')$$),
	-- neighbourhood models where decay has no meaning
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'item_knn', '{"time_column": "t", "half_life": "1 day", "feedback": "explicit"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'user_knn', '{"time_column": "t", "half_life": "1 day", "similarity": "jaccard"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'item_knn', '{"time_column": "t", "half_life": "1 day", "attributes": "SELECT 1, ARRAY[1.0]", "attribute_mode": "only"}')$$),
	-- a time column that is not a time, or not there
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "i", "half_life": "1 day"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "no_such", "half_life": "1 day"}')$$),
	-- an infinite time has no age
	($$SELECT recsys.train('m', 'SELECT u, i, r, t FROM td_tiny UNION ALL SELECT 9, ''a'', 5, ''infinity''::timestamptz', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "1 day"}')$$),
	($$SELECT recsys.train('m', 'SELECT u, i, r, t FROM td_tiny UNION ALL SELECT 9, ''a'', 5, ''-infinity''::timestamptz', 'u', 'i', 'r', 'als', '{"time_column": "t", "half_life": "1 day"}')$$),
	-- as_of so far after the data that every weight is (nearly) zero
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'als', '{"time_column": "t", "half_life": "1 day", "as_of": "2224-01-01"}')$$),
	($$SELECT recsys.train('m', 'td_tiny', 'u', 'i', 'r', 'ials', '{"time_column": "t", "half_life": "1 day", "as_of": 1e300}')$$),
	-- the aggregate form has no times
	($$SELECT recsys.fit('m', u, i, r, '{"algorithm": "ials", "time_column": "t", "half_life": "1 day"}') FROM td_tiny$$),
	($$SELECT recsys.fit('m', u, i, r, '{"algorithm": "popularity", "time_column": "t", "half_life_days": 1}') FROM td_tiny$$)
) AS t(q);
SELECT count(*) AS no_model_m FROM recsys.models WHERE name = 'm';

-- Retrain counts ages from the newest row again (as_of not given) ----------
INSERT INTO td_tiny VALUES (2, 'b', 5, '2024-01-20');
SELECT version FROM recsys.retrain('td_ials');
SELECT version, params->>'as_of' AS as_of FROM recsys.model_versions WHERE model = 'td_ials' ORDER BY version;
-- a given as_of stays
SELECT version FROM recsys.retrain('td_asof');
SELECT version, params->>'as_of' AS as_of FROM recsys.model_versions WHERE model = 'td_asof' ORDER BY version;
DELETE FROM td_tiny WHERE t = '2024-01-20';

-- Drifting tastes ------------------------------------------------------------
-- 600 users, 200 items in 10 categories (item % 10).  User u's early
-- category a (days 4-56) and late category b (days 63-87) differ; the
-- users sharing (a, b) form 90 groups.  Implicit: 14 early items of a, 6
-- late items of b for training; each user's 3 latest items (of b, days
-- 81-87) are held out.  Without decay a model recommends mostly the
-- category of the old majority; with decay the late one.
CREATE TABLE td_drift AS
WITH u AS (SELECT u, u % 10 AS a, (u % 10 + 1 + (u / 10) % 9) % 10 AS b FROM generate_series(0, 599) u),
ranked AS (
	SELECT u.u, u.a, u.b, c.cat, i.item,
		   row_number() OVER (PARTITION BY u.u, c.cat ORDER BY md5(u.u || ':' || i.item)) AS k
	FROM u CROSS JOIN LATERAL (VALUES (u.a), (u.b)) c(cat)
	JOIN generate_series(0, 199) i(item) ON i.item % 10 = c.cat)
SELECT u AS user_id, item AS item_id, r,
	   CASE WHEN part = 'test' THEN 'test' ELSE 'train' END AS part, implicit,
	   timestamptz '2024-01-01' + d * interval '1 day' AS ts
FROM ranked, LATERAL (SELECT * FROM (VALUES
	-- (row wanted, rating, part, day, in the implicit data)
	(cat = a AND k <= 14, 5.0, 'early', k * 4, true),
	(cat = b AND k BETWEEN 10 AND 14, 1.0, 'early', (k - 9) * 10, false),
	(cat = b AND k <= 6, 5.0, 'late', 60 + k * 3, true),
	(cat = a AND k BETWEEN 15 AND 18, 1.0, 'late', 60 + (k - 14) * 3, false),
	(cat = b AND k BETWEEN 7 AND 9, 5.0, 'test', 60 + k * 3, true)) v(ok, r, part, d, implicit)
	WHERE ok) x;
-- explicit: also 5 early ratings of 1 for items of b and 4 late ones for a
SELECT implicit, part, r, count(*), min(ts)::date, max(ts)::date FROM td_drift GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
CREATE VIEW td_train_implicit AS SELECT user_id, item_id, ts FROM td_drift WHERE implicit AND part = 'train';
CREATE VIEW td_train_explicit AS SELECT user_id, item_id, r, ts FROM td_drift WHERE part = 'train';

-- recall@10 of a model's lists for the held-out (latest) items
CREATE FUNCTION pg_temp.recall(model text) RETURNS float8 LANGUAGE sql AS $$
	SELECT avg(hits) FROM (
		SELECT t.user_id, count(r.item)::float8 / 3 AS hits
		FROM td_drift t LEFT JOIN recsys.recommend_all(model, 10) r
		  ON r."user"::int = t.user_id AND r.item::int = t.item_id
		WHERE t.part = 'test'
		GROUP BY t.user_id) s $$;

CREATE FUNCTION pg_temp.fit(name text, source text, rating text, algorithm text, opts jsonb)
RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
	PERFORM recsys.train(name, source, 'user_id', 'item_id', rating, algorithm, opts);
	RETURN pg_temp.recall(name);
END $$;

CREATE TABLE td_recall AS
SELECT algorithm, decay,
	   pg_temp.fit('td_drift_' || algorithm || CASE WHEN decay THEN '_decay' ELSE '' END,
				   CASE WHEN rating THEN 'td_train_explicit' ELSE 'td_train_implicit' END,
				   CASE WHEN rating THEN 'r' END, algorithm,
				   opts || CASE WHEN decay THEN jsonb_build_object('time_column', 'ts', 'half_life', half_life)
								ELSE '{}' END) AS recall
FROM (VALUES
	-- decay lowers the total confidence (every weight is below 1): alpha 10
	-- with a penalty of 20 keeps it clear of the regularisation (alpha 2,
	-- or a penalty of 100, collapses it to popular items)
	('ials', false, '{"factors": 16, "iterations": 10, "alpha": 10, "regularization": 20}'::jsonb, '10 days'),
	('bpr', false, '{"factors": 16}', '5 days'),
	('user_knn', false, '{}', '10 days'),
	('als', true, '{"factors": 16, "regularization": 0.5}', '5 days'),
	('svd', true, '{"factors": 16, "regularization": 0.1}', '5 days')) v(algorithm, rating, opts, half_life),
	(VALUES (false), (true)) d(decay);

SELECT a.algorithm, a.recall < 0.35 AS without_low, b.recall > 0.5 AS with_high,
	   b.recall - a.recall > CASE WHEN a.algorithm IN ('ials', 'als') THEN 0.4 ELSE 0.25 END AS decay_helps
FROM td_recall a JOIN td_recall b ON b.algorithm = a.algorithm AND b.decay
WHERE NOT a.decay ORDER BY 1;

-- Fold-in weighs a new user's rows as training did ------------------------
-- user 9000 arrives after training: 14 old rows on category 0, 6 recent on
-- category 5 (the same shape as everyone's).  The decayed model folds them
-- in with the version's half-life and as_of and recommends category 5;
-- the undecayed one recommends category 0.
INSERT INTO td_drift
SELECT 9000, item, 5, 'train', true, timestamptz '2024-01-01' + d * interval '1 day'
FROM (SELECT item, 4 * row_number() OVER (ORDER BY item) AS d FROM generate_series(0, 199, 10) item LIMIT 14) a
UNION ALL
SELECT 9000, item, 5, 'train', true, timestamptz '2024-03-01' + d * interval '1 day'
FROM (SELECT item, 3 * row_number() OVER (ORDER BY item) AS d FROM generate_series(5, 199, 10) item LIMIT 6) b;
SELECT model, count(*) FILTER (WHERE item::int % 10 = 5) AS late_category,
	   count(*) FILTER (WHERE item::int % 10 = 0) AS early_category
FROM unnest(ARRAY['td_drift_ials', 'td_drift_ials_decay', 'td_drift_bpr', 'td_drift_bpr_decay']) model,
	 LATERAL recsys.recommend(model, 9000, 5) r
GROUP BY model ORDER BY model;
-- the same items passed without their times weigh 1 each: the decayed
-- model then folds the user in towards the old majority
SELECT count(*) FILTER (WHERE item::int % 10 = 5) AS late_category,
	   count(*) FILTER (WHERE item::int % 10 = 0) AS early_category
FROM recsys.recommend_for_items('td_drift_ials_decay',
	(SELECT array_agg(item_id) FROM td_drift WHERE user_id = 9000), 5) r;

-- the recorded as_of is UTC text whatever DateStyle and TimeZone say
SET timezone = 'America/New_York';
SET datestyle = 'Postgres, MDY';
SELECT version FROM recsys.train('td_zone', 'td_tiny', 'u', 'i', NULL, 'popularity',
	'{"time_column": "t", "half_life": "1 day", "as_of": "2024-01-05 12:30:00.25-05"}');
SELECT params->>'as_of' AS as_of, params->'as_of_epoch' AS epoch FROM recsys.model_versions WHERE model = 'td_zone';

-- explain() takes the decayed fold-in apart: the new user's contributions
-- (weighted as in fold-in) sum to the score recommend() gave
SET timezone = 'UTC';
SELECT r.item, abs(sum(e.contribution) - r.score) < 1e-4 AS sums_to_score
FROM recsys.recommend('td_drift_ials_decay', 9000, 1) r,
	 LATERAL recsys.explain('td_drift_ials_decay', 9000, r.item::int) e
GROUP BY r.item, r.score;
