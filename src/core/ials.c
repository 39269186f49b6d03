/*-------------------------------------------------------------------------
 *
 * ials.c
 *	  Implicit-feedback matrix factorisation: the alternating least squares
 *	  of Hu, Koren and Volinsky (2008), solved per user/item with a few
 *	  warm-started conjugate-gradient steps (Takacs, Pilaszy and Tikk 2011)
 *	  or, on request, exactly by Cholesky.
 *
 * Objective.  Every (user, item) cell counts: an observed interaction
 * with value r has preference 1 and confidence c = 1 + alpha * r, every
 * other cell preference 0 and confidence 1.  With user factors x_u and
 * item factors y_i (k each, no biases):
 *
 *	  L = sum over all (u,i) of c_ui (p_ui - x_u.y_i)^2
 *		  + lambda (sum_u |x_u|^2 + sum_i |y_i|^2)
 *
 * Holding Y fixed, x_u solves
 *
 *	  (Y^T Y + sum_{i in I_u} (c_ui - 1) y_i y_i^T + lambda I) x_u
 *		  = sum_{i in I_u} c_ui y_i
 *
 * and symmetrically for items.  Y^T Y is computed once per half-sweep
 * (one ssyrk), so a solve costs O(n_u k) per CG step, never O(n_u k^2):
 * the CG never forms the per-user matrix, it applies it to a vector as
 * Y^T Y v + sum (c - 1)(y_i.v) y_i.
 *
 * The reported loss is L / (n_users * n_items), the mean weighted squared
 * error over all cells plus the regularisation, for the factors at the
 * end of each iteration.  The sum over all cells uses the same trick:
 *
 *	  sum_i c_ui (p_ui - s_ui)^2 = x_u^T (Y^T Y) x_u
 *		  + sum_{i in I_u} [ c_ui (1 - s_ui)^2 - s_ui^2 ],  s_ui = x_u.y_i
 *
 * (the first term counts every cell as an unobserved one, the sum
 * corrects the observed cells).
 *
 * and is taken per item during the item half-sweep (X fixed, X^T X at
 * hand), where the CG already knows every s_ui: it tracks them as it
 * moves y_i, so the loss costs no extra pass over the interactions.
 *
 * Time decay.  With weights w_ui in (0, 1] (m->user_w, decay.c) an
 * interaction counts as observed with probability w and unobserved
 * otherwise: its cell's term is
 *
 *	  w c (1 - s)^2 + (1 - w) s^2,	 c = 1 + alpha * r,
 *
 * which is, up to a constant, c' (p' - s)^2 with the confidence
 * c' = 1 + alpha * r * w and the preference p' = w c / c'.  So the
 * systems above keep their form with c - 1 = alpha r w on the left and
 * c p = w (1 + alpha r) on the right, and an old interaction becomes an
 * ordinary unobserved cell (c' -> 1, p' -> 0) instead of a liked one of
 * low confidence (which would still pull its user towards it as hard as
 * a missing cell pushes away).  The loss is summed with the observed
 * term w [c (1 - s)^2 - s^2].  With every w = 1 all of this is the
 * unweighted model exactly.
 *
 * Determinism.  Initial factors come from one random stream per entity,
 * each entity's solve reads only the other side's factors, and per-entity
 * loss terms are summed in entity order on the calling thread: the model
 * does not depend on the number of threads.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <string.h>

/*
 * Interactions per chunk of work handed to a thread (rs_parallel_csr): a
 * few milliseconds of CG at k = 64, so a cancel waits about that long
 * (longer only for one entity with more interactions, alone in its chunk)
 * and the threads finish a half-sweep within a chunk of each other.
 */
#define IALS_CHUNK_NNZ			(1 << 16)

/* One half-sweep: solve the rows of X against the fixed Y. */
typedef struct IalsSweep
{
	const int64_t *ptr;			/* CSR of the side being solved */
	const int32_t *idx;
	const float *val;
	const float *wt;			/* time decay: weights aligned with idx, or NULL */
	float	   *x;				/* factors being solved, n x k */
	const float *y;				/* fixed factors */
	const float *gram;			/* Y^T Y, k x k full, without lambda */
	int			k;
	float		alpha;
	float		lambda;
	int			cg_steps;
	bool		cholesky;
	float	   *scratch;		/* per thread: scratch_floats each */
	size_t		scratch_floats;
	double	   *loss;			/* per entity loss terms, or NULL */
} IalsSweep;

