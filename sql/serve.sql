--
-- Serving: recommend() and recommend_all() give exactly the top-k of a
-- brute-force computation over the factor tables, for every model kind;
-- seen and excluded items never appear; bad input is refused.
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

SELECT relation, rows FROM recsys.generate_dataset('sv', users => 300, items => 150,
	interactions => 9000, seed => 3);
SELECT model FROM recsys.train('sv_als', 'sv_interactions', 'user_id', 'item_id', 'rating', 'als', '{"factors": 8}');
SELECT model FROM recsys.train('sv_svd', 'sv_interactions', 'user_id', 'item_id', 'rating', 'svd', '{"factors": 8, "iterations": 10}');
SELECT model FROM recsys.train('sv_ials', 'sv_interactions', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 8}');
SELECT model FROM recsys.train('sv_bpr', 'sv_interactions', 'user_id', 'item_id', NULL, 'bpr', '{"factors": 8, "iterations": 5}');
SELECT model FROM recsys.train('sv_pop', 'sv_interactions', 'user_id', 'item_id', NULL, 'popularity');

-- The reference: every user's top 10 by brute force over the factor tables,
-- seen items anti-joined, ties broken by the item's position.
CREATE FUNCTION pg_temp.brute(m text, k int) RETURNS TABLE (user_id int, item_id int, score float8, rank int)
LANGUAGE sql AS $$
	WITH v AS (SELECT mo.active_version AS version, mv.algorithm, mv.global_mean
			   FROM recsys.models mo JOIN recsys.model_versions mv
			   ON mv.model = mo.name AND mv.version = mo.active_version WHERE mo.name = m),
	s AS (
		SELECT u.user_key::int AS user_id, i.item_key::int AS item_id, i.item_idx,
			   CASE v.algorithm
				   WHEN 'popularity' THEN i.bias::float8
				   WHEN 'als' THEN v.global_mean + u.bias + i.bias + recsys.inner_product(u.factors, i.factors)
				   WHEN 'svd' THEN v.global_mean + u.bias + i.bias + recsys.inner_product(u.factors, i.factors)
				   ELSE coalesce(i.bias, 0) + recsys.inner_product(u.factors, i.factors)
			   END AS score
		FROM v
		JOIN recsys.user_factors u ON u.model = m AND u.version = v.version
		JOIN recsys.item_factors i ON i.model = m AND i.version = v.version
		WHERE NOT (i.item_idx = ANY (u.seen))
	)
	SELECT user_id, item_id, score, r::int FROM (
		SELECT user_id, item_id, score,
			   row_number() OVER (PARTITION BY user_id ORDER BY score::float4 DESC, item_idx) AS r
		FROM s) q
	WHERE r <= k
$$;

-- recommend() under LATERAL for every user equals the brute force: the same
-- item at every rank, unless two scores tie to within float rounding
CREATE TEMP TABLE cmp AS
SELECT m, b.user_id, b.rank, b.item_id AS brute_item, b.score AS brute_score,
	   r.item AS rec_item, r.score AS rec_score
FROM unnest(ARRAY['sv_als', 'sv_svd', 'sv_ials', 'sv_bpr', 'sv_pop']) m
CROSS JOIN LATERAL pg_temp.brute(m, 10) b
LEFT JOIN LATERAL recsys.recommend(m, b.user_id, 10) r ON r.rank = b.rank;
SELECT m, count(*) AS ranks,
	   count(*) FILTER (WHERE rec_item IS NULL) AS missing,
	   count(*) FILTER (WHERE abs(rec_score - brute_score) > 1e-4 * greatest(1, abs(brute_score))) AS score_differs,
	   count(*) FILTER (WHERE rec_item <> brute_item AND NOT EXISTS (
			SELECT 1 FROM cmp c2 WHERE c2.m = cmp.m AND c2.user_id = cmp.user_id
			  AND c2.brute_item = cmp.rec_item
			  AND abs(c2.brute_score - cmp.brute_score) <= 1e-4 * greatest(1, abs(cmp.brute_score)))) AS item_differs
