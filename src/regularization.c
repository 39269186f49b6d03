/*-------------------------------------------------------------------------
 *
 * regularization.c
 *	  als, svd and svdpp without option "regularization": the penalty on factors is
 *	  chosen on held-out ratings of the training data before the model is
 *	  trained.
 *
 * The right penalty depends on how noisy the ratings are: on generated
 * data with little noise the best is about 0.05-0.08, on ratings as noisy
 * as real ones (the generator's movielens preset) about 0.12-0.15, and
 * each costs the other 3-7% RMSE (doc/training.md, "als and svd:
 * regularization chosen on held-out ratings").  So it is measured: a
 * tenth of the ratings is held out (core/holdout.c), models are trained
 * on the rest with the candidates lambda_j = 0.08 * 1.5^j (to 3 digits;
 * j from -5 to 8: 0.0105 to 2.05), and the one with the lowest held-out
 * RMSE is kept.  The search starts at j = 0 and
 * its two neighbours and walks on towards the better side while the RMSE
 * falls (the error is unimodal in log lambda in every case measured), so
 * it trains 3 to 10 models of 90% of the data (3 to 5 in every case
 * measured), once each, before the model itself.  With fewer than 100
 * ratings to hold out (tiny data, where the measure would be noise), or
 * when every rating is the same, the search is skipped and 0.08 is used.
 *
 * The candidates' models live in a memory context of their own, freed
 * after each, within the training's memory limit; the most the search
 * held is what the version's memory_bytes reports when it is more than
 * the training's own.  The held-out part and
 * every candidate depend on the seed and the data only, so the choice is
 * deterministic.  The version records the penalty chosen (params:
 * "regularization", "auto_regularization": true); serving, fold-in and
 * update() use it; a retrain chooses again.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/linalg.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "options.h"
#include "train.h"

#define REG_START 0.08
#define REG_STEP 1.5
#define REG_LOWEST (-5)
#define REG_HIGHEST 8
#define REG_HOLD_EVERY 10
#define REG_MIN_HELD 100

typedef struct CandidateEnvArg
{
	MemoryContext bound;		/* the training's context: the limit */
	MemoryContext cxt;			/* where a candidate allocates */
	const RsEnv *parent;
} CandidateEnvArg;

