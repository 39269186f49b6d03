--
-- The embedding type: I/O, typmod, casts, operators, functions, ordering.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

-- Reports the SQLSTATE and message of a statement, or 'ok'.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Text input and output ----------------------------------------------------
SELECT '[1,2,3]'::embedding;
SELECT '  [ 1.5 , -2 ,3e2 ]  '::embedding;
SELECT '[0.1]'::embedding, '[-0]'::embedding, '[1e-45]'::embedding;
-- shortest representation that reads back exactly
SELECT '[0.1,0.2,0.3,3.4028235e38,-3.4028235e38,1.17549435e-38,1e-38]'::embedding;
SELECT ARRAY[1::real / 3::real]::embedding AS third;
-- text round trip is exact for many random values
SELECT setseed(0.5);
WITH v AS (
	SELECT ARRAY(SELECT (random() * 2 - 1)::real * 10 ^ (random() * 60 - 30)
				 FROM generate_series(1, 64))::real[] AS a
	FROM generate_series(1, 200)
)
SELECT count(*) AS vectors,
	   bool_and(a::embedding::text::embedding::real[] = a) AS exact_round_trip
FROM v;

-- Bad text input: each with its SQLSTATE
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT '[]'::embedding$$),
	($$SELECT '[ ]'::embedding$$),
	($$SELECT '[1,,2]'::embedding$$),
	($$SELECT '[1,2'::embedding$$),
	($$SELECT '[1,2]x'::embedding$$),
	($$SELECT '1,2'::embedding$$),
	($$SELECT '[a]'::embedding$$),
	($$SELECT '[1 2]'::embedding$$),
	($$SELECT '[1,]'::embedding$$),
	($$SELECT ''::embedding$$),
	($$SELECT '[NaN]'::embedding$$),
	($$SELECT '[1,Infinity]'::embedding$$),
	($$SELECT '[-inf]'::embedding$$),
	($$SELECT '[1e39]'::embedding$$),
	($$SELECT '[1e-50]'::embedding$$)
) AS t(q);
-- The full message, with its hint
SELECT '[1,,2]'::embedding;
SELECT '[]'::embedding;

-- Dimension limits
SELECT dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::embedding);
SELECT pg_temp.try($$SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::embedding$$);

-- Typmod ---------------------------------------------------------------
CREATE TABLE emb3 (id int, e embedding(3));
INSERT INTO emb3 VALUES (1, '[1,2,3]');
SELECT pg_temp.try($$INSERT INTO emb3 VALUES (2, '[1,2]')$$);
SELECT pg_temp.try($$INSERT INTO emb3 VALUES (2, '[1,2]'::embedding)$$);
SELECT pg_temp.try($$INSERT INTO emb3 VALUES (2, ARRAY[1,2,3,4]::real[])$$);
SELECT pg_temp.try($$UPDATE emb3 SET e = '[1,2,3,4]'::embedding$$);
SELECT pg_temp.try($$SELECT '[1,2]'::embedding(3)$$);
INSERT INTO emb3 VALUES (3, ARRAY[4,5,6]::real[]), (4, ARRAY[7,8,9]::float8[]);
SELECT * FROM emb3 ORDER BY id;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'emb3'::regclass AND attname = 'e';
SELECT q, pg_temp.try(q) FROM (VALUES
	($$CREATE TABLE bad (e embedding(0))$$),
	($$CREATE TABLE bad (e embedding(16001))$$),
	($$CREATE TABLE bad (e embedding(3, 4))$$)
) AS t(q);
SELECT pg_temp.try($$CREATE TEMP TABLE wide (e embedding(16000))$$) AS typmod_max_ok;

-- Casts ----------------------------------------------------------------
SELECT ARRAY[1.5, 2, -3]::real[]::embedding, ARRAY[1.5, 2, -3]::float8[]::embedding,
	   ARRAY[1, 2, 3]::embedding, ARRAY[1.25, 2.5]::numeric[]::embedding;
SELECT '[1.5,2,-3]'::embedding::real[], '[0.1,2,-3]'::embedding::float8[];
SELECT ARRAY[1,2,3]::real[]::embedding(3);
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT ARRAY[1,NULL,3]::real[]::embedding$$),
	($$SELECT '{}'::real[]::embedding$$),
	($$SELECT ARRAY[[1,2],[3,4]]::real[]::embedding$$),
	($$SELECT ARRAY['NaN']::real[]::embedding$$),
	($$SELECT ARRAY['Infinity']::float8[]::embedding$$),
	($$SELECT ARRAY[1e300]::float8[]::embedding$$),
	($$SELECT ARRAY[1e300]::numeric[]::embedding$$),
	($$SELECT ARRAY[1,2]::real[]::embedding(3)$$)
) AS t(q);

