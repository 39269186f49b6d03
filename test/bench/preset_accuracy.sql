-- test/bench/preset_accuracy.sql: 5-fold RMSE on the movielens preset of
-- the generator, for a bias-only baseline, for als and svd (their
-- defaults, which choose the penalty on held-out ratings, and hand-tuned
-- settings), for svdpp (its defaults, which choose the penalty as svd
-- does) and for nmf (its defaults, and with biases).  A measurement, not a test: the
-- numbers are reported in doc/generator.md ("The movielens preset").
--
--   psql -X -d DB -v seed=42 -f test/bench/preset_accuracy.sql
--
-- DB: a database with recsys installed, where tables pa_* and models
-- pa_* may be created (and are dropped at the end).  seed: the preset's
-- seed (default 42).  About 40 s on 2 cores.
--
-- Folds: the ratings in a random order (md5 of the seed and the pair),
-- the i-th rating in fold i mod 5, as Surprise's KFold splits them (so a
-- user or an item may be missing from a training fold: recsys predicts
-- it with its bias baseline, the baseline below with the global mean and
-- the biases it has).
--
-- The bias-only baseline is Surprise's BaselineOnly: r = mu + b_u + b_i,
-- alternating least squares with reg_i 10, reg_u 15, 10 rounds (b_i
-- first), predictions clipped to [1, 5].
\set ON_ERROR_STOP on
\if :{?seed}
\else
\set seed 42
\endif
SET client_min_messages = warning;

DROP TABLE IF EXISTS pa_users, pa_items, pa_interactions, pa_folds, pa_results;
SELECT relation, rows FROM recsys.generate_dataset('pa', preset => 'movielens', seed => :seed);

CREATE TABLE pa_folds AS
SELECT user_id, item_id, rating::double precision AS rating,
	   (row_number() OVER (ORDER BY md5(:seed || ':' || user_id || ':' || item_id)) - 1) % 5 AS fold
FROM pa_interactions;
CREATE INDEX ON pa_folds (fold);
ANALYZE pa_folds;

CREATE TABLE pa_results (model text, options jsonb, fold integer, rmse double precision, seconds double precision);

-- The baseline on training folds other than f; its RMSE on fold f.
CREATE FUNCTION pg_temp.pa_baseline(f integer) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
	mu double precision;
	rmse double precision;
	round integer;
BEGIN
	CREATE TEMP TABLE pa_train ON COMMIT DROP AS
		SELECT user_id, item_id, rating FROM pa_folds WHERE fold <> f;
	SELECT avg(rating) INTO mu FROM pa_train;
	CREATE TEMP TABLE pa_bu ON COMMIT DROP AS
		SELECT DISTINCT user_id, 0::double precision AS b FROM pa_train;
	CREATE TEMP TABLE pa_bi ON COMMIT DROP AS
		SELECT DISTINCT item_id, 0::double precision AS b FROM pa_train;
	FOR round IN 1..10 LOOP
		UPDATE pa_bi SET b = s.b FROM (
			SELECT t.item_id, sum(t.rating - mu - u.b) / (10 + count(*)) AS b
			FROM pa_train t JOIN pa_bu u USING (user_id) GROUP BY t.item_id) s
		WHERE pa_bi.item_id = s.item_id;
		UPDATE pa_bu SET b = s.b FROM (
			SELECT t.user_id, sum(t.rating - mu - i.b) / (15 + count(*)) AS b
			FROM pa_train t JOIN pa_bi i USING (item_id) GROUP BY t.user_id) s
		WHERE pa_bu.user_id = s.user_id;
	END LOOP;
	SELECT sqrt(avg(power(t.rating - least(5, greatest(1,
				mu + coalesce(u.b, 0) + coalesce(i.b, 0))), 2)))
	INTO rmse
	FROM pa_folds t LEFT JOIN pa_bu u USING (user_id) LEFT JOIN pa_bi i USING (item_id)
	WHERE t.fold = f;
	DROP TABLE pa_train, pa_bu, pa_bi;
	RETURN rmse;
END
$$;

-- One recsys model on training folds other than f; its RMSE on fold f.
CREATE FUNCTION pg_temp.pa_model(algo text, opts jsonb, f integer,
								 OUT rmse double precision, OUT seconds double precision)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT r.seconds INTO seconds FROM recsys.train('pa_' || algo,
		format('SELECT user_id, item_id, rating FROM pa_folds WHERE fold <> %s', f),
		'user_id', 'item_id', 'rating', algo, opts) r;
	SELECT sqrt(avg(power(p.rating - p.prediction, 2))) INTO rmse
	FROM recsys.predictions('pa_' || algo,
		format('SELECT user_id, item_id, rating FROM pa_folds WHERE fold = %s', f)) p;
	PERFORM recsys.drop_model('pa_' || algo);
END
$$;

INSERT INTO pa_results
SELECT 'baseline', '{"reg_i": 10, "reg_u": 15, "rounds": 10}', f, pg_temp.pa_baseline(f), NULL
FROM generate_series(0, 4) f;

-- defaults, then the settings found by hand (see doc/generator.md)
INSERT INTO pa_results
SELECT c.algo, c.opts, f, m.rmse, m.seconds
FROM (VALUES
		('als', '{}'::jsonb),
		('svd', '{}'::jsonb),
		('als', '{"factors": 8, "regularization": 0.12}'::jsonb),
		('als', '{"factors": 5, "regularization": 0.1}'::jsonb),
		('svd', '{"factors": 20, "learning_rate": 0.01, "regularization": 0.1, "iterations": 30}'::jsonb),
		('svdpp', '{}'::jsonb),
		('nmf', '{}'::jsonb),
		('nmf', '{"biases": true}'::jsonb)) c(algo, opts),
	 generate_series(0, 4) f,
	 LATERAL pg_temp.pa_model(c.algo, c.opts, f) m;

SELECT model, options, round(avg(rmse)::numeric, 4) AS rmse_mean,
	   round(stddev_samp(rmse)::numeric, 4) AS rmse_sd,
	   round(avg(seconds)::numeric, 2) AS train_seconds
FROM pa_results GROUP BY model, options ORDER BY rmse_mean DESC;

DROP TABLE pa_users, pa_items, pa_interactions, pa_folds, pa_results;
