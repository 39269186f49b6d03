/*-------------------------------------------------------------------------
 *
 * train_sql.h
 *	  Training als and ials through SQL statements (train_sql.c), for
 *	  train()'s "execution": "sql".
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_TRAIN_SQL_H
#define RECSYS_TRAIN_SQL_H

#include "catalog.h"

struct RsLoader;

/*
 * Trains def's model from the rows the loader read (l, m: keys, counts
 * and the start) with one GROUP BY statement per half-step over from (the
 * source as a FROM item, resolved as the loader's query was; partitioned:
 * it names a partitioned table); out receives the model as an in-memory
 * trainer fills it.
 */
extern void rs_train_sql(const RsModelDef *def, const char *from, bool partitioned,
						 const RsTrainOptions *opts,
						 const struct RsLoader *l, const RsMatrix *m,
						 const RsEnv *env, RsModel *out);

#endif							/* RECSYS_TRAIN_SQL_H */
