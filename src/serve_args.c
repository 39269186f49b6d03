/*-------------------------------------------------------------------------
 *
 * serve_args.c
 *	  Arguments and results of the serving functions: keys in the caller's
 *	  type (KeyIO), the checks of model and k, the trailing constraint
 *	  arguments every serving function shares (rs_parse_constraints), and
 *	  the ranked result rows.
 *
 * Calls privileges.c (may the caller use the model) and rerank.c (the
 * constraint checks); no other serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "privileges.h"

/* Keys in the caller's type, as text (the form the model stores). */
void
rs_keyio_init(KeyIO *io, Oid type)
{
	bool		varlena;

	io->type = type;
	getTypeOutputInfo(type, &io->output, &varlena);
	getTypeInputInfo(type, &io->input, &io->ioparam);
}

char *
rs_keyio_to_text(const KeyIO *io, Datum d)
{
	if (io->type == UNKNOWNOID)
		return pstrdup(DatumGetCString(d));
	/* char(n) without its trailing blanks, as the loader stores it */
	if (io->type == BPCHAROID)
		return rs_text_key_cstring(d, BPCHAROID);
	return OidOutputFunctionCall(io->output, d);
}

Datum
rs_keyio_from_text(const KeyIO *io, const char *key)
{
	return OidInputFunctionCall(io->input, (char *) key, io->ioparam, -1);
}

int
rs_checked_k(FunctionCallInfo fcinfo, int arg)
{
	int			k;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	k = PG_GETARG_INT32(arg);
	if (k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be positive, not %d", k),
				 errhint("k is the number of items to recommend.")));
	return k;
}

/* The model argument: a model the current user may use. */
char *
rs_checked_model(FunctionCallInfo fcinfo)
{
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	rs_check_model_usage(name);
	return name;
}

/*
 * The version argument: 0 (NULL, or an argument the call does not have)
 * for the active version.  A version that cannot exist is the same error
 * as one the model does not keep.
 */
int32
rs_version_arg(FunctionCallInfo fcinfo, int arg)
{
	int32		version;

	if (arg >= PG_NARGS() || PG_ARGISNULL(arg))
		return 0;
	version = PG_GETARG_INT32(arg);
	if (version <= 0)
		rs_report_no_version(text_to_cstring(PG_GETARG_TEXT_PP(0)), version);
	return version;
}

/* The trailing constraint arguments, from argument base on. */
void
rs_parse_constraints(FunctionCallInfo fcinfo, int base, int k, bool has_vectors,
				  Constraints *c)
{
#define HAS(x) (base + (x) < PG_NARGS() && !PG_ARGISNULL(base + (x)))
#define TEXT_ARG(x) (HAS(x) ? text_to_cstring(PG_GETARG_TEXT_PP(base + (x))) : NULL)

	memset(c, 0, sizeof(*c));
	rs_rerank_spec_init(&c->spec, k);
	c->exclude_query = TEXT_ARG(C_EXCLUDE_QUERY);
	c->times_query = TEXT_ARG(C_ITEM_TIMES);
	c->groups_query = TEXT_ARG(C_ITEM_GROUPS);
	c->protected_group = TEXT_ARG(C_PROTECTED_GROUP);
	if (HAS(C_HALF_LIFE))
	{
		c->spec.half_life = rs_interval_seconds(PG_GETARG_DATUM(base + C_HALF_LIFE));
		if (!(c->spec.half_life > 0.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("half_life must be a positive interval"),
					 errhint("For example half_life => '30 days'.")));
		if (c->times_query == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("half_life needs item_times"),
					 errhint("Pass item_times => 'SELECT item, published_at FROM ...'.")));
	}
	if (HAS(C_MAX_PER_GROUP))
	{
		c->spec.max_per_group = PG_GETARG_INT32(base + C_MAX_PER_GROUP);
		if (c->spec.max_per_group <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_per_group must be positive, not %d", c->spec.max_per_group),
					 errhint("Pass NULL (the default) to leave the cap off.")));
	}
	if (HAS(C_MIN_SHARE))
	{
		c->spec.min_share = PG_GETARG_FLOAT8(base + C_MIN_SHARE);
		if (c->protected_group == NULL && c->spec.min_share > 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_share needs protected_group"),
					 errhint("Name the group whose share is guaranteed.")));
	}
	if (HAS(C_MAX_SIMILARITY))
	{
		c->spec.diversity = true;
		c->spec.max_similarity = PG_GETARG_FLOAT8(base + C_MAX_SIMILARITY);
	}
	if (HAS(C_MMR_LAMBDA))
	{
		c->spec.mmr = true;
		c->spec.mmr_lambda = PG_GETARG_FLOAT8(base + C_MMR_LAMBDA);
	}
	if (HAS(C_POOL))
	{
		c->spec.pool = PG_GETARG_INT32(base + C_POOL);
		if (c->spec.pool <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool must be positive, not %d", c->spec.pool),
					 errhint("pool is how many candidates the constraints choose from (default 5 k).")));
	}
	if (HAS(C_FORBIDDEN))
		c->forbidden = PG_GETARG_DATUM(base + C_FORBIDDEN);
	rs_rerank_spec_check(&c->spec, has_vectors, c->groups_query != NULL);
	c->greedy = rs_rerank_needs_greedy(&c->spec);
#undef HAS
#undef TEXT_ARG
}

/* Diversity needs item vectors, which not every model has. */
void
rs_check_vectors(const ServedModel *m, const Constraints *cons)
{
	if ((cons->spec.diversity || cons->spec.mmr) &&
		(m->factors == NULL || m->sm.factors == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("diversity constraints need item vectors, and model \"%s\" (%s) has none",
						m->name, rs_algorithm_name(m->sm.algorithm)),
				 errhint("Use a model with item factors (als, svd, ials, bpr), or recsys.rerank() with vectors.")));
}

/* One result row per ranked item: [user,] item, score, rank. */
void
rs_emit_ranked(ReturnSetInfo *rsinfo, const ServedModel *m, const KeyIO *io,
			const Datum *user, const RsScored *ranked, int n)
{
	for (int r = 0; r < n; r++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int			c = 0;

		if (user)
			values[c++] = *user;
		values[c++] = rs_keyio_from_text(io, m->keys[ranked[r].idx]);
		values[c++] = Float8GetDatum(ranked[r].score);
		values[c++] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}
