/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  Ordered scans of a recsys_hnsw index: ORDER BY col <op> q.
 *
 * A scan descends greedily through the upper layers to an entry point on
 * layer 0, then runs a best-first search there whose state is kept, so it
 * can be resumed: the first round stops as soon as the ef_search nearest
 * elements found so far are settled (the usual HNSW search) and returns
 * them nearest first, with the next nearest found.  When the executor
 * asks for more rows (a WHERE clause rejected some, or LIMIT is larger),
 * the search continues with a candidate list ef_search larger and returns
 * the next ef_search + 1 elements, and so on until the graph is
 * exhausted or recsys.max_scan_tuples rows have been returned.  An
 * exhausted graph is followed by one pass over every page for the
 * elements the graph search could not reach, so a filter never loses a
 * row to the graph's shape.
 *
 * The index holds vectors at half precision (hnsw.h), so each row reports
 * a lower bound of its exact distance and the executor recomputes the
 * exact one from the heap row (xs_recheckorderby); it holds a row back
 * until no later row of the index can come before it.
 *
 * Ordering guarantee: rows come back in exact distance order within each
 * round.  A later round can find an element nearer than one returned by
 * an earlier round; it is then returned later (out of order), never lost.
 * Queries whose LIMIT is within ef_search and whose filter keeps the
 * first round's rows therefore see exact order.  A query that needs a
 * strict order past that can sort the index scan's output again:
 *	 SELECT * FROM (SELECT ... ORDER BY v <-> q LIMIT 100) s ORDER BY v <-> q LIMIT 10;
 *
 * Elements are read through copies (hnswcache.c): the backend's cache of
 * the index when it is current and has room, else the scan's own.  The
 * search keeps a candidate heap, the efTotal best distances, the found
 * elements that may be returned (pend) and those outside the current
 * list (deferred, taken up again by a wider round).
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <float.h>
#include <math.h>

#include "access/relscan.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* visited elements of a scan that shares the backend cache's marks */
typedef struct VisitedEntry
{
	uint32		key;
	char		status;
} VisitedEntry;

#define SH_PREFIX visited
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE uint32
#define SH_KEY key
#define SH_HASH_KEY(tb, k) murmurhash32(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

typedef struct ScanItem
{
	uint32		key;
	float		dist;
	ItemPointerData heaptid;
} ScanItem;

/* an element to expand, and its slot: in pc if ref >= 0, else in oc at -ref - 1 */
typedef struct ScanCand
{
	uint32		key;
	float		dist;
	int32		ref;
} ScanCand;

typedef struct HnswScanOpaqueData
{
	MemoryContext cxt;			/* everything of one scan; reset by rescan */
	bool		started;
	bool		done;
	bool		swept;			/* the graph was exhausted; pages read in order */
	HnswMetaPageData meta;
	float	   *q;				/* the query, unit length for cosine */
	double		qnorm;			/* |q| */
	double		slack;			/* relative rounding of a float distance */
	float	   *tmp;			/* one vector read from a page */
	Buffer		buf;			/* last page read, kept pinned */

	HnswCache  *pc;				/* the backend's cache of the index, pinned */
	HnswCache  *oc;				/* this scan's own, for what pc has no room for */
	bool		ownsMarks;		/* visited marks go in pc->visited */
	visited_hash *visited;		/* else here (for pc's elements) */

	ScanCand   *cand;			/* min-heap of elements to expand */
	int			ncand;
	int			capcand;
	ScanCand   *deferred;		/* found, too far for this round's list */
	int			ndeferred;
	int			capdeferred;
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
	int			rounds;			/* rounds run so far */
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

/*
 * What a row reports in xs_orderbyvals: a lower bound of the operator's
 * value on the exact heap vector x, from the distance d to the stored
 * vector (err away from x, norm its length).  The executor recomputes the
 * exact value and errors out if it is below the reported one, so the
 * bound allows for err (the triangle inequality; Cauchy-Schwarz for
 * inner products) and for the rounding of both float computations
 * (slack), and is rounded down to a float.
 */
static float
lower_bound(HnswScanOpaque so, float d, float err, float norm)
{
	double		g = so->slack;
	double		lb;
	float		f;

	switch (so->meta.kind)
	{
		case HNSW_KIND_L2:
			lb = (sqrt(Max((double) d, 0.0) / (1.0 + g)) - (double) err) * (1.0 - g);
			lb = Max(lb, 0.0);
			break;
		case HNSW_KIND_COSINE:
			/* q and the stored vectors are of unit length, up to rounding */
			lb = 1.0 + (double) d - (double) err * (1.0 + g) - 8.0 * g;
			lb = Max(lb, 0.0);
			break;
		default:
			lb = (double) d - so->qnorm * (1.0 + g) *
				((double) err + g * (2.0 * (double) norm + (double) err));
			break;
	}
	if (isnan(lb) || isinf(lb))
		return so->meta.kind == HNSW_KIND_IP ? -INFINITY : 0.0f;
	f = (float) lb;
	if ((double) f > lb)
		f = nextafterf(f, -INFINITY);
	return f;
}

/*
 * Where the copy of element key is: the backend's cache if it has it or
 * room for its page, else this scan's own.  False if there is no element
 * there (which only a change in progress can show).
 */
static inline bool
get_elem(IndexScanDesc scan, uint32 key, HnswCache **cp, int *sp)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswCache  *c = so->pc;
	int			s;

	if (c)
	{
		s = hnsw_cache_lookup(c, key);
		if (s < 0)
			s = hnsw_cache_load(c, scan->indexRelation, key, &so->buf);
		if (s >= 0)
		{
			*cp = c;
			*sp = s;
			return true;
		}
	}
	if (so->oc == NULL)
		so->oc = hnsw_cache_create(so->cxt, so->meta.m, so->meta.sdim);
	c = so->oc;
	s = hnsw_cache_lookup(c, key);
	if (s < 0)
		s = hnsw_cache_load(c, scan->indexRelation, key, &so->buf);
	*cp = c;
	*sp = s;
	return s >= 0;
}

