/*-------------------------------------------------------------------------
 *
 * knn.h
 *	  Neighbourhood models (item_knn, user_knn): the scoring functions
 *	  serving calls, over the neighbour lists training stored.
 *
 * Plain C, like core.h: no PostgreSQL headers, no allocation (the caller
 * passes every array), no threads, nothing that can throw.  Training is
 * rs_train_knn() in core.h; the model's layout in the catalog is
 * described in catalog.h.
 *
 * What serving holds.  An RsKnnModel points at arrays the caller owns:
 *	 - item_knn: the neighbour lists of every item (recsys.item_neighbors,
 *	   item_idx order) as CSR: ptr[n_lists + 1], nbr[] and sim[] with each
 *	   list best first; plus the reverse lists, built once per loaded
 *	   version by rs_knn_build_reverse() (for each item j, the items i that
 *	   have j among their neighbours, ascending i, with s_ij);
 *	 - user_knn: nothing but the sizes and the baseline: the lists are per
 *	   user, and the scored user's neighbours come with the call;
 *	 - explicit feedback: global_mean (recsys.model_versions.global_mean)
 *	   and item_bias[n_items] (recsys.item_factors.bias, in item_idx order).
 * A user is an RsKnnUser: the item_idx it interacted with in training
 * (recsys.user_factors.seen, ascending), the values (user_factors.ratings,
 * stored for explicit models only) and its bias (user_factors.bias).
 *
 * Scores.  N(i) is i's stored list (the K most similar items), I_u the
 * user's items, s_ij the stored similarity, b_ui = mu + b_u + b_i:
 *
 *	 item_knn, implicit:  score(u, i) = sum_{j in N(i) ∩ I_u} s_ij
 *	 item_knn, explicit:  r^(u, i) = b_ui + sum_{j in N(i) ∩ I_u} s_ij (r_uj - b_uj)
 *												/ sum_{j in N(i) ∩ I_u} |s_ij|
 *	 user_knn, implicit:  score(u, i) = sum_{v in N(u), i in I_v} s_uv
 *	 user_knn, explicit:  r^(u, i) = b_ui + sum_{v in N(u), i in I_v} s_uv (r_vi - b_vi)
 *												/ sum_{v ...} |s_uv|
 *
 * So "the k nearest neighbours the user rated" are those of the K stored
 * ones (option "neighbors") the user rated: to predict from fewer, train
 * with a smaller K.  No neighbour rated: the baseline b_ui (explicit) or 0
 * (implicit).  An item without neighbours (e.g. no interactions and no
 * attributes) therefore scores b_ui or 0.  The sums run in a fixed order
 * (the user's items ascending, then the reverse list; the neighbours in
 * list order), so predict and score give the same float for an item.
 *
 * Seen items are not excluded here; serving's re-ranking does that.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KNN_H
#define RECSYS_KNN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RsKnnModel
{
	bool		user_based;		/* user_knn */
	bool		explicit_feedback;	/* options "feedback": "explicit" */
	int32_t		n_items;
	int32_t		n_lists;		/* item_knn: n_items; user_knn: unused */
	const int64_t *ptr;			/* item_knn: n_lists + 1 offsets */
	const int32_t *nbr;			/* neighbour item_idx, best first */
	const float *sim;			/* their similarities */
	double		global_mean;	/* explicit: mu */
	const float *item_bias;		/* explicit: b_i, n_items (NULL: all 0) */
	/* item_knn: set by rs_knn_build_reverse() */
	const int64_t *rptr;		/* n_items + 1 offsets */
	const int32_t *rnbr;		/* items i listing j, ascending */
	const float *rsim;			/* s_ij */
} RsKnnModel;

typedef struct RsKnnUser
{
	int32_t		n;				/* interactions in training */
	const int32_t *items;		/* their item_idx, ascending */
	const float *ratings;		/* their values; explicit models only */
	float		bias;			/* explicit: b_u */
} RsKnnUser;

/* knn_score.c */

/*
 * Builds the reverse lists of an item_knn model into caller-provided
 * arrays: rptr[n_items + 1], rnbr[ptr[n_lists]], rsim[ptr[n_lists]]; and
 * points m at them.  O(n_items + number of neighbours).
 */
extern void rs_knn_build_reverse(RsKnnModel *m, int64_t *rptr, int32_t *rnbr,
								 float *rsim);

/*
 * item_knn: scores[i] for every item 0..n_items-1 (formulas above).  work
 * is n_items floats of scratch (explicit models; may be NULL otherwise).
 * Cost: sum over the user's items of their reverse list lengths, plus
 * n_items.
 */
extern void rs_knn_score_items(const RsKnnModel *m, const RsKnnUser *u,
							   float *scores, float *work);

/* item_knn: the score of one item, equal to rs_knn_score_items()'s. */
extern float rs_knn_predict_item(const RsKnnModel *m, const RsKnnUser *u,
								 int32_t item);

/*
 * user_knn: scores[i] for every item, for user u whose stored neighbours
 * are nbrs[0..n_nbrs) (recsys.user_neighbors, best first: their rows of
 * recsys.user_factors) with similarities nbr_sim[].  work: n_items floats
 * (explicit models; may be NULL otherwise).
 */
extern void rs_knn_score_users(const RsKnnModel *m, const RsKnnUser *u,
							   int32_t n_nbrs, const float *nbr_sim,
							   const RsKnnUser *nbrs, float *scores,
							   float *work);

/* user_knn: the score of one item, equal to rs_knn_score_users()'s. */
extern float rs_knn_predict_user(const RsKnnModel *m, const RsKnnUser *u,
								 int32_t n_nbrs, const float *nbr_sim,
								 const RsKnnUser *nbrs, int32_t item);

/*
 * The arithmetic every neighbourhood score is built from, shared by
 * knn_score.c (serving) and explain.c (the same score taken apart), so the
 * two agree to the bit.
 */
static inline float
rs_knn_item_bias(const RsKnnModel *m, int32_t i)
{
	return m->item_bias ? m->item_bias[i] : 0.0f;
}

/* the baseline b_ui = mu + b_u + b_i */
static inline float
rs_knn_baseline(const RsKnnModel *m, const RsKnnUser *u, int32_t i)
{
	return (float) m->global_mean + u->bias + rs_knn_item_bias(m, i);
}

/* b_ui + num / den, or the baseline when no neighbour counted */
static inline float
rs_knn_explicit_score(const RsKnnModel *m, const RsKnnUser *u, int32_t i,
					  float num, float den)
{
	float		b = rs_knn_baseline(m, u, i);

	return den > 0.0f ? b + num / den : b;
}

/* position of x in the ascending a[0..n), or -1 */
static inline int64_t
rs_knn_find_sorted(const int32_t *a, int64_t n, int32_t x)
{
	int64_t		lo = 0;
	int64_t		hi = n;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && a[lo] == x ? lo : -1;
}

#endif							/* RECSYS_KNN_H */
