--
-- Model privileges: a role uses a model (serves, predicts, evaluates,
-- audits it, reads its catalog rows) only if it owns it (or has the
-- owning role's privileges), is a superuser, or was granted it with
-- recsys.grant_model().  Anyone else gets 42501 from every function and
-- sees none of the model's rows, and learns nothing of it but that the
-- name exists (an unknown name stays 42704).
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

-- SQLSTATE, message, detail and hint of a statement's error, or 'ok n'
-- (n rows, every column computed)
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	d text;
	h text;
BEGIN
	IF q ~* '^\s*select' THEN
		EXECUTE 'SELECT count(*) FROM (' || q || ') s WHERE s::text IS NOT NULL' INTO n;
	ELSE
		EXECUTE q;
		GET DIAGNOSTICS n = ROW_COUNT;
	END IF;
	RETURN 'ok ' || n;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' DETAIL: ' || d, ' DETAIL: '), '')
		|| coalesce(nullif(' HINT: ' || h, ' HINT: '), '');
END $$;

-- The victim's data: interactions only the victim may read.  The
-- attacker has a table of its own.
SELECT relation, rows FROM recsys.generate_dataset('sm', users => 40, items => 30,
	interactions => 500, seed => 5);
CREATE ROLE sm_victim;
CREATE ROLE sm_attacker;
CREATE ROLE sm_team;
CREATE ROLE sm_heir;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean)
	TO sm_victim, sm_attacker;
CREATE TABLE sm_victim_data AS SELECT * FROM sm_interactions;
ALTER TABLE sm_victim_data OWNER TO sm_victim;
CREATE TABLE sm_attacker_data AS SELECT * FROM sm_interactions WHERE user_id <= 20;
ALTER TABLE sm_attacker_data OWNER TO sm_attacker;
-- both may read the items and users (item groups, user groups)
GRANT SELECT ON sm_items, sm_users TO sm_victim, sm_attacker;
-- and the attacker holds what 0.1.0 told to grant a reader of models:
-- SELECT on every catalog table (row-level security still filters)
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO sm_attacker;

SET ROLE sm_victim;
SELECT model, users, items FROM recsys.train('sm_als', 'sm_victim_data', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 3}');
SELECT model, users, items FROM recsys.train('sm_iknn', 'sm_victim_data', 'user_id', 'item_id', NULL, 'item_knn');
SELECT model, users, items FROM recsys.train('sm_uknn', 'sm_victim_data', 'user_id', 'item_id', NULL, 'user_knn');
SELECT has_model_privilege('sm_als') AS victim_uses_own;
RESET ROLE;
SET ROLE sm_attacker;
SELECT model, users, items FROM recsys.train('sm_mine', 'sm_attacker_data', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 3}');
RESET ROLE;

-- Every way a model is used, as a statement on model $m.
CREATE TEMP TABLE sm_uses (fn text, q text);
INSERT INTO sm_uses VALUES
	('recommend', $$SELECT * FROM recsys.recommend('$m', 1, 5)$$),
	('recommend exclude_seen false', $$SELECT * FROM recsys.recommend('$m', 1, 50, exclude_seen => false)$$),
	('recommend exclude_seen true', $$SELECT * FROM recsys.recommend('$m', 1, 50, exclude_seen => true)$$),
	('recommend_for_items', $$SELECT * FROM recsys.recommend_for_items('$m', ARRAY[1, 2, 3], 5)$$),
	('recommend_all', $$SELECT * FROM recsys.recommend_all('$m', 2)$$),
	('similar_items', $$SELECT * FROM recsys.similar_items('$m', 1, 5)$$),
	('similar_users', $$SELECT * FROM recsys.similar_users('$m', 1, 5)$$),
	('predict', $$SELECT recsys.predict('$m', 1, 2)$$),
	('predictions', $$SELECT * FROM recsys.predictions('$m', 'SELECT 1 AS user_id, 2 AS item_id, 5.0 AS rating', 'user_id', 'item_id', 'rating')$$),
	('evaluate', $$SELECT * FROM recsys.evaluate('$m', 'SELECT 1 AS user_id, 2 AS item_id, 5.0 AS rating', 5, 'user_id', 'item_id', 'rating')$$),
	('evaluate_users', $$SELECT * FROM recsys.evaluate_users('$m', 'SELECT 1 AS user_id, 2 AS item_id', 5, 'user_id', 'item_id')$$),
	('audit_exposure', $$SELECT * FROM recsys.audit_exposure('$m', 'SELECT item_id, long_tail::text FROM sm_items', 5)$$),
	('audit_error', $$SELECT * FROM recsys.audit_error('$m', 'SELECT 1 AS user_id, 2 AS item_id, 5.0 AS rating', 'SELECT user_id, gender FROM sm_users', user_col => 'user_id', item_col => 'item_id', rating_col => 'rating')$$),
	('audit_ranking', $$SELECT * FROM recsys.audit_ranking('$m', 'SELECT 1 AS user_id, 2 AS item_id', 'SELECT user_id, gender FROM sm_users', 5, user_col => 'user_id', item_col => 'item_id')$$);
