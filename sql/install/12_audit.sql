-- 12_audit.sql: fairness audits across user groups (src/audit.c).  groups is
-- a relation or SELECT whose first two columns are (user, group); users are
-- matched to the test set by their text form, groups compare as text.  A
-- user listed under several groups counts in each; test rows of users
-- without a group are left out (NOTICE).  Groups with fewer than two values
-- are reported (tested = false) but left out of the tests (NOTICE).  The
-- across-group columns are repeated on every row; welch_* only when exactly
-- two groups are tested (t of the first minus the second in byte order).

CREATE OR REPLACE FUNCTION recsys.audit_error(
	model text,
	test text,
	groups text,
	error text DEFAULT 'squared',
	bootstrap integer DEFAULT 0,
	confidence double precision DEFAULT 0.95,
	seed integer DEFAULT 42,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (group_key text, n bigint, rmse double precision, mae double precision,
			   mean_error double precision, rmse_low double precision, rmse_high double precision,
			   tested boolean,
			   anova_f double precision, anova_df_between integer, anova_df_within bigint,
			   anova_p double precision,
			   welch_t double precision, welch_df double precision, welch_p double precision,
			   kruskal_h double precision, kruskal_df integer, kruskal_p double precision,
			   disparity_ratio double precision, disparity_difference double precision)
AS 'MODULE_PATHNAME', 'rs_audit_error' LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.audit_error(text, text, text, text, integer, double precision, integer, text, text, text, integer) IS
	'prediction error of the active version (or of the kept version given) per user group (groups: user, group) on a test set (columns default to the model''s): n, rmse, mae, mean_error (predicted - actual), optional bootstrap interval of the rmse; across groups ANOVA, Welch (two groups) and Kruskal-Wallis on squared (error => ''absolute'': absolute) errors and the max/min ratio and difference of rmse (mae)';

CREATE OR REPLACE FUNCTION recsys.audit_ranking(
	model text,
	test text,
	groups text,
	k integer DEFAULT 10,
	metrics text[] DEFAULT NULL,
	user_col text DEFAULT NULL,
	item_col text DEFAULT NULL,
	rating_col text DEFAULT NULL,
	threshold double precision DEFAULT NULL,
	version integer DEFAULT NULL)
RETURNS TABLE (group_key text, metric text, k integer, users bigint, mean double precision,
			   stddev double precision, tested boolean,
			   anova_f double precision, anova_df_between integer, anova_df_within bigint,
			   anova_p double precision,
			   welch_t double precision, welch_df double precision, welch_p double precision,
			   kruskal_h double precision, kruskal_df integer, kruskal_p double precision,
			   disparity_ratio double precision, disparity_difference double precision)
AS 'MODULE_PATHNAME', 'rs_audit_ranking' LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.audit_ranking(text, text, text, integer, text[], text, text, text, double precision, integer) IS
	'ranking quality of the active version (or of the kept version given) per user group (groups: user, group): each group''s mean per-user metric at k from recsys.evaluate_users (metrics: ndcg, recall (the default two), precision, ap, rr, hit), one row per group and metric, with ANOVA, Welch (two groups) and Kruskal-Wallis across groups on the per-user values and the max/min ratio and difference of the group means';
