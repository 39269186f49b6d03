/*-------------------------------------------------------------------------
 *
 * bloom_parse.c
 *	  The parser of the recsys.bloom text form in plain C: the SQL input
 *	  function (bloom.c) turns its statuses into errors, the fuzz target
 *	  (test/fuzz/fuzz_bloom_parse.c) calls it directly.
 *
 * The header is read field by field, in a fixed order, as unsigned
 * decimal numbers; the bits follow as base64 of exactly the length the
 * header's bit count needs, so a filter of m bits is never allocated for
 * an input shorter than m / 6 characters.
 *
 *-------------------------------------------------------------------------
 */
#include "bloom_parse.h"

#include <string.h>

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads "<name>=<digits>" followed by the separator sep. */
static RsBloomParseStatus
parse_field(const char *input, const char **pp, const char *name, char sep,
			uint64_t *value, RsBloomText *out)
{
	const char *p = *pp;
	size_t		namelen = strlen(name);
	uint64_t	v = 0;
	const char *digits;

	out->field = name;
	out->separator = sep;
	if (strncmp(p, name, namelen) != 0 || p[namelen] != '=')
	{
		out->position = (size_t) (p - input) + 1;
		return RS_BP_NO_NAME;
	}
	p += namelen + 1;
	digits = p;
	while (*p >= '0' && *p <= '9')
	{
		if (v > (UINT64_MAX - 9) / 10)
			return RS_BP_TOO_LARGE;
		v = v * 10 + (uint64_t) (*p - '0');
		p++;
	}
	if (p == digits)
		return RS_BP_NOT_UNSIGNED;
	if (*p != sep)
		return RS_BP_NO_SEPARATOR;
	*pp = p + 1;
	*value = v;
	return RS_BP_OK;
}

RsBloomParseStatus
rs_bloom_parse_text(const char *input, uint64_t max_bits, RsBloomText *out)
{
	const char *p = input;
	const char *end;
	RsBloomParseStatus st;

	memset(out, 0, sizeof(*out));
	while (is_space(*p))
		p++;
	if (strncmp(p, "bloom:", 6) != 0)
		return RS_BP_NO_PREFIX;
	p += 6;
	if ((st = parse_field(input, &p, "v", ',', &out->version, out)) != RS_BP_OK ||
		(st = parse_field(input, &p, "k", ',', &out->probes, out)) != RS_BP_OK ||
		(st = parse_field(input, &p, "m", ',', &out->nbits, out)) != RS_BP_OK ||
		(st = parse_field(input, &p, "n", ':', &out->nitems, out)) != RS_BP_OK)
		return st;

	if (out->version != BLOOM_VERSION)
		return RS_BP_VERSION;
	if (out->probes < 1 || out->probes > BLOOM_MAX_PROBES)
		return RS_BP_PROBES;
	if (out->nbits < BLOOM_MIN_BITS || out->nbits > max_bits)
		return RS_BP_BITS;
	if (out->nitems > (uint64_t) INT64_MAX)
		return RS_BP_ITEMS;

	/* the bits: exactly the base64 length of ceil(m / 8) bytes */
	out->nbytes = (size_t) ((out->nbits + 7) / 8);
	out->enclen = rs_bloom_b64_len(out->nbytes);
	out->payload = p;
	end = p + strlen(p);
	while (end > p && is_space(end[-1]))
		end--;
	out->payload_len = (size_t) (end - p);
	if (out->payload_len != out->enclen)
		return RS_BP_LENGTH;
	return RS_BP_OK;
}

size_t
rs_bloom_b64_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

static inline int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Stricter than PostgreSQL's pg_b64_decode() (which takes "AB=C" and
 * "AB==" alike): '=' is accepted only as the padding at the very end, and
 * the bits the padding drops must be zero, so that a filter has one text
 * form, the one bloom_out() writes, up to white space around it.
 */
long
rs_bloom_b64_decode(const char *src, size_t len, uint8_t *dst, size_t dstlen)
{
	size_t		out = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4)
	{
		uint32_t	buf = 0;
		int			pad = 0;
		int			n;

		for (int j = 0; j < 4; j++)
		{
			char		c = src[i + j];
			int			v = 0;

			if (c == '=')
			{
				/* padding: the last one or two characters of the input */
				if (i + 4 != len || j < 2)
					return -1;
				pad++;
			}
			else if (pad > 0 || (v = b64_value(c)) < 0)
				return -1;
			buf = (buf << 6) | (uint32_t) v;
		}
		n = 3 - pad;
		if ((buf & ((1u << (8 * pad)) - 1)) != 0 || out + (size_t) n > dstlen)
			return -1;
		dst[out++] = (uint8_t) (buf >> 16);
		if (n > 1)
			dst[out++] = (uint8_t) (buf >> 8);
		if (n > 2)
			dst[out++] = (uint8_t) buf;
	}
	return (long) out;
}

bool
rs_bloom_padding_is_zero(const uint8_t *bits, uint64_t nbits)
{
	int			used = (int) (nbits % 8);

	if (used == 0)
		return true;
	return (bits[(nbits + 7) / 8 - 1] >> used) == 0;
}
