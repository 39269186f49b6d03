/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  Model privileges: who may use a model, and the functions that give
 *	  and take that right (recsys.grant_model, recsys.revoke_model,
 *	  recsys.alter_model_owner, recsys.has_model_privilege).
 *
 * A role may use a model (serve it, predict with it, evaluate and audit
 * it, read its catalog rows) if it has the privileges of the model's
 * owner (the owner itself, a member of the owning role, a superuser), or
 * if the owner granted the model to it, to a role whose privileges it
 * has, or to PUBLIC (grantee 0 in recsys.model_grants).  This is
 * PostgreSQL's USAGE privilege, kept in a table of the catalog because a
 * model is a set of rows, not an object of its own.
 *
 * rs_check_model_usage() is called at the entry of every function that
 * takes a model name; the catalog tables show a role the same models
 * through row-level security, whose policies read recsys.usable_models().
 * Both read recsys.models and recsys.model_grants directly (an index scan,
 * no SQL), so neither the caller's table privileges nor the row-level
 * security of these very tables applies to the check itself.
 *
 * Writes (grants and owners) run as the catalog's owner with search_path
 * pinned, like every other write of the catalog (see catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#include "privileges.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "compat.h"

/* longest model name (catalog.c checks it on training) */
#define MAX_MODEL_NAME 200

static Oid
catalog_relid(const char *relname, bool missing_ok)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid("recsys", false));

	if (!OidIsValid(relid) && !missing_ok)
		elog(ERROR, "recsys catalog table \"%s\" is missing", relname);
	return relid;
}

static AttrNumber
column_of(Relation rel, const char *column)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), column);

	if (att == InvalidAttrNumber)
		elog(ERROR, "recsys catalog column \"%s\" of \"%s\" is missing",
			 column, RelationGetRelationName(rel));
	return att;
}

/*
 * A scan of a catalog table: by its primary key's first column (a model
 * name) when key is not NULL, else of every row.  The key is compared
 * with the column's own collation, the one the index is sorted by.
 */
static SysScanDesc
begin_scan(Relation rel, AttrNumber keycol, const char *key, ScanKeyData *skey)
{
	if (key == NULL)
		return systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	ScanKeyEntryInitialize(skey, 0, keycol, BTEqualStrategyNumber, InvalidOid,
						   TupleDescAttr(RelationGetDescr(rel), keycol - 1)->attcollation,
						   F_TEXTEQ, CStringGetTextDatum(key));
	return systable_beginscan(rel, rs_primary_key_index(rel), true, NULL, 1, skey);
}

/*
 * A scan of a catalog table whose rows pair a model name with a role
 * (models: name and owner; model_grants: model and grantee), by model
 * name or of every row (key NULL); pair_scan_next() returns each row's
 * name and role (isnull: the role is NULL).
 */
typedef struct PairScan
{
	Relation	rel;
	SysScanDesc scan;
	AttrNumber	att_name;
	AttrNumber	att_role;
	ScanKeyData skey;
} PairScan;

static void
pair_scan_begin(PairScan *ps, const char *table, const char *name_col,
				const char *role_col, const char *key)
{
	ps->rel = table_open(catalog_relid(table, false), AccessShareLock);
	ps->att_name = column_of(ps->rel, name_col);
	ps->att_role = column_of(ps->rel, role_col);
	ps->scan = begin_scan(ps->rel, ps->att_name, key, &ps->skey);
}

static bool
pair_scan_next(PairScan *ps, Datum *name, Datum *role, bool *isnull)
{
	HeapTuple	tup = systable_getnext(ps->scan);
	bool		name_isnull;

	if (!HeapTupleIsValid(tup))
		return false;
	*name = heap_getattr(tup, ps->att_name, RelationGetDescr(ps->rel), &name_isnull);
	*role = heap_getattr(tup, ps->att_role, RelationGetDescr(ps->rel), isnull);
	return true;
}

static void
pair_scan_end(PairScan *ps)
{
	systable_endscan(ps->scan);
	table_close(ps->rel, AccessShareLock);
}

/* The owner of a model; false if there is no such model. */
static bool
model_owner(const char *name, Oid *owner)
{
	PairScan	ps;
	Datum		d,
				role;
	bool		isnull;
	bool		found;

	pair_scan_begin(&ps, "models", "name", "owner", name);
	found = pair_scan_next(&ps, &d, &role, &isnull);
	if (found)
		*owner = isnull ? InvalidOid : DatumGetObjectId(role);
	pair_scan_end(&ps);
	return found;
}

/* Whether a grant to grantee (InvalidOid: PUBLIC) reaches role. */
static bool
grant_reaches(Oid grantee, Oid role)
{
	return !OidIsValid(grantee) || has_privs_of_role(role, grantee);
}

/* Whether the owner of model name granted it to role (or to a role it has the privileges of, or to PUBLIC). */
static bool
granted(const char *name, Oid role)
{
	PairScan	ps;
	Datum		d,
				grantee;
	bool		isnull;
	bool		found = false;

	pair_scan_begin(&ps, "model_grants", "model", "grantee", name);
	while (!found && pair_scan_next(&ps, &d, &grantee, &isnull))
		found = !isnull && grant_reaches(DatumGetObjectId(grantee), role);
	pair_scan_end(&ps);
	return found;
}

