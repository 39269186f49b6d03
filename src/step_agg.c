/*-------------------------------------------------------------------------
 *
 * step_agg.c
 *	  One half-step of ALS and iALS as SQL aggregates, so that a half-sweep
 *	  is one GROUP BY statement that parallel query, partition-wise
 *	  aggregation or a distributed engine can split into partial
 *	  aggregates: recsys.als_step, recsys.ials_step and recsys.gram
 *	  (doc/scale-out.md has the statements; train_sql.c runs them).
 *
 * recsys.als_step(factors embedding, bias real, rating float8, options
 * jsonb), grouped by user, accumulates als's normal equations for that
 * user over the items it rated (core/als.c): with a_i = [q_i; 1] and the
 * target t = r - mu - b_i,
 *
 *	  A = sum a_i a_i^T,  b = sum t a_i,  n = the number of ratings,
 *
 * and its final function solves (A + n diag(lambda, .., lambda,
 * lambda_b)) x = b for x = [p_u; b_u] (with "biases": false, the k x k
 * system alone and b_u = 0).  The same statement grouped by item, with
 * the users' factors, is the item step.
 *
 * recsys.ials_step(factors embedding, value float8, gram float8[],
 * options jsonb) accumulates iALS's correction (core/ials.c): with
 * c = 1 + alpha r,
 *
 *	  A = sum (c - 1) y_i y_i^T,  b = sum c y_i,
 *
 * and solves (Y^T Y + A + lambda I) x = b, Y^T Y being the gram argument
 * (the same for every row: recsys.gram() over the other side's factors).
 *
 * recsys.gram(factors embedding) is Y^T Y, as float8[] of k * k
 * (row-major, symmetric).
 *
 * The state.  A real type, recsys.step_state, so that a partial
 * aggregate travels as a value of it: a varlena with the parameters
 * (read from the options on the first row, compared by the combine
 * function), the count of rows and the sums in double precision (the
 * upper triangle of A packed by rows, then b, then for iALS the upper
 * triangle of Y^T Y).  Its binary form (send/receive) is its fields in
 * network order; its text form the binary form in hex.  Both are
 * validated as a whole, since anyone can write a state by hand: every
 * size is checked against the kind and the dimension, never trusted.
 *
 * Input rows with a NULL factor vector or value are skipped, as
 * aggregates skip NULLs; a NULL bias counts as 0.
 *
 *-------------------------------------------------------------------------
 */
#include "embedding.h"

#include "common/int.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include <math.h>

#define STEP_ALS		1
#define STEP_IALS		2
#define STEP_GRAM		3

#define STEP_BIASES		0x1		/* als: the bias is learnt */

#define STEP_MAX_DIM	1024	/* as many factors as training allows */

/*
 * Rows a state holds before adding them to its sums: a block of rows
 * touches the sums once, where a row at a time would walk all of them
 * (kilobytes, seldom in cache when groups are hashed) for every row.
 */
#define STEP_BUF		8

typedef struct StepState
{
	int32		vl_len_;		/* varlena header */
	int16		kind;			/* STEP_ALS, STEP_IALS, STEP_GRAM */
	int16		dim;			/* k, the factors */
	int32		flags;			/* STEP_BIASES */
	int32		nbuf;			/* rows held, not yet in the sums */
	int64		count;			/* rows accumulated */
	double		lambda;			/* als, ials: the penalty on factors */
	double		lambda_b;		/* als: on the bias */
	double		alpha;			/* ials: confidence 1 + alpha r */
	double		mu;				/* als: the global mean */
	double		data[FLEXIBLE_ARRAY_MEMBER];
} StepState;

#define STEP_HEADER_SIZE	offsetof(StepState, data)
/* the parameters compared by combine: kind .. mu, but for the count */
#define STEP_NPARAMS		4

/* the size of the system solved: als carries the bias as one more unknown */
static inline int
step_order(int kind, int dim)
{
	return kind == STEP_ALS ? dim + 1 : dim;
}

static inline int64
packed_size(int n)
{
	return (int64) n * (n + 1) / 2;
}

