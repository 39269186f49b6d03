/*-------------------------------------------------------------------------
 *
 * serve.c
 *	  Top-N recommendations and predictions: recsys.recommend() for one
 *	  user (works under LATERAL for many), recsys.recommend_for_items() for
 *	  a user described by items, recsys.predict(), and what serve.h offers
 *	  the rest of the extension (evaluation scores through the same code).
 *
 * Scoring is exact: a list holds the k best-scored items that are not
 * excluded.  Every item of the model's active version (or of the version
 * asked for: version => n, the last argument of every entry point) is
 * scored, except
 * in a large catalogue of a model whose score is the dot product alone
 * (ials, bpr) with an index on its item factors, where the index proposes
 * a pool of candidates that are scored exactly (serve_candidates.c).  A
 * version is read once per backend and cached (serve_cache.c).
 *
 * Scores: als and svd give the predicted rating mu + b_u + b_i + p_u.q_i;
 * ials gives p_u.q_i; bpr b_i + p_u.q_i; popularity the item's score.
 * Ties are broken by the item's position in the model (ascending key).
 *
 * A user who is not in the model is folded in from their rows in the
 * model's stored source when there are any and the model's owner may
 * read them (serve_foldin.c); otherwise they get the most popular items
 * (by number of training interactions), with a NOTICE saying so; explicit
 * models rank them by their bias baseline mu + b_i instead.
 *
 * The entry points of the serving family, the top of its stack (see
 * serve_int.h); recommend_all() is in serve_all.c, similar_items() and
 * similar_users() in serve_similar.c.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "privileges.h"
#include "serve.h"

#include <math.h>

/* ----------------------------------------------------------------
 *		recsys.recommend(model, user, k, exclude_seen, exclude, ...)
 * ----------------------------------------------------------------
 */

#define RECOMMEND_CONSTRAINTS 5
#define RECOMMEND_VERSION (RECOMMEND_CONSTRAINTS + C_FORBIDDEN + 1)

