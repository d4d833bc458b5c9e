"""Fixtures for the model-serving suite: trained models, a real `mlox server` holding
logged and registered copies, and helpers that start `mlox models serve` and the
reference `mlflow models serve` on the same model directories.

Environment: MLOX_BIN (default: $CARGO_TARGET_DIR/release/mlox or target/release/mlox).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def mlox_bin() -> Path:
    if os.environ.get("MLOX_BIN"):
        return Path(os.environ["MLOX_BIN"]).resolve()
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return (target / "release" / "mlox").resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict:
    env = dict(os.environ)
    # Workers and helpers use the Python running the tests (the venv with mlflow).
    env["MLOX_PYTHON"] = sys.executable
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


class Proc:
    """A server subprocess; prints go to a log file; the URL is read from 'Listening on'."""

    def __init__(self, argv, log: Path, env=None, url: str | None = None):
        self.argv = [str(a) for a in argv]
        self.log_path = log
        self.url = url
        self._found = threading.Event()
        self._log = open(log, "w", buffering=1)
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or child_env(),
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self):
        for line in self.proc.stdout:
            self._log.write(line)
            plain = ANSI.sub("", line)
            if self.url is None and "Listening on" in plain:
                m = re.search(r"https?://[0-9.:a-z]+", plain[plain.index("Listening on") :])
                if m:
                    self.url = m.group(0)
                    self._found.set()
        self._found.set()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def wait(self, timeout=180, path="/ping"):
        deadline = time.monotonic() + timeout
        if self.url is None:
            self._found.wait(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv} exited {self.proc.returncode}:\n{self.log_tail()}")
            if self.url:
                try:
                    if requests.get(self.url + path, timeout=2).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.argv} not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self._t.join(5)
        self._log.close()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serving")


@pytest.fixture(scope="session")
def tracking(workdir):
    """A real `mlox server` with proxied artifacts."""
    binary = mlox_bin()
    if not binary.exists():
        pytest.exit(f"mlox binary not found at {binary}: build it or set MLOX_BIN", returncode=4)
    srv = Proc(
        [binary, "server", "--host", "127.0.0.1", "--port", "0",
         "--backend-store-uri", f"sqlite:///{workdir}/mlox.db",
         "--artifacts-destination", workdir / "artifacts"],
        workdir / "tracking.log",
    )  # fmt: skip
    srv.wait(60, "/health")
    yield srv.url
    srv.stop()


@pytest.fixture(scope="session")
def models(workdir, tracking) -> Path:
    """Trains the models, saves them under workdir/models, logs copies to the server."""
    out = workdir / "models"
    subprocess.run(
        [sys.executable, HERE / "make_models.py", out, "--tracking-uri", tracking],
        check=True,
        env=child_env(),
    )
    return out


@pytest.fixture(scope="session")
def data(models) -> dict:
    return json.loads((models / "data.json").read_text())


@pytest.fixture(scope="session")
def logged(models) -> dict:
    return json.loads((models / "logged.json").read_text())


class Servers:
    """Starts servers on demand and keeps them for the session."""

    def __init__(self, workdir: Path, tracking: str):
        self.workdir = workdir
        self.tracking = tracking
        self.started: dict[str, Proc] = {}
        self.cache = workdir / "cache"

    def mlox(self, uri: str, *extra) -> Proc:
        key = "mlox " + uri + " " + " ".join(map(str, extra))
        if key not in self.started:
            env = child_env()
            env["MLFLOW_TRACKING_URI"] = self.tracking
            env["MLOX_CACHE_DIR"] = str(self.cache)
            n = len(self.started)
            p = Proc(
                [mlox_bin(), "models", "serve", "-m", uri, "-p", "0", *extra],
                self.workdir / f"mlox-serve-{n}.log",
                env=env,
            )
            self.started[key] = p.wait()
        return self.started[key]

    def mlflow(self, model_dir: Path) -> Proc:
        key = f"mlflow {model_dir}"
        if key not in self.started:
            port = free_port()
            n = len(self.started)
            p = Proc(
                [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_dir,
                 "-p", port, "-h", "127.0.0.1", "--env-manager", "local"],
                self.workdir / f"mlflow-serve-{n}.log",
                url=f"http://127.0.0.1:{port}",
            )  # fmt: skip
            self.started[key] = p.wait(240)
        return self.started[key]

    def stop_all(self):
        for p in self.started.values():
            p.stop()


@pytest.fixture(scope="session")
def servers(workdir, tracking):
    s = Servers(workdir, tracking)
    yield s
    s.stop_all()
