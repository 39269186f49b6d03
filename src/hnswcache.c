/*-------------------------------------------------------------------------
 *
 * hnswcache.c
 *	  Copies of recsys_hnsw elements in flat arrays, for scans.
 *
 * A scan touches a few hundred to a few thousand elements scattered over
 * the index.  Read through shared buffers, each one costs a buffer-table
 * lookup, a pin and a content lock on a page that is rarely in the CPU
 * cache: measured on 200k x 64 vectors, 90% of a scan's time went there
 * and 7% to distances.  So scans copy the elements they read (vector, heap
 * TID, layer, neighbour ids) into arrays that stay in the backend:
 *
 *	 - the backend keeps one cache per index (TopMemoryContext), filled as
 *	   scans reach elements, up to recsys.hnsw_cache_size kB in total over
 *	   all indexes.  From the third scan that finds the index unchanged on,
 *	   every element of a page read is copied, so a read-mostly index is
 *	   copied whole after a few hundred scans; before that (an index that
 *	   changes between scans) only the elements read are;
 *	 - a scan that finds no room puts the elements it reads in a cache of
 *	   its own, freed with the scan, one element at a time.
 *
 * Validity.  Every change to an index after its build ends by advancing
 * the change stamp on its metapage (hnswinsert.c, hnswvacuum.c), and a
 * REINDEX or TRUNCATE gives it a new relfilenode.  A scan reads the
 * metapage once at its start; a cache made under another stamp or file is
 * emptied then, before the scan uses it.  Contents copied while a change
 * was in progress are what the scan could have read from the pages
 * themselves at that moment, and they are dropped by the next scan after
 * the change ends.  This holds on a standby too: the stamp is replayed
 * after the page changes it follows.
 *
 * A cache in use by a scan is never emptied (a second scan of the same
 * index opened meanwhile, e.g. by a cursor, uses its own cache if the
 * stamp moved); pins are dropped by the scans and, should a scan end by
 * an error, at the end of the transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <math.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* key (neighbour id) -> slot */
typedef struct SlotEntry
{
	uint32		key;
	int32		slot;
	char		status;
} SlotEntry;

#define SH_PREFIX slotmap
#define SH_ELEMENT_TYPE SlotEntry
#define SH_KEY_TYPE uint32
#define SH_KEY key
#define SH_HASH_KEY(tb, k) murmurhash32(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

#define MAX_CACHES 8
static HnswCache *caches[MAX_CACHES];
static bool callbacks_registered = false;

/* bytes one slot costs, map entry included */
static Size
slot_bytes(int m, int sdim)
{
	return sizeof(HnswSlot) + sizeof(float) * sdim + sizeof(HnswNeighbor) * 2 * m +
		sizeof(uint32) + sizeof(HnswNeighbor *) + 2 * sizeof(SlotEntry);
}

static Size
total_bytes(void)
{
	Size		t = 0;

	for (int i = 0; i < MAX_CACHES; i++)
		if (caches[i])
			t += caches[i]->bytes;
	return t;
}

static void
cache_init_contents(HnswCache *c)
{
	c->map = slotmap_create(c->cxt, 1024, NULL);
	c->n = 0;
	c->cap = 0;
	c->recsize = sizeof(HnswSlot) + sizeof(float) * c->sdim + sizeof(HnswNeighbor) * 2 * c->m;
	c->recs = NULL;
	c->visited = NULL;
	c->upper = NULL;
	c->epoch = 0;
	c->full = false;
	c->stableScans = 0;
	c->bytes = sizeof(HnswCache) + 1024 * 2 * sizeof(SlotEntry);
}

/* a scan's own cache, in its memory context, without a limit */
HnswCache *
hnsw_cache_create(MemoryContext parent, int m, int sdim)
{
	HnswCache  *c = MemoryContextAllocZero(parent, sizeof(HnswCache));

	c->m = m;
	c->sdim = sdim;
	c->persistent = false;
	c->cxt = AllocSetContextCreate(parent, "recsys_hnsw scan elements",
								   ALLOCSET_DEFAULT_SIZES);
	cache_init_contents(c);
	c->epoch = 1;
	return c;
}

static void
cache_empty(HnswCache *c)
{
	MemoryContextReset(c->cxt);
	cache_init_contents(c);
}

static void
cache_free(int i)
{
	MemoryContextDelete(caches[i]->cxt);
	pfree(caches[i]);
	caches[i] = NULL;
}

