/*-------------------------------------------------------------------------
 *
 * serve_explain.c
 *	  recsys.explain(model, user, item, k): why an item is recommended to a
 *	  user, as the terms its served score is the sum of.
 *
 * One row per contributor, the largest in magnitude first (rank 1..k):
 * the user's items for item_knn and the factor models, the user's
 * neighbours who have the item for user_knn.  What is left over is given
 * in rows without a rank, so that the contributions of all rows add up to
 * the served score (recsys.predict()):
 *	 other		 the contributors beyond the k shown, summed;
 *	 global mean, user bias, item bias
 *				 the baseline of explicit models (als and svd have no user
 *				 bias row: their item terms carry it, see core/explain.h;
 *				 a model trained with "biases": false has no item bias row,
 *				 and with "global_mean": false no global mean row);
 *	 residual	 factor models: the served score minus the closed form
 *				 (what training left unconverged in a trained user's
 *				 vector; rounding for a user folded in).
 * share is contribution / score.  The arithmetic is core/explain.c's.
 *
 * The user's interactions: a trained user's items are the stored ones;
 * the factor models weigh them by their values (c_uj = 1 + alpha r_uj,
 * or the ratings), read from the model's source as the model's owner, as
 * fold-in reads them.  A user the model has not seen is folded in from
 * that source like recommend() does (item_knn, ials, als, svd).  A user or
 * an item that cannot be explained gives no rows and a NOTICE; bpr and
 * popularity have no decomposition of their scores and are an error.
 *
 * An entry point: calls serve_cache.c, serve_args.c, serve_foldin.c,
 * catalog_read.c (users and neighbour lists) and the cores (explain,
 * knn_score, score, linalg).
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "core/explain.h"
#include "core/linalg.h"

#include <limits.h>
#include <math.h>

/* What a call explains: the terms and what they add up to. */
typedef struct Explained
{
	RsContribution *terms;
	int32		n;
	char	  **names;			/* key of terms[].who */
	const char *kind;			/* "item" or "user" */
	RsExplainBase base;
	bool		user_bias_row;	/* neighbourhood models: b_u is a term */
	bool		no_item_bias_row;	/* als, svd without biases */
	bool		no_mean_row;	/* ... and without the global mean */
	bool		has_residual;	/* factor models */
	double		score;			/* the served score */
} Explained;

static void
put_row(ReturnSetInfo *rsinfo, int rank, const char *who, const char *kind,
		double value, double score)
{
	Datum		values[5];
	bool		nulls[5] = {rank == 0, who == NULL, false, false, score == 0.0};

	values[0] = Int32GetDatum(rank);
	values[1] = who ? CStringGetTextDatum(who) : (Datum) 0;
	values[2] = CStringGetTextDatum(kind);
	values[3] = Float8GetDatum(value);
	values[4] = Float8GetDatum(score != 0.0 ? value / score : 0.0);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static void
emit_explained(ReturnSetInfo *rsinfo, Explained *e, int k, bool is_explicit)
{
	double		total = 0.0;
	double		rest = 0.0;
	int32		shown = Min(e->n, k);

	for (int32 t = 0; t < e->n; t++)
		total += e->terms[t].value;
	rs_explain_rank(e->terms, e->n);
	for (int32 t = 0; t < shown; t++)
		put_row(rsinfo, t + 1, e->names[e->terms[t].who], e->kind,
				e->terms[t].value, e->score);
	for (int32 t = shown; t < e->n; t++)
		rest += e->terms[t].value;
	if (shown < e->n)
		put_row(rsinfo, 0, NULL, "other", rest, e->score);
	if (is_explicit)
	{
		if (!e->no_mean_row)
			put_row(rsinfo, 0, NULL, "global mean", e->base.global_mean, e->score);
		if (e->user_bias_row)
			put_row(rsinfo, 0, NULL, "user bias", e->base.user_bias, e->score);
		if (!e->no_item_bias_row)
			put_row(rsinfo, 0, NULL, "item bias", e->base.item_bias, e->score);
	}
	if (e->has_residual)
	{
		double		sum = total + e->base.global_mean + e->base.user_bias +
			e->base.item_bias;

		put_row(rsinfo, 0, NULL, "residual", e->score - sum, e->score);
	}
}

/*
 * Neighbourhood models.  False (and a NOTICE) when the user cannot be
 * explained.  Inside SPI.
 */
/*
 * Explaining from the source is the owner's: the contributions of a
 * factor model's user (or a folded-in new user) are computed from that
 * user's rows in the model's source, read as the model's owner, and with
 * the catalog's factors they give those rows' values (and, under time
 * decay, their times) back.  The model privilege grants serving, not the
 * source, so only the owner (a member of the owning role) or a superuser
 * may; neighbourhood models of trained users explain from the catalog.
 */
static void
check_may_read_source(ServedModel *m, const char *ukey)
{
	RsModelDef *def = rs_model_lookup(m->name, true);

	if (def == NULL || superuser() || has_privs_of_role(GetUserId(), def->owner))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("only the owner of model \"%s\" may explain user %s", m->name, ukey),
			 errdetail("The explanation is computed from the user's rows in the model's source, which the model's privilege does not grant."),
			 errhint("Ask the owner of the model; recommend() and predict() serve the user.")));
}

