--
-- Evaluation: split(), evaluate(), evaluate_users(), predictions() and
-- audit_exposure().  Metric values on a tiny fixed case equal the values
-- computed by hand (in the comments); splits are deterministic by seed and
-- keep their promises; a trained model is far above popularity on
-- generated data; bad input is refused with its SQLSTATE.
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

------------------------------------------------------------------------------
-- A tiny fixed case, by hand.
--
-- Training: users 1..5; item 1 has 4 users, items 2 and 3 have 3 (a tie),
-- item 4 has 2, items 5 and 6 have 1.  The popularity model scores an item
-- by its number of users, so items rank 1, 2, 3, 4, 5, 6: the tie between
-- 2 and 3 goes to the smaller key, as serving breaks ties.
--   user 1 saw {1}            top 3: 2, 3, 4
--   user 2 saw {1,2}          top 3: 3, 4, 5
--   user 3 saw {1,2,3}        top 3: 4, 5, 6
--   user 4 saw {1,3,4}        top 3: 2, 5, 6
--   user 5 saw {2,3,4,5,6}    top 3: 1 (nothing else is unseen)
------------------------------------------------------------------------------
CREATE TABLE ev_train (u int, i int, clicks int);
INSERT INTO ev_train VALUES
	(1, 1, 1),
	(2, 1, 1), (2, 2, 1),
	(3, 1, 1), (3, 2, 1), (3, 3, 1),
	(4, 1, 1), (4, 3, 1), (4, 4, 1),
	(5, 2, 1), (5, 3, 1), (5, 4, 1), (5, 5, 1), (5, 6, 1);
SELECT model, users, items FROM recsys.train('ev_pop', 'ev_train', 'u', 'i', 'clicks', 'popularity');
SELECT "user"::int, array_agg(item::int ORDER BY rank) FROM recsys.recommend_all('ev_pop', 3)
GROUP BY 1 ORDER BY 1;

-- Test: user 1 {3, 6}: a hit at rank 2 of 2 relevant.
--   precision 1/3, recall 1/2, DCG 1/log2(3) = 0.630930,
--   IDCG(2) = 1 + 0.630930, NDCG 0.386853, AP (1/2)/2 = 0.25, RR 1/2.
-- user 2 {5}: hit at rank 3.  P 1/3, R 1, NDCG 1/log2(4) = 0.5, AP 1/3, RR 1/3.
-- user 3 {4, 6}: hits at ranks 1 and 3.  P 2/3, R 1,
--   NDCG (1 + 0.5) / 1.630930 = 0.919721, AP (1/1 + 2/3)/2 = 0.833333, RR 1.
-- user 4 {7}: item 7 is not in the model: a relevant item that cannot be
--   recommended.  Everything 0.
-- user 5 {1, and 1 again}: a duplicate row counts once.  Hit at rank 1 of a
--   one-item list: P 1/3 (always over k), R 1, NDCG 1, AP 1, RR 1.
-- user 6 {1}: not in the model: left out (NOTICE).
CREATE TABLE ev_test (u int, i int, rating real);
INSERT INTO ev_test VALUES
	(1, 3, 5), (1, 6, 4),
	(2, 5, 5),
	(3, 4, 4), (3, 6, 5),
	(4, 7, 5),
	(5, 1, 4), (5, 1, 4),
	(6, 1, 5),
	(NULL, 1, 5), (1, NULL, 5);

SELECT user_key, n_relevant, round("precision"::numeric, 6) AS p, round(recall::numeric, 6) AS r,
	   round(ndcg::numeric, 6) AS ndcg, round(ap::numeric, 6) AS ap, round(rr::numeric, 6) AS rr, hit
FROM recsys.evaluate_users('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i');

-- The means: precision (1/3+1/3+2/3+0+1/3)/5 = 0.333333, recall 3.5/5 = 0.7,
-- NDCG 2.806574/5 = 0.561315, MAP 2.416667/5 = 0.483333, hit rate 0.8,
-- MRR 2.833333/5 = 0.566667, coverage: every item is in some list = 1.
-- Novelty: -log2(users of the item / 5) over the 13 recommended slots:
--   u1 2,3,4: 0.736966 + 0.736966 + 1.321928
--   u2 3,4,5: 0.736966 + 1.321928 + 2.321928
--   u3 4,5,6: 1.321928 + 2.321928 + 2.321928
--   u4 2,5,6: 0.736966 + 2.321928 + 2.321928
--   u5 1:     0.321928                          sum 18.845216 / 13 = 1.449632
SELECT metric, k, round(value::numeric, 6) AS value, user_group
FROM recsys.evaluate('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i');

