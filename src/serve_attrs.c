/*-------------------------------------------------------------------------
 *
 * serve_attrs.c
 *	  What the constraints know about the items, built from the queries the
 *	  caller passes (exclude_query, item_times, item_groups) and from the
 *	  forbidden filter: exclusion flags, ages and freshness factors,
 *	  groups.  Built once per call site and kept in fn_extra (see
 *	  ItemAttrs in serve_int.h).
 *
 * The caller's queries run with the caller's rights, read-only, and must
 * be one plain SELECT each.  Calls serve_cache.c (item keys), rerank.c
 * (freshness), bloom.c (the filter) and loader.c (timestamps); no other
 * serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/timestamp.h"

#include "loader.h"

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/*
 * Prepares a query the caller supplied, which must be one plain SELECT
 * (it runs with the caller's rights, read-only), returning at least
 * min_columns columns.
 */
static SPIPlanPtr
prepare_select(const char *sql, const char *what, int min_columns)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	List	   *sources;
	CachedPlanSource *ps;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for %s: %s", what,
			 SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	ps = list_length(sources) == 1 ? linitial(sources) : NULL;
	if (ps != NULL)
	{
		ListCell   *lc;

		/* a data-modifying WITH is no plain SELECT either */
		foreach(lc, ps->query_list)
			if (lfirst_node(Query, lc)->hasModifyingCTE)
				ps = NULL;
	}
	if (ps == NULL || ps->commandTag != CMDTAG_SELECT || ps->resultDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s must be a single SELECT query", what),
				 errhint("For example 'SELECT item_id FROM out_of_stock'.")));
	if (ps->resultDesc->natts < min_columns)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must return %d columns, not %d", what, min_columns,
						ps->resultDesc->natts),
				 errhint("The first column is the item key.")));
	return plan;
}

/*
 * Runs a SELECT the caller supplied and calls fn for each row whose first
 * column (an item key) is an item of the model.
 */
typedef void (*ItemRowFn) (void *arg, int32 idx, HeapTuple tup, TupleDesc desc);

static void
for_each_item_row(ServedModel *m, const char *sql, const char *what,
				  int min_columns, ItemRowFn fn, void *arg)
{
	SPIPlanPtr	plan = prepare_select(sql, what, min_columns);
	Portal		portal = rs_cursor_open_read_only(plan, NULL, NULL);

	for (;;)
	{
		RS_READ_ONLY(SPI_cursor_fetch(portal, true, 10000));
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			char	   *key = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
			int32		idx = key ? rs_served_item(m, key) : -1;

			if (idx >= 0)
				fn(arg, idx, tup, SPI_tuptable->tupdesc);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
}

static void
mark_excluded(void *arg, int32 idx, HeapTuple tup, TupleDesc desc)
{
	(void) tup;
	(void) desc;
	((bool *) arg)[idx] = true;
}

typedef struct AgeRows
{
	double	   *age;
	double		now;			/* the transaction's start, epoch seconds */
} AgeRows;

static void
set_age(void *arg, int32 idx, HeapTuple tup, TupleDesc desc)
{
	AgeRows    *a = arg;
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, 2, &isnull);

	if (!isnull)
		a->age[idx] = a->now - rs_datum_to_epoch(d, SPI_gettypeid(desc, 2));
}

typedef struct GroupRow
{
	int32		idx;
	char	   *name;
} GroupRow;

typedef struct GroupRows
{
	GroupRow   *rows;
	int32		n;
	int32		size;
} GroupRows;

static void
add_group(void *arg, int32 idx, HeapTuple tup, TupleDesc desc)
{
	GroupRows  *g = arg;
	char	   *name = SPI_getvalue(tup, desc, 2);

	if (name == NULL)
		return;
	if (g->n == g->size)
	{
		g->size *= 2;
		g->rows = repalloc_huge(g->rows, sizeof(GroupRow) * g->size);
	}
	g->rows[g->n].idx = idx;
	g->rows[g->n].name = name;
	g->n++;
}

static int
cmp_group_row(const void *a, const void *b)
{
	return strcmp(((const GroupRow *) a)->name, ((const GroupRow *) b)->name);
}

