/*-------------------------------------------------------------------------
 *
 * knn.c
 *	  Neighbourhood models (item_knn, user_knn): the K most similar
 *	  entities of every entity, and for explicit feedback the baseline
 *	  biases the predictions are corrected by.  Plain C; see core.h for
 *	  the contract and knn.h for the scoring side.
 *
 * Entities and features.  item_knn compares items, each described by the
 * users who interacted with it; user_knn compares users by their items.
 * Below, e and e' are entities, f a feature, x_ef the value of (e, f)
 * (rating or count; absent pairs are not zero, they are absent), F_e the
 * features of e and n = |F_e ∩ F_e'| the co-support.
 *
 * Values.  weighting (cosine only) first turns x into w, treating each
 * entity as a document and its features as terms (as the implicit library
 * does for item-item models): with N the number of entities that have any
 * interaction, df_f the number of entities with feature f, len_e = sum_f
 * x_ef and avg_len its mean over those N entities,
 *	  idf_f = ln N - ln(1 + df_f)
 *	  bm25:  w_ef = x_ef (k1 + 1) / (k1 ((1 - b) + b len_e / avg_len) + x_ef) idf_f
 *	  tfidf: w_ef = sqrt(x_ef) idf_f			 (sign(x) sqrt|x| for x < 0)
 *
 * Similarities.
 *	  cosine:		   s = sum_{F_e ∩ F_e'} w_ef w_e'f / (|w_e| |w_e'|), the norms
 *						   over all of each entity's features (normalised X^T X)
 *	  adjusted_cosine: c_ef = x_ef - mean_f (mean of feature f's values: the
 *						   user's mean rating in item_knn);
 *						   s = sum c_ef c_e'f / sqrt(sum c_ef^2 sum c_e'f^2),
 *						   all three sums over the common features
 *	  pearson:		   the same with c_ef = x_ef - mean_e (the entity's own
 *						   mean over all its values)
 *	  jaccard:		   s = n / (|F_e| + |F_e'| - n)	(values ignored)
 *	  A zero denominator gives s = 0.  Then shrinkage: s = s n / (n + shrinkage).
 *	  e' is a candidate neighbour of e when n >= min_support and
 *	  s > min_similarity; the K best by s are kept, ties to the lower id.
 *
 * Computation.  Never a dense entity x entity matrix: for each entity e,
 * a sparse accumulator (dense arrays over entities, and the list of those
 * touched) receives w_ef w_e'f for every feature f of e and every other
 * entity e' of f, i.e. one row of X^T X, read through the two CSR views of
 * the matrix; then a K-heap selects the neighbours and the touched entries
 * are reset.  Work is sum_f |entities of f|^2, halved by the symmetric mode
 * (knn_from_interactions): each pair is computed once, from the entity
 * with the lower id.  Rows that touch most entities skip the touched list
 * and scan the accumulator instead; cosine on equal values (binary data)
 * needs only the co-support counts.  Entities are processed in blocks of
 * about KNN_BLOCK_WORK accumulator updates per thread, in parallel within
 * a block, with an interrupt check between blocks; each pair's sums run
 * over the common features in ascending order whichever side computes
 * them, so the lists depend neither on the number of threads nor on the
 * way they were computed (test/core/knn_core checks every way).
 *
 * Attributes (item_knn).  With item attribute vectors, the items without
 * interactions (or, with attributes_only, all items) get as neighbours the
 * K items whose vectors have the highest cosine, computed exactly: the
 * vectors are normalised and multiplied in tiles (sgemm, one BLAS thread
 * per worker), each tile feeding the K-heaps of its rows.  Attribute
 * neighbours have support 0 and are not shrunk; min_similarity applies.
 *
 * Baseline (explicit feedback).  r^_ui = mu + b_u + b_i, mu the mean
 * rating, by alternating regularised sweeps (as Surprise's baseline ALS):
 *	  b_i = sum_{u in U_i} (r_ui - mu - b_u) / (lambda + |U_i|), then
 *	  b_u = sum_{i in I_u} (r_ui - mu - b_i) / (lambda + |I_u|),
 * `iterations` times, lambda = bias_regularization.  The loss after each
 * sweep is (sum (r - mu - b_u - b_i)^2 + lambda (sum b_u^2 + sum b_i^2)) / |R|.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "knn.h"
#include "linalg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* accumulator updates per thread between two interrupt checks */
#define KNN_BLOCK_WORK		(INT64_C(1) << 24)
/* at most this many entities per block */
#define KNN_BLOCK_ROWS		8192
/* attribute similarity tiles: query rows x candidate columns */
#define ATTR_QUERY_ROWS		32
#define ATTR_CAND_COLS		1024
/* attribute work (multiply-adds) per thread between interrupt checks */
#define ATTR_BLOCK_WORK		(INT64_C(1) << 28)
/* interactions between interrupt checks in the O(nnz) loops */
#define KNN_CHECK_EVERY		(INT64_C(1) << 20)

extern void sgemm_(const char *transa, const char *transb, const int *m,
				   const int *n, const int *k, const float *alpha,
				   const float *a, const int *lda, const float *b,
				   const int *ldb, const float *beta, float *c,
				   const int *ldc, size_t transa_len, size_t transb_len);

/* A candidate neighbour in a K-heap. */
typedef struct KnnCand
{
	float		sim;
	int32_t		idx;
	int32_t		support;
} KnnCand;

