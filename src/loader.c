/*-------------------------------------------------------------------------
 *
 * loader.c
 *	  The one loader: rows from a query or an aggregate become an RsMatrix.
 *	  See loader.h for the rules it applies.
 *
 * Speed matters here (20M rows must load in seconds), so rows are streamed
 * from the executor into a DestReceiver instead of being materialised by
 * SPI, keys are hashed with simplehash, and the final (user, item) order
 * is produced with two counting sorts instead of a comparison sort.
 *
 *-------------------------------------------------------------------------
 */
#include "loader.h"

#include <float.h>
#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "embedding.h"

/* ----------------------------------------------------------------
 *		Key hash tables
 * ----------------------------------------------------------------
 */

/* the blocks holding text keys (see keymap_init) */
#define KEY_BLOCK_SIZE	(8 * 1024)

static inline uint32
mix64(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64CONST(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return (uint32) k;
}

typedef struct IntKeyEntry
{
	int64		key;
	int32		id;
	char		status;
} IntKeyEntry;

#define SH_PREFIX		intkey
#define SH_ELEMENT_TYPE IntKeyEntry
#define SH_KEY_TYPE		int64
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) mix64((uint64) (k))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct TextKeyEntry
{
	const char *key;
	uint32		hash;
	int32		id;
	char		status;
} TextKeyEntry;

#define SH_PREFIX		textkey
#define SH_ELEMENT_TYPE TextKeyEntry
#define SH_KEY_TYPE		const char *
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b) (strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static void
keymap_init(RsKeyMap *map, Oid type, MemoryContext cxt, const char *what)
{
	if (!rs_key_type_ok(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s keys of type %s are not supported", what,
						format_type_be(type)),
				 errhint("Use smallint, integer, bigint or text keys; cast other types in a query.")));
	map->type = type;
	map->kind = (type == INT2OID || type == INT4OID || type == INT8OID) ?
		RS_KEY_INT : RS_KEY_TEXT;
	map->n = 0;
	map->cap = 1024;
	map->cxt = cxt;
	map->text_cxt = NULL;
	if (map->kind == RS_KEY_INT)
	{
		map->ints = rs_alloc(cxt, sizeof(int64) * map->cap);
		map->hash = intkey_create(cxt, 1024, NULL);
	}
	else
	{
		map->texts = rs_alloc(cxt, sizeof(char *) * map->cap);
		map->hash = textkey_create(cxt, 1024, NULL);

		/*
		 * The keys' text in blocks of one fixed size, a child of cxt (so
		 * counted with it): a new block is never larger than the margin
		 * keymap_id_text() checks for, where cxt's own blocks grow to 8 MB.
		 */
		map->text_cxt = AllocSetContextCreate(cxt, "recsys keys",
											  KEY_BLOCK_SIZE, KEY_BLOCK_SIZE,
											  KEY_BLOCK_SIZE);
	}
}

/*
 * The memory a load grows is checked against recsys.memory_limit before
 * every growth (arrays, hash tables, key text), for the new size while the
 * old is still held, so the training context never holds more than the
 * limit plus the last block of its small allocations; rs_alloc() and
 * rs_check_memory() keep that bound through training (see recsys.c).
 */
