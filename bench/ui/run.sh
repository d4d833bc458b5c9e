#!/usr/bin/env bash
# Browser benchmark of the web UI (see bench/ui/bench.mjs): mlox, and MLflow's own UI
# for comparison, seeded the same way; writes bench/UI_RESULTS.md.
# Settings: BENCH_RUNS (100000), BENCH_POINTS (1000000), BENCH_TRACES (100000),
# BENCH_REPEAT (5), BENCH_MLFLOW_CHART_REPEAT (3: MLflow's chart view of 100 runs takes
# about a minute a navigation), BENCH_SKIP_MLFLOW=1, BENCH_MLFLOW_REST_RUNS (500: the rest
# of MLflow's runs are inserted into its SQLite by bench/seed_mlflow_sqlite.py),
# BENCH_MLFLOW_REST_TRACES (500: the rest cloned by bench/seed_mlflow_traces_sqlite.py),
# BENCH_OUT (bench/UI_RESULTS.md), MLOX_BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd ui && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; })
if [ -z "${MLOX_BIN:-}" ]; then
  cargo build --release -p mlox-cli
  TARGET=${CARGO_TARGET_DIR:-target}
  case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
  export MLOX_BIN=$TARGET/release/mlox
fi
if [ -z "${BENCH_SKIP_MLFLOW:-}" ] && [ ! -x .venv/bin/mlflow ]; then
  bash scripts/install-test-deps.sh
fi
mkdir -p .test-cache
exec node bench/ui/bench.mjs
