/*-------------------------------------------------------------------------
 *
 * svd.c
 *	  Explicit ratings: the biased matrix-factorisation model
 *		  r^ = mu + b_u + b_i + p_u . q_i
 *	  trained by stochastic gradient descent, as in Funk's SVD and
 *	  Surprise's SVD.  Plain C; see core.h for the contract.
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
 * Visiting order (stratified, as in DSGD/LibMF): users are split into ub
 * blocks by u mod ub and items into ib blocks by i mod ib, ub and ib chosen
 * so that a block's factor rows take at most SVD_BLOCK_BYTES; the ratings
 * are copied once into (user, item, value) entries laid out cell by cell
 * (cell = user block x item block), user-major inside a cell.  Each epoch
 * draws from the stream (seed, STREAM_SHUFFLE << 32), in this order: a
 * forward Fisher-Yates of the user-block order; then for each user block,
 * a Fisher-Yates of the item-block order, and for each of its cells in
 * that order, a forward Fisher-Yates over the cell's entries fused with
 * training: at step x, j = x + below(n - x) (drawn also for the last x),
 * entries x and j are swapped, entry x is trained on.  The orders persist
 * from epoch to epoch and are reshuffled, so every order within a cell is
 * uniformly random.  Why blocks: at MovieLens-20M scale a fully random
 * order makes each step fetch a user row and an item row from DRAM; with
 * blocks a user block's rows stay in cache through its cells.  The copy
 * costs 16 bytes per rating.  test/ref/svd_ref.py replays all of this
 * independently.
 *
 * Time decay.  With weights w_ui (m->user_w, decay.c) each rating's term of
 * J is multiplied by w_ui (so a rating's step is taken with the learning
 * rate lr w_ui), mu is the weighted mean rating and the reported loss is
 * 2 J / sum w with n_u, n_i replaced by the weight sums.  With every
 * w = 1 this is the unweighted run exactly (lr * 1 == lr).  The entries
 * then carry their weight (16 bytes a rating instead of 12).
 *
 * Without baseline ("biases": false, p->no_biases): r^ = mu + p_u . q_i,
 * or p_u . q_i with "global_mean": false (mu = 0); the same epochs without
 * the two bias steps (the biases stay 0, reg_b plays no part), the same
 * random draws.  The model's bias arrays are NULL (stored as NULL biases).
 *
 * Single-threaded on purpose: plain SGD is sequential, and Hogwild-style
 * threads would make the result depend on timing.
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

/* Updates between interrupt checks: well under 100 ms even at 1000 factors. */
#define SVD_CHECK_EVERY		65536

/*
 * Target size of one block of user (or item) factor rows: a block of each
 * plus the cell's ratings stay in the per-core cache while a cell is
 * trained.
 */
#define SVD_BLOCK_BYTES		(256 * 1024)

typedef struct SvdEntry
{
	int32_t		user;
	int32_t		item;
	float		value;
	float		weight;			/* 1 without time decay */
} SvdEntry;

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

/*
 * p += lr (e q - reg p), q += lr (e p - reg q), both from the old values.
 * p and q never overlap (a user row and an item row); saying so, and
 * working eight lanes at a time, lets the compiler vectorise it at -O2.
 */
static inline void
svd_step(float *restrict p, float *restrict q, float e, float lr, float reg,
		 int k)
{
	int			c = 0;

	for (; c + 8 <= k; c += 8)
	{
		for (int l = 0; l < 8; l++)
		{
			float		pc = p[c + l];
			float		qc = q[c + l];

			p[c + l] = pc + lr * (e * qc - reg * pc);
			q[c + l] = qc + lr * (e * pc - reg * qc);
		}
	}
	for (; c < k; c++)
	{
		float		pc = p[c];
		float		qc = q[c];

		p[c] = pc + lr * (e * qc - reg * pc);
		q[c] = qc + lr * (e * pc - reg * qc);
	}
}

