/*-------------------------------------------------------------------------
 *
 * train.h
 *	  What train.c, the SQL side of training (recsys.train, retrain, fit
 *	  and the parallel-aggregate form), offers the rest of the extension.
 *	  (The contract of the training algorithms themselves is core/core.h.)
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_TRAIN_GLUE_H
#define RECSYS_TRAIN_GLUE_H

#include "catalog.h"
#include "fmgr.h"

struct RsLoader;

/* defines the settings of training (recsys.c calls it from _PG_init) */
extern void rs_train_init(void);

/* the SELECT reading one user's rows of a model's source (fold-in) */
extern char *rs_user_source_query(const RsModelDef *def, const char *user_type,
								  const char *time_column);
/* a monotonic clock, in seconds */
extern double rs_now_seconds(void);
/* the services of the numeric cores, memory from cxt (bounded) */
extern void rs_train_env_init(RsEnv *env, MemoryContext cxt, const char *model,
							  bool verbose);
/* the recsys.train_result row of a summary */
extern Datum rs_train_result(FunctionCallInfo fcinfo, const char *model,
							 const RsTrainOptions *opts, const RsTrainSummary *s);
/* the rows of a model's source newer than since (recsys.update()) */
extern char *rs_new_rows_query(const RsModelDef *def, const char *time_column,
							   double since);
/* values as an algorithm reads them: finite, not negative for ials and bpr */
extern void rs_check_values(const RsMatrix *m, const struct RsLoader *l,
							const RsTrainOptions *opts);
/* a source given as a table, view or SELECT, as a FROM item */
extern char *rs_source_from_item(const char *source, const char *message,
								 const char *hint);
/* regularization.c: als's and svd's penalty on factors, chosen on held-out ratings */
extern Size rs_choose_regularization(const RsMatrix *m, RsAlgorithm algorithm,
									 RsParams *params, const RsEnv *env,
									 MemoryContext cxt);

#endif							/* RECSYS_TRAIN_GLUE_H */
