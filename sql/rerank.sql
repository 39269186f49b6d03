--
-- Re-ranking constraints and fold-in: each constraint is checked for the
-- property it promises over every user of a generated dataset, the
-- standalone rerank() against hand-computed answers, fold-in against the
-- trained user vectors, and bad input for its SQLSTATE.
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

SELECT relation, rows FROM recsys.generate_dataset('rr', users => 300, items => 150,
	interactions => 9000, seed => 5);
-- (ials with the confidence and penalty of 0.2.0's defaults: the thresholds
-- below were set on its factors)
SELECT model FROM recsys.train('rr_ials', 'rr_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 8, "solver": "cholesky", "iterations": 40, "alpha": 2, "regularization": 20}');
SELECT model FROM recsys.train('rr_als', 'rr_interactions', 'user_id', 'item_id', 'rating', 'als',
	'{"factors": 8, "solver": "cholesky", "iterations": 60}');
SELECT model FROM recsys.train('rr_pop', 'rr_interactions', 'user_id', 'item_id', NULL, 'popularity');

-- ---------------------------------------------------------------------
-- Group cap: at most 2 items per category in every list, and every list
-- is still 10 long.
CREATE TEMP TABLE capped AS
SELECT u.user_id, r.item, r.rank, i.category
FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10,
	item_groups => 'SELECT item_id, category FROM rr_items', max_per_group => 2) r
JOIN rr_items i ON i.item_id = r.item;
SELECT count(DISTINCT user_id) AS users,
	   count(*) AS items,
	   (SELECT max(n) FROM (SELECT count(*) AS n FROM capped GROUP BY user_id, category) g) AS max_per_category
FROM capped;
-- the cap changed lists (the unconstrained ones break it)
SELECT max(n) > 2 AS unconstrained_breaks_cap FROM (
	SELECT count(*) AS n FROM rr_users u
	CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10) r
	JOIN rr_items i ON i.item_id = r.item GROUP BY u.user_id, i.category) g;
-- within the cap, the list is the greedy best: each item is the best-scored
-- unseen item whose category was not yet full (checked for user 11)
WITH RECURSIVE cand AS (
	SELECT r.item, r.score, r.rank, i.category FROM recsys.recommend('rr_ials', 11, 150) r
	JOIN rr_items i ON i.item_id = r.item),
pick(n, items, cats) AS (
	SELECT 0, ARRAY[]::int[], ARRAY[]::int[]
	UNION ALL
	SELECT n + 1, items || c.item, cats || c.category FROM pick,
	LATERAL (SELECT item, category FROM cand
			 WHERE item <> ALL (items)
			   AND (SELECT count(*) FROM unnest(cats) x WHERE x = cand.category) < 2
			 ORDER BY rank LIMIT 1) c
	WHERE n < 10)
SELECT (SELECT items FROM pick WHERE n = 10) =
	   (SELECT array_agg(item ORDER BY rank) FROM recsys.recommend('rr_ials', 11, 10,
			item_groups => 'SELECT item_id, category FROM rr_items', max_per_group => 2)) AS greedy_matches;

-- ---------------------------------------------------------------------
-- Minimum share: items of category 2 (11 of the 150) hold at least
-- floor(0.3 r) of every prefix of length r, for every user with at least
-- 3 unseen items of that category.
CREATE TEMP TABLE shared AS
SELECT u.user_id, r.item, r.rank, i.category = 2 AS protected
FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10,
	item_groups => 'SELECT item_id, category FROM rr_items',
	protected_group => '2', min_share => 0.3) r
JOIN rr_items i ON i.item_id = r.item;
CREATE TEMP TABLE eligible AS
SELECT u.user_id FROM rr_users u
WHERE (SELECT count(*) FROM rr_items i WHERE i.category = 2 AND NOT EXISTS (
		SELECT 1 FROM rr_interactions x WHERE x.user_id = u.user_id AND x.item_id = i.item_id)) >= 3;
SELECT (SELECT count(*) FROM eligible) AS users,
	   count(*) AS items,
	   count(*) FILTER (WHERE protected) AS protected_items,
	   (SELECT count(*) FROM (
			SELECT s.user_id, s.rank
			FROM shared s JOIN shared p ON p.user_id = s.user_id AND p.rank <= s.rank
			WHERE s.user_id IN (SELECT user_id FROM eligible)
			GROUP BY s.user_id, s.rank
			HAVING count(*) FILTER (WHERE p.protected) < floor(0.3 * s.rank)) bad) AS prefixes_short