GRANT SELECT ON sm_uses TO PUBLIC;

-- What a role sees of each model in every catalog table and view (read
-- with the reader's rights: a view's owner, here a superuser, would
-- bypass row-level security).
CREATE TEMP VIEW sm_rows WITH (security_invoker = true) AS
SELECT 'models' AS tbl, name AS model, count(*) AS n, count(source) AS sources FROM recsys.models GROUP BY name
UNION ALL SELECT 'model_versions', model, count(*), 0 FROM recsys.model_versions GROUP BY model
UNION ALL SELECT 'user_factors', model, count(*), count(seen) FROM recsys.user_factors GROUP BY model
UNION ALL SELECT 'item_factors', model, count(*), 0 FROM recsys.item_factors GROUP BY model
UNION ALL SELECT 'item_neighbors', model, count(*), 0 FROM recsys.item_neighbors GROUP BY model
UNION ALL SELECT 'user_neighbors', model, count(*), 0 FROM recsys.user_neighbors GROUP BY model
UNION ALL SELECT 'neighbors', model, count(*), 0 FROM recsys.neighbors GROUP BY model
UNION ALL SELECT 'model_grants', model, count(*), 0 FROM recsys.model_grants GROUP BY model;
GRANT SELECT ON sm_rows TO PUBLIC;

-- The superuser sees every model's rows.
SELECT tbl, string_agg(model || ':' || n, ' ' ORDER BY model) AS rows
FROM sm_rows WHERE model LIKE 'sm\_%' GROUP BY tbl ORDER BY tbl;

-- The attacker, granted nothing ------------------------------------------
SET ROLE sm_attacker;
-- every use of the victim's models is refused with 42501, and the message
-- names nothing but the model
SELECT u.fn, m.m, pg_temp.try(replace(u.q, '$m', m.m)) AS result
FROM sm_uses u, (VALUES ('sm_als'), ('sm_iknn'), ('sm_uknn')) m(m)
ORDER BY m.m, u.fn;
-- its own model serves
SELECT u.fn, pg_temp.try(replace(u.q, '$m', 'sm_mine')) AS result
FROM sm_uses u WHERE u.fn IN ('recommend', 'predict', 'predictions', 'similar_items')
ORDER BY u.fn;
-- a name that does not exist is still 42704
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('sm_nothing', 1, 5)$$) AS unknown_model;
SELECT pg_temp.try($$SELECT * FROM recsys.evaluate('sm_nothing', 'SELECT 1 AS u, 2 AS i', 5, 'u', 'i')$$) AS unknown_evaluate;
SELECT pg_temp.try($$SELECT * FROM recsys.audit_exposure('sm_nothing', 'SELECT item_id, long_tail::text FROM sm_items', 5)$$) AS unknown_audit;
-- no row of the victim's models in any catalog table or view (seen lists,
-- sources, neighbours, grants): only its own model's
SELECT tbl, string_agg(model || ':' || n, ' ' ORDER BY model) AS rows,
	   sum(sources) AS sources_or_seen
