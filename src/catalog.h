/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  The model catalog: the one place that writes a model version and the
 *	  one place that reads it back.
 *
 * Tables (see sql/install/06_catalog.sql): recsys.models (definition,
 * owner, active version), recsys.model_versions (one row per trained
 * version with its statistics and loss history), recsys.user_factors and
 * recsys.item_factors (one row per entity and version: key, bias,
 * embedding).  Keys are stored as text in the caller's key type's text
 * form; models.user_key_type / item_key_type say what that type is.
 *
 * recsys.user_values (the catalog owner's only) keeps the values of each
 * user's seen items for the versions recsys.update() can extend (als, svd
 * and ials trained with a time column, without decay).
 *
 * Neighbourhood models (item_knn, user_knn) use the same rows without
 * factors: bias holds the baseline biases of explicit models (NULL for
 * implicit ones), user_factors.ratings the values of the seen items
 * (explicit models only, aligned with seen), and their lists are in
 * recsys.item_neighbors / recsys.user_neighbors: one row per entity and
 * version with neighbor_keys, neighbor_idx, similarity and support arrays,
 * best first (empty for an entity without neighbours).  The view
 * recsys.neighbors has one row per (entity, neighbour) with its rank.
 *
 * Catalog writes run as the owner of the catalog (the extension's owner)
 * with a fixed search_path, so ordinary users need no privileges on the
 * catalog tables to train; the data a model is trained on is always read
 * with the caller's own rights.  Only a model's owner (or a member of the
 * owning role, or a superuser) may retrain, overwrite or drop it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_CATALOG_H
#define RECSYS_CATALOG_H

#include "runtime.h"

#include "core/knn.h"
#include "keys.h"
#include "options.h"
#include "core/core.h"
#include "utils/jsonb.h"

/* How a model was defined, as stored in recsys.models. */
typedef struct RsModelDef
{
	char	   *name;
	char	   *source;			/* NULL for the aggregate form */
	char	   *user_column;
	char	   *item_column;
	char	   *rating_column;	/* NULL: implicit 1 per row */
	Jsonb	   *options;		/* as the user gave them */
	char	   *algorithm;
	Oid			owner;			/* the owning role (recsys.models.owner) */
	char	   *search_path;	/* the trainer's search_path; NULL: not recorded */
	bool		stored;			/* read from the catalog (retrain, fold-in):
								 * its queries run as the owner */
} RsModelDef;

/* What a training run reports (one row of recsys.train_result). */
typedef struct RsTrainSummary
{
	int32		version;
	int32		users;
	int32		items;
	int64		interactions;
	int64		skipped;
	int64		duplicates;
	double		seconds;
	double		final_loss;
	double		data_until;		/* newest interaction time read (seconds
								 * since the epoch), NaN: none */
} RsTrainSummary;

/* A stored model version, read back for predictions. */
/*
 * What a version was trained from, as the catalog stores it: the key
 * tables (dense id -> key) and the loader's counts.
 */
typedef struct RsVersionSource
{
	const RsKeyMap *users;
	const RsKeyMap *items;
	int64		rows_read;
	int64		rows_skipped;	/* NULL user, item or value */
	int64		duplicates;		/* rows merged into an earlier (user, item) */
} RsVersionSource;

/*
 * A version made by recsys.update() from another (catalog.c stores it):
 * the users written anew (changed or new, with their whole seen lists),
 * the new interactions per item touched; every other row is the base
 * version's, copied.
 */
typedef struct RsUpdate
{
	int32		base_version;
	int32		version;
	int32		n_users;		/* users written anew */
	char	  **user_keys;
	const int32 *user_idx;
	const float *user_bias;		/* n_users, or NULL */
	const float *user_factors;	/* n_users x factors, or NULL */
	int			factors;
	const int64 *seen_ptr;		/* n_users + 1 */
	const int32 *seen;
	const float *ratings;		/* aligned with seen, or NULL */
	const float *private_values;	/* for recsys.user_values, or NULL */
	int32		n_items;		/* items with new interactions */
	const int32 *item_idx;
	const int32 *item_added;	/* their new (user, item) pairs */
	bool		scores_are_counts;	/* popularity: the item's bias counts */
	int32		users;			/* users of the new version */
	int64		interactions;	/* (user, item) pairs of the new version */
	int64		rows_read;
	int64		rows_skipped;
	int64		duplicates;
	double		data_until;		/* seconds since the epoch */
	double		seconds;
	int64		memory_bytes;
	int			keep;			/* versions kept */
} RsUpdate;

typedef struct RsStoredModel
{
	char	   *name;
	int32		version;
	int64		version_id;		/* never reused: what caches are keyed by */
	bool		wants_index;	/* recsys.create_model_index() was asked */
	Oid			catalog_id;		/* recsys.models: with version_id, the
								 * cache key (a new catalog starts its
								 * identities again) */
	RsAlgorithm algorithm;
	double		global_mean;
	int			factors;
	int32		n_items;
	int32		n_users;
	bool		explicit_feedback;	/* predictions are ratings (als, svd,
									 * knn with "feedback": "explicit") */
} RsStoredModel;

/* what rs_model_version() found */
typedef enum RsVersionLookup
{
	RS_VERSION_FOUND,
	RS_NO_MODEL,
	RS_NO_VERSION
} RsVersionLookup;

/*
 * catalog.c: running SQL as another role (the catalog's owner for the
 * catalog's own statements, a model's owner for its stored queries), see
 * rs_run_as_begin().
 */
typedef struct RsRunAs
{
	Oid			save_user;
	int			save_sec;
	int			save_nestlevel;
} RsRunAs;

/* the search_path the catalog's own statements run with */
#define RS_CATALOG_SEARCH_PATH "pg_catalog, pg_temp"

extern Oid	rs_catalog_owner(void);
extern void rs_refuse_shard_task(void);
extern int	rs_catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
							const char *nulls, bool read_only);
