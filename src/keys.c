/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  User and item keys: which SQL types may be keys, a text key as a C
 *	  string, and a key table's key as text.  The loader (loader.c) builds
 *	  key tables; the catalog (catalog.c) stores them; serving reads keys
 *	  the same way.
 *
 *-------------------------------------------------------------------------
 */
#include "keys.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

bool
rs_key_type_ok(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return true;
		default:
			return false;
	}
}

/*
 * A text, varchar or char(n) key as a C string.  char(n) keys lose their
 * trailing blanks, which char(n) itself treats as insignificant ('u1' and
 * 'u1  ' are equal as bpchar): a model trained on char(n) keys stores
 * 'u1', and serving finds it whether it is asked for 'u1' as text or as
 * char(n).
 */
char *
rs_text_key_cstring(Datum d, Oid type)
{
	char	   *s = TextDatumGetCString(d);

	if (type == BPCHAROID)
	{
		size_t		len = strlen(s);

		while (len > 0 && s[len - 1] == ' ')
			len--;
		s[len] = '\0';
	}
	return s;
}

char *
rs_key_to_text(const RsKeyMap *map, int32 id)
{
	if (map->kind == RS_KEY_INT)
		return psprintf(INT64_FORMAT, map->ints[id]);
	return pstrdup(map->texts[id]);
}
