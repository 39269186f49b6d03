/*-------------------------------------------------------------------------
 *
 * rs_core.c
 *	  Standalone driver for the training cores (als, ials): builds them
 *	  outside the server, reads a triplet file, trains, and prints the
 *	  loss, the time per iteration, the longest gap between two interrupt
 *	  checks, and optionally every prediction or the whole model.
 *
 * Triplet file: little-endian records of (int32 user, int32 item,
 * float32 value), dense 0-based ids, no duplicate pairs, no header.
 *
 * Model file (--model): int32 n_users, n_items, factors, has_bias;
 * float64 global_mean; then, if has_bias, float32 user_bias[n_users] and
 * item_bias[n_items]; then float32 user_factors[n_users][factors] and
 * item_factors[n_items][factors].
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Triplet
{
	int32_t		user;
	int32_t		item;
	float		value;
} Triplet;

typedef struct DriverState
{
	double		start;
	double		last_check;
	double		max_gap;
	long		checks;
	double		last_iter;
	bool		quiet;
	size_t		allocated;
	long		polls;
	long		pending_every;
	double	   *iter_seconds;	/* per iteration; the first includes setup */
	int			n_iters;
} DriverState;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *
drv_alloc(void *arg, size_t size)
{
	DriverState *st = (DriverState *) arg;
	void	   *p = calloc(1, size ? size : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory (%zu bytes)\n", size);
		exit(2);
	}
	st->allocated += size;
	return p;
}

static void
drv_check(void *arg)
{
	DriverState *st = (DriverState *) arg;
	double		t = now();

	if (t - st->last_check > st->max_gap)
		st->max_gap = t - st->last_check;
	st->last_check = t;
	st->checks++;
}

/*
 * Polled between chunks by rs_parallel_csr; a poll is an interrupt check
 * for the gap statistics.  With --pending-every N every Nth poll says an
 * interrupt is pending (and drv_check then finds none to act on): the core
 * must stop handing out chunks, wait, and carry on to the same model.
 */
static bool
drv_pending(void *arg)
{
	DriverState *st = (DriverState *) arg;

	drv_check(arg);
	st->polls++;
	return st->pending_every > 0 && st->polls % st->pending_every == 0;
}

