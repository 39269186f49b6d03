/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  The C half of offline evaluation: reading a test set the caller
 *	  names (a table, a view or a SELECT) and predicting its rows through
 *	  the serving code, in bulk.
 *
 * recsys.split(), recsys.evaluate(), recsys.evaluate_users() and
 * recsys.audit_exposure() are SQL (install script, section 8): they rank
 * with recsys.recommend_all(), so the lists they measure are exactly the
 * lists serving gives.  What SQL cannot do quickly is predict millions of
 * test rows: recsys.predict() looks its user up on every call.
 * recsys.predictions() reads the test rows ordered by user, looks each
 * user up once, and scores that user's items with rs_served_predict(),
 * the function behind recsys.predict(), so a prediction here is always
 * the value recsys.predict() returns for the same pair.  Each row also
 * says whether its user and its item are in the model (the others are
 * predicted by the fallbacks predict() uses).
 *
 * Every query a caller supplies is read as if the transaction were
 * read-only (RS_READ_ONLY, runtime.h): a test set, a group or a list that
 * calls a function that writes fails with 25006 instead of writing.  The
 * SQL half gets the same from "SET transaction_read_only = on" on its
 * functions (split writes its tables itself, after reading the source
 * through recsys.exec_read_only()).
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"

#include "privileges.h"
#include "serve.h"
#include "train.h"


/* test rows read per cursor fetch */
#define FETCH_ROWS 10000

/* ----------------------------------------------------------------
 *		Sources: a relation name or one SELECT
 * ----------------------------------------------------------------
 */

/* The FROM item for an evaluation's source (see rs_source_from_item). */
static char *
source_from(const char *source, const char *what)
{
	return rs_source_from_item(source,
							   psprintf("%s must be a table, a view or a single SELECT query", what),
							   "Pass a relation name like 'ratings_test' or a query like 'SELECT user_id, item_id, rating FROM ratings_test'.");
}

/*
 * recsys.eval_source(source, what, min_columns): the FROM item the SQL half
 * of the evaluation splices into its queries, so that it reads a source by
 * the same rules as recsys.train() and never splices an unchecked string.
 *
 * Sources read by position (user groups, item groups, users, lists) must
 * have at least min_columns columns: checked here from the plan alone (the
 * source is not run), with a message that says which columns are expected.
 * Their FROM item is then a subquery of exactly their first min_columns
 * columns, every column of the source renamed on the way: the caller
 * aliases those columns as it likes (x(lu, li, lr)), and no name of the
 * source -- a fourth column called lu, a first one called li -- can clash
 * with the aliases.
 */
PG_FUNCTION_INFO_V1(rs_eval_source);
Datum
rs_eval_source(PG_FUNCTION_ARGS)
{
	const char *what = PG_ARGISNULL(1) ? "source" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			min_columns = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	char	   *from;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what),
				 errhint("Pass a relation name or a SELECT query.")));
	from = source_from(text_to_cstring(PG_GETARG_TEXT_PP(0)), what);
	if (min_columns > 0)
	{
		SPIPlanPtr	plan;
		List	   *sources;
		int			natts;
		StringInfoData sql;

		SPI_connect();
		plan = SPI_prepare(psprintf("SELECT * FROM %s AS s", from), 0, NULL);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for %s: %s", what,
				 SPI_result_code_string(SPI_result));
		sources = SPI_plan_get_plan_sources(plan);
		if (list_length(sources) != 1 ||
			((CachedPlanSource *) linitial(sources))->resultDesc == NULL)
			elog(ERROR, "reading the columns of %s failed", what);
		natts = ((CachedPlanSource *) linitial(sources))->resultDesc->natts;
		SPI_freeplan(plan);
		SPI_finish();
		if (natts < min_columns)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s must return %d columns, not %d", what, min_columns, natts),
					 errhint(min_columns == 3 ?
							 "The columns are read by position: user, item, rank." :
							 min_columns == 1 ?
							 "The first column is read: the user key." :
							 "The columns are read by position: the key, then its group.")));

		/* SELECT s.c1, s.c2 FROM <from> AS s(c1, c2, c3, ...) */
		initStringInfo(&sql);
		appendStringInfoString(&sql, "(SELECT ");
		for (int i = 1; i <= min_columns; i++)
			appendStringInfo(&sql, "%ss.c%d", i > 1 ? ", " : "", i);
		appendStringInfo(&sql, " FROM %s AS s(", from);
		for (int i = 1; i <= natts; i++)
			appendStringInfo(&sql, "%sc%d", i > 1 ? ", " : "", i);
		appendStringInfoString(&sql, "))");
		from = sql.data;
	}
	PG_RETURN_TEXT_P(cstring_to_text(from));
}

/* ----------------------------------------------------------------
 *		recsys.predictions(model, test, user_col, item_col, rating_col)
 * ----------------------------------------------------------------
 */

/* One user's test rows, gathered until the user changes. */
typedef struct UserRows
{
	char	   *ukey;
	int32		n;
	int32		cap;
	char	  **items;
	double	   *rating;
	bool	   *rating_null;
} UserRows;

