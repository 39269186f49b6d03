/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Reads and writes the model catalog (see catalog.h for the layout and
 *	  the privilege rules).  All SQL here names objects fully qualified.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
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
#include "utils/varlena.h"

#include "embedding.h"

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

static Oid
recsys_namespace(void)
{
	return get_namespace_oid("recsys", false);
}

Oid
rs_catalog_owner(void)
{
	Oid			relid = get_relname_relid("models", recsys_namespace());
	Relation	rel;
	Oid			owner;

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
			if (result == RS_STORED_OK && !ExecCheckRTPerms(ps->rtable, false))
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
static char *
spi_strdup(const char *s)
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

	return isnull ? NULL : spi_strdup(TextDatumGetCString(d));
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
	def->name = spi_strdup(name);
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

static Oid
embedding_type_oid(void)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("embedding"),
						   ObjectIdGetDatum(recsys_namespace()));
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
 * when `ratings` is given (explicit neighbourhood models), their values.
 * A chunk's seen lists are one flat array sliced per row, since CSR rows
 * of consecutive users are contiguous.
 */
static void
store_entities(const char *model, int32 version, bool is_user,
			   const RsKeyMap *keys, const float *bias, const float *factors,
			   int nfactors, const int64 *ptr, const int32 *seen,
			   const float *ratings, Oid emb_type)
{
	const char *sql = is_user ?
		"INSERT INTO recsys.user_factors (model, version, user_key, user_idx, bias, factors, interactions, seen, ratings) "
		"SELECT $1, $2, k, i, b, f, n, $8[o + 1 : o + n], $10[o + 1 : o + n] "
		"FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::int4[]), "
		"pg_catalog.unnest($5::float4[]), pg_catalog.unnest($6), pg_catalog.unnest($7::int4[]), "
		"pg_catalog.unnest($9::int4[])) AS u(k, i, b, f, n, o)" :
		"INSERT INTO recsys.item_factors (model, version, item_key, item_idx, bias, factors, interactions) "
		"SELECT $1, $2, k, i, b, f, n "
		"FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::int4[]), "
		"pg_catalog.unnest($5::float4[]), pg_catalog.unnest($6), pg_catalog.unnest($7::int4[])) AS u(k, i, b, f, n)";
	Oid			emb_array = get_array_type(emb_type);
	Oid			types[10] = {TEXTOID, INT4OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID,
	emb_array, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID};
	int32		n = keys->n;
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

			kd[k] = CStringGetTextDatum(rs_key_to_text(keys, e));
			idx[k] = e;
			deg[k] = (int32) (ptr[e + 1] - ptr[e]);
			off[k] = (int32) (ptr[e] - ptr[begin]);
			bv[k] = bias ? bias[e] : 0.0f;
			bd[k] = Float4GetDatum(bv[k]);
			bnull[k] = (bias == NULL);
			fnull[k] = (factors == NULL);
			if (factors)
			{
				Embedding  *emb = embedding_alloc(nfactors);

				for (int j = 0; j < nfactors; j++)
				{
					emb->x[j] = factors[(int64) e * nfactors + j];
					embedding_check_element(emb->x[j]);
				}
				fd[k] = PointerGetDatum(emb);
			}
			else
				fd[k] = (Datum) 0;
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
		values[7] = is_user ? int4_array(seen + ptr[begin], (int) (ptr[end] - ptr[begin])) : (Datum) 0;
		values[8] = int4_array(off, cnt);
		values[9] = ratings ? float4_array(ratings + ptr[begin], (int) (ptr[end] - ptr[begin])) : (Datum) 0;
		memset(nulls, ' ', sizeof(nulls));
		nulls[9] = ratings ? ' ' : 'n';
		MemoryContextSwitchTo(old);

		rs_catalog_exec(sql, is_user ? 10 : 7, types, values, nulls, false);
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

/* Deletes versions beyond the newest `keep`, never the active one. */
static void
prune_versions(const char *model, int keep, int32 active)
{
	Oid			types[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		values[3] = {CStringGetTextDatum(model), Int32GetDatum(keep), Int32GetDatum(active)};

	rs_catalog_exec("WITH old AS ("
				 "  SELECT version FROM recsys.model_versions WHERE model = $1 AND version <> $3"
				 "  ORDER BY version DESC OFFSET ($2 - 1)), "
				 "du AS (DELETE FROM recsys.user_factors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "di AS (DELETE FROM recsys.item_factors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "dni AS (DELETE FROM recsys.item_neighbors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version), "
				 "dnu AS (DELETE FROM recsys.user_neighbors f USING old"
				 "  WHERE f.model = $1 AND f.version = old.version) "
				 "DELETE FROM recsys.model_versions v USING old"
				 "  WHERE v.model = $1 AND v.version = old.version",
				 3, types, values, NULL, false);
}

/*
 * Writes a trained model as a new version and makes it the active one.
 * Everything happens in the caller's transaction: other sessions keep
 * seeing the previous version until it commits, and an error or cancel
 * leaves the catalog as it was.
 */
void
rs_store_version(const RsModelDef *def, const RsTrainOptions *opts,
				 const RsLoader *l, const RsMatrix *m,
				 const RsModel *model, const RsTrainSummary *summary,
				 int64 memory_bytes)
{
	int32		version = summary->version;
	Oid			emb_type = embedding_type_oid();
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
		values[6] = ObjectIdGetDatum(l->users.type);
		nulls[6] = ' ';
		values[7] = ObjectIdGetDatum(l->items.type);
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
		Oid			types[15] = {TEXTOID, INT4OID, TEXTOID, JSONBOID, INT4OID, INT4OID,
			INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID, FLOAT8OID, FLOAT8ARRAYOID, INT8OID, NAMEOID};
		Datum		values[15];

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

		rs_catalog_exec("INSERT INTO recsys.model_versions (model, version, algorithm, params, "
					 "users, items, interactions, rows_read, rows_skipped, duplicates, "
					 "global_mean, final_loss, loss_history, memory_bytes, trained_by) "
					 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
					 15, types, values, NULL, false);
	}

	store_entities(def->name, version, true, &l->users, model->user_bias,
				   model->user_factors, model->factors, m->user_ptr, m->user_items,
				   rs_algorithm_is_knn(opts->algorithm) && !rs_options_implicit(opts) ?
				   m->user_vals : NULL, emb_type);
	store_entities(def->name, version, false, &l->items, model->item_bias,
				   model->item_factors, model->factors, m->item_ptr, NULL, NULL,
				   emb_type);
	if (model->nbr_ptr != NULL)
	{
		bool		users = (opts->algorithm == RS_ALG_USER_KNN);

		store_neighbors(def->name, version, users, users ? &l->users : &l->items,
						model);
	}

	/* switch to it, record the time taken, and prune */
	{
		Oid			types[3] = {TEXTOID, INT4OID, FLOAT8OID};
		Datum		values[3] = {CStringGetTextDatum(def->name), Int32GetDatum(version),
		Float8GetDatum(summary->seconds)};

		rs_catalog_exec("UPDATE recsys.model_versions SET seconds = $3 "
					 "WHERE model = $1 AND version = $2",
					 3, types, values, NULL, false);
		rs_catalog_exec("UPDATE recsys.models SET active_version = $2, updated_at = pg_catalog.now() "
					 "WHERE name = $1",
					 2, types, values, NULL, false);
	}
	prune_versions(def->name, opts->keep, version);
}

void
rs_drop_model(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	rs_catalog_exec("WITH du AS (DELETE FROM recsys.user_factors WHERE model = $1), "
				 "di AS (DELETE FROM recsys.item_factors WHERE model = $1), "
				 "dni AS (DELETE FROM recsys.item_neighbors WHERE model = $1), "
				 "dnu AS (DELETE FROM recsys.user_neighbors WHERE model = $1), "
				 "dv AS (DELETE FROM recsys.model_versions WHERE model = $1) "
				 "DELETE FROM recsys.models WHERE name = $1",
				 1, types, values, NULL, false);
}

/* ----------------------------------------------------------------
 *		Reading models back (predict and serving)
 *
 * These run on every recommendation, so their statements are prepared
 * once per backend and kept.  Like catalog writes they run as the
 * catalog's owner with search_path pinned (a kept plan is re-planned
 * under the search_path in force when it is used, so both the prepare and
 * every execution are inside the switch): nothing on the caller's
 * search_path can change them, and row-level security on the catalog,
 * which hides other models' rows from the caller, does not hide them from
 * serving.  Whether the caller may use a model is checked once at each
 * SQL entry point (privileges.c), before anything is read.
 * ----------------------------------------------------------------
 */

static void
catalog_read(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types,
			 Datum *values, long count)
{
	RsRunAs		as;
	int			rc;

	rs_run_as_begin(&as, rs_catalog_owner(), RS_CATALOG_SEARCH_PATH);
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "preparing \"%s\" failed: %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	rc = SPI_execute_plan(*plan, values, NULL, true, count);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the recsys catalog failed: %s", SPI_result_code_string(rc));
	rs_run_as_end(&as);
}

/*
 * Is there a valid recsys_hnsw index with the inner-product opclass on
 * item_factors.factors that may cover this version's rows: the model's
 * managed index for its dimension (model_index.c), or one a superuser made
 * by hand?  (Without one, asking the planner for candidates would sort the
 * version's rows, slower than scoring them in memory.)
 */
bool
rs_item_index_exists(const RsStoredModel *sm)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(rs_model_index_name(sm->name, sm->factors))};

	catalog_read(&plan,
				 "SELECT 1 FROM pg_catalog.pg_index x "
				 "JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid "
				 "JOIN pg_catalog.pg_am a ON a.oid = c.relam "
				 "JOIN pg_catalog.pg_opclass o ON o.oid = x.indclass[0] "
				 "JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace "
				 "JOIN pg_catalog.pg_attribute t ON t.attrelid = x.indrelid "
				 " AND t.attnum = x.indkey[0] "
				 "WHERE x.indrelid = 'recsys.item_factors'::pg_catalog.regclass "
				 "AND x.indisvalid AND x.indnatts = 1 AND a.amname = 'recsys_hnsw' "
				 "AND n.nspname = 'recsys' AND o.opcname = 'embedding_ip_ops' "
				 "AND t.attname = 'factors' "
				 "AND (c.relname = $1 OR NOT pg_catalog.starts_with(c.relname::text, 'rs_idx_')) "
				 "LIMIT 1",
				 1, types, values, 1);
	return SPI_processed > 0;
}