/* doubles of data[] for a kind and dimension */
static int64
step_ndata(int kind, int dim)
{
	int			n = step_order(kind, dim);

	switch (kind)
	{
		case STEP_ALS:
			return packed_size(n) + n;
		case STEP_IALS:
			return packed_size(n) + n + packed_size(dim);
		default:
			return packed_size(dim);
	}
}

/*
 * In memory, data[] continues with the rows held: STEP_BUF rows of the
 * system's order (als: [q; 1], ials and gram: y), then their weights.
 * The binary and text forms have the sums only (the rows held added).
 */
static inline double *
held_rows(const StepState *st)
{
	return (double *) st->data + step_ndata(st->kind, st->dim);
}

static inline double *
held_weights(const StepState *st)
{
	return held_rows(st) + (size_t) STEP_BUF * step_order(st->kind, st->dim);
}

static StepState *
step_alloc(MemoryContext cxt, int kind, int dim)
{
	Size		size = STEP_HEADER_SIZE + sizeof(double) *
		(step_ndata(kind, dim) + (int64) STEP_BUF * (step_order(kind, dim) + 1));
	StepState  *st = MemoryContextAllocZero(cxt, size);

	SET_VARSIZE(st, size);
	st->kind = (int16) kind;
	st->dim = (int16) dim;
	return st;
}

static void
check_dim(int dim)
{
	if (dim < 1 || dim > STEP_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor vectors of %d dimensions cannot be solved for", dim),
				 errhint("A training step takes 1 to %d factors.", STEP_MAX_DIM)));
}

static const char *
kind_name(int kind)
{
	return kind == STEP_ALS ? "recsys.als_step" :
		kind == STEP_IALS ? "recsys.ials_step" : "recsys.gram";
}

/*
 * The options of a step, read once per group (on its first row): a jsonb
 * object of numbers and, for als, "biases".  Anything else is an error.
 */
static void
read_step_options(StepState *st, Jsonb *options)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		is_als = st->kind == STEP_ALS;
	const char *valid = is_als ?
		"regularization, bias_regularization, biases, mean" : "regularization, alpha";

	/* the defaults: als's and ials's own; a parameter of the other is 0 */
	st->lambda = is_als ? 0.08 : 50.0;
	st->lambda_b = is_als ? 0.05 : 0.0;
	st->alpha = is_als ? 0.0 : 5.0;
	st->mu = 0.0;
	st->flags = is_als ? STEP_BIASES : 0;
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the options of %s must be a JSON object", kind_name(st->kind)),
				 errhint("Valid options: %s.", valid)));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		double		d = 0.0;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (is_als && strcmp(name, "biases") == 0)
		{
			if (v.type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"biases\" of %s must be true or false", kind_name(st->kind))));
			st->flags = v.val.boolean ? STEP_BIASES : 0;
			continue;
		}
		if (!(strcmp(name, "regularization") == 0 ||
			  (is_als && (strcmp(name, "mean") == 0 ||
						  strcmp(name, "bias_regularization") == 0)) ||
			  (!is_als && strcmp(name, "alpha") == 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for %s", name, kind_name(st->kind)),
					 errhint("Valid options: %s.", valid)));
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of %s must be a number", name, kind_name(st->kind))));
		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											   NumericGetDatum(v.val.numeric)));
		if (strcmp(name, "mean") == 0)
		{
			if (!isfinite(d))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"mean\" of %s must be finite", kind_name(st->kind))));
			st->mu = d;
			continue;
		}
		if (!(d >= 0.0 && d <= 1e6))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of %s must be between 0 and 1e6, not %g",
							name, kind_name(st->kind), d)));
		if (strcmp(name, "regularization") == 0)
			st->lambda = d;
		else if (strcmp(name, "bias_regularization") == 0)
			st->lambda_b = d;
		else
			st->alpha = d;
	}
}

/*
 * A += sum_j w_j v_j v_j^T on the packed upper triangle (n x n), for nr
 * rows v_j (row-major, n each): each row of A is walked once, by every
 * v_j in turn, while it is in cache.
 */
static void
packed_add_rows(double *a, const double *rows, const double *w, int nr, int n)
{
	for (int r = 0; r < n; r++)
	{
		for (int j = 0; j < nr; j++)
		{
			const double *v = rows + (size_t) j * n;
			double		wr = w[j] * v[r];

			for (int c = r; c < n; c++)
				a[c - r] += wr * v[c];
		}
		a += n - r;
	}
}

