/*-------------------------------------------------------------------------
 *
 * generator_preset.c
 *	  Presets of the synthetic data generator: rating data whose marginals
 *	  follow a published data set, with a planted model under them.
 *
 * What a preset plants (doc/generator.md has the numbers):
 *	- how many ratings each user gives: min_per_user plus a lognormal
 *	  share of the rest, at most max_per_user, summing exactly to
 *	  interactions (largest remainder);
 *	- how many ratings each item gets: a fixed curve over the popularity
 *	  rank (item_id 1 is the most rated), log-linear between knots, at
 *	  least 1, summing exactly to interactions;
 *	- who rates what: each item draws its raters without replacement with
 *	  probability proportional to each user's ratings still unassigned
 *	  times exp(selection * p_u.q_i / lowrank_sd): a random bipartite
 *	  graph with those degrees, in which users rate more often what they
 *	  like, as on real data (which items a user rated says something of
 *	  their taste, what implicit-feedback models and SVD++ learn from);
 *	- a latent score z = b_u + b_i + p_u.q_i + e, Gaussian biases (the
 *	  item's correlated with its popularity), rank-k Gaussian factors and
 *	  Gaussian noise;
 *	- stars: z cut at its own quantiles, so the shares of 1..5 stars are
 *	  those of the preset to the row.
 *
 * Determinism: every random quantity comes from a stream keyed by
 * (seed, purpose, id) (src/core/rng.h); the rows depend on the seed only.
 *
 *-------------------------------------------------------------------------
 */
#include "generator_preset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* Purpose tags of the preset's streams (distinct from generator.c's). */
#define TAG_P_ACTIVITY	101
#define TAG_P_USER		102
#define TAG_P_ITEM		103
#define TAG_P_DRAWS		104
#define TAG_P_NOISE		105

/*
 * MovieLens-100k's published statistics: 943 users, 1682 items, 100,000
 * ratings, every user >= 20 ratings (the most active 737), the most rated
 * item 583 ratings, the tenth 429, the median item 27, 141 items with one
 * rating; stars 6.1 / 11.4 / 27.1 / 34.2 / 21.2%.  The latent variances
 * were calibrated so that on 5 folds a bias-only model reaches an RMSE of
 * about 0.94 and a tuned matrix factorisation about 0.91, as reported on
 * the real data (test/bench/preset_accuracy.sql measures them), with
 * users choosing what they rate by taste (selection 1: odds e^1 for a
 * pair one standard deviation of p_u.q_i above the mean), which lets
 * implicit models beat popularity on it as they do on the real data
 * (test/bench/implicit_accuracy.sql).
 */
static const SynthPreset presets[] = {
	{
		.name = "movielens",
		.users = 943,
		.items = 1682,
		.interactions = 100000,
		.categories = 10,
		.min_per_user = 20,
		.max_per_user = 737,
		.activity_sd = 1.0,
		.knots = {
			{1.0, 583.0}, {10.0, 429.0}, {168.0, 0.0},
			{841.5, 27.5}, {1541.5, 1.5}, {1682.0, 1.0}
		},
		.shares = {0.061, 0.114, 0.271, 0.342, 0.212},
		.user_bias_sd = 0.465,
		.item_bias_sd = 0.515,
		.popularity_corr = 0.4,
		.rank = 10,
		.lowrank_sd = 0.6,
		.decay = 0.7,
		.noise_sd = 0.81,
		.selection = 1.0,
	},
};

const char *const synth_preset_names = "'movielens'";

const SynthPreset *
synth_preset_find(const char *name)
{
	size_t		i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(name, presets[i].name) == 0)
			return &presets[i];
	return NULL;
}

struct SynthPresetGen
{
	int64_t		nrows;
	int64_t		next;			/* next row to hand out */
	int32_t    *row_user;		/* 1-based ids, rows grouped by user */
	int32_t    *row_item;
	double	   *row_z;			/* latent score */
	double	   *row_truth;		/* latent score without the noise */
	int32_t    *row_clicks;
	int64_t    *row_ts;
	int32_t    *item_count;		/* target ratings per item */
	double		cut[SYNTH_PRESET_STARS - 1];	/* star cut points of z */
};

static void
rng_for(RsRng *r, uint64_t seed, uint64_t tag, uint64_t id)
{
	rs_rng_init(r, seed, (tag << 32) ^ id);
}

/* ----------------------------------------------------------------
 * Ratings per user and per item
 * ----------------------------------------------------------------
 */

typedef struct Frac
{
	double		frac;
	int32_t		idx;
} Frac;

