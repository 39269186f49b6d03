# Resource limits of the long non-training functions: pg_cancel_backend()
# and statement_timeout stop recommend_all and a large synth_interactions
# within a second; 1000 calls of each serving path in one backend do not
# grow its memory; a training over recsys.memory_limit is a clean error.  (Training
# cancels: 011 and 014.)  Latencies and sizes are printed.

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

my $node = recsys_node('limits', sql => q{
CREATE UNLOGGED TABLE r AS SELECT * FROM recsys.synth_interactions(40000, 4000, 400000, 7);
SELECT * FROM recsys.train('m', 'r', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 32, "iterations": 2}');
});

# cancel($sql, $marker): run $sql, cancel it once it has run 1 s, return
# (stderr, seconds from the cancel to the statement's end)
sub cancel_after_start
{
	my ($sql, $marker) = @_;
	my $run = psql_in_background($node, $sql);
	$node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%$marker%' AND state = 'active' AND backend_type = 'client backend'
		   AND now() - query_start > interval '1 s' AND pid <> pg_backend_pid()})
	  or die "$marker did not start";
	my $secs = cancel_backends($node, "%$marker%", $run);
	return ($run->{err}, $secs);
}

# recommend_all for 40k users x 4k items, written to /dev/null-like count,
# repeated so that it surely runs longer than the test waits
my $all = q{SELECT count(*) FROM (SELECT * FROM recsys.recommend_all('m', 50) UNION ALL SELECT * FROM recsys.recommend_all('m', 50) UNION ALL SELECT * FROM recsys.recommend_all('m', 50)) s /* all_marker */};
my ($err, $secs) = cancel_after_start($all, 'all_marker');
like($err, qr/canceling statement due to user request/, 'recommend_all cancelled by pg_cancel_backend');
cmp_ok($secs, '<', 1.0, 'recommend_all stopped within a second of the cancel');
diag(sprintf('pg_cancel_backend stopped recommend_all in %.3f s', $secs));

my ($stderr, $elapsed) = psql_with_timeout($node, '1500ms', $all);
my ($rc, $stdout);
like($stderr, qr/canceling statement due to statement timeout/, 'recommend_all stopped by statement_timeout');
cmp_ok($elapsed, '<', 2.5, 'within a second of the 1.5 s timeout');
diag(sprintf('statement_timeout = 1.5 s: recommend_all returned after %.3f s', $elapsed));

# the generator at a scale that takes minutes
my $synth = q{SELECT count(*) FROM recsys.synth_interactions(1000000, 100000, 500000000, 1) /* synth_marker */};
($err, $secs) = cancel_after_start($synth, 'synth_marker');
like($err, qr/canceling statement due to user request/, 'a large synth_interactions cancelled');
cmp_ok($secs, '<', 1.0, 'synth_interactions stopped within a second of the cancel');
diag(sprintf('pg_cancel_backend stopped synth_interactions in %.3f s', $secs));

# 1000 calls in one backend: the memory contexts do not grow, for every
# serving path (factor and neighbourhood scoring, fold-in of a new user
# from the source, a session, constraint queries, similar items)
$node->safe_psql('postgres', q{
SELECT version FROM recsys.train('k', 'r', 'user_id', 'item_id', NULL, 'item_knn', '{"neighbors": 20}');
CREATE TABLE groups AS SELECT item_id, item_id % 7 AS g FROM generate_series(1, 4000) item_id;
-- users who arrived after training: recommend() folds them in from r
INSERT INTO r (user_id, item_id, rating, clicks, ts)
SELECT 100000 + u, i * 13, 3, 2, now() FROM generate_series(0, 50) u, generate_series(1, 5) i;
});
my $mem = q{SELECT sum(total_bytes) FROM pg_backend_memory_contexts};
my $rss = q{SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1]};
my @paths = (
	[ 'recommend()', q{SELECT count(*) FROM recsys.recommend('m', (random() * 39999)::int + 1, 10);} ],
	[ 'recommend() on item_knn', q{SELECT count(*) FROM recsys.recommend('k', (random() * 39999)::int + 1, 10);} ],
	[ 'recommend() folding in a new user', q{SELECT count(*) FROM recsys.recommend('m', 100000 + (random() * 50)::int, 10);} ],
	[ 'recommend() with constraint queries', q{SELECT count(*) FROM recsys.recommend('m', (random() * 39999)::int + 1, 10, exclude_query => 'SELECT 3', item_groups => 'SELECT item_id, g FROM groups', max_per_group => 3);} ],
	[ 'recommend_for_items()', q{SELECT count(*) FROM recsys.recommend_for_items('m', ARRAY[(random() * 3999)::int + 1, 5, 7], 10);} ],
	[ 'similar_items()', q{SELECT count(*) FROM recsys.similar_items('m', (random() * 3999)::int + 1, 10);} ],
);
for my $path (@paths)
{
	my ($what, $call) = @$path;
	my $script = "SET client_min_messages = warning;\n" . "$call\n" x 100 . "$mem;\n$rss;\n"
	  . "$call\n" x 1000 . "$mem;\n$rss;\n";
	($rc, $stdout, $stderr) = $node->psql('postgres', $script);
	my @lines = split /\n/, $stdout;
	my @tens = grep { $_ eq '10' } @lines;
	is(scalar @tens, 1100, "$what: 1100 calls each returned 10 items");
	my @mems = grep { /^\d+$/ && $_ ne '10' } @lines;
	is(scalar @mems, 4, "$what: memory read after 100 and after 1100 calls");
	my ($ctx0, $rss0, $ctx1, $rss1) = @mems;
	cmp_ok($ctx1 - $ctx0, '<=', 1024 * 1024,
		"$what: memory contexts grew at most 1 MB over 1000 calls ($ctx0 -> $ctx1 bytes)");
	diag(sprintf('1000 calls of %s: memory contexts %d -> %d bytes (%+d), RSS %d -> %d kB',
		$what, $ctx0, $ctx1, $ctx1 - $ctx0, $rss0, $rss1));
}

# over the memory bound: a clean error, the active version unchanged
($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SET recsys.memory_limit = '4MB'; SELECT recsys.train('m', 'r', 'user_id', 'item_id', 'clicks', 'ials')});
like($stderr, qr/needs more memory than recsys.memory_limit allows/, 'training over the memory bound: clear error');
is($node->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}), '1',
	'the active version is unchanged');

$node->stop;
done_testing();
