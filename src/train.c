/*-------------------------------------------------------------------------
 *
 * train.c
 *	  SQL entry points of training: recsys.train(), recsys.retrain(),
 *	  recsys.drop_model() and the recsys.fit() aggregate.
 *
 * Every path ends in train_model(): load (unless the aggregate already
 * did), build the compact matrix, run the algorithm's numeric core inside
 * one memory context that is bounded by recsys.memory_limit, and store the
 * result as a new version through catalog.c.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"
#include "loader.h"
#include "train.h"
#include "train_sql.h"
#include "core/linalg.h"

#include <math.h>
#include <time.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/varlena.h"
#include "compat.h"

double
rs_now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------------------
 *		The source query
 * ----------------------------------------------------------------
 */

/*
 * A relation name has no white space, parentheses or semicolons outside
 * double quotes; anything else is parsed as SQL (and must be a SELECT).
 */
static bool
looks_like_query(const char *s)
{
	bool		quoted = false;

	for (; *s; s++)
	{
		if (*s == '"')
			quoted = !quoted;
		else if (!quoted && (isspace((unsigned char) *s) || *s == '(' || *s == ';'))
			return true;
	}
	return false;
}

static void
not_a_select(const char *message, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("%s", message),
			 errhint("%s", hint)));
}

/*
 * The FROM item for a source recsys reads (a training source, item_knn's
 * attributes, an evaluation's test set or groups): a relation name
 * resolved now and quoted, or a single plain SELECT (no SELECT INTO, no
 * data-modifying WITH) in parentheses, for the caller to alias.  Anything
 * else is an error with message and hint.
 */
char *
rs_source_from_item(const char *source, const char *message, const char *hint)
{
	if (looks_like_query(source))
	{
		char	   *q = pstrdup(source);
		int			len = strlen(q);
		List	   *raw;
		SelectStmt *sel;

		/* a trailing semicolon is harmless on its own but not inside (...) */
		while (len > 0 && (q[len - 1] == ';' || isspace((unsigned char) q[len - 1])))
			q[--len] = '\0';
		raw = raw_parser(q, RAW_PARSE_DEFAULT);
		if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt))
			not_a_select(message, hint);
		sel = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
		if (sel->intoClause != NULL)
			not_a_select(message, hint);
		if (sel->withClause != NULL)
		{
			ListCell   *lc;

			foreach(lc, sel->withClause->ctes)
				if (!IsA(lfirst_node(CommonTableExpr, lc)->ctequery, SelectStmt))
					not_a_select(message, hint);
		}
		/* the newline ends a trailing -- comment before the closing parenthesis */
		return psprintf("(%s\n)", q);
	}
	else
	{
		List	   *names = rs_qualified_name_list(source);
		RangeVar   *rv = makeRangeVarFromNameList(names);
		Oid			relid = RangeVarGetRelid(rv, AccessShareLock, false);
		char		kind = get_rel_relkind(relid);

		if (kind != RELKIND_RELATION && kind != RELKIND_VIEW && kind != RELKIND_MATVIEW &&
			kind != RELKIND_PARTITIONED_TABLE && kind != RELKIND_FOREIGN_TABLE)
			not_a_select(message, hint);
		return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										  get_rel_name(relid));
	}
}

/*
 * SELECT user, item, value, time FROM <source>: every identifier quoted,
 * so names are taken literally and cannot inject SQL.
 */
static char *
source_from(const RsModelDef *def)
{
	return psprintf("%s AS recsys_source",
					rs_source_from_item(def->source,
										"training source must be a table, a view or a single SELECT query",
										"Pass a relation name like 'ratings' or a query like 'SELECT user_id, item_id, rating FROM ratings'."));
}

/* Whether a source names a partitioned table (not a query, not a view). */
static bool
source_is_partitioned(const char *source)
{
	Oid			relid;

	if (looks_like_query(source))
		return false;
	relid = RangeVarGetRelid(makeRangeVarFromNameList(rs_qualified_name_list(source)),
							 NoLock, true);
	return OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE;
}

static char *
source_query(const RsModelDef *def, const char *time_column)
{
	return psprintf("SELECT %s, %s, %s, %s FROM %s",
					quote_identifier(def->user_column),
					quote_identifier(def->item_column),
					def->rating_column ? quote_identifier(def->rating_column) : "1::real",
					time_column ? quote_identifier(time_column) : "NULL::pg_catalog.timestamptz",
					source_from(def));
}

/*
 * The key type's own operator (TYPECACHE_EQ_OPR, TYPECACHE_GT_OPR) as
 * OPERATOR(schema.op), named by its schema so that the search_path a
 * stored source runs with cannot put another operator in its place;
 * `fallback` when the type has none.
 */
