--
-- The recsys_hnsw index: each opclass against exact search, the planner's
-- choice, filters that reject most rows, inserts after the build, NULLs,
-- zero vectors, VACUUM, unlogged tables, and bad input for its SQLSTATE.
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

-- 400 deterministic 8-dimensional vectors with norms from 1 to 3 (so inner
-- product and cosine order differently), and 20 queries.
CREATE TABLE hv (id int PRIMARY KEY, cat int, v embedding(8));
INSERT INTO hv
SELECT i, i % 20,
       ARRAY(SELECT (sin(i * d * 0.731 + d) * (1 + (i % 5) * 0.5))::real
             FROM generate_series(1, 8) d)::embedding
FROM generate_series(1, 400) i;
CREATE TABLE hq (qid int, q embedding(8));
INSERT INTO hq
SELECT j, ARRAY(SELECT cos(j * d * 0.377 + 2 * d)::real FROM generate_series(1, 8) d)::embedding
FROM generate_series(1, 20) j;

-- The top 10 of every query, through whatever plan the settings allow.
CREATE FUNCTION pg_temp.top10(op text) RETURNS TABLE (qid int, ids int[])
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT hq.qid, (SELECT array_agg(id) FROM (SELECT id FROM hv
		         ORDER BY v OPERATOR(recsys.%s) hq.q LIMIT 10) s) FROM hq ORDER BY hq.qid', op);
END $$;

-- Exact answers first (no index yet).
CREATE TEMP TABLE exact AS
SELECT 'l2' AS opc, * FROM pg_temp.top10('<->')
UNION ALL SELECT 'ip', * FROM pg_temp.top10('<#>')
UNION ALL SELECT 'cosine', * FROM pg_temp.top10('<=>');

