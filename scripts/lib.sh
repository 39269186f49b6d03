# shellcheck shell=bash
# scripts/lib.sh — shared pieces of scripts/test.sh and scripts/demo.sh.
#
# Sourced, never run.  Provides:
#   rs_install_deps          Debian packages recsys needs to build and test
#   rs_copy_tree SRC DST     copy the source tree (no .git, no build output)
#   rs_make DIR ARGS...      run make in DIR as the unprivileged user
#   rs_make_install DIR ARGS...  make install (as root, under the build lock)
#   rs_cluster_init/start/stop   a throwaway cluster on a unix socket only
#   rs_as_user CMD...        run CMD as the unprivileged user
#
# Run as root, the server, the builds and the tests run as the `postgres`
# user (PostgreSQL refuses to run as root); apt-get installs what is missing.
# Run as any other user, everything runs as that user and apt-get is not
# used: the packages must already be there, and `make install` needs write
# access to PostgreSQL's directories (or password-less sudo).

RS_PG_MAJOR=15
# RS_PG_BIN may name another (relocated) copy of the PostgreSQL 15 tree, e.g.
# to build and test two checkouts side by side without sharing one install.
RS_PG_BIN=${RS_PG_BIN:-/usr/lib/postgresql/$RS_PG_MAJOR/bin}
RS_PG_CONFIG=$RS_PG_BIN/pg_config
# shellcheck disable=SC2034  # used by scripts/test.sh
RS_PGXS_DIR=${RS_PG_BIN%/bin}/lib/pgxs
RS_BUILD_LOCK=/tmp/recsys-build.lock
# RS_CLUSTER_BIN, when set, names the bin directory the rs_cluster_*
# functions run (another major's); RS_PG_BIN otherwise.
RS_CLUSTER_BIN=${RS_CLUSTER_BIN:-}

# Everything needed to build, install and run both test suites.
RS_PACKAGES=(
	"postgresql-$RS_PG_MAJOR"
	"postgresql-server-dev-$RS_PG_MAJOR"
	"postgresql-$RS_PG_MAJOR-cron"
	libopenblas-dev
	libipc-run-perl
	perl
	make
	gcc
	pkg-config
	python3-numpy
	python3-scipy
	python3-mpmath
	python3-psycopg
	python3-psycopg2
	clang
	libclang-rt-14-dev
	libasan8
	libubsan1
	valgrind
)

# shellcheck source=scripts/pg_major.sh
. "$(dirname "${BASH_SOURCE[0]}")/pg_major.sh"

rs_log()  { printf '==> %s\n' "$*" >&2; }
rs_warn() { printf 'WARNING: %s\n' "$*" >&2; }
rs_die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

rs_is_root() { [ "$(id -u)" -eq 0 ]; }

# The unprivileged user that builds, owns the clusters and runs the tests.
if rs_is_root; then
	RS_USER=postgres
else
	RS_USER=$(id -un)
fi

# rs_as_user CMD... — run CMD as $RS_USER (from a directory it can enter).
rs_as_user() {
	if rs_is_root; then
		runuser -u "$RS_USER" -- "$@"
	else
		"$@"
	fi
}

# rs_missing_packages — print the packages of RS_PACKAGES not installed.
rs_missing_packages() {
	local p status
	for p in "${RS_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || printf '%s\n' "$p"
	done
}

# rs_install_deps — install the Debian packages that are missing; no apt-get
# at all when everything is there already.  Debian's own cluster
# (postgresql@15-main, port 5432) may be created by the package; recsys
# leaves it alone and never uses it.
rs_install_deps() {
	local missing
	command -v dpkg-query >/dev/null 2>&1 \
		|| rs_die "dpkg-query not found: these scripts need Debian 12 (bookworm)"
	missing=$(rs_missing_packages | tr '\n' ' ')
	if [ -z "${missing// /}" ]; then
		rs_log "dependencies already installed"
	elif rs_is_root; then
		rs_log "installing dependencies: $missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update </dev/null
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $missing </dev/null
	else
		rs_die "missing Debian packages: $missing (run as root, or: sudo apt-get install $missing)"
	fi
	[ -x "$RS_PG_CONFIG" ] || rs_die "$RS_PG_CONFIG not found after installing dependencies"
	id "$RS_USER" >/dev/null 2>&1 || rs_die "user $RS_USER does not exist"
}

