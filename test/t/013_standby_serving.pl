# Serving on a streaming standby: recommend() (one user, under LATERAL,
# with exclusions, a re-ranking constraint, an unknown user, a user folded
# in from the source), recommend_for_items(), recommend_all() and predict()
# return exactly what the primary returns, for an ials and an als model; training
# on the standby fails as a read-only transaction (25006); after a retrain
# on the primary the standby serves the new version, also in a session
# that had cached the old one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysCluster qw(primary_and_standby);

# The standby starts from an empty database: the extension, the data and
# the models all reach it through streamed WAL.
my ($primary, $standby) = primary_and_standby();

$primary->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT * FROM recsys.generate_dataset('d', users => 300, items => 120, interactions => 9000, seed => 11);
SELECT * FROM recsys.train('mi', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 8, "iterations": 4}');
SELECT * FROM recsys.train('me', 'd_interactions', 'user_id', 'item_id', 'rating', 'als',
                           '{"factors": 8, "iterations": 4}');
-- a user who arrives after training: served by folding in their rows
INSERT INTO d_interactions (user_id, item_id, rating, clicks, ts)
SELECT 100001, i, 4, 3, now() FROM generate_series(2, 40, 3) i;
});
$primary->wait_for_catchup($standby, 'replay');

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is( $standby->safe_psql('postgres',
		q{SELECT string_agg(name || ':' || active_version, ',' ORDER BY name) FROM recsys.models}),
	'me:1,mi:1', 'the standby has both models');

# Every serving query, as text; each must give the same rows on both.
my %queries = (
	'recommend, ials, several users' => q{
SELECT u, r.item, r.score, r.rank FROM unnest(ARRAY[1, 2, 17, 150, 299]) u,
       LATERAL recsys.recommend('mi', u, 10) r ORDER BY u, r.rank},
	'recommend, als, several users' => q{
SELECT u, r.item, r.score, r.rank FROM unnest(ARRAY[1, 2, 17, 150, 299]) u,
       LATERAL recsys.recommend('me', u, 10) r ORDER BY u, r.rank},
	'recommend, ials, LATERAL over every user' => q{
SELECT u.user_id, r.item, r.score, r.rank FROM d_users u
       CROSS JOIN LATERAL recsys.recommend('mi', u.user_id, 5) r ORDER BY u.user_id, r.rank},
	'recommend, als, LATERAL over every user' => q{
SELECT u.user_id, r.item, r.score, r.rank FROM d_users u
       CROSS JOIN LATERAL recsys.recommend('me', u.user_id, 5) r ORDER BY u.user_id, r.rank},
	'recommend, seen kept and explicit exclusions' => q{
SELECT r.item, r.score, r.rank FROM recsys.recommend('mi', 42, 15, false, ARRAY[1, 2, 3, 5, 8]) r ORDER BY r.rank},
	'recommend, unknown user (fallback)' => q{
SELECT r.item, r.score, r.rank FROM recsys.recommend('me', 100000, 10) r ORDER BY r.rank},
	'recommend, user added after training (fold-in)' => q{
SELECT r.item, r.score, r.rank FROM recsys.recommend('mi', 100001, 10) r ORDER BY r.rank},
	'recommend, at most 2 items per category' => q{
SELECT r.item, r.score, r.rank FROM recsys.recommend('mi', 7, 10,
       item_groups => 'SELECT item_id, category FROM d_items', max_per_group => 2) r ORDER BY r.rank},
	'recommend_for_items, ials' => q{
SELECT r.item, r.score, r.rank FROM recsys.recommend_for_items('mi', ARRAY[1, 5, 9, 20], 10) r ORDER BY r.rank},
	'recommend_for_items, als with ratings' => q{
SELECT r.item, r.score, r.rank FROM recsys.recommend_for_items('me', ARRAY[1, 5, 9], 10,
       ratings => ARRAY[5, 1, 4]) r ORDER BY r.rank},
	'recommend_all, ials' => q{
SELECT "user", item, score, rank FROM recsys.recommend_all('mi', 5) ORDER BY "user"::int, rank},
	'recommend_all, als' => q{
SELECT "user", item, score, rank FROM recsys.recommend_all('me', 5) ORDER BY "user"::int, rank},
	'predict, both models' => q{
SELECT u, i, recsys.predict('mi', u, i), recsys.predict('me', u, i)
FROM generate_series(1, 300, 7) u, generate_series(1, 121, 10) i ORDER BY u, i},
);

