# recsys_hnsw under crashes and cancels, and cancels of the long audits:
#
# 1. the server is stopped in immediate mode while CREATE INDEX builds a
#    recsys_hnsw graph (seen in pg_stat_progress_create_index), and while
#    CREATE INDEX CONCURRENTLY does: after restart there is no valid
#    half-built index (none, or an invalid one that REINDEX repairs), and
#    a new build answers like exact search;
# 2. the server is stopped in immediate mode while VACUUM cleans the index
#    after 30% of the rows were deleted (seen in pg_stat_progress_vacuum):
#    after restart a new VACUUM succeeds, no deleted row comes back and
#    recall against exact search holds;
# 3. pg_cancel_backend and statement_timeout stop a recsys_hnsw CREATE
#    INDEX, recsys.audit_error, recsys.evaluate, recsys.audit_ranking and
#    recsys.audit_exposure (of lists given as a query) within a second.
# Times are printed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('index_crash');
$node->init;
$node->append_conf('postgresql.conf', q{
maintenance_work_mem = '128MB'
autovacuum = off
});
$node->start;

my $N = 30000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION recsys;
SELECT setseed(0.43);
CREATE TABLE items (id int, v recsys.embedding(32));
INSERT INTO items
SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE g > 0)::recsys.embedding
FROM generate_series(1, $N) g;
CREATE TABLE queries (qid int, qv recsys.embedding(32));
INSERT INTO queries
SELECT j, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE j > 0)::recsys.embedding
FROM generate_series(1, 50) j;
ANALYZE items;
});

# start the statements in a psql of its own (each its own -c, so VACUUM
# is not in a transaction block); returns (handle, \stdout, \stderr)
sub start_psql
{
	my @sql = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres', map { ('-c', $_) } @sql ],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

# recall@10 of the index against exact search over the 50 queries, and
# the number of queries whose top 10 is exactly the exact one
sub recall
{
	my ($index) = @_;
	my $r = $node->safe_psql('postgres', qq{
SET enable_indexscan = off; SET enable_bitmapscan = off;
CREATE TEMP TABLE ex AS SELECT qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) qv LIMIT 10) s) ids FROM queries;
SET enable_indexscan = on; SET enable_seqscan = off; SET recsys.ef_search = 200;
CREATE TEMP TABLE ix AS SELECT qid, (SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) qv LIMIT 10) s) ids FROM queries;
SELECT round((SELECT count(*) FROM ex, unnest(ex.ids) e, ix WHERE ix.qid = ex.qid AND e = ANY (ix.ids))::numeric
             / (SELECT sum(cardinality(ids)) FROM ex), 4),
       (SELECT count(*) FROM ex JOIN ix USING (qid) WHERE ex.ids = ix.ids);
});
	my $plan = $node->safe_psql('postgres', q{SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10});
	like($plan, qr/Index Scan using $index/, "the comparison runs through $index");
	return split /\|/, $r;
}

my $in_graph = q{SELECT count(*) = 1 FROM pg_stat_progress_create_index
	WHERE relid = 'items'::regclass AND phase LIKE '%building graph%'};

# --- 1. crash during CREATE INDEX -----------------------------------------
my $crashes = 0;
{
	my $t0 = time;
	my ($h, $out, $err) = start_psql(q{CREATE INDEX items_v ON items USING recsys_hnsw (v recsys.embedding_l2_ops)});
	$node->poll_query_until('postgres', $in_graph) or die "the build did not start: $$err";
	my $progress = $node->safe_psql('postgres',
		q{SELECT phase || ', ' || tuples_done || ' of ' || tuples_total FROM pg_stat_progress_create_index});
	note(sprintf('crash during CREATE INDEX after %.2f s: %s', time - $t0, $progress));
	$node->stop('immediate');
	$h->finish;
	$crashes++;
	$node->start;

	is($node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			  WHERE i.indrelid = 'items'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'recsys_hnsw')}),
		'0', 'after the crash during CREATE INDEX the table has no recsys_hnsw index');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), $N, 'every row is there');

	$t0 = time;
	$node->safe_psql('postgres', q{CREATE INDEX items_v ON items USING recsys_hnsw (v recsys.embedding_l2_ops)});
	my $build = time - $t0;
	my ($rec, $same) = recall('items_v');
	cmp_ok($rec, '>=', 0.95, "a new build after the crash: recall\@10 $rec vs exact search");
	diag(sprintf('after the crash during CREATE INDEX: rebuild %.2f s, recall@10 %s at ef_search 200, %d of 50 top-10 lists exact',
		$build, $rec, $same));
	$node->safe_psql('postgres', 'DROP INDEX items_v');
}

