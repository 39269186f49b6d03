#!/bin/bash
# Serving at MovieLens-20M scale, against a NumPy peer on the same factors
# in the same run.
#
#   bash test/bench/serve.sh            (as root, like scripts/test.sh)
#
# Builds and installs recsys from this tree (scripts/lib.sh: a copy of the
# tree, make as `postgres`, make install under /tmp/recsys-build.lock),
# then takes /tmp/recsys-bench.lock (one heavy benchmark at a time on the
# machine), starts a throwaway cluster as `postgres` on port 5492 with its
# socket and data in /tmp/rs-bench-serve, and:
#
#  1. CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, clicks
#     FROM recsys.synth_interactions(138000, 27000, 20000000, 42)
#     (the generator train.sh uses), and trains 'ials' on clicks with 64
#     factors but only ITERATIONS iterations: how good the model is does
#     not change how fast it is served.  VACUUM ANALYZE of the catalog
#     tables, as autovacuum would do shortly after a training.
#  2. The first recommend() in a fresh backend (it loads the item cache),
#     then the second one.
#  3. pgbench -n -M prepared -c1 -j1 -T LATENCY_SECONDS with
#        \set u random(1, USERS)
#        SELECT item, score, rank FROM recsys.recommend('m', :u::int, 10, true);
#     (exclude_seen on, every user is in the model); p50 and p99 come from
#     the per-transaction log (--log), over every transaction.
#  4. The same script at -c2 -j2 for QPS_SECONDS: transactions per second.
#  5. The SQL floor, with the same pgbench settings: one indexed row of
#     recsys.user_factors by primary key (the row a recommend() call reads).
#  6. SELECT count(*) FROM recsys.recommend_all('m', 10) in a fresh session.
#  7. The peer, test/bench/serve_peer.py: exports the active version's user
#     and item factors and the seen lists from recsys.user_factors /
#     recsys.item_factors with COPY, then recommend_all in NumPy (blocked
#     sgemm, seen -> -inf, np.argpartition, sort of the top 10), and one
#     user at a time as recommend() does (compute only).  It then checks
#     recsys' top-10 for 100 random users, from recommend() under LATERAL
#     and from recommend_all() (a second full run, filtered), against the
#     exact scores (ties and float32 rounding at the 10th place allowed),
#     and counts the lists identical to NumPy's.
#
# Prints one table (metric | recsys | peer | ratio | target | met) with the
# machine, its load and the date.  Ratio is peer time over recsys time:
# above 1 means recsys is faster.  Both sides multiply with OpenBLAS on 2
# threads and select the top k on one.  The cluster runs with fsync off and
# an unlogged source table: this measures serving, not durability.
# Environment: ITERATIONS (2), FACTORS (64), K (10), LATENCY_SECONDS (20),
# QPS_SECONDS (20), CLIENTS (2), CHECK_USERS (100), PORT (5492),
# USERS/ITEMS/ROWS (the shape, for a quick try), SKIP_BUILD=1 (use the
# installed recsys), KEEP=1 (leave the cluster running in /tmp/rs-bench-serve
# for a closer look; stop it with pg_ctl -D /tmp/rs-bench-serve/data stop).
# Takes about 7 minutes on 2 cores, the build included.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

iters=${ITERATIONS:-2}
factors=${FACTORS:-64}
k=${K:-10}
lat_s=${LATENCY_SECONDS:-20}
qps_s=${QPS_SECONDS:-20}
clients=${CLIENTS:-2}
check_users=${CHECK_USERS:-100}
port=${PORT:-5492}
bench_ml_shape
base=/tmp/rs-bench-serve
lock=/tmp/recsys-bench.lock
# KEEP=1 leaves the cluster running in $base for a closer look
bench_keep_running=1

bench_deps numpy -- python3-numpy
bench_pgbench

build=$(rs_mktemp recsys-bench-serve-build)
bench_build "$build"
rm -rf "$build"
build=

exec 9>>"$lock"
if ! flock -n 9; then
	rs_log "waiting for $lock (another benchmark is running)"
	flock 9
fi
so_sum=$(rs_installed_checksum)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# a cluster left behind by an earlier run (KEEP=1, or killed): we hold the
# lock, so it is not in use
if [ -e "$base" ]; then
	rs_cluster_stop "$base/data"
	rm -rf "$base"
fi
rs_port_free "$port" || rs_die "port $port is in use (PORT=... picks another)"
mkdir -p "$base/pgbench"
chmod 755 "$base"
rs_is_root && chown -R "$RS_USER:" "$base"
work=$base
bench_cluster "$base" "$port" <<<"$bench_ml_settings"

# timed SQL... — run each SQL (one value out) in one fresh session; print
# "value ms" for each, ms being the round trip psql's \timing reports
timed() {
	local args=(-c '\timing on') s
	for s in "$@"; do args+=(-c "$s"); done
	(cd / && rs_as_user "${PSQL[@]}" -X -q -A -t -v ON_ERROR_STOP=1 "${args[@]}" </dev/null) \
		| awk '/^Time: / {print v, $2; next} {v = $0}'
}