-- Build on half the rows, insert the other half after the build.
CREATE TABLE hv_rest AS SELECT * FROM hv WHERE id > 200;
DELETE FROM hv WHERE id > 200;
CREATE INDEX hv_l2 ON hv USING recsys_hnsw (v embedding_l2_ops);
CREATE INDEX hv_ip ON hv USING recsys_hnsw (v embedding_ip_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX hv_cos ON hv USING recsys_hnsw (v embedding_cosine_ops) WITH (m = 12);
INSERT INTO hv SELECT * FROM hv_rest;
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'hv'::regclass AND indexrelid <> 'hv_pkey'::regclass ORDER BY 1;

-- EXPLAIN: each operator is served by its index.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <#> '[1,0,0,0,0,0,0,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <=> '[1,0,0,0,0,0,0,1]' LIMIT 5;
-- (expected/hnsw_1.out: PostgreSQL 18 marks the disabled scan "Disabled: true")
-- no ORDER BY: the index cannot answer it
EXPLAIN (COSTS OFF) SELECT id FROM hv WHERE v = '[1,0,0,0,0,0,0,1]';

-- With ef_search >= n every query matches exact search, for every opclass.
SET recsys.ef_search = 1000;
SELECT e.opc, count(*) AS queries, count(*) FILTER (WHERE e.ids = g.ids) AS equal
FROM exact e JOIN (
	SELECT 'l2' AS opc, * FROM pg_temp.top10('<->')
	UNION ALL SELECT 'ip', * FROM pg_temp.top10('<#>')
	UNION ALL SELECT 'cosine', * FROM pg_temp.top10('<=>')) g USING (opc, qid)
GROUP BY e.opc ORDER BY e.opc;

-- The distances the index returns are the operator's, in order.
SELECT id, round((v <#> '[1,2,3,4,5,6,7,8]')::numeric, 4) AS neg_ip
FROM hv ORDER BY v <#> '[1,2,3,4,5,6,7,8]' LIMIT 5;
SELECT id, round((v <-> '[1,2,3,4,5,6,7,8]')::numeric, 4) AS l2
FROM hv ORDER BY v <-> '[1,2,3,4,5,6,7,8]' LIMIT 3;
RESET recsys.ef_search;

-- At the default ef_search (40) on this small set recall is still high.
SELECT e.opc, sum(cardinality(ARRAY(SELECT unnest(e.ids) INTERSECT SELECT unnest(g.ids)))) AS hits_of_200
FROM exact e JOIN (
	SELECT 'l2' AS opc, * FROM pg_temp.top10('<->')
	UNION ALL SELECT 'ip', * FROM pg_temp.top10('<#>')
	UNION ALL SELECT 'cosine', * FROM pg_temp.top10('<=>')) g USING (opc, qid)
GROUP BY e.opc HAVING sum(cardinality(ARRAY(SELECT unnest(e.ids) INTERSECT SELECT unnest(g.ids)))) < 190;

-- A filter that keeps 1 row in 20 still gets its 10 rows when ef_search
-- is only 5: the scan continues past ef_search.
SET recsys.ef_search = 5;
SELECT count(*) FROM (SELECT id FROM hv WHERE cat = 3 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 10) s;
SELECT count(*) FROM (SELECT id FROM hv WHERE cat = 3 ORDER BY v <#> '[1,1,1,1,1,1,1,1]' LIMIT 15) s;
-- every qualifying row, when the filter keeps fewer than LIMIT
SELECT count(*) FROM (SELECT id FROM hv WHERE cat = 7 ORDER BY v <=> '[1,1,1,1,1,1,1,1]' LIMIT 50) s;
-- bounded by recsys.max_scan_tuples: after 10 index rows the scan stops,
-- so a filter keeping 1 row in 20 cannot fill LIMIT 15
SET recsys.max_scan_tuples = 10;
SELECT count(*) < 15 AS stopped_at_bound FROM (SELECT id FROM hv WHERE cat = 3 ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 15) s;
RESET recsys.max_scan_tuples;
RESET recsys.ef_search;

-- NULL embeddings are not indexed (and never returned by the index);
-- a zero vector is not in the cosine index (its cosine distance is NaN).
INSERT INTO hv VALUES (1001, 0, NULL), (1002, 0, NULL), (1003, 0, '[0,0,0,0,0,0,0,0]');
SET recsys.ef_search = 1000;
SELECT count(*) FROM (SELECT id FROM hv ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 1000) s;
SELECT count(*) FROM (SELECT id FROM hv ORDER BY v <=> '[1,1,1,1,1,1,1,1]' LIMIT 1000) s;
RESET recsys.ef_search;
DELETE FROM hv WHERE id > 1000;

-- Dimension mismatch with the index: an error, on insert and on query.
CREATE TABLE hfree (id int, v embedding);
INSERT INTO hfree VALUES (1, '[1,2,3]'), (2, '[3,2,1]'), (3, NULL);
CREATE INDEX hfree_l2 ON hfree USING recsys_hnsw (v embedding_l2_ops);
SELECT pg_temp.try($$INSERT INTO hfree VALUES (4, '[1,2,3,4]')$$);
SELECT pg_temp.try($$SELECT id FROM hfree ORDER BY v <-> '[1,2]' LIMIT 1$$);
SELECT id FROM hfree ORDER BY v <-> '[1,2,3.5]' LIMIT 2;
-- mixed dimensions in the table: the build says which
INSERT INTO hv_rest VALUES (9999, 0, NULL);
CREATE TABLE hmixed (id int, v embedding);
INSERT INTO hmixed VALUES (1, '[1,2,3]'), (2, '[1,2]');
SELECT pg_temp.try($$CREATE INDEX ON hmixed USING recsys_hnsw (v embedding_l2_ops)$$);

-- Reloptions: validated ranges (22023).
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops) WITH (m = 1)$$);
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops) WITH (m = 101)$$);
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops) WITH (ef_construction = 3)$$);
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops) WITH (ef_construction = 1001)$$);
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops) WITH (m = 40, ef_construction = 64)$$);
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops) WITH (fanout = 3)$$);
-- not for other types, not multi-column, not unique
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (id)$$);
SELECT pg_temp.try($$CREATE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops, v embedding_ip_ops)$$);
SELECT pg_temp.try($$CREATE UNIQUE INDEX ON hv USING recsys_hnsw (v embedding_l2_ops)$$);