FROM shared WHERE user_id IN (SELECT user_id FROM eligible);
-- without the constraint the category gets far less
SELECT count(*) FILTER (WHERE i.category = 2) AS protected_items_unconstrained
FROM eligible u CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10) r
JOIN rr_items i ON i.item_id = r.item;

-- ---------------------------------------------------------------------
-- Diversity: lists stay 10 long, and are exactly the documented greedy
-- choice, recomputed here for 20 users: at each rank the best-ranked
-- unseen item whose cosine similarity to every item above it is at most
-- 0.5, or, when there is none, the item least similar to those above.
CREATE TEMP TABLE diverse AS
SELECT u.user_id, r.item, r.rank
FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10, max_similarity => 0.5) r;
SELECT count(DISTINCT user_id) AS users, count(*) AS items FROM diverse;
SELECT count(*) AS users_checked,
	   count(*) FILTER (WHERE ref.items = (SELECT array_agg(item ORDER BY rank) FROM diverse d
										   WHERE d.user_id = u.user_id)) AS same_lists
FROM (SELECT user_id FROM rr_users ORDER BY user_id LIMIT 20) u
CROSS JOIN LATERAL (
	WITH RECURSIVE cand AS (
		SELECT r.item, r.rank, f.factors FROM recsys.recommend('rr_ials', u.user_id, 1000) r
		JOIN recsys.item_factors f ON f.model = 'rr_ials' AND f.version = 1 AND f.item_key = r.item::text),
	pick(n, items) AS (
		SELECT 0, ARRAY[]::int[]
		UNION ALL
		SELECT n + 1, items || (
			SELECT c.item FROM cand c,
			LATERAL (SELECT max(recsys.cosine_similarity(c.factors, p.factors)) AS ms
					 FROM cand p WHERE p.item = ANY (items)) s
			WHERE c.item <> ALL (items)
			ORDER BY coalesce(s.ms, -1) > 0.5, CASE WHEN s.ms > 0.5 THEN s.ms END, c.rank
			LIMIT 1)
		FROM pick WHERE n < 10)
	SELECT items FROM pick WHERE n = 10) ref;
-- and they are more diverse than the plain lists
CREATE TEMP TABLE plain AS
SELECT u.user_id, r.item, r.rank FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10) r;
CREATE FUNCTION pg_temp.mean_similarity(lists regclass) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE s float8;
BEGIN
	EXECUTE format($q$SELECT avg(recsys.cosine_similarity(fa.factors, fb.factors))
		FROM %s a JOIN %s b ON b.user_id = a.user_id AND b.rank > a.rank
		JOIN recsys.item_factors fa ON fa.model = 'rr_ials' AND fa.version = 1 AND fa.item_key = a.item::text
		JOIN recsys.item_factors fb ON fb.model = 'rr_ials' AND fb.version = 1 AND fb.item_key = b.item::text$q$,
		lists, lists) INTO s;
	RETURN s;
END $$;
SELECT pg_temp.mean_similarity('diverse') < pg_temp.mean_similarity('plain') - 0.1 AS more_diverse;

-- MMR: lambda = 1 is relevance alone (the plain list); lambda = 0.3 keeps the
-- best item first, changes lists and lowers the mean pairwise similarity
SELECT count(*) AS ranks,
	   count(*) FILTER (WHERE m.item = p.item) AS same_as_plain
FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10) p
JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10, mmr_lambda => 1) m ON m.rank = p.rank;
CREATE TEMP TABLE mmr AS
SELECT u.user_id, 'mmr' AS kind, r.item, r.rank FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10, mmr_lambda => 0.3) r
UNION ALL
SELECT u.user_id, 'plain', r.item, r.rank FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10) r;
SELECT count(*) FILTER (WHERE kind = 'mmr') AS mmr_items,
	   count(*) FILTER (WHERE kind = 'mmr' AND rank = 1 AND item = (
			SELECT p.item FROM mmr p WHERE p.kind = 'plain' AND p.user_id = mmr.user_id AND p.rank = 1)) AS same_first,
	   count(DISTINCT user_id) FILTER (WHERE kind = 'mmr' AND NOT EXISTS (
			SELECT 1 FROM mmr p WHERE p.kind = 'plain' AND p.user_id = mmr.user_id AND p.item = mmr.item)) > 200 AS lists_changed
FROM mmr;
CREATE TEMP TABLE mmr_only AS SELECT user_id, item, rank FROM mmr WHERE kind = 'mmr';
SELECT pg_temp.mean_similarity('mmr_only') < pg_temp.mean_similarity('plain') - 0.1 AS mmr_more_diverse;

