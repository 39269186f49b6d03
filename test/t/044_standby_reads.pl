# The reads 013 and 021 leave out, on a streaming standby: similar_items()
# and similar_users() (factor and neighbourhood models), audit_error() and
# audit_ranking() (C functions that run the caller's queries read-only),
# evaluate() with lists, and recommend() taking its candidates from a
# recsys_hnsw index on recsys.item_factors (the index arrives through WAL;
# the standby's index scans are counted).  Each returns exactly what the
# primary returns (floats printed with every digit).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysCluster qw(standby_with_data split_models_sql same_on_standby);

my ($primary, $standby) = standby_with_data(split_models_sql(users => 300, items => 150, seed => 12, split_seed => 5) . q{
SELECT * FROM recsys.train('mk', 'd_interactions_train', 'user_id', 'item_id', NULL, 'item_knn');
SELECT * FROM recsys.train('mu', 'd_interactions_train', 'user_id', 'item_id', NULL, 'user_knn');
CREATE INDEX mi_hnsw ON recsys.item_factors USING recsys_hnsw (factors recsys.embedding_ip_ops)
	WHERE model = 'mi';
ANALYZE recsys.item_factors;
});
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

my %queries = (
	'similar_items, als, ials and item_knn' => q{
SELECT m, i, s.item, s.similarity::text, s.rank
FROM unnest(ARRAY['me', 'mi', 'mk']) m, generate_series(1, 30) i,
     LATERAL recsys.similar_items(m, i, 5) s ORDER BY 1, 2, 5},
	'similar_users, als and user_knn' => q{
SELECT m, u, s."user", s.similarity::text, s.rank
FROM unnest(ARRAY['me', 'mu']) m, generate_series(1, 30) u,
     LATERAL recsys.similar_users(m, u, 5) s ORDER BY 1, 2, 5},
	'audit_error, als, per gender with bootstrap' => q{
SELECT group_key, n, rmse::text, mae::text, mean_error::text, rmse_low::text, rmse_high::text, tested,
       anova_f::text, anova_p::text, kruskal_h::text, kruskal_p::text, disparity_ratio::text
FROM recsys.audit_error('me', 'd_interactions_test', 'SELECT user_id, gender FROM d_users',
                        bootstrap => 50, seed => 3) ORDER BY group_key},
	'audit_ranking, ials, per age band' => q{
SELECT group_key, metric, users, mean::text, stddev::text, anova_p::text, kruskal_p::text
FROM recsys.audit_ranking('mi', 'd_interactions_test', 'SELECT user_id, age_band FROM d_users', k => 5)
ORDER BY group_key, metric},
	'evaluate, item_knn, with lists' => q{
SELECT metric, k, value::text FROM recsys.evaluate('mk', 'd_interactions_test', 5,
       lists => $$SELECT "user", item, rank FROM recsys.recommend_all('mk', 5, max_per_group => 2,
                   item_groups => 'SELECT item_id, category FROM d_items')$$) ORDER BY metric},
);

same_on_standby($primary, $standby, \%queries);

# recommend() through the index on both servers: the same lists, and the
# index scanned once per call (this transaction's statistics)
my $via_index = q{
SET extra_float_digits = 3;
SET recsys.index_min_items = 0;
SET enable_sort = off;
SET recsys.ef_search = 200;
BEGIN;
SELECT string_agg(format('%s:%s:%s:%s', u, r.item, r.score, r.rank), ' ' ORDER BY u, r.rank)
FROM generate_series(1, 60) u CROSS JOIN LATERAL recsys.recommend('mi', u, 10) r;
SELECT pg_stat_get_xact_numscans('recsys.mi_hnsw'::regclass);
COMMIT;
};
my ($lists_p, $scans_p) = split /\n/, $primary->safe_psql('postgres', $via_index);
my ($lists_s, $scans_s) = split /\n/, $standby->safe_psql('postgres', $via_index);
is($scans_p, 60, 'primary: recommend() scanned the index once per user');
is($scans_s, 60, 'standby: recommend() scanned the index once per user');
isnt($lists_p, '', 'recommend() through the index returns lists');
is($lists_s, $lists_p, 'recommend() through the index: the standby returns the same lists');

done_testing();
