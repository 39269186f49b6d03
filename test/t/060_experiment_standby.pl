# A/B experiments across sessions and servers: a user's arm is the same in
# every session of the primary, on a streaming standby (which computes it
# itself from the replicated catalog), after a restart, and equals the arm
# fixed by the definition of the hash (values computed apart from the
# build); weights are honoured on 100,000 users on the standby too; serving
# from the experiment on the standby returns the primary's rows; the
# standby cannot create or end an experiment (25006); an experiment ended
# on the primary is ended on the standby, where its users keep their arms;
# a dump restored into another database assigns every user as before.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysCluster qw(primary_and_standby);

my ($primary, $standby) = primary_and_standby();

$primary->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT * FROM recsys.generate_dataset('d', users => 300, items => 120, interactions => 9000, seed => 11);
SELECT * FROM recsys.train('mi', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 8, "iterations": 4}');
SELECT * FROM recsys.train('mp', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
SELECT * FROM recsys.create_experiment('ab',
  '[{"arm": "pop", "model": "mp", "weight": 1}, {"arm": "ials", "model": "mi", "weight": 3}]', salt => 'tap-salt');
});
$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# The arms of 100,000 users, as one digest, and per-arm counts.
my $digest_q = q{
SELECT md5(string_agg(recsys.assign('ab', g), ',' ORDER BY g)) FROM generate_series(1, 100000) g};
my $counts_q = q{
SELECT string_agg(arm || ':' || n, ',' ORDER BY arm)
FROM (SELECT recsys.assign('ab', g) AS arm, count(*) AS n FROM generate_series(1, 100000) g GROUP BY 1) x};

my $digest = $primary->safe_psql('postgres', $digest_q);
like($digest, qr/^[0-9a-f]{32}$/, 'assignment digest computed');
# each safe_psql is a new session
is($primary->safe_psql('postgres', $digest_q), $digest, 'same arms in another session of the primary');
is((split /\n/, $primary->safe_psql('postgres', "SELECT recsys.assign('ab', 5); $digest_q"))[-1], $digest,
	'same arms in a session that assigned before');
is($standby->safe_psql('postgres', $digest_q), $digest, 'same arms on the standby');
is($standby->safe_psql('postgres', $digest_q =~ s/generate_series\(1, 100000\) g/generate_series(1, 100000) g0, LATERAL (SELECT g0::text AS g) t/r),
	$primary->safe_psql('postgres', $digest_q =~ s/generate_series\(1, 100000\) g/generate_series(1, 100000) g0, LATERAL (SELECT g0::text AS g) t/r),
	'same arms for text keys on the standby');

# weights 1:3 within 1% on the standby
my $counts = $standby->safe_psql('postgres', $counts_q);
is($counts, $primary->safe_psql('postgres', $counts_q), 'same counts on both');
my %n = map { split /:/ } split /,/, $counts;
cmp_ok(abs($n{pop} / 100000 - 0.25), '<', 0.01, "pop share within 1% of 0.25 ($n{pop})");
cmp_ok(abs($n{ials} / 100000 - 0.75), '<', 0.01, "ials share within 1% of 0.75 ($n{ials})");

# a dump restored into another database keeps every user's arm
my $dump = $primary->basedir . '/experiments.sql';
$primary->run_log([ 'pg_dump', '-d', $primary->connstr('postgres'), '-f', $dump ]);
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
$primary->run_log([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('restored'), '-f', $dump ]);
is($primary->safe_psql('restored', $digest_q), $digest, 'same arms after pg_dump and restore');

# the points are those of the documented hash (computed apart from this build)
is( $standby->safe_psql('postgres',
		q{SELECT recsys.experiment_point('s1', 42) = 0.6323993894749331
		     AND recsys.experiment_point('homepage', -7::bigint) = 0.34675344299212374}),
	't', 'points on the standby equal the reference values');

# serving from the experiment: the standby returns the primary's rows
my $serve_q = q{
SELECT u, r.arm, r.item, r.score, r.rank FROM generate_series(1, 300, 7) u,
       LATERAL recsys.recommend_experiment('ab', u, 5) r ORDER BY u, r.rank};
my $served = $primary->safe_psql('postgres', $serve_q);
my @rows = split /\n/, $served;
cmp_ok(scalar(@rows), '>=', 40 * 5, 'the primary serves 5 items to (nearly) each of 43 users');
is(scalar(grep { /\|pop\|/ } @rows) > 0 && scalar(grep { /\|ials\|/ } @rows) > 0, 1, 'both arms serve');
is($standby->safe_psql('postgres', $serve_q), $served, 'the standby serves the same arms and items');

# the standby writes nothing
my ($rc, $out, $err) = $standby->psql('postgres',
	q{SELECT * FROM recsys.create_experiment('ab2', '[{"arm": "a", "model": "mp"}]')});
like($err, qr/read-only transaction|recovery/, 'create_experiment fails on the standby');
($rc, $out, $err) = $standby->psql('postgres', q{SELECT recsys.end_experiment('ab')});
like($err, qr/read-only transaction|recovery/, 'end_experiment fails on the standby');

# ended on the primary: ended on the standby, the arms stay
$primary->safe_psql('postgres', q{SELECT recsys.end_experiment('ab')});
$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('postgres', q{SELECT ended_at IS NOT NULL FROM recsys.experiments WHERE name = 'ab'}),
	't', 'the standby sees the experiment ended');
is($standby->safe_psql('postgres', $digest_q), $digest, 'users keep their arms after the end, on the standby');
($rc, $out, $err) = $standby->psql('postgres', q{SELECT * FROM recsys.recommend_experiment('ab', 1, 5)});
like($err, qr/experiment "ab" has ended/, 'the standby no longer serves an ended experiment');

# after a restart of both servers
$primary->restart;
$standby->restart;
is($primary->safe_psql('postgres', $digest_q), $digest, 'same arms on the primary after a restart');
is($standby->safe_psql('postgres', $digest_q), $digest, 'same arms on the standby after a restart');

done_testing();
