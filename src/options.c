/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Validates training options (jsonb) against a table of what each
 *	  algorithm accepts, and fills in the defaults.
 *
 * The table below is the single place that says which knobs an algorithm
 * has, their defaults and their valid ranges.  An unknown option, a value
 * of the wrong JSON type, or a value out of range is an error that names
 * the option and what it accepts.
 *
 *-------------------------------------------------------------------------
 */
#include "options.h"

#include <math.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

typedef enum OptKind
{
	OPT_INT,
	OPT_REAL,
	OPT_BOOL,
	OPT_TEXT
} OptKind;

#define A_ALS	(1 << RS_ALG_ALS)
#define A_SVD	(1 << RS_ALG_SVD)
#define A_IALS	(1 << RS_ALG_IALS)
#define A_BPR	(1 << RS_ALG_BPR)
#define A_POP	(1 << RS_ALG_POPULARITY)
#define A_IKNN	(1 << RS_ALG_ITEM_KNN)
#define A_UKNN	(1 << RS_ALG_USER_KNN)
#define A_MF	(A_ALS | A_SVD | A_IALS | A_BPR)
#define A_KNN	(A_IKNN | A_UKNN)
#define A_ALL	(A_MF | A_POP | A_KNN)

#define ALGORITHM_LIST "als, svd, ials, bpr, popularity, item_knn, user_knn"

typedef struct OptSpec
{
	const char *name;
	OptKind		kind;
	int			algorithms;		/* bitmask of algorithms that accept it */
	double		min;
	double		max;
	const char *help;
} OptSpec;

static const OptSpec opt_specs[] = {
	{"algorithm", OPT_TEXT, A_ALL, 0, 0, "als, svd, ials, bpr, popularity, item_knn or user_knn"},
	{"factors", OPT_INT, A_MF, 1, 1024, "latent dimensions"},
	{"iterations", OPT_INT, A_MF | A_KNN, 1, 10000, "ALS sweeps, SGD epochs, or baseline sweeps (knn, explicit feedback)"},
	{"regularization", OPT_REAL, A_MF, 0, 1e6, "L2 penalty on factors"},
	{"bias_regularization", OPT_REAL, A_ALS | A_SVD | A_KNN, 0, 1e6, "L2 penalty on biases"},
	{"alpha", OPT_REAL, A_IALS, 0, 1e6, "confidence 1 + alpha * value"},
	{"learning_rate", OPT_REAL, A_SVD | A_BPR, 1e-9, 10, "SGD step size"},
	{"init_std", OPT_REAL, A_MF, 0, 10, "std. dev. of the initial factors"},
	{"cg_steps", OPT_INT, A_ALS | A_IALS, 1, 100, "conjugate-gradient steps per solve"},
	{"solver", OPT_TEXT, A_ALS | A_IALS, 0, 0, "cg or cholesky"},
	{"samples", OPT_INT, A_BPR, 1, 1000, "negative samples per interaction per epoch"},
	{"half_life_days", OPT_REAL, A_POP, 0, 1e6, "time decay of popularity (0 = none)"},
	{"similarity", OPT_TEXT, A_KNN, 0, 0, "cosine, adjusted_cosine, pearson or jaccard"},
	{"neighbors", OPT_INT, A_KNN, 1, 1000, "neighbours kept per item (user_knn: per user)"},
	{"shrinkage", OPT_REAL, A_KNN, 0, 1e6, "similarity * n / (n + shrinkage), n = co-support"},
	{"min_support", OPT_INT, A_KNN, 1, 1000000000, "fewest common users (user_knn: items) of a neighbour"},
	{"min_similarity", OPT_REAL, A_KNN, -1, 1, "neighbours need a similarity above this"},
	{"weighting", OPT_TEXT, A_KNN, 0, 0, "none, bm25 or tfidf (with similarity cosine)"},
	{"bm25_k1", OPT_REAL, A_KNN, 0, 1e6, "BM25 saturation of interaction values"},
	{"bm25_b", OPT_REAL, A_KNN, 0, 1, "BM25 length normalisation"},
	{"feedback", OPT_TEXT, A_KNN, 0, 0, "implicit or explicit"},
	{"attributes", OPT_TEXT, A_IKNN, 0, 0, "table, view or SELECT whose first two columns are the item key and its vector"},
	{"attribute_mode", OPT_TEXT, A_IKNN, 0, 0, "cold_start or only"},
	{"time_column", OPT_TEXT, A_ALL, 0, 0, "column holding interaction times"},
	{"threads", OPT_INT, A_ALL, 1, 64, "worker threads"},
	{"seed", OPT_INT, A_ALL, 0, 2147483647, "random seed"},
	{"verbose", OPT_BOOL, A_ALL, 0, 0, "a NOTICE per iteration"},
	{"keep", OPT_INT, A_ALL, 1, 1000, "versions of the model to keep"},
};

