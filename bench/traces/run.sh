#!/usr/bin/env bash
# Benchmark: tracing, the real `mlflow server` vs `mlox server`, both on SQLite, in one run
# (issue #15, "Performance"). For each server, one after the other:
#   1. ingest: 8 clients each logging traces of 10 spans back to back, with the requests
#      MLflow 3.17's client sends (two OTLP/HTTP protobuf requests of 5 spans to /v1/traces,
#      then start-trace); also 1 client. Traces per second.
#   2. search: 100,000 traces in one experiment, the client's search_traces request with a
#      tag filter (tags.customer = 'customer-7', 10,000 matches), first page of 100;
#      median of 20, every page checked against the seeded data.
#   3. the UI: a trace of 5,000 spans opened in the trace view, in headless chromium
#      (bench/ui/bench.mjs, BENCH_ONLY=trace), until the span tree and timeline are drawn.
# Writes bench/TRACES_RESULTS.md; raw JSON and server logs go to bench/out/traces/.
#
#   bench/traces/run.sh
#
# Environment (all optional):
#   BENCH_SECONDS=10            duration of each ingest scenario
#   BENCH_TRACES=100000         traces seeded for the search
#   BENCH_MLFLOW_REST_TRACES=2000  of those, seeded into MLflow over REST (its rate is
#                               measured on these); the rest are inserted into its SQLite
#                               file by bench/traces/seed_mlflow_traces.py
#   BENCH_SEARCH_REPEAT=20      timed searches (median reported)
#   BENCH_BIG_SPANS=5000        spans of the trace opened in the UI
#   BENCH_UI_REPEAT=5           navigations to the trace view (median reported)
#   BENCH_WAIT_LOAD=1.5         before starting, wait (polling every minute, at most
#                               BENCH_WAIT_MAX=1200 seconds) for the 1-minute load average to
#                               drop below this; empty to start at once
#   BENCH_SKIP_MLFLOW=1         mlox only
#   BENCH_SKIP_UI=1             no browser
#   BENCH_SKIP_BUILD=1          use target/release/{mlox,mlox-loadgen} as they are
#   BENCH_MLOX=PATH             the mlox binary to measure (default target/release/mlox)
#   BENCH_MLFLOW_VENV=DIR       the venv with mlflow==3.17.2 (default: .venv)
#   BENCH_CHRT=0                do not run the servers and the load generator under
#                               `chrt -f 10` (by default both servers and the load generator
#                               do when run as root, so that other work on the machine, such
#                               as a build, does not decide the figures; the same for both)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
SECS=${BENCH_SECONDS:-10}
TRACES=${BENCH_TRACES:-100000}
REST_TRACES=${BENCH_MLFLOW_REST_TRACES:-2000}
((REST_TRACES > TRACES)) && REST_TRACES=$TRACES
REPEAT=${BENCH_SEARCH_REPEAT:-20}
BIG=${BENCH_BIG_SPANS:-5000}
UI_REPEAT=${BENCH_UI_REPEAT:-5}
WAIT_LOAD=${BENCH_WAIT_LOAD-1.5}
WAIT_MAX=${BENCH_WAIT_MAX:-1200}
VENV=${BENCH_MLFLOW_VENV:-$ROOT/.venv}
OUT=$ROOT/bench/out/traces
WORK=$(mktemp -d /tmp/mlox-bench-traces.XXXXXX)
CMD_TEXT="$( (env | grep '^BENCH_' | sort || true) | tr '\n' ' ')bench/traces/run.sh"
START=$(date +%s)
# shellcheck source=bench/lib.sh
source bench/lib.sh

