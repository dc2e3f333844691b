#!/usr/bin/env bash
# A PostgreSQL primary and hot standbys streaming from it, on 127.0.0.1, in
# one folder: a local recipe for Mainspring's read replicas (README,
# "Read replicas"), and what the replica tests start. Stock PostgreSQL (15+)
# server binaries; run as root, the clusters belong to the postgres user
# (initdb refuses root), else to whoever runs it.
#
#   cluster.sh up DIR [PORT]       primary on PORT (default 54320), standbys on PORT+1, PORT+2, …
#   cluster.sh env DIR             prints DATABASE_URL=… and DATABASE_REPLICA_URLS=… (for `eval`)
#   cluster.sh stop DIR NAME       stops one node (primary, standby1, standby2, …) at once (fast)
#   cluster.sh start DIR NAME      starts it again
#   cluster.sh down DIR            stops every node and removes DIR
#
# Settings by environment: STANDBYS (default 2); APPLY_DELAY, a standby's
# recovery_min_apply_delay (default 0: e.g. 300ms holds each commit back that
# long, as a loaded standby would); FSYNC (default on; off for throw-away test
# clusters); PG_BIN (default the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server binaries (apt-get install postgresql)"

if [ "$(id -u)" -eq 0 ]; then
  RUNAS=(runuser -u postgres --)
else
  RUNAS=()
fi
as_owner() { "${RUNAS[@]}" "$@"; }

port_of() { cat "$1/$2/port"; }

start_node() { # DIR NAME
  local dir="$1" name="$2" port
  port="$(port_of "$dir" "$name")"
  as_owner "$PG_BIN/pg_ctl" -D "$dir/$name/data" -l "$dir/$name/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
}

stop_node() { # DIR NAME
  as_owner "$PG_BIN/pg_ctl" -D "$1/$2/data" -m fast -w stop >/dev/null 2>&1 || true
}

nodes_of() { # DIR: the primary, then the standbys in order
  local dir="$1"
  [ -d "$dir/primary" ] && echo primary
  local n=1
  while [ -d "$dir/standby$n" ]; do
    echo "standby$n"
    n=$((n + 1))
  done
}

up() {
  local dir="$1" port="${2:-54320}" standbys="${STANDBYS:-2}"
  [ -e "$dir/primary" ] && die "$dir already holds a cluster (cluster.sh down $dir first)"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  as_owner mkdir -p "$dir/primary"
  echo "$port" | as_owner tee "$dir/primary/port" >/dev/null
  as_owner "$PG_BIN/initdb" -D "$dir/primary/data" -U postgres --auth=trust >/dev/null
  # initdb's pg_hba.conf lets replication connections in from 127.0.0.1 (trust): nothing to add for a local recipe
  cat <<EOF | as_owner tee -a "$dir/primary/data/postgresql.conf" >/dev/null
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
max_connections = 300
fsync = ${FSYNC:-on}
EOF
  start_node "$dir" primary
  local n
  for n in $(seq 1 "$standbys"); do
    local name="standby$n"
    as_owner mkdir -p "$dir/$name"
    echo $((port + n)) | as_owner tee "$dir/$name/port" >/dev/null
    # -R writes primary_conninfo and standby.signal; -C -S a slot that keeps the WAL a stopped standby still needs
    as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$dir/$name/data" \
      -R -X stream -c fast -C -S "ms_$name" >/dev/null
    cat <<EOF | as_owner tee -a "$dir/$name/data/postgresql.conf" >/dev/null
hot_standby = on
# queries on the standby hold back the primary's vacuum instead of being cancelled by it
hot_standby_feedback = on
recovery_min_apply_delay = '${APPLY_DELAY:-0}'
EOF
    start_node "$dir" "$name"
  done
  env_of "$dir"
}

env_of() {
  local dir="$1" urls=() name
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:$(port_of "$dir" primary)/postgres"
  for name in $(nodes_of "$dir"); do
    [ "$name" = primary ] || urls+=("postgres://postgres@127.0.0.1:$(port_of "$dir" "$name")/postgres")
  done
  local IFS=,
  echo "DATABASE_REPLICA_URLS=${urls[*]}"
}

down() {
  local dir="$1" name
  [ -d "$dir" ] || return 0
  # standbys first: a primary stopping waits for its walsenders to hand over what they hold
  for name in $(nodes_of "$dir" | tac); do stop_node "$dir" "$name"; done
  rm -rf "$dir"
}

cmd="${1:-}"
dir="${2:-}"
[ -n "$dir" ] || die "usage: cluster.sh up|env|stop|start|down DIR [PORT|NAME]"
case "$cmd" in
  up) up "$dir" "${3:-}" ;;
  env) env_of "$dir" ;;
  stop) stop_node "$dir" "${3:?name}" ;;
  start) start_node "$dir" "${3:?name}" ;;
  down) down "$dir" ;;
  *) die "unknown command $cmd (up, env, stop, start, down)" ;;
esac