static const char *
type_operator(Oid typid, int which, const char *fallback)
{
	TypeCacheEntry *tc = lookup_type_cache(typid, which);
	Oid			opr = which == TYPECACHE_EQ_OPR ? tc->eq_opr : tc->gt_opr;
	const char *result = fallback;

	if (OidIsValid(opr))
	{
		HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));

		if (HeapTupleIsValid(tup))
		{
			Form_pg_operator op = (Form_pg_operator) GETSTRUCT(tup);

			result = psprintf("OPERATOR(%s.%s)",
							  quote_identifier(get_namespace_name(op->oprnamespace)),
							  NameStr(op->oprname));
			ReleaseSysCache(tup);
		}
	}
	return result;
}

/*
 * One user's rows of a model's source, for serving's fold-in of users the
 * model has not seen: SELECT item, value[, time] FROM <source> WHERE user = $1
 * (the time when time_column is not NULL),
 * $1 being the key as text, cast to user_type (a schema-qualified type
 * name, so an index on the user column can be used).  The "=" is the key
 * type's own equality, named by its schema, so the search_path the
 * source runs with cannot put another operator in its place.
 */
char *
rs_user_source_query(const RsModelDef *def, const char *user_type,
					 const char *time_column)
{
	Oid			typid;
	int32		typmod;

	rs_parse_type_string(user_type, &typid, &typmod);
	return psprintf("SELECT %s, %s%s%s FROM %s WHERE %s %s CAST($1 AS %s)",
					quote_identifier(def->item_column),
					def->rating_column ? quote_identifier(def->rating_column) : "1::real",
					time_column ? ", " : "", time_column ? quote_identifier(time_column) : "",
					source_from(def), quote_identifier(def->user_column),
					type_operator(typid, TYPECACHE_EQ_OPR, "="), user_type);
}

/*
 * The rows of a model's source newer than `since` (seconds since the
 * epoch), for recsys.update(): SELECT user, item, value, time FROM
 * <source> WHERE time > since, the comparison being the time column's own
 * ">" (named by its schema) against since in the column's type, so that an
 * index on the time column serves it (but for float and numeric columns,
 * compared as float8).  Times are read as the loader reads them:
 * timestamps as UTC, dates at midnight UTC, numbers as seconds.  The
 * column's type is found by running the source with LIMIT 0 (inside SPI,
 * with the rights of whoever reads the source).
 */
char *
rs_new_rows_query(const RsModelDef *def, const char *time_column, double since)
{
	char	   *probe = psprintf("SELECT %s FROM %s LIMIT 0",
								 quote_identifier(time_column), source_from(def));
	Oid			type;
	char	   *literal;
	int			rc;

	if (def->stored)
		rs_check_stored_query(def, probe);
	RS_READ_ONLY(rc = SPI_execute(probe, true, 0));
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the type of the time column failed: %s",
			 SPI_result_code_string(rc));
	type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
		case DATEOID:
			/* ISO text in UTC; timestamp and date read it as UTC too */
			literal = rs_epoch_text(since);
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			/* t > since is t > floor(since) for whole seconds */
			literal = psprintf("%.0f", floor(since));
			break;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			/*
			 * Compared as the loader read them, as float8 (exactly, %.17g
			 * round-trips): an index on the column does not serve it.
			 */
			return psprintf("%s WHERE CAST(%s AS pg_catalog.float8) OPERATOR(pg_catalog.>) "
							"CAST('%.17g' AS pg_catalog.float8)",
							source_query(def, time_column), quote_identifier(time_column), since);
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("time column \"%s\" of model \"%s\" has type %s",
							time_column, def->name, format_type_be(type)),
					 errhint("Interaction times are timestamptz, timestamp, date or seconds since the epoch.")));
	}
	return psprintf("%s WHERE %s %s CAST(%s AS %s)",
					source_query(def, time_column), quote_identifier(time_column),
					type_operator(type, TYPECACHE_GT_OPR, ">"), quote_literal_cstr(literal),
					format_type_be_qualified(type));
}

/* item_knn's attributes: every column of a relation, or of a query */
static char *
attributes_query(const char *attributes)
{
	return psprintf("SELECT * FROM %s AS recsys_attributes",
					rs_source_from_item(attributes,
										"option \"attributes\" must name a table or a view, or be a single SELECT query",
										"Pass a relation name like 'items' or a query like 'SELECT item_id, embedding FROM items'."));
}

/* ----------------------------------------------------------------
 *		Running a training
 * ----------------------------------------------------------------
 */

typedef struct TrainEnvArg
{
	MemoryContext cxt;
	const char *model;
	bool		verbose;
	double		start;
} TrainEnvArg;

