/*-------------------------------------------------------------------------
 *
 * rng.h
 *	  Small, fast, seedable random numbers for training (plain C).
 *
 * xoshiro256** seeded through splitmix64.  Every random stream in recsys
 * is derived from (seed, stream id) so results do not depend on the order
 * in which threads run: e.g. one stream per user for initialisation, one
 * per thread-block for SGD sampling.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_RNG_H
#define RECSYS_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct RsRng
{
	uint64_t	s[4];
} RsRng;

static inline uint64_t
rs_splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* A generator for stream `stream` of seed `seed`. */
static inline void
rs_rng_init(RsRng *r, uint64_t seed, uint64_t stream)
{
	uint64_t	x = seed ^ (stream * UINT64_C(0xD1B54A32D192ED03));

	for (int i = 0; i < 4; i++)
		r->s[i] = rs_splitmix64(&x);
}

static inline uint64_t
rs_rng_next(RsRng *r)
{
	uint64_t   *s = r->s;
	uint64_t	t = s[1] << 17;
	uint64_t	v = s[1] * 5;

	v = ((v << 7) | (v >> 57)) * 9;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return v;
}

/* Uniform in [0, 1). */
static inline double
rs_rng_uniform(RsRng *r)
{
	return (rs_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-32). */
static inline uint32_t
rs_rng_below(RsRng *r, uint32_t n)
{
	return (uint32_t) (((rs_rng_next(r) >> 32) * (uint64_t) n) >> 32);
}

/* Uniform integer in [0, n), n > 0, for n that may exceed 2^32. */
static inline uint64_t
rs_rng_below64(RsRng *r, uint64_t n)
{
	if (n <= UINT32_MAX)
		return rs_rng_below(r, (uint32_t) n);
	return rs_rng_next(r) % n;	/* modulo bias below 2^-32 */
}

/* Standard normal (Box-Muller, one value per call). */
static inline double
rs_rng_normal(RsRng *r)
{
	double		u1 = 1.0 - rs_rng_uniform(r);	/* (0, 1] */
	double		u2 = rs_rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif							/* RECSYS_RNG_H */