/*
 * The item_idx of up to pool items of a stored version with the largest
 * inner product with q, nearest first, as the planner finds them (through
 * a recsys_hnsw index when one covers the version's rows).  A one-shot
 * plan, so that the model name, version and dimension are constants the
 * planner proves a partial index's predicate from.  Inside SPI; the rows
 * are in SPI_tuptable.
 */
void
rs_read_index_candidates(const RsStoredModel *sm, Datum q, int32 pool)
{
	Oid			types[5] = {TEXTOID, INT4OID, InvalidOid, INT4OID, INT4OID};
	Datum		values[5];
	RsRunAs		as;

	types[2] = embedding_type_oid();
	values[0] = CStringGetTextDatum(sm->name);
	values[1] = Int32GetDatum(sm->version);
	values[2] = q;
	values[3] = Int32GetDatum(pool);
	values[4] = Int32GetDatum(sm->factors);
	rs_run_as_begin(&as, rs_catalog_owner(), RS_CATALOG_SEARCH_PATH);
	if (SPI_execute_with_args("SELECT item_idx FROM recsys.item_factors "
							  "WHERE model = $1 AND version = $2 AND recsys.dims(factors) = $5 "
							  "ORDER BY factors OPERATOR(recsys.<#>) $3 LIMIT $4",
							  5, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "recsys: could not read candidates from item_factors");
	rs_run_as_end(&as);
}

/* The active version of a model.  False if there is no such model. */
bool
rs_active_model(const char *name, RsStoredModel *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *alg;

	catalog_read(&plan,
					   "SELECT v.version, v.algorithm, v.global_mean, "
					   "coalesce((v.params->>'factors')::int, 0), v.items, v.users, "
					   "v.params->>'feedback', v.version_id, m.index_options IS NOT NULL "
					   "FROM recsys.models m JOIN recsys.model_versions v "
					   "ON v.model = m.name AND v.version = m.active_version "
					   "WHERE m.name = $1", 1, types,
			 values, 1);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	out->name = spi_strdup(name);
	out->version = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	alg = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	out->algorithm = rs_algorithm_from_name(alg);
	out->global_mean = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	out->factors = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	out->n_items = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	out->n_users = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
	out->version_id = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
	out->wants_index = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	/* DROP EXTENSION + CREATE EXTENSION starts version_id again at 1 */
	out->catalog_id = get_relname_relid("models", recsys_namespace());
	if (rs_algorithm_is_knn(out->algorithm))
	{
		Datum		fb = SPI_getbinval(tup, desc, 7, &isnull);

		out->explicit_feedback = !isnull &&
			strcmp(TextDatumGetCString(fb), "explicit") == 0;
	}
	else
		out->explicit_feedback = !rs_algorithm_is_implicit(out->algorithm);
	return true;
}

/*
 * Bias, factors (NULL if the model has none) and, when seen is not NULL,
 * the sorted item_idx the user interacted with, of one user of a stored
 * version; all copied out with SPI_palloc.  False if the user is not in
 * the model.
 */
bool
rs_fetch_user(const RsStoredModel *sm, const char *key, float *bias,
			  float **factors, int32 **seen, int32 *nseen)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(sm->name), Int32GetDatum(sm->version),
	CStringGetTextDatum(key)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	catalog_read(&plan,
					   "SELECT bias, factors, seen FROM recsys.user_factors "
					   "WHERE model = $1 AND version = $2 AND user_key = $3", 3, types,
			 values, 1);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tup, desc, 1, &isnull);
	*bias = isnull ? 0.0f : DatumGetFloat4(d);
	d = SPI_getbinval(tup, desc, 2, &isnull);
	if (isnull)
		*factors = NULL;
	else
	{
		Embedding  *e = DatumGetEmbedding(d);

		*factors = SPI_palloc(sizeof(float) * e->dim);
		memcpy(*factors, e->x, sizeof(float) * e->dim);
	}
	if (seen)
	{
		ArrayType  *a;

		d = SPI_getbinval(tup, desc, 3, &isnull);
		*nseen = 0;
		*seen = NULL;
		if (!isnull)
		{
			a = DatumGetArrayTypeP(d);
			*nseen = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
			*seen = SPI_palloc(sizeof(int32) * Max(*nseen, 1));
			memcpy(*seen, ARR_DATA_PTR(a), sizeof(int32) * *nseen);
		}
	}
	return true;
}

