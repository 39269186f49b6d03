#!/bin/bash
# Building item_knn through SQL at MovieLens-20M shape, against a SciPy
# sparse peer (normalised X^T X in blocks, top-K per row) on the same rows
# in the same run.
#
#   flock /tmp/recsys-bench.lock bash test/bench/knn.sh      (as root)
#
# Builds and installs recsys from this tree (scripts/lib.sh), starts a
# throwaway cluster as `postgres` on a unix socket in a fresh /tmp
# directory (first free port from 55480), and then:
#
#  1. CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, rating, clicks
#     FROM recsys.synth_interactions(138000, 27000, 20000000, 42)
#     (the data of test/bench/train.sh);
#  2. recsys.train(..., 'item_knn') on the interactions (no rating column:
#     implicit, binary), similarity cosine, shrinkage 0 (the peer's
#     definition), K neighbours, verbose, THREADS threads, in a fresh
#     backend: "lists" is the time from the NOTICE that starts the
#     neighbour computation to the one that ends it, "total" the whole
#     statement (load + lists + storing 27k rows of lists), as the client
#     sees it; peak memory is the backend's VmHWM
#     and model_versions.memory_bytes (the training context); then again
#     with the default options (shrinkage 25), for the record;
#  3. the peer, test/bench/knn_peer.py: the same rows by binary COPY, CSR,
#     column-normalised, S = Xn^T Xn in blocks of 1024 items, top-K per row
#     ("compute"), COPY + CSR ("load") timed apart;
#  4. the two sets of lists compared: the mean share of the peer's K
#     neighbours of an item that recsys also lists (1.0 = the same lists;
#     ties and float rounding can swap the last places);
#  5. cancel latency: the training started again, pg_cancel_backend() once
#     the first progress NOTICE of the neighbour phase arrives.
#
# Prints one table (metric | recsys | SciPy | ratio | target).  The ratio
# is SciPy over recsys: above 1 means recsys is faster or smaller.  The
# cluster runs with fsync off and an unlogged table.  Environment: K (50),
# THREADS (2), USERS/ITEMS/ROWS (the shape, for a quick try), SKIP_BUILD=1,
# KEEP=1 (leave the cluster directory).  About 10 minutes on 2 cores.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

k=${K:-50}
threads=${THREADS:-2}
bench_ml_shape

bench_deps numpy scipy -- python3-numpy python3-scipy
bench_ml_start knn 55480 55489

# train NAME OPTIONS — sets lists (s), total (s), mem, hwm
train() {
	local name=$1 opts=$2 t0
	t0=$(now)
	bench_train "$name" "recsys.train('$name', 'ml', 'user_id', 'item_id', NULL, 'item_knn', '$opts')"
	total=$(secs "$t0" "$(now)")
	printf '%s\n' "$out" | grep 'NOTICE' | sed 's/^/    /' >&2
	lists=$(printf '%s\n' "$out" | awk '
		/neighbours of items: [0-9]+ to compute/ {match($0, /, [0-9.]+ s$/); a = substr($0, RSTART + 2, RLENGTH - 4)}
		/neighbours of items: [0-9]+ lists/ {match($0, /, [0-9.]+ s$/); b = substr($0, RSTART + 2, RLENGTH - 4)}
		END {if (a == "" || b == "") print "nan"; else printf "%.1f", b - a}')
}

rs_log "item_knn, cosine, shrinkage 0, K=$k, $threads threads"
train knn "{\"neighbors\": $k, \"shrinkage\": 0, \"threads\": $threads, \"verbose\": true}"
knn_lists=$lists knn_total=$total knn_mem=$mem knn_hwm=$hwm
rs_log "item_knn with the default options"
train knn_default "{\"neighbors\": $k, \"threads\": $threads, \"verbose\": true}"
def_lists=$lists def_total=$total

rs_log "SciPy peer"
ref_out=$("$py" "$here/knn_peer.py" --table ml --column 1 --k "$k" --out "$work/ref.npz" \
	-- "${PSQL[@]}")
r_load=$(bench_ref load_seconds)
r_compute=$(bench_ref compute_seconds)
r_rss=$(bench_ref peak_rss_bytes)

rs_log "comparing the lists"
q "COPY (SELECT item_key, neighbor_keys FROM recsys.item_neighbors n
	  JOIN recsys.models m ON m.name = n.model AND m.active_version = n.version
	  WHERE n.model = 'knn') TO STDOUT" > "$work/recsys_lists.tsv"
