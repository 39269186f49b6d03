/*-------------------------------------------------------------------------
 *
 * als_core.c
 *	  Driver of the alternating-least-squares cores (als, ials, nmf) outside the
 *	  server: reads a triplet file (harness.h), trains, and prints the
 *	  loss, the time per iteration, the longest gap between two interrupt
 *	  checks, and optionally every prediction or the whole model.
 *
 * Usage: als_core als|ials|nmf TRIPLETS [--options]	(see usage() below)
 *	TRIPLETS	a triplet file (harness.h: ".bin" packed records, or text)
 *
 * Model file (--model): int32 n_users, n_items, factors, has_bias;
 * float64 global_mean; then, if has_bias, float32 user_bias[n_users] and
 * item_bias[n_items]; then float32 user_factors[n_users][factors] and
 * item_factors[n_items][factors].
 *
 *-------------------------------------------------------------------------
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool quiet;

static void
print_progress(HnEnv *h, int iteration, double loss, double seconds)
{
	(void) h;
	if (!quiet)
		printf("iter %d loss %.9g seconds %.3f\n", iteration, loss, seconds);
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: als_core als|ials|nmf TRIPLETS [--factors K] [--iterations N]\n"
			"    [--reg L] [--bias-reg L] [--alpha A] [--init-std S]\n"
			"    [--cg-steps N] [--cholesky] [--threads T] [--seed S]\n"
			"    [--no-biases [--no-global-mean]]  (als without baseline)\n"
			"    [--predict] [--model FILE] [--quiet] [--pending-every N]\n"
			"    [--half-life SECONDS [--as-of SECONDS]]  (time decay; TRIPLETS a text file with times)\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *algo;
	const char *path;
	const char *model_path = NULL;
	bool		predict = false;
	double		half_life = 0.0;
	double		as_of = NAN;
	RsParams	p;
	RsMatrix	m;
	RsModel		out;
	RsEnv		env;
	HnEnv		st;
	HnTriplets	t;
	FILE	   *f;
	double		t0,
				t1;

	hn_progname = "als_core";
	if (argc < 3)
		usage();
	algo = argv[1];
	path = argv[2];

	memset(&p, 0, sizeof(p));
	p.factors = 64;
	p.iterations = 10;
	p.regularization = 0.05;
	p.bias_regularization = -1;
	p.alpha = 1.0;
	p.init_std = 0.1;
	p.cg_steps = 3;
	p.threads = 1;
	p.seed = 42;
	memset(&st, 0, sizeof(st));

	for (int a = 3; a < argc; a++)
	{
		const char *o = argv[a];
		const char *v = a + 1 < argc ? argv[a + 1] : NULL;

#define NEEDV() do { if (!v) usage(); a++; } while (0)
		if (strcmp(o, "--factors") == 0) { NEEDV(); p.factors = atoi(v); }
		else if (strcmp(o, "--iterations") == 0) { NEEDV(); p.iterations = atoi(v); }
		else if (strcmp(o, "--reg") == 0) { NEEDV(); p.regularization = atof(v); }
		else if (strcmp(o, "--bias-reg") == 0) { NEEDV(); p.bias_regularization = atof(v); }
		else if (strcmp(o, "--alpha") == 0) { NEEDV(); p.alpha = atof(v); }
		else if (strcmp(o, "--init-std") == 0) { NEEDV(); p.init_std = atof(v); }
		else if (strcmp(o, "--cg-steps") == 0) { NEEDV(); p.cg_steps = atoi(v); }
		else if (strcmp(o, "--threads") == 0) { NEEDV(); p.threads = atoi(v); }
		else if (strcmp(o, "--seed") == 0) { NEEDV(); p.seed = strtoull(v, NULL, 10); }
		else if (strcmp(o, "--model") == 0) { NEEDV(); model_path = v; }
		else if (strcmp(o, "--pending-every") == 0) { NEEDV(); st.pending_every = atol(v); }
		else if (strcmp(o, "--half-life") == 0) { NEEDV(); half_life = atof(v); }
		else if (strcmp(o, "--as-of") == 0) { NEEDV(); as_of = atof(v); }
		else if (strcmp(o, "--cholesky") == 0) p.cholesky = true;
		else if (strcmp(o, "--no-biases") == 0) p.no_biases = true;
		else if (strcmp(o, "--no-global-mean") == 0) p.no_global_mean = true;
		else if (strcmp(o, "--predict") == 0) predict = true;
		else if (strcmp(o, "--quiet") == 0) quiet = true;
		else usage();
#undef NEEDV
	}
	if (p.bias_regularization < 0)
		p.bias_regularization = p.regularization;

	hn_read_triplets(path, &t);
	hn_build_matrix(&t, 0, 0, &m);

	hn_env_init(&st, &env);
	st.on_progress = print_progress;
	if (half_life > 0)
	{
		if (m.user_ts == NULL)
		{
			fprintf(stderr, "als_core: --half-life needs a text matrix with times\n");
			return 1;
		}
		rs_decay_weights(&m, half_life, as_of, &env);
	}
	memset(&out, 0, sizeof(out));

	if (!quiet)
		printf("# %s: %d users, %d items, %lld interactions, k=%d, "
			   "threads=%d, %s\n", algo, m.n_users, m.n_items,
			   (long long) m.nnz, p.factors, p.threads,
			   p.cholesky || strcmp(algo, "nmf") == 0 ? "cholesky" : "cg");
	hn_env_start(&st);
	t0 = hn_now();
	if (strcmp(algo, "als") == 0)
		rs_train_als(&m, &p, &env, &out);
	else if (strcmp(algo, "ials") == 0)
		rs_train_ials(&m, &p, &env, &out);
	else if (strcmp(algo, "nmf") == 0)
		rs_train_nmf(&m, &p, &env, &out);
	else
		usage();
	t1 = hn_now();

	printf("seconds_per_iteration %.4f\n", hn_median_iteration(&st));
	printf("seconds_total %.4f\n", t1 - t0);
	printf("max_interrupt_gap_ms %.1f\n", st.max_gap * 1000.0);
	printf("memory_mib %.1f\n", st.allocated / 1048576.0);
	if (out.n_loss > 0)
		printf("final_loss %.9g\n", out.loss[out.n_loss - 1]);

	if (predict)
	{
		for (int32_t u = 0; u < out.n_users; u++)
			for (int32_t i = 0; i < out.n_items; i++)
			{
				double		r = out.global_mean;

				if (out.user_bias)
					r += out.user_bias[u];
				if (out.item_bias)
					r += out.item_bias[i];
				for (int j = 0; j < out.factors; j++)
					r += (double) out.user_factors[(size_t) u * out.factors + j] *
						out.item_factors[(size_t) i * out.factors + j];
				printf("pred %d %d %.6f\n", u, i, r);
			}
	}
	if (model_path)
	{
		int32_t		hdr[4] = {out.n_users, out.n_items, out.factors,
		out.user_bias != NULL};

		f = fopen(model_path, "wb");
		if (!f)
		{
			perror(model_path);
			return 1;
		}
		fwrite(hdr, sizeof(hdr), 1, f);
		fwrite(&out.global_mean, sizeof(double), 1, f);
		if (out.user_bias)
		{
			fwrite(out.user_bias, sizeof(float), out.n_users, f);
			fwrite(out.item_bias, sizeof(float), out.n_items, f);
		}
		fwrite(out.user_factors, sizeof(float),
			   (size_t) out.n_users * out.factors, f);
		fwrite(out.item_factors, sizeof(float),
			   (size_t) out.n_items * out.factors, f);
		fclose(f);
	}
	return 0;
}
