#!/bin/bash
# recsys.update() at MovieLens-20M scale: folding in the newest 1% of the
# interactions, against a full retrain of the same model on the same rows
# in the same run.
#
#   flock /tmp/recsys-bench.lock bash test/bench/update.sh   (as root)
#
# Builds and installs recsys from this tree (scripts/lib.sh; set RS_PG_BIN
# to a private relocated PostgreSQL tree so that the install does not
# replace the one others load), starts a throwaway cluster as `postgres`
# on a unix socket in a fresh /tmp directory (first free port from 55590),
# and then:
#
#  1. CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, rating, clicks,
#     ts FROM recsys.synth_interactions(138000, 27000, 20000000, 42).
#  2. The cutoff: the time with NEW_PERCENT (1) percent of the rows after
#     it.  Those rows move to the table ml_new; ml keeps the others, then
#     CREATE INDEX ml_ts_idx ON ml (ts); VACUUM ANALYZE ml.  The index on
#     the time column is what lets update() read only the new rows: its
#     query is the stored source with "ts > data_until" added, which
#     without an index is a scan of all 20M rows.  (A view hiding the rows
#     after a cutoff kept in a table would do for update(), but the
#     planner then reads the whole table through the index for retrain():
#     "ts <= (SELECT ...)" is estimated at a third of the rows.)
#  3. For 'ials' on clicks and 'als' on rating (FACTORS 64, THREADS 2,
#     "time_column": "ts", "verbose": true, als "regularization": 0.05,
#     other options default), ROUNDS
#     (2) times: train (round 1) or retrain (later rounds, after deleting
#     the new rows again) on ml without the new rows, so that the active
#     version's data_until is the cutoff; the new rows arrive: INSERT INTO
#     ml SELECT * FROM ml_new; ANALYZE ml (they land after the old ones,
#     as appended rows do); EXPLAIN of the query update() runs for them
#     (it must use ml_ts_idx; the script stops if it does not); SELECT *
#     FROM recsys.update(model), timed, with its phases from the verbose
#     NOTICEs ("read N new rows", "merged ...", "solved N users", "stored
#     version N", each with seconds since the start of the work); then
#     SELECT * FROM recsys.retrain(model): every row (a sequential scan),
#     same options.
#
# Prints one table (metric | update | retrain | update/retrain | target)
# with the machine, the load average at the start and the end, and the
# date, and a table of update()'s phases.  The times compared are the
# statements' wall times: train_result.seconds (also printed) includes
# storing the version for update() but not for retrain().  A version's
# user rows are its rows of recsys.user_factors and recsys.user_values.
# The cluster runs with fsync off, synchronous_commit off and an unlogged
# table: this measures the work, not durability.  update() runs right after the version it extends was
# stored, when autovacuum may not have analyzed the catalog yet (as it
# would after a scheduled retrain); ANALYZE_CATALOG=1 runs ANALYZE on
# recsys.user_factors and recsys.user_values before each update() instead.
# NEW_FROM=users instead takes the new rows from few users, as sessions
# bring them: the newest half of the rows of the users whose id is 7
# modulo 50 (2% of the users, about 1% of the rows), moved after all the
# others.
# Environment: ROUNDS (2), NEW_PERCENT (1), NEW_FROM (time), THREADS (2),
# FACTORS (64), USERS/ITEMS/ROWS (the shape, for a quick try),
# SKIP_BUILD=1 (use the installed recsys), KEEP=1 (leave the cluster
# directory in place).  Takes about 10 minutes on 2 cores.  Not part of
# scripts/test.sh.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

rounds=${ROUNDS:-2}
analyze_catalog=${ANALYZE_CATALOG:-0}
new_percent=${NEW_PERCENT:-1}
new_from=${NEW_FROM:-time}
threads=${THREADS:-2}
factors=${FACTORS:-64}
bench_ml_shape

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rs_install_deps
bench_start update 55590 55599 <<<"$bench_ml_settings"
bench_ml_table "$n_users" "$n_items" "$n_rows" "user_id, item_id, rating, clicks, ts"

