# recsys_hnsw on a streaming standby: the index arrives through WAL (the
# build's page images, then GenericXLog records for inserts and VACUUM),
# the standby's planner uses it, and every query returns exactly what the
# primary returns, after a build, after inserts, and after deletes + VACUUM.
# An unlogged table's index exists on the standby but is empty there.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysCluster qw(primary_and_standby);

my ($primary, $standby) = primary_and_standby('hnsw_');

$primary->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT setseed(0.1);
CREATE TABLE items (id int PRIMARY KEY, category int, v recsys.embedding(16));
INSERT INTO items
SELECT i, i % 20, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 16) WHERE i > 0)::recsys.embedding
FROM generate_series(1, 5000) i;
CREATE TABLE queries (qid int, qv recsys.embedding(16));
INSERT INTO queries
SELECT j, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 16) WHERE j > 0)::recsys.embedding
FROM generate_series(1, 20) j;
CREATE INDEX items_l2 ON items USING recsys_hnsw (v recsys.embedding_l2_ops);
CREATE INDEX items_ip ON items USING recsys_hnsw (v recsys.embedding_ip_ops) WITH (m = 8, ef_construction = 40);
CREATE UNLOGGED TABLE scratch (id int, v recsys.embedding(2));
CREATE INDEX ON scratch USING recsys_hnsw (v recsys.embedding_cosine_ops);
INSERT INTO scratch VALUES (1, '[1,0]'), (2, '[0,1]');
});

# every query's top 10 (and a filtered top 10), through the index
my $query = q{
SET enable_seqscan = off;
SELECT q.qid, op, ids FROM queries q,
  LATERAL (SELECT '<->' AS op, array_agg(id) AS ids FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) q.qv LIMIT 10) s
           UNION ALL
           SELECT '<#>', array_agg(id) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<#>) q.qv LIMIT 10) s
           UNION ALL
           SELECT 'filtered', array_agg(id) FROM (SELECT id FROM items WHERE category = 7 ORDER BY v OPERATOR(recsys.<->) q.qv LIMIT 10) s) r
ORDER BY q.qid, op};

# insert_items($from, $to): items $from to $to with random vectors, on the primary
sub insert_items
{
	my ($from, $to) = @_;
	$primary->safe_psql('postgres', qq{
INSERT INTO items
SELECT i, i % 20, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 16) WHERE i > 0)::recsys.embedding
FROM generate_series($from, $to) i;
});
	return;
}

sub same_on_both
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby, 'replay');
	my $p = $primary->safe_psql('postgres', $query);
	my $s = $standby->safe_psql('postgres', $query);
	my $rows = () = $p =~ /\n/g;
	cmp_ok($rows + 1, '==', 60, "$what: 60 result lists on the primary");
	is($s, $p, "$what: the standby returns exactly the primary's results");
}

like( $standby->safe_psql('postgres',
		q{EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) '[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10}),
	qr/Index Scan using items_l2/, 'the standby plans with the index');
same_on_both('after the build');

insert_items(5001, 7000);
same_on_both('after 2000 inserts');

$primary->safe_psql('postgres', q{DELETE FROM items WHERE id % 3 = 0; VACUUM items;});
same_on_both('after deletes and VACUUM');

insert_items(7001, 8000);
same_on_both('after inserts into freed slots');

# the unlogged table: readable on the primary, its index empty on the standby
is($primary->safe_psql('postgres',
		q{SET enable_seqscan = off; SELECT id FROM scratch ORDER BY v OPERATOR(recsys.<=>) '[1,0.1]' LIMIT 1}),
	'1', 'unlogged table: the primary finds its row');
my ($rc, $out, $err) = $standby->psql('postgres',
	q{SET enable_seqscan = off; SELECT id FROM scratch ORDER BY v OPERATOR(recsys.<=>) '[1,0.1]' LIMIT 1});
like($err, qr/cannot access temporary or unlogged relations during recovery/,
	'unlogged table: not readable during recovery, as for any unlogged table');

# writes on the standby fail as in any read-only transaction
($rc, $out, $err) = $standby->psql('postgres', q{INSERT INTO items VALUES (99999, 0, NULL)});
like($err, qr/read-only transaction/, 'inserts on the standby are refused');

$standby->stop;
$primary->stop;
done_testing();