/*
 * Exact solve: build the k x k system for this entity and factor it.
 * The rows y_j, scaled by sqrt(c_j - 1), are gathered into rows (n x k)
 * and added to Y^T Y + lambda I by one ssyrk: O(n_u k^2), at BLAS-3 speed.
 */
static void
solve_cholesky(const IalsSweep *s, int64_t e, float *ws, float *sv, float *rows)
{
	int			k = s->k;
	int64_t		beg = s->ptr[e];
	int			n = (int) (s->ptr[e + 1] - beg);
	float	   *xe = s->x + (size_t) e * k;
	float	   *a = ws;
	float	   *b = ws + (size_t) k * k;

	memcpy(a, s->gram, sizeof(float) * k * k);
	for (int j = 0; j < k; j++)
	{
		a[(size_t) j * k + j] += s->lambda;
		b[j] = 0.0f;
	}
	for (int j = 0; j < n; j++)
	{
		const float *yi = s->y + (size_t) s->idx[beg + j] * k;
		float		w = s->alpha * s->val[beg + j];
		float	   *row = rows + (size_t) j * k;
		float		root;

		if (s->wt)
		{
			/* c' - 1 = alpha r w on the left, c' p' = w (1 + alpha r) on the right */
			float		wt = s->wt[beg + j];

			rs_axpy(wt * (1.0f + w), yi, b, k);
			w *= wt;
		}
		else
			rs_axpy(1.0f + w, yi, b, k);
		root = sqrtf(w > 0.0f ? w : 0.0f);
		for (int c = 0; c < k; c++)
			row[c] = root * yi[c];
	}
	rs_syrk_upper(rows, n, k, k, 1.0f, a);
	rs_mirror_upper(a, k);
	if (rs_cholesky_solve(a, b, k))
		memcpy(xe, b, sizeof(float) * k);
	if (sv)
		for (int j = 0; j < n; j++)
			sv[j] = rs_vdot(xe, s->y + (size_t) s->idx[beg + j] * k, k);
}

/*
 * Conjugate gradient from the current x_e, cg_steps steps.  sv receives
 * s_j = x_e.y_j for the final x_e (tracked, not recomputed); tv and wv
 * are scratch for n and 2 n floats; yg receives the n rows y_j, gathered
 * by the first pass for the CG steps.
 */
RS_SIMD_CLONES static void
solve_cg(const IalsSweep *s, int64_t e, float *ws, float *sv, float *tv,
		 float *wv, float *yg)
{
	int			k = s->k;
	int64_t		beg = s->ptr[e];
	int			n = (int) (s->ptr[e + 1] - beg);
	const int32_t *idx = s->idx + beg;
	const float *val = s->val + beg;
	float		lambda = s->lambda;
	float	   *x = s->x + (size_t) e * k;
	float	   *r = ws;
	float	   *p = ws + k;
	float	   *ap = ws + 2 * k;
	float		rsold;

	/*
	 * wv[0..n) = w_j = c_j - 1 and wv[n..2n) = -w_j, once per solve; tv
	 * holds c_j = 1 + w_j for the first pass, then the t_j of each step.
	 */
	for (int j = 0; j < n; j++)
	{
		wv[j] = s->alpha * val[j];
		tv[j] = 1.0f + wv[j];
	}
	if (s->wt)
	{
		/* time decay: c' - 1 = alpha r w, c' p' = w (1 + alpha r) */
		for (int j = 0; j < n; j++)
		{
			tv[j] *= s->wt[beg + j];
			wv[j] *= s->wt[beg + j];
		}
	}
	for (int j = 0; j < n; j++)
		wv[n + j] = -wv[j];

	/* r = b - A x = sum (c - (c - 1) s) y - (Y^T Y + lambda I) x */
	rs_symv(s->gram, x, r, k);
	for (int j = 0; j < k; j++)
		r[j] = -r[j] - lambda * x[j];
	rs_rows_dot_axpy(s->y, idx, n, k, x, 0.0f, tv, wv + n, sv, r, NULL, yg);
	memcpy(p, r, sizeof(float) * k);
	rsold = rs_vdot(r, r, k);

	for (int step = 0; step < s->cg_steps; step++)
	{
		float		pap;
		float		a;
		float		rsnew;

		if (!(rsold > 1e-20f))
			break;
		/* ap = A p, remembering t_j = y_j.p to move the s_j along */
		rs_symv(s->gram, p, ap, k);
		for (int j = 0; j < k; j++)
			ap[j] += lambda * p[j];
		rs_rows_dot_axpy(yg, NULL, n, k, p, 0.0f, NULL, wv, tv, ap, NULL, NULL);
		pap = rs_vdot(p, ap, k);
		if (!(pap > 0.0f))
			break;
		a = rsold / pap;
		rs_axpy(a, p, x, k);
		rs_axpy(-a, ap, r, k);
		for (int j = 0; j < n; j++)
			sv[j] += a * tv[j];
		rsnew = rs_vdot(r, r, k);
		for (int j = 0; j < k; j++)
			p[j] = r[j] + (rsnew / rsold) * p[j];
		rsold = rsnew;
	}
}

