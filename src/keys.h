/*-------------------------------------------------------------------------
 *
 * keys.h
 *	  Key tables: the user or item keys of a model, dense id -> key.  Keys
 *	  of integer types (smallint, integer, bigint) are kept as int64, keys
 *	  of text types (text, varchar, char) as C strings.  The loader builds
 *	  them (loader.c); the catalog stores them with a version (catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KEYS_H
#define RECSYS_KEYS_H

#include "runtime.h"

typedef enum RsKeyKind
{
	RS_KEY_INT,					/* smallint, integer, bigint: kept as int64 */
	RS_KEY_TEXT					/* text, varchar, char: kept as C strings */
} RsKeyKind;

/* Maps keys to dense ids and back. */
typedef struct RsKeyMap
{
	RsKeyKind	kind;
	Oid			type;			/* the SQL type keys arrived in */
	int32		n;				/* number of distinct keys */
	int32		cap;
	int64	   *ints;			/* RS_KEY_INT: key of each id */
	char	  **texts;			/* RS_KEY_TEXT: key of each id */
	void	   *hash;			/* key -> id while loading */
	MemoryContext cxt;			/* the loader's: arrays and hash, checked */
	MemoryContext text_cxt;		/* RS_KEY_TEXT: the keys' text, fixed blocks */
} RsKeyMap;

/* keys.c */
extern bool rs_key_type_ok(Oid type);
extern char *rs_text_key_cstring(Datum d, Oid type);
extern char *rs_key_to_text(const RsKeyMap *map, int32 id);

#endif							/* RECSYS_KEYS_H */