static void *
env_alloc(void *arg, size_t size)
{
	return rs_alloc(((TrainEnvArg *) arg)->cxt, size);
}

static void
env_check_interrupts(void *arg pg_attribute_unused())
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * For rs_parallel_csr: would CHECK_FOR_INTERRUPTS() act?  Read on the
 * backend's own thread while workers compute; calls nothing.
 */
static bool
env_interrupt_pending(void *arg pg_attribute_unused())
{
	return InterruptPending && INTERRUPTS_CAN_BE_PROCESSED();
}

static void
env_progress(void *arg, int iteration, double loss)
{
	TrainEnvArg *a = (TrainEnvArg *) arg;

	if (a->verbose)
		ereport(NOTICE,
				(errmsg("model \"%s\": iteration %d, loss %.6g, %.2f s",
						a->model, iteration, loss, rs_now_seconds() - a->start)));
	CHECK_FOR_INTERRUPTS();
}

static void
env_note(void *arg, const char *text)
{
	TrainEnvArg *a = (TrainEnvArg *) arg;

	if (a->verbose)
		ereport(NOTICE,
				(errmsg("model \"%s\": %s, %.2f s",
						a->model, text, rs_now_seconds() - a->start)));
	CHECK_FOR_INTERRUPTS();
}

/*
 * The services the numeric cores use (core.h), for a computation of model
 * `model` whose memory is cxt (bounded by recsys.memory_limit); verbose:
 * NOTICEs of progress.
 */
void
rs_train_env_init(RsEnv *env, MemoryContext cxt, const char *model, bool verbose)
{
	TrainEnvArg *arg = MemoryContextAlloc(cxt, sizeof(TrainEnvArg));

	arg->cxt = cxt;
	arg->model = model;
	arg->verbose = verbose;
	arg->start = rs_now_seconds();
	memset(env, 0, sizeof(RsEnv));
	env->alloc = env_alloc;
	env->check_interrupts = env_check_interrupts;
	env->interrupt_pending = env_interrupt_pending;
	env->progress = env_progress;
	env->note = env_note;
	env->arg = arg;
}

static void
train_core(const RsMatrix *m, const RsTrainOptions *opts, const RsEnv *env,
		   RsModel *out)
{
	switch (opts->algorithm)
	{
		case RS_ALG_ALS:
			rs_train_als(m, &opts->params, env, out);
			break;
		case RS_ALG_SVD:
			rs_train_svd(m, &opts->params, env, out);
			break;
		case RS_ALG_NMF:
			rs_train_nmf(m, &opts->params, env, out);
			break;
		case RS_ALG_SVDPP:
			rs_train_svdpp(m, &opts->params, env, out);
			break;
		case RS_ALG_IALS:
			rs_train_ials(m, &opts->params, env, out);
			break;
		case RS_ALG_BPR:
			rs_train_bpr(m, &opts->params, env, out);
			break;
		case RS_ALG_POPULARITY:
			rs_train_popularity(m, &opts->params, env, out);
			break;
		case RS_ALG_ITEM_KNN:
		case RS_ALG_USER_KNN:
			rs_train_knn(m, &opts->params, env, out);
			break;
		case RS_ALG_EASE:
			if (rs_train_ease(m, &opts->params, env, out) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("ease could not invert the item Gram matrix: X^T X + %g I is not positive definite in double precision",
								opts->params.regularization),
						 errhint("Raise \"regularization\", or scale the interaction values down in the source query.")));
			break;
	}
}

static void
run_algorithm(const RsMatrix *m, const RsTrainOptions *opts, const RsEnv *env,
			  RsModel *out)
{
	/* the exact solvers set OpenBLAS to one thread while they run */
	int			blas_threads = rs_blas_get_threads();

	memset(out, 0, sizeof(RsModel));
	out->n_users = m->n_users;
	out->n_items = m->n_items;
	PG_TRY();
	{
		train_core(m, opts, env, out);
	}
	PG_FINALLY();
	{
		rs_blas_set_threads(blas_threads);
	}
	PG_END_TRY();
}

/*
 * Ratings near the limits of real can overflow while a model trains
 * (squares, sums, gradient steps) and leave infinities or NaNs in its
 * numbers.  Such a model is refused here, naming the cause, rather than
 * when one of its vectors is stored.
 */