static const char *const alg_names[] = {"als", "svd", "ials", "bpr", "popularity",
"item_knn", "user_knn"};

static const char *const similarity_names[] = {"cosine", "adjusted_cosine", "pearson", "jaccard"};
static const char *const weighting_names[] = {"none", "bm25", "tfidf"};

const char *
rs_algorithm_name(RsAlgorithm alg)
{
	return alg_names[alg];
}

/*
 * Whether an algorithm learns from implicit feedback.  The neighbourhood
 * models take either kind (option "feedback"): see rs_options_implicit().
 */
bool
rs_algorithm_is_implicit(RsAlgorithm alg)
{
	return alg == RS_ALG_IALS || alg == RS_ALG_BPR || alg == RS_ALG_POPULARITY;
}

bool
rs_algorithm_is_knn(RsAlgorithm alg)
{
	return alg == RS_ALG_ITEM_KNN || alg == RS_ALG_USER_KNN;
}

/* Implicit feedback for this training (duplicates summed, no baseline)? */
bool
rs_options_implicit(const RsTrainOptions *o)
{
	if (rs_algorithm_is_knn(o->algorithm))
		return !o->params.explicit_feedback;
	return rs_algorithm_is_implicit(o->algorithm);
}

RsAlgorithm
rs_algorithm_from_name(const char *name)
{
	for (size_t a = 0; a < lengthof(alg_names); a++)
	{
		if (strcmp(name, alg_names[a]) == 0)
			return (RsAlgorithm) a;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown algorithm \"%s\"", name),
			 errhint("Valid algorithms: " ALGORITHM_LIST ".")));
	return RS_ALG_ALS;			/* keep compiler quiet */
}

/* The default worker thread count: the online CPUs, at most 8. */
int
rs_default_threads(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return (int) Max(1, Min(n, 8));
}

/*
 * Defaults.  They were chosen on held-out synthetic data shaped like
 * MovieLens (see README, "Choosing the defaults").
 */
static void
set_defaults(RsTrainOptions *o)
{
	RsParams   *p = &o->params;

	memset(p, 0, sizeof(RsParams));
	p->threads = rs_default_threads();
	p->seed = 42;
	o->verbose = false;
	o->keep = 3;
	o->time_column = NULL;

	switch (o->algorithm)
	{
		case RS_ALG_ALS:
			p->factors = 64;
			p->iterations = 15;
			p->regularization = 0.05;
			p->bias_regularization = 0.05;
			p->cg_steps = 3;
			p->cholesky = false;
			p->init_std = 0.1;
			break;
		case RS_ALG_SVD:
			p->factors = 64;
			p->iterations = 40;
			p->learning_rate = 0.02;
			p->regularization = 0.05;
			p->bias_regularization = 0.02;
			p->init_std = 0.1;
			break;
		case RS_ALG_IALS:
			p->factors = 64;
			p->iterations = 15;
			p->regularization = 20.0;
			p->alpha = 2.0;
			p->cg_steps = 3;
			p->cholesky = false;
			p->init_std = 0.01;
			break;
		case RS_ALG_BPR:
			p->factors = 64;
			p->iterations = 20;
			p->learning_rate = 0.05;
			p->regularization = 0.01;
			p->samples = 1;
			p->init_std = 0.1;
			break;
		case RS_ALG_POPULARITY:
			p->half_life_days = 0;
			break;
		case RS_ALG_ITEM_KNN:
		case RS_ALG_USER_KNN:

			/*
			 * Held-out recall@10 of item_knn (generator, 10% of each user's
			 * interactions held out), dense data (2000 users x 400 items x
			 * 120k) / sparse (6000 x 3000 x 180k): shrinkage 0: 0.426 /
			 * 0.271, 10: 0.424 / 0.282, 25: 0.431 / 0.287, 100: -- / 0.286,
			 * 200: 0.406 / --; neighbors 100 adds ~0.01 at twice the size.
			 * Popularity: 0.205 / 0.145.
			 */
			p->user_based = (o->algorithm == RS_ALG_USER_KNN);
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
			o->attributes = NULL;
			break;
	}
}

