/*-------------------------------------------------------------------------
 *
 * bloom.c
 *	  The recsys.bloom type: text and binary I/O, the bloom_agg aggregate
 *	  that builds a filter sized for its input, and membership tests.
 *
 * Text form:
 *
 *		bloom:v=1,k=<probes>,m=<bits>,n=<items>:<bit array in base64>
 *
 * Binary form: uint8 version, uint8 flags (0), int16 probes, int64 bits,
 * int64 items, then the bit array (ceil(bits / 8) bytes).  Both forms are
 * checked in full on input: the version, the ranges of k and m, the
 * length of the bit array, and that the unused bits of its last byte are
 * zero (so equal filters have equal bytes and print alike).
 *
 * bloom_agg cannot size the filter until it has seen every key, so its
 * state is the list of the keys' 64-bit hashes; the final function sorts
 * and deduplicates them, sizes the filter for that many distinct keys and
 * the requested false-positive rate, and sets the bits.  The state is
 * deduplicated on the way too, whenever its array fills, so a long input
 * with few distinct keys stays small.  Parallel workers ship their hash
 * lists to the leader (serial/deserial), which merges them (combine): the
 * result does not depend on the plan.
 *
 * See bloom.h for the layout and the hashing scheme.
 *
 *-------------------------------------------------------------------------
 */
#include "bloom.h"

#include <math.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "keys.h"

#define BLOOM_DEFAULT_FPR	0.01

/* longest piece of a bad input quoted in an error message */
#define BLOOM_QUOTE_LEN		60

/* ----------------------------------------------------------------
 *		Layout checks, hashing and probing
 * ----------------------------------------------------------------
 */

/* The bits of the last byte beyond nbits must be zero. */
static bool
bloom_padding_is_zero(const BloomFilter *b)
{
	return rs_bloom_padding_is_zero(b->bits, b->nbits);
}

/*
 * Checks a stored value's header against its length.  Values are checked in
 * full when they enter the database, so this only fails on a value that did
 * not come through bloom_in or bloom_recv; it is cheap enough to run on
 * every read, and it is what keeps the probes inside the bit array.
 */
BloomFilter *
rs_bloom_check(BloomFilter *b)
{
	Size		size = VARSIZE(b);

	if (size < BLOOM_HEADER_SIZE ||
		b->version != BLOOM_VERSION ||
		b->flags != 0 ||
		b->probes < 1 || b->probes > BLOOM_MAX_PROBES ||
		b->nbits < BLOOM_MIN_BITS || b->nbits > BLOOM_MAX_BITS ||
		b->nitems > (uint64) PG_INT64_MAX ||
		size != BLOOM_SIZE(b->nbits))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.bloom value"),
				 errdetail("The value is %zu bytes long and its header does not describe a filter of that size.",
						   size)));
	return b;
}

uint64
rs_bloom_hash_key(const char *key, size_t len)
{
	/* keys are text values, so this never fails; it keeps the cast honest */
	if (len > MaxAllocSize)
		elog(ERROR, "bloom filter key of %zu bytes is too long", len);
	return hash_bytes_extended((const unsigned char *) key, (int) len,
							   BLOOM_SEED);
}

/*
 * The second hash of double hashing: a remix of the first (the finalizer of
 * MurmurHash3), so that one 64-bit hash per key is all a filter needs.  It is
 * written out here rather than borrowed because the filter format depends
 * on it.
 */
