/*-------------------------------------------------------------------------
 *
 * serve.c
 *	  Top-N recommendations: recsys.recommend() for one user (works under
 *	  LATERAL for many) and recsys.recommend_all() for every user.
 *
 * Scoring is exact: every item of the model's active version is scored
 * and the best k that are not excluded are kept in a small heap.  The
 * items of a version (keys, biases, factors, interaction counts) are read
 * once per backend and cached, keyed by the version's identity; every call
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
#include "loader.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "bloom.h"
#include "embedding.h"
#include "core/linalg.h"
#include "privileges.h"
#include "rerank.h"
#include "serve.h"
#include "train.h"

#include <cblas.h>
#include <math.h>

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
	/* for fold-in, read on first need */
	bool		params_loaded;
	double		reg;			/* regularization */
	double		reg_b;			/* bias_regularization */
	double		alpha;			/* ials confidence */
	float	   *gram;			/* ials: Y^T Y, k x k */
	char	   *user_type;		/* the model's user key type, SQL name */
	/* item_knn: the stored neighbour lists (CSR), read on first need */
	int32		n_lists;
	int64	   *nbr_ptr;
	int32	   *nbr_idx;
	float	   *nbr_sim;
	/* neighbourhood models: what the scoring functions read */
	bool		knn_ready;
	bool		told_no_index;	/* the NOTICE about a missing index was given */
	RsKnnModel	knn;
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
		/*
		 * Keyed by the version's identity, not its number: a number comes
		 * back with other contents after drop_model + train, or after a
		 * training that was rolled back and redone.
		 */
		if (m->sm.version_id == sm.version_id && m->sm.catalog_id == sm.catalog_id)
			return m;
		/* another stored version is active: reload */
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
 * Offers items [begin, end) not blocked to the heap.  Once the heap is
 * full, an item scoring below its root cannot enter, which one comparison
 * against a local copy of the root's score decides: this loop runs for
 * every item of every user, so it must stay this tight.
 */
static void
offer_range(TopK *t, const float *scores, int32 begin, int32 end,
			const bool *blocked)
{
	int32		i = begin;
	double		worst;

	for (; i < end && t->n < t->k; i++)
		if (!blocked || !blocked[i])
			topk_offer(t, scores[i], i);
	if (i == end)
		return;
	worst = t->h[0].score;
	for (; i < end; i++)
	{
		if (scores[i] < worst)
			continue;
		if (blocked && blocked[i])
			continue;
		topk_offer(t, scores[i], i);
		worst = t->h[0].score;
	}
}

/*
 * Offers every item not excluded to the heap.  scores[i] is item i's
 * score; excluded is a sorted list of item indexes (may be NULL, may hold
 * duplicates), and blocked a per-item flag array (may be NULL).  The runs
 * between two excluded items are scanned without looking at the list.
 */
static void
select_top(TopK *t, const float *scores, int32 n, const int32 *excluded,
		   int32 n_excluded, const bool *blocked)
{
	int32		begin = 0;

	for (int32 x = 0; x < n_excluded; x++)
	{
		int32		end = Min(excluded[x], n);

		if (end > begin)
			offer_range(t, scores, begin, end, blocked);
		begin = Max(begin, excluded[x] + 1);
	}
	if (n > begin)
		offer_range(t, scores, begin, n, blocked);
}

/* Scores are predicted ratings (als, svd, explicit neighbourhood models). */
static inline bool
is_explicit(const ServedModel *m)
{
	return m->sm.explicit_feedback;
}

static inline bool
is_knn(const ServedModel *m)
{
	return rs_algorithm_is_knn(m->sm.algorithm);
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

/*
 * Adds each item's baseline to its dot product in row: mu + b_u + b_i for
 * explicit models, b_i for implicit ones with biases, nothing otherwise
 * (ials, bpr: the loop is skipped).
 */
static void
add_baselines(const ServedModel *m, float ubias, float *row)
{
	float		base = is_explicit(m) ? (float) (m->sm.global_mean + ubias) : 0.0f;

	if (m->bias)
	{
		for (int32 i = 0; i < m->n_items; i++)
			row[i] += base + m->bias[i];
	}
	else if (base != 0.0f)
	{
		for (int32 i = 0; i < m->n_items; i++)
			row[i] += base;
	}
}

/*
 * Every item's score for one user, as score_item() defines it.  For a
 * known user of a factor model the dot products are one matrix-vector
 * product over the cached item factors (single-threaded: concurrent
 * sessions are the parallelism of serving), several times faster than
 * item-by-item dot products.
 */
static void
score_items(const ServedModel *m, bool known, float ubias, const float *uf,
			float *scores)
{
	if (known && uf != NULL && m->factors != NULL && m->sm.factors > 0 &&
		m->sm.algorithm != RS_ALG_POPULARITY)
	{
		int			blas_threads = rs_blas_get_threads();

		if (blas_threads != 1)
			rs_blas_set_threads(1);
		cblas_sgemv(CblasRowMajor, CblasNoTrans, m->n_items, m->sm.factors,
					1.0f, m->factors, m->sm.factors, uf, 1, 0.0f, scores, 1);
		if (blas_threads != 1)
			rs_blas_set_threads(blas_threads);
		add_baselines(m, ubias, scores);
		return;
	}
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
	/* char(n) without its trailing blanks, as the loader stores it */
	if (io->type == BPCHAROID)
		return rs_text_key_cstring(d, BPCHAROID);
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

/* The model argument: a model the current user may use. */
static char *
checked_model(FunctionCallInfo fcinfo)
{
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_usage(name);
	return name;
}

/* ----------------------------------------------------------------
 *		Constraints and the item attributes they read
 *
 * Every serving function takes the same trailing arguments, in this
 * order, from its argument `base` on (see the install script):
 * exclude_query, item_times, half_life, item_groups, max_per_group,
 * protected_group, min_share, max_similarity, mmr_lambda, pool, forbidden.
 * ----------------------------------------------------------------
 */

enum
{
	C_EXCLUDE_QUERY,
	C_ITEM_TIMES,
	C_HALF_LIFE,
	C_ITEM_GROUPS,
	C_MAX_PER_GROUP,
	C_PROTECTED_GROUP,
	C_MIN_SHARE,
	C_MAX_SIMILARITY,
	C_MMR_LAMBDA,
	C_POOL,
	C_FORBIDDEN
};

typedef struct Constraints
{
	RsRerankSpec spec;
	bool		greedy;			/* more than the k best are looked at */
	char	   *exclude_query;	/* item keys never to recommend */
	char	   *times_query;	/* item, timestamp */
	char	   *groups_query;	/* item, group */
	char	   *protected_group;
	Datum		forbidden;		/* a recsys.bloom of item keys never to
								 * recommend, as passed (maybe toasted), or 0 */
} Constraints;

static void
parse_constraints(FunctionCallInfo fcinfo, int base, int k, bool has_vectors,
				  Constraints *c)
{
#define HAS(x) (base + (x) < PG_NARGS() && !PG_ARGISNULL(base + (x)))
#define TEXT_ARG(x) (HAS(x) ? text_to_cstring(PG_GETARG_TEXT_PP(base + (x))) : NULL)

	memset(c, 0, sizeof(*c));
	rs_rerank_spec_init(&c->spec, k);
	c->exclude_query = TEXT_ARG(C_EXCLUDE_QUERY);
	c->times_query = TEXT_ARG(C_ITEM_TIMES);
	c->groups_query = TEXT_ARG(C_ITEM_GROUPS);
	c->protected_group = TEXT_ARG(C_PROTECTED_GROUP);
	if (HAS(C_HALF_LIFE))
	{
		c->spec.half_life = rs_interval_seconds(PG_GETARG_DATUM(base + C_HALF_LIFE));
		if (!(c->spec.half_life > 0.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("half_life must be a positive interval"),
					 errhint("For example half_life => '30 days'.")));
		if (c->times_query == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("half_life needs item_times"),
					 errhint("Pass item_times => 'SELECT item, published_at FROM ...'.")));
	}
	if (HAS(C_MAX_PER_GROUP))
	{
		c->spec.max_per_group = PG_GETARG_INT32(base + C_MAX_PER_GROUP);
		if (c->spec.max_per_group <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_per_group must be positive, not %d", c->spec.max_per_group),
					 errhint("Pass NULL (the default) to leave the cap off.")));
	}
	if (HAS(C_MIN_SHARE))
	{
		c->spec.min_share = PG_GETARG_FLOAT8(base + C_MIN_SHARE);
		if (c->protected_group == NULL && c->spec.min_share > 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_share needs protected_group"),
					 errhint("Name the group whose share is guaranteed.")));
	}
	if (HAS(C_MAX_SIMILARITY))
	{
		c->spec.diversity = true;
		c->spec.max_similarity = PG_GETARG_FLOAT8(base + C_MAX_SIMILARITY);
	}
	if (HAS(C_MMR_LAMBDA))
	{
		c->spec.mmr = true;
		c->spec.mmr_lambda = PG_GETARG_FLOAT8(base + C_MMR_LAMBDA);
	}
	if (HAS(C_POOL))
	{
		c->spec.pool = PG_GETARG_INT32(base + C_POOL);
		if (c->spec.pool <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool must be positive, not %d", c->spec.pool),
					 errhint("pool is how many candidates the constraints choose from (default 5 k).")));
	}
	if (HAS(C_FORBIDDEN))
		c->forbidden = PG_GETARG_DATUM(base + C_FORBIDDEN);
	rs_rerank_spec_check(&c->spec, has_vectors, c->groups_query != NULL);
	c->greedy = rs_rerank_needs_greedy(&c->spec);
