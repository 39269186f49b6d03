# pg_upgrade of a cluster with trained models from PostgreSQL 15 to the
# major this test runs under (17 or 18): models of every kind
# (test/perl/RecsysModels.pm), a user table with an embedding column and a
# recsys_hnsw index on it, and a model's managed index.  After the upgrade
# every model serves exactly what it served (floats to every digit), the
# catalog's rows are the same, the extension's objects are the same, and
# both indexes answer as before (their files are carried over as they are).
#
# Run by scripts/test.sh with the other major's binaries first on PATH and
# its Perl modules; RS_UPGRADE_FROM_BIN names PostgreSQL 15's bin directory
# with this tree's recsys installed (scripts/test.sh: a 15 built from
# source, no newer a release than the major under test).

use strict;
use warnings;

use File::Basename qw(dirname);
use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysModels qw(roles_sql setup_sql train_sql models serving
  catalog_tables catalog_description lines_diff);

my $old_bin = $ENV{RS_UPGRADE_FROM_BIN}
  or BAIL_OUT('RS_UPGRADE_FROM_BIN (the bin directory of PostgreSQL 15 with recsys) is not set');
my $old = PostgreSQL::Test::Cluster->new('old', install_path => dirname($old_bin));
my $new = PostgreSQL::Test::Cluster->new('new');
my $new_bin = $new->config_data('--bindir');
my $old_major = $old->pg_version->major;
my $new_major = $new->pg_version->major;
cmp_ok($new_major, '>', $old_major, "an upgrade from $old_major to $new_major");

$old->init;
$old->start;
$old->safe_psql('postgres', roles_sql());
$old->safe_psql('postgres', 'CREATE DATABASE src');
$old->safe_psql('src', 'CREATE EXTENSION recsys');
$old->safe_psql('src', setup_sql());
$old->safe_psql('src', train_sql());
$old->safe_psql('src', q{SELECT recsys.create_model_index('m_ials', m => 8)});
# a table of the user's own with an embedding column and an index on it
$old->safe_psql('src', q{
CREATE TABLE emb AS
SELECT i AS id, (SELECT array_agg(sin(i * 0.7 + j * 1.3)::real ORDER BY j)
                 FROM generate_series(1, 16) j)::recsys.embedding(16) AS v
FROM generate_series(1, 2000) i;
CREATE INDEX emb_v ON emb USING recsys_hnsw (v recsys.embedding_l2_ops) WITH (m = 8);
});

my $knn_q = q{SET search_path = public, recsys; SET enable_seqscan = off;
SELECT string_agg(id::text, ',' ORDER BY d, id) FROM (
	SELECT id, v <-> (SELECT v FROM emb WHERE id = 7) AS d FROM emb
	ORDER BY v <-> (SELECT v FROM emb WHERE id = 7) LIMIT 10) s};
my $plan_q = q{SET search_path = public, recsys; SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM emb ORDER BY v <-> (SELECT v FROM emb WHERE id = 7) LIMIT 10};
my $index_list_q = q{SET recsys.index_min_items = 0;
SELECT string_agg(item::text || ':' || rank, ',' ORDER BY rank) FROM recsys.recommend('m_ials', 1, 10)};
my $ids_q = q{SELECT string_agg(format('%s/%s=%s', model, version, version_id), ' '
	ORDER BY model COLLATE "C", version) FROM recsys.model_versions};

my %before = serving($old, 'src');
my %tables_before = catalog_tables($old, 'src');
my $objects_before = catalog_description($old, 'src', '^rs_idx_');
my $knn_before = $old->safe_psql('src', $knn_q);
my $index_list_before = $old->safe_psql('src', $index_list_q);
my $ids_before = $old->safe_psql('src', $ids_q);
like($old->safe_psql('src', $plan_q), qr/Index Scan using emb_v/, 'before: the hnsw index answers');
for my $k (sort keys %before)
{
	unlike($before{$k}, qr/^ERROR/, "before: $k works");
	isnt($before{$k}, '', "before: $k returns rows");
}
$old->stop;

# 18's initdb turns data checksums on by default and pg_upgrade wants both
# clusters alike (README, "Supported PostgreSQL versions")
$new->init($new_major >= 18 ? (extra => ['--no-data-checksums']) : ());
my $dir = PostgreSQL::Test::Utils::tempdir;
chdir $dir or die "cannot enter $dir: $!";
# command_ok returns nothing: ok() of run_log's result says whether it passed
ok(run_log(
	[
		"$new_bin/pg_upgrade", '--no-sync',
		'-d', $old->data_dir, '-D', $new->data_dir,
		'-b', $old_bin, '-B', $new_bin,
		'-s', $new->host, '-p', $old->port, '-P', $new->port,
		'--copy'
	]),
	"pg_upgrade $old_major -> $new_major with trained models and an hnsw index")
  or BAIL_OUT("pg_upgrade failed: its output is above, its logs in the new cluster's pg_upgrade_output.d");
$new->start;

my %after = serving($new, 'src');
is($after{$_}, $before{$_}, "after: $_ is the same") for sort keys %before;
my %tables_after = catalog_tables($new, 'src');
is($tables_after{$_}, $tables_before{$_}, "after: $_ has the same rows") for sort keys %tables_before;
is($new->safe_psql('src', $ids_q), $ids_before, 'after: every version keeps its version_id');
is(lines_diff($objects_before, catalog_description($new, 'src', '^rs_idx_')), '',
	"after: the extension's objects are the same (- before only, + after only)");
like($new->safe_psql('src', $plan_q), qr/Index Scan using emb_v/, 'after: the hnsw index answers');
is($new->safe_psql('src', $knn_q), $knn_before, 'after: the hnsw index returns the same neighbours');
is($new->safe_psql('src', $index_list_q), $index_list_before,
	"after: m_ials served through its managed index gives the same list");
# the upgraded cluster trains: a retrain makes a new version that serves
$new->safe_psql('src', q{SET ROLE rs_trainer; SELECT recsys.retrain('m_ials')});
is($new->safe_psql('src', q{SELECT count(*) FROM recsys.recommend('m_ials', 1, 5)}), '5',
	'after: a retrain on the new major serves');
is($new->safe_psql('src', q{SELECT count(*) FROM emb WHERE v IS NOT NULL}), '2000',
	'after: the embedding column reads back');

$new->stop;
done_testing();