-- ---------------------------------------------------------------------
-- Freshness: the documented formula, computed here from every unseen
-- item's score: s' = lo + (s - lo) * 0.5^(age / half_life).
CREATE TEMP TABLE fresh_ref AS
WITH s AS (
	SELECT u.user_id, r.item, r.score FROM (SELECT user_id FROM rr_users WHERE user_id <= 40) u
	CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 1000) r),
b AS (
	SELECT s.user_id, s.item,
		   min(s.score) OVER (PARTITION BY s.user_id) + (s.score - min(s.score) OVER (PARTITION BY s.user_id)) *
		   power(0.5, greatest(extract(epoch FROM now() - i.created_at), 0) / extract(epoch FROM interval '180 days')) AS boosted
	FROM s JOIN rr_items i ON i.item_id = s.item)
SELECT user_id, item, boosted, row_number() OVER (PARTITION BY user_id ORDER BY boosted::float4 DESC, item) AS rank
FROM b;
SELECT count(*) AS ranks,
	   count(*) FILTER (WHERE r.item = f.item OR abs(r.score - (SELECT boosted FROM fresh_ref g
			WHERE g.user_id = f.user_id AND g.item = r.item)) < 1e-5) AS same,
	   count(*) FILTER (WHERE abs(r.score - f.boosted) > 1e-5) AS score_differs
FROM fresh_ref f
JOIN LATERAL recsys.recommend('rr_ials', f.user_id, 10,
	item_times => 'SELECT item_id, created_at FROM rr_items', half_life => '180 days') r ON r.rank = f.rank
WHERE f.rank <= 10;
-- and fresher items move up: the mean age of recommended items drops
SELECT (SELECT avg(now() - i.created_at) FROM rr_users u
		CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10,
			item_times => 'SELECT item_id, created_at FROM rr_items', half_life => '180 days') r
		JOIN rr_items i ON i.item_id = r.item) <
	   (SELECT avg(now() - i.created_at) FROM rr_users u
		CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10) r
		JOIN rr_items i ON i.item_id = r.item) AS fresher;

-- ---------------------------------------------------------------------
-- Exclusions from a query: never shown, lists still full; all
-- constraints at once; recommend_all applies them exactly like recommend
SELECT count(*) AS items, count(*) FILTER (WHERE r.item % 3 = 0) AS excluded_shown
FROM rr_users u CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10,
	exclude_query => 'SELECT item_id FROM rr_items WHERE item_id % 3 = 0') r;
CREATE TEMP TABLE everything AS
SELECT u.user_id, r.item, r.score, r.rank FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10,
	exclude => ARRAY[1, 2, 3],
	exclude_query => 'SELECT item_id FROM rr_items WHERE item_id % 7 = 0',
	item_times => 'SELECT item_id, created_at FROM rr_items', half_life => '1 year',
	item_groups => 'SELECT item_id, category FROM rr_items', max_per_group => 3,
	max_similarity => 0.6, mmr_lambda => 0.7) r;
SELECT count(*) AS items, count(DISTINCT user_id) AS users,
	   count(*) FILTER (WHERE item IN (1, 2, 3) OR item % 7 = 0) AS excluded_shown,
	   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM rr_interactions x
			WHERE x.user_id = everything.user_id AND x.item_id = everything.item)) AS seen_shown
FROM everything;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.item::int = e.item AND abs(a.score - e.score) < 1e-6) AS same
FROM recsys.recommend_all('rr_ials', 10,
	exclude => ARRAY['1', '2', '3'],
	exclude_query => 'SELECT item_id FROM rr_items WHERE item_id % 7 = 0',
	item_times => 'SELECT item_id, created_at FROM rr_items', half_life => '1 year',
	item_groups => 'SELECT item_id, category FROM rr_items', max_per_group => 3,
	max_similarity => 0.6, mmr_lambda => 0.7) a
JOIN everything e ON e.user_id = a."user"::int AND e.rank = a.rank;

-- recommend_all for a list of users (unknown keys are left out)
SELECT count(*) AS rows, count(DISTINCT a."user") AS users,
	   count(*) FILTER (WHERE a.item::int = r.item AND abs(a.score - r.score) < 1e-6) AS same
FROM recsys.recommend_all('rr_ials', 5, users => ARRAY['3', '17', 'no such user']) a
JOIN LATERAL recsys.recommend('rr_ials', a."user"::int, 5) r ON r.rank = a.rank;

