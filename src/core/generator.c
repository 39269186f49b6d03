/*-------------------------------------------------------------------------
 *
 * generator.c
 *	  Pure-C core of the synthetic data generator: counter-based random
 *	  streams, the planted users/items/latent factors, and the interaction
 *	  stream.  No PostgreSQL calls, so it can be timed standalone.
 *
 * Determinism.  Every random quantity comes from a stream keyed by
 * (seed, purpose tag, entity id), never from a shared sequential
 * generator.  So a user's gender is the same whichever function asks,
 * and the rows of one user do not depend on how many users came before.
 *
 * Shape of the data (doc/generator.md has the numbers and the reasons):
 *	- item popularity: Zipf over item_id (item 1 is the most popular);
 *	- each item belongs to one category; each category has a centroid in
 *	  the latent space, item vector = centroid + noise;
 *	- each user has 1 or 2 favourite categories; user vector = affinity-
 *	  weighted centroids + noise;
 *	- an interaction is drawn either from the user's favourite categories
 *	  (probability "preference", then by popularity inside the category)
 *	  or from global popularity; a user never gets an item twice;
 *	- rating = mu + b_u + b_i + p_u.q_i + N(0, sigma), clipped to [1, 5].
 *
 *-------------------------------------------------------------------------
 */
#include "generator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Purpose tags: one independent stream family per kind of draw. */
#define TAG_USER_DEMO		1
#define TAG_USER_PREF		2
#define TAG_USER_ACTIVITY	3
#define TAG_USER_DRAWS		4
#define TAG_ITEM_META		5
#define TAG_ITEM_LATENT		6
#define TAG_CENTROID		7
#define TAG_USER_CURSOR		8

#define GOLDEN_GAMMA	UINT64_C(0x9e3779b97f4a7c15)

const char *const synth_gender_names[SYNTH_NGENDERS] = {"F", "M", "X"};
const char *const synth_age_band_names[SYNTH_NAGE_BANDS] = {
	"18-24", "25-34", "35-44", "45-54", "55+"
};
const char *const synth_region_names[SYNTH_NREGIONS] = {
	"north", "south", "east", "west"
};
const char *const synth_provider_names[SYNTH_NPROVIDERS] = {
	"studio_a", "studio_b", "studio_c", "indie"
};

/* Cumulative shares; the last entry is 1 so a uniform draw always lands. */
static const double gender_cdf[SYNTH_NGENDERS] = {0.49, 0.98, 1.0};
static const double age_cdf[SYNTH_NAGE_BANDS] = {0.15, 0.45, 0.70, 0.88, 1.0};
static const double region_cdf[SYNTH_NREGIONS] = {0.40, 0.70, 0.90, 1.0};

/* Share of "indie" among head and among long-tail items. */
#define INDIE_SHARE_HEAD	0.10
#define INDIE_SHARE_TAIL	0.40

/* ----------------------------------------------------------------
 * Random streams
 * ----------------------------------------------------------------
 */

typedef struct Rng
{
	uint64_t	state;
} Rng;

/* splitmix64's finaliser: a strong 64-bit mixer (full avalanche). */
static inline uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * Key a stream by (seed, tag, id).  Mixing twice keeps streams of nearby
 * seeds, tags and ids unrelated (a plain sum would make seed s / id i+1
 * collide with seed s+1 / id i).
 */
static inline void
rng_init(Rng *r, uint64_t seed, uint64_t tag, uint64_t id)
{
	r->state = mix64(mix64(seed ^ (tag * GOLDEN_GAMMA)) + id * UINT64_C(0xd1b54a32d192ed03));
}

static inline uint64_t
rng_next(Rng *r)
{
	r->state += GOLDEN_GAMMA;
	return mix64(r->state);
}

