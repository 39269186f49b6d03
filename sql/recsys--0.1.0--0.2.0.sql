-- recsys 0.1.0 -> 0.2.0: safe to install in a shared database.
--
-- A fresh CREATE EXTENSION runs recsys--0.1.0.sql and then this script, so
-- everything 0.2.0 changes is here, grouped by area:
--   1. the catalog: version identity, owners by role OID
--   2. stored queries: run as the model's owner
--   3. search_path: every function pinned, dynamic SQL qualified
--   4. limits and checks
--   5. model privileges and row-level security
--   6. managed per-model indexes

\echo Use "ALTER EXTENSION recsys UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 1. The catalog: version identity, owners by role OID
------------------------------------------------------------------------------

-- Every stored version gets an identity that is never used again (a
-- version number can come back: drop_model then train starts at 1 again,
-- and a training rolled back and redone reuses its number).  Caches of
-- served models are keyed by it.
CREATE SEQUENCE recsys.model_version_ids;
ALTER TABLE recsys.model_versions ADD COLUMN version_id bigint;
UPDATE recsys.model_versions v SET version_id = s.id
FROM (SELECT model, version, pg_catalog.nextval('recsys.model_version_ids') AS id
	  FROM (SELECT model, version FROM recsys.model_versions ORDER BY model, version) o) s
WHERE s.model = v.model AND s.version = v.version;
ALTER TABLE recsys.model_versions
	ALTER COLUMN version_id SET DEFAULT pg_catalog.nextval('recsys.model_version_ids'),
	ALTER COLUMN version_id SET NOT NULL,
	ADD CONSTRAINT model_versions_version_id_key UNIQUE (version_id);
ALTER SEQUENCE recsys.model_version_ids OWNED BY recsys.model_versions.version_id;
COMMENT ON COLUMN recsys.model_versions.version_id IS
	'identity of the stored version, never reused (not even after drop_model or a rolled-back training)';
SELECT pg_catalog.pg_extension_config_dump('recsys.model_version_ids', '');

-- The active version always exists: pruning cannot remove it, and an
-- UPDATE cannot point a model at a version that is not there.
ALTER TABLE recsys.models
	ADD CONSTRAINT models_active_version_fkey FOREIGN KEY (name, active_version)
	REFERENCES recsys.model_versions (model, version);

-- Models are owned by a role OID, not a name: renaming the owner keeps the
-- model theirs, and a new role that takes an old name gets nothing.  A
-- model whose owner role no longer exists keeps the OID (shown as a
-- number); only a superuser may act on it, or give it to another role
-- with recsys.alter_model_owner().  Owners that no longer exist when
-- upgrading from 0.1.0 are kept as the catalog's owner.
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT m.name, m.owner FROM recsys.models m
			 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = m.owner)
	LOOP
		-- a WARNING: PostgreSQL runs extension scripts with
		-- client_min_messages and log_min_messages at least WARNING, so a
		-- NOTICE would reach neither the client nor the log
		RAISE WARNING 'model "%" was owned by role "%", which no longer exists; it now belongs to the owner of recsys.models', r.name, r.owner;
	END LOOP;
END
$$;
ALTER TABLE recsys.models ADD COLUMN owner_oid pg_catalog.regrole;
UPDATE recsys.models m SET owner_oid =
	coalesce((SELECT a.oid FROM pg_catalog.pg_roles a WHERE a.rolname = m.owner),
			 (SELECT c.relowner FROM pg_catalog.pg_class c
			  WHERE c.oid = 'recsys.models'::pg_catalog.regclass))::pg_catalog.regrole;
ALTER TABLE recsys.models DROP COLUMN owner;
ALTER TABLE recsys.models RENAME COLUMN owner_oid TO owner;
ALTER TABLE recsys.models ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN recsys.models.owner IS
	'the role that owns the model (by OID; shown by its current name)';

------------------------------------------------------------------------------
-- 2. Stored queries
------------------------------------------------------------------------------

-- A model's stored source and attributes run, on retrain and on fold-in,
-- as the model's owner under SECURITY_RESTRICTED_OPERATION, with this
-- search_path: the schemas of the trainer's search_path when the model was
-- trained (pg_catalog first and pg_temp last), fixed at that moment.
ALTER TABLE recsys.models ADD COLUMN search_path text;
COMMENT ON COLUMN recsys.models.search_path IS
	'the search_path the stored source and attributes run with (the trainer''s, fixed when trained)';

------------------------------------------------------------------------------
-- 3. search_path
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 4. Limits and checks
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 5. Model privileges and row-level security
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 6. Managed per-model indexes
------------------------------------------------------------------------------