RS_SIMD_CLONES static void
sweep_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	const IalsSweep *s = (const IalsSweep *) ctx;
	int			k = s->k;
	float	   *scratch = s->scratch + (size_t) thread * s->scratch_floats;
	float	   *ws = scratch;
	float	   *sv = scratch + (size_t) k * k + 3 * k;
	int64_t		maxdeg = (int64_t) ((s->scratch_floats - (size_t) k * k - 3 * k) /
									(4 + k));
	float	   *tv = sv + maxdeg;
	float	   *wv = tv + maxdeg;
	float	   *yg = wv + 2 * maxdeg;

	for (int64_t e = begin; e < end; e++)
	{
		int64_t		beg = s->ptr[e];
		int			n = (int) (s->ptr[e + 1] - beg);
		float	   *xe = s->x + (size_t) e * k;

		if (n == 0)
		{
			/* (Y^T Y + lambda I) x = 0 */
			memset(xe, 0, sizeof(float) * k);
			if (s->loss)
				s->loss[e] = 0.0;
			continue;
		}
		if (s->cholesky)
			solve_cholesky(s, e, ws, s->loss ? sv : NULL, yg);
		else
			solve_cg(s, e, ws, sv, tv, wv, yg);

		if (s->loss)
		{
			/* x^T (Y^T Y) x + sum [c (1 - s)^2 - s^2] + lambda |x|^2 */
			const float *val = s->val + beg;
			double		l;

			rs_symv(s->gram, xe, ws, k);
			l = rs_vdot(xe, ws, k) + s->lambda * rs_vdot(xe, xe, k);
			for (int j = 0; j < n; j++)
			{
				double		c = 1.0 + (double) s->alpha * val[j];
				double		d = 1.0 - sv[j];

				if (s->wt)
					l += s->wt[beg + j] * (c * d * d - (double) sv[j] * sv[j]);
				else
					l += c * d * d - (double) sv[j] * sv[j];
			}
			s->loss[e] = l;
		}
	}
}

/* Solve every row of s->x, checking for interrupts between chunks. */
static void
half_sweep(IalsSweep *s, int64_t n_x, const float *y, int64_t n_y,
		   float *gram, int threads, const RsEnv *env)
{
	int			blas_threads = rs_blas_get_threads();

	/*
	 * One BLAS thread for Y^T Y: it is ~1% of the work, the result then
	 * does not depend on OpenBLAS's thread count, and OpenBLAS's idle
	 * threads would spin (sched_yield) against ours afterwards.  The
	 * exact solver calls LAPACK on our threads: one BLAS thread each.
	 */
	rs_blas_set_threads(1);
	rs_gram(y, (int) n_y, s->k, s->k, gram);
	if (!s->cholesky)
		rs_blas_set_threads(blas_threads);
	env->check_interrupts(env->arg);

	/*
	 * The exact solver costs ~k/8 times as much per interaction as CG, so
	 * its chunks are smaller.
	 */
	rs_parallel_csr(s->ptr, n_x, s->cholesky ? IALS_CHUNK_NNZ / 8 : IALS_CHUNK_NNZ,
					threads, sweep_range, s, env);
	if (s->cholesky)
		rs_blas_set_threads(blas_threads);
}

