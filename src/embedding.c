/*-------------------------------------------------------------------------
 *
 * embedding.c
 *	  The recsys.embedding type: text and binary I/O, the typmod, casts to
 *	  and from arrays, arithmetic, distances, and btree/hash support.
 *
 * Text form is "[1,2,3]"; output uses the shortest decimal that reads back
 * to the same float4, so text round-trips exactly.  Binary form is
 * int16 dim, int16 flags (0), then dim float4s in network order.
 *
 *-------------------------------------------------------------------------
 */
#include "embedding.h"
#include "core/embedding_parse.h"

#include <errno.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

/* Allocates a zeroed embedding of the given dimension (already checked). */
Embedding *
embedding_alloc(int dim)
{
	Size		size = EMBEDDING_SIZE(dim);
	Embedding  *e = (Embedding *) palloc0(size);

	SET_VARSIZE(e, size);
	e->dim = dim;
	return e;
}

/* A typmod of -1 means "any dimension". */
static void
embedding_check_typmod(int dim, int32 typmod)
{
	if (typmod != -1 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected %d dimensions, not %d", typmod, dim),
				 errhint("The column or cast is declared as embedding(%d).", typmod)));
}

static void
check_finite_scalar(float8 v)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN is not allowed as an embedding scalar")));
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("infinite scalar is not allowed with an embedding")));
}

/* ----------------------------------------------------------------
 *		Text I/O
 * ----------------------------------------------------------------
 */

static void
syntax_error(const char *input, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type embedding: \"%s\"", input),
			 errhint("%s", hint)));
}

static float *
grow_floats(void *ctx, float *buf, size_t n)
{
	(void) ctx;
	return repalloc(buf, sizeof(float4) * n);
}

/* The parsing itself is plain C in embedding_parse.c (also fuzzed). */
PG_FUNCTION_INFO_V1(embedding_in);
Datum
embedding_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			cap = 16;
	float4	   *buf = palloc(sizeof(float4) * cap);
	int			dim;
	const char *bad;
	int			bad_len;
	Embedding  *result;

	switch (rs_embedding_parse(input, EMBEDDING_MAX_DIM, &buf, &cap, &dim,
							   grow_floats, NULL, &bad, &bad_len))
	{
		case RS_EP_OK:
			break;
		case RS_EP_NO_BRACKET:
			syntax_error(input, "An embedding is written as a bracketed list, like [1,2,3].");
			break;
		case RS_EP_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("embedding must have at least 1 dimension"),
					 errhint("Write at least one element, like [0].")));
			break;
		case RS_EP_NOT_A_NUMBER:
			syntax_error(input, "Each element must be a number; elements are separated by commas.");
			break;
		case RS_EP_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%.*s\" is out of range for an embedding element",
							bad_len, bad),
					 errhint("Elements must be finite float4 values.")));
			break;
		case RS_EP_NAN:
			embedding_check_element(get_float4_nan());
			break;
		case RS_EP_INFINITE:
			embedding_check_element(get_float4_infinity());
			break;
		case RS_EP_TOO_MANY:
			embedding_check_dim(EMBEDDING_MAX_DIM + 1);
			break;
		case RS_EP_UNCLOSED:
			syntax_error(input, "The closing bracket is missing.");
			break;
		case RS_EP_NO_COMMA:
			syntax_error(input, "Elements are separated by commas.");
			break;
		case RS_EP_TRAILING:
			syntax_error(input, "Nothing may follow the closing bracket.");
			break;
	}

	embedding_check_typmod(dim, typmod);

	result = embedding_alloc(dim);
	memcpy(result->x, buf, sizeof(float4) * dim);
	pfree(buf);
	PG_RETURN_EMBEDDING(result);
}

PG_FUNCTION_INFO_V1(embedding_out);
Datum
embedding_out(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING(0);
	StringInfoData s;

	/* Each element: at most FLOAT_SHORTEST_DECIMAL_LEN - 1 chars plus a comma. */
	initStringInfo(&s);
	enlargeStringInfo(&s, e->dim * FLOAT_SHORTEST_DECIMAL_LEN + 2);
	appendStringInfoChar(&s, '[');
	for (int i = 0; i < e->dim; i++)
	{
		if (i > 0)
			s.data[s.len++] = ',';
		s.len += float_to_shortest_decimal_bufn(e->x[i], s.data + s.len);
	}
	s.data[s.len++] = ']';
	s.data[s.len] = '\0';

	PG_FREE_IF_COPY(e, 0);
	PG_RETURN_CSTRING(s.data);
}

