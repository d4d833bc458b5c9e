#!/usr/bin/env bash
# Browser tests of the web UI (ui/tests): installs Debian's chromium (if missing) and the
# UI's npm packages, then drives the real mlox binary with playwright-core.
# MLOX_BIN picks the binary (default: $CARGO_TARGET_DIR or target/, release/mlox);
# without MLOX_BIN the binary is (re)built first. MLOX_PYTHON (default .venv/bin/python)
# runs the official MLflow client that logs part of the data. Screenshots go to
# .test-cache/ui-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  echo "installing chromium (apt)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! command -v npm >/dev/null; then
  echo "npm not found: the UI tests need Node.js (>= 18) and npm" >&2
  exit 1
fi
(cd ui && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; })

TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
if [ -z "${MLOX_BIN:-}" ]; then
  # Up to date in seconds when nothing changed; rebuilds the embedded UI when ui/ did.
  cargo build --release -p mlox-cli
  MLOX_BIN=$TARGET/release/mlox
fi
export MLOX_BIN
# ui/tests/mlflow.test.mjs logs its data with the official client (mlflow, scikit-learn).
export MLOX_PYTHON=${MLOX_PYTHON:-$ROOT/.venv/bin/python}
if ! "$MLOX_PYTHON" -c 'import mlflow, sklearn' 2>/dev/null; then
  echo "$MLOX_PYTHON cannot import mlflow and sklearn: run scripts/test.sh once (it builds .venv from tests/compat/requirements.txt) or set MLOX_PYTHON" >&2
  exit 1
fi
echo "UI tests against $MLOX_BIN"
cd ui
exec node --test --test-concurrency=1 tests/
