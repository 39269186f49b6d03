-- The movielens preset of the generator: MovieLens-100k's marginals
-- (doc/generator.md, "The movielens preset"), determinism, bad input.

SELECT * FROM recsys.synth_preset('movielens');
SELECT relation, rows FROM recsys.generate_dataset('ml', preset => 'movielens');

-- sizes: 943 users, 1682 items, 100,000 distinct (user, item) ratings,
-- every user and every item in the interactions
SELECT (SELECT count(*) FROM ml_users) AS users,
	   (SELECT count(*) FROM ml_items) AS items,
	   count(*) AS ratings,
	   count(DISTINCT user_id) AS raters,
	   count(DISTINCT item_id) AS rated_items,
	   count(DISTINCT (user_id, item_id)) AS pairs
FROM ml_interactions;

-- whole stars only, each star's share within 0.5 percentage point
SELECT count(*) FILTER (WHERE rating NOT IN (1, 2, 3, 4, 5)) AS not_a_star
FROM ml_interactions;
SELECT s.stars, s.share,
	   abs(100.0 * count(i.rating) / 100000 - s.share) <= 0.5 AS share_ok
FROM (VALUES (1, 6.1), (2, 11.4), (3, 27.1), (4, 34.2), (5, 21.2)) s(stars, share)
LEFT JOIN ml_interactions i ON i.rating = s.stars
GROUP BY s.stars, s.share ORDER BY s.stars;
-- mean 3.53 +- 0.02, sd 1.13 +- 0.03
SELECT abs(avg(rating) - 3.53) <= 0.02 AS mean_ok,
	   abs(stddev_pop(rating) - 1.13) <= 0.03 AS sd_ok
FROM ml_interactions;

-- users: at least 20 ratings each, at most 737 (MovieLens-100k's most
-- active user), the median user between 50 and 90
SELECT min(n) >= 20 AS min_ok, max(n) <= 737 AS max_ok,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY n) BETWEEN 50 AND 90 AS median_ok
FROM (SELECT user_id, count(*) AS n FROM ml_interactions GROUP BY user_id) u;

-- items: the most rated within 575-590 (583 planted), the median item
-- within 25-30 (27 in MovieLens-100k), 100-180 items rated once (141),
-- and item 1 is the most rated (ids are popularity ranks)
SELECT max(n) BETWEEN 575 AND 590 AS max_ok,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY n) BETWEEN 25 AND 30 AS median_ok,
	   count(*) FILTER (WHERE n = 1) BETWEEN 100 AND 180 AS once_ok,
	   (array_agg(item_id ORDER BY n DESC, item_id))[1] AS most_rated
FROM (SELECT item_id, count(*) AS n FROM ml_interactions GROUP BY item_id) i;

-- planted structure: popular items are rated higher (corr(b_i, log
-- popularity) = 0.4), and user and item means spread far beyond what
-- noise alone would give
SELECT corr(ln(n), m) BETWEEN 0.2 AND 0.6 AS popular_rated_higher
FROM (SELECT item_id, count(*) AS n, avg(rating) AS m FROM ml_interactions GROUP BY item_id) i;
SELECT stddev_pop(m) BETWEEN 0.3 AND 0.7 AS user_means_spread
FROM (SELECT user_id, avg(rating) AS m FROM ml_interactions GROUP BY user_id) u;

-- determinism: the table is the stream of seed 42; same seed, same rows,
-- another seed, other rows
SELECT (SELECT md5(string_agg(concat_ws(',', user_id, item_id, rating, clicks, ts), ';'
							  ORDER BY user_id, item_id))
		FROM ml_interactions)
	 = (SELECT md5(string_agg(concat_ws(',', user_id, item_id, rating, clicks, ts), ';'
							  ORDER BY user_id, item_id))
		FROM recsys.synth_preset_interactions('movielens', 42)) AS same_seed_same_rows;
SELECT (SELECT md5(string_agg(concat_ws(',', user_id, item_id, rating), ';'
							  ORDER BY user_id, item_id))
		FROM recsys.synth_preset_interactions('movielens', 42))
	<> (SELECT md5(string_agg(concat_ws(',', user_id, item_id, rating), ';'
							  ORDER BY user_id, item_id))
		FROM recsys.synth_preset_interactions('movielens', 7)) AS other_seed_other_rows;
-- another seed keeps the marginals exactly
SELECT rating, count(*) FROM recsys.synth_preset_interactions('movielens', 7)
GROUP BY rating ORDER BY rating;
-- the users and items tables are those of synth_users / synth_items
SELECT (SELECT count(*) FROM ml_users u JOIN recsys.synth_users(943, 42) s USING (user_id, gender, age_band, region)) AS users_match,
	   (SELECT count(*) FROM ml_items i JOIN recsys.synth_items(1682, 42, 10) s USING (item_id, category, provider, long_tail, created_at)) AS items_match;
-- a rating never comes before its item exists
SELECT count(*) AS before_item
FROM ml_interactions r JOIN ml_items i USING (item_id) WHERE r.ts < i.created_at;

-- bad input: the error's SQLSTATE, message and hint
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	hint text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || ' (hint: ' || hint || ')';
END
$$;
SELECT pg_temp.try($$SELECT * FROM recsys.generate_dataset('preset_bad', preset => 'imdb')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.generate_dataset('preset_bad', preset => '')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.generate_dataset('preset_bad', preset => 'MovieLens')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.synth_preset_interactions('ml-100k')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.synth_preset('nope')$$);
-- a preset fixes every parameter but the seed: others are refused
SELECT pg_temp.try($$SELECT * FROM recsys.generate_dataset('preset_bad', users => 5, preset => 'movielens')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.generate_dataset('preset_bad', items => 50, interactions => 200, sigma => 1, preset => 'movielens')$$);
SELECT pg_temp.try($$SELECT * FROM recsys.generate_dataset('preset_bad', noisy_gender => 'F', zipf => 0.5, preset => 'movielens')$$);
-- nothing was created by the refused calls
SELECT count(*) AS bad_tables FROM pg_class WHERE relname LIKE 'preset\_bad\_%';
-- NULL preset: the ordinary generator
SELECT relation, rows FROM recsys.generate_dataset('small', 20, 10, 50, preset => NULL);
-- STRICT: NULL in, nothing out
SELECT count(*) FROM recsys.synth_preset_interactions(NULL);
SELECT * FROM recsys.synth_preset(NULL);

DROP TABLE ml_users, ml_items, ml_interactions, small_users, small_items, small_interactions;
