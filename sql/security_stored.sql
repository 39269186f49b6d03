--
-- Security: a query stored by one role runs, later, only as that role.
-- A model's stored source (and item_knn's attributes) runs on retrain and
-- on fold-in of a new user as the model's owner, under
-- SECURITY_RESTRICTED_OPERATION, with the search_path the owner trained
-- with (pg_temp last) -- never with the rights or the search_path of the
-- role that triggers it, as PostgreSQL runs a materialized view's query
-- on REFRESH.  Models are owned by role OID.
--
SET extra_float_digits = 0;

CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- the victim's secret, readable by the superuser only
CREATE TABLE ss_secret (secret text);
INSERT INTO ss_secret VALUES ('the-superusers-secret');

-- an attacker allowed to train, with a schema of its own
CREATE ROLE ss_attacker;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean) TO ss_attacker;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO ss_attacker;
CREATE SCHEMA ss_att AUTHORIZATION ss_attacker;

SET ROLE ss_attacker;
SET search_path = ss_att, pg_catalog;
CREATE TABLE ss_att.ratings (u int, i int, r real);
INSERT INTO ss_att.ratings SELECT u, i, 1 + (u + i) % 5
FROM generate_series(1, 30) u, generate_series(1, 12) i WHERE (u * i) % 4 <> 0;
-- A trap: harmless when its owner runs it; run by a superuser it reads
-- the secret, sends it by NOTIFY, writes a file through COPY TO PROGRAM
-- and creates a temporary table.  It says whose rights it runs with.
CREATE FUNCTION ss_att.trap() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'trap runs as %', current_user;
	IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
		PERFORM pg_catalog.pg_notify('ss_leak', (SELECT string_agg(secret, ',') FROM public.ss_secret));
		EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch /tmp/recsys_ss_pwned''';
	END IF;
	IF pg_catalog.current_setting('ss.probe_role', true) = 'on' THEN
		PERFORM pg_catalog.set_config('role', 'ss_attacker', true);
	END IF;
	RETURN true;
END $$;
-- (an uncorrelated subquery: the trap runs once per read of the source)
SELECT model, version, users FROM recsys.train('ss_model', 'SELECT * FROM ss_att.ratings WHERE (SELECT ss_att.trap())',
	'u', 'i', 'r', 'ials', '{"factors": 3, "iterations": 2}');
SELECT owner::text, search_path FROM recsys.models WHERE name = 'ss_model';
RESET ROLE;
RESET search_path;

-- The superuser retrains the attacker's model and serves it: the trap runs
-- as its owner, so nothing is read, sent or written.
LISTEN ss_leak;
SELECT model, version, users FROM recsys.retrain('ss_model');
SELECT pg_catalog.pg_stat_file('/tmp/recsys_ss_pwned', true) IS NULL AS no_file_written;
-- a new user in the source is folded in from it, again as the owner
INSERT INTO ss_att.ratings VALUES (1000, 1, 5), (1000, 2, 4);
SELECT count(*) AS served FROM recsys.recommend('ss_model', 1000, 3);
SELECT pg_catalog.pg_stat_file('/tmp/recsys_ss_pwned', true) IS NULL AS no_file_written;
-- and under SECURITY_RESTRICTED_OPERATION: no SET ROLE (which a
-- read-only transaction alone would allow)
SET ss.probe_role = on;
SELECT pg_temp.try($$SELECT recsys.retrain('ss_model')$$) AS retrain_setting_role;
RESET ss.probe_role;
UNLISTEN ss_leak;

-- The stored search_path, not the caller's: the superuser's path puts a
-- schema of its own with another "ratings" first, and a temporary table
-- "ratings" too; the retrain still reads the owner's table.
CREATE SCHEMA ss_other;
CREATE TABLE ss_other.ratings (u int, i int, r real);
INSERT INTO ss_other.ratings VALUES (1, 1, 1);
SET ROLE ss_attacker;
SET search_path = ss_att;
SELECT users FROM recsys.train('ss_plain', 'SELECT * FROM ratings', 'u', 'i', 'r', 'als', '{"factors": 2, "iterations": 2}');
RESET ROLE;
CREATE TEMP TABLE ratings (u int, i int, r real);
SET search_path = ss_other, pg_temp, public;
SELECT users, items FROM recsys.retrain('ss_plain');
RESET search_path;
DROP TABLE pg_temp.ratings;

-- A stored query never reads a temporary relation: a session could put its
-- own under the name of one the owner dropped (a temporary view calling a
-- function would run it as the owner).  A model trained from a temporary
-- table keeps serving, but its source is not read again.
SET ROLE ss_attacker;
CREATE TEMP TABLE ss_staging AS SELECT * FROM ss_att.ratings;
SELECT users FROM recsys.train('ss_tmp', 'ss_staging', 'u', 'i', 'r', 'ials', '{"factors": 2, "iterations": 2}');
SELECT pg_temp.try($$SELECT recsys.retrain('ss_tmp')$$) AS retrain_from_temporary;
INSERT INTO ss_staging VALUES (2000, 1, 5), (2000, 2, 4);
RESET ROLE;
\set VERBOSITY default
SELECT count(*) AS served FROM recsys.recommend('ss_tmp', 2000, 3);
\set VERBOSITY terse
SELECT recsys.drop_model('ss_tmp');
DROP TABLE pg_temp.ss_staging;

-- A stored query is planned read-only as well: a write hidden in an
-- immutable function the planner runs fails instead of writing (here on
-- fold-in, which plans the source for the new user)
SET ROLE ss_attacker;
CREATE TABLE ss_att.loot (who text);
CREATE FUNCTION ss_att.w() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO ss_att.loot VALUES (current_user); RETURN true; END $$;
CREATE FUNCTION ss_att.imm() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE b boolean; BEGIN EXECUTE 'SELECT ss_att.w()' INTO b; RETURN b; END $$;
SELECT pg_temp.try($$SELECT recsys.train('ss_w', 'SELECT * FROM ss_att.ratings WHERE ss_att.imm()', 'u', 'i', 'r', 'ials', '{"factors": 2, "iterations": 2}')$$) AS train_writing;
DROP FUNCTION ss_att.imm();
CREATE FUNCTION ss_att.imm() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE b boolean; BEGIN
	IF current_setting('ss.armed', true) = 'on' THEN EXECUTE 'SELECT ss_att.w()' INTO b; END IF;
	RETURN true;
END $$;
SELECT users FROM recsys.train('ss_w', 'SELECT * FROM ss_att.ratings WHERE ss_att.imm()', 'u', 'i', 'r', 'ials', '{"factors": 2, "iterations": 2}');
INSERT INTO ss_att.ratings VALUES (2000, 1, 5), (2000, 2, 4);
RESET ROLE;
SET ss.armed = on;
SELECT pg_temp.try($$SELECT count(*) FROM recsys.recommend('ss_w', 2000, 3)$$) AS fold_in_writing;
SELECT pg_temp.try($$SELECT recsys.retrain('ss_w')$$) AS retrain_writing;
RESET ss.armed;
SELECT count(*) AS written FROM ss_att.loot;
SELECT recsys.drop_model('ss_w');
DELETE FROM ss_att.ratings WHERE u = 2000;
DROP TABLE ss_att.loot;
DROP FUNCTION ss_att.imm(), ss_att.w();

-- A retrain runs as the owner: when the owner may no longer read the
-- source, neither retrain nor fold-in reads it, whoever calls.
ALTER TABLE ss_att.ratings OWNER TO postgres;
SELECT pg_temp.try($$SELECT recsys.retrain('ss_plain')$$) AS retrain_without_access;
\set VERBOSITY default
SELECT count(*) AS served FROM recsys.recommend('ss_model', 1000, 3);
\set VERBOSITY terse
ALTER TABLE ss_att.ratings OWNER TO ss_attacker;

-- Ownership is a role OID.  Renaming the owner keeps the model theirs; a
-- new role that takes the old name gets nothing.
ALTER ROLE ss_attacker RENAME TO ss_renamed;
CREATE ROLE ss_attacker;
GRANT EXECUTE ON FUNCTION recsys.retrain(text), recsys.drop_model(text, boolean) TO ss_attacker;
SELECT name, owner::text FROM recsys.models WHERE name LIKE 'ss\_%' ORDER BY name;
SET ROLE ss_attacker;
SELECT pg_temp.try($$SELECT recsys.drop_model('ss_plain')$$) AS newcomer_drops;
SELECT pg_temp.try($$SELECT recsys.retrain('ss_plain')$$) AS newcomer_retrains;
RESET ROLE;
SET ROLE ss_renamed;
SELECT users FROM recsys.retrain('ss_plain');
RESET ROLE;

-- Dropping the owner: the model keeps the OID (shown as a number), a role
-- created later under that name gets nothing, and its stored source runs
-- for no one.
REVOKE ALL ON FUNCTION recsys.retrain(text), recsys.drop_model(text, boolean) FROM ss_attacker;
DROP ROLE ss_attacker;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM ss_renamed;
REVOKE ALL ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean) FROM ss_renamed;
ALTER SCHEMA ss_att OWNER TO postgres;
ALTER TABLE ss_att.ratings OWNER TO postgres;
ALTER FUNCTION ss_att.trap() OWNER TO postgres;
DROP ROLE ss_renamed;
SELECT name, owner::text ~ '^[0-9]+$' AS orphaned FROM recsys.models WHERE name LIKE 'ss\_%' ORDER BY name;
CREATE ROLE ss_renamed;
GRANT EXECUTE ON FUNCTION recsys.retrain(text), recsys.drop_model(text, boolean) TO ss_renamed;
SET ROLE ss_renamed;
SELECT pg_temp.try($$SELECT recsys.drop_model('ss_plain')$$) AS namesake_drops;
RESET ROLE;
SELECT pg_temp.try($$SELECT recsys.retrain('ss_plain')$$) AS superuser_retrains_orphan;
-- a superuser gives the orphan to a role, whose rights its source then has
GRANT USAGE ON SCHEMA ss_att TO ss_renamed;
GRANT SELECT ON ss_att.ratings TO ss_renamed;
SELECT recsys.alter_model_owner('ss_plain', 'ss_renamed');
SET ROLE ss_renamed;
SELECT users FROM recsys.retrain('ss_plain');
RESET ROLE;
REVOKE SELECT ON ss_att.ratings FROM ss_renamed;
REVOKE USAGE ON SCHEMA ss_att FROM ss_renamed;
SELECT recsys.drop_model('ss_plain'), recsys.drop_model('ss_model');

REVOKE ALL ON FUNCTION recsys.retrain(text), recsys.drop_model(text, boolean) FROM ss_renamed;
DROP ROLE ss_renamed;
DROP SCHEMA ss_att CASCADE;
DROP SCHEMA ss_other CASCADE;
DROP TABLE ss_secret;
