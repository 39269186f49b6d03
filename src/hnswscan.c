/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  Ordered scans of a recsys_hnsw index: ORDER BY col <op> q.
 *
 * A scan descends greedily through the upper layers to an entry point on
 * layer 0, then runs a best-first search there whose state is kept, so it
 * can be resumed: the first round stops as soon as the ef_search nearest
 * elements found so far are settled (the usual HNSW search) and returns
 * them nearest first.  When the executor asks for more rows (a WHERE
 * clause rejected some, or LIMIT is larger than ef_search), the search
 * continues with a candidate list ef_search larger and returns the next
 * ef_search elements, and so on until the graph is exhausted or
 * recsys.max_scan_tuples rows have been returned.  An exhausted graph is
 * followed by one pass over every page for the elements the graph search
 * could not reach, so a filter never loses a row to the graph's shape.
 *
 * Ordering guarantee: rows come back in exact distance order within each
 * round.  A later round can find an element nearer than one returned by
 * an earlier round; it is then returned later (out of order), never lost.
 * Queries whose LIMIT is within ef_search and whose filter keeps the
 * first round's rows therefore see exact order.  A query that needs a
 * strict order past that can sort the index scan's output again:
 *	 SELECT * FROM (SELECT ... ORDER BY v <-> q LIMIT 100) s ORDER BY v <-> q LIMIT 10;
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <math.h>

#include "access/relscan.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* the visited set: an open-addressing hash of packed index TIDs */
typedef struct VisitedEntry
{
	uint64		key;
	char		status;
} VisitedEntry;

#define SH_PREFIX visited
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) (murmurhash32((uint32) (k)) ^ murmurhash32((uint32) ((k) >> 32) + 0x9e3779b9))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

typedef struct ScanItem
{
	uint64		key;
	float		dist;
	ItemPointerData heaptid;
} ScanItem;

typedef struct HnswScanOpaqueData
{
	MemoryContext cxt;			/* everything of one scan; reset by rescan */
	bool		started;
	bool		done;
	bool		swept;			/* the graph was exhausted; pages read in order */
	HnswMetaPageData meta;
	float	   *q;				/* the query, unit length for cosine */
	visited_hash *visited;
	Buffer		buf;			/* last page read, kept pinned */

	HnswCandidate *cand;		/* min-heap of elements to expand */
	int			ncand;
	int			capcand;
	ScanItem   *pend;			/* found, not returned yet */
	int			npend;
	int			cappend;
	float	   *all;			/* distances of every element found */
	int			nall;
	int			capall;
	float	   *w;				/* max-heap: the efTotal best distances */
	int			nw;
	int			efTotal;

	ScanItem   *out;			/* this round's rows */
	int			nout;
	int			pos;
	int64		returned;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/* the opclass's own order, on the stored vector */
static inline float
query_dist(HnswScanOpaque so, const float *x)
{
	switch (so->meta.kind)
	{
		case HNSW_KIND_L2:
			return rs_l2_squared(so->q, x, so->meta.dim);
		default:
			return -rs_dot(so->q, x, so->meta.dim);
	}
}

/* the operator's value from query_dist, for xs_orderbyvals */
static inline double
order_value(HnswScanOpaque so, float d)
{
	switch (so->meta.kind)
	{
		case HNSW_KIND_L2:
			return sqrt((double) Max(d, 0.0f));
		case HNSW_KIND_COSINE:
			return 1.0 + (double) d;
		default:
			return (double) d;
	}
}

static Page
scan_page(IndexScanDesc scan, BlockNumber blk)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	so->buf = ReleaseAndReadBuffer(so->buf, scan->indexRelation, blk);
	LockBuffer(so->buf, BUFFER_LOCK_SHARE);
	return BufferGetPage(so->buf);
}

/* the element at key, or NULL if it is freed (page must be share-locked) */
static HnswElementTuple
page_element(Page page, uint64 key)
{
	HnswElementTuple t;

	if (HnswKeyOff(key) > PageGetMaxOffsetNumber(page))
		return NULL;
	t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, HnswKeyOff(key)));
	if (t->flags & HNSW_ELEM_FREE)
		return NULL;
	return t;
}

