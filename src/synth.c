/*-------------------------------------------------------------------------
 *
 * synth.c
 *	  SQL-callable synthetic data generator: recsys.synth_users,
 *	  synth_items, synth_interactions, synth_user_profile, synth_truth,
 *	  and the presets' synth_preset and synth_preset_interactions.
 *
 * This file is only the SQL edge: it checks arguments (every bad value is
 * an ERROR with a hint, before any work is done), keeps the generator in
 * the SRF's multi-call memory context, and turns rows into tuples one per
 * call (ValuePerCall), so 20M rows never sit in memory at once on our
 * side.  The data itself comes from core/generator.c; doc/generator.md
 * documents what it plants.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include <math.h>

/*
 * funcapi.h pulls in lib/ilist.h, whose inline list walkers leave a
 * parameter unused; the build uses -Wextra -Werror, so silence that one
 * warning for PostgreSQL's headers only, not for our code.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#pragma GCC diagnostic pop

#include "core/generator.h"
#include "core/generator_preset.h"

PG_FUNCTION_INFO_V1(recsys_synth_users);
PG_FUNCTION_INFO_V1(recsys_synth_items);
PG_FUNCTION_INFO_V1(recsys_synth_interactions);
PG_FUNCTION_INFO_V1(recsys_synth_user_profile);
PG_FUNCTION_INFO_V1(recsys_synth_truth);
PG_FUNCTION_INFO_V1(recsys_synth_preset);
PG_FUNCTION_INFO_V1(recsys_synth_preset_interactions);

/* ----------------------------------------------------------------
 * Argument checks
 * ----------------------------------------------------------------
 */

static void
check_count(const char *name, int64 value)
{
	if (value <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", name),
				 errdetail("%s is " INT64_FORMAT ".", name, value),
				 errhint("Ask for at least one.")));
}

static void
check_categories(int32 categories)
{
	if (categories < 1 || categories > SYNTH_MAX_CATEGORIES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("categories must be between 1 and %d", SYNTH_MAX_CATEGORIES),
				 errdetail("categories is %d.", categories)));
}

static void
check_factors(int32 factors)
{
	if (factors < 1 || factors > SYNTH_MAX_FACTORS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factors must be between 1 and %d", SYNTH_MAX_FACTORS),
				 errdetail("factors is %d.", factors)));
}

static void
check_real(const char *name, float4 value, double lo, double hi)
{
	if (isnan(value) || value < lo || value > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a number between %g and %g", name, lo, hi),
				 errdetail("%s is %g.", name, (double) value)));
}

static int
parse_gender(text *t)
{
	char	   *s = text_to_cstring(t);
	int			g;

	for (g = 0; g < SYNTH_NGENDERS; g++)
		if (strcmp(s, synth_gender_names[g]) == 0)
			return g;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown noisy_gender \"%s\"", s),
			 errhint("Use 'F', 'M', 'X', or NULL for no noisy group.")));
	return -1;					/* keep the compiler quiet */
}

static void
synth_check_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * The core allocates through this; everything lives as long as the SRF.
 * Its tables grow with users and items x factors, so huge arguments are
 * refused within recsys.memory_limit instead of exhausting the machine.
 */
static void *
synth_alloc(void *ctx, size_t size)
{
	rs_check_memory_of((MemoryContext) ctx, size, "the generator",
					   "Generate fewer users or items, or raise recsys.memory_limit.");
	return MemoryContextAllocHuge((MemoryContext) ctx, size);
}

/* Build the result descriptor in the multi-call context. */
static TupleDesc
result_desc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	return BlessTupleDesc(desc);
}

/*
 * The first call of an SRF: its multi-call context (switched to; the
 * caller switches back to *old), its result descriptor and its row count.
 */
static FuncCallContext *
srf_begin(FunctionCallInfo fcinfo, uint64 max_calls, MemoryContext *old)
{
	FuncCallContext *funcctx = SRF_FIRSTCALL_INIT();

	*old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
	funcctx->tuple_desc = result_desc(fcinfo);
	funcctx->max_calls = max_calls;
	return funcctx;
}

#define SRF_MAX_COLUMNS 5

