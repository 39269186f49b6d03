/*-------------------------------------------------------------------------
 *
 * serve_foldin.c
 *	  Fold-in: a user vector from items (and ratings), and a new user's
 *	  rows read from the model's stored source.
 *
 * For ials the vector solves the user's half-step of training exactly:
 * (Y^T Y + sum (c_i - 1) y_i y_i^T + lambda I) x = sum c_i y_i with
 * c_i = 1 + alpha r_i (r_i = 1 when no ratings are given).  For als and
 * svd with ratings, the biased ridge regression of the als user step
 * (weighted lambda, bias included; for a model trained with "biases":
 * false the same without the bias, against r - mu, mu 0 with
 * "global_mean": false, as als trains such a model); for nmf the same
 * system solved with the factors >= 0 (rs_nnls), as nmf trains; for svdpp
 * the user's implicit part z = |N|^-1/2 sum y_j over the items given,
 * plus the same ridge regression against r - mu - b_i - q_i.z (without
 * ratings: z alone).  Without ratings an explicit model,
 * and bpr always, take the mean of the items' vectors (bias 0).
 *
 * Time decay: a model trained with a half-life weighs a new user's rows
 * read from its source as training weighed them, w = 0.5^(age /
 * half_life) with age counted from the version's as_of (later rows weigh
 * 1): ials with confidence 1 + alpha r w and right-hand side
 * w (1 + alpha r), als and svd by the weighted ridge regression (penalty
 * times the weight sum), the mean of vectors weighted.  Items passed to
 * recommend_for_items carry no time and weigh 1.
 *
 * Calls serve_cache.c (items, the fold-in parameters), core/score.c
 * (sorted lists), linalg (Gram matrix, Cholesky), catalog.c and train.c
 * (the stored source and its query for one user, run as the model's
 * owner) and loader.c (ratings); no other serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/linalg.h"
#include "loader.h"
#include "train.h"

/*
 * Solves for a user given n (item index, rating) pairs (ratings NULL: none
 * given); uf gets sm.factors floats.  Must be called inside SPI.
 */
