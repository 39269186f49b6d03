/*-------------------------------------------------------------------------
 *
 * serve_knn.c
 *	  Neighbourhood models (item_knn, user_knn) in serving: every item's
 *	  score for a trained user, and for a new user described by items.
 *
 * Calls serve_cache.c (the served neighbour lists), the neighbourhood
 * core (knn_score.c) and catalog.c (a user's stored neighbours); no other
 * serving file.
 *
 *-------------------------------------------------------------------------
 */
#include "serve_int.h"

/*
 * Every item's score for user u of a neighbourhood model.  user_knn needs
 * the user's stored neighbours, found by ukey (NULL: none).  Inside SPI.
 */
void
rs_knn_scores(ServedModel *m, const RsKnnUser *u, const char *ukey, float *scores)
{
	RsKnnModel *km = rs_served_knn(m);
	float	   *work = palloc(sizeof(float) * Max(m->n_items, 1));

	if (!km->user_based)
		rs_knn_score_items(km, u, scores, work);
	else
	{
		int32		nn = 0;
		char	  **keys = NULL;
		float	   *sim = NULL;
		RsKnnUser  *nbrs = NULL;

		if (ukey && rs_fetch_user_neighbors(&m->sm, ukey, &nn, &keys, &sim) && nn > 0)
		{
			nbrs = palloc(sizeof(RsKnnUser) * nn);
			rs_fetch_knn_users(&m->sm, keys, nn, nbrs);
		}
		rs_knn_score_users(km, u, nn, sim, nbrs, scores, work);
	}
	pfree(work);
}

/*
 * A new user of a neighbourhood model described by items (and ratings):
 * item_knn scores them like a trained user; explicit models need the
 * ratings.  user_knn cannot place a new user among its neighbour lists.
 */
bool
rs_knn_new_user(ServedModel *m, const int32 *idx, const float *ratings, int32 n,
			 float *scores)
{
	RsKnnUser	u;

	if (n == 0 || m->sm.algorithm == RS_ALG_USER_KNN)
		return false;
	if (is_explicit(m) && ratings == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" predicts ratings: the items need their ratings", m->name),
				 errhint("Pass ratings => ARRAY[...], one per item.")));
	u.n = n;
	u.items = idx;
	u.ratings = ratings;
	u.bias = 0.0f;
	rs_knn_scores(m, &u, NULL, scores);
	return true;
}
