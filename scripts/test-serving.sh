#!/usr/bin/env bash
# Model-serving tests (issue #5): Rust unit tests of mlox-serving, then tests/serving
# (pytest) driving the real binaries: `mlox server`, `mlox models serve|predict|...` and
# the reference `mlflow models serve --env-manager local`.
#
#   scripts/test-serving.sh            # builds mlox unless MLOX_BIN is set
#   MLOX_BIN=/path/to/mlox scripts/test-serving.sh
#
# Honours CARGO_TARGET_DIR (default: target/). Installs the Python test deps
# (tests/compat/requirements.txt: mlflow, scikit-learn, skl2onnx, onnxruntime, pyarrow)
# into .venv with scripts/install-test-deps.sh --no-pg.
# tests/serving/test_env_managers.py builds the model's environment with uv and with
# venv + pip (--env-manager uv|virtualenv): it needs PyPI and takes ~4-5 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

"$ROOT/scripts/install-test-deps.sh" --no-pg
PY=$ROOT/.venv/bin/python

status=0
echo "== mlox-serving unit tests" >&2
cargo test --release -p mlox-serving --quiet || status=1

if [[ -z ${MLOX_BIN:-} ]]; then
    echo "== building mlox (release)" >&2
    cargo build --release -p mlox-cli --quiet
    MLOX_BIN=$TARGET/release/mlox
fi
export MLOX_BIN
# The native ONNX path finds libonnxruntime in the venv's onnxruntime package.
export PATH=$ROOT/.venv/bin:$PATH

echo "== tests/serving against $MLOX_BIN" >&2
"$PY" -m pytest tests/serving -q -p no:cacheprovider || status=1
exit $status
