# Evaluation on a streaming standby: evaluate(), evaluate_users(),
# predictions() and audit_exposure() only read, so analysts can run them
# on a replica; they return exactly what the primary returns (metrics
# compared to 1e-12, predictions to the last bit).  split() creates
# tables, so on the standby it fails as a read-only transaction (25006)
# and leaves nothing behind.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysCluster qw(standby_with_data split_models_sql same_on_standby);

my ($primary, $standby) =
  standby_with_data(split_models_sql(users => 300, items => 120, seed => 11, split_seed => 3));
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# Each query gives rows of text; floats are printed with every digit.
my %queries = (
	'evaluate, ials, per gender' => q{
SELECT metric, k, value::text, user_group FROM recsys.evaluate('mi', 'd_interactions_test',
       user_groups => 'SELECT user_id, gender FROM d_users') ORDER BY user_group NULLS FIRST, metric},
	'evaluate, als, with rmse and a threshold' => q{
SELECT metric, k, value::text FROM recsys.evaluate('me', 'd_interactions_test', 5, threshold => 4)
 ORDER BY metric},
	'evaluate_users, ials' => q{
SELECT user_key, n_relevant, "precision"::text, recall::text, ndcg::text, ap::text, rr::text, hit
  FROM recsys.evaluate_users('mi', 'd_interactions_test', 10) ORDER BY user_key},
	'predictions, als' => q{
SELECT user_key, item_key, rating, prediction::text, known_user, known_item
  FROM recsys.predictions('me', 'd_interactions_test') ORDER BY user_key, item_key},
	'audit_exposure, ials' => q{
SELECT item_group, metric, value::text FROM recsys.audit_exposure('mi',
       'SELECT item_id, category FROM d_items', 10) ORDER BY item_group NULLS LAST, metric},
);

same_on_standby($primary, $standby, \%queries);

# split() writes tables: a read-only transaction refuses it, and nothing
# is left behind on the standby.
my ($ret, $stdout, $stderr) = $standby->psql('postgres',
	q{SELECT * FROM recsys.split('d_interactions', 'user_id', 'item_id', train_table => 'x_train', test_table => 'x_test')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($ret, 0, 'split on the standby fails');
like($stderr, qr/25006/, 'split on the standby: read-only transaction (25006)');
is($standby->safe_psql('postgres', q{SELECT to_regclass('x_train') IS NULL AND to_regclass('x_test') IS NULL}),
	't', 'split on the standby left no table');

done_testing();
