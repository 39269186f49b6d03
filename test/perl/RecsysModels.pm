# RecsysModels — models of every kind, for the tests that carry models from
# one database to another (test/t/050_upgrade.pl: an upgrade from the
# previous release; test/t/051_dump_restore_models.pl: pg_dump/pg_restore).
#
#   roles_sql()          the roles that train (once per cluster)
#   setup_sql()          data and grants, run by a superuser in the database
#   train_sql()          every model, each trained by a non-superuser role
#   models()             the models and what each one serves
#   serving($node, $db)  { "model what" => everything that model serves }
#   catalog_tables($node, $db)
#                        { table => rows and checksum } of each catalog table
#   catalog_description($node, $db, $skip)
#                        the extension's objects as sorted lines (functions,
#                        relations, columns, constraints, indexes, triggers,
#                        policies, sequences, types, operators, operator
#                        classes, casts, views, comments, privileges)
#   lines_diff(\@a, \@b) the lines only in a ('-') and only in b ('+')
#
# To cover a new kind of model, add its training to train_sql() and its
# entry to models(); to cover a new kind of catalog object, add a query to
# catalog_description().

package RecsysModels;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(roles_sql setup_sql train_sql models serving
  catalog_tables catalog_description lines_diff);

# rs_trainer trains most models, rs_trainer_b the popularity one (so owners
# differ between models); neither is a superuser.
sub roles_sql
{
	return q{
CREATE ROLE rs_trainer LOGIN;
CREATE ROLE rs_trainer_b LOGIN;
};
}

# The grants a trainer needs (README, "Privileges"); run in every database
# whose extension objects are compared, so their privileges match.
sub grants_sql
{
	return q{
GRANT EXECUTE ON FUNCTION recsys.train(text, text, text, text, text, text, jsonb),
	recsys.retrain(text), recsys.drop_model(text, boolean),
	recsys.fit(text, "any", "any", "any", jsonb)
	TO rs_trainer, rs_trainer_b;
};
}

# 200 users, 100 items; items 96-100 have no interactions, only attributes
# (item_knn with attributes gives them neighbours); a view with text keys.
sub setup_sql
{
	return q{
SELECT * FROM recsys.generate_dataset('d', users => 200, items => 100, interactions => 4000, seed => 12);
DELETE FROM d_interactions WHERE item_id > 95;
CREATE TABLE d_item_attrs AS
	SELECT item_id, ARRAY[sin(item_id), cos(item_id), sin(2 * item_id)]::real[] AS v FROM d_items;
CREATE VIEW d_text AS SELECT 'u' || user_id AS u, 'i' || item_id AS i, clicks FROM d_interactions;
GRANT SELECT ON d_interactions, d_item_attrs, d_text TO rs_trainer, rs_trainer_b;
} . grants_sql();
}

