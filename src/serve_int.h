/*-------------------------------------------------------------------------
 *
 * serve_int.h
 *	  The serving family's internals: the served model, the arguments every
 *	  serving function shares, and what each file of the family offers the
 *	  others.  src/serve.h is what the rest of the extension sees (serve.c
 *	  implements it; this header does not include it).
 *
 * The files stack one way; a file calls only those listed above it:
 *
 *	  core/score.c		  top-k heap, selection, factor scoring (plain C)
 *	  serve_cache.c		  the per-backend cache of served models
 *	  serve_args.c		  keys in the caller's type, argument checks, result rows
 *	  serve_attrs.c		  the item attributes built from the caller's queries
 *	  serve_rank.c		  scoring and ranking one user's items, exclusions
 *	  serve_candidates.c  candidates from a recsys_hnsw index
 *	  serve_foldin.c	  fold-in, a new user's rows from the model's source
 *	  serve_knn.c		  neighbourhood scoring
 *	  serve.c			  recommend(), recommend_for_items(), predict(), serve.h
 *	  serve_all.c		  recommend_all()
 *	  serve_similar.c	  similar_items(), similar_users()
 *	  serve_explain.c	  explain()
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_SERVE_INT_H
#define RECSYS_SERVE_INT_H

#include "catalog.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/hsearch.h"

#include "bloom.h"
#include "core/score.h"
#include "embedding.h"
#include "rerank.h"

/* ----------------------------------------------------------------
 *		The served model (serve_cache.c)
 * ----------------------------------------------------------------
 */

typedef struct ServedModel
{
	char	   *name;
	RsStoredModel sm;
	MemoryContext cxt;			/* everything below */
	int32		n_items;
	char	  **keys;
	float	   *bias;			/* NULL if the model has none */
	float	   *factors;		/* n_items x sm.factors, NULL if none */
	float	   *implicit;		/* svdpp: the items' y_j, as factors, or NULL */
	int32	   *degree;			/* training interactions per item */
	HTAB	   *key_index;		/* item key -> idx, built on first need */
	/* for fold-in, read on first need */
	bool		params_loaded;
	double		reg;			/* regularization */
	double		reg_b;			/* bias_regularization */
	bool		biases;			/* als, svd: false for "biases": false */
	bool		global_mean;	/* als, svd: false for "global_mean": false
								 * (sm.global_mean is then 0) */
	double		alpha;			/* ials confidence */
	double		half_life;		/* time decay: seconds, 0 for none */
	double		as_of;			/* time decay: seconds since the epoch */
	char	   *time_column;	/* time decay: the source's time column */
	float	   *gram;			/* ials: Y^T Y, k x k */
	char	   *user_type;		/* the model's user key type, SQL name */
	/* item_knn: the stored neighbour lists (CSR), read on first need */
	int32		n_lists;
	int64	   *nbr_ptr;
	int32	   *nbr_idx;
	float	   *nbr_sim;
	/* neighbourhood models: what the scoring functions read */
	bool		knn_ready;
	bool		told_no_index;	/* the NOTICE about a missing index was given */
	RsKnnModel	knn;
	bool		asked_by_number;	/* served by version => n, not only as
									 * the active version */
	uint64		last_used;		/* when it was last served (a counter) */
	struct ServedModel *next;
} ServedModel;

/* Scores are predicted ratings (als, svd, explicit neighbourhood models). */
static inline bool
is_explicit(const ServedModel *m)
{
	return m->sm.explicit_feedback;
}

static inline bool
is_knn(const ServedModel *m)
{
	return rs_algorithm_is_knn(m->sm.algorithm);
}

/* What core/score.c reads of a served model (rs_score_item() and friends). */
static inline RsFactorScorer
served_scorer(const ServedModel *m)
{
	RsFactorScorer s;

	s.n_items = m->n_items;
	s.k = m->sm.factors;
	s.factors = m->factors;
	s.bias = m->bias;
	s.degree = m->degree;
	s.global_mean = m->sm.global_mean;
	s.explicit_feedback = m->sm.explicit_feedback;
	s.popularity = m->sm.algorithm == RS_ALG_POPULARITY;
	return s;
}

/* serve_cache.c */
extern ServedModel *rs_served_model(const char *name, int32 version);
extern void rs_served_forget(const char *name);
extern int32 rs_served_item(ServedModel *m, const char *key);
extern void rs_served_params(ServedModel *m);
extern RsKnnModel *rs_served_knn(ServedModel *m);

/* ----------------------------------------------------------------
 *		Arguments and results (serve_args.c)
 *
 * Keys come in and go out in the caller's type and are handled as text,
 * the form the model stores.
 *
 * Every serving function takes the same trailing constraint arguments, in
 * this order, from its argument `base` on (see the install script):
 * exclude_query, item_times, half_life, item_groups, max_per_group,
 * protected_group, min_share, max_similarity, mmr_lambda, pool, forbidden.
 * ----------------------------------------------------------------
 */

typedef struct KeyIO
{
	Oid			type;
	Oid			output;
	Oid			input;
	Oid			ioparam;
} KeyIO;

