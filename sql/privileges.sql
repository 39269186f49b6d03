--
-- Privileges: an analyst (read-only), granted the use of the owner's
-- models, reads their catalog rows and serves them
-- but cannot train, retrain, drop or write the catalog; a trainer trains on
-- the tables it may read and cannot read any other through the training
-- functions or through serving (fold-in of a new user, exclusion and
-- attribute queries); no function runs with its owner's rights unless it
-- must, and those pin search_path.
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

-- Data: public interactions everyone may read, and a secret table only its
-- owner (the superuser running this test) may read.
SELECT relation, rows FROM recsys.generate_dataset('pv', users => 60, items => 40,
	interactions => 900, seed => 11);
CREATE TABLE pv_secret AS SELECT * FROM pv_interactions;
CREATE VIEW pv_secret_view AS SELECT * FROM pv_secret;

CREATE ROLE pv_analyst;
CREATE ROLE pv_trainer;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO pv_analyst, pv_trainer;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.fit(text, "any", "any", "any", jsonb),
	recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb)
	TO pv_trainer;
GRANT SELECT ON pv_interactions, pv_items TO pv_analyst, pv_trainer;
GRANT SELECT ON pv_users TO pv_analyst;

-- the owner's model over the secret table (ials folds new users in)
SELECT model, users FROM recsys.train('pv_secret_model', 'pv_secret', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 4, "iterations": 5}');
SELECT model, users FROM recsys.train('pv_public_model', 'pv_interactions', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 4, "iterations": 5}');
-- and an explicit one (audit_error needs predicted ratings)
SELECT model, users FROM recsys.train('pv_public_als', 'pv_interactions', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 5}');
-- which the owner lets the analyst use, and the trainer the public one
-- (security_models tests roles that were granted nothing)
SELECT count(recsys.grant_model(m, 'pv_analyst')) AS granted
FROM unnest(ARRAY['pv_secret_model', 'pv_public_model', 'pv_public_als']) m;
SELECT recsys.grant_model('pv_public_model', 'pv_trainer');
-- a user who arrived in the secret table after training: serving them
-- means folding them in from the model's source
INSERT INTO pv_secret (user_id, item_id, rating, clicks, ts)
SELECT 500, item_id, 5, 3, now() FROM generate_series(30, 40) item_id;
-- what the owner gets for them (folded in)
CREATE TEMP TABLE pv_owner_view AS
SELECT item, rank FROM recsys.recommend('pv_secret_model', 500, 5);
GRANT SELECT ON pv_owner_view TO pv_analyst, pv_trainer;

-- The analyst ------------------------------------------------------------
SET ROLE pv_analyst;
SELECT count(*) AS models_visible FROM recsys.models WHERE name LIKE 'pv\_%';
SELECT count(*) > 0 AS versions_visible FROM recsys.model_versions WHERE model = 'pv_public_model';
SELECT count(*) AS item_rows FROM recsys.item_factors f JOIN recsys.models m
	ON m.name = f.model AND m.active_version = f.version WHERE f.model = 'pv_public_model';
SELECT count(*) AS recommended FROM recsys.recommend('pv_public_model', 1, 5);
SELECT count(*) AS all_users FROM recsys.recommend_all('pv_public_model', 2);
SELECT count(*) AS similar FROM recsys.similar_items('pv_public_model', 1, 5);
SELECT recsys.predict('pv_public_model', 1, 2) IS NOT NULL AS predicts;
-- and evaluates and audits a model on tables it may read
SELECT count(*) AS evaluate FROM recsys.evaluate('pv_public_model', 'pv_interactions', 5,
	user_groups => 'SELECT user_id, gender FROM pv_users');
SELECT count(*) AS evaluate_users FROM recsys.evaluate_users('pv_public_model', 'pv_interactions', 5);
SELECT count(*) AS predictions FROM recsys.predictions('pv_public_model', 'pv_interactions');
SELECT count(*) AS audit_exposure FROM recsys.audit_exposure('pv_public_model', 'SELECT item_id, long_tail FROM pv_items', 5);
SELECT count(*) AS audit_error FROM recsys.audit_error('pv_public_als', 'pv_interactions', 'SELECT user_id, gender FROM pv_users');
SELECT count(*) AS audit_ranking FROM recsys.audit_ranking('pv_public_model', 'pv_interactions', 'SELECT user_id, gender FROM pv_users', 5);
SELECT part, rows FROM recsys.split('pv_interactions', 'user_id', 'item_id', seed => 3,
	train_table => 'pv_a_train', test_table => 'pv_a_test', "temporary" => true);