-- predictions(): predict() for every row (popularity: the item's number of
-- users, also for user 6; item 7 is unknown, so NULL), and what the model knows
SELECT * FROM recsys.predictions('ev_pop', 'ev_test', 'u', 'i', 'rating') ORDER BY user_key, item_key;

-- Coverage@1: the lists are 2, 3, 4, 2, 1: four items of six = 0.666667.
SELECT metric, k, round(value::numeric, 6) AS value
FROM recsys.evaluate('ev_pop', 'ev_test', 1, user_col => 'u', item_col => 'i',
					 metrics => ARRAY['coverage', 'precision', 'users']);

-- unknown_users => 'serve': user 6, whom the model does not know, gets what
-- recommend() gives (the popular items 1, 2, 3): a hit at rank 1 of 1
-- relevant.  Means over 6 users: precision (5/3 + 1/3)/6 = 0.333333,
-- recall (3.5 + 1)/6 = 0.75, NDCG (2.806574 + 1)/6 = 0.634429,
-- MAP (2.416667 + 1)/6 = 0.569444, hit rate 5/6, MRR (2.833333 + 1)/6 =
-- 0.638889, novelty adds 0.321928 + 0.736966 + 0.736966:
-- 20.641076 / 16 = 1.290067.
SELECT metric, k, round(value::numeric, 6) AS value
FROM recsys.evaluate('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i', unknown_users => 'serve');
-- (recommend()'s NOTICE for each such user is held back, and the setting
-- that holds it back is restored)
SELECT current_setting('client_min_messages') AS client_min_messages;

-- evaluate()'s ranking metrics are the means of evaluate_users()
SELECT bool_and(abs(e.value - u.v) < 1e-12) AS means_match
FROM recsys.evaluate('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i') e
JOIN (SELECT unnest(ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr']) AS metric,
			 unnest(ARRAY[avg("precision"), avg(recall), avg(ndcg), avg(ap), avg(hit), avg(rr)]) AS v
	  FROM recsys.evaluate_users('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i')) u
  USING (metric);

-- A relevance threshold: only ratings >= 5 are relevant.  User 1 keeps
-- {3} (hit at rank 2: NDCG 0.630930, AP 0.5, RR 0.5), user 3 {6} (rank 3:
-- NDCG 0.5, AP 1/3), user 4 {7}; users 2 and 6 as before; user 5 drops out.
SELECT user_key, n_relevant, round(ndcg::numeric, 6) AS ndcg, round(ap::numeric, 6) AS ap,
	   round(rr::numeric, 6) AS rr
FROM recsys.evaluate_users('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i',
						   rating_col => 'rating', threshold => 5);

-- Groups of users: a relation or query of (user, group).  User 5 has no
-- group: it counts in the overall rows only.
CREATE TABLE ev_users (u int, band text);
INSERT INTO ev_users VALUES (1, 'a'), (2, 'a'), (3, 'b'), (4, 'b'), (6, 'b');
SELECT metric, k, round(value::numeric, 6) AS value, user_group
FROM recsys.evaluate('ev_pop', 'SELECT * FROM ev_test WHERE u IS NOT NULL', 3, user_col => 'u', item_col => 'i',
					 user_groups => 'ev_users', metrics => ARRAY['ndcg', 'recall', 'users']);

------------------------------------------------------------------------------
-- Item exposure, by hand: the top 2 of every user is
--   u1: 2, 3   u2: 3, 4   u3: 4, 5   u4: 2, 5   u5: 1
-- (9 slots; rank 1 weighs 1, rank 2 weighs 1/log2(3) = 0.630930).
-- Groups: head {1, 2}, tail {3, 4, 5}; item 6 has none (group NULL).
--   head: 3 slots, weight 3;  tail: 6 slots, weight 2 + 4 * 0.630930.
--   exposure share head 3/9, tail 6/9; discounted head 3/7.523719 = 0.398739.
--   catalogue share head 2/6, tail 3/6, none 1/6; interactions 7/14, 6/14, 1/14.
-- Gini of the exposure counts 0, 1, 2, 2, 2, 2 (sorted): sum of (2i-n-1) x
--   = -3 - 2 + 2 + 6 + 10 = 13; 13 / (6 * 9) = 0.240741.
-- Coverage 5/6.  Popularity (users / 5): recommended slots average 4.4/9 =
-- 0.488889; interactions average (4*.8 + 3*.6 + 3*.6 + 2*.4 + .2 + .2)/14 =
-- 0.571429; lift 0.855556.
------------------------------------------------------------------------------
CREATE TABLE ev_groups (i int, g text);
INSERT INTO ev_groups VALUES (1, 'head'), (2, 'head'), (3, 'tail'), (4, 'tail'), (5, 'tail'), (99, 'tail');
SELECT item_group, metric, round(value::numeric, 6) AS value
FROM recsys.audit_exposure('ev_pop', 'ev_groups', 2);

-- Gini with k = 1 (counts 0, 0, 1, 1, 1, 2): (-1 + 1 + 3 + 10) / (6 * 5) = 0.433333
SELECT round(value::numeric, 6) AS gini FROM recsys.audit_exposure('ev_pop', 'ev_groups', 1)
WHERE metric = 'gini';

-- Lists made elsewhere (user, item, rank), e.g. re-ranked: only ranks <= k
-- count, and items the model does not know are left out.
SELECT item_group, metric, round(value::numeric, 6) AS value
FROM recsys.audit_exposure('ev_pop', 'ev_groups', 2,
	lists => 'SELECT * FROM (VALUES (1, 6, 1), (1, 5, 2), (1, 1, 3), (2, 6, 1), (2, 42, 2)) l(u, i, r)')
WHERE metric IN ('exposure_share', 'discounted_exposure_share', 'lists', 'coverage', 'gini');

-- Only some users' lists
SELECT item_group, metric, round(value::numeric, 6) AS value
FROM recsys.audit_exposure('ev_pop', 'ev_groups', 1, users => 'SELECT 5')
WHERE metric IN ('exposure_share', 'lists');

------------------------------------------------------------------------------
-- Splits
------------------------------------------------------------------------------
SELECT relation, rows FROM recsys.generate_dataset('evg', users => 300, items => 120,
	interactions => 9000, seed => 11);

SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'random', 0.25, seed => 7);
-- deterministic by seed: the same rows again, other rows with another seed
SELECT * FROM recsys.split('SELECT * FROM evg_interactions', 'user_id', 'item_id', 'random', 0.25, seed => 7,
						   train_table => 'r7_train', test_table => 'r7_test', temporary => true);
SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'random', 0.25, seed => 8,
						   train_table => 'r8_train', test_table => 'r8_test', temporary => true);
SELECT (SELECT count(*) FROM (TABLE evg_interactions_test EXCEPT TABLE r7_test) x) AS same_seed_differs,
	   (SELECT count(*) FROM (TABLE evg_interactions_train EXCEPT TABLE r7_train) x) AS same_seed_train_differs,
	   (SELECT count(*) FROM (TABLE evg_interactions_test EXCEPT TABLE r8_test) x) > 1000 AS other_seed_differs,
	   (SELECT count(*) FROM (TABLE evg_interactions_train UNION ALL TABLE evg_interactions_test
							  EXCEPT ALL TABLE evg_interactions) x) AS not_from_source,
	   (SELECT count(*) FROM (TABLE evg_interactions_train INTERSECT TABLE evg_interactions_test) x) AS in_both,
	   to_regclass('pg_temp.recsys_split_rows') IS NULL AS no_work_table_left;

-- per_user: every user keeps rows in train; each user's test share is
-- round(0.2 n), at most n - 1
SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'per_user', 0.2, seed => 1,
						   train_table => 'pu_train', test_table => 'pu_test', temporary => true);
SELECT (SELECT count(DISTINCT user_id) FROM evg_interactions
		WHERE user_id NOT IN (SELECT user_id FROM pu_train)) AS users_missing_from_train,
	   (SELECT count(*) FROM (
			SELECT s.user_id, count(*) AS n, count(t.user_id) AS t
			FROM evg_interactions s LEFT JOIN pu_test t USING (user_id, item_id)
			GROUP BY s.user_id) x
		WHERE t <> least(floor(0.2 * n + 0.5), n - 1)) AS users_off_share;

-- column names the split's own query uses are just columns
SELECT part, rows, users FROM recsys.split('SELECT user_id AS s, item_id AS r, ts AS n, 1 AS rn, 2 AS x FROM evg_interactions',
						   's', 'r', 'per_user', 0.2, seed => 1,
						   train_table => 'nm_train', test_table => 'nm_test', temporary => true);
SELECT (SELECT count(*) FROM (SELECT s, r FROM nm_test EXCEPT SELECT user_id, item_id FROM pu_test) x) AS differs_from_per_user;

