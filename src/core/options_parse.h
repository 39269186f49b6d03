/*-------------------------------------------------------------------------
 *
 * options_parse.h
 *	  The table of training options and their validation, in plain C (no
 *	  PostgreSQL headers): options.c feeds it the jsonb a user passed and
 *	  turns its statuses into errors; the libFuzzer target
 *	  test/fuzz/fuzz_options.c feeds it arbitrary options.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_OPTIONS_CORE_H
#define RECSYS_OPTIONS_CORE_H

#include "core.h"

/* algorithms, in the order of RsAlgorithm (options.h) */
#define RS_N_ALGORITHMS 10
#define RS_ALG_BIT(a) (1 << (a))

typedef enum RsOptKind
{
	RS_OPT_INT,
	RS_OPT_REAL,
	RS_OPT_BOOL,
	RS_OPT_TEXT
} RsOptKind;

typedef struct RsOptSpec
{
	const char *name;
	RsOptKind	kind;
	int			algorithms;		/* bitmask of algorithms that accept it */
	double		min;
	double		max;
	const char *help;
} RsOptSpec;

#define RS_MAX_OPTIONS 48

extern const RsOptSpec rs_opt_specs[];
extern const int rs_n_opt_specs;
extern const char *const rs_algorithm_names[RS_N_ALGORITHMS];
extern const char *const rs_similarity_names[4];
extern const char *const rs_weighting_names[3];

/* one option's value, as the JSON gave it */
typedef enum RsOptValueType
{
	RS_OPTV_NUMBER,
	RS_OPTV_STRING,
	RS_OPTV_BOOL,
	RS_OPTV_OTHER				/* array or object */
} RsOptValueType;

typedef struct RsOptValue
{
	RsOptValueType type;
	double		number;
	const char *string;			/* NUL-terminated; kept by the state */
	bool		boolean;
} RsOptValue;

/* the options of one training run, as they are being built */
typedef struct RsOptState
{
	int			algorithm;
	RsParams	params;
	bool		verbose;
	int			keep;
	const char *time_column;
	const char *half_life;		/* time decay: an interval, as text */
	const char *as_of;			/* time decay: a timestamptz, as text */
	const char *attributes;
	bool		execution_sql;	/* "execution": "sql" (train_sql.c) */
	bool		given[RS_MAX_OPTIONS];
} RsOptState;

typedef enum RsOptStatus
{
	RS_OPTS_OK = 0,
	RS_OPTS_UNKNOWN,			/* no such option for this algorithm */
	RS_OPTS_NOT_NUMBER,
	RS_OPTS_NOT_INTEGER,
	RS_OPTS_OUT_OF_RANGE,
	RS_OPTS_NOT_BOOL,
	RS_OPTS_NOT_STRING,
	RS_OPTS_BAD_SOLVER,
	RS_OPTS_BAD_CHOICE,			/* not one of err->choices */
	RS_OPTS_EMPTY_ATTRIBUTES,
	RS_OPTS_WEIGHTING_NOT_COSINE,
	RS_OPTS_BM25_WITHOUT_BM25,
	RS_OPTS_BASELINE_IMPLICIT,
	RS_OPTS_MODE_WITHOUT_ATTRIBUTES,
	RS_OPTS_TWO_HALF_LIVES,		/* half_life and half_life_days */
	RS_OPTS_DECAY_WITHOUT_TIME, /* half_life without time_column */
	RS_OPTS_AS_OF_WITHOUT_DECAY,	/* as_of without half_life */
	RS_OPTS_DECAY_KNN,			/* decay with explicit knn, jaccard or
								 * attribute_mode only */
	RS_OPTS_MEAN_WITH_BIASES,	/* global_mean false, biases true */
	RS_OPTS_BIAS_REG_WITHOUT_BIASES,	/* bias_regularization, biases false */
	RS_OPTS_EASE_NO_PENALTY,	/* ease with regularization 0 */
	RS_OPTS_SQL_CONFLICT,		/* execution sql with an option it cannot
								 * honour (rs_opt_sql_conflict) */
	RS_OPTS_SQL_NO_PENALTY		/* execution sql, als without regularization */
} RsOptStatus;

/* what an error is about */
typedef struct RsOptError
{
	const RsOptSpec *spec;
	const char *const *choices;
	int			n_choices;
} RsOptError;

extern const RsOptSpec *rs_opt_find(const char *name);
extern void rs_opt_defaults(RsOptState *s, int algorithm, int threads);
extern RsOptStatus rs_opt_apply(RsOptState *s, const char *name,
								const RsOptValue *v, RsOptError *err);
extern RsOptStatus rs_opt_finish(const RsOptState *s);
extern const char *rs_opt_sql_conflict(const RsOptState *s);

#endif							/* RECSYS_OPTIONS_CORE_H */
