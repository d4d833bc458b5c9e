"""MLflow projects: examples/sklearn_elasticnet is a real MLflow project.

The same project runs with MLflow's own launcher (`mlflow run`) against the server under
test, and `mlox run` records the same run as `mlflow run` does (parameters, project tags,
source and git tags, status). Both use `--env-manager local` (this venv already has the
example's dependencies), so no environment is built here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, unique

EXAMPLE = REPO_ROOT / "examples" / "sklearn_elasticnet"
VENV_BIN = Path(sys.executable).parent
# Tags that both launchers set the same way (`mlflow run` sets no mlflow.project.env for
# --env-manager local; mlox records "local").
SHARED_TAGS = [
    "mlflow.user",
    "mlflow.source.name",
    "mlflow.source.type",
    "mlflow.source.git.commit",
    "mlflow.project.entryPoint",
    "mlflow.project.backend",
    "mlflow.runName",
]


def _mlox_bin() -> Path | None:
    binary = Path(os.environ.get("MLOX_BIN", REPO_ROOT / "target" / "release" / "mlox"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    return binary if binary.exists() else None


def _launch(argv: list[str], tracking_uri: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MLOX_CACHE_DIR"] = str(tmp_path / "mlox-cache")
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    proc = subprocess.run(
        argv,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _only_run(client, experiment_id: str):
    runs = client.search_runs([experiment_id])
    assert len(runs) == 1, runs
    return runs[0]


def _run_args(launcher: list[str], experiment_id: str, run_name: str) -> list[str]:
    return [
        *launcher,
        "run",
        str(EXAMPLE),
        "--env-manager", "local",
        "-P", "alpha=0.4",
        "-P", "note=hello world",
        "--experiment-id", experiment_id,
        "--run-name", run_name,
    ]  # fmt: skip


def _check_example_run(run, run_name: str) -> None:
    assert run.info.status == "FINISHED"
    assert run.info.run_name == run_name
    params = run.data.params
    assert params["alpha"] == "0.4"
    assert params["l1_ratio"] == "0.1"
    assert params["max_iter"] == "1000"
    # MLflow logs undeclared parameters shell-quoted.
    assert params["note"] == "'hello world'"
    assert params["n_train"] == "331"
    assert set(run.data.metrics) >= {"rmse", "mae", "r2"}
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.backend"] == "local"


def test_example_runs_with_mlflow_run(client, tracking_uri, tmp_path):
    exp = client.create_experiment(unique("projects-mlflow"))
    _launch(_run_args([str(VENV_BIN / "mlflow")], exp, "by-mlflow"), tracking_uri, tmp_path)
    run = _only_run(client, exp)
    _check_example_run(run, "by-mlflow")
    models = client.search_logged_models(experiment_ids=[exp])
    assert [m.source_run_id for m in models] == [run.info.run_id]


def test_mlox_run_records_what_mlflow_run_records(client, tracking_uri, tmp_path):
    mlox = _mlox_bin()
    if mlox is None:
        pytest.skip("mlox binary not built (set MLOX_BIN)")
    exp_mlflow = client.create_experiment(unique("projects-ref"))
    exp_mlox = client.create_experiment(unique("projects-mlox"))
    _launch(_run_args([str(VENV_BIN / "mlflow")], exp_mlflow, "same"), tracking_uri, tmp_path)
    proc = _launch(_run_args([str(mlox)], exp_mlox, "same"), tracking_uri, tmp_path)
    assert "ElasticNet (alpha=0.400000" in proc.stdout, "the script's output streams through"

    ref = _only_run(client, exp_mlflow)
    ours = _only_run(client, exp_mlox)
    _check_example_run(ours, "same")
    assert ours.data.params == ref.data.params
    for key in SHARED_TAGS:
        assert ours.data.tags.get(key) == ref.data.tags.get(key), key
    assert ours.data.tags["mlflow.project.env"] == "local"
    assert set(ours.data.metrics) == set(ref.data.metrics)
    assert ours.info.user_id == ref.info.user_id


def test_mlox_run_type_error_matches_no_run(client, tracking_uri, tmp_path):
    mlox = _mlox_bin()
    if mlox is None:
        pytest.skip("mlox binary not built (set MLOX_BIN)")
    exp = client.create_experiment(unique("projects-bad"))
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri)
    proc = subprocess.run(
        [str(mlox), "run", str(EXAMPLE), "--env-manager", "local", "-P", "alpha=lots",
         "--experiment-id", exp],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Parameter 'alpha' is of type float, but its value 'lots' is not a number" in proc.stderr
    assert client.search_runs([exp]) == []
