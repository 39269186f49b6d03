#!/bin/sh
# test/bench/generate.sh — how fast the synthetic data generator is.
#
# Times recsys.synth_interactions at MovieLens-20M scale (138000 users,
# 27000 items, 20M interactions) three ways and prints rows/s:
#   core   the pure-C generator alone (src/core/generator.c, standalone build)
#   sql    CREATE UNLOGGED TABLE ... AS SELECT * FROM recsys.synth_interactions(...)
#   peer   the same number of rows of plain random() columns from
#          generate_series, in the same server, as the in-run reference
# The sql/peer ratio is the number to watch; absolute times vary with the
# machine.  Needs a server with recsys installed, reached through the
# usual PGHOST/PGPORT/PGUSER/PGDATABASE; skips the SQL part otherwise.
#
#   test/bench/generate.sh [users items interactions]
set -eu
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

USERS=${1:-138000}
ITEMS=${2:-27000}
ROWS=${3:-20000000}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC="$HERE/../../src/core"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { t = b - a; printf "%-6s %12d rows %8.2f s %12.0f rows/s\n", ENVIRON["WHAT"], n, t, n / t }'; }

cat > "$TMP/drv.c" <<'C'
#include "generator.h"
#include <stdio.h>
#include <stdlib.h>
static void *
alloc(void *ctx, size_t size)
{
	void	   *p = malloc(size);

	(void) ctx;
	if (p == NULL)
	{
		perror("malloc");
		exit(1);
	}
	return p;
}
int
main(int argc, char **argv)
{
	SynthParams p = {0, 0, 0, 42, 10, 8, 0.5, -1, 1.0, 0.8, 1.0};
	SynthGen   *g;
	SynthRow	r;
	long long	n = 0;
	double		sum = 0;

	p.users = atoi(argv[1]);
	p.items = atoi(argv[2]);
	p.interactions = atoll(argv[3]);
	g = synth_gen_create(&p, alloc, NULL, NULL);
	while (synth_gen_next(g, &r))
	{
		n++;
		sum += r.rating;
	}
	printf("%lld %.3f\n", n, sum / n);
	return 0;
}
C
cc -O2 -I"$SRC" -o "$TMP/drv" "$TMP/drv.c" "$SRC/generator.c" -lm
t0=$(now)
"$TMP/drv" "$USERS" "$ITEMS" "$ROWS" > "$TMP/core.out"
t1=$(now)
WHAT=core rate "$ROWS" "$t0" "$t1"

if ! psql -XAtqc 'SELECT 1' >/dev/null 2>&1; then
	echo "no server reachable (PGHOST/PGPORT): SQL timings skipped"
	exit 0
fi
psql -XAtq -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS recsys' \
	-c 'DROP TABLE IF EXISTS bench_synth, bench_peer'
t0=$(now)
psql -XAtq -v ON_ERROR_STOP=1 -c "CREATE UNLOGGED TABLE bench_synth AS SELECT * FROM recsys.synth_interactions($USERS, $ITEMS, $ROWS)"
t1=$(now)
WHAT=sql rate "$ROWS" "$t0" "$t1"
t2=$(now)
psql -XAtq -v ON_ERROR_STOP=1 -c "CREATE UNLOGGED TABLE bench_peer AS
	SELECT (g % $USERS)::int + 1 AS user_id, (random() * $ITEMS)::int + 1 AS item_id,
	       (1 + 4 * random())::real AS rating, (1 + 5 * random())::int AS clicks,
	       now() - random() * interval '1000 days' AS ts
	FROM generate_series(1, $ROWS::bigint) g"
t3=$(now)
WHAT=peer rate "$ROWS" "$t2" "$t3"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "sql/peer time ratio %.2f\n", (b - a) / (d - c) }'
psql -XAtq -c 'DROP TABLE bench_synth, bench_peer'
