/*-------------------------------------------------------------------------
 *
 * stats_agg.h
 *	  Values grouped by a text key, with per-group moments and (for rank
 *	  tests) the values themselves: the state of the statistics aggregates
 *	  (stats_agg.c), also used by the fairness audits (audit.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_STATS_AGG_H
#define RECSYS_STATS_AGG_H

#include "runtime.h"

#include "utils/hsearch.h"

#include "core/stats.h"

typedef struct RsGroupStats
{
	MemoryContext cxt;			/* everything below */
	HTAB	   *index;			/* group key -> index */
	int32		ngroups;
	int32		gcap;
	char	  **keys;			/* ngroups keys (text form) */
	RsMoments  *mom;			/* ngroups summaries */
	bool		keep_values;
	int64		nvalues;
	int64		vcap;
	RsGroupValue *values;		/* keep_values: every value with its group */
	int64		n;				/* values added */
} RsGroupStats;

/* stats_agg.c */
extern HTAB *rs_string_hash_create(MemoryContext cxt, const char *name,
								   Size entrysize, long nelem);
extern RsGroupStats *rs_group_stats_new(MemoryContext cxt, bool keep_values);
extern int32 rs_group_stats_group(RsGroupStats *st, const char *key);
extern void rs_group_stats_add(RsGroupStats *st, int32 g, double x);
extern int32 *rs_group_stats_order(const RsGroupStats *st);
extern void rs_group_stats_kruskal(RsGroupStats *st, RsTestResult *out);

#endif							/* RECSYS_STATS_AGG_H */
