/*-------------------------------------------------------------------------
 *
 * update.c
 *	  recsys.update(model, since): the interactions that arrived after the
 *	  active version was trained, folded into a new version without
 *	  retraining its items.
 *
 * The new rows are the rows of the model's stored source whose time (the
 * model's "time_column") is after `since`, by default the active
 * version's watermark (params.data_until_epoch: the newest time it has
 * read, exactly); they are read as the model's owner, under the rules of
 * retrain() (src/catalog.c), by a query whose time comparison an index on
 * the time column serves.  Everything is read after the model's lock, with
 * a fresh snapshot.  Each user with new interactions on items the version
 * knows is written anew: the version's stored interactions
 * (recsys.user_factors.seen and, for als, svd and ials, their values in
 * recsys.user_values, which only the catalog's owner reads) merged with the
 * new ones (an implicit value adds to a stored one, as the loader sums
 * duplicates; an explicit rating of an item already rated is averaged with
 * the stored rating), and for factor models the factors solved against the
 * fixed items by the exact user step of serving's fold-in (Cholesky;
 * core/als.c and core/ials.c, on the worker threads; bpr: the mean of the
 * items' vectors).  Users the version did not have are added.  Items keep
 * their factors and neighbour lists; their interaction counts grow
 * (popularity: its scores, which are those counts).  Every other row is
 * copied.  Interactions with items the version does not have are skipped
 * and counted, with a NOTICE: only a retrain learns new items.
 *
 * Refused, with a hint: models without a stored source or a time column,
 * versions without a watermark (trained before 0.3.0) or of another
 * definition than the model's current one (train() since), new rows with
 * keys of other types, time decay (the stored values carry no times to
 * weigh them by), user_knn (a new user has no place among its lists).
 *
 * Calls catalog.c (lock, definition, owner, the new version), train.c
 * (the query of new rows, the value checks, the cores' services),
 * loader.c (reading them), serve_cache.c (the version's items and fold-in
 * parameters), core/ (the user step) and model_index.c.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/linalg.h"
#include "loader.h"
#include "train.h"

/* keys asked of the catalog per query */
#define UPDATE_FETCH_CHUNK	8192

/* A user of the new rows, as the base version has them (idx -1: new). */
typedef struct OldUser
{
	int32		idx;
	float		bias;
	int32		n;
	int32	   *seen;
	float	   *vals;			/* NULL: every value 1 */
} OldUser;

static char **sort_keys;

static int
cmp_key_order(const void *a, const void *b)
{
	return strcmp(sort_keys[*(const int32 *) a], sort_keys[*(const int32 *) b]);
}

