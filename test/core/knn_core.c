/*-------------------------------------------------------------------------
 *
 * knn_core.c
 *	  Driver of the neighbourhood-model core (src/core/knn.c) and its
 *	  scoring functions (src/core/knn_score.c) outside the server: builds the RsMatrix
 *	  the loader would build from a triplet file (harness.h), trains, and
 *	  prints the lists,
 *	  the baseline biases and every (user, item) score, in the format of
 *	  test/ref/knn_ref.py, so the two can be compared line by line.
 *
 * Usage: knn_core FILE [key=value ...]
 *	FILE		a triplet file (harness.h): text, one "user item value" per
 *				line; or, if the name ends in ".bin", packed little-endian
 *				(int32 user, int32 item, float32 value) records.
 *	algo=item|user k=K sim=cosine|adjusted_cosine|pearson|jaccard
 *	shrink=L min_support=N min_sim=S weighting=none|bm25|tfidf k1=.. b=..
 *	explicit=0|1 iterations=N bias_reg=L threads=T
 *	users=N items=N		at least that many (ids without interactions)
 *	attrs=FILE			item attribute vectors, "item v1 v2 ..." per line
 *	attr_only=1			every item's neighbours from the attributes
 *	quiet=1				print only the timing summary (for big inputs)
 *	scores=0			print the lists and biases but not the scores
 *	paths=N				rs_knn_test_paths (core.h): 1 one-sided, 2 touched
 *						lists, 4 full scans; sums of those
 *
 * Output: "nbr E RANK NEIGHBOUR SIM SUPPORT", "bu U B", "bi I B",
 * "score U I S" (all users x items; skipped with quiet=1), then on stderr
 * seconds, the longest gap between interrupt checks and the memory
 * allocated.  Any predict_item/predict_user result that differs from the
 * all-items score prints "MISMATCH" on stdout.
 *
 *-------------------------------------------------------------------------
 */
#include "harness.h"
#include "knn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
print_progress(HnEnv *h, int iteration, double loss, double seconds)
{
	(void) h;
	(void) seconds;
	fprintf(stderr, "iteration %d loss %.9g\n", iteration, loss);
}

static const char *
arg(int argc, char **argv, const char *key, const char *dflt)
{
	size_t		len = strlen(key);

	for (int a = 2; a < argc; a++)
		if (strncmp(argv[a], key, len) == 0 && argv[a][len] == '=')
			return argv[a] + len + 1;
	return dflt;
}

