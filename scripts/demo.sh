#!/usr/bin/env bash
# scripts/demo.sh — recsys in action on a throwaway local PostgreSQL.
#
#   bash scripts/demo.sh          install the dependencies, build and install
#                                 recsys, start a cluster in /tmp/recsys-demo
#                                 (port 55433), generate sample data and run
#                                 scripts/demo.sql; the cluster keeps running
#   bash scripts/demo.sh 17       the same on PostgreSQL 17 (or 18; default
#                                 15, Debian 12's): built once from Debian's
#                                 source package into /var/cache/recsys-pg
#   bash scripts/demo.sh stop     stop that cluster and remove /tmp/recsys-demo
#
# A cluster left running by an earlier run is stopped and recreated.
# As root the cluster belongs to the `postgres` user; otherwise to you.

set -euo pipefail

RS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RS_ROOT=$(cd "$RS_SCRIPTS/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$RS_SCRIPTS/lib.sh"

DEMO_DIR=/tmp/recsys-demo
DEMO_PORT=55433
DEMO_DATA=$DEMO_DIR/data
DEMO_LOG=$DEMO_DIR/server.log

demo_stop() {
	local v
	if [ -d "$DEMO_DATA" ]; then
		rs_log "stopping the demo cluster in $DEMO_DIR"
		# (a cluster of another major is stopped by its own pg_ctl)
		v=$(cat "$DEMO_DATA/PG_VERSION" 2>/dev/null || echo "$RS_PG_MAJOR")
		if [ "$v" != "$RS_PG_MAJOR" ] && [ -x "$RS_PG_CACHE/$v/bin/pg_ctl" ]; then
			RS_CLUSTER_BIN=$RS_PG_CACHE/$v/bin rs_cluster_stop "$DEMO_DATA"
		else
			rs_cluster_stop "$DEMO_DATA"
		fi
	fi
	rm -rf "$DEMO_DIR"
}

major=$RS_PG_MAJOR
case "${1:-}" in
	stop)
		demo_stop
		echo "demo cluster stopped, $DEMO_DIR removed"
		exit 0
		;;
	"") ;;
	[0-9][0-9]) major=$1 ;;
	-h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) rs_die "unknown argument: $1 (usage: bash scripts/demo.sh [15|17|18|stop])" ;;
esac

rs_install_deps
if [ "$major" != "$RS_PG_MAJOR" ]; then
	# another major: its server from the cache (built the first time), and
	# everything below runs against it
	mbin=$(rs_pg_major_bin "$major") \
		|| rs_die "PostgreSQL $major is not available (README, \"Supported PostgreSQL versions\")"
	RS_PG_BIN=$mbin
	RS_PG_CONFIG=$mbin/pg_config
fi

# Start from nothing: an earlier demo cluster is stopped and removed.
demo_stop
mkdir -p "$DEMO_DIR"
chmod 755 "$DEMO_DIR"
rs_is_root && chown "$RS_USER:" "$DEMO_DIR"

rs_log "building recsys"
rs_copy_tree "$RS_ROOT" "$DEMO_DIR/build"
rs_make "$DEMO_DIR/build" >"$DEMO_DIR/build.log" 2>&1 \
	|| { cat "$DEMO_DIR/build.log" >&2; rs_die "build failed"; }
rs_log "installing recsys"
rs_make_install "$DEMO_DIR/build" >>"$DEMO_DIR/build.log" 2>&1 \
	|| { tail -n 30 "$DEMO_DIR/build.log" >&2; rs_die "make install failed"; }

rs_port_free "$DEMO_PORT" || rs_die "port $DEMO_PORT is in use"
rs_log "starting PostgreSQL $major in $DEMO_DIR (port $DEMO_PORT)"
rs_cluster_init "$DEMO_DATA" "$DEMO_DIR" "$DEMO_PORT"
rs_cluster_start "$DEMO_DATA" "$DEMO_LOG"

rs_log "running scripts/demo.sql"
cp "$RS_SCRIPTS/demo.sql" "$DEMO_DIR/demo.sql"
rs_is_root && chown "$RS_USER:" "$DEMO_DIR/demo.sql"
(cd "$DEMO_DIR" && rs_as_user "$RS_PG_BIN/psql" -X -h "$DEMO_DIR" -p "$DEMO_PORT" -U postgres \
	-d postgres -v ON_ERROR_STOP=1 --pset=pager=off -f "$DEMO_DIR/demo.sql" </dev/null) \
	|| rs_die "scripts/demo.sql failed (the cluster is still running; server log: $DEMO_LOG)"

if rs_is_root; then
	connect="runuser -u $RS_USER -- psql -h $DEMO_DIR -p $DEMO_PORT -U postgres"
else
	connect="psql -h $DEMO_DIR -p $DEMO_PORT -U postgres"
fi
cat <<EOF

The demo cluster is running (data in $DEMO_DIR, log $DEMO_LOG).
Connect with psql to play further:

    $connect

(the tables are demo_users, demo_items, demo_interactions; the SQL of this
demo is scripts/demo.sql).  Stop the cluster and remove $DEMO_DIR with:

    bash scripts/demo.sh stop
EOF