#undef HAS
#undef TEXT_ARG
}

/*
 * What the constraints know about the items, built once per call site
 * (a query calling recommend() under LATERAL for a thousand users runs
 * each attribute query once) and rebuilt when the model's active version
 * or the query text changes.  Lives in the function's fn_extra.
 */
typedef struct ItemAttrs
{
	MemoryContext cxt;			/* child of fn_mcxt, reset on rebuild */
	char	   *model;
	int64		version_id;		/* of the model version it was built for */
	Oid			catalog_id;
	char	   *exclude_query;	/* what excluded[] was built from */
	bool	   *excluded;		/* n_items flags, or NULL */
	struct varatt_external forbidden_ptr;	/* what in_filter[] was built
											 * from, when that was stored
											 * out of line */
	BloomFilter *forbidden;		/* else a copy of it */
	bool	   *in_filter;		/* n_items flags, or NULL */
	bool	   *blocked;		/* excluded or in_filter (or NULL: none) */
	char	   *times_query;	/* what age[] was built from */
	double	   *age;			/* n_items ages in seconds, NaN: none */
	double		half_life;		/* what fresh[] was built for */
	float	   *fresh;			/* n_items freshness factors, or NULL */
	char	   *groups_query;	/* what group[] was built from */
	char	   *protected_group;
	int32	   *group;			/* n_items group ids, -1: none */
	bool	   *protected_;		/* n_items flags */
} ItemAttrs;

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/*
 * Prepares a query the caller supplied, which must be one plain SELECT
 * (it runs with the caller's rights, read-only), returning at least
 * min_columns columns.
 */
static SPIPlanPtr
prepare_select(const char *sql, const char *what, int min_columns)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	List	   *sources;
	CachedPlanSource *ps;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for %s: %s", what,
			 SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	ps = list_length(sources) == 1 ? linitial(sources) : NULL;
	if (ps != NULL)
	{
		ListCell   *lc;

		/* a data-modifying WITH is no plain SELECT either */
		foreach(lc, ps->query_list)
			if (lfirst_node(Query, lc)->hasModifyingCTE)
				ps = NULL;
	}
	if (ps == NULL || ps->commandTag != CMDTAG_SELECT || ps->resultDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s must be a single SELECT query", what),
				 errhint("For example 'SELECT item_id FROM out_of_stock'.")));
	if (ps->resultDesc->natts < min_columns)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must return %d columns, not %d", what, min_columns,
						ps->resultDesc->natts),
				 errhint("The first column is the item key.")));
	return plan;
}

/*
 * Runs a SELECT the caller supplied and calls fn for each row whose first
 * column (an item key) is an item of the model.
 */
typedef void (*ItemRowFn) (void *arg, int32 idx, HeapTuple tup, TupleDesc desc);

static void
for_each_item_row(ServedModel *m, const char *sql, const char *what,
				  int min_columns, ItemRowFn fn, void *arg)
{
	SPIPlanPtr	plan = prepare_select(sql, what, min_columns);
	Portal		portal = rs_cursor_open_read_only(plan, NULL, NULL);

	for (;;)
	{
		RS_READ_ONLY(SPI_cursor_fetch(portal, true, 10000));
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			char	   *key = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
			int32		idx = key ? item_index(m, key) : -1;

			if (idx >= 0)
				fn(arg, idx, tup, SPI_tuptable->tupdesc);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
}

static void
mark_excluded(void *arg, int32 idx, HeapTuple tup, TupleDesc desc)
{
	(void) tup;
	(void) desc;
	((bool *) arg)[idx] = true;
}

typedef struct AgeRows
{
	double	   *age;
	double		now;			/* the transaction's start, epoch seconds */
} AgeRows;

static void
set_age(void *arg, int32 idx, HeapTuple tup, TupleDesc desc)
{
	AgeRows    *a = arg;
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, 2, &isnull);

	if (!isnull)
		a->age[idx] = a->now - rs_datum_to_epoch(d, SPI_gettypeid(desc, 2));
}

typedef struct GroupRow
{
	int32		idx;
	char	   *name;
} GroupRow;

typedef struct GroupRows
{
	GroupRow   *rows;
	int32		n;
	int32		size;
} GroupRows;

static void
add_group(void *arg, int32 idx, HeapTuple tup, TupleDesc desc)
{
	GroupRows  *g = arg;
	char	   *name = SPI_getvalue(tup, desc, 2);

	if (name == NULL)
		return;
	if (g->n == g->size)
	{
		g->size *= 2;
		g->rows = repalloc_huge(g->rows, sizeof(GroupRow) * g->size);
	}
	g->rows[g->n].idx = idx;
	g->rows[g->n].name = name;
	g->n++;
}

static int
cmp_group_row(const void *a, const void *b)
{
	return strcmp(((const GroupRow *) a)->name, ((const GroupRow *) b)->name);
}

/* The distinct names of rows sorted by name, quoted, the first ten: for an error. */
static char *
group_names_text(const GroupRows *g)
{
	StringInfoData s;
	int			shown = 0;

	initStringInfo(&s);
	for (int32 r = 0; r < g->n; r++)
	{
		if (r > 0 && strcmp(g->rows[r].name, g->rows[r - 1].name) == 0)
			continue;
		if (shown == 10)
		{
			appendStringInfoString(&s, ", ...");
			break;
		}
		appendStringInfo(&s, "%s%s", shown > 0 ? ", " : "", quote_literal_cstr(g->rows[r].name));
		shown++;
	}
	if (shown == 0)
		appendStringInfoString(&s, "none");
	return s.data;
}

/*
 * Was in_filter[] built from this filter?  A filter stored out of line is
 * known by its TOAST pointer, so a LATERAL call per user neither detoasts
 * nor compares megabytes; one passed in memory is compared byte by byte.
 */
static bool
same_filter(const ItemAttrs *a, Datum filter)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(filter);
	BloomFilter *f;

	if (filter == (Datum) 0)
		return a->in_filter == NULL;
	if (a->in_filter == NULL)
		return false;
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		return a->forbidden == NULL && memcmp(&ptr, &a->forbidden_ptr, sizeof(ptr)) == 0;
	}
	if (a->forbidden == NULL)
		return false;
	f = DatumGetBloom(filter);
	return VARSIZE(f) == VARSIZE(a->forbidden) &&
		memcmp(f, a->forbidden, VARSIZE(f)) == 0;
}