static void
check_model_finite(const RsModel *m, const RsTrainOptions *opts)
{
	const struct
	{
		const char *what;
		const float *x;
		Size		n;
	}			parts[] = {
		{"user factors", m->user_factors, (Size) m->n_users * m->factors},
		{"item factors", m->item_factors, (Size) m->n_items * m->factors},
		{"items' implicit factors", m->item_implicit, (Size) m->n_items * m->factors},
		{"user biases", m->user_bias, (Size) m->n_users},
		{"item biases", m->item_bias, (Size) m->n_items},
		{"similarities", m->nbr_sim, m->nbr_ptr ? (Size) m->nbr_ptr[m->n_lists] : 0},
	};
	const char *bad = isfinite(m->global_mean) ? NULL : "global mean";

	for (int p = 0; bad == NULL && p < (int) lengthof(parts); p++)
	{
		if (parts[p].x == NULL)
			continue;
		for (Size k = 0; k < parts[p].n; k++)
			if (!isfinite(parts[p].x[k]))
			{
				bad = parts[p].what;
				break;
			}
	}
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("training %s overflowed: the model's %s are not finite",
						rs_algorithm_name(opts->algorithm), bad),
				 errdetail("The ratings are too large in magnitude for the computation in real (single precision)."),
				 errhint("Scale the ratings in the source query (for example to 1..5, or divided by their largest value)%s.",
						 opts->algorithm == RS_ALG_SVD || opts->algorithm == RS_ALG_BPR ||
						 opts->algorithm == RS_ALG_SVDPP ?
						 ", or use a smaller learning_rate" : "")));
}

/*
 * The values as the algorithm will read them (duplicates combined): finite,
 * and not negative for ials and bpr, whose values are confidences in an
 * interaction (a negative one would train silently into nonsense).
 */
void
rs_check_values(const RsMatrix *m, const RsLoader *l, const RsTrainOptions *opts)
{
	bool		need_positive = opts->algorithm == RS_ALG_IALS || opts->algorithm == RS_ALG_BPR;

	for (int32 u = 0; u < m->n_users; u++)
		for (int64 k = m->user_ptr[u]; k < m->user_ptr[u + 1]; k++)
		{
			float		v = m->user_vals[k];

			if (!isfinite(v))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("the ratings of user %s for item %s add up to more than real can hold",
								rs_key_to_text(&l->users, u), rs_key_to_text(&l->items, m->user_items[k])),
						 errhint("Duplicate (user, item) rows are summed for implicit feedback; scale the ratings down in the source query.")));
			if (need_positive && v < 0.0f)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s needs values that are not negative, but user %s has %g for item %s",
								rs_algorithm_name(opts->algorithm), rs_key_to_text(&l->users, u), v,
								rs_key_to_text(&l->items, m->user_items[k])),
						 errhint("%s reads a value as the confidence of an interaction (a count, a duration); "
								 "filter out or shift negative values in the source query, or use als or svd for ratings.",
								 rs_algorithm_name(opts->algorithm))));
		}
}

/*
 * ease holds a dense item x item matrix in double precision: refused up
 * front, with what to do instead, when it would not fit the memory limit
 * or LAPACK's 32-bit dimensions.
 */
static void
check_ease_size(const RsMatrix *m, const RsTrainOptions *opts, const char *model,
				MemoryContext cxt)
{
	Size		bytes;
	char	   *hint;

	if (m->n_items > 46340)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("ease cannot train model \"%s\" on %d items", model, m->n_items),
				 errdetail("Its dense item x item matrix would have more than 2^31 entries."),
				 errhint("Keep the most interacted-with items in the source query, or use item_knn or ials, which need no dense item x item matrix.")));
	bytes = rs_ease_bytes(m->n_items, opts->params.neighbors);
	hint = psprintf("ease needs a dense %d x %d matrix of doubles (%zu MB): keep fewer items in the source query "
					"(e.g. those with the most interactions), raise recsys.memory_limit, "
					"or use item_knn or ials, which need no dense item x item matrix.",
					m->n_items, m->n_items, bytes / (1024 * 1024) + 1);
	rs_check_memory_of(cxt, bytes, "ease", hint);
}

/* A trained model on its way to the catalog. */
typedef struct TrainedModel
{
	RsModelDef *def;
	RsTrainOptions opts;
	RsLoader   *loader;
	RsMatrix   *matrix;
	RsModel		model;
	RsTrainSummary summary;
	int64		memory;
	MemoryContext cxt;			/* holds all of the above but def */
} TrainedModel;

/*
 * Models trained by recsys.fit() during a parallel query, which may not
 * write; they are stored as soon as the query's executor finishes (see
 * rs_executor_finish), still inside the statement.  The list and the
 * models live in TopTransactionContext.
 */
static List *pending_models = NIL;

/*
 * Trains def into t.  `loaded` is the aggregate form's rows, or NULL to
 * read def's source.  Runs inside the caller's SPI connection; everything
 * large lives in cxt.
 */