/* marks an element visited; true if it was not */
static inline bool
visit(HnswScanOpaque so, HnswCache *c, int s)
{
	if (c == so->oc || so->ownsMarks)
	{
		if (c->visited[s] == c->epoch)
			return false;
		c->visited[s] = c->epoch;
		return true;
	}
	else
	{
		bool		was;

		visited_insert(so->visited, HnswCacheSlot(c, s)->key, &was);
		return !was;
	}
}

static bool
was_visited(HnswScanOpaque so, uint32 key)
{
	int			s;

	if (so->pc && (s = hnsw_cache_lookup(so->pc, key)) >= 0)
	{
		if (so->ownsMarks)
			return so->pc->visited[s] == so->pc->epoch;
		return visited_lookup(so->visited, key) != NULL;
	}
	if (so->oc && (s = hnsw_cache_lookup(so->oc, key)) >= 0)
		return so->oc->visited[s] == so->oc->epoch;
	return false;
}

/* ---- small heaps --------------------------------------------------- */

static void
cand_push(HnswScanOpaque so, uint32 key, float dist, int32 ref)
{
	int			i;

	if (so->ncand == so->capcand)
	{
		so->capcand *= 2;
		so->cand = repalloc_huge(so->cand, sizeof(ScanCand) * so->capcand);
	}
	i = so->ncand++;
	while (i > 0 && so->cand[(i - 1) / 2].dist > dist)
	{
		so->cand[i] = so->cand[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	so->cand[i].key = key;
	so->cand[i].dist = dist;
	so->cand[i].ref = ref;
}

static ScanCand
cand_pop(HnswScanOpaque so)
{
	ScanCand	top = so->cand[0];
	ScanCand	last = so->cand[--so->ncand];
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

/*
 * pend is appended to during a round and made a min-heap by (distance,
 * key) at its end, when the round's rows are popped from it.
 */
static inline bool
item_before(const ScanItem *x, const ScanItem *y)
{
	return x->dist < y->dist || (x->dist == y->dist && x->key < y->key);
}

static void
pend_sift_down(ScanItem *a, int n, int i)
{
	ScanItem	x = a[i];

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && item_before(&a[c + 1], &a[c]))
			c++;
		if (!item_before(&a[c], &x))
			break;
		a[i] = a[c];
		i = c;
	}
	a[i] = x;
}

static void
pend_heapify(HnswScanOpaque so)
{
	for (int i = so->npend / 2 - 1; i >= 0; i--)
		pend_sift_down(so->pend, so->npend, i);
}

static ScanItem
pend_pop(HnswScanOpaque so)
{
	ScanItem	top = so->pend[0];

	so->pend[0] = so->pend[--so->npend];
	if (so->npend > 0)
		pend_sift_down(so->pend, so->npend, 0);
	return top;
}

static void
pend_add(HnswScanOpaque so, uint32 key, float dist, const ItemPointerData *heaptid)
{
	ScanItem   *it;

	if (so->npend == so->cappend)
	{
		so->cappend *= 2;
		so->pend = repalloc_huge(so->pend, sizeof(ScanItem) * so->cappend);
	}
	it = &so->pend[so->npend++];
	it->key = key;
	it->dist = dist;
	it->heaptid = *heaptid;
}

static inline int32
slot_ref(HnswScanOpaque so, HnswCache *c, int s)
{
	return c == so->pc ? s : -s - 1;
}

static inline HnswSlot *
ref_slot(HnswScanOpaque so, int32 ref, HnswCache **cp, int *sp)
{
	*cp = ref >= 0 ? so->pc : so->oc;
	*sp = ref >= 0 ? ref : -ref - 1;
	return HnswCacheSlot(*cp, *sp);
}

/* records a newly found element */
static void
found(HnswScanOpaque so, const HnswSlot *sl, float dist, int32 ref)
{
	if (so->nall == so->capall)
	{
		so->capall *= 2;
		so->all = repalloc_huge(so->all, sizeof(float) * so->capall);
	}
	so->all[so->nall++] = dist;
	if (so->nw < so->efTotal || dist < so->w[0])
	{
		w_add(so, dist);
		cand_push(so, sl->key, dist, ref);
		/* elements whose row VACUUM has removed are walked through, not returned */
		if (ItemPointerIsValid(&sl->tid))
			pend_add(so, sl->key, lower_bound(so, dist, sl->err, sl->norm), &sl->tid);
	}
	else
	{
		/*
		 * Outside this round's list: efTotal found elements are nearer, so
		 * the round's rows do not need it.  A wider round takes it up.
		 */
		if (so->ndeferred == so->capdeferred)
		{
			so->capdeferred *= 2;
			so->deferred = repalloc_huge(so->deferred, sizeof(ScanCand) * so->capdeferred);
		}
		so->deferred[so->ndeferred].key = sl->key;
		so->deferred[so->ndeferred].dist = dist;
		so->deferred[so->ndeferred].ref = ref;
		so->ndeferred++;
	}
}

/*
 * Expands an element on layer 0: every neighbour not visited yet is found.
 * The neighbours are located (and copied, if new) first and their
 * distances computed after, so their memory is fetched ahead.  A neighbour
 * found in the backend cache is remembered by its slot in the expanded
 * element's list there.
 */
static void
expand(IndexScanDesc scan, int32 ref)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswNeighbor nb[2 * HNSW_MAX_M];
	int32		refs[2 * HNSW_MAX_M];
	HnswCache  *c;
	int			s;
	HnswSlot   *sl = ref_slot(so, ref, &c, &s);
	int			n;
	int			nref = 0;
	Size		prefetch = sizeof(HnswSlot) + sizeof(float) * so->meta.sdim;

	if (sl->level == HNSW_CACHE_FREE)
		return;
	n = sl->nb0n;
	memcpy(nb, HnswSlotNb0(c, sl), sizeof(HnswNeighbor) * n);

	for (int i = 0; i < n; i++)
	{
		HnswCache  *nc;
		int			ns;

		if (nb[i] & HNSW_CACHE_SLOT)
		{
			/* only lists in the backend cache hold slots, of itself */
			nc = c;
			ns = nb[i] & ~HNSW_CACHE_SLOT;
		}
		else
		{
			if (!get_elem(scan, nb[i], &nc, &ns))
				continue;
			if (c == so->pc && nc == c)
				HnswSlotNb0(c, HnswCacheSlot(c, s))[i] = HNSW_CACHE_SLOT | (uint32) ns;
		}
		if (!visit(so, nc, ns))
			continue;
		{
			const char *r = (const char *) HnswCacheSlot(nc, ns);

			for (Size b = 0; b < prefetch; b += 64)
				__builtin_prefetch(r + b);
		}
		refs[nref++] = slot_ref(so, nc, ns);
	}
	for (int i = 0; i < nref; i++)
	{
		HnswCache  *nc;
		int			ns;
		HnswSlot   *nsl = ref_slot(so, refs[i], &nc, &ns);

		if (nsl->level != HNSW_CACHE_FREE)
			found(so, nsl, query_dist(so, HnswSlotVec(nsl)), refs[i]);
	}
}

