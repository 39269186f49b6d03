/*-------------------------------------------------------------------------
 *
 * runtime.c
 *	  What every part of the extension runs on: the settings that bound a
 *	  run (recsys.memory_limit and its cap, recsys.max_threads,
 *	  recsys.index_min_items), the bounded allocator used for training data,
 *	  the pinned search_path of recsys' own statements, and running a
 *	  caller's query read-only.
 *
 * It calls only PostgreSQL; every other file of src/ may call it.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include <limits.h>

#include "executor/spi.h"
#include "utils/guc.h"
#if RS_GUARD_READ_ONLY_RESET
#include "utils/guc_tables.h"
#endif
#include "utils/memutils.h"

/*
 * recsys.memory_limit, in kB: the most one training run may allocate.  Any
 * role may set it, but not above recsys.max_memory_limit, which only a
 * superuser sets (rs_memory_limit_effective_kb() is what code obeys).
 */
int			rs_memory_limit_kb = 2 * 1024 * 1024;
int			rs_max_memory_limit_kb = 2 * 1024 * 1024;

/* recsys.max_threads: the most worker threads a training may ask for */
int			rs_max_threads = 8;

/* recsys.index_min_items: from this catalogue size recommend() asks a
 * recsys_hnsw index on recsys.item_factors for candidates (serve.c) */
int			rs_index_min_items = 1000000;

/*
 * The check of a limit that ordinary roles may lower but not raise above
 * the cap a superuser set: a SET (or set_config(), or a function's SET
 * clause) above the cap is an error.  Values from the configuration file,
 * the command line, ALTER SYSTEM, ALTER ROLE / ALTER DATABASE and the
 * client's connection options are accepted as they come, whatever order
 * they are read in (a cap set by the same means may come after the
 * limit); the limit in force is always the smaller of the two
 * (rs_memory_limit_effective_kb(), hnsw_cache_size_effective_kb()), so a
 * value from those sources can never lift the cap either.
 */
bool
rs_check_capped_limit(int newval, int cap, const char *name, const char *cap_name,
					  GucSource source)
{
	if (source < PGC_S_INTERACTIVE || source == PGC_S_TEST || newval <= cap)
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errdetail("%s cannot be set above %s, which is %s.",
						name, cap_name, GetConfigOptionByName(cap_name, NULL, false));
	GUC_check_errhint("Set a smaller value; only a superuser can raise %s.", cap_name);
	return false;
}

static bool
check_memory_limit(int *newval, void **extra, GucSource source)
{
	(void) extra;
	return rs_check_capped_limit(*newval, rs_max_memory_limit_kb, "recsys.memory_limit",
								 "recsys.max_memory_limit", source);
}

/* The memory limit in force, in kB: recsys.memory_limit within its cap. */
int
rs_memory_limit_effective_kb(void)
{
	return Min(rs_memory_limit_kb, rs_max_memory_limit_kb);
}

/*
 * Defines the settings above; the module entry (recsys.c) calls it first,
 * so that a limit set in the same place as its cap is checked against it.
 */
void
rs_runtime_init(void)
{
	/* the caps first, so that a limit set in the same place is checked against them */
	DefineCustomIntVariable("recsys.max_memory_limit",
							"Sets the largest recsys.memory_limit a role may use.",
							"Only superusers can change it.  recsys.memory_limit cannot be "
							"SET above it, and a larger recsys.memory_limit from elsewhere "
							"counts as this value.",
							&rs_max_memory_limit_kb,
							2 * 1024 * 1024,
							1024,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("recsys.max_threads",
							"Sets the most worker threads one training may use.",
							"Only superusers can change it.  A training that asks for more "
							"(option \"threads\") is refused; the default number of "
							"threads is capped by it.",
							&rs_max_threads,
							8,
							1,
							64,	/* the option "threads" goes no higher (core/options_parse.c) */
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
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
							check_memory_limit, NULL, NULL);
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
}

/*
 * Errors out if size more bytes in cxt (with its children) would exceed
 * recsys.memory_limit (within its cap).  rs_alloc() checks before it
 * allocates, so a run that is too large stops with a clear error instead
 * of being killed by the operating system; code that grows memory itself
 * (repalloc, the loader's hash tables and key text) calls this first with
 * the new size.  The bound reached: MemoryContextMemAllocated(cxt) never
 * exceeds the limit plus the last block of cxt's small allocations (a
 * request above 8 kB gets a block of exactly its size; the small ones of a
 * run are a few structures, in blocks of a few kB).
 */
void
rs_check_memory(MemoryContext cxt, Size size)
{
	rs_check_memory_of(cxt, size, "training", NULL);
}

/*
 * rs_check_memory() for other work than training: what names it in the
 * error ("the generator"), hint says how to need less (NULL: training's).
 */
void
rs_check_memory_of(MemoryContext cxt, Size size, const char *what, const char *hint)
{
	Size		used = MemoryContextMemAllocated(cxt, true);
	int			limit_kb = rs_memory_limit_effective_kb();
	Size		limit = (Size) limit_kb * 1024;

	if (size > limit || used > limit - size)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("%s needs more memory than recsys.memory_limit allows", what),
				 errdetail("%zu kB are in use and %zu kB more were requested; the limit is %d kB.",
						   used / 1024, size / 1024 + 1, limit_kb),
				 hint != NULL ? errhint("%s", hint) :
				 rs_memory_limit_kb < rs_max_memory_limit_kb ?
				 errhint("Raise recsys.memory_limit (at most recsys.max_memory_limit), or train on less data or fewer factors.") :
				 errhint("Train on less data or fewer factors, or ask a superuser to raise recsys.max_memory_limit.")));
}

