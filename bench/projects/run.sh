#!/usr/bin/env bash
# Benchmark: wall time of `mlox run` vs `mlflow run` for examples/sklearn_elasticnet, with a
# cold and a warm environment cache. Writes bench/PROJECTS_RESULTS.md.
#
#   bench/projects/run.sh
#
# Scenarios (each tracked by the same `mlox server`, release build, on SQLite):
#   mlox run   --env-manager virtualenv   (builds with uv when uv is on PATH: the default here)
#   mlox run   --env-manager virtualenv   with uv hidden (python -m venv + pip)
#   mlflow run --env-manager virtualenv   (MLflow: pyenv's Python, python -m venv + pip)
#   mlflow run --env-manager uv
#   mlox run / mlflow run --env-manager local   (no environment: launcher overhead only)
#
# "Cold" starts with empty environment caches *and* empty pip/uv download caches, so it
# includes downloading the packages; "warm" reruns with everything cached (median of
# BENCH_PROJECTS_WARM runs, default 3). Warm runs go round-robin over the scenarios, so a
# change in the machine's load affects them alike.
#
# Environment (optional):
#   BENCH_PROJECTS_WARM=3         warm repetitions per scenario
#   BENCH_PROJECTS_SKIP_COLD=1    only warm figures (no downloads)
#   BENCH_PROJECTS_SCENARIOS="mlox-uv mlox-pip mlflow-venv mlflow-uv mlox-local mlflow-local"
#
# MLflow's virtualenv manager installs the Python version of python_env.yaml with pyenv;
# the benchmark pins the project copy to this machine's exact Python version so that no
# interpreter has to be downloaded. Logs end up in bench/out/projects/ (git-ignored).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

WARM=${BENCH_PROJECTS_WARM:-3}
SCENARIOS=${BENCH_PROJECTS_SCENARIOS:-"mlox-uv mlox-pip mlflow-venv mlflow-uv mlox-local mlflow-local"}
CMD_TEXT="$( (env | grep '^BENCH_PROJECTS' || true) | sort | tr '\n' ' ')bench/projects/run.sh"
OUT=$ROOT/bench/out/projects
RESULTS=$ROOT/bench/PROJECTS_RESULTS.md
WORK=$(mktemp -d /tmp/mlox-bench-projects.XXXXXX)
START=$(date +%s)
step() { printf '\n==> [%4ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }

SPID=""
LOGS=$WORK/logs
mkdir -p "$LOGS"
cleanup() {
    if [[ -n $SPID ]]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
    # bench/run.sh empties bench/out when it starts: logs are kept in $WORK until the end.
    mkdir -p "$OUT" && cp -r "$LOGS/." "$OUT/" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "installing the Python venv (mlflow, uv) and building mlox (release)"
bash scripts/install-test-deps.sh --no-pg
cargo build --release -p mlox-cli >&2
VENV=$ROOT/.venv
MLOX=$ROOT/target/release/mlox
PY_VERSION=$("$VENV/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
UV_VERSION=$("$VENV/bin/uv" --version 2>/dev/null || echo "not installed")
rm -rf "$OUT"

# The project, with python pinned to this machine's interpreter (see above).
PROJ=$WORK/sklearn_elasticnet
cp -r examples/sklearn_elasticnet "$PROJ"
sed -i "s/^python: .*/python: \"$PY_VERSION\"/" "$PROJ/python_env.yaml"
# An entry point that does nothing, to time the launchers alone.
printf '  noop:\n    command: "true"\n' >>"$PROJ/MLproject"

step "starting the tracking server"
"$MLOX" server --port 0 --backend-store-uri "sqlite:///$WORK/bench.db" \
    --artifacts-destination "$WORK/artifacts" >"$LOGS/server.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do
    URL=$(grep -o 'Listening on http://[0-9.:]*' "$LOGS/server.log" | head -1 | cut -d' ' -f3 || true)
    [[ -n $URL ]] && break
    sleep 0.1
done
[[ -n $URL ]] || { cat "$LOGS/server.log" >&2; exit 1; }
export MLFLOW_TRACKING_URI=$URL
# Normal user conditions: bytecode may be written. No telemetry (it would try to reach
# the network from every run).
unset PYTHONDONTWRITEBYTECODE MLFLOW_EXPERIMENT_ID MLFLOW_EXPERIMENT_NAME
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
BASE_PATH=$PATH

# run_once SCENARIO CACHE_ROOT LOG -> prints seconds
run_once() {
    local scenario=$1 cache=$2 log=$3 path argv
    mkdir -p "$cache"
    case $scenario in
        mlox-uv)      path="$VENV/bin:$BASE_PATH"; argv=("$MLOX" run "$PROJ" --env-manager virtualenv) ;;
        mlox-pip)     path=$(printf '%s' "$BASE_PATH" | tr ':' '\n' | grep -v "^$VENV/bin\$" | paste -sd:)
                      argv=("$MLOX" run "$PROJ" --env-manager virtualenv) ;;
        mlflow-venv)  path="$VENV/bin:$BASE_PATH"; argv=("$VENV/bin/mlflow" run "$PROJ" --env-manager virtualenv) ;;
        mlflow-uv)    path="$VENV/bin:$BASE_PATH"; argv=("$VENV/bin/mlflow" run "$PROJ" --env-manager uv) ;;
        mlox-local)   path="$VENV/bin:$BASE_PATH"; argv=("$MLOX" run "$PROJ" --env-manager local) ;;
        mlflow-local) path="$VENV/bin:$BASE_PATH"; argv=("$VENV/bin/mlflow" run "$PROJ" --env-manager local) ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    if [[ $scenario == mlox-pip ]] && PATH=$path command -v uv >/dev/null 2>&1; then
        echo "uv is still on PATH for mlox-pip: $(PATH=$path command -v uv)" >&2
        exit 1
    fi
    local t0 t1
    t0=$(date +%s.%N)
    if ! env PATH="$path" \
        MLOX_CACHE_DIR="$cache/mlox" MLFLOW_ENV_ROOT="$cache/mlflow-envs" \
        PIP_CACHE_DIR="$cache/pip" UV_CACHE_DIR="$cache/uv" \
        "${argv[@]}" -P alpha=0.3 --experiment-name "bench-$scenario" >"$log" 2>&1; then
        echo "FAILED: ${argv[*]} (log: $log)" >&2
        tail -30 "$log" >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "—"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A COLD WARM_MED WARM_ALL