FROM cmp GROUP BY m ORDER BY m;

-- recommend_all equals the per-user calls
SELECT m, count(*) AS rows,
	   count(*) FILTER (WHERE a.item::int = r.item AND abs(a.score - r.score) <= 1e-4 * greatest(1, abs(r.score))) AS same
FROM unnest(ARRAY['sv_als', 'sv_svd', 'sv_ials', 'sv_bpr', 'sv_pop']) m
CROSS JOIN LATERAL recsys.recommend_all(m, 10) a
JOIN LATERAL recsys.recommend(m, a."user"::int, 10) r ON r.rank = a.rank
GROUP BY m ORDER BY m;

-- seen items never appear; with exclude_seen => false they may
SELECT count(*) AS seen_recommended
FROM sv_users u CROSS JOIN LATERAL recsys.recommend('sv_pop', u.user_id, 20) r
JOIN sv_interactions i ON i.user_id = u.user_id AND i.item_id = r.item;
SELECT count(*) > 0 AS seen_allowed
FROM sv_users u CROSS JOIN LATERAL recsys.recommend('sv_pop', u.user_id, 20, exclude_seen => false) r
JOIN sv_interactions i ON i.user_id = u.user_id AND i.item_id = r.item;
-- explicit exclusions: gone, and the list is still k long
SELECT count(*) AS items, count(*) FILTER (WHERE item IN (1, 2, 3)) AS excluded_shown
FROM recsys.recommend('sv_pop', 7, 10, true, ARRAY[1, 2, 3]);
SELECT array_agg(item ORDER BY rank) = (
		SELECT array_agg(item ORDER BY rank) FROM (
			SELECT item, rank FROM recsys.recommend('sv_pop', 7, 13)
			WHERE item NOT IN (1, 2, 3) ORDER BY rank LIMIT 10) s) AS next_best_move_up
FROM recsys.recommend('sv_pop', 7, 10, true, ARRAY[1, 2, 3]);
-- k larger than the catalogue: every unseen item, once
SELECT count(*) AS items, count(DISTINCT item) AS distinct_items,
	   150 - (SELECT count(*) FROM sv_interactions WHERE user_id = 7) AS unseen
FROM recsys.recommend('sv_als', 7, 2147483647);
-- ranks are 1..k and scores never increase
SELECT bool_and(rank = rn) AS ranks_in_order, bool_and(score <= prev) AS scores_descend
FROM (SELECT rank, score, row_number() OVER (ORDER BY rank) AS rn,
			 coalesce(lag(score) OVER (ORDER BY rank), 'Infinity') AS prev
	  FROM recsys.recommend('sv_ials', 11, 50)) s;

-- an unknown user gets the most popular items, with a NOTICE
SELECT item, rank FROM recsys.recommend('sv_ials', -1, 3);
SELECT (SELECT array_agg(item_key::int ORDER BY interactions DESC, item_idx)
		FROM (SELECT * FROM recsys.item_factors WHERE model = 'sv_ials' ORDER BY interactions DESC, item_idx LIMIT 3) t)
	   = array_agg(item ORDER BY rank) AS most_popular
FROM recsys.recommend('sv_ials', -1, 3);
-- a NULL user gets nothing
SELECT count(*) FROM recsys.recommend('sv_als', NULL::int, 5);

-- A retrain is picked up by the next call (the cache follows the version)
SELECT version FROM recsys.train('sv_bpr', 'sv_interactions', 'user_id', 'item_id', NULL, 'bpr',
	'{"factors": 8, "iterations": 5, "seed": 7}');
SELECT count(*) AS ranks_matching_new_version
FROM recsys.recommend('sv_bpr', 5, 5) r JOIN pg_temp.brute('sv_bpr', 5) b ON b.user_id = 5 AND b.rank = r.rank
WHERE abs(b.score - r.score) <= 1e-4 * greatest(1, abs(b.score));