static void
user_rows_add(UserRows *u, MemoryContext cxt, const char *item, double rating,
			  bool rating_null)
{
	if (u->n == u->cap)
	{
		int32		cap = Max(16, u->cap * 2);

		if (u->items == NULL)
		{
			u->items = MemoryContextAlloc(cxt, sizeof(char *) * cap);
			u->rating = MemoryContextAlloc(cxt, sizeof(double) * cap);
			u->rating_null = MemoryContextAlloc(cxt, sizeof(bool) * cap);
		}
		else
		{
			u->items = repalloc_huge(u->items, sizeof(char *) * cap);
			u->rating = repalloc_huge(u->rating, sizeof(double) * cap);
			u->rating_null = repalloc_huge(u->rating_null, sizeof(bool) * cap);
		}
		u->cap = cap;
	}
	u->items[u->n] = MemoryContextStrdup(cxt, item);
	u->rating[u->n] = rating;
	u->rating_null[u->n] = rating_null;
	u->n++;
}

/* Predicts one user's rows and appends them to the result. */
static void
user_rows_flush(UserRows *u, struct ServedModel *m, ReturnSetInfo *rsinfo)
{
	int32	   *idx;
	double	   *pred;
	bool	   *valid;
	bool		known;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	if (u->n == 0)
		return;
	idx = palloc(sizeof(int32) * u->n);
	pred = palloc(sizeof(double) * u->n);
	valid = palloc(sizeof(bool) * u->n);
	for (int32 j = 0; j < u->n; j++)
		idx[j] = rs_served_item(m, u->items[j]);

	/* an SPI level of its own: the user's lookups are freed with it */
	SPI_connect();
	known = rs_served_predict(m, u->ukey, u->n, idx, pred, valid);
	SPI_finish();

	values[0] = CStringGetTextDatum(u->ukey);
	values[4] = BoolGetDatum(known);
	for (int32 j = 0; j < u->n; j++)
	{
		values[1] = CStringGetTextDatum(u->items[j]);
		values[2] = Float8GetDatum(u->rating[j]);
		nulls[2] = u->rating_null[j];
		values[3] = Float8GetDatum(pred[j]);
		nulls[3] = !valid[j];
		values[5] = BoolGetDatum(idx[j] >= 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

static char *
column_arg(FunctionCallInfo fcinfo, int arg, const char *stored, const char *name,
		   bool required)
{
	if (!PG_ARGISNULL(arg))
		return text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (stored == NULL && required)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be given: the model has no stored source columns", name),
				 errhint("Models trained with recsys.fit() need %s => '<column>'.", name)));
	return stored ? pstrdup(stored) : NULL;
}

PG_FUNCTION_INFO_V1(rs_predictions);
Datum
rs_predictions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext user_cxt;
	char	   *name;
	char	   *test;
	RsModelDef *def;
	char	   *ucol;
	char	   *icol;
	char	   *rcol;
	char	   *sql;
	struct ServedModel *m;
	SPIPlanPtr	plan;
	Portal		portal;
	UserRows	u;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("test must not be NULL"),
				 errhint("Pass a relation name or a SELECT query.")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_usage(name);
	test = text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	m = rs_served_model(name);	/* (an unknown model is an error here) */
	def = rs_model_lookup(name, false);
	ucol = column_arg(fcinfo, 2, def->user_column, "user_col", true);
	icol = column_arg(fcinfo, 3, def->item_column, "item_col", true);
	rcol = column_arg(fcinfo, 4, def->rating_column, "rating_col", false);

	/*
	 * Ordered by user (byte order is enough, and fast), so each user is
	 * looked up once and only one user's rows are held at a time.  The
	 * test set resolves on the caller's search_path, so everything around
	 * it is schema-qualified.
	 */
	sql = psprintf("SELECT (s.%1$s)::pg_catalog.text, (s.%2$s)::pg_catalog.text, %3$s FROM %4$s AS s "
				   "WHERE s.%1$s IS NOT NULL AND s.%2$s IS NOT NULL "
				   "ORDER BY (s.%1$s)::pg_catalog.text COLLATE pg_catalog.\"C\"",
				   quote_identifier(ucol), quote_identifier(icol),
				   rcol ? psprintf("(s.%s)::pg_catalog.float8", quote_identifier(rcol)) : "NULL::pg_catalog.float8",
				   source_from(test, "test"));
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the test set: %s",
			 SPI_result_code_string(SPI_result));
	portal = rs_cursor_open_read_only(plan, NULL, NULL);

	user_cxt = AllocSetContextCreate(outer, "recsys predictions user",
									 ALLOCSET_DEFAULT_SIZES);
	memset(&u, 0, sizeof(u));
	for (;;)
	{
		/* the caller's test set is read as if the transaction were read-only */
		RS_READ_ONLY(SPI_cursor_fetch(portal, true, FETCH_ROWS));
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *ukey = SPI_getvalue(tup, desc, 1);
			char	   *ikey = SPI_getvalue(tup, desc, 2);
			bool		rnull;
			Datum		rd = SPI_getbinval(tup, desc, 3, &rnull);

			if (u.ukey == NULL || strcmp(u.ukey, ukey) != 0)
			{
				MemoryContext old = MemoryContextSwitchTo(user_cxt);

				user_rows_flush(&u, m, rsinfo);
				MemoryContextSwitchTo(old);
				MemoryContextReset(user_cxt);
				memset(&u, 0, sizeof(u));
				u.ukey = MemoryContextStrdup(user_cxt, ukey);
			}
			user_rows_add(&u, user_cxt, ikey, rnull ? 0.0 : DatumGetFloat8(rd), rnull);
			pfree(ukey);
			pfree(ikey);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	{
		MemoryContext old = MemoryContextSwitchTo(user_cxt);

		user_rows_flush(&u, m, rsinfo);
		MemoryContextSwitchTo(old);
	}
	MemoryContextDelete(user_cxt);
	SPI_cursor_close(portal);
	SPI_finish();
	return (Datum) 0;
}