/* Largest fraction first; ties by index, so the result is reproducible. */
static int
frac_cmp(const void *a, const void *b)
{
	const Frac *x = a;
	const Frac *y = b;

	if (x->frac != y->frac)
		return x->frac > y->frac ? -1 : 1;
	return x->idx - y->idx;
}

/*
 * Round the shares v[0..n) to integers in [lo, hi] that sum to total, by
 * largest remainder (the shares sum to total and lie in [lo, hi]).
 */
static void
round_shares(const double *v, int32_t n, int64_t total, int32_t lo, int32_t hi,
			 int32_t *out, Frac *fr)
{
	int64_t		sum = 0;
	int32_t		i;

	for (i = 0; i < n; i++)
	{
		double		f = floor(v[i]);

		out[i] = f < lo ? lo : (f > hi ? hi : (int32_t) f);
		sum += out[i];
		fr[i].frac = v[i] - out[i];
		fr[i].idx = i;
	}
	qsort(fr, n, sizeof(Frac), frac_cmp);

	/*
	 * Add to the largest remainders, take from the smallest; a pass that
	 * changes nothing ends the loop (only possible if the shares broke
	 * their bounds).
	 */
	while (sum != total)
	{
		int64_t		before = sum;

		for (i = 0; i < n && sum < total; i++)
			if (out[fr[i].idx] < hi)
			{
				out[fr[i].idx]++;
				sum++;
			}
		for (i = n - 1; i >= 0 && sum > total; i--)
			if (out[fr[i].idx] > lo)
			{
				out[fr[i].idx]--;
				sum--;
			}
		if (sum == before)
			break;
	}
}

/*
 * Ratings per user: min_per_user each, the rest in proportion to
 * exp(N(0, activity_sd^2)), nobody over max_per_user (users whose share
 * would pass it are capped and the rest re-shared).
 */
static void
user_counts(const SynthPreset *ps, uint64_t seed, int32_t *out,
			SynthAllocFn alloc, void *ctx)
{
	int32_t		U = ps->users;
	double	   *w = alloc(ctx, sizeof(double) * U);
	double	   *share = alloc(ctx, sizeof(double) * U);
	Frac	   *fr = alloc(ctx, sizeof(Frac) * U);
	double		room = ps->max_per_user - ps->min_per_user;
	double		rest = (double) (ps->interactions - (int64_t) ps->min_per_user * U);
	int32_t		u;
	bool		changed;

	for (u = 0; u < U; u++)
	{
		RsRng		r;

		rng_for(&r, seed, TAG_P_ACTIVITY, (uint64_t) u + 1);
		w[u] = exp(ps->activity_sd * rs_rng_normal(&r));
		share[u] = -1.0;		/* not capped */
	}
	do
	{
		double		wsum = 0.0;

		changed = false;
		for (u = 0; u < U; u++)
			if (share[u] < 0)
				wsum += w[u];
		for (u = 0; u < U; u++)
			if (share[u] < 0 && rest * w[u] / wsum >= room)
			{
				share[u] = room;
				rest -= room;
				changed = true;
			}
	} while (changed);
	{
		double		wsum = 0.0;

		for (u = 0; u < U; u++)
			if (share[u] < 0)
				wsum += w[u];
		for (u = 0; u < U; u++)
			if (share[u] < 0)
				share[u] = rest * w[u] / wsum;
		for (u = 0; u < U; u++)
			share[u] += ps->min_per_user;
	}
	round_shares(share, U, ps->interactions, ps->min_per_user,
				 ps->max_per_user, out, fr);
}

/* log count of the popularity curve at rank r, with the free knot at lv */
static double
curve_log(const SynthPreset *ps, double lv, double r)
{
	int			k;

	for (k = 0; k < SYNTH_PRESET_KNOTS - 1; k++)
	{
		const SynthPresetKnot *a = &ps->knots[k];
		const SynthPresetKnot *b = &ps->knots[k + 1];

		if (r <= b->rank || k == SYNTH_PRESET_KNOTS - 2)
		{
			double		la = a->count > 0 ? log(a->count) : lv;
			double		lb = b->count > 0 ? log(b->count) : lv;
			double		t = (r - a->rank) / (b->rank - a->rank);

			if (t < 0)
				t = 0;
			if (t > 1)
				t = 1;
			return la + t * (lb - la);
		}
	}
	return lv;					/* not reached */
}

/*
 * Ratings per item: the curve, its free knot solved by bisection so the
 * curve sums to interactions, then rounded (at least 1 each).
 */