overlap=$("$py" - "$work/ref.npz" "$work/recsys_lists.tsv" <<'PY'
import sys
import numpy as np
ref = np.load(sys.argv[1])
items, nbr, sim = ref["items"], ref["nbr"], ref["sim"]
got = {}
for line in open(sys.argv[2]):
    key, arr = line.rstrip("\n").split("\t")
    got[int(key)] = set(int(x) for x in arr.strip("{}").split(",") if x)
shares = []
for row in range(len(items)):
    want = set(int(items[j]) for j, s in zip(nbr[row], sim[row]) if s > 0)
    if want:
        shares.append(len(want & got.get(int(items[row]), set())) / len(want))
print("%.4f" % np.mean(shares))
PY
)

rs_log "cancel latency"
cancel_out=$work/cancel.out
(cd / && rs_as_user "${PSQL[@]}" -X -q -A -t -c "SET client_min_messages = notice;
	SELECT recsys.train('knn_cancel', 'ml', 'user_id', 'item_id', NULL, 'item_knn',
		'{\"neighbors\": $k, \"shrinkage\": 0, \"threads\": $threads, \"verbose\": true}')" \
	</dev/null >"$cancel_out" 2>&1) &
psql_pid=$!
until grep -q 'neighbours of items: [0-9]* of [0-9]* done' "$cancel_out" 2>/dev/null; do
	kill -0 "$psql_pid" 2>/dev/null || break
	sleep 0.05
done
t0=$(now)
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
   WHERE query LIKE '%knn_cancel%' AND pid <> pg_backend_pid()" >/dev/null
wait "$psql_pid" || true
cancel_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
grep -q 'canceling statement due to user request' "$cancel_out" || rs_warn "the cancel did not land: $(tail -1 "$cancel_out")"

bench_same_install

row() { printf '| %-44s | %10s | %10s | %7s | %-9s |\n' "$@"; }
r_total=$(awk -v a="$r_load" -v b="$r_compute" 'BEGIN {printf "%.1f", a + b}')

echo
bench_header "recsys item_knn"
echo "data: recsys.synth_interactions($n_users, $n_items, $n_rows, 42): $shape; generated in $gen_s s"
echo "item-item cosine on the binary interactions, K=$k, shrinkage 0; recsys $threads threads, SciPy single-threaded sparse products"
echo "(fsync off, unlogged table; ratio = SciPy / recsys)"
echo
row metric recsys SciPy ratio target
row "$(printf '%.44s' ---------------------------------------------------)" ---------- ---------- ------- ---------
row "neighbour lists s (recsys NOTICEs / compute)" "$knn_lists" "$r_compute" "$(bench_ratio "$knn_lists" "$r_compute")" ">= 3x"
row "total s (statement / load + compute)" "$knn_total" "$r_total" "$(bench_ratio "$knn_total" "$r_total")" ""
row "peak memory (backend VmHWM / peer RSS)" "$(gib "$knn_hwm")" "$(gib "$r_rss")" "$(bench_ratio "$knn_hwm" "$r_rss")" "<= 1 GiB"
row "training context (memory_bytes)" "$(gib "$knn_mem")" "-" "-" ""
row "lists s, default options (shrinkage 25)" "$def_lists" "-" "-" ""
row "total s, default options" "$def_total" "-" "-" ""
row "peer's neighbours also in recsys' lists" "$overlap" "-" "-" ""
row "cancel during the lists (s, with psql)" "$cancel_s" "-" "-" "< 1"
echo
echo "VmHWM counts the shared buffers the backend touched while reading the table."
