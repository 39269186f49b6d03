/*-------------------------------------------------------------------------
 *
 * bpr.c
 *	  Implicit feedback: Bayesian personalised ranking (Rendle et al.
 *	  2009) with uniform negative sampling, trained by SGD.  Plain C; see
 *	  core.h for the contract.
 *
 * Model: score(u, i) = b_i + p_u . q_i.  Item biases are learned as in
 * LightFM's and implicit's BPR (a user bias would cancel out of every
 * comparison, so there is none).  The model's user_bias is NULL and its
 * global_mean 0.
 *
 * Order (stratified by user block, for the cache): users are cut into
 * contiguous blocks of BPR_BLOCK_BYTES / (4 k) users.  Each epoch visits
 * the blocks in a fresh random order and, for a block holding n_b
 * interactions, makes samples * n_b steps whose positives are drawn
 * uniformly from the block's interactions.  So over an epoch every
 * interaction is drawn samples times in expectation, as with uniform
 * draws over all nnz (Rendle's bootstrap over D_S; users weighted by their
 * activity, as in implicit's BPR), while a block's user factors stay in
 * cache: at MovieLens-20M scale a fully random user per step means a DRAM
 * miss per step.
 *
 * One step:
 *	- draw a positive (u, i) uniformly from the current block's
 *	  interactions;
 *	- draw a negative j uniformly from all items, redrawn while j is one of
 *	  u's items (binary search in the sorted user row); after
 *	  BPR_NEG_TRIES draws that all hit u's items the step is skipped (only
 *	  users with nearly the whole catalogue get there);
 *	- x = b_i - b_j + p_u . (q_i - q_j),  g = sigma(-x) = 1 / (1 + e^x);
 *	- with lr = learning_rate, reg = regularization, and the old values on
 *	  every right-hand side:
 *		p_u += lr (g (q_i - q_j) - reg p_u)
 *		q_i += lr (g p_u - reg q_i)
 *		q_j += lr (-g p_u - reg q_j)
 *		b_i += lr (g - reg b_i)
 *		b_j += lr (-g - reg b_j)
 *	  which is SGD on  -ln sigma(x) + reg/2 (|p_u|^2 + |q_i|^2 + |q_j|^2
 *	  + b_i^2 + b_j^2).
 * An epoch is samples * nnz steps.  A user with no interactions keeps
 * its initial factors.
 *
 * Loss reported after each epoch:
 *		mean over the epoch's performed steps of -ln sigma(x), x taken
 *		before that step's update
 *		+ reg/2 [ sum_u (n_u / nnz) |p_u|^2
 *				+ sum_i (n_i / nnz + 1 / n_items) (|q_i|^2 + b_i^2) ]
 * The bracket is the regulariser the steps minimise in expectation (u and i
 * drawn with the data, j taken as uniform over all items), evaluated with
 * the parameters at the end of the epoch.
 *
 * Time decay.  With weights w (m->user_w, decay.c) positives are drawn in
 * proportion to their weight instead of uniformly: a block makes
 * round(samples * nnz * W_b / W) steps (W_b its weight, W the total), each
 * drawing a uniform number in the block's share of the running sum of the
 * weights and taking the interaction it falls in (binary search); the
 * counts n_u / nnz and n_i / nnz of the regulariser become W_u / W and
 * W_i / W.  Negatives stay uniform.  Without weights nothing changes (the
 * draws are the same).
 *
 * Random numbers (rng.h): factor f of user u is init_std * N(0,1) from
 * stream (seed, 1 << 32 | u), items likewise from (seed, 2 << 32 | i);
 * item biases start at 0.  All sampling comes from the one stream (seed,
 * 3 << 32), in this order: per epoch a forward Fisher-Yates of the block
 * order (one draw per position), then per step the positive's index within
 * the block, then the negative draws.
 *
 * Single-threaded, so deterministic for a seed: Hogwild threads would race
 * on the shared item vectors and make results depend on timing.  The
 * threads parameter is ignored.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "linalg.h"
#include "rng.h"

#include <math.h>
#include <string.h>

#define STREAM_USER_INIT	UINT64_C(1)
#define STREAM_ITEM_INIT	UINT64_C(2)
#define STREAM_SAMPLE		UINT64_C(3)

/* Negative draws before a step is given up. */
#define BPR_NEG_TRIES		10

/*
 * Target size of one block of user factor rows (see "Order" in the header
 * comment): it and the block's rows of the matrix stay in cache.
 */
#define BPR_BLOCK_BYTES		(256 * 1024)

/* Steps between interrupt checks: well under 100 ms even at 1000 factors. */
#define BPR_CHECK_EVERY		65536

