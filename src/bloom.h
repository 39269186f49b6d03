/*-------------------------------------------------------------------------
 *
 * bloom.h
 *	  The recsys.bloom type: a Bloom filter of keys, used by serving as an
 *	  exclusion set when the list of forbidden items is too large to pass
 *	  as an array.
 *
 * A filter is a varlena holding a fixed header and a bit array of nbits
 * bits (bit j is bit j % 8, least significant first, of byte j / 8; the
 * unused high bits of the last byte are always zero).  A key is hashed by
 * its text form -- the bytes its type's output function produces, which is
 * how recsys keeps every user and item key in its catalog -- so integer 42,
 * bigint 42 and text '42' are the same key.  Keys have the types model keys
 * may have (smallint, integer, bigint, text, varchar, char, or domains over
 * them), whose text forms do not depend on settings.  One 64-bit hash per key
 * (hash_bytes_extended with BLOOM_SEED) gives the probes by double
 * hashing: probe i is (h1 + i * h2) mod nbits, with h1 the hash and h2 a
 * remix of it.
 *
 * Every value is checked when it enters (text input, binary receive) and
 * again, cheaply, whenever it is read (DatumGetBloom), so the probe code
 * never reads outside the bit array.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_BLOOM_H
#define RECSYS_BLOOM_H

#include "runtime.h"

#include "fmgr.h"
#include "utils/memutils.h"

/* BLOOM_VERSION, BLOOM_MIN_BITS, BLOOM_MAX_PROBES and the text parser */
#include "core/bloom_parse.h"

/* the hashing scheme; a different one would need a new version */
#define BLOOM_SEED			UINT64CONST(0x7265637379733031)

typedef struct BloomFilter
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* BLOOM_VERSION */
	uint8		flags;			/* reserved, always 0 */
	uint16		probes;			/* k: bits set per key, 1..BLOOM_MAX_PROBES */
	uint64		nbits;			/* m: BLOOM_MIN_BITS..BLOOM_MAX_BITS */
	uint64		nitems;			/* n: distinct keys added (<= PG_INT64_MAX) */
	uint8		bits[FLEXIBLE_ARRAY_MEMBER];
} BloomFilter;

#define BLOOM_HEADER_SIZE	offsetof(BloomFilter, bits)
#define BLOOM_BYTES(nbits)	(((nbits) + 7) / 8)
#define BLOOM_SIZE(nbits)	(BLOOM_HEADER_SIZE + BLOOM_BYTES(nbits))
/* a filter is a plain varlena, so it may not exceed palloc's limit */
#define BLOOM_MAX_BITS		((uint64) (MaxAllocSize - BLOOM_HEADER_SIZE) * 8)

/*
 * DatumGetBloom detoasts a filter and checks that its header matches its
 * length (ERRCODE_DATA_CORRUPTED otherwise).
 */
#define DatumGetBloom(d)		rs_bloom_check((BloomFilter *) PG_DETOAST_DATUM(d))
#define PG_GETARG_BLOOM(n)		DatumGetBloom(PG_GETARG_DATUM(n))
#define PG_RETURN_BLOOM(b)		PG_RETURN_POINTER(b)

/* bloom.c */
extern BloomFilter *rs_bloom_check(BloomFilter *bloom);
extern uint64 rs_bloom_hash_key(const char *key, size_t len);
extern bool rs_bloom_contains_hash(const BloomFilter *bloom, uint64 hash);

/*
 * For serving: is the key (an item key in its text form, not necessarily
 * NUL-terminated) possibly in the filter?  false means certainly not.  The
 * filter must come from DatumGetBloom (detoasted and checked).
 */
extern bool rs_bloom_contains_key(const BloomFilter *bloom, const char *key,
								  size_t len);

#endif							/* RECSYS_BLOOM_H */
