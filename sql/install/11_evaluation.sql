-- 11_evaluation.sql: splits, accuracy and ranking metrics, item exposure
-- (src/evaluate.c).  Lists are ranked by recsys.recommend_all(), so items a
-- user interacted with in training are left out exactly as recommend()
-- leaves them out; predictions come from recsys.predictions(), the bulk
-- form of recsys.predict().  Every source (test set, groups, lists) is a
-- table, a view or a single SELECT, read with the caller's rights (no
-- SECURITY DEFINER) and as if the transaction were read-only (see
-- "Read-only" below; split reads its source through
-- recsys.exec_read_only()); every identifier spliced into a query
-- is quoted.  The functions that take the caller's names or queries are
-- thin entry points over pinned bodies (see 04_helpers.sql).
--
-- Read-only: the bodies that run a caller's queries (evaluate_users,
-- eval_metrics, audit_exposure) do their work in an inner block that
-- begin_read_only() turns read-only and end_read_only(token) ends by
-- raising SQLSTATE RSRO0 with a random token for its message, which the
-- block catches (any other RSRO0, say from a caller's query, is raised
-- again): rolling the block's subtransaction back turns the transaction
-- read-write again (for the caller), and the rows already returned are
-- kept.  The bodies are STABLE and write nothing; a write by a function
-- the caller's query calls fails with 25006.  A RESET of
-- transaction_read_only in the query (PostgreSQL 15 allows it) leaves it
-- on, as in the C half (RS_READ_ONLY, src/runtime.h), and a query that
-- turned it off all the same is an error.  (0.2.0 put SET
-- transaction_read_only on the functions, which PostgreSQL 16 and later
-- refuse.)