/*
 * A user the model has not seen, with n rows read from the source (why:
 * the reason none were, or NULL): says so, and whether there is anything
 * to fold in and explain.
 */
static bool
announce_fold_in(ServedModel *m, const char *ukey, int32 n, const char *why)
{
	if (n == 0)
	{
		ereport(NOTICE,
				(errmsg("user %s is not in model \"%s\": nothing to explain", ukey, m->name),
				 why ? errdetail("The user's interactions were not read: %s.", why) : 0));
		return false;
	}
	ereport(NOTICE,
			(errmsg("user %s is not in model \"%s\": folded in from %d interactions in the source",
					ukey, m->name, n)));
	return true;
}

static bool
explain_knn(ServedModel *m, const char *ukey, int32 item, MemoryContext cxt,
			Explained *e)
{
	RsKnnModel *km = rs_served_knn(m);
	RsKnnUser	u;

	if (!rs_fetch_knn_user(&m->sm, ukey, &u))
	{
		const char *why = NULL;
		int32	   *idx = NULL;
		float	   *values = NULL;
		float	   *weights = NULL;	/* neighbourhood scores take no weights */
		int32		n;

		check_may_read_source(m, ukey);
		n = rs_user_rows_from_source(m, ukey, cxt, &idx, &values, &weights, &why);
		if (!announce_fold_in(m, ukey, n, why))
			return false;
		u.n = n;
		u.items = idx;
		u.ratings = values;
		u.bias = 0.0f;
	}

	e->user_bias_row = true;
	if (!km->user_based)
	{
		e->terms = MemoryContextAlloc(cxt, sizeof(RsContribution) * Max(u.n, 1));
		e->n = rs_explain_item_knn(km, &u, item, &e->base, e->terms);
		e->score = rs_knn_predict_item(km, &u, item);
		e->names = m->keys;
		e->kind = "item";
	}
	else
	{
		int32		nn = 0;
		char	  **keys = NULL;
		float	   *sim = NULL;
		RsKnnUser  *nbrs = NULL;

		if (rs_fetch_user_neighbors(&m->sm, ukey, &nn, &keys, &sim) && nn > 0)
		{
			nbrs = palloc(sizeof(RsKnnUser) * nn);
			rs_fetch_knn_users(&m->sm, keys, nn, nbrs);
		}
		e->terms = MemoryContextAlloc(cxt, sizeof(RsContribution) * Max(nn, 1));
		e->n = rs_explain_user_knn(km, &u, nn, sim, nbrs, item, &e->base, e->terms);
		e->score = rs_knn_predict_user(km, &u, nn, sim, nbrs, item);
		e->names = keys;
		e->kind = "user";
	}
	return true;
}

