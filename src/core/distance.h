/*-------------------------------------------------------------------------
 *
 * distance.h
 *	  Distance and similarity kernels over float arrays (distance.c), in
 *	  plain C.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_DISTANCE_H
#define RECSYS_DISTANCE_H

extern float rs_dot(const float *a, const float *b, int n);
extern float rs_l2_squared(const float *a, const float *b, int n);
extern float rs_norm_squared(const float *a, int n);
/* NaN when either vector is all zeros */
extern double rs_cosine_similarity(const float *a, const float *b, int n);

#endif							/* RECSYS_DISTANCE_H */
