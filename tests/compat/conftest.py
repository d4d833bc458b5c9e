"""Session setup for the MLflow compatibility suite.

The suite talks to a tracking server only through the official ``mlflow`` client
(plus a few raw HTTP checks with ``requests``). Which server is started is chosen by
environment variables:

* ``MLOX_COMPAT_TARGET=mlox`` (default): runs ``$MLOX_BIN`` (default
  ``target/release/mlox``) with a fresh SQLite store, or the store named by
  ``MLOX_COMPAT_BACKEND_URI`` (e.g. a PostgreSQL URL from scripts/pg-test-server.sh).
* ``MLOX_COMPAT_TARGET=mlflow``: runs the reference ``mlflow server`` from the same
  virtualenv as the interpreter running pytest.
* ``MLOX_COMPAT_URL=http://host:port``: use an already running server, start nothing.
* ``MLOX_COMPAT_STATIC_PREFIX=/mlflow``: start either server with ``--static-prefix`` and
  point the client at ``http://host:port/mlflow`` (hosting under a path).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

# Fail fast instead of retrying with exponential backoff when the server misbehaves.
# (Set before mlflow reads them; these are ordinary client configuration variables.)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
# Keep the client from contacting anything but the tracking server.
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
# Traces are exported when their root span ends, so a test reads them back at once.
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# The servers inherit these: webhooks may target the test receiver (http on loopback), and
# MLflow re-reads webhook lists on every event instead of caching them for 60 s.
os.environ.setdefault("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
os.environ.setdefault("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
os.environ.setdefault("MLFLOW_WEBHOOK_CACHE_TTL", "0")

MLOX_START_TIMEOUT = 30.0
STATIC_PREFIX = os.environ.get("MLOX_COMPAT_STATIC_PREFIX", "")
_PREFIX_ARGS = ["--static-prefix", STATIC_PREFIX] if STATIC_PREFIX else []
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MLFLOW_START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """A server subprocess whose combined output is copied to a log file."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.argv = argv
        self.log_path = log_path
        self.url: str | None = None
        self._url_found = threading.Event()
        self._log = open(log_path, "w", buffering=1)
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
            start_new_session=True,  # own process group: we can kill workers too
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._log.write(line)
            plain = _ANSI.sub("", line)
            if self.url is None and "Listening on" in plain:
                m = re.search(r"https?://\S+", plain[plain.index("Listening on") :])
                if m:
                    self.url = m.group(0).rstrip("/.,;'\")")
                    self._url_found.set()
        self._url_found.set()  # EOF: wake up waiters

    def wait_for_url(self, timeout: float) -> str:
        self._url_found.wait(timeout)
        if self.url is None:
            self.fail(f"did not print 'Listening on http://...' within {timeout:.0f} s")
        return self.url

    def wait_healthy(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"exited with code {self.proc.returncode}")
            try:
                r = requests.get(f"{url}/health", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.2)
        self.fail(f"GET {url}/health not 200 within {timeout:.0f} s (last: {last})")

    def fail(self, why: str) -> None:
        self.stop()
        try:
            tail = self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            tail = ""
        pytest.exit(
            f"server {' '.join(self.argv)} {why}\n--- log tail ({self.log_path}) ---\n{tail}",
            returncode=3,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._reader.join(5)
        self._log.close()


def _start_mlox(tmp: Path, extra_args=(), env=None) -> _Server:
    binary = Path(os.environ.get("MLOX_BIN", REPO_ROOT / "target" / "release" / "mlox"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not binary.exists():
        pytest.exit(f"mlox binary not found at {binary} (build it or set MLOX_BIN)", returncode=4)
    backend = os.environ.get("MLOX_COMPAT_BACKEND_URI") or f"sqlite:///{tmp}/mlox.db"
    argv = [
        str(binary), "server",
        "--host", "127.0.0.1",
        "--port", "0",
        "--backend-store-uri", backend,
        # Proxied artifacts, as the reference server below; MLOX_COMPAT_ARTIFACTS_DESTINATION
        # points them elsewhere (e.g. s3://bucket/prefix with MLFLOW_S3_ENDPOINT_URL set).
        "--artifacts-destination",
        os.environ.get("MLOX_COMPAT_ARTIFACTS_DESTINATION") or str(tmp / "art"),
        *extra_args,
        *_PREFIX_ARGS,
    ]  # fmt: skip
    srv = _Server(argv, tmp / "server.log", env=env)
    url = srv.wait_for_url(MLOX_START_TIMEOUT)
    srv.wait_healthy(url, MLOX_START_TIMEOUT)
    return srv


def _start_mlflow(tmp: Path, extra_args=(), env=None, workers: int = 2) -> _Server:
    mlflow_exe = Path(sys.executable).parent / "mlflow"
    if not mlflow_exe.exists():
        found = shutil.which("mlflow")
        if not found:
            pytest.exit("mlflow executable not found next to the Python interpreter", returncode=4)
        mlflow_exe = Path(found)
    port = _free_port()
    backend = os.environ.get("MLOX_COMPAT_BACKEND_URI") or f"sqlite:///{tmp}/mlflow.db"
    argv = [
        str(mlflow_exe), "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
        "--backend-store-uri", backend,
        "--artifacts-destination", str(tmp / "art"),
        *extra_args,
        *_PREFIX_ARGS,
    ]  # fmt: skip
    srv = _Server(argv, tmp / "server.log", env=env)
    srv.url = f"http://127.0.0.1:{port}{STATIC_PREFIX}"
    srv.wait_healthy(srv.url, MLFLOW_START_TIMEOUT)
    return srv


def pytest_report_header(config):
    target = os.environ.get("MLOX_COMPAT_URL") or os.environ.get("MLOX_COMPAT_TARGET", "mlox")
    return f"mlox compat target: {target}"


# The pid of the mlox server under test (for memory checks), when this session started it.
SERVER_PID: dict = {}


@pytest.fixture(scope="session")
def server_pid(tracking_uri):
    return SERVER_PID.get("pid")


@pytest.fixture(scope="session")
def target() -> str:
    """'mlox' or 'mlflow' (or 'url' when MLOX_COMPAT_URL points at a running server)."""
    if os.environ.get("MLOX_COMPAT_URL"):
        return "url"
    return os.environ.get("MLOX_COMPAT_TARGET", "mlox")


@pytest.fixture(scope="session", autouse=True)
def tracking_uri(target: str):
    """Start the server under test and point the mlflow client at it."""
    import mlflow

    server = None
    tmp = Path(tempfile.mkdtemp(prefix="mlox-compat-"))
    try:
        if target == "url":
            url = os.environ["MLOX_COMPAT_URL"].rstrip("/")
        elif target == "mlox":
            server = _start_mlox(tmp)
            url = server.url
            SERVER_PID["pid"] = server.proc.pid
        elif target == "mlflow":
            server = _start_mlflow(tmp)
            url = server.url
        else:
            pytest.exit(f"unknown MLOX_COMPAT_TARGET={target!r} (mlox|mlflow)", returncode=4)
        os.environ["MLFLOW_TRACKING_URI"] = url
        mlflow.set_tracking_uri(url)
        yield url
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        if server is not None:
            server.stop()
        if os.environ.get("MLOX_COMPAT_KEEP_TMP"):
            print(f"\nmlox compat: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def start_server(target, tracking_uri):
    """Starts another server of the target's kind with extra flags and environment
    (``start(["--allowed-hosts", "x"], env={...})`` returns its URL), each with a fresh
    SQLite store unless ``share_backend=True`` (then on ``MLOX_COMPAT_BACKEND_URI`` when
    set, e.g. PostgreSQL); all are stopped when the module ends."""
    if target not in ("mlox", "mlflow"):
        pytest.skip("needs a server started by the suite")
    started: list[tuple[_Server, Path]] = []

    def start(extra_args=(), env: dict[str, str] | None = None, share_backend=False) -> str:
        tmp = Path(tempfile.mkdtemp(prefix="mlox-compat-extra-"))
        full_env = {**os.environ, **(env or {})}
        full_env.pop("MLFLOW_TRACKING_URI", None)
        saved = None if share_backend else os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
        try:
            if target == "mlox":
                srv = _start_mlox(tmp, extra_args, full_env)
            else:
                srv = _start_mlflow(tmp, extra_args, full_env, workers=1)
        finally:
            if saved is not None:
                os.environ["MLOX_COMPAT_BACKEND_URI"] = saved
        started.append((srv, tmp))
        return srv.url

    yield start
    for srv, tmp in started:
        srv.stop()
        if not os.environ.get("MLOX_COMPAT_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)


AUTH_ADMIN = "admin"
AUTH_ADMIN_PASSWORD = "admin-password-1234"


@pytest.fixture(scope="module")
def auth_server(start_server, tmp_path_factory):
    """A server of the target's kind with the basic-auth app (``--app-name basic-auth``),
    configured by an ini file named by ``MLFLOW_AUTH_CONFIG_PATH`` (default permission
    READ) and ``MLFLOW_AUTH_ADMIN_PASSWORD``. Returns its URL."""
    tmp = tmp_path_factory.mktemp("auth")
    ini = tmp / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{tmp}/basic_auth.db\n"
        f"admin_username = {AUTH_ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": AUTH_ADMIN_PASSWORD,
        # MLflow requires it for the CSRF protection of its signup form; mlox ignores it.
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "mlox-compat-secret",
    }
    # On the suite's backend: the PostgreSQL run of the suite covers the auth tables too.
    return start_server(["--app-name", "basic-auth"], env=env, share_backend=True)


@pytest.fixture
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri)


@pytest.fixture
def base_url(tracking_uri) -> str:
    return tracking_uri


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def exp_name() -> str:
    return unique("compat")


@pytest.fixture
def experiment_id(client, exp_name) -> str:
    """A fresh experiment for the test."""
    return client.create_experiment(exp_name)


@pytest.fixture(autouse=True)
def _no_active_run():
    """Make sure a failing test doesn't leak an active fluent run into the next one."""
    import mlflow

    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


def server_message(exc) -> str:
    """The server's error message (the client prefixes it with '<ERROR_CODE>: ')."""
    msg = exc.message
    prefix = f"{exc.error_code}: "
    return msg[len(prefix) :] if msg.startswith(prefix) else msg
