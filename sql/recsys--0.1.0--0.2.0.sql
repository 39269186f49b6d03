-- recsys 0.1.0 -> 0.2.0: safe to install in a shared database.
--
-- A fresh CREATE EXTENSION runs recsys--0.1.0.sql and then this script, so
-- everything 0.2.0 changes is here, grouped by area:
--   1. the catalog: version identity, owners by role OID
--   2. stored queries: run as the model's owner
--   3. search_path: every function pinned, dynamic SQL qualified
--   4. limits and checks
--   5. model privileges and row-level security
--   6. managed per-model indexes

\echo Use "ALTER EXTENSION recsys UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 1. The catalog: version identity, owners by role OID
------------------------------------------------------------------------------

-- Every stored version gets an identity that is never used again (a
-- version number can come back: drop_model then train starts at 1 again,
-- and a training rolled back and redone reuses its number).  Caches of
-- served models are keyed by it.
CREATE SEQUENCE recsys.model_version_ids;
ALTER TABLE recsys.model_versions ADD COLUMN version_id bigint;
UPDATE recsys.model_versions v SET version_id = s.id
FROM (SELECT model, version, pg_catalog.nextval('recsys.model_version_ids') AS id
	  FROM (SELECT model, version FROM recsys.model_versions ORDER BY model, version) o) s
WHERE s.model = v.model AND s.version = v.version;
ALTER TABLE recsys.model_versions
	ALTER COLUMN version_id SET DEFAULT pg_catalog.nextval('recsys.model_version_ids'),
	ALTER COLUMN version_id SET NOT NULL,
	ADD CONSTRAINT model_versions_version_id_key UNIQUE (version_id);
ALTER SEQUENCE recsys.model_version_ids OWNED BY recsys.model_versions.version_id;
COMMENT ON COLUMN recsys.model_versions.version_id IS
	'identity of the stored version, never reused (not even after drop_model or a rolled-back training)';
SELECT pg_catalog.pg_extension_config_dump('recsys.model_version_ids', '');

-- The active version always exists: pruning cannot remove it, and an
-- UPDATE cannot point a model at a version that is not there.  (Versions
-- no longer reference their model: two config tables that reference each
-- other could not be restored by pg_restore, one table at a time.  The
-- catalog functions delete a model's versions with it.)
ALTER TABLE recsys.model_versions DROP CONSTRAINT model_versions_model_fkey;
ALTER TABLE recsys.models
	ADD CONSTRAINT models_active_version_fkey FOREIGN KEY (name, active_version)
	REFERENCES recsys.model_versions (model, version);

-- Models are owned by a role OID, not a name: renaming the owner keeps the
-- model theirs, and a new role that takes an old name gets nothing.  A
-- model whose owner role no longer exists keeps the OID (shown as a
-- number); only a superuser may act on it, or give it to another role
-- with recsys.alter_model_owner().  Owners that no longer exist when
-- upgrading from 0.1.0 are kept as the catalog's owner.
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT m.name, m.owner FROM recsys.models m
			 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = m.owner)
	LOOP
		-- a WARNING: PostgreSQL runs extension scripts with
		-- client_min_messages and log_min_messages at least WARNING, so a
		-- NOTICE would reach neither the client nor the log
		RAISE WARNING 'model "%" was owned by role "%", which no longer exists; it now belongs to the owner of recsys.models', r.name, r.owner;
	END LOOP;
END
$$;
ALTER TABLE recsys.models ADD COLUMN owner_oid pg_catalog.regrole;
UPDATE recsys.models m SET owner_oid =
	coalesce((SELECT a.oid FROM pg_catalog.pg_roles a WHERE a.rolname = m.owner),
			 (SELECT c.relowner FROM pg_catalog.pg_class c
			  WHERE c.oid = 'recsys.models'::pg_catalog.regclass))::pg_catalog.regrole;
ALTER TABLE recsys.models DROP COLUMN owner;
ALTER TABLE recsys.models RENAME COLUMN owner_oid TO owner;
ALTER TABLE recsys.models ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN recsys.models.owner IS
	'the role that owns the model (by OID; shown by its current name)';