/* The item attributes cons needs, from the cache or built now (in SPI). */
static ItemAttrs *
item_attrs(FunctionCallInfo fcinfo, ServedModel *m, const Constraints *cons)
{
	ItemAttrs  *a = fcinfo->flinfo->fn_extra;
	Size		n = Max(m->n_items, 1);

	if (cons->exclude_query == NULL && cons->times_query == NULL &&
		cons->groups_query == NULL && cons->forbidden == (Datum) 0)
		return NULL;
	if (a == NULL)
	{
		a = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ItemAttrs));
		a->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "recsys item attributes",
									   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = a;
	}
	if (a->model == NULL || strcmp(a->model, m->name) != 0 ||
		a->version_id != m->sm.version_id || a->catalog_id != m->sm.catalog_id)
	{
		MemoryContextReset(a->cxt);
		memset(((char *) a) + offsetof(ItemAttrs, model), 0,
			   sizeof(ItemAttrs) - offsetof(ItemAttrs, model));
		a->model = MemoryContextStrdup(a->cxt, m->name);
		a->version_id = m->sm.version_id;
		a->catalog_id = m->sm.catalog_id;
	}
	/*
	 * SPI calls switch CurrentMemoryContext to the procedure's context, so
	 * everything kept is allocated in a->cxt explicitly.
	 */
	if (!same_text(a->exclude_query, cons->exclude_query))
	{
		a->exclude_query = cons->exclude_query ? MemoryContextStrdup(a->cxt, cons->exclude_query) : NULL;
		a->excluded = NULL;
		if (cons->exclude_query)
		{
			a->excluded = MemoryContextAllocZero(a->cxt, sizeof(bool) * n);
			for_each_item_row(m, cons->exclude_query, "exclude_query", 1,
							  mark_excluded, a->excluded);
		}
	}
	if (!same_filter(a, cons->forbidden))
	{
		struct varlena *raw = (struct varlena *) DatumGetPointer(cons->forbidden);

		a->forbidden = NULL;
		a->in_filter = NULL;
		memset(&a->forbidden_ptr, 0, sizeof(a->forbidden_ptr));
		if (cons->forbidden)
		{
			BloomFilter *f = DatumGetBloom(cons->forbidden);

			if (VARATT_IS_EXTERNAL_ONDISK(raw))
				VARATT_EXTERNAL_GET_POINTER(a->forbidden_ptr, raw);
			else
			{
				a->forbidden = MemoryContextAlloc(a->cxt, VARSIZE(f));
				memcpy(a->forbidden, f, VARSIZE(f));
			}
			a->in_filter = MemoryContextAlloc(a->cxt, sizeof(bool) * n);
			for (int32 i = 0; i < m->n_items; i++)
				a->in_filter[i] = rs_bloom_contains_key(f, m->keys[i], strlen(m->keys[i]));
		}
	}
	/* the hard exclusions shared by every user */
	a->blocked = a->excluded;
	if (a->in_filter)
	{
		if (a->excluded)
		{
			a->blocked = MemoryContextAlloc(a->cxt, sizeof(bool) * n);
			for (int32 i = 0; i < m->n_items; i++)
				a->blocked[i] = a->excluded[i] || a->in_filter[i];
		}
		else
			a->blocked = a->in_filter;
	}
	if (!same_text(a->times_query, cons->times_query))
	{
		a->times_query = cons->times_query ? MemoryContextStrdup(a->cxt, cons->times_query) : NULL;
		a->age = NULL;
		a->fresh = NULL;
		if (cons->times_query)
		{
			AgeRows		ar;

			a->age = MemoryContextAlloc(a->cxt, sizeof(double) * n);
			for (Size i = 0; i < n; i++)
				a->age[i] = get_float8_nan();
			ar.age = a->age;
			ar.now = rs_datum_to_epoch(TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
									   TIMESTAMPTZOID);
			for_each_item_row(m, cons->times_query, "item_times", 2, set_age, &ar);
		}
	}
	if (a->age && (a->fresh == NULL || a->half_life != cons->spec.half_life))
	{
		a->half_life = cons->spec.half_life;
		a->fresh = MemoryContextAlloc(a->cxt, sizeof(float) * n);
		for (int32 i = 0; i < m->n_items; i++)
			a->fresh[i] = (float) rs_fresh_factor(a->age[i], a->half_life);
	}
	if (!same_text(a->groups_query, cons->groups_query))
	{
		a->groups_query = cons->groups_query ? MemoryContextStrdup(a->cxt, cons->groups_query) : NULL;
		a->group = NULL;
		a->protected_ = NULL;
		a->protected_group = NULL;
		if (cons->groups_query)
		{
			GroupRows	g;
			int32		id = -1;
			bool		protected_found = false;

			g.n = 0;
			g.size = 1024;
			g.rows = palloc(sizeof(GroupRow) * g.size);
			for_each_item_row(m, cons->groups_query, "item_groups", 2, add_group, &g);
			qsort(g.rows, g.n, sizeof(GroupRow), cmp_group_row);
			a->group = MemoryContextAlloc(a->cxt, sizeof(int32) * n);
			for (Size i = 0; i < n; i++)
				a->group[i] = -1;
			/* an item listed in several groups keeps the last (by name) */
			for (int32 r = 0; r < g.n; r++)
			{
				if (r == 0 || strcmp(g.rows[r].name, g.rows[r - 1].name) != 0)
					id++;
				a->group[g.rows[r].idx] = id;
			}
			/* protected_[] is keyed by the group's name */
			a->protected_ = MemoryContextAllocZero(a->cxt, sizeof(bool) * n);
			a->protected_group = NULL;
			for (int32 r = 0; r < g.n; r++)
				if (cons->protected_group && strcmp(g.rows[r].name, cons->protected_group) == 0)
				{
					a->protected_[g.rows[r].idx] = true;
					protected_found = true;
				}
			if (cons->protected_group && !protected_found)
			{
				/* (what was built is dropped: the next call reruns the query) */
				a->groups_query = NULL;
				a->group = NULL;
				a->protected_ = NULL;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("protected_group \"%s\" is not the group of any item", cons->protected_group),
						 errdetail("item_groups gave these groups: %s.", group_names_text(&g)),
						 errhint("protected_group is compared with each group as text: a boolean group reads 't' or 'f', not 'true'.")));
			}
			a->protected_group = cons->protected_group ? MemoryContextStrdup(a->cxt, cons->protected_group) : NULL;
			pfree(g.rows);
		}
	}
	if (a->group && !same_text(a->protected_group, cons->protected_group))
	{
		/* same groups, another protected group: rerun the query */
		a->groups_query = NULL;
		return item_attrs(fcinfo, m, cons);
	}
	return a;
}

/* ----------------------------------------------------------------
 *		Ranking one user's scores
 * ----------------------------------------------------------------
 */

/*
 * Freshness: rescales scores toward the lowest eligible score,
 * s' = lo + (s - lo) * 0.5^(age / half_life) (rerank.c), in double.
 * scores[] are floats: adding lo back before ranking would round every
 * item older than ~25 half-lives to lo itself (its boost is below lo's
 * precision) and rank them in key order.  So scores[] keep the margin
 * above lo, (s - lo) * factor, which a float holds with full precision to
 * ~125 half-lives; the caller ranks on it (the order of s') and adds the
 * returned lo to the scores it reports.
 */
static double
apply_freshness(const ItemAttrs *a, int32 n, float *scores,
				const int32 *excluded, int32 n_excluded)
{
	double		lo = INFINITY;
	int32		x = 0;

	for (int32 i = 0; i < n; i++)
	{
		while (x < n_excluded && excluded[x] < i)
			x++;
		if ((x < n_excluded && excluded[x] == i) || (a->blocked && a->blocked[i]))
			continue;
		lo = Min(lo, (double) scores[i]);
	}
	if (isinf(lo))
		return 0.0;				/* nothing eligible */
	for (int32 i = 0; i < n; i++)
		scores[i] = (float) (((double) scores[i] - lo) *
							 rs_fresh_factor(a->age[i], a->half_life));
	return lo;
}

/* s' of the ranked entries, from their margins above lo (apply_freshness) */
static void
add_freshness_floor(Scored *out, int count, double lo)
{
	for (int r = 0; r < count; r++)
		out[r].score = lo + out[r].score;
}

/*
 * The k best eligible items, best first, into out (room for k): the whole
 * ranking when no greedy constraint is asked for.  Pure C, no palloc: it
 * also runs on recommend_all's worker threads.
 */
static int
rank_plain(int32 n, int k, const ItemAttrs *a, float *scores,
		   const int32 *excluded, int32 n_excluded, Scored *out)
{
	TopK		top;
	double		lo = 0.0;

	if (a && a->fresh)
		lo = apply_freshness(a, n, scores, excluded, n_excluded);
	top.k = Max(Min(k, n), 1);
	top.n = 0;
	top.h = out;
	select_top(&top, scores, n, excluded, n_excluded, a ? a->blocked : NULL);
	topk_sort(&top);
	if (a && a->fresh)
		add_freshness_floor(out, top.n, lo);
	return top.n;
}

/*
 * The final list for one user: scores (n_items, rescaled here when
 * freshness is asked for), the sorted item indexes excluded for this user
 * and the attributes; writes up to k entries into out, best first.
 */
