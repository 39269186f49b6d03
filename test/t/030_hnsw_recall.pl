# recsys_hnsw recall against exact sequential-scan search:
#  - 20,000 random 32-dimensional vectors, each opclass, m = 16,
#    ef_construction = 64, recsys.ef_search = 100 (uniform random data has
#    no structure at all, the hardest case for a graph index);
#  - item factors of an ials model with inner product at default settings
#    (the recommender case: unnormalised vectors, queries are user factors);
#  - after deleting 30% of the rows, VACUUM and inserting new rows;
#  - a filter matching 5% of the rows returns exactly k rows, at default
#    settings, and they are the exact filtered top k (recall);
#  - a build past maintenance_work_mem (the on-disk path) gives the same
#    quality.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use RecsysCluster qw(recsys_node);

my $node = recsys_node('hnsw_recall', conf => "maintenance_work_mem = 256MB\n", sql => q{
SELECT setseed(0.42);
CREATE TABLE items (id int PRIMARY KEY, category int, v recsys.embedding(32));
INSERT INTO items
SELECT i, i % 20, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE i > 0)::recsys.embedding
FROM generate_series(1, 20000) i;
CREATE TABLE queries (qid int, qv recsys.embedding(32));
INSERT INTO queries
SELECT j, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE j > 0)::recsys.embedding
FROM generate_series(1, 100) j;
ANALYZE items;

-- recall@k of the index against exact search, over every query
CREATE FUNCTION recall(tbl text, qtbl text, op text, k int, filter text DEFAULT 'true')
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	q record;
	ex int[];
	ap int[];
	hits bigint := 0;
	total bigint := 0;
	sql text := format('SELECT array_agg(id) FROM (SELECT id FROM %I WHERE %s ORDER BY v OPERATOR(recsys.%s) $1 LIMIT %s) s',
	                   tbl, filter, op, k);
BEGIN
	FOR q IN EXECUTE format('SELECT qid, qv FROM %I ORDER BY qid', qtbl) LOOP
		PERFORM set_config('enable_indexscan', 'off', true);
		PERFORM set_config('enable_seqscan', 'on', true);
		EXECUTE sql INTO ex USING q.qv;
		PERFORM set_config('enable_indexscan', 'on', true);
		PERFORM set_config('enable_seqscan', 'off', true);
		EXECUTE sql INTO ap USING q.qv;
		hits := hits + cardinality(ARRAY(SELECT unnest(ex) INTERSECT SELECT unnest(ap)));
		total := total + cardinality(ex);
	END LOOP;
	RETURN round(hits::numeric / total, 4);
END $$;

-- rows returned by the index for every query (filtered), as min and max
CREATE FUNCTION returned(tbl text, qtbl text, op text, k int, filter text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	q record;
	n int;
	lo int := 1000000;
	hi int := 0;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR q IN EXECUTE format('SELECT qid, qv FROM %I ORDER BY qid', qtbl) LOOP
		EXECUTE format('SELECT count(*) FROM (SELECT id FROM %I WHERE %s ORDER BY v OPERATOR(recsys.%s) $1 LIMIT %s) s',
		               tbl, filter, op, k) INTO n USING q.qv;
		lo := least(lo, n);
		hi := greatest(hi, n);
	END LOOP;
	RETURN lo || '..' || hi;
END $$;
});

my %op = (l2 => '<->', ip => '<#>', cosine => '<=>');
for my $opc (qw(l2 ip cosine))
{
	$node->safe_psql('postgres',
		"CREATE INDEX items_$opc ON items USING recsys_hnsw (v recsys.embedding_${opc}_ops) WITH (m = 16, ef_construction = 64)");
	my $plan = $node->safe_psql('postgres',
		"SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v OPERATOR(recsys.$op{$opc}) (SELECT qv FROM queries WHERE qid = 1) LIMIT 10");
	like($plan, qr/Index Scan using items_$opc/, "$opc: the query uses the index");
	my $r = $node->safe_psql('postgres',
		"SET recsys.ef_search = 100; SELECT recall('items', 'queries', '$op{$opc}', 10)");
	cmp_ok($r, '>=', 0.95, "$opc: recall\@10 on 20k random 32-d vectors is $r (ef_search 100)");
	$node->safe_psql('postgres', "DROP INDEX items_$opc") unless $opc eq 'l2';
}

