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
#include "core/options_parse.h"

#include <math.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"
#include "utils/json.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#define ALGORITHM_LIST "als, svd, ials, bpr, popularity, item_knn, user_knn, ease, nmf, svdpp"

const char *
rs_algorithm_name(RsAlgorithm alg)
{
	return rs_algorithm_names[alg];
}

/*
 * Whether an algorithm learns from implicit feedback.  The neighbourhood
 * models take either kind (option "feedback"): see rs_options_implicit().
 */
bool
rs_algorithm_is_implicit(RsAlgorithm alg)
{
	return alg == RS_ALG_IALS || alg == RS_ALG_BPR || alg == RS_ALG_POPULARITY ||
		alg == RS_ALG_EASE;
}

/* Served from neighbour lists (knn.h): item_knn, user_knn, and ease. */
bool
rs_algorithm_is_knn(RsAlgorithm alg)
{
	return alg == RS_ALG_ITEM_KNN || alg == RS_ALG_USER_KNN || alg == RS_ALG_EASE;
}

/* Neighbour lists per item (recsys.item_neighbors): item_knn and ease. */
bool
rs_algorithm_item_lists(RsAlgorithm alg)
{
	return alg == RS_ALG_ITEM_KNN || alg == RS_ALG_EASE;
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
	for (int a = 0; a < RS_N_ALGORITHMS; a++)
	{
		if (strcmp(name, rs_algorithm_names[a]) == 0)
			return (RsAlgorithm) a;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown algorithm \"%s\"", name),
			 errhint("Valid algorithms: " ALGORITHM_LIST ".")));
	return RS_ALG_ALS;			/* keep compiler quiet */
}

/* The default worker thread count: the online CPUs, at most 8 and at most recsys.max_threads. */
int
rs_default_threads(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return (int) Max(1, Min(Min(n, 8), rs_max_threads));
}

static char *
valid_names(RsAlgorithm alg)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int k = 0; k < rs_n_opt_specs; k++)
	{
		if (rs_opt_specs[k].algorithms & RS_ALG_BIT(alg))
			appendStringInfo(&s, "%s%s", s.len ? ", " : "", rs_opt_specs[k].name);
	}
	return s.data;
}

/* The algorithms that take spec, for a hint: "popularity", "item_knn or user_knn". */
static char *
algorithms_of(const RsOptSpec *spec)
{
	StringInfoData s;
	int			n = 0;
	int			k = 0;

	for (int a = 0; a < RS_N_ALGORITHMS; a++)
		if (spec->algorithms & RS_ALG_BIT(a))
			n++;
	initStringInfo(&s);
	for (int a = 0; a < RS_N_ALGORITHMS; a++)
		if (spec->algorithms & RS_ALG_BIT(a))
		{
			k++;
			appendStringInfo(&s, "%s%s", k == 1 ? "" : k == n ? " or " : ", ",
							 rs_algorithm_names[a]);
		}
	return s.data;
}

