/*-------------------------------------------------------------------------
 *
 * harness.h
 *	  What every driver of the pure-C cores shares (harness.c): the RsEnv
 *	  services a server would give (memory, interrupt checks, progress),
 *	  reading a triplet file, and building the RsMatrix the loader would
 *	  build from it.
 *
 * The drivers: als_core.c (als, ials), sgd_core.c (svd, bpr, popularity),
 * knn_core.c (item_knn, user_knn and the kNN scoring), stats_core.c (the
 * p-value functions, which need none of this).
 *
 * Triplet files: if the name ends in ".bin", packed little-endian records
 * (int32 user, int32 item, float32 value), no header; otherwise text, one
 * "user item value [timestamp]" per line, '#' starting a comment.  Ids are
 * dense 0-based ids.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TEST_CORE_HARNESS_H
#define TEST_CORE_HARNESS_H

#include "core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the rows of a triplet file, in file order */
typedef struct HnTriplets
{
	int64_t		n;
	int64_t		cap;
	int32_t    *u;
	int32_t    *i;
	float	   *v;
	double	   *ts;
	bool		has_ts;			/* every text line had a timestamp */
} HnTriplets;

/*
 * The state behind the RsEnv services: memory handed out, the longest gap
 * between two interrupt checks (a poll counts as one), and the time of
 * every iteration.  With pending_every N, every Nth poll says an interrupt
 * is pending (and the check that follows finds none to act on): a core
 * must then stop handing out chunks, wait, and carry on to the same model.
 */
typedef struct HnEnv
{
	size_t		allocated;
	double		last_check;
	double		max_gap;
	long		checks;
	long		polls;
	long		pending_every;
	double		last_iter;
	double	   *iter_seconds;	/* per iteration; the first includes setup */
	int			n_iters;
	int			cap_iters;
	/* called after each iteration with its seconds; may be NULL */
	void		(*on_progress) (struct HnEnv *h, int iteration, double loss,
								double seconds);
} HnEnv;

/* the name errors are reported under (argv[0]'s last part by default) */
extern const char *hn_progname;

extern double hn_now(void);
extern void hn_die(const char *msg, const char *arg);
extern void *hn_calloc(size_t n, size_t size);

extern void hn_read_triplets(const char *path, HnTriplets *t);

/*
 * Both CSR forms as the loader builds them: users ascending with their
 * items ascending, items with their users ascending, a repeated (user,
 * item) keeping the last value (and timestamp) in the file; at least
 * min_users x min_items (ids without interactions allowed).
 */
extern void hn_build_matrix(const HnTriplets *t, int32_t min_users,
							int32_t min_items, RsMatrix *m);

/* the RsEnv of h; its clocks start now (hn_env_start restarts them) */
extern void hn_env_init(HnEnv *h, RsEnv *env);
extern void hn_env_start(HnEnv *h);

/*
 * The median iteration time, leaving out the first (it includes the
 * setup) when there are more; the lower one of two middles.
 */
extern double hn_median_iteration(HnEnv *h);

#endif							/* TEST_CORE_HARNESS_H */
