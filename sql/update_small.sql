--
-- update() on a tiny model, every way it returns (a new version; nothing
-- new; only items the version does not have), for each kind of model it
-- extends.  Small enough to run under valgrind (scripts/sanitize.sh): the
-- result row must not be made in memory that SPI frees on the way out.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

CREATE TABLE us_src (u integer, i integer, r real, t timestamptz);
INSERT INTO us_src
SELECT u, i, 1 + (u * 7 + i * 3) % 5, timestamptz '2024-01-01 00:00+00' + (u * 13 + i) * interval '1 minute'
FROM generate_series(1, 12) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;

SELECT m, t.version, t.users, t.items FROM unnest(ARRAY['als', 'svd', 'ials', 'bpr', 'popularity', 'item_knn']) m,
	LATERAL recsys.train('us_' || m, 'us_src', 'u', 'i', 'r', m,
		'{"time_column": "t", "factors": 2, "iterations": 2, "seed": 1}'::jsonb
		- CASE WHEN m IN ('popularity', 'item_knn') THEN ARRAY['factors', 'iterations', 'seed'] ELSE '{}' END) t
ORDER BY m;

INSERT INTO us_src VALUES (1, 3, 4, '2025-01-01'), (13, 1, 5, '2025-01-01'), (13, 2, 3, '2025-01-01');
SELECT m, u.version, u.users, u.items, u.interactions, u.skipped, u.final_loss
FROM unnest(ARRAY['als', 'svd', 'ials', 'bpr', 'popularity', 'item_knn']) m,
	LATERAL recsys.update('us_' || m) u ORDER BY m;
-- nothing new
SELECT version, users, interactions FROM recsys.update('us_ials');
-- only an item the version does not have
INSERT INTO us_src VALUES (2, 99, 4, '2025-02-01');
SELECT version, users, skipped FROM recsys.update('us_ials');
-- the new user is served from the stored vector
SELECT count(*) AS items FROM recsys.recommend('us_ials', 13, 3);

SELECT recsys.drop_model('us_' || m) FROM unnest(ARRAY['als', 'svd', 'ials', 'bpr', 'popularity', 'item_knn']) m;
DROP TABLE us_src;
