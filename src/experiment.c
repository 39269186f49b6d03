/*-------------------------------------------------------------------------
 *
 * experiment.c
 *	  A/B experiments: the stable hash that assigns a user to an arm
 *	  (recsys.experiment_point, recsys.assign), the catalog writes of
 *	  recsys.create_experiment and recsys.end_experiment, and the bootstrap
 *	  interval of recsys.experiment_report.
 *
 * An experiment is a named set of arms, each a model (and a version, or
 * NULL for the model's active version) with a weight; the arms' weights
 * are normalised into consecutive intervals of [0, 1) in the order the
 * arms were given (recsys.experiment_arms.lower_bound, upper_bound,
 * computed once here and stored).  A user goes to the arm whose interval
 * holds the user's point:
 *
 *	 h = FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
 *		 over the bytes of the salt, one zero byte, and the bytes of the
 *		 user key's text form;
 *	 z = SplitMix64's finaliser of h:
 *		 z = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
 *		 z = (z ^ (z >> 27)) * 0x94d049bb133111eb
 *		 z = z ^ (z >> 31)
 *	 point = (z >> 11) / 2^53, in [0, 1).
 *
 * The key's text form is the one the catalog stores: an integer key in
 * decimal, a text or varchar key as it is, a char(n) key without its
 * trailing blanks (keys.c).  So 42, 42::bigint and '42' share a point, and
 * a user's point depends on nothing but the salt and the key: not on the
 * session, the server, a standby or the machine's architecture (integer
 * arithmetic only, and a 53-bit integer over 2^53 is exact in a double).
 * The salt is stored with the experiment; text holds no zero byte, so the
 * separator is unambiguous.
 *
 * Catalog writes run as the catalog's owner with search_path pinned
 * (catalog.c); the caller's right to use every arm's model is checked here
 * with the caller's own identity (privileges.c) before anything is
 * written.  Reads for assign() go through row-level security as the
 * caller: a role assigns users of the experiments it may see.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <math.h>

#include "catalog.h"
#include "core/rng.h"
#include "keys.h"
#include "privileges.h"

/* longest experiment name, as for models (06_catalog.sql) */
#define MAX_EXPERIMENT_NAME 200
/* most arms an experiment may have */
#define MAX_ARMS 100
/* most bootstrap resamples */
#define MAX_RESAMPLES 1000000

/* ----------------------------------------------------------------
 *		The point of a user
 * ----------------------------------------------------------------
 */

static uint64
fnv1a_64(uint64 h, const char *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) bytes[i];
		h *= UINT64CONST(0x100000001b3);
	}
	return h;
}

static double
experiment_point(const char *salt, const char *key)
{
	uint64		h = UINT64CONST(0xcbf29ce484222325);
	const char	zero = '\0';
	uint64		z;

	h = fnv1a_64(h, salt, strlen(salt));
	h = fnv1a_64(h, &zero, 1);
	h = fnv1a_64(h, key, strlen(key));
	z = (h ^ (h >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	z = z ^ (z >> 31);
	return (double) (z >> 11) * (1.0 / 9007199254740992.0);
}

/* The text form of a user key of argument arg (see the top of the file). */
static char *
user_key_text(FunctionCallInfo fcinfo, int arg)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, arg);
	Datum		d = PG_GETARG_DATUM(arg);

	if (!OidIsValid(type) || !rs_key_type_ok(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a user key must be smallint, integer, bigint, text, varchar or char, not %s",
						OidIsValid(type) ? format_type_be(type) : "unknown"),
				 errhint("Cast the key, e.g. user_id::text.")));
	switch (type)
	{
		case INT2OID:
			return psprintf("%d", (int) DatumGetInt16(d));
		case INT4OID:
			return psprintf("%d", DatumGetInt32(d));
		case INT8OID:
			return psprintf(INT64_FORMAT, DatumGetInt64(d));
		default:
			return rs_text_key_cstring(d, type);
	}
}

/*
 * recsys.experiment_point(salt, user): the user's point in [0, 1) for the
 * salt, as assign() computes it.
 */
PG_FUNCTION_INFO_V1(rs_experiment_point);
Datum
rs_experiment_point(PG_FUNCTION_ARGS)
{
	char	   *salt = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_FLOAT8(experiment_point(salt, user_key_text(fcinfo, 1)));
}

