/*-------------------------------------------------------------------------
 *
 * train_sql.c
 *	  train(..., '{"execution": "sql"}') for als and ials: every half-step
 *	  is one GROUP BY statement over the source, with the aggregates of
 *	  step_agg.c, joined with the other side's factors in a table; the
 *	  solving happens wherever the engine runs the aggregates (PostgreSQL's
 *	  parallel workers, partitions, a distributed engine's shards), not in
 *	  this backend's threads.
 *
 * The run.  train.c has read the source once (the loader): its keys, the
 * counts and the seen lists the catalog keeps come from there, as for a
 * model trained in memory, and so do the initial factors (the same
 * random streams, so the same seed gives the same start).  Then:
 *
 *	1. two UNLOGGED tables in schema recsys, owned by the catalog's owner,
 *	   the role that reads the source granted SELECT on them: the users'
 *	   and the items' (key, factors, bias), filled with the start;
 *	2. per iteration, the user step
 *
 *		  SELECT e, recsys.als_step(f.factors, f.bias, r.v, options)
 *		  FROM (source rows) r JOIN <items' table> f ON f.key = r.item
 *		  GROUP BY r.user
 *
 *	   run with the rights of whoever reads the source (the caller; the
 *	   model's owner for a retrain), its rows written into the users'
 *	   table; then the item step, the same grouped by item (iALS: with
 *	   recsys.gram() of the other side's table as an argument; from a
 *	   partitioned table, the factors by a scalar subquery per row instead
 *	   of the join, so that partitions can be aggregated where they are);
 *	3. the factors in memory stored as the new version as usual; the
 *	   tables dropped (an error or cancel drops them with the transaction).
 *
 * Each step reads the source as the loader did: read-only, with the
 * statement's snapshot, text keys grouped and joined bytewise (COLLATE
 * "C") as the loader tells them apart.  Its answer is checked against the
 * loader's: keys of the type read then, every entity exactly once, with
 * the number of rows and (to rounding) the sum of values it had then; a
 * source whose rows change from one reading to the next (random(), a
 * function it calls replaced by another session meanwhile: the source is
 * parsed again for each step) is an error, not a model of mixed data.
 *
 * The model equals the in-memory one with "solver": "cholesky" (the same
 * exact solves, summed in double precision here, in float by the BLAS
 * there): sql/train_sql.sql checks it.  The loss is computed once, for
 * the final factors.
 *
 *-------------------------------------------------------------------------
 */
#include "train_sql.h"

#include "catalog.h"
#include "embedding.h"
#include "keys.h"
#include "loader.h"
#include "core/linalg.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include <math.h>

/* entities written per INSERT into a factor table */
#define SQL_WRITE_CHUNK 4096

typedef struct SqlSide
{
	const char *table;			/* recsys."...": its factors */
	const RsKeyMap *keys;
	const int64_t *ptr;			/* the loader's CSR: degrees */
	int32		n;
	float	   *factors;		/* n x k, the model's */
	float	   *bias;			/* n, or NULL */
	double	   *vsum;			/* n: the sum of each entity's values read */
	double	   *vabs;			/* n: the sum of their magnitudes */
	char	   *step_sql;		/* the step solving this side */
} SqlSide;

typedef struct SqlRun
{
	const RsModelDef *def;
	const RsTrainOptions *opts;
	int			k;
	bool		ials;
	const char *from;			/* the source as a FROM item */
	bool		partitioned;	/* ... naming a partitioned table */
	Datum		options;		/* jsonb for the step aggregate */
	Oid			emb_type;
} SqlRun;

static int	sql_runs = 0;

/*
 * Runs a step's statement as whoever reads the source, as the loader read
 * it: with the transaction read-only (RS_READ_ONLY: a source query that
 * writes fails with 25006) and the statement's snapshot, the loader's, so
 * that every step reads the rows the loader read (under READ COMMITTED
 * too); its command id moved on, so that the factor tables' rows written
 * since are seen.
 */