static void
drv_progress(void *arg, int iteration, double loss)
{
	DriverState *st = (DriverState *) arg;
	double		t = now();

	if (!st->quiet)
		printf("iter %d loss %.9g seconds %.3f\n", iteration, loss,
			   t - st->last_iter);
	st->iter_seconds[st->n_iters++] = t - st->last_iter;
	st->last_iter = t;
	fflush(stdout);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* CSR by one key from the rows in the order given (stable counting sort) */
static void
build_csr(const Triplet *t, const int64_t *order, int64_t nnz, int32_t n,
		  bool by_user, int64_t *ptr, int32_t *cols, float *vals,
		  int64_t *out_order)
{
	int64_t    *pos = calloc(n + 1, sizeof(int64_t));

	for (int64_t j = 0; j < nnz; j++)
		ptr[(by_user ? t[j].user : t[j].item) + 1]++;
	for (int32_t e = 0; e < n; e++)
		ptr[e + 1] += ptr[e];
	memcpy(pos, ptr, sizeof(int64_t) * (n + 1));
	for (int64_t jj = 0; jj < nnz; jj++)
	{
		int64_t		j = order ? order[jj] : jj;
		int32_t		key = by_user ? t[j].user : t[j].item;
		int64_t		dst = pos[key]++;

		cols[dst] = by_user ? t[j].item : t[j].user;
		vals[dst] = t[j].value;
		if (out_order)
			out_order[dst] = j;
	}
	free(pos);
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: rs_core als|ials TRIPLETS [--factors K] [--iterations N]\n"
			"    [--reg L] [--bias-reg L] [--alpha A] [--init-std S]\n"
			"    [--cg-steps N] [--cholesky] [--threads T] [--seed S]\n"
			"    [--predict] [--model FILE] [--quiet] [--pending-every N]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *algo;
	const char *path;
	const char *model_path = NULL;
	bool		predict = false;
	RsParams	p;
	RsMatrix	m;
	RsModel		out;
	RsEnv		env;
	DriverState st;
	FILE	   *f;
	long		bytes;
	int64_t		nnz;
	Triplet    *t;
	int64_t    *by_item;
	int64_t    *by_user;
	double		sum = 0.0;
	double		t0,
				t1;

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
		else if (strcmp(o, "--cholesky") == 0) p.cholesky = true;
		else if (strcmp(o, "--predict") == 0) predict = true;
		else if (strcmp(o, "--quiet") == 0) st.quiet = true;
		else usage();
#undef NEEDV
	}
	if (p.bias_regularization < 0)
		p.bias_regularization = p.regularization;

	f = fopen(path, "rb");
	if (!f)
	{
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	nnz = bytes / (int64_t) sizeof(Triplet);
	t = malloc(sizeof(Triplet) * (nnz > 0 ? nnz : 1));
	if (fread(t, sizeof(Triplet), nnz, f) != (size_t) nnz)
	{
		fprintf(stderr, "short read on %s\n", path);
		return 1;
	}
	fclose(f);

	memset(&m, 0, sizeof(m));
	m.nnz = nnz;
	for (int64_t j = 0; j < nnz; j++)
	{
		if (t[j].user + 1 > m.n_users)
			m.n_users = t[j].user + 1;
		if (t[j].item + 1 > m.n_items)
			m.n_items = t[j].item + 1;
		sum += t[j].value;
	}
	m.mean = nnz > 0 ? sum / nnz : 0.0;
	m.user_ptr = calloc(m.n_users + 1, sizeof(int64_t));
	m.user_items = malloc(sizeof(int32_t) * nnz);
	m.user_vals = malloc(sizeof(float) * nnz);
	m.item_ptr = calloc(m.n_items + 1, sizeof(int64_t));
	m.item_users = malloc(sizeof(int32_t) * nnz);
	m.item_vals = malloc(sizeof(float) * nnz);
	by_item = malloc(sizeof(int64_t) * (nnz > 0 ? nnz : 1));
	by_user = malloc(sizeof(int64_t) * (nnz > 0 ? nnz : 1));

	/* by item in input order, then by user in item order: both ascending */
	build_csr(t, NULL, nnz, m.n_items, false, m.item_ptr, m.item_users,
			  m.item_vals, by_item);
	build_csr(t, by_item, nnz, m.n_users, true, m.user_ptr, m.user_items,
			  m.user_vals, by_user);
	/* and the item CSR again from user order, so users ascend per item */
	memset(m.item_ptr, 0, sizeof(int64_t) * (m.n_items + 1));
	build_csr(t, by_user, nnz, m.n_items, false, m.item_ptr, m.item_users,
			  m.item_vals, NULL);
	free(by_item);
	free(by_user);
	free(t);

	st.iter_seconds = calloc(p.iterations > 0 ? p.iterations : 1, sizeof(double));
	if (st.iter_seconds == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	env.alloc = drv_alloc;
	env.check_interrupts = drv_check;
	env.interrupt_pending = drv_pending;
	env.progress = drv_progress;
	env.arg = &st;
	memset(&out, 0, sizeof(out));

	if (!st.quiet)
		printf("# %s: %d users, %d items, %lld interactions, k=%d, "
			   "threads=%d, %s\n", algo, m.n_users, m.n_items,
			   (long long) nnz, p.factors, p.threads,
			   p.cholesky ? "cholesky" : "cg");
	t0 = st.start = st.last_check = st.last_iter = now();
	if (strcmp(algo, "als") == 0)
		rs_train_als(&m, &p, &env, &out);
	else if (strcmp(algo, "ials") == 0)
		rs_train_ials(&m, &p, &env, &out);
	else
		usage();
	t1 = now();

	/*
	 * The median iteration, leaving out the first (it includes the setup)
	 * when there are more; the lower one of two middles.
	 */
	{
		double	   *times = st.iter_seconds + (st.n_iters > 1 ? 1 : 0);
		int			n = st.n_iters > 1 ? st.n_iters - 1 : st.n_iters;

		qsort(times, n, sizeof(double), cmp_double);
		printf("seconds_per_iteration %.4f\n", n > 0 ? times[(n - 1) / 2] : 0.0);
	}
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
