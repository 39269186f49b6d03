/*-------------------------------------------------------------------------
 *
 * als.c
 *	  Explicit-rating matrix factorisation with biases by alternating
 *	  least squares, with weighted-lambda regularisation (Zhou et al. 2008).
 *
 * Model.  r^_ui = mu + b_u + b_i + p_u.q_i, mu the mean rating (fixed),
 * p_u and q_i k factors each.
 *
 * Objective, over the observed ratings R (n_u ratings of user u, n_i of
 * item i; lambda = regularization, lambda_b = bias_regularization):
 *
 *	  L = sum_{(u,i) in R} (r_ui - mu - b_u - b_i - p_u.q_i)^2
 *		  + sum_u n_u (lambda |p_u|^2 + lambda_b b_u^2)
 *		  + sum_i n_i (lambda |q_i|^2 + lambda_b b_i^2)
 *
 * The reported loss is L / |R|: the training RMSE squared plus the
 * regularisation per rating, for the parameters at the end of each
 * iteration.
 *
 * Time decay.  With weights w_ui (m->user_w, decay.c) each rating's
 * squared error counts w_ui times, and the counts n_u, n_i of the
 * weighted-lambda penalty become the weight sums W_u = sum_i w_ui and
 * W_i, mu is the weighted mean rating and the loss is reported per unit
 * of weight (L / sum w).  So the solution depends only on the ratios of
 * the weights: scaling them all (another as_of) changes nothing, and with
 * every w = 1 it is the unweighted model exactly.  In the systems below
 * a_i a_i^T and t_ui a_i are multiplied by w_ui.
 *
 * Each half-sweep solves every user exactly for its factors and bias
 * together (the biases are not a separate step): the unknown is
 * x_u = [p_u; b_u], the features of rating (u,i) are a_i = [q_i; 1] and
 * the target is t_ui = r_ui - mu - b_i, so
 *
 *	  (sum_i a_i a_i^T + n_u diag(lambda, ..., lambda, lambda_b)) x_u
 *		  = sum_i t_ui a_i
 *
 * and symmetrically for items.  Two solvers for that (k+1) x (k+1) system:
 *
 *	- cholesky = true: build the matrix (ssyrk over the gathered rows) and
 *	  factor it (LAPACK).  Exact, but O(n_u k^2) per user: at MovieLens-20M
 *	  scale and k = 64 that is ~86 GFMA per iteration, ~5 s on the 2-core
 *	  benchmark machine even at the BLAS's peak.
 *	- cholesky = false: cg_steps conjugate-gradient steps warm-started
 *	  from the current x_u, applying the matrix as a_i (a_i . v) without
 *	  ever forming it: O(n_u k) per step.  As in ials.c.
 *
 * nmf (rs_train_nmf): the same objective and sweeps with every factor
 * constrained to p_u >= 0, q_i >= 0 (the biases, when the model has
 * them, are free): alternating nonnegative least squares.  Each entity's
 * system above is built exactly (the Cholesky path's ssyrk) and solved
 * under the constraint by block principal pivoting (linalg.c,
 * rs_nnls), started from the entity's current positive factors, so that
 * most solves are one or two Cholesky factorisations of the system
 * restricted to the factors that stay positive.  An exact block step
 * never raises the objective, so the loss falls from iteration to
 * iteration as for als.  Initial factors are the
 * magnitudes |init_std N(0,1)| of als's draws.  fold-in and update()
 * solve a user the same way from zero (rs_als_solve_users).
 *
 * The loss is taken during the item half-sweep, per item, from residuals
 * the solver already has (tracked through the CG steps), so it costs no
 * extra pass over the ratings.
 *
 * Without baseline ("biases": false, p->no_biases): r^_ui = mu + p_u.q_i,
 * or p_u.q_i with "global_mean": false (mu = 0).  The same sweeps with
 * the bias held at 0: the systems above restricted to the k factors
 * (Cholesky: the bias row and column replaced by those of the identity
 * and a zero right-hand side; CG: the bias component of the residual and
 * of A p zeroed, so it never moves), targets t_ui = r_ui - mu.  The
 * model's bias arrays are NULL (stored as NULL biases).
 *
 * Determinism: one random stream per entity for the initial factors,
 * biases start at 0, each entity's solve reads only the other side, and
 * per-entity loss terms are summed in order on the calling thread; the
 * model does not depend on the number of threads.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <string.h>

/* interactions per chunk of work handed to a thread (see ials.c) */
#define ALS_CHUNK_NNZ			(1 << 16)
/* rows gathered per ssyrk call in the exact solver */
#define ALS_GATHER_ROWS			256