/* The distinct names of rows sorted by name, quoted, the first ten: for an error. */
static char *
group_names_text(const GroupRows *g)
{
	StringInfoData s;
	int			shown = 0;

	initStringInfo(&s);
	for (int32 r = 0; r < g->n; r++)
	{
		if (r > 0 && strcmp(g->rows[r].name, g->rows[r - 1].name) == 0)
			continue;
		if (shown == 10)
		{
			appendStringInfoString(&s, ", ...");
			break;
		}
		appendStringInfo(&s, "%s%s", shown > 0 ? ", " : "", quote_literal_cstr(g->rows[r].name));
		shown++;
	}
	if (shown == 0)
		appendStringInfoString(&s, "none");
	return s.data;
}

/*
 * Was in_filter[] built from this filter?  A filter stored out of line is
 * known by its TOAST pointer, so a LATERAL call per user neither detoasts
 * nor compares megabytes; one passed in memory is compared byte by byte.
 */
static bool
same_filter(const ItemAttrs *a, Datum filter)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(filter);
	BloomFilter *f;

	if (filter == (Datum) 0)
		return a->in_filter == NULL;
	if (a->in_filter == NULL)
		return false;
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		return a->forbidden == NULL && memcmp(&ptr, &a->forbidden_ptr, sizeof(ptr)) == 0;
	}
	if (a->forbidden == NULL)
		return false;
	f = DatumGetBloom(filter);
	return VARSIZE(f) == VARSIZE(a->forbidden) &&
		memcmp(f, a->forbidden, VARSIZE(f)) == 0;
}

