-- scripts/demo.sql — what recsys can do today, on generated sample data.
--
-- Run by scripts/demo.sh against a fresh database:
--   psql -X -v ON_ERROR_STOP=1 -f scripts/demo.sql
-- Sections: the sample data, the embedding type, training and the catalog,
-- recommendations (with a re-ranking constraint, fold-in, similar items),
-- then a held-out evaluation and fairness audits.

\set QUIET on
\pset pager off
\pset null '∅'
SET search_path = public, recsys;
SET client_min_messages = warning;

\echo
\echo '================================================================'
\echo ' 1. recsys and its sample data'
\echo '================================================================'
CREATE EXTENSION recsys;
SELECT extname, extversion, extnamespace::regnamespace AS schema
FROM pg_extension WHERE extname = 'recsys';

\echo 'generate_dataset: users with demographic groups, items with categories and'
\echo 'providers, and interactions drawn from planted low-rank preferences:'
\timing on
SELECT * FROM recsys.generate_dataset('demo', users => 2000, items => 800,
                                      interactions => 60000, seed => 42);
\timing off

SELECT c.relname AS "table", c.reltuples::bigint AS "rows",
       pg_size_pretty(pg_total_relation_size(c.oid)) AS size
FROM pg_class c
WHERE c.relname IN ('demo_users', 'demo_items', 'demo_interactions')
  AND c.relnamespace = 'public'::regnamespace
ORDER BY pg_total_relation_size(c.oid);

SELECT * FROM demo_users ORDER BY user_id LIMIT 5;
SELECT * FROM demo_items ORDER BY item_id LIMIT 5;
SELECT * FROM demo_interactions ORDER BY user_id, item_id LIMIT 5;

\echo
\echo '================================================================'
\echo ' 2. Ratings by user group and by item group'
\echo '================================================================'
SELECT u.gender, count(*) AS interactions, count(DISTINCT u.user_id) AS users,
       round(avg(i.rating)::numeric, 3) AS mean_rating,
       round(stddev(i.rating)::numeric, 3) AS sd_rating
FROM demo_interactions i JOIN demo_users u USING (user_id)
GROUP BY u.gender ORDER BY u.gender;

SELECT u.age_band, count(*) AS interactions,
       round(avg(i.rating)::numeric, 3) AS mean_rating,
       round(avg(i.clicks)::numeric, 2) AS mean_clicks
FROM demo_interactions i JOIN demo_users u USING (user_id)
GROUP BY u.age_band ORDER BY u.age_band;

\echo 'Popularity is skewed: the long tail of the catalogue gets a small share of'
\echo 'the interactions (this is what exposure-fairness audits will look at):'
SELECT it.long_tail,
       count(DISTINCT it.item_id) AS items,
       round(100.0 * count(DISTINCT it.item_id)
             / sum(count(DISTINCT it.item_id)) OVER (), 1) AS pct_of_catalogue,
       count(i.item_id) AS interactions,
       round(100.0 * count(i.item_id) / sum(count(i.item_id)) OVER (), 1) AS pct_of_interactions,
       round(avg(i.rating)::numeric, 3) AS mean_rating
FROM demo_items it LEFT JOIN demo_interactions i USING (item_id)
GROUP BY it.long_tail ORDER BY it.long_tail;

SELECT it.provider, count(*) AS interactions,
       round(avg(i.rating)::numeric, 3) AS mean_rating
FROM demo_interactions i JOIN demo_items it USING (item_id)
GROUP BY it.provider ORDER BY it.provider;

\echo
\echo '================================================================'
\echo ' 3. The embedding type'
\echo '================================================================'
SELECT '[1,2,3]'::embedding <-> '[3,2,1]' AS l2_distance,
       '[1,2,3]'::embedding <#> '[3,2,1]' AS neg_inner_product,
       '[1,2,3]'::embedding <=> '[3,2,1]' AS cosine_distance,
       '[1,2,3]'::embedding + '[3,2,1]' AS sum,
       '[1,2,3]'::embedding * 0.5 AS scaled,
       recsys.l2_normalize('[3,4]') AS normalized,
       recsys.norm('[3,4]') AS norm;