# Small models (4 factors, 3 iterations): the tests compare what they serve,
# not their quality.  m_two has two versions of different dimensions.  After
# training, user 100001 arrives in the source with user 7's items (served by
# fold-in from the stored source).
sub train_sql
{
	my (%opt) = @_;
	my $f = q{'{"factors": 4, "iterations": 3}'};
	# algorithms older releases do not have (current => 1: this one's)
	my $current = $opt{current} ? q{
SELECT 1 FROM recsys.train('m_ease', 'd_interactions', 'user_id', 'item_id', NULL, 'ease',
	'{"neighbors": 10}');
SELECT 1 FROM recsys.train('m_nmf', 'd_interactions', 'user_id', 'item_id', 'rating', 'nmf',
	'{"factors": 4, "iterations": 3}');
SELECT 1 FROM recsys.train('m_svdpp', 'd_interactions', 'user_id', 'item_id', 'rating', 'svdpp',
	'{"factors": 4, "iterations": 3, "regularization": 0.05}');} : '';
	return qq{
SET ROLE rs_trainer;
SELECT 1 FROM recsys.train('m_als', 'd_interactions', 'user_id', 'item_id', 'rating', 'als', $f);
SELECT 1 FROM recsys.train('m_svd', 'd_interactions', 'user_id', 'item_id', 'rating', 'svd', $f);
SELECT 1 FROM recsys.train('m_ials', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials', $f);
SELECT 1 FROM recsys.train('m_bpr', 'd_interactions', 'user_id', 'item_id', NULL, 'bpr', $f);
SELECT 1 FROM recsys.train('m_iknn', 'd_interactions', 'user_id', 'item_id', NULL, 'item_knn',
	'{"neighbors": 10}');
SELECT 1 FROM recsys.train('m_iknn_attr', 'd_interactions', 'user_id', 'item_id', NULL, 'item_knn',
	'{"neighbors": 10, "attributes": "SELECT item_id, v FROM d_item_attrs"}');
SELECT 1 FROM recsys.train('m_uknn', 'd_interactions', 'user_id', 'item_id', 'rating', 'user_knn',
	'{"neighbors": 10, "feedback": "explicit"}');
SELECT 1 FROM recsys.train('m_text', 'd_text', 'u', 'i', 'clicks', 'ials', $f);$current
SELECT (recsys.fit('m_fit', user_id, item_id, rating,
	'{"algorithm": "als", "factors": 4, "iterations": 3}')).version FROM d_interactions;
SELECT 1 FROM recsys.train('m_two', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 3, "iterations": 3}');
SELECT 1 FROM recsys.train('m_two', 'd_interactions', 'user_id', 'item_id', 'clicks', 'ials',
	'{"factors": 5, "iterations": 3, "seed": 7}');
SET ROLE rs_trainer_b;
SELECT 1 FROM recsys.train('m_pop', 'd_interactions', 'user_id', 'item_id', NULL, 'popularity');
RESET ROLE;
INSERT INTO d_interactions SELECT 100001, item_id, rating, clicks, ts FROM d_interactions WHERE user_id = 7;
};
}

# Each model: its owner, the users it serves (100001 is folded in), the
# items predicted and, where the kind has them, similar items or users.
sub models
{
	my (%opt) = @_;
	my $users = 'ARRAY[1, 2, 3, 17, 100001]';
	my $items = 'ARRAY[1, 5, 9, 50, 97]';
	my %int = (users => $users, items => $items, owner => 'rs_trainer');
	return (
		{ name => 'm_als',       %int, similar => 'items' },
		{ name => 'm_svd',       %int, similar => 'items' },
		{ name => 'm_ials',      %int, similar => 'items' },
		{ name => 'm_bpr',       %int, similar => 'items' },
		{ name => 'm_pop',       %int, owner => 'rs_trainer_b' },
		{ name => 'm_iknn',      %int, similar => 'items' },
		{ name => 'm_iknn_attr', %int, similar => 'items' },
		{ name => 'm_uknn',      %int, similar => 'users' },
		{ name => 'm_fit',       %int, similar => 'items' },
		{ name => 'm_two',       %int, similar => 'items', versions => 2 },
		{
			name    => 'm_text',
			users   => q{ARRAY['u1', 'u2', 'u3', 'u17', 'u100001']},
			items   => q{ARRAY['i1', 'i5', 'i9', 'i50', 'i97']},
			owner   => 'rs_trainer',
			similar => 'items'
		},
		$opt{current} ? ({ name => 'm_ease', %int, similar => 'items' },
						 { name => 'm_nmf',  %int, similar => 'items' },
						 { name => 'm_svdpp', %int, similar => 'items' }) : ());
}

# What the model $m serves, as one string per call kind (floats with every
# digit): recommend() for each user (k = 10), predict() for each user and
# item, similar_items()/similar_users() (k = 5).
sub serving_queries
{
	my ($m) = @_;
	my $n = $m->{name};
	my %q = (
		recommend => qq{
SELECT string_agg(format('%s>%s:%s:%s', u, r.item, r.score, r.rank), ' ' ORDER BY o, r.rank)
FROM unnest($m->{users}) WITH ORDINALITY x(u, o) CROSS JOIN LATERAL recsys.recommend('$n', u, 10) r},
		predict => qq{
SELECT string_agg(format('%s,%s:%s', u, i, recsys.predict('$n', u, i)), ' ' ORDER BY uo, io)
FROM unnest($m->{users}) WITH ORDINALITY x(u, uo), unnest($m->{items}) WITH ORDINALITY y(i, io)});
	if ($m->{similar})
	{
		my $what = $m->{similar} eq 'items' ? 'items' : 'users';
		my $keys = $what eq 'items' ? $m->{items} : $m->{users};
		my $col = $what eq 'items' ? 'item' : '"user"';
		$q{"similar_$what"} = qq{
SELECT string_agg(format('%s>%s:%s:%s', k, s.$col, s.similarity, s.rank), ' ' ORDER BY o, s.rank)
FROM unnest($keys) WITH ORDINALITY x(k, o) CROSS JOIN LATERAL recsys.similar_$what('$n', k, 5) s};
	}
	return %q;
}

# { "model call" => result } for every model; a call that fails gives
# "ERROR: ..." so that a comparison shows the error.
sub serving
{
	my ($node, $db, %opt) = @_;
	my %out;
	for my $m (models(%opt))
	{
		my %q = serving_queries($m);
		for my $what (sort keys %q)
		{
			my ($ret, $stdout, $stderr) =
			  $node->psql($db, "SET extra_float_digits = 3; $q{$what}");
			$out{"$m->{name} $what"} =
			  $ret == 0 ? $stdout : "ERROR (exit $ret): $stderr";
		}
	}
	return %out;
}

# { table => "rows checksum" } for each catalog table (the extension's
# configuration tables): its row count and a checksum of its rows in text
# order, every column (version_id included).
sub catalog_tables
{
	my ($node, $db) = @_;
	my @tables = split /\n/, $node->safe_psql($db, q{
SELECT t.oid::regclass FROM pg_extension e, unnest(e.extconfig) t(oid)
JOIN pg_class c ON c.oid = t.oid
WHERE e.extname = 'recsys' AND c.relkind = 'r' ORDER BY 1});
	my %sums;
	for my $t (@tables)
	{
		$sums{$t} = $node->safe_psql($db, qq{
SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))
FROM $t t});
	}
	return %sums;
}

