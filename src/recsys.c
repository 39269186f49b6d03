/*-------------------------------------------------------------------------
 *
 * recsys.c
 *	  Module entry point: the magic block, the GUCs of every part (defined
 *	  here so they exist as soon as the library is loaded), and the bounded
 *	  allocator used for training data.
 *
 *-------------------------------------------------------------------------
 */
#include "recsys.h"

#include "fmgr.h"
#include <limits.h>

#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

/* recsys.memory_limit, in kB: the most one training run may allocate */
int			rs_memory_limit_kb = 2 * 1024 * 1024;

/* recsys.index_min_items: from this catalogue size recommend() asks a
 * recsys_hnsw index on recsys.item_factors for candidates (serve.c) */
int			rs_index_min_items = 1000000;

void
_PG_init(void)
{
	DefineCustomIntVariable("recsys.memory_limit",
							"Sets the maximum memory one training run may use.",
							"Loading the interactions, the compact matrix and the model all "
							"count; a run that would need more stops with an error.",
							&rs_memory_limit_kb,
							2 * 1024 * 1024,
							1024,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("recsys.index_min_items",
							"Sets the catalogue size from which recommend() takes candidates from an index.",
							"With at least this many items in a model without biases (ials) "
							"and a recsys_hnsw index on recsys.item_factors "
							"(factors recsys.embedding_ip_ops), recommend() scores the index's "
							"nearest items exactly instead of every item.",
							&rs_index_min_items,
							1000000,
							0,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	/* before the prefix is reserved, so recsys.ef_search set early is kept */
	rs_hnsw_init();
	MarkGUCPrefixReserved("recsys");

	rs_train_init();
}

/*
 * Errors out if size more bytes in cxt (with its children) would exceed
 * recsys.memory_limit.  rs_alloc() checks before it allocates, so a run
 * that is too large stops with a clear error instead of being killed by
 * the operating system; code that grows memory itself (repalloc) calls
 * this first.
 */
void
rs_check_memory(MemoryContext cxt, Size size)
{
	Size		used = MemoryContextMemAllocated(cxt, true);
	Size		limit = (Size) rs_memory_limit_kb * 1024;

	if (used + size > limit)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("training needs more memory than recsys.memory_limit allows"),
				 errdetail("%zu kB are in use and %zu kB more were requested; the limit is %d kB.",
						   used / 1024, size / 1024 + 1, rs_memory_limit_kb),
				 errhint("Raise recsys.memory_limit (SET recsys.memory_limit = '4GB'), or train on less data or fewer factors.")));
}

/* Zeroed memory in cxt, which may exceed 1 GB, within the bound. */
void *
rs_alloc(MemoryContext cxt, Size size)
{
	rs_check_memory(cxt, size);
	return MemoryContextAllocExtended(cxt, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* See recsys.h: the search_path of recsys' own statements. */
int
rs_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", RS_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

void
rs_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

/*
 * Runs a prepared read-only query (a model's stored source) with the
 * transaction read-only, see RS_READ_ONLY in recsys.h.  A function of its
 * own, so that callers keep no variables across the PG_TRY.
 */
int
rs_execute_plan_read_only(SPIPlanPtr plan, Datum *values)
{
	int			rc = 0;

	RS_READ_ONLY(rc = SPI_execute_plan(plan, values, NULL, true, 0));
	return rc;
}

/*
 * Opens a cursor over a prepared query the caller supplied with the
 * transaction read-only while it is planned (see recsys.h); its rows are
 * then fetched inside RS_READ_ONLY too.
 */
Portal
rs_cursor_open_read_only(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	Portal		portal = NULL;

	RS_READ_ONLY(portal = SPI_cursor_open(NULL, plan, values, nulls, true));
	return portal;
}
