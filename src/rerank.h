/*-------------------------------------------------------------------------
 *
 * rerank.h
 *	  Re-ranking constraints applied after scoring: freshness, diversity
 *	  (similarity threshold, MMR) and exposure fairness across item groups
 *	  (a cap per group, a minimum share for a protected group).
 *
 * recommend(), recommend_all(), recommend_for_items() and the standalone
 * rerank() all go through rs_rerank_select(), so a constraint means the
 * same thing wherever it is used.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_RERANK_H
#define RECSYS_RERANK_H

#include "runtime.h"

#include "fmgr.h"

/* The constraints, validated (see rs_rerank_spec_check). */
typedef struct RsRerankSpec
{
	int			k;
	int			pool;			/* candidates considered first, >= k */
	double		half_life;		/* seconds; <= 0: no freshness */
	bool		diversity;		/* max_similarity given */
	double		max_similarity; /* cosine, in [-1, 1] */
	bool		mmr;			/* mmr_lambda given */
	double		mmr_lambda;		/* in [0, 1]: 1 = relevance only */
	int			max_per_group;	/* 0: no cap */
	double		min_share;		/* 0: none; protected share in every prefix */
} RsRerankSpec;

/* The candidates, best-ranked first, with what the constraints look at. */
typedef struct RsCandidates
{
	int			n;
	const double *score;		/* n scores, non-increasing */
	const int32 *group;			/* n group ids (-1: none), or NULL */
	const bool *protected_;		/* n flags, or NULL */
	const float *const *vec;	/* n vectors of dim floats, or NULL */
	int			dim;
} RsCandidates;

/* rerank.c */
extern void rs_rerank_spec_init(RsRerankSpec *spec, int k);
extern void rs_rerank_spec_check(RsRerankSpec *spec, bool has_vectors,
								 bool has_groups);
extern bool rs_rerank_needs_greedy(const RsRerankSpec *spec);
extern int	rs_rerank_select(const RsRerankSpec *spec, const RsCandidates *c,
							 bool strict, int *picked, bool *stuck);
extern double rs_fresh_factor(double age_seconds, double half_life);
extern double rs_interval_seconds(Datum interval);
extern void rs_check_array_arg(FunctionCallInfo fcinfo, int arg, const char *name);

#endif							/* RECSYS_RERANK_H */
