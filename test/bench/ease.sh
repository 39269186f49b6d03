#!/bin/bash
# Training ease through SQL, against the NumPy/SciPy peer (the paper's
# listing) on the same rows in the same run.
#
#   flock /tmp/recsys-bench.lock bash test/bench/ease.sh      (as root)
#
# Builds and installs recsys from this tree (scripts/lib.sh), starts a
# throwaway cluster as `postgres` on a unix socket in a fresh /tmp
# directory (first free port from 55470), and then:
#
#  1. CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, rating, clicks
#     FROM recsys.synth_interactions(USERS, ITEMS, ROWS, 42)
#     (138000 users like test/bench/train.sh, 8000 items: EASE's dense
#     item x item matrix is 8n^2 bytes, 0.5 GB here, 5.8 GB at train.sh's
#     27k items);
#  2. recsys.train(..., 'ease') on the interactions (no rating column:
#     binary), lambda 500, K weights per item, verbose, THREADS threads, in
#     a fresh backend: "Gram", "inverse" and "lists" are the times between
#     its progress NOTICEs (from the one that starts the Gram matrix, after
#     the rows are read), "total" the whole statement (load, training,
#     storing the lists) as the client sees it; peak memory is the
#     backend's VmHWM and model_versions.memory_bytes;
#  3. the peer, test/bench/ease_peer.py: the same rows by binary COPY, CSR,
#     X^T X made dense, numpy.linalg.inv, B, the K largest per item;
#  4. the two sets of lists compared: the mean share of the peer's K
#     neighbours of an item that recsys also lists, and the largest
#     difference of a weight both keep;
#  5. cancel latency: the training started again, pg_cancel_backend() one
#     second after the NOTICE that ends the Gram matrix (in the inverse).
#
# Prints one table (metric | recsys | NumPy | ratio).  The ratio is NumPy
# over recsys: above 1 means recsys is faster or smaller.  NumPy's BLAS
# (OpenBLAS on Debian) uses every core.  The cluster runs with fsync off
# and an unlogged table.  Environment: K (200), THREADS (2), USERS (138000),
# ITEMS (8000), ROWS (10000000), SKIP_BUILD=1, KEEP=1.  About 6 minutes on
# 2 cores.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

k=${K:-200}
threads=${THREADS:-2}
n_users=${USERS:-138000}
n_items=${ITEMS:-8000}
n_rows=${ROWS:-10000000}

bench_deps numpy scipy -- python3-numpy python3-scipy
bench_start ease 55470 55479 <<<"$bench_ml_settings"
bench_ml_table "$n_users" "$n_items" "$n_rows"

rs_log "ease, lambda 500, K=$k, $threads threads"
t0=$(now)
bench_train ease "recsys.train('ease', 'ml', 'user_id', 'item_id', NULL, 'ease',
	'{\"regularization\": 500, \"neighbors\": $k, \"threads\": $threads, \"verbose\": true}')"
total=$(secs "$t0" "$(now)")
printf '%s\n' "$out" | grep 'NOTICE' | sed 's/^/    /' >&2
phase() {
	printf '%s\n' "$out" | awk -v a="$1" -v b="$2" '
		function t(line) {match(line, /, [0-9.]+ s$/); return substr(line, RSTART + 2, RLENGTH - 4)}
		index($0, a) {x = t($0)} index($0, b) {y = t($0)}
		END {if (x == "" || y == "") print "nan"; else printf "%.1f", y - x}'
}
gram=$(phase "items: started" "Gram matrix: done")
inverse=$(phase "Gram matrix: done" "inverse: done")
lists=$(phase "inverse: done" "neighbour lists: done")

rs_log "NumPy peer"
ref_out=$("$py" "$here/ease_peer.py" --table ml --lambda 500 --k "$k" --out "$work/ref.npz" \
	-- "${PSQL[@]}")
r_load=$(bench_ref load_seconds)
r_gram=$(bench_ref gram_seconds)
r_inverse=$(bench_ref inverse_seconds)
r_lists=$(bench_ref lists_seconds)
r_rss=$(bench_ref peak_rss_bytes)

