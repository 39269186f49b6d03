-- 16_tuning.sql: hyper-parameter search (src/tune.c): recsys.tune() tries
-- option sets with k-fold cross-validation and trains the best on all the
-- data as the model's new version; recsys.tuning_trials keeps every trial.
--
-- A tuning run is made of calls the caller could make: split(method =>
-- 'kfold') once per fold into temporary tables, then for each trial and
-- fold train() of a scratch model and evaluate() on the fold's test part
-- (in a subtransaction that is then rolled back), all with the caller's
-- rights; then train() of the model itself.  Only the record of the
-- trials is written as the catalog's owner (tune_store, for the model's
-- owner).  It is one transaction: a
-- cancelled or failed run leaves nothing behind and the previous version
-- active.  What it does, with an example: doc/evaluation.md, "Tuning".

CREATE TABLE recsys.tuning_trials (
	model text NOT NULL,
	version integer NOT NULL,
	trial integer NOT NULL CHECK (trial >= 0),
	options jsonb NOT NULL,
	metric text NOT NULL CHECK (metric IN ('rmse', 'mae', 'precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr')),
	k integer CHECK (k >= 1),
	folds integer NOT NULL CHECK (folds BETWEEN 2 AND 100),
	seed integer NOT NULL,
	mean double precision NOT NULL,
	sd double precision,
	fold_values double precision[] NOT NULL CHECK (pg_catalog.cardinality(fold_values) = folds),
	seconds double precision NOT NULL CHECK (seconds >= 0),
	best boolean NOT NULL,
	tuned_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (model, version, trial),
	CONSTRAINT tuning_trials_version_fkey FOREIGN KEY (model, version)
		REFERENCES recsys.model_versions (model, version) ON DELETE CASCADE
);
COMMENT ON TABLE recsys.tuning_trials IS
	'the trials of each recsys.tune() run, against the version it trained with the best of them: the options tried (trial 0: the options given, or the defaults), the metric''s mean and sample standard deviation over the folds, each fold''s value, seconds; removed with the version';

-- one best trial per run
CREATE UNIQUE INDEX tuning_trials_best ON recsys.tuning_trials (model, version) WHERE best;

SELECT pg_catalog.pg_extension_config_dump('recsys.tuning_trials', '');

-- As the model catalog: a role reads the trials of the models it may use.
ALTER TABLE recsys.tuning_trials ENABLE ROW LEVEL SECURITY;
CREATE POLICY usable_models ON recsys.tuning_trials FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
GRANT SELECT ON recsys.tuning_trials TO PUBLIC;

