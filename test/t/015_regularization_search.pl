# als and svd without "regularization" choose the penalty on factors on
# held-out ratings (src/regularization.c).  From the search's NOTICEs (one
# per candidate: its penalty and held-out RMSE) this test recomputes the
# search: the candidates are penalties of the grid 0.08 * 1.5^j (3
# digits), each tried once; the walk from j = -1, 0, 1 towards the better
# side stops where the RMSE stops falling; the penalty recorded in the
# version is the tried one of lowest RMSE.  Noisier ratings get a larger
# penalty.  A retrain of the same data chooses the same.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node);

my $node = recsys_node('regsearch', sql => q{
SELECT * FROM recsys.generate_dataset('c', users => 1000, items => 300, interactions => 50000,
	seed => 3, sigma => 0.5);
SELECT * FROM recsys.generate_dataset('n', users => 1000, items => 300, interactions => 50000,
	seed => 3, sigma => 1.5);
});

my %grid = map { $_ => 0 + sprintf('%.3g', 0.08 * 1.5**$_) } (-5 .. 8);
my %index_of = map { sprintf('%.4g', $grid{$_}) => $_ } keys %grid;

# The search's walk, recomputed from the RMSE of each grid index: the
# indices it tries, in order, and the one it keeps.
sub expected_walk
{
	my ($rmse) = @_;
	my @tried = (0, -1, 1);
	my ($here, $down, $up) = map { $rmse->{$_} // 'inf' } (0, -1, 1);
	my $dir = 0;
	$dir = -1 if $down < $here && $down <= $up;
	$dir = 1 if $dir == 0 && $up < $here;
	my $best = $dir;
	if ($dir != 0)
	{
		for (my $j = 2 * $dir; $j >= -5 && $j <= 8; $j += $dir)
		{
			push @tried, $j;
			last unless defined $rmse->{$j} && $rmse->{$j} < $rmse->{$best};
			$best = $j;
		}
	}
	return (\@tried, $best);
}

my %chosen;
for my $data ('c', 'n')
{
	for my $alg ('als', 'svd')
	{
		my $m = "m_${data}_$alg";
		my ($ret, $out, $err) = $node->psql('postgres',
			qq{SET client_min_messages = notice;
SELECT version FROM recsys.train('$m', '${data}_interactions', 'user_id', 'item_id', 'rating', '$alg',
	'{"verbose": true, "threads": 1}')});
		is($ret, 0, "$m: trains");
		my (@tried, %rmse);
		for my $line (split /\n/, $err)
		{
			next unless $line =~ /regularization ([0-9.e+-]+): held-out RMSE ([0-9.]+|inf)/;
			my $j = $index_of{ sprintf('%.4g', $1) };
			ok(defined $j, "$m: candidate $1 is on the grid") or next;
			push @tried, $j;
			$rmse{$j} = $2 eq 'inf' ? 9**9**9 : $2;
		}
		my ($want_tried, $want_best) = expected_walk(\%rmse);
		is(join(',', @tried), join(',', @$want_tried),
			"$m: the candidates tried are the walk's (" . join(',', @tried) . ')');
		my $lambda = $node->safe_psql('postgres', qq{SELECT params->>'regularization' || ' ' ||
	(params->>'auto_regularization') FROM recsys.model_versions WHERE model = '$m'});
		is($lambda, "$grid{$want_best} true",
			"$m: the version records the candidate of lowest held-out RMSE ($grid{$want_best})");
		$chosen{$m} = $grid{$want_best};

		# a retrain of the same data chooses the same
		$node->safe_psql('postgres', qq{SELECT recsys.retrain('$m')});
		is($node->safe_psql('postgres', qq{SELECT params->>'regularization' FROM recsys.model_versions
	WHERE model = '$m' AND version = 2}), "$grid{$want_best}", "$m: a retrain chooses the same");
	}
}
cmp_ok($chosen{m_n_als}, '>', $chosen{m_c_als}, 'als: noisier ratings, larger penalty');
cmp_ok($chosen{m_n_svd}, '>', $chosen{m_c_svd}, 'svd: noisier ratings, larger penalty');

$node->stop;
done_testing();
