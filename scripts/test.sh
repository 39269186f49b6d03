#!/usr/bin/env bash
# scripts/test.sh — the recsys test command.
#
#   bash scripts/test.sh                         everything (what CI runs)
#   bash scripts/test.sh --regress embedding     only these pg_regress tests
#   bash scripts/test.sh --tap 002_parallel_agg  only these TAP tests
#   bash scripts/test.sh --majors 17             only this other major (none: 15 only)
#   KEEP=1 bash scripts/test.sh                  keep the temporary directory
#
# --regress/--tap/--majors take comma- or space-separated names; `none` skips.
# --regress and --tap choose within the other majors' stage too (--tap
# 080_pg_upgrade names a test of test/t_majors).
#
# Steps: install the Debian packages that are missing (as root only), copy the
# source tree to a fresh directory under /tmp, build it warning-free
# (WERROR=1), rebuild it with recsys' assertions on (ASSERTS=1) and install
# that build, start a throwaway cluster on a unix socket, run pg_regress
# (make installcheck) and the TAP tests in test/t with prove, stop the
# cluster; then, for each other PostgreSQL major (17, 18: built once from
# Debian's source packages into /var/cache/recsys-pg, see
# scripts/pg_major.sh), build recsys warning-free against it, run the
# pg_regress suite and the smoke TAP tests on it, and pg_upgrade a cluster
# with models from 15 to it; close with the line "N passed, N failed".  Each build counts
# as one test, each pg_regress test as one, each TAP assertion as one (and a
# TAP script that dies as one failure).  The exit status is non-zero when
# anything failed.
#
# As root, the builds, the server and the tests run as the `postgres` user.
# As any other user they run as that user, apt-get is skipped, and
# `make install` needs write access to PostgreSQL's directories (or sudo).

set -euo pipefail

