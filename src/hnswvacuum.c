/*-------------------------------------------------------------------------
 *
 * hnswvacuum.c
 *	  VACUUM for recsys_hnsw: remove elements whose rows are dead, repair
 *	  the neighbour lists that pointed at them, and free their slots.
 *
 * 1. Without the update lock: read every element and ask VACUUM's callback
 *    which heap TIDs are dead; collect their index TIDs.
 * 2. With the update lock (inserts wait): every live element that links to
 *    a dead one gets that layer's list rebuilt from its live neighbours
 *    plus the live neighbours of the dead ones it lost, through the same
 *    selection heuristic as construction, so the graph stays connected
 *    around the hole.  A dead entry point is replaced by the live element
 *    with the most layers.
 * 3. Still under the lock: the dead elements are marked free (no heap TID,
 *    no links) and the metapage's insert page is moved back to the first
 *    page with a freed slot, so later inserts reuse the space.
 *
 * Each page change is one GenericXLog record.  Scans run throughout: an
 * element they reach before step 3 is walked through as usual (its row
 * is invisible); after step 3 nothing links to it any more.
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "compat.h"

typedef struct VacElem
{
	uint64		key;
	float	   *vec;			/* loaded on demand */
	uint8		level;
	uint64	   *nbrs;			/* all layers, HnswTotalSlots(m, level) */
	uint8		counts[HNSW_MAX_LEVEL + 1];
	bool		dead;
	bool		free;
} VacElem;

typedef struct VacGraph
{
	HnswGraph	g;				/* for the selection heuristic */
	Relation	index;
	HTAB	   *elems;
} VacGraph;

static VacElem *
vac_load(VacGraph *vg, uint64 key)
{
	bool		found;
	VacElem    *e = hash_search(vg->elems, &key, HASH_ENTER, &found);

	if (!found)
	{
		HnswElementTupleData hdr;

		e->dead = false;
		e->vec = palloc(sizeof(float) * vg->g.sdim);
		/* a missing element (not in a sound index) comes back free */
		(void) hnsw_copy_element(vg->index, key, vg->g.m, vg->g.sdim, &hdr, e->vec,
								 &e->nbrs, e->counts);
		e->free = HnswElementIsFree(&hdr);
		e->level = hdr.level;
	}
	return e;
}

static const float *
vac_vector(HnswGraph *g, uint64 id)
{
	return vac_load((VacGraph *) g, id)->vec;
}

/*
 * Block blk of a pass over the index, read through bas and locked in mode
 * after the vacuum delay point; *page is its page, *maxoff its last offset.
 */
static Buffer
vac_read_page(Relation index, BlockNumber blk, BufferAccessStrategy bas,
			  int mode, Page *page, OffsetNumber *maxoff)
{
	Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, bas);

	rs_vacuum_delay_point();
	LockBuffer(buf, mode);
	*page = BufferGetPage(buf);
	*maxoff = PageGetMaxOffsetNumber(*page);
	return buf;
}