static void *
candidate_alloc(void *arg, size_t size)
{
	CandidateEnvArg *a = (CandidateEnvArg *) arg;

	rs_check_memory_of(a->bound, size, "training",
					   "Choosing the penalty on held-out ratings holds a copy of the ratings and a "
					   "candidate model beside them: give \"regularization\" to skip it, or raise "
					   "recsys.memory_limit, or train on less data.");
	return MemoryContextAllocExtended(a->cxt, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

static void
candidate_check_interrupts(void *arg)
{
	const RsEnv *p = ((CandidateEnvArg *) arg)->parent;

	p->check_interrupts(p->arg);
}

static bool
candidate_interrupt_pending(void *arg)
{
	const RsEnv *p = ((CandidateEnvArg *) arg)->parent;

	return p->interrupt_pending ? p->interrupt_pending(p->arg) : false;
}

static void
candidate_progress(void *arg pg_attribute_unused(), int iteration pg_attribute_unused(),
				   double loss pg_attribute_unused())
{
	/* a candidate's iterations are not the model's: no NOTICE */
	CHECK_FOR_INTERRUPTS();
}

/*
 * env: the services of the training's env (interrupts), with memory from
 * cxt within the training context's limit, and no progress NOTICEs.
 */
static void
candidate_env(RsEnv *env, CandidateEnvArg *arg, MemoryContext bound,
			  MemoryContext cxt, const RsEnv *parent)
{
	arg->bound = bound;
	arg->cxt = cxt;
	arg->parent = parent;
	memset(env, 0, sizeof(RsEnv));
	env->alloc = candidate_alloc;
	env->check_interrupts = candidate_check_interrupts;
	env->interrupt_pending = candidate_interrupt_pending;
	env->progress = candidate_progress;
	env->arg = arg;
}

/*
 * lambda_j to 3 significant digits, as the double nearest that decimal:
 * the version's params print it back exactly ("%g"), so serving, fold-in
 * and update() use the very penalty the model was trained with.
 */
static double
candidate_lambda(int j)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%.3g", REG_START * pow(REG_STEP, j));
	return strtod(buf, NULL);
}

typedef struct Search
{
	const RsMatrix *train;
	const RsHeldOut *held;
	const RsParams *params;
	const RsEnv *env;
	MemoryContext bound;
	RsAlgorithm algorithm;
	Size		peak;			/* the most the training's context held */
	double		rmse[REG_HIGHEST - REG_LOWEST + 1];
	bool		done[REG_HIGHEST - REG_LOWEST + 1];
} Search;

/* The held-out RMSE of candidate j (trained once). */
static double
candidate_rmse(Search *s, int j)
{
	int			at = j - REG_LOWEST;
	MemoryContext cxt;
	CandidateEnvArg arg;
	RsEnv		env;
	RsParams	p = *s->params;
	RsModel		model;
	double		rmse;

	if (s->done[at])
		return s->rmse[at];
	cxt = AllocSetContextCreate(s->bound, "recsys regularization candidate",
								ALLOCSET_DEFAULT_SIZES);
	candidate_env(&env, &arg, s->bound, cxt, s->env);
	p.regularization = candidate_lambda(j);
	p.auto_regularization = false;
	memset(&model, 0, sizeof(model));
	model.n_users = s->train->n_users;
	model.n_items = s->train->n_items;
	if (s->algorithm == RS_ALG_SVD)
		rs_train_svd(s->train, &p, &env, &model);
	else if (s->algorithm == RS_ALG_SVDPP)
		rs_train_svdpp(s->train, &p, &env, &model);
	else
		rs_train_als(s->train, &p, &env, &model);
	rmse = rs_held_out_rmse(&model, s->held, &env);
	s->peak = Max(s->peak, MemoryContextMemAllocated(s->bound, true));
	MemoryContextDelete(cxt);
	if (isnan(rmse))
		rmse = INFINITY;
	if (s->env->note)
	{
		char	   *line = psprintf("regularization %.4g: held-out RMSE %.6f", p.regularization, rmse);

		s->env->note(s->env->arg, line);
		pfree(line);
	}
	s->done[at] = true;
	s->rmse[at] = rmse;
	return rmse;
}

/* Whether every value of m is the same (nothing for a penalty to fit). */
static bool
constant_values(const RsMatrix *m)
{
	for (int64 x = 1; x < m->nnz; x++)
	{
		if (m->user_vals[x] != m->user_vals[0])
			return false;
		if ((x & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return true;
}

/*
 * Chooses params->regularization for training m with algorithm (als or
 * svd, with auto_regularization); env and cxt are the training's.
 * Returns the most memory the training's context held meanwhile.
 */
Size
rs_choose_regularization(const RsMatrix *m, RsAlgorithm algorithm, RsParams *params,
						 const RsEnv *env, MemoryContext cxt)
{
	MemoryContext hcxt;
	CandidateEnvArg arg;
	RsEnv		henv;
	RsHeldOut	held;
	Search		s;
	volatile int best = 0;
	int			blas_threads;

	Assert(params->auto_regularization);
	params->regularization = REG_START;
	/* every rating the same (a rating column of 1s): RMSE cannot choose */
	if (constant_values(m))
		return 0;

	hcxt = AllocSetContextCreate(cxt, "recsys held-out ratings", ALLOCSET_DEFAULT_SIZES);
	candidate_env(&henv, &arg, cxt, hcxt, env);
	memset(&s, 0, sizeof(s));
	s.train = rs_hold_out(m, params->seed ^ UINT64CONST(0x7265677574696f6e), REG_HOLD_EVERY,
						  &henv, &held);
	if (held.n < REG_MIN_HELD)
	{
		MemoryContextDelete(hcxt);
		return 0;
	}
	s.held = &held;
	s.params = params;
	s.env = env;
	s.bound = cxt;
	s.algorithm = algorithm;

	/* the exact solvers set OpenBLAS to one thread while they run */
	blas_threads = rs_blas_get_threads();
	PG_TRY();
	{
		double		here = candidate_rmse(&s, 0);
		double		down = candidate_rmse(&s, -1);
		double		up = candidate_rmse(&s, 1);
		int			dir = 0;

		if (down < here && down <= up)
			dir = -1;
		else if (up < here)
			dir = 1;
		if (dir != 0)
		{
			best = dir;
			for (int j = 2 * dir; j >= REG_LOWEST && j <= REG_HIGHEST; j += dir)
			{
				if (!(candidate_rmse(&s, j) < candidate_rmse(&s, best)))
					break;
				best = j;
			}
		}
	}
	PG_FINALLY();
	{
		rs_blas_set_threads(blas_threads);
	}
	PG_END_TRY();
	params->regularization = candidate_lambda(best);
	MemoryContextDelete(hcxt);
	return s.peak;
}
