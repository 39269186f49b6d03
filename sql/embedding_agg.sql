--
-- sum(embedding) and avg(embedding): values, NULLs, errors, parallel plans.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

SELECT sum(e), avg(e), count(e)
FROM (VALUES ('[1,2,3]'::embedding), ('[4,5,6]'), (NULL), ('[-2,0,0.5]')) t(e);
-- no rows, or only NULLs: NULL
SELECT sum(e) IS NULL AS sum_null, avg(e) IS NULL AS avg_null FROM (SELECT NULL::embedding e) t;
SELECT sum(e) IS NULL AS sum_null, avg(e) IS NULL AS avg_null
FROM (SELECT '[1]'::embedding e WHERE false) t;
-- avg accumulates in double precision: a float4 running sum of 0.1 would drift
SELECT avg(e) FROM (SELECT '[0.1,1e-7]'::embedding e FROM generate_series(1, 100000)) t;
-- GROUP BY and window use
SELECT g, sum(e), avg(e)
FROM (VALUES (1, '[1,1]'::embedding), (1, '[3,5]'), (2, '[10,-10]')) t(g, e)
GROUP BY g ORDER BY g;
SELECT i, avg(e) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
FROM (VALUES (1, '[2]'::embedding), (2, '[4]'), (3, '[8]')) t(i, e) ORDER BY i;

-- errors
SELECT sum(e) FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) t(e);
SELECT avg(e) FROM (VALUES ('[1,2]'::embedding), ('[1,2,3]')) t(e);
SELECT sum(e) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) t(e);
-- avg of values whose sum overflows float4 is still representable
SELECT avg(e) FROM (VALUES ('[3e38]'::embedding), ('[3e38]')) t(e);

-- Parallel aggregation gives the serial answer ------------------------------
CREATE TABLE agg_data AS
SELECT g % 7 AS grp,
	   ARRAY(SELECT (sin(g * i) + i / 4.0)::real FROM generate_series(1, 16) i)::embedding AS e
FROM generate_series(1, 60000) g;
ANALYZE agg_data;

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_total AS SELECT sum(e) AS s, avg(e) AS a, count(*) AS n FROM agg_data;
CREATE TEMP TABLE serial_grp AS SELECT grp, sum(e) AS s, avg(e) AS a FROM agg_data GROUP BY grp;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT sum(e), avg(e) FROM agg_data;
CREATE TEMP TABLE parallel_total AS SELECT sum(e) AS s, avg(e) AS a, count(*) AS n FROM agg_data;
EXPLAIN (COSTS OFF) SELECT grp, sum(e), avg(e) FROM agg_data GROUP BY grp;
CREATE TEMP TABLE parallel_grp AS SELECT grp, sum(e) AS s, avg(e) AS a FROM agg_data GROUP BY grp;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

-- the same up to float4 rounding of a double-precision sum
SELECT p.n = s.n AS same_count,
	   (p.s <-> s.s) <= 1e-6 * norm(s.s) AS same_sum,
	   (p.a <-> s.a) <= 1e-6 * norm(s.a) AS same_avg,
	   round(norm(s.a)::numeric, 4) AS avg_norm
FROM parallel_total p, serial_total s;
SELECT count(*) AS groups,
	   bool_and((p.s <-> s.s) <= 1e-6 * norm(s.s)) AS same_sums,
	   bool_and((p.a <-> s.a) <= 1e-6 * norm(s.a)) AS same_avgs
FROM parallel_grp p JOIN serial_grp s USING (grp);
-- and both equal an exact computation over the unnested elements
SELECT bool_and(abs(x - ex) <= 1e-6 * greatest(abs(ex), 1)) AS avg_matches_exact
FROM (SELECT i, avg(x::float8) AS ex
	  FROM agg_data, unnest(e::real[]) WITH ORDINALITY u(x, i) GROUP BY i) exact
JOIN (SELECT i, x FROM serial_total, unnest(a::real[]) WITH ORDINALITY u(x, i)) agg USING (i);
