/*
 * stats_core: src/core/stats.c outside the server, for accuracy checks.
 *
 * Reads lines "f x df1 df2", "t x df 0" or "chi2 x df 0" and prints the
 * survival function P(X > x) of each with 17 significant digits;
 * test/ref/stats_accuracy.py compares them with mpmath at 50 digits.
 */
#include <stdio.h>
#include <string.h>

#include "stats.h"

int
main(void)
{
	char		fn[8];
	double		x,
				a,
				b;

	while (scanf("%7s %lf %lf %lf", fn, &x, &a, &b) == 4)
	{
		double		p;

		if (strcmp(fn, "f") == 0)
			p = rs_f_sf(x, a, b);
		else if (strcmp(fn, "t") == 0)
			p = rs_t_sf(x, a);
		else
			p = rs_chi2_sf(x, a);
		printf("%.17g\n", p);
	}
	return 0;
}