\echo 'Taste of a user: the share of their interactions in each category.'
\echo 'Embeddings are built from arrays (here real[] -> embedding):'
CREATE TABLE demo_categories AS
SELECT category, row_number() OVER (ORDER BY category) AS k
FROM (SELECT DISTINCT category FROM demo_items) c;

CREATE TABLE demo_user_taste AS
SELECT u.user_id,
       array_agg(coalesce(s.share, 0)::real ORDER BY c.k)::embedding AS taste
FROM (SELECT DISTINCT user_id FROM demo_interactions) u
CROSS JOIN demo_categories c
LEFT JOIN (SELECT i.user_id, it.category,
                  count(*)::float8 / sum(count(*)) OVER (PARTITION BY i.user_id) AS share
           FROM demo_interactions i JOIN demo_items it USING (item_id)
           GROUP BY i.user_id, it.category) s
       ON s.user_id = u.user_id AND s.category = c.category
GROUP BY u.user_id;

SELECT user_id, dims(taste) AS dims, round(norm(taste)::numeric, 3) AS norm,
       CASE WHEN length(taste::text) > 60 THEN left(taste::text, 59) || '…'
            ELSE taste::text END AS taste
FROM demo_user_taste ORDER BY user_id LIMIT 5;

\echo 'An item embedding: recsys.avg() of the tastes of the users who chose it.'
CREATE TABLE demo_item_embedding AS
SELECT i.item_id, recsys.avg(t.taste) AS embedding, count(*) AS users
FROM demo_interactions i JOIN demo_user_taste t USING (user_id)
GROUP BY i.item_id;

\echo 'A category centroid: recsys.avg() of its items'' embeddings, centred on the'
\echo 'mean item (embedding - embedding) so that popularity does not dominate:'
CREATE TABLE demo_category_centroid AS
SELECT it.category,
       recsys.avg(e.embedding) - (SELECT recsys.avg(embedding) FROM demo_item_embedding) AS centroid,
       count(*) AS items
FROM demo_item_embedding e JOIN demo_items it USING (item_id)
GROUP BY it.category;

\echo 'The nearest other category by cosine distance (<=>), with the L2 distance'
\echo '(<->); distances near 1 say the categories are unrelated to each other:'
SELECT a.category, n.category AS nearest,
       round(n.cosine_distance::numeric, 4) AS cosine_distance,
       round(n.l2_distance::numeric, 4) AS l2_distance
FROM demo_category_centroid a
CROSS JOIN LATERAL (
    SELECT b.category, a.centroid <=> b.centroid AS cosine_distance,
           a.centroid <-> b.centroid AS l2_distance
    FROM demo_category_centroid b
    WHERE b.category <> a.category
    ORDER BY a.centroid <=> b.centroid
    LIMIT 1) n
ORDER BY a.category;

\echo 'The embeddings carry the catalogue structure: of the 20 items nearest to each'
\echo 'category centroid (<=> on centred item embeddings), how many are in the category:'
SELECT c.category, c.items, count(*) FILTER (WHERE it.category = c.category) AS of_nearest_20
FROM demo_category_centroid c
CROSS JOIN LATERAL (
    SELECT e.item_id
    FROM demo_item_embedding e
    ORDER BY (e.embedding - (SELECT recsys.avg(embedding) FROM demo_item_embedding)) <=> c.centroid,
             e.item_id
    LIMIT 20) near
JOIN demo_items it USING (item_id)
GROUP BY c.category, c.items
ORDER BY c.category;

SELECT min(user_id) AS demo_user FROM demo_user_taste \gset
\echo 'Users with the most similar taste to user' :demo_user '(L2 distance <->):'
SELECT t.user_id, round((t.taste <-> me.taste)::numeric, 4) AS l2_distance,
       round(cosine_similarity(t.taste, me.taste)::numeric, 4) AS cosine_similarity
