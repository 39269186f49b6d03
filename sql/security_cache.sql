--
-- Security: the serving caches follow the stored version, not its number.
-- A version number comes back with other contents after drop_model + train
-- (numbering starts at 1 again) and after a training that was rolled back
-- and redone; a backend that served the old contents must never read the
-- new model with the old arrays (that crashed the server) nor return items
-- the active version does not have.  Every model kind, text and integer
-- keys, and the item attributes a call site keeps (exclude_query).
-- (test/t/045_cache_identity.pl plays the same across two sessions.)
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

-- 7 items, then 50,000 of other keys, under the same model name and number
CREATE TABLE sc_small (u int, i int, r real);
INSERT INTO sc_small SELECT u, i, 1 + (u * i) % 5
FROM generate_series(1, 20) u, generate_series(1, 7) i WHERE (u + i) % 3 <> 0;
CREATE TABLE sc_big (u int, i int, r real);
INSERT INTO sc_big SELECT i % 40 + 1, 100000 + i, 1 + i % 5 FROM generate_series(1, 50000) i;
INSERT INTO sc_big SELECT u, 100000 + u * 7 + j, 3 FROM generate_series(1, 40) u, generate_series(1, 30) j;

-- the active version's items, for comparison
CREATE FUNCTION pg_temp.foreign_items(model text, items int[]) RETURNS bigint
LANGUAGE sql AS $$
	SELECT count(*) FROM unnest(items) x(item)
	WHERE NOT EXISTS (SELECT 1 FROM recsys.item_factors f JOIN recsys.models m
					  ON m.name = f.model AND m.active_version = f.version
					  WHERE f.model = $1 AND f.item_key = x.item::text)
$$;

-- item_knn: the reported crash
SELECT version, items FROM recsys.train('sc_knn', 'sc_small', 'u', 'i', 'r', 'item_knn');
SELECT count(*) AS served FROM recsys.recommend('sc_knn', 1, 5);
SELECT recsys.drop_model('sc_knn');
SELECT version, items FROM recsys.train('sc_knn', 'sc_big', 'u', 'i', 'r', 'item_knn');
SELECT count(*) AS served, pg_temp.foreign_items('sc_knn', array_agg(item)) AS not_in_model
FROM recsys.recommend('sc_knn', 1, 5);
SELECT recsys.predict('sc_knn', 1, 100001) IS NOT NULL AS predicts,
	   recsys.predict('sc_knn', 1, 3) IS NULL AS old_item_unknown;

-- every factor kind and popularity, the other way round (big, then small)
DO $$
DECLARE
	alg text;
	n bigint;
	bad bigint;
BEGIN
	FOREACH alg IN ARRAY ARRAY['als', 'svd', 'ials', 'bpr', 'popularity', 'user_knn'] LOOP
		PERFORM recsys.train('sc_' || alg, 'sc_big', 'u', 'i', 'r', alg, '{"factors": 4, "iterations": 2}'::jsonb
							 - CASE WHEN alg IN ('popularity', 'user_knn') THEN ARRAY['factors', 'iterations'] ELSE '{}' END);
		PERFORM count(*) FROM recsys.recommend('sc_' || alg, 1, 5);
		PERFORM recsys.drop_model('sc_' || alg);
		PERFORM recsys.train('sc_' || alg, 'sc_small', 'u', 'i', 'r', alg, '{"factors": 4, "iterations": 2}'::jsonb
							 - CASE WHEN alg IN ('popularity', 'user_knn') THEN ARRAY['factors', 'iterations'] ELSE '{}' END);
		SELECT count(*), pg_temp.foreign_items('sc_' || alg, array_agg(item))
		INTO n, bad FROM recsys.recommend('sc_' || alg, 1, 5);
		RAISE NOTICE '%: % items, % not in the active version', alg, n, bad;
	END LOOP;
END
$$;

-- text keys: the same numbers, other keys
CREATE TABLE sc_text AS SELECT 'u' || u AS u, 'a' || i AS i, r FROM sc_small;
CREATE TABLE sc_text2 AS SELECT 'u' || u AS u, 'b' || i AS i, r FROM sc_small;
SELECT version FROM recsys.train('sc_t', 'sc_text', 'u', 'i', 'r', 'als', '{"factors": 3, "iterations": 2}');
SELECT string_agg(left(item, 1), '' ORDER BY rank) AS prefixes FROM recsys.recommend('sc_t', 'u1'::text, 3);
SELECT recsys.drop_model('sc_t');
SELECT version FROM recsys.train('sc_t', 'sc_text2', 'u', 'i', 'r', 'als', '{"factors": 3, "iterations": 2}');
SELECT string_agg(left(item, 1), '' ORDER BY rank) AS prefixes FROM recsys.recommend('sc_t', 'u1'::text, 3);

-- a training rolled back and redone reuses its number
SELECT version FROM recsys.train('sc_rb', 'sc_text', 'u', 'i', 'r', 'ials', '{"factors": 3, "iterations": 2}');
BEGIN;
SELECT version FROM recsys.train('sc_rb', 'sc_text', 'u', 'i', 'r', 'ials', '{"factors": 3, "iterations": 2}');
SELECT count(*) FROM recsys.recommend('sc_rb', 'u1'::text, 3);
ROLLBACK;
SELECT version FROM recsys.train('sc_rb', 'sc_text2', 'u', 'i', 'r', 'ials', '{"factors": 3, "iterations": 2}');
SELECT string_agg(left(item, 1), '' ORDER BY rank) AS prefixes FROM recsys.recommend('sc_rb', 'u1'::text, 3);

-- the item attributes a call site keeps across executions (a PL/pgSQL
-- statement's cached plan): built for 7 items, then the model has 50,000
CREATE TABLE sc_excl (i int);
INSERT INTO sc_excl VALUES (1), (100001);
SELECT version FROM recsys.train('sc_attr', 'sc_small', 'u', 'i', 'r', 'ials', '{"factors": 3, "iterations": 2}');
CREATE FUNCTION pg_temp.served_with_exclusions(model text) RETURNS TABLE (n bigint, excluded bigint)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY SELECT count(*), count(*) FILTER (WHERE r.item IN (SELECT i FROM sc_excl))
	FROM recsys.recommend(model, 1, 5, exclude_query => 'SELECT i FROM sc_excl') r;
END $$;
SELECT * FROM pg_temp.served_with_exclusions('sc_attr');
SELECT recsys.drop_model('sc_attr');
SELECT version FROM recsys.train('sc_attr', 'sc_big', 'u', 'i', 'r', 'ials', '{"factors": 3, "iterations": 2}');
SELECT * FROM pg_temp.served_with_exclusions('sc_attr');

-- the identities: unique, never reused
SELECT count(*) = count(DISTINCT version_id) AS unique_ids FROM recsys.model_versions;
SELECT max(version_id) < pg_catalog.nextval('recsys.model_version_ids') AS sequence_ahead
FROM recsys.model_versions;

-- the active version always exists: not even a superuser's UPDATE points a
-- model at a version that is not there, and pruning keeps it
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.try($$UPDATE recsys.models SET active_version = 99 WHERE name = 'sc_rb'$$) AS pruned_version;
SELECT pg_temp.try($$DELETE FROM recsys.model_versions WHERE model = 'sc_rb' AND version = 2$$) AS delete_active;

SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'sc\_%' ORDER BY name;
