/*-------------------------------------------------------------------------
 *
 * linalg.c
 *	  BLAS/LAPACK wrappers over OpenBLAS for the training cores and for
 *	  serving's scoring (src/core/score.c).
 *
 * We declare the Fortran entry points ourselves instead of including
 * cblas.h or lapacke.h: Debian ships no lapacke.h with OpenBLAS, and the
 * cblas.h on the include path depends on which BLAS the alternatives
 * system points at.  The Fortran symbols are the same in every OpenBLAS
 * build we link against (32-bit integers, column-major, trailing hidden
 * string lengths that gfortran-built LAPACK routines expect).
 *
 * Our matrices are row-major.  A row-major n x k matrix is, to Fortran,
 * the column-major k x n matrix of its transpose, so A^T A is "M M^T" with
 * TRANS = 'N'; a symmetric result is its own transpose, so only the
 * triangle flag has to be flipped.
 *
 *-------------------------------------------------------------------------
 */
#include "linalg.h"

#include <math.h>

#include "rng.h"
#include "core.h"

extern void ssyrk_(const char *uplo, const char *trans, const int *n,
				   const int *k, const float *alpha, const float *a,
				   const int *lda, const float *beta, float *c,
				   const int *ldc, size_t uplo_len, size_t trans_len);
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda,
					int *info, size_t uplo_len);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs,
					const float *a, const int *lda, float *b, const int *ldb,
					int *info, size_t uplo_len);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs,
					const double *a, const int *lda, double *b, const int *ldb,
					int *info, size_t uplo_len);
extern void dtrsm_(const char *side, const char *uplo, const char *transa,
				   const char *diag, const int *m, const int *n,
				   const double *alpha, const double *a, const int *lda,
				   double *b, const int *ldb, size_t side_len, size_t uplo_len,
				   size_t transa_len, size_t diag_len);
extern void dtrmm_(const char *side, const char *uplo, const char *transa,
				   const char *diag, const int *m, const int *n,
				   const double *alpha, const double *a, const int *lda,
				   double *b, const int *ldb, size_t side_len, size_t uplo_len,
				   size_t transa_len, size_t diag_len);
extern void dsyrk_(const char *uplo, const char *trans, const int *n,
				   const int *k, const double *alpha, const double *a,
				   const int *lda, const double *beta, double *c,
				   const int *ldc, size_t uplo_len, size_t trans_len);
extern void dgemm_(const char *transa, const char *transb, const int *m,
				   const int *n, const int *k, const double *alpha,
				   const double *a, const int *lda, const double *b,
				   const int *ldb, const double *beta, double *c,
				   const int *ldc, size_t transa_len, size_t transb_len);
extern void dtrtri_(const char *uplo, const char *diag, const int *n,
					double *a, const int *lda, int *info, size_t uplo_len,
					size_t diag_len);
extern void dlauum_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);
/*
 * The two CBLAS entry points serving uses, declared the same way (the
 * enumerations are ints of the values every CBLAS defines).
 */
#define RS_CBLAS_ROW_MAJOR 101
#define RS_CBLAS_NO_TRANS 111
#define RS_CBLAS_TRANS 112
extern void cblas_sgemv(int order, int trans, int m, int n, float alpha,
						const float *a, int lda, const float *x, int incx,
						float beta, float *y, int incy);
extern void cblas_sgemm(int order, int transa, int transb, int m, int n, int k,
						float alpha, const float *a, int lda, const float *b,
						int ldb, float beta, float *c, int ldc);
extern void openblas_set_num_threads(int num_threads);
extern int	openblas_get_num_threads(void);

int
rs_blas_get_threads(void)
{
	return openblas_get_num_threads();
}

void
rs_blas_set_threads(int threads)
{
	openblas_set_num_threads(threads < 1 ? 1 : threads);
}

void
rs_gemv(const float *a, int n, int k, const float *x, float *y)
{
	cblas_sgemv(RS_CBLAS_ROW_MAJOR, RS_CBLAS_NO_TRANS, n, k, 1.0f, a, k, x, 1,
				0.0f, y, 1);
}

void
rs_gemm_nt(const float *a, int n, const float *b, int m, int k, float *c)
{
	cblas_sgemm(RS_CBLAS_ROW_MAJOR, RS_CBLAS_NO_TRANS, RS_CBLAS_TRANS,
				n, m, k, 1.0f, a, k, b, k, 0.0f, c, m);
}

void
rs_syrk_upper(const float *a, int n, int k, int lda, float beta, float *g)
{
	const float one = 1.0f;

	if (n <= 0)
	{
		if (beta != 1.0f)
			for (int i = 0; i < k * k; i++)
				g[i] *= beta;
		return;
	}
	/* Fortran's lower triangle of a column-major k x k is our upper one. */
	ssyrk_("L", "N", &k, &n, &one, a, &lda, &beta, g, &k, 1, 1);
}

