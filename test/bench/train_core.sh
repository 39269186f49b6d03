#!/bin/sh
# Training cores at MovieLens-20M scale, against a NumPy/SciPy peer in
# the same run.
#
#   sh test/bench/train_core.sh [ITERATIONS]
#
# Generates (once, cached in $BENCH_DIR, default /tmp/recsys-bench) 20M
# interactions at ML-20M shape (test/bench/gen_triplets.py), builds the
# standalone driver (test/core), times als and ials (64 factors, CG with
# 3 steps, 2 threads) and the NumPy/SciPy implementation of the same
# algorithms (test/bench/train_core_peer.py), then prints a table with the
# ratio and the machine.  C seconds per iteration: the median iteration
# after the first (which includes the setup).  Also times one iteration of als with the exact
# (Cholesky) solver for reference.  Environment: THREADS (2), FACTORS (64),
# CORE_CFLAGS (passed to the driver's make).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
iters=${1:-3}
threads=${THREADS:-2}
factors=${FACTORS:-64}
dir=${BENCH_DIR:-/tmp/recsys-bench}
py=/usr/bin/python3
mkdir -p "$dir"
data=$dir/ml20m-shape.bin

if [ ! -s "$data" ]; then
	echo "generating $data ..." >&2
	$py "$here/gen_triplets.py" "$data"
fi
if [ -n "${CORE_CFLAGS:-}" ]; then
	make -s -C "$here/../core" clean
	make -s -C "$here/../core" CORE_CFLAGS="$CORE_CFLAGS" als_core
else
	make -s -C "$here/../core" als_core
fi
core=$here/../core/als_core

spi() { awk '/^seconds_per_iteration/ {print $2}'; }
gap() { awk '/^max_interrupt_gap_ms/ {print $2}'; }

echo "C cores ..." >&2
c_ials_out=$("$core" ials "$data" --factors "$factors" --iterations "$iters" \
	--threads "$threads" --alpha 1 --reg 0.1 --init-std 0.01 --cg-steps 3)
c_als_out=$("$core" als "$data" --factors "$factors" --iterations "$iters" \
	--threads "$threads" --reg 0.05 --init-std 0.1 --cg-steps 3)
c_alsx_out=$("$core" als "$data" --factors "$factors" --iterations 1 \
	--threads "$threads" --reg 0.05 --init-std 0.1 --cholesky)
echo "NumPy/SciPy reference ..." >&2
ref_out=$($py "$here/train_core_peer.py" "$data" --iterations 2 --factors "$factors")

c_ials=$(echo "$c_ials_out" | spi)
c_als=$(echo "$c_als_out" | spi)
c_alsx=$(echo "$c_alsx_out" | spi)
r_ials=$(echo "$ref_out" | awk '$1 == "ials" {print $3}')
r_als=$(echo "$ref_out" | awk '$1 == "als" {print $3}')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "machine: $(nproc) CPUs, $cpu; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $(echo "$c_ials_out" | sed -n 's/^# ials: //p' | cut -d, -f1-3)"
echo "k=$factors, CG 3 steps, $threads threads (C), $iters iterations (C), 2 (NumPy)"
echo
printf '%-28s %12s %12s %8s %10s %8s\n' algorithm "C s/iter" "NumPy s/iter" ratio target "max gap"
printf '%-28s %12s %12s %8s %10s %8s\n' "ials (CG)" "$c_ials" "$r_ials" \
	"$(awk "BEGIN {printf \"%.1fx\", $r_ials / $c_ials}")" "<= 1.0" "$(echo "$c_ials_out" | gap)ms"
printf '%-28s %12s %12s %8s %10s %8s\n' "als (CG)" "$c_als" "$r_als" \
	"$(awk "BEGIN {printf \"%.1fx\", $r_als / $c_als}")" "<= 2.0" "$(echo "$c_als_out" | gap)ms"
printf '%-28s %12s %12s %8s %10s %8s\n' "als (Cholesky, 1 iter)" "$c_alsx" "-" "-" "-" "$(echo "$c_alsx_out" | gap)ms"