/* Uniform in [0, 1), 53 bits. */
static inline double
rng_uniform(Rng *r)
{
	return (double) (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal by Box-Muller; one value per call keeps streams simple. */
static inline double
rng_normal(Rng *r)
{
	double		u1 = 1.0 - rng_uniform(r);	/* (0, 1]: log is finite */
	double		u2 = rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Poisson by multiplication of uniforms; fine for rates up to ~50. */
static inline int32_t
rng_poisson(Rng *r, double lambda)
{
	double		limit = exp(-lambda);
	double		p = 1.0;
	int32_t		k = 0;

	for (;;)
	{
		p *= rng_uniform(r);
		if (p <= limit)
			return k;
		k++;
	}
}

static inline int
pick_cdf(const double *cdf, int n, double u)
{
	int			i;

	for (i = 0; i < n - 1; i++)
		if (u < cdf[i])
			return i;
	return n - 1;
}

/* ----------------------------------------------------------------
 * Per-entity derivations
 * ----------------------------------------------------------------
 */

void
synth_user_demo(uint64_t seed, int32_t user_id, SynthUserDemo *out)
{
	Rng			r;

	rng_init(&r, seed, TAG_USER_DEMO, (uint64_t) user_id);
	out->gender = pick_cdf(gender_cdf, SYNTH_NGENDERS, rng_uniform(&r));
	out->age_band = pick_cdf(age_cdf, SYNTH_NAGE_BANDS, rng_uniform(&r));
	out->region = pick_cdf(region_cdf, SYNTH_NREGIONS, rng_uniform(&r));
}

/* The popularity head: ids 1 .. ceil(0.2 * items). */
int32_t
synth_head_size(int32_t items)
{
	return (int32_t) ((items * (int64_t) 2 + 9) / 10);
}

void
synth_item_meta(uint64_t seed, int32_t items, int32_t categories,
				int32_t item_id, SynthItemMeta *out)
{
	Rng			r;
	double		u;
	double		indie;

	rng_init(&r, seed, TAG_ITEM_META, (uint64_t) item_id);
	out->category = 1 + (int32_t) (rng_uniform(&r) * categories);
	if (out->category > categories)
		out->category = categories;
	out->long_tail = item_id > synth_head_size(items);

	/*
	 * Small providers are over-represented in the long tail, so exposure
	 * audits have an item group that popularity-driven models under-serve.
	 */
	indie = out->long_tail ? INDIE_SHARE_TAIL : INDIE_SHARE_HEAD;
	u = rng_uniform(&r);
	if (u < indie)
		out->provider = SYNTH_NPROVIDERS - 1;
	else
	{
		out->provider = (int) ((u - indie) / (1.0 - indie) * (SYNTH_NPROVIDERS - 1));
		if (out->provider > SYNTH_NPROVIDERS - 2)
			out->provider = SYNTH_NPROVIDERS - 2;
	}
	out->created_at = SYNTH_T_CATALOGUE_START +
		(int64_t) (rng_uniform(&r) * (double) (SYNTH_T_CATALOGUE_END - SYNTH_T_CATALOGUE_START));
}

/*
 * Category centroids: N(0, 1/factors) per coordinate, so |c|^2 ~ 1 and
 * two centroids are nearly orthogonal when factors >= categories.
 */
void
synth_centroids(uint64_t seed, int32_t categories, int32_t factors, float *out)
{
	double		scale = 1.0 / sqrt((double) factors);
	int32_t		c;
	int32_t		f;

	for (c = 0; c < categories; c++)
	{
		Rng			r;

		rng_init(&r, seed, TAG_CENTROID, (uint64_t) c + 1);
		for (f = 0; f < factors; f++)
			out[(size_t) c * factors + f] = (float) (rng_normal(&r) * scale);
	}
}

void
synth_user_pref(uint64_t seed, int32_t categories, int32_t factors,
				const float *centroids, int32_t user_id,
				SynthUserPref *out, float *vec)
{
	Rng			r;
	double		noise = SYNTH_VEC_NOISE_SD / sqrt((double) factors);
	int32_t		f;

	rng_init(&r, seed, TAG_USER_PREF, (uint64_t) user_id);
	out->fav[0] = 1 + (int32_t) (rng_uniform(&r) * categories);
	if (out->fav[0] > categories)
		out->fav[0] = categories;
	out->fav[1] = 0;
	out->nfav = 1;
	out->affinity[0] = 1.0;
	out->affinity[1] = 0.0;
	/* Half of the users have a second favourite, with weight 0.2 .. 0.5. */
	if (rng_uniform(&r) < 0.5 && categories > 1)
	{
		int32_t		second = 1 + (int32_t) (rng_uniform(&r) * (categories - 1));

		if (second > categories - 1)
			second = categories - 1;
		if (second >= out->fav[0])
			second++;
		out->fav[1] = second;
		out->nfav = 2;
		out->affinity[1] = 0.2 + 0.3 * rng_uniform(&r);
		out->affinity[0] = 1.0 - out->affinity[1];
	}
	out->bias = SYNTH_BIAS_SD * rng_normal(&r);

	for (f = 0; f < factors; f++)
	{
		double		v = out->affinity[0] * centroids[(size_t) (out->fav[0] - 1) * factors + f];

		if (out->nfav == 2)
			v += out->affinity[1] * centroids[(size_t) (out->fav[1] - 1) * factors + f];
		vec[f] = (float) (v + noise * rng_normal(&r));
	}
}

/* Item vector = centroid of its category + noise; returns the item bias. */
double
synth_item_latent(uint64_t seed, int32_t factors, const float *centroid,
				  int32_t item_id, float *vec)
{
	Rng			r;
	double		noise = SYNTH_VEC_NOISE_SD / sqrt((double) factors);
	double		bias;
	int32_t		f;

	rng_init(&r, seed, TAG_ITEM_LATENT, (uint64_t) item_id);
	bias = SYNTH_BIAS_SD * rng_normal(&r);
	for (f = 0; f < factors; f++)
		vec[f] = (float) (centroid[f] + noise * rng_normal(&r));
	return bias;
}

static inline double
dot(const float *a, const float *b, int32_t n)
{
	double		s = 0.0;
	int32_t		i;

	for (i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

/*
 * Noise-free score of one (user, item) pair.  scratch holds
 * (categories + 2) * factors floats.  The item's category does not depend
 * on the catalogue size, so neither users nor items is needed here.
 */
double
synth_truth(uint64_t seed, int32_t categories, int32_t factors,
			int32_t user_id, int32_t item_id, float *scratch)
{
	float	   *centroids = scratch;
	float	   *uvec = scratch + (size_t) categories * factors;
	float	   *ivec = uvec + factors;
	SynthUserPref pref;
	SynthItemMeta meta;
	double		ibias;

	synth_centroids(seed, categories, factors, centroids);
	synth_user_pref(seed, categories, factors, centroids, user_id, &pref, uvec);
	/* items only feeds long_tail/provider, which the score ignores */
	synth_item_meta(seed, 1, categories, item_id, &meta);
	ibias = synth_item_latent(seed, factors,
							  centroids + (size_t) (meta.category - 1) * factors,
							  item_id, ivec);
	return SYNTH_MU + pref.bias + ibias + dot(uvec, ivec, factors);
}

/* ----------------------------------------------------------------
 * Alias tables (Vose): O(1) weighted draws with one uniform
 * ----------------------------------------------------------------
 */

/*
 * Build over n weights into prob[0..n) / alias[0..n) (alias indices are
 * local).  work needs 2 * n int32 slots.
 */
static void
alias_build(const double *w, int32_t n, float *prob, int32_t *alias,
			int32_t *work, double *scaled)
{
	double		total = 0.0;
	int32_t    *small = work;
	int32_t    *large = work + n;
	int32_t		ns = 0;
	int32_t		nl = 0;
	int32_t		i;

	for (i = 0; i < n; i++)
		total += w[i];
	for (i = 0; i < n; i++)
	{
		scaled[i] = w[i] * n / total;
		if (scaled[i] < 1.0)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0)
	{
		int32_t		s = small[--ns];
		int32_t		l = large[nl - 1];

		prob[s] = (float) scaled[s];
		alias[s] = l;
		scaled[l] = (scaled[l] + scaled[s]) - 1.0;
		if (scaled[l] < 1.0)
		{
			nl--;
			small[ns++] = l;
		}
	}
	/* Leftovers are 1 up to rounding. */
	while (nl > 0)
	{
		int32_t		l = large[--nl];

		prob[l] = 1.0f;
		alias[l] = l;
	}
	while (ns > 0)
	{
		int32_t		s = small[--ns];

		prob[s] = 1.0f;
		alias[s] = s;
	}
}

static inline int32_t
alias_draw(const float *prob, const int32_t *alias, int32_t n, double u)
{
	double		x = u * n;
	int32_t		i = (int32_t) x;

	if (i >= n)
		i = n - 1;
	return (x - i) < prob[i] ? i : alias[i];
}

/* ----------------------------------------------------------------
 * Interaction stream
 * ----------------------------------------------------------------
 */

struct SynthGen
{
	SynthParams p;
	SynthCheckFn check;
	int32_t		min_per_user;

	/* per user */
	int32_t    *counts;			/* interactions of user u+1 */

	/* per item (index = item_id - 1) */
	int32_t    *category;		/* 0-based */
	float	   *ibias;
	float	   *ivec;			/* items x factors */
	int64_t    *created;

	/* popularity draws */
	float	   *g_prob;			/* global alias table */
	int32_t    *g_alias;
	int32_t    *cat_start;		/* categories + 1 offsets into cat_items */
	int32_t    *cat_items;		/* item index, by category then by id */
	float	   *c_prob;			/* per-category alias tables, same layout */
	int32_t    *c_alias;

	float	   *centroids;

	/* current user */
	int32_t		user;			/* 1-based; 0 before the first row */
	int32_t		left;			/* rows still to emit for this user */
	Rng			draws;
	SynthUserPref pref;
	float	   *uvec;
	double		noise_sd;
	int32_t    *seen;			/* open-addressing set of item ids, 0 = empty */
	uint32_t	seen_mask;
	int32_t		reject_limit;	/* duplicate draws before the cursor is used */
	int32_t		cursor;			/* next item index to probe; -1 = not yet placed */
};

static void *
zalloc(SynthAllocFn alloc, void *ctx, size_t size)
{
	void	   *p = alloc(ctx, size);

	memset(p, 0, size);
	return p;
}

typedef struct Frac
{
	double		frac;
	int32_t		user;
} Frac;

static int
frac_cmp(const void *a, const void *b)
{
	const Frac *x = a;
	const Frac *y = b;

	if (x->frac != y->frac)
		return x->frac > y->frac ? -1 : 1;
	return x->user - y->user;
}

/*
 * Split the interactions over users: everyone gets min_per_user, the rest
 * goes by lognormal activity weights, no user beyond the catalogue size
 * (water-filling: capped users drop out and their excess is re-spread),
 * and rounding by largest remainder so the counts sum exactly.
 */
static void
allocate_counts(SynthGen *g, SynthAllocFn alloc, void *ctx)
{
	int32_t		U = g->p.users;
	int32_t		I = g->p.items;
	int64_t		base;
	int64_t		rest;
	int64_t		given;
	double	   *w = alloc(ctx, sizeof(double) * U);
	bool	   *capped = zalloc(alloc, ctx, sizeof(bool) * U);
	Frac	   *fr;
	int32_t		nfr = 0;
	int32_t		cap;
	int32_t		u;
	bool		changed;

	base = g->p.interactions / U;
	if (base > SYNTH_MIN_PER_USER)
		base = SYNTH_MIN_PER_USER;
	if (base > I)
		base = I;
	g->min_per_user = (int32_t) base;
	cap = I - (int32_t) base;
	rest = g->p.interactions - base * U;

	for (u = 0; u < U; u++)
	{
		Rng			r;

		rng_init(&r, g->p.seed, TAG_USER_ACTIVITY, (uint64_t) u + 1);
		w[u] = exp(SYNTH_ACTIVITY_SD * rng_normal(&r));
		g->counts[u] = (int32_t) base;
	}

	do
	{
		double		wsum = 0.0;

		if (g->check)
			g->check();
		changed = false;
		for (u = 0; u < U; u++)
			if (!capped[u])
				wsum += w[u];
		for (u = 0; u < U; u++)
		{
			if (capped[u])
				continue;
			if ((double) rest * w[u] / wsum >= cap)
			{
				capped[u] = true;
				g->counts[u] += cap;
				rest -= cap;
				changed = true;
			}
		}
	} while (changed && rest > 0);

	/* Proportional floor shares for the uncapped, then largest remainder. */
	fr = alloc(ctx, sizeof(Frac) * U);
	{
		double		wsum = 0.0;

		for (u = 0; u < U; u++)
			if (!capped[u])
				wsum += w[u];
		given = 0;
		for (u = 0; u < U; u++)
		{
			double		share;
			int64_t		whole;

			if (capped[u])
				continue;
			share = wsum > 0 ? (double) rest * w[u] / wsum : 0.0;
			whole = (int64_t) share;
			if (whole > cap)
				whole = cap;
			g->counts[u] += (int32_t) whole;
			given += whole;
			fr[nfr].frac = share - (double) whole;
			fr[nfr].user = u;
			nfr++;
		}
	}
	rest -= given;
	qsort(fr, nfr, sizeof(Frac), frac_cmp);

	/*
	 * rest < nfr up to float rounding, and every uncapped user has room for
	 * one more; loop anyway so an edge case can never lose a row.
	 */
	while (rest > 0)
	{
		int64_t		before = rest;
		int32_t		i;

		for (i = 0; i < nfr && rest > 0; i++)
		{
			if (g->counts[fr[i].user] < I)
			{
				g->counts[fr[i].user]++;
				rest--;
			}
		}
		if (rest == before)
		{
			/* only capped users left: fill anyone with room */
			for (u = 0; u < U && rest > 0; u++)
			{
				int32_t		room = I - g->counts[u];
				int32_t		add = rest < room ? (int32_t) rest : room;

				g->counts[u] += add;
				rest -= add;
			}
		}
	}
}

SynthGen *
synth_gen_create(const SynthParams *p, SynthAllocFn alloc, void *ctx,
				 SynthCheckFn check)
{
	SynthGen   *g = zalloc(alloc, ctx, sizeof(SynthGen));
	int32_t		I = p->items;
	int32_t		C = p->categories;
	int32_t		k = p->factors;
	int32_t		i;
	int32_t		c;
	int32_t		maxcount = 0;
	uint32_t	setsize = 16;
	double	   *w;
	double	   *scaled;
	int32_t    *work;
	int32_t    *fill;
	double	   *cw;

	g->p = *p;
	g->check = check;

	g->counts = alloc(ctx, sizeof(int32_t) * p->users);
	allocate_counts(g, alloc, ctx);
	for (i = 0; i < p->users; i++)
		if (g->counts[i] > maxcount)
			maxcount = g->counts[i];
	while (setsize < (uint32_t) maxcount * 2u)
		setsize <<= 1;
	g->seen = zalloc(alloc, ctx, sizeof(int32_t) * setsize);

	g->centroids = alloc(ctx, sizeof(float) * (size_t) C * k);
	synth_centroids(p->seed, C, k, g->centroids);
	g->uvec = alloc(ctx, sizeof(float) * k);

	g->category = alloc(ctx, sizeof(int32_t) * I);
	g->ibias = alloc(ctx, sizeof(float) * I);
	g->ivec = alloc(ctx, sizeof(float) * (size_t) I * k);
	g->created = alloc(ctx, sizeof(int64_t) * I);
	w = alloc(ctx, sizeof(double) * I);
	for (i = 0; i < I; i++)
	{
		SynthItemMeta meta;

		if (check && (i & 0xffff) == 0)
			check();
		synth_item_meta(p->seed, I, C, i + 1, &meta);
		g->category[i] = meta.category - 1;
		g->created[i] = meta.created_at;
		g->ibias[i] = (float) synth_item_latent(p->seed, k,
												g->centroids + (size_t) (meta.category - 1) * k,
												i + 1, g->ivec + (size_t) i * k);
		w[i] = pow((double) (i + 1), -p->zipf);
	}

	scaled = alloc(ctx, sizeof(double) * I);
	work = alloc(ctx, sizeof(int32_t) * 2 * (size_t) I);
	g->g_prob = alloc(ctx, sizeof(float) * I);
	g->g_alias = alloc(ctx, sizeof(int32_t) * I);
	alias_build(w, I, g->g_prob, g->g_alias, work, scaled);

	/* Group items by category (counting sort keeps ids ascending). */
	g->cat_start = zalloc(alloc, ctx, sizeof(int32_t) * (C + 1));
	g->cat_items = alloc(ctx, sizeof(int32_t) * I);
	for (i = 0; i < I; i++)
		g->cat_start[g->category[i] + 1]++;
	for (c = 0; c < C; c++)
		g->cat_start[c + 1] += g->cat_start[c];
	fill = alloc(ctx, sizeof(int32_t) * C);
	memcpy(fill, g->cat_start, sizeof(int32_t) * C);
	for (i = 0; i < I; i++)
		g->cat_items[fill[g->category[i]]++] = i;

	/* Per-category tables over the same Zipf weights, in place. */
	g->c_prob = alloc(ctx, sizeof(float) * I);
	g->c_alias = alloc(ctx, sizeof(int32_t) * I);
	cw = alloc(ctx, sizeof(double) * I);
	for (c = 0; c < C; c++)
	{
		int32_t		s = g->cat_start[c];
		int32_t		n = g->cat_start[c + 1] - s;

		if (n == 0)
			continue;
		for (i = 0; i < n; i++)
			cw[i] = w[g->cat_items[s + i]];
		alias_build(cw, n, g->c_prob + s, g->c_alias + s, work, scaled);
	}

	return g;
}

int32_t
synth_gen_min_per_user(const SynthGen *g)
{
	return g->min_per_user;
}

static inline uint32_t
seen_slot(int32_t item)
{
	return (uint32_t) item * 0x9e3779b1u;
}

/* Insert item into the current user's set; false if it was already there. */
static inline bool
seen_add(SynthGen *g, int32_t item)
{
	uint32_t	h = seen_slot(item) & g->seen_mask;

	while (g->seen[h] != 0)
	{
		if (g->seen[h] == item)
			return false;
		h = (h + 1) & g->seen_mask;
	}
	g->seen[h] = item;
	return true;
}

static void
start_user(SynthGen *g, int32_t user)
{
	SynthUserDemo demo;
	uint32_t	size = 16;

	g->user = user;
	g->left = g->counts[user - 1];
	rng_init(&g->draws, g->p.seed, TAG_USER_DRAWS, (uint64_t) user);
	synth_user_pref(g->p.seed, g->p.categories, g->p.factors, g->centroids,
					user, &g->pref, g->uvec);
	synth_user_demo(g->p.seed, user, &demo);
	g->noise_sd = (demo.gender == g->p.noisy_gender) ? g->p.noisy_sigma : g->p.sigma;
	g->reject_limit = SYNTH_MAX_REJECTIONS;
	g->cursor = -1;

	/* Load factor <= 1/2; only the part this user needs is cleared. */
	while (size < (uint32_t) g->left * 2u)
		size <<= 1;
	g->seen_mask = size - 1;
	memset(g->seen, 0, sizeof(int32_t) * size);
}

/* One draw from the preference/popularity mixture; returns an item index. */
static inline int32_t
draw_item(SynthGen *g)
{
	double		u = rng_uniform(&g->draws);
	double		v = rng_uniform(&g->draws);

	if (u < g->p.preference)
	{
		/* u / preference is again uniform: reuse it to pick the favourite */
		int			which = (g->pref.nfav == 2 &&
							 u / g->p.preference >= g->pref.affinity[0]) ? 1 : 0;
		int32_t		c = g->pref.fav[which] - 1;
		int32_t		s = g->cat_start[c];
		int32_t		n = g->cat_start[c + 1] - s;

		if (n > 0)
			return g->cat_items[s + alias_draw(g->c_prob + s, g->c_alias + s, n, v)];
		/* an empty favourite category falls back to global popularity */
	}
	return alias_draw(g->g_prob, g->g_alias, g->p.items, v);
}

bool
synth_gen_next(SynthGen *g, SynthRow *row)
{
	int32_t		idx;
	int32_t		attempts;
	double		truth;
	double		rating;
	double		rate;
	int64_t		created;

	while (g->left == 0)
	{
		if (g->user >= g->p.users)
			return false;
		if (g->check)
			g->check();
		start_user(g, g->user + 1);
	}

	/*
	 * Redraw duplicates.  A user who keeps drawing items already seen has
	 * used up most of what the mixture offers (a heavy user, or a dense
	 * request); take the next unseen item at a per-user cursor instead.
	 * The cursor starts at a random item and only moves forward, so the
	 * probing costs O(items) per user in total however dense the request,
	 * and it always ends because count <= items.  Once a user has needed
	 * it, give up on redraws sooner.
	 */
	for (attempts = 0;; attempts++)
	{
		idx = draw_item(g);
		if (seen_add(g, idx + 1))
			break;
		if (attempts >= g->reject_limit)
		{
			if (g->cursor < 0)
			{
				Rng			r;

				rng_init(&r, g->p.seed, TAG_USER_CURSOR, (uint64_t) g->user);
				g->cursor = (int32_t) (rng_uniform(&r) * g->p.items);
			}
			idx = g->cursor;
			while (!seen_add(g, idx + 1))
				idx = (idx + 1 == g->p.items) ? 0 : idx + 1;
			g->cursor = (idx + 1 == g->p.items) ? 0 : idx + 1;
			g->reject_limit = 4;
			break;
		}
	}
	g->left--;

	truth = SYNTH_MU + g->pref.bias + g->ibias[idx] +
		dot(g->uvec, g->ivec + (size_t) idx * g->p.factors, g->p.factors);
	rating = truth + g->noise_sd * rng_normal(&g->draws);
	if (rating < 1.0)
		rating = 1.0;
	else if (rating > 5.0)
		rating = 5.0;

	rate = exp(SYNTH_CLICK_BASE + (truth - SYNTH_MU));
	if (rate > SYNTH_CLICK_MAX_RATE)
		rate = SYNTH_CLICK_MAX_RATE;

	created = g->created[idx];

	row->user_id = g->user;
	row->item_id = idx + 1;
	row->rating = (float) rating;
	row->clicks = 1 + rng_poisson(&g->draws, rate);
	row->ts = created + (int64_t) (rng_uniform(&g->draws) * (double) (SYNTH_T_END - created));
	row->truth = truth;
	return true;
}
