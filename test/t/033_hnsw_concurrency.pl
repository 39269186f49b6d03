# recsys_hnsw under concurrent writes: two sessions insert (pgbench, small
# transactions) while a third runs ordered index scans; the scans never
# fail and always return their 10 rows, and afterwards the index reaches
# every row and still has high recall against exact search.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('hnsw_concurrency');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT setseed(0.3);
CREATE TABLE items (id bigserial PRIMARY KEY, v recsys.embedding(16));
INSERT INTO items (v)
SELECT (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE g > 0)::recsys.embedding
FROM generate_series(1, 3000) g;
CREATE INDEX items_l2 ON items USING recsys_hnsw (v recsys.embedding_l2_ops);
});

my $ins = $node->basedir . '/insert.sql';
open(my $fh, '>', $ins) or die;
print $fh q{INSERT INTO items (v) SELECT (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE g > 0)::recsys.embedding FROM generate_series(1, 5) g;
};
close($fh);
# fails (division by zero) unless the scan returns its 10 rows
my $sel = $node->basedir . '/select.sql';
open($fh, '>', $sel) or die;
print $fh q{SELECT CASE WHEN count(*) = 10 THEN 1 ELSE 1 / (count(*) * 0) END
FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) (SELECT array_agg(random()::real) FROM generate_series(1, 16))::recsys.embedding LIMIT 10) s;
};
close($fh);

my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');
my ($iout, $ierr, $sout, $serr) = ('', '', '', '');
my $inserters = IPC::Run::start([ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', '15', '-f', $ins, @conn ],
	'>', \$iout, '2>', \$ierr);
my $scanner;
{
	local $ENV{PGOPTIONS} = '-c enable_seqscan=off';
	$scanner = IPC::Run::start([ 'pgbench', '-n', '-c', '1', '-T', '15', '-f', $sel, @conn ],
		'>', \$sout, '2>', \$serr);
}
$inserters->finish;
$scanner->finish;

my ($itx) = $iout =~ /number of transactions actually processed: (\d+)/;
my ($stx) = $sout =~ /number of transactions actually processed: (\d+)/;
my ($ifail) = $iout =~ /number of failed transactions: (\d+)/;
my ($sfail) = $sout =~ /number of failed transactions: (\d+)/;
cmp_ok($itx // 0, '>', 20, 'the two sessions committed ' . ($itx // 0) . ' insert transactions');
cmp_ok($stx // 0, '>', 20, 'the scanning session ran ' . ($stx // 0) . ' ordered scans');
is(($ifail // 0) + ($sfail // 0), 0, 'no transaction failed');
unlike($ierr . $serr, qr/ERROR|aborted/, 'no errors reported') or diag($ierr . $serr);

my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
is( $node->safe_psql('postgres',
		q{SET enable_seqscan = off; SET recsys.ef_search = 1000; SET recsys.max_scan_tuples = 100000;
		  SELECT count(*) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 100000) s}),
	$rows, "every one of the $rows rows is reachable through the index");

my $recall = $node->safe_psql('postgres', q{
CREATE TEMP TABLE q AS SELECT j AS qid, (SELECT array_agg(random()::real) FROM generate_series(1, 16) WHERE j > 0)::recsys.embedding AS qv
FROM generate_series(1, 50) j;
SET enable_indexscan = off;
CREATE TEMP TABLE ex AS SELECT qid, a.id FROM q, LATERAL (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) q.qv LIMIT 10) a;
RESET enable_indexscan; SET enable_seqscan = off;
CREATE TEMP TABLE ap AS SELECT qid, a.id FROM q, LATERAL (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) q.qv LIMIT 10) a;
SELECT round(count(ap.id)::numeric / count(*), 3) FROM ex LEFT JOIN ap USING (qid, id);
});
cmp_ok($recall, '>=', 0.95, "recall\@10 after the concurrent inserts is $recall");

$node->stop;
done_testing();
