/*-------------------------------------------------------------------------
 *
 * core.h
 *	  The contract of the pure-C core (src/core/): the compact interaction
 *	  matrix every training algorithm consumes, the knobs they read, the
 *	  model they fill in, and the services the caller provides.
 *
 * Every file of src/core/ is plain C on purpose: no PostgreSQL headers
 * (the build's check-core target fails if one appears), so each can be
 * compiled and checked against its reference outside the server
 * (test/core).  The training algorithms (als.c, ials.c, svd.c, bpr.c,
 * popularity.c, knn.c) include only this file, linalg.h and rng.h.  Inside the server,
 * train.c supplies an RsEnv whose alloc draws from the training memory
 * context (and enforces the memory bound) and whose check_interrupts is
 * CHECK_FOR_INTERRUPTS(); both may throw (longjmp), which the cores allow
 * by never holding resources other than memory obtained from alloc.  One
 * exception: the exact solvers of als.c and ials.c set OpenBLAS to one
 * thread while they run, so a caller that lets them throw must restore
 * rs_blas_set_threads() itself (train.c does).
 *
 * Threads: rs_parallel_for() and rs_parallel_csr() run a function over
 * index ranges on worker threads.  Code running on a worker thread must
 * not call anything in RsEnv (nor any PostgreSQL function); it only
 * computes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_CORE_H
#define RECSYS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Interactions with dense ids 0..n_users-1 and 0..n_items-1, duplicates
 * already combined by the loader, stored twice: rows by user and rows by
 * item (CSR), column indices ascending within a row.
 */
typedef struct RsMatrix
{
	int32_t		n_users;
	int32_t		n_items;
	int64_t		nnz;

	int64_t    *user_ptr;		/* n_users + 1 offsets */
	int32_t    *user_items;		/* nnz item ids */
	float	   *user_vals;		/* nnz values (rating or count) */

	int64_t    *item_ptr;		/* n_items + 1 offsets */
	int32_t    *item_users;		/* nnz user ids */
	float	   *item_vals;		/* nnz values */

	double	   *user_ts;		/* NULL, or nnz timestamps (seconds since
								 * the Unix epoch) aligned with user_items */

	/*
	 * Time decay (decay.c): NULL, or each interaction's weight
	 * w = 0.5^(age / half_life) in (0, 1], aligned with user_items and
	 * with item_users.  NULL means every weight is 1, and every algorithm
	 * then computes exactly what it computes without them.
	 */
	float	   *user_w;
	float	   *item_w;
	double		mean;			/* mean of all values */

	/*
	 * Item attribute vectors (item_knn's "attributes" option), or NULL.
	 * Items that appear only in the attributes have empty rows above.
	 */
	int			attr_dims;
	float	   *item_attr;		/* n_items x attr_dims, row-major */
	bool	   *item_has_attr;	/* n_items: a vector was given */
} RsMatrix;

/* Neighbourhood models: how two entities are compared (see knn.c). */
typedef enum RsSimilarity
{
	RS_SIM_COSINE,
	RS_SIM_ADJUSTED_COSINE,
	RS_SIM_PEARSON,
	RS_SIM_JACCARD
} RsSimilarity;

/* Neighbourhood models: weighting of the interaction values (see knn.c). */
typedef enum RsWeighting
{
	RS_WEIGHT_NONE,
	RS_WEIGHT_BM25,
	RS_WEIGHT_TFIDF
} RsWeighting;

/*
 * Every knob of every algorithm.  The option parser fills in the
 * algorithm's defaults and validates ranges; an algorithm reads only the
 * fields that concern it.
 */
typedef struct RsParams
{
	int			factors;		/* latent dimensions */
	int			iterations;		/* ALS sweeps / SGD epochs */
	double		regularization; /* lambda on factors */
	/*
	 * als: "regularization" was not given, so it is chosen on held-out
	 * ratings before training (src/regularization.c); regularization is
	 * where the search starts until then
	 */
	bool		auto_regularization;
	double		bias_regularization;	/* lambda on biases (als, svd) */
	/*
	 * als, svd: options "biases": false and "global_mean": false, stored
	 * negated so that zeroed parameters mean the biased model.  no_biases:
	 * r^ = mu + p.q, no bias learned (the model's bias arrays are NULL);
	 * no_global_mean (only with no_biases): mu = 0 as well, r^ = p.q.
	 */
	bool		no_biases;
	bool		no_global_mean;
	double		alpha;			/* ials: confidence 1 + alpha * r */
	double		learning_rate;	/* svd, bpr */
	double		init_std;		/* std. dev. of the initial factors */
	int			cg_steps;		/* ials: conjugate-gradient steps per solve */
	bool		cholesky;		/* ials: exact solve instead of CG */
	int			samples;		/* bpr: negative samples per positive per epoch */
	double		half_life_days; /* popularity: time decay, 0 = none */
	int			threads;		/* worker threads, >= 1 */
	uint64_t	seed;

	/* item_knn, user_knn */
	bool		user_based;		/* user_knn: neighbours are users */
	bool		explicit_feedback;	/* ratings: baseline + weighted average */
	RsSimilarity similarity;
	int			neighbors;		/* K: neighbours kept per entity */
	double		shrinkage;		/* sim * n / (n + shrinkage), n = co-support */
	int			min_support;	/* fewer common users (items): no neighbour */
	double		min_similarity; /* kept only when sim > min_similarity */
	RsWeighting weighting;
	double		bm25_k1;
	double		bm25_b;
	bool		attributes_only;	/* item_knn: all items by attributes */
} RsParams;

