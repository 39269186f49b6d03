/*-------------------------------------------------------------------------
 *
 * hnswutils.c
 *	  What every phase of recsys_hnsw shares: the opclass kind and the
 *	  stored-vector transform, page and metapage helpers, and the two steps
 *	  of graph construction (the layer search and the neighbour selection
 *	  heuristic), written once over the HnswGraph interface so the
 *	  in-memory build and inserts into a built index make the same graph.
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "common/pg_prng.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

/*
 * The opclass kind, from support function 1 of the index column: each
 * opclass names a tiny C function that returns its HNSW_KIND_*.
 */
int
hnsw_opclass_kind(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, HNSW_SUPPORT_PROC);
	int			kind = DatumGetInt32(FunctionCall1(proc, (Datum) 0));

	if (kind != HNSW_KIND_L2 && kind != HNSW_KIND_IP && kind != HNSW_KIND_COSINE)
		elog(ERROR, "recsys_hnsw support function returned unknown kind %d", kind);
	return kind;
}

PG_FUNCTION_INFO_V1(hnsw_l2_support);
Datum
hnsw_l2_support(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	PG_RETURN_INT32(HNSW_KIND_L2);
}

PG_FUNCTION_INFO_V1(hnsw_ip_support);
Datum
hnsw_ip_support(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	PG_RETURN_INT32(HNSW_KIND_IP);
}

PG_FUNCTION_INFO_V1(hnsw_cosine_support);
Datum
hnsw_cosine_support(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	PG_RETURN_INT32(HNSW_KIND_COSINE);
}

int
hnsw_stored_dim(int kind, int dim)
{
	(void) kind;
	return dim;
}

/*
 * The stored vector of an embedding (see hnsw.h).  Returns false when the
 * value cannot be indexed: a zero vector under cosine has no direction.
 */
bool
hnsw_make_stored(int kind, const float *raw, int dim, float *out)
{
	if (kind == HNSW_KIND_COSINE)
	{
		double		nn = 0.0;
		double		inv;

		for (int i = 0; i < dim; i++)
			nn += (double) raw[i] * raw[i];
		if (nn == 0.0)
			return false;
		inv = 1.0 / sqrt(nn);
		for (int i = 0; i < dim; i++)
			out[i] = (float) (raw[i] * inv);
		return true;
	}
	memcpy(out, raw, sizeof(float) * dim);
	return true;
}

/* IEEE binary16 from a float of magnitude at most 1, rounded to nearest even */
static uint16
float_to_half(float f)
{
	uint32		x;
	uint32		sign;
	int			exp;
	uint32		mant;
	uint32		h;
	uint32		rem;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000;
	exp = (int) ((x >> 23) & 0xff) - 127 + 15;
	mant = x & 0x7fffff;
	if (exp >= 31)
		return sign | 0x7c00;	/* not reached: |f| <= 1 */
	if (exp <= 0)
	{
		/* a subnormal half: units of 2^-24 */
		int			shift = 14 - exp;
		uint32		halfway;

		if (shift > 24)
			return sign;
		mant |= 0x800000;
		h = mant >> shift;
		rem = mant & ((1U << shift) - 1);
		halfway = 1U << (shift - 1);
		if (rem > halfway || (rem == halfway && (h & 1)))
			h++;
		return sign | h;
	}
	h = ((uint32) exp << 10) | (mant >> 13);
	rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	return sign | h;
}

static inline float
half_to_float(uint16 h)
{
	uint32		sign = (uint32) (h & 0x8000) << 16;
	uint32		exp = (h >> 10) & 0x1f;
	uint32		mant = h & 0x3ff;
	uint32		x;
	float		f;

	if (exp == 0)
	{
		f = (float) mant * (1.0f / 16777216.0f);
		memcpy(&x, &f, sizeof(x));
		x |= sign;
	}
	else if (exp == 31)
		x = sign | 0x7f800000 | (mant << 13);
	else
		x = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&f, &x, sizeof(f));
	return f;
}

/*
 * Stores a vector in an element tuple at half precision (see hnsw.h): the
 * scale, the halves, and err against exactly what hnsw_load_vector will
 * give back, rounded up so that it bounds the true difference.
 */
