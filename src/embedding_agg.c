/*-------------------------------------------------------------------------
 *
 * embedding_agg.c
 *	  sum(embedding) and avg(embedding), parallel-safe.
 *
 * The transition state is a running count and a double-precision sum per
 * dimension, so that averaging millions of float4 vectors loses nothing
 * to rounding.  Combine, serialise and deserialise functions let the
 * planner split the work over parallel workers (and, later, shards).
 *
 *-------------------------------------------------------------------------
 */
#include "embedding.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"

typedef struct EmbeddingAggState
{
	int64		n;				/* number of non-NULL inputs */
	int			dim;
	double		sum[FLEXIBLE_ARRAY_MEMBER];
} EmbeddingAggState;

static EmbeddingAggState *
agg_state_new(MemoryContext cxt, int dim)
{
	EmbeddingAggState *st;

	st = MemoryContextAllocZero(cxt, offsetof(EmbeddingAggState, sum) +
								sizeof(double) * dim);
	st->dim = dim;
	return st;
}

PG_FUNCTION_INFO_V1(embedding_accum);
Datum
embedding_accum(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = rs_agg_context(fcinfo, "embedding_accum");
	EmbeddingAggState *st = rs_agg_state_arg(fcinfo, 0);
	Embedding  *e;

	if (PG_ARGISNULL(1))
		RS_RETURN_STATE(st);
	e = PG_GETARG_EMBEDDING(1);

	if (st == NULL)
		st = agg_state_new(cxt, e->dim);
	else
		embedding_check_same_dim(st->dim, e->dim);

	for (int i = 0; i < e->dim; i++)
		st->sum[i] += e->x[i];
	st->n++;
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(embedding_combine);
Datum
embedding_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = rs_agg_context(fcinfo, "embedding_combine");
	EmbeddingAggState *a = rs_agg_state_arg(fcinfo, 0);
	EmbeddingAggState *b = rs_agg_state_arg(fcinfo, 1);

	if (b == NULL)
		RS_RETURN_STATE(a);
	if (a == NULL)
	{
		/* The result must live in the aggregate context, not b's. */
		a = agg_state_new(cxt, b->dim);
		a->n = b->n;
		memcpy(a->sum, b->sum, sizeof(double) * b->dim);
		PG_RETURN_POINTER(a);
	}

	embedding_check_same_dim(a->dim, b->dim);
	for (int i = 0; i < a->dim; i++)
		a->sum[i] += b->sum[i];
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

/* Wire form: int64 n, int32 dim, then dim float8 sums. */
PG_FUNCTION_INFO_V1(embedding_agg_serialize);
Datum
embedding_agg_serialize(PG_FUNCTION_ARGS)
{
	EmbeddingAggState *st = (EmbeddingAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	(void) rs_agg_context(fcinfo, "embedding_agg_serialize");
	pq_begintypsend(&buf);
	pq_sendint64(&buf, st->n);
	pq_sendint32(&buf, st->dim);
	for (int i = 0; i < st->dim; i++)
		pq_sendfloat8(&buf, st->sum[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(embedding_agg_deserialize);
Datum
embedding_agg_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = rs_agg_context(fcinfo, "embedding_agg_deserialize");
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	EmbeddingAggState *st;
	int64		n;
	int			dim;

	rs_bytea_reader(&buf, b);
	n = pq_getmsgint64(&buf);
	dim = pq_getmsgint(&buf, 4);
	embedding_check_dim(dim);
	st = agg_state_new(cxt, dim);
	st->n = n;
	for (int i = 0; i < dim; i++)
		st->sum[i] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/* Narrows the double sums (divided by divisor) to a checked embedding. */
static Embedding *
agg_result(EmbeddingAggState *st, double divisor, const char *what)
{
	Embedding  *r = embedding_alloc(st->dim);

	for (int i = 0; i < st->dim; i++)
	{
		double		v = st->sum[i] / divisor;

		if (v > FLT_MAX || v < -FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow in embedding %s", what),
					 errdetail("Element %d of the result exceeds the float4 range.", i + 1)));
		r->x[i] = (float4) v;
	}
	return r;
}

/* sum() or avg(): NULL when no non-NULL row was aggregated */
static Datum
agg_final(FunctionCallInfo fcinfo, bool average)
{
	EmbeddingAggState *st = rs_agg_state_arg(fcinfo, 0);

	if (st == NULL || st->n == 0)
		PG_RETURN_NULL();
	if (average)
		PG_RETURN_EMBEDDING(agg_result(st, (double) st->n, "average"));
	PG_RETURN_EMBEDDING(agg_result(st, 1.0, "sum"));
}

PG_FUNCTION_INFO_V1(embedding_sum_final);
Datum
embedding_sum_final(PG_FUNCTION_ARGS)
{
	return agg_final(fcinfo, false);
}

PG_FUNCTION_INFO_V1(embedding_avg_final);
Datum
embedding_avg_final(PG_FUNCTION_ARGS)
{
	return agg_final(fcinfo, true);
}
