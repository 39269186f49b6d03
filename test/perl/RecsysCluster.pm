# RecsysCluster — the cluster layouts several TAP tests share.
#
#   my ($primary, $standby) = primary_and_standby($prefix);
#       a primary (allows_streaming) and a streaming standby made from its
#       base backup, both started; node names are "${prefix}primary" and
#       "${prefix}standby" (the prefix only names their logs).  The standby
#       starts from what the primary had at the backup: create the
#       extension and the data on the primary afterwards, and they reach
#       the standby through streamed WAL.
#
#   my ($primary, $standby) = standby_with_data($sql);
#       primary_and_standby(), then CREATE EXTENSION recsys and $sql on the
#       primary, waited for until the standby has replayed them.
#   my $sql = split_models_sql(users => $u, items => $i, seed => $s, split_seed => $t);
#       the SQL of a generated data set d (9000 interactions) split per
#       user (a fifth for testing) and of two models of its training part,
#       8 factors and 4 iterations each: mi (ials on clicks) and me (als on
#       rating).
#   same_on_standby($primary, $standby, \%queries);
#       for each query (by name, in name order, with every float digit):
#       the primary returns rows and the standby returns the same rows
#       (two tests per query).
#
#   my $node = recsys_node($name, conf => $lines, sql => $sql);
#       a node initialised with $lines (if given) appended to
#       postgresql.conf, started, and with CREATE EXTENSION recsys and then
#       $sql (if given) run in the database postgres.
#
#   my $run = psql_in_background($node, $sql);
#       $sql in a psql of its own, not waited for: $run->{h} is its
#       IPC::Run handle (pump, finish), $run->{out} and $run->{err} what it
#       has printed so far.
#   my $secs = cancel_backends($node, $like, $run);
#       pg_cancel_backend() of every other client backend whose query is
#       LIKE $like, then waits for $run to end: the seconds from the cancel
#       to its end.
#   my ($stderr, $secs) = psql_with_timeout($node, $timeout, $sql);
#       $sql under SET statement_timeout = '$timeout': what it printed on
#       stderr, and the seconds it took.
#
#   my $node = parallel_node($name, sql => $sql);
#       recsys_node with room for parallel workers (8 worker processes,
#       8 parallel workers).
#   my ($parallel, $serial) = parallel_and_serial();
#       SET lines that put the next query in a parallel plan (two workers,
#       the leader not participating, no cost against parallelism) and in a
#       serial one.

package RecsysCluster;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(primary_and_standby standby_with_data split_models_sql same_on_standby
  recsys_node parallel_node parallel_and_serial
  psql_in_background cancel_backends psql_with_timeout);

use PostgreSQL::Test::Cluster;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

sub primary_and_standby
{
	my ($prefix) = @_;
	$prefix //= '';

	my $primary = PostgreSQL::Test::Cluster->new("${prefix}primary");
	$primary->init(allows_streaming => 1);
	$primary->start;
	$primary->backup('base');

	my $standby = PostgreSQL::Test::Cluster->new("${prefix}standby");
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->start;
	return ($primary, $standby);
}

sub standby_with_data
{
	my ($sql) = @_;

	my ($primary, $standby) = primary_and_standby();
	$primary->safe_psql('postgres', "CREATE EXTENSION recsys;\n$sql");
	$primary->wait_for_catchup($standby, 'replay');
	return ($primary, $standby);
}

sub split_models_sql
{
	my (%opt) = @_;

	return qq{
SELECT * FROM recsys.generate_dataset('d', users => $opt{users}, items => $opt{items}, interactions => 9000, seed => $opt{seed});
SELECT * FROM recsys.split('d_interactions', 'user_id', 'item_id', 'per_user', 0.2, seed => $opt{split_seed});
SELECT * FROM recsys.train('mi', 'd_interactions_train', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"factors": 8, "iterations": 4}');
SELECT * FROM recsys.train('me', 'd_interactions_train', 'user_id', 'item_id', 'rating', 'als',
                           '{"factors": 8, "iterations": 4}');
};
}

sub same_on_standby
{
	my ($primary, $standby, $queries) = @_;

	for my $name (sort keys %$queries)
	{
		my $q = "SET extra_float_digits = 3; $queries->{$name}";
		my $on_primary = $primary->safe_psql('postgres', $q);
		my $on_standby = $standby->safe_psql('postgres', $q);
		isnt($on_primary, '', "$name: the primary returns rows");
		is($on_standby, $on_primary, "$name: the standby returns the same rows");
	}
	return;
}

sub recsys_node
{
	my ($name, %opt) = @_;

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', $opt{conf}) if defined $opt{conf};
	$node->start;
	$node->safe_psql('postgres', "CREATE EXTENSION recsys;\n" . ($opt{sql} // ''));
	return $node;
}

sub psql_in_background
{
	my ($node, $sql) = @_;

	my $run = { out => '', err => '' };
	$run->{h} = IPC::Run::start(
		[ 'psql', '-XAtq', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-c', $sql ],
		'>', \$run->{out}, '2>', \$run->{err});
	return $run;
}

sub cancel_backends
{
	my ($node, $like, $run) = @_;

	my $t0 = time;
	$node->safe_psql('postgres',
		qq{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '$like' AND backend_type = 'client backend' AND pid <> pg_backend_pid()});
	$run->{h}->finish;
	return time - $t0;
}

sub psql_with_timeout
{
	my ($node, $timeout, $sql) = @_;

	my $t0 = time;
	my ($rc, $stdout, $stderr) = $node->psql('postgres', "SET statement_timeout = '$timeout'; $sql");
	return ($stderr, time - $t0);
}

sub parallel_node
{
	my ($name, %opt) = @_;

	return recsys_node(
		$name, %opt, conf => q{
max_worker_processes = 8
max_parallel_workers = 8
});
}

sub parallel_and_serial
{
	my $parallel = q{
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
};
	my $serial = q{
SET max_parallel_workers_per_gather = 0;
};
	return ($parallel, $serial);
}

1;
