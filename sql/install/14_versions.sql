-- 14_versions.sql: which kept version of a model serves (src/versions.c):
-- recsys.activate() for rollback and roll-forward, the history of
-- activations, and pins that keep versions from being pruned.
--
-- Every change of a model's active version is recorded in
-- recsys.model_activations: recsys.activate()'s, and those a train() or
-- retrain() makes when it stores a new version.  The history of a model
-- goes with it when it is dropped.
--
-- Pruning (the "keep" training option) never removes the active version nor
-- a version with a pin, whatever its reason: 'user' for
-- recsys.pin_version(), 'experiment <name>' for a version an A/B experiment
-- serves.  Pinned versions do not count against "keep".  A pin goes with its
-- version (the version is deleted only by drop_model()).
--
-- Both tables are catalog tables like those of 06_catalog.sql: written only
-- by the catalog's owner (through these functions and training), kept by
-- pg_dump, and shown to each role for the models it may use.

CREATE TABLE recsys.model_activations (
	model text NOT NULL,
	version integer NOT NULL,
	previous_version integer,
	activated_by pg_catalog.regrole NOT NULL,
	activated_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX model_activations_model_idx ON recsys.model_activations (model, activated_at);
COMMENT ON TABLE recsys.model_activations IS
	'one row per change of a model''s active version: by recsys.activate() (rollback, roll-forward) or by a training that stored a new version; previous_version NULL: the model had none';
SELECT pg_catalog.pg_extension_config_dump('recsys.model_activations', '');

CREATE TABLE recsys.version_pins (
	model text NOT NULL,
	version integer NOT NULL,
	reason text NOT NULL CHECK (reason <> ''),
	pinned_by pg_catalog.regrole NOT NULL,
	pinned_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (model, version, reason),
	CONSTRAINT version_pins_version_fkey FOREIGN KEY (model, version)
		REFERENCES recsys.model_versions (model, version) ON DELETE CASCADE
);
COMMENT ON TABLE recsys.version_pins IS
	'versions pruning keeps: one row per model version and reason (''user'': recsys.pin_version(); ''experiment <name>'': an A/B experiment serves it)';
SELECT pg_catalog.pg_extension_config_dump('recsys.version_pins', '');

ALTER TABLE recsys.model_activations ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.version_pins ENABLE ROW LEVEL SECURITY;
CREATE POLICY usable_models ON recsys.model_activations FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
CREATE POLICY usable_models ON recsys.version_pins FOR SELECT
	USING (model OPERATOR(pg_catalog.=) ANY ((SELECT recsys.usable_models())::pg_catalog.text[]));
GRANT SELECT ON recsys.model_activations, recsys.version_pins TO PUBLIC;

CREATE OR REPLACE FUNCTION recsys.activate(model text, version integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_activate' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.activate(text, integer) IS
	'makes a kept version of a model the active one (rollback, roll-forward), recorded in recsys.model_activations; returns the version that was active; serving follows on its next call (owner or superuser only)';

CREATE OR REPLACE FUNCTION recsys.pin_version(model text, version integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_pin_version' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.pin_version(text, integer) IS
	'keeps a version of a model from being pruned (the "keep" option) until recsys.unpin_version(); false if it was already pinned (owner or superuser only)';

CREATE OR REPLACE FUNCTION recsys.unpin_version(model text, version integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_unpin_version' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.unpin_version(text, integer) IS
	'takes back recsys.pin_version(); an experiment''s pins stay; false if the version was not pinned (owner or superuser only)';

-- Like training, choosing and pinning versions writes the catalog: granted
-- explicitly (GRANT EXECUTE ON FUNCTION recsys.activate(text, integer) TO
-- trainer), and then only for the models the role owns.
REVOKE ALL ON FUNCTION recsys.activate(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.pin_version(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.unpin_version(text, integer) FROM PUBLIC;

-- The version the evaluation functions (11_evaluation.sql) measure.
CREATE OR REPLACE FUNCTION recsys.served_version(model text, version integer)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	v integer;
BEGIN
	IF version IS NULL THEN
		SELECT m.active_version INTO v FROM recsys.models m WHERE m.name = served_version.model;
		RETURN v;
	END IF;
	PERFORM FROM recsys.model_versions mv
	  WHERE mv.model = served_version.model AND mv.version = served_version.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no version %', model, version
			USING ERRCODE = 'undefined_object',
				  HINT = format('SELECT version FROM recsys.model_versions WHERE model = %L lists the versions it keeps.', model);
	END IF;
	RETURN version;
END
$fn$;
COMMENT ON FUNCTION recsys.served_version(text, integer) IS
	'internal to the evaluation functions: the version they measure (NULL: the active one), an error (42704) if the model does not keep it; the caller''s use of the model is checked before';
