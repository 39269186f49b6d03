--
-- Hostile input: every public function called with NULL in each argument,
-- empty arrays, zero, negative and huge k, NaN and infinities in every
-- float argument, long and malicious identifiers, keys with quotes and
-- unicode, source queries that are DML or have side effects, and a model
-- that belongs to another role.  Each case prints its documented result
-- (row count and the first rows) or its SQLSTATE and message; the server
-- never restarts, the victim table is never touched.
--
-- The cases are a table (h_fn: one row per function with a call template
-- and a good value and a kind for each argument) from which the variants
-- are generated (h_variant: the hostile values of each kind), so a new
-- function is one more row of h_fn.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;
SET client_min_messages = warning;
-- a safety net: no case may run away (the whole table of cases is one
-- statement, and scripts/sanitize.sh runs this file under valgrind, 20-50x
-- slower, on a shared machine: ten minutes)
SET statement_timeout = '600s';

CREATE TEMP TABLE h_start AS SELECT pg_postmaster_start_time() AS t;

-- Data: a small generated data set, the same with text keys full of
-- quotes and unicode, and a table the cases must never change.
SELECT relation, rows FROM recsys.generate_dataset('hz', users => 40, items => 30,
	interactions => 600, seed => 5);
CREATE TABLE hz_text AS
SELECT 'u''"' || user_id || ' ü😀' AS u, 'i"' || item_id || 'é''); DROP TABLE hostile_victim; --' AS i, rating
FROM hz_interactions;
CREATE TABLE hostile_victim (id int);
INSERT INTO hostile_victim VALUES (1), (2), (3);
-- a query with a side effect
CREATE FUNCTION hostile_side_effect() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	DELETE FROM hostile_victim;
	RETURN 1;
END $$;

-- ... hidden in an immutable function, which the planner runs while it
-- plans a call with constant arguments
CREATE FUNCTION hostile_folded(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN hostile_side_effect();
END $$;

-- a source that writes only once armed: run by whoever reads it
CREATE FUNCTION hostile_trap() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF current_setting('hostile.armed', true) = 'on' THEN
		DELETE FROM hostile_victim;
	END IF;
	RETURN true;
END $$;

-- Everything runs as an unprivileged role that may train and read the
-- catalog; another role owns h_other.
CREATE ROLE hostile_user;
CREATE ROLE hostile_other;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO hostile_user, hostile_other;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.fit(text, "any", "any", "any", jsonb),
	recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb),
	recsys.schedule_retrain(text, text, text)
	TO hostile_user, hostile_other;
GRANT SELECT ON hz_interactions, hz_items, hz_users, hz_text TO hostile_user, hostile_other;
GRANT SELECT, DELETE ON hostile_victim TO hostile_user;
GRANT CREATE ON SCHEMA public TO hostile_user;

SET ROLE hostile_other;
SELECT model, users, items FROM recsys.train('h_other', 'hz_interactions', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 3}');
-- another role's model whose stored source, read for a new user's fold-in,
-- would write with the rights of whoever asks for recommendations
SELECT model, users, items FROM recsys.train('h_trap', 'SELECT user_id, item_id, rating FROM hz_interactions WHERE hostile_trap()', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 3}');
-- which hostile_user may use (security_models tests the ungranted case)
SELECT recsys.grant_model('h_other', 'hostile_user'), recsys.grant_model('h_trap', 'hostile_user');
RESET ROLE;
SET ROLE hostile_user;
SELECT model, users, items FROM recsys.train('h_als', 'hz_interactions', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 3}');
SELECT model, users, items FROM recsys.train('h_ials', 'hz_interactions', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 4, "iterations": 3}');
SELECT model, users, items FROM recsys.train('h_knn', 'hz_interactions', 'user_id', 'item_id', NULL, 'item_knn');
SELECT model, users, items FROM recsys.train('h_uknn', 'hz_interactions', 'user_id', 'item_id', NULL, 'user_knn');
SELECT model, users, items FROM recsys.train('h_txt', 'hz_text', 'u', 'i', 'rating', 'als', '{"factors": 4, "iterations": 3}');
-- user 999 arrives after training: recommend() folds them in from the source
RESET ROLE;
INSERT INTO hz_interactions (user_id, item_id, rating, clicks, ts)
VALUES (999, 1, 5, 1, now()), (999, 2, 4, 1, now());
SET ROLE hostile_user;
SET hostile.armed = 'on';
CREATE TABLE h_filter AS SELECT recsys.bloom_agg(item_id) AS f FROM generate_series(1, 5) item_id;
-- vectors for the index cases
CREATE TABLE h_vec (id int, v embedding);
INSERT INTO h_vec SELECT i, CASE WHEN i % 10 = 0 THEN NULL
	ELSE ARRAY[sin(i), cos(i), i % 7]::real[]::embedding END
FROM generate_series(1, 60) i;
CREATE INDEX h_vec_l2 ON h_vec USING recsys_hnsw (v embedding_l2_ops);
CREATE INDEX h_vec_ip ON h_vec USING recsys_hnsw (v embedding_ip_ops);
CREATE INDEX h_vec_cos ON h_vec USING recsys_hnsw (v embedding_cosine_ops);
-- h_nn(op, q, k): the ids of q's k nearest rows of h_vec, read through
-- the index (the plans below are the ones it gets)
CREATE FUNCTION pg_temp.h_nn(op text, q embedding, k int) RETURNS text
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
	res text;
BEGIN
	EXECUTE format('SELECT string_agg(id::text, '','') FROM (SELECT id FROM h_vec ORDER BY v OPERATOR(recsys.%s) $1 LIMIT $2) s', op)
		INTO res USING q, k;
	RETURN res;