static inline double
svd_sqnorm(const float *a, int k)
{
	double		s = 0.0;

	for (int c = 0; c < k; c++)
		s += (double) a[c] * a[c];
	return s;
}

/* nnz, or the sum of the weights (at least a tiny positive number) */
static double
svd_total_weight(const RsMatrix *m)
{
	double		sum = 0.0;

	if (m->user_w == NULL)
		return (double) m->nnz;
	for (int64_t x = 0; x < m->nnz; x++)
		sum += m->user_w[x];
	return sum > 0 ? sum : 1e-300;
}

/* mu: the mean rating, weighted with time decay */
static double
svd_mean(const RsMatrix *m)
{
	double		sum = 0.0;

	if (m->user_w == NULL)
		return m->mean;
	for (int64_t x = 0; x < m->nnz; x++)
		sum += (double) m->user_w[x] * m->user_vals[x];
	return m->nnz > 0 ? sum / svd_total_weight(m) : m->mean;
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
		double		w_u = 0.0;

		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			int32_t		i = m->user_items[x];
			float		pred = mu + bu + out->item_bias[i] +
				svd_dot(pu, out->item_factors + (size_t) i * k, k);
			double		e = (double) m->user_vals[x] - pred;

			if (m->user_w)
			{
				sse += m->user_w[x] * e * e;
				w_u += m->user_w[x];
			}
			else
				sse += e * e;
		}
		reg += (m->user_w ? w_u : (double) n_u) * (p->bias_regularization * bu * bu +
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
		double		n_i = (double) (m->item_ptr[i + 1] - m->item_ptr[i]);

		if (m->item_w)
		{
			n_i = 0.0;
			for (int64_t x = m->item_ptr[i]; x < m->item_ptr[i + 1]; x++)
				n_i += m->item_w[x];
		}
		reg += n_i * (p->bias_regularization * bi * bi +
					  p->regularization *
					  svd_sqnorm(out->item_factors + (size_t) i * k, k));
	}
	return (sse + reg) / svd_total_weight(m);
}

/* Forward Fisher-Yates over a[0..n), one draw per position. */
static void
svd_shuffle(int32_t *a, int32_t n, RsRng *shuffle)
{
	for (int32_t x = 0; x < n; x++)
	{
		int32_t		j = x + (int32_t) rs_rng_below64(shuffle, (uint64_t) (n - x));
		int32_t		t = a[j];

		a[j] = a[x];
		a[x] = t;
	}
}

/*
 * One cell: forward Fisher-Yates over e[0..n) fused with training, each
 * entry trained on as it is placed.
 */
static void
svd_train_cell(SvdEntry *e, int64_t n, RsRng *shuffle, float mu,
			   float *bu, float *bi, float *P, float *Q, int k,
			   float lr, float reg, float reg_b, bool biases)
{
	for (int64_t x = 0; x < n; x++)
	{
		uint64_t	j = (uint64_t) x + rs_rng_below64(shuffle, (uint64_t) (n - x));
		SvdEntry	ent = e[j];
		float	   *pu = P + (size_t) ent.user * k;
		float	   *qi = Q + (size_t) ent.item * k;
		float		lrw = lr * ent.weight;
		float		err;

		e[j] = e[x];
		e[x] = ent;

		err = ent.value - (mu + bu[ent.user] + bi[ent.item] + svd_dot(pu, qi, k));
		if (biases)
		{
			bu[ent.user] += lrw * (err - reg_b * bu[ent.user]);
			bi[ent.item] += lrw * (err - reg_b * bi[ent.item]);
		}
		svd_step(pu, qi, err, lrw, reg, k);
	}
}

/* Blocks needed so that one block of rows x k floats is at most
 * SVD_BLOCK_BYTES. */
