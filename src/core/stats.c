/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Special functions and the three group-comparison tests behind the
 *	  fairness audits (see stats.h).  Plain C: no PostgreSQL headers.
 *
 * Incomplete beta: the continued fraction of Abramowitz & Stegun 26.5.8,
 * evaluated by the modified Lentz method on whichever side of the mean it
 * converges fast; the other tail follows from the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) only when it is the larger of the two, so a
 * tiny tail is never the difference of two numbers close to 1.  Callers pass
 * x and y = 1 - x separately, each computed without cancellation.
 *
 * Incomplete gamma: the power series for P when x < a + 1, the continued
 * fraction (Lentz) for Q otherwise; the same rule for the complement.
 *
 * The log prefactors x^a y^b / B(a, b) and x^a e^-x / Gamma(a) are formed
 * with Stirling-series differences when an argument is large, because
 * lgamma(1e6) ~ 1.3e7 would otherwise cost ~1e-9 of relative accuracy in
 * p-values of tests on millions of rows; the beta continued fraction runs
 * in long double for the same reason (see beta_cf).  Against mpmath
 * (test/ref/stats_accuracy.py) the survival functions are within 3e-13
 * relative for degrees of freedom from 0.5 to 2e6.
 *
 *-------------------------------------------------------------------------
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

#define CF_EPS		1e-16
#define CF_TINY		1e-300
#define MAX_ITER	10000000

/* Stirling's series remainder: lgamma(x) - ((x - 0.5) ln x - x + 0.5 ln 2 pi), x >= 10 */
static double
stirling_corr(double x)
{
	double		x2 = 1.0 / (x * x);

	return (1.0 / 12.0 - x2 * (1.0 / 360.0 - x2 * (1.0 / 1260.0 -
			x2 * (1.0 / 1680.0 - x2 * (1.0 / 1188.0))))) / x;
}

/* log(1 + u) - u, accurate also for small |u| (where both are ~u) */
static double
log1pmx(double u)
{
	double		term,
				sum;

	if (fabs(u) > 0.25)
		return log1p(u) - u;
	/* -u^2/2 + u^3/3 - ... */
	term = -u * u;
	sum = term / 2.0;
	for (int k = 3; k < 200; k++)
	{
		double		t;

		term *= -u;
		t = term / k;
		sum += t;
		if (fabs(t) <= 1e-17 * fabs(sum))
			break;
	}
	return sum;
}

/* lgamma(a) - lgamma(a + b) for a >= 10 without the cancellation of two huge terms */
static double
lgamma_ratio(double a, double b)
{
	return -(a - 0.5) * log1p(b / a) - b * log(a + b) + b +
		stirling_corr(a) - stirling_corr(a + b);
}

