/*-------------------------------------------------------------------------
 *
 * popularity.c
 *	  The popularity baseline and cold-start fallback: every user gets the
 *	  same item scores.  Plain C; see core.h for the contract.
 *
 * score(i) = number of users who interacted with i (the loader has already
 * merged duplicate rows, so this counts distinct users).  The values are
 * not summed: ratings of 1 and 5 are both evidence of attention, and a
 * count is comparable across explicit and implicit sources.
 *
 * With half_life_days > 0 and timestamps present, each interaction counts
 *		0.5 ^ ((t_max - t) / (half_life_days * 86400))
 * instead of 1, t_max being the newest timestamp in the data, so the
 * newest interactions weigh 1 and the score is a decayed count.  Without
 * timestamps half_life_days is ignored.
 *
 * With weights (m->user_w: the "half_life" option, decay.c) the score is
 * the sum of the weights of the item's interactions instead.
 *
 * Output: item_bias = score, factors 0, global_mean 0, no loss history.
 * Sums are taken in double in user-row order, so they are deterministic.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"

#include <math.h>

#define SECONDS_PER_DAY		86400.0
#define LN_2				0.69314718055994530942

/* Interactions between interrupt checks. */
#define POP_CHECK_EVERY		(INT64_C(1) << 20)

void
rs_train_popularity(const RsMatrix *m, const RsParams *p, const RsEnv *env,
					RsModel *out)
{
	double	   *score;

	out->n_users = m->n_users;
	out->n_items = m->n_items;
	out->factors = 0;
	out->global_mean = 0.0;
	out->user_bias = NULL;
	out->user_factors = NULL;
	out->item_factors = NULL;
	out->n_loss = 0;
	out->loss = NULL;
	out->item_bias = env->alloc(env->arg, sizeof(float) * (size_t) m->n_items);

	if (m->item_w != NULL)
	{
		for (int32_t i = 0; i < m->n_items; i++)
		{
			double		sum = 0.0;

			for (int64_t x = m->item_ptr[i]; x < m->item_ptr[i + 1]; x++)
				sum += m->item_w[x];
			out->item_bias[i] = (float) sum;
		}
	}
	else if (p->half_life_days > 0 && m->user_ts != NULL && m->nnz > 0)
	{
		double		t_max = m->user_ts[0];
		double		per_second;

		for (int64_t x = 1; x < m->nnz; x++)
			if (m->user_ts[x] > t_max)
				t_max = m->user_ts[x];

		/* 0.5^(age / h) = exp(-age ln2 / h) */
		per_second = -LN_2 / (p->half_life_days * SECONDS_PER_DAY);
		score = env->alloc(env->arg, sizeof(double) * (size_t) m->n_items);
		for (int64_t x = 0; x < m->nnz; x++)
		{
			score[m->user_items[x]] += exp((t_max - m->user_ts[x]) * per_second);
			if ((x & (POP_CHECK_EVERY - 1)) == POP_CHECK_EVERY - 1)
				env->check_interrupts(env->arg);
		}
		for (int32_t i = 0; i < m->n_items; i++)
			out->item_bias[i] = (float) score[i];
	}
	else
	{
		/* The item-major rows already hold the counts. */
		for (int32_t i = 0; i < m->n_items; i++)
			out->item_bias[i] = (float) (m->item_ptr[i + 1] - m->item_ptr[i]);
	}
}