static void
train_model(TrainedModel *t, RsModelDef *def, RsLoader *loaded, MemoryContext cxt)
{
	RsModelDef *existing;
	RsLoader   *l;
	RsEnv		env;
	double		start = rs_now_seconds();
	ListCell   *lc;
	RsRunAs		as;
	Size		search_peak = 0;
	char	   *sql_from = NULL;
	bool		sql_partitioned = false;

	memset(t, 0, sizeof(TrainedModel));
	t->def = def;
	t->cxt = cxt;
	rs_check_model_name(def->name);
	rs_parse_options(def->options, def->algorithm, &t->opts);
	if (t->opts.algorithm == RS_ALG_POPULARITY && t->opts.params.half_life_days > 0 &&
		t->opts.time_column == NULL && loaded == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"half_life_days\" needs option \"time_column\"")));
	/* the aggregate's rows have no time: decay would be silently lost */
	if (loaded != NULL && (t->opts.time_column != NULL || t->opts.params.half_life_days > 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys.fit() reads no interaction times, so it cannot use option \"%s\"",
						t->opts.time_column ? "time_column" : "half_life_days"),
				 errhint("Train with recsys.train(), whose source can have a time column, for time decay.")));

	/* one training of a model at a time; the owner only */
	rs_lock_model(def->name);
	existing = rs_model_lookup(def->name, true);
	if (existing)
		rs_check_model_owner(existing);
	t->summary.version = rs_next_version(def->name);
	foreach(lc, pending_models)
	{
		TrainedModel *p = (TrainedModel *) lfirst(lc);

		if (strcmp(p->def->name, def->name) == 0)
			t->summary.version = Max(t->summary.version, p->summary.version + 1);
	}

	/*
	 * A definition read from the catalog (retrain) runs as the model's
	 * owner; one passed in this call, with the caller's rights.
	 */
	if (def->stored)
		rs_run_as_model_owner(&as, def);
	if (loaded)
		l = loaded;
	else
	{
		char	   *sql = source_query(def, t->opts.time_column);

		/* execution sql reads the same FROM item again in each step */
		if (t->opts.execution_sql)
		{
			sql_from = source_from(def);
			sql_partitioned = source_is_partitioned(def->source);
		}

		if (def->stored)
			rs_check_stored_query(def, sql);
		l = MemoryContextAlloc(cxt, sizeof(RsLoader));
		rs_loader_init(l, cxt);
		rs_loader_load_query(l, sql, t->opts.time_column != NULL);
	}
	if (t->opts.attributes)
	{
		char	   *sql = attributes_query(t->opts.attributes);

		if (def->stored)
			rs_check_stored_query(def, sql);
		rs_loader_load_attributes(l, sql);
	}
	if (def->stored)
		rs_run_as_end(&as);
	t->loader = l;
	/* the newest interaction read: where recsys.update() starts */
	t->summary.data_until = get_float8_nan();
	if (t->opts.time_column != NULL && l->t != NULL)
		for (int64 x = 0; x < l->n; x++)
			if (isnan(t->summary.data_until) || l->t[x] > t->summary.data_until)
				t->summary.data_until = l->t[x];
	t->matrix = rs_loader_finish(l, rs_options_implicit(&t->opts) ?
								 RS_DUP_SUM : RS_DUP_MEAN);

	rs_check_values(t->matrix, l, &t->opts);

	rs_train_env_init(&env, cxt, def->name, t->opts.verbose);
	((TrainEnvArg *) env.arg)->start = start;
	/* time decay: every interaction's weight, and the as_of it was counted from */
	if (t->opts.half_life_seconds > 0)
	{
		float		heaviest = 0.0f;

		Assert(t->matrix->user_ts != NULL);
		t->opts.as_of = rs_decay_weights(t->matrix, t->opts.half_life_seconds,
										 t->opts.as_of, &env);
		/*
		 * With as_of twenty half-lives or more after the newest interaction,
		 * every weight is below 2^-20 and the model would be trained on
		 * (almost) nothing: that is a mistake in as_of, not a decay.
		 */
		for (int64 x = 0; x < t->matrix->nnz; x++)
			heaviest = Max(heaviest, t->matrix->user_w[x]);
		if (t->matrix->nnz > 0 && !(heaviest >= 1.0f / 1048576.0f))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("every interaction of model \"%s\" weighs less than 2^-20 under time decay",
							def->name),
					 errdetail("The heaviest weighs %g: \"as_of\" is twenty half-lives or more after the newest interaction.",
							   (double) heaviest),
					 errhint("Leave \"as_of\" out (the newest interaction is used) or give a time nearer the data, or a longer \"half_life\".")));
	}
	if ((t->opts.algorithm == RS_ALG_ALS || t->opts.algorithm == RS_ALG_SVD ||
		 t->opts.algorithm == RS_ALG_SVDPP) &&
		t->opts.params.auto_regularization)
		search_peak = rs_choose_regularization(t->matrix, t->opts.algorithm, &t->opts.params,
											   &env, cxt);
	if (t->opts.algorithm == RS_ALG_EASE)
		check_ease_size(t->matrix, &t->opts, def->name, cxt);
	if (t->opts.execution_sql)
	{
		/* the rows are in memory already: fit() has no source to run */
		if (loaded != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("recsys.fit() cannot train with \"execution\": \"sql\""),
					 errhint("The aggregate receives its rows one by one; train with recsys.train() over a table or query.")));
		rs_train_sql(def, sql_from, sql_partitioned, &t->opts, l, t->matrix, &env, &t->model);
	}
	else
		run_algorithm(t->matrix, &t->opts, &env, &t->model);
	check_model_finite(&t->model, &t->opts);

	t->summary.users = t->matrix->n_users;
	t->summary.items = t->matrix->n_items;
	t->summary.interactions = t->matrix->nnz;
	t->summary.skipped = l->rows_skipped;
	t->summary.duplicates = l->duplicates;
	t->summary.final_loss = t->model.n_loss > 0 ? t->model.loss[t->model.n_loss - 1] : 0.0;
	t->memory = (int64) Max(MemoryContextMemAllocated(cxt, true), search_peak);
	if (l->cxt != cxt)
		t->memory += (int64) MemoryContextMemAllocated(l->cxt, true);
	t->summary.seconds = rs_now_seconds() - start;
}

