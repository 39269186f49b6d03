-- 13_experiments.sql: A/B experiments (src/experiment.c): the catalog of
-- experiments and their arms, the stable assignment of users to arms,
-- serving each user from their arm, and the report that evaluates each
-- arm on its own users and compares it with the first arm, the control.
--
-- An experiment is a named set of arms; an arm is a model, a version of it
-- (NULL: whichever version is active when it serves) and a weight.  The
-- weights are relative: normalised, they cut [0, 1) into one interval per
-- arm, in the order the arms were given.  A user's point in [0, 1) is a
-- 64-bit hash of the experiment's salt and the user key's text form
-- (recsys.experiment_point, defined in src/experiment.c), so a user is in
-- the same arm in every session, on every server and standby, whatever the
-- machine.  Ending an experiment keeps its rows: its users keep their
-- arms, its report still runs, only serving from it stops.
--
-- Like the model catalog (06_catalog.sql), these tables are written only
-- by the functions below, as the catalog's owner; a role reads the
-- experiments it owns (has the privileges of the owner of) and those all
-- of whose models it may use, through row-level security.

CREATE TABLE recsys.experiments (
	name text PRIMARY KEY CHECK (name <> '' AND octet_length(name) <= 200),
	salt text NOT NULL,
	owner pg_catalog.regrole NOT NULL,
	models text[] NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	ended_at timestamptz
);
COMMENT ON TABLE recsys.experiments IS
	'A/B experiments: name, the salt of the assignment hash, owner (by OID), the models of its arms, when created and ended (NULL: running); written by recsys.create_experiment() and recsys.end_experiment()';

CREATE TABLE recsys.experiment_arms (
	experiment text NOT NULL REFERENCES recsys.experiments (name) ON DELETE CASCADE ON UPDATE CASCADE,
	position integer NOT NULL CHECK (position >= 1),
	arm text NOT NULL CHECK (arm <> '' AND octet_length(arm) <= 200),
	model text NOT NULL,
	version integer,
	weight double precision NOT NULL CHECK (weight > 0),
	share double precision NOT NULL,
	lower_bound double precision NOT NULL,
	upper_bound double precision NOT NULL,
	PRIMARY KEY (experiment, arm),
	CONSTRAINT experiment_arms_position_key UNIQUE (experiment, position),
	CHECK (lower_bound >= 0 AND lower_bound < upper_bound AND upper_bound <= 1)
);
COMMENT ON TABLE recsys.experiment_arms IS
	'the arms of each experiment, position 1 the control: model, version (NULL: the active one), weight as given, share of users, and the interval [lower_bound, upper_bound) of [0, 1) whose users it gets';