-- Distances and similarities -------------------------------------------
SELECT '[1,2,3]'::embedding <-> '[3,2,1]' AS l2,
	   round(('[1,2,3]'::embedding <-> '[3,2,1]')::numeric, 7) AS l2_rounded,
	   '[1,2,3]'::embedding <#> '[3,2,1]' AS neg_ip,
	   round(('[1,2,3]'::embedding <=> '[3,2,1]')::numeric, 10) AS cos_dist,
	   round(('[1,0]'::embedding <=> '[0,1]')::numeric, 10) AS orthogonal,
	   round(('[1,1]'::embedding <=> '[-2,-2]')::numeric, 10) AS opposite,
	   '[3,4]'::embedding <=> '[6,8]' AS parallel;
SELECT inner_product('[1,2,3]', '[4,5,6]'),
	   round(cosine_similarity('[1,2,3]', '[4,5,6]')::numeric, 10) AS cos,
	   norm('[3,4]'), norm('[0,0]'), dims('[1,2,3,4,5]'),
	   l2_normalize('[3,4]'), l2_normalize('[0,0,0]'),
	   round(norm(l2_normalize('[1,2,3,4,5,6,7]'))::numeric, 6) AS unit;
-- zero vectors have no angle
SELECT cosine_similarity('[0,0]', '[1,1]'), '[0,0]'::embedding <=> '[1,1]';
-- distances agree with an exact computation in SQL over long vectors
WITH p AS (
	SELECT ARRAY(SELECT (sin(i * 7 + g))::real FROM generate_series(1, 300) i) AS a,
		   ARRAY(SELECT (cos(i * 3 + g))::real FROM generate_series(1, 300) i) AS b
	FROM generate_series(1, 20) g
), exact AS (
	SELECT a, b,
		   (SELECT sqrt(sum((x::float8 - y::float8) ^ 2)) FROM unnest(a, b) u(x, y)) AS l2,
		   (SELECT sum(x::float8 * y::float8) FROM unnest(a, b) u(x, y)) AS ip,
		   (SELECT sqrt(sum(x::float8 ^ 2)) FROM unnest(a) u(x)) AS na,
		   (SELECT sqrt(sum(y::float8 ^ 2)) FROM unnest(b) u(y)) AS nb
	FROM p
)
SELECT count(*) AS pairs,
	   max(abs((a::embedding <-> b::embedding) - l2) / l2) < 1e-5 AS l2_ok,
	   max(abs(-(a::embedding <#> b::embedding) - ip)) < 1e-3 AS ip_ok,
	   max(abs((a::embedding <=> b::embedding) - (1 - ip / (na * nb)))) < 1e-5 AS cos_ok,
	   max(abs(norm(a::embedding) - na) / na) < 1e-5 AS norm_ok
FROM exact;

-- Arithmetic -----------------------------------------------------------
SELECT '[1,2,3]'::embedding + '[10,20,30]' AS add,
	   '[1,2,3]'::embedding - '[10,20,30]' AS sub,
	   '[1,2,3]'::embedding * 2 AS mul,
	   0.5 * '[1,2,3]'::embedding AS mul2,
	   '[1,2,3]'::embedding * -1.5::real AS mul3;

-- Dimension mismatch in every binary operator and function
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT '[1,2]'::embedding <-> '[1,2,3]'$$),
	($$SELECT '[1,2]'::embedding <#> '[1,2,3]'$$),
	($$SELECT '[1,2]'::embedding <=> '[1,2,3]'$$),
	($$SELECT '[1,2]'::embedding + '[1,2,3]'$$),
	($$SELECT '[1,2]'::embedding - '[1,2,3]'$$),
	($$SELECT inner_product('[1,2]', '[1,2,3]')$$),
	($$SELECT cosine_similarity('[1,2]', '[1,2,3]')$$)
) AS t(q);
-- Overflow and non-finite scalars
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT '[3e38]'::embedding + '[3e38]'$$),
	($$SELECT '[-3e38]'::embedding - '[3e38]'$$),
	($$SELECT '[3e38]'::embedding * 10$$),
	($$SELECT 1e300 * '[1]'::embedding$$),
	($$SELECT '[1]'::embedding * 'NaN'::float8$$),
	($$SELECT '[1]'::embedding * 'Infinity'::float8$$)
) AS t(q);
SELECT '[3e38]'::embedding + '[3e38]';

-- Ordering, equality, hashing ------------------------------------------
SELECT '[1,2,3]'::embedding = '[1,2,3]' AS eq, '[1,2,3]'::embedding <> '[1,2,4]' AS ne,
	   '[1,2,3]'::embedding < '[1,2,4]' AS lt, '[1,2]'::embedding < '[1,2,0]' AS prefix_lt,
	   '[2]'::embedding > '[1,9]' AS gt, '[1,2]'::embedding <= '[1,2]' AS le,
	   '[1,2]'::embedding >= '[1,3]' AS ge, '[0]'::embedding = '[-0]' AS zeros_equal,
	   '[1,2]'::embedding = '[1,2,0]' AS diff_dims_equal;