/* Fills the row of id (1 to max_calls) from the SRF's state. */
typedef void (*RowFill) (void *state, int32 id, Datum *values, bool *nulls);

/*
 * The next row of an SRF that returns one row per id from 1 to max_calls
 * (set by srf_begin), filled by fill; nulls start all false.
 */
static Datum
next_row_by_id(FunctionCallInfo fcinfo, RowFill fill)
{
	FuncCallContext *funcctx = SRF_PERCALL_SETUP();

	if (funcctx->call_cntr < funcctx->max_calls)
	{
		Datum		values[SRF_MAX_COLUMNS];
		bool		nulls[SRF_MAX_COLUMNS] = {false, false, false, false, false};

		Assert(funcctx->tuple_desc->natts <= SRF_MAX_COLUMNS);
		fill(funcctx->user_fctx, (int32) funcctx->call_cntr + 1, values, nulls);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/* The arguments (count, seed[, categories]) of an SRF with one row per id. */
typedef struct IdArgs
{
	uint64		seed;
	int32		count;			/* ids 1 to count */
	int32		categories;		/* 0 for an SRF without them */
} IdArgs;

/*
 * The first call of an SRF with one row per id whose arguments are (count,
 * seed[, categories]): checks them (count named what), then srf_begin, and
 * returns the SRF's state of size bytes (IdArgs first, filled in, the rest
 * zero), allocated in the multi-call context that is current until the
 * caller switches back to *old.
 */
static void *
id_srf_begin(FunctionCallInfo fcinfo, const char *what, bool with_categories,
			 Size size, MemoryContext *old)
{
	int32		count = PG_GETARG_INT32(0);
	int32		categories = with_categories ? PG_GETARG_INT32(2) : 0;
	FuncCallContext *funcctx;
	IdArgs	   *args;

	check_count(what, count);
	if (with_categories)
		check_categories(categories);
	funcctx = srf_begin(fcinfo, count, old);
	args = palloc0(size);
	args->seed = (uint64) PG_GETARG_INT64(1);
	args->count = count;
	args->categories = categories;
	funcctx->user_fctx = args;
	return args;
}

/* Text datums of a vocabulary, made once so rows don't palloc them. */
static Datum *
vocabulary(const char *const *names, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(names[i]);
	return d;
}

/* ----------------------------------------------------------------
 * synth_users(users, seed)
 * ----------------------------------------------------------------
 */

typedef struct UsersState
{
	IdArgs		a;				/* must be first */
	Datum	   *gender;
	Datum	   *age_band;
	Datum	   *region;
} UsersState;

static void
users_row(void *state, int32 id, Datum *values, bool *nulls)
{
	UsersState *st = state;
	SynthUserDemo demo;

	(void) nulls;				/* no column is ever NULL */
	synth_user_demo(st->a.seed, id, &demo);
	values[0] = Int32GetDatum(id);
	values[1] = st->gender[demo.gender];
	values[2] = st->age_band[demo.age_band];
	values[3] = st->region[demo.region];
}

Datum
recsys_synth_users(PG_FUNCTION_ARGS)
{
	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		UsersState *st = id_srf_begin(fcinfo, "users", false,
									  sizeof(UsersState), &old);

		st->gender = vocabulary(synth_gender_names, SYNTH_NGENDERS);
		st->age_band = vocabulary(synth_age_band_names, SYNTH_NAGE_BANDS);
		st->region = vocabulary(synth_region_names, SYNTH_NREGIONS);
		MemoryContextSwitchTo(old);
	}
	return next_row_by_id(fcinfo, users_row);
}

/* ----------------------------------------------------------------
 * synth_items(items, seed, categories)
 * ----------------------------------------------------------------
 */

typedef struct ItemsState
{
	IdArgs		a;				/* must be first */
	Datum	   *provider;
} ItemsState;

static void
items_row(void *state, int32 id, Datum *values, bool *nulls)
{
	ItemsState *st = state;
	SynthItemMeta meta;

	(void) nulls;				/* no column is ever NULL */
	synth_item_meta(st->a.seed, st->a.count, st->a.categories, id, &meta);
	values[0] = Int32GetDatum(id);
	values[1] = Int32GetDatum(meta.category);
	values[2] = st->provider[meta.provider];
	values[3] = BoolGetDatum(meta.long_tail);
	values[4] = TimestampTzGetDatum((TimestampTz) meta.created_at);
}

Datum
recsys_synth_items(PG_FUNCTION_ARGS)
{
	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		ItemsState *st = id_srf_begin(fcinfo, "items", true,
									  sizeof(ItemsState), &old);

		st->provider = vocabulary(synth_provider_names, SYNTH_NPROVIDERS);
		MemoryContextSwitchTo(old);
	}
	return next_row_by_id(fcinfo, items_row);
}

