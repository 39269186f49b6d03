--
-- nmf: nonnegative matrix factorisation of ratings (src/core/als.c,
-- rs_train_nmf).  r^ = p_u.q_i with every factor >= 0 by default; with
-- "biases": true mu + b_u + b_i + p_u.q_i; with "global_mean": true mu +
-- p_u.q_i.  The stored factors are nonnegative and some constraints are
-- active; the last item step is optimal (its Karush-Kuhn-Tucker conditions
-- hold for every item and factor, computed here from the stored numbers);
-- every way of serving computes the same score; fold-in and update() solve
-- a user under the same constraint; accuracy on planted and on
-- MovieLens-shaped data; bad input.  The training itself is checked
-- against SciPy's NNLS in test/ref/nmf_ref.py (test/core check).
--
SET search_path = public, recsys;
SET extra_float_digits = 0;
SET client_min_messages = warning;

-- 40 users x 30 items, 2/3 of the pairs rated 1-5, times for update()
CREATE TABLE nmf_src (u integer, i integer, r real, t timestamptz);
INSERT INTO nmf_src
SELECT u, i, 1 + (u * 7 + i * 3 + (u * i) % 4) % 5,
	   timestamptz '2024-01-01 00:00+00' + (u * 31 + i) * interval '1 minute'
FROM generate_series(1, 40) u, generate_series(1, 30) i WHERE (u + 2 * i) % 3 <> 0;