rs_log "comparing the lists"
q "COPY (SELECT item_key, neighbor_keys, similarity FROM recsys.item_neighbors n
	  JOIN recsys.models m ON m.name = n.model AND m.active_version = n.version
	  WHERE n.model = 'ease') TO STDOUT" > "$work/recsys_lists.tsv"
compare=$("$py" - "$work/ref.npz" "$work/recsys_lists.tsv" <<'PY'
import sys
import numpy as np
ref = np.load(sys.argv[1])
items, nbr, sim = ref["items"], ref["nbr"].tolist(), ref["sim"].tolist()
got = {}
for line in open(sys.argv[2]):
    key, keys, sims = line.rstrip("\n").split("\t")
    ks = [int(x) for x in keys.strip("{}").split(",") if x]
    ss = [float(x) for x in sims.strip("{}").split(",") if x]
    got[int(key)] = dict(zip(ks, ss))
shares, diff = [], 0.0
for row, item in enumerate(items):
    want = dict(zip(nbr[row], sim[row]))
    have = got.get(int(item), {})
    shares.append(len(set(want) & set(have)) / max(len(want), 1))
    for j in set(want) & set(have):
        diff = max(diff, abs(want[j] - have[j]))
print("%.4f %.2g" % (np.mean(shares), diff))
PY
)
overlap=${compare% *}
maxdiff=${compare#* }

rs_log "cancel latency"
cancel_out=$work/cancel.out
(cd / && rs_as_user "${PSQL[@]}" -X -q -A -t -c "SET client_min_messages = notice;
	SELECT recsys.train('ease_cancel', 'ml', 'user_id', 'item_id', NULL, 'ease',
		'{\"neighbors\": $k, \"threads\": $threads, \"verbose\": true}')" \
	</dev/null >"$cancel_out" 2>&1) &
psql_pid=$!
until grep -q 'Gram matrix: done' "$cancel_out" 2>/dev/null; do
	kill -0 "$psql_pid" 2>/dev/null || break
	sleep 0.05
done
sleep 1
t0=$(now)
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
   WHERE query LIKE '%ease_cancel%' AND pid <> pg_backend_pid()" >/dev/null
wait "$psql_pid" || true
cancel_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
grep -q 'canceling statement due to user request' "$cancel_out" || rs_warn "the cancel did not land: $(tail -1 "$cancel_out")"

bench_same_install

row() { printf '| %-42s | %10s | %10s | %7s |\n' "$@"; }
r_train=$(awk -v a="$r_gram" -v b="$r_inverse" -v c="$r_lists" 'BEGIN {printf "%.1f", a + b + c}')
train=$(awk -v a="$gram" -v b="$inverse" -v c="$lists" 'BEGIN {printf "%.1f", a + b + c}')
r_total=$(awk -v a="$r_load" -v b="$r_train" 'BEGIN {printf "%.1f", a + b}')

echo
bench_header "recsys ease"
echo "data: recsys.synth_interactions($n_users, $n_items, $n_rows, 42): $shape; generated in $gen_s s"
echo "EASE on the binary interactions, lambda 500, K=$k kept per item; recsys $threads threads, NumPy's BLAS every core"
echo "(fsync off, unlogged table; ratio = NumPy / recsys)"
echo
row metric recsys NumPy ratio
row "$(printf '%.42s' ---------------------------------------------------)" ---------- ---------- -------
row "Gram matrix s" "$gram" "$r_gram" "$(bench_ratio "$gram" "$r_gram")"
row "inverse and B s" "$inverse" "$r_inverse" "$(bench_ratio "$inverse" "$r_inverse")"
row "K largest per item s" "$lists" "$r_lists" "$(bench_ratio "$lists" "$r_lists")"
row "training s (the three)" "$train" "$r_train" "$(bench_ratio "$train" "$r_train")"
row "total s (statement / load + training)" "$total" "$r_total" "$(bench_ratio "$total" "$r_total")"
row "peak memory (backend VmHWM / peer RSS)" "$(gib "$hwm")" "$(gib "$r_rss")" "$(bench_ratio "$hwm" "$r_rss")"
row "training context (memory_bytes)" "$(gib "$mem")" "-" "-"
row "peer's K weights also in recsys' lists" "$overlap" "-" "-"
row "largest weight difference" "$maxdiff" "-" "-"
row "cancel 1 s into the inverse (s, with psql)" "$cancel_s" "-" "-"