-- but reads no table it may not through their test, groups, users, item
-- groups or lists
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('pv_public_model', 'pv_secret', 5)$$) AS evaluate_test;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('pv_public_model', 'SELECT * FROM pv_secret_view', 5)$$) AS evaluate_view;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('pv_public_model', 'pv_interactions', 5, user_groups => 'SELECT user_id, rating::text FROM pv_secret')$$) AS evaluate_groups;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('pv_public_model', 'pv_interactions', 5, lists => 'SELECT user_id, item_id, 1 FROM pv_secret')$$) AS evaluate_lists;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate_users('pv_public_model', 'pv_secret', 5)$$) AS evaluate_users_test;
SELECT pg_temp.try($$SELECT * FROM recsys.predictions('pv_public_model', 'pv_secret')$$) AS predictions_test;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('pv_public_model', 'SELECT item_id, rating::text FROM pv_secret', 5)$$) AS exposure_groups;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('pv_public_model', 'pv_items', 5, users => 'SELECT user_id FROM pv_secret')$$) AS exposure_users;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('pv_public_model', 'pv_items', 5, lists => 'SELECT user_id, item_id, 1 FROM pv_secret')$$) AS exposure_lists;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_error('pv_public_als', 'pv_secret', 'SELECT user_id, gender FROM pv_users')$$) AS error_test;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_error('pv_public_als', 'pv_interactions', 'SELECT user_id, rating::text FROM pv_secret')$$) AS error_groups;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_ranking('pv_public_model', 'pv_secret', 'SELECT user_id, gender FROM pv_users')$$) AS ranking_test;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_ranking('pv_public_model', 'pv_interactions', 'SELECT user_id, rating::text FROM pv_secret')$$) AS ranking_groups;
SELECT pg_temp.try($$SELECT * FROM recsys.split('pv_secret', 'user_id', 'item_id', "temporary" => true)$$) AS split_source;
-- but nothing that writes
SELECT pg_temp.try($$SELECT recsys.train('pv_a', 'pv_interactions', 'user_id', 'item_id')$$) AS train;
SELECT pg_temp.try($$SELECT recsys.fit('pv_a', user_id, item_id, clicks, '{"algorithm": "popularity"}') FROM pv_interactions$$) AS fit;
SELECT pg_temp.try($$SELECT recsys.retrain('pv_public_model')$$) AS retrain;
SELECT pg_temp.try($$SELECT recsys.drop_model('pv_public_model')$$) AS drop_model;
SELECT pg_temp.try($$SELECT recsys.schedule_retrain('pv_public_model', '0 3 * * *')$$) AS schedule;
SELECT pg_temp.try($$DELETE FROM recsys.models WHERE name = 'pv_public_model'$$) AS delete_catalog;
SELECT pg_temp.try($$UPDATE recsys.models SET active_version = 1$$) AS update_catalog;
SELECT pg_temp.try($$INSERT INTO recsys.item_factors SELECT * FROM recsys.item_factors LIMIT 1$$) AS insert_catalog;
SELECT pg_temp.try($$TRUNCATE recsys.user_factors$$) AS truncate_catalog;
-- serving a new user folds them in from the model's stored source, which
-- runs as the model's owner whoever calls (so the owner's list); the
-- caller's own queries over the secret table are refused
SELECT count(*) AS rows,
	   array_agg(r.item ORDER BY r.rank) = (SELECT array_agg(item ORDER BY rank) FROM pv_owner_view) AS owners_list
FROM recsys.recommend('pv_secret_model', 500, 5) r;
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('pv_public_model', 1, 5, exclude_query => 'SELECT item_id FROM pv_secret')$$) AS exclude_query;
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('pv_public_model', 1, 5, item_groups => 'SELECT item_id, rating::text FROM pv_secret', max_per_group => 1)$$) AS item_groups;
SELECT pg_temp.try($$SELECT * FROM recsys.recommend_all('pv_public_model', 5, item_times => 'SELECT item_id, ts FROM pv_secret', half_life => '1 day')$$) AS item_times;
RESET ROLE;