static int
rank_items(const ServedModel *m, const Constraints *cons, const ItemAttrs *a,
		   float *scores, const int32 *excluded, int32 n_excluded, Scored *out)
{
	int32		n = m->n_items;
	const bool *blocked = a ? a->blocked : NULL;
	int			k = Min(cons->spec.k, n);
	int			pool;
	TopK		top;
	double		lo = 0.0;

	if (!cons->greedy)
		return rank_plain(n, k, a, scores, excluded, n_excluded, out);
	/* (the constraints see scores shifted by lo: they use differences only) */
	if (a && a->fresh)
		lo = apply_freshness(a, n, scores, excluded, n_excluded);

	pool = Min(cons->spec.pool, n);
	for (;;)
	{
		RsCandidates c;
		double	   *cscore;
		int32	   *cgroup = NULL;
		bool	   *cprot = NULL;
		const float **cvec = NULL;
		int		   *picked;
		int			count;
		bool		stuck;

		top.k = Max(pool, 1);
		top.n = 0;
		top.h = palloc(sizeof(Scored) * top.k);
		select_top(&top, scores, n, excluded, n_excluded, blocked);
		topk_sort(&top);

		cscore = palloc(sizeof(double) * top.k);
		if (a && a->group)
		{
			cgroup = palloc(sizeof(int32) * top.k);
			cprot = palloc(sizeof(bool) * top.k);
		}
		if (m->factors && (cons->spec.diversity || cons->spec.mmr))
			cvec = palloc(sizeof(float *) * top.k);
		for (int j = 0; j < top.n; j++)
		{
			int32		i = top.h[j].idx;

			cscore[j] = top.h[j].score;
			if (cgroup)
			{
				cgroup[j] = a->group[i];
				cprot[j] = a->protected_[i];
			}
			if (cvec)
				cvec[j] = m->factors + (Size) i * m->sm.factors;
		}
		c.n = top.n;
		c.score = cscore;
		c.group = cgroup;
		c.protected_ = cprot;
		c.vec = cvec;
		c.dim = m->sm.factors;
		picked = palloc(sizeof(int) * Max(k, 1));
		/* strict while a wider pool could still help */
		count = rs_rerank_select(&cons->spec, &c, top.n == pool && pool < n, picked, &stuck);
		if (!stuck)
		{
			for (int r = 0; r < count; r++)
				out[r] = top.h[picked[r]];
			if (a && a->fresh)
				add_freshness_floor(out, count, lo);
			return count;
		}
		pool = pool > n / 4 ? n : pool * 4;
	}
}

/* The item indexes of an array of keys (unknown keys are left out). */
static int32
array_item_indexes(ServedModel *m, ArrayType *arr, int32 *out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	KeyIO		io;
	int32		count = 0;

	key_io_init(&io, ARR_ELEMTYPE(arr));
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	for (int e = 0; e < n; e++)
	{
		int32		idx;

		if (nulls[e])
			continue;
		idx = item_index(m, key_to_text(&io, elems[e]));
		if (idx >= 0)
			out[count++] = idx;
	}
	return count;
}

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* Sorts and deduplicates a list of item indexes; returns the new length. */
static int32
sort_unique(int32 *idx, int32 n)
{
	int32		w = 0;

	qsort(idx, n, sizeof(int32), cmp_int32);
	for (int32 r = 0; r < n; r++)
		if (w == 0 || idx[r] != idx[w - 1])
			idx[w++] = idx[r];
	return w;
}

/*
 * The excluded list for one call: base (nbase indexes, e.g. the seen
 * items) plus the keys of the array argument arg, sorted and unique.
 */
static int32 *
call_exclusions(FunctionCallInfo fcinfo, int arg, ServedModel *m,
				const int32 *base, int32 nbase, int32 *n_out)
{
	ArrayType  *arr = NULL;
	int32		cap = nbase;
	int32	   *x;
	int32		n = nbase;

	if (arg < PG_NARGS() && !PG_ARGISNULL(arg))
	{
		rs_check_array_arg(fcinfo, arg, "exclude");
		arr = PG_GETARG_ARRAYTYPE_P(arg);
		cap += ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	x = palloc(sizeof(int32) * Max(cap, 1));
	if (nbase > 0)
		memcpy(x, base, sizeof(int32) * nbase);
	if (arr)
		n += array_item_indexes(m, arr, x + n);
	*n_out = sort_unique(x, n);
	return x;
}

/* ----------------------------------------------------------------
 *		Candidates from a recsys_hnsw index (large catalogues)
 *
 * From recsys.index_min_items items up, recommend() asks an index on
 * recsys.item_factors (factors recsys.embedding_ip_ops) for the items
 * with the largest inner product with the user's vector, a pool of
 * several times k plus the user's exclusions, scores the pool exactly
 * and ranks it.  Only for models whose score is the dot product alone
 * (ials, bpr): the index cannot order by item bias + dot product, and
 * with biases (als, svd) it missed most of the top 10 in the tests.
 * When exclusions leave fewer than k of the pool, every item is scored
 * as usual, so the list is never short.  Greedy constraints and
 * freshness always score every item.
 * ----------------------------------------------------------------
 */

/* a pool of INDEX_POOL_FACTOR * k, at least INDEX_POOL_MIN, plus exclusions */
#define INDEX_POOL_FACTOR 4
#define INDEX_POOL_MIN 100

/*
 * Up to pool item indexes from the index, nearest first, into cand
 * (allocated in cxt); -1 when the index is not to be used.  Inside SPI.
 */
static int32
index_candidates(ServedModel *m, const float *uf, int32 pool,
				 MemoryContext cxt, int32 **cand)
{
	Embedding  *q;
	int32		n;

	if (m->n_items < rs_index_min_items)
		return -1;
	if (!rs_item_index_exists(&m->sm))
	{
		/* e.g. after pg_restore, which does not dump indexes on our tables */
		if (m->sm.wants_index && !m->told_no_index)
		{
			ereport(NOTICE,
					(errmsg("model \"%s\" is served without its index, which does not exist",
							m->name),
					 errdetail("Every item is scored, which gives the same lists more slowly."),
					 errhint("SELECT recsys.restore_model_indexes() builds it.")));
			m->told_no_index = true;
		}
		return -1;
	}
	q = embedding_alloc(m->sm.factors);
	memcpy(q->x, uf, sizeof(float) * m->sm.factors);
	rs_read_index_candidates(&m->sm, PointerGetDatum(q), pool);
	*cand = MemoryContextAlloc(cxt, sizeof(int32) * Max(SPI_processed, 1));
	n = 0;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull && DatumGetInt32(d) >= 0 && DatumGetInt32(d) < m->n_items)
			(*cand)[n++] = DatumGetInt32(d);
	}
	return n;
}

/*
 * Ranks the candidates by their exact scores; -1 when fewer than k are
 * left after the exclusions while the catalogue holds more items.
 */
static int
rank_candidates(const ServedModel *m, float ubias, const float *uf,
				const int32 *cand, int32 n_cand, const int32 *excluded,
				int32 n_excluded, const bool *blocked, int k, Scored *out)
{
	TopK		top;

	top.h = out;
	top.n = 0;
	top.k = Max(Min(k, m->n_items), 1);
	for (int32 c = 0; c < n_cand; c++)
	{
		int32		i = cand[c];

		if (n_excluded > 0 &&
			bsearch(&i, excluded, n_excluded, sizeof(int32), cmp_int32) != NULL)
			continue;
		if (blocked && blocked[i])
			continue;
		topk_offer(&top, score_item(m, true, ubias, uf, i), i);
	}
	if (top.n < top.k && n_cand < m->n_items)
		return -1;
	topk_sort(&top);
	return top.n;
}