static inline uint64
bloom_remix(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/*
 * First probe and step: probe i is (pos + i * step) mod nbits.  Both are
 * below nbits (at most 2^33), so pos + step never overflows.
 */
static inline void
bloom_probe_start(uint64 hash, uint64 nbits, uint64 *pos, uint64 *step)
{
	*pos = hash % nbits;
	*step = bloom_remix(hash) % nbits;
	if (*step == 0)
		*step = 1;
}

static void
bloom_add_hash(BloomFilter *b, uint64 hash)
{
	uint64		m = b->nbits;
	uint64		pos;
	uint64		step;

	bloom_probe_start(hash, m, &pos, &step);
	for (int i = 0; i < b->probes; i++)
	{
		b->bits[pos >> 3] |= (uint8) (1 << (pos & 7));
		pos += step;
		if (pos >= m)
			pos -= m;
	}
}

bool
rs_bloom_contains_hash(const BloomFilter *b, uint64 hash)
{
	uint64		m = b->nbits;
	uint64		pos;
	uint64		step;

	bloom_probe_start(hash, m, &pos, &step);
	for (int i = 0; i < b->probes; i++)
	{
		if ((b->bits[pos >> 3] & (1 << (pos & 7))) == 0)
			return false;
		pos += step;
		if (pos >= m)
			pos -= m;
	}
	return true;
}

bool
rs_bloom_contains_key(const BloomFilter *b, const char *key, size_t len)
{
	return rs_bloom_contains_hash(b, rs_bloom_hash_key(key, len));
}

/* A zeroed filter; nbits and probes are already checked. */
static BloomFilter *
bloom_alloc(uint64 nbits, int probes, uint64 nitems)
{
	Size		size = BLOOM_SIZE(nbits);
	BloomFilter *b = (BloomFilter *) palloc0(size);

	SET_VARSIZE(b, size);
	b->version = BLOOM_VERSION;
	b->flags = 0;
	b->probes = (uint16) probes;
	b->nbits = nbits;
	b->nitems = nitems;
	return b;
}

/* (1 - e^(-kn/m))^k, the usual estimate of the false-positive rate */
static double
bloom_expected_fpr(const BloomFilter *b)
{
	double		k = b->probes;

	if (b->nitems == 0)
		return 0.0;
	return pow(1.0 - exp(-k * (double) b->nitems / (double) b->nbits), k);
}

/* ----------------------------------------------------------------
 *		Text I/O
 * ----------------------------------------------------------------
 */

#define BLOOM_TEXT_HINT \
	"A bloom filter is written bloom:v=1,k=<probes>,m=<bits>,n=<items>:<bits in base64>, as recsys.bloom_agg() output shows."

/* Length of the base64 form of n bytes (at most MaxAllocSize: an int). */
static int
bloom_b64_len(Size n)
{
	return (int) rs_bloom_b64_len(n);
}

/* The start of the input, for error messages: filters can be megabytes. */
static char *
bloom_quote(const char *input)
{
	int			len = strlen(input);

	if (len <= BLOOM_QUOTE_LEN)
		return pstrdup(input);
	len = pg_mbcliplen(input, len, BLOOM_QUOTE_LEN);
	return psprintf("%.*s...", len, input);
}

static void
bloom_syntax_error(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type bloom: \"%s\"",
					bloom_quote(input)),
			 errdetail("%s", detail),
			 errhint(BLOOM_TEXT_HINT)));
}

/*
 * The text form is parsed in plain C (bloom_parse.c, which the fuzz target
 * test/fuzz/fuzz_bloom_parse.c exercises); here its statuses become errors.
 */