CREATE FUNCTION pg_temp.dot(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT sum(x::float8 * y) FROM unnest(a, b) t(x, y) $$;

-- three models, k = 3, lambda 0.1 (the equations below use it), lambda_b 0.05
SELECT m, t.version, t.users, t.items, t.interactions
FROM (VALUES ('nmf_plain', '{}'),
			 ('nmf_bias', '{"biases": true, "bias_regularization": 0.05}'),
			 ('nmf_mean', '{"global_mean": true}')) v(m, o),
	LATERAL recsys.train(m, 'nmf_src', 'u', 'i', 'r', 'nmf',
		o::jsonb || '{"factors": 3, "iterations": 30, "seed": 3, "time_column": "t", "regularization": 0.1}') t
ORDER BY m;

-- (1) the record; stored biases only with "biases": true; mu only with
-- biases or "global_mean": true
SELECT v.model, v.algorithm, v.params->'biases' AS biases, v.params->'global_mean' AS global_mean,
	   v.params->'bias_regularization' AS bias_reg, v.params->'factors' AS factors,
	   abs(v.global_mean - (SELECT avg(r) FROM nmf_src)) < 1e-6 AS mean_is_avg,
	   v.global_mean = 0 AS mean_is_0,
	   (SELECT count(bias) FROM recsys.user_factors f WHERE f.model = v.model) AS user_biases,
	   (SELECT count(bias) FROM recsys.item_factors f WHERE f.model = v.model) AS item_biases
FROM recsys.model_versions v WHERE v.model LIKE 'nmf%' ORDER BY v.model;
SELECT recsys.training_options('nmf') - 'threads' AS defaults;

CREATE TEMP TABLE nmf_uf AS
SELECT model, user_key::int AS u, coalesce(bias, 0) AS b, factors::real[] AS p FROM recsys.user_factors WHERE model LIKE 'nmf%';
CREATE TEMP TABLE nmf_if AS
SELECT model, item_key::int AS i, coalesce(bias, 0) AS b, factors::real[] AS q FROM recsys.item_factors WHERE model LIKE 'nmf%';
CREATE TEMP TABLE nmf_mu AS SELECT model, global_mean AS mu FROM recsys.model_versions WHERE model LIKE 'nmf%';

-- (2) every factor >= 0, and the constraint is active: some are exactly 0
SELECT model, count(*) AS factors, min(x) >= 0 AS nonnegative, count(*) FILTER (WHERE x = 0) > 0 AS some_at_zero
FROM (SELECT model, unnest(p) AS x FROM nmf_uf UNION ALL SELECT model, unnest(q) FROM nmf_if) f
GROUP BY model ORDER BY model;

-- (3) predict() is mu + b_u + b_i + p_u.q_i for all 1200 pairs
SELECT uf.model, count(*) AS pairs,
	   max(abs(recsys.predict(uf.model, uf.u, itf.i) - (mu.mu + uf.b + itf.b + pg_temp.dot(uf.p, itf.q)))) < 1e-5 AS predict_is_model
FROM nmf_uf uf JOIN nmf_if itf USING (model) JOIN nmf_mu mu USING (model)
GROUP BY uf.model ORDER BY uf.model;
-- recommend() and predictions() score the same way
SELECT uf.model, count(*) AS rows,
	   max(abs(r.score - (mu.mu + uf.b + itf.b + pg_temp.dot(uf.p, itf.q)))) < 1e-5 AS recommend_is_model
FROM nmf_uf uf JOIN nmf_mu mu USING (model)
	CROSS JOIN LATERAL recsys.recommend(uf.model, uf.u, 5) r
	JOIN nmf_if itf ON itf.model = uf.model AND itf.i = r.item
WHERE uf.u <= 10 GROUP BY uf.model ORDER BY uf.model;
SELECT count(*) AS rows,
	   max(abs(p.prediction - recsys.predict('nmf_bias', p.user_key::int, p.item_key::int))) = 0 AS predictions_are_predict
FROM recsys.predictions('nmf_bias', 'SELECT u, i, r FROM nmf_src WHERE u <= 5') p;
SELECT metric, value < 1.5 AS plausible FROM recsys.evaluate('nmf_plain', 'SELECT u, i, r FROM nmf_src WHERE u <= 5')
WHERE metric IN ('rmse', 'mae') ORDER BY metric;
-- similar_items(): the cosine of the item factors, >= 0 as theirs are
SELECT bool_and(abs(s.similarity - pg_temp.dot(a.q, b.q) / sqrt(pg_temp.dot(a.q, a.q) * pg_temp.dot(b.q, b.q))) < 1e-5) AS cosine,
	   bool_and(s.similarity >= 0) AS not_negative
FROM recsys.similar_items('nmf_plain', 1, 5) s
	JOIN nmf_if a ON a.model = 'nmf_plain' AND a.i = 1
	JOIN nmf_if b ON b.model = 'nmf_plain' AND b.i = s.item;

-- (4) the last item step is optimal.  With e_ui = mu + b_u + b_i + p_u.q_i
-- - r_ui over the item's n_i ratings, the gradient of the objective in
-- q_ic is g = sum_u e_ui p_uc + 0.1 n_i q_ic (and in b_i: sum_u e_ui +
-- 0.05 n_i b_i): 0 where q_ic > 0, >= 0 where q_ic = 0 (else moving off 0
-- would lower it).  Checked for every item and factor (tolerance 1e-3
-- against gradient terms of about 10-100).
CREATE TEMP TABLE nmf_grad AS
SELECT itf.model, itf.i, c, itf.q[c] AS q,
	   sum((mu.mu + uf.b + itf.b + pg_temp.dot(uf.p, itf.q) - s.r) * uf.p[c]) + 0.1 * count(*) * itf.q[c] AS g,
	   sum(abs(s.r * uf.p[c])) AS size
FROM nmf_if itf JOIN nmf_mu mu USING (model)
	JOIN nmf_src s ON s.i = itf.i
	JOIN nmf_uf uf ON uf.model = itf.model AND uf.u = s.u,
	generate_series(1, 3) c
GROUP BY itf.model, itf.i, c, itf.q, itf.b, mu.mu;
SELECT model, count(*) AS conditions,
	   max(abs(g)) FILTER (WHERE q > 0) < 1e-3 AS zero_gradient_where_positive,
	   coalesce(min(g) FILTER (WHERE q = 0) > -1e-3, true) AS no_descent_where_zero,
	   count(*) FILTER (WHERE q = 0) AS at_zero,
	   max(size) > 10 AS not_trivial
FROM nmf_grad GROUP BY model ORDER BY model;
SELECT itf.model, abs(sum(mu.mu + uf.b + itf.b + pg_temp.dot(uf.p, itf.q) - s.r) + 0.05 * count(*) * itf.b) < 1e-3 AS bias_gradient_zero
FROM nmf_if itf JOIN nmf_mu mu USING (model)
	JOIN nmf_src s ON s.i = itf.i
	JOIN nmf_uf uf ON uf.model = itf.model AND uf.u = s.u
WHERE itf.model = 'nmf_bias' AND itf.i = 4
GROUP BY itf.model, itf.b;
-- ... which an unconstrained (als) solution of the same system breaks
SELECT version FROM recsys.train('nmf_als', 'nmf_src', 'u', 'i', 'r', 'als',
	'{"factors": 3, "iterations": 30, "seed": 3, "regularization": 0.1, "biases": false, "global_mean": false, "solver": "cholesky"}');
SELECT min(x) < 0 AS als_has_negative_factors
FROM recsys.item_factors f, unnest(f.factors::real[]) x WHERE f.model = 'nmf_als';

-- (5) the same model from 1 and 2 threads, and from fit()
SELECT version FROM recsys.train('nmf_t1', 'nmf_src', 'u', 'i', 'r', 'nmf', '{"factors": 3, "seed": 3, "threads": 1}');
SELECT version FROM recsys.train('nmf_t2', 'nmf_src', 'u', 'i', 'r', 'nmf', '{"factors": 3, "seed": 3, "threads": 2}');
SELECT count(*) AS rows, bool_and(a.factors = b.factors) AS same_factors
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'nmf_t1' AND b.model = 'nmf_t2';
SELECT (recsys.fit('nmf_fit', u, i, r, '{"algorithm": "nmf", "factors": 3, "seed": 3, "threads": 1}')).model FROM nmf_src;
SELECT count(*) AS rows, bool_and(a.factors = b.factors) AS fit_same_factors
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_key)
WHERE a.model = 'nmf_t1' AND b.model = 'nmf_fit';