void
rs_fold_in(ServedModel *m, const int32 *idx, const float *ratings,
		   const float *weights, int32 n, float *ubias, float *uf)
{
	double		wsum = 0.0;

	int			k = m->sm.factors;
	bool		explicit_model = is_explicit(m);

	*ubias = 0.0f;
	memset(uf, 0, sizeof(float) * k);
	if (n == 0 || k == 0 || m->factors == NULL)
		return;
	rs_served_params(m);
	for (int32 r = 0; r < n; r++)
		wsum += weights ? weights[r] : 1.0;

	if (m->sm.algorithm == RS_ALG_IALS)
	{
		float	   *a = palloc(sizeof(float) * k * k);

		if (m->gram == NULL)
		{
			m->gram = MemoryContextAlloc(m->cxt, sizeof(float) * k * k);
			rs_gram(m->factors, m->n_items, k, k, m->gram);
		}
		memcpy(a, m->gram, sizeof(float) * k * k);
		for (int j = 0; j < k; j++)
			a[j * k + j] += (float) m->reg;
		for (int32 r = 0; r < n; r++)
		{
			const float *y = m->factors + (Size) idx[r] * k;
			double		conf = 1.0 + m->alpha * (ratings ? ratings[r] : 1.0);
			double		w = weights ? weights[r] : 1.0;

			/* c' - 1 = (c - 1) w on the left, c' p' = c w on the right */
			for (int p = 0; p < k; p++)
			{
				uf[p] += (float) (w * conf * y[p]);
				for (int q = 0; q < k; q++)
					a[p * k + q] += (float) ((conf - 1.0) * w * y[p] * y[q]);
			}
		}
		if (!rs_cholesky_solve(a, uf, k))
			memset(uf, 0, sizeof(float) * k);
	}
	else if (m->implicit && !ratings)
	{
		/* svdpp without ratings: the implicit part alone */
		rs_svdpp_implicit(m->implicit, idx, n, k, uf);
	}
	else if (explicit_model && ratings)
	{
		int			k1 = k + 1;
		float	   *a = palloc0(sizeof(float) * k1 * k1);
		float	   *b = palloc0(sizeof(float) * k1);
		float	   *z = palloc0(sizeof(float) * k);

		/* svdpp: the implicit part z from the items; p solves the rest */
		if (m->implicit)
			rs_svdpp_implicit(m->implicit, idx, n, k, z);
		for (int32 r = 0; r < n; r++)
		{
			const float *q = m->factors + (Size) idx[r] * k;
			double		t = ratings[r] - m->sm.global_mean - (m->bias ? m->bias[idx[r]] : 0.0) -
				(m->implicit ? rs_vdot(q, z, k) : 0.0);
			double		w = weights ? weights[r] : 1.0;

			for (int p = 0; p < k1; p++)
			{
				double		ap = p < k ? q[p] : 1.0;

				b[p] += (float) (w * t * ap);
				for (int s = 0; s < k1; s++)
					a[p * k1 + s] += (float) (w * ap * (s < k ? q[s] : 1.0));
			}
		}
		for (int p = 0; p < k; p++)
			a[p * k1 + p] += (float) (m->reg * wsum);
		a[k * k1 + k] += (float) (m->reg_b * wsum);
		if (!m->biases)
		{
			/* no bias: the k x k system alone (the bias's row: identity) */
			for (int p = 0; p < k; p++)
				a[p * k1 + k] = a[k * k1 + p] = 0.0f;
			a[k * k1 + k] = 1.0f;
			b[k] = 0.0f;
		}
		if (m->sm.algorithm == RS_ALG_NMF)
		{
			/* nmf: the same system with factors >= 0, from zero, as
			 * update() and training's user step solve it */
			float	   *x = palloc0(sizeof(float) * k1);

			rs_nnls(a, b, x, k1, k, palloc(sizeof(double) * RS_NNLS_WS(k1)),
					palloc(sizeof(int) * k1));
			memcpy(uf, x, sizeof(float) * k);
			*ubias = m->biases ? x[k] : 0.0f;
		}
		else if (rs_cholesky_solve(a, b, k1))
		{
			memcpy(uf, b, sizeof(float) * k);
			*ubias = m->biases ? b[k] : 0.0f;
		}
		for (int p = 0; p < k; p++)
			uf[p] += z[p];
	}
	else
	{
		/* the mean of the items' vectors (weighted with time decay) */
		for (int32 r = 0; r < n; r++)
		{
			const float *q = m->factors + (Size) idx[r] * k;

			if (weights == NULL)
			{
				for (int p = 0; p < k; p++)
					uf[p] += q[p] / n;
			}
			else if (wsum > 0)
			{
				for (int p = 0; p < k; p++)
					uf[p] += (float) (weights[r] * q[p] / wsum);
			}
		}
	}
}

typedef struct ItemRating
{
	int32		idx;
	int32		pos;			/* position given, for a stable order */
	float		rating;
	float		weight;
} ItemRating;