/* the value of item j in the sorted idx[0..n), or NaN */
static float
value_of(const int32 *idx, const float *values, int32 n, int32 j)
{
	int32		lo = 0;
	int32		hi = n;

	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (idx[mid] < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && idx[lo] == j ? values[lo] : NAN;
}

/*
 * Factor models (ials, als, svd).  False (and a NOTICE) when the user
 * cannot be explained.  Inside SPI.
 */
static bool
explain_factors(ServedModel *m, const char *ukey, int32 item, MemoryContext cxt,
				Explained *e)
{
	int			k = m->sm.factors;
	float		ubias = 0.0f;
	float	   *uf = NULL;
	int32	   *seen = NULL;
	int32		nseen = 0;
	int32	   *sidx = NULL;
	float	   *svals = NULL;
	float	   *sweights = NULL;
	const char *why = NULL;
	int32		nsrc;
	int32	   *idx;
	float	   *values;
	float	   *weights = NULL;
	int32		n = 0;
	RsFactorExplain fe;
	RsFactorScorer sc = served_scorer(m);
	bool		known;

	rs_served_params(m);
	known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, &seen, &nseen);
	check_may_read_source(m, ukey);
	nsrc = rs_user_rows_from_source(m, ukey, cxt, &sidx, &svals, &sweights, &why);
	if (known)
	{
		int32		missing = 0;

		if (nsrc == 0 && is_explicit(m))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the ratings of user %s in model \"%s\" cannot be read", ukey, m->name),
					 why ? errdetail("%s.", why) : 0,
					 errhint("explain() reads a trained user's ratings from the model's source, as the model's owner; a model trained with fit() has none.")));
		idx = MemoryContextAlloc(cxt, sizeof(int32) * Max(nseen, 1));
		values = MemoryContextAlloc(cxt, sizeof(float) * Max(nseen, 1));
		if (sweights)
			weights = MemoryContextAlloc(cxt, sizeof(float) * Max(nseen, 1));
		for (int32 t = 0; t < nseen; t++)
		{
			float		v = value_of(sidx, svals, nsrc, seen[t]);

			if (isnan(v))
			{
				missing++;
				if (is_explicit(m))
					continue;	/* no rating: left out */
				v = 1.0f;
			}
			idx[n] = seen[t];
			values[n] = v;
			if (weights)
			{
				/* time decay: the row's weight (1 if it was not read) */
				float		w = value_of(sidx, sweights, nsrc, seen[t]);

				weights[n] = isnan(w) ? 1.0f : w;
			}
			n++;
		}
		if (missing > 0)
			ereport(NOTICE,
					(errmsg("the values of %d of the %d training items of user %s were not read from the source of model \"%s\": %s",
							missing, nseen, ukey, m->name,
							is_explicit(m) ? "those items are left out" : "taken as 1"),
					 why ? errdetail("The user's interactions were not read: %s.", why) : 0));
	}
	else
	{
		if (!announce_fold_in(m, ukey, nsrc, why))
			return false;
		idx = sidx;
		values = svals;
		weights = sweights;
		n = nsrc;
		uf = MemoryContextAllocZero(cxt, sizeof(float) * Max(k, 1));
		rs_fold_in(m, idx, values, weights, n, &ubias, uf);
	}
	e->score = rs_score_item(&sc, true, ubias, uf, item);

	memset(&fe, 0, sizeof(fe));
	fe.k = k;
	fe.factors = m->factors;
	fe.explicit_feedback = is_explicit(m);
	fe.lambda = m->reg;
	fe.lambda_b = m->reg_b;
	fe.alpha = m->alpha;
	fe.global_mean = m->sm.global_mean;
	fe.item_bias = m->bias;
	fe.no_biases = !m->biases;
	e->no_item_bias_row = !m->biases;
	e->no_mean_row = !m->global_mean;
	if (!fe.explicit_feedback)
	{
		if (m->gram == NULL)
		{
			/* Y^T Y, cached with the model as fold-in caches it */
			m->gram = MemoryContextAlloc(m->cxt, sizeof(float) * k * k);
			rs_gram(m->factors, m->n_items, k, k, m->gram);
		}
		fe.gram = m->gram;
	}
	e->terms = MemoryContextAlloc(cxt, sizeof(RsContribution) * Max(n, 1));
	if (n > 0 &&
		!rs_explain_factors(&fe, idx, values, weights, n, item,
							MemoryContextAlloc(cxt, sizeof(double) * (k + 1) * (k + 2)),
							&e->base, e->terms))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the least-squares system of user %s in model \"%s\" is not positive definite",
						ukey, m->name),
				 errhint("Retrain the model with a positive \"regularization\".")));
	if (n == 0)
		memset(&e->base, 0, sizeof(e->base));
	e->n = n;
	e->names = m->keys;
	e->kind = "item";
	e->has_residual = true;
	return true;
}

