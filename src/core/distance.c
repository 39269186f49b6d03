/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Distance and similarity kernels over float arrays.
 *
 * These are the innermost loops of everything recsys does (operators,
 * index search, scoring), so they are written as plain loops over
 * contiguous floats that gcc vectorises.  The Makefile compiles this file
 * alone with -fassociative-math so that the float reductions may be
 * reordered into SIMD lanes; the results can therefore differ from a
 * strictly sequential sum in the last bits, which no caller relies on.
 * Plain C (src/core): the embedding type's operators, the index and
 * serving's scoring all call these.
 *
 *-------------------------------------------------------------------------
 */
#include "distance.h"

#include <math.h>


float
rs_dot(const float *a, const float *b, int n)
{
	float		s = 0.0f;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

float
rs_l2_squared(const float *a, const float *b, int n)
{
	float		s = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

/* the same sum as rs_dot(a, a, n), in the same order */
float
rs_norm_squared(const float *a, int n)
{
	return rs_dot(a, a, n);
}

/*
 * Cosine similarity in one pass.  NaN when either vector is all zeros (the
 * angle is undefined); otherwise clamped to [-1, 1] against rounding.
 */
double
rs_cosine_similarity(const float *a, const float *b, int n)
{
	float		ab = 0.0f;
	float		aa = 0.0f;
	float		bb = 0.0f;
	double		sim;

	for (int i = 0; i < n; i++)
	{
		ab += a[i] * b[i];
		aa += a[i] * a[i];
		bb += b[i] * b[i];
	}
	if (aa == 0.0f || bb == 0.0f)
		return (double) NAN;

	sim = (double) ab / sqrt((double) aa * (double) bb);
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return sim;
}
