-- 04_helpers.sql: the helpers the evaluation and dataset functions share
-- to read a caller's relation names and queries.
--
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
--    query of the caller are pinned.  C functions that run a query of the
--    caller (train, recommend with exclude_query, item_times or
--    item_groups, predictions, the audits, eval_source) keep the caller's
--    path and pin it themselves around their own SQL, or qualify it.
--  * retrain() and the serving functions that fold an unknown user in
--    run the model's stored source as the model's owner, with the
--    search_path stored with the model (06_catalog.sql).
--
-- Every source (test set, groups, lists) is a table, a view or a single
-- SELECT, read with the caller's rights and, where it must not write, as if
-- the transaction were read-only; every identifier spliced into a query is
-- quoted.

-- A source (relation name or SELECT) as a FROM item; a relation name
-- resolves on the current search_path.
CREATE FUNCTION recsys.eval_source(source text, what text DEFAULT 'source', min_columns integer DEFAULT 0)
RETURNS text
AS 'MODULE_PATHNAME', 'rs_eval_source' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.eval_source(text, text, integer) IS
	'internal: the FROM item for a source given as a relation name (resolved and quoted) or a single SELECT (checked, in parentheses), with at least min_columns columns; used by the evaluation functions';

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

