/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Writes the model catalog (a new version, dropping a model) and keeps
 *	  the rules every catalog statement runs by: whose rights (the
 *	  catalog's owner, or a model's owner for its stored queries) and which
 *	  search_path (see catalog.h for the layout and the privilege rules).
 *	  Reading versions back for serving is catalog_read.c's.  All SQL here
 *	  names objects fully qualified.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include <math.h>

#include "access/table.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "common/md5.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "embedding.h"
#include "compat.h"

/* rows per INSERT when storing factors */
#define STORE_CHUNK 8192

#define MAX_MODEL_NAME 200

void
rs_check_model_name(const char *name)
{
	if (name[0] == '\0' || strlen(name) > MAX_MODEL_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("model name must be between 1 and %d bytes long", MAX_MODEL_NAME)));
}

Oid
rs_recsys_namespace(void)
{
	return get_namespace_oid("recsys", false);
}

/*
 * Citus runs the parts of a distributed query it pushes down to the shards
 * (a GROUP BY on the distribution column, a LATERAL call per row of a
 * distributed table) on the worker nodes, over connections it marks with
 * an application_name of this prefix.  The recsys catalog is the
 * coordinator's: a worker's is empty, so a recsys function reaching the
 * catalog there would find no model or store one nobody reads.
 */
#define RS_CITUS_TASK_PREFIX "citus_internal gpid="

void
rs_refuse_shard_task(void)
{
	if (application_name != NULL &&
		strncmp(application_name, RS_CITUS_TASK_PREFIX, strlen(RS_CITUS_TASK_PREFIX)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys cannot run in a distributed query's task on a worker node"),
				 errdetail("The session's application_name \"%s\" marks a Citus internal connection; the recsys catalog, with every model, is the coordinator's.",
						   application_name),
				 errhint("Run recsys on the coordinator: train with recsys.train() over the distributed table (the coordinator reads it), or give fit() and the serving functions input the coordinator has already fetched, e.g. from a MATERIALIZED common table expression.")));
}

/* The catalog tables' owner; every use of the catalog starts here. */
Oid
rs_catalog_owner(void)
{
	Oid			relid;
	Relation	rel;
	Oid			owner;

	rs_refuse_shard_task();
	relid = get_relname_relid("models", rs_recsys_namespace());
	if (!OidIsValid(relid))
		elog(ERROR, "recsys catalog table \"models\" is missing");
	rel = table_open(relid, AccessShareLock);
	owner = rel->rd_rel->relowner;
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * Switches to role with search_path set, under SECURITY_RESTRICTED_OPERATION,
 * as PostgreSQL runs a materialized view's query on REFRESH: the code that
 * runs until rs_run_as_end() has role's rights only, cannot change the
 * session (SET ROLE, temporary objects), and resolves names through
 * search_path alone.  An error unwinds both with the (sub)transaction.
 */
void
rs_run_as_begin(RsRunAs *s, Oid role, const char *search_path)
{
	GetUserIdAndSecContext(&s->save_user, &s->save_sec);
	SetUserIdAndSecContext(role, s->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	s->save_nestlevel = rs_pin_search_path_to(search_path);
}

void
rs_run_as_end(RsRunAs *s)
{
	rs_unpin_search_path(s->save_nestlevel);
	SetUserIdAndSecContext(s->save_user, s->save_sec);
}

/*
 * The search_path a model's stored queries run with: the one in force when
 * the model was trained with recsys.train() (models of 0.1.0, which did
 * not record it, get PostgreSQL's default "$user", public), with pg_temp
 * taken out and put last, so that no temporary object of the session that
 * happens to run the query comes before the trainer's schemas ("$user"
 * then means the owner, as the query runs as the owner).
 */
char *
rs_stored_search_path(const char *trainer_path)
{
	char	   *raw = pstrdup(trainer_path ? trainer_path : "\"$user\", public");
	List	   *names;
	ListCell   *lc;
	StringInfoData buf;

	if (!SplitIdentifierString(raw, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stored search_path \"%s\" is not a list of schema names", trainer_path),
				 errhint("Retrain the model with recsys.train(), which records the search_path in force.")));
	initStringInfo(&buf);
	foreach(lc, names)
	{
		const char *n = lfirst(lc);

		if (strcmp(n, "pg_temp") == 0 || strncmp(n, "pg_temp_", 8) == 0)
			continue;
		appendStringInfo(&buf, "%s, ", quote_identifier(n));
	}
	appendStringInfoString(&buf, "pg_temp");
	return buf.data;
}

/*
 * Switches to a model's owner for running its stored queries (the source
 * on retrain and fold-in, item_knn's attributes on retrain): whoever
 * triggers them, they run with the owner's rights, under
 * SECURITY_RESTRICTED_OPERATION, with the search_path fixed when the model
 * was trained.
 */
void
rs_run_as_model_owner(RsRunAs *s, const RsModelDef *def)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(def->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that owns model \"%s\" no longer exists", def->name),
				 errdetail("Its stored source runs as its owner."),
				 errhint("A superuser can give the model to another role with recsys.alter_model_owner().")));
	rs_run_as_begin(s, def->owner, rs_stored_search_path(def->search_path));
}

