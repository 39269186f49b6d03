/*-------------------------------------------------------------------------
 *
 * serve.h
 *	  What serving offers the rest of the extension: the served (cached)
 *	  version of a model (0: the active one) and its predictions, so that evaluation
 *	  scores test rows through the same code as recsys.predict().
 *
 * All of these run inside an SPI connection.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_SERVE_H
#define RECSYS_SERVE_H

#include "runtime.h"

struct ServedModel;

/* serve.c */
extern struct ServedModel *rs_served_model(const char *name, int32 version);
extern int32 rs_served_item(struct ServedModel *m, const char *key);
extern bool rs_served_explicit(const struct ServedModel *m);
extern bool rs_served_predict(struct ServedModel *m, const char *ukey, int32 n,
							  const int32 *items, double *out, bool *valid);

#endif							/* RECSYS_SERVE_H */
