/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  Fairness audits across user groups: recsys.audit_error() (is the
 *	  prediction error the same in every group?) and recsys.audit_ranking()
 *	  (are ranking quality metrics the same?).
 *
 * Both read per-row values the evaluation code produces -- the predicted
 * and observed rating of every test row (recsys.predictions(), the bulk
 * form of recsys.predict()) or each test user's NDCG, recall, precision,
 * AP, RR and hit (recsys.evaluate_users()) -- matched to the caller's user -> group
 * relation, and test across groups with the statistics of stats.c: one-way
 * ANOVA, Welch's t when exactly two groups are tested, Kruskal-Wallis, and
 * the max/min ratio and difference of the per-group metric.  The queries
 * run with the caller's rights; the caller's relations are spliced in only
 * through recsys.eval_source(), which quotes a relation name and accepts
 * nothing but a single SELECT.
 *
 * Results are one row per group (audit_error) or per group and metric
 * (audit_ranking), with the across-group statistics repeated on every row,
 * so analysts can join and filter them like any table.  A group with fewer
 * than two values is reported but left out of the tests (with a NOTICE).
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"

#include <math.h>

#include "privileges.h"
#include "core/rng.h"
#include "stats_agg.h"

/* rows read per cursor fetch */
#define FETCH_ROWS 10000
/* bootstrap resamples at most */
#define MAX_BOOTSTRAP 100000
/* groups named in a NOTICE at most */
#define NOTICE_GROUPS 10

/* ----------------------------------------------------------------
 *		Tests across groups
 * ----------------------------------------------------------------
 */

typedef struct Across
{
	bool	   *tested;			/* per group: at least two values */
	int			ntested;
	RsTestResult anova;
	RsTestResult welch;
	RsTestResult kruskal;
	double		ratio;			/* max / min of the metric over tested groups */
	double		difference;		/* max - min */
} Across;

/*
 * The tests over the groups of st with at least two values; metric[g] is
 * the per-group value whose disparity is reported.  ord: groups in key
 * order.  what names the values in NOTICEs, which are raised only when
 * notify (audit_ranking tests two metrics over the same groups).
 */
static void
across_groups(RsGroupStats *st, const int32 *ord, const double *metric,
			  const char *what, bool notify, Across *a)
{
	RsMoments  *mom = palloc(sizeof(RsMoments) * Max(st->ngroups, 1));
	RsGroupValue *vals;
	int64		nv = 0;
	int			first = -1,
				second = -1,
				left_out = 0;
	double		lo = INFINITY,
				hi = -INFINITY;
	double	   *work;
	StringInfoData names;

	initStringInfo(&names);
	a->tested = palloc0(sizeof(bool) * Max(st->ngroups, 1));
	a->ntested = 0;
	for (int i = 0; i < st->ngroups; i++)
	{
		int32		g = ord[i];

		mom[g] = st->mom[g];
		if (st->mom[g].n < 2)
		{
			mom[g].n = 0;
			if (left_out++ < NOTICE_GROUPS)
				appendStringInfo(&names, "%s\"%s\"", left_out > 1 ? ", " : "", st->keys[g]);
			continue;
		}
		a->tested[g] = true;
		a->ntested++;
		if (first < 0)
			first = g;
		else if (second < 0)
			second = g;
		lo = Min(lo, metric[g]);
		hi = Max(hi, metric[g]);
	}
	if (left_out > 0 && notify)
		ereport(NOTICE,
				(errmsg("%d group(s) with fewer than two %s left out of the tests: %s%s",
						left_out, what, names.data, left_out > NOTICE_GROUPS ? ", ..." : "")));

	rs_anova(mom, st->ngroups, &a->anova);
	/* Welch only for exactly two groups: first - second in key order */
	a->welch.statistic = a->welch.df1 = a->welch.df2 = a->welch.p = NAN;
	if (a->ntested == 2)
		rs_welch(&st->mom[first], &st->mom[second], &a->welch);

	/* Kruskal-Wallis over the tested groups' values */
	vals = palloc(sizeof(RsGroupValue) * Max(st->nvalues, 1));
	for (int64 i = 0; i < st->nvalues; i++)
		if (a->tested[st->values[i].group])
			vals[nv++] = st->values[i];
	work = palloc(sizeof(double) * 2 * Max(st->ngroups, 1));
	CHECK_FOR_INTERRUPTS();
	rs_kruskal(vals, nv, st->ngroups, work, &a->kruskal);
	pfree(vals);
	pfree(work);

	if (a->ntested >= 2)
	{
		a->difference = hi - lo;
		a->ratio = lo > 0 ? hi / lo : NAN;
	}
	else
	{
		a->difference = a->ratio = NAN;
		if (notify)
			ereport(NOTICE,
					(errmsg("fewer than two groups with at least two %s: no test across groups", what),
					 errhint("The groups relation returns (user, group); check that it assigns the test users to at least two groups.")));
	}
	pfree(mom);
}