static void
item_counts(const SynthPreset *ps, int32_t *out, SynthAllocFn alloc, void *ctx)
{
	int32_t		I = ps->items;
	double	   *v = alloc(ctx, sizeof(double) * I);
	Frac	   *fr = alloc(ctx, sizeof(Frac) * I);
	double		lo = 0.0;
	double		hi = log((double) ps->interactions);
	int			iter;
	int32_t		i;

	for (iter = 0; iter < 100; iter++)
	{
		double		mid = 0.5 * (lo + hi);
		double		sum = 0.0;

		for (i = 0; i < I; i++)
			sum += exp(curve_log(ps, mid, i + 1.0));
		if (sum < (double) ps->interactions)
			lo = mid;
		else
			hi = mid;
	}
	for (i = 0; i < I; i++)
		v[i] = exp(curve_log(ps, 0.5 * (lo + hi), i + 1.0));
	round_shares(v, I, ps->interactions, 1, ps->users, out, fr);
}

/* ----------------------------------------------------------------
 * Who rates what: draws weighted by the ratings a user has left and by
 * the user's taste for the item
 * ----------------------------------------------------------------
 */

/* Fenwick tree of the users' weights for one item (1-based internally). */
typedef struct Fenwick
{
	double	   *t;
	int32_t		n;
	int32_t		top;			/* highest power of two <= n */
} Fenwick;

/* Builds the tree over w[0..n) in O(n). */
static void
fen_build(Fenwick *f, const double *w)
{
	int32_t		i;

	for (i = 1; i <= f->n; i++)
		f->t[i] = w[i - 1];
	for (i = 1; i <= f->n; i++)
	{
		int32_t		up = i + (i & -i);

		if (up <= f->n)
			f->t[up] += f->t[i];
	}
}

static void
fen_add(Fenwick *f, int32_t i, double delta)
{
	for (i++; i <= f->n; i += i & -i)
		f->t[i] += delta;
}

/* The index whose prefix range holds x (0 <= x < total), or n past it. */
static int32_t
fen_find(const Fenwick *f, double x)
{
	int32_t		pos = 0;
	int32_t		step;

	for (step = f->top; step > 0; step >>= 1)
		if (pos + step <= f->n && f->t[pos + step] <= x)
		{
			pos += step;
			x -= f->t[pos];
		}
	return pos;					/* 0-based */
}

static double
fen_total(const Fenwick *f)
{
	double		s = 0;
	int32_t		i;

	for (i = f->n; i > 0; i -= i & -i)
		s += f->t[i];
	return s;
}