/* The position of txt in names[], or an error listing them. */
static int
choose(const char *option, const char *txt, const char *const *names, int n)
{
	StringInfoData valid;

	for (int k = 0; k < n; k++)
		if (strcmp(txt, names[k]) == 0)
			return k;
	initStringInfo(&valid);
	for (int k = 0; k < n; k++)
		appendStringInfo(&valid, "%s%s", k == 0 ? "" : k == n - 1 ? " or " : ", ", names[k]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", option, txt),
			 errhint("Option \"%s\" must be %s.", option, valid.data)));
	return 0;					/* keep compiler quiet */
}

static const OptSpec *
find_spec(const char *name)
{
	for (size_t k = 0; k < lengthof(opt_specs); k++)
	{
		if (strcmp(opt_specs[k].name, name) == 0)
			return &opt_specs[k];
	}
	return NULL;
}

static char *
valid_names(RsAlgorithm alg)
{
	StringInfoData s;

	initStringInfo(&s);
	for (size_t k = 0; k < lengthof(opt_specs); k++)
	{
		if (opt_specs[k].algorithms & (1 << alg))
			appendStringInfo(&s, "%s%s", s.len ? ", " : "", opt_specs[k].name);
	}
	return s.data;
}

static double
numeric_value(JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

static void
apply_option(RsTrainOptions *o, const OptSpec *spec, JsonbValue *v)
{
	RsParams   *p = &o->params;
	double		d = 0;
	bool		b = false;
	char	   *txt = NULL;

	switch (spec->kind)
	{
		case OPT_INT:
		case OPT_REAL:
			if (v->type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be a number", spec->name),
						 errhint("%s: %s between %g and %g.", spec->name, spec->help,
								 spec->min, spec->max)));
			d = numeric_value(v);
			if (spec->kind == OPT_INT && d != floor(d))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be an integer, not %g", spec->name, d)));
			if (!(d >= spec->min && d <= spec->max))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be between %g and %g, not %g",
								spec->name, spec->min, spec->max, d),
						 errhint("%s: %s.", spec->name, spec->help)));
			break;
		case OPT_BOOL:
			if (v->type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be true or false", spec->name)));
			b = v->val.boolean;
			break;
		case OPT_TEXT:
			if (v->type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be a string", spec->name),
						 errhint("%s: %s.", spec->name, spec->help)));
			txt = pnstrdup(v->val.string.val, v->val.string.len);
			break;
	}

	if (strcmp(spec->name, "factors") == 0)
		p->factors = (int) d;
	else if (strcmp(spec->name, "iterations") == 0)
		p->iterations = (int) d;
	else if (strcmp(spec->name, "regularization") == 0)
		p->regularization = d;
	else if (strcmp(spec->name, "bias_regularization") == 0)
		p->bias_regularization = d;
	else if (strcmp(spec->name, "alpha") == 0)
		p->alpha = d;
	else if (strcmp(spec->name, "learning_rate") == 0)
		p->learning_rate = d;
	else if (strcmp(spec->name, "init_std") == 0)
		p->init_std = d;
	else if (strcmp(spec->name, "cg_steps") == 0)
		p->cg_steps = (int) d;
	else if (strcmp(spec->name, "solver") == 0)
	{
		if (strcmp(txt, "cg") == 0)
			p->cholesky = false;
		else if (strcmp(txt, "cholesky") == 0)
			p->cholesky = true;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"solver\" must be \"cg\" or \"cholesky\", not \"%s\"", txt)));
	}
	else if (strcmp(spec->name, "similarity") == 0)
		p->similarity = (RsSimilarity) choose("similarity", txt, similarity_names,
											  lengthof(similarity_names));
	else if (strcmp(spec->name, "neighbors") == 0)
		p->neighbors = (int) d;
	else if (strcmp(spec->name, "shrinkage") == 0)
		p->shrinkage = d;
	else if (strcmp(spec->name, "min_support") == 0)
		p->min_support = (int) d;
	else if (strcmp(spec->name, "min_similarity") == 0)
		p->min_similarity = d;
	else if (strcmp(spec->name, "weighting") == 0)
		p->weighting = (RsWeighting) choose("weighting", txt, weighting_names,
											lengthof(weighting_names));
	else if (strcmp(spec->name, "bm25_k1") == 0)
		p->bm25_k1 = d;
	else if (strcmp(spec->name, "bm25_b") == 0)
		p->bm25_b = d;
	else if (strcmp(spec->name, "feedback") == 0)
	{
		static const char *const feedback_names[] = {"implicit", "explicit"};

		p->explicit_feedback = choose("feedback", txt, feedback_names, 2) == 1;
	}
	else if (strcmp(spec->name, "attributes") == 0)
	{
		if (txt[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"attributes\" must not be empty"),
					 errhint("attributes: %s.", spec->help)));
		o->attributes = txt;
	}
	else if (strcmp(spec->name, "attribute_mode") == 0)
	{
		static const char *const mode_names[] = {"cold_start", "only"};

		p->attributes_only = choose("attribute_mode", txt, mode_names, 2) == 1;
	}
	else if (strcmp(spec->name, "samples") == 0)
		p->samples = (int) d;
	else if (strcmp(spec->name, "half_life_days") == 0)
		p->half_life_days = d;
	else if (strcmp(spec->name, "time_column") == 0)
		o->time_column = txt;
	else if (strcmp(spec->name, "threads") == 0)
		p->threads = (int) d;
	else if (strcmp(spec->name, "seed") == 0)
		p->seed = (uint64) d;
	else if (strcmp(spec->name, "verbose") == 0)
		o->verbose = b;
	else if (strcmp(spec->name, "keep") == 0)
		o->keep = (int) d;
	/* "algorithm" was consumed before the defaults were set */
}

