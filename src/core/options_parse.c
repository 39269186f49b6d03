/*-------------------------------------------------------------------------
 *
 * options_parse.c
 *	  The single table of training options (which algorithm takes which
 *	  knob, its valid range, its default) and their validation, in plain C.
 *	  options.c reads the user's jsonb into it and reports its statuses as
 *	  errors; test/fuzz/fuzz_options.c fuzzes it.
 *
 *-------------------------------------------------------------------------
 */
#include "options_parse.h"

#include <math.h>
#include <string.h>

/* the algorithms, in the order of RsAlgorithm (options.h) */
enum
{
	ALS, SVD, IALS, BPR, POP, IKNN, UKNN, EASE, NMF, SVDPP
};

#define A_ALS	RS_ALG_BIT(ALS)
#define A_SVD	RS_ALG_BIT(SVD)
#define A_IALS	RS_ALG_BIT(IALS)
#define A_BPR	RS_ALG_BIT(BPR)
#define A_POP	RS_ALG_BIT(POP)
#define A_IKNN	RS_ALG_BIT(IKNN)
#define A_UKNN	RS_ALG_BIT(UKNN)
#define A_EASE	RS_ALG_BIT(EASE)
#define A_NMF	RS_ALG_BIT(NMF)
#define A_SVDPP	RS_ALG_BIT(SVDPP)
#define A_MF	(A_ALS | A_SVD | A_IALS | A_BPR | A_NMF | A_SVDPP)
#define A_KNN	(A_IKNN | A_UKNN)
#define A_ALL	(A_MF | A_POP | A_KNN | A_EASE)

const RsOptSpec rs_opt_specs[] = {
	{"algorithm", RS_OPT_TEXT, A_ALL, 0, 0, "als, svd, ials, bpr, popularity, item_knn, user_knn, ease, nmf or svdpp"},
	{"factors", RS_OPT_INT, A_MF, 1, 1024, "latent dimensions"},
	{"iterations", RS_OPT_INT, A_MF | A_KNN, 1, 10000, "ALS sweeps, SGD epochs, or baseline sweeps (knn, explicit feedback)"},
	{"regularization", RS_OPT_REAL, A_MF | A_EASE, 0, 1e6, "L2 penalty on factors (ease: on the item weights, > 0)"},
	{"bias_regularization", RS_OPT_REAL, A_ALS | A_SVD | A_NMF | A_SVDPP | A_KNN, 0, 1e6, "L2 penalty on biases"},
	{"biases", RS_OPT_BOOL, A_ALS | A_SVD | A_NMF | A_SVDPP, 0, 0, "learn user and item biases (false: mu + p_u.q_i; nmf: false by default)"},
	{"global_mean", RS_OPT_BOOL, A_ALS | A_SVD | A_NMF | A_SVDPP, 0, 0, "with \"biases\": false, whether mu is kept (false: p_u.q_i alone, nmf's default)"},
	{"alpha", RS_OPT_REAL, A_IALS, 0, 1e6, "confidence 1 + alpha * value"},
	{"learning_rate", RS_OPT_REAL, A_SVD | A_BPR | A_SVDPP, 1e-9, 10, "SGD step size"},
	{"init_std", RS_OPT_REAL, A_MF, 0, 10, "std. dev. of the initial factors"},
	{"cg_steps", RS_OPT_INT, A_ALS | A_IALS, 1, 100, "conjugate-gradient steps per solve"},
	{"solver", RS_OPT_TEXT, A_ALS | A_IALS, 0, 0, "cg or cholesky"},
	{"execution", RS_OPT_TEXT, A_ALS | A_IALS, 0, 0, "memory, or sql: each half-step one GROUP BY statement over the source (doc/scale-out.md)"},
	{"samples", RS_OPT_INT, A_BPR, 1, 1000, "negative samples per interaction per epoch"},
	{"half_life_days", RS_OPT_REAL, A_POP, 0, 1e6, "time decay of popularity (0 = none)"},
	{"similarity", RS_OPT_TEXT, A_KNN, 0, 0, "cosine, adjusted_cosine, pearson or jaccard"},
	{"neighbors", RS_OPT_INT, A_KNN | A_EASE, 1, 1000, "neighbours kept per item (user_knn: per user; ease: the largest weights)"},
	{"shrinkage", RS_OPT_REAL, A_KNN, 0, 1e6, "similarity * n / (n + shrinkage), n = co-support"},
	{"min_support", RS_OPT_INT, A_KNN, 1, 1000000000, "fewest common users (user_knn: items) of a neighbour"},
	{"min_similarity", RS_OPT_REAL, A_KNN, -1, 1, "neighbours need a similarity above this"},
	{"weighting", RS_OPT_TEXT, A_KNN, 0, 0, "none, bm25 or tfidf (with similarity cosine)"},
	{"bm25_k1", RS_OPT_REAL, A_KNN, 0, 1e6, "BM25 saturation of interaction values"},
	{"bm25_b", RS_OPT_REAL, A_KNN, 0, 1, "BM25 length normalisation"},
	{"feedback", RS_OPT_TEXT, A_KNN, 0, 0, "implicit or explicit"},
	{"attributes", RS_OPT_TEXT, A_IKNN, 0, 0, "table, view or SELECT whose first two columns are the item key and its vector"},
	{"attribute_mode", RS_OPT_TEXT, A_IKNN, 0, 0, "cold_start or only"},
	/* time decay: every algorithm (see rs_opt_finish for what it refuses) */
	{"time_column", RS_OPT_TEXT, A_ALL, 0, 0, "column holding interaction times (timestamptz, timestamp, date or seconds)"},
	{"half_life", RS_OPT_TEXT, A_ALL, 0, 0, "an interval: an interaction weighs 0.5^(age / half_life)"},
	{"as_of", RS_OPT_TEXT, A_ALL, 0, 0, "a timestamptz from which ages are counted (default: the newest interaction)"},
	{"threads", RS_OPT_INT, A_ALL, 1, 64, "worker threads"},
	{"seed", RS_OPT_INT, A_ALL, 0, 2147483647, "random seed"},
	{"verbose", RS_OPT_BOOL, A_ALL, 0, 0, "a NOTICE per iteration"},
	{"keep", RS_OPT_INT, A_ALL, 1, 1000, "versions of the model to keep"},
};
const int	rs_n_opt_specs = sizeof(rs_opt_specs) / sizeof(rs_opt_specs[0]);

