/*-------------------------------------------------------------------------
 *
 * holdout.c
 *	  Holds out a part of a rating matrix, for choosing a hyper-parameter on
 *	  ratings the model was not trained on, and measures a model there.
 *
 * An interaction is held out when a seeded hash of (user, item) falls in
 * one of `every` buckets, so the choice depends on the seed and the data,
 * never on the order rows were read in.  Nobody loses the last of their
 * interactions: a user or an item keeps at least one in the training part
 * (an entity without any would have nothing to be solved from), and users
 * with fewer than three interactions keep them all.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"
#include "rng.h"

#include <math.h>
#include <string.h>

static bool
held(uint64_t seed, int32_t user, int32_t item, int every)
{
	uint64_t	x = seed ^ (((uint64_t) (uint32_t) user << 32) | (uint32_t) item);

	return rs_splitmix64(&x) % (uint64_t) every == 0;
}

RsMatrix *
rs_hold_out(const RsMatrix *m, uint64_t seed, int every, const RsEnv *env,
			RsHeldOut *out)
{
	RsMatrix   *t = env->alloc(env->arg, sizeof(RsMatrix));
	int32_t    *item_left = env->alloc(env->arg, sizeof(int32_t) * (size_t) (m->n_items + 1));
	bool	   *hold = env->alloc(env->arg, sizeof(bool) * (size_t) (m->nnz + 1));
	int64_t    *fill;
	int64_t		n_held = 0;
	int64_t		y;
	double		total = 0.0;

	for (int32_t i = 0; i < m->n_items; i++)
		item_left[i] = (int32_t) (m->item_ptr[i + 1] - m->item_ptr[i]);
	for (int32_t u = 0; u < m->n_users; u++)
	{
		int64_t		n = m->user_ptr[u + 1] - m->user_ptr[u];
		int64_t		left = n;

		if (n < 3)
			continue;
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			int32_t		i = m->user_items[x];

			if (left > 1 && item_left[i] > 1 && held(seed, u, i, every))
			{
				hold[x] = true;
				left--;
				item_left[i]--;
				n_held++;
			}
		}
		if ((u & 1023) == 0)
			env->check_interrupts(env->arg);
	}

	out->n = n_held;
	out->user = env->alloc(env->arg, sizeof(int32_t) * (size_t) (n_held + 1));
	out->item = env->alloc(env->arg, sizeof(int32_t) * (size_t) (n_held + 1));
	out->value = env->alloc(env->arg, sizeof(float) * (size_t) (n_held + 1));
	out->weight = m->user_w ? env->alloc(env->arg, sizeof(float) * (size_t) (n_held + 1)) : NULL;

	/* the training part, by user in the order of m */
	t->n_users = m->n_users;
	t->n_items = m->n_items;
	t->nnz = m->nnz - n_held;
	t->user_ptr = env->alloc(env->arg, sizeof(int64_t) * (size_t) (m->n_users + 1));
	t->user_items = env->alloc(env->arg, sizeof(int32_t) * (size_t) (t->nnz + 1));
	t->user_vals = env->alloc(env->arg, sizeof(float) * (size_t) (t->nnz + 1));
	t->user_w = m->user_w ? env->alloc(env->arg, sizeof(float) * (size_t) (t->nnz + 1)) : NULL;
	y = 0;
	n_held = 0;
	for (int32_t u = 0; u < m->n_users; u++)
	{
		t->user_ptr[u] = y;
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		{
			if (hold[x])
			{
				out->user[n_held] = u;
				out->item[n_held] = m->user_items[x];
				out->value[n_held] = m->user_vals[x];
				if (out->weight)
					out->weight[n_held] = m->user_w[x];
				n_held++;
				continue;
			}
			t->user_items[y] = m->user_items[x];
			t->user_vals[y] = m->user_vals[x];
			if (t->user_w)
				t->user_w[y] = m->user_w[x];
			total += m->user_vals[x];
			y++;
		}
		if ((u & 1023) == 0)
			env->check_interrupts(env->arg);
	}
	t->user_ptr[m->n_users] = y;
	t->mean = t->nnz > 0 ? total / (double) t->nnz : 0.0;

	/* the same part by item, users in order */
	t->item_ptr = env->alloc(env->arg, sizeof(int64_t) * (size_t) (m->n_items + 1));
	t->item_users = env->alloc(env->arg, sizeof(int32_t) * (size_t) (t->nnz + 1));
	t->item_vals = env->alloc(env->arg, sizeof(float) * (size_t) (t->nnz + 1));
	t->item_w = m->user_w ? env->alloc(env->arg, sizeof(float) * (size_t) (t->nnz + 1)) : NULL;
	for (int64_t x = 0; x < t->nnz; x++)
		t->item_ptr[t->user_items[x] + 1]++;
	for (int32_t i = 0; i < m->n_items; i++)
		t->item_ptr[i + 1] += t->item_ptr[i];
	fill = env->alloc(env->arg, sizeof(int64_t) * (size_t) (m->n_items + 1));
	memcpy(fill, t->item_ptr, sizeof(int64_t) * (size_t) m->n_items);
	for (int32_t u = 0; u < m->n_users; u++)
	{
		for (int64_t x = t->user_ptr[u]; x < t->user_ptr[u + 1]; x++)
		{
			int64_t		z = fill[t->user_items[x]]++;

			t->item_users[z] = u;
			t->item_vals[z] = t->user_vals[x];
			if (t->item_w)
				t->item_w[z] = t->user_w[x];
		}
		if ((u & 1023) == 0)
			env->check_interrupts(env->arg);
	}
	return t;
}

/*
 * The root mean squared error of model on the held-out ratings (weighted
 * by their time-decay weights when they have them): r^ = global_mean +
 * b_u + b_i + p_u . q_i, each term where the model has it.
 */
double
rs_held_out_rmse(const RsModel *model, const RsHeldOut *h, const RsEnv *env)
{
	double		se = 0.0;
	double		sw = 0.0;
	int			k = model->factors;

	for (int64_t x = 0; x < h->n; x++)
	{
		int32_t		u = h->user[x];
		int32_t		i = h->item[x];
		double		p = model->global_mean;
		double		w = h->weight ? h->weight[x] : 1.0;
		double		e;

		if (model->user_bias)
			p += model->user_bias[u];
		if (model->item_bias)
			p += model->item_bias[i];
		if (k > 0 && model->user_factors && model->item_factors)
			for (int j = 0; j < k; j++)
				p += (double) model->user_factors[(size_t) u * k + j] *
					model->item_factors[(size_t) i * k + j];
		e = p - h->value[x];
		se += w * e * e;
		sw += w;
		if ((x & 0xFFFF) == 0xFFFF)
			env->check_interrupts(env->arg);
	}
	return sw > 0 ? sqrt(se / sw) : NAN;
}