typedef struct AlsSweep
{
	const int64_t *ptr;			/* CSR of the side being solved */
	const int32_t *idx;
	const float *val;
	const float *w;				/* weights aligned with idx, or NULL (all 1) */
	const float *wneg;			/* their negatives, or NULL */
	float	   *xf;				/* factors being solved, n x k */
	float	   *xb;				/* biases being solved */
	const float *yf;			/* fixed factors */
	const float *yb;			/* fixed biases */
	int			k;
	float		mu;
	float		lambda;
	float		lambda_b;
	int			cg_steps;
	bool		cholesky;
	bool		biases;			/* false: x_u's bias held at 0 */
	bool		nonnegative;	/* nmf: factors >= 0 (exact solver only) */
	double	   *nnls_ws;		/* nmf: per thread RS_NNLS_WS(k + 1) doubles */
	int		   *nnls_iws;		/* nmf: per thread k + 1 ints */
	float	   *scratch;		/* per thread: scratch_floats each */
	size_t		scratch_floats;
	int64_t		maxdeg;
	const float *ones;			/* maxdeg times 1.0, read-only */
	const float *minus_ones;	/* maxdeg times -1.0, read-only */
	double	   *loss;			/* per entity loss terms, or NULL */
} AlsSweep;

/* An entity's n_u (W_u with weights): the weight of its penalty. */
static inline float
entity_weight(const AlsSweep *s, int64_t beg, int n)
{
	double		sum = 0.0;

	if (s->w == NULL)
		return (float) n;
	for (int j = 0; j < n; j++)
		sum += s->w[beg + j];
	return (float) sum;
}

/*
 * Exact solve.  ws holds (k+1)^2 for the matrix, k+1 for the right-hand
 * side and ALS_GATHER_ROWS x (k+1) for the gathered feature rows.
 */
