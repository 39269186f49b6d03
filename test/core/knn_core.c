/*-------------------------------------------------------------------------
 *
 * knn_core.c
 *	  Standalone driver for the neighbourhood-model core (src/core/knn.c) and
 *	  its scoring functions (src/core/knn_score.c): builds the RsMatrix the
 *	  loader would build from a triplet file, trains, and prints the lists,
 *	  the baseline biases and every (user, item) score, in the format of
 *	  test/ref/knn_ref.py, so the two can be compared line by line.
 *
 * Usage: knn_core FILE [key=value ...]
 *	FILE		text: one "user item value" per line; or, if the name ends in
 *				".bin", packed little-endian (int32 user, int32 item, float32
 *				value) records.  Dense 0-based ids, no duplicate pairs.
 *	algo=item|user k=K sim=cosine|adjusted_cosine|pearson|jaccard
 *	shrink=L min_support=N min_sim=S weighting=none|bm25|tfidf k1=.. b=..
 *	explicit=0|1 iterations=N bias_reg=L threads=T
 *	users=N items=N		at least that many (ids without interactions)
 *	attrs=FILE			item attribute vectors, "item v1 v2 ..." per line
 *	attr_only=1			every item's neighbours from the attributes
 *	quiet=1				print only the timing summary (for big inputs)
 *	scores=0			print the lists and biases but not the scores
 *	paths=N				rs_knn_test_paths (train.h): 1 one-sided, 2 touched
 *						lists, 4 full scans; sums of those
 *
 * Output: "nbr E RANK NEIGHBOUR SIM SUPPORT", "bu U B", "bi I B",
 * "score U I S" (all users x items; skipped with quiet=1), then on stderr
 * seconds, the longest gap between interrupt checks and the memory
 * allocated.  Any predict_item/predict_user result that differs from the
 * all-items score prints "MISMATCH" on stdout.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "knn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Drv
{
	double		last_check;
	double		max_gap;
	size_t		allocated;
} Drv;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
	{
		fprintf(stderr, "knn_core: out of memory\n");
		exit(2);
	}
	return p;
}

static void *
drv_alloc(void *arg, size_t size)
{
	((Drv *) arg)->allocated += size;
	return xcalloc(1, size);
}

static void
drv_check(void *arg)
{
	Drv		   *d = (Drv *) arg;
	double		t = now();

	if (t - d->last_check > d->max_gap)
		d->max_gap = t - d->last_check;
	d->last_check = t;
}

/* a poll between chunks counts as a check; never an interrupt here */
static bool
drv_pending(void *arg)
{
	drv_check(arg);
	return false;
}

static void
drv_progress(void *arg, int iteration, double loss)
{
	(void) arg;
	fprintf(stderr, "iteration %d loss %.9g\n", iteration, loss);
}

static void
drv_note(void *arg, const char *text)
{
	(void) arg;
	fprintf(stderr, "%s\n", text);
}

typedef struct Trip
{
	int32_t		u;
	int32_t		i;
	float		v;
} Trip;

