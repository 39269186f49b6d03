-- recsys 0.1.0 install script.
--
-- Objects are grouped by area, in the same order as the source tree:
--   1. the embedding type (src/embedding.c, src/distance.c, src/embedding_agg.c)
--   2. synthetic data (src/synth.c)
-- Every public function carries a COMMENT ON so \df+ documents it.

\echo Use "CREATE EXTENSION recsys" to load this file. \quit

------------------------------------------------------------------------------
-- 1. The embedding type
------------------------------------------------------------------------------

-- (embedding section: see src/embedding.c)

------------------------------------------------------------------------------
-- 2. Synthetic data
------------------------------------------------------------------------------

-- (synthetic data section: see src/synth.c)
