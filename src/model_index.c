/*-------------------------------------------------------------------------
 *
 * model_index.c
 *	  Per-model recsys_hnsw indexes on recsys.item_factors that recsys
 *	  creates and keeps: recsys.create_model_index(), drop_model_index(),
 *	  reindex_model() and restore_model_indexes().
 *
 * A recsys_hnsw index holds vectors of one dimension, and item_factors
 * holds every model's, so an index is partial: it covers one model's rows
 * of one dimension (WHERE model = 'm' AND recsys.dims(factors) = d), named
 * rs_idx_<first 16 hex digits of md5(model)>_<d>.  A retrain with another
 * number of factors gets an index of its own, built after its rows are
 * stored.  Nothing here drops an index on the owner's behalf: DROP INDEX
 * (and REINDEX) lock recsys.item_factors against every reader until the
 * transaction ends, which would let one role stall every model's serving.
 * An index no model needs any more (its model dropped, its dimension no
 * longer kept, its request withdrawn) stays, matching no new row, until a
 * superuser runs recsys.drop_unused_model_indexes().  The request (recsys.models.index_options) is catalog data, so
 * pg_dump keeps it although it does not dump indexes on an extension's
 * tables: after a restore, restore_model_indexes() (or the next training
 * of the model) builds them again, and until then serving scores every
 * item, which gives the same lists.
 *
 * The indexes belong to the catalog's owner and are created and dropped
 * as that role (catalog.c's rs_run_as_begin); the model's owner asks for
 * them through these functions.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "catalog/pg_type.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

static int
option_int(Jsonb *options, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (options == NULL)
		return 0;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&options->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
}

/* runs index DDL or a lookup as the catalog's owner; inside SPI */
static void
as_catalog_owner(const char *sql, int nargs, Oid *types, Datum *values)
{
	(void) rs_catalog_exec(sql, nargs, types, values, NULL, false);
}

/*
 * The dimensions of the model's kept versions with factors, and whether
 * its managed index for each exists.  Fills dims[] (at most max).
 */
static int
kept_dimensions(const char *model, int *dims, bool *exists, int max)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(model),
	CStringGetTextDatum(rs_model_index_name(model, -1))};
	int			n = 0;

	as_catalog_owner("SELECT DISTINCT (v.params->>'factors')::int, "
					 "  pg_catalog.to_regclass(pg_catalog.quote_ident('recsys') || '.' || "
					 "    pg_catalog.quote_ident($2 || (v.params->>'factors'))) IS NOT NULL "
					 "FROM recsys.model_versions v "
					 "WHERE v.model = $1 AND (v.params->>'factors')::int > 0 ORDER BY 1",
					 2, types, values);
	for (uint64 r = 0; r < SPI_processed && n < max; r++)
	{
		bool		isnull;

		dims[n] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		exists[n] = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		n++;
	}
	return n;
}

/*
 * Builds the managed indexes a model's kept versions lack: one per
 * dimension a kept version has.  Nothing
 * when the model asks for no index.  Inside SPI.  Returns how many it built.
 */
int
rs_model_index_sync(const char *model)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};
	Jsonb	   *options;
	bool		isnull;
	Datum		d;
	int			dims[64];
	bool		exists[64];
	int			n;
	int			built = 0;
	int			m;
	int			efc;

	as_catalog_owner("SELECT index_options FROM recsys.models WHERE name = $1",
					 1, types, values);
	if (SPI_processed == 0)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return 0;
	options = DatumGetJsonbPCopy(d);
	m = option_int(options, "m");
	efc = option_int(options, "ef_construction");

	n = kept_dimensions(model, dims, exists, lengthof(dims));
	for (int i = 0; i < n; i++)
	{
		StringInfoData sql;

		if (exists[i])
			continue;
		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE INDEX %s ON recsys.item_factors "
						 "USING recsys_hnsw (factors recsys.embedding_ip_ops)",
						 quote_identifier(rs_model_index_name(model, dims[i])));
		if (m > 0 || efc > 0)
		{
			appendStringInfoString(&sql, " WITH (");
			if (m > 0)
				appendStringInfo(&sql, "m = %d%s", m, efc > 0 ? ", " : "");
			if (efc > 0)
				appendStringInfo(&sql, "ef_construction = %d", efc);
			appendStringInfoChar(&sql, ')');
		}
		appendStringInfo(&sql, " WHERE model = %s AND recsys.dims(factors) = %d",
						 quote_literal_cstr(model), dims[i]);
		as_catalog_owner(sql.data, 0, NULL, NULL);
		built++;
	}
	return built;
}

/* the model, checked: it exists, the caller owns it, it has factors */
static RsModelDef *
owned_factor_model(FunctionCallInfo fcinfo)
{
	char	   *name;
	RsModelDef *def;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_lock_model(name);
	def = rs_model_lookup(name, false);
	rs_check_model_owner(def);
	return def;
}

