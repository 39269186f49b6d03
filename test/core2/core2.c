/*-------------------------------------------------------------------------
 *
 * core2.c
 *	  Standalone driver for the svd, bpr and popularity training cores:
 *	  reads a triplet file, builds the RsMatrix the loader would build,
 *	  trains, prints the loss history and timings, and optionally writes
 *	  the model as text.  It lets the cores be checked against reference
 *	  implementations (test/ref/) and timed without a server.
 *
 * Usage: core2 ALGORITHM FILE [key=value ...]
 *	ALGORITHM	svd, bpr or popularity
 *	FILE		text: one "user item value [timestamp]" per line ('#' starts a
 *				comment); or, if the name ends in ".bin", packed
 *				little-endian records (int32 user, int32 item, float32 value)
 *	keys		factors iterations lr reg reg_b init_std samples half_life
 *				seed threads: the RsParams fields; users=N items=N: at least
 *				that many (ids without interactions allowed); model=PATH
 *				writes the model; quiet=1 drops the per-epoch lines
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
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
die(const char *msg, const char *arg)
{
	fprintf(stderr, "core2: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die("out of memory", NULL);
	return p;
}

/* RsEnv services: calloc, no interrupts, a line per epoch. */
static size_t alloc_bytes;
static double epoch_start;
static bool quiet;

static void *
env_alloc(void *arg, size_t size)
{
	(void) arg;
	alloc_bytes += size;
	return xcalloc(1, size);
}

static void
env_check(void *arg)
{
	(void) arg;
}

static bool
env_pending(void *arg)
{
	(void) arg;
	return false;
}

static void
env_progress(void *arg, int iteration, double loss)
{
	double		t = now();

	(void) arg;
	if (!quiet)
		printf("loss %d %.10g %.3f\n", iteration, loss, t - epoch_start);
	fflush(stdout);
	epoch_start = t;
}

/* Raw rows as read. */
typedef struct Triplets
{
	int64_t		n;
	int64_t		cap;
	int32_t    *u;
	int32_t    *i;
	float	   *v;
	double	   *ts;				/* NULL unless every text line had one */
	bool		has_ts;
} Triplets;

static void
trip_push(Triplets *t, int32_t u, int32_t i, float v, double ts)
{
	if (t->n == t->cap)
	{
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->u = realloc(t->u, sizeof(int32_t) * t->cap);
		t->i = realloc(t->i, sizeof(int32_t) * t->cap);
		t->v = realloc(t->v, sizeof(float) * t->cap);
		t->ts = realloc(t->ts, sizeof(double) * t->cap);
		if (!t->u || !t->i || !t->v || !t->ts)
			die("out of memory", NULL);
	}
	t->u[t->n] = u;
	t->i[t->n] = i;
	t->v[t->n] = v;
	t->ts[t->n] = ts;
	t->n++;
}

static void
read_binary(const char *path, Triplets *t)
{
	FILE	   *f = fopen(path, "rb");
	long		size;
	unsigned char *buf;

	if (f == NULL)
		die("cannot open", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (size % 12 != 0)
		die("binary file size is not a multiple of 12", path);
	buf = xcalloc(1, size);
	if (fread(buf, 1, size, f) != (size_t) size)
		die("short read", path);
	fclose(f);

	t->n = t->cap = size / 12;
	t->u = xcalloc(t->n, sizeof(int32_t));
	t->i = xcalloc(t->n, sizeof(int32_t));
	t->v = xcalloc(t->n, sizeof(float));
	for (int64_t x = 0; x < t->n; x++)
	{
		memcpy(&t->u[x], buf + 12 * x, 4);
		memcpy(&t->i[x], buf + 12 * x + 4, 4);
		memcpy(&t->v[x], buf + 12 * x + 8, 4);
	}
	free(buf);
	t->has_ts = false;
}

static void
read_text(const char *path, Triplets *t)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	bool		all_ts = true;

	if (f == NULL)
		die("cannot open", path);
	while (fgets(line, sizeof(line), f))
	{
		long		u,
					i;
		double		v,
					ts;
		int			got;
		char	   *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		got = sscanf(line, "%ld %ld %lf %lf", &u, &i, &v, &ts);
		if (got <= 0)
			continue;
		if (got < 3)
			die("bad line", line);
		if (u < 0 || i < 0 || u > INT32_MAX - 1 || i > INT32_MAX - 1)
			die("id out of range", line);
		if (got < 4)
		{
			all_ts = false;
			ts = 0;
		}
		trip_push(t, (int32_t) u, (int32_t) i, (float) v, ts);
	}
	fclose(f);
	t->has_ts = all_ts && t->n > 0;
}

/* Stable counting sort of perm[] by key[perm[x]] in [0, nkeys). */
static void
counting_sort(int64_t n, const int32_t *key, int32_t nkeys, int64_t *perm)
{
	int64_t    *start = xcalloc((size_t) nkeys + 1, sizeof(int64_t));
	int64_t    *tmp = xcalloc(n, sizeof(int64_t));

	for (int64_t x = 0; x < n; x++)
		start[key[perm[x]] + 1]++;
	for (int32_t k = 0; k < nkeys; k++)
		start[k + 1] += start[k];
	for (int64_t x = 0; x < n; x++)
		tmp[start[key[perm[x]]]++] = perm[x];
	memcpy(perm, tmp, sizeof(int64_t) * n);
	free(tmp);
	free(start);
}