/* ----------------------------------------------------------------
 * synth_interactions(users, items, interactions, seed, categories,
 *					  factors, sigma, noisy_gender, noisy_sigma,
 *					  preference, zipf)
 * ----------------------------------------------------------------
 */

static const char *const interaction_args[] = {
	"users", "items", "interactions", "seed", "categories", "factors",
	"sigma", "noisy_gender", "noisy_sigma", "preference", "zipf"
};

Datum
recsys_synth_interactions(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	SynthRow	row;

	if (SRF_IS_FIRSTCALL())
	{
		SynthParams p;
		MemoryContext old;
		int			i;

		/* Not STRICT because noisy_gender may be NULL; nothing else may. */
		for (i = 0; i < PG_NARGS(); i++)
			if (i != 7 && PG_ARGISNULL(i))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("%s must not be null",
								i < (int) lengthof(interaction_args) ? interaction_args[i] : "argument")));

		p.users = PG_GETARG_INT32(0);
		p.items = PG_GETARG_INT32(1);
		p.interactions = PG_GETARG_INT64(2);
		p.seed = (uint64) PG_GETARG_INT64(3);
		p.categories = PG_GETARG_INT32(4);
		p.factors = PG_GETARG_INT32(5);
		p.sigma = PG_GETARG_FLOAT4(6);
		p.noisy_gender = PG_ARGISNULL(7) ? -1 : parse_gender(PG_GETARG_TEXT_PP(7));
		p.noisy_sigma = PG_GETARG_FLOAT4(8);
		p.preference = PG_GETARG_FLOAT4(9);
		p.zipf = PG_GETARG_FLOAT4(10);

		check_count("users", p.users);
		check_count("items", p.items);
		check_count("interactions", p.interactions);
		check_categories(p.categories);
		check_factors(p.factors);
		check_real("sigma", PG_GETARG_FLOAT4(6), 0.0, 10.0);
		check_real("noisy_sigma", PG_GETARG_FLOAT4(8), 0.0, 10.0);
		check_real("preference", PG_GETARG_FLOAT4(9), 0.0, 1.0);
		check_real("zipf", PG_GETARG_FLOAT4(10), 0.0, 4.0);
		if (p.interactions > (int64) p.users * p.items)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("interactions must not exceed users * items"),
					 errdetail("Asked for " INT64_FORMAT " interactions, but %d users and %d items allow at most " INT64_FORMAT " distinct (user, item) pairs.",
							   p.interactions, p.users, p.items,
							   (int64) p.users * p.items),
					 errhint("Lower interactions or raise users or items.")));

		funcctx = srf_begin(fcinfo, 0, &old);
		funcctx->user_fctx = synth_gen_create(&p, synth_alloc,
											  funcctx->multi_call_memory_ctx,
											  synth_check_interrupts);
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	if (synth_gen_next((SynthGen *) funcctx->user_fctx, &row))
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		/* heap_form_tuple runs in the per-call context the caller resets */
		values[0] = Int32GetDatum(row.user_id);
		values[1] = Int32GetDatum(row.item_id);
		values[2] = Float4GetDatum(row.rating);
		values[3] = Int32GetDatum(row.clicks);
		values[4] = TimestampTzGetDatum((TimestampTz) row.ts);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/* ----------------------------------------------------------------
 * synth_user_profile(users, seed, categories): the planted tastes
 * ----------------------------------------------------------------
 */

typedef struct ProfileState
{
	IdArgs		a;				/* must be first */
	float	   *centroids;		/* one factor: only tastes are returned */
	float		vec[1];
} ProfileState;