/* copies the neighbours of key on a layer into out (2m long); count */
static int
read_neighbors(IndexScanDesc scan, uint64 key, int layer, uint64 *out)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Page		page = scan_page(scan, HnswKeyBlk(key));
	HnswElementTuple t = page_element(page, key);
	int			n = 0;

	if (t && layer <= t->level)
	{
		int			m = so->meta.m;
		ItemPointer nb = HnswElementNeighbors(t, so->meta.sdim) + HnswLayerStart(m, layer);

		for (int j = 0; j < HnswLayerSlots(m, layer); j++)
			if (ItemPointerIsValid(&nb[j]))
				out[n++] = HnswTidKey(ItemPointerGetBlockNumber(&nb[j]),
									  ItemPointerGetOffsetNumber(&nb[j]));
	}
	LockBuffer(so->buf, BUFFER_LOCK_UNLOCK);
	return n;
}

/* distance and heap TID of key; false if the slot is free */
static bool
read_element(IndexScanDesc scan, uint64 key, float *dist, ItemPointer heaptid)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Page		page = scan_page(scan, HnswKeyBlk(key));
	HnswElementTuple t = page_element(page, key);

	if (t)
	{
		*dist = query_dist(so, t->vec);
		*heaptid = t->heaptid;
	}
	LockBuffer(so->buf, BUFFER_LOCK_UNLOCK);
	return t != NULL;
}

/* ---- small heaps --------------------------------------------------- */

static void
cand_push(HnswScanOpaque so, uint64 key, float dist)
{
	int			i;

	if (so->ncand == so->capcand)
	{
		so->capcand *= 2;
		so->cand = repalloc_huge(so->cand, sizeof(HnswCandidate) * so->capcand);
	}
	i = so->ncand++;
	while (i > 0 && so->cand[(i - 1) / 2].dist > dist)
	{
		so->cand[i] = so->cand[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	so->cand[i].id = key;
	so->cand[i].dist = dist;
}

static HnswCandidate
cand_pop(HnswScanOpaque so)
{
	HnswCandidate top = so->cand[0];
	HnswCandidate last = so->cand[--so->ncand];
	int			i = 0;

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= so->ncand)
			break;
		if (c + 1 < so->ncand && so->cand[c + 1].dist < so->cand[c].dist)
			c++;
		if (so->cand[c].dist >= last.dist)
			break;
		so->cand[i] = so->cand[c];
		i = c;
	}
	if (so->ncand > 0)
		so->cand[i] = last;
	return top;
}

static void
w_sift_down(float *w, int n, int i)
{
	float		x = w[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && w[c + 1] > w[c])
			c++;
		if (w[c] <= x)
			break;
		w[i] = w[c];
		i = c;
	}
	w[i] = x;
}

