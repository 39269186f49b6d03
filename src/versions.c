/*-------------------------------------------------------------------------
 *
 * versions.c
 *	  Choosing which kept version of a model serves: recsys.activate()
 *	  (rollback and roll-forward), and pinning versions so that pruning
 *	  keeps them: recsys.pin_version(), recsys.unpin_version().
 *
 * Each is the model owner's (or a superuser's), like retrain, and runs
 * under the model's training lock (rs_lock_model), so an activation and a
 * retrain of the same model happen one after the other, never
 * interleaved.  The catalog is written as its owner (rs_catalog_exec).
 * Every activation, and every version a training makes active, is
 * recorded in recsys.model_activations.  Serving caches follow an
 * activation on their next call: each call reads the active version.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

static char *
model_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

static int32
version_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("version must not be NULL"),
				 errhint("SELECT version FROM recsys.model_versions WHERE model = '...' lists the versions a model keeps.")));
	return PG_GETARG_INT32(1);
}

/*
 * The model, locked against training and other activations, after the
 * owner check, and its version, which must be kept.  Inside SPI.
 */
static void
lock_owned_version(const char *name, int32 version)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(name), Int32GetDatum(version)};

	rs_lock_model(name);
	rs_check_model_owner(rs_model_lookup(name, false));
	rs_catalog_exec("SELECT 1 FROM recsys.model_versions WHERE model = $1 AND version = $2",
					2, types, values, NULL, false);
	if (SPI_processed == 0)
		rs_report_no_version(name, version);
}

/*
 * recsys.activate(model, version): makes a kept version the active one.
 * Returns the version that was active before.
 */
PG_FUNCTION_INFO_V1(rs_activate);
Datum
rs_activate(PG_FUNCTION_ARGS)
{
	char	   *name = model_arg(fcinfo);
	int32		version = version_arg(fcinfo);
	Oid			types[4] = {TEXTOID, INT4OID, OIDOID, INT4OID};
	Datum		values[4];
	char		nulls[5] = "    ";
	bool		isnull;
	Datum		d;
	int32		previous;
	bool		had_previous;

	SPI_connect();
	lock_owned_version(name, version);
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = ObjectIdGetDatum(GetUserId());
	rs_catalog_exec("SELECT active_version FROM recsys.models WHERE name = $1 FOR UPDATE",
					1, types, values, NULL, false);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	had_previous = !isnull;
	previous = isnull ? 0 : DatumGetInt32(d);
	values[3] = Int32GetDatum(previous);
	nulls[3] = had_previous ? ' ' : 'n';
	if (had_previous && previous == version)
		ereport(NOTICE,
				(errmsg("version %d of model \"%s\" is already active", version, name)));
	else
	{
		rs_catalog_exec("UPDATE recsys.models SET active_version = $2, updated_at = pg_catalog.now() "
						"WHERE name = $1",
						2, types, values, NULL, false);
		rs_catalog_exec("INSERT INTO recsys.model_activations "
						"(model, version, previous_version, activated_by) "
						"VALUES ($1, $2, $4, $3::pg_catalog.regrole)",
						4, types, values, nulls, false);
	}
	SPI_finish();
	if (!had_previous)
		PG_RETURN_NULL();
	PG_RETURN_INT32(previous);
}

/*
 * recsys.pin_version(model, version): keeps a version from being pruned
 * until recsys.unpin_version().  True if it was not pinned by its owner
 * before.
 */
PG_FUNCTION_INFO_V1(rs_pin_version);
Datum
rs_pin_version(PG_FUNCTION_ARGS)
{
	char	   *name = model_arg(fcinfo);
	int32		version = version_arg(fcinfo);
	Oid			types[3] = {TEXTOID, INT4OID, OIDOID};
	Datum		values[3];
	bool		added;

	SPI_connect();
	lock_owned_version(name, version);
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = ObjectIdGetDatum(GetUserId());
	rs_catalog_exec("INSERT INTO recsys.version_pins (model, version, reason, pinned_by) "
					"VALUES ($1, $2, 'user', $3::pg_catalog.regrole) "
					"ON CONFLICT (model, version, reason) DO NOTHING",
					3, types, values, NULL, false);
	added = SPI_processed > 0;
	SPI_finish();
	PG_RETURN_BOOL(added);
}

/*
 * recsys.unpin_version(model, version): takes back pin_version().  Pins
 * of another reason (an experiment's) stay.  True if there was a pin.
 */
PG_FUNCTION_INFO_V1(rs_unpin_version);
Datum
rs_unpin_version(PG_FUNCTION_ARGS)
{
	char	   *name = model_arg(fcinfo);
	int32		version = version_arg(fcinfo);
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	bool		removed;

	SPI_connect();
	rs_lock_model(name);
	rs_check_model_owner(rs_model_lookup(name, false));
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	rs_catalog_exec("DELETE FROM recsys.version_pins "
					"WHERE model = $1 AND version = $2 AND reason = 'user'",
					2, types, values, NULL, false);
	removed = SPI_processed > 0;
	SPI_finish();
	PG_RETURN_BOOL(removed);
}
