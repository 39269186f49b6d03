/*-------------------------------------------------------------------------
 *
 * stats_agg.c
 *	  SQL face of the statistics in stats.c: the aggregates recsys.anova,
 *	  recsys.welch_t_test and recsys.kruskal_wallis over (group, value)
 *	  rows, and the survival functions recsys.f_sf, recsys.t_sf and
 *	  recsys.chi2_sf.
 *
 * The three aggregates share one transition state: per group (keyed by
 * the group's text form, so 1, 1::bigint and '1' are one group) the count,
 * mean and sum of squared deviations, which merge exactly, so ANOVA and
 * Welch combine partial states from parallel workers.  Kruskal-Wallis
 * needs every value for the ranks; its state also keeps the values, and
 * partial states combine by concatenation.  Rows with a NULL group or
 * value are skipped.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include <math.h>

#include "core/stats.h"
#include "stats_agg.h"

typedef struct GroupIndexEntry
{
	char	   *key;			/* hash key: points at the group's text */
	int32		idx;
} GroupIndexEntry;

static uint32
group_key_hash(const void *key, Size keysize pg_attribute_unused())
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
group_key_match(const void *a, const void *b, Size keysize pg_attribute_unused())
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * A hash table keyed by C strings of any length: its entries start with a
 * char * that points at the key (the caller points it at a copy that lives
 * as long as the table).
 */
HTAB *
rs_string_hash_create(MemoryContext cxt, const char *name, Size entrysize, long nelem)
{
	HASHCTL		ctl;

	RsAssert(entrysize >= sizeof(char *));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = entrysize;
	ctl.hash = group_key_hash;
	ctl.match = group_key_match;
	ctl.hcxt = cxt;
	return hash_create(name, nelem, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* ----------------------------------------------------------------
 *		The grouped state (shared with audit.c through stats_agg.h)
 * ----------------------------------------------------------------
 */

RsGroupStats *
rs_group_stats_new(MemoryContext cxt, bool keep_values)
{
	RsGroupStats *st = MemoryContextAllocZero(cxt, sizeof(RsGroupStats));

	st->cxt = cxt;
	st->keep_values = keep_values;
	st->index = rs_string_hash_create(cxt, "recsys statistics groups",
									  sizeof(GroupIndexEntry), 64);
	return st;
}

/* The index of a group, added when new. */
int32
rs_group_stats_group(RsGroupStats *st, const char *key)
{
	GroupIndexEntry *e;
	bool		found;

	e = hash_search(st->index, &key, HASH_ENTER, &found);
	if (found)
		return e->idx;
	if (st->ngroups == st->gcap)
	{
		int			cap = st->gcap == 0 ? 16 : st->gcap * 2;

		if (st->gcap == 0)
		{
			st->keys = MemoryContextAlloc(st->cxt, sizeof(char *) * cap);
			st->mom = MemoryContextAlloc(st->cxt, sizeof(RsMoments) * cap);
		}
		else
		{
			st->keys = repalloc_huge(st->keys, sizeof(char *) * cap);
			st->mom = repalloc_huge(st->mom, sizeof(RsMoments) * cap);
		}
		st->gcap = cap;
	}
	st->keys[st->ngroups] = MemoryContextStrdup(st->cxt, key);
	memset(&st->mom[st->ngroups], 0, sizeof(RsMoments));
	/* the entry's key must outlive the caller's string */
	e->key = st->keys[st->ngroups];
	e->idx = st->ngroups;
	return st->ngroups++;
}

static void
push_value(RsGroupStats *st, int32 g, double x)
{
	if (st->nvalues == st->vcap)
	{
		int64		cap = st->vcap == 0 ? 1024 : st->vcap * 2;

		if ((Size) cap * sizeof(RsGroupValue) >= MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many values for a rank test")));
		rs_check_memory(st->cxt, (Size) cap * sizeof(RsGroupValue));
		if (st->vcap == 0)
			st->values = MemoryContextAllocHuge(st->cxt, sizeof(RsGroupValue) * cap);
		else
			st->values = repalloc_huge(st->values, sizeof(RsGroupValue) * cap);
		st->vcap = cap;
	}
	st->values[st->nvalues].value = x;
	st->values[st->nvalues].group = g;
	st->nvalues++;
}

void
rs_group_stats_add(RsGroupStats *st, int32 g, double x)
{
	if (isnan(x) || isinf(x))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value must be finite, not %g", x),
				 errhint("Filter out NaN and infinite values, or turn them into NULL, which is skipped.")));
	rs_moments_add(&st->mom[g], x);
	if (st->keep_values)
		push_value(st, g, x);
	st->n++;
}

/* a += b (b unchanged) */
static void
group_stats_merge(RsGroupStats *a, const RsGroupStats *b)
{
	int32	   *map = palloc(sizeof(int32) * Max(b->ngroups, 1));

	for (int i = 0; i < b->ngroups; i++)
	{
		map[i] = rs_group_stats_group(a, b->keys[i]);
		rs_moments_merge(&a->mom[map[i]], &b->mom[i]);
	}
	if (a->keep_values)
		for (int64 i = 0; i < b->nvalues; i++)
		{
			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			push_value(a, map[b->values[i].group], b->values[i].value);
		}
	a->n += b->n;
	pfree(map);
}

/*
 * The groups in byte order of their keys: a stable order for output and
 * for which group of a two-group test is "first".  Returns a palloc'd
 * permutation.
 */
static const RsGroupStats *sort_st;

static int
cmp_group_keys(const void *a, const void *b)
{
	return strcmp(sort_st->keys[*(const int32 *) a], sort_st->keys[*(const int32 *) b]);
}

int32 *
rs_group_stats_order(const RsGroupStats *st)
{
	int32	   *ord = palloc(sizeof(int32) * Max(st->ngroups, 1));

	for (int i = 0; i < st->ngroups; i++)
		ord[i] = i;
	sort_st = st;
	qsort(ord, st->ngroups, sizeof(int32), cmp_group_keys);
	sort_st = NULL;
	return ord;
}

/* Kruskal-Wallis over the kept values (sorts them in place). */
void
rs_group_stats_kruskal(RsGroupStats *st, RsTestResult *out)
{
	double	   *work = palloc(sizeof(double) * 2 * Max(st->ngroups, 1));

	RsAssert(st->keep_values);
	CHECK_FOR_INTERRUPTS();
	rs_kruskal(st->values, st->nvalues, st->ngroups, work, out);
	pfree(work);
}

/* ----------------------------------------------------------------
 *		Aggregate support functions
 * ----------------------------------------------------------------
 */

/* The transition state also remembers how to print the group keys. */
typedef struct StatsAggState
{
	RsGroupStats *st;
	Oid			key_type;
	FmgrInfo	key_out;
} StatsAggState;

static Datum
stats_transfn(FunctionCallInfo fcinfo, bool keep_values, const char *fname)
{
	MemoryContext cxt = rs_agg_context(fcinfo, fname);
	StatsAggState   *as = rs_agg_state_arg(fcinfo, 0);
	char	   *key;

	if (as == NULL)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 1);
		Oid			out;
		bool		varlena;

		as = MemoryContextAllocZero(cxt, sizeof(StatsAggState));
		as->st = rs_group_stats_new(cxt, keep_values);
		as->key_type = type;
		if (!OidIsValid(type))
			elog(ERROR, "%s: could not determine the group type", fname);
		getTypeOutputInfo(type, &out, &varlena);
		fmgr_info_cxt(out, &as->key_out, cxt);
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(as);

	key = OutputFunctionCall(&as->key_out, PG_GETARG_DATUM(1));
	rs_group_stats_add(as->st, rs_group_stats_group(as->st, key), PG_GETARG_FLOAT8(2));
	pfree(key);
	PG_RETURN_POINTER(as);
}