void
hnsw_store_vector(HnswElementTuple t, const float *vec, int sdim)
{
	float		amax = 0.0f;
	double		e2 = 0.0;
	double		e;
	float		err;

	for (int i = 0; i < sdim; i++)
		amax = Max(amax, fabsf(vec[i]));
	t->scale = amax;
	for (int i = 0; i < sdim; i++)
	{
		uint16		h = amax > 0.0f ? float_to_half(vec[i] / amax) : 0;
		double		d = (double) vec[i] - (double) (amax * half_to_float(h));

		t->half[i] = h;
		e2 += d * d;
	}
	if (sdim & 1)
		t->half[sdim] = 0;		/* the padding, so pages compare equal */
	e = sqrt(e2) * (1.0 + 1e-6);
	err = (float) e;
	if ((double) err < e)
		err = nextafterf(err, INFINITY);
	t->err = err;
}

void
hnsw_load_vector(const HnswElementTuple t, int sdim, float *out)
{
	float		scale = t->scale;

	for (int i = 0; i < sdim; i++)
		out[i] = scale * half_to_float(t->half[i]);
}

/*
 * Copies the neighbour lists of t's layers 0 to t->level into nbrs (layer
 * l from HnswLayerStart(m, l), HnswTotalSlots(m, t->level) in all),
 * without the empty slots; counts[l] is the length of layer l's list.
 */
static void
hnsw_load_neighbors(const HnswElementTuple t, int m, int sdim,
					uint64 *nbrs, uint8 *counts)
{
	HnswNeighbor *nb = HnswElementNeighbors(t, sdim);

	for (int l = 0; l <= t->level; l++)
	{
		HnswNeighbor *src = nb + HnswLayerStart(m, l);
		uint64	   *dst = nbrs + HnswLayerStart(m, l);
		int			n = 0;

		for (int j = 0; j < HnswLayerSlots(m, l); j++)
			if (src[j] != HNSW_NO_NEIGHBOR)
				dst[n++] = src[j];
		counts[l] = n;
	}
}

/*
 * Copies element key of index out of its page, read under a share lock:
 * its header (heap TID, level, flags) into *hdr, its vector into vec (sdim
 * floats) and its neighbour lists into *nbrs (palloc'd, as
 * hnsw_load_neighbors lays them out) with counts.  When the page has no
 * item at key's offset (never in a sound index) it is stepped over: a free
 * slot of layer 0 with no heap TID, no vector and no neighbours (*nbrs
 * NULL), and the result is false.
 */
bool
hnsw_copy_element(Relation index, uint64 key, int m, int sdim,
				  HnswElementTupleData *hdr, float *vec,
				  uint64 **nbrs, uint8 *counts)
{
	Buffer		buf = ReadBuffer(index, HnswKeyBlk(key));
	Page		page;
	bool		found;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	found = HnswKeyOff(key) <= PageGetMaxOffsetNumber(page);
	if (found)
	{
		HnswElementTuple t = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, HnswKeyOff(key)));

		memcpy(hdr, t, offsetof(HnswElementTupleData, half));
		hnsw_load_vector(t, sdim, vec);
		*nbrs = palloc(sizeof(uint64) * HnswTotalSlots(m, t->level));
		hnsw_load_neighbors(t, m, sdim, *nbrs, counts);
	}
	else
	{
		memset(hdr, 0, offsetof(HnswElementTupleData, half));
		ItemPointerSetInvalid(&hdr->heaptid);
		hdr->flags = HNSW_ELEM_FREE;
		*nbrs = NULL;
		memset(counts, 0, sizeof(uint8) * (HNSW_MAX_LEVEL + 1));
	}
	UnlockReleaseBuffer(buf);
	return found;
}

/*
 * The distance the graph is built with, between stored vectors: squared
 * Euclidean for l2 and for cosine (on unit vectors, 2 - 2 cos), and for
 * ip the negative inner product over the geometric mean of the norms (see
 * hnsw.h for why).
 */
float
hnsw_gdist(int kind, const float *a, const float *b, int sdim)
{
	if (kind == HNSW_KIND_IP)
	{
		/* one pass: this is the build's inner loop for ip */
		float		ab = 0.0f;
		float		aa = 0.0f;
		float		bb = 0.0f;

		for (int i = 0; i < sdim; i++)
		{
			ab += a[i] * b[i];
			aa += a[i] * a[i];
			bb += b[i] * b[i];
		}
		if (aa == 0.0f || bb == 0.0f)
			return 0.0f;
		return -ab / sqrtf(sqrtf(aa) * sqrtf(bb));
	}
	return rs_l2_squared(a, b, sdim);
}

