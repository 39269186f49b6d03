--
-- A/B experiments: the assignment hash (checked against values computed
-- by an independent implementation of its definition), create_experiment's
-- errors, weights honoured on 100,000 users, serving from each user's arm,
-- the report (ials against popularity: significant; two identical arms:
-- not), ending an experiment, and who sees and runs what.
--
SET search_path = public, recsys;
SET extra_float_digits = 3;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

------------------------------------------------------------------------------
-- The point of a user: FNV-1a 64 of salt, a zero byte and the key's text
-- form, SplitMix64-finalised, top 53 bits over 2^53.  The expected values
-- come from a separate implementation of that definition (not from this
-- build), so they hold on every machine.
------------------------------------------------------------------------------
SELECT recsys.experiment_point('s1', 42) = 0.6323993894749331 AS int4_key,
	   recsys.experiment_point('s1', 0::smallint) = 0.6779231922235165 AS int2_key,
	   recsys.experiment_point('', 'u1'::char(6)) = 0.850198560263705 AS char_key_no_blanks,
	   recsys.experiment_point('homepage', -7::bigint) = 0.34675344299212374 AS int8_key;
-- one key, one point, whatever its type: the catalog's text form
SELECT count(DISTINCT p) AS points FROM (VALUES
	(recsys.experiment_point('s1', 42)), (recsys.experiment_point('s1', 42::bigint)),
	(recsys.experiment_point('s1', 42::smallint)), (recsys.experiment_point('s1', '42'::text)),
	(recsys.experiment_point('s1', '42'::varchar)), (recsys.experiment_point('s1', '42  '::char(4)))) x(p);
-- the salt matters; points lie in [0, 1); NULL in, NULL out
SELECT recsys.experiment_point('s1', 42) <> recsys.experiment_point('s2', 42) AS salt_matters,
	   (SELECT min(recsys.experiment_point('s', g)) >= 0 AND max(recsys.experiment_point('s', g)) < 1
		  FROM generate_series(1, 10000) g) AS in_unit_interval,
	   recsys.experiment_point('s1', NULL::integer) IS NULL AS null_key;
SELECT pg_temp.try($$SELECT recsys.experiment_point('s1', 1.5)$$);
SELECT pg_temp.try($$SELECT recsys.experiment_point('s1', now())$$);

------------------------------------------------------------------------------
-- Data and models
------------------------------------------------------------------------------
SELECT relation, rows FROM recsys.generate_dataset('xp', users => 2000, items => 300,
	interactions => 60000, seed => 5);
SELECT part, rows, users FROM recsys.split('xp_interactions', 'user_id', 'item_id', 'per_user', 0.2, seed => 3);
SELECT model, version FROM recsys.train('xp_ials', 'xp_interactions_train', 'user_id', 'item_id', NULL, 'ials',
	'{"factors": 16, "iterations": 10, "seed": 1}');
SELECT model, version FROM recsys.train('xp_pop', 'xp_interactions_train', 'user_id', 'item_id', NULL, 'popularity');

------------------------------------------------------------------------------
-- create_experiment: the arms, and bad input
------------------------------------------------------------------------------
SELECT * FROM recsys.create_experiment('xp_ab',
	'[{"arm": "popularity", "model": "xp_pop"}, {"arm": "ials", "model": "xp_ials", "weight": 1}]', salt => 'ab-1');
SELECT name, salt, owner, models, created_at <= now() AS created, ended_at FROM recsys.experiments
 WHERE name LIKE 'xp\_%';
SELECT experiment, position, arm, model, version, weight, share, lower_bound, upper_bound
  FROM recsys.experiment_arms WHERE experiment LIKE 'xp\_%' ORDER BY experiment, position;
-- weights are relative and normalised; version null is the active version
SELECT * FROM recsys.create_experiment('xp_w',
	'[{"arm": "a", "model": "xp_pop", "weight": 0.5}, {"arm": "b", "model": "xp_pop", "weight": 1, "version": null},
	  {"arm": "c", "model": "xp_ials", "weight": 3.5, "version": 1}]', salt => 'w');
SELECT arm, lower_bound, upper_bound FROM recsys.experiment_arms WHERE experiment = 'xp_w' ORDER BY position;
-- a version written 1.0 is version 1
SELECT arm, version FROM recsys.create_experiment('xp_v', '[{"arm": "a", "model": "xp_ials", "version": 1.0}]', salt => 'v');
-- a random salt when none is given
SELECT arm, share FROM recsys.create_experiment('xp_salted', '[{"arm": "only", "model": "xp_pop"}]');
SELECT length(salt) AS salt_length FROM recsys.experiments WHERE name = 'xp_salted';