static void
keymap_grow(RsKeyMap *map)
{
	if (map->n < map->cap)
		return;
	if (map->cap >= PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct keys to train on")));
	if (map->kind == RS_KEY_INT)
	{
		rs_check_memory(map->cxt, sizeof(int64) * (Size) map->cap * 2);
		map->ints = repalloc_huge(map->ints, sizeof(int64) * (Size) map->cap * 2);
	}
	else
	{
		rs_check_memory(map->cxt, sizeof(char *) * (Size) map->cap * 2);
		map->texts = repalloc_huge(map->texts, sizeof(char *) * (Size) map->cap * 2);
	}
	map->cap *= 2;
}

/*
 * simplehash doubles a table, holding the old one while it copies, when an
 * insert finds it at its fill limit, but also when an insert probes far
 * (observed at 80% full), which cannot be told in advance: any insert into
 * a table at least SH_GROW_MIN_FILLFACTOR (10%) full may double it.  So
 * every insert first checks there is room for the doubled table; an error
 * may come up to one doubling of the key table early, never late.
 */
#define HASH_MAY_GROW(tb) ((tb)->members >= (tb)->size / 10)

static int32
keymap_id_int(RsKeyMap *map, int64 key)
{
	bool		found;
	IntKeyEntry *e;

	if (HASH_MAY_GROW((intkey_hash *) map->hash))
		rs_check_memory(map->cxt, sizeof(IntKeyEntry) * (Size) ((intkey_hash *) map->hash)->size * 2);
	e = intkey_insert((intkey_hash *) map->hash, key, &found);

	if (!found)
	{
		keymap_grow(map);
		map->ints[map->n] = key;
		e->id = map->n++;
	}
	return e->id;
}

static int32
keymap_id_text(RsKeyMap *map, const char *key)
{
	bool		found;
	TextKeyEntry *e;

	if (HASH_MAY_GROW((textkey_hash *) map->hash))
		rs_check_memory(map->cxt, sizeof(TextKeyEntry) * (Size) ((textkey_hash *) map->hash)->size * 2);
	e = textkey_insert((textkey_hash *) map->hash, key, &found);
	if (!found)
	{
		Size		len = strlen(key) + 1;

		/* a key longer than a block gets a block of its own, else at most a new block */
		rs_check_memory(map->cxt, len > KEY_BLOCK_SIZE / 8 ? len + 64 : KEY_BLOCK_SIZE);
		/* The entry must not point at the caller's transient string. */
		e->key = MemoryContextStrdup(map->text_cxt, key);
		keymap_grow(map);
		map->texts[map->n] = (char *) e->key;
		e->id = map->n++;
	}
	return e->id;
}

static int32
keymap_id(RsKeyMap *map, Datum d)
{
	switch (map->type)
	{
		case INT2OID:
			return keymap_id_int(map, DatumGetInt16(d));
		case INT4OID:
			return keymap_id_int(map, DatumGetInt32(d));
		case INT8OID:
			return keymap_id_int(map, DatumGetInt64(d));
		default:
			{
				char	   *s = rs_text_key_cstring(d, map->type);
				int32		id = keymap_id_text(map, s);

				pfree(s);
				return id;
			}
	}
}

/* ----------------------------------------------------------------
 *		Values
 * ----------------------------------------------------------------
 */

bool
rs_value_type_ok(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case BOOLOID:
			return true;
		default:
			return false;
	}
}

double
rs_datum_to_double(Datum d, Oid type, const char *what)
{
	double		v;

	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case BOOLOID:
			return DatumGetBool(d) ? 1.0 : 0.0;
		case FLOAT4OID:
			v = DatumGetFloat4(d);
			break;
		case FLOAT8OID:
			v = DatumGetFloat8(d);
			break;
		case NUMERICOID:
			v = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
			break;
		default:
			elog(ERROR, "unexpected %s type %u", what, type);
	}
	if (isnan(v) || isinf(v) || v > FLT_MAX || v < -FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s value %g cannot be used for training", what, v),
				 errhint("Values must be finite and fit in real; filter or clamp them in the source query.")));
	return v;
}

static bool
time_type_ok(Oid type)
{
	return type == TIMESTAMPTZOID || type == TIMESTAMPOID || type == DATEOID ||
		rs_value_type_ok(type);
}

/* 'infinity' and '-infinity' have no age: refused like a NaN value */
static void
infinite_time(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("a time is infinite"),
			 errhint("Leave out the rows whose time is 'infinity' or '-infinity', or give them a finite time.")));
}

/* Seconds since the Unix epoch; numbers are taken as already in seconds. */
double
rs_datum_to_epoch(Datum d, Oid type)
{
	const double unix_offset =
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			if (TIMESTAMP_NOT_FINITE(DatumGetTimestamp(d)))
				infinite_time();
			return DatumGetTimestamp(d) / 1000000.0 + unix_offset;
		case DATEOID:
			if (DATE_NOT_FINITE(DatumGetDateADT(d)))
				infinite_time();
			return (double) DatumGetDateADT(d) * SECS_PER_DAY + unix_offset;
		default:
			return rs_datum_to_double(d, type, "time");
	}
}

/* ----------------------------------------------------------------
 *		Adding rows
 * ----------------------------------------------------------------
 */

void
rs_loader_init(RsLoader *l, MemoryContext cxt)
{
	memset(l, 0, sizeof(RsLoader));
	l->cxt = cxt;
}

void
rs_loader_set_types(RsLoader *l, Oid user_type, Oid item_type,
					Oid value_type, Oid time_type)
{
	if (value_type != InvalidOid && !rs_value_type_ok(value_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("rating column of type %s is not supported",
						format_type_be(value_type)),
				 errhint("Use a numeric or boolean column, or cast it in a query.")));
	if (time_type != InvalidOid && !time_type_ok(time_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("time column of type %s is not supported",
						format_type_be(time_type)),
				 errhint("Use timestamptz, timestamp, date or seconds as a number.")));
	keymap_init(&l->users, user_type, l->cxt, "user");
	keymap_init(&l->items, item_type, l->cxt, "item");
	l->has_time = (time_type != InvalidOid);
	l->have_types = true;
}

