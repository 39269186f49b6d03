--
-- synth: the synthetic data generator (src/synth.c, doc/generator.md).
--
-- Values are rounded or turned into booleans against the tolerances that
-- doc/generator.md documents, so the test is stable yet asserts the
-- planted structure.
--
SET extra_float_digits = 0;

-- Fixed first rows: the documented vocabularies and the id conventions.
SELECT * FROM recsys.synth_users(5);
SELECT item_id, category, provider, long_tail,
       created_at >= '2020-01-01 UTC' AND created_at < '2023-01-01 UTC' AS in_period
FROM recsys.synth_items(6, 42, 10);

-- Row counts.
SELECT count(*) FROM recsys.synth_users(1000);
SELECT count(*) FROM recsys.synth_items(500);
SELECT count(*) FROM recsys.synth_interactions(1000, 500, 20000);

-- Determinism: same arguments, same rows; another seed, other rows.
SELECT (SELECT md5(string_agg(t::text, ';' ORDER BY user_id, item_id))
        FROM recsys.synth_interactions(300, 200, 5000, 7) t) =
       (SELECT md5(string_agg(t::text, ';' ORDER BY user_id, item_id))
        FROM recsys.synth_interactions(300, 200, 5000, 7) t) AS same_seed_same_rows,
       (SELECT md5(string_agg(t::text, ';' ORDER BY user_id, item_id))
        FROM recsys.synth_interactions(300, 200, 5000, 7) t) <>
       (SELECT md5(string_agg(t::text, ';' ORDER BY user_id, item_id))
        FROM recsys.synth_interactions(300, 200, 5000, 8) t) AS other_seed_other_rows;
SELECT (SELECT md5(string_agg(t::text, ';' ORDER BY user_id)) FROM recsys.synth_users(2000, 1) t) =
       (SELECT md5(string_agg(t::text, ';' ORDER BY user_id)) FROM recsys.synth_users(2000, 1) t) AS users_same,
       (SELECT md5(string_agg(t::text, ';' ORDER BY item_id)) FROM recsys.synth_items(2000, 1) t) =
       (SELECT md5(string_agg(t::text, ';' ORDER BY item_id)) FROM recsys.synth_items(2000, 1) t) AS items_same,
       (SELECT md5(string_agg(t::text, ';' ORDER BY item_id)) FROM recsys.synth_items(2000, 1) t) <>
       (SELECT md5(string_agg(t::text, ';' ORDER BY item_id)) FROM recsys.synth_items(2000, 2) t) AS items_differ;
-- A user's attributes do not depend on how many users are generated.
SELECT count(*) AS mismatches
FROM recsys.synth_users(100) a JOIN recsys.synth_users(5000) b USING (user_id)
WHERE (a.gender, a.age_band, a.region) IS DISTINCT FROM (b.gender, b.age_band, b.region);
-- Stopping early gives a prefix of the full stream.
SELECT (SELECT string_agg(t::text, ';')
        FROM (SELECT * FROM recsys.synth_interactions(300, 200, 5000) LIMIT 50) t) =
       (SELECT string_agg((u, i, r, c, ts)::text, ';' ORDER BY n)
        FROM recsys.synth_interactions(300, 200, 5000) WITH ORDINALITY AS t(u, i, r, c, ts, n)
        WHERE n <= 50) AS prefix_stable;

-- Demographic shares on 20000 users, against the documented proportions.
WITH u AS (SELECT * FROM recsys.synth_users(20000)),
s AS (SELECT kind, value, count(*)::float8 / 20000 AS share
      FROM (SELECT 'gender' AS kind, gender AS value FROM u
            UNION ALL SELECT 'age_band', age_band FROM u
            UNION ALL SELECT 'region', region FROM u) x
      GROUP BY kind, value),
want(kind, value, expected) AS (VALUES
    ('gender', 'F', 0.49), ('gender', 'M', 0.49), ('gender', 'X', 0.02),
    ('age_band', '18-24', 0.15), ('age_band', '25-34', 0.30),
    ('age_band', '35-44', 0.25), ('age_band', '45-54', 0.18),
    ('age_band', '55+', 0.12),
    ('region', 'north', 0.40), ('region', 'south', 0.30),
    ('region', 'east', 0.20), ('region', 'west', 0.10))
SELECT w.kind, w.value, w.expected,
       abs(s.share - w.expected) < greatest(0.015, 0.1 * w.expected) AS within_tolerance
FROM want w LEFT JOIN s USING (kind, value)
ORDER BY w.kind, w.value;