static int
cmp_item_rating(const void *a, const void *b)
{
	const ItemRating *x = a;
	const ItemRating *y = b;

	if (x->idx != y->idx)
		return (x->idx > y->idx) - (x->idx < y->idx);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Sorts (item, rating) pairs by item and merges repeated items: the mean
 * rating for explicit models, the sum for implicit ones (the loader's
 * rule), and, with weights (may be NULL), the largest weight (the loader
 * keeps the newest time).  Returns the new count.
 */
int32
rs_merge_duplicates(const ServedModel *m, int32 *idx, float *ratings,
					float *weights, int32 n)
{
	ItemRating *p;
	int32		w = 0;
	int32		count = 0;

	if (ratings == NULL)
		return rs_sort_unique(idx, n);
	p = palloc(sizeof(ItemRating) * Max(n, 1));
	for (int32 r = 0; r < n; r++)
	{
		p[r].idx = idx[r];
		p[r].pos = r;
		p[r].rating = ratings[r];
		p[r].weight = weights ? weights[r] : 1.0f;
	}
	qsort(p, n, sizeof(ItemRating), cmp_item_rating);
	for (int32 r = 0; r < n; r++)
	{
		if (w > 0 && idx[w - 1] == p[r].idx)
		{
			ratings[w - 1] += p[r].rating;
			if (weights && p[r].weight > weights[w - 1])
				weights[w - 1] = p[r].weight;
			count++;
		}
		else
		{
			if (w > 0 && is_explicit(m))
				ratings[w - 1] /= count;
			idx[w] = p[r].idx;
			ratings[w] = p[r].rating;
			if (weights)
				weights[w] = p[r].weight;
			count = 1;
			w++;
		}
	}
	if (w > 0 && is_explicit(m))
		ratings[w - 1] /= count;
	pfree(p);
	return w;
}

/*
 * A user the model has not seen: their rows in the model's source (read
 * as the model's owner, see rs_run_as_model_owner(), and only when the
 * owner may still read every relation the source query touches), as
 * sorted item indexes and values
 * allocated in cxt, and with time decay their weights (*weights_out, else
 * NULL; a row without a time is skipped, as in training).  Returns how many; 0 when there are none, when the
 * model cannot take a new user (popularity, user_knn), has no stored
 * source (fit) or the source may not be read (*why says why).  Inside SPI.
 */
int32
rs_user_rows_from_source(ServedModel *m, const char *ukey, MemoryContext cxt,
						 int32 **idx_out, float **ratings_out, float **weights_out,
						 const char **why)
{
	RsModelDef *def;
	SPIPlanPtr	plan;
	RsStoredCheck check;
	Oid			argtype = TEXTOID;
	Datum		arg;
	int32	   *idx;
	float	   *ratings;
	float	   *weights = NULL;
	bool		decay;
	int32		n = 0;
	RsRunAs		as;

	*why = NULL;
	*weights_out = NULL;
	if (m->sm.algorithm == RS_ALG_POPULARITY || m->sm.algorithm == RS_ALG_USER_KNN ||
		(!is_knn(m) && (m->factors == NULL || m->sm.factors == 0)))
		return 0;
	def = rs_model_lookup(m->name, true);
	if (def == NULL || def->source == NULL)
		return 0;
	rs_served_params(m);
	if (m->user_type == NULL)
		return 0;
	decay = m->half_life > 0 && m->time_column != NULL;

	/* the stored source runs as the model's owner, never as the caller */
	rs_run_as_model_owner(&as, def);
	check = rs_prepare_stored_query(rs_user_source_query(def, m->user_type,
																	decay ? m->time_column : NULL), 1, &argtype, &plan);
	if (check != RS_STORED_OK)
	{
		rs_run_as_end(&as);
		SPI_freeplan(plan);
		*why = check == RS_STORED_TEMPORARY ?
			"the model's source reads a temporary table or view, which a stored query never reads" :
			"the model's owner may no longer read its source";
		return 0;
	}

	arg = CStringGetTextDatum(ukey);
	if (rs_execute_plan_read_only(plan, &arg) != SPI_OK_SELECT)
		elog(ERROR, "reading the source of model \"%s\" failed", m->name);
	rs_run_as_end(&as);
	idx = MemoryContextAlloc(cxt, sizeof(int32) * Max(SPI_processed, 1));
	ratings = MemoryContextAlloc(cxt, sizeof(float) * Max(SPI_processed, 1));
	if (decay)
		weights = MemoryContextAlloc(cxt, sizeof(float) * Max(SPI_processed, 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *key = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, 2, &isnull);
		int32		i = key ? rs_served_item(m, key) : -1;

		if (i < 0 || isnull)
			continue;
		idx[n] = i;
		if (decay)
		{
			Datum		td = SPI_getbinval(tup, desc, 3, &isnull);
			double		age;

			if (isnull)
				continue;
			age = m->as_of - rs_datum_to_epoch(td, SPI_gettypeid(desc, 3));
			/* 0.5^(age / half_life), as src/core/decay.c */
			weights[n] = age > 0 ? (float) exp(-age * M_LN2 / m->half_life) : 1.0f;
		}
		ratings[n] = (float) rs_datum_to_double(d, SPI_gettypeid(desc, 2), "rating");
		n++;
	}
	SPI_freeplan(plan);
	*idx_out = idx;
	*ratings_out = ratings;
	*weights_out = weights;
	return rs_merge_duplicates(m, idx, ratings, weights, n);
}
