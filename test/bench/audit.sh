#!/bin/bash
# recsys.audit_error on a test set of ROWS (2M) rows, against a SciPy peer
# that computes the same per-group RMSE, ANOVA and Kruskal-Wallis from the
# same errors in the same run.
#
#   flock /tmp/recsys-bench.lock bash test/bench/audit.sh      (as root)
#
# Builds and installs recsys from this tree (scripts/lib.sh), starts a
# throwaway cluster as `postgres` on a unix socket in a fresh /tmp
# directory (first free port from 55490), and then:
#
#  1. recsys.generate_dataset('b', USERS, ITEMS, ROWS, seed 3,
#     noisy_gender => 'F', noisy_sigma => 1.0): the F group's ratings are
#     noisier, so the audit has something to find;
#  2. recsys.train('b', ..., 'als', 32 factors, 5 iterations) on all the
#     rows, which then serve as the test set (the speed does not depend on
#     whether the rows were held out);
#  3. timed, each as the client sees it: recsys.predictions() alone (the
#     scoring every audit needs), audit_error with the default options, and
#     with bootstrap => 100;
#  4. the peer, test/bench/audit_peer.py: the (group, error) rows by COPY,
#     then NumPy per-group RMSE and scipy.stats.f_oneway and kruskal on the
#     squared errors ("compute"; the COPY is timed apart), and the
#     statistics compared with recsys' (relative difference).
#
# Prints one table (metric | recsys | SciPy | ratio | target); the ratio is
# SciPy over recsys.  Environment: USERS/ITEMS/ROWS (50000/5000/2000000),
# SKIP_BUILD=1, KEEP=1 (leave the cluster directory).  About 3 minutes on
# 2 cores.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

n_users=${USERS:-50000}
n_items=${ITEMS:-5000}
n_rows=${ROWS:-2000000}

bench_deps numpy scipy -- python3-numpy python3-scipy
bench_start audit 55490 55499 <<EOF
shared_buffers = 512MB
max_wal_size = 10GB
work_mem = 64MB
EOF

rs_log "generating $n_rows interactions"
t0=$(now)
q "SELECT * FROM recsys.generate_dataset('b', $n_users, $n_items, $n_rows, 3,
   noisy_gender => 'F', noisy_sigma => 1.0)" >/dev/null
gen_s=$(secs "$t0" "$(now)")
rs_log "training als"
q "SELECT * FROM recsys.train('b', 'b_interactions', 'user_id', 'item_id', 'rating', 'als',
   '{\"factors\": 32, \"iterations\": 5}')" >/dev/null

groups="SELECT user_id, gender FROM b_users"
# timed STATEMENT — prints the seconds the client saw
timed() {
	local t0
	t0=$(now)
	q "$1" >/dev/null
	secs "$t0" "$(now)"
}
rs_log "timing"
pred_s=$(timed "SELECT count(*) FROM recsys.predictions('b', 'b_interactions')")
audit_s=$(timed "SELECT count(*) FROM recsys.audit_error('b', 'b_interactions', '$groups')")
boot_s=$(timed "SELECT count(*) FROM recsys.audit_error('b', 'b_interactions', '$groups', bootstrap => 100)")
res=$(q "SELECT max(anova_f) || ' ' || max(kruskal_h) || ' ' || max(anova_p) || ' '
           || string_agg(group_key || ':' || n || ':' || rmse, ',' ORDER BY group_key)
         FROM recsys.audit_error('b', 'b_interactions', '$groups')")
read -r f_sql h_sql p_sql rmse_sql <<<"$res"

rs_log "SciPy peer"
ref_out=$("$py" "$here/audit_peer.py" --model b --test b_interactions --groups "$groups" \
	-- "${PSQL[@]}")
r_copy=$(bench_ref copy_seconds)
r_compute=$(bench_ref compute_seconds)
r_f=$(bench_ref anova_f)
r_h=$(bench_ref kruskal_h)
r_rmse=$(bench_ref rmse)

bench_same_install

reldiff() { awk -v a="$1" -v b="$2" 'BEGIN {d = a - b; if (d < 0) d = -d; printf "%.1e", d / (b < 0 ? -b : b)}'; }
row() { printf '| %-46s | %10s | %10s | %7s | %-9s |\n' "$@"; }
r_total=$(awk -v a="$r_copy" -v b="$r_compute" 'BEGIN {printf "%.1f", a + b}')
rmse_same=$([ "$(printf '%s' "$rmse_sql" | awk -F, '{for (i = 1; i <= NF; i++) {split($i, p, ":"); printf "%s:%s:%.9f,", p[1], p[2], p[3]}}')" \
	= "$(printf '%s' "$r_rmse" | awk -F, '{for (i = 1; i <= NF; i++) {split($i, p, ":"); printf "%s:%s:%.9f,", p[1], p[2], p[3]}}')" ] && echo yes || echo no)

echo
bench_header "recsys audit_error"
echo "data: recsys.generate_dataset('b', $n_users, $n_items, $n_rows, 3, noisy_gender => 'F'), generated in $gen_s s; als, 32 factors"
echo "groups: gender (3); the peer reads recsys.predictions() joined to the groups by COPY"
echo "(ratio = SciPy / recsys)"
echo
row metric recsys SciPy ratio target
row "$(printf '%.46s' ---------------------------------------------------)" ---------- ---------- ------- ---------
row "predictions of every test row s" "$pred_s" "-" "-" ""
row "audit_error s (statement / COPY + compute)" "$audit_s" "$r_total" "$(bench_ratio "$audit_s" "$r_total")" "seconds"
row "  tests after the predictions s (/ compute)" "$(awk -v a="$audit_s" -v b="$pred_s" 'BEGIN {printf "%.1f", a - b}')" "$r_compute" "$(bench_ratio "$(awk -v a="$audit_s" -v b="$pred_s" 'BEGIN {printf "%.1f", a - b}')" "$r_compute")" ""
row "audit_error, bootstrap => 100 s" "$boot_s" "-" "-" ""
row "ANOVA F (relative difference)" "$(printf '%.6g' "$f_sql")" "$(printf '%.6g' "$r_f")" "$(reldiff "$f_sql" "$r_f")" "< 1e-9"
row "Kruskal-Wallis H (relative difference)" "$(printf '%.6g' "$h_sql")" "$(printf '%.6g' "$r_h")" "$(reldiff "$h_sql" "$r_h")" "< 1e-9"
row "per-group n and RMSE equal to 9 decimals" "$rmse_same" "-" "-" "yes"
row "ANOVA p" "$p_sql" "-" "-" ""
