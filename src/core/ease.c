/*-------------------------------------------------------------------------
 *
 * ease.c
 *	  EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
 *	  2019): a dense item x item weight matrix B with a zero diagonal that
 *	  reconstructs each user's row of the interaction matrix X from the
 *	  same row.  Plain C; see core.h for the contract.
 *
 * The closed form.  With G = X^T X + lambda I and P = G^-1,
 *	  B_ji = -P_ji / P_ii  (j != i),  B_ii = 0,
 * which minimises |X - X B|^2 + lambda |B|^2 subject to diag(B) = 0.  The
 * score of item i for user u is sum_j X_uj B_ji.
 *
 * X.  The interaction values as loaded (1 per interaction without a value
 * column; duplicates summed), times the time-decay weights when there are
 * any (rs_weighted_values), exactly as the implicit neighbourhood models
 * read them.
 *
 * The model is stored and served as an item_knn model (knn.h): item i's
 * list holds the neighbours j with s_ij = B_ji, the `neighbors` largest in
 * magnitude (negative weights count: they push an item down), best first
 * by value, ties to the lower id.  Serving sums s_ij over the user's items
 * j, each counted once, so with binary X (no value column, no decay) and
 * every neighbour kept (neighbors >= items - 1) the served score is
 * exactly Steck's X_u B; fewer neighbours drop the smallest weights.
 * Supports are 0: B is not built from counts of common users.
 *
 * Computation.  G row by row from the diagonal on, each row by one thread
 * (row j sums x_uj x_uk over the users u of item j and their items k >= j,
 * in CSR order, so the result does not depend on the number of threads);
 * then the Cholesky factor and the inverse from it (LAPACK's blocked
 * algorithms of dpotrf, dtrtri and dlauum, OpenBLAS with the run's
 * threads, checking for interrupts between blocks:
 * rs_cholesky_inverse_blocked_d); then the lists, one item per thread
 * with its own scratch.  Memory: the n x n
 * doubles of G (P overwrites it) plus the lists; the caller checks the
 * memory limit before (rs_ease_bytes).
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "knn.h"
#include "linalg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Interactions summed per chunk of Gram rows between interrupt checks. */
#define EASE_CHUNK_NNZ	(INT64_C(1) << 14)
/*
 * Columns per block of the inversion, between interrupt checks: a block's
 * largest update is about n^2 EASE_BLOCK multiply-adds (16k items: ~1 s).
 */
#define EASE_BLOCK		256
/* Items whose lists are chosen per chunk between interrupt checks. */
#define EASE_LIST_CHUNK 64

typedef struct EaseGram
{
	const RsMatrix *m;
	double	   *g;
} EaseGram;

/*
 * Rows [begin, end) of X^T X, each from its diagonal on: the inversion
 * reads only that triangle.  A user's row of the matrix is sorted by item
 * (the loader's order), so item j's place in it is found by bisection.
 */
static void
gram_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
	EaseGram   *e = (EaseGram *) ctx;
	const RsMatrix *m = e->m;
	int64_t		n = m->n_items;

	(void) thread;
	for (int64_t j = begin; j < end; j++)
	{
		double	   *row = e->g + j * n;

		for (int64_t x = m->item_ptr[j]; x < m->item_ptr[j + 1]; x++)
		{
			int32_t		u = m->item_users[x];
			double		xuj = m->item_vals[x];
			int64_t		first = m->user_ptr[u];
			int64_t		last = m->user_ptr[u + 1];

			/* u has item j: its place in u's row */
			first += rs_knn_find_sorted(m->user_items + first, last - first, (int32_t) j);
			for (int64_t y = first; y < last; y++)
				row[m->user_items[y]] += xuj * m->user_vals[y];
		}
	}
}

typedef struct EaseCand
{
	float		s;
	int32_t		j;
} EaseCand;

static inline void
swap_cand(EaseCand *a, EaseCand *b)
{
	EaseCand	t = *a;

	*a = *b;
	*b = t;
}