-- temporal: the latest 10% of the rows are the test set
SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'temporal', 0.1, time_col => 'ts',
						   train_table => 'tm_train', test_table => 'tm_test', temporary => true);
SELECT (SELECT min(ts) FROM tm_test) >= (SELECT max(ts) FROM tm_train) AS test_is_latest;

-- leave_last_out: exactly each user's latest row (users with one row keep it)
SELECT part, rows, users FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'leave_last_out', time_col => 'ts',
						   train_table => 'lo_train', test_table => 'lo_test', temporary => true);
SELECT (SELECT count(*) FROM lo_test) = (SELECT count(DISTINCT user_id) FROM lo_test) AS one_per_user,
	   (SELECT count(*) FROM lo_test t
		WHERE t.ts < (SELECT max(ts) FROM evg_interactions s WHERE s.user_id = t.user_id)) AS not_latest,
	   (SELECT count(*) FROM (SELECT user_id FROM evg_interactions GROUP BY 1 HAVING count(*) >= 2) x
		WHERE user_id NOT IN (SELECT user_id FROM lo_test)) AS users_without_test_row;

-- kfold: fold f of 3; the three test parts of one seed partition the rows
-- of every user with two rows or more (a user with one row stays in
-- train), each user's rows are dealt evenly (fold sizes differ by at most
-- one per user), and every such user keeps rows in every training part
CREATE TEMPORARY TABLE kf_small AS
SELECT * FROM evg_interactions WHERE user_id <= 40
UNION ALL SELECT 100001, 1, 1.0, 1, now();	-- a user with one row
SELECT f, part, rows, users FROM generate_series(1, 3) f,
	LATERAL recsys.split('kf_small', 'user_id', 'item_id', 'kfold', seed => 5, folds => 3, fold => f,
						 train_table => 'kf_train_' || f, test_table => 'kf_test_' || f, temporary => true)
ORDER BY f, part;
SELECT (SELECT count(*) FROM (TABLE kf_test_1 UNION ALL TABLE kf_test_2 UNION ALL TABLE kf_test_3
							  EXCEPT ALL SELECT * FROM kf_small WHERE user_id <> 100001) x) AS tests_not_from_source,
	   (SELECT count(*) FROM (SELECT * FROM kf_small WHERE user_id <> 100001
							  EXCEPT ALL (TABLE kf_test_1 UNION ALL TABLE kf_test_2 UNION ALL TABLE kf_test_3)) x) AS rows_in_no_test,
	   (SELECT count(*) FROM (TABLE kf_train_2 UNION ALL TABLE kf_test_2 EXCEPT ALL TABLE kf_small) x)
	 + (SELECT count(*) FROM (TABLE kf_small EXCEPT ALL (TABLE kf_train_2 UNION ALL TABLE kf_test_2)) x) AS fold_2_not_the_source,
	   (SELECT count(*) FROM (SELECT user_id FROM kf_small GROUP BY 1 HAVING count(*) >= 2) u
		WHERE user_id NOT IN (SELECT user_id FROM kf_train_1) OR user_id NOT IN (SELECT user_id FROM kf_train_2)
		   OR user_id NOT IN (SELECT user_id FROM kf_train_3)) AS users_missing_from_a_train,
	   (SELECT count(*) FROM (
			SELECT s.user_id,
				   (SELECT count(*) FROM kf_test_1 t WHERE t.user_id = s.user_id) AS a,
				   (SELECT count(*) FROM kf_test_2 t WHERE t.user_id = s.user_id) AS b,
				   (SELECT count(*) FROM kf_test_3 t WHERE t.user_id = s.user_id) AS c
			FROM (SELECT DISTINCT user_id FROM kf_small WHERE user_id <> 100001) s) x
		WHERE greatest(a, b, c) - least(a, b, c) > 1) AS users_dealt_unevenly,
	   (SELECT count(*) FROM kf_test_1 WHERE user_id = 100001)
	 + (SELECT count(*) FROM kf_test_2 WHERE user_id = 100001)
	 + (SELECT count(*) FROM kf_test_3 WHERE user_id = 100001) AS single_row_user_tested;
-- the same seed and folds deal the same way; another seed deals otherwise
SELECT part, rows FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', seed => 5, folds => 3, fold => 2,
									train_table => 'kf_again_train', test_table => 'kf_again_test', temporary => true);
SELECT part, rows > 0 AS has_rows FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', seed => 6, folds => 3, fold => 2,
									train_table => 'kf_other_train', test_table => 'kf_other_test', temporary => true);
