/*-------------------------------------------------------------------------
 *
 * serve_all.c
 *	  recsys.recommend_all(model, k, exclude_seen, exclude, ..., users):
 *	  lists for every user of a model, scored a block at a time and ranked
 *	  on worker threads.
 *
 * For every user of the model, or for those in users (keys as text; keys
 * the model does not know are left out: recommend() serves them).
 * Users are read in dense-index order through a cursor, ALL_BLOCK_USERS
 * at a time; one sgemm scores a block against every item, and each user's
 * row of scores goes through the same ranking as recommend().  Rows go
 * to a tuplestore, which spills to disk beyond work_mem.  Keys come back
 * as text: a set-returning function cannot take its result type from the
 * catalog, and there is no argument to take it from.
 *
 * An entry point: calls the serving files below it (see serve_int.h),
 * core/score.c (block scoring) and parallel.c (the threads).
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* users scored per sgemm block */
#define ALL_BLOCK_USERS 256

/*
 * One user's exclusions in recommend_all: the list every user shares
 * (fixed, sorted) merged with the user's seen items (sorted), into out
 * (room for both); returns the length.
 */
static int32
user_exclusions(const int32 *fixed, int32 n_fixed, const int32 *seen,
				int32 nseen, int32 *out)
{
	int32		n = n_fixed;

	memcpy(out, fixed, sizeof(int32) * n_fixed);
	if (nseen > 0)
	{
		memcpy(out + n, seen, sizeof(int32) * nseen);
		n += nseen;
		if (n_fixed > 0)
			n = rs_sort_unique(out, n);
	}
	return n;
}

/*
 * A block of users ranked on worker threads (recommend_all without greedy
 * constraints): everything the threads touch was prepared beforehand, and
 * each user's list depends only on that user's row, never on the thread.
 */
typedef struct BlockRanking
{
	int32		n_items;
	int			k;				/* room per user in out */
	const ItemAttrs *attrs;
	float	   *scores;			/* a row of n_items per user */
	int32	  **excluded;		/* per user: sorted item indexes */
	int32	   *n_excluded;
	RsScored	   *out;			/* a row of k per user */
	int		   *n_out;
} BlockRanking;

static void
rank_block_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	BlockRanking *br = ctx;

	(void) thread;
	for (int64_t b = begin; b < end; b++)
		br->n_out[b] = rs_rank_plain(br->n_items, br->k, br->attrs,
								  br->scores + b * br->n_items,
								  br->excluded[b], br->n_excluded[b],
								  br->out + b * br->k);
}

#define ALL_CONSTRAINTS 4
#define ALL_USERS (ALL_CONSTRAINTS + C_FORBIDDEN + 1)
#define ALL_VERSION (ALL_USERS + 1)

