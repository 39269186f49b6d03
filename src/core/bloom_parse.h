/*-------------------------------------------------------------------------
 *
 * bloom_parse.h
 *	  The text form of a recsys.bloom filter,
 *	  bloom:v=1,k=<probes>,m=<bits>,n=<items>:<bits in base64>, parsed in
 *	  plain C (no PostgreSQL headers), so that the same code runs in
 *	  bloom_in() and in the libFuzzer target test/fuzz/fuzz_bloom_parse.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_BLOOM_PARSE_H
#define RECSYS_BLOOM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the filter format (bloom.h has the layout) */
#define BLOOM_VERSION		1
#define BLOOM_MIN_BITS		64
#define BLOOM_MAX_PROBES	1100

typedef enum RsBloomParseStatus
{
	RS_BP_OK = 0,
	RS_BP_NO_PREFIX,			/* does not start with "bloom:" */
	RS_BP_NO_NAME,				/* "<field>=" expected at position */
	RS_BP_TOO_LARGE,			/* the value of field overflows 64 bits */
	RS_BP_NOT_UNSIGNED,			/* the value of field has no digits */
	RS_BP_NO_SEPARATOR,			/* separator expected after field */
	RS_BP_VERSION,				/* v is not BLOOM_VERSION */
	RS_BP_PROBES,				/* k outside 1..BLOOM_MAX_PROBES */
	RS_BP_BITS,					/* m outside BLOOM_MIN_BITS..max_bits */
	RS_BP_ITEMS,				/* n above INT64_MAX */
	RS_BP_LENGTH				/* the bits are not b64_len(nbytes) characters */
} RsBloomParseStatus;

/* What the header says, and where the bits are. */
typedef struct RsBloomText
{
	uint64_t	version;
	uint64_t	probes;
	uint64_t	nbits;
	uint64_t	nitems;
	size_t		nbytes;			/* ceil(nbits / 8) */
	const char *payload;		/* the bits in base64, inside the input */
	size_t		payload_len;	/* without trailing white space */
	size_t		enclen;			/* the base64 length nbytes needs */
	/* for the error messages */
	const char *field;			/* the field at fault ("v", "k", "m", "n") */
	char		separator;		/* the separator expected after it */
	size_t		position;		/* 1-based offset of a missing field name */
} RsBloomText;

/*
 * Parses the header of input and locates the bits; the filter may have at
 * most max_bits bits.  RS_BP_OK means every field is in range and the
 * bits have exactly the base64 length of nbytes bytes (decode them with
 * rs_bloom_b64_decode).
 */
extern RsBloomParseStatus rs_bloom_parse_text(const char *input, uint64_t max_bits,
											  RsBloomText *out);

/* Length of the base64 form (with padding) of n bytes. */
extern size_t rs_bloom_b64_len(size_t n);

/*
 * Decodes len characters of base64 (with '=' padding, no white space)
 * into dst, which holds dstlen bytes; the number of bytes written, or -1
 * when src is not base64 or does not fit.
 */
extern long rs_bloom_b64_decode(const char *src, size_t len, uint8_t *dst,
								size_t dstlen);

/* Are the bits of the last byte beyond nbits zero? */
extern bool rs_bloom_padding_is_zero(const uint8_t *bits, uint64_t nbits);

#endif							/* RECSYS_BLOOM_PARSE_H */
