# recsys.anova, recsys.welch_t_test and recsys.kruskal_wallis over a
# parallel plan (partial states built in workers, serialised, combined in
# the leader) give the serial result, and the serial result equals the same
# statistics computed exactly with plain SQL (float8 sums, rank() for the
# Kruskal-Wallis ranks).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(parallel_node parallel_and_serial);

# 300k rows in 7 groups of different sizes, means and spreads; values on a
# 1/1000 grid, so the rank test sees many ties.
my $node = parallel_node(
	'stats_parallel', sql => q{
CREATE TABLE d (i int, g int, v float8);
INSERT INTO d SELECT i, ((i::bigint * 7919) % 7)::int + (i % 3 = 0)::int * (i % 2),
	round((sin(i * 0.37) * (1 + (i % 7) * 0.2) + (i % 7) * 0.003)::numeric, 3)::float8
FROM generate_series(1, 300000) i;
VACUUM ANALYZE d;
});

my ($parallel, $serial) = parallel_and_serial();

my $q = q{
SELECT (a).statistic || ' ' || (a).p_value || ' ' || (a).df_within || ' ' ||
	   (k).statistic || ' ' || (k).p_value || ' ' || (k).n || ' ' ||
	   (w).statistic || ' ' || (w).df || ' ' || (w).p_value
FROM (SELECT recsys.anova(g, v) AS a, recsys.kruskal_wallis(g, v) AS k,
			 recsys.welch_t_test(g, v) FILTER (WHERE g IN (2, 5)) AS w FROM d) s};

my $plan = $node->safe_psql('postgres',
	$parallel . "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $q");
like($plan, qr/Partial Aggregate/, 'parallel plan has a Partial Aggregate');
like($plan, qr/Finalize Aggregate/, 'parallel plan has a Finalize Aggregate');
like($plan, qr/Workers Launched: [12]/, 'parallel workers were launched');

my @p = split / /, $node->safe_psql('postgres', $parallel . $q);
my @s = split / /, $node->safe_psql('postgres', $serial . $q);
is(scalar @p, 9, 'parallel: nine numbers');

sub rel
{
	my ($a, $b) = @_;
	return $a == $b ? 0 : abs($a - $b) / abs($b);
}

cmp_ok(rel($p[0], $s[0]), '<', 1e-10, "ANOVA F: parallel $p[0] = serial $s[0]");
cmp_ok(rel($p[1], $s[1]), '<', 1e-8, 'ANOVA p: parallel = serial');
is($p[2], $s[2], 'ANOVA df_within: parallel = serial');
# the ranks do not depend on the order rows arrive in; only the order the
# groups' terms are summed in may differ
cmp_ok(rel($p[3], $s[3]), '<', 1e-12, 'Kruskal-Wallis H: parallel = serial');
is($p[5], $s[5], 'Kruskal-Wallis n: parallel = serial');
cmp_ok(rel($p[6], $s[6]), '<', 1e-10, 'Welch t: parallel = serial');
cmp_ok(rel($p[7], $s[7]), '<', 1e-10, 'Welch df: parallel = serial');

# --- the serial values against exact SQL --------------------------------
# ANOVA from float8 sums of squares
my $f = $node->safe_psql(
	'postgres', q{
WITH gm AS (SELECT g, count(*) AS n, avg(v) AS m FROM d GROUP BY g),
	 t AS (SELECT avg(v) AS m, count(*) AS n FROM d),
	 ssb AS (SELECT sum(gm.n * (gm.m - t.m) ^ 2) AS x FROM gm, t),
	 ssw AS (SELECT sum((d.v - gm.m) ^ 2) AS x FROM d JOIN gm USING (g)),
	 k AS (SELECT count(*) AS k FROM gm)
SELECT (ssb.x / (k.k - 1)) / (ssw.x / (t.n - k.k)) FROM ssb, ssw, k, t});
cmp_ok(rel($s[0], $f), '<', 1e-9, "ANOVA F equals the SQL sums of squares ($f)");

# Kruskal-Wallis from SQL mid-ranks with the tie correction
my $h = $node->safe_psql(
	'postgres', q{
WITH mid AS (SELECT g, v, (rank() OVER (ORDER BY v))::float8
						+ ((count(*) OVER (PARTITION BY v))::float8 - 1) / 2 AS rk,
					count(*) OVER () AS n FROM d),
	 grp AS (SELECT g, count(*) AS ng, avg(rk) AS rbar, max(n) AS n FROM mid GROUP BY g),
	 ties AS (SELECT sum(t ^ 3 - t) AS x FROM (SELECT count(*)::float8 AS t FROM d GROUP BY v) q),
	 hraw AS (SELECT 12.0 / (max(n) * (max(n) + 1)) * sum(ng * (rbar - (n + 1) / 2.0) ^ 2) AS x, max(n)::float8 AS n FROM grp)
SELECT hraw.x / (1 - ties.x / (hraw.n ^ 3 - hraw.n)) FROM hraw, ties});
cmp_ok(rel($s[3], $h), '<', 1e-9, "Kruskal-Wallis H equals SQL mid-ranks with the tie correction ($h)");

# Welch from SQL variances
my $t = $node->safe_psql(
	'postgres', q{
WITH a AS (SELECT avg(v) AS m, var_samp(v) / count(*) AS s FROM d WHERE g = 2),
	 b AS (SELECT avg(v) AS m, var_samp(v) / count(*) AS s FROM d WHERE g = 5)
SELECT (a.m - b.m) / sqrt(a.s + b.s) FROM a, b});
cmp_ok(rel($s[6], $t), '<', 1e-9, "Welch t equals SQL (group 2 minus group 5: $t)");

# --- grouped: per partition, parallel = serial -------------------------
my $gq = q{
SELECT i % 4, (recsys.anova(g, v)).statistic, (recsys.kruskal_wallis(g, v)).statistic
FROM d GROUP BY i % 4 ORDER BY 1};
my @gp = split /\n/, $node->safe_psql('postgres', $parallel . $gq);
my @gs = split /\n/, $node->safe_psql('postgres', $serial . $gq);
is(scalar @gp, 4, 'grouped: four partitions');
for my $k (0 .. $#gs)
{
	my ($kp, $fp, $hp) = split /\|/, $gp[$k];
	my ($ks, $fs, $hs) = split /\|/, $gs[$k];
	cmp_ok(rel($fp, $fs), '<', 1e-10, "partition $ks: ANOVA F parallel = serial");
	cmp_ok(rel($hp, $hs), '<', 1e-12, "partition $ks: Kruskal-Wallis H parallel = serial");
}

$node->stop;
done_testing();