/* the constraint arguments, counted from base */
enum
{
	C_EXCLUDE_QUERY,
	C_ITEM_TIMES,
	C_HALF_LIFE,
	C_ITEM_GROUPS,
	C_MAX_PER_GROUP,
	C_PROTECTED_GROUP,
	C_MIN_SHARE,
	C_MAX_SIMILARITY,
	C_MMR_LAMBDA,
	C_POOL,
	C_FORBIDDEN
};

typedef struct Constraints
{
	RsRerankSpec spec;
	bool		greedy;			/* more than the k best are looked at */
	char	   *exclude_query;	/* item keys never to recommend */
	char	   *times_query;	/* item, timestamp */
	char	   *groups_query;	/* item, group */
	char	   *protected_group;
	Datum		forbidden;		/* a recsys.bloom of item keys never to
								 * recommend, as passed (maybe toasted), or 0 */
} Constraints;

extern void rs_keyio_init(KeyIO *io, Oid type);
extern char *rs_keyio_to_text(const KeyIO *io, Datum d);
extern Datum rs_keyio_from_text(const KeyIO *io, const char *key);
extern int	rs_checked_k(FunctionCallInfo fcinfo, int arg);
extern char *rs_checked_model(FunctionCallInfo fcinfo);
extern int32 rs_version_arg(FunctionCallInfo fcinfo, int arg);
extern void rs_parse_constraints(FunctionCallInfo fcinfo, int base, int k,
							  bool has_vectors, Constraints *c);
extern void rs_check_vectors(const ServedModel *m, const Constraints *cons);
extern void rs_emit_ranked(ReturnSetInfo *rsinfo, const ServedModel *m,
						const KeyIO *io, const Datum *user,
						const RsScored *ranked, int n);

/* ----------------------------------------------------------------
 *		Item attributes (serve_attrs.c)
 * ----------------------------------------------------------------
 */

/*
 * What the constraints know about the items, built once per call site
 * (a query calling recommend() under LATERAL for a thousand users runs
 * each attribute query once) and rebuilt when the model's active version
 * or the query text changes.  Lives in the function's fn_extra.
 */
typedef struct ItemAttrs
{
	MemoryContext cxt;			/* child of fn_mcxt, reset on rebuild */
	char	   *model;
	int64		version_id;		/* of the model version it was built for */
	Oid			catalog_id;
	char	   *exclude_query;	/* what excluded[] was built from */
	bool	   *excluded;		/* n_items flags, or NULL */
	struct varatt_external forbidden_ptr;	/* what in_filter[] was built
											 * from, when that was stored
											 * out of line */
	BloomFilter *forbidden;		/* else a copy of it */
	bool	   *in_filter;		/* n_items flags, or NULL */
	bool	   *blocked;		/* excluded or in_filter (or NULL: none) */
	char	   *times_query;	/* what age[] was built from */
	double	   *age;			/* n_items ages in seconds, NaN: none */
	double		half_life;		/* what fresh[] was built for */
	float	   *fresh;			/* n_items freshness factors, or NULL */
	char	   *groups_query;	/* what group[] was built from */
	char	   *protected_group;
	int32	   *group;			/* n_items group ids, -1: none */
	bool	   *protected_;		/* n_items flags */
} ItemAttrs;

extern ItemAttrs *rs_item_attrs(FunctionCallInfo fcinfo, ServedModel *m,
							 const Constraints *cons);

/* ----------------------------------------------------------------
 *		Scoring, ranking, candidates, fold-in, neighbourhoods
 * ----------------------------------------------------------------
 */

/* serve_rank.c */
extern void rs_score_items(const ServedModel *m, bool known, float ubias,
						const float *uf, float *scores);
extern int	rs_rank_plain(int32 n, int k, const ItemAttrs *a, float *scores,
					   const int32 *excluded, int32 n_excluded, RsScored *out);
extern int	rs_rank_items(const ServedModel *m, const Constraints *cons,
					   const ItemAttrs *a, float *scores, const int32 *excluded,
					   int32 n_excluded, RsScored *out);
extern int32 *rs_call_exclusions(FunctionCallInfo fcinfo, int arg, ServedModel *m,
							  const int32 *base, int32 nbase, int32 *n_out);

/* serve_candidates.c */
extern int	rs_rank_from_index(ServedModel *m, const Constraints *cons,
							const ItemAttrs *attrs, float ubias, const float *uf,
							int k, const int32 *excluded, int32 n_excluded,
							RsScored *out);

/* serve_foldin.c */
extern void rs_fold_in(ServedModel *m, const int32 *idx, const float *ratings,
					const float *weights, int32 n, float *ubias, float *uf);
extern int32 rs_merge_duplicates(const ServedModel *m, int32 *idx, float *ratings,
							  float *weights, int32 n);
extern int32 rs_user_rows_from_source(ServedModel *m, const char *ukey,
								   MemoryContext cxt, int32 **idx_out,
								   float **ratings_out, float **weights_out,
								   const char **why);

/* serve_knn.c */
extern void rs_knn_scores(ServedModel *m, const RsKnnUser *u, const char *ukey,
					   float *scores);
extern bool rs_knn_new_user(ServedModel *m, const int32 *idx, const float *ratings,
						 int32 n, float *scores);

#endif							/* RECSYS_SERVE_INT_H */