/*
 * Whether role may use a model owned by owner.  A superuser has the
 * privileges of every role; an owner that was dropped matches no role.
 */
static bool
may_use(const char *name, Oid owner, Oid role)
{
	return has_privs_of_role(role, owner) || granted(name, role);
}

/*
 * Before the catalog is updated to 0.2.0 (ALTER EXTENSION recsys UPDATE)
 * there are neither grants nor owners by OID: the rule of 0.1.0 holds,
 * reading models takes SELECT on the catalog.
 */
static bool
catalog_has_grants(void)
{
	return OidIsValid(catalog_relid("model_grants", true));
}

static void
report_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", name),
			 errhint("SELECT name FROM recsys.models lists the models.")));
}

/*
 * The check at the entry of every function that serves, evaluates or
 * audits a model.  An unknown model is 42704, as it always was; a model
 * the current user may not use is 42501, and the error says nothing of
 * the model but that it exists (as PostgreSQL does for a table).
 */
void
rs_check_model_usage(const char *name)
{
	Oid			owner;

	rs_refuse_shard_task();		/* a worker's catalog has no model */
	if (!catalog_has_grants())
	{
		if (pg_class_aclcheck(catalog_relid("models", false), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for model \"%s\"", name),
					 errhint("Run ALTER EXTENSION recsys UPDATE, then ask the model's owner for recsys.grant_model().")));
		return;
	}
	if (strlen(name) > MAX_MODEL_NAME || !model_owner(name, &owner))
		report_missing(name);
	if (!may_use(name, owner, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", name),
				 errhint("Ask the model's owner to grant it to you with recsys.grant_model().")));
}

/* ----------------------------------------------------------------
 *		SQL functions
 * ----------------------------------------------------------------
 */

static char *
model_arg(FunctionCallInfo fcinfo, int arg)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/*
 * A role argument: 0 is PUBLIC; any other OID must be a role that exists
 * unless it is only removed (a grant to a role since dropped).
 */
static Oid
role_arg(FunctionCallInfo fcinfo, int arg, const char *what, bool must_exist)
{
	Oid			role;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what),
				 errhint("Pass a role name, or 0 for PUBLIC.")));
	role = PG_GETARG_OID(arg);
	if (must_exist && OidIsValid(role) &&
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
	return role;
}

/*
 * recsys.check_model_usage(model): rs_check_model_usage() for the SQL
 * functions of the extension (evaluation, audits).
 */
PG_FUNCTION_INFO_V1(rs_check_model_usage_sql);
Datum
rs_check_model_usage_sql(PG_FUNCTION_ARGS)
{
	rs_check_model_usage(model_arg(fcinfo, 0));
	PG_RETURN_VOID();
}

/*
 * recsys.has_model_privilege(model): whether the current user may use the
 * model.  An unknown model is an error, as has_table_privilege() errs on an
 * unknown table name.
 */
PG_FUNCTION_INFO_V1(rs_has_model_privilege);
Datum
rs_has_model_privilege(PG_FUNCTION_ARGS)
{
	char	   *name = model_arg(fcinfo, 0);
	Oid			owner;

	rs_refuse_shard_task();
	if (!catalog_has_grants())
		PG_RETURN_BOOL(pg_class_aclcheck(catalog_relid("models", false), GetUserId(),
										 ACL_SELECT) == ACLCHECK_OK);
	if (strlen(name) > MAX_MODEL_NAME || !model_owner(name, &owner))
		report_missing(name);
	PG_RETURN_BOOL(may_use(name, owner, GetUserId()));
}

/*
 * recsys.usable_models(): the names of the models the current user may
 * use, for the row-level security policies of the catalog.  One pass over
 * the grants and one over the models, however many models there are; the
 * policies call it once per statement (as an InitPlan).
 */
