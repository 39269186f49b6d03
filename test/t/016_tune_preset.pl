# recsys.tune() on the generator's movielens preset (MovieLens-100k's
# marginals, realistic rating noise): the best trial's cross-validated RMSE
# is no worse than the defaults' (trial 0), it beats the bias-only level
# of the preset, and the same seed gives the same trials and the same
# model; another seed other folds.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node);

my $node = recsys_node('tunepreset', sql => q{
SELECT * FROM recsys.generate_dataset('ml', preset => 'movielens');
});

my $tune = sub {
	my ($model, $seed) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(format('%s|%s|%s|%s|%s', trial, options, mean, sd, best), E'\\n' ORDER BY trial)
FROM recsys.tune('$model', 'ml_interactions', 'user_id', 'item_id', 'rating', 'als',
	space => '{"factors": [8], "regularization": [0.08, 0.12]}', folds => 3, seed => $seed,
	base_options => '{"iterations": 8, "threads": 1}')});
};

my $first = $tune->('ml_a', 42);
my @rows = map { [ split /\|/ ] } split /\n/, $first;
is(scalar @rows, 3, 'three trials: the defaults and two from the grid');
my ($best) = grep { $_->[4] eq 't' } @rows;
ok(defined $best, 'one trial is best');
my ($min) = sort { $a <=> $b } map { $_->[2] } @rows;
is($best->[2], $min, "the best trial has the lowest mean RMSE ($best->[2])");
cmp_ok($best->[2], '<=', $rows[0][2], "the best is no worse than the defaults ($rows[0][2])");
cmp_ok($best->[2], '<', 0.94, 'the best beats the bias-only level of the preset (about 0.94)');
is($node->safe_psql('postgres', q{SELECT m.options::text = (SELECT options::text FROM recsys.tuning_trials
	WHERE model = 'ml_a' AND best) FROM recsys.models m WHERE m.name = 'ml_a'}),
	't', 'the model is trained with the best options');

is($tune->('ml_b', 42), $first, 'the same seed: the same trials, to the last digit');
is($node->safe_psql('postgres', q{SELECT count(*) = (SELECT count(*) FROM recsys.user_factors WHERE model = 'ml_a')
	AND bool_and(a.factors::text = b.factors::text AND a.bias = b.bias)
	FROM recsys.user_factors a JOIN recsys.user_factors b ON b.model = 'ml_b' AND b.user_key = a.user_key
	WHERE a.model = 'ml_a'}), 't', 'the same seed: the same model');
isnt($tune->('ml_c', 7), $first, 'another seed: other folds, other means');

$node->stop;
done_testing();
