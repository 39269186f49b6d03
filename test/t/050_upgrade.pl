# Upgrade from the previous release: a cluster running it (RS_PREV_INSTALL,
# a PostgreSQL tree with that release installed; scripts/test.sh builds it
# from git) trains models of every kind as non-superusers, with a
# recsys_hnsw index on one model's item_factors made the README's way; its
# data directory is then started with this tree's build and
# ALTER EXTENSION recsys UPDATE is run.  Every model serves exactly what it
# served before, the catalog rows are unchanged, the new catalog rules hold
# (owners by OID, version_id, the active version's foreign key), training
# works afterwards, and the upgraded extension's objects are exactly those
# of a fresh CREATE EXTENSION.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysModels qw(roles_sql setup_sql train_sql models serving
  catalog_tables catalog_description lines_diff);

my $prev_version = '0.1.0';
my $prev_install = $ENV{RS_PREV_INSTALL} // '';
die "RS_PREV_INSTALL must name a PostgreSQL tree with recsys $prev_version installed "
  . "(scripts/test.sh builds one from git)\n"
  unless $prev_install ne '' && -x "$prev_install/bin/postgres";

# --- the previous release --------------------------------------------------
my $old = PostgreSQL::Test::Cluster->new('old', install_path => $prev_install);
$old->init;
$old->start;

is($old->safe_psql('postgres',
		q{SELECT default_version FROM pg_available_extensions WHERE name = 'recsys'}),
	$prev_version, "the old cluster's recsys is $prev_version");

$old->safe_psql('postgres', roles_sql());
$old->safe_psql('postgres', 'CREATE DATABASE fresh');
$old->safe_psql('postgres', "CREATE EXTENSION recsys VERSION '$prev_version'");
$old->safe_psql('postgres', setup_sql());
$old->safe_psql('postgres', train_sql());

# A model whose owner role is dropped before the upgrade (0.1.0 kept the
# owner's name; the upgrade gives such a model to the catalog's owner).
$old->safe_psql('postgres', q{
CREATE ROLE rs_gone LOGIN;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) TO rs_gone;
GRANT SELECT ON d_interactions TO rs_gone;
SET ROLE rs_gone;
SELECT 1 FROM recsys.train('m_gone', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
RESET ROLE;
DROP OWNED BY rs_gone;
DROP ROLE rs_gone;
});

# The README's per-model index (0.1.0): recommend() takes its candidates
# from it once recsys.index_min_items allows.
$old->safe_psql('postgres', q{
CREATE INDEX m_ials_hnsw ON recsys.item_factors USING recsys_hnsw (factors recsys.embedding_ip_ops)
	WHERE model = 'm_ials';
ANALYZE recsys.item_factors;
});
my $via_index = q{
SET extra_float_digits = 3;
SET recsys.index_min_items = 0;
SET recsys.ef_search = 400;
SET enable_seqscan = off;
SET enable_sort = off;
BEGIN;
SELECT string_agg(format('%s>%s:%s:%s', u, r.item, r.score, r.rank), ' ' ORDER BY u, r.rank)
FROM generate_series(1, 20) u CROSS JOIN LATERAL recsys.recommend('m_ials', u, 10) r;
SELECT pg_stat_get_xact_numscans('recsys.m_ials_hnsw'::regclass);
COMMIT;
};
my ($index_lists_before, $index_scans_before) =
  split /\n/, $old->safe_psql('postgres', $via_index);
is($index_scans_before, 20, 'before: recommend() scans the recsys_hnsw index once per user');

my %before = serving($old, 'postgres');
my %tables_before = catalog_tables($old, 'postgres');
# The catalog's rows as they were, column by column (owner apart: its type
# changes), to compare after the upgrade.
my %cols;
for my $t ('models', 'model_versions')
{
	$cols{$t} = $old->safe_psql('postgres', qq{
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = 'recsys.$t'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'owner'});
}
my $models_q = "SELECT row($cols{models})::text FROM recsys.models ORDER BY name COLLATE \"C\"";
my $versions_q = "SELECT row($cols{model_versions})::text FROM recsys.model_versions "
  . "ORDER BY model COLLATE \"C\", version";
my $models_before = $old->safe_psql('postgres', $models_q);
my $versions_before = $old->safe_psql('postgres', $versions_q);
is($old->safe_psql('postgres', q{SELECT string_agg(owner::text, ',' ORDER BY name COLLATE "C") FROM recsys.models}),
	join(',', (map { $_->{owner} } sort { $a->{name} cmp $b->{name} }
	  (models(), { name => 'm_gone', owner => 'rs_gone' }))),
	'before: the models belong to the roles that trained them');