PG_FUNCTION_INFO_V1(bloom_in);
Datum
bloom_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	RsBloomText t;
	BloomFilter *result;

	switch (rs_bloom_parse_text(input, BLOOM_MAX_BITS, &t))
	{
		case RS_BP_OK:
			break;
		case RS_BP_NO_PREFIX:
			bloom_syntax_error(input, "The value must start with \"bloom:\".");
			break;
		case RS_BP_NO_NAME:
			bloom_syntax_error(input, psprintf("Expected \"%s=\" at position %d.",
											   t.field, (int) t.position));
			break;
		case RS_BP_TOO_LARGE:
			bloom_syntax_error(input, psprintf("The value of %s is too large.", t.field));
			break;
		case RS_BP_NOT_UNSIGNED:
			bloom_syntax_error(input, psprintf("The value of %s must be an unsigned integer.", t.field));
			break;
		case RS_BP_NO_SEPARATOR:
			bloom_syntax_error(input, psprintf("Expected \"%c\" after the value of %s.",
											   t.separator, t.field));
			break;
		case RS_BP_VERSION:
			bloom_syntax_error(input, psprintf("Version " UINT64_FORMAT " is not supported; this recsys reads version %d.",
											   (uint64) t.version, BLOOM_VERSION));
			break;
		case RS_BP_PROBES:
			bloom_syntax_error(input, psprintf("k (probes) must be between 1 and %d, not " UINT64_FORMAT ".",
											   BLOOM_MAX_PROBES, (uint64) t.probes));
			break;
		case RS_BP_BITS:
			bloom_syntax_error(input, psprintf("m (bits) must be between %d and " UINT64_FORMAT ", not " UINT64_FORMAT ".",
											   BLOOM_MIN_BITS, BLOOM_MAX_BITS, (uint64) t.nbits));
			break;
		case RS_BP_ITEMS:
			bloom_syntax_error(input, psprintf("n (items) must be at most " INT64_FORMAT ".",
											   PG_INT64_MAX));
			break;
		case RS_BP_LENGTH:
			bloom_syntax_error(input, psprintf("m=" UINT64_FORMAT " needs %d base64 characters of bits, found %d.",
											   (uint64) t.nbits, (int) t.enclen, (int) t.payload_len));
			break;
	}

	result = bloom_alloc(t.nbits, (int) t.probes, t.nitems);
	if (rs_bloom_b64_decode(t.payload, t.enclen, result->bits, t.nbytes) != (long) t.nbytes)
		bloom_syntax_error(input, psprintf("The bits are not valid base64 of %d bytes.", (int) t.nbytes));
	if (!bloom_padding_is_zero(result))
		bloom_syntax_error(input, "The unused bits of the last byte must be zero.");

	PG_RETURN_BLOOM(result);
}

PG_FUNCTION_INFO_V1(bloom_out);
Datum
bloom_out(PG_FUNCTION_ARGS)
{
	BloomFilter *b = PG_GETARG_BLOOM(0);
	int			nbytes = (int) BLOOM_BYTES(b->nbits);
	int			enclen = bloom_b64_len(nbytes);
	StringInfoData s;
	int			len;

	/* the prefix is under 100 bytes */
	if ((Size) enclen + 100 > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bloom filter of " UINT64_FORMAT " bits is too large for its text form",
						b->nbits),
				 errdetail("Its text form would be %d bytes; the limit is %zu.",
						   enclen, MaxAllocSize),
				 errhint("Move it with binary COPY, or build a smaller filter with a higher false_positive_rate.")));

	initStringInfo(&s);
	appendStringInfo(&s, "bloom:v=%d,k=%d,m=" UINT64_FORMAT ",n=" UINT64_FORMAT ":",
					 b->version, b->probes, b->nbits, b->nitems);
	enlargeStringInfo(&s, enclen);
	len = pg_b64_encode((const RsBase64Byte *) b->bits, nbytes, s.data + s.len, enclen);
	if (len != enclen)
		elog(ERROR, "could not encode bloom filter bits in base64");
	s.len += len;
	s.data[s.len] = '\0';

	PG_FREE_IF_COPY(b, 0);
	PG_RETURN_CSTRING(s.data);
}

/* ----------------------------------------------------------------
 *		Binary I/O
 * ----------------------------------------------------------------
 */

#define BLOOM_WIRE_HEADER	20

static void
bloom_binary_error(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary representation of a bloom filter"),
			 errdetail("%s", detail),
			 errhint("The binary form is uint8 version (1), uint8 flags (0), int16 probes, int64 bits, int64 items, then ceil(bits / 8) bytes of bits.")));
}