/* What a training run produces.  Arrays are allocated through RsEnv. */
typedef struct RsModel
{
	int32_t		n_users;
	int32_t		n_items;
	int			factors;		/* 0 for models without factors */
	double		global_mean;	/* added to every prediction (0 if unused) */
	float	   *user_bias;		/* n_users, or NULL */
	float	   *item_bias;		/* n_items, or NULL (popularity: the score) */
	float	   *user_factors;	/* n_users x factors, row-major, or NULL */
	float	   *item_factors;	/* n_items x factors, row-major, or NULL */
	float	   *item_implicit;	/* svdpp: the items' y_j, n_items x factors,
								 * or NULL */
	int			n_loss;			/* entries in loss[] */
	double	   *loss;			/* training loss after each iteration */

	/*
	 * Neighbourhood models: the top-K lists, CSR by entity (items for
	 * item_knn, users for user_knn), best neighbour first.  n_lists is 0
	 * and the arrays NULL for other models.
	 */
	int32_t		n_lists;
	int64_t    *nbr_ptr;		/* n_lists + 1 offsets */
	int32_t    *nbr_idx;		/* neighbour ids */
	float	   *nbr_sim;		/* similarities */
	int32_t    *nbr_support;	/* common users (items); 0 for attribute
								 * neighbours */
} RsModel;

/* Services the caller provides.  Called on the calling thread only. */
typedef struct RsEnv
{
	/* zeroed memory, never NULL (throws when over the memory bound) */
	void	   *(*alloc) (void *arg, size_t size);
	/*
	 * Throws if the query was cancelled; call it, or poll
	 * interrupt_pending, at least every ~100 ms.
	 */
	void		(*check_interrupts) (void *arg);
	/*
	 * Never throws: would check_interrupts act now?  Cheap enough to poll
	 * between chunks (rs_parallel_csr); may be NULL: never pending, then
	 * check_interrupts is called after every chunk with no workers running.
	 */
	bool		(*interrupt_pending) (void *arg);
	/* after each iteration: 1-based iteration number and its loss */
	void		(*progress) (void *arg, int iteration, double loss);
	/* progress of a phase that has no loss, as a line of text; may be NULL */
	void		(*note) (void *arg, const char *text);
	void	   *arg;
} RsEnv;

/* als.c: explicit ratings, biased MF by alternating least squares */
extern void rs_train_als(const RsMatrix *m, const RsParams *p,
						 const RsEnv *env, RsModel *out);
/* svdpp.c: explicit ratings with implicit feedback (Koren's SVD++), SGD */
extern void rs_train_svdpp(const RsMatrix *m, const RsParams *p,
						   const RsEnv *env, RsModel *out);

/*
 * svdpp.c: a user's implicit part |N|^-1/2 sum y_j over the n items given
 * (z: k floats; all 0 for n = 0), from the items' y (n_items x k).
 */
extern void rs_svdpp_implicit(const float *item_implicit, const int32_t *items,
							  int64_t n, int k, float *z);

/* als.c: explicit ratings, nonnegative MF (the als sweeps with p, q >= 0) */
extern void rs_train_nmf(const RsMatrix *m, const RsParams *p,
						 const RsEnv *env, RsModel *out);

/*
 * als.c, ials.c: one exact (Cholesky) user half-step against fixed items,
 * from zero, for every user of m (only its user rows are read): what
 * serving's fold-in computes for one user, for many at once
 * (recsys.update()).  Set OpenBLAS to one thread while they run, like the
 * exact solvers of training.
 */
extern void rs_als_solve_users(const RsMatrix *m, int k, double mu,
							   double lambda, double lambda_b, bool biases,
							   bool nonnegative,
							   const float *item_factors,
							   const float *item_bias, int threads,
							   const RsEnv *env, float *user_factors,
							   float *user_bias);