RS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RS_ROOT=$(cd "$RS_SCRIPTS/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$RS_SCRIPTS/lib.sh"

usage() {
	sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

only_regress=""
only_tap=""
# the other majors (PostgreSQL 15 is Debian 12's, always tested)
majors="17 18"
majors_given=0
major_datadir=""
while [ $# -gt 0 ]; do
	case "$1" in
		--regress) [ $# -ge 2 ] || usage 2; only_regress=${2//,/ }; shift 2 ;;
		--tap)     [ $# -ge 2 ] || usage 2; only_tap=${2//,/ }; shift 2 ;;
		--majors)  [ $# -ge 2 ] || usage 2; majors=${2//,/ }; majors_given=1; shift 2 ;;
		-h|--help) usage 0 ;;
		*) printf 'unknown argument: %s\n' "$1" >&2; usage 2 ;;
	esac
done

passed=0
failed=0
failures=()
work=""
datadir=""
started=$(date +%s)

pass() { passed=$((passed + ${2:-1})); }
fail() { failed=$((failed + ${2:-1})); failures+=("$1"); }

cleanup() {
	[ -n "$datadir" ] && rs_cluster_stop "$datadir"
	datadir=""
	[ -n "$major_datadir" ] && rs_cluster_stop "$major_datadir"
	major_datadir=""
	if [ -n "$work" ] && [ -d "$work" ]; then
		if [ "${KEEP:-0}" = 1 ]; then
			rs_log "kept $work"
		else
			rm -rf "$work"
		fi
	fi
	work=""
}
# On an unexpected exit (a harness step died, or an interrupt) the cluster is
# still stopped and the closing line still printed, with one more failure.
finished=0
# shellcheck disable=SC2317  # called from the EXIT trap
on_exit() {
	local status=$?
	[ "$finished" = 1 ] && return 0
	cleanup
	[ "$status" -eq 0 ] && status=1
	echo
	echo "the test harness stopped early (exit $status)"
	echo "$passed passed, $((failed + 1)) failed"
	exit "$status"
}
trap on_exit EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

finish() {
	local secs
	finished=1
	cleanup
	secs=$(($(date +%s) - started))
	if [ -n "${installed_sum:-}" ] && [ "$(rs_installed_checksum)" != "$installed_sum" ]; then
		rs_warn "the installed recsys.so changed while the tests ran (another 'make install'?); results may be mixed"
	fi
	echo
	if [ ${#failures[@]} -gt 0 ]; then
		echo "failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	echo "time: ${secs}s"
	echo "$passed passed, $failed failed"
	if [ "$failed" -eq 0 ]; then
		exit 0
	fi
	exit 1
}

# run_logged OUTFILE CMD... — run CMD, output to the console and OUTFILE;
# sets $rc to CMD's exit status.
run_logged() {
	local out=$1 rcfile
	shift
	rcfile=$(mktemp)
	{ local r=0; "$@" </dev/null || r=$?; echo "$r" >"$rcfile"; } 2>&1 | tee "$out"
	rc=$(cat "$rcfile")
	rm -f "$rcfile"
}

# count_regress OUTFILE LABEL — count pg_regress's results in OUTFILE: 15
# prints "test NAME ... ok|FAILED", 16 and later "ok N - NAME" / "not ok N
# - NAME"; a test with no result (its script is missing, the server
# crashed) failed too.  Uses $rc, make's exit status.
count_regress() {
	local out=$1 label=$2 name result n_ok=0 n_bad=0 bad_names=()
	while read -r name result; do
		if [ "$result" = ok ]; then
			n_ok=$((n_ok + 1))
		else
			n_bad=$((n_bad + 1))
			bad_names+=("$name")
		fi
	done < <(sed -nE \
		-e 's/^(test +| +)([A-Za-z0-9_.-]+) +\.\.\. *(ok|FAILED|failed)?.*$/\2 \3/p' \
		-e 's/^ok +[0-9]+ +[-+] +([A-Za-z0-9_.-]+) .*$/\1 ok/p' \
		-e 's/^not ok +[0-9]+ +[-+] +([A-Za-z0-9_.-]+).*$/\1 FAILED/p' "$out")
	pass "$label" "$n_ok"
	if [ "$n_bad" -gt 0 ]; then
		fail "$label: ${bad_names[*]}" "$n_bad"
	elif [ "$rc" -ne 0 ]; then
		fail "$label (make installcheck exited with $rc)"
	elif [ "$n_ok" -eq 0 ]; then
		fail "$label: no test ran"
	fi
	regress_bad=$n_bad
}

# --- 1. dependencies -------------------------------------------------------
rs_install_deps
# node-postgres for the drivers' TAP test (test/t/070_drivers.pl)
if [ "$only_tap" != none ]; then
	rs_node_pg
fi

# --- 2. a private copy of the tree ------------------------------------------
work=$(rs_mktemp recsys-test)
src=$work/src
rs_log "copying $RS_ROOT to $src"
rs_copy_tree "$RS_ROOT" "$src"

# --- 3. builds ---------------------------------------------------------------
rs_log "build 1/2: make WERROR=1"
rc=0
rs_make "$src" WERROR=1 || rc=$?
if [ "$rc" -eq 0 ]; then pass build; else fail "build (make WERROR=1)"; fi

# --- 3a. the shape of src/ ------------------------------------------------------
# (on build 1: the core is plain C, no include or call loop, no file over
# 1,200 lines, touching a header rebuilds what includes it; each ok/not ok
# line counts as a test)
if [ "$rc" -eq 0 ]; then
	rs_log "structure: make check-core, scripts/check_structure.py"
	rc=0
	(cd "$src" && rs_as_user make -s PG_CONFIG="$RS_PG_CONFIG" check-core </dev/null \
		&& rs_as_user env PG_CONFIG="$RS_PG_CONFIG" python3 scripts/check_structure.py . </dev/null) \
		>"$work/structure.out" 2>&1 || rc=$?
	cat "$work/structure.out"
	n_ok=$(grep -cE '^ok [0-9]+' "$work/structure.out" || true)
	n_bad=$(grep -cE '^not ok [0-9]+' "$work/structure.out" || true)
	pass structure "$n_ok"
	if [ "$n_bad" -gt 0 ] || [ "$rc" -ne 0 ]; then
		fail "structure checks (exit $rc)" "$(( n_bad > 0 ? n_bad : 1 ))"
	fi
fi

rs_log "build 2/2: make WERROR=1 ASSERTS=1, then make install"
rc=0
rs_make "$src" clean >/dev/null || rc=$?
[ "$rc" -eq 0 ] && { rs_make "$src" WERROR=1 ASSERTS=1 || rc=$?; }
[ "$rc" -eq 0 ] && { rs_make_install "$src" WERROR=1 ASSERTS=1 || rc=$?; }
if [ "$rc" -ne 0 ]; then
	fail "build (make WERROR=1 ASSERTS=1 && make install)"
	rs_log "the assertion build failed: no suite can run"
	finish
fi
pass build
installed_sum=$(rs_installed_checksum)

# --- 3b. the training cores against their NumPy references ------------------
# (plain C, built outside the server; each ok/not ok line counts as a test)
rs_log "pure-C cores: make -C test/core check"
rc=0
(cd "$src" && rs_as_user make -s -C test/core check </dev/null) \
	>"$work/core.out" 2>&1 || rc=$?
n_ok=$(grep -cE '^ok( |$)' "$work/core.out" || true)
n_bad=$(grep -cE '^not ok( |$)' "$work/core.out" || true)
pass "test/core" "$n_ok"
if [ "$n_bad" -gt 0 ] || [ "$rc" -ne 0 ]; then
	fail "test/core check (exit $rc)" "$(( n_bad > 0 ? n_bad : 1 ))"
	tail -n 40 "$work/core.out"
fi

# --- 4. a throwaway cluster ---------------------------------------------------
port=$(rs_free_port 55432 55440)
datadir=$work/data
rs_log "starting a cluster on $work port $port"
rs_cluster_init "$datadir" "$work" "$port"
rs_cluster_start "$datadir" "$work/server.log"

# --- 5. pg_regress -------------------------------------------------------------
if [ "$only_regress" != none ]; then
	rs_log "pg_regress: make installcheck"
	args=()
	[ -n "$only_regress" ] && args+=("REGRESS=$only_regress")
	run_logged "$work/regress.out" \
		rs_make "$src" installcheck PGHOST="$work" PGPORT="$port" PGUSER=postgres "${args[@]}"
	# pg_regress prints "test NAME ... ok|FAILED"; a test with neither
	# (its script is missing, the server crashed) failed too.
	count_regress "$work/regress.out" "pg_regress"
	if [ -s "$src/regression.diffs" ]; then
		echo "---- regression.diffs (first 400 lines) ----"
		head -n 400 "$src/regression.diffs"
		echo "---- end of regression.diffs ----"
	fi
	if [ "$rc" -ne 0 ] && [ -s "$work/server.log" ]; then
		# Crashes and failed assertions; the whole tail when no test ran.
		if [ "$regress_bad" -eq 0 ]; then
			echo "---- server log (last 40 lines) ----"
			tail -n 40 "$work/server.log"
		elif grep -qE 'TRAP:|PANIC|terminated by signal' "$work/server.log"; then
			echo "---- server log: crashes ----"
			grep -E -A3 'TRAP:|PANIC|terminated by signal' "$work/server.log" | head -n 60
		fi
	fi
	if [ "$rc" -ne 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rs_log "(KEEP=1 keeps $work for a closer look)"
	fi
fi

# --- 6. TAP tests ----------------------------------------------------------------
tap_files=()
majors_tap=0	# --tap named a test of test/t_majors: stage 7 runs it
if [ "$only_tap" != none ]; then
	if [ -n "$only_tap" ]; then
		for t in $only_tap; do
			t=$(basename "$t" .pl)
			if [ -f "$src/test/t/$t.pl" ]; then
				tap_files+=("test/t/$t.pl")
			elif [ -f "$src/test/t_majors/$t.pl" ]; then
				majors_tap=1
			else
				fail "TAP: no test/t/$t.pl or test/t_majors/$t.pl"
			fi
		done
	else
		for f in "$src"/test/t/*.pl; do
			[ -f "$f" ] && tap_files+=("test/t/$(basename "$f")")
		done
	fi
fi
# --- 6a. the previous releases, for the upgrade test ---------------------------
# test/t/050_upgrade.pl starts a cluster with each previous release
# installed, trains models with it, and upgrades them to this tree's.  Each
# release is exported from git (the copy has no .git, so from RS_ROOT),
# built, and installed into its own relocated copy of the PostgreSQL tree of
# RS_PG_BIN; the test finds those copies in RS_PREV_INSTALLS
# ("0.1.0=/path 0.2.0=/path").  Without git or a commit this is a failure,
# never a skip.
RS_PREV_RELEASES="0.1.0=8fc32d2 0.2.0=56399a5"	# version=commit, oldest first
prev_installs=""
want_prev=0
for t in "${tap_files[@]}"; do
	[ "$(basename "$t" .pl)" = 050_upgrade ] && want_prev=1
done
# build_prev_release VERSION COMMIT — sets prev_install to the tree
build_prev_release() {
	local version=$1 commit=$2 prev=$work/prev-$1 pglib pgshare
	pglib=$(dirname "$RS_PG_BIN")					# .../lib/postgresql/15
	pgshare=$("$RS_PG_CONFIG" --sharedir)
	command -v git >/dev/null 2>&1 || { rs_warn "git is not installed"; return 1; }
	git -C "$RS_ROOT" rev-parse -q --verify "$commit^{commit}" >/dev/null \
		|| { rs_warn "commit $commit ($version) is not in $RS_ROOT (a clone without history?)"; return 1; }
	mkdir -p "$prev/src" "$prev/pg$pglib" "$prev/pg$pgshare"
	git -C "$RS_ROOT" archive "$commit" | tar -C "$prev/src" -xf - || return 1
	cp -a "$pglib/." "$prev/pg$pglib/" || return 1
	cp -a "$pgshare/." "$prev/pg$pgshare/" || return 1
	# only the previous release's files, none of this tree's
	rm -rf "$prev/pg$pgshare"/extension/recsys[.-]* "$prev/pg$pglib/lib/recsys.so" \
		"$prev/pg$pglib/lib/bitcode/recsys" "$prev/pg$pglib/lib/bitcode/recsys.index.bc"
	rs_is_root && chown -R "$RS_USER:" "$prev"
	# (with_llvm=no: no JIT bitcode, half the build time)
	if ! { rs_make "$prev/src" with_llvm=no \
		&& (cd "$prev/src" && rs_as_user make PG_CONFIG="$RS_PG_CONFIG" with_llvm=no \
			DESTDIR="$prev/pg" install </dev/null); } >"$prev/build.log" 2>&1; then
		tail -n 30 "$prev/build.log"
		return 1
	fi
	[ -f "$prev/pg$pglib/lib/recsys.so" ] || { rs_warn "no recsys.so in $prev/pg$pglib/lib"; return 1; }
	prev_install=$prev/pg$pglib
}
if [ "$want_prev" = 1 ]; then
	for rel in $RS_PREV_RELEASES; do
		version=${rel%%=*} commit=${rel#*=}
		rs_log "release $version ($commit) for 050_upgrade: git archive, build, install into a copy of PostgreSQL"
		prev_install=""
		if build_prev_release "$version" "$commit"; then
			pass "build of release $version"
			prev_installs="${prev_installs:+$prev_installs }$version=$prev_install"
		else
			fail "build of release $version ($commit; needs git and the commit in $RS_ROOT)"
		fi
	done
fi

# run_prove FILE — prove -v FILE from the copy, as the unprivileged user, with
# what PostgreSQL::Test::Cluster expects (see PGXS' prove_installcheck).
# shellcheck disable=SC2317  # called through run_logged
# (tap_src, tap_bin and tap_pgxs: the tree and the PostgreSQL they run
# against; this tree and RS_PG_BIN unless another major is tested)
run_prove() {
	local tsrc=${tap_src:-$src} tbin=${tap_bin:-$RS_PG_BIN} tpgxs=${tap_pgxs:-$RS_PGXS_DIR}
	(cd "$tsrc" && rs_as_user env \
		PATH="$tbin:$PATH" \
		PERL5LIB="$tpgxs/src/test/perl${PERL5LIB:+:$PERL5LIB}" \
		PG_REGRESS="$tpgxs/src/test/regress/pg_regress" \
		TESTDIR="$tsrc/test" \
		TESTDATADIR="$tsrc/test/tmp_check" \
		TESTLOGDIR="$tsrc/test/tmp_check/log" \
		RS_PREV_INSTALLS="$prev_installs" \
		RS_NODE_PATH="${RS_NODE_PATH:-}" \
		RS_UPGRADE_FROM_BIN="${upgrade_from_bin:-}" \
		LANG=C.UTF-8 \
		timeout 1200 prove -v "$1")
}
# run_tap FILE LABEL — one TAP script through run_prove, its assertions counted.
run_tap() {
	local t=$1 label=$2 name n_ok n_bad log
	name=$(basename "$t" .pl)
	rs_log "TAP: $label"
	run_logged "$work/tap_${label//[^A-Za-z0-9_.-]/_}.out" run_prove "$t"
	n_ok=$(grep -cE '^ok [0-9]+' "$work/tap_${label//[^A-Za-z0-9_.-]/_}.out" || true)
	n_bad=$(grep -E '^not ok [0-9]+' "$work/tap_${label//[^A-Za-z0-9_.-]/_}.out" | grep -vc '# TODO' || true)
	pass "$label" "$n_ok"
	if [ "$n_bad" -gt 0 ]; then
		fail "TAP $label: $n_bad assertion(s)" "$n_bad"
	elif [ "$rc" -ne 0 ]; then
		fail "TAP $label: the script died or missed its plan (prove exit $rc)"
	fi
	if [ "$rc" -ne 0 ]; then
		log=${tap_src:-$src}/test/tmp_check/log/regress_log_$name
		if [ -f "$log" ]; then
			echo "---- $log (last 60 lines) ----"
			tail -n 60 "$log"
		fi
	fi
}
for t in "${tap_files[@]}"; do
	run_tap "$t" "$t"
done

# --- 6b. memory errors and undefined behaviour ----------------------------------
# (scripts/sanitize.sh: the regression suite against a -fsanitize=undefined
# build in a relocated copy of PostgreSQL, then the libFuzzer
# targets; each ok/not ok line counts as a test; RS_SANITIZE=0 skips it)
if [ "${RS_SANITIZE:-1}" != 0 ] && [ "$only_regress" != none ]; then
	rs_log "sanitizers: scripts/sanitize.sh"
	run_logged "$work/sanitize.out" timeout 900 bash "$src/scripts/sanitize.sh" "$src" "$work/sanitize" $only_regress
	n_ok=$(grep -cE '^ok [0-9]+' "$work/sanitize.out" || true)
	n_bad=$(grep -cE '^not ok [0-9]+' "$work/sanitize.out" || true)
	pass sanitize "$n_ok"
	if [ "$n_bad" -gt 0 ]; then
		fail "sanitizers: $n_bad check(s)" "$n_bad"
	elif [ "$rc" -ne 0 ]; then
		fail "sanitizers: scripts/sanitize.sh exited with $rc"
	fi
fi

# --- 7. the other PostgreSQL majors ---------------------------------------------
# For each major of --majors (default 17 18): its server from
# /var/cache/recsys-pg (built from Debian's source package the first time,
# scripts/pg_major.sh; a major that cannot be had is a failure, never a
# skip), copied into the work directory; recsys built warning-free with
# assertions against it and installed into the copy; the pg_regress suite
# on a cluster of that major; the smoke TAP tests (dump/restore, standby,
# crash recovery of the index); and test/t_majors (pg_upgrade to that
# major from a PostgreSQL 15 built from source with recsys: Debian's own 15
# may be a newer release than the 17 and 18 here, see scripts/pg_major.sh).
# Skipped when only some tests were asked for (--regress/--tap) and
# --majors was not given, unless --tap names a test of test/t_majors.
# shellcheck disable=SC2317  # called through run_logged
major_installcheck() {
	local args=()
	[ -n "$only_regress" ] && args+=("REGRESS=$only_regress")
	(cd "$msrc" && rs_as_user make PG_CONFIG="$mconfig" installcheck \
		PGHOST="$work" PGPORT="$mport" PGUSER=postgres "${args[@]}")
}
RS_MAJOR_TAP="test/t/001_dump_restore.pl test/t/013_standby_serving.pl test/t/032_hnsw_crash.pl"
if [ "$majors_tap" = 1 ] && [ "$majors" = none ]; then
	fail "TAP: the tests of test/t_majors run on another major, and --majors none was given"
fi
if [ "$majors" != none ] && { [ "$majors_given" = 1 ] || [ -z "$only_regress$only_tap" ] || [ "$majors_tap" = 1 ]; }; then
	[ -n "$datadir" ] && rs_cluster_stop "$datadir"
	datadir=""
	# pg_upgrade's old side: PostgreSQL 15 built from source (see
	# RS_PG_FALLBACK in scripts/pg_major.sh), recsys built and installed in a copy
	upgrade_from_bin=""
	if fbin=$(rs_pg_major_bin "$RS_PG_MAJOR" source) && [ -n "$fbin" ]; then
		froot=$work/pg$RS_PG_MAJOR-src
		mkdir -p "$froot"
		cp -a "$(dirname "$fbin")/." "$froot/"
		rs_is_root && chown -R "$RS_USER:" "$froot"
		rs_copy_tree "$RS_ROOT" "$work/src-pg$RS_PG_MAJOR-src"
		rs_log "PostgreSQL $("$froot/bin/pg_config" --version) from source (pg_upgrade's old side): build, install"
		if (cd "$work/src-pg$RS_PG_MAJOR-src" \
			&& rs_as_user make -j"$(nproc)" PG_CONFIG="$froot/bin/pg_config" WERROR=1 </dev/null \
			&& rs_as_user make PG_CONFIG="$froot/bin/pg_config" install </dev/null) \
			>"$work/build-pg$RS_PG_MAJOR-src.log" 2>&1; then
			pass "build against PostgreSQL $RS_PG_MAJOR from source"
			upgrade_from_bin=$froot/bin
		else
			tail -n 40 "$work/build-pg$RS_PG_MAJOR-src.log"
			fail "build against PostgreSQL $RS_PG_MAJOR from source (pg_upgrade's old side)"
		fi
	else
		fail "PostgreSQL $RS_PG_MAJOR from source (pg_upgrade's old side): not available (see the warning above)"
	fi
	for m in $majors; do
		mbin=""
		if ! mbin=$(rs_pg_major_bin "$m") || [ -z "$mbin" ]; then
			fail "PostgreSQL $m: no server to test against (see the warning above; README, \"Supported PostgreSQL versions\")"
			continue
		fi
		mroot=$work/pg$m
		msrc=$work/src-pg$m
		mkdir -p "$mroot"
		cp -a "$(dirname "$mbin")/." "$mroot/"
		rs_is_root && chown -R "$RS_USER:" "$mroot"
		rs_copy_tree "$RS_ROOT" "$msrc"
		mconfig=$mroot/bin/pg_config
		# only this tree's recsys in the copy (`scripts/demo.sh 17` installs
		# one into the cached server)
		rm -f "$("$mconfig" --sharedir)"/extension/recsys[.-]* "$("$mconfig" --pkglibdir)/recsys.so"
		rs_log "PostgreSQL $m ($("$mconfig" --version)): make WERROR=1 ASSERTS=1, make install into $mroot"
		rc=0
		(cd "$msrc" && rs_as_user make -j"$(nproc)" PG_CONFIG="$mconfig" WERROR=1 ASSERTS=1 </dev/null \
			&& rs_as_user make PG_CONFIG="$mconfig" WERROR=1 ASSERTS=1 install </dev/null) \
			>"$work/build-pg$m.log" 2>&1 || rc=$?
		if [ "$rc" -ne 0 ]; then
			tail -n 40 "$work/build-pg$m.log"
			fail "build against PostgreSQL $m (make WERROR=1 ASSERTS=1 && make install)"
			continue
		fi
		pass "build against PostgreSQL $m"

		if [ "$only_regress" != none ]; then
			mport=$(rs_free_port 55441 55460)
			major_datadir=$work/data-pg$m
			RS_CLUSTER_BIN=$mroot/bin
			rs_log "PostgreSQL $m: pg_regress on a cluster on port $mport"
			rs_cluster_init "$major_datadir" "$work" "$mport"
			rs_cluster_start "$major_datadir" "$work/server-pg$m.log"
			run_logged "$work/regress-pg$m.out" major_installcheck
			count_regress "$work/regress-pg$m.out" "pg_regress on PostgreSQL $m"
			if [ -s "$msrc/regression.diffs" ]; then
				echo "---- PostgreSQL $m: regression.diffs (first 300 lines) ----"
				head -n 300 "$msrc/regression.diffs"
				echo "---- end of regression.diffs ----"
			fi
			rs_cluster_stop "$major_datadir"
			major_datadir=""
			RS_CLUSTER_BIN=""
		fi

		tap_src=$msrc
		tap_bin=$mroot/bin
		tap_pgxs=$(cd "$(dirname "$("$mconfig" --pgxs)")/../.." && pwd)
		for t in $RS_MAJOR_TAP "$msrc"/test/t_majors/*.pl; do
			t=${t#"$msrc"/}
			[ "$only_tap" = none ] && break
			# --tap NAMES: only those of this stage's tests
			if [ -n "$only_tap" ]; then
				case " $only_tap " in
				*" $(basename "$t" .pl) "* | *" $(basename "$t") "* | *" $t "*) ;;
				*) continue ;;
				esac
			fi
			run_tap "$t" "PostgreSQL $m: $t"
		done
		tap_src="" tap_bin="" tap_pgxs=""
	done
fi

# --- 8. done ---------------------------------------------------------------------
finish