/* ----------------------------------------------------------------
 *		Type modifier: embedding(n)
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(embedding_typmod_in);
Datum
embedding_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier for embedding"),
				 errhint("Give exactly one dimension count, like embedding(64).")));
	if (tl[0] < 1 || tl[0] > EMBEDDING_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embedding dimensions must be between 1 and %d, not %d",
						EMBEDDING_MAX_DIM, tl[0])));
	PG_RETURN_INT32(tl[0]);
}

PG_FUNCTION_INFO_V1(embedding_typmod_out);
Datum
embedding_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/* Length coercion: applied on assignment to an embedding(n) column. */
PG_FUNCTION_INFO_V1(embedding_coerce);
Datum
embedding_coerce(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING(0);

	embedding_check_typmod(e->dim, PG_GETARG_INT32(1));
	PG_RETURN_EMBEDDING(e);
}

/* ----------------------------------------------------------------
 *		Binary I/O
 * ----------------------------------------------------------------
 */

static void
binary_error(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary representation of an embedding"),
			 errdetail("%s", detail),
			 errhint("The binary form is int16 dimensions, int16 flags (0), then that many float4 values.")));
}

PG_FUNCTION_INFO_V1(embedding_recv);
Datum
embedding_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	int			flags;
	Embedding  *result;

	if (buf->len - buf->cursor < 4)
		binary_error("The header is truncated.");
	dim = (int16) pq_getmsgint(buf, 2);
	flags = pq_getmsgint(buf, 2);
	if (dim < 1 || dim > EMBEDDING_MAX_DIM)
		binary_error(psprintf("The dimension count %d is outside 1..%d.",
							  dim, EMBEDDING_MAX_DIM));
	if (flags != 0)
		binary_error(psprintf("The flags field is %d, not 0.", flags));
	if (buf->len - buf->cursor != (int) sizeof(float4) * dim)
		binary_error(psprintf("Expected %d bytes of elements, found %d.",
							  (int) sizeof(float4) * dim, buf->len - buf->cursor));
	embedding_check_typmod(dim, typmod);

	result = embedding_alloc(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		embedding_check_element(result->x[i]);
	}
	PG_RETURN_EMBEDDING(result);
}

PG_FUNCTION_INFO_V1(embedding_send);
Datum
embedding_send(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, e->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < e->dim; i++)
		pq_sendfloat4(&buf, e->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------
 *		Casts to and from arrays
 * ----------------------------------------------------------------
 */

/*
 * One function for real[], double precision[], integer[] and numeric[]
 * inputs: the element type is read from the array itself.
 */
PG_FUNCTION_INFO_V1(array_to_embedding);
Datum
array_to_embedding(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Embedding  *result;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("array must be one-dimensional to become an embedding")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	embedding_check_dim(n);
	embedding_check_typmod(n, typmod);

	result = embedding_alloc(n);
	for (int i = 0; i < n; i++)
	{
		double		v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array must not contain nulls to become an embedding"),
					 errdetail("Element %d is NULL.", i + 1)));
		switch (elemtype)
		{
			case FLOAT4OID:
				v = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				v = DatumGetFloat8(elems[i]);
				break;
			case INT4OID:
				v = DatumGetInt32(elems[i]);
				break;
			case NUMERICOID:
				v = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   elems[i]));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("cannot cast an array of %s to embedding",
								format_type_be(elemtype))));
				v = 0;			/* keep compiler quiet */
		}
		/* Check the float4 value: a finite double may overflow float4. */
		if (!isnan(v) && !isinf(v) && (v > FLT_MAX || v < -FLT_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value %g is out of range for an embedding element", v),
					 errdetail("Element %d overflows float4.", i + 1)));
		result->x[i] = (float4) v;
		embedding_check_element(result->x[i]);
	}
	PG_RETURN_EMBEDDING(result);
}