PG_FUNCTION_INFO_V1(rs_create_model_index);
Datum
rs_create_model_index(PG_FUNCTION_ARGS)
{
	RsModelDef *def;
	int			m = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int			efc = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		values[2];
	StringInfoData opts;
	int			built;

	SPI_connect();
	def = owned_factor_model(fcinfo);
	if (strcmp(def->algorithm, "ials") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" is a %s model: only ials models are served through an index",
						def->name, def->algorithm),
				 errhint("recommend() ranks models with biases by scoring every item, which an index would not speed up.")));
	if (!PG_ARGISNULL(1) && (m < 2 || m > 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("m must be between 2 and 100, not %d", m)));
	if (!PG_ARGISNULL(2) && (efc < 4 || efc > 1000))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be between 4 and 1000, not %d", efc)));
	initStringInfo(&opts);
	appendStringInfoChar(&opts, '{');
	if (m > 0)
		appendStringInfo(&opts, "\"m\": %d", m);
	if (efc > 0)
		appendStringInfo(&opts, "%s\"ef_construction\": %d", m > 0 ? ", " : "", efc);
	appendStringInfoChar(&opts, '}');
	values[0] = CStringGetTextDatum(def->name);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(opts.data));
	/* an index already built keeps its settings (see the file header) */
	as_catalog_owner("UPDATE recsys.models SET index_options = $2 WHERE name = $1",
					 2, types, values);
	built = rs_model_index_sync(def->name);
	SPI_finish();
	PG_RETURN_INT32(built);
}

PG_FUNCTION_INFO_V1(rs_drop_model_index);
Datum
rs_drop_model_index(PG_FUNCTION_ARGS)
{
	RsModelDef *def;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		asked;

	SPI_connect();
	def = owned_factor_model(fcinfo);
	values[0] = CStringGetTextDatum(def->name);
	as_catalog_owner("UPDATE recsys.models SET index_options = NULL "
					 "WHERE name = $1 AND index_options IS NOT NULL",
					 1, types, values);
	asked = SPI_processed > 0;
	SPI_finish();
	PG_RETURN_BOOL(asked);
}

PG_FUNCTION_INFO_V1(rs_reindex_model);
Datum
rs_reindex_model(PG_FUNCTION_ARGS)
{
	RsModelDef *def;
	int			dims[64];
	bool		exists[64];
	int			n;
	int			done = 0;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to rebuild a model's index"),
				 errdetail("REINDEX keeps every model from being served until its transaction ends."),
				 errhint("A model's owner gets a fresh index by retraining with another number of factors, or asks a superuser.")));
	SPI_connect();
	def = owned_factor_model(fcinfo);
	n = kept_dimensions(def->name, dims, exists, lengthof(dims));
	for (int i = 0; i < n; i++)
		if (exists[i])
		{
			as_catalog_owner(psprintf("REINDEX INDEX recsys.%s",
									  quote_identifier(rs_model_index_name(def->name, dims[i]))),
							 0, NULL, NULL);
			done++;
		}
	done += rs_model_index_sync(def->name);
	SPI_finish();
	PG_RETURN_INT32(done);
}

/* The first column of sql's rows, run as the catalog's owner (in SPI). */
static List *
catalog_names(const char *sql)
{
	List	   *names = NIL;

	as_catalog_owner(sql, 0, NULL, NULL);
	for (uint64 r = 0; r < SPI_processed; r++)
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
	return names;
}

/* One row (name) of a materialized SRF's result. */
static void
put_name(ReturnSetInfo *rsinfo, const char *name)
{
	Datum		value = CStringGetTextDatum(name);
	bool		isnull = false;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
}

/*
 * After pg_restore (which does not dump indexes on an extension's tables):
 * builds the missing indexes of every model that asks for one and that
 * the caller owns (a superuser: every model).  Returns the models' names.
 */
PG_FUNCTION_INFO_V1(rs_restore_model_indexes);
Datum
rs_restore_model_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *models;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	models = catalog_names("SELECT name FROM recsys.models WHERE index_options IS NOT NULL ORDER BY name");
	foreach(lc, models)
	{
		const char *name = lfirst(lc);
		RsModelDef *def;

		/* only the caller's models, and their locks only */
		def = rs_model_lookup(name, true);
		if (def == NULL || !has_privs_of_role(GetUserId(), def->owner))
			continue;
		rs_lock_model(name);
		def = rs_model_lookup(name, true);
		if (def == NULL || !has_privs_of_role(GetUserId(), def->owner))
			continue;
		if (rs_model_index_sync(name) == 0)
			continue;
		put_name(rsinfo, name);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * Superusers only: drops the managed indexes no model needs any more (the
 * model dropped, its request withdrawn, or no kept version of that
 * dimension).  DROP INDEX locks recsys.item_factors against every reader
 * until the transaction ends: run it on its own, outside busy hours.
 * Returns the names of the indexes dropped.
 */
PG_FUNCTION_INFO_V1(rs_drop_unused_model_indexes);
Datum
rs_drop_unused_model_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *names;
	ListCell   *lc;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to drop unused model indexes"),
				 errdetail("DROP INDEX keeps every model from being served until its transaction ends.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	/* a managed index is in use when a model asking for one has a kept version of its dimension */
	names = catalog_names("SELECT c.relname::text FROM pg_catalog.pg_class c "
						  "JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid "
						  "WHERE x.indrelid = 'recsys.item_factors'::pg_catalog.regclass "
						  "AND pg_catalog.starts_with(c.relname::text, 'rs_idx_') "
						  "AND NOT EXISTS (SELECT 1 FROM recsys.models m JOIN recsys.model_versions v "
						  "  ON v.model = m.name WHERE m.index_options IS NOT NULL "
						  "  AND c.relname::text = 'rs_idx_' || pg_catalog.left(pg_catalog.md5(m.name), 16) "
						  "      || '_' || (v.params->>'factors')) "
						  "ORDER BY 1");
	foreach(lc, names)
	{
		const char *name = lfirst(lc);

		as_catalog_owner(psprintf("DROP INDEX recsys.%s", quote_identifier(name)), 0, NULL, NULL);
		put_name(rsinfo, name);
	}
	SPI_finish();
	return (Datum) 0;
}