PG_FUNCTION_INFO_V1(rs_stats_moments_transfn);
Datum
rs_stats_moments_transfn(PG_FUNCTION_ARGS)
{
	return stats_transfn(fcinfo, false, "rs_stats_moments_transfn");
}

PG_FUNCTION_INFO_V1(rs_stats_values_transfn);
Datum
rs_stats_values_transfn(PG_FUNCTION_ARGS)
{
	return stats_transfn(fcinfo, true, "rs_stats_values_transfn");
}

PG_FUNCTION_INFO_V1(rs_stats_combinefn);
Datum
rs_stats_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = rs_agg_context(fcinfo, "rs_stats_combinefn");
	StatsAggState   *a = rs_agg_state_arg(fcinfo, 0);
	StatsAggState   *b = rs_agg_state_arg(fcinfo, 1);

	if (b == NULL)
		RS_RETURN_STATE(a);
	if (a == NULL)
	{
		/* the result must live in the aggregate context, not b's */
		a = MemoryContextAllocZero(cxt, sizeof(StatsAggState));
		a->st = rs_group_stats_new(cxt, b->st->keep_values);
	}
	group_stats_merge(a->st, b->st);
	PG_RETURN_POINTER(a);
}

/*
 * Wire form: int8 keep_values, int32 groups, per group its key (int32
 * length, bytes), n, mean, m2 (float8); int64 values, then (float8 value,
 * int32 group) each; int64 rows.  Keys travel as text, so the key type is
 * not needed after this.
 */
