#!/usr/bin/env bash
# Import benchmark (issue 16): an MLflow SQLite database of RUNS runs and POINTS metric
# points (written with SQL by gen_mlflow_db.py) imported by `mlox import` into a new SQLite
# store; prints the time, the metric points per second and the peak memory (GNU time).
# usage: bench/import/run.sh [RUNS] [POINTS]   (default 10000 runs, 10000000 points)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-10000}
POINTS=${2:-10000000}
PY=${MLOX_PYTHON:-.venv/bin/python}
MLOX=${MLOX_BIN:-target/release/mlox}
DIR=${BENCH_DIR:-$(mktemp -d)}
SRC=$DIR/mlflow-$RUNS-$POINTS.db
[ -f "$SRC" ] || MLFLOW_DISABLE_TELEMETRY=true $PY bench/import/gen_mlflow_db.py "$SRC" "$RUNS" "$POINTS"
rm -f "$DIR"/mlox.db*
start=$(date +%s.%N)
/usr/bin/time -f "peak RSS %M KiB" "$MLOX" import --quiet "sqlite:///$SRC" --backend-store-uri "sqlite:///$DIR/mlox.db" 2>"$DIR/time.txt" | grep -E "imported|metric points"
end=$(date +%s.%N)
cat "$DIR/time.txt" | grep -v "^note:"
points=$(sqlite3 "$SRC" "SELECT COUNT(*) FROM metrics")
echo "$points metric points in $(echo "$end - $start" | bc) s: $(echo "$points / ($end - $start)" | bc) points/s (whole import)"
