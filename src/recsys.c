/*-------------------------------------------------------------------------
 *
 * recsys.c
 *	  Module entry point: the magic block and one-time initialisation
 *	  (GUCs of every part are defined here so they exist as soon as the
 *	  library is loaded).
 *
 *-------------------------------------------------------------------------
 */
#include "recsys.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void
_PG_init(void)
{
	/* Nothing to set up yet; later parts register their GUCs here. */
}