/* a ranks below b: lower similarity, or equal and a higher id */
static inline bool
cand_worse(const KnnCand *a, const KnnCand *b)
{
	return a->sim < b->sim || (a->sim == b->sim && a->idx > b->idx);
}

static void
heap_sift_down(KnnCand *h, int n, int at)
{
	for (;;)
	{
		int			l = 2 * at + 1;
		int			r = l + 1;
		int			w = at;
		KnnCand		t;

		if (l < n && cand_worse(&h[l], &h[w]))
			w = l;
		if (r < n && cand_worse(&h[r], &h[w]))
			w = r;
		if (w == at)
			return;
		t = h[at];
		h[at] = h[w];
		h[w] = t;
		at = w;
	}
}

/* Offers c to the K-heap h of *n entries (the worst at the top). */
static inline void
heap_offer(KnnCand *h, int *n, int k, KnnCand c)
{
	if (*n < k)
	{
		int			at = (*n)++;

		h[at] = c;
		while (at > 0)
		{
			int			parent = (at - 1) / 2;
			KnnCand		t;

			if (!cand_worse(&h[at], &h[parent]))
				break;
			t = h[at];
			h[at] = h[parent];
			h[parent] = t;
			at = parent;
		}
	}
	else if (k > 0 && cand_worse(&h[0], &c))
	{
		h[0] = c;
		heap_sift_down(h, *n, 0);
	}
}

/* Empties the heap into out[0..n) best first; returns n. */
static int
heap_drain(KnnCand *h, int n, int32_t *idx, float *sim, int32_t *support)
{
	int			total = n;

	while (n > 0)
	{
		n--;
		idx[n] = h[0].idx;
		sim[n] = h[0].sim;
		support[n] = h[0].support;
		h[0] = h[n];
		heap_sift_down(h, n, 0);
	}
	return total;
}

/* The matrix seen from the entities being compared. */
typedef struct KnnSide
{
	int32_t		n;				/* entities */
	int32_t		n_feat;			/* features */
	const int64_t *rp;			/* entity -> features (CSR) */
	const int32_t *ri;
	const float *rv;
	const int64_t *cp;			/* feature -> entities (CSR) */
	const int32_t *ci;
	const float *cv;
} KnnSide;

/* The lists being built: K slots per entity. */
typedef struct KnnOut
{
	int			k;
	int32_t    *count;			/* neighbours found per entity */
	int32_t    *idx;			/* n x k */
	float	   *sim;
	int32_t    *support;
} KnnOut;

typedef enum KnnLoop
{
	LOOP_DOT,					/* cosine: dot products and counts */
	LOOP_CENTRED,				/* adjusted cosine, pearson: + co-rater norms */
	LOOP_COUNT					/* jaccard, binary cosine: counts only */
} KnnLoop;

typedef struct KnnJob
{
	const KnnSide *s;
	const float *vr;			/* values along rp/ri */
	const float *vc;			/* values along cp/ci */
	const float *inv_norm;		/* cosine: 1 / |w_e|, 0 for a zero vector */
	KnnLoop		loop;
	bool		binary;			/* cosine on equal values: from the counts */
	RsSimilarity similarity;
	double		shrinkage;
	int			min_support;
	double		min_similarity;
	int32_t		base;			/* first entity of the block */
	int			k;
	/* per-thread scratch, s->n entries each (heap: k) */
	float	   *acc;
	float	   *sqa;
	float	   *sqb;
	int32_t    *cnt;
	int32_t    *touched;
	KnnCand    *heap;
	/*
	 * Symmetric mode (see knn_from_interactions): per thread, a K-heap per
	 * entity for the candidates found from the other side of each pair,
	 * its size, and the similarity to beat once it is full.
	 */
	bool		symmetric;
	int			sym_threads;
	KnnCand    *sym_heap;		/* threads x n x k */
	int32_t    *sym_n;			/* threads x n */
	float	   *sym_floor;		/* threads x n */
	KnnOut	   *out;
} KnnJob;

/* Updates of entity e's accumulation, an upper bound on its cost. */
static inline int64_t
entity_work(const KnnSide *s, int32_t e)
{
	int64_t		w = 0;

	for (int64_t k = s->rp[e]; k < s->rp[e + 1]; k++)
		w += s->cp[s->ri[k] + 1] - s->cp[s->ri[k]];
	return w;
}

