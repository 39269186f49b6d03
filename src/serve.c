/*-------------------------------------------------------------------------
 *
 * serve.c
 *	  Top-N recommendations: recsys.recommend() for one user (works under
 *	  LATERAL for many) and recsys.recommend_all() for every user.
 *
 * Scoring is exact: every item of the model's active version is scored
 * and the best k that are not excluded are kept in a small heap.  The
 * items of a version (keys, biases, factors, interaction counts) are read
 * once per backend and cached, keyed by model name and version; every call
 * checks the active version (one prepared catalog lookup), so a retrain is
 * picked up by the next call and the old version's memory is released.
 *
 * Scores: als and svd give the predicted rating mu + b_u + b_i + p_u.q_i;
 * ials gives p_u.q_i; bpr b_i + p_u.q_i; popularity the item's score.
 * Ties are broken by the item's position in the model (ascending key).
 *
 * A user who is not in the model gets the most popular items (by number
 * of training interactions), with a NOTICE saying so; explicit models rank
 * them by their bias baseline mu + b_i instead.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "embedding.h"

#include <cblas.h>

/* users scored per sgemm block in recommend_all */
#define ALL_BLOCK_USERS 256

/* ----------------------------------------------------------------
 *		The per-backend cache of served models
 * ----------------------------------------------------------------
 */

typedef struct ItemKeyEntry
{
	char		key[NAMEDATALEN];	/* the item's key as text (hash key) */
	int32		idx;
} ItemKeyEntry;

typedef struct ServedModel
{
	char	   *name;
	RsStoredModel sm;
	MemoryContext cxt;			/* everything below */
	int32		n_items;
	char	  **keys;
	float	   *bias;			/* NULL if the model has none */
	float	   *factors;		/* n_items x sm.factors, NULL if none */
	int32	   *degree;			/* training interactions per item */
	HTAB	   *key_index;		/* item key -> idx, built on first need */
	struct ServedModel *next;
} ServedModel;

static ServedModel *served_models = NULL;
static MemoryContext serve_cxt = NULL;

static void
served_model_free(ServedModel *m)
{
	MemoryContextDelete(m->cxt);
}

/*
 * The active version of a model, loaded or from the cache.  Must be
 * called inside an SPI connection.
 */
static ServedModel *
served_model(const char *name)
{
	RsStoredModel sm;
	ServedModel **link;
	ServedModel *m;
	MemoryContext old;

	if (!rs_active_model(name, &sm))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));

	for (link = &served_models; *link; link = &(*link)->next)
	{
		m = *link;
		if (strcmp(m->name, name) != 0)
			continue;
		if (m->sm.version == sm.version)
			return m;
		/* a newer (or older, after a drop) version is active: reload */
		*link = m->next;
		served_model_free(m);
		break;
	}

	if (serve_cxt == NULL)
		serve_cxt = AllocSetContextCreate(TopMemoryContext, "recsys serving cache",
										  ALLOCSET_DEFAULT_SIZES);
	m = MemoryContextAllocZero(serve_cxt, sizeof(ServedModel));
	m->cxt = AllocSetContextCreate(serve_cxt, "recsys served model",
								   ALLOCSET_DEFAULT_SIZES);
	/* if loading fails, nothing half-built stays in the cache */
	PG_TRY();
	{
		old = MemoryContextSwitchTo(m->cxt);
		m->name = pstrdup(name);
		m->sm = sm;
		m->sm.name = m->name;
		MemoryContextSwitchTo(old);
		rs_load_items(&m->sm, m->cxt, &m->keys, &m->bias, &m->factors, &m->degree);
		m->n_items = sm.n_items;
	}
	PG_CATCH();
	{
		MemoryContextDelete(m->cxt);
		pfree(m);
		PG_RE_THROW();
	}
	PG_END_TRY();

	m->next = served_models;
	served_models = m;
	return m;
}