/* Appends the across-group columns (12) to values/nulls from column c. */
static void
put_across(const Across *a, Datum *values, bool *nulls, int c)
{
#define PUT_F(x) \
	do { nulls[c] = isnan(x); values[c] = Float8GetDatum(isnan(x) ? 0 : (x)); c++; } while (0)
#define PUT_I4(x) \
	do { nulls[c] = isnan(x); values[c] = Int32GetDatum(isnan(x) ? 0 : (int32) (x)); c++; } while (0)
#define PUT_I8(x) \
	do { nulls[c] = isnan(x); values[c] = Int64GetDatum(isnan(x) ? 0 : (int64) (x)); c++; } while (0)
	PUT_F(a->anova.statistic);
	PUT_I4(a->anova.df1);
	PUT_I8(a->anova.df2);
	PUT_F(a->anova.p);
	PUT_F(a->welch.statistic);
	PUT_F(a->welch.df1);
	PUT_F(a->welch.p);
	PUT_F(a->kruskal.statistic);
	PUT_I4(a->kruskal.df1);
	PUT_F(a->kruskal.p);
	PUT_F(a->ratio);
	PUT_F(a->difference);
#undef PUT_F
#undef PUT_I4
#undef PUT_I8
}

/* ----------------------------------------------------------------
 *		Arguments and the caller's relations
 * ----------------------------------------------------------------
 */

static char *
required_text(FunctionCallInfo fcinfo, int arg, const char *name, const char *hint)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name),
				 errhint("%s", hint)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

static char *
optional_text(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/*
 * The version audited: the one of the version argument (the last), or the
 * active one; an error when the model or the version does not exist.
 */
static RsStoredModel
audited_version(FunctionCallInfo fcinfo, const char *name, int arg)
{
	RsStoredModel sm;
	int32		version = 0;

	if (arg < PG_NARGS() && !PG_ARGISNULL(arg))
	{
		version = PG_GETARG_INT32(arg);
		if (version <= 0)
			rs_report_no_version(name, version);
	}
	rs_served_version(name, version, &sm);
	return sm;
}

/*
 * The FROM item for the groups relation, aliased g(u, grp): a relation
 * name or a single SELECT, checked and quoted by recsys.eval_source(),
 * with at least two columns (user, group).
 */
static char *
groups_from(const char *groups)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(groups)};
	bool		isnull;
	char	   *from;
	int			rc;
	SPIPlanPtr	plan;
	List	   *sources;
	int			natts;

	rc = SPI_execute_with_args("SELECT recsys.eval_source($1, 'groups')", 1, types,
							   values, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "recsys.eval_source failed: %s", SPI_result_code_string(rc));
	from = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	/* its columns, from the plan: the query is not run */
	plan = SPI_prepare(psprintf("SELECT * FROM %s AS g", from), 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the groups: %s", SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) != 1 ||
		((CachedPlanSource *) linitial(sources))->resultDesc == NULL)
		elog(ERROR, "reading the columns of the groups failed");
	natts = ((CachedPlanSource *) linitial(sources))->resultDesc->natts;
	SPI_freeplan(plan);
	if (natts < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("groups must return two columns (user, group), not %d", natts),
				 errhint("For example 'SELECT user_id, gender FROM users'.")));
	/* every column gets an alias, so none of the source's can clash with u */
	{
		StringInfoData alias;

		initStringInfo(&alias);
		appendStringInfoString(&alias, "u, grp");
		for (int i = 3; i <= natts; i++)
			appendStringInfo(&alias, ", c%d", i);
		return psprintf("%s AS g(%s)", from, alias.data);
	}
}