/*
 * Every item of a stored version, in item_idx order, into arrays allocated
 * in cxt: keys, biases (NULL if the model has none), factors (n x k, NULL
 * if none), and interaction counts.
 */
void
rs_load_items(const RsStoredModel *sm, MemoryContext cxt, char ***keys,
			  float **bias, float **factors, int32 **degree)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(sm->name), Int32GetDatum(sm->version)};
	int32		n = sm->n_items;
	int			k = sm->factors;
	bool		have_bias = false;
	bool		have_factors = false;
	MemoryContext old;

	catalog_read(&plan,
					   "SELECT item_idx, item_key, bias, factors, interactions "
					   "FROM recsys.item_factors WHERE model = $1 AND version = $2 "
					   "ORDER BY item_idx", 2, types,
			 values, 0);
	if ((int64) SPI_processed != n)
		elog(ERROR, "model \"%s\" version %d has " UINT64_FORMAT " item rows, expected %d",
			 sm->name, sm->version, SPI_processed, n);

	old = MemoryContextSwitchTo(cxt);
	*keys = palloc(sizeof(char *) * Max(n, 1));
	*bias = palloc0(sizeof(float) * Max(n, 1));
	*factors = k > 0 ? palloc0(sizeof(float) * (Size) n * k) : NULL;
	*degree = palloc(sizeof(int32) * Max(n, 1));
	for (int32 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		if (DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull)) != i)
			elog(ERROR, "model \"%s\" version %d: item rows are not numbered 0..%d",
				 sm->name, sm->version, n - 1);
		(*keys)[i] = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (!isnull)
		{
			(*bias)[i] = DatumGetFloat4(d);
			have_bias = true;
		}
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull && *factors)
		{
			Embedding  *e = DatumGetEmbedding(d);

			if (e->dim != k)
				elog(ERROR, "model \"%s\": item %d has %d factors, expected %d",
					 sm->name, i, e->dim, k);
			memcpy(*factors + (Size) i * k, e->x, sizeof(float) * k);
			have_factors = true;
		}
		(*degree)[i] = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	}
	if (!have_bias)
	{
		pfree(*bias);
		*bias = NULL;
	}
	if (!have_factors && *factors)
	{
		pfree(*factors);
		*factors = NULL;
	}
	MemoryContextSwitchTo(old);
}