/* planning may run immutable functions of constants: read-only too */
static CachedPlan *
plan_read_only(SPIPlanPtr plan)
{
	CachedPlan *cplan = NULL;

	RS_READ_ONLY(cplan = SPI_plan_get_cached_plan(plan));
	return cplan;
}

static SPIPlanPtr
prepare_read_only(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = NULL;

	RS_READ_ONLY(plan = SPI_prepare(sql, nargs, types));
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Prepares and plans a model's stored query (inside rs_run_as_model_owner,
 * the transaction read-only throughout), and says what keeps it from
 * running: RS_STORED_DENIED when the owner may no longer read a relation
 * it reads, RS_STORED_TEMPORARY when it reads a temporary table or view.
 * A stored query never reads temporary objects: they belong to whichever
 * session happens to run it, which could put its own there under the
 * name of one the owner dropped (PostgreSQL refuses temporary relations
 * in a materialized view for the same reason).
 */
RsStoredCheck
rs_prepare_stored_query(const char *sql, int nargs, Oid *types, SPIPlanPtr *plan_out)
{
	SPIPlanPtr	plan = prepare_read_only(sql, nargs, types);
	CachedPlan *cplan = plan_read_only(plan);
	RsStoredCheck result = RS_STORED_OK;
	ListCell   *lc;

	if (cplan)
	{
		foreach(lc, cplan->stmt_list)
		{
			PlannedStmt *ps = lfirst_node(PlannedStmt, lc);
			ListCell   *rc;

			foreach(rc, ps->rtable)
			{
				RangeTblEntry *rte = lfirst_node(RangeTblEntry, rc);

				if (rte->rtekind == RTE_RELATION &&
					isAnyTempNamespace(get_rel_namespace(rte->relid)))
					result = RS_STORED_TEMPORARY;
			}
			if (result == RS_STORED_OK && !rs_plan_permissions_ok(ps))
				result = RS_STORED_DENIED;
		}
		/* (an unsaved plan: its cached plan has no resource owner) */
		ReleaseCachedPlan(cplan, NULL);
	}
	*plan_out = plan;
	return result;
}

/* A stored query that may not run, as an error (retrain). */
void
rs_check_stored_query(const RsModelDef *def, const char *sql)
{
	SPIPlanPtr	plan;
	RsStoredCheck check = rs_prepare_stored_query(sql, 0, NULL, &plan);

	SPI_freeplan(plan);
	if (check == RS_STORED_TEMPORARY)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the stored source of model \"%s\" reads a temporary table or view", def->name),
				 errdetail("A model's stored queries never read the temporary objects of the session that runs them."),
				 errhint("Train the model again with recsys.train() from a permanent table, view or query.")));
	/* RS_STORED_DENIED: reading it reports which relation */
}


/*
 * Runs catalog SQL as the catalog's owner with search_path pinned, so that
 * neither the caller's privileges nor objects on the caller's search_path
 * can change what it does.
 */
int
rs_catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
			 const char *nulls, bool read_only)
{
	RsRunAs		as;
	int			rc;

	rs_run_as_begin(&as, rs_catalog_owner(), RS_CATALOG_SEARCH_PATH);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);
	if (rc < 0)
		elog(ERROR, "recsys catalog statement failed: %s", SPI_result_code_string(rc));
	rs_run_as_end(&as);
	return rc;
}

/*
 * One training run of a model at a time: a transaction-level advisory lock
 * on the model name.  A second retrain waits for the first to commit, then
 * adds its own version after it.  (Field 4 = 3 keeps these locks apart
 * from the SQL-level advisory lock functions, which use 1 and 2.)
 */
void
rs_lock_model(const char *name)
{
	LOCKTAG		tag;
	uint64		h = DatumGetUInt64(hash_any_extended((const unsigned char *) name,
													 strlen(name), 0x7265637379ULL));

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, 3);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Results of the lookups below outlive the caller's SPI connection, so
 * they are copied into the caller's memory context with SPI_palloc.
 */
char *
rs_spi_strdup(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy = SPI_palloc(len);

	memcpy(copy, s, len);
	return copy;
}

static char *
text_or_null(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : rs_spi_strdup(TextDatumGetCString(d));
}

RsModelDef *
rs_model_lookup(const char *name, bool missing_ok)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	RsModelDef *def;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	rs_catalog_exec("SELECT source, user_column, item_column, rating_column, options, "
				 "algorithm, owner::pg_catalog.oid, search_path FROM recsys.models WHERE name = $1",
				 1, types, values, NULL, false);
	if (SPI_processed == 0)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	def = SPI_palloc(sizeof(RsModelDef));
	memset(def, 0, sizeof(RsModelDef));
	def->name = rs_spi_strdup(name);
	def->source = text_or_null(tup, desc, 1);
	def->user_column = text_or_null(tup, desc, 2);
	def->item_column = text_or_null(tup, desc, 3);
	def->rating_column = text_or_null(tup, desc, 4);
	d = SPI_getbinval(tup, desc, 5, &isnull);
	if (isnull)
		def->options = NULL;
	else
	{
		Jsonb	   *j = DatumGetJsonbP(d);

		def->options = SPI_palloc(VARSIZE(j));
		memcpy(def->options, j, VARSIZE(j));
	}
	def->algorithm = text_or_null(tup, desc, 6);
	def->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
	def->search_path = text_or_null(tup, desc, 8);
	def->stored = true;
	return def;
}