/* greedy descent from the entry point to layer 1, then the first round */
static void
scan_start(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	uint32		cur = (uint32) HnswTidKey(so->meta.entryBlkno, so->meta.entryOffno);
	HnswCache  *c;
	int			s;
	float		curd;
	int			m = so->meta.m;
	HnswNeighbor nb[HNSW_MAX_M];

	so->capcand = 256;
	so->cand = palloc(sizeof(ScanCand) * so->capcand);
	so->capdeferred = 256;
	so->deferred = palloc(sizeof(ScanCand) * so->capdeferred);
	so->cappend = 256;
	so->pend = palloc(sizeof(ScanItem) * so->cappend);
	so->capall = 256;
	so->all = palloc(sizeof(float) * so->capall);

	if (!get_elem(scan, cur, &c, &s) || HnswCacheSlot(c, s)->level == HNSW_CACHE_FREE)
	{
		so->done = true;
		return;
	}
	curd = query_dist(so, HnswSlotVec(HnswCacheSlot(c, s)));
	for (int lc = so->meta.entryLevel; lc >= 1; lc--)
	{
		bool		changed = true;

		while (changed)
		{
			int			n = 0;

			CHECK_FOR_INTERRUPTS();
			changed = false;
			if (HnswCacheSlot(c, s)->level != HNSW_CACHE_FREE && lc <= HnswCacheSlot(c, s)->level)
			{
				HnswNeighbor *l = c->upper[s] + (lc - 1) * (m + 1);

				n = l[0];
				memcpy(nb, l + 1, sizeof(HnswNeighbor) * n);
			}
			for (int i = 0; i < n; i++)
			{
				HnswCache  *nc;
				int			ns;
				float		d;

				if (!get_elem(scan, nb[i], &nc, &ns) || HnswCacheSlot(nc, ns)->level == HNSW_CACHE_FREE)
					continue;
				d = query_dist(so, HnswSlotVec(HnswCacheSlot(nc, ns)));
				if (d < curd)
				{
					cur = nb[i];
					curd = d;
					c = nc;
					s = ns;
					changed = true;
				}
			}
		}
	}

	so->efTotal = hnsw_ef_search;
	so->w = palloc(sizeof(float) * so->efTotal);
	so->nw = 0;
	visit(so, c, s);
	found(so, HnswCacheSlot(c, s), curd, slot_ref(so, c, s));
}

