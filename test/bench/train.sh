#!/bin/bash
# Training through SQL at MovieLens-20M scale, against the NumPy/SciPy peer
# on the same rows in the same run.
#
#   bash test/bench/train.sh            (as root, like scripts/test.sh)
#
# Builds and installs recsys from this tree (scripts/lib.sh: a copy of the
# tree, make as `postgres`, make install under /tmp/recsys-build.lock),
# starts a throwaway cluster as `postgres` on a unix socket in a fresh /tmp
# directory (first free port from 55490), and then:
#
#  1. CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, rating, clicks
#     FROM recsys.synth_interactions(138000, 27000, 20000000, 42);
#     VACUUM ANALYZE ml                                  (timed, "generate")
#  2. recsys.train(..., 'popularity'): read the table, build the compact
#     matrix, store 27k rows                                 (timed, "load")
#  3. recsys.train 'als', 'nmf' and 'svdpp' on rating and 'ials' on clicks, 64 factors,
#     ITERATIONS iterations, verbose, 2 threads; seconds per iteration is
#     the median difference between consecutive "iteration N, loss L, T s"
#     NOTICE timestamps; peak memory is model_versions.memory_bytes (the
#     training context) and the backend's VmHWM (/proc/self/status via
#     pg_read_file, one fresh backend per training).
#  4. The peer: test/bench/train_peer.py exports the same rows by
#     binary COPY, builds the CSR matrices and runs test/ref/mfref.py's
#     ALS/iALS (warm-started CG, 3 steps, float32, recsys' defaults from
#     src/options.c), and NMF by multiplicative updates (another algorithm:
#     train_peer.py), REF_ITERATIONS iterations each.
#
# Prints one table (metric | recsys | NumPy/SciPy | ratio | target) with
# the machine and the date.  Ratio is NumPy/SciPy over recsys: above 1
# means recsys is faster or smaller.  The cluster runs with fsync off,
# synchronous_commit off and an unlogged table: this measures training, not
# durability.  Environment: ITERATIONS (4), REF_ITERATIONS (2), THREADS (2),
# FACTORS (64), USERS/ITEMS/ROWS (the shape, for a quick try), SKIP_BUILD=1 (use the installed recsys), KEEP=1 (leave the
# cluster directory in place).  Takes about 10 minutes on 2 cores.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

iters=${ITERATIONS:-4}
ref_iters=${REF_ITERATIONS:-2}
threads=${THREADS:-2}
factors=${FACTORS:-64}
bench_ml_shape

bench_deps numpy scipy -- python3-numpy python3-scipy
bench_ml_start train 55490 55499