/* One result row per ranked item: [user,] item, score, rank. */
static void
emit_ranked(ReturnSetInfo *rsinfo, const ServedModel *m, const KeyIO *io,
			const Datum *user, const Scored *ranked, int n)
{
	for (int r = 0; r < n; r++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int			c = 0;

		if (user)
			values[c++] = *user;
		values[c++] = key_from_text(io, m->keys[ranked[r].idx]);
		values[c++] = Float8GetDatum(ranked[r].score);
		values[c++] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* ----------------------------------------------------------------
 *		Fold-in: a user vector from items (and ratings)
 *
 * For ials the vector solves the user's half-step of training exactly:
 * (Y^T Y + sum (c_i - 1) y_i y_i^T + lambda I) x = sum c_i y_i with
 * c_i = 1 + alpha r_i (r_i = 1 when no ratings are given).  For als and
 * svd with ratings, the biased ridge regression of the als user step
 * (weighted lambda, bias included).  Without ratings an explicit model,
 * and bpr always, take the mean of the items' vectors (bias 0).
 * ----------------------------------------------------------------
 */

static void
served_params(ServedModel *m)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	bool		isnull;
	int			pinned;

	if (m->params_loaded)
		return;
	values[0] = CStringGetTextDatum(m->name);
	values[1] = Int32GetDatum(m->sm.version);
	/* (the user key type schema-qualified: fold-in casts to it) */
	pinned = rs_pin_search_path();
	if (SPI_execute_with_args("SELECT (v.params->>'regularization')::float8, "
							  "(v.params->>'bias_regularization')::float8, "
							  "(v.params->>'alpha')::float8, "
							  "format('%I.%I', n.nspname, t.typname) "
							  "FROM recsys.model_versions v JOIN recsys.models m ON m.name = v.model "
							  "JOIN pg_type t ON t.oid = m.user_key_type "
							  "JOIN pg_namespace n ON n.oid = t.typnamespace "
							  "WHERE v.model = $1 AND v.version = $2",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the parameters of model \"%s\" failed", m->name);
	rs_unpin_search_path(pinned);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d;

		d = SPI_getbinval(tup, desc, 1, &isnull);
		m->reg = isnull ? 0.0 : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		m->reg_b = isnull ? m->reg : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		m->alpha = isnull ? 0.0 : DatumGetFloat8(d);
		m->user_type = MemoryContextStrdup(m->cxt, SPI_getvalue(tup, desc, 4));
	}
	m->params_loaded = true;
}

/*
 * Solves for a user given n (item index, rating) pairs (ratings NULL: none
 * given); uf gets sm.factors floats.  Must be called inside SPI.
 */
static void
fold_in(ServedModel *m, const int32 *idx, const float *ratings, int32 n,
		float *ubias, float *uf)
{
	int			k = m->sm.factors;
	bool		explicit_model = is_explicit(m);

	*ubias = 0.0f;
	memset(uf, 0, sizeof(float) * k);
	if (n == 0 || k == 0 || m->factors == NULL)
		return;
	served_params(m);

	if (m->sm.algorithm == RS_ALG_IALS)
	{
		float	   *a = palloc(sizeof(float) * k * k);

		if (m->gram == NULL)
		{
			m->gram = MemoryContextAlloc(m->cxt, sizeof(float) * k * k);
			rs_gram(m->factors, m->n_items, k, k, m->gram);
		}
		memcpy(a, m->gram, sizeof(float) * k * k);
		for (int j = 0; j < k; j++)
			a[j * k + j] += (float) m->reg;
		for (int32 r = 0; r < n; r++)
		{
			const float *y = m->factors + (Size) idx[r] * k;
			double		conf = 1.0 + m->alpha * (ratings ? ratings[r] : 1.0);

			for (int p = 0; p < k; p++)
			{
				uf[p] += (float) (conf * y[p]);
				for (int q = 0; q < k; q++)
					a[p * k + q] += (float) ((conf - 1.0) * y[p] * y[q]);
			}
		}
		if (!rs_cholesky_solve(a, uf, k))
			memset(uf, 0, sizeof(float) * k);
	}
	else if (explicit_model && ratings)
	{
		int			k1 = k + 1;
		float	   *a = palloc0(sizeof(float) * k1 * k1);
		float	   *b = palloc0(sizeof(float) * k1);

		for (int32 r = 0; r < n; r++)
		{
			const float *q = m->factors + (Size) idx[r] * k;
			double		t = ratings[r] - m->sm.global_mean - (m->bias ? m->bias[idx[r]] : 0.0);

			for (int p = 0; p < k1; p++)
			{
				double		ap = p < k ? q[p] : 1.0;

				b[p] += (float) (t * ap);
				for (int s = 0; s < k1; s++)
					a[p * k1 + s] += (float) (ap * (s < k ? q[s] : 1.0));
			}
		}
		for (int p = 0; p < k; p++)
			a[p * k1 + p] += (float) (m->reg * n);
		a[k * k1 + k] += (float) (m->reg_b * n);
		if (rs_cholesky_solve(a, b, k1))
		{
			memcpy(uf, b, sizeof(float) * k);
			*ubias = b[k];
		}
	}
	else
	{
		/* the mean of the items' vectors */
		for (int32 r = 0; r < n; r++)
		{
			const float *q = m->factors + (Size) idx[r] * k;

			for (int p = 0; p < k; p++)
				uf[p] += q[p] / n;
		}
	}
}

/* Diversity needs item vectors, which not every model has. */
static void
check_vectors(const ServedModel *m, const Constraints *cons)
{
	if ((cons->spec.diversity || cons->spec.mmr) &&
		(m->factors == NULL || m->sm.factors == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("diversity constraints need item vectors, and model \"%s\" (%s) has none",
						m->name, rs_algorithm_name(m->sm.algorithm)),
				 errhint("Use a model with item factors (als, svd, ials, bpr), or recsys.rerank() with vectors.")));
}

typedef struct ItemRating
{
	int32		idx;
	int32		pos;			/* position given, for a stable order */
	float		rating;
} ItemRating;

static int
cmp_item_rating(const void *a, const void *b)
{
	const ItemRating *x = a;
	const ItemRating *y = b;

	if (x->idx != y->idx)
		return (x->idx > y->idx) - (x->idx < y->idx);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Sorts (item, rating) pairs by item and merges repeated items: the mean
 * rating for explicit models, the sum for implicit ones (the loader's
 * rule).  Returns the new count.
 */
static int32
merge_duplicates(const ServedModel *m, int32 *idx, float *ratings, int32 n)
{
	ItemRating *p;
	int32		w = 0;
	int32		count = 0;

	if (ratings == NULL)
		return sort_unique(idx, n);
	p = palloc(sizeof(ItemRating) * Max(n, 1));
	for (int32 r = 0; r < n; r++)
	{
		p[r].idx = idx[r];
		p[r].pos = r;
		p[r].rating = ratings[r];
	}
	qsort(p, n, sizeof(ItemRating), cmp_item_rating);
	for (int32 r = 0; r < n; r++)
	{
		if (w > 0 && idx[w - 1] == p[r].idx)
		{
			ratings[w - 1] += p[r].rating;
			count++;
		}
		else
		{
			if (w > 0 && is_explicit(m))
				ratings[w - 1] /= count;
			idx[w] = p[r].idx;
			ratings[w] = p[r].rating;
			count = 1;
			w++;
		}
	}
	if (w > 0 && is_explicit(m))
		ratings[w - 1] /= count;
	pfree(p);
	return w;
}

/*
 * A user the model has not seen: their rows in the model's source (read
 * as the model's owner, see rs_run_as_model_owner(), and only when the
 * owner may still read every relation the source query touches), as
 * sorted item indexes and values
 * allocated in cxt.  Returns how many; 0 when there are none, when the
 * model cannot take a new user (popularity, user_knn), has no stored
 * source (fit) or the source may not be read (*why says why).  Inside SPI.
 */
static int32
user_rows_from_source(ServedModel *m, const char *ukey, MemoryContext cxt,
					  int32 **idx_out, float **ratings_out, const char **why)
{
	RsModelDef *def;
	SPIPlanPtr	plan;
	RsStoredCheck check;
	Oid			argtype = TEXTOID;
	Datum		arg;
	int32	   *idx;
	float	   *ratings;
	int32		n = 0;
	RsRunAs		as;

	*why = NULL;
	if (m->sm.algorithm == RS_ALG_POPULARITY || m->sm.algorithm == RS_ALG_USER_KNN ||
		(!is_knn(m) && (m->factors == NULL || m->sm.factors == 0)))
		return 0;
	def = rs_model_lookup(m->name, true);
	if (def == NULL || def->source == NULL)
		return 0;
	served_params(m);
	if (m->user_type == NULL)
		return 0;

	/* the stored source runs as the model's owner, never as the caller */
	rs_run_as_model_owner(&as, def);
	check = rs_prepare_stored_query(rs_user_source_query(def, m->user_type), 1, &argtype, &plan);
	if (check != RS_STORED_OK)
	{
		rs_run_as_end(&as);
		SPI_freeplan(plan);
		*why = check == RS_STORED_TEMPORARY ?
			"the model's source reads a temporary table or view, which a stored query never reads" :
			"the model's owner may no longer read its source";
		return 0;
	}

	arg = CStringGetTextDatum(ukey);
	if (rs_execute_plan_read_only(plan, &arg) != SPI_OK_SELECT)
		elog(ERROR, "reading the source of model \"%s\" failed", m->name);
	rs_run_as_end(&as);
	idx = MemoryContextAlloc(cxt, sizeof(int32) * Max(SPI_processed, 1));
	ratings = MemoryContextAlloc(cxt, sizeof(float) * Max(SPI_processed, 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *key = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, 2, &isnull);
		int32		i = key ? item_index(m, key) : -1;

		if (i < 0 || isnull)
			continue;
		idx[n] = i;
		ratings[n] = (float) rs_datum_to_double(d, SPI_gettypeid(desc, 2), "rating");
		n++;
	}
	SPI_freeplan(plan);
	*idx_out = idx;
	*ratings_out = ratings;
	return merge_duplicates(m, idx, ratings, n);
}

/* ----------------------------------------------------------------
 *		Neighbourhood models
 * ----------------------------------------------------------------
 */

/* What the scoring functions read, built on first need.  Inside SPI. */
static RsKnnModel *
served_knn(ServedModel *m)
{
	RsKnnModel *km = &m->knn;

	if (m->knn_ready)
		return km;
	memset(km, 0, sizeof(*km));
	km->user_based = (m->sm.algorithm == RS_ALG_USER_KNN);
	km->explicit_feedback = m->sm.explicit_feedback;
	km->n_items = m->n_items;
	km->global_mean = m->sm.global_mean;
	km->item_bias = m->bias;
	if (!km->user_based)
	{
		int64		total;

		if (m->nbr_ptr == NULL)
			rs_load_neighbors(&m->sm, m->cxt, &m->n_lists, &m->nbr_ptr,
							  &m->nbr_idx, &m->nbr_sim);
		km->n_lists = m->n_lists;
		km->ptr = m->nbr_ptr;
		km->nbr = m->nbr_idx;
		km->sim = m->nbr_sim;
		total = m->nbr_ptr[m->n_lists];
		rs_knn_build_reverse(km,
							 MemoryContextAllocHuge(m->cxt, sizeof(int64) * ((Size) m->n_items + 1)),
							 MemoryContextAllocHuge(m->cxt, sizeof(int32) * Max(total, 1)),
							 MemoryContextAllocHuge(m->cxt, sizeof(float) * Max(total, 1)));
	}
	m->knn_ready = true;
	return km;
}

/*
 * Every item's score for user u of a neighbourhood model.  user_knn needs
 * the user's stored neighbours, found by ukey (NULL: none).  Inside SPI.
 */
static void
knn_scores(ServedModel *m, const RsKnnUser *u, const char *ukey, float *scores)
{
	RsKnnModel *km = served_knn(m);
	float	   *work = palloc(sizeof(float) * Max(m->n_items, 1));

	if (!km->user_based)
		rs_knn_score_items(km, u, scores, work);
	else
	{
		int32		nn = 0;
		char	  **keys = NULL;
		float	   *sim = NULL;
		RsKnnUser  *nbrs = NULL;

		if (ukey && rs_fetch_user_neighbors(&m->sm, ukey, &nn, &keys, &sim) && nn > 0)
		{
			nbrs = palloc(sizeof(RsKnnUser) * nn);
			rs_fetch_knn_users(&m->sm, keys, nn, nbrs);
		}
		rs_knn_score_users(km, u, nn, sim, nbrs, scores, work);
	}
	pfree(work);
}

/*
 * A new user of a neighbourhood model described by items (and ratings):
 * item_knn scores them like a trained user; explicit models need the
 * ratings.  user_knn cannot place a new user among its neighbour lists.
 */
static bool
knn_new_user(ServedModel *m, const int32 *idx, const float *ratings, int32 n,
			 float *scores)
{
	RsKnnUser	u;

	if (n == 0 || m->sm.algorithm == RS_ALG_USER_KNN)
		return false;
	if (is_explicit(m) && ratings == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" predicts ratings: the items need their ratings", m->name),
				 errhint("Pass ratings => ARRAY[...], one per item.")));
	u.n = n;
	u.items = idx;
	u.ratings = ratings;
	u.bias = 0.0f;
	knn_scores(m, &u, NULL, scores);
	return true;
}