/* Both CSR forms, duplicates merged (last wins), as the loader does. */
static void
build_matrix(const Triplets *t, RsMatrix *m, int32_t min_users,
			 int32_t min_items)
{
	int64_t    *perm = xcalloc(t->n, sizeof(int64_t));
	int64_t		nnz = 0;
	int64_t    *fill;
	double		sum = 0.0;

	m->n_users = min_users;
	m->n_items = min_items;
	for (int64_t x = 0; x < t->n; x++)
	{
		if (t->u[x] + 1 > m->n_users)
			m->n_users = t->u[x] + 1;
		if (t->i[x] + 1 > m->n_items)
			m->n_items = t->i[x] + 1;
		perm[x] = x;
	}

	/* by item, then stably by user: rows by user with items ascending */
	counting_sort(t->n, t->i, m->n_items, perm);
	counting_sort(t->n, t->u, m->n_users, perm);

	m->user_ptr = xcalloc((size_t) m->n_users + 1, sizeof(int64_t));
	m->user_items = xcalloc(t->n, sizeof(int32_t));
	m->user_vals = xcalloc(t->n, sizeof(float));
	m->user_ts = t->has_ts ? xcalloc(t->n, sizeof(double)) : NULL;
	for (int64_t x = 0; x < t->n; x++)
	{
		int64_t		r = perm[x];

		/* equal (user, item) are adjacent and in file order: keep the last */
		if (nnz > 0 && x > 0 && t->u[perm[x - 1]] == t->u[r] &&
			t->i[perm[x - 1]] == t->i[r])
			nnz--;
		else
			m->user_ptr[t->u[r] + 1]++;
		m->user_items[nnz] = t->i[r];
		m->user_vals[nnz] = t->v[r];
		if (m->user_ts)
			m->user_ts[nnz] = t->ts[r];
		nnz++;
	}
	for (int32_t u = 0; u < m->n_users; u++)
		m->user_ptr[u + 1] += m->user_ptr[u];
	m->nnz = nnz;
	free(perm);

	m->item_ptr = xcalloc((size_t) m->n_items + 1, sizeof(int64_t));
	m->item_users = xcalloc(nnz, sizeof(int32_t));
	m->item_vals = xcalloc(nnz, sizeof(float));
	for (int64_t x = 0; x < nnz; x++)
		m->item_ptr[m->user_items[x] + 1]++;
	for (int32_t i = 0; i < m->n_items; i++)
		m->item_ptr[i + 1] += m->item_ptr[i];
	fill = xcalloc((size_t) m->n_items, sizeof(int64_t));
	for (int32_t i = 0; i < m->n_items; i++)
		fill[i] = m->item_ptr[i];
	for (int32_t u = 0; u < m->n_users; u++)
	{
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			int64_t		y = fill[m->user_items[x]]++;

			m->item_users[y] = u;
			m->item_vals[y] = m->user_vals[x];
			sum += m->user_vals[x];
		}
	}
	free(fill);
	m->mean = nnz > 0 ? sum / nnz : 0.0;
}

static void
write_model(const char *path, const char *algo, const RsModel *md)
{
	FILE	   *f = fopen(path, "w");
	int			k = md->factors;

	if (f == NULL)
		die("cannot write", path);
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
	Triplets	t;
	const char *algo;
	const char *path;
	const char *model_path = NULL;
	int32_t		min_users = 0;
	int32_t		min_items = 0;
	double		t0,
				t1;

	if (argc < 3)
		die("usage: core2 svd|bpr|popularity FILE [key=value ...]", NULL);
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
	else if (strcmp(algo, "bpr") == 0)
	{
		p.learning_rate = 0.05;
		p.regularization = 0.01;
	}
	else if (strcmp(algo, "popularity") != 0)
		die("unknown algorithm", algo);

	for (int a = 3; a < argc; a++)
	{
		char	   *eq = strchr(argv[a], '=');
		const char *val;

		if (eq == NULL)
			die("expected key=value", argv[a]);
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
		else if (strcmp(argv[a], "samples") == 0)
			p.samples = atoi(val);
		else if (strcmp(argv[a], "half_life") == 0)
			p.half_life_days = atof(val);
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
			die("unknown key", argv[a]);
	}

	t0 = now();
	memset(&t, 0, sizeof(t));
	{
		size_t		len = strlen(path);

		if (len > 4 && strcmp(path + len - 4, ".bin") == 0)
			read_binary(path, &t);
		else
			read_text(path, &t);
	}
	memset(&m, 0, sizeof(m));
	build_matrix(&t, &m, min_users, min_items);
	t1 = now();
	printf("data %d %d %lld %.3f\n", m.n_users, m.n_items, (long long) m.nnz,
		   t1 - t0);
	fflush(stdout);

	env.alloc = env_alloc;
	env.check_interrupts = env_check;
	env.interrupt_pending = env_pending;
	env.progress = env_progress;
	env.arg = NULL;
	memset(&md, 0, sizeof(md));

	t0 = epoch_start = now();
	if (strcmp(algo, "svd") == 0)
		rs_train_svd(&m, &p, &env, &md);
	else if (strcmp(algo, "bpr") == 0)
		rs_train_bpr(&m, &p, &env, &md);
	else
		rs_train_popularity(&m, &p, &env, &md);
	t1 = now();
	printf("train %.3f alloc_mb %.1f\n", t1 - t0, alloc_bytes / 1048576.0);

	if (model_path)
		write_model(model_path, algo, &md);
	return 0;
}
