/*-------------------------------------------------------------------------
 *
 * hnswinsert.c
 *	  INSERT into a recsys_hnsw index, and the on-disk insertion that a
 *	  build falls back to past maintenance_work_mem.
 *
 * The construction runs on the index pages through a small cache of the
 * elements it touches (vector and neighbour lists, copied out under a
 * share lock), so it is the same search and neighbour selection as the
 * in-memory build.  Then the new element is written, and each neighbour
 * that links back to it has its list rewritten in place, each page change
 * one GenericXLog record.  The new element is written before anything
 * links to it, so a crash between the records leaves at worst an element
 * nothing points to yet, never a link to a missing element.
 *
 * Graph changes are serialised by a heavyweight lock on HNSW_UPDATE_LOCK
 * (VACUUM's repair takes it too); scans take only buffer locks, so they
 * run alongside inserts and may or may not see an element being linked.
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <math.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* an element read from the index, with its neighbours per layer */
typedef struct DiskElem
{
	uint64		key;			/* hash key: packed index TID */
	uint8		level;
	uint8		flags;			/* HNSW_ELEM_FREE | layers of the slot */
	uint32		epoch;
	ItemPointerData heaptid;
	float	   *vec;
	uint64	   *nbrs;			/* HnswTotalSlots(m, level), per layer */
	uint8		counts[HNSW_MAX_LEVEL + 1];
} DiskElem;

typedef struct DiskGraph
{
	HnswGraph	g;				/* must be first */
	Relation	index;
	HTAB	   *cache;
	uint32		epoch;
} DiskGraph;

/* copies an element out of its page into the cache */
static DiskElem *
disk_load(DiskGraph *dg, uint64 key)
{
	bool		found;
	DiskElem   *e = hash_search(dg->cache, &key, HASH_ENTER, &found);
	HnswElementTupleData hdr;

	if (found)
		return e;

	e->epoch = 0;
	e->vec = palloc(sizeof(float) * dg->g.sdim);
	/* a missing element (not in a sound index) comes back free: stepped over */
	(void) hnsw_copy_element(dg->index, key, dg->g.m, dg->g.sdim, &hdr, e->vec,
							 &e->nbrs, e->counts);
	e->level = hdr.level;
	e->flags = hdr.flags;
	e->heaptid = hdr.heaptid;
	return e;
}

static const float *
disk_vector(HnswGraph *g, uint64 id)
{
	return disk_load((DiskGraph *) g, id)->vec;
}

static int
disk_neighbors(HnswGraph *g, uint64 id, int layer, const uint64 **out)
{
	DiskElem   *e = disk_load((DiskGraph *) g, id);

	if (layer > e->level || (e->flags & HNSW_ELEM_FREE))
	{
		*out = NULL;
		return 0;
	}
	*out = e->nbrs + HnswLayerStart(g->m, layer);
	return e->counts[layer];
}

static bool
disk_usable(HnswGraph *g, uint64 id)
{
	return (disk_load((DiskGraph *) g, id)->flags & HNSW_ELEM_FREE) == 0;
}

static void
disk_visit_reset(HnswGraph *g)
{
	((DiskGraph *) g)->epoch++;
}

static bool
disk_visit(HnswGraph *g, uint64 id)
{
	DiskGraph  *dg = (DiskGraph *) g;
	DiskElem   *e = disk_load(dg, id);

	if (e->epoch == dg->epoch)
		return false;
	e->epoch = dg->epoch;
	return true;
}

/* a graph over the pages of index, for one insert or one repair */
static DiskGraph *
disk_graph(Relation index, int kind, int m, int sdim)
{
	DiskGraph  *dg = palloc0(sizeof(DiskGraph));
	HASHCTL		ctl;

	dg->g.m = m;
	dg->g.sdim = sdim;
	dg->g.kind = kind;
	dg->g.vector = disk_vector;
	dg->g.neighbors = disk_neighbors;
	dg->g.usable = disk_usable;
	dg->g.visit_reset = disk_visit_reset;
	dg->g.visit = disk_visit;
	dg->index = index;
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(DiskElem);
	ctl.hcxt = CurrentMemoryContext;
	dg->cache = hash_create("recsys_hnsw elements", 256, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	return dg;
}

/*
 * Rewrites one layer's neighbour list of the element at key (in place,
 * one GenericXLog record).
 */
static void
write_list(Relation index, int m, int sdim, uint64 key, int layer,
		   const HnswCandidate *list, int n)
{
	Buffer		buf = ReadBuffer(index, HnswKeyBlk(key));
	GenericXLogState *state;
	Page		page;
	HnswElementTuple t;
	HnswNeighbor *dst;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, HnswKeyOff(key)));
	dst = HnswElementNeighbors(t, sdim) + HnswLayerStart(m, layer);
	for (int j = 0; j < HnswLayerSlots(m, layer); j++)
		dst[j] = j < n ? (HnswNeighbor) list[j].id : HNSW_NO_NEIGHBOR;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* fills an element tuple: vector, heap TID, neighbour lists */
