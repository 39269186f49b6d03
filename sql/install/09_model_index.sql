-- 09_model_index.sql: managed per-model indexes (src/model_index.c).
--
-- A model's recsys_hnsw index on recsys.item_factors is asked for with
-- recsys.create_model_index() and kept by recsys (src/model_index.c): one
-- partial index per dimension of the model's kept versions, built again by
-- the next training or recsys.restore_model_indexes() after pg_restore
-- (which does not dump indexes on an extension's tables).  Indexes are
-- dropped and rebuilt by a superuser only (drop_unused_model_indexes,
-- reindex_model): both lock item_factors against every reader.  What a
-- model asks for is recsys.models.index_options (06_catalog.sql).

CREATE FUNCTION recsys.create_model_index(model text, m integer DEFAULT NULL,
										  ef_construction integer DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_create_model_index' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.create_model_index(text, integer, integer) IS
	'serves an ials model through a recsys_hnsw index that recsys keeps across retrains (owner only); returns the indexes built';

CREATE FUNCTION recsys.drop_model_index(model text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_drop_model_index' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.drop_model_index(text) IS
	'withdraws a model''s request for an index (owner only): serving scores every item; false if there was none';

CREATE FUNCTION recsys.reindex_model(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_reindex_model' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.reindex_model(text) IS
	'rebuilds a model''s managed indexes (superuser only: REINDEX locks out every model''s serving until commit); returns how many';

CREATE FUNCTION recsys.drop_unused_model_indexes()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'rs_drop_unused_model_indexes' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.drop_unused_model_indexes() IS
	'superuser only: drops the managed indexes no model needs any more (DROP INDEX locks out every model''s serving until commit); returns their names';

CREATE FUNCTION recsys.restore_model_indexes()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'rs_restore_model_indexes' LANGUAGE C VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.restore_model_indexes() IS
	'after pg_restore: builds the missing managed indexes of the models the caller owns (a superuser: all); returns their names';

REVOKE ALL ON FUNCTION recsys.drop_unused_model_indexes() FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.create_model_index(text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.drop_model_index(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.reindex_model(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.restore_model_indexes() FROM PUBLIC;