PG_FUNCTION_INFO_V1(bloom_recv);
Datum
bloom_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version;
	int			flags;
	int			probes;
	int64		nbits;
	int64		nitems;
	Size		nbytes;
	BloomFilter *result;

	if (buf->len - buf->cursor < BLOOM_WIRE_HEADER)
		bloom_binary_error(psprintf("The header is truncated: %d of %d bytes.",
									buf->len - buf->cursor, BLOOM_WIRE_HEADER));
	version = pq_getmsgbyte(buf);
	flags = pq_getmsgbyte(buf);
	probes = (int16) pq_getmsgint(buf, 2);
	nbits = pq_getmsgint64(buf);
	nitems = pq_getmsgint64(buf);

	if (version != BLOOM_VERSION)
		bloom_binary_error(psprintf("Version %d is not supported; this recsys reads version %d.",
									version, BLOOM_VERSION));
	if (flags != 0)
		bloom_binary_error(psprintf("The flags field is %d, not 0.", flags));
	if (probes < 1 || probes > BLOOM_MAX_PROBES)
		bloom_binary_error(psprintf("The probe count %d is outside 1..%d.",
									probes, BLOOM_MAX_PROBES));
	if (nbits < BLOOM_MIN_BITS || (uint64) nbits > BLOOM_MAX_BITS)
		bloom_binary_error(psprintf("The bit count " INT64_FORMAT " is outside %d.." UINT64_FORMAT ".",
									nbits, BLOOM_MIN_BITS, BLOOM_MAX_BITS));
	if (nitems < 0)
		bloom_binary_error(psprintf("The item count " INT64_FORMAT " is negative.", nitems));
	nbytes = BLOOM_BYTES((uint64) nbits);
	if ((Size) (buf->len - buf->cursor) != nbytes)
		bloom_binary_error(psprintf("Expected %zu bytes of bits for " INT64_FORMAT " bits, found %d.",
									nbytes, nbits, buf->len - buf->cursor));

	result = bloom_alloc((uint64) nbits, probes, (uint64) nitems);
	pq_copymsgbytes(buf, (char *) result->bits, (int) nbytes);
	if (!bloom_padding_is_zero(result))
		bloom_binary_error("The unused bits of the last byte are not zero.");
	PG_RETURN_BLOOM(result);
}

PG_FUNCTION_INFO_V1(bloom_send);
Datum
bloom_send(PG_FUNCTION_ARGS)
{
	BloomFilter *b = PG_GETARG_BLOOM(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, b->version);
	pq_sendbyte(&buf, b->flags);
	pq_sendint16(&buf, b->probes);
	pq_sendint64(&buf, (int64) b->nbits);
	pq_sendint64(&buf, (int64) b->nitems);
	pq_sendbytes(&buf, (const char *) b->bits, (int) BLOOM_BYTES(b->nbits));
	PG_FREE_IF_COPY(b, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------
 *		Keys: hashed by their text form
 * ----------------------------------------------------------------
 */

/*
 * How a key of the argument's type becomes its text form: text types are
 * their bytes, integers are printed here exactly as their output functions
 * print them (without a call and a palloc per key), anything else goes
 * through its output function.
 */
typedef enum BloomKeyKind
{
	BLOOM_KEY_TEXT,
	BLOOM_KEY_INT2,
	BLOOM_KEY_INT4,
	BLOOM_KEY_INT8,
	BLOOM_KEY_OUTPUT
} BloomKeyKind;

typedef struct BloomKeyOut
{
	BloomKeyKind kind;
	FmgrInfo	output;			/* for BLOOM_KEY_OUTPUT */
} BloomKeyOut;

/*
 * Keys are limited to the types model keys may have (the loader's
 * rs_key_type_ok): their text forms do not depend on settings such as
 * DateStyle, which keeps the filter functions immutable and a filter built
 * from a table's keys comparable with the keys a model stores.
 */
static void
bloom_key_out_init(BloomKeyOut *ko, FunctionCallInfo fcinfo, int argno)
{
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, argno);
	Oid			base;

	if (!OidIsValid(type))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_DATATYPE),
				 errmsg("could not determine the type of the key")));
	base = getBaseType(type);
	if (!rs_key_type_ok(base))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("bloom filter keys of type %s are not supported",
						format_type_be(type)),
				 errhint("Use smallint, integer, bigint or text keys, as models do; cast other types in the query.")));

	switch (base)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			ko->kind = BLOOM_KEY_TEXT;
			break;
		case INT2OID:
			ko->kind = BLOOM_KEY_INT2;
			break;
		case INT4OID:
			ko->kind = BLOOM_KEY_INT4;
			break;
		case INT8OID:
			ko->kind = BLOOM_KEY_INT8;
			break;
		default:
			{
				Oid			output;
				bool		varlena;

				ko->kind = BLOOM_KEY_OUTPUT;
				getTypeOutputInfo(type, &output, &varlena);
				fmgr_info_cxt(output, &ko->output, fcinfo->flinfo->fn_mcxt);
			}
			break;
	}
}