/* First position in the ascending a[lo, hi) holding a value > x. */
static inline int64_t
first_above(const int32_t *a, int64_t lo, int64_t hi, int32_t x)
{
	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (a[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Accumulates one row of X^T X for entity e into the thread's arrays.
 * `track` keeps the list of touched entities (rows that touch few);
 * without it the caller scans every entity (rows that touch many, where
 * the scan is cheaper than a branch per update).  Symmetric mode skips
 * the entities <= e, whose pairs with e the other side computes.
 * Specialised per loop kind and track flag (the callers pass constants).
 */
static inline __attribute__((always_inline)) int32_t
accumulate(const KnnJob *j, int32_t e, float *restrict acc, int32_t *restrict cnt,
		   int32_t *restrict touched, float *restrict sqa, float *restrict sqb,
		   const KnnLoop loop, const bool track)
{
	const KnnSide *s = j->s;
	const int32_t *ci = s->ci;
	const float *cv = j->vc;
	int32_t		nt = 0;

	for (int64_t k = s->rp[e]; k < s->rp[e + 1]; k++)
	{
		int32_t		f = s->ri[k];
		int64_t		q0 = s->cp[f];
		int64_t		q1 = s->cp[f + 1];
		float		a = loop == LOOP_COUNT ? 0.0f : j->vr[k];
		float		a2 = a * a;

		if (j->symmetric)
			q0 = first_above(ci, q0, q1, e);
		for (int64_t q = q0; q < q1; q++)
		{
			int32_t		x = ci[q];

			if (loop != LOOP_COUNT)
				acc[x] += a * cv[q];
			if (loop == LOOP_CENTRED)
			{
				sqa[x] += a2;
				sqb[x] += cv[q] * cv[q];
			}
			if (track)
			{
				if (cnt[x]++ == 0)
					touched[nt++] = x;
			}
			else
				cnt[x]++;
		}
	}
	return nt;
}

/* s(e, x) from the accumulators (see the file header); symmetric in e, x. */
static inline double
pair_similarity(const KnnJob *j, int32_t e, int32_t x, int32_t n,
				const float *acc, const float *sqa, const float *sqb)
{
	const KnnSide *s = j->s;
	double		sim = 0.0;

	switch (j->similarity)
	{
		case RS_SIM_COSINE:
			if (j->binary)
			{
				double		le = (double) (s->rp[e + 1] - s->rp[e]);
				double		lx = (double) (s->rp[x + 1] - s->rp[x]);

				sim = n / sqrt(le * lx);
			}
			else
			{
				int32_t		lo = e < x ? e : x;
				int32_t		hi = e < x ? x : e;

				sim = (double) acc[x] * ((double) j->inv_norm[lo] * j->inv_norm[hi]);
			}
			break;
		case RS_SIM_ADJUSTED_COSINE:
		case RS_SIM_PEARSON:
			{
				double		d = (double) sqa[x] * (double) sqb[x];

				sim = d > 0.0 ? acc[x] / sqrt(d) : 0.0;
			}
			break;
		case RS_SIM_JACCARD:
			{
				int64_t		le = s->rp[e + 1] - s->rp[e];
				int64_t		lx = s->rp[x + 1] - s->rp[x];

				sim = (double) n / (double) (le + lx - n);
			}
			break;
	}
	if (j->shrinkage > 0.0)
		sim *= n / (n + j->shrinkage);
	return sim;
}

/* Offers pair (e, x) to e's row heap and, in symmetric mode, to x's. */
static inline void
offer_pair(const KnnJob *j, int32_t e, int32_t x, int32_t n, const float *acc,
		   const float *sqa, const float *sqb, KnnCand *heap, int *nh, int thread)
{
	KnnCand		c;

	if (x == e || n < j->min_support)
		return;
	c.sim = (float) pair_similarity(j, e, x, n, acc, sqa, sqb);
	if (!(c.sim > j->min_similarity))
		return;
	c.idx = x;
	c.support = n;
	heap_offer(heap, nh, j->k, c);
	if (j->symmetric)
	{
		size_t		at = (size_t) thread * j->s->n + x;

		if (c.sim >= j->sym_floor[at])
		{
			KnnCand    *h = j->sym_heap + at * j->k;
			int			hn = j->sym_n[at];

			c.idx = e;
			heap_offer(h, &hn, j->k, c);
			j->sym_n[at] = hn;
			if (hn == j->k)
				j->sym_floor[at] = h[0].sim;
		}
	}
}

/* The neighbours of entity e (see the file header). */
static void
knn_entity(const KnnJob *j, int32_t e, int thread)
{
	const KnnSide *s = j->s;
	size_t		off = (size_t) thread * s->n;
	float	   *acc = j->acc ? j->acc + off : NULL;
	int32_t    *cnt = j->cnt + off;
	int32_t    *touched = j->touched + off;
	float	   *sqa = j->sqa ? j->sqa + off : NULL;
	float	   *sqb = j->sqb ? j->sqb + off : NULL;
	KnnCand    *heap = j->heap + (size_t) thread * j->k;
	int			nh = 0;
	bool		track = entity_work(s, e) < (int64_t) s->n;
	int32_t		nt = 0;

	if (rs_knn_test_paths & RS_KNN_TEST_TRACK)
		track = true;
	else if (rs_knn_test_paths & RS_KNN_TEST_SCAN)
		track = false;

	switch (j->loop)
	{
		case LOOP_DOT:
			nt = track ? accumulate(j, e, acc, cnt, touched, sqa, sqb, LOOP_DOT, true) :
				accumulate(j, e, acc, cnt, touched, sqa, sqb, LOOP_DOT, false);
			break;
		case LOOP_CENTRED:
			nt = track ? accumulate(j, e, acc, cnt, touched, sqa, sqb, LOOP_CENTRED, true) :
				accumulate(j, e, acc, cnt, touched, sqa, sqb, LOOP_CENTRED, false);
			break;
		case LOOP_COUNT:
			nt = track ? accumulate(j, e, acc, cnt, touched, sqa, sqb, LOOP_COUNT, true) :
				accumulate(j, e, acc, cnt, touched, sqa, sqb, LOOP_COUNT, false);
			break;
	}

	/*
	 * Offer the candidates, then reset what was touched.  The order they
	 * come in does not matter: the heap keeps the best K under a total
	 * order (similarity, then the lower id).
	 */
	if (track)
	{
		for (int32_t t = 0; t < nt; t++)
		{
			int32_t		x = touched[t];

			offer_pair(j, e, x, cnt[x], acc, sqa, sqb, heap, &nh, thread);
			cnt[x] = 0;
			if (acc)
				acc[x] = 0.0f;
			if (sqa)
			{
				sqa[x] = 0.0f;
				sqb[x] = 0.0f;
			}
		}
	}
	else
	{
		for (int32_t x = j->symmetric ? e + 1 : 0; x < s->n; x++)
		{
			if (cnt[x] == 0)
				continue;
			offer_pair(j, e, x, cnt[x], acc, sqa, sqb, heap, &nh, thread);
			cnt[x] = 0;
			if (acc)
				acc[x] = 0.0f;
			if (sqa)
			{
				sqa[x] = 0.0f;
				sqb[x] = 0.0f;
			}
		}
	}

	{
		size_t		slot = (size_t) e * j->k;

		j->out->count[e] = heap_drain(heap, nh, j->out->idx + slot,
									  j->out->sim + slot,
									  j->out->support + slot);
	}
}

static void
knn_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	const KnnJob *j = (const KnnJob *) ctx;

	for (int64_t e = j->base + begin; e < j->base + end; e++)
		knn_entity(j, (int32_t) e, thread);
}

/*
 * Symmetric mode, at the end: each entity's list is the best K of its own
 * row's (the pairs with larger ids) and of what every thread collected for
 * it from the rows of smaller ids.  The union holds the overall best K,
 * and which thread held which candidate does not change the result.
 */
static void
merge_block(void *ctx, int64_t begin, int64_t end, int thread)
{
	const KnnJob *j = (const KnnJob *) ctx;
	int			threads = j->sym_threads;
	KnnCand    *heap = j->heap + (size_t) thread * j->k;

	for (int64_t e = j->base + begin; e < j->base + end; e++)
	{
		size_t		slot = (size_t) e * j->k;
		int			nh = 0;

		for (int32_t c = 0; c < j->out->count[e]; c++)
		{
			KnnCand		cand;

			cand.idx = j->out->idx[slot + c];
			cand.sim = j->out->sim[slot + c];
			cand.support = j->out->support[slot + c];
			heap_offer(heap, &nh, j->k, cand);
		}
		for (int t = 0; t < threads; t++)
		{
			size_t		at = (size_t) t * j->s->n + e;
			const KnnCand *h = j->sym_heap + at * j->k;

			for (int32_t c = 0; c < j->sym_n[at]; c++)
				heap_offer(heap, &nh, j->k, h[c]);
		}
		j->out->count[e] = heap_drain(heap, nh, j->out->idx + slot,
									  j->out->sim + slot, j->out->support + slot);
	}
}

/* Sends a line of text to env->note, if there is one. */
static void
knn_note(const RsEnv *env, const char *text)
{
	if (env->note != NULL)
		env->note(env->arg, text);
}

/*
 * The values the similarity works on, along both CSR views: the raw
 * values, or a weighted / centred copy (see the file header).
 */
static void
knn_values(const KnnSide *s, const RsParams *p, const RsEnv *env,
		   const float **vr_out, const float **vc_out)
{
	int64_t		nnz = s->rp[s->n];
	float	   *vr;
	float	   *vc;

	*vr_out = s->rv;
	*vc_out = s->cv;
	if (p->similarity == RS_SIM_JACCARD ||
		(p->similarity == RS_SIM_COSINE && p->weighting == RS_WEIGHT_NONE))
		return;

	vr = env->alloc(env->arg, sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));
	vc = env->alloc(env->arg, sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));

	if (p->similarity == RS_SIM_COSINE)
	{
		/* bm25 or tfidf: entity = document, feature = term */
		float	   *idf = env->alloc(env->arg, sizeof(float) * ((size_t) s->n_feat + 1));
		float	   *lnorm = env->alloc(env->arg, sizeof(float) * ((size_t) s->n + 1));
		int64_t		docs = 0;
		double		total_len = 0.0;
		double		avg_len;
		float		k1 = (float) p->bm25_k1;

		for (int32_t e = 0; e < s->n; e++)
		{
			double		len = 0.0;

			for (int64_t k = s->rp[e]; k < s->rp[e + 1]; k++)
				len += s->rv[k];
			if (s->rp[e + 1] > s->rp[e])
			{
				docs++;
				total_len += len;
			}
			lnorm[e] = (float) len; /* for now: the length */
		}
		avg_len = docs > 0 ? total_len / docs : 1.0;
		if (!(avg_len != 0.0))
			avg_len = 1.0;
		for (int32_t e = 0; e < s->n; e++)
			lnorm[e] = (float) ((1.0 - p->bm25_b) + p->bm25_b * lnorm[e] / avg_len);
		for (int32_t f = 0; f < s->n_feat; f++)
			idf[f] = (float) (log((double) (docs > 0 ? docs : 1)) -
							  log1p((double) (s->cp[f + 1] - s->cp[f])));

		for (int32_t e = 0; e < s->n; e++)
		{
			for (int64_t k = s->rp[e]; k < s->rp[e + 1]; k++)
			{
				float		x = s->rv[k];
				float		w;

				if (p->weighting == RS_WEIGHT_BM25)
					w = x * (k1 + 1.0f) / (k1 * lnorm[e] + x);
				else
					w = x >= 0.0f ? sqrtf(x) : -sqrtf(-x);
				vr[k] = w * idf[s->ri[k]];
			}
			if ((e & 0x3FFF) == 0)
				env->check_interrupts(env->arg);
		}
		for (int32_t f = 0; f < s->n_feat; f++)
		{
			for (int64_t q = s->cp[f]; q < s->cp[f + 1]; q++)
			{
				int32_t		e = s->ci[q];
				float		x = s->cv[q];
				float		w;

				if (p->weighting == RS_WEIGHT_BM25)
					w = x * (k1 + 1.0f) / (k1 * lnorm[e] + x);
				else
					w = x >= 0.0f ? sqrtf(x) : -sqrtf(-x);
				vc[q] = w * idf[f];
			}
			if ((f & 0x3FFF) == 0)
				env->check_interrupts(env->arg);
		}
	}
	else
	{
		/* centred: by each feature's mean (adjusted) or entity's (pearson) */
		bool		by_feature = (p->similarity == RS_SIM_ADJUSTED_COSINE);
		int32_t		nm = by_feature ? s->n_feat : s->n;
		const int64_t *mp = by_feature ? s->cp : s->rp;
		const float *mv = by_feature ? s->cv : s->rv;
		float	   *mean = env->alloc(env->arg, sizeof(float) * ((size_t) nm + 1));

		for (int32_t x = 0; x < nm; x++)
		{
			double		sum = 0.0;

			for (int64_t k = mp[x]; k < mp[x + 1]; k++)
				sum += mv[k];
			mean[x] = mp[x + 1] > mp[x] ? (float) (sum / (double) (mp[x + 1] - mp[x])) : 0.0f;
		}
		for (int32_t e = 0; e < s->n; e++)
		{
			for (int64_t k = s->rp[e]; k < s->rp[e + 1]; k++)
				vr[k] = s->rv[k] - mean[by_feature ? s->ri[k] : e];
			if ((e & 0x3FFF) == 0)
				env->check_interrupts(env->arg);
		}
		for (int32_t f = 0; f < s->n_feat; f++)
		{
			for (int64_t q = s->cp[f]; q < s->cp[f + 1]; q++)
				vc[q] = s->cv[q] - mean[by_feature ? f : s->ci[q]];
			if ((f & 0x3FFF) == 0)
				env->check_interrupts(env->arg);
		}
	}
	*vr_out = vr;
	*vc_out = vc;
}