static void
solve_cholesky(const AlsSweep *s, int64_t e, float *ws, float *sv, int thread)
{
	int			k = s->k;
	int			k1 = k + 1;
	int64_t		beg = s->ptr[e];
	int			n = (int) (s->ptr[e + 1] - beg);
	const int32_t *idx = s->idx + beg;
	const float *val = s->val + beg;
	float	   *a = ws;
	float	   *b = ws + (size_t) k1 * k1;
	float	   *rows = b + k1;
	float	   *xe = s->xf + (size_t) e * k;
	float		wsum = entity_weight(s, beg, n);
	float		reg = s->lambda * wsum;

	memset(a, 0, sizeof(float) * k1 * k1);
	memset(b, 0, sizeof(float) * k1);
	for (int j0 = 0; j0 < n; j0 += ALS_GATHER_ROWS)
	{
		int			nr = n - j0 < ALS_GATHER_ROWS ? n - j0 : ALS_GATHER_ROWS;

		for (int j = 0; j < nr; j++)
		{
			float	   *row = rows + (size_t) j * k1;
			int32_t		other = idx[j0 + j];
			float		t = val[j0 + j] - s->mu - s->yb[other];

			memcpy(row, s->yf + (size_t) other * k, sizeof(float) * k);
			row[k] = 1.0f;
			if (s->w)
			{
				/* w t a into b, sqrt(w) a into the rows of w a a^T */
				float		wj = s->w[beg + j0 + j];
				float		root = sqrtf(wj);

				rs_axpy(t * wj, row, b, k1);
				for (int c = 0; c < k1; c++)
					row[c] *= root;
			}
			else
				rs_axpy(t, row, b, k1);
		}
		rs_syrk_upper(rows, nr, k1, k1, 1.0f, a);
	}
	rs_mirror_upper(a, k1);
	for (int j = 0; j < k; j++)
		a[(size_t) j * k1 + j] += reg;
	a[(size_t) k * k1 + k] += s->lambda_b * wsum;
	if (!s->biases)
	{
		/* the k x k system alone: the bias row of the identity, b = 0 */
		for (int j = 0; j < k; j++)
			a[(size_t) j * k1 + k] = a[(size_t) k * k1 + j] = 0.0f;
		a[(size_t) k * k1 + k] = 1.0f;
		b[k] = 0.0f;
	}
	if (s->nonnegative)
	{
		/* nmf: the same system with p >= 0, warm-started (rows is free) */
		memcpy(rows, xe, sizeof(float) * k);
		rows[k] = s->xb[e];
		rs_nnls(a, b, rows, k1, k, s->nnls_ws + RS_NNLS_WS(k1) * thread,
				s->nnls_iws + (size_t) k1 * thread);
		memcpy(xe, rows, sizeof(float) * k);
		s->xb[e] = rows[k];
	}
	else if (rs_cholesky_solve(a, b, k1))
	{
		memcpy(xe, b, sizeof(float) * k);
		s->xb[e] = b[k];
	}
	if (sv)
		for (int j = 0; j < n; j++)
			sv[j] = rs_vdot(xe, s->yf + (size_t) idx[j] * k, k) + s->xb[e];
}

/*
 * CG on [p; b] from the current values.  ws holds 4 (k+1) floats: x, r,
 * p, Ap.  sv receives s_j = a_j.x for the final x (tracked); tv is scratch
 * for n floats, yg for the n gathered rows.
 */
RS_SIMD_CLONES static void
solve_cg(const AlsSweep *s, int64_t e, float *ws, float *sv, float *tv,
		 float *yg)
{
	int			k = s->k;
	int			k1 = k + 1;
	int64_t		beg = s->ptr[e];
	int			n = (int) (s->ptr[e + 1] - beg);
	const int32_t *idx = s->idx + beg;
	const float *val = s->val + beg;
	float	   *x = ws;
	float	   *r = ws + k1;
	float	   *p = ws + 2 * k1;
	float	   *ap = ws + 3 * k1;
	float		wsum = entity_weight(s, beg, n);
	float		reg = s->lambda * wsum;
	float		reg_b = s->lambda_b * wsum;
	const float *plus = s->w ? s->w + beg : s->ones;
	const float *minus = s->w ? s->wneg + beg : s->minus_ones;
	float		rsold;

	memcpy(x, s->xf + (size_t) e * k, sizeof(float) * k);
	x[k] = s->xb[e];

	/* targets t_j = r_j - mu - b_j (the other side's bias), times w_j */
	for (int j = 0; j < n; j++)
		tv[j] = val[j] - s->mu - s->yb[idx[j]];
	if (s->w)
		for (int j = 0; j < n; j++)
			tv[j] *= plus[j];

	/* r = b - A x = sum w (t - a.x) a - W diag(lambda, lambda_b) x */
	for (int j = 0; j < k; j++)
		r[j] = -reg * x[j];
	r[k] = -reg_b * x[k];
	rs_rows_dot_axpy(s->yf, idx, n, k, x, x[k], tv, minus, sv, r,
					 &r[k], yg);
	if (!s->biases)
		r[k] = 0.0f;			/* the bias (0) never moves */
	memcpy(p, r, sizeof(float) * k1);
	rsold = rs_vdot(r, r, k1);

	for (int step = 0; step < s->cg_steps; step++)
	{
		float		pap;
		float		a;
		float		rsnew;

		if (!(rsold > 1e-20f))
			break;
		/* ap = A p, remembering t_j = a_j.p to move the s_j along */
		for (int j = 0; j < k; j++)
			ap[j] = reg * p[j];
		ap[k] = reg_b * p[k];
		rs_rows_dot_axpy(yg, NULL, n, k, p, p[k], NULL, plus, tv, ap,
						 &ap[k], NULL);
		if (!s->biases)
			ap[k] = 0.0f;
		pap = rs_vdot(p, ap, k1);
		if (!(pap > 0.0f))
			break;
		a = rsold / pap;
		rs_axpy(a, p, x, k1);
		rs_axpy(-a, ap, r, k1);
		for (int j = 0; j < n; j++)
			sv[j] += a * tv[j];
		rsnew = rs_vdot(r, r, k1);
		for (int j = 0; j < k1; j++)
			p[j] = r[j] + (rsnew / rsold) * p[j];
		rsold = rsnew;
	}
	memcpy(s->xf + (size_t) e * k, x, sizeof(float) * k);
	s->xb[e] = x[k];
}