static uint64
bloom_key_hash(const BloomKeyOut *ko, Datum d)
{
	char		buf[MAXINT8LEN + 1];
	uint64		h;

	switch (ko->kind)
	{
		case BLOOM_KEY_TEXT:
			{
				struct varlena *t = PG_DETOAST_DATUM_PACKED(d);

				h = rs_bloom_hash_key(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				if ((Pointer) t != DatumGetPointer(d))
					pfree(t);
				return h;
			}
		case BLOOM_KEY_INT2:
			return rs_bloom_hash_key(buf, pg_itoa(DatumGetInt16(d), buf));
		case BLOOM_KEY_INT4:
			return rs_bloom_hash_key(buf, pg_ltoa(DatumGetInt32(d), buf));
		case BLOOM_KEY_INT8:
			return rs_bloom_hash_key(buf, pg_lltoa(DatumGetInt64(d), buf));
		case BLOOM_KEY_OUTPUT:
			break;
	}

	{
		char	   *s = OutputFunctionCall((FmgrInfo *) &ko->output, d);

		h = rs_bloom_hash_key(s, strlen(s));
		pfree(s);
	}
	return h;
}

/* ----------------------------------------------------------------
 *		bloom_agg(key [, false_positive_rate])
 * ----------------------------------------------------------------
 */

typedef struct BloomAggState
{
	float8		fpr;			/* requested false-positive rate */
	uint64	   *hashes;			/* one per key added */
	Size		n;				/* hashes in use */
	Size		cap;			/* hashes allocated */
	Size		nsorted;		/* hashes[0..nsorted) are sorted and distinct */
} BloomAggState;

#define BLOOM_STATE_MIN_CAP		1024
#define BLOOM_STATE_MAX_CAP		(MaxAllocHugeSize / sizeof(uint64))

/* the header of the serialized state; the hashes follow */
typedef struct BloomAggWire
{
	float8		fpr;
	uint64		n;
} BloomAggWire;

#define ST_SORT bloom_sort_hashes
#define ST_ELEMENT_TYPE uint64
#define ST_COMPARE(a, b) (*(a) < *(b) ? -1 : *(a) > *(b) ? 1 : 0)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

static void
bloom_check_fpr(float8 fpr)
{
	/* written so that NaN fails too */
	if (!(fpr > 0.0 && fpr <= 0.5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("false_positive_rate must be greater than 0 and at most 0.5, not %s",
						float8out_internal(fpr)),
				 errhint("Pass a rate in (0, 0.5], like 0.01 for about one false positive in a hundred lookups.")));
}

static BloomAggState *
bloom_state_create(MemoryContext cxt, float8 fpr, Size cap)
{
	BloomAggState *st = MemoryContextAlloc(cxt, sizeof(BloomAggState));

	st->fpr = fpr;
	st->cap = Max(cap, BLOOM_STATE_MIN_CAP);
	st->hashes = MemoryContextAllocHuge(cxt, st->cap * sizeof(uint64));
	st->n = 0;
	st->nsorted = 0;
	return st;
}

/*
 * Sorts and deduplicates the hashes; the set they stand for is unchanged.
 * Only the part added since the last call is sorted, then merged into the
 * sorted part, so compacting at every doubling costs one sort in all.
 */
static void
bloom_state_compact(BloomAggState *st)
{
	uint64	   *h = st->hashes;
	Size		nold = st->nsorted;
	Size		nnew = st->n - st->nsorted;
	Size		out;

	if (nnew == 0)
		return;
	bloom_sort_hashes(h + nold, nnew);

	if (nold > 0 && h[nold - 1] > h[nold])
	{
		/* merge from the back, with the new run moved aside */
		uint64	   *tmp = palloc_extended(nnew * sizeof(uint64), MCXT_ALLOC_HUGE);
		Size		i = nold;
		Size		j = nnew;
		Size		k = nold + nnew;

		memcpy(tmp, h + nold, nnew * sizeof(uint64));
		while (j > 0)
		{
			if (i > 0 && h[i - 1] > tmp[j - 1])
				h[--k] = h[--i];
			else
				h[--k] = tmp[--j];
		}
		pfree(tmp);
	}

	out = 0;
	for (Size i = 0; i < st->n; i++)
	{
		if (out == 0 || h[i] != h[out - 1])
			h[out++] = h[i];
	}
	st->n = out;
	st->nsorted = out;
}

/*
 * Makes room for extra more hashes.  A full array is deduplicated first and
 * grown only if that freed less than half of it, so repeated keys cost no
 * memory and distinct ones cost amortised O(log n) each.
 */
static void
bloom_state_reserve(BloomAggState *st, Size extra)
{
	Size		newcap;

	if (st->n + extra <= st->cap)
		return;
	bloom_state_compact(st);
	if (st->n + extra <= st->cap && st->n <= st->cap / 2)
		return;

	if (extra > BLOOM_STATE_MAX_CAP - st->n)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct keys for one bloom filter"),
				 errhint("Split the keys over several filters.")));
	newcap = Max(st->n + extra, Min(st->cap * 2, BLOOM_STATE_MAX_CAP));
	st->hashes = repalloc_huge(st->hashes, newcap * sizeof(uint64));
	st->cap = newcap;
}

