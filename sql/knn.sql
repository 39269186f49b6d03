--
-- Neighbourhood models (item_knn, user_knn): on a hand-checkable matrix
-- every similarity, shrinkage, cut and weighting matches an independent
-- reference (test/ref/knn_ref.py; its values are embedded below); the
-- catalog, versions, the aggregate form, determinism; planted structure
-- is recovered (held-out recall far above popularity); bad input.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The hand-checkable matrix of test/ref/knn_ref.py --------------------------
-- user 7 rated only item 6, which nobody else rated: item 6 (item_knn) and
-- user 7 (user_knn) have no neighbours.  Item 7 has attributes only.
CREATE TABLE knn_r (u int, i int, r real);
INSERT INTO knn_r VALUES
	(0, 0, 5), (0, 1, 3), (0, 2, 4), (0, 4, 1),
	(1, 0, 4), (1, 2, 2), (1, 3, 2), (1, 5, 5),
	(2, 1, 1), (2, 2, 5), (2, 3, 5), (2, 4, 2),
	(3, 0, 2), (3, 1, 4), (3, 4, 5), (3, 5, 3),
	(4, 0, 3), (4, 2, 3), (4, 3, 3), (4, 5, 1),
	(5, 1, 5), (5, 3, 4), (5, 4, 3), (5, 5, 2),
	(6, 0, 1), (6, 1, 2), (6, 2, 2), (6, 3, 1), (6, 4, 4), (6, 5, 4),
	(7, 6, 3);
CREATE TABLE knn_attrs (item int, vec recsys.embedding);
INSERT INTO knn_attrs VALUES
	(0, '[1,0,0.5]'), (1, '[0,1,0.2]'), (2, '[0.9,0.1,0.4]'), (3, '[0.2,0.8,0]'),
	(7, '[1,0.2,0.6]');

CREATE TABLE knn_cfg (name text, data text, args text);
CREATE TABLE knn_expected (config text, e int, rank int, neighbor int,
						   similarity float8, support int);
