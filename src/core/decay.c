/*-------------------------------------------------------------------------
 *
 * decay.c
 *	  Time decay of interactions: each interaction's weight from its time,
 *	  and the values scaled by those weights.  Plain C; see core.h.
 *
 * An interaction at time t weighs
 *
 *		w = 0.5 ^ (age / half_life),	age = max(0, as_of - t)
 *
 * as_of being the newest time of the data unless the caller gives one.
 * Times after as_of (possible only with an explicit as_of) have age 0 and
 * weigh 1: a weight above 1 would let one future row outweigh any number
 * of past ones.  The weights are computed in double and stored as float;
 * one many half-lives old may round to 0 (it then counts for nothing).
 *
 * How each algorithm reads them is described in its own file: als and
 * svd weigh each rating's term of the loss, ials counts an interaction as
 * observed with probability w (confidence 1 + alpha r w, preference
 * w (1 + alpha r) / (1 + alpha r w)), bpr draws positives in proportion to w, the
 * implicit neighbourhood models read r w as the matrix value, popularity
 * sums the weights.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"

#include <math.h>

#define LN_2				0.69314718055994530942

/* Interactions between interrupt checks. */
#define DECAY_CHECK_EVERY	(INT64_C(1) << 20)

double
rs_decay_weights(RsMatrix *m, double half_life, double as_of, const RsEnv *env)
{
	int64_t		nnz = m->nnz;
	double		per_second = -LN_2 / half_life;
	float	   *uw;
	float	   *iw;
	int64_t    *fill;

	if (isnan(as_of))
	{
		as_of = nnz > 0 ? m->user_ts[0] : 0.0;
		for (int64_t x = 1; x < nnz; x++)
			if (m->user_ts[x] > as_of)
				as_of = m->user_ts[x];
	}
	uw = env->alloc(env->arg, sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));
	iw = env->alloc(env->arg, sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));
	for (int64_t x = 0; x < nnz; x++)
	{
		double		age = as_of - m->user_ts[x];

		uw[x] = age > 0 ? (float) exp(age * per_second) : 1.0f;
		if ((x & (DECAY_CHECK_EVERY - 1)) == DECAY_CHECK_EVERY - 1)
			env->check_interrupts(env->arg);
	}

	/*
	 * The item side: item rows list their users in ascending order, so
	 * walking the users in order fills each item row front to back.
	 */
	fill = env->alloc(env->arg, sizeof(int64_t) * (size_t) (m->n_items > 0 ? m->n_items : 1));
	for (int32_t i = 0; i < m->n_items; i++)
		fill[i] = m->item_ptr[i];
	for (int32_t u = 0; u < m->n_users; u++)
		for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
			iw[fill[m->user_items[x]]++] = uw[x];

	m->user_w = uw;
	m->item_w = iw;
	return as_of;
}

const RsMatrix *
rs_weighted_values(const RsMatrix *m, const RsEnv *env)
{
	RsMatrix   *c;
	int64_t		nnz = m->nnz;

	if (m->user_w == NULL)
		return m;
	c = env->alloc(env->arg, sizeof(RsMatrix));
	*c = *m;
	c->user_vals = env->alloc(env->arg, sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));
	c->item_vals = env->alloc(env->arg, sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));
	for (int64_t x = 0; x < nnz; x++)
	{
		c->user_vals[x] = m->user_vals[x] * m->user_w[x];
		c->item_vals[x] = m->item_vals[x] * m->item_w[x];
	}
	c->user_w = NULL;
	c->item_w = NULL;
	return c;
}