/* the user of keys[] (sorted by order[begin..end)) named key, or -1 */
static int32
find_user(char **keys, const int32 *order, int32 begin, int32 end, const char *key)
{
	int32		lo = begin,
				hi = end - 1;

	while (lo <= hi)
	{
		int32		mid = (lo + hi) / 2;
		int			c = strcmp(keys[order[mid]], key);

		if (c == 0)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* an int4 or float4 array of the catalog, copied into cxt */
static void *
array_copy(Datum d, MemoryContext cxt, int32 *n)
{
	MemoryContext prev = MemoryContextSwitchTo(cxt);
	ArrayType  *a = DatumGetArrayTypePCopy(d);

	MemoryContextSwitchTo(prev);
	*n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return ARR_DATA_PTR(a);
}

/*
 * The base version's rows of the users of the new rows: their index,
 * bias, seen items and values (old[u], idx -1 for a user it does not
 * have).  Read from the catalog, as its owner, UPDATE_FETCH_CHUNK keys at
 * a time: user_factors, then user_values (two index scans; a join of the
 * two could be planned as a nested loop over a version just written,
 * whose statistics say it has one row).
 */
static void
fetch_old_users(const char *model, int32 version, char **keys, int32 n,
				OldUser *old, MemoryContext cxt)
{
	int32	   *order = palloc(sizeof(int32) * Max(n, 1));
	Oid			types[3] = {TEXTOID, INT4OID, TEXTARRAYOID};

	for (int32 u = 0; u < n; u++)
	{
		order[u] = u;
		old[u].idx = -1;
	}
	sort_keys = keys;
	qsort(order, n, sizeof(int32), cmp_key_order);

	for (int32 begin = 0; begin < n; begin += UPDATE_FETCH_CHUNK)
	{
		int32		cnt = Min(n - begin, UPDATE_FETCH_CHUNK);
		Datum	   *kd = palloc(sizeof(Datum) * cnt);
		Datum		values[3];

		for (int32 j = 0; j < cnt; j++)
			kd[j] = CStringGetTextDatum(keys[order[begin + j]]);
		values[0] = CStringGetTextDatum(model);
		values[1] = Int32GetDatum(version);
		values[2] = PointerGetDatum(construct_array(kd, cnt, TEXTOID, -1, false, TYPALIGN_INT));

		rs_catalog_exec("SELECT f.user_key, f.user_idx, f.bias, f.seen, f.ratings "
						"FROM recsys.user_factors f WHERE f.model = $1 AND f.version = $2 "
						"AND f.user_key OPERATOR(pg_catalog.=) ANY ($3)", 3, types, values, NULL, true);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;
			int32		u = find_user(keys, order, begin, begin + cnt,
									  SPI_getvalue(tup, desc, 1));

			if (u < 0)
				elog(ERROR, "recsys.update: the catalog returned a user not asked for");
			old[u].idx = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			d = SPI_getbinval(tup, desc, 3, &isnull);
			old[u].bias = isnull ? 0.0f : DatumGetFloat4(d);
			old[u].seen = array_copy(SPI_getbinval(tup, desc, 4, &isnull), cxt, &old[u].n);
			d = SPI_getbinval(tup, desc, 5, &isnull);
			old[u].vals = NULL;
			if (!isnull)
			{
				int32		nv;

				old[u].vals = array_copy(d, cxt, &nv);
				if (nv != old[u].n)
					elog(ERROR, "recsys.user_factors: seen and ratings differ in length");
			}
		}
		SPI_freetuptable(SPI_tuptable);

		rs_catalog_exec("SELECT v.user_key, v.\"values\" FROM recsys.user_values v "
						"WHERE v.model = $1 AND v.version = $2 "
						"AND v.user_key OPERATOR(pg_catalog.=) ANY ($3)", 3, types, values, NULL, true);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			int32		nv;
			int32		u = find_user(keys, order, begin, begin + cnt,
									  SPI_getvalue(tup, desc, 1));

			if (u < 0 || old[u].idx < 0)
				elog(ERROR, "recsys.user_values: values of a user the version does not have");
			old[u].vals = array_copy(SPI_getbinval(tup, desc, 2, &isnull), cxt, &nv);
			if (nv != old[u].n)
				elog(ERROR, "recsys.user_values: values and seen items differ in length");
		}
		SPI_freetuptable(SPI_tuptable);
		pfree(kd);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(order);
}

typedef struct Pair
{
	int32		item;
	float		val;
	bool		is_new;
} Pair;

static int
cmp_pair(const void *a, const void *b)
{
	const Pair *x = a;
	const Pair *y = b;

	if (x->item != y->item)
		return (x->item > y->item) - (x->item < y->item);
	/* the stored interaction before the new one */
	return (int) x->is_new - (int) y->is_new;
}

/*
 * The factors (and biases) of the users of sub against the served
 * version's fixed items, as fold-in solves them.
 */
static void
solve_factors(const RsTrainOptions *opts, const ServedModel *served,
			  const RsMatrix *sub, const RsEnv *env, float *uf, float *ub)
{
	int			k = served->sm.factors;
	int			blas_threads = rs_blas_get_threads();

	PG_TRY();
	{
		switch (opts->algorithm)
		{
			case RS_ALG_IALS:
				rs_ials_solve_users(sub, k, served->alpha, served->reg, served->factors,
									served->n_items, opts->params.threads, env, uf);
				break;
			case RS_ALG_ALS:
			case RS_ALG_SVD:
			case RS_ALG_NMF:
				{
					const float *ib = served->bias;

					if (ib == NULL)
						ib = palloc0(sizeof(float) * Max(served->n_items, 1));
					rs_als_solve_users(sub, k, served->sm.global_mean, served->reg,
									   served->reg_b, !opts->params.no_biases,
									   opts->algorithm == RS_ALG_NMF,
									   served->factors, ib,
									   opts->params.threads, env, uf, ub);
				}
				break;
			case RS_ALG_SVDPP:
				{
					/*
					 * z = |N|^-1/2 sum y_j over each user's items; then the
					 * ridge step of the rest, r - q_i.z, as fold-in
					 */
					const float *ib = served->bias;
					float	   *z = palloc(sizeof(float) * (Size) sub->n_users * Max(k, 1));
					float	   *vals = palloc(sizeof(float) * (Size) Max(sub->nnz, 1));
					RsMatrix	rest = *sub;

					if (ib == NULL)
						ib = palloc0(sizeof(float) * Max(served->n_items, 1));
					if (served->implicit == NULL)
						elog(ERROR, "svdpp model \"%s\" version %d has no implicit factors",
							 served->sm.name, served->sm.version);
					for (int32 s = 0; s < sub->n_users; s++)
					{
						float	   *zs = z + (Size) s * k;
						int64		beg = sub->user_ptr[s];

						rs_svdpp_implicit(served->implicit, sub->user_items + beg,
										  sub->user_ptr[s + 1] - beg, k, zs);
						for (int64 j = beg; j < sub->user_ptr[s + 1]; j++)
							vals[j] = sub->user_vals[j] -
								rs_vdot(served->factors + (Size) sub->user_items[j] * k, zs, k);
						if ((s & 1023) == 0)
							CHECK_FOR_INTERRUPTS();
					}
					rest.user_vals = vals;
					rs_als_solve_users(&rest, k, served->sm.global_mean, served->reg,
									   served->reg_b, !opts->params.no_biases, false,
									   served->factors, ib,
									   opts->params.threads, env, uf, ub);
					for (Size x = 0; x < (Size) sub->n_users * k; x++)
						uf[x] += z[x];
				}
				break;
			default:
				/* bpr: the mean of the items' vectors, as fold-in */
				memset(uf, 0, sizeof(float) * (Size) sub->n_users * k);
				for (int32 s = 0; s < sub->n_users; s++)
				{
					float	   *x = uf + (Size) s * k;
					int64		n = sub->user_ptr[s + 1] - sub->user_ptr[s];

					for (int64 j = sub->user_ptr[s]; j < sub->user_ptr[s + 1]; j++)
						for (int c = 0; c < k; c++)
							x[c] += served->factors[(Size) sub->user_items[j] * k + c] / n;
					if ((s & 1023) == 0)
						CHECK_FOR_INTERRUPTS();
				}
				break;
		}
	}
	PG_FINALLY();
	{
		rs_blas_set_threads(blas_threads);
	}
	PG_END_TRY();
}

/*
 * The whole update, inside the caller's SPI connection; what it did goes
 * to *summary_out and *opts_out (the result row is made after SPI_finish,
 * which frees what was allocated inside).
 */
static void
update_model(const char *name, double since_arg, RsTrainOptions *opts_out,
			 RsTrainSummary *summary_out)
{
	double		start = rs_now_seconds();
	RsModelDef *def;
	RsTrainOptions opts;
	RsTrainSummary summary;
	ServedModel *served;
	int32		base;
	int32		base_users;
	int64		base_interactions;
	bool		same_definition;
	Oid			user_type;
	Oid			item_type;
	double		data_until;
	double		since;
	MemoryContext cxt;
	RsLoader   *l;
	RsMatrix   *nm;
	RsRunAs		as;
	RsEnv		env;
	RsUpdate	up;
	int32	   *item_map;
	char	  **ukeys;
	OldUser    *old;
	int64		unknown = 0;
	int32	   *item_added;
	int32		n_touched = 0;
	int32		n_solve = 0;
	int32		next_idx;
	int64		new_pairs = 0;
	int64		folded = 0;
	int64		total_nnz = 0;
	int64	   *ptr;
	int32	   *items;
	float	   *vals;
	int32	   *solve_user;
	RsMatrix	sub;
	float	   *uf = NULL;
	float	   *ub = NULL;
	int			k;
	bool		knn_explicit;

	rs_lock_model(name);

	/*
	 * Everything read from here on is read after the lock: a training,
	 * activation or drop that committed while this waited is seen (in READ
	 * COMMITTED), so the version extended is the one active now.
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	def = rs_model_lookup(name, false);
	rs_check_model_owner(def);
	if (def->source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" was trained with recsys.fit() and has no stored source", name),
				 errhint("Run its recsys.fit() query again, or train it with recsys.train().")));
	rs_parse_options(def->options, def->algorithm, &opts);
	if (opts.time_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no time column to find new interactions by", name),
				 errhint("Train it with option \"time_column\" naming the source's column of interaction times.")));
	if (opts.half_life_seconds > 0 || opts.params.half_life_days > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys.update() cannot extend model \"%s\", which is trained with time decay", name),
				 errdetail("Every interaction's weight depends on its age, which the stored version does not keep."),
				 errhint("Retrain it (recsys.retrain(), or on a schedule with recsys.schedule_retrain()).")));
	if (opts.algorithm == RS_ALG_USER_KNN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys.update() cannot extend user_knn model \"%s\"", name),
				 errdetail("A user_knn model's lists are lists of users: a changed or new user needs them recomputed."),
				 errhint("Retrain it (recsys.retrain(), or on a schedule with recsys.schedule_retrain()).")));

	/* the active version: the one updated */
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(name)};
		bool		isnull;
		Datum		d;

		HeapTuple	tup;
		TupleDesc	desc;

		rs_catalog_exec("SELECT v.version, v.users, v.interactions, "
						"(v.params->>'data_until_epoch')::pg_catalog.float8, "
						"v.definition_md5 IS NOT DISTINCT FROM " RS_DEFINITION_MD5 ", "
						"m.user_key_type::pg_catalog.oid, m.item_key_type::pg_catalog.oid "
						"FROM recsys.models m JOIN recsys.model_versions v "
						"ON v.model = m.name AND v.version = m.active_version "
						"WHERE m.name = $1", 1, types, values, NULL, true);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" has no active version", name)));
		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		base = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		base_users = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		base_interactions = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		data_until = isnull ? get_float8_nan() : DatumGetFloat8(d);
		same_definition = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		user_type = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		item_type = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
	}
	if (isnan(data_until))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of model \"%s\" does not record the newest interaction it read", base, name),
				 errdetail("It was trained before recsys 0.3.0."),
				 errhint("Retrain it once (recsys.retrain()); recsys.update() then folds in what arrives after.")));
	/*
	 * The version extended must be of the model's current definition: a
	 * version active again after train() replaced the source, columns,
	 * algorithm or options is not extended with rows of the new one.
	 */
	if (!same_definition)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of model \"%s\" was trained with another definition than the model's current one",
						base, name),
				 errdetail("recsys.train() has replaced the model's source, columns, algorithm or options since."),
				 errhint("Activate a version of the current definition (recsys.activate()), or retrain the model.")));
	/* rows up to data_until are in the version: read again, they would count twice */
	if (!isnan(since_arg) && since_arg < data_until)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("since is before %s, the newest interaction version %d of model \"%s\" has read",
						rs_epoch_text(data_until), base, name),
				 errhint("The interactions up to then are in the version already; retrain the model to read them again.")));
	since = isnan(since_arg) ? data_until : since_arg;

	served = rs_served_model(name, base);
	rs_served_params(served);
	k = served->sm.factors;
	knn_explicit = is_knn(served) && is_explicit(served);

	memset(&summary, 0, sizeof(summary));
	summary.version = base;
	summary.final_loss = get_float8_nan();
	summary.data_until = data_until;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys update", ALLOCSET_DEFAULT_SIZES);
	rs_train_env_init(&env, cxt, name, opts.verbose);

	/* the new rows, as the model's owner */
	l = MemoryContextAlloc(cxt, sizeof(RsLoader));
	rs_loader_init(l, cxt);
	rs_run_as_model_owner(&as, def);
	/* (rs_new_rows_query() has checked the stored source) */
	rs_loader_load_query(l, rs_new_rows_query(def, opts.time_column, since), true);
	rs_run_as_end(&as);
	summary.skipped = l->rows_skipped;
	if (l->n == 0)
	{
		ereport(NOTICE,
				(errmsg("model \"%s\" has no interactions after %s: it stays at version %d",
						name, rs_epoch_text(since), base)));
		summary.seconds = rs_now_seconds() - start;
		MemoryContextDelete(cxt);
		PopActiveSnapshot();
		*opts_out = opts;
		*summary_out = summary;
		return;
	}
	/* the keys must be of the types the model was trained with */
	if (l->users.type != user_type || l->items.type != item_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the new rows of model \"%s\" have keys of type %s and %s, the model %s and %s",
						name, format_type_be(l->users.type), format_type_be(l->items.type),
						format_type_be(user_type), format_type_be(item_type)),
				 errhint("The source's key columns changed type since the model was trained; retrain it.")));
	for (int64 x = 0; x < l->n; x++)
		if (l->t[x] > data_until)
			data_until = l->t[x];
	summary.duplicates = l->duplicates;
	if (env.note)
		env.note(env.arg, psprintf("read %lld new rows", (long long) l->rows_read));
	nm = rs_loader_finish(l, rs_options_implicit(&opts) ? RS_DUP_SUM : RS_DUP_MEAN);
	rs_check_values(nm, l, &opts);

	/* the new rows' items and users as the version has them */
	item_map = MemoryContextAlloc(cxt, sizeof(int32) * Max(nm->n_items, 1));
	for (int32 j = 0; j < nm->n_items; j++)
		item_map[j] = rs_served_item(served, rs_key_to_text(&l->items, j));
	ukeys = MemoryContextAlloc(cxt, sizeof(char *) * Max(nm->n_users, 1));
	for (int32 u = 0; u < nm->n_users; u++)
		ukeys[u] = rs_key_to_text(&l->users, u);
	old = MemoryContextAllocZero(cxt, sizeof(OldUser) * Max(nm->n_users, 1));
	fetch_old_users(name, base, ukeys, nm->n_users, old, cxt);

	/* each user written anew: the stored interactions merged with the new */
	item_added = MemoryContextAllocZero(cxt, sizeof(int32) * Max(served->n_items, 1));
	solve_user = MemoryContextAlloc(cxt, sizeof(int32) * Max(nm->n_users, 1));
	for (int32 u = 0; u < nm->n_users; u++)
	{
		int32		known = 0;

		for (int64 x = nm->user_ptr[u]; x < nm->user_ptr[u + 1]; x++)
		{
			if (item_map[nm->user_items[x]] < 0)
				unknown++;
			else
				known++;
		}
		if (known == 0)
			continue;			/* nothing the version can fold in */
		solve_user[n_solve++] = u;
		total_nnz += known + (old[u].idx >= 0 ? old[u].n : 0);
	}
	if (unknown > 0)
		ereport(NOTICE,
				(errmsg_plural("%lld new interaction of model \"%s\" is with an item version %d does not have; it is skipped",
							   "%lld new interactions of model \"%s\" are with items version %d does not have; they are skipped",
							   (unsigned long) unknown, (long long) unknown, name, base),
				 errhint("Only a retrain (recsys.retrain()) learns new items.")));
	if (n_solve == 0)
	{
		/* nothing the version can take: no new version (and no watermark moved) */
		ereport(NOTICE,
				(errmsg("model \"%s\" has no new interactions with items it has: it stays at version %d",
						name, base)));
		summary.skipped = l->rows_skipped + unknown;
		summary.seconds = rs_now_seconds() - start;
		MemoryContextDelete(cxt);
		PopActiveSnapshot();
		*opts_out = opts;
		*summary_out = summary;
		return;
	}
	ptr = rs_alloc(cxt, sizeof(int64) * (n_solve + 1));
	items = rs_alloc(cxt, sizeof(int32) * Max(total_nnz, 1));
	vals = rs_alloc(cxt, sizeof(float) * Max(total_nnz, 1));
	ptr[0] = 0;
	for (int32 s = 0; s < n_solve; s++)
	{
		int32		u = solve_user[s];
		int32		n_old = old[u].idx >= 0 ? old[u].n : 0;
		Pair	   *p = palloc(sizeof(Pair) * (n_old + (nm->user_ptr[u + 1] - nm->user_ptr[u])));
		int32		np = 0;
		int64		w = ptr[s];

		for (int32 j = 0; j < n_old; j++)
		{
			p[np].item = old[u].seen[j];
			p[np].val = old[u].vals ? old[u].vals[j] : 1.0f;
			p[np++].is_new = false;
		}
		for (int64 x = nm->user_ptr[u]; x < nm->user_ptr[u + 1]; x++)
		{
			if (item_map[nm->user_items[x]] < 0)
				continue;
			p[np].item = item_map[nm->user_items[x]];
			p[np].val = nm->user_vals[x];
			p[np++].is_new = true;
			folded++;
		}
		qsort(p, np, sizeof(Pair), cmp_pair);
		for (int32 j = 0; j < np; j++)
		{
			if (w > ptr[s] && items[w - 1] == p[j].item)
			{
				/* the stored interaction and a new one with the same item */
				if (rs_options_implicit(&opts))
					vals[w - 1] += p[j].val;
				else
					vals[w - 1] = (vals[w - 1] + p[j].val) / 2.0f;
				continue;
			}
			items[w] = p[j].item;
			vals[w++] = p[j].val;
			if (p[j].is_new)
			{
				if (item_added[p[j].item]++ == 0)
					n_touched++;
				new_pairs++;
			}
		}
		ptr[s + 1] = w;
		pfree(p);
		if ((s & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int64 x = 0; x < ptr[n_solve]; x++)
		if (!isfinite(vals[x]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the values of model \"%s\" add up to more than real can hold", name),
					 errhint("Duplicate (user, item) rows are summed for implicit feedback; scale the values down in the source query.")));

	if (env.note)
		env.note(env.arg, psprintf("merged %d users' interactions", n_solve));
	/* the users' factors against the fixed items */
	memset(&sub, 0, sizeof(sub));
	sub.n_users = n_solve;
	sub.n_items = served->n_items;
	sub.nnz = ptr[n_solve];
	sub.user_ptr = ptr;
	sub.user_items = items;
	sub.user_vals = vals;
	if (k > 0 && served->factors != NULL && n_solve > 0)
	{
		uf = rs_alloc(cxt, sizeof(float) * (Size) n_solve * k);
		ub = rs_alloc(cxt, sizeof(float) * (Size) n_solve);
		solve_factors(&opts, served, &sub, &env, uf, ub);
		if (opts.params.no_biases)
			ub = NULL;			/* "biases": false: stored NULL, as trained */
		for (Size x = 0; x < (Size) n_solve * k; x++)
			if (!isfinite(uf[x]))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("updating model \"%s\" overflowed: a user's factors are not finite", name),
						 errhint("Scale the values in the source query.")));
	}
	else if (knn_explicit)
	{
		/* the baseline: a stored user keeps theirs; a new one has 0, as fold-in */
		ub = rs_alloc(cxt, sizeof(float) * Max(n_solve, 1));
		for (int32 s = 0; s < n_solve; s++)
			ub[s] = old[solve_user[s]].idx >= 0 ? old[solve_user[s]].bias : 0.0f;
	}

	if (env.note)
		env.note(env.arg, psprintf("solved %d users", n_solve));
	/* the new version */
	memset(&up, 0, sizeof(up));
	up.base_version = base;
	up.version = rs_next_version(name);
	up.n_users = n_solve;
	up.user_keys = MemoryContextAlloc(cxt, sizeof(char *) * Max(n_solve, 1));
	{
		int32	   *uidx = MemoryContextAlloc(cxt, sizeof(int32) * Max(n_solve, 1));

		next_idx = base_users;
		for (int32 s = 0; s < n_solve; s++)
		{
			int32		u = solve_user[s];

			up.user_keys[s] = ukeys[u];
			uidx[s] = old[u].idx >= 0 ? old[u].idx : next_idx++;
		}
		up.user_idx = uidx;
	}
	up.user_bias = ub;
	up.user_factors = uf;
	up.factors = uf ? k : 0;
	up.seen_ptr = ptr;
	up.seen = items;
	up.ratings = knn_explicit ? vals : NULL;
	up.private_values = rs_keeps_user_values(&opts) ? vals : NULL;
	{
		int32	   *ti = MemoryContextAlloc(cxt, sizeof(int32) * Max(n_touched, 1));
		int32	   *tn = MemoryContextAlloc(cxt, sizeof(int32) * Max(n_touched, 1));
		int32		t = 0;

		for (int32 i = 0; i < served->n_items; i++)
			if (item_added[i] > 0)
			{
				ti[t] = i;
				tn[t++] = item_added[i];
			}
		up.n_items = t;
		up.item_idx = ti;
		up.item_added = tn;
	}
	up.scores_are_counts = (opts.algorithm == RS_ALG_POPULARITY);
	up.users = next_idx;
	up.interactions = base_interactions + new_pairs;
	up.rows_read = l->rows_read;
	up.rows_skipped = l->rows_skipped + unknown;
	up.duplicates = l->duplicates;
	up.data_until = data_until;
	up.memory_bytes = (int64) MemoryContextMemAllocated(cxt, true);
	up.keep = opts.keep;
	up.seconds = rs_now_seconds() - start;
	rs_store_update(name, &up);
	rs_model_index_sync(name);
	if (env.note)
		env.note(env.arg, psprintf("stored version %d", up.version));

	summary.version = up.version;
	summary.users = n_solve;
	summary.items = n_touched;
	summary.interactions = folded;
	summary.skipped = up.rows_skipped;
	summary.data_until = data_until;
	summary.seconds = rs_now_seconds() - start;
	MemoryContextDelete(cxt);
	PopActiveSnapshot();
	*opts_out = opts;
	*summary_out = summary;
}

PG_FUNCTION_INFO_V1(rs_update);
Datum
rs_update(PG_FUNCTION_ARGS)
{
	char	   *name;
	double		since = get_float8_nan();
	RsTrainOptions opts;
	RsTrainSummary summary;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
	{
		TimestampTz ts = PG_GETARG_TIMESTAMPTZ(1);

		if (TIMESTAMP_NOT_FINITE(ts))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("since must be a finite time"),
					 errhint("Leave it out to fold in what arrived after the active version's newest interaction.")));
		since = rs_datum_to_epoch(TimestampTzGetDatum(ts), TIMESTAMPTZOID);
	}
	SPI_connect();
	update_model(name, since, &opts, &summary);
	SPI_finish();
	PG_RETURN_DATUM(rs_train_result(fcinfo, name, &opts, &summary));
}
