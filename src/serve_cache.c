/*-------------------------------------------------------------------------
 *
 * serve_cache.c
 *	  The per-backend cache of served models: the active version of a
 *	  model with its items (keys, biases, factors, interaction counts), the
 *	  key -> item index, and what is read on first need (fold-in
 *	  parameters, neighbour lists).
 *
 * A version is read once per backend and kept, keyed by the version's
 * identity; every call checks the active version (one prepared catalog
 * lookup), so a retrain or recsys.activate() is picked up by the next call
 * and the old version's memory is released.  Versions asked for by number
 * (version => n) are kept side by side, a few per model.
 *
 * Calls the catalog (catalog.c) and the neighbourhood core (knn.h); no
 * other serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

typedef struct ItemKeyEntry
{
	char		key[NAMEDATALEN];	/* the item's key as text (hash key) */
	int32		idx;
} ItemKeyEntry;

static ServedModel *served_models = NULL;
static MemoryContext serve_cxt = NULL;

static void
served_model_free(ServedModel *m)
{
	MemoryContextDelete(m->cxt);
	pfree(m);
}

/*
 * A version of a model, loaded or from the cache: the given version, or
 * (version 0) the active one.  Must be called inside an SPI connection;
 * an unknown model or version is an error.
 *
 * A model may have several versions in the cache (a caller alternating
 * between version => 1 and version => 2 does not reload either), at most
 * RS_CACHED_VERSIONS, the least recently used going first.  A version that
 * was only ever served as the active one is released as soon as another
 * version is active, as before versions could be asked for by number.
 */
#define RS_CACHED_VERSIONS 3

static uint64 served_clock = 0;

ServedModel *
rs_served_model(const char *name, int32 version)
{
	RsStoredModel sm;
	ServedModel **link;
	ServedModel *m;
	ServedModel *hit = NULL;
	MemoryContext old;
	int			cached = 0;

	rs_served_version(name, version, &sm);

	link = &served_models;
	while (*link)
	{
		m = *link;
		if (strcmp(m->name, name) != 0)
		{
			link = &m->next;
			continue;
		}
		/*
		 * Keyed by the version's identity, not its number: a number comes
		 * back with other contents after drop_model + train, or after a
		 * training that was rolled back and redone.
		 */
		if (m->sm.version_id == sm.version_id && m->sm.catalog_id == sm.catalog_id)
			hit = m;
		else if (m->sm.catalog_id != sm.catalog_id ||
				 (version == 0 && !m->asked_by_number))
		{
			/* a former active version, or of a dropped catalog: release */
			*link = m->next;
			served_model_free(m);
			continue;
		}
		else
			cached++;
		link = &m->next;
	}
	if (hit)
	{
		hit->last_used = ++served_clock;
		if (version != 0)
			hit->asked_by_number = true;
		return hit;
	}

	/* room for one more: release the least recently used of the model */
	while (cached >= RS_CACHED_VERSIONS)
	{
		ServedModel **oldest = NULL;

		for (link = &served_models; *link; link = &(*link)->next)
			if (strcmp((*link)->name, name) == 0 &&
				(oldest == NULL || (*link)->last_used < (*oldest)->last_used))
				oldest = link;
		m = *oldest;
		*oldest = m->next;
		served_model_free(m);
		cached--;
	}

	if (serve_cxt == NULL)
		serve_cxt = AllocSetContextCreate(TopMemoryContext, "recsys serving cache",
										  ALLOCSET_DEFAULT_SIZES);
	m = MemoryContextAllocZero(serve_cxt, sizeof(ServedModel));
	m->cxt = AllocSetContextCreate(serve_cxt, "recsys served model",
								   ALLOCSET_DEFAULT_SIZES);
	/* if loading fails, nothing half-built stays in the cache */
	PG_TRY();
	{
		old = MemoryContextSwitchTo(m->cxt);
		m->name = pstrdup(name);
		m->sm = sm;
		m->sm.name = m->name;
		MemoryContextSwitchTo(old);
		rs_load_items(&m->sm, m->cxt, &m->keys, &m->bias, &m->factors, &m->degree,
					  &m->implicit);
		m->n_items = sm.n_items;
	}
	PG_CATCH();
	{
		MemoryContextDelete(m->cxt);
		pfree(m);
		PG_RE_THROW();
	}
	PG_END_TRY();

	m->asked_by_number = (version != 0);
	m->last_used = ++served_clock;
	m->next = served_models;
	served_models = m;
	return m;
}

/*
 * Releases every cached version of a model: for a name nobody will ask
 * for again (a tuning run's scratch model, rolled back), which the lookup
 * above would otherwise keep for the rest of the session.
 */
void
rs_served_forget(const char *name)
{
	ServedModel **link = &served_models;

	while (*link)
	{
		ServedModel *m = *link;

		if (strcmp(m->name, name) == 0)
		{
			*link = m->next;
			served_model_free(m);
			continue;
		}
		link = &m->next;
	}
}

