--
-- Managed per-model indexes: recsys.create_model_index() asks recsys to
-- serve an ials model through a recsys_hnsw index on recsys.item_factors
-- and keep it: one partial index per dimension of the model's kept
-- versions, so a retrain with another number of factors works (with an
-- index made by hand, WHERE model = 'x', it failed forever, even after
-- drop_model); restore_model_indexes() builds missing ones (after
-- pg_restore, which does not dump indexes on an extension's tables).
-- Dropping and rebuilding indexes locks item_factors against every
-- reader until commit, so only a superuser does it
-- (drop_unused_model_indexes, reindex_model): an owner cannot stall
-- other models' serving.
--
SET extra_float_digits = 0;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the model's managed indexes: name suffix (the dimension) and predicate
CREATE FUNCTION pg_temp.model_indexes(model text) RETURNS TABLE (dims text, predicate text)
LANGUAGE sql AS $$
	SELECT pg_catalog.split_part(c.relname, '_', 4),
		   pg_catalog.regexp_replace(pg_catalog.pg_get_expr(x.indpred, x.indrelid), '''[^'']*''', '''…''')
	FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
	WHERE x.indrelid = 'recsys.item_factors'::regclass
	  AND c.relname LIKE 'rs\_idx\_' || pg_catalog.left(pg_catalog.md5(model), 16) || '\_%'
	ORDER BY 1
$$;

CREATE TABLE mi AS
	SELECT user_id, item_id, clicks FROM recsys.synth_interactions(600, 900, 20000, 5);
CREATE ROLE mi_owner;
CREATE ROLE mi_other;
GRANT SELECT ON mi TO mi_owner;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.create_model_index(text, integer, integer), recsys.drop_model_index(text),
	recsys.reindex_model(text), recsys.restore_model_indexes(),
	recsys.drop_unused_model_indexes() TO mi_owner, mi_other;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO mi_owner, mi_other;

SET ROLE mi_owner;
SELECT version, items FROM recsys.train('mi_m', 'public.mi', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 4, "iterations": 3, "keep": 2}');
-- exact lists first
CREATE TEMP TABLE mi_exact AS
	SELECT u, r.item, r.rank FROM generate_series(1, 50) u CROSS JOIN LATERAL recsys.recommend('mi_m', u, 10) r;
SELECT recsys.create_model_index('mi_m', m => 12, ef_construction => 80) AS built;
SELECT * FROM pg_temp.model_indexes('mi_m');
SELECT index_options FROM recsys.models WHERE name = 'mi_m';
-- served through it: the same lists as exact scoring at a wide search
RESET ROLE;
ANALYZE recsys.item_factors;
SET ROLE mi_owner;
SET recsys.index_min_items = 0;
SET enable_sort = off;
SET recsys.ef_search = 400;
SELECT pg_catalog.pg_stat_get_xact_numscans(('recsys.rs_idx_' || left(md5('mi_m'), 16) || '_4')::regclass) AS scans_before;
CREATE TEMP TABLE mi_indexed AS
	SELECT u, r.item, r.rank FROM generate_series(1, 50) u CROSS JOIN LATERAL recsys.recommend('mi_m', u, 10) r;
SELECT pg_catalog.pg_stat_get_xact_numscans(('recsys.rs_idx_' || left(md5('mi_m'), 16) || '_4')::regclass) AS scans_after;
SELECT count(*) AS rows, count(e.*) >= 0.8 * count(*) AS mostly_same
FROM mi_indexed i LEFT JOIN mi_exact e USING (u, item, rank);
RESET recsys.index_min_items;
RESET enable_sort;
RESET recsys.ef_search;

-- a retrain with another number of factors: an index of its own; the
-- 4-dimension index stays, and once no 4-factor version is kept (keep = 2)
-- a superuser's drop_unused_model_indexes() drops it
SELECT version FROM recsys.train('mi_m', 'public.mi', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 8, "iterations": 3, "keep": 2}');
SELECT * FROM pg_temp.model_indexes('mi_m');
SELECT version FROM recsys.retrain('mi_m');
SELECT * FROM pg_temp.model_indexes('mi_m');
SELECT count(*) AS served FROM recsys.recommend('mi_m', 1, 10);
SELECT pg_temp.try($$SELECT recsys.drop_unused_model_indexes()$$) AS owner_drops_unused;
SELECT pg_temp.try($$SELECT recsys.reindex_model('mi_m')$$) AS owner_reindexes;
RESET ROLE;
SELECT count(*) AS dropped FROM recsys.drop_unused_model_indexes();
SELECT * FROM pg_temp.model_indexes('mi_m');
SELECT recsys.reindex_model('mi_m') AS rebuilt;
SET ROLE mi_owner;

-- another role may not touch it; a model with biases gets no index
SET ROLE mi_other;
SELECT pg_temp.try($$SELECT recsys.create_model_index('mi_m')$$) AS other_creates;
SELECT pg_temp.try($$SELECT recsys.drop_model_index('mi_m')$$) AS other_drops;
SELECT pg_temp.try($$SELECT recsys.reindex_model('mi_m')$$) AS other_reindexes;
SELECT recsys.restore_model_indexes() AS other_restores;
SET ROLE mi_owner;
SELECT version FROM recsys.train('mi_als', 'public.mi', 'user_id', 'item_id', 'clicks', 'als', '{"factors": 4, "iterations": 2}');
SELECT pg_temp.try($$SELECT recsys.create_model_index('mi_als')$$) AS als_index;
SELECT pg_temp.try($$SELECT recsys.create_model_index('mi_m', m => 1)$$) AS bad_m;
SELECT pg_temp.try($$SELECT recsys.create_model_index('mi_m', ef_construction => 100000)$$) AS bad_ef;
SELECT pg_temp.try($$SELECT recsys.create_model_index(NULL)$$) AS null_model;
SELECT pg_temp.try($$SELECT recsys.create_model_index('mi_nope')$$) AS no_model;

-- lost (as after pg_restore): serving scores every item, the next
-- restore_model_indexes() builds it again
RESET ROLE;
DO $$ BEGIN EXECUTE 'DROP INDEX recsys.' || quote_ident('rs_idx_' || left(md5('mi_m'), 16) || '_8'); END $$;
SET ROLE mi_owner;
SET recsys.index_min_items = 0;
\set VERBOSITY default
SELECT count(*) AS served FROM recsys.recommend('mi_m', 1, 10);
SELECT count(*) AS served_again_quietly FROM recsys.recommend('mi_m', 2, 10);
\set VERBOSITY terse
RESET recsys.index_min_items;
SELECT * FROM recsys.restore_model_indexes();
SELECT * FROM pg_temp.model_indexes('mi_m');

-- drop_model_index withdraws the request (serving then scores every item);
-- the index stays until a superuser drops unused ones; asked again, the
-- index is there already
SELECT recsys.drop_model_index('mi_m') AS withdrawn, recsys.drop_model_index('mi_m') AS again;
SELECT index_options IS NULL AS no_request FROM recsys.models WHERE name = 'mi_m';
SELECT * FROM pg_temp.model_indexes('mi_m');
SELECT recsys.create_model_index('mi_m') AS built;
-- drop_model leaves the index to the superuser too; the same name then
-- trains with another dimension and gets an index of its own
SELECT recsys.drop_model('mi_m');
SELECT count(*) AS left_over FROM pg_temp.model_indexes('mi_m');
SELECT version FROM recsys.train('mi_m', 'public.mi', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 6, "iterations": 2}');
SELECT recsys.create_model_index('mi_m') AS built;
SELECT * FROM pg_temp.model_indexes('mi_m');
SELECT recsys.drop_model('mi_m'), recsys.drop_model('mi_als');
DROP TABLE mi_exact, mi_indexed;
RESET ROLE;
SELECT * FROM recsys.drop_unused_model_indexes() x WHERE x LIKE 'rs\_idx\_' || left(md5('mi_m'), 16) || '%';
SELECT count(*) AS left_over FROM pg_temp.model_indexes('mi_m');

REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM mi_owner, mi_other;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.create_model_index(text, integer, integer), recsys.drop_model_index(text),
	recsys.reindex_model(text), recsys.restore_model_indexes(),
	recsys.drop_unused_model_indexes() FROM mi_owner, mi_other;
REVOKE ALL ON mi FROM mi_owner;
DROP ROLE mi_owner;
DROP ROLE mi_other;
DROP TABLE mi;
