-- test/bench/accuracy.sql: the README's two accuracy tables in one
-- command: 5-fold RMSE of every explicit model on the movielens preset
-- for seeds 42, 1, 2 and 3 (test/bench/preset_accuracy.sql, its defaults
-- and hand-tuned settings), then NDCG@10 and recall@10 of every implicit
-- model at its defaults on the preset and two planted sets
-- (test/bench/implicit_accuracy.sql).  A measurement, not a test.
--
--   psql -X -d DB -f test/bench/accuracy.sql
--
-- DB: a database with recsys installed, where tables pa_* and ia_* and
-- models of those names may be created (they are dropped at the end).
-- About 8 minutes on 2 cores.
\set seed 42
\ir preset_accuracy.sql
\set seed 1
\ir preset_accuracy.sql
\set seed 2
\ir preset_accuracy.sql
\set seed 3
\ir preset_accuracy.sql
\ir implicit_accuracy.sql
