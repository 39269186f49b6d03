/*-------------------------------------------------------------------------
 *
 * embedding_parse.c
 *	  The parser of the embedding text form, [1,2,3], in plain C: the
 *	  SQL input function (embedding.c) turns its statuses into errors, the
 *	  fuzz target (test/fuzz) calls it directly.
 *
 *-------------------------------------------------------------------------
 */
#include "embedding_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static inline int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

RsEmbParseStatus
rs_embedding_parse(const char *input, int max_dim, float **buf, int *cap,
				   int *dim, RsEmbGrowFn grow, void *grow_ctx,
				   const char **bad, int *bad_len)
{
	const char *p = input;

	*dim = 0;
	*bad = NULL;
	*bad_len = 0;
	while (is_space(*p))
		p++;
	if (*p != '[')
		return RS_EP_NO_BRACKET;
	p++;
	while (is_space(*p))
		p++;
	if (*p == ']')
		return RS_EP_EMPTY;

	for (;;)
	{
		char	   *end;
		float		v;

		while (is_space(*p))
			p++;
		if (*p == ',' || *p == ']' || *p == '\0')
			return RS_EP_NOT_A_NUMBER;

		errno = 0;
		v = strtof(p, &end);
		if (end == p)
			return RS_EP_NOT_A_NUMBER;
		*bad = p;
		*bad_len = (int) (end - p);
		/* like float4in: overflow, and underflow to zero, are out of range */
		if (errno == ERANGE && (v == 0.0f || isinf(v)))
			return RS_EP_OUT_OF_RANGE;
		if (isnan(v))
			return RS_EP_NAN;
		if (isinf(v))
			return RS_EP_INFINITE;
		*bad = NULL;
		*bad_len = 0;

		if (*dim == max_dim)
			return RS_EP_TOO_MANY;
		if (*dim == *cap)
		{
			*cap *= 2;
			*buf = grow(grow_ctx, *buf, (size_t) *cap);
		}
		(*buf)[(*dim)++] = v;

		p = end;
		while (is_space(*p))
			p++;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == ']')
		{
			p++;
			break;
		}
		if (*p == '\0')
			return RS_EP_UNCLOSED;
		return RS_EP_NO_COMMA;
	}

	while (is_space(*p))
		p++;
	if (*p != '\0')
		return RS_EP_TRAILING;
	return RS_EP_OK;
}