/* the most layers an element may have so that its tuple fits a page */
int
hnsw_max_level_for(int m, int sdim)
{
	int			L = HNSW_MAX_LEVEL;

	while (L > 0 && HnswElementSize(sdim, m, L) > HNSW_MAX_ITEM_SIZE)
		L--;
	return L;
}

/* a layer drawn from the usual exponential distribution, mL = 1/ln(m) */
int
hnsw_random_level(int m, int sdim, double r)
{
	double		ml = 1.0 / log((double) m);
	int			level;

	if (r <= 0.0)
		r = 1e-12;
	level = (int) floor(-log(r) * ml);
	return Min(level, hnsw_max_level_for(m, sdim));
}

/*
 * Dimension checks: an element tuple must fit a page (with its layer-0
 * neighbour slots), and every value must match the index's dimension.
 */
void
hnsw_check_dim(Relation index, int dim, int indexdim)
{
	if (indexdim > 0 && dim != indexdim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding has %d dimensions but index \"%s\" holds %d", dim,
						RelationGetRelationName(index), indexdim),
				 errhint("Every embedding in an recsys_hnsw index must have the same number of dimensions; use a typmod such as embedding(%d) on the column.",
						 indexdim)));
}

Embedding *
hnsw_datum_embedding(Datum d)
{
	return DatumGetEmbedding(d);
}

void
hnsw_init_page(Page page)
{
	PageInit(page, BLCKSZ, 0);
}

