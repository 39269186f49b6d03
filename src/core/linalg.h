/*-------------------------------------------------------------------------
 *
 * linalg.h
 *	  The small linear-algebra layer the training cores share: wrappers
 *	  over OpenBLAS/LAPACK for the few dense operations worth a library
 *	  call (Gram matrices, Cholesky, the products that score items for
 *	  serving), and inline vector kernels for the short loops that run
 *	  once per interaction.
 *
 * Plain C, no PostgreSQL headers (see core.h).  Matrices are row-major
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
 * Products with a row-major factor matrix, for scoring: y (n) = A x for the
 * n x k matrix A, and C (n x m) = A B^T for the n x k matrix A and the
 * m x k matrix B.  One cblas_sgemv / cblas_sgemm call each, on the BLAS
 * threads set by rs_blas_set_threads().
 */
extern void rs_gemv(const float *a, int n, int k, const float *x, float *y);
extern void rs_gemm_nt(const float *a, int n, const float *b, int m, int k,
					   float *c);

/*
 * Solve A x = b in place for the k x k symmetric positive definite A
 * (destroyed: it receives the Cholesky factor) and b (receives x).
 * Returns false if A is not positive definite, leaving b unspecified.
 */
extern bool rs_cholesky_solve(float *a, float *b, int k);

/* The same in double precision (explanations, src/core/explain.c). */
extern bool rs_cholesky_solve_d(double *a, double *b, int k);

/*
 * Nonnegative least squares on the normal equations (nmf: als.c, its
 * fold-in and update()): x minimising 1/2 x'Ax - b'x subject to x_j >= 0
 * for j < n_nonneg (the others free), for the n x n symmetric positive
 * semidefinite row-major A (not changed), in double precision, from the x
 * given (its positive entries: the first guess of which stay positive):
 * block principal pivoting, exact up to rounding; coordinate descent
 * where a system of it is not positive definite.  ws: RS_NNLS_WS(n)
 * doubles; iws: n ints.
 */
extern void rs_nnls(const float *a, const float *b, float *x, int n,
					int n_nonneg, double *ws, int *iws);
#define RS_NNLS_WS(n)	((size_t) (n) * (n) + 3 * (size_t) (n))

/* rs_nnls's fallback: at most this many sweeps of coordinate descent ... */
#define RS_NMF_MAX_SWEEPS	500
/* ... stopping when none moves a coordinate by more than this, relatively */
#define RS_NMF_TOLERANCE	1e-6

/*
 * The inverse of the n x n symmetric positive definite a, in place, from
 * its Cholesky factor (ease.c), as LAPACK's dpotrf + dpotri give it up to
 * rounding (test/core/linalg_core checks it), in blocks of nb columns,
 * calling check(arg) (which may throw) after each block of each pass: the
 * upper triangle of the row-major a receives it, the lower one keeps what
 * was there.  Returns LAPACK's info: 0, or > 0 (the first column that
 * fails) when a is not positive definite.
 */
extern int	rs_cholesky_inverse_blocked_d(double *a, int n, int nb,
										  void (*check) (void *arg), void *arg);

/*
 * The inline kernels must be inlined into their callers, including the
 * target_clones copies: GCC does not inline a function built for one
 * instruction set into one built for another unless told to, and a call
 * per row costs more than the row.
 */
#if defined(__GNUC__)
#define RS_KERNEL static inline __attribute__((always_inline))
#else
#define RS_KERNEL static inline
#endif

/* a . b over n floats */
RS_KERNEL float
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
RS_KERNEL void
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
RS_KERNEL void
rs_symv(const float *restrict g, const float *restrict x, float *restrict y,
		int k)
{
	for (int r = 0; r < k; r++)
		y[r] = rs_vdot(g + (size_t) r * k, x, k);
}

/*
 * For the functions that run the row kernels: PostgreSQL builds
 * extensions for baseline x86-64 (SSE2, no FMA), which leaves half of an
 * AVX2 machine's arithmetic unused in exactly the loops that dominate
 * training.  GCC's target_clones compiles such a function twice and picks
 * the AVX2+FMA copy at load time when the CPU has it.  The clones may
 * round differently (FMA), so a model is reproducible for a given seed,
 * thread count and CPU type.  Clang (which PGXS uses only for the JIT
 * bitcode) and other architectures get the plain function.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define RS_SIMD_CLONES __attribute__((target_clones("fma", "default")))
#else
#define RS_SIMD_CLONES
#endif

/*
 * Eight floats as one value, for the row kernels below.  GCC and Clang map
 * it to one AVX register when the function is compiled for AVX, to two SSE
 * registers otherwise.  aligned(4) because factor rows are only float
 * aligned (a dereference is then an unaligned load), may_alias because it
 * reads float arrays.  Values of this type are never passed to or returned
 * from functions, whose ABI for 32-byte vectors differs with and without
 * AVX: hence the macros.
 */