\set VERBOSITY default
SELECT * FROM recsys.create_experiment(NULL, '[{"arm": "a", "model": "xp_pop"}]');
SELECT * FROM recsys.create_experiment('xp_bad', '{"arm": "a", "model": "xp_pop"}');
SELECT * FROM recsys.create_experiment('xp_bad', '[]');
SELECT * FROM recsys.create_experiment('xp_bad', '["xp_pop"]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "share": 1}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a"}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"model": "xp_pop"}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop"}, {"arm": "a", "model": "xp_ials"}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "weight": 0}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "weight": -1}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "weight": "1"}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "version": 1.5}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "version": 7}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "no_such_model"}]');
SELECT * FROM recsys.create_experiment('', '[{"arm": "a", "model": "xp_pop"}]');
SELECT * FROM recsys.create_experiment('xp_ab', '[{"arm": "a", "model": "xp_pop"}]');
-- the internal writer checks again what keeps the catalog sound
SELECT recsys.experiment_store('xp_bad', 's', '{a,b}', '{xp_pop,xp_pop}', '{NULL,NULL}', '{1,0}');
SELECT recsys.experiment_store('xp_bad', 's', '{a,b}', '{xp_pop}', '{NULL,NULL}', '{1,1}');
SELECT recsys.experiment_store('xp_bad', 's', '{a}', '{xp_pop}', '{NULL}', '{Infinity}');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop"}, {"arm": "b", "model": "xp_pop", "weight": 1e-320}]');
SELECT * FROM recsys.create_experiment('xp_bad', '[{"arm": "a", "model": "xp_pop", "weight": 1e400}]');
\set VERBOSITY terse
-- nothing of the failed ones was written
SELECT count(*) AS bad_experiments FROM recsys.experiments WHERE name = 'xp_bad';

------------------------------------------------------------------------------
-- assign(): weights honoured within 1% on 100,000 users, the same answer
-- every time and for every key type, and the interval of the user's point
------------------------------------------------------------------------------
SELECT * FROM recsys.create_experiment('xp_shares',
	'[{"arm": "a", "model": "xp_pop", "weight": 1}, {"arm": "b", "model": "xp_pop", "weight": 2},
	  {"arm": "c", "model": "xp_ials", "weight": 7}]', salt => 'shares');
CREATE TEMPORARY TABLE xp_assigned AS
	SELECT g AS user_id, recsys.assign('xp_shares', g) AS arm FROM generate_series(1, 100000) g;
SELECT x.arm, a.share, abs(x.n / 100000.0 - a.share) < 0.01 AS within_1_percent
  FROM (SELECT arm, count(*) AS n FROM xp_assigned GROUP BY arm) x
  JOIN recsys.experiment_arms a ON a.experiment = 'xp_shares' AND a.arm = x.arm
 ORDER BY x.arm;
-- stable: again, as bigint, as text; and each user in the arm whose
-- interval holds the user's point
SELECT count(*) FILTER (WHERE recsys.assign('xp_shares', t.user_id) <> t.arm) AS changed,
	   count(*) FILTER (WHERE recsys.assign('xp_shares', t.user_id::bigint) <> t.arm) AS changed_as_bigint,
	   count(*) FILTER (WHERE recsys.assign('xp_shares', t.user_id::text) <> t.arm) AS changed_as_text,
	   count(*) FILTER (WHERE a.arm IS DISTINCT FROM t.arm) AS not_its_interval
  FROM xp_assigned t
  LEFT JOIN recsys.experiment_arms a ON a.experiment = 'xp_shares'
	   AND recsys.experiment_point('shares', t.user_id) >= a.lower_bound
	   AND recsys.experiment_point('shares', t.user_id) < a.upper_bound;
-- assignments of fixed users (these hold on every server and machine)
SELECT u, recsys.assign('xp_shares', u) FROM (VALUES (1), (2), (3), (42), (99999)) v(u);
-- two experiments on the same users are independent (different salts)
SELECT abs(count(*) FILTER (WHERE t.arm = 'c' AND recsys.assign('xp_ab', t.user_id) = 'ials') / 100000.0 - 0.7 * 0.5) < 0.01
	   AS independent
  FROM xp_assigned t;