-- Text keys come back as text
CREATE TABLE sv_text AS SELECT 'u' || user_id AS u, 'item-' || item_id AS i FROM sv_interactions;
SELECT model FROM recsys.train('sv_text', 'sv_text', 'u', 'i', NULL, 'popularity');
SELECT * FROM recsys.recommend('sv_text', 'u1'::text, 3);
SELECT "user", item, rank FROM recsys.recommend_all('sv_text', 2) ORDER BY "user", rank LIMIT 4;

-- Bad input
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT * FROM recsys.recommend('sv_als', 1, 0)$$),
	($$SELECT * FROM recsys.recommend('sv_als', 1, -5)$$),
	($$SELECT * FROM recsys.recommend('sv_als', 1, NULL)$$),
	($$SELECT * FROM recsys.recommend('no_such_model', 1, 5)$$),
	($$SELECT * FROM recsys.recommend(NULL, 1, 5)$$),
	($$SELECT * FROM recsys.recommend_all('sv_als', 0)$$),
	($$SELECT * FROM recsys.recommend_all('no_such_model', 5)$$)
) AS t(q);

-- Every function of the extension documents itself for \df+
SELECT count(*) AS undocumented FROM pg_proc
WHERE pronamespace = 'recsys'::regnamespace AND obj_description(oid, 'pg_proc') IS NULL;

-- similar_items / similar_users on a factor model: the cosine top-k of the
-- factor tables, computed here by brute force
SELECT count(*) AS ranks,
	   count(*) FILTER (WHERE s.item = b.item OR abs(s.similarity - b.sim) < 1e-6) AS same
FROM (SELECT item_id FROM sv_items WHERE item_id <= 20) i
CROSS JOIN LATERAL recsys.similar_items('sv_als', i.item_id, 5) s
JOIN LATERAL (
	SELECT o.item_key::int AS item, recsys.cosine_similarity(f.factors, o.factors) AS sim,
		   row_number() OVER (ORDER BY recsys.cosine_similarity(f.factors, o.factors) DESC, o.item_idx) AS rank
	FROM recsys.item_factors f JOIN recsys.item_factors o ON o.model = f.model AND o.version = f.version
	WHERE f.model = 'sv_als' AND f.version = (SELECT active_version FROM recsys.models WHERE name = 'sv_als')
	  AND f.item_key = i.item_id::text AND o.item_key <> f.item_key) b ON b.rank = s.rank;
SELECT count(*) AS ranks,
	   count(*) FILTER (WHERE s."user" = b.user_id OR abs(s.similarity - b.sim) < 1e-6) AS same
FROM (SELECT user_id FROM sv_users WHERE user_id <= 10) u
CROSS JOIN LATERAL recsys.similar_users('sv_ials', u.user_id, 5) s
JOIN LATERAL (
	SELECT o.user_key::int AS user_id, recsys.cosine_similarity(f.factors, o.factors) AS sim,
		   row_number() OVER (ORDER BY recsys.cosine_similarity(f.factors, o.factors) DESC, o.user_idx) AS rank
	FROM recsys.user_factors f JOIN recsys.user_factors o ON o.model = f.model AND o.version = f.version
	WHERE f.model = 'sv_ials' AND f.version = (SELECT active_version FROM recsys.models WHERE name = 'sv_ials')
	  AND f.user_key = u.user_id::text AND o.user_key <> f.user_key) b ON b.rank = s.rank;
