/*-------------------------------------------------------------------------
 *
 * holdout_core.c
 *	  Checks the held-out split that als's choice of regularization reads
 *	  (src/core/holdout.c) against its definition, on random matrices with
 *	  and without time-decay weights, and its RMSE against a direct sum.
 *
 * Usage: holdout_core		(prints one "ok" / "not ok" line per check)
 *
 *-------------------------------------------------------------------------
 */
#include "harness.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	failures = 0;

static void
check(bool ok, const char *what)
{
	printf("%s holdout: %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

/*
 * A random matrix: users with 1 to 40 interactions (a few with 1 or 2),
 * items drawn with a skew, so that some items have a single interaction.
 */
static void
random_matrix(uint64_t seed, bool weights, RsMatrix *m)
{
	HnTriplets t;
	RsRng		rng;

	memset(&t, 0, sizeof(t));
	rs_rng_init(&rng, seed, 0);
	t.cap = 20000;
	t.u = hn_calloc(t.cap, sizeof(int32_t));
	t.i = hn_calloc(t.cap, sizeof(int32_t));
	t.v = hn_calloc(t.cap, sizeof(float));
	for (int32_t u = 0; u < 400; u++)
	{
		int			n = u % 17 == 0 ? 1 + u % 2 : 1 + (int) (rs_rng_next(&rng) % 40);

		for (int x = 0; x < n; x++)
		{
			double		r = rs_rng_uniform(&rng);

			t.u[t.n] = u;
			t.i[t.n] = (int32_t) (150 * r * r * r);
			t.v[t.n] = (float) (1 + rs_rng_next(&rng) % 5);
			t.n++;
		}
	}
	hn_build_matrix(&t, 400, 150, m);
	if (weights)
	{
		m->user_w = hn_calloc(m->nnz + 1, sizeof(float));
		m->item_w = hn_calloc(m->nnz + 1, sizeof(float));
		for (int32_t u = 0; u < m->n_users; u++)
			for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
			{
				int32_t		i = m->user_items[x];

				m->user_w[x] = 0.5f + 0.5f * (float) ((u * 31 + i * 7) % 11) / 10.0f;
				for (int64_t y = m->item_ptr[i]; y < m->item_ptr[i + 1]; y++)
					if (m->item_users[y] == u)
						m->item_w[y] = m->user_w[x];
			}
	}
}

/* The position of (u, i) in a matrix's user rows, or -1. */
static int64_t
find(const RsMatrix *m, int32_t u, int32_t i)
{
	for (int64_t x = m->user_ptr[u]; x < m->user_ptr[u + 1]; x++)
		if (m->user_items[x] == i)
			return x;
	return -1;
}

static void
check_split(const char *name, uint64_t seed, int every, bool weights)
{
	HnEnv		h;
	RsEnv		env;
	RsMatrix	m;
	RsMatrix   *t;
	RsHeldOut	held;
	RsHeldOut	again;
	RsMatrix   *t2;
	bool		partition = true;
	bool		kept = true;
	bool		small = true;
	bool		by_item = true;
	bool		same = true;
	double		total = 0.0;
	int64_t		eligible = 0;
	int64_t		held_eligible = 0;
	char		what[200];

	memset(&m, 0, sizeof(m));
	random_matrix(seed, weights, &m);
	hn_env_init(&h, &env);
	t = rs_hold_out(&m, seed * 7 + 1, every, &env, &held);

	/* every interaction is in exactly one part, with its value and weight */
	if (t->nnz + held.n != m.nnz)
		partition = false;
	for (int64_t x = 0; x < held.n && partition; x++)
	{
		int64_t		y = find(&m, held.user[x], held.item[x]);

		if (y < 0 || find(t, held.user[x], held.item[x]) >= 0 || m.user_vals[y] != held.value[x] ||
			(weights && held.weight[x] != m.user_w[y]) || (!weights && held.weight != NULL))
			partition = false;
	}
	for (int32_t u = 0; u < t->n_users && partition; u++)
		for (int64_t x = t->user_ptr[u]; x < t->user_ptr[u + 1]; x++)
		{
			int64_t		y = find(&m, u, t->user_items[x]);

			if (y < 0 || m.user_vals[y] != t->user_vals[x] || (weights && t->user_w[x] != m.user_w[y]))
				partition = false;
			total += t->user_vals[x];
		}
	snprintf(what, sizeof(what), "%s: every interaction in exactly one part, value and weight kept", name);
	check(partition, what);
	snprintf(what, sizeof(what), "%s: the training part's mean is its values' mean", name);
	check(fabs(t->mean - total / (double) t->nnz) < 1e-12, what);

	/* nobody loses the last interaction; users with fewer than 3 keep all */
	for (int32_t u = 0; u < m.n_users; u++)
	{
		int64_t		n = m.user_ptr[u + 1] - m.user_ptr[u];
		int64_t		nt = t->user_ptr[u + 1] - t->user_ptr[u];

		if (n > 0 && nt == 0)
			kept = false;
		if (n < 3 && nt != n)
			small = false;
		if (n >= 3)
		{
			eligible += n;
			held_eligible += n - nt;
		}
	}
	for (int32_t i = 0; i < m.n_items; i++)
		if (m.item_ptr[i + 1] > m.item_ptr[i])
		{
			int64_t		n = 0;

			for (int64_t x = 0; x < t->nnz; x++)
				n += t->user_items[x] == i;
			if (n == 0)
				kept = false;
			if (t->item_ptr[i + 1] - t->item_ptr[i] != n)
				by_item = false;
		}
	snprintf(what, sizeof(what), "%s: every user and item keeps an interaction", name);
	check(kept, what);
	snprintf(what, sizeof(what), "%s: users with fewer than 3 interactions keep them all", name);
	check(small, what);
	snprintf(what, sizeof(what), "%s: about 1/%d of the other users' interactions held out (%.3f)",
			 name, every, (double) held_eligible / (double) eligible);
	check(fabs((double) held_eligible / (double) eligible - 1.0 / every) < 0.35 / every, what);

	/* the item rows are the same interactions, users ascending */
	for (int32_t i = 0; i < t->n_items && by_item; i++)
		for (int64_t y = t->item_ptr[i]; y < t->item_ptr[i + 1]; y++)
		{
			int32_t		u = t->item_users[y];
			int64_t		x = find(t, u, i);

			if (x < 0 || t->item_vals[y] != t->user_vals[x] ||
				(y > t->item_ptr[i] && t->item_users[y - 1] >= u) ||
				(weights && t->item_w[y] != t->user_w[x]))
				by_item = false;
		}
	snprintf(what, sizeof(what), "%s: the item rows hold the same interactions, users ascending", name);
	check(by_item, what);

	/* deterministic for a seed; another seed holds out others */
	t2 = rs_hold_out(&m, seed * 7 + 1, every, &env, &again);
	same = again.n == held.n && t2->nnz == t->nnz &&
		memcmp(again.user, held.user, sizeof(int32_t) * held.n) == 0 &&
		memcmp(again.item, held.item, sizeof(int32_t) * held.n) == 0;
	t2 = rs_hold_out(&m, seed * 7 + 2, every, &env, &again);
	snprintf(what, sizeof(what), "%s: the same seed holds out the same, another seed others", name);
	check(same && !(again.n == held.n &&
					memcmp(again.item, held.item, sizeof(int32_t) * held.n) == 0), what);
	(void) t2;

	/* the RMSE: the weighted mean of squared errors of mu + b_u + b_i + p.q */
	{
		RsModel		model;
		RsRng		rng;
		int			k = 3;
		double		se = 0.0;
		double		sw = 0.0;
		double		rmse;

		memset(&model, 0, sizeof(model));
		rs_rng_init(&rng, seed, 0);
		model.factors = k;
		model.global_mean = 3.25;
		model.user_bias = hn_calloc(m.n_users, sizeof(float));
		model.item_bias = hn_calloc(m.n_items, sizeof(float));
		model.user_factors = hn_calloc((size_t) m.n_users * k, sizeof(float));
		model.item_factors = hn_calloc((size_t) m.n_items * k, sizeof(float));
		for (int32_t u = 0; u < m.n_users; u++)
		{
			model.user_bias[u] = (float) rs_rng_uniform(&rng) - 0.5f;
			for (int j = 0; j < k; j++)
				model.user_factors[u * k + j] = (float) rs_rng_uniform(&rng) - 0.5f;
		}
		for (int32_t i = 0; i < m.n_items; i++)
		{
			model.item_bias[i] = (float) rs_rng_uniform(&rng) - 0.5f;
			for (int j = 0; j < k; j++)
				model.item_factors[i * k + j] = (float) rs_rng_uniform(&rng) - 0.5f;
		}
		for (int64_t x = 0; x < held.n; x++)
		{
			int32_t		u = held.user[x];
			int32_t		i = held.item[x];
			long double p = 3.25L + model.user_bias[u] + model.item_bias[i];
			double		w = weights ? held.weight[x] : 1.0;

			for (int j = 0; j < k; j++)
				p += (long double) model.user_factors[u * k + j] * model.item_factors[i * k + j];
			se += w * (double) ((p - held.value[x]) * (p - held.value[x]));
			sw += w;
		}
		rmse = rs_held_out_rmse(&model, &held, &env);
		snprintf(what, sizeof(what), "%s: RMSE %.9f equals the direct sum's %.9f", name, rmse, sqrt(se / sw));
		check(held.n > 0 && fabs(rmse - sqrt(se / sw)) < 1e-9, what);
		model.user_bias = NULL;
		model.item_bias = NULL;
		model.factors = 0;
		se = 0.0;
		for (int64_t x = 0; x < held.n; x++)
		{
			double		w = weights ? held.weight[x] : 1.0;

			se += w * (3.25 - held.value[x]) * (3.25 - held.value[x]);
		}
		rmse = rs_held_out_rmse(&model, &held, &env);
		snprintf(what, sizeof(what), "%s: a model of the mean alone: RMSE %.9f", name, rmse);
		check(fabs(rmse - sqrt(se / sw)) < 1e-9, what);
	}
}

int
main(void)
{
	check_split("every 10", 11, 10, false);
	check_split("every 10, time-decay weights", 12, 10, true);
	check_split("every 2", 13, 2, false);
	return failures == 0 ? 0 : 1;
}
