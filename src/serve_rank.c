/*-------------------------------------------------------------------------
 *
 * serve_rank.c
 *	  One user's list from scores: every item's score (rs_score_items),
 *	  freshness, the k best eligible items (rs_rank_plain) or the greedy
 *	  constraints over a widening pool (rs_rank_items), and the items excluded
 *	  for a call (rs_call_exclusions).
 *
 * Calls core/score.c (scoring, the heap), serve_cache.c, serve_args.c
 * (keys) and rerank.c (the constraints); no other serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include <math.h>

/*
 * Every item's score for one user, as rs_score_item() defines it.  For a
 * known user of a factor model the dot products are one matrix-vector
 * product over the cached item factors (rs_score_user).
 */
void
rs_score_items(const ServedModel *m, bool known, float ubias, const float *uf,
			float *scores)
{
	RsFactorScorer s = served_scorer(m);

	if (known && uf != NULL && m->factors != NULL && m->sm.factors > 0 && !s.popularity)
	{
		rs_score_user(&s, ubias, uf, scores);
		return;
	}
	for (int32 i = 0; i < m->n_items; i++)
		scores[i] = (float) rs_score_item(&s, known, ubias, uf, i);
}

/*
 * Freshness: rescales scores toward the lowest eligible score,
 * s' = lo + (s - lo) * 0.5^(age / half_life) (rerank.c), in double.
 * scores[] are floats: adding lo back before ranking would round every
 * item older than ~25 half-lives to lo itself (its boost is below lo's
 * precision) and rank them in key order.  So scores[] keep the margin
 * above lo, (s - lo) * factor, which a float holds with full precision to
 * ~125 half-lives; the caller ranks on it (the order of s') and adds the
 * returned lo to the scores it reports.
 */
static double
apply_freshness(const ItemAttrs *a, int32 n, float *scores,
				const int32 *excluded, int32 n_excluded)
{
	double		lo = INFINITY;
	int32		x = 0;

	for (int32 i = 0; i < n; i++)
	{
		while (x < n_excluded && excluded[x] < i)
			x++;
		if ((x < n_excluded && excluded[x] == i) || (a->blocked && a->blocked[i]))
			continue;
		lo = Min(lo, (double) scores[i]);
	}
	if (isinf(lo))
		return 0.0;				/* nothing eligible */
	for (int32 i = 0; i < n; i++)
		scores[i] = (float) (((double) scores[i] - lo) *
							 rs_fresh_factor(a->age[i], a->half_life));
	return lo;
}

/* s' of the ranked entries, from their margins above lo (apply_freshness) */
static void
add_freshness_floor(RsScored *out, int count, double lo)
{
	for (int r = 0; r < count; r++)
		out[r].score = lo + out[r].score;
}

/*
 * The k best eligible items, best first, into out (room for k): the whole
 * ranking when no greedy constraint is asked for.  Pure C, no palloc: it
 * also runs on recommend_all's worker threads.
 */
int
rs_rank_plain(int32 n, int k, const ItemAttrs *a, float *scores,
		   const int32 *excluded, int32 n_excluded, RsScored *out)
{
	RsTopK		top;
	double		lo = 0.0;

	if (a && a->fresh)
		lo = apply_freshness(a, n, scores, excluded, n_excluded);
	top.k = Max(Min(k, n), 1);
	top.n = 0;
	top.h = out;
	rs_select_top(&top, scores, n, excluded, n_excluded, a ? a->blocked : NULL);
	rs_topk_sort(&top);
	if (a && a->fresh)
		add_freshness_floor(out, top.n, lo);
	return top.n;
}

/*
 * The final list for one user: scores (n_items, rescaled here when
 * freshness is asked for), the sorted item indexes excluded for this user
 * and the attributes; writes up to k entries into out, best first.
 */