/* the rows a state holds added to its sums */
static void
flush_held(StepState *st)
{
	if (st->nbuf < 0 || st->nbuf > STEP_BUF)
		elog(ERROR, "recsys: a step state holding %d rows", st->nbuf);
	packed_add_rows(st->data, held_rows(st), held_weights(st), st->nbuf,
					step_order(st->kind, st->dim));
	st->nbuf = 0;
}

/* adds w v v^T to a state's sums: held, and added a block at a time */
static inline void
hold_row(StepState *st, const double *v, double w)
{
	int			n = step_order(st->kind, st->dim);

	memcpy(held_rows(st) + (size_t) st->nbuf * n, v, sizeof(double) * n);
	held_weights(st)[st->nbuf] = w;
	if (++st->nbuf == STEP_BUF)
		flush_held(st);
}

/* a copy of a state with its held rows added (final and output functions) */
static StepState *
flushed_copy(const StepState *st)
{
	StepState  *c = palloc(VARSIZE(st));

	memcpy(c, st, VARSIZE(st));
	flush_held(c);
	return c;
}

/*
 * What a transition function remembers between rows (fn_extra): the last
 * options it read, as given and as parameters, and the last Gram matrix.
 * Each row's options must equal those of its group's first row: a row
 * whose options are the same bytes as the last costs a comparison, other
 * bytes are read and their parameters compared.  (A group whose rows
 * disagreed would otherwise solve with whichever row came first, and a
 * parallel plan would refuse to combine it.)
 */
typedef struct StepRowCache
{
	Jsonb	   *options;		/* a copy of the last options given, or NULL */
	StepState  *params;			/* their parameters (the header alone) */
	Datum		gram;			/* the last Gram argument, as a pointer */
} StepRowCache;

static StepRowCache *
row_cache(FunctionCallInfo fcinfo)
{
	StepRowCache *c = (StepRowCache *) fcinfo->flinfo->fn_extra;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(StepRowCache));
		c->params = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, STEP_HEADER_SIZE);
		fcinfo->flinfo->fn_extra = c;
	}
	return c;
}

static bool
same_params(const StepState *a, const StepState *b)
{
	return a->flags == b->flags &&
		memcmp(&a->lambda, &b->lambda, sizeof(double) * STEP_NPARAMS) == 0;
}

/* the parameters of this row's options, which must be the group's */
static void
check_row_options(FunctionCallInfo fcinfo, const StepState *st, int options_arg)
{
	StepRowCache *c = row_cache(fcinfo);
	Jsonb	   *o = PG_ARGISNULL(options_arg) ? NULL : PG_GETARG_JSONB_P(options_arg);

	if (!(o == NULL ? c->options == NULL && c->params->kind == st->kind :
		  c->options != NULL && VARSIZE(o) == VARSIZE(c->options) &&
		  memcmp(o, c->options, VARSIZE(o)) == 0))
	{
		/* other bytes: read them */
		memset(c->params, 0, STEP_HEADER_SIZE);
		c->params->kind = st->kind;
		c->params->dim = st->dim;
		read_step_options(c->params, o);
		if (c->options)
			pfree(c->options);
		c->options = NULL;
		if (o)
		{
			c->options = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE(o));
			memcpy(c->options, o, VARSIZE(o));
		}
	}
	if (!same_params(c->params, st))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the rows of one group pass different options to %s", kind_name(st->kind)),
				 errhint("Every row of a group must pass the same options.")));
}

/*
 * A factor vector argument read in place (a short varlena header is not
 * copied away): its dimension, and its elements as doubles into v.  The
 * layout is embedding.h's: dim, flags, then the float4 elements, which a
 * short header leaves unaligned (hence memcpy).
 */