void
hnsw_init_metapage(Page page, int m, int efConstruction, int kind)
{
	HnswMetaPage meta;

	PageInit(page, BLCKSZ, 0);
	meta = HnswPageGetMeta(page);
	memset(meta, 0, sizeof(HnswMetaPageData));
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->m = m;
	meta->efConstruction = efConstruction;
	meta->kind = kind;
	meta->entryLevel = -1;
	meta->entryBlkno = InvalidBlockNumber;
	meta->entryOffno = InvalidOffsetNumber;
	meta->insertPage = HNSW_HEAD_BLKNO;
	/* a random start, so a copy made of another index never matches */
	meta->stamp = pg_prng_uint64(&pg_global_prng_state);
	/* cover the metadata by pd_lower so full-page images keep it */
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

HnswMetaPageData
hnsw_read_meta(Relation index)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPageData meta;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	meta = *HnswPageGetMeta(BufferGetPage(buf));
	UnlockReleaseBuffer(buf);

	if (meta.magic != HNSW_MAGIC || meta.version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a recsys_hnsw index of this version",
						RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
	return meta;
}

/* writes the metapage through GenericXLog */
void
hnsw_update_meta(Relation index, const HnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	*HnswPageGetMeta(page) = *meta;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* neighbour ids hold 24 bits of block number: an index ends there */
void
hnsw_check_blocks(Relation index, BlockNumber blk)
{
	if (blk >= HNSW_MAX_BLOCKS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("recsys_hnsw index \"%s\" would exceed %u pages",
						RelationGetRelationName(index), HNSW_MAX_BLOCKS),
				 errhint("Index fewer rows (a partial index) or embeddings of fewer dimensions.")));
}

/* a new, initialised, exclusively locked page at the end of the index */
Buffer
hnsw_new_buffer(Relation index, ForkNumber fork)
{
	Buffer		buf;

	/* checked before extending: the relation never grows past the limit */
	hnsw_check_blocks(index, RelationGetNumberOfBlocksInFork(index, fork));
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/* ---- binary heaps of candidates -------------------------------------- */

typedef struct CandHeap
{
	HnswCandidate *a;
	int			n;
	bool		max;			/* max-heap (else min-heap) */
} CandHeap;

static inline bool
heap_before(const CandHeap *h, const HnswCandidate *x, const HnswCandidate *y)
{
	return h->max ? x->dist > y->dist : x->dist < y->dist;
}

static void
heap_push(CandHeap *h, HnswCandidate c)
{
	int			i = h->n++;

	while (i > 0)
	{
		int			p = (i - 1) / 2;

		if (!heap_before(h, &c, &h->a[p]))
			break;
		h->a[i] = h->a[p];
		i = p;
	}
	h->a[i] = c;
}

static HnswCandidate
heap_pop(CandHeap *h)
{
	HnswCandidate top = h->a[0];
	HnswCandidate last = h->a[--h->n];
	int			i = 0;

	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			b = i;
		const HnswCandidate *bv = &last;

		if (l < h->n && heap_before(h, &h->a[l], bv))
		{
			b = l;
			bv = &h->a[l];
		}
		if (r < h->n && heap_before(h, &h->a[r], bv))
			b = r;
		if (b == i)
			break;
		h->a[i] = h->a[b];
		i = b;
	}
	if (h->n > 0)
		h->a[i] = last;
	return top;
}

static int
cand_cmp(const void *a, const void *b)
{
	const HnswCandidate *x = a;
	const HnswCandidate *y = b;

	if (x->dist < y->dist)
		return -1;
	if (x->dist > y->dist)
		return 1;
	return x->id < y->id ? -1 : (x->id > y->id ? 1 : 0);
}

/*
 * The ef elements nearest to q on one layer, found by best-first search
 * from the entry points ep (whose distances are filled in); written to out
 * in ascending distance; returns how many.  out must hold ef entries.
 */
int
hnsw_search_layer(HnswGraph *g, const float *q, HnswCandidate *ep, int nep,
				  int ef, int layer, HnswCandidate *out)
{
	CandHeap	cand;
	CandHeap	res;
	int			cap = ef + nep + 2 * g->m + 1;
	int			n;

	cand.a = palloc(sizeof(HnswCandidate) * 64);
	cand.n = 0;
	cand.max = false;
	res.a = palloc(sizeof(HnswCandidate) * cap);
	res.n = 0;
	res.max = true;

	g->visit_reset(g);
	{
		int			candcap = 64;

		for (int i = 0; i < nep; i++)
		{
			if (!g->visit(g, ep[i].id))
				continue;
			if (cand.n == candcap)
			{
				candcap *= 2;
				cand.a = repalloc(cand.a, sizeof(HnswCandidate) * candcap);
			}
			heap_push(&cand, ep[i]);
			heap_push(&res, ep[i]);
			if (res.n > ef)
				heap_pop(&res);
		}

		while (cand.n > 0)
		{
			HnswCandidate c = heap_pop(&cand);
			const uint64 *nb;
			int			nn;

			if (res.n >= ef && c.dist > res.a[0].dist)
				break;

			nn = g->neighbors(g, c.id, layer, &nb);
			for (int i = 0; i < nn; i++)
			{
				uint64		e = nb[i];
				HnswCandidate ec;

				if (!g->visit(g, e) || !g->usable(g, e))
					continue;
				ec.id = e;
				ec.dist = hnsw_gdist(g->kind, q, g->vector(g, e), g->sdim);
				if (res.n < ef || ec.dist < res.a[0].dist)
				{
					if (cand.n == candcap)
					{
						candcap *= 2;
						cand.a = repalloc(cand.a, sizeof(HnswCandidate) * candcap);
					}
					heap_push(&cand, ec);
					heap_push(&res, ec);
					if (res.n > ef)
						heap_pop(&res);
				}
			}
		}
	}

	n = res.n;
	memcpy(out, res.a, sizeof(HnswCandidate) * n);
	qsort(out, n, sizeof(HnswCandidate), cand_cmp);
	pfree(cand.a);
	pfree(res.a);
	return n;
}

/*
 * The neighbour selection heuristic of the HNSW paper: walk the
 * candidates from the nearest and keep one only if it is nearer to the
 * base element than to every neighbour kept so far, so the links spread
 * in different directions instead of crowding into one cluster.  cand is
 * sorted here; the result (at most max) goes to out.
 */
int
hnsw_select_neighbors(HnswGraph *g, HnswCandidate *cand, int ncand, int max,
					  HnswCandidate *out)
{
	int			n = 0;

	qsort(cand, ncand, sizeof(HnswCandidate), cand_cmp);
	for (int i = 0; i < ncand && n < max; i++)
	{
		const float *cv = g->vector(g, cand[i].id);
		bool		good = true;

		if (i > 0 && cand[i].id == cand[i - 1].id)
			continue;
		for (int j = 0; j < n; j++)
		{
			if (hnsw_gdist(g->kind, cv, g->vector(g, out[j].id), g->sdim) < cand[i].dist)
			{
				good = false;
				break;
			}
		}
		if (good)
			out[n++] = cand[i];
	}
	return n;
}