SELECT (SELECT count(*) FROM (TABLE kf_again_test EXCEPT ALL TABLE kf_test_2) x)
	 + (SELECT count(*) FROM (TABLE kf_test_2 EXCEPT ALL TABLE kf_again_test) x) AS same_seed_differs,
	   (SELECT count(*) FROM (TABLE kf_other_test EXCEPT ALL TABLE kf_test_2) x) > 50 AS other_seed_differs;
-- folds default to 5: fold 5 exists, fold 6 does not
SELECT part, rows > 0 AS has_rows FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', fold => 5,
									train_table => 'kf5_train', test_table => 'kf5_test', temporary => true);

------------------------------------------------------------------------------
-- A trained model against popularity on generated data (planted tastes)
------------------------------------------------------------------------------
-- (ials with 0.2.0's confidence and penalty: the fairness cost below was
-- set on its lists)
SELECT model FROM recsys.train('evg_ials', 'pu_train', 'user_id', 'item_id', 'clicks', 'ials',
							   '{"factors": 16, "iterations": 10, "alpha": 2, "regularization": 20}');
SELECT model FROM recsys.train('evg_pop', 'pu_train', 'user_id', 'item_id', 'clicks', 'popularity');
SELECT model FROM recsys.train('evg_als', 'pu_train', 'user_id', 'item_id', 'rating', 'als',
							   '{"factors": 16}');
CREATE TEMP TABLE ev_cmp AS
SELECT i.metric, i.value AS ials, p.value AS pop
FROM recsys.evaluate('evg_ials', 'pu_test') i JOIN recsys.evaluate('evg_pop', 'pu_test') p USING (metric);
SELECT metric, ials > 1.3 * pop AS ials_far_above_popularity FROM ev_cmp
WHERE metric IN ('precision', 'recall', 'ndcg', 'map', 'coverage') ORDER BY metric;
SELECT (SELECT ials FROM ev_cmp WHERE metric = 'users') = 300 AS every_user_measured;

-- the lists measured are the lists recommend() serves: precision and NDCG
-- recomputed from recommend() under LATERAL for every test user
WITH rel AS (SELECT DISTINCT user_id, item_id FROM pu_test),
rec AS (SELECT u.user_id, r.item, r.rank
		FROM (SELECT DISTINCT user_id FROM pu_test) u
		CROSS JOIN LATERAL recsys.recommend('evg_ials', u.user_id, 10) r),
per_user AS (
	SELECT u.user_id,
		   count(rel.item_id)::float8 / 10 AS p,
		   coalesce(sum(1 / log(2, rec.rank + 1)) FILTER (WHERE rel.item_id IS NOT NULL), 0)
			 / (SELECT sum(1 / log(2, i + 1)) FROM generate_series(1, least(10, (SELECT count(*) FROM rel r2 WHERE r2.user_id = u.user_id))) i) AS ndcg
	FROM (SELECT DISTINCT user_id FROM pu_test) u
	LEFT JOIN rec ON rec.user_id = u.user_id
	LEFT JOIN rel ON rel.user_id = rec.user_id AND rel.item_id = rec.item
	GROUP BY u.user_id)
SELECT count(*) AS users,
	   count(*) FILTER (WHERE abs(e."precision" - p.p) > 1e-12 OR abs(e.ndcg - p.ndcg) > 1e-9) AS differ_from_recommend
FROM recsys.evaluate_users('evg_ials', 'pu_test', 10) e JOIN per_user p ON p.user_id = e.user_key::int;

-- explicit model: rmse and mae equal predict() row by row, and beat the
-- best constant (the training mean)
SELECT metric, k, value > 0 AND value < 1.2 AS plausible
FROM recsys.evaluate('evg_als', 'pu_test', metrics => ARRAY['rmse', 'mae']);
SELECT count(*) AS rows, count(*) FILTER (WHERE p.prediction IS DISTINCT FROM
		recsys.predict('evg_als', p.user_key::int, p.item_key::int)) AS differ_from_predict
FROM recsys.predictions('evg_als', 'pu_test') p;
-- per user group: rmse and mae from predict() row by row, group by group
SELECT e.user_group, e.metric,
	   abs(e.value - CASE e.metric WHEN 'rmse' THEN sqrt(avg((recsys.predict('evg_als', t.user_id, t.item_id) - t.rating) ^ 2))
								   ELSE avg(abs(recsys.predict('evg_als', t.user_id, t.item_id) - t.rating)) END) < 1e-9 AS equal