extern void rs_ials_solve_users(const RsMatrix *m, int k, double alpha,
								double lambda, const float *item_factors,
								int32_t n_items, int threads,
								const RsEnv *env, float *user_factors);

/*
 * holdout.c: held-out ratings for choosing a hyper-parameter.  rs_hold_out
 * returns the training part of m (both orientations, time-decay weights
 * kept, the mean of its values) and fills out with the interactions held
 * out: those whose seeded hash of (user, item) falls in one of `every`
 * buckets, but never a user's or an item's last one, and none of a user
 * with fewer than three.  rs_held_out_rmse measures a model there.
 */
typedef struct RsHeldOut
{
	int64_t		n;
	int32_t    *user;
	int32_t    *item;
	float	   *value;
	float	   *weight;			/* time-decay weights, or NULL */
} RsHeldOut;
extern RsMatrix *rs_hold_out(const RsMatrix *m, uint64_t seed, int every,
							 const RsEnv *env, RsHeldOut *out);
extern double rs_held_out_rmse(const RsModel *model, const RsHeldOut *h,
							   const RsEnv *env);

/* svd.c: explicit ratings, biased MF by SGD */
extern void rs_train_svd(const RsMatrix *m, const RsParams *p,
						 const RsEnv *env, RsModel *out);

/* ials.c: implicit feedback, Hu-Koren-Volinsky ALS */
extern void rs_train_ials(const RsMatrix *m, const RsParams *p,
						  const RsEnv *env, RsModel *out);

/* bpr.c: implicit feedback, Bayesian personalised ranking */
extern void rs_train_bpr(const RsMatrix *m, const RsParams *p,
						 const RsEnv *env, RsModel *out);

/*
 * decay.c: sets m->user_w and m->item_w from m->user_ts (which must be
 * set): w = 0.5^(max(0, as_of - t) / half_life), half_life in seconds
 * (> 0), as_of in seconds since the epoch, or NaN for the newest time.
 * Returns the as_of used.
 */
extern double rs_decay_weights(RsMatrix *m, double half_life, double as_of,
							   const RsEnv *env);

/*
 * decay.c: m itself when it has no weights, else a copy whose values are
 * value * weight on both sides (and no weights): what the implicit
 * neighbourhood models read.
 */
extern const RsMatrix *rs_weighted_values(const RsMatrix *m, const RsEnv *env);

/* popularity.c: item counts, optionally time-decayed (item_bias = score) */
extern void rs_train_popularity(const RsMatrix *m, const RsParams *p,
								const RsEnv *env, RsModel *out);

/*
 * knn.c: item_knn / user_knn, the top-K neighbour lists (and for explicit
 * feedback the baseline biases); knn.h has the scoring functions
 */
extern void rs_train_knn(const RsMatrix *m, const RsParams *p,
						 const RsEnv *env, RsModel *out);

/*
 * For the core's tests only (test/core/knn_core): force one way of
 * computing the lists, which must all give the same result.  0 (the
 * default) lets knn.c choose.
 */
#define RS_KNN_TEST_ONE_SIDED	1	/* never the symmetric mode */
#define RS_KNN_TEST_TRACK		2	/* touched lists for every row */
#define RS_KNN_TEST_SCAN		4	/* scan every entity for every row */
extern int	rs_knn_test_paths;

/*
 * ease.c: EASE's item x item weights as item_knn-shaped neighbour lists
 * (p->regularization, p->neighbors).  Returns 0, or LAPACK's info when
 * X^T X + lambda I was not positive definite (the model is then unusable).
 * rs_ease_bytes: the most it allocates besides the matrix, for checking
 * the memory limit before training.
 */
extern int	rs_train_ease(const RsMatrix *m, const RsParams *p,
						  const RsEnv *env, RsModel *out);
extern size_t rs_ease_bytes(int32_t n_items, int neighbors);

/* parallel.c: run fn(ctx, begin, end) over [0, n) split across threads */
typedef void (*RsRangeFn) (void *ctx, int64_t begin, int64_t end, int thread);
extern void rs_parallel_for(int64_t n, int threads, RsRangeFn fn, void *ctx);

/*
 * The same over the n entities of a CSR side (ptr), in chunks of at most
 * max_nnz interactions (or one entity), checking for interrupts between
 * chunks: may throw, after every chunk handed out has finished.
 */
extern void rs_parallel_csr(const int64_t *ptr, int64_t n, int64_t max_nnz,
							int threads, RsRangeFn fn, void *ctx,
							const RsEnv *env);

/* linalg.h holds the BLAS/LAPACK wrappers; rng.h the random numbers */

#endif							/* RECSYS_CORE_H */