END $$;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM h_vec ORDER BY v <-> '[1,2,3]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM h_vec ORDER BY v <#> '[1,2,3]' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT id FROM h_vec ORDER BY v <=> '[1,2,3]' LIMIT 3;
RESET enable_seqscan;
CREATE FUNCTION pg_temp.h_exec(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'done';
END $$;

-- h_try(q): 'ok <rows>: <first rows>' or '<SQLSTATE>: <message>'.  Every
-- case runs in a subtransaction that is rolled back afterwards, so cases do
-- not depend on each other; before the rollback it checks that the case
-- left the victim table alone (a SELECT may call a function that writes:
-- that runs with the caller's rights, like any SELECT the caller runs).
CREATE FUNCTION pg_temp.h_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	head text;
	res text;
BEGIN
	BEGIN
		BEGIN
			EXECUTE 'SELECT count(*), left(string_agg(s::text, '' '' ), 70) FROM (' || q || ') s'
				INTO n, head;
			res := 'ok ' || n || ': ' || coalesce(head, '');
		EXCEPTION WHEN OTHERS THEN
			res := SQLSTATE || ': ' || left(regexp_replace(SQLERRM, '\s+', ' ', 'g'), 110);
		END;
		IF (SELECT count(*) FROM hostile_victim) <> 3 THEN
			res := res || ' [the victim table was changed]';
		END IF;
		IF to_regclass('hostile_new') IS NOT NULL THEN
			res := res || ' [a table was created]';
		END IF;
		RAISE EXCEPTION USING ERRCODE = 'RSH01', MESSAGE = res;
	EXCEPTION WHEN SQLSTATE 'RSH01' THEN
		RETURN SQLERRM;
	END;
END $$;

-- One row per function: the call (set-returning generators in the select
-- list, so that LIMIT stops them: in FROM they would be materialised), with $1..$n for its arguments, and for
-- each argument a good value (SQL), its type (for the NULL) and its kind
-- (which hostile values it gets).
CREATE TEMP TABLE h_fn (
	id serial,
	fn text,
	call text,
	vals text[],
	types text[],
	kinds text[]
);

-- The hostile values of each kind.
CREATE TEMP TABLE h_variant (kind text, label text, val text);
INSERT INTO h_variant VALUES
	('k', '0', '0'), ('k', '-1', '-1'), ('k', '2^31-1', '2147483647'),
	('k', '-2^31', '(-2147483647 - 1)'),
	('f', 'NaN', '''NaN''::float8'), ('f', '+Inf', '''Infinity''::float8'),
	('f', '-Inf', '''-Infinity''::float8'),
	('f4', 'NaN', '''NaN''::real'), ('f4', '+Inf', '''Infinity''::real'),
	('f4', '-Inf', '''-Infinity''::real'),
	('n', '0', '0'), ('n', '-1', '-1'), ('n', '2^31-1', '2147483647'),
	('size', '0', '0'), ('size', '-1', '-1'),
	('model', 'empty', ''''''),
	('model', 'injection', '''x"; DROP TABLE hostile_victim; --'''),
	('model', 'long', 'repeat(''m'', 10000)'),
	('model', 'unknown', '''no_such_model'''),
	('model', 'other role', '''h_other'''),
	('ident', 'injection', '''x"; DROP TABLE hostile_victim; --'''),
	('ident', 'long', 'repeat(''c'', 10000)'),
	('ident', 'empty', ''''''),
	('query', 'DML', '''DELETE FROM hostile_victim RETURNING id'''),
	('query', 'two statements', '''SELECT 1; DROP TABLE hostile_victim'''),
	('query', 'side effect', '''SELECT hostile_side_effect() AS user_id, 1 AS item_id, 1 AS "rank", 5 AS rating, hostile_side_effect() AS u, 1 AS i, now() AS ts'''),
	('query', 'side effect when planned', '''SELECT hostile_folded(1) AS user_id, 1 AS item_id, 1 AS "rank", 5 AS rating, hostile_folded(1) AS u, 1 AS i, now() AS ts'''),
	('query', 'SELECT INTO', '''SELECT 1 AS x INTO hostile_new'''),
	('query', 'injection', '''hostile_victim; DROP TABLE hostile_victim'''),
	('query', 'empty', ''''''),
	('ikey', 'unknown', '-5'), ('ikey', 'huge', '2147483647'),
	('tkey', 'quotes', '''u''''"1 ü😀''::text'), ('tkey', 'unicode', '''ü😀''::text'),
	('tkey', 'injection', '''x''''); DROP TABLE hostile_victim; --''::text'),
	('tkey', 'long', 'repeat(''k'', 100000)'),
	('iarr', 'empty', '''{}''::int[]'), ('iarr', 'NULL element', 'ARRAY[1, NULL, 2]'),
	('iarr', '2-D', '''{{1,2},{3,4}}''::int[]'),
	('farr', 'empty', '''{}''::float8[]'), ('farr', 'NaN', 'ARRAY[''NaN'', 1, 2]::float8[]'),
	('farr', 'Inf', 'ARRAY[''Infinity'', 1, 2]::float8[]'),
	('farr', 'NULL element', 'ARRAY[NULL, 1, 2]::float8[]'),
	('tarr', 'empty', '''{}''::text[]'), ('tarr', 'NULL element', 'ARRAY[NULL, ''1'', ''2'']'),
	('tarr', 'quotes', 'ARRAY[''x''''"); --'', ''ü😀'', ''i"2é''''); DROP TABLE hostile_victim; --'']'),
	('json', 'not an object', '''[1,2]''::jsonb'),
	('json', 'unknown option', '''{"x\"; DROP TABLE hostile_victim; --": 1}''::jsonb'),
	('json', 'string number', '''{"factors": "NaN"}''::jsonb'),
	('json', 'huge', '''{"factors": 1e308, "iterations": 2147483648}''::jsonb'),
	('json', 'negative', '''{"factors": -1, "regularization": -1}''::jsonb'),
	('json', 'nested', '(repeat(''{"a":'', 1000) || ''1'' || repeat(''}'', 1000))::jsonb'),
	('interval', 'zero', '''0''::interval'), ('interval', 'negative', '''-1 day''::interval'),
	('interval', 'huge', '''178000000 years''::interval'),
	('etext', 'empty', '''[]'''), ('etext', 'NaN', '''[NaN]'''), ('etext', 'Inf', '''[1,Infinity]'''),
	('etext', 'beyond float4', '''[1e39]'''), ('etext', 'unclosed', '''[1,2'''),
	('etext', 'garbage', '''x"; DROP TABLE hostile_victim; --'''),
	('etext', '16001 dims', '(''['' || repeat(''1,'', 16000) || ''1]'')'),
	('etext', 'denormal', '''[1e-45,-0]'''),
	('emb', '1 dim', '''[1]''::embedding'), ('emb', 'max float4', '''[3e38,3e38,3e38]''::embedding'),
	('emb', 'zero', '''[0,0,0]''::embedding'),
	('btext', 'empty', ''''''), ('btext', 'garbage', '''bloom:v=1,k=999999,m=-1,n=0:AAAA'''),
	('btext', 'short bits', '''bloom:v=1,k=3,m=1000000,n=1:AAAA'''),
	('btext', 'v2', '''bloom:v=2,k=3,m=64,n=0:AAAAAAAAAAA='''),
	('btext', 'padding bits set', '''bloom:v=1,k=3,m=64,n=0:AAAAAAAAAAB='''),
	('btext', 'inner padding', '''bloom:v=1,k=3,m=72,n=0:AA=AAAAAAAAA'''),
	('cron', 'garbage', '''x"; DROP TABLE hostile_victim; --''');

-- h_cases: the base call and each generated variant, in order
CREATE TEMP VIEW h_cases AS
WITH args AS (
	SELECT f.id, f.fn, f.call, f.vals, i, f.types[i] AS type, f.kinds[i] AS kind
	FROM h_fn f, generate_subscripts(f.vals, 1) i
), variants AS (
	SELECT id, fn, call, vals, 0 AS i, 0 AS ord, 'base' AS label, NULL::text AS val FROM h_fn
	UNION ALL
	SELECT id, fn, call, vals, i, 1, '$' || i || ' NULL', 'NULL::' || type FROM args
	UNION ALL
	SELECT a.id, a.fn, a.call, a.vals, a.i, 2, '$' || a.i || ' ' || v.label, v.val
	FROM args a JOIN h_variant v ON v.kind = a.kind
)
SELECT id, fn, label, i, ord, call, vals, val FROM variants;

-- h_render(call, vals, i, val): the call with $i replaced by val
CREATE FUNCTION pg_temp.h_render(call text, vals text[], i int, val text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	j int;
BEGIN
	-- highest first, so that $1 does not match the start of $10
	FOR j IN REVERSE array_length(vals, 1) .. 1 LOOP
		call := replace(call, '$' || j, CASE WHEN j = i THEN val ELSE vals[j] END);
	END LOOP;
	RETURN call;
END $$;

-- 1. The embedding type ------------------------------------------------------
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('embedding_in', 'SELECT $1::embedding', '{"''[1,2,3]''"}', '{text}', '{etext}'),
	('embedding(n)', 'SELECT ''[1,2,3]''::embedding($1)', '{3}', '{int}', '{k}'),
	('array_to_embedding', 'SELECT $1::embedding', '{"ARRAY[1,2,3]::float8[]"}', '{float8[]}', '{farr}'),
	('array_to_embedding(real[])', 'SELECT ARRAY[$1, 1]::real[]::embedding', '{1}', '{real}', '{f4}'),
	('embedding_to_float4_array', 'SELECT $1::real[]', '{"''[1,2]''::embedding"}', '{embedding}', '{emb}'),
	('dims', 'SELECT dims($1)', '{"''[1,2]''::embedding"}', '{embedding}', '{emb}'),
	('norm', 'SELECT norm($1)', '{"''[1,2]''::embedding"}', '{embedding}', '{emb}'),
	('l2_normalize', 'SELECT l2_normalize($1)', '{"''[3,4]''::embedding"}', '{embedding}', '{emb}'),
	('inner_product', 'SELECT inner_product($1, $2)', '{"''[1,2,3]''::embedding","''[1,2,3]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('cosine_similarity', 'SELECT cosine_similarity($1, $2)', '{"''[1,2,3]''::embedding","''[1,2,3]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('l2_distance', 'SELECT $1 <-> $2', '{"''[1,2,3]''::embedding","''[1,2,4]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('negative_inner_product', 'SELECT $1 <#> $2', '{"''[1,2,3]''::embedding","''[1,2,4]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('cosine_distance', 'SELECT $1 <=> $2', '{"''[1,2,3]''::embedding","''[1,2,4]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('embedding_add', 'SELECT $1 + $2', '{"''[1,2,3]''::embedding","''[1,2,4]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('embedding_sub', 'SELECT $1 - $2', '{"''[1,2,3]''::embedding","''[1,2,4]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('embedding_mul_scalar', 'SELECT $1 * $2', '{"''[1,2,3]''::embedding",2}', '{embedding,float8}', '{emb,f}'),
	('scalar_mul_embedding', 'SELECT $1 * $2', '{2,"''[1,2,3]''::embedding"}', '{float8,embedding}', '{f,emb}'),
	('embedding_cmp', 'SELECT embedding_cmp($1, $2), $1 < $2, $1 = $2', '{"''[1,2,3]''::embedding","''[1,2]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('embedding_hash', 'SELECT embedding_hash_extended($1, $2) = embedding_hash_extended($1, $2)', '{"''[1,2,3]''::embedding",7}', '{embedding,bigint}', '{emb,n}'),
	('sum(embedding)', 'SELECT sum(e) FROM (VALUES ($1), ($2)) t(e)', '{"''[1,2,3]''::embedding","''[1,2,3]''::embedding"}', '{embedding,embedding}', '{emb,emb}'),
	('avg(embedding)', 'SELECT avg(e) FROM (VALUES ($1), ($2)) t(e)', '{"''[1,2,3]''::embedding","''[1,2,3]''::embedding"}', '{embedding,embedding}', '{emb,emb}');

-- 2. Synthetic data ----------------------------------------------------------
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('synth_users', 'SELECT synth_users($1, $2) LIMIT 3', '{10,1}', '{int,bigint}', '{n,n}'),
	('synth_items', 'SELECT synth_items($1, $2, $3) LIMIT 3', '{10,1,3}', '{int,bigint,int}', '{n,n,n}'),
	('synth_interactions', 'SELECT user_id, item_id, rating FROM synth_interactions($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) LIMIT 3',
	 '{10,10,20,1,3,4,0.5,"''F''",1,0.8,1}',
	 '{int,int,bigint,bigint,int,int,real,text,real,real,real}',
	 '{n,n,n,n,n,n,f4,ident,f4,f4,f4}'),
	('synth_interactions(huge)', 'SELECT count(*) FROM (SELECT * FROM synth_interactions($1, $2, $3) LIMIT 3) s',
	 '{2147483647,2147483647,10}', '{int,int,bigint}', '{n,n,n}'),
	('synth_user_profile', 'SELECT synth_user_profile($1, $2, $3) LIMIT 3', '{10,1,3}', '{int,bigint,int}', '{n,n,n}'),
	('synth_truth', 'SELECT round(synth_truth($1, $2, $3, $4, $5)::numeric, 3)', '{1,2,1,3,4}', '{int,int,bigint,int,int}', '{n,n,n,n,n}'),
	('generate_dataset', 'SELECT * FROM generate_dataset($1, $2, $3, $4)', '{"''hzg''",5,5,10}', '{text,int,int,bigint}', '{ident,size,size,size}');

-- 3. Training and the catalog ------------------------------------------------
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('train', 'SELECT model, users, items, interactions FROM train($1, $2, $3, $4, $5, $6, $7)',
	 '{"''h_t''","''hz_interactions''","''user_id''","''item_id''","''rating''","''als''","''{\"factors\": 2, \"iterations\": 1}''::jsonb"}',
	 '{text,text,text,text,text,text,jsonb}',
	 '{model,query,ident,ident,ident,ident,json}'),
	('train(text keys)', 'SELECT model, users, items FROM train($1, $2, $3, $4, NULL, ''popularity'')',
	 '{"''h_t2''","''SELECT u, i FROM hz_text''","''u''","''i''"}', '{text,text,text,text}', '{model,query,ident,ident}'),
	('fit', 'SELECT (f).model, (f).users, (f).items FROM (SELECT fit($1, $2, $3, $4, $5) AS f FROM (VALUES (1, 1, 1.0), (1, 2, 2.0), (2, 1, 3.0)) t(u, i, r)) s',
	 '{"''h_f''",u,i,r,"''{\"algorithm\": \"popularity\"}''::jsonb"}',
	 '{text,int,int,numeric,jsonb}', '{model,tkey,tkey,f,json}'),
	('retrain', 'SELECT model, version > 1 FROM retrain($1)', '{"''h_als''"}', '{text}', '{model}'),
	('drop_model', 'SELECT drop_model($1, $2)', '{"''h_gone''",true}', '{text,boolean}', '{model}'),
	('predict', 'SELECT round(predict($1, $2, $3)::numeric, 6) IS NOT NULL', '{"''h_als''",1,2}', '{text,int,int}', '{model,ikey,ikey}'),
	('predict(text keys)', 'SELECT round(predict($1, $2, $3)::numeric, 6) IS NOT NULL',
	 '{"''h_txt''","''u''''\"1 ü😀''","''i\"2é''''); DROP TABLE hostile_victim; --''"}', '{text,text,text}', '{model,tkey,tkey}'),
	('schedule_retrain', 'SELECT schedule_retrain($1, $2, $3)', '{"''h_als''","''0 3 * * *''","''j''"}', '{text,text,text}', '{model,cron,ident}');

-- 4. Bloom filters -----------------------------------------------------------
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('bloom_in', 'SELECT bloom_stats($1::bloom)', '{"''bloom:v=1,k=1,m=64,n=0:AAAAAAAAAAA=''"}', '{text}', '{btext}'),
	('bloom_agg', 'SELECT (bloom_stats(bloom_agg(k))).items FROM (VALUES ($1), ($2)) t(k)', '{1,2}', '{int,int}', '{ikey,ikey}'),
	('bloom_agg(text)', 'SELECT (bloom_stats(bloom_agg(k))).items FROM (VALUES ($1), ($2)) t(k)', '{"''a''","''b''"}', '{text,text}', '{tkey,tkey}'),
	('bloom_agg(rate)', 'SELECT (bloom_stats(bloom_agg(k, $1))).probes FROM generate_series(1, 10) k', '{0.01}', '{float8}', '{f}'),
	('bloom_contains', 'SELECT bloom_contains($1, $2)', '{"(SELECT f FROM h_filter)",3}', '{bloom,int}', '{x,ikey}'),
	('bloom_contains(text)', 'SELECT bloom_contains($1, $2)', '{"(SELECT f FROM h_filter)","''3''"}', '{bloom,text}', '{x,tkey}'),
	('bloom_stats', 'SELECT bits, probes, items FROM bloom_stats($1)', '{"(SELECT f FROM h_filter)"}', '{bloom}', '{x}');

-- 5. Serving -----------------------------------------------------------------
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('recommend', 'SELECT item, rank FROM recommend(model => $1, "user" => $2, k => $3, exclude_seen => $4, exclude => $5, exclude_query => $6, item_times => $7, half_life => $8, item_groups => $9, max_per_group => $10, protected_group => $11, min_share => $12, max_similarity => $13, mmr_lambda => $14, pool => $15, forbidden => $16)',
	 '{"''h_als''",1,3,true,"ARRAY[1]","''SELECT 2''","''SELECT item_id, created_at FROM hz_items''","''1 year''","''SELECT item_id, category FROM hz_items''",2,"''1''",0.2,0.99,0.9,10,"(SELECT f FROM h_filter)"}',
	 '{text,int,int,boolean,int[],text,text,interval,text,int,text,float8,float8,float8,int,bloom}',
	 '{model,ikey,k,x,iarr,query,query,interval,query,k,ident,f,f,f,k,x}'),
	('recommend(text keys)', 'SELECT rank FROM recommend($1, $2, $3)',
	 '{"''h_txt''","''u''''\"1 ü😀''::text",3}', '{text,text,int}', '{model,tkey,k}'),
	('recommend(fold-in)', 'SELECT item, rank FROM recommend($1, $2, $3)', '{"''h_trap''",999,3}', '{text,int,int}', '{model,ikey,k}'),
	('recommend(item_knn)', 'SELECT item, rank FROM recommend($1, $2, $3)', '{"''h_knn''",1,3}', '{text,int,int}', '{model,ikey,k}'),
	('recommend_for_items', 'SELECT item, rank FROM recommend_for_items(model => $1, items => $2, k => $3, ratings => $4, exclude_seen => $5, exclude => $6, exclude_query => $7, item_times => $8, half_life => $9, item_groups => $10, max_per_group => $11, protected_group => $12, min_share => $13, max_similarity => $14, mmr_lambda => $15, pool => $16, forbidden => $17)',
	 '{"''h_als''","ARRAY[1,2,3]",3,"ARRAY[5,4,1]::float8[]",true,"ARRAY[4]","''SELECT 5''","''SELECT item_id, created_at FROM hz_items''","''1 year''","''SELECT item_id, category FROM hz_items''",2,"''1''",0.2,0.99,0.9,10,"(SELECT f FROM h_filter)"}',
	 '{text,int[],int,float8[],boolean,int[],text,text,interval,text,int,text,float8,float8,float8,int,bloom}',
	 '{model,iarr,k,farr,x,iarr,query,query,interval,query,k,ident,f,f,f,k,x}'),
	('recommend_for_items(ials)', 'SELECT item, rank FROM recommend_for_items($1, $2, $3, $4)',
	 '{"''h_ials''","ARRAY[1,2,3]",3,"ARRAY[5,4,1]::float8[]"}', '{text,int[],int,float8[]}', '{model,iarr,k,farr}'),
	('recommend_for_items(text keys)', 'SELECT rank FROM recommend_for_items($1, $2, $3)',
	 '{"''h_txt''","ARRAY[''i\"2é''''); DROP TABLE hostile_victim; --'']",3}', '{text,text[],int}', '{model,tarr,k}'),
	('recommend_all', 'SELECT count(DISTINCT "user"), max(rank) FROM recommend_all(model => $1, k => $2, exclude_seen => $3, exclude => $4, exclude_query => $5, item_times => $6, half_life => $7, item_groups => $8, max_per_group => $9, protected_group => $10, min_share => $11, max_similarity => $12, mmr_lambda => $13, pool => $14, forbidden => $15, users => $16)',
	 '{"''h_als''",3,true,"ARRAY[''1'']","''SELECT 2''","''SELECT item_id, created_at FROM hz_items''","''1 year''","''SELECT item_id, category FROM hz_items''",2,"''1''",0.2,0.99,0.9,10,"(SELECT f FROM h_filter)","ARRAY[''1'',''2'',''3'']"}',
	 '{text,int,boolean,text[],text,text,interval,text,int,text,float8,float8,float8,int,bloom,text[]}',
	 '{model,k,x,tarr,query,query,interval,query,k,ident,f,f,f,k,x,tarr}'),
	('recommend_all(all users)', 'SELECT count(DISTINCT "user"), max(rank) FROM recommend_all($1, $2)', '{"''h_ials''",2}', '{text,int}', '{model,k}'),
	('similar_items', 'SELECT item, rank FROM similar_items($1, $2, $3)', '{"''h_als''",1,3}', '{text,int,int}', '{model,ikey,k}'),
	('similar_items(item_knn)', 'SELECT item, rank FROM similar_items($1, $2, $3)', '{"''h_knn''",1,3}', '{text,int,int}', '{model,ikey,k}'),
	('similar_users', 'SELECT "user", rank FROM similar_users($1, $2, $3)', '{"''h_als''",1,3}', '{text,int,int}', '{model,ikey,k}'),
	('similar_users(user_knn)', 'SELECT "user", rank FROM similar_users($1, $2, $3)', '{"''h_uknn''",1,3}', '{text,int,int}', '{model,ikey,k}'),
	('rerank', 'SELECT item, rank FROM rerank(items => $1, scores => $2, k => $3, exclude => $4, item_times => $5, half_life => $6, groups => $7, max_per_group => $8, protected_group => $9, min_share => $10, vectors => $11, max_similarity => $12, mmr_lambda => $13, forbidden => $14)',
	 '{"ARRAY[10,11,12]","ARRAY[3,2,1]::float8[]",2,"ARRAY[11]","ARRAY[now(),now(),now()]","''1 day''","ARRAY[''a'',''a'',''b'']",1,"''b''",0.3,"ARRAY[''[1,0]'',''[0,1]'',''[1,1]'']::embedding[]",0.99,0.5,"(SELECT f FROM h_filter)"}',
	 '{int[],float8[],int,int[],timestamptz[],interval,text[],int,text,float8,embedding[],float8,float8,bloom}',
	 '{iarr,farr,k,iarr,x,interval,tarr,k,ident,f,x,f,f,x}');

-- 6. Statistics -------------------------------------------------------------
-- (fx: a float that may also be zero, negative or huge, e.g. degrees of
-- freedom)
INSERT INTO h_variant VALUES
	('fx', 'NaN', '''NaN''::float8'), ('fx', '+Inf', '''Infinity''::float8'),
	('fx', '-Inf', '''-Infinity''::float8'), ('fx', '0', '0::float8'),
	('fx', '-1', '-1::float8'), ('fx', '1e308', '1e308::float8');
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('anova', 'SELECT anova(g, v) FROM (VALUES ($1, $2), (''a'', 2), (''b'', 4), (''b'', 7), ($3, 1)) t(g, v)',
	 '{"''a''::text",1,"''c''::text"}', '{text,float8,text}', '{tkey,f,tkey}'),
	('welch_t_test', 'SELECT welch_t_test(g, v) FROM (VALUES ($1, $2), (''a'', 2), (''b'', 4), (''b'', 7)) t(g, v)',
	 '{"''a''::text",1}', '{text,float8}', '{tkey,f}'),
	('kruskal_wallis', 'SELECT kruskal_wallis(g, v) FROM (VALUES ($1, $2), (''a'', 2), (''b'', 4), (''b'', 7), ($3, 1)) t(g, v)',
	 '{"''a''::text",1,"''c''::text"}', '{text,float8,text}', '{tkey,f,tkey}'),
	('f_sf', 'SELECT round(f_sf($1, $2, $3)::numeric, 6)', '{3,2,10}', '{float8,float8,float8}', '{fx,fx,fx}'),
	('t_sf', 'SELECT round(t_sf($1, $2)::numeric, 6)', '{2,5}', '{float8,float8}', '{fx,fx}'),
	('chi2_sf', 'SELECT round(chi2_sf($1, $2)::numeric, 6)', '{3,2}', '{float8,float8}', '{fx,fx}');

-- 7. Evaluation and audits ---------------------------------------------------
-- (Their sources, groups, users and lists are the caller's own queries, run
-- with the caller's rights and as if the transaction were read-only: a
-- source with a side effect fails with 25006 and writes nothing, and h_try
-- checks that the victim table is intact.  split writes its own tables,
-- but reads its source read-only all the same.)
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('split', 'SELECT part, relation, rows > 0 FROM split($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
	 ARRAY['''hz_interactions''', '''user_id''', '''item_id''', '''temporal''', '0.2', '7', '''ts''', '''h_sp_train''', '''h_sp_test''', 'true'],
	 '{text,text,text,text,float8,int,text,text,text,boolean}',
	 '{query,ident,ident,ident,f,n,ident,ident,ident,x}'),
	('split(kfold)', 'SELECT part, relation, rows > 0 FROM split($1, $2, $3, $4, seed => $5, folds => $6, fold => $7, train_table => $8, test_table => $9, "temporary" => $10)',
	 ARRAY['''hz_interactions''', '''user_id''', '''item_id''', '''kfold''', '7', '4', '2', '''h_kf_train''', '''h_kf_test''', 'true'],
	 '{text,text,text,text,int,int,int,text,text,boolean}',
	 '{query,ident,ident,ident,n,n,n,ident,ident,x}'),
	('predictions', 'SELECT user_key, item_key, round(prediction::numeric, 4) FROM predictions($1, $2, $3, $4, $5)',
	 ARRAY['''h_als''', '''SELECT * FROM hz_interactions WHERE user_id = 1 ORDER BY item_id LIMIT 2''', '''user_id''', '''item_id''', '''rating'''],
	 '{text,text,text,text,text}', '{model,query,ident,ident,ident}'),
	('evaluate', 'SELECT metric, k, round(value::numeric, 4), user_group FROM evaluate($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
	 ARRAY['''h_als''', '''hz_interactions''', '3', '''user_id''', '''item_id''', '''rating''', '3', '''SELECT user_id, gender FROM hz_users''',
		   'ARRAY[''ndcg'', ''rmse'']', '''SELECT user_id, item_id, row_number() OVER (PARTITION BY user_id ORDER BY item_id) FROM hz_interactions WHERE user_id <= 5''', '''skip'''],
	 '{text,text,int,text,text,text,float8,text,text[],text,text}',
	 '{model,query,k,ident,ident,ident,f,query,tarr,query,ident}'),
	('evaluate(serve unknown users)', 'SELECT metric, round(value::numeric, 4) FROM evaluate($1, $2, $3, unknown_users => ''serve'')',
	 ARRAY['''h_trap''', '''SELECT user_id, item_id, rating FROM hz_interactions WHERE user_id IN (1, 999)''', '3'],
	 '{text,text,int}', '{model,query,k}'),
	('evaluate_users', 'SELECT user_key, n_relevant, round(ndcg::numeric, 4) FROM evaluate_users($1, $2, $3, $4, $5, $6, $7) ORDER BY user_key COLLATE "C"',
	 ARRAY['''h_ials''', '''SELECT * FROM hz_interactions WHERE user_id <= 3''', '3', '''user_id''', '''item_id''', '''rating''', '3'],
	 '{text,text,int,text,text,text,float8}', '{model,query,k,ident,ident,ident,f}'),
	('audit_exposure', 'SELECT item_group, metric, round(value::numeric, 4) FROM audit_exposure($1, $2, $3, $4)',
	 ARRAY['''h_ials''', '''SELECT item_id, long_tail FROM hz_items''', '3', '''SELECT user_id FROM hz_users WHERE user_id <= 10'''],
	 '{text,text,int,text}', '{model,query,k,query}'),
	('audit_exposure(lists)', 'SELECT item_group, metric, round(value::numeric, 4) FROM audit_exposure($1, $2, $3, lists => $4)',
	 ARRAY['''h_knn''', '''SELECT item_id, category FROM hz_items''', '2', '''SELECT user_id, item_id, row_number() OVER (PARTITION BY user_id ORDER BY item_id) FROM hz_interactions WHERE user_id <= 5'''],
	 '{text,text,int,text}', '{model,query,k,query}'),
	('audit_error', 'SELECT group_key, n, round(rmse::numeric, 4), rmse_low IS NOT NULL FROM audit_error($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
	 ARRAY['''h_als''', '''hz_interactions''', '''SELECT user_id, gender FROM hz_users''', '''squared''', '20', '0.9', '1', '''user_id''', '''item_id''', '''rating'''],
	 '{text,text,text,text,int,float8,int,text,text,text}',
	 '{model,query,query,ident,n,f,n,ident,ident,ident}'),
	('audit_ranking', 'SELECT group_key, metric, users, round(mean::numeric, 4) FROM audit_ranking($1, $2, $3, $4, $5, $6, $7, $8, $9)',
	 ARRAY['''h_ials''', '''hz_interactions''', '''SELECT user_id, age_band FROM hz_users''', '3', 'ARRAY[''ndcg'']', '''user_id''', '''item_id''', '''rating''', '3'],
	 '{text,text,text,int,text[],text,text,text,float8}',
	 '{model,query,query,k,tarr,ident,ident,ident,f}');

-- 8. The recsys_hnsw index ---------------------------------------------------
-- (h_vec: three-dimensional vectors of any dimension by type, NULLs among
-- them, an index per opclass; h_nn(op, q, k) reads it through the index;
-- h_exec(statement) runs a statement that returns no rows)
INSERT INTO h_variant VALUES
	('relopt', '1', '1'), ('relopt', '101', '101'), ('relopt', '1001', '1001'),
	('relopt', 'fraction', '2.5'), ('relopt', 'text', '''x'''),
	('relopt', 'injection', '''1); DROP TABLE hostile_victim; --''');
INSERT INTO h_fn (fn, call, vals, types, kinds) VALUES
	('CREATE INDEX recsys_hnsw', 'SELECT pg_temp.h_exec(format(''CREATE INDEX ON h_vec USING recsys_hnsw (v embedding_l2_ops) WITH (m = %L, ef_construction = %L)'', $1, $2))',
	 '{8,16}', '{text,text}', '{relopt,relopt}'),
	('CREATE INDEX recsys_hnsw(k)', 'SELECT pg_temp.h_exec(format(''CREATE INDEX ON h_vec USING recsys_hnsw (v embedding_cosine_ops) WITH (m = %L, ef_construction = %L)'', $1, $2))',
	 '{8,16}', '{int,int}', '{k,k}'),
	('SET recsys.ef_search', 'SELECT set_config(''recsys.ef_search'', ($1)::text, true)', '{100}', '{int}', '{k}'),
	('SET recsys.max_scan_tuples', 'SELECT set_config(''recsys.max_scan_tuples'', ($1)::text, true)', '{100}', '{int}', '{k}'),
	('SET recsys.index_min_items', 'SELECT set_config(''recsys.index_min_items'', ($1)::text, true)', '{100}', '{int}', '{k}'),
	('index scan <->', 'SELECT pg_temp.h_nn(''<->'', $1, $2)', '{"''[1,2,3]''::embedding",3}', '{embedding,int}', '{emb,k}'),
	('index scan <#>', 'SELECT pg_temp.h_nn(''<#>'', $1, $2)', '{"''[1,2,3]''::embedding",3}', '{embedding,int}', '{emb,k}'),
	('index scan <=>', 'SELECT pg_temp.h_nn(''<=>'', $1, $2)', '{"''[1,2,3]''::embedding",3}', '{embedding,int}', '{emb,k}');

-- Run every case, in order.
SELECT c.fn, c.label, pg_temp.h_try(pg_temp.h_render(c.call, c.vals, c.i, c.val)) AS result
FROM h_cases c
ORDER BY c.id, c.ord, c.i, c.label;

-- 9. Lists, groups and users read by position ------------------------------
-- Their columns are read by position, whatever they are called: a lists
-- query whose columns are named lu, li, lr (the names evaluation gives
-- them) in any order, or with more columns of those names, measures what
-- the same lists with plain names measure.
CREATE TEMP VIEW h_lists AS
SELECT user_id, item_id, row_number() OVER (PARTITION BY user_id ORDER BY item_id) AS r
FROM hz_interactions WHERE user_id <= 5;
-- h_same(label, q): label, the head of q's result (h_try) and whether its
-- whole result is the plain-names variant's (the first one)
CREATE TEMP TABLE h_same_result (n serial, label text, head text, full_result text);
CREATE FUNCTION pg_temp.h_same(label text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	res text;
BEGIN
	BEGIN
		EXECUTE 'SELECT string_agg(s::text, '' '') FROM (' || q || ') s' INTO res;
	EXCEPTION WHEN OTHERS THEN
		res := SQLSTATE || ': ' || SQLERRM;
	END;
	INSERT INTO h_same_result (label, head, full_result) VALUES (label, pg_temp.h_try(q), res);
END $$;
SELECT pg_temp.h_same(q.label, format($$SELECT metric, round(value::numeric, 4) FROM evaluate('h_ials', 'hz_interactions', 3, metrics => ARRAY['ndcg', 'precision', 'recall'], lists => %L) ORDER BY metric$$, q.lists))
FROM (VALUES (1, 'evaluate lists: plain names', 'SELECT user_id, item_id, r FROM h_lists'),
			 (2, 'evaluate lists: lu, li, lr', 'SELECT user_id AS lu, item_id AS li, r AS lr FROM h_lists'),
			 (3, 'evaluate lists: li, lr, lu', 'SELECT user_id AS li, item_id AS lr, r AS lu FROM h_lists'),
			 (4, 'evaluate lists: lr, lu, li, lu, li, lr', 'SELECT user_id AS lr, item_id AS lu, r AS li, 0 AS lu, 0 AS li, 0 AS lr FROM h_lists')) q(n, label, lists)
ORDER BY q.n;
SELECT pg_temp.h_same(q.label, format($$SELECT item_group, metric, round(value::numeric, 4) FROM audit_exposure('h_knn', %L, 2, users => %L, lists => %L)$$, q.groups, q.users, q.lists))
FROM (VALUES (1, 'audit_exposure lists: plain names', 'SELECT item_id, category FROM hz_items', 'SELECT user_id FROM hz_users', 'SELECT user_id, item_id, r FROM h_lists'),
			 (2, 'audit_exposure lists: gi, gg; recsys_user; lu, li, lr', 'SELECT item_id AS gi, category AS gg FROM hz_items', 'SELECT user_id AS recsys_user FROM hz_users',
				 'SELECT user_id AS lu, item_id AS li, r AS lr FROM h_lists'),
			 (3, 'audit_exposure lists: the same swapped and repeated', 'SELECT item_id AS gg, category AS gi, 0 AS gi, 0 AS gg FROM hz_items',
				 'SELECT user_id AS recsys_user, 0 AS recsys_user FROM hz_users',
				 'SELECT user_id AS li, item_id AS lr, r AS lu, 0 AS lu, 0 AS li, 0 AS lr FROM h_lists')) q(n, label, groups, users, lists)
ORDER BY q.n;
-- (users without lists: the recommend_all path)
SELECT pg_temp.h_same(q.label, format($$SELECT item_group, metric, round(value::numeric, 4) FROM audit_exposure('h_ials', 'SELECT item_id, long_tail FROM hz_items', 3, users => %L) WHERE metric IN ('exposure_share', 'lists')$$, q.users))
FROM (VALUES (1, 'audit_exposure users: plain names', 'SELECT user_id FROM hz_users WHERE user_id <= 10'),
			 (2, 'audit_exposure users: recsys_user twice', 'SELECT user_id AS recsys_user, 0 AS recsys_user FROM hz_users WHERE user_id <= 10')) q(n, label, users)
ORDER BY q.n;
SELECT pg_temp.h_same(q.label, format($$SELECT metric, user_group, round(value::numeric, 4) FROM evaluate('h_als', 'hz_interactions', 3, threshold => 4, metrics => ARRAY['rmse', 'recall'], user_groups => %L)$$, q.groups))
FROM (VALUES (1, 'evaluate user_groups: plain names', 'SELECT user_id, gender FROM hz_users'),
			 (2, 'evaluate user_groups: gg, gu, gu, gg', 'SELECT user_id AS gg, gender AS gu, 0 AS gu, 0 AS gg FROM hz_users')) q(n, label, groups)
ORDER BY q.n;
SELECT label, head,
	   full_result = first_value(full_result) OVER (PARTITION BY split_part(label, ':', 1) ORDER BY n) AS same_as_plain
FROM h_same_result ORDER BY n;

-- A list that is no ranking is an error (22023) in every function taking
-- lists: two items at one rank, one item at two ranks, a rank below 1.
-- Ranks may have gaps, and rows ranked above k are not read.
SELECT q.label, f.fn, pg_temp.h_try(format(f.call, q.lists)) AS result
FROM (VALUES (1, 'valid', 'SELECT user_id, item_id, r FROM h_lists'),
			 (2, 'two items at rank 1', 'SELECT user_id, item_id, 1 FROM h_lists'),
			 (3, 'one item at ranks 1, 2, 3', 'SELECT user_id, 7, r FROM h_lists'),
			 (4, 'the same rows twice', 'SELECT user_id, item_id, r FROM h_lists UNION ALL SELECT user_id, item_id, r FROM h_lists'),
			 (5, 'rank 0', 'SELECT user_id, item_id, r - 1 FROM h_lists'),
			 (6, 'rank -2^31', 'SELECT user_id, item_id, CASE WHEN r = 2 THEN -2147483648 ELSE r END FROM h_lists'),
			 (7, 'ranks 2, 4, 6', 'SELECT user_id, item_id, 2 * r FROM h_lists'),
			 (8, 'duplicates above k', 'SELECT user_id, item_id, r FROM h_lists UNION ALL SELECT user_id, item_id, 9 FROM h_lists'),
			 (9, 'NULL ranks', 'SELECT user_id, item_id, NULLIF(r, 2) FROM h_lists UNION ALL SELECT user_id, 7, NULL FROM h_lists')) q(n, label, lists)
CROSS JOIN (VALUES (1, 'evaluate', $$SELECT metric, round(value::numeric, 4) FROM evaluate('h_ials', 'hz_interactions', 3, metrics => ARRAY['ndcg', 'precision'], lists => %L)$$),
				   (2, 'audit_exposure', $$SELECT metric, round(value::numeric, 4) FROM audit_exposure('h_ials', NULL, 3, lists => %L) WHERE metric IN ('lists', 'coverage', 'gini')$$)) f(n, fn, call)
ORDER BY q.n, f.n;

-- NDCG never passes 1: each of 10 users is a group of its own, measured on
-- lists of all 30 items in four random orders, and on the ideal lists
-- (the user's relevant items first), where it is exactly 1
SELECT count(*) AS user_lists, max(e.value) <= 1 + 1e-12 AS ndcg_at_most_1,
	   round(min(e.value)::numeric, 4) AS min_ndcg, round(max(e.value)::numeric, 4) AS max_ndcg
FROM generate_series(1, 4) seed,
	 LATERAL evaluate('h_ials', 'SELECT * FROM hz_interactions WHERE user_id <= 10', 5,
					  metrics => ARRAY['ndcg'], user_groups => 'SELECT user_id, user_id FROM hz_users',
					  lists => format('SELECT u.user_id, i.item_id, row_number() OVER (PARTITION BY u.user_id ORDER BY hashint4(i.item_id * 1000 + u.user_id * 7 + %s)) FROM hz_users u CROSS JOIN hz_items i WHERE u.user_id <= 10', seed)) e
WHERE e.user_group IS NOT NULL;
SELECT count(*) AS user_lists, round(min(e.value)::numeric, 6) AS min_ndcg, round(max(e.value)::numeric, 6) AS max_ndcg
FROM evaluate('h_ials', 'SELECT * FROM hz_interactions WHERE user_id <= 10', 5,
			  metrics => ARRAY['ndcg'], user_groups => 'SELECT user_id, user_id FROM hz_users',
			  lists => 'SELECT u.user_id, i.item_id, row_number() OVER (PARTITION BY u.user_id ORDER BY EXISTS (SELECT 1 FROM hz_interactions t WHERE t.user_id = u.user_id AND t.item_id = i.item_id) DESC, i.item_id) FROM hz_users u CROSS JOIN hz_items i WHERE u.user_id <= 10') e
WHERE e.user_group IS NOT NULL;

-- The read-only mode is the functions' own: in one transaction, after
-- evaluate(), audit_exposure(), audit_error(), split() (and one refused
-- with 25006 inside a caught subtransaction) the caller writes again.
BEGIN;
SELECT count(*) AS metrics FROM evaluate('h_als', 'hz_interactions', 3);
SELECT count(*) AS exposure_rows FROM audit_exposure('h_ials', 'SELECT item_id, long_tail FROM hz_items', 3);
SELECT count(*) AS error_groups FROM audit_error('h_als', 'hz_interactions', 'SELECT user_id, gender FROM hz_users');
SELECT part, rows > 0 AS has_rows FROM split('hz_interactions', 'user_id', 'item_id', train_table => 'h_rw_train', test_table => 'h_rw_test', "temporary" => true);
SELECT pg_temp.h_try($$SELECT * FROM evaluate('h_als', 'SELECT hostile_side_effect() AS user_id, 1 AS item_id, 5 AS rating', 3)$$) AS refused;
SHOW transaction_read_only;
INSERT INTO h_rw_test SELECT * FROM h_rw_train LIMIT 1;
CREATE TEMP TABLE h_rw_new AS SELECT 1 AS x;
SELECT count(*) AS victim_rows FROM hostile_victim;
ROLLBACK;

-- Nothing was changed by a hostile value: the victim is intact, no table
-- appeared, the models are the ones trained above, each with an active,
-- complete version.
RESET ROLE;
SELECT count(*) AS victim_rows FROM hostile_victim;
SELECT count(*) AS new_tables FROM pg_class WHERE relname = 'hostile_new';
SELECT name, owner, active_version IS NOT NULL AS active FROM recsys.models
WHERE owner IN ('hostile_user', 'hostile_other') ORDER BY name COLLATE "C";
SELECT m.name, v.users = (SELECT count(*) FROM recsys.user_factors u WHERE u.model = m.name AND u.version = m.active_version) AS complete
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
WHERE m.owner IN ('hostile_user', 'hostile_other') ORDER BY m.name COLLATE "C";
-- the server never restarted
SELECT pg_postmaster_start_time() = t AS same_server FROM h_start;

-- clean up
SELECT count(*) FROM (SELECT recsys.drop_model(name) FROM recsys.models
	WHERE owner IN ('hostile_user', 'hostile_other')) s;
DROP TABLE h_filter, h_vec, hz_text, hostile_victim, hz_users, hz_items, hz_interactions;
DROP FUNCTION hostile_folded(int), hostile_side_effect(), hostile_trap();
REVOKE ALL ON SCHEMA public FROM hostile_user;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM hostile_user, hostile_other;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.fit(text, "any", "any", "any", jsonb),
	recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb),
	recsys.schedule_retrain(text, text, text)
	FROM hostile_user, hostile_other;
DROP OWNED BY hostile_user, hostile_other;
DROP ROLE hostile_user;
DROP ROLE hostile_other;
