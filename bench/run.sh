#!/usr/bin/env bash
# Benchmark: the real `mlflow server` (SQLite, then PostgreSQL) vs `mlox server`
# (SQLite, then PostgreSQL), same scenarios, same run, same load generator. Every store is
# durable: SQLite as each server configures it (mlox: --durability=full, its default),
# PostgreSQL with its defaults (fsync, synchronous_commit, full_page_writes on), one
# throwaway server on loopback for both MLflow and mlox (a database each).
# Writes bench/RESULTS.md.
#
#   bench/run.sh
#
# Environment (all optional):
#   BENCH_SECONDS=10            duration of each throughput scenario
#   BENCH_SKIP_MLFLOW=1         do not run the MLflow server (quick iterations on mlox)
#   BENCH_SKIP_PG=1             do not run MLflow or mlox on PostgreSQL
#   BENCH_SKIP_BUILD=1          use target/release/{mlox,mlox-loadgen} as they are
#   BENCH_SEARCH_RUNS=10000     runs seeded for search / paginate
#   BENCH_HISTORY_POINTS=100000 points seeded for get-history
#   BENCH_HISTORY_REPEAT=5      get-history reads (median reported)
#   BENCH_SEARCH_REPEAT=20      search queries (median reported)
#   BENCH_PAGINATE_REPEAT=3     full paginations (median reported)
#   BENCH_MLFLOW_REST_RUNS=1000 runs seeded into MLflow over REST (rate measured on
#                               these); the rest are bulk-inserted into its SQLite file
#                               (bench/seed_mlflow_sqlite.py). Set it to
#                               BENCH_SEARCH_RUNS to seed MLflow entirely over REST.
#   BENCH_MLFLOW_VENV=DIR       use this venv's mlflow instead of the repo's .venv
#   BENCH_LOADGEN_THREADS=1     runtime threads of the load generator
#   BENCH_NICE=-10              run the whole benchmark (servers, PostgreSQL, load
#                               generator) at this nice level, e.g. on a machine where
#                               other work is running (negative values need root)
#
# Raw JSON for every figure goes to bench/out/ (git-ignored); server logs to
# bench/out/<target>/server.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SECS=${BENCH_SECONDS:-10}
RUNS=${BENCH_SEARCH_RUNS:-10000}
POINTS=${BENCH_HISTORY_POINTS:-100000}
HIST_REPEAT=${BENCH_HISTORY_REPEAT:-5}
SEARCH_REPEAT=${BENCH_SEARCH_REPEAT:-20}
PAGE_REPEAT=${BENCH_PAGINATE_REPEAT:-3}
MLFLOW_REST_RUNS=${BENCH_MLFLOW_REST_RUNS:-1000}
((MLFLOW_REST_RUNS > RUNS)) && MLFLOW_REST_RUNS=$RUNS
LG_THREADS=${BENCH_LOADGEN_THREADS:-1}
MLFLOW_VERSION=3.17.2

# The command as it was typed, with the BENCH_* settings that were in force.
CMD_TEXT="$( (env | grep '^BENCH_' || true) | sort | tr '\n' ' ')bench/run.sh${*:+ $*}"

OUT=$ROOT/bench/out
WORK=$(mktemp -d /tmp/mlox-bench.XXXXXX)
NOTES=$WORK/notes.txt
: >"$NOTES"
BENCH_START=$(date +%s)

step() { printf '\n==> [%4ss] %s\n' "$(($(date +%s) - BENCH_START))" "$*" >&2; }
note() { echo "$*" >>"$NOTES"; echo "note: $*" >&2; }