/* one round: search on with a larger list, then take the next rows */
static void
scan_round(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	int			take;

	if (so->rounds++ > 0)
	{
		/* a later round: widen the list and recompute its bound */
		float	   *tmp = palloc(sizeof(float) * so->nall);
		int			nd = so->ndeferred;

		so->efTotal += hnsw_ef_search;
		so->w = repalloc(so->w, sizeof(float) * so->efTotal);
		memcpy(tmp, so->all, sizeof(float) * so->nall);
		qsort(tmp, so->nall, sizeof(float), float_cmp);
		so->nw = 0;
		for (int i = 0; i < Min(so->nall, so->efTotal); i++)
			w_add(so, tmp[i]);
		pfree(tmp);
		/* what the narrower list turned away is a candidate again */
		so->ndeferred = 0;
		for (int i = 0; i < nd; i++)
		{
			ScanCand   *it = &so->deferred[i];
			HnswCache  *dc;
			int			ds;
			HnswSlot   *sl = ref_slot(so, it->ref, &dc, &ds);

			cand_push(so, it->key, it->dist, it->ref);
			if (ItemPointerIsValid(&sl->tid))
				pend_add(so, it->key, lower_bound(so, it->dist, sl->err, sl->norm), &sl->tid);
		}
	}

	while (so->ncand > 0)
	{
		ScanCand	c = so->cand[0];

		if (so->nw >= so->efTotal && c.dist > so->w[0])
			break;
		cand_pop(so);
		CHECK_FOR_INTERRUPTS();
		expand(scan, c.ref);
	}

	/*
	 * The graph is exhausted.  HNSW graphs need not be strongly connected
	 * (an element can lose every in-link to pruning), so before reporting
	 * the end, read every page once and queue the elements the search
	 * never reached: a filter then still sees every row.
	 */
	if (so->ncand == 0 && so->ndeferred == 0 && !so->swept && so->npend < hnsw_ef_search)
	{
		Relation	index = scan->indexRelation;
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);

		so->swept = true;
		for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		{
			Page		page;
			OffsetNumber maxoff;

			CHECK_FOR_INTERRUPTS();
			so->buf = ReleaseAndReadBuffer(so->buf, index, blk);
			LockBuffer(so->buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(so->buf);
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				uint32		key = (uint32) HnswTidKey(blk, off);
				HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

				double		nn = 0.0;

				if (HnswElementIsFree(t) || !ItemPointerIsValid(&t->heaptid) ||
					was_visited(so, key))
					continue;
				hnsw_load_vector(t, so->meta.sdim, so->tmp);
				for (int i = 0; i < so->meta.sdim; i++)
					nn += (double) so->tmp[i] * so->tmp[i];
				pend_add(so, key, lower_bound(so, query_dist(so, so->tmp), t->err, (float) sqrt(nn)),
						 &t->heaptid);
			}
			LockBuffer(so->buf, BUFFER_LOCK_UNLOCK);
		}
	}

	/*
	 * The ef_search nearest found go out, nearest first, and the next one:
	 * with the executor's recheck, a LIMIT k needs a row after the k-th
	 * (whose lower bound is past the k-th's exact distance) to let the
	 * k-th go, and this saves LIMIT ef_search a second round.  The rest
	 * stays for later rounds: found early, it may be far from the query.
	 */
	pend_heapify(so);
	take = Min(so->npend, hnsw_ef_search + 1);
	if (so->out)
		pfree(so->out);
	so->out = palloc(sizeof(ScanItem) * Max(take, 1));
	for (int i = 0; i < take; i++)
		so->out[i] = pend_pop(so);
	so->nout = take;
	so->pos = 0;
	if (take == 0 && so->ncand == 0 && so->ndeferred == 0)
		so->done = true;
}