CREATE OR REPLACE FUNCTION recsys.predictions(
	model text,
	test text,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (user_key text, item_key text, rating double precision, prediction double precision,
			   known_user boolean, known_item boolean)
AS 'MODULE_PATHNAME', 'rs_predictions' LANGUAGE C STABLE PARALLEL SAFE ROWS 100000;
COMMENT ON FUNCTION recsys.predictions(text, text, text, text, text, integer) IS
	'every (user, item) row of a test set (relation or SELECT; columns default to the model''s) with its observed rating, recsys.predict()''s prediction (of the active version, or of the kept version given), and whether the user and the item are in the model; users in byte order; keys as text';

-- The evaluation bodies' read-only block (see "Read-only" above).
CREATE OR REPLACE FUNCTION recsys.begin_read_only()
RETURNS void
AS 'MODULE_PATHNAME', 'rs_begin_read_only'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION recsys.begin_read_only() IS
	'internal: transaction_read_only on for the rest of the current subtransaction (an evaluation body''s block), a RESET in it included';

CREATE OR REPLACE FUNCTION recsys.end_read_only(token text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
BEGIN
	IF pg_catalog.current_setting('transaction_read_only') OPERATOR(pg_catalog.<>) 'on' THEN
		RAISE EXCEPTION 'a query recsys reads turned read-only mode off'
			USING ERRCODE = 'read_only_sql_transaction',
				  HINT = 'recsys reads the queries it is given as if the transaction were read-only; leave transaction_read_only alone in them.';
	END IF;
	RAISE SQLSTATE 'RSRO0' USING MESSAGE = token;
END
$fn$;
COMMENT ON FUNCTION recsys.end_read_only(text) IS
	'internal: ends an evaluation body''s read-only block by raising SQLSTATE RSRO0 with its token (the block catches it and rolls back), or with 25006 if read-only mode was turned off in it';

-- exec_read_only(): a statement whose reading of caller-supplied queries
-- must not write, run as if the transaction were read-only (only temporary
-- tables can be written; anything else fails with 25006), with the
-- caller's rights.  recsys.split() fills its temporary table of marked rows
-- through it.  The body is C (src/evaluate.c): PostgreSQL 16 and later
-- refuse "SET transaction_read_only" on a function.
CREATE OR REPLACE FUNCTION recsys.exec_read_only_body(statement text, caller_path text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'rs_exec_read_only'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, recsys, pg_temp;
COMMENT ON FUNCTION recsys.exec_read_only_body(text, text) IS
	'internal: the body of recsys.exec_read_only(), the statement run on the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.exec_read_only(statement text)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$
	SELECT recsys.exec_read_only_body($1, pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.exec_read_only(text) IS
	'internal: runs a statement with the caller''s rights as if the transaction were read-only (only temporary tables may be written; any other write fails with 25006) and returns its row count; split fills its temporary table through it';

-- split(): the source, and the train and test tables it creates, resolve
-- on the caller's path.
CREATE OR REPLACE FUNCTION recsys.split_body(
	source text,
	user_col text,
	item_col text,
	method text,
	test_fraction double precision,
	seed integer,
	time_col text,
	train_table text,
	test_table text,
	"temporary" boolean,
	folds integer,
	fold integer,
	caller_path text)
RETURNS TABLE (part text, relation text, "rows" bigint, users bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	src text := recsys.eval_source_in_path(source, 'source', 0, caller_path);
	h text;
	tie text;
	win text;
	cond text;
	marked text;
	base text;
	cols text;
	train_name text := train_table;
	test_name text := test_table;
	q text;
	total bigint;
	n bigint;
	nu bigint;
BEGIN
	IF user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'user_col and item_col must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Name the columns holding the user and item keys.';
	END IF;
	IF method IS NULL OR method NOT IN ('random', 'per_user', 'temporal', 'leave_last_out', 'kfold') THEN
		RAISE EXCEPTION 'unknown split method "%"', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use random, per_user, temporal, leave_last_out or kfold.';
	END IF;
	-- test_fraction: NULL is 0.2 where a method takes it; leave_last_out
	-- and kfold hold out what they hold out, and refuse one
	IF method IN ('leave_last_out', 'kfold') THEN
		IF test_fraction IS NOT NULL THEN
			RAISE EXCEPTION 'split method % takes no test_fraction', method
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = CASE method WHEN 'kfold' THEN 'Each fold holds out about 1/folds of every user''s rows; choose folds instead.'
										ELSE 'It holds out each user''s latest row.' END;
		END IF;
	ELSIF test_fraction IS NULL THEN
		test_fraction := 0.2;
	ELSIF NOT (test_fraction > 0 AND test_fraction < 1) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1 (exclusive), not %', test_fraction
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example test_fraction => 0.2 holds out a fifth of the rows.';
	END IF;
	IF method = 'kfold' THEN
		folds := coalesce(folds, 5);
		IF folds < 2 THEN
			RAISE EXCEPTION 'folds must be at least 2, not %', folds
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'For example folds => 5: five train/test pairs, each holding out a fifth of every user''s rows.';
		END IF;
		IF fold IS NULL OR fold < 1 OR fold > folds THEN
			RAISE EXCEPTION 'fold must be between 1 and % (folds), not %', folds, coalesce(fold::text, 'NULL')
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Call split once per fold with the same folds and seed: fold => 1, then 2, up to folds.';
		END IF;
	ELSIF folds IS NOT NULL OR fold IS NOT NULL THEN
		RAISE EXCEPTION 'split method % takes no folds or fold', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'folds and fold are for method => ''kfold''.';
	END IF;
	IF seed IS NULL THEN
		RAISE EXCEPTION 'seed must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF method IN ('temporal', 'leave_last_out') AND time_col IS NULL THEN
		RAISE EXCEPTION 'split method % needs time_col', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the column holding the interaction time, e.g. time_col => ''ts''.';
	END IF;
	IF method = 'kfold' AND time_col IS NOT NULL THEN
		RAISE EXCEPTION 'split method kfold takes no time_col'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'kfold deals each user''s rows to folds by a seeded hash; for a split in time use temporal or leave_last_out.';
	END IF;
	IF train_name IS NULL OR test_name IS NULL THEN
		IF left(src, 1) = '(' THEN
			RAISE EXCEPTION 'train_table and test_table must be given when the source is a query'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'For example train_table => ''ratings_train'', test_table => ''ratings_test''.';
		END IF;
		base := (parse_ident(source))[array_length(parse_ident(source), 1)];
		train_name := coalesce(train_name, quote_ident(base || '_train'));
		test_name := coalesce(test_name, quote_ident(base || '_test'));
	END IF;
	-- quoted part by part, so 'analytics.train' and '"My Train"' both work
	train_name := array_to_string(ARRAY(SELECT quote_ident(p) FROM unnest(parse_ident(train_name)) p), '.');
	test_name := array_to_string(ARRAY(SELECT quote_ident(p) FROM unnest(parse_ident(test_name)) p), '.');

	-- A seeded hash of (user, item) orders the rows: the split depends on
	-- the seed and the data, never on the order rows are read in.  The
	-- whole row's text breaks the remaining ties.
	-- (the source's alias is unusual: a bare alias names the whole row
	-- only when no column has that name)
	h := format('pg_catalog.hashtextextended(COALESCE(recsys_src.%I::pg_catalog.text, '''') OPERATOR(pg_catalog.||) pg_catalog.chr(31) '
				'OPERATOR(pg_catalog.||) COALESCE(recsys_src.%I::pg_catalog.text, ''''), %s)',
				user_col, item_col, seed);
	tie := h || ', recsys_src::pg_catalog.text';
	CASE method
	WHEN 'random' THEN
		win := format('pg_catalog.row_number() OVER (ORDER BY %s) AS rn, pg_catalog.count(*) OVER () AS n', tie);
		cond := format('rn OPERATOR(pg_catalog.<=) pg_catalog.round(%s OPERATOR(pg_catalog.*) n)', test_fraction);
	WHEN 'per_user' THEN
		-- every user keeps at least one row in train
		win := format('pg_catalog.row_number() OVER (PARTITION BY recsys_src.%1$I ORDER BY %2$s) AS rn, '
					  'pg_catalog.count(*) OVER (PARTITION BY recsys_src.%1$I) AS n',
					  user_col, tie);
		cond := format('rn OPERATOR(pg_catalog.<=) LEAST(pg_catalog.floor((%s OPERATOR(pg_catalog.*) n) OPERATOR(pg_catalog.+) 0.5), '
					   'n OPERATOR(pg_catalog.-) 1)', test_fraction);
	WHEN 'temporal' THEN
		win := format('pg_catalog.row_number() OVER (ORDER BY recsys_src.%I DESC NULLS LAST, %s) AS rn, pg_catalog.count(*) OVER () AS n',
					  time_col, tie);
		cond := format('rn OPERATOR(pg_catalog.<=) pg_catalog.round(%s OPERATOR(pg_catalog.*) n)', test_fraction);
	WHEN 'kfold' THEN
		-- Each user's rows, in the seeded order, are dealt round the folds
		-- from a seeded per-user start (so the folds are of even size even
		-- where users have fewer rows than folds); this call's test part
		-- is the rows dealt to "fold".  A user with one row stays in
		-- train; any other keeps at least one row in train in every fold.
		win := format('pg_catalog.row_number() OVER (PARTITION BY recsys_src.%1$I ORDER BY %2$s) AS rn, '
					  'pg_catalog.count(*) OVER (PARTITION BY recsys_src.%1$I) AS n, '
					  'pg_catalog.hashtextextended(COALESCE(recsys_src.%1$I::pg_catalog.text, ''''), %3$s) AS uh',
					  user_col, tie, seed);
		cond := format('(n OPERATOR(pg_catalog.>=) 2) AND ((rn OPERATOR(pg_catalog.-) 1 OPERATOR(pg_catalog.+) '
					   '(uh OPERATOR(pg_catalog.%%) %1$s OPERATOR(pg_catalog.+) %1$s)) OPERATOR(pg_catalog.%%) %1$s '
					   'OPERATOR(pg_catalog.=) %2$s)', folds, fold - 1);
	ELSE
		-- leave_last_out: each user's latest row, if the user has another
		win := format('pg_catalog.row_number() OVER (PARTITION BY recsys_src.%1$I ORDER BY recsys_src.%2$I DESC NULLS LAST, %3$s) AS rn, '
					  'pg_catalog.count(*) OVER (PARTITION BY recsys_src.%1$I) AS n',
					  user_col, time_col, tie);
		cond := '(rn OPERATOR(pg_catalog.=) 1) AND (n OPERATOR(pg_catalog.>=) 2)';
	END CASE;

	-- One pass of the source, sorted once, marks every row; the two tables
	-- are then copied from it with the source's own columns.  The source
	-- is read while the transaction is read-only (a function in it that
	-- writes fails with 25006): the temporary table is created empty
	-- first, then filled read-only, which a temporary table allows.  Both
	-- hold the caller's source, so they run on the caller's path.
	IF to_regclass('pg_temp.recsys_split_rows') IS NOT NULL THEN
		DROP TABLE pg_temp.recsys_split_rows;
	END IF;
	marked := format('SELECT (x.r).*, (%s) AS "recsys split: test" FROM (SELECT recsys_src AS r, %s FROM %s AS recsys_src) x',
					 cond, win, src);
	PERFORM recsys.exec_in_path(format('CREATE TEMPORARY TABLE pg_temp.recsys_split_rows AS %s WITH NO DATA', marked),
								caller_path);
	PERFORM recsys.exec_read_only_body('INSERT INTO pg_temp.recsys_split_rows ' || marked, caller_path);
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = 'pg_temp.recsys_split_rows'::regclass AND a.attnum > 0
	   AND NOT a.attisdropped AND a.attname <> 'recsys split: test';
	-- the tables are named as the caller names them
	PERFORM recsys.exec_in_path(
		format('CREATE %s TABLE %s AS SELECT %s FROM pg_temp.recsys_split_rows WHERE NOT "recsys split: test"',
			   CASE WHEN "temporary" THEN 'TEMPORARY' ELSE '' END, train_name, cols), caller_path);
	PERFORM recsys.exec_in_path(
		format('CREATE %s TABLE %s AS SELECT %s FROM pg_temp.recsys_split_rows WHERE "recsys split: test"',
			   CASE WHEN "temporary" THEN 'TEMPORARY' ELSE '' END, test_name, cols), caller_path);
	DROP TABLE pg_temp.recsys_split_rows;

	PERFORM recsys.exec_in_path(format('ANALYZE %s', train_name), caller_path);
	PERFORM recsys.exec_in_path(format('ANALYZE %s', test_name), caller_path);
	q := format('SELECT pg_catalog.count(*), pg_catalog.count(DISTINCT %I) FROM %s', user_col, train_name);
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	EXECUTE q INTO n, nu;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	total := n;
	part := 'train'; relation := train_name; "rows" := n; users := nu;
	RETURN NEXT;
	q := format('SELECT pg_catalog.count(*), pg_catalog.count(DISTINCT %I) FROM %s', user_col, test_name);
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	EXECUTE q INTO n, nu;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	total := total + n;
	part := 'test'; relation := test_name; "rows" := n; users := nu;
	RETURN NEXT;
	IF total = 0 THEN
		RAISE EXCEPTION 'source has no rows to split'
			USING ERRCODE = 'no_data_found',
				  HINT = 'Check the source query.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.split_body(text, text, text, text, double precision, integer, text, text, text, boolean, integer, integer, text) IS
	'internal: the body of recsys.split(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.split(
	source text,
	user_col text,
	item_col text,
	method text DEFAULT 'random',
	test_fraction double precision DEFAULT NULL,
	seed integer DEFAULT 42,
	time_col text DEFAULT NULL,
	train_table text DEFAULT NULL,
	test_table text DEFAULT NULL,
	"temporary" boolean DEFAULT false,
	folds integer DEFAULT NULL,
	fold integer DEFAULT NULL)
RETURNS TABLE (part text, relation text, "rows" bigint, users bigint)
LANGUAGE sql VOLATILE
AS $fn$
	SELECT * FROM recsys.split_body($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.split(text, text, text, text, double precision, integer, text, text, text, boolean, integer, integer) IS
	'splits a table, view or SELECT into new train and test tables (every column; default names <source>_train, <source>_test) by method random, per_user (every user keeps a row in train), temporal (latest rows to test), leave_last_out (each user''s latest row) or kfold (fold "fold" of "folds", default 5, per user: the folds of one seed partition every user''s rows, and every user with two rows or more keeps rows in train); test_fraction 0.2 when NULL; deterministic for a seed; returns each part''s rows and users';

-- The rows of lists (user, item, rank: made elsewhere, read by position)
-- that evaluate() and audit_exposure() measure: ranks up to cutoff, rows
-- with a NULL user, item or rank skipped, and filter (SQL over x.lu, the
-- user column) when given.  A list that is no ranking -- a rank below 1,
-- two items at one rank, one item at two ranks of the same user -- is an
-- error (22023): it would count an item twice and let NDCG pass 1.
CREATE OR REPLACE FUNCTION recsys.eval_lists_sql(lists text, cutoff integer, filter text, caller_path text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
BEGIN
	RETURN format($q$
SELECT l.user_key, l.item_key, l.rank
FROM (SELECT x.user_key, x.item_key, x.rank,
			 pg_catalog.count(*) OVER (PARTITION BY x.user_key, x.rank) AS same_rank,
			 pg_catalog.count(*) OVER (PARTITION BY x.user_key, x.item_key) AS same_item
	  FROM (SELECT (x.lu)::pg_catalog.text AS user_key, (x.li)::pg_catalog.text AS item_key, (x.lr)::integer AS rank
			FROM %1$s AS x(lu, li, lr)
			WHERE x.lu IS NOT NULL AND x.li IS NOT NULL AND x.lr OPERATOR(pg_catalog.<=) %2$s%3$s) x) l
WHERE (l.rank OPERATOR(pg_catalog.>=) 1 AND l.same_rank OPERATOR(pg_catalog.=) 1 AND l.same_item OPERATOR(pg_catalog.=) 1)
   OR recsys.eval_lists_error(l.user_key, l.item_key, l.rank, l.same_rank, l.same_item)
$q$, recsys.eval_source_in_path(lists, 'lists', 3, caller_path), cutoff,
		 CASE WHEN filter IS NULL THEN '' ELSE ' AND ' || filter END);
END
$fn$;
COMMENT ON FUNCTION recsys.eval_lists_sql(text, integer, text, text) IS
	'internal to evaluate() and audit_exposure(): the query reading lists (user, item, rank) up to a cutoff, which fails (22023) on a rank below 1 or a rank or item given twice in one user''s list; lists resolve on caller_path, filter is SQL over x.lu (schema-qualified)';

-- The error for a row of lists that is no ranking (see eval_lists_sql).
CREATE OR REPLACE FUNCTION recsys.eval_lists_error(user_key text, item_key text, rank integer,
	same_rank bigint, same_item bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	u text := quote_literal(left(user_key, 100));
	hint constant text := 'Number each user''s list 1, 2, 3, ... with one item per rank, '
		'e.g. row_number() OVER (PARTITION BY user_id ORDER BY score DESC) AS rank.';
BEGIN
	IF rank < 1 THEN
		RAISE EXCEPTION 'lists must rank from 1: user % has a rank of %', u, rank
			USING ERRCODE = 'invalid_parameter_value', HINT = hint;
	ELSIF same_rank > 1 THEN
		RAISE EXCEPTION 'lists must give each rank of a user once: user % has % items at rank %', u, same_rank, rank
			USING ERRCODE = 'invalid_parameter_value', HINT = hint;
	END IF;
	RAISE EXCEPTION 'lists must rank each item of a user once: user % has item % at % ranks',
		u, quote_literal(left(item_key, 100)), same_item
		USING ERRCODE = 'invalid_parameter_value', HINT = hint;
END
$fn$;
COMMENT ON FUNCTION recsys.eval_lists_error(text, text, integer, bigint, bigint) IS
	'internal to eval_lists_sql(): raises the error (22023) for a row of lists with a rank below 1, a rank given twice or an item given twice in one user''s list';

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
CREATE OR REPLACE FUNCTION recsys.precision_at_k(ranked anyarray, relevant anyarray, k integer,
									  ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_precision_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.precision_at_k(anyarray, anyarray, integer, integer[]) IS
	'precision@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the relevant items among its top k, over k';

CREATE OR REPLACE FUNCTION recsys.recall_at_k(ranked anyarray, relevant anyarray, k integer,
								   ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_recall_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.recall_at_k(anyarray, anyarray, integer, integer[]) IS
	'recall@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the relevant items among its top k, over all relevant items';

CREATE OR REPLACE FUNCTION recsys.ndcg_at_k(ranked anyarray, relevant anyarray, k integer,
								 ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_ndcg_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.ndcg_at_k(anyarray, anyarray, integer, integer[]) IS
	'nDCG@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the discounted cumulative gain of its top k (1/log2(rank + 1) per relevant item) over that of an ideal list';

CREATE OR REPLACE FUNCTION recsys.average_precision_at_k(ranked anyarray, relevant anyarray, k integer,
											  ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_average_precision_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.average_precision_at_k(anyarray, anyarray, integer, integer[]) IS
	'average precision@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): the precision at the rank of each relevant item of its top k, summed, over the number of relevant items (at most k)';

CREATE OR REPLACE FUNCTION recsys.reciprocal_rank(ranked anyarray, relevant anyarray, k integer,
									   ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_reciprocal_rank' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.reciprocal_rank(anyarray, anyarray, integer, integer[]) IS
	'reciprocal rank of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): 1/rank of its first relevant item within the top k, 0 if none';

CREATE OR REPLACE FUNCTION recsys.hit_at_k(ranked anyarray, relevant anyarray, k integer,
								ranks integer[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_hit_at_k' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.hit_at_k(anyarray, anyarray, integer, integer[]) IS
	'hit@k of a ranked list (ranks: each item''s rank, default 1, 2, 3, ...): 1 if a relevant item is among its top k, else 0';

-- Everything evaluate() and evaluate_users() share: the arguments checked,
-- the columns resolved, and the query that ranks the test users with
-- recommend_all() (or reads the lists given) and measures each user's list
-- with the metric functions above.  Its rows: user_key,
-- n_relevant, precision, recall, ndcg, ap, rr, hit, items (the list), and
-- test_users (all test users with a relevant item, known or not).  The
-- check query counts test users, known users and known items: it reads
-- the test set again, so it runs only when a result needs explaining.
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
	version integer,
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
	ver integer;
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
	ver := recsys.served_version(model, version);
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
$q$, t, model, ver);

	-- the lists: served by recommend_all(), or made elsewhere (re-ranked,
	-- another system) as (user, item, rank), of which ranks up to k count
	IF lists IS NULL THEN
		r := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank '
					'FROM recsys.recommend_all(%L::pg_catalog.text, %s, users => ARRAY(SELECT u.user_key FROM u WHERE u.known), version => %s) a',
					model, cutoff, ver);
		IF serve_unknown THEN
			-- users the model does not know get what recommend() gives them
			-- (fold-in from the model's source, or popular items)
			r := r || format(' UNION ALL SELECT u.user_key, (x.item)::pg_catalog.text, x.rank FROM u '
							 'CROSS JOIN LATERAL recsys.recommend(%L::pg_catalog.text, (u.user_key)::%s, %s, version => %s) x WHERE NOT u.known',
							 model, user_type, cutoff, ver);
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
$q$, t, model, ver, cutoff, r, CASE WHEN serve_unknown THEN 'LEFT' ELSE '' END);
END
$fn$;
COMMENT ON FUNCTION recsys.eval_ranking_sql(text, text, integer, text, text, text, double precision, text, boolean, text, integer) IS
	'internal to evaluate() and evaluate_users(): checks their arguments and returns the query measuring each test user''s top-k list (served by recommend_all, or given as lists), and the query counting test users, known users and known items; the test set and lists resolve on caller_path, and the queries run on it; version NULL: the active one';

-- Raises the error for a test set evaluate() cannot measure.
CREATE OR REPLACE FUNCTION recsys.eval_check(model text, test_users bigint, known_users bigint, known_items bigint,
	threshold double precision)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
BEGIN
	IF test_users = 0 THEN
		RAISE EXCEPTION 'test set has no %', CASE WHEN threshold IS NULL THEN 'rows' ELSE format('rows rated at least %s', threshold) END
			USING ERRCODE = 'no_data_found',
				  HINT = 'Check the test set and its columns (rows with a NULL user or item are skipped).';
	END IF;
	IF known_users = 0 THEN
		RAISE EXCEPTION 'no user of the test set is in model "%"', model
			USING ERRCODE = 'no_data_found',
				  HINT = 'Evaluate on a split of the data the model was trained on (recsys.split); check the key columns.';
	END IF;
	IF known_items = 0 THEN
		RAISE EXCEPTION 'no item of the test set is in model "%"', model
			USING ERRCODE = 'no_data_found',
				  HINT = 'Evaluate on a split of the data the model was trained on (recsys.split); check the key columns.';
	END IF;
END
$fn$;
COMMENT ON FUNCTION recsys.eval_check(text, bigint, bigint, bigint, double precision) IS
	'internal to evaluate() and evaluate_users(): the error for an empty test set, or one without a user or an item of the model';

CREATE OR REPLACE FUNCTION recsys.evaluate_users_body(
	model text,
	test text,
	k integer,
	user_col text,
	item_col text,
	rating_col text,
	threshold double precision,
	version integer,
	caller_path text)
RETURNS TABLE (user_key text, n_relevant integer, "precision" double precision,
			   recall double precision, ndcg double precision, ap double precision,
			   rr double precision, hit double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	ro_token text := pg_catalog.gen_random_uuid()::pg_catalog.text;
	q record;
	c record;
	sql text;
	found_rows boolean;
BEGIN
	-- read-only while the caller's queries run (see "Read-only" above)
	BEGIN
	PERFORM recsys.begin_read_only();
	q := recsys.eval_ranking_sql(model, test, k, user_col, item_col, rating_col, threshold, NULL, false, caller_path,
								 version);
	sql := 'SELECT e.user_key, e.n_relevant, e."precision", e.recall, e.ndcg, e.ap, e.rr, e.hit FROM ('
		   || q.query || ') e ORDER BY e.user_key';
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	RETURN QUERY EXECUTE sql;
	found_rows := FOUND;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	IF NOT found_rows THEN
		-- say why: no rows, or no user of the model
		PERFORM pg_catalog.set_config('search_path', caller_path, true);
		EXECUTE q.check_query INTO c;
		PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
		PERFORM recsys.eval_check(model, c.test_users, c.known_users, c.known_items, threshold);
	END IF;
	PERFORM recsys.end_read_only(ro_token);
	EXCEPTION WHEN SQLSTATE 'RSRO0' THEN
		IF SQLERRM IS DISTINCT FROM ro_token THEN
			RAISE;
		END IF;
	END;
END
$fn$;
COMMENT ON FUNCTION recsys.evaluate_users_body(text, text, integer, text, text, text, double precision, integer, text) IS
	'internal: the body of recsys.evaluate_users(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.evaluate_users(
	model text,
	test text,
	k integer DEFAULT 10,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (user_key text, n_relevant integer, "precision" double precision,
			   recall double precision, ndcg double precision, ap double precision,
			   rr double precision, hit double precision)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.evaluate_users_body($1, $2, $3, $4, $5, $6, $7, $8,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.evaluate_users(text, text, integer, text, text, text, double precision, integer) IS
	'ranking metrics of each test user known to the model (its active version, or the kept version given): relevant test items, precision@k, recall@k, NDCG@k, AP@k, reciprocal rank and hit of the user''s top-k list from recommend_all (training items excluded); user keys as text';

-- The body of evaluate() (a PL/pgSQL function cannot name an argument and
-- a result column both k).
CREATE OR REPLACE FUNCTION recsys.eval_metrics(
	model text,
	test text,
	cutoff integer,
	user_col text,
	item_col text,
	rating_col text,
	threshold double precision,
	user_groups text,
	metrics text[],
	lists text,
	unknown_users text,
	version integer,
	caller_path text)
RETURNS TABLE (metric text, at_k integer, value double precision, user_group text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	ro_token text := pg_catalog.gen_random_uuid()::pg_catalog.text;
	known_metrics constant text[] := ARRAY['rmse', 'mae', 'precision', 'recall', 'ndcg', 'map',
										   'hit_rate', 'mrr', 'coverage', 'novelty', 'users'];
	want text[] := coalesce(metrics, known_metrics);
	bad text;
	q record;
	c record;
	v record;
	is_explicit boolean;
	do_rating boolean;
	do_ranking boolean;
	g text;
	parts text[] := '{}';
	sql text;
	r_metric text[];
	r_k integer[];
	r_value double precision[];
	r_group text[];
	measured double precision;
	test_users double precision;
	hit_rate double precision;
	predicted double precision;
	known_user_rows double precision;
	known_item_rows double precision;
	serve_unknown boolean := unknown_users = 'serve';
	messages text;
BEGIN
	-- read-only while the caller's queries run (see "Read-only" above)
	BEGIN
	PERFORM recsys.begin_read_only();
	IF unknown_users IS NULL OR unknown_users NOT IN ('skip', 'serve') THEN
		RAISE EXCEPTION 'unknown_users must be skip or serve, not %', coalesce(quote_literal(unknown_users), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'skip leaves test users the model does not know out of the ranking metrics; serve measures what recommend() gives them.';
	END IF;
	SELECT x INTO bad FROM unnest(want) x WHERE x IS NULL OR NOT x = ANY (known_metrics) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'unknown metric "%"', coalesce(bad, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Metrics: ' || array_to_string(known_metrics, ', ') || '.';
	END IF;
	q := recsys.eval_ranking_sql(model, test, cutoff, user_col, item_col, rating_col, threshold, lists,
								 serve_unknown, caller_path, version);
	SELECT mv.version, mv.items, mv.users,
		   CASE WHEN mv.algorithm IN ('item_knn', 'user_knn') THEN mv.params->>'feedback' = 'explicit'
				ELSE mv.algorithm IN ('als', 'svd', 'nmf', 'svdpp') END AS explicit_model
	  INTO v
	  FROM recsys.models m JOIN recsys.model_versions mv
		ON mv.model = m.name AND mv.version = coalesce(eval_metrics.version, m.active_version)
	 WHERE m.name = eval_metrics.model;
	is_explicit := coalesce(v.explicit_model, false);
	IF metrics IS NOT NULL AND NOT is_explicit AND want && ARRAY['rmse', 'mae'] THEN
		RAISE EXCEPTION 'model "%" does not predict ratings: rmse and mae need an explicit model', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'als, svd, svdpp, nmf and neighbourhood models with "feedback": "explicit" predict ratings; ask for ranking metrics instead.';
	END IF;
	do_rating := is_explicit AND want && ARRAY['rmse', 'mae'];
	do_ranking := want && ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr', 'coverage', 'novelty', 'users'];

	-- user -> group; a user without a group counts in the overall rows only.
	-- Groups compare by their output text, as the re-ranking constraints
	-- compare them (a boolean group is t or f).
	g := CASE WHEN user_groups IS NULL
			  THEN 'SELECT NULL::pg_catalog.text AS user_key, NULL::pg_catalog.text AS grp WHERE false'
			  ELSE format('SELECT DISTINCT (g.gu)::pg_catalog.text AS user_key, pg_catalog.format(''%%s'', g.gg) AS grp '
						  'FROM %s AS g(gu, gg) WHERE g.gu IS NOT NULL AND g.gg IS NOT NULL',
						  recsys.eval_source_in_path(user_groups, 'user_groups', 2, caller_path)) END;

	IF do_rating THEN
		parts := parts || format($q$
WITH p AS (
	SELECT p.user_key, p.prediction OPERATOR(pg_catalog.-) p.rating AS err, p.known_user, p.known_item
	FROM recsys.predictions(%1$L::pg_catalog.text, %2$L::pg_catalog.text, %3$L::pg_catalog.text,
							%4$L::pg_catalog.text, %5$L::pg_catalog.text, %7$s) p
	WHERE p.prediction IS NOT NULL AND p.rating IS NOT NULL),
g AS (%6$s),
pg AS (SELECT p.err, p.known_user, p.known_item, NULL::pg_catalog.text AS grp FROM p
	   UNION ALL SELECT p.err, p.known_user, p.known_item, g.grp FROM p JOIN g ON g.user_key OPERATOR(pg_catalog.=) p.user_key),
a AS (SELECT pg.grp, pg_catalog.sqrt(pg_catalog.avg(pg.err OPERATOR(pg_catalog.*) pg.err)) AS rmse,
			 pg_catalog.avg(pg_catalog.abs(pg.err)) AS mae,
			 pg_catalog.count(*)::pg_catalog.float8 AS n,
			 pg_catalog.count(*) FILTER (WHERE pg.known_user)::pg_catalog.float8 AS n_user,
			 pg_catalog.count(*) FILTER (WHERE pg.known_item)::pg_catalog.float8 AS n_item
	  FROM pg GROUP BY pg.grp)
SELECT x.ord, x.metric, NULL::integer AS at_k, x.value, a.grp
FROM a CROSS JOIN LATERAL (VALUES (1, 'rmse', a.rmse), (2, 'mae', a.mae), (13, '.predicted', a.n),
								  (14, '.known_user', a.n_user), (15, '.known_item', a.n_item)) x(ord, metric, value)
$q$, model, test, user_col, item_col, rating_col, g, v.version);
	END IF;

	IF do_ranking THEN
		-- novelty: the self-information -log2(p) of a recommended item, p the
		-- share of the model's users who interacted with it in training
		parts := parts || format($q$
WITH e AS MATERIALIZED (%1$s),
g AS (%2$s),
eg AS (SELECT e.*, NULL::pg_catalog.text AS grp FROM e
	   UNION ALL SELECT e.*, g.grp FROM e JOIN g ON g.user_key OPERATOR(pg_catalog.=) e.user_key),
pop AS (SELECT f.item_key,
			   (OPERATOR(pg_catalog.-) pg_catalog.ln(GREATEST(f.interactions, 1)::pg_catalog.float8 OPERATOR(pg_catalog./) %5$s))
				   OPERATOR(pg_catalog./) pg_catalog.ln(2::pg_catalog.float8) AS info
		FROM recsys.item_factors f WHERE f.model OPERATOR(pg_catalog.=) %3$L AND f.version OPERATOR(pg_catalog.=) %4$s),
a AS (SELECT eg.grp, pg_catalog.count(*) AS users, pg_catalog.avg(eg."precision") AS p, pg_catalog.avg(eg.recall) AS r,
			 pg_catalog.avg(eg.ndcg) AS n, pg_catalog.avg(eg.ap) AS ap, pg_catalog.avg(eg.hit) AS h, pg_catalog.avg(eg.rr) AS rr,
			 pg_catalog.max(eg.test_users) AS test_users
	  FROM eg GROUP BY eg.grp),
i AS (SELECT eg.grp, pg_catalog.count(DISTINCT x.item) AS distinct_items, pg_catalog.avg(pop.info) AS novelty
	  FROM eg CROSS JOIN LATERAL pg_catalog.unnest(eg.items) x(item) JOIN pop ON pop.item_key OPERATOR(pg_catalog.=) x.item
	  GROUP BY eg.grp)
SELECT x.ord, x.metric, CASE WHEN x.metric OPERATOR(pg_catalog.=) 'users' THEN NULL ELSE %6$s END AS at_k, x.value, a.grp
FROM a LEFT JOIN i ON (i.grp OPERATOR(pg_catalog.=) a.grp OR (i.grp IS NULL AND a.grp IS NULL))
CROSS JOIN LATERAL (VALUES (3, 'precision', a.p), (4, 'recall', a.r), (5, 'ndcg', a.n),
						   (6, 'map', a.ap), (7, 'hit_rate', a.h), (8, 'mrr', a.rr),
						   (9, 'coverage', COALESCE(i.distinct_items, 0)::pg_catalog.float8 OPERATOR(pg_catalog./) %7$s),
						   (10, 'novelty', i.novelty), (11, 'users', a.users::pg_catalog.float8),
						   (12, '.test_users', a.test_users::pg_catalog.float8)) x(ord, metric, value)
$q$, q.query, g, model, v.version, greatest(v.users, 1), cutoff, greatest(v.items, 1));
	END IF;

	-- The rows are gathered first: the counts behind them (hidden rows whose
	-- names start with a dot) decide whether the test set needs the check
	-- query, which reads it again to explain an empty or unusable result.
	IF serve_unknown THEN
		-- recommend() says for every unknown user how it served them
		messages := current_setting('client_min_messages');
		PERFORM set_config('client_min_messages', 'warning', true);
	END IF;
	sql := format('SELECT pg_catalog.array_agg(z.metric ORDER BY z.grp NULLS FIRST, z.ord), '
				  'pg_catalog.array_agg(z.at_k ORDER BY z.grp NULLS FIRST, z.ord), '
				  'pg_catalog.array_agg(z.value ORDER BY z.grp NULLS FIRST, z.ord), '
				  'pg_catalog.array_agg(z.grp ORDER BY z.grp NULLS FIRST, z.ord) FROM ((%s)) z',
				  array_to_string(parts, ') UNION ALL ('));
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	EXECUTE sql INTO r_metric, r_k, r_value, r_group;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	IF serve_unknown THEN
		PERFORM set_config('client_min_messages', messages, true);
	END IF;
	SELECT max(x.v) FILTER (WHERE x.m = 'users'), max(x.v) FILTER (WHERE x.m = '.test_users'),
		   max(x.v) FILTER (WHERE x.m = 'hit_rate'), max(x.v) FILTER (WHERE x.m = '.predicted'),
		   max(x.v) FILTER (WHERE x.m = '.known_user'), max(x.v) FILTER (WHERE x.m = '.known_item')
	  INTO measured, test_users, hit_rate, predicted, known_user_rows, known_item_rows
	  FROM unnest(r_metric, r_value, r_group) x(m, v, g) WHERE x.g IS NULL;
	IF do_rating THEN
		-- predictions say themselves which rows the model knows
		PERFORM recsys.eval_check(model, coalesce(predicted, 0)::bigint,
								  coalesce(CASE WHEN serve_unknown THEN predicted ELSE known_user_rows END, 0)::bigint,
								  coalesce(known_item_rows, 0)::bigint, NULL);
	END IF;
	IF do_ranking AND (coalesce(measured, 0) = 0 OR coalesce(hit_rate, 0) = 0) THEN
		PERFORM pg_catalog.set_config('search_path', caller_path, true);
		EXECUTE q.check_query INTO c;
		PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
		-- (served, users the model does not know are measured too)
		PERFORM recsys.eval_check(model, c.test_users,
								  CASE WHEN serve_unknown THEN c.test_users ELSE c.known_users END,
								  c.known_items, threshold);
	END IF;
	IF do_ranking AND measured < test_users THEN
		RAISE NOTICE '% of % test users are not in model "%": they are left out of the ranking metrics',
			test_users - measured, test_users, model;
	END IF;
	RETURN QUERY SELECT x.m, x.k, x.v, x.g FROM unnest(r_metric, r_k, r_value, r_group) x(m, k, v, g)
				 WHERE x.m = ANY (want);
	PERFORM recsys.end_read_only(ro_token);
	EXCEPTION WHEN SQLSTATE 'RSRO0' THEN
		IF SQLERRM IS DISTINCT FROM ro_token THEN
			RAISE;
		END IF;
	END;
END
$fn$;
COMMENT ON FUNCTION recsys.eval_metrics(text, text, integer, text, text, text, double precision, text, text[], text, text, integer, text) IS
	'internal: the body of recsys.evaluate(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.evaluate(
	model text,
	test text,
	k integer DEFAULT 10,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL,
	user_groups text DEFAULT NULL,
	metrics text[] DEFAULT NULL,
	lists text DEFAULT NULL,
	unknown_users text DEFAULT 'skip',
	version integer DEFAULT NULL)
RETURNS TABLE (metric text, k integer, value double precision, user_group text)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.eval_metrics($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.evaluate(text, text, integer, text, text, text, double precision, text, text[], text, text, integer) IS
	'accuracy of a model (its active version, or the kept version given) on a test set (relation or SELECT): rmse, mae (explicit models), precision, recall, ndcg, map, hit_rate, mrr (means over test users known to the model, as evaluate_users gives them), catalogue coverage and novelty of the top-k lists (recommend_all''s, or lists: user, item, rank), users measured; one row per metric, and per user group when user_groups (user, group) is given; test users the model does not know are left out, or with unknown_users => ''serve'' measured on what recommend() gives them';

-- Exposure of item groups in top-k lists.
CREATE OR REPLACE FUNCTION recsys.audit_exposure_body(
	model text,
	item_groups text,
	k integer,
	users text,
	lists text,
	version integer,
	caller_path text)
RETURNS TABLE (item_group text, metric text, value double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	ro_token text := pg_catalog.gen_random_uuid()::pg_catalog.text;
	v record;
	l text;
	ig text;
	sql text;
BEGIN
	-- read-only while the caller's queries run (see "Read-only" above)
	BEGIN
	PERFORM recsys.begin_read_only();
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k IS NULL THEN
		RAISE EXCEPTION 'k must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k <= 0 THEN
		RAISE EXCEPTION 'k must be positive, not %', k
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'k is the length of the lists that are audited.';
	END IF;
	PERFORM recsys.check_model_usage(model);
	SELECT mv.version, mv.users INTO v
	  FROM recsys.models m JOIN recsys.model_versions mv
		ON mv.model = m.name AND mv.version = m.active_version
	 WHERE m.name = audit_exposure_body.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
	IF version IS NOT NULL THEN
		SELECT mv.version, mv.users INTO v FROM recsys.model_versions mv
		 WHERE mv.model = audit_exposure_body.model
		   AND mv.version = recsys.served_version(audit_exposure_body.model, audit_exposure_body.version);
	END IF;

	IF lists IS NOT NULL THEN
		-- lists made elsewhere (re-ranked, or by another system): user, item, rank
		-- (checked: each rank and each item at most once in a user's list)
		l := recsys.eval_lists_sql(lists, k,
			CASE WHEN users IS NOT NULL
				 THEN format('(x.lu)::pg_catalog.text OPERATOR(pg_catalog.=) ANY '
							 '(SELECT (y.recsys_user)::pg_catalog.text FROM %s AS y(recsys_user))',
							 recsys.eval_source_in_path(users, 'users', 1, caller_path)) END,
			caller_path);
	ELSE
		l := format('SELECT a."user" AS user_key, a.item AS item_key, a.rank '
					'FROM recsys.recommend_all(%L::pg_catalog.text, %s, users => %s, version => %s) a',
					model, k,
					CASE WHEN users IS NULL THEN 'NULL'
						 ELSE format('ARRAY(SELECT DISTINCT (y.recsys_user)::pg_catalog.text FROM %s AS y(recsys_user) '
									 'WHERE y.recsys_user IS NOT NULL)',
									 recsys.eval_source_in_path(users, 'users', 1, caller_path)) END,
					v.version);
	END IF;
	-- item -> group, by the group's output text as recommend()'s
	-- item_groups (a boolean group is t or f); an item listed in several
	-- groups counts in the first by text order; items without a group form
	-- the group NULL
	ig := CASE WHEN item_groups IS NULL
			   THEN 'SELECT NULL::pg_catalog.text AS item_key, NULL::pg_catalog.text AS grp WHERE false'
			   ELSE format('SELECT DISTINCT ON (1) (g.gi)::pg_catalog.text AS item_key, pg_catalog.format(''%%s'', g.gg) AS grp '
						   'FROM %s AS g(gi, gg) WHERE g.gi IS NOT NULL ORDER BY 1, 2',
						   recsys.eval_source_in_path(item_groups, 'item_groups', 2, caller_path)) END;

	sql := format($q$
WITH ci AS MATERIALIZED (
	SELECT f.item_key, f.interactions::pg_catalog.float8 AS interactions,
		   f.interactions::pg_catalog.float8 OPERATOR(pg_catalog./) %3$s AS popularity, ig.grp
	FROM recsys.item_factors f LEFT JOIN (%4$s) ig ON ig.item_key OPERATOR(pg_catalog.=) f.item_key
	WHERE f.model OPERATOR(pg_catalog.=) %1$L AND f.version OPERATOR(pg_catalog.=) %2$s),
e AS MATERIALIZED (
	SELECT l.user_key, l.item_key, l.rank, ci.grp, ci.popularity,
		   pg_catalog.ln(2::pg_catalog.float8)
			   OPERATOR(pg_catalog./) pg_catalog.ln(GREATEST(l.rank, 1) OPERATOR(pg_catalog.+) 1::pg_catalog.float8) AS w
	FROM (%5$s) l JOIN ci ON ci.item_key OPERATOR(pg_catalog.=) l.item_key),
tot AS (
	SELECT (SELECT pg_catalog.count(*) FROM ci)::pg_catalog.float8 AS items,
		   (SELECT GREATEST(pg_catalog.sum(ci.interactions), 1) FROM ci) AS interactions,
		   (SELECT pg_catalog.count(*) FROM e)::pg_catalog.float8 AS slots,
		   (SELECT pg_catalog.sum(e.w) FROM e) AS weight),
per_item AS (
	SELECT ci.item_key, ci.grp, pg_catalog.count(e.item_key)::pg_catalog.float8 AS x
	FROM ci LEFT JOIN e ON e.item_key OPERATOR(pg_catalog.=) ci.item_key GROUP BY ci.item_key, ci.grp),
grp AS (
	SELECT ci.grp, pg_catalog.count(*)::pg_catalog.float8 AS items, pg_catalog.sum(ci.interactions) AS interactions
	FROM ci GROUP BY ci.grp),
ex AS (
	SELECT e.grp, pg_catalog.count(*)::pg_catalog.float8 AS slots, pg_catalog.sum(e.w) AS weight,
		   pg_catalog.count(DISTINCT e.item_key)::pg_catalog.float8 AS distinct_items
	FROM e GROUP BY e.grp),
overall AS (
	SELECT (SELECT pg_catalog.count(DISTINCT e.user_key) FROM e)::pg_catalog.float8 AS lists,
		   (SELECT pg_catalog.count(DISTINCT e.item_key) FROM e)::pg_catalog.float8 OPERATOR(pg_catalog./) tot.items AS coverage,
		   (SELECT pg_catalog.sum((((2 OPERATOR(pg_catalog.*) o.i) OPERATOR(pg_catalog.-) o.n) OPERATOR(pg_catalog.-) 1)
								  OPERATOR(pg_catalog.*) o.x)
				   OPERATOR(pg_catalog./) (CASE WHEN (o.n OPERATOR(pg_catalog.*) pg_catalog.sum(o.x)) OPERATOR(pg_catalog.=) 0
												THEN NULL ELSE o.n OPERATOR(pg_catalog.*) pg_catalog.sum(o.x) END)
			FROM (SELECT per_item.x, pg_catalog.row_number() OVER (ORDER BY per_item.x) AS i,
						 pg_catalog.count(*) OVER () AS n FROM per_item) o GROUP BY o.n) AS gini,
		   (SELECT pg_catalog.avg(e.popularity) FROM e) AS pop_recommended,
		   (SELECT pg_catalog.sum(ci.interactions OPERATOR(pg_catalog.*) ci.popularity) OPERATOR(pg_catalog./) tot.interactions
			  FROM ci) AS pop_interacted
	FROM tot)
SELECT r.grp, r.metric, r.value FROM (
	SELECT 0 AS part, grp.grp, x.ord, x.metric, x.value
	FROM grp CROSS JOIN tot
	LEFT JOIN ex ON (ex.grp OPERATOR(pg_catalog.=) grp.grp OR (ex.grp IS NULL AND grp.grp IS NULL))
	CROSS JOIN LATERAL (VALUES
		(1, 'items', grp.items),
		(2, 'catalogue_share', grp.items OPERATOR(pg_catalog./) tot.items),
		(3, 'interaction_share', grp.interactions OPERATOR(pg_catalog./) tot.interactions),
		(4, 'exposure_share', COALESCE(ex.slots, 0)
			OPERATOR(pg_catalog./) (CASE WHEN tot.slots OPERATOR(pg_catalog.=) 0 THEN NULL ELSE tot.slots END)),
		(5, 'discounted_exposure_share', COALESCE(ex.weight, 0)
			OPERATOR(pg_catalog./) (CASE WHEN tot.weight OPERATOR(pg_catalog.=) 0 THEN NULL ELSE tot.weight END)),
		(6, 'coverage', COALESCE(ex.distinct_items, 0) OPERATOR(pg_catalog./) grp.items)) x(ord, metric, value)
	UNION ALL
	SELECT 1, NULL, x.ord, x.metric, x.value
	FROM overall CROSS JOIN LATERAL (VALUES
		(1, 'lists', overall.lists),
		(2, 'coverage', overall.coverage),
		(3, 'gini', overall.gini),
		(4, 'mean_popularity_recommended', overall.pop_recommended),
		(5, 'mean_popularity_interacted', overall.pop_interacted),
		(6, 'popularity_lift', overall.pop_recommended
			OPERATOR(pg_catalog./) (CASE WHEN overall.pop_interacted OPERATOR(pg_catalog.=) 0 THEN NULL
										 ELSE overall.pop_interacted END))) x(ord, metric, value)
) r
ORDER BY r.part, r.grp NULLS LAST, r.ord
$q$, model, v.version, greatest(v.users, 1), ig, l);
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	RETURN QUERY EXECUTE sql;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	PERFORM recsys.end_read_only(ro_token);
	EXCEPTION WHEN SQLSTATE 'RSRO0' THEN
		IF SQLERRM IS DISTINCT FROM ro_token THEN
			RAISE;
		END IF;
	END;
END
$fn$;
COMMENT ON FUNCTION recsys.audit_exposure_body(text, text, integer, text, text, integer, text) IS
	'internal: the body of recsys.audit_exposure(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.audit_exposure(
	model text,
	item_groups text,
	k integer DEFAULT 10,
	users text DEFAULT NULL,
	lists text DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (item_group text, metric text, value double precision)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.audit_exposure_body($1, $2, $3, $4, $5, $6,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.audit_exposure(text, text, integer, text, text, integer) IS
	'exposure of item groups (item_groups: item, group) in the top-k lists of recommend_all (of the active version, or of the kept version given) (or of lists: user, item, rank, e.g. re-ranked): per group items, catalogue_share, interaction_share, exposure_share, discounted_exposure_share (1/log2(rank+1)), coverage; overall lists, coverage, gini of item exposure, mean popularity of recommended and of interacted items and their ratio';