void
rs_check_model_owner(const RsModelDef *def)
{
	if (superuser())
		return;
	/* a dropped owner's OID matches no role: only superusers act on it */
	if (!has_privs_of_role(GetUserId(), def->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of model \"%s\"", def->name),
				 errhint("Ask its owner to retrain or drop it, or train a model of another name.")));
}

int32
rs_next_version(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	int32		v;

	/* not read-only: a fresh snapshot sees a version committed while we waited */
	rs_catalog_exec("SELECT coalesce(max(version), 0) + 1 FROM recsys.model_versions WHERE model = $1",
				 1, types, values, NULL, false);
	v = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return v;
}

Oid
rs_embedding_type_oid(void)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("embedding"),
						   ObjectIdGetDatum(rs_recsys_namespace()));
}

static Datum
text_or_null_datum(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

static Datum
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int k = 0; k < n; k++)
		d[k] = Float8GetDatum(v[k]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* A one-dimensional array of 4-byte elements straight from a C array. */
static Datum
array4(const void *v, int n, Oid elemtype)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + 4 * (Size) n;
	ArrayType  *a = (ArrayType *) palloc0(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = elemtype;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	if (n > 0)
		memcpy(ARR_DATA_PTR(a), v, 4 * (Size) n);
	return PointerGetDatum(a);
}

/* An int4[] built straight from a C array (no per-element Datums). */
static Datum
int4_array(const int32 *v, int n)
{
	return array4(v, n, INT4OID);
}

static Datum
float4_array(const float *v, int n)
{
	return array4(v, n, FLOAT4OID);
}

/*
 * Stores one side (users or items) of a model, STORE_CHUNK rows per
 * INSERT, as arrays: key, dense index, bias, factors, number of
 * interactions, and for users the dense indexes of the items they
 * interacted with in training (the "seen" items serving excludes) and,
 * when `ratings` is given (explicit neighbourhood models), their values;
 * `private_values` (see rs_keeps_user_values()) go to recsys.user_values.
 * A chunk's seen lists are one flat array sliced per row, since CSR rows
 * of consecutive users are contiguous.
 */
/*
 * Whether a version keeps each user's interaction values for
 * recsys.update() (in recsys.user_values, which only the catalog's owner
 * reads: they are the source's data): als, svd and ials trained with a
 * time column and without time decay, the factor models update() re-solves
 * users of from their values.  (bpr and popularity read no values;
 * explicit neighbourhood models keep theirs in user_factors.ratings, for
 * serving.)
 */
bool
rs_keeps_user_values(const RsTrainOptions *opts)
{
	return opts->time_column != NULL && opts->half_life_seconds <= 0 &&
		!(opts->params.half_life_days > 0) &&
		(opts->algorithm == RS_ALG_ALS || opts->algorithm == RS_ALG_SVD ||
		 opts->algorithm == RS_ALG_NMF || opts->algorithm == RS_ALG_SVDPP ||
		 opts->algorithm == RS_ALG_IALS);
}

/* seconds since the epoch as a timestamptz Datum (*null for NaN) */
static Datum
epoch_datum(double seconds, char *null)
{
	const double unix_offset =
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

	double		us;

	*null = isnan(seconds) ? 'n' : ' ';
	if (isnan(seconds))
		return (Datum) 0;
	us = rint((seconds - unix_offset) * 1000000.0);
	if (!(us > (double) MIN_TIMESTAMP && us < (double) END_TIMESTAMP))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interaction time %.17g seconds since 1970 is out of the range of timestamptz",
						seconds),
				 errhint("Numeric times are seconds since 1970-01-01 00:00 UTC; convert other units in the source query (for example t / 1000000.0 for microseconds).")));
	return TimestampTzGetDatum((TimestampTz) us);
}

typedef struct EntityRows
{
	int32		n;
	const RsKeyMap *keys;		/* row e's key and index: key e of keys, e, */
	char	  **key_text;		/* or key_text[e], ids[e] */
	const int32 *ids;
	const float *bias;			/* n, or NULL */
	const float *factors;		/* n x nfactors, or NULL */
	int			nfactors;
	const int64 *ptr;			/* n + 1: interactions of row e */
	const int32 *seen;			/* users: item indexes, by ptr */
	const float *ratings;		/* users: their values, or NULL */
	const float *private_values;	/* users: values for recsys.user_values,
									 * or NULL */
	const float *implicit;		/* items: svdpp's y, n x nfactors, or NULL */
} EntityRows;

/* Row e of an n x nfactors matrix as an embedding Datum */
static Datum
embedding_row(const float *m, int32 e, int nfactors)
{
	Embedding  *emb = embedding_alloc(nfactors);

	for (int j = 0; j < nfactors; j++)
	{
		emb->x[j] = m[(int64) e * nfactors + j];
		embedding_check_element(emb->x[j]);
	}
	return PointerGetDatum(emb);
}