/* ----------------------------------------------------------------
 *		Neighbourhood models (see knn.h for how serving uses these)
 * ----------------------------------------------------------------
 */

/* A one-dimensional int4[] / float4[] datum copied into an SPI_palloc'd C array. */
static int32
copy_array4(Datum d, void **out)
{
	ArrayType  *a = DatumGetArrayTypeP(d);
	int32		n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));

	if (ARR_HASNULL(a))
		elog(ERROR, "unexpected NULL in a recsys catalog array");
	*out = SPI_palloc(4 * (Size) Max(n, 1));
	if (n > 0)
		memcpy(*out, ARR_DATA_PTR(a), 4 * (Size) n);
	return n;
}

/*
 * The neighbour lists of every item (item_knn) or user (user_knn) of a
 * stored version, in idx order, as CSR allocated in cxt: *n_lists
 * entities, ptr[n_lists + 1], nbr[] and sim[] (each list best first).
 */
void
rs_load_neighbors(const RsStoredModel *sm, MemoryContext cxt, int32 *n_lists,
				  int64 **ptr, int32 **nbr, float **sim)
{
	static SPIPlanPtr item_plan = NULL;
	static SPIPlanPtr user_plan = NULL;
	bool		users = (sm->algorithm == RS_ALG_USER_KNN);
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(sm->name), Int32GetDatum(sm->version)};
	int32		n = users ? sm->n_users : sm->n_items;
	int64		total = 0;
	MemoryContext old;

	if (!rs_algorithm_is_knn(sm->algorithm))
		elog(ERROR, "model \"%s\" is not a neighbourhood model", sm->name);
	if (users)
		catalog_read(&user_plan,
						   "SELECT user_idx, neighbor_idx, similarity FROM recsys.user_neighbors "
						   "WHERE model = $1 AND version = $2 ORDER BY user_idx", 2, types,
				 values, 0);
	else
		catalog_read(&item_plan,
						   "SELECT item_idx, neighbor_idx, similarity FROM recsys.item_neighbors "
						   "WHERE model = $1 AND version = $2 ORDER BY item_idx", 2, types,
				 values, 0);
	if ((int64) SPI_processed != n)
		elog(ERROR, "model \"%s\" version %d has " UINT64_FORMAT " neighbour lists, expected %d",
			 sm->name, sm->version, SPI_processed, n);

	old = MemoryContextSwitchTo(cxt);
	*n_lists = n;
	*ptr = palloc(sizeof(int64) * ((Size) n + 1));
	for (int32 e = 0; e < n; e++)
	{
		HeapTuple	tup = SPI_tuptable->vals[e];
		bool		isnull;
		ArrayType  *a = DatumGetArrayTypeP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

		(*ptr)[e] = total;
		total += ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	}
	(*ptr)[n] = total;
	*nbr = palloc(sizeof(int32) * (Size) Max(total, 1));
	*sim = palloc(sizeof(float) * (Size) Max(total, 1));
	for (int32 e = 0; e < n; e++)
	{
		HeapTuple	tup = SPI_tuptable->vals[e];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		ArrayType  *ai;
		ArrayType  *as;
		int64		len = (*ptr)[e + 1] - (*ptr)[e];

		if (DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull)) != e)
			elog(ERROR, "model \"%s\" version %d: neighbour lists are not numbered 0..%d",
				 sm->name, sm->version, n - 1);
		ai = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 2, &isnull));
		as = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 3, &isnull));
		if (ArrayGetNItems(ARR_NDIM(as), ARR_DIMS(as)) != len ||
			ARR_HASNULL(ai) || ARR_HASNULL(as))
			elog(ERROR, "model \"%s\" version %d: malformed neighbour list %d",
				 sm->name, sm->version, e);
		memcpy(*nbr + (*ptr)[e], ARR_DATA_PTR(ai), sizeof(int32) * len);
		memcpy(*sim + (*ptr)[e], ARR_DATA_PTR(as), sizeof(float) * len);
	}
	MemoryContextSwitchTo(old);
}

