/*-------------------------------------------------------------------------
 *
 * options.h
 *	  Training options: the algorithms, their knobs, defaults and valid
 *	  ranges, and the validation of a user's jsonb against them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_OPTIONS_H
#define RECSYS_OPTIONS_H

#include "runtime.h"

#include "core/core.h"
#include "utils/jsonb.h"

typedef enum RsAlgorithm
{
	RS_ALG_ALS,
	RS_ALG_SVD,
	RS_ALG_IALS,
	RS_ALG_BPR,
	RS_ALG_POPULARITY,
	RS_ALG_ITEM_KNN,
	RS_ALG_USER_KNN,
	RS_ALG_EASE,
	RS_ALG_NMF,
	RS_ALG_SVDPP
} RsAlgorithm;

/* Everything a training run needs besides the data. */
typedef struct RsTrainOptions
{
	RsAlgorithm algorithm;
	RsParams	params;
	bool		verbose;		/* NOTICE per iteration */
	int			keep;			/* versions kept after this one is added */
	char	   *time_column;	/* function form: column with timestamps */
	char	   *half_life;		/* time decay: the interval given, or NULL */
	double		half_life_seconds;	/* time decay: > 0, or 0 for none */
	double		as_of;			/* time decay: seconds since the epoch; NaN
								 * until set (the newest interaction) */
	char	   *attributes;		/* item_knn: table or SELECT of (item, vector) */
	bool		execution_sql;	/* als, ials: trained by SQL statements
								 * (train_sql.c) */
} RsTrainOptions;

/* options.c */
extern int	rs_default_threads(void);
extern const char *rs_algorithm_name(RsAlgorithm alg);
extern bool rs_algorithm_is_implicit(RsAlgorithm alg);
extern bool rs_algorithm_is_knn(RsAlgorithm alg);
extern bool rs_algorithm_item_lists(RsAlgorithm alg);
extern bool rs_options_implicit(const RsTrainOptions *o);
extern RsAlgorithm rs_algorithm_from_name(const char *name);
extern void rs_parse_options(Jsonb *options, const char *algorithm,
							 RsTrainOptions *out);
extern Jsonb *rs_options_effective(const RsTrainOptions *o);
extern char *rs_epoch_text(double seconds);

#endif							/* RECSYS_OPTIONS_H */