RS_SIMD_CLONES static void
sweep_range(void *ctx, int64_t begin, int64_t end, int thread)
{
	const AlsSweep *s = (const AlsSweep *) ctx;
	int			k = s->k;
	float	   *scratch = s->scratch + (size_t) thread * s->scratch_floats;
	float	   *sv = scratch;
	float	   *tv = sv + s->maxdeg;
	float	   *yg = tv + s->maxdeg;
	float	   *ws = yg + (s->cholesky ? 0 : (size_t) s->maxdeg * k);

	for (int64_t e = begin; e < end; e++)
	{
		int64_t		beg = s->ptr[e];
		int			n = (int) (s->ptr[e + 1] - beg);
		float	   *xe = s->xf + (size_t) e * k;

		if (n == 0)
		{
			/* no ratings: the regulariser alone says zero */
			memset(xe, 0, sizeof(float) * k);
			s->xb[e] = 0.0f;
			if (s->loss)
				s->loss[e] = 0.0;
			continue;
		}
		if (s->cholesky)
			solve_cholesky(s, e, ws, s->loss ? sv : NULL, thread);
		else
			solve_cg(s, e, ws, sv, tv, yg);

		if (s->loss)
		{
			const int32_t *idx = s->idx + beg;
			const float *val = s->val + beg;
			double		l = 0.0;

			for (int j = 0; j < n; j++)
			{
				double		d = (double) val[j] - s->mu - s->yb[idx[j]] - sv[j];

				l += s->w ? s->w[beg + j] * d * d : d * d;
			}
			l += (double) entity_weight(s, beg, n) * (s->lambda * (double) rs_vdot(xe, xe, k) +
							   s->lambda_b * (double) s->xb[e] * s->xb[e]);
			s->loss[e] = l;
		}
	}
}

/* nmf: rs_nnls's workspace for each thread */
static void
nnls_workspace(AlsSweep *s, int threads, const RsEnv *env)
{
	int			k1 = s->k + 1;

	s->nnls_ws = env->alloc(env->arg, sizeof(double) * RS_NNLS_WS(k1) * threads);
	s->nnls_iws = env->alloc(env->arg, sizeof(int) * (size_t) k1 * threads);
}

static void
half_sweep(AlsSweep *s, int64_t n_x, int threads, const RsEnv *env)
{
	int			blas_threads = rs_blas_get_threads();

	/*
	 * The exact solver costs ~k/8 times as much per interaction as CG, so
	 * its chunks are smaller; it calls BLAS on our threads: one BLAS thread
	 * each.
	 */
	if (s->cholesky)
		rs_blas_set_threads(1);
	rs_parallel_csr(s->ptr, n_x, s->cholesky ? ALS_CHUNK_NNZ / 8 : ALS_CHUNK_NNZ,
					threads, sweep_range, s, env);
	if (s->cholesky)
		rs_blas_set_threads(blas_threads);
}

