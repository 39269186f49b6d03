/*-------------------------------------------------------------------------
 *
 * recsys.h
 *	  Declarations shared by every part of the recsys extension.
 *
 * Each group of externs is headed by the file that defines it, so the
 * file behind a symbol is never more than one search away.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_H
#define RECSYS_H

#include "postgres.h"

/*
 * Internal assertions.  PostgreSQL's own Assert() depends on how the server
 * was built (Debian's is built without them), so recsys has its own switch:
 * "make ASSERTS=1" turns these on, and the test suite builds that way.
 */
#ifdef RECSYS_ASSERT_CHECKING
#define RsAssert(cond) \
	do { \
		if (!(cond)) \
			ExceptionalCondition(#cond, "RsAssert", __FILE__, __LINE__); \
	} while (0)
#else
#define RsAssert(cond) ((void) true)
#endif

/* recsys.c */
extern PGDLLIMPORT int rs_memory_limit_kb;
extern void _PG_init(void);
extern void rs_check_memory(MemoryContext cxt, Size size);
extern void *rs_alloc(MemoryContext cxt, Size size);

/* train.c */
extern void rs_train_init(void);

/* hnsw.c */
extern void rs_hnsw_init(void);

#endif							/* RECSYS_H */
