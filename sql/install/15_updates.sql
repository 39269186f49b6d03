-- 15_updates.sql: recsys.update() (src/update.c), which folds the
-- interactions that arrived after a version was trained into a new
-- version without retraining its items, and the scheduling of retrains
-- and updates with pg_cron.
--
-- update() reads the rows of the model's stored source whose time (the
-- model's "time_column") is after the version's data_until, as the
-- model's owner under the same rules as retrain(); it is the owner's,
-- granted explicitly like train().

-- The values of each user's interactions, aligned with
-- user_factors.seen, for the versions of als, svd, svdpp, nmf and ials models trained
-- with a time column (without time decay): what update() re-solves a user
-- from.  They are the model's source data, which using a model does not
-- grant (explain() refuses grantees for the same reason), so this table is
-- the catalog owner's alone: no role is granted it, and update() reads it as
-- that owner.  (Explicit neighbourhood models keep their ratings in
-- user_factors.ratings, as serving needs them.)
CREATE TABLE recsys.user_values (
	model text NOT NULL,
	version integer NOT NULL,
	user_key text NOT NULL,
	"values" real[] NOT NULL,
	PRIMARY KEY (model, version, user_key)
);
COMMENT ON TABLE recsys.user_values IS
	'the values of each user''s interactions (aligned with user_factors.seen) of the versions recsys.update() can extend; the catalog owner''s only';
REVOKE ALL ON recsys.user_values FROM PUBLIC;
-- and should a role be granted SELECT on it (GRANT ... ON ALL TABLES IN
-- SCHEMA recsys), row-level security without a policy still shows it no row
ALTER TABLE recsys.user_values ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('recsys.user_values', '');

CREATE OR REPLACE FUNCTION recsys.update(model text, since timestamptz DEFAULT NULL)
RETURNS recsys.train_result
AS 'MODULE_PATHNAME', 'rs_update' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.update(text, timestamptz) IS
	'folds the interactions newer than the active version''s data_until (or since) into a new version with the item side fixed, and makes it active';
REVOKE ALL ON FUNCTION recsys.update(text, timestamptz) FROM PUBLIC;