/* ----------------------------------------------------------------
 * The generator
 * ----------------------------------------------------------------
 */

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Who rates what.  Items in order of popularity each pick their raters
 * without replacement, with probability proportional to the ratings each
 * user has still to give times exp(selection * p_u.q_i / lowrank_sd):
 * a random bipartite graph with the planted degrees on both sides, in
 * which a user is likelier to rate what they would rate high.  (Drawing
 * items for users instead loses the most popular items' ratings: a heavy
 * user can take an item only once.)  An item that finds fewer raters
 * with ratings left than it needs (not seen with the presets' sizes)
 * takes any user, one rating over that user's count.  Fills rows_of[]
 * (row count per user) and item_users (the raters of item 0, then of
 * item 1, ...).
 */
static void
assign_raters(const SynthPreset *ps, uint64_t seed, const int32_t *ucount,
			  const int32_t *icount, const float *pvec, const float *qvec,
			  int32_t *item_users, int32_t *rows_of,
			  SynthAllocFn alloc, void *ctx, SynthCheckFn check)
{
	int32_t		U = ps->users;
	int32_t		I = ps->items;
	int32_t		k = ps->rank;
	int64_t    *left = alloc(ctx, sizeof(int64_t) * U);
	bool	   *taken = alloc(ctx, sizeof(bool) * U);
	double	   *w = alloc(ctx, sizeof(double) * U);
	double		scale = ps->lowrank_sd > 0 ? ps->selection / ps->lowrank_sd : 0.0;
	Fenwick		fen;
	int64_t		pos = 0;
	int32_t		u;
	int32_t		i;

	fen.n = U;
	fen.t = alloc(ctx, sizeof(double) * (U + 1));
	for (fen.top = 1; fen.top * 2 <= U; fen.top *= 2)
		;
	for (u = 0; u < U; u++)
	{
		left[u] = ucount[u];
		taken[u] = false;
		rows_of[u] = 0;
	}

	for (i = 0; i < I; i++)
	{
		RsRng		r;
		int64_t		first = pos;
		int64_t		j;
		const float *q = qvec + (size_t) i * k;

		if (check && (i & 63) == 0)
			check();
		for (u = 0; u < U; u++)
		{
			double		taste = 0.0;
			int32_t		f;

			for (f = 0; f < k; f++)
				taste += (double) pvec[(size_t) u * k + f] * q[f];
			w[u] = left[u] > 0 ? (double) left[u] * exp(scale * taste) : 0.0;
		}
		fen_build(&fen, w);
		rng_for(&r, seed, TAG_P_DRAWS, (uint64_t) i + 1);
		for (j = 0; j < icount[i]; j++)
		{
			double		total = fen_total(&fen);

			u = -1;
			if (total > 0)
			{
				u = fen_find(&fen, rs_rng_uniform(&r) * total);
				/* rounding at the very end of the range: the last with weight */
				if (u >= U || w[u] <= 0.0)
					for (u = U - 1; u >= 0 && w[u] <= 0.0; u--)
						;
			}
			if (u >= 0)
			{
				/* out of this item's draws until the item is done */
				fen_add(&fen, u, -w[u]);
				w[u] = 0.0;
			}
			else
			{
				do
					u = (int32_t) rs_rng_below(&r, (uint32_t) U);
				while (taken[u]);
			}
			taken[u] = true;
			item_users[pos++] = u;
			rows_of[u]++;
		}
		/* the raters go back with one rating fewer each */
		for (j = first; j < pos; j++)
		{
			u = item_users[j];
			taken[u] = false;
			if (left[u] > 0)
				left[u]--;
		}
	}
}

SynthPresetGen *
synth_preset_create(const SynthPreset *ps, uint64_t seed, SynthAllocFn alloc,
					void *ctx, SynthCheckFn check)
{
	SynthPresetGen *g = alloc(ctx, sizeof(SynthPresetGen));
	int32_t		U = ps->users;
	int32_t		I = ps->items;
	int32_t		k = ps->rank;
	int64_t		N = ps->interactions;
	int32_t    *ucount = alloc(ctx, sizeof(int32_t) * U);
	int32_t    *rows_of = alloc(ctx, sizeof(int32_t) * U);
	int64_t    *start = alloc(ctx, sizeof(int64_t) * (U + 1));
	int32_t    *item_users = alloc(ctx, sizeof(int32_t) * N);
	float	   *qvec = alloc(ctx, sizeof(float) * (size_t) I * k);
	double	   *ibias = alloc(ctx, sizeof(double) * I);
	int64_t    *created = alloc(ctx, sizeof(int64_t) * I);
	float	   *pvec = alloc(ctx, sizeof(float) * (size_t) U * k);
	double	   *ubias = alloc(ctx, sizeof(double) * U);
	double	   *sorted;
	double	   *fscale = alloc(ctx, sizeof(double) * k);
	double		vsum = 0.0;
	double		rho = ps->popularity_corr;
	double		lmean = 0.0;
	double		lsd = 0.0;
	double		cum = 0.0;
	int64_t		pos;
	int64_t		row;
	int32_t		u;
	int32_t		i;
	int			s;
	int32_t		f;

	/*
	 * Factor f of p_u and q_i is N(0, fscale[f]^2): its product has
	 * variance fscale[f]^4 ~ decay^f, and they sum to lowrank_sd^2.
	 */
	for (f = 0; f < k; f++)
		vsum += pow(ps->decay, f);
	for (f = 0; f < k; f++)
		fscale[f] = pow(ps->lowrank_sd * ps->lowrank_sd * pow(ps->decay, f) / vsum, 0.25);

	memset(g, 0, sizeof(SynthPresetGen));
	g->nrows = N;
	g->item_count = alloc(ctx, sizeof(int32_t) * I);
	g->row_user = alloc(ctx, sizeof(int32_t) * N);
	g->row_item = alloc(ctx, sizeof(int32_t) * N);
	g->row_z = alloc(ctx, sizeof(double) * N);
	g->row_truth = alloc(ctx, sizeof(double) * N);
	g->row_clicks = alloc(ctx, sizeof(int32_t) * N);
	g->row_ts = alloc(ctx, sizeof(int64_t) * N);

	user_counts(ps, seed, ucount, alloc, ctx);
	item_counts(ps, g->item_count, alloc, ctx);
	/* items: bias (correlated with log popularity), factors, created_at */
	for (i = 0; i < I; i++)
		lmean += log((double) g->item_count[i]);
	lmean /= I;
	for (i = 0; i < I; i++)
	{
		double		d = log((double) g->item_count[i]) - lmean;

		lsd += d * d;
	}
	lsd = sqrt(lsd / I);
	for (i = 0; i < I; i++)
	{
		RsRng		r;
		SynthItemMeta meta;
		double		pop = lsd > 0 ? (log((double) g->item_count[i]) - lmean) / lsd : 0.0;

		rng_for(&r, seed, TAG_P_ITEM, (uint64_t) i + 1);
		ibias[i] = ps->item_bias_sd *
			(rho * pop + sqrt(1.0 - rho * rho) * rs_rng_normal(&r));
		for (f = 0; f < k; f++)
			qvec[(size_t) i * k + f] = (float) (fscale[f] * rs_rng_normal(&r));
		synth_item_meta(seed, I, ps->categories, i + 1, &meta);
		created[i] = meta.created_at;
	}

	/* users: bias and factors */
	for (u = 0; u < U; u++)
	{
		RsRng		ur;

		rng_for(&ur, seed, TAG_P_USER, (uint64_t) u + 1);
		ubias[u] = ps->user_bias_sd * rs_rng_normal(&ur);
		for (f = 0; f < k; f++)
			pvec[(size_t) u * k + f] = (float) (fscale[f] * rs_rng_normal(&ur));
	}

	assign_raters(ps, seed, ucount, g->item_count, pvec, qvec, item_users, rows_of,
				  alloc, ctx, check);

	/* rows by user, each user's items in item_id order */
	start[0] = 0;
	for (u = 0; u < U; u++)
		start[u + 1] = start[u] + rows_of[u];
	pos = 0;
	for (i = 0; i < I; i++)
	{
		int32_t		j;

		for (j = 0; j < g->item_count[i]; j++)
		{
			u = item_users[pos++];
			g->row_user[start[u]] = u + 1;
			g->row_item[start[u]] = i + 1;
			start[u]++;
		}
	}

	/* each row's score, noise, clicks, time */
	row = 0;
	for (u = 0; u < U; u++)
	{
		RsRng		nr;
		int32_t		j;
		const float *pu = pvec + (size_t) u * k;

		if (check)
			check();
		rng_for(&nr, seed, TAG_P_NOISE, (uint64_t) u + 1);

		for (j = 0; j < rows_of[u]; j++, row++)
		{
			double		truth;
			double		rate;
			double		limit;
			double		p = 1.0;
			int32_t		c = 0;

			i = g->row_item[row] - 1;
			truth = ubias[u] + ibias[i];
			for (f = 0; f < k; f++)
				truth += (double) pu[f] * qvec[(size_t) i * k + f];
			g->row_truth[row] = truth;
			g->row_z[row] = truth + ps->noise_sd * rs_rng_normal(&nr);

			/* clicks: 1 + Poisson(rate), by multiplying uniforms */
			rate = exp(0.5 + truth);
			if (rate > SYNTH_CLICK_MAX_RATE)
				rate = SYNTH_CLICK_MAX_RATE;
			limit = exp(-rate);
			while ((p *= rs_rng_uniform(&nr)) > limit)
				c++;
			g->row_clicks[row] = 1 + c;
			g->row_ts[row] = created[i] + (int64_t)
				(rs_rng_uniform(&nr) * (double) (SYNTH_T_END - created[i]));
		}
	}

	/* star cut points: the quantiles of z at the cumulative shares */
	sorted = alloc(ctx, sizeof(double) * N);
	memcpy(sorted, g->row_z, sizeof(double) * N);
	qsort(sorted, N, sizeof(double), double_cmp);
	for (s = 0; s < SYNTH_PRESET_STARS - 1; s++)
	{
		int64_t		c;

		cum += ps->shares[s];
		c = (int64_t) floor(cum * (double) N + 0.5);
		if (c < 1)
			c = 1;
		if (c > N - 1)
			c = N - 1;
		g->cut[s] = 0.5 * (sorted[c - 1] + sorted[c]);
	}
	return g;
}

bool
synth_preset_next(SynthPresetGen *g, SynthRow *row)
{
	int64_t		n = g->next;
	int			stars = 1;
	int			s;

	if (n >= g->nrows)
		return false;
	for (s = 0; s < SYNTH_PRESET_STARS - 1; s++)
		if (g->row_z[n] > g->cut[s])
			stars++;
	row->user_id = g->row_user[n];
	row->item_id = g->row_item[n];
	row->rating = (float) stars;
	row->clicks = g->row_clicks[n];
	row->ts = g->row_ts[n];
	row->truth = g->row_truth[n];
	g->next++;
	return true;
}
