# The serving cache across sessions: one session serves a model (its
# backend caches the version's items), another drops the model and trains
# the same name on other data, so version 1 comes back with other
# contents.  The first session must then serve the new version's items
# only, for every model kind, integer and text keys, with item attributes
# (exclude_query), and the server must not restart (it did: the cache was
# keyed by name and version number, and a 7-item cache read with a 50,000
# item model's indexes crashed the backend and so every backend).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cache');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION recsys;
CREATE TABLE small (u int, i int, r real);
INSERT INTO small SELECT u, i, 1 + (u * i) % 5
FROM generate_series(1, 20) u, generate_series(1, 7) i WHERE (u + i) % 3 <> 0;
CREATE TABLE big (u int, i int, r real);
INSERT INTO big SELECT i % 40 + 1, 100000 + i, 1 + i % 5 FROM generate_series(1, 50000) i;
INSERT INTO big SELECT u, 100000 + u * 7 + j, 3 FROM generate_series(1, 40) u, generate_series(1, 30) j;
CREATE TABLE small_t AS SELECT 'u' || u AS u, 'a' || i AS i, r FROM small;
CREATE TABLE big_t AS SELECT 'u' || u AS u, 'b' || i AS i, r FROM big;
CREATE TABLE excl (i int);
INSERT INTO excl VALUES (1), (100001), (100002);
});

my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $server = $node->background_psql('postgres');
my $pid = $server->query_safe('SELECT pg_backend_pid()');

# items the active version of a model does not have, among a list
sub foreign_items
{
	my ($model, $list) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM unnest('{$list}'::text[]) x(item)
		WHERE NOT EXISTS (SELECT 1 FROM recsys.item_factors f JOIN recsys.models m
						  ON m.name = f.model AND m.active_version = f.version
						  WHERE f.model = '$model' AND f.item_key = x.item)});
}

my @kinds = (
	[ 'item_knn',   '{}' ],
	[ 'user_knn',   '{}' ],
	[ 'ials',       '{"factors": 4, "iterations": 2}' ],
	[ 'als',        '{"factors": 4, "iterations": 2}' ],
	[ 'bpr',        '{"factors": 4, "iterations": 2}' ],
	[ 'popularity', '{}' ],
);
for my $keys ('int', 'text')
{
	my ($from, $to, $user) = $keys eq 'int' ? ('small', 'big', '1') : ('small_t', 'big_t', q{'u1'::text});
	for my $kind (@kinds)
	{
		my ($alg, $opts) = @$kind;
		my $m = "m_${alg}_$keys";
		$node->safe_psql('postgres',
			qq{SELECT recsys.train('$m', '$from', 'u', 'i', 'r', '$alg', '$opts')});
		# the serving session caches version 1 (7 items)
		my $before = $server->query_safe(
			qq{SELECT string_agg(item::text, ',' ORDER BY rank) FROM recsys.recommend('$m', $user, 5)});
		# another session: drop, and version 1 again with 50,000 other items
		$node->safe_psql('postgres', qq{SELECT recsys.drop_model('$m')});
		my $v = $node->safe_psql('postgres',
			qq{SELECT version FROM recsys.train('$m', '$to', 'u', 'i', 'r', '$alg', '$opts')});
		is($v, '1', "$alg/$keys: the new model is version 1 again");
		my $after = $server->query_safe(
			qq{SELECT string_agg(item::text, ',' ORDER BY rank) FROM recsys.recommend('$m', $user, 5)});
		my @items = split /,/, $after;
		is(scalar(@items), 5, "$alg/$keys: five items from the new version");
		is(foreign_items($m, $after), '0', "$alg/$keys: every item is in the active version");
		my $expected = $node->safe_psql('postgres',
			qq{SELECT string_agg(item::text, ',' ORDER BY rank) FROM recsys.recommend('$m', $user, 5)});
		is($after, $expected, "$alg/$keys: the serving session gives a fresh session's list");
	}
}

# item attributes: the exclusions built for the old version are not reused
$node->safe_psql('postgres',
	q{SELECT recsys.train('m_attr', 'small', 'u', 'i', 'r', 'ials', '{"factors": 4, "iterations": 2}')});
$server->query_safe(q{PREPARE served AS SELECT string_agg(item::text, ',' ORDER BY rank)
	FROM recsys.recommend('m_attr', 1, 5, exclude_query => 'SELECT i FROM excl')});
$server->query_safe('EXECUTE served');
$node->safe_psql('postgres', q{SELECT recsys.drop_model('m_attr')});
$node->safe_psql('postgres',
	q{SELECT recsys.train('m_attr', 'big', 'u', 'i', 'r', 'ials', '{"factors": 4, "iterations": 2}')});
my $list = $server->query_safe('EXECUTE served');
is(foreign_items('m_attr', $list), '0', 'exclusions: every item is in the active version');
unlike(",$list,", qr/,(1|100001|100002),/, 'exclusions: the excluded items are not listed');

# DROP EXTENSION + CREATE EXTENSION starts the identities again at 1: the
# cache knows the catalog too
$node->safe_psql('postgres',
	q{SELECT recsys.train('m_ext', 'small', 'u', 'i', 'r', 'item_knn', '{}')});
$server->query_safe(q{SELECT count(*) FROM recsys.recommend('m_ext', 2, 3)});
$node->safe_psql('postgres', q{DROP EXTENSION recsys CASCADE; CREATE EXTENSION recsys;
	SELECT recsys.train('m_ext', 'big', 'u', 'i', 'r', 'item_knn', '{}')});
is($node->safe_psql('postgres', q{SELECT min(version_id) FROM recsys.model_versions}), '1',
	'a new catalog: version_id 1 again');
$list = $server->query_safe(
	q{SELECT string_agg(item::text, ',' ORDER BY rank) FROM recsys.recommend('m_ext', 2, 5)});
is(foreign_items('m_ext', $list), '0', 'after DROP/CREATE EXTENSION: every item is in the new model');
is($list, $node->safe_psql('postgres',
	q{SELECT string_agg(item::text, ',' ORDER BY rank) FROM recsys.recommend('m_ext', 2, 5)}),
	'after DROP/CREATE EXTENSION: a fresh session\'s list');

# the serving session is the same backend, and the server never restarted
is($server->query_safe('SELECT pg_backend_pid()'), $pid, 'the serving backend survived');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
	'the server did not restart');
$server->quit;

$node->stop;
done_testing();
