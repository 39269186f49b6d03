# shellcheck shell=bash
# test/bench/lib.sh — what the benchmark scripts that run a server share,
# on top of scripts/lib.sh.  Sourced, never run:
#
#   . "$(dirname "$0")/lib.sh"    sets here (test/bench) and root (the tree),
#                                 sources scripts/lib.sh, and on exit stops
#                                 the cluster and removes $work and $build
#   bench_deps MODULE... -- PACKAGES
#                                 rs_install_deps, then /usr/bin/python3
#                                 must import every MODULE (PACKAGES: what
#                                 to install when it cannot)
#   bench_build DIR               copy this tree to DIR/src, build it and
#                                 install it (skipped with SKIP_BUILD=1);
#                                 so_sum is the installed checksum
#   bench_cluster DIR PORT        a throwaway cluster in DIR/data, socket
#                                 in DIR, log DIR/server.log; the lines on
#                                 stdin are appended to postgresql.conf;
#                                 started, with CREATE EXTENSION recsys.
#                                 Sets datadir, sockdir, port and PSQL
#   bench_start NAME PORT_LO PORT_HI
#                                 the usual start: work (rs_mktemp
#                                 recsys-bench-NAME), bench_build there,
#                                 the first free port from PORT_LO to
#                                 PORT_HI, bench_cluster with the settings
#                                 on stdin
#   bench_ml_shape                n_users, n_items and n_rows from USERS,
#                                 ITEMS and ROWS, by default the
#                                 MovieLens-20M shape (138000, 27000, 20M);
#                                 smaller values only to try a script
#   bench_ml_settings             those settings for the benchmarks on
#                                 the MovieLens-20M-shaped table
#   bench_ml_start NAME PORT_LO PORT_HI
#                                 bench_start with bench_ml_settings, then
#                                 bench_ml_table of bench_ml_shape's sizes
#   bench_ml_table USERS ITEMS ROWS [COLUMNS]
#                                 the table ml (user_id, item_id, rating,
#                                 clicks, or COLUMNS: e.g. with ts) of
#                                 recsys.synth_interactions(..., 42),
#                                 unlogged, VACUUM ANALYZE'd; sets gen_s
#                                 (seconds) and shape (a description)
#   bench_train MODEL CALL        in one fresh session with NOTICEs:
#                                 SELECT 'total ' || seconds FROM CALL (a
#                                 recsys.train(...) training MODEL), then
#                                 the version's memory_bytes and the
#                                 backend's VmHWM; sets out (psql's
#                                 output), total_sql (train()'s seconds),
#                                 mem and hwm (bytes); dies when it fails
#   bench_pgbench                 PGBENCH: the pgbench of RS_PG_BIN, else
#                                 the one on PATH; dies when there is none
#   bench_header TITLE            the report's first lines: "TITLE
#                                 benchmark", the date, the commit, the
#                                 machine and its load average
#   bench_ratio RECSYS PEER       PEER / RECSYS as "2.5x" ("-" when either
#                                 is empty or RECSYS is 0): above 1, recsys
#                                 is faster or smaller
#   bench_ref KEY                 the value of the line "KEY value" of
#                                 $ref_out (what a peer printed)
#   q SQL                         SQL in a fresh session as `postgres`,
#                                 unaligned, no headers
#   now / secs A B                a timestamp / seconds from A to B (%.1f)
#   gib BYTES                     "1.25 GiB" or "300 MiB" ("-" if empty)
#   bench_same_install            warn when recsys.so was reinstalled by
#                                 someone else since bench_build
#   bench_machine                 "N CPUs, CPU model, N GiB"
#
# The script sets work (a directory of its own: rs_mktemp) before
# bench_cluster.  KEEP=1 leaves $work in place, with the cluster stopped;
# with bench_keep_running=1 as well, running.  When the script fails, the
# end of the server log is printed.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

py=/usr/bin/python3
work=
build=
datadir=
bench_keep_running=0

# shellcheck disable=SC2034  # used by the scripts
bench_ml_settings='shared_buffers = 1GB
max_wal_size = 20GB
checkpoint_timeout = 30min
work_mem = 64MB
maintenance_work_mem = 512MB'