/* ----------------------------------------------------------------
 *		recsys.recommend(model, user, k, exclude_seen, exclude, ...)
 * ----------------------------------------------------------------
 */

#define RECOMMEND_CONSTRAINTS 5

PG_FUNCTION_INFO_V1(rs_recommend);
Datum
rs_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	int			k;
	bool		exclude_seen;
	Constraints cons;
	KeyIO		io;
	char	   *ukey;
	ServedModel *m;
	ItemAttrs  *attrs;
	float		ubias = 0;
	float	   *uf = NULL;
	int32	   *seen = NULL;
	int32		nseen = 0;
	int32	   *excluded;
	int32		n_excluded;
	bool		known;
	float	   *scores;
	Scored	   *ranked;
	int			n_ranked;
	MemoryContext per_call;
	MemoryContext old;

	name = checked_model(fcinfo);
	k = checked_k(fcinfo, 2);
	exclude_seen = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
	parse_constraints(fcinfo, RECOMMEND_CONSTRAINTS, k, true, &cons);
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;		/* no user, no recommendations */

	key_io_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	ukey = key_to_text(&io, PG_GETARG_DATUM(1));

	per_call = AllocSetContextCreate(CurrentMemoryContext, "recsys recommend",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(per_call);

	/* (SPI calls switch to their own context: what outlives SPI_finish is
	 * allocated in per_call explicitly) */
	SPI_connect();
	m = served_model(name);
	check_vectors(m, &cons);
	attrs = item_attrs(fcinfo, m, &cons);
	scores = MemoryContextAlloc(per_call, sizeof(float) * Max(m->n_items, 1));
	if (is_knn(m))
	{
		RsKnnUser	u;

		known = rs_fetch_knn_user(&m->sm, ukey, &u);
		if (known)
		{
			seen = (int32 *) u.items;
			nseen = u.n;
			knn_scores(m, &u, ukey, scores);
		}
	}
	else
		known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, &seen, &nseen);
	if (!known)
	{
		const char *why;
		float	   *values = NULL;

		nseen = user_rows_from_source(m, ukey, per_call, &seen, &values, &why);
		if (nseen > 0 && is_knn(m))
			known = knn_new_user(m, seen, values, nseen, scores);
		else if (nseen > 0)
		{
			uf = MemoryContextAllocZero(per_call, sizeof(float) * Max(m->sm.factors, 1));
			fold_in(m, seen, values, nseen, &ubias, uf);
			known = true;
		}
		if (known)
			ereport(NOTICE,
					(errmsg("user %s is not in model \"%s\": folded in from %d interactions in the source",
							ukey, name, nseen)));
		else
			ereport(NOTICE,
					(errmsg("user %s is not in model \"%s\": recommending %s",
							ukey, name,
							is_explicit(m) ? "by the items' bias baseline" : "popular items"),
					 why ? errdetail("The user's interactions were not read: %s.", why) : 0));
	}
	/* (still inside SPI, whose context SPI_finish frees: allocate in per_call) */
	MemoryContextSwitchTo(per_call);
	excluded = call_exclusions(fcinfo, 4, m, seen, exclude_seen ? nseen : 0, &n_excluded);
	ranked = palloc(sizeof(Scored) * Max(Min(k, m->n_items), 1));
	n_ranked = -1;
	if (known && uf != NULL && !is_knn(m) && m->factors != NULL &&
		m->bias == NULL && !is_explicit(m) && m->sm.factors > 0 &&
		m->sm.algorithm != RS_ALG_POPULARITY &&
		!cons.greedy && !(attrs && attrs->fresh))
	{
		int32	   *cand;
		int32		pool = (int32) Min((int64) m->n_items,
									   (int64) Max(INDEX_POOL_FACTOR * (int64) k, INDEX_POOL_MIN) + n_excluded);
		int32		n_cand = index_candidates(m, uf, pool, per_call, &cand);

		if (n_cand >= 0)
			n_ranked = rank_candidates(m, ubias, uf, cand, n_cand, excluded, n_excluded,
									   attrs ? attrs->blocked : NULL, k, ranked);
	}
	SPI_finish();

	if (n_ranked < 0)
	{
		if (!known || !is_knn(m))
			score_items(m, known, ubias, uf, scores);
		n_ranked = rank_items(m, &cons, attrs, scores, excluded, n_excluded, ranked);
	}

	MemoryContextSwitchTo(old);
	emit_ranked(rsinfo, m, &io, NULL, ranked, n_ranked);
	MemoryContextDelete(per_call);
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 *		recsys.recommend_for_items(model, items, k, ratings, exclude_seen,
 *								   exclude, ...)
 *
 * An anonymous session or a new user, described by the items seen (and,
 * optionally, the ratings given): the user is folded in (see fold_in).
 * Items the model does not know are ignored; with none left, popular
 * items (NOTICE).  The given items are excluded unless exclude_seen is
 * false.  An item given twice counts once, with the mean of its ratings
 * for explicit models and their sum for implicit ones (the loader's rule).
 * ----------------------------------------------------------------
 */

#define FOR_ITEMS_CONSTRAINTS 6

PG_FUNCTION_INFO_V1(rs_recommend_for_items);
Datum
rs_recommend_for_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = checked_model(fcinfo);
	int			k = checked_k(fcinfo, 2);
	bool		exclude_seen = PG_ARGISNULL(4) ? true : PG_GETARG_BOOL(4);
	Constraints cons;
	KeyIO		io;
	ServedModel *m;
	ItemAttrs  *attrs;
	int32	   *idx = NULL;
	float	   *ratings = NULL;
	int32		n = 0;
	float		ubias = 0;
	float	   *uf;
	bool		folded;
	int32	   *excluded;
	int32		n_excluded;
	float	   *scores;
	Scored	   *ranked;
	int			n_ranked;
	MemoryContext per_call;
	MemoryContext old;

	parse_constraints(fcinfo, FOR_ITEMS_CONSTRAINTS, k, true, &cons);
	InitMaterializedSRF(fcinfo, 0);
	key_io_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1) == InvalidOid ? TEXTOID :
				get_element_type(get_fn_expr_argtype(fcinfo->flinfo, 1)));

	per_call = AllocSetContextCreate(CurrentMemoryContext, "recsys recommend_for_items",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(per_call);

	/* (SPI calls switch to their own context: what outlives SPI_finish is
	 * allocated in per_call explicitly) */
	SPI_connect();
	m = served_model(name);
	check_vectors(m, &cons);
	attrs = item_attrs(fcinfo, m, &cons);

	if (!PG_ARGISNULL(1))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		int			nitems = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
		Datum	   *elems;
		bool	   *nulls;
		Datum	   *rvals = NULL;
		bool	   *rnulls = NULL;
		int			nr = 0;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &nulls, &nitems);
		if (!PG_ARGISNULL(3))
		{
			deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), FLOAT8OID, 8, FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &rvals, &rnulls, &nr);
			if (nr != nitems)
				ereport(ERROR,
						(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
						 errmsg("ratings has %d elements but items has %d", nr, nitems),
						 errhint("Give one rating per item, or no ratings.")));
			ratings = MemoryContextAlloc(per_call, sizeof(float) * Max(nitems, 1));
		}
		idx = MemoryContextAlloc(per_call, sizeof(int32) * Max(nitems, 1));
		for (int e = 0; e < nitems; e++)
		{
			int32		i;

			if (nulls[e] || (rvals && rnulls[e]))
				continue;
			i = item_index(m, key_to_text(&io, elems[e]));
			if (i < 0)
				continue;
			if (rvals && !isfinite(DatumGetFloat8(rvals[e])))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rating %d is not finite", e + 1),
						 errhint("Ratings must be numbers.")));
			idx[n] = i;
			if (ratings)
				ratings[n] = (float) DatumGetFloat8(rvals[e]);
			n++;
		}
		n = merge_duplicates(m, idx, ratings, n);
	}

	uf = MemoryContextAllocZero(per_call, sizeof(float) * Max(m->sm.factors, 1));
	scores = MemoryContextAlloc(per_call, sizeof(float) * Max(m->n_items, 1));
	if (is_knn(m))
		folded = knn_new_user(m, idx, ratings, n, scores);
	else
	{
		fold_in(m, idx, ratings, n, &ubias, uf);
		folded = n > 0;
	}
	SPI_finish();

	if (!folded)
		ereport(NOTICE,
				(errmsg("%s model \"%s\": recommending %s",
						n == 0 ? "none of the items is in" : "a new user cannot be placed in",
						name, is_explicit(m) ? "by the items' bias baseline" : "popular items")));

	excluded = call_exclusions(fcinfo, 5, m, idx, exclude_seen ? n : 0, &n_excluded);
	if (!folded || !is_knn(m))
		score_items(m, folded, ubias, m->sm.factors > 0 ? uf : NULL, scores);
	ranked = palloc(sizeof(Scored) * Max(Min(k, m->n_items), 1));
	n_ranked = rank_items(m, &cons, attrs, scores, excluded, n_excluded, ranked);

	MemoryContextSwitchTo(old);
	emit_ranked(rsinfo, m, &io, NULL, ranked, n_ranked);
	MemoryContextDelete(per_call);
	return (Datum) 0;
}

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
			n = sort_unique(out, n);
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
	Scored	   *out;			/* a row of k per user */
	int		   *n_out;
} BlockRanking;