/* The item attributes cons needs, from the cache or built now (in SPI). */
ItemAttrs *
rs_item_attrs(FunctionCallInfo fcinfo, ServedModel *m, const Constraints *cons)
{
	ItemAttrs  *a = fcinfo->flinfo->fn_extra;
	Size		n = Max(m->n_items, 1);

	if (cons->exclude_query == NULL && cons->times_query == NULL &&
		cons->groups_query == NULL && cons->forbidden == (Datum) 0)
		return NULL;
	if (a == NULL)
	{
		a = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ItemAttrs));
		a->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "recsys item attributes",
									   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = a;
	}
	if (a->model == NULL || strcmp(a->model, m->name) != 0 ||
		a->version_id != m->sm.version_id || a->catalog_id != m->sm.catalog_id)
	{
		MemoryContextReset(a->cxt);
		memset(((char *) a) + offsetof(ItemAttrs, model), 0,
			   sizeof(ItemAttrs) - offsetof(ItemAttrs, model));
		a->model = MemoryContextStrdup(a->cxt, m->name);
		a->version_id = m->sm.version_id;
		a->catalog_id = m->sm.catalog_id;
	}
	/*
	 * SPI calls switch CurrentMemoryContext to the procedure's context, so
	 * everything kept is allocated in a->cxt explicitly.
	 */
	if (!same_text(a->exclude_query, cons->exclude_query))
	{
		a->exclude_query = cons->exclude_query ? MemoryContextStrdup(a->cxt, cons->exclude_query) : NULL;
		a->excluded = NULL;
		if (cons->exclude_query)
		{
			a->excluded = MemoryContextAllocZero(a->cxt, sizeof(bool) * n);
			for_each_item_row(m, cons->exclude_query, "exclude_query", 1,
							  mark_excluded, a->excluded);
		}
	}
	if (!same_filter(a, cons->forbidden))
	{
		struct varlena *raw = (struct varlena *) DatumGetPointer(cons->forbidden);

		a->forbidden = NULL;
		a->in_filter = NULL;
		memset(&a->forbidden_ptr, 0, sizeof(a->forbidden_ptr));
		if (cons->forbidden)
		{
			BloomFilter *f = DatumGetBloom(cons->forbidden);

			if (VARATT_IS_EXTERNAL_ONDISK(raw))
				VARATT_EXTERNAL_GET_POINTER(a->forbidden_ptr, raw);
			else
			{
				a->forbidden = MemoryContextAlloc(a->cxt, VARSIZE(f));
				memcpy(a->forbidden, f, VARSIZE(f));
			}
			a->in_filter = MemoryContextAlloc(a->cxt, sizeof(bool) * n);
			for (int32 i = 0; i < m->n_items; i++)
				a->in_filter[i] = rs_bloom_contains_key(f, m->keys[i], strlen(m->keys[i]));
		}
	}
	/* the hard exclusions shared by every user */
	a->blocked = a->excluded;
	if (a->in_filter)
	{
		if (a->excluded)
		{
			a->blocked = MemoryContextAlloc(a->cxt, sizeof(bool) * n);
			for (int32 i = 0; i < m->n_items; i++)
				a->blocked[i] = a->excluded[i] || a->in_filter[i];
		}
		else
			a->blocked = a->in_filter;
	}
	if (!same_text(a->times_query, cons->times_query))
	{
		a->times_query = cons->times_query ? MemoryContextStrdup(a->cxt, cons->times_query) : NULL;
		a->age = NULL;
		a->fresh = NULL;
		if (cons->times_query)
		{
			AgeRows		ar;

			a->age = MemoryContextAlloc(a->cxt, sizeof(double) * n);
			for (Size i = 0; i < n; i++)
				a->age[i] = get_float8_nan();
			ar.age = a->age;
			ar.now = rs_datum_to_epoch(TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
									   TIMESTAMPTZOID);
			for_each_item_row(m, cons->times_query, "item_times", 2, set_age, &ar);
		}
	}
	if (a->age && (a->fresh == NULL || a->half_life != cons->spec.half_life))
	{
		a->half_life = cons->spec.half_life;
		a->fresh = MemoryContextAlloc(a->cxt, sizeof(float) * n);
		for (int32 i = 0; i < m->n_items; i++)
			a->fresh[i] = (float) rs_fresh_factor(a->age[i], a->half_life);
	}
	if (!same_text(a->groups_query, cons->groups_query))
	{
		a->groups_query = cons->groups_query ? MemoryContextStrdup(a->cxt, cons->groups_query) : NULL;
		a->group = NULL;
		a->protected_ = NULL;
		a->protected_group = NULL;
		if (cons->groups_query)
		{
			GroupRows	g;
			int32		id = -1;
			bool		protected_found = false;

			g.n = 0;
			g.size = 1024;
			g.rows = palloc(sizeof(GroupRow) * g.size);
			for_each_item_row(m, cons->groups_query, "item_groups", 2, add_group, &g);
			qsort(g.rows, g.n, sizeof(GroupRow), cmp_group_row);
			a->group = MemoryContextAlloc(a->cxt, sizeof(int32) * n);
			for (Size i = 0; i < n; i++)
				a->group[i] = -1;
			/* an item listed in several groups keeps the last (by name) */
			for (int32 r = 0; r < g.n; r++)
			{
				if (r == 0 || strcmp(g.rows[r].name, g.rows[r - 1].name) != 0)
					id++;
				a->group[g.rows[r].idx] = id;
			}
			/* protected_[] is keyed by the group's name */
			a->protected_ = MemoryContextAllocZero(a->cxt, sizeof(bool) * n);
			a->protected_group = NULL;
			for (int32 r = 0; r < g.n; r++)
				if (cons->protected_group && strcmp(g.rows[r].name, cons->protected_group) == 0)
				{
					a->protected_[g.rows[r].idx] = true;
					protected_found = true;
				}
			if (cons->protected_group && !protected_found)
			{
				/* (what was built is dropped: the next call reruns the query) */
				a->groups_query = NULL;
				a->group = NULL;
				a->protected_ = NULL;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("protected_group \"%s\" is not the group of any item", cons->protected_group),
						 errdetail("item_groups gave these groups: %s.", group_names_text(&g)),
						 errhint("protected_group is compared with each group as text: a boolean group reads 't' or 'f', not 'true'.")));
			}
			a->protected_group = cons->protected_group ? MemoryContextStrdup(a->cxt, cons->protected_group) : NULL;
			pfree(g.rows);
		}
	}
	if (a->group && !same_text(a->protected_group, cons->protected_group))
	{
		/* same groups, another protected group: rerun the query */
		a->groups_query = NULL;
		return rs_item_attrs(fcinfo, m, cons);
	}
	return a;
}
