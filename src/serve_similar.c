/*-------------------------------------------------------------------------
 *
 * serve_similar.c
 *	  recsys.similar_items(model, item, k) and
 *	  recsys.similar_users(model, user, k).
 *
 * Factor models compare the stored vectors by cosine similarity (over
 * every item, or every user of the active version); neighbourhood models
 * return their stored lists.  A key the model does not know gives no rows
 * and a NOTICE.  Results come back in the type of the key argument.
 *
 * An entry point: calls serve_cache.c, serve_args.c, core/score.c (the
 * heap) and catalog.c (stored users and neighbour lists).
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include <math.h>

static void
no_similarity(const ServedModel *m, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("model \"%s\" (%s) has no %s similarities",
					m->name, rs_algorithm_name(m->sm.algorithm), what),
			 errhint("%s", hint)));
}

static void
emit_similar(ReturnSetInfo *rsinfo, const KeyIO *io, char **keys, RsTopK *top)
{
	rs_topk_sort(top);
	for (int r = 0; r < top->n; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = rs_keyio_from_text(io, keys[top->h[r].idx]);
		values[1] = Float8GetDatum(top->h[r].score);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

PG_FUNCTION_INFO_V1(rs_similar_items);
Datum
rs_similar_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = rs_checked_model(fcinfo);
	int			k = rs_checked_k(fcinfo, 2);
	KeyIO		io;
	char	   *key;
	ServedModel *m;
	int32		idx;
	RsTopK		top;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	rs_keyio_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	key = rs_keyio_to_text(&io, PG_GETARG_DATUM(1));

	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, 3));
	if (rs_algorithm_item_lists(m->sm.algorithm) && m->nbr_ptr == NULL)
		rs_load_neighbors(&m->sm, m->cxt, &m->n_lists, &m->nbr_ptr, &m->nbr_idx, &m->nbr_sim);
	SPI_finish();

	if (!rs_algorithm_item_lists(m->sm.algorithm) && (m->factors == NULL || m->sm.factors == 0))
		no_similarity(m, "item", "Use a factor model (als, svd, svdpp, nmf, ials, bpr) or an item_knn or ease model.");
	idx = rs_served_item(m, key);
	if (idx < 0)
	{
		ereport(NOTICE,
				(errmsg("item %s is not in model \"%s\": no similar items", key, name)));
		return (Datum) 0;
	}

	top.k = Min(k, Max(m->n_items - 1, 1));
	top.n = 0;
	top.h = palloc(sizeof(RsScored) * top.k);
	if (rs_algorithm_item_lists(m->sm.algorithm))
	{
		for (int64 e = m->nbr_ptr[idx]; e < m->nbr_ptr[idx + 1]; e++)
			rs_topk_offer(&top, m->nbr_sim[e], m->nbr_idx[e]);
	}
	else
	{
		const float *q = m->factors + (Size) idx * m->sm.factors;

		for (int32 i = 0; i < m->n_items; i++)
		{
			double		sim;

			if (i == idx)
				continue;
			sim = rs_cosine_similarity(q, m->factors + (Size) i * m->sm.factors, m->sm.factors);
			if (!isnan(sim))
				rs_topk_offer(&top, sim, i);
		}
	}
	emit_similar(rsinfo, &io, m->keys, &top);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(rs_similar_users);
Datum
rs_similar_users(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = rs_checked_model(fcinfo);
	int			k = rs_checked_k(fcinfo, 2);
	KeyIO		io;
	char	   *key;
	ServedModel *m;
	RsTopK		top;
	char	  **keys = NULL;
	int32		n_keys = 0;
	bool		known;
	MemoryContext outer = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	rs_keyio_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	key = rs_keyio_to_text(&io, PG_GETARG_DATUM(1));

	top.k = k;
	top.n = 0;
	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, 3));
	if (m->sm.algorithm == RS_ALG_USER_KNN)
	{
		float	   *sim;

		known = rs_fetch_user_neighbors(&m->sm, key, &n_keys, &keys, &sim);
		top.h = MemoryContextAlloc(outer, sizeof(RsScored) * Max(Min(k, n_keys), 1));
		top.k = Max(Min(k, n_keys), 1);
		for (int32 r = 0; known && r < n_keys; r++)
			rs_topk_offer(&top, sim[r], r);
	}
	else if (m->factors == NULL || m->sm.factors == 0)
	{
		SPI_finish();
		no_similarity(m, "user", "Use a factor model (als, svd, ials, bpr) or a user_knn model.");
		known = false;			/* not reached */
	}
	else
	{
		float		ubias;
		float	   *uf;
		Portal		portal;
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2] = {CStringGetTextDatum(name), Int32GetDatum(m->sm.version)};
		int32		cap = 1024;
		int			pinned;

		known = rs_fetch_user(&m->sm, key, &ubias, &uf, NULL, NULL) && uf != NULL;
		/* no more neighbours than users: a huge k must not size the heap */
		top.k = Min(k, Max(m->sm.n_users, 1));
		top.h = MemoryContextAlloc(outer, sizeof(RsScored) * top.k);
		keys = MemoryContextAlloc(outer, sizeof(char *) * cap);
		pinned = rs_pin_search_path();
		portal = SPI_cursor_open_with_args(NULL,
										   "SELECT user_key, factors FROM recsys.user_factors "
										   "WHERE model = $1 AND version = $2 ORDER BY user_idx",
										   2, types, values, NULL, true, 0);
		rs_unpin_search_path(pinned);
		while (known)
		{
			SPI_cursor_fetch(portal, true, 10000);
			if (SPI_processed == 0)
				break;
			for (uint64 r = 0; r < SPI_processed; r++)
			{
				HeapTuple	tup = SPI_tuptable->vals[r];
				bool		isnull;
				char	   *other = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
				Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
				double		sim;

				if (isnull || strcmp(other, key) == 0)
					continue;
				sim = rs_cosine_similarity(uf, DatumGetEmbedding(d)->x, m->sm.factors);
				if (isnan(sim) || (top.n == top.k && sim < top.h[0].score))
					continue;
				if (n_keys == cap)
				{
					cap *= 2;
					keys = repalloc_huge(keys, sizeof(char *) * cap);
				}
				keys[n_keys] = MemoryContextStrdup(outer, other);
				rs_topk_offer(&top, sim, n_keys++);
			}
			SPI_freetuptable(SPI_tuptable);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_cursor_close(portal);
	}
	SPI_finish();

	if (!known)
	{
		ereport(NOTICE,
				(errmsg("user %s is not in model \"%s\": no similar users", key, name)));
		return (Datum) 0;
	}
	emit_similar(rsinfo, &io, keys, &top);
	return (Datum) 0;
}
