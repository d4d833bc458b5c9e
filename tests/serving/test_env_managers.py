"""`mlox models serve --env-manager uv|virtualenv|conda`: the model's own environment is
built from its python_env.yaml (pinned by make_models.py's mlflow.sklearn.save_model:
mlflow==3.17.2, scikit-learn==1.9.1, ... for the Python that saved it) into a
test-private MLOX_CACHE_DIR, the workers run in it, and a second start reuses it.

Building installs mlflow and scikit-learn from PyPI: about a minute with uv, a few with
`python -m venv` + pip, so the timeouts are generous.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from conftest import ANSI, Proc, child_env, mlox_bin

JSON = {"Content-Type": "application/json"}
BUILD_TIMEOUT = 600


def split_body(data: dict) -> str:
    return json.dumps({"dataframe_split": {"columns": data["columns"], "data": data["rows"]}})


def serve(model_dir: Path, manager: str, cache: Path, log: Path, env: dict) -> tuple[Proc, float]:
    env = dict(env)
    env["MLOX_CACHE_DIR"] = str(cache)
    started = time.monotonic()
    p = Proc(
        [mlox_bin(), "models", "serve", "-m", model_dir, "-p", "0", "--workers", "1",
         "--env-manager", manager],
        log,
        env=env,
    )  # fmt: skip
    try:
        p.wait(BUILD_TIMEOUT)
    except BaseException:
        p.stop()
        raise
    return p, time.monotonic() - started


def worker_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def env_dirs(cache: Path) -> list[Path]:
    root = cache / "envs"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def check_workers_run_in(srv: Proc, env_dir: Path):
    """The single worker is the env's python and has its packages (numpy, sklearn native
    libraries) mapped from the env, none from the test venv."""
    [pid] = worker_pids(srv.proc.pid)
    argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    assert Path(argv0) == env_dir / "bin" / "python", argv0
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"VIRTUAL_ENV={env_dir}".encode() in environ
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert str(env_dir / "lib") in maps and "sklearn" in maps, "no package of the env is loaded"
    test_venv = str(Path(sys.prefix).resolve())
    assert test_venv not in maps, "the worker loaded packages from the test's own venv"


def env_manager_roundtrip(manager, model_dir, data, servers, tmp_path, env, kind):
    """Serves `model_dir` twice with `manager` and a fresh cache (checking the build, the
    workers and the reuse); returns the first log's text, the cache, the env folder and
    the first start-up time."""
    cache = tmp_path / "cache"
    want = requests.post(servers.mlox(str(model_dir)).url + "/invocations", headers=JSON,
                         data=split_body(data), timeout=60)  # fmt: skip
    assert want.status_code == 200, want.text

    first, first_secs = serve(model_dir, manager, cache, tmp_path / "first.log", env)
    try:
        [env_dir] = env_dirs(cache)
        marker = env_dir / ".mlox-env-complete"
        assert marker.is_file()
        check_workers_run_in(first, env_dir)
        got = requests.post(first.url + "/invocations", headers=JSON, data=split_body(data), timeout=60)
        assert got.status_code == 200, got.text
        assert got.json() == want.json()
    finally:
        first.stop()
    log = ANSI.sub("", first.log_path.read_text(errors="replace"))
    # Progress of the build is shown (on stderr; Proc merges it into the log).
    assert f"Creating environment {env_dir}" in log and f"{kind})" in log, log[-3000:]
    assert "Installing dependencies: -r requirements.txt" in log, log[-3000:]
    assert "reusing environment" not in log
    marker_mtime = marker.stat().st_mtime_ns
    python_mtime = (env_dir / "bin" / "python").lstat().st_mtime_ns

    second, second_secs = serve(model_dir, manager, cache, tmp_path / "second.log", env)
    try:
        assert env_dirs(cache) == [env_dir]
        check_workers_run_in(second, env_dir)
        got = requests.post(second.url + "/invocations", headers=JSON, data=split_body(data), timeout=60)
        assert got.status_code == 200, got.text
        assert got.json() == want.json()
    finally:
        second.stop()
    log2 = ANSI.sub("", second.log_path.read_text(errors="replace"))
    assert f"reusing environment {env_dir}" in log2, log2[-3000:]
    assert "Creating environment" not in log2 and "Installing" not in log2
    assert marker.stat().st_mtime_ns == marker_mtime
    assert (env_dir / "bin" / "python").lstat().st_mtime_ns == python_mtime
    assert second_secs < first_secs, (first_secs, second_secs)
    return log, cache, env_dir, first_secs


def test_env_manager_uv_builds_caches_and_reuses_the_model_env(models, data, servers, tmp_path):
    env = child_env()  # the test venv's bin (with uv) first on PATH; MLOX_PYTHON set,
    # so a worker started with it instead of the env's python would fail the checks.
    assert shutil.which("uv", path=env["PATH"]), "uv must be on PATH for this test"
    _, cache, env_dir, first_secs = env_manager_roundtrip(
        "uv", models / "logreg", data, servers, tmp_path, env, "uv"
    )
    # The cache is keyed by content: the same model at another path (as a registered
    # version downloaded into another folder would be) reuses the environment.
    copy = tmp_path / "elsewhere" / "logreg"
    shutil.copytree(models / "logreg", copy)
    third, third_secs = serve(copy, "uv", cache, tmp_path / "third.log", env)
    try:
        assert env_dirs(cache) == [env_dir]
        check_workers_run_in(third, env_dir)
    finally:
        third.stop()
    log3 = ANSI.sub("", third.log_path.read_text(errors="replace"))
    assert f"reusing environment {env_dir}" in log3, log3[-3000:]
    assert third_secs < first_secs, (first_secs, third_secs)


def test_env_manager_virtualenv_without_uv_uses_venv_and_pip(models, data, servers, tmp_path):
    """Without uv on PATH, virtualenv builds with `python -m venv` + pip, for the exact
    Python of python_env.yaml (found under pyenv or on PATH)."""
    env = child_env()
    env.pop("MLOX_PYTHON")
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in env["PATH"].split(os.pathsep) if p and p != venv_bin]
    path = [p for p in path if not (Path(p) / "uv").exists()]
    # The interpreter that saved the model (the base of the test venv) provides the exact
    # Python version python_env.yaml asks for.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).resolve().parent), *path])
    assert shutil.which("uv", path=env["PATH"]) is None
    env_manager_roundtrip("virtualenv", models / "logreg", data, servers, tmp_path, env, "venv")


def test_env_manager_conda_without_conda_is_a_clear_error(models, tmp_path):
    env = child_env()
    env.pop("MLFLOW_CONDA_HOME", None)
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if p and not (Path(p) / "conda").exists()
    )
    env["MLOX_CACHE_DIR"] = str(tmp_path / "cache")
    started = time.monotonic()
    r = subprocess.run(
        [mlox_bin(), "models", "serve", "-m", models / "logreg", "-p", "0", "--env-manager", "conda"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert r.returncode != 0
    assert time.monotonic() - started < 30
    err = ANSI.sub("", r.stderr)
    assert "conda was not found" in err and "--env-manager" in err, err
    assert not (tmp_path / "cache" / "envs").exists() or not any((tmp_path / "cache" / "envs").iterdir())