static void
fill_tuple(HnswElementTuple t, int m, int sdim, int level, int maxLevel,
		   const float *vec, ItemPointer heaptid, HnswCandidate **lists, const int *counts)
{
	HnswNeighbor *nb;

	t->level = level;
	t->flags = maxLevel;
	t->heaptid = *heaptid;
	hnsw_store_vector(t, vec, sdim);
	nb = HnswElementNeighbors(t, sdim);
	for (int s = 0; s < HnswTotalSlots(m, maxLevel); s++)
		nb[s] = HNSW_NO_NEIGHBOR;
	for (int l = 0; l <= level; l++)
		for (int j = 0; j < counts[l]; j++)
			nb[HnswLayerStart(m, l) + j] = (HnswNeighbor) lists[l][j].id;
}

/*
 * Places a new element: a slot freed by VACUUM that is large enough, or
 * free space, on the first page from meta->insertPage that has either;
 * else a new page.  Returns its key and moves meta->insertPage along.
 */
static uint64
place_element(Relation index, HnswMetaPageData *meta, int level, const float *vec,
			  ItemPointer heaptid, HnswCandidate **lists, const int *counts)
{
	int			m = meta->m;
	int			sdim = meta->sdim;
	Size		size = HnswElementSize(sdim, m, level);
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	HnswElementTuple tmp = palloc0(BLCKSZ);

	Buffer		buf = InvalidBuffer;
	OffsetNumber reuse = InvalidOffsetNumber;
	GenericXLogState *state;
	Page		page;
	BlockNumber blk;
	OffsetNumber off;

	for (blk = Max(meta->insertPage, HNSW_HEAD_BLKNO); blk < nblocks; blk++)
	{
		OffsetNumber maxoff;

		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (HnswElementIsFree(t) && HnswElementMaxLevel(t) >= level)
			{
				reuse = off;
				break;
			}
		}
		if (OffsetNumberIsValid(reuse) || PageGetFreeSpace(page) >= MAXALIGN(size))
			break;
		UnlockReleaseBuffer(buf);
		buf = InvalidBuffer;
	}

	if (BufferIsValid(buf))
	{
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
	}
	else
	{
		/* a new page */
		buf = hnsw_new_buffer(index, MAIN_FORKNUM);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		hnsw_init_page(page);
	}
	blk = BufferGetBlockNumber(buf);
	if (OffsetNumberIsValid(reuse))
	{
		HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, reuse));

		fill_tuple(t, m, sdim, level, HnswElementMaxLevel(t), vec, heaptid, lists, counts);
		off = reuse;
	}
	else
	{
		fill_tuple(tmp, m, sdim, level, level, vec, heaptid, lists, counts);
		off = PageAddItem(page, (Item) tmp, size, InvalidOffsetNumber, false, false);
		if (off == InvalidOffsetNumber || off > HNSW_MAX_OFFSET)
			elog(ERROR, "failed to add element to recsys_hnsw index \"%s\"",
				 RelationGetRelationName(index));
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);

	/*
	 * The pages before blk have no room for the smallest element; a larger
	 * one may have passed over freed slots that still fit smaller ones, so
	 * only a layer-0 element moves the start on.
	 */
	if (level == 0)
		meta->insertPage = blk;
	pfree(tmp);
	return HnswTidKey(blk, off);
}

/*
 * Inserts one embedding (raw elements, dim of them) for a heap TID into
 * the index on disk.  Memory is allocated in the caller's context.
 */