# rs_mktemp NAME — a fresh directory under /tmp owned by $RS_USER.
rs_mktemp() {
	local dir
	dir=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$dir"
	rs_is_root && chown "$RS_USER:" "$dir"
	printf '%s\n' "$dir"
}

# rs_copy_tree SRC DST — copy the source tree (tracked and untracked files,
# minus what .gitignore ignores; no .git) to DST, owned by $RS_USER.  Without
# git (or outside a git checkout) everything but .git and build output is
# copied.
rs_copy_tree() {
	local src=$1 dst=$2
	mkdir -p "$dst"
	if command -v git >/dev/null 2>&1 \
		&& git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Files deleted from the work tree but still tracked are skipped.
		git -C "$src" ls-files -z -co --exclude-standard \
			| (cd "$src" && while IFS= read -r -d '' f; do
				[ -e "$f" ] && printf '%s\0' "$f"
			done) \
			| tar -C "$src" --null -T - -cf - \
			| tar -C "$dst" -xf -
	else
		tar -C "$src" -cf - \
			--exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
			--exclude=results --exclude=tmp_check --exclude='regression.*' . \
			| tar -C "$dst" -xf -
	fi
	rs_is_root && chown -R "$RS_USER:" "$dst"
	return 0
}

# rs_make DIR ARGS... — make in DIR as $RS_USER, against PostgreSQL 15.
rs_make() {
	local dir=$1
	shift
	(cd "$dir" && rs_as_user make -j"$(nproc)" PG_CONFIG="$RS_PG_CONFIG" "$@" </dev/null)
}

# rs_make_install DIR ARGS... — install into PostgreSQL's directories, under
# the build lock so that concurrent installs of the same tree never mix.
rs_make_install() {
	local dir=$1 runner=()
	shift
	if ! rs_is_root && [ ! -w "$("$RS_PG_CONFIG" --pkglibdir)" ]; then
		sudo -n true 2>/dev/null \
			|| rs_die "make install needs root (or password-less sudo) to write into $("$RS_PG_CONFIG" --pkglibdir)"
		runner=(sudo -n)
	fi
	if command -v flock >/dev/null 2>&1 && [ -d "$(dirname "$RS_BUILD_LOCK")" ]; then
		runner=(flock "$RS_BUILD_LOCK" "${runner[@]}")
	fi
	(cd "$dir" && "${runner[@]}" make PG_CONFIG="$RS_PG_CONFIG" "$@" install </dev/null)
}

# rs_installed_checksum — checksum of the installed shared library (to notice
# another install replacing it while the suites run on a shared machine).
rs_installed_checksum() {
	md5sum "$("$RS_PG_CONFIG" --pkglibdir)/recsys.so" 2>/dev/null | cut -d' ' -f1
}

# rs_port_free PORT — true when nothing accepts TCP connections on PORT and
# no unix socket of that number sits in /tmp or /var/run/postgresql.
rs_port_free() {
	local port=$1
	[ -e "/tmp/.s.PGSQL.$port" ] && return 1
	[ -e "/var/run/postgresql/.s.PGSQL.$port" ] && return 1
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		return 1
	fi
	return 0
}

# rs_free_port LO HI — the first free port in [LO, HI].
rs_free_port() {
	local port
	for ((port = $1; port <= $2; port++)); do
		if rs_port_free "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	rs_die "no free port in $1-$2"
}

# rs_cluster_init DATADIR SOCKDIR PORT — initdb a throwaway cluster (superuser
# `postgres`, trust auth, no locale) listening on a unix socket in SOCKDIR only.
rs_cluster_init() {
	local datadir=$1 sockdir=$2 port=$3
	(cd / && rs_as_user "${RS_CLUSTER_BIN:-$RS_PG_BIN}/initdb" -D "$datadir" -U postgres -A trust \
		--no-locale -E UTF8 --no-sync >/dev/null </dev/null) \
		|| rs_die "initdb failed for $datadir"
	rs_as_user tee -a "$datadir/postgresql.conf" >/dev/null <<EOF

# throwaway cluster for recsys
port = $port
listen_addresses = ''
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 128MB
log_min_messages = warning
EOF
}

