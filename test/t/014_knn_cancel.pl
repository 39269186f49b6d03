# Neighbourhood models as a long job: verbose training reports progress
# (the baseline's loss per sweep, then the share of entities done), and a
# cancel that arrives while the neighbour lists are being computed stops
# the training promptly, leaving the previous version active.  Latencies
# are printed, not asserted (the machine is shared).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node psql_in_background cancel_backends psql_with_timeout);

my $node = recsys_node('knn_cancel', sql => q{
CREATE UNLOGGED TABLE r AS SELECT * FROM recsys.synth_interactions(20000, 5000, 2000000, 3);
CREATE TABLE small AS SELECT * FROM recsys.synth_interactions(300, 100, 6000, 3);
SELECT * FROM recsys.train('m', 'small', 'user_id', 'item_id', NULL, 'item_knn');
});

# 1. verbose: a NOTICE per baseline sweep (with its loss) and for the lists
my ($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT version FROM recsys.train('e', 'small', 'user_id', 'item_id', 'rating', 'item_knn',
		'{"feedback": "explicit", "iterations": 3, "verbose": true}')});
is($rc, 0, 'verbose explicit item_knn trains');
my @sweeps = $stderr =~ /NOTICE:  model "e": iteration \d+, loss [-0-9.e+]+, [0-9.]+ s/g;
is(scalar @sweeps, 3, 'one NOTICE per baseline sweep, with the loss and the time');
like($stderr, qr/NOTICE:  model "e": neighbours of items: 100 lists, \d+ neighbours, [0-9.]+ s/,
	'a NOTICE when the lists are done');
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT version FROM recsys.train('q', 'small', 'user_id', 'item_id', NULL, 'item_knn')});
unlike($stderr, qr/NOTICE/, 'no NOTICE without verbose');

# 2. pg_cancel_backend while the neighbour lists are computed
my $long = q{SELECT recsys.train('m', 'r', 'user_id', 'item_id', NULL, 'user_knn', '{"verbose": true, "threads": 1, "shrinkage": 0}')};
my $run = psql_in_background($node, $long);
my $deadline = time + 600;
$run->{h}->pump
  until $run->{err} =~ /neighbours of users: \d+ of \d+ done/ || !$run->{h}->pumpable || time > $deadline;
like($run->{err}, qr/neighbours of users: \d+ of \d+ done/, 'progress NOTICEs while the lists are computed');
my $latency = cancel_backends($node, '%user_knn%', $run);
like($run->{err}, qr/canceling statement due to user request/, 'user_knn cancelled by pg_cancel_backend');
diag(sprintf('pg_cancel_backend stopped user_knn on 2M rows in %.3f s (including psql round trips)', $latency));

# 3. statement_timeout
my $secs;
($stderr, $secs) = psql_with_timeout($node, '3s', $long);
like($stderr, qr/canceling statement due to statement timeout/, 'user_knn stopped by statement_timeout');
diag(sprintf('statement_timeout = 3 s: the statement returned after %.3f s', $secs));

is($node->safe_psql('postgres', q{SELECT active_version || ' ' || algorithm FROM recsys.models WHERE name = 'm'}),
	'1 item_knn', 'the previous version stays active');
is($node->safe_psql('postgres',
	q{SELECT (SELECT count(*) FROM recsys.model_versions WHERE model = 'm') || ' ' ||
			 (SELECT count(*) FROM recsys.user_neighbors WHERE model = 'm')}),
	'1 0', 'no partial version or lists are stored');

$node->stop;
done_testing();
