--
-- Matrix factorisation without baseline: "biases": false for als and svd
-- serves mu + p_u.q_i, and with "global_mean": false p_u.q_i alone.  The
-- stored biases are NULL and the global mean 0 without mu; every way of
-- serving (predict, recommend, recommend_for_items, recommend_all,
-- predictions, explain, fold-in of a new user, update()) computes the same
-- score; the factors solve the least-squares steps without bias; bad
-- option combinations are refused.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;
SET client_min_messages = warning;

-- 40 users x 30 items, 2/3 of the pairs rated 1-5, times for update()
CREATE TABLE nb_src (u integer, i integer, r real, t timestamptz);
INSERT INTO nb_src
SELECT u, i, 1 + (u * 7 + i * 3 + (u * i) % 4) % 5,
	   timestamptz '2024-01-01 00:00+00' + (u * 31 + i) * interval '1 minute'
FROM generate_series(1, 40) u, generate_series(1, 30) i WHERE (u + 2 * i) % 3 <> 0;

CREATE FUNCTION pg_temp.dot(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT sum(x::float8 * y) FROM unnest(a, b) t(x, y) $$;

-- four models: als and svd, with and without the mean (k = 2, exact solver;
-- the lambda of 0.05 the equations below use)
SELECT m, t.version, t.users, t.items
FROM (VALUES ('nb_als', 'als', '{"biases": false}'),
			 ('nb_als0', 'als', '{"biases": false, "global_mean": false}'),
			 ('nb_svd', 'svd', '{"biases": false, "global_mean": true}'),
			 ('nb_svd0', 'svd', '{"biases": false, "global_mean": false}')) v(m, alg, o),
	LATERAL recsys.train(m, 'nb_src', 'u', 'i', 'r', alg,
		o::jsonb || '{"factors": 2, "iterations": 20, "seed": 3, "time_column": "t", "regularization": 0.05}'
		|| CASE WHEN alg = 'als' THEN '{"solver": "cholesky"}' ELSE '{}' END::jsonb) t
ORDER BY m;
-- and a biased als to compare with
SELECT version FROM recsys.train('nb_biased', 'nb_src', 'u', 'i', 'r', 'als',
	'{"factors": 2, "iterations": 20, "seed": 3, "solver": "cholesky", "regularization": 0.05}');

-- (1) no stored bias; the mean is the mean rating, or 0; the record
SELECT v.model, v.params->'biases' AS biases, v.params->'global_mean' AS global_mean,
	   v.params ? 'bias_regularization' AS has_bias_reg,
	   abs(v.global_mean - (SELECT avg(r) FROM nb_src)) < 1e-6 AS mean_is_avg,
	   v.global_mean = 0 AS mean_is_0,
	   (SELECT count(*) FROM recsys.user_factors f WHERE f.model = v.model AND f.bias IS NOT NULL) AS user_biases,
	   (SELECT count(*) FROM recsys.item_factors f WHERE f.model = v.model AND f.bias IS NOT NULL) AS item_biases
FROM recsys.model_versions v WHERE v.model LIKE 'nb%' ORDER BY v.model;

-- the stored vectors, and what each model serves for every pair
CREATE TEMP TABLE nb_uf AS
SELECT model, user_key::int AS u, factors::real[] AS p FROM recsys.user_factors WHERE model LIKE 'nb%';
CREATE TEMP TABLE nb_if AS
SELECT model, item_key::int AS i, factors::real[] AS q FROM recsys.item_factors WHERE model LIKE 'nb%';
CREATE TEMP TABLE nb_mu AS SELECT model, global_mean AS mu FROM recsys.model_versions WHERE model LIKE 'nb%';

-- (2) predict() is mu + p_u.q_i (no bias) for all 1200 pairs of each model
SELECT uf.model, count(*) AS pairs,
	   max(abs(recsys.predict(uf.model, uf.u, itf.i) - (mu.mu + pg_temp.dot(uf.p, itf.q)))) < 1e-5 AS predict_is_dot
FROM nb_uf uf JOIN nb_if itf USING (model) JOIN nb_mu mu USING (model)
WHERE uf.model <> 'nb_biased' GROUP BY uf.model ORDER BY uf.model;
-- ... which it is not for the biased model (the check can fail)
SELECT max(abs(recsys.predict('nb_biased', uf.u, itf.i) - (mu.mu + pg_temp.dot(uf.p, itf.q)))) > 0.01 AS biased_differs
FROM nb_uf uf JOIN nb_if itf USING (model) JOIN nb_mu mu USING (model) WHERE uf.model = 'nb_biased';

-- recommend() and recommend_all() score the same way
SELECT uf.model, count(*) AS rows,
	   max(abs(r.score - (mu.mu + pg_temp.dot(uf.p, itf.q)))) < 1e-5 AS recommend_is_dot
FROM nb_uf uf JOIN nb_mu mu USING (model)
	CROSS JOIN LATERAL recsys.recommend(uf.model, uf.u, 5) r
	JOIN nb_if itf ON itf.model = uf.model AND itf.i = r.item
WHERE uf.model <> 'nb_biased' AND uf.u <= 10 GROUP BY uf.model ORDER BY uf.model;
SELECT m.model, count(*) AS rows,
	   max(abs(r.score - (mu.mu + pg_temp.dot(uf.p, itf.q)))) < 1e-5 AS recommend_all_is_dot
FROM (VALUES ('nb_als'), ('nb_svd0')) m(model) JOIN nb_mu mu USING (model)
	CROSS JOIN LATERAL recsys.recommend_all(m.model, 3) r
	JOIN nb_uf uf ON uf.model = m.model AND uf.u = r."user"::int
	JOIN nb_if itf ON itf.model = m.model AND itf.i = r.item::int
GROUP BY m.model ORDER BY m.model;
-- predictions() (what evaluate() measures) is predict()
SELECT m.model, count(*) AS rows,
	   max(abs(p.prediction - recsys.predict(m.model, p.user_key::int, p.item_key::int))) = 0 AS predictions_are_predict
FROM (VALUES ('nb_als0'), ('nb_svd')) m(model),
	LATERAL recsys.predictions(m.model, 'SELECT u, i, r FROM nb_src WHERE u <= 5') p
GROUP BY m.model ORDER BY m.model;
SELECT metric, value < 1.5 AS plausible FROM recsys.evaluate('nb_als', 'SELECT u, i, r FROM nb_src WHERE u <= 5')
WHERE metric IN ('rmse', 'mae') ORDER BY metric;
-- similar_items(): the cosine of the item factors
SELECT bool_and(abs(s.similarity - pg_temp.dot(a.q, b.q) / sqrt(pg_temp.dot(a.q, a.q) * pg_temp.dot(b.q, b.q))) < 1e-5) AS cosine
FROM recsys.similar_items('nb_svd', 1, 5) s
	JOIN nb_if a ON a.model = 'nb_svd' AND a.i = 1
	JOIN nb_if b ON b.model = 'nb_svd' AND b.i = s.item;

-- (3) als's last item step is exact: with the stored user factors P and
-- lambda = 0.05 (weighted by the item's n_i ratings), every item's q_i solves
--   (sum_u p_u p_u^T + lambda n_i I) q_i = sum_u (r_ui - mu) p_u
-- without bias (and not for the biased model, whose targets hold biases)
CREATE TEMP TABLE nb_ne AS
SELECT itf.model, itf.i, c,
	   sum(pg_temp.dot(uf.p, itf.q) * uf.p[c]) + 0.05 * count(*) * itf.q[c] AS lhs,
	   sum((s.r - mu.mu) * uf.p[c]) AS rhs
FROM nb_if itf JOIN nb_mu mu USING (model)
	JOIN nb_src s ON s.i = itf.i
	JOIN nb_uf uf ON uf.model = itf.model AND uf.u = s.u,
	generate_series(1, 2) c
WHERE itf.model IN ('nb_als', 'nb_als0', 'nb_biased')
GROUP BY itf.model, itf.i, c, itf.q;
SELECT model, count(*) AS equations, max(abs(lhs - rhs)) < 1e-3 AS normal_equations_hold,
	   max(abs(rhs)) > 1 AS not_trivial
FROM nb_ne GROUP BY model ORDER BY model;

-- (4) fold-in: a user the models have not seen, from the source (recommend)
-- and from items and ratings (recommend_for_items), is the ridge solution
-- without bias, x = (sum q_j q_j^T + lambda n I)^-1 sum (r_j - mu) q_j,
-- scored mu + x.q_i; solved here by Cramer's rule (k = 2)
INSERT INTO nb_src VALUES (1000, 1, 5, '2023-01-01'), (1000, 2, 1, '2023-01-01'),
	(1000, 7, 4, '2023-01-01'), (1000, 12, 2, '2023-01-01');
CREATE TEMP TABLE nb_x AS
SELECT model, mu, (d * b1 - b * b2) / (a * d - b * b) AS x1, (a * b2 - b * b1) / (a * d - b * b) AS x2
FROM (SELECT itf.model, mu.mu,
			 sum(itf.q[1]::float8 * itf.q[1]) + 0.05 * count(*) AS a,
			 sum(itf.q[1]::float8 * itf.q[2]) AS b,
			 sum(itf.q[2]::float8 * itf.q[2]) + 0.05 * count(*) AS d,
			 sum((s.r - mu.mu) * itf.q[1]) AS b1, sum((s.r - mu.mu) * itf.q[2]) AS b2
	  FROM nb_src s JOIN nb_if itf ON itf.i = s.i JOIN nb_mu mu USING (model)
	  WHERE s.u = 1000 GROUP BY itf.model, mu.mu) sys;
SELECT x.model, count(*) AS rows,
	   max(abs(r.score - (x.mu + x.x1 * itf.q[1] + x.x2 * itf.q[2]))) < 1e-4 AS fold_in_without_bias
FROM nb_x x CROSS JOIN LATERAL recsys.recommend(x.model, 1000, 8) r
	JOIN nb_if itf ON itf.model = x.model AND itf.i = r.item
WHERE x.model <> 'nb_biased' GROUP BY x.model ORDER BY x.model;
SELECT x.model, count(*) AS rows,
	   max(abs(r.score - (x.mu + x.x1 * itf.q[1] + x.x2 * itf.q[2]))) < 1e-4 AS for_items_without_bias
FROM nb_x x CROSS JOIN LATERAL recsys.recommend_for_items(x.model, ARRAY[1, 2, 7, 12], 8,
		ratings => ARRAY[5, 1, 4, 2]::float8[]) r
	JOIN nb_if itf ON itf.model = x.model AND itf.i = r.item
WHERE x.model <> 'nb_biased' GROUP BY x.model ORDER BY x.model;
-- the biased model's fold-in has a bias: not this
SELECT max(abs(r.score - (x.mu + x.x1 * itf.q[1] + x.x2 * itf.q[2]))) > 0.01 AS biased_differs
FROM nb_x x CROSS JOIN LATERAL recsys.recommend(x.model, 1000, 8) r
	JOIN nb_if itf ON itf.model = x.model AND itf.i = r.item
WHERE x.model = 'nb_biased';

-- explain(): no bias rows (no mean row without mu); the terms add up to
-- predict() for a trained user, and to the score recommend() serves the
-- folded-in new one
SELECT m, string_agg(DISTINCT kind, ', ' ORDER BY kind) AS kinds
FROM unnest(ARRAY['nb_als', 'nb_als0', 'nb_svd0']) m, LATERAL recsys.explain(m, 3, 4) GROUP BY m ORDER BY m;
SELECT m, abs(sum(contribution) - recsys.predict(m, 3, 4)) < 1e-5 AS sums_to_predict
FROM unnest(ARRAY['nb_als', 'nb_als0', 'nb_svd']) m, LATERAL recsys.explain(m, 3, 4) GROUP BY m ORDER BY m;
SELECT m, abs(sum(e.contribution) - min(r.score)) < 1e-5 AS sums_to_served
FROM unnest(ARRAY['nb_als', 'nb_als0', 'nb_svd']) m
	CROSS JOIN LATERAL recsys.explain(m, 1000, 4) e
	CROSS JOIN LATERAL (SELECT score FROM recsys.recommend(m, 1000, 30, exclude_seen => false) WHERE item = 4) r
GROUP BY m ORDER BY m;
-- the new user's closed form is the fold-in: its residual is rounding
SELECT m, abs(contribution) < 1e-5 AS residual_is_rounding
FROM unnest(ARRAY['nb_als', 'nb_als0', 'nb_svd', 'nb_svd0']) m
	CROSS JOIN LATERAL recsys.explain(m, 1000, 4) WHERE kind = 'residual' ORDER BY m;

-- (5) update(): new rows of a trained user and a new one are folded in
-- without bias; every user's bias stays NULL
DELETE FROM nb_src WHERE u = 1000;
INSERT INTO nb_src VALUES (1001, 3, 5, '2025-01-01'), (1001, 4, 2, '2025-01-01'), (1001, 9, 3, '2025-01-01'),
	(2, 2, 5, '2025-01-01');
SELECT m, v.version, v.users, v.interactions
FROM unnest(ARRAY['nb_als', 'nb_als0']) m, LATERAL recsys.update(m) v ORDER BY m;
SELECT model, version, count(*) AS users, count(bias) AS biases
FROM recsys.user_factors WHERE model IN ('nb_als', 'nb_als0') GROUP BY model, version ORDER BY model, version;
-- the updated users' vectors solve the user step against the fixed items
SELECT sys.model, sys.u, abs(a * p[1] + b * p[2] - b1) + abs(b * p[1] + d * p[2] - b2) < 1e-3 AS user_step_exact
FROM (SELECT itf.model, s.u, mu.mu,
			 sum(itf.q[1]::float8 * itf.q[1]) + 0.05 * count(*) AS a,
			 sum(itf.q[1]::float8 * itf.q[2]) AS b,
			 sum(itf.q[2]::float8 * itf.q[2]) + 0.05 * count(*) AS d,
			 sum((s.r - mu.mu) * itf.q[1]) AS b1, sum((s.r - mu.mu) * itf.q[2]) AS b2
	  FROM nb_src s JOIN nb_if itf ON itf.i = s.i JOIN nb_mu mu USING (model)
	  WHERE s.u IN (2, 1001) AND itf.model IN ('nb_als', 'nb_als0') GROUP BY itf.model, s.u, mu.mu) sys
	JOIN (SELECT model, user_key::int AS u, factors::real[] AS p FROM recsys.user_factors f
		  WHERE version = 2) nf USING (model, u)
ORDER BY sys.model, sys.u;
-- and are served as p_u.q_i (+ mu)
SELECT f.model, max(abs(recsys.predict(f.model, f.user_key::int, itf.i) - (mu.mu + pg_temp.dot(f.factors::real[], itf.q)))) < 1e-5 AS predict_is_dot
FROM recsys.user_factors f JOIN nb_if itf USING (model) JOIN nb_mu mu USING (model)
WHERE f.model IN ('nb_als', 'nb_als0') AND f.version = 2 AND f.user_key IN ('2', '1001')
GROUP BY f.model ORDER BY f.model;

-- (6) bad input: an error with its SQLSTATE and hint, and no model
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
SELECT pg_temp.try(format($$SELECT recsys.train('nb_bad', 'nb_src', 'u', 'i', %L, %L, %L)$$, r, alg, o)) AS error
FROM (VALUES (NULL, 'ials', '{"biases": false}'),
			 (NULL, 'bpr', '{"biases": true}'),
			 (NULL, 'item_knn', '{"global_mean": false}'),
			 ('r', 'item_knn', '{"feedback": "explicit", "biases": false}'),
			 ('r', 'als', '{"global_mean": false}'),
			 ('r', 'svd', '{"biases": true, "global_mean": false}'),
			 ('r', 'als', '{"biases": false, "bias_regularization": 0.1}'),
			 ('r', 'svd', '{"bias_regularization": 0.1, "biases": false, "global_mean": false}'),
			 ('r', 'als', '{"biases": "no"}'),
			 ('r', 'svd', '{"global_mean": 0}')) v(r, alg, o);
SELECT count(*) AS bad_models FROM recsys.models WHERE name = 'nb_bad';
-- (the default is the biased model: "biases": true is the same model)
SELECT version FROM recsys.train('nb_biased2', 'SELECT * FROM nb_src WHERE t < ''2025-01-01''', 'u', 'i', 'r', 'als',
	'{"factors": 2, "iterations": 20, "seed": 3, "solver": "cholesky", "regularization": 0.05, "biases": true, "global_mean": true}');
SELECT bool_and(a.bias = b.bias AND a.factors::real[] = b.factors::real[]) AS same_as_default
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'nb_biased' AND b.model = 'nb_biased2';

SELECT recsys.drop_model(m) FROM unnest(ARRAY['nb_als', 'nb_als0', 'nb_svd', 'nb_svd0', 'nb_biased', 'nb_biased2']) m;
DROP TABLE nb_src;