PG_FUNCTION_INFO_V1(rs_recommend);
Datum
rs_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	int			k;
	bool		exclude_seen;
	Constraints cons;
	KeyIO		io;
	char	   *ukey;
	ServedModel *m;
	ItemAttrs  *attrs;
	float		ubias = 0;
	float	   *uf = NULL;
	int32	   *seen = NULL;
	int32		nseen = 0;
	int32	   *excluded;
	int32		n_excluded;
	bool		known;
	float	   *scores;
	RsScored	   *ranked;
	int			n_ranked;
	MemoryContext per_call;
	MemoryContext old;

	name = rs_checked_model(fcinfo);
	k = rs_checked_k(fcinfo, 2);
	exclude_seen = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
	rs_parse_constraints(fcinfo, RECOMMEND_CONSTRAINTS, k, true, &cons);
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;		/* no user, no recommendations */

	rs_keyio_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	ukey = rs_keyio_to_text(&io, PG_GETARG_DATUM(1));

	per_call = AllocSetContextCreate(CurrentMemoryContext, "recsys recommend",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(per_call);

	/* (SPI calls switch to their own context: what outlives SPI_finish is
	 * allocated in per_call explicitly) */
	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, RECOMMEND_VERSION));
	rs_check_vectors(m, &cons);
	attrs = rs_item_attrs(fcinfo, m, &cons);
	scores = MemoryContextAlloc(per_call, sizeof(float) * Max(m->n_items, 1));
	if (is_knn(m))
	{
		RsKnnUser	u;

		known = rs_fetch_knn_user(&m->sm, ukey, &u);
		if (known)
		{
			seen = (int32 *) u.items;
			nseen = u.n;
			rs_knn_scores(m, &u, ukey, scores);
		}
	}
	else
		known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, &seen, &nseen);
	if (!known)
	{
		const char *why;
		float	   *values = NULL;
		float	   *weights = NULL;

		nseen = rs_user_rows_from_source(m, ukey, per_call, &seen, &values, &weights, &why);
		if (nseen > 0 && is_knn(m))
			known = rs_knn_new_user(m, seen, values, nseen, scores);
		else if (nseen > 0)
		{
			uf = MemoryContextAllocZero(per_call, sizeof(float) * Max(m->sm.factors, 1));
			rs_fold_in(m, seen, values, weights, nseen, &ubias, uf);
			known = true;
		}
		if (known)
			ereport(NOTICE,
					(errmsg("user %s is not in model \"%s\": folded in from %d interactions in the source",
							ukey, name, nseen)));
		else
			ereport(NOTICE,
					(errmsg("user %s is not in model \"%s\": recommending %s",
							ukey, name,
							is_explicit(m) ? "by the items' bias baseline" : "popular items"),
					 why ? errdetail("The user's interactions were not read: %s.", why) : 0));
	}
	/* (still inside SPI, whose context SPI_finish frees: allocate in per_call) */
	MemoryContextSwitchTo(per_call);
	excluded = rs_call_exclusions(fcinfo, 4, m, seen, exclude_seen ? nseen : 0, &n_excluded);
	ranked = palloc(sizeof(RsScored) * Max(Min(k, m->n_items), 1));
	n_ranked = known ? rs_rank_from_index(m, &cons, attrs, ubias, uf, k, excluded,
									   n_excluded, ranked) : -1;
	SPI_finish();

	if (n_ranked < 0)
	{
		if (!known || !is_knn(m))
			rs_score_items(m, known, ubias, uf, scores);
		n_ranked = rs_rank_items(m, &cons, attrs, scores, excluded, n_excluded, ranked);
	}

	MemoryContextSwitchTo(old);
	rs_emit_ranked(rsinfo, m, &io, NULL, ranked, n_ranked);
	MemoryContextDelete(per_call);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		recsys.recommend_for_items(model, items, k, ratings, exclude_seen,
 *								   exclude, ...)
 *
 * An anonymous session or a new user, described by the items seen (and,
 * optionally, the ratings given): the user is folded in (see rs_fold_in).
 * Items the model does not know are ignored; with none left, popular
 * items (NOTICE).  The given items are excluded unless exclude_seen is
 * false.  An item given twice counts once, with the mean of its ratings
 * for explicit models and their sum for implicit ones (the loader's rule).
 * ----------------------------------------------------------------
 */

#define FOR_ITEMS_CONSTRAINTS 6
#define FOR_ITEMS_VERSION (FOR_ITEMS_CONSTRAINTS + C_FORBIDDEN + 1)

PG_FUNCTION_INFO_V1(rs_recommend_for_items);
Datum
rs_recommend_for_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = rs_checked_model(fcinfo);
	int			k = rs_checked_k(fcinfo, 2);
	bool		exclude_seen = PG_ARGISNULL(4) ? true : PG_GETARG_BOOL(4);
	Constraints cons;
	KeyIO		io;
	ServedModel *m;
	ItemAttrs  *attrs;
	int32	   *idx = NULL;
	float	   *ratings = NULL;
	int32		n = 0;
	float		ubias = 0;
	float	   *uf;
	bool		folded;
	int32	   *excluded;
	int32		n_excluded;
	float	   *scores;
	RsScored	   *ranked;
	int			n_ranked;
	MemoryContext per_call;
	MemoryContext old;
	Oid			items_type;
	bool		items_as_text;

	rs_parse_constraints(fcinfo, FOR_ITEMS_CONSTRAINTS, k, true, &cons);
	InitMaterializedSRF(fcinfo, 0);
	/*
	 * The items: an array of keys, or (the overload for untyped
	 * parameters) the text of one, '{3,4}', read as text[]
	 */
	items_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	items_as_text = (items_type == TEXTOID);
	rs_keyio_init(&io, items_type == InvalidOid || items_as_text ? TEXTOID :
				  get_element_type(items_type));

	per_call = AllocSetContextCreate(CurrentMemoryContext, "recsys recommend_for_items",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(per_call);

	/* (SPI calls switch to their own context: what outlives SPI_finish is
	 * allocated in per_call explicitly) */
	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, FOR_ITEMS_VERSION));
	rs_check_vectors(m, &cons);
	attrs = rs_item_attrs(fcinfo, m, &cons);

	if (!PG_ARGISNULL(1))
	{
		ArrayType  *arr = items_as_text ?
			DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, TextDatumGetCString(PG_GETARG_DATUM(1)),
													TEXTOID, -1)) :
			PG_GETARG_ARRAYTYPE_P(1);
		int			nitems = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
		Datum	   *elems;
		bool	   *nulls;
		Datum	   *rvals = NULL;
		bool	   *rnulls = NULL;
		int			nr = 0;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &nitems);
		if (!PG_ARGISNULL(3))
		{
			deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), FLOAT8OID, 8, FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &rvals, &rnulls, &nr);
			if (nr != nitems)
				ereport(ERROR,
						(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
						 errmsg("ratings has %d elements but items has %d", nr, nitems),
						 errhint("Give one rating per item, or no ratings.")));
			ratings = MemoryContextAlloc(per_call, sizeof(float) * Max(nitems, 1));
		}
		idx = MemoryContextAlloc(per_call, sizeof(int32) * Max(nitems, 1));
		for (int e = 0; e < nitems; e++)
		{
			int32		i;

			if (nulls[e] || (rvals && rnulls[e]))
				continue;
			i = rs_served_item(m, rs_keyio_to_text(&io, elems[e]));
			if (i < 0)
				continue;
			if (rvals && !isfinite(DatumGetFloat8(rvals[e])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rating %d is not finite", e + 1),
						 errhint("Ratings must be numbers.")));
			idx[n] = i;
			if (ratings)
				ratings[n] = (float) DatumGetFloat8(rvals[e]);
			n++;
		}
		n = rs_merge_duplicates(m, idx, ratings, NULL, n);
	}

	uf = MemoryContextAllocZero(per_call, sizeof(float) * Max(m->sm.factors, 1));
	scores = MemoryContextAlloc(per_call, sizeof(float) * Max(m->n_items, 1));
	if (is_knn(m))
		folded = rs_knn_new_user(m, idx, ratings, n, scores);
	else
	{
		rs_fold_in(m, idx, ratings, NULL, n, &ubias, uf);
		folded = n > 0;
	}
	SPI_finish();

	if (!folded)
		ereport(NOTICE,
				(errmsg("%s model \"%s\": recommending %s",
						n == 0 ? "none of the items is in" : "a new user cannot be placed in",
						name, is_explicit(m) ? "by the items' bias baseline" : "popular items")));

	excluded = rs_call_exclusions(fcinfo, 5, m, idx, exclude_seen ? n : 0, &n_excluded);
	if (!folded || !is_knn(m))
		rs_score_items(m, folded, ubias, m->sm.factors > 0 ? uf : NULL, scores);
	ranked = palloc(sizeof(RsScored) * Max(Min(k, m->n_items), 1));
	n_ranked = rs_rank_items(m, &cons, attrs, scores, excluded, n_excluded, ranked);

	MemoryContextSwitchTo(old);
	rs_emit_ranked(rsinfo, m, &io, NULL, ranked, n_ranked);
	MemoryContextDelete(per_call);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		recsys.predict(model, user, item, version)
 *
 * The same score recommend() ranks by, from the same cache.  Explicit
 * models fall back to the bias baseline for an unknown user or item;
 * implicit models have no score for them (NULL).
 * ----------------------------------------------------------------
 */

