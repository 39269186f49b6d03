-- The ranking metrics of one list: recsys.precision_at_k(), recall_at_k(),
-- ndcg_at_k(), average_precision_at_k(), reciprocal_rank(), hit_at_k().
SET extra_float_digits = 0;

-- b and c of the relevant b, c, d are found at ranks 2 and 3:
-- precision 2/3, recall 2/3, nDCG (1/log2(3) + 1/log2(4)) / (1 + 1/log2(3)
-- + 1/log2(4)), AP (1/2 + 2/3) / 3, reciprocal rank 1/2, hit 1
SELECT recsys.precision_at_k(l, r, 3) AS p, recsys.recall_at_k(l, r, 3) AS r,
	   recsys.ndcg_at_k(l, r, 3) AS ndcg, recsys.average_precision_at_k(l, r, 3) AS ap,
	   recsys.reciprocal_rank(l, r, 3) AS rr, recsys.hit_at_k(l, r, 3) AS hit
FROM (VALUES (ARRAY['a', 'b', 'c'], ARRAY['b', 'c', 'd'])) v(l, r);
SELECT abs(recsys.ndcg_at_k(ARRAY['a', 'b', 'c'], ARRAY['b', 'c', 'd'], 3)
		   - (1 / log(2, 3) + 1 / log(2, 4)) / (1 + 1 / log(2, 3) + 1 / log(2, 4))::float8) < 1e-15 AS ndcg_formula;

-- only the top k count; k beyond the list's length divides precision by k
SELECT recsys.precision_at_k(ARRAY[1, 2, 3, 4], ARRAY[4], 3) AS p3,
	   recsys.hit_at_k(ARRAY[1, 2, 3, 4], ARRAY[4], 3) AS hit3,
	   recsys.precision_at_k(ARRAY[1, 2, 3, 4], ARRAY[4], 4) AS p4,
	   recsys.precision_at_k(ARRAY[1, 2], ARRAY[1, 2], 10) AS p10,
	   recsys.ndcg_at_k(ARRAY[1, 2], ARRAY[1, 2], 10) AS ndcg10,
	   recsys.average_precision_at_k(ARRAY[1, 2], ARRAY[1, 2], 10) AS ap10;

-- a list that leaves ranks out: the item at rank 5 is out of the top 3,
-- the one at rank 2 counts at rank 2
SELECT recsys.reciprocal_rank(ARRAY['x', 'b', 'c'], ARRAY['b', 'c'], 3, ranks => ARRAY[1, 2, 5]) AS rr,
	   recsys.recall_at_k(ARRAY['x', 'b', 'c'], ARRAY['b', 'c'], 3, ranks => ARRAY[1, 2, 5]) AS recall,
	   recsys.recall_at_k(ARRAY['x', 'b', 'c'], ARRAY['b', 'c'], 5, ranks => ARRAY[1, 2, 5]) AS recall5,
	   recsys.average_precision_at_k(ARRAY['x', 'b', 'c'], ARRAY['b', 'c'], 5, ranks => ARRAY[1, 2, 5]) AS ap5;
-- the ranks may come in any order: each belongs to its item
SELECT recsys.ndcg_at_k(ARRAY['c', 'x', 'b'], ARRAY['b', 'c'], 5, ranks => ARRAY[5, 1, 2])
	 = recsys.ndcg_at_k(ARRAY['x', 'b', 'c'], ARRAY['b', 'c'], 5, ranks => ARRAY[1, 2, 5]) AS same;

-- relevant: NULLs left out, repeats counted once; NULL items never match
SELECT recsys.recall_at_k(ARRAY['a', NULL, 'b'], ARRAY['a', 'a', NULL, 'z'], 3) AS recall,
	   recsys.precision_at_k(ARRAY[NULL, NULL]::text[], ARRAY[NULL]::text[], 2) AS p;
-- no hit scores 0; no relevant item at all: recall, nDCG and AP are NULL
SELECT recsys.ndcg_at_k(ARRAY['a'], ARRAY['z'], 3) AS ndcg_miss,
	   recsys.reciprocal_rank(ARRAY['a'], ARRAY['z'], 3) AS rr_miss,
	   recsys.precision_at_k(ARRAY['a'], '{}'::text[], 3) AS p_none,
	   recsys.recall_at_k(ARRAY['a'], '{}'::text[], 3) IS NULL AS recall_null,
	   recsys.ndcg_at_k(ARRAY['a'], '{}'::text[], 3) IS NULL AS ndcg_null,
	   recsys.average_precision_at_k(ARRAY['a'], '{}'::text[], 3) IS NULL AS ap_null,
	   recsys.hit_at_k('{}'::text[], ARRAY['a'], 3) AS hit_empty;
-- NULL arguments give NULL
SELECT recsys.ndcg_at_k(NULL::text[], ARRAY['a'], 3) IS NULL AS a,
	   recsys.ndcg_at_k(ARRAY['a'], NULL::text[], 3) IS NULL AS b,
	   recsys.ndcg_at_k(ARRAY['a'], ARRAY['a'], NULL) IS NULL AS c;