static void
loader_grow(RsLoader *l)
{
	int64		newcap = l->cap == 0 ? 65536 : l->cap * 2;
	MemoryContext old = MemoryContextSwitchTo(l->cxt);

	if (l->cap == 0)
	{
		l->u = rs_alloc(l->cxt, sizeof(int32) * newcap);
		l->i = rs_alloc(l->cxt, sizeof(int32) * newcap);
		l->v = rs_alloc(l->cxt, sizeof(float) * newcap);
		if (l->has_time)
			l->t = rs_alloc(l->cxt, sizeof(double) * newcap);
	}
	else
	{
		/*
		 * The bound is checked on every growth, for the new array while
		 * the old one is still held (repalloc copies).
		 */
		rs_check_memory(l->cxt, sizeof(int32) * newcap);
		l->u = repalloc_huge(l->u, sizeof(int32) * newcap);
		rs_check_memory(l->cxt, sizeof(int32) * newcap);
		l->i = repalloc_huge(l->i, sizeof(int32) * newcap);
		rs_check_memory(l->cxt, sizeof(float) * newcap);
		l->v = repalloc_huge(l->v, sizeof(float) * newcap);
		if (l->has_time)
		{
			rs_check_memory(l->cxt, sizeof(double) * newcap);
			l->t = repalloc_huge(l->t, sizeof(double) * newcap);
		}
	}
	l->cap = newcap;
	MemoryContextSwitchTo(old);
}

void
rs_loader_add(RsLoader *l, Datum user, bool user_null,
			  Datum item, bool item_null,
			  double value, bool value_null,
			  double time, bool time_null)
{
	l->rows_read++;
	/* with a time column (time decay) a row without a time is skipped too */
	if (user_null || item_null || value_null || (l->has_time && time_null))
	{
		l->rows_skipped++;
		return;
	}
	if (l->n == l->cap)
		loader_grow(l);
	l->u[l->n] = keymap_id(&l->users, user);
	l->i[l->n] = keymap_id(&l->items, item);
	l->v[l->n] = (float) value;
	if (l->has_time)
		l->t[l->n] = time_null ? 0.0 : time;
	l->n++;
}

/* ----------------------------------------------------------------
 *		Loading from a query
 * ----------------------------------------------------------------
 */

typedef struct LoaderReceiver
{
	DestReceiver pub;
	RsLoader   *loader;
	bool		has_time;
	Oid			types[4];
} LoaderReceiver;

static void
receiver_startup(DestReceiver *self, int operation pg_attribute_unused(), TupleDesc desc)
{
	LoaderReceiver *r = (LoaderReceiver *) self;

	if (desc->natts != 4)
		elog(ERROR, "loader query must return 4 columns, not %d", desc->natts);
	for (int k = 0; k < 4; k++)
		r->types[k] = TupleDescAttr(desc, k)->atttypid;
	rs_loader_set_types(r->loader, r->types[0], r->types[1], r->types[2],
						r->has_time ? r->types[3] : InvalidOid);
}

static bool
receiver_slot(TupleTableSlot *slot, DestReceiver *self)
{
	LoaderReceiver *r = (LoaderReceiver *) self;
	RsLoader   *l = r->loader;
	Datum	   *values;
	bool	   *nulls;
	double		time = 0.0;
	bool		time_null = true;

	slot_getallattrs(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	if (r->has_time && !nulls[3])
	{
		time = rs_datum_to_epoch(values[3], r->types[3]);
		time_null = false;
	}
	rs_loader_add(l, values[0], nulls[0], values[1], nulls[1],
				  nulls[2] ? 0.0 : rs_datum_to_double(values[2], r->types[2], "rating"),
				  nulls[2], time, time_null);

	if ((l->rows_read & 0x3FFF) == 0)
		CHECK_FOR_INTERRUPTS();
	return true;
}

static void
receiver_noop(DestReceiver *self pg_attribute_unused())
{
}

/*
 * Runs sql as the current user and streams every row into the loader.
 * The query returns exactly (user, item, value, time); time is read only
 * when has_time (otherwise it may be any constant).
 */
void
rs_loader_load_query(RsLoader *l, const char *sql, bool has_time)
{
	LoaderReceiver r;
	SPIExecuteOptions opts;
	int			rc;

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = receiver_slot;
	r.pub.rStartup = receiver_startup;
	r.pub.rShutdown = receiver_noop;
	r.pub.rDestroy = receiver_noop;
	r.pub.mydest = DestNone;
	r.loader = l;
	r.has_time = has_time;

	memset(&opts, 0, sizeof(opts));
	opts.read_only = true;
	opts.dest = (DestReceiver *) &r;

	/* (with a DestNone receiver SPI reports SPI_OK_UTILITY for a SELECT) */
	RS_READ_ONLY(rc = SPI_execute_extended(sql, &opts));
	if (rc < 0)
		elog(ERROR, "loading the training source failed: %s",
			 SPI_result_code_string(rc));
}

/* ----------------------------------------------------------------
 *		Item attributes
 * ----------------------------------------------------------------
 */

static Oid
embedding_oid(void)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("embedding"),
						   ObjectIdGetDatum(get_namespace_oid("recsys", false)));
}

