/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  The C half of offline evaluation: reading a test set the caller
 *	  names (a table, a view or a SELECT) and predicting its rows through
 *	  the serving code, in bulk.
 *
 * recsys.split(), recsys.evaluate(), recsys.evaluate_users() and
 * recsys.audit_exposure() are SQL (sql/install/11_evaluation.sql): they
 * rank with recsys.recommend_all(), so the lists they measure are exactly
 * the lists serving gives, and they measure each user's list with the
 * ranking metrics at the end of this file (precision, recall, nDCG,
 * average precision, reciprocal rank and hit of one list, in plain C).  What SQL cannot do quickly is predict millions of
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
 * SQL half gets the same from a block that recsys.begin_read_only() turns
 * read-only and that is always rolled back (11_evaluation.sql; split writes
 * its tables itself, after reading the source through
 * recsys.exec_read_only()).
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include <math.h>

#include "privileges.h"
#include "serve.h"
#include "core/metrics.h"
#include "core/score.h"
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

/*
 * recsys.exec_read_only_body(statement, caller_path): runs a statement on
 * the caller's search_path as if the transaction were read-only
 * (RS_READ_ONLY: only temporary tables can be written; any other write
 * fails with 25006) and returns its row count.  split() fills its
 * temporary table of marked rows from the caller's source through it.
 * (A function-level SET transaction_read_only, which 0.2.0 used, is
 * refused by PostgreSQL 16 and later.)
 */
/*
 * recsys.begin_read_only(): the read-only block of the evaluation bodies
 * (11_evaluation.sql), see rs_read_only_block().
 */
PG_FUNCTION_INFO_V1(rs_begin_read_only);
Datum
rs_begin_read_only(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	rs_read_only_block();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(rs_exec_read_only);
Datum
rs_exec_read_only(PG_FUNCTION_ARGS)
{
	char	   *statement;
	int			level;
	int			rc = 0;
	uint64		n;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statement and caller_path must not be NULL")));
	statement = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPI_connect();
	level = rs_pin_search_path_to(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	RS_READ_ONLY(rc = SPI_execute(statement, false, 0));
	if (rc < 0)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	n = SPI_processed;
	rs_unpin_search_path(level);
	SPI_finish();
	PG_RETURN_INT64((int64) n);
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
	int32		version;
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
	/* version => n, NULL: the active version */
	version = PG_NARGS() > 5 && !PG_ARGISNULL(5) ? PG_GETARG_INT32(5) : 0;
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5) && version <= 0)
		rs_report_no_version(name, version);
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	m = rs_served_model(name, version);	/* (an unknown model or version is an error here) */
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

/* ----------------------------------------------------------------
 *		The ranking metrics of one list
 * ----------------------------------------------------------------
 *
 * recsys.precision_at_k(), recall_at_k(), ndcg_at_k(),
 * average_precision_at_k(), reciprocal_rank() and hit_at_k() take a ranked
 * list (best first), the relevant items, k and optionally the rank of each
 * item of the list (a list made elsewhere may leave ranks out); evaluate()
 * and evaluate_users() measure every user's list with them.  Everything
 * they need of a list is the ranks (up to k) that hold a relevant item and
 * the number of distinct relevant items; rs_list_metrics() (core/metrics.c)
 * computes the metrics from those alone, in plain C.
 * */

/* qsort_arg comparator of Datums by the element type's btree comparison */
typedef struct DatumSortArg
{
	FmgrInfo   *cmp;
	Oid			collation;
} DatumSortArg;

static int
datum_cmp(const void *a, const void *b, void *arg)
{
	DatumSortArg *s = (DatumSortArg *) arg;

	return DatumGetInt32(FunctionCall2Coll(s->cmp, s->collation,
										   *(const Datum *) a, *(const Datum *) b));
}

/*
 * The arguments (ranked, relevant, k, ranks) of a metric function, reduced
 * to what rs_list_metrics() takes.  False when the metric is NULL (a NULL
 * list, relevant set or k).  Items compare with their type's default
 * equality, as array_position() compares them; NULL items never match.
 */
static bool
metric_args(FunctionCallInfo fcinfo, RsListMetrics *m)
{
	ArrayType  *ranked;
	ArrayType  *relevant;
	int32		k;
	Oid			elemtype;
	TypeCacheEntry *tc;
	Datum	   *items;
	bool	   *item_nulls;
	int			n_items;
	Datum	   *rel;
	bool	   *rel_nulls;
	int			n_rel_all;
	int			n_rel = 0;
	int64		n_distinct = 0;
	int32	   *ranks = NULL;
	int32	   *hits;
	int			n_hits = 0;
	Oid			collation = PG_GET_COLLATION();

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return false;
	ranked = PG_GETARG_ARRAYTYPE_P(0);
	relevant = PG_GETARG_ARRAYTYPE_P(1);
	k = PG_GETARG_INT32(2);
	if (k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", k),
				 errhint("k is the length of the list that is measured.")));
	elemtype = ARR_ELEMTYPE(ranked);
	if (ARR_ELEMTYPE(relevant) != elemtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("ranked and relevant must be arrays of the same type")));
	tc = lookup_type_cache(elemtype, TYPECACHE_EQ_OPR_FINFO | TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tc->eq_opr_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s",
						format_type_be(elemtype)),
				 errhint("Compare the items by a key that has one, e.g. their text form.")));

	deconstruct_array(ranked, elemtype, tc->typlen, tc->typbyval, tc->typalign,
					  &items, &item_nulls, &n_items);
	deconstruct_array(relevant, elemtype, tc->typlen, tc->typbyval, tc->typalign,
					  &rel, &rel_nulls, &n_rel_all);

	/* the ranks of the list's items: given, or 1, 2, 3, ... */
	if (!PG_ARGISNULL(3))
	{
		ArrayType  *ra = PG_GETARG_ARRAYTYPE_P(3);
		Datum	   *rd;
		bool	   *rn;
		int			nr;
		int32	   *sorted;

		deconstruct_array(ra, INT4OID, sizeof(int32), true, TYPALIGN_INT, &rd, &rn, &nr);
		if (nr != n_items)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("ranks must give one rank for each item of ranked: %d ranks for %d items",
							nr, n_items)));
		ranks = palloc(sizeof(int32) * Max(nr, 1));
		sorted = palloc(sizeof(int32) * Max(nr, 1));
		for (int i = 0; i < nr; i++)
		{
			if (rn[i] || DatumGetInt32(rd[i]) < 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ranks must be 1 or more, not %s",
								rn[i] ? "NULL" : psprintf("%d", DatumGetInt32(rd[i])))));
			ranks[i] = sorted[i] = DatumGetInt32(rd[i]);
		}
		qsort(sorted, nr, sizeof(int32), rs_cmp_int32);
		for (int i = 1; i < nr; i++)
			if (sorted[i] == sorted[i - 1])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ranks must give each rank once: rank %d is given twice", sorted[i])));
	}

	/* the relevant items: NULLs left out, repeats counted once */
	for (int i = 0; i < n_rel_all; i++)
		if (!rel_nulls[i])
			rel[n_rel++] = rel[i];
	if (n_rel > 0 && OidIsValid(tc->cmp_proc_finfo.fn_oid))
	{
		DatumSortArg arg = {&tc->cmp_proc_finfo, collation};

		qsort_arg(rel, n_rel, sizeof(Datum), datum_cmp, &arg);
		n_distinct = 1;
		for (int i = 1; i < n_rel; i++)
			if (DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, collation,
												rel[i - 1], rel[i])) != 0)
				n_distinct++;
	}
	else
	{
		for (int i = 0; i < n_rel; i++)
		{
			bool		seen = false;

			for (int j = 0; j < i && !seen; j++)
				seen = DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, collation,
													  rel[j], rel[i]));
			if (!seen)
				n_distinct++;
		}
	}

	/* the ranks up to k that hold a relevant item, ascending */
	hits = palloc(sizeof(int32) * Max(n_items, 1));
	for (int i = 0; i < n_items; i++)
	{
		int32		rank = ranks ? ranks[i] : i + 1;

		if (rank > k || item_nulls[i])
			continue;
		for (int j = 0; j < n_rel; j++)
		{
			if (DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, collation,
											   items[i], rel[j])))
			{
				hits[n_hits++] = rank;
				break;
			}
		}
	}
	qsort(hits, n_hits, sizeof(int32), rs_cmp_int32);

	rs_list_metrics(hits, n_hits, n_distinct, k, m);
	return true;
}

