--
-- Bloom filters: bloom_agg sizes a filter for its distinct keys and the
-- requested false-positive rate; an inserted key is never missed; the rate
-- measured on absent keys is close to the requested one; keys are compared
-- by their text form; text and binary forms round-trip; a parallel
-- aggregate builds the same filter as a serial one; bad input is refused.
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
-- the same, with what the message does not say: the detail and the hint
CREATE FUNCTION pg_temp.why(q text) RETURNS TABLE (state text, message text, detail text, hint text)
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

-- A small filter in full: 3 keys need ceil(3 * 9.59) = 29 bits, raised to 64
SELECT bloom_agg(k) FROM (VALUES (1), (2), (3)) v(k);
SELECT bits, probes, items, round(expected_false_positive_rate::numeric, 10) AS expected_rate
FROM bloom_stats((SELECT bloom_agg(k) FROM (VALUES (1), (2), (3)) v(k)));

-- Three filters of the same 10000 keys.  Sizes: m = ceil(-n ln p / (ln 2)^2),
-- k = round(m / n * ln 2).
CREATE TABLE bl_keys AS SELECT g AS k FROM generate_series(1, 10000) g;
CREATE TABLE bl_filters (name text PRIMARY KEY, rate float8, f bloom);
INSERT INTO bl_filters SELECT 'p=0.1', 0.1, bloom_agg(k, 0.1) FROM bl_keys;
INSERT INTO bl_filters SELECT 'p=0.01', 0.01, bloom_agg(k) FROM bl_keys;
INSERT INTO bl_filters SELECT 'p=0.001', 0.001, bloom_agg(k, 0.001) FROM bl_keys;
SELECT name, s.bits, s.probes, s.items,
	   round(s.expected_false_positive_rate::numeric, 5) AS expected_rate,
	   s.bits = ceil(-10000 * ln(rate) / ln(2) ^ 2) AS optimal_bits,
	   s.probes = round(s.bits / 10000.0 * ln(2)) AS optimal_probes
FROM bl_filters, bloom_stats(f) s ORDER BY rate DESC;

-- The filters are stored out of line (and read through the TOAST cache)
SELECT name, pg_column_size(f) AS stored_bytes FROM bl_filters ORDER BY rate DESC;

-- No false negatives: every inserted key is found
SELECT name, count(*) AS keys, count(*) FILTER (WHERE NOT bloom_contains(f, k)) AS misses
FROM bl_filters CROSS JOIN bl_keys GROUP BY name, rate ORDER BY rate DESC;

-- False positives over 100000 absent keys: within [rate / 2, 2 * rate]
SELECT name, count(*) FILTER (WHERE bloom_contains(f, g)) AS false_positives,
	   count(*) FILTER (WHERE bloom_contains(f, g)) / 100000.0
		 BETWEEN rate / 2 AND rate * 2 AS within_band
FROM bl_filters CROSS JOIN generate_series(10001, 110000) g
GROUP BY name, rate ORDER BY rate DESC;
-- the same with text keys that look nothing like the inserted ones
SELECT name, count(*) FILTER (WHERE bloom_contains(f, 'absent-' || g)) AS false_positives
FROM bl_filters CROSS JOIN generate_series(1, 100000) g
GROUP BY name, rate ORDER BY rate DESC;

-- The filter as a scalar subquery, the way a query excludes items
-- (keys 1..10000 are all excluded, and about 1% of the others)
SELECT count(*) AS kept, min(g) AS first_kept FROM generate_series(1, 20000) g
WHERE NOT bloom_contains((SELECT f FROM bl_filters WHERE name = 'p=0.01'), g);

-- Keys are their text form: 42, 42::bigint, '42', '42'::varchar are one key
-- (a quoted literal is text: bloom_contains(bloom, text))
SELECT bloom_contains(f, 42) AS int4, bloom_contains(f, 42::int2) AS int2,
	   bloom_contains(f, 42::bigint) AS int8, bloom_contains(f, '42'::text) AS text,
	   bloom_contains(f, '42'::varchar) AS varchar, bloom_contains(f, '42'::char(2)) AS char,
	   bloom_contains(f, '42') AS literal, bloom_contains(f, '042') AS "042",
	   bloom_contains(f, ' 42') AS " 42"
FROM bl_filters WHERE name = 'p=0.01';
SELECT (SELECT bloom_agg(k)::text FROM bl_keys) = (SELECT bloom_agg(k::bigint)::text FROM bl_keys) AS int_eq_bigint,
	   (SELECT bloom_agg(k)::text FROM bl_keys) = (SELECT bloom_agg(k::text)::text FROM bl_keys) AS int_eq_text,
	   (SELECT bloom_agg(k)::text FROM bl_keys) = (SELECT bloom_agg(k::text::varchar)::text FROM bl_keys) AS int_eq_varchar;
-- negative and extreme integers print as they are
SELECT bloom_contains(f, '-9223372036854775808') AS int8_min, bloom_contains(f, (-32768)::int2) AS int2_min,
	   bloom_contains(f, 2147483647) AS int4_max, bloom_contains(f, '-1') AS minus_one,
	   bloom_contains(f, 1) AS one
