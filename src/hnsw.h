/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  The recsys_hnsw index access method: a hierarchical navigable
 *	  small-world graph over embeddings, stored in index pages.
 *
 * Page layout.  Block 0 is the metapage (HnswMetaPageData in the page
 * contents).  Every other block holds element tuples as ordinary line
 * pointers; an element is addressed by its index TID (block, offset) and
 * never moves.  Neighbour lists name elements by a 4-byte id, the block
 * shifted left 8 bits plus the offset: an element tuple is at least 36
 * bytes with its line pointer, so no page holds more than 226 of them,
 * and an index may have 2^23 blocks (64 GiB; the top bit is left free for
 * the scan cache's own use).  Id 0 (block 0, the
 * metapage) marks an empty slot.
 *
 * An element tuple holds the heap TID of its row, its top layer, the
 * layers its slot has room for, the stored vector and, for each layer it
 * lives on, a fixed number of neighbour slots (2m on layer 0, m above).
 * Its size depends only on the layer count it was allocated for, so
 * neighbour lists are rewritten in place and a slot freed by VACUUM can be
 * reused by any element with as many layers or fewer.
 *
 * The vector is stored at half precision: a scale (the largest absolute
 * element) and IEEE binary16 values of x / scale, so any float4 range
 * keeps 11 significant bits relative to the largest element, plus err,
 * the Euclidean distance between the vector and what is stored, rounded
 * up.  The graph is searched with the stored vectors; a scan reports for
 * each row a lower bound of its exact distance derived from err, and asks
 * the executor to recompute the exact one from the heap row
 * (xs_recheckorderby), which puts the rows in exact order.  At m = 16 and
 * 64 dimensions a layer-0 element is 16 + 128 + 128 bytes and a page
 * holds 29 (float4 vectors: 20).
 *
 * Every change to the graph after the build (an insert, a VACUUM that
 * removed something) ends by advancing the metapage's change stamp, which
 * the build starts at a random value: a backend that keeps copies of
 * elements between scans (hnswscan.c) compares it once per scan.
 *
 * The graph of each opclass is built with the distance it serves:
 *	 l2       squared Euclidean distance of the embeddings
 *	 cosine   squared Euclidean distance of the embeddings scaled to unit
 *	          length, 2 - 2 cos (zero vectors are not indexed)
 *	 ip       -a.b / sqrt(|a| |b|): the inner product damped by the
 *	          geometric mean of the norms.  Not a metric.  Measured on ials
 *	          item factors (recall@10 at ef_search 40; 20k items x 32 and
 *	          49k x 64): this 0.981 and 0.974; the raw negative inner product
 *	          (hnswlib's "ip" space) 0.883 and 0.983, it lets the long
 *	          vectors take every link; the angle alone (1 - cos) 0.955 and
 *	          0.84, it ignores the norms that rank the answers; the
 *	          norm-augmentation reduction to Euclidean search (one extra
 *	          coordinate sqrt(M^2 - |x|^2)) 0.41 and 0.25 (0.95 on another
 *	          training run of the second set): nearly every item, being
 *	          short, sits near one pole of the augmented sphere.
 * Scans rank by the opclass's own distance, which orders exactly like the
 * operator.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_HNSW_H
#define RECSYS_HNSW_H

#include "runtime.h"
#include "embedding.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "access/reloptions.h"
#include "lib/pairingheap.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"
#include "compat.h"

#define HNSW_MAGIC				0x52534857	/* "RSHW" */
#define HNSW_VERSION			2
#define HNSW_METAPAGE_BLKNO		0
#define HNSW_HEAD_BLKNO			1

/* heavyweight page lock that serialises graph changes (inserts, VACUUM) */
#define HNSW_UPDATE_LOCK		0

#define HNSW_DEFAULT_M			16
#define HNSW_MIN_M				2
#define HNSW_MAX_M				100
#define HNSW_DEFAULT_EF_CONSTRUCTION	64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000
#define HNSW_DEFAULT_EF_SEARCH	40
#define HNSW_MAX_LEVEL			15

/* opclass support function 1 returns one of these (see hnsw_*_support) */
#define HNSW_SUPPORT_PROC		1
#define HNSW_KIND_L2			1
#define HNSW_KIND_IP			2
#define HNSW_KIND_COSINE		3

/* build sub-phases reported in pg_stat_progress_create_index */
#define HNSW_PHASE_LOAD			2
#define HNSW_PHASE_GRAPH		3
#define HNSW_PHASE_WRITE		4
#define HNSW_PHASE_DISK			5

typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int			m;				/* neighbours per element and layer */
	int			efConstruction; /* candidate list size while building */
} HnswOptions;

typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	int32		dim;			/* dimensions of the column; 0 until known */
	int32		sdim;			/* dimensions of the stored vector */
	int16		m;
	int16		efConstruction;
	int16		kind;			/* HNSW_KIND_* */
	int16		entryLevel;		/* top layer of the entry point; -1 if empty */
	BlockNumber entryBlkno;
	OffsetNumber entryOffno;
	BlockNumber insertPage;		/* first block that may have room */
	uint64		stamp;			/* advanced by every change after the build */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/* element flags (HnswElementTupleData.flags) */
#define HNSW_ELEM_FREE			0x80	/* slot freed by VACUUM, reusable */
#define HNSW_ELEM_LEVELS		0x0F	/* the layers the slot has room for */

/* a neighbour: block << 8 | offset; 0 is an empty slot */
typedef uint32 HnswNeighbor;

#define HNSW_NO_NEIGHBOR		0
#define HNSW_MAX_BLOCKS			(1U << 23)
#define HNSW_MAX_OFFSET			255

typedef struct HnswElementTupleData
{
	ItemPointerData heaptid;
	uint8		level;			/* top layer of the element */
	uint8		flags;			/* HNSW_ELEM_FREE | layers of the slot */
	float4		scale;			/* the vector is scale * half[] */
	float4		err;			/* |vector - stored vector|, rounded up */
	uint16		half[FLEXIBLE_ARRAY_MEMBER];	/* sdim binary16, then neighbours */
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

#define HnswElementMaxLevel(t)	((t)->flags & HNSW_ELEM_LEVELS)
#define HnswElementIsFree(t)	(((t)->flags & HNSW_ELEM_FREE) != 0)

/* neighbour slots on one layer, before a layer, in a slot of maxLevel */
#define HnswLayerSlots(m, l)	((l) == 0 ? 2 * (m) : (m))
#define HnswLayerStart(m, l)	((l) == 0 ? 0 : 2 * (m) + ((l) - 1) * (m))
#define HnswTotalSlots(m, L)	(2 * (m) + (L) * (m))
#define HnswHalfBytes(sdim)		(((Size) (sdim) * sizeof(uint16) + 3) & ~(Size) 3)
#define HnswElementSize(sdim, m, L) \
	(offsetof(HnswElementTupleData, half) + HnswHalfBytes(sdim) + \
	 sizeof(HnswNeighbor) * HnswTotalSlots(m, L))
#define HnswElementNeighbors(e, sdim) \
	((HnswNeighbor *) ((char *) (e)->half + HnswHalfBytes(sdim)))

/* room for one element tuple on an otherwise empty page */
#define HNSW_MAX_ITEM_SIZE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - sizeof(ItemIdData))

/*
 * Index TIDs packed into an integer key: the same value as a stored
 * neighbour id, widened (the construction code names elements by uint64).
 */
#define HnswTidKey(blk, off)	(((uint64) (blk) << 8) | (uint64) (off))
#define HnswKeyBlk(k)			((BlockNumber) ((k) >> 8))
#define HnswKeyOff(k)			((OffsetNumber) ((k) & 0xFF))

/*
 * A graph the construction algorithm works on: the in-memory graph of a
 * build, or the pages of an index (through a cache of elements read for
 * one insert).  Elements are named by an integer: an array position in
 * memory, a packed index TID on disk.
 */
typedef struct HnswGraph HnswGraph;

struct HnswGraph
{
	int			m;
	int			sdim;
	int			kind;			/* HNSW_KIND_*: which graph distance */
	/* the stored vector of an element */
	const float *(*vector) (HnswGraph *g, uint64 id);
	/* its neighbours on a layer: count, and a pointer to them */
	int			(*neighbors) (HnswGraph *g, uint64 id, int layer, const uint64 **out);
	/* false for elements a search must step over (freed slots) */
	bool		(*usable) (HnswGraph *g, uint64 id);
	/* visited set for one search */
	void		(*visit_reset) (HnswGraph *g);
	bool		(*visit) (HnswGraph *g, uint64 id);	/* true if new */
};

/* a candidate: an element and its distance to the query */
typedef struct HnswCandidate
{
	uint64		id;
	float		dist;
} HnswCandidate;

/*
 * Copies of elements for scans (hnswcache.c): slot i holds an element's
 * vector, heap TID, top layer and its non-empty neighbour ids.  A layer-0
 * neighbour id that a scan has found in the same backend cache is
 * replaced by HNSW_CACHE_SLOT | its slot, so the next scan goes straight
 * there.
 */
#define HNSW_CACHE_FREE			0xFF	/* level of a slot VACUUM freed */
#define HNSW_CACHE_SLOT			0x80000000U

/*
 * One slot: this header, the vector (sdim floats), then 2m layer-0
 * neighbour ids, in one record, so that an element's distance and its
 * expansion read neighbouring memory (as hnswlib lays its level 0 out).
 */
typedef struct HnswSlot
{
	ItemPointerData tid;
	uint8		level;			/* top layer, or HNSW_CACHE_FREE */
	uint8		nb0n;			/* layer-0 neighbours */
	uint32		key;			/* its neighbour id */
	float		err;			/* the element's err */
	float		norm;			/* |stored vector| */
} HnswSlot;

#define HnswCacheSlot(c, s)	((HnswSlot *) ((c)->recs + (Size) (s) * (c)->recsize))
#define HnswSlotVec(sl)		((float *) ((sl) + 1))
#define HnswSlotNb0(c, sl)	((HnswNeighbor *) (HnswSlotVec(sl) + (c)->sdim))

typedef struct HnswCache
{
	Oid			relid;
	RsRelFile	node;
	uint64		stamp;			/* metapage stamp the contents belong to */
	int			m;
	int			sdim;
	bool		persistent;		/* the backend's, kept between scans */
	bool		stale;			/* the index changed: empty when unused */
	bool		full;			/* the memory limit refused a page */
	bool		visitedTaken;	/* a scan marks visited[] */
	int			pins;			/* scans using it */
	int			stableScans;	/* scans since it was last emptied */
	Size		bytes;
	MemoryContext cxt;
	struct slotmap_hash *map;	/* neighbour id -> slot */
	int			n;
	int			cap;
	Size		recsize;		/* bytes of one slot */
	char	   *recs;
	uint32	   *visited;		/* per slot: the search that marked it */
	HnswNeighbor **upper;		/* layers 1..level: count, then m ids */
	uint32		epoch;			/* of the search marking visited */
} HnswCache;

/* hnswoptions.c */
extern int	hnsw_ef_search;
extern int	hnsw_cache_size_kb;
extern int	hnsw_max_cache_size_kb;
extern int	hnsw_cache_size_effective_kb(void);
extern int	hnsw_max_scan_tuples;
extern void rs_hnsw_init(void);
extern int	hnsw_get_m(Relation index);
extern int	hnsw_get_ef_construction(Relation index);
extern bytea *hnsw_options(Datum reloptions, bool validate);

/* hnswbuild.c */
extern IndexBuildResult *hnsw_build(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void hnsw_buildempty(Relation index);

/* hnswinsert.c */
extern bool hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
						Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
						struct IndexInfo *indexInfo);
extern void hnsw_insert_on_disk(Relation index, const float *raw, int dim, ItemPointer heaptid);

/* hnswscan.c */
extern IndexScanDesc hnsw_beginscan(Relation index, int nkeys, int norderbys);
extern void hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool hnsw_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnsw_endscan(IndexScanDesc scan);

/* hnswcache.c */
extern HnswCache *hnsw_cache_for_scan(Relation index, const HnswMetaPageData *meta);
extern HnswCache *hnsw_cache_create(MemoryContext parent, int m, int sdim);
extern void hnsw_cache_release(HnswCache *c);
extern int	hnsw_cache_lookup(HnswCache *c, uint32 key);
extern int	hnsw_cache_load(HnswCache *c, Relation index, uint32 key, Buffer *buf);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *hnsw_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											  IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *hnsw_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

/* hnswutils.c */
extern int	hnsw_opclass_kind(Relation index);
extern int	hnsw_stored_dim(int kind, int dim);
extern bool hnsw_make_stored(int kind, const float *raw, int dim, float *out);
extern void hnsw_store_vector(HnswElementTuple t, const float *vec, int sdim);
extern void hnsw_load_vector(const HnswElementTuple t, int sdim, float *out);
extern bool hnsw_copy_element(Relation index, uint64 key, int m, int sdim,
							  HnswElementTupleData *hdr, float *vec,
							  uint64 **nbrs, uint8 *counts);
extern float hnsw_gdist(int kind, const float *a, const float *b, int sdim);
extern int	hnsw_random_level(int m, int sdim, double r);
extern int	hnsw_max_level_for(int m, int sdim);
extern void hnsw_check_dim(Relation index, int dim, int indexdim);
extern Embedding *hnsw_datum_embedding(Datum d);
extern void hnsw_check_blocks(Relation index, BlockNumber blk);
extern Buffer hnsw_new_buffer(Relation index, ForkNumber fork);
extern void hnsw_init_page(Page page);
extern void hnsw_init_metapage(Page page, int m, int efConstruction, int kind);
extern HnswMetaPageData hnsw_read_meta(Relation index);
extern void hnsw_update_meta(Relation index, const HnswMetaPageData *meta);
extern int	hnsw_search_layer(HnswGraph *g, const float *q, HnswCandidate *ep, int nep,
							  int ef, int layer, HnswCandidate *out);
extern int	hnsw_select_neighbors(HnswGraph *g, HnswCandidate *cand, int ncand, int max,
								  HnswCandidate *out);

#endif							/* RECSYS_HNSW_H */
