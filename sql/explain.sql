--
-- recsys.explain(): why an item is recommended to a user.  The rows'
-- contributions are the terms of the served score: hand-checked on tiny
-- models, summed against predict() on generated data, and the errors.
--
SET client_min_messages = notice;

-- A tiny implicit data set: five users, four items.
--   user 1: 10 11      user 2: 10 12      user 3: 11 12 13
--   user 4: 10 13      user 5: 12 13
CREATE TABLE ex_tiny (u integer, i integer, v real);
INSERT INTO ex_tiny VALUES (1, 10, 1), (1, 11, 1), (2, 10, 1), (2, 12, 1),
	(3, 11, 1), (3, 12, 1), (3, 13, 1), (4, 10, 1), (4, 13, 1), (5, 12, 1), (5, 13, 1);

-- item_knn, cosine, no shrinkage: s(12, 11) = |{3}| / sqrt(2 * 3) = 1/sqrt(6),
-- s(12, 10) = |{2}| / sqrt(3 * 3) = 1/3; user 1 has 10 and 11, so item 12
-- scores 1/sqrt(6) + 1/3 = 0.741582, item 11 the larger part.
SELECT items FROM recsys.train('ex_ik', 'SELECT u, i FROM ex_tiny', 'u', 'i', NULL, 'item_knn', '{"shrinkage": 0}');
SELECT rank, contributor, kind, round(contribution::numeric, 6) AS contribution,
	   round(share::numeric, 6) AS share
FROM recsys.explain('ex_ik', 1, 12);
SELECT abs(contribution - 1 / sqrt(6)) < 1e-7 AS hand_11, abs(share - (1 / sqrt(6)) / (1 / sqrt(6) + 1.0 / 3)) < 1e-6 AS hand_share
FROM recsys.explain('ex_ik', 1, 12) WHERE contributor = '11';
SELECT abs(sum(contribution) - recsys.predict('ex_ik', 1, 12)) < 1e-7 AS sums_to_predict,
	   abs(sum(contribution) - (1 / sqrt(6) + 1.0 / 3)) < 1e-6 AS sums_by_hand
FROM recsys.explain('ex_ik', 1, 12);
-- k = 1: the best contributor, the rest as one unranked row
SELECT rank, contributor, kind, round(contribution::numeric, 6) AS contribution
FROM recsys.explain('ex_ik', 1, 12, k => 1);
-- an item the user has is explained the same way (recommend() excludes it)
SELECT contributor, round(contribution::numeric, 6) AS contribution FROM recsys.explain('ex_ik', 1, 10);

-- user_knn, cosine: user 1's neighbours who have item 12 are user 2
-- (|{10}| / sqrt(2 * 2) = 1/2) and user 3 (|{11}| / sqrt(2 * 3) = 1/sqrt(6));
-- user 5 shares no item with user 1
SELECT items FROM recsys.train('ex_uk', 'SELECT u, i FROM ex_tiny', 'u', 'i', NULL, 'user_knn', '{"shrinkage": 0}');
SELECT rank, contributor, kind, round(contribution::numeric, 6) AS contribution,
	   round(share::numeric, 6) AS share
FROM recsys.explain('ex_uk', 1, 12);
SELECT abs(sum(contribution) - (0.5 + 1 / sqrt(6))) < 1e-6 AS sums_by_hand,
	   abs(sum(contribution) - recsys.predict('ex_uk', 1, 12)) < 1e-7 AS sums_to_predict
FROM recsys.explain('ex_uk', 1, 12);

-- ials with two factors: the closed form of Hu, Koren & Volinsky (2008) §5
-- computed here in SQL from the stored factors: A = Y^T Y + lambda I +
-- sum_j (c_j - 1) y_j y_j^T with c_j = 1 + alpha v_j, z = A^-1 y_i (a 2 x 2
-- inverse), and item j's term c_j z.y_j.  Trained to convergence, so that
-- the served vector solves the user's system.
SELECT items FROM recsys.train('ex_ials', 'ex_tiny', 'u', 'i', 'v', 'ials',
	'{"factors": 2, "iterations": 200, "solver": "cholesky", "alpha": 2, "regularization": 0.1}');
CREATE TEMP TABLE ex_hand AS
WITH y AS (
	SELECT f.item_key, (f.factors::real[])[1]::float8 AS a, (f.factors::real[])[2]::float8 AS b
	FROM recsys.item_factors f WHERE f.model = 'ex_ials' AND f.version = 1),
