/*-------------------------------------------------------------------------
 *
 * rerank.c
 *	  Re-ranking constraints, and recsys.rerank(): the same constraints
 *	  over any candidate set with any scores.
 *
 * Order of operations, the same in recommend(), recommend_all(),
 * recommend_for_items() and rerank():
 *
 *	1. Exclusions are hard: seen items, the `exclude` array, the
 *	   `exclude_query` rows and the items in the `forbidden` Bloom filter
 *	   never appear.
 *	2. Freshness rescales each remaining score toward the lowest one:
 *	   s' = s_min + (s - s_min) * 0.5^(age / half_life), age measured from
 *	   the transaction's start (future timestamps count as age 0; an item
 *	   without a timestamp is not rescaled).  A fresher item of equal score
 *	   therefore ranks higher, and order among equally old items is kept.
 *	3. The best `pool` candidates (default 5 k) by that score go through a
 *	   greedy selection: at each rank the best candidate that satisfies
 *	   every constraint is taken, best meaning highest score, or with MMR
 *	   highest  lambda * rel - (1 - lambda) * max_sim, rel being the score
 *	   scaled to [0, 1] over the pool and max_sim the highest cosine
 *	   similarity to an item already picked.  The constraints:
 *	     - diversity: cosine similarity to every picked item <= max_similarity;
 *	     - max_per_group: at most that many items of one group;
 *	     - min_share: every prefix of length r holds at least
 *	       floor(min_share * r) items of the protected group (the
 *	       deterministic form of FA*IR's ranked group fairness).
 *	   When no pool candidate satisfies them the pool is widened (to every
 *	   eligible item, eventually); when no eligible item does, they are
 *	   relaxed one at a time, weakest first: diversity (the item least
 *	   similar to those picked is taken), then the group cap, then the
 *	   minimum share.  So a list is only shorter than k when fewer than k
 *	   eligible items exist.
 *
 *-------------------------------------------------------------------------
 */
#include "rerank.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "bloom.h"
#include "embedding.h"

/* ----------------------------------------------------------------
 *		The constraints
 * ----------------------------------------------------------------
 */

/* the default pool is this many times k */
#define POOL_PER_K 5

void
rs_rerank_spec_init(RsRerankSpec *spec, int k)
{
	memset(spec, 0, sizeof(*spec));
	spec->k = k;
}

static void
bad_parameter(const char *name, const char *range, double value)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be %s, not %.15g", name, range, value),
			 errhint("Pass NULL (the default) to leave the constraint off.")));
}

/*
 * Validates what the caller set and fills in the pool.  has_vectors and
 * has_groups say whether the data the constraints need is there.
 */
void
rs_rerank_spec_check(RsRerankSpec *spec, bool has_vectors, bool has_groups)
{
	if (spec->diversity &&
		!(spec->max_similarity >= -1.0 && spec->max_similarity <= 1.0))
		bad_parameter("max_similarity", "between -1 and 1", spec->max_similarity);
	if (spec->mmr && !(spec->mmr_lambda >= 0.0 && spec->mmr_lambda <= 1.0))
		bad_parameter("mmr_lambda", "between 0 and 1", spec->mmr_lambda);
	if (spec->max_per_group < 0)
		bad_parameter("max_per_group", "positive", spec->max_per_group);
	if (!(spec->min_share >= 0.0 && spec->min_share <= 1.0))
		bad_parameter("min_share", "between 0 and 1", spec->min_share);
	if (spec->half_life < 0.0 || isnan(spec->half_life))
		bad_parameter("half_life", "a positive interval (in seconds)", spec->half_life);
	if (spec->pool < 0)
		bad_parameter("pool", "positive", spec->pool);

	if ((spec->diversity || spec->mmr) && !has_vectors)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("diversity constraints need item vectors"),
				 errhint("Use a model with item factors (als, svd, ials, bpr), or pass vectors to recsys.rerank().")));
	if ((spec->max_per_group > 0 || spec->min_share > 0.0) && !has_groups)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group constraints need item groups"),
				 errhint("Pass item_groups (a query returning item, group) or groups to recsys.rerank().")));

	if (spec->pool == 0)
		spec->pool = spec->k > INT_MAX / POOL_PER_K ? INT_MAX : spec->k * POOL_PER_K;
	spec->pool = Max(spec->pool, spec->k);
}