/*
 * Opens a read-only cursor over sql with the given text/int parameters,
 * planned as if the transaction were read-only (the caller's queries are
 * spliced into sql).
 */
static Portal
open_cursor(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return rs_cursor_open_read_only(plan, values, nulls);
}

/*
 * The next rows of a cursor over the caller's queries, read as if the
 * transaction were read-only (see RS_READ_ONLY in runtime.h): a test set or
 * groups query calling a function that writes fails with 25006.
 */
static void
fetch_read_only(Portal portal)
{
	RS_READ_ONLY(SPI_cursor_fetch(portal, true, FETCH_ROWS));
}

/* A user's groups (a user listed under several groups counts in each). */
typedef struct UserGroups
{
	char	   *key;			/* hash key: the user's text form */
	int32		n;
	char	  **groups;
} UserGroups;

/*
 * Reads the whole groups relation into a hash table user -> groups, once:
 * cheaper than joining it to millions of test rows, and it keeps the test
 * rows in the order they come (by user), so each user is looked up once.
 * Rows with a NULL user or group are skipped.
 */
static HTAB *
load_groups(const char *groups, MemoryContext cxt)
{
	HTAB	   *map = rs_string_hash_create(cxt, "recsys audit groups", sizeof(UserGroups), 1024);
	Portal		portal = open_cursor(psprintf("SELECT (g.u)::pg_catalog.text, (g.grp)::pg_catalog.text FROM %s",
											  groups_from(groups)), 0, NULL, NULL, NULL);

	for (;;)
	{
		fetch_read_only(portal);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			char	   *u = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
			char	   *g = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);
			UserGroups *e;
			bool		found;
			bool		dup = false;

			if (u == NULL || g == NULL)
				continue;
			e = hash_search(map, &u, HASH_ENTER, &found);
			if (!found)
			{
				e->key = MemoryContextStrdup(cxt, u);
				e->n = 0;
				e->groups = NULL;
			}
			for (int i = 0; i < e->n && !dup; i++)
				dup = strcmp(e->groups[i], g) == 0;
			if (dup)
				continue;
			if (e->n == 0)
				e->groups = MemoryContextAlloc(cxt, sizeof(char *));
			else
				e->groups = repalloc(e->groups, sizeof(char *) * (e->n + 1));
			e->groups[e->n++] = MemoryContextStrdup(cxt, g);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	return map;
}

static UserGroups *
user_groups(HTAB *map, const char *user)
{
	return hash_search(map, &user, HASH_FIND, NULL);
}

/* ----------------------------------------------------------------
 *		recsys.audit_error
 * ----------------------------------------------------------------
 */

/* Per group: sums of the error, its absolute value and its square. */
typedef struct ErrorSums
{
	double		sum;
	double		sum_abs;
	double		sum_sq;
} ErrorSums;

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* the p-quantile of sorted x[0..n-1], linear between order statistics */
static double
quantile(const double *x, int n, double p)
{
	double		pos = p * (n - 1);
	int			i = (int) floor(pos);

	if (i >= n - 1)
		return x[n - 1];
	return x[i] + (pos - i) * (x[i + 1] - x[i]);
}

/*
 * Percentile bootstrap interval of a group's RMSE from its squared errors
 * sq[0..n-1]: B resamples of n with replacement.  sq is sorted first, and
 * the random stream depends only on the seed and the group's key, so the
 * interval depends on the group's errors, not on the order rows came in or
 * on the other groups.
 */
static void
bootstrap_rmse(double *sq, int64 n, int B, double confidence, int32 seed,
			   const char *key, double *low, double *high)
{
	double	   *rmse = palloc(sizeof(double) * B);
	RsRng		rng;

	qsort(sq, n, sizeof(double), cmp_double);
	rs_rng_init(&rng, (uint64_t) seed, hash_bytes((const unsigned char *) key, strlen(key)));
	for (int b = 0; b < B; b++)
	{
		double		s = 0;

		CHECK_FOR_INTERRUPTS();
		for (int64 i = 0; i < n; i++)
			s += sq[rs_rng_below64(&rng, (uint64_t) n)];
		rmse[b] = sqrt(s / n);
	}
	qsort(rmse, B, sizeof(double), cmp_double);
	*low = quantile(rmse, B, (1.0 - confidence) / 2.0);
	*high = quantile(rmse, B, (1.0 + confidence) / 2.0);
	pfree(rmse);
}