void
rs_gram(const float *a, int n, int k, int lda, float *g)
{
	for (int i = 0; i < k * k; i++)
		g[i] = 0.0f;
	rs_syrk_upper(a, n, k, lda, 0.0f, g);
	rs_mirror_upper(g, k);
}

bool
rs_cholesky_solve(float *a, float *b, int k)
{
	int			info = 0;
	const int	nrhs = 1;

	/* symmetric, so the row-major upper triangle is Fortran's lower */
	spotrf_("L", &k, a, &k, &info, 1);
	if (info != 0)
		return false;
	spotrs_("L", &k, &nrhs, a, &k, b, &k, &info, 1);
	return info == 0;
}

bool
rs_cholesky_solve_d(double *a, double *b, int k)
{
	int			info = 0;
	const int	nrhs = 1;

	dpotrf_("L", &k, a, &k, &info, 1);
	if (info != 0)
		return false;
	dpotrs_("L", &k, &nrhs, a, &k, b, &k, &info, 1);
	return info == 0;
}

/*
 * Cyclic coordinate descent for the problem of rs_nnls, from x: the
 * fallback when a passive set's system is not positive definite (a
 * singular A, as with no penalty).  Stops after a sweep that moves no
 * coordinate by more than tol times max(1, the largest |x_j|), or after
 * max_sweeps.  g: n doubles.
 */
static void
nnls_cd(const float *a, const float *b, float *x, int n, int n_nonneg,
		int max_sweeps, double tol, double *g)
{
	int			sweep = 0;

	for (int j = 0; j < n_nonneg; j++)
		if (!(x[j] > 0.0f))
			x[j] = 0.0f;
	/* g = A x - b, the gradient */
	for (int i = 0; i < n; i++)
	{
		const float *ai = a + (size_t) i * n;
		double		s = -(double) b[i];

		for (int j = 0; j < n; j++)
			s += (double) ai[j] * x[j];
		g[i] = s;
	}
	while (sweep < max_sweeps)
	{
		double		moved = 0.0;
		double		largest = 1.0;

		sweep++;
		for (int f = 0; f < n; f++)
		{
			const float *af = a + (size_t) f * n;
			double		d = af[f];
			double		old = x[f];
			double		next;
			double		delta;

			if (!(d > 0.0))
				continue;		/* a direction the objective ignores */
			next = old - g[f] / d;
			if (f < n_nonneg && next < 0.0)
				next = 0.0;
			x[f] = (float) next;
			delta = (double) x[f] - old;
			if (delta != 0.0)
			{
				/* A symmetric: column f is row f */
				for (int i = 0; i < n; i++)
					g[i] += delta * af[i];
			}
			if (fabs(delta) > moved)
				moved = fabs(delta);
			if (fabs((double) x[f]) > largest)
				largest = fabs((double) x[f]);
		}
		if (moved <= tol * largest)
			break;
	}
}

/*
 * Block principal pivoting (Kim and Park, "Fast nonnegative matrix
 * factorization: an active-set-like method and comparisons", 2011) on the
 * normal equations, from the x given: the variables in F (the free ones,
 * and a guess of the constrained ones that are positive: those > 0 in x)
 * are solved exactly by Cholesky in double precision, the others held at
 * 0; every variable that breaks optimality (negative in F, or outside F
 * with a negative gradient: moving it off 0 would lower the objective)
 * changes sides at once, which usually ends in a few factorisations even
 * from nothing.  When that stops making the count of such variables fall
 * (three tries), one variable changes sides at a time, the largest index
 * first, which cannot cycle (Murty's rule).
 */