SELECT pg_catalog.pg_extension_config_dump('recsys.experiments', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.experiment_arms', '');

-- A role sees an experiment it owns (or has the privileges of the owner
-- of) or all of whose models it may use (experiments.models lists them,
-- so that the policy need not read the arms), and the arms of the
-- experiments it sees (the arms' policy reads recsys.experiments, whose
-- own policy applies).
ALTER TABLE recsys.experiments ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.experiment_arms ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible_experiments ON recsys.experiments FOR SELECT
	USING (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'USAGE')
		   OR models OPERATOR(pg_catalog.<@) ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY visible_experiments ON recsys.experiment_arms FOR SELECT
	USING (experiment IN (SELECT e.name FROM recsys.experiments e));
GRANT SELECT ON recsys.experiments, recsys.experiment_arms TO PUBLIC;

CREATE OR REPLACE FUNCTION recsys.experiment_point(salt text, "user" anyelement)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_experiment_point' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.experiment_point(text, anyelement) IS
	'a user''s point in [0, 1) for a salt: FNV-1a 64 of the salt, a zero byte and the key''s text form (integers in decimal, char(n) without trailing blanks), SplitMix64-finalised, top 53 bits over 2^53; the same on every server and architecture';

CREATE OR REPLACE FUNCTION recsys.assign(experiment text, "user" anyelement)
RETURNS text
AS 'MODULE_PATHNAME', 'rs_assign' LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.assign(text, anyelement) IS
	'the arm of an experiment a user is in: the arm whose interval of [0, 1) holds recsys.experiment_point(salt, user); the same in every session and on every server; still answers after the experiment ended';

CREATE OR REPLACE FUNCTION recsys.experiment_store(name text, salt text, arms text[], models text[],
	versions integer[], weights double precision[])
RETURNS void
AS 'MODULE_PATHNAME', 'rs_experiment_store' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.experiment_store(text, text, text[], text[], integer[], double precision[]) IS
	'internal to create_experiment(): writes an experiment and its arms after checking the weights, the versions and the caller''s use of every model';

CREATE OR REPLACE FUNCTION recsys.create_experiment(name text, arms jsonb, salt text DEFAULT NULL)
RETURNS TABLE (arm text, model text, version integer, share double precision)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	hint constant text := 'Arms are a JSON array of objects, the control first, e.g. '
		'''[{"arm": "control", "model": "m_pop"}, {"arm": "ials", "model": "m_ials", "version": 2, "weight": 1}]''.';
	a jsonb;
	i integer := 0;
	arm_names text[] := '{}';
	models text[] := '{}';
	versions integer[] := '{}';
	weights double precision[] := '{}';
	key text;
	w double precision;
	v integer;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF arms IS NULL OR jsonb_typeof(arms) <> 'array' OR jsonb_array_length(arms) = 0 THEN
		RAISE EXCEPTION 'arms must be a non-empty JSON array'
			USING ERRCODE = 'invalid_parameter_value', HINT = hint;
	END IF;
	FOR a IN SELECT x FROM jsonb_array_elements(arms) x LOOP
		i := i + 1;
		IF jsonb_typeof(a) <> 'object' THEN
			RAISE EXCEPTION 'arm % must be a JSON object, not %', i, a
				USING ERRCODE = 'invalid_parameter_value', HINT = hint;
		END IF;
		FOR key IN SELECT k FROM jsonb_object_keys(a) k LOOP
			IF key NOT IN ('arm', 'model', 'version', 'weight') THEN
				RAISE EXCEPTION 'arm % has an unknown key "%"', i, key
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'An arm has the keys arm, model, version (optional, NULL: the active version) and weight (optional, default 1).';
			END IF;
		END LOOP;
		IF jsonb_typeof(a->'model') IS DISTINCT FROM 'string' OR a->>'model' = '' THEN
			RAISE EXCEPTION 'arm % needs a model', i
				USING ERRCODE = 'invalid_parameter_value', HINT = hint;
		END IF;
		IF jsonb_typeof(a->'arm') IS DISTINCT FROM 'string' OR a->>'arm' = '' THEN
			RAISE EXCEPTION 'arm % needs a name ("arm")', i
				USING ERRCODE = 'invalid_parameter_value', HINT = hint;
		END IF;
		IF octet_length(a->>'arm') > 200 THEN
			RAISE EXCEPTION 'the name of arm % is longer than 200 bytes', i
				USING ERRCODE = 'invalid_parameter_value', HINT = hint;
		END IF;
		IF (a->>'arm') = ANY (arm_names) THEN
			RAISE EXCEPTION 'arm "%" is given twice', a->>'arm'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Give each arm its own name; two arms may serve the same model.';
		END IF;
		IF a ? 'version' AND jsonb_typeof(a->'version') <> 'null' THEN
			IF jsonb_typeof(a->'version') <> 'number' OR (a->>'version')::numeric <> trunc((a->>'version')::numeric)
			   OR (a->>'version')::numeric NOT BETWEEN 1 AND 2147483647 THEN
				RAISE EXCEPTION 'the version of arm "%" must be a positive integer or null, not %', a->>'arm', a->'version'
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Leave version out (or null) to serve the model''s active version.';
			END IF;
			v := (a->>'version')::numeric::integer;
		ELSE
			v := NULL;
		END IF;
		IF a ? 'weight' THEN
			IF jsonb_typeof(a->'weight') <> 'number' OR NOT ((a->>'weight')::numeric > 0)
			   OR (a->>'weight')::numeric > 1e300 THEN
				RAISE EXCEPTION 'the weight of arm "%" must be a positive number below 1e300, not %', a->>'arm', left((a->'weight')::text, 40)
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Weights are relative: 1 and 1 split users evenly, 9 and 1 give the first arm 90%.';
			END IF;
			w := (a->>'weight')::double precision;
		ELSE
			w := 1;
		END IF;
		arm_names := arm_names || (a->>'arm');
		models := models || (a->>'model');
		versions := versions || v;
		weights := weights || w;
	END LOOP;
	PERFORM recsys.experiment_store(create_experiment.name,
									coalesce(salt, pg_catalog.gen_random_uuid()::text),
									arm_names, models, versions, weights);
	RETURN QUERY SELECT x.arm, x.model, x.version, x.share FROM recsys.experiment_arms x
				 WHERE x.experiment = create_experiment.name ORDER BY x.position;
END
$fn$;
COMMENT ON FUNCTION recsys.create_experiment(text, jsonb, text) IS
	'creates an A/B experiment: arms is a JSON array of {arm, model, version (optional; NULL: the active version), weight (optional, default 1)}, the control first; the caller must be allowed to use every model; salt (default random) seeds the assignment; returns each arm''s share of users';

CREATE OR REPLACE FUNCTION recsys.end_experiment(name text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'rs_end_experiment' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.end_experiment(text) IS
	'ends an experiment (its owner only) and returns when: its rows stay, assign() and experiment_report() still answer, recommend_experiment() refuses it; versions its arms pinned are released';

-- Serving: the arm of the user, then recommend() of the arm's model
-- (recommend_experiment() below calls this, for a key of any type).
CREATE OR REPLACE FUNCTION recsys.recommend_experiment_body(
	experiment text,
	"user" anyelement,
	k integer,
	exclude_seen boolean)
RETURNS TABLE (arm text, item anyelement, score double precision, rank integer)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	a record;
	chosen text;
BEGIN
	IF experiment IS NULL OR "user" IS NULL THEN
		RAISE EXCEPTION 'experiment and user must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	chosen := recsys.assign(experiment, "user");
	SELECT x.model, x.version, e.ended_at INTO a
	  FROM recsys.experiment_arms x JOIN recsys.experiments e ON e.name = x.experiment
	 WHERE x.experiment = recommend_experiment_body.experiment AND x.arm = chosen;
	IF a.ended_at IS NOT NULL THEN
		RAISE EXCEPTION 'experiment "%" has ended', experiment
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Serve the model of the arm that won with recsys.recommend(); recsys.assign() still tells each user''s arm.';
	END IF;
	-- the arm's version (NULL: the model's active one)
	RETURN QUERY SELECT chosen, r.item, r.score, r.rank
				 FROM recsys.recommend(a.model, "user", k, exclude_seen, version => a.version) r;
END
$fn$;
COMMENT ON FUNCTION recsys.recommend_experiment_body(text, anyelement, integer, boolean) IS
	'what recommend_experiment() runs';

CREATE OR REPLACE FUNCTION recsys.recommend_experiment(
	experiment text,
	"user" anyelement,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true)
RETURNS TABLE (arm text, item anyelement, score double precision, rank integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $$ SELECT * FROM recsys.recommend_experiment_body(experiment, "user", k, exclude_seen) $$;
COMMENT ON FUNCTION recsys.recommend_experiment(text, anyelement, integer, boolean) IS
	'top-k items for a user from the arm of the experiment the user is in (recsys.assign), with the arm on each row; an ended experiment is an error';

-- Keys as text, for untyped parameters (see the end of 08_serving)
CREATE OR REPLACE FUNCTION recsys.recommend_experiment(
	experiment text,
	"user" text,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true)
RETURNS TABLE (arm text, item text, score double precision, rank integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $$ SELECT * FROM recsys.recommend_experiment_body(experiment, "user", k, exclude_seen) $$;
COMMENT ON FUNCTION recsys.recommend_experiment(text, text, integer, boolean) IS
	'recommend_experiment() with the user key as text (for untyped parameters); items as text';

CREATE OR REPLACE FUNCTION recsys.assign(experiment text, "user" text)
RETURNS text
AS 'MODULE_PATHNAME', 'rs_assign' LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.assign(text, text) IS
	'assign() with the user key as text (for untyped parameters): the same arm as for the key in its own type';

CREATE OR REPLACE FUNCTION recsys.bootstrap_mean_difference(control double precision[], treatment double precision[],
	resamples integer DEFAULT 1000, seed bigint DEFAULT 42, alpha double precision DEFAULT 0.05)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'rs_bootstrap_mean_difference' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.bootstrap_mean_difference(double precision[], double precision[], integer, bigint, double precision) IS
	'percentile bootstrap interval {low, high}, confidence 1 - alpha, of mean(treatment) - mean(control): resamples draws with replacement within each group, deterministic for the seed; NULLs left out';

CREATE OR REPLACE FUNCTION recsys.experiment_report_body(
	experiment text,
	test_set text,
	k integer,
	metric text,
	alpha double precision,
	resamples integer,
	seed bigint,
	user_col text,
	item_col text,
	caller_path text)
RETURNS TABLE (arm text, model text, version integer, users bigint, mean double precision,
			   difference double precision, ci_low double precision, ci_high double precision,
			   statistic double precision, df double precision, p_value double precision, verdict text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	col text;
	a record;
	control record;
	vals double precision[];
	control_vals double precision[];
	control_mean double precision;
	w recsys.welch_result;
	ci double precision[];
	first boolean := true;
BEGIN
	IF experiment IS NULL OR test_set IS NULL THEN
		RAISE EXCEPTION 'experiment and test_set must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	col := CASE experiment_report_body.metric
			   WHEN 'ndcg' THEN 'ndcg' WHEN 'precision' THEN 'precision' WHEN 'recall' THEN 'recall'
			   WHEN 'map' THEN 'ap' WHEN 'mrr' THEN 'rr' WHEN 'hit_rate' THEN 'hit' END;
	IF col IS NULL THEN
		RAISE EXCEPTION 'unknown metric "%"', experiment_report_body.metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ndcg, precision, recall, map, mrr or hit_rate.';
	END IF;
	IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 1) THEN
		RAISE EXCEPTION 'alpha must be between 0 and 1 (exclusive), not %', coalesce(alpha::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'alpha => 0.05 is the usual level.';
	END IF;
	IF resamples IS NULL OR seed IS NULL THEN
		RAISE EXCEPTION 'resamples and seed must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF resamples NOT BETWEEN 10 AND 1000000 THEN
		RAISE EXCEPTION 'resamples must be between 10 and 1000000, not %', resamples
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = '1000 resamples give a 95% interval to about two digits.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM recsys.experiments e WHERE e.name = experiment_report_body.experiment) THEN
		-- assign() says whether it does not exist or may not be seen
		PERFORM recsys.assign(experiment, ''::text);
	END IF;
	FOR a IN SELECT x.arm, x.model, x.version FROM recsys.experiment_arms x
			 WHERE x.experiment = experiment_report_body.experiment ORDER BY x.position LOOP
		-- each arm on its own users: the test users the arm's model (at
		-- the arm's version, NULL: the active one) knows and the
		-- experiment assigns to the arm.
		EXECUTE format('SELECT pg_catalog.array_agg(e.%I ORDER BY e.user_key) '
					   'FROM recsys.evaluate_users_body($1, $2, $3, $4, $5, NULL, NULL, $6, $7) e '
					   'WHERE recsys.assign($8, e.user_key) OPERATOR(pg_catalog.=) $9', col)
			INTO vals
			USING a.model, test_set, k, user_col, item_col, a.version, caller_path, experiment, a.arm;
		vals := coalesce(vals, '{}');
		arm := a.arm; model := a.model; version := a.version;
		users := cardinality(vals);
		SELECT pg_catalog.avg(v) INTO mean FROM unnest(vals) v;
		IF first THEN
			control := a;
			control_vals := vals;
			control_mean := mean;
			difference := NULL; ci_low := NULL; ci_high := NULL;
			statistic := NULL; df := NULL; p_value := NULL;
			verdict := 'control';
			first := false;
		ELSE
			-- Welch: group '1' is the control, '2' this arm, so the sign
			-- is turned to read arm minus control
			SELECT (recsys.welch_t_test(g, v)).* INTO w
			  FROM (SELECT '1'::text AS g, x AS v FROM unnest(control_vals) x
					UNION ALL SELECT '2'::text, x FROM unnest(vals) x) s;
			difference := mean - control_mean;
			statistic := -w.statistic;
			df := w.df;
			p_value := w.p_value;
			ci := recsys.bootstrap_mean_difference(control_vals, vals, resamples, seed, alpha);
			ci_low := ci[1]; ci_high := ci[2];
			verdict := CASE
				WHEN p_value IS NULL THEN 'not enough data to compare with ' || control.arm
				WHEN p_value < alpha THEN format('significant at alpha %s: %s is %s than %s',
												 alpha, a.arm, CASE WHEN difference > 0 THEN 'better' ELSE 'worse' END,
												 control.arm)
				ELSE format('not significant at alpha %s: no difference from %s shown', alpha, control.arm) END;
		END IF;
		RETURN NEXT;
	END LOOP;
END
$fn$;
COMMENT ON FUNCTION recsys.experiment_report_body(text, text, integer, text, double precision, integer, bigint, text, text, text) IS
	'internal: the body of recsys.experiment_report(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.experiment_report(
	experiment text,
	test_set text,
	k integer DEFAULT 10,
	metric text DEFAULT 'ndcg',
	alpha double precision DEFAULT 0.05,
	resamples integer DEFAULT 1000,
	seed bigint DEFAULT 42,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL)
RETURNS TABLE (arm text, model text, version integer, users bigint, mean double precision,
			   difference double precision, ci_low double precision, ci_high double precision,
			   statistic double precision, df double precision, p_value double precision, verdict text)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.experiment_report_body($1, $2, $3, $4, $5, $6, $7, $8, $9,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.experiment_report(text, text, integer, text, double precision, integer, bigint, text, text) IS
	'evaluates each arm of an experiment on its own users of a test set (relation or SELECT): users and mean of the per-user metric (ndcg, precision, recall, map, mrr, hit_rate at k, as evaluate_users) of the test users the experiment assigns to the arm; each arm after the first compared with the first (the control): difference of means, bootstrap interval at 1 - alpha (deterministic for seed), Welch''s t, df and p-value, and a verdict that says "significant" or "not significant at alpha"';
