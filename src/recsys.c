/*-------------------------------------------------------------------------
 *
 * recsys.c
 *	  The module entry: the magic block and _PG_init(), which defines every
 *	  setting as soon as the library is loaded (each part defines its own:
 *	  runtime.c, hnswoptions.c, train.c) and reserves the "recsys" prefix.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "hnsw.h"
#include "train.h"

PG_MODULE_MAGIC;

extern void _PG_init(void);

void
_PG_init(void)
{
	/* the caps first, so that a limit set in the same place is checked against them */
	rs_runtime_init();
	/* before the prefix is reserved, so recsys.ef_search set early is kept */
	rs_hnsw_init();
	MarkGUCPrefixReserved("recsys");

	rs_train_init();
}
