/*-------------------------------------------------------------------------
 *
 * serve_candidates.c
 *	  Candidates from a recsys_hnsw index, for large catalogues.
 *
 * From recsys.index_min_items items up, recommend() asks an index on
 * recsys.item_factors (factors recsys.embedding_ip_ops) for the items
 * with the largest inner product with the user's vector, a pool of
 * several times k plus the user's exclusions, scores the pool exactly
 * and ranks it.  Only for models whose score is the dot product alone
 * (ials, bpr): the index cannot order by item bias + dot product, and
 * with biases (als, svd) it missed most of the top 10 in the tests.
 * When exclusions leave fewer than k of the pool, every item is scored
 * as usual, so the list is never short.  Greedy constraints and
 * freshness always score every item.
 *
 * Calls core/score.c (the heap), catalog.c (the index and its scan) and
 * the served model's fields; no other serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "executor/spi.h"
#include "utils/memutils.h"

/* a pool of INDEX_POOL_FACTOR * k, at least INDEX_POOL_MIN, plus exclusions */
#define INDEX_POOL_FACTOR 4
#define INDEX_POOL_MIN 100

/*
 * Up to pool item indexes from the index, nearest first, into cand
 * (allocated in cxt); -1 when the index is not to be used.  Inside SPI.
 */
static int32
index_candidates(ServedModel *m, const float *uf, int32 pool,
				 MemoryContext cxt, int32 **cand)
{
	Embedding  *q;
	int32		n;

	if (m->n_items < rs_index_min_items)
		return -1;
	if (!rs_item_index_exists(&m->sm))
	{
		/* e.g. after pg_restore, which does not dump indexes on our tables */
		if (m->sm.wants_index && !m->told_no_index)
		{
			ereport(NOTICE,
					(errmsg("model \"%s\" is served without its index, which does not exist",
							m->name),
					 errdetail("Every item is scored, which gives the same lists more slowly."),
					 errhint("SELECT recsys.restore_model_indexes() builds it.")));
			m->told_no_index = true;
		}
		return -1;
	}
	q = embedding_alloc(m->sm.factors);
	memcpy(q->x, uf, sizeof(float) * m->sm.factors);
	rs_read_index_candidates(&m->sm, PointerGetDatum(q), pool);
	*cand = MemoryContextAlloc(cxt, sizeof(int32) * Max(SPI_processed, 1));
	n = 0;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull && DatumGetInt32(d) >= 0 && DatumGetInt32(d) < m->n_items)
			(*cand)[n++] = DatumGetInt32(d);
	}
	return n;
}

/*
 * Ranks the candidates by their exact scores; -1 when fewer than k are
 * left after the exclusions while the catalogue holds more items.
 */
static int
rank_candidates(const ServedModel *m, float ubias, const float *uf,
				const int32 *cand, int32 n_cand, const int32 *excluded,
				int32 n_excluded, const bool *blocked, int k, RsScored *out)
{
	RsTopK		top;
	RsFactorScorer sc;

	top.h = out;
	top.n = 0;
	top.k = Max(Min(k, m->n_items), 1);
	sc = served_scorer(m);
	for (int32 c = 0; c < n_cand; c++)
	{
		int32		i = cand[c];

		if (n_excluded > 0 &&
			bsearch(&i, excluded, n_excluded, sizeof(int32), rs_cmp_int32) != NULL)
			continue;
		if (blocked && blocked[i])
			continue;
		rs_topk_offer(&top, rs_score_item(&sc, true, ubias, uf, i), i);
	}
	if (top.n < top.k && n_cand < m->n_items)
		return -1;
	rs_topk_sort(&top);
	return top.n;
}

/*
 * The ranked list for a user of a factor model from the index's
 * candidates, into out (room for k); -1 when every item is to be scored
 * instead: the model's score is not the dot product alone, greedy
 * constraints or freshness are asked for, there is no index, or too few
 * candidates are left.  Inside SPI; the candidates are allocated in the
 * current memory context.
 */
int
rs_rank_from_index(ServedModel *m, const Constraints *cons, const ItemAttrs *attrs,
				float ubias, const float *uf, int k, const int32 *excluded,
				int32 n_excluded, RsScored *out)
{
	int32	   *cand;
	int32		pool;
	int32		n_cand;

	if (uf == NULL || is_knn(m) || m->factors == NULL ||
		m->bias != NULL || is_explicit(m) || m->sm.factors <= 0 ||
		m->sm.algorithm == RS_ALG_POPULARITY ||
		cons->greedy || (attrs && attrs->fresh))
		return -1;
	pool = (int32) Min((int64) m->n_items,
					   (int64) Max(INDEX_POOL_FACTOR * (int64) k, INDEX_POOL_MIN) + n_excluded);
	n_cand = index_candidates(m, uf, pool, CurrentMemoryContext, &cand);
	if (n_cand < 0)
		return -1;
	return rank_candidates(m, ubias, uf, cand, n_cand, excluded, n_excluded,
						   attrs ? attrs->blocked : NULL, k, out);
}
