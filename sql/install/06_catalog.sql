-- 06_catalog.sql: the model catalog (src/catalog.c, src/catalog_read.c,
-- src/privileges.c): its tables and view, the sequence of version
-- identities, what pg_dump keeps, who may use a model (grants, the
-- functions that check and change them) and the row-level security that
-- shows each role only those models' rows.
--
-- Keys are stored in their text form; user_key_type and item_key_type name
-- the type they came in.  Catalog rows are written only by the training
-- functions (which write them as the catalog's owner); the data a model is
-- trained on is always read with the caller's rights.
--
-- Every stored version gets an identity that is never used again (a version
-- number can come back: drop_model then train starts at 1 again, and a
-- training rolled back and redone reuses its number).  Caches of served
-- models are keyed by it.
--
-- The active version always exists: pruning cannot remove it, and an UPDATE
-- cannot point a model at a version that is not there.  (Versions do not
-- reference their model: two config tables that reference each other could
-- not be restored by pg_restore, one table at a time.  The catalog functions
-- delete a model's versions with it.)
--
-- Models are owned by a role OID, not a name: renaming the owner keeps the
-- model theirs, and a new role that takes an old name gets nothing.  A model
-- whose owner role no longer exists keeps the OID (shown as a number); only
-- a superuser may act on it, or give it to another role with
-- recsys.alter_model_owner().
--
-- A model's stored source and attributes run, on retrain and on fold-in, as
-- the model's owner under SECURITY_RESTRICTED_OPERATION, with the
-- search_path stored with it: the schemas of the trainer's search_path when
-- the model was trained (pg_catalog first and pg_temp last), fixed at that
-- moment.

CREATE SEQUENCE recsys.model_version_ids;

CREATE TABLE recsys.model_versions (
	model text NOT NULL,
	version integer NOT NULL,
	algorithm text NOT NULL,
	params jsonb NOT NULL,
	users integer NOT NULL,
	items integer NOT NULL,
	interactions bigint NOT NULL,
	rows_read bigint NOT NULL,
	rows_skipped bigint NOT NULL,
	duplicates bigint NOT NULL,
	global_mean double precision NOT NULL,
	final_loss double precision,
	loss_history double precision[] NOT NULL,
	memory_bytes bigint NOT NULL,
	seconds double precision,
	trained_by name NOT NULL,
	trained_at timestamptz NOT NULL DEFAULT now(),
	version_id bigint NOT NULL DEFAULT pg_catalog.nextval('recsys.model_version_ids'),
	data_until timestamptz,
	updated_from integer,
	definition_md5 text,
	PRIMARY KEY (model, version),
	CONSTRAINT model_versions_version_id_key UNIQUE (version_id)
);
ALTER SEQUENCE recsys.model_version_ids OWNED BY recsys.model_versions.version_id;
COMMENT ON TABLE recsys.model_versions IS
	'one row per trained version: effective parameters, data sizes, time, memory and loss history';
COMMENT ON COLUMN recsys.model_versions.data_until IS
	'the newest interaction time the version has read (models trained with "time_column"): where recsys.update() starts; NULL: none recorded';
COMMENT ON COLUMN recsys.model_versions.updated_from IS
	'the version recsys.update() made this one from; NULL: trained';
COMMENT ON COLUMN recsys.model_versions.definition_md5 IS
	'md5 of the model''s definition (algorithm, source, columns, key types, options, search_path) the version was made with; recsys.update() extends only a version of the current definition';
COMMENT ON COLUMN recsys.model_versions.version_id IS
	'identity of the stored version, never reused (not even after drop_model or a rolled-back training)';

CREATE TABLE recsys.models (
	name text PRIMARY KEY CHECK (name <> '' AND octet_length(name) <= 200),
	algorithm text NOT NULL,
	source text,
	user_column text,
	item_column text,
	rating_column text,
	user_key_type regtype NOT NULL,
	item_key_type regtype NOT NULL,
	options jsonb NOT NULL DEFAULT '{}',
	active_version integer,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	owner pg_catalog.regrole NOT NULL,
	search_path text,
	index_options jsonb,
	CONSTRAINT models_active_version_fkey FOREIGN KEY (name, active_version)
		REFERENCES recsys.model_versions (model, version)
);
COMMENT ON TABLE recsys.models IS
	'recommendation models: definition (source, columns, options), owner and active version';
COMMENT ON COLUMN recsys.models.owner IS
	'the role that owns the model (by OID; shown by its current name)';
COMMENT ON COLUMN recsys.models.search_path IS
	'the search_path the stored source and attributes run with (the trainer''s, fixed when trained)';
COMMENT ON COLUMN recsys.models.index_options IS
	'the model''s managed recsys_hnsw index (m, ef_construction), NULL: none';

CREATE TABLE recsys.user_factors (
	model text NOT NULL,
	version integer NOT NULL,
	user_key text NOT NULL,
	user_idx integer NOT NULL,
	bias real,
	factors recsys.embedding,
	interactions integer NOT NULL,
	seen integer[] NOT NULL,
	ratings real[],
	PRIMARY KEY (model, version, user_key)
);
COMMENT ON TABLE recsys.user_factors IS
	'one row per user and model version: key (as text), bias, latent factors, the item_idx of the items the user interacted with in training, and (explicit neighbourhood models) their ratings';

CREATE TABLE recsys.item_factors (
	model text NOT NULL,
	version integer NOT NULL,
	item_key text NOT NULL,
	item_idx integer NOT NULL,
	bias real,
	factors recsys.embedding,
	interactions integer NOT NULL,
	implicit_factors recsys.embedding,
	PRIMARY KEY (model, version, item_key)
);
COMMENT ON TABLE recsys.item_factors IS
	'one row per item and model version: the item''s key (as text), bias (popularity: score) and latent factors';
COMMENT ON COLUMN recsys.item_factors.implicit_factors IS
	'svdpp: the item''s implicit factors y_j, which a user''s vector sums over the items they rated (fold-in, update()); NULL for other models';

-- Neighbourhood models (item_knn, user_knn): each entity's K most similar
-- entities, best first, as arrays; an entity without neighbours has empty
-- arrays.  support is the number of common users (items), 0 for a
-- neighbour found by attribute vectors.
CREATE TABLE recsys.item_neighbors (
	model text NOT NULL,
	version integer NOT NULL,
	item_key text NOT NULL,
	item_idx integer NOT NULL,
	neighbor_keys text[] NOT NULL,
	neighbor_idx integer[] NOT NULL,
	similarity real[] NOT NULL,
	support integer[] NOT NULL,
	PRIMARY KEY (model, version, item_key)
);
COMMENT ON TABLE recsys.item_neighbors IS
	'item_knn: one row per item and model version: the keys and item_idx of its most similar items, best first, with their similarities and supports';

CREATE TABLE recsys.user_neighbors (
	model text NOT NULL,
	version integer NOT NULL,
	user_key text NOT NULL,
	user_idx integer NOT NULL,
	neighbor_keys text[] NOT NULL,
	neighbor_idx integer[] NOT NULL,
	similarity real[] NOT NULL,
	support integer[] NOT NULL,
	PRIMARY KEY (model, version, user_key)
);
COMMENT ON TABLE recsys.user_neighbors IS
	'user_knn: one row per user and model version: the keys and user_idx of its most similar users, best first, with their similarities and supports';

-- The view reads its tables with the reader's rights, so their policies
-- apply to the reader (a view's owner, here a superuser, would bypass them).
CREATE VIEW recsys.neighbors WITH (security_invoker = true) AS
SELECT n.model, n.version, 'item'::text AS kind, n.item_key AS key, p.neighbor,
	   p.similarity, p.support, p.rank::integer AS rank
FROM recsys.item_neighbors n,
	 unnest(n.neighbor_keys, n.similarity, n.support) WITH ORDINALITY AS p(neighbor, similarity, support, rank)
UNION ALL
SELECT n.model, n.version, 'user'::text, n.user_key, p.neighbor,
	   p.similarity, p.support, p.rank::integer
FROM recsys.user_neighbors n,
	 unnest(n.neighbor_keys, n.similarity, n.support) WITH ORDINALITY AS p(neighbor, similarity, support, rank);
COMMENT ON VIEW recsys.neighbors IS
	'neighbourhood models: one row per (item or user, neighbour) and model version, keys as text, rank 1 = most similar';


-- pg_dump keeps the models with the data they describe
SELECT pg_catalog.pg_extension_config_dump('recsys.models', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.model_versions', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.user_factors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_factors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_neighbors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.user_neighbors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.model_version_ids', '');

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

-- Everyone may use the type and the read-only functions; what they may
-- read of the catalog is what the policies above let through.
GRANT USAGE ON SCHEMA recsys TO PUBLIC;