void
rs_nnls(const float *a, const float *b, float *x, int n, int n_nonneg,
		double *ws, int *iws)
{
	double	   *m = ws;				/* n x n: A_FF, then its factor */
	double	   *z = m + (size_t) n * n;	/* n: F's solution */
	double	   *xd = z + n;			/* n: the current point */
	int		   *fidx = iws;			/* n: F's variables, in order */
	bool	   *in_f = (bool *) (xd + n);	/* n: whether in F (in ws) */
	double		scale = 1.0;
	int			fewest = n + 1;
	int			tries = 3;
	const int	nrhs = 1;
	double		ridge = 0.0;
	double		top = 0.0;

	for (int j = 0; j < n; j++)
		top = fmax(top, fabs((double) a[(size_t) j * n + j]));

	for (int j = 0; j < n; j++)
	{
		in_f[j] = j >= n_nonneg || x[j] > 0.0f;
		if (fabs((double) b[j]) > scale)
			scale = fabs((double) b[j]);
	}
	for (int round = 0; round < 5 * n + 10; round++)
	{
		int			nf = 0;
		int			info = 0;
		int			nbad = 0;
		int			last_bad = -1;

		for (int j = 0; j < n; j++)
			if (in_f[j])
				fidx[nf++] = j;
		for (int r = 0; r < nf; r++)
		{
			for (int c = 0; c < nf; c++)
				m[(size_t) r * nf + c] = a[(size_t) fidx[r] * n + fidx[c]];
			m[(size_t) r * nf + r] += ridge;
			z[r] = b[fidx[r]];
		}
		if (nf > 0)
		{
			dpotrf_("L", &nf, m, &nf, &info, 1);
			if (info == 0)
				dpotrs_("L", &nf, &nrhs, m, &nf, z, &nf, &info, 1);
		}
		if (info != 0 && ridge == 0.0 && top > 0.0)
		{
			/*
			 * A singular system (no penalty, and F's columns dependent):
			 * its minimisers are many; a ridge at the rounding level of
			 * A picks one, moving the optimum by about as much.
			 */
			ridge = 1e-10 * top;
			round--;
			continue;
		}
		if (info != 0)
		{
			/* not positive definite: coordinate descent from here */
			for (int j = 0; j < n; j++)
				x[j] = (j < n_nonneg && !(x[j] > 0.0f)) ? 0.0f : x[j];
			nnls_cd(a, b, x, n, n_nonneg, RS_NMF_MAX_SWEEPS,
					RS_NMF_TOLERANCE, ws);
			return;
		}
		for (int j = 0; j < n; j++)
			xd[j] = 0.0;
		for (int r = 0; r < nf; r++)
			xd[fidx[r]] = z[r];

		/* who breaks optimality: count them, remember the largest */
		for (int j = 0; j < n_nonneg; j++)
		{
			bool		bad;

			if (in_f[j])
				bad = xd[j] < 0.0;
			else
			{
				double		g = -(double) b[j];

				for (int c = 0; c < nf; c++)
					g += (double) a[(size_t) j * n + fidx[c]] * z[c];
				bad = g < -1e-10 * scale;
			}
			if (bad)
			{
				nbad++;
				last_bad = j;
			}
		}
		if (nbad == 0)
			break;
		if (nbad < fewest)
		{
			fewest = nbad;
			tries = 3;
		}
		else if (tries > 0)
			tries--;
		else
		{
			in_f[last_bad] = !in_f[last_bad];
			continue;
		}
		/* every one of them changes sides */
		for (int j = 0; j < n_nonneg; j++)
		{
			if (in_f[j] ? xd[j] < 0.0 : false)
				in_f[j] = false;
			else if (!in_f[j])
			{
				double		g = -(double) b[j];

				for (int c = 0; c < nf; c++)
					g += (double) a[(size_t) j * n + fidx[c]] * z[c];
				if (g < -1e-10 * scale)
					in_f[j] = true;
			}
		}
	}
	for (int j = 0; j < n; j++)
		x[j] = (float) ((j < n_nonneg && xd[j] < 0.0) ? 0.0 : xd[j]);
}

/*
 * The inverse of a symmetric positive definite matrix as LAPACK's dpotrf
 * and dpotri compute it, but in blocks of nb columns with check(arg)
 * between them, so that a large inversion can be cancelled: each of the
 * three passes is LAPACK's own blocked algorithm (dpotrf's right-looking
 * Cholesky, dtrtri's and dlauum's), the blocks done by BLAS-3 and by the
 * LAPACK routine itself on the diagonal block.  Everything in Fortran's
 * column-major view, lower triangle ("L"); A(i, j) is a[i + j * n].
 */
#define A_(i, j) (a + (size_t) (i) + (size_t) (j) * (size_t) n)