is($old->safe_psql('postgres', q{SELECT string_agg(version::text, ',' ORDER BY version)
	FROM recsys.model_versions WHERE model = 'm_two'}), '1,2', 'before: m_two has two versions');

# --- the same data directory with this tree's build -----------------------
$old->stop;
$old->backup_fs_cold('prev');
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init_from_backup($old, 'prev');
$new->start;

is($new->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recsys'}),
	$prev_version, "after the restart the extension is still $prev_version");
my $default = $new->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'recsys'});
isnt($default, $prev_version, "this tree's default version ($default) is newer");

my ($ret, $stdout, $stderr) = $new->psql('postgres', 'ALTER EXTENSION recsys UPDATE',
	on_error_stop => 1);
is($ret, 0, 'ALTER EXTENSION recsys UPDATE succeeds');
diag($stderr) if $ret != 0;
like($stderr, qr/model "m_gone" was owned by role "rs_gone", which no longer exists/,
	'the upgrade says which model lost its owner');
is($new->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recsys'}),
	$default, "the extension is now $default");

# --- every model serves what it served -----------------------------------
my %after = serving($new, 'postgres');
for my $k (sort keys %before)
{
	unlike($before{$k}, qr/^ERROR/, "before: $k works");
	isnt($before{$k}, '', "before: $k returns rows");
	is($after{$k}, $before{$k}, "after the upgrade: $k is the same");
}
for my $m (models())
{
	# 5 users x 10 items, 5 x 5 predictions: no short lists
	my @recs = split / /, $after{"$m->{name} recommend"};
	is(scalar @recs, 50, "$m->{name}: 10 items for each of 5 users");
}

# 0.1.0's hand-made index of an ials model became the model's managed index
# (recsys.create_model_index): the old one is gone, the managed one is
# there for the model's dimension, and the model asks for it
is($new->safe_psql('postgres', q{SELECT to_regclass('recsys.m_ials_hnsw') IS NULL}),
	't', 'after: the hand-made index was replaced');
my $managed = $new->safe_psql('postgres', q{
SELECT c.relname FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid
WHERE x.indrelid = 'recsys.item_factors'::regclass
  AND c.relname = 'rs_idx_' || left(md5('m_ials'), 16) || '_'
      || (SELECT params->>'factors' FROM recsys.model_versions v JOIN recsys.models m
          ON m.name = v.model AND m.active_version = v.version WHERE m.name = 'm_ials')});
isnt($managed, '', "after: m_ials has its managed index ($managed)");
is($new->safe_psql('postgres', q{SELECT index_options FROM recsys.models WHERE name = 'm_ials'}),
	'{}', 'after: m_ials asks for an index with default settings');
(my $via_managed = $via_index) =~ s/recsys\.m_ials_hnsw/recsys.$managed/;
my ($index_lists_after, $index_scans_after) =
  split /\n/, $new->safe_psql('postgres', $via_managed);
is($index_scans_after, 20, 'after: recommend() scans the managed recsys_hnsw index once per user');
is($index_lists_after, $index_lists_before, 'after: the lists through the index are the same');

# --- the catalog's rows ------------------------------------------------------
my %tables_after = catalog_tables($new, 'postgres');
for my $t (sort keys %tables_before)
{
	next if $t eq 'recsys.models' or $t eq 'recsys.model_versions';    # columns changed
	is($tables_after{$t}, $tables_before{$t}, "$t: the same rows");
}
is($new->safe_psql('postgres', $models_q), $models_before,
	'recsys.models: every column of 0.1.0 (but owner) has the same values');
is($new->safe_psql('postgres', $versions_q), $versions_before,
	'recsys.model_versions: every column of 0.1.0 has the same values');

# --- the new rules hold -------------------------------------------------------
is($new->safe_psql('postgres', q{SELECT format('%s %s', format_type(atttypid, atttypmod), attnotnull)
	FROM pg_attribute WHERE attrelid = 'recsys.models'::regclass AND attname = 'owner'}),
	'regrole t', 'recsys.models.owner is a NOT NULL regrole');
