# The data generator is deterministic across servers: two separate clusters
# generating the same dataset from the same seed produce identical rows, and
# a different seed produces different rows.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my %sizes = (users => 500, items => 200, interactions => 20000);

my @nodes;
for my $name ('gen_a', 'gen_b')
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION recsys');
	push @nodes, $node;
}
# Different session time zones must not change the data.
$nodes[1]->safe_psql('postgres', q{ALTER DATABASE postgres SET timezone = 'Pacific/Auckland'});

sub generate
{
	my ($node, $prefix, $seed) = @_;
	$node->safe_psql('postgres',
		    "SELECT * FROM recsys.generate_dataset('$prefix', users => $sizes{users},"
		  . " items => $sizes{items}, interactions => $sizes{interactions}, seed => $seed)");
}

# md5 of a table's rows in a canonical order and a zone-independent text form.
sub checksum
{
	my ($node, $table) = @_;
	return $node->safe_psql(
		'postgres', qq{
SET timezone = 'UTC';
SELECT count(*) || ' ' || md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))
FROM (SELECT t::text AS r FROM $table t) q});
}

generate($_, 'ds', 42) for @nodes;
generate($nodes[0], 'other', 43);

for my $table (qw(ds_users ds_items ds_interactions))
{
	my $a = checksum($nodes[0], $table);
	my $b = checksum($nodes[1], $table);
	like($a, qr/^[1-9]\d* [0-9a-f]{32}$/, "$table is not empty");
	is($a, $b, "$table: same seed, same rows on two servers");
}

is((split / /, checksum($nodes[0], 'ds_users'))[0], $sizes{users}, "$sizes{users} users");
is((split / /, checksum($nodes[0], 'ds_items'))[0], $sizes{items}, "$sizes{items} items");

isnt(
	checksum($nodes[0], 'other_interactions'),
	checksum($nodes[0], 'ds_interactions'),
	'a different seed gives different interactions');

# Generating again on the same server gives the same rows again.
$nodes[0]->safe_psql('postgres', 'DROP TABLE ds_users, ds_items, ds_interactions');
generate($nodes[0], 'ds', 42);
is( checksum($nodes[0], 'ds_interactions'),
	checksum($nodes[1], 'ds_interactions'),
	'regenerating with the same seed gives the same rows');

$_->stop for @nodes;
done_testing();