/* Zeroed memory in cxt, which may exceed 1 GB, within the bound. */
void *
rs_alloc(MemoryContext cxt, Size size)
{
	rs_check_memory(cxt, size);
	return MemoryContextAllocExtended(cxt, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/*
 * Sets search_path until rs_unpin_search_path() (or the end of the
 * (sub)transaction on error); returns the GUC nest level to give it.
 */
int
rs_pin_search_path_to(const char *search_path)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", search_path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/* See runtime.h: the search_path of recsys' own statements. */
int
rs_pin_search_path(void)
{
	return rs_pin_search_path_to(RS_SEARCH_PATH);
}

void
rs_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

#if RS_GUARD_READ_ONLY_RESET
/*
 * The reset value of transaction_read_only is "on" while the outermost
 * read runs (read_only_outer: its GUC level, READ_ONLY_BLOCK for an SQL
 * body's block; 0 when none runs), so that a RESET in the query keeps the
 * transaction read-only; it is put back when that read ends, or when the
 * (sub)transaction it runs in is aborted.
 */
static int	read_only_outer = 0;
static SubTransactionId read_only_subid;
static bool read_only_saved_reset;
static struct config_bool *read_only_conf = NULL;

static struct config_bool *
read_only_setting(void)
{
	if (read_only_conf == NULL)
	{
		struct config_generic **vars = get_guc_variables();
		int			n = GetNumConfigOptions();

		for (int i = 0; i < n && read_only_conf == NULL; i++)
			if (vars[i]->vartype == PGC_BOOL &&
				strcmp(vars[i]->name, "transaction_read_only") == 0)
				read_only_conf = (struct config_bool *) vars[i];
		if (read_only_conf == NULL)
			elog(ERROR, "the setting transaction_read_only is missing");
	}
	return read_only_conf;
}

static void
read_only_reset_end(void)
{
	if (read_only_outer != 0)
	{
		read_only_conf->reset_val = read_only_saved_reset;
		read_only_outer = 0;
	}
}

static void
read_only_xact_callback(XactEvent event, void *arg)
{
	(void) event;
	(void) arg;
	read_only_reset_end();
}

static void
read_only_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB && mySubid <= read_only_subid)
		read_only_reset_end();
}

/* read_only_outer of a read that only its subtransaction's abort ends */
#define READ_ONLY_BLOCK (-1)

/* the reset value read-only from here, unless a read outside set it so */
static void
read_only_guard(int outer)
{
	static bool callbacks = false;
	struct config_bool *conf;

	if (read_only_outer != 0)
		return;
	conf = read_only_setting();
	if (!callbacks)
	{
		RegisterXactCallback(read_only_xact_callback, NULL);
		RegisterSubXactCallback(read_only_subxact_callback, NULL);
		callbacks = true;
	}
	read_only_saved_reset = conf->reset_val;
	conf->reset_val = true;
	read_only_subid = GetCurrentSubTransactionId();
	read_only_outer = outer;
}
#endif

/*
 * RS_READ_ONLY (runtime.h): a GUC level with transaction_read_only on (set
 * as SET LOCAL sets it: 16 and later refuse it as a function's SET clause
 * does).  In parallel mode nothing: no setting can change and nothing can
 * be written there anyway (level 0).
 */
int
rs_read_only_begin(void)
{
	int			level;

	if (IsInParallelMode())
		return 0;
	level = NewGUCNestLevel();
	(void) set_config_option("transaction_read_only", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
#if RS_GUARD_READ_ONLY_RESET
	read_only_guard(level);
#endif
	return level;
}

/*
 * The SQL bodies' read-only block (11_evaluation.sql): transaction_read_only
 * on for the rest of the block's subtransaction, which the body always
 * rolls back (and, before 16, its reset value too, put back by that
 * rollback).
 */
void
rs_read_only_block(void)
{
	(void) set_config_option("transaction_read_only", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
#if RS_GUARD_READ_ONLY_RESET
	read_only_guard(READ_ONLY_BLOCK);
#endif
}

void
rs_read_only_end(int level)
{
	bool		still_read_only = XactReadOnly;

	if (level == 0)
		return;
#if RS_GUARD_READ_ONLY_RESET
	if (level == read_only_outer)
		read_only_reset_end();
#endif
	AtEOXact_GUC(false, level);
	if (!still_read_only)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("a query recsys reads turned read-only mode off"),
				 errhint("recsys reads the queries it is given as if the transaction were read-only; leave transaction_read_only alone in them.")));
}

/*
 * Runs a prepared read-only query (a model's stored source) with the
 * transaction read-only, see RS_READ_ONLY in runtime.h.
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
 * transaction read-only while it is planned (see runtime.h); its rows are
 * then fetched inside RS_READ_ONLY too.
 */
Portal
rs_cursor_open_read_only(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	Portal		portal = NULL;

	RS_READ_ONLY(portal = SPI_cursor_open(NULL, plan, values, nulls, true));
	return portal;
}