int
rs_rank_items(const ServedModel *m, const Constraints *cons, const ItemAttrs *a,
		   float *scores, const int32 *excluded, int32 n_excluded, RsScored *out)
{
	int32		n = m->n_items;
	const bool *blocked = a ? a->blocked : NULL;
	int			k = Min(cons->spec.k, n);
	int			pool;
	RsTopK		top;
	double		lo = 0.0;

	if (!cons->greedy)
		return rs_rank_plain(n, k, a, scores, excluded, n_excluded, out);
	/* (the constraints see scores shifted by lo: they use differences only) */
	if (a && a->fresh)
		lo = apply_freshness(a, n, scores, excluded, n_excluded);

	pool = Min(cons->spec.pool, n);
	for (;;)
	{
		RsCandidates c;
		double	   *cscore;
		int32	   *cgroup = NULL;
		bool	   *cprot = NULL;
		const float **cvec = NULL;
		int		   *picked;
		int			count;
		bool		stuck;

		top.k = Max(pool, 1);
		top.n = 0;
		top.h = palloc(sizeof(RsScored) * top.k);
		rs_select_top(&top, scores, n, excluded, n_excluded, blocked);
		rs_topk_sort(&top);

		cscore = palloc(sizeof(double) * top.k);
		if (a && a->group)
		{
			cgroup = palloc(sizeof(int32) * top.k);
			cprot = palloc(sizeof(bool) * top.k);
		}
		if (m->factors && (cons->spec.diversity || cons->spec.mmr))
			cvec = palloc(sizeof(float *) * top.k);
		for (int j = 0; j < top.n; j++)
		{
			int32		i = top.h[j].idx;

			cscore[j] = top.h[j].score;
			if (cgroup)
			{
				cgroup[j] = a->group[i];
				cprot[j] = a->protected_[i];
			}
			if (cvec)
				cvec[j] = m->factors + (Size) i * m->sm.factors;
		}
		c.n = top.n;
		c.score = cscore;
		c.group = cgroup;
		c.protected_ = cprot;
		c.vec = cvec;
		c.dim = m->sm.factors;
		picked = palloc(sizeof(int) * Max(k, 1));
		/* strict while a wider pool could still help */
		count = rs_rerank_select(&cons->spec, &c, top.n == pool && pool < n, picked, &stuck);
		if (!stuck)
		{
			for (int r = 0; r < count; r++)
				out[r] = top.h[picked[r]];
			if (a && a->fresh)
				add_freshness_floor(out, count, lo);
			return count;
		}
		pool = pool > n / 4 ? n : pool * 4;
	}
}

/* The item indexes of an array of keys (unknown keys are left out). */
static int32
array_item_indexes(ServedModel *m, ArrayType *arr, int32 *out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	KeyIO		io;
	int32		count = 0;

	rs_keyio_init(&io, ARR_ELEMTYPE(arr));
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	for (int e = 0; e < n; e++)
	{
		int32		idx;

		if (nulls[e])
			continue;
		idx = rs_served_item(m, rs_keyio_to_text(&io, elems[e]));
		if (idx >= 0)
			out[count++] = idx;
	}
	return count;
}

/*
 * The excluded list for one call: base (nbase indexes, e.g. the seen
 * items) plus the keys of the array argument arg, sorted and unique.
 */
int32 *
rs_call_exclusions(FunctionCallInfo fcinfo, int arg, ServedModel *m,
				const int32 *base, int32 nbase, int32 *n_out)
{
	ArrayType  *arr = NULL;
	int32		cap = nbase;
	int32	   *x;
	int32		n = nbase;

	if (arg < PG_NARGS() && !PG_ARGISNULL(arg))
	{
		rs_check_array_arg(fcinfo, arg, "exclude");
		arr = PG_GETARG_ARRAYTYPE_P(arg);
		cap += ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	x = palloc(sizeof(int32) * Max(cap, 1));
	if (nbase > 0)
		memcpy(x, base, sizeof(int32) * nbase);
	if (arr)
		n += array_item_indexes(m, arr, x + n);
	*n_out = rs_sort_unique(x, n);
	return x;
}
