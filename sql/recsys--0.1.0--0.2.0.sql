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
		RAISE NOTICE 'model "%" was owned by role "%", which no longer exists; it now belongs to the owner of recsys.models', r.name, r.owner;
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

-- schedule_retrain: only for a model with a stored source (not one made by
-- recsys.fit()), only by its owner (or a superuser), and one pg_cron job per
-- model.  pg_cron keeps job names as name (63 bytes) and replaces the
-- caller's job of the same name, so the default name is
-- recsys-retrain-<model> while that fits, else a prefix of it and a hash of
-- the whole model name; a job name that already names another of the
-- caller's jobs is refused.  The job runs as the caller, like every
-- pg_cron job.
CREATE OR REPLACE FUNCTION recsys.schedule_retrain(model text, schedule text, job_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $$
DECLARE
	m_owner pg_catalog.regrole;
	m_source text;
	jname text;
	cmd text;
	other text;
	job bigint;
BEGIN
	IF model IS NULL OR schedule IS NULL THEN
		RAISE EXCEPTION 'model and schedule must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT m.owner, m.source INTO m_owner, m_source
	FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Train it once with recsys.train() before scheduling retrains.';
	END IF;
	IF NOT pg_catalog.pg_has_role(m_owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of model "%"', model
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Only the model''s owner (or a superuser) schedules its retraining.';
	END IF;
	IF m_source IS NULL THEN
		RAISE EXCEPTION 'model "%" has no stored source to retrain from', model
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'It was made by the aggregate recsys.fit(), which keeps no source.',
				  HINT = 'Schedule the query that calls recsys.fit() with cron.schedule(), or train the model with recsys.train().';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name, and CREATE EXTENSION pg_cron.';
	END IF;

	IF job_name IS NOT NULL THEN
		IF pg_catalog.octet_length(job_name) OPERATOR(pg_catalog.>) 63 THEN
			RAISE EXCEPTION 'job_name "%" is longer than 63 bytes', job_name
				USING ERRCODE = 'name_too_long',
					  HINT = 'pg_cron keeps job names as name, which would cut it; choose a shorter one, or omit it.';
		END IF;
		jname := job_name;
	ELSE
		jname := 'recsys-retrain-' OPERATOR(pg_catalog.||) model;
		IF pg_catalog.octet_length(jname) OPERATOR(pg_catalog.>) 63 THEN
			-- 46 bytes of the name (whole characters), '-', 16 hex digits of its hash
			jname := pg_catalog.left(jname, 46);
			WHILE pg_catalog.octet_length(jname) OPERATOR(pg_catalog.>) 46 LOOP
				jname := pg_catalog.left(jname, -1);
			END LOOP;
			jname := jname OPERATOR(pg_catalog.||) '-' OPERATOR(pg_catalog.||)
				pg_catalog.left(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(model, 'UTF8')), 'hex'), 16);
		END IF;
	END IF;
	cmd := pg_catalog.format('SELECT recsys.retrain(%L)', model);

	-- pg_cron may not exist when recsys is installed, so it is called dynamically;
	-- cron.job shows the caller's own jobs, the ones cron.schedule() would replace
	EXECUTE 'SELECT j.command FROM cron.job j WHERE j.jobname OPERATOR(pg_catalog.=) $1::pg_catalog.name'
		  ' AND j.username OPERATOR(pg_catalog.=) CURRENT_USER'
		INTO other USING jname;
	IF other IS NOT NULL AND other OPERATOR(pg_catalog.<>) cmd THEN
		RAISE EXCEPTION 'pg_cron job "%" already exists and runs something else', jname
			USING ERRCODE = 'duplicate_object',
				  DETAIL = pg_catalog.format('It runs: %s', other),
				  HINT = 'Choose another job_name, or unschedule that job first with cron.unschedule().';
	END IF;
	EXECUTE 'SELECT cron.schedule($1, $2, $3)'
		INTO job
		USING jname, schedule, cmd;
	RETURN job;
END
$$;
COMMENT ON FUNCTION recsys.schedule_retrain(text, text, text) IS
	'schedules SELECT recsys.retrain(model) with pg_cron as the caller (the model''s owner or a superuser; not for models made by recsys.fit()); job name recsys-retrain-<model>, or a prefix and a hash when that exceeds 63 bytes, unless given; returns the job id';

------------------------------------------------------------------------------
-- 5. Model privileges and row-level security
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 6. Managed per-model indexes
------------------------------------------------------------------------------
