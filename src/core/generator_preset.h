/*-------------------------------------------------------------------------
 *
 * generator_preset.h
 *	  Presets of the synthetic data generator: data sets whose marginals
 *	  follow a published data set (pure C, no PostgreSQL calls).
 *
 * A preset fixes the sizes, how many ratings each user and each item
 * gets, and a latent model mapped to 1-5 stars; only the seed varies.
 * doc/generator.md ("The movielens preset") documents the numbers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_PRESET_H
#define SYNTH_PRESET_H

#include "generator.h"

/* The number of star values (1 to SYNTH_PRESET_STARS). */
#define SYNTH_PRESET_STARS		5

/* A piecewise log-linear knot of the item popularity curve. */
typedef struct SynthPresetKnot
{
	double		rank;			/* 1-based popularity rank (fractional) */
	double		count;			/* ratings of the item at that rank; 0: solved */
} SynthPresetKnot;

#define SYNTH_PRESET_KNOTS		6

typedef struct SynthPreset
{
	const char *name;
	int32_t		users;
	int32_t		items;
	int64_t		interactions;
	int32_t		categories;		/* for the items' created_at (synth_items) */

	/* how many ratings each user gives */
	int32_t		min_per_user;
	int32_t		max_per_user;
	double		activity_sd;	/* lognormal sigma of the extra ratings */

	/*
	 * How many ratings each item gets: log-linear between knots over the
	 * popularity rank; the knot of count 0 is solved so that the counts
	 * sum to interactions.
	 */
	SynthPresetKnot knots[SYNTH_PRESET_KNOTS];

	/* shares of 1, 2, ..., 5 stars (sum 1) */
	double		shares[SYNTH_PRESET_STARS];

	/* the latent score b_u + b_i + p_u.q_i + noise */
	double		user_bias_sd;
	double		item_bias_sd;
	double		popularity_corr;	/* corr(b_i, log of the item's count) */
	int32_t		rank;			/* dimension of p_u, q_i */
	double		lowrank_sd;		/* sd of p_u.q_i */
	double		decay;			/* factor f's share of it ~ decay^f */
	double		noise_sd;

	/*
	 * Who rates what follows taste: item i draws user u with odds
	 * exp(selection * p_u.q_i / lowrank_sd) beside the user's ratings
	 * left (0: by the degrees alone)
	 */
	double		selection;
} SynthPreset;

typedef struct SynthPresetGen SynthPresetGen;

/* The preset named name, or NULL; names lists them for a hint. */
extern const SynthPreset *synth_preset_find(const char *name);
extern const char *const synth_preset_names;

/*
 * All rows are made at creation (the star cut points are quantiles of
 * every latent score), then handed out by user_id, each user's rows in
 * item_id order.  row->truth is the noise-free latent score b_u + b_i + p.q.
 */
extern SynthPresetGen *synth_preset_create(const SynthPreset *ps, uint64_t seed,
										   SynthAllocFn alloc, void *alloc_ctx,
										   SynthCheckFn check);
extern bool synth_preset_next(SynthPresetGen *g, SynthRow *row);

#endif							/* SYNTH_PRESET_H */