static void
train_als(const RsMatrix *m, const RsParams *p, const RsEnv *env,
		  RsModel *out, bool nonnegative)
{
	int			k = p->factors;
	int			k1 = k + 1;
	int			threads = p->threads < 1 ? 1 : p->threads;
	int64_t		nu = m->n_users;
	int64_t		ni = m->n_items;
	int64_t		maxdeg;
	size_t		ws;
	double	   *loss;
	double		nnz = m->nnz > 0 ? (double) m->nnz : 1.0;
	double		mean = m->mean;
	float	   *uneg = NULL;
	float	   *ineg = NULL;
	AlsSweep	s;

	if (m->user_w)
	{
		/* time decay: the weighted mean, the loss per unit of weight */
		double		sw = 0.0;
		double		swr = 0.0;

		uneg = env->alloc(env->arg, sizeof(float) * (size_t) (m->nnz > 0 ? m->nnz : 1));
		ineg = env->alloc(env->arg, sizeof(float) * (size_t) (m->nnz > 0 ? m->nnz : 1));
		for (int64_t x = 0; x < m->nnz; x++)
		{
			sw += m->user_w[x];
			swr += (double) m->user_w[x] * m->user_vals[x];
			uneg[x] = -m->user_w[x];
			ineg[x] = -m->item_w[x];
		}
		if (sw > 0)
		{
			mean = swr / sw;
			nnz = sw;
		}
	}
	if (p->no_global_mean)
		mean = 0.0;

	/* user streams 0..nu-1, item streams after them: never overlapping */
	rs_model_setup(out, m, p, env, mean, true, true, 0, (uint64_t) nu);
	if (nonnegative)
	{
		/* nmf: the magnitudes of the same draws */
		for (size_t x = 0; x < (size_t) nu * k; x++)
			out->user_factors[x] = fabsf(out->user_factors[x]);
		for (size_t x = 0; x < (size_t) ni * k; x++)
			out->item_factors[x] = fabsf(out->item_factors[x]);
	}
	env->check_interrupts(env->arg);

	maxdeg = rs_max_row_length(m->user_ptr, nu);
	if (rs_max_row_length(m->item_ptr, ni) > maxdeg)
		maxdeg = rs_max_row_length(m->item_ptr, ni);

	memset(&s, 0, sizeof(s));
	s.k = k;
	s.mu = (float) mean;
	s.lambda = (float) p->regularization;
	s.lambda_b = (float) p->bias_regularization;
	s.cg_steps = p->cg_steps < 1 ? 1 : p->cg_steps;
	s.cholesky = p->cholesky || nonnegative;
	s.biases = !p->no_biases;
	s.nonnegative = nonnegative;
	if (nonnegative)
		nnls_workspace(&s, threads, env);
	s.maxdeg = maxdeg;
	/*
	 * s_j and t_j per rating of the busiest entity, the gathered rows (CG),
	 * then the solver's workspace
	 */
	if (s.cholesky)
		ws = (size_t) k1 * k1 + k1 + (size_t) ALS_GATHER_ROWS * k1;
	else
		ws = (size_t) maxdeg * k + 4 * (size_t) k1;
	s.scratch_floats = 2 * (size_t) maxdeg + ws;
	{
		float	   *ones = env->alloc(env->arg, sizeof(float) * (maxdeg + 1));
		float	   *mones = env->alloc(env->arg, sizeof(float) * (maxdeg + 1));

		for (int64_t j = 0; j < maxdeg; j++)
		{
			ones[j] = 1.0f;
			mones[j] = -1.0f;
		}
		s.ones = ones;
		s.minus_ones = mones;
	}
	s.scratch = env->alloc(env->arg, sizeof(float) * s.scratch_floats * threads);
	loss = env->alloc(env->arg, sizeof(double) * (ni > 0 ? ni : 1));

	for (int it = 0; it < p->iterations; it++)
	{
		double		total = 0.0;

		/* users against fixed items */
		s.ptr = m->user_ptr;
		s.idx = m->user_items;
		s.val = m->user_vals;
		s.w = m->user_w;
		s.wneg = uneg;
		s.xf = out->user_factors;
		s.xb = out->user_bias;
		s.yf = out->item_factors;
		s.yb = out->item_bias;
		s.loss = NULL;
		half_sweep(&s, nu, threads, env);

		/* items against fixed users; the loss comes along */
		s.ptr = m->item_ptr;
		s.idx = m->item_users;
		s.val = m->item_vals;
		s.w = m->item_w;
		s.wneg = ineg;
		s.xf = out->item_factors;
		s.xb = out->item_bias;
		s.yf = out->user_factors;
		s.yb = out->user_bias;
		s.loss = loss;
		half_sweep(&s, ni, threads, env);

		for (int64_t i = 0; i < ni; i++)
			total += loss[i];
		for (int64_t u = 0; u < nu; u++)
		{
			const float *pu = out->user_factors + (size_t) u * k;
			double		n = (double) (m->user_ptr[u + 1] - m->user_ptr[u]);

			if (m->user_w)
			{
				n = 0.0;
				for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
					n += m->user_w[x];
			}

			total += n * (s.lambda * (double) rs_vdot(pu, pu, k) +
						  s.lambda_b * (double) out->user_bias[u] * out->user_bias[u]);
		}
		total /= nnz;
		out->loss[it] = total;
		out->n_loss = it + 1;
		env->progress(env->arg, it + 1, total);
	}
	if (p->no_biases)
	{
		/* held at 0 throughout: the model has none */
		out->user_bias = NULL;
		out->item_bias = NULL;
	}
}

