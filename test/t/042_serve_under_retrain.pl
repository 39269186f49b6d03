# Load: pgbench clients call recommend() for random users while a retrain
# of the same model commits a new version every few seconds.  No query
# fails, every list has k items and none the user has seen, no reader ever
# waits on a lock, and no call takes longer than a generous bound (the
# latencies are printed: the machine is shared, so the bound is loose).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $clients = 4;
my $seconds = 30;
my $k = 10;
# the stated bound for one recommend() call while retrains commit
my $bound_ms = 2000;

my $node = PostgreSQL::Test::Cluster->new('load');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 30\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT * FROM recsys.generate_dataset('d', users => 3000, items => 800, interactions => 120000, seed => 4);
SELECT * FROM recsys.train('m', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 16, "iterations": 3, "keep": 2}');
});

# Fails (division by zero at run time) unless the list has k items and
# none of them is one the user interacted with.
my $script = $node->basedir . '/recommend.sql';
open(my $fh, '>', $script) or die;
print $fh <<"SQL";
\\set u random(1, 3000)
SELECT CASE WHEN count(*) = $k AND count(s.item_id) = 0 THEN 1 ELSE 1 / (count(*) * 0) END
FROM recsys.recommend('m', :u::int, $k) r
LEFT JOIN d_interactions s ON s.user_id = :u::int AND s.item_id = r.item;
SQL
close($fh);

my $logprefix = $node->basedir . '/lat';
my ($bout, $berr) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', $clients, '-j', '2', '-T', $seconds, '-M', 'prepared',
		'-f', $script, '-l', '--log-prefix', $logprefix,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$bout, '2>', \$berr);

# the retrains: one after the other, each committing a new version, with a
# pause between them, for as long as the readers run
my $retrains = 0;
my $lock_waits = 0;
my $samples = 0;
my $readers_seen = 0;
my $t_end = time + $seconds - 2;
while (time < $t_end)
{
	my ($rout, $rerr) = ('', '');
	my $r = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', $node->host, '-p', $node->port,
		  '-d', 'postgres', '-c', q{SELECT version FROM recsys.retrain('m')} ],
		'>', \$rout, '2>', \$rerr);
	# while it runs, look for readers waiting on a lock
	while ($r->pumpable)
	{
		$lock_waits += $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%recsys.recommend(%'
			  AND backend_type = 'client backend' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()});
		$readers_seen += $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%recsys.recommend(%'
			  AND backend_type = 'client backend' AND pid <> pg_backend_pid()});
		$samples++;
		sleep 0.2;
		$r->pump_nb;
	}
	$r->finish;
	die "retrain failed: $rerr" if $?;
	$retrains++;
	sleep 1;
}
$bench->finish;
my $bench_rc = $?;

is($bench_rc, 0, 'pgbench exited cleanly');
my ($tx) = $bout =~ /number of transactions actually processed: (\d+)/;
my ($failed) = $bout =~ /number of failed transactions: (\d+)/;
$failed //= 0;
unlike($berr, qr/(ERROR|aborted)/, 'no reader got an error (every list had k items and no seen item)');
is($failed, 0, 'zero failed transactions');
cmp_ok($tx // 0, '>', 100, "readers ran ($tx recommend() calls)");
cmp_ok($retrains, '>=', 3, "$retrains retrains committed while they ran");
is($node->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}),
	1 + $retrains, 'each retrain committed a version');
cmp_ok($readers_seen, '>', 0, "readers were seen while retrains ran ($readers_seen in $samples samples)");
is($lock_waits, 0, "no reader waited on a lock ($samples samples during the retrains)");

# latencies from the per-transaction logs (column 3: microseconds)
my @lat;
for my $f (glob("$logprefix.*"))
{
	open(my $l, '<', $f) or die;
	while (<$l>)
	{
		my @c = split;
		push @lat, $c[2] / 1000.0;
	}
	close($l);
}
@lat = sort { $a <=> $b } @lat;
my $max = $lat[-1] // 0;
my $p50 = $lat[ int(0.50 * $#lat) ] // 0;
my $p99 = $lat[ int(0.99 * $#lat) ] // 0;
cmp_ok($max, '<', $bound_ms, "the slowest recommend() took less than $bound_ms ms");
diag(sprintf('%d clients, %d s: %d recommend() calls, %d errors, %d retrains; latency p50 %.2f ms, p99 %.2f ms, max %.1f ms (bound %d ms)',
	$clients, $seconds, $tx // 0, $failed, $retrains, $p50, $p99, $max, $bound_ms));

$node->stop;
done_testing();