static double
numeric_value(JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

/* The names of a choice for a hint: "a, b or c". */
static char *
choices_text(const RsOptError *err)
{
	StringInfoData valid;

	initStringInfo(&valid);
	for (int k = 0; k < err->n_choices; k++)
		appendStringInfo(&valid, "%s%s", k == 0 ? "" : k == err->n_choices - 1 ? " or " : ", ",
						 err->choices[k]);
	return valid.data;
}

/* Reports a status of core/options_parse.c as an error (v: the value given). */
static void
option_error(RsOptStatus st, const RsOptError *err, const RsOptValue *v,
			 const RsOptState *state)
{
	const RsOptSpec *spec = err->spec;

	switch (st)
	{
		case RS_OPTS_OK:
		case RS_OPTS_UNKNOWN:	/* reported by the caller, with the name */
			break;
		case RS_OPTS_NOT_NUMBER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must be a number", spec->name),
					 errhint("%s: %s between %g and %g.", spec->name, spec->help,
							 spec->min, spec->max)));
			break;
		case RS_OPTS_NOT_INTEGER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must be an integer, not %g", spec->name, v->number)));
			break;
		case RS_OPTS_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must be between %g and %g, not %g",
							spec->name, spec->min, spec->max, v->number),
					 errhint("%s: %s.", spec->name, spec->help)));
			break;
		case RS_OPTS_NOT_BOOL:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must be true or false", spec->name),
					 errhint("%s: %s.", spec->name, spec->help)));
			break;
		case RS_OPTS_NOT_STRING:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" must be a string", spec->name),
					 errhint("%s: %s.", spec->name, spec->help)));
			break;
		case RS_OPTS_BAD_SOLVER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"solver\" must be \"cg\" or \"cholesky\", not \"%s\"", v->string)));
			break;
		case RS_OPTS_BAD_CHOICE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown %s \"%s\"", spec->name, v->string),
					 errhint("Option \"%s\" must be %s.", spec->name, choices_text(err))));
			break;
		case RS_OPTS_EMPTY_ATTRIBUTES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"attributes\" must not be empty"),
					 errhint("attributes: %s.", spec->help)));
			break;
		case RS_OPTS_WEIGHTING_NOT_COSINE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"weighting\" applies to similarity \"cosine\" only, not \"%s\"",
							rs_similarity_names[state->params.similarity]),
					 errhint("Drop \"weighting\", or use \"similarity\": \"cosine\".")));
			break;
		case RS_OPTS_BM25_WITHOUT_BM25:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options \"bm25_k1\" and \"bm25_b\" need \"weighting\": \"bm25\"")));
			break;
		case RS_OPTS_BASELINE_IMPLICIT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options \"iterations\" and \"bias_regularization\" need \"feedback\": \"explicit\""),
					 errhint("They set the baseline of explicit-feedback neighbourhood models.")));
			break;
		case RS_OPTS_MODE_WITHOUT_ATTRIBUTES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"attribute_mode\" needs option \"attributes\"")));
			break;
		case RS_OPTS_TWO_HALF_LIVES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options \"half_life\" and \"half_life_days\" cannot be combined"),
					 errhint("Give the half-life once, as an interval: \"half_life\": \"30 days\".")));
			break;
		case RS_OPTS_DECAY_WITHOUT_TIME:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"half_life\" needs option \"time_column\""),
					 errhint("Name the source's column of interaction times: \"time_column\": \"created_at\".")));
			break;
		case RS_OPTS_AS_OF_WITHOUT_DECAY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"as_of\" needs options \"time_column\" and \"half_life\""),
					 errhint("as_of is the time from which time decay counts ages.")));
			break;
		case RS_OPTS_MEAN_WITH_BIASES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"global_mean\": false needs \"biases\": false"),
					 errhint("User and item biases are deviations from the global mean; "
							 "to drop the mean, drop the biases too: \"biases\": false, \"global_mean\": false.")));
			break;
		case RS_OPTS_SQL_CONFLICT:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("option \"%s\" cannot be used with \"execution\": \"sql\"",
							rs_opt_sql_conflict(state)),
					 errhint("Training in SQL statements solves each entity exactly, on PostgreSQL's parallel workers, "
							 "and reads no interaction times: drop \"%s\", or train with \"execution\": \"memory\".",
							 rs_opt_sql_conflict(state))));
			break;
		case RS_OPTS_SQL_NO_PENALTY:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("als with \"execution\": \"sql\" needs option \"regularization\""),
					 errhint("Choosing the penalty on held-out ratings needs the ratings in memory: "
							 "give \"regularization\" (the search chooses 0.02 to 0.2 on rating data).")));
			break;
		case RS_OPTS_EASE_NO_PENALTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"regularization\" of ease must be greater than 0"),
					 errhint("EASE inverts X^T X + regularization * I, which without a penalty is singular whenever an item's users are covered by others'; "
							 "values from about 10 to 1000 are usual.")));
			break;
		case RS_OPTS_BIAS_REG_WITHOUT_BIASES:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"bias_regularization\" needs \"biases\": true"),
					 errhint("A model trained with \"biases\": false has no biases to regularise; drop \"bias_regularization\".")));
			break;
		case RS_OPTS_DECAY_KNN:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s with %s cannot use time decay",
							rs_algorithm_names[state->algorithm],
							state->params.explicit_feedback ? "\"feedback\": \"explicit\"" :
							state->params.similarity == RS_SIM_JACCARD ? "\"similarity\": \"jaccard\"" :
							"\"attribute_mode\": \"only\""),
					 errhint("Time decay weighs the values of implicit feedback (cosine, adjusted_cosine or pearson); "
							 "for decayed ratings use als or svd, or drop \"time_column\" and \"half_life\".")));
			break;
	}
}

/*
 * Time decay's half-life (an interval, in seconds, > 0) and as_of (a
 * timestamptz or a number of seconds since the epoch) into out.
 */