is($new->safe_psql('postgres', q{SELECT string_agg(m.name || '=' || coalesce(r.rolname, '?'), ',' ORDER BY m.name COLLATE "C")
	FROM recsys.models m LEFT JOIN pg_roles r ON r.oid = m.owner::oid}),
	join(',', (map { "$_->{name}=$_->{owner}" } sort { $a->{name} cmp $b->{name} }
	  (models(), { name => 'm_gone', owner => $new->safe_psql('postgres',
		q{SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'recsys.models'::regclass}) }))),
	"each model's owner is the OID of the role that trained it (m_gone: the catalog's owner)");
$new->safe_psql('postgres', 'ALTER ROLE rs_trainer_b RENAME TO rs_trainer_c');
is($new->safe_psql('postgres', q{SELECT owner::text FROM recsys.models WHERE name = 'm_pop'}),
	'rs_trainer_c', 'renaming the owner role keeps the model its own (owned by OID)');
$new->safe_psql('postgres', 'ALTER ROLE rs_trainer_c RENAME TO rs_trainer_b');

is($new->safe_psql('postgres', q{SELECT count(*) = count(version_id) AND count(*) = count(DISTINCT version_id)
	AND count(*) > 0 FROM recsys.model_versions}),
	't', 'every version has a version_id, all different');
is($new->safe_psql('postgres', q{SELECT attnotnull FROM pg_attribute
	WHERE attrelid = 'recsys.model_versions'::regclass AND attname = 'version_id'}),
	't', 'version_id is NOT NULL');
is($new->safe_psql('postgres', q{SELECT count(*) FROM pg_index
	WHERE indrelid = 'recsys.model_versions'::regclass AND indisunique AND indnkeyatts = 1
	  AND indkey[0] = (SELECT attnum FROM pg_attribute
	                   WHERE attrelid = 'recsys.model_versions'::regclass AND attname = 'version_id')}),
	'1', 'version_id is unique (an index)');
is($new->safe_psql('postgres', q{SELECT format('%s %s', pg_get_constraintdef(oid), convalidated) FROM pg_constraint
	WHERE conrelid = 'recsys.models'::regclass AND conname = 'models_active_version_fkey'}),
	'FOREIGN KEY (name, active_version) REFERENCES recsys.model_versions(model, version) t',
	'the foreign key models_active_version_fkey exists and is validated');
($ret, $stdout, $stderr) = $new->psql('postgres',
	q{UPDATE recsys.models SET active_version = 99 WHERE name = 'm_two'});
like($stderr, qr/models_active_version_fkey/, 'an active version that does not exist is refused');

# --- training after the upgrade -------------------------------------------------
my $max_id = $new->safe_psql('postgres', 'SELECT max(version_id) FROM recsys.model_versions');
is($new->safe_psql('postgres', q{SET ROLE rs_trainer; SELECT version FROM recsys.retrain('m_two')}),
	'3', 'rs_trainer retrains m_two (a model of the old release) as version 3');
is($new->safe_psql('postgres', qq{SELECT version_id > $max_id FROM recsys.model_versions
	WHERE model = 'm_two' AND version = 3}),
	't', 'the new version gets a version_id above every upgraded one');
is($new->safe_psql('postgres', q{SELECT owner::text || ' ' || active_version FROM recsys.models WHERE name = 'm_two'}),
	'rs_trainer 3', 'm_two: still rs_trainer\'s, version 3 active');
is($new->safe_psql('postgres', q{SELECT count(*) FROM generate_series(1, 5) u,
	LATERAL recsys.recommend('m_two', u, 10)}), '50', 'the retrained model serves');
is($new->safe_psql('postgres', q{SET ROLE rs_trainer_b;
	SELECT version FROM recsys.train('m_new', 'd_interactions', 'user_id', 'item_id', 'rating', 'als',
	                                 '{"factors": 4, "iterations": 3}')}),
	'1', 'a new model trains after the upgrade');
is($new->safe_psql('postgres', q{SELECT count(*) FROM recsys.recommend('m_new', 1, 10)}),
	'10', 'the new model serves');

# --- the upgraded extension is what a fresh install makes -------------------
$new->safe_psql('fresh', 'CREATE EXTENSION recsys');
$new->safe_psql('fresh', RecsysModels::grants_sql());
my $upgraded = catalog_description($new, 'postgres', '^rs_idx_');
my $fresh = catalog_description($new, 'fresh');
cmp_ok(scalar @$fresh, '>', 100, 'the description of a fresh install has '
	  . scalar(@$fresh) . ' lines');
is(lines_diff($upgraded, $fresh), '',
	'the upgraded extension\'s objects equal a fresh CREATE EXTENSION\'s (- upgraded only, + fresh only)');

$new->stop;
done_testing();
