/*-------------------------------------------------------------------------
 *
 * explain_core.c
 *	  Driver of the explanations' factor arithmetic (src/core/explain.c)
 *	  outside the server, for test/ref/explain_ref.py: reads one problem on
 *	  stdin, prints the terms rs_explain_factors() gives.
 *
 * Input (whitespace-separated):
 *	explicit k n_items alpha lambda lambda_b global_mean item
 *	n_items rows of k factors
 *	n_items item biases (explicit only)
 *	n, then n pairs "item value"
 * Output: "term ITEM VALUE" per interaction, in the input's order, then
 * "base GLOBAL_MEAN ITEM_BIAS"; or "not positive definite".
 *
 *-------------------------------------------------------------------------
 */
#include "explain.h"
#include "linalg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
need(int got)
{
	if (got != 1)
	{
		fprintf(stderr, "explain_core: malformed input\n");
		exit(2);
	}
}

int
main(void)
{
	int			expl;
	int			k;
	int			n_items;
	int			item;
	int			n;
	double		alpha, lambda, lambda_b, mu;
	float	   *y;
	float	   *bias = NULL;
	float	   *gram;
	int32_t    *idx;
	float	   *values;
	double	   *work;
	RsContribution *out;
	RsExplainBase base;
	RsFactorExplain f;

	if (scanf("%d %d %d %lf %lf %lf %lf %d", &expl, &k, &n_items, &alpha, &lambda,
			  &lambda_b, &mu, &item) != 8)
		need(0);
	y = malloc(sizeof(float) * (size_t) n_items * k);
	gram = malloc(sizeof(float) * (size_t) k * k);
	for (int e = 0; e < n_items * k; e++)
		need(scanf("%f", &y[e]));
	if (expl)
	{
		bias = malloc(sizeof(float) * (size_t) n_items);
		for (int e = 0; e < n_items; e++)
			need(scanf("%f", &bias[e]));
	}
	need(scanf("%d", &n));
	idx = malloc(sizeof(int32_t) * (size_t) n);
	values = malloc(sizeof(float) * (size_t) n);
	out = malloc(sizeof(RsContribution) * (size_t) n);
	work = malloc(sizeof(double) * (size_t) (k + 1) * (k + 2));
	for (int r = 0; r < n; r++)
	{
		need(scanf("%d", &idx[r]));
		need(scanf("%f", &values[r]));
	}

	rs_gram(y, n_items, k, k, gram);	/* as serving caches it */
	memset(&f, 0, sizeof(f));	/* (fields not read here: their defaults) */
	f.k = k;
	f.factors = y;
	f.explicit_feedback = expl != 0;
	f.gram = gram;
	f.alpha = alpha;
	f.lambda = lambda;
	f.lambda_b = lambda_b;
	f.global_mean = mu;
	f.item_bias = bias;
	if (!rs_explain_factors(&f, idx, values, NULL, n, item, work, &base, out))
	{
		printf("not positive definite\n");
		return 0;
	}
	for (int r = 0; r < n; r++)
		printf("term %d %.17g\n", out[r].who, out[r].value);
	printf("base %.17g %.17g\n", base.global_mean, base.item_bias);
	return 0;
}