# shellcheck source=bench/lib.sh
source bench/lib.sh
PG_DIR=""
cleanup() {
    if [[ -n $SPID ]]; then stop_server; fi
    if [[ -n $PG_DIR ]]; then bash scripts/pg-test-server.sh stop "$PG_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
step "building mlox and the load generator (release)"
[[ -n ${BENCH_SKIP_BUILD:-} ]] || cargo build --release -p mlox-cli -p mlox-loadgen >&2
MLOX=$ROOT/target/release/mlox
LG=$ROOT/target/release/mlox-loadgen
lg() { "$LG" --threads "$LG_THREADS" "$@"; }
BUILD_S=$(($(date +%s) - BENCH_START))

# ---------------------------------------------------------------------------
VENV=""
if [[ -z ${BENCH_SKIP_MLFLOW:-} ]]; then
    step "ensuring a venv with mlflow==$MLFLOW_VERSION"
    if [[ -n ${BENCH_MLFLOW_VENV:-} ]]; then
        VENV=$BENCH_MLFLOW_VENV
    elif [[ -f scripts/install-test-deps.sh ]]; then
        if [[ -z ${BENCH_SKIP_PG:-} ]]; then
            bash scripts/install-test-deps.sh >&2
        else
            bash scripts/install-test-deps.sh --no-pg >&2
        fi
        VENV=$ROOT/.venv
    else
        VENV=$ROOT/bench/.venv
        [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "mlflow==$MLFLOW_VERSION" >&2
    fi
    got=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("mlflow"))')
    [[ $got == "$MLFLOW_VERSION" ]] || note "WARNING: mlflow $got in $VENV, not $MLFLOW_VERSION"
elif [[ -z ${BENCH_SKIP_PG:-} && -f scripts/install-test-deps.sh ]] \
    && ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    step "installing PostgreSQL"
    bash scripts/install-test-deps.sh >&2
fi

rm -rf "$OUT"
mkdir -p "$OUT"
if [[ -n ${BENCH_NICE:-} ]]; then
    if renice -n "$BENCH_NICE" -p $$ >/dev/null; then
        note "The benchmark (servers, PostgreSQL, load generator) ran at nice $BENCH_NICE, ahead of other work on the machine."
    else
        note "renice to $BENCH_NICE failed; ran at the default priority"
    fi
fi
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
note "Load average (1/5/15 min) before the run: $(loadavg)"
if awk -v n="$(nproc)" '{ exit !($1 > n / 2) }' /proc/loadavg; then
    note "WARNING: the machine was busy when the benchmark started (load average $(loadavg) on $(nproc) CPUs): other processes compete for the CPU, so the figures are pessimistic (for every server)."
fi

# ---------------------------------------------------------------------------
# Server lifecycle. launch NAME -- CMD...: starts CMD in its own session (so the whole
# process tree can be signalled), records launch → first 200 on /health.
launch() {
    local name=$1 port=$2 dir=$3
    shift 4
    local t0
    t0=$(date +%s%N)
    start_server "$dir" "$@" >"$OUT/$name/server.log" 2>&1
    SURL=http://127.0.0.1:$port
    if ! wait_healthy "$SURL" --since-ns "$t0" >"$OUT/$name/startup.json"; then
        tail -n 30 "$OUT/$name/server.log" >&2
        return 1
    fi
}


# scenario NAME FILE ARGS...: runs one load generator command; a failure is recorded as
# an error in the result instead of stopping the benchmark.
scenario() {
    local name=$1 file=$2
    shift 2
    step "$name: $file"
    if lg --url "$SURL" --label "$name" "$@" >"$OUT/$name/$file.json" 2>"$WORK/err"; then
        cat "$OUT/$name/$file.json" >&2
    else
        local msg
        msg=$(tr '\n"\\' "  /" <"$WORK/err" | cut -c1-300)
        echo "{\"errors\":1,\"error_samples\":[\"loadgen failed: $msg\"]}" >"$OUT/$name/$file.json"
        echo "FAILED: $msg" >&2
    fi
}

# The throughput scenarios shared by every target (the null server included).
throughput() {
    local name=$1
    scenario "$name" health-c8 health -c 8 --seconds "$SECS"
    scenario "$name" create-run-c1 create-run -c 1 --seconds "$SECS"
    scenario "$name" create-run-c8 create-run -c 8 --seconds "$SECS"
    scenario "$name" log-metric-c1 log-metric -c 1 --seconds "$SECS"
    scenario "$name" log-metric-c8 log-metric -c 8 --seconds "$SECS"
    scenario "$name" log-batch-c1 log-batch -c 1 --seconds "$SECS"
    scenario "$name" log-batch-c2 log-batch -c 2 --seconds "$SECS"
    scenario "$name" log-batch-c8 log-batch -c 8 --seconds "$SECS"
}

# bench_server NAME DBFILE(or "") PORT DIR -- CMD...: the full set of figures for one server.
bench_server() {
    local name=$1 dbfile=$2 port=$3 dir=$4
    shift 5
    mkdir -p "$OUT/$name"
    note "$name launched as: $* (load average before: $(loadavg))"
    step "$name: starting"
    if ! launch "$name" "$port" "$dir" -- "$@"; then
        echo "server did not become healthy; see bench/out/$name/server.log" >"$OUT/$name/skipped"
        note "$name: did not become healthy"
        stop_server
        return 0
    fi
    cat "$OUT/$name/startup.json" >&2
    # Idle: let start-up work settle, then sample for 2 s before any load.
    sleep 3
    lg rss --pid "$SPID" --seconds 2 --interval-ms 100 >"$OUT/$name/idle.json"
    cat "$OUT/$name/idle.json" >&2
    # Peak: sample the tree every 100 ms while the scenarios run.
    rm -f "$WORK/stop-rss"
    lg rss --pid "$SPID" --interval-ms 100 --stop-file "$WORK/stop-rss" >"$OUT/$name/peak.json" &
    local sampler=$!

    throughput "$name"
    scenario "$name" seed-history seed-history --points "$POINTS" --batch 1000 -c 4 --repeat "$HIST_REPEAT"
    if [[ $name == mlflow* ]]; then
        scenario "$name" seed-search seed-search --runs "$MLFLOW_REST_RUNS" -c 8 --experiment-name bench-search
        if ((MLFLOW_REST_RUNS < RUNS)); then
            step "$name: bulk-inserting runs $MLFLOW_REST_RUNS..$RUNS into $dbfile"
            local exp
            exp=$(sed -n 's/.*"experiment_id":"\([^"]*\)".*/\1/p' "$OUT/$name/seed-search.json")
            "$LG" seed-data --from "$MLFLOW_REST_RUNS" --to "$RUNS" \
                | "$VENV/bin/python" "$ROOT/bench/seed_mlflow_sqlite.py" "$dbfile" "$exp" >"$OUT/$name/seed-sql.json"
            cat "$OUT/$name/seed-sql.json" >&2
            note "$name: runs 0..$MLFLOW_REST_RUNS of the search experiment were seeded over REST (the seeding rate in the table is measured on these); runs $MLFLOW_REST_RUNS..$RUNS (the same deterministic data) were bulk-inserted into its database by bench/seed_mlflow_sqlite.py, because seeding them over REST takes many minutes. Search and pagination then read all $RUNS through the server."
        fi
    else
        scenario "$name" seed-search seed-search --runs "$RUNS" -c 8 --experiment-name bench-search
    fi
    scenario "$name" search search --experiment-name bench-search --repeat "$SEARCH_REPEAT"
    scenario "$name" paginate paginate --experiment-name bench-search --max-results 1000 \
        --repeat "$PAGE_REPEAT" --expect "$RUNS"

    touch "$WORK/stop-rss"
    wait "$sampler" || true
    cat "$OUT/$name/peak.json" >&2
    note "$name: load average after: $(loadavg)"
    step "$name: stopping"
    stop_server
}

# ---------------------------------------------------------------------------
step "load generator ceiling (null server)"
mkdir -p "$OUT/null"
NPORT=$("$LG" free-port)
# Two runtime threads, like mlox (a multi-threaded server on the 2 cores).
"$LG" --threads 2 null-server --port "$NPORT" >"$OUT/null/server.log" 2>&1 &
NULL_PID=$!
SURL=http://127.0.0.1:$NPORT
lg --url "$SURL" wait-healthy --timeout-s 10 >/dev/null
throughput null
kill "$NULL_PID" 2>/dev/null || true
wait "$NULL_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------
# One durable PostgreSQL server (its defaults: fsync, synchronous_commit and
# full_page_writes on) for MLflow and mlox, a database each, so the PostgreSQL ratios
# compare the two on the same engine.
PG_URL=""
if [[ -n ${BENCH_SKIP_PG:-} ]]; then
    mkdir -p "$OUT/mlflow-pg" "$OUT/mlox-pg"
    echo "BENCH_SKIP_PG was set" >"$OUT/mlflow-pg/skipped"
    echo "BENCH_SKIP_PG was set" >"$OUT/mlox-pg/skipped"
else
    step "starting a throwaway durable PostgreSQL server"
    PG_DIR=$WORK/pg
    if PG_URL=$(PG_TEST_DURABLE=1 bash scripts/pg-test-server.sh start "$PG_DIR" | tail -n 1) \
        && [[ $PG_URL == postgresql://* ]]; then
        psql -q "$PG_URL" -c "CREATE DATABASE mlflow_bench" -c "CREATE DATABASE mlox_bench" >&2
        note "PostgreSQL: a throwaway local server from scripts/pg-test-server.sh with PostgreSQL's durable defaults ($(psql -tAq "$PG_URL" -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')")), shared by MLflow and mlox (a database each); its processes are not part of the servers' trees, so the RSS figures on PostgreSQL are the servers' own."
    else
        PG_URL=""
        mkdir -p "$OUT/mlflow-pg" "$OUT/mlox-pg"
        echo "could not start PostgreSQL (scripts/pg-test-server.sh)" >"$OUT/mlflow-pg/skipped"
        echo "could not start PostgreSQL (scripts/pg-test-server.sh)" >"$OUT/mlox-pg/skipped"
        note "PostgreSQL skipped: scripts/pg-test-server.sh start failed"
    fi
fi

# ---------------------------------------------------------------------------
if [[ -z ${BENCH_SKIP_MLFLOW:-} ]]; then
    d=$WORK/mlflow
    mkdir -p "$d"
    port=$("$LG" free-port)
    # Default settings of `mlflow server` (workers, job runners), as a user would start it.
    bench_server mlflow "$d/mlflow.db" "$port" "$d" -- \
        "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$d/mlflow.db" \
        --host 127.0.0.1 --port "$port" --artifacts-destination "$d/artifacts"
    if [[ -n $PG_URL ]]; then
        d=$WORK/mlflow-pg
        mkdir -p "$d"
        port=$("$LG" free-port)
        mlflow_pg=${PG_URL%/*}/mlflow_bench
        bench_server mlflow-pg "$mlflow_pg" "$port" "$d" -- \
            "$VENV/bin/mlflow" server --backend-store-uri "postgresql+psycopg2://${mlflow_pg#postgresql://}" \
            --host 127.0.0.1 --port "$port" --artifacts-destination "$d/artifacts"
    fi
else
    mkdir -p "$OUT/mlflow" "$OUT/mlflow-pg"
    echo "BENCH_SKIP_MLFLOW was set" >"$OUT/mlflow/skipped"
    echo "BENCH_SKIP_MLFLOW was set" >"$OUT/mlflow-pg/skipped"
fi

# ---------------------------------------------------------------------------
d=$WORK/mlox-sqlite
mkdir -p "$d"
port=$("$LG" free-port)
bench_server mlox-sqlite "$d/mlox.db" "$port" "$d" -- \
    "$MLOX" server --host 127.0.0.1 --port "$port" \
    --backend-store-uri "sqlite:///$d/mlox.db" --default-artifact-root "$d/artifacts"

# ---------------------------------------------------------------------------
if [[ -n $PG_URL ]]; then
    d=$WORK/mlox-pg
    mkdir -p "$d"
    port=$("$LG" free-port)
    bench_server mlox-pg "" "$port" "$d" -- \
        "$MLOX" server --host 127.0.0.1 --port "$port" \
        --backend-store-uri "${PG_URL%/*}/mlox_bench" --default-artifact-root "$d/artifacts"
fi
if [[ -n $PG_DIR ]]; then
    bash scripts/pg-test-server.sh stop "$PG_DIR" >/dev/null 2>&1 || true
    PG_DIR=""
fi

# ---------------------------------------------------------------------------
step "writing bench/RESULTS.md"
note "Total time: $(($(date +%s) - BENCH_START)) s, of which $BUILD_S s building."
mlflow_v=$([[ -n $VENV ]] && "$VENV/bin/python" -c 'from importlib.metadata import version; print(version("mlflow"))' || echo "not run")
mlox_v=$("$MLOX" --version 2>/dev/null || echo "mlox")
python3 - "$OUT/meta.json" "$NOTES" "$mlflow_v" "$mlox_v" "$SECS" "$LG_THREADS" "$RUNS" "$POINTS" <<'EOF'
import json, sys
out, notes, mlflow_v, mlox_v, secs, threads, runs, points = sys.argv[1:]
meta = {
    "params": {"runs": int(runs), "points": int(points)},
    "Servers": f"MLflow {mlflow_v} (`mlflow server`, default workers); {mlox_v}",
    "Throughput scenarios": f"{secs} s each, closed loop; load generator on {threads} runtime thread(s), on the same machine",
    "notes": [l.rstrip("\n") for l in open(notes) if l.strip()],
}
json.dump(meta, open(out, "w"), indent=1)
EOF
"$LG" report --dir "$OUT" --out "$ROOT/bench/RESULTS.md" --command "$CMD_TEXT" --date "$(date -u '+%Y-%m-%d %H:%M UTC')"
# What the access log and /metrics cost is measured by bench/ops.sh (rounds alternating
# between configurations, 8+ minutes); its last report is carried over, marked as such,
# above the hand-written notes (which the report keeps as they are).
if [[ -f $ROOT/bench/OPS_RESULTS.md ]]; then
    python3 - "$ROOT/bench/RESULTS.md" "$ROOT/bench/OPS_RESULTS.md" <<'PYEOF'
import sys
results, ops = sys.argv[1:]
text = open(results).read()
lines = open(ops).read().splitlines()
if lines and lines[0].startswith("# "):
    lines = lines[1:]
section = ("## Throughput with the access log and /metrics on vs off\n\n"
           "Not measured by this run: the last `bench/ops.sh` report (bench/OPS_RESULTS.md), carried over as it is.\n"
           + "\n".join(lines).rstrip("\n") + "\n\n")
marker = "<!-- Notes below this line"
i = text.find(marker)
text = text + "\n" + section if i < 0 else text[:i] + section + text[i:]
open(results, "w").write(text)
PYEOF
fi
step "done: bench/RESULTS.md"
