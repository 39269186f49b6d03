/*-------------------------------------------------------------------------
 *
 * tune.c
 *	  The C side of recsys.tune() (sql/install/16_tuning.sql): checking a
 *	  set of training options without training (recsys.training_options),
 *	  the scratch model a tuning run trains its folds under, and the
 *	  catalog write of the trials.
 *
 * A tuning run is a composition of calls the caller could make: split(),
 * train() and evaluate(), all with the caller's own rights; each fold's
 * model is trained in a subtransaction that is rolled back once measured.
 * Only the record of its trials (recsys.tuning_trials) is written as the
 * catalog's owner, and only for a model the caller owns.
 *
 *-------------------------------------------------------------------------
 */
#include "runtime.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "catalog.h"
#include "options.h"
#include "serve_int.h"

/*
 * recsys.training_options(algorithm, options): the parameters a training
 * with these options would use, validated exactly as train() validates
 * them (an unknown option, a value of the wrong type or out of range is
 * the same error).  NULL algorithm: the options' "algorithm", or als.
 */
PG_FUNCTION_INFO_V1(rs_training_options);
Datum
rs_training_options(PG_FUNCTION_ARGS)
{
	char	   *algorithm = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	RsTrainOptions opts;

	rs_parse_options(options, algorithm, &opts);
	PG_RETURN_JSONB_P(rs_options_effective(&opts));
}

/*
 * recsys.tune_scratch(model): before a tuning run does any work, checks
 * that the caller may make a new version of model (a valid name; the
 * owner if it exists) and returns the name of a model that does not exist,
 * under which the run trains its folds.  Each fold's model is rolled back
 * with its subtransaction, so no other session ever sees one; the random
 * part keeps the name from meeting another session's run.
 */
PG_FUNCTION_INFO_V1(rs_tune_scratch);
Datum
rs_tune_scratch(PG_FUNCTION_ARGS)
{
	char	   *model;
	RsModelDef *def;
	char	   *scratch = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_name(model);
	SPI_connect();
	def = rs_model_lookup(model, true);
	if (def != NULL)
		rs_check_model_owner(def);
	for (int attempt = 0; attempt < 8 && scratch == NULL; attempt++)
	{
		uint64		r;

		if (!pg_strong_random(&r, sizeof(r)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random name for the tuning run's scratch model")));
		/* in the caller's memory: SPI_finish frees SPI's */
		scratch = rs_spi_strdup(psprintf("recsys tuning scratch %016llx", (unsigned long long) r));
		if (rs_model_lookup(scratch, true) != NULL)
			scratch = NULL;
	}
	SPI_finish();
	if (scratch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("could not find a free name for the tuning run's scratch model")));
	PG_RETURN_TEXT_P(cstring_to_text(scratch));
}

/* The rows of a trials array ($3), as tuning_trials' columns. */
#define TRIAL_ROWS \
	"pg_catalog.jsonb_to_recordset($3) AS t(trial integer, options jsonb, metric text, " \
	"k integer, folds integer, seed integer, mean double precision, sd double precision, " \
	"fold_values double precision[], seconds double precision, best boolean)"

/*
 * recsys.tune_scratch_done(scratch): a fold's scratch model was rolled
 * back with its subtransaction; its versions leave this backend's serving
 * cache too (nothing else would ever ask for that name again).
 */
PG_FUNCTION_INFO_V1(rs_tune_scratch_done);
Datum
rs_tune_scratch_done(PG_FUNCTION_ARGS)
{
	char	   *scratch;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	scratch = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strncmp(scratch, "recsys tuning scratch ", strlen("recsys tuning scratch ")) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not the name of a tuning run's scratch model", scratch)));
	rs_served_forget(scratch);
	PG_RETURN_VOID();
}

/*
 * recsys.tune_store(model, version, trials): records a tuning run's trials
 * (a JSON array of objects, one per trial) against the version it trained
 * with the best of them.  Only for the model's owner, only for a version
 * made in the current transaction (the run's own training) that has no
 * trials yet; the rows must be trials 0..n-1 of one metric, folds and
 * seed, each with a value per fold, mean their mean, exactly one best.
 * The table's constraints check each row's ranges.
 */
PG_FUNCTION_INFO_V1(rs_tune_store);
Datum
rs_tune_store(PG_FUNCTION_ARGS)
{
	char	   *model;
	RsModelDef *def;
	Oid			types[3] = {TEXTOID, INT4OID, JSONBOID};
	Datum		values[3];
	bool		isnull;
	TransactionId xmin;
	bool		ok;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of recsys.tune_store must not be NULL"),
					 errhint("Trials are recorded by recsys.tune().")));
	model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_name(model);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	if (!JB_ROOT_IS_ARRAY(PG_GETARG_JSONB_P(2)) || JB_ROOT_IS_SCALAR(PG_GETARG_JSONB_P(2)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trials must be a JSON array of objects"),
				 errhint("Trials are recorded by recsys.tune().")));
	SPI_connect();
	def = rs_model_lookup(model, false);
	rs_check_model_owner(def);

	/* the version: made by this transaction, without trials */
	(void) rs_catalog_exec("SELECT v.xmin, EXISTS (SELECT 1 FROM recsys.tuning_trials t "
						   "WHERE t.model = v.model AND t.version = v.version) "
						   "FROM recsys.model_versions v WHERE v.model = $1 AND v.version = $2",
						   2, types, values, NULL, false);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("version %d of model \"%s\" does not exist", DatumGetInt32(values[1]), model)));
	xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!TransactionIdIsCurrentTransactionId(xmin) ||
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of model \"%s\" was not trained by this tuning run",
						DatumGetInt32(values[1]), model),
				 errhint("Trials are recorded by recsys.tune(), for the version it trains.")));

	/* the rows, as one run */
	(void) rs_catalog_exec("WITH t AS (SELECT * FROM " TRIAL_ROWS ") "
						   "SELECT count(*) > 0 "
						   "AND count(DISTINCT trial) = count(*) AND min(trial) = 0 AND max(trial) = count(*) - 1 "
						   "AND count(DISTINCT metric) = 1 AND count(DISTINCT folds) = 1 "
						   "AND count(DISTINCT seed) = 1 AND count(DISTINCT coalesce(k, -1)) = 1 "
						   "AND count(*) FILTER (WHERE best) = 1 AND bool_and(best IS NOT NULL) "
						   "AND bool_and(cardinality(fold_values) = folds "
						   "  AND abs(mean - (SELECT avg(x) FROM unnest(fold_values) x)) "
						   "      <= 1e-9 * greatest(1, abs(mean))) "
						   "FROM t WHERE $1 IS NOT NULL AND $2 IS NOT NULL",
						   3, types, values, NULL, true);
	ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || !ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trials must be one run: trials 0 to n-1 of one metric, k, folds and seed, "
						"a value per fold, the mean of them, exactly one best"),
				 errhint("Trials are recorded by recsys.tune().")));
	(void) rs_catalog_exec("INSERT INTO recsys.tuning_trials (model, version, trial, options, "
						   "metric, k, folds, seed, mean, sd, fold_values, seconds, best) "
						   "SELECT $1, $2, t.trial, t.options, t.metric, t.k, t.folds, t.seed, "
						   "t.mean, t.sd, t.fold_values, t.seconds, t.best FROM " TRIAL_ROWS,
						   3, types, values, NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}