int
main(int argc, char **argv)
{
	const char *path;
	HnTriplets	t;
	RsMatrix	m;
	RsParams	p;
	RsModel		out;
	RsEnv		env;
	HnEnv		drv;
	const char *sim;
	const char *w;
	const char *attrs;
	bool		quiet;
	double		t0;
	double		t1;

	hn_progname = "knn_core";
	if (argc < 2)
	{
		fprintf(stderr, "usage: knn_core FILE [key=value ...]\n");
		return 1;
	}
	path = argv[1];
	hn_read_triplets(path, &t);
	hn_build_matrix(&t, atoi(arg(argc, argv, "users", "0")),
					atoi(arg(argc, argv, "items", "0")), &m);

	attrs = arg(argc, argv, "attrs", NULL);
	if (attrs)
	{
		FILE	   *f = fopen(attrs, "r");
		char		line[4096];

		if (!f)
		{
			perror(attrs);
			return 1;
		}
		m.item_has_attr = hn_calloc(m.n_items, sizeof(bool));
		while (fgets(line, sizeof(line), f))
		{
			char	   *s = line;
			char	   *end;
			int			item = (int) strtol(s, &end, 10);
			float		v[64];
			int			d = 0;

			if (end == s)
				continue;
			s = end;
			for (;;)
			{
				float		x = strtof(s, &end);

				if (end == s)
					break;
				v[d++] = x;
				s = end;
			}
			if (m.item_attr == NULL)
			{
				m.attr_dims = d;
				m.item_attr = hn_calloc((size_t) m.n_items * d, sizeof(float));
			}
			if (item >= m.n_items || d != m.attr_dims)
			{
				fprintf(stderr, "bad attribute line for item %d\n", item);
				return 1;
			}
			memcpy(m.item_attr + (size_t) item * d, v, sizeof(float) * d);
			m.item_has_attr[item] = true;
		}
		fclose(f);
	}

	memset(&p, 0, sizeof(p));
	p.user_based = strcmp(arg(argc, argv, "algo", "item"), "user") == 0;
	p.neighbors = atoi(arg(argc, argv, "k", "50"));
	sim = arg(argc, argv, "sim", "cosine");
	p.similarity = strcmp(sim, "adjusted_cosine") == 0 ? RS_SIM_ADJUSTED_COSINE :
		strcmp(sim, "pearson") == 0 ? RS_SIM_PEARSON :
		strcmp(sim, "jaccard") == 0 ? RS_SIM_JACCARD : RS_SIM_COSINE;
	p.shrinkage = atof(arg(argc, argv, "shrink", "0"));
	p.min_support = atoi(arg(argc, argv, "min_support", "1"));
	p.min_similarity = atof(arg(argc, argv, "min_sim", "0"));
	w = arg(argc, argv, "weighting", "none");
	p.weighting = strcmp(w, "bm25") == 0 ? RS_WEIGHT_BM25 :
		strcmp(w, "tfidf") == 0 ? RS_WEIGHT_TFIDF : RS_WEIGHT_NONE;
	p.bm25_k1 = atof(arg(argc, argv, "k1", "1.2"));
	p.bm25_b = atof(arg(argc, argv, "b", "0.75"));
	p.explicit_feedback = atoi(arg(argc, argv, "explicit", "0")) != 0;
	p.iterations = atoi(arg(argc, argv, "iterations", "10"));
	p.bias_regularization = atof(arg(argc, argv, "bias_reg", "10"));
	p.attributes_only = atoi(arg(argc, argv, "attr_only", "0")) != 0;
	p.threads = atoi(arg(argc, argv, "threads", "1"));
	quiet = atoi(arg(argc, argv, "quiet", "0")) != 0;
	rs_knn_test_paths = atoi(arg(argc, argv, "paths", "0"));

	memset(&drv, 0, sizeof(drv));
	hn_env_init(&drv, &env);
	drv.on_progress = print_progress;
	memset(&out, 0, sizeof(out));

	hn_env_start(&drv);
	t0 = hn_now();
	rs_train_knn(&m, &p, &env, &out);
	t1 = hn_now();
	fprintf(stderr, "seconds %.3f\nmax_interrupt_gap_ms %.1f\nmemory_mib %.1f\n",
			t1 - t0, drv.max_gap * 1000.0, drv.allocated / 1048576.0);
	if (quiet)
		return 0;

	for (int32_t e = 0; e < out.n_lists; e++)
		for (int64_t k = out.nbr_ptr[e]; k < out.nbr_ptr[e + 1]; k++)
			printf("nbr %d %d %d %.6f %d\n", e, (int) (k - out.nbr_ptr[e] + 1),
				   out.nbr_idx[k], out.nbr_sim[k], out.nbr_support[k]);
	if (p.explicit_feedback)
	{
		for (int32_t u = 0; u < m.n_users; u++)
			printf("bu %d %.6f\n", u, out.user_bias[u]);
		for (int32_t i = 0; i < m.n_items; i++)
			printf("bi %d %.6f\n", i, out.item_bias[i]);
	}

	/* scores through the serving functions, from the lists just built */
	if (atoi(arg(argc, argv, "scores", "1")) != 0)
	{
		RsKnnModel km;
		float	   *scores = hn_calloc(m.n_items, sizeof(float));
		float	   *work = hn_calloc(m.n_items, sizeof(float));
		RsKnnUser  *users = hn_calloc(m.n_users, sizeof(RsKnnUser));

		memset(&km, 0, sizeof(km));
		km.user_based = p.user_based;
		km.explicit_feedback = p.explicit_feedback;
		km.n_items = m.n_items;
		km.global_mean = out.global_mean;
		km.item_bias = out.item_bias;
		for (int32_t u = 0; u < m.n_users; u++)
		{
			users[u].n = (int32_t) (m.user_ptr[u + 1] - m.user_ptr[u]);
			users[u].items = m.user_items + m.user_ptr[u];
			users[u].ratings = p.explicit_feedback ? m.user_vals + m.user_ptr[u] : NULL;
			users[u].bias = out.user_bias ? out.user_bias[u] : 0.0f;
		}
		if (!p.user_based)
		{
			km.n_lists = out.n_lists;
			km.ptr = out.nbr_ptr;
			km.nbr = out.nbr_idx;
			km.sim = out.nbr_sim;
			rs_knn_build_reverse(&km, hn_calloc(m.n_items + 1, sizeof(int64_t)),
								 hn_calloc(out.nbr_ptr[out.n_lists], sizeof(int32_t)),
								 hn_calloc(out.nbr_ptr[out.n_lists], sizeof(float)));
		}
		for (int32_t u = 0; u < m.n_users; u++)
		{
			RsKnnUser  *nbrs = NULL;
			int32_t		nn = 0;
			const float *nsim = NULL;

			if (p.user_based)
			{
				nn = (int32_t) (out.nbr_ptr[u + 1] - out.nbr_ptr[u]);
				nsim = out.nbr_sim + out.nbr_ptr[u];
				nbrs = hn_calloc(nn, sizeof(RsKnnUser));
				for (int32_t v = 0; v < nn; v++)
					nbrs[v] = users[out.nbr_idx[out.nbr_ptr[u] + v]];
				rs_knn_score_users(&km, &users[u], nn, nsim, nbrs, scores, work);
			}
			else
				rs_knn_score_items(&km, &users[u], scores, work);
			for (int32_t i = 0; i < m.n_items; i++)
			{
				float		one = p.user_based ?
					rs_knn_predict_user(&km, &users[u], nn, nsim, nbrs, i) :
					rs_knn_predict_item(&km, &users[u], i);

				printf("score %d %d %.6f\n", u, i, scores[i]);
				if (memcmp(&one, &scores[i], sizeof(float)) != 0)
					printf("MISMATCH predict %d %d %.9g vs %.9g\n", u, i, one, scores[i]);
			}
			free(nbrs);
		}
	}
	return 0;
}