FROM (SELECT bloom_agg(k) AS f FROM (VALUES (-9223372036854775808), (-32768), (2147483647), (-1)) v(k)) s;
-- domains over key types are keys too
CREATE DOMAIN bl_item AS bigint;
SELECT bloom_contains(f, 42::bl_item) AS domain_key,
	   bloom_contains((SELECT bloom_agg(k::bl_item) FROM bl_keys), 42) AS domain_filter
FROM bl_filters WHERE name = 'p=0.01';

-- Duplicates count once; NULL keys are skipped
SELECT (SELECT bloom_agg(k)::text FROM bl_keys) =
	   (SELECT bloom_agg(k)::text FROM bl_keys, generate_series(1, 3)) AS duplicates_count_once;
SELECT items FROM bloom_stats((SELECT bloom_agg(CASE WHEN k % 2 = 0 THEN k END) FROM bl_keys));

-- No keys: an empty filter (not NULL) that contains nothing
SELECT bloom_agg(k) AS no_rows FROM bl_keys WHERE false;
SELECT bloom_agg(NULL::int) AS only_nulls FROM bl_keys;
SELECT bloom_contains(bloom_agg(k), 1) AS empty_contains FROM bl_keys WHERE false;
SELECT bits, probes, items, expected_false_positive_rate
FROM bloom_stats((SELECT bloom_agg(k) FROM bl_keys WHERE false));

-- Strict: NULL filter or key gives NULL
SELECT bloom_contains(NULL::bloom, 1) AS null_filter,
	   bloom_contains((SELECT f FROM bl_filters WHERE name = 'p=0.01'), NULL::int) AS null_key,
	   bloom_stats(NULL) AS null_stats;

-- Text round trip -------------------------------------------------------
SELECT name, f::text::bloom::text = f::text AS round_trip, length(f::text) AS text_length
FROM bl_filters ORDER BY rate DESC;
SELECT 'bloom:v=1,k=1,m=65,n=1:AAAAAAAAAAAB'::bloom AS last_bit_set,
	   '  bloom:v=1,k=1,m=64,n=0:AAAAAAAAAAA=  '::bloom AS spaces_trimmed;

-- Binary round trip: COPY (FORMAT binary) out and back in ---------------
-- wire form: uint8 version, uint8 flags, int16 probes, int64 bits, int64 items, bits
SELECT bloom_send(bloom_agg(k)) AS bytes FROM (VALUES (1), (2), (3)) v(k);
\getenv abs_builddir PG_ABS_BUILDDIR
\set bin_file :abs_builddir '/results/bloom.bin'
\set bad_file :abs_builddir '/results/bloom_bad.bin'
COPY bl_filters TO :'bin_file' (FORMAT binary);
CREATE TABLE bl_copy (LIKE bl_filters);
COPY bl_copy FROM :'bin_file' (FORMAT binary);
SELECT name, s.f::text = d.f::text AS identical FROM bl_filters s JOIN bl_copy d USING (name)
ORDER BY s.rate DESC;

-- Binary input with a bad header or payload: bytea fields read back as blooms
CREATE TABLE bl_bad_bin (id int, b bytea);
INSERT INTO bl_bad_bin VALUES
	(1, '\x01000001000000000000004000000000000000010000000000000001'),	-- good
	(2, '\x0100'),	-- truncated header
	(3, '\x02000001000000000000004000000000000000000000000000000000'),	-- version 2
	(4, '\x01010001000000000000004000000000000000000000000000000000'),	-- flags 1
	(5, '\x01000000000000000000004000000000000000000000000000000000'),	-- 0 probes
	(6, '\x0100044d000000000000004000000000000000000000000000000000'),	-- 1101 probes
	(7, '\x01000001000000000000003f00000000000000000000000000000000'),	-- 63 bits
	(8, '\x01000001ffffffffffffffff00000000000000000000000000000000'),	-- -1 bits
	(9, '\x010000010000000000000040ffffffffffffffff0000000000000000'),	-- -1 items
	(10, '\x010000010000000000000040000000000000000000000000000000'),	-- 7 bytes of bits, not 8
	(11, '\x0100000100000000000000400000000000000000000000000000000000'),	-- 9 bytes of bits, not 8
	(12, '\x0100000100000000000000410000000000000001000000000000000002'),	-- m=65, an unused bit set
	(13, '\x0100000100000000000000410000000000000001000000000000000001');	-- m=65, the last bit set: good
CREATE TABLE bl_bad_dst (id int, f bloom);
CREATE FUNCTION pg_temp.load_bad(i int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT id, b FROM bl_bad_bin WHERE id = %s) TO %L (FORMAT binary)',
				   i, current_setting('recsys_test.bad_file'));
	TRUNCATE bl_bad_dst;
	EXECUTE format('COPY bl_bad_dst FROM %L (FORMAT binary)',
				   current_setting('recsys_test.bad_file'));
	RETURN 'ok: ' || (SELECT f::text FROM bl_bad_dst);
EXCEPTION WHEN OTHERS THEN
	DECLARE
		detail text;
	BEGIN
		GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
		RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || detail;
	END;