CREATE OR REPLACE FUNCTION recsys.training_options(algorithm text, options jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'rs_training_options' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.training_options(text, jsonb) IS
	'the parameters a training with these options would use, checked as train() checks them (algorithm NULL: the options'' "algorithm", or als); trains nothing';

CREATE OR REPLACE FUNCTION recsys.tune_scratch(model text)
RETURNS text
AS 'MODULE_PATHNAME', 'rs_tune_scratch' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.tune_scratch(text) IS
	'internal to tune(): checks that the caller may make a new version of the model, and names a model that does not exist for the run''s folds';

CREATE OR REPLACE FUNCTION recsys.tune_scratch_done(scratch text)
RETURNS void
AS 'MODULE_PATHNAME', 'rs_tune_scratch_done' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.tune_scratch_done(text) IS
	'internal to tune(): releases a rolled-back fold model from this session''s serving cache';

CREATE OR REPLACE FUNCTION recsys.tune_store(model text, version integer, trials jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'rs_tune_store' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.tune_store(text, integer, jsonb) IS
	'internal to tune(): records a run''s trials against the version it trained in this transaction (the model''s owner only)';

-- A uniform number in [0, 1) for a seed, a trial and an option: 52 bits of
-- an md5, the same on every server.
CREATE OR REPLACE FUNCTION recsys.tune_uniform(seed integer, trial integer, name text)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
	SELECT (('x' || substr(md5(format('%s/%s/%s', seed, trial, name)), 1, 13))::bit(52)::bigint)::double precision
		/ 4503599627370496.0
$fn$;
COMMENT ON FUNCTION recsys.tune_uniform(integer, integer, text) IS
	'internal to tune(): the uniform number in [0, 1) random search draws for an option of a trial';

-- The candidate option sets of a search space (without the fixed ones):
-- the grid's every combination (the first option varying slowest), or
-- trials random draws, each option a uniform pick from its list or a
-- uniform (log-uniform with "log": true) draw from its range, integer
-- with "integer": true, otherwise rounded to 3 significant digits.
CREATE OR REPLACE FUNCTION recsys.tune_candidates(space jsonb, trials integer, seed integer)
RETURNS jsonb[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	names text[] := ARRAY(SELECT jsonb_object_keys(space));
	acc jsonb[] := '{}';
	cand jsonb;
	spec jsonb;
	n bigint := 1;
	idx bigint;
	u double precision;
	lo double precision;
	hi double precision;
	x double precision;
	v jsonb;
BEGIN
	IF trials IS NULL THEN
		FOREACH spec IN ARRAY ARRAY(SELECT space -> nm FROM unnest(names) nm) LOOP
			n := n * jsonb_array_length(spec);
		END LOOP;
		FOR i IN 0 .. (n - 1)::integer LOOP
			cand := '{}';
			idx := i;
			FOR j IN REVERSE array_length(names, 1) .. 1 LOOP
				spec := space -> names[j];
				cand := cand || jsonb_build_object(names[j], spec -> (idx % jsonb_array_length(spec))::integer);
				idx := idx / jsonb_array_length(spec);
			END LOOP;
			acc := acc || cand;
		END LOOP;
		RETURN acc;
	END IF;
	FOR t IN 1 .. trials LOOP
		cand := '{}';
		FOR j IN 1 .. array_length(names, 1) LOOP
			spec := space -> names[j];
			u := recsys.tune_uniform(seed, t, names[j]);
			IF jsonb_typeof(spec) = 'array' THEN
				v := spec -> floor(u * jsonb_array_length(spec))::integer;
			ELSE
				lo := (spec ->> 'min')::double precision;
				hi := (spec ->> 'max')::double precision;
				IF coalesce((spec ->> 'integer')::boolean, false) THEN
					lo := ceil(lo);
					hi := floor(hi);
					IF coalesce((spec ->> 'log')::boolean, false) THEN
						x := floor(exp(ln(lo) + u * (ln(hi + 1) - ln(lo))));
					ELSE
						x := floor(lo + u * (hi - lo + 1));
					END IF;
					v := to_jsonb(least(x, hi)::bigint);
				ELSE
					IF coalesce((spec ->> 'log')::boolean, false) THEN
						x := exp(ln(lo) + u * (ln(hi) - ln(lo)));
					ELSE
						x := lo + u * (hi - lo);
					END IF;
					x := least(greatest(x, lo), hi);
					IF x = 0 THEN
						v := to_jsonb(0);
					ELSE
						-- 3 significant digits, unless that leaves the range
						v := to_jsonb(round(x::numeric, (2 - floor(log(abs(x))))::integer)::double precision);
						IF (v #>> '{}')::double precision NOT BETWEEN lo AND hi THEN
							v := to_jsonb(x);
						END IF;
					END IF;
				END IF;
			END IF;
			cand := cand || jsonb_build_object(names[j], v);
		END LOOP;
		acc := acc || cand;
	END LOOP;
	RETURN acc;
END
$fn$;
COMMENT ON FUNCTION recsys.tune_candidates(jsonb, integer, integer) IS
	'internal to tune(): the option sets a search space gives, its grid (trials NULL) or trials random draws for a seed';

-- The space's checks: an object of known options of the algorithm, none
-- fixed by the given options too, each a non-empty list of values or (for
-- random search) a range {"min", "max", "log", "integer"}; every value
-- and every candidate set is checked as train() would check it, before
-- anything is trained.
CREATE OR REPLACE FUNCTION recsys.tune_check_space(space jsonb, alg text, base jsonb, trials integer)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	example constant text := 'For example space => ''{"factors": [16, 32, 64], "regularization": [0.05, 0.1, 0.2]}'' (a grid), '
		'or with trials => 20 ranges too: ''{"regularization": {"min": 0.01, "max": 1, "log": true}}''.';
	nm text;
	spec jsonb;
	elem jsonb;
	bad text;
	cells numeric := 1;
BEGIN
	IF space IS NULL OR jsonb_typeof(space) <> 'object' OR space = '{}' THEN
		RAISE EXCEPTION 'space must be a JSON object of the options to tune'
			USING ERRCODE = 'invalid_parameter_value', HINT = example;
	END IF;
	FOR nm, spec IN SELECT e.key, e.value FROM jsonb_each(space) e LOOP
		IF nm = 'algorithm' THEN
			RAISE EXCEPTION 'space cannot tune option "algorithm"'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Tune one algorithm per call (algorithm => ...), then compare the best trials.';
		END IF;
		IF base ? nm THEN
			RAISE EXCEPTION 'option "%" is both in space and in base_options', nm
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'base_options holds the options every trial shares; leave the tuned ones out of it.';
		END IF;
		IF jsonb_typeof(spec) = 'array' THEN
			IF jsonb_array_length(spec) = 0 THEN
				RAISE EXCEPTION 'the values of option "%" in space are an empty list', nm
					USING ERRCODE = 'invalid_parameter_value', HINT = example;
			END IF;
			cells := cells * jsonb_array_length(spec);
			FOR elem IN SELECT jsonb_array_elements(spec) LOOP
				PERFORM recsys.training_options(alg, base || jsonb_build_object(nm, elem));
			END LOOP;
		ELSIF jsonb_typeof(spec) = 'object' THEN
			SELECT string_agg(k, ', ') INTO bad FROM jsonb_object_keys(spec) k
			 WHERE k NOT IN ('min', 'max', 'log', 'integer');
			IF bad IS NOT NULL THEN
				RAISE EXCEPTION 'the range of option "%" in space has unknown keys: %', nm, bad
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'A range is {"min": a, "max": b}, with "log": true for a log-uniform draw and "integer": true for whole numbers.';
			END IF;
			IF jsonb_typeof(spec -> 'min') IS DISTINCT FROM 'number' OR jsonb_typeof(spec -> 'max') IS DISTINCT FROM 'number'
			   OR jsonb_typeof(coalesce(spec -> 'log', 'false')) <> 'boolean'
			   OR jsonb_typeof(coalesce(spec -> 'integer', 'false')) <> 'boolean' THEN
				RAISE EXCEPTION 'the range of option "%" in space needs numbers "min" and "max" (and true or false for "log" and "integer")', nm
					USING ERRCODE = 'invalid_parameter_value', HINT = example;
			END IF;
			IF (spec ->> 'min')::numeric > (spec ->> 'max')::numeric
			   OR ((spec ->> 'integer')::boolean AND ceil((spec ->> 'min')::numeric) > floor((spec ->> 'max')::numeric)) THEN
				RAISE EXCEPTION 'the range of option "%" in space is empty (min % > max %)', nm, spec -> 'min', spec -> 'max'
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = CASE WHEN (spec ->> 'integer')::boolean THEN 'An integer range needs a whole number between min and max.'
									  ELSE 'Give min <= max.' END;
			END IF;
			IF (spec ->> 'log')::boolean AND (spec ->> 'min')::numeric <= 0 THEN
				RAISE EXCEPTION 'the log range of option "%" in space must have min > 0, not %', nm, spec -> 'min'
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'A log-uniform draw needs a positive range; drop "log" for a range from 0.';
			END IF;
			IF trials IS NULL THEN
				RAISE EXCEPTION 'option "%" has a range, which only random search draws from', nm
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Give trials => n for n random draws, or list the values to try: "' || nm || '": [...].';
			END IF;
			PERFORM recsys.training_options(alg, base || jsonb_build_object(nm, CASE WHEN (spec ->> 'integer')::boolean
				THEN to_jsonb(ceil((spec ->> 'min')::numeric)) ELSE spec -> 'min' END));
			PERFORM recsys.training_options(alg, base || jsonb_build_object(nm, CASE WHEN (spec ->> 'integer')::boolean
				THEN to_jsonb(floor((spec ->> 'max')::numeric)) ELSE spec -> 'max' END));
			-- a whole-number option drawn from a range without "integer"
			-- would fail at its first fractional draw: say so now
			IF NOT coalesce((spec ->> 'integer')::boolean, false)
			   AND (spec ->> 'max')::numeric - (spec ->> 'min')::numeric >= 1 THEN
				BEGIN
					PERFORM recsys.training_options(alg, base || jsonb_build_object(nm, (spec ->> 'min')::numeric + 0.5));
				EXCEPTION WHEN invalid_parameter_value THEN
					RAISE EXCEPTION 'option "%" takes whole numbers, but its range in space draws fractions', nm
						USING ERRCODE = 'invalid_parameter_value',
							  HINT = 'Add "integer": true to its range: "' || nm || '": {"min": ..., "max": ..., "integer": true}.';
				END;
			END IF;
		ELSE
			RAISE EXCEPTION 'option "%" in space must be a list of values or a range, not %', nm, spec
				USING ERRCODE = 'invalid_parameter_value', HINT = example;
		END IF;
	END LOOP;
	IF trials IS NULL AND cells > 1000 THEN
		RAISE EXCEPTION 'the grid of space has % option sets, more than 1000', cells
			USING ERRCODE = 'program_limit_exceeded',
				  HINT = 'Search it at random instead: trials => 50 draws 50 of them.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.tune_check_space(jsonb, text, jsonb, integer) IS
	'internal to tune(): checks a search space before anything is trained';

CREATE OR REPLACE FUNCTION recsys.tune_body(
	model text,
	source text,
	user_col text,
	item_col text,
	rating_col text,
	algorithm text,
	space jsonb,
	folds integer,
	metric text,
	trials integer,
	seed integer,
	base_options jsonb,
	k integer,
	time_budget interval,
	caller_path text)
RETURNS TABLE (trial integer, options jsonb, mean double precision, sd double precision,
	seconds double precision, best boolean, version integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	pinned constant text := 'pg_catalog, recsys, pg_temp';
	started constant timestamptz := clock_timestamp();
	alg text;
	base jsonb := coalesce(base_options, '{}');
	cands jsonb[];
	lower_better boolean;
	scratch text;
	tag text;
	train_names text[] := '{}';
	test_names text[] := '{}';
	test_rows bigint;
	opts jsonb;
	vals double precision[];
	v double precision;
	t0 timestamptz;
	acc jsonb[] := '{}';
	best_trial integer;
	best_mean double precision;
	m double precision;
	res recsys.train_result;
BEGIN
	IF model IS NULL OR source IS NULL OR user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'model, source, user_col and item_col must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF folds IS NULL OR folds < 2 THEN
		RAISE EXCEPTION 'folds must be at least 2, not %', coalesce(folds::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'folds => 5 trains every trial five times, each time holding out a fifth of every user''s rows.';
	END IF;
	IF folds > 100 THEN
		RAISE EXCEPTION 'folds must be at most 100, not %', folds
			USING ERRCODE = 'program_limit_exceeded',
				  HINT = 'Five or ten folds are the usual choice.';
	END IF;
	IF trials IS NOT NULL AND trials < 1 THEN
		RAISE EXCEPTION 'trials must be at least 1, not %', trials
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Leave trials out to try the whole grid of space, or give the number of random draws.';
	END IF;
	IF trials > 1000 THEN
		RAISE EXCEPTION 'trials must be at most 1000, not %', trials
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	IF seed IS NULL THEN
		RAISE EXCEPTION 'seed must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k < 1 THEN
		RAISE EXCEPTION 'k must be at least 1, not %', k
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF time_budget IS NOT NULL AND NOT time_budget > interval '0' THEN
		RAISE EXCEPTION 'time_budget must be a positive interval, not %', time_budget
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example time_budget => ''10 minutes''.';
	END IF;
	IF jsonb_typeof(base) <> 'object' THEN
		RAISE EXCEPTION 'base_options must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	alg := coalesce(algorithm, base ->> 'algorithm', 'als');
	PERFORM recsys.training_options(alg, base);
	metric := coalesce(lower(metric),
					   CASE WHEN rating_col IS NOT NULL AND alg IN ('als', 'svd', 'nmf', 'svdpp') THEN 'rmse' ELSE 'ndcg' END);
	IF metric NOT IN ('rmse', 'mae', 'precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr') THEN
		RAISE EXCEPTION 'unknown metric "%"', metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use rmse or mae (ratings), or precision, recall, ndcg, map, hit_rate or mrr (at k).';
	END IF;
	IF metric IN ('rmse', 'mae') AND rating_col IS NULL THEN
		RAISE EXCEPTION 'metric % needs rating_col', metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the column of ratings, or tune a ranking metric such as ndcg.';
	END IF;
	lower_better := metric IN ('rmse', 'mae');
	IF lower_better AND k IS NOT NULL THEN
		RAISE EXCEPTION 'k applies to ranking metrics, not to %', metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Leave k out for rmse and mae, or tune a ranking metric such as ndcg.';
	END IF;
	k := coalesce(k, 10);
	-- tuning trains: the caller needs train() (which PUBLIC does not have)
	IF NOT has_function_privilege('recsys.train(text, text, text, text, text, text, jsonb)', 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function train'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'recsys.tune() trains with recsys.train(); ask for EXECUTE on it.';
	END IF;
	PERFORM recsys.tune_check_space(space, alg, base, trials);
	cands := recsys.tune_candidates(space, trials, seed);
	FOR i IN 1 .. array_length(cands, 1) LOOP
		PERFORM recsys.training_options(alg, base || cands[i]);
	END LOOP;

	-- the caller may make a new version of model; the folds' scratch name
	scratch := recsys.tune_scratch(model);
	tag := right(scratch, 16);

	-- the folds, split once (with the caller's rights and path)
	FOR f IN 1 .. folds LOOP
		train_names := train_names || format('pg_temp.%I', format('recsys tune %s train %s', tag, f));
		test_names := test_names || format('pg_temp.%I', format('recsys tune %s test %s', tag, f));
		SELECT s."rows" INTO test_rows
		  FROM recsys.split_body(source, user_col, item_col, 'kfold', NULL, seed, NULL,
								 train_names[f], test_names[f], true, folds, f, caller_path) s
		 WHERE s.part = 'test';
		IF test_rows = 0 THEN
			RAISE EXCEPTION 'fold % of % holds out no rows', f, folds
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Each user''s rows are dealt round the folds; with fewer rows per user than folds, a fold can get none.',
					  HINT = 'Choose fewer folds.';
		END IF;
	END LOOP;

	-- trial 0: the options given (the defaults when none); then the space's
	FOR t IN 0 .. array_length(cands, 1) LOOP
		IF t > 0 AND time_budget IS NOT NULL AND clock_timestamp() - started >= time_budget THEN
			RAISE NOTICE 'time budget of % spent: % of % trials run', time_budget, t, array_length(cands, 1) + 1;
			EXIT;
		END IF;
		opts := CASE WHEN t = 0 THEN base ELSE base || cands[t] END;
		t0 := clock_timestamp();
		vals := '{}';
		FOR f IN 1 .. folds LOOP
			-- The fold's model lives in a subtransaction that is rolled
			-- back once measured: nothing of it stays (v, a variable,
			-- does).  train() reads with the caller's path, as when
			-- called directly.
			BEGIN
				PERFORM pg_catalog.set_config('search_path', caller_path, true);
				PERFORM recsys.train(scratch, train_names[f], user_col, item_col, rating_col, alg, opts);
				PERFORM pg_catalog.set_config('search_path', pinned, true);
				v := NULL;
				SELECT e.value INTO v
				  FROM recsys.eval_metrics(scratch, test_names[f], k, NULL, NULL, NULL, NULL, NULL,
										   ARRAY[metric], NULL, 'skip', NULL, caller_path) e
				 WHERE e.metric = tune_body.metric AND e.user_group IS NULL;
				RAISE EXCEPTION USING ERRCODE = 'RSTU0', MESSAGE = scratch;
			EXCEPTION WHEN SQLSTATE 'RSTU0' THEN
				IF SQLERRM IS DISTINCT FROM scratch THEN
					RAISE;
				END IF;
			END;
			PERFORM recsys.tune_scratch_done(scratch);
			IF v IS NULL OR v = 'NaN' THEN
				RAISE EXCEPTION 'fold % of % measured no users for trial %', f, folds, t
					USING ERRCODE = 'data_exception',
						  HINT = 'Every fold''s test users need rows in its training part; check the source.';
			END IF;
			vals := vals || v;
		END LOOP;
		SELECT avg(x), stddev_samp(x) INTO m, v FROM unnest(vals) x;
		IF best_trial IS NULL OR (lower_better AND m < best_mean) OR (NOT lower_better AND m > best_mean) THEN
			best_trial := t;
			best_mean := m;
		END IF;
		acc := acc || jsonb_build_object('trial', t, 'options', opts, 'metric', metric,
			'k', CASE WHEN lower_better THEN NULL ELSE k END, 'folds', folds, 'seed', seed,
			'mean', m, 'sd', v, 'fold_values', to_jsonb(vals),
			'seconds', extract(epoch FROM clock_timestamp() - t0), 'best', false);
	END LOOP;
	FOR f IN 1 .. folds LOOP
		EXECUTE format('DROP TABLE %s, %s', train_names[f], test_names[f]);
	END LOOP;

	-- the best options on all the data, as the model's new version
	acc[best_trial + 1] := jsonb_set(acc[best_trial + 1], '{best}', 'true');
	opts := acc[best_trial + 1] -> 'options';
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	res := recsys.train(model, source, user_col, item_col, rating_col, alg, opts);
	PERFORM pg_catalog.set_config('search_path', pinned, true);
	PERFORM recsys.tune_store(model, res.version, to_jsonb(acc));
	FOR t IN 1 .. array_length(acc, 1) LOOP
		trial := acc[t] ->> 'trial';
		options := acc[t] -> 'options';
		mean := acc[t] ->> 'mean';
		sd := acc[t] ->> 'sd';
		seconds := acc[t] ->> 'seconds';
		best := acc[t] ->> 'best';
		version := res.version;
		RETURN NEXT;
	END LOOP;
END
$fn$;
COMMENT ON FUNCTION recsys.tune_body(text, text, text, text, text, text, jsonb, integer, text, integer, integer, jsonb, integer, interval, text) IS
	'internal: the body of recsys.tune(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.tune(
	model text,
	source text,
	user_col text,
	item_col text,
	rating_col text DEFAULT NULL,
	algorithm text DEFAULT NULL,
	space jsonb DEFAULT NULL,
	folds integer DEFAULT 5,
	metric text DEFAULT NULL,
	trials integer DEFAULT NULL,
	seed integer DEFAULT 42,
	base_options jsonb DEFAULT NULL,
	k integer DEFAULT NULL,
	time_budget interval DEFAULT NULL)
RETURNS TABLE (trial integer, options jsonb, mean double precision, sd double precision,
	seconds double precision, best boolean, version integer)
LANGUAGE sql VOLATILE
AS $fn$
	SELECT * FROM recsys.tune_body($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.tune(text, text, text, text, text, text, jsonb, integer, text, integer, integer, jsonb, integer, interval) IS
	'hyper-parameter search: tries the options of space (a grid of value lists, or trials random draws that may use ranges) on base_options, and base_options alone as trial 0, with folds-fold per-user cross-validation of the source (split method kfold, seed) on metric (rmse for als and svd with ratings, else ndcg at k, 10 unless given); trains the best on all the data as the model''s new version and keeps the trials in recsys.tuning_trials; returns one row per trial: options, mean and sample sd of the metric over the folds, seconds, which was best, the version trained; stops starting trials once time_budget is spent; one transaction (a cancelled run changes nothing); deterministic for a seed';
