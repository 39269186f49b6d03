/*
 * libFuzzer target: the embedding text parser (src/core/embedding_parse.c).
 *
 * Any input: the parser must not read or write out of bounds, and what it
 * accepts must be 1..max_dim finite floats; the text form written back
 * (%.9g) must parse again to the same floats.
 */
#include "../../src/core/embedding_parse.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM 16000

static float *
grow(void *ctx, float *buf, size_t n)
{
	float	   *p = realloc(buf, sizeof(float) * n);

	(void) ctx;
	if (p == NULL)
		abort();
	return p;
}

static int
parse(const char *s, float **buf, int *dim)
{
	int			cap = 1;
	const char *bad;
	int			bad_len;
	RsEmbParseStatus st;

	*buf = malloc(sizeof(float) * cap);
	st = rs_embedding_parse(s, MAX_DIM, buf, &cap, dim, grow, NULL, &bad, &bad_len);
	if (bad != NULL && (bad < s || bad + bad_len > s + strlen(s)))
		abort();				/* the offending text lies inside the input */
	return st;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	float	   *buf;
	int			dim;

	memcpy(s, data, size);
	s[size] = '\0';				/* the server passes NUL-terminated text */
	if (parse(s, &buf, &dim) == RS_EP_OK)
	{
		size_t		cap = (size_t) dim * 20 + 3;
		char	   *out = malloc(cap);
		size_t		len = 0;
		float	   *again;
		int			dim2;

		if (dim < 1 || dim > MAX_DIM)
			abort();
		out[len++] = '[';
		for (int i = 0; i < dim; i++)
		{
			if (!isfinite(buf[i]))
				abort();
			len += snprintf(out + len, cap - len, "%s%.9g", i ? "," : "", buf[i]);
		}
		out[len++] = ']';
		out[len] = '\0';
		if (parse(out, &again, &dim2) != RS_EP_OK || dim2 != dim ||
			memcmp(again, buf, sizeof(float) * dim) != 0)
			abort();
		free(again);
		free(out);
	}
	free(buf);
	free(s);
	return 0;
}
