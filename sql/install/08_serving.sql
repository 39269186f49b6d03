-- 08_serving.sql: serving (src/serve.c and its family, src/serve_*.c):
-- predict(), top-N recommendations for a user, for a set of items and for
-- every user, similar items and users, and rerank() of a caller's own
-- candidates.

CREATE OR REPLACE FUNCTION recsys.predict(model text, "user" "any", item "any", version integer DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_predict' LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.predict(text, "any", "any", integer) IS
	'predicted rating (als, svd, svdpp, nmf) or score (ials, bpr, popularity, item_knn, user_knn, ease) of an item for a user under the active version (or the kept version given)';

-- Every serving function ends with the same re-ranking arguments (see
-- src/rerank.c for what each does and in which order they apply):
--   exclude_query   SELECT returning item keys never to recommend
--   item_times      SELECT returning (item, timestamp) for freshness
--   half_life       interval: a score halves its lead over the lowest per half-life of age
--   item_groups     SELECT returning (item, group) for the group constraints
--   max_per_group   at most this many items of one group
--   protected_group the group whose share is guaranteed ...
--   min_share       ... in every prefix of the list: floor(min_share * rank) items
--   max_similarity  diversity: cosine similarity to every item above it at most this
--   mmr_lambda      diversity: maximal marginal relevance, 1 = relevance only
--   pool            candidates the constraints choose from first (default 5 k)
--   forbidden       a recsys.bloom of item keys never to recommend
-- The queries run with the caller's rights, once per statement.
--
-- Every serving function (and every evaluation function) ends with
-- version: NULL serves the model's active version, a number one of the
-- versions it keeps (recsys.model_versions), with the same privileges.

CREATE OR REPLACE FUNCTION recsys.recommend(
	model text,
	"user" anyelement,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true,
	exclude "any" DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (item anyelement, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(text, anyelement, integer, boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, integer) IS
	'top-k items for a user under the model''s active version (or the kept version given), best first, with optional exclusions and re-ranking constraints; items come back in the type of the user argument';

CREATE OR REPLACE FUNCTION recsys.recommend_for_items(
	model text,
	items anyarray,
	k integer DEFAULT 10,
	ratings double precision[] DEFAULT NULL,
	exclude_seen boolean DEFAULT true,
	exclude "any" DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (item anyelement, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend_for_items' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend_for_items(text, anyarray, integer, double precision[], boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, integer) IS
	'top-k items for an anonymous session or a new user described by the items seen (and optional ratings): the user is folded into the model';

CREATE OR REPLACE FUNCTION recsys.recommend_all(
	model text,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true,
	exclude text[] DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL,
	users text[] DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE ("user" text, item text, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend_all' LANGUAGE C STABLE PARALLEL SAFE ROWS 100000;
COMMENT ON FUNCTION recsys.recommend_all(text, integer, boolean, text[], text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, text[], integer) IS
	'top-k items for every user of the model (blocked matrix multiply), or for the users listed (keys as text), with the same exclusions and constraints as recommend(); user and item keys in their text form (cast them back, e.g. "user"::int)';

CREATE OR REPLACE FUNCTION recsys.similar_items(model text, item anyelement, k integer DEFAULT 10,
	version integer DEFAULT NULL)
RETURNS TABLE (item anyelement, similarity double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_similar_items' LANGUAGE C STABLE PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.similar_items(text, anyelement, integer, integer) IS
	'the k items most similar to an item: cosine of the item factors (factor models) or the stored neighbours (item_knn, ease: its largest weights)';

CREATE OR REPLACE FUNCTION recsys.similar_users(model text, "user" anyelement, k integer DEFAULT 10,
	version integer DEFAULT NULL)
RETURNS TABLE ("user" anyelement, similarity double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_similar_users' LANGUAGE C STABLE PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.similar_users(text, anyelement, integer, integer) IS
	'the k users most similar to a user: cosine of the user factors (factor models) or the stored neighbours (user_knn)';

-- Why an item is recommended to a user (src/serve_explain.c): the served
-- score taken apart, one row per contributor, largest first: the user's
-- items (item_knn, ials, als, svd) or the neighbours who have the item
-- (user_knn), keys in their text form.  Rows without a rank hold the rest
-- (kind 'other': the contributors beyond k; 'global mean', 'user bias',
-- 'item bias': the baseline of explicit models; 'residual': factor
-- models, served score minus the closed form), so that all the rows' contributions
-- add up to recsys.predict()'s score; share is contribution / score.
-- k NULL shows every contributor.
CREATE OR REPLACE FUNCTION recsys.explain(model text, "user" "any", item "any", k integer DEFAULT 10,
	version integer DEFAULT NULL)
RETURNS TABLE (rank integer, contributor text, kind text, contribution double precision, share double precision)
AS 'MODULE_PATHNAME', 'rs_explain' LANGUAGE C STABLE PARALLEL SAFE ROWS 12
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.explain(text, "any", "any", integer, integer) IS
	'why an item is recommended to a user: the contributions of the user''s items (item_knn, ease, ials, als, svd) or neighbours (user_knn) to the served score, largest first, with the rest, the baseline and the residual as unranked rows';

CREATE OR REPLACE FUNCTION recsys.rerank(
	items anyarray,
	scores double precision[],
	k integer DEFAULT 10,
	exclude "any" DEFAULT NULL,
	item_times timestamptz[] DEFAULT NULL,
	half_life interval DEFAULT NULL,
	groups text[] DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	vectors recsys.embedding[] DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL)
RETURNS TABLE (item anyelement, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_rerank' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.rerank(anyarray, double precision[], integer, "any", timestamptz[], interval, text[], integer, text, double precision, recsys.embedding[], double precision, double precision, recsys.bloom) IS
	'the re-ranking constraints over any candidate set: items and scores (and optional item_times, groups, vectors) are parallel arrays; returns the top k that satisfy them';


-- Keys as text, for parameters whose type the server cannot infer.
-- Drivers that send every parameter untyped and let the server infer its
-- type (node-postgres; pgbench -M prepared; psycopg's server-side binding)
-- leave a key parameter of "user" anyelement or "any" undecidable ("could
-- not determine polymorphic type because input has type unknown").  These
-- overloads take the keys as text, the form the catalog keeps them in
-- whatever their type (an integer key 42 is '42'), and return item keys
-- as text; they run the same C functions, so they give the same rows.
-- recommend_for_items() takes its items as the text of an array, '{3,4}'
-- (an untyped array parameter could not choose between anyarray and
-- text[]).  A
-- key typed in the call still goes to the polymorphic function, but for
-- text, varchar and char(n), which now come here (the same rows, the
-- items as text).
CREATE OR REPLACE FUNCTION recsys.predict(model text, "user" text, item text, version integer DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_predict' LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.predict(text, text, text, integer) IS
	'predict() with the keys as text (for untyped parameters)';

CREATE OR REPLACE FUNCTION recsys.recommend(
	model text,
	"user" text,
	k integer DEFAULT 10,
	exclude_seen boolean DEFAULT true,
	exclude "any" DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (item text, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(text, text, integer, boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, integer) IS
	'recommend() with the user key as text (for untyped parameters); items as text';

CREATE OR REPLACE FUNCTION recsys.recommend_for_items(
	model text,
	items text,
	k integer DEFAULT 10,
	ratings double precision[] DEFAULT NULL,
	exclude_seen boolean DEFAULT true,
	exclude "any" DEFAULT NULL,
	exclude_query text DEFAULT NULL,
	item_times text DEFAULT NULL,
	half_life interval DEFAULT NULL,
	item_groups text DEFAULT NULL,
	max_per_group integer DEFAULT NULL,
	protected_group text DEFAULT NULL,
	min_share double precision DEFAULT NULL,
	max_similarity double precision DEFAULT NULL,
	mmr_lambda double precision DEFAULT NULL,
	pool integer DEFAULT NULL,
	forbidden recsys.bloom DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (item text, score double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_recommend_for_items' LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend_for_items(text, text, integer, double precision[], boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, integer) IS
	'recommend_for_items() with the item keys as the text of an array, ''{3,4}'', as drivers send an array in an untyped parameter; items as text';

CREATE OR REPLACE FUNCTION recsys.similar_items(model text, item text, k integer DEFAULT 10,
	version integer DEFAULT NULL)
RETURNS TABLE (item text, similarity double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_similar_items' LANGUAGE C STABLE PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.similar_items(text, text, integer, integer) IS
	'similar_items() with the item key as text (for untyped parameters); items as text';

CREATE OR REPLACE FUNCTION recsys.similar_users(model text, "user" text, k integer DEFAULT 10,
	version integer DEFAULT NULL)
RETURNS TABLE ("user" text, similarity double precision, rank integer)
AS 'MODULE_PATHNAME', 'rs_similar_users' LANGUAGE C STABLE PARALLEL SAFE ROWS 10
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.similar_users(text, text, integer, integer) IS
	'similar_users() with the user key as text (for untyped parameters); users as text';

CREATE OR REPLACE FUNCTION recsys.explain(model text, "user" text, item text, k integer DEFAULT 10,
	version integer DEFAULT NULL)
RETURNS TABLE (rank integer, contributor text, kind text, contribution double precision, share double precision)
AS 'MODULE_PATHNAME', 'rs_explain' LANGUAGE C STABLE PARALLEL SAFE ROWS 12
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.explain(text, text, text, integer, integer) IS
	'explain() with the keys as text (for untyped parameters)';
