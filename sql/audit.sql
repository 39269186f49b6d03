-- Fairness audits: recsys.audit_error and recsys.audit_ranking on generated
-- data.  A planted difference (extra rating noise for one gender) is found
-- with p < 0.001; data without it gives p > 0.05 (fixed seeds).  Per-group
-- values are checked against the same numbers computed independently with
-- recsys.predict() row by row and recsys.evaluate_users(), and the tests
-- against the statistics aggregates (themselves checked against SciPy in
-- the stats test).
SET extra_float_digits = 0;

-- the F group's ratings get noise sigma 1.5 instead of 0.5
SELECT relation, "rows" FROM recsys.generate_dataset('au_noisy', users => 600, items => 200,
	interactions => 24000, seed => 7, noisy_gender => 'F', noisy_sigma => 1.5);
SELECT relation, "rows" FROM recsys.generate_dataset('au_fair', users => 600, items => 200,
	interactions => 24000, seed => 11);
SELECT part, "rows", users FROM recsys.split('au_noisy_interactions', 'user_id', 'item_id',
	method => 'per_user', test_fraction => 0.2, seed => 1);
SELECT part, "rows", users FROM recsys.split('au_fair_interactions', 'user_id', 'item_id',
	method => 'per_user', test_fraction => 0.2, seed => 1);
SELECT model, version, users, items FROM recsys.train('au_noisy', 'au_noisy_interactions_train',
	'user_id', 'item_id', 'rating', 'als', '{"factors": 8, "iterations": 10}');
SELECT model, version, users, items FROM recsys.train('au_fair', 'au_fair_interactions_train',
	'user_id', 'item_id', 'rating', 'als', '{"factors": 8, "iterations": 10}');

-- planted noise: F's RMSE is about three times M's; every test says so
SELECT group_key, n, round(rmse::numeric, 3) AS rmse, round(mae::numeric, 3) AS mae,
	   round(mean_error::numeric, 3) AS mean_error, tested,
	   anova_df_between AS df1, anova_df_within AS df2,
	   anova_p < 0.001 AS anova_significant, kruskal_p < 0.001 AS kruskal_significant,
	   kruskal_df, welch_t IS NULL AS no_welch,
	   round(disparity_ratio::numeric, 3) AS ratio, round(disparity_difference::numeric, 3) AS difference
FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'SELECT user_id, gender FROM au_noisy_users')
ORDER BY group_key;

-- no planted difference: nothing significant
SELECT group_key, n, round(rmse::numeric, 3) AS rmse, tested,
	   round(anova_p::numeric, 3) AS anova_p, round(kruskal_p::numeric, 3) AS kruskal_p,
	   anova_p > 0.05 AND kruskal_p > 0.05 AS not_significant,
	   round(disparity_ratio::numeric, 3) AS ratio
FROM recsys.audit_error('au_fair', 'au_fair_interactions_test', 'au_fair_users')
ORDER BY group_key;

-- the same numbers, computed independently: predict() row by row, then
-- the aggregates on the squared errors
CREATE TEMP TABLE au_err AS
SELECT u.gender AS g, recsys.predict('au_noisy', t.user_id, t.item_id) - t.rating AS e
FROM au_noisy_interactions_test t JOIN au_noisy_users u USING (user_id);
CREATE TEMP TABLE au_got AS
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'SELECT user_id, gender FROM au_noisy_users');
SELECT g.group_key, g.n = r.n AS n_same,
	   abs(g.rmse - r.rmse) < 1e-9 AS rmse_same, abs(g.mae - r.mae) < 1e-9 AS mae_same,
	   abs(g.mean_error - r.me) < 1e-9 AS mean_error_same
FROM au_got g JOIN (SELECT g, count(*) AS n, sqrt(avg(e * e)) AS rmse, avg(abs(e)) AS mae, avg(e) AS me
					FROM au_err GROUP BY g) r ON r.g = g.group_key
ORDER BY 1;
SELECT abs(g.anova_f / (a.x).statistic - 1) < 1e-9 AS f_same,
	   abs(g.anova_p / (a.x).p_value - 1) < 1e-6 AS p_same,
	   abs(g.kruskal_h / (k.x).statistic - 1) < 1e-9 AS h_same,
	   round((a.x).statistic::numeric, 2) AS f, round((k.x).statistic::numeric, 2) AS h