for s in $SCENARIOS; do
    cache=$WORK/cache-$s
    if [[ $s == *-local || -n ${BENCH_PROJECTS_SKIP_COLD:-} ]]; then
        COLD[$s]="—"
        step "$s: preparing (not timed)"
        run_once "$s" "$cache" "$LOGS/$s-prepare.log" >/dev/null
    else
        step "$s: cold"
        COLD[$s]=$(run_once "$s" "$cache" "$LOGS/$s-cold.log")
        echo "cold: ${COLD[$s]} s" >&2
    fi
    WARM_ALL[$s]=""
done
for i in $(seq "$WARM"); do
    for s in $SCENARIOS; do
        step "$s: warm $i/$WARM"
        t=$(run_once "$s" "$WORK/cache-$s" "$LOGS/$s-warm-$i.log")
        echo "warm: $t s" >&2
        WARM_ALL[$s]="${WARM_ALL[$s]} $t"
    done
done
for s in $SCENARIOS; do
    WARM_MED[$s]=$(echo "${WARM_ALL[$s]}" | median)
done

# Launcher overhead: the `noop` entry point (`true`), --env-manager local, tracked.
NOOP_REPEAT=${BENCH_PROJECTS_NOOP:-5}
declare -A NOOP_ALL NOOP_MED
for l in mlox mlflow; do NOOP_ALL[$l]=""; done
for i in $(seq "$NOOP_REPEAT"); do
    for l in mlox mlflow; do
        step "$l noop $i/$NOOP_REPEAT"
        if [[ $l == mlox ]]; then exe=$MLOX; else exe=$VENV/bin/mlflow; fi
        t0=$(date +%s.%N)
        env PATH="$VENV/bin:$BASE_PATH" "$exe" run "$PROJ" -e noop --env-manager local \
            --experiment-name "bench-noop-$l" >"$LOGS/$l-noop-$i.log" 2>&1 \
            || { tail -20 "$LOGS/$l-noop-$i.log" >&2; exit 1; }
        t1=$(date +%s.%N)
        t=$(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')
        echo "noop: $t s" >&2
        NOOP_ALL[$l]="${NOOP_ALL[$l]} $t"
    done
done
for l in mlox mlflow; do
    NOOP_MED[$l]=$(echo "${NOOP_ALL[$l]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
done

label() {
    case $1 in
        mlox-uv) echo '`mlox run --env-manager virtualenv` (uv on PATH: built with uv)' ;;
        mlox-pip) echo '`mlox run --env-manager virtualenv` (no uv: python -m venv + pip)' ;;
        mlflow-venv) echo '`mlflow run --env-manager virtualenv`' ;;
        mlflow-uv) echo '`mlflow run --env-manager uv`' ;;
        mlox-local) echo '`mlox run --env-manager local` (no environment)' ;;
        mlflow-local) echo '`mlflow run --env-manager local` (no environment)' ;;
    esac
}