extern void rs_run_as_begin(RsRunAs *s, Oid role, const char *search_path);
extern void rs_run_as_end(RsRunAs *s);
extern void rs_run_as_model_owner(RsRunAs *s, const RsModelDef *def);
extern char *rs_stored_search_path(const char *trainer_path);

typedef enum RsStoredCheck
{
	RS_STORED_OK,
	RS_STORED_DENIED,			/* the owner may not read a relation it reads */
	RS_STORED_TEMPORARY			/* it reads a temporary table or view */
} RsStoredCheck;

extern RsStoredCheck rs_prepare_stored_query(const char *sql, int nargs, Oid *types,
											 struct _SPI_plan **plan_out);
extern void rs_check_stored_query(const RsModelDef *def, const char *sql);

/* catalog.c */
extern Oid	rs_recsys_namespace(void);
extern Oid	rs_embedding_type_oid(void);
extern char *rs_spi_strdup(const char *s);
extern void rs_check_model_name(const char *name);
extern void rs_lock_model(const char *name);
extern RsModelDef *rs_model_lookup(const char *name, bool missing_ok);
extern void rs_check_model_owner(const RsModelDef *def);
extern int32 rs_next_version(const char *name);
extern void rs_store_version(const RsModelDef *def, const RsTrainOptions *opts,
							 const RsVersionSource *src, const RsMatrix *m,
							 const RsModel *model, const RsTrainSummary *summary,
							 int64 memory_bytes);
extern void rs_drop_model(const char *name);
extern void rs_store_update(const char *name, const RsUpdate *u);
extern bool rs_keeps_user_values(const RsTrainOptions *opts);

/*
 * SQL: the md5 of a model's definition, recsys.models m's row (algorithm,
 * source, columns, key types, options, search_path), as
 * model_versions.definition_md5 records it.
 */
#define RS_DEFINITION_MD5 \
	"pg_catalog.md5(pg_catalog.textin(pg_catalog.record_out(ROW(m.algorithm, m.source, " \
	"m.user_column, m.item_column, m.rating_column, m.user_key_type::pg_catalog.oid, " \
	"m.item_key_type::pg_catalog.oid, m.options, m.search_path))))"
/* catalog_read.c */
extern bool rs_active_model(const char *name, RsStoredModel *out);
extern RsVersionLookup rs_model_version(const char *name, int32 version,
										RsStoredModel *out);
extern void rs_served_version(const char *name, int32 version, RsStoredModel *out);
extern void rs_report_no_version(const char *name, int32 version);
extern char *rs_model_index_name(const char *model, int dims);
extern bool rs_item_index_exists(const RsStoredModel *sm);
extern void rs_read_index_candidates(const RsStoredModel *sm, Datum q, int32 pool);
extern bool rs_fetch_user(const RsStoredModel *sm, const char *key, float *bias,
						  float **factors, int32 **seen, int32 *nseen);
extern void rs_load_items(const RsStoredModel *sm, MemoryContext cxt, char ***keys,
						  float **bias, float **factors, int32 **degree,
						  float **implicit);
extern void rs_load_neighbors(const RsStoredModel *sm, MemoryContext cxt,
							  int32 *n_lists, int64 **ptr, int32 **nbr, float **sim);
extern bool rs_fetch_knn_user(const RsStoredModel *sm, const char *key, RsKnnUser *out);
extern bool rs_fetch_user_neighbors(const RsStoredModel *sm, const char *key,
									int32 *n, char ***keys, float **sim);
extern void rs_fetch_knn_users(const RsStoredModel *sm, char **keys, int32 n,
							   RsKnnUser *out);

/* model_index.c */
extern int	rs_model_index_sync(const char *model);

#endif							/* RECSYS_CATALOG_H */