/* larger magnitude first, then the lower id */
static int
by_magnitude(const void *a, const void *b)
{
	const EaseCand *x = (const EaseCand *) a;
	const EaseCand *y = (const EaseCand *) b;
	float		ax = fabsf(x->s);
	float		ay = fabsf(y->s);

	if (ax != ay)
		return ax > ay ? -1 : 1;
	return (x->j > y->j) - (x->j < y->j);
}

/*
 * Moves the k first candidates in by_magnitude's order to c[0..k), in no
 * particular order: quickselect, O(n) on average.  by_magnitude is a total
 * order (ids differ), so the set is the same as a full sort's.
 */
static void
select_largest(EaseCand *c, int64_t n, int64_t k)
{
	int64_t		lo = 0;
	int64_t		hi = n - 1;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;
		EaseCand	pivot;
		int64_t		i = lo;
		int64_t		j = hi;

		/* median of three as the pivot */
		if (by_magnitude(&c[mid], &c[lo]) < 0)
			swap_cand(&c[mid], &c[lo]);
		if (by_magnitude(&c[hi], &c[lo]) < 0)
			swap_cand(&c[hi], &c[lo]);
		if (by_magnitude(&c[hi], &c[mid]) < 0)
			swap_cand(&c[hi], &c[mid]);
		pivot = c[mid];
		while (i <= j)
		{
			while (by_magnitude(&c[i], &pivot) < 0)
				i++;
			while (by_magnitude(&pivot, &c[j]) < 0)
				j--;
			if (i <= j)
			{
				swap_cand(&c[i], &c[j]);
				i++;
				j--;
			}
		}
		/* c[lo..j] <= pivot <= c[i..hi]; between them equal the pivot */
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

/* larger value first, then the lower id */
static int
by_value(const void *a, const void *b)
{
	const EaseCand *x = (const EaseCand *) a;
	const EaseCand *y = (const EaseCand *) b;

	if (x->s != y->s)
		return x->s > y->s ? -1 : 1;
	return (x->j > y->j) - (x->j < y->j);
}

typedef struct EaseLists
{
	const double *p;			/* P = G^-1, row-major upper triangle valid */
	int64_t		n;
	int			k;				/* neighbours kept per item */
	EaseCand  **scratch;		/* n candidates per thread */
	RsModel    *out;
} EaseLists;

static void
list_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
	EaseLists  *e = (EaseLists *) ctx;
	EaseCand   *c = e->scratch[thread];
	int64_t		n = e->n;

	for (int64_t i = begin; i < end; i++)
	{
		double		pii = e->p[i * n + i];
		int64_t		nc = 0;
		int64_t		keep;
		int64_t		at = e->out->nbr_ptr[i];

		for (int64_t j = 0; j < n; j++)
		{
			double		pji;
			float		s;

			if (j == i)
				continue;
			/* dpotri filled the upper triangle of our row-major P */
			pji = j < i ? e->p[j * n + i] : e->p[i * n + j];
			s = (float) (-pji / pii);
			if (s == 0.0f)
				continue;
			c[nc].s = s;
			c[nc].j = (int32_t) j;
			nc++;
		}
		keep = nc < e->k ? nc : e->k;
		if (keep < nc)
			select_largest(c, nc, keep);
		qsort(c, (size_t) keep, sizeof(EaseCand), by_value);
		for (int64_t x = 0; x < keep; x++)
		{
			e->out->nbr_idx[at + x] = c[x].j;
			e->out->nbr_sim[at + x] = c[x].s;
		}
	}
}

size_t
rs_ease_bytes(int32_t n_items, int neighbors)
{
	size_t		n = (size_t) n_items;
	size_t		k = (size_t) neighbors < n ? (size_t) neighbors : n;

	/* G (then P), the lists (id, similarity, support) */
	return n * n * sizeof(double) + n * k * (2 * sizeof(int32_t) + sizeof(float));
}