FROM recsys.evaluate('evg_als', 'pu_test', user_groups => 'SELECT user_id, gender FROM evg_users',
					 metrics => ARRAY['rmse', 'mae']) e
JOIN pu_test t ON e.user_group IS NULL OR t.user_id IN (SELECT user_id FROM evg_users WHERE gender = e.user_group)
GROUP BY e.user_group, e.metric, e.value
ORDER BY e.user_group NULLS FIRST, e.metric;
SELECT (SELECT value FROM recsys.evaluate('evg_als', 'pu_test', metrics => ARRAY['rmse'])) <
	   (SELECT sqrt(avg((t.rating - m.mu) ^ 2)) FROM pu_test t,
		(SELECT avg(rating) AS mu FROM pu_train) m) AS rmse_beats_mean;

-- exposure: the long-tail share rises when recommend_all guarantees it
CREATE TEMP TABLE ev_exp AS
SELECT 'plain' AS lists, item_group, metric, value
FROM recsys.audit_exposure('evg_ials', 'SELECT item_id, long_tail FROM evg_items', 10)
UNION ALL
SELECT 'fair', item_group, metric, value
FROM recsys.audit_exposure('evg_ials', 'SELECT item_id, long_tail FROM evg_items', 10,
	lists => $$SELECT "user", item, rank FROM recsys.recommend_all('evg_ials', 10,
		item_groups => 'SELECT item_id, long_tail FROM evg_items', protected_group => 't', min_share => 0.6)$$);
SELECT (SELECT value FROM ev_exp WHERE lists = 'plain' AND item_group = 't' AND metric = 'exposure_share') < 0.6 AS plain_below,
	   (SELECT value FROM ev_exp WHERE lists = 'fair' AND item_group = 't' AND metric = 'exposure_share') >= 0.6 AS fair_reaches,
	   (SELECT value FROM ev_exp WHERE lists = 'fair' AND metric = 'gini') <
	   (SELECT value FROM ev_exp WHERE lists = 'plain' AND metric = 'gini') AS gini_falls;

-- evaluate() measures lists made elsewhere as well: recommend_all's own
-- lists give the same values; the fair lists cost some accuracy
SELECT a.metric, abs(a.value - b.value) < 1e-12 AS same
FROM recsys.evaluate('evg_ials', 'pu_test') a
JOIN recsys.evaluate('evg_ials', 'pu_test',
	lists => $$SELECT "user", item, rank FROM recsys.recommend_all('evg_ials', 10)$$) b USING (metric)
ORDER BY a.metric;
SELECT f.value < p.value AS fair_lists_cost_ndcg, f.value > 0.5 * p.value AS but_not_half
FROM recsys.evaluate('evg_ials', 'pu_test', metrics => ARRAY['ndcg']) p,
	 recsys.evaluate('evg_ials', 'pu_test', metrics => ARRAY['ndcg'],
		lists => $$SELECT "user", item, rank FROM recsys.recommend_all('evg_ials', 10,
			item_groups => 'SELECT item_id, long_tail FROM evg_items', protected_group => 't', min_share => 0.6)$$) f;