-- (6) update(): new rows of a trained user and a new user are solved
-- under the constraint against the fixed items; fold-in of the same rows
-- (recommend_for_items) serves the same scores
INSERT INTO nmf_src VALUES (1001, 3, 5, '2025-01-01'), (1001, 4, 2, '2025-01-01'), (1001, 9, 3, '2025-01-01'),
	(1001, 14, 4, '2025-01-01'), (2, 2, 5, '2025-01-01');
SELECT m, v.version, v.users, v.interactions
FROM unnest(ARRAY['nmf_plain', 'nmf_bias']) m, LATERAL recsys.update(m) v ORDER BY m;
CREATE TEMP TABLE nmf_new AS
SELECT model, user_key::int AS u, coalesce(bias, 0) AS b, factors::real[] AS p
FROM recsys.user_factors WHERE model IN ('nmf_plain', 'nmf_bias') AND version = 2 AND user_key IN ('2', '1001');
SELECT model, u, min(x) >= 0 AS nonnegative FROM nmf_new, unnest(p) x GROUP BY model, u ORDER BY model, u;
-- the user step's optimality, as (4) for items (user 2's rows: all of them)
SELECT n.model, n.u, c,
	   abs(sum((mu.mu + n.b + itf.b + pg_temp.dot(n.p, itf.q) - s.r) * itf.q[c]) + 0.1 * count(*) * n.p[c]) < 1e-3
		 OR (n.p[c] = 0 AND sum((mu.mu + n.b + itf.b + pg_temp.dot(n.p, itf.q) - s.r) * itf.q[c]) > -1e-3) AS kkt
FROM nmf_new n JOIN nmf_mu mu USING (model)
	JOIN nmf_src s ON s.u = n.u
	JOIN nmf_if itf ON itf.model = n.model AND itf.i = s.i,
	generate_series(1, 3) c
GROUP BY n.model, n.u, c, n.p, n.b, mu.mu ORDER BY n.model, n.u, c;
SELECT f.model, count(*) AS items,
	   max(abs(f.score - recsys.predict(f.model, 1001, f.item))) < 1e-4 AS fold_in_is_update
FROM unnest(ARRAY['nmf_plain', 'nmf_bias']) m,
	LATERAL (SELECT m AS model, r.item, r.score
			 FROM recsys.recommend_for_items(m, ARRAY[3, 4, 9, 14], 30, ratings => ARRAY[5, 2, 3, 4]::float8[]) r) f