static int
read_factors(FunctionCallInfo fcinfo, int arg, double *v)
{
	struct varlena *raw = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(arg));
	const char *p = VARDATA_ANY(raw);
	uint16		dim;

	if (VARSIZE_ANY_EXHDR(raw) < offsetof(Embedding, x) - VARHDRSZ)
		elog(ERROR, "recsys: an embedding too short to read");
	memcpy(&dim, p, sizeof(uint16));
	if (dim < 1 || dim > STEP_MAX_DIM ||
		VARSIZE_ANY_EXHDR(raw) < offsetof(Embedding, x) - VARHDRSZ + sizeof(float4) * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor vectors of %d dimensions cannot be solved for", (int) dim),
				 errhint("A training step takes 1 to %d factors.", STEP_MAX_DIM)));
	p += offsetof(Embedding, x) - VARHDRSZ;
	for (int j = 0; j < dim; j++)
	{
		float4		f;

		memcpy(&f, p + sizeof(float4) * j, sizeof(float4));
		v[j] = f;
	}
	return dim;
}

/*
 * The state argument, writable when it is the aggregate's own copy.  Its
 * size is checked against its kind and dimension before anything reads
 * it: a state can come from a table (an aggregate without a final
 * function stores it), and the rows it holds are read by position.
 */
static StepState *
state_arg(FunctionCallInfo fcinfo, int n)
{
	StepState  *st;

	if (PG_ARGISNULL(n))
		return NULL;
	st = (StepState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n));
	if (VARSIZE(st) < STEP_HEADER_SIZE ||
		(st->kind != STEP_ALS && st->kind != STEP_IALS && st->kind != STEP_GRAM) ||
		st->dim < 1 || st->dim > STEP_MAX_DIM || st->nbuf < 0 || st->nbuf >= STEP_BUF ||
		VARSIZE(st) != STEP_HEADER_SIZE + sizeof(double) *
		(step_ndata(st->kind, st->dim) + (int64) STEP_BUF * (step_order(st->kind, st->dim) + 1)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid recsys.step_state of %u bytes", (unsigned) VARSIZE(st))));
	return st;
}

/*
 * The state to add a row to: created in the aggregate's context on the
 * first row (options read then), else the one passed in.  A detoasted
 * copy is fine to change: the executor keeps whatever is returned.
 */
static StepState *
state_for_row(FunctionCallInfo fcinfo, int kind, int dim, int options_arg)
{
	MemoryContext cxt = rs_agg_context(fcinfo, kind_name(kind));
	StepState  *st = state_arg(fcinfo, 0);

	if (st == NULL)
	{
		check_dim(dim);
		st = step_alloc(cxt, kind, dim);
		if (options_arg >= 0)
			read_step_options(st, PG_ARGISNULL(options_arg) ? NULL :
							  PG_GETARG_JSONB_P(options_arg));
	}
	else if (st->kind != kind)
		elog(ERROR, "%s: a state of another aggregate", kind_name(kind));
	else
		embedding_check_same_dim(st->dim, dim);
	if (options_arg >= 0)
		check_row_options(fcinfo, st, options_arg);
	return st;
}

/* als_step_accum(state, factors embedding, bias real, rating float8, options jsonb) */
PG_FUNCTION_INFO_V1(rs_als_step_accum);
Datum
rs_als_step_accum(PG_FUNCTION_ARGS)
{
	StepState  *st;
	double		bias;
	double		t;
	double		v[STEP_MAX_DIM + 1];
	int			k;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(3))
	{
		(void) rs_agg_context(fcinfo, kind_name(STEP_ALS));
		RS_RETURN_STATE(state_arg(fcinfo, 0));
	}
	k = read_factors(fcinfo, 1, v);
	st = state_for_row(fcinfo, STEP_ALS, k, 4);
	bias = PG_ARGISNULL(2) ? 0.0 : PG_GETARG_FLOAT4(2);
	t = PG_GETARG_FLOAT8(3) - st->mu - bias;
	if (!isfinite(t))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("a rating of recsys.als_step is not finite once the mean and the bias are taken off")));
	v[k] = 1.0;
	hold_row(st, v, 1.0);
	{
		double	   *b = st->data + packed_size(k + 1);

		for (int j = 0; j <= k; j++)
			b[j] += t * v[j];
	}
	st->count++;
	PG_RETURN_POINTER(st);
}