PG_FUNCTION_INFO_V1(rs_stats_serialfn);
Datum
rs_stats_serialfn(PG_FUNCTION_ARGS)
{
	StatsAggState   *as = (StatsAggState *) PG_GETARG_POINTER(0);
	RsGroupStats *st = as->st;
	StringInfoData buf;

	(void) rs_agg_context(fcinfo, "rs_stats_serialfn");
	pq_begintypsend(&buf);
	pq_sendint8(&buf, st->keep_values ? 1 : 0);
	pq_sendint32(&buf, st->ngroups);
	for (int i = 0; i < st->ngroups; i++)
	{
		int32		len = strlen(st->keys[i]);

		pq_sendint32(&buf, len);
		pq_sendbytes(&buf, st->keys[i], len);
		pq_sendfloat8(&buf, st->mom[i].n);
		pq_sendfloat8(&buf, st->mom[i].mean);
		pq_sendfloat8(&buf, st->mom[i].m2);
	}
	pq_sendint64(&buf, st->nvalues);
	for (int64 i = 0; i < st->nvalues; i++)
	{
		pq_sendfloat8(&buf, st->values[i].value);
		pq_sendint32(&buf, st->values[i].group);
	}
	pq_sendint64(&buf, st->n);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rs_stats_deserialfn);
Datum
rs_stats_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = rs_agg_context(fcinfo, "rs_stats_deserialfn");
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	StatsAggState   *as;
	RsGroupStats *st;
	int32		ngroups;
	int64		nvalues;

	rs_bytea_reader(&buf, b);
	as = MemoryContextAllocZero(cxt, sizeof(StatsAggState));
	st = as->st = rs_group_stats_new(cxt, pq_getmsgint(&buf, 1) != 0);
	ngroups = pq_getmsgint(&buf, 4);
	for (int i = 0; i < ngroups; i++)
	{
		int32		len = pq_getmsgint(&buf, 4);
		char	   *key = pnstrdup(pq_getmsgbytes(&buf, len), len);
		int32		g = rs_group_stats_group(st, key);

		st->mom[g].n = pq_getmsgfloat8(&buf);
		st->mom[g].mean = pq_getmsgfloat8(&buf);
		st->mom[g].m2 = pq_getmsgfloat8(&buf);
	}
	nvalues = pq_getmsgint64(&buf);
	for (int64 i = 0; i < nvalues; i++)
	{
		double		x = pq_getmsgfloat8(&buf);
		int32		g = pq_getmsgint(&buf, 4);

		if (g < 0 || g >= st->ngroups)
			elog(ERROR, "corrupt statistics state: group %d of %d", g, st->ngroups);
		push_value(st, g, x);
	}
	st->n = pq_getmsgint64(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(as);
}

/* ----------------------------------------------------------------
 *		Final functions: one composite row each
 * ----------------------------------------------------------------
 */

static Datum
float_or_null(double x, bool *isnull)
{
	*isnull = isnan(x);
	return Float8GetDatum(isnan(x) ? 0 : x);
}

/* A whole number of degrees of freedom, or NULL (isnull) when NaN. */
static Datum
int32_or_null(double x, bool *isnull)
{
	*isnull = isnan(x);
	return Int32GetDatum(isnan(x) ? 0 : (int32) x);
}

/*
 * The state a final function (fname) reads, or NULL when no non-NULL value
 * was aggregated (the result is then NULL).
 */
static RsGroupStats *
final_state(FunctionCallInfo fcinfo, const char *fname)
{
	StatsAggState *as = rs_agg_state_arg(fcinfo, 0);

	(void) rs_agg_context(fcinfo, fname);
	if (as == NULL || as->st->n == 0)
		return NULL;
	return as->st;
}

static Datum
make_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* groups that have at least one value */
static int
nonempty_groups(const RsGroupStats *st)
{
	int			k = 0;

	for (int i = 0; i < st->ngroups; i++)
		if (st->mom[i].n > 0)
			k++;
	return k;
}

/* (statistic, df_between, df_within, p_value, n, groups) */
PG_FUNCTION_INFO_V1(rs_anova_finalfn);
Datum
rs_anova_finalfn(PG_FUNCTION_ARGS)
{
	RsGroupStats *st = final_state(fcinfo, "rs_anova_finalfn");
	RsTestResult r;
	Datum		v[6];
	bool		n[6];

	if (st == NULL)
		PG_RETURN_NULL();
	rs_anova(st->mom, st->ngroups, &r);
	v[0] = float_or_null(r.statistic, &n[0]);
	v[1] = int32_or_null(r.df1, &n[1]);
	v[2] = Int64GetDatum(isnan(r.df2) ? 0 : (int64) r.df2);
	n[2] = isnan(r.df2);
	v[3] = float_or_null(r.p, &n[3]);
	v[4] = Int64GetDatum(st->n);
	n[4] = false;
	v[5] = Int32GetDatum(nonempty_groups(st));
	n[5] = false;
	PG_RETURN_DATUM(make_row(fcinfo, v, n));
}

