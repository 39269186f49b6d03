/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  CREATE INDEX for recsys_hnsw.
 *
 * The table is read once into a flat array of vectors; the graph is then
 * built in memory (the construction in hnswutils.c over array positions)
 * and written out page by page, and the finished pages are WAL-logged in
 * one go with log_newpage_range().
 *
 * Memory: vectors and neighbour arrays are counted against
 * maintenance_work_mem.  When the next tuple would not fit, the elements
 * collected so far are built and written as above, and every further tuple
 * is inserted into the index on disk exactly as an INSERT after the build
 * would do (hnswinsert.c, WAL-logged page by page).  That path is much
 * slower; a NOTICE says so and suggests a larger maintenance_work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <math.h>

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* the in-memory graph of a build */
typedef struct MemGraph
{
	HnswGraph	g;				/* must be first */
	int			n;
	int			cap;
	float	   *vecs;			/* n * sdim stored vectors */
	ItemPointerData *tids;
	uint8	   *levels;
	uint32	  **nbrs;			/* per element, per layer: count then slots */
	uint32	   *visited;
	uint32		epoch;
	uint64	   *scratch;		/* neighbours handed to the search */
} MemGraph;

typedef struct HnswBuildState
{
	Relation	index;
	int			kind;
	int			m;
	int			efConstruction;
	int			dim;
	int			sdim;
	double		indtuples;		/* tuples indexed */
	double		skipped;		/* zero vectors under cosine */
	double		reltuples;		/* the table's estimated row count */
	bool		ondisk;			/* past maintenance_work_mem */
	Size		memlimit;
	Size		memused;
	MemGraph	mg;
	MemoryContext cxt;			/* the in-memory graph */
	MemoryContext tupcxt;		/* one tuple */
	float	   *tmp;
} HnswBuildState;

/* offset of a layer's count in an element's neighbour array */
static inline int
layer_offset(int m, int layer)
{
	return layer == 0 ? 0 : (1 + 2 * m) + (layer - 1) * (1 + m);
}

static inline Size
nbr_words(int m, int level)
{
	return (1 + 2 * m) + (Size) level * (1 + m);
}

static const float *
mem_vector(HnswGraph *g, uint64 id)
{
	MemGraph   *mg = (MemGraph *) g;

	return mg->vecs + (Size) id * g->sdim;
}

static int
mem_neighbors(HnswGraph *g, uint64 id, int layer, const uint64 **out)
{
	MemGraph   *mg = (MemGraph *) g;
	uint32	   *l;
	int			n;

	if (layer > mg->levels[id])
	{
		*out = mg->scratch;
		return 0;
	}
	l = mg->nbrs[id] + layer_offset(g->m, layer);
	n = l[0];
	for (int i = 0; i < n; i++)
		mg->scratch[i] = l[1 + i];
	*out = mg->scratch;
	return n;
}

static bool
mem_usable(HnswGraph *g, uint64 id)
{
	/* the build frees nothing */
	(void) g;
	(void) id;
	return true;
}

static void
mem_visit_reset(HnswGraph *g)
{
	MemGraph   *mg = (MemGraph *) g;

	if (++mg->epoch == 0)
	{
		memset(mg->visited, 0, sizeof(uint32) * mg->cap);
		mg->epoch = 1;
	}
}

static bool
mem_visit(HnswGraph *g, uint64 id)
{
	MemGraph   *mg = (MemGraph *) g;

	if (mg->visited[id] == mg->epoch)
		return false;
	mg->visited[id] = mg->epoch;
	return true;
}

/* the bytes one more element costs the in-memory graph */
static Size
element_memory(HnswBuildState *bs)
{
	/* an element has 1 + 1/(m-1) layers on average; count two */
	return sizeof(float) * bs->sdim + sizeof(ItemPointerData) + 1 + sizeof(uint32 *) +
		sizeof(uint32) * 2 + sizeof(uint32) * nbr_words(bs->m, 1) + 16;
}

static void
mem_grow(HnswBuildState *bs)
{
	MemGraph   *mg = &bs->mg;
	int			newcap = mg->cap == 0 ? 1024 : mg->cap * 2;

	if (mg->cap == 0)
	{
		mg->vecs = MemoryContextAllocHuge(bs->cxt, sizeof(float) * bs->sdim * newcap);
		mg->tids = MemoryContextAllocHuge(bs->cxt, sizeof(ItemPointerData) * newcap);
		mg->levels = MemoryContextAllocHuge(bs->cxt, newcap);
		mg->nbrs = MemoryContextAllocHuge(bs->cxt, sizeof(uint32 *) * newcap);
		mg->visited = MemoryContextAllocHuge(bs->cxt, sizeof(uint32) * newcap);
	}
	else
	{
		mg->vecs = repalloc_huge(mg->vecs, sizeof(float) * bs->sdim * newcap);
		mg->tids = repalloc_huge(mg->tids, sizeof(ItemPointerData) * newcap);
		mg->levels = repalloc_huge(mg->levels, newcap);
		mg->nbrs = repalloc_huge(mg->nbrs, sizeof(uint32 *) * newcap);
		mg->visited = repalloc_huge(mg->visited, sizeof(uint32) * newcap);
	}
	mg->cap = newcap;
}