static void
parse_decay(const RsOptState *state, RsTrainOptions *out)
{
	Datum		iv;
	double		seconds;
	char	   *end;

	iv = DirectFunctionCall3(interval_in, CStringGetDatum(state->half_life),
							 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	seconds = DatumGetFloat8(DirectFunctionCall2(interval_part,
												 CStringGetTextDatum("epoch"), iv));
	if (!(seconds > 0) || !isfinite(seconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"half_life\" must be a positive interval, not \"%s\"",
						state->half_life),
				 errhint("For example \"half_life\": \"30 days\".")));
	out->half_life = pstrdup(state->half_life);
	out->half_life_seconds = seconds;

	if (state->as_of == NULL)
		return;
	out->as_of = strtod(state->as_of, &end);
	if (end == state->as_of || *end != '\0' || !isfinite(out->as_of))
	{
		const double unix_offset =
			(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
		TimestampTz ts;

		ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(state->as_of),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
		if (TIMESTAMP_NOT_FINITE(ts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"as_of\" must be a finite time, not \"%s\"", state->as_of),
					 errhint("For example \"as_of\": \"2024-06-01 00:00+00\".")));
		out->as_of = ts / 1000000.0 + unix_offset;
	}
}

/*
 * as_of (seconds since the epoch) as timestamptz text in UTC, ISO style,
 * for the record: the same whatever DateStyle and TimeZone say.
 */
char *
rs_epoch_text(double seconds)
{
	const double unix_offset =
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	double		us = rint((seconds - unix_offset) * 1000000.0);
	struct pg_tm tm;
	fsec_t		fsec;

	if (!(us > (double) MIN_TIMESTAMP && us < (double) END_TIMESTAMP) ||
		timestamp2tm((Timestamp) us, NULL, &tm, &fsec, NULL, NULL) != 0 || tm.tm_year < 1)
		return psprintf("%.17g", seconds);
	if (fsec != 0)
		return psprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year, tm.tm_mon,
						tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	return psprintf("%04d-%02d-%02d %02d:%02d:%02d+00", tm.tm_year, tm.tm_mon,
					tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
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
	RsOptState state;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	RsOptStatus st;
	RsOptError	err;

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

	rs_opt_defaults(&state, rs_algorithm_from_name(algorithm), rs_default_threads());
	if (options != NULL)
	{
		it = JsonbIteratorInit(&options->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *name;
			const RsOptSpec *spec;
			RsOptValue	value;

			if (tok != WJB_KEY)
				continue;
			name = pnstrdup(v.val.string.val, v.val.string.len);
			spec = rs_opt_find(name);
			if (spec == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown option \"%s\" for algorithm %s", name,
								rs_algorithm_name(state.algorithm)),
						 errhint("Valid options: %s.", valid_names(state.algorithm))));
			/* an option of other algorithms is refused, not ignored */
			if (!(spec->algorithms & RS_ALG_BIT(state.algorithm)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown option \"%s\" for algorithm %s", name,
								rs_algorithm_name(state.algorithm)),
						 errhint("Option \"%s\" applies to %s only.  Valid options: %s.",
								 name, algorithms_of(spec), valid_names(state.algorithm))));
			tok = JsonbIteratorNext(&it, &v, true);
			Assert(tok == WJB_VALUE);
			if (v.type == jbvNull)
				continue;		/* null means "the default" */
			memset(&value, 0, sizeof(value));
			switch (v.type)
			{
				case jbvNumeric:
					value.type = RS_OPTV_NUMBER;
					value.number = numeric_value(&v);
					break;
				case jbvString:
					value.type = RS_OPTV_STRING;
					value.string = pnstrdup(v.val.string.val, v.val.string.len);
					break;
				case jbvBool:
					value.type = RS_OPTV_BOOL;
					value.boolean = v.val.boolean;
					break;
				default:
					value.type = RS_OPTV_OTHER;
					break;
			}
			/* as_of may be given as seconds since the epoch */
			if (value.type == RS_OPTV_NUMBER && strcmp(name, "as_of") == 0)
			{
				value.type = RS_OPTV_STRING;
				value.string = psprintf("%.17g", value.number);
			}
			st = rs_opt_apply(&state, name, &value, &err);
			if (st != RS_OPTS_OK)
				option_error(st, &err, &value, &state);
		}
		st = rs_opt_finish(&state);
		if (st != RS_OPTS_OK)
			option_error(st, &err, NULL, &state);
	}

	/*
	 * Threads are the server's CPUs: a superuser's recsys.max_threads caps
	 * what a training may ask for.  Asking for more is refused rather than
	 * lowered, as a value out of an option's range is.
	 */
	if (state.params.threads > rs_max_threads)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"threads\" is %d, more than recsys.max_threads (%d) allows",
						state.params.threads, rs_max_threads),
				 errhint("Ask for at most %d threads; only a superuser can raise recsys.max_threads.",
						 rs_max_threads)));

	memset(out, 0, sizeof(RsTrainOptions));
	out->algorithm = (RsAlgorithm) state.algorithm;
	out->params = state.params;
	out->verbose = state.verbose;
	out->keep = state.keep;
	out->time_column = state.time_column ? pstrdup(state.time_column) : NULL;
	out->as_of = get_float8_nan();
	if (state.half_life)
		parse_decay(&state, out);
	out->attributes = state.attributes ? pstrdup(state.attributes) : NULL;
	out->execution_sql = state.execution_sql;
}

