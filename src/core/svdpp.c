/*-------------------------------------------------------------------------
 *
 * svdpp.c
 *	  Explicit ratings with implicit feedback: Koren's SVD++ (KDD 2008),
 *		  r^_ui = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
 *	  where N(u) is the set of items user u rated: which items a user chose
 *	  to rate says something of them besides the ratings.  Trained by
 *	  stochastic gradient descent.  Plain C; see core.h for the contract.
 *
 * Objective, with w_ui = 1 (or the time-decay weights, decay.c), lambda =
 * regularization, lambda_b = bias_regularization and s_u = |N(u)|^-1/2:
 *
 *	  J = sum over ratings (u,i) of  w_ui / 2 [ e_ui^2
 *			+ lambda_b (b_u^2 + b_i^2)
 *			+ lambda (|p_u|^2 + |q_i|^2 + sum_{j in N(u)} |y_j|^2) ]
 *
 * as in Koren's paper, each rating bringing the penalty of every parameter
 * it involves.  The reported loss is 2 J / sum w.
 *
 * One epoch (users in a fresh random order; each user's ratings in a fresh
 * random order):
 *
 *	  at the user's start:  z = s_u sum_{j in N(u)} y_j,  g = 0
 *	  for each rating (u,i):  x = p_u + z,  e = r_ui - r^ (with x)
 *		  b_u += lr w (e - lambda_b b_u),  b_i += lr w (e - lambda_b b_i)
 *		  q_i += lr w (e x - lambda q_i)		(x from before the step)
 *		  p_u += lr w (e q_i - lambda p_u)	(q_i from before the step)
 *		  g += w e q_i						(q_i from before the step)
 *	  at the user's end, for each j in N(u):
 *		  y_j = (y_j + lr s_u g) / (1 + lr lambda W_u)	(W_u = sum_i w_ui)
 *
 * That is, the gradient of the user's terms in the y_j is summed over the
 * user's ratings (with z held while they are visited) and taken once per
 * user instead of once per rating, which costs O(|N(u)| k) per user instead
 * of per rating (the usual way to make SVD++ affordable); the penalty
 * part is taken implicitly (a proximal step), so that a user with many
 * ratings cannot make it overshoot.  Single-threaded, as svd.c, so the
 * model depends only on the seed.
 *
 * Random draws (rng.h streams): initial factors p_u, q_i and y_j are
 * init_std N(0,1), from the streams (seed, 1 << 32 | u), (seed, 2 << 32 |
 * i) and (seed, 4 << 32 | j), factors in order; the visiting order from
 * (seed, 3 << 32): per epoch a forward Fisher-Yates of the user order, then
 * for each user in that order a forward Fisher-Yates over the user's
 * ratings fused with training (at step x, j = x + below(n - x) is drawn,
 * ratings x and j swapped, rating x trained on).  Both orders persist from
 * epoch to epoch.  test/ref/svdpp_ref.py replays all of this.
 *
 * What is stored: the user's whole vector p_u + z_u (at the end of
 * training, with the final y) as the user's factors, so that serving
 * scores mu + b_u + b_i + q_i . x_u exactly as for svd; the y_j as the
 * items' implicit factors, from which a user the model has not seen (and
 * recsys.update()) gets z from their items (rs_svdpp_implicit).
 *
 * Without baseline ("biases": false): no bias steps, and with
 * "global_mean": false mu = 0, as svd.c.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <string.h>

/* Stream families of rng.h; the entity id goes in the low 32 bits. */
#define STREAM_USER_INIT	UINT64_C(1)
#define STREAM_ITEM_INIT	UINT64_C(2)
#define STREAM_SHUFFLE		UINT64_C(3)
#define STREAM_IMPLICIT_INIT UINT64_C(4)

/* ratings between interrupt checks */
#define SVDPP_CHECK_EVERY	32768

void
rs_svdpp_implicit(const float *item_implicit, const int32_t *items, int64_t n,
				  int k, float *z)
{
	float		s;

	memset(z, 0, sizeof(float) * (size_t) k);
	if (n <= 0)
		return;
	for (int64_t x = 0; x < n; x++)
	{
		const float *y = item_implicit + (size_t) items[x] * k;

		for (int c = 0; c < k; c++)
			z[c] += y[c];
	}
	s = (float) (1.0 / sqrt((double) n));
	for (int c = 0; c < k; c++)
		z[c] *= s;
}