/* sets the neighbour list of element id on a layer */
static void
mem_set_list(MemGraph *mg, uint64 id, int layer, const HnswCandidate *c, int n)
{
	uint32	   *l = mg->nbrs[id] + layer_offset(mg->g.m, layer);

	l[0] = n;
	for (int i = 0; i < n; i++)
		l[1 + i] = (uint32) c[i].id;
}

/* adds a link from e to id on a layer, pruning e's list when it is full */
static void
mem_add_link(MemGraph *mg, uint64 e, uint64 id, int layer, HnswCandidate *work)
{
	int			m = mg->g.m;
	int			max = HnswLayerSlots(m, layer);
	uint32	   *l = mg->nbrs[e] + layer_offset(m, layer);
	const float *ev = mem_vector(&mg->g, e);
	int			n = l[0];

	if (n < max)
	{
		l[1 + n] = (uint32) id;
		l[0] = n + 1;
		return;
	}
	for (int i = 0; i < n; i++)
	{
		work[i].id = l[1 + i];
		work[i].dist = hnsw_gdist(mg->g.kind, ev, mem_vector(&mg->g, l[1 + i]), mg->g.sdim);
	}
	work[n].id = id;
	work[n].dist = hnsw_gdist(mg->g.kind, ev, mem_vector(&mg->g, id), mg->g.sdim);
	n = hnsw_select_neighbors(&mg->g, work, n + 1, max, work + n + 1);
	mem_set_list(mg, e, layer, work + max + 1, n);
}

/* builds the graph over the collected elements */
static void
mem_build_graph(HnswBuildState *bs, int *entry_out, int *entry_level_out)
{
	MemGraph   *mg = &bs->mg;
	int			m = bs->m;
	int			efc = bs->efConstruction;
	int			entry = -1;
	int			entryLevel = -1;
	pg_prng_state prng;
	HnswCandidate *ep = palloc(sizeof(HnswCandidate) * (efc + 1));
	HnswCandidate *w = palloc(sizeof(HnswCandidate) * (efc + 1));
	HnswCandidate *sel = palloc(sizeof(HnswCandidate) * (2 * m + 1));
	HnswCandidate *work = palloc(sizeof(HnswCandidate) * (6 * m + 4));
	int			nep;

	mg->g.m = m;
	mg->g.sdim = bs->sdim;
	mg->g.kind = bs->kind;
	mg->g.vector = mem_vector;
	mg->g.neighbors = mem_neighbors;
	mg->g.usable = mem_usable;
	mg->g.visit_reset = mem_visit_reset;
	mg->g.visit = mem_visit;
	mg->scratch = palloc(sizeof(uint64) * (2 * m + 1));
	if (mg->cap > 0)
		memset(mg->visited, 0, sizeof(uint32) * mg->cap);
	mg->epoch = 0;

	/* a fixed seed: the same table gives the same graph */
	pg_prng_seed(&prng, UINT64CONST(0x9E3779B97F4A7C15));

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_GRAPH);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, mg->n);

	for (int i = 0; i < mg->n; i++)
	{
		const float *q = mg->vecs + (Size) i * bs->sdim;
		int			level = hnsw_random_level(m, bs->sdim, pg_prng_double(&prng));

		CHECK_FOR_INTERRUPTS();

		mg->levels[i] = level;
		mg->nbrs[i] = MemoryContextAllocZero(bs->cxt, sizeof(uint32) * nbr_words(m, level));

		if (entry < 0)
		{
			entry = i;
			entryLevel = level;
			continue;
		}

		ep[0].id = entry;
		ep[0].dist = hnsw_gdist(bs->kind, q, mem_vector(&mg->g, entry), bs->sdim);
		nep = 1;
		for (int lc = entryLevel; lc > level; lc--)
			nep = hnsw_search_layer(&mg->g, q, ep, nep, 1, lc, ep);

		for (int lc = Min(level, entryLevel); lc >= 0; lc--)
		{
			int			nw = hnsw_search_layer(&mg->g, q, ep, nep, efc, lc, w);
			int			ns;

			memcpy(ep, w, sizeof(HnswCandidate) * nw);
			nep = nw;
			ns = hnsw_select_neighbors(&mg->g, w, nw, HnswLayerSlots(m, lc), sel);
			mem_set_list(mg, i, lc, sel, ns);
			for (int j = 0; j < ns; j++)
				mem_add_link(mg, sel[j].id, i, lc, work);
		}
		if (level > entryLevel)
		{
			entry = i;
			entryLevel = level;
		}

		if ((i & 1023) == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
	}
	*entry_out = entry;
	*entry_level_out = entryLevel;
}

