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
-- UPDATE cannot point a model at a version that is not there.  (Versions
-- no longer reference their model: two config tables that reference each
-- other could not be restored by pg_restore, one table at a time.  The
-- catalog functions delete a model's versions with it.)
ALTER TABLE recsys.model_versions DROP CONSTRAINT model_versions_model_fkey;
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

------------------------------------------------------------------------------
-- 5. Model privileges and row-level security
------------------------------------------------------------------------------

-- Who may use a model: its owner (or a member of the owning role), a
-- superuser, and the roles the owner granted it to.  Using a model is
-- serving it (recommend*, similar_*, predict), evaluating and auditing it
-- (predictions, evaluate*, audit_*) and reading its rows of the catalog.
-- Every one of those functions checks at its entry (src/privileges.c):
-- a model that does not exist is 42704 as before; one the caller may not
-- use is 42501, and the caller learns nothing of it but that it exists.
-- Only the owner (or a member, or a superuser) grants, revokes and gives
-- the model away; training, retraining and dropping stay the owner's.
CREATE TABLE recsys.model_grants (
	model text NOT NULL REFERENCES recsys.models (name) ON DELETE CASCADE ON UPDATE CASCADE,
	grantee pg_catalog.regrole NOT NULL,
	granted_by pg_catalog.regrole NOT NULL,
	granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (model, grantee)
);
COMMENT ON TABLE recsys.model_grants IS
	'who may use a model besides its owner: one row per model and grantee role (grantee 0, shown as -, is PUBLIC); written by recsys.grant_model() and recsys.revoke_model()';
SELECT pg_catalog.pg_extension_config_dump('recsys.model_grants', '');

-- In 0.1.0 a role that could read the catalog could use every model.  So
-- that an upgrade takes nothing away, each role (or PUBLIC) granted SELECT
-- on recsys.models is granted every model there is; owners revoke what
-- they do not mean to share.
INSERT INTO recsys.model_grants (model, grantee, granted_by)
SELECT m.name, a.grantee::pg_catalog.regrole, m.owner
FROM recsys.models m,
	 pg_catalog.aclexplode((SELECT c.relacl FROM pg_catalog.pg_class c
							WHERE c.oid = 'recsys.models'::pg_catalog.regclass)) a
WHERE a.privilege_type OPERATOR(pg_catalog.=) 'SELECT'
  AND a.grantee OPERATOR(pg_catalog.<>) a.grantor
ON CONFLICT DO NOTHING;

CREATE FUNCTION recsys.check_model_usage(model text)
RETURNS void
AS 'MODULE_PATHNAME', 'rs_check_model_usage_sql' LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.check_model_usage(text) IS
	'internal: raises 42704 if the model does not exist, 42501 if the current user may not use it; called by the evaluation functions';

CREATE FUNCTION recsys.has_model_privilege(model text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_has_model_privilege' LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.has_model_privilege(text) IS
	'whether the current user may use the model (is, or has the privileges of, its owner, is a superuser, or was granted it); an error if it does not exist';

CREATE FUNCTION recsys.usable_models()
RETURNS text[]
AS 'MODULE_PATHNAME', 'rs_usable_models' LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.usable_models() IS
	'the names of the models the current user may use (the row-level security policies of the catalog read it once per statement)';

CREATE FUNCTION recsys.grant_model(model text, grantee pg_catalog.regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'rs_grant_model' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.grant_model(text, pg_catalog.regrole) IS
	'lets a role (0: PUBLIC) use a model: serve, predict, evaluate, audit it and read its catalog rows (owner, member of the owning role or superuser only)';

CREATE FUNCTION recsys.revoke_model(model text, grantee pg_catalog.regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'rs_revoke_model' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.revoke_model(text, pg_catalog.regrole) IS
	'takes back what recsys.grant_model() gave a role (0: PUBLIC); no error if nothing was granted (owner, member of the owning role or superuser only)';

CREATE FUNCTION recsys.alter_model_owner(model text, new_owner pg_catalog.regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'rs_alter_model_owner' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.alter_model_owner(text, pg_catalog.regrole) IS
	'gives a model to another role, under the rules of ALTER ... OWNER TO: a superuser, or a role with the privileges of the current owner that is a member of the new owner; grants to other roles stay';

-- Row-level security: each catalog table shows a role the rows of the
-- models it may use, nothing else (superusers and the catalog's owner
-- bypass it).  The policy reads the list of usable models once per
-- statement (the sub-SELECT is an InitPlan), then compares each row's
-- model name with it; with the primary keys (model, ...) that comparison
-- is also an index condition.  SELECT is granted to PUBLIC: what a role
-- reads is exactly what the policies let through.  Nobody but the
-- catalog's owner writes these tables (no other policy, no other grant).
ALTER TABLE recsys.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.model_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.user_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.item_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.item_neighbors ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.user_neighbors ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.model_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY usable_models ON recsys.models FOR SELECT
	USING (name OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.model_versions FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.user_factors FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.item_factors FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.item_neighbors FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.user_neighbors FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.model_grants FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
GRANT SELECT ON recsys.models, recsys.model_versions, recsys.user_factors,
	recsys.item_factors, recsys.item_neighbors, recsys.user_neighbors,
	recsys.model_grants, recsys.neighbors TO PUBLIC;
-- the view reads its tables with the reader's rights, so their policies
-- apply to the reader (a view's owner, here a superuser, would bypass them)
ALTER VIEW recsys.neighbors SET (security_invoker = true);

-- The evaluation functions written in SQL check at their entry too
-- (evaluate() and evaluate_users() through eval_ranking_sql()); the
-- bodies are 0.1.0's with that one PERFORM added.
CREATE OR REPLACE FUNCTION recsys.eval_ranking_sql(
	model text,
	test text,
	cutoff integer,
	user_col text,
	item_col text,
	rating_col text,
	threshold double precision,
	lists text,
	serve_unknown boolean,
	OUT query text,
	OUT check_query text)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
	m record;
	ucol text;
	icol text;
	rcol text;
	src text;
	t text;
	r text;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cutoff IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cutoff <= 0 THEN
		RAISE EXCEPTION 'k must be positive, not %', cutoff
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'k is the length of the lists that are measured.';
	END IF;
	PERFORM recsys.check_model_usage(model);
	SELECT d.user_column, d.item_column, d.rating_column, d.active_version, d.user_key_type
	  INTO m FROM recsys.models d WHERE d.name = model;
	IF NOT FOUND OR m.active_version IS NULL THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
	ucol := coalesce(user_col, m.user_column);
	icol := coalesce(item_col, m.item_column);
	rcol := coalesce(rating_col, m.rating_column);
	IF ucol IS NULL OR icol IS NULL THEN
		RAISE EXCEPTION 'user_col and item_col must be given: the model has no stored source columns'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Models trained with recsys.fit() need user_col => and item_col =>.';
	END IF;
	IF threshold IN ('NaN', 'Infinity', '-Infinity') THEN
		RAISE EXCEPTION 'threshold must be finite, not %', threshold
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF threshold IS NOT NULL AND rcol IS NULL THEN
		RAISE EXCEPTION 'a relevance threshold needs a rating column'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass rating_col => ''<column>''.';
	END IF;
	src := recsys.eval_source(test, 'test');

	-- the relevant test items of each user: distinct, non-NULL, and rated
	-- at least threshold when one is given
	t := format('SELECT DISTINCT (s.%1$I)::text AS user_key, (s.%2$I)::text AS item_key '
				'FROM %3$s AS s WHERE s.%1$I IS NOT NULL AND s.%2$I IS NOT NULL%4$s',
				ucol, icol, src,
				CASE WHEN threshold IS NULL THEN ''
					 ELSE format(' AND s.%I >= %s', rcol, threshold) END);

	check_query := format($q$
WITH t AS MATERIALIZED (%1$s),
u AS (SELECT t.user_key FROM t GROUP BY t.user_key),
i AS (SELECT t.item_key FROM t GROUP BY t.item_key)
SELECT (SELECT count(*) FROM u) AS test_users,
	   (SELECT count(*) FROM u JOIN recsys.user_factors f
		  ON f.model = %2$L AND f.version = %3$s AND f.user_key = u.user_key) AS known_users,
	   (SELECT count(*) FROM i JOIN recsys.item_factors f
		  ON f.model = %2$L AND f.version = %3$s AND f.item_key = i.item_key) AS known_items
$q$, t, model, m.active_version);

	-- the lists: served by recommend_all(), or made elsewhere (re-ranked,
	-- another system) as (user, item, rank), of which ranks up to k count
	IF lists IS NULL THEN
		r := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank '
					'FROM recsys.recommend_all(%L, %s, users => ARRAY(SELECT u.user_key FROM u WHERE u.known)) a',
					model, cutoff);
		IF serve_unknown THEN
			-- users the model does not know get what recommend() gives them
			-- (fold-in from the model's source, or popular items)
			r := r || format(' UNION ALL SELECT u.user_key, x.item::text, x.rank FROM u '
							 'CROSS JOIN LATERAL recsys.recommend(%L, (u.user_key)::%s, %s) x WHERE NOT u.known',
							 model, m.user_key_type, cutoff);
		END IF;
	ELSE
		-- (checked: each rank and each item at most once in a user's list)
		r := recsys.eval_lists_sql(lists, cutoff, '(x.lu)::text IN (SELECT u.user_key FROM u)');
	END IF;

	-- rank is the position in the served list: ties in score are broken
	-- as serving breaks them (by item key), so a metric measures the list
	-- a user would see
	query := format($q$
WITH tu AS MATERIALIZED (
	SELECT t.user_key, count(*)::integer AS n_relevant, array_agg(t.item_key) AS relevant
	FROM (%1$s) t GROUP BY t.user_key),
u AS MATERIALIZED (
	SELECT tu.user_key, row_number() OVER () AS uid, tu.n_relevant, tu.relevant,
		   f.user_key IS NOT NULL AS known
	FROM tu %6$s JOIN recsys.user_factors f
	  ON f.model = %2$L AND f.version = %3$s AND f.user_key = tu.user_key),
r AS MATERIALIZED (%5$s),
h AS (
	SELECT u.uid, r.item_key, r.rank, r.item_key = ANY (u.relevant) AS rel
	FROM r JOIN u ON u.user_key = r.user_key),
w AS (
	SELECT h.*, count(*) FILTER (WHERE h.rel) OVER (PARTITION BY h.uid ORDER BY h.rank) AS hits_so_far
	FROM h),
m AS (
	SELECT w.uid,
		   count(*) FILTER (WHERE w.rel) AS hits,
		   sum(ln(2::float8) / ln(w.rank + 1::float8)) FILTER (WHERE w.rel) AS dcg,
		   sum(w.hits_so_far::float8 / w.rank) FILTER (WHERE w.rel) AS sum_precision,
		   min(w.rank) FILTER (WHERE w.rel) AS first_hit,
		   array_agg(w.item_key ORDER BY w.rank) AS items
	FROM w GROUP BY w.uid),
idcg AS (
	SELECT array_agg(z.c ORDER BY z.i) AS v
	FROM (SELECT i, sum(ln(2::float8) / ln(i + 1::float8)) OVER (ORDER BY i) AS c
		  FROM generate_series(1, least(%4$s, (SELECT max(u.n_relevant) FROM u))) i) z)
SELECT u.user_key, u.n_relevant,
	   coalesce(m.hits, 0)::float8 / %4$s AS "precision",
	   coalesce(m.hits, 0)::float8 / u.n_relevant AS recall,
	   coalesce(m.dcg, 0) / (SELECT v FROM idcg)[least(u.n_relevant, %4$s)] AS ndcg,
	   coalesce(m.sum_precision, 0) / least(u.n_relevant, %4$s) AS ap,
	   coalesce(1.0::float8 / m.first_hit, 0) AS rr,
	   (coalesce(m.hits, 0) > 0)::integer::float8 AS hit,
	   coalesce(m.items, '{}') AS items,
	   (SELECT count(*) FROM tu) AS test_users
FROM u LEFT JOIN m ON m.uid = u.uid
$q$, t, model, m.active_version, cutoff, r, CASE WHEN serve_unknown THEN 'LEFT' ELSE '' END);
END
$fn$;

CREATE OR REPLACE FUNCTION recsys.audit_exposure(
	model text,
	item_groups text,
	k integer DEFAULT 10,
	users text DEFAULT NULL,
	lists text DEFAULT NULL)
RETURNS TABLE (item_group text, metric text, value double precision)
LANGUAGE plpgsql STABLE SET transaction_read_only = on
AS $fn$
DECLARE
	v record;
	l text;
	ig text;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k <= 0 THEN
		RAISE EXCEPTION 'k must be positive, not %', k
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'k is the length of the lists that are audited.';
	END IF;
	PERFORM recsys.check_model_usage(model);
	SELECT mv.version, mv.users INTO v
	  FROM recsys.models m JOIN recsys.model_versions mv
		ON mv.model = m.name AND mv.version = m.active_version
	 WHERE m.name = audit_exposure.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;

	IF lists IS NOT NULL THEN
		-- lists made elsewhere (re-ranked, or by another system): user, item, rank
		-- (checked: each rank and each item at most once in a user's list)
		l := recsys.eval_lists_sql(lists, k,
			CASE WHEN users IS NOT NULL
				 THEN format('(x.lu)::text IN (SELECT (y.recsys_user)::text FROM %s AS y(recsys_user))',
							 recsys.eval_source(users, 'users', 1)) END);
	ELSE
		l := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank FROM recsys.recommend_all(%L, %s, users => %s) a',
					model, k,
					CASE WHEN users IS NULL THEN 'NULL'
						 ELSE format('ARRAY(SELECT DISTINCT (y.recsys_user)::text FROM %s AS y(recsys_user) WHERE y.recsys_user IS NOT NULL)',
									 recsys.eval_source(users, 'users', 1)) END);
	END IF;
	-- item -> group, by the group's output text as recommend()'s
	-- item_groups (a boolean group is t or f); an item listed in several
	-- groups counts in the first by text order; items without a group form
	-- the group NULL
	ig := CASE WHEN item_groups IS NULL THEN 'SELECT NULL::text AS item_key, NULL::text AS grp WHERE false'
			   ELSE format('SELECT DISTINCT ON (1) (g.gi)::text AS item_key, format(''%%s'', g.gg) AS grp FROM %s AS g(gi, gg) '
						   'WHERE g.gi IS NOT NULL ORDER BY 1, 2',
						   recsys.eval_source(item_groups, 'item_groups', 2)) END;

	RETURN QUERY EXECUTE format($q$
WITH ci AS MATERIALIZED (
	SELECT f.item_key, f.interactions::float8 AS interactions,
		   f.interactions::float8 / %3$s AS popularity, ig.grp
	FROM recsys.item_factors f LEFT JOIN (%4$s) ig ON ig.item_key = f.item_key
	WHERE f.model = %1$L AND f.version = %2$s),
e AS MATERIALIZED (
	SELECT l.user_key, l.item_key, l.rank, ci.grp, ci.popularity,
		   ln(2::float8) / ln(greatest(l.rank, 1) + 1::float8) AS w
	FROM (%5$s) l JOIN ci ON ci.item_key = l.item_key),
tot AS (
	SELECT (SELECT count(*) FROM ci)::float8 AS items,
		   (SELECT greatest(sum(ci.interactions), 1) FROM ci) AS interactions,
		   (SELECT count(*) FROM e)::float8 AS slots,
		   (SELECT sum(e.w) FROM e) AS weight),
per_item AS (
	SELECT ci.item_key, ci.grp, count(e.item_key)::float8 AS x
	FROM ci LEFT JOIN e ON e.item_key = ci.item_key GROUP BY ci.item_key, ci.grp),
grp AS (
	SELECT ci.grp, count(*)::float8 AS items, sum(ci.interactions) AS interactions
	FROM ci GROUP BY ci.grp),
ex AS (
	SELECT e.grp, count(*)::float8 AS slots, sum(e.w) AS weight, count(DISTINCT e.item_key)::float8 AS distinct_items
	FROM e GROUP BY e.grp),
overall AS (
	SELECT (SELECT count(DISTINCT e.user_key) FROM e)::float8 AS lists,
		   (SELECT count(DISTINCT e.item_key) FROM e)::float8 / tot.items AS coverage,
		   (SELECT sum((2 * o.i - o.n - 1) * o.x) / nullif(o.n * sum(o.x), 0)
			FROM (SELECT per_item.x, row_number() OVER (ORDER BY per_item.x) AS i,
						 count(*) OVER () AS n FROM per_item) o GROUP BY o.n) AS gini,
		   (SELECT avg(e.popularity) FROM e) AS pop_recommended,
		   (SELECT sum(ci.interactions * ci.popularity) / tot.interactions FROM ci) AS pop_interacted
	FROM tot)
SELECT r.grp, r.metric, r.value FROM (
	SELECT 0 AS part, grp.grp, x.ord, x.metric, x.value
	FROM grp CROSS JOIN tot LEFT JOIN ex ON ex.grp IS NOT DISTINCT FROM grp.grp
	CROSS JOIN LATERAL (VALUES
		(1, 'items', grp.items),
		(2, 'catalogue_share', grp.items / tot.items),
		(3, 'interaction_share', grp.interactions / tot.interactions),
		(4, 'exposure_share', coalesce(ex.slots, 0) / nullif(tot.slots, 0)),
		(5, 'discounted_exposure_share', coalesce(ex.weight, 0) / nullif(tot.weight, 0)),
		(6, 'coverage', coalesce(ex.distinct_items, 0) / grp.items)) x(ord, metric, value)
	UNION ALL
	SELECT 1, NULL, x.ord, x.metric, x.value
	FROM overall CROSS JOIN LATERAL (VALUES
		(1, 'lists', overall.lists),
		(2, 'coverage', overall.coverage),
		(3, 'gini', overall.gini),
		(4, 'mean_popularity_recommended', overall.pop_recommended),
		(5, 'mean_popularity_interacted', overall.pop_interacted),
		(6, 'popularity_lift', overall.pop_recommended / nullif(overall.pop_interacted, 0))) x(ord, metric, value)
) r
ORDER BY r.part, r.grp NULLS LAST, r.ord
$q$, model, v.version, greatest(v.users, 1), ig, l);
END
$fn$;

------------------------------------------------------------------------------
-- 6. Managed per-model indexes
------------------------------------------------------------------------------

-- A model's recsys_hnsw index on recsys.item_factors is asked for with
-- recsys.create_model_index() and kept by recsys (src/model_index.c): one
-- partial index per dimension of the model's kept versions, built again by
-- the next training or recsys.restore_model_indexes() after pg_restore
-- (which does not dump indexes on an extension's tables).
ALTER TABLE recsys.models ADD COLUMN index_options jsonb;
COMMENT ON COLUMN recsys.models.index_options IS
	'the model''s managed recsys_hnsw index (m, ef_construction), NULL: none';

CREATE FUNCTION recsys.create_model_index(model text, m integer DEFAULT NULL,
										  ef_construction integer DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_create_model_index' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.create_model_index(text, integer, integer) IS
	'serves an ials model through a recsys_hnsw index that recsys keeps across retrains (owner only); returns the indexes built';
CREATE FUNCTION recsys.drop_model_index(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_drop_model_index' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.drop_model_index(text) IS
	'drops a model''s managed indexes (owner only); returns how many';
CREATE FUNCTION recsys.reindex_model(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_reindex_model' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.reindex_model(text) IS
	'rebuilds a model''s managed indexes (owner only); returns how many';
CREATE FUNCTION recsys.restore_model_indexes()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'rs_restore_model_indexes' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.restore_model_indexes() IS
	'after pg_restore: builds the missing managed indexes of the models the caller owns (a superuser: all); returns their names';
REVOKE ALL ON FUNCTION recsys.create_model_index(text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.drop_model_index(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.reindex_model(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.restore_model_indexes() FROM PUBLIC;

-- 0.1.0 asked for an index made by hand (CREATE INDEX ... ON
-- recsys.item_factors ... WHERE model = 'x'); such an index of an ials
-- model becomes the model's managed index (same m and ef_construction).
DO $$
DECLARE
	r record;
	opts jsonb;
BEGIN
	FOR r IN
		SELECT c.oid, c.relname, c.reloptions,
			   pg_catalog.substring(pg_catalog.pg_get_expr(x.indpred, x.indrelid),
									'^\(model = ''(.*)''::text\)$') AS model
		FROM pg_catalog.pg_index x
		JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
		JOIN pg_catalog.pg_am a ON a.oid = c.relam
		WHERE x.indrelid = 'recsys.item_factors'::pg_catalog.regclass AND a.amname = 'recsys_hnsw'
	LOOP
		CONTINUE WHEN r.model IS NULL OR pg_catalog.strpos(r.model, '''') > 0;
		IF NOT EXISTS (SELECT 1 FROM recsys.models m WHERE m.name = r.model AND m.algorithm = 'ials') THEN
			RAISE NOTICE 'index "%" on recsys.item_factors is left as it is: model "%" is not an ials model', r.relname, r.model;
			CONTINUE;
		END IF;
		SELECT pg_catalog.jsonb_object_agg(pg_catalog.split_part(o, '=', 1),
										   pg_catalog.split_part(o, '=', 2)::integer)
		INTO opts
		FROM pg_catalog.unnest(r.reloptions) o
		WHERE pg_catalog.split_part(o, '=', 1) IN ('m', 'ef_construction');
		UPDATE recsys.models SET index_options = coalesce(opts, '{}'::jsonb) WHERE name = r.model;
		EXECUTE pg_catalog.format('DROP INDEX recsys.%I', r.relname);
		RAISE NOTICE 'index "%" on recsys.item_factors is now model "%"''s managed index', r.relname, r.model;
	END LOOP;
END
$$;
SELECT pg_catalog.count(*) FROM recsys.restore_model_indexes();