static void
exec_as_reader(const SqlRun *run, const char *sql, int nargs, Oid *types,
			   Datum *values, bool utility)
{
	RsRunAs		as;
	int			rc = 0;

	if (run->def->stored)
		rs_run_as_model_owner(&as, run->def);
	CommandCounterIncrement();
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	/* (a utility statement, EXPLAIN, is read-write for SPI: read-only all the same) */
	RS_READ_ONLY(rc = SPI_execute_with_args(sql, nargs, types, values, NULL, !utility, 0));
	PopActiveSnapshot();
	if (rc < 0)
		elog(ERROR, "recsys: a training statement failed: %s", SPI_result_code_string(rc));
	if (run->def->stored)
		rs_run_as_end(&as);
}

/* the key's id in the loader's sorted key table, or -1 */
static int32
key_id(const RsKeyMap *map, Datum d)
{
	int32		lo = 0;
	int32		hi = map->n - 1;
	int64		ik = 0;
	char	   *tk = NULL;

	if (map->kind == RS_KEY_INT)
	{
		switch (map->type)
		{
			case INT2OID:
				ik = DatumGetInt16(d);
				break;
			case INT4OID:
				ik = DatumGetInt32(d);
				break;
			default:
				ik = DatumGetInt64(d);
				break;
		}
	}
	else
		tk = rs_text_key_cstring(d, map->type);
	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;
		int			c;

		if (map->kind == RS_KEY_INT)
			c = map->ints[mid] < ik ? -1 : map->ints[mid] > ik ? 1 : 0;
		else
			c = strcmp(map->texts[mid], tk);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* the side's factors (and biases) in memory written into its table */
static void
write_side(const SqlRun *run, const SqlSide *side)
{
	char	   *sql;
	Oid			types[3] = {TEXTARRAYOID, InvalidOid, FLOAT4ARRAYOID};
	int			k = run->k;
	MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"recsys sql factors",
													ALLOCSET_DEFAULT_SIZES);

	types[1] = get_array_type(run->emb_type);
	rs_catalog_exec(psprintf("TRUNCATE %s", side->table), 0, NULL, NULL, NULL, false);
	sql = psprintf("INSERT INTO %s (key, factors, bias) "
				   "SELECT CAST(x.k AS %s), x.f, x.b FROM ROWS FROM "
				   "(pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2), "
				   "pg_catalog.unnest($3::pg_catalog.float4[])) AS x(k, f, b)",
				   side->table, format_type_be_qualified(side->keys->type));
	for (int32 begin = 0; begin < side->n; begin += SQL_WRITE_CHUNK)
	{
		int32		cnt = Min(side->n - begin, SQL_WRITE_CHUNK);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		Datum	   *kd = palloc(sizeof(Datum) * cnt);
		Datum	   *fd = palloc(sizeof(Datum) * cnt);
		Datum	   *bd = palloc(sizeof(Datum) * cnt);
		bool	   *bnull = palloc(sizeof(bool) * cnt);
		Datum		values[3];
		int			dims[1] = {cnt};
		int			lbs[1] = {1};

		for (int32 j = 0; j < cnt; j++)
		{
			int32		e = begin + j;
			Embedding  *emb = embedding_alloc(k);

			memcpy(emb->x, side->factors + (size_t) e * k, sizeof(float) * k);
			kd[j] = CStringGetTextDatum(rs_key_to_text(side->keys, e));
			fd[j] = PointerGetDatum(emb);
			bd[j] = Float4GetDatum(side->bias ? side->bias[e] : 0.0f);
			bnull[j] = side->bias == NULL;
		}
		values[0] = PointerGetDatum(construct_array(kd, cnt, TEXTOID, -1, false, TYPALIGN_INT));
		values[1] = PointerGetDatum(construct_array(fd, cnt, run->emb_type, -1, false, TYPALIGN_INT));
		values[2] = PointerGetDatum(construct_md_array(bd, bnull, 1, dims, lbs, FLOAT4OID,
													   sizeof(float4), true, TYPALIGN_INT));
		MemoryContextSwitchTo(old);
		rs_catalog_exec(sql, 3, types, values, NULL, false);
		MemoryContextReset(chunk_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
	/* its size and keys known to the planner (which side to hash) */
	rs_catalog_exec(psprintf("ANALYZE %s", side->table), 0, NULL, NULL, NULL, false);
}

/*
 * The step of one side: the statement's rows into the side's factors,
 * each checked against the loader (every entity once, with its rows).
 */
static void
run_step(const SqlRun *run, SqlSide *side, const SqlSide *other)
{
	Oid			types[2] = {JSONBOID, FLOAT8ARRAYOID};
	Datum		values[2];
	int			nargs = 1;
	int			k = run->k;
	bool	   *done = palloc0(sizeof(bool) * Max(side->n, 1));
	uint64		rows;

	values[0] = run->options;
	if (run->ials)
	{
		bool		isnull;

		exec_as_reader(run, psprintf("SELECT recsys.gram(factors) FROM %s", other->table),
					   0, NULL, NULL, false);
		values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			elog(ERROR, "recsys: no factors in %s", other->table);
		values[1] = datumCopy(values[1], false, -1);
		SPI_freetuptable(SPI_tuptable);
		nargs = 2;
	}
	exec_as_reader(run, side->step_sql, nargs, types, values, false);
	rows = SPI_processed;
	/*
	 * The source is parsed again for each step: a function it calls may
	 * have been replaced since, with other columns.  Its keys must be of
	 * the type training read.
	 */
	if (SPI_gettypeid(SPI_tuptable->tupdesc, 1) != side->keys->type)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the source of model \"%s\" gave keys of type %s to a training step, not %s as at the start",
						run->def->name, format_type_be(SPI_gettypeid(SPI_tuptable->tupdesc, 1)),
						format_type_be(side->keys->type)),
				 errhint("Do not change what the source reads while it trains.")));
	if (SPI_gettypeid(SPI_tuptable->tupdesc, 2) != run->emb_type ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 3) != FLOAT4OID ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 4) != INT8OID ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 5) != FLOAT8OID)
		elog(ERROR, "recsys: a training step returned columns of other types");
	for (uint64 r = 0; r < rows; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		key = SPI_getbinval(tup, desc, 1, &isnull);
		int32		id = isnull ? -1 : key_id(side->keys, key);
		bool		nnull;
		bool		vnull;
		int64		n = DatumGetInt64(SPI_getbinval(tup, desc, 4, &nnull));
		double		vs = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &vnull));
		Datum		fdat;
		Embedding  *e;

		/* every entity once, with its rows and (to rounding) its values */
		if (id < 0 || done[id] || nnull || vnull || n != side->ptr[id + 1] - side->ptr[id] ||
			!(fabs(vs - side->vsum[id]) <= 1e-5 * side->vabs[id] + 1e-9))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the source of model \"%s\" gave other rows to a training step than at the start",
							run->def->name),
					 errdetail("A step read other rows, or another number or sum of values of one entity, than training read at its start."),
					 errhint("Each step reads the source again, with the same snapshot: a source that depends on volatile functions such as random() cannot be trained in SQL statements.")));
		done[id] = true;
		fdat = SPI_getbinval(tup, desc, 2, &isnull);
		if (isnull)
			elog(ERROR, "recsys: a step returned no factors for an entity");
		e = DatumGetEmbedding(fdat);
		if (e->dim != k)
			elog(ERROR, "recsys: a step returned %d factors, not %d", e->dim, k);
		memcpy(side->factors + (size_t) id * k, e->x, sizeof(float) * k);
		if (side->bias)
		{
			Datum		b = SPI_getbinval(tup, desc, 3, &isnull);

			side->bias[id] = isnull ? 0.0f : DatumGetFloat4(b);
		}
	}
	if (rows != (uint64) side->n)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the source of model \"%s\" gave other rows to a training step than at the start",
						run->def->name),
				 errdetail("A training step solved " UINT64_FORMAT " entities, training had read %d.",
						   rows, side->n),
				 errhint("Each step reads the source again, with the same snapshot: a source that depends on volatile functions such as random() cannot be trained in SQL statements.")));
	pfree(done);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The step statement solving one side: its rows of the source (those the
 * loader keeps: no NULL user, item or value), duplicates of a (user,
 * item) combined as the loader combines them, joined with the other
 * side's table.
 */