# --- 1b. crash during CREATE INDEX CONCURRENTLY: an invalid index, REINDEX
{
	my ($h, $out, $err) = start_psql(q{CREATE INDEX CONCURRENTLY items_c ON items USING recsys_hnsw (v recsys.embedding_l2_ops)});
	$node->poll_query_until('postgres', $in_graph) or die "the concurrent build did not start: $$err";
	$node->stop('immediate');
	$h->finish;
	$crashes++;
	$node->start;

	is($node->safe_psql('postgres',
			q{SELECT string_agg(c.relname || ' ' || i.indisvalid, ',') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			  WHERE i.indrelid = 'items'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'recsys_hnsw')}),
		'items_c false', 'after the crash during CREATE INDEX CONCURRENTLY the index is left invalid');
	my $t0 = time;
	$node->safe_psql('postgres', 'REINDEX INDEX items_c');
	my $build = time - $t0;
	is($node->safe_psql('postgres', q{SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_c'::regclass}),
		't', 'REINDEX makes it valid');
	my ($rec, $same) = recall('items_c');
	cmp_ok($rec, '>=', 0.95, "the reindexed index: recall\@10 $rec vs exact search");
	diag(sprintf('after the crash during CREATE INDEX CONCURRENTLY: REINDEX %.2f s, recall@10 %s, %d of 50 top-10 lists exact',
		$build, $rec, $same));
}

# --- 2. crash during VACUUM after 30% deletes --------------------------------
{
	$node->safe_psql('postgres', q{
CREATE TABLE deleted AS SELECT id FROM items WHERE id % 10 < 3;
DELETE FROM items WHERE id % 10 < 3;
CHECKPOINT;
});
	# cost-based delay (hnsw's vacuum calls vacuum_delay_point) keeps the
	# VACUUM in the index (the table's only one) long enough to be caught
	# there
	my ($h, $out, $err) = start_psql(q{SET vacuum_cost_delay = '2ms'}, q{SET vacuum_cost_limit = 20}, q{VACUUM items});
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass AND phase = 'vacuuming indexes'})
	  or die "VACUUM did not reach the index: $$err";
	# let it work in the index for a moment
	Time::HiRes::sleep(0.3);
	my $phase = $node->safe_psql('postgres', q{SELECT phase FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass});
	note("crash during VACUUM in phase: $phase");
	is($phase, 'vacuuming indexes', 'the crash hits VACUUM while it cleans the indexes');
	$node->stop('immediate');
	$h->finish;
	$crashes++;
	$node->start;

	my $t0 = time;
	$node->safe_psql('postgres', 'VACUUM items');
	my $vac = time - $t0;
	pass('a new VACUUM after the crash succeeds');
	is($node->safe_psql('postgres', q{SELECT reltuples::bigint FROM pg_class WHERE relname = 'items_c'}),
		$N - $N * 3 / 10, 'the VACUUM counts exactly the remaining rows in the index');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM items'), $N - $N * 3 / 10, '70% of the rows remain');
	is($node->safe_psql('postgres', q{SET enable_seqscan = off; SET recsys.ef_search = 1000; SET recsys.max_scan_tuples = 100000;
			SELECT count(*) FILTER (WHERE id % 10 < 3) || ' ' || count(*) FROM
			(SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) (SELECT qv FROM queries WHERE qid = 1) LIMIT 100000) s}),
		'0 ' . ($N - $N * 3 / 10), 'through the index: no deleted row, every remaining row');
	my ($rec, $same) = recall('items_c');
	cmp_ok($rec, '>=', 0.95, "after the crash during VACUUM: recall\@10 $rec vs exact search");
	diag(sprintf('after the crash during VACUUM: VACUUM %.2f s, recall@10 %s, %d of 50 top-10 lists exact',
		$vac, $rec, $same));
	$node->safe_psql('postgres', 'DROP INDEX items_c');
}
diag("immediate stops survived: $crashes");

# --- 3. cancel and statement_timeout ---------------------------------------