/* The elements as real[] (as_float8: as double precision[]). */
static ArrayType *
embedding_to_array(const Embedding *e, bool as_float8)
{
	Datum	   *d = palloc(sizeof(Datum) * e->dim);

	for (int i = 0; i < e->dim; i++)
		d[i] = as_float8 ? Float8GetDatum((float8) e->x[i]) : Float4GetDatum(e->x[i]);
	if (as_float8)
		return construct_array(d, e->dim, FLOAT8OID, sizeof(float8),
							   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	return construct_array(d, e->dim, FLOAT4OID, sizeof(float4),
						   true, TYPALIGN_INT);
}

PG_FUNCTION_INFO_V1(embedding_to_float4_array);
Datum
embedding_to_float4_array(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(embedding_to_array(PG_GETARG_EMBEDDING(0), false));
}

PG_FUNCTION_INFO_V1(embedding_to_float8_array);
Datum
embedding_to_float8_array(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(embedding_to_array(PG_GETARG_EMBEDDING(0), true));
}

/* ----------------------------------------------------------------
 *		Distances and similarities
 * ----------------------------------------------------------------
 */

/*
 * The float kernels of distance.c overflow to infinity when the sums pass
 * FLT_MAX (elements near the float4 limit); the SQL functions return
 * double precision, so they recompute such a case in double.
 */
static double
dot_double(const float *a, const float *b, int n)
{
	double		s = 0.0;

	for (int i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

static double
l2_squared_double(const float *a, const float *b, int n)
{
	double		s = 0.0;

	for (int i = 0; i < n; i++)
	{
		double		d = (double) a[i] - b[i];

		s += d * d;
	}
	return s;
}

static double
norm_double(const float *a, int n)
{
	double		s = (double) rs_norm_squared(a, n);

	return sqrt(isinf(s) ? dot_double(a, a, n) : s);
}

static double
cosine_similarity_double(const float *a, const float *b, int n)
{
	double		sim = rs_cosine_similarity(a, b, n);
	double		aa,
				bb;

	if (!isnan(sim))
		return sim;
	aa = dot_double(a, a, n);
	bb = dot_double(b, b, n);
	if (aa == 0.0 || bb == 0.0)
		return sim;				/* a zero vector: undefined, NaN */
	sim = dot_double(a, b, n) / sqrt(aa * bb);
	return Max(-1.0, Min(1.0, sim));
}

PG_FUNCTION_INFO_V1(embedding_l2_distance);
Datum
embedding_l2_distance(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING(0);
	Embedding  *b = PG_GETARG_EMBEDDING(1);

	double		d;

	embedding_check_same_dim(a->dim, b->dim);
	d = (double) rs_l2_squared(a->x, b->x, a->dim);
	if (isinf(d))
		d = l2_squared_double(a->x, b->x, a->dim);
	PG_RETURN_FLOAT8(sqrt(d));
}

/* a . b, summed in float, again in double when that overflows */
static double
inner_product(const Embedding *a, const Embedding *b)
{
	double		d;

	embedding_check_same_dim(a->dim, b->dim);
	d = (double) rs_dot(a->x, b->x, a->dim);
	return isinf(d) ? dot_double(a->x, b->x, a->dim) : d;
}

static double
cosine_similarity(const Embedding *a, const Embedding *b)
{
	embedding_check_same_dim(a->dim, b->dim);
	return cosine_similarity_double(a->x, b->x, a->dim);
}

PG_FUNCTION_INFO_V1(embedding_inner_product);
Datum
embedding_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(inner_product(PG_GETARG_EMBEDDING(0), PG_GETARG_EMBEDDING(1)));
}

/* <#>: negated so that ORDER BY ... ASC puts the largest product first. */
PG_FUNCTION_INFO_V1(embedding_negative_inner_product);
Datum
embedding_negative_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-inner_product(PG_GETARG_EMBEDDING(0), PG_GETARG_EMBEDDING(1)));
}

PG_FUNCTION_INFO_V1(embedding_cosine_similarity);
Datum
embedding_cosine_similarity(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(cosine_similarity(PG_GETARG_EMBEDDING(0), PG_GETARG_EMBEDDING(1)));
}

PG_FUNCTION_INFO_V1(embedding_cosine_distance);
Datum
embedding_cosine_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(1.0 - cosine_similarity(PG_GETARG_EMBEDDING(0), PG_GETARG_EMBEDDING(1)));
}

PG_FUNCTION_INFO_V1(embedding_dims);
Datum
embedding_dims(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING(0);

	PG_RETURN_INT32(e->dim);
}

PG_FUNCTION_INFO_V1(embedding_norm);
Datum
embedding_norm(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING(0);

	PG_RETURN_FLOAT8(norm_double(e->x, e->dim));
}

/* A zero vector has no direction; it is returned unchanged. */
PG_FUNCTION_INFO_V1(embedding_l2_normalize);
Datum
embedding_l2_normalize(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING(0);
	Embedding  *r = embedding_alloc(e->dim);
	double		norm = norm_double(e->x, e->dim);

	if (norm > 0.0)
	{
		for (int i = 0; i < e->dim; i++)
			r->x[i] = (float4) (e->x[i] / norm);
	}
	PG_RETURN_EMBEDDING(r);
}

