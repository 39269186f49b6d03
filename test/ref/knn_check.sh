#!/bin/sh
# The neighbourhood-model core (src/core/knn.c, src/core/knn_score.c) against the
# NumPy reference on a hand-checkable matrix: the committed expected
# values (test/ref/knn_ref.expected) must still be what the reference
# prints, and the driver (test/core/knn_core) must print the same lists,
# biases and scores for every configuration, with 1 and with 3 threads
# and with each way the core can compute the lists (rs_knn_test_paths in
# src/core/core.h), all identical to the bit.
#
#   sh test/ref/knn_check.sh        (after make -C test/core)
set -u
here=$(cd "$(dirname "$0")" && pwd)
core=${RS_KNN_CORE:-$here/../core/knn_core}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

$py "$here/knn_ref.py" > "$tmp/ref.out"
if cmp -s "$here/knn_ref.expected" "$tmp/ref.out"; then
	echo "ok knn reference reproduces knn_ref.expected"
else
	echo "not ok knn reference reproduces knn_ref.expected"
	diff "$here/knn_ref.expected" "$tmp/ref.out" | head -20
	fail=1
fi

# sql/knn.sql embeds the same values for the check through SQL
sed -n '/^-- BEGIN knn_ref.py --sql/,/^-- END knn_ref.py --sql/p' "$here/../../sql/knn.sql" \
	| sed '1d;$d' > "$tmp/sql.embedded"
$py "$here/knn_ref.py" --sql > "$tmp/sql.ref"
if cmp -s "$tmp/sql.embedded" "$tmp/sql.ref"; then
	echo "ok sql/knn.sql embeds the reference's current values"
else
	echo "not ok sql/knn.sql embeds the reference's current values (regenerate: knn_ref.py --sql)"
	fail=1
fi

$py "$here/knn_ref.py" --write "$tmp"
$py "$here/knn_ref.py" --configs > "$tmp/configs"
while read -r name data args; do
	extra=
	case " $args " in *" attrs=1 "*) extra="attrs=$tmp/attrs.txt" ;; esac
	args=$(printf '%s\n' "$args" | sed 's/ attrs=1//')
	# shellcheck disable=SC2086  # the arguments are words
	"$core" "$tmp/$data.txt" users=8 items=8 $args $extra threads=1 \
		> "$tmp/$name.1" 2>/dev/null || { echo "not ok $name (driver failed)"; fail=1; continue; }
	# shellcheck disable=SC2086
	"$core" "$tmp/$data.txt" users=8 items=8 $args $extra threads=3 \
		> "$tmp/$name.3" 2>/dev/null || { echo "not ok $name (driver failed, 3 threads)"; fail=1; continue; }
	$py "$here/knn_compare.py" "$here/knn_ref.expected" "$tmp/$name.1" "$name" || fail=1
	same=3
	for paths in 1 2 4 3 5; do
		# shellcheck disable=SC2086
		"$core" "$tmp/$data.txt" users=8 items=8 $args $extra threads=2 paths=$paths \
			> "$tmp/$name.p$paths" 2>/dev/null || fail=1
		cmp -s "$tmp/$name.1" "$tmp/$name.p$paths" || same="$same, paths=$paths differs"
	done
	if cmp -s "$tmp/$name.1" "$tmp/$name.3" && [ "$same" = 3 ]; then
		echo "ok $name: 3 threads and every computation path give the same model as 1 thread"
	else
		echo "not ok $name: 3 threads and every computation path give the same model as 1 thread ($same)"
		fail=1
	fi
done < "$tmp/configs"
exit $fail
