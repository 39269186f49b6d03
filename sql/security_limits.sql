--
-- Limits a role cannot lift, and wrong results or silent no-ops turned
-- into right results or clear errors.
--
-- Limits: recsys.memory_limit and recsys.hnsw_cache_size may be lowered by
-- any role but not SET above recsys.max_memory_limit and
-- recsys.max_hnsw_cache_size, which only a superuser sets; the smaller of
-- each pair is what is obeyed, whatever order the settings came in.  The
-- option "threads" is capped by recsys.max_threads.  A training never
-- holds more than recsys.memory_limit in its memory context (the error
-- comes first), and a set-returning function in a source's FROM, which
-- PostgreSQL materialises before recsys reads a row, is stopped by
-- temp_file_limit.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

-- the SQLSTATE and message of a statement, or 'ok' (in a schema of their
-- own: the test reconnects as another role)
CREATE SCHEMA sl;
CREATE FUNCTION sl.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the same with the detail and the hint
CREATE FUNCTION sl.why(q text) RETURNS TABLE (state text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	state := 'ok';
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	state := SQLSTATE;
	GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT;
	RETURN NEXT;
END $$;

-- The checks are the library's: a session loads it on its first call of a
-- recsys function (or at connection, with session_preload_libraries);
-- a SET before that is checked when it loads.
LOAD 'recsys';

SELECT current_user AS sl_super \gset
CREATE ROLE sl_user LOGIN;
GRANT USAGE ON SCHEMA sl TO sl_user;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO sl_user;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) TO sl_user;
CREATE TABLE sl_small AS
SELECT u, i, ((u * 7 + i * 3) % 5 + 1)::real AS r
FROM generate_series(1, 20) u, generate_series(1, 12) i WHERE (u + i) % 3 <> 0;
-- long distinct keys: more than 7 MB of text
CREATE TABLE sl_long_keys AS
SELECT repeat(md5(g::text), 4) AS u, g % 50 AS i FROM generate_series(1, 60000) g;
GRANT SELECT ON sl_small, sl_long_keys TO sl_user;

-- ---------------------------------------------------------------------
-- The caps and their defaults
SHOW recsys.max_memory_limit;
SHOW recsys.memory_limit;
SHOW recsys.max_hnsw_cache_size;
SHOW recsys.hnsw_cache_size;
SHOW recsys.max_threads;
SELECT name, context FROM pg_settings
WHERE name IN ('recsys.memory_limit', 'recsys.max_memory_limit', 'recsys.hnsw_cache_size',
			   'recsys.max_hnsw_cache_size', 'recsys.max_threads')
ORDER BY name;

-- An ordinary role may lower the limits, not raise them above the caps,
-- and cannot touch the caps
SET ROLE sl_user;
SET recsys.memory_limit = '64MB';
SHOW recsys.memory_limit;
SET recsys.memory_limit = '3GB';
SET recsys.hnsw_cache_size = '0';
SET recsys.hnsw_cache_size = '1GB';
SELECT set_config('recsys.memory_limit', '100GB', false);
SHOW recsys.memory_limit;
SET recsys.max_memory_limit = '1TB';
SET recsys.max_hnsw_cache_size = '1TB';
SET recsys.max_threads = 64;
-- a function's SET clause is a SET too: refused when it is created, and
-- when it runs under a lower cap
RESET ROLE;
CREATE FUNCTION sl.raise() RETURNS int LANGUAGE sql
	SET recsys.memory_limit = '3GB' AS 'SELECT 1';
SET recsys.max_memory_limit = '4GB';
CREATE FUNCTION sl.raise() RETURNS int LANGUAGE sql
	SET recsys.memory_limit = '3GB' AS 'SELECT 1';
RESET recsys.max_memory_limit;
GRANT EXECUTE ON FUNCTION sl.raise() TO sl_user;
SET ROLE sl_user;
SELECT sl.try('SELECT sl.raise()');
-- "threads" above recsys.max_threads is refused; the default is capped
SELECT * FROM sl.why($$SELECT recsys.train('sl_threads', 'sl_small', 'u', 'i', 'r', 'als', '{"threads": 9, "factors": 2, "iterations": 1}')$$);
SELECT * FROM sl.why($$SELECT recsys.train('sl_threads', 'sl_small', 'u', 'i', 'r', 'als', '{"threads": 64, "factors": 2, "iterations": 1}')$$);
SELECT sl.try($$SELECT recsys.train('sl_threads', 'sl_small', 'u', 'i', 'r', 'als', '{"threads": 2, "factors": 2, "iterations": 1}')$$);
RESET ROLE;
RESET recsys.memory_limit;
RESET recsys.hnsw_cache_size;