int
rs_train_ease(const RsMatrix *m0, const RsParams *p, const RsEnv *env,
			  RsModel *out)
{
	const RsMatrix *m = rs_weighted_values(m0, env);
	int64_t		n = m->n_items;
	int			k = p->neighbors;
	int			threads = p->threads < 1 ? 1 : p->threads;
	int			info;
	double	   *g;
	EaseGram	gram;
	EaseLists	lists;

	out->n_users = m->n_users;
	out->n_items = m->n_items;
	out->factors = 0;
	out->global_mean = 0.0;
	out->n_lists = m->n_items;
	out->nbr_ptr = env->alloc(env->arg, sizeof(int64_t) * (size_t) (n + 1));
	if (n == 0)
		return 0;
	if (k > n - 1)
		k = (int) (n - 1);

	g = env->alloc(env->arg, sizeof(double) * (size_t) n * (size_t) n);
	if (env->note)
	{
		char		text[64];

		snprintf(text, sizeof(text), "item Gram matrix of %d items: started", (int) n);
		env->note(env->arg, text);
	}
	gram.m = m;
	gram.g = g;
	rs_parallel_csr(m->item_ptr, n, EASE_CHUNK_NNZ, threads, gram_rows, &gram, env);
	for (int64_t i = 0; i < n; i++)
		g[i * n + i] += p->regularization;
	/* (the lower triangle stays 0: nothing reads it) */
	if (env->note)
		env->note(env->arg, "item Gram matrix: done");

	/* symmetric: our row-major upper triangle is Fortran's lower one */
	rs_blas_set_threads(threads);
	info = rs_cholesky_inverse_blocked_d(g, (int) n, EASE_BLOCK, env->check_interrupts,
										 env->arg);
	if (info != 0)
		return info;
	if (env->note)
		env->note(env->arg, "inverse: done");
	env->check_interrupts(env->arg);

	/* every item keeps min(k, its nonzero weights) neighbours */
	out->nbr_idx = env->alloc(env->arg, sizeof(int32_t) * (size_t) (n * k + 1));
	out->nbr_sim = env->alloc(env->arg, sizeof(float) * (size_t) (n * k + 1));
	out->nbr_support = env->alloc(env->arg, sizeof(int32_t) * (size_t) (n * k + 1));
	lists.p = g;
	lists.n = n;
	lists.k = k;
	lists.out = out;
	lists.scratch = env->alloc(env->arg, sizeof(EaseCand *) * (size_t) threads);
	for (int t = 0; t < threads; t++)
		lists.scratch[t] = env->alloc(env->arg, sizeof(EaseCand) * (size_t) n);

	/*
	 * Every list is written at i * k; the lists are then packed.  A list
	 * holds fewer than k only where weights are exactly 0 (items that share
	 * no user, directly or through others).
	 */
	for (int64_t i = 0; i <= n; i++)
		out->nbr_ptr[i] = i * k;
	/* chunks of EASE_LIST_CHUNK items (k "entries" each), interruptible */
	rs_parallel_csr(out->nbr_ptr, n, (int64_t) k * EASE_LIST_CHUNK, threads,
					list_rows, &lists, env);
	{
		int64_t		w = 0;

		for (int64_t i = 0; i < n; i++)
		{
			int64_t		r = i * k;
			int64_t		len = 0;

			while (len < k && (out->nbr_sim[r + len] != 0.0f))
				len++;
			memmove(out->nbr_idx + w, out->nbr_idx + r, sizeof(int32_t) * (size_t) len);
			memmove(out->nbr_sim + w, out->nbr_sim + r, sizeof(float) * (size_t) len);
			out->nbr_ptr[i] = w;
			w += len;
		}
		out->nbr_ptr[n] = w;
	}
	if (env->note)
		env->note(env->arg, "neighbour lists: done");
	return 0;
}
