#!/bin/sh
# Time decay in the SGD and popularity cores (src/core/decay.c weights):
#  - svd with a half-life so long that every weight is 1 trains exactly
#    the model it trains without decay (lr * 1 == lr);
#  - svd with a real half-life trains another model;
#  - popularity with decay (the "half_life" option) gives the scores of
#    its own "half_life_days" decay, to float precision.
#
#   sh test/ref/decay_sgd_check.sh     (after make -C test/core; run by its check)
set -u
here=$(cd "$(dirname "$0")" && pwd)
core=${RS_SGD_CORE:-$here/../core/sgd_core}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# 60 users x 40 items, ~600 interactions over 90 days (a fixed LCG)
awk 'function next_(m) { s = (s * 69069 + 1) % 4294967296; return int(s / 65536) % m }
	BEGIN { s = 12345; for (u = 0; u < 60; u++) for (k = 0; k < 10; k++) {
	i = next_(40); r = 1 + next_(5); d = next_(90);
	printf "%d %d %d %d\n", u, i, r, d * 86400 } }' > "$tmp/data.txt"

check() {
	if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fail=1; fi
}

q="iterations=5 factors=4 quiet=1"
"$core" svd "$tmp/data.txt" $q model="$tmp/svd.plain" > /dev/null
"$core" svd "$tmp/data.txt" $q decay=1e300 model="$tmp/svd.ones" > /dev/null
"$core" svd "$tmp/data.txt" $q decay=864000 model="$tmp/svd.decay" > /dev/null
cmp -s "$tmp/svd.plain" "$tmp/svd.ones"
check $? "svd with every weight 1 is the undecayed model exactly"
cmp -s "$tmp/svd.plain" "$tmp/svd.decay"
[ $? -ne 0 ]
check $? "svd with a 10-day half-life trains another model"

"$core" popularity "$tmp/data.txt" half_life=10 quiet=1 model="$tmp/pop.days" > /dev/null
"$core" popularity "$tmp/data.txt" decay=864000 quiet=1 model="$tmp/pop.decay" > /dev/null
awk '$1 == "item" { if (FILENAME == ARGV[1]) a[$2] = $3; else { n++; d = $3 - a[$2]; if (d < 0) d = -d;
	if (d > 1e-5 * (a[$2] > 1 ? a[$2] : 1)) bad++ } }
	END { exit !(n >= 30 && bad == 0) }' "$tmp/pop.days" "$tmp/pop.decay"
check $? "popularity: decay=10 days gives the scores of half_life_days 10"

exit $fail
