"""The server helpers of the compat suite (tests/compat/conftest.py), loaded under another
module name so that this folder needs no conftest of its own."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "compat_servers", Path(__file__).resolve().parents[1] / "compat" / "conftest.py"
)
compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compat)

start_mlflow = compat._start_mlflow
start_mlox = compat._start_mlox
REPO_ROOT = compat.REPO_ROOT
