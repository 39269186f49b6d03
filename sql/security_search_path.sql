--
-- search_path: the extension's own SQL resolves functions, operators,
-- types and relations only in pg_catalog and recsys (and its own temporary
-- tables in pg_temp), whatever the caller's search_path holds; the names
-- and queries a caller passes still resolve on the caller's search_path.
--
-- (a) every function of the extension, its language and its proconfig:
--     every function that runs SQL has search_path pinned, or is a thin
--     entry point that only hands the caller's search_path on; the C
--     functions that run no SQL are listed by name.
-- (b) an attacker who may CREATE in public (and who once had the session's
--     pg_temp) shadows every built-in the extension's SQL calls; a
--     superuser then runs every public function of the extension with
--     search_path = public, pg_catalog (and pg_temp, public, pg_catalog):
--     no shadow ever runs, and the results are those of a clean path.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

------------------------------------------------------------------------------
-- (a) The catalog of the extension's functions
------------------------------------------------------------------------------

CREATE TEMP VIEW sp_functions AS
SELECT p.oid, p.oid::regprocedure::text AS function,
	   CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE l.lanname END AS language,
	   p.proconfig, p.prosrc,
	   -- pinned: search_path set to pg_catalog first, then nothing but
	   -- recsys and pg_temp
	   EXISTS (SELECT 1 FROM unnest(p.proconfig) c
			   WHERE c IN ('search_path=pg_catalog, recsys, pg_temp', 'search_path=pg_catalog, pg_temp')) AS pinned,
	   -- an entry point: one SELECT of a recsys function, handing on the
	   -- caller's search_path, every name in it qualified
	   l.lanname = 'sql' AND p.proconfig IS NULL
	   AND p.prosrc ~ '^\s*SELECT (\* FROM )?recsys\.\w+\(\$1, '
	   AND p.prosrc ~ 'pg_catalog\.current_setting\(''search_path''::pg_catalog\.text\)\)\s*$' AS entry_point
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_proc p ON p.oid = d.objid AND d.classid = 'pg_catalog.pg_proc'::regclass
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'recsys');

-- Every SQL and PL/pgSQL function, with its language and proconfig: each
-- is pinned, or an entry point
SELECT function, language, proconfig, pinned, entry_point
FROM sp_functions WHERE language IN ('sql', 'plpgsql')
ORDER BY function;
-- (none is neither)
SELECT function FROM sp_functions
WHERE language IN ('sql', 'plpgsql') AND NOT pinned AND NOT entry_point;

-- C functions that run SQL but read no query of the caller: pinned
SELECT function, proconfig FROM sp_functions
WHERE language = 'c' AND pinned
ORDER BY function;

-- The functions without a pinned search_path that are no entry point:
-- those that run a query of the caller (they keep the caller's path for
-- it, and pin it themselves around their own SQL), and those that run no
-- SQL at all (type I/O, operators, distances, index and aggregate
-- support, generators; a SET clause would cost on every call and guard
-- nothing).  A new function shows up here.
SELECT function, language,
	   CASE WHEN (SELECT f.proname FROM pg_proc f WHERE f.oid = p.oid) IN ('train', 'retrain', 'update', 'recommend', 'recommend_for_items',
										  'recommend_all', 'predictions', 'audit_error',
										  'audit_ranking', 'eval_source', 'fit_finalfn', 'fit')
			THEN 'runs a query of the caller' ELSE 'runs no SQL' END AS kind
FROM sp_functions p
WHERE NOT pinned AND NOT entry_point
ORDER BY kind, function;

------------------------------------------------------------------------------
-- (b) Shadows
------------------------------------------------------------------------------

-- Data and models, made on a clean path before the attacker comes.
SELECT relation, rows FROM recsys.generate_dataset('sp', users => 40, items => 30,
	interactions => 600, seed => 5);
SELECT part, rows > 0 AS has_rows FROM recsys.split('sp_interactions', 'user_id', 'item_id',
	method => 'per_user', test_fraction => 0.25, seed => 3);