PG_FUNCTION_INFO_V1(rs_usable_models);
Datum
rs_usable_models(PG_FUNCTION_ARGS)
{
	Oid			role = GetUserId();
	HASHCTL		ctl;
	HTAB	   *grants;
	PairScan	ps;
	Datum		name,
				grantee,
				owner;
	bool		isnull;
	ArrayBuildState *astate = NULL;
	char		key[MAX_MODEL_NAME + 1];

	/* the models granted to the user */
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_MODEL_NAME + 1;
	ctl.entrysize = MAX_MODEL_NAME + 1;
	ctl.hcxt = CurrentMemoryContext;
	grants = hash_create("recsys granted models", 64, &ctl,
						 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	pair_scan_begin(&ps, "model_grants", "model", "grantee", NULL);
	while (pair_scan_next(&ps, &name, &grantee, &isnull))
	{
		if (isnull || !grant_reaches(DatumGetObjectId(grantee), role))
			continue;
		text_to_cstring_buffer(DatumGetTextPP(name), key, sizeof(key));
		(void) hash_search(grants, key, HASH_ENTER, NULL);
	}
	pair_scan_end(&ps);

	/* and those it has the owner's privileges of */
	pair_scan_begin(&ps, "models", "name", "owner", NULL);
	while (pair_scan_next(&ps, &name, &owner, &isnull))
	{
		bool		usable = !isnull && has_privs_of_role(role, DatumGetObjectId(owner));

		if (!usable)
		{
			text_to_cstring_buffer(DatumGetTextPP(name), key, sizeof(key));
			usable = hash_search(grants, key, HASH_FIND, NULL) != NULL;
		}
		if (usable)
			astate = accumArrayResult(astate, name, false, TEXTOID, CurrentMemoryContext);
	}
	pair_scan_end(&ps);
	hash_destroy(grants);

	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}

/*
 * Runs a write of the catalog as the catalog's owner with search_path
 * pinned (as catalog.c writes it): the caller needs no privilege on the
 * catalog tables, and nothing on the caller's search_path changes what
 * the statement does.
 */
static void
catalog_write(const char *sql, int nargs, Oid *types, Datum *values)
{
	SPI_connect();
	(void) rs_catalog_exec(sql, nargs, types, values, NULL, false);
	SPI_finish();
}

/*
 * The owner of a model the current user owns (has the privileges of), with
 * the model locked against training, dropping and other changes of its
 * privileges until the end of the transaction.  Anyone else gets 42501,
 * and learns no more than that the model exists.
 */
static Oid
owned_model(const char *name, const char *action)
{
	Oid			owner;

	if (!catalog_has_grants())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the recsys catalog has no model privileges yet"),
				 errhint("Run ALTER EXTENSION recsys UPDATE.")));
	rs_check_model_name(name);
	rs_lock_model(name);
	if (!model_owner(name, &owner))
		report_missing(name);
	/* a dropped owner's OID matches no role: only superusers act on it */
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of model \"%s\"", name),
				 errhint("Only the model's owner (or a member of the owning role, or a superuser) may %s.", action)));
	return owner;
}

/*
 * grant_model and revoke_model: the owner's grant of the model to grantee
 * (0: PUBLIC) is added (grant) or removed; only a grant is checked for a
 * grantee that exists (a role since dropped may still be revoked from).
 */
static void
change_grant(FunctionCallInfo fcinfo, bool grant)
{
	char	   *name = model_arg(fcinfo, 0);
	Oid			grantee = role_arg(fcinfo, 1, "grantee", grant);
	Oid			types[3] = {TEXTOID, REGROLEOID, REGROLEOID};
	Datum		values[3];

	(void) owned_model(name, grant ? "grant its use" : "revoke its use");
	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(grantee);
	values[2] = ObjectIdGetDatum(GetUserId());
	if (grant)
		/* granting twice is no error, as with GRANT */
		catalog_write("INSERT INTO recsys.model_grants (model, grantee, granted_by) "
					  "VALUES ($1, $2, $3) ON CONFLICT (model, grantee) DO NOTHING",
					  3, types, values);
	else
		/* revoking what was not granted is no error, as with REVOKE */
		catalog_write("DELETE FROM recsys.model_grants WHERE model = $1 AND grantee = $2",
					  2, types, values);
}

/* recsys.grant_model(model, grantee): grantee (0: PUBLIC) may use the model */
PG_FUNCTION_INFO_V1(rs_grant_model);
Datum
rs_grant_model(PG_FUNCTION_ARGS)
{
	change_grant(fcinfo, true);
	PG_RETURN_VOID();
}

/* recsys.revoke_model(model, grantee): the grant to grantee is removed */
PG_FUNCTION_INFO_V1(rs_revoke_model);
Datum
rs_revoke_model(PG_FUNCTION_ARGS)
{
	change_grant(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * recsys.alter_model_owner(model, new_owner): PostgreSQL's rules for ALTER
 * ... OWNER TO: a superuser, or a role that has the privileges of the
 * current owner and is a member of the new one.  Unlike ALTER TABLE, giving
 * a model to its current owner is checked too: otherwise a call that
 * succeeds would tell anyone who owns the model.
 */
PG_FUNCTION_INFO_V1(rs_alter_model_owner);
Datum
rs_alter_model_owner(PG_FUNCTION_ARGS)
{
	char	   *name = model_arg(fcinfo, 0);
	Oid			new_owner = role_arg(fcinfo, 1, "new_owner", true);
	Oid			owner;
	Oid			types[2] = {TEXTOID, REGROLEOID};
	Datum		values[2];

	if (!OidIsValid(new_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a model cannot be owned by PUBLIC"),
				 errhint("Pass a role name.")));
	owner = owned_model(name, "give it to another role");
	if (!superuser() && !is_member_of_role(GetUserId(), new_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be member of role \"%s\"", GetUserNameFromId(new_owner, false))));
	if (owner == new_owner)
		PG_RETURN_VOID();
	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(new_owner);
	catalog_write("UPDATE recsys.models SET owner = $2 WHERE name = $1", 2, types, values);
	PG_RETURN_VOID();
}