typedef float rs_f8 __attribute__((vector_size(32), aligned(4), may_alias));

#define RS_LOAD8(p)		(*(const rs_f8 *) (p))
#define RS_STORE8(p, v) (*(rs_f8 *) (p) = (v))
#define RS_HSUM8(a) \
	((((a)[0] + (a)[4]) + ((a)[1] + (a)[5])) + \
	 (((a)[2] + (a)[6]) + ((a)[3] + (a)[7])))

/* row j of y: y + idx[j] * k, or y + j * k when idx is NULL */
#define RS_ROW(y, idx, j, k) \
	((idx) ? (y) + (size_t) (idx)[j] * (k) : (y) + (size_t) (j) * (k))

/*
 * y_j . v for one row: one vector accumulator over the 8-float chunks,
 * then the remaining k % 8 terms.  rs_rows_dots computes four rows at a
 * time with exactly this order per row, so a row's dot product does not
 * depend on which group it falls in.
 */
RS_KERNEL float
rs_row_dot(const float *restrict yj, const float *restrict v, int k)
{
	rs_f8		a = {0, 0, 0, 0, 0, 0, 0, 0};
	int			k8 = k & ~7;
	float		s;

	for (int o = 0; o < k8; o += 8)
		a += RS_LOAD8(yj + o) * RS_LOAD8(v + o);
	s = RS_HSUM8(a);
	for (int o = k8; o < k; o++)
		s += yj[o] * v[o];
	return s;
}

/*
 * dots[j] = y_j . v + vb for n rows.  Four rows at once: four independent
 * accumulator chains keep the FMA units busy where one row's chain would
 * wait on its own latency, and each chunk of v is loaded once for four
 * rows.
 */
RS_KERNEL void
rs_rows_dots(const float *restrict y, const int32_t *restrict idx, int n,
			 int k, const float *restrict v, float vb, float *restrict dots)
{
	int			k8 = k & ~7;
	int			j = 0;

	for (; j + 4 <= n; j += 4)
	{
		const float *y0 = RS_ROW(y, idx, j, k);
		const float *y1 = RS_ROW(y, idx, j + 1, k);
		const float *y2 = RS_ROW(y, idx, j + 2, k);
		const float *y3 = RS_ROW(y, idx, j + 3, k);
		rs_f8		a0 = {0, 0, 0, 0, 0, 0, 0, 0};
		rs_f8		a1 = a0;
		rs_f8		a2 = a0;
		rs_f8		a3 = a0;
		float		s0,
					s1,
					s2,
					s3;

		for (int o = 0; o < k8; o += 8)
		{
			rs_f8		vo = RS_LOAD8(v + o);

			a0 += RS_LOAD8(y0 + o) * vo;
			a1 += RS_LOAD8(y1 + o) * vo;
			a2 += RS_LOAD8(y2 + o) * vo;
			a3 += RS_LOAD8(y3 + o) * vo;
		}
		s0 = RS_HSUM8(a0);
		s1 = RS_HSUM8(a1);
		s2 = RS_HSUM8(a2);
		s3 = RS_HSUM8(a3);
		for (int o = k8; o < k; o++)
		{
			s0 += y0[o] * v[o];
			s1 += y1[o] * v[o];
			s2 += y2[o] * v[o];
			s3 += y3[o] * v[o];
		}
		dots[j] = s0 + vb;
		dots[j + 1] = s1 + vb;
		dots[j + 2] = s2 + vb;
		dots[j + 3] = s3 + vb;
	}
	for (; j < n; j++)
		dots[j] = rs_row_dot(RS_ROW(y, idx, j, k), v, k) + vb;
}

/*
 * acc += sum_j c[j] y_j for n rows (a short block, so the rows are still
 * in L1 from the dot products).  Column-block outer, rows inner: 32
 * floats of acc stay in registers across all n rows instead of being
 * loaded and stored once per row.  Each element of acc adds its terms in
 * row order whatever the grouping, so the result is the same bits as a
 * plain row-by-row axpy (FMA contraction aside).
 */
