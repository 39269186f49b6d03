-- 10_statistics.sql: statistics (src/core/stats.c, src/stats_agg.c): tests that
-- compare the values of groups, as plain aggregates over (group, value)
-- rows, and the survival functions their p-values come from.  Groups compare
-- by their text form; rows with a NULL group or value are skipped; NaN or
-- infinite values are an error (22003).  A test that is undefined for its
-- data (one group, no variance within the groups, every value tied) gives a
-- NULL statistic and p-value, with n and groups filled in.

CREATE TYPE recsys.anova_result AS (
	statistic double precision,
	df_between integer,
	df_within bigint,
	p_value double precision,
	n bigint,
	groups integer
);
COMMENT ON TYPE recsys.anova_result IS
	'one-way ANOVA: F statistic, degrees of freedom between and within groups, p-value P(F > statistic), values and groups counted';

CREATE TYPE recsys.welch_result AS (
	statistic double precision,
	df double precision,
	p_value double precision,
	n bigint,
	group_1 text,
	group_2 text,
	mean_difference double precision
);
COMMENT ON TYPE recsys.welch_result IS
	'Welch''s t-test: t of mean(group_1) - mean(group_2) (group_1: the key that sorts first in byte order), Welch-Satterthwaite df, two-sided p-value';

CREATE TYPE recsys.kruskal_result AS (
	statistic double precision,
	df integer,
	p_value double precision,
	n bigint,
	groups integer
);
COMMENT ON TYPE recsys.kruskal_result IS
	'Kruskal-Wallis: H statistic (corrected for ties), df = groups - 1, p-value P(chi2 > H)';

CREATE FUNCTION recsys.stats_moments_transfn(internal, anyelement, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_moments_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.stats_values_transfn(internal, anyelement, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_values_transfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.stats_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_combinefn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.stats_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'rs_stats_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.stats_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'rs_stats_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION recsys.anova_finalfn(internal)
RETURNS recsys.anova_result AS 'MODULE_PATHNAME', 'rs_anova_finalfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.welch_finalfn(internal)
RETURNS recsys.welch_result AS 'MODULE_PATHNAME', 'rs_welch_finalfn' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION recsys.kruskal_finalfn(internal)
RETURNS recsys.kruskal_result AS 'MODULE_PATHNAME', 'rs_kruskal_finalfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.stats_moments_transfn(internal, anyelement, double precision) IS
	'anova / welch_t_test transition: count, mean and squared deviations per group';
COMMENT ON FUNCTION recsys.stats_values_transfn(internal, anyelement, double precision) IS
	'kruskal_wallis transition: every value with its group';
COMMENT ON FUNCTION recsys.stats_combinefn(internal, internal) IS
	'statistics aggregates combine: merges per-group summaries (and concatenates values)';
COMMENT ON FUNCTION recsys.stats_serialfn(internal) IS 'statistics aggregate state to bytea';
COMMENT ON FUNCTION recsys.stats_deserialfn(bytea, internal) IS 'statistics aggregate state from bytea';
COMMENT ON FUNCTION recsys.anova_finalfn(internal) IS 'recsys.anova final: the F test';
COMMENT ON FUNCTION recsys.welch_finalfn(internal) IS 'recsys.welch_t_test final: the t test';
COMMENT ON FUNCTION recsys.kruskal_finalfn(internal) IS 'recsys.kruskal_wallis final: ranks and H';

CREATE AGGREGATE recsys.anova("group" anyelement, value double precision) (
	SFUNC = recsys.stats_moments_transfn,
	STYPE = internal,
	FINALFUNC = recsys.anova_finalfn,
	COMBINEFUNC = recsys.stats_combinefn,
	SERIALFUNC = recsys.stats_serialfn,
	DESERIALFUNC = recsys.stats_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.anova(anyelement, double precision) IS
	'one-way ANOVA of value across groups: (statistic F, df_between, df_within, p_value, n, groups); NULL statistic when undefined';

CREATE AGGREGATE recsys.welch_t_test("group" anyelement, value double precision) (
	SFUNC = recsys.stats_moments_transfn,
	STYPE = internal,
	FINALFUNC = recsys.welch_finalfn,
	COMBINEFUNC = recsys.stats_combinefn,
	SERIALFUNC = recsys.stats_serialfn,
	DESERIALFUNC = recsys.stats_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.welch_t_test(anyelement, double precision) IS
	'Welch''s unequal-variance t-test of value between exactly two groups: (statistic t, df, two-sided p_value, n, group_1, group_2, mean_difference)';

CREATE AGGREGATE recsys.kruskal_wallis("group" anyelement, value double precision) (
	SFUNC = recsys.stats_values_transfn,
	STYPE = internal,
	FINALFUNC = recsys.kruskal_finalfn,
	COMBINEFUNC = recsys.stats_combinefn,
	SERIALFUNC = recsys.stats_serialfn,
	DESERIALFUNC = recsys.stats_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.kruskal_wallis(anyelement, double precision) IS
	'Kruskal-Wallis rank test of value across groups, ties corrected: (statistic H, df, p_value, n, groups); keeps every value in memory';

CREATE FUNCTION recsys.f_sf(x double precision, df1 double precision, df2 double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_f_sf_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.f_sf(double precision, double precision, double precision) IS
	'P(F > x) for the F distribution with (df1, df2) degrees of freedom, upper tail computed directly (accurate far below 1e-16)';

CREATE FUNCTION recsys.t_sf(t double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_t_sf_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.t_sf(double precision, double precision) IS
	'P(T > t) for Student''s t with df degrees of freedom (two-sided p-value: 2 * t_sf(abs(t), df))';

CREATE FUNCTION recsys.chi2_sf(x double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'rs_chi2_sf_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.chi2_sf(double precision, double precision) IS
	'P(X > x) for the chi-squared distribution with df degrees of freedom';