cleanup() {
    [[ -n $SPID ]] && stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n==> [%4ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
    step "building mlox and the load generator (release)"
    nice -n 5 cargo build --release -p mlox-cli -p mlox-loadgen >&2
fi
MLOX=${BENCH_MLOX:-$ROOT/target/release/mlox}
LG=$ROOT/target/release/mlox-loadgen
rm -rf "$OUT"
mkdir -p "$OUT"
: >"$OUT/notes.txt"
note() { echo "$*" >>"$OUT/notes.txt"; echo "note: $*" >&2; }

if [[ -n $WAIT_LOAD ]]; then
    waited=0
    while awk -v t="$WAIT_LOAD" '{ exit !($1 >= t) }' /proc/loadavg && ((waited < WAIT_MAX)); do
        step "load average $(loadavg) is not below $WAIT_LOAD yet; waiting a minute (${waited}s so far)"
        sleep 60
        waited=$((waited + 60))
    done
    note "Waited ${waited} s for the 1-minute load average to drop below $WAIT_LOAD (at most $WAIT_MAX s)."
fi
note "Load average (1/5/15 min) before the run: $(loadavg) on $(nproc) CPUs."
RT=()
if [[ ${BENCH_CHRT:-1} != 0 && $(id -u) == 0 ]] && command -v chrt >/dev/null; then
    RT=(chrt -f 10)
    note "Both servers and the load generator ran under \`chrt -f 10\` (a real-time priority: other work on the machine does not preempt them)."
fi

# scenario NAME FILE ARGS...: one load generator command; a failure is recorded in the JSON.
scenario() {
    local name=$1 file=$2
    shift 2
    step "$name: $file"
    if "${RT[@]}" "$LG" --url "$URL" --label "$name" "$@" >"$OUT/$name/$file.json" 2>"$WORK/err"; then
        cat "$OUT/$name/$file.json" >&2
    else
        local msg
        msg=$(tr '\n"\\' "  /" <"$WORK/err" | cut -c1-300)
        echo "{\"errors\":1,\"error_samples\":[\"loadgen failed: $msg\"]}" >"$OUT/$name/$file.json"
        echo "FAILED: $msg" >&2
    fi
}

# bench NAME -- CMD...: starts the server, runs every scenario, stops it.
bench() {
    local name=$1
    shift 2
    local dir=$WORK/$name port
    mkdir -p "$dir" "$OUT/$name"
    port=$("$LG" free-port)
    URL=http://127.0.0.1:$port
    step "$name: starting"
    start_server "$dir" "${RT[@]}" "$@" --host 127.0.0.1 --port "$port" >"$OUT/$name/server.log" 2>&1
    wait_healthy "$URL" >"$OUT/$name/startup.json"
    note "$name launched as: $* (load average before: $(loadavg))"

    scenario "$name" ingest-c1 trace-ingest -c 1 --seconds "$SECS" --spans 10
    scenario "$name" ingest-c8 trace-ingest -c 8 --seconds "$SECS" --spans 10
    if [[ $name == mlflow ]]; then
        scenario "$name" seed-traces seed-traces --traces "$REST_TRACES" -c 8
        if ((REST_TRACES < TRACES)); then
            local exp
            exp=$(sed -n 's/.*"experiment_id":"\([^"]*\)".*/\1/p' "$OUT/$name/seed-traces.json")
            step "$name: inserting traces $REST_TRACES..$TRACES into its SQLite file"
            "$LG" trace-seed-data --from "$REST_TRACES" --to "$TRACES" \
                | "$VENV/bin/python" bench/traces/seed_mlflow_traces.py "$dir/mlflow.db" "$exp" >"$OUT/$name/seed-sql.json"
            cat "$OUT/$name/seed-sql.json" >&2
            note "mlflow: traces 0..$REST_TRACES of the search experiment were logged over REST (MLflow's seeding rate is measured on these); traces $REST_TRACES..$TRACES (the same deterministic data) were inserted into its SQLite file by bench/traces/seed_mlflow_traces.py, cloning the rows MLflow wrote for a REST-created trace, because logging them over REST would take about an hour. The search then reads all $TRACES through the server."
        fi
    else
        scenario "$name" seed-traces seed-traces --traces "$TRACES" -c 32
    fi
    scenario "$name" search-traces search-traces --traces "$TRACES" --repeat "$REPEAT"
    scenario "$name" big-trace seed-big-trace --spans "$BIG"
    if [[ -z ${BENCH_SKIP_UI:-} ]]; then
        step "$name: the trace view of the $BIG-span trace in chromium"
        local exp trace
        exp=$(sed -n 's/.*"experiment_id":"\([^"]*\)".*/\1/p' "$OUT/$name/big-trace.json")
        trace=$(sed -n 's/.*"trace_id":"\([^"]*\)".*/\1/p' "$OUT/$name/big-trace.json")
        if [[ -n $trace ]] && BENCH_ONLY=trace BENCH_TRACE_URL=$URL BENCH_TRACE_EXP=$exp BENCH_TRACE_ID=$trace \
            BENCH_TRACE_SPANS=$BIG BENCH_TRACE_UI=$name BENCH_REPEAT=$UI_REPEAT \
            node bench/ui/bench.mjs >"$OUT/$name/ui.json" 2>"$OUT/$name/ui.log"; then
            cat "$OUT/$name/ui.json" >&2
        else
            echo "{\"error\":\"$(tail -n 3 "$OUT/$name/ui.log" | tr '\n"\\' "  /" | cut -c1-400)\"}" >"$OUT/$name/ui.json"
            tail -n 5 "$OUT/$name/ui.log" >&2
        fi
    fi
    note "$name: load average after: $(loadavg)"
    stop_server
    # The next server should not sync its writes while this one's files are still being
    # written back (MLflow's seeded database is large): remove them and flush the disk.
    rm -rf "$dir"
    sync
}

sync
if [[ -z ${BENCH_SKIP_MLFLOW:-} ]]; then
    bench mlflow -- "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$WORK/mlflow/mlflow.db" \
        --artifacts-destination "$WORK/mlflow/artifacts"
fi
bench mlox -- "$MLOX" server --backend-store-uri "sqlite:///$WORK/mlox/mlox.db" \
    --default-artifact-root "$WORK/mlox/artifacts"

note "Total time: $(($(date +%s) - START)) s."
step "writing bench/TRACES_RESULTS.md"
mlflow_v=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("mlflow"))' 2>/dev/null || echo "?")
python3 bench/traces/report.py "$OUT" "$ROOT/bench/TRACES_RESULTS.md" "$CMD_TEXT" "$mlflow_v" "$("$MLOX" --version)" \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB"
step "done: bench/TRACES_RESULTS.md"