RS_KERNEL void
rs_rows_axpy(const float *restrict y, const int32_t *restrict idx, int n,
			 int k, const float *restrict c, float *restrict acc)
{
	int			o = 0;

	for (; o + 32 <= k; o += 32)
	{
		rs_f8		a0 = RS_LOAD8(acc + o);
		rs_f8		a1 = RS_LOAD8(acc + o + 8);
		rs_f8		a2 = RS_LOAD8(acc + o + 16);
		rs_f8		a3 = RS_LOAD8(acc + o + 24);

		for (int j = 0; j < n; j++)
		{
			const float *yj = RS_ROW(y, idx, j, k) + o;
			float		cj = c[j];

			a0 += cj * RS_LOAD8(yj);
			a1 += cj * RS_LOAD8(yj + 8);
			a2 += cj * RS_LOAD8(yj + 16);
			a3 += cj * RS_LOAD8(yj + 24);
		}
		RS_STORE8(acc + o, a0);
		RS_STORE8(acc + o + 8, a1);
		RS_STORE8(acc + o + 16, a2);
		RS_STORE8(acc + o + 24, a3);
	}
	for (; o + 8 <= k; o += 8)
	{
		rs_f8		a0 = RS_LOAD8(acc + o);

		for (int j = 0; j < n; j++)
			a0 += c[j] * RS_LOAD8(RS_ROW(y, idx, j, k) + o);
		RS_STORE8(acc + o, a0);
	}
	for (; o < k; o++)
	{
		float		a0 = acc[o];

		for (int j = 0; j < n; j++)
			a0 += c[j] * RS_ROW(y, idx, j, k)[o];
		acc[o] = a0;
	}
}

/* rows per block of rs_rows_dot_axpy: 16 rows of k = 64 are 4 kB, in L1 */
#define RS_ROW_BLOCK	16
/* prefetch distance in rows (tried 16, 32, 64: 16 best, by a little) */
#define RS_PF			16

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
 * In blocks of RS_ROW_BLOCK rows: the dot products of a block, then its
 * axpy while the rows are still in L1.
 */
RS_KERNEL void
rs_rows_dot_axpy(const float *restrict y, const int32_t *restrict idx, int n,
				 int k, const float *restrict v, float vb,
				 const float *restrict ca, const float *restrict cb,
				 float *restrict dots, float *restrict acc,
				 float *restrict accb, float *restrict gather)
{
	float		c[RS_ROW_BLOCK];
	float		cbias = 0.0f;

	for (int j0 = 0; j0 < n; j0 += RS_ROW_BLOCK)
	{
		int			nb = n - j0 < RS_ROW_BLOCK ? n - j0 : RS_ROW_BLOCK;
		const int32_t *bidx = idx ? idx + j0 : NULL;
		const float *by = idx ? y : y + (size_t) j0 * k;

		if (idx)
		{
			/*
			 * The scattered rows are the slow part: fetch them RS_PF rows
			 * ahead, four rows' worth before each group of four dot
			 * products, so that the requests stay spread out instead of
			 * one burst per block filling the miss buffers.
			 */
			for (int j = 0; j < nb; j += 4)
			{
				int			pend = j0 + j + RS_PF + 4 < n ? j0 + j + RS_PF + 4 : n;
				int			m = nb - j < 4 ? nb - j : 4;

				for (int jj = j0 + j + RS_PF; jj < pend; jj++)
				{
					const float *yp = y + (size_t) idx[jj] * k;

					for (int o = 0; o < k; o += 16)
						__builtin_prefetch(yp + o);
					__builtin_prefetch(yp + k - 1);
				}
				rs_rows_dots(y, bidx + j, m, k, v, vb, dots + j0 + j);
			}
		}
		else
			rs_rows_dots(by, bidx, nb, k, v, vb, dots + j0);
		for (int j = 0; j < nb; j++)
		{
			c[j] = (ca ? ca[j0 + j] : 0.0f) + cb[j0 + j] * dots[j0 + j];
			cbias += c[j];
		}
		rs_rows_axpy(by, bidx, nb, k, c, acc);
		if (gather)
			for (int j = 0; j < nb; j++)
				memcpy(gather + (size_t) (j0 + j) * k,
					   RS_ROW(by, bidx, j, k), sizeof(float) * k);
	}
	if (accb)
		*accb += cbias;
}

/*
 * G += w * a a^T on the upper triangle of the k x k matrix G (rows of G
 * from the diagonal on).  rs_mirror_upper() completes the lower half once
 * all updates are in.
 */
RS_KERNEL void
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
