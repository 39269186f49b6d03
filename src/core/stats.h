/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  The statistics behind the fairness audits and the plain aggregates
 *	  recsys.anova, recsys.welch_t_test and recsys.kruskal_wallis:
 *	  regularised incomplete beta and gamma functions, survival functions
 *	  of the F, Student t and chi-squared distributions, and the three
 *	  tests computed from per-group summaries.
 *
 * Plain C on purpose (no PostgreSQL headers), like core.h: stats.c can be
 * compiled and checked outside the server.  Upper tails are computed
 * directly (never as 1 - lower), so p-values far below machine epsilon
 * (1e-30, 1e-300) keep their relative accuracy.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_STATS_H
#define RECSYS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Running summary of one group's values: count, mean and the sum of
 * squared deviations from the mean (Welford; merged with Chan et al.'s
 * formula, so partial summaries from parallel workers combine exactly).
 */
typedef struct RsMoments
{
	double		n;
	double		mean;
	double		m2;
} RsMoments;

/* The result of a test: NaN statistic when the test is undefined. */
typedef struct RsTestResult
{
	double		statistic;
	double		df1;			/* ANOVA: between; t and chi2: the df */
	double		df2;			/* ANOVA: within; otherwise NaN */
	double		p;
} RsTestResult;

/* A value and the group it belongs to, for rank tests. */
typedef struct RsGroupValue
{
	double		value;
	int32_t		group;
} RsGroupValue;

/* stats.c: special functions */
extern double rs_beta_inc(double a, double b, double x, double y, bool upper);
extern double rs_gamma_inc(double a, double x, bool upper);
extern double rs_f_sf(double f, double df1, double df2);
extern double rs_t_sf(double t, double df);
extern double rs_t_sf2(double t, double df);
extern double rs_chi2_sf(double x, double df);

/* stats.c: summaries */
extern void rs_moments_add(RsMoments *m, double x);
extern void rs_moments_merge(RsMoments *a, const RsMoments *b);

/* stats.c: tests (each returns false and a NaN result when undefined) */
extern bool rs_anova(const RsMoments *g, int ngroups, RsTestResult *out);
extern bool rs_welch(const RsMoments *a, const RsMoments *b, RsTestResult *out);
extern bool rs_kruskal(RsGroupValue *v, int64_t n, int ngroups, double *work,
					   RsTestResult *out);

#endif							/* RECSYS_STATS_H */
