/*
 * libFuzzer target: the training options (src/core/options_parse.c).
 *
 * The input is read as an algorithm and a sequence of options, each a
 * name (one of the table's, or arbitrary bytes), a JSON type and a value
 * (any double, NaN and infinities included, or any string).  Every status
 * is acceptable; what is checked is that nothing reads or writes out of
 * bounds or is undefined (UBSan: a double converted to an int out of
 * range), and that options accepted by rs_opt_finish() are in range.
 */
#include "../../src/core/options_parse.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Reader
{
	const uint8_t *p;
	size_t		left;
} Reader;

static uint8_t
byte(Reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static char *
string(Reader *r)
{
	size_t		n = byte(r);
	char	   *s;

	if (n > r->left)
		n = r->left;
	s = malloc(n + 1);
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	r->left -= n;
	return s;
}

static double
number(Reader *r)
{
	static const double special[] = {0, -0.0, 1, -1, 0.5, 1e308, -1e308, 2147483647,
	2147483648.0, 4294967296.0, 1e-9, 1024, 1025, 10000, 64, 1000000000};
	uint8_t		how = byte(r);
	double		d;

	if (how < 128)
		return special[how % (sizeof(special) / sizeof(special[0]))];
	if (how < 136)
		return how & 1 ? NAN : (how & 2 ? INFINITY : -INFINITY);
	if (r->left < sizeof(double))
		return 0;
	memcpy(&d, r->p, sizeof(double));
	r->p += sizeof(double);
	r->left -= sizeof(double);
	return d;
}

static void
check_ranges(const RsOptState *s)
{
	const RsParams *p = &s->params;

	if (p->threads < 1 || p->threads > 64 || s->keep < 1 || s->keep > 1000)
		abort();
	/* the factor models: als, svd, ials, bpr, nmf */
	if ((s->algorithm <= 3 || strcmp(rs_algorithm_names[s->algorithm], "nmf") == 0) &&
		(p->factors < 1 || p->factors > 1024 ||
		 p->iterations < 1 || p->iterations > 10000 ||
		 !(p->init_std >= 0 && p->init_std <= 10)))
		abort();
	/* biases are deviations from the mean: never biases without it */
	if (!p->no_biases && p->no_global_mean)
		abort();
	/* ease: its penalty must be positive (a singular matrix otherwise) */
	if (strcmp(rs_algorithm_names[s->algorithm], "ease") == 0 &&
		(p->neighbors < 1 || p->neighbors > 1000 || !(p->regularization > 0)))
		abort();
	if (strcmp(rs_algorithm_names[s->algorithm], "item_knn") == 0 ||
		strcmp(rs_algorithm_names[s->algorithm], "user_knn") == 0)
	{
		if (p->neighbors < 1 || p->neighbors > 1000 || p->min_support < 1 ||
			!(p->min_similarity >= -1 && p->min_similarity <= 1) ||
			!(p->bm25_b >= 0 && p->bm25_b <= 1) ||
			(int) p->similarity < 0 || (int) p->similarity > 3 ||
			(int) p->weighting < 0 || (int) p->weighting > 2)
			abort();
		if (p->weighting != RS_WEIGHT_NONE && p->similarity != RS_SIM_COSINE)
			abort();
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Reader		r = {data, size};
	RsOptState	s;
	char	   *owned[64];
	int			n_owned = 0;
	RsOptStatus st = RS_OPTS_OK;

	rs_opt_defaults(&s, byte(&r) % RS_N_ALGORITHMS, 1 + byte(&r) % 8);
	while (r.left > 0 && n_owned < 60 && st == RS_OPTS_OK)
	{
		uint8_t		which = byte(&r);
		const char *name;
		RsOptValue	v;
		RsOptError	err;

		if (which % (rs_n_opt_specs + 1) < (uint8_t) rs_n_opt_specs)
			name = rs_opt_specs[which % (rs_n_opt_specs + 1)].name;
		else
			name = owned[n_owned++] = string(&r);
		memset(&v, 0, sizeof(v));
		switch (byte(&r) % 4)
		{
			case 0:
				v.type = RS_OPTV_NUMBER;
				v.number = number(&r);
				break;
			case 1:
				v.type = RS_OPTV_STRING;
				v.string = owned[n_owned++] = string(&r);
				break;
			case 2:
				v.type = RS_OPTV_BOOL;
				v.boolean = byte(&r) & 1;
				break;
			default:
				v.type = RS_OPTV_OTHER;
				break;
		}
		st = rs_opt_apply(&s, name, &v, &err);
		if (st == RS_OPTS_BAD_CHOICE && (err.choices == NULL || err.n_choices < 2))
			abort();
		if (st != RS_OPTS_OK && st != RS_OPTS_UNKNOWN && err.spec == NULL)
			abort();
	}
	if (st == RS_OPTS_OK && rs_opt_finish(&s) == RS_OPTS_OK)
		check_ranges(&s);
	while (n_owned > 0)
		free(owned[--n_owned]);
	return 0;
}