/* 2 J / sum w at the current parameters (P holds p_u, not p_u + z_u) */
static double
svdpp_loss(const RsMatrix *m, const RsParams *p, const RsEnv *env,
		   const RsModel *out, const float *P, float *z, float *x)
{
	const int	k = out->factors;
	const float mu = (float) out->global_mean;
	double		sse = 0.0;
	double		reg = 0.0;
	double		total = 0.0;
	int64_t		since_check = 0;

	for (int32_t u = 0; u < m->n_users; u++)
	{
		int64_t		beg = m->user_ptr[u];
		int64_t		n_u = m->user_ptr[u + 1] - beg;
		const float *pu = P + (size_t) u * k;
		double		w_u = 0.0;
		double		ysq = 0.0;

		if (n_u == 0)
			continue;
		rs_svdpp_implicit(out->item_implicit, m->user_items + beg, n_u, k, z);
		for (int c = 0; c < k; c++)
			x[c] = pu[c] + z[c];
		for (int64_t t = beg; t < beg + n_u; t++)
		{
			int32_t		i = m->user_items[t];
			double		w = m->user_w ? m->user_w[t] : 1.0;
			double		e = (double) m->user_vals[t] -
				(mu + out->user_bias[u] + out->item_bias[i] +
				 rs_vdot(x, out->item_factors + (size_t) i * k, k));

			sse += w * e * e;
			w_u += w;
			ysq += rs_vdot(out->item_implicit + (size_t) i * k,
						   out->item_implicit + (size_t) i * k, k);
		}
		reg += w_u * (p->bias_regularization * out->user_bias[u] * out->user_bias[u] +
					  p->regularization * (rs_vdot(pu, pu, k) + ysq));
		total += w_u;
		since_check += n_u * 3 + 1;
		if (since_check >= SVDPP_CHECK_EVERY)
		{
			env->check_interrupts(env->arg);
			since_check = 0;
		}
	}
	for (int32_t i = 0; i < m->n_items; i++)
	{
		double		w_i = 0.0;

		for (int64_t t = m->item_ptr[i]; t < m->item_ptr[i + 1]; t++)
			w_i += m->item_w ? m->item_w[t] : 1.0;
		reg += w_i * (p->bias_regularization * out->item_bias[i] * out->item_bias[i] +
					  p->regularization * rs_vdot(out->item_factors + (size_t) i * k,
												  out->item_factors + (size_t) i * k, k));
	}
	return total > 0 ? (sse + reg) / total : 0.0;
}

/* Forward Fisher-Yates over a[0..n), one draw per position. */
static void
shuffle_ids(int32_t *a, int32_t n, RsRng *rng)
{
	for (int32_t x = 0; x < n; x++)
	{
		int32_t		j = x + (int32_t) rs_rng_below64(rng, (uint64_t) (n - x));
		int32_t		t = a[j];

		a[j] = a[x];
		a[x] = t;
	}
}