static char *
step_sql(const SqlRun *run, const char *self_col, Oid self_type, const char *other_col,
		 Oid other_type, const char *other_table, bool duplicates)
{
	const RsModelDef *def = run->def;
	char	   *value = def->rating_column ?
		psprintf("CAST(%s AS pg_catalog.float8)", quote_identifier(def->rating_column)) :
		pstrdup("CAST(1 AS pg_catalog.float8)");
	char	   *rows;

	/*
	 * Keys in the type training read (a function of the source replaced
	 * since cannot change it), text keys grouped and joined bytewise, as
	 * the loader tells them apart.
	 */
	rows = psprintf("SELECT CAST(%s AS %s)%s AS e, CAST(%s AS %s)%s AS o, %s AS v FROM %s "
					"WHERE %s IS NOT NULL AND %s IS NOT NULL%s%s%s",
					quote_identifier(self_col), format_type_be_qualified(self_type),
					self_type == INT2OID || self_type == INT4OID || self_type == INT8OID ?
					"" : " COLLATE pg_catalog.\"C\"",
					quote_identifier(other_col), format_type_be_qualified(other_type),
					other_type == INT2OID || other_type == INT4OID || other_type == INT8OID ?
					"" : " COLLATE pg_catalog.\"C\"",
					value, run->from,
					quote_identifier(self_col), quote_identifier(other_col),
					def->rating_column ? " AND " : "",
					def->rating_column ? quote_identifier(def->rating_column) : "",
					def->rating_column ? " IS NOT NULL" : "");
	if (duplicates)
		rows = psprintf("SELECT d.e, d.o, pg_catalog.%s(d.v) AS v FROM (%s) AS d GROUP BY d.e, d.o",
						run->ials ? "sum" : "avg", rows);
	if (run->partitioned)
	{
		/*
		 * A partitioned source: PostgreSQL joins it with a plain table above
		 * its partitions, so the factors come by a scalar subquery per row
		 * (the key's index), which leaves each partition's rows to be
		 * aggregated where they are (enable_partitionwise_aggregate).
		 */
		char	   *lookup = psprintf("(SELECT f.%%s FROM %s AS f WHERE f.key OPERATOR(pg_catalog.=) r.o)",
									  other_table);

		return psprintf("SELECT s.e, (s.r).factors, (s.r).bias, (s.r).interactions, s.vs FROM "
						"(SELECT r.e, %s AS r, pg_catalog.sum(r.v) AS vs FROM (%s) AS r "
						"GROUP BY r.e) AS s",
						run->ials ?
						psprintf("recsys.ials_step(%s, r.v, $2, $1)", psprintf(lookup, "factors")) :
						psprintf("recsys.als_step(%s, %s, r.v, $1)", psprintf(lookup, "factors"),
								 psprintf(lookup, "bias")),
						rows);
	}
	return psprintf("SELECT s.e, (s.r).factors, (s.r).bias, (s.r).interactions, s.vs FROM "
					"(SELECT r.e, %s AS r, pg_catalog.sum(r.v) AS vs FROM (%s) AS r JOIN %s AS f "
					"ON f.key OPERATOR(pg_catalog.=) r.o GROUP BY r.e) AS s",
					run->ials ? "recsys.ials_step(f.factors, r.v, $2, $1)" :
					"recsys.als_step(f.factors, f.bias, r.v, $1)",
					rows, other_table);
}