/*
 * (statistic, df, p_value, n, group_1, group_2, mean_difference): t is
 * positive when group_1 (the group whose text sorts first) has the larger
 * mean.
 */
PG_FUNCTION_INFO_V1(rs_welch_finalfn);
Datum
rs_welch_finalfn(PG_FUNCTION_ARGS)
{
	RsGroupStats *st = final_state(fcinfo, "rs_welch_finalfn");
	RsTestResult r;
	Datum		v[7];
	bool		n[7];
	int32	   *ord;

	if (st == NULL)
		PG_RETURN_NULL();
	if (nonempty_groups(st) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("welch_t_test needs two groups, not %d", nonempty_groups(st)),
				 errhint("Use recsys.anova or recsys.kruskal_wallis for more groups, or keep two groups with WHERE.")));
	ord = rs_group_stats_order(st);
	memset(n, 0, sizeof(n));
	if (st->ngroups == 2)
	{
		const RsMoments *a = &st->mom[ord[0]],
				   *b = &st->mom[ord[1]];

		rs_welch(a, b, &r);
		v[5] = CStringGetTextDatum(st->keys[ord[1]]);
		v[6] = Float8GetDatum(a->mean - b->mean);
	}
	else
	{
		/* one group: nothing to compare it with */
		r.statistic = r.df1 = r.df2 = r.p = NAN;
		n[5] = n[6] = true;
		v[5] = v[6] = (Datum) 0;
	}
	v[0] = float_or_null(r.statistic, &n[0]);
	v[1] = float_or_null(r.df1, &n[1]);
	v[2] = float_or_null(r.p, &n[2]);
	v[3] = Int64GetDatum(st->n);
	v[4] = CStringGetTextDatum(st->keys[ord[0]]);
	PG_RETURN_DATUM(make_row(fcinfo, v, n));
}

/* (statistic, df, p_value, n, groups) */
PG_FUNCTION_INFO_V1(rs_kruskal_finalfn);
Datum
rs_kruskal_finalfn(PG_FUNCTION_ARGS)
{
	RsGroupStats *st = final_state(fcinfo, "rs_kruskal_finalfn");
	RsTestResult r;
	Datum		v[5];
	bool		n[5];

	if (st == NULL)
		PG_RETURN_NULL();
	/* sorting in place is harmless: nothing reads the values afterwards */
	rs_group_stats_kruskal(st, &r);
	v[0] = float_or_null(r.statistic, &n[0]);
	v[1] = int32_or_null(r.df1, &n[1]);
	v[2] = float_or_null(r.p, &n[2]);
	v[3] = Int64GetDatum(st->n);
	n[3] = false;
	v[4] = Int32GetDatum(nonempty_groups(st));
	n[4] = false;
	PG_RETURN_DATUM(make_row(fcinfo, v, n));
}

/* ----------------------------------------------------------------
 *		Survival functions
 * ----------------------------------------------------------------
 */

static void
check_df(double df, const char *name)
{
	if (!(df > 0) || isinf(df))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive and finite, not %g", name, df),
				 errhint("Degrees of freedom are positive numbers.")));
}

PG_FUNCTION_INFO_V1(rs_f_sf_sql);
Datum
rs_f_sf_sql(PG_FUNCTION_ARGS)
{
	double		x = PG_GETARG_FLOAT8(0);

	check_df(PG_GETARG_FLOAT8(1), "df1");
	check_df(PG_GETARG_FLOAT8(2), "df2");
	PG_RETURN_FLOAT8(rs_f_sf(x, PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2)));
}

PG_FUNCTION_INFO_V1(rs_t_sf_sql);
Datum
rs_t_sf_sql(PG_FUNCTION_ARGS)
{
	check_df(PG_GETARG_FLOAT8(1), "df");
	PG_RETURN_FLOAT8(rs_t_sf(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1)));
}

PG_FUNCTION_INFO_V1(rs_chi2_sf_sql);
Datum
rs_chi2_sf_sql(PG_FUNCTION_ARGS)
{
	check_df(PG_GETARG_FLOAT8(1), "df");
	PG_RETURN_FLOAT8(rs_chi2_sf(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1)));
}
