# Upgrade from every previous release: for each of them (RS_PREV_INSTALLS,
# "0.1.0=/path 0.2.0=/path": a PostgreSQL tree with that release
# installed; scripts/test.sh builds them from git) a cluster running it
# trains models of every kind as non-superusers, with a recsys_hnsw index on
# one model's item_factors (0.1.0: made the README's way, by hand; later
# releases: the managed one of recsys.create_model_index()); its data
# directory is then started with this tree's build and ALTER EXTENSION
# recsys UPDATE is run.  Every model serves exactly what it served before,
# the catalog rows are unchanged, the catalog rules of 0.2.0 hold (owners by
# OID, version_id, the active version's foreign key), training works
# afterwards, and the upgraded extension's objects are exactly those of a
# fresh CREATE EXTENSION (RecsysModels::catalog_description).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysModels qw(roles_sql setup_sql train_sql models serving
  catalog_tables catalog_description lines_diff);

my $spec = $ENV{RS_PREV_INSTALLS} // '';
my @releases;
for my $pair (split ' ', $spec)
{
	my ($version, $install) = split /=/, $pair, 2;
	die "RS_PREV_INSTALLS: \"$pair\" is not version=path\n"
	  unless defined $install && $version =~ /^\d+\.\d+\.\d+$/;
	die "RS_PREV_INSTALLS: $install has no bin/postgres (recsys $version)\n"
	  unless -x "$install/bin/postgres";
	push @releases, [ $version, $install ];
}
die "RS_PREV_INSTALLS must name a PostgreSQL tree with each previous release of recsys "
  . "installed, as \"0.1.0=/path 0.2.0=/path\" (scripts/test.sh builds them from git)\n"
  unless @releases;

upgrade_from(@$_) for @releases;
done_testing();

# The managed index of model $m (0.2.0 and later), by its name's prefix.
sub managed_index
{
	my ($node, $m) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(c.relname, ',') FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid
WHERE x.indrelid = 'recsys.item_factors'::regclass
  AND c.relname LIKE 'rs\\_idx\\_' || left(md5('$m'), 16) || '\\_%'});
}