/* given[] (options_parse.h) has a slot for every option of the table */
typedef char rs_opt_table_fits[sizeof(rs_opt_specs) / sizeof(rs_opt_specs[0]) <= RS_MAX_OPTIONS ? 1 : -1];

const char *const rs_algorithm_names[RS_N_ALGORITHMS] = {
	"als", "svd", "ials", "bpr", "popularity", "item_knn", "user_knn", "ease", "nmf", "svdpp"
};
const char *const rs_similarity_names[4] = {"cosine", "adjusted_cosine", "pearson", "jaccard"};
const char *const rs_weighting_names[3] = {"none", "bm25", "tfidf"};

static const char *const feedback_names[2] = {"implicit", "explicit"};
static const char *const execution_names[2] = {"memory", "sql"};
static const char *const mode_names[2] = {"cold_start", "only"};

const RsOptSpec *
rs_opt_find(const char *name)
{
	for (int k = 0; k < rs_n_opt_specs; k++)
	{
		if (strcmp(rs_opt_specs[k].name, name) == 0)
			return &rs_opt_specs[k];
	}
	return NULL;
}

/*
 * Defaults.  They were chosen on held-out synthetic data shaped like
 * MovieLens (see README, "Choosing the defaults").
 */
void
rs_opt_defaults(RsOptState *s, int algorithm, int threads)
{
	RsParams   *p = &s->params;

	memset(s, 0, sizeof(RsOptState));
	s->algorithm = algorithm;
	p->threads = threads;
	p->seed = 42;
	s->verbose = false;
	s->keep = 3;
	s->time_column = NULL;

	switch (algorithm)
	{
		case ALS:
			p->factors = 64;
			p->iterations = 15;
			/* chosen on held-out ratings; the search starts here */
			p->regularization = 0.08;
			p->auto_regularization = true;
			p->bias_regularization = 0.05;
			p->cg_steps = 3;
			p->cholesky = false;
			p->init_std = 0.1;
			break;
		case SVD:
			p->factors = 64;
			p->iterations = 40;
			p->learning_rate = 0.02;
			/* chosen on held-out ratings; the search starts here */
			p->regularization = 0.08;
			p->auto_regularization = true;
			p->bias_regularization = 0.02;
			p->init_std = 0.1;
			break;
		case IALS:

			/*
			 * NDCG@10 on a per-user 25% hold-out (doc/training.md, "ials'
			 * confidence and penalty"), planted dense / planted sparse /
			 * movielens preset: alpha 2, lambda 20 (before 0.3.0): 0.499 /
			 * 0.230 / 0.186; 5, 50: 0.588 / 0.296 / 0.235; 10, 100: 0.566 /
			 * 0.327 / 0.254; 20, 200: 0.527 / 0.330 / 0.253.  10, 100's
			 * item factors are harder for the HNSW index at its defaults
			 * (test/t/030_hnsw_recall.pl: recall@10 0.913 against 0.992).
			 */
			p->factors = 64;
			p->iterations = 15;
			p->regularization = 50.0;
			p->alpha = 5.0;
			p->cg_steps = 3;
			p->cholesky = false;
			p->init_std = 0.01;
			break;
		case BPR:
			p->factors = 64;
			p->iterations = 20;
			p->learning_rate = 0.05;
			/* 0.01 before 0.3.0: doc/training.md, "bpr's penalty" */
			p->regularization = 0.05;
			p->samples = 1;
			p->init_std = 0.1;
			break;
		case SVDPP:

			/*
			 * 5-fold RMSE, movielens preset / planted (doc/training.md,
			 * "SVD++"), the penalty chosen on held-out ratings: 20
			 * iterations, learning rate 0.007 (Surprise's): 0.929 / 0.533;
			 * 30, 0.01: 0.914 / 0.530; 40, 0.015: 0.912 / 0.529; 30, 0.02:
			 * 0.913 / 0.531.
			 */
			p->factors = 20;
			p->iterations = 40;
			p->learning_rate = 0.015;
			/* chosen on held-out ratings; the search starts here */
			p->regularization = 0.08;
			p->auto_regularization = true;
			p->bias_regularization = 0.02;
			p->init_std = 0.1;
			break;
		case POP:
			p->half_life_days = 0;
			break;
		case IKNN:
		case UKNN:

			/*
			 * Held-out recall@10 of item_knn (generator, 10% of each user's
			 * interactions held out), dense data (2000 users x 400 items x
			 * 120k) / sparse (6000 x 3000 x 180k): shrinkage 0: 0.426 /
			 * 0.271, 10: 0.424 / 0.282, 25: 0.431 / 0.287, 100: -- / 0.286,
			 * 200: 0.406 / --; neighbors 100 adds ~0.01 at twice the size.
			 * Popularity: 0.205 / 0.145.
			 */
			p->user_based = (algorithm == UKNN);
			p->explicit_feedback = false;
			p->similarity = RS_SIM_COSINE;
			p->neighbors = 50;
			p->shrinkage = 25.0;
			p->min_support = 1;
			p->min_similarity = 0.0;
			p->weighting = RS_WEIGHT_NONE;
			p->bm25_k1 = 1.2;
			p->bm25_b = 0.75;
			p->iterations = 10;
			p->bias_regularization = 10.0;
			p->attributes_only = false;
			s->attributes = NULL;
			break;
		case EASE:

			/*
			 * NDCG@10 on a per-user 25% hold-out (doc/training.md, "ease"),
			 * planted dense (2000 x 400 x 120k) / planted sparse (6000 x
			 * 3000 x 180k) / movielens preset: lambda 50: 0.528 / 0.298 /
			 * 0.163, 250: 0.572 / 0.323 / 0.227, 500: 0.578 / 0.326 /
			 * 0.239, 1000: 0.572 / 0.324 / 0.249, 3000: 0.533 / 0.309 /
			 * 0.257.  200 neighbours lose < 0.001 against 1000 at a fifth
			 * of the size; 50 lose 0.002-0.005.
			 */
			p->regularization = 500.0;
			p->neighbors = 200;
			break;
		case NMF:

			/*
			 * r^ = p_u.q_i by default: no biases, no global mean.  5-fold
			 * RMSE, movielens preset / planted (2000 x 400 x 120k, sigma
			 * 0.5), doc/training.md "nmf": 8 factors, lambda 0.1: 0.932 /
			 * 0.535; lambda 0.08: 0.935 / 0.528; 0.12: 0.933 / 0.545; 4
			 * factors: 0.932 / 0.540; 16: 0.941 / 0.535; with biases:
			 * 0.930 / 0.570; with mu but no biases: 1.051 / 0.703.
			 */
			p->factors = 8;
			p->iterations = 20;
			p->regularization = 0.1;
			p->bias_regularization = 0.05;
			p->no_biases = true;
			p->no_global_mean = true;
			p->cholesky = true;
			p->init_std = 0.1;
			break;
	}
}