/*
 * Filter size for n distinct keys at false-positive rate p: the optimum
 * m = -n ln p / (ln 2)^2 bits (at least BLOOM_MIN_BITS) and k = m/n ln 2
 * probes (at least 1).
 */
static void
bloom_size(uint64 n, float8 fpr, uint64 *nbits, int *probes)
{
	double		m = ceil(-(double) n * log(fpr) / (M_LN2 * M_LN2));
	double		k;

	if (m < BLOOM_MIN_BITS)
		m = BLOOM_MIN_BITS;
	if (m > (double) BLOOM_MAX_BITS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bloom filter for " UINT64_FORMAT " keys at a false-positive rate of %s would need %.0f bits",
						n, float8out_internal(fpr), m),
				 errdetail("A filter can have at most " UINT64_FORMAT " bits (1GB).",
						   BLOOM_MAX_BITS),
				 errhint("Use a higher false_positive_rate, or split the keys over several filters.")));
	*nbits = (uint64) m;

	k = (n == 0) ? 1.0 : rint(m / (double) n * M_LN2);
	/* a guard: even the smallest double rate gives k = 1074 */
	*probes = (int) Max(1.0, Min(k, (double) BLOOM_MAX_PROBES));
}

PG_FUNCTION_INFO_V1(bloom_agg_transfn);
Datum
bloom_agg_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	BloomAggState *st;
	float8		fpr = BLOOM_DEFAULT_FPR;

	aggcxt = rs_agg_context(fcinfo, "bloom_agg_transfn");

	if (PG_NARGS() > 2)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("false_positive_rate must not be NULL"),
					 errhint("Pass a rate in (0, 0.5], or leave it out for the default of 0.01.")));
		fpr = PG_GETARG_FLOAT8(2);
		bloom_check_fpr(fpr);
	}

	if (PG_ARGISNULL(0))
		st = bloom_state_create(aggcxt, fpr, 0);
	else
	{
		st = (BloomAggState *) PG_GETARG_POINTER(0);
		if (st->fpr != fpr)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("false_positive_rate must be the same for every row of a bloom_agg"),
					 errdetail("Found %s after %s.", float8out_internal(fpr),
							   float8out_internal(st->fpr))));
	}

	/* NULL keys are skipped */
	if (!PG_ARGISNULL(1))
	{
		BloomKeyOut *ko = (BloomKeyOut *) fcinfo->flinfo->fn_extra;

		if (ko == NULL)
		{
			ko = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(BloomKeyOut));
			bloom_key_out_init(ko, fcinfo, 1);
			fcinfo->flinfo->fn_extra = ko;
		}
		bloom_state_reserve(st, 1);
		st->hashes[st->n++] = bloom_key_hash(ko, PG_GETARG_DATUM(1));
	}

	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(bloom_agg_combinefn);
