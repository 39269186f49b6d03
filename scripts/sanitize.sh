#!/usr/bin/env bash
# scripts/sanitize.sh — memory errors and undefined behaviour, for
# scripts/test.sh (which runs it on its private copy of the tree).
#
#   bash scripts/sanitize.sh SRC WORK [REGRESS...]
#
# 1. builds SRC with -fsanitize=undefined (make SANITIZE=1; any report is
#    fatal, so it crashes the backend and fails the suite),
# 2. copies the PostgreSQL tree of RS_PG_BIN to WORK/pg (relocated, so the
#    sanitizer build is never installed where others load recsys from) and
#    installs the build there (make install DESTDIR=WORK/pg),
# 3. starts a cluster from that copy, runs the pg_regress tests named
#    (default: all of REGRESS) and checks for UBSan reports and restarts,
# 3b. runs a few of those tests (RS_VALGRIND_TESTS) against the same server
#    under valgrind, failing on any report with a frame in recsys.so,
# 4. builds the libFuzzer targets of test/fuzz with clang
#    (-fsanitize=fuzzer,address,undefined) and runs each for
#    RS_FUZZ_SECONDS (default 30) over its corpus, after replaying the crash
#    inputs kept there as regression cases.
#
# AddressSanitizer is not used inside the server: with the ASan runtime
# preloaded, Debian's postgres hangs before main().  The constructors of
# libraries it links (libgpg-error's bindtextdomain, libp11-kit's
# newlocale) make the first malloc while holding a glibc locale lock; that
# malloc initialises the preloaded runtime, whose initialisation calls
# dlerror() -> gettext, which takes the same lock.  So memory errors are
# looked for by the fuzz targets, which are built with ASan.
#
# Prints one "ok N - what" / "not ok N - what" line per check (counted by
# scripts/test.sh), or "skip: why" when the toolchain is missing.
# Run as root it runs the builds and the server as the postgres user.

set -euo pipefail

RS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$RS_SCRIPTS/lib.sh"

src=${1:?usage: sanitize.sh SRC WORK [REGRESS...]}
work=${2:?usage: sanitize.sh SRC WORK [REGRESS...]}
shift 2
regress="$*"
fuzz_seconds=${RS_FUZZ_SECONDS:-30}

n=0
status=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; status=1; }

ubsan_rt=$(gcc -print-file-name=libubsan.so 2>/dev/null || true)
if [ -z "$ubsan_rt" ] || [ ! -e "$ubsan_rt" ]; then
	echo "skip: gcc's UndefinedBehaviorSanitizer runtime (libubsan) is not installed"
	exit 0
fi

mkdir -p "$work"
rs_is_root && chown "$RS_USER:" "$work"

# --- 1. the sanitizer build ---------------------------------------------------
rs_log "sanitizer build: make SANITIZE=1 (-fsanitize=undefined)"
rc=0
rs_make "$src" clean >/dev/null || rc=$?
[ "$rc" -eq 0 ] && { rs_make "$src" WERROR=1 ASSERTS=1 SANITIZE=1 >"$work/build.log" 2>&1 || rc=$?; }
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$work/build.log"
	not_ok "build with -fsanitize=undefined"
	exit 1
fi
ok "build with -fsanitize=undefined"

# --- 2. a relocated PostgreSQL tree with the sanitizer build -------------------
pg=$work/pg
pglib=$(dirname "$RS_PG_BIN")						# .../lib/postgresql/15
pgshare=$("$RS_PG_CONFIG" --sharedir)
mkdir -p "$pg$pglib" "$pg$pgshare"
cp -a "$pglib/." "$pg$pglib/"
cp -a "$pgshare/." "$pg$pgshare/"
rs_is_root && chown -R "$RS_USER:" "$pg"
(cd "$src" && rs_as_user make PG_CONFIG="$RS_PG_CONFIG" SANITIZE=1 DESTDIR="$pg" install \
	>"$work/install.log" 2>&1 </dev/null) \
	|| { tail -n 20 "$work/install.log"; not_ok "install into the relocated tree"; exit 1; }

