#!/usr/bin/env bash
# Throwaway PostgreSQL server for tests.
#
#   scripts/pg-test-server.sh start DIR   # init (if needed) + start; last stdout line is the URL
#   scripts/pg-test-server.sh stop DIR    # stop (idempotent)
#   scripts/pg-test-server.sh url DIR     # print the URL of a running server
#   scripts/pg-test-server.sh standby PRIMARY_DIR DIR
#                                         # a streaming standby of the running server in
#                                         # PRIMARY_DIR (pg_basebackup -R), started; last
#                                         # stdout line is its URL (stop it with stop DIR)
#
# The server listens only on 127.0.0.1 on a free port, uses trust auth and has a
# database `mlox_test`; the URL printed is postgresql://postgres@127.0.0.1:PORT/mlox_test.
# Uses Debian's binaries (/usr/lib/postgresql/<ver>/bin). PostgreSQL refuses to run as
# root, so when run as root the server runs as the `postgres` system user (created if
# missing) and DIR is chowned to it. Diagnostics go to stderr; the log is DIR/server.log.
# The server runs with fsync, synchronous_commit and full_page_writes off (fast tests);
# PG_TEST_DURABLE=1 keeps PostgreSQL's durable defaults (benchmarks).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|url DIR | standby PRIMARY_DIR DIR" >&2
    exit 2
}

cmd=${1:-}
if [[ $cmd == standby ]]; then
    [[ $# -eq 3 ]] || usage
    primary_dir=$2
    dir=$3
else
    [[ $# -eq 2 ]] || usage
    dir=$2
fi
db=mlox_test

log() { echo "pg-test-server: $*" >&2; }

find_bindir() {
    local d best=""
    # Highest installed major version wins.
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n); do
        [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]] && best=$d
    done
    if [[ -z $best ]]; then
        log "no PostgreSQL server found under /usr/lib/postgresql/*/bin (run scripts/install-test-deps.sh)"
        exit 1
    fi
    echo "$best"
}

# Run a command as the server's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        # runuser keeps the environment small and needs no PAM password.
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    [[ $(id -u) -eq 0 ]] || return 0
    if ! id -u postgres >/dev/null 2>&1; then
        log "creating system user postgres"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
}

free_port() {
    local py
    for py in python3 python; do
        if command -v "$py" >/dev/null 2>&1; then
            "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
            return
        fi
    done
    # Fallback: probe ports with bash's /dev/tcp.
    local p
    for p in $(seq 25432 25999); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    log "no free port found"
    exit 1
}

url_for() {
    echo "postgresql://postgres@127.0.0.1:$1/$db"
}

is_running() {
    [[ -f $dir/data/postmaster.pid ]] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

bindir=$(find_bindir)

case $cmd in
start)
    ensure_user
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
        # The postgres user must be able to reach DIR through its parents.
        if ! runuser -u postgres -- test -w "$dir"; then
            p=$(dirname "$dir")
            while [[ $p != / ]]; do
                chmod o+x "$p" 2>/dev/null || true
                p=$(dirname "$p")
            done
        fi
    fi
    if is_running; then
        port=$(cat "$dir/port")
        log "already running on port $port"
        url_for "$port"
        exit 0
    fi
    if [[ ! -f $dir/data/PG_VERSION ]]; then
        rm -rf "$dir/data"
        as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
            # Older locales may lack C.UTF-8.
            rm -rf "$dir/data"
            as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
                --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
                cat "$dir/initdb.log" >&2
                exit 1
            }
        }
    fi
    settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [[ -n ${PG_TEST_DURABLE:-} ]] && settings=""
    started=""
    for _attempt in 1 2 3 4 5; do
        port=$(free_port)
        # Socket dir inside DIR: /var/run/postgresql may not exist or be writable.
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir $settings -c max_connections=200" \
            start >&2; then
            started=1
            break
        fi
        log "start on port $port failed; retrying"
        tail -n 5 "$dir/server.log" >&2 || true
    done
    if [[ -z $started ]]; then
        log "could not start PostgreSQL; see $dir/server.log"
        exit 1
    fi
    echo "$port" >"$dir/port"
    if ! as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
        as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
    fi
    url_for "$port"
    ;;
standby)
    ensure_user
    primary_port=$(cat "$primary_dir/port")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    if is_running; then
        url_for "$(cat "$dir/port")"
        exit 0
    fi
    rm -rf "$dir/data"
    # -R writes standby.signal and primary_conninfo: the copy starts as a streaming standby.
    as_owner "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
        -D "$dir/data" -R -X stream >"$dir/basebackup.log" 2>&1 || {
        cat "$dir/basebackup.log" >&2
        exit 1
    }
    port=$(free_port)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c hot_standby=on -c max_connections=200" \
        start >&2 || {
        tail -n 20 "$dir/server.log" >&2
        exit 1
    }
    echo "$port" >"$dir/port"
    url_for "$port"
    ;;
stop)
    if [[ -d $dir/data ]] && is_running; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2
    else
        log "not running"
    fi
    ;;
url)
    if is_running; then
        url_for "$(cat "$dir/port")"
    else
        log "not running"
        exit 1
    fi
    ;;
*)
    usage
    ;;
esac
