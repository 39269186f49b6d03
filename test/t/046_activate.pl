# Rollback across sessions and servers: a session that serves a model (its
# backend caches the active version) follows recsys.activate() run in
# another session on its next call, back to version 1 and forward to 2;
# version => n serves a kept version beside the active one in that session
# without disturbing it; an activation rolled back changes nothing; a
# streaming standby serves what the primary serves after each activation,
# also in a standby session that had cached the version before, and cannot
# activate (read-only, 25006).  An update that waited for an activation
# extends the version it made active.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysCluster qw(primary_and_standby);

my ($primary, $standby) = primary_and_standby('act');

$primary->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT * FROM recsys.generate_dataset('d', users => 200, items => 80, interactions => 5000, seed => 5);
SELECT * FROM recsys.train('m', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 4, "iterations": 3, "seed": 1}');
});

# what a version serves: five users' top 5, as one string
my $lists_sql = q{SELECT string_agg(u || ':' || r.item || ':' || round(r.score::numeric, 6), ',' ORDER BY u, r.rank)
FROM unnest(ARRAY[1, 7, 42, 99, 150]) u, LATERAL recsys.recommend('m', u, 5%s) r};
sub lists_query
{
	my ($version) = @_;
	return sprintf($lists_sql, defined $version ? ", version => $version" : '');
}

my $v1 = $primary->safe_psql('postgres', lists_query());

# the serving sessions: one on the primary, one on the standby; both cache
# version 1
$primary->wait_for_catchup($standby, 'replay');
my $server = $primary->background_psql('postgres');
my $reader = $standby->background_psql('postgres');
is($server->query_safe(lists_query()), $v1, 'the serving session serves version 1');
is($reader->query_safe(lists_query()), $v1, 'the standby serves version 1');

# version 2, other options
$primary->safe_psql('postgres', q{
SELECT * FROM recsys.train('m', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 8, "iterations": 6, "regularization": 0.5, "seed": 2}');
});
my $v2 = $primary->safe_psql('postgres', lists_query());
isnt($v2, $v1, 'version 2 serves other lists');
is($server->query_safe(lists_query()), $v2, 'the serving session follows the retrain');
is($server->query_safe(lists_query(1)), $v1, 'version => 1 still serves version 1 there');
is($server->query_safe(lists_query()), $v2, '... and the active version is still 2');

# rollback in another session: the serving session follows on its next call
is($primary->safe_psql('postgres', q{SELECT recsys.activate('m', 1)}), '2', 'activate returns the version it replaced');
is($server->query_safe(lists_query()), $v1, 'the serving session follows the rollback');
is($server->query_safe(lists_query(2)), $v2, 'version => 2 there serves version 2');
is($server->query_safe(lists_query()), $v1, '... and the active version is still 1');
$primary->wait_for_catchup($standby, 'replay');
is($reader->query_safe(lists_query()), $v1, 'the standby session follows the rollback');
is($standby->safe_psql('postgres', lists_query()), $v1, 'a new standby session serves version 1');
is($standby->safe_psql('postgres', lists_query(2)), $v2, 'the standby serves version 2 by number');

# an activation rolled back changes nothing
$primary->safe_psql('postgres', q{BEGIN; SELECT recsys.activate('m', 2); ROLLBACK;});
is($server->query_safe(lists_query()), $v1, 'a rolled-back activation changes nothing');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM recsys.model_activations WHERE model = 'm'}),
	'3', 'and is not in the history (two trainings, one activation)');

# an activation waits for a retrain of the model in progress (the training
# lock), then applies after it
my $trainer = $primary->background_psql('postgres');
$trainer->query_safe(q{BEGIN});
$trainer->query_safe(q{SELECT version FROM recsys.retrain('m')});
my $activator = $primary->background_psql('postgres', on_error_stop => 0);
$activator->query_until(qr/started/, q{
\echo started
SELECT recsys.activate('m', 2);
});
ok( $primary->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted}),
	'activate waits for the retrain in progress');
$trainer->query_safe(q{COMMIT});
$trainer->quit;
$activator->quit;
is($primary->safe_psql('postgres', q{SELECT active_version FROM recsys.models WHERE name = 'm'}),
	'2', 'the activation applied after the retrain committed');
is( $primary->safe_psql('postgres',
		q{SELECT string_agg(version || '<-' || coalesce(previous_version::text, '-'), ',' ORDER BY activated_at)
		  FROM recsys.model_activations WHERE model = 'm'}),
	'1<--,2<-1,1<-2,3<-1,2<-3', 'the history has every change, in order');

# roll forward: both sessions follow
is($server->query_safe(lists_query()), $v2, 'the serving session follows the roll-forward');
$primary->wait_for_catchup($standby, 'replay');
is($reader->query_safe(lists_query()), $v2, 'the standby session follows the roll-forward');

# the standby cannot activate
my ($rc, $out, $err) = $standby->psql('postgres', q{SELECT recsys.activate('m', 1)});
isnt($rc, 0, 'activate fails on the standby');
like($err, qr/read-only transaction/, 'as a read-only transaction');

# an update waits for an activation in progress, then extends the version
# that activation made active (it reads the catalog after the lock)
$primary->safe_psql('postgres', q{
SELECT * FROM recsys.train('mu', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 4, "iterations": 3, "seed": 1, "time_column": "ts"}');
SELECT * FROM recsys.retrain('mu');
INSERT INTO d_interactions (user_id, item_id, rating, clicks, ts)
SELECT 5000, 1, 4, 1, max(ts) + interval '1 hour' FROM d_interactions;
});
my $rollback = $primary->background_psql('postgres');
$rollback->query_safe(q{BEGIN});
$rollback->query_safe(q{SELECT recsys.activate('mu', 1)});
my $updater = $primary->background_psql('postgres', on_error_stop => 0);
$updater->query_until(qr/started/, q{
\echo started
SELECT recsys.update('mu');
});
ok( $primary->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted}),
	'update waits for the activation in progress');
$rollback->query_safe(q{COMMIT});
$rollback->quit;
$updater->quit;
is($primary->safe_psql('postgres', q{SELECT v.version || ' from ' || v.updated_from || ', active ' || m.active_version
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = 3 WHERE m.name = 'mu'}),
	'3 from 1, active 3', 'the update extended version 1, which the activation made active');

$server->quit;
$reader->quit;
done_testing();
