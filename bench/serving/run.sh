#!/usr/bin/env bash
# bench/serving: mlox models serve vs mlflow models serve; writes bench/SERVING_RESULTS.md.
#   bench/serving/run.sh [--seconds 5] [--workers 2]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
"$ROOT/scripts/install-test-deps.sh" --no-pg
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [[ -z ${MLOX_BIN:-} || -z ${LOADGEN_BIN:-} ]]; then
    cargo build --release -p mlox-cli -p mlox-loadgen --quiet
fi
export MLOX_BIN=${MLOX_BIN:-$TARGET/release/mlox}
export LOADGEN_BIN=${LOADGEN_BIN:-$TARGET/release/mlox-loadgen}
export PATH=$ROOT/.venv/bin:$PATH
exec "$ROOT/.venv/bin/python" bench/serving/run.py "$@"
