/*
 * libFuzzer target: the recsys.bloom text parser (src/core/bloom_parse.c).
 *
 * Any input, as bloom_in() gets it (NUL-terminated): the parser must not
 * read or write out of bounds.  What it accepts must have every field in
 * range and exactly the base64 length of its bits, inside the input; bits
 * it decodes must encode back to exactly the input's base64 (one text form
 * per filter); and the header written back from the parsed fields, with
 * those bits, must parse again to the same filter.  A status that names a field must
 * name one of the four.
 */
#include "../../src/core/bloom_parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bloom.h: (MaxAllocSize - header) * 8 */
#define MAX_BITS (((uint64_t) 0x3fffffff - 24) * 8)

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* canonical base64 with padding, as bloom_out() writes it */
static size_t
encode(const uint8_t *src, size_t n, char *dst)
{
	size_t		o = 0;

	for (size_t i = 0; i < n; i += 3)
	{
		uint32_t	buf = (uint32_t) src[i] << 16;

		if (i + 1 < n)
			buf |= (uint32_t) src[i + 1] << 8;
		if (i + 2 < n)
			buf |= src[i + 2];
		dst[o++] = b64[(buf >> 18) & 63];
		dst[o++] = b64[(buf >> 12) & 63];
		dst[o++] = i + 1 < n ? b64[(buf >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? b64[buf & 63] : '=';
	}
	dst[o] = '\0';
	return o;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	RsBloomText t;
	RsBloomParseStatus st;

	memcpy(s, data, size);
	s[size] = '\0';
	st = rs_bloom_parse_text(s, MAX_BITS, &t);
	if (st >= RS_BP_NO_NAME && st <= RS_BP_NO_SEPARATOR)
	{
		if (t.field == NULL || strlen(t.field) != 1 || strchr("vkmn", t.field[0]) == NULL)
			abort();
		if (st == RS_BP_NO_NAME && (t.position < 1 || t.position > size + 1))
			abort();
	}
	if (st == RS_BP_OK)
	{
		uint8_t    *bits;
		long		n;

		if (t.version != BLOOM_VERSION || t.probes < 1 || t.probes > BLOOM_MAX_PROBES ||
			t.nbits < BLOOM_MIN_BITS || t.nbits > MAX_BITS || t.nitems > (uint64_t) INT64_MAX ||
			t.nbytes != (t.nbits + 7) / 8 || t.enclen != rs_bloom_b64_len(t.nbytes) ||
			t.payload_len != t.enclen ||
			t.payload < s || t.payload + t.payload_len > s + size)
			abort();
		/* the length check bounds what is allocated by the input's size */
		bits = malloc(t.nbytes);
		n = rs_bloom_b64_decode(t.payload, t.enclen, bits, t.nbytes);
		if (n > (long) t.nbytes)
			abort();
		if (n == (long) t.nbytes)
		{
			size_t		cap = t.enclen + 128;
			char	   *text = malloc(cap);
			char	   *enc = malloc(t.enclen + 1);
			uint8_t    *again = malloc(t.nbytes);
			RsBloomText t2;
			int			len;

			(void) rs_bloom_padding_is_zero(bits, t.nbits);
			if (encode(bits, t.nbytes, enc) != t.enclen ||
				memcmp(enc, t.payload, t.enclen) != 0 ||
				rs_bloom_b64_decode(enc, t.enclen, again, t.nbytes) != n ||
				memcmp(again, bits, t.nbytes) != 0)
				abort();
			len = snprintf(text, cap, "bloom:v=%" PRIu64 ",k=%" PRIu64 ",m=%" PRIu64 ",n=%" PRIu64 ":%s",
						   t.version, t.probes, t.nbits, t.nitems, enc);
			if (len < 0 || (size_t) len >= cap ||
				rs_bloom_parse_text(text, MAX_BITS, &t2) != RS_BP_OK ||
				t2.version != t.version || t2.probes != t.probes ||
				t2.nbits != t.nbits || t2.nitems != t.nitems ||
				rs_bloom_b64_decode(t2.payload, t2.enclen, again, t2.nbytes) != n ||
				memcmp(again, bits, t.nbytes) != 0)
				abort();
			free(again);
			free(enc);
			free(text);
		}
		free(bits);
	}
	free(s);
	return 0;
}
