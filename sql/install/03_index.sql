-- 03_index.sql: the nearest-neighbour index access method recsys_hnsw
-- (src/hnsw*.c) and its operator classes for the three distances.

-- A hierarchical navigable small-world graph over embeddings:
--   CREATE INDEX ON items USING recsys_hnsw (v recsys.embedding_ip_ops)
--       WITH (m = 16, ef_construction = 64);
--   SELECT id FROM items ORDER BY v OPERATOR(recsys.<#>) $1 LIMIT 10;
-- Support function 1 of each opclass tells the index which distance it
-- serves (the stored-vector transform differs: see src/hnsw.h).

CREATE FUNCTION recsys.recsys_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION recsys.recsys_hnsw_handler(internal) IS
	'index access method handler of recsys_hnsw';

CREATE ACCESS METHOD recsys_hnsw TYPE INDEX HANDLER recsys.recsys_hnsw_handler;
COMMENT ON ACCESS METHOD recsys_hnsw IS
	'approximate nearest-neighbour index (HNSW graph) for ORDER BY embedding <op> query LIMIT k';

CREATE FUNCTION recsys.hnsw_l2_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.hnsw_ip_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.hnsw_cosine_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.hnsw_l2_support(internal) IS
	'recsys_hnsw support: the opclass orders by Euclidean distance (<->)';
COMMENT ON FUNCTION recsys.hnsw_ip_support(internal) IS
	'recsys_hnsw support: the opclass orders by negative inner product (<#>), graph built on norm-augmented vectors';
COMMENT ON FUNCTION recsys.hnsw_cosine_support(internal) IS
	'recsys_hnsw support: the opclass orders by cosine distance (<=>), graph built on unit vectors';

CREATE OPERATOR CLASS recsys.embedding_l2_ops
	FOR TYPE recsys.embedding USING recsys_hnsw AS
	OPERATOR 1 recsys.<-> (recsys.embedding, recsys.embedding) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 recsys.hnsw_l2_support(internal);

CREATE OPERATOR CLASS recsys.embedding_ip_ops
	FOR TYPE recsys.embedding USING recsys_hnsw AS
	OPERATOR 1 recsys.<#> (recsys.embedding, recsys.embedding) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 recsys.hnsw_ip_support(internal);

CREATE OPERATOR CLASS recsys.embedding_cosine_ops
	FOR TYPE recsys.embedding USING recsys_hnsw AS
	OPERATOR 1 recsys.<=> (recsys.embedding, recsys.embedding) FOR ORDER BY pg_catalog.float_ops,
	FUNCTION 1 recsys.hnsw_cosine_support(internal);