# --- 3. the regression suite against a sanitized server ------------------------
port=$(rs_free_port 55441 55460)
data=$work/data
log=$work/server.log
ubsan_options="print_stacktrace=1:halt_on_error=1:log_path=$work/ubsan"
(cd / && rs_as_user "$pg$RS_PG_BIN/initdb" -D "$data" -U postgres -A trust --no-locale \
	-E UTF8 --no-sync >/dev/null </dev/null)
rs_as_user tee -a "$data/postgresql.conf" >/dev/null <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
fsync = off
max_connections = 20
shared_buffers = 64MB
EOF
start_server() {
	(cd / && rs_as_user env UBSAN_OPTIONS="$ubsan_options" \
		"$pg$RS_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 120 start >/dev/null </dev/null)
}
stop_server() {
	(cd / && rs_as_user "$pg$RS_PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 </dev/null) || true
}
trap stop_server EXIT
if ! start_server; then
	tail -n 30 "$log" || true
	not_ok "start a server from the relocated tree"
	exit 1
fi
start_time=$(cd / && rs_as_user "$RS_PG_BIN/psql" -h "$work" -p "$port" -U postgres -d postgres -Atc \
	'SELECT pg_postmaster_start_time()' </dev/null)

rs_log "pg_regress against the sanitized server: ${regress:-all}"
args=()
[ -n "$regress" ] && args+=("REGRESS=$regress")
rc=0
(cd "$src" && rs_as_user make -s PG_CONFIG="$RS_PG_CONFIG" installcheck \
	PGHOST="$work" PGPORT="$port" PGUSER=postgres "${args[@]}" </dev/null) \
	>"$work/regress.out" 2>&1 || rc=$?
grep -E '^(test| )' "$work/regress.out" | sed 's/^/# /'
n_tests=$(grep -cE '^(test +| +)[A-Za-z0-9_]+ +\.\.\. ' "$work/regress.out" || true)
if [ "$rc" -eq 0 ] && [ "$n_tests" -gt 0 ]; then
	ok "pg_regress under UBSan: $n_tests tests pass"
else
	[ -s "$src/regression.diffs" ] && head -n 80 "$src/regression.diffs" | sed 's/^/# /'
	not_ok "pg_regress under UBSan (exit $rc)"
fi
now_start=$(cd / && rs_as_user "$RS_PG_BIN/psql" -h "$work" -p "$port" -U postgres -d postgres -Atc \
	'SELECT pg_postmaster_start_time()' </dev/null 2>/dev/null || echo down)
stop_server
reports=$(cat "$work"/ubsan.* 2>/dev/null || true)
reports+=$(grep -E 'runtime error:|terminated by signal|TRAP:' "$log" || true)
if [ -z "$reports" ] && [ "$now_start" = "$start_time" ]; then
	ok "no sanitizer report and no server restart"
else
	printf '%s\n' "$reports" | head -n 60 | sed 's/^/# /'
	not_ok "sanitizer reports or a server restart (see above)"
fi

# --- 3b. the same server under valgrind, for a few tests ----------------------------
# (memcheck on the uninstrumented server: reads of uninitialised memory and
# accesses outside malloc'd blocks; PostgreSQL's own reports, e.g. WAL
# padding, are ignored, any report with a frame in recsys.so fails, also
# where the frame names recsys's source file and line instead)
vg_tests=${RS_VALGRIND_TESTS-embedding hostile privileges update_small step_agg}
if [ -z "$vg_tests" ]; then
	echo "# skip: RS_VALGRIND_TESTS is empty"
elif ! command -v valgrind >/dev/null 2>&1; then
	echo "# skip: valgrind is not installed"
else
	rs_log "pg_regress under valgrind: $vg_tests"
	mkdir -p "$work/valgrind"
	rs_is_root && chown "$RS_USER:" "$work/valgrind"
	(cd / && rs_as_user env UBSAN_OPTIONS="$ubsan_options" valgrind --quiet --trace-children=yes \
		--error-limit=no --num-callers=30 --log-file="$work/valgrind/vg.%p.log" \
		"$pg$RS_PG_BIN/postgres" -D "$data" -c max_parallel_workers_per_gather=0 -c jit=off \
		</dev/null >>"$log" 2>&1 &)
	up=0
	for _ in $(seq 1 120); do
		if (cd / && rs_as_user "$RS_PG_BIN/pg_isready" -q -h "$work" -p "$port" </dev/null); then
			up=1
			break
		fi
		sleep 1
	done
	rc=1
	if [ "$up" = 1 ]; then
		rc=0
		(cd "$src" && rs_as_user make -s PG_CONFIG="$RS_PG_CONFIG" installcheck \
			PGHOST="$work" PGPORT="$port" PGUSER=postgres REGRESS="$vg_tests" </dev/null) \
			>"$work/regress_vg.out" 2>&1 || rc=$?
	fi
	grep -E '^(test| )' "$work/regress_vg.out" 2>/dev/null | sed 's/^/# /'
	stop_server
	# one report per block of lines starting at an error line; a frame of
	# recsys shows as "(in .../recsys.so)" or, with its debug information,
	# as one of its source files and a line, "(update.c:725)"
	ours_re="recsys\\.so|\\(($(cd "$src/src" && ls -- *.c core/*.c | sed 's|.*/||; s|\.c$||' | paste -sd'|'))\\.c:[0-9]+\\)"
	ours=$(awk -v re="$ours_re" '/^==[0-9]+== [A-Z]/ { if (blk ~ re) print blk; blk = $0; next }
		/^==[0-9]+==/ { blk = blk "\n" $0 }
		END { if (blk ~ re) print blk }' "$work"/valgrind/vg.*.log 2>/dev/null || true)
	n_all=$(cat "$work"/valgrind/vg.*.log 2>/dev/null | grep -cE '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and)' || true)
	if [ "$rc" -eq 0 ] && [ -z "$ours" ]; then
		ok "pg_regress under valgrind ($vg_tests): no report in recsys.so ($n_all in PostgreSQL itself, ignored)"
	else
		printf '%b\n' "$ours" | head -n 80 | sed 's/^/# /'
		not_ok "pg_regress under valgrind ($vg_tests): exit $rc, reports in recsys.so above"
	fi
fi

# --- 4. libFuzzer targets --------------------------------------------------------
if ! command -v clang >/dev/null 2>&1; then
	echo "# skip: clang is not installed, no fuzzing"
	exit "$status"
fi
rs_log "libFuzzer targets (test/fuzz), ${fuzz_seconds}s each"
rc=0
(cd "$src/test/fuzz" && rs_as_user make -s PG_CONFIG="$RS_PG_CONFIG" </dev/null) \
	>"$work/fuzz_build.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$work/fuzz_build.log" | sed 's/^/# /'
	not_ok "build the libFuzzer targets with clang -fsanitize=fuzzer,address,undefined"
	exit 1
fi
for target in "$src"/test/fuzz/fuzz_*.c; do
	name=$(basename "$target" .c)
	corpus=$src/test/fuzz/corpus/$name
	crashes=$src/test/fuzz/crashes/$name
	scratch=$work/corpus_$name
	mkdir -p "$scratch"
	cp -a "$corpus/." "$scratch/" 2>/dev/null || true
	rs_is_root && chown -R "$RS_USER:" "$scratch"
	# crash inputs kept from earlier runs are regression cases
	if [ -d "$crashes" ] && [ -n "$(ls "$crashes" 2>/dev/null)" ]; then
		if (cd "$work" && rs_as_user "$src/test/fuzz/$name" "$crashes"/* </dev/null) \
			>"$work/$name.replay" 2>&1; then
			ok "$name: $(ls "$crashes" | wc -l) kept crash inputs pass"
		else
			tail -n 30 "$work/$name.replay" | sed 's/^/# /'
			not_ok "$name: a kept crash input fails again"
		fi
	fi
	rc=0
	(cd "$work" && rs_as_user "$src/test/fuzz/$name" -max_total_time="$fuzz_seconds" \
		-max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$work/$name-" "$scratch" "$corpus" </dev/null) \
		>"$work/$name.log" 2>&1 || rc=$?
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$work/$name.log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		ok "$name: ${runs:-?} inputs in ${fuzz_seconds}s, no crash"
	else
		tail -n 40 "$work/$name.log" | sed 's/^/# /'
		for a in "$work/$name"-*; do
			[ -e "$a" ] && echo "# crash input kept as $a (copy it to test/fuzz/crashes/$name/)"
		done
		not_ok "$name: the fuzzer found a crash (exit $rc)"
	fi
done
exit "$status"
