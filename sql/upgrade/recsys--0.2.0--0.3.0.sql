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
--                   now measure each user's list with (same values);
--                   split(method => 'kfold', folds, fold)
--   08_serving      recsys.explain()
--   13_experiments  A/B experiments: their tables, create_experiment,
--                   assign, recommend_experiment, experiment_report,
--                   end_experiment
--   14_versions     recsys.activate() (rollback, roll-forward) and its
--                   history, version pins; and (08_serving, 11_evaluation,
--                   12_audit) a trailing "version integer DEFAULT NULL" on
--                   every serving and evaluation function
--   15_updates      recsys.update() (new interactions folded into a new
--                   version) and schedule_update(); schedule_retrain()
--                   moves there from 07_training, unchanged for its
--                   callers; model_versions gains data_until,
--                   updated_from and definition_md5 (below); the table
--                   user_values
--   06_catalog      item_factors.implicit_factors (svdpp's y_j, below)
--   05_synth        the generator's presets: synth_preset(),
--                   synth_preset_interactions(), and a trailing
--                   "preset text DEFAULT NULL" on generate_dataset()
--   17_steps        training half-steps as aggregates: the type
--                   recsys.step_state, recsys.step_result, the
--                   aggregates als_step, ials_step and gram (train's
--                   "execution": "sql")

\echo Use "ALTER EXTENSION recsys UPDATE TO '0.3.0'" to load this file. \quit

-- Where recsys.update() starts, and what a version was updated from.
-- Versions trained before 0.3.0 have neither (update() asks for a retrain).
ALTER TABLE recsys.model_versions ADD COLUMN data_until timestamptz;
ALTER TABLE recsys.model_versions ADD COLUMN updated_from integer;
ALTER TABLE recsys.model_versions ADD COLUMN definition_md5 text;
COMMENT ON COLUMN recsys.model_versions.data_until IS
	'the newest interaction time the version has read (models trained with "time_column"): where recsys.update() starts; NULL: none recorded';
COMMENT ON COLUMN recsys.model_versions.updated_from IS
	'the version recsys.update() made this one from; NULL: trained';
COMMENT ON COLUMN recsys.model_versions.definition_md5 IS
	'md5 of the model''s definition (algorithm, source, columns, key types, options, search_path) the version was made with; recsys.update() extends only a version of the current definition';

-- svdpp's implicit factors y_j, one per item (NULL for other models).
ALTER TABLE recsys.item_factors ADD COLUMN implicit_factors recsys.embedding;
COMMENT ON COLUMN recsys.item_factors.implicit_factors IS
	'svdpp: the item''s implicit factors y_j, which a user''s vector sums over the items they rated (fold-in, update()); NULL for other models';

-- The serving and evaluation functions that take "version" now: their
-- 0.2.0 signatures go, their area files create the new ones.
DROP FUNCTION recsys.predict(text, "any", "any");
DROP FUNCTION recsys.recommend(text, anyelement, integer, boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom);
DROP FUNCTION recsys.recommend_for_items(text, anyarray, integer, double precision[], boolean, "any", text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom);
DROP FUNCTION recsys.recommend_all(text, integer, boolean, text[], text, text, interval, text, integer, text, double precision, double precision, double precision, integer, recsys.bloom, text[]);
DROP FUNCTION recsys.similar_items(text, anyelement, integer);
DROP FUNCTION recsys.similar_users(text, anyelement, integer);
DROP FUNCTION recsys.predictions(text, text, text, text, text);
DROP FUNCTION recsys.eval_ranking_sql(text, text, integer, text, text, text, double precision, text, boolean, text);
DROP FUNCTION recsys.evaluate_users_body(text, text, integer, text, text, text, double precision, text);
DROP FUNCTION recsys.evaluate_users(text, text, integer, text, text, text, double precision);
DROP FUNCTION recsys.eval_metrics(text, text, integer, text, text, text, double precision, text, text[], text, text, text);
DROP FUNCTION recsys.evaluate(text, text, integer, text, text, text, double precision, text, text[], text, text);
DROP FUNCTION recsys.audit_exposure_body(text, text, integer, text, text, text);
DROP FUNCTION recsys.audit_exposure(text, text, integer, text, text);
DROP FUNCTION recsys.audit_error(text, text, text, text, integer, double precision, integer, text, text, text);
DROP FUNCTION recsys.audit_ranking(text, text, text, integer, text[], text, text, text, double precision);

-- split() takes method => 'kfold' with "folds" and "fold" now, and
-- test_fraction NULL for "the method's own": its 0.2.0 signature (and its
-- body's) go, 11_evaluation creates the new ones.
DROP FUNCTION recsys.split(text, text, text, text, double precision, integer, text, text, text, boolean);
DROP FUNCTION recsys.split_body(text, text, text, text, double precision, integer, text, text, text, boolean, text);

-- generate_dataset() takes "preset" now: its 0.2.0 signature (and its
-- body's) go, 05_synth creates the new ones.
DROP FUNCTION recsys.generate_dataset(text, integer, integer, bigint, bigint, integer, integer, real, text, real, real, real);
DROP FUNCTION recsys.generate_dataset_body(text, integer, integer, bigint, bigint, integer, integer, real, text, real, real, real, text);