/* ials_step_accum(state, factors embedding, value float8, gram float8[], options jsonb) */
PG_FUNCTION_INFO_V1(rs_ials_step_accum);
Datum
rs_ials_step_accum(PG_FUNCTION_ARGS)
{
	StepState  *st;
	double		r;
	double		c1;
	double		v[STEP_MAX_DIM];
	int			k;
	bool		first;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		(void) rs_agg_context(fcinfo, kind_name(STEP_IALS));
		RS_RETURN_STATE(state_arg(fcinfo, 0));
	}
	k = read_factors(fcinfo, 1, v);
	first = PG_ARGISNULL(0);
	st = state_for_row(fcinfo, STEP_IALS, k, 4);
	if (first)
	{
		/* Y^T Y, once: its upper triangle after A and b */
		ArrayType  *g;
		double	   *gram;
		int			n;
		double	   *dst = st->data + packed_size(k) + k;

		if (PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("recsys.ials_step needs the other side's Gram matrix"),
					 errhint("Pass (SELECT recsys.gram(factors) FROM <the other side's factors>).")));
		g = PG_GETARG_ARRAYTYPE_P(3);
		n = ArrayGetNItems(ARR_NDIM(g), ARR_DIMS(g));
		if (ARR_ELEMTYPE(g) != FLOAT8OID || ARR_HASNULL(g) || n != k * k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the Gram matrix of recsys.ials_step must have %d elements without NULLs, not %d",
							k * k, n),
					 errhint("Pass recsys.gram() of the other side's %d-dimensional factors.", k)));
		gram = (double *) ARR_DATA_PTR(g);
		for (int a = 0; a < k; a++)
			for (int b = a; b < k; b++)
			{
				if (!isfinite(gram[a * k + b]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("the Gram matrix of recsys.ials_step is not finite")));
				*dst++ = gram[a * k + b];
			}
	}
	else
	{
		/*
		 * Every row's Gram matrix must be the group's.  Its first row and
		 * its diagonal are compared on every row (2k numbers: the rows of
		 * groups interleave when they are hashed, and a matrix built per
		 * row may land where the last one was); the whole of it when the
		 * argument is another value than the last row's.
		 */
		ArrayType  *g = PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3);
		const double *mine = st->data + packed_size(k) + k;
		bool		whole = PG_ARGISNULL(3) || PG_GETARG_DATUM(3) != row_cache(fcinfo)->gram;
		bool		same = g != NULL && ARR_ELEMTYPE(g) == FLOAT8OID && !ARR_HASNULL(g) &&
			ArrayGetNItems(ARR_NDIM(g), ARR_DIMS(g)) == k * k;

		for (int a = 0; same && a < k; a++)
		{
			const double *ga = (double *) ARR_DATA_PTR(g) + (size_t) a * k;

			if (whole || a == 0)
				for (int b = a; same && b < k; b++)
					same = ga[b] == mine[b - a];
			else
				same = ga[a] == mine[0];
			mine += k - a;
		}
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the rows of one group pass different Gram matrices to recsys.ials_step"),
					 errhint("Pass one Gram matrix to every row: (SELECT recsys.gram(factors) FROM <the other side's factors>).")));
	}
	row_cache(fcinfo)->gram = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	r = PG_GETARG_FLOAT8(2);
	if (!(r >= 0.0) || !isfinite(r))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recsys.ials_step takes values that are finite and not negative, not %g", r),
				 errhint("Implicit feedback counts interactions: clicks, plays, purchases.")));
	c1 = st->alpha * r;
	hold_row(st, v, c1);
	{
		double	   *b = st->data + packed_size(k);

		for (int j = 0; j < k; j++)
			b[j] += (1.0 + c1) * v[j];
	}
	st->count++;
	PG_RETURN_POINTER(st);
}

/* gram_accum(state, factors embedding) */
PG_FUNCTION_INFO_V1(rs_gram_accum);
Datum
rs_gram_accum(PG_FUNCTION_ARGS)
{
	StepState  *st;
	double		v[STEP_MAX_DIM];

	if (PG_ARGISNULL(1))
	{
		(void) rs_agg_context(fcinfo, kind_name(STEP_GRAM));
		RS_RETURN_STATE(state_arg(fcinfo, 0));
	}
	st = state_for_row(fcinfo, STEP_GRAM, read_factors(fcinfo, 1, v), -1);
	hold_row(st, v, 1.0);
	st->count++;
	PG_RETURN_POINTER(st);
}