/* Room for one more vector of l->attr_dims floats. */
static void
attr_grow(RsLoader *l)
{
	int32		newcap;

	if (l->attr_n < l->attr_cap)
		return;
	if (l->attr_cap >= PG_INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many item attribute rows")));
	newcap = l->attr_cap == 0 ? 1024 : l->attr_cap * 2;
	if (l->attr_cap == 0)
	{
		l->attr_item = rs_alloc(l->cxt, sizeof(int32) * newcap);
		l->attr_vec = rs_alloc(l->cxt, sizeof(float) * (Size) newcap * l->attr_dims);
	}
	else
	{
		rs_check_memory(l->cxt, sizeof(int32) * (Size) newcap);
		l->attr_item = repalloc_huge(l->attr_item, sizeof(int32) * newcap);
		rs_check_memory(l->cxt, sizeof(float) * (Size) newcap * l->attr_dims);
		l->attr_vec = repalloc_huge(l->attr_vec, sizeof(float) * (Size) newcap * l->attr_dims);
	}
	l->attr_cap = newcap;
}

/* The item id of an attribute row's key, registering new items. */
static int32
attr_item_id(RsLoader *l, Datum key, Oid type)
{
	bool		int_key = (type == INT2OID || type == INT4OID || type == INT8OID);
	bool		text_key = (type == TEXTOID || type == VARCHAROID || type == BPCHAROID);

	if ((l->items.kind == RS_KEY_INT && !int_key) ||
		(l->items.kind == RS_KEY_TEXT && !text_key))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("attribute keys of type %s do not match item keys of type %s",
						format_type_be(type), format_type_be(l->items.type)),
				 errhint("The first column of the attributes must hold the items' keys; cast it in a query.")));
	if (l->items.kind == RS_KEY_INT)
	{
		int64		k = type == INT2OID ? DatumGetInt16(key) :
			type == INT4OID ? DatumGetInt32(key) : DatumGetInt64(key);

		return keymap_id_int(&l->items, k);
	}
	else
	{
		char	   *k = rs_text_key_cstring(key, type);
		int32		id = keymap_id_text(&l->items, k);

		pfree(k);
		return id;
	}
}

/* Copies one vector (embedding, real[] or double precision[]) into dst. */
static int
attr_vector(Datum d, Oid type, Oid emb_type, float *dst, int dims, const char *key)
{
	int			n;

	if (type == emb_type)
	{
		Embedding  *e = DatumGetEmbedding(d);

		n = e->dim;
		if (dst)
			memcpy(dst, e->x, sizeof(float) * n);
		return n;
	}
	else
	{
		ArrayType  *a = DatumGetArrayTypeP(d);

		if (ARR_NDIM(a) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("attribute vector of item %s must be a one-dimensional array", key)));
		if (ARR_HASNULL(a) && array_contains_nulls(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("attribute vector of item %s contains a NULL", key)));
		n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
		if (dst && n == dims)
		{
			for (int k = 0; k < n; k++)
			{
				double		x = type == FLOAT4ARRAYOID ? ((float4 *) ARR_DATA_PTR(a))[k] :
					((float8 *) ARR_DATA_PTR(a))[k];

				if (isnan(x) || isinf(x) || fabs(x) > FLT_MAX)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("attribute vector of item %s has a NaN or infinite element", key)));
				dst[k] = (float) x;
			}
		}
		return n;
	}
}