/*
 * The nodes of a step's plan that say how it is split ("Finalize
 * GroupAggregate / Gather Merge / Partial GroupAggregate / ..."), for
 * "verbose": EXPLAIN of the statement, as the step itself runs it.
 */
static char *
plan_shape(const SqlRun *run, const SqlSide *side)
{
	Oid			types[2] = {JSONBOID, FLOAT8ARRAYOID};
	Datum		values[2] = {run->options, (Datum) 0};
	StringInfoData buf;

	if (run->ials)
		values[1] = PointerGetDatum(construct_empty_array(FLOAT8OID));
	exec_as_reader(run, psprintf("EXPLAIN (COSTS OFF) %s", side->step_sql),
				   run->ials ? 2 : 1, types, values, true);
	initStringInfo(&buf);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *line = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		char	   *node;

		if (line == NULL || (strstr(line, "Aggregate") == NULL && strstr(line, "Gather") == NULL &&
							 strstr(line, "Append") == NULL))
			continue;
		node = line + strspn(line, " ->");
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? " / " : "", node);
	}
	SPI_freetuptable(SPI_tuptable);
	return buf.data;
}

/*
 * One entity's penalty in the objective: ials lambda |x|^2, als n (lambda
 * |x|^2 + lambda_b b^2) with n its ratings (weighted lambda).
 */
