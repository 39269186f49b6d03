--
-- On a distributed PostgreSQL (Citus), the parts of a query pushed down to
-- the shards run on the worker nodes over connections Citus marks with
-- application_name "citus_internal gpid=...", and a worker's recsys
-- catalog is empty.  recsys refuses to reach its catalog in such a task
-- (0A000, with a hint) instead of finding no model or storing one nobody
-- reads: serving, training, retraining and fit() alike.  The marker is set
-- by hand here, as Citus sets it.
--
SET search_path = public, recsys;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT relation, rows FROM recsys.generate_dataset('ds', users => 40, items => 20,
	interactions => 400, seed => 3);
SELECT model, version FROM recsys.train('ds_m', 'ds_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 2, "iterations": 2, "seed": 1}');
-- served (and cached in this backend) before
SELECT count(*) AS served FROM recsys.recommend('ds_m', 1, 5);

SET application_name = 'citus_internal gpid=10000000001';
SELECT pg_temp.try($$SELECT count(*) FROM recsys.recommend('ds_m', 1, 5)$$) AS recommend;
SELECT pg_temp.try($$SELECT recsys.predict('ds_m', 1, 2)$$) AS predict;
SELECT pg_temp.try($$SELECT count(*) FROM recsys.similar_items('ds_m', 2, 5)$$) AS similar_items;
-- a worker's catalog has no model at all: still this refusal, not 42704
SELECT pg_temp.try($$SELECT count(*) FROM recsys.recommend('ds_elsewhere', 1, 5)$$) AS recommend_unknown;
SELECT pg_temp.try($$SELECT recsys.has_model_privilege('ds_elsewhere')$$) AS has_model_privilege;
SELECT pg_temp.try($$SELECT count(*) FROM recsys.evaluate('ds_elsewhere', 'ds_interactions', 5)$$) AS evaluate;
SELECT pg_temp.try($$SELECT recsys.train('ds_new', 'ds_interactions', 'user_id', 'item_id', 'clicks', 'ials')$$) AS train;
SELECT pg_temp.try($$SELECT recsys.retrain('ds_m')$$) AS retrain;
-- fit() grouped by the user, as a query grouped by the distribution
-- column runs on a shard: refused before a row is read
SELECT pg_temp.try($$SELECT (recsys.fit('ds_g' || user_id, user_id, item_id, clicks, '{"algorithm": "popularity"}')).model
	FROM ds_interactions GROUP BY user_id$$) AS fit;
SELECT count(*) FROM recsys.recommend('ds_m', 1, 5);
RESET application_name;

-- nothing was written; the model serves as before
SELECT name FROM recsys.models WHERE name LIKE 'ds%' ORDER BY 1;
SELECT count(*) AS versions FROM recsys.model_versions WHERE model = 'ds_m';
SELECT count(*) AS served FROM recsys.recommend('ds_m', 1, 5);
-- only the marker's prefix is a task: other names, Citus's own for a
-- command a user runs on the workers among them, are not
SET application_name = 'reporting, not citus_internal gpid=1';
SELECT count(*) AS served FROM recsys.recommend('ds_m', 1, 5);
SET application_name = 'citus_run_command gpid=10000000001';
SELECT count(*) AS served FROM recsys.recommend('ds_m', 1, 5);
RESET application_name;
SELECT recsys.drop_model('ds_m');