static void
rank_block_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	BlockRanking *br = ctx;

	(void) thread;
	for (int64_t b = begin; b < end; b++)
		br->n_out[b] = rank_plain(br->n_items, br->k, br->attrs,
								  br->scores + b * br->n_items,
								  br->excluded[b], br->n_excluded[b],
								  br->out + b * br->k);
}

/* ----------------------------------------------------------------
 *		recsys.recommend_all(model, k, exclude_seen, exclude, ..., users)
 *
 * For every user of the model, or for those in users (keys as text; keys
 * the model does not know are left out: recommend() serves them).
 * Users are read in dense-index order through a cursor, ALL_BLOCK_USERS
 * at a time; one sgemm scores a block against every item, and each user's
 * row of scores goes through the same ranking as recommend().  Rows go
 * to a tuplestore, which spills to disk beyond work_mem.  Keys come back
 * as text: a set-returning function cannot take its result type from the
 * catalog, and there is no argument to take it from.
 * ----------------------------------------------------------------
 */

#define ALL_CONSTRAINTS 4
#define ALL_USERS (ALL_CONSTRAINTS + C_FORBIDDEN + 1)

PG_FUNCTION_INFO_V1(rs_recommend_all);
Datum
rs_recommend_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = checked_model(fcinfo);
	int			k = checked_k(fcinfo, 1);
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
	Scored	   *ranked;
	MemoryContext batch_cxt;
	MemoryContext outer = CurrentMemoryContext;
	bool		plain;
	BlockRanking br;
	int			threads = rs_default_threads();
	Oid			types[3] = {TEXTOID, INT4OID, TEXTARRAYOID};
	Datum		values[3];

	parse_constraints(fcinfo, ALL_CONSTRAINTS, k, true, &cons);
	InitMaterializedSRF(fcinfo, 0);
	key_io_init(&io, TEXTOID);

	SPI_connect();
	m = served_model(name);
	check_vectors(m, &cons);
	attrs = item_attrs(fcinfo, m, &cons);
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
	ranked = MemoryContextAlloc(outer, sizeof(Scored) * Max(Min(k, m->n_items), 1));
	/* the exclusions every user shares (the exclude array) */
	{
		MemoryContext old = MemoryContextSwitchTo(outer);

		fixed = call_exclusions(fcinfo, 3, m, NULL, 0, &n_fixed);
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
		br.out = MemoryContextAllocHuge(outer, sizeof(Scored) * ALL_BLOCK_USERS * (Size) br.k);
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
			int			blas_threads = rs_blas_get_threads();

			rs_blas_set_threads(threads);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
						(int) nb, m->n_items, nf, 1.0f, ublock, nf,
						m->factors, nf, 0.0f, scores, m->n_items);
			rs_blas_set_threads(blas_threads);
			for (uint64 b = 0; b < nb; b++)
				add_baselines(m, ubias[b], scores + b * m->n_items);
		}
		else
		{
			for (uint64 b = 0; b < nb; b++)
				score_items(m, true, ubias[b], NULL, scores + b * m->n_items);
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
				Datum		ud = key_from_text(&io, ukeys[b]);

				emit_ranked(rsinfo, m, &io, &ud, br.out + b * br.k, br.n_out[b]);
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
					knn_scores(m, &u, ukey, scores + b * m->n_items);
					SPI_finish();
				}
				n_excluded = user_exclusions(fixed, n_fixed,
											 seen ? (int32 *) ARR_DATA_PTR(seen) : NULL,
											 exclude_seen ? nseen : 0, excluded);
				n_ranked = rank_items(m, &cons, attrs, scores + b * m->n_items,
									  excluded, n_excluded, ranked);
				ud = key_from_text(&io, ukey);
				/* (the tuplestore copies each row into its own memory) */
				emit_ranked(rsinfo, m, &io, &ud, ranked, n_ranked);
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

/* ----------------------------------------------------------------
 *		recsys.similar_items(model, item, k), recsys.similar_users(model, user, k)
 *
 * Factor models compare the stored vectors by cosine similarity (over
 * every item, or every user of the active version); neighbourhood models
 * return their stored lists.  A key the model does not know gives no rows
 * and a NOTICE.  Results come back in the type of the key argument.
 * ----------------------------------------------------------------
 */

static void
no_similarity(const ServedModel *m, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("model \"%s\" (%s) has no %s similarities",
					m->name, rs_algorithm_name(m->sm.algorithm), what),
			 errhint("%s", hint)));
}

