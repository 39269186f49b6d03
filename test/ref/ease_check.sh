#!/bin/sh
# EASE's reference (test/ref/ease_ref.py): the values sql/ease.sql embeds
# between its "ease_ref.py --sql" markers must be what the reference
# prints now; sql/ease.sql then checks the stored weights and the served
# scores of src/core/ease.c against them.
#
#   sh test/ref/ease_check.sh        (run by make -C test/core check)
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n '/^-- BEGIN ease_ref.py --sql/,/^-- END ease_ref.py --sql/p' "$here/../../sql/ease.sql" \
	| sed '1d;$d' > "$tmp/sql.embedded"
$py "$here/ease_ref.py" --sql > "$tmp/sql.ref" || { echo "not ok ease reference runs"; exit 1; }
if [ -s "$tmp/sql.embedded" ] && cmp -s "$tmp/sql.embedded" "$tmp/sql.ref"; then
	echo "ok sql/ease.sql embeds the ease reference's current values"
else
	echo "not ok sql/ease.sql embeds the ease reference's current values (regenerate: ease_ref.py --sql)"
	diff "$tmp/sql.embedded" "$tmp/sql.ref" | head -10
	exit 1
fi
