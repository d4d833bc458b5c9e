#!/usr/bin/env bash
# Throwaway MariaDB (MySQL) server for tests.
#
#   scripts/mysql-test-server.sh start DIR   # init (if needed) + start; last stdout line is the URL
#   scripts/mysql-test-server.sh stop DIR    # stop (idempotent)
#   scripts/mysql-test-server.sh url DIR     # print the URL of a running server
#
# The server has its own data folder (DIR/data, made by mariadb-install-db), listens only
# on 127.0.0.1 on a free port and on the socket DIR/mysqld.sock, and has a database
# `mlox_test` and a user mlox/mlox (who may create databases); the URL printed is
# mysql://mlox:mlox@127.0.0.1:PORT/mlox_test. Uses Debian's mariadb-server (run
# scripts/install-test-deps.sh). As root the server runs as root (--user=root).
# Durability is off (fast tests). Diagnostics go to stderr; the log is DIR/server.log.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2
db=mlox_test

log() { echo "mysql-test-server: $*" >&2; }

find_bin() {
    local b
    for b in "$@"; do
        if command -v "$b" >/dev/null 2>&1; then
            command -v "$b"
            return
        fi
        for p in /usr/sbin /usr/bin /usr/local/bin /usr/local/sbin; do
            [[ -x $p/$b ]] && { echo "$p/$b"; return; }
        done
    done
    log "none of $* found (run scripts/install-test-deps.sh)"
    exit 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

url_for() {
    echo "mysql://mlox:mlox@127.0.0.1:$1/$db"
}

is_running() {
    [[ -f $dir/mysqld.pid ]] && kill -0 "$(cat "$dir/mysqld.pid")" 2>/dev/null
}

client() {
    "$(find_bin mariadb mysql)" --no-defaults -S "$dir/mysqld.sock" -uroot "$@"
}

case $cmd in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if is_running; then
        port=$(cat "$dir/port")
        log "already running on port $port"
        url_for "$port"
        exit 0
    fi
    server=$(find_bin mariadbd mysqld)
    user_opt=()
    [[ $(id -u) -eq 0 ]] && user_opt=(--user=root)
    if [[ ! -d $dir/data/mysql ]]; then
        rm -rf "$dir/data"
        "$(find_bin mariadb-install-db mysql_install_db)" --no-defaults "${user_opt[@]}" \
            --datadir="$dir/data" --auth-root-authentication-method=socket \
            --skip-test-db >"$dir/install.log" 2>&1 || {
            cat "$dir/install.log" >&2
            exit 1
        }
    fi
    started=""
    for _attempt in 1 2 3 4 5; do
        port=$(free_port)
        rm -f "$dir/mysqld.pid"
        "$server" --no-defaults "${user_opt[@]}" --datadir="$dir/data" \
            --bind-address=127.0.0.1 --port="$port" --socket="$dir/mysqld.sock" \
            --pid-file="$dir/mysqld.pid" --log-error="$dir/server.log" \
            --skip-name-resolve --skip-log-bin --character-set-server=utf8mb4 \
            --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
            --innodb-buffer-pool-size=128M --max-connections=200 \
            >/dev/null 2>&1 &
        for _ in $(seq 1 120); do
            if [[ -S $dir/mysqld.sock ]] && client -e 'SELECT 1' >/dev/null 2>&1; then
                started=1
                break
            fi
            kill -0 $! 2>/dev/null || break
            sleep 0.5
        done
        [[ -n $started ]] && break
        log "start on port $port failed; retrying"
        tail -n 5 "$dir/server.log" >&2 || true
    done
    if [[ -z $started ]]; then
        log "could not start MariaDB; see $dir/server.log"
        exit 1
    fi
    echo "$port" >"$dir/port"
    client -e "CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4; CREATE USER IF NOT EXISTS 'mlox'@'127.0.0.1' IDENTIFIED BY 'mlox'; CREATE USER IF NOT EXISTS 'mlox'@'localhost' IDENTIFIED BY 'mlox'; GRANT ALL ON *.* TO 'mlox'@'127.0.0.1'; GRANT ALL ON *.* TO 'mlox'@'localhost';"
    url_for "$port"
    ;;
stop)
    if is_running; then
        pid=$(cat "$dir/mysqld.pid")
        kill "$pid"
        for _ in $(seq 1 120); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
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