static void
emit_similar(ReturnSetInfo *rsinfo, const KeyIO *io, char **keys, TopK *top)
{
	topk_sort(top);
	for (int r = 0; r < top->n; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = key_from_text(io, keys[top->h[r].idx]);
		values[1] = Float8GetDatum(top->h[r].score);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

PG_FUNCTION_INFO_V1(rs_similar_items);
Datum
rs_similar_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = checked_model(fcinfo);
	int			k = checked_k(fcinfo, 2);
	KeyIO		io;
	char	   *key;
	ServedModel *m;
	int32		idx;
	TopK		top;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	key_io_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	key = key_to_text(&io, PG_GETARG_DATUM(1));

	SPI_connect();
	m = served_model(name);
	if (m->sm.algorithm == RS_ALG_ITEM_KNN && m->nbr_ptr == NULL)
		rs_load_neighbors(&m->sm, m->cxt, &m->n_lists, &m->nbr_ptr, &m->nbr_idx, &m->nbr_sim);
	SPI_finish();

	if (m->sm.algorithm != RS_ALG_ITEM_KNN && (m->factors == NULL || m->sm.factors == 0))
		no_similarity(m, "item", "Use a factor model (als, svd, ials, bpr) or an item_knn model.");
	idx = item_index(m, key);
	if (idx < 0)
	{
		ereport(NOTICE,
				(errmsg("item %s is not in model \"%s\": no similar items", key, name)));
		return (Datum) 0;
	}

	top.k = Min(k, Max(m->n_items - 1, 1));
	top.n = 0;
	top.h = palloc(sizeof(Scored) * top.k);
	if (m->sm.algorithm == RS_ALG_ITEM_KNN)
	{
		for (int64 e = m->nbr_ptr[idx]; e < m->nbr_ptr[idx + 1]; e++)
			topk_offer(&top, m->nbr_sim[e], m->nbr_idx[e]);
	}
	else
	{
		const float *q = m->factors + (Size) idx * m->sm.factors;

		for (int32 i = 0; i < m->n_items; i++)
		{
			double		sim;

			if (i == idx)
				continue;
			sim = rs_cosine_similarity(q, m->factors + (Size) i * m->sm.factors, m->sm.factors);
			if (!isnan(sim))
				topk_offer(&top, sim, i);
		}
	}
	emit_similar(rsinfo, &io, m->keys, &top);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(rs_similar_users);
Datum
rs_similar_users(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = checked_model(fcinfo);
	int			k = checked_k(fcinfo, 2);
	KeyIO		io;
	char	   *key;
	ServedModel *m;
	TopK		top;
	char	  **keys = NULL;
	int32		n_keys = 0;
	bool		known;
	MemoryContext outer = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	key_io_init(&io, get_fn_expr_argtype(fcinfo->flinfo, 1));
	key = key_to_text(&io, PG_GETARG_DATUM(1));

	top.k = k;
	top.n = 0;
	SPI_connect();
	m = served_model(name);
	if (m->sm.algorithm == RS_ALG_USER_KNN)
	{
		float	   *sim;

		known = rs_fetch_user_neighbors(&m->sm, key, &n_keys, &keys, &sim);
		top.h = MemoryContextAlloc(outer, sizeof(Scored) * Max(Min(k, n_keys), 1));
		top.k = Max(Min(k, n_keys), 1);
		for (int32 r = 0; known && r < n_keys; r++)
			topk_offer(&top, sim[r], r);
	}
	else if (m->factors == NULL || m->sm.factors == 0)
	{
		SPI_finish();
		no_similarity(m, "user", "Use a factor model (als, svd, ials, bpr) or a user_knn model.");
		known = false;			/* not reached */
	}
	else
	{
		float		ubias;
		float	   *uf;
		Portal		portal;
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2] = {CStringGetTextDatum(name), Int32GetDatum(m->sm.version)};
		int32		cap = 1024;
		int			pinned;

		known = rs_fetch_user(&m->sm, key, &ubias, &uf, NULL, NULL) && uf != NULL;
		/* no more neighbours than users: a huge k must not size the heap */
		top.k = Min(k, Max(m->sm.n_users, 1));
		top.h = MemoryContextAlloc(outer, sizeof(Scored) * top.k);
		keys = MemoryContextAlloc(outer, sizeof(char *) * cap);
		pinned = rs_pin_search_path();
		portal = SPI_cursor_open_with_args(NULL,
										   "SELECT user_key, factors FROM recsys.user_factors "
										   "WHERE model = $1 AND version = $2 ORDER BY user_idx",
										   2, types, values, NULL, true, 0);
		rs_unpin_search_path(pinned);
		while (known)
		{
			SPI_cursor_fetch(portal, true, 10000);
			if (SPI_processed == 0)
				break;
			for (uint64 r = 0; r < SPI_processed; r++)
			{
				HeapTuple	tup = SPI_tuptable->vals[r];
				bool		isnull;
				char	   *other = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
				Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
				double		sim;

				if (isnull || strcmp(other, key) == 0)
					continue;
				sim = rs_cosine_similarity(uf, DatumGetEmbedding(d)->x, m->sm.factors);
				if (isnan(sim) || (top.n == top.k && sim < top.h[0].score))
					continue;
				if (n_keys == cap)
				{
					cap *= 2;
					keys = repalloc_huge(keys, sizeof(char *) * cap);
				}
				keys[n_keys] = MemoryContextStrdup(outer, other);
				topk_offer(&top, sim, n_keys++);
			}
			SPI_freetuptable(SPI_tuptable);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_cursor_close(portal);
	}
	SPI_finish();

	if (!known)
	{
		ereport(NOTICE,
				(errmsg("user %s is not in model \"%s\": no similar users", key, name)));
		return (Datum) 0;
	}
	emit_similar(rsinfo, &io, keys, &top);
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

/*
 * Scores of n items (item_idx, -1 for an item the model does not know) for
 * one user, exactly as predict() gives them: out[j] is valid[j] = false
 * where predict() returns NULL.  Returns whether the user is in the model.
 * Inside SPI; what it reads is allocated in the caller's context.
 */
bool
rs_served_predict(ServedModel *m, const char *ukey, int32 n, const int32 *items,
				  double *out, bool *valid)
{
	float		ubias = 0;
	float	   *uf = NULL;
	bool		known;
	RsKnnUser	u;
	int32		nn = 0;
	float	   *sim = NULL;
	RsKnnUser  *nbrs = NULL;

	if (is_knn(m))
	{
		known = rs_fetch_knn_user(&m->sm, ukey, &u);
		if (known)
		{
			ubias = u.bias;
			if (m->sm.algorithm == RS_ALG_USER_KNN)
			{
				char	  **keys = NULL;

				if (rs_fetch_user_neighbors(&m->sm, ukey, &nn, &keys, &sim) && nn > 0)
				{
					nbrs = palloc(sizeof(RsKnnUser) * nn);
					rs_fetch_knn_users(&m->sm, keys, nn, nbrs);
				}
			}
		}
	}
	else
		known = rs_fetch_user(&m->sm, ukey, &ubias, &uf, NULL, NULL);

	for (int32 j = 0; j < n; j++)
	{
		int32		item = items[j];

		valid[j] = true;
		if (is_knn(m) && known && item >= 0)
		{
			RsKnnModel *km = served_knn(m);

			out[j] = km->user_based ?
				rs_knn_predict_user(km, &u, nn, sim, nbrs, item) :
				rs_knn_predict_item(km, &u, item);
		}
		else if (item < 0)
		{
			valid[j] = is_explicit(m);
			out[j] = valid[j] ? m->sm.global_mean + (known ? ubias : 0.0) : 0.0;
		}
		else if (!known && !is_explicit(m) && m->sm.algorithm != RS_ALG_POPULARITY)
		{
			valid[j] = false;
			out[j] = 0.0;
		}
		else
			out[j] = score_item(m, known, ubias, uf, item);
	}
	return known;
}

/*
 * For the rest of the extension (see serve.h): a model's active version
 * from the serving cache, and what it knows about its items.  Inside SPI.
 */
ServedModel *
rs_served_model(const char *name)
{
	return served_model(name);
}

int32
rs_served_item(ServedModel *m, const char *key)
{
	return item_index(m, key);
}

bool
rs_served_explicit(const ServedModel *m)
{
	return is_explicit(m);
}

PG_FUNCTION_INFO_V1(rs_predict);
Datum
rs_predict(PG_FUNCTION_ARGS)
{
	char	   *name;
	KeyIO		uio;
	KeyIO		iio;
	char	   *ukey;
	ServedModel *m;
	int32		item;
	double		score;
	bool		valid;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_usage(name);
	key_io_init(&uio, get_fn_expr_argtype(fcinfo->flinfo, 1));
	key_io_init(&iio, get_fn_expr_argtype(fcinfo->flinfo, 2));
	ukey = key_to_text(&uio, PG_GETARG_DATUM(1));

	SPI_connect();
	m = served_model(name);
	item = item_index(m, key_to_text(&iio, PG_GETARG_DATUM(2)));
	rs_served_predict(m, ukey, 1, &item, &score, &valid);
	SPI_finish();
	if (!valid)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(score);
}
