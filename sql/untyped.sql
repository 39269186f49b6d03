--
-- Untyped parameters: a key whose type the server must infer (drivers such
-- as node-postgres send every parameter so) reaches the text overloads of
-- the serving functions, which give the rows of the typed call, items as
-- text.  A typed key still reaches the polymorphic function.
--
SET search_path = public, recsys;
SET extra_float_digits = 0;

SELECT relation, rows FROM recsys.generate_dataset('ut', users => 80, items => 40,
	interactions => 1500, seed => 8);
SELECT model, version FROM recsys.train('ut_ials', 'ut_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 4, "iterations": 4, "seed": 1}');
SELECT model, version FROM recsys.train('ut_uknn', 'ut_interactions', 'user_id', 'item_id', NULL, 'user_knn');

PREPARE rec AS SELECT * FROM recsys.recommend($1, $2, $3);
PREPARE rfi AS SELECT * FROM recsys.recommend_for_items($1, $2, $3);
PREPARE pre AS SELECT recsys.predict($1, $2, $3);
PREPARE sim AS SELECT * FROM recsys.similar_items($1, $2, $3);
PREPARE simu AS SELECT * FROM recsys.similar_users($1, $2, $3);
PREPARE expl AS SELECT * FROM recsys.explain($1, $2, $3);
SELECT p.name, p.parameter_types FROM pg_prepared_statements p ORDER BY p.name;

-- run as a driver runs them: every parameter as text
CREATE TEMP TABLE u_rec AS EXECUTE rec('ut_ials', '7', '5');
CREATE TEMP TABLE u_rfi AS EXECUTE rfi('ut_ials', '{3,4,9}', '5');
CREATE TEMP TABLE u_pre AS EXECUTE pre('ut_ials', '7', '3');
CREATE TEMP TABLE u_sim AS EXECUTE sim('ut_ials', '3', '5');
CREATE TEMP TABLE u_simu AS EXECUTE simu('ut_uknn', '7', '5');
CREATE TEMP TABLE u_expl AS EXECUTE expl('ut_ials', '7', '3');
SELECT attrelid::regclass AS result, attname, atttypid::regtype
FROM pg_attribute WHERE attrelid IN ('u_rec'::regclass, 'u_sim'::regclass, 'u_simu'::regclass)
  AND attnum = 1 ORDER BY 1;

-- the same rows as the typed calls
SELECT count(*) AS rows,
	   bool_and(u.item = t.item::text AND u.score = t.score) AS same
FROM u_rec u JOIN recsys.recommend('ut_ials', 7, 5) t USING (rank);
SELECT count(*) AS rows,
	   bool_and(u.item = t.item::text AND u.score = t.score) AS same
FROM u_rfi u JOIN recsys.recommend_for_items('ut_ials', ARRAY[3, 4, 9], 5) t USING (rank);
SELECT u.predict = recsys.predict('ut_ials', 7, 3) AS same FROM u_pre u;
SELECT count(*) AS rows,
	   bool_and(u.item = t.item::text AND u.similarity = t.similarity) AS same
FROM u_sim u JOIN recsys.similar_items('ut_ials', 3, 5) t USING (rank);
SELECT count(*) AS rows,
	   bool_and(u."user" = t."user"::text AND u.similarity = t.similarity) AS same
FROM u_simu u JOIN recsys.similar_users('ut_uknn', 7, 5) t USING (rank);
SELECT count(*) AS rows,
	   bool_and(u.contributor = t.contributor AND u.contribution = t.contribution) AS same
FROM u_expl u JOIN recsys.explain('ut_ials', 7, 3) t ON t.rank IS NOT DISTINCT FROM u.rank AND t.kind = u.kind;

-- a literal in quotes is a key as text too; a typed key keeps its type
SELECT pg_typeof(item) AS quoted, count(*) FROM recsys.recommend('ut_ials', '7', 5) GROUP BY 1;
SELECT pg_typeof(item) AS typed, count(*) FROM recsys.recommend('ut_ials', 7::bigint, 5) GROUP BY 1;

-- experiments: a user's arm and list are the same whichever way the key comes
SELECT * FROM recsys.create_experiment('ut_x', '[{"arm": "a", "model": "ut_ials"}, {"arm": "b", "model": "ut_ials"}]',
	salt => 'ut');
PREPARE rex AS SELECT * FROM recsys.recommend_experiment($1, $2, $3);
CREATE TEMP TABLE u_asg AS SELECT u, (SELECT recsys.assign('ut_x', u::text)) AS arm FROM generate_series(1, 40) u;
SELECT count(*) AS users, bool_and(arm = recsys.assign('ut_x', u)) AS same_arm FROM u_asg;
CREATE TEMP TABLE u_rex AS EXECUTE rex('ut_x', '7', '5');
SELECT count(*) AS rows, bool_and(u.arm = t.arm AND u.item = t.item::text AND u.score = t.score) AS same
FROM u_rex u JOIN recsys.recommend_experiment('ut_x', 7, 5) t USING (rank);
SELECT recsys.end_experiment('ut_x') IS NOT NULL AS ended;

-- an array of keys given as text must be an array
SELECT * FROM recsys.recommend_for_items('ut_ials', '3,4', 5);

DEALLOCATE ALL;
SELECT recsys.drop_model('ut_ials'), recsys.drop_model('ut_uknn');