/* true if every value is the same (binary data, or all ratings equal) */
static bool
all_equal(const float *v, int64_t n)
{
	for (int64_t k = 1; k < n; k++)
		if (v[k] != v[0])
			return false;
	return true;
}

/*
 * Neighbours from the interactions, for every entity.
 *
 * Symmetric mode halves the work: s(e, x) = s(x, e), so each entity's row
 * accumulates only the entities after it, and each pair found is offered
 * to both entities' lists, the later one's in a per-thread heap merged at
 * the end (merge_block).  The accumulated sums are the same either way
 * (the common features are visited in the same ascending order from both
 * sides, and products commute), so both modes give the same lists.  It
 * needs threads x n x K candidates of memory, hence the budget.
 */
#define KNN_SYM_BUDGET		((size_t) 256 << 20)

/* see core.h: lets the core's tests force each way of computing */
int			rs_knn_test_paths = 0;

static void
knn_from_interactions(const KnnSide *s, const RsParams *p, const RsEnv *env,
					  KnnOut *out, const char *what)
{
	int			threads = p->threads < 1 ? 1 : p->threads;
	KnnJob		j;
	size_t		n = (size_t) s->n;
	int64_t		total_work = 0;
	int64_t		done_work = 0;
	int			next_decile = 1;
	int32_t		start = 0;
	size_t		sym_bytes;

	memset(&j, 0, sizeof(j));
	j.s = s;
	j.similarity = p->similarity;
	j.shrinkage = p->shrinkage;
	j.min_support = p->min_support;
	j.min_similarity = p->min_similarity;
	j.k = out->k;
	j.out = out;
	j.loop = p->similarity == RS_SIM_COSINE ? LOOP_DOT :
		p->similarity == RS_SIM_JACCARD ? LOOP_COUNT : LOOP_CENTRED;

	knn_values(s, p, env, &j.vr, &j.vc);
	if (p->similarity == RS_SIM_COSINE && p->weighting == RS_WEIGHT_NONE &&
		all_equal(s->rv, s->rp[s->n]) && s->rp[s->n] > 0 && s->rv[0] != 0.0f)
	{
		/* cos = c^2 n / (c sqrt(len_e) c sqrt(len_x)): the counts suffice */
		j.binary = true;
		j.loop = LOOP_COUNT;
	}
	else if (p->similarity == RS_SIM_COSINE)
	{
		float	   *inv = env->alloc(env->arg, sizeof(float) * (n + 1));

		for (int32_t e = 0; e < s->n; e++)
		{
			double		sq = 0.0;

			for (int64_t k = s->rp[e]; k < s->rp[e + 1]; k++)
				sq += (double) j.vr[k] * j.vr[k];
			inv[e] = sq > 0.0 ? (float) (1.0 / sqrt(sq)) : 0.0f;
		}
		j.inv_norm = inv;
	}
	env->check_interrupts(env->arg);

	/* scratch for every thread, allocated before any thread starts */
	j.cnt = env->alloc(env->arg, sizeof(int32_t) * n * threads);
	j.touched = env->alloc(env->arg, sizeof(int32_t) * n * threads);
	if (j.loop != LOOP_COUNT)
		j.acc = env->alloc(env->arg, sizeof(float) * n * threads);
	if (j.loop == LOOP_CENTRED)
	{
		j.sqa = env->alloc(env->arg, sizeof(float) * n * threads);
		j.sqb = env->alloc(env->arg, sizeof(float) * n * threads);
	}
	j.heap = env->alloc(env->arg, sizeof(KnnCand) * (size_t) j.k * threads);

	sym_bytes = n * threads * ((size_t) j.k * sizeof(KnnCand) + sizeof(int32_t) + sizeof(float));
	if (n > 1 && sym_bytes <= KNN_SYM_BUDGET &&
		!(rs_knn_test_paths & RS_KNN_TEST_ONE_SIDED))
	{
		j.symmetric = true;
		j.sym_threads = threads;
		j.sym_heap = env->alloc(env->arg, sizeof(KnnCand) * n * threads * j.k);
		j.sym_n = env->alloc(env->arg, sizeof(int32_t) * n * threads);
		j.sym_floor = env->alloc(env->arg, sizeof(float) * n * threads);
		for (size_t x = 0; x < n * threads; x++)
			j.sym_floor[x] = -INFINITY;
	}

	for (int32_t e = 0; e < s->n; e++)
		total_work += entity_work(s, e);
	env->check_interrupts(env->arg);
	{
		char		buf[128];

		snprintf(buf, sizeof(buf), "neighbours of %s: %d to compute", what, (int) s->n);
		knn_note(env, buf);
	}

	while (start < s->n)
	{
		int32_t		end = start;
		int64_t		work = 0;

		while (end < s->n && end - start < KNN_BLOCK_ROWS &&
			   work < KNN_BLOCK_WORK * threads)
			work += entity_work(s, end++);
		j.base = start;
		rs_parallel_for(end - start, threads, knn_range, &j);
		env->check_interrupts(env->arg);
		done_work += work;
		start = end;
		while (next_decile < 10 && total_work > 0 &&
			   done_work * 10 >= total_work * next_decile)
		{
			if (done_work < total_work)
			{
				char		buf[128];

				snprintf(buf, sizeof(buf), "neighbours of %s: %d of %d done",
						 what, (int) end, (int) s->n);
				knn_note(env, buf);
			}
			next_decile++;
		}
	}

	if (j.symmetric)
	{
		for (int32_t b = 0; b < s->n; b += KNN_BLOCK_ROWS * 4)
		{
			int32_t		nb = s->n - b < KNN_BLOCK_ROWS * 4 ? s->n - b : KNN_BLOCK_ROWS * 4;

			j.base = b;
			rs_parallel_for(nb, threads, merge_block, &j);
			env->check_interrupts(env->arg);
		}
	}
}

