-- test/bench/implicit_accuracy.sql: NDCG@10 and recall@10 of every
-- implicit model at its defaults, on a per-user 75/25 split of three
-- generator data sets: the movielens preset (943 x 1682 x 100k) and two
-- planted ones (2000 users x 400 items x 120k interactions, the data of
-- sql/train_accuracy.sql; 6000 x 3000 x 180k).  A measurement, not a
-- test: the numbers are reported in the README and doc/training.md.
--
--   psql -X -d DB -f test/bench/implicit_accuracy.sql
--
-- DB: a database with recsys installed, where tables ia_* and models ia_*
-- may be created (and are dropped at the end).  The models are trained on
-- the interactions without a value column (binary), the test sets hold
-- every held-out interaction (recsys.split(method => 'per_user',
-- test_fraction => 0.25, seed => 42)).  About a minute on 2 cores.
--
-- On the preset users rate more often what they like (doc/generator.md,
-- "What is planted", step 3), so which items a user rated carries their
-- taste, as on the real data.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

DROP TABLE IF EXISTS ia_results;
CREATE TABLE ia_results (data text, algorithm text, ndcg double precision,
						 recall double precision, seconds double precision);

CREATE FUNCTION pg_temp.ia_measure(data text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	a text;
	t double precision;
BEGIN
	PERFORM recsys.split('ia_' || data || '_interactions', 'user_id', 'item_id', method => 'per_user',
						 test_fraction => 0.25, seed => 42,
						 train_table => 'ia_train', test_table => 'ia_test');
	FOREACH a IN ARRAY ARRAY['popularity', 'item_knn', 'user_knn', 'ials', 'bpr', 'ease'] LOOP
		SELECT r.seconds INTO t
		FROM recsys.train('ia_' || a, 'ia_train', 'user_id', 'item_id', NULL, a) r;
		INSERT INTO ia_results
		SELECT data, a,
			   (SELECT value FROM recsys.evaluate('ia_' || a, 'ia_test', metrics => ARRAY['ndcg'])),
			   (SELECT value FROM recsys.evaluate('ia_' || a, 'ia_test', metrics => ARRAY['recall'])),
			   t;
		PERFORM recsys.drop_model('ia_' || a);
	END LOOP;
	DROP TABLE ia_train, ia_test;
END
$$;

SELECT relation, rows FROM recsys.generate_dataset('ia_preset', preset => 'movielens');
SELECT pg_temp.ia_measure('preset');
SELECT relation, rows FROM recsys.generate_dataset('ia_dense', users => 2000, items => 400,
	interactions => 120000, seed => 2024, sigma => 0.5);
SELECT pg_temp.ia_measure('dense');
SELECT relation, rows FROM recsys.generate_dataset('ia_sparse', users => 6000, items => 3000,
	interactions => 180000, seed => 7);
SELECT pg_temp.ia_measure('sparse');

SELECT algorithm,
	   round(max(ndcg) FILTER (WHERE data = 'dense')::numeric, 3) AS "planted dense NDCG@10",
	   round(max(recall) FILTER (WHERE data = 'dense')::numeric, 3) AS "recall@10",
	   round(max(ndcg) FILTER (WHERE data = 'sparse')::numeric, 3) AS "planted sparse NDCG@10",
	   round(max(recall) FILTER (WHERE data = 'sparse')::numeric, 3) AS "recall@10 ",
	   round(max(ndcg) FILTER (WHERE data = 'preset')::numeric, 3) AS "preset NDCG@10",
	   round(max(recall) FILTER (WHERE data = 'preset')::numeric, 3) AS " recall@10",
	   round(sum(seconds)::numeric, 1) AS "train s (all three)"
FROM ia_results GROUP BY algorithm
ORDER BY max(ndcg) FILTER (WHERE data = 'dense') DESC;

DROP TABLE ia_results, ia_preset_users, ia_preset_items, ia_preset_interactions,
	ia_dense_users, ia_dense_items, ia_dense_interactions,
	ia_sparse_users, ia_sparse_items, ia_sparse_interactions;