static double
entity_penalty(const SqlRun *run, const float *x, double n, const float *bias)
{
	const RsParams *p = &run->opts->params;
	double		xx = 0.0;

	for (int a = 0; a < run->k; a++)
		xx += (double) x[a] * x[a];
	if (run->ials)
		return p->regularization * xx;
	return n * (p->regularization * xx +
				(bias ? p->bias_regularization * (double) *bias * *bias : 0.0));
}

/* the objective of the final factors, as the in-memory trainers report it */
static double
final_loss(const SqlRun *run, const RsMatrix *m, const RsModel *out)
{
	const RsParams *p = &run->opts->params;
	int			k = run->k;
	double		total = 0.0;
	double	   *gram = NULL;

	if (run->ials)
	{
		/* Y^T Y, for the sum over every cell */
		gram = palloc0(sizeof(double) * k * k);
		for (int32 i = 0; i < m->n_items; i++)
		{
			const float *y = out->item_factors + (size_t) i * k;

			for (int a = 0; a < k; a++)
				for (int b = 0; b < k; b++)
					gram[a * k + b] += (double) y[a] * y[b];
		}
	}
	for (int32 u = 0; u < m->n_users; u++)
	{
		const float *x = out->user_factors + (size_t) u * k;

		if (run->ials)
			for (int a = 0; a < k; a++)
				for (int b = 0; b < k; b++)
					total += x[a] * gram[a * k + b] * x[b];
		total += entity_penalty(run, x, (double) (m->user_ptr[u + 1] - m->user_ptr[u]),
								out->user_bias ? &out->user_bias[u] : NULL);
		for (int64 j = m->user_ptr[u]; j < m->user_ptr[u + 1]; j++)
		{
			int32		i = m->user_items[j];
			const float *y = out->item_factors + (size_t) i * k;
			double		s = 0.0;

			for (int a = 0; a < k; a++)
				s += (double) x[a] * y[a];
			if (run->ials)
			{
				double		c = 1.0 + p->alpha * m->user_vals[j];

				total += c * (1.0 - s) * (1.0 - s) - s * s;
			}
			else
			{
				double		d = m->user_vals[j] - out->global_mean - s -
					(out->user_bias ? out->user_bias[u] : 0.0) -
					(out->item_bias ? out->item_bias[i] : 0.0);

				total += d * d;
			}
		}
		if ((u & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int32 i = 0; i < m->n_items; i++)
		total += entity_penalty(run, out->item_factors + (size_t) i * k,
								(double) (m->item_ptr[i + 1] - m->item_ptr[i]),
								out->item_bias ? &out->item_bias[i] : NULL);
	if (run->ials)
		return total / ((double) Max(m->n_users, 1) * (double) Max(m->n_items, 1));
	return total / (double) Max(m->nnz, 1);
}

void
rs_train_sql(const RsModelDef *def, const char *from, bool partitioned,
			 const RsTrainOptions *opts,
			 const RsLoader *l, const RsMatrix *m, const RsEnv *env, RsModel *out)
{
	const RsParams *p = &opts->params;
	SqlRun		run;
	SqlSide		users;
	SqlSide		items;
	char	   *base;
	char	   *reader;
	double		mean;

	Assert(opts->algorithm == RS_ALG_ALS || opts->algorithm == RS_ALG_IALS);
	memset(&run, 0, sizeof(run));
	run.def = def;
	run.from = from;
	run.partitioned = partitioned;
	run.opts = opts;
	run.k = p->factors;
	run.ials = opts->algorithm == RS_ALG_IALS;
	run.emb_type = rs_embedding_type_oid();

	/* the start: the in-memory trainers' (the same streams) */
	mean = run.ials || p->no_global_mean ? 0.0 : m->mean;
	memset(out, 0, sizeof(RsModel));
	rs_model_setup(out, m, p, env, mean, !run.ials, !run.ials, 0, (uint64_t) m->n_users);
	if (run.ials)
		run.options = DirectFunctionCall1(jsonb_in, CStringGetDatum(
			psprintf("{\"regularization\": %.17g, \"alpha\": %.17g}",
					 p->regularization, p->alpha)));
	else
		run.options = DirectFunctionCall1(jsonb_in, CStringGetDatum(
			psprintf("{\"regularization\": %.17g, \"bias_regularization\": %.17g, "
					 "\"biases\": %s, \"mean\": %.17g}",
					 p->regularization, p->bias_regularization,
					 p->no_biases ? "false" : "true", mean)));

	/* 1. the factor tables, the reader granted SELECT */
	base = psprintf("train_sql_%d_%d", MyProcPid, ++sql_runs);
	reader = GetUserNameFromId(def->stored ? def->owner : GetUserId(), false);
	memset(&users, 0, sizeof(users));
	users.table = psprintf("recsys.%s", quote_identifier(psprintf("%s_users", base)));
	users.keys = &l->users;
	users.ptr = m->user_ptr;
	users.n = m->n_users;
	users.factors = out->user_factors;
	users.bias = out->user_bias;
	memset(&items, 0, sizeof(items));
	items.table = psprintf("recsys.%s", quote_identifier(psprintf("%s_items", base)));
	items.keys = &l->items;
	items.ptr = m->item_ptr;
	items.n = m->n_items;
	items.factors = out->item_factors;
	items.bias = out->item_bias;
	for (int s = 0; s < 2; s++)
	{
		const SqlSide *side = s == 0 ? &users : &items;

		rs_catalog_exec(psprintf("CREATE UNLOGGED TABLE %s (key %s NOT NULL, "
								 "factors recsys.embedding NOT NULL, bias real)",
								 side->table, format_type_be_qualified(side->keys->type)),
						0, NULL, NULL, NULL, false);
		rs_catalog_exec(psprintf("GRANT SELECT ON %s TO %s", side->table,
								 quote_identifier(reader)),
						0, NULL, NULL, NULL, false);
		if (partitioned)
			rs_catalog_exec(psprintf("CREATE UNIQUE INDEX ON %s (key)", side->table),
							0, NULL, NULL, NULL, false);
		write_side(&run, side);
	}
	users.step_sql = step_sql(&run, def->user_column, l->users.type, def->item_column,
							  l->items.type, items.table, l->duplicates > 0);
	items.step_sql = step_sql(&run, def->item_column, l->items.type, def->user_column,
							  l->users.type, users.table, l->duplicates > 0);
	/* what each entity's values add up to, to check each step's reading */
	users.vsum = palloc0(sizeof(double) * Max(users.n, 1));
	users.vabs = palloc0(sizeof(double) * Max(users.n, 1));
	items.vsum = palloc0(sizeof(double) * Max(items.n, 1));
	items.vabs = palloc0(sizeof(double) * Max(items.n, 1));
	for (int32 u = 0; u < m->n_users; u++)
		for (int64 j = m->user_ptr[u]; j < m->user_ptr[u + 1]; j++)
		{
			double		v = m->user_vals[j];

			users.vsum[u] += v;
			users.vabs[u] += fabs(v);
			items.vsum[m->user_items[j]] += v;
			items.vabs[m->user_items[j]] += fabs(v);
		}

	if (opts->verbose)
		env->note(env->arg, psprintf("the user step's plan: %s", plan_shape(&run, &users)));

	/* 2. the iterations: users against items, then items against users */
	for (int it = 0; it < p->iterations; it++)
	{
		TimestampTz t0 = GetCurrentTimestamp();

		run_step(&run, &users, &items);
		write_side(&run, &users);
		run_step(&run, &items, &users);
		if (it + 1 < p->iterations)
			write_side(&run, &items);
		if (opts->verbose)
			env->note(env->arg, psprintf("iteration %d of %d: both steps in SQL statements (%.2f s)",
										 it + 1, p->iterations,
										 (double) (GetCurrentTimestamp() - t0) / 1e6));
	}

	/* 3. the tables go; the model is in memory */
	rs_catalog_exec(psprintf("DROP TABLE %s, %s", users.table, items.table),
					0, NULL, NULL, NULL, false);
	if (!run.ials && p->no_biases)
	{
		out->user_bias = NULL;
		out->item_bias = NULL;
	}
	out->loss[0] = final_loss(&run, m, out);
	out->n_loss = 1;
}