/* ----------------------------------------------------------------
 *		recsys.explain(model, user, item, k)
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(rs_explain);
Datum
rs_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = rs_checked_model(fcinfo);
	int			k = INT_MAX;
	KeyIO		uio;
	KeyIO		iio;
	char	   *ukey;
	char	   *ikey;
	ServedModel *m;
	int32		item;
	Explained	e;
	bool		ok;
	MemoryContext per_call;
	MemoryContext old;

	if (!PG_ARGISNULL(3))
	{
		k = PG_GETARG_INT32(3);
		if (k <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be positive, not %d", k),
					 errhint("k is the number of contributors to show; NULL shows them all.")));
	}
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;		/* no user or no item, nothing to explain */
	rs_keyio_init(&uio, get_fn_expr_argtype(fcinfo->flinfo, 1));
	rs_keyio_init(&iio, get_fn_expr_argtype(fcinfo->flinfo, 2));
	ukey = rs_keyio_to_text(&uio, PG_GETARG_DATUM(1));
	ikey = rs_keyio_to_text(&iio, PG_GETARG_DATUM(2));

	per_call = AllocSetContextCreate(CurrentMemoryContext, "recsys explain",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(per_call);
	memset(&e, 0, sizeof(e));

	/* (the rows are emitted before SPI_finish, which frees what SPI
	 * allocated: the tuplestore copies them into its own context) */
	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, 4));
	if (m->sm.algorithm == RS_ALG_BPR || m->sm.algorithm == RS_ALG_POPULARITY ||
		m->sm.algorithm == RS_ALG_NMF || m->sm.algorithm == RS_ALG_SVDPP ||
		(!is_knn(m) && (m->factors == NULL || m->sm.factors == 0)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (%s) cannot explain its scores",
						name, rs_algorithm_name(m->sm.algorithm)),
				 errdetail(m->sm.algorithm == RS_ALG_NMF ?
						   "Its user vector is a constrained solution, not linear in the user's ratings, so its score is not a sum over the user's items." :
						   m->sm.algorithm == RS_ALG_SVDPP ?
						   "Its trained users' vectors come from stochastic gradient descent over the user's implicit and explicit parts, which no closed form takes apart." :
						   "Its score is not a sum over the user's items or neighbours."),
				 errhint("Explanations are given by item_knn, user_knn, ials, als and svd models; recsys.similar_items() shows what is near an item.")));
	item = rs_served_item(m, ikey);
	if (item < 0)
	{
		SPI_finish();
		ereport(NOTICE,
				(errmsg("item %s is not in model \"%s\": nothing to explain", ikey, name)));
		MemoryContextSwitchTo(old);
		MemoryContextDelete(per_call);
		return (Datum) 0;
	}
	if (is_knn(m))
		ok = explain_knn(m, ukey, item, per_call, &e);
	else
		ok = explain_factors(m, ukey, item, per_call, &e);
	if (ok)
		emit_explained(rsinfo, &e, k, is_explicit(m));
	SPI_finish();

	MemoryContextSwitchTo(old);
	MemoryContextDelete(per_call);
	return (Datum) 0;
}