/* an index was dropped, rebuilt or altered: its cache goes when unused */
static void
relcache_callback(Datum arg, Oid relid)
{
	(void) arg;
	for (int i = 0; i < MAX_CACHES; i++)
		if (caches[i] && (relid == InvalidOid || caches[i]->relid == relid))
		{
			if (caches[i]->pins == 0)
				cache_free(i);
			else
				caches[i]->stale = true;
		}
}

/* scans do not outlive their transaction: no pin does either */
static void
xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	for (int i = 0; i < MAX_CACHES; i++)
		if (caches[i])
		{
			caches[i]->pins = 0;
			caches[i]->visitedTaken = false;
		}
}

/*
 * The backend's cache of an index for a scan that read meta at its start,
 * pinned; NULL if caching is off or no cache can be had (then the scan
 * uses one of its own).
 */
HnswCache *
hnsw_cache_for_scan(Relation index, const HnswMetaPageData *meta)
{
	HnswCache  *c = NULL;
	int			freeslot = -1;

	if (hnsw_cache_size_effective_kb() <= 0)
		return NULL;
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
		RegisterXactCallback(xact_callback, NULL);
		callbacks_registered = true;
	}

	for (int i = 0; i < MAX_CACHES; i++)
	{
		if (caches[i] == NULL)
		{
			if (freeslot < 0)
				freeslot = i;
			continue;
		}
		if (caches[i]->relid != RelationGetRelid(index))
			continue;
		c = caches[i];
		if (c->stamp != meta->stamp || c->m != meta->m || c->sdim != meta->sdim ||
			c->stale || memcmp(&c->node, &RS_REL_FILE(index), sizeof(RsRelFile)) != 0)
		{
			if (c->pins > 0)
				return NULL;
			cache_empty(c);
			c->stamp = meta->stamp;
			c->m = meta->m;
			c->sdim = meta->sdim;
			c->stale = false;
			c->node = RS_REL_FILE(index);
		}
		c->pins++;
		c->stableScans++;
		return c;
	}

	if (freeslot < 0)
	{
		/* every slot taken: drop an unused cache of another index */
		for (int i = 0; i < MAX_CACHES && freeslot < 0; i++)
			if (caches[i]->pins == 0)
			{
				cache_free(i);
				freeslot = i;
			}
		if (freeslot < 0)
			return NULL;
	}

	c = MemoryContextAllocZero(TopMemoryContext, sizeof(HnswCache));
	c->relid = RelationGetRelid(index);
	c->node = RS_REL_FILE(index);
	c->stamp = meta->stamp;
	c->m = meta->m;
	c->sdim = meta->sdim;
	c->persistent = true;
	c->cxt = AllocSetContextCreate(TopMemoryContext, "recsys_hnsw element cache",
								   ALLOCSET_DEFAULT_SIZES);
	cache_init_contents(c);
	caches[freeslot] = c;
	c->pins = 1;
	c->stableScans = 1;
	return c;
}

void
hnsw_cache_release(HnswCache *c)
{
	if (c && c->pins > 0)
		c->pins--;
}

/* the slot holding key, or -1 */
int
hnsw_cache_lookup(HnswCache *c, uint32 key)
{
	SlotEntry  *e = slotmap_lookup(c->map, key);

	return e ? e->slot : -1;
}

/* room for need more slots; false if the backend's limit forbids it */
static bool
cache_reserve(HnswCache *c, int need)
{
	int			newcap;
	Size		grow;

	if (c->n + need <= c->cap)
		return true;
	newcap = Max(c->cap * 2, 256);
	while (newcap < c->n + need)
		newcap *= 2;
	grow = (Size) (newcap - c->cap) * slot_bytes(c->m, c->sdim);
	if (c->persistent)
	{
		Size		limit = (Size) hnsw_cache_size_effective_kb() * 1024;
		Size		used = total_bytes();

		if (used + grow > limit)
		{
			/* the last growth: as much as the limit leaves */
			Size		room = used < limit ? limit - used : 0;

			newcap = c->cap + (int) Min(room / slot_bytes(c->m, c->sdim), (Size) INT_MAX / 2);
			if (newcap < c->n + need)
			{
				c->full = true;
				return false;
			}
			grow = (Size) (newcap - c->cap) * slot_bytes(c->m, c->sdim);
		}
	}
	if (c->cap == 0)
	{
		c->recs = MemoryContextAllocHuge(c->cxt, c->recsize * newcap);
		c->visited = MemoryContextAllocHuge(c->cxt, sizeof(uint32) * newcap);
		c->upper = MemoryContextAllocHuge(c->cxt, sizeof(HnswNeighbor *) * newcap);
	}
	else
	{
		c->recs = repalloc_huge(c->recs, c->recsize * newcap);
		c->visited = repalloc_huge(c->visited, sizeof(uint32) * newcap);
		c->upper = repalloc_huge(c->upper, sizeof(HnswNeighbor *) * newcap);
	}
	memset(c->visited + c->cap, 0, sizeof(uint32) * (newcap - c->cap));
	c->cap = newcap;
	c->bytes += grow;
	return true;
}