/* Attribute similarity (see the file header). */
typedef struct AttrJob
{
	int			d;
	int32_t		n_cand;
	const float *cand;			/* n_cand x d, unit vectors */
	const int32_t *cand_id;		/* entity of each candidate */
	int32_t		n_query;
	const int32_t *query;		/* candidate position of each query */
	int32_t		base;			/* first query block of this round */
	double		min_similarity;
	/* per thread */
	float	   *qbuf;			/* ATTR_QUERY_ROWS x d */
	float	   *tile;			/* ATTR_QUERY_ROWS x ATTR_CAND_COLS */
	KnnCand    *heap;			/* ATTR_QUERY_ROWS x k */
	KnnOut	   *out;
} AttrJob;

static void
attr_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	const AttrJob *a = (const AttrJob *) ctx;
	int			d = a->d;
	int			k = a->out->k;
	float	   *qbuf = a->qbuf + (size_t) thread * ATTR_QUERY_ROWS * d;
	float	   *tile = a->tile + (size_t) thread * ATTR_QUERY_ROWS * ATTR_CAND_COLS;
	KnnCand    *heaps = a->heap + (size_t) thread * ATTR_QUERY_ROWS * k;

	for (int64_t blk = a->base + begin; blk < a->base + end; blk++)
	{
		int32_t		q0 = (int32_t) (blk * ATTR_QUERY_ROWS);
		int			nq = a->n_query - q0 < ATTR_QUERY_ROWS ? a->n_query - q0 : ATTR_QUERY_ROWS;
		int			nh[ATTR_QUERY_ROWS];
		const float one = 1.0f;
		const float zero = 0.0f;

		for (int r = 0; r < nq; r++)
		{
			memcpy(qbuf + (size_t) r * d, a->cand + (size_t) a->query[q0 + r] * d,
				   sizeof(float) * d);
			nh[r] = 0;
		}
		for (int32_t c0 = 0; c0 < a->n_cand; c0 += ATTR_CAND_COLS)
		{
			int			nc = a->n_cand - c0 < ATTR_CAND_COLS ? a->n_cand - c0 : ATTR_CAND_COLS;

			/* tile (nq x nc, row-major) = qbuf . cand[c0 .. c0 + nc)^T */
			sgemm_("T", "N", &nc, &nq, &d, &one, a->cand + (size_t) c0 * d, &d,
				   qbuf, &d, &zero, tile, &nc, 1, 1);
			for (int r = 0; r < nq; r++)
			{
				const float *row = tile + (size_t) r * nc;
				int32_t		self = a->query[q0 + r];
				KnnCand    *h = heaps + (size_t) r * k;

				for (int c = 0; c < nc; c++)
				{
					KnnCand		cand;

					if (c0 + c == self || !(row[c] > a->min_similarity))
						continue;
					cand.sim = row[c];
					cand.idx = a->cand_id[c0 + c];
					cand.support = 0;
					heap_offer(h, &nh[r], k, cand);
				}
			}
		}
		for (int r = 0; r < nq; r++)
		{
			int32_t		e = a->cand_id[a->query[q0 + r]];
			size_t		slot = (size_t) e * k;

			a->out->count[e] = heap_drain(heaps + (size_t) r * k, nh[r],
										  a->out->idx + slot, a->out->sim + slot,
										  a->out->support + slot);
		}
	}
}