-- unknown keys: no rows and a NOTICE; models without similarities: an error
SELECT count(*) FROM recsys.similar_items('sv_als', -5, 5);
SELECT count(*) FROM recsys.similar_users('sv_als', -5, 5);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('sv_pop', 1, 5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_users('sv_pop', 1, 5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('sv_als', 1, 0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('no_such_model', 1, 5)$$);

-- Neighbourhood models.  item_knn (implicit): score(u, i) = the sum of the
-- stored similarities s_ij over the neighbours j of i the user has; the
-- top 10 of that, computed here from recsys.neighbors, is what recommend()
-- returns (scores to float rounding), and recommend_all agrees
SELECT model FROM recsys.train('sv_iknn', 'sv_interactions', 'user_id', 'item_id', NULL, 'item_knn', '{"neighbors": 20}');
SELECT model FROM recsys.train('sv_uknn', 'sv_interactions', 'user_id', 'item_id', NULL, 'user_knn', '{"neighbors": 20}');
CREATE TEMP TABLE knn_brute AS
SELECT user_id, item, score, row_number() OVER (PARTITION BY user_id ORDER BY score::float4 DESC, item) AS rank
FROM (
	SELECT u.user_id, i.item_id AS item,
		   coalesce((SELECT sum(n.similarity) FROM recsys.neighbors n
					 JOIN sv_interactions x ON x.user_id = u.user_id AND x.item_id = n.neighbor::int
					 WHERE n.model = 'sv_iknn' AND n.version = 1 AND n.kind = 'item'
					   AND n.key = i.item_id::text), 0) AS score
	FROM (SELECT user_id FROM sv_users WHERE user_id <= 30) u CROSS JOIN sv_items i
	WHERE NOT EXISTS (SELECT 1 FROM sv_interactions x WHERE x.user_id = u.user_id AND x.item_id = i.item_id)) s;
SELECT count(*) AS ranks,
	   count(*) FILTER (WHERE abs(r.score - b.score) < 1e-4) AS same_score,
	   count(*) FILTER (WHERE r.item = b.item) AS same_item
FROM knn_brute b JOIN LATERAL recsys.recommend('sv_iknn', b.user_id, 10) r ON r.rank = b.rank
WHERE b.rank <= 10;
SELECT m, count(*) AS rows,
	   count(*) FILTER (WHERE a.item::int = r.item AND abs(a.score - r.score) < 1e-5) AS same
FROM unnest(ARRAY['sv_iknn', 'sv_uknn']) m
CROSS JOIN LATERAL recsys.recommend_all(m, 5) a
JOIN LATERAL recsys.recommend(m, a."user"::int, 5) r ON r.rank = a.rank
GROUP BY m ORDER BY m;
-- predict() gives recommend()'s scores; similar_items is the stored list;
-- similar_users the stored user list
SELECT m, count(*) AS items, count(*) FILTER (WHERE abs(recsys.predict(m, 7, r.item) - r.score) < 1e-6) AS same
FROM unnest(ARRAY['sv_iknn', 'sv_uknn']) m CROSS JOIN LATERAL recsys.recommend(m, 7, 10) r
GROUP BY m ORDER BY m;
SELECT array_agg(s.item ORDER BY s.rank) = (SELECT array_agg(neighbor::int ORDER BY rank) FROM recsys.neighbors
		WHERE model = 'sv_iknn' AND version = 1 AND kind = 'item' AND key = '5' AND rank <= 5) AS stored_items
FROM recsys.similar_items('sv_iknn', 5, 5) s;
SELECT array_agg(s."user" ORDER BY s.rank) = (SELECT array_agg(neighbor::int ORDER BY rank) FROM recsys.neighbors
		WHERE model = 'sv_uknn' AND version = 1 AND kind = 'user' AND key = '5' AND rank <= 5) AS stored_users
FROM recsys.similar_users('sv_uknn', 5, 5) s;
-- a session folded into item_knn scores like the user with those items;
-- user_knn cannot place a new user and says so
SELECT count(*) AS items, count(*) FILTER (WHERE f.item = r.item AND abs(f.score - r.score) < 1e-6) AS same
FROM recsys.recommend('sv_iknn', 7, 10) r
JOIN recsys.recommend_for_items('sv_iknn', (SELECT array_agg(item_id) FROM sv_interactions WHERE user_id = 7), 10) f
	ON f.rank = r.rank;
SELECT count(*) FROM recsys.recommend_for_items('sv_uknn', ARRAY[1, 2], 3);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('sv_uknn', 1, 5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.similar_users('sv_iknn', 1, 5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('sv_iknn', 1, 5, max_similarity => 0.5)$$);