/* copies the element at off of a share-locked page into a new slot */
static int
cache_copy(HnswCache *c, Page page, BlockNumber blk, OffsetNumber off)
{
	uint32		key = (uint32) HnswTidKey(blk, off);
	HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
	int			m = c->m;
	int			s = c->n++;
	HnswSlot   *sl = HnswCacheSlot(c, s);
	HnswNeighbor *nb = HnswElementNeighbors(t, c->sdim);
	HnswNeighbor *dst = HnswSlotNb0(c, sl);
	bool		found;
	SlotEntry  *e;
	int			n = 0;

	hnsw_load_vector(t, c->sdim, HnswSlotVec(sl));
	sl->key = key;
	sl->err = t->err;
	{
		const float *v = HnswSlotVec(sl);
		double		nn = 0.0;

		for (int i = 0; i < c->sdim; i++)
			nn += (double) v[i] * v[i];
		sl->norm = (float) sqrt(nn);
	}
	sl->tid = t->heaptid;
	c->upper[s] = NULL;
	if (HnswElementIsFree(t))
	{
		sl->level = HNSW_CACHE_FREE;
		sl->nb0n = 0;
	}
	else
	{
		sl->level = t->level;
		for (int j = 0; j < 2 * m; j++)
			if (nb[j] != HNSW_NO_NEIGHBOR)
				dst[n++] = nb[j];
		sl->nb0n = n;
		if (t->level > 0)
		{
			/* per upper layer: the count, then m ids */
			HnswNeighbor *up = MemoryContextAlloc(c->cxt, sizeof(HnswNeighbor) * t->level * (m + 1));

			for (int l = 1; l <= t->level; l++)
			{
				HnswNeighbor *src = nb + HnswLayerStart(m, l);
				HnswNeighbor *ul = up + (l - 1) * (m + 1);

				n = 0;
				for (int j = 0; j < m; j++)
					if (src[j] != HNSW_NO_NEIGHBOR)
						ul[1 + n++] = src[j];
				ul[0] = n;
			}
			c->upper[s] = up;
			c->bytes += sizeof(HnswNeighbor) * t->level * (m + 1);
		}
	}
	e = slotmap_insert(c->map, key, &found);
	e->slot = s;
	return s;
}

/*
 * Reads the element key through *buf (kept pinned for the next read) and
 * copies it, or for a backend cache every element of its page not yet
 * copied.  Returns key's slot, -1 if there is no such element (beyond the
 * page's last item) or the cache is full.
 */
int
hnsw_cache_load(HnswCache *c, Relation index, uint32 key, Buffer *buf)
{
	BlockNumber blk = HnswKeyBlk(key);
	OffsetNumber want = HnswKeyOff(key);
	Page		page;
	OffsetNumber maxoff;
	int			slot = -1;

	if (c->full)
		return -1;
	/* ids come from the index's own pages, which exist once linked to */
	if (blk == HNSW_METAPAGE_BLKNO)
		return -1;
	*buf = ReleaseAndReadBuffer(*buf, index, blk);
	LockBuffer(*buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(*buf);
	maxoff = PageGetMaxOffsetNumber(page);
	if (want <= maxoff)
	{
		if (!c->persistent || c->stableScans < 3)
		{
			/*
			 * A scan's own cache copies what it reads; so does the
			 * backend's while the index keeps changing between scans
			 * (inserts going on), when its contents rarely outlive a scan.
			 */
			if (cache_reserve(c, 1))
				slot = cache_copy(c, page, blk, want);
		}
		else if (cache_reserve(c, maxoff))
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				int			s = hnsw_cache_lookup(c, (uint32) HnswTidKey(blk, off));

				if (s < 0)
					s = cache_copy(c, page, blk, off);
				if (off == want)
					slot = s;
			}
		}
	}
	LockBuffer(*buf, BUFFER_LOCK_UNLOCK);
	return slot;
}
