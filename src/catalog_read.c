/*-------------------------------------------------------------------------
 *
 * catalog_read.c
 *	  Reading stored model versions back for serving and predictions: the
 *	  active version, a user's row, a version's items, the neighbour lists
 *	  of the neighbourhood models, the managed index's name and its
 *	  candidates.  The writes (a new version, dropping a model) and the
 *	  rules of whose rights catalog SQL runs with are catalog.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

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
#include "utils/varlena.h"

#include "embedding.h"

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

/* what the index of a model is called for a dimension (prefix: dims < 0) */
char *
rs_model_index_name(const char *model, int dims)
{
	char		hex[33];		/* 32 hex digits and a NUL */
	const char *errstr = NULL;

	if (!pg_md5_hash(model, strlen(model), hex, &errstr))
		elog(ERROR, "could not compute an MD5 hash: %s", errstr);
	hex[16] = '\0';
	if (dims < 0)
		return psprintf("rs_idx_%s_", hex);
	return psprintf("rs_idx_%s_%d", hex, dims);
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

	types[2] = rs_embedding_type_oid();
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

/*
 * A stored version of a model: the given one, or (version 0) the active
 * one.  RS_NO_MODEL if there is no such model (or, asked for the active
 * version, it has none), RS_NO_VERSION if the model has no such version.
 */
RsVersionLookup
rs_model_version(const char *name, int32 version, RsStoredModel *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(name), Int32GetDatum(version)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	char	   *alg;

	catalog_read(&plan,
				 "SELECT v.version, v.algorithm, v.global_mean, "
				 "coalesce((v.params->>'factors')::int, 0), v.items, v.users, "
				 "v.params->>'feedback', v.version_id, m.index_options IS NOT NULL "
				 "FROM recsys.models m LEFT JOIN recsys.model_versions v "
				 "ON v.model = m.name AND v.version = "
				 "CASE WHEN $2 = 0 THEN m.active_version ELSE $2 END "
				 "WHERE m.name = $1", 2, types,
				 values, 1);
	if (SPI_processed == 0)
		return RS_NO_MODEL;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	(void) SPI_getbinval(tup, desc, 1, &isnull);
	if (isnull)
		return version == 0 ? RS_NO_MODEL : RS_NO_VERSION;
	out->name = rs_spi_strdup(name);
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
	out->catalog_id = get_relname_relid("models", rs_recsys_namespace());
	if (rs_algorithm_is_knn(out->algorithm))
	{
		Datum		fb = SPI_getbinval(tup, desc, 7, &isnull);

		out->explicit_feedback = !isnull &&
			strcmp(TextDatumGetCString(fb), "explicit") == 0;
	}
	else
		out->explicit_feedback = !rs_algorithm_is_implicit(out->algorithm);
	return RS_VERSION_FOUND;
}

/* The active version of a model.  False if there is no such model. */
bool
rs_active_model(const char *name, RsStoredModel *out)
{
	return rs_model_version(name, 0, out) == RS_VERSION_FOUND;
}

/*
 * A model's stored version for serving: version 0 is the active one.  An
 * error when the model or the version does not exist.
 */
void
rs_served_version(const char *name, int32 version, RsStoredModel *out)
{
	switch (rs_model_version(name, version, out))
	{
		case RS_VERSION_FOUND:
			return;
		case RS_NO_MODEL:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name),
					 errhint("SELECT name FROM recsys.models lists the models.")));
			break;
		case RS_NO_VERSION:
			rs_report_no_version(name, version);
			break;
	}
}

/* The error for a version a model does not have (kept or never trained). */
void
rs_report_no_version(const char *name, int32 version)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" has no version %d", name, version),
			 errhint("SELECT version FROM recsys.model_versions WHERE model = %s lists the versions it keeps.",
					 quote_literal_cstr(name))));
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
 * if none), interaction counts, and svdpp's implicit factors (n x k, NULL
 * if none).
 */
void
rs_load_items(const RsStoredModel *sm, MemoryContext cxt, char ***keys,
			  float **bias, float **factors, int32 **degree, float **implicit)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(sm->name), Int32GetDatum(sm->version)};
	int32		n = sm->n_items;
	int			k = sm->factors;
	bool		have_bias = false;
	bool		have_factors = false;
	bool		have_implicit = false;
	MemoryContext old;

	catalog_read(&plan,
					   "SELECT item_idx, item_key, bias, factors, interactions, implicit_factors "
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
	/* svdpp's y_j: no other model has them */
	*implicit = k > 0 && sm->algorithm == RS_ALG_SVDPP ?
		palloc0(sizeof(float) * (Size) n * k) : NULL;
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
		d = SPI_getbinval(tup, desc, 6, &isnull);
		if (!isnull && *implicit)
		{
			Embedding  *e = DatumGetEmbedding(d);

			if (e->dim != k)
				elog(ERROR, "model \"%s\": item %d has %d implicit factors, expected %d",
					 sm->name, i, e->dim, k);
			memcpy(*implicit + (Size) i * k, e->x, sizeof(float) * k);
			have_implicit = true;
		}
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
	if (!have_implicit && *implicit)
	{
		pfree(*implicit);
		*implicit = NULL;
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
		(*keys)[k] = rs_spi_strdup(TextDatumGetCString(kd[k]));
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