void
rs_train_als(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			 RsModel *out)
{
	train_als(m, p, env, out, false);
}

void
rs_train_nmf(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			 RsModel *out)
{
	train_als(m, p, env, out, true);
}

/*
 * One exact user half-step against fixed items: each user of m (its user
 * rows only are read) gets the factors and bias of the als user step,
 * solved by Cholesky from zero, as serving's fold-in solves one user.
 * recsys.update() re-solves the users whose interactions changed with it.
 * user_factors (n_users x k) and user_bias (n_users) are written; biases
 * false: the step of a model without biases, user_bias all 0 (item_bias
 * must then be all 0 too).
 */
void
rs_als_solve_users(const RsMatrix *m, int k, double mu, double lambda,
				   double lambda_b, bool biases, bool nonnegative,
				   const float *item_factors,
				   const float *item_bias, int threads, const RsEnv *env,
				   float *user_factors, float *user_bias)
{
	int			k1 = k + 1;
	AlsSweep	s;

	if (threads < 1)
		threads = 1;
	memset(user_factors, 0, sizeof(float) * (size_t) m->n_users * k);
	memset(user_bias, 0, sizeof(float) * (size_t) m->n_users);
	memset(&s, 0, sizeof(s));
	s.k = k;
	s.mu = (float) mu;
	s.lambda = (float) lambda;
	s.lambda_b = (float) lambda_b;
	s.cholesky = true;
	s.biases = biases;
	s.nonnegative = nonnegative;
	if (nonnegative)
		nnls_workspace(&s, threads, env);
	s.maxdeg = rs_max_row_length(m->user_ptr, m->n_users);
	s.scratch_floats = 2 * (size_t) s.maxdeg + (size_t) k1 * k1 + k1 +
		(size_t) ALS_GATHER_ROWS * k1;
	s.scratch = env->alloc(env->arg, sizeof(float) * s.scratch_floats * threads);
	s.ptr = m->user_ptr;
	s.idx = m->user_items;
	s.val = m->user_vals;
	s.w = m->user_w;
	s.xf = user_factors;
	s.xb = user_bias;
	s.yf = item_factors;
	s.yb = item_bias;
	half_sweep(&s, m->n_users, threads, env);
}