static void
knn_from_attributes(const RsMatrix *m, const RsParams *p, const RsEnv *env,
					KnnOut *out)
{
	int			threads = p->threads < 1 ? 1 : p->threads;
	int			d = m->attr_dims;
	int32_t		n_cand = 0;
	int32_t		n_query = 0;
	float	   *cand;
	int32_t    *cand_id;
	int32_t    *query;
	AttrJob		a;
	int64_t		blocks;
	int64_t		per_round;
	int			blas_threads;

	for (int32_t i = 0; i < m->n_items; i++)
		if (m->item_has_attr[i])
			n_cand++;
	if (n_cand == 0)
		return;
	cand = env->alloc(env->arg, sizeof(float) * (size_t) n_cand * d);
	cand_id = env->alloc(env->arg, sizeof(int32_t) * (size_t) n_cand);
	query = env->alloc(env->arg, sizeof(int32_t) * (size_t) n_cand);
	n_cand = 0;
	for (int32_t i = 0; i < m->n_items; i++)
	{
		const float *v = m->item_attr + (size_t) i * d;
		float	   *c;
		double		sq = 0.0;

		if (!m->item_has_attr[i])
			continue;
		for (int t = 0; t < d; t++)
			sq += (double) v[t] * v[t];
		if (!(sq > 0.0))
			continue;			/* a zero vector is similar to nothing */
		c = cand + (size_t) n_cand * d;
		for (int t = 0; t < d; t++)
			c[t] = (float) (v[t] / sqrt(sq));
		cand_id[n_cand] = i;
		if (p->attributes_only || m->item_ptr[i + 1] == m->item_ptr[i])
			query[n_query++] = n_cand;
		n_cand++;
	}
	env->check_interrupts(env->arg);
	if (n_query == 0)
		return;

	memset(&a, 0, sizeof(a));
	a.d = d;
	a.n_cand = n_cand;
	a.cand = cand;
	a.cand_id = cand_id;
	a.n_query = n_query;
	a.query = query;
	a.min_similarity = p->min_similarity;
	a.out = out;
	a.qbuf = env->alloc(env->arg, sizeof(float) * (size_t) ATTR_QUERY_ROWS * d * threads);
	a.tile = env->alloc(env->arg, sizeof(float) * (size_t) ATTR_QUERY_ROWS * ATTR_CAND_COLS * threads);
	a.heap = env->alloc(env->arg, sizeof(KnnCand) * (size_t) ATTR_QUERY_ROWS * out->k * threads);

	blocks = (n_query + ATTR_QUERY_ROWS - 1) / ATTR_QUERY_ROWS;
	per_round = ATTR_BLOCK_WORK * threads / ((int64_t) ATTR_QUERY_ROWS * n_cand * d + 1);
	if (per_round < threads)
		per_round = threads;

	/* our threads call the BLAS: one BLAS thread each */
	blas_threads = rs_blas_get_threads();
	for (int64_t b = 0; b < blocks; b += per_round)
	{
		int64_t		nb = blocks - b < per_round ? blocks - b : per_round;

		a.base = (int32_t) b;
		if (blas_threads != 1)
			rs_blas_set_threads(1);
		rs_parallel_for(nb, threads, attr_range, &a);
		if (blas_threads != 1)
			rs_blas_set_threads(blas_threads);
		env->check_interrupts(env->arg);
	}
	{
		char		buf[128];

		snprintf(buf, sizeof(buf), "attribute neighbours of %d of %d items",
				 (int) n_query, (int) m->n_items);
		knn_note(env, buf);
	}
}