IndexBulkDeleteResult *
hnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	MemoryContext cxt;
	MemoryContext old;
	HASHCTL		ctl;
	HTAB	   *dead;
	BlockNumber nblocks;
	HnswMetaPageData meta;
	int			m;
	int			sdim;
	long		ndead = 0;
	VacGraph	vg;
	BlockNumber firstfree = InvalidBlockNumber;
	uint64		bestkey = 0;
	int			bestlevel = -1;
	BufferAccessStrategy bas = info->strategy;

	/* stats outlive this call: the caller's context */
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys_hnsw vacuum",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	meta = hnsw_read_meta(index);
	m = meta.m;
	sdim = meta.sdim;

	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(uint64);
	ctl.hcxt = cxt;
	dead = hash_create("recsys_hnsw dead elements", 1024, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* 1. which elements are dead */
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		buf = vac_read_page(index, blk, bas, BUFFER_LOCK_SHARE, &page, &maxoff);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (HnswElementIsFree(t))
				continue;
			if (callback(&t->heaptid, callback_state))
			{
				uint64		key = HnswTidKey(blk, off);

				hash_search(dead, &key, HASH_ENTER, NULL);
				ndead++;
			}
		}
		UnlockReleaseBuffer(buf);
	}

	if (ndead == 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return stats;
	}

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	meta = hnsw_read_meta(index);
	nblocks = RelationGetNumberOfBlocks(index);

	memset(&vg, 0, sizeof(vg));
	vg.g.m = m;
	vg.g.sdim = sdim;
	vg.g.kind = meta.kind;
	vg.g.vector = vac_vector;
	vg.index = index;
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(VacElem);
	ctl.hcxt = cxt;
	vg.elems = hash_create("recsys_hnsw vacuum elements", 1024, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/* 2. repair the lists that point at dead elements */
	{
		HnswCandidate *cand = palloc(sizeof(HnswCandidate) * (2 * m * (2 * m + 1) + 1));
		HnswCandidate *sel = palloc(sizeof(HnswCandidate) * (2 * m + 1));

		for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		{
			Buffer		buf;
			Page		page;
			OffsetNumber maxoff;
			uint64	   *todo;
			int			ntodo = 0;

			buf = vac_read_page(index, blk, bas, BUFFER_LOCK_SHARE, &page, &maxoff);
			todo = palloc(sizeof(uint64) * (maxoff + 1));
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
				uint64		key = HnswTidKey(blk, off);
				HnswNeighbor *nb;
				bool		hit = false;

				if (HnswElementIsFree(t) || hash_search(dead, &key, HASH_FIND, NULL))
					continue;
				if (t->level > bestlevel)
				{
					bestlevel = t->level;
					bestkey = key;
				}
				nb = HnswElementNeighbors(t, sdim);
				for (int s = 0; s < HnswTotalSlots(m, t->level) && !hit; s++)
				{
					uint64		nk;

					if (nb[s] == HNSW_NO_NEIGHBOR)
						continue;
					nk = nb[s];
					if (hash_search(dead, &nk, HASH_FIND, NULL))
						hit = true;
				}
				if (hit)
					todo[ntodo++] = key;
			}
			UnlockReleaseBuffer(buf);

			for (int i = 0; i < ntodo; i++)
			{
				VacElem    *e = vac_load(&vg, todo[i]);

				CHECK_FOR_INTERRUPTS();
				for (int l = 0; l <= e->level; l++)
				{
					uint64	   *list = e->nbrs + HnswLayerStart(m, l);
					int			nc = 0;
					bool		changed = false;
					int			ns;

					for (int j = 0; j < e->counts[l]; j++)
					{
						if (hash_search(dead, &list[j], HASH_FIND, NULL))
						{
							VacElem    *d = vac_load(&vg, list[j]);

							changed = true;
							if (l > d->level)
								continue;
							for (int k = 0; k < d->counts[l]; k++)
							{
								uint64		dk = d->nbrs[HnswLayerStart(m, l) + k];

								if (dk == todo[i] || hash_search(dead, &dk, HASH_FIND, NULL))
									continue;
								cand[nc].id = dk;
								cand[nc].dist = hnsw_gdist(meta.kind, e->vec, vac_vector(&vg.g, dk), sdim);
								nc++;
							}
						}
						else
						{
							cand[nc].id = list[j];
							cand[nc].dist = hnsw_gdist(meta.kind, e->vec, vac_vector(&vg.g, list[j]), sdim);
							nc++;
						}
					}
					if (!changed)
						continue;
					ns = hnsw_select_neighbors(&vg.g, cand, nc, HnswLayerSlots(m, l), sel);

					/*
					 * The heuristic may keep few links; after a deletion an
					 * element's neighbours may be the only way to it, so the
					 * free slots are filled with the nearest candidates left.
					 */
					for (int c = 0; c < nc && ns < HnswLayerSlots(m, l); c++)
					{
						bool		have = false;

						for (int j = 0; j < ns && !have; j++)
							have = (sel[j].id == cand[c].id);
						if (!have)
							sel[ns++] = cand[c];
					}

					{
						Buffer		wbuf = ReadBufferExtended(index, MAIN_FORKNUM,
															  HnswKeyBlk(todo[i]), RBM_NORMAL, bas);
						GenericXLogState *state;
						Page		wpage;
						HnswElementTuple t;
						HnswNeighbor *dst;

						LockBuffer(wbuf, BUFFER_LOCK_EXCLUSIVE);
						state = GenericXLogStart(index);
						wpage = GenericXLogRegisterBuffer(state, wbuf, 0);
						t = (HnswElementTuple) PageGetItem(wpage, PageGetItemId(wpage, HnswKeyOff(todo[i])));
						dst = HnswElementNeighbors(t, sdim) + HnswLayerStart(m, l);
						for (int j = 0; j < HnswLayerSlots(m, l); j++)
							dst[j] = j < ns ? (HnswNeighbor) sel[j].id : HNSW_NO_NEIGHBOR;
						GenericXLogFinish(state);
						UnlockReleaseBuffer(wbuf);
					}
					/* keep the copy in step: later repairs read it */
					for (int j = 0; j < ns; j++)
						list[j] = sel[j].id;
					e->counts[l] = ns;
				}
			}
			pfree(todo);
		}
	}

	/* a new entry point if the old one is dead */
	{
		uint64		ek = HnswTidKey(meta.entryBlkno, meta.entryOffno);

		if (meta.entryLevel >= 0 && hash_search(dead, &ek, HASH_FIND, NULL))
		{
			if (bestlevel >= 0)
			{
				meta.entryLevel = bestlevel;
				meta.entryBlkno = HnswKeyBlk(bestkey);
				meta.entryOffno = HnswKeyOff(bestkey);
			}
			else
			{
				meta.entryLevel = -1;
				meta.entryBlkno = InvalidBlockNumber;
				meta.entryOffno = InvalidOffsetNumber;
			}
			hnsw_update_meta(index, &meta);
		}
	}

	/* 3. free the dead elements' slots */
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf;
		GenericXLogState *state;
		Page		page;
		OffsetNumber maxoff;
		bool		any = false;

		buf = vac_read_page(index, blk, bas, BUFFER_LOCK_EXCLUSIVE, &page, &maxoff);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff && !any; off++)
		{
			uint64		key = HnswTidKey(blk, off);

			if (hash_search(dead, &key, HASH_FIND, NULL))
				any = true;
		}
		if (!any)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			uint64		key = HnswTidKey(blk, off);
			HnswElementTuple t;
			HnswNeighbor *nb;

			if (!hash_search(dead, &key, HASH_FIND, NULL))
				continue;
			t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
			t->flags |= HNSW_ELEM_FREE;
			t->level = 0;
			ItemPointerSetInvalid(&t->heaptid);
			nb = HnswElementNeighbors(t, sdim);
			for (int s = 0; s < HnswTotalSlots(m, HnswElementMaxLevel(t)); s++)
				nb[s] = HNSW_NO_NEIGHBOR;
			stats->tuples_removed++;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		if (firstfree == InvalidBlockNumber)
			firstfree = blk;
	}

	if (firstfree != InvalidBlockNumber && firstfree < meta.insertPage)
		meta.insertPage = firstfree;
	/* last: a backend's copies of elements are stale from here */
	meta.stamp++;
	hnsw_update_meta(index, &meta);

	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return stats;
}

/* counts live elements and pages for VACUUM's report and pg_class */
IndexBulkDeleteResult *
hnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	BlockNumber nblocks;
	double		live = 0;
	BlockNumber freepages = 0;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		bool		anylive = false;

		buf = vac_read_page(index, blk, info->strategy, BUFFER_LOCK_SHARE, &page, &maxoff);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (!HnswElementIsFree(t))
			{
				live++;
				anylive = true;
			}
		}
		if (!anylive)
			freepages++;
		UnlockReleaseBuffer(buf);
	}
	stats->num_pages = nblocks;
	stats->num_index_tuples = live;
	stats->pages_free = freepages;
	stats->estimated_count = false;
	return stats;
}