SELECT recsys.assign('xp_shares', NULL::integer) IS NULL AS null_user;
SELECT pg_temp.try($$SELECT recsys.assign('no_such_experiment', 1)$$);
SELECT pg_temp.try($$SELECT recsys.assign('xp_shares', 1.5)$$);

------------------------------------------------------------------------------
-- recommend_experiment(): each user served from their arm
------------------------------------------------------------------------------
SELECT * FROM recsys.recommend_experiment('xp_ab', 7, 3);
SELECT count(*) AS rows_differ FROM (
	SELECT u, r.arm, r.item, r.score, r.rank
	  FROM generate_series(1, 50) u, recsys.recommend_experiment('xp_ab', u, 5) r
	EXCEPT
	SELECT u, recsys.assign('xp_ab', u), r.item, r.score, r.rank
	  FROM generate_series(1, 50) u,
		   recsys.recommend(CASE recsys.assign('xp_ab', u) WHEN 'ials' THEN 'xp_ials' ELSE 'xp_pop' END, u, 5) r) x;
SELECT count(DISTINCT arm) AS arms_served, count(*) AS rows
  FROM generate_series(1, 50) u, recsys.recommend_experiment('xp_ab', u, 5);
-- items come back in the type of the user key
SELECT pg_typeof(item) FROM recsys.recommend_experiment('xp_ab', 7::bigint, 1);
-- an arm with a fixed version serves while that version is active
SELECT count(*) AS rows FROM generate_series(1, 20) u, recsys.recommend_experiment('xp_w', u, 2);

------------------------------------------------------------------------------
-- experiment_report(): ials against popularity, each on its own users
------------------------------------------------------------------------------
CREATE TEMPORARY TABLE xp_report AS
	SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 10);
SELECT arm, model, version, users, verdict FROM xp_report;
-- every test user known to the model is measured in exactly one arm
SELECT (SELECT sum(users) FROM xp_report) = (SELECT count(DISTINCT user_id) FROM xp_interactions_test) AS all_users_once;
SELECT arm, p_value < 0.001 AS p_below_0_001, difference > 0 AS ials_better, ci_low > 0 AS interval_above_zero,
	   ci_low <= difference AND difference <= ci_high AS interval_holds_difference,
	   statistic > 0 AS t_positive, df > 1000 AS df
  FROM xp_report WHERE arm = 'ials';
-- the arms' means are those of evaluate_users on their own users
SELECT count(*) AS means_differ FROM xp_report r
 WHERE abs(r.mean - (SELECT avg(e.ndcg) FROM recsys.evaluate_users(r.model, 'xp_interactions_test', 10) e
					 WHERE recsys.assign('xp_ab', e.user_key) = r.arm)) > 1e-12;
-- the test and interval are recsys.welch_t_test and the bootstrap of those values
SELECT abs(r.p_value - w.p_value) < 1e-12 AS welch_p, abs(r.statistic + w.statistic) < 1e-9 AS welch_t
  FROM xp_report r,
	   (SELECT (recsys.welch_t_test(CASE recsys.assign('xp_ab', e.user_key) WHEN 'popularity' THEN '1' ELSE '2' END, e.ndcg)).*
		  FROM (SELECT user_key, ndcg FROM recsys.evaluate_users('xp_pop', 'xp_interactions_test', 10)
				 WHERE recsys.assign('xp_ab', user_key) = 'popularity'
				UNION ALL
				SELECT user_key, ndcg FROM recsys.evaluate_users('xp_ials', 'xp_interactions_test', 10)
				 WHERE recsys.assign('xp_ab', user_key) = 'ials') e) w
 WHERE r.arm = 'ials';
-- deterministic: the same report again, to the last digit
SELECT count(*) AS rows_differ FROM (
	SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 10)
	EXCEPT SELECT * FROM xp_report) x;
-- another metric, another seed: another interval, the same test
SELECT arm, verdict FROM recsys.experiment_report('xp_ab', 'SELECT * FROM xp_interactions_test', 5,
	metric => 'recall', alpha => 0.01, seed => 7);

-- two identical arms: no significant difference, said plainly
SELECT * FROM recsys.create_experiment('xp_aa',
	'[{"arm": "a", "model": "xp_pop"}, {"arm": "b", "model": "xp_pop"}]', salt => 'aa-1');
SELECT arm, users > 900 AS users, p_value > 0.05 AS p_above_alpha,
	   ci_low < 0 AND 0 < ci_high AS interval_holds_zero, verdict
  FROM recsys.experiment_report('xp_aa', 'xp_interactions_test', 10, seed => 42);