FROM sm_rows GROUP BY tbl ORDER BY tbl;
SELECT count(*) AS victim_sources FROM recsys.models WHERE source LIKE '%sm_victim_data%';
SELECT array(SELECT m FROM unnest(recsys.usable_models()) m ORDER BY m COLLATE "C") AS usable;
SELECT has_model_privilege('sm_als') AS attacker_uses_als, has_model_privilege('sm_mine') AS attacker_uses_own;
SELECT pg_temp.try($$SELECT has_model_privilege('sm_nothing')$$) AS unknown_privilege;
-- cannot grant itself, nor change the model: the errors do not name the
-- owner
SELECT pg_temp.try($$SELECT recsys.grant_model('sm_als', 'sm_attacker')$$) AS grant_self;
SELECT pg_temp.try($$SELECT recsys.grant_model('sm_als', 0)$$) AS grant_public;
SELECT pg_temp.try($$SELECT recsys.revoke_model('sm_als', 'sm_victim')$$) AS revoke_owner;
SELECT pg_temp.try($$SELECT recsys.alter_model_owner('sm_als', 'sm_attacker')$$) AS take_ownership;
SELECT pg_temp.try($$SELECT recsys.alter_model_owner('sm_als', 'sm_victim')$$) AS probe_owner;
SELECT pg_temp.try($$SELECT recsys.drop_model('sm_als')$$) AS drop_model;
SELECT pg_temp.try($$SELECT recsys.retrain('sm_als')$$) AS retrain;
SELECT pg_temp.try($$SELECT recsys.train('sm_als', 'sm_attacker_data', 'user_id', 'item_id')$$) AS overwrite;
-- nor write the catalog directly
SELECT pg_temp.try($$INSERT INTO recsys.model_grants VALUES ('sm_als', 'sm_attacker', 'sm_attacker', now())$$) AS insert_grant;
SELECT pg_temp.try($$UPDATE recsys.models SET owner = 'sm_attacker' WHERE name = 'sm_als'$$) AS update_owner;
RESET ROLE;

-- Granted the als model ----------------------------------------------------
SET ROLE sm_victim;
SELECT recsys.grant_model('sm_als', 'sm_attacker');
SELECT recsys.grant_model('sm_als', 'sm_attacker');  -- twice is no error
SELECT pg_temp.try($$SELECT recsys.grant_model('sm_als', 12345)$$) AS grant_no_role;
SELECT pg_temp.try($$SELECT recsys.grant_model('sm_nothing', 'sm_attacker')$$) AS grant_unknown;
RESET ROLE;
SELECT model, grantee, granted_by FROM recsys.model_grants WHERE model LIKE 'sm\_%' ORDER BY 1, 2;
SET ROLE sm_attacker;
SELECT u.fn, pg_temp.try(replace(u.q, '$m', 'sm_als')) AS result FROM sm_uses u ORDER BY u.fn;
-- the same list the owner gets
SELECT array_agg(item ORDER BY rank) AS attacker_list FROM recsys.recommend('sm_als', 1, 5);
-- the als model's rows, still none of the others'
SELECT tbl, string_agg(model || ':' || n, ' ' ORDER BY model) AS rows
FROM sm_rows GROUP BY tbl ORDER BY tbl;
SELECT has_model_privilege('sm_als') AS attacker_uses_als;
-- using is not owning: it cannot pass the model on, nor drop it
SELECT pg_temp.try($$SELECT recsys.grant_model('sm_als', 'sm_team')$$) AS grant_on;
SELECT pg_temp.try($$SELECT recsys.drop_model('sm_als')$$) AS drop_granted;
RESET ROLE;
SET ROLE sm_victim;
SELECT array_agg(item ORDER BY rank) AS owner_list FROM recsys.recommend('sm_als', 1, 5);
SELECT recsys.revoke_model('sm_als', 'sm_attacker');
SELECT recsys.revoke_model('sm_als', 'sm_attacker');  -- twice is no error
RESET ROLE;

-- Revoked: refused again ------------------------------------------------
SET ROLE sm_attacker;
SELECT pg_temp.try($$SELECT * FROM recsys.recommend('sm_als', 1, 5)$$) AS recommend_revoked;
SELECT pg_temp.try($$SELECT recsys.predict('sm_als', 1, 2)$$) AS predict_revoked;
SELECT count(*) AS als_rows FROM recsys.user_factors WHERE model = 'sm_als';
RESET ROLE;