# rs_cluster_start DATADIR LOGFILE — start and wait until it accepts connections.
rs_cluster_start() {
	local datadir=$1 logfile=$2
	if ! (cd / && rs_as_user "${RS_CLUSTER_BIN:-$RS_PG_BIN}/pg_ctl" -D "$datadir" -l "$logfile" -w -t 120 \
		start >/dev/null </dev/null); then
		[ -f "$logfile" ] && tail -n 50 "$logfile" >&2
		rs_die "could not start the cluster in $datadir (log: $logfile)"
	fi
}

# rs_cluster_running DATADIR — true when a postmaster runs on DATADIR.
rs_cluster_running() {
	[ -f "$1/postmaster.pid" ] \
		&& (cd / && rs_as_user "${RS_CLUSTER_BIN:-$RS_PG_BIN}/pg_ctl" -D "$1" status >/dev/null 2>&1 </dev/null)
}

# rs_cluster_stop DATADIR — stop it if it runs (fast, then immediate).
rs_cluster_stop() {
	local datadir=$1
	[ -f "$datadir/postmaster.pid" ] || return 0
	(cd / && rs_as_user "${RS_CLUSTER_BIN:-$RS_PG_BIN}/pg_ctl" -D "$datadir" -m fast -w -t 60 stop \
		>/dev/null 2>&1 </dev/null) \
		|| (cd / && rs_as_user "${RS_CLUSTER_BIN:-$RS_PG_BIN}/pg_ctl" -D "$datadir" -m immediate -w stop \
			>/dev/null 2>&1 </dev/null) \
		|| rs_warn "could not stop the cluster in $datadir"
}

# rs_node_pg — node and node-postgres for test/t/070_drivers.pl, from
# Debian: RS_NODE_PATH is set to a directory of node modules holding `pg`.
# Debian's node-pg package when it is installed; else (as root) Debian's
# nodejs if there is no node at all, and node-pg with the modules it needs
# unpacked from their Debian packages (apt-get download, dpkg -x) into
# /var/cache/recsys-node, kept for later runs: a node not installed from
# Debian (e.g. NodeSource's) cannot take node-pg through apt, but runs its
# files.  Says what is missing when it cannot be had.
RS_NODE_DEBS=(node-pg node-split2 node-xtend node-readable-stream node-inherits
	node-string-decoder node-util-deprecate node-safe-buffer)
rs_node_pg() {
	local cache=/var/cache/recsys-node deb
	if ! command -v node >/dev/null 2>&1 && rs_is_root; then
		rs_log "installing nodejs (Debian)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs </dev/null >&2 \
			|| rs_warn "nodejs could not be installed"
	fi
	if [ -f /usr/share/nodejs/pg/package.json ]; then
		RS_NODE_PATH=/usr/share/nodejs
	elif [ -f "$cache/root/usr/share/nodejs/pg/package.json" ]; then
		RS_NODE_PATH=$cache/root/usr/share/nodejs
	elif rs_is_root; then
		rs_log "node-pg: unpacking it from Debian's packages into $cache"
		mkdir -p "$cache/debs" && chmod 755 "$cache"
		(cd "$cache/debs" && apt-get download "${RS_NODE_DEBS[@]}" </dev/null >&2) \
			|| rs_warn "node-pg: apt-get download failed"
		for deb in "$cache"/debs/*.deb; do
			[ -f "$deb" ] && dpkg -x "$deb" "$cache/root"
		done
		chmod -R a+rX "$cache"
		RS_NODE_PATH=$cache/root/usr/share/nodejs
	else
		RS_NODE_PATH=
	fi
	if ! command -v node >/dev/null 2>&1 || [ ! -f "$RS_NODE_PATH/pg/package.json" ]; then
		rs_warn "node or node-postgres is not available: test/t/070_drivers.pl will fail (as root this script fetches them from Debian)"
	fi
	export RS_NODE_PATH
}