SELECT count(*) AS rows_differ FROM (
	SELECT * FROM recsys.experiment_report('xp_aa', 'xp_interactions_test', 10, seed => 42)
	EXCEPT SELECT * FROM recsys.experiment_report('xp_aa', 'xp_interactions_test', 10, seed => 42)) x;

\set VERBOSITY default
SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 10, metric => 'auc');
SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 10, alpha => 1);
SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 10, resamples => 5);
SELECT * FROM recsys.experiment_report('no_such_experiment', 'xp_interactions_test', 10);
SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 0);
\set VERBOSITY terse

-- the bootstrap alone: constant groups give their difference; a seed
-- gives one interval; resamples and alpha are checked
SELECT recsys.bootstrap_mean_difference('{1,1,1}', '{3,3}') AS constant,
	   recsys.bootstrap_mean_difference('{1,2,3,4}', '{2,3,4,5,6}', 500, 1)
		 = recsys.bootstrap_mean_difference('{1,2,3,4}', '{2,3,4,5,6}', 500, 1) AS same_seed,
	   recsys.bootstrap_mean_difference('{1,2,3,4}', '{2,3,4,5,6}', 500, 1)
		 <> recsys.bootstrap_mean_difference('{1,2,3,4}', '{2,3,4,5,6}', 500, 2) AS other_seed,
	   recsys.bootstrap_mean_difference('{}', '{1}') IS NULL AS empty_group,
	   recsys.bootstrap_mean_difference('{NULL,1}', '{2,NULL}') AS nulls_left_out;
SELECT pg_temp.try($$SELECT recsys.bootstrap_mean_difference('{1}', '{2}', 5)$$);
SELECT pg_temp.try($$SELECT recsys.bootstrap_mean_difference('{1}', '{2}', 100, 1, 0)$$);
SELECT pg_temp.try($$SELECT recsys.bootstrap_mean_difference('{1}', '{NaN}')$$);
-- finite values whose resampled means overflow: an error, not -Infinity
SELECT pg_temp.try($$SELECT recsys.bootstrap_mean_difference('{1e308,1e308}', '{-1e308,-1e308}', 10, 1, 0.5)$$);