# shellcheck disable=SC2317  # called from the EXIT trap
bench_cleanup() {
	local rc=$?
	[ -n "$build" ] && rm -rf "$build"
	if [ -n "$datadir" ]; then
		if [ "$rc" != 0 ] && [ -f "$work/server.log" ]; then
			rs_warn "the run failed; the server log ends with:"
			tail -n 30 "$work/server.log" >&2
		fi
		if [ "${KEEP:-0}" = 1 ] && [ "$bench_keep_running" = 1 ]; then
			rs_log "kept the cluster running: $datadir (port $port, socket $sockdir)"
			exit "$rc"
		fi
		rs_cluster_stop "$datadir"
	fi
	if [ -n "$work" ]; then
		if [ "${KEEP:-0}" = 1 ]; then
			rs_log "kept $work"
		else
			rm -rf "$work"
		fi
	fi
	exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# bench_deps MODULE... -- PACKAGES
bench_deps() {
	local modules=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		modules+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	rs_install_deps
	"$py" -c "import $(IFS=,; echo "${modules[*]}")" 2>/dev/null \
		|| rs_die "$py with ${modules[*]} is needed ($*)"
}

# bench_build DIR
bench_build() {
	if [ "${SKIP_BUILD:-0}" != 1 ]; then
		rs_log "building recsys"
		rs_copy_tree "$root" "$1/src"
		rs_make "$1/src" -s >/dev/null
		rs_make_install "$1/src" -s >/dev/null
	fi
	so_sum=$(rs_installed_checksum)
}

# bench_cluster DIR PORT <<EOF settings EOF
bench_cluster() {
	datadir=$1/data
	sockdir=$1
	port=$2
	rs_log "starting a cluster in $datadir, port $port"
	rs_cluster_init "$datadir" "$sockdir" "$port"
	{
		echo "# benchmark settings (not durable: fsync is off, see rs_cluster_init)"
		cat
	} | rs_as_user tee -a "$datadir/postgresql.conf" >/dev/null
	# (the server must not inherit a lock held on fd 9: it may outlive us)
	rs_cluster_start "$datadir" "$1/server.log" 9>&-
	PSQL=("$RS_PG_BIN/psql" -h "$sockdir" -p "$port" -U postgres -d postgres)
	q "CREATE EXTENSION recsys" >/dev/null
}

# bench_start NAME PORT_LO PORT_HI <<EOF settings EOF
bench_start() {
	local settings
	settings=$(cat)
	work=$(rs_mktemp "recsys-bench-$1")
	bench_build "$work"
	port=$(rs_free_port "$2" "$3")
	bench_cluster "$work" "$port" <<<"$settings"
}

# bench_ml_shape
# shellcheck disable=SC2034  # used by the scripts
bench_ml_shape() {
	n_users=${USERS:-138000}
	n_items=${ITEMS:-27000}
	n_rows=${ROWS:-20000000}
}

# bench_ml_start NAME PORT_LO PORT_HI
bench_ml_start() {
	bench_start "$1" "$2" "$3" <<<"$bench_ml_settings"
	bench_ml_table "$n_users" "$n_items" "$n_rows"
}

# bench_ml_table USERS ITEMS ROWS [COLUMNS]
bench_ml_table() {
	local t0
	rs_log "generating $3 interactions"
	t0=$(now)
	q "CREATE UNLOGGED TABLE ml AS SELECT ${4:-user_id, item_id, rating, clicks}
	   FROM recsys.synth_interactions($1, $2, $3, 42)" >/dev/null
	q "VACUUM ANALYZE ml" >/dev/null
	gen_s=$(secs "$t0" "$(now)")
	shape=$(q "SELECT count(*) || ' rows, ' || count(DISTINCT user_id) || ' users, '
	             || count(DISTINCT item_id) || ' items, ' || pg_size_pretty(pg_table_size('ml'))
	           FROM ml")
	rs_log "generated in $gen_s s: $shape"
}

# bench_train MODEL CALL
# shellcheck disable=SC2034  # out, total_sql, mem and hwm: used by the scripts
bench_train() {
	out=$(q "SET client_min_messages = notice;
		SELECT 'total ' || seconds FROM $2;
		SELECT 'memory ' || memory_bytes FROM recsys.model_versions
			WHERE model = '$1' ORDER BY version DESC LIMIT 1;
		SELECT 'hwm ' || (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s*(\d+) kB'))[1]::bigint * 1024;" 2>&1) \
		|| { printf '%s\n' "$out" >&2; rs_die "training $1 failed"; }
	total_sql=$(printf '%s\n' "$out" | awk '$1 == "total" {print $2}')
	mem=$(printf '%s\n' "$out" | awk '$1 == "memory" {print $2}')
	hwm=$(printf '%s\n' "$out" | awk '$1 == "hwm" {print $2}')
}

# shellcheck disable=SC2034  # PGBENCH: used by the scripts
bench_pgbench() {
	PGBENCH=$RS_PG_BIN/pgbench
	[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || rs_die "pgbench not found"
}

bench_header() {
	echo "$1 benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), recsys $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "machine: $(bench_machine); load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || a + 0 == 0) print "-"; else printf "%.1fx", b / a}'; }

# shellcheck disable=SC2154  # ref_out: set by the script
bench_ref() { printf '%s\n' "$ref_out" | awk -v k="$1" '$1 == k {print $2}'; }

q() { (cd / && rs_as_user "${PSQL[@]}" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" </dev/null); }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
gib() { awk -v b="$1" 'BEGIN {if (b == "") print "-"; else if (b >= 1073741824) printf "%.2f GiB", b / 1073741824; else printf "%.0f MiB", b / 1048576}'; }

bench_same_install() {
	[ "$(rs_installed_checksum)" = "$so_sum" ] \
		|| rs_warn "recsys.so was reinstalled by someone else during the run: numbers may mix two builds"
}

bench_machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	printf '%s CPUs, %s, %s\n' "$(nproc)" "${cpu:-unknown CPU}" \
		"$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
}
