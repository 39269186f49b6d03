/*-------------------------------------------------------------------------
 *
 * knn_score.c
 *	  Scores of neighbourhood models (item_knn, user_knn) for serving.
 *	  Plain C; the formulas and the data they read are in knn.h.
 *
 * Each score has one implementation of its arithmetic (the inline helpers
 * below), used by the all-items and the one-item functions alike, and the
 * terms are added in the same order by both, so predict() and recommend()
 * agree to the bit.
 *
 *-------------------------------------------------------------------------
 */
#include "knn.h"

#include <math.h>
#include <string.h>

void
rs_knn_build_reverse(RsKnnModel *m, int64_t *rptr, int32_t *rnbr, float *rsim)
{
	int64_t		total = m->ptr[m->n_lists];

	memset(rptr, 0, sizeof(int64_t) * ((size_t) m->n_items + 1));
	for (int64_t k = 0; k < total; k++)
		rptr[m->nbr[k] + 1]++;
	for (int32_t j = 0; j < m->n_items; j++)
		rptr[j + 1] += rptr[j];
	/* i ascending: each reverse list comes out sorted */
	for (int32_t i = 0; i < m->n_lists; i++)
	{
		for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++)
		{
			int32_t		j = m->nbr[k];
			int64_t		dst = rptr[j]++;

			rnbr[dst] = i;
			rsim[dst] = m->sim[k];
		}
	}
	/* rptr[j] now holds the end of list j: shift back to the starts */
	for (int32_t j = m->n_items; j > 0; j--)
		rptr[j] = rptr[j - 1];
	rptr[0] = 0;
	m->rptr = rptr;
	m->rnbr = rnbr;
	m->rsim = rsim;
}

void
rs_knn_score_items(const RsKnnModel *m, const RsKnnUser *u, float *scores,
				   float *work)
{
	int32_t		ni = m->n_items;

	memset(scores, 0, sizeof(float) * (size_t) ni);
	if (!m->explicit_feedback)
	{
		for (int32_t t = 0; t < u->n; t++)
		{
			int32_t		j = u->items[t];

			for (int64_t k = m->rptr[j]; k < m->rptr[j + 1]; k++)
				scores[m->rnbr[k]] += m->rsim[k];
		}
		return;
	}

	memset(work, 0, sizeof(float) * (size_t) ni);
	for (int32_t t = 0; t < u->n; t++)
	{
		int32_t		j = u->items[t];
		float		dev = u->ratings[t] - rs_knn_baseline(m, u, j);

		for (int64_t k = m->rptr[j]; k < m->rptr[j + 1]; k++)
		{
			scores[m->rnbr[k]] += m->rsim[k] * dev;
			work[m->rnbr[k]] += fabsf(m->rsim[k]);
		}
	}
	for (int32_t i = 0; i < ni; i++)
		scores[i] = rs_knn_explicit_score(m, u, i, scores[i], work[i]);
}

float
rs_knn_predict_item(const RsKnnModel *m, const RsKnnUser *u, int32_t item)
{
	float		num = 0.0f;
	float		den = 0.0f;

	for (int32_t t = 0; t < u->n; t++)
	{
		int32_t		j = u->items[t];
		int64_t		len = m->rptr[j + 1] - m->rptr[j];
		int64_t		at = rs_knn_find_sorted(m->rnbr + m->rptr[j], len, item);
		float		s;

		if (at < 0)
			continue;
		s = m->rsim[m->rptr[j] + at];
		if (m->explicit_feedback)
		{
			num += s * (u->ratings[t] - rs_knn_baseline(m, u, j));
			den += fabsf(s);
		}
		else
			num += s;
	}
	return m->explicit_feedback ? rs_knn_explicit_score(m, u, item, num, den) : num;
}

void
rs_knn_score_users(const RsKnnModel *m, const RsKnnUser *u, int32_t n_nbrs,
				   const float *nbr_sim, const RsKnnUser *nbrs, float *scores,
				   float *work)
{
	int32_t		ni = m->n_items;

	memset(scores, 0, sizeof(float) * (size_t) ni);
	if (m->explicit_feedback)
		memset(work, 0, sizeof(float) * (size_t) ni);
	for (int32_t v = 0; v < n_nbrs; v++)
	{
		const RsKnnUser *nb = &nbrs[v];
		float		s = nbr_sim[v];

		for (int32_t t = 0; t < nb->n; t++)
		{
			int32_t		i = nb->items[t];

			if (m->explicit_feedback)
			{
				scores[i] += s * (nb->ratings[t] - rs_knn_baseline(m, nb, i));
				work[i] += fabsf(s);
			}
			else
				scores[i] += s;
		}
	}
	if (m->explicit_feedback)
		for (int32_t i = 0; i < ni; i++)
			scores[i] = rs_knn_explicit_score(m, u, i, scores[i], work[i]);
}

float
rs_knn_predict_user(const RsKnnModel *m, const RsKnnUser *u, int32_t n_nbrs,
					const float *nbr_sim, const RsKnnUser *nbrs, int32_t item)
{
	float		num = 0.0f;
	float		den = 0.0f;

	for (int32_t v = 0; v < n_nbrs; v++)
	{
		const RsKnnUser *nb = &nbrs[v];
		int64_t		at = rs_knn_find_sorted(nb->items, nb->n, item);
		float		s = nbr_sim[v];

		if (at < 0)
			continue;
		if (m->explicit_feedback)
		{
			num += s * (nb->ratings[at] - rs_knn_baseline(m, nb, item));
			den += fabsf(s);
		}
		else
			num += s;
	}
	return m->explicit_feedback ? rs_knn_explicit_score(m, u, item, num, den) : num;
}