t0=$(now)
q "ALTER TABLE ml RENAME TO ml_all" >/dev/null
if [ "$new_from" = users ]; then
	# the newest half of the rows of the users whose id is 7 modulo 50 (2%
	# of the users, holding about 2% of the rows), moved after the rest as
	# a burst of sessions: 1 ms apart after the newest other row
	rs_log "moving the newest half of the rows of 2% of the users to ml_new, index on ml (ts)"
	q "CREATE UNLOGGED TABLE ml_flag AS SELECT a.*, a.user_id % 50 = 7
	     AND row_number() OVER (PARTITION BY a.user_id ORDER BY a.ts DESC) <= count(*) OVER (PARTITION BY a.user_id) / 2 AS is_new
	   FROM ml_all a;
	   DROP TABLE ml_all;
	   CREATE UNLOGGED TABLE ml AS SELECT user_id, item_id, rating, clicks, ts FROM ml_flag WHERE NOT is_new" >/dev/null
	cutoff=$(q "SET TimeZone = 'UTC'; SELECT max(ts) FROM ml")
	q "CREATE UNLOGGED TABLE ml_new AS SELECT user_id, item_id, rating, clicks,
	     '$cutoff'::timestamptz + row_number() OVER (ORDER BY ts) * interval '1 millisecond' AS ts
	   FROM ml_flag WHERE is_new;
	   DROP TABLE ml_flag;
	   CREATE INDEX ml_ts_idx ON ml (ts)" >/dev/null