CREATE TABLE embs (id int, e embedding);
INSERT INTO embs VALUES (1, '[3,1]'), (2, '[1,2]'), (3, '[1,2]'), (4, '[2]'), (5, '[1,2,0]'),
	(6, '[0,5]'), (7, '[-0,5]'), (8, NULL);
SELECT id, e FROM embs ORDER BY e, id;
SELECT e, count(*) FROM embs GROUP BY e ORDER BY e;
SELECT count(DISTINCT e) FROM embs;
SET enable_sort = off;
SET enable_hashagg = on;
EXPLAIN (COSTS OFF) SELECT e, count(*) FROM embs GROUP BY e;
SELECT e, count(*) FROM embs GROUP BY e ORDER BY 2 DESC, 1;
RESET enable_sort;
RESET enable_hashagg;
CREATE INDEX embs_btree ON embs (e);
CREATE INDEX embs_hash ON embs USING hash (e);
SET enable_seqscan = off;
SELECT id FROM embs WHERE e = '[1,2]' ORDER BY id;
SELECT id FROM embs WHERE e = '[0,5]' ORDER BY id;
RESET enable_seqscan;
SELECT recsys.embedding_hash('[0,5]') = recsys.embedding_hash('[-0,5]') AS zero_hash_folds,
	   (recsys.embedding_hash_extended('[1,2]', 0) & 4294967295)
		 = (recsys.embedding_hash('[1,2]')::bigint & 4294967295) AS extended_seed0_matches,
	   recsys.embedding_hash_extended('[1,2]', 0)
		 <> recsys.embedding_hash_extended('[1,2]', 1) AS seed_matters;

-- NULL handling: every function is strict
SELECT dims(NULL), norm(NULL), NULL::embedding <-> '[1]', '[1]'::embedding + NULL;

-- Binary I/O ------------------------------------------------------------
-- wire form: int16 dims, int16 flags, float4 elements (network order)
SELECT recsys.embedding_send('[1,-2.5,3e-7]') AS bytes;
\getenv abs_builddir PG_ABS_BUILDDIR
\set bin_file :abs_builddir '/results/embedding.bin'
\set bad_file :abs_builddir '/results/embedding_bad.bin'
CREATE TABLE bin_src (id int, e embedding);
INSERT INTO bin_src
SELECT g, ARRAY(SELECT ((g * 31 + i * 17) % 1000 - 500)::real / 7 * 10 ^ ((g + i) % 40 - 20)
				FROM generate_series(1, 1 + g % 50) i)::embedding
FROM generate_series(1, 500) g;
COPY bin_src TO :'bin_file' (FORMAT binary);
CREATE TABLE bin_dst (LIKE bin_src);
COPY bin_dst FROM :'bin_file' (FORMAT binary);
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE s.e = d.e AND s.e::text = d.e::text
						AND s.e::real[] = d.e::real[]) AS identical
FROM bin_src s JOIN bin_dst d USING (id);
-- binary input with a bad header or payload: bytea fields read back as embeddings
CREATE TABLE bad_bin (id int, b bytea);
INSERT INTO bad_bin VALUES
	(1, '\x000100003f800000'),		-- good: [1]
	(2, '\x0001'),					-- truncated header
	(3, '\x000000003f800000'),		-- zero dimensions
	(4, '\x3e8100003f800000'),		-- 16001 dimensions
	(5, '\x000100013f800000'),		-- non-zero flags
	(6, '\x000200003f800000'),		-- fewer bytes than dimensions
	(7, '\x000100003f8000003f800000'),	-- more bytes than dimensions
	(8, '\x000100007fc00000'),		-- NaN
	(9, '\x000100007f800000');		-- +Infinity
CREATE TABLE bad_bin_dst (id int, e embedding);
CREATE FUNCTION pg_temp.load_bad(i int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT id, b FROM bad_bin WHERE id = %s) TO %L (FORMAT binary)',
				   i, current_setting('recsys_test.bad_file'));
	TRUNCATE bad_bin_dst;
	EXECUTE format('COPY bad_bin_dst FROM %L (FORMAT binary)',
				   current_setting('recsys_test.bad_file'));
	RETURN 'ok: ' || (SELECT e::text FROM bad_bin_dst);
EXCEPTION WHEN OTHERS THEN
	DECLARE
		detail text;
	BEGIN
		GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
		RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || detail;
	END;
END $$;
SELECT set_config('recsys_test.bad_file', :'bad_file', false) IS NOT NULL AS set;
SELECT id, pg_temp.load_bad(id) FROM bad_bin ORDER BY id;
