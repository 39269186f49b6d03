# recsys from the client drivers applications use, with plain parameters:
# node-postgres sends every parameter untyped (the server infers its type),
# psycopg 3 sends a str untyped (server-side binding, also of a prepared
# statement), psycopg2 writes it as an untyped literal.  recommend(),
# recommend_for_items(), predict() and similar_items() called that way
# return what psql's typed calls return (items as text): the same items in
# the same order, the same scores.  Before the text overloads of 0.3.0,
# node-postgres got "could not determine polymorphic type because input
# has type unknown".
#
# The drivers come from Debian (scripts/test.sh provides them: python3-psycopg,
# python3-psycopg2, and node-pg unpacked from its Debian package when the
# system's node cannot take it through apt).  RS_NODE_PATH names the
# directory of node modules; a driver that is not there fails the test.

use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $drivers = "$FindBin::RealBin/../drivers";

my $node = PostgreSQL::Test::Cluster->new('drivers');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT * FROM recsys.generate_dataset('d', users => 200, items => 90, interactions => 5000, seed => 4);
SELECT * FROM recsys.train('m', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 8, "iterations": 4}');
});

# what psql's typed calls give, in the drivers' format (full precision)
my $model = 'm';
my ($user, $item, $item2) = (5, 3, 4);
my %expected;
$expected{recommend} = $node->safe_psql('postgres',
	qq{SELECT string_agg(item || ':' || score, ',' ORDER BY rank) FROM recsys.recommend('$model', $user, 5)});
$expected{recommend_prepared} = $expected{recommend};
$expected{recommend_for_items} = $node->safe_psql('postgres',
	qq{SELECT string_agg(item || ':' || score, ',' ORDER BY rank)
	   FROM recsys.recommend_for_items('$model', ARRAY[$item, $item2], 5)});
$expected{predict} = $node->safe_psql('postgres', qq{SELECT recsys.predict('$model', $user, $item)});
$expected{similar_items} = $node->safe_psql('postgres',
	qq{SELECT string_agg(item || ':' || similarity, ',' ORDER BY rank) FROM recsys.similar_items('$model', $item, 5)});

# "item:score,..." or "score" -> [[item, score], ...]
sub parse
{
	my ($s) = @_;
	return [ map { [ /^(.*):([^:]+)$/ ? ($1, $2) : ('', $_) ] } split /,/, $s ];
}

# the same items in the same order, scores within the 9 decimals printed
sub same
{
	my ($got, $want) = @_;
	my ($g, $w) = (parse($got), parse($want));
	return 0 unless @$g == @$w && @$g > 0;
	for my $i (0 .. $#$g)
	{
		return 0 unless $g->[$i][0] eq $w->[$i][0] && abs($g->[$i][1] - $w->[$i][1]) < 1e-8;
	}
	return 1;
}

sub check_driver
{
	my ($name, @cmd) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	my ($stdout, $stderr) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr);
	ok($ok, "$name runs") or diag($stderr);
	my %got = map { /^(\S+) (.*)$/ ? ($1, $2) : () } split /\n/, $stdout;
	for my $call (sort keys %expected)
	{
		ok(same($got{$call} // '', $expected{$call}),
			"$name: $call with untyped parameters gives psql's typed result")
		  or diag("got: " . ($got{$call} // '(none)') . "\nwant: $expected{$call}\n$stderr");
	}
}

# node-postgres
{
	local $ENV{NODE_PATH} = $ENV{RS_NODE_PATH} // '';
	check_driver('node-postgres', 'node', "$drivers/recsys_node.js", $model, $user, $item, $item2);
}
check_driver('psycopg', 'python3', "$drivers/recsys_psycopg.py", 'psycopg', $model, $user, $item, $item2);
check_driver('psycopg2', 'python3', "$drivers/recsys_psycopg.py", 'psycopg2', $model, $user, $item, $item2);

# what they got before: the polymorphic function alone cannot take an
# untyped key (node-postgres' error), which the text overload now does
my ($rc, $out, $err) = $node->psql('postgres',
	q{PREPARE p AS SELECT * FROM recsys.recommend('m', $1, 5); EXECUTE p('5');});
is($rc, 0, 'an untyped parameter in a prepared statement resolves to the text overload');
($rc, $out, $err) = $node->psql('postgres',
	q{PREPARE q(unknown) AS SELECT * FROM recsys.recommend('m', $1::text::int, 5); EXECUTE q('5');});
is($rc, 0, 'and a typed one to the polymorphic function');

$node->stop;
done_testing();
