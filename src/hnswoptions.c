/*-------------------------------------------------------------------------
 *
 * hnswoptions.c
 *	  The settings of the recsys_hnsw index: its reloptions (m,
 *	  ef_construction) and GUCs (recsys.ef_search, recsys.max_scan_tuples,
 *	  recsys.hnsw_cache_size and its cap recsys.max_hnsw_cache_size).
 *	  Every other file of the index reads them from here; this file calls
 *	  none of them.
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <limits.h>

#include "access/reloptions.h"
#include "utils/guc.h"
#include "utils/rel.h"

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_max_scan_tuples = 20000;

static relopt_kind hnsw_relopt_kind;

/* recsys.hnsw_cache_size: the element cache of the scans (hnswcache.c) */
int			hnsw_cache_size_kb = 256 * 1024;

/* recsys.max_hnsw_cache_size: the largest recsys.hnsw_cache_size a role may use */
int			hnsw_max_cache_size_kb = 256 * 1024;

static bool
check_hnsw_cache_size(int *newval, void **extra, GucSource source)
{
	(void) extra;
	return rs_check_capped_limit(*newval, hnsw_max_cache_size_kb, "recsys.hnsw_cache_size",
								 "recsys.max_hnsw_cache_size", source);
}

/* The element cache's size in force, in kB: recsys.hnsw_cache_size within its cap. */
int
hnsw_cache_size_effective_kb(void)
{
	return Min(hnsw_cache_size_kb, hnsw_max_cache_size_kb);
}

/* Called from _PG_init: reloptions and GUCs must exist before any index is opened. */
void
rs_hnsw_init(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Neighbours per element on each graph layer (twice as many on layer 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list while the graph is built",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("recsys.ef_search",
							"Sets the size of the candidate list of a recsys_hnsw index scan.",
							"Larger values find the true nearest neighbours more often and "
							"take longer.  SET LOCAL changes it for one transaction.",
							&hnsw_ef_search,
							HNSW_DEFAULT_EF_SEARCH, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("recsys.max_hnsw_cache_size",
							"Sets the largest recsys.hnsw_cache_size a role may use.",
							"Only superusers can change it.  recsys.hnsw_cache_size cannot be "
							"SET above it, and a larger recsys.hnsw_cache_size from elsewhere "
							"counts as this value.",
							&hnsw_max_cache_size_kb,
							256 * 1024, 0, MAX_KILOBYTES,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("recsys.hnsw_cache_size",
							"Sets the memory a backend may keep copies of recsys_hnsw index elements in.",
							"Scans copy the elements they read into flat arrays that later "
							"scans of the same, unchanged index reuse; 0 turns this off.",
							&hnsw_cache_size_kb,
							256 * 1024, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, check_hnsw_cache_size, NULL, NULL);
	DefineCustomIntVariable("recsys.max_scan_tuples",
							"Sets how many index entries a recsys_hnsw scan may visit when a "
							"filter rejects rows.",
							"A scan continues past ef_search until the query has its rows "
							"or this many entries have been returned.",
							&hnsw_max_scan_tuples,
							20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

bytea *
hnsw_options(Datum reloptions, bool validate)
{
	/* (named members: 18 added one, isset_offset, that stays 0 here) */
	static const relopt_parse_elt tab[] = {
		{.optname = "m", .opttype = RELOPT_TYPE_INT, .offset = offsetof(HnswOptions, m)},
		{.optname = "ef_construction", .opttype = RELOPT_TYPE_INT,
		 .offset = offsetof(HnswOptions, efConstruction)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(HnswOptions), tab, lengthof(tab));
}

int
hnsw_get_m(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

int
hnsw_get_ef_construction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->efConstruction : HNSW_DEFAULT_EF_CONSTRUCTION;
}