void
hnsw_insert_on_disk(Relation index, const float *raw, int dim, ItemPointer heaptid)
{
	HnswMetaPageData meta;
	int			m;
	int			sdim;
	int			efc;
	int			level;
	float	   *vec;
	HnswCandidate *lists[HNSW_MAX_LEVEL + 1];
	int			counts[HNSW_MAX_LEVEL + 1];
	uint64		key;
	DiskGraph  *dg = NULL;
	int			top;

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	meta = hnsw_read_meta(index);
	m = meta.m;
	efc = meta.efConstruction;

	if (meta.dim == 0)
	{
		meta.dim = dim;
		meta.sdim = hnsw_stored_dim(meta.kind, dim);
		if (HnswElementSize(meta.sdim, m, 0) > HNSW_MAX_ITEM_SIZE)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("embeddings of %d dimensions are too large for a recsys_hnsw index with m = %d",
							dim, m),
					 errhint("An element with its neighbours must fit one %d-byte page; use fewer dimensions or a smaller m.",
							 BLCKSZ)));
	}
	else
		hnsw_check_dim(index, dim, meta.dim);
	sdim = meta.sdim;

	vec = palloc(sizeof(float) * sdim);
	if (!hnsw_make_stored(meta.kind, raw, dim, vec))
	{
		/* a zero vector under cosine: not indexed */
		UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
		return;
	}

	level = hnsw_random_level(m, sdim, pg_prng_double(&pg_global_prng_state));
	for (int l = 0; l <= level; l++)
	{
		lists[l] = palloc(sizeof(HnswCandidate) * (2 * m + 1));
		counts[l] = 0;
	}

	top = Min(level, meta.entryLevel);
	if (meta.entryLevel >= 0)
	{
		HnswCandidate *ep = palloc(sizeof(HnswCandidate) * (efc + 1));
		HnswCandidate *w = palloc(sizeof(HnswCandidate) * (efc + 1));
		int			nep = 1;

		dg = disk_graph(index, meta.kind, m, sdim);
		ep[0].id = HnswTidKey(meta.entryBlkno, meta.entryOffno);
		ep[0].dist = hnsw_gdist(meta.kind, vec, disk_vector(&dg->g, ep[0].id), sdim);
		for (int lc = meta.entryLevel; lc > level; lc--)
			nep = hnsw_search_layer(&dg->g, vec, ep, nep, 1, lc, ep);
		for (int lc = top; lc >= 0; lc--)
		{
			int			nw;

			CHECK_FOR_INTERRUPTS();
			nw = hnsw_search_layer(&dg->g, vec, ep, nep, efc, lc, w);
			memcpy(ep, w, sizeof(HnswCandidate) * nw);
			nep = nw;
			counts[lc] = hnsw_select_neighbors(&dg->g, w, nw, HnswLayerSlots(m, lc), lists[lc]);
		}
	}

	/* no interrupts from here on: the links are written in one go */
	HOLD_INTERRUPTS();
	key = place_element(index, &meta, level, vec, heaptid, lists, counts);

	if (dg)
	{
		HnswCandidate *work = palloc(sizeof(HnswCandidate) * (6 * m + 4));

		for (int lc = top; lc >= 0; lc--)
		{
			for (int j = 0; j < counts[lc]; j++)
			{
				uint64		nk = lists[lc][j].id;
				DiskElem   *ne = disk_load(dg, nk);
				int			max = HnswLayerSlots(m, lc);
				int			n = ne->counts[lc];
				uint64	   *cur = ne->nbrs + HnswLayerStart(m, lc);
				int			nn;

				if (lc > ne->level || (ne->flags & HNSW_ELEM_FREE))
					continue;
				for (int i = 0; i < n; i++)
				{
					work[i].id = cur[i];
					work[i].dist = (n < max) ? 0.0f :
						hnsw_gdist(meta.kind, ne->vec, disk_vector(&dg->g, cur[i]), sdim);
				}
				if (n < max)
				{
					work[n].id = key;
					work[n].dist = 0.0f;
					nn = n + 1;
				}
				else
				{
					/* the new element is not in the cache: compare its vector */
					work[n].id = key;
					work[n].dist = hnsw_gdist(meta.kind, ne->vec, vec, sdim);
					{
						DiskElem   *self;
						bool		found;

						self = hash_search(dg->cache, &key, HASH_ENTER, &found);
						if (!found)
						{
							self->epoch = 0;
							self->vec = vec;
							self->level = level;
							self->flags = level;
							self->heaptid = *heaptid;
							self->nbrs = NULL;
							memset(self->counts, 0, sizeof(self->counts));
						}
					}
					nn = hnsw_select_neighbors(&dg->g, work, n + 1, max, work + n + 1);
					memmove(work, work + n + 1, sizeof(HnswCandidate) * nn);
				}
				write_list(index, m, sdim, nk, lc, work, nn);
				/* keep the cache in step for later layers */
				for (int i = 0; i < nn; i++)
					cur[i] = work[i].id;
				ne->counts[lc] = nn;
			}
		}
	}

	if (level > meta.entryLevel)
	{
		meta.entryLevel = level;
		meta.entryBlkno = HnswKeyBlk(key);
		meta.entryOffno = HnswKeyOff(key);
	}
	/* last: a backend's copies of elements are stale from here */
	meta.stamp++;
	hnsw_update_meta(index, &meta);
	RESUME_INTERRUPTS();

	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
}

bool
hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
			Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
			struct IndexInfo *indexInfo)
{
	MemoryContext cxt;
	MemoryContext old;
	Embedding  *e;

	/* no uniqueness, no index-only hints: these arguments do not apply */
	(void) heap;
	(void) checkUnique;
	(void) indexUnchanged;
	(void) indexInfo;

	/* NULL embeddings are not indexed */
	if (isnull[0])
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys_hnsw insert",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	e = hnsw_datum_embedding(values[0]);
	hnsw_insert_on_disk(index, e->x, e->dim, heap_tid);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
