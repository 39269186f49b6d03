/*-------------------------------------------------------------------------
 *
 * svd.c
 *	  Explicit ratings: the biased matrix-factorisation model
 *		  r^ = mu + b_u + b_i + p_u . q_i
 *	  trained by stochastic gradient descent, as in Funk's SVD and
 *	  Surprise's SVD.  Plain C; see train.h for the contract.
 *
 * One epoch visits every rating once, in a fresh random order, and for
 * each rating r_ui with error e = r_ui - r^ applies
 *		b_u += lr (e - reg_b b_u)
 *		b_i += lr (e - reg_b b_i)
 *		p_u += lr (e q_i - reg p_u)
 *		q_i += lr (e p_u - reg q_i)		(with the p_u from before the step)
 * where lr = learning_rate, reg = regularization, reg_b =
 * bias_regularization.  mu is the mean rating and is not learned.  That is
 * SGD on the objective
 *		J = sum over ratings (u,i) of  1/2 [ e_ui^2 + reg_b (b_u^2 + b_i^2)
 *										   + reg (|p_u|^2 + |q_i|^2) ]
 * in which an entity's regularisation counts once per rating it has.
 *
 * Loss reported after each epoch (out->loss, env->progress): 2 J / nnz
 * evaluated exactly with the parameters at the end of the epoch, i.e.
 *		mean of e_ui^2 over the training ratings
 *		+ ( sum_u n_u (reg_b b_u^2 + reg |p_u|^2)
 *		  + sum_i n_i (reg_b b_i^2 + reg |q_i|^2) ) / nnz
 * with n_u, n_i the rating counts.  Its first term is the training RMSE
 * squared.  The evaluation costs one extra, cache-friendly pass per epoch.
 *
 * Initial values: biases 0; factor f of user u is init_std * N(0,1) drawn
 * from the rng.h stream (seed, STREAM_USER_INIT << 32 | u), factors in
 * order; items likewise with STREAM_ITEM_INIT.  So the start does not
 * depend on the number of users or items, nor on the order of anything.
 *
 * Visiting order: the ratings are copied once into an array of (user,
 * item, value) entries in user-major CSR order.  Each epoch runs a forward
 * Fisher-Yates pass over that array with the stream (seed,
 * STREAM_SHUFFLE << 32): at step k, j = k + below(nnz - k) is drawn (also
 * for the last k, where it is k), entries k and j are swapped, and entry k
 * is then trained on.  Shuffling and training in the same pass touches the
 * array once per epoch, and since each epoch reshuffles the previous
 * order, each epoch's order is a uniform random permutation.  The copy
 * costs 12 bytes per rating.  test/ref/svd_ref.py reproduces all of this
 * independently.
 *
 * Single-threaded on purpose: plain SGD is sequential, and Hogwild-style
 * threads would make the result depend on timing.
 *
 *-------------------------------------------------------------------------
 */
#include "train.h"
#include "rng.h"

#include <math.h>
#include <string.h>

/* Stream families of rng.h; the entity id goes in the low 32 bits. */
#define STREAM_USER_INIT	UINT64_C(1)
#define STREAM_ITEM_INIT	UINT64_C(2)
#define STREAM_SHUFFLE		UINT64_C(3)

/* Updates between interrupt checks: well under 100 ms even at 1000 factors. */
#define SVD_CHECK_EVERY		65536

typedef struct SvdEntry
{
	int32_t		user;
	int32_t		item;
	float		value;
} SvdEntry;

/* Uniform in [0, n); above 2^32 the modulo bias is below 2^-32. */
static inline uint64_t
svd_below(RsRng *r, uint64_t n)
{
	if (n <= UINT32_MAX)
		return rs_rng_below(r, (uint32_t) n);
	return rs_rng_next(r) % n;
}

/*
 * Fill rows x k with init_std * N(0,1), row e from its own stream, so that
 * the same seed gives the same start however the data is ordered.
 */
static void
svd_init_factors(float *f, int32_t rows, int k, double init_std,
				 uint64_t seed, uint64_t family)
{
	for (int32_t e = 0; e < rows; e++)
	{
		RsRng		r;
		float	   *row = f + (size_t) e * k;

		rs_rng_init(&r, seed, (family << 32) | (uint64_t) (uint32_t) e);
		for (int c = 0; c < k; c++)
			row[c] = (float) (init_std * rs_rng_normal(&r));
	}
}

/*
 * Dot product with eight partial sums: breaks the dependency chain of one
 * accumulator and lets the compiler use vector registers without
 * -ffast-math.
 */