rs_log "generating $n_rows interactions"
t0=$(now)
q "CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, clicks
   FROM recsys.synth_interactions($n_users, $n_items, $n_rows, 42)" >/dev/null
gen_s=$(secs "$t0" "$(now)")

rs_log "training ials, $factors factors, $iters iterations"
t0=$(now)
q "SELECT * FROM recsys.train('m', 'ml', 'user_id', 'item_id', 'clicks', 'ials',
   '{\"factors\": $factors, \"iterations\": $iters}')" >/dev/null
q "VACUUM ANALYZE recsys.user_factors, recsys.item_factors" >/dev/null
train_s=$(secs "$t0" "$(now)")
read -r version m_users m_items m_rows <<<"$(q "SELECT v.version, v.users, v.items, v.interactions
	FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.active_version
	WHERE m.name = 'm'" | tr '|' ' ')"
rs_log "model m version $version: $m_users users, $m_items items, $m_rows interactions (generate $gen_s s, train $train_s s)"
[ "$m_users" = "$n_users" ] \
	|| rs_warn "the model has $m_users users, not $n_users: some random users are unknown (popularity fallback)"

# 2. the first call in a backend loads the items; the next one does not
read -r _ first_ms _ second_ms <<<"$(timed "SELECT count(*) FROM recsys.recommend('m', 1, $k)" \
	"SELECT count(*) FROM recsys.recommend('m', 2, $k)" | paste -sd' ')"

# pgbench_run NAME CLIENTS SECONDS SQL [--log] — sets tps, txs, failed;
# with --log, p50, p99 and mean (ms) from the per-transaction log
pgbench_run() {
	local name=$1 c=$2 t=$3 sql=$4 log=${5:-} out dir=$base/pgbench
	printf '\\set u random(1, %s)\n%s\n' "$n_users" "$sql" \
		| rs_as_user tee "$dir/$name.sql" >/dev/null
	rm -f "$dir/$name".log*
	out=$(cd "$dir" && rs_as_user "$PGBENCH" -n -h "$base" -p "$port" -U postgres \
		-M prepared -c "$c" -j "$c" -T "$t" -f "$dir/$name.sql" \
		${log:+--log --log-prefix="$dir/$name.log"} postgres 2>&1) \
		|| { printf '%s\n' "$out" >&2; rs_die "pgbench $name failed"; }
	tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
	txs=$(printf '%s\n' "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	failed=$(printf '%s\n' "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
	failed=${failed:-0}
	if [ -n "$log" ]; then
		# pgbench log: client transaction latency_us script epoch epoch_us
		read -r p50 p99 mean < <(cat "$dir/$name".log* | awk '{print $3}' | sort -n \
			| awk '{a[NR] = $1; s += $1}
				END {i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
					printf "%.3f %.3f %.3f\n", a[i50] / 1000, a[i99] / 1000, s / NR / 1000}')
	fi
	rs_log "  $name: $txs transactions, $failed failed, tps $tps${log:+, p50 $p50 ms, p99 $p99 ms}"
}

rec_sql="SELECT item, score, rank FROM recsys.recommend('m', :u::int, $k, true);"
floor_sql="SELECT cardinality(seen) FROM recsys.user_factors WHERE model = 'm' AND version = $version AND user_key = :u::text;"

rs_log "recommend(): latency, 1 client, $lat_s s"
pgbench_run rec1 1 "$lat_s" "$rec_sql" --log
rec_p50=$p50 rec_p99=$p99 rec_mean=$mean rec_tx1=$txs rec_fail=$failed
rs_log "recommend(): throughput, $clients clients, $qps_s s"
pgbench_run recN "$clients" "$qps_s" "$rec_sql"
rec_qps=$tps rec_txN=$txs rec_fail=$((rec_fail + failed))
rs_log "floor: the user's catalog row by primary key"
pgbench_run floor1 1 "$lat_s" "$floor_sql" --log
floor_p50=$p50 floor_p99=$p99
pgbench_run floorN "$clients" "$qps_s" "$floor_sql"
floor_qps=$tps

rs_log "recommend_all('m', $k)"
read -r all_rows all_ms <<<"$(timed "SELECT count(*) FROM recsys.recommend_all('m', $k)")"
all_s=$(awk -v m="$all_ms" 'BEGIN {printf "%.2f", m / 1000}')
[ "$all_rows" = $((m_users * k)) ] || rs_warn "recommend_all returned $all_rows rows, not $((m_users * k))"

rs_log "NumPy peer (export, recommend_all, one user at a time, check $check_users users)"
ref_rc=0
ref_out=$("$py" "$here/serve_peer.py" --model m --k "$k" --check "$check_users" \
	-- "${PSQL[@]}") || ref_rc=$?
ref() { printf '%s\n' "$ref_out" | awk -v key="$1" '$1 == key {$1 = ""; sub(/^ /, ""); print}'; }
r_export=$(ref export_seconds)
r_all=$(ref all_seconds)
r_rerun=$(ref all_rerun_seconds)
read -r r_mm r_excl r_sel <<<"$(ref all_split)"
r_p50=$(ref one_p50_ms)
r_p99=$(ref one_p99_ms)
# "N valid identical first-problem"
read -r c_n c_rec_valid c_rec_same c_rec_why <<<"$(ref check_recommend)"
read -r _ c_all_valid c_all_same c_all_why <<<"$(ref check_recommend_all)"
read -r _ c_np_valid _ _ <<<"$(ref check_numpy)"

so_changed=0
[ "$(rs_installed_checksum)" = "$so_sum" ] || so_changed=1
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a + 0 == 0) print "-"; else printf "%.2fx", b / a}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {print (a != "" && a + 0 <= b + 0) ? "yes" : "NO"}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {print (a != "" && a + 0 >= b + 0) ? "yes" : "NO"}'; }
row() { printf '| %-48s | %16s | %9s | %6s | %-15s | %-3s |\n' "$@"; }