else
	# the newest new_percent% of the rows come after the cutoff: they move to ml_new
	rs_log "moving the newest $new_percent% to ml_new, index on ml (ts)"
	n_new_target=$(awk -v n="$n_rows" -v p="$new_percent" 'BEGIN {printf "%d", n * p / 100}')
	cutoff=$(q "SET TimeZone = 'UTC';
		SELECT ts FROM ml_all ORDER BY ts DESC OFFSET $n_new_target LIMIT 1")
	q "CREATE UNLOGGED TABLE ml AS SELECT * FROM ml_all WHERE ts <= '$cutoff';
	   CREATE UNLOGGED TABLE ml_new AS SELECT * FROM ml_all WHERE ts > '$cutoff';
	   DROP TABLE ml_all;
	   CREATE INDEX ml_ts_idx ON ml (ts)" >/dev/null
fi
q "VACUUM ANALYZE ml" >/dev/null
q "VACUUM ANALYZE ml_new" >/dev/null
n_new=$(q "SELECT count(*) FROM ml_new")
index_s=$(secs "$t0" "$(now)")
rs_log "cutoff $cutoff: $n_new rows after it; split and indexed in $index_s s"
# the users update() solves again, and how many interactions they have
read -r n_new_users n_new_users_nnz <<<"$(q "SELECT count(*), sum(n) FROM (
	SELECT user_id, count(*) AS n FROM (SELECT user_id FROM ml UNION ALL SELECT user_id FROM ml_new) a
	WHERE user_id IN (SELECT user_id FROM ml_new) GROUP BY user_id) s" | tr '|' ' ')"
rs_log "users with new rows: $n_new_users, with $n_new_users_nnz interactions in all"

# notice_time OUT TEXT — the seconds of the NOTICE "...: TEXT..., S s"
notice_time() {
	printf '%s\n' "$1" | sed -n "s/.*NOTICE: .*: $2.*, \([0-9.]*\) s\$/\1/p" | tail -1
}

# explain_new_rows MODEL COLS — EXPLAIN of update()'s query of the new rows
# (src/train.c: rs_new_rows_query) from the active version's data_until;
# dies unless it scans ml_ts_idx
explain_new_rows() {
	local until plan
	until=$(q "SET TimeZone = 'UTC';
		SELECT v.data_until FROM recsys.model_versions v JOIN recsys.models m
		  ON m.name = v.model AND m.active_version = v.version WHERE m.name = '$1'")
	[ "$until" = "$cutoff" ] || rs_warn "data_until of $1 is $until, not the cutoff $cutoff"
	plan=$(q "EXPLAIN SELECT $2, \"ts\" FROM \"public\".\"ml\" AS recsys_source
		WHERE \"ts\" OPERATOR(pg_catalog.>) CAST('$until' AS pg_catalog.timestamptz)")
	printf '%s\n' "$plan" | sed 's/^/    /' >&2
	printf '%s\n' "$plan" | grep -q 'Index.* on ml_ts_idx' \
		|| rs_die "the query of the new rows of $1 does not use ml_ts_idx"
	# what retrain() reads, for comparison
	q "EXPLAIN SELECT $2, \"ts\" FROM \"public\".\"ml\" AS recsys_source" | sed 's/^/    /' >&2
}

# base MODEL ROUND CALL — the version update() starts from, without the new rows
base() {
	local out
	q "DELETE FROM ml WHERE ts > '$cutoff'" >/dev/null
	q "VACUUM ANALYZE ml" >/dev/null
	rs_log "$1: base version (rows up to $cutoff, round $2)"
	out=$(q "SELECT 'base ' || version || ' ' || users || ' ' || interactions || ' ' || round(seconds::numeric, 1)
		FROM $3") || rs_die "training $1 failed"
	rs_log "  $out"
}

# arrive — the new rows appended to ml (with ANALYZE_CATALOG=1, the
# catalog's statistics brought up to date too)
arrive() {
	q "INSERT INTO ml SELECT * FROM ml_new" >/dev/null
	q "ANALYZE ml" >/dev/null
	if [ "$analyze_catalog" = 1 ]; then
		q "ANALYZE recsys.user_factors" >/dev/null
		q "ANALYZE recsys.user_values" >/dev/null
	fi
}

# update MODEL — sets u_s, u_wall, u_users, u_folded, u_items and the phases
update() {
	local out t0
	rs_log "$1: update"
	t0=$(now)
	out=$(q "SET client_min_messages = notice;
		SELECT 'result ' || version || ' ' || users || ' ' || items || ' ' || interactions || ' ' || seconds
		FROM recsys.update('$1')" 2>&1) \
		|| { printf '%s\n' "$out" >&2; rs_die "updating $1 failed"; }
	u_wall=$(secs "$t0" "$(now)")
	printf '%s\n' "$out" | sed 's/^/    /' >&2
	read -r u_version u_users u_items u_folded u_s <<<"$(printf '%s\n' "$out" | awk '$1 == "result" {print $2, $3, $4, $5, $6}')"
	u_read=$(printf '%s\n' "$out" | sed -n 's/.*: read \([0-9]*\) new rows, .*/\1/p')
	p_read=$(notice_time "$out" "read ")
	p_merged=$(notice_time "$out" "merged ")
	p_solved=$(notice_time "$out" "solved ")
	p_stored=$(notice_time "$out" "stored version ")
	u_s=$(printf '%.2f' "$u_s")
	rs_log "  version $u_version: $u_users users, $u_items items, $u_folded interactions in $u_s s (statement $u_wall s)"
}

# retrain MODEL — sets r_s, r_wall, r_users, r_nnz
retrain() {
	local out t0
	rs_log "$1: retrain"
	t0=$(now)
	out=$(q "SELECT 'result ' || version || ' ' || users || ' ' || interactions || ' ' || seconds
		FROM recsys.retrain('$1')") || rs_die "retraining $1 failed"
	r_wall=$(secs "$t0" "$(now)")
	read -r r_version r_users r_nnz r_s <<<"$(printf '%s\n' "$out" | awk '$1 == "result" {print $2, $3, $4, $5}')"
	r_s=$(printf '%.2f' "$r_s")
	rs_log "  version $r_version: $r_users users, $r_nnz interactions in $r_s s (statement $r_wall s)"
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b == "" || b + 0 == 0) print "-"; else printf "%.1f%%", 100 * a / b}'; }
d() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "") print "-"; else printf "%.2f", b - a}'; }

rows=()
phases=()
# bench ALGO COL
bench() {
	local algo=$1 col=$2 model="bench_$1" r cols
	local opts="{\"time_column\": \"ts\", \"factors\": $factors, \"threads\": $threads, \"verbose\": true}"
	# als: a fixed penalty, so that a retrain is one training (without it,
	# als first chooses one on held-out ratings)
	[ "$algo" = als ] && opts="${opts%\}}, \"regularization\": 0.05}"
	cols="\"user_id\", \"item_id\", \"$col\""
	for ((r = 1; r <= rounds; r++)); do
		if [ "$r" = 1 ]; then
			base "$model" "$r" "recsys.train('$model', 'ml', 'user_id', 'item_id', '$col', '$algo', '$opts')"
		else
			base "$model" "$r" "recsys.retrain('$model')"
		fi
		arrive
		explain_new_rows "$model" "$cols"
		update "$model"
		retrain "$model"
		rows+=("$algo: statement s, run $r|$u_wall|$r_wall|$(pct "$u_wall" "$r_wall")|<= 5%"
			"$algo: train_result.seconds, run $r|$u_s|$r_s|$(pct "$u_s" "$r_s")|")
		if [ "$r" = 1 ]; then
			rows+=("$algo: rows read|$u_read|$n_rows|$(pct "$u_read" "$n_rows")|"
				"$algo: users solved|$u_users|$r_users|$(pct "$u_users" "$r_users")|"
				"$algo: interactions folded in / trained|$u_folded|$r_nnz|$(pct "$u_folded" "$r_nnz")|"
				"$algo: user rows stored (copied)|$(q "SELECT count(*) FROM recsys.user_factors
					WHERE model = '$model' AND version = $u_version") ($((r_users - u_users)))|$r_users||"
				"$algo: MiB of a version's user rows||$(q "SELECT round(((SELECT sum(pg_column_size(f.*))
					FROM recsys.user_factors f WHERE model = '$model' AND version = $r_version)
					+ coalesce((SELECT sum(pg_column_size(v.*)) FROM recsys.user_values v
					WHERE model = '$model' AND version = $r_version), 0)) / 1048576.0)")||")
		fi
		phases+=("$algo, run $r|$(d "$p_stored" "$u_s")|$p_read|$(d "$p_read" "$p_merged")|$(d "$p_merged" "$p_solved")|$(d "$p_solved" "$p_stored")|$u_s|$u_wall")
	done
}

bench ials clicks
bench als rating

bench_same_install

row() { printf '| %-40s | %14s | %10s | %14s | %-6s |\n' "$@"; }
prow() { printf '| %-12s | %10s | %8s | %14s | %8s | %8s | %8s | %9s |\n' "$@"; }

echo
bench_header "recsys update"
echo "load average at the start: $load_start"
echo "data: recsys.synth_interactions($n_users, $n_items, $n_rows, 42): $shape; generated + VACUUM ANALYZE in $gen_s s; split + index on ts + VACUUM ANALYZE in $index_s s"
echo "new rows: the $n_new after $cutoff ($([ "$new_from" = users ] && echo "the newest half of 2% of the users' rows" || echo "the newest $new_percent%")), of $n_new_users users with $n_new_users_nnz interactions in all; k=$factors, $threads threads, other options default; $rounds rounds"
echo "catalog statistics before update(): $([ "$analyze_catalog" = 1 ] && echo "ANALYZE'd" || echo "as autovacuum left them")"
echo "(fsync off, unlogged table; train_result.seconds of retrain() leaves out storing the version, update()'s does not)"
echo
row metric update retrain update/retrain target
row "$(printf '%.40s' ------------------------------------------)" -------------- ---------- -------------- ------
for x in "${rows[@]}"; do
	IFS='|' read -r a b c e f <<<"$x"
	row "$a" "$b" "$c" "$e" "$f"
done
echo
echo "update() phases, seconds (from the verbose NOTICEs; 'before': lock, definition and the version's items, before the NOTICEs' clock starts; 'fetch + merge': the solved users' stored rows from the catalog and merging them with the new; 'store': the new version, with every other row copied)"
prow run before read "fetch + merge" solve store total statement
prow ------------ ---------- -------- -------------- -------- -------- -------- ---------
for x in "${phases[@]}"; do
	IFS='|' read -r a b c e f g h i <<<"$x"
	prow "$a" "$b" "$c" "$e" "$f" "$g" "$h" "$i"
done