/*
 * recsys.audit_error(model, test, groups, error, bootstrap, confidence,
 *					  seed, user_col, item_col, rating_col)
 */
PG_FUNCTION_INFO_V1(rs_audit_error);
Datum
rs_audit_error(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work_cxt;
	MemoryContext old;
	char	   *model;
	char	   *test;
	char	   *groups;
	char	   *error;
	bool		absolute;
	int			B;
	double		confidence;
	int32		seed;
	RsStoredModel sm;
	const char *sql;
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		args[6];
	char		argnulls[7] = "      ";
	Portal		portal;
	RsGroupStats *st;
	HTAB	   *map;
	StringInfoData cur_user;	/* the user of the rows being read */
	int32	   *cur_idx = NULL; /* ... its groups */
	int32		cur_n = 0,
				cur_cap = 0;
	ErrorSums  *sums = NULL;
	int32		sums_cap = 0;
	int64		no_group = 0,
				no_value = 0,
				unknown_user = 0,
				unknown_item = 0,
				known_both = 0,
				rows = 0;
	int32	   *ord;
	double	   *metric;
	Across		a;

	model = required_text(fcinfo, 0, "model", "Pass the name of a trained model.");
	rs_check_model_usage(model);
	test = required_text(fcinfo, 1, "test", "Pass a relation name or a SELECT query.");
	groups = required_text(fcinfo, 2, "groups",
						   "Pass a relation or a SELECT returning (user, group), e.g. 'SELECT user_id, gender FROM users'.");
	error = PG_ARGISNULL(3) ? "squared" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(error, "squared") == 0)
		absolute = false;
	else if (strcmp(error, "absolute") == 0)
		absolute = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown error measure \"%s\"", error),
				 errhint("Use squared (the tests compare squared errors, disparity of RMSE) or absolute (absolute errors, disparity of MAE).")));
	B = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT32(4);
	if (B < 0 || B > MAX_BOOTSTRAP || B == 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bootstrap must be 0 or between 2 and %d, not %d", MAX_BOOTSTRAP, B),
				 errhint("bootstrap is the number of resamples for the RMSE intervals; 0 turns them off, 1000 is usual.")));
	confidence = PG_ARGISNULL(5) ? 0.95 : PG_GETARG_FLOAT8(5);
	if (!(confidence > 0 && confidence < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence must be between 0 and 1 (exclusive), not %g", confidence),
				 errhint("For example confidence => 0.95.")));
	seed = PG_ARGISNULL(6) ? 42 : PG_GETARG_INT32(6);

	InitMaterializedSRF(fcinfo, 0);
	work_cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys audit_error",
									 ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	sm = audited_version(fcinfo, model, 10);
	if (!sm.explicit_feedback)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not predict ratings: audit_error needs an explicit model", model),
				 errhint("Train with als, svd or a neighbourhood model with \"feedback\": \"explicit\"; audit an implicit model's ranking with recsys.audit_ranking().")));

	/*
	 * Every test row's error with its user's group and whether its user and
	 * item are in the model (a row of a user without a group has grp NULL).
	 */
	map = load_groups(groups, work_cxt);
	sql = "SELECT p.user_key, p.prediction OPERATOR(pg_catalog.-) p.rating, "
		"uf.user_key IS NOT NULL, itf.item_key IS NOT NULL "
		"FROM recsys.predictions($1, $2, $3, $4, $5, $6) AS p "
		"LEFT JOIN recsys.user_factors uf ON uf.model OPERATOR(pg_catalog.=) $1 "
		"AND uf.version OPERATOR(pg_catalog.=) $6 AND uf.user_key OPERATOR(pg_catalog.=) p.user_key "
		"LEFT JOIN recsys.item_factors itf ON itf.model OPERATOR(pg_catalog.=) $1 "
		"AND itf.version OPERATOR(pg_catalog.=) $6 AND itf.item_key OPERATOR(pg_catalog.=) p.item_key";
	args[0] = CStringGetTextDatum(model);
	args[1] = CStringGetTextDatum(test);
	for (int i = 2; i < 5; i++)
	{
		char	   *s = optional_text(fcinfo, i + 5);

		args[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
		argnulls[i] = s ? ' ' : 'n';
	}
	args[5] = Int32GetDatum(sm.version);
	portal = open_cursor(sql, 6, types, args, argnulls);

	st = rs_group_stats_new(work_cxt, true);
	old = MemoryContextSwitchTo(work_cxt);
	initStringInfo(&cur_user);
	MemoryContextSwitchTo(old);
	for (;;)
	{
		fetch_read_only(portal);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		unull,
						enull,
						isnull;
			Datum		ud = SPI_getbinval(tup, desc, 1, &unull);
			Datum		ed = SPI_getbinval(tup, desc, 2, &enull);
			bool		ku = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			bool		ki = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
			double		e;

			rows++;
			unknown_user += !ku;
			unknown_item += !ki;
			known_both += ku && ki;
			/* rows come by user: look each user's groups up once */
			if (!unull)
			{
				text	   *ut = DatumGetTextPP(ud);
				int			len = VARSIZE_ANY_EXHDR(ut);

				if (len != cur_user.len || memcmp(VARDATA_ANY(ut), cur_user.data, len) != 0)
				{
					UserGroups *ug;

					resetStringInfo(&cur_user);
					appendBinaryStringInfo(&cur_user, VARDATA_ANY(ut), len);
					ug = user_groups(map, cur_user.data);
					cur_n = ug ? ug->n : 0;
					old = MemoryContextSwitchTo(work_cxt);
					for (int i = 0; i < cur_n; i++)
					{
						if (i >= cur_cap)
						{
							cur_cap = Max(4, cur_cap * 2);
							cur_idx = cur_idx ? repalloc(cur_idx, sizeof(int32) * cur_cap)
								: palloc(sizeof(int32) * cur_cap);
						}
						cur_idx[i] = rs_group_stats_group(st, ug->groups[i]);
					}
					if (st->ngroups > sums_cap)
					{
						int32		cap = Max(16, Max(st->ngroups, sums_cap * 2));

						sums = sums ? repalloc(sums, sizeof(ErrorSums) * cap) : palloc(sizeof(ErrorSums) * cap);
						memset(sums + sums_cap, 0, sizeof(ErrorSums) * (cap - sums_cap));
						sums_cap = cap;
					}
					MemoryContextSwitchTo(old);
				}
			}
			if (unull || cur_n == 0)
			{
				no_group++;
				continue;
			}
			if (enull)
			{
				no_value++;
				continue;
			}
			e = DatumGetFloat8(ed);
			for (int i = 0; i < cur_n; i++)
			{
				int32		g = cur_idx[i];

				sums[g].sum += e;
				sums[g].sum_abs += fabs(e);
				sums[g].sum_sq += e * e;
				rs_group_stats_add(st, g, absolute ? fabs(e) : e * e);
			}
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);

	if (rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("test set has no rows"),
				 errhint("Check the test set and its columns (rows with a NULL user or item are skipped).")));
	if (known_both == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no row of the test set has both its user and its item in model \"%s\"", model),
				 errhint("Audit on a split of the data the model was trained on (recsys.split); check the key columns.")));
	if (unknown_user > 0 || unknown_item > 0)
		ereport(NOTICE,
				(errmsg("%lld of %lld test rows have a user and %lld an item the model does not know; they are predicted by the bias baseline",
						(long long) unknown_user, (long long) rows, (long long) unknown_item)));
	if (no_group > 0)
		ereport(NOTICE,
				(errmsg("%lld test rows of users without a group were left out", (long long) no_group)));
	if (no_value > 0)
		ereport(NOTICE,
				(errmsg("%lld test rows without a rating or a prediction were left out", (long long) no_value)));
	if (st->ngroups == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no test row belongs to a group"),
				 errhint("groups returns (user, group); its user keys must match the test set's (they are compared as text).")));

	old = MemoryContextSwitchTo(work_cxt);
	ord = rs_group_stats_order(st);
	metric = palloc(sizeof(double) * st->ngroups);
	for (int g = 0; g < st->ngroups; g++)
		metric[g] = absolute ? sums[g].sum_abs / st->mom[g].n : sqrt(sums[g].sum_sq / st->mom[g].n);
	across_groups(st, ord, metric, "test rows", true, &a);
	MemoryContextSwitchTo(old);

	/* one row per group, in key order */
	{
		double	  **sq = NULL;
		int64	   *fill = NULL;

		old = MemoryContextSwitchTo(work_cxt);
		if (B > 0)
		{
			/* each group's squared errors, for its bootstrap */
			sq = palloc(sizeof(double *) * st->ngroups);
			fill = palloc0(sizeof(int64) * st->ngroups);
			for (int g = 0; g < st->ngroups; g++)
				sq[g] = MemoryContextAllocHuge(work_cxt, sizeof(double) * (Size) st->mom[g].n);
			for (int64 i = 0; i < st->nvalues; i++)
			{
				int32		g = st->values[i].group;
				double		v = st->values[i].value;

				sq[g][fill[g]++] = absolute ? v * v : v;
			}
		}
		MemoryContextSwitchTo(old);

		for (int i = 0; i < st->ngroups; i++)
		{
			int32		g = ord[i];
			double		n = st->mom[g].n;
			Datum		values[20];
			bool		nulls[20];

			memset(nulls, 0, sizeof(nulls));
			values[0] = CStringGetTextDatum(st->keys[g]);
			values[1] = Int64GetDatum((int64) n);
			values[2] = Float8GetDatum(sqrt(sums[g].sum_sq / n));
			values[3] = Float8GetDatum(sums[g].sum_abs / n);
			values[4] = Float8GetDatum(sums[g].sum / n);
			if (B > 0)
			{
				double		low,
							high;

				old = MemoryContextSwitchTo(work_cxt);
				bootstrap_rmse(sq[g], (int64) n, B, confidence, seed, st->keys[g], &low, &high);
				MemoryContextSwitchTo(old);
				values[5] = Float8GetDatum(low);
				values[6] = Float8GetDatum(high);
			}
			else
				nulls[5] = nulls[6] = true;
			values[7] = BoolGetDatum(a.tested[g]);
			put_across(&a, values, nulls, 8);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	SPI_finish();
	MemoryContextDelete(work_cxt);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		recsys.audit_ranking
 * ----------------------------------------------------------------
 */

/* the per-user metrics of recsys.evaluate_users() an audit can compare */
#define RANKING_METRICS 6
static const char *const ranking_metrics[RANKING_METRICS] = {
	"ndcg", "recall", "precision", "ap", "rr", "hit"
};

/*
 * The metrics asked for, as indexes into ranking_metrics, in the order
 * given, without repeats.  NULL: NDCG and recall.
 */
static int
ranking_metric_list(FunctionCallInfo fcinfo, int arg, int *which)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems,
				n = 0;

	if (PG_ARGISNULL(arg))
	{
		which[0] = 0;
		which[1] = 1;
		return 2;
	}
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(arg), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metrics must not be empty"),
				 errhint("Name one or more of ndcg, recall, precision, ap, rr, hit.")));
	for (int i = 0; i < nelems; i++)
	{
		char	   *name;
		int			m;
		bool		seen = false;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("metrics must not contain NULL")));
		name = TextDatumGetCString(elems[i]);
		for (m = 0; m < RANKING_METRICS; m++)
			if (strcmp(name, ranking_metrics[m]) == 0)
				break;
		if (m == RANKING_METRICS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown ranking metric \"%s\"", name),
					 errhint("Name one or more of ndcg, recall, precision, ap, rr, hit.")));
		for (int j = 0; j < n; j++)
			seen |= which[j] == m;
		if (!seen)
			which[n++] = m;
	}
	return n;
}

