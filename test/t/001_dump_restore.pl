# Embeddings survive pg_dump -Fc / pg_restore and COPY (FORMAT binary)
# bit for bit, and embedding(n) typmods survive the dump.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');

# Values chosen to catch lossy text output: decimal fractions, a subnormal,
# the extremes of float4, a repeating binary fraction, negative zero, and a
# wide vector.
$node->safe_psql(
	'src', q{
CREATE EXTENSION recsys;
CREATE TABLE t (
	id int PRIMARY KEY,
	e3 recsys.embedding(3),
	e  recsys.embedding
);
INSERT INTO t VALUES
	(1, '[0.1,0.2,0.3]', '[0.1]'),
	(2, '[1e-38,-3.4028235e38,3.4028235e38]', '[-3.4028235e38,1e-38,1.1754944e-38,0.1,1e-45]'),
	(3, ARRAY[1/3::real, 2/3::real, -1/3::real]::recsys.embedding,
		ARRAY[1/3::real, 1/7::real, 123456.789::real, 1e10::real]::recsys.embedding),
	(4, '[-0,0,1]', NULL),
	(5, NULL, (SELECT array_agg(sin(i * 0.37)::real ORDER BY i)
	           FROM generate_series(1, 1000) i)::recsys.embedding);
});

# The reference: each value's text form and its elements as real[] (whose
# text form is PostgreSQL's own shortest-exact float4 output).
my $snapshot = q{
SELECT id, e3::text, e::text, e3::real[]::text, e::real[]::text
FROM t ORDER BY id};
my $before = $node->safe_psql('src', $snapshot);
my $typmod_query = q{
SELECT attname || ' ' || format_type(atttypid, atttypmod)
FROM pg_attribute
WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum};
my $types_before = $node->safe_psql('src', $typmod_query);

my @before_rows = split /\n/, $before;
is(scalar @before_rows, 5, 'five rows to compare');
like($before, qr/^1\|\[0\.1,0\.2,0\.3\]\|\[0\.1\]\|/m,
	'text output is the shortest exact form (0.1, not 0.100000001)');

like($types_before, qr/^e3 (recsys\.)?embedding\(3\)$/m,
	'source column e3 is embedding(3)');
like($types_before, qr/^e (recsys\.)?embedding$/m,
	'source column e is an unconstrained embedding');

is( $node->safe_psql('src', q{SELECT (e3::real[])[1] = 1e-38::real
	AND (e3::real[])[2] = -3.4028235e38::real FROM t WHERE id = 2}),
	't', 'extreme values are stored exactly');
is( $node->safe_psql('src', q{SELECT e3::real[] = ARRAY[1/3::real, 2/3::real, -1/3::real]::real[]
	FROM t WHERE id = 3}),
	't', '1/3::real (a float8, rounded to float4) is stored exactly');

# --- pg_dump -Fc | pg_restore into another database ---------------------
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $dump = "$tmp/src.dump";
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump -Fc');
$node->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into another database');

is($node->safe_psql('dst', $snapshot), $before,
	'restored values have the same text output and elements');
is($node->safe_psql('dst', $typmod_query), $types_before,
	'typmods survive dump and restore');

# Equality with the type's own = operator, against the source's text forms.
my @rows = split /\n/, $before;
my @checks;
for my $row (@rows)
{
	my ($id, $e3, $e) = split /\|/, $row;
	push @checks,
	  sprintf("(SELECT e3 IS NOT DISTINCT FROM %s AND e IS NOT DISTINCT FROM %s FROM t WHERE id = %d)",
		$e3 eq '' ? 'NULL' : "'$e3'::recsys.embedding",
		$e  eq '' ? 'NULL' : "'$e'::recsys.embedding", $id);
}
is( $node->safe_psql('dst',
		'SET search_path = public, recsys; SELECT ' . join(' AND ', @checks)),
	't', 'restored values are = to the originals');

my ($ret, $stdout, $stderr) =
  $node->psql('dst', q{INSERT INTO t VALUES (10, '[1,2]', NULL)});
isnt($ret, 0, 'embedding(3) still rejects 2 dimensions after restore');
like($stderr, qr/dimension|embedding\(3\)|expected 3/i,
	'the typmod error names the dimension');

# --- COPY (FORMAT binary) out and back in ----------------------------------
my $bin = "$tmp/t.bin";
$node->safe_psql('src', "COPY t TO '$bin' (FORMAT binary)");
ok(-s $bin, 'COPY TO (FORMAT binary) wrote a file');

$node->safe_psql(
	'src', qq{
CREATE TABLE t_bin (LIKE t INCLUDING ALL);
COPY t_bin FROM '$bin' (FORMAT binary);
});
is( $node->safe_psql('src',
		$snapshot =~ s/FROM t /FROM t_bin /r),
	$before, 'binary COPY round trip keeps text output and elements');
is( $node->safe_psql(
		'src', q{
SET search_path = public, recsys;
SELECT count(*) FROM t FULL JOIN t_bin b USING (id)
WHERE t.e3 IS DISTINCT FROM b.e3 OR t.e IS DISTINCT FROM b.e}),
	'0', 'binary COPY round trip: every value = its original');

# The same binary file into the other database.
$node->safe_psql('dst', qq{TRUNCATE t; COPY t FROM '$bin' (FORMAT binary)});
is($node->safe_psql('dst', $snapshot), $before,
	'binary COPY into the restored database');

# Binary input enforces the column's typmod too.
$node->safe_psql('src',
	q{CREATE TABLE t_narrow (id int, e3 recsys.embedding(2), e recsys.embedding)});
($ret, $stdout, $stderr) =
  $node->psql('src', qq{COPY t_narrow FROM '$bin' (FORMAT binary)});
isnt($ret, 0, 'binary COPY of 3-d values into embedding(2) fails');

$node->stop;
done_testing();
