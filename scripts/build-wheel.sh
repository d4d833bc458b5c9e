#!/usr/bin/env bash
# Builds the `pip install mlox` wheel into dist/: the mlox binary (stripped, web UI
# embedded) packaged by maturin (pyproject.toml, bindings = "bin"), tagged manylinux for
# the oldest glibc its symbols need.
#
#   scripts/build-wheel.sh            # then: pip install dist/mlox-*.whl
#
# It uses the release profile and target folder of `cargo build --release`, so after one
# the wheel costs a relink. Needs maturin (installed into .venv if missing), cargo, and
# npm for the UI unless ui/dist is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
maturin=$venv/bin/maturin
if [[ ! -x $maturin ]]; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q "maturin==1.16.0"
fi
rm -f dist/mlox-*.whl
"$maturin" build --release --out dist "$@"
ls -l dist/mlox-*.whl