/* The baseline biases (explicit feedback); see the file header. */
typedef struct BiasSweep
{
	const int64_t *ptr;
	const int32_t *idx;
	const float *val;
	const float *other;			/* the other side's biases */
	float	   *bias;			/* the side being solved */
	double	   *loss;			/* per entity, or NULL */
	float		mu;
	float		lambda;
} BiasSweep;

static void
bias_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	const BiasSweep *b = (const BiasSweep *) ctx;

	(void) thread;
	for (int64_t e = begin; e < end; e++)
	{
		double		dev = 0.0;
		int64_t		n = b->ptr[e + 1] - b->ptr[e];

		for (int64_t k = b->ptr[e]; k < b->ptr[e + 1]; k++)
			dev += (double) b->val[k] - b->mu - b->other[b->idx[k]];
		b->bias[e] = (float) (dev / (b->lambda + (double) n));
		if (b->loss)
		{
			double		l = 0.0;

			for (int64_t k = b->ptr[e]; k < b->ptr[e + 1]; k++)
			{
				double		r = (double) b->val[k] - b->mu - b->other[b->idx[k]] - b->bias[e];

				l += r * r;
			}
			b->loss[e] = l;
		}
	}
}

static void
knn_baseline(const RsMatrix *m, const RsParams *p, const RsEnv *env, RsModel *out)
{
	int			threads = p->threads < 1 ? 1 : p->threads;
	double	   *loss = env->alloc(env->arg, sizeof(double) * ((size_t) m->n_users + 1));
	double		nnz = m->nnz > 0 ? (double) m->nnz : 1.0;
	BiasSweep	b;

	out->user_bias = env->alloc(env->arg, sizeof(float) * ((size_t) m->n_users + 1));
	out->item_bias = env->alloc(env->arg, sizeof(float) * ((size_t) m->n_items + 1));
	out->loss = env->alloc(env->arg, sizeof(double) * (size_t) (p->iterations > 0 ? p->iterations : 1));
	b.mu = (float) m->mean;
	b.lambda = (float) p->bias_regularization;

	for (int it = 0; it < p->iterations; it++)
	{
		double		total = 0.0;
		double		reg = 0.0;

		/* items against the users' biases */
		b.ptr = m->item_ptr;
		b.idx = m->item_users;
		b.val = m->item_vals;
		b.other = out->user_bias;
		b.bias = out->item_bias;
		b.loss = NULL;
		rs_parallel_for(m->n_items, threads, bias_range, &b);
		env->check_interrupts(env->arg);

		/* users against the items', with the loss */
		b.ptr = m->user_ptr;
		b.idx = m->user_items;
		b.val = m->user_vals;
		b.other = out->item_bias;
		b.bias = out->user_bias;
		b.loss = loss;
		rs_parallel_for(m->n_users, threads, bias_range, &b);
		env->check_interrupts(env->arg);

		for (int32_t u = 0; u < m->n_users; u++)
		{
			total += loss[u];
			reg += (double) out->user_bias[u] * out->user_bias[u];
		}
		for (int32_t i = 0; i < m->n_items; i++)
			reg += (double) out->item_bias[i] * out->item_bias[i];
		total = (total + p->bias_regularization * reg) / nnz;
		out->loss[it] = total;
		out->n_loss = it + 1;
		env->progress(env->arg, it + 1, total);
	}
}

