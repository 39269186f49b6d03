/*-------------------------------------------------------------------------
 *
 * runtime.h
 *	  The bottom of the extension's C code, included by every file outside
 *	  src/core: PostgreSQL's postgres.h, recsys' assertions, and what
 *	  runtime.c provides (settings, the bounded allocator, the pinned
 *	  search_path, running a caller's query read-only), and two helpers
 *	  of aggregates' support functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_RUNTIME_H
#define RECSYS_RUNTIME_H

#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"

#include "compat.h"

/*
 * Internal assertions.  PostgreSQL's own Assert() depends on how the server
 * was built (Debian's is built without them), so recsys has its own switch:
 * "make ASSERTS=1" turns these on, and the test suite builds that way.
 */
#ifdef RECSYS_ASSERT_CHECKING
#define RsAssert(cond) \
	do { \
		if (!(cond)) \
			rs_exceptional_condition(#cond, __FILE__, __LINE__); \
	} while (0)
#else
#define RsAssert(cond) ((void) true)
#endif

/*
 * An aggregate support function's memory context (the aggregate's); an
 * error naming fname when it is called outside an aggregate.
 */
static inline MemoryContext
rs_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return cxt;
}

/* Returns an aggregate's state, or NULL when it has none yet. */
#define RS_RETURN_STATE(st) \
	do { \
		if ((st) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_POINTER(st); \
	} while (0)

/* An aggregate's state passed as argument n, or NULL when there is none. */
static inline void *
rs_agg_state_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : PG_GETARG_POINTER(n);
}

/* buf reads the bytes of b where they are (b must outlive buf). */
static inline void
rs_bytea_reader(StringInfo buf, bytea *b)
{
	buf->data = VARDATA_ANY(b);
	buf->len = VARSIZE_ANY_EXHDR(b);
	buf->maxlen = buf->len;
	buf->cursor = 0;
}

/* runtime.c */
extern PGDLLIMPORT int rs_memory_limit_kb;
extern PGDLLIMPORT int rs_max_memory_limit_kb;
extern PGDLLIMPORT int rs_max_threads;
extern PGDLLIMPORT int rs_index_min_items;
extern void rs_runtime_init(void);
extern int	rs_memory_limit_effective_kb(void);
extern bool rs_check_capped_limit(int newval, int cap, const char *name,
								  const char *cap_name, GucSource source);
extern void rs_check_memory(MemoryContext cxt, Size size);
extern void rs_check_memory_of(MemoryContext cxt, Size size, const char *what,
							   const char *hint);
extern void *rs_alloc(MemoryContext cxt, Size size);

/*
 * Queries a caller supplies (training sources and attributes, exclusion,
 * time and group queries, a model's stored source read for fold-in, the
 * test sets, groups, users and lists of evaluation and audits) must be
 * SELECTs, but a SELECT may call a function that writes.  They run inside
 * RS_READ_ONLY(...), as if the transaction were read-only, so such a
 * write fails with 25006 (read_only_sql_transaction) instead of
 * happening: reading a source never changes the database.
 *
 * transaction_read_only is set at a GUC nest level of its own, the way a
 * function's SET clause sets it, and that level is undone afterwards:
 * whatever the query did to the setting (or any other) goes with it, so
 * the caller's transaction is read-write again exactly when it was.  A
 * query that turned read-only mode off again (RESET is not refused before
 * PostgreSQL 16) is an error, which rolls back what it wrote.  On an error
 * inside, the (sub)transaction's abort undoes the level.  The SQL
 * functions of the install script that run such queries get the same with
 * a block that recsys.begin_read_only() makes read-only and
 * recsys.end_read_only() always rolls back (11_evaluation.sql).
 */
#define RS_READ_ONLY(...) \
	do { \
		int			rs_read_only_level_ = rs_read_only_begin(); \
		__VA_ARGS__; \
		rs_read_only_end(rs_read_only_level_); \
	} while (0)

/* runtime.c: the two halves of RS_READ_ONLY */
extern int	rs_read_only_begin(void);
extern void rs_read_only_end(int level);
/* runtime.c: recsys.begin_read_only(), the SQL bodies' read-only block */
extern void rs_read_only_block(void);

/* runtime.c: SPI_execute_plan(plan, values, NULL, true, 0) inside RS_READ_ONLY */
struct _SPI_plan;
extern int	rs_execute_plan_read_only(struct _SPI_plan *plan, Datum *values);

/*
 * runtime.c: SPI_cursor_open(NULL, plan, values, nulls, true) inside
 * RS_READ_ONLY.  Opening a cursor plans its query, and planning evaluates
 * immutable functions of constants, which may call a function that
 * writes: a caller's query is opened read-only as well as read read-only.
 */
struct PortalData;
extern struct PortalData *rs_cursor_open_read_only(struct _SPI_plan *plan, Datum *values,
												   const char *nulls);

/*
 * runtime.c: the search_path recsys' own SQL runs with.  A C function that
 * runs a query of its caller keeps the caller's search_path for it, and
 * runs its own statements between rs_pin_search_path(), which returns the
 * GUC nest level to give back, and rs_unpin_search_path(level).  An error
 * in between unwinds the level with the (sub)transaction.
 */
#define RS_SEARCH_PATH "pg_catalog, recsys, pg_temp"
extern int	rs_pin_search_path_to(const char *search_path);
extern int	rs_pin_search_path(void);
extern void rs_unpin_search_path(int nestlevel);

#endif							/* RECSYS_RUNTIME_H */