FROM demo_user_taste t, demo_user_taste me
WHERE me.user_id = :demo_user AND t.user_id <> me.user_id
ORDER BY t.taste <-> me.taste
LIMIT 5;

\echo 'A hand-made recommendation for user' :demo_user '- the unseen items whose'
\echo 'embedding is closest to the user''s taste:'
SELECT e.item_id, it.category, e.users,
       round((me.taste <=> e.embedding)::numeric, 4) AS cosine_distance
FROM demo_item_embedding e
JOIN demo_items it USING (item_id)
CROSS JOIN demo_user_taste me
WHERE me.user_id = :demo_user
  AND NOT EXISTS (SELECT 1 FROM demo_interactions x
                  WHERE x.user_id = me.user_id AND x.item_id = e.item_id)
ORDER BY me.taste <=> e.embedding, e.item_id
LIMIT 5;

\echo 'recsys.sum() and recsys.avg() of every user''s taste (parallel-safe aggregates):'
SELECT dims(recsys.sum(taste)) AS dims, round(norm(recsys.sum(taste))::numeric, 2) AS norm_of_sum,
       round(norm(recsys.avg(taste))::numeric, 4) AS norm_of_mean,
       count(*) AS users
FROM demo_user_taste;

-- Training ---------------------------------------------------------------------
\echo
\echo '== Training: matrix factorisation from the interaction table =='
\echo 'Explicit ratings with ALS (a NOTICE per iteration with verbose):'
SELECT model, version, algorithm, users, items, interactions, round(seconds::numeric, 2) AS seconds,
       round(final_loss::numeric, 4) AS final_loss
FROM recsys.train('demo_als', 'demo_interactions', 'user_id', 'item_id', 'rating', 'als',
                  '{"factors": 16, "iterations": 8, "verbose": true}');