------------------------------------------------------------------------------
-- 2. Stored queries
------------------------------------------------------------------------------

-- A model's stored source and attributes run, on retrain and on fold-in,
-- as the model's owner under SECURITY_RESTRICTED_OPERATION, with this
-- search_path: the schemas of the trainer's search_path when the model was
-- trained (pg_catalog first and pg_temp last), fixed at that moment.
ALTER TABLE recsys.models ADD COLUMN search_path text;
COMMENT ON COLUMN recsys.models.search_path IS
	'the search_path the stored source and attributes run with (the trainer''s, fixed when trained)';

------------------------------------------------------------------------------
-- 3. search_path
------------------------------------------------------------------------------

-- The extension's own SQL resolves functions, operators, types and
-- relations only in pg_catalog and recsys (and, for the temporary tables
-- a function makes itself, pg_temp), whatever the caller's search_path
-- holds, following "Security Considerations for Extensions" in the
-- PostgreSQL documentation.  A name or a query the caller passes (a
-- training source, a test set, groups, users, lists, an exclusion query,
-- the tables split() and generate_dataset() create) resolves exactly as in
-- the caller's own session.  How:
--
--  * Every SQL and PL/pgSQL function that does the work is pinned:
--    SET search_path = pg_catalog, recsys, pg_temp.
--  * A function that takes such a name or query is a thin entry point that
--    is not pinned: one SELECT, in LANGUAGE sql, of its pinned body, every
--    name in it schema-qualified and every argument of its exact type, so
--    that it means the same under any search_path.  It hands the body
--    pg_catalog.current_setting('search_path'), the caller's path.
--  * The body switches to the caller's path (set_config(..., true), undone
--    when the pinned function returns, even on error) only around the
--    statements that contain the caller's text (EXECUTE, and
--    recsys.eval_source(), which resolves a relation name), and back at
--    once.  Everything such a statement adds around the caller's text is
--    schema-qualified: pg_catalog.count(...), OPERATOR(pg_catalog.=),
--    ::pg_catalog.text; no IN, NULLIF or IS DISTINCT FROM (they look "=" up
--    on the search_path).
--  * The path only decides how the caller's own text resolves; no function
--    here is SECURITY DEFINER, so a body called directly with another path
--    runs nothing with more rights than its caller's.
--  * C functions that run no SQL (type I/O, operators, distances, index
--    and aggregate support, generators) have no SET clause: it would cost
--    on every call and guard nothing.  C functions that run SQL but take no
--    query of the caller are pinned below.  C functions that run a query
--    of the caller (train, recommend with exclude_query, item_times or
--    item_groups, predictions, the audits, eval_source) keep the caller's
--    path and pin it themselves around their own SQL, or qualify it.
--  * retrain() and the serving functions that fold an unknown user in
--    run the model's stored source, with the path section 2 gives it.

-- The pinned helpers the bodies share.

