/*-------------------------------------------------------------------------
 *
 * embedding.h
 *	  The recsys.embedding type: on-disk layout, accessors, the checks every
 *	  value passes when it enters the database, and the distance kernels.
 *
 * An embedding is a varlena holding a dimension count and that many float4
 * elements.  Every element is finite: NaN and infinities are rejected at
 * the door (input, casts, binary receive, arithmetic results), so the
 * kernels never have to think about them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_EMBEDDING_H
#define RECSYS_EMBEDDING_H

#include "runtime.h"

#include <float.h>
#include <math.h>

#include "fmgr.h"

#define EMBEDDING_MAX_DIM 16000

typedef struct Embedding
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint16		dim;			/* number of elements, 1..EMBEDDING_MAX_DIM */
	uint16		flags;			/* reserved, always 0 */
	float4		x[FLEXIBLE_ARRAY_MEMBER];
} Embedding;

#define EMBEDDING_SIZE(dim)		(offsetof(Embedding, x) + sizeof(float4) * (dim))

#define DatumGetEmbedding(d)	((Embedding *) PG_DETOAST_DATUM(d))
#define PG_GETARG_EMBEDDING(n)	DatumGetEmbedding(PG_GETARG_DATUM(n))
#define PG_RETURN_EMBEDDING(e)	PG_RETURN_POINTER(e)

/* embedding.c */
extern Embedding *embedding_alloc(int dim);

/*
 * The checks below are small and have one job each.  They are called
 * wherever a value enters or is produced, so the SQLSTATEs stay uniform:
 *	 dimension count out of range   22023 / 54000
 *	 NaN element                    22000 data_exception
 *	 infinite element or overflow   22003 numeric_value_out_of_range
 *	 operands of different dims     22023 invalid_parameter_value
 */
static inline void
embedding_check_dim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embedding must have at least 1 dimension")));
	if (dim > EMBEDDING_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("embedding cannot have more than %d dimensions",
						EMBEDDING_MAX_DIM),
				 errdetail("The value has %d dimensions.", dim)));
}

static inline void
embedding_check_element(float4 v)
{
	if (unlikely(isnan(v)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN is not allowed in an embedding")));
	if (unlikely(isinf(v)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("embedding element is out of range"),
				 errdetail("Infinite values are not allowed in an embedding.")));
}

/* Checks a freshly computed result; names the operation on overflow. */
static inline void
embedding_check_result(const Embedding *e, const char *what)
{
	for (int i = 0; i < e->dim; i++)
	{
		if (unlikely(!isfinite(e->x[i])))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow in embedding %s", what),
					 errdetail("Element %d of the result is not finite.", i + 1)));
	}
}

static inline void
embedding_check_same_dim(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("embeddings have different dimensions: %d and %d", a, b),
				 errhint("Both operands must have the same number of dimensions.")));
}

/* core/distance.c: rs_dot, rs_l2_squared, rs_norm_squared, rs_cosine_similarity */
#include "core/distance.h"

#endif							/* RECSYS_EMBEDDING_H */