/* Is item j in the ascending row[0..len)? */
static inline bool
bpr_row_contains(const int32_t *row, int64_t len, int32_t j)
{
	int64_t		lo = 0;
	int64_t		hi = len;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (row[mid] < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < len && row[lo] == j;
}

/* p . (q1 - q2) with eight partial sums, so it vectorises without fast-math. */
static inline float
bpr_dot_diff(const float *p, const float *q1, const float *q2, int k)
{
	float		acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	float		s;
	int			c = 0;

	for (; c + 8 <= k; c += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += p[c + l] * (q1[c + l] - q2[c + l]);
	s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		((acc[2] + acc[6]) + (acc[3] + acc[7]));
	for (; c < k; c++)
		s += p[c] * (q1[c] - q2[c]);
	return s;
}

/*
 * The factor updates of one step, from the old values.  The three rows
 * never overlap (i != j); saying so, eight lanes at a time, lets the
 * compiler vectorise at -O2.
 */
static inline void
bpr_step(float *restrict pu, float *restrict qi, float *restrict qj,
		 float g, float lr, float reg, int k)
{
	int			c = 0;

	for (; c + 8 <= k; c += 8)
	{
		for (int l = 0; l < 8; l++)
		{
			float		pc = pu[c + l];
			float		ic = qi[c + l];
			float		jc = qj[c + l];

			pu[c + l] = pc + lr * (g * (ic - jc) - reg * pc);
			qi[c + l] = ic + lr * (g * pc - reg * ic);
			qj[c + l] = jc + lr * (-g * pc - reg * jc);
		}
	}
	for (; c < k; c++)
	{
		float		pc = pu[c];
		float		ic = qi[c];
		float		jc = qj[c];

		pu[c] = pc + lr * (g * (ic - jc) - reg * pc);
		qi[c] = ic + lr * (g * pc - reg * ic);
		qj[c] = jc + lr * (-g * pc - reg * jc);
	}
}

static inline double
bpr_sqnorm(const float *a, int k)
{
	double		s = 0.0;

	for (int c = 0; c < k; c++)
		s += (double) a[c] * a[c];
	return s;
}

/* -ln sigma(x) = ln(1 + e^-x), without overflow for large |x|. */
static inline double
bpr_softplus_neg(double x)
{
	return x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
}

/* n_e, or W_e with weights */
static double
bpr_weight_of(const int64_t *ptr, const float *w, int32_t e)
{
	double		sum = 0.0;

	if (w == NULL)
		return (double) (ptr[e + 1] - ptr[e]);
	for (int64_t x = ptr[e]; x < ptr[e + 1]; x++)
		sum += w[x];
	return sum;
}

/* The first x in [lo, hi) with cum[x + 1] > target (hi - 1 at most). */
static int64_t
bpr_find(const double *cum, int64_t lo, int64_t hi, double target)
{
	while (hi - lo > 1)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (cum[mid] > target)
			hi = mid;
		else
			lo = mid;
	}
	return lo;
}

/* The bracketed regulariser of the header comment, times reg/2. */
static double
bpr_reg_term(const RsMatrix *m, const RsParams *p, const RsModel *out)
{
	const int	k = out->factors;
	double		s = 0.0;

	double		total = (double) m->nnz;

	if (m->user_w)
	{
		total = 0.0;
		for (int64_t x = 0; x < m->nnz; x++)
			total += m->user_w[x];
		if (!(total > 0))
			total = 1.0;
	}
	for (int32_t u = 0; u < m->n_users; u++)
		s += bpr_weight_of(m->user_ptr, m->user_w, u) / total *
			bpr_sqnorm(out->user_factors + (size_t) u * k, k);
	for (int32_t i = 0; i < m->n_items; i++)
	{
		double		w = bpr_weight_of(m->item_ptr, m->item_w, i) / total +
			1.0 / m->n_items;
		double		b = out->item_bias[i];

		s += w * (bpr_sqnorm(out->item_factors + (size_t) i * k, k) + b * b);
	}
	return 0.5 * p->regularization * s;
}

void
rs_train_bpr(const RsMatrix *m, const RsParams *p, const RsEnv *env,
			 RsModel *out)
{
	const int	k = p->factors;
	const int64_t nnz = m->nnz;
	/* users per block: the block's factor rows fit in BPR_BLOCK_BYTES */
	const int32_t block_users = (int32_t) (BPR_BLOCK_BYTES / ((int64_t) k * sizeof(float)) > 0 ?
										   BPR_BLOCK_BYTES / ((int64_t) k * sizeof(float)) : 1);
	const int32_t n_blocks = (m->n_users + block_users - 1) / block_users;
	int32_t    *block_order;
	const float lr = (float) p->learning_rate;
	const float reg = (float) p->regularization;
	float	   *P;
	float	   *Q;
	float	   *b;
	int32_t    *row_of;
	double	   *cum = NULL;		/* time decay: running sum of the weights */
	RsRng		rng;

	rs_model_setup(out, m, p, env, 0.0, false, true,
				   STREAM_USER_INIT << 32, STREAM_ITEM_INIT << 32);
	if (nnz == 0)
		return;

	/* The user of each interaction, so a uniform index gives (u, i). */
	row_of = env->alloc(env->arg, sizeof(int32_t) * (size_t) nnz);
	for (int32_t u = 0; u < m->n_users; u++)
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
			row_of[x] = u;

	if (m->user_w)
	{
		cum = env->alloc(env->arg, sizeof(double) * (size_t) (nnz + 1));
		for (int64_t x = 0; x < nnz; x++)
			cum[x + 1] = cum[x] + m->user_w[x];
	}

	block_order = env->alloc(env->arg, sizeof(int32_t) * (size_t) n_blocks);
	for (int32_t a = 0; a < n_blocks; a++)
		block_order[a] = a;

	P = out->user_factors;
	Q = out->item_factors;
	b = out->item_bias;
	rs_rng_init(&rng, p->seed, STREAM_SAMPLE << 32);

	for (int epoch = 0; epoch < p->iterations; epoch++)
	{
		double		sum_loss = 0.0;
		int64_t		done = 0;
		int64_t		since_check = 0;
		double		loss;

		/* user blocks in a fresh random order (reshuffling the last one) */
		for (int32_t a = 0; a < n_blocks; a++)
		{
			int32_t		t = a + (int32_t) rs_rng_below(&rng, (uint32_t) (n_blocks - a));
			int32_t		tmp = block_order[t];

			block_order[t] = block_order[a];
			block_order[a] = tmp;
		}

		for (int32_t a = 0; a < n_blocks; a++)
		{
			int32_t		first = block_order[a] * block_users;
			int32_t		last = first + block_users < m->n_users ?
				first + block_users : m->n_users;
			int64_t		lo = m->user_ptr[first];
			int64_t		n_block = m->user_ptr[last] - lo;
			int64_t		block_steps = (int64_t) p->samples * n_block;
			double		w_lo = 0.0;
			double		w_block = 0.0;

			if (cum)
			{
				w_lo = cum[lo];
				w_block = cum[lo + n_block] - w_lo;
				block_steps = cum[nnz] > 0 ?
					llround((double) p->samples * nnz * w_block / cum[nnz]) : 0;
			}

			for (int64_t s = 0; s < block_steps; s++)
			{
				int64_t		x = cum ?
					bpr_find(cum, lo, lo + n_block, w_lo + rs_rng_uniform(&rng) * w_block) :
					lo + (int64_t) rs_rng_below64(&rng, (uint64_t) n_block);
				int32_t		u = row_of[x];
				int32_t		i = m->user_items[x];
				const int32_t *row = m->user_items + m->user_ptr[u];
				int64_t		len = m->user_ptr[u + 1] - m->user_ptr[u];
				int32_t		j = -1;

				if (++since_check >= BPR_CHECK_EVERY)
				{
					env->check_interrupts(env->arg);
					since_check = 0;
				}

				for (int t = 0; t < BPR_NEG_TRIES; t++)
				{
					int32_t		cand = (int32_t) rs_rng_below(&rng, (uint32_t) m->n_items);

					if (!bpr_row_contains(row, len, cand))
					{
						j = cand;
						break;
					}
				}
				if (j < 0)
					continue;

				{
					float	   *pu = P + (size_t) u * k;
					float	   *qi = Q + (size_t) i * k;
					float	   *qj = Q + (size_t) j * k;
					float		xuij = b[i] - b[j] + bpr_dot_diff(pu, qi, qj, k);
					float		g = (float) (1.0 / (1.0 + exp((double) xuij)));

					sum_loss += bpr_softplus_neg(xuij);
					done++;

					b[i] += lr * (g - reg * b[i]);
					b[j] += lr * (-g - reg * b[j]);
					bpr_step(pu, qi, qj, g, lr, reg, k);
				}
			}
		}

		env->check_interrupts(env->arg);
		loss = (done > 0 ? sum_loss / done : 0.0) + bpr_reg_term(m, p, out);
		out->loss[out->n_loss++] = loss;
		if (env->progress)
			env->progress(env->arg, epoch + 1, loss);
	}
}
