/*-------------------------------------------------------------------------
 *
 * loader.h
 *	  The one loader: any source of (user, item, value[, time]) rows becomes
 *	  the compact RsMatrix every algorithm consumes.
 *
 * Sources are a table or view, a SELECT text (run through SPI as the
 * calling user, rows streamed into the loader without a tuplestore), or
 * the rows fed to the aggregate form one at a time (and partial loaders
 * merged by its combine function).  User and item keys of integer types
 * (smallint, integer, bigint) or text types (text, varchar, char) map to
 * dense ids 0..n-1 in ascending key order, so the dense ids, and with
 * them the trained model, do not depend on the order rows arrive in.
 *
 * Rules, applied by every source alike:
 *	 - a row with a NULL user, item or value is skipped and counted;
 *	 - a value that is NaN or infinite is an error;
 *	 - duplicate (user, item) rows are combined: their values are averaged
 *	   for explicit-feedback algorithms (RS_DUP_MEAN) and summed for
 *	   implicit-feedback ones (RS_DUP_SUM); the newest time is kept;
 *	 - no rows left is an error.
 *
 * Item attributes (item_knn's "attributes" option) are a second source:
 * rows of (item key, vector) read after the interactions and before the
 * matrix is built, so that an item that appears only there still gets a
 * dense id (and an empty row).  Keys must be of the same kind (integer or
 * text) as the interactions' item keys; vectors are recsys.embedding,
 * real[] or double precision[], all of one length; rows with a NULL key
 * or vector are skipped; an item given twice is an error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_LOADER_H
#define RECSYS_LOADER_H

#include "runtime.h"
#include "keys.h"

#include "lib/stringinfo.h"
#include "core/core.h"


typedef enum RsDupRule
{
	RS_DUP_MEAN,
	RS_DUP_SUM
} RsDupRule;

typedef struct RsLoader
{
	MemoryContext cxt;			/* everything below lives here */
	RsKeyMap	users;
	RsKeyMap	items;
	bool		have_types;		/* key kinds known (set on first row) */
	bool		has_time;

	/* interactions as they arrive */
	int64		n;
	int64		cap;
	int32	   *u;
	int32	   *i;
	float	   *v;
	double	   *t;				/* NULL unless has_time */

	/* counts for the summary */
	int64		rows_read;
	int64		rows_skipped;	/* NULL user, item or value */
	int64		duplicates;		/* rows merged into an earlier (user, item) */

	/* item attributes as they arrive (ids as in `i` above) */
	int			attr_dims;		/* 0 until the first vector */
	int32		attr_n;
	int32		attr_cap;
	int32	   *attr_item;		/* item id of each vector */
	float	   *attr_vec;		/* attr_n x attr_dims */
} RsLoader;

/* loader.c */
extern void rs_loader_init(RsLoader *l, MemoryContext cxt);
extern void rs_loader_set_types(RsLoader *l, Oid user_type, Oid item_type,
								Oid value_type, Oid time_type);
extern void rs_loader_add(RsLoader *l, Datum user, bool user_null,
						  Datum item, bool item_null,
						  double value, bool value_null,
						  double time, bool time_null);
extern double rs_datum_to_double(Datum d, Oid type, const char *what);
extern double rs_datum_to_epoch(Datum d, Oid type);
extern void rs_loader_load_query(RsLoader *l, const char *sql, bool has_time);
extern void rs_loader_load_attributes(RsLoader *l, const char *sql);
extern bool rs_value_type_ok(Oid type);
extern void rs_loader_merge(RsLoader *dst, RsLoader *src);
extern RsMatrix *rs_loader_finish(RsLoader *l, RsDupRule rule);
extern Size rs_loader_serialize(const RsLoader *l, StringInfo buf);
extern void rs_loader_deserialize(RsLoader *l, StringInfo buf);

#endif							/* RECSYS_LOADER_H */