PG_FUNCTION_INFO_V1(rs_recommend_all);
Datum
rs_recommend_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = rs_checked_model(fcinfo);
	int			k = rs_checked_k(fcinfo, 1);
	bool		exclude_seen = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);
	Constraints cons;
	KeyIO		io;
	ServedModel *m;
	ItemAttrs  *attrs;
	Portal		portal;
	int			pinned;
	int			nf;
	float	   *ublock;
	float	   *ubias;
	float	   *scores;
	int32	   *fixed;
	int32		n_fixed;
	int32	   *excluded;
	RsScored	   *ranked;
	MemoryContext batch_cxt;
	MemoryContext outer = CurrentMemoryContext;
	bool		plain;
	BlockRanking br;
	int			threads = rs_default_threads();
	Oid			types[3] = {TEXTOID, INT4OID, TEXTARRAYOID};
	Datum		values[3];

	rs_parse_constraints(fcinfo, ALL_CONSTRAINTS, k, true, &cons);
	InitMaterializedSRF(fcinfo, 0);
	rs_keyio_init(&io, TEXTOID);

	SPI_connect();
	m = rs_served_model(name, rs_version_arg(fcinfo, ALL_VERSION));
	rs_check_vectors(m, &cons);
	attrs = rs_item_attrs(fcinfo, m, &cons);
	nf = m->sm.factors;

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(m->sm.version);
	values[2] = PG_ARGISNULL(ALL_USERS) ? (Datum) 0 : PG_GETARG_DATUM(ALL_USERS);
	pinned = rs_pin_search_path();
	portal = SPI_cursor_open_with_args(NULL,
									   PG_ARGISNULL(ALL_USERS) ?
									   "SELECT user_key, bias, factors, seen, ratings FROM recsys.user_factors "
									   "WHERE model = $1 AND version = $2 ORDER BY user_idx" :
									   "SELECT user_key, bias, factors, seen, ratings FROM recsys.user_factors "
									   "WHERE model = $1 AND version = $2 AND user_key = ANY ($3) "
									   "ORDER BY user_idx",
									   PG_ARGISNULL(ALL_USERS) ? 2 : 3, types, values, NULL, true, 0);
	rs_unpin_search_path(pinned);

	ublock = MemoryContextAlloc(outer, sizeof(float) * ALL_BLOCK_USERS * Max(nf, 1));
	ubias = MemoryContextAlloc(outer, sizeof(float) * ALL_BLOCK_USERS);
	scores = MemoryContextAllocHuge(outer, sizeof(float) * ALL_BLOCK_USERS * (Size) Max(m->n_items, 1));
	ranked = MemoryContextAlloc(outer, sizeof(RsScored) * Max(Min(k, m->n_items), 1));
	/* the exclusions every user shares (the exclude array) */
	{
		MemoryContext old = MemoryContextSwitchTo(outer);

		fixed = rs_call_exclusions(fcinfo, 3, m, NULL, 0, &n_fixed);
		excluded = palloc(sizeof(int32) * ((Size) m->n_items + n_fixed + 1));
		MemoryContextSwitchTo(old);
	}
	batch_cxt = AllocSetContextCreate(outer, "recsys recommend_all batch",
									  ALLOCSET_DEFAULT_SIZES);
	plain = !cons.greedy && !is_knn(m);
	if (plain)
	{
		br.n_items = m->n_items;
		br.k = Max(Min(k, m->n_items), 1);
		br.attrs = attrs;
		br.out = MemoryContextAllocHuge(outer, sizeof(RsScored) * ALL_BLOCK_USERS * (Size) br.k);
		br.n_out = MemoryContextAlloc(outer, sizeof(int) * ALL_BLOCK_USERS);
	}

	for (;;)
	{
		uint64		nb;
		SPITupleTable *tt;

		SPI_cursor_fetch(portal, true, ALL_BLOCK_USERS);
		nb = SPI_processed;
		tt = SPI_tuptable;
		if (nb == 0)
			break;

		/* gather the block's factors, then score it against every item */
		for (uint64 b = 0; b < nb; b++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(tt->vals[b], tt->tupdesc, 2, &isnull);

			ubias[b] = isnull ? 0.0f : DatumGetFloat4(d);
			d = SPI_getbinval(tt->vals[b], tt->tupdesc, 3, &isnull);
			if (!isnull && nf > 0)
				memcpy(ublock + b * nf, DatumGetEmbedding(d)->x, sizeof(float) * nf);
		}
		if (nf > 0 && m->factors != NULL && m->sm.algorithm != RS_ALG_POPULARITY)
		{
			RsFactorScorer s = served_scorer(m);

			rs_score_users(&s, (int) nb, ublock, ubias, threads, scores);
		}
		else
		{
			for (uint64 b = 0; b < nb; b++)
				rs_score_items(m, true, ubias[b], NULL, scores + b * m->n_items);
		}

		if (plain)
		{
			/* exclusions and keys first, then every list at once */
			MemoryContext old = MemoryContextSwitchTo(batch_cxt);
			char	  **ukeys = palloc(sizeof(char *) * nb);

			br.excluded = palloc(sizeof(int32 *) * nb);
			br.n_excluded = palloc(sizeof(int32) * nb);
			for (uint64 b = 0; b < nb; b++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(tt->vals[b], tt->tupdesc, 4, &isnull);
				ArrayType  *seen = isnull ? NULL : DatumGetArrayTypeP(d);
				int32		nseen = seen ? ArrayGetNItems(ARR_NDIM(seen), ARR_DIMS(seen)) : 0;
				int32	   *ex = palloc(sizeof(int32) * ((Size) n_fixed + nseen + 1));

				ukeys[b] = TextDatumGetCString(SPI_getbinval(tt->vals[b], tt->tupdesc, 1, &isnull));
				br.excluded[b] = ex;
				br.n_excluded[b] = user_exclusions(fixed, n_fixed,
												   seen ? (int32 *) ARR_DATA_PTR(seen) : NULL,
												   exclude_seen ? nseen : 0, ex);
			}
			br.scores = scores;
			rs_parallel_for((int64_t) nb, threads, rank_block_range, &br);
			for (uint64 b = 0; b < nb; b++)
			{
				Datum		ud = rs_keyio_from_text(&io, ukeys[b]);

				rs_emit_ranked(rsinfo, m, &io, &ud, br.out + b * br.k, br.n_out[b]);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_cxt);
		}
		else
		{
			/* one user at a time: greedy constraints and neighbourhood scoring */
			for (uint64 b = 0; b < nb; b++)
			{
				bool		isnull;
				Datum		ud;
				int32		n_excluded;
				int			n_ranked;
				Datum		d = SPI_getbinval(tt->vals[b], tt->tupdesc, 4, &isnull);
				MemoryContext old = MemoryContextSwitchTo(batch_cxt);

				ArrayType  *seen = isnull ? NULL : DatumGetArrayTypeP(d);
				int32		nseen = seen ? ArrayGetNItems(ARR_NDIM(seen), ARR_DIMS(seen)) : 0;
				char	   *ukey = TextDatumGetCString(SPI_getbinval(tt->vals[b], tt->tupdesc, 1, &isnull));

				if (is_knn(m))
				{
					/*
					 * A neighbourhood model scores from the user's items; user_knn
					 * also reads the user's neighbours, in an SPI connection of
					 * its own so that its memory goes with this user's batch.
					 */
					RsKnnUser	u;

					d = SPI_getbinval(tt->vals[b], tt->tupdesc, 5, &isnull);
					u.n = nseen;
					u.items = seen ? (int32 *) ARR_DATA_PTR(seen) : NULL;
					u.ratings = isnull ? NULL : (float *) ARR_DATA_PTR(DatumGetArrayTypeP(d));
					u.bias = ubias[b];
					SPI_connect();
					rs_knn_scores(m, &u, ukey, scores + b * m->n_items);
					SPI_finish();
				}
				n_excluded = user_exclusions(fixed, n_fixed,
											 seen ? (int32 *) ARR_DATA_PTR(seen) : NULL,
											 exclude_seen ? nseen : 0, excluded);
				n_ranked = rs_rank_items(m, &cons, attrs, scores + b * m->n_items,
									  excluded, n_excluded, ranked);
				ud = rs_keyio_from_text(&io, ukey);
				/* (the tuplestore copies each row into its own memory) */
				rs_emit_ranked(rsinfo, m, &io, &ud, ranked, n_ranked);
				MemoryContextSwitchTo(old);
				MemoryContextReset(batch_cxt);
			}
		}
		SPI_freetuptable(tt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return (Datum) 0;
}