/* lets go of the caches (rescan, endscan) */
static void
scan_release(HnswScanOpaque so)
{
	if (so->pc)
	{
		if (so->ownsMarks)
			so->pc->visitedTaken = false;
		hnsw_cache_release(so->pc);
	}
	so->pc = NULL;
	so->ownsMarks = false;
	so->oc = NULL;
	so->visited = NULL;
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
	scan_release(so);
	MemoryContextReset(so->cxt);
	so->started = false;
	so->done = false;
	so->swept = false;
	so->out = NULL;
	so->nout = 0;
	so->rounds = 0;
	so->pos = 0;
	so->ncand = so->ndeferred = so->npend = so->nall = so->nw = 0;
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
	so->tmp = palloc(sizeof(float) * so->meta.sdim);
	so->slack = 4.0 * (double) e->dim * FLT_EPSILON;
	if (so->meta.kind == HNSW_KIND_COSINE)
	{
		/*
		 * A zero query has no direction: every cosine distance is NaN, and
		 * a sequential scan returns rows in no particular order.  The scan
		 * returns them all the same: a zero query vector ties every element
		 * at distance 0, and the executor's recheck finds NaN for each (it
		 * holds the rows until the index is exhausted, NaN sorting last).
		 */
		if (!hnsw_make_stored(HNSW_KIND_COSINE, e->x, e->dim, so->q))
			memset(so->q, 0, sizeof(float) * e->dim);
	}
	else
		memcpy(so->q, e->x, sizeof(float) * e->dim);
	so->qnorm = 0.0;
	for (int i = 0; i < e->dim; i++)
		so->qnorm += (double) so->q[i] * so->q[i];
	so->qnorm = sqrt(so->qnorm);

	/*
	 * The backend's copies of the index, if they belong to this metapage;
	 * its visited marks if no other open scan of the index uses them.
	 */
	so->pc = hnsw_cache_for_scan(scan->indexRelation, &so->meta);
	if (so->pc && !so->pc->visitedTaken)
	{
		so->pc->visitedTaken = true;
		so->ownsMarks = true;
		if (++so->pc->epoch == 0)
		{
			if (so->pc->cap > 0)
				memset(so->pc->visited, 0, sizeof(uint32) * so->pc->cap);
			so->pc->epoch = 1;
		}
	}
	else
		so->visited = visited_create(so->cxt, 2048, NULL);
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
			scan->xs_recheckorderby = true;
			scan->xs_orderbyvals[0] = Float8GetDatum((double) it->dist);
			scan->xs_orderbynulls[0] = false;
			so->returned++;
			MemoryContextSwitchTo(old);
			return true;
		}
		if (so->done || so->returned >= hnsw_max_scan_tuples)
			break;

		/*
		 * A round may bring no row (what the wider list took in was all
		 * returned before) and the search still go on; each round widens
		 * the list, so the graph runs out and done is set in the end.
		 */
		CHECK_FOR_INTERRUPTS();
		scan_round(scan);
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
	scan_release(so);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
