# Retraining under load: readers never error and never see a half-written
# version, concurrent retrains of one model serialise into distinct
# versions, and an aborted retrain leaves the previous version active.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node);

my $node = recsys_node('retrain', conf => "max_connections = 30\n", sql => q{
SELECT * FROM recsys.generate_dataset('d', users => 3000, items => 800, interactions => 150000, seed => 5);
SELECT * FROM recsys.train('m', 'd_interactions', 'user_id', 'item_id', 'rating', 'als',
                           '{"factors": 16, "iterations": 3, "keep": 2}');
});

# A reader that fails (division by zero, computed at run time so the
# planner cannot fold it) unless the active version is
# complete: every item of the data has its row, and the version's
# statistics agree with the factor table.
my $n_items = $node->safe_psql('postgres', 'SELECT count(DISTINCT item_id) FROM d_interactions');
cmp_ok($n_items, '>', 500, "the data has $n_items items");
my $reader = <<"SQL";
SELECT CASE WHEN count(*) = $n_items AND count(*) = max(v.items) THEN 1 ELSE 1 / (count(*) * 0) END
FROM recsys.models m
JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
JOIN recsys.item_factors f ON f.model = m.name AND f.version = m.active_version
WHERE m.name = 'm';
SELECT CASE WHEN recsys.predict('m', (random() * 2999)::int + 1, (random() * 799)::int + 1) IS NOT NULL
       THEN 1 ELSE 1 / (random() * 0)::int END;
SQL
my $script = $node->basedir . '/reader.sql';
open(my $fh, '>', $script) or die;
print $fh $reader;
close($fh);

my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '4', '-j', '2', '-T', '20', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$out, '2>', \$err);

# meanwhile: five retrains, each committing a new version
my $retrains = 0;
for my $i (1 .. 5)
{
	my ($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT version FROM recsys.retrain('m')});
	$retrains++ if $rc == 0 && $stdout =~ /^\d+$/;
}
is($retrains, 5, 'five retrains committed while readers ran');

$bench->finish;
my ($tx) = $out =~ /number of transactions actually processed: (\d+)/;
my ($failed) = $out =~ /number of failed transactions: (\d+)/;
$failed = 0 unless defined $failed;
ok(defined $tx && $tx > 0, "readers ran ($tx transactions)");
is(($bench->results)[0], 0, 'pgbench readers exited cleanly') or diag($err);
unlike($err, qr/division by zero|ERROR/, 'no reader ever saw an incomplete version')
  or diag($err);
my ($lat) = $out =~ /latency average = ([\d.]+) ms/;
diag("readers: $tx transactions, 0 errors, latency average $lat ms, during 5 retrains");

is($node->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}),
	'6', 'the last retrain is active');
is($node->safe_psql('postgres', q{SELECT string_agg(version::text, ',' ORDER BY version) FROM recsys.model_versions WHERE model = 'm'}),
	'5,6', 'keep = 2 pruned the older versions');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT version) FROM recsys.user_factors WHERE model = 'm'}),
	'2', 'pruned versions left no factor rows');

# Two retrains at once: the advisory lock makes the second wait for the first
my @h;
my @res = ('', '');
for my $k (0, 1)
{
	push @h, IPC::Run::start(
		[
			'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
			'-c', q{SELECT version FROM recsys.retrain('m')}
		],
		'>', \$res[$k], '2>&1');
}
$_->finish for @h;
chomp @res;
is(join(',', sort @res), '7,8', 'concurrent retrains got distinct versions 7 and 8');
is($node->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}),
	'8', 'the later one is active');

# A retrain whose transaction fails after it stored its version keeps
# version 8 active and leaves no trace of a 9.
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{
BEGIN;
SELECT version FROM recsys.retrain('m');
SELECT 1 / 0;
COMMIT;
});
isnt($rc, 0, 'the transaction failed');
is($node->safe_psql('postgres', q{SELECT max(m.active_version) || ':' || count(*) FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name WHERE m.name = 'm'}),
	'8:2', 'version 8 still active, no version 9 stored');

$node->stop;
done_testing();