-- The trainer ------------------------------------------------------------
SET ROLE pv_trainer;
SELECT model, users, items FROM recsys.train('pv_t', 'pv_interactions', 'user_id', 'item_id', NULL, 'popularity');
SELECT (f).model, (f).users FROM (SELECT recsys.fit('pv_t_fit', user_id, item_id, clicks, '{"algorithm": "popularity"}') AS f FROM pv_interactions) s;
-- tables it may not read stay unreadable through every way into training
SELECT pg_temp.try($$SELECT recsys.train('pv_t2', 'pv_secret', 'user_id', 'item_id')$$) AS table_name;
SELECT pg_temp.try($$SELECT recsys.train('pv_t2', 'public.pv_secret', 'user_id', 'item_id')$$) AS qualified_name;
SELECT pg_temp.try($$SELECT recsys.train('pv_t2', 'pv_secret_view', 'user_id', 'item_id')$$) AS view_name;
SELECT pg_temp.try($$SELECT recsys.train('pv_t2', 'SELECT user_id, item_id FROM pv_secret', 'user_id', 'item_id')$$) AS query;
SELECT pg_temp.try($$SELECT recsys.train('pv_t2', 'SELECT user_id, item_id FROM pv_interactions WHERE item_id IN (SELECT item_id FROM pv_secret)', 'user_id', 'item_id')$$) AS subquery;
SELECT pg_temp.try($$SELECT recsys.fit('pv_t2', user_id, item_id, clicks, '{"algorithm": "popularity"}') FROM pv_secret$$) AS fit;
SELECT pg_temp.try($$SELECT recsys.train('pv_t2', 'pv_interactions', 'user_id', 'item_id', NULL, 'item_knn', '{"attributes": "SELECT item_id, ARRAY[rating, clicks]::real[] FROM pv_secret"}')$$) AS attributes;
-- someone else's model: served, but neither retrained, overwritten nor dropped
SELECT count(*) AS served FROM recsys.recommend('pv_public_model', 1, 5);
SELECT pg_temp.try($$SELECT recsys.retrain('pv_secret_model')$$) AS retrain_others;
SELECT pg_temp.try($$SELECT recsys.train('pv_secret_model', 'pv_interactions', 'user_id', 'item_id')$$) AS overwrite_others;
SELECT pg_temp.try($$SELECT recsys.drop_model('pv_secret_model')$$) AS drop_others;
-- its own model, after it lost access to the source: retrain is refused
RESET ROLE;
GRANT SELECT ON pv_items TO pv_trainer;
SET ROLE pv_trainer;
SELECT model FROM recsys.train('pv_t3', 'SELECT user_id, item_id FROM pv_interactions JOIN pv_items USING (item_id)', 'user_id', 'item_id', NULL, 'popularity');
RESET ROLE;
REVOKE SELECT ON pv_items FROM pv_trainer, pv_analyst;
SET ROLE pv_trainer;
SELECT pg_temp.try($$SELECT recsys.retrain('pv_t3')$$) AS retrain_without_access;
SELECT recsys.drop_model('pv_t') AND recsys.drop_model('pv_t_fit') AND recsys.drop_model('pv_t3') AS drops_own;
RESET ROLE;

-- Nothing changed: the owner's models are intact, none of the refused
-- models exists.
SELECT name, owner = current_user::regrole AS mine, active_version FROM recsys.models
WHERE name LIKE 'pv\_%' ORDER BY name;

-- No function runs with its owner's rights (SECURITY DEFINER); if one ever
-- must, it has to pin search_path.  Functions with settings of their own
-- are listed: the evaluation functions that run the caller's queries do so
-- with transaction_read_only on.
SELECT count(*) AS security_definer FROM pg_proc
WHERE pronamespace = 'recsys'::regnamespace AND prosecdef;
SELECT count(*) AS definer_without_search_path FROM pg_proc
WHERE pronamespace = 'recsys'::regnamespace AND prosecdef
  AND NOT coalesce(proconfig::text[] && ARRAY(SELECT c FROM unnest(proconfig) c WHERE c LIKE 'search\_path=%'), false);
SELECT proname, proconfig FROM pg_proc
WHERE pronamespace = 'recsys'::regnamespace AND proconfig IS NOT NULL ORDER BY proname;
-- writing functions are not executable by PUBLIC
SELECT p.oid::regprocedure AS function
FROM pg_proc p
WHERE p.pronamespace = 'recsys'::regnamespace
  AND p.proname IN ('train', 'retrain', 'drop_model', 'fit', 'fit_finalfn', 'schedule_retrain',
                    'activate', 'pin_version', 'unpin_version')
  AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1::text;
-- and nobody but the extension's owner may write the catalog
SELECT c.relname, r.rolname
FROM pg_class c CROSS JOIN pg_roles r
WHERE c.relnamespace = 'recsys'::regnamespace AND c.relkind = 'r'
  AND r.rolname IN ('pv_analyst', 'pv_trainer')
  AND (has_table_privilege(r.oid, c.oid, 'INSERT') OR has_table_privilege(r.oid, c.oid, 'UPDATE')
	   OR has_table_privilege(r.oid, c.oid, 'DELETE') OR has_table_privilege(r.oid, c.oid, 'TRUNCATE'));

-- clean up
SELECT recsys.drop_model('pv_secret_model') AND recsys.drop_model('pv_public_model') AND recsys.drop_model('pv_public_als') AS dropped;
DROP VIEW pv_secret_view;
DROP TABLE pv_secret, pv_users, pv_items, pv_interactions, pv_owner_view, pg_temp.pv_a_train, pg_temp.pv_a_test;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM pv_analyst, pv_trainer;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.fit(text, "any", "any", "any", jsonb),
	recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb)
	FROM pv_trainer;
DROP ROLE pv_analyst;
DROP ROLE pv_trainer;