void
rs_train_svdpp(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			   RsModel *out)
{
	const int	k = p->factors;
	const float lr = (float) p->learning_rate;
	const float reg = (float) p->regularization;
	const float reg_b = (float) p->bias_regularization;
	const bool	biases = !p->no_biases;
	const int64_t nnz = m->nnz;
	double		mean = 0.0;
	float	   *P;
	float	   *z;
	float	   *x;
	float	   *g;
	float	   *qold;
	int32_t    *order;
	int64_t    *slot;			/* the user's ratings: their CSR positions */
	RsRng		rng;

	if (!p->no_global_mean && nnz > 0)
	{
		double		sw = 0.0;

		for (int64_t t = 0; t < nnz; t++)
		{
			double		w = m->user_w ? m->user_w[t] : 1.0;

			mean += w * m->user_vals[t];
			sw += w;
		}
		mean = sw > 0 ? mean / sw : 0.0;
	}
	rs_model_setup(out, m, p, env, mean, true, true,
				   STREAM_USER_INIT << 32, STREAM_ITEM_INIT << 32);
	out->item_implicit = env->alloc(env->arg, sizeof(float) * (size_t) m->n_items * k + sizeof(float));
	rs_init_factor_rows(out->item_implicit, m->n_items, k, p->init_std, p->seed,
						STREAM_IMPLICIT_INIT << 32, env);
	P = out->user_factors;
	z = env->alloc(env->arg, sizeof(float) * (size_t) (4 * k + 1));
	x = z + k;
	g = x + k;
	qold = g + k;
	order = env->alloc(env->arg, sizeof(int32_t) * (size_t) (m->n_users + 1));
	slot = env->alloc(env->arg, sizeof(int64_t) * (size_t) (nnz + 1));
	for (int32_t u = 0; u < m->n_users; u++)
		order[u] = u;
	for (int64_t t = 0; t < nnz; t++)
		slot[t] = t;
	rs_rng_init(&rng, p->seed, STREAM_SHUFFLE << 32);

	for (int epoch = 0; epoch < p->iterations; epoch++)
	{
		int64_t		since_check = 0;
		double		loss;

		shuffle_ids(order, m->n_users, &rng);
		for (int32_t a = 0; a < m->n_users; a++)
		{
			int32_t		u = order[a];
			int64_t		beg = m->user_ptr[u];
			int64_t		n = m->user_ptr[u + 1] - beg;
			int64_t    *mine = slot + beg;
			float	   *pu = P + (size_t) u * k;
			float		s;
			double		w_u = 0.0;

			if (n == 0)
				continue;
			s = (float) (1.0 / sqrt((double) n));
			rs_svdpp_implicit(out->item_implicit, m->user_items + beg, n, k, z);
			memset(g, 0, sizeof(float) * k);
			for (int64_t t = 0; t < n; t++)
			{
				int64_t		j = t + (int64_t) rs_rng_below64(&rng, (uint64_t) (n - t));
				int64_t		at = mine[j];
				int32_t		i = m->user_items[at];
				float	   *qi = out->item_factors + (size_t) i * k;
				float		w = m->user_w ? m->user_w[at] : 1.0f;
				float		lrw = lr * w;
				float		e;

				mine[j] = mine[t];
				mine[t] = at;
				w_u += w;
				for (int c = 0; c < k; c++)
					x[c] = pu[c] + z[c];
				e = m->user_vals[at] - ((float) out->global_mean + out->user_bias[u] +
										out->item_bias[i] + rs_vdot(x, qi, k));
				if (biases)
				{
					out->user_bias[u] += lrw * (e - reg_b * out->user_bias[u]);
					out->item_bias[i] += lrw * (e - reg_b * out->item_bias[i]);
				}
				memcpy(qold, qi, sizeof(float) * k);
				for (int c = 0; c < k; c++)
				{
					qi[c] += lrw * (e * x[c] - reg * qi[c]);
					pu[c] += lrw * (e * qold[c] - reg * pu[c]);
					g[c] += w * e * qold[c];
				}
			}
			{
				float		shrink = 1.0f / (1.0f + lr * reg * (float) w_u);

				for (int64_t t = beg; t < beg + n; t++)
				{
					float	   *yj = out->item_implicit + (size_t) m->user_items[t] * k;

					for (int c = 0; c < k; c++)
						yj[c] = (yj[c] + lr * s * g[c]) * shrink;
				}
			}
			since_check += 3 * n + 1;
			if (since_check >= SVDPP_CHECK_EVERY)
			{
				env->check_interrupts(env->arg);
				since_check = 0;
			}
		}
		env->check_interrupts(env->arg);
		loss = svdpp_loss(m, p, env, out, P, z, x);
		out->loss[out->n_loss++] = loss;
		if (env->progress)
			env->progress(env->arg, epoch + 1, loss);
	}

	/* what is stored and served: each user's whole vector p_u + z_u */
	for (int32_t u = 0; u < m->n_users; u++)
	{
		int64_t		beg = m->user_ptr[u];
		float	   *pu = P + (size_t) u * k;

		rs_svdpp_implicit(out->item_implicit, m->user_items + beg,
						  m->user_ptr[u + 1] - beg, k, z);
		for (int c = 0; c < k; c++)
			pu[c] += z[c];
	}
	if (p->no_biases)
	{
		out->user_bias = NULL;
		out->item_bias = NULL;
	}
}
