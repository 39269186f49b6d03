/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  The recsys_hnsw access method handler: its capabilities, the
 *	  planner's cost estimate and opclass validation.  The settings and
 *	  reloptions are hnswoptions.c's; the phases have a file each
 *	  (hnswbuild.c, hnswinsert.c, hnswscan.c, hnswvacuum.c).
 *
 *-------------------------------------------------------------------------
 */
#include "hnsw.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "nodes/value.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

static char *
hnsw_buildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case HNSW_PHASE_LOAD:
			return "loading tuples";
		case HNSW_PHASE_GRAPH:
			return "building graph in memory";
		case HNSW_PHASE_WRITE:
			return "writing pages";
		case HNSW_PHASE_DISK:
			return "inserting beyond maintenance_work_mem";
		default:
			return NULL;
	}
}

/*
 * The cost of an ordered scan.  The index answers only ORDER BY col <op> q
 * (no quals), so without an ORDER BY it is priced out.  A search reads
 * about ef_search * m elements on layer 0 plus a few per upper layer, each
 * one distance computation, all before the first row comes back: that is
 * the startup cost.  A small table is cheaper to scan and sort, and the
 * estimate says so because the visited count is capped by the table size
 * while the per-element cost is higher than a sequential tuple.
 */
static void
hnsw_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				  Cost *indexStartupCost, Cost *indexTotalCost,
				  Selectivity *indexSelectivity, double *indexCorrelation,
				  double *indexPages)
{
	GenericCosts costs;
	double		ntuples = Max(path->indexinfo->tuples, 1.0);
	int			m = HNSW_DEFAULT_M;
	double		layers;
	double		visited;
	Relation	index;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = disable_cost;
		*indexTotalCost = disable_cost;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	m = hnsw_get_m(index);
	index_close(index, NoLock);

	layers = log(ntuples) / log((double) m);
	visited = (double) hnsw_ef_search * m + layers * m;
	visited = Min(visited, ntuples);

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = visited;
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * The whole first round happens before the first tuple.  Every row past
	 * it costs another expansion (about 2m distances on a random page), so
	 * reading the whole table through the index is priced far above a sort
	 * and the planner uses the index only under a LIMIT.
	 */
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost +
		ntuples * (2.0 * m * 4.0 * cpu_operator_cost + random_page_cost / 4.0);
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/*
 * Opclass validation: support function 1 takes and returns internal, and
 * every operator is an ordering operator (strategy 1) returning float8 and
 * sorted by float8's btree family.
 */
static bool
hnsw_validate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		has_proc = false;
	Oid			floatfam;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum != HNSW_SUPPORT_PROC)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("recsys_hnsw operator class \"%s\" has support function number %d, only 1 is allowed",
							opclassname, procform->amprocnum)));
			result = false;
			continue;
		}
		if (!check_amproc_signature(procform->amproc, INTERNALOID, false, 1, 1, INTERNALOID))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("recsys_hnsw operator class \"%s\" has a support function 1 with the wrong signature",
							opclassname),
					 errhint("It must take internal and return internal.")));
			result = false;
		}
		if (procform->amproclefttype == opcintype && procform->amprocrighttype == opcintype)
			has_proc = true;
	}
	if (!has_proc)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("recsys_hnsw operator class \"%s\" is missing support function 1",
						opclassname)));
		result = false;
	}

	floatfam = get_opfamily_oid(BTREE_AM_OID, list_make2(makeString("pg_catalog"),
														 makeString("float_ops")), false);
	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy != 1 || oprform->amoppurpose != AMOP_ORDER ||
			oprform->amopsortfamily != floatfam ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID,
								  oprform->amoplefttype, oprform->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("recsys_hnsw operator class \"%s\" has an operator that is not strategy 1 ORDER BY float_ops returning double precision",
							opclassname)));
			result = false;
		}
	}

	ReleaseCatCacheList(oprlist);
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

PG_FUNCTION_INFO_V1(recsys_hnsw_handler);
Datum
recsys_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = 1;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = true;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = hnsw_build;
	am->ambuildempty = hnsw_buildempty;
	am->aminsert = hnsw_insert;
	am->ambulkdelete = hnsw_bulkdelete;
	am->amvacuumcleanup = hnsw_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = hnsw_costestimate;
	am->amoptions = hnsw_options;
	am->amproperty = NULL;
	am->ambuildphasename = hnsw_buildphasename;
	am->amvalidate = hnsw_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = hnsw_beginscan;
	am->amrescan = hnsw_rescan;
	am->amgettuple = hnsw_gettuple;
	am->amgetbitmap = NULL;
	am->amendscan = hnsw_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}