/* ln B(a, b) */
static double
lbeta(double a, double b)
{
	double		big = a > b ? a : b;
	double		small = a > b ? b : a;

	if (big >= 10.0)
		return lgamma(small) + lgamma_ratio(big, small);
	return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/* ln x given x and y = 1 - x, whichever is accurate */
static inline double
log_of(double x, double y)
{
	return x > 0.5 ? log1p(-y) : log(x);
}

/* x^a y^b / (a B(a, b)) in log form */
static double
beta_log_front(double a, double b, double x, double y)
{
	return a * log_of(x, y) + b * log_of(y, x) - lbeta(a, b) - log(a);
}

/*
 * One term aa of a continued fraction by modified Lentz, in long double:
 * updates c and d (kept away from zero) and returns the factor d c that
 * multiplies the value so far.
 */
static inline long double
lentz_step(long double aa, long double *c, long double *d)
{
	*d = 1.0L + aa * *d;
	if (fabsl(*d) < CF_TINY)
		*d = CF_TINY;
	*c = 1.0L + aa / *c;
	if (fabsl(*c) < CF_TINY)
		*c = CF_TINY;
	*d = 1.0L / *d;
	return *d * *c;
}

/*
 * The continued fraction for I_x(a, b) / front (A&S 26.5.8), modified
 * Lentz, in long double.  Near the mean with a large a (Welch's t with a
 * million degrees of freedom, F with a huge df2) x is within 1e-6 of 1 and
 * the terms 1 + aa d cancel to a few digits: extended precision, and x
 * formed as 1 - y when y is the accurate one, keep the result to ~1e-13.
 */
static double
beta_cf(double a, double b, double x, double y)
{
	long double xl = x > 0.5 ? 1.0L - (long double) y : (long double) x;
	long double qab = (long double) a + b,
				qap = (long double) a + 1.0L,
				qam = (long double) a - 1.0L;
	long double c = 1.0L,
				d = 1.0L - qab * xl / qap,
				h;

	if (fabsl(d) < CF_TINY)
		d = CF_TINY;
	d = 1.0L / d;
	h = d;
	for (int m = 1; m < MAX_ITER; m++)
	{
		long double m2 = 2.0L * m;
		long double aa,
					del;

		aa = m * (b - m) * xl / ((qam + m2) * (a + m2));
		h *= lentz_step(aa, &c, &d);
		aa = -(a + m) * (qab + m) * xl / ((a + m2) * (qap + m2));
		del = lentz_step(aa, &c, &d);
		h *= del;
		if (fabsl(del - 1.0L) < CF_EPS)
			break;
	}
	return (double) h;
}

/*
 * Regularised incomplete beta I_x(a, b) (upper: 1 - I_x(a, b)), with
 * y = 1 - x given by the caller.
 */
double
rs_beta_inc(double a, double b, double x, double y, bool upper)
{
	double		t;

	if (isnan(a) || isnan(b) || isnan(x) || isnan(y) || a <= 0 || b <= 0)
		return NAN;
	if (x <= 0)
		return upper ? 1.0 : 0.0;
	if (y <= 0)
		return upper ? 0.0 : 1.0;
	if (x < (a + 1.0) / (a + b + 2.0))
	{
		t = exp(beta_log_front(a, b, x, y)) * beta_cf(a, b, x, y);
		return upper ? 1.0 - t : t;
	}
	/* the upper tail is the smaller one: compute it directly */
	t = exp(beta_log_front(b, a, y, x)) * beta_cf(b, a, y, x);
	return upper ? t : 1.0 - t;
}

/* ln(x^a e^-x / Gamma(a)) */
static double
gamma_log_front(double a, double x)
{
	if (a >= 10.0)
	{
		/* = a (ln(x/a) - x/a + 1) + 0.5 ln(a / 2 pi) - corr(a) */
		return a * log1pmx((x - a) / a) + 0.5 * log(a / (2.0 * M_PI)) - stirling_corr(a);
	}
	return a * log(x) - x - lgamma(a);
}

/* Regularised incomplete gamma P(a, x) (upper: Q(a, x) = 1 - P). */
double
rs_gamma_inc(double a, double x, bool upper)
{
	double		t;

	if (isnan(a) || isnan(x) || a <= 0)
		return NAN;
	if (x <= 0)
		return upper ? 1.0 : 0.0;
	if (isinf(x))
		return upper ? 0.0 : 1.0;
	if (x < a + 1.0)
	{
		/* series: P = front * sum x^n / (a (a+1) ... (a+n)) */
		double		ap = a,
					del = 1.0 / a,
					sum = del;

		for (int n = 1; n < MAX_ITER; n++)
		{
			ap += 1.0;
			del *= x / ap;
			sum += del;
			if (fabs(del) < fabs(sum) * CF_EPS)
				break;
		}
		t = exp(gamma_log_front(a, x)) * sum;
		return upper ? 1.0 - t : t;
	}
	else
	{
		/* continued fraction for Q (Lentz) */
		double		b = x + 1.0 - a,
					c = 1.0 / CF_TINY,
					d = 1.0 / b,
					h = d;

		for (int i = 1; i < MAX_ITER; i++)
		{
			double		an = -i * (i - a),
						del;

			b += 2.0;
			d = an * d + b;
			if (fabs(d) < CF_TINY)
				d = CF_TINY;
			c = b + an / c;
			if (fabs(c) < CF_TINY)
				c = CF_TINY;
			d = 1.0 / d;
			del = d * c;
			h *= del;
			if (fabs(del - 1.0) < CF_EPS)
				break;
		}
		t = exp(gamma_log_front(a, x)) * h;
		return upper ? t : 1.0 - t;
	}
}

/* P(F > f) for the F distribution with (df1, df2) degrees of freedom */
double
rs_f_sf(double f, double df1, double df2)
{
	double		s;

	if (isnan(f) || isnan(df1) || isnan(df2) || df1 <= 0 || df2 <= 0)
		return NAN;
	if (f <= 0)
		return 1.0;
	if (isinf(f))
		return 0.0;
	/* P(F > f) = I_x(df2/2, df1/2), x = df2 / (df2 + df1 f) */
	s = df2 + df1 * f;
	return rs_beta_inc(df2 / 2.0, df1 / 2.0, df2 / s, df1 * f / s, false);
}

/* P(|T| > |t|): the two-sided p-value of Student's t */
double
rs_t_sf2(double t, double df)
{
	double		t2,
				s;

	if (isnan(t) || isnan(df) || df <= 0)
		return NAN;
	if (isinf(t))
		return 0.0;
	t2 = t * t;
	if (isinf(t2))
		return 0.0;
	/* = I_x(df/2, 1/2), x = df / (df + t^2) */
	s = df + t2;
	return rs_beta_inc(df / 2.0, 0.5, df / s, t2 / s, false);
}

/* P(T > t) for Student's t with df degrees of freedom */
double
rs_t_sf(double t, double df)
{
	double		p2 = rs_t_sf2(t, df);

	if (isnan(p2))
		return NAN;
	return t >= 0 ? 0.5 * p2 : 1.0 - 0.5 * p2;
}

/* P(X > x) for chi-squared with df degrees of freedom */
double
rs_chi2_sf(double x, double df)
{
	if (isnan(x) || isnan(df) || df <= 0)
		return NAN;
	return rs_gamma_inc(df / 2.0, x / 2.0, true);
}

/* ----------------------------------------------------------------
 *		Per-group summaries
 * ----------------------------------------------------------------
 */

void
rs_moments_add(RsMoments *m, double x)
{
	double		d = x - m->mean;

	m->n += 1.0;
	m->mean += d / m->n;
	m->m2 += d * (x - m->mean);
}

void
rs_moments_merge(RsMoments *a, const RsMoments *b)
{
	double		n = a->n + b->n,
				d;

	if (b->n == 0)
		return;
	if (a->n == 0)
	{
		*a = *b;
		return;
	}
	d = b->mean - a->mean;
	a->m2 += b->m2 + d * d * a->n * b->n / n;
	a->mean += d * b->n / n;
	a->n = n;
}

static void
undefined(RsTestResult *out)
{
	out->statistic = NAN;
	out->df1 = NAN;
	out->df2 = NAN;
	out->p = NAN;
}

/*
 * One-way ANOVA over the groups with n > 0.  Undefined (false) with fewer
 * than two such groups, no residual degrees of freedom, or no variance
 * within the groups.
 */
bool
rs_anova(const RsMoments *g, int ngroups, RsTestResult *out)
{
	double		n = 0,
				sum = 0,
				grand,
				ssb = 0,
				ssw = 0;
	int			k = 0;

	undefined(out);
	for (int i = 0; i < ngroups; i++)
	{
		if (g[i].n <= 0)
			continue;
		k++;
		n += g[i].n;
		sum += g[i].n * g[i].mean;
	}
	if (k < 2 || n - k < 1)
		return false;
	grand = sum / n;
	for (int i = 0; i < ngroups; i++)
	{
		double		d;

		if (g[i].n <= 0)
			continue;
		d = g[i].mean - grand;
		ssb += g[i].n * d * d;
		ssw += g[i].m2;
	}
	out->df1 = k - 1;
	out->df2 = n - k;
	if (!(ssw > 0))
		return false;
	out->statistic = (ssb / out->df1) / (ssw / out->df2);
	out->p = rs_f_sf(out->statistic, out->df1, out->df2);
	return true;
}

/*
 * Welch's unequal-variance t-test of a against b (t > 0 when a's mean is
 * larger), two-sided p.  Undefined when a group has fewer than two values
 * or both have zero variance.
 */
bool
rs_welch(const RsMoments *a, const RsMoments *b, RsTestResult *out)
{
	double		va,
				vb,
				se2;

	undefined(out);
	if (a->n < 2 || b->n < 2)
		return false;
	va = a->m2 / (a->n - 1) / a->n;
	vb = b->m2 / (b->n - 1) / b->n;
	se2 = va + vb;
	if (!(se2 > 0))
		return false;
	out->statistic = (a->mean - b->mean) / sqrt(se2);
	out->df1 = se2 * se2 / (va * va / (a->n - 1) + vb * vb / (b->n - 1));
	out->p = rs_t_sf2(out->statistic, out->df1);
	return true;
}

static int
cmp_group_value(const void *pa, const void *pb)
{
	double		a = ((const RsGroupValue *) pa)->value;
	double		b = ((const RsGroupValue *) pb)->value;

	return a < b ? -1 : a > b ? 1 : 0;
}

/*
 * Kruskal-Wallis H with the tie correction, df = (groups with values) - 1.
 * Sorts v in place; work has room for 2 * ngroups doubles.  Undefined with
 * fewer than two non-empty groups or when every value is the same.
 *
 * H = 12 / (N (N+1)) * sum n_i (Rbar_i - (N+1)/2)^2 / (1 - sum (t^3 - t) / (N^3 - N)):
 * the centred form, so millions of ranks lose nothing to cancellation.
 */
bool
rs_kruskal(RsGroupValue *v, int64_t n, int ngroups, double *work, RsTestResult *out)
{
	double	   *rsum = work,
			   *cnt = work + ngroups;
	double		N = (double) n,
				ties = 0,
				h = 0,
				mid = (N + 1.0) / 2.0,
				corr;
	int			k = 0;

	undefined(out);
	for (int i = 0; i < 2 * ngroups; i++)
		work[i] = 0;
	if (n < 2)
		return false;
	qsort(v, (size_t) n, sizeof(RsGroupValue), cmp_group_value);
	for (int64_t i = 0; i < n;)
	{
		int64_t		j = i;
		double		rank,
					t;

		while (j + 1 < n && v[j + 1].value == v[i].value)
			j++;
		/* ranks i+1 .. j+1 share their mean */
		rank = (double) (i + j + 2) / 2.0;
		t = (double) (j - i + 1);
		ties += t * t * t - t;
		for (int64_t m = i; m <= j; m++)
		{
			rsum[v[m].group] += rank;
			cnt[v[m].group] += 1.0;
		}
		i = j + 1;
	}
	for (int g = 0; g < ngroups; g++)
	{
		double		d;

		if (cnt[g] <= 0)
			continue;
		k++;
		d = rsum[g] / cnt[g] - mid;
		h += cnt[g] * d * d;
	}
	if (k < 2)
		return false;
	out->df1 = k - 1;
	corr = 1.0 - ties / (N * N * N - N);
	if (!(corr > 0))
		return false;
	out->statistic = 12.0 / (N * (N + 1.0)) * h / corr;
	out->p = rs_chi2_sf(out->statistic, out->df1);
	return true;
}