------------------------------------------------------------------------------
-- Privileges: a role sees and runs the experiments it owns or whose models
-- it may all use
------------------------------------------------------------------------------
CREATE ROLE xp_analyst;
GRANT SELECT ON xp_interactions_test TO xp_analyst;
SET ROLE xp_analyst;
SELECT count(*) AS experiments_seen FROM recsys.experiments WHERE name LIKE 'xp\_%';
SELECT count(*) AS arms_seen FROM recsys.experiment_arms WHERE experiment LIKE 'xp\_%';
SELECT pg_temp.try($$SELECT recsys.assign('xp_ab', 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_experiment('xp_ab', 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.create_experiment('xp_mine', '[{"arm": "a", "model": "xp_pop"}]')$$);
SELECT pg_temp.try($$SELECT recsys.experiment_store('xp_mine', 's', '{a}', '{xp_pop}', '{NULL}', '{1}')$$);
SELECT pg_temp.try($$INSERT INTO recsys.experiments VALUES ('xp_mine', 's', 'xp_analyst', '{}')$$);
RESET ROLE;
-- granted one of the two models: the experiments of that model alone
SELECT recsys.grant_model('xp_pop', 'xp_analyst');
SET ROLE xp_analyst;
SELECT name FROM recsys.experiments WHERE name LIKE 'xp\_%' ORDER BY name;
SELECT DISTINCT experiment FROM recsys.experiment_arms WHERE experiment LIKE 'xp\_%' ORDER BY 1;
SELECT recsys.assign('xp_aa', 1) = (SELECT recsys.assign('xp_aa', 1)) AS assigns;
SELECT pg_temp.try($$SELECT recsys.assign('xp_ab', 1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.create_experiment('xp_mine', '[{"arm": "a", "model": "xp_pop"}, {"arm": "b", "model": "xp_ials"}]')$$);
-- a grantee may not give an arm a fixed version: it would pin the owner's
-- version (keep it from pruning) for as long as the experiment runs
SELECT pg_temp.try($$SELECT * FROM recsys.create_experiment('xp_squat', '[{"arm": "a", "model": "xp_pop", "version": 1}]')$$);
SELECT pg_temp.try($$SELECT recsys.experiment_store('xp_squat', 's', '{a}', '{xp_pop}', '{1}', '{1}')$$);
SELECT count(*) AS squat_pins FROM recsys.version_pins WHERE reason = 'experiment xp_squat';
SELECT * FROM recsys.create_experiment('xp_mine', '[{"arm": "a", "model": "xp_pop"}]', 'mine');
SELECT name, owner FROM recsys.experiments WHERE name = 'xp_mine';
-- not the owner: may not end another's experiment
SELECT pg_temp.try($$SELECT recsys.end_experiment('xp_aa')$$);
RESET ROLE;
-- its owner sees it still when the grant is gone
SELECT recsys.revoke_model('xp_pop', 'xp_analyst');
SET ROLE xp_analyst;
SELECT name FROM recsys.experiments WHERE name LIKE 'xp\_%' ORDER BY name;
RESET ROLE;
-- a model a running experiment serves cannot be dropped (its name could be
-- trained again by anyone, and the experiment serve that model)
SELECT pg_temp.try($$SELECT recsys.drop_model('xp_pop')$$);
SET ROLE xp_analyst;
SELECT recsys.end_experiment('xp_mine') <= now() AS ended_own;
RESET ROLE;

------------------------------------------------------------------------------
-- end_experiment(): history kept
------------------------------------------------------------------------------
SELECT recsys.end_experiment('xp_ab') <= now() AS ended;
SELECT name, ended_at IS NOT NULL AS ended FROM recsys.experiments WHERE name = 'xp_ab';
SELECT count(*) AS arms_kept FROM recsys.experiment_arms WHERE experiment = 'xp_ab';
-- users keep their arms; the report still runs, with the same numbers
SELECT count(*) FILTER (WHERE recsys.assign('xp_shares', t.user_id) <> t.arm) AS changed FROM xp_assigned t;
SELECT recsys.end_experiment('xp_shares') IS NOT NULL AS ended;
SELECT count(*) FILTER (WHERE recsys.assign('xp_shares', t.user_id) <> t.arm) AS changed_after_end FROM xp_assigned t;
SELECT count(*) AS rows_differ FROM (
	SELECT * FROM recsys.experiment_report('xp_ab', 'xp_interactions_test', 10)
	EXCEPT SELECT * FROM xp_report) x;
\set VERBOSITY default
SELECT * FROM recsys.recommend_experiment('xp_ab', 7, 3);
SELECT recsys.end_experiment('xp_ab');
SELECT recsys.end_experiment('no_such_experiment');
\set VERBOSITY terse

-- an arm with a fixed version pins it, and is served and measured at that
-- version when another one is active
SELECT model, version, reason FROM recsys.version_pins ORDER BY model, version, reason;
SELECT version FROM recsys.retrain('xp_ials');
SELECT count(*) AS rows_differ FROM (
	(SELECT u, e.item, e.score, e.rank FROM generate_series(1, 40) u,
			recsys.recommend_experiment('xp_w', u, 2) e WHERE e.arm = 'c'
	 EXCEPT
	 SELECT u, r.item, r.score, r.rank FROM generate_series(1, 40) u,
			recsys.recommend('xp_ials', u, 2, version => 1) r WHERE recsys.assign('xp_w', u) = 'c')
	UNION ALL
	(SELECT u, r.item, r.score, r.rank FROM generate_series(1, 40) u,
			recsys.recommend('xp_ials', u, 2, version => 1) r WHERE recsys.assign('xp_w', u) = 'c'
	 EXCEPT
	 SELECT u, e.item, e.score, e.rank FROM generate_series(1, 40) u,
			recsys.recommend_experiment('xp_w', u, 2) e WHERE e.arm = 'c')) x;
SELECT count(*) FILTER (WHERE e.arm = 'c') > 0 AS arm_c_served
  FROM generate_series(1, 40) u, recsys.recommend_experiment('xp_w', u, 2) e;
SELECT abs(r.mean - (SELECT avg(e.ndcg) FROM recsys.evaluate_users('xp_ials', 'xp_interactions_test', 10, version => 1) e
					 WHERE recsys.assign('xp_w', e.user_key) = 'c')) < 1e-12 AS arm_c_measured_at_version_1
  FROM recsys.experiment_report('xp_w', 'xp_interactions_test') r WHERE r.arm = 'c';
-- ending the experiment releases its pins
SELECT recsys.end_experiment('xp_w') IS NOT NULL AS ended;
SELECT count(*) AS pins_left FROM recsys.version_pins WHERE reason = 'experiment xp_w';

REVOKE SELECT ON xp_interactions_test FROM xp_analyst;
DROP ROLE xp_analyst;