/* ----------------------------------------------------------------
 *		assign()
 * ----------------------------------------------------------------
 */

/* An experiment's arms as assign() keeps them for the rest of a query. */
typedef struct AssignCache
{
	char	   *name;
	Oid			role;			/* whose rights it was read with */
	char	   *salt;
	int			n;
	char	  **arms;
	double	   *upper;			/* arm i takes [upper[i-1], upper[i]) */
} AssignCache;

static void
report_missing_experiment(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("experiment \"%s\" does not exist", name),
			 errhint("SELECT name FROM recsys.experiments lists the experiments.")));
}

static bool
experiment_exists(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	(void) rs_catalog_exec("SELECT 1 FROM recsys.experiments WHERE name OPERATOR(pg_catalog.=) $1",
						   1, types, values, NULL, true);
	return SPI_processed > 0;
}

/*
 * Reads an experiment's salt and arms as the caller, through row-level
 * security: an experiment the caller may not see is 42501 (and one that
 * does not exist 42704), as for models.
 */
static AssignCache *
load_experiment(const char *name, MemoryContext cxt)
{
	AssignCache *c;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	int			nestlevel;
	int			rc;

	c = MemoryContextAllocZero(cxt, sizeof(AssignCache));
	c->name = MemoryContextStrdup(cxt, name);
	c->role = GetUserId();
	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	nestlevel = rs_pin_search_path_to(RS_CATALOG_SEARCH_PATH);
	rc = SPI_execute_with_args("SELECT e.salt, a.arm, a.upper_bound "
							   "FROM recsys.experiments e JOIN recsys.experiment_arms a "
							   "ON a.experiment OPERATOR(pg_catalog.=) e.name "
							   "WHERE e.name OPERATOR(pg_catalog.=) $1 ORDER BY a.position",
							   1, types, values, NULL, true, 0);
	rs_unpin_search_path(nestlevel);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "recsys: reading experiment \"%s\" failed: %s", name, SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		if (!experiment_exists(name))
			report_missing_experiment(name);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for experiment \"%s\"", name),
				 errhint("An experiment is visible to its owner and to the roles that may use every model of its arms (recsys.grant_model).")));
	}
	c->n = (int) SPI_processed;
	c->arms = MemoryContextAlloc(cxt, sizeof(char *) * c->n);
	c->upper = MemoryContextAlloc(cxt, sizeof(double) * c->n);
	for (int i = 0; i < c->n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		if (i == 0)
			c->salt = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 1));
		c->arms[i] = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
		c->upper[i] = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	}
	/* the last interval ends at 1 whatever rounding did */
	c->upper[c->n - 1] = 1.0;
	SPI_finish();
	return c;
}

/*
 * recsys.assign(experiment, user): the arm of the user.  The experiment is
 * read once per call site and query (again if the name or the current
 * role changes); its salt and arms never change once written.
 */
