# Long trainings stop promptly on pg_cancel_backend() and statement_timeout,
# leave the previous version active, and leak no memory across repeated
# cancels.  Latencies are printed, not asserted (the machine is shared).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node psql_in_background cancel_backends psql_with_timeout);

my $node = recsys_node('cancel', sql => q{
CREATE UNLOGGED TABLE r AS SELECT * FROM recsys.synth_interactions(20000, 5000, 2000000, 3);
SELECT * FROM recsys.train('m', 'r', 'user_id', 'item_id', 'rating', 'popularity');
});

# a training that would take minutes
my $long = q{SELECT recsys.train('m', 'r', 'user_id', 'item_id', 'rating', 'als', '{"factors": 64, "iterations": 10000, "threads": 1}')};

# 1. pg_cancel_backend while it runs
my $run = psql_in_background($node, $long);
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%10000%' AND state = 'active' AND now() - query_start > interval '1.5 s' AND pid <> pg_backend_pid()})
  or die 'training did not start';
my $cancel_latency = cancel_backends($node, '%10000%', $run);
like($run->{err}, qr/canceling statement due to user request/, 'training cancelled by pg_cancel_backend');
diag(sprintf('pg_cancel_backend stopped a 2M-row ALS training in %.3f s (including psql round trips)', $cancel_latency));

# 2. statement_timeout
my ($stderr, $timeout_elapsed) = psql_with_timeout($node, '2s', $long);
like($stderr, qr/canceling statement due to statement timeout/, 'training stopped by statement_timeout');
diag(sprintf('statement_timeout = 2 s: the statement returned after %.3f s', $timeout_elapsed));

is($node->safe_psql('postgres', q{SELECT active_version || ' ' || algorithm FROM recsys.models WHERE name = 'm'}),
	'1 popularity', 'the previous version stays active after both');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.model_versions WHERE model = 'm'}),
	'1', 'no partial version is stored');

# 3. twenty cancels in one backend: its resident memory stays flat
my $rss = q{SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1]};
my $one = q{SELECT recsys.train('m', 'r', 'user_id', 'item_id', 'rating', 'als', '{"factors": 32, "iterations": 10000}');};
my $script = "SET statement_timeout = '700ms';\n" . "$one\n" x 3
  . "RESET statement_timeout;\n$rss;\nSET statement_timeout = '700ms';\n" . "$one\n" x 20
  . "RESET statement_timeout;\n$rss;\n";
my ($rc, $stdout);
($rc, $stdout, $stderr) = $node->psql('postgres', $script, on_error_stop => 0);
my @rss = grep { /^\d+$/ } split /\n/, $stdout;
my @cancels = $stderr =~ /canceling statement due to statement timeout/g;
is(scalar @cancels, 23, 'all 23 trainings were cancelled');
is(scalar @rss, 2, 'resident memory read twice');
my $growth_kb = $rss[1] - $rss[0];
cmp_ok($growth_kb, '<', 65536, "backend RSS after 20 more cancels within 64 MB of before ($rss[0] kB -> $rss[1] kB)");
diag("backend RSS: $rss[0] kB after 3 cancels, $rss[1] kB after 23 (growth $growth_kb kB)");

# 4. the memory bound: a clear error, not a killed backend
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SET recsys.memory_limit = '10MB'; SELECT recsys.train('m', 'r', 'user_id', 'item_id', 'rating', 'als')});
like($stderr, qr/training needs more memory than recsys.memory_limit allows/, 'over the memory bound: clear error');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
is($node->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}),
	'1', 'still the first version');

$node->stop;
done_testing();