static void
store_entities(const char *model, int32 version, bool is_user,
			   const EntityRows *r, Oid emb_type)
{
	const RsKeyMap *keys = r->keys;
	const float *bias = r->bias;
	const float *factors = r->factors;
	int			nfactors = r->nfactors;
	const int64 *ptr = r->ptr;
	const int32 *seen = r->seen;
	const float *ratings = r->ratings;
	const char *sql = is_user ?
		"INSERT INTO recsys.user_factors (model, version, user_key, user_idx, bias, factors, interactions, seen, ratings) "
		"SELECT $1, $2, k, i, b, f, n, $8[o + 1 : o + n], $10[o + 1 : o + n] "
		"FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::int4[]), "
		"pg_catalog.unnest($5::float4[]), pg_catalog.unnest($6), pg_catalog.unnest($7::int4[]), "
		"pg_catalog.unnest($9::int4[])) AS u(k, i, b, f, n, o)" :
		"INSERT INTO recsys.item_factors (model, version, item_key, item_idx, bias, factors, interactions, implicit_factors) "
		"SELECT $1, $2, k, i, b, f, n, y "
		"FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::int4[]), "
		"pg_catalog.unnest($5::float4[]), pg_catalog.unnest($6), pg_catalog.unnest($7::int4[]), "
		"pg_catalog.unnest($8)) AS u(k, i, b, f, n, y)";
	Oid			emb_array = get_array_type(emb_type);
	Oid			types[10] = {TEXTOID, INT4OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID,
	emb_array, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID};
	Oid			item_types[8] = {TEXTOID, INT4OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID,
	emb_array, INT4ARRAYOID, emb_array};
	int32		n = r->n;
	MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"recsys store chunk",
													ALLOCSET_DEFAULT_SIZES);

	for (int32 begin = 0; begin < n; begin += STORE_CHUNK)
	{
		int32		end = Min(n, begin + STORE_CHUNK);
		int32		cnt = end - begin;
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		Datum	   *kd = palloc(sizeof(Datum) * cnt);
		float4	   *bv = palloc(sizeof(float4) * cnt);
		Datum	   *bd = palloc(sizeof(Datum) * cnt);
		bool	   *bnull = palloc(sizeof(bool) * cnt);
		Datum	   *fd = palloc(sizeof(Datum) * cnt);
		bool	   *fnull = palloc(sizeof(bool) * cnt);
		Datum	   *yd = palloc(sizeof(Datum) * cnt);
		bool	   *ynull = palloc(sizeof(bool) * cnt);
		int32	   *idx = palloc(sizeof(int32) * cnt);
		int32	   *deg = palloc(sizeof(int32) * cnt);
		int32	   *off = palloc(sizeof(int32) * cnt);
		int			dims[1] = {cnt};
		int			lbs[1] = {1};
		Datum		values[10];
		char		nulls[10];

		for (int32 k = 0; k < cnt; k++)
		{
			int32		e = begin + k;

			kd[k] = CStringGetTextDatum(keys ? rs_key_to_text(keys, e) : r->key_text[e]);
			idx[k] = r->ids ? r->ids[e] : e;
			deg[k] = (int32) (ptr[e + 1] - ptr[e]);
			off[k] = (int32) (ptr[e] - ptr[begin]);
			bv[k] = bias ? bias[e] : 0.0f;
			bd[k] = Float4GetDatum(bv[k]);
			bnull[k] = (bias == NULL);
			fnull[k] = (factors == NULL);
			fd[k] = factors ? embedding_row(factors, e, nfactors) : (Datum) 0;
			ynull[k] = (r->implicit == NULL);
			yd[k] = r->implicit ? embedding_row(r->implicit, e, nfactors) : (Datum) 0;
		}
		values[0] = CStringGetTextDatum(model);
		values[1] = Int32GetDatum(version);
		values[2] = PointerGetDatum(construct_array(kd, cnt, TEXTOID, -1, false, TYPALIGN_INT));
		values[3] = int4_array(idx, cnt);
		values[4] = PointerGetDatum(construct_md_array(bd, bnull, 1, dims, lbs, FLOAT4OID,
													   sizeof(float4), true, TYPALIGN_INT));
		values[5] = PointerGetDatum(construct_md_array(fd, fnull, 1, dims, lbs, emb_type,
													   -1, false, TYPALIGN_INT));
		values[6] = int4_array(deg, cnt);
		values[7] = is_user ? int4_array(seen + ptr[begin], (int) (ptr[end] - ptr[begin])) :
			PointerGetDatum(construct_md_array(yd, ynull, 1, dims, lbs, emb_type,
											   -1, false, TYPALIGN_INT));
		values[8] = int4_array(off, cnt);
		values[9] = ratings ? float4_array(ratings + ptr[begin], (int) (ptr[end] - ptr[begin])) : (Datum) 0;
		memset(nulls, ' ', sizeof(nulls));
		nulls[9] = ratings ? ' ' : 'n';
		MemoryContextSwitchTo(old);

		rs_catalog_exec(sql, is_user ? 10 : 8, is_user ? types : item_types, values, nulls, false);
		if (is_user && r->private_values)
		{
			Oid			vtypes[6] = {TEXTOID, INT4OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID,
			INT4ARRAYOID};
			Datum		vvalues[6] = {values[0], values[1], values[2], values[8],
				float4_array(r->private_values + ptr[begin], (int) (ptr[end] - ptr[begin])),
			values[6]};

			rs_catalog_exec("INSERT INTO recsys.user_values (model, version, user_key, \"values\") "
							"SELECT $1, $2, k, $5[o + 1 : o + n] "
							"FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::int4[]), "
							"pg_catalog.unnest($6::int4[])) AS u(k, o, n)",
							6, vtypes, vvalues, NULL, false);
		}
		MemoryContextReset(chunk_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
}

/* Appends key as an element of an array literal: "..." with \ and " escaped. */
static void
append_array_element(StringInfo buf, const char *key)
{
	appendStringInfoChar(buf, '"');
	for (const char *c = key; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *c);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Stores the neighbour lists of a neighbourhood model, one row per entity
 * (item_knn: items, user_knn: users) with its neighbours' keys, ids,
 * similarities and supports as arrays, best first; an entity without
 * neighbours gets empty arrays.  STORE_CHUNK entities per INSERT: the
 * numbers travel as flat arrays sliced per row (cheap for fixed-size
 * elements), the keys as one text[] literal per row, read back by the
 * statement's cast (slicing a flat text[] would walk it from the start).
 */
static void
store_neighbors(const char *model, int32 version, bool is_user,
				const RsKeyMap *keys, const RsModel *mod)
{
	const char *sql = is_user ?
		"INSERT INTO recsys.user_neighbors (model, version, user_key, user_idx, "
		"neighbor_keys, neighbor_idx, similarity, support) "
		"SELECT $1, $2, k, i, nk::text[], $7[o + 1 : o + n], $8[o + 1 : o + n], $9[o + 1 : o + n] "
		"FROM ROWS FROM (unnest($3::text[]), unnest($4::int4[]), unnest($5::text[]), "
		"unnest($6::int4[])) AS e(k, i, nk, o), LATERAL (SELECT cardinality(nk::text[]) AS n) c" :
		"INSERT INTO recsys.item_neighbors (model, version, item_key, item_idx, "
		"neighbor_keys, neighbor_idx, similarity, support) "
		"SELECT $1, $2, k, i, nk::text[], $7[o + 1 : o + n], $8[o + 1 : o + n], $9[o + 1 : o + n] "
		"FROM ROWS FROM (unnest($3::text[]), unnest($4::int4[]), unnest($5::text[]), "
		"unnest($6::int4[])) AS e(k, i, nk, o), LATERAL (SELECT cardinality(nk::text[]) AS n) c";
	Oid			types[9] = {TEXTOID, INT4OID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
	INT4ARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID, INT4ARRAYOID};
	int32		n = keys->n;
	MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"recsys store chunk",
													ALLOCSET_DEFAULT_SIZES);

	if (mod->n_lists != n)
		elog(ERROR, "neighbour lists for %d entities, expected %d", mod->n_lists, n);
	for (int32 begin = 0; begin < n; begin += STORE_CHUNK)
	{
		int32		end = Min(n, begin + STORE_CHUNK);
		int32		cnt = end - begin;
		int64		first = mod->nbr_ptr[begin];
		int			total = (int) (mod->nbr_ptr[end] - first);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		Datum	   *kd = palloc(sizeof(Datum) * Max(cnt, 1));
		int32	   *idx = palloc(sizeof(int32) * Max(cnt, 1));
		Datum	   *nkd = palloc(sizeof(Datum) * Max(cnt, 1));
		int32	   *off = palloc(sizeof(int32) * Max(cnt, 1));
		Datum		values[9];
		StringInfoData lit;

		initStringInfo(&lit);
		for (int32 k = 0; k < cnt; k++)
		{
			int32		e = begin + k;

			kd[k] = CStringGetTextDatum(rs_key_to_text(keys, e));
			idx[k] = e;
			off[k] = (int32) (mod->nbr_ptr[e] - first);
			resetStringInfo(&lit);
			appendStringInfoChar(&lit, '{');
			for (int64 x = mod->nbr_ptr[e]; x < mod->nbr_ptr[e + 1]; x++)
			{
				if (x > mod->nbr_ptr[e])
					appendStringInfoChar(&lit, ',');
				append_array_element(&lit, rs_key_to_text(keys, mod->nbr_idx[x]));
			}
			appendStringInfoChar(&lit, '}');
			nkd[k] = CStringGetTextDatum(lit.data);
		}
		values[0] = CStringGetTextDatum(model);
		values[1] = Int32GetDatum(version);
		values[2] = PointerGetDatum(construct_array(kd, cnt, TEXTOID, -1, false, TYPALIGN_INT));
		values[3] = int4_array(idx, cnt);
		values[4] = PointerGetDatum(construct_array(nkd, cnt, TEXTOID, -1, false, TYPALIGN_INT));
		values[5] = int4_array(off, cnt);
		values[6] = int4_array(mod->nbr_idx + first, total);
		values[7] = float4_array(mod->nbr_sim + first, total);
		values[8] = int4_array(mod->nbr_support + first, total);
		MemoryContextSwitchTo(old);

		rs_catalog_exec(sql, 9, types, values, NULL, false);
		MemoryContextReset(chunk_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
}

/*
 * Deletes versions beyond the newest `keep`, never the active one nor a
 * pinned one (recsys.version_pins: by its owner, or by an experiment);
 * those do not count against `keep`.
 */
static void
prune_versions(const char *model, int keep, int32 active)
{
	Oid			types[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		values[3] = {CStringGetTextDatum(model), Int32GetDatum(keep), Int32GetDatum(active)};

	rs_catalog_exec("WITH old AS ("
				 "  SELECT v.version FROM recsys.model_versions v"
				 "  WHERE v.model = $1 AND v.version <> $3"
				 "  AND NOT EXISTS (SELECT 1 FROM recsys.version_pins p"
				 "    WHERE p.model = $1 AND p.version = v.version)"
				 "  ORDER BY v.version DESC OFFSET ($2 - 1)), "
				 "du AS (DELETE FROM recsys.user_factors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "di AS (DELETE FROM recsys.item_factors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "dni AS (DELETE FROM recsys.item_neighbors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "dnu AS (DELETE FROM recsys.user_neighbors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "duv AS (DELETE FROM recsys.user_values f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version) "
				 "DELETE FROM recsys.model_versions v USING old"
				 "  WHERE v.model = $1 AND v.version = old.version",
				 3, types, values, NULL, false);
}

/*
 * The end of storing a version: its time taken, the activation (recorded
 * as recsys.activate() records one), and pruning to `keep` versions.
 */
static void
activate_new_version(const char *name, int32 version, double seconds, int keep)
{
	Oid			types[3] = {TEXTOID, INT4OID, FLOAT8OID};
	Datum		values[3] = {CStringGetTextDatum(name), Int32GetDatum(version),
	Float8GetDatum(seconds)};
	Oid			atypes[3] = {TEXTOID, INT4OID, OIDOID};
	Datum		avalues[3] = {values[0], values[1], ObjectIdGetDatum(GetUserId())};

	rs_catalog_exec("UPDATE recsys.model_versions SET seconds = $3 "
					"WHERE model = $1 AND version = $2",
					3, types, values, NULL, false);
	rs_catalog_exec("INSERT INTO recsys.model_activations "
					"(model, version, previous_version, activated_by) "
					"SELECT $1, $2, m.active_version, $3::pg_catalog.regrole "
					"FROM recsys.models m WHERE m.name = $1",
					3, atypes, avalues, NULL, false);
	rs_catalog_exec("UPDATE recsys.models SET active_version = $2, updated_at = pg_catalog.now() "
					"WHERE name = $1",
					2, types, values, NULL, false);
	prune_versions(name, keep, version);
}

/*
 * Writes a trained model as a new version and makes it the active one.
 * Everything happens in the caller's transaction: other sessions keep
 * seeing the previous version until it commits, and an error or cancel
 * leaves the catalog as it was.
 */
void
rs_store_version(const RsModelDef *def, const RsTrainOptions *opts,
				 const RsVersionSource *l, const RsMatrix *m,
				 const RsModel *model, const RsTrainSummary *summary,
				 int64 memory_bytes)
{
	int32		version = summary->version;
	Oid			emb_type = rs_embedding_type_oid();
	char	   *caller = GetUserNameFromId(GetUserId(), false);

	/* the definition (created, or replaced by a new train()) */
	{
		Oid			types[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		REGTYPEOID, REGTYPEOID, JSONBOID, OIDOID, TEXTOID};
		Datum		values[11];
		char		nulls[11];

		values[0] = CStringGetTextDatum(def->name);
		nulls[0] = ' ';
		values[1] = CStringGetTextDatum(rs_algorithm_name(opts->algorithm));
		nulls[1] = ' ';
		values[2] = text_or_null_datum(def->source, &nulls[2]);
		values[3] = text_or_null_datum(def->user_column, &nulls[3]);
		values[4] = text_or_null_datum(def->item_column, &nulls[4]);
		values[5] = text_or_null_datum(def->rating_column, &nulls[5]);
		values[6] = ObjectIdGetDatum(l->users->type);
		nulls[6] = ' ';
		values[7] = ObjectIdGetDatum(l->items->type);
		nulls[7] = ' ';
		values[8] = def->options ? JsonbPGetDatum(def->options) : (Datum) 0;
		nulls[8] = def->options ? ' ' : 'n';
		/* a new model belongs to the role that trains it */
		values[9] = ObjectIdGetDatum(GetUserId());
		nulls[9] = ' ';
		values[10] = text_or_null_datum(def->search_path, &nulls[10]);

		rs_catalog_exec("INSERT INTO recsys.models AS m (name, algorithm, source, user_column, "
					 "item_column, rating_column, user_key_type, item_key_type, options, owner, "
					 "search_path) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, '{}'), "
					 "$10::pg_catalog.regrole, $11) "
					 "ON CONFLICT (name) DO UPDATE SET algorithm = excluded.algorithm, "
					 "source = excluded.source, user_column = excluded.user_column, "
					 "item_column = excluded.item_column, rating_column = excluded.rating_column, "
					 "user_key_type = excluded.user_key_type, item_key_type = excluded.item_key_type, "
					 "options = excluded.options, search_path = excluded.search_path",
					 11, types, values, nulls, false);
	}

	/* the version's record */
	{
		Oid			types[17] = {TEXTOID, INT4OID, TEXTOID, JSONBOID, INT4OID, INT4OID,
			INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID, FLOAT8OID, FLOAT8ARRAYOID, INT8OID, NAMEOID,
		TIMESTAMPTZOID};
		Datum		values[17];
		char		nulls[17];

		values[0] = CStringGetTextDatum(def->name);
		values[1] = Int32GetDatum(version);
		values[2] = CStringGetTextDatum(rs_algorithm_name(opts->algorithm));
		values[3] = JsonbPGetDatum(rs_options_effective(opts));
		values[4] = Int32GetDatum(m->n_users);
		values[5] = Int32GetDatum(m->n_items);
		values[6] = Int64GetDatum(m->nnz);
		values[7] = Int64GetDatum(l->rows_read);
		values[8] = Int64GetDatum(l->rows_skipped);
		values[9] = Int64GetDatum(l->duplicates);
		values[10] = Float8GetDatum(model->global_mean);
		values[11] = Float8GetDatum(summary->final_loss);
		values[12] = float8_array(model->loss, model->n_loss);
		values[13] = Int64GetDatum(memory_bytes);
		values[14] = DirectFunctionCall1(namein, CStringGetDatum(caller));
		memset(nulls, ' ', sizeof(nulls));
		values[15] = epoch_datum(summary->data_until, &nulls[15]);

		/* exactly (%.17g round-trips; float8 to numeric would keep 15 digits) */
		types[16] = TEXTOID;
		values[16] = isnan(summary->data_until) ? (Datum) 0 :
			CStringGetTextDatum(psprintf("%.17g", summary->data_until));
		nulls[16] = isnan(summary->data_until) ? 'n' : ' ';
		rs_catalog_exec("INSERT INTO recsys.model_versions (model, version, algorithm, params, "
					 "users, items, interactions, rows_read, rows_skipped, duplicates, "
					 "global_mean, final_loss, loss_history, memory_bytes, trained_by, data_until, "
					 "definition_md5) "
					 "SELECT $1, $2, $3, CASE WHEN $17 IS NULL THEN $4 "
					 "ELSE $4 || pg_catalog.jsonb_build_object('data_until_epoch', $17::pg_catalog.numeric) END, "
					 "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, " RS_DEFINITION_MD5
					 " FROM recsys.models m WHERE m.name = $1",
					 17, types, values, nulls, false);
	}

	{
		EntityRows	users = {0};
		EntityRows	items = {0};

		users.n = l->users->n;
		users.keys = l->users;
		users.bias = model->user_bias;
		users.factors = model->user_factors;
		users.nfactors = model->factors;
		users.ptr = m->user_ptr;
		users.seen = m->user_items;
		users.ratings = rs_algorithm_is_knn(opts->algorithm) && !rs_options_implicit(opts) ?
			m->user_vals : NULL;
		users.private_values = rs_keeps_user_values(opts) ? m->user_vals : NULL;
		store_entities(def->name, version, true, &users, emb_type);
		items.n = l->items->n;
		items.keys = l->items;
		items.bias = model->item_bias;
		items.factors = model->item_factors;
		items.nfactors = model->factors;
		items.implicit = model->item_implicit;
		items.ptr = m->item_ptr;
		store_entities(def->name, version, false, &items, emb_type);
	}
	if (model->nbr_ptr != NULL)
	{
		bool		users = (opts->algorithm == RS_ALG_USER_KNN);

		store_neighbors(def->name, version, users, users ? l->users : l->items,
						model);
	}

	activate_new_version(def->name, version, summary->seconds, opts->keep);
}

/*
 * Writes a version made by recsys.update() and makes it active: the
 * base version's record with the new counts, the users written anew,
 * every other user's, item's and neighbour list's row copied from the
 * base version (items with their new interactions added).  In the
 * caller's transaction, like rs_store_version().
 */
void
rs_store_update(const char *name, const RsUpdate *u)
{
	Oid			emb_type = rs_embedding_type_oid();
	Datum		model = CStringGetTextDatum(name);
	Datum		version = Int32GetDatum(u->version);
	Datum		base = Int32GetDatum(u->base_version);

	{
		Oid			types[12] = {TEXTOID, INT4OID, INT4OID, INT4OID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID, NAMEOID, TIMESTAMPTZOID, TEXTOID};
		Datum		values[12] = {model, version, base, Int32GetDatum(u->users),
			Int64GetDatum(u->interactions), Int64GetDatum(u->rows_read),
			Int64GetDatum(u->rows_skipped), Int64GetDatum(u->duplicates),
			Int64GetDatum(u->memory_bytes),
		DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)))};
		char		nulls[12];

		memset(nulls, ' ', sizeof(nulls));
		values[10] = epoch_datum(u->data_until, &nulls[10]);
		values[11] = CStringGetTextDatum(psprintf("%.17g", u->data_until));
		rs_catalog_exec("INSERT INTO recsys.model_versions (model, version, algorithm, params, "
						"users, items, interactions, rows_read, rows_skipped, duplicates, "
						"global_mean, final_loss, loss_history, memory_bytes, trained_by, "
						"data_until, updated_from, definition_md5) "
						"SELECT v.model, $2, v.algorithm, "
						"v.params || pg_catalog.jsonb_build_object('data_until_epoch', $12::pg_catalog.numeric), "
						"$4, v.items, $5, $6, $7, $8, "
						"v.global_mean, NULL, '{}', $9, $10, $11, v.version, v.definition_md5 "
						"FROM recsys.model_versions v WHERE v.model = $1 AND v.version = $3",
						12, types, values, nulls, false);
	}
	{
		EntityRows	users = {0};

		users.n = u->n_users;
		users.key_text = u->user_keys;
		users.ids = u->user_idx;
		users.bias = u->user_bias;
		users.factors = u->user_factors;
		users.nfactors = u->factors;
		users.ptr = u->seen_ptr;
		users.seen = u->seen;
		users.ratings = u->ratings;
		users.private_values = u->private_values;
		store_entities(name, u->version, true, &users, emb_type);
	}
	{
		Oid			types[6] = {TEXTOID, INT4OID, INT4OID, INT4ARRAYOID, INT4ARRAYOID, BOOLOID};
		Datum		values[6] = {model, version, base,
			int4_array(u->item_idx, u->n_items), int4_array(u->item_added, u->n_items),
		BoolGetDatum(u->scores_are_counts)};

		/* the other users as they were (ON CONFLICT: those written above) */
		rs_catalog_exec("INSERT INTO recsys.user_factors (model, version, user_key, user_idx, "
						"bias, factors, interactions, seen, ratings) "
						"SELECT f.model, $2, f.user_key, f.user_idx, f.bias, f.factors, "
						"f.interactions, f.seen, f.ratings FROM recsys.user_factors f "
						"WHERE f.model = $1 AND f.version = $3 "
						"ON CONFLICT (model, version, user_key) DO NOTHING",
						3, types, values, NULL, false);
		if (u->private_values)
			rs_catalog_exec("INSERT INTO recsys.user_values (model, version, user_key, \"values\") "
							"SELECT f.model, $2, f.user_key, f.\"values\" FROM recsys.user_values f "
							"WHERE f.model = $1 AND f.version = $3 "
							"ON CONFLICT (model, version, user_key) DO NOTHING",
							3, types, values, NULL, false);
		/* popularity's score is the count, so it grows with it */
		rs_catalog_exec("INSERT INTO recsys.item_factors (model, version, item_key, item_idx, "
						"bias, factors, interactions, implicit_factors) "
						"SELECT f.model, $2, f.item_key, f.item_idx, "
						"f.bias + CASE WHEN $6 THEN coalesce(d.n, 0) ELSE 0 END, f.factors, "
						"f.interactions + coalesce(d.n, 0), f.implicit_factors "
						"FROM recsys.item_factors f LEFT JOIN "
						"ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5)) AS d(i, n) "
						"ON d.i = f.item_idx WHERE f.model = $1 AND f.version = $3",
						6, types, values, NULL, false);
		rs_catalog_exec("INSERT INTO recsys.item_neighbors (model, version, item_key, item_idx, "
						"neighbor_keys, neighbor_idx, similarity, support) "
						"SELECT f.model, $2, f.item_key, f.item_idx, f.neighbor_keys, "
						"f.neighbor_idx, f.similarity, f.support FROM recsys.item_neighbors f "
						"WHERE f.model = $1 AND f.version = $3",
						3, types, values, NULL, false);
	}
	activate_new_version(name, u->version, u->seconds, u->keep);
}

void
rs_drop_model(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	/*
	 * A running experiment names the model: dropping it would let the name
	 * be trained again, by anyone, and the experiment serve that model.
	 */
	rs_catalog_exec("SELECT e.name FROM recsys.experiment_arms a "
					"JOIN recsys.experiments e ON e.name = a.experiment "
					"WHERE a.model = $1 AND e.ended_at IS NULL LIMIT 1",
					1, types, values, NULL, true);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop model \"%s\": experiment \"%s\" serves it", name,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("End the experiment first: SELECT recsys.end_experiment('%s').",
						 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1))));
	rs_catalog_exec("WITH du AS (DELETE FROM recsys.user_factors WHERE model = $1), "
				 "di AS (DELETE FROM recsys.item_factors WHERE model = $1), "
				 "dni AS (DELETE FROM recsys.item_neighbors WHERE model = $1), "
				 "dnu AS (DELETE FROM recsys.user_neighbors WHERE model = $1), "
				 "duv AS (DELETE FROM recsys.user_values WHERE model = $1), "
				 "dp AS (DELETE FROM recsys.version_pins WHERE model = $1), "
				 "da AS (DELETE FROM recsys.model_activations WHERE model = $1), "
				 "dv AS (DELETE FROM recsys.model_versions WHERE model = $1) "
				 "DELETE FROM recsys.models WHERE name = $1",
				 1, types, values, NULL, false);
}
