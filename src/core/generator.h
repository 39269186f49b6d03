/*-------------------------------------------------------------------------
 *
 * generator.h
 *	  Pure-C core of the synthetic data generator (no PostgreSQL calls).
 *
 * The core is kept free of PostgreSQL so that it can be compiled into a
 * standalone driver to unit-test and time it; src/synth.c validates the
 * SQL arguments, supplies an allocator and an interrupt check, and turns
 * the rows into tuples.  doc/generator.md documents every constant below;
 * change them together.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNTH_CORE_H
#define SYNTH_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Demographic vocabularies (index = value stored in SynthUserDemo). */
#define SYNTH_NGENDERS		3
#define SYNTH_NAGE_BANDS	5
#define SYNTH_NREGIONS		4
#define SYNTH_NPROVIDERS	4

/* Planted-structure constants (documented in doc/generator.md). */
#define SYNTH_MU				2.5		/* intercept of the noise-free score */
#define SYNTH_BIAS_SD			0.3		/* sd of user and of item biases */
#define SYNTH_VEC_NOISE_SD		0.5		/* sd of user/item vector noise (norm) */
#define SYNTH_ACTIVITY_SD		1.0		/* lognormal sigma of user activity */
#define SYNTH_MIN_PER_USER		5		/* target minimum interactions per user */
#define SYNTH_HEAD_FRACTION		0.2		/* popularity head = top 20% of ids */
#define SYNTH_CLICK_BASE		0.5		/* log of the click rate at score = mu */
#define SYNTH_CLICK_MAX_RATE	50.0	/* cap of the Poisson click rate */
#define SYNTH_MAX_REJECTIONS	32		/* duplicate draws before a linear probe */

/*
 * Timestamps are PostgreSQL TimestampTz values (microseconds since
 * 2000-01-01 00:00 UTC), so the core needs no conversion at the SQL edge.
 */
#define SYNTH_USECS_PER_DAY		INT64_C(86400000000)
#define SYNTH_T_CATALOGUE_START	(INT64_C(7305) * SYNTH_USECS_PER_DAY)	/* 2020-01-01 */
#define SYNTH_T_CATALOGUE_END	(INT64_C(8401) * SYNTH_USECS_PER_DAY)	/* 2023-01-01 */
#define SYNTH_T_END				(INT64_C(8766) * SYNTH_USECS_PER_DAY)	/* 2024-01-01 */

/* Limits checked by the SQL layer; the core assumes them. */
#define SYNTH_MAX_CATEGORIES	10000
#define SYNTH_MAX_FACTORS		1024

typedef void *(*SynthAllocFn) (void *ctx, size_t size);
typedef void (*SynthCheckFn) (void);

typedef struct SynthParams
{
	int32_t		users;
	int32_t		items;
	int64_t		interactions;
	uint64_t	seed;
	int32_t		categories;
	int32_t		factors;
	double		sigma;			/* rating noise sd */
	int			noisy_gender;	/* index into the gender list, or -1 */
	double		noisy_sigma;	/* rating noise sd for that gender */
	double		preference;		/* share of draws led by favourite categories */
	double		zipf;			/* popularity exponent */
} SynthParams;

typedef struct SynthUserDemo
{
	int			gender;
	int			age_band;
	int			region;
} SynthUserDemo;

typedef struct SynthItemMeta
{
	int32_t		category;		/* 1-based */
	int			provider;
	bool		long_tail;
	int64_t		created_at;		/* TimestampTz */
} SynthItemMeta;

typedef struct SynthUserPref
{
	int			nfav;			/* 1 or 2 favourite categories */
	int32_t		fav[2];			/* 1-based; fav[1] = 0 when nfav = 1 */
	double		affinity[2];	/* weights of fav[0], fav[1]; sum to 1 */
	double		bias;
} SynthUserPref;

typedef struct SynthRow
{
	int32_t		user_id;
	int32_t		item_id;
	float		rating;
	int32_t		clicks;
	int64_t		ts;
	double		truth;			/* noise-free score, before clipping */
} SynthRow;

typedef struct SynthGen SynthGen;

/* vocabularies */
extern const char *const synth_gender_names[SYNTH_NGENDERS];
extern const char *const synth_age_band_names[SYNTH_NAGE_BANDS];
extern const char *const synth_region_names[SYNTH_NREGIONS];
extern const char *const synth_provider_names[SYNTH_NPROVIDERS];

/* per-entity derivations: pure functions of (seed, id, ...) */
extern void synth_user_demo(uint64_t seed, int32_t user_id, SynthUserDemo *out);
extern int32_t synth_head_size(int32_t items);
extern void synth_item_meta(uint64_t seed, int32_t items, int32_t categories,
							int32_t item_id, SynthItemMeta *out);
extern void synth_centroids(uint64_t seed, int32_t categories, int32_t factors,
							float *out);
extern void synth_user_pref(uint64_t seed, int32_t categories, int32_t factors,
							const float *centroids, int32_t user_id,
							SynthUserPref *out, float *vec);
extern double synth_item_latent(uint64_t seed, int32_t factors,
								const float *centroid, int32_t item_id,
								float *vec);
extern double synth_truth(uint64_t seed, int32_t categories, int32_t factors,
						  int32_t user_id, int32_t item_id, float *scratch);

/* the interaction stream */
extern SynthGen *synth_gen_create(const SynthParams *p, SynthAllocFn alloc,
								  void *alloc_ctx, SynthCheckFn check);
extern bool synth_gen_next(SynthGen *g, SynthRow *row);
extern int32_t synth_gen_min_per_user(const SynthGen *g);

#endif							/* SYNTH_CORE_H */