static inline float
svd_dot(const float *a, const float *b, int k)
{
	float		acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	float		s;
	int			c = 0;

	for (; c + 8 <= k; c += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += a[c + l] * b[c + l];
	s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		((acc[2] + acc[6]) + (acc[3] + acc[7]));
	for (; c < k; c++)
		s += a[c] * b[c];
	return s;
}

static inline double
svd_sqnorm(const float *a, int k)
{
	double		s = 0.0;

	for (int c = 0; c < k; c++)
		s += (double) a[c] * a[c];
	return s;
}

/* 2 J / nnz at the current parameters; see the header comment. */
static double
svd_loss(const RsMatrix *m, const RsParams *p, const RsEnv *env,
		 const RsModel *out)
{
	const int	k = out->factors;
	const float mu = (float) out->global_mean;
	double		sse = 0.0;
	double		reg = 0.0;
	int64_t		since_check = 0;

	if (m->nnz == 0)
		return 0.0;

	for (int32_t u = 0; u < m->n_users; u++)
	{
		const float *pu = out->user_factors + (size_t) u * k;
		const float bu = out->user_bias[u];
		int64_t		n_u = m->user_ptr[u + 1] - m->user_ptr[u];

		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			int32_t		i = m->user_items[x];
			float		pred = mu + bu + out->item_bias[i] +
				svd_dot(pu, out->item_factors + (size_t) i * k, k);
			double		e = (double) m->user_vals[x] - pred;

			sse += e * e;
		}
		reg += n_u * (p->bias_regularization * bu * bu +
					  p->regularization * svd_sqnorm(pu, k));

		since_check += n_u + 1;
		if (since_check >= SVD_CHECK_EVERY)
		{
			env->check_interrupts(env->arg);
			since_check = 0;
		}
	}
	for (int32_t i = 0; i < m->n_items; i++)
	{
		const float bi = out->item_bias[i];
		int64_t		n_i = m->item_ptr[i + 1] - m->item_ptr[i];

		reg += n_i * (p->bias_regularization * bi * bi +
					  p->regularization *
					  svd_sqnorm(out->item_factors + (size_t) i * k, k));
	}
	return (sse + reg) / (double) m->nnz;
}

void
rs_train_svd(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			 RsModel *out)
{
	const int	k = p->factors;
	const int64_t nnz = m->nnz;
	const float lr = (float) p->learning_rate;
	const float reg = (float) p->regularization;
	const float reg_b = (float) p->bias_regularization;
	float		mu;
	float	   *bu;
	float	   *bi;
	float	   *P;
	float	   *Q;
	SvdEntry   *entries;
	RsRng		shuffle;

	out->n_users = m->n_users;
	out->n_items = m->n_items;
	out->factors = k;
	out->global_mean = m->mean;
	out->user_bias = env->alloc(env->arg, sizeof(float) * (size_t) m->n_users);
	out->item_bias = env->alloc(env->arg, sizeof(float) * (size_t) m->n_items);
	out->user_factors = env->alloc(env->arg,
								   sizeof(float) * (size_t) m->n_users * k);
	out->item_factors = env->alloc(env->arg,
								   sizeof(float) * (size_t) m->n_items * k);
	out->loss = env->alloc(env->arg,
						   sizeof(double) * (size_t) (p->iterations > 0 ?
													  p->iterations : 1));
	out->n_loss = 0;

	svd_init_factors(out->user_factors, m->n_users, k, p->init_std,
					 p->seed, STREAM_USER_INIT);
	svd_init_factors(out->item_factors, m->n_items, k, p->init_std,
					 p->seed, STREAM_ITEM_INIT);

	/* The training order starts user-major; each epoch reshuffles it. */
	entries = env->alloc(env->arg, sizeof(SvdEntry) * (size_t) (nnz > 0 ? nnz : 1));
	for (int32_t u = 0; u < m->n_users; u++)
	{
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			entries[x].user = u;
			entries[x].item = m->user_items[x];
			entries[x].value = m->user_vals[x];
		}
	}

	mu = (float) m->mean;
	bu = out->user_bias;
	bi = out->item_bias;
	P = out->user_factors;
	Q = out->item_factors;
	rs_rng_init(&shuffle, p->seed, STREAM_SHUFFLE << 32);

	for (int epoch = 0; epoch < p->iterations; epoch++)
	{
		double		loss;

		for (int64_t x = 0; x < nnz; x++)
		{
			uint64_t	j = (uint64_t) x + svd_below(&shuffle, (uint64_t) (nnz - x));
			SvdEntry	ent = entries[j];
			float	   *pu;
			float	   *qi;
			float		e;

			entries[j] = entries[x];
			entries[x] = ent;

			pu = P + (size_t) ent.user * k;
			qi = Q + (size_t) ent.item * k;
			e = ent.value - (mu + bu[ent.user] + bi[ent.item] + svd_dot(pu, qi, k));

			bu[ent.user] += lr * (e - reg_b * bu[ent.user]);
			bi[ent.item] += lr * (e - reg_b * bi[ent.item]);
			for (int c = 0; c < k; c++)
			{
				float		pc = pu[c];
				float		qc = qi[c];

				pu[c] = pc + lr * (e * qc - reg * pc);
				qi[c] = qc + lr * (e * pc - reg * qc);
			}

			if ((x & (SVD_CHECK_EVERY - 1)) == SVD_CHECK_EVERY - 1)
				env->check_interrupts(env->arg);
		}

		env->check_interrupts(env->arg);
		loss = svd_loss(m, p, env, out);
		out->loss[out->n_loss++] = loss;
		if (env->progress)
			env->progress(env->arg, epoch + 1, loss);
	}
}
