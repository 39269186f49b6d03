/*-------------------------------------------------------------------------
 *
 * linalg_core.c
 *	  The blocked, interruptible inverse of a symmetric positive definite
 *	  matrix (rs_cholesky_inverse_blocked_d, what ease inverts its item
 *	  Gram matrix with) against LAPACK's dpotrf + dpotri on seeded random matrices of several sizes
 *	  and block sizes, including blocks that do not divide the size; the
 *	  check between blocks called once per block of each pass; a check that
 *	  throws (longjmp) mid-way; a matrix that is not positive definite.
 *	  And the nonnegative least squares of nmf (rs_nnls): its answers
 *	  checked optimal by the Karush-Kuhn-Tucker conditions (sizes 1-257).
 *
 *	  ./linalg_core        one "ok" / "not ok" line per check
 *
 *-------------------------------------------------------------------------
 */
#include "linalg.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK itself, the reference: the Fortran entry points (see linalg.c) */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);

static int
lapack_inverse(double *a, int n)
{
	int			info = 0;

	dpotrf_("L", &n, a, &n, &info, 1);
	if (info != 0)
		return info;
	dpotri_("L", &n, a, &n, &info, 1);
	return info;
}

static int	failed = 0;
static int	checks = 0;
static int	throw_at = -1;
static jmp_buf thrown;

static void
ok(int cond, const char *what)
{
	printf("%s %s\n", cond ? "ok" : "not ok", what);
	if (!cond)
		failed = 1;
}

static void
count_check(void *arg)
{
	(void) arg;
	checks++;
	if (checks == throw_at)
		longjmp(thrown, 1);
}

/* G = A A^T + n I, A with entries uniform in [-1, 1) from a fixed LCG */
static void
random_spd(double *g, int n, unsigned seed)
{
	double	   *a = malloc(sizeof(double) * (size_t) n * n);
	unsigned long long s = seed * 2654435761ULL + 1;

	for (int i = 0; i < n * n; i++)
	{
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		a[i] = (double) (s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			double		sum = i == j ? n : 0.0;

			for (int k = 0; k < n; k++)
				sum += a[i * n + k] * a[j * n + k];
			g[i * n + j] = sum;
		}
	free(a);
}

/*
 * rs_nnls's answer is optimal (Karush-Kuhn-Tucker): feasible, the gradient
 * g = A x - b zero on the free and the positive coordinates, not negative
 * on those held at 0 (up to tol relative to the problem's scale).
 */
static int
nnls_optimal(const float *a, const float *b, const float *x, int n,
			 int n_nonneg, double tol, double *worst)
{
	double		scale = 1.0;

	*worst = 0.0;
	for (int i = 0; i < n; i++)
	{
		scale = fmax(scale, fabs((double) b[i]));
		for (int j = 0; j < n; j++)
			scale = fmax(scale, fabs((double) a[i * n + j] * x[j]));
	}
	for (int i = 0; i < n; i++)
	{
		double		g = -(double) b[i];
		double		bad;

		for (int j = 0; j < n; j++)
			g += (double) a[i * n + j] * x[j];
		if (i < n_nonneg && x[i] < 0.0f)
			return 0;
		bad = (i < n_nonneg && x[i] == 0.0f) ? fmax(-g, 0.0) : fabs(g);
		*worst = fmax(*worst, bad / scale);
	}
	return *worst <= tol;
}

/* uniform in [lo, hi) from a fixed LCG */
static double
lcg(unsigned long long *s, double lo, double hi)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * ((double) (*s >> 11) / 9007199254740992.0);
}

/*
 * The nonnegative solves of nmf: Gram matrices of nonnegative factor rows
 * (strongly correlated columns, as nmf's are) plus a penalty, or none (a
 * singular matrix, where a passive system may fail and coordinate descent
 * finishes), the last coordinate
 * free or not, from zero and from a random start.
 */