# The number of rows each query must return (so that "equal" is not
# "both empty").  Heavy users have seen all but a few of the 120 items:
# they get fewer than k.
my $top5_all = $primary->safe_psql('postgres', q{
SELECT sum(least(5, (SELECT count(DISTINCT item_id) FROM d_interactions) - n))
FROM (SELECT count(*) AS n FROM d_interactions JOIN d_users USING (user_id) GROUP BY user_id) s});
cmp_ok($top5_all, '<', 1500, "some users have fewer than 5 unseen items ($top5_all rows for 300 users)");
my %rows = (
	'recommend, ials, several users' => 50,
	'recommend, als, several users' => 50,
	'recommend, ials, LATERAL over every user' => $top5_all,
	'recommend, als, LATERAL over every user' => $top5_all,
	'recommend, seen kept and explicit exclusions' => 15,
	'recommend, unknown user (fallback)' => 10,
	'recommend, user added after training (fold-in)' => 10,
	'recommend, at most 2 items per category' => 10,
	'recommend_for_items, ials' => 10,
	'recommend_for_items, als with ratings' => 10,
	'recommend_all, ials' => $top5_all,
	'recommend_all, als' => $top5_all,
	'predict, both models' => 43 * 13,
);

# run every query on a node; dies on any error
sub serve_all
{
	my ($node) = @_;
	my %out;
	$out{$_} = $node->safe_psql('postgres', $queries{$_}) for keys %queries;
	return \%out;
}

my $on_primary = serve_all($primary);
my %on_standby;
for my $name (sort keys %queries)
{
	my ($stdout, $stderr) = ('', '');
	my $rc = $standby->psql('postgres', $queries{$name}, stdout => \$stdout, stderr => \$stderr);
	is($rc, 0, "standby: $name runs") or diag("standby error: $stderr");
	$on_standby{$name} = $stdout;
	like($stderr, qr/user 100001 is not in model "mi": folded in from 13 interactions/,
		'standby: the new user was folded in from the source, not served popular items')
	  if $name =~ /fold-in/;
	my $n = () = $on_primary->{$name} =~ /\n/g;
	is($n + 1, $rows{$name}, "primary: $name returns $rows{$name} rows");
	is($stdout, $on_primary->{$name}, "standby: $name equals the primary");
}
like($on_primary->{'predict, both models'}, qr/^1\|1\|-?\d/m, 'predict returns scores');
like($on_primary->{'predict, both models'}, qr/\|\|-?\d[^|\n]*$/m,
	'predict: an item unknown to the model is NULL for ials, the baseline for als');

# Training is a write: refused on the standby, with read_only_sql_transaction
my %writes = (
	'recsys.train' => q{SELECT * FROM recsys.train('mi2', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 8, "iterations": 1}')},
	'recsys.retrain' => q{SELECT * FROM recsys.retrain('mi')},
);
for my $name (sort keys %writes)
{
	my ($rc, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\n$writes{$name}");
	isnt($rc, 0, "standby: $name fails");
	like($err, qr/ERROR:\s+25006:/, "standby: $name fails with SQLSTATE 25006 (read_only_sql_transaction)")
	  or diag("got: $err");
}
is($standby->safe_psql('postgres', q{SELECT count(*) FROM recsys.models}), '2',
	'the refused trainings left the catalog as it was');

# A standby session that served version 1 (its backend caches the items)
my $session = $standby->background_psql('postgres');
my $probe = q{SELECT string_agg(item || ':' || score, ',' ORDER BY rank) FROM recsys.recommend('mi', 17, 10)};
my $cached_v1 = $session->query_safe($probe);
is($cached_v1, $primary->safe_psql('postgres', $probe), 'the standby session serves version 1');

# New data and a retrain of both models on the primary
$primary->safe_psql('postgres', q{
DELETE FROM d_interactions WHERE item_id % 4 = 0;
UPDATE d_interactions SET clicks = clicks + (item_id % 3), rating = least(5, rating + 0.5) WHERE user_id % 2 = 0;
SELECT version FROM recsys.retrain('mi');
SELECT version FROM recsys.retrain('me');
});
$primary->wait_for_catchup($standby, 'replay');
is( $standby->safe_psql('postgres',
		q{SELECT string_agg(name || ':' || active_version, ',' ORDER BY name) FROM recsys.models}),
	'me:2,mi:2', 'the standby sees version 2 of both models');

my $v2_primary = serve_all($primary);
for my $name (sort keys %queries)
{
	my $v2 = $standby->safe_psql('postgres', $queries{$name});
	is($v2, $v2_primary->{$name}, "standby, version 2: $name equals the primary");
	isnt($v2, $on_standby{$name}, "standby, version 2: $name changed with the data");
}
my $session_v2 = $session->query_safe($probe);
is($session_v2, $primary->safe_psql('postgres', $probe),
	'the session that cached version 1 serves version 2 after replay');
isnt($session_v2, $cached_v1, 'and it is not the cached version 1');
$session->quit;

$standby->stop;
$primary->stop;
done_testing();