/* item key -> idx, or -1 */
static int32
item_index(ServedModel *m, const char *key)
{
	ItemKeyEntry *e;

	if (m->key_index == NULL)
	{
		HASHCTL		ctl;

		/* keys up to NAMEDATALEN - 1 bytes are hashed; longer ones scanned */
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(ItemKeyEntry);
		ctl.hcxt = m->cxt;
		m->key_index = hash_create("recsys item keys", m->n_items,
								   &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		for (int32 i = 0; i < m->n_items; i++)
		{
			bool		found;

			if (strlen(m->keys[i]) >= NAMEDATALEN)
				continue;		/* longer keys are looked up by scanning */
			e = hash_search(m->key_index, m->keys[i], HASH_ENTER, &found);
			e->idx = i;
		}
	}
	if (strlen(key) < NAMEDATALEN)
	{
		e = hash_search(m->key_index, key, HASH_FIND, NULL);
		return e ? e->idx : -1;
	}
	for (int32 i = 0; i < m->n_items; i++)
		if (strcmp(m->keys[i], key) == 0)
			return i;
	return -1;
}

/* ----------------------------------------------------------------
 *		Scoring and selection
 * ----------------------------------------------------------------
 */

typedef struct Scored
{
	double		score;
	int32		idx;
} Scored;

/* a ranks before b: higher score, then lower position */
static inline bool
ranks_before(const Scored *a, const Scored *b)
{
	return a->score > b->score || (a->score == b->score && a->idx < b->idx);
}

/*
 * A bounded heap keeping the k best-ranked items seen so far; its root is
 * the worst of them, so most candidates are rejected with one comparison.
 */
typedef struct TopK
{
	Scored	   *h;
	int			n;
	int			k;
} TopK;

static inline void
topk_sift_down(TopK *t, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			w = i;
		Scored		tmp;

		if (l < t->n && ranks_before(&t->h[w], &t->h[l]))
			w = l;
		if (r < t->n && ranks_before(&t->h[w], &t->h[r]))
			w = r;
		if (w == i)
			return;
		tmp = t->h[i];
		t->h[i] = t->h[w];
		t->h[w] = tmp;
		i = w;
	}
}

static inline void
topk_offer(TopK *t, double score, int32 idx)
{
	Scored		c = {score, idx};

	if (t->n < t->k)
	{
		int			i = t->n++;

		/* sift up: the worst-ranked item stays at the root */
		t->h[i] = c;
		while (i > 0)
		{
			int			p = (i - 1) / 2;
			Scored		tmp;

			if (!ranks_before(&t->h[p], &t->h[i]))
				break;
			tmp = t->h[p];
			t->h[p] = t->h[i];
			t->h[i] = tmp;
			i = p;
		}
	}
	else if (ranks_before(&c, &t->h[0]))
	{
		t->h[0] = c;
		topk_sift_down(t, 0);
	}
}

static int
cmp_ranked(const void *a, const void *b)
{
	return ranks_before((const Scored *) a, (const Scored *) b) ? -1 :
		ranks_before((const Scored *) b, (const Scored *) a) ? 1 : 0;
}

/* The heap's content, best first. */
static void
topk_sort(TopK *t)
{
	qsort(t->h, t->n, sizeof(Scored), cmp_ranked);
}

/*
 * Offers every item not excluded to the heap.  scores[i] is item i's
 * score; excluded is a sorted list of item indexes (may be NULL), and
 * blocked a per-item flag array (may be NULL).
 */
static void
select_top(TopK *t, const float *scores, int32 n, const int32 *excluded,
		   int32 n_excluded, const bool *blocked)
{
	int32		x = 0;

	for (int32 i = 0; i < n; i++)
	{
		while (x < n_excluded && excluded[x] < i)
			x++;
		if (x < n_excluded && excluded[x] == i)
			continue;
		if (blocked && blocked[i])
			continue;
		topk_offer(t, scores[i], i);
	}
}

static inline bool
is_explicit(const ServedModel *m)
{
	return m->sm.algorithm == RS_ALG_ALS || m->sm.algorithm == RS_ALG_SVD;
}

/*
 * Item i's score for a user: known says whether the user is in the model
 * (ubias, uf are its bias and factors; uf may be NULL for a model without
 * factors).  An unknown user gets the explicit bias baseline mu + b_i, or
 * the item's popularity for implicit models.
 */
static inline double
score_item(const ServedModel *m, bool known, float ubias, const float *uf, int32 i)
{
	double		bias = m->bias ? m->bias[i] : 0.0;

	if (m->sm.algorithm == RS_ALG_POPULARITY)
		return m->bias ? bias : m->degree[i];
	if (!known || uf == NULL || m->factors == NULL)
		return is_explicit(m) ? m->sm.global_mean + (known ? ubias : 0.0) + bias : m->degree[i];
	return (is_explicit(m) ? m->sm.global_mean + ubias : 0.0) + bias +
		rs_dot(uf, m->factors + (Size) i * m->sm.factors, m->sm.factors);
}

static void
score_items(const ServedModel *m, bool known, float ubias, const float *uf,
			float *scores)
{
	for (int32 i = 0; i < m->n_items; i++)
		scores[i] = (float) score_item(m, known, ubias, uf, i);
}

/* ----------------------------------------------------------------
 *		Keys in the caller's type
 * ----------------------------------------------------------------
 */

typedef struct KeyIO
{
	Oid			type;
	Oid			output;
	Oid			input;
	Oid			ioparam;
} KeyIO;