static int32_t
svd_blocks(int32_t rows, int k)
{
	int64_t		bytes = (int64_t) rows * k * (int64_t) sizeof(float);
	int64_t		b = (bytes + SVD_BLOCK_BYTES - 1) / SVD_BLOCK_BYTES;

	if (b < 1)
		b = 1;
	if (b > rows)
		b = rows > 0 ? rows : 1;
	return (int32_t) b;
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
	const int32_t ub = svd_blocks(m->n_users, k);
	const int32_t ib = svd_blocks(m->n_items, k);
	const int64_t n_cells = (int64_t) ub * ib;
	SvdEntry   *entries;
	int64_t    *cell_ptr;
	int64_t    *fill;
	int32_t    *ublock_order;
	int32_t    *iblock_order;
	RsRng		shuffle;

	rs_model_setup(out, m, p, env, p->no_global_mean ? 0.0 : svd_mean(m), true, true,
				   STREAM_USER_INIT << 32, STREAM_ITEM_INIT << 32);

	/*
	 * Lay the ratings out cell by cell, in user-major order inside a cell.
	 * Cell of (u, i) = (u mod ub) * ib + (i mod ib); modulo rather than
	 * ranges so that no block collects the most popular items or the
	 * oldest users.
	 */
	cell_ptr = env->alloc(env->arg, sizeof(int64_t) * (size_t) (n_cells + 1));
	fill = env->alloc(env->arg, sizeof(int64_t) * (size_t) n_cells);
	ublock_order = env->alloc(env->arg, sizeof(int32_t) * (size_t) ub);
	iblock_order = env->alloc(env->arg, sizeof(int32_t) * (size_t) ib);
	for (int32_t a = 0; a < ub; a++)
		ublock_order[a] = a;
	for (int32_t b = 0; b < ib; b++)
		iblock_order[b] = b;
	entries = env->alloc(env->arg, sizeof(SvdEntry) * (size_t) (nnz > 0 ? nnz : 1));
	for (int32_t u = 0; u < m->n_users; u++)
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
			cell_ptr[(int64_t) (u % ub) * ib + m->user_items[x] % ib + 1]++;
	for (int64_t c = 0; c < n_cells; c++)
	{
		cell_ptr[c + 1] += cell_ptr[c];
		fill[c] = cell_ptr[c];
	}
	for (int32_t u = 0; u < m->n_users; u++)
	{
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			int64_t		y = fill[(int64_t) (u % ub) * ib + m->user_items[x] % ib]++;

			entries[y].user = u;
			entries[y].item = m->user_items[x];
			entries[y].value = m->user_vals[x];
			entries[y].weight = m->user_w ? m->user_w[x] : 1.0f;
		}
	}

	rs_rng_init(&shuffle, p->seed, STREAM_SHUFFLE << 32);

	for (int epoch = 0; epoch < p->iterations; epoch++)
	{
		int64_t		since_check = 0;
		double		loss;

		/*
		 * User blocks in a fresh random order, and for each the item
		 * blocks in a fresh random order: a user block's factors stay in
		 * cache across its cells while the item factors stream past.
		 */
		svd_shuffle(ublock_order, ub, &shuffle);
		for (int32_t a = 0; a < ub; a++)
		{
			svd_shuffle(iblock_order, ib, &shuffle);
			for (int32_t b = 0; b < ib; b++)
			{
				int64_t		cell = (int64_t) ublock_order[a] * ib + iblock_order[b];
				int64_t		n = cell_ptr[cell + 1] - cell_ptr[cell];

				svd_train_cell(entries + cell_ptr[cell], n, &shuffle,
							   (float) out->global_mean, out->user_bias, out->item_bias,
							   out->user_factors, out->item_factors, k,
							   lr, reg, reg_b, !p->no_biases);

				since_check += n + 1;
				if (since_check >= SVD_CHECK_EVERY)
				{
					env->check_interrupts(env->arg);
					since_check = 0;
				}
			}
		}

		env->check_interrupts(env->arg);
		loss = svd_loss(m, p, env, out);
		out->loss[out->n_loss++] = loss;
		if (env->progress)
			env->progress(env->arg, epoch + 1, loss);
	}
	if (p->no_biases)
	{
		/* they stayed 0: the model has none */
		out->user_bias = NULL;
		out->item_bias = NULL;
	}
}
