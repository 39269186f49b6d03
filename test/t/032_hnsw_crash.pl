# recsys_hnsw after a crash: bulk inserts run in many small transactions
# into a table with an index (built empty, so every element arrives
# through WAL-logged inserts); the server is stopped with "immediate"
# mid-way, restarted, and recovery must leave an index that reaches every
# committed row, answers like exact search, and takes new inserts.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('hnsw_crash');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION recsys;
CREATE TABLE items (id bigserial PRIMARY KEY, v recsys.embedding(16));
CREATE INDEX items_l2 ON items USING recsys_hnsw (v recsys.embedding_l2_ops);
CREATE INDEX items_ip ON items USING recsys_hnsw (v recsys.embedding_ip_ops);
CREATE TABLE queries (qid int, qv recsys.embedding(16));
INSERT INTO queries
SELECT j, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE j > 0)::recsys.embedding
FROM generate_series(1, 20) j;
});

# 400 transactions of 25 rows each
my $script = $node->basedir . '/bulk.sql';
open(my $fh, '>', $script) or die;
print $fh q{INSERT INTO items (v) SELECT (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE g > 0)::recsys.embedding FROM generate_series(1, 25) g;
} for 1 .. 400;
close($fh);

my ($out, $err) = ('', '');
my $bulk = IPC::Run::start(
	[ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', $script ],
	'>', \$out, '2>', \$err);

# wait until a good part is committed, then crash
my $n = 0;
for (1 .. 600)
{
	$n = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
	last if $n >= 3000;
	usleep(100_000);
}
cmp_ok($n, '>=', 3000, "$n rows committed before the crash");
$node->stop('immediate');
$bulk->finish;
$node->start;

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
cmp_ok($rows, '>=', $n, "after recovery the table has $rows rows");
cmp_ok($rows, '<', 10000, 'the crash interrupted the inserts');

for my $op ('<->', '<#>')
{
	is( $node->safe_psql('postgres',
			qq{SET enable_seqscan = off; SET recsys.ef_search = 1000; SET recsys.max_scan_tuples = 100000;
			   SELECT count(*) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.$op) (SELECT qv FROM queries WHERE qid = 1) LIMIT 100000) s}),
		$rows, "$op: every committed row is reachable through the recovered index");
}

# top 10 through the index equals exact search (ef_search large)
my $cmp = q{
CREATE TEMP TABLE ex AS SELECT qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) qv LIMIT 10) s) ids FROM queries;
SET enable_seqscan = off; SET recsys.ef_search = 400;
SELECT count(*) FILTER (WHERE ex.ids = (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) qv LIMIT 10) s))
FROM ex JOIN queries USING (qid);
};
is($node->safe_psql('postgres', "SET enable_indexscan = off; $cmp"), '20',
	'the recovered index gives the exact top 10 for all 20 queries');

# and it takes new rows
$node->safe_psql('postgres', q{INSERT INTO items (v) SELECT '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]'});
is( $node->safe_psql('postgres',
		q{SET enable_seqscan = off; SELECT v FROM items ORDER BY v OPERATOR(recsys.<->) '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,8]' LIMIT 1}),
	'[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]', 'an insert after recovery is found');

$node->stop;
done_testing();