static bool
was_given(const bool *given, const char *name)
{
	return given[find_spec(name) - opt_specs];
}

/* Options of the neighbourhood models that only make sense together. */
static void
check_knn_options(const RsTrainOptions *o, const bool *given)
{
	const RsParams *p = &o->params;

	if (p->weighting != RS_WEIGHT_NONE && p->similarity != RS_SIM_COSINE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"weighting\" applies to similarity \"cosine\" only, not \"%s\"",
						similarity_names[p->similarity]),
				 errhint("Drop \"weighting\", or use \"similarity\": \"cosine\".")));
	if ((was_given(given, "bm25_k1") || was_given(given, "bm25_b")) &&
		p->weighting != RS_WEIGHT_BM25)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"bm25_k1\" and \"bm25_b\" need \"weighting\": \"bm25\"")));
	if ((was_given(given, "iterations") || was_given(given, "bias_regularization")) &&
		!p->explicit_feedback)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"iterations\" and \"bias_regularization\" need \"feedback\": \"explicit\""),
				 errhint("They set the baseline of explicit-feedback neighbourhood models.")));
	if (was_given(given, "attribute_mode") && o->attributes == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"attribute_mode\" needs option \"attributes\"")));
}

/* The "algorithm" key of options, or NULL. */
static char *
options_algorithm(Jsonb *options)
{
	JsonbValue	key;
	JsonbValue *v;

	if (options == NULL)
		return NULL;
	key.type = jbvString;
	key.val.string.val = "algorithm";
	key.val.string.len = strlen("algorithm");
	v = findJsonbValueFromContainer(&options->root, JB_FOBJECT, &key);
	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"algorithm\" must be a string"),
				 errhint("Valid algorithms: " ALGORITHM_LIST ".")));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Fills *out from options (may be NULL).  algorithm (may be NULL) is the
 * function form's argument; the options may name it too, and must agree.
 */