-- A superuser raises a cap, then the limit; lowering the cap afterwards
-- lowers the limit in force (the error reports the cap's value)
SET recsys.max_memory_limit = '4GB';
SET recsys.memory_limit = '3GB';
SHOW recsys.memory_limit;
SET recsys.max_memory_limit = '1MB';
SELECT state, message, detail ~ 'the limit is 1024 kB' AS limit_is_the_cap, hint
FROM sl.why($$SELECT recsys.train('sl_cap', 'sl_long_keys', 'u', 'i', NULL, 'popularity')$$);
RESET recsys.memory_limit;
RESET recsys.max_memory_limit;
-- the same for the threads: a lower cap refuses what the default allowed
SET recsys.max_threads = 1;
SELECT sl.try($$SELECT recsys.train('sl_threads', 'sl_small', 'u', 'i', 'r', 'als', '{"threads": 2, "factors": 2, "iterations": 1}')$$);
SELECT model FROM recsys.train('sl_threads', 'sl_small', 'u', 'i', 'r', 'als', '{"factors": 2, "iterations": 1}');
SELECT params->>'threads' AS threads_used FROM recsys.model_versions
WHERE model = 'sl_threads' ORDER BY version DESC LIMIT 1;
RESET recsys.max_threads;

-- Settings from ALTER ROLE / ALTER DATABASE / the configuration are taken
-- in any order (a limit may come before its cap): they are not refused,
-- and a limit above its cap counts as the cap
ALTER ROLE sl_user SET recsys.memory_limit = '3GB';
ALTER ROLE sl_user SET recsys.max_memory_limit = '2MB';
\c - sl_user
SET search_path = public, recsys;
SHOW recsys.memory_limit;
SHOW recsys.max_memory_limit;
SELECT state, message, detail ~ 'the limit is 2048 kB' AS limit_is_the_cap
FROM sl.why($$SELECT recsys.train('sl_role', 'sl_long_keys', 'u', 'i', NULL, 'popularity')$$);
\c - :sl_super
SET search_path = public, recsys;
SET extra_float_digits = 0;
ALTER ROLE sl_user RESET ALL;

-- ---------------------------------------------------------------------
-- The memory bound: before every growth (row arrays, key arrays, hash
-- tables, key text) the loader checks the memory it is about to hold, so
-- the training context stays within recsys.memory_limit (plus at most the
-- last block of its few small allocations): the error reports what was in
-- use when it stopped, at most the limit.
-- (Long distinct keys like sl_long_keys' used to fill 28 MB of an 8 MB
-- limit before the first check.)
SET recsys.memory_limit = '2MB';
CREATE TEMP TABLE sl_bound AS
SELECT state, message,
	   substring(detail FROM '^(\d+) kB are in use')::int AS in_use_kb,
	   substring(detail FROM 'the limit is (\d+) kB')::int AS limit_kb
FROM sl.why($$SELECT recsys.train('sl_long', 'sl_long_keys', 'u', 'i', NULL, 'popularity')$$);
SELECT state, message, in_use_kb <= limit_kb AS within_limit, limit_kb FROM sl_bound;
-- the same with integer keys and many rows (arrays and hash tables)
CREATE TABLE sl_many AS SELECT g AS u, g % 1000 AS i FROM generate_series(1, 300000) g;
CREATE TEMP TABLE sl_bound2 AS
SELECT state, message,
	   substring(detail FROM '^(\d+) kB are in use')::int AS in_use_kb,
	   substring(detail FROM 'the limit is (\d+) kB')::int AS limit_kb
FROM sl.why($$SELECT recsys.train('sl_many', 'sl_many', 'u', 'i', NULL, 'ials', '{"factors": 2, "iterations": 1}')$$);
SELECT state, message, in_use_kb <= limit_kb AS within_limit, limit_kb FROM sl_bound2;
-- and a training that fits records no more than the limit either
SET recsys.memory_limit = '8MB';
SELECT model FROM recsys.train('sl_fits', 'sl_small', 'u', 'i', 'r', 'als', '{"factors": 4, "iterations": 2}');
SELECT memory_bytes <= 8 * 1024 * 1024 AS within_limit FROM recsys.model_versions WHERE model = 'sl_fits';
RESET recsys.memory_limit;

-- ---------------------------------------------------------------------
-- A set-returning function in the source's FROM is run to completion
-- (into a tuplestore, spilling to disk) before recsys reads a row, so
-- recsys.memory_limit cannot stop it: temp_file_limit does.
-- (expected/security_limits_1.out: PostgreSQL 18 quotes the setting's name)
SET temp_file_limit = '1MB';
SET work_mem = '64kB';
SELECT sl.try($$SELECT recsys.train('sl_huge', 'SELECT g AS u, g AS i FROM generate_series(1, 10000000000) g', 'u', 'i', NULL, 'popularity')$$);
RESET temp_file_limit;
RESET work_mem;
SELECT count(*) AS models_left FROM recsys.models WHERE name = 'sl_huge';

-- =====================================================================
-- Wrong results and silent no-ops
-- =====================================================================

-- ---------------------------------------------------------------------
-- recsys_hnsw with the cosine opclass and a zero query: every distance is
-- NaN (no direction), and the index returns the rows all the same, as a
-- sequential scan does (it returned none)
CREATE TABLE sl_vec (id int, v recsys.embedding);
INSERT INTO sl_vec SELECT g, ARRAY[sin(g), cos(g), g % 3]::float8[]::recsys.embedding
FROM generate_series(1, 300) g;
CREATE INDEX sl_vec_cos ON sl_vec USING recsys_hnsw (v embedding_cosine_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sl_vec ORDER BY v <=> '[0,0,0]' LIMIT 10;
SELECT count(*) AS index_rows, count(*) FILTER (WHERE d = 'NaN') AS nan_distances
FROM (SELECT v <=> '[0,0,0]' AS d FROM sl_vec ORDER BY v <=> '[0,0,0]' LIMIT 10) s;
SELECT count(*) AS index_rows_unlimited FROM (SELECT id FROM sl_vec ORDER BY v <=> '[0,0,0]') s;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS seqscan_rows FROM (SELECT id FROM sl_vec ORDER BY v <=> '[0,0,0]' LIMIT 10) s;
RESET enable_indexscan;
-- a non-zero query still uses the graph: the nearest row is exact
SET enable_seqscan = off;
SELECT id FROM sl_vec ORDER BY v <=> (SELECT v FROM sl_vec WHERE id = 17) LIMIT 1;
RESET enable_seqscan;

-- ---------------------------------------------------------------------
-- Freshness far beyond the half-life: items 31 to 42 half-lives old
-- (half_life 30 days) keep the order of s' = lo + (s - lo) * 0.5^(age /
-- half_life) instead of falling back to key order (their boost is far
-- below a float's precision next to lo)
SELECT model FROM recsys.train('sl_fresh', 'sl_small', 'u', 'i', 'r', 'ials', '{"factors": 4, "iterations": 5}');
CREATE TABLE sl_item_times AS
SELECT i, now() - make_interval(days => 30 * (30 + ((i * 5) % 12) + 1)) AS created_at
FROM generate_series(1, 12) i;
CREATE TEMP TABLE sl_fresh_ref AS
WITH s AS (SELECT item, score FROM recsys.recommend('sl_fresh', 1, 100, exclude_seen => false)),
b AS (SELECT s.item, s.score, min(s.score) OVER () AS lo,
			 (s.score - min(s.score) OVER ()) *
			 power(0.5::float8, extract(epoch FROM now() - t.created_at)::float8 / (30 * 86400)) AS margin
	  FROM s JOIN sl_item_times t ON t.i = s.item)
SELECT item, lo, margin, row_number() OVER (ORDER BY margin DESC, item) AS rank FROM b;
SELECT count(*) AS items, count(DISTINCT margin) AS distinct_margins FROM sl_fresh_ref WHERE margin > 0;
SELECT count(*) AS ranked,
	   count(*) FILTER (WHERE f.item = r.item) AS same_item,
	   count(*) FILTER (WHERE abs(r.score - (f.lo + f.margin)) < 1e-6) AS same_score
FROM recsys.recommend('sl_fresh', 1, 10, exclude_seen => false,
	item_times => 'SELECT i, created_at FROM sl_item_times', half_life => '30 days') r
JOIN sl_fresh_ref f ON f.rank = r.rank;
-- the greedy path (max_per_group) ranks on the same values
SELECT count(*) AS ranked, count(*) FILTER (WHERE f.item = r.item) AS same_item
FROM recsys.recommend('sl_fresh', 1, 10, exclude_seen => false,
	item_times => 'SELECT i, created_at FROM sl_item_times', half_life => '30 days',
	item_groups => 'SELECT i, i FROM sl_item_times', max_per_group => 1) r
JOIN sl_fresh_ref f ON f.rank = r.rank;

-- ---------------------------------------------------------------------
-- protected_group is compared with each group's text: one that matches no
-- group is an error naming the groups, not a constraint silently off
SELECT * FROM sl.why($$SELECT * FROM recsys.recommend('sl_fresh', 1, 5,
	item_groups => 'SELECT i, i % 2 = 0 FROM sl_item_times', protected_group => 'true', min_share => 0.5)$$);
SELECT count(*) AS items, count(*) FILTER (WHERE item % 2 = 0) AS protected_items
FROM recsys.recommend('sl_fresh', 1, 4,
	item_groups => 'SELECT i, i % 2 = 0 FROM sl_item_times', protected_group => 't', min_share => 0.5);

-- ---------------------------------------------------------------------
-- time_column without a half-life: accepted, it records where the data
-- ends (model_versions.data_until, where recsys.update() starts)
SELECT * FROM sl.why($$SELECT recsys.train('sl_tc', 'SELECT u, i, r, now() AS t FROM sl_small', 'u', 'i', 'r', 'als', '{"time_column": "t"}')$$);
SELECT sl.try($$SELECT recsys.train('sl_tc', 'SELECT u, i, r, now() AS t FROM sl_small', 'u', 'i', 'r', 'item_knn', '{"time_column": "t"}')$$);
SELECT model FROM recsys.train('sl_tc', 'SELECT u, i, r, now() AS t FROM sl_small', 'u', 'i', NULL, 'popularity',
	'{"time_column": "t", "half_life_days": 7}');

-- ---------------------------------------------------------------------
-- Ratings too large for training: a clear error, not "NaN is not allowed
-- in an embedding" from storing the overflowed factors
CREATE TABLE sl_huge_ratings AS
SELECT u, i, (CASE WHEN (u + i) % 2 = 0 THEN 3e38 ELSE -3e38 END)::real AS r
FROM generate_series(1, 7) u, generate_series(1, 5) i;
SELECT * FROM sl.why($$SELECT recsys.train('sl_inf', 'sl_huge_ratings', 'u', 'i', 'r', 'als', '{"factors": 2, "iterations": 5}')$$);
SELECT sl.try($$SELECT recsys.train('sl_inf', 'sl_huge_ratings', 'u', 'i', 'r', 'svd', '{"factors": 2, "iterations": 5}')$$);
-- duplicates of implicit feedback are summed: a sum past real's range
SELECT * FROM sl.why($$SELECT recsys.train('sl_inf', 'SELECT 1 AS u, 1 AS i, 3e38::real AS r FROM generate_series(1, 3)', 'u', 'i', 'r', 'ials')$$);
SELECT count(*) AS models_left FROM recsys.models WHERE name = 'sl_inf';

-- ---------------------------------------------------------------------
-- Negative values are not confidences: ials and bpr refuse them; als,
-- svd and the neighbourhood models take ratings of any sign
CREATE TABLE sl_negative AS SELECT u, i, r - 3 AS r FROM sl_small;
SELECT * FROM sl.why($$SELECT recsys.train('sl_neg', 'sl_negative', 'u', 'i', 'r', 'ials', '{"factors": 2, "iterations": 2}')$$);
SELECT sl.try($$SELECT recsys.train('sl_neg', 'sl_negative', 'u', 'i', 'r', 'bpr', '{"factors": 2, "iterations": 2}')$$);
SELECT sl.try($$SELECT recsys.train('sl_neg', 'sl_negative', 'u', 'i', 'r', 'als', '{"factors": 2, "iterations": 2}')$$);

-- ---------------------------------------------------------------------
-- A source query ending in a -- comment (it is wrapped in generated SQL)
SELECT model FROM recsys.train('sl_comment', 'SELECT u, i FROM sl_small -- the small table', 'u', 'i', NULL, 'popularity');
SELECT version FROM recsys.retrain('sl_comment');
SELECT model FROM recsys.train('sl_comment_ials', 'SELECT u, i, r FROM sl_small --', 'u', 'i', 'r', 'ials', '{"factors": 2, "iterations": 2}');
-- fold-in of a user the model has not seen reads the source again
INSERT INTO sl_small VALUES (99, 1, 5), (99, 2, 4);
SELECT count(*) AS folded_in FROM recsys.recommend('sl_comment_ials', 99, 3);

-- ---------------------------------------------------------------------
-- char(n) keys are stored without their trailing blanks (char(n) ignores
-- them), so a key given as text, or as char(n), finds them
CREATE TABLE sl_bpchar AS
SELECT ('u' || u)::char(5) AS u, ('i' || i)::char(4) AS i, r FROM sl_small WHERE u < 99;
SELECT model FROM recsys.train('sl_bp', 'sl_bpchar', 'u', 'i', 'r', 'als', '{"factors": 2, "iterations": 3}');
SELECT count(*) AS keys, count(*) FILTER (WHERE user_key LIKE '% ') AS padded
FROM recsys.user_factors WHERE model = 'sl_bp';
SELECT recsys.predict('sl_bp', 'u1', 'i2') IS NOT NULL AS found_as_text,
	   recsys.predict('sl_bp', 'u1'::char(5), 'i2'::char(4)) = recsys.predict('sl_bp', 'u1', 'i2') AS same_as_bpchar;
SELECT count(*) AS recommended, count(*) FILTER (WHERE item::text LIKE '% ') AS padded
FROM recsys.recommend('sl_bp', 'u1'::char(5), 3);

-- ---------------------------------------------------------------------
DROP SCHEMA sl CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM sl_user;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) FROM sl_user;
DROP OWNED BY sl_user;
DROP ROLE sl_user;