-- items compare with their type's equality (and collation)
SELECT recsys.hit_at_k(ARRAY[1.0, 2.50]::numeric[], ARRAY[2.5]::numeric[], 2) AS numeric_equal,
	   recsys.hit_at_k(ARRAY['A'], ARRAY['a'], 1) AS case_differs;

-- errors
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try($$SELECT recsys.ndcg_at_k(ARRAY[1], ARRAY[1], 0)$$);
SELECT pg_temp.try($$SELECT recsys.precision_at_k(ARRAY[1, 2], ARRAY[1], 2, ranks => ARRAY[1])$$);
SELECT pg_temp.try($$SELECT recsys.precision_at_k(ARRAY[1, 2], ARRAY[1], 2, ranks => ARRAY[1, 1])$$);
SELECT pg_temp.try($$SELECT recsys.precision_at_k(ARRAY[1, 2], ARRAY[1], 2, ranks => ARRAY[0, 1])$$);
SELECT pg_temp.try($$SELECT recsys.precision_at_k(ARRAY[1, 2], ARRAY[1], 2, ranks => ARRAY[1, NULL])$$);
SELECT pg_temp.try($$SELECT recsys.hit_at_k(ARRAY[point(1, 2)], ARRAY[point(1, 2)], 1)$$);
SELECT pg_temp.try($$SELECT recsys.hit_at_k(ARRAY[1], ARRAY['1'::text], 1)$$);

-- The same doubles as the window-function formulation evaluate() used up
-- to 0.2.0 (sums in rank order), over many random lists with gaps.
CREATE TEMP TABLE rm_lists AS
SELECT u, array_agg(i ORDER BY rank) AS items, array_agg(rank ORDER BY rank) AS ranks
FROM (SELECT u, i, (2 * row_number() OVER (PARTITION BY u ORDER BY hashint4(u * 1000 + i)) - i % 2)::integer AS rank
	  FROM generate_series(1, 200) u, generate_series(1, 30) i
	  WHERE hashint4(u * 31 + i) % 3 = 0) x
GROUP BY u;
CREATE TEMP TABLE rm_relevant AS
SELECT u, array_agg(i) AS relevant
FROM generate_series(1, 200) u, generate_series(1, 30) i
WHERE hashint4(u * 17 + i) % 4 = 0 GROUP BY u;
WITH h AS (
	SELECT l.u, x.i, x.rank, x.i = ANY (r.relevant) AS rel
	FROM rm_lists l JOIN rm_relevant r USING (u), unnest(l.items, l.ranks) x(i, rank)
	WHERE x.rank <= 10),
w AS (
	SELECT h.*, count(*) FILTER (WHERE h.rel) OVER (PARTITION BY h.u ORDER BY h.rank) AS hits_so_far
	FROM h),
m AS (
	SELECT w.u, count(*) FILTER (WHERE w.rel) AS hits,
		   sum(ln(2::float8) / ln(w.rank + 1::float8)) FILTER (WHERE w.rel) AS dcg,
		   sum(w.hits_so_far::float8 / w.rank) FILTER (WHERE w.rel) AS sum_precision,
		   min(w.rank) FILTER (WHERE w.rel) AS first_hit
	FROM w GROUP BY w.u),
idcg AS (
	SELECT array_agg(z.c ORDER BY z.i) AS v
	FROM (SELECT i, sum(ln(2::float8) / ln(i + 1::float8)) OVER (ORDER BY i) AS c
		  FROM generate_series(1, 10) i) z),
old AS (
	SELECT r.u,
		   coalesce(m.hits, 0)::float8 / 10 AS p,
		   coalesce(m.hits, 0)::float8 / cardinality(r.relevant) AS recall,
		   coalesce(m.dcg, 0) / (SELECT v FROM idcg)[least(cardinality(r.relevant), 10)] AS ndcg,
		   coalesce(m.sum_precision, 0) / least(cardinality(r.relevant), 10) AS ap,
		   coalesce(1.0::float8 / m.first_hit, 0) AS rr,
		   (coalesce(m.hits, 0) > 0)::integer::float8 AS hit
	FROM rm_relevant r LEFT JOIN m USING (u))
SELECT count(*) AS lists,
	   count(*) FILTER (WHERE o.ndcg > 0) AS with_hits,
	   count(*) FILTER (WHERE o.p = recsys.precision_at_k(l.items, r.relevant, 10, l.ranks)
	                    AND o.recall = recsys.recall_at_k(l.items, r.relevant, 10, l.ranks)
	                    AND o.ndcg = recsys.ndcg_at_k(l.items, r.relevant, 10, l.ranks)
	                    AND o.ap = recsys.average_precision_at_k(l.items, r.relevant, 10, l.ranks)
	                    AND o.rr = recsys.reciprocal_rank(l.items, r.relevant, 10, l.ranks)
	                    AND o.hit = recsys.hit_at_k(l.items, r.relevant, 10, l.ranks)) AS identical
FROM old o JOIN rm_relevant r USING (u) JOIN rm_lists l USING (u);
