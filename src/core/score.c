/*-------------------------------------------------------------------------
 *
 * score.c
 *	  Serving's arithmetic in plain C: the top-k heap, the selection of a
 *	  user's best items from a row of scores, sorted item lists, and factor
 *	  scoring through linalg (see score.h).
 *
 * May call linalg, distance and the C library, nothing of PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#include "score.h"

#include "distance.h"
#include "linalg.h"

#include <stddef.h>
#include <stdlib.h>

/* a ranks before b: higher score, then lower position */
static inline bool
ranks_before(const RsScored *a, const RsScored *b)
{
	return a->score > b->score || (a->score == b->score && a->idx < b->idx);
}

static inline void
topk_sift_down(RsTopK *t, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			w = i;
		RsScored	tmp;

		if (l < t->n && ranks_before(&t->h[w], &t->h[l]))
			w = l;
		if (r < t->n && ranks_before(&t->h[w], &t->h[r]))
			w = r;
		if (w == i)
			return;
		tmp = t->h[i];
		t->h[i] = t->h[w];
		t->h[w] = tmp;
		i = w;
	}
}

static inline void
topk_offer(RsTopK *t, double score, int32_t idx)
{
	RsScored	c = {score, idx};

	if (t->n < t->k)
	{
		int			i = t->n++;

		/* sift up: the worst-ranked item stays at the root */
		t->h[i] = c;
		while (i > 0)
		{
			int			p = (i - 1) / 2;
			RsScored	tmp;

			if (!ranks_before(&t->h[p], &t->h[i]))
				break;
			tmp = t->h[p];
			t->h[p] = t->h[i];
			t->h[i] = tmp;
			i = p;
		}
	}
	else if (ranks_before(&c, &t->h[0]))
	{
		t->h[0] = c;
		topk_sift_down(t, 0);
	}
}

void
rs_topk_offer(RsTopK *t, double score, int32_t idx)
{
	topk_offer(t, score, idx);
}

static int
cmp_ranked(const void *a, const void *b)
{
	return ranks_before((const RsScored *) a, (const RsScored *) b) ? -1 :
		ranks_before((const RsScored *) b, (const RsScored *) a) ? 1 : 0;
}

void
rs_topk_sort(RsTopK *t)
{
	qsort(t->h, t->n, sizeof(RsScored), cmp_ranked);
}

/*
 * Offers items [begin, end) not blocked to the heap.  Once the heap is
 * full, an item scoring below its root cannot enter, which one comparison
 * against a local copy of the root's score decides: this loop runs for
 * every item of every user, so it must stay this tight.
 */
static void
offer_range(RsTopK *t, const float *scores, int32_t begin, int32_t end,
			const bool *blocked)
{
	int32_t		i = begin;
	double		worst;

	for (; i < end && t->n < t->k; i++)
		if (!blocked || !blocked[i])
			topk_offer(t, scores[i], i);
	if (i == end)
		return;
	worst = t->h[0].score;
	for (; i < end; i++)
	{
		if (scores[i] < worst)
			continue;
		if (blocked && blocked[i])
			continue;
		topk_offer(t, scores[i], i);
		worst = t->h[0].score;
	}
}

/*
 * The runs between two excluded items are scanned without looking at the
 * list.
 */
void
rs_select_top(RsTopK *t, const float *scores, int32_t n, const int32_t *excluded,
			  int32_t n_excluded, const bool *blocked)
{
	int32_t		begin = 0;

	for (int32_t x = 0; x < n_excluded; x++)
	{
		int32_t		end = excluded[x] < n ? excluded[x] : n;

		if (end > begin)
			offer_range(t, scores, begin, end, blocked);
		if (excluded[x] + 1 > begin)
			begin = excluded[x] + 1;
	}
	if (n > begin)
		offer_range(t, scores, begin, n, blocked);
}

int
rs_cmp_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

int32_t
rs_sort_unique(int32_t *idx, int32_t n)
{
	int32_t		w = 0;

	qsort(idx, n, sizeof(int32_t), rs_cmp_int32);
	for (int32_t r = 0; r < n; r++)
		if (w == 0 || idx[r] != idx[w - 1])
			idx[w++] = idx[r];
	return w;
}

/* (ials, bpr: the loop is skipped) */
void
rs_add_baselines(const RsFactorScorer *s, float ubias, float *row)
{
	float		base = s->explicit_feedback ? (float) (s->global_mean + ubias) : 0.0f;

	if (s->bias)
	{
		for (int32_t i = 0; i < s->n_items; i++)
			row[i] += base + s->bias[i];
	}
	else if (base != 0.0f)
	{
		for (int32_t i = 0; i < s->n_items; i++)
			row[i] += base;
	}
}

/* several times faster than item-by-item dot products */
void
rs_score_user(const RsFactorScorer *s, float ubias, const float *uf,
			  float *scores)
{
	int			blas_threads = rs_blas_get_threads();

	if (blas_threads != 1)
		rs_blas_set_threads(1);
	rs_gemv(s->factors, s->n_items, s->k, uf, scores);
	if (blas_threads != 1)
		rs_blas_set_threads(blas_threads);
	rs_add_baselines(s, ubias, scores);
}

void
rs_score_users(const RsFactorScorer *s, int n, const float *ublock,
			   const float *ubias, int threads, float *scores)
{
	int			blas_threads = rs_blas_get_threads();

	rs_blas_set_threads(threads);
	rs_gemm_nt(ublock, n, s->factors, s->n_items, s->k, scores);
	rs_blas_set_threads(blas_threads);
	for (int b = 0; b < n; b++)
		rs_add_baselines(s, ubias[b], scores + (size_t) b * s->n_items);
}

double
rs_score_item(const RsFactorScorer *s, bool known, float ubias, const float *uf, int32_t i)
{
	double		bias = s->bias ? s->bias[i] : 0.0;

	if (s->popularity)
		return s->bias ? bias : s->degree[i];
	if (!known || uf == NULL || s->factors == NULL)
		return s->explicit_feedback ? s->global_mean + (known ? ubias : 0.0) + bias : s->degree[i];
	return (s->explicit_feedback ? s->global_mean + ubias : 0.0) + bias +
		rs_dot(uf, s->factors + (size_t) i * s->k, s->k);
}
