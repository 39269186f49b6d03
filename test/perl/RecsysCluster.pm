# RecsysCluster — the cluster layouts several TAP tests share.
#
#   my ($primary, $standby) = primary_and_standby($prefix);
#       a primary (allows_streaming) and a streaming standby made from its
#       base backup, both started; node names are "${prefix}primary" and
#       "${prefix}standby" (the prefix only names their logs).  The standby
#       starts from what the primary had at the backup: create the
#       extension and the data on the primary afterwards, and they reach
#       the standby through streamed WAL.

package RecsysCluster;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(primary_and_standby);

use PostgreSQL::Test::Cluster;

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

1;