int
rs_cholesky_inverse_blocked_d(double *a, int n, int nb,
							  void (*check) (void *arg), void *arg)
{
	const double one = 1.0;
	const double minus_one = -1.0;
	int			info = 0;

	if (nb < 1)
		nb = 1;
	/* G = L L^T */
	for (int j = 0; j < n; j += nb)
	{
		int			jb = n - j < nb ? n - j : nb;
		int			rest = n - j - jb;

		dpotrf_("L", &jb, A_(j, j), &n, &info, 1);
		if (info != 0)
			return info + j;
		if (rest > 0)
		{
			dtrsm_("R", "L", "T", "N", &rest, &jb, &one, A_(j, j), &n,
				   A_(j + jb, j), &n, 1, 1, 1, 1);
			dsyrk_("L", "N", &rest, &jb, &minus_one, A_(j + jb, j), &n,
				   &one, A_(j + jb, j + jb), &n, 1, 1);
		}
		check(arg);
	}
	/* L^-1, last block column first */
	for (int j = ((n - 1) / nb) * nb; j >= 0; j -= nb)
	{
		int			jb = n - j < nb ? n - j : nb;
		int			rest = n - j - jb;

		if (rest > 0)
		{
			dtrmm_("L", "L", "N", "N", &rest, &jb, &one, A_(j + jb, j + jb), &n,
				   A_(j + jb, j), &n, 1, 1, 1, 1);
			dtrsm_("R", "L", "N", "N", &rest, &jb, &minus_one, A_(j, j), &n,
				   A_(j + jb, j), &n, 1, 1, 1, 1);
		}
		dtrtri_("L", "N", &jb, A_(j, j), &n, &info, 1, 1);
		if (info != 0)
			return info + j;
		check(arg);
	}
	/* G^-1 = L^-T L^-1 */
	for (int i = 0; i < n; i += nb)
	{
		int			ib = n - i < nb ? n - i : nb;
		int			rest = n - i - ib;

		if (i > 0)
			dtrmm_("L", "L", "T", "N", &ib, &i, &one, A_(i, i), &n,
				   A_(i, 0), &n, 1, 1, 1, 1);
		dlauum_("L", &ib, A_(i, i), &n, &info, 1);
		if (rest > 0)
		{
			if (i > 0)
				dgemm_("T", "N", &ib, &i, &rest, &one, A_(i + ib, i), &n,
					   A_(i + ib, 0), &n, &one, A_(i, 0), &n, 1, 1);
			dsyrk_("L", "T", &ib, &rest, &one, A_(i + ib, i), &n,
				   &one, A_(i, i), &n, 1, 1);
		}
		check(arg);
	}
	return 0;
}

#undef A_

void
rs_init_factor_rows(float *f, int64_t n, int k, double sd, uint64_t seed,
					uint64_t stream0, const RsEnv *env)
{
	for (int64_t e = 0; e < n; e++)
	{
		RsRng		rng;

		/* ~9M normals for ML-20M users: a few hundred ms, so check */
		if ((e & 4095) == 0)
			env->check_interrupts(env->arg);

		rs_rng_init(&rng, seed, stream0 + (uint64_t) e);
		for (int j = 0; j < k; j++)
			f[(size_t) e * k + j] = (float) (sd * rs_rng_normal(&rng));
	}
}

int64_t
rs_max_row_length(const int64_t *ptr, int64_t n)
{
	int64_t		m = 0;

	for (int64_t e = 0; e < n; e++)
		if (ptr[e + 1] - ptr[e] > m)
			m = ptr[e + 1] - ptr[e];
	return m;
}

/*
 * size bytes from env->alloc at a 64-byte boundary.  For the factor
 * matrices: a row of 64 floats is exactly four cache lines when the matrix
 * starts on a line, five otherwise, and a half-sweep fetches ~20M such rows
 * at random.  The memory is never freed on its own (it goes with the
 * caller's memory context), so the offset need not be remembered.
 */
static void *
alloc_cache_aligned(const RsEnv *env, size_t size)
{
	char	   *p = env->alloc(env->arg, size + 64);

	return p + ((64 - ((uintptr_t) p & 63)) & 63);
}

void
rs_model_setup(RsModel *out, const RsMatrix *m, const RsParams *p,
			   const RsEnv *env, double global_mean, bool user_bias,
			   bool item_bias, uint64_t user_stream0, uint64_t item_stream0)
{
	int			k = p->factors;
	size_t		nu = (size_t) m->n_users;
	size_t		ni = (size_t) m->n_items;

	out->n_users = m->n_users;
	out->n_items = m->n_items;
	out->factors = k;
	out->global_mean = global_mean;
	out->user_bias = user_bias ? env->alloc(env->arg, sizeof(float) * (nu > 0 ? nu : 1)) : NULL;
	out->item_bias = item_bias ? env->alloc(env->arg, sizeof(float) * (ni > 0 ? ni : 1)) : NULL;
	out->user_factors = alloc_cache_aligned(env, sizeof(float) * nu * k);
	out->item_factors = alloc_cache_aligned(env, sizeof(float) * ni * k);
	out->loss = env->alloc(env->arg,
						   sizeof(double) * (size_t) (p->iterations > 0 ? p->iterations : 1));
	out->n_loss = 0;

	rs_init_factor_rows(out->user_factors, m->n_users, k, p->init_std,
						p->seed, user_stream0, env);
	rs_init_factor_rows(out->item_factors, m->n_items, k, p->init_std,
						p->seed, item_stream0, env);
}