sub upgrade_from
{
	my ($prev_version, $prev_install) = @_;
	(my $tag = $prev_version) =~ tr/./_/;
	# 0.1.0 kept owners by name and had no managed indexes
	my $first = $prev_version eq '0.1.0';

	# --- the previous release ----------------------------------------------
	my $old = PostgreSQL::Test::Cluster->new("old_$tag", install_path => $prev_install);
	$old->init;
	$old->start;

	is($old->safe_psql('postgres',
			q{SELECT default_version FROM pg_available_extensions WHERE name = 'recsys'}),
		$prev_version, "$prev_version: the old cluster's recsys is $prev_version");

	$old->safe_psql('postgres', roles_sql());
	$old->safe_psql('postgres', 'CREATE DATABASE fresh');
	$old->safe_psql('postgres', "CREATE EXTENSION recsys VERSION '$prev_version'");
	$old->safe_psql('postgres', setup_sql());
	$old->safe_psql('postgres', train_sql());

	my @gone;
	if ($first)
	{
		# A model whose owner role is dropped before the upgrade (0.1.0 kept
		# the owner's name; the upgrade gives such a model to the catalog's
		# owner).
		$old->safe_psql('postgres', q{
CREATE ROLE rs_gone LOGIN;
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb) TO rs_gone;
GRANT SELECT ON d_interactions TO rs_gone;
SET ROLE rs_gone;
SELECT 1 FROM recsys.train('m_gone', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
RESET ROLE;
DROP OWNED BY rs_gone;
DROP ROLE rs_gone;
});
		@gone = ({ name => 'm_gone', owner => 'rs_gone' });
	}

	# m_ials' index: recommend() takes its candidates from it once
	# recsys.index_min_items allows.  0.1.0: the README's per-model index,
	# made by hand; later: the managed one.
	my $old_index;
	if ($first)
	{
		$old->safe_psql('postgres', q{
CREATE INDEX m_ials_hnsw ON recsys.item_factors USING recsys_hnsw (factors recsys.embedding_ip_ops)
	WHERE model = 'm_ials';
ANALYZE recsys.item_factors;
});
		$old_index = 'm_ials_hnsw';
	}
	else
	{
		$old->safe_psql('postgres', q{
SELECT recsys.create_model_index('m_ials');
ANALYZE recsys.item_factors;
});
		$old_index = managed_index($old, 'm_ials');
	}
	my $via_index = q{
SET extra_float_digits = 3;
SET recsys.index_min_items = 0;
SET recsys.ef_search = 400;
SET enable_seqscan = off;
SET enable_sort = off;
BEGIN;
SELECT string_agg(format('%s>%s:%s:%s', u, r.item, r.score, r.rank), ' ' ORDER BY u, r.rank)
FROM generate_series(1, 20) u CROSS JOIN LATERAL recsys.recommend('m_ials', u, 10) r;
SELECT pg_stat_get_xact_numscans('recsys.INDEX'::regclass);
COMMIT;
};
	(my $via_old = $via_index) =~ s/INDEX/$old_index/;
	my ($index_lists_before, $index_scans_before) =
	  split /\n/, $old->safe_psql('postgres', $via_old);
	is($index_scans_before, 20,
		"$prev_version: before: recommend() scans the recsys_hnsw index $old_index once per user");

	my %before = serving($old, 'postgres');
	# Every catalog table's rows over the old release's columns (a column
	# the upgrade adds, as 0.3.0's item_factors.implicit_factors, is new
	# and checked on its own)
	my %tables_before = catalog_tables($old, 'postgres');
	my %old_cols;
	for my $t (keys %tables_before)
	{
		$old_cols{$t} = $old->safe_psql('postgres', qq{
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped});
		$tables_before{$t} = rows_digest($old, $t, $old_cols{$t});
	}
	# The catalog's rows as they were, column by column (owner apart: its
	# type changed in 0.2.0), to compare after the upgrade.
	my %cols;
	for my $t ('models', 'model_versions')
	{
		$cols{$t} = $old->safe_psql('postgres', qq{
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = 'recsys.$t'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'owner'});
	}
	my $models_q = "SELECT row($cols{models})::text FROM recsys.models ORDER BY name COLLATE \"C\"";
	my $versions_q = "SELECT row($cols{model_versions})::text FROM recsys.model_versions "
	  . "ORDER BY model COLLATE \"C\", version";
	my $models_before = $old->safe_psql('postgres', $models_q);
	my $versions_before = $old->safe_psql('postgres', $versions_q);
	is($old->safe_psql('postgres', q{SELECT string_agg(owner::text, ',' ORDER BY name COLLATE "C") FROM recsys.models}),
		join(',', (map { $_->{owner} } sort { $a->{name} cmp $b->{name} } (models(), @gone))),
		"$prev_version: before: the models belong to the roles that trained them");
	is($old->safe_psql('postgres', q{SELECT string_agg(version::text, ',' ORDER BY version)
	FROM recsys.model_versions WHERE model = 'm_two'}), '1,2', "$prev_version: before: m_two has two versions");

	# --- the same data directory with this tree's build -------------------
	$old->stop;
	$old->backup_fs_cold('prev');
	my $new = PostgreSQL::Test::Cluster->new("new_$tag");
	$new->init_from_backup($old, 'prev');
	$new->start;

	is($new->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recsys'}),
		$prev_version, "$prev_version: after the restart the extension is still $prev_version");
	my $default = $new->safe_psql('postgres',
		q{SELECT default_version FROM pg_available_extensions WHERE name = 'recsys'});
	isnt($default, $prev_version, "$prev_version: this tree's default version ($default) is newer");

	my ($ret, $stdout, $stderr) = $new->psql('postgres', 'ALTER EXTENSION recsys UPDATE',
		on_error_stop => 1);
	is($ret, 0, "$prev_version: ALTER EXTENSION recsys UPDATE succeeds");
	diag($stderr) if $ret != 0;
	if ($first)
	{
		like($stderr, qr/model "m_gone" was owned by role "rs_gone", which no longer exists/,
			"$prev_version: the upgrade says which model lost its owner");
	}
	is($new->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recsys'}),
		$default, "$prev_version: the extension is now $default");

	# --- every model serves what it served ---------------------------------
	my %after = serving($new, 'postgres');
	for my $k (sort keys %before)
	{
		unlike($before{$k}, qr/^ERROR/, "$prev_version: before: $k works");
		isnt($before{$k}, '', "$prev_version: before: $k returns rows");
		is($after{$k}, $before{$k}, "$prev_version: after the upgrade: $k is the same");
	}
	for my $m (models())
	{
		# 5 users x 10 items, 5 x 5 predictions: no short lists
		my @recs = split / /, $after{"$m->{name} recommend"};
		is(scalar @recs, 50, "$prev_version: $m->{name}: 10 items for each of 5 users");
	}

	# m_ials' index is the model's managed index (0.1.0's hand-made one
	# became it: the old one is gone), there for the model's dimension,
	# with default settings, and serves the same lists
	is($new->safe_psql('postgres', q{SELECT to_regclass('recsys.m_ials_hnsw') IS NULL}),
		't', "$prev_version: after: no hand-made index");
	my $managed = $new->safe_psql('postgres', q{
SELECT c.relname FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid
WHERE x.indrelid = 'recsys.item_factors'::regclass
  AND c.relname = 'rs_idx_' || left(md5('m_ials'), 16) || '_'
      || (SELECT params->>'factors' FROM recsys.model_versions v JOIN recsys.models m
          ON m.name = v.model AND m.active_version = v.version WHERE m.name = 'm_ials')});
	isnt($managed, '', "$prev_version: after: m_ials has its managed index ($managed)");
	is($managed, $old_index, "$prev_version: after: the managed index is the one that was there")
	  unless $first;
	is($new->safe_psql('postgres', q{SELECT index_options FROM recsys.models WHERE name = 'm_ials'}),
		'{}', "$prev_version: after: m_ials asks for an index with default settings");
	(my $via_managed = $via_index) =~ s/INDEX/$managed/;
	my ($index_lists_after, $index_scans_after) =
	  split /\n/, $new->safe_psql('postgres', $via_managed);
	is($index_scans_after, 20,
		"$prev_version: after: recommend() scans the managed recsys_hnsw index once per user");
	is($index_lists_after, $index_lists_before,
		"$prev_version: after: the lists through the index are the same");

	# --- the catalog's rows --------------------------------------------------
	my %tables_after = map { $_ => rows_digest($new, $_, $old_cols{$_}) } keys %tables_before;
	is($new->safe_psql('postgres', q{SELECT count(*) FROM recsys.item_factors WHERE implicit_factors IS NOT NULL}),
		'0', "$prev_version: recsys.item_factors: the added column implicit_factors is NULL in every upgraded row");
	for my $t (sort keys %tables_before)
	{
		# (0.2.0 changed the columns of these two, 0.3.0 those of
		# model_versions: compared column by column below)
		next if ($first and $t eq 'recsys.models') or $t eq 'recsys.model_versions';
		is($tables_after{$t}, $tables_before{$t}, "$prev_version: $t: the same rows");
	}
	is($new->safe_psql('postgres', $models_q), $models_before,
		"$prev_version: recsys.models: every column of $prev_version (but owner) has the same values");
	is($new->safe_psql('postgres', $versions_q), $versions_before,
		"$prev_version: recsys.model_versions: every column of $prev_version has the same values");

	# --- the catalog's rules hold ---------------------------------------------
	is($new->safe_psql('postgres', q{SELECT format('%s %s', format_type(atttypid, atttypmod), attnotnull)
	FROM pg_attribute WHERE attrelid = 'recsys.models'::regclass AND attname = 'owner'}),
		'regrole t', "$prev_version: recsys.models.owner is a NOT NULL regrole");
	my $catalog_owner = $new->safe_psql('postgres',
		q{SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'recsys.models'::regclass});
	is($new->safe_psql('postgres', q{SELECT string_agg(m.name || '=' || coalesce(r.rolname, '?'), ',' ORDER BY m.name COLLATE "C")
	FROM recsys.models m LEFT JOIN pg_roles r ON r.oid = m.owner::oid}),
		join(',', (map { "$_->{name}=$_->{owner}" } sort { $a->{name} cmp $b->{name} }
		  (models(), map { +{ name => $_->{name}, owner => $catalog_owner } } @gone))),
		"$prev_version: each model's owner is the OID of the role that trained it"
		  . ($first ? ' (m_gone: the catalog\'s owner)' : ''));
	$new->safe_psql('postgres', 'ALTER ROLE rs_trainer_b RENAME TO rs_trainer_c');
	is($new->safe_psql('postgres', q{SELECT owner::text FROM recsys.models WHERE name = 'm_pop'}),
		'rs_trainer_c', "$prev_version: renaming the owner role keeps the model its own (owned by OID)");
	$new->safe_psql('postgres', 'ALTER ROLE rs_trainer_c RENAME TO rs_trainer_b');

	is($new->safe_psql('postgres', q{SELECT count(*) = count(version_id) AND count(*) = count(DISTINCT version_id)
	AND count(*) > 0 FROM recsys.model_versions}),
		't', "$prev_version: every version has a version_id, all different");
	is($new->safe_psql('postgres', q{SELECT attnotnull FROM pg_attribute
	WHERE attrelid = 'recsys.model_versions'::regclass AND attname = 'version_id'}),
		't', "$prev_version: version_id is NOT NULL");
	is($new->safe_psql('postgres', q{SELECT count(*) FROM pg_index
	WHERE indrelid = 'recsys.model_versions'::regclass AND indisunique AND indnkeyatts = 1
	  AND indkey[0] = (SELECT attnum FROM pg_attribute
	                   WHERE attrelid = 'recsys.model_versions'::regclass AND attname = 'version_id')}),
		'1', "$prev_version: version_id is unique (an index)");
	is($new->safe_psql('postgres', q{SELECT format('%s %s', pg_get_constraintdef(oid), convalidated) FROM pg_constraint
	WHERE conrelid = 'recsys.models'::regclass AND conname = 'models_active_version_fkey'}),
		'FOREIGN KEY (name, active_version) REFERENCES recsys.model_versions(model, version) t',
		"$prev_version: the foreign key models_active_version_fkey exists and is validated");
	($ret, $stdout, $stderr) = $new->psql('postgres',
		q{UPDATE recsys.models SET active_version = 99 WHERE name = 'm_two'});
	like($stderr, qr/models_active_version_fkey/,
		"$prev_version: an active version that does not exist is refused");

	# --- training after the upgrade -------------------------------------------
	my $max_id = $new->safe_psql('postgres', 'SELECT max(version_id) FROM recsys.model_versions');
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer; SELECT version FROM recsys.retrain('m_two')}),
		'3', "$prev_version: rs_trainer retrains m_two (a model of the old release) as version 3");
	is($new->safe_psql('postgres', qq{SELECT version_id > $max_id FROM recsys.model_versions
	WHERE model = 'm_two' AND version = 3}),
		't', "$prev_version: the new version gets a version_id above every upgraded one");
	is($new->safe_psql('postgres', q{SELECT owner::text || ' ' || active_version FROM recsys.models WHERE name = 'm_two'}),
		'rs_trainer 3', "$prev_version: m_two: still rs_trainer's, version 3 active");
	is($new->safe_psql('postgres', q{SELECT count(*) FROM generate_series(1, 5) u,
	LATERAL recsys.recommend('m_two', u, 10)}), '50', "$prev_version: the retrained model serves");
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer_b;
	SELECT version FROM recsys.train('m_new', 'd_interactions', 'user_id', 'item_id', 'rating', 'als',
	                                 '{"factors": 4, "iterations": 3}')}),
		'1', "$prev_version: a new model trains after the upgrade");
	is($new->safe_psql('postgres', q{SELECT count(*) FROM recsys.recommend('m_new', 1, 10)}),
		'10', "$prev_version: the new model serves");
	# an algorithm the old release did not have, in the upgraded catalog
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer_b;
	SELECT version || ' ' || algorithm FROM recsys.train('m_new_ease', 'd_interactions', 'user_id', 'item_id',
	                                                     NULL, 'ease', '{"neighbors": 10}')}),
		'1 ease', "$prev_version: an ease model trains after the upgrade");
	is($new->safe_psql('postgres', q{SELECT count(*) || ' ' || bool_and(abs(r.score - recsys.predict('m_new_ease', 1, r.item)) < 1e-6)
	FROM recsys.recommend('m_new_ease', 1, 10) r}),
		'10 true', "$prev_version: the ease model serves, recommend's scores as predict's");
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer_b;
	SELECT version || ' ' || algorithm
	FROM recsys.train('m_new_nmf', 'd_interactions', 'user_id', 'item_id', 'rating', 'nmf', '{"factors": 4}')}),
		'1 nmf', "$prev_version: an nmf model trains after the upgrade");
	is($new->safe_psql('postgres', q{SELECT count(*) || ' ' || bool_and(abs(r.score - recsys.predict('m_new_nmf', 1, r.item)) < 1e-6)
	  || ' ' || (SELECT bool_and(x >= 0) FROM recsys.item_factors f, unnest(f.factors::real[]) x WHERE f.model = 'm_new_nmf')
	FROM recsys.recommend('m_new_nmf', 1, 10) r}),
		'10 true true', "$prev_version: the nmf model serves, recommend's scores as predict's, its factors >= 0");
	# svdpp keeps its items' y_j in a column the upgrade adds
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer_b;
	SELECT version || ' ' || algorithm
	FROM recsys.train('m_new_svdpp', 'd_interactions', 'user_id', 'item_id', 'rating', 'svdpp',
	                  '{"factors": 4, "regularization": 0.05}')}),
		'1 svdpp', "$prev_version: an svdpp model trains after the upgrade");
	is($new->safe_psql('postgres', q{SELECT count(*) || ' ' || bool_and(abs(r.score - recsys.predict('m_new_svdpp', 1, r.item)) < 1e-6)
	  || ' ' || (SELECT count(implicit_factors) = count(*) FROM recsys.item_factors WHERE model = 'm_new_svdpp')
	  || ' ' || (SELECT count(implicit_factors) FROM recsys.item_factors WHERE model <> 'm_new_svdpp')
	FROM recsys.recommend('m_new_svdpp', 1, 10) r}),
		'10 true true 0', "$prev_version: the svdpp model serves; its items keep their implicit factors, the upgraded models' items none");

	# training through the step aggregates the upgrade adds: the in-memory
	# exact model of the same options, within float rounding
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer_b;
	SELECT string_agg(version || ' ' || algorithm, ', ' ORDER BY algorithm)
	FROM (VALUES ('m_new_sql', '{"factors": 3, "iterations": 2, "execution": "sql"}'),
	             ('m_new_mem', '{"factors": 3, "iterations": 2, "solver": "cholesky"}')) v(m, o),
	     LATERAL recsys.train(m, 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials', o::jsonb)}),
		'1 ials, 1 ials', "$prev_version: an ials model trains through SQL statements after the upgrade");
	is($new->safe_psql('postgres', q{SELECT count(*) > 0 AND max(abs(recsys.predict('m_new_sql', user_id, item_id)
	    - recsys.predict('m_new_mem', user_id, item_id))) < 1e-4 FROM d_interactions}),
		't', "$prev_version: the model trained in SQL statements equals the in-memory one");

	# --- tune() after the upgrade: a model of the old release gets a tuned version
	is($new->safe_psql('postgres', q{SET ROLE rs_trainer;
	SELECT version || ':' || count(*) || ':' || count(*) FILTER (WHERE best)
	FROM recsys.tune('m_als', 'd_interactions', 'user_id', 'item_id', 'rating', 'als',
	                 space => '{"factors": [2, 4]}', folds => 2, base_options => '{"iterations": 2}')
	GROUP BY version}),
		'2:3:1', "$prev_version: tune() of an upgraded model: version 2, 3 trials, one best");
	is($new->safe_psql('postgres', q{SELECT count(*) FROM recsys.tuning_trials WHERE model = 'm_als' AND version = 2}),
		'3', "$prev_version: the trials are kept against version 2");

	# --- update() after the upgrade: the old versions record no data_until ----
	my ($urc, $uout, $uerr) = $new->psql('postgres', q{SELECT recsys.update('m_two')});
	like($uerr, qr/model "m_two" has no time column/,
		"$prev_version: update() of an upgraded model without a time column is refused");
	$new->safe_psql('postgres', q{UPDATE recsys.models SET options = options || '{"time_column": "ts"}'
	WHERE name = 'm_two'});
	($urc, $uout, $uerr) = $new->psql('postgres', q{SELECT recsys.update('m_two')});
	like($uerr, qr/version 3 of model "m_two" does not record the newest interaction it read/,
		"$prev_version: update() of a version that records no data_until asks for a retrain");
	$new->safe_psql('postgres', q{SELECT version FROM recsys.train('m_upd', 'd_interactions', 'user_id',
	'item_id', 'clicks', 'ials', '{"factors": 4, "iterations": 3, "time_column": "ts"}')});
	is($new->safe_psql('postgres', q{INSERT INTO d_interactions (user_id, item_id, rating, clicks, ts)
	SELECT 999999, min(item_id), 4, 1, max(ts) + interval '1 hour' FROM d_interactions;
	SELECT version || ' ' || users || ' ' || interactions FROM recsys.update('m_upd')}),
		'2 1 1', "$prev_version: a model trained after the upgrade updates: version 2, one new user");

	# --- the upgraded extension is what a fresh install makes ---------------
	$new->safe_psql('fresh', 'CREATE EXTENSION recsys');
	$new->safe_psql('fresh', RecsysModels::grants_sql());
	my $upgraded = catalog_description($new, 'postgres', '^rs_idx_');
	my $fresh = catalog_description($new, 'fresh');
	cmp_ok(scalar @$fresh, '>', 100, "$prev_version: the description of a fresh install has "
		  . scalar(@$fresh) . ' lines');
	is(lines_diff($upgraded, $fresh), '',
		"$prev_version: the upgraded extension's objects equal a fresh CREATE EXTENSION's "
		  . '(- upgraded only, + fresh only)');

	$new->stop;
}

# count and md5 of a table's rows over the given columns, in text order
sub rows_digest
{
	my ($node, $table, $cols) = @_;
	return $node->safe_psql('postgres', qq{
SELECT count(*) || ' ' || md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))
FROM (SELECT row($cols)::text AS r FROM $table) s});
}