/* Does the selection need more than the k best candidates? */
bool
rs_rerank_needs_greedy(const RsRerankSpec *spec)
{
	return spec->diversity || spec->mmr || spec->max_per_group > 0 ||
		spec->min_share > 0.0;
}

/* The freshness factor 0.5^(age / half_life) (1 when there is no age). */
double
rs_fresh_factor(double age_seconds, double half_life)
{
	if (half_life <= 0.0 || isnan(age_seconds))
		return 1.0;
	return pow(0.5, Max(age_seconds, 0.0) / half_life);
}

/* An interval as seconds (a month is 30 days, as interval arithmetic has it). */
double
rs_interval_seconds(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);

	return iv->time / (double) USECS_PER_SEC +
		iv->day * (double) SECS_PER_DAY +
		iv->month * (double) DAYS_PER_MONTH * SECS_PER_DAY;
}

/*
 * An argument declared "any" (so that item keys need not share the user's
 * type) that must be an array.
 */
void
rs_check_array_arg(FunctionCallInfo fcinfo, int arg, const char *name)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, arg);

	if (!OidIsValid(type) || !OidIsValid(get_element_type(type)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be an array, not %s", name,
						OidIsValid(type) ? format_type_be(type) : "unknown"),
				 errhint("Pass an array of item keys, e.g. ARRAY[1, 2, 3] or '{a,b}'::text[].")));
}

/* ----------------------------------------------------------------
 *		The greedy selection
 * ----------------------------------------------------------------
 */

/* relaxation levels: what is still enforced */
#define ENFORCE_DIVERSITY	1
#define ENFORCE_CAP			2
#define ENFORCE_SHARE		4

/*
 * Picks up to spec->k candidates (positions into c) in rank order into
 * picked[].  strict: stop, setting *stuck, at the first rank where no
 * candidate satisfies every constraint, so the caller can widen the pool;
 * otherwise relax the constraints there instead.  Returns the count.
 */
