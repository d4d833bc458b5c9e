#!/usr/bin/env bash
# Installs what the Python compatibility suite (tests/compat) and the PostgreSQL
# tests need. Idempotent; meant to run as root on a fresh Debian 12 machine.
#
#   scripts/install-test-deps.sh            # venv + PostgreSQL and MariaDB server binaries
#   scripts/install-test-deps.sh --no-pg    # venv only
#
# Creates .venv/ in the repo root and pip-installs tests/compat/requirements.txt
# into it; re-installs only when that file changes (stamp: .venv/.requirements.sha256).
# Installs Debian's `postgresql` package when no /usr/lib/postgresql/*/bin/postgres exists,
# Debian's `mariadb-server` when no mariadbd exists, and `strace` (the durability test counts syncs with it).
# Afterwards: .venv/bin/python -m pytest tests/compat
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
req=$root/tests/compat/requirements.txt
stamp=$venv/.requirements.sha256
want_pg=1
[[ ${1:-} == --no-pg ]] && want_pg=""

log() { echo "install-test-deps: $*" >&2; }

apt_updated=""
apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        log "need root to apt-get install $*"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z $apt_updated ]]; then
        apt-get update -q >&2
        apt_updated=1
    fi
    apt-get install -y -q --no-install-recommends "$@" >&2
}

# --- PostgreSQL server binaries -------------------------------------------
if [[ -n $want_pg ]]; then
    if compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
        log "PostgreSQL present: $(ls -d /usr/lib/postgresql/*/bin/postgres | tr '\n' ' ')"
    else
        log "installing PostgreSQL"
        apt_install postgresql
        # Debian's package may start a cluster on 5432; the tests use their own
        # throwaway servers (scripts/pg-test-server.sh), so that one is not needed.
    fi
fi

# --- MariaDB server ----------------------------------------------------------
# tests/migrate imports an MLflow database on MySQL: a throwaway MariaDB server
# (scripts/mysql-test-server.sh) runs the real `mlflow server` on it.
if [[ -n $want_pg ]]; then
    if command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
        log "MariaDB present"
    else
        log "installing MariaDB"
        apt_install mariadb-server mariadb-client
    fi
fi

# --- strace -------------------------------------------------------------------
# crates/mlox-cli/tests/durability.rs counts the server's fsync/fdatasync calls with it.
if ! command -v strace >/dev/null 2>&1; then
    log "installing strace"
    apt_install strace
fi

# --- Python venv -------------------------------------------------------------
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
    log "installing python3"
    apt_install python3 python3-venv
fi
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    # Debian splits ensurepip off into python3-venv.
    if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        log "installing python3-venv"
        apt_install python3-venv
    fi
    rm -rf "$venv"
    log "creating $venv"
    "$python" -m venv "$venv"
fi

hash=$( (cat "$req"; "$venv/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$hash" ]]; then
    log "venv up to date ($venv)"
else
    log "pip-installing $req into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    echo "$hash" >"$stamp"
fi
"$venv/bin/python" -c 'from importlib.metadata import version as v; print("install-test-deps: mlflow", v("mlflow"), "pytest", v("pytest"))' >&2