END $$;
SELECT set_config('recsys_test.bad_file', :'bad_file', false) IS NOT NULL AS set;
SELECT id, pg_temp.load_bad(id) FROM bl_bad_bin ORDER BY id;

-- Parallel aggregation builds the same filter as a serial one -----------
-- (keys repeat across workers, so the combine step deduplicates; with the
-- leader not scanning, every key goes through serial/deserial/combine)
CREATE FUNCTION pg_temp.workers_launched(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
	RETURN (plan -> 0 -> 'Plan' -> 'Plans' -> 0 ->> 'Workers Launched')::int;
END $$;
CREATE TABLE bl_big AS SELECT g % 150000 AS k, 'item-' || (g % 150000) AS t
FROM generate_series(1, 300000) g;
ANALYZE bl_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT bloom_agg(k) FROM bl_big;
SELECT pg_temp.workers_launched('SELECT bloom_agg(k) FROM bl_big') > 0 AS parallel;
SELECT bloom_agg(k)::text AS int_filter, bloom_agg(t, 0.001)::text AS text_filter
FROM bl_big \gset parallel_
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT bloom_agg(k) FROM bl_big;
SELECT bloom_agg(k)::text = :'parallel_int_filter' AS int_same,
	   bloom_agg(t, 0.001)::text = :'parallel_text_filter' AS text_same,
	   (bloom_stats(bloom_agg(k))).items
FROM bl_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
-- grouped: one filter per group
SELECT k % 3 AS g, (bloom_stats(bloom_agg(k))).items FROM bl_keys GROUP BY 1 ORDER BY 1;

-- Bad input -------------------------------------------------------------
-- malformed text: one message, and a detail that says what is wrong
SELECT q, e.state, e.detail FROM (VALUES
	($$SELECT 'garbage'::recsys.bloom$$),
	($$SELECT ''::recsys.bloom$$),
	($$SELECT 'bloom:'::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64,n=0'::recsys.bloom$$),
	($$SELECT 'bloom:v=2,k=1,m=64,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=0,m=64,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1101,m=64,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=-1,m=64,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=63,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=8589934393,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=99999999999999999999999,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64,n=9223372036854775808:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64,n=0:AAAAAAAAAAA'::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64,n=0:AAAAAAAAAAA=A'::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64,n=0:AAAAAAAAAA!='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=64,n=0:AAAAAAAAAA=='::recsys.bloom$$),
	($$SELECT 'bloom:v=1,k=1,m=65,n=0:AAAAAAAAAAAC'::recsys.bloom$$),
	($$SELECT 'bloom: v=1,k=1,m=64,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT 'BLOOM:v=1,k=1,m=64,n=0:AAAAAAAAAAA='::recsys.bloom$$),
	($$SELECT ('bloom:v=1,k=1,m=64,n=0:' || repeat('A', 100))::recsys.bloom$$)
) AS t(q), pg_temp.why(q) e;
SELECT DISTINCT e.message LIKE 'invalid input syntax for type bloom: %' AS same_message, e.hint
FROM (VALUES ($$SELECT 'garbage'::recsys.bloom$$), ($$SELECT 'bloom:v=1,k=0,m=64,n=0:x'::recsys.bloom$$)) t(q),
	 pg_temp.why(q) e;
-- a long bad value is quoted up to 60 characters
SELECT pg_temp.try($$SELECT ('bloom:v=1,k=1,m=64,n=0:' || repeat('A', 100))::recsys.bloom$$);

-- bad parameters and key types
SELECT q, e.state, e.message FROM (VALUES
	($$SELECT recsys.bloom_agg(k, 0) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, -0.1) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, 0.5000001) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, 1) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, 'NaN') FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, 'Infinity') FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, NULL) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, CASE WHEN k < 5000 THEN 0.01 ELSE 0.02 END) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, 0.5) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, 1e-300) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k::numeric) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(current_date + k) FROM bl_keys$$),
	($$SELECT recsys.bloom_contains(recsys.bloom_agg(k), 42.0) FROM bl_keys$$),
	($$SELECT recsys.bloom_contains(recsys.bloom_agg(k), current_date) FROM bl_keys$$)
) AS t(q), pg_temp.why(q) e;
SELECT DISTINCT e.state, e.hint FROM (VALUES
	($$SELECT recsys.bloom_agg(k, 0) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k, NULL) FROM bl_keys$$),
	($$SELECT recsys.bloom_agg(k::numeric) FROM bl_keys$$)
) AS t(q), pg_temp.why(q) e ORDER BY 1;
-- a filter larger than 1GB: 6 million keys at 1e-300 would need 8.6e9 bits
SELECT e.state, e.message, e.detail, e.hint
FROM pg_temp.why($$SELECT recsys.bloom_agg(g, 1e-300) FROM generate_series(1, 6000000) g$$) e;

-- Every function of the extension documents itself for \df+
SELECT p.oid::regprocedure AS undocumented FROM pg_proc p
WHERE pronamespace = 'recsys'::regnamespace AND proname LIKE 'bloom%'
  AND obj_description(p.oid, 'pg_proc') IS NULL;
