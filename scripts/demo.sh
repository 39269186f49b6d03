#!/usr/bin/env bash
# scripts/demo.sh — recsys in action on a throwaway local PostgreSQL.
#
#   bash scripts/demo.sh          install the dependencies, build and install
#                                 recsys, start a cluster in /tmp/recsys-demo
#                                 (port 55433), generate sample data and run
#                                 scripts/demo.sql; the cluster keeps running
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
	if [ -d "$DEMO_DATA" ]; then
		rs_log "stopping the demo cluster in $DEMO_DIR"
		rs_cluster_stop "$DEMO_DATA"
	fi
	rm -rf "$DEMO_DIR"
}

case "${1:-}" in
	stop)
		demo_stop
		echo "demo cluster stopped, $DEMO_DIR removed"
		exit 0
		;;
	"") ;;
	-h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) rs_die "unknown argument: $1 (usage: bash scripts/demo.sh [stop])" ;;
esac

rs_install_deps

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
rs_log "starting PostgreSQL $RS_PG_MAJOR in $DEMO_DIR (port $DEMO_PORT)"
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
