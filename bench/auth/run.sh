#!/usr/bin/env bash
# Benchmark: the cost of authentication. create-run and log-metric at c=8 against
# `mlox server` and the real `mlflow server`, each without and with `--app-name
# basic-auth` (SQLite stores; the authenticated load runs as a normal, non-admin user, so
# every request is authenticated and authorized). Prints a Markdown table; raw JSON goes to
# bench/out/auth/.
#
#   bench/auth/run.sh
#
# Environment (all optional):
#   BENCH_SECONDS=10          duration of each scenario
#   BENCH_SKIP_MLFLOW=1       mlox only
#   BENCH_SKIP_BUILD=1        use target/release/{mlox,mlox-loadgen} as they are
#   BENCH_MLFLOW_VENV=DIR     the venv with mlflow[auth]==3.17.2 (default: .venv)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
SECS=${BENCH_SECONDS:-10}
VENV=${BENCH_MLFLOW_VENV:-$ROOT/.venv}
OUT=$ROOT/bench/out/auth
WORK=$(mktemp -d /tmp/mlox-bench-auth.XXXXXX)
ADMIN_PW=bench-admin-password-1
USER_PW=bench-user-password-1
# shellcheck source=bench/lib.sh
source bench/lib.sh

cleanup() {
    [[ -n $SPID ]] && stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -n ${BENCH_SKIP_BUILD:-} ]] || cargo build --release -p mlox-cli -p mlox-loadgen >&2
MLOX=$ROOT/target/release/mlox
LG=$ROOT/target/release/mlox-loadgen
rm -rf "$OUT"
mkdir -p "$OUT"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" | tee "$OUT/notes.txt" >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run NAME AUTH(0|1) -- CMD...: starts the server, runs the scenarios, stops it.
run() {
    local name=$1 auth=$2
    shift 3
    local dir=$WORK/$name port url
    mkdir -p "$dir" "$OUT/$name"
    port=$(free_port)
    url=http://127.0.0.1:$port
    printf '[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///%s/basic_auth.db\nadmin_username = admin\n' "$dir" >"$dir/basic_auth.ini"
    start_server "$dir" env MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" MLFLOW_AUTH_ADMIN_PASSWORD="$ADMIN_PW" \
        MLFLOW_FLASK_SERVER_SECRET_KEY=bench-secret "$@" --host 127.0.0.1 --port "$port" \
        >"$OUT/$name/server.log" 2>&1
    wait_healthy "$url" >"$OUT/$name/startup.json"
    local env=()
    if [[ $auth == 1 ]]; then
        curl -sf -u "admin:$ADMIN_PW" -H 'Content-Type: application/json' \
            -d "{\"username\":\"bench\",\"password\":\"$USER_PW\"}" "$url/api/2.0/mlflow/users/create" >/dev/null
        # The scenarios write into the Default experiment (0): an EDIT grant, as a team would.
        curl -sf -u "admin:$ADMIN_PW" -H 'Content-Type: application/json' \
            -d '{"username":"bench","resource_type":"experiment","resource_id":"0","permission":"EDIT"}' \
            "$url/api/3.0/mlflow/users/permissions/grant" >/dev/null
        env=(MLFLOW_TRACKING_USERNAME=bench "MLFLOW_TRACKING_PASSWORD=$USER_PW")
    fi
    for s in create-run log-metric; do
        echo "==> $name $s -c 8" >&2
        env "${env[@]}" "$LG" --url "$url" --label "$name" "$s" -c 8 --seconds "$SECS" >"$OUT/$name/$s-c8.json"
        cat "$OUT/$name/$s-c8.json" >&2
    done
    stop_server
}

run mlox 0 -- "$MLOX" server --backend-store-uri "sqlite:///$WORK/mlox/mlox.db" --artifacts-destination "$WORK/mlox/art"
run mlox-auth 1 -- "$MLOX" server --backend-store-uri "sqlite:///$WORK/mlox-auth/mlox.db" --artifacts-destination "$WORK/mlox-auth/art" --app-name basic-auth
if [[ -z ${BENCH_SKIP_MLFLOW:-} ]]; then
    run mlflow 0 -- "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$WORK/mlflow/mlflow.db" --artifacts-destination "$WORK/mlflow/art"
    run mlflow-auth 1 -- "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$WORK/mlflow-auth/mlflow.db" --artifacts-destination "$WORK/mlflow-auth/art" --app-name basic-auth
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/notes.txt" >&2

python3 - "$OUT" "$SECS" <<'PY'
import json, os, sys
out, secs = sys.argv[1], sys.argv[2]
def ops(name, s):
    p = os.path.join(out, name, f"{s}-c8.json")
    if not os.path.exists(p):
        return None
    j = json.load(open(p))
    return j.get("ops_per_s"), j.get("errors", 0)
print(f"| server | scenario (c=8, {secs} s) | unauthenticated ops/s | basic-auth ops/s | authenticated / unauthenticated |")
print("|---|---|---|---|---|")
for server in ("mlox", "mlflow"):
    for s in ("create-run", "log-metric"):
        a, b = ops(server, s), ops(server + "-auth", s)
        if not a or not b:
            continue
        ratio = f"{b[0] / a[0]:.2f}" if a[0] and b[0] else "n/a"
        errs = "" if not (a[1] or b[1]) else f" (errors: {a[1]}/{b[1]})"
        print(f"| {server} | {s} | {a[0]:.0f} | {b[0]:.0f} | {ratio}{errs} |")
PY