# The extension's objects, one line each, sorted: membership, functions
# (arguments with defaults, result, settings, privileges, body checksum),
# aggregates, relations of the schema (kind, options, row-level security,
# owner, privileges), their columns in order (the position among the
# columns that are not dropped: an upgrade that drops a column and a fresh
# table without it compare equal; type, NOT NULL, default, privileges), constraints, indexes, triggers, policies, sequences
# (definition, not value), types (I/O functions, storage, privileges),
# operators, access methods, operator classes and the operators and support
# functions of their families, casts, views (definition checksum), comments
# and initial privileges.  Relations whose name matches
# $skip (a regex) are left out (indexes a test made itself).  OIDs never
# appear, so databases and clusters compare.
#
# Clusters of different majors compare too (test/t_majors/080_pg_upgrade.pl):
# a relation's privileges are its grants with the owner's default spelt out
# and the owner's MAINTAIN (17's privilege, part of an owner's default
# there) left out,
# initial privileges equal to that default are no line, and a table's row
# type and array types are no member lines (pg_upgrade to 17 and later
# records them as members; they follow their table or element type), and
# NOT NULL is the column's (18 keeps a constraint row for it too).
sub catalog_description
{
	my ($node, $db, $skip) = @_;
	$skip //= '^$';
	my $sql = q{
SET search_path = pg_catalog;
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'recsys'),
members AS (
	SELECT d.classid, d.objid FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (
	SELECT c.* FROM pg_class c
	WHERE c.relnamespace = 'recsys'::regnamespace AND c.relname !~ :'skip'),
lines AS (
	SELECT format('extension %s config %s %s', extversion, extconfig::regclass[], extcondition)
	FROM pg_extension WHERE extname = 'recsys'
	UNION ALL
	SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM members m
	WHERE NOT EXISTS (
		SELECT FROM pg_type t LEFT JOIN pg_class tc ON tc.oid = t.typrelid
		WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid
		  AND (t.typcategory = 'A' OR tc.relkind IS DISTINCT FROM 'c' AND t.typrelid <> 0))
	UNION ALL
	SELECT format('function %s (%s) returns %s kind %s lang %s volatile %s strict %s secdef %s leakproof %s parallel %s cost %s rows %s support %s config %s owner %s acl %s bin %s src %s',
		p.oid::regprocedure, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
		p.prokind, l.lanname, p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof,
		p.proparallel, p.procost, p.prorows, p.prosupport, p.proconfig,
		pg_get_userbyid(p.proowner), p.proacl, p.probin, md5(p.prosrc))
	FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE p.pronamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('aggregate %s kind %s sfunc %s stype %s final %s %s combine %s serial %s deserial %s init %s',
		a.aggfnoid::regprocedure, a.aggkind, a.aggtransfn, a.aggtranstype::regtype, a.aggfinalfn,
		a.aggfinalmodify, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.agginitval)
	FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	WHERE p.pronamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('relation %s kind %s persistence %s options %s rls %s force %s owner %s acl %s',
		c.oid::regclass, c.relkind, c.relpersistence, c.reloptions, c.relrowsecurity,
		c.relforcerowsecurity, pg_get_userbyid(c.relowner), ra.grants)
	FROM rels c, LATERAL (SELECT :rel_grants(c.relacl) AS grants) ra
	UNION ALL
	SELECT format('column %s.%s %s type %s notnull %s default %s identity %s generated %s collation %s acl %s',
		c.oid::regclass, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname,
		format_type(a.atttypid, a.atttypmod), a.attnotnull,
		pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
		CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation END, a.attacl)
	FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
	UNION ALL
	SELECT format('constraint %s on %s: %s deferrable %s deferred %s valid %s',
		co.conname, coalesce(co.conrelid::regclass::text, co.contypid::regtype::text),
		pg_get_constraintdef(co.oid), co.condeferrable, co.condeferred, co.convalidated)
	FROM pg_constraint co WHERE co.connamespace = 'recsys'::regnamespace AND co.contype <> 'n'
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	FROM pg_index i JOIN rels c ON c.oid = i.indexrelid
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid)
	FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('policy %s on %s cmd %s permissive %s roles %s using %s check %s',
		po.polname, po.polrelid::regclass, po.polcmd, po.polpermissive,
		(SELECT array_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END ORDER BY 1)
		 FROM unnest(po.polroles) r),
		pg_get_expr(po.polqual, po.polrelid), pg_get_expr(po.polwithcheck, po.polrelid))
	FROM pg_policy po JOIN rels c ON c.oid = po.polrelid
	UNION ALL
	SELECT format('sequence %s type %s start %s increment %s min %s max %s cache %s cycle %s',
		s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin,
		s.seqmax, s.seqcache, s.seqcycle)
	FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
	UNION ALL
	SELECT format('comment on %s: %s', pg_describe_object(de.classoid, de.objoid, de.objsubid),
		md5(de.description))
	FROM pg_description de JOIN members m ON m.classid = de.classoid AND m.objid = de.objoid
	UNION ALL
	SELECT format('type %s type %s len %s byval %s category %s preferred %s delim %s input %s output %s receive %s send %s modin %s modout %s analyze %s subscript %s elem %s array %s align %s storage %s notnull %s default %s collation %s owner %s acl %s',
		t.oid::regtype, t.typtype, t.typlen, t.typbyval, t.typcategory, t.typispreferred,
		t.typdelim, t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin, t.typmodout,
		t.typanalyze, t.typsubscript, t.typelem::regtype, t.typarray::regtype, t.typalign,
		t.typstorage, t.typnotnull, t.typdefault,
		CASE WHEN t.typcollation <> 0 THEN t.typcollation::regcollation END,
		pg_get_userbyid(t.typowner), t.typacl)
	FROM pg_type t WHERE t.typnamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('operator %s result %s code %s commutator %s negator %s restrict %s join %s hashes %s merges %s owner %s',
		o.oid::regoperator, o.oprresult::regtype, o.oprcode::regprocedure,
		nullif(o.oprcom, 0)::regoperator, nullif(o.oprnegate, 0)::regoperator,
		o.oprrest, o.oprjoin, o.oprcanhash, o.oprcanmerge, pg_get_userbyid(o.oprowner))
	FROM pg_operator o WHERE o.oprnamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('access method %s type %s handler %s',
		am.amname, am.amtype, am.amhandler::regprocedure)
	FROM pg_am am JOIN members m ON m.classid = 'pg_am'::regclass AND m.objid = am.oid
	UNION ALL
	SELECT format('operator class %s using %s for %s family %s default %s storage %s owner %s',
		oc.opcname, am.amname, oc.opcintype::regtype, f.opfname, oc.opcdefault,
		nullif(oc.opckeytype, 0)::regtype, pg_get_userbyid(oc.opcowner))
	FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod JOIN pg_opfamily f ON f.oid = oc.opcfamily
	WHERE oc.opcnamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('operator family %s using %s (%s, %s) strategy %s operator %s purpose %s sort family %s',
		f.opfname, am.amname, ao.amoplefttype::regtype, ao.amoprighttype::regtype,
		ao.amopstrategy, ao.amopopr::regoperator, ao.amoppurpose,
		(SELECT sf.opfname FROM pg_opfamily sf WHERE sf.oid = ao.amopsortfamily))
	FROM pg_amop ao JOIN pg_opfamily f ON f.oid = ao.amopfamily JOIN pg_am am ON am.oid = f.opfmethod
	WHERE f.opfnamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('operator family %s using %s (%s, %s) support %s function %s',
		f.opfname, am.amname, ap.amproclefttype::regtype, ap.amprocrighttype::regtype,
		ap.amprocnum, ap.amproc::regprocedure)
	FROM pg_amproc ap JOIN pg_opfamily f ON f.oid = ap.amprocfamily JOIN pg_am am ON am.oid = f.opfmethod
	WHERE f.opfnamespace = 'recsys'::regnamespace
	UNION ALL
	SELECT format('cast (%s AS %s) function %s context %s method %s',
		ca.castsource::regtype, ca.casttarget::regtype, nullif(ca.castfunc, 0)::regprocedure,
		ca.castcontext, ca.castmethod)
	FROM pg_cast ca JOIN members m ON m.classid = 'pg_cast'::regclass AND m.objid = ca.oid
	UNION ALL
	SELECT format('view %s: %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
	FROM rels c WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('initial privileges of %s (%s): %s',
		pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), ip.privtype, ia.grants)
	FROM pg_init_privs ip JOIN members m ON m.classid = ip.classoid AND m.objid = ip.objoid
	LEFT JOIN pg_class c ON ip.classoid = 'pg_class'::regclass AND c.oid = ip.objoid
	AND ip.objsubid = 0,
	LATERAL (SELECT CASE WHEN c.oid IS NULL THEN ip.initprivs::text
	                     ELSE :rel_grants(ip.initprivs) END AS grants,
	                CASE WHEN c.oid IS NOT NULL THEN :rel_grants(NULL) END AS dflt) ia
	WHERE ia.grants IS DISTINCT FROM ia.dflt)