-- a Bloom filter of forbidden items: none of them ever appears, lists stay
-- full, and recommend_all agrees
CREATE TEMP TABLE blocklist AS
SELECT recsys.bloom_agg(item_id, 0.01) AS f FROM rr_items WHERE item_id % 5 = 0;
SELECT count(*) AS items, count(DISTINCT u.user_id) AS users,
	   count(*) FILTER (WHERE r.item % 5 = 0) AS forbidden_shown
FROM rr_users u CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10,
	forbidden => (SELECT f FROM blocklist)) r;
SELECT count(*) AS rows, count(*) FILTER (WHERE a.item::int = r.item) AS same
FROM recsys.recommend_all('rr_ials', 10, forbidden => (SELECT f FROM blocklist)) a
JOIN LATERAL recsys.recommend('rr_ials', a."user"::int, 10, forbidden => (SELECT f FROM blocklist)) r
	ON r.rank = a.rank;
-- a filter large enough to be stored out of line: the same lists as
-- excluding exactly the items it contains
CREATE TEMP TABLE big_blocklist AS
SELECT recsys.bloom_agg(k, 0.01) AS f FROM (
	SELECT item_id AS k FROM rr_items WHERE item_id % 5 = 0
	UNION ALL SELECT g FROM generate_series(100000, 200000) g) keys;
SELECT pg_column_size(f) > 100000 AS large FROM big_blocklist;
SELECT count(*) AS rows, count(*) FILTER (WHERE b.item = r.item) AS same
FROM rr_users u
CROSS JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10, forbidden => (SELECT f FROM big_blocklist)) b
JOIN LATERAL recsys.recommend('rr_ials', u.user_id, 10, exclude => (
	SELECT array_agg(item_id) FROM rr_items
	WHERE recsys.bloom_contains((SELECT f FROM big_blocklist), item_id))) r
	ON r.rank = b.rank;
SELECT array_agg(item ORDER BY rank) AS not_forbidden
FROM recsys.rerank(ARRAY[5, 6, 10, 11], ARRAY[4, 3, 2, 1]::float8[], 10,
	forbidden => (SELECT f FROM blocklist));

-- constraints that cannot all hold: the list is still k long, and the cap
-- holds as far as the groups allow: one item of each category the user
-- has unseen items in (user 5 has seen every item of category 7), then
-- the cap is relaxed
CREATE TEMP TABLE relaxed AS
SELECT r.item, r.rank, i.category FROM recsys.recommend('rr_pop', 5, 30,
	item_groups => 'SELECT item_id, category FROM rr_items', max_per_group => 1) r
JOIN rr_items i ON i.item_id = r.item;
SELECT (SELECT count(*) FROM relaxed) AS items,
	   (SELECT count(DISTINCT category) FROM relaxed WHERE rank <= 9) AS categories_in_first_9,
	   (SELECT count(DISTINCT category) FROM rr_items i WHERE NOT EXISTS (
			SELECT 1 FROM rr_interactions x WHERE x.user_id = 5 AND x.item_id = i.item_id)) AS unseen_categories;
-- k larger than the catalogue, with constraints: every unseen item, once
SELECT count(*) AS items, count(DISTINCT item) AS distinct_items,
	   150 - (SELECT count(*) FROM rr_interactions WHERE user_id = 5) AS unseen
FROM recsys.recommend('rr_ials', 5, 1000, max_similarity => 0.1,
	item_groups => 'SELECT item_id, category FROM rr_items', max_per_group => 1);

-- ---------------------------------------------------------------------
-- rerank() over hand-made candidates
-- cap 1 per group: a, b, c first, then the rest by score
SELECT array_agg(item ORDER BY rank) AS capped
FROM recsys.rerank(ARRAY[1, 2, 3, 4, 5, 6], ARRAY[6, 5, 4, 3, 2, 1]::float8[], 6,
	groups => ARRAY['a', 'a', 'a', 'b', 'b', 'c'], max_per_group => 1);
-- min share 0.5 for group p: positions 2, 4, 6 get the best p items left
SELECT array_agg(item ORDER BY rank) AS shared
FROM recsys.rerank(ARRAY['u1', 'u2', 'u3', 'u4', 'p1', 'p2', 'p3'], ARRAY[9, 8, 7, 6, 5, 4, 3]::float8[], 6,
	groups => ARRAY['u', 'u', 'u', 'u', 'p', 'p', 'p'], protected_group => 'p', min_share => 0.5);