/* CSR by one side from triplets sorted by (that side, other side) */
static int
cmp_ui(const void *a, const void *b)
{
	const Trip *x = a;
	const Trip *y = b;

	if (x->u != y->u)
		return x->u < y->u ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

static int
cmp_iu(const void *a, const void *b)
{
	const Trip *x = a;
	const Trip *y = b;

	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return (x->u > y->u) - (x->u < y->u);
}

static const char *
arg(int argc, char **argv, const char *key, const char *dflt)
{
	size_t		len = strlen(key);

	for (int a = 2; a < argc; a++)
		if (strncmp(argv[a], key, len) == 0 && argv[a][len] == '=')
			return argv[a] + len + 1;
	return dflt;
}

int
main(int argc, char **argv)
{
	const char *path;
	Trip	   *t = NULL;
	int64_t		n = 0;
	int64_t		cap = 0;
	RsMatrix	m;
	RsParams	p;
	RsModel		out;
	RsEnv		env;
	Drv			drv;
	const char *sim;
	const char *w;
	const char *attrs;
	bool		quiet;
	double		sum = 0.0;
	double		t0;
	double		t1;
	size_t		plen;

	if (argc < 2)
	{
		fprintf(stderr, "usage: knn_core FILE [key=value ...]\n");
		return 1;
	}
	path = argv[1];
	plen = strlen(path);
	if (plen > 4 && strcmp(path + plen - 4, ".bin") == 0)
	{
		FILE	   *f = fopen(path, "rb");
		long		bytes;

		if (!f)
		{
			perror(path);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		bytes = ftell(f);
		fseek(f, 0, SEEK_SET);
		n = bytes / (long) sizeof(Trip);
		t = xcalloc(n, sizeof(Trip));
		if (fread(t, sizeof(Trip), n, f) != (size_t) n)
		{
			fprintf(stderr, "short read\n");
			return 1;
		}
		fclose(f);
	}
	else
	{
		FILE	   *f = fopen(path, "r");
		Trip		x;

		if (!f)
		{
			perror(path);
			return 1;
		}
		while (fscanf(f, "%d %d %f", &x.u, &x.i, &x.v) == 3)
		{
			if (n == cap)
			{
				cap = cap ? cap * 2 : 1024;
				t = realloc(t, sizeof(Trip) * cap);
			}
			t[n++] = x;
		}
		fclose(f);
	}

	memset(&m, 0, sizeof(m));
	m.n_users = atoi(arg(argc, argv, "users", "0"));
	m.n_items = atoi(arg(argc, argv, "items", "0"));
	for (int64_t k = 0; k < n; k++)
	{
		if (t[k].u + 1 > m.n_users)
			m.n_users = t[k].u + 1;
		if (t[k].i + 1 > m.n_items)
			m.n_items = t[k].i + 1;
		sum += t[k].v;
	}
	m.nnz = n;
	m.mean = n > 0 ? sum / n : 0.0;
	m.user_ptr = xcalloc(m.n_users + 1, sizeof(int64_t));
	m.user_items = xcalloc(n, sizeof(int32_t));
	m.user_vals = xcalloc(n, sizeof(float));
	m.item_ptr = xcalloc(m.n_items + 1, sizeof(int64_t));
	m.item_users = xcalloc(n, sizeof(int32_t));
	m.item_vals = xcalloc(n, sizeof(float));
	qsort(t, n, sizeof(Trip), cmp_ui);
	for (int64_t k = 0; k < n; k++)
	{
		m.user_ptr[t[k].u + 1]++;
		m.user_items[k] = t[k].i;
		m.user_vals[k] = t[k].v;
	}
	for (int32_t u = 0; u < m.n_users; u++)
		m.user_ptr[u + 1] += m.user_ptr[u];
	qsort(t, n, sizeof(Trip), cmp_iu);
	for (int64_t k = 0; k < n; k++)
	{
		m.item_ptr[t[k].i + 1]++;
		m.item_users[k] = t[k].u;
		m.item_vals[k] = t[k].v;
	}
	for (int32_t i = 0; i < m.n_items; i++)
		m.item_ptr[i + 1] += m.item_ptr[i];
	free(t);

	attrs = arg(argc, argv, "attrs", NULL);
	if (attrs)
	{
		FILE	   *f = fopen(attrs, "r");
		char		line[4096];

		if (!f)
		{
			perror(attrs);
			return 1;
		}
		m.item_has_attr = xcalloc(m.n_items, sizeof(bool));
		while (fgets(line, sizeof(line), f))
		{
			char	   *s = line;
			char	   *end;
			int			item = (int) strtol(s, &end, 10);
			float		v[64];
			int			d = 0;

			if (end == s)
				continue;
			s = end;
			for (;;)
			{
				float		x = strtof(s, &end);

				if (end == s)
					break;
				v[d++] = x;
				s = end;
			}
			if (m.item_attr == NULL)
			{
				m.attr_dims = d;
				m.item_attr = xcalloc((size_t) m.n_items * d, sizeof(float));
			}
			if (item >= m.n_items || d != m.attr_dims)
			{
				fprintf(stderr, "bad attribute line for item %d\n", item);
				return 1;
			}
			memcpy(m.item_attr + (size_t) item * d, v, sizeof(float) * d);
			m.item_has_attr[item] = true;
		}
		fclose(f);
	}

	memset(&p, 0, sizeof(p));
	p.user_based = strcmp(arg(argc, argv, "algo", "item"), "user") == 0;
	p.neighbors = atoi(arg(argc, argv, "k", "50"));
	sim = arg(argc, argv, "sim", "cosine");
	p.similarity = strcmp(sim, "adjusted_cosine") == 0 ? RS_SIM_ADJUSTED_COSINE :
		strcmp(sim, "pearson") == 0 ? RS_SIM_PEARSON :
		strcmp(sim, "jaccard") == 0 ? RS_SIM_JACCARD : RS_SIM_COSINE;
	p.shrinkage = atof(arg(argc, argv, "shrink", "0"));
	p.min_support = atoi(arg(argc, argv, "min_support", "1"));
	p.min_similarity = atof(arg(argc, argv, "min_sim", "0"));
	w = arg(argc, argv, "weighting", "none");
	p.weighting = strcmp(w, "bm25") == 0 ? RS_WEIGHT_BM25 :
		strcmp(w, "tfidf") == 0 ? RS_WEIGHT_TFIDF : RS_WEIGHT_NONE;
	p.bm25_k1 = atof(arg(argc, argv, "k1", "1.2"));
	p.bm25_b = atof(arg(argc, argv, "b", "0.75"));
	p.explicit_feedback = atoi(arg(argc, argv, "explicit", "0")) != 0;
	p.iterations = atoi(arg(argc, argv, "iterations", "10"));
	p.bias_regularization = atof(arg(argc, argv, "bias_reg", "10"));
	p.attributes_only = atoi(arg(argc, argv, "attr_only", "0")) != 0;
	p.threads = atoi(arg(argc, argv, "threads", "1"));
	quiet = atoi(arg(argc, argv, "quiet", "0")) != 0;
	rs_knn_test_paths = atoi(arg(argc, argv, "paths", "0"));

	memset(&drv, 0, sizeof(drv));
	env.alloc = drv_alloc;
	env.check_interrupts = drv_check;
	env.interrupt_pending = drv_pending;
	env.progress = drv_progress;
	env.note = drv_note;
	env.arg = &drv;
	memset(&out, 0, sizeof(out));

	t0 = drv.last_check = now();
	rs_train_knn(&m, &p, &env, &out);
	t1 = now();
	fprintf(stderr, "seconds %.3f\nmax_interrupt_gap_ms %.1f\nmemory_mib %.1f\n",
			t1 - t0, drv.max_gap * 1000.0, drv.allocated / 1048576.0);
	if (quiet)
		return 0;

	for (int32_t e = 0; e < out.n_lists; e++)
		for (int64_t k = out.nbr_ptr[e]; k < out.nbr_ptr[e + 1]; k++)
			printf("nbr %d %d %d %.6f %d\n", e, (int) (k - out.nbr_ptr[e] + 1),
				   out.nbr_idx[k], out.nbr_sim[k], out.nbr_support[k]);
	if (p.explicit_feedback)
	{
		for (int32_t u = 0; u < m.n_users; u++)
			printf("bu %d %.6f\n", u, out.user_bias[u]);
		for (int32_t i = 0; i < m.n_items; i++)
			printf("bi %d %.6f\n", i, out.item_bias[i]);
	}

	/* scores through the serving functions, from the lists just built */
	if (atoi(arg(argc, argv, "scores", "1")) != 0)
	{
		RsKnnModel km;
		float	   *scores = xcalloc(m.n_items, sizeof(float));
		float	   *work = xcalloc(m.n_items, sizeof(float));
		RsKnnUser  *users = xcalloc(m.n_users, sizeof(RsKnnUser));

		memset(&km, 0, sizeof(km));
		km.user_based = p.user_based;
		km.explicit_feedback = p.explicit_feedback;
		km.n_items = m.n_items;
		km.global_mean = out.global_mean;
		km.item_bias = out.item_bias;
		for (int32_t u = 0; u < m.n_users; u++)
		{
			users[u].n = (int32_t) (m.user_ptr[u + 1] - m.user_ptr[u]);
			users[u].items = m.user_items + m.user_ptr[u];
			users[u].ratings = p.explicit_feedback ? m.user_vals + m.user_ptr[u] : NULL;
			users[u].bias = out.user_bias ? out.user_bias[u] : 0.0f;
		}
		if (!p.user_based)
		{
			km.n_lists = out.n_lists;
			km.ptr = out.nbr_ptr;
			km.nbr = out.nbr_idx;
			km.sim = out.nbr_sim;
			rs_knn_build_reverse(&km, xcalloc(m.n_items + 1, sizeof(int64_t)),
								 xcalloc(out.nbr_ptr[out.n_lists], sizeof(int32_t)),
								 xcalloc(out.nbr_ptr[out.n_lists], sizeof(float)));
		}
		for (int32_t u = 0; u < m.n_users; u++)
		{
			RsKnnUser  *nbrs = NULL;
			int32_t		nn = 0;
			const float *nsim = NULL;

			if (p.user_based)
			{
				nn = (int32_t) (out.nbr_ptr[u + 1] - out.nbr_ptr[u]);
				nsim = out.nbr_sim + out.nbr_ptr[u];
				nbrs = xcalloc(nn, sizeof(RsKnnUser));
				for (int32_t v = 0; v < nn; v++)
					nbrs[v] = users[out.nbr_idx[out.nbr_ptr[u] + v]];
				rs_knn_score_users(&km, &users[u], nn, nsim, nbrs, scores, work);
			}
			else
				rs_knn_score_items(&km, &users[u], scores, work);
			for (int32_t i = 0; i < m.n_items; i++)
			{
				float		one = p.user_based ?
					rs_knn_predict_user(&km, &users[u], nn, nsim, nbrs, i) :
					rs_knn_predict_item(&km, &users[u], i);

				printf("score %d %d %.6f\n", u, i, scores[i]);
				if (memcmp(&one, &scores[i], sizeof(float)) != 0)
					printf("MISMATCH predict %d %d %.9g vs %.9g\n", u, i, one, scores[i]);
			}
			free(nbrs);
		}
	}
	return 0;
}
