# recsys.schedule_retrain() with the real pg_cron: a scheduled retrain
# produces a new version while another session, inside a snapshot taken
# before, keeps reading the old one in full.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION recsys;
SELECT * FROM recsys.generate_dataset('d', users => 500, items => 200, interactions => 10000, seed => 9);
SELECT * FROM recsys.train('m', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
});

# without pg_cron in the database: a clear error
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_retrain('m', '* * * * *')});
like($stderr, qr/pg_cron is not installed in this database/, 'clear error without pg_cron');

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_retrain('nope', '* * * * *')});
like($stderr, qr/model "nope" does not exist/, 'unknown model refused');

# a reader holding a snapshot of version 1
my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($reader->query_safe(q{SELECT active_version FROM recsys.models WHERE name = 'm'}), '1', 'reader sees version 1');

my $job = $node->safe_psql('postgres', q{SELECT recsys.schedule_retrain('m', '* * * * *')});
like($job, qr/^\d+$/, "scheduled as job $job");
is($node->safe_psql('postgres', q{SELECT command FROM cron.job WHERE jobid = } . $job),
	q{SELECT recsys.retrain('m')}, 'the job runs recsys.retrain');

# pg_cron runs jobs at minute boundaries
ok($node->poll_query_until('postgres', q{SELECT active_version >= 2 FROM recsys.models WHERE name = 'm'}),
	'pg_cron produced a new version');
is($node->safe_psql('postgres', q{SELECT status FROM cron.job_run_details WHERE jobid = } . $job . q{ ORDER BY runid LIMIT 1}),
	'succeeded', 'the cron run succeeded');

is($reader->query_safe(q{SELECT active_version FROM recsys.models WHERE name = 'm'}), '1',
	'the reader still sees version 1 in its snapshot');
is($reader->query_safe(q{SELECT count(*) FROM recsys.item_factors WHERE model = 'm' AND version = 1}), '200',
	'and all of its rows');
$reader->query_safe('COMMIT');
cmp_ok($reader->query_safe(q{SELECT active_version FROM recsys.models WHERE name = 'm'}), '>=', 2,
	'after its transaction it sees the new version');
$reader->quit;

$node->safe_psql('postgres', "SELECT cron.unschedule($job)");
$node->stop;
done_testing();