/*
 * Scores of n items (item_idx, -1 for an item the model does not know) for
 * one user, exactly as predict() gives them: out[j] is valid[j] = false
 * where predict() returns NULL.  Returns whether the user is in the model.
 * Inside SPI; what it reads is allocated in the caller's context.
 */
bool
rs_served_predict(ServedModel *m, const char *ukey, int32 n, const int32 *items,
				  double *out, bool *valid)
{
	float		ubias = 0;
	float	   *uf = NULL;
	bool		known;
	RsKnnUser	u;
	int32		nn = 0;
	float	   *sim = NULL;
	RsKnnUser  *nbrs = NULL;

	if (is_knn(m))
	{
		known = rs_fetch_knn_user(&m->sm, ukey, &u);
		if (known)
		{
			ubias = u.bias;
			if (m->sm.algorithm == RS_ALG_USER_KNN)
			{
				char	  **keys = NULL;

				if (rs_fetch_user_neighbors(&m->sm, ukey, &nn, &keys, &sim) && nn > 0)
				{
					nbrs = palloc(sizeof(RsKnnUser) * nn);
					rs_fetch_knn_users(&m->sm, keys, nn, nbrs);
				}
			}
		}
	}
	else
		known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, NULL, NULL);

	for (int32 j = 0; j < n; j++)
	{
		int32		item = items[j];

		valid[j] = true;
		if (is_knn(m) && known && item >= 0)
		{
			RsKnnModel *km = rs_served_knn(m);

			out[j] = km->user_based ?
				rs_knn_predict_user(km, &u, nn, sim, nbrs, item) :
				rs_knn_predict_item(km, &u, item);
		}
		else if (item < 0)
		{
			valid[j] = is_explicit(m);
			out[j] = valid[j] ? m->sm.global_mean + (known ? ubias : 0.0) : 0.0;
		}
		else if (!known && !is_explicit(m) && m->sm.algorithm != RS_ALG_POPULARITY)
		{
			valid[j] = false;
			out[j] = 0.0;
		}
		else
		{
			RsFactorScorer sc = served_scorer(m);

			out[j] = rs_score_item(&sc, known, ubias, uf, item);
		}
	}
	return known;
}

/*
 * For the rest of the extension (see serve.h): whether a served model
 * predicts ratings (rs_served_model() and rs_served_item() are
 * serve_cache.c's).  Inside SPI.
 */
bool
rs_served_explicit(const ServedModel *m)
{
	return is_explicit(m);
}

PG_FUNCTION_INFO_V1(rs_predict);
Datum
rs_predict(PG_FUNCTION_ARGS)
{
	char	   *name;
	KeyIO		uio;
	KeyIO		iio;
	char	   *ukey;
	ServedModel *m;
	int32		item;
	double		score;
	bool		valid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_usage(name);
	rs_keyio_init(&uio, get_fn_expr_argtype(fcinfo->flinfo, 1));
	rs_keyio_init(&iio, get_fn_expr_argtype(fcinfo->flinfo, 2));
	ukey = rs_keyio_to_text(&uio, PG_GETARG_DATUM(1));

	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, 3));
	item = rs_served_item(m, rs_keyio_to_text(&iio, PG_GETARG_DATUM(2)));
	rs_served_predict(m, ukey, 1, &item, &score, &valid);
	SPI_finish();
	if (!valid)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(score);
}