/*
 * Writes the in-memory graph to pages 1.., then the metapage; the pages
 * are WAL-logged as whole images afterwards.  Elements are laid out in
 * order, so their index TIDs are known before any page is written.
 */
static void
mem_write(HnswBuildState *bs)
{
	MemGraph   *mg = &bs->mg;
	int			m = bs->m;
	int			sdim = bs->sdim;
	BlockNumber *blk = palloc(sizeof(BlockNumber) * Max(mg->n, 1));
	OffsetNumber *off = palloc(sizeof(OffsetNumber) * Max(mg->n, 1));
	BlockNumber cur = HNSW_HEAD_BLKNO;
	OffsetNumber curoff = FirstOffsetNumber;
	Size		freespace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData);
	HnswElementTuple tup = palloc0(BLCKSZ);
	int			entry;
	int			entryLevel;
	HnswMetaPageData meta;
	Buffer		buf;
	BlockNumber nblocks;

	mem_build_graph(bs, &entry, &entryLevel);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);

	for (int i = 0; i < mg->n; i++)
	{
		Size		sz = MAXALIGN(HnswElementSize(sdim, m, mg->levels[i])) + sizeof(ItemIdData);

		if (sz > freespace)
		{
			cur++;
			curoff = FirstOffsetNumber;
			freespace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData);
		}
		blk[i] = cur;
		off[i] = curoff++;
		freespace -= sz;
	}
	hnsw_check_blocks(bs->index, cur);

	buf = InvalidBuffer;
	for (int i = 0; i < mg->n; i++)
	{
		int			level = mg->levels[i];
		Size		sz = HnswElementSize(sdim, m, level);
		HnswNeighbor *nb;
		OffsetNumber got;

		CHECK_FOR_INTERRUPTS();

		if (i == 0 || blk[i] != blk[i - 1])
		{
			if (BufferIsValid(buf))
			{
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = hnsw_new_buffer(bs->index, MAIN_FORKNUM);
			if (BufferGetBlockNumber(buf) != blk[i])
				elog(ERROR, "recsys_hnsw build expected block %u, got %u", blk[i],
					 BufferGetBlockNumber(buf));
			hnsw_init_page(BufferGetPage(buf));
		}

		memset(tup, 0, sz);
		tup->level = level;
		tup->flags = level;
		tup->heaptid = mg->tids[i];
		hnsw_store_vector(tup, mg->vecs + (Size) i * sdim, sdim);
		nb = HnswElementNeighbors(tup, sdim);
		for (int lc = 0; lc <= level; lc++)
		{
			uint32	   *l = mg->nbrs[i] + layer_offset(m, lc);
			HnswNeighbor *dst = nb + HnswLayerStart(m, lc);

			for (uint32 j = 0; j < l[0]; j++)
				dst[j] = (HnswNeighbor) HnswTidKey(blk[l[1 + j]], off[l[1 + j]]);
		}
		got = PageAddItem(BufferGetPage(buf), (Item) tup, sz, InvalidOffsetNumber, false, false);
		if (got != off[i])
			elog(ERROR, "recsys_hnsw build could not place element %d", i);
	}
	if (BufferIsValid(buf))
	{
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	/* the metapage */
	buf = ReadBuffer(bs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = *HnswPageGetMeta(BufferGetPage(buf));
	meta.dim = bs->dim;
	meta.sdim = sdim;
	if (entry >= 0)
	{
		meta.entryLevel = entryLevel;
		meta.entryBlkno = blk[entry];
		meta.entryOffno = off[entry];
	}
	meta.insertPage = mg->n > 0 ? blk[mg->n - 1] : HNSW_HEAD_BLKNO;
	*HnswPageGetMeta(BufferGetPage(buf)) = meta;
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	nblocks = RelationGetNumberOfBlocks(bs->index);
	if (RelationNeedsWAL(bs->index))
		log_newpage_range(bs->index, MAIN_FORKNUM, 0, nblocks, true);
}

/* turns the raw vectors into stored ones in place (cosine: unit length) */
static void
mem_transform(HnswBuildState *bs)
{
	MemGraph   *mg = &bs->mg;

	for (int i = 0; i < mg->n; i++)
	{
		float	   *v = mg->vecs + (Size) i * bs->sdim;

		memcpy(bs->tmp, v, sizeof(float) * bs->dim);
		hnsw_make_stored(bs->kind, bs->tmp, bs->dim, v);
	}
}

static void
flush_to_disk(HnswBuildState *bs)
{
	mem_transform(bs);
	mem_write(bs);
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;
	Embedding  *e;

	/* recently dead tuples are indexed too, as other AMs do */
	(void) tupleIsAlive;
	if (isnull[0])
		return;

	/* detoasted values and the on-disk path's work live for one tuple */
	old = MemoryContextSwitchTo(bs->tupcxt);
	e = hnsw_datum_embedding(values[0]);

	if (bs->dim == 0)
	{
		bs->dim = e->dim;
		bs->sdim = hnsw_stored_dim(bs->kind, e->dim);
		if (HnswElementSize(bs->sdim, bs->m, 0) > HNSW_MAX_ITEM_SIZE)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("embeddings of %d dimensions are too large for a recsys_hnsw index with m = %d",
							e->dim, bs->m),
					 errhint("An element with its neighbours must fit one %d-byte page; use fewer dimensions or a smaller m.",
							 BLCKSZ)));
		bs->tmp = MemoryContextAlloc(bs->cxt, sizeof(float) * (bs->sdim + 1));
	}
	hnsw_check_dim(index, e->dim, bs->dim);

	if (bs->kind == HNSW_KIND_COSINE && rs_norm_squared(e->x, e->dim) == 0.0f)
	{
		/* no direction: cosine distance is undefined (NaN), not indexed */
		bs->skipped++;
	}
	else if (bs->ondisk)
	{
		hnsw_insert_on_disk(index, e->x, e->dim, tid);
		bs->indtuples++;
	}
	else
	{
		MemGraph   *mg = &bs->mg;
		Size		need = element_memory(bs);

		if (bs->memused + need > bs->memlimit && mg->n > 0)
		{
			ereport(NOTICE,
					(errmsg("recsys_hnsw graph no longer fits in maintenance_work_mem after %d tuples",
							mg->n),
					 errdetail("The remaining tuples are inserted into the index on disk, which is much slower."),
					 errhint("Increase maintenance_work_mem to build the whole graph in memory.")));
			flush_to_disk(bs);
			bs->ondisk = true;
			/* from here tuples_done counts the table's rows again */
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_DISK);
			if (bs->reltuples > 0)
				pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs->reltuples);
			hnsw_insert_on_disk(index, e->x, e->dim, tid);
			bs->indtuples++;
		}
		else
		{
			if (mg->n == mg->cap)
				mem_grow(bs);
			memcpy(mg->vecs + (Size) mg->n * bs->sdim, e->x, sizeof(float) * e->dim);
			mg->tids[mg->n] = *tid;
			mg->n++;
			bs->memused += need;
			bs->indtuples++;
		}
	}

	if (((int64) (bs->indtuples + bs->skipped) & 1023) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 (int64) (bs->indtuples + bs->skipped));
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tupcxt);
}

