-- 07_training.sql: training (src/train.c, the cores in src/core/): train()
-- from a table, view or SELECT, retrain() from the stored definition, the
-- aggregate fit() (one model per group), drop_model(), and
-- schedule_retrain() through pg_cron.  Training writes the catalog, so it is
-- granted explicitly (GRANT EXECUTE ON FUNCTION recsys.train(...) TO
-- trainer).

-- The summary every training returns.
CREATE TYPE recsys.train_result AS (
	model text,
	version integer,
	algorithm text,
	users integer,
	items integer,
	interactions bigint,
	skipped bigint,
	duplicates bigint,
	seconds double precision,
	final_loss double precision
);
COMMENT ON TYPE recsys.train_result IS
	'summary of a training run: model, new version, sizes, rows skipped and merged, seconds, final loss';

CREATE FUNCTION recsys.train(
	model text,
	source text,
	user_col text,
	item_col text,
	rating_col text DEFAULT NULL,
	algorithm text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS recsys.train_result
AS 'MODULE_PATHNAME', 'rs_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) IS
	'trains a model from a table, view or SELECT (read with the caller''s rights) and makes the new version active';

CREATE FUNCTION recsys.retrain(model text)
RETURNS recsys.train_result
AS 'MODULE_PATHNAME', 'rs_retrain' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.retrain(text) IS
	're-runs a model''s stored definition as a new version and switches to it at commit';

CREATE FUNCTION recsys.drop_model(model text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_drop_model_sql' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.drop_model(text, boolean) IS
	'drops a model with all its versions (owner only); false if it did not exist and if_exists';


-- The aggregate form: one model per group.
CREATE FUNCTION recsys.fit_transfn(internal, text, "any", "any", "any", jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_fit_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.fit_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_fit_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.fit_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'rs_fit_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.fit_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_fit_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb)
RETURNS recsys.train_result AS 'MODULE_PATHNAME', 'rs_fit_finalfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.fit_transfn(internal, text, "any", "any", "any", jsonb) IS
	'recsys.fit transition: collects one interaction';
COMMENT ON FUNCTION recsys.fit_combinefn(internal, internal) IS
	'recsys.fit combine: merges partial training sets';
COMMENT ON FUNCTION recsys.fit_serialfn(internal) IS 'recsys.fit state to bytea';
COMMENT ON FUNCTION recsys.fit_deserialfn(bytea, internal) IS 'recsys.fit state from bytea';
COMMENT ON FUNCTION recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb) IS
	'recsys.fit final: trains and stores the group''s model';

CREATE AGGREGATE recsys.fit(model text, "user" "any", item "any", rating "any", options jsonb) (
	SFUNC = recsys.fit_transfn,
	STYPE = internal,
	FINALFUNC = recsys.fit_finalfn,
	FINALFUNC_EXTRA,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.fit_combinefn,
	SERIALFUNC = recsys.fit_serialfn,
	DESERIALFUNC = recsys.fit_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.fit(text, "any", "any", "any", jsonb) IS
	'aggregate form of training: the rows of each group train (and store) one model';

-- Who may do what: training writes the catalog, so it is granted
-- explicitly (GRANT EXECUTE ON FUNCTION recsys.train(...) TO trainer);
-- using a model is the owner's, or granted with recsys.grant_model().
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.retrain(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.drop_model(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.fit_finalfn(internal, text, "any", "any", "any", jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.fit(text, "any", "any", "any", jsonb) FROM PUBLIC;

-- Scheduling (pg_cron).  schedule_retrain: only for a model with a stored source (not one made by
-- recsys.fit()), only by its owner (or a superuser), and one pg_cron job per
-- model.  pg_cron keeps job names as name (63 bytes) and replaces the
-- caller's job of the same name, so the default name is
-- recsys-retrain-<model> while that fits, else a prefix of it and a hash of
-- the whole model name; a job name that already names another of the
-- caller's jobs is refused.  The job runs as the caller, like every
-- pg_cron job.
CREATE FUNCTION recsys.schedule_retrain(model text, schedule text, job_name text DEFAULT NULL)
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
	-- unknown: 42704; another role's model it may not use: 42501 (and the
	-- row, hidden by row-level security, is not read)
	PERFORM recsys.check_model_usage(model);
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
REVOKE ALL ON FUNCTION recsys.schedule_retrain(text, text, text) FROM PUBLIC;