CREATE TABLE knn_expected_bias (config text, kind text, id int, bias float8);
-- BEGIN knn_ref.py --sql (generated: /usr/bin/python3 test/ref/knn_ref.py --sql)
COPY knn_cfg (name, data, args) FROM stdin;
item_cosine	binary	algo=item k=3 sim=cosine shrink=0
item_cosine_topk_shrunk	binary	algo=item k=2 sim=cosine shrink=2
item_cosine_ratings	ratings	algo=item k=4 sim=cosine shrink=0
item_cosine_min_similarity	ratings	algo=item k=6 sim=cosine shrink=0 min_sim=0.55
item_adjusted_cosine	ratings	algo=item k=3 sim=adjusted_cosine shrink=0 min_sim=-1
item_pearson_shrunk	ratings	algo=item k=3 sim=pearson shrink=1 min_sim=-1
item_pearson_positive	ratings	algo=item k=6 sim=pearson shrink=0
item_jaccard_min_support	binary	algo=item k=6 sim=jaccard shrink=0 min_support=3
item_jaccard_topk	binary	algo=item k=2 sim=jaccard shrink=1
item_bm25	ratings	algo=item k=3 sim=cosine shrink=0 weighting=bm25 k1=1.2 b=0.75
item_bm25_binary	binary	algo=item k=3 sim=cosine shrink=0 weighting=bm25 k1=100 b=0.8
item_tfidf	ratings	algo=item k=3 sim=cosine shrink=0 weighting=tfidf
item_explicit	ratings	algo=item k=3 sim=pearson shrink=0 min_sim=-1 explicit=1 iterations=10 bias_reg=2
item_attributes	binary	algo=item k=2 sim=cosine shrink=0 attrs=1
item_attributes_only	binary	algo=item k=2 sim=cosine shrink=0 attrs=1 attr_only=1
user_cosine	binary	algo=user k=3 sim=cosine shrink=0
user_adjusted_cosine	ratings	algo=user k=3 sim=adjusted_cosine shrink=0 min_sim=-1
user_pearson_shrunk	ratings	algo=user k=2 sim=pearson shrink=2
user_jaccard	binary	algo=user k=2 sim=jaccard shrink=0 min_support=2
user_tfidf	binary	algo=user k=3 sim=cosine shrink=0.5 weighting=tfidf
user_explicit	ratings	algo=user k=3 sim=cosine shrink=1 explicit=1 iterations=5 bias_reg=1
\.
COPY knn_expected (config, e, rank, neighbor, similarity, support) FROM stdin;
item_cosine	0	1	2	0.800000	4
item_cosine	0	2	5	0.800000	4
item_cosine	0	3	1	0.600000	3
item_cosine	1	1	4	1.000000	5
item_cosine	1	2	0	0.600000	3
item_cosine	1	3	2	0.600000	3
item_cosine	2	1	0	0.800000	4
item_cosine	2	2	3	0.800000	4
item_cosine	2	3	1	0.600000	3
item_cosine	3	1	2	0.800000	4
item_cosine	3	2	5	0.800000	4
item_cosine	3	3	0	0.600000	3
item_cosine	4	1	1	1.000000	5
item_cosine	4	2	0	0.600000	3
item_cosine	4	3	2	0.600000	3
item_cosine	5	1	0	0.800000	4
item_cosine	5	2	3	0.800000	4
item_cosine	5	3	1	0.600000	3
item_cosine_topk_shrunk	0	1	2	0.533333	4
item_cosine_topk_shrunk	0	2	5	0.533333	4
item_cosine_topk_shrunk	1	1	4	0.714286	5
item_cosine_topk_shrunk	1	2	0	0.360000	3
item_cosine_topk_shrunk	2	1	0	0.533333	4
item_cosine_topk_shrunk	2	2	3	0.533333	4
item_cosine_topk_shrunk	3	1	2	0.533333	4
item_cosine_topk_shrunk	3	2	5	0.533333	4
item_cosine_topk_shrunk	4	1	1	0.714286	5
item_cosine_topk_shrunk	4	2	0	0.360000	3
item_cosine_topk_shrunk	5	1	0	0.533333	4
item_cosine_topk_shrunk	5	2	3	0.533333	4
item_cosine_ratings	0	1	2	0.690509	4
item_cosine_ratings	0	2	5	0.600000	4
item_cosine_ratings	0	3	1	0.454545	3
item_cosine_ratings	0	4	4	0.345455	3
item_cosine_ratings	1	1	4	0.872727	5
item_cosine_ratings	1	2	5	0.545455	3
item_cosine_ratings	1	3	3	0.490909	3
item_cosine_ratings	1	4	0	0.454545	3
item_cosine_ratings	2	1	3	0.708214	4
item_cosine_ratings	2	2	0	0.690509	4
item_cosine_ratings	2	3	4	0.389518	3
item_cosine_ratings	2	4	1	0.371812	3
item_cosine_ratings	3	1	2	0.708214	4
item_cosine_ratings	3	2	1	0.490909	3
item_cosine_ratings	3	3	4	0.472727	3
item_cosine_ratings	3	4	5	0.454545	4
item_cosine_ratings	4	1	1	0.872727	5
item_cosine_ratings	4	2	5	0.672727	3
item_cosine_ratings	4	3	3	0.472727	3
item_cosine_ratings	4	4	2	0.389518	3
item_cosine_ratings	5	1	4	0.672727	3
item_cosine_ratings	5	2	0	0.600000	4
item_cosine_ratings	5	3	1	0.545455	3
item_cosine_ratings	5	4	3	0.454545	4
item_cosine_min_similarity	0	1	2	0.690509	4
item_cosine_min_similarity	0	2	5	0.600000	4
item_cosine_min_similarity	1	1	4	0.872727	5
item_cosine_min_similarity	2	1	3	0.708214	4
item_cosine_min_similarity	2	2	0	0.690509	4
item_cosine_min_similarity	3	1	2	0.708214	4
item_cosine_min_similarity	4	1	1	0.872727	5
item_cosine_min_similarity	4	2	5	0.672727	3
item_cosine_min_similarity	5	1	4	0.672727	3
item_cosine_min_similarity	5	2	0	0.600000	4
item_adjusted_cosine	0	1	3	0.357520	3
item_adjusted_cosine	0	2	2	0.285277	4
item_adjusted_cosine	0	3	5	-0.143180	4
item_adjusted_cosine	1	1	4	0.293818	5
item_adjusted_cosine	1	2	0	-0.428752	3
item_adjusted_cosine	1	3	3	-0.446227	3
item_adjusted_cosine	2	1	3	0.923600	4
item_adjusted_cosine	2	2	0	0.285277	4
item_adjusted_cosine	2	3	4	-0.747516	3
item_adjusted_cosine	3	1	2	0.923600	4
item_adjusted_cosine	3	2	0	0.357520	3
item_adjusted_cosine	3	3	1	-0.446227	3
item_adjusted_cosine	4	1	5	0.526316	3
item_adjusted_cosine	4	2	1	0.293818	5
item_adjusted_cosine	4	3	2	-0.747516	3
item_adjusted_cosine	5	1	4	0.526316	3
item_adjusted_cosine	5	2	0	-0.143180	4
item_adjusted_cosine	5	3	1	-0.823099	3
item_pearson_shrunk	0	1	3	0.450000	3
item_pearson_shrunk	0	2	2	0.395733	4
item_pearson_shrunk	0	3	1	0.176777	3
item_pearson_shrunk	1	1	4	0.250000	5
item_pearson_shrunk	1	2	0	0.176777	3
item_pearson_shrunk	1	3	3	0.000000	3
item_pearson_shrunk	2	1	3	0.773590	4
item_pearson_shrunk	2	2	0	0.395733	4
item_pearson_shrunk	2	3	1	-0.349005	3
item_pearson_shrunk	3	1	2	0.773590	4
item_pearson_shrunk	3	2	0	0.450000	3
item_pearson_shrunk	3	3	1	0.000000	3
item_pearson_shrunk	4	1	1	0.250000	5
item_pearson_shrunk	4	2	5	0.237171	3
item_pearson_shrunk	4	3	2	-0.610643	3
item_pearson_shrunk	5	1	4	0.237171	3
item_pearson_shrunk	5	2	0	0.000000	4
item_pearson_shrunk	5	3	2	-0.468165	3
item_pearson_positive	0	1	3	0.600000	3
item_pearson_positive	0	2	2	0.494666	4
item_pearson_positive	0	3	1	0.235702	3
item_pearson_positive	1	1	4	0.300000	5
item_pearson_positive	1	2	0	0.235702	3
item_pearson_positive	2	1	3	0.966988	4
item_pearson_positive	2	2	0	0.494666	4
item_pearson_positive	3	1	2	0.966988	4
item_pearson_positive	3	2	0	0.600000	3
item_pearson_positive	4	1	5	0.316228	3
item_pearson_positive	4	2	1	0.300000	5
item_pearson_positive	5	1	4	0.316228	3
item_jaccard_min_support	0	1	2	0.666667	4
item_jaccard_min_support	0	2	5	0.666667	4
item_jaccard_min_support	0	3	1	0.428571	3
item_jaccard_min_support	0	4	3	0.428571	3
item_jaccard_min_support	0	5	4	0.428571	3
item_jaccard_min_support	1	1	4	1.000000	5
item_jaccard_min_support	1	2	0	0.428571	3
item_jaccard_min_support	1	3	2	0.428571	3
item_jaccard_min_support	1	4	3	0.428571	3
item_jaccard_min_support	1	5	5	0.428571	3
item_jaccard_min_support	2	1	0	0.666667	4
item_jaccard_min_support	2	2	3	0.666667	4
item_jaccard_min_support	2	3	1	0.428571	3
item_jaccard_min_support	2	4	4	0.428571	3
item_jaccard_min_support	2	5	5	0.428571	3
item_jaccard_min_support	3	1	2	0.666667	4
item_jaccard_min_support	3	2	5	0.666667	4
item_jaccard_min_support	3	3	0	0.428571	3
item_jaccard_min_support	3	4	1	0.428571	3
item_jaccard_min_support	3	5	4	0.428571	3
item_jaccard_min_support	4	1	1	1.000000	5
item_jaccard_min_support	4	2	0	0.428571	3
item_jaccard_min_support	4	3	2	0.428571	3
item_jaccard_min_support	4	4	3	0.428571	3
item_jaccard_min_support	4	5	5	0.428571	3
item_jaccard_min_support	5	1	0	0.666667	4
item_jaccard_min_support	5	2	3	0.666667	4
item_jaccard_min_support	5	3	1	0.428571	3
item_jaccard_min_support	5	4	2	0.428571	3
item_jaccard_min_support	5	5	4	0.428571	3
item_jaccard_topk	0	1	2	0.533333	4
item_jaccard_topk	0	2	5	0.533333	4
item_jaccard_topk	1	1	4	0.833333	5
item_jaccard_topk	1	2	0	0.321429	3
item_jaccard_topk	2	1	0	0.533333	4
item_jaccard_topk	2	2	3	0.533333	4
item_jaccard_topk	3	1	2	0.533333	4
item_jaccard_topk	3	2	5	0.533333	4
item_jaccard_topk	4	1	1	0.833333	5
item_jaccard_topk	4	2	0	0.321429	3
item_jaccard_topk	5	1	0	0.533333	4
item_jaccard_topk	5	2	3	0.533333	4
item_bm25	0	1	2	0.750130	4
item_bm25	0	2	5	0.714836	4
item_bm25	0	3	1	0.515218	3
item_bm25	1	1	4	0.970707	5
item_bm25	1	2	5	0.568891	3
item_bm25	1	3	0	0.515218	3
item_bm25	2	1	0	0.750130	4
item_bm25	2	2	3	0.722165	4
item_bm25	2	3	1	0.444985	3
item_bm25	3	1	2	0.722165	4
item_bm25	3	2	5	0.669691	4
item_bm25	3	3	4	0.543624	3
item_bm25	4	1	1	0.970707	5
item_bm25	4	2	5	0.583816	3
item_bm25	4	3	3	0.543624	3
item_bm25	5	1	0	0.714836	4
item_bm25	5	2	3	0.669691	4
item_bm25	5	3	4	0.583816	3
item_bm25_binary	0	1	2	0.750000	4
item_bm25_binary	0	2	5	0.750000	4
item_bm25_binary	0	3	1	0.500000	3
item_bm25_binary	1	1	4	1.000000	5
item_bm25_binary	1	2	0	0.500000	3
item_bm25_binary	1	3	2	0.500000	3
item_bm25_binary	2	1	0	0.750000	4
item_bm25_binary	2	2	3	0.750000	4
item_bm25_binary	2	3	1	0.500000	3
item_bm25_binary	3	1	2	0.750000	4
item_bm25_binary	3	2	5	0.750000	4
item_bm25_binary	3	3	0	0.500000	3
item_bm25_binary	4	1	1	1.000000	5
item_bm25_binary	4	2	0	0.500000	3
item_bm25_binary	4	3	2	0.500000	3
item_bm25_binary	5	1	0	0.750000	4
item_bm25_binary	5	2	3	0.750000	4
item_bm25_binary	5	3	1	0.500000	3
item_tfidf	0	1	2	0.735755	4
item_tfidf	0	2	5	0.697333	4
item_tfidf	0	3	1	0.496742	3
item_tfidf	1	1	4	0.960958	5
item_tfidf	1	2	5	0.554126	3
item_tfidf	1	3	3	0.497245	3
item_tfidf	2	1	0	0.735755	4
item_tfidf	2	2	3	0.714286	4
item_tfidf	2	3	1	0.422525	3
item_tfidf	3	1	2	0.714286	4
item_tfidf	3	2	5	0.622317	4
item_tfidf	3	3	4	0.533969	3
item_tfidf	4	1	1	0.960958	5
item_tfidf	4	2	5	0.574770	3
item_tfidf	4	3	3	0.533969	3
item_tfidf	5	1	0	0.697333	4
item_tfidf	5	2	3	0.622317	4
item_tfidf	5	3	4	0.574770	3
item_explicit	0	1	3	0.600000	3
item_explicit	0	2	2	0.494666	4
item_explicit	0	3	1	0.235702	3
item_explicit	1	1	4	0.300000	5
item_explicit	1	2	0	0.235702	3
item_explicit	1	3	3	0.000000	3
item_explicit	2	1	3	0.966988	4
item_explicit	2	2	0	0.494666	4
item_explicit	2	3	1	-0.465340	3
item_explicit	3	1	2	0.966988	4
item_explicit	3	2	0	0.600000	3
item_explicit	3	3	1	0.000000	3
item_explicit	4	1	5	0.316228	3
item_explicit	4	2	1	0.300000	5
item_explicit	4	3	2	-0.814191	3
item_explicit	5	1	4	0.316228	3
item_explicit	5	2	0	0.000000	4
item_explicit	5	3	2	-0.624219	3
item_attributes	0	1	2	0.800000	4
item_attributes	0	2	5	0.800000	4
item_attributes	1	1	4	1.000000	5
item_attributes	1	2	0	0.600000	3
item_attributes	2	1	0	0.800000	4
item_attributes	2	2	3	0.800000	4
item_attributes	3	1	2	0.800000	4
item_attributes	3	2	5	0.800000	4
item_attributes	4	1	1	1.000000	5
item_attributes	4	2	0	0.600000	3
item_attributes	5	1	0	0.800000	4
item_attributes	5	2	3	0.800000	4
item_attributes	7	1	2	0.990332	0
item_attributes	7	2	0	0.982708	0
item_attributes_only	0	1	2	0.993859	0
item_attributes_only	0	2	7	0.982708	0
item_attributes_only	1	1	3	0.951303	0
item_attributes_only	1	2	7	0.265197	0
item_attributes_only	2	1	0	0.993859	0
item_attributes_only	2	2	7	0.990332	0
item_attributes_only	3	1	1	0.951303	0
item_attributes_only	3	2	7	0.368964	0
item_attributes_only	7	1	2	0.990332	0
item_attributes_only	7	2	0	0.982708	0
user_cosine	0	1	6	0.816497	4
user_cosine	0	2	2	0.750000	3
user_cosine	0	3	3	0.750000	3
user_cosine	1	1	4	1.000000	4
user_cosine	1	2	6	0.816497	4
user_cosine	1	3	0	0.500000	2
user_cosine	2	1	6	0.816497	4
user_cosine	2	2	0	0.750000	3
user_cosine	2	3	5	0.750000	3
user_cosine	3	1	6	0.816497	4
user_cosine	3	2	0	0.750000	3
user_cosine	3	3	5	0.750000	3
user_cosine	4	1	1	1.000000	4
user_cosine	4	2	6	0.816497	4
user_cosine	4	3	0	0.500000	2
user_cosine	5	1	6	0.816497	4
user_cosine	5	2	2	0.750000	3
user_cosine	5	3	3	0.750000	3
user_cosine	6	1	0	0.816497	4
user_cosine	6	2	1	0.816497	4
user_cosine	6	3	2	0.816497	4
user_adjusted_cosine	0	1	2	0.556334	3
user_adjusted_cosine	0	2	1	0.309086	2
user_adjusted_cosine	0	3	5	0.000000	2
user_adjusted_cosine	1	1	6	0.390321	4
user_adjusted_cosine	1	2	0	0.309086	2
user_adjusted_cosine	1	3	3	-0.447214	2
user_adjusted_cosine	2	1	0	0.556334	3
user_adjusted_cosine	2	2	5	-0.298142	3
user_adjusted_cosine	2	3	6	-0.540720	4
user_adjusted_cosine	3	1	6	0.462910	4
user_adjusted_cosine	3	2	5	0.400000	3
user_adjusted_cosine	3	3	4	0.000000	2
user_adjusted_cosine	4	1	5	0.707107	2
user_adjusted_cosine	4	2	3	0.000000	2
user_adjusted_cosine	4	3	6	-0.271002	4
user_adjusted_cosine	5	1	4	0.707107	2
user_adjusted_cosine	5	2	3	0.400000	3
user_adjusted_cosine	5	3	0	0.000000	2
user_adjusted_cosine	6	1	3	0.462910	4
user_adjusted_cosine	6	2	1	0.390321	4
user_adjusted_cosine	6	3	4	-0.271002	4
user_pearson_shrunk	0	1	4	0.464238	2
user_pearson_shrunk	0	2	2	0.378901	3
user_pearson_shrunk	1	1	6	0.404319	4
user_pearson_shrunk	1	2	0	0.067557	2
user_pearson_shrunk	2	1	4	0.500000	2
user_pearson_shrunk	2	2	0	0.378901	3
user_pearson_shrunk	3	1	6	0.382451	4
user_pearson_shrunk	3	2	5	0.124509	3
user_pearson_shrunk	4	1	2	0.500000	2
user_pearson_shrunk	4	2	5	0.500000	2
user_pearson_shrunk	5	1	4	0.500000	2
user_pearson_shrunk	5	2	3	0.124509	3
user_pearson_shrunk	6	1	1	0.404319	4
user_pearson_shrunk	6	2	3	0.382451	4
user_jaccard	0	1	6	0.666667	4
user_jaccard	0	2	2	0.600000	3
user_jaccard	1	1	4	1.000000	4
user_jaccard	1	2	6	0.666667	4
user_jaccard	2	1	6	0.666667	4
user_jaccard	2	2	0	0.600000	3
user_jaccard	3	1	6	0.666667	4
user_jaccard	3	2	0	0.600000	3
user_jaccard	4	1	1	1.000000	4
user_jaccard	4	2	6	0.666667	4
user_jaccard	5	1	6	0.666667	4
user_jaccard	5	2	2	0.600000	3
user_jaccard	6	1	0	0.666667	4
user_jaccard	6	2	1	0.666667	4
user_tfidf	0	1	6	0.725775	4
user_tfidf	0	2	2	0.642857	3
user_tfidf	0	3	3	0.642857	3
user_tfidf	1	1	4	0.888889	4
user_tfidf	1	2	6	0.725775	4
user_tfidf	1	3	0	0.400000	2
user_tfidf	2	1	6	0.725775	4
user_tfidf	2	2	0	0.642857	3
user_tfidf	2	3	5	0.642857	3
user_tfidf	3	1	6	0.725775	4
user_tfidf	3	2	0	0.642857	3
user_tfidf	3	3	5	0.642857	3
user_tfidf	4	1	1	0.888889	4
user_tfidf	4	2	6	0.725775	4
user_tfidf	4	3	0	0.400000	2
user_tfidf	5	1	6	0.725775	4
user_tfidf	5	2	2	0.642857	3
user_tfidf	5	3	3	0.642857	3
user_tfidf	6	1	0	0.725775	4
user_tfidf	6	2	1	0.725775	4
user_tfidf	6	3	2	0.725775	4
user_explicit	0	1	4	0.476331	2
user_explicit	0	2	6	0.397565	4
user_explicit	0	3	3	0.385872	3
user_explicit	1	1	4	0.626341	4
user_explicit	1	2	6	0.529040	4
user_explicit	1	3	0	0.373408	2
user_explicit	2	1	4	0.509647	2
user_explicit	2	2	5	0.426623	3
user_explicit	2	3	6	0.416125	4
user_explicit	3	1	6	0.705534	4
user_explicit	3	2	5	0.569444	3
user_explicit	3	3	0	0.385872	3
user_explicit	4	1	1	0.626341	4
user_explicit	4	2	2	0.509647	2
user_explicit	4	3	0	0.476331	2
user_explicit	5	1	6	0.571146	4
user_explicit	5	2	3	0.569444	3
user_explicit	5	3	2	0.426623	3
user_explicit	6	1	3	0.705534	4
user_explicit	6	2	5	0.571146	4
user_explicit	6	3	1	0.529040	4
\.
COPY knn_expected_bias (config, kind, id, bias) FROM stdin;
item_explicit	user	0	0.133424
item_explicit	user	1	0.101845
item_explicit	user	2	0.133424
item_explicit	user	3	0.333424
item_explicit	user	4	-0.398155
item_explicit	user	5	0.333424
item_explicit	user	6	-0.536740
item_explicit	user	7	-0.008065
item_explicit	item	0	0.029260
item_explicit	item	1	-0.079762
item_explicit	item	2	0.200689
item_explicit	item	3	0.029260
item_explicit	item	4	-0.079762
item_explicit	item	5	0.000689
item_explicit	item	6	-0.008065
item_explicit	item	7	0.000000
user_explicit	user	0	0.162603
user_explicit	user	1	0.106854
user_explicit	user	2	0.162603
user_explicit	user	3	0.412602
user_explicit	user	4	-0.493146
user_explicit	user	5	0.412602
user_explicit	user	6	-0.613550
user_explicit	user	7	-0.010742
user_explicit	item	0	0.042508
user_explicit	item	1	-0.117698
user_explicit	item	2	0.250841
user_explicit	item	3	0.042508
user_explicit	item	4	-0.117698
user_explicit	item	5	0.000842
user_explicit	item	6	-0.010774
user_explicit	item	7	0.000000
\.
-- END knn_ref.py --sql