-- GUCs: validated ranges (22023); SET LOCAL lasts one transaction.
SELECT pg_temp.try($$SET recsys.ef_search = 0$$);
SELECT pg_temp.try($$SET recsys.ef_search = 1001$$);
SELECT pg_temp.try($$SET recsys.max_scan_tuples = 0$$);
BEGIN;
SET LOCAL recsys.ef_search = 200;
SHOW recsys.ef_search;
COMMIT;
SHOW recsys.ef_search;

-- The opclasses pass amvalidate.
SELECT opcname, amvalidate(oid) FROM pg_opclass
WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'recsys_hnsw') ORDER BY opcname;

-- The planner: a 30-row table is cheaper to scan and sort; a large one
-- uses the index without being told to.
RESET enable_seqscan;
CREATE TABLE hsmall AS SELECT * FROM hv WHERE id <= 30;
CREATE INDEX ON hsmall USING recsys_hnsw (v embedding_l2_ops);
ANALYZE hsmall;
EXPLAIN (COSTS OFF) SELECT id FROM hsmall ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 5;
CREATE TABLE hbig (id int, v embedding(8));
INSERT INTO hbig SELECT i, ARRAY(SELECT sin(i * d * 0.123 + d)::real FROM generate_series(1, 8) d)::embedding
FROM generate_series(1, 20000) i;
CREATE INDEX ON hbig USING recsys_hnsw (v embedding_l2_ops);
ANALYZE hbig;
EXPLAIN (COSTS OFF) SELECT id FROM hbig ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 5;
-- without LIMIT the whole table is read: a sort is cheaper
EXPLAIN (COSTS OFF) SELECT id FROM hbig ORDER BY v <-> '[1,1,1,1,1,1,1,1]';
DROP TABLE hbig;

-- VACUUM: dead rows leave the index, the graph still answers exactly, and
-- their slots are reused by new rows: 133 new elements need about four
-- more pages without reuse; with it the index grows by at most one (an
-- element with more layers than any freed slot needs fresh space).
SET enable_seqscan = off;
SET recsys.ef_search = 1000;
DELETE FROM hv WHERE id % 3 = 0;
VACUUM hv;
SELECT count(*) FROM (SELECT id FROM hv ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 1000) s;
CREATE TEMP TABLE sizes AS SELECT pg_relation_size('hv_l2') AS l2, pg_relation_size('hv_ip') AS ip;
INSERT INTO hv SELECT id, cat, v FROM hv_rest WHERE id % 3 = 0 AND v IS NOT NULL;
INSERT INTO hv
SELECT i, i % 20, ARRAY(SELECT (sin(i * d * 0.731 + d) * (1 + (i % 5) * 0.5))::real
                        FROM generate_series(1, 8) d)::embedding
FROM generate_series(3, 200, 3) i;
SELECT pg_relation_size('hv_l2') - l2 <= 8192 AS l2_reused, pg_relation_size('hv_ip') - ip <= 8192 AS ip_reused FROM sizes;
SELECT e.opc, count(*) AS queries, count(*) FILTER (WHERE e.ids = g.ids) AS equal
FROM exact e JOIN (
	SELECT 'l2' AS opc, * FROM pg_temp.top10('<->')
	UNION ALL SELECT 'ip', * FROM pg_temp.top10('<#>')
	UNION ALL SELECT 'cosine', * FROM pg_temp.top10('<=>')) g USING (opc, qid)
GROUP BY e.opc ORDER BY e.opc;
RESET recsys.ef_search;