all_met=$(awk -v a="$all_s" -v r="$r_all" 'BEGIN {print (a != "" && r != "" && a + 0 <= 30 && a + 0 <= r + 0) ? "yes" : "NO"}')
checks="$c_rec_valid/$c_n, $c_all_valid/$c_n"
checks_met=$([ "$ref_rc" = 0 ] && [ "$c_rec_valid" = "$c_n" ] && [ "$c_all_valid" = "$c_n" ] && echo yes || echo NO)
tree=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$root" status --porcelain -- src sql Makefile 2>/dev/null)" ]; then
	tree="$tree + uncommitted changes in src/, sql/ or Makefile"
fi

echo
echo "recsys serving benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), recsys $tree"
echo "machine: $(bench_machine); load average $load_start at the start, $load_end at the end"
echo "data: recsys.synth_interactions($n_users, $n_items, $n_rows, 42) in $gen_s s; model 'ials', $factors factors,"
echo "      only $iters iterations (the quality of the model does not change serving speed); train + VACUUM ANALYZE $train_s s"
echo "recommend(): pgbench -M prepared, random user of 1..$n_users, k=$k, exclude_seen; $rec_tx1 transactions at 1 client"
echo "      ($lat_s s), $rec_txN at $clients clients ($qps_s s), $rec_fail failed; percentiles over every transaction"
echo "peers: NumPy $("$py" -c 'import numpy; print(numpy.__version__)') on the factors exported with COPY (export $r_export s, not counted);"
echo "      the SQL floor is one catalog row by primary key through the same pgbench settings"
echo "(ratio = peer time / recsys time: above 1 means recsys is faster)"
echo
row metric recsys peer ratio target met
row "$(printf '%.48s' -------------------------------------------------)" ---------------- --------- ------ --------------- ---
row "recommend() p50 latency ms, 1 client" "$rec_p50" "$r_p50" "$(ratio "$rec_p50" "$r_p50")" "<= 1" "$(le "$rec_p50" 1)"
row "recommend() p99 latency ms, 1 client" "$rec_p99" "$r_p99" "$(ratio "$rec_p99" "$r_p99")" "" ""
row "recommend() mean latency ms, 1 client" "$rec_mean" "-" "-" "" ""
row "recommend() QPS, $clients clients" "$(printf '%.0f' "$rec_qps")" "-" "-" ">= 2000" "$(ge "$rec_qps" 2000)"
row "recommend_all('m', $k) s, all $m_users users" "$all_s" "$r_all" "$(ratio "$all_s" "$r_all")" "<= 30, <= NumPy" "$all_met"
row "  the same, second run (filtered, for the check)" "$r_rerun" "" "" "" ""
row "first recommend() in a backend ms (item cache)" "$first_ms" "-" "-" "" ""
row "second recommend() in that backend ms" "$second_ms" "-" "-" "" ""
row "SQL floor p50 latency ms, 1 client" "$floor_p50" "" "" "" ""
row "SQL floor p99 latency ms, 1 client" "$floor_p99" "" "" "" ""
row "SQL floor QPS, $clients clients" "$(printf '%.0f' "$floor_qps")" "" "" "" ""
row "top-$k valid (recommend, recommend_all), of $c_n" "$checks" "$c_np_valid/$c_n" "" "all valid" "$checks_met"
row "top-$k identical to NumPy (same), of $c_n" "$c_rec_same, $c_all_same" "" "" "" ""
echo
echo "peer for latency: NumPy computing one user's top $k (V @ u, seen -> -inf, argpartition, sort), no SQL, no client."
echo "peer for recommend_all: NumPy, blocks of 1024 users through one sgemm each, seen -> -inf, argpartition, sort"
echo "      (sgemm $r_mm s, seen $r_excl s, argpartition + sort $r_sel s)."
echo "recommend_all returned $all_rows rows ($m_users users x $k) in $all_ms ms."
[ "$c_rec_why" = "-" ] || echo "recommend() check: first problem: $c_rec_why"
[ "$c_all_why" = "-" ] || echo "recommend_all() check: first problem: $c_all_why"
[ "$so_changed" = 0 ] || echo "WARNING: recsys.so was reinstalled by someone else during the run: numbers may mix two builds"
[ "$ref_rc" = 0 ] || exit 1