-- Grants to a group role and to PUBLIC ------------------------------------
GRANT sm_team TO sm_attacker;
SET ROLE sm_victim;
SELECT recsys.grant_model('sm_iknn', 'sm_team');
SELECT recsys.grant_model('sm_uknn', 0);
RESET ROLE;
SELECT model, grantee FROM recsys.model_grants WHERE model LIKE 'sm\_%' ORDER BY 1, 2;
SET ROLE sm_attacker;
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('sm_iknn', 1, 5)$$) AS through_group,
	   pg_temp.try($$SELECT * FROM recsys.similar_users('sm_uknn', 1, 5)$$) AS through_public,
	   pg_temp.try($$SELECT * FROM recsys.recommend('sm_als', 1, 5)$$) AS not_granted;
SELECT array(SELECT m FROM unnest(recsys.usable_models()) m ORDER BY m COLLATE "C") AS usable;
RESET ROLE;
REVOKE sm_team FROM sm_attacker;
SET ROLE sm_victim;
SELECT recsys.revoke_model('sm_uknn', 0);
RESET ROLE;
SET ROLE sm_attacker;
SELECT pg_temp.try($$SELECT * FROM recsys.similar_items('sm_iknn', 1, 5)$$) AS left_group,
	   pg_temp.try($$SELECT * FROM recsys.similar_users('sm_uknn', 1, 5)$$) AS public_revoked;
SELECT array(SELECT m FROM unnest(recsys.usable_models()) m ORDER BY m COLLATE "C") AS usable;
RESET ROLE;

-- Changing the owner: ALTER ... OWNER TO's rules -------------------------
SET ROLE sm_victim;
-- not a member of the new owner
SELECT pg_temp.try($$SELECT recsys.alter_model_owner('sm_als', 'sm_heir')$$) AS not_member;
SELECT pg_temp.try($$SELECT recsys.alter_model_owner('sm_als', 0)$$) AS to_public;
RESET ROLE;
GRANT sm_heir TO sm_victim;
SET ROLE sm_victim;
SELECT recsys.alter_model_owner('sm_als', 'sm_heir');
-- still usable by the victim, a member of the new owner
SELECT has_model_privilege('sm_als') AS victim_as_member;
RESET ROLE;
SELECT name, owner FROM recsys.models WHERE name LIKE 'sm\_%' ORDER BY name;
REVOKE sm_heir FROM sm_victim;
SET ROLE sm_victim;
-- no longer the owner's member: neither uses nor gives it back
SELECT has_model_privilege('sm_als') AS victim_after;
SELECT pg_temp.try($$SELECT recsys.alter_model_owner('sm_als', 'sm_victim')$$) AS give_back;
RESET ROLE;
SET ROLE sm_heir;
SELECT count(*) AS heir_serves FROM recsys.recommend('sm_als', 1, 5);
SELECT recsys.grant_model('sm_als', 'sm_victim');
RESET ROLE;
-- a superuser gives any model to anyone
SELECT recsys.alter_model_owner('sm_als', 'sm_victim');
SELECT name, owner FROM recsys.models WHERE name = 'sm_als';
-- grants to other roles survive a change of owner
SELECT model, grantee FROM recsys.model_grants WHERE model LIKE 'sm\_%' ORDER BY 1, 2;

-- Every catalog table has row-level security, SELECT for PUBLIC and no
-- other privilege (but recsys.user_values: no policy and no grant, the
-- catalog owner's only); the view reads them with the reader's rights.
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
	   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
	   has_table_privilege('sm_attacker', c.oid, 'SELECT') AS reads,
	   has_table_privilege('sm_attacker', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS writes
FROM pg_class c
WHERE c.relnamespace = 'recsys'::regnamespace AND c.relkind = 'r'
ORDER BY c.relname;
SELECT reloptions FROM pg_class WHERE oid = 'recsys.neighbors'::regclass;

-- Dropping a model drops its grants.
SELECT recsys.drop_model('sm_als') AND recsys.drop_model('sm_iknn') AND recsys.drop_model('sm_uknn')
	AND recsys.drop_model('sm_mine') AS dropped;
SELECT count(*) AS grants_left FROM recsys.model_grants WHERE model LIKE 'sm\_%';

-- clean up
DROP VIEW sm_rows;
DROP TABLE sm_uses, sm_victim_data, sm_attacker_data, sm_interactions, sm_items, sm_users;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean)
	FROM sm_victim, sm_attacker;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM sm_attacker;
DROP ROLE sm_victim;
DROP ROLE sm_attacker;
DROP ROLE sm_team;
DROP ROLE sm_heir;