-- A source as recsys.eval_source() gives it, resolved on the caller's path.
CREATE FUNCTION recsys.eval_source_in_path(source text, what text, min_columns integer, caller_path text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	from_item text;
BEGIN
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	from_item := recsys.eval_source(source, what, min_columns);
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	RETURN from_item;
END
$fn$;
COMMENT ON FUNCTION recsys.eval_source_in_path(text, text, integer, text) IS
	'internal: recsys.eval_source() on the caller''s search_path, for the pinned evaluation functions';

-- A statement (that holds the caller's text) run on the caller's path.
CREATE FUNCTION recsys.exec_in_path(statement text, caller_path text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	n bigint;
BEGIN
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	EXECUTE statement;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	RETURN n;
END
$fn$;
COMMENT ON FUNCTION recsys.exec_in_path(text, text) IS
	'internal: runs a statement holding a caller''s names or query on the caller''s search_path (everything recsys adds to it is schema-qualified) and returns its row count';

-- exec_read_only(): the statement is the caller's.
CREATE FUNCTION recsys.exec_read_only_body(statement text, caller_path text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET transaction_read_only = on
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	n bigint;
BEGIN
	PERFORM pg_catalog.set_config('search_path', caller_path, true);
	EXECUTE statement;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
	RETURN n;
END
$fn$;
COMMENT ON FUNCTION recsys.exec_read_only_body(text, text) IS
	'internal: the body of recsys.exec_read_only(), the statement run on the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.exec_read_only(statement text)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$
	SELECT recsys.exec_read_only_body($1, pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;

-- generate_dataset(): the tables go to the caller's current schema.
CREATE FUNCTION recsys.generate_dataset_body(
    name text,
    users integer,
    items integer,
    interactions bigint,
    seed bigint,
    categories integer,
    factors integer,
    sigma real,
    noisy_gender text,
    noisy_sigma real,
    preference real,
    zipf real,
    caller_path text)
RETURNS TABLE(relation regclass, rows bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
    sch text;
    kind text;
    tbl text;
    q text;
    n bigint;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'dataset name must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a name; tables <name>_users, <name>_items and <name>_interactions are created.';
    END IF;
    IF num_nulls(users, items, interactions, seed, categories, factors, sigma,
                 noisy_sigma, preference, zipf) > 0 THEN
        RAISE EXCEPTION 'dataset parameters must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave an argument out to get its default; only noisy_gender may be NULL.';
    END IF;
    -- Tables go to the caller's current schema, named explicitly so that
    -- the regclass returned is the table created, whatever search_path says.
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
    sch := pg_catalog.current_schema();
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
    IF sch IS NULL THEN
        RAISE EXCEPTION 'no current schema to create the dataset in'
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Set search_path to an existing schema.';
    END IF;
    IF octet_length(name || '_interactions') > 63 THEN
        RAISE EXCEPTION 'dataset name "%" is too long', name
            USING ERRCODE = 'name_too_long',
                  HINT = 'Table names are limited to 63 bytes; use a name of at most 50 bytes.';
    END IF;

    FOREACH kind IN ARRAY ARRAY['users', 'items', 'interactions'] LOOP
        tbl := name || '_' || kind;
        q := CASE kind
            WHEN 'users' THEN format(
                'SELECT * FROM recsys.synth_users(%s, %s)', users, seed)
            WHEN 'items' THEN format(
                'SELECT * FROM recsys.synth_items(%s, %s, %s)', items, seed, categories)
            ELSE format(
                'SELECT * FROM recsys.synth_interactions(%s, %s, %s, %s, %s, %s, %L::pg_catalog.float4, %L::pg_catalog.text, %L::pg_catalog.float4, %L::pg_catalog.float4, %L::pg_catalog.float4)',
                users, items, interactions, seed, categories, factors,
                sigma, noisy_gender, noisy_sigma, preference, zipf)
            END;
        EXECUTE format('CREATE TABLE %I.%I AS %s', sch, tbl, q);
        GET DIAGNOSTICS n = ROW_COUNT;
        EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (%s)', sch, tbl,
            CASE kind WHEN 'users' THEN 'user_id'
                      WHEN 'items' THEN 'item_id'
                      ELSE 'user_id, item_id' END);
        EXECUTE format('ANALYZE %I.%I', sch, tbl);
        relation := format('%I.%I', sch, tbl)::regclass;
        rows := n;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION recsys.generate_dataset_body(text, integer, integer, bigint, bigint, integer, integer, real, text, real, real, real, text) IS
	'internal: the body of recsys.generate_dataset(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.generate_dataset(
    name text,
    users integer DEFAULT 1000,
    items integer DEFAULT 500,
    interactions bigint DEFAULT 20000,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8,
    sigma real DEFAULT 0.5,
    noisy_gender text DEFAULT NULL,
    noisy_sigma real DEFAULT 1.0,
    preference real DEFAULT 0.8,
    zipf real DEFAULT 1.0)
RETURNS TABLE(relation regclass, rows bigint)
LANGUAGE sql VOLATILE
AS $fn$
	SELECT * FROM recsys.generate_dataset_body($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;

-- split(): the source, and the train and test tables it creates, resolve
-- on the caller's path.
CREATE FUNCTION recsys.split_body(
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
	IF method IS NULL OR method NOT IN ('random', 'per_user', 'temporal', 'leave_last_out') THEN
		RAISE EXCEPTION 'unknown split method "%"', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use random, per_user, temporal or leave_last_out.';
	END IF;
	IF method <> 'leave_last_out' AND (test_fraction IS NULL OR NOT (test_fraction > 0 AND test_fraction < 1)) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1 (exclusive), not %', coalesce(test_fraction::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example test_fraction => 0.2 holds out a fifth of the rows.';
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
COMMENT ON FUNCTION recsys.split_body(text, text, text, text, double precision, integer, text, text, text, boolean, text) IS
	'internal: the body of recsys.split(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.split(
	source text,
	user_col text,
	item_col text,
	method text DEFAULT 'random',
	test_fraction double precision DEFAULT 0.2,
	seed integer DEFAULT 42,
	time_col text DEFAULT NULL,
	train_table text DEFAULT NULL,
	test_table text DEFAULT NULL,
	"temporary" boolean DEFAULT false)
RETURNS TABLE (part text, relation text, "rows" bigint, users bigint)
LANGUAGE sql VOLATILE
AS $fn$
	SELECT * FROM recsys.split_body($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;

-- The evaluation: the test set, groups, users and lists are the caller's.
-- The internal functions that build their queries take the caller's path.
DROP FUNCTION recsys.eval_lists_sql(text, integer, text);
CREATE FUNCTION recsys.eval_lists_sql(lists text, cutoff integer, filter text, caller_path text)
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

DROP FUNCTION recsys.eval_ranking_sql(text, text, integer, text, text, text, double precision, text, boolean);
CREATE FUNCTION recsys.eval_ranking_sql(
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
	-- a user would see
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
h AS (
	SELECT u.uid, r.item_key, r.rank, r.item_key OPERATOR(pg_catalog.=) ANY (u.relevant) AS rel
	FROM r JOIN u ON u.user_key OPERATOR(pg_catalog.=) r.user_key),
w AS (
	SELECT h.*, pg_catalog.count(*) FILTER (WHERE h.rel) OVER (PARTITION BY h.uid ORDER BY h.rank) AS hits_so_far
	FROM h),
m AS (
	SELECT w.uid,
		   pg_catalog.count(*) FILTER (WHERE w.rel) AS hits,
		   pg_catalog.sum(pg_catalog.ln(2::pg_catalog.float8)
						  OPERATOR(pg_catalog./) pg_catalog.ln(w.rank OPERATOR(pg_catalog.+) 1::pg_catalog.float8))
			   FILTER (WHERE w.rel) AS dcg,
		   pg_catalog.sum(w.hits_so_far::pg_catalog.float8 OPERATOR(pg_catalog./) w.rank) FILTER (WHERE w.rel) AS sum_precision,
		   pg_catalog.min(w.rank) FILTER (WHERE w.rel) AS first_hit,
		   pg_catalog.array_agg(w.item_key ORDER BY w.rank) AS items
	FROM w GROUP BY w.uid),
idcg AS (
	SELECT pg_catalog.array_agg(z.c ORDER BY z.i) AS v
	FROM (SELECT i, pg_catalog.sum(pg_catalog.ln(2::pg_catalog.float8)
								   OPERATOR(pg_catalog./) pg_catalog.ln(i OPERATOR(pg_catalog.+) 1::pg_catalog.float8))
						OVER (ORDER BY i) AS c
		  FROM pg_catalog.generate_series(1, LEAST(%4$s, (SELECT pg_catalog.max(u.n_relevant) FROM u))) i) z)
SELECT u.user_key, u.n_relevant,
	   COALESCE(m.hits, 0)::pg_catalog.float8 OPERATOR(pg_catalog./) %4$s AS "precision",
	   COALESCE(m.hits, 0)::pg_catalog.float8 OPERATOR(pg_catalog./) u.n_relevant AS recall,
	   COALESCE(m.dcg, 0) OPERATOR(pg_catalog./) (SELECT v FROM idcg)[LEAST(u.n_relevant, %4$s)] AS ndcg,
	   COALESCE(m.sum_precision, 0) OPERATOR(pg_catalog./) LEAST(u.n_relevant, %4$s) AS ap,
	   COALESCE(1.0::pg_catalog.float8 OPERATOR(pg_catalog./) m.first_hit, 0) AS rr,
	   (COALESCE(m.hits, 0) OPERATOR(pg_catalog.>) 0)::integer::pg_catalog.float8 AS hit,
	   COALESCE(m.items, '{}') AS items,
	   (SELECT pg_catalog.count(*) FROM tu) AS test_users
FROM u LEFT JOIN m ON m.uid OPERATOR(pg_catalog.=) u.uid
$q$, t, model, m.active_version, cutoff, r, CASE WHEN serve_unknown THEN 'LEFT' ELSE '' END);
END
$fn$;
COMMENT ON FUNCTION recsys.eval_ranking_sql(text, text, integer, text, text, text, double precision, text, boolean, text) IS
	'internal to evaluate() and evaluate_users(): checks their arguments and returns the query measuring each test user''s top-k list (served by recommend_all, or given as lists), and the query counting test users, known users and known items; the test set and lists resolve on caller_path, and the queries run on it';

ALTER FUNCTION recsys.eval_check(text, bigint, bigint, bigint, double precision)
	SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.eval_lists_error(text, text, integer, bigint, bigint)
	SET search_path = pg_catalog, recsys, pg_temp;

CREATE FUNCTION recsys.evaluate_users_body(
	model text,
	test text,
	k integer,
	user_col text,
	item_col text,
	rating_col text,
	threshold double precision,
	caller_path text)
RETURNS TABLE (user_key text, n_relevant integer, "precision" double precision,
			   recall double precision, ndcg double precision, ap double precision,
			   rr double precision, hit double precision)
LANGUAGE plpgsql STABLE
SET transaction_read_only = on
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	q record;
	c record;
	sql text;
	found_rows boolean;
BEGIN
	q := recsys.eval_ranking_sql(model, test, k, user_col, item_col, rating_col, threshold, NULL, false, caller_path);
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
END
$fn$;
COMMENT ON FUNCTION recsys.evaluate_users_body(text, text, integer, text, text, text, double precision, text) IS
	'internal: the body of recsys.evaluate_users(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.evaluate_users(
	model text,
	test text,
	k integer DEFAULT 10,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL)
RETURNS TABLE (user_key text, n_relevant integer, "precision" double precision,
			   recall double precision, ndcg double precision, ap double precision,
			   rr double precision, hit double precision)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.evaluate_users_body($1, $2, $3, $4, $5, $6, $7,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;

DROP FUNCTION recsys.eval_metrics(text, text, integer, text, text, text, double precision, text, text[], text, text);
CREATE FUNCTION recsys.eval_metrics(
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
	caller_path text)
RETURNS TABLE (metric text, at_k integer, value double precision, user_group text)
LANGUAGE plpgsql STABLE
SET transaction_read_only = on
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
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
								 serve_unknown, caller_path);
	SELECT mv.version, mv.items, mv.users,
		   CASE WHEN mv.algorithm IN ('item_knn', 'user_knn') THEN mv.params->>'feedback' = 'explicit'
				ELSE mv.algorithm IN ('als', 'svd') END AS explicit_model
	  INTO v
	  FROM recsys.models m JOIN recsys.model_versions mv
		ON mv.model = m.name AND mv.version = m.active_version
	 WHERE m.name = eval_metrics.model;
	is_explicit := coalesce(v.explicit_model, false);
	IF metrics IS NOT NULL AND NOT is_explicit AND want && ARRAY['rmse', 'mae'] THEN
		RAISE EXCEPTION 'model "%" does not predict ratings: rmse and mae need an explicit model', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'als, svd and neighbourhood models with "feedback": "explicit" predict ratings; ask for ranking metrics instead.';
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
							%4$L::pg_catalog.text, %5$L::pg_catalog.text) p
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
$q$, model, test, user_col, item_col, rating_col, g);
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
END
$fn$;
COMMENT ON FUNCTION recsys.eval_metrics(text, text, integer, text, text, text, double precision, text, text[], text, text, text) IS
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
	unknown_users text DEFAULT 'skip')
RETURNS TABLE (metric text, k integer, value double precision, user_group text)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.eval_metrics($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;

CREATE FUNCTION recsys.audit_exposure_body(
	model text,
	item_groups text,
	k integer,
	users text,
	lists text,
	caller_path text)
RETURNS TABLE (item_group text, metric text, value double precision)
LANGUAGE plpgsql STABLE
SET transaction_read_only = on
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
	v record;
	l text;
	ig text;
	sql text;
BEGIN
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
					'FROM recsys.recommend_all(%L::pg_catalog.text, %s, users => %s) a',
					model, k,
					CASE WHEN users IS NULL THEN 'NULL'
						 ELSE format('ARRAY(SELECT DISTINCT (y.recsys_user)::pg_catalog.text FROM %s AS y(recsys_user) '
									 'WHERE y.recsys_user IS NOT NULL)',
									 recsys.eval_source_in_path(users, 'users', 1, caller_path)) END);
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
END
$fn$;
COMMENT ON FUNCTION recsys.audit_exposure_body(text, text, integer, text, text, text) IS
	'internal: the body of recsys.audit_exposure(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.audit_exposure(
	model text,
	item_groups text,
	k integer DEFAULT 10,
	users text DEFAULT NULL,
	lists text DEFAULT NULL)
RETURNS TABLE (item_group text, metric text, value double precision)
LANGUAGE sql STABLE
AS $fn$
	SELECT * FROM recsys.audit_exposure_body($1, $2, $3, $4, $5,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;

-- C functions that run SQL (catalog reads, serving's own statements) but
-- no query of the caller.
ALTER FUNCTION recsys.predict(text, "any", "any")
	SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.similar_items(text, anyelement, integer)
	SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.similar_users(text, anyelement, integer)
	SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.drop_model(text, boolean)
	SET search_path = pg_catalog, recsys, pg_temp;

------------------------------------------------------------------------------
-- 4. Limits and checks
------------------------------------------------------------------------------

-- schedule_retrain: only for a model with a stored source (not one made by
-- recsys.fit()), only by its owner (or a superuser), and one pg_cron job per
-- model.  pg_cron keeps job names as name (63 bytes) and replaces the
-- caller's job of the same name, so the default name is
-- recsys-retrain-<model> while that fits, else a prefix of it and a hash of
-- the whole model name; a job name that already names another of the
-- caller's jobs is refused.  The job runs as the caller, like every
-- pg_cron job.
CREATE OR REPLACE FUNCTION recsys.schedule_retrain(model text, schedule text, job_name text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $$
DECLARE
	m_owner pg_catalog.regrole;
	m_source text;
	jname text;
	cmd text;
	other text;
	job bigint;
BEGIN
	IF model IS NULL OR schedule IS NULL THEN
		RAISE EXCEPTION 'model and schedule must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- unknown: 42704; another role's model it may not use: 42501 (and the
	-- row, hidden by row-level security, is not read)
	PERFORM recsys.check_model_usage(model);
	SELECT m.owner, m.source INTO m_owner, m_source
	FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Train it once with recsys.train() before scheduling retrains.';
	END IF;
	IF NOT pg_catalog.pg_has_role(m_owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of model "%"', model
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Only the model''s owner (or a superuser) schedules its retraining.';
	END IF;
	IF m_source IS NULL THEN
		RAISE EXCEPTION 'model "%" has no stored source to retrain from', model
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'It was made by the aggregate recsys.fit(), which keeps no source.',
				  HINT = 'Schedule the query that calls recsys.fit() with cron.schedule(), or train the model with recsys.train().';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name, and CREATE EXTENSION pg_cron.';
	END IF;

	IF job_name IS NOT NULL THEN
		IF pg_catalog.octet_length(job_name) OPERATOR(pg_catalog.>) 63 THEN
			RAISE EXCEPTION 'job_name "%" is longer than 63 bytes', job_name
				USING ERRCODE = 'name_too_long',
					  HINT = 'pg_cron keeps job names as name, which would cut it; choose a shorter one, or omit it.';
		END IF;
		jname := job_name;
	ELSE
		jname := 'recsys-retrain-' OPERATOR(pg_catalog.||) model;
		IF pg_catalog.octet_length(jname) OPERATOR(pg_catalog.>) 63 THEN
			-- 46 bytes of the name (whole characters), '-', 16 hex digits of its hash
			jname := pg_catalog.left(jname, 46);
			WHILE pg_catalog.octet_length(jname) OPERATOR(pg_catalog.>) 46 LOOP
				jname := pg_catalog.left(jname, -1);
			END LOOP;
			jname := jname OPERATOR(pg_catalog.||) '-' OPERATOR(pg_catalog.||)
				pg_catalog.left(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(model, 'UTF8')), 'hex'), 16);
		END IF;
	END IF;
	cmd := pg_catalog.format('SELECT recsys.retrain(%L)', model);

	-- pg_cron may not exist when recsys is installed, so it is called dynamically;
	-- cron.job shows the caller's own jobs, the ones cron.schedule() would replace
	EXECUTE 'SELECT j.command FROM cron.job j WHERE j.jobname OPERATOR(pg_catalog.=) $1::pg_catalog.name'
		  ' AND j.username OPERATOR(pg_catalog.=) CURRENT_USER'
		INTO other USING jname;
	IF other IS NOT NULL AND other OPERATOR(pg_catalog.<>) cmd THEN
		RAISE EXCEPTION 'pg_cron job "%" already exists and runs something else', jname
			USING ERRCODE = 'duplicate_object',
				  DETAIL = pg_catalog.format('It runs: %s', other),
				  HINT = 'Choose another job_name, or unschedule that job first with cron.unschedule().';
	END IF;
	EXECUTE 'SELECT cron.schedule($1, $2, $3)'
		INTO job
		USING jname, schedule, cmd;
	RETURN job;
END
$$;
COMMENT ON FUNCTION recsys.schedule_retrain(text, text, text) IS
	'schedules SELECT recsys.retrain(model) with pg_cron as the caller (the model''s owner or a superuser; not for models made by recsys.fit()); job name recsys-retrain-<model>, or a prefix and a hash when that exceeds 63 bytes, unless given; returns the job id';

------------------------------------------------------------------------------
-- 5. Model privileges and row-level security
------------------------------------------------------------------------------

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

-- In 0.1.0 a role that could read the catalog could use every model.  So
-- that an upgrade takes nothing away, each role (or PUBLIC) granted SELECT
-- on recsys.models is granted every model there is; owners revoke what
-- they do not mean to share.
INSERT INTO recsys.model_grants (model, grantee, granted_by)
SELECT m.name, a.grantee::pg_catalog.regrole, m.owner
FROM recsys.models m,
	 pg_catalog.aclexplode((SELECT c.relacl FROM pg_catalog.pg_class c
							WHERE c.oid = 'recsys.models'::pg_catalog.regclass)) a
WHERE a.privilege_type OPERATOR(pg_catalog.=) 'SELECT'
  AND a.grantee OPERATOR(pg_catalog.<>) a.grantor
ON CONFLICT DO NOTHING;

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
-- the view reads its tables with the reader's rights, so their policies
-- apply to the reader (a view's owner, here a superuser, would bypass them)
ALTER VIEW recsys.neighbors SET (security_invoker = true);

-- The evaluation functions written in SQL check at their entry too:
-- recsys.eval_ranking_sql() (for evaluate() and evaluate_users()) and
-- recsys.audit_exposure_body() call recsys.check_model_usage() (section 3;
-- PL/pgSQL resolves it when it runs).

------------------------------------------------------------------------------
-- 6. Managed per-model indexes
------------------------------------------------------------------------------

-- A model's recsys_hnsw index on recsys.item_factors is asked for with
-- recsys.create_model_index() and kept by recsys (src/model_index.c): one
-- partial index per dimension of the model's kept versions, built again by
-- the next training or recsys.restore_model_indexes() after pg_restore
-- (which does not dump indexes on an extension's tables).  Indexes are
-- dropped and rebuilt by a superuser only (drop_unused_model_indexes,
-- reindex_model): both lock item_factors against every reader.
ALTER TABLE recsys.models ADD COLUMN index_options jsonb;
COMMENT ON COLUMN recsys.models.index_options IS
	'the model''s managed recsys_hnsw index (m, ef_construction), NULL: none';

CREATE FUNCTION recsys.create_model_index(model text, m integer DEFAULT NULL,
										  ef_construction integer DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_create_model_index' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.create_model_index(text, integer, integer) IS
	'serves an ials model through a recsys_hnsw index that recsys keeps across retrains (owner only); returns the indexes built';
CREATE FUNCTION recsys.drop_model_index(model text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'rs_drop_model_index' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.drop_model_index(text) IS
	'withdraws a model''s request for an index (owner only): serving scores every item; false if there was none';
CREATE FUNCTION recsys.reindex_model(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'rs_reindex_model' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.reindex_model(text) IS
	'rebuilds a model''s managed indexes (superuser only: REINDEX locks out every model''s serving until commit); returns how many';
CREATE FUNCTION recsys.drop_unused_model_indexes()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'rs_drop_unused_model_indexes' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.drop_unused_model_indexes() IS
	'superuser only: drops the managed indexes no model needs any more (DROP INDEX locks out every model''s serving until commit); returns their names';
REVOKE ALL ON FUNCTION recsys.drop_unused_model_indexes() FROM PUBLIC;
ALTER FUNCTION recsys.drop_unused_model_indexes() SET search_path = pg_catalog, recsys, pg_temp;
CREATE FUNCTION recsys.restore_model_indexes()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'rs_restore_model_indexes' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.restore_model_indexes() IS
	'after pg_restore: builds the missing managed indexes of the models the caller owns (a superuser: all); returns their names';
REVOKE ALL ON FUNCTION recsys.create_model_index(text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.drop_model_index(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.reindex_model(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION recsys.restore_model_indexes() FROM PUBLIC;
ALTER FUNCTION recsys.create_model_index(text, integer, integer) SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.drop_model_index(text) SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.reindex_model(text) SET search_path = pg_catalog, recsys, pg_temp;
ALTER FUNCTION recsys.restore_model_indexes() SET search_path = pg_catalog, recsys, pg_temp;

-- 0.1.0 asked for an index made by hand (CREATE INDEX ... ON
-- recsys.item_factors ... WHERE model = 'x'); such an index of an ials
-- model becomes the model's managed index (same m and ef_construction).
DO $$
DECLARE
	r record;
	opts jsonb;
BEGIN
	FOR r IN
		SELECT c.oid, c.relname, c.reloptions,
			   pg_catalog.substring(pg_catalog.pg_get_expr(x.indpred, x.indrelid),
									'^\(model = ''(.*)''::text\)$') AS model
		FROM pg_catalog.pg_index x
		JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
		JOIN pg_catalog.pg_am a ON a.oid = c.relam
		WHERE x.indrelid = 'recsys.item_factors'::pg_catalog.regclass AND a.amname = 'recsys_hnsw'
	LOOP
		CONTINUE WHEN r.model IS NULL OR pg_catalog.strpos(r.model, '''') > 0;
		IF NOT EXISTS (SELECT 1 FROM recsys.models m WHERE m.name = r.model AND m.algorithm = 'ials') THEN
			RAISE NOTICE 'index "%" on recsys.item_factors is left as it is: model "%" is not an ials model', r.relname, r.model;
			CONTINUE;
		END IF;
		SELECT pg_catalog.jsonb_object_agg(pg_catalog.split_part(o, '=', 1),
										   pg_catalog.split_part(o, '=', 2)::integer)
		INTO opts
		FROM pg_catalog.unnest(r.reloptions) o
		WHERE pg_catalog.split_part(o, '=', 1) IN ('m', 'ef_construction');
		UPDATE recsys.models SET index_options = coalesce(opts, '{}'::jsonb) WHERE name = r.model;
		EXECUTE pg_catalog.format('DROP INDEX recsys.%I', r.relname);
		RAISE NOTICE 'index "%" on recsys.item_factors is now model "%"''s managed index', r.relname, r.model;
	END LOOP;
END
$$;
SELECT pg_catalog.count(*) FROM recsys.restore_model_indexes();