-- Scheduling (pg_cron): schedule_retrain() and schedule_update() run
-- SELECT recsys.retrain(model) or SELECT recsys.update(model).  Only for a
-- model with a stored source (not one made by recsys.fit()), and for
-- update() a time column; only by its owner (or a superuser); one pg_cron
-- job per model and action.  pg_cron keeps job names as name (63 bytes)
-- and replaces the caller's job of the same name, so the default name is
-- recsys-retrain-<model> (recsys-update-<model>) while that fits, else a
-- prefix of it and a hash of the whole model name; a job name that already
-- names another of the caller's jobs is refused.  The job runs as the
-- caller, like every pg_cron job, so the caller must be allowed to run
-- retrain() or update() (EXECUTE, granted like train()).  schedule_model_job()
-- is what both call, with the same checks; it schedules nothing the caller
-- could not schedule with cron.schedule() (whose own rights it needs), so it
-- is left to PUBLIC.
CREATE OR REPLACE FUNCTION recsys.schedule_model_job(model text, schedule text, job_name text, action text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $$
DECLARE
	m_owner pg_catalog.regrole;
	m_source text;
	m_has_time boolean;
	m_decay boolean;
	m_algorithm text;
	jname text;
	cmd text;
	other text;
	job bigint;
BEGIN
	IF action IS NULL OR action NOT IN ('retrain', 'update') THEN
		RAISE EXCEPTION 'action must be retrain or update, not %', COALESCE(action, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF model IS NULL OR schedule IS NULL THEN
		RAISE EXCEPTION 'model and schedule must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- unknown: 42704; another role's model it may not use: 42501 (and the
	-- row, hidden by row-level security, is not read)
	PERFORM recsys.check_model_usage(model);
	SELECT m.owner, m.source, m.options OPERATOR(pg_catalog.?) 'time_column',
		   m.options OPERATOR(pg_catalog.?) 'half_life'
		   OR COALESCE((m.options OPERATOR(pg_catalog.->>) 'half_life_days')::pg_catalog.float8, 0)
			  OPERATOR(pg_catalog.>) 0,
		   m.algorithm
	INTO m_owner, m_source, m_has_time, m_decay, m_algorithm
	FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Train it once with recsys.train() before scheduling retrains.';
	END IF;
	IF NOT pg_catalog.pg_has_role(m_owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of model "%"', model
			USING ERRCODE = 'insufficient_privilege',
				  HINT = pg_catalog.format('Only the model''s owner (or a superuser) schedules its %s.',
											CASE action WHEN 'update' THEN 'updates' ELSE 'retraining' END);
	END IF;
	IF m_source IS NULL THEN
		RAISE EXCEPTION 'model "%" has no stored source to retrain from', model
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'It was made by the aggregate recsys.fit(), which keeps no source.',
				  HINT = 'Schedule the query that calls recsys.fit() with cron.schedule(), or train the model with recsys.train().';
	END IF;
	-- what recsys.update() refuses of every version of the model
	IF action OPERATOR(pg_catalog.=) 'update' AND NOT m_has_time THEN
		RAISE EXCEPTION 'model "%" has no time column to find new interactions by', model
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Train it with option "time_column" naming the source''s column of interaction times.';
	END IF;
	IF action OPERATOR(pg_catalog.=) 'update' AND (m_decay OR m_algorithm OPERATOR(pg_catalog.=) 'user_knn') THEN
		RAISE EXCEPTION 'recsys.update() cannot extend model "%"%', model,
			CASE WHEN m_decay THEN ', which is trained with time decay' ELSE ' (user_knn)' END
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Schedule its retraining with recsys.schedule_retrain() instead.';
	END IF;
	-- the job runs the function as the caller: they must be allowed to
	IF NOT pg_catalog.has_function_privilege(CURRENT_USER,
			CASE action WHEN 'update' THEN 'recsys.update(text, timestamp with time zone)'
						ELSE 'recsys.retrain(text)' END, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', action
			USING ERRCODE = 'insufficient_privilege',
				  HINT = pg_catalog.format('The job would run recsys.%s() as you; ask for GRANT EXECUTE on it first.', action);
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
		jname := 'recsys-' OPERATOR(pg_catalog.||) action OPERATOR(pg_catalog.||) '-' OPERATOR(pg_catalog.||) model;
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
	cmd := pg_catalog.format('SELECT recsys.%s(%L)', action, model);

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
COMMENT ON FUNCTION recsys.schedule_model_job(text, text, text, text) IS
	'what schedule_retrain() and schedule_update() call: schedules SELECT recsys.<action>(model) with pg_cron as the caller; returns the job id';

CREATE OR REPLACE FUNCTION recsys.schedule_retrain(model text, schedule text, job_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $$ SELECT recsys.schedule_model_job(model, schedule, job_name, 'retrain') $$;
COMMENT ON FUNCTION recsys.schedule_retrain(text, text, text) IS
	'schedules SELECT recsys.retrain(model) with pg_cron as the caller (the model''s owner or a superuser; not for models made by recsys.fit()); job name recsys-retrain-<model>, or a prefix and a hash when that exceeds 63 bytes, unless given; returns the job id';
REVOKE ALL ON FUNCTION recsys.schedule_retrain(text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION recsys.schedule_update(model text, schedule text, job_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $$ SELECT recsys.schedule_model_job(model, schedule, job_name, 'update') $$;
COMMENT ON FUNCTION recsys.schedule_update(text, text, text) IS
	'schedules SELECT recsys.update(model) with pg_cron as the caller (the model''s owner or a superuser; a model trained with "time_column"); job name recsys-update-<model>, or a prefix and a hash when that exceeds 63 bytes, unless given; returns the job id';
REVOKE ALL ON FUNCTION recsys.schedule_update(text, text, text) FROM PUBLIC;