static void
w_add(HnswScanOpaque so, float d)
{
	if (so->nw < so->efTotal)
	{
		int			i = so->nw++;

		while (i > 0 && so->w[(i - 1) / 2] < d)
		{
			so->w[i] = so->w[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		so->w[i] = d;
	}
	else if (d < so->w[0])
	{
		so->w[0] = d;
		w_sift_down(so->w, so->nw, 0);
	}
}

static int
float_cmp(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* pend is a min-heap by (distance, key): rounds pop their rows from it */
static inline bool
item_before(const ScanItem *x, const ScanItem *y)
{
	return x->dist < y->dist || (x->dist == y->dist && x->key < y->key);
}

static void
pend_push(HnswScanOpaque so, const ScanItem *it)
{
	int			i;

	if (so->npend == so->cappend)
	{
		so->cappend *= 2;
		so->pend = repalloc_huge(so->pend, sizeof(ScanItem) * so->cappend);
	}
	i = so->npend++;
	while (i > 0 && item_before(it, &so->pend[(i - 1) / 2]))
	{
		so->pend[i] = so->pend[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	so->pend[i] = *it;
}

static ScanItem
pend_pop(HnswScanOpaque so)
{
	ScanItem	top = so->pend[0];
	ScanItem	last = so->pend[--so->npend];
	int			i = 0;

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= so->npend)
			break;
		if (c + 1 < so->npend && item_before(&so->pend[c + 1], &so->pend[c]))
			c++;
		if (!item_before(&so->pend[c], &last))
			break;
		so->pend[i] = so->pend[c];
		i = c;
	}
	if (so->npend > 0)
		so->pend[i] = last;
	return top;
}

/* records a newly found element */
static void
found(HnswScanOpaque so, uint64 key, float dist, ItemPointer heaptid)
{
	if (so->nall == so->capall)
	{
		so->capall *= 2;
		so->all = repalloc_huge(so->all, sizeof(float) * so->capall);
	}
	so->all[so->nall++] = dist;
	w_add(so, dist);
	cand_push(so, key, dist);
	/* elements whose row VACUUM has removed are walked through, not returned */
	if (ItemPointerIsValid(heaptid))
	{
		ScanItem	it;

		it.key = key;
		it.dist = dist;
		it.heaptid = *heaptid;
		pend_push(so, &it);
	}
}

static bool
visit(HnswScanOpaque so, uint64 key)
{
	bool		was;

	visited_insert(so->visited, key, &was);
	return !was;
}

/* greedy descent from the entry point to layer 1, then the first round */
static void
scan_start(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	uint64		cur = HnswTidKey(so->meta.entryBlkno, so->meta.entryOffno);
	float		curd;
	ItemPointerData curtid;
	uint64	   *nb = palloc(sizeof(uint64) * 2 * so->meta.m);

	so->visited = visited_create(so->cxt, 2048, NULL);
	so->capcand = 256;
	so->cand = palloc(sizeof(HnswCandidate) * so->capcand);
	so->cappend = 256;
	so->pend = palloc(sizeof(ScanItem) * so->cappend);
	so->capall = 256;
	so->all = palloc(sizeof(float) * so->capall);

	if (!read_element(scan, cur, &curd, &curtid))
	{
		so->done = true;
		return;
	}
	for (int lc = so->meta.entryLevel; lc >= 1; lc--)
	{
		bool		changed = true;

		while (changed)
		{
			int			n = read_neighbors(scan, cur, lc, nb);

			CHECK_FOR_INTERRUPTS();
			changed = false;
			for (int i = 0; i < n; i++)
			{
				float		d;
				ItemPointerData t;

				if (read_element(scan, nb[i], &d, &t) && d < curd)
				{
					cur = nb[i];
					curd = d;
					curtid = t;
					changed = true;
				}
			}
		}
	}

	so->efTotal = hnsw_ef_search;
	so->w = palloc(sizeof(float) * so->efTotal);
	so->nw = 0;
	visit(so, cur);
	found(so, cur, curd, &curtid);
}

/* one round: search on with a larger list, then take the next rows */
static void
scan_round(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	int			m = so->meta.m;
	uint64	   *nb = palloc(sizeof(uint64) * 2 * m);
	int			take;

	if (so->nout > 0)
	{
		/* a later round: widen the list and recompute its bound */
		float	   *tmp = palloc(sizeof(float) * so->nall);

		so->efTotal += hnsw_ef_search;
		so->w = repalloc(so->w, sizeof(float) * so->efTotal);
		memcpy(tmp, so->all, sizeof(float) * so->nall);
		qsort(tmp, so->nall, sizeof(float), float_cmp);
		so->nw = 0;
		for (int i = 0; i < Min(so->nall, so->efTotal); i++)
			w_add(so, tmp[i]);
		pfree(tmp);
	}

	while (so->ncand > 0)
	{
		HnswCandidate c = so->cand[0];
		int			n;

		if (so->nw >= so->efTotal && c.dist > so->w[0])
			break;
		cand_pop(so);
		CHECK_FOR_INTERRUPTS();

		n = read_neighbors(scan, c.id, 0, nb);
		for (int i = 0; i < n; i++)
		{
			float		d;
			ItemPointerData t;

			if (!visit(so, nb[i]))
				continue;
			if (read_element(scan, nb[i], &d, &t))
				found(so, nb[i], d, &t);
		}
	}

	/*
	 * The graph is exhausted.  HNSW graphs need not be strongly connected
	 * (an element can lose every in-link to pruning), so before reporting
	 * the end, read every page once and queue the elements the search
	 * never reached: a filter then still sees every row.
	 */
	if (so->ncand == 0 && !so->swept && so->npend < hnsw_ef_search)
	{
		Relation	index = scan->indexRelation;
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);

		so->swept = true;
		for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		{
			Page		page;
			OffsetNumber maxoff;

			CHECK_FOR_INTERRUPTS();
			page = scan_page(scan, blk);
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				uint64		key = HnswTidKey(blk, off);
				HnswElementTuple t = page_element(page, key);
				ScanItem	it;

				if (t == NULL || !ItemPointerIsValid(&t->heaptid) || !visit(so, key))
					continue;
				it.key = key;
				it.dist = query_dist(so, t->vec);
				it.heaptid = t->heaptid;
				pend_push(so, &it);
			}
			LockBuffer(so->buf, BUFFER_LOCK_UNLOCK);
		}
	}

	take = Min(so->npend, hnsw_ef_search);
	if (so->out)
		pfree(so->out);
	so->out = palloc(sizeof(ScanItem) * Max(take, 1));
	for (int i = 0; i < take; i++)
		so->out[i] = pend_pop(so);
	so->nout = take;
	so->pos = 0;
	if (take == 0 && so->ncand == 0)
		so->done = true;
	pfree(nb);
}

IndexScanDesc
hnsw_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys_hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	so->buf = InvalidBuffer;
	scan->opaque = so;
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	return scan;
}