static void
profile_row(void *state, int32 id, Datum *values, bool *nulls)
{
	ProfileState *st = state;
	SynthUserPref pref;

	synth_user_pref(st->a.seed, st->a.categories, 1, st->centroids, id,
					&pref, st->vec);
	values[0] = Int32GetDatum(id);
	values[1] = Int32GetDatum(pref.fav[0]);
	values[2] = Int32GetDatum(pref.fav[1]);
	nulls[2] = (pref.nfav < 2);
	values[3] = Float4GetDatum((float4) pref.affinity[0]);
	values[4] = Float4GetDatum((float4) pref.bias);
}

Datum
recsys_synth_user_profile(PG_FUNCTION_ARGS)
{
	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		ProfileState *st = id_srf_begin(fcinfo, "users", true,
										sizeof(ProfileState), &old);

		/*
		 * Favourites, affinities and bias are drawn before the vector, so
		 * they do not depend on factors; one factor is enough to get them.
		 */
		st->centroids = palloc(sizeof(float) * st->a.categories);
		synth_centroids(st->a.seed, st->a.categories, 1, st->centroids);
		MemoryContextSwitchTo(old);
	}
	return next_row_by_id(fcinfo, profile_row);
}

/* ----------------------------------------------------------------
 * synth_truth(user_id, item_id, seed, categories, factors)
 * ----------------------------------------------------------------
 */

Datum
recsys_synth_truth(PG_FUNCTION_ARGS)
{
	int32		user_id = PG_GETARG_INT32(0);
	int32		item_id = PG_GETARG_INT32(1);
	uint64		seed = (uint64) PG_GETARG_INT64(2);
	int32		categories = PG_GETARG_INT32(3);
	int32		factors = PG_GETARG_INT32(4);
	float	   *scratch;
	double		truth;

	check_count("user_id", user_id);
	check_count("item_id", item_id);
	check_categories(categories);
	check_factors(factors);

	scratch = palloc(sizeof(float) * (size_t) (categories + 2) * factors);
	truth = synth_truth(seed, categories, factors, user_id, item_id, scratch);
	pfree(scratch);
	PG_RETURN_FLOAT8(truth);
}

/* ----------------------------------------------------------------
 * synth_preset(preset) and synth_preset_interactions(preset, seed)
 * ----------------------------------------------------------------
 */

static const SynthPreset *
lookup_preset(text *t)
{
	char	   *s = text_to_cstring(t);
	const SynthPreset *ps = synth_preset_find(s);

	if (ps == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown preset \"%s\"", s),
				 errhint("Use preset => %s, or leave preset out.",
						 synth_preset_names)));
	return ps;
}

/* The sizes a preset fixes: (users, items, interactions, categories). */
Datum
recsys_synth_preset(PG_FUNCTION_ARGS)
{
	const SynthPreset *ps = lookup_preset(PG_GETARG_TEXT_PP(0));
	TupleDesc	desc = result_desc(fcinfo);
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = Int32GetDatum(ps->users);
	values[1] = Int32GetDatum(ps->items);
	values[2] = Int64GetDatum(ps->interactions);
	values[3] = Int32GetDatum(ps->categories);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

Datum
recsys_synth_preset_interactions(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	SynthRow	row;

	if (SRF_IS_FIRSTCALL())
	{
		const SynthPreset *ps = lookup_preset(PG_GETARG_TEXT_PP(0));
		uint64		seed = (uint64) PG_GETARG_INT64(1);
		MemoryContext old;

		funcctx = srf_begin(fcinfo, 0, &old);
		funcctx->user_fctx = synth_preset_create(ps, seed, synth_alloc,
												 funcctx->multi_call_memory_ctx,
												 synth_check_interrupts);
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	if (synth_preset_next((SynthPresetGen *) funcctx->user_fctx, &row))
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = Int32GetDatum(row.user_id);
		values[1] = Int32GetDatum(row.item_id);
		values[2] = Float4GetDatum(row.rating);
		values[3] = Int32GetDatum(row.clicks);
		values[4] = TimestampTzGetDatum((TimestampTz) row.ts);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}
