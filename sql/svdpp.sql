--
-- svdpp: Koren's SVD++ (src/core/svdpp.c).  r^ = mu + b_u + b_i + q_i .
-- (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j).  The stored user vector is the
-- whole p_u + z_u and the items keep their y_j (item_factors.
-- implicit_factors); every way of serving computes the same score; a user
-- the model has not seen gets z from their items (alone without ratings,
-- plus the ridge step of the rest with them), and update() solves a user
-- the same way; accuracy on planted and MovieLens-shaped data; bad input.
-- The training itself is replayed exactly by test/ref/svdpp_ref.py (test/core
-- check).
--
SET search_path = public, recsys;
SET extra_float_digits = 0;
SET client_min_messages = warning;

-- 40 users x 30 items, 2/3 of the pairs rated 1-5, times for update()
CREATE TABLE spp_src (u integer, i integer, r real, t timestamptz);
INSERT INTO spp_src
SELECT u, i, 1 + (u * 7 + i * 3 + (u * i) % 4) % 5,
	   timestamptz '2024-01-01 00:00+00' + (u * 31 + i) * interval '1 minute'
FROM generate_series(1, 40) u, generate_series(1, 30) i WHERE (u + 2 * i) % 3 <> 0;

CREATE FUNCTION pg_temp.dot(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT sum(x::float8 * y) FROM unnest(a, b) t(x, y) $$;

-- a biased model, and one without biases (mu kept), k = 2, lambda 0.05
SELECT m, t.version, t.users, t.items, t.interactions
FROM (VALUES ('spp', '{}'), ('spp_nb', '{"biases": false}')) v(m, o),
	LATERAL recsys.train(m, 'spp_src', 'u', 'i', 'r', 'svdpp',
		o::jsonb || '{"factors": 2, "iterations": 30, "seed": 3, "time_column": "t", "regularization": 0.05, "learning_rate": 0.01}') t
ORDER BY m;

-- (1) the record; every item keeps its y_j (2 numbers), other models none
SELECT v.model, v.algorithm, v.params - 'seed' - 'threads' - 'time_column' - 'data_until_epoch' AS params,
	   abs(v.global_mean - (SELECT avg(r) FROM spp_src)) < 1e-6 AS mean_is_avg,
	   (SELECT count(bias) FROM recsys.user_factors f WHERE f.model = v.model) AS user_biases,
	   (SELECT count(*) FILTER (WHERE recsys.dims(implicit_factors) = 2) FROM recsys.item_factors f WHERE f.model = v.model) AS items_with_y
FROM recsys.model_versions v WHERE v.model LIKE 'spp%' ORDER BY v.model;
SELECT recsys.training_options('svdpp') - 'threads' AS defaults;

CREATE TEMP TABLE spp_uf AS
SELECT model, user_key::int AS u, coalesce(bias, 0) AS b, factors::real[] AS x FROM recsys.user_factors WHERE model LIKE 'spp%';
CREATE TEMP TABLE spp_if AS
SELECT model, item_key::int AS i, coalesce(bias, 0) AS b, factors::real[] AS q, implicit_factors::real[] AS y
FROM recsys.item_factors WHERE model LIKE 'spp%';
CREATE TEMP TABLE spp_mu AS SELECT model, global_mean AS mu FROM recsys.model_versions WHERE model LIKE 'spp%';

-- (2) predict() is mu + b_u + b_i + x_u.q_i (x_u the stored whole vector)
-- for all 1200 pairs; recommend() and predictions() the same
SELECT uf.model, count(*) AS pairs,
	   max(abs(recsys.predict(uf.model, uf.u, itf.i) - (mu.mu + uf.b + itf.b + pg_temp.dot(uf.x, itf.q)))) < 1e-5 AS predict_is_model
FROM spp_uf uf JOIN spp_if itf USING (model) JOIN spp_mu mu USING (model)
GROUP BY uf.model ORDER BY uf.model;
SELECT uf.model, count(*) AS rows,
	   max(abs(r.score - (mu.mu + uf.b + itf.b + pg_temp.dot(uf.x, itf.q)))) < 1e-5 AS recommend_is_model
FROM spp_uf uf JOIN spp_mu mu USING (model)
	CROSS JOIN LATERAL recsys.recommend(uf.model, uf.u, 5) r
	JOIN spp_if itf ON itf.model = uf.model AND itf.i = r.item
WHERE uf.u <= 10 GROUP BY uf.model ORDER BY uf.model;
SELECT count(*) AS rows,
	   max(abs(p.prediction - recsys.predict('spp', p.user_key::int, p.item_key::int))) = 0 AS predictions_are_predict
FROM recsys.predictions('spp', 'SELECT u, i, r FROM spp_src WHERE u <= 5') p;
SELECT bool_and(abs(s.similarity - pg_temp.dot(a.q, b.q) / sqrt(pg_temp.dot(a.q, a.q) * pg_temp.dot(b.q, b.q))) < 1e-5) AS cosine
FROM recsys.similar_items('spp', 1, 5) s
	JOIN spp_if a ON a.model = 'spp' AND a.i = 1
	JOIN spp_if b ON b.model = 'spp' AND b.i = s.item;

-- (3) fold-in from items alone: z = |N|^-1/2 sum y_j over them, no bias,
-- so the score is mu + b_i + q_i.z
CREATE TEMP TABLE spp_z AS
SELECT model, (sum(y[1]) / sqrt(count(*)))::float8 AS z1, (sum(y[2]) / sqrt(count(*)))::float8 AS z2
FROM spp_if WHERE i IN (1, 2, 7, 12) GROUP BY model;
SELECT z.model, count(*) AS items,
	   max(abs(r.score - (mu.mu + itf.b + z.z1 * itf.q[1] + z.z2 * itf.q[2]))) < 1e-5 AS items_alone_is_z
FROM spp_z z JOIN spp_mu mu USING (model)
	CROSS JOIN LATERAL recsys.recommend_for_items(z.model, ARRAY[1, 2, 7, 12], 30) r
	JOIN spp_if itf ON itf.model = z.model AND itf.i = r.item
GROUP BY z.model ORDER BY z.model;
-- with ratings, for the model without biases: x = z + p, p the ridge
-- solution (sum q_j q_j^T + lambda n I) p = sum (r_j - mu - q_j.z) q_j,
-- by Cramer's rule (k = 2)
CREATE TEMP TABLE spp_p AS
SELECT model, z1, z2, mu, (d * b1 - b * b2) / (a * d - b * b) AS p1, (a * b2 - b * b1) / (a * d - b * b) AS p2
FROM (SELECT itf.model, z.z1, z.z2, mu.mu,
			 sum(itf.q[1]::float8 * itf.q[1]) + 0.05 * count(*) AS a,
			 sum(itf.q[1]::float8 * itf.q[2]) AS b,
			 sum(itf.q[2]::float8 * itf.q[2]) + 0.05 * count(*) AS d,
			 sum((g.r - mu.mu - z.z1 * itf.q[1] - z.z2 * itf.q[2]) * itf.q[1]) AS b1,
			 sum((g.r - mu.mu - z.z1 * itf.q[1] - z.z2 * itf.q[2]) * itf.q[2]) AS b2
	  FROM (VALUES (1, 5), (2, 1), (7, 4), (12, 2)) g(i, r)
		JOIN spp_if itf ON itf.i = g.i JOIN spp_z z USING (model) JOIN spp_mu mu USING (model)
	  WHERE itf.model = 'spp_nb' GROUP BY itf.model, z.z1, z.z2, mu.mu) sys;
SELECT count(*) AS items,
	   max(abs(r.score - (p.mu + (p.z1 + p.p1) * itf.q[1] + (p.z2 + p.p2) * itf.q[2]))) < 1e-4 AS with_ratings_is_z_plus_ridge
FROM spp_p p CROSS JOIN LATERAL recsys.recommend_for_items('spp_nb', ARRAY[1, 2, 7, 12], 30,
		ratings => ARRAY[5, 1, 4, 2]::float8[]) r
	JOIN spp_if itf ON itf.model = 'spp_nb' AND itf.i = r.item;

-- (4) update(): a changed user and a new one are solved as fold-in solves
-- them (recommend_for_items with all their rows serves the same scores);
-- the items keep q_i and y_j
INSERT INTO spp_src VALUES (1001, 3, 5, '2025-01-01'), (1001, 4, 2, '2025-01-01'), (1001, 9, 3, '2025-01-01'),
	(1001, 14, 4, '2025-01-01'), (2, 2, 5, '2025-01-01');
SELECT m, v.version, v.users, v.interactions
FROM unnest(ARRAY['spp', 'spp_nb']) m, LATERAL recsys.update(m) v ORDER BY m;
SELECT f.model, count(*) AS items,
	   max(abs(f.score - recsys.predict(f.model, 1001, f.item))) < 1e-4 AS fold_in_is_update
FROM unnest(ARRAY['spp', 'spp_nb']) m,
	LATERAL (SELECT m AS model, r.item, r.score
			 FROM recsys.recommend_for_items(m, ARRAY[3, 4, 9, 14], 30, ratings => ARRAY[5, 2, 3, 4]::float8[]) r) f
GROUP BY f.model ORDER BY f.model;
SELECT count(*) AS items, bool_and(a.factors = b.factors AND a.implicit_factors = b.implicit_factors) AS items_unchanged
FROM recsys.item_factors a JOIN recsys.item_factors b USING (model, item_key)
WHERE a.model = 'spp' AND a.version = 1 AND b.version = 2;

-- (5) deterministic: the same model from fit(), and from another thread count
SELECT version FROM recsys.train('spp_t1', 'spp_src', 'u', 'i', 'r', 'svdpp', '{"factors": 2, "seed": 3, "threads": 1}');
SELECT version FROM recsys.train('spp_t2', 'spp_src', 'u', 'i', 'r', 'svdpp', '{"factors": 2, "seed": 3, "threads": 2}');
SELECT (recsys.fit('spp_fit', u, i, r, '{"algorithm": "svdpp", "factors": 2, "seed": 3, "threads": 1}')).model FROM spp_src;
SELECT b.model, count(*) AS rows, bool_and(a.factors = b.factors AND a.implicit_factors = b.implicit_factors) AS same_items
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_key)
WHERE a.model = 'spp_t1' AND b.model IN ('spp_t2', 'spp_fit') GROUP BY b.model ORDER BY b.model;