SELECT model, users, items FROM recsys.train('sp_pop', 'sp_interactions_train', 'user_id', 'item_id', 'clicks', 'popularity');
SELECT model, users, items FROM recsys.train('sp_ials', 'sp_interactions_train', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 4, "iterations": 4}');
SELECT model, users, items FROM recsys.train('sp_als', 'sp_interactions_train', 'user_id', 'item_id', 'rating', 'als', '{"factors": 4, "iterations": 4}');
SELECT model, users, items FROM recsys.train('sp_iknn', 'sp_interactions_train', 'user_id', 'item_id', 'rating', 'item_knn', '{"neighbors": 5}');
SELECT model, users, items FROM recsys.train('sp_uknn', 'sp_interactions_train', 'user_id', 'item_id', 'rating', 'user_knn', '{"neighbors": 5}');
CREATE TABLE sp_out_of_stock AS SELECT 1 AS item_id UNION ALL SELECT 2;
CREATE TABLE sp_lists AS
	SELECT "user"::int AS u, item::int AS i, rank FROM recsys.recommend_all('sp_pop', 5);
SELECT arm, share FROM recsys.create_experiment('sp_ab',
	'[{"arm": "pop", "model": "sp_pop"}, {"arm": "ials", "model": "sp_ials", "weight": 2}]', salt => 'sp');

-- What the functions return on a clean path, to compare with below.
CREATE FUNCTION pg_temp.digest(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE concat('SELECT md5(string_agg(x::text, ''|'')) FROM (', q, ') x') INTO r;
	RETURN r;
END $$;

-- The calls: every public function of the extension, unqualified names of
-- the caller's tables in public (as the caller's own path resolves them).
-- (The caller's own text resolves on the caller's path, so what it adds
-- itself -- casts, operators -- is qualified here: it is not under test.)
CREATE TABLE sp_calls (id serial, call text);
INSERT INTO sp_calls (call) VALUES
	($$SELECT * FROM recsys.recommend('sp_ials', 1, 5)$$),
	($$SELECT item, rank FROM recsys.recommend('sp_ials', 1, 5, true, ARRAY[3, 4], exclude_query => 'SELECT item_id FROM sp_out_of_stock', item_times => 'SELECT item_id, created_at FROM sp_items', half_life => '300 days', item_groups => 'SELECT item_id, category FROM sp_items', max_per_group => 2)$$),
	($$SELECT * FROM recsys.recommend('sp_ials', 1, 5, item_groups => 'SELECT item_id, long_tail FROM sp_items', protected_group => 't', min_share => 0.4)$$),
	($$SELECT * FROM recsys.recommend('sp_ials', 1, 5, max_similarity => 0.99, mmr_lambda => 0.7, pool => 20, forbidden => (SELECT recsys.bloom_agg(item_id) FROM sp_out_of_stock))$$),
	($$SELECT * FROM recsys.recommend('sp_ials', 100000, 5)$$),
	($$SELECT * FROM recsys.recommend('sp_iknn', 2, 5)$$),
	($$SELECT * FROM recsys.recommend('sp_uknn', 2, 5)$$),
	($$SELECT * FROM recsys.recommend_for_items('sp_ials', ARRAY[1, 2, 3], 5, exclude_query => 'SELECT item_id FROM sp_out_of_stock')$$),
	($$SELECT * FROM recsys.recommend_all('sp_pop', 3, exclude_query => 'SELECT item_id FROM sp_out_of_stock', item_groups => 'SELECT item_id, category FROM sp_items', max_per_group => 1) ORDER BY 1, 4$$),
	($$SELECT * FROM recsys.similar_items('sp_ials', 1, 5)$$),
	($$SELECT * FROM recsys.similar_items('sp_iknn', 1, 5)$$),
	($$SELECT * FROM recsys.similar_users('sp_ials', 1, 5)$$),
	($$SELECT * FROM recsys.similar_users('sp_uknn', 1, 5)$$),
	($$SELECT recsys.predict('sp_als', 1, 2)$$),
	($$SELECT * FROM recsys.rerank(ARRAY[1, 2, 3, 4], ARRAY[4, 3, 2, 1]::pg_catalog.float8[], 3, groups => ARRAY['a', 'a', 'b', 'b'], max_per_group => 1)$$),
	($$SELECT * FROM recsys.predictions('sp_als', 'sp_interactions_test') ORDER BY 1, 2$$),
	($$SELECT * FROM recsys.evaluate('sp_als', 'sp_interactions_test', 5, user_groups => 'SELECT user_id, gender FROM sp_users')$$),
	($$SELECT * FROM recsys.evaluate('sp_pop', 'SELECT user_id, item_id FROM sp_interactions_test', 5, lists => 'sp_lists', unknown_users => 'serve')$$),
	($$SELECT * FROM recsys.evaluate_users('sp_ials', 'sp_interactions_test', 5, threshold => 3, rating_col => 'rating')$$),
	($$SELECT * FROM recsys.audit_exposure('sp_ials', 'SELECT item_id, category FROM sp_items', 5, users => 'SELECT user_id FROM sp_users WHERE user_id OPERATOR(pg_catalog.<) 20')$$),
	($$SELECT * FROM recsys.audit_exposure('sp_ials', 'SELECT item_id, long_tail FROM sp_items', 5, lists => 'sp_lists')$$),
	($$SELECT * FROM recsys.audit_error('sp_als', 'sp_interactions_test', 'SELECT user_id, gender FROM sp_users')$$),
	($$SELECT * FROM recsys.audit_ranking('sp_ials', 'sp_interactions_test', 'sp_users', 5)$$),
	($$SELECT recsys.eval_source('sp_users', 'users', 2)$$),
	($$SELECT * FROM recsys.synth_users(3)$$),
	($$SELECT recsys.bloom_contains(recsys.bloom_agg(item_id), 1) FROM sp_out_of_stock$$),
	($$SELECT (recsys.anova(u.gender, i.rating::pg_catalog.float8)).statistic IS NOT NULL FROM sp_interactions i JOIN sp_users u ON u.user_id OPERATOR(pg_catalog.=) i.user_id$$),
	($$SELECT recsys.sum(recsys.array_to_embedding(ARRAY[item_id, 1], 2, true))::pg_catalog.text FROM sp_out_of_stock$$),
	($$SELECT u, recsys.assign('sp_ab', u), recsys.experiment_point('sp', u) FROM pg_catalog.generate_series(1, 40) u$$),
	($$SELECT u, r.* FROM pg_catalog.generate_series(1, 10) u, recsys.recommend_experiment('sp_ab', u, 3) r$$),
	($$SELECT * FROM recsys.experiment_report('sp_ab', 'sp_interactions_test', 5, resamples => 200)$$),
	($$SELECT recsys.bootstrap_mean_difference(ARRAY[1, 2, 3]::pg_catalog.float8[], ARRAY[2, 3, 5]::pg_catalog.float8[], 100, 1)$$);