/*
 * Runs sql as the current user (inside the caller's SPI connection) and
 * keeps the vector of every row: column 1 the item key, column 2 the
 * vector.  Items not seen in the interactions get ids here.  Call after
 * the interactions are in and before rs_loader_finish().
 */
void
rs_loader_load_attributes(RsLoader *l, const char *sql)
{
	SPIPlanPtr	plan;
	Portal		portal;
	Oid			emb_type = embedding_oid();
	Oid			key_type = InvalidOid;
	Oid			vec_type = InvalidOid;
	bool		checked = false;

	if (!l->have_types)
		elog(ERROR, "attributes loaded before the interactions");
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "preparing the attributes query failed: %s",
			 SPI_result_code_string(SPI_result));
	portal = rs_cursor_open_read_only(plan, NULL, NULL);
	for (;;)
	{
		RS_READ_ONLY(SPI_cursor_fetch(portal, true, 1024));
		if (SPI_processed == 0)
			break;
		if (!checked)
		{
			TupleDesc	desc = SPI_tuptable->tupdesc;

			if (desc->natts < 2)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("attributes must have at least two columns: the item key and its vector")));
			key_type = SPI_gettypeid(desc, 1);
			vec_type = SPI_gettypeid(desc, 2);
			if (vec_type != emb_type && vec_type != FLOAT4ARRAYOID && vec_type != FLOAT8ARRAYOID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("attribute vectors of type %s are not supported",
								format_type_be(vec_type)),
						 errhint("The second column of the attributes must be recsys.embedding, real[] or double precision[].")));
			checked = true;
		}
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		key_null;
			bool		vec_null;
			Datum		key = SPI_getbinval(tup, desc, 1, &key_null);
			Datum		vec = SPI_getbinval(tup, desc, 2, &vec_null);
			char	   *key_text;
			int			n;

			if (key_null || vec_null)
				continue;
			key_text = SPI_getvalue(tup, desc, 1);
			n = attr_vector(vec, vec_type, emb_type, NULL, 0, key_text);
			if (l->attr_dims == 0)
			{
				if (n < 1)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("attribute vector of item %s is empty", key_text)));
				l->attr_dims = n;
			}
			else if (n != l->attr_dims)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("attribute vector of item %s has %d dimensions, not %d like the others",
								key_text, n, l->attr_dims)));
			attr_grow(l);
			(void) attr_vector(vec, vec_type, emb_type,
							   l->attr_vec + (Size) l->attr_n * l->attr_dims,
							   l->attr_dims, key_text);
			l->attr_item[l->attr_n++] = attr_item_id(l, key, key_type);
			pfree(key_text);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}

/* ----------------------------------------------------------------
 *		Merging partial loaders (aggregate combine)
 * ----------------------------------------------------------------
 */

void
rs_loader_merge(RsLoader *dst, RsLoader *src)
{
	int32	   *umap;
	int32	   *imap;
	RsKeyMap   *maps[2] = {&src->users, &src->items};
	RsKeyMap   *dmaps[2] = {&dst->users, &dst->items};
	int32	  **remaps[2] = {&umap, &imap};

	if (!src->have_types)
		return;
	if (!dst->have_types)
		ereport(ERROR, (errmsg("cannot merge into an empty training set")));
	if (dst->users.kind != src->users.kind || dst->items.kind != src->items.kind)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("partial training sets have different key types")));

	for (int m = 0; m < 2; m++)
	{
		RsKeyMap   *sm = maps[m];
		int32	   *remap = palloc(sizeof(int32) * Max(sm->n, 1));

		for (int32 k = 0; k < sm->n; k++)
			remap[k] = (sm->kind == RS_KEY_INT) ?
				keymap_id_int(dmaps[m], sm->ints[k]) :
				keymap_id_text(dmaps[m], sm->texts[k]);
		*remaps[m] = remap;
	}

	while (dst->cap < dst->n + src->n)
		loader_grow(dst);
	for (int64 k = 0; k < src->n; k++)
	{
		dst->u[dst->n + k] = umap[src->u[k]];
		dst->i[dst->n + k] = imap[src->i[k]];
		dst->v[dst->n + k] = src->v[k];
		if (dst->has_time)
			dst->t[dst->n + k] = src->has_time ? src->t[k] : 0.0;
	}
	dst->n += src->n;
	dst->rows_read += src->rows_read;
	dst->rows_skipped += src->rows_skipped;
	pfree(umap);
	pfree(imap);
}

/* ----------------------------------------------------------------
 *		Serialisation (aggregate state across parallel workers)
 *
 * int32 user type, item type, has_time; keys; int64 counts; triplets.
 * ----------------------------------------------------------------
 */