-- knn_ref.py's driver arguments as training options
CREATE FUNCTION pg_temp.knn_options(args text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT coalesce(jsonb_object_agg(
		CASE k WHEN 'k' THEN 'neighbors' WHEN 'sim' THEN 'similarity'
			   WHEN 'shrink' THEN 'shrinkage' WHEN 'min_sim' THEN 'min_similarity'
			   WHEN 'k1' THEN 'bm25_k1' WHEN 'b' THEN 'bm25_b'
			   WHEN 'explicit' THEN 'feedback' WHEN 'bias_reg' THEN 'bias_regularization'
			   WHEN 'attrs' THEN 'attributes' WHEN 'attr_only' THEN 'attribute_mode'
			   ELSE k END,
		CASE k WHEN 'sim' THEN to_jsonb(v) WHEN 'weighting' THEN to_jsonb(v)
			   WHEN 'explicit' THEN '"explicit"' WHEN 'attrs' THEN '"knn_attrs"'
			   WHEN 'attr_only' THEN '"only"' ELSE to_jsonb(v::numeric) END), '{}')
	FROM (SELECT split_part(kv, '=', 1) AS k, split_part(kv, '=', 2) AS v
		  FROM regexp_split_to_table(args, ' ') AS kv) p
	WHERE k <> 'algo'
$$;

-- every configuration trained through SQL ("binary": no rating column)
SELECT c.name, t.algorithm, t.users, t.items, t.interactions
FROM knn_cfg c,
	 LATERAL recsys.train('ref_' || c.name,
						  CASE c.data WHEN 'ratings' THEN 'knn_r' ELSE 'SELECT u, i FROM knn_r' END,
						  'u', 'i', CASE c.data WHEN 'ratings' THEN 'r' END,
						  CASE WHEN c.args LIKE 'algo=user%' THEN 'user_knn' ELSE 'item_knn' END,
						  pg_temp.knn_options(c.args)) t
ORDER BY c.name;

-- the stored lists equal the reference's: same neighbours in the same
-- order, same supports, similarities within 1e-5 (keys are the dense ids)
CREATE TEMP VIEW knn_got AS
SELECT substr(n.model, 5) AS config, n.key::int AS e, n.rank, n.neighbor::int AS neighbor,
	   n.similarity, n.support
FROM recsys.neighbors n
JOIN recsys.models m ON m.name = n.model AND m.active_version = n.version
WHERE n.model LIKE 'ref\_%';
SELECT c.name, count(x.config) AS expected, count(g.config) AS stored,
	   count(*) FILTER (WHERE g.config IS NULL OR x.config IS NULL OR g.neighbor <> x.neighbor
						OR g.support <> x.support
						OR abs(g.similarity - x.similarity) > 1e-5) AS differences
FROM knn_cfg c
LEFT JOIN (knn_got g FULL JOIN knn_expected x
		   ON g.config = x.config AND g.e = x.e AND g.rank = x.rank)
	ON c.name = coalesce(g.config, x.config)
GROUP BY c.name ORDER BY c.name;
-- and the baseline biases of the explicit models
SELECT x.config, x.kind, count(*) AS compared,
	   max(abs(coalesce(u.bias, i.bias) - x.bias)) < 1e-5 AS equal
FROM knn_expected_bias x
LEFT JOIN recsys.user_factors u ON x.kind = 'user' AND u.model = 'ref_' || x.config AND u.user_key = x.id::text
LEFT JOIN recsys.item_factors i ON x.kind = 'item' AND i.model = 'ref_' || x.config AND i.item_key = x.id::text
WHERE coalesce(u.bias, i.bias) IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2;

-- what an analyst reads: the top-K cut (K = 2) with shrinkage 2
SELECT key AS item, rank, neighbor, round(similarity::numeric, 4) AS similarity, support
FROM recsys.neighbors WHERE model = 'ref_item_cosine_topk_shrunk'
ORDER BY key::int, rank;
-- the arrays behind it; item 6 (no co-rated item) has none
SELECT item_key, item_idx, neighbor_keys, neighbor_idx, support
FROM recsys.item_neighbors WHERE model = 'ref_item_cosine_topk_shrunk' ORDER BY item_idx;
SELECT user_key, neighbor_keys FROM recsys.user_neighbors
WHERE model = 'ref_user_jaccard' ORDER BY user_idx;

-- Attributes: items without interactions get neighbours -------------------
-- item 7 has no interactions: it is in the model, with attribute neighbours
SELECT item_key, interactions, bias, factors FROM recsys.item_factors
WHERE model = 'ref_item_attributes' AND item_key = '7';
SELECT key, neighbor, round(similarity::numeric, 4) AS similarity, support
FROM recsys.neighbors WHERE model = 'ref_item_attributes' AND key = '7' ORDER BY rank;
-- a NULL vector is skipped (item 9 does not exist); a zero vector is
-- similar to nothing (item 8 exists, without neighbours); real[] works too
CREATE TABLE knn_attrs2 (item bigint, vec real[]);
INSERT INTO knn_attrs2 SELECT item, vec::real[] FROM knn_attrs;
INSERT INTO knn_attrs2 VALUES (8, '{0,0,0}'), (9, NULL);
SELECT items FROM recsys.train('knn_cold', 'SELECT u, i FROM knn_r', 'u', 'i', NULL, 'item_knn',
	'{"attributes": "SELECT item, vec FROM knn_attrs2", "shrinkage": 0}');
SELECT item_key, interactions, cardinality(neighbor_keys) AS neighbours
FROM recsys.item_factors JOIN recsys.item_neighbors USING (model, version, item_key)
WHERE model = 'knn_cold' AND item_key IN ('6', '7', '8', '9') ORDER BY item_key;
SELECT params->>'attributes' AS attributes, params->>'attribute_mode' AS mode
FROM recsys.model_versions WHERE model = 'knn_cold';

-- The catalog ---------------------------------------------------------------
-- effective parameters: the defaults filled in
SELECT model, params FROM recsys.model_versions
WHERE model IN ('ref_item_cosine', 'ref_item_explicit', 'ref_item_bm25') ORDER BY model;
-- implicit models store no biases and no ratings; explicit ones both
SELECT model, count(bias) AS biases, count(ratings) AS ratings, count(factors) AS factors,
	   bool_and(cardinality(seen) = interactions) AS seen_lists
FROM recsys.user_factors WHERE model IN ('ref_item_cosine', 'ref_item_explicit', 'ref_user_explicit')
GROUP BY model ORDER BY model;
SELECT user_key, seen, ratings FROM recsys.user_factors
WHERE model = 'ref_item_explicit' AND user_key IN ('0', '7') ORDER BY user_key;
SELECT round(global_mean::numeric, 4) AS mean, cardinality(loss_history) AS sweeps,
	   loss_history[1] >= loss_history[10] AS loss_decreases
FROM recsys.model_versions WHERE model = 'ref_item_explicit';

-- keys of any text come back as they went in (also inside the arrays)
CREATE TABLE knn_text_keys (u bigint, i text);
INSERT INTO knn_text_keys VALUES (1, 'a"b'), (1, 'c,d'), (1, '{e}'), (1, 'f\g'),
	(2, 'a"b'), (2, 'NULL'), (2, ' h '), (3, 'c,d'), (3, 'NULL'), (3, '{e}');
SELECT items FROM recsys.train('knn_text', 'knn_text_keys', 'u', 'i', NULL, 'item_knn', '{"shrinkage": 0}');
SELECT item_key, neighbor_keys, neighbor_keys[1] IS NOT NULL AS first_not_null
FROM recsys.item_neighbors WHERE model = 'knn_text' ORDER BY item_idx;
SELECT key, neighbor, rank FROM recsys.neighbors WHERE model = 'knn_text' AND key = 'a"b' ORDER BY rank;

-- Versions: retrain adds one; keep prunes the neighbour rows with it; drop
SELECT version FROM recsys.retrain('ref_item_cosine');
SELECT version FROM recsys.retrain('ref_item_cosine');
SELECT version FROM recsys.train('ref_item_cosine', 'SELECT u, i FROM knn_r', 'u', 'i', NULL,
	'item_knn', '{"neighbors": 3, "shrinkage": 0, "keep": 2}');
SELECT array_agg(DISTINCT version ORDER BY version) AS neighbour_versions
FROM recsys.item_neighbors WHERE model = 'ref_item_cosine';
SELECT recsys.drop_model('ref_user_jaccard');
SELECT (SELECT count(*) FROM recsys.user_neighbors WHERE model = 'ref_user_jaccard') AS neighbour_rows,
	   (SELECT count(*) FROM recsys.user_factors WHERE model = 'ref_user_jaccard') AS user_rows;

-- The aggregate form gives the same lists as the function form
SELECT (r).algorithm, (r).users, (r).items
FROM (SELECT recsys.fit('knn_fit', u, i, r, '{"algorithm": "user_knn", "similarity": "pearson",
		"neighbors": 2, "shrinkage": 2}') AS r FROM knn_r) s;
SELECT count(*) AS users, bool_and(a.neighbor_idx = b.neighbor_idx AND a.similarity = b.similarity) AS same
FROM recsys.user_neighbors a JOIN recsys.user_neighbors b USING (user_key)
WHERE a.model = 'knn_fit' AND b.model = 'ref_user_pearson_shrunk';

-- Planted structure ------------------------------------------------------------
-- the data of sql/train_accuracy.sql: 10 item categories (the planted
-- clusters), ~10% of each user's interactions held out
SELECT relation, rows FROM recsys.generate_dataset('knn_acc', users => 2000, items => 400,
	interactions => 120000, seed => 2024, sigma => 0.5);
CREATE TABLE knn_test AS
SELECT * FROM knn_acc_interactions WHERE hashint8((user_id::bigint << 20) + item_id) % 10 = 0;
CREATE TABLE knn_train AS
SELECT * FROM knn_acc_interactions a
WHERE NOT EXISTS (SELECT 1 FROM knn_test t WHERE t.user_id = a.user_id AND t.item_id = a.item_id);
ANALYZE knn_test, knn_train;
SET work_mem = '64MB';

SELECT model, algorithm, users, items FROM recsys.train('knn_acc_item_knn', 'knn_train', 'user_id', 'item_id', NULL, 'item_knn');
SELECT model, algorithm, users, items FROM recsys.train('knn_acc_user_knn', 'knn_train', 'user_id', 'item_id', NULL, 'user_knn');
SELECT model, algorithm, users, items FROM recsys.train('knn_acc_pop', 'knn_train', 'user_id', 'item_id', NULL, 'popularity');

-- held-out recall@10 of a ranking scores(user_id, item_id, s) (training
-- items left out), brute force
CREATE FUNCTION pg_temp.recall10(scores regclass) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	r numeric;
BEGIN
	EXECUTE format($q$
		WITH ranked AS (
			SELECT s.user_id, s.item_id,
				   row_number() OVER (PARTITION BY s.user_id ORDER BY s.s DESC, s.item_id) AS r
			FROM %s s LEFT JOIN knn_train t ON t.user_id = s.user_id AND t.item_id = s.item_id
			WHERE t.user_id IS NULL)
		SELECT round(avg(coalesce(h.hits, 0)::numeric / n.n), 3)
		FROM (SELECT user_id, count(*) AS n FROM knn_test GROUP BY user_id) n
		LEFT JOIN (SELECT k.user_id, count(*) AS hits FROM ranked k JOIN knn_test t USING (user_id, item_id)
				   WHERE k.r <= 10 GROUP BY k.user_id) h USING (user_id)$q$, scores) INTO r;
	RETURN r;
END $$;

-- item_knn, implicit: score(u, i) = sum of s_ij over i's neighbours j in u's items
CREATE TEMP TABLE scores_item_knn AS
SELECT t.user_id, n.item_key::int AS item_id, sum(p.s) AS s
FROM recsys.models m
JOIN recsys.item_neighbors n ON n.model = m.name AND n.version = m.active_version,
	 unnest(n.neighbor_keys, n.similarity) AS p(j, s)
JOIN knn_train t ON t.item_id = p.j::int
WHERE m.name = 'knn_acc_item_knn'
GROUP BY 1, 2;
-- user_knn, implicit: score(u, i) = sum of s_uv over u's neighbours v who have i
CREATE TEMP TABLE scores_user_knn AS
SELECT n.user_key::int AS user_id, t.item_id, sum(p.s) AS s
FROM recsys.models m
JOIN recsys.user_neighbors n ON n.model = m.name AND n.version = m.active_version,
	 unnest(n.neighbor_keys, n.similarity) AS p(v, s)
JOIN knn_train t ON t.user_id = p.v::int
WHERE m.name = 'knn_acc_user_knn'
GROUP BY 1, 2;
CREATE TEMP TABLE scores_pop AS
SELECT u.user_id, f.item_key::int AS item_id, f.bias AS s
FROM recsys.models m JOIN recsys.item_factors f ON f.model = m.name AND f.version = m.active_version
CROSS JOIN (SELECT DISTINCT user_id FROM knn_test) u
WHERE m.name = 'knn_acc_pop';
CREATE TEMP TABLE knn_recall AS
SELECT pg_temp.recall10('scores_pop') AS popularity, pg_temp.recall10('scores_item_knn') AS item_knn,
	   pg_temp.recall10('scores_user_knn') AS user_knn;
SELECT * FROM knn_recall;
SELECT item_knn > 1.5 * popularity AS item_knn_far_above_popularity,
	   user_knn > 1.5 * popularity AS user_knn_far_above_popularity
FROM knn_recall;

-- an item's 10 nearest neighbours are in its own category (the planted
-- cluster) far more often than chance (1 in 10)
SELECT round(avg((i.category = j.category)::int), 2) AS same_category_at_10
FROM recsys.neighbors n
JOIN knn_acc_items i ON i.item_id = n.key::int
JOIN knn_acc_items j ON j.item_id = n.neighbor::int
WHERE n.model = 'knn_acc_item_knn' AND n.rank <= 10;

-- explicit feedback: the KNNBaseline-style prediction beats its own baseline
-- r^ = b_ui + sum s_ij (r_uj - b_uj) / sum |s_ij| over i's neighbours u rated
SELECT model FROM recsys.train('knn_acc_item_knn_explicit', 'knn_train', 'user_id', 'item_id', 'rating',
	'item_knn', '{"feedback": "explicit"}');
CREATE TEMP TABLE ex_model AS
SELECT v.version, v.global_mean AS mu
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
WHERE m.name = 'knn_acc_item_knn_explicit';
CREATE TEMP TABLE ex_bu AS
SELECT f.user_key::int AS user_id, f.bias FROM recsys.user_factors f JOIN ex_model v USING (version)
WHERE f.model = 'knn_acc_item_knn_explicit';
CREATE TEMP TABLE ex_bi AS
SELECT f.item_key::int AS item_id, f.bias FROM recsys.item_factors f JOIN ex_model v USING (version)
WHERE f.model = 'knn_acc_item_knn_explicit';
CREATE TEMP TABLE ex_nb AS
SELECT n.item_key::int AS item_id, p.j::int AS j, p.s
FROM recsys.item_neighbors n JOIN ex_model v USING (version),
	 unnest(n.neighbor_keys, n.similarity) AS p(j, s)
WHERE n.model = 'knn_acc_item_knn_explicit';
ANALYZE ex_bu, ex_bi, ex_nb;
CREATE TEMP TABLE knn_pred AS
SELECT t.rating, v.mu + bu.bias + bi.bias AS baseline,
	   v.mu + bu.bias + bi.bias + coalesce(d.num / nullif(d.den, 0), 0) AS knn
FROM knn_test t CROSS JOIN ex_model v
JOIN ex_bu bu USING (user_id) JOIN ex_bi bi USING (item_id)
LEFT JOIN (SELECT t.user_id, t.item_id,
				  sum(nb.s * (r.rating - v.mu - bu.bias - bj.bias)) AS num, sum(abs(nb.s)) AS den
		   FROM knn_test t CROSS JOIN ex_model v
		   JOIN ex_nb nb ON nb.item_id = t.item_id
		   JOIN knn_train r ON r.user_id = t.user_id AND r.item_id = nb.j
		   JOIN ex_bu bu ON bu.user_id = t.user_id
		   JOIN ex_bi bj ON bj.item_id = nb.j
		   GROUP BY 1, 2) d USING (user_id, item_id);
SELECT round(sqrt(avg((baseline - rating) ^ 2))::numeric, 3) AS baseline_rmse,
	   round(sqrt(avg((knn - rating) ^ 2))::numeric, 3) AS knn_rmse,
	   sqrt(avg((knn - rating) ^ 2)) < 0.9 * sqrt(avg((baseline - rating) ^ 2)) AS knn_beats_baseline
FROM knn_pred;

-- Determinism: the same lists whatever the thread count
SELECT model FROM recsys.train('knn_acc_item_knn_1', 'knn_train', 'user_id', 'item_id', NULL, 'item_knn', '{"threads": 1}');
SELECT model FROM recsys.train('knn_acc_item_knn_3', 'knn_train', 'user_id', 'item_id', NULL, 'item_knn', '{"threads": 3}');
SELECT count(*) AS items,
	   bool_and(a.neighbor_idx = b.neighbor_idx AND a.similarity = b.similarity AND a.support = b.support
				AND a.neighbor_idx = c.neighbor_idx AND a.similarity = c.similarity) AS identical
FROM recsys.item_neighbors a
JOIN recsys.item_neighbors b USING (item_key)
JOIN recsys.item_neighbors c USING (item_key)
WHERE a.model = 'knn_acc_item_knn' AND b.model = 'knn_acc_item_knn_1' AND c.model = 'knn_acc_item_knn_3';
RESET work_mem;

-- Bad input: each a clear error with its SQLSTATE ---------------------------
CREATE TABLE knn_bad_attrs (item int, vec real[], name text);
INSERT INTO knn_bad_attrs VALUES (0, '{1,2}', 'a'), (1, '{1,2,3}', 'b');
CREATE TABLE knn_dup_attrs (item int, vec real[]);
INSERT INTO knn_dup_attrs VALUES (0, '{1,2}'), (0, '{2,1}');
SELECT q, pg_temp.try(q) FROM (VALUES
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"similarity": "euclid"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"similarity": 3}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"neighbors": 0}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'user_knn', '{"neighbors": -5}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"neighbors": 1001}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"neighbors": 2.5}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"shrinkage": -1}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"min_support": 0}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"min_similarity": 1.5}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"weighting": "bm42"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"weighting": "bm25", "similarity": "pearson"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"bm25_k1": 2}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"weighting": "bm25", "bm25_b": 1.5}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"feedback": "ratings"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"iterations": 5}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"factors": 5}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'user_knn', '{"attributes": "knn_attrs"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attribute_mode": "only"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "knn_attrs", "attribute_mode": "all"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": ""}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "no_such_table"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "DELETE FROM knn_attrs RETURNING *"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "SELECT item FROM knn_attrs"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "SELECT item::text, vec FROM knn_attrs"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "SELECT item, name FROM knn_bad_attrs"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "knn_bad_attrs"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "knn_dup_attrs"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "SELECT 1, ARRAY[1, NULL]::real[]"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "SELECT 1, ARRAY[''NaN'']::real[]"}')$$),
	($$SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"attributes": "SELECT 1, ''{}''::real[]"}')$$)
) AS t(q);
-- the hint lists what is valid
SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"similarity": "euclid"}');
SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'item_knn', '{"neighbors": 0}');
SELECT recsys.train('b', 'knn_r', 'u', 'i', 'r', 'user_knn', '{"attributes": "knn_attrs"}');
-- nothing above created a model
SELECT count(*) AS models_named_b FROM recsys.models WHERE name = 'b';

-- The memory bound: a clear error, nothing stored
SET recsys.memory_limit = '4MB';
SELECT pg_temp.try($$SELECT recsys.train('knn_too_big', 'knn_train', 'user_id', 'item_id', NULL, 'user_knn', '{"neighbors": 1000}')$$);
RESET recsys.memory_limit;
SELECT count(*) AS stored FROM recsys.models WHERE name = 'knn_too_big';

-- leave no models behind for the tests that follow
SELECT count(*) AS dropped
FROM (SELECT recsys.drop_model(name) FROM recsys.models
	  WHERE name LIKE 'ref\_%' OR name LIKE 'knn\_%') s;
SELECT count(*) AS rows_left
FROM recsys.neighbors WHERE model LIKE 'ref\_%' OR model LIKE 'knn\_%';