PG_FUNCTION_INFO_V1(rs_assign);
Datum
rs_assign(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AssignCache *c = (AssignCache *) fcinfo->flinfo->fn_extra;
	double		p;
	int			lo,
				hi;

	if (c == NULL || strcmp(c->name, name) != 0 || c->role != GetUserId())
	{
		if (strlen(name) > MAX_EXPERIMENT_NAME)
			report_missing_experiment(name);
		c = load_experiment(name, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = c;
	}
	p = experiment_point(c->salt, user_key_text(fcinfo, 1));
	/* the first arm whose interval ends above p */
	lo = 0;
	hi = c->n - 1;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (p < c->upper[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	PG_RETURN_TEXT_P(cstring_to_text(c->arms[lo]));
}

/* ----------------------------------------------------------------
 *		Writes: create_experiment(), end_experiment()
 * ----------------------------------------------------------------
 */

static void
check_experiment_name(const char *name)
{
	if (name[0] == '\0' || strlen(name) > MAX_EXPERIMENT_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an experiment name must have 1 to %d bytes", MAX_EXPERIMENT_NAME),
				 errhint("Name the experiment, e.g. 'homepage_2026_12'.")));
}

/* An experiment's name is locked while it is created or ended. */
static void
lock_experiment(const char *name)
{
	LOCKTAG		tag;
	uint64		h = fnv1a_64(UINT64CONST(0xcbf29ce484222325), name, strlen(name));

	/* field 4 = 4: apart from the models' locks (3, catalog.c) */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, 4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * An arm with a fixed version keeps that version from being pruned while
 * the experiment runs: one row of recsys.version_pins (model, version,
 * reason 'experiment <name>') per such arm, written when the experiment is
 * created and removed when it ends (14_versions.sql).
 */
static void
experiment_pins(const char *name, bool pin)
{
	Oid			types[2] = {TEXTOID, REGROLEOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(GetUserId());
	if (pin)
		(void) rs_catalog_exec("INSERT INTO recsys.version_pins (model, version, reason, pinned_by) "
							   "SELECT DISTINCT a.model, a.version, 'experiment ' OPERATOR(pg_catalog.||) $1, $2 "
							   "FROM recsys.experiment_arms a "
							   "WHERE a.experiment OPERATOR(pg_catalog.=) $1 AND a.version IS NOT NULL "
							   "ON CONFLICT DO NOTHING",
							   2, types, values, NULL, false);
	else
		(void) rs_catalog_exec("DELETE FROM recsys.version_pins "
							   "WHERE reason OPERATOR(pg_catalog.=) ('experiment ' OPERATOR(pg_catalog.||) $1)",
							   1, types, values, NULL, false);
}

static void
arms_array(ArrayType *a, Oid type, const char *what, int *n, Datum **values, bool **nulls)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	deconstruct_array(a, type, typlen, typbyval, typalign, values, nulls, n);
}

/*
 * recsys.experiment_store(name, salt, arms, models, versions, weights):
 * writes a new experiment.  create_experiment() parses and checks its
 * jsonb, then calls this; this checks again whatever keeps the catalog
 * sound (names, weights, the caller's use of each model, that a fixed
 * version exists), so a direct call can store nothing create_experiment
 * would refuse.
 */
PG_FUNCTION_INFO_V1(rs_experiment_store);
Datum
rs_experiment_store(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *salt;
	int			n,
				n_models,
				n_versions,
				n_weights;
	Datum	   *arms,
			   *models,
			   *versions,
			   *weights;
	bool	   *arm_nulls,
			   *model_nulls,
			   *version_nulls,
			   *weight_nulls;
	double		total = 0;
	double		cum = 0;
	double		lower = 0;
	Oid			types[4] = {TEXTOID, TEXTOID, REGROLEOID, TEXTARRAYOID};
	Datum		values[4];

	for (int i = 0; i < 6; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of recsys.experiment_store must not be NULL"),
					 errhint("Create experiments with recsys.create_experiment().")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	salt = text_to_cstring(PG_GETARG_TEXT_PP(1));
	check_experiment_name(name);
	arms_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, "arms", &n, &arms, &arm_nulls);
	arms_array(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, "models", &n_models, &models, &model_nulls);
	arms_array(PG_GETARG_ARRAYTYPE_P(4), INT4OID, "versions", &n_versions, &versions, &version_nulls);
	arms_array(PG_GETARG_ARRAYTYPE_P(5), FLOAT8OID, "weights", &n_weights, &weights, &weight_nulls);
	if (n < 1 || n > MAX_ARMS || n_models != n || n_versions != n || n_weights != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an experiment needs 1 to %d arms, each with a name, a model, a version (or NULL) and a weight", MAX_ARMS),
				 errhint("Create experiments with recsys.create_experiment().")));
	for (int i = 0; i < n; i++)
	{
		double		w;

		if (arm_nulls[i] || model_nulls[i] || weight_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arm %d has no name, model or weight", i + 1)));
		w = DatumGetFloat8(weights[i]);
		if (!(w > 0) || isinf(w))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the weight of arm %d must be a positive finite number, not %g", i + 1, w),
					 errhint("Weights are relative: 1 and 1 split users evenly, 9 and 1 give the first arm 90%%.")));
		total += w;
		/* the caller must be allowed to use the model (42704, 42501) */
		rs_check_model_usage(TextDatumGetCString(models[i]));
	}
	if (isinf(total))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the weights of the arms add up to more than a double holds"),
				 errhint("Weights are relative: scale them down.")));

	lock_experiment(name);
	SPI_connect();
	if (experiment_exists(name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("experiment \"%s\" already exists", name),
				 errhint("Choose another name; an ended experiment keeps its name and its history.")));
	for (int i = 0; i < n; i++)
	{
		Oid			v_types[2] = {TEXTOID, INT4OID};
		Datum		v_values[2];

		RsModelDef *def;

		if (version_nulls[i])
			continue;

		/*
		 * A fixed version is pinned while the experiment runs (pruning
		 * keeps it): the model's owner's decision, not a grantee's.
		 */
		def = rs_model_lookup(TextDatumGetCString(models[i]), false);
		if (!superuser() && !has_privs_of_role(GetUserId(), def->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only the owner of model \"%s\" may give an arm a fixed version of it",
							TextDatumGetCString(models[i])),
					 errdetail("An arm's fixed version is kept from pruning until the experiment ends."),
					 errhint("Give the arm a NULL version (the model's active one), or ask the model's owner.")));
		v_values[0] = models[i];
		v_values[1] = versions[i];
		(void) rs_catalog_exec("SELECT 1 FROM recsys.model_versions "
							   "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
							   2, v_types, v_values, NULL, true);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" has no version %d", TextDatumGetCString(models[i]),
							DatumGetInt32(versions[i])),
					 errhint("SELECT version FROM recsys.model_versions WHERE model = '%s' lists its versions; a NULL version serves the active one.",
							 TextDatumGetCString(models[i]))));
	}

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(salt);
	values[2] = ObjectIdGetDatum(GetUserId());
	values[3] = PG_GETARG_DATUM(3);
	(void) rs_catalog_exec("INSERT INTO recsys.experiments (name, salt, owner, models) "
						   "VALUES ($1, $2, $3, ARRAY(SELECT DISTINCT m FROM pg_catalog.unnest($4) m ORDER BY m))",
						   4, types, values, NULL, false);
	for (int i = 0; i < n; i++)
	{
		Oid			arm_types[8] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, INT4OID,
		FLOAT8OID, FLOAT8OID, FLOAT8OID};
		Datum		arm_values[8];
		char		arm_nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
		double		upper;

		cum += DatumGetFloat8(weights[i]);
		upper = (i == n - 1) ? 1.0 : cum / total;
		if (!(upper > lower))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the weight of arm %d is too small next to the others to give it any user", i + 1),
					 errhint("Weights are relative: give every arm a weight within a factor of 10^15 of the others.")));
		arm_values[0] = values[0];
		arm_values[1] = Int32GetDatum(i + 1);
		arm_values[2] = arms[i];
		arm_values[3] = models[i];
		arm_values[4] = versions[i];
		arm_nulls[4] = version_nulls[i] ? 'n' : ' ';
		arm_values[5] = weights[i];
		arm_values[6] = Float8GetDatum(lower);
		arm_values[7] = Float8GetDatum(upper);
		(void) rs_catalog_exec("INSERT INTO recsys.experiment_arms "
							   "(experiment, position, arm, model, version, weight, share, lower_bound, upper_bound) "
							   "VALUES ($1, $2, $3, $4, $5, $6, $8 OPERATOR(pg_catalog.-) $7, $7, $8)",
							   8, arm_types, arm_values, arm_nulls, false);
		lower = upper;
	}
	experiment_pins(name, true);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * recsys.end_experiment(name): the experiment ends now.  Its rows stay: its
 * users keep their arms (assign() still answers), and its report still
 * runs.  Only its owner (or a member of the owning role, or a superuser)
 * ends it; ending it twice is an error.
 */