GROUP BY f.model ORDER BY f.model;

-- (7) explain() refuses: a constrained solution is not a sum over items
SELECT e.* FROM recsys.explain('nmf_plain', 3, 4) e;

-- (8) accuracy.  Planted ratings with noise sigma 0.5 (held-out RMSE
-- near 0.5, far below the item means'), and the MovieLens-shaped preset
-- (one fold of five: below the item means', near the bias-only level)
SELECT relation, rows FROM recsys.generate_dataset('nmfacc', users => 1000, items => 200,
	interactions => 40000, seed => 11, sigma => 0.5);
CREATE TABLE nmfacc_test AS SELECT * FROM nmfacc_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 = 0;
SELECT version FROM recsys.train('nmf_acc',
	'SELECT user_id, item_id, rating FROM nmfacc_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 <> 0',
	'user_id', 'item_id', 'rating', 'nmf');
CREATE FUNCTION pg_temp.item_mean_rmse(train text, test text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	v numeric;
BEGIN
	EXECUTE format('SELECT round(sqrt(avg((t.rating - coalesce(m.mean, (SELECT avg(rating) FROM (%s) a))) ^ 2))::numeric, 3)
					FROM (%s) t LEFT JOIN (SELECT item_id, avg(rating) AS mean FROM (%s) x GROUP BY item_id) m USING (item_id)',
				   train, test, train) INTO v;
	RETURN v;
END
$$;
SELECT round(e.value::numeric, 2) AS nmf_rmse, e.value < 0.6 AS near_sigma,
	   e.value < pg_temp.item_mean_rmse(
		'SELECT user_id, item_id, rating FROM nmfacc_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 <> 0',
		'SELECT * FROM nmfacc_test') - 0.2 AS beats_item_means
FROM recsys.evaluate('nmf_acc', 'nmfacc_test', metrics => ARRAY['rmse']) e;
SELECT relation, rows FROM recsys.generate_dataset('nmfml', preset => 'movielens');
CREATE TABLE nmfml_test AS SELECT * FROM nmfml_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 = 0;
SELECT version FROM recsys.train('nmf_ml',
	'SELECT user_id, item_id, rating FROM nmfml_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 <> 0',
	'user_id', 'item_id', 'rating', 'nmf');
SELECT e.value BETWEEN 0.88 AND 0.96 AS near_bias_level,
	   e.value < pg_temp.item_mean_rmse(
		'SELECT user_id, item_id, rating FROM nmfml_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 <> 0',
		'SELECT * FROM nmfml_test') AS beats_item_means
FROM recsys.evaluate('nmf_ml', 'nmfml_test', metrics => ARRAY['rmse']) e;

-- (9) time decay: the weighted objective, factors still >= 0
SELECT version FROM recsys.train('nmf_decay', 'nmf_src', 'u', 'i', 'r', 'nmf',
	'{"factors": 3, "seed": 3, "time_column": "t", "half_life": "1 day"}');
SELECT min(x) >= 0 AS nonnegative,
	   (SELECT max(abs((a.factors::real[])[1] - (b.factors::real[])[1])) FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
		WHERE a.model = 'nmf_decay' AND b.model = 'nmf_t1') > 1e-3 AS decay_changes_factors
FROM recsys.item_factors f, unnest(f.factors::real[]) x WHERE f.model = 'nmf_decay';

-- (10) bad input: an error with its SQLSTATE and hint, and no model
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	hint text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || ' (hint: ' || hint || ')';
END
$$;
SELECT o, pg_temp.try(format($$SELECT recsys.train('nmf_bad', 'nmf_src', 'u', 'i', 'r', 'nmf', %L)$$, o)) AS error
FROM unnest(ARRAY['{"solver": "cg"}', '{"learning_rate": 0.1}', '{"bias_regularization": 0.1}',
				  '{"biases": true, "global_mean": false}', '{"factors": 0}', '{"regularization": -1}',
				  '{"biases": "yes"}']) o;
SELECT count(*) AS bad_models FROM recsys.models WHERE name = 'nmf_bad';