-- diversity: x2 is too close to x1 (cosine 0.995), so x3 comes second
SELECT array_agg(item ORDER BY rank) AS diverse
FROM recsys.rerank(ARRAY['x1', 'x2', 'x3'], ARRAY[3, 2, 1]::float8[], 3,
	vectors => ARRAY['[1,0]', '[1,0.1]', '[0,1]']::recsys.embedding[], max_similarity => 0.9);
-- MMR with lambda 0.5: rel = (s - 1) / 2 scaled; x1 (rel 1), then
-- x2: 0.5*0.5 - 0.5*0.995 = -0.2475 vs x3: 0.5*0 - 0.5*0 = 0 -> x3, then x2
SELECT array_agg(item ORDER BY rank) AS mmr
FROM recsys.rerank(ARRAY['x1', 'x2', 'x3'], ARRAY[3, 2, 1]::float8[], 3,
	vectors => ARRAY['[1,0]', '[1,0.1]', '[0,1]']::recsys.embedding[], mmr_lambda => 0.5);
-- freshness: lo = 1; a (score 3, 2 half-lives old) -> 1 + 2 * 0.25 = 1.5;
-- b (2, new) -> 2; c (1) stays 1; d has no time and keeps 2.5
SELECT item, round(score::numeric, 6) AS score, rank
FROM recsys.rerank(ARRAY['a', 'b', 'c', 'd'], ARRAY[3, 2, 1, 2.5]::float8[], 4,
	item_times => ARRAY[now() - interval '20 days', now(), now() - interval '1 day', NULL],
	half_life => '10 days');
-- exclusions, NULL candidates dropped, duplicates ranked once at their best
SELECT array_agg(item ORDER BY rank) AS cleaned, array_agg(score ORDER BY rank) AS scores
FROM recsys.rerank(ARRAY[1, 2, NULL, 3, 2, 4], ARRAY[1, 2, 9, NULL, 5, 3]::float8[], 10,
	exclude => ARRAY[4]);
-- k larger than the candidates: all of them
SELECT count(*) FROM recsys.rerank(ARRAY[1, 2], ARRAY[1, 2]::float8[], 100);

-- ---------------------------------------------------------------------
-- Fold-in: a user described by their training interactions gets (within
-- tolerance) the scores of their trained vector, for every item
SELECT m, count(*) AS items,
	   max(abs(r.score - f.score)) < 0.02 AS same_scores
FROM (VALUES ('rr_ials', 'clicks'), ('rr_als', 'rating')) AS v(m, col)
CROSS JOIN (SELECT user_id FROM rr_users WHERE user_id IN (3, 17, 120)) u
CROSS JOIN LATERAL recsys.recommend(v.m, u.user_id, 1000, exclude_seen => false) r
JOIN LATERAL recsys.recommend_for_items(v.m,
		(SELECT array_agg(item_id ORDER BY item_id) FROM rr_interactions x WHERE x.user_id = u.user_id),
		1000, exclude_seen => false,
		ratings => (SELECT array_agg(CASE v.col WHEN 'clicks' THEN clicks ELSE rating END::float8 ORDER BY item_id)
					FROM rr_interactions x WHERE x.user_id = u.user_id)) f ON f.item = r.item
GROUP BY m ORDER BY m;
-- A user who arrived after training: recommend() folds them in from their
-- rows in the model's source, exactly as recommend_for_items() would
INSERT INTO rr_interactions (user_id, item_id, rating, clicks)
SELECT 100001, item_id, 4, 2 FROM rr_items WHERE item_id IN (5, 6, 7, 8, 40);
SELECT count(*) AS items, bool_and(r.item = f.item AND abs(r.score - f.score) < 1e-6) AS same,
	   count(*) FILTER (WHERE r.item IN (5, 6, 7, 8, 40)) AS seen_shown
FROM recsys.recommend('rr_ials', 100001, 10) r
JOIN recsys.recommend_for_items('rr_ials', ARRAY[5, 6, 7, 8, 40], 10,
	ratings => ARRAY[2, 2, 2, 2, 2]) f ON f.rank = r.rank;
SELECT count(*) AS items, bool_and(r.item = f.item AND abs(r.score - f.score) < 1e-6) AS same
FROM recsys.recommend('rr_als', 100001, 10) r
JOIN recsys.recommend_for_items('rr_als', ARRAY[5, 6, 7, 8, 40], 10,
	ratings => ARRAY[4, 4, 4, 4, 4]) f ON f.rank = r.rank;