/*
 * als, svd: bias_regularization, or for a model without biases
 * "biases": false and whether it keeps the global mean (which serving
 * reads: src/serve_cache.c).  A biased model's record is as before the
 * options existed.
 */
static void
append_biases(StringInfo s, const RsParams *p)
{
	if (!p->no_biases)
		appendStringInfo(s, ", \"bias_regularization\": %g", p->bias_regularization);
	else
		appendStringInfo(s, ", \"biases\": false, \"global_mean\": %s",
						 p->no_global_mean ? "false" : "true");
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
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"regularization\": %g",
							 p->factors, p->iterations, p->regularization);
			if (p->auto_regularization)
				appendStringInfoString(&s, ", \"auto_regularization\": true");
			append_biases(&s, p);
			appendStringInfo(&s, ", \"solver\": \"%s\", \"cg_steps\": %d, \"init_std\": %g",
							 p->cholesky ? "cholesky" : "cg", p->cg_steps, p->init_std);
			break;
		case RS_ALG_SVD:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"learning_rate\": %g, \"regularization\": %g",
							 p->factors, p->iterations, p->learning_rate,
							 p->regularization);
			if (p->auto_regularization)
				appendStringInfoString(&s, ", \"auto_regularization\": true");
			append_biases(&s, p);
			appendStringInfo(&s, ", \"init_std\": %g", p->init_std);
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
		case RS_ALG_SVDPP:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"learning_rate\": %g, \"regularization\": %g",
							 p->factors, p->iterations, p->learning_rate,
							 p->regularization);
			if (p->auto_regularization)
				appendStringInfoString(&s, ", \"auto_regularization\": true");
			append_biases(&s, p);
			appendStringInfo(&s, ", \"init_std\": %g", p->init_std);
			break;
		case RS_ALG_NMF:
			appendStringInfo(&s, ", \"factors\": %d, \"iterations\": %d, \"regularization\": %g",
							 p->factors, p->iterations, p->regularization);
			append_biases(&s, p);
			appendStringInfo(&s, ", \"init_std\": %g", p->init_std);
			break;
		case RS_ALG_POPULARITY:
			appendStringInfo(&s, ", \"half_life_days\": %g", p->half_life_days);
			break;
		case RS_ALG_EASE:
			appendStringInfo(&s, ", \"regularization\": %g, \"neighbors\": %d",
							 p->regularization, p->neighbors);
			break;
		case RS_ALG_ITEM_KNN:
		case RS_ALG_USER_KNN:
			appendStringInfo(&s, ", \"feedback\": \"%s\", \"similarity\": \"%s\", \"neighbors\": %d, \"shrinkage\": %g, \"min_support\": %d, \"min_similarity\": %g, \"weighting\": \"%s\"",
							 p->explicit_feedback ? "explicit" : "implicit",
							 rs_similarity_names[p->similarity], p->neighbors,
							 p->shrinkage, p->min_support, p->min_similarity,
							 rs_weighting_names[p->weighting]);
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
	if (o->half_life)
	{
		appendStringInfoString(&s, ", \"time_column\": ");
		escape_json(&s, o->time_column);
		appendStringInfoString(&s, ", \"half_life\": ");
		escape_json(&s, o->half_life);
		appendStringInfo(&s, ", \"half_life_seconds\": %.17g", o->half_life_seconds);
		if (!isnan(o->as_of))
		{
			appendStringInfoString(&s, ", \"as_of\": ");
			escape_json(&s, rs_epoch_text(o->as_of));
			appendStringInfo(&s, ", \"as_of_epoch\": %.17g", o->as_of);
		}
	}
	if (o->execution_sql)
		appendStringInfoString(&s, ", \"execution\": \"sql\"");
	appendStringInfoChar(&s, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}
