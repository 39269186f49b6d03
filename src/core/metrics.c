/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  The ranking metrics of one list (see metrics.h).  Plain C.
 *
 * The sums run in rank order with the same operations SQL's sum() of
 * ln(2) / ln(rank + 1) performs, so a metric is the same double that the
 * SQL formulation of 0.2.0 gave.
 *
 *-------------------------------------------------------------------------
 */
#include "metrics.h"

#include <math.h>

/* the discount of a hit at rank r: 1 / log2(r + 1) */
static inline double
rank_discount(int32_t rank)
{
	return log(2.0) / log((double) rank + 1.0);
}

/* see metrics.h */
void
rs_list_metrics(const int32_t *hit_ranks, int n_hits, int64_t n_relevant, int32_t k,
				RsListMetrics *m)
{
	double		dcg = 0.0;
	double		idcg = 0.0;
	double		sum_precision = 0.0;
	int64_t		ideal = n_relevant < (int64_t) k ? n_relevant : (int64_t) k;

	for (int i = 0; i < n_hits; i++)
	{
		dcg += rank_discount(hit_ranks[i]);
		/* the precision at the i+1-th hit */
		sum_precision += (double) (i + 1) / (double) hit_ranks[i];
	}
	for (int64_t i = 1; i <= ideal; i++)
		idcg += rank_discount((int32_t) i);

	m->precision = (double) n_hits / (double) k;
	m->no_relevant = (n_relevant == 0);
	m->recall = m->no_relevant ? 0.0 : (double) n_hits / (double) n_relevant;
	m->ndcg = m->no_relevant ? 0.0 : dcg / idcg;
	m->ap = m->no_relevant ? 0.0 : sum_precision / (double) ideal;
	m->rr = n_hits > 0 ? 1.0 / (double) hit_ranks[0] : 0.0;
	m->hit = n_hits > 0 ? 1.0 : 0.0;
}

