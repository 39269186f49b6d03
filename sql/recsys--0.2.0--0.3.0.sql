-- recsys 0.2.0 -> 0.3.0: the ranking metrics become functions.
--
-- evaluate() and evaluate_users() computed precision, recall, nDCG, AP,
-- the reciprocal rank and hits inside the query recsys.eval_ranking_sql()
-- assembles; they are now C functions of one list (src/evaluate.c), which
-- that query calls for each user, and which measure any list.  Their
-- values are the same doubles as before.  The definitions here are those
-- of sql/install/11_evaluation.sql (test/t/050_upgrade.pl compares an
-- upgraded extension with a fresh one).

\echo Use "ALTER EXTENSION recsys UPDATE TO '0.3.0'" to load this file. \quit

-- The ranking metrics of one list (src/evaluate.c); evaluate() and
-- evaluate_users() measure each user's list with them (and report their
-- means), and they measure any list:
--   SELECT recsys.ndcg_at_k(ARRAY['b', 'x', 'a'], ARRAY['a', 'b'], 3);
-- ranked is the list, best first; ranks, when given, is the rank of each
-- of its items (for a list that leaves ranks out: ARRAY[1, 2, 5]), else
-- they rank 1, 2, 3, ...  Only ranks up to k count.  An item should be in
-- the list once (evaluate() checks the lists it is given).  relevant holds
-- the relevant items (a NULL is left out, a repeat counts once).  Items
-- compare with their type's default equality, as array_position()
-- compares them.  A list without a relevant item in its top k scores 0;
-- with no relevant item at all, recall, nDCG and average precision are
-- NULL.  A NULL list, relevant set or k gives NULL.
CREATE FUNCTION recsys.precision_at_k(ranked anyarray, relevant anyarray, k integer,
									  ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_precision_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.precision_at_k(anyarray, anyarray, integer, integer[]) IS
	'precision@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the relevant items among its top k, over k';

CREATE FUNCTION recsys.recall_at_k(ranked anyarray, relevant anyarray, k integer,
								   ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_recall_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.recall_at_k(anyarray, anyarray, integer, integer[]) IS
	'recall@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the relevant items among its top k, over all relevant items';

CREATE FUNCTION recsys.ndcg_at_k(ranked anyarray, relevant anyarray, k integer,
								 ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_ndcg_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.ndcg_at_k(anyarray, anyarray, integer, integer[]) IS
	'nDCG@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the discounted cumulative gain of its top k (1/log2(rank + 1) per relevant item) over that of an ideal list';

CREATE FUNCTION recsys.average_precision_at_k(ranked anyarray, relevant anyarray, k integer,
											  ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_average_precision_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.average_precision_at_k(anyarray, anyarray, integer, integer[]) IS
	'average precision@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the precision at the rank of each relevant item of its top k, summed, over the number of relevant items (at most k)';

CREATE FUNCTION recsys.reciprocal_rank(ranked anyarray, relevant anyarray, k integer,
									   ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_reciprocal_rank' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.reciprocal_rank(anyarray, anyarray, integer, integer[]) IS
	'reciprocal rank of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): 1/rank of its first relevant item within the top k, 0 if none';

CREATE FUNCTION recsys.hit_at_k(ranked anyarray, relevant anyarray, k integer,
								ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_hit_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.hit_at_k(anyarray, anyarray, integer, integer[]) IS
	'hit@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): 1 if a relevant item is among its top k, else 0';

-- The query of each user's metrics: the lists and the relevant items,
-- measured by the functions above.
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
	caller_path text,
	OUT query text,
	OUT check_query text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	m record;
	ucol text;
	icol text;
	rcol text;
	src text;
	t text;
	r text;
	user_type text;
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
	src := recsys.eval_source_in_path(test, 'test', 0, caller_path);
	-- the user key type, schema-qualified for the cast below
	SELECT format('%I.%I', n.nspname, y.typname) INTO user_type
	  FROM pg_catalog.pg_type y JOIN pg_catalog.pg_namespace n ON n.oid = y.typnamespace
	 WHERE y.oid = m.user_key_type;

	-- the relevant test items of each user: distinct, non-NULL, and rated
	-- at least threshold when one is given
	t := format('SELECT DISTINCT (s.%1$I)::pg_catalog.text AS user_key, (s.%2$I)::pg_catalog.text AS item_key '
				'FROM %3$s AS s WHERE s.%1$I IS NOT NULL AND s.%2$I IS NOT NULL%4$s',
				ucol, icol, src,
				CASE WHEN threshold IS NULL THEN ''
					 ELSE format(' AND s.%I OPERATOR(pg_catalog.>=) %s', rcol, threshold) END);

	check_query := format($q$
WITH t AS MATERIALIZED (%1$s),
u AS (SELECT t.user_key FROM t GROUP BY t.user_key),
i AS (SELECT t.item_key FROM t GROUP BY t.item_key)
SELECT (SELECT pg_catalog.count(*) FROM u) AS test_users,
	   (SELECT pg_catalog.count(*) FROM u JOIN recsys.user_factors f
		  ON f.model OPERATOR(pg_catalog.=) %2$L AND f.version OPERATOR(pg_catalog.=) %3$s
		 AND f.user_key OPERATOR(pg_catalog.=) u.user_key) AS known_users,
	   (SELECT pg_catalog.count(*) FROM i JOIN recsys.item_factors f
		  ON f.model OPERATOR(pg_catalog.=) %2$L AND f.version OPERATOR(pg_catalog.=) %3$s
		 AND f.item_key OPERATOR(pg_catalog.=) i.item_key) AS known_items
$q$, t, model, m.active_version);

	-- the lists: served by recommend_all(), or made elsewhere (re-ranked,
	-- another system) as (user, item, rank), of which ranks up to k count
	IF lists IS NULL THEN
		r := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank '
					'FROM recsys.recommend_all(%L::pg_catalog.text, %s, users => ARRAY(SELECT u.user_key FROM u WHERE u.known)) a',
					model, cutoff);
		IF serve_unknown THEN
			-- users the model does not know get what recommend() gives them
			-- (fold-in from the model's source, or popular items)
			r := r || format(' UNION ALL SELECT u.user_key, (x.item)::pg_catalog.text, x.rank FROM u '
							 'CROSS JOIN LATERAL recsys.recommend(%L::pg_catalog.text, (u.user_key)::%s, %s) x WHERE NOT u.known',
							 model, user_type, cutoff);
		END IF;
	ELSE
		-- (checked: each rank and each item at most once in a user's list)
		r := recsys.eval_lists_sql(lists, cutoff,
			'(x.lu)::pg_catalog.text OPERATOR(pg_catalog.=) ANY (SELECT u.user_key FROM u)', caller_path);
	END IF;

	-- rank is the position in the served list: ties in score are broken
	-- as serving breaks them (by item key), so a metric measures the list
	-- a user would see.  Each user's list (its items and their ranks) and
	-- relevant items go to the metric functions; a user without a list
	-- has an empty one (and scores 0).  Users come in the order of u (the
	-- means evaluate() takes of these rows add them in that order).
	query := format($q$
WITH tu AS MATERIALIZED (
	SELECT t.user_key, pg_catalog.count(*)::integer AS n_relevant, pg_catalog.array_agg(t.item_key) AS relevant
	FROM (%1$s) t GROUP BY t.user_key),
u AS MATERIALIZED (
	SELECT tu.user_key, pg_catalog.row_number() OVER () AS uid, tu.n_relevant, tu.relevant,
		   f.user_key IS NOT NULL AS known
	FROM tu %6$s JOIN recsys.user_factors f
	  ON f.model OPERATOR(pg_catalog.=) %2$L AND f.version OPERATOR(pg_catalog.=) %3$s
	 AND f.user_key OPERATOR(pg_catalog.=) tu.user_key),
r AS MATERIALIZED (%5$s),
l AS (
	SELECT u.uid, pg_catalog.array_agg(r.item_key ORDER BY r.rank) AS items,
		   pg_catalog.array_agg(r.rank ORDER BY r.rank) AS ranks
	FROM r JOIN u ON u.user_key OPERATOR(pg_catalog.=) r.user_key
	GROUP BY u.uid)
SELECT e.user_key, e.n_relevant,
	   recsys.precision_at_k(e.items, e.relevant, %4$s, e.ranks) AS "precision",
	   recsys.recall_at_k(e.items, e.relevant, %4$s, e.ranks) AS recall,
	   recsys.ndcg_at_k(e.items, e.relevant, %4$s, e.ranks) AS ndcg,
	   recsys.average_precision_at_k(e.items, e.relevant, %4$s, e.ranks) AS ap,
	   recsys.reciprocal_rank(e.items, e.relevant, %4$s, e.ranks) AS rr,
	   recsys.hit_at_k(e.items, e.relevant, %4$s, e.ranks) AS hit,
	   e.items,
	   (SELECT pg_catalog.count(*) FROM tu) AS test_users
FROM (SELECT u.uid, u.user_key, u.n_relevant, u.relevant, COALESCE(l.items, '{}') AS items, l.ranks
	  FROM u LEFT JOIN l ON l.uid OPERATOR(pg_catalog.=) u.uid) e
ORDER BY e.uid
$q$, t, model, m.active_version, cutoff, r, CASE WHEN serve_unknown THEN 'LEFT' ELSE '' END);
END
$fn$;

-- Serving: explanations.  recsys.explain() (src/serve_explain.c), as in
-- sql/install/08_serving.sql.
-- Why an item is recommended to a user (src/serve_explain.c): the served
-- score taken apart, one row per contributor, largest first: the user's
-- items (item_knn, ials, als, svd) or the neighbours who have the item
-- (user_knn), keys in their text form.  Rows without a rank hold the rest
-- (kind 'other': the contributors beyond k; 'global mean', 'user bias',
-- 'item bias': the baseline of explicit models; 'residual': factor
-- models, served score minus the closed form), so that all the rows' contributions
-- add up to recsys.predict()'s score; share is contribution / score.
-- k NULL shows every contributor.
CREATE FUNCTION recsys.explain(model text, "user" "any", item "any", k integer DEFAULT 10)
RETURNS TABLE (rank integer, contributor text, kind text, contribution double precision, share double precision)
AS 'MODULE_PATHNAME', 'rs_explain' LANGUAGE C STABLE PARALLEL SAFE ROWS 12
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.explain(text, "any", "any", integer) IS
	'why an item is recommended to a user: the contributions of the user''s items (item_knn, ials, als, svd) or neighbours (user_knn) to the served score, largest first, with the rest, the baseline and the residual as unranked rows';

-- ------------------------------------------------------------------
-- A/B experiments (sql/install/13_experiments.sql): new in 0.3.0, the
-- same statements as a fresh install.
-- ------------------------------------------------------------------

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

CREATE FUNCTION recsys.experiment_point(salt text, "user" anyelement)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_experiment_point' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.experiment_point(text, anyelement) IS
	'a user''s point in [0, 1) for a salt: FNV-1a 64 of the salt, a zero byte and the key''s text form (integers in decimal, char(n) without trailing blanks), SplitMix64-finalised, top 53 bits over 2^53; the same on every server and architecture';

CREATE FUNCTION recsys.assign(experiment text, "user" anyelement)
RETURNS text
AS 'MODULE_PATHNAME', 'rs_assign' LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.assign(text, anyelement) IS
	'the arm of an experiment a user is in: the arm whose interval of [0, 1) holds recsys.experiment_point(salt, user); the same in every session and on every server; still answers after the experiment ended';

CREATE FUNCTION recsys.experiment_store(name text, salt text, arms text[], models text[],
	versions integer[], weights double precision[])
RETURNS void
AS 'MODULE_PATHNAME', 'rs_experiment_store' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.experiment_store(text, text, text[], text[], integer[], double precision[]) IS
	'internal to create_experiment(): writes an experiment and its arms after checking the weights, the versions and the caller''s use of every model';

CREATE FUNCTION recsys.create_experiment(name text, arms jsonb, salt text DEFAULT NULL)
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

CREATE FUNCTION recsys.end_experiment(name text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'rs_end_experiment' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.end_experiment(text) IS
	'ends an experiment (its owner only) and returns when: its rows stay, assign() and experiment_report() still answer, recommend_experiment() refuses it; versions its arms pinned are released';

-- Serving: the arm of the user, then recommend() of the arm's model.
CREATE FUNCTION recsys.recommend_experiment(
	experiment text,
	"user" anyelement,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true)
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
	 WHERE x.experiment = recommend_experiment.experiment AND x.arm = chosen;
	IF a.ended_at IS NOT NULL THEN
		RAISE EXCEPTION 'experiment "%" has ended', experiment
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Serve the model of the arm that won with recsys.recommend(); recsys.assign() still tells each user''s arm.';
	END IF;
	-- VERSION PINS (pending version =>): serve the arm's version,
	-- recsys.recommend(a.model, "user", k, exclude_seen, version => a.version).
	PERFORM recsys.experiment_arm_version(a.model, a.version);
	RETURN QUERY SELECT chosen, r.item, r.score, r.rank
				 FROM recsys.recommend(a.model, "user", k, exclude_seen) r;
END
$fn$;
COMMENT ON FUNCTION recsys.recommend_experiment(text, anyelement, integer, boolean) IS
	'top-k items for a user from the arm of the experiment the user is in (recsys.assign), with the arm on each row; an ended experiment is an error';

-- VERSION PINS (pending version =>).  An arm with a fixed version is served
-- and evaluated at that version once serving takes version =>; until then
-- such an arm works while its version is the active one, and is refused
-- (0A000) otherwise, never served from another version.
CREATE FUNCTION recsys.experiment_arm_version(model text, version integer)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	active integer;
BEGIN
	IF version IS NULL THEN
		RETURN;
	END IF;
	SELECT m.active_version INTO active FROM recsys.models m WHERE m.name = experiment_arm_version.model;
	IF active IS DISTINCT FROM version THEN
		RAISE EXCEPTION 'model "%" serves version %, the arm asks for version %', model, active, version
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Serving a version other than the active one comes with version =>; make the version active, or give the arm a NULL version.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.experiment_arm_version(text, integer) IS
	'internal to recommend_experiment() and experiment_report(): refuses an arm whose fixed version is not the model''s active one';

CREATE FUNCTION recsys.bootstrap_mean_difference(control double precision[], treatment double precision[],
	resamples integer DEFAULT 1000, seed bigint DEFAULT 42, alpha double precision DEFAULT 0.05)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'rs_bootstrap_mean_difference' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.bootstrap_mean_difference(double precision[], double precision[], integer, bigint, double precision) IS
	'percentile bootstrap interval {low, high}, confidence 1 - alpha, of mean(treatment) - mean(control): resamples draws with replacement within each group, deterministic for the seed; NULLs left out';

CREATE FUNCTION recsys.experiment_report_body(
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
		PERFORM recsys.experiment_arm_version(a.model, a.version);
		-- each arm on its own users: the test users the arm's model knows
		-- and the experiment assigns to the arm.
		-- VERSION PINS (pending version =>): evaluate at a.version
		-- (recsys.evaluate_users_body(..., version => a.version)).
		EXECUTE format('SELECT pg_catalog.array_agg(e.%I ORDER BY e.user_key) '
					   'FROM recsys.evaluate_users_body($1, $2, $3, $4, $5, NULL, NULL, $6) e '
					   'WHERE recsys.assign($7, e.user_key) OPERATOR(pg_catalog.=) $8', col)
			INTO vals
			USING a.model, test_set, k, user_col, item_col, caller_path, experiment, a.arm;
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

CREATE FUNCTION recsys.experiment_report(
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