/*
 * step_combine(a, b): the sums of two partial states of the same step.
 * Strict: the executor keeps a lone state as it is.
 */
PG_FUNCTION_INFO_V1(rs_step_combine);
Datum
rs_step_combine(PG_FUNCTION_ARGS)
{
	StepState  *a = state_arg(fcinfo, 0);
	StepState  *b = state_arg(fcinfo, 1);
	int64		nsum;
	int64		nall;

	(void) rs_agg_context(fcinfo, "recsys.step_combine");
	if (a->kind != b->kind || a->dim != b->dim || a->flags != b->flags ||
		memcmp(&a->lambda, &b->lambda, sizeof(double) * STEP_NPARAMS) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine states of different training steps"),
				 errdetail("One is %s with %d factors, the other %s with %d, or their options differ.",
						   kind_name(a->kind), a->dim, kind_name(b->kind), b->dim),
				 errhint("Every row of a group must pass the same options.")));
	nall = step_ndata(a->kind, a->dim);
	nsum = a->kind == STEP_IALS ? nall - packed_size(a->dim) : nall;
	/* iALS: Y^T Y is the same in both, passed with every row */
	if (a->kind == STEP_IALS &&
		memcmp(a->data + nsum, b->data + nsum, sizeof(double) * (nall - nsum)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine recsys.ials_step states with different Gram matrices"),
				 errhint("Every row of a group must pass the same Gram matrix.")));
	/* a's held rows, then b's (b is not ours to change) */
	flush_held(a);
	if (b->nbuf < 0 || b->nbuf > STEP_BUF)
		elog(ERROR, "recsys: a step state holding %d rows", b->nbuf);
	packed_add_rows(a->data, held_rows(b), held_weights(b), b->nbuf,
					step_order(b->kind, b->dim));
	if (pg_add_s64_overflow(a->count, b->count, &a->count))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the combined states of %s count more than 2^63 rows", kind_name(a->kind))));
	for (int64 j = 0; j < nsum; j++)
		a->data[j] += b->data[j];
	PG_RETURN_POINTER(a);
}

/*
 * Solves a x = b for a symmetric positive definite n x n a (row-major,
 * overwritten by its Cholesky factor L, lower), b overwritten by x; false
 * if a is not positive definite.  Written out rather than LAPACK's: a
 * final function runs once per entity on systems of k + 1 unknowns, and
 * a multi-threaded BLAS would keep its threads spinning beside every
 * step (and in every parallel worker) for systems this small.
 */
static bool
cholesky_solve(double *a, double *b, int n)
{
	for (int j = 0; j < n; j++)
	{
		double	   *lj = a + (size_t) j * n;
		double		d = lj[j];

		for (int c = 0; c < j; c++)
			d -= lj[c] * lj[c];
		if (!(d > 0.0) || !isfinite(d))
			return false;
		d = sqrt(d);
		lj[j] = d;
		for (int i = j + 1; i < n; i++)
		{
			double	   *li = a + (size_t) i * n;
			double		v = li[j];

			for (int c = 0; c < j; c++)
				v -= li[c] * lj[c];
			li[j] = v / d;
		}
	}
	/* L y = b, then L^T x = y */
	for (int i = 0; i < n; i++)
	{
		const double *li = a + (size_t) i * n;
		double		v = b[i];

		for (int c = 0; c < i; c++)
			v -= li[c] * b[c];
		b[i] = v / li[i];
	}
	for (int i = n - 1; i >= 0; i--)
	{
		double		v = b[i];

		for (int r = i + 1; r < n; r++)
			v -= a[(size_t) r * n + i] * b[r];
		b[i] = v / a[(size_t) i * n + i];
	}
	return true;
}

/* the packed upper triangle of an n x n matrix, unpacked to full row-major */
static void
unpack(const double *packed, double *full, int n)
{
	for (int r = 0; r < n; r++)
		for (int c = r; c < n; c++)
		{
			full[r * n + c] = *packed;
			full[c * n + r] = *packed++;
		}
}