-- (6) explain() refuses: no closed form takes a trained user apart
SELECT e.* FROM recsys.explain('spp', 3, 4) e;

-- (7) accuracy: planted ratings (noise sigma 0.5) and the movielens preset
SELECT relation, rows FROM recsys.generate_dataset('sppacc', users => 1000, items => 200,
	interactions => 40000, seed => 11, sigma => 0.5);
CREATE TABLE sppacc_test AS SELECT * FROM sppacc_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 = 0;
SELECT version FROM recsys.train('spp_acc',
	'SELECT user_id, item_id, rating FROM sppacc_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 <> 0',
	'user_id', 'item_id', 'rating', 'svdpp');
SELECT round(e.value::numeric, 2) AS svdpp_rmse, e.value < 0.6 AS near_sigma
FROM recsys.evaluate('spp_acc', 'sppacc_test', metrics => ARRAY['rmse']) e;
SELECT relation, rows FROM recsys.generate_dataset('sppml', preset => 'movielens');
CREATE TABLE sppml_test AS SELECT * FROM sppml_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 = 0;
SELECT version FROM recsys.train('spp_ml',
	'SELECT user_id, item_id, rating FROM sppml_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 5 <> 0',
	'user_id', 'item_id', 'rating', 'svdpp');
SELECT e.value < 0.93 AS below_bias_level
FROM recsys.evaluate('spp_ml', 'sppml_test', metrics => ARRAY['rmse']) e;

-- (8) bad input: an error with its SQLSTATE and hint, and no model
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
SELECT o, pg_temp.try(format($$SELECT recsys.train('spp_bad', 'spp_src', 'u', 'i', 'r', 'svdpp', %L)$$, o)) AS error
FROM unnest(ARRAY['{"solver": "cg"}', '{"alpha": 1}', '{"learning_rate": 0}', '{"global_mean": false}',
				  '{"factors": 2000}']) o;
SELECT count(*) AS bad_models FROM recsys.models WHERE name = 'spp_bad';
-- ratings too large for real: refused, no model
SELECT pg_temp.try($$SELECT recsys.train('spp_bad', 'SELECT u, i, CASE WHEN (u + i) % 2 = 0 THEN 3e38 ELSE -3e38 END::real AS r FROM generate_series(1, 3) u, generate_series(1, 3) i', 'u', 'i', 'r', 'svdpp', '{"factors": 2, "regularization": 0.05}')$$) LIKE '22003: training svdpp overflowed%' AS overflow_refused;
SELECT count(*) AS bad_models FROM recsys.models WHERE name = 'spp_bad';
