--
-- ease (Steck's EASE): on a hand-checkable matrix the stored weights and
-- every served score match an independent reference (test/ref/ease_ref.py;
-- its values are embedded below); the served score taken apart by
-- explain(); similar_items; threads; the aggregate form; planted structure
-- is recovered better than by the other implicit models; bad input, and
-- the memory limit checked before anything is trained.
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
CREATE FUNCTION pg_temp.try_hint(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	h text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || ' (hint: ' || h || ')';
END $$;

-- The matrix of test/ref/ease_ref.py (that of knn_ref.py): user 7 rated
-- only item 6, which nobody else rated.
CREATE TABLE ease_r (u int, i int, r real);
INSERT INTO ease_r VALUES
	(0, 0, 5), (0, 1, 3), (0, 2, 4), (0, 4, 1),
	(1, 0, 4), (1, 2, 2), (1, 3, 2), (1, 5, 5),
	(2, 1, 1), (2, 2, 5), (2, 3, 5), (2, 4, 2),
	(3, 0, 2), (3, 1, 4), (3, 4, 5), (3, 5, 3),
	(4, 0, 3), (4, 2, 3), (4, 3, 3), (4, 5, 1),
	(5, 1, 5), (5, 3, 4), (5, 4, 3), (5, 5, 2),
	(6, 0, 1), (6, 1, 2), (6, 2, 2), (6, 3, 1), (6, 4, 4), (6, 5, 4),
	(7, 6, 3);
CREATE TABLE ease_expected_list (config text, item int, rank int, neighbor int, weight float8);
CREATE TABLE ease_expected_score (config text, u int, i int, score float8);
-- BEGIN ease_ref.py --sql (generated: /usr/bin/python3 test/ref/ease_ref.py --sql)
COPY ease_expected_list (config, item, rank, neighbor, weight) FROM stdin;
binary	0	1	5	0.653061224
binary	0	2	2	0.653061224
binary	0	3	4	0.0408163265
binary	0	4	1	0.0408163265
binary	0	5	3	-0.448979592
binary	1	1	4	0.849315068
binary	1	2	5	0.0273972603
binary	1	3	2	0.0273972603
binary	1	4	0	0.0273972603
binary	1	5	3	0.0273972603
binary	2	1	0	0.653061224
binary	2	2	3	0.653061224
binary	2	3	1	0.0408163265
binary	2	4	4	0.0408163265
binary	2	5	5	-0.448979592
binary	3	1	2	0.653061224
binary	3	2	5	0.653061224
binary	3	3	4	0.0408163265
binary	3	4	1	0.0408163265
binary	3	5	0	-0.448979592
binary	4	1	1	0.849315068
binary	4	2	3	0.0273972603
binary	4	3	0	0.0273972603
binary	4	4	2	0.0273972603
binary	4	5	5	0.0273972603
binary	5	1	3	0.653061224
binary	5	2	0	0.653061224
binary	5	3	1	0.0408163265
binary	5	4	4	0.0408163265
binary	5	5	2	-0.448979592
ratings	0	1	2	0.79798798
ratings	0	2	4	-0.664176738
ratings	1	1	4	0.910783197
ratings	1	2	0	0.546375009
ratings	2	1	0	0.786719016
ratings	2	2	3	0.642347604
ratings	3	1	2	0.922460178
ratings	3	2	0	-0.712044263
ratings	4	1	1	0.77043403
ratings	4	2	0	-0.494120147
ratings	5	1	4	0.874328572
ratings	5	2	0	0.809624113
\.
COPY ease_expected_score (config, u, i, score) FROM stdin;
binary	0	0	0.734693878
binary	0	1	0.904109589
binary	0	2	0.734693878
binary	0	3	0.285714286
binary	0	4	0.904109589
binary	0	5	0.285714286
binary	0	6	0
binary	1	0	0.857142857
binary	1	1	0.109589041
binary	1	2	0.857142857
binary	1	3	0.857142857
binary	1	4	0.109589041
binary	1	5	0.857142857
binary	1	6	0
binary	2	0	0.285714286
binary	2	1	0.904109589
binary	2	2	0.734693878
binary	2	3	0.734693878
binary	2	4	0.904109589
binary	2	5	0.285714286
binary	2	6	0
binary	3	0	0.734693878
binary	3	1	0.904109589
binary	3	2	0.285714286
binary	3	3	0.285714286
binary	3	4	0.904109589
binary	3	5	0.734693878
binary	3	6	0
binary	4	0	0.857142857
binary	4	1	0.109589041
binary	4	2	0.857142857
binary	4	3	0.857142857
binary	4	4	0.109589041
binary	4	5	0.857142857
binary	4	6	0
binary	5	0	0.285714286
binary	5	1	0.904109589
binary	5	2	0.285714286
binary	5	3	0.734693878
binary	5	4	0.904109589
binary	5	5	0.734693878
binary	5	6	0
binary	6	0	0.93877551
binary	6	1	0.95890411
binary	6	2	0.93877551
binary	6	3	0.93877551
binary	6	4	0.95890411
binary	6	5	0.93877551
binary	6	6	0
binary	7	0	0
binary	7	1	0
binary	7	2	0
binary	7	3	0
binary	7	4	0
binary	7	5	0
binary	7	6	0
ratings	0	0	0.133811242
ratings	0	1	1.45715821
ratings	0	2	0.786719016
ratings	0	3	0.210415915
ratings	0	4	0.276313883
ratings	0	5	1.68395268
ratings	0	6	0
ratings	1	0	0.79798798
ratings	1	1	0.546375009
ratings	1	2	1.42906662
ratings	1	3	0.210415915
ratings	1	4	-0.494120147
ratings	1	5	0.809624113
ratings	1	6	0
ratings	2	0	0.133811242
ratings	2	1	0.910783197
ratings	2	2	0.642347604
ratings	2	3	0.922460178
ratings	2	4	0.77043403
ratings	2	5	0.874328572
ratings	2	6	0
ratings	3	0	-0.664176738
ratings	3	1	1.45715821
ratings	3	2	0.786719016
ratings	3	3	-0.712044263
ratings	3	4	0.276313883
ratings	3	5	1.68395268
ratings	3	6	0
ratings	4	0	0.79798798
ratings	4	1	0.546375009
ratings	4	2	1.42906662
ratings	4	3	0.210415915
ratings	4	4	-0.494120147
ratings	4	5	0.809624113
ratings	4	6	0
ratings	5	0	-0.664176738
ratings	5	1	0.910783197
ratings	5	2	0.642347604
ratings	5	3	0
ratings	5	4	0.77043403
ratings	5	5	0.874328572
ratings	5	6	0
ratings	6	0	0.133811242
ratings	6	1	1.45715821
ratings	6	2	1.42906662
ratings	6	3	0.210415915
ratings	6	4	0.276313883
ratings	6	5	1.68395268
ratings	6	6	0
ratings	7	0	0
ratings	7	1	0
ratings	7	2	0
ratings	7	3	0
ratings	7	4	0
ratings	7	5	0
ratings	7	6	0
\.
-- END ease_ref.py --sql

-- binary: X the pattern (no value column), every neighbour kept, so the
-- served score is Steck's X_u B exactly.  ratings: X the ratings, the two
-- largest weights per item (a negative one among them).
SELECT model, algorithm, users, items, interactions
FROM recsys.train('ease_binary', 'SELECT u, i FROM ease_r', 'u', 'i', NULL, 'ease',
				  '{"regularization": 0.5, "neighbors": 6, "threads": 1}');
SELECT model, algorithm, users, items, interactions
FROM recsys.train('ease_ratings', 'ease_r', 'u', 'i', 'r', 'ease',
				  '{"regularization": 2, "neighbors": 2, "threads": 2}');
SELECT model, params FROM recsys.model_versions WHERE model LIKE 'ease\_%' ORDER BY model;

-- the stored lists: every weight within 1e-6 of the reference, nothing
-- missing or extra; for ratings also in the reference's order (binary's
-- weights tie exactly, in exact arithmetic, so only the sets are compared)
CREATE TEMP VIEW ease_lists AS
SELECT substr(n.model, 6) AS config, n.item_key::int AS item, p.rank::int AS rank,
	   p.j::int AS neighbor, p.s::float8 AS weight
FROM recsys.item_neighbors n
JOIN recsys.models m ON m.name = n.model AND m.active_version = n.version,
	 unnest(n.neighbor_keys, n.similarity) WITH ORDINALITY AS p(j, s, rank)
WHERE n.model IN ('ease_binary', 'ease_ratings');
SELECT e.config,
	   count(*) AS expected,
	   count(l.item) AS stored,
	   count(*) FILTER (WHERE abs(l.weight - e.weight) > 1e-6) AS weights_off,
	   count(*) FILTER (WHERE e.config = 'ratings' AND l.rank <> e.rank) AS ranks_off
FROM ease_expected_list e
LEFT JOIN ease_lists l USING (config, item, neighbor)
GROUP BY e.config ORDER BY 1;
SELECT count(*) AS stored_not_expected
FROM ease_lists l LEFT JOIN ease_expected_list e USING (config, item, neighbor)
WHERE e.item IS NULL;
-- item 6 shares no user with another item: its weights are all exactly 0
SELECT model, coalesce(array_length(neighbor_keys, 1), 0) AS neighbours
FROM recsys.item_neighbors WHERE model LIKE 'ease\_%' AND item_key = '6' ORDER BY model;

-- every served score, all 56 (user, item) pairs of each configuration
SELECT e.config, count(*) AS pairs,
	   count(*) FILTER (WHERE abs(recsys.predict('ease_' || e.config, e.u, e.i) - e.score) > 1e-5) AS off,
	   max(abs(recsys.predict('ease_' || e.config, e.u, e.i) - e.score)) < 1e-5 AS max_below_1e5
FROM ease_expected_score e GROUP BY e.config ORDER BY 1;
-- recommend: the unseen items by the reference's score
SELECT r.item, r.rank, abs(r.score - e.score) < 1e-5 AS score_as_reference
FROM recsys.recommend('ease_ratings', 1, k => 3) r
JOIN ease_expected_score e ON e.config = 'ratings' AND e.u = 1 AND e.i = r.item
ORDER BY r.rank;
SELECT string_agg(i::text, ',' ORDER BY score DESC, i) AS reference_order
FROM ease_expected_score
WHERE config = 'binary' AND u = 0 AND i NOT IN (0, 1, 2, 4);
SELECT string_agg(item::text, ',' ORDER BY rank) AS served_order
FROM recsys.recommend('ease_binary', 0, k => 3);

-- explain: the user's items' contributions are the weights and add up to
-- the served score
SELECT x.contributor, x.kind, round(x.contribution::numeric, 6) AS contribution
FROM recsys.explain('ease_ratings', 0, 3) x ORDER BY x.rank NULLS LAST, x.kind;
SELECT abs(sum(x.contribution) FILTER (WHERE x.kind = 'item') - recsys.predict('ease_ratings', 0, 3)) < 1e-6
	   AS contributions_sum_to_score
FROM recsys.explain('ease_ratings', 0, 3, k => 100) x;

-- similar_items: the item's stored weights, largest first
SELECT s.item, s.rank, abs(s.similarity - e.weight) < 1e-6 AS weight_as_reference
FROM recsys.similar_items('ease_ratings', 0) s
JOIN ease_expected_list e ON e.config = 'ratings' AND e.item = 0 AND e.neighbor = s.item
ORDER BY s.rank;

-- threads do not change a weight; nor does the aggregate form
SELECT items FROM recsys.train('ease_ratings_t1', 'ease_r', 'u', 'i', 'r', 'ease',
							   '{"regularization": 2, "neighbors": 2, "threads": 1}');
SELECT recsys.fit('ease_fit', u, i, r, '{"algorithm": "ease", "regularization": 2, "neighbors": 2}') IS NOT NULL AS fitted
FROM ease_r;
SELECT b.model, count(*) AS lists,
	   count(*) FILTER (WHERE a.neighbor_idx = b.neighbor_idx AND a.similarity = b.similarity) AS identical
FROM recsys.item_neighbors a
JOIN recsys.item_neighbors b ON b.item_idx = a.item_idx
WHERE a.model = 'ease_ratings' AND b.model IN ('ease_ratings_t1', 'ease_fit')
GROUP BY b.model ORDER BY 1;

-- Bad input --------------------------------------------------------------------
SELECT pg_temp.try_hint($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"regularization": 0}')$$);
SELECT pg_temp.try($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"regularization": -1}')$$);
SELECT pg_temp.try($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"neighbors": 0}')$$);
SELECT pg_temp.try($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"factors": 8}')$$);
SELECT pg_temp.try($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"similarity": "cosine"}')$$);
SELECT pg_temp.try($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"feedback": "explicit"}')$$);
SELECT pg_temp.try($$SELECT recsys.train('ease_bad', 'ease_r', 'u', 'i', NULL, 'ease', '{"half_life": "1 day"}')$$);
-- past the memory limit: refused before training, saying what to do
CREATE TABLE ease_wide AS
SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 3000) i WHERE (u * 7 + i) % 5 = 0;
SET recsys.memory_limit = '32MB';
SELECT regexp_replace(pg_temp.try_hint($$SELECT recsys.train('ease_wide', 'ease_wide', 'u', 'i', NULL, 'ease')$$),
					  '\d+ kB', 'N kB', 'g');