int
rs_rerank_select(const RsRerankSpec *spec, const RsCandidates *c, bool strict,
				 int *picked, bool *stuck)
{
	int			n = c->n;
	int			k = Min(spec->k, n);
	bool		use_vec = (spec->diversity || spec->mmr) && c->vec != NULL;
	bool	   *taken = palloc0(sizeof(bool) * Max(n, 1));
	double	   *max_sim = NULL;
	double	   *inv_norm = NULL;
	int32	   *group_count = NULL;
	int32		n_groups = 0;
	int			n_protected = 0;
	double		lo = 0.0;
	double		span = 1.0;
	int			count = 0;

	*stuck = false;
	if (use_vec)
	{
		max_sim = palloc(sizeof(double) * Max(n, 1));
		inv_norm = palloc(sizeof(double) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			double		nn = c->vec[i] ? rs_norm_squared(c->vec[i], c->dim) : 0.0;

			max_sim[i] = -INFINITY;
			inv_norm[i] = nn > 0.0 ? 1.0 / sqrt(nn) : 0.0;
		}
	}
	if (c->group && spec->max_per_group > 0)
	{
		for (int i = 0; i < n; i++)
			n_groups = Max(n_groups, c->group[i] + 1);
		group_count = palloc0(sizeof(int32) * Max(n_groups, 1));
	}
	if (spec->mmr && n > 0)
	{
		lo = c->score[n - 1];
		span = c->score[0] - lo;
		if (!(span > 0.0))
			span = 1.0;
	}

	while (count < k)
	{
		int			best = -1;
		double		best_value = 0.0;
		int			need_protected = (int) floor(spec->min_share * (count + 1) + 1e-9);
		int			enforce = ENFORCE_DIVERSITY | ENFORCE_CAP | ENFORCE_SHARE;

		CHECK_FOR_INTERRUPTS();
		for (;;)
		{
			bool		share_needed = (enforce & ENFORCE_SHARE) &&
				c->protected_ != NULL && n_protected < need_protected;

			/* once the threshold is given up, the least similar item */
			bool		least_similar = spec->diversity && use_vec &&
				!(enforce & ENFORCE_DIVERSITY);

			for (int i = 0; i < n; i++)
			{
				double		value;

				if (taken[i])
					continue;
				if (share_needed && !c->protected_[i])
					continue;
				if ((enforce & ENFORCE_CAP) && group_count && c->group[i] >= 0 &&
					group_count[c->group[i]] >= spec->max_per_group)
					continue;
				if ((enforce & ENFORCE_DIVERSITY) && spec->diversity && use_vec &&
					max_sim[i] > spec->max_similarity)
					continue;
				value = c->score[i];
				if (least_similar)
					value = -max_sim[i];
				else if (spec->mmr && use_vec)
				{
					double		sim = max_sim[i] == -INFINITY ? 0.0 : max_sim[i];

					value = spec->mmr_lambda * (c->score[i] - lo) / span -
						(1.0 - spec->mmr_lambda) * sim;
				}
				if (best < 0 || value > best_value)
				{
					best = i;
					best_value = value;
				}
				/* without MMR the first acceptable candidate is the best */
				if (!spec->mmr && !least_similar)
					break;
			}
			if (best >= 0 || enforce == 0)
				break;
			if (strict)
			{
				*stuck = true;
				break;
			}
			/* relax the weakest constraint still enforced */
			if (enforce & ENFORCE_DIVERSITY)
				enforce &= ~ENFORCE_DIVERSITY;
			else if (enforce & ENFORCE_CAP)
				enforce &= ~ENFORCE_CAP;
			else
				enforce = 0;
		}
		if (best < 0)
			break;

		picked[count++] = best;
		taken[best] = true;
		if (group_count && c->group[best] >= 0)
			group_count[c->group[best]]++;
		if (c->protected_ && c->protected_[best])
			n_protected++;
		if (use_vec && inv_norm[best] > 0.0)
		{
			const float *v = c->vec[best];

			for (int i = 0; i < n; i++)
			{
				double		sim;

				if (taken[i] || inv_norm[i] == 0.0)
					continue;
				sim = rs_dot(v, c->vec[i], c->dim) * inv_norm[best] * inv_norm[i];
				if (sim > max_sim[i])
					max_sim[i] = sim;
			}
		}
	}
	pfree(taken);
	return count;
}

/* ----------------------------------------------------------------
 *		recsys.rerank(items, scores, k, ...)
 *
 * The constraints over a candidate set the caller brings: items and
 * scores are parallel arrays, and so are the optional item_times,
 * groups and vectors.  A NULL item or score drops that candidate; an item
 * listed twice is ranked once, at its better score.  Items are compared
 * (for duplicates and exclusions) by their text form, as everywhere in
 * recsys.
 * ----------------------------------------------------------------
 */

typedef struct RerankInput
{
	int			pos;			/* position in the arrays */
	char	   *key;			/* text form */
	double		score;			/* after freshness */
} RerankInput;

