# Models of every kind (test/perl/RecsysModels.pm: als, svd, ials, bpr,
# popularity, item_knn with and without attributes, user_knn, ease, nmf, svdpp, a model made
# by recsys.fit(), text keys, two versions) survive pg_dump -Fc and
# pg_restore: into another database of the same cluster, and into another
# cluster whose roles have other OIDs.  Every model serves exactly what it
# served (recommend, predict, similar_items/similar_users, floats to every
# digit), the catalog's rows are the same (version_id included), models
# keep their owners, the version_id sequence goes on where it was (a
# training after the restore gets a version_id above every restored one),
# and the restored extension's objects equal the dumped one's.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysModels qw(roles_sql setup_sql train_sql models serving
  catalog_tables catalog_description lines_diff);

# The output of $sql on $n's database dst, or "ERROR: ..." (so that a
# failure is one failed check, not the end of the script).
sub query
{
	my ($n, $sql) = @_;
	my ($ret, $stdout, $stderr) = $n->psql('dst', $sql);
	return $ret == 0 ? $stdout : "ERROR: $stderr";
}

my $node = PostgreSQL::Test::Cluster->new('models');
$node->init;
$node->start;
$node->safe_psql('postgres', roles_sql());
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst TEMPLATE template0');
$node->safe_psql('src', 'CREATE EXTENSION recsys');
$node->safe_psql('src', setup_sql());
$node->safe_psql('src', train_sql(current => 1));
# a tuned model: its trials (recsys.tuning_trials, a foreign key to its
# version) are dumped and restored with the catalog
my $tune_q = q{SET ROLE rs_trainer;
SELECT version || ':' || count(*) FROM recsys.tune('m_tuned', 'd_interactions', 'user_id', 'item_id',
	'rating', 'als', space => '{"factors": [2, 4]}', folds => 2, base_options => '{"iterations": 2}')
GROUP BY version};
is($node->safe_psql('src', $tune_q), '1:3', 'before: m_tuned is tuned, version 1 with 3 trials');
# a managed index (pg_dump does not dump indexes on an extension's tables:
# the request is catalog data, restore_model_indexes() builds it again)
$node->safe_psql('src', q{SELECT recsys.create_model_index('m_ials', m => 8)});
my $managed_q = q{SELECT count(*) FROM pg_class WHERE relname LIKE 'rs\_idx\_' || left(md5('m_ials'), 16) || '\_%'};
is($node->safe_psql('src', $managed_q), '1', 'before: m_ials has its managed index');

# Another cluster, whose roles get other OIDs than the first one's.
my $other = PostgreSQL::Test::Cluster->new('other');
$other->init;
$other->start;
$other->safe_psql('postgres', 'CREATE ROLE rs_first; CREATE ROLE rs_second;' . roles_sql());
$other->safe_psql('postgres', 'CREATE DATABASE dst TEMPLATE template0');
isnt($other->safe_psql('postgres', q{SELECT oid FROM pg_roles WHERE rolname = 'rs_trainer'}),
	$node->safe_psql('postgres', q{SELECT oid FROM pg_roles WHERE rolname = 'rs_trainer'}),
	'rs_trainer has another OID in the other cluster');

my $owners_q = q{SELECT string_agg(name || '=' || owner::text, ',' ORDER BY name COLLATE "C") FROM recsys.models};
my $ids_q = q{SELECT string_agg(format('%s/%s=%s', model, version, version_id), ' '
	ORDER BY model COLLATE "C", version) FROM recsys.model_versions};
my $seq_q = q{SELECT format('%s %s', last_value, is_called) FROM recsys.model_version_ids};

my %before = serving($node, 'src', current => 1);
my %tables_before = catalog_tables($node, 'src');
my $owners_before = $node->safe_psql('src', $owners_q);
my $ids_before = $node->safe_psql('src', $ids_q);
my $seq_before = $node->safe_psql('src', $seq_q);
my $objects_before = catalog_description($node, 'src', '^rs_idx_');
my $max_id = $node->safe_psql('src', 'SELECT max(version_id) FROM recsys.model_versions');