/* item key -> idx, or -1 */
int32
rs_served_item(ServedModel *m, const char *key)
{
	ItemKeyEntry *e;

	if (m->key_index == NULL)
	{
		HASHCTL		ctl;

		/* keys up to NAMEDATALEN - 1 bytes are hashed; longer ones scanned */
		ctl.keysize = NAMEDATALEN;
		ctl.entrysize = sizeof(ItemKeyEntry);
		ctl.hcxt = m->cxt;
		m->key_index = hash_create("recsys item keys", m->n_items,
								   &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		for (int32 i = 0; i < m->n_items; i++)
		{
			bool		found;

			if (strlen(m->keys[i]) >= NAMEDATALEN)
				continue;		/* longer keys are looked up by scanning */
			e = hash_search(m->key_index, m->keys[i], HASH_ENTER, &found);
			e->idx = i;
		}
	}
	if (strlen(key) < NAMEDATALEN)
	{
		e = hash_search(m->key_index, key, HASH_FIND, NULL);
		return e ? e->idx : -1;
	}
	for (int32 i = 0; i < m->n_items; i++)
		if (strcmp(m->keys[i], key) == 0)
			return i;
	return -1;
}

/*
 * The model's training parameters that fold-in needs, and its user key
 * type.  Inside SPI.
 */
void
rs_served_params(ServedModel *m)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	bool		isnull;
	int			pinned;

	if (m->params_loaded)
		return;
	values[0] = CStringGetTextDatum(m->name);
	values[1] = Int32GetDatum(m->sm.version);
	/* (the user key type schema-qualified: fold-in casts to it) */
	pinned = rs_pin_search_path();
	if (SPI_execute_with_args("SELECT (v.params->>'regularization')::float8, "
							  "(v.params->>'bias_regularization')::float8, "
							  "(v.params->>'alpha')::float8, "
							  "format('%I.%I', n.nspname, t.typname), "
							  "(v.params->>'half_life_seconds')::float8, "
							  "(v.params->>'as_of_epoch')::float8, "
							  "v.params->>'time_column', "
							  "coalesce((v.params->>'biases')::bool, true), "
							  "coalesce((v.params->>'global_mean')::bool, true) "
							  "FROM recsys.model_versions v JOIN recsys.models m ON m.name = v.model "
							  "JOIN pg_type t ON t.oid = m.user_key_type "
							  "JOIN pg_namespace n ON n.oid = t.typnamespace "
							  "WHERE v.model = $1 AND v.version = $2",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the parameters of model \"%s\" failed", m->name);
	rs_unpin_search_path(pinned);
	m->biases = true;
	m->global_mean = true;
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d;

		d = SPI_getbinval(tup, desc, 1, &isnull);
		m->reg = isnull ? 0.0 : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		m->reg_b = isnull ? m->reg : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		m->alpha = isnull ? 0.0 : DatumGetFloat8(d);
		m->user_type = MemoryContextStrdup(m->cxt, SPI_getvalue(tup, desc, 4));
		/* time decay: fold-in weighs a new user's rows as training did */
		d = SPI_getbinval(tup, desc, 5, &isnull);
		m->half_life = isnull ? 0.0 : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		m->as_of = isnull ? 0.0 : DatumGetFloat8(d);
		(void) SPI_getbinval(tup, desc, 7, &isnull);
		if (m->half_life > 0 && !isnull)
			m->time_column = MemoryContextStrdup(m->cxt, SPI_getvalue(tup, desc, 7));
		/* MF without baseline (als, svd): fold-in solves without a bias */
		m->biases = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
		m->global_mean = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	}
	m->params_loaded = true;
}

/* What the scoring functions read, built on first need.  Inside SPI. */
RsKnnModel *
rs_served_knn(ServedModel *m)
{
	RsKnnModel *km = &m->knn;

	if (m->knn_ready)
		return km;
	memset(km, 0, sizeof(*km));
	km->user_based = (m->sm.algorithm == RS_ALG_USER_KNN);
	km->explicit_feedback = m->sm.explicit_feedback;
	km->n_items = m->n_items;
	km->global_mean = m->sm.global_mean;
	km->item_bias = m->bias;
	if (!km->user_based)
	{
		int64		total;

		if (m->nbr_ptr == NULL)
			rs_load_neighbors(&m->sm, m->cxt, &m->n_lists, &m->nbr_ptr,
							  &m->nbr_idx, &m->nbr_sim);
		km->n_lists = m->n_lists;
		km->ptr = m->nbr_ptr;
		km->nbr = m->nbr_idx;
		km->sim = m->nbr_sim;
		total = m->nbr_ptr[m->n_lists];
		rs_knn_build_reverse(km,
							 MemoryContextAllocHuge(m->cxt, sizeof(int64) * ((Size) m->n_items + 1)),
							 MemoryContextAllocHuge(m->cxt, sizeof(int32) * Max(total, 1)),
							 MemoryContextAllocHuge(m->cxt, sizeof(float) * Max(total, 1)));
	}
	m->knn_ready = true;
	return km;
}