static void
keys_serialize(const RsKeyMap *map, StringInfo buf)
{
	pq_sendint32(buf, map->type);
	pq_sendint32(buf, map->n);
	for (int32 k = 0; k < map->n; k++)
	{
		if (map->kind == RS_KEY_INT)
			pq_sendint64(buf, map->ints[k]);
		else
			pq_sendstring(buf, map->texts[k]);
	}
}

Size
rs_loader_serialize(const RsLoader *l, StringInfo buf)
{
	pq_sendbyte(buf, l->have_types ? 1 : 0);
	if (!l->have_types)
	{
		pq_sendint64(buf, l->rows_read);
		pq_sendint64(buf, l->rows_skipped);
		return buf->len;
	}
	pq_sendbyte(buf, l->has_time ? 1 : 0);
	keys_serialize(&l->users, buf);
	keys_serialize(&l->items, buf);
	pq_sendint64(buf, l->rows_read);
	pq_sendint64(buf, l->rows_skipped);
	pq_sendint64(buf, l->n);
	if ((Size) l->n * (8 + 4 + (l->has_time ? 8 : 0)) > MaxAllocSize / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial training set is too large to pass between parallel workers"),
				 errhint("Disable parallel query for this statement (SET max_parallel_workers_per_gather = 0) or use recsys.train().")));
	pq_sendbytes(buf, (const char *) l->u, sizeof(int32) * l->n);
	pq_sendbytes(buf, (const char *) l->i, sizeof(int32) * l->n);
	pq_sendbytes(buf, (const char *) l->v, sizeof(float) * l->n);
	if (l->has_time)
		pq_sendbytes(buf, (const char *) l->t, sizeof(double) * l->n);
	return buf->len;
}

static void
keys_deserialize(RsKeyMap *map, StringInfo buf, MemoryContext cxt, const char *what)
{
	Oid			type = pq_getmsgint(buf, 4);
	int32		n = pq_getmsgint(buf, 4);

	keymap_init(map, type, cxt, what);
	for (int32 k = 0; k < n; k++)
	{
		if (map->kind == RS_KEY_INT)
			keymap_id_int(map, pq_getmsgint64(buf));
		else
			keymap_id_text(map, pq_getmsgstring(buf));
	}
}

void
rs_loader_deserialize(RsLoader *l, StringInfo buf)
{
	int64		n;

	if (pq_getmsgbyte(buf) == 0)
	{
		l->rows_read = pq_getmsgint64(buf);
		l->rows_skipped = pq_getmsgint64(buf);
		return;
	}
	l->has_time = pq_getmsgbyte(buf) != 0;
	keys_deserialize(&l->users, buf, l->cxt, "user");
	keys_deserialize(&l->items, buf, l->cxt, "item");
	l->have_types = true;
	l->rows_read = pq_getmsgint64(buf);
	l->rows_skipped = pq_getmsgint64(buf);
	n = pq_getmsgint64(buf);
	while (l->cap < n)
		loader_grow(l);
	pq_copymsgbytes(buf, (char *) l->u, sizeof(int32) * n);
	pq_copymsgbytes(buf, (char *) l->i, sizeof(int32) * n);
	pq_copymsgbytes(buf, (char *) l->v, sizeof(float) * n);
	if (l->has_time)
		pq_copymsgbytes(buf, (char *) l->t, sizeof(double) * n);
	l->n = n;
}

/* ----------------------------------------------------------------
 *		Finishing: sorted keys, duplicates combined, CSR both ways
 * ----------------------------------------------------------------
 */

static const RsKeyMap *sort_map;

static int
cmp_int_ids(const void *a, const void *b)
{
	int64		x = sort_map->ints[*(const int32 *) a];
	int64		y = sort_map->ints[*(const int32 *) b];

	return (x > y) - (x < y);
}

static int
cmp_text_ids(const void *a, const void *b)
{
	return strcmp(sort_map->texts[*(const int32 *) a],
				  sort_map->texts[*(const int32 *) b]);
}

/*
 * Renumbers a key map so that ids follow ascending key order; returns the
 * old-id -> new-id map.  Text keys sort bytewise (C collation).
 */