/* The position of txt in names[], or -1 (err says which names) */
static int
choose(const char *txt, const char *const *names, int n, RsOptError *err)
{
	for (int k = 0; k < n; k++)
		if (strcmp(txt, names[k]) == 0)
			return k;
	err->choices = names;
	err->n_choices = n;
	return -1;
}

/*
 * Validates one option and stores it.  "algorithm" is accepted and left
 * alone (the caller consumed it before the defaults were set).
 */
RsOptStatus
rs_opt_apply(RsOptState *s, const char *name, const RsOptValue *v, RsOptError *err)
{
	RsParams   *p = &s->params;
	const RsOptSpec *spec = rs_opt_find(name);
	double		d = 0;
	bool		b = false;
	const char *txt = NULL;
	int			k;

	memset(err, 0, sizeof(RsOptError));
	if (spec == NULL || !(spec->algorithms & RS_ALG_BIT(s->algorithm)))
		return RS_OPTS_UNKNOWN;
	err->spec = spec;

	switch (spec->kind)
	{
		case RS_OPT_INT:
		case RS_OPT_REAL:
			if (v->type != RS_OPTV_NUMBER)
				return RS_OPTS_NOT_NUMBER;
			d = v->number;
			if (spec->kind == RS_OPT_INT && d != floor(d))
				return RS_OPTS_NOT_INTEGER;
			if (!(d >= spec->min && d <= spec->max))
				return RS_OPTS_OUT_OF_RANGE;
			break;
		case RS_OPT_BOOL:
			if (v->type != RS_OPTV_BOOL)
				return RS_OPTS_NOT_BOOL;
			b = v->boolean;
			break;
		case RS_OPT_TEXT:
			if (v->type != RS_OPTV_STRING)
				return RS_OPTS_NOT_STRING;
			txt = v->string;
			break;
	}

	if (strcmp(name, "factors") == 0)
		p->factors = (int) d;
	else if (strcmp(name, "iterations") == 0)
		p->iterations = (int) d;
	else if (strcmp(name, "regularization") == 0)
	{
		p->regularization = d;
		p->auto_regularization = false;
	}
	else if (strcmp(name, "bias_regularization") == 0)
		p->bias_regularization = d;
	else if (strcmp(name, "biases") == 0)
	{
		p->no_biases = !b;
		/* nmf keeps no mean by default; biases need one */
		if (s->algorithm == NMF && b && !s->given[rs_opt_find("global_mean") - rs_opt_specs])
			p->no_global_mean = false;
	}
	else if (strcmp(name, "global_mean") == 0)
		p->no_global_mean = !b;
	else if (strcmp(name, "alpha") == 0)
		p->alpha = d;
	else if (strcmp(name, "learning_rate") == 0)
		p->learning_rate = d;
	else if (strcmp(name, "init_std") == 0)
		p->init_std = d;
	else if (strcmp(name, "cg_steps") == 0)
		p->cg_steps = (int) d;
	else if (strcmp(name, "solver") == 0)
	{
		if (strcmp(txt, "cg") == 0)
			p->cholesky = false;
		else if (strcmp(txt, "cholesky") == 0)
			p->cholesky = true;
		else
			return RS_OPTS_BAD_SOLVER;
	}
	else if (strcmp(name, "execution") == 0)
	{
		if ((k = choose(txt, execution_names, 2, err)) < 0)
			return RS_OPTS_BAD_CHOICE;
		s->execution_sql = (k == 1);
		/* the statements' final functions solve exactly */
		if (s->execution_sql)
			p->cholesky = true;
	}
	else if (strcmp(name, "similarity") == 0)
	{
		if ((k = choose(txt, rs_similarity_names, 4, err)) < 0)
			return RS_OPTS_BAD_CHOICE;
		p->similarity = (RsSimilarity) k;
	}
	else if (strcmp(name, "neighbors") == 0)
		p->neighbors = (int) d;
	else if (strcmp(name, "shrinkage") == 0)
		p->shrinkage = d;
	else if (strcmp(name, "min_support") == 0)
		p->min_support = (int) d;
	else if (strcmp(name, "min_similarity") == 0)
		p->min_similarity = d;
	else if (strcmp(name, "weighting") == 0)
	{
		if ((k = choose(txt, rs_weighting_names, 3, err)) < 0)
			return RS_OPTS_BAD_CHOICE;
		p->weighting = (RsWeighting) k;
	}
	else if (strcmp(name, "bm25_k1") == 0)
		p->bm25_k1 = d;
	else if (strcmp(name, "bm25_b") == 0)
		p->bm25_b = d;
	else if (strcmp(name, "feedback") == 0)
	{
		if ((k = choose(txt, feedback_names, 2, err)) < 0)
			return RS_OPTS_BAD_CHOICE;
		p->explicit_feedback = k == 1;
	}
	else if (strcmp(name, "attributes") == 0)
	{
		if (txt[0] == '\0')
			return RS_OPTS_EMPTY_ATTRIBUTES;
		s->attributes = txt;
	}
	else if (strcmp(name, "attribute_mode") == 0)
	{
		if ((k = choose(txt, mode_names, 2, err)) < 0)
			return RS_OPTS_BAD_CHOICE;
		p->attributes_only = k == 1;
	}
	else if (strcmp(name, "samples") == 0)
		p->samples = (int) d;
	else if (strcmp(name, "half_life_days") == 0)
		p->half_life_days = d;
	else if (strcmp(name, "time_column") == 0)
		s->time_column = txt;
	else if (strcmp(name, "half_life") == 0)
		s->half_life = txt;
	else if (strcmp(name, "as_of") == 0)
		s->as_of = txt;
	else if (strcmp(name, "threads") == 0)
		p->threads = (int) d;
	else if (strcmp(name, "seed") == 0)
		p->seed = (uint64_t) d;
	else if (strcmp(name, "verbose") == 0)
		s->verbose = b;
	else if (strcmp(name, "keep") == 0)
		s->keep = (int) d;
	/* "algorithm" was consumed before the defaults were set */

	s->given[spec - rs_opt_specs] = true;
	return RS_OPTS_OK;
}