static void
check_nnls(void)
{
	const int	dims[] = {1, 2, 5, 17, 65, 257};
	char		what[200];

	for (int d = 0; d < (int) (sizeof(dims) / sizeof(dims[0])); d++)
		for (int variant = 0; variant < 5; variant++)
		{
			int			n = dims[d];
			int			rows = variant == 3 ? (n + 1) / 2 : 3 * n + 4;
			double		ridge = variant >= 3 ? 0.0 : 0.1 * rows;
			int			n_nonneg = variant == 1 ? n - 1 : n;
			unsigned long long s = 977ULL * (d + 1) + variant;
			float	   *a = calloc((size_t) n * n, sizeof(float));
			float	   *b = malloc(sizeof(float) * n);
			float	   *x = malloc(sizeof(float) * n);
			float	   *q = malloc(sizeof(float) * (size_t) rows * n);
			double	   *ws = malloc(sizeof(double) * RS_NNLS_WS(n));
			int		   *iws = malloc(sizeof(int) * n);
			double		worst;
			int			zeros = 0;
			int			optimal;

			for (int r = 0; r < rows * n; r++)
				q[r] = (float) lcg(&s, 0.0, 1.0);
			/* variant 4: every column the same, A of rank 1, from a start with
			 * several positive: the passive system is singular */
			for (int r = 0; variant == 4 && r < rows * n; r++)
				q[r] = q[r - r % n];
			for (int i = 0; i < n; i++)
			{
				for (int j = 0; j < n; j++)
				{
					double		sum = i == j ? ridge : 0.0;

					for (int r = 0; r < rows; r++)
						sum += (double) q[r * n + i] * q[r * n + j];
					a[i * n + j] = (float) sum;
				}
				/* some targets below what q fits */
				b[i] = (float) (rows * lcg(&s, -0.1, 1.0));
				x[i] = variant == 2 || variant == 4 ? (float) lcg(&s, -1.0, 3.0) : 0.0f;
			}
			rs_nnls(a, b, x, n, n_nonneg, ws, iws);
			for (int i = 0; i < n_nonneg; i++)
				zeros += x[i] == 0.0f;
			optimal = nnls_optimal(a, b, x, n, n_nonneg,
								   variant >= 3 ? 1e-4 : 1e-5, &worst);
			snprintf(what, sizeof(what),
					 "nnls n=%d %s: optimal (worst KKT violation %.1e, %d of %d at 0)",
					 n, variant == 1 ? "last free" : variant == 2 ? "warm start" :
					 variant == 3 ? "singular, no penalty" :
					 variant == 4 ? "rank 1, warm start" : "penalised",
					 worst, zeros, n_nonneg);
			ok(optimal, what);
			free(a);
			free(b);
			free(x);
			free(q);
			free(ws);
			free(iws);
		}
}

int
main(void)
{
	const int	sizes[] = {1, 7, 37, 100};
	const int	blocks[] = {1, 5, 16, 256};
	char		what[160];

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++)
		{
			int			n = sizes[s];
			int			nb = blocks[b];
			size_t		nn = (size_t) n * n;
			double	   *g = malloc(sizeof(double) * nn);
			double	   *p1 = malloc(sizeof(double) * nn);
			double	   *p2 = malloc(sizeof(double) * nn);
			double		diff = 0.0;
			double		scale = 0.0;
			double		resid = 0.0;
			int			i1,
						i2;

			random_spd(g, n, (unsigned) (n * 31 + nb));
			memcpy(p1, g, sizeof(double) * nn);
			memcpy(p2, g, sizeof(double) * nn);
			i1 = lapack_inverse(p1, n);
			checks = 0;
			i2 = rs_cholesky_inverse_blocked_d(p2, n, nb, count_check, NULL);
			/* Fortran's lower triangle: row-major j >= i */
			for (int i = 0; i < n; i++)
				for (int j = i; j < n; j++)
				{
					diff = fmax(diff, fabs(p1[i * n + j] - p2[i * n + j]));
					scale = fmax(scale, fabs(p1[i * n + j]));
				}
			/* G P = I, P from its upper triangle */
			for (int i = 0; i < n; i++)
				for (int j = 0; j < n; j++)
				{
					double		sum = 0.0;

					for (int k = 0; k < n; k++)
						sum += g[i * n + k] * (k <= j ? p2[k * n + j] : p2[j * n + k]);
					resid = fmax(resid, fabs(sum - (i == j ? 1.0 : 0.0)));
				}
			snprintf(what, sizeof(what),
					 "n %d, blocks of %d: as dpotrf + dpotri (max diff %.2g of %.2g), G P = I (%.2g), %d checks",
					 n, nb, diff, scale, resid, checks);
			ok(i1 == 0 && i2 == 0 && diff <= 1e-12 * fmax(scale, 1.0) && resid <= 1e-10 &&
			   checks == 3 * ((n + nb - 1) / nb), what);
			free(g);
			free(p1);
			free(p2);
		}

	/* a check that throws in the second pass: the call does not return */
	{
		int			n = 37;
		double	   *g = malloc(sizeof(double) * n * n);
		volatile int returned = 0;

		random_spd(g, n, 5);
		checks = 0;
		throw_at = 10;
		if (setjmp(thrown) == 0)
		{
			rs_cholesky_inverse_blocked_d(g, n, 5, count_check, NULL);
			returned = 1;
		}
		throw_at = -1;
		ok(!returned && checks == 10, "a check that throws ends the inversion between two blocks");
		free(g);
	}

	/* not positive definite: the failing column, as dpotrf reports it */
	{
		int			n = 12;
		double	   *g = malloc(sizeof(double) * n * n);
		double	   *h = malloc(sizeof(double) * n * n);
		int			i1,
					i2;

		random_spd(g, n, 9);
		g[9 * n + 9] = -1.0;
		memcpy(h, g, sizeof(double) * n * n);
		i1 = lapack_inverse(g, n);
		i2 = rs_cholesky_inverse_blocked_d(h, n, 4, count_check, NULL);
		snprintf(what, sizeof(what), "not positive definite: info %d (dpotrf %d)", i2, i1);
		ok(i1 > 0 && i2 == i1, what);
		free(g);
		free(h);
	}
	check_nnls();
	return failed;
}