static int32 *
keymap_sort(RsKeyMap *map, MemoryContext cxt)
{
	int32	   *order = rs_alloc(cxt, sizeof(int32) * Max(map->n, 1));
	int32	   *remap = rs_alloc(cxt, sizeof(int32) * Max(map->n, 1));

	for (int32 k = 0; k < map->n; k++)
		order[k] = k;
	sort_map = map;
	qsort(order, map->n, sizeof(int32),
		  map->kind == RS_KEY_INT ? cmp_int_ids : cmp_text_ids);
	sort_map = NULL;

	for (int32 k = 0; k < map->n; k++)
		remap[order[k]] = k;

	if (map->kind == RS_KEY_INT)
	{
		int64	   *sorted = rs_alloc(cxt, sizeof(int64) * Max(map->n, 1));

		for (int32 k = 0; k < map->n; k++)
			sorted[k] = map->ints[order[k]];
		map->ints = sorted;
	}
	else
	{
		char	  **sorted = rs_alloc(cxt, sizeof(char *) * Max(map->n, 1));

		for (int32 k = 0; k < map->n; k++)
			sorted[k] = map->texts[order[k]];
		map->texts = sorted;
	}
	map->hash = NULL;			/* ids changed; the hash is stale */
	pfree(order);
	return remap;
}

/*
 * The attribute vectors by final item id (n_items x dims, zero where an
 * item has none) and which items have one; NULL if none were loaded.
 */
static float *
attributes_finish(RsLoader *l, const int32 *imap, int32 ni, bool **has_out)
{
	int			d = l->attr_dims;
	float	   *attrs;
	bool	   *has;

	*has_out = NULL;
	if (l->attr_n == 0)
		return NULL;
	attrs = rs_alloc(l->cxt, sizeof(float) * (Size) ni * d);
	has = rs_alloc(l->cxt, sizeof(bool) * (Size) ni);
	for (int32 k = 0; k < l->attr_n; k++)
	{
		int32		it = imap[l->attr_item[k]];

		if (has[it])
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("item %s appears more than once in the attributes",
							rs_key_to_text(&l->items, it)),
					 errhint("Give each item at most one attribute vector.")));
		has[it] = true;
		memcpy(attrs + (Size) it * d, l->attr_vec + (Size) k * d, sizeof(float) * d);
	}
	pfree(l->attr_item);
	pfree(l->attr_vec);
	l->attr_item = NULL;
	l->attr_vec = NULL;
	l->attr_n = l->attr_cap = 0;
	*has_out = has;
	return attrs;
}

/* Exclusive prefix sums of counts[0..n) into ptr[0..n], ptr[0] = 0. */
static void
prefix_sums(const int64 *counts, int64 *ptr, int32 n)
{
	ptr[0] = 0;
	for (int32 k = 0; k < n; k++)
		ptr[k + 1] = ptr[k] + counts[k];
}

/*
 * Builds the matrix in four passes that each move the data itself (no
 * index indirection, so memory is read in order and only written in
 * scattered places):
 *	 1. rows scattered into per-item buckets (stable);
 *	 2. items walked in order, rows scattered into per-user buckets, so
 *		each user's row ends up sorted by item, duplicates adjacent and in
 *		arrival order;
 *	 3. duplicates combined in place within each user's row;
 *	 4. the transpose, by item with users ascending.
 */