static void
store_model(TrainedModel *t)
{
	RsVersionSource src;

	src.users = &t->loader->users;
	src.items = &t->loader->items;
	src.rows_read = t->loader->rows_read;
	src.rows_skipped = t->loader->rows_skipped;
	src.duplicates = t->loader->duplicates;
	rs_store_version(t->def, &t->opts, &src, t->matrix, &t->model,
					 &t->summary, t->memory);
	/* the model's managed index covers the new version */
	rs_model_index_sync(t->def->name);
}

/* Stores the models recsys.fit() trained during a parallel query. */
static void
store_pending_models(void)
{
	List	   *todo = pending_models;
	ListCell   *lc;

	bool		pushed = false;

	pending_models = NIL;
	/* a SELECT's executor finishes when its portal is dropped: no snapshot */
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	SPI_connect();
	foreach(lc, todo)
	{
		TrainedModel *t = (TrainedModel *) lfirst(lc);

		store_model(t);
		MemoryContextDelete(t->cxt);
	}
	SPI_finish();
	if (pushed)
		PopActiveSnapshot();
	list_free(todo);
}

static ExecutorFinish_hook_type prev_executor_finish = NULL;

static void
rs_executor_finish(QueryDesc *queryDesc)
{
	if (prev_executor_finish)
		prev_executor_finish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
	if (pending_models != NIL && !IsInParallelMode())
		store_pending_models();
}

static void
rs_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			/* normally stored already, at the end of the statement */
			if (pending_models != NIL && !IsInParallelMode())
				store_pending_models();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* their memory goes with TopTransactionContext */
			pending_models = NIL;
			break;
		default:
			break;
	}
}

static void
rs_subxact_callback(SubXactEvent event, SubTransactionId mySubid pg_attribute_unused(),
					SubTransactionId parentSubid pg_attribute_unused(),
					void *arg pg_attribute_unused())
{
	/* a model trained in a rolled-back subtransaction is not stored */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		pending_models = NIL;
}

void
rs_train_init(void)
{
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = rs_executor_finish;
	RegisterXactCallback(rs_xact_callback, NULL);
	RegisterSubXactCallback(rs_subxact_callback, NULL);
}

