/*-------------------------------------------------------------------------
 *
 * harness.c
 *	  The part of the core drivers they all share (see harness.h): RsEnv
 *	  services, triplet files, and the RsMatrix the loader would build.
 *
 *-------------------------------------------------------------------------
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *hn_progname = "core";

double
hn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
hn_die(const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s\n", hn_progname, msg, arg ? ": " : "",
			arg ? arg : "");
	exit(2);
}

void *
hn_calloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		hn_die("out of memory", NULL);
	return p;
}

/* --- RsEnv services --------------------------------------------------- */

static void *
env_alloc(void *arg, size_t size)
{
	HnEnv	   *h = (HnEnv *) arg;

	h->allocated += size;
	return hn_calloc(1, size);
}

static void
env_check(void *arg)
{
	HnEnv	   *h = (HnEnv *) arg;
	double		t = hn_now();

	if (t - h->last_check > h->max_gap)
		h->max_gap = t - h->last_check;
	h->last_check = t;
	h->checks++;
}

/* polled between chunks by rs_parallel_csr; a poll counts as a check */
static bool
env_pending(void *arg)
{
	HnEnv	   *h = (HnEnv *) arg;

	env_check(arg);
	h->polls++;
	return h->pending_every > 0 && h->polls % h->pending_every == 0;
}

static void
env_progress(void *arg, int iteration, double loss)
{
	HnEnv	   *h = (HnEnv *) arg;
	double		t = hn_now();

	if (h->n_iters == h->cap_iters)
	{
		h->cap_iters = h->cap_iters ? 2 * h->cap_iters : 64;
		h->iter_seconds = realloc(h->iter_seconds,
								  sizeof(double) * h->cap_iters);
		if (h->iter_seconds == NULL)
			hn_die("out of memory", NULL);
	}
	h->iter_seconds[h->n_iters++] = t - h->last_iter;
	if (h->on_progress)
		h->on_progress(h, iteration, loss, t - h->last_iter);
	fflush(stdout);
	h->last_iter = t;
}

static void
env_note(void *arg, const char *text)
{
	(void) arg;
	fprintf(stderr, "%s\n", text);
}

void
hn_env_init(HnEnv *h, RsEnv *env)
{
	memset(env, 0, sizeof(*env));
	env->alloc = env_alloc;
	env->check_interrupts = env_check;
	env->interrupt_pending = env_pending;
	env->progress = env_progress;
	env->note = env_note;
	env->arg = h;
	hn_env_start(h);
}

void
hn_env_start(HnEnv *h)
{
	h->last_check = h->last_iter = hn_now();
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

double
hn_median_iteration(HnEnv *h)
{
	double	   *times = h->iter_seconds + (h->n_iters > 1 ? 1 : 0);
	int			n = h->n_iters > 1 ? h->n_iters - 1 : h->n_iters;

	if (n <= 0)
		return 0.0;
	qsort(times, n, sizeof(double), cmp_double);
	return times[(n - 1) / 2];
}

/* --- triplet files ---------------------------------------------------- */

static void
trip_push(HnTriplets *t, int32_t u, int32_t i, float v, double ts)
{
	if (t->n == t->cap)
	{
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->u = realloc(t->u, sizeof(int32_t) * t->cap);
		t->i = realloc(t->i, sizeof(int32_t) * t->cap);
		t->v = realloc(t->v, sizeof(float) * t->cap);
		t->ts = realloc(t->ts, sizeof(double) * t->cap);
		if (!t->u || !t->i || !t->v || !t->ts)
			hn_die("out of memory", NULL);
	}
	t->u[t->n] = u;
	t->i[t->n] = i;
	t->v[t->n] = v;
	t->ts[t->n] = ts;
	t->n++;
}

static void
read_binary(const char *path, HnTriplets *t)
{
	FILE	   *f = fopen(path, "rb");
	long		size;
	unsigned char *buf;

	if (f == NULL)
		hn_die("cannot open", path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (size % 12 != 0)
		hn_die("binary file size is not a multiple of 12", path);
	buf = hn_calloc(1, size);
	if (fread(buf, 1, size, f) != (size_t) size)
		hn_die("short read", path);
	fclose(f);

	t->n = t->cap = size / 12;
	t->u = hn_calloc(t->n, sizeof(int32_t));
	t->i = hn_calloc(t->n, sizeof(int32_t));
	t->v = hn_calloc(t->n, sizeof(float));
	t->ts = NULL;
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
read_text(const char *path, HnTriplets *t)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	bool		all_ts = true;

	if (f == NULL)
		hn_die("cannot open", path);
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
			hn_die("bad line", line);
		if (u < 0 || i < 0 || u > INT32_MAX - 1 || i > INT32_MAX - 1)
			hn_die("id out of range", line);
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

void
hn_read_triplets(const char *path, HnTriplets *t)
{
	size_t		len = strlen(path);

	memset(t, 0, sizeof(*t));
	if (len > 4 && strcmp(path + len - 4, ".bin") == 0)
		read_binary(path, t);
	else
		read_text(path, t);
}

/* --- the matrix ------------------------------------------------------- */

/* Stable counting sort of perm[] by key[perm[x]] in [0, nkeys). */
static void
counting_sort(int64_t n, const int32_t *key, int32_t nkeys, int64_t *perm)
{
	int64_t    *start = hn_calloc((size_t) nkeys + 1, sizeof(int64_t));
	int64_t    *tmp = hn_calloc(n, sizeof(int64_t));

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

void
hn_build_matrix(const HnTriplets *t, int32_t min_users, int32_t min_items,
				RsMatrix *m)
{
	int64_t    *perm = hn_calloc(t->n, sizeof(int64_t));
	int64_t		nnz = 0;
	int64_t    *fill;
	double		sum = 0.0;

	memset(m, 0, sizeof(*m));
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

	m->user_ptr = hn_calloc((size_t) m->n_users + 1, sizeof(int64_t));
	m->user_items = hn_calloc(t->n, sizeof(int32_t));
	m->user_vals = hn_calloc(t->n, sizeof(float));
	m->user_ts = t->has_ts ? hn_calloc(t->n, sizeof(double)) : NULL;
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

	m->item_ptr = hn_calloc((size_t) m->n_items + 1, sizeof(int64_t));
	m->item_users = hn_calloc(nnz, sizeof(int32_t));
	m->item_vals = hn_calloc(nnz, sizeof(float));
	for (int64_t x = 0; x < nnz; x++)
		m->item_ptr[m->user_items[x] + 1]++;
	for (int32_t i = 0; i < m->n_items; i++)
		m->item_ptr[i + 1] += m->item_ptr[i];
	fill = hn_calloc((size_t) m->n_items, sizeof(int64_t));
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