static void
key_io_init(KeyIO *io, Oid type)
{
	bool		varlena;

	io->type = type;
	getTypeOutputInfo(type, &io->output, &varlena);
	getTypeInputInfo(type, &io->input, &io->ioparam);
}

static char *
key_to_text(const KeyIO *io, Datum d)
{
	if (io->type == UNKNOWNOID)
		return pstrdup(DatumGetCString(d));
	return OidOutputFunctionCall(io->output, d);
}

static Datum
key_from_text(const KeyIO *io, const char *key)
{
	return OidInputFunctionCall(io->input, (char *) key, io->ioparam, -1);
}

static int
checked_k(FunctionCallInfo fcinfo, int arg)
{
	int			k;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	k = PG_GETARG_INT32(arg);
	if (k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", k),
				 errhint("k is the number of items to recommend.")));
	return k;
}

static char *
checked_model(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/* ----------------------------------------------------------------
 *		recsys.recommend(model, user, k, exclude_seen, exclude)
 * ----------------------------------------------------------------
 */

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

PG_FUNCTION_INFO_V1(rs_recommend);
Datum
rs_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	int			k;
	bool		exclude_seen;
	KeyIO		io;
	char	   *ukey;
	ServedModel *m;
	float		ubias = 0;
	float	   *uf = NULL;
	int32	   *seen = NULL;
	int32		nseen = 0;
	int32	   *excluded;
	int32		n_excluded = 0;
	bool		known;
	float	   *scores;
	TopK		top;
	MemoryContext per_call;
	MemoryContext old;

	name = checked_model(fcinfo);
	k = checked_k(fcinfo, 2);
	exclude_seen = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;		/* no user, no recommendations */

	key_io_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	ukey = key_to_text(&io, PG_GETARG_DATUM(1));

	per_call = AllocSetContextCreate(CurrentMemoryContext, "recsys recommend",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(per_call);

	SPI_connect();
	m = served_model(name);
	known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, &seen, &nseen);
	SPI_finish();

	if (!known)
		ereport(NOTICE,
				(errmsg("user %s is not in model \"%s\": recommending %s",
						ukey, name,
						is_explicit(m) ? "by the items' bias baseline" : "popular items")));

	/* explicit exclusions: item keys in the user's key type */
	excluded = palloc(sizeof(int32) * ((Size) m->n_items + nseen + 1));
	if (exclude_seen && nseen > 0)
	{
		memcpy(excluded, seen, sizeof(int32) * nseen);
		n_excluded = nseen;
	}
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(4);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int16		typlen;
		bool		typbyval;
		char		typalign;
		KeyIO		eio;
		bool	   *mark = palloc0(sizeof(bool) * Max(m->n_items, 1));

		key_io_init(&eio, ARR_ELEMTYPE(arr));
		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &n);
		for (int32 x = 0; x < n_excluded; x++)
			mark[excluded[x]] = true;
		for (int e = 0; e < n; e++)
		{
			int32		idx;

			if (nulls[e])
				continue;
			idx = item_index(m, key_to_text(&eio, elems[e]));
			if (idx >= 0 && !mark[idx])
			{
				mark[idx] = true;
				excluded[n_excluded++] = idx;
			}
		}
		qsort(excluded, n_excluded, sizeof(int32), cmp_int32);
	}

	scores = palloc(sizeof(float) * Max(m->n_items, 1));
	score_items(m, known, ubias, uf, scores);

	top.k = Min(k, m->n_items);
	top.n = 0;
	top.h = palloc(sizeof(Scored) * Max(top.k, 1));
	select_top(&top, scores, m->n_items, excluded, n_excluded, NULL);
	topk_sort(&top);

	MemoryContextSwitchTo(old);
	for (int r = 0; r < top.n; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = key_from_text(&io, m->keys[top.h[r].idx]);
		values[1] = Float8GetDatum(top.h[r].score);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(per_call);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		recsys.recommend_all(model, k, exclude_seen)
 *
 * Users are read in dense-index order through a cursor, ALL_BLOCK_USERS
 * at a time; one sgemm scores a block against every item, and each user's
 * row of scores goes through the same selection as recommend().  Rows go
 * to a tuplestore, which spills to disk beyond work_mem.  Keys come back
 * as text: a set-returning function cannot take its result type from the
 * catalog, and there is no argument to take it from.
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(rs_recommend_all);
Datum
rs_recommend_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = checked_model(fcinfo);
	int			k = checked_k(fcinfo, 1);
	bool		exclude_seen = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);
	KeyIO		io;
	ServedModel *m;
	Portal		portal;
	int			nf;
	bool		explicit_model;
	float	   *ublock;
	float	   *ubias;
	float	   *scores;
	TopK		top;
	MemoryContext batch_cxt;
	MemoryContext outer = CurrentMemoryContext;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];

	InitMaterializedSRF(fcinfo, 0);
	key_io_init(&io, TEXTOID);

	SPI_connect();
	m = served_model(name);
	nf = m->sm.factors;
	explicit_model = is_explicit(m);

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(m->sm.version);
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT user_key, bias, factors, seen FROM recsys.user_factors "
									   "WHERE model = $1 AND version = $2 ORDER BY user_idx",
									   2, types, values, NULL, true, 0);

	ublock = MemoryContextAlloc(outer, sizeof(float) * ALL_BLOCK_USERS * Max(nf, 1));
	ubias = MemoryContextAlloc(outer, sizeof(float) * ALL_BLOCK_USERS);
	scores = MemoryContextAllocHuge(outer, sizeof(float) * ALL_BLOCK_USERS * (Size) Max(m->n_items, 1));
	top.k = Min(k, m->n_items);
	top.h = MemoryContextAlloc(outer, sizeof(Scored) * Max(top.k, 1));
	batch_cxt = AllocSetContextCreate(outer, "recsys recommend_all batch",
									  ALLOCSET_DEFAULT_SIZES);

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
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
						(int) nb, m->n_items, nf, 1.0f, ublock, nf,
						m->factors, nf, 0.0f, scores, m->n_items);
			for (uint64 b = 0; b < nb; b++)
			{
				float	   *row = scores + b * m->n_items;
				double		base = explicit_model ? m->sm.global_mean + ubias[b] : 0.0;

				for (int32 i = 0; i < m->n_items; i++)
					row[i] = (float) (base + (m->bias ? m->bias[i] : 0.0) + row[i]);
			}
		}
		else
		{
			for (uint64 b = 0; b < nb; b++)
				score_items(m, true, ubias[b], NULL, scores + b * m->n_items);
		}

		for (uint64 b = 0; b < nb; b++)
		{
			bool		isnull;
			char	   *ukey;
			Datum		ud;
			int32	   *seen = NULL;
			int32		nseen = 0;
			Datum		d = SPI_getbinval(tt->vals[b], tt->tupdesc, 4, &isnull);
			MemoryContext old = MemoryContextSwitchTo(batch_cxt);

			if (exclude_seen && !isnull)
			{
				ArrayType  *a = DatumGetArrayTypeP(d);

				nseen = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
				seen = (int32 *) ARR_DATA_PTR(a);
			}
			top.n = 0;
			select_top(&top, scores + b * m->n_items, m->n_items, seen, nseen, NULL);
			topk_sort(&top);

			ukey = TextDatumGetCString(SPI_getbinval(tt->vals[b], tt->tupdesc, 1, &isnull));
			ud = key_from_text(&io, ukey);
			/* (the tuplestore copies each row into its own memory) */
			for (int r = 0; r < top.n; r++)
			{
				Datum		out[4];
				bool		nulls[4] = {false, false, false, false};

				out[0] = ud;
				out[1] = key_from_text(&io, m->keys[top.h[r].idx]);
				out[2] = Float8GetDatum(top.h[r].score);
				out[3] = Int32GetDatum(r + 1);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, nulls);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_cxt);
		}
		SPI_freetuptable(tt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		recsys.predict(model, user, item)
 *
 * The same score recommend() ranks by, from the same cache.  Explicit
 * models fall back to the bias baseline for an unknown user or item;
 * implicit models have no score for them (NULL).
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(rs_predict);
Datum
rs_predict(PG_FUNCTION_ARGS)
{
	char	   *name;
	KeyIO		uio;
	KeyIO		iio;
	char	   *ukey;
	ServedModel *m;
	float		ubias = 0;
	float	   *uf = NULL;
	bool		known;
	int32		item;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	key_io_init(&uio, get_fn_expr_argtype(fcinfo->flinfo, 1));
	key_io_init(&iio, get_fn_expr_argtype(fcinfo->flinfo, 2));
	ukey = key_to_text(&uio, PG_GETARG_DATUM(1));

	SPI_connect();
	m = served_model(name);
	known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, NULL, NULL);
	SPI_finish();

	item = item_index(m, key_to_text(&iio, PG_GETARG_DATUM(2)));
	if (item < 0)
	{
		if (!is_explicit(m))
			PG_RETURN_NULL();
		PG_RETURN_FLOAT8(m->sm.global_mean + (known ? ubias : 0.0));
	}
	if (!known && !is_explicit(m) && m->sm.algorithm != RS_ALG_POPULARITY)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(score_item(m, known, ubias, uf, item));
}