rs_log "load (popularity)"
t0=$(now)
q "SELECT * FROM recsys.train('pop', 'ml', 'user_id', 'item_id', NULL, 'popularity')" >/dev/null
load_s=$(secs "$t0" "$(now)")
load_in=$(q "SELECT round(seconds::numeric, 2) FROM recsys.model_versions
             WHERE model = 'pop' ORDER BY version DESC LIMIT 1" 2>/dev/null || echo '?')
rs_log "load: $load_s s (train() reports $load_in s)"

# train ALGO RATING_COL — sets spi (median s/iteration), total, mem, hwm
train() {
	local algo=$1 col=$2 extra=''
	# als: the peer's penalty, given (without it als first chooses one on
	# held-out ratings, which the peer does not do)
	[ "$algo" = als ] && extra=', "regularization": 0.05'
	# ials: the peer's settings (the defaults before 0.3.0)
	[ "$algo" = ials ] && extra=', "alpha": 2, "regularization": 20'
	# svdpp: a penalty given, so that no search runs before the training
	[ "$algo" = svdpp ] && extra=', "regularization": 0.08'
	bench_train "$algo" "recsys.train('$algo', 'ml', 'user_id', 'item_id', '$col', '$algo',
			'{\"factors\": $factors, \"iterations\": $iters, \"verbose\": true, \"threads\": $threads$extra}')"
	printf '%s\n' "$out" | grep 'iteration' | sed 's/^/    /' >&2
	spi=$(printf '%s\n' "$out" | sed -n 's/.*iteration \([0-9]*\), loss .*, \([0-9.]*\) s$/\2/p' \
		| awk 'NR > 1 {d[n++] = $1 - prev} {prev = $1}
			END {if (n == 0) {print "nan"; exit}
				for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (d[j] < d[i]) {t = d[i]; d[i] = d[j]; d[j] = t}
				printf "%.3f", (n % 2) ? d[int(n / 2)] : (d[n / 2 - 1] + d[n / 2]) / 2}')
	total=$(printf '%.1f' "$total_sql")
}

rs_log "als ($iters iterations)"
train als rating
als_spi=$spi als_total=$total als_mem=$mem als_hwm=$hwm
rs_log "ials ($iters iterations)"
train ials clicks
ials_spi=$spi ials_total=$total ials_mem=$mem ials_hwm=$hwm
rs_log "nmf ($iters iterations)"
train nmf rating
nmf_spi=$spi nmf_total=$total nmf_mem=$mem nmf_hwm=$hwm
rs_log "svdpp ($iters iterations)"
train svdpp rating
svdpp_spi=$spi svdpp_total=$total svdpp_mem=$mem svdpp_hwm=$hwm

rs_log "NumPy/SciPy peer ($ref_iters iterations each)"
ref_out=$("$py" "$here/train_peer.py" --table ml --iterations "$ref_iters" \
	--factors "$factors" -- "${PSQL[@]}")
r_load=$(bench_ref load_seconds)
r_als=$(bench_ref als_seconds_per_iteration)
r_ials=$(bench_ref ials_seconds_per_iteration)
r_nmf=$(bench_ref nmf_seconds_per_iteration)
r_rss=$(bench_ref peak_rss_bytes)

bench_same_install

row() { printf '| %-38s | %12s | %12s | %7s | %-9s |\n' "$@"; }

echo
bench_header "recsys training"
echo "data: recsys.synth_interactions($n_users, $n_items, $n_rows, 42): $shape; generated + VACUUM ANALYZE in $gen_s s"
echo "k=$factors, CG 3 steps, recsys defaults; recsys $threads threads, $iters iterations; NumPy/SciPy $ref_iters iterations"
echo "(fsync off, unlogged table; ratio = NumPy/SciPy / recsys)"
echo
row metric recsys NumPy/SciPy ratio target
row "$(printf '%.38s' -------------------------------------------)" ------------ ------------ ------- ---------
row "load s (train popularity / COPY+CSR)" "$load_s" "$r_load" "$(bench_ratio "$load_s" "$r_load")" "<= 10"
row "als s/iteration" "$als_spi" "$r_als" "$(bench_ratio "$als_spi" "$r_als")" "<= 2.0"
row "ials s/iteration" "$ials_spi" "$r_ials" "$(bench_ratio "$ials_spi" "$r_ials")" "<= 1.0"
row "nmf s/iteration (peer: MU)" "$nmf_spi" "$r_nmf" "$(bench_ratio "$nmf_spi" "$r_nmf")" ""
row "svdpp s/iteration (no peer)" "$svdpp_spi" "-" "-" ""
row "peak memory, als (VmHWM / peer RSS)" "$(gib "$als_hwm")" "$(gib "$r_rss")" "$(bench_ratio "$als_hwm" "$r_rss")" "<= 2 GiB"
row "peak memory, ials (VmHWM / peer RSS)" "$(gib "$ials_hwm")" "$(gib "$r_rss")" "$(bench_ratio "$ials_hwm" "$r_rss")" "<= 2 GiB"
row "training context, als (memory_bytes)" "$(gib "$als_mem")" "-" "-" ""
row "training context, ials (memory_bytes)" "$(gib "$ials_mem")" "-" "-" ""
row "als total s ($iters iterations, with load)" "$als_total" "-" "-" ""
row "ials total s ($iters iterations, with load)" "$ials_total" "-" "-" ""
row "nmf total s ($iters iterations, with load)" "$nmf_total" "-" "-" ""
row "peak memory, nmf (VmHWM)" "$(gib "$nmf_hwm")" "-" "-" ""
row "svdpp total s ($iters iterations, with load)" "$svdpp_total" "-" "-" ""
echo
echo "Peer peak RSS is the whole process (COPY buffer, both CSR pairs, both algorithms)."