is($owners_before,
	join(',', map { "$_->{name}=$_->{owner}" } sort { $a->{name} cmp $b->{name} }
		  (models(current => 1), { name => 'm_tuned', owner => 'rs_trainer' })),
	'before: each model belongs to the role that trained it');
for my $k (sort keys %before)
{
	unlike($before{$k}, qr/^ERROR/, "before: $k works");
	isnt($before{$k}, '', "before: $k returns rows");
}

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump -Fc of a database with models');

my @targets = ([ $node, 'the same cluster' ], [ $other, 'another cluster' ]);
for my $target (@targets)
{
	my ($n, $where) = @$target;
	# (nothing else to check when the restore failed)
	ok($n->run_log([ 'pg_restore', '--exit-on-error', '-d', $n->connstr('dst'), $dump ]),
		"pg_restore into $where")
	  or next;

	my %after = serving($n, 'dst', current => 1);
	is($after{$_}, $before{$_}, "$where: $_ is the same") for sort keys %before;

	my %tables_after = catalog_tables($n, 'dst');
	for my $t (sort keys %tables_before)
	{
		next if $t eq 'recsys.models';    # owners by OID, compared by name below
		is($tables_after{$t}, $tables_before{$t}, "$where: $t has the same rows");
	}
	is(query($n, $owners_q), $owners_before, "$where: the models keep their owners");
	is(query($n, $ids_q), $ids_before, "$where: every version keeps its version_id");
	is(query($n, $seq_q), $seq_before,
		"$where: the version_id sequence is where it was ($seq_before)");
	is(lines_diff($objects_before, catalog_description($n, 'dst', '^rs_idx_')), '',
		"$where: the restored extension's objects are the dumped ones (- dumped only, + restored only)");

	# the managed index: asked for still, built again on request
	is(query($n, q{SELECT index_options FROM recsys.models WHERE name = 'm_ials'}), '{"m": 8}',
		"$where: m_ials still asks for its index");
	is(query($n, $managed_q), '0', "$where: the index itself was not restored");
	is(query($n, q{SELECT string_agg(r, ',') FROM recsys.restore_model_indexes() r}), 'm_ials',
		"$where: restore_model_indexes() builds it");
	is(query($n, $managed_q), '1', "$where: m_ials has its managed index again");
	is(query($n, q{SELECT string_agg(item::text || ':' || rank, ',' ORDER BY rank)
		FROM recsys.recommend('m_ials', 1, 10)}),
		$node->safe_psql('src', q{SELECT string_agg(item::text || ':' || rank, ',' ORDER BY rank)
		FROM recsys.recommend('m_ials', 1, 10)}), "$where: m_ials serves the same list");

	# training goes on with new identities
	is(query($n, q{SET ROLE rs_trainer; SELECT version FROM recsys.retrain('m_two')}),
		'3', "$where: rs_trainer retrains m_two as version 3");
	is(query($n, q{SET ROLE rs_trainer_b;
		SELECT version FROM recsys.train('m_pop', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity')}),
		'2', "$where: rs_trainer_b trains m_pop again, version 2");
	is(query($n, qq{SELECT count(*) FROM recsys.model_versions
		WHERE version_id > $max_id AND (model, version) IN (('m_two', 3), ('m_pop', 2))}),
		'2', "$where: the new versions get version_ids above every restored one");
	is(query($n, q{SELECT count(DISTINCT version_id) = count(*) FROM recsys.model_versions}),
		't', "$where: version_ids are all different");
	is(query($n, q{SELECT count(*) FROM generate_series(1, 5) u,
		LATERAL recsys.recommend('m_two', u, 10)}), '50', "$where: the retrained model serves");
	is(query($n, $tune_q), '2:3', "$where: rs_trainer tunes m_tuned again, version 2");
	is(query($n, q{SELECT string_agg(version || ':' || n, ',' ORDER BY version)
		FROM (SELECT version, count(*) AS n FROM recsys.tuning_trials WHERE model = 'm_tuned' GROUP BY version) t}),
		'1:3,2:3', "$where: the restored trials of version 1 and the new ones of version 2");
}

$node->stop;
$other->stop;
done_testing();