------------------------------------------------------------------------------
-- Bad input
------------------------------------------------------------------------------
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('no_such_model', 'ev_test')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', 0, user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', -3, user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', NULL, user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('ev_pop', 'ev_test', 0, user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'SELECT * FROM ev_test WHERE false', user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', rating_col => 'rating', threshold => 9)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('ev_pop', 'SELECT 77 AS u, 1 AS i', user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'SELECT 1 AS u, 77 AS i', user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'user_id', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'no_such_table', user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'DELETE FROM ev_test', user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'SELECT 1; DROP TABLE ev_test', user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', metrics => ARRAY['ndcg', 'f1'])$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', metrics => ARRAY['rmse'])$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', threshold => 4)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', unknown_users => 'fold')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', user_groups => 'SELECT 1')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('evg_als', 'SELECT 99999 AS user_id, 1 AS item_id, 3 AS rating', metrics => ARRAY['rmse'])$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('evg_als', 'SELECT 1 AS user_id, 99999 AS item_id, 3 AS rating', metrics => ARRAY['rmse'])$$);
SELECT pg_temp.try($$SELECT * FROM recsys.predictions('no_such_model', 'ev_test')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.predictions('ev_pop', 'ev_test', 'u', 'nope')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('ev_pop', 'ev_groups', 0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('no_such_model', 'ev_groups')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('ev_pop', 'UPDATE ev_groups SET g = 1')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('ev_pop', 'ev_groups', lists => 'SELECT 1, 2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('ev_pop', 'ev_test', user_col => 'u', item_col => 'i', lists => 'SELECT 1, 2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'bootstrap')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'random', 1.0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'random', 0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', 'temporal')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'nope', train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('SELECT * FROM evg_interactions', 'user_id', 'item_id')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('SELECT * FROM evg_interactions WHERE false', 'user_id', 'item_id', train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', NULL, 'item_id')$$);
-- kfold's arguments, and what other methods do not take
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', fold => 6, train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', folds => 1, fold => 1, train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', folds => 3, fold => 0, train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', 0.2, fold => 1, train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'kfold', fold => 1, time_col => 'ts', train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'per_user', fold => 1, train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'random', folds => 5, train_table => 'x1', test_table => 'x2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.split('kf_small', 'user_id', 'item_id', 'leave_last_out', 0.2, time_col => 'ts', train_table => 'x1', test_table => 'x2')$$);
SELECT to_regclass('x1') IS NULL AND to_regclass('x2') IS NULL AS nothing_created;
-- identifiers are quoted: a name that tries SQL injection is just a name
SELECT pg_temp.try($$SELECT * FROM recsys.split('evg_interactions', 'user_id', 'item_id', train_table => 'x; DROP TABLE ev_test', test_table => 'x2')$$);
SELECT count(*) AS ev_test_still_there FROM ev_test;
-- The caller's queries are read read-only, and the transaction is
-- read-write again when each function returns (the bodies turn
-- transaction_read_only on in a block they roll back; split's read is C),
-- in the caller's transaction and after an error the caller caught.
BEGIN;
SELECT count(*) > 0 AS rows FROM recsys.evaluate_users('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i');
SELECT count(*) > 0 AS rows FROM recsys.evaluate('ev_pop', 'ev_test', 3, user_col => 'u', item_col => 'i');
SELECT count(*) > 0 AS rows FROM recsys.audit_exposure('ev_pop', 'ev_groups', 2);
SELECT count(*) AS parts FROM recsys.split('ev_test', 'u', 'i', train_table => 'ev_ro_train', test_table => 'ev_ro_test');
SHOW transaction_read_only;
CREATE TABLE ev_rw (x int);
INSERT INTO ev_rw VALUES (1);
DO $$
BEGIN
	PERFORM * FROM recsys.evaluate_users('ev_pop', 'SELECT * FROM ev_test WHERE 1 / (u - u) = 1', 3, user_col => 'u', item_col => 'i');
EXCEPTION WHEN division_by_zero THEN
	RAISE NOTICE 'caught: %', SQLERRM;
END $$;
SHOW transaction_read_only;
INSERT INTO ev_rw VALUES (2);
ROLLBACK;
-- a write of the caller's query still fails, with 25006, and writes nothing
CREATE TABLE ev_written (x int);
CREATE FUNCTION pg_temp.ev_write() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO ev_written VALUES (1) RETURNING 1';
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('ev_pop', 'SELECT u, i FROM ev_test, LATERAL (SELECT pg_temp.ev_write()) w', 3, user_col => 'u', item_col => 'i')$$);
SELECT count(*) AS written FROM ev_written;
SHOW transaction_read_only;
DROP TABLE ev_written;
-- a caller's query that raises the body's own SQLSTATE gets its error,
-- not fewer rows
CREATE FUNCTION pg_temp.ev_rsro() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	RAISE SQLSTATE 'RSRO0' USING MESSAGE = 'raised by the test set';
END $$;
SELECT pg_temp.try($$SELECT count(*) FROM recsys.evaluate_users('ev_pop', 'SELECT u, i FROM ev_test WHERE pg_temp.ev_rsro() = 1', 3, user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT count(*) FROM recsys.evaluate('ev_pop', 'SELECT u, i FROM ev_test WHERE pg_temp.ev_rsro() = 1', 3, user_col => 'u', item_col => 'i')$$);
SELECT pg_temp.try($$SELECT count(*) FROM recsys.audit_exposure('ev_pop', 'SELECT * FROM ev_groups WHERE pg_temp.ev_rsro() = 1', 2)$$);
-- A caller's query cannot leave the caller's transaction read-only: one
-- that turns transaction_read_only on for the session (set_config(...,
-- false)) has it undone with the read, through the C reader (split's
-- source) and the SQL bodies alike
CREATE TABLE ev_rw2 (x int);
BEGIN;
SELECT count(*) AS parts FROM recsys.split(
	'SELECT * FROM ev_test, LATERAL (SELECT set_config(''transaction_read_only'', ''on'', false)) s', 'u', 'i',
	train_table => 'ev_ro2_train', test_table => 'ev_ro2_test', "temporary" => true);
SHOW transaction_read_only;
SELECT count(*) > 0 AS rows FROM recsys.evaluate_users('ev_pop',
	'SELECT * FROM ev_test, LATERAL (SELECT set_config(''transaction_read_only'', ''on'', false)) s', 3,
	user_col => 'u', item_col => 'i');
SHOW transaction_read_only;
INSERT INTO ev_rw2 VALUES (1);
COMMIT;
SELECT count(*) AS inserted FROM ev_rw2;
-- ... nor turn read-only mode off: a RESET in the query (PostgreSQL 15
-- allows it, 16 and later refuse it) followed by a write is an error, and
-- the write does not stay
CREATE TABLE ev_written (x int);
SELECT pg_temp.try($$SELECT * FROM recsys.split(
	'SELECT * FROM ev_test, LATERAL (SELECT set_config(''transaction_read_only'', NULL, false), pg_temp.ev_write()) s',
	'u', 'i', train_table => 'ev_ro3_train', test_table => 'ev_ro3_test', "temporary" => true)$$) ~ '^(25006|0A000):' AS split_refused;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('ev_pop',
	'SELECT * FROM ev_test, LATERAL (SELECT set_config(''transaction_read_only'', NULL, false), pg_temp.ev_write()) s', 3,
	user_col => 'u', item_col => 'i')$$) ~ '^(25006|0A000):' AS evaluate_users_refused;