void
rs_train_knn(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			 RsModel *out)
{
	KnnSide		s;
	KnnOut		o;
	int32_t		n;
	int64_t		total = 0;
	const char *what = p->user_based ? "users" : "items";

	/* time decay (implicit feedback only): the matrix values are r * w */
	m = rs_weighted_values(m, env);
	out->n_users = m->n_users;
	out->n_items = m->n_items;
	out->factors = 0;
	out->user_factors = NULL;
	out->item_factors = NULL;
	out->user_bias = NULL;
	out->item_bias = NULL;
	out->n_loss = 0;
	out->loss = NULL;
	out->global_mean = 0.0;
	if (p->explicit_feedback)
	{
		out->global_mean = m->mean;
		knn_baseline(m, p, env, out);
	}

	memset(&s, 0, sizeof(s));
	if (p->user_based)
	{
		s.n = m->n_users;
		s.n_feat = m->n_items;
		s.rp = m->user_ptr;
		s.ri = m->user_items;
		s.rv = m->user_vals;
		s.cp = m->item_ptr;
		s.ci = m->item_users;
		s.cv = m->item_vals;
	}
	else
	{
		s.n = m->n_items;
		s.n_feat = m->n_users;
		s.rp = m->item_ptr;
		s.ri = m->item_users;
		s.rv = m->item_vals;
		s.cp = m->user_ptr;
		s.ci = m->user_items;
		s.cv = m->user_vals;
	}
	n = s.n;

	o.k = p->neighbors < 1 ? 1 : p->neighbors;
	o.count = env->alloc(env->arg, sizeof(int32_t) * ((size_t) n + 1));
	o.idx = env->alloc(env->arg, sizeof(int32_t) * (size_t) n * o.k);
	o.sim = env->alloc(env->arg, sizeof(float) * (size_t) n * o.k);
	o.support = env->alloc(env->arg, sizeof(int32_t) * (size_t) n * o.k);

	if (!(p->attributes_only && !p->user_based && m->item_attr != NULL))
		knn_from_interactions(&s, p, env, &o, what);
	if (!p->user_based && m->item_attr != NULL)
		knn_from_attributes(m, p, env, &o);

	/* compact the K slots per entity into CSR, in place (slots only shrink) */
	out->n_lists = n;
	out->nbr_ptr = env->alloc(env->arg, sizeof(int64_t) * ((size_t) n + 1));
	for (int32_t e = 0; e < n; e++)
	{
		size_t		slot = (size_t) e * o.k;

		out->nbr_ptr[e] = total;
		memmove(o.idx + total, o.idx + slot, sizeof(int32_t) * o.count[e]);
		memmove(o.sim + total, o.sim + slot, sizeof(float) * o.count[e]);
		memmove(o.support + total, o.support + slot, sizeof(int32_t) * o.count[e]);
		total += o.count[e];
	}
	out->nbr_ptr[n] = total;
	out->nbr_idx = o.idx;
	out->nbr_sim = o.sim;
	out->nbr_support = o.support;
	{
		char		buf[128];

		snprintf(buf, sizeof(buf), "neighbours of %s: %d lists, %lld neighbours",
				 what, (int) n, (long long) total);
		knn_note(env, buf);
	}
}