-- Items: categories cover the range, long tail = item_id > ceil(0.2 * items),
-- "indie" is 10% of the head and 40% of the tail.
WITH i AS (SELECT * FROM recsys.synth_items(20000, 42, 10))
SELECT count(DISTINCT category) AS categories, min(category), max(category),
       count(*) FILTER (WHERE long_tail) AS tail_items,
       bool_and(long_tail = (item_id > 4000)) AS tail_rule,
       abs(avg((provider = 'indie')::int) FILTER (WHERE NOT long_tail) - 0.10) < 0.02 AS indie_head,
       abs(avg((provider = 'indie')::int) FILTER (WHERE long_tail) - 0.40) < 0.02 AS indie_tail,
       bool_and(created_at >= '2020-01-01 UTC' AND created_at < '2023-01-01 UTC') AS created_in_period
FROM i;
SELECT count(*) FILTER (WHERE long_tail) AS tail_of_5 FROM recsys.synth_items(5);

-- Interactions: one row per pair, minimum per user, value ranges.
CREATE TEMP TABLE i1 AS SELECT * FROM recsys.synth_interactions(1000, 500, 20000);
CREATE TEMP TABLE it1 AS SELECT * FROM recsys.synth_items(500);
CREATE TEMP TABLE pr1 AS SELECT * FROM recsys.synth_user_profile(1000);
SELECT count(*) AS rows_, count(DISTINCT (user_id, item_id)) AS distinct_pairs,
       count(DISTINCT user_id) AS users, min(user_id), max(user_id),
       min(item_id) >= 1 AND max(item_id) <= 500 AS items_in_range,
       min(rating) >= 1 AND max(rating) <= 5 AS rating_in_1_5,
       min(clicks) >= 1 AS clicks_positive,
       max(ts) < '2024-01-01 UTC' AS ts_before_2024
FROM i1;
SELECT min(n) AS min_per_user, max(n) > 4 * avg(n) AS heavy_tail
FROM (SELECT user_id, count(*) AS n FROM i1 GROUP BY user_id) c;
SELECT count(*) AS before_creation FROM i1 JOIN it1 USING (item_id) WHERE ts < created_at;
-- Ratings: mean and spread as documented; clipping is rare.
SELECT round(avg(rating)::numeric, 1) AS mean_rating,
       stddev(rating) BETWEEN 0.75 AND 0.95 AS sd_ok,
       avg((rating IN (1, 5))::int) < 0.04 AS clipping_rare
FROM i1;
-- Popularity: the head (20% of items) takes about half the interactions,
-- and expected popularity falls with item_id.
SELECT round(avg((NOT long_tail)::int)::numeric, 2) AS head_share,
       sum((item_id = 1)::int) > sum((item_id = 10)::int) AS first_beats_tenth,
       sum((item_id <= 10)::int) > 5 * sum((item_id BETWEEN 491 AND 500)::int) AS head_beats_tail
FROM i1 JOIN it1 USING (item_id);
-- Planted tastes: most interactions fall in the user's favourite category
-- (chance would be about 0.1), and none of that with preference = 0.
SELECT round(avg((category = favourite_category)::int)::numeric, 2) AS in_favourite
FROM i1 JOIN it1 USING (item_id) JOIN pr1 USING (user_id);
SELECT avg((category = favourite_category)::int) < 0.2 AS near_chance
FROM recsys.synth_interactions(1000, 500, 20000, preference => 0) x
JOIN it1 USING (item_id) JOIN pr1 USING (user_id);
-- Favourite categories also rate higher and click more.
SELECT avg(rating) FILTER (WHERE category = favourite_category) >
       avg(rating) FILTER (WHERE category <> favourite_category) + 0.3 AS rates_favourites_higher,
       avg(clicks) FILTER (WHERE category = favourite_category) >
       avg(clicks) FILTER (WHERE category <> favourite_category) AS clicks_favourites_more
FROM i1 JOIN it1 USING (item_id) JOIN pr1 USING (user_id);
SELECT count(*) FILTER (WHERE second_category IS NOT NULL) BETWEEN 450 AND 550 AS half_have_two,
       bool_and(second_category IS DISTINCT FROM favourite_category) AS distinct_favourites,
       bool_and(affinity BETWEEN 0.5 AND 1) AS affinity_range
FROM pr1;

-- Noise: residuals against the noise-free score have sd sigma; the noisy
-- group gets noisy_sigma; the signal is clearly stronger than sigma = 0.5.
SELECT round(sqrt(avg((rating - recsys.synth_truth(user_id, item_id))^2))::numeric, 2) AS rmse_vs_truth,
       stddev(recsys.synth_truth(user_id, item_id)) > 0.6 AS signal_sd_above_sigma
FROM i1;
SELECT gender,
       round(sqrt(avg((rating - recsys.synth_truth(user_id, item_id, 5))^2))::numeric, 1) AS rmse_vs_truth