g AS (SELECT sum(a * a) AS aa, sum(a * b) AS ab, sum(b * b) AS bb FROM y),
c AS (SELECT t.i::text AS item_key, 1 + 2 * t.v::float8 AS c FROM ex_tiny t WHERE t.u = 1),
m AS (
	SELECT g.aa + 0.1 + sum((c.c - 1) * y.a * y.a) AS aa, g.ab + sum((c.c - 1) * y.a * y.b) AS ab,
		   g.bb + 0.1 + sum((c.c - 1) * y.b * y.b) AS bb
	FROM g, c JOIN y USING (item_key) GROUP BY g.aa, g.ab, g.bb),
z AS (
	SELECT (m.bb * yi.a - m.ab * yi.b) / (m.aa * m.bb - m.ab * m.ab) AS za,
		   (m.aa * yi.b - m.ab * yi.a) / (m.aa * m.bb - m.ab * m.ab) AS zb
	FROM m, y yi WHERE yi.item_key = '12')
SELECT c.item_key, c.c * (z.za * y.a + z.zb * y.b) AS contribution
FROM z, c JOIN y USING (item_key);
SELECT h.item_key, abs(e.contribution - h.contribution) < 1e-6 AS matches_hand
FROM ex_hand h LEFT JOIN recsys.explain('ex_ials', 1, 12) e ON e.contributor = h.item_key
ORDER BY h.item_key;
SELECT abs((SELECT sum(contribution) FROM ex_hand) - recsys.predict('ex_ials', 1, 12)) < 1e-6 AS hand_sums_to_predict;
SELECT kind, abs(contribution) < 1e-6 AS small
FROM recsys.explain('ex_ials', 1, 12) WHERE rank IS NULL;

-- bpr and popularity have no such decomposition: an error
SELECT items FROM recsys.train('ex_bpr', 'ex_tiny', 'u', 'i', NULL, 'bpr', '{"factors": 2, "iterations": 2}');
SELECT items FROM recsys.train('ex_pop', 'ex_tiny', 'u', 'i', NULL, 'popularity');
DO $$
DECLARE m text;
BEGIN
	FOREACH m IN ARRAY ARRAY['ex_bpr', 'ex_pop'] LOOP
		BEGIN
			PERFORM * FROM recsys.explain(m, 1, 12);
		EXCEPTION WHEN feature_not_supported THEN
			RAISE NOTICE 'feature_not_supported: %', SQLERRM;
		END;
	END LOOP;
END $$;
SELECT * FROM recsys.explain('ex_bpr', 1, 12);
-- k must be positive; NULL shows every contributor
SELECT * FROM recsys.explain('ex_ik', 1, 12, k => 0);
SELECT count(*) FROM recsys.explain('ex_ik', 1, 12, k => NULL);
-- an unknown user or item: a NOTICE and no rows; a NULL one: no rows
SELECT * FROM recsys.explain('ex_ik', 99, 12);
SELECT * FROM recsys.explain('ex_ials', 1, 99);
SELECT count(*) FROM recsys.explain('ex_ik', NULL::integer, 12);
SELECT * FROM recsys.explain('ex_nonexistent', 1, 12);

-- A user who is not in the model but in its source is folded in, as
-- recommend() does: for ials the fold-in solves the user's system, so the
-- items alone sum to the score (rounding only).
INSERT INTO ex_tiny VALUES (6, 10, 3), (6, 13, 1);
SELECT rank, contributor, kind FROM recsys.explain('ex_ials', 6, 12);
SELECT abs(contribution) < 1e-6 AS residual_small
FROM recsys.explain('ex_ials', 6, 12) WHERE kind = 'residual';
-- and the folded-in score is recommend()'s
SELECT abs((SELECT sum(contribution) FROM recsys.explain('ex_ials', 6, 12))
		   - (SELECT score FROM recsys.recommend('ex_ials', 6, 10) WHERE item = 12)) < 1e-6 AS recommend_score;
DELETE FROM ex_tiny WHERE u = 6;

-- The sums on generated data, every model that explains, 10 users x 40
-- items.  The neighbourhood terms are serving's own float products: all
-- rows sum to predict() within float rounding (1e-6 of the score).  The
-- factor models' rows sum to predict() exactly (the residual row takes the
-- difference); the item terms alone (with the baseline rows for als) sum to
-- it within the residual, which is what training left unconverged in the
-- stored vector: under 1e-5 for ials and 2e-3 for als trained to
-- convergence (200 iterations), under 1e-2 of the score for ials after 30.
SELECT relation, rows FROM recsys.generate_dataset('ex', users => 60, items => 40,
	interactions => 900, seed => 11);
