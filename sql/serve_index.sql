--
-- recommend() with candidates from a recsys_hnsw index on recsys.item_factors
-- (large catalogues, models scored by the dot product alone: ials):
-- with a search wide enough the lists equal exact scoring of every item; a
-- narrow search still finds nearly all of them; exclusions never shorten
-- the list; models with biases, catalogues below recsys.index_min_items
-- and greedy constraints score every item.
--
SET client_min_messages = warning;
CREATE TABLE si AS
	SELECT user_id, item_id, clicks FROM recsys.synth_interactions(1500, 2500, 60000, 11);
SELECT algorithm, users, items FROM recsys.train('si_ials', 'si', 'user_id', 'item_id', 'clicks',
									 'ials', '{"factors": 16, "iterations": 4}');
SELECT algorithm, users, items FROM recsys.train('si_bpr', 'si', 'user_id', 'item_id', NULL,
									 'bpr', '{"factors": 16, "iterations": 5}');
SELECT algorithm, users, items FROM recsys.train('si_als', 'si', 'user_id', 'item_id', 'clicks',
									 'als', '{"factors": 16, "iterations": 4}');
-- exact lists (no index yet)
CREATE TABLE si_exact AS
	SELECT u, r.item, r.rank, r.score
	FROM generate_series(1, 300) u CROSS JOIN LATERAL recsys.recommend('si_ials', u, 10) r;

-- one index per model: a recsys_hnsw index holds vectors of one dimension,
-- and item_factors holds every model's (the planner proves the predicate
-- from the model name recommend() passes)
CREATE INDEX si_hnsw ON recsys.item_factors USING recsys_hnsw (factors recsys.embedding_ip_ops)
	WHERE model = 'si_ials';
ANALYZE recsys.item_factors;
-- the catalogue here is tiny: lower the threshold, and keep the planner
-- from sorting the 2500 rows itself (it would, rightly, at this size)
SET recsys.index_min_items = 0;
SET enable_sort = off;
SET recsys.ef_search = 400;

-- index scans a statement makes (this transaction's statistics)
CREATE FUNCTION si_scans(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE before bigint := pg_stat_get_xact_numscans('recsys.si_hnsw'::regclass);
BEGIN
	EXECUTE q;
	RETURN pg_stat_get_xact_numscans('recsys.si_hnsw'::regclass) - before;
END $$;
-- one per call; none for models with biases (bpr's item biases, als),
-- with a greedy constraint, or for an unknown user scored by popularity
SELECT si_scans($$SELECT count(*) FROM recsys.recommend('si_ials', 1, 10)$$) AS ials_one,
	   si_scans($$SELECT count(*) FROM generate_series(2, 11) u
				  CROSS JOIN LATERAL recsys.recommend('si_ials', u, 5)$$) AS ials_ten,
	   si_scans($$SELECT count(*) FROM recsys.recommend('si_bpr', 1, 10)$$) AS bpr,
	   si_scans($$SELECT count(*) FROM recsys.recommend('si_als', 1, 10)$$) AS als,
	   si_scans($$SELECT count(*) FROM recsys.recommend('si_ials', 1, 10, max_per_group => 2,
				  item_groups => 'SELECT item_id, item_id % 7 FROM generate_series(1, 2500) item_id')$$) AS greedy,
	   si_scans($$SELECT count(*) FROM recsys.recommend('si_ials', 999999, 10)$$) AS unknown;

-- a wide search: the same lists as exact scoring, the same scores up to
-- float rounding (one dot product against a matrix-vector product)
CREATE TABLE si_wide AS
	SELECT u, r.item, r.rank, r.score
	FROM generate_series(1, 300) u CROSS JOIN LATERAL recsys.recommend('si_ials', u, 10) r;
SELECT count(*) AS rows, count(e.*) AS same,
	   max(abs(w.score - e.score)) < 1e-6 AS same_scores
FROM si_wide w LEFT JOIN si_exact e USING (u, item, rank);

-- a narrow search: recall@10 against exact scoring, full lists
SET recsys.ef_search = 10;
SELECT round(count(*) FILTER (WHERE (u, item) IN (SELECT u, item FROM si_exact))::numeric / count(*), 2) >= 0.95 AS recall_ok,
	   count(*) AS rows
FROM generate_series(1, 300) u CROSS JOIN LATERAL recsys.recommend('si_ials', u, 10) r;

-- exclusions the pool cannot absorb: an exclude_query that leaves 12
-- items of 2500 empties the pool, so every item is scored and the list is
-- as long as items are left: the user's unseen items among those 12, in
-- the order exact scoring gives
SET recsys.ef_search = 40;
CREATE TABLE si_few AS
	SELECT r.* FROM recsys.recommend('si_ials', 7, 10,
		exclude_query => 'SELECT item_id FROM generate_series(13, 2500) item_id') r;
SELECT count(*) AS n, bool_and(item <= 12) AS only_allowed,
	   bool_and(item NOT IN (SELECT item_id FROM si WHERE user_id = 7)) AS unseen
FROM si_few;
SET recsys.index_min_items = 1000000;
SELECT count(*) AS same_as_exact
FROM si_few JOIN recsys.recommend('si_ials', 7, 10,
		exclude_query => 'SELECT item_id FROM generate_series(13, 2500) item_id') r USING (item, rank);
SET recsys.index_min_items = 0;
SELECT count(*) = 10 AS full, bool_and(item NOT IN (SELECT item_id FROM si WHERE user_id = 3)) AS unseen
FROM recsys.recommend('si_ials', 3, 10);

-- below the threshold the index is not asked
SET recsys.index_min_items = 2501;
SELECT si_scans($$SELECT count(*) FROM recsys.recommend('si_ials', 1, 10)$$) AS below;
RESET recsys.index_min_items;
RESET enable_sort;
RESET recsys.ef_search;
DROP INDEX recsys.si_hnsw;
DROP FUNCTION si_scans(text);
SELECT recsys.drop_model('si_ials'), recsys.drop_model('si_bpr'), recsys.drop_model('si_als');
DROP TABLE si, si_exact, si_wide, si_few;