FROM recsys.synth_interactions(1000, 500, 20000, 5, noisy_gender => 'F', noisy_sigma => 1.0)
JOIN recsys.synth_users(1000, 5) USING (user_id)
WHERE gender <> 'X'
GROUP BY gender ORDER BY gender;
SELECT round(sqrt(avg((rating - recsys.synth_truth(user_id, item_id, 42, 10, 8))^2))::numeric, 2) AS rmse_sigma0
FROM recsys.synth_interactions(200, 100, 2000, sigma => 0);

-- Dense corners: counts are capped at the catalogue and still sum exactly.
SELECT count(*), count(DISTINCT (user_id, item_id)), max(n) AS max_per_user
FROM (SELECT *, count(*) OVER (PARTITION BY user_id) AS n
      FROM recsys.synth_interactions(10, 10, 95)) x;
SELECT count(*), count(DISTINCT (user_id, item_id)) FROM recsys.synth_interactions(5, 4, 20);
-- Fewer interactions than users: no minimum, some users get none.
SELECT count(*), count(DISTINCT user_id) <= 30 AS ok FROM recsys.synth_interactions(100, 50, 30);
-- Categories may outnumber items; empty favourite categories fall back to popularity.
SELECT count(*) FROM recsys.synth_interactions(50, 5, 100, categories => 20);

-- Bad input.
SELECT * FROM recsys.synth_users(0);
SELECT * FROM recsys.synth_items(-1);
SELECT * FROM recsys.synth_items(10, 42, 0);
SELECT * FROM recsys.synth_interactions(0, 10, 10);
SELECT * FROM recsys.synth_interactions(10, 0, 10);
SELECT * FROM recsys.synth_interactions(10, 10, 0);
SELECT * FROM recsys.synth_interactions(10, 10, 101);
SELECT * FROM recsys.synth_interactions(10, 10, 10, categories => 10001);
SELECT * FROM recsys.synth_interactions(10, 10, 10, factors => 0);
SELECT * FROM recsys.synth_interactions(10, 10, 10, sigma => -0.1);
SELECT * FROM recsys.synth_interactions(10, 10, 10, sigma => 'NaN');
SELECT * FROM recsys.synth_interactions(10, 10, 10, noisy_sigma => 'Infinity');
SELECT * FROM recsys.synth_interactions(10, 10, 10, noisy_gender => 'female');
SELECT * FROM recsys.synth_interactions(10, 10, 10, preference => 1.5);
SELECT * FROM recsys.synth_interactions(10, 10, 10, seed => NULL);
SELECT recsys.synth_truth(0, 1);
SELECT * FROM recsys.synth_user_profile(10, 42, 0);
-- STRICT functions give no rows for NULL input.
SELECT count(*) FROM recsys.synth_users(NULL);

-- generate_dataset: quoted names, primary keys, row counts, statistics.
SELECT relation, rows FROM recsys.generate_dataset('my "odd" set', 200, 100, 3000, seed => 3);
SELECT count(*) FROM "my ""odd"" set_interactions";
SELECT conrelid::regclass, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE contype = 'p' AND conrelid::regclass::text LIKE '%odd%'
ORDER BY 1;
SELECT count(DISTINCT tablename) AS analyzed_tables FROM pg_stats WHERE tablename LIKE 'my "odd" set%';
-- The tables hold exactly what the functions return.
SELECT (SELECT md5(string_agg(t::text, ';' ORDER BY user_id, item_id)) FROM "my ""odd"" set_interactions" t) =
       (SELECT md5(string_agg(t::text, ';' ORDER BY user_id, item_id)) FROM recsys.synth_interactions(200, 100, 3000, 3) t)
       AS table_matches_function;
SELECT * FROM recsys.generate_dataset('my "odd" set', 10, 10, 10);
SELECT * FROM recsys.generate_dataset('');
SELECT * FROM recsys.generate_dataset(repeat('x', 60));
DROP TABLE "my ""odd"" set_users", "my ""odd"" set_items", "my ""odd"" set_interactions";
-- An injection attempt is just an odd table name.
SELECT relation FROM recsys.generate_dataset('t; DROP TABLE pg_class; --', 5, 5, 10);
DROP TABLE "t; DROP TABLE pg_class; --_users", "t; DROP TABLE pg_class; --_items",
           "t; DROP TABLE pg_class; --_interactions";

-- Every generator is documented.
SELECT p.proname, obj_description(p.oid, 'pg_proc') IS NOT NULL AS has_comment
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'recsys' AND (p.proname LIKE 'synth%' OR p.proname = 'generate_dataset')
ORDER BY 1;