Datum
bloom_agg_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	BloomAggState *a;
	BloomAggState *b;

	aggcxt = rs_agg_context(fcinfo, "bloom_agg_combinefn");

	a = rs_agg_state_arg(fcinfo, 0);
	b = rs_agg_state_arg(fcinfo, 1);
	if (b == NULL)
		RS_RETURN_STATE(a);

	if (a == NULL)
	{
		/* b may live in a short-lived context: copy it */
		a = bloom_state_create(aggcxt, b->fpr, b->n);
		memcpy(a->hashes, b->hashes, b->n * sizeof(uint64));
		a->n = b->n;
		a->nsorted = b->nsorted;
		PG_RETURN_POINTER(a);
	}

	if (a->fpr != b->fpr)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("false_positive_rate must be the same for every row of a bloom_agg"),
				 errdetail("Found %s and %s.", float8out_internal(a->fpr),
						   float8out_internal(b->fpr))));
	bloom_state_reserve(a, b->n);
	memcpy(a->hashes + a->n, b->hashes, b->n * sizeof(uint64));
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(bloom_agg_serialfn);
Datum
bloom_agg_serialfn(PG_FUNCTION_ARGS)
{
	BloomAggState *st = (BloomAggState *) PG_GETARG_POINTER(0);
	BloomAggWire hdr;
	bytea	   *result;
	Size		size;

	(void) rs_agg_context(fcinfo, "bloom_agg_serialfn");

	/* ship each distinct hash once */
	bloom_state_compact(st);
	if (st->n > (MaxAllocSize - VARHDRSZ - sizeof(BloomAggWire)) / sizeof(uint64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct keys for a parallel bloom_agg"),
				 errdetail("A worker collected %zu distinct keys.", st->n),
				 errhint("Run the aggregate without parallel workers: SET max_parallel_workers_per_gather = 0.")));

	size = VARHDRSZ + sizeof(BloomAggWire) + st->n * sizeof(uint64);
	result = (bytea *) palloc(size);
	SET_VARSIZE(result, size);
	hdr.fpr = st->fpr;
	hdr.n = st->n;
	memcpy(VARDATA(result), &hdr, sizeof(hdr));
	memcpy(VARDATA(result) + sizeof(hdr), st->hashes, st->n * sizeof(uint64));
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(bloom_agg_deserialfn);
Datum
bloom_agg_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	Size		len = VARSIZE_ANY_EXHDR(in);
	BloomAggWire hdr;
	BloomAggState *st;

	(void) rs_agg_context(fcinfo, "bloom_agg_deserialfn");
	if (len < sizeof(hdr))
		elog(ERROR, "bloom_agg state is truncated");
	memcpy(&hdr, VARDATA_ANY(in), sizeof(hdr));
	if (hdr.n != (len - sizeof(hdr)) / sizeof(uint64) ||
		(len - sizeof(hdr)) % sizeof(uint64) != 0)
		elog(ERROR, "bloom_agg state has %zu bytes for " UINT64_FORMAT " hashes",
			 len, hdr.n);

	/* in the current (per-call) context; the combine function copies it */
	st = bloom_state_create(CurrentMemoryContext, hdr.fpr, hdr.n);
	memcpy(st->hashes, VARDATA_ANY(in) + sizeof(hdr), hdr.n * sizeof(uint64));
	st->n = hdr.n;
	st->nsorted = hdr.n;
	PG_RETURN_POINTER(st);
}

