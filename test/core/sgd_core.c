/*-------------------------------------------------------------------------
 *
 * sgd_core.c
 *	  Driver of the svd, svdpp, bpr (stochastic gradient descent) and popularity
 *	  training cores outside the server: reads a triplet file and builds
 *	  the RsMatrix the loader would build (harness.h), trains, prints the
 *	  loss history and timings, and optionally writes the model as text.
 *	  It lets the cores be checked against reference implementations
 *	  (test/ref/) and timed without a server; sgd_core.py is its Python
 *	  side.
 *
 * Usage: sgd_core ALGORITHM FILE [key=value ...]
 *	ALGORITHM	svd, svdpp, bpr or popularity
 *	FILE		a triplet file (harness.h): text, one "user item value
 *				[timestamp]" per line ('#' starts a comment); or, if the name
 *				ends in ".bin", packed little-endian records (int32 user,
 *				int32 item, float32 value)
 *	keys		factors iterations lr reg reg_b init_std samples half_life
 *				seed threads: the RsParams fields; decay=SECONDS: time decay
 *				with that half-life (decay.c; FILE needs times); users=N items=N: at least
 *				that many (ids without interactions allowed); model=PATH
 *				writes the model; quiet=1 drops the per-epoch lines;
 *				svd: biases=0 (global_mean=0) trains without biases (and mu)
 *
 * Ids are used as dense ids (n_users = largest user id + 1).  A repeated
 * (user, item) keeps the last value in the file, its timestamp likewise.
 *
 * Output on stdout:
 *	loss ITER VALUE SECONDS		one line per epoch
 *	data USERS ITEMS NNZ LOAD_SECONDS
 *	train SECONDS
 *
 * Model file:
 *	model ALGO USERS ITEMS FACTORS GLOBAL_MEAN
 *	loss N L1 .. LN
 *	user ID BIAS F1 .. Fk		(BIAS 0 when the model has no user biases)
 *	item ID BIAS F1 .. Fk
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
		printf("loss %d %.10g %.3f\n", iteration, loss, seconds);
}

static void
write_model(const char *path, const char *algo, const RsModel *md)
{
	FILE	   *f = fopen(path, "w");
	int			k = md->factors;

	if (f == NULL)
		hn_die("cannot write", path);
	fprintf(f, "model %s %d %d %d %.17g\n", algo, md->n_users, md->n_items,
			k, md->global_mean);
	fprintf(f, "loss %d", md->n_loss);
	for (int l = 0; l < md->n_loss; l++)
		fprintf(f, " %.17g", md->loss[l]);
	fprintf(f, "\n");
	for (int32_t u = 0; u < md->n_users && md->user_factors; u++)
	{
		fprintf(f, "user %d %.9g", u, md->user_bias ? md->user_bias[u] : 0.0f);
		for (int c = 0; c < k; c++)
			fprintf(f, " %.9g", md->user_factors[(size_t) u * k + c]);
		fprintf(f, "\n");
	}
	for (int32_t i = 0; i < md->n_items; i++)
	{
		fprintf(f, "item %d %.9g", i, md->item_bias ? md->item_bias[i] : 0.0f);
		for (int c = 0; c < k && md->item_factors; c++)
			fprintf(f, " %.9g", md->item_factors[(size_t) i * k + c]);
		fprintf(f, "\n");
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	RsParams	p;
	RsMatrix	m;
	RsModel		md;
	RsEnv		env;
	HnEnv		h;
	HnTriplets	t;
	const char *algo;
	const char *path;
	const char *model_path = NULL;
	int32_t		min_users = 0;
	int32_t		min_items = 0;
	double		decay = 0.0;
	double		t0,
				t1;

	hn_progname = "sgd_core";
	if (argc < 3)
		hn_die("usage: sgd_core svd|svdpp|bpr|popularity FILE [key=value ...]", NULL);
	algo = argv[1];
	path = argv[2];

	/* the defaults recommended for the option parser (chosen by tune.py) */
	memset(&p, 0, sizeof(p));
	p.iterations = 20;
	p.factors = 64;
	p.init_std = 0.1;
	p.samples = 1;
	p.threads = 1;
	p.seed = 42;
	if (strcmp(algo, "svd") == 0)
	{
		p.iterations = 40;
		p.learning_rate = 0.02;
		p.regularization = 0.05;
		p.bias_regularization = 0.02;
	}
	else if (strcmp(algo, "svdpp") == 0)
	{
		/* the option parser's, with the penalty it chooses on planted data */
		p.factors = 20;
		p.iterations = 40;
		p.learning_rate = 0.015;
		p.regularization = 0.05;
		p.bias_regularization = 0.02;
	}
	else if (strcmp(algo, "bpr") == 0)
	{
		p.learning_rate = 0.05;
		p.regularization = 0.01;
	}
	else if (strcmp(algo, "popularity") != 0)
		hn_die("unknown algorithm", algo);

	for (int a = 3; a < argc; a++)
	{
		char	   *eq = strchr(argv[a], '=');
		const char *val;

		if (eq == NULL)
			hn_die("expected key=value", argv[a]);
		*eq = '\0';
		val = eq + 1;
		if (strcmp(argv[a], "factors") == 0)
			p.factors = atoi(val);
		else if (strcmp(argv[a], "iterations") == 0)
			p.iterations = atoi(val);
		else if (strcmp(argv[a], "lr") == 0)
			p.learning_rate = atof(val);
		else if (strcmp(argv[a], "reg") == 0)
			p.regularization = atof(val);
		else if (strcmp(argv[a], "reg_b") == 0)
			p.bias_regularization = atof(val);
		else if (strcmp(argv[a], "init_std") == 0)
			p.init_std = atof(val);
		else if (strcmp(argv[a], "biases") == 0)
			p.no_biases = atoi(val) == 0;
		else if (strcmp(argv[a], "global_mean") == 0)
			p.no_global_mean = atoi(val) == 0;
		else if (strcmp(argv[a], "samples") == 0)
			p.samples = atoi(val);
		else if (strcmp(argv[a], "half_life") == 0)
			p.half_life_days = atof(val);
		else if (strcmp(argv[a], "decay") == 0)
			decay = atof(val);
		else if (strcmp(argv[a], "seed") == 0)
			p.seed = strtoull(val, NULL, 10);
		else if (strcmp(argv[a], "threads") == 0)
			p.threads = atoi(val);
		else if (strcmp(argv[a], "users") == 0)
			min_users = atoi(val);
		else if (strcmp(argv[a], "items") == 0)
			min_items = atoi(val);
		else if (strcmp(argv[a], "model") == 0)
			model_path = val;
		else if (strcmp(argv[a], "quiet") == 0)
			quiet = atoi(val) != 0;
		else
			hn_die("unknown key", argv[a]);
	}

	t0 = hn_now();
	hn_read_triplets(path, &t);
	hn_build_matrix(&t, min_users, min_items, &m);
	t1 = hn_now();
	printf("data %d %d %lld %.3f\n", m.n_users, m.n_items, (long long) m.nnz,
		   t1 - t0);
	fflush(stdout);

	memset(&h, 0, sizeof(h));
	hn_env_init(&h, &env);
	h.on_progress = print_progress;
	memset(&md, 0, sizeof(md));
	if (decay > 0)
	{
		if (m.user_ts == NULL)
			hn_die("decay needs a text triplet file with times", path);
		rs_decay_weights(&m, decay, NAN, &env);
	}

	t0 = hn_now();
	hn_env_start(&h);
	if (strcmp(algo, "svd") == 0)
		rs_train_svd(&m, &p, &env, &md);
	else if (strcmp(algo, "svdpp") == 0)
		rs_train_svdpp(&m, &p, &env, &md);
	else if (strcmp(algo, "bpr") == 0)
		rs_train_bpr(&m, &p, &env, &md);
	else
		rs_train_popularity(&m, &p, &env, &md);
	t1 = hn_now();
	printf("train %.3f alloc_mb %.1f\n", t1 - t0, h.allocated / 1048576.0);

	if (model_path)
		write_model(model_path, algo, &md);
	return 0;
}