PG_FUNCTION_INFO_V1(rs_end_experiment);
Datum
rs_end_experiment(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	Oid			owner;
	bool		isnull;
	bool		ended;
	TimestampTz ended_at;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("experiment must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strlen(name) > MAX_EXPERIMENT_NAME)
		report_missing_experiment(name);
	lock_experiment(name);
	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	(void) rs_catalog_exec("SELECT owner::pg_catalog.oid, ended_at IS NOT NULL FROM recsys.experiments "
						   "WHERE name OPERATOR(pg_catalog.=) $1",
						   1, types, values, NULL, true);
	if (SPI_processed == 0)
		report_missing_experiment(name);
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ended = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	/* a dropped owner's OID matches no role: only superusers end it */
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of experiment \"%s\"", name),
				 errhint("Only the experiment's owner (or a member of the owning role, or a superuser) may end it.")));
	if (ended)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("experiment \"%s\" has already ended", name),
				 errhint("SELECT ended_at FROM recsys.experiments WHERE name = '%s' says when.", name)));
	(void) rs_catalog_exec("UPDATE recsys.experiments SET ended_at = pg_catalog.now() "
						   "WHERE name OPERATOR(pg_catalog.=) $1 RETURNING ended_at",
						   1, types, values, NULL, false);
	ended_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	experiment_pins(name, false);
	SPI_finish();
	PG_RETURN_TIMESTAMPTZ(ended_at);
}