-- Unlogged tables: the init fork holds an empty index.
CREATE UNLOGGED TABLE hunl (id int, v embedding(3));
CREATE INDEX hunl_ip ON hunl USING recsys_hnsw (v embedding_ip_ops);
INSERT INTO hunl SELECT i, ARRAY[i, 1, -i]::real[]::embedding FROM generate_series(1, 50) i;
SELECT id FROM hunl ORDER BY v <#> '[1,0,0]' LIMIT 3;
TRUNCATE hunl;
SELECT count(*) FROM (SELECT id FROM hunl ORDER BY v <#> '[1,0,0]' LIMIT 3) s;
INSERT INTO hunl VALUES (1, '[5,5,5]');
SELECT id FROM hunl ORDER BY v <#> '[1,0,0]' LIMIT 3;

-- CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY (their validation
-- pass reads every element through ambulkdelete).
CREATE TABLE hconc (id int, v embedding(3));
INSERT INTO hconc SELECT i, ARRAY[i % 7, i % 5, 1]::real[]::embedding FROM generate_series(1, 100) i;
CREATE INDEX CONCURRENTLY hconc_l2 ON hconc USING recsys_hnsw (v embedding_l2_ops);
REINDEX INDEX CONCURRENTLY hconc_l2;
SELECT indisvalid FROM pg_index WHERE indexrelid = 'hconc_l2'::regclass;
SELECT count(*) FROM (SELECT id FROM hconc ORDER BY v <-> '[0,0,1]' LIMIT 200) s;

-- Vectors are stored at half precision and the executor re-sorts the
-- index's rows by the exact distance: rows closer together than half
-- precision can tell, and magnitudes whose squared distances overflow
-- float4, still come back in exact order (the executor errors out if a
-- row's reported lower bound exceeds its exact distance).
SET enable_seqscan = off;
SET recsys.ef_search = 100;
CREATE TABLE hfine (id int, v embedding(4));
INSERT INTO hfine SELECT i, ARRAY[1 + i * 1e-6, 1, 1, 1]::real[]::embedding FROM generate_series(1, 30) i;
INSERT INTO hfine SELECT 100 + i, ARRAY[1e30 * (1 + i * 1e-6), 1e30, 0, 0]::real[]::embedding FROM generate_series(1, 3) i;
CREATE INDEX ON hfine USING recsys_hnsw (v embedding_l2_ops);
CREATE INDEX ON hfine USING recsys_hnsw (v embedding_ip_ops);
SELECT array_agg(id) FROM (SELECT id FROM hfine ORDER BY v <-> '[1,1,1,1]' LIMIT 33) s;
SELECT array_agg(id) FROM (SELECT id FROM hfine ORDER BY v <#> '[1,1,1,1]' LIMIT 33) s;

-- A backend keeps copies of the elements its scans read; an insert, or a
-- VACUUM and inserts that reuse the freed slots and heap line pointers,
-- are seen by its next scan.
CREATE TABLE hcache (id int, v embedding(2));
INSERT INTO hcache SELECT i, ARRAY[i, 0]::real[]::embedding FROM generate_series(1, 200) i;
CREATE INDEX ON hcache USING recsys_hnsw (v embedding_l2_ops);
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
INSERT INTO hcache VALUES (0, '[0.5,0]');
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
DELETE FROM hcache WHERE id <= 100;
VACUUM hcache;
INSERT INTO hcache SELECT 1000 + i, ARRAY[i * 0.01, 0]::real[]::embedding FROM generate_series(1, 50) i;
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[150.2,0]' LIMIT 3) s;
SET recsys.hnsw_cache_size = 0;
SELECT array_agg(id) FROM (SELECT id FROM hcache ORDER BY v <-> '[0,0]' LIMIT 3) s;
RESET recsys.hnsw_cache_size;
RESET recsys.ef_search;
RESET enable_seqscan;

DROP TABLE hv, hq, hv_rest, hfree, hmixed, hsmall, hunl, hconc, hfine, hcache;