SELECT * FROM lines ORDER BY 1;
};
	# psql variables are not expanded in safe_psql's -c, so substitute here
	(my $lit = $skip) =~ s/'/''/g;
	$sql =~ s/:'skip'/'$lit'/g;
	# :rel_grants(ACL): relation c's grants, "grantee>grantor:PRIVILEGE[*]"
	# sorted, NULL as the owner's default, the owner's MAINTAIN left out
	$sql =~ s/:rel_grants\(([^()]*)\)/(SELECT coalesce(string_agg(g, ',' ORDER BY g), '') FROM (
		SELECT format('%s>%s:%s%s', CASE WHEN x.grantee = 0 THEN 'public' ELSE pg_get_userbyid(x.grantee) END,
			pg_get_userbyid(x.grantor), x.privilege_type, CASE WHEN x.is_grantable THEN '*' END) AS g
		FROM aclexplode(coalesce($1, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) x
		WHERE NOT (x.privilege_type = 'MAINTAIN' AND x.grantee = c.relowner)) gs)/g;
	my $out = $node->safe_psql($db, $sql);
	return [ split /\n/, $out ];
}

# The lines only in the first list ('- ...') and only in the second ('+ ...').
sub lines_diff
{
	my ($a, $b) = @_;
	my (%in_a, %in_b);
	$in_a{$_}++ for @$a;
	$in_b{$_}++ for @$b;
	my @d;
	push @d, map { "- $_" } grep { ($in_a{$_} // 0) > ($in_b{$_} // 0) } sort keys %in_a;
	push @d, map { "+ $_" } grep { ($in_b{$_} // 0) > ($in_a{$_} // 0) } sort keys %in_b;
	return join("\n", @d);
}

1;