/* ----------------------------------------------------------------
 *		Arithmetic
 * ----------------------------------------------------------------
 */

/*
 * a + sign * b element by element, sign 1 or -1 (a - b is exactly
 * a + (-b) in floating point); what names the operation in errors.
 */
static Embedding *
add_signed(const Embedding *a, const Embedding *b, float4 sign, const char *what)
{
	Embedding  *r;

	embedding_check_same_dim(a->dim, b->dim);
	r = embedding_alloc(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + sign * b->x[i];
	embedding_check_result(r, what);
	return r;
}

PG_FUNCTION_INFO_V1(embedding_add);
Datum
embedding_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBEDDING(add_signed(PG_GETARG_EMBEDDING(0), PG_GETARG_EMBEDDING(1),
								   1.0f, "addition"));
}

PG_FUNCTION_INFO_V1(embedding_sub);
Datum
embedding_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBEDDING(add_signed(PG_GETARG_EMBEDDING(0), PG_GETARG_EMBEDDING(1),
								   -1.0f, "subtraction"));
}

static Embedding *
scale(Embedding *e, float8 s)
{
	Embedding  *r;

	check_finite_scalar(s);
	r = embedding_alloc(e->dim);
	for (int i = 0; i < e->dim; i++)
	{
		double		v = e->x[i] * s;

		/* Checked before narrowing: a double beyond FLT_MAX has no float. */
		if (unlikely(v > FLT_MAX || v < -FLT_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow in embedding multiplication"),
					 errdetail("Element %d of the result is not finite.", i + 1)));
		r->x[i] = (float4) v;
	}
	return r;
}

PG_FUNCTION_INFO_V1(embedding_mul_scalar);
Datum
embedding_mul_scalar(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBEDDING(scale(PG_GETARG_EMBEDDING(0), PG_GETARG_FLOAT8(1)));
}

PG_FUNCTION_INFO_V1(scalar_mul_embedding);
Datum
scalar_mul_embedding(PG_FUNCTION_ARGS)
{
	PG_RETURN_EMBEDDING(scale(PG_GETARG_EMBEDDING(1), PG_GETARG_FLOAT8(0)));
}

/* ----------------------------------------------------------------
 *		Ordering, equality and hashing
 *
 * Embeddings order element by element, then by dimension count (a proper
 * prefix sorts first).  -0 and +0 are equal, so the hash folds them.
 * ----------------------------------------------------------------
 */

static int
embedding_compare(const Embedding *a, const Embedding *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

#define EMBEDDING_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Embedding  *a = PG_GETARG_EMBEDDING(0); \
	Embedding  *b = PG_GETARG_EMBEDDING(1); \
	int			c = embedding_compare(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	expr; \
}

EMBEDDING_CMP_FUNC(embedding_cmp, PG_RETURN_INT32(c))
EMBEDDING_CMP_FUNC(embedding_lt, PG_RETURN_BOOL(c < 0))
EMBEDDING_CMP_FUNC(embedding_le, PG_RETURN_BOOL(c <= 0))
EMBEDDING_CMP_FUNC(embedding_eq, PG_RETURN_BOOL(c == 0))
EMBEDDING_CMP_FUNC(embedding_ne, PG_RETURN_BOOL(c != 0))
EMBEDDING_CMP_FUNC(embedding_ge, PG_RETURN_BOOL(c >= 0))
EMBEDDING_CMP_FUNC(embedding_gt, PG_RETURN_BOOL(c > 0))

static uint64
embedding_hash_internal(Embedding *e, uint64 seed)
{
	float4	   *tmp = palloc(sizeof(float4) * e->dim);
	uint64		h;

	for (int i = 0; i < e->dim; i++)
		tmp[i] = (e->x[i] == 0.0f) ? 0.0f : e->x[i];
	h = DatumGetUInt64(hash_any_extended((unsigned char *) tmp,
										 sizeof(float4) * e->dim, seed));
	pfree(tmp);
	return h;
}

PG_FUNCTION_INFO_V1(embedding_hash);
Datum
embedding_hash(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) embedding_hash_internal(PG_GETARG_EMBEDDING(0), 0));
}

PG_FUNCTION_INFO_V1(embedding_hash_extended);
Datum
embedding_hash_extended(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) embedding_hash_internal(PG_GETARG_EMBEDDING(0),
													PG_GETARG_INT64(1)));
}