/*
 * step_final(state) -> recsys.step_result (factors, bias, interactions):
 * the entity's solution.
 */
PG_FUNCTION_INFO_V1(rs_step_final);
Datum
rs_step_final(PG_FUNCTION_ARGS)
{
	StepState  *st = state_arg(fcinfo, 0);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			k;
	int			n;
	double	   *a;
	double	   *x;
	Embedding  *e;

	if (st == NULL)
		PG_RETURN_NULL();
	if (st->kind == STEP_GRAM)
		elog(ERROR, "recsys.step_final: a state of recsys.gram");
	/* (a final function does not change its state: a copy takes the rows held) */
	st = flushed_copy(st);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "recsys.step_final must return a row");
	tupdesc = BlessTupleDesc(tupdesc);
	k = st->dim;
	n = step_order(st->kind, k);
	a = palloc(sizeof(double) * n * n);
	x = palloc(sizeof(double) * n);
	unpack(st->data, a, n);
	memcpy(x, st->data + packed_size(n), sizeof(double) * n);
	if (st->kind == STEP_ALS)
	{
		double		w = (double) st->count;

		for (int j = 0; j < k; j++)
			a[j * n + j] += st->lambda * w;
		a[k * n + k] += st->lambda_b * w;
		if (!(st->flags & STEP_BIASES))
		{
			/* the k x k system alone: the bias row of the identity, b = 0 */
			for (int j = 0; j < k; j++)
				a[j * n + k] = a[k * n + j] = 0.0;
			a[k * n + k] = 1.0;
			x[k] = 0.0;
		}
	}
	else
	{
		/* + Y^T Y + lambda I */
		double	   *g = palloc(sizeof(double) * k * k);

		unpack(st->data + packed_size(k) + k, g, k);
		for (int j = 0; j < k * k; j++)
			a[j] += g[j];
		for (int j = 0; j < k; j++)
			a[j * k + j] += st->lambda;
	}
	if (!cholesky_solve(a, x, n))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the system of %s is not positive definite", kind_name(st->kind)),
				 errdetail("It has %d unknowns and " INT64_FORMAT " rows.", n, st->count),
				 errhint("Give a positive \"regularization\".")));
	e = embedding_alloc(k);
	for (int j = 0; j < k; j++)
	{
		e->x[j] = (float4) x[j];
		embedding_check_element(e->x[j]);
	}
	values[0] = PointerGetDatum(e);
	if (st->kind == STEP_ALS)
		values[1] = Float4GetDatum((float4) x[k]);
	else
		nulls[1] = true;
	values[2] = Int64GetDatum(st->count);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* gram_final(state) -> float8[] of k * k, row-major */
PG_FUNCTION_INFO_V1(rs_gram_final);
Datum
rs_gram_final(PG_FUNCTION_ARGS)
{
	StepState  *st = state_arg(fcinfo, 0);
	int			k;
	double	   *g;
	Datum	   *d;

	if (st == NULL)
		PG_RETURN_NULL();
	if (st->kind != STEP_GRAM)
		elog(ERROR, "recsys.gram_final: a state of %s", kind_name(st->kind));
	st = flushed_copy(st);
	k = st->dim;
	g = palloc(sizeof(double) * k * k);
	d = palloc(sizeof(Datum) * k * k);
	unpack(st->data, g, k);
	for (int j = 0; j < k * k; j++)
		d[j] = Float8GetDatum(g[j]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, k * k, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 *		The type: binary and text forms
 */

/* a state from its binary form, every size checked */
static StepState *
step_from_buf(StringInfo buf)
{
	int			kind = (int16) pq_getmsgint(buf, 2);
	int			dim = (int16) pq_getmsgint(buf, 2);
	int			flags = (int32) pq_getmsgint(buf, 4);
	int64		count = pq_getmsgint64(buf);
	int64		ndata;
	StepState  *st;

	if (kind != STEP_ALS && kind != STEP_IALS && kind != STEP_GRAM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid recsys.step_state: unknown kind %d", kind)));
	if (dim < 1 || dim > STEP_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid recsys.step_state: %d factors", dim)));
	if ((flags & ~STEP_BIASES) != 0 || (kind != STEP_ALS && flags != 0) || count < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid recsys.step_state: flags %d, count " INT64_FORMAT, flags, count)));
	ndata = step_ndata(kind, dim);
	if ((int64) (buf->len - buf->cursor) != (STEP_NPARAMS + ndata) * 8)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid recsys.step_state: %d bytes of numbers, expected " INT64_FORMAT,
						buf->len - buf->cursor, (STEP_NPARAMS + ndata) * 8)));
	st = step_alloc(CurrentMemoryContext, kind, dim);
	st->flags = flags;
	st->count = count;
	st->lambda = pq_getmsgfloat8(buf);
	st->lambda_b = pq_getmsgfloat8(buf);
	st->alpha = pq_getmsgfloat8(buf);
	st->mu = pq_getmsgfloat8(buf);
	for (int64 j = 0; j < ndata; j++)
		st->data[j] = pq_getmsgfloat8(buf);
	pq_getmsgend(buf);
	/* the parameters as the options allow them */
	if (!(st->lambda >= 0.0 && st->lambda <= 1e6) || !(st->lambda_b >= 0.0 && st->lambda_b <= 1e6) ||
		!(st->alpha >= 0.0 && st->alpha <= 1e6) || !isfinite(st->mu))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid recsys.step_state: parameters %g, %g, %g, %g out of range",
						st->lambda, st->lambda_b, st->alpha, st->mu)));
	return st;
}