/* Fills out from a (seen, ratings, bias) row of recsys.user_factors. */
static void
knn_user_from_row(HeapTuple tup, TupleDesc desc, int first, RsKnnUser *out)
{
	bool		isnull;
	Datum		d;
	void	   *p;

	memset(out, 0, sizeof(RsKnnUser));
	d = SPI_getbinval(tup, desc, first, &isnull);
	if (!isnull)
	{
		out->n = copy_array4(d, &p);
		out->items = p;
	}
	d = SPI_getbinval(tup, desc, first + 1, &isnull);
	if (!isnull)
	{
		if (copy_array4(d, &p) != out->n)
			elog(ERROR, "recsys.user_factors: seen and ratings differ in length");
		out->ratings = p;
	}
	d = SPI_getbinval(tup, desc, first + 2, &isnull);
	out->bias = isnull ? 0.0f : DatumGetFloat4(d);
}

/*
 * A user of a stored neighbourhood model, for the scoring functions:
 * seen items, their ratings (explicit models; NULL otherwise) and bias,
 * copied out with SPI_palloc.  False if the user is not in the model.
 */
bool
rs_fetch_knn_user(const RsStoredModel *sm, const char *key, RsKnnUser *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(sm->name), Int32GetDatum(sm->version),
	CStringGetTextDatum(key)};

	catalog_read(&plan,
					   "SELECT seen, ratings, bias FROM recsys.user_factors "
					   "WHERE model = $1 AND version = $2 AND user_key = $3", 3, types,
			 values, 1);
	if (SPI_processed == 0)
		return false;
	knn_user_from_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, out);
	return true;
}