/*
 * Sizes and fills the filter.  No rows, or only NULL keys, give an empty
 * filter (n = 0) that contains nothing.  The state is only deduplicated
 * here, which leaves the set it stands for unchanged.
 */
PG_FUNCTION_INFO_V1(bloom_agg_finalfn);
Datum
bloom_agg_finalfn(PG_FUNCTION_ARGS)
{
	BloomAggState *st;
	uint64		n = 0;
	float8		fpr = BLOOM_DEFAULT_FPR;
	uint64		nbits;
	int			probes;
	BloomFilter *b;

	(void) rs_agg_context(fcinfo, "bloom_agg_finalfn");

	st = rs_agg_state_arg(fcinfo, 0);
	if (st != NULL)
	{
		bloom_state_compact(st);
		n = st->n;
		fpr = st->fpr;
	}

	bloom_size(n, fpr, &nbits, &probes);
	b = bloom_alloc(nbits, probes, n);
	for (uint64 i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		bloom_add_hash(b, st->hashes[i]);
	}
	PG_RETURN_BLOOM(b);
}

/* ----------------------------------------------------------------
 *		Membership and statistics
 * ----------------------------------------------------------------
 */

/*
 * What bloom_contains keeps across calls.  A filter read from a table is
 * usually a TOAST pointer, and a query tests many keys against the same
 * one (WHERE NOT bloom_contains((SELECT f FROM ...), item)): detoasting
 * megabytes on every row would dominate, so the detoasted copy is kept for
 * as long as the same TOAST pointer comes back.
 */
typedef struct BloomContainsCache
{
	BloomKeyOut key;
	varatt_external toast;		/* the pointer that filter was read from */
	BloomFilter *filter;		/* detoasted copy in fn_mcxt, or NULL */
} BloomContainsCache;

static BloomFilter *
bloom_get_cached(FunctionCallInfo fcinfo, BloomContainsCache *cache, Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	varatt_external ptr;
	MemoryContext old;

	/* inline values are cheap to read: no cache */
	if (!VARATT_IS_EXTERNAL_ONDISK(v))
		return DatumGetBloom(d);

	VARATT_EXTERNAL_GET_POINTER(ptr, v);
	if (cache->filter != NULL && memcmp(&ptr, &cache->toast, sizeof(ptr)) == 0)
		return cache->filter;

	if (cache->filter != NULL)
	{
		pfree(cache->filter);
		cache->filter = NULL;
	}
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache->filter = DatumGetBloom(d);
	MemoryContextSwitchTo(old);
	cache->toast = ptr;
	return cache->filter;
}

PG_FUNCTION_INFO_V1(bloom_contains);
Datum
bloom_contains(PG_FUNCTION_ARGS)
{
	BloomContainsCache *cache = (BloomContainsCache *) fcinfo->flinfo->fn_extra;
	BloomFilter *b;
	bool		result;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									   sizeof(BloomContainsCache));
		bloom_key_out_init(&cache->key, fcinfo, 1);
		fcinfo->flinfo->fn_extra = cache;
	}

	b = bloom_get_cached(fcinfo, cache, PG_GETARG_DATUM(0));
	result = rs_bloom_contains_hash(b, bloom_key_hash(&cache->key, PG_GETARG_DATUM(1)));
	if (b != cache->filter)
		PG_FREE_IF_COPY(b, 0);
	PG_RETURN_BOOL(result);
}

PG_FUNCTION_INFO_V1(bloom_stats);
Datum
bloom_stats(PG_FUNCTION_ARGS)
{
	BloomFilter *b = PG_GETARG_BLOOM(0);
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "bloom_stats must be declared to return a record");
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = Int64GetDatum((int64) b->nbits);
	values[1] = Int32GetDatum(b->probes);
	values[2] = Int64GetDatum((int64) b->nitems);
	values[3] = Float8GetDatum(bloom_expected_fpr(b));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