/* The recsys.train_result row of a summary (final_loss NaN: NULL). */
Datum
rs_train_result(FunctionCallInfo fcinfo, const char *model, const RsTrainOptions *opts,
				const RsTrainSummary *s)
{
	TupleDesc	desc;
	Datum		values[10];
	bool		nulls[10] = {false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "recsys training function must return a composite type");
	desc = BlessTupleDesc(desc);
	values[0] = CStringGetTextDatum(model);
	values[1] = Int32GetDatum(s->version);
	values[2] = CStringGetTextDatum(rs_algorithm_name(opts->algorithm));
	values[3] = Int32GetDatum(s->users);
	values[4] = Int32GetDatum(s->items);
	values[5] = Int64GetDatum(s->interactions);
	values[6] = Int64GetDatum(s->skipped);
	values[7] = Int64GetDatum(s->duplicates);
	values[8] = Float8GetDatum(s->seconds);
	values[9] = Float8GetDatum(s->final_loss);
	nulls[9] = isnan(s->final_loss);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

static char *
required_text(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

static char *
optional_text(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/* Trains def inside its own SPI connection and memory context, and stores it. */
static Datum
train_and_report(FunctionCallInfo fcinfo, RsModelDef *def, RsLoader *loaded)
{
	TrainedModel t;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys training",
											  ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	train_model(&t, def, loaded, cxt);
	store_model(&t);
	SPI_finish();
	MemoryContextDelete(cxt);

	return rs_train_result(fcinfo, def->name, &t.opts, &t.summary);
}

PG_FUNCTION_INFO_V1(rs_train);
Datum
rs_train(PG_FUNCTION_ARGS)
{
	RsModelDef *def = palloc0(sizeof(RsModelDef));

	def->name = required_text(fcinfo, 0, "model");
	def->source = required_text(fcinfo, 1, "source");
	def->user_column = required_text(fcinfo, 2, "user_col");
	def->item_column = required_text(fcinfo, 3, "item_col");
	def->rating_column = optional_text(fcinfo, 4);
	def->algorithm = optional_text(fcinfo, 5);
	def->options = PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6);
	/* what the source is read with on retrain and fold-in */
	def->search_path = pstrdup(namespace_search_path);

	PG_RETURN_DATUM(train_and_report(fcinfo, def, NULL));
}

PG_FUNCTION_INFO_V1(rs_retrain);
Datum
rs_retrain(PG_FUNCTION_ARGS)
{
	char	   *name = required_text(fcinfo, 0, "model");
	RsModelDef *def;

	SPI_connect();
	def = rs_model_lookup(name, false);
	SPI_finish();
	if (def->source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" was trained with recsys.fit() and has no stored source", name),
				 errhint("Run its recsys.fit() query again, or train it with recsys.train().")));
	PG_RETURN_DATUM(train_and_report(fcinfo, def, NULL));
}

PG_FUNCTION_INFO_V1(rs_drop_model_sql);
Datum
rs_drop_model_sql(PG_FUNCTION_ARGS)
{
	char	   *name = required_text(fcinfo, 0, "model");
	bool		if_exists = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	RsModelDef *def;

	SPI_connect();
	rs_lock_model(name);
	def = rs_model_lookup(name, if_exists);
	if (def)
	{
		rs_check_model_owner(def);
		rs_drop_model(name);
	}
	SPI_finish();
	PG_RETURN_BOOL(def != NULL);
}

/* ----------------------------------------------------------------
 *		The aggregate form: recsys.fit(model, user, item, rating, options)
 * ----------------------------------------------------------------
 */

typedef struct FitState
{
	MemoryContext cxt;			/* holds the loader's data */
	char	   *model;
	Jsonb	   *options;
	RsLoader	loader;
} FitState;

static FitState *
fit_state_new(MemoryContext aggcxt)
{
	FitState   *st = MemoryContextAllocZero(aggcxt, sizeof(FitState));

	st->cxt = AllocSetContextCreate(aggcxt, "recsys fit", ALLOCSET_DEFAULT_SIZES);
	rs_loader_init(&st->loader, st->cxt);
	return st;
}

static MemoryContext
fit_aggcontext(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "recsys.fit support function called in non-aggregate context");
	return cxt;
}

static void
fit_set_model(FitState *st, const char *model, Jsonb *options)
{
	if (st->model == NULL)
	{
		st->model = MemoryContextStrdup(st->cxt, model);
		if (options)
		{
			st->options = MemoryContextAlloc(st->cxt, VARSIZE(options));
			memcpy(st->options, options, VARSIZE(options));
		}
	}
	else if (strcmp(st->model, model) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recsys.fit() got model names \"%s\" and \"%s\" in one group",
						st->model, model),
				 errhint("The model name must be the same for every row of a group; GROUP BY it.")));
}

