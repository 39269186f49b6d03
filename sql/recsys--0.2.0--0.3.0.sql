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