/* ----------------------------------------------------------------
 *		The bootstrap interval of a difference of means
 * ----------------------------------------------------------------
 */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* the non-NULL values of a float8[] */
static double *
float8_values(ArrayType *a, int *n)
{
	Datum	   *d;
	bool	   *nulls;
	int			m;
	double	   *v;

	arms_array(a, FLOAT8OID, "values", &m, &d, &nulls);
	v = palloc(sizeof(double) * Max(m, 1));
	*n = 0;
	for (int i = 0; i < m; i++)
	{
		if (nulls[i])
			continue;
		v[*n] = DatumGetFloat8(d[i]);
		if (isnan(v[*n]) || isinf(v[*n]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bootstrap values must be finite")));
		(*n)++;
	}
	return v;
}

static double
resampled_mean(RsRng *rng, const double *v, int n)
{
	double		s = 0;

	for (int i = 0; i < n; i++)
		s += v[rs_rng_below(rng, (uint32) n)];
	return s / n;
}

/*
 * recsys.bootstrap_mean_difference(control, treatment, resamples, seed,
 * alpha): the percentile bootstrap interval, at confidence 1 - alpha, of
 * mean(treatment) - mean(control).  Each resample draws n values with
 * replacement from each group (stratified: the groups keep their sizes).
 * The draws come from xoshiro256** seeded by seed (core/rng.h), so the
 * interval is a function of the values, resamples and seed.  NULLs are
 * left out; a group without values gives NULLs.
 */
PG_FUNCTION_INFO_V1(rs_bootstrap_mean_difference);
Datum
rs_bootstrap_mean_difference(PG_FUNCTION_ARGS)
{
	double	   *a,
			   *b,
			   *diff;
	int			na,
				nb;
	int32		resamples;
	int64		seed;
	double		alpha;
	RsRng		rng;
	Datum		out[2];
	int			lo,
				hi;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_NULL();
	resamples = PG_GETARG_INT32(2);
	seed = PG_GETARG_INT64(3);
	alpha = PG_GETARG_FLOAT8(4);
	if (resamples < 10 || resamples > MAX_RESAMPLES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resamples must be between 10 and %d, not %d", MAX_RESAMPLES, resamples),
				 errhint("1000 resamples give a 95%% interval to about two digits.")));
	if (!(alpha > 0 && alpha < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be between 0 and 1 (exclusive), not %g", alpha),
				 errhint("alpha => 0.05 gives a 95%% interval.")));
	a = float8_values(PG_GETARG_ARRAYTYPE_P(0), &na);
	b = float8_values(PG_GETARG_ARRAYTYPE_P(1), &nb);
	if (na == 0 || nb == 0)
		PG_RETURN_NULL();
	diff = palloc(sizeof(double) * resamples);
	rs_rng_init(&rng, (uint64) seed, UINT64CONST(0x6578706572));
	for (int r = 0; r < resamples; r++)
	{
		double		ma = resampled_mean(&rng, a, na);
		double		mb = resampled_mean(&rng, b, nb);

		diff[r] = mb - ma;
		if (!isfinite(diff[r]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("a resampled difference of means is out of range"),
					 errhint("The values are too large to sum in double precision; scale them down.")));
		CHECK_FOR_INTERRUPTS();
	}
	qsort(diff, resamples, sizeof(double), cmp_double);
	/* the alpha/2 and 1 - alpha/2 quantiles, nearest rank */
	lo = (int) floor(alpha / 2 * resamples);
	hi = (int) ceil((1 - alpha / 2) * resamples) - 1;
	lo = Max(0, Min(lo, resamples - 1));
	hi = Max(lo, Min(hi, resamples - 1));
	out[0] = Float8GetDatum(diff[lo]);
	out[1] = Float8GetDatum(diff[hi]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, 2, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
