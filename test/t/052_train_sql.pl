# "execution": "sql": its steps run on parallel workers when the planner
# finds it worth it ("verbose" reports the plan of the user step).  It
# reads its source again at every step, parsing it again: a function the
# source calls, replaced by another session while the training runs, can
# give keys of another type or other values.  The training must stop with
# an error (55000), never crash the server (text keys read as an integer
# did), never store a model of other data.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node);

my $node = recsys_node('train_sql_src', sql => q{
CREATE TABLE tsrc AS SELECT 'u' || u AS u, i, ((u + i) % 5 + 1)::real AS r
FROM generate_series(1, 20) u, generate_series(1, 10) i;
CREATE FUNCTION fsrc() RETURNS TABLE (u text, i int, r real) LANGUAGE plpgsql STABLE
AS $$ BEGIN PERFORM pg_sleep(2); RETURN QUERY SELECT t.u, t.i, t.r FROM tsrc t; END $$;
});

# the driver's own statements, parallel: Partial aggregates under a Gather
$node->safe_psql('postgres', q{CREATE TABLE tbig AS SELECT u, i, (1 + (u * 7 + i * 3) % 5)::real AS r
FROM generate_series(1, 600) u, generate_series(1, 40) i WHERE (u + 2 * i) % 3 <> 0;
ANALYZE tbig;});
my ($prc, $pout, $perr) = $node->psql('postgres', q{SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT version FROM recsys.train('m_par', 'tbig', 'u', 'i', 'r', 'als',
	'{"execution": "sql", "regularization": 0.1, "factors": 2, "iterations": 2, "verbose": true}')});
is($prc, 0, 'a training in SQL statements with parallel plans');
like($perr, qr/the user step's plan: Finalize \w*Aggregate \/ Gather( Merge)? \/ Partial \w*Aggregate/,
	'... whose user step is split over parallel workers') or diag($perr);
($prc, $pout, $perr) = $node->psql('postgres', q{SET max_parallel_workers_per_gather = 0;
SELECT version FROM recsys.train('m_par', 'tbig', 'u', 'i', 'r', 'als',
	'{"execution": "sql", "regularization": 0.1, "factors": 2, "iterations": 2, "verbose": true}')});
like($perr, qr/the user step's plan: \w*Aggregate,/, 'without parallel workers, one aggregate');
# a source partitioned by the user, aggregated partition by partition
$node->safe_psql('postgres', q{CREATE TABLE tparts (u text, i int, r real) PARTITION BY HASH (u);
CREATE TABLE tparts_0 PARTITION OF tparts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE tparts_1 PARTITION OF tparts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO tparts SELECT * FROM tsrc;
ANALYZE tparts;});
($prc, $pout, $perr) = $node->psql('postgres', q{SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
SELECT version FROM recsys.train('m_part', 'tparts', 'u', 'i', 'r', 'als',
	'{"execution": "sql", "regularization": 0.1, "factors": 2, "iterations": 2, "verbose": true}')});
is($prc, 0, 'a training in SQL statements from a partitioned source');
# (text keys are grouped bytewise, not by the partition key's collation:
# partial aggregates per partition, finalized above them)
like($perr, qr/the user step's plan: (Finalize \w*Aggregate \/ )?Append \/ (Partial )?\w*Aggregate \/ (Partial )?\w*Aggregate,/,
	'... whose user step aggregates each partition on its own');
is($node->safe_psql('postgres', q{SELECT version FROM recsys.train('m_plain', 'tsrc', 'u', 'i', 'r', 'als',
	'{"execution": "sql", "regularization": 0.1, "factors": 2, "iterations": 2}')}), '1', 'the same from the plain table');
is($node->safe_psql('postgres', q{SELECT max(abs(recsys.predict('m_plain', u, i) - recsys.predict('m_part', u, i))) < 1e-4
	FROM tsrc}), 't', '... into the same model');
is($node->safe_psql('postgres', q{SELECT recsys.drop_model('m_par') AND recsys.drop_model('m_part') AND recsys.drop_model('m_plain')}),
	't', 'dropped');

# train in the background; the function is replaced after a second, while
# the first reading sleeps
sub train_while_replaced
{
	my ($model, $replacement) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-A', '-t', '-c',
			"SELECT version FROM recsys.train('$model', 'SELECT u, i, r FROM fsrc()', 'u', 'i', 'r', 'als', "
			  . q{'{"execution": "sql", "regularization": 0.1, "factors": 2, "iterations": 1}')},
			'-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);
	sleep(1);
	$node->safe_psql('postgres', $replacement);
	$h->finish;
	return ($h->result(0), $err);
}

my ($rc, $err) = train_while_replaced('m_type', q{BEGIN;
DROP FUNCTION fsrc();
CREATE FUNCTION fsrc() RETURNS TABLE (u bigint, i int, r real) LANGUAGE sql STABLE
AS $$ SELECT 0::bigint, t.i, t.r FROM tsrc t $$;
COMMIT;});
isnt($rc, 0, 'keys of another type: the training fails');
# (its keys, read as text, are not training's)
like($err, qr/gave other rows to a training step than at the start/, '... with the error that says so');
is($node->safe_psql('postgres', 'SELECT 1'), '1', '... and the server is up');

$node->safe_psql('postgres', q{DROP FUNCTION fsrc();
CREATE FUNCTION fsrc() RETURNS TABLE (u text, i int, r real) LANGUAGE plpgsql STABLE
AS $$ BEGIN PERFORM pg_sleep(2); RETURN QUERY SELECT t.u, t.i, t.r FROM tsrc t; END $$;});
($rc, $err) = train_while_replaced('m_values', q{CREATE OR REPLACE FUNCTION fsrc() RETURNS TABLE (u text, i int, r real)
LANGUAGE sql STABLE AS $$ SELECT t.u, t.i, t.r + 100 FROM tsrc t $$;});
isnt($rc, 0, 'other values for the same rows: the training fails');
like($err, qr/gave other rows to a training step than at the start/, '... with the error that says so');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.models WHERE name IN ('m_type', 'm_values')}),
	'0', 'no model was stored');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 'train_sql%'}),
	'0', 'no factor table is left');

$node->stop;
done_testing();