SELECT model FROM recsys.train('ex_g_ik', 'ex_interactions', 'user_id', 'item_id', NULL, 'item_knn');
SELECT model FROM recsys.train('ex_g_ike', 'ex_interactions', 'user_id', 'item_id', 'rating', 'item_knn', '{"feedback": "explicit"}');
SELECT model FROM recsys.train('ex_g_uk', 'ex_interactions', 'user_id', 'item_id', NULL, 'user_knn');
SELECT model FROM recsys.train('ex_g_uke', 'ex_interactions', 'user_id', 'item_id', 'rating', 'user_knn', '{"feedback": "explicit"}');
SELECT model FROM recsys.train('ex_g_ials', 'ex_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 4, "iterations": 200, "solver": "cholesky"}');
SELECT model FROM recsys.train('ex_g_ials30', 'ex_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 4, "iterations": 30}');
SELECT model FROM recsys.train('ex_g_als', 'ex_interactions', 'user_id', 'item_id', 'rating', 'als',
	'{"factors": 4, "iterations": 200, "solver": "cholesky"}');
SELECT model FROM recsys.train('ex_g_svd', 'ex_interactions', 'user_id', 'item_id', 'rating', 'svd', '{"factors": 4}');
CREATE TEMP TABLE ex_sums AS
SELECT m.model, m.tol, p.score,
	   (SELECT sum(e.contribution) FROM recsys.explain(m.model, u.user_id, i.item_id, 3) e) AS all_rows,
	   (SELECT coalesce(sum(e.contribution), 0) FROM recsys.explain(m.model, u.user_id, i.item_id, NULL) e
		WHERE e.kind <> 'residual') AS terms,
	   (SELECT count(*) FROM recsys.explain(m.model, u.user_id, i.item_id, NULL) e WHERE e.rank IS NOT NULL) AS n
FROM (VALUES ('ex_g_ik', 1e-6), ('ex_g_ike', 1e-6), ('ex_g_uk', 1e-6), ('ex_g_uke', 1e-6),
			 ('ex_g_ials', 1e-5), ('ex_g_ials30', 1e-2), ('ex_g_als', 2e-3), ('ex_g_svd', NULL)) m (model, tol)
	 CROSS JOIN generate_series(1, 10) u (user_id)
	 CROSS JOIN generate_series(1, 40) i (item_id)
	 CROSS JOIN LATERAL (SELECT recsys.predict(m.model, u.user_id, i.item_id) AS score) p;
SELECT model, count(*) AS pairs, sum(n) > 0 AS has_terms,
	   max(abs(all_rows - score) / greatest(abs(score), 1)) < 1e-6 AS rows_sum_to_predict,
	   max(abs(terms - score) / greatest(abs(score), 1)) < min(tol) AS terms_sum_to_predict
FROM ex_sums GROUP BY model ORDER BY model;
-- svd is not trained by least squares: its terms are those of the ridge
-- regression fold-in solves, and the residual row is large
SELECT max(abs(terms - score)) > 0.1 AS svd_residual_large FROM ex_sums WHERE model = 'ex_g_svd';

-- A model trained with fit() stores no source: an explicit model cannot read
-- a trained user's ratings (an error), an implicit one takes the values as 1
SELECT (recsys.fit('ex_fit_als', u, i, v, '{"algorithm": "als", "factors": 2}')).model FROM ex_tiny;
SELECT * FROM recsys.explain('ex_fit_als', 1, 12);
SELECT (recsys.fit('ex_fit_ials', u, i, v, '{"algorithm": "ials", "factors": 2}')).model FROM ex_tiny;
SELECT count(*) FROM recsys.explain('ex_fit_ials', 1, 12) WHERE rank IS NOT NULL;

-- Model privileges: a role the model was not granted to may not explain
CREATE ROLE ex_stranger;
SET ROLE ex_stranger;
SELECT * FROM recsys.explain('ex_ik', 1, 12);
RESET ROLE;
SELECT recsys.grant_model('ex_ik', 'ex_stranger');
SET ROLE ex_stranger;
SELECT count(*) FROM recsys.explain('ex_ik', 1, 12);
-- ... but a user the model has not seen is explained from the model's
-- source, which the grant does not give: only the owner may
SELECT * FROM recsys.explain('ex_ik', 99, 12);
RESET ROLE;
SELECT recsys.revoke_model('ex_ik', 'ex_stranger');
-- A factor model's explanation is computed from the user's rows in the
-- source (with the catalog's factors they give the ratings, and under time
-- decay their times, back): a grantee serves the model but may not explain it
SELECT recsys.grant_model('ex_ials', 'ex_stranger');
SET ROLE ex_stranger;
SELECT count(*) > 0 AS serves FROM recsys.recommend('ex_ials', 1, 2);
SELECT * FROM recsys.explain('ex_ials', 1, 12);
RESET ROLE;
SELECT recsys.revoke_model('ex_ials', 'ex_stranger');
DROP ROLE ex_stranger;

SELECT count(recsys.drop_model(name)) FROM recsys.models WHERE name LIKE 'ex\_%';