FROM (SELECT * FROM au_got LIMIT 1) g,
	 (SELECT recsys.anova(g, e * e) AS x FROM au_err) a,
	 (SELECT recsys.kruskal_wallis(g, e * e) AS x FROM au_err) k;

-- two groups: Welch's t (F minus M); absolute errors; bootstrap intervals
-- (seeded: the same twice; they bracket each group's RMSE)
SELECT group_key, n, round(rmse::numeric, 3) AS rmse, round(mae::numeric, 3) AS mae,
	   round(welch_t::numeric, 2) AS welch_t, round(welch_df::numeric, 1) AS welch_df,
	   welch_p < 0.001 AS welch_significant,
	   round(disparity_ratio::numeric, 3) AS mae_ratio
FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test',
	'SELECT user_id, gender FROM au_noisy_users WHERE gender <> ''X''', error => 'absolute')
ORDER BY group_key;
SELECT abs(w.welch_t / (x.t).statistic - 1) < 1e-9 AS welch_same, round((x.t).df::numeric, 1) AS df
FROM (SELECT welch_t FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test',
	'SELECT user_id, gender FROM au_noisy_users WHERE gender <> ''X''', error => 'absolute') LIMIT 1) w,
	 (SELECT recsys.welch_t_test(g, abs(e)) AS t FROM au_err WHERE g <> 'X') x;
CREATE TEMP TABLE au_boot AS
SELECT group_key, rmse, rmse_low, rmse_high
FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test',
	'SELECT user_id, gender FROM au_noisy_users', bootstrap => 200, seed => 5);
SELECT group_key, rmse_low < rmse AND rmse < rmse_high AS brackets,
	   round((rmse_high - rmse_low)::numeric, 2) AS width
FROM au_boot ORDER BY 1;
SELECT count(*) AS same_intervals
FROM au_boot b JOIN recsys.audit_error('au_noisy', 'au_noisy_interactions_test',
	'SELECT user_id, gender FROM au_noisy_users', bootstrap => 200, seed => 5) c
  ON c.group_key = b.group_key AND c.rmse_low = b.rmse_low AND c.rmse_high = b.rmse_high;
SELECT count(*) AS other_seed_differs
FROM au_boot b JOIN recsys.audit_error('au_noisy', 'au_noisy_interactions_test',
	'SELECT user_id, gender FROM au_noisy_users', bootstrap => 200, seed => 6) c
  ON c.group_key = b.group_key AND c.rmse_low <> b.rmse_low;

-- ranking: per-group mean NDCG@10 and recall@10 equal the means of
-- evaluate_users over the group's users, and the tests their aggregates
CREATE TEMP TABLE au_rank AS
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', 10);
SELECT group_key, metric, k, users, round(mean::numeric, 4) AS mean, tested,
	   anova_df_between, kruskal_df, round(anova_p::numeric, 3) AS anova_p,
	   round(kruskal_p::numeric, 3) AS kruskal_p
FROM au_rank ORDER BY metric, group_key;
CREATE TEMP TABLE au_users AS
SELECT u.gender AS g, e.* FROM recsys.evaluate_users('au_noisy', 'au_noisy_interactions_test', 10) e
JOIN au_noisy_users u ON u.user_id::text = e.user_key;
SELECT r.metric, bool_and(r.users = x.n AND abs(r.mean - x.mean) < 1e-12) AS means_same
FROM au_rank r JOIN (SELECT g, 'ndcg' AS metric, count(*) AS n, avg(ndcg) AS mean FROM au_users GROUP BY g
					 UNION ALL
					 SELECT g, 'recall', count(*), avg(recall) FROM au_users GROUP BY g) x
  ON x.g = r.group_key AND x.metric = r.metric
GROUP BY r.metric ORDER BY 1;
SELECT abs(r.anova_f / (a.x).statistic - 1) < 1e-9 AS ndcg_anova_same,
	   abs(r.kruskal_h / (k.x).statistic - 1) < 1e-9 AS ndcg_kruskal_same
FROM (SELECT * FROM au_rank WHERE metric = 'ndcg' LIMIT 1) r,
	 (SELECT recsys.anova(g, ndcg) AS x FROM au_users) a,
	 (SELECT recsys.kruskal_wallis(g, ndcg) AS x FROM au_users) k;

-- other metrics of evaluate_users, in the order asked for, repeats dropped
SELECT metric, count(*) AS groups, round(avg(mean)::numeric, 4) AS avg_of_means,
	   bool_and(users > 0) AS users_counted, count(DISTINCT kruskal_h) AS one_test
FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', 10,
	metrics => ARRAY['hit', 'precision', 'hit', 'rr', 'ap']) WITH ORDINALITY AS r
GROUP BY metric ORDER BY min(r.ordinality);
SELECT r.metric, bool_and(abs(r.mean - x.mean) < 1e-12) AS means_same
FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', 10,
	metrics => ARRAY['precision', 'hit']) r
JOIN (SELECT g, 'precision' AS metric, avg("precision") AS mean FROM au_users GROUP BY g
	  UNION ALL
	  SELECT g, 'hit', avg(hit) FROM au_users GROUP BY g) x
  ON x.g = r.group_key AND x.metric = r.metric
GROUP BY r.metric ORDER BY 1;

-- small and missing groups: a group with one test row (one user) is
-- reported but not tested; users with a NULL group are left out
CREATE TEMP TABLE au_groups AS
SELECT user_id, CASE WHEN user_id = 1 THEN 'solo' WHEN user_id % 10 = 0 THEN NULL ELSE gender END AS grp
FROM au_noisy_users;
CREATE TEMP VIEW au_test_solo AS
SELECT * FROM au_noisy_interactions_test t
WHERE t.user_id <> 1 OR t.item_id = (SELECT min(item_id) FROM au_noisy_interactions_test WHERE user_id = 1);
SELECT group_key, n, tested, anova_df_between, anova_df_within, kruskal_df,
	   round(disparity_ratio::numeric, 3) AS ratio
FROM recsys.audit_error('au_noisy', 'au_test_solo', 'au_groups') ORDER BY 1;
SELECT group_key, metric, users, tested, anova_df_between, kruskal_df
FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_groups', 5)
WHERE metric = 'ndcg' ORDER BY 1;
-- one group only: per-group values, no tests
SELECT group_key, n, round(rmse::numeric, 3) AS rmse, anova_p IS NULL AND welch_p IS NULL AND kruskal_p IS NULL AS no_tests
FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'SELECT user_id, ''all'' FROM au_noisy_users');
-- the test set's columns can be named; a SELECT works as the test set
SELECT group_key, n, round(rmse::numeric, 3) AS rmse
FROM recsys.audit_error('au_noisy', 'SELECT user_id AS u, item_id AS i, rating AS r FROM au_noisy_interactions_test WHERE user_id <= 100',
	'au_noisy_users', user_col => 'u', item_col => 'i', rating_col => 'r') ORDER BY 1;

-- bad input
SELECT * FROM recsys.audit_error('au_nope', 'au_noisy_interactions_test', 'au_noisy_users');
SELECT * FROM recsys.audit_error('au_noisy', NULL, 'au_noisy_users');
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', NULL);
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', error => 'cubed');
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', bootstrap => -1);
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', confidence => 1);
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'SELECT user_id FROM au_noisy_users');
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'DELETE FROM au_noisy_users');
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'au_missing_table');
SELECT * FROM recsys.audit_error('au_noisy', 'SELECT user_id + 100000 AS user_id, item_id + 100000 AS item_id, rating FROM au_noisy_interactions_test', 'au_noisy_users');
SELECT * FROM recsys.audit_error('au_noisy', 'SELECT * FROM au_noisy_interactions_test WHERE false', 'au_noisy_users');
SELECT * FROM recsys.audit_error('au_noisy', 'au_noisy_interactions_test', 'SELECT user_id + 100000, gender FROM au_noisy_users');
SELECT count(*) FROM au_noisy_users;
SELECT model, version, users, items FROM recsys.train('au_implicit', 'au_noisy_interactions_train',
	'user_id', 'item_id', 'clicks', 'ials', '{"factors": 4, "iterations": 2}');
SELECT * FROM recsys.audit_error('au_implicit', 'au_noisy_interactions_test', 'au_noisy_users');
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', 0);
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', NULL);
SELECT * FROM recsys.audit_ranking('au_nope', 'au_noisy_interactions_test', 'au_noisy_users');
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', metrics => ARRAY['ndcg', 'auc']);
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', metrics => '{}');
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'au_noisy_users', metrics => ARRAY[NULL]::text[]);
SELECT * FROM recsys.audit_ranking('au_noisy', 'au_noisy_interactions_test', 'SELECT user_id + 100000, gender FROM au_noisy_users');