RESET recsys.memory_limit;
SELECT count(*) AS no_model FROM recsys.models WHERE name IN ('ease_bad', 'ease_wide');

-- Planted structure ------------------------------------------------------------
-- the data of sql/train_accuracy.sql (10 item categories), a quarter of
-- each user's interactions held out: at their defaults ease and ials rank
-- them better than bpr, item_knn and popularity (far better than it)
SELECT relation, rows FROM recsys.generate_dataset('ease_acc', users => 2000, items => 400,
	interactions => 120000, seed => 2024, sigma => 0.5);
SELECT part, rows FROM recsys.split('ease_acc_interactions', 'user_id', 'item_id', method => 'per_user',
									test_fraction => 0.25, train_table => 'ease_acc_train',
									test_table => 'ease_acc_test');
SELECT count(*) AS trained FROM (VALUES ('ease'), ('ials'), ('bpr'), ('item_knn'), ('popularity')) a(alg),
	LATERAL recsys.train('ease_acc_' || a.alg, 'ease_acc_train', 'user_id', 'item_id', NULL, a.alg);
CREATE TEMP TABLE ease_ndcg AS
SELECT a.alg, (SELECT value FROM recsys.evaluate('ease_acc_' || a.alg, 'ease_acc_test', metrics => ARRAY['ndcg'])) AS ndcg
FROM (VALUES ('ease'), ('ials'), ('bpr'), ('item_knn'), ('popularity')) a(alg);
-- (the values of the deterministic ones; the others' order is asserted below)
SELECT alg, round(ndcg::numeric, 3) AS ndcg_at_10 FROM ease_ndcg WHERE alg IN ('ease', 'popularity') ORDER BY ndcg DESC;
SELECT e.alg, bool_and(e.ndcg > o.ndcg) AS ahead_of_bpr_item_knn_popularity,
	   bool_and(o.alg <> 'popularity' OR e.ndcg > 1.5 * o.ndcg) AS far_above_popularity
FROM ease_ndcg e, ease_ndcg o
WHERE e.alg IN ('ease', 'ials') AND o.alg IN ('bpr', 'item_knn', 'popularity')
GROUP BY e.alg ORDER BY e.alg;

-- time decay weighs X: an older interaction counts less, so the weights change
SELECT count(*) AS trained FROM recsys.train('ease_acc_decay', 'ease_acc_interactions', 'user_id', 'item_id', NULL, 'ease',
	'{"time_column": "ts", "half_life": "30 days"}');
SELECT count(*) AS trained FROM recsys.train('ease_acc_nodecay', 'ease_acc_interactions', 'user_id', 'item_id', NULL, 'ease');
SELECT count(*) AS lists, count(*) FILTER (WHERE a.similarity <> b.similarity) > 100 AS decay_changes_weights
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_idx)
WHERE a.model = 'ease_acc_decay' AND b.model = 'ease_acc_nodecay';

SELECT count(*) AS dropped FROM recsys.models m, LATERAL recsys.drop_model(m.name) WHERE m.name LIKE 'ease\_%';
DROP TABLE ease_r, ease_expected_list, ease_expected_score, ease_wide,
	ease_acc_users, ease_acc_items, ease_acc_interactions, ease_acc_train, ease_acc_test;
