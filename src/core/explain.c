/*-------------------------------------------------------------------------
 *
 * explain.c
 *	  A score taken apart into the contributions of the user's items (or
 *	  neighbours): the arithmetic of recsys.explain().  Plain C; the
 *	  formulas are in explain.h.
 *
 * The neighbourhood terms are computed exactly as knn_score.c computes
 * the score they add up to (the same float products, the same baseline),
 * so they sum to the served score up to the rounding of the sum itself.
 * The factor terms come from one Cholesky solve in double precision.
 *
 *-------------------------------------------------------------------------
 */
#include "explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"

static inline void
knn_base(const RsKnnModel *m, const RsKnnUser *u, int32_t i, RsExplainBase *base)
{
	memset(base, 0, sizeof(*base));
	if (!m->explicit_feedback)
		return;
	base->global_mean = (float) m->global_mean;
	base->user_bias = u->bias;
	base->item_bias = rs_knn_item_bias(m, i);
}

/* explicit terms s * dev share the denominator sum |s| */
static void
divide_by(RsContribution *out, int32_t n, float den)
{
	for (int32_t t = 0; t < n; t++)
		out[t].value = den > 0.0f ? out[t].value / den : 0.0;
}

/*
 * One contributor's term: s for implicit models; s * dev for explicit ones
 * (dev: the contributor's rating less its baseline), whose terms share the
 * denominator sum |s| (divide_by()).
 */
static inline void
add_term(const RsKnnModel *m, RsContribution *out, int32_t *n, float *den,
		 int32_t who, float s, float dev)
{
	out[*n].who = who;
	if (m->explicit_feedback)
	{
		out[*n].value = s * dev;
		*den += fabsf(s);
	}
	else
		out[*n].value = s;
	(*n)++;
}

int32_t
rs_explain_item_knn(const RsKnnModel *m, const RsKnnUser *u, int32_t item,
					RsExplainBase *base, RsContribution *out)
{
	int32_t		n = 0;
	float		den = 0.0f;

	knn_base(m, u, item, base);
	for (int32_t t = 0; t < u->n; t++)
	{
		int32_t		j = u->items[t];
		int64_t		len = m->rptr[j + 1] - m->rptr[j];
		int64_t		at = rs_knn_find_sorted(m->rnbr + m->rptr[j], len, item);
		float		s;

		if (at < 0)
			continue;
		s = m->rsim[m->rptr[j] + at];
		add_term(m, out, &n, &den, j, s,
				 m->explicit_feedback ? u->ratings[t] - rs_knn_baseline(m, u, j) : 0.0f);
	}
	if (m->explicit_feedback)
		divide_by(out, n, den);
	return n;
}

int32_t
rs_explain_user_knn(const RsKnnModel *m, const RsKnnUser *u, int32_t n_nbrs,
					const float *nbr_sim, const RsKnnUser *nbrs, int32_t item,
					RsExplainBase *base, RsContribution *out)
{
	int32_t		n = 0;
	float		den = 0.0f;

	knn_base(m, u, item, base);
	for (int32_t v = 0; v < n_nbrs; v++)
	{
		const RsKnnUser *nb = &nbrs[v];
		int64_t		at = rs_knn_find_sorted(nb->items, nb->n, item);
		float		s = nbr_sim[v];

		if (at < 0)
			continue;
		add_term(m, out, &n, &den, v, s,
				 m->explicit_feedback ? nb->ratings[at] - rs_knn_baseline(m, nb, item) : 0.0f);
	}
	if (m->explicit_feedback)
		divide_by(out, n, den);
	return n;
}

bool
rs_explain_factors(const RsFactorExplain *f, const int32_t *idx,
				   const float *values, const float *weights, int32_t n,
				   int32_t item, double *work, RsExplainBase *base,
				   RsContribution *out)
{
	double		wsum = 0.0;

	int			k = f->k;
	int			d = f->explicit_feedback ? k + 1 : k;	/* [q; 1] for explicit */
	double	   *a = work;		/* d x d */
	double	   *z = work + (size_t) d * d;	/* d */
	const float *yi = f->factors + (size_t) item * k;

	memset(base, 0, sizeof(*base));
	for (int32_t r = 0; r < n; r++)
		wsum += weights ? weights[r] : 1.0;
	memset(a, 0, sizeof(double) * (size_t) d * d);
	if (!f->explicit_feedback)
	{
		/* Y^T C^u Y + lambda I = Y^T Y + sum (c_j - 1) y_j y_j^T + lambda I */
		for (int p = 0; p < k * k; p++)
			a[p] = f->gram[p];
		for (int p = 0; p < k; p++)
			a[p * k + p] += f->lambda;
		for (int32_t r = 0; r < n; r++)
		{
			const float *y = f->factors + (size_t) idx[r] * k;
			/* with time decay c - 1 = alpha r w (serve_foldin.c) */
			double		w = f->alpha * (values ? values[r] : 1.0) *
				(weights ? weights[r] : 1.0);

			for (int p = 0; p < k; p++)
				for (int q = 0; q < k; q++)
					a[p * k + q] += w * y[p] * y[q];
		}
	}
	else
	{
		for (int32_t r = 0; r < n; r++)
		{
			const float *q = f->factors + (size_t) idx[r] * k;
			double		w = weights ? weights[r] : 1.0;

			for (int p = 0; p < d; p++)
			{
				double		ap = p < k ? q[p] : 1.0;

				for (int s = 0; s < d; s++)
					a[p * d + s] += w * ap * (s < k ? q[s] : 1.0);
			}
		}
		for (int p = 0; p < k; p++)
			a[p * d + p] += f->lambda * wsum;
		a[k * d + k] += f->lambda_b * wsum;
		if (f->no_biases)
		{
			/* no user bias: the k x k system (its row: the identity's) */
			for (int p = 0; p < k; p++)
				a[p * d + k] = a[k * d + p] = 0.0;
			a[k * d + k] = 1.0;
		}
		base->global_mean = f->global_mean;
		base->item_bias = f->item_bias ? f->item_bias[item] : 0.0;
	}
	for (int p = 0; p < d; p++)
		z[p] = p < k ? yi[p] : (f->no_biases ? 0.0 : 1.0);
	if (n == 0 || !rs_cholesky_solve_d(a, z, d))
		return false;

	/* s_ij = z . y_j (W is symmetric); the term is s_ij times c_uj or t_uj */
	for (int32_t r = 0; r < n; r++)
	{
		const float *y = f->factors + (size_t) idx[r] * k;
		int32_t		j = idx[r];
		double		s = f->explicit_feedback ? z[k] : 0.0;
		double		weight;

		for (int p = 0; p < k; p++)
			s += z[p] * y[p];
		if (f->explicit_feedback)
			weight = values[r] - f->global_mean - (f->item_bias ? f->item_bias[j] : 0.0);
		else
			weight = 1.0 + f->alpha * (values ? values[r] : 1.0);
		out[r].who = j;
		/* with time decay: w t_uj, or c p = w (1 + alpha r) */
		out[r].value = s * weight * (weights ? weights[r] : 1.0);
	}
	return true;
}

static int
cmp_contribution(const void *a, const void *b)
{
	const RsContribution *x = a;
	const RsContribution *y = b;
	double		ax = fabs(x->value);
	double		ay = fabs(y->value);

	if (ax != ay)
		return ax < ay ? 1 : -1;
	return (x->who > y->who) - (x->who < y->who);
}

void
rs_explain_rank(RsContribution *c, int32_t n)
{
	if (n > 1)
		qsort(c, (size_t) n, sizeof(RsContribution), cmp_contribution);
}