static bytea *
step_to_bytea(const StepState *st)
{
	StringInfoData buf;
	int64		ndata = step_ndata(st->kind, st->dim);

	if (st->nbuf != 0)
		st = flushed_copy(st);

	pq_begintypsend(&buf);
	pq_sendint16(&buf, st->kind);
	pq_sendint16(&buf, st->dim);
	pq_sendint32(&buf, st->flags);
	pq_sendint64(&buf, st->count);
	pq_sendfloat8(&buf, st->lambda);
	pq_sendfloat8(&buf, st->lambda_b);
	pq_sendfloat8(&buf, st->alpha);
	pq_sendfloat8(&buf, st->mu);
	for (int64 j = 0; j < ndata; j++)
		pq_sendfloat8(&buf, st->data[j]);
	return pq_endtypsend(&buf);
}

PG_FUNCTION_INFO_V1(rs_step_state_recv);
Datum
rs_step_state_recv(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(step_from_buf((StringInfo) PG_GETARG_POINTER(0)));
}

PG_FUNCTION_INFO_V1(rs_step_state_send);
Datum
rs_step_state_send(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(step_to_bytea(state_arg(fcinfo, 0)));
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* text form: the binary form in hex */
PG_FUNCTION_INFO_V1(rs_step_state_in);
Datum
rs_step_state_in(PG_FUNCTION_ARGS)
{
	const char *s = PG_GETARG_CSTRING(0);
	size_t		len = strlen(s);
	StringInfoData buf;

	if (len % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type recsys.step_state"),
				 errdetail("The text form is an even number of hexadecimal digits.")));
	initStringInfo(&buf);
	for (size_t j = 0; j < len; j += 2)
	{
		int			hi = hex_digit(s[j]);
		int			lo = hex_digit(s[j + 1]);

		if (hi < 0 || lo < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type recsys.step_state"),
					 errdetail("\"%c%c\" is not a hexadecimal byte.", s[j], s[j + 1])));
		appendStringInfoChar(&buf, (char) (hi * 16 + lo));
	}
	PG_RETURN_POINTER(step_from_buf(&buf));
}

PG_FUNCTION_INFO_V1(rs_step_state_out);
Datum
rs_step_state_out(PG_FUNCTION_ARGS)
{
	bytea	   *b = step_to_bytea(state_arg(fcinfo, 0));
	const unsigned char *p = (const unsigned char *) VARDATA(b);
	int			len = VARSIZE(b) - VARHDRSZ;
	char	   *out = palloc((Size) len * 2 + 1);
	static const char digits[] = "0123456789abcdef";

	for (int j = 0; j < len; j++)
	{
		out[2 * j] = digits[p[j] >> 4];
		out[2 * j + 1] = digits[p[j] & 15];
	}
	out[2 * len] = '\0';
	PG_RETURN_CSTRING(out);
}