void
rs_parse_options(Jsonb *options, const char *algorithm, RsTrainOptions *out)
{
	char	   *from_options;
	bool		given[lengthof(opt_specs)];
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (options != NULL && !JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("training options must be a JSON object"),
				 errhint("For example: '{\"factors\": 64, \"iterations\": 15}'.")));

	from_options = options_algorithm(options);
	if (algorithm && from_options && strcmp(algorithm, from_options) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm \"%s\" conflicts with option \"algorithm\": \"%s\"",
						algorithm, from_options)));
	if (algorithm == NULL)
		algorithm = from_options ? from_options : "als";

	memset(out, 0, sizeof(RsTrainOptions));
	out->algorithm = rs_algorithm_from_name(algorithm);
	set_defaults(out);
	if (options == NULL)
		return;

	it = JsonbIteratorInit(&options->root);
	memset(given, 0, sizeof(given));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		const OptSpec *spec;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		spec = find_spec(name);
		if (spec == NULL || !(spec->algorithms & (1 << out->algorithm)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for algorithm %s", name,
							rs_algorithm_name(out->algorithm)),
					 errhint("Valid options: %s.", valid_names(out->algorithm))));
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (v.type == jbvNull)
			continue;			/* null means "the default" */
		apply_option(out, spec, &v);
		given[spec - opt_specs] = true;
	}
	if (rs_algorithm_is_knn(out->algorithm))
		check_knn_options(out, given);
}

/* The parameters actually used, as jsonb, for the version's record. */
Jsonb *
rs_options_effective(const RsTrainOptions *o)
{
	const RsParams *p = &o->params;
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"algorithm\": \"%s\", \"seed\": " UINT64_FORMAT
					 ", \"threads\": %d",
					 rs_algorithm_name(o->algorithm), p->seed, p->threads);
	switch (o->algorithm)
	{
		case RS_ALG_ALS:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"regularization\": %g, \"bias_regularization\": %g, \"solver\": \"%s\", \"cg_steps\": %d, \"init_std\": %g",
							 p->factors, p->iterations, p->regularization,
							 p->bias_regularization, p->cholesky ? "cholesky" : "cg",
							 p->cg_steps, p->init_std);
			break;
		case RS_ALG_SVD:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"learning_rate\": %g, \"regularization\": %g, \"bias_regularization\": %g, \"init_std\": %g",
							 p->factors, p->iterations, p->learning_rate,
							 p->regularization, p->bias_regularization, p->init_std);
			break;
		case RS_ALG_IALS:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"regularization\": %g, \"alpha\": %g, \"solver\": \"%s\", \"cg_steps\": %d, \"init_std\": %g",
							 p->factors, p->iterations, p->regularization, p->alpha,
							 p->cholesky ? "cholesky" : "cg", p->cg_steps, p->init_std);
			break;
		case RS_ALG_BPR:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"learning_rate\": %g, \"regularization\": %g, \"samples\": %d, \"init_std\": %g",
							 p->factors, p->iterations, p->learning_rate,
							 p->regularization, p->samples, p->init_std);
			break;
		case RS_ALG_POPULARITY:
			appendStringInfo(&s, ", \"half_life_days\": %g", p->half_life_days);
			break;
		case RS_ALG_ITEM_KNN:
		case RS_ALG_USER_KNN:
			appendStringInfo(&s, ", \"feedback\": \"%s\", \"similarity\": \"%s\", \"neighbors\": %d, \"shrinkage\": %g, \"min_support\": %d, \"min_similarity\": %g, \"weighting\": \"%s\"",
							 p->explicit_feedback ? "explicit" : "implicit",
							 similarity_names[p->similarity], p->neighbors,
							 p->shrinkage, p->min_support, p->min_similarity,
							 weighting_names[p->weighting]);
			if (p->weighting == RS_WEIGHT_BM25)
				appendStringInfo(&s, ", \"bm25_k1\": %g, \"bm25_b\": %g",
								 p->bm25_k1, p->bm25_b);
			if (p->explicit_feedback)
				appendStringInfo(&s, ", \"iterations\": %d, \"bias_regularization\": %g",
								 p->iterations, p->bias_regularization);
			if (o->attributes)
			{
				appendStringInfoString(&s, ", \"attributes\": ");
				escape_json(&s, o->attributes);
				appendStringInfo(&s, ", \"attribute_mode\": \"%s\"",
								 p->attributes_only ? "only" : "cold_start");
			}
			break;
	}
	appendStringInfoChar(&s, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}