PG_FUNCTION_INFO_V1(rs_fit_transfn);
Datum
rs_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = fit_aggcontext(fcinfo);
	FitState   *st = PG_ARGISNULL(0) ? NULL : (FitState *) PG_GETARG_POINTER(0);
	Oid			rating_type;

	if (st == NULL)
	{
		/* before the rows are read, not when the model is stored */
		rs_refuse_shard_task();
		st = fit_state_new(aggcxt);
	}
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	fit_set_model(st, text_to_cstring(PG_GETARG_TEXT_PP(1)),
				  PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5));

	rating_type = get_fn_expr_argtype(fcinfo->flinfo, 4);
	if (!st->loader.have_types)
	{
		MemoryContext old = MemoryContextSwitchTo(st->cxt);

		rs_loader_set_types(&st->loader, get_fn_expr_argtype(fcinfo->flinfo, 2),
							get_fn_expr_argtype(fcinfo->flinfo, 3), rating_type,
							InvalidOid);
		MemoryContextSwitchTo(old);
	}
	rs_loader_add(&st->loader, PG_GETARG_DATUM(2), PG_ARGISNULL(2),
				  PG_GETARG_DATUM(3), PG_ARGISNULL(3),
				  PG_ARGISNULL(4) ? 0.0 : rs_datum_to_double(PG_GETARG_DATUM(4), rating_type, "rating"),
				  PG_ARGISNULL(4), 0.0, true);
	if ((st->loader.rows_read & 0x3FFF) == 0)
		CHECK_FOR_INTERRUPTS();
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(rs_fit_combinefn);
Datum
rs_fit_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = fit_aggcontext(fcinfo);
	FitState   *a = PG_ARGISNULL(0) ? NULL : (FitState *) PG_GETARG_POINTER(0);
	FitState   *b = PG_ARGISNULL(1) ? NULL : (FitState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
		a = fit_state_new(aggcxt);
	if (b->model)
		fit_set_model(a, b->model, b->options);
	if (b->loader.have_types && !a->loader.have_types)
	{
		MemoryContext old = MemoryContextSwitchTo(a->cxt);

		rs_loader_set_types(&a->loader, b->loader.users.type, b->loader.items.type,
							FLOAT8OID, InvalidOid);
		MemoryContextSwitchTo(old);
	}
	if (b->loader.have_types)
	{
		MemoryContext old = MemoryContextSwitchTo(a->cxt);

		rs_loader_merge(&a->loader, &b->loader);
		MemoryContextSwitchTo(old);
	}
	else
	{
		a->loader.rows_read += b->loader.rows_read;
		a->loader.rows_skipped += b->loader.rows_skipped;
	}
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(rs_fit_serialfn);
Datum
rs_fit_serialfn(PG_FUNCTION_ARGS)
{
	FitState   *st = (FitState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	(void) fit_aggcontext(fcinfo);
	pq_begintypsend(&buf);
	pq_sendstring(&buf, st->model ? st->model : "");
	if (st->options)
	{
		char	   *txt = JsonbToCString(NULL, &st->options->root, VARSIZE(st->options));

		pq_sendbyte(&buf, 1);
		pq_sendstring(&buf, txt);
	}
	else
		pq_sendbyte(&buf, 0);
	rs_loader_serialize(&st->loader, &buf);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(rs_fit_deserialfn);
Datum
rs_fit_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = fit_aggcontext(fcinfo);
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	FitState   *st = fit_state_new(aggcxt);
	StringInfoData buf;
	const char *model;
	MemoryContext old;

	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	old = MemoryContextSwitchTo(st->cxt);
	model = pq_getmsgstring(&buf);
	if (model[0] != '\0')
		st->model = pstrdup(model);
	if (pq_getmsgbyte(&buf) == 1)
		st->options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														 CStringGetDatum(pq_getmsgstring(&buf))));
	rs_loader_deserialize(&st->loader, &buf);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(rs_fit_finalfn);
Datum
rs_fit_finalfn(PG_FUNCTION_ARGS)
{
	FitState   *st = PG_ARGISNULL(0) ? NULL : (FitState *) PG_GETARG_POINTER(0);
	RsModelDef *def;

	if (st == NULL || st->model == NULL)
		PG_RETURN_NULL();		/* no rows in this group */

	def = palloc0(sizeof(RsModelDef));
	def->name = st->model;
	def->options = st->options;

	if (IsInParallelMode())
	{
		/*
		 * No writes are allowed until the parallel query ends: train now,
		 * store when the executor finishes.  The rows move out of the
		 * aggregate's memory, which is reset between groups.
		 */
		MemoryContext keep = AllocSetContextCreate(TopTransactionContext,
												   "recsys pending model",
												   ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(keep);
		TrainedModel *t = palloc(sizeof(TrainedModel));
		RsLoader   *l = palloc(sizeof(RsLoader));
		RsModelDef *kdef = palloc0(sizeof(RsModelDef));
		Datum		result;

		MemoryContextSetParent(st->cxt, keep);
		*l = st->loader;
		kdef->name = pstrdup(def->name);
		kdef->options = st->options;	/* lives in st->cxt, now under keep */
		MemoryContextSwitchTo(old);

		SPI_connect();
		train_model(t, kdef, l, keep);
		SPI_finish();

		old = MemoryContextSwitchTo(TopTransactionContext);
		pending_models = lappend(pending_models, t);
		MemoryContextSwitchTo(old);

		result = rs_train_result(fcinfo, def->name, &t->opts, &t->summary);
		/* the aggregate must not free what now belongs to the pending model */
		st->model = NULL;
		PG_RETURN_DATUM(result);
	}

	PG_RETURN_DATUM(train_and_report(fcinfo, def, &st->loader));
}