\echo 'Implicit feedback (clicks) with iALS, and the popularity baseline:'
SELECT model, version, algorithm, users, items, interactions, round(seconds::numeric, 2) AS seconds
FROM recsys.train('demo_ials', 'demo_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                  '{"factors": 16}');
SELECT model, version, algorithm, items FROM recsys.train('demo_pop', 'demo_interactions', 'user_id', 'item_id', NULL, 'popularity');
\echo 'One model per region with the aggregate form:'
SELECT (r).model, (r).users, (r).interactions
FROM (SELECT recsys.fit('demo_region_' || u.region, i.user_id, i.item_id, i.rating,
                        '{"algorithm": "als", "factors": 8}') AS r
      FROM demo_interactions i JOIN demo_users u USING (user_id)
      GROUP BY u.region) s
ORDER BY 1;
\echo 'The catalog (plain tables):'
SELECT name, algorithm, active_version, user_key_type, item_key_type FROM recsys.models ORDER BY name;
SELECT model, version, params->>'factors' AS factors, interactions, duplicates,
       pg_size_pretty(memory_bytes) AS memory, cardinality(loss_history) AS iterations
FROM recsys.model_versions ORDER BY model, version;

\echo 'Predicted ratings for user' :demo_user '- its best-rated unseen items under ALS:'
SELECT it.item_id, it.category, round(recsys.predict('demo_als', :demo_user, it.item_id)::numeric, 2) AS predicted_rating
FROM demo_items it
WHERE NOT EXISTS (SELECT 1 FROM demo_interactions x WHERE x.user_id = :demo_user AND x.item_id = it.item_id)
ORDER BY recsys.predict('demo_als', :demo_user, it.item_id) DESC, it.item_id
LIMIT 5;
\echo 'The planted truth agrees: the true scores of those items vs the user''s average true score:'
SELECT round(avg(recsys.synth_truth(:demo_user, item_id, 42)) FILTER (WHERE rk <= 5)::numeric, 2) AS top5_true_score,
       round(avg(recsys.synth_truth(:demo_user, item_id, 42))::numeric, 2) AS all_items_true_score
FROM (SELECT it.item_id, row_number() OVER (ORDER BY recsys.predict('demo_als', :demo_user, it.item_id) DESC) AS rk
      FROM demo_items it) s;

\echo 'Retraining adds a version and switches to it atomically:'
SELECT model, version FROM recsys.retrain('demo_als');
SELECT name, active_version FROM recsys.models WHERE name = 'demo_als';

\echo
\echo '== Recommendations =='
\echo 'Top 5 for user' :demo_user 'under iALS (items the user interacted with are left out):'
SELECT r.item AS item_id, it.category, round(r.score::numeric, 3) AS score, r.rank
FROM recsys.recommend('demo_ials', :demo_user, 5) r JOIN demo_items it ON it.item_id = r.item
ORDER BY r.rank;
\echo 'The same, at most one item per category (a re-ranking constraint):'
SELECT r.item AS item_id, it.category, round(r.score::numeric, 3) AS score, r.rank
FROM recsys.recommend('demo_ials', :demo_user, 5, item_groups => 'SELECT item_id, category FROM demo_items',
                      max_per_group => 1) r JOIN demo_items it ON it.item_id = r.item
ORDER BY r.rank;
\echo 'A brand-new session described by three items it viewed (fold-in):'
SELECT item, round(score::numeric, 3) AS score, rank
FROM recsys.recommend_for_items('demo_ials', ARRAY[1, 2, 3], 5);
\echo 'Items similar to item 1 (cosine of the factors):'
SELECT item, round(similarity::numeric, 3) AS similarity, rank FROM recsys.similar_items('demo_ials', 1, 5);

\echo
\echo '== Evaluation and fairness audits =='
\echo 'Hold out 20% of each user''s interactions, train on the rest:'
SELECT * FROM recsys.split('demo_interactions', 'user_id', 'item_id', method => 'per_user',
                           test_fraction => 0.2, seed => 7,
                           train_table => 'demo_train', test_table => 'demo_test');
SELECT model, version FROM recsys.train('demo_eval_als', 'demo_train', 'user_id', 'item_id', 'rating', 'als');
SELECT model, version FROM recsys.train('demo_eval_ials', 'demo_train', 'user_id', 'item_id', 'clicks', 'ials');
SELECT model, version FROM recsys.train('demo_eval_pop', 'demo_train', 'user_id', 'item_id', NULL, 'popularity');
\echo 'Held-out accuracy and ranking quality at k = 10 (iALS against the popularity baseline):'
SELECT e.metric, round(e.value::numeric, 4) AS ials, round(p.value::numeric, 4) AS popularity
FROM recsys.evaluate('demo_eval_ials', 'demo_test', 10) e
JOIN recsys.evaluate('demo_eval_pop', 'demo_test', 10) p USING (metric)
WHERE e.metric IN ('precision', 'recall', 'ndcg', 'hit_rate', 'coverage')
ORDER BY e.metric;
\echo 'Is the rating error of ALS the same for every age band?  (one-way ANOVA, Kruskal-Wallis)'
SELECT group_key AS age_band, n, round(rmse::numeric, 3) AS rmse, round(mean_error::numeric, 3) AS mean_error,
       round(anova_f::numeric, 2) AS anova_f, round(anova_p::numeric, 4) AS anova_p,
       round(kruskal_p::numeric, 4) AS kruskal_p
FROM recsys.audit_error('demo_eval_als', 'demo_test', 'SELECT user_id, age_band FROM demo_users')
ORDER BY group_key;
\echo 'Whose items get shown?  Long-tail items'' share of everyone''s top 10 against their share of the catalogue:'
SELECT item_group AS long_tail, metric, round(value::numeric, 3) AS value
FROM recsys.audit_exposure('demo_eval_ials', 'SELECT item_id, long_tail FROM demo_items', 10)
WHERE metric IN ('exposure_share', 'catalogue_share', 'interaction_share') ORDER BY 1, 2;