PG_FUNCTION_INFO_V1(rs_precision_at_k);
Datum
rs_precision_at_k(PG_FUNCTION_ARGS)
{
	RsListMetrics m;

	if (!metric_args(fcinfo, &m))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(m.precision);
}

PG_FUNCTION_INFO_V1(rs_recall_at_k);
Datum
rs_recall_at_k(PG_FUNCTION_ARGS)
{
	RsListMetrics m;

	if (!metric_args(fcinfo, &m) || m.no_relevant)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(m.recall);
}

PG_FUNCTION_INFO_V1(rs_ndcg_at_k);
Datum
rs_ndcg_at_k(PG_FUNCTION_ARGS)
{
	RsListMetrics m;

	if (!metric_args(fcinfo, &m) || m.no_relevant)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(m.ndcg);
}

PG_FUNCTION_INFO_V1(rs_average_precision_at_k);
Datum
rs_average_precision_at_k(PG_FUNCTION_ARGS)
{
	RsListMetrics m;

	if (!metric_args(fcinfo, &m) || m.no_relevant)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(m.ap);
}

PG_FUNCTION_INFO_V1(rs_reciprocal_rank);
Datum
rs_reciprocal_rank(PG_FUNCTION_ARGS)
{
	RsListMetrics m;

	if (!metric_args(fcinfo, &m))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(m.rr);
}

PG_FUNCTION_INFO_V1(rs_hit_at_k);
Datum
rs_hit_at_k(PG_FUNCTION_ARGS)
{
	RsListMetrics m;

	if (!metric_args(fcinfo, &m))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(m.hit);
}
