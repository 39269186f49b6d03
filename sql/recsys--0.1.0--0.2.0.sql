-- recsys 0.1.0 -> 0.2.0: safe to install in a shared database.
--
-- A fresh CREATE EXTENSION runs recsys--0.1.0.sql and then this script, so
-- everything 0.2.0 changes is here, grouped by area:
--   1. the catalog: version identity, owners by role OID
--   2. stored queries: run as the model's owner
--   3. search_path: every function pinned, dynamic SQL qualified
--   4. limits and checks
--   5. model privileges and row-level security
--   6. managed per-model indexes

\echo Use "ALTER EXTENSION recsys UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 1. The catalog: version identity, owners by role OID
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 2. Stored queries
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 3. search_path
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 4. Limits and checks
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 5. Model privileges and row-level security
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- 6. Managed per-model indexes
------------------------------------------------------------------------------
