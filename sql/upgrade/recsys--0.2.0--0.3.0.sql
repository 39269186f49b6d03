-- recsys 0.2.0 -> 0.3.0, the statements of the upgrade that a fresh install
-- has no use for.  The Makefile builds sql/recsys--0.2.0--0.3.0.sql from
-- this file followed by the area files whose objects 0.3.0 adds or changes
-- (UPGRADE_030_SQL in the Makefile), exactly as a fresh install runs them:
-- their functions are CREATE OR REPLACE, so each definition is written
-- once, in its area file.  Here: what must change in place first (a
-- function whose arguments change is dropped, to be created again by its
-- area file).  test/t/050_upgrade.pl checks that an upgraded extension has
-- exactly the objects of a fresh one.
--
-- What 0.3.0 adds:
--   11_evaluation   the ranking metrics of one list (recsys.ndcg_at_k() and
--                   the others, C), which evaluate() and evaluate_users()
--                   now measure each user's list with (same values)
--   08_serving      recsys.explain()
--   13_experiments  A/B experiments: their tables, create_experiment,
--                   assign, recommend_experiment, experiment_report,
--                   end_experiment

\echo Use "ALTER EXTENSION recsys UPDATE TO '0.3.0'" to load this file. \quit