/*
 * user_knn: the stored neighbours of a user (keys and similarities, best
 * first), copied out with SPI_palloc.  False if the user is not in the
 * model.
 */
bool
rs_fetch_user_neighbors(const RsStoredModel *sm, const char *key, int32 *n,
						char ***keys, float **sim)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(sm->name), Int32GetDatum(sm->version),
	CStringGetTextDatum(key)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum	   *kd;
	int			nk;
	void	   *p;

	catalog_read(&plan,
					   "SELECT neighbor_keys, similarity FROM recsys.user_neighbors "
					   "WHERE model = $1 AND version = $2 AND user_key = $3", 3, types,
			 values, 1);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 1, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &kd, NULL, &nk);
	*n = copy_array4(SPI_getbinval(tup, desc, 2, &isnull), &p);
	*sim = p;
	if (nk != *n)
		elog(ERROR, "recsys.user_neighbors: neighbor_keys and similarity differ in length");
	*keys = SPI_palloc(sizeof(char *) * Max(nk, 1));
	for (int k = 0; k < nk; k++)
		(*keys)[k] = spi_strdup(TextDatumGetCString(kd[k]));
	return true;
}

/*
 * Several users of a stored neighbourhood model at once (user_knn: a
 * user's neighbours): out[k] for keys[k], n = 0 for a key not in the
 * model; copied out with SPI_palloc.
 */
void
rs_fetch_knn_users(const RsStoredModel *sm, char **keys, int32 n, RsKnnUser *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, INT4OID, TEXTARRAYOID};
	Datum	   *kd = palloc(sizeof(Datum) * Max(n, 1));
	Datum		values[3];

	for (int32 k = 0; k < n; k++)
	{
		kd[k] = CStringGetTextDatum(keys[k]);
		memset(&out[k], 0, sizeof(RsKnnUser));
	}
	values[0] = CStringGetTextDatum(sm->name);
	values[1] = Int32GetDatum(sm->version);
	values[2] = PointerGetDatum(construct_array(kd, n, TEXTOID, -1, false, TYPALIGN_INT));
	catalog_read(&plan,
					   "SELECT user_key, seen, ratings, bias FROM recsys.user_factors "
					   "WHERE model = $1 AND version = $2 AND user_key = ANY ($3)", 3, types,
			 values, 0);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		char	   *key = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);

		for (int32 k = 0; k < n; k++)
			if (strcmp(keys[k], key) == 0)
				knn_user_from_row(tup, SPI_tuptable->tupdesc, 2, &out[k]);
	}
}
