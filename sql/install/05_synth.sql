-- 05_synth.sql: synthetic data (src/synth.c over src/core/generator.c).
--
-- A deterministic generator of users, items and interactions with planted
-- structure (popularity, categories, low-rank tastes, demographic groups).
-- What it plants, with numbers: doc/generator.md.  generate_dataset() is a
-- thin entry point (the tables go to the caller's current schema) over its
-- pinned body.  A preset (synth_preset, synth_preset_interactions) gives
-- a data set whose marginals follow a published one.

CREATE OR REPLACE FUNCTION recsys.synth_users(
    users integer,
    seed bigint DEFAULT 42)
RETURNS TABLE(user_id integer, gender text, age_band text, region text)
AS 'MODULE_PATHNAME', 'recsys_synth_users'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION recsys.synth_users(integer, bigint) IS
'synthetic users 1..users with gender (F/M/X 0.49/0.49/0.02), age_band and region; a pure function of (users, seed); see doc/generator.md';

CREATE OR REPLACE FUNCTION recsys.synth_items(
    items integer,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10)
RETURNS TABLE(item_id integer, category integer, provider text,
              long_tail boolean, created_at timestamptz)
AS 'MODULE_PATHNAME', 'recsys_synth_items'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION recsys.synth_items(integer, bigint, integer) IS
'synthetic items 1..items in order of expected popularity (Zipf), with category, provider, long_tail (item_id > ceil(0.2*items)) and created_at in 2020-2022; see doc/generator.md';

CREATE OR REPLACE FUNCTION recsys.synth_interactions(
    users integer,
    items integer,
    interactions bigint,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8,
    sigma real DEFAULT 0.5,
    noisy_gender text DEFAULT NULL,
    noisy_sigma real DEFAULT 1.0,
    preference real DEFAULT 0.8,
    zipf real DEFAULT 1.0)
RETURNS TABLE(user_id integer, item_id integer, rating real, clicks integer,
              ts timestamptz)
AS 'MODULE_PATHNAME', 'recsys_synth_interactions'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 20000;

COMMENT ON FUNCTION recsys.synth_interactions(integer, integer, bigint, bigint, integer, integer, real, text, real, real, real) IS
'exactly interactions distinct (user, item) rows with a 1-5 rating (biased low-rank model + N(0, sigma) noise, noisy_sigma for users of gender noisy_gender), clicks >= 1 and a timestamp; same arguments, same rows; see doc/generator.md';

CREATE OR REPLACE FUNCTION recsys.synth_user_profile(
    users integer,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10)
RETURNS TABLE(user_id integer, favourite_category integer,
              second_category integer, affinity real, bias real)
AS 'MODULE_PATHNAME', 'recsys_synth_user_profile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION recsys.synth_user_profile(integer, bigint, integer) IS
'the tastes planted in each synthetic user: favourite category, optional second favourite, the favourite''s share of affinity, and the user bias; for tests that check a model recovers them';

CREATE OR REPLACE FUNCTION recsys.synth_truth(
    user_id integer,
    item_id integer,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_synth_truth'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.synth_truth(integer, integer, bigint, integer, integer) IS
'noise-free, unclipped score mu + b_u + b_i + p_u.q_i of a synthetic (user, item) pair, the value synth_interactions adds noise to; pass the same seed, categories and factors';

CREATE OR REPLACE FUNCTION recsys.synth_preset(
    preset text,
    OUT users integer,
    OUT items integer,
    OUT interactions bigint,
    OUT categories integer)
RETURNS record
AS 'MODULE_PATHNAME', 'recsys_synth_preset'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.synth_preset(text) IS
'the sizes a preset of the generator fixes (users, items, interactions, and the categories of its items); an unknown name is an error; see doc/generator.md';

CREATE OR REPLACE FUNCTION recsys.synth_preset_interactions(
    preset text,
    seed bigint DEFAULT 42)
RETURNS TABLE(user_id integer, item_id integer, rating real, clicks integer,
              ts timestamptz)
AS 'MODULE_PATHNAME', 'recsys_synth_preset_interactions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100000;

COMMENT ON FUNCTION recsys.synth_preset_interactions(text, bigint) IS
'the interactions of a preset (''movielens'': 943 users, 1682 items, 100,000 ratings of 1-5 stars with MovieLens-100k''s marginals), clicks >= 1 and a timestamp; same arguments, same rows; see doc/generator.md';

-- generate_dataset(): the tables go to the caller's current schema, so the
-- body takes the caller's search_path.
CREATE OR REPLACE FUNCTION recsys.generate_dataset_body(
    name text,
    users integer,
    items integer,
    interactions bigint,
    seed bigint,
    categories integer,
    factors integer,
    sigma real,
    noisy_gender text,
    noisy_sigma real,
    preference real,
    zipf real,
    preset text,
    caller_path text)
RETURNS TABLE(relation regclass, rows bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, recsys, pg_temp
AS $fn$
DECLARE
    sch text;
    kind text;
    tbl text;
    q text;
    n bigint;
    conflicts text[];
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'dataset name must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a name; tables <name>_users, <name>_items and <name>_interactions are created.';
    END IF;
    IF num_nulls(users, items, interactions, seed, categories, factors, sigma,
                 noisy_sigma, preference, zipf) > 0 THEN
        RAISE EXCEPTION 'dataset parameters must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Leave an argument out to get its default; only noisy_gender may be NULL.';
    END IF;
    -- A preset fixes every parameter but the seed.  A parameter cannot
    -- be told from its default here, so one that differs from its
    -- default (those of recsys.generate_dataset) is refused.
    IF preset IS NOT NULL THEN
        conflicts := array_remove(ARRAY[
            CASE WHEN users <> 1000 THEN 'users' END,
            CASE WHEN items <> 500 THEN 'items' END,
            CASE WHEN interactions <> 20000 THEN 'interactions' END,
            CASE WHEN categories <> 10 THEN 'categories' END,
            CASE WHEN factors <> 8 THEN 'factors' END,
            CASE WHEN sigma <> 0.5::real THEN 'sigma' END,
            CASE WHEN noisy_gender IS NOT NULL THEN 'noisy_gender' END,
            CASE WHEN noisy_sigma <> 1.0::real THEN 'noisy_sigma' END,
            CASE WHEN preference <> 0.8::real THEN 'preference' END,
            CASE WHEN zipf <> 1.0::real THEN 'zipf' END], NULL);
        -- an unknown preset is an error here, before the conflicts
        SELECT p.users, p.items, p.interactions, p.categories
          INTO users, items, interactions, categories
          FROM recsys.synth_preset(preset) p;
        IF cardinality(conflicts) > 0 THEN
            RAISE EXCEPTION 'preset "%" fixes %', preset,
                    array_to_string(conflicts, ', ')
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Preset "%s" has %s users, %s items and %s interactions, and its own planted model.',
                                      preset, users, items, interactions),
                      HINT = 'With a preset give only the name and seed; leave the other parameters out.';
        END IF;
    END IF;
    -- Tables go to the caller's current schema, named explicitly so that
    -- the regclass returned is the table created, whatever search_path says.
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
    sch := pg_catalog.current_schema();
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, recsys, pg_temp', true);
    IF sch IS NULL THEN
        RAISE EXCEPTION 'no current schema to create the dataset in'
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'Set search_path to an existing schema.';
    END IF;
    IF octet_length(name || '_interactions') > 63 THEN
        RAISE EXCEPTION 'dataset name "%" is too long', name
            USING ERRCODE = 'name_too_long',
                  HINT = 'Table names are limited to 63 bytes; use a name of at most 50 bytes.';
    END IF;

    FOREACH kind IN ARRAY ARRAY['users', 'items', 'interactions'] LOOP
        tbl := name || '_' || kind;
        q := CASE kind
            WHEN 'users' THEN format(
                'SELECT * FROM recsys.synth_users(%s, %s)', users, seed)
            WHEN 'items' THEN format(
                'SELECT * FROM recsys.synth_items(%s, %s, %s)', items, seed, categories)
            WHEN 'interactions' THEN CASE WHEN preset IS NULL THEN format(
                'SELECT * FROM recsys.synth_interactions(%s, %s, %s, %s, %s, %s, %L::pg_catalog.float4, %L::pg_catalog.text, %L::pg_catalog.float4, %L::pg_catalog.float4, %L::pg_catalog.float4)',
                users, items, interactions, seed, categories, factors,
                sigma, noisy_gender, noisy_sigma, preference, zipf)
            ELSE format(
                'SELECT * FROM recsys.synth_preset_interactions(%L, %s)',
                preset, seed)
            END END;
        EXECUTE format('CREATE TABLE %I.%I AS %s', sch, tbl, q);
        GET DIAGNOSTICS n = ROW_COUNT;
        EXECUTE format('ALTER TABLE %I.%I ADD PRIMARY KEY (%s)', sch, tbl,
            CASE kind WHEN 'users' THEN 'user_id'
                      WHEN 'items' THEN 'item_id'
                      ELSE 'user_id, item_id' END);
        EXECUTE format('ANALYZE %I.%I', sch, tbl);
        relation := format('%I.%I', sch, tbl)::regclass;
        rows := n;
        RETURN NEXT;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION recsys.generate_dataset_body(text, integer, integer, bigint, bigint, integer, integer, real, text, real, real, real, text, text) IS
	'internal: the body of recsys.generate_dataset(), with the caller''s search_path';

CREATE OR REPLACE FUNCTION recsys.generate_dataset(
    name text,
    users integer DEFAULT 1000,
    items integer DEFAULT 500,
    interactions bigint DEFAULT 20000,
    seed bigint DEFAULT 42,
    categories integer DEFAULT 10,
    factors integer DEFAULT 8,
    sigma real DEFAULT 0.5,
    noisy_gender text DEFAULT NULL,
    noisy_sigma real DEFAULT 1.0,
    preference real DEFAULT 0.8,
    zipf real DEFAULT 1.0,
    preset text DEFAULT NULL)
RETURNS TABLE(relation regclass, rows bigint)
LANGUAGE sql VOLATILE
AS $fn$
	SELECT * FROM recsys.generate_dataset_body($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
		pg_catalog.current_setting('search_path'::pg_catalog.text))
$fn$;
COMMENT ON FUNCTION recsys.generate_dataset(text, integer, integer, bigint, bigint, integer, integer, real, text, real, real, real, text) IS
'create, fill, index and analyze tables <name>_users, <name>_items and <name>_interactions in the current schema from the synth_* generators (with preset => ''movielens'': from synth_preset_interactions, only seed may be given besides); runs as the caller; returns each table and its row count';