# run $sql, cancel it once $ready holds; returns (stderr, seconds from
# the cancel to the statement's end)
sub cancel_when
{
	my ($sql, $marker, $ready) = @_;
	my ($h, $out, $err) = start_psql($sql);
	$node->poll_query_until('postgres', $ready) or die "$marker did not start: $$err";
	my $t0 = time;
	$node->safe_psql('postgres',
		qq{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%$marker%' AND backend_type = 'client backend' AND pid <> pg_backend_pid()});
	$h->finish;
	return ($$err, time - $t0);
}

sub running_for
{
	my ($marker, $secs) = @_;
	return qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%$marker%' AND state = 'active' AND backend_type = 'client backend'
	   AND now() - query_start > interval '$secs s' AND pid <> pg_backend_pid()};
}

# timeout($sql, $ms): run $sql under statement_timeout; returns (stderr,
# seconds past the timeout)
sub timeout
{
	my ($sql, $ms) = @_;
	my $t0 = time;
	my ($rc, $stdout, $stderr) = $node->psql('postgres', "SET statement_timeout = '${ms}ms'; $sql");
	return ($stderr, time - $t0 - $ms / 1000);
}

my @report;

# the index build, cancelled while it builds the graph
my ($err, $secs) = cancel_when(q{CREATE INDEX items_x ON items USING recsys_hnsw (v recsys.embedding_l2_ops) /* build_marker */},
	'build_marker', $in_graph);
like($err, qr/canceling statement due to user request/, 'CREATE INDEX cancelled by pg_cancel_backend');
cmp_ok($secs, '<', 1.0, 'CREATE INDEX stopped within a second of the cancel');
push @report, sprintf('pg_cancel_backend stopped CREATE INDEX in %.3f s', $secs);

($err, $secs) = timeout(q{CREATE INDEX items_x ON items USING recsys_hnsw (v recsys.embedding_l2_ops)}, 1000);
like($err, qr/canceling statement due to statement timeout/, 'CREATE INDEX stopped by statement_timeout');
cmp_ok($secs, '<', 1.0, 'within a second of the 1 s timeout');
push @report, sprintf('statement_timeout = 1 s: CREATE INDEX returned %.3f s after it', $secs);
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname = 'items_x'}), '0',
	'no index is left by the cancelled builds');

# an explicit model and a held-out set for the audits
$node->safe_psql('postgres', q{
CREATE UNLOGGED TABLE r AS SELECT * FROM recsys.synth_interactions(40000, 4000, 600000, 5);
SELECT * FROM recsys.split('r', 'user_id', 'item_id', test_fraction => 0.3, seed => 1);
SELECT * FROM recsys.train('m', 'r_train', 'user_id', 'item_id', 'rating', 'als', '{"factors": 32, "iterations": 2}');
});

# audit_error and evaluate, then the other two audits: audit_ranking
# (every test user's list through evaluate_users) and audit_exposure of
# lists given as a query (read and checked as rankings)
my @long = (
	audit_error => q{SELECT count(*) FROM recsys.audit_error('m', 'r_test', 'SELECT user_id, user_id % 3 FROM r_test', bootstrap => 100000) /* audit_marker */},
	evaluate => q{SELECT count(*) FROM (SELECT * FROM recsys.evaluate('m', 'r_test', k => 50) UNION ALL SELECT * FROM recsys.evaluate('m', 'r_test', k => 100)) s /* eval_marker */},
	audit_exposure => q{SELECT count(*) FROM recsys.audit_exposure('m', 'SELECT item_id, item_id % 5 FROM r_train', k => 100,
		lists => 'SELECT "user", item, rank FROM recsys.recommend_all(''m'', 100)') /* exposure_marker */},
	audit_ranking => q{SELECT count(*) FROM recsys.audit_ranking('m', 'r_test', 'SELECT user_id, user_id % 3 FROM r_test', k => 100) /* ranking_marker */},
);
while (my ($fn, $sql) = splice(@long, 0, 2))
{
	my ($marker) = $sql =~ m{/\* (\w+) \*/};
	($err, $secs) = cancel_when($sql, $marker, running_for($marker, 1));
	like($err, qr/canceling statement due to user request/, "$fn cancelled by pg_cancel_backend");
	cmp_ok($secs, '<', 1.0, "$fn stopped within a second of the cancel");
	push @report, sprintf('pg_cancel_backend stopped %s in %.3f s', $fn, $secs);

	($err, $secs) = timeout($sql, 1500);
	like($err, qr/canceling statement due to statement timeout/, "$fn stopped by statement_timeout");
	cmp_ok($secs, '<', 1.0, 'within a second of the 1.5 s timeout');
	push @report, sprintf('statement_timeout = 1.5 s: %s returned %.3f s after it', $fn, $secs);
}

diag($_) for @report;

$node->stop;
done_testing();