# A filter matching 5% of the rows (category = 3): every query gets
# exactly 10 rows at default ef_search (40), and they are the right ones.
is($node->safe_psql('postgres', q{SELECT returned('items', 'queries', '<->', 10, 'category = 3')}),
	'10..10', 'a 5% filter returns exactly 10 rows for every query');
my $rf = $node->safe_psql('postgres', q{SELECT recall('items', 'queries', '<->', 10, 'category = 3')});
cmp_ok($rf, '>=', 0.95, "filtered recall\@10 is $rf");
# a filter that keeps fewer rows than LIMIT: all of them
is($node->safe_psql('postgres',
		q{SELECT returned('items', 'queries', '<->', 50, 'category = 4 AND id < 800')}),
	'40..40', 'a filter keeping 40 rows returns all 40 under LIMIT 50');

# 30% deletes, VACUUM, 6,000 new rows: still >= 0.95.
$node->safe_psql('postgres', q{
DELETE FROM items WHERE id % 10 IN (1, 4, 7);
VACUUM items;
SELECT setseed(0.7);
INSERT INTO items
SELECT i, i % 20, (SELECT array_agg(random()::real) FROM generate_series(1, 32) WHERE i > 0)::recsys.embedding
FROM generate_series(20001, 26000) i;
});
my $rv = $node->safe_psql('postgres',
	"SET recsys.ef_search = 100; SELECT recall('items', 'queries', '<->', 10)");
cmp_ok($rv, '>=', 0.95, "after 30% deletes + VACUUM + 6000 inserts recall\@10 is $rv");
is( $node->safe_psql('postgres',
		q{SET enable_seqscan = off; SET recsys.ef_search = 1000; SET recsys.max_scan_tuples = 100000;
		  SELECT count(*) FROM (SELECT id FROM items ORDER BY v OPERATOR(recsys.<->) (SELECT qv FROM queries WHERE qid = 1) LIMIT 100000) s}),
	$node->safe_psql('postgres', 'SELECT count(*) FROM items'),
	'after VACUUM every live row is reachable through the index');

# Matrix-factorisation item factors, inner product, default settings.
$node->safe_psql('postgres', q{
SELECT * FROM recsys.generate_dataset('mf', users => 5000, items => 20000, interactions => 300000, seed => 3, factors => 16);
SELECT * FROM recsys.train('mfi', 'mf_interactions', 'user_id', 'item_id', 'clicks', 'ials', '{"factors": 32, "iterations": 5}');
CREATE TABLE fac_items AS SELECT item_idx AS id, factors AS v FROM recsys.item_factors WHERE model = 'mfi';
CREATE TABLE fac_queries AS SELECT user_idx AS qid, factors AS qv FROM recsys.user_factors WHERE model = 'mfi' AND user_idx % 50 = 0;
CREATE INDEX fac_ip ON fac_items USING recsys_hnsw (v recsys.embedding_ip_ops);
ANALYZE fac_items;
});
my $spread = $node->safe_psql('postgres',
	q{SELECT round((max(recsys.norm(v)) / percentile_cont(0.5) WITHIN GROUP (ORDER BY recsys.norm(v)))::numeric, 1) FROM fac_items});
cmp_ok($spread, '>', 5, "item factor norms are spread (max/median $spread)");
my $rmf = $node->safe_psql('postgres', q{SELECT recall('fac_items', 'fac_queries', '<#>', 10)});
cmp_ok($rmf, '>=', 0.95, "ials item factors, inner product, default settings: recall\@10 is $rmf");

# Past maintenance_work_mem: the build switches to on-disk inserts, says
# so, and the index is as good.
$node->safe_psql('postgres', q{CREATE TABLE small AS SELECT * FROM items WHERE id <= 6000});
my ($rc, $out, $err) = $node->psql('postgres',
	q{SET maintenance_work_mem = '1MB'; CREATE INDEX small_l2 ON small USING recsys_hnsw (v recsys.embedding_l2_ops)});
is($rc, 0, 'the build past maintenance_work_mem succeeds');
like($err, qr/graph no longer fits in maintenance_work_mem after \d+ tuples/, 'and says it went to disk');
my $rs = $node->safe_psql('postgres', "SET recsys.ef_search = 100; SELECT recall('small', 'queries', '<->', 10)");
cmp_ok($rs, '>=', 0.95, "recall\@10 of the index built partly on disk is $rs");

$node->stop;
done_testing();
