#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the tests.
#   .ci/postgres.sh start DIR PORT   -> prints the connection URL
#   .ci/postgres.sh stop DIR
# As root, the server binaries refuse to run, so they run as the `postgres` user.
set -euo pipefail
cmd=$1 dir=$2 port=${3:-55432}
pgctl=$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -n1)
bindir=$(dirname "$(readlink -f "$pgctl")")
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else "$@"; fi
}
case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
      chown -R postgres "$dir"
    fi
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE civic_ledger_test" >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/civic_ledger_test"
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
esac
