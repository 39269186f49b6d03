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
#define A_MF	(A_ALS | A_SVD | A_IALS | A_BPR)
#define A_ALL	(A_MF | A_POP)

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
	{"algorithm", OPT_TEXT, A_ALL, 0, 0, "als, svd, ials, bpr or popularity"},
	{"factors", OPT_INT, A_MF, 1, 1024, "latent dimensions"},
	{"iterations", OPT_INT, A_MF, 1, 10000, "ALS sweeps or SGD epochs"},
	{"regularization", OPT_REAL, A_MF, 0, 1e6, "L2 penalty on factors"},
	{"bias_regularization", OPT_REAL, A_ALS | A_SVD, 0, 1e6, "L2 penalty on biases"},
	{"alpha", OPT_REAL, A_IALS, 0, 1e6, "confidence 1 + alpha * value"},
	{"learning_rate", OPT_REAL, A_SVD | A_BPR, 1e-9, 10, "SGD step size"},
	{"init_std", OPT_REAL, A_MF, 0, 10, "std. dev. of the initial factors"},
	{"cg_steps", OPT_INT, A_ALS | A_IALS, 1, 100, "conjugate-gradient steps per solve"},
	{"solver", OPT_TEXT, A_ALS | A_IALS, 0, 0, "cg or cholesky"},
	{"samples", OPT_INT, A_BPR, 1, 1000, "negative samples per interaction per epoch"},
	{"half_life_days", OPT_REAL, A_POP, 0, 1e6, "time decay of popularity (0 = none)"},
	{"time_column", OPT_TEXT, A_ALL, 0, 0, "column holding interaction times"},
	{"threads", OPT_INT, A_ALL, 1, 64, "worker threads"},
	{"seed", OPT_INT, A_ALL, 0, 2147483647, "random seed"},
	{"verbose", OPT_BOOL, A_ALL, 0, 0, "a NOTICE per iteration"},
	{"keep", OPT_INT, A_ALL, 1, 1000, "versions of the model to keep"},
};

static const char *const alg_names[] = {"als", "svd", "ials", "bpr", "popularity"};

const char *
rs_algorithm_name(RsAlgorithm alg)
{
	return alg_names[alg];
}

bool
rs_algorithm_is_implicit(RsAlgorithm alg)
{
	return alg == RS_ALG_IALS || alg == RS_ALG_BPR || alg == RS_ALG_POPULARITY;
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
			 errhint("Valid algorithms: als, svd, ials, bpr, popularity.")));
	return RS_ALG_ALS;			/* keep compiler quiet */
}

static int
default_threads(void)
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
	p->threads = default_threads();
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
	}
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
				 errhint("Valid algorithms: als, svd, ials, bpr, popularity.")));
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
	}
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
	}
	appendStringInfoChar(&s, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}