void
rs_train_ials(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			  RsModel *out)
{
	int			k = p->factors;
	int			threads = p->threads < 1 ? 1 : p->threads;
	int64_t		nu = m->n_users;
	int64_t		ni = m->n_items;
	int64_t		maxdeg;
	float	   *gram;
	double	   *loss;
	IalsSweep	s;

	/* user streams 0..nu-1, item streams after them: never overlapping */
	rs_model_setup(out, m, p, env, 0.0, false, false, 0, (uint64_t) nu);
	env->check_interrupts(env->arg);

	maxdeg = rs_max_row_length(m->user_ptr, nu);
	if (rs_max_row_length(m->item_ptr, ni) > maxdeg)
		maxdeg = rs_max_row_length(m->item_ptr, ni);

	memset(&s, 0, sizeof(s));
	s.k = k;
	s.alpha = (float) p->alpha;
	s.lambda = (float) p->regularization;
	s.cg_steps = p->cg_steps < 1 ? 1 : p->cg_steps;
	s.cholesky = p->cholesky;
	/*
	 * k x k + k (Cholesky) or 3 k (CG) workspace, then per interaction of
	 * the busiest entity: s_j, t_j, 2 x w_j and the gathered row (k).
	 */
	s.scratch_floats = (size_t) k * k + 3 * k + (4 + (size_t) k) * maxdeg;
	s.scratch = env->alloc(env->arg, sizeof(float) * s.scratch_floats * threads);
	gram = env->alloc(env->arg, sizeof(float) * k * k);
	loss = env->alloc(env->arg, sizeof(double) * (ni > 0 ? ni : 1));

	for (int it = 0; it < p->iterations; it++)
	{
		double		total = 0.0;

		/* users against fixed items */
		s.ptr = m->user_ptr;
		s.idx = m->user_items;
		s.val = m->user_vals;
		s.wt = m->user_w;
		s.x = out->user_factors;
		s.y = out->item_factors;
		s.gram = gram;
		s.loss = NULL;
		half_sweep(&s, nu, out->item_factors, ni, gram, threads, env);

		/* items against fixed users; the loss comes along */
		s.ptr = m->item_ptr;
		s.idx = m->item_users;
		s.val = m->item_vals;
		s.wt = m->item_w;
		s.x = out->item_factors;
		s.y = out->user_factors;
		s.loss = loss;
		half_sweep(&s, ni, out->user_factors, nu, gram, threads, env);

		for (int64_t i = 0; i < ni; i++)
			total += loss[i];
		for (int64_t u = 0; u < nu; u++)
		{
			const float *xu = out->user_factors + (size_t) u * k;

			total += s.lambda * (double) rs_vdot(xu, xu, k);
		}
		total /= (double) nu * (double) ni;
		out->loss[it] = total;
		out->n_loss = it + 1;
		env->progress(env->arg, it + 1, total);
	}
}

/*
 * One exact user half-step against fixed items: each user of m (its user
 * rows only are read) gets the factors of the ials user step, solved by
 * Cholesky, as serving's fold-in solves one user.  recsys.update()
 * re-solves the users whose interactions changed with it.  user_factors
 * (n_users x k) is written.
 */
void
rs_ials_solve_users(const RsMatrix *m, int k, double alpha, double lambda,
					const float *item_factors, int32_t n_items, int threads,
					const RsEnv *env, float *user_factors)
{
	int64_t		maxdeg = rs_max_row_length(m->user_ptr, m->n_users);
	float	   *gram = env->alloc(env->arg, sizeof(float) * k * k);
	IalsSweep	s;

	if (threads < 1)
		threads = 1;
	memset(user_factors, 0, sizeof(float) * (size_t) m->n_users * k);
	memset(&s, 0, sizeof(s));
	s.k = k;
	s.alpha = (float) alpha;
	s.lambda = (float) lambda;
	s.cholesky = true;
	s.scratch_floats = (size_t) k * k + 3 * k + (4 + (size_t) k) * maxdeg;
	s.scratch = env->alloc(env->arg, sizeof(float) * s.scratch_floats * threads);
	s.ptr = m->user_ptr;
	s.idx = m->user_items;
	s.val = m->user_vals;
	s.wt = m->user_w;
	s.x = user_factors;
	s.y = item_factors;
	s.gram = gram;
	half_sweep(&s, m->n_users, item_factors, n_items, gram, threads, env);
}
