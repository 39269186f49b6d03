-- 07_training.sql: training (src/train.c, the cores in src/core/): train()
-- from a table, view or SELECT, retrain() from the stored definition, the
-- aggregate fit() (one model per group) and drop_model(); scheduling
-- them with pg_cron is in 15_updates.  Training writes the catalog, so it is
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
