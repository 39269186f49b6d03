/*-------------------------------------------------------------------------
 *
 * linalg.h
 *	  The small linear-algebra layer the training cores share: wrappers
 *	  over OpenBLAS/LAPACK for the few dense operations worth a library
 *	  call (Gram matrices, Cholesky), and inline vector kernels for the
 *	  short loops that run once per interaction.
 *
 * Plain C, no PostgreSQL headers (see train.h).  Matrices are row-major
 * float arrays; a k x k symmetric matrix is always stored full (both
 * triangles) so the kernels can read rows without caring which half is
 * valid.
 *
 * The inline kernels use eight independent partial sums instead of one
 * running sum.  gcc vectorises that pattern without -ffast-math, and
 * the result is the same bits whether or not it does, so a model does not
 * change with the compiler flags a file was built with (FMA contraction
 * aside).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_LINALG_H
#define RECSYS_LINALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct RsEnv;

/*
 * Rows [0, n) of f (n x k, row-major) = sd * N(0, 1), row e drawn from
 * stream stream0 + e of seed, so a model's start does not depend on the
 * order or the threads it is trained with.  Checks for interrupts.
 */
extern void rs_init_factor_rows(float *f, int64_t n, int k, double sd,
								uint64_t seed, uint64_t stream0,
								const struct RsEnv *env);

/* The longest row of a CSR matrix with n rows. */
extern int64_t rs_max_row_length(const int64_t *ptr, int64_t n);

/*
 * Sets up a factor model for m: sizes, global mean, zeroed biases (those
 * asked for; the others NULL), room for one loss per iteration, and
 * factors initialised by rs_init_factor_rows from the given first streams
 * of users and of items.
 */
struct RsMatrix;
struct RsModel;
struct RsParams;
extern void rs_model_setup(struct RsModel *out, const struct RsMatrix *m,
						   const struct RsParams *p, const struct RsEnv *env,
						   double global_mean, bool user_bias, bool item_bias,
						   uint64_t user_stream0, uint64_t item_stream0);

/* BLAS threads: OpenBLAS keeps its own pool, which we size around our own. */
extern int	rs_blas_get_threads(void);
extern void rs_blas_set_threads(int threads);

/*
 * G (k x k, full) = A^T A for the n x k row-major matrix A with row stride
 * lda.  One ssyrk call and a mirror of the triangle.
 */
extern void rs_gram(const float *a, int n, int k, int lda, float *g);

/*
 * G = beta * G + A^T A on the upper triangle only (row-major), for
 * accumulating a Gram matrix over several blocks of rows; finish with
 * rs_mirror_upper().
 */
extern void rs_syrk_upper(const float *a, int n, int k, int lda, float beta,
						  float *g);

/*
 * Solve A x = b in place for the k x k symmetric positive definite A
 * (destroyed: it receives the Cholesky factor) and b (receives x).
 * Returns false if A is not positive definite, leaving b unspecified.
 */
extern bool rs_cholesky_solve(float *a, float *b, int k);

/* a . b over n floats */
static inline float
rs_vdot(const float *restrict a, const float *restrict b, int n)
{
	float		acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	float		s;
	int			j = 0;

	for (; j + 8 <= n; j += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += a[j + l] * b[j + l];
	s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		((acc[2] + acc[6]) + (acc[3] + acc[7]));
	for (; j < n; j++)
		s += a[j] * b[j];
	return s;
}

/*
 * y += alpha * x over n floats.  In blocks of eight for the same reason
 * as rs_dot: at -O2 gcc vectorises a fixed-size block, not a loop of
 * unknown length that would need an epilogue.
 */
static inline void
rs_axpy(float alpha, const float *restrict x, float *restrict y, int n)
{
	int			j = 0;

	for (; j + 8 <= n; j += 8)
		for (int l = 0; l < 8; l++)
			y[j + l] += alpha * x[j + l];
	for (; j < n; j++)
		y[j] += alpha * x[j];
}

/* y = G x for the k x k full symmetric G */
static inline void
rs_symv(const float *restrict g, const float *restrict x, float *restrict y,
		int k)
{
	for (int r = 0; r < k; r++)
		y[r] = rs_vdot(g + (size_t) r * k, x, k);
}

/*
 * The inner loop of every CG solve: for the n rows y_j (y_j = y + idx[j] * k,
 * or y + j * k when idx is NULL),
 *
 *	  d_j = y_j . v + vb,	dots[j] = d_j,	 acc += c_j y_j,	*accb += c_j
 *
 * with c_j = (ca ? ca[j] : 0) + cb[j] * d_j (accb may be NULL).  If gather
 * is not NULL, row j is also copied to gather + j * k, so that later passes
 * over the same rows read one contiguous block instead of scattered rows of
 * a factor matrix far larger than the cache.
 *
 * One row at a time: a version taking four rows per step (four independent
 * dot products, acc loaded once per four rows) measured 2x slower with
 * gcc 12, which kept its partial sums on the stack.
 */
static inline void
rs_rows_dot_axpy(const float *restrict y, const int32_t *restrict idx, int n,
				 int k, const float *restrict v, float vb,
				 const float *restrict ca, const float *restrict cb,
				 float *restrict dots, float *restrict acc,
				 float *restrict accb, float *restrict gather)
{
	float		cbias = 0.0f;

	for (int j = 0; j < n; j++)
	{
		const float *yj = idx ? y + (size_t) idx[j] * k : y + (size_t) j * k;
		float		d;
		float		c;

		/* the scattered rows are the slow part: ask for one well ahead */
		if (idx && j + 4 < n)
		{
			const float *yp = y + (size_t) idx[j + 4] * k;

			for (int o = 0; o < k; o += 16)
				__builtin_prefetch(yp + o);
		}
		d = rs_vdot(yj, v, k) + vb;
		c = (ca ? ca[j] : 0.0f) + cb[j] * d;
		dots[j] = d;
		rs_axpy(c, yj, acc, k);
		cbias += c;
		if (gather)
			memcpy(gather + (size_t) j * k, yj, sizeof(float) * k);
	}
	if (accb)
		*accb += cbias;
}

/*
 * G += w * a a^T on the upper triangle of the k x k matrix G (rows of G
 * from the diagonal on).  rs_mirror_upper() completes the lower half once
 * all updates are in.
 */
static inline void
rs_syr_upper(float *restrict g, float w, const float *restrict a, int k)
{
	for (int r = 0; r < k; r++)
	{
		float		wa = w * a[r];
		float	   *row = g + (size_t) r * k;

		for (int c = r; c < k; c++)
			row[c] += wa * a[c];
	}
}

static inline void
rs_mirror_upper(float *g, int k)
{
	for (int r = 1; r < k; r++)
		for (int c = 0; c < r; c++)
			g[(size_t) r * k + c] = g[(size_t) c * k + r];
}

#endif							/* RECSYS_LINALG_H */