IndexBuildResult *
hnsw_build(Relation heap, Relation index, struct IndexInfo *indexInfo)
{
	HnswBuildState bs;
	IndexBuildResult *result;
	double		reltuples;
	Buffer		buf;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.kind = hnsw_opclass_kind(index);
	bs.m = hnsw_get_m(index);
	bs.efConstruction = hnsw_get_ef_construction(index);
	bs.memlimit = (Size) maintenance_work_mem * 1024;
	bs.cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys_hnsw build",
								   ALLOCSET_DEFAULT_SIZES);
	bs.tupcxt = AllocSetContextCreate(CurrentMemoryContext, "recsys_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);

	if (bs.efConstruction < 2 * bs.m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be at least twice m"),
				 errdetail("m is %d and ef_construction is %d.", bs.m, bs.efConstruction),
				 errhint("Raise ef_construction to %d or more, or lower m.", 2 * bs.m)));

	/* the metapage first, so the on-disk path finds it */
	buf = hnsw_new_buffer(index, MAIN_FORKNUM);
	hnsw_init_metapage(BufferGetPage(buf), bs.m, bs.efConstruction, bs.kind);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	bs.reltuples = Max(heap->rd_rel->reltuples, 0);
	if (bs.reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.reltuples);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   build_callback, &bs, NULL);

	/* pages written past the memory limit were logged one by one */
	if (!bs.ondisk)
	{
		MemoryContext old = MemoryContextSwitchTo(bs.cxt);

		flush_to_disk(&bs);
		MemoryContextSwitchTo(old);
	}

	MemoryContextDelete(bs.tupcxt);
	MemoryContextDelete(bs.cxt);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* the init fork of an unlogged index: an empty metapage */
void
hnsw_buildempty(Relation index)
{
	Buffer		buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	GenericXLogState *state;
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	hnsw_init_metapage(page, hnsw_get_m(index), hnsw_get_ef_construction(index),
					   hnsw_opclass_kind(index));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}
