# Crash safety of training: the server is stopped in immediate mode (no
# shutdown checkpoint, like a crash) while a retrain builds a new version,
# and while fit() trains a new model; after restart the previous version
# is active and complete, and no row of the interrupted work is visible
# anywhere in the catalog.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node psql_in_background);

my $node = recsys_node('crash', sql => q{
CREATE TABLE r AS SELECT * FROM recsys.synth_interactions(20000, 3000, 600000, 9);
SELECT * FROM recsys.train('m', 'r', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 16, "iterations": 2}');
});
my $before = $node->safe_psql('postgres', q{
SELECT m.active_version, v.users, v.items,
       (SELECT count(*) FROM recsys.user_factors u WHERE u.model = 'm' AND u.version = m.active_version),
       (SELECT count(*) FROM recsys.item_factors i WHERE i.model = 'm' AND i.version = m.active_version)
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
WHERE m.name = 'm'});

my $crashes = 0;

# crash_during($sql, $marker, $delay): run $sql (marked by the comment
# /* $marker */), stop the server with an immediate shutdown once it has
# run $delay seconds, and start it again
sub crash_during
{
	my ($sql, $marker, $delay) = @_;

	my $run = psql_in_background($node, $sql);
	$node->poll_query_until('postgres',
		qq{SELECT count(*) >= 1 FROM pg_stat_activity WHERE query LIKE '%$marker */'
		   AND backend_type = 'client backend' AND now() - query_start > interval '$delay s' AND pid <> pg_backend_pid()})
	  or die "$marker did not start: $run->{err}";
	$node->stop('immediate');
	$run->{h}->finish;
	$crashes++;
	$node->start;
	return;
}
for my $delay (1.5, 3.0)
{
	# a retrain that runs long enough to be caught mid-way
	crash_during(
		q{SELECT recsys.train('m', 'r', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 64, "iterations": 10000}') /* crash_retrain */},
		'crash_retrain', $delay);

	is($node->safe_psql('postgres', q{
SELECT m.active_version, v.users, v.items,
       (SELECT count(*) FROM recsys.user_factors u WHERE u.model = 'm' AND u.version = m.active_version),
       (SELECT count(*) FROM recsys.item_factors i WHERE i.model = 'm' AND i.version = m.active_version)
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
WHERE m.name = 'm'}), $before, "after crash $crashes: the previous version is active and complete");
	is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM recsys.model_versions WHERE model = 'm' AND version > 1)
     + (SELECT count(*) FROM recsys.user_factors WHERE model = 'm' AND version > 1)
     + (SELECT count(*) FROM recsys.item_factors WHERE model = 'm' AND version > 1)}),
		'0', "after crash $crashes: no row of the interrupted version is visible");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.recommend('m', 1, 10)}), '10',
		"after crash $crashes: the model serves");
}

# the aggregate form: a crash while fit() trains a new model leaves no
# trace of it
{
	crash_during(
		q{SELECT recsys.fit('f', user_id, item_id, clicks, '{"algorithm": "ials", "factors": 64, "iterations": 10000}') FROM r /* crash_fit */},
		'crash_fit', 2);
	is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM recsys.models WHERE name = 'f')
     + (SELECT count(*) FROM recsys.model_versions WHERE model = 'f')
     + (SELECT count(*) FROM recsys.user_factors WHERE model = 'f')
     + (SELECT count(*) FROM recsys.item_factors WHERE model = 'f')}),
		'0', "after crash $crashes (during fit): no trace of the new model");
}

# and a retrain after the crashes completes as the next version
$node->safe_psql('postgres', q{SELECT recsys.retrain('m')});
is($node->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}), '2',
	'a retrain after the crashes becomes version 2');
diag("immediate stops survived: $crashes");

$node->stop;
done_testing();