CREATE TABLE sp_clean AS
SELECT id, call, pg_temp.digest(call) AS digest FROM sp_calls;
-- (every call returns rows)
SELECT id, call FROM sp_clean WHERE digest IS NULL;

-- The victim ---------------------------------------------------------------
-- Runs one call on the current search_path and says which shadows ran and
-- whether the result is the clean one.  (Everything in it is qualified.)
CREATE FUNCTION pg_temp.run(q text, id integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r pg_catalog.text;
	clean pg_catalog.text;
BEGIN
	PERFORM pg_catalog.set_config('sp.calls', '', false);
	EXECUTE pg_catalog.concat('SELECT pg_catalog.md5(pg_catalog.string_agg(pg_catalog.textin(pg_catalog.record_out(x)), ''|'')) FROM (',
							  q, ') x') INTO r;
	SELECT c.digest INTO clean FROM public.sp_clean c WHERE c.id OPERATOR(pg_catalog.=) run.id;
	RETURN pg_catalog.concat(CASE WHEN COALESCE(r, '') OPERATOR(pg_catalog.=) COALESCE(clean, '') THEN 'same result' ELSE 'DIFFERENT RESULT' END,
							 CASE WHEN pg_catalog.current_setting('sp.calls') OPERATOR(pg_catalog.<>) ''
								  THEN pg_catalog.concat('; shadows ran:', pg_catalog.current_setting('sp.calls')) END);
EXCEPTION WHEN OTHERS THEN
	RETURN pg_catalog.concat('error ', SQLSTATE, ': ', SQLERRM);
END $$;

-- The attacker ------------------------------------------------------------
SET client_min_messages = warning;
DROP ROLE IF EXISTS sp_attacker;
RESET client_min_messages;
CREATE ROLE sp_attacker;
GRANT CREATE ON SCHEMA public TO sp_attacker;
SET ROLE sp_attacker;
-- (the attacker's own statements use the built-ins)
SET search_path = pg_catalog, public;

-- Every shadow records that it ran (a WARNING, a row, a session setting)
-- and tries to make its author a superuser; it then does what the
-- built-in does, so the victim notices nothing.
CREATE TABLE public.sp_loot (what text);
GRANT INSERT ON public.sp_loot TO PUBLIC;
CREATE FUNCTION public.sp_hit(what text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	-- (once per shadow and call of the victim, see pg_temp.run)
	IF position(concat(' ', what, ';') IN coalesce(current_setting('sp.calls', true), '')) = 0 THEN
		RAISE WARNING 'shadow % ran', what;
		PERFORM set_config('sp.calls', concat(current_setting('sp.calls', true), ' ', what, ';'), false);
		BEGIN
			INSERT INTO public.sp_loot VALUES (what);
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
		BEGIN
			EXECUTE 'ALTER ROLE sp_attacker SUPERUSER';
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
	END IF;
	RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION public.sp_hit(text) TO PUBLIC;

-- Functions: a shadow of each signature the extension's SQL calls, in
-- public and in pg_temp, forwarding to pg_catalog.
DO $do$
DECLARE
	f record;
	sch text;
BEGIN
	FOR sch IN SELECT pg_catalog.unnest(ARRAY['public', 'pg_temp']) LOOP
		FOR f IN SELECT * FROM (VALUES
			('format', 'text', 'text'), ('format', 'text, text', 'text'),
			('format', 'text, text, text', 'text'), ('format', 'text, text, text, text', 'text'),
			('format', 'text, integer', 'text'), ('format', 'text, integer, integer', 'text'),
			('format', 'text, bigint', 'text'), ('format', 'text, text, integer', 'text'),
			('format', 'text, text, integer, text', 'text'),
			('array_to_string', 'anyarray, text', 'text'),
			('num_nulls', 'integer, integer, bigint, bigint, integer, integer, real, real, real, real', 'integer'),
			('unnest', 'anyarray', 'SETOF anyelement'),
			('parse_ident', 'text', 'text[]'), ('parse_ident', 'text, boolean', 'text[]'),
			('quote_ident', 'text', 'text'), ('quote_literal', 'text', 'text'),
			('quote_literal', 'anyelement', 'text'),
			('left', 'text, integer', 'text'), ('array_length', 'anyarray, integer', 'integer'),
			('to_regclass', 'text', 'regclass'), ('octet_length', 'text', 'integer'),
			('hashtextextended', 'text, bigint', 'bigint'), ('chr', 'integer', 'text'),
			('round', 'double precision', 'double precision'),
			('round', 'numeric', 'numeric'),
			('floor', 'double precision', 'double precision'),
			('floor', 'numeric', 'numeric'),
			('ln', 'double precision', 'double precision'),
			('sqrt', 'double precision', 'double precision'),
			('abs', 'double precision', 'double precision'),
			('generate_series', 'integer, integer', 'SETOF integer'),
			('generate_series', 'bigint, bigint', 'SETOF bigint'),
			('current_schema', '', 'name'), ('current_setting', 'text', 'text'),
			('current_setting', 'text, boolean', 'text'),
			('set_config', 'text, text, boolean', 'text'),
			('string_to_array', 'text, text', 'text[]'),
			('pg_get_userbyid', 'oid', 'name'),
			('array_append', 'anycompatiblearray, anycompatible', 'anycompatiblearray'),
			('array_cat', 'anycompatiblearray, anycompatiblearray', 'anycompatiblearray'),
			('lower', 'text', 'text'), ('length', 'text', 'integer'),
			('jsonb_extract_path_text', 'jsonb, VARIADIC text[]', 'text'),
			('now', '', 'timestamp with time zone'),
			('nextval', 'regclass', 'bigint'), ('md5', 'text', 'text'),
			('concat', 'VARIADIC text[]', 'text'), ('replace', 'text, text, text', 'text'),
			('substr', 'text, integer', 'text'), ('position', 'text, text', 'integer'),
			('exp', 'double precision', 'double precision'),
			('power', 'double precision, double precision', 'double precision'),
			('greatest_shadow_unused', 'integer', 'integer')
		) v(name, args, rettype) LOOP
			EXECUTE pg_catalog.format($f$CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE plpgsql AS $b$
BEGIN
	PERFORM public.sp_hit(%L);
	%s
END $b$$f$, sch, f.name, f.args, f.rettype, sch || '.' || f.name || '(' || f.args || ')',
				CASE WHEN f.rettype LIKE 'SETOF %' THEN
					pg_catalog.format('RETURN QUERY SELECT * FROM pg_catalog.%I(%s);', f.name,
						   (SELECT pg_catalog.string_agg(CASE WHEN a LIKE 'VARIADIC %' THEN 'VARIADIC ' ELSE '' END || '$' || i, ', ')
							FROM pg_catalog.unnest(pg_catalog.string_to_array(nullif(f.args, ''), ', ')) WITH ORDINALITY x(a, i)))
					 ELSE pg_catalog.format('RETURN pg_catalog.%I(%s);', f.name,
						   (SELECT coalesce(pg_catalog.string_agg(CASE WHEN a LIKE 'VARIADIC %' THEN 'VARIADIC ' ELSE '' END || '$' || i, ', '), '')
							FROM pg_catalog.unnest(pg_catalog.string_to_array(nullif(f.args, ''), ', ')) WITH ORDINALITY x(a, i))) END);
		END LOOP;
	END LOOP;
END $do$;

-- Aggregates and window-free helpers: count, sum, avg, min, max,
-- array_agg, string_agg, with state functions that record.
CREATE FUNCTION public.sp_count_sfunc(bigint) RETURNS bigint
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.count(*)'); RETURN $1 + 1; END $$;
CREATE AGGREGATE public.count(*) (SFUNC = public.sp_count_sfunc, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.sp_count_any_sfunc(bigint, integer) RETURNS bigint
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.count(integer)'); RETURN $1 + CASE WHEN $2 IS NULL THEN 0 ELSE 1 END; END $$;
CREATE AGGREGATE public.count(integer) (SFUNC = public.sp_count_any_sfunc, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.sp_count_text_sfunc(bigint, text) RETURNS bigint
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.count(text)'); RETURN $1 + CASE WHEN $2 IS NULL THEN 0 ELSE 1 END; END $$;
CREATE AGGREGATE public.count(text) (SFUNC = public.sp_count_text_sfunc, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.sp_sum_sfunc(double precision, double precision) RETURNS double precision
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.sum(float8)'); RETURN CASE WHEN $2 IS NULL THEN $1 ELSE coalesce($1, 0) + $2 END; END $$;
CREATE AGGREGATE public.sum(double precision) (SFUNC = public.sp_sum_sfunc, STYPE = double precision);
CREATE FUNCTION public.sp_avg_sfunc(double precision[], double precision) RETURNS double precision[]
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.avg(float8)');
	RETURN CASE WHEN $2 IS NULL THEN $1 ELSE ARRAY[$1[1] + $2, $1[2] + 1] END; END $$;
CREATE FUNCTION public.sp_avg_final(double precision[]) RETURNS double precision
	LANGUAGE sql AS $$ SELECT CASE WHEN $1[2] > 0 THEN $1[1] / $1[2] END $$;
CREATE AGGREGATE public.avg(double precision) (SFUNC = public.sp_avg_sfunc, STYPE = double precision[],
	FINALFUNC = public.sp_avg_final, INITCOND = '{0,0}');
CREATE FUNCTION public.sp_max_sfunc(double precision, double precision) RETURNS double precision
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.max(float8)'); RETURN greatest($1, $2); END $$;
CREATE AGGREGATE public.max(double precision) (SFUNC = public.sp_max_sfunc, STYPE = double precision);
CREATE AGGREGATE public.min(integer) (SFUNC = public.sp_count_any_sfunc, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.sp_text_sfunc(text, text, text) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.string_agg(text, text)'); RETURN CASE WHEN $1 IS NULL THEN $2 ELSE concat($1, $3, $2) END; END $$;
CREATE AGGREGATE public.string_agg(text, text) (SFUNC = public.sp_text_sfunc, STYPE = text);
CREATE FUNCTION public.sp_array_sfunc(text[], text) RETURNS text[]
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sp_hit('public.array_agg(text)'); RETURN pg_catalog.array_append($1, $2); END $$;
CREATE AGGREGATE public.array_agg(text) (SFUNC = public.sp_array_sfunc, STYPE = text[]);

-- Operators on the types the extension compares, adds and concatenates.
DO $do$
DECLARE
	o record;
	fn text;
	n int := 0;
BEGIN
	FOR o IN SELECT * FROM (VALUES
		('=', 'text', 'text', 'boolean', 'texteq'), ('<>', 'text', 'text', 'boolean', 'textne'),
		('=', 'integer', 'integer', 'boolean', 'int4eq'), ('<', 'integer', 'integer', 'boolean', 'int4lt'),
		('<=', 'integer', 'integer', 'boolean', 'int4le'), ('>=', 'integer', 'integer', 'boolean', 'int4ge'),
		('>', 'integer', 'integer', 'boolean', 'int4gt'), ('<>', 'integer', 'integer', 'boolean', 'int4ne'),
		('=', 'bigint', 'bigint', 'boolean', 'int8eq'), ('<', 'bigint', 'bigint', 'boolean', 'int8lt'),
		('<=', 'bigint', 'bigint', 'boolean', 'int8le'), ('>=', 'bigint', 'bigint', 'boolean', 'int8ge'),
		('>', 'bigint', 'bigint', 'boolean', 'int8gt'), ('<>', 'bigint', 'bigint', 'boolean', 'int8ne'),
		('=', 'bigint', 'integer', 'boolean', 'int84eq'), ('<=', 'bigint', 'integer', 'boolean', 'int84le'),
		('>', 'bigint', 'integer', 'boolean', 'int84gt'), ('<', 'bigint', 'integer', 'boolean', 'int84lt'),
		('=', 'double precision', 'double precision', 'boolean', 'float8eq'),
		('>=', 'double precision', 'double precision', 'boolean', 'float8ge'),
		('<', 'double precision', 'double precision', 'boolean', 'float8lt'),
		('>', 'double precision', 'double precision', 'boolean', 'float8gt'),
		('||', 'text', 'text', 'text', 'textcat'),
		('+', 'integer', 'integer', 'integer', 'int4pl'), ('-', 'integer', 'integer', 'integer', 'int4mi'),
		('+', 'bigint', 'bigint', 'bigint', 'int8pl'), ('-', 'bigint', 'bigint', 'bigint', 'int8mi'),
		('-', 'bigint', 'integer', 'bigint', 'int84mi'), ('*', 'bigint', 'integer', 'bigint', 'int84mul'),
		('+', 'double precision', 'double precision', 'double precision', 'float8pl'),
		('-', 'double precision', 'double precision', 'double precision', 'float8mi'),
		('*', 'double precision', 'double precision', 'double precision', 'float8mul'),
		('/', 'double precision', 'double precision', 'double precision', 'float8div'),
		('*', 'numeric', 'numeric', 'numeric', 'numeric_mul'), ('+', 'numeric', 'numeric', 'numeric', 'numeric_add'),
		('-', 'numeric', 'numeric', 'numeric', 'numeric_sub'),
		('->>', 'jsonb', 'text', 'text', 'jsonb_object_field_text'),
		('&&', 'text[]', 'text[]', 'boolean', 'arrayoverlap'),
		('@>', 'text[]', 'text[]', 'boolean', 'arraycontains'),
		('>', 'timestamp with time zone', 'timestamp with time zone', 'boolean', 'timestamptz_gt')
	) v(op, l, r, ret, impl) LOOP
		n := n + 1;
		fn := 'sp_op_' || n;
		EXECUTE pg_catalog.format($f$CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE plpgsql STRICT AS $b$
BEGIN
	PERFORM public.sp_hit(%L);
	RETURN pg_catalog.%I($1, $2);
END $b$$f$, fn, o.l, o.r, o.ret, pg_catalog.format('operator public.%s(%s, %s)', o.op, o.l, o.r), o.impl);
		EXECUTE pg_catalog.format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.%I)',
					   o.op, o.l, o.r, fn);
	END LOOP;
END $do$;
CREATE FUNCTION public.sp_neg(double precision) RETURNS double precision
	LANGUAGE plpgsql STRICT AS $$ BEGIN PERFORM public.sp_hit('operator public.-(float8)'); RETURN pg_catalog.float8um($1); END $$;
CREATE OPERATOR public.- (RIGHTARG = double precision, FUNCTION = public.sp_neg);

-- Types: domains named like the built-in types the extension casts to,
-- whose check runs the attacker's code, in public and in pg_temp.
CREATE FUNCTION public.sp_check(what text) RETURNS boolean
	LANGUAGE sql AS $$ SELECT public.sp_hit(what) $$;
CREATE DOMAIN public.text AS pg_catalog.text CHECK (public.sp_check('domain public.text'));
CREATE DOMAIN public.float8 AS pg_catalog.float8 CHECK (public.sp_check('domain public.float8'));
CREATE DOMAIN public.regclass AS pg_catalog.regclass CHECK (public.sp_check('domain public.regclass'));
CREATE DOMAIN public.timestamptz AS pg_catalog.timestamptz CHECK (public.sp_check('domain public.timestamptz'));
CREATE DOMAIN public.regtype AS pg_catalog.regtype CHECK (public.sp_check('domain public.regtype'));
CREATE DOMAIN public.jsonb AS pg_catalog.jsonb CHECK (public.sp_check('domain public.jsonb'));
CREATE DOMAIN public.oid AS pg_catalog.oid CHECK (public.sp_check('domain public.oid'));
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (public.sp_check('domain pg_temp.text'));
CREATE DOMAIN pg_temp.float8 AS pg_catalog.float8 CHECK (public.sp_check('domain pg_temp.float8'));
CREATE DOMAIN pg_temp.regclass AS pg_catalog.regclass CHECK (public.sp_check('domain pg_temp.regclass'));
CREATE DOMAIN pg_temp.timestamptz AS pg_catalog.timestamptz CHECK (public.sp_check('domain pg_temp.timestamptz'));

-- Relations named like the catalogs the extension reads, in public and in
-- pg_temp.
CREATE VIEW public.pg_attribute AS
	SELECT attrelid, attname, atttypid, attnum, attisdropped FROM pg_catalog.pg_attribute WHERE public.sp_hit('view public.pg_attribute');
CREATE VIEW public.pg_class AS
	SELECT * FROM pg_catalog.pg_class WHERE public.sp_hit('view public.pg_class');
CREATE VIEW public.pg_extension AS
	SELECT * FROM pg_catalog.pg_extension WHERE public.sp_hit('view public.pg_extension');
CREATE VIEW public.pg_roles AS
	SELECT * FROM pg_catalog.pg_roles WHERE public.sp_hit('view public.pg_roles');
CREATE TEMP VIEW pg_attribute AS
	SELECT attrelid, attname, atttypid, attnum, attisdropped FROM pg_catalog.pg_attribute WHERE public.sp_hit('view pg_temp.pg_attribute');
CREATE TEMP VIEW pg_class AS
	SELECT * FROM pg_catalog.pg_class WHERE public.sp_hit('view pg_temp.pg_class');
CREATE TEMP VIEW pg_index AS
	SELECT * FROM pg_catalog.pg_index WHERE public.sp_hit('view pg_temp.pg_index');

-- (what the attacker's own statements above ran of its shadows is not
-- counted)
DELETE FROM public.sp_loot;
DO $$ BEGIN PERFORM pg_catalog.set_config('sp.calls', '', false); END $$;
RESET ROLE;

-- search_path = public, pg_catalog: public's shadows come first
SET search_path = public, pg_catalog;
SELECT c.id, c.call, pg_temp.run(c.call, c.id) AS outcome FROM public.sp_calls c ORDER BY c.id;

-- the functions that take names of relations to create, and a query to run
SELECT relation, rows FROM recsys.generate_dataset('sp2', users => 40, items => 30,
	interactions => 600, seed => 5);
SELECT part, relation, rows, users FROM recsys.split('sp2_interactions', 'user_id', 'item_id',
	method => 'per_user', test_fraction => 0.25, seed => 3);
SELECT part, relation, rows, users FROM recsys.split('SELECT * FROM sp2_interactions', 'user_id', 'item_id',
	method => 'temporal', test_fraction => 0.25, seed => 3, time_col => 'ts',
	train_table => 'sp2_t_train', test_table => 'sp2_t_test', "temporary" => true);
SELECT part, relation, rows, users FROM recsys.split('sp2_interactions', 'user_id', 'item_id',
	method => 'leave_last_out', time_col => 'ts', train_table => 'sp2_l_train', test_table => 'sp2_l_test');
SELECT part, relation, rows, users FROM recsys.split('sp2_interactions', 'user_id', 'item_id',
	train_table => 'sp2_r_train', test_table => 'sp2_r_test');
SELECT recsys.exec_read_only('SELECT 1');
-- the tables made under attack are the tables made on a clean path
SELECT (SELECT pg_catalog.md5(pg_catalog.string_agg(pg_catalog.textin(pg_catalog.record_out(t)), '|' ORDER BY t.user_id, t.item_id)) FROM public.sp_interactions_train t)
	OPERATOR(pg_catalog.=)
	   (SELECT pg_catalog.md5(pg_catalog.string_agg(pg_catalog.textin(pg_catalog.record_out(t)), '|' ORDER BY t.user_id, t.item_id)) FROM public.sp2_interactions_train t)
	AS same_split;
SELECT model, version, users, items FROM recsys.train('sp_pop2', 'sp2_interactions_train', 'user_id', 'item_id', 'clicks', 'popularity');
SELECT model, version, users, items FROM recsys.train('sp_knn2', 'SELECT * FROM sp2_interactions_train', 'user_id', 'item_id', 'rating', 'item_knn',
	'{"neighbors": 5, "attributes": "SELECT item_id, recsys.array_to_embedding(ARRAY[category, 1], 2, true) FROM sp2_items"}');
SELECT model, version, users FROM recsys.retrain('sp_pop2');
-- update() reads the rows after data_until: its ">" is pg_catalog's
SELECT model, version, users FROM recsys.train('sp_upd', 'sp2_interactions_train', 'user_id', 'item_id', 'clicks', 'ials',
	'{"time_column": "ts", "factors": 2, "iterations": 2, "seed": 1}');
INSERT INTO sp2_interactions_train (user_id, item_id, rating, clicks, ts)
SELECT 4001, 1, 4, 1, pg_catalog.max(ts) OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval FROM sp2_interactions_train;
SELECT model, version, users FROM recsys.update('sp_upd');
SELECT (recsys.fit('sp_fit2', user_id, item_id, clicks, '{"algorithm": "popularity"}')).users FROM sp2_interactions_train;
SELECT recsys.drop_model('sp_fit2');
SELECT recsys.drop_model('sp_knn2');

-- search_path = pg_temp, public, pg_catalog: pg_temp's types and relations first
SET search_path = pg_temp, public, pg_catalog;
SELECT c.id, pg_temp.run(c.call, c.id) AS outcome FROM public.sp_calls c ORDER BY c.id;
SELECT part, relation, rows, users FROM recsys.split('sp2_interactions', 'user_id', 'item_id',
	method => 'random', seed => 4, train_table => 'sp2_tt_train', test_table => 'sp2_tt_test');
SELECT relation, rows FROM recsys.generate_dataset('sp3', users => 10, items => 10, interactions => 50);
SELECT model, version FROM recsys.retrain('sp_pop2');
INSERT INTO sp2_interactions_train (user_id, item_id, rating, clicks, ts)
SELECT 4002, 2, 4, 1, pg_catalog.max(ts) OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval FROM sp2_interactions_train;
SELECT model, version, users FROM recsys.update('sp_upd');

-- Nothing the attacker planted ever ran, and the attacker is no superuser.
SET search_path = public, recsys;
SELECT pg_catalog.count(*) AS shadow_rows FROM public.sp_loot;
SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'sp_attacker';

-- clean up (a model a running experiment serves cannot be dropped)
SELECT recsys.end_experiment('sp_ab') IS NOT NULL AS ended;
SELECT recsys.drop_model(m) FROM pg_catalog.unnest(ARRAY['sp_pop', 'sp_ials', 'sp_als', 'sp_iknn', 'sp_uknn', 'sp_pop2', 'sp_upd']) m;
DROP OWNED BY sp_attacker CASCADE;
DROP ROLE sp_attacker;