static int
cmp_input_key(const void *a, const void *b)
{
	const RerankInput *x = a;
	const RerankInput *y = b;
	int			c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	/* better score first, then earlier position */
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int
cmp_input_rank(const void *a, const void *b)
{
	const RerankInput *x = a;
	const RerankInput *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Deconstructs an optional array argument, checking its length. */
static Datum *
array_arg(FunctionCallInfo fcinfo, int arg, const char *name, int n, bool **nulls)
{
	ArrayType  *a;
	Datum	   *d;
	int			len;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (PG_ARGISNULL(arg))
		return NULL;
	a = PG_GETARG_ARRAYTYPE_P(arg);
	get_typlenbyvalalign(ARR_ELEMTYPE(a), &typlen, &typbyval, &typalign);
	deconstruct_array(a, ARR_ELEMTYPE(a), typlen, typbyval, typalign, &d, nulls, &len);
	if (n >= 0 && len != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements but items has %d", name, len, n),
				 errhint("items, scores, item_times, groups and vectors are parallel arrays.")));
	return d;
}

static char *
datum_text(Oid type, Datum d)
{
	Oid			out;
	bool		varlena;

	getTypeOutputInfo(type, &out, &varlena);
	return OidOutputFunctionCall(out, d);
}

PG_FUNCTION_INFO_V1(rs_rerank);
Datum
rs_rerank(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsRerankSpec spec;
	ArrayType  *items_arr;
	Oid			item_type;
	Datum	   *items;
	bool	   *item_nulls;
	Datum	   *scores;
	bool	   *score_nulls;
	Datum	   *times = NULL;
	bool	   *time_nulls = NULL;
	Datum	   *groups = NULL;
	bool	   *group_nulls = NULL;
	Datum	   *vectors = NULL;
	bool	   *vector_nulls = NULL;
	char	  **excluded = NULL;
	int			n_excluded = 0;
	BloomFilter *forbidden = NULL;
	char	   *protected_group = NULL;
	int			n;
	int			m = 0;
	RerankInput *in;
	int			dim = -1;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	double		lo = INFINITY;
	RsCandidates c;
	double	   *cscore;
	int32	   *cgroup = NULL;
	bool	   *cprot = NULL;
	const float **cvec = NULL;
	int		   *picked;
	int			count;
	bool		stuck;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	if (PG_GETARG_INT32(2) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", PG_GETARG_INT32(2)),
				 errhint("k is the number of items to keep.")));
	rs_rerank_spec_init(&spec, PG_GETARG_INT32(2));
	if (!PG_ARGISNULL(5))
		spec.half_life = rs_interval_seconds(PG_GETARG_DATUM(5));
	if (!PG_ARGISNULL(5) && !(spec.half_life > 0.0))
		bad_parameter("half_life", "a positive interval (in seconds)", spec.half_life);
	if (!PG_ARGISNULL(7))
		spec.max_per_group = PG_GETARG_INT32(7);
	if (!PG_ARGISNULL(7) && spec.max_per_group <= 0)
		bad_parameter("max_per_group", "positive", spec.max_per_group);
	if (!PG_ARGISNULL(8))
		protected_group = text_to_cstring(PG_GETARG_TEXT_PP(8));
	if (!PG_ARGISNULL(9))
		spec.min_share = PG_GETARG_FLOAT8(9);
	if (!PG_ARGISNULL(11))
	{
		spec.diversity = true;
		spec.max_similarity = PG_GETARG_FLOAT8(11);
	}
	if (!PG_ARGISNULL(12))
	{
		spec.mmr = true;
		spec.mmr_lambda = PG_GETARG_FLOAT8(12);
	}
	if (spec.min_share > 0.0 && protected_group == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_share needs protected_group"),
				 errhint("Name the group whose share is guaranteed.")));
	rs_rerank_spec_check(&spec, !PG_ARGISNULL(10), !PG_ARGISNULL(6));
	spec.pool = INT_MAX;		/* every candidate is in the pool */

	if (!PG_ARGISNULL(13))
		forbidden = PG_GETARG_BLOOM(13);
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;

	items_arr = PG_GETARG_ARRAYTYPE_P(0);
	item_type = ARR_ELEMTYPE(items_arr);
	items = array_arg(fcinfo, 0, "items", -1, &item_nulls);
	n = ArrayGetNItems(ARR_NDIM(items_arr), ARR_DIMS(items_arr));
	scores = array_arg(fcinfo, 1, "scores", n, &score_nulls);
	times = array_arg(fcinfo, 4, "item_times", n, &time_nulls);
	groups = array_arg(fcinfo, 6, "groups", n, &group_nulls);
	vectors = array_arg(fcinfo, 10, "vectors", n, &vector_nulls);
	if (!PG_ARGISNULL(3))
	{
		bool	   *xnulls;
		Datum	   *x;
		ArrayType  *xa;
		int			nx;

		rs_check_array_arg(fcinfo, 3, "exclude");
		x = array_arg(fcinfo, 3, "exclude", -1, &xnulls);
		xa = PG_GETARG_ARRAYTYPE_P(3);
		nx = ArrayGetNItems(ARR_NDIM(xa), ARR_DIMS(xa));


		excluded = palloc(sizeof(char *) * Max(nx, 1));
		for (int i = 0; i < nx; i++)
			if (!xnulls[i])
				excluded[n_excluded++] = datum_text(ARR_ELEMTYPE(xa), x[i]);
		qsort(excluded, n_excluded, sizeof(char *), cmp_cstring);
	}

	/* the eligible candidates, their text keys and (unscaled) scores */
	in = palloc(sizeof(RerankInput) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		double		s;

		if (item_nulls[i] || score_nulls[i])
			continue;
		s = DatumGetFloat8(scores[i]);
		if (isnan(s))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("score of candidate %d is NaN", i + 1),
					 errhint("Give every candidate a number, or NULL to drop it.")));
		in[m].pos = i;
		in[m].key = datum_text(item_type, items[i]);
		in[m].score = s;
		if (n_excluded > 0 &&
			bsearch(&in[m].key, excluded, n_excluded, sizeof(char *), cmp_cstring))
			continue;
		if (forbidden && rs_bloom_contains_key(forbidden, in[m].key, strlen(in[m].key)))
			continue;
		if (vectors && !vector_nulls[i])
		{
			Embedding  *e = DatumGetEmbedding(vectors[i]);

			if (dim < 0)
				dim = e->dim;
			else if (e->dim != dim)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("vectors have different dimensions (%d and %d)", dim, e->dim),
						 errhint("Every candidate's vector must have the same dimension.")));
			vectors[i] = PointerGetDatum(e);
		}
		lo = Min(lo, s);
		m++;
	}

	/* freshness, then one entry per item (its best), in rank order */
	for (int j = 0; j < m; j++)
	{
		int			i = in[j].pos;

		if (times && !time_nulls[i] && spec.half_life > 0.0)
		{
			double		age = (double) (now - DatumGetTimestampTz(times[i])) / USECS_PER_SEC;

			in[j].score = lo + (in[j].score - lo) * rs_fresh_factor(age, spec.half_life);
		}
	}
	if (m > 1)
	{
		int			w = 1;

		qsort(in, m, sizeof(RerankInput), cmp_input_key);
		for (int j = 1; j < m; j++)
			if (strcmp(in[j].key, in[w - 1].key) != 0)
				in[w++] = in[j];
		m = w;
		qsort(in, m, sizeof(RerankInput), cmp_input_rank);
	}

	cscore = palloc(sizeof(double) * Max(m, 1));
	if (vectors)
		cvec = palloc0(sizeof(float *) * Max(m, 1));
	for (int j = 0; j < m; j++)
	{
		int			i = in[j].pos;

		cscore[j] = in[j].score;
		if (vectors && !vector_nulls[i])
			cvec[j] = ((Embedding *) DatumGetPointer(vectors[i]))->x;
	}
	if (groups)
	{
		/* dense group ids: sort the candidates' group names */
		RerankInput *g = palloc(sizeof(RerankInput) * Max(m, 1));
		int			ng = 0;
		int			id = -1;

		cgroup = palloc(sizeof(int32) * Max(m, 1));
		cprot = palloc0(sizeof(bool) * Max(m, 1));
		for (int j = 0; j < m; j++)
		{
			cgroup[j] = -1;
			if (group_nulls[in[j].pos])
				continue;
			g[ng].pos = j;
			g[ng].key = TextDatumGetCString(groups[in[j].pos]);
			g[ng].score = 0.0;
			cprot[j] = protected_group && strcmp(g[ng].key, protected_group) == 0;
			ng++;
		}
		qsort(g, ng, sizeof(RerankInput), cmp_input_key);
		for (int x = 0; x < ng; x++)
		{
			if (x == 0 || strcmp(g[x].key, g[x - 1].key) != 0)
				id++;
			cgroup[g[x].pos] = id;
		}
	}

	c.n = m;
	c.score = cscore;
	c.group = cgroup;
	c.protected_ = cprot;
	c.vec = cvec;
	c.dim = Max(dim, 0);
	picked = palloc(sizeof(int) * Max(Min(spec.k, m), 1));
	count = rs_rerank_select(&spec, &c, false, picked, &stuck);

	for (int r = 0; r < count; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = items[in[picked[r]].pos];
		values[1] = Float8GetDatum(in[picked[r]].score);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