/*
 * recsys.audit_ranking(model, test, groups, k, metrics, user_col, item_col,
 *						rating_col, threshold)
 */
PG_FUNCTION_INFO_V1(rs_audit_ranking);
Datum
rs_audit_ranking(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work_cxt;
	MemoryContext old;
	char	   *model;
	char	   *test;
	char	   *groups;
	int32		k;
	const char *sql;
	Oid			types[8] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, INT4OID};
	Datum		args[8];
	char		argnulls[9] = "        ";
	RsStoredModel sm;
	Portal		portal;
	RsGroupStats *st[RANKING_METRICS];
	int			which[RANKING_METRICS];
	int			nmetrics;
	HTAB	   *map;
	int64		no_group = 0;

	model = required_text(fcinfo, 0, "model", "Pass the name of a trained model.");
	rs_check_model_usage(model);
	test = required_text(fcinfo, 1, "test", "Pass a relation name or a SELECT query.");
	groups = required_text(fcinfo, 2, "groups",
						   "Pass a relation or a SELECT returning (user, group), e.g. 'SELECT user_id, gender FROM users'.");
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	k = PG_GETARG_INT32(3);
	if (k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", k),
				 errhint("k is the length of the lists that are measured.")));
	nmetrics = ranking_metric_list(fcinfo, 4, which);

	InitMaterializedSRF(fcinfo, 0);
	work_cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys audit_ranking",
									 ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	sm = audited_version(fcinfo, model, 9);

	/* each test user's metrics (evaluate_users checks the test set) */
	map = load_groups(groups, work_cxt);
	/* columns in the order of ranking_metrics */
	sql = "SELECT e.user_key, e.ndcg, e.recall, e.\"precision\", e.ap, e.rr, e.hit "
		"FROM recsys.evaluate_users($1, $2, $3, $4, $5, $6, $7, $8) AS e";
	args[0] = CStringGetTextDatum(model);
	args[1] = CStringGetTextDatum(test);
	args[2] = Int32GetDatum(k);
	for (int i = 3; i < 6; i++)
	{
		char	   *s = optional_text(fcinfo, i + 2);

		args[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
		argnulls[i] = s ? ' ' : 'n';
	}
	args[6] = PG_ARGISNULL(8) ? (Datum) 0 : PG_GETARG_DATUM(8);
	argnulls[6] = PG_ARGISNULL(8) ? 'n' : ' ';
	args[7] = Int32GetDatum(sm.version);
	portal = open_cursor(sql, 8, types, args, argnulls);

	for (int m = 0; m < nmetrics; m++)
		st[m] = rs_group_stats_new(work_cxt, true);
	for (;;)
	{
		fetch_read_only(portal);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *user = SPI_getvalue(tup, desc, 1);
			UserGroups *ug = user ? user_groups(map, user) : NULL;

			if (ug == NULL)
			{
				no_group++;
				continue;
			}
			old = MemoryContextSwitchTo(work_cxt);
			for (int i = 0; i < ug->n; i++)
				for (int m = 0; m < nmetrics; m++)
				{
					bool		vnull;
					Datum		vd = SPI_getbinval(tup, desc, 2 + which[m], &vnull);
					int32		g = rs_group_stats_group(st[m], ug->groups[i]);

					if (!vnull)
						rs_group_stats_add(st[m], g, DatumGetFloat8(vd));
				}
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);

	if (no_group > 0)
		ereport(NOTICE,
				(errmsg("%lld test users without a group were left out", (long long) no_group)));
	if (st[0]->ngroups == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no test user belongs to a group"),
				 errhint("groups returns (user, group); its user keys must match the test set's (they are compared as text).")));

	/* one row per group and metric, groups in key order */
	for (int m = 0; m < nmetrics; m++)
	{
		int32	   *ord;
		double	   *metric;
		Across		a;

		old = MemoryContextSwitchTo(work_cxt);
		ord = rs_group_stats_order(st[m]);
		metric = palloc(sizeof(double) * st[m]->ngroups);
		for (int g = 0; g < st[m]->ngroups; g++)
			metric[g] = st[m]->mom[g].mean;
		across_groups(st[m], ord, metric, "users", m == 0, &a);
		MemoryContextSwitchTo(old);

		for (int i = 0; i < st[m]->ngroups; i++)
		{
			int32		g = ord[i];
			const RsMoments *mo = &st[m]->mom[g];
			Datum		values[19];
			bool		nulls[19];

			memset(nulls, 0, sizeof(nulls));
			values[0] = CStringGetTextDatum(st[m]->keys[g]);
			values[1] = CStringGetTextDatum(ranking_metrics[which[m]]);
			values[2] = Int32GetDatum(k);
			values[3] = Int64GetDatum((int64) mo->n);
			values[4] = Float8GetDatum(mo->mean);
			values[5] = Float8GetDatum(mo->n >= 2 ? sqrt(mo->m2 / (mo->n - 1)) : 0);
			nulls[5] = mo->n < 2;
			values[6] = BoolGetDatum(a.tested[g]);
			put_across(&a, values, nulls, 7);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	SPI_finish();
	MemoryContextDelete(work_cxt);
	return (Datum) 0;
}
