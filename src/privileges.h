/*-------------------------------------------------------------------------
 *
 * privileges.h
 *	  Who may use a model: its owner (or a member of the owning role), a
 *	  superuser, and the roles its owner granted it to (recsys.grant_model).
 *
 * Every function that serves, evaluates or audits a model calls
 * rs_check_model_usage() at its entry; the catalog's rows are filtered
 * the same way by row-level security (recsys.usable_models()).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_PRIVILEGES_H
#define RECSYS_PRIVILEGES_H

#include "runtime.h"

/* privileges.c */
extern void rs_check_model_usage(const char *name);

#endif							/* RECSYS_PRIVILEGES_H */