static bool
was_given(const RsOptState *s, const char *name)
{
	return s->given[rs_opt_find(name) - rs_opt_specs];
}

/*
 * With "execution": "sql", the first option given that the statements
 * cannot honour, or NULL: they solve exactly (no solver, no CG steps),
 * run on PostgreSQL's parallel workers (no threads) and read no times.
 */
const char *
rs_opt_sql_conflict(const RsOptState *s)
{
	static const char *const names[] = {"solver", "cg_steps", "threads", "time_column",
	"half_life", "as_of"};

	if (!s->execution_sql)
		return NULL;
	for (int k = 0; k < (int) (sizeof(names) / sizeof(names[0])); k++)
		if (was_given(s, names[k]))
			return names[k];
	return NULL;
}

/*
 * After the last option: the options of time decay, and those of the
 * neighbourhood models, that only make sense together.
 */
RsOptStatus
rs_opt_finish(const RsOptState *s)
{
	const RsParams *p = &s->params;
	bool		decay = s->half_life != NULL;

	/* the statements solve exactly, with a penalty given */
	if (rs_opt_sql_conflict(s) != NULL)
		return RS_OPTS_SQL_CONFLICT;
	if (s->execution_sql && p->auto_regularization)
		return RS_OPTS_SQL_NO_PENALTY;

	if (decay && was_given(s, "half_life_days"))
		return RS_OPTS_TWO_HALF_LIVES;
	if (decay && s->time_column == NULL)
		return RS_OPTS_DECAY_WITHOUT_TIME;
	if (s->as_of != NULL && !decay)
		return RS_OPTS_AS_OF_WITHOUT_DECAY;
	/* MF without baseline: mu alone may be dropped, biases need it */
	if (p->no_global_mean && !p->no_biases)
		return RS_OPTS_MEAN_WITH_BIASES;
	if (p->no_biases && was_given(s, "bias_regularization"))
		return RS_OPTS_BIAS_REG_WITHOUT_BIASES;
	/* X^T X alone may be singular: ease needs a penalty */
	if (s->algorithm == EASE && !(p->regularization > 0))
		return RS_OPTS_EASE_NO_PENALTY;
	if (s->algorithm != IKNN && s->algorithm != UKNN)
		return RS_OPTS_OK;
	if (decay && (p->explicit_feedback || p->similarity == RS_SIM_JACCARD ||
				  p->attributes_only))
		return RS_OPTS_DECAY_KNN;
	if (p->weighting != RS_WEIGHT_NONE && p->similarity != RS_SIM_COSINE)
		return RS_OPTS_WEIGHTING_NOT_COSINE;
	if ((was_given(s, "bm25_k1") || was_given(s, "bm25_b")) &&
		p->weighting != RS_WEIGHT_BM25)
		return RS_OPTS_BM25_WITHOUT_BM25;
	if ((was_given(s, "iterations") || was_given(s, "bias_regularization")) &&
		!p->explicit_feedback)
		return RS_OPTS_BASELINE_IMPLICIT;
	if (was_given(s, "attribute_mode") && s->attributes == NULL)
		return RS_OPTS_MODE_WITHOUT_ATTRIBUTES;
	return RS_OPTS_OK;
}
