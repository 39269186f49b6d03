/*-------------------------------------------------------------------------
 *
 * score.h
 *	  Serving's arithmetic, in plain C: the bounded heap that keeps the k
 *	  best-ranked items, the selection of a user's top k from a row of
 *	  scores, sorted lists of item indexes, and factor scoring of every
 *	  item (one BLAS product through linalg, plus the baselines).
 *
 * No PostgreSQL headers, like the training cores: it may call linalg and
 * the C library only.  Serving (src/serve*.c) owns the models and hands
 * their arrays in.  Nothing here allocates, so the selection also runs on
 * recommend_all's worker threads.
 *
 * Ranking: a higher score first, then the lower item index (the item's
 * position in the model, which is ascending key order).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_SCORE_H
#define RECSYS_SCORE_H

#include <stdbool.h>
#include <stdint.h>

/* an item and its score */
typedef struct RsScored
{
	double		score;
	int32_t		idx;
} RsScored;

/*
 * A bounded heap keeping the k best-ranked items seen so far; its root is
 * the worst of them, so most candidates are rejected with one comparison.
 * h has room for k entries and belongs to the caller.
 */
typedef struct RsTopK
{
	RsScored   *h;
	int			n;
	int			k;
} RsTopK;

/* Offers an item to the heap. */
extern void rs_topk_offer(RsTopK *t, double score, int32_t idx);

/* Sorts the heap's content best first (the heap is then no heap). */
extern void rs_topk_sort(RsTopK *t);

/*
 * Offers every item of scores[0, n) not excluded to the heap: excluded is
 * a sorted list of item indexes (may be NULL, may hold duplicates),
 * blocked a per-item flag array (may be NULL).
 */
extern void rs_select_top(RsTopK *t, const float *scores, int32_t n,
						  const int32_t *excluded, int32_t n_excluded,
						  const bool *blocked);

/* qsort/bsearch order of int32_t */
extern int	rs_cmp_int32(const void *a, const void *b);

/* Sorts and deduplicates a list of item indexes; returns the new length. */
extern int32_t rs_sort_unique(int32_t *idx, int32_t n);

/* What scoring reads of a model: arrays owned by the caller. */
typedef struct RsFactorScorer
{
	int32_t		n_items;
	int			k;				/* factors per item (0: none) */
	const float *factors;		/* n_items x k, row-major, or NULL */
	const float *bias;			/* n_items item biases, or NULL */
	const int32_t *degree;		/* n_items training interactions per item */
	double		global_mean;
	bool		explicit_feedback;	/* scores are predicted ratings */
	bool		popularity;		/* a popularity model: bias (or degree) is the score */
} RsFactorScorer;

/*
 * Item i's score for a user: known says whether the user is in the model
 * (ubias, uf their bias and factors; uf NULL for none).  Popularity models
 * score by the item's bias, or its degree without one.  A known user of a
 * factor model gets mu + b_u + b_i + p_u.q_i (explicit) or b_i + p_u.q_i;
 * anyone else the baseline mu (+ b_u if known) + b_i (explicit) or the
 * item's degree (implicit).
 */
extern double rs_score_item(const RsFactorScorer *s, bool known, float ubias,
							const float *uf, int32_t i);

/*
 * Adds each item's baseline to a row of n_items dot products: mu + b_u +
 * b_i for explicit models, b_i for implicit ones with biases, nothing
 * otherwise.
 */
extern void rs_add_baselines(const RsFactorScorer *s, float ubias, float *row);

/*
 * Every item's score for one user with factors uf and bias ubias: one
 * matrix-vector product on one BLAS thread (concurrent sessions are the
 * parallelism of serving), then the baselines.
 */
extern void rs_score_user(const RsFactorScorer *s, float ubias,
						  const float *uf, float *scores);

/*
 * Every item's score for n users at once: ublock holds their factors
 * (n x k), ubias their biases; scores gets n rows of n_items.  One
 * matrix product on the given number of BLAS threads.
 */
extern void rs_score_users(const RsFactorScorer *s, int n, const float *ublock,
						   const float *ubias, int threads, float *scores);

#endif							/* RECSYS_SCORE_H */