-- a role that may not read the source gets the same fold-in as the
-- owner: the stored source runs as the model's owner, whoever calls
SELECT array_agg(item ORDER BY rank) AS owners_items FROM recsys.recommend('rr_ials', 100001, 3);
CREATE ROLE rr_reader;
GRANT USAGE ON SCHEMA recsys TO rr_reader;
GRANT SELECT ON recsys.models, recsys.model_versions, recsys.user_factors, recsys.item_factors TO rr_reader;
SELECT count(recsys.grant_model('rr_ials', 'rr_reader')) AS granted;
SET ROLE rr_reader;
\set VERBOSITY default
SELECT array_agg(item ORDER BY rank) AS items FROM recsys.recommend('rr_ials', 100001, 3);
\set VERBOSITY terse
RESET ROLE;
SELECT array_agg(item ORDER BY rank) AS popular FROM recsys.recommend('rr_pop', -1, 3);
DELETE FROM rr_interactions WHERE user_id = 100001;
REVOKE ALL ON recsys.models, recsys.model_versions, recsys.user_factors, recsys.item_factors FROM rr_reader;
REVOKE USAGE ON SCHEMA recsys FROM rr_reader;
DROP ROLE rr_reader;

-- the items given are not recommended back (by default); unknown items are
-- ignored; with no known item, popular items and a NOTICE
SELECT count(*) AS items, count(*) FILTER (WHERE item IN (1, 2, 3)) AS given_shown
FROM recsys.recommend_for_items('rr_ials', ARRAY[1, 2, 3, 100000], 10);
SELECT array_agg(item ORDER BY rank) = (SELECT array_agg(item ORDER BY rank) FROM recsys.recommend('rr_pop', -1, 5)) AS popular
FROM recsys.recommend_for_items('rr_ials', ARRAY[100000], 5);
-- a popularity model: popular items other than those given
SELECT count(*) AS items, count(*) FILTER (WHERE item = 1) AS given_shown
FROM recsys.recommend_for_items('rr_pop', ARRAY[1], 5);
-- text keys work too
SELECT pg_typeof(item) AS item_type, count(*) AS items
FROM recsys.recommend_for_items('rr_ials', ARRAY['1', '2'], 3) GROUP BY 1;

-- ---------------------------------------------------------------------
-- Bad input
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, mmr_lambda => 1.5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, mmr_lambda => -0.1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, max_similarity => 2)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, max_similarity => 'NaN')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, min_share => 1.5, protected_group => 'x', item_groups => 'SELECT 1, 2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, min_share => 0.5, item_groups => 'SELECT 1, 2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, max_per_group => 0, item_groups => 'SELECT 1, 2')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, max_per_group => 2)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, item_groups => 'SELECT item_id, genre FROM rr_items', max_per_group => 2)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, item_groups => 'SELECT item_id FROM rr_items', max_per_group => 2)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, exclude_query => 'DELETE FROM rr_items RETURNING item_id')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, exclude_query => 'WITH d AS (DELETE FROM rr_items RETURNING item_id) SELECT item_id FROM d')$$);
SELECT count(*) AS items_left FROM rr_items;
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, half_life => '1 day')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, item_times => 'SELECT item_id, created_at FROM rr_items', half_life => '-1 day')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, pool => 0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_ials', 1, 10, exclude => 5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('rr_pop', 1, 10, max_similarity => 0.5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_for_items('rr_ials', ARRAY[1, 2], 10, ratings => ARRAY[1.0])$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_for_items('rr_ials', ARRAY[1, 2], 10, ratings => ARRAY[1, 'Infinity'::float8])$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_for_items('rr_ials', ARRAY[1, 2], 0)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_for_items('no_such_model', ARRAY[1, 2], 10)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.rerank(ARRAY[1, 2], ARRAY[1.0], 10)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.rerank(ARRAY[1, 2], ARRAY[1, 'NaN'::float8], 10)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.rerank(ARRAY[1, 2], ARRAY[1, 2], -1)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.rerank(ARRAY[1, 2], ARRAY[1, 2], 10, max_similarity => 0.5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.rerank(ARRAY[1, 2], ARRAY[1, 2], 10, vectors => ARRAY['[1,0]', '[1,0,0]']::recsys.embedding[], max_similarity => 0.5)$$);
SELECT pg_temp.try($$SELECT * FROM recsys.rerank(ARRAY[1, 2], ARRAY[1, 2], 10, groups => ARRAY['a', 'b'], min_share => 0.5)$$);
