/*-------------------------------------------------------------------------
 *
 * embedding_parse.h
 *	  The text form of an embedding, [1,2,3], parsed in plain C (no
 *	  PostgreSQL headers), so that the same code runs in embedding_in()
 *	  and in the libFuzzer target test/fuzz/fuzz_embedding_parse.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_EMBEDDING_PARSE_H
#define RECSYS_EMBEDDING_PARSE_H

#include <stddef.h>

typedef enum RsEmbParseStatus
{
	RS_EP_OK = 0,
	RS_EP_NO_BRACKET,			/* does not start with [ */
	RS_EP_EMPTY,				/* [] */
	RS_EP_NOT_A_NUMBER,			/* an element is missing or not a number */
	RS_EP_OUT_OF_RANGE,			/* beyond float4, or underflows to zero */
	RS_EP_NAN,					/* NaN */
	RS_EP_INFINITE,				/* Infinity */
	RS_EP_TOO_MANY,				/* more than max_dim elements */
	RS_EP_UNCLOSED,				/* the closing bracket is missing */
	RS_EP_NO_COMMA,				/* elements not separated by commas */
	RS_EP_TRAILING				/* something follows the closing bracket */
} RsEmbParseStatus;

/* grows a float buffer to hold n floats (like realloc; never returns NULL) */
typedef float *(*RsEmbGrowFn) (void *ctx, float *buf, size_t n);

/*
 * Parses input into *buf (capacity *cap, grown through grow) and sets *dim.
 * On an error, *bad and *bad_len point at the offending element text when
 * there is one.  At most max_dim elements are accepted.
 */
extern RsEmbParseStatus rs_embedding_parse(const char *input, int max_dim,
										   float **buf, int *cap, int *dim,
										   RsEmbGrowFn grow, void *grow_ctx,
										   const char **bad, int *bad_len);

#endif							/* RECSYS_EMBEDDING_PARSE_H */
