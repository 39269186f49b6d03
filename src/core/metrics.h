/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  The ranking metrics of one list, in plain C (metrics.c): precision,
 *	  recall, NDCG, average precision, reciprocal rank and hit at k, from
 *	  the ranks that hold a relevant item.  src/evaluate.c gives them their
 *	  SQL functions (recsys.ndcg_at_k() and the others) and evaluate()'s
 *	  per-user lists.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_METRICS_H
#define RECSYS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

/* The metrics of one list; the NULL ones are those of no relevant item. */
typedef struct RsListMetrics
{
	double		precision;
	double		recall;
	double		ndcg;
	double		ap;
	double		rr;
	double		hit;
	bool		no_relevant;	/* recall, ndcg, ap are NULL */
} RsListMetrics;

/*
 * The metrics from the ranks (ascending, each at most k) of the relevant
 * items found in the top k, and the number of distinct relevant items.
 */
extern void rs_list_metrics(const int32_t *hit_ranks, int n_hits, int64_t n_relevant,
							int32_t k, RsListMetrics *m);

#endif							/* RECSYS_METRICS_H */