void
hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	/* the counts were fixed by beginscan */
	(void) nkeys;
	(void) norderbys;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	if (BufferIsValid(so->buf))
		ReleaseBuffer(so->buf);
	so->buf = InvalidBuffer;
	MemoryContextReset(so->cxt);
	so->started = false;
	so->done = false;
	so->swept = false;
	so->out = NULL;
	so->nout = 0;
	so->pos = 0;
	so->ncand = so->npend = so->nall = so->nw = 0;
	so->returned = 0;
}

/* reads the metapage and the query; false if the scan returns nothing */
static bool
scan_setup(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Embedding  *e;

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a recsys_hnsw index can only be scanned in ORDER BY distance order"),
				 errhint("Use ORDER BY column <operator> value LIMIT k.")));

	/* counted like PostgreSQL's own index scans (pg_stat_*_indexes) */
	pgstat_count_index_scan(scan->indexRelation);
	so->meta = hnsw_read_meta(scan->indexRelation);
	if (scan->orderByData[0].sk_flags & SK_ISNULL)
		return false;
	e = hnsw_datum_embedding(scan->orderByData[0].sk_argument);
	if (so->meta.entryLevel < 0)
		return false;
	hnsw_check_dim(scan->indexRelation, e->dim, so->meta.dim);

	so->q = palloc(sizeof(float) * e->dim);
	if (so->meta.kind == HNSW_KIND_COSINE)
	{
		/* a zero query has no direction: every cosine distance is NaN */
		if (!hnsw_make_stored(HNSW_KIND_COSINE, e->x, e->dim, so->q))
			return false;
	}
	else
		memcpy(so->q, e->x, sizeof(float) * e->dim);
	return true;
}

bool
hnsw_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->cxt);

	/* forward only (amcanbackward is false) */
	(void) dir;
	if (!so->started)
	{
		so->started = true;
		if (!scan_setup(scan))
			so->done = true;
		else
		{
			scan_start(scan);
			if (!so->done)
				scan_round(scan);
		}
	}

	for (;;)
	{
		if (so->pos < so->nout)
		{
			ScanItem   *it = &so->out[so->pos++];

			scan->xs_heaptid = it->heaptid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			scan->xs_orderbyvals[0] = Float8GetDatum(order_value(so, it->dist));
			scan->xs_orderbynulls[0] = false;
			so->returned++;
			MemoryContextSwitchTo(old);
			return true;
		}
		if (so->done || so->returned >= hnsw_max_scan_tuples)
			break;
		scan_round(scan);
		if (so->nout == 0)
			break;
	}
	MemoryContextSwitchTo(old);
	return false;
}

void
hnsw_endscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (BufferIsValid(so->buf))
		ReleaseBuffer(so->buf);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
