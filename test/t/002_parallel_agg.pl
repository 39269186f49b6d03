# recsys.avg(embedding) and recsys.sum(embedding) give the same result over a
# parallel plan (partial aggregates in workers, combined in the leader) as
# over a serial one, with and without GROUP BY, and the right result.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(parallel_node parallel_and_serial);

my $dims = 16;
my $rows = 200_000;

# 200k 16-d embeddings with positive, varied elements, in 7 groups.
my $elems = join(', ', map { "(1.5 + sin(i * $_ + $_))::real" } 1 .. $dims);
my $node = parallel_node(
	'parallel', sql => qq{
CREATE TABLE v (i int, g int, e recsys.embedding($dims));
INSERT INTO v SELECT i, i % 7, ARRAY[$elems]::recsys.embedding
FROM generate_series(1, $rows) i;
VACUUM ANALYZE v;
});

my ($parallel, $serial) = parallel_and_serial();

my $agg_query = q{SELECT recsys.avg(e)::text || ' ' || recsys.sum(e)::text || ' ' || count(e) FROM v};
my $grouped_query = q{
SELECT g || ' ' || recsys.avg(e)::text || ' ' || recsys.sum(e)::text || ' ' || count(e)
FROM v GROUP BY g ORDER BY g};

# --- the plans ------------------------------------------------------------
my $plan = $node->safe_psql('postgres', $parallel . "EXPLAIN (ANALYZE, COSTS OFF) $agg_query");
like($plan, qr/Partial Aggregate/, 'parallel plan has a Partial Aggregate');
like($plan, qr/Finalize Aggregate/, 'parallel plan has a Finalize Aggregate');
like($plan, qr/Gather/, 'parallel plan has a Gather');
like($plan, qr/Workers Launched: [12]/, 'parallel workers were launched');

my $splan = $node->safe_psql('postgres', $serial . "EXPLAIN (COSTS OFF) $agg_query");
unlike($splan, qr/Gather|Partial/, 'serial plan has no Gather');

my $gplan = $node->safe_psql('postgres', $parallel . "EXPLAIN (ANALYZE, COSTS OFF) $grouped_query");
like($gplan, qr/Partial (Hash|Group)?Aggregate/, 'grouped parallel plan has partial aggregation');
like($gplan, qr/Gather/, 'grouped parallel plan has a Gather');
like($gplan, qr/Workers Launched: [12]/, 'grouped: parallel workers were launched');

# --- results: parallel vs serial -------------------------------------------
# rel_dist(a, b): ||a - b|| / ||b||, computed by the extension itself.
sub rel_dist
{
	my ($a, $b) = @_;
	return $node->safe_psql('postgres',
		    "SELECT ('$a'::recsys.embedding OPERATOR(recsys.<->) '$b'::recsys.embedding)"
		  . " / recsys.norm('$b'::recsys.embedding)");
}

sub check_row
{
	my ($what, $p, $s) = @_;
	my ($pavg, $psum, $pn) = split / /, $p;
	my ($savg, $ssum, $sn) = split / /, $s;
	is($pn, $sn, "$what: same count");
	cmp_ok(rel_dist($pavg, $savg), '<', 1e-3, "$what: parallel avg = serial avg");
	cmp_ok(rel_dist($psum, $ssum), '<', 1e-3, "$what: parallel sum = serial sum");
	my $dims_ok = $node->safe_psql('postgres',
		"SELECT recsys.dims('$pavg'::recsys.embedding) = $dims AND recsys.dims('$psum'::recsys.embedding) = $dims");
	is($dims_ok, 't', "$what: results have $dims dimensions");
}

my $p = $node->safe_psql('postgres', $parallel . $agg_query);
my $s = $node->safe_psql('postgres', $serial . $agg_query);
check_row('whole table', $p, $s);

my @pg = split /\n/, $node->safe_psql('postgres', $parallel . $grouped_query);
my @sg = split /\n/, $node->safe_psql('postgres', $serial . $grouped_query);
is(scalar @pg, 7, 'grouped parallel: 7 groups');
is(scalar @sg, 7, 'grouped serial: 7 groups');
for my $k (0 .. $#sg)
{
	my ($gp, $restp) = split / /, $pg[$k], 2;
	my ($gs, $rests) = split / /, $sg[$k], 2;
	is($gp, $gs, "group $gs: same key");
	check_row("group $gs", $restp, $rests);
}

# --- results: against a double precision reference -------------------------
# Element-wise sums and means computed with plain SQL in float8.
my $ref = $node->safe_psql(
	'postgres', q{
SELECT array_agg(s ORDER BY k)::real[]::text || ' ' || array_agg(s / n ORDER BY k)::real[]::text
FROM (SELECT k, sum(x::float8) AS s, count(*) AS n
      FROM v, unnest(e::real[]) WITH ORDINALITY AS u(x, k)
      GROUP BY k) q});
my ($ref_sum, $ref_avg) = split / /, $ref;
my ($pavg, $psum) = split / /, $p;
cmp_ok(
	$node->safe_psql('postgres',
		    "SELECT ('$ref_sum'::real[]::recsys.embedding OPERATOR(recsys.<->) '$psum'::recsys.embedding)"
		  . " / recsys.norm('$psum'::recsys.embedding)"),
	'<', 1e-4, 'parallel sum matches a float8 reference');
cmp_ok(
	$node->safe_psql('postgres',
		    "SELECT ('$ref_avg'::real[]::recsys.embedding OPERATOR(recsys.<->) '$pavg'::recsys.embedding)"
		  . " / recsys.norm('$pavg'::recsys.embedding)"),
	'<', 1e-4, 'parallel avg matches a float8 reference');

# --- empty input and NULLs ---------------------------------------------------
is( $node->safe_psql('postgres',
		$parallel . q{SELECT recsys.avg(e) IS NULL AND recsys.sum(e) IS NULL FROM v WHERE i < 0}),
	't', 'avg and sum of no rows are NULL over a parallel plan');

$node->safe_psql('postgres', q{INSERT INTO v SELECT i, 0, NULL FROM generate_series(1, 1000) i});
my $pn = $node->safe_psql('postgres', $parallel . $agg_query);
check_row('with NULLs (ignored)', $pn, $p);

$node->stop;
done_testing();
