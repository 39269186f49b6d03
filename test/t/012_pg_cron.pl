# recsys.schedule_retrain() with the real pg_cron: a scheduled retrain
# produces a new version while another session, inside a snapshot taken
# before, keeps reading the old one in full; recsys.schedule_update() folds
# new rows in on a schedule.  And what it refuses: a model
# made by recsys.fit() (no source to retrain from), another role's model,
# a job name that pg_cron would cut or that names another job; two models
# whose names share their first 63 bytes get a job each.

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

# schedule_update(): a nightly update, here every minute, folds new rows in
($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_update('m', '* * * * *')});
like($stderr, qr/model "m" has no time column to find new interactions by/,
	'schedule_update refuses a model without a time column');
$node->safe_psql('postgres', q{
SELECT * FROM recsys.train('mu', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
                           '{"time_column": "ts", "factors": 4, "iterations": 3}');
INSERT INTO d_interactions (user_id, item_id, rating, clicks, ts)
SELECT 900000 + g, g, 4, 1, (SELECT max(ts) FROM d_interactions) + g * interval '1 minute'
FROM generate_series(1, 3) g;
});
my $ujob = $node->safe_psql('postgres', q{SELECT recsys.schedule_update('mu', '* * * * *')});
is($node->safe_psql('postgres', q{SELECT jobname || ': ' || command FROM cron.job WHERE jobid = } . $ujob),
	q{recsys-update-mu: SELECT recsys.update('mu')}, 'the job runs recsys.update');
ok($node->poll_query_until('postgres', q{SELECT active_version >= 2 FROM recsys.models WHERE name = 'mu'}),
	'pg_cron made a new version by update');
is($node->safe_psql('postgres', q{SELECT updated_from || ' ' || users FROM recsys.model_versions
WHERE model = 'mu' AND version = 2}), '1 503', 'version 2 is version 1 updated, with the 3 new users');
$node->safe_psql('postgres', "SELECT cron.unschedule($ujob)");
is($node->safe_psql('postgres',
	q{SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE oid = 'recsys.schedule_update(text,text,text)'::regprocedure}),
	'search_path=pg_catalog, recsys, pg_temp', 'schedule_update pins its search_path');

# its search_path is pinned
is($node->safe_psql('postgres',
	q{SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE oid = 'recsys.schedule_retrain(text,text,text)'::regprocedure}),
	'search_path=pg_catalog, recsys, pg_temp', 'schedule_retrain pins its search_path');

# a model made by recsys.fit() has no source: refused
$node->safe_psql('postgres', q{SELECT recsys.fit('fitted', user_id, item_id, 1::real, '{"algorithm": "popularity"}') FROM d_interactions});
($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_retrain('fitted', '0 3 * * *')},
	extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/55000: model "fitted" has no stored source to retrain from/, 'a model made by fit() is refused (55000)');
like($stderr, qr/HINT:.*cron\.schedule\(\)/, 'with a hint');

# two names that share their first 63 bytes: one job each, each retraining its own model
my $long = 'x' x 70;
$node->safe_psql('postgres', qq{
SELECT recsys.train('${long}_a', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
SELECT recsys.train('${long}_b', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
});
my $ja = $node->safe_psql('postgres', qq{SELECT recsys.schedule_retrain('${long}_a', '0 3 * * *')});
my $jb = $node->safe_psql('postgres', qq{SELECT recsys.schedule_retrain('${long}_b', '0 3 * * *')});
isnt($ja, $jb, 'two long model names get two jobs');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM cron.job WHERE jobid IN ($ja, $jb)}), '2', 'both jobs exist');
is($node->safe_psql('postgres', qq{SELECT command FROM cron.job WHERE jobid = $ja}),
	qq{SELECT recsys.retrain('${long}_a')}, 'the first retrains its model');
is($node->safe_psql('postgres', qq{SELECT command FROM cron.job WHERE jobid = $jb}),
	qq{SELECT recsys.retrain('${long}_b')}, 'the second retrains its model');
cmp_ok($node->safe_psql('postgres', qq{SELECT max(octet_length(jobname)) FROM cron.job WHERE jobid IN ($ja, $jb)}),
	'<=', 63, 'job names fit pg_cron');
# scheduling the same model again changes its one job
is($node->safe_psql('postgres', qq{SELECT recsys.schedule_retrain('${long}_a', '0 4 * * *')}), $ja,
	'rescheduling keeps the job');
is($node->safe_psql('postgres', qq{SELECT schedule FROM cron.job WHERE jobid = $ja}), '0 4 * * *',
	'with the new schedule');

# a job name already used by another model's job, or too long: refused
my $taken = $node->safe_psql('postgres', qq{SELECT jobname FROM cron.job WHERE jobid = $ja});
($rc, $stdout, $stderr) = $node->psql('postgres', qq{SELECT recsys.schedule_retrain('m', '0 3 * * *', '$taken')},
	extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/42710: pg_cron job ".*" already exists and runs something else/, 'a job name of another model is refused (42710)');
is($node->safe_psql('postgres', qq{SELECT command FROM cron.job WHERE jobid = $ja}),
	qq{SELECT recsys.retrain('${long}_a')}, 'and that job is untouched');
($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_retrain('m', '0 3 * * *', repeat('j', 64))},
	extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/42622: job_name ".*" is longer than 63 bytes/, 'a job name pg_cron would cut is refused (42622)');

# another role may not schedule the model (even with EXECUTE on the function)
$node->safe_psql('postgres', q{
CREATE ROLE cron_other LOGIN;
GRANT EXECUTE ON FUNCTION recsys.schedule_retrain(text, text, text) TO cron_other;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO cron_other;
GRANT USAGE ON SCHEMA cron TO cron_other;
});
($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_retrain('m', '0 3 * * *')},
	extra_params => ['-U', 'cron_other', '-v', 'VERBOSITY=verbose']);
like($stderr, qr/42501: permission denied for model "m"/, "another role's model is refused (42501)");
# granted the model's use, it is still not its owner
$node->safe_psql('postgres', q{SELECT recsys.grant_model('m', 'cron_other')});
($rc, $stdout, $stderr) = $node->psql('postgres', q{SELECT recsys.schedule_retrain('m', '0 3 * * *')},
	extra_params => ['-U', 'cron_other', '-v', 'VERBOSITY=verbose']);
like($stderr, qr/42501: must be owner of model "m"/, "a role that may use the model may not schedule it (42501)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE username = 'cron_other'}), '0',
	'and no job was made');

$node->safe_psql('postgres', qq{SELECT cron.unschedule($ja); SELECT cron.unschedule($jb)});
$node->stop;
done_testing();