-- nor by resetting it, writing, and turning it on again before the read
-- ends: under PostgreSQL 15 a RESET during a read keeps it on
CREATE FUNCTION pg_temp.ev_sneaky() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('transaction_read_only', NULL, true);
	INSERT INTO ev_written VALUES (2);
	PERFORM set_config('transaction_read_only', 'on', true);
	RETURN 1;
END $$;
SELECT pg_temp.try($$SELECT * FROM recsys.split('SELECT * FROM ev_test WHERE pg_temp.ev_sneaky() = 1',
	'u', 'i', train_table => 'ev_ro4_train', test_table => 'ev_ro4_test', "temporary" => true)$$) ~ '^(25006|0A000):' AS split_refused;
SELECT pg_temp.try($$SELECT * FROM recsys.train('ev_sneaky', 'SELECT * FROM ev_test WHERE pg_temp.ev_sneaky() = 1',
	'u', 'i', NULL, 'popularity')$$) ~ '^(25006|0A000):' AS train_refused;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('ev_pop', 'SELECT * FROM ev_test WHERE pg_temp.ev_sneaky() = 1', 3,
	user_col => 'u', item_col => 'i')$$) ~ '^(25006|0A000):' AS evaluate_users_refused;
SELECT count(*) AS written FROM ev_written;
-- (nor what no rollback undoes: a sequence's nextval)
CREATE SEQUENCE ev_seq;
CREATE FUNCTION pg_temp.ev_sneaky_seq() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('transaction_read_only', NULL, true);
	PERFORM nextval('ev_seq');
	PERFORM set_config('transaction_read_only', 'on', true);
	RETURN 1;
END $$;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('ev_pop', 'SELECT * FROM ev_test WHERE pg_temp.ev_sneaky_seq() = 1', 3,
	user_col => 'u', item_col => 'i')$$) ~ '^(25006|0A000):' AS evaluate_users_refused;
SELECT pg_temp.try($$SELECT count(*) FROM recsys.evaluate('ev_pop', 'SELECT * FROM ev_test WHERE pg_temp.ev_sneaky_seq() = 1', 3,
	user_col => 'u', item_col => 'i')$$) ~ '^(25006|0A000):' AS evaluate_refused;
SELECT pg_temp.try($$SELECT * FROM recsys.split('SELECT * FROM ev_test WHERE pg_temp.ev_sneaky_seq() = 1',
	'u', 'i', train_table => 'ev_ro5_train', test_table => 'ev_ro5_test', "temporary" => true)$$) ~ '^(25006|0A000):' AS split_refused;
SELECT last_value, is_called FROM ev_seq;
DROP SEQUENCE ev_seq;
SHOW transaction_read_only;
-- and after the reads, refused or not, RESET is PostgreSQL's as ever
SELECT reset_val FROM pg_settings WHERE name = 'transaction_read_only';
DROP TABLE ev_written, ev_rw2;