RsMatrix *
rs_loader_finish(RsLoader *l, RsDupRule rule)
{
	MemoryContext cxt = l->cxt;
	RsMatrix   *m;
	int32	   *umap;
	int32	   *imap;
	int64		n = l->n;
	int32		nu;
	int32		ni;
	int64	   *count;
	int64	   *cursor;
	int32	   *bu;				/* pass 1 output: user of each row, by item */
	float	   *bv;
	double	   *bt = NULL;
	int64	   *iptr;
	int64		nnz;
	double		total = 0.0;
	float	   *attrs;
	bool	   *attr_has = NULL;

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("training source has no usable rows"),
				 errdetail(INT64_FORMAT " rows read, " INT64_FORMAT " skipped for NULL user, item or rating.",
						   l->rows_read, l->rows_skipped),
				 errhint("Check the source query and its columns.")));

	umap = keymap_sort(&l->users, cxt);
	imap = keymap_sort(&l->items, cxt);
	nu = l->users.n;
	ni = l->items.n;
	count = rs_alloc(cxt, sizeof(int64) * ((Size) Max(nu, ni) + 1));
	cursor = rs_alloc(cxt, sizeof(int64) * ((Size) Max(nu, ni) + 1));

	/* 1. by item (the item of a row is implicit in its bucket) */
	for (int64 k = 0; k < n; k++)
	{
		l->u[k] = umap[l->u[k]];
		l->i[k] = imap[l->i[k]];
		count[l->i[k]]++;
	}
	pfree(umap);
	attrs = attributes_finish(l, imap, ni, &attr_has);
	pfree(imap);
	iptr = rs_alloc(cxt, sizeof(int64) * ((Size) ni + 1));
	prefix_sums(count, iptr, ni);
	memcpy(cursor, iptr, sizeof(int64) * ni);
	bu = rs_alloc(cxt, sizeof(int32) * n);
	bv = rs_alloc(cxt, sizeof(float) * n);
	if (l->has_time)
		bt = rs_alloc(cxt, sizeof(double) * n);
	for (int64 k = 0; k < n; k++)
	{
		int64		dst = cursor[l->i[k]]++;

		bu[dst] = l->u[k];
		bv[dst] = l->v[k];
		if (bt)
			bt[dst] = l->t[k];
		if ((k & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	/* the raw rows are no longer needed */
	memset(count, 0, sizeof(int64) * ((Size) Max(nu, ni) + 1));
	for (int64 k = 0; k < n; k++)
		count[l->u[k]]++;
	pfree(l->u);
	pfree(l->i);
	pfree(l->v);
	if (l->t)
		pfree(l->t);
	l->u = l->i = NULL;
	l->v = NULL;
	l->t = NULL;
	l->n = l->cap = 0;

	/* 2. by user, items ascending */
	m = rs_alloc(cxt, sizeof(RsMatrix));
	m->n_users = nu;
	m->n_items = ni;
	m->attr_dims = attrs ? l->attr_dims : 0;
	m->item_attr = attrs;
	m->item_has_attr = attr_has;
	m->user_ptr = rs_alloc(cxt, sizeof(int64) * ((Size) nu + 1));
	m->user_items = rs_alloc(cxt, sizeof(int32) * n);
	m->user_vals = rs_alloc(cxt, sizeof(float) * n);
	if (bt)
		m->user_ts = rs_alloc(cxt, sizeof(double) * n);
	prefix_sums(count, m->user_ptr, nu);
	memcpy(cursor, m->user_ptr, sizeof(int64) * nu);
	for (int32 it = 0; it < ni; it++)
	{
		for (int64 k = iptr[it]; k < iptr[it + 1]; k++)
		{
			int64		dst = cursor[bu[k]]++;

			m->user_items[dst] = it;
			m->user_vals[dst] = bv[k];
			if (bt)
				m->user_ts[dst] = bt[k];
		}
		if ((it & 0x3FF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(bu);
	pfree(bv);
	if (bt)
		pfree(bt);

	/* 3. combine duplicates, compacting the rows in place */
	nnz = 0;
	for (int32 u = 0; u < nu; u++)
	{
		int64		end = m->user_ptr[u + 1];
		int64		k = m->user_ptr[u];

		m->user_ptr[u] = nnz;
		while (k < end)
		{
			int32		it = m->user_items[k];
			double		sum = m->user_vals[k];
			double		tmax = bt ? m->user_ts[k] : 0.0;
			int64		cnt = 1;

			for (k++; k < end && m->user_items[k] == it; k++)
			{
				sum += m->user_vals[k];
				if (bt && m->user_ts[k] > tmax)
					tmax = m->user_ts[k];
				cnt++;
			}
			l->duplicates += cnt - 1;
			m->user_items[nnz] = it;
			m->user_vals[nnz] = (float) (rule == RS_DUP_MEAN ? sum / cnt : sum);
			if (bt)
				m->user_ts[nnz] = tmax;
			total += m->user_vals[nnz];
			nnz++;
		}
		if ((u & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	m->user_ptr[nu] = nnz;
	m->nnz = nnz;
	m->mean = total / nnz;

	/* 4. the transpose: by item, users ascending */
	m->item_ptr = iptr;
	m->item_users = rs_alloc(cxt, sizeof(int32) * nnz);
	m->item_vals = rs_alloc(cxt, sizeof(float) * nnz);
	memset(count, 0, sizeof(int64) * ((Size) ni + 1));
	for (int64 k = 0; k < nnz; k++)
		count[m->user_items[k]]++;
	prefix_sums(count, m->item_ptr, ni);
	memcpy(cursor, m->item_ptr, sizeof(int64) * ni);
	for (int32 u = 0; u < nu; u++)
	{
		for (int64 k = m->user_ptr[u]; k < m->user_ptr[u + 1]; k++)
		{
			int64		dst = cursor[m->user_items[k]]++;

			m->item_users[dst] = u;
			m->item_vals[dst] = m->user_vals[k];
		}
		if ((u & 0x3FFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(count);
	pfree(cursor);
	return m;
}
