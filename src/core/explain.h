/*-------------------------------------------------------------------------
 *
 * explain.h
 *	  Why an item is recommended to a user: the score taken apart into one
 *	  contribution per item of the user (item_knn, ials, als, svd) or per
 *	  neighbour (user_knn), plus the baseline terms of explicit models.
 *
 * Plain C like knn.h: no PostgreSQL headers, no allocation (the caller
 * passes every array), nothing that can throw.
 *
 * Neighbourhood models (formulas in knn.h).  The contributions are the
 * terms of the sum serving computes, in the same float arithmetic:
 *	 item_knn implicit:  c_j = s_ij for j in N(i) ∩ I_u
 *	 item_knn explicit:  c_j = s_ij (r_uj - b_uj) / sum_{j'} |s_ij'|
 *	 user_knn implicit:  c_v = s_uv for the neighbours v with i in I_v
 *	 user_knn explicit:  c_v = s_uv (r_vi - b_vi) / sum_{v'} |s_uv'|
 * and explicit models add the baseline b_ui = mu + b_u + b_i as three
 * terms (global mean, user bias, item bias).
 *
 * Implicit factors (ials), Hu, Koren & Volinsky (2008) §5.  The user's
 * vector solves x_u = W^u Y^T C^u p(u) with W^u = (Y^T C^u Y + lambda I)^-1,
 * so the score is
 *	 y_i^T x_u = sum_{j in I_u} s^u_ij c_uj,  s^u_ij = y_i^T W^u y_j,
 * c_uj = 1 + alpha r_uj.  One solve z = W^u y_i gives every s^u_ij = z.y_j.
 *
 * Explicit factors (als, svd).  The user step of als is the ridge regression
 * of the deviations t_uj = r_uj - mu - b_j on [q_j; 1] (the user bias is
 * the last coordinate), with weighted lambda:
 *	 [p_u; b_u] = A^-1 sum_j [q_j; 1] t_uj,
 *	 A = sum_{j in I_u} [q_j; 1][q_j; 1]^T + n_u diag(lambda, .., lambda_b)
 * so  r^_ui = mu + b_i + [q_i; 1]^T [p_u; b_u]
 *			 = mu + b_i + sum_j t_uj [q_i; 1]^T A^-1 [q_j; 1]:
 * the item terms carry the user's bias and factors; the global mean and the
 * item bias are two more terms.  A model without biases ("biases":
 * false) has no b_u, b_j: the same with [q_j] for [q_j; 1] and t_uj =
 * r_uj - mu (mu = 0 with "global_mean": false), and no item bias term.
 *
 * Both factor forms are exact for the vector they define, which is the one
 * fold-in serves for a new user; a trained user's stored vector is the
 * result of the last training step and differs from it by what training
 * left unconverged (the caller reports the difference).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_EXPLAIN_H
#define RECSYS_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "knn.h"

/* One term of a score: who contributes (an item_idx, or for user_knn the
 * position in the neighbour list) and how much. */
typedef struct RsContribution
{
	int32_t		who;
	double		value;
} RsContribution;

/* The baseline terms of explicit models (all 0 for implicit ones). */
typedef struct RsExplainBase
{
	double		global_mean;
	double		user_bias;
	double		item_bias;
} RsExplainBase;

/* A factor model as the explanation reads it. */
typedef struct RsFactorExplain
{
	int			k;				/* factors */
	const float *factors;		/* n_items x k */
	bool		explicit_feedback;	/* als, svd: the ridge form */
	/* implicit (ials) */
	const float *gram;			/* Y^T Y, k x k */
	double		alpha;
	double		lambda;			/* regularization */
	/* explicit (als, svd) */
	double		lambda_b;		/* bias_regularization */
	double		global_mean;
	const float *item_bias;		/* n_items, NULL: all 0 */
	bool		no_biases;		/* trained with "biases": false */
} RsFactorExplain;

/*
 * item_knn: the terms of rs_knn_predict_item(m, u, item).  out has room
 * for u->n; returns how many were written (items of the user that are
 * among item's neighbours), in the user's order.
 */
extern int32_t rs_explain_item_knn(const RsKnnModel *m, const RsKnnUser *u,
								   int32_t item, RsExplainBase *base,
								   RsContribution *out);

/*
 * user_knn: the terms of rs_knn_predict_user(...); out has room for
 * n_nbrs and gets the positions of the neighbours that have the item.
 */
extern int32_t rs_explain_user_knn(const RsKnnModel *m, const RsKnnUser *u,
								   int32_t n_nbrs, const float *nbr_sim,
								   const RsKnnUser *nbrs, int32_t item,
								   RsExplainBase *base, RsContribution *out);

/*
 * ials, als, svd: the terms of item's score for a user given by n items
 * idx[] and their values[] (ratings; implicit models NULL: 1 each), and
 * with time decay their weights[] (NULL: 1 each; the weighted systems of
 * fold-in, see serve_foldin.c).  work
 * has room for (k + 1) * (k + 2) doubles; out for n.  Returns false if the
 * user's system is not positive definite (nothing written).
 */
extern bool rs_explain_factors(const RsFactorExplain *f, const int32_t *idx,
							   const float *values, const float *weights,
							   int32_t n, int32_t item,
							   double *work, RsExplainBase *base,
							   RsContribution *out);

/*
 * Sorts contributions by magnitude, largest first (ties: smaller who
 * first), the order explain() ranks them in.
 */
extern void rs_explain_rank(RsContribution *c, int32_t n);

#endif							/* RECSYS_EXPLAIN_H */