{
    echo "# \`mlox run\` vs \`mlflow run\`: examples/sklearn_elasticnet"
    echo
    echo "Wall time of one project run, from the launcher's start to its exit, in seconds."
    echo "**Cold**: empty environment cache and empty pip/uv download caches (packages are downloaded and installed)."
    echo "**Warm**: the environment is cached (median of $WARM runs; all runs in the last column)."
    echo "Every run trains the model and logs params, metrics and the model to the same \`mlox server\` (release, SQLite)."
    echo
    echo "| launcher | cold | warm (median) | warm runs |"
    echo "|---|---:|---:|---|"
    for s in $SCENARIOS; do
        echo "| $(label "$s") | ${COLD[$s]} | ${WARM_MED[$s]} | ${WARM_ALL[$s]# } |"
    done
    echo
    if [[ -n ${WARM_MED[mlox-uv]:-} && -n ${WARM_MED[mlflow-venv]:-} ]]; then
        awk -v a="${WARM_MED[mlox-uv]}" -v b="${WARM_MED[mlflow-venv]}" -v c="${COLD[mlox-uv]:-—}" -v d="${COLD[mlflow-venv]:-—}" 'BEGIN {
            if (c != "—" && d != "—" && c > 0) printf "Cold: mlox (uv) is %.1fx faster than `mlflow run --env-manager virtualenv`. ", d / c;
            if (a > 0) printf "Warm: %.1fx.\n", b / a }'
        echo
    fi
    echo "Cold times are downloads and installs: with the same builder (uv) both launchers take about as long, and \`--env-manager virtualenv\` is faster with mlox because mlox builds with uv when it is installed, where MLflow uses pip."
    echo "The warm difference is the launcher itself: \`mlflow run\` is a Python program that imports mlflow before it starts the script (see the overhead table)."
    echo
    echo "Warm runs are dominated by the training script itself (importing mlflow, scikit-learn and pandas, fitting, logging the model), so they vary with the machine's load; the launchers' own cost is measured alone below."
    echo
    echo "## Launcher overhead"
    echo
    echo "An entry point whose command is \`true\`, \`--env-manager local\`, still tracked (experiment lookup, run creation, parameters, tags, final status); median of $NOOP_REPEAT runs, in seconds."
    echo
    echo "| launcher | median | runs |"
    echo "|---|---:|---|"
    echo "| \`mlox run\` | ${NOOP_MED[mlox]} | ${NOOP_ALL[mlox]# } |"
    echo "| \`mlflow run\` | ${NOOP_MED[mlflow]} | ${NOOP_ALL[mlflow]# } |"
    echo
    echo "## Setup"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
    echo "- Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Python $PY_VERSION; $UV_VERSION; mlflow $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)'); mlox $("$MLOX" --version | cut -d' ' -f2)"
    echo "- The project copy pins \`python: \"$PY_VERSION\"\` (MLflow's virtualenv manager would otherwise install the latest 3.11.x with pyenv, from the network)."
    echo "- Command: \`$CMD_TEXT\`; logs in bench/out/projects/"
} >"$RESULTS"
step "wrote $RESULTS"
cat "$RESULTS"
