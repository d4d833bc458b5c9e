"""`mlox import` of an MLflow database (issue 16): the real `mlflow server` 3.17 is filled
through the official client with everything MLflow keeps, dumped through the client,
stopped; `mlox import` copies its database; `mlox server` on the result, with the same
artifact folder, must give the same dump, field for field (ids, timestamps, histories,
artifact listings, registry, logged models, prompts, webhooks, traces).

The source is a SQLite database, and a PostgreSQL one (given as MLflow's
`postgresql+psycopg2://` form) when MLOX_TEST_POSTGRES_URL names a server where databases
may be created (scripts/pg-test-server.sh); with it, an import into PostgreSQL is tested too.
And a MySQL one (MLflow's `mysql+pymysql://` form) when MLOX_TEST_MYSQL_URL names a
MariaDB or MySQL server where databases may be created (scripts/mysql-test-server.sh);
MLOX_TEST_REQUIRE_MYSQL=1 (CI) makes its absence a failure instead of a skip.

Run: MLOX_BIN=$PWD/target/release/mlox .venv/bin/python -m pytest tests/migrate -q
"""

import contextlib
import os
import sqlite3
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlflow_data  # noqa: E402
import servers  # noqa: E402


def _mlox_bin() -> str:
    binary = Path(os.environ.get("MLOX_BIN", servers.REPO_ROOT / "target" / "release" / "mlox"))
    if not binary.is_absolute():
        binary = servers.REPO_ROOT / binary
    if not binary.exists():
        pytest.exit(f"mlox binary not found at {binary} (build it or set MLOX_BIN)", returncode=4)
    return str(binary)


def _import(source: str, target: str, *extra, env=None, check=True):
    proc = subprocess.run(
        [_mlox_bin(), "import", source, "--backend-store-uri", target, "--quiet", *extra],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"mlox import failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _dump(server) -> dict:
    mlflow.set_tracking_uri(server.url)
    try:
        return mlflow_data.dump(MlflowClient())
    finally:
        server.stop()


PG_URL = os.environ.get("MLOX_TEST_POSTGRES_URL")

# The MLflow servers of these tests encrypt webhook secrets with this Fernet key (32 bytes,
# URL-safe base64), as MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY; mlflow_data.seed's webhook
# has the secret WEBHOOK_SECRET.
WEBHOOK_KEY = "bWxveC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVmZ2g="
WEBHOOK_SECRET = "s3cret"


def _mlflow_env() -> dict:
    return {**os.environ, "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": WEBHOOK_KEY}


@contextlib.contextmanager
def _serving(start, backend_uri: str, *args, **kwargs):
    """A server started by `start` (servers.start_mlox or start_mlflow) on `backend_uri`,
    stopped on exit."""
    os.environ["MLOX_COMPAT_BACKEND_URI"] = backend_uri
    try:
        server = start(*args, **kwargs)
    finally:
        del os.environ["MLOX_COMPAT_BACKEND_URI"]
    try:
        yield server
    finally:
        server.stop()


def _signs_with_the_secret(url: str, webhook_id: str) -> bool:
    """Points the webhook at a receiver on loopback, has the server at `url` send it a
    test delivery, and tells whether the delivery is signed with WEBHOOK_SECRET (MLflow's
    X-MLflow-Signature: HMAC-SHA256 of "<delivery id>.<timestamp>.<body>")."""
    import base64
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        client = MlflowClient(tracking_uri=url)
        client.update_webhook(webhook_id, url=f"http://127.0.0.1:{receiver.server_address[1]}/hook")
        result = client.test_webhook(webhook_id)
        assert result.success, result.error_message
    finally:
        receiver.shutdown()
    assert len(got) == 1
    headers, body = got[0]
    if "x-mlflow-signature" not in headers:
        return False
    signed = f"{headers['x-mlflow-delivery-id']}.{headers['x-mlflow-timestamp']}.".encode() + body
    digest = hmac.new(WEBHOOK_SECRET.encode(), signed, hashlib.sha256).digest()
    return headers["x-mlflow-signature"] == "v1," + base64.b64encode(digest).decode()


def _fresh_pg_database(name: str) -> str:
    """A new empty database on the test PostgreSQL server; its URL."""
    import psycopg2

    con = psycopg2.connect(PG_URL)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    con.close()
    return PG_URL.rsplit("/", 1)[0] + "/" + name


MYSQL_URL = os.environ.get("MLOX_TEST_MYSQL_URL")


def _fresh_mysql_database(name: str) -> str:
    """A new empty database on the test MySQL server; its URL (mysql://)."""
    import pymysql
    from urllib.parse import urlparse

    u = urlparse(MYSQL_URL)
    con = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username,
                          password=u.password or "", autocommit=True)
    with con.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    con.close()
    return MYSQL_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mysql"])
def mlflow_store(request, tmp_path_factory):
    """An MLflow database filled through the official client, its artifact folder
    (tmp/art), the dump of it read from the real MLflow server, and the URI to import."""
    tmp = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    if request.param == "sqlite":
        source = f"sqlite:///{tmp / 'mlflow.db'}"
    elif request.param == "postgresql":
        if not PG_URL:
            pytest.skip("MLOX_TEST_POSTGRES_URL is not set")
        url = _fresh_pg_database("mlflow_import_source")
        source = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        os.environ["MLOX_COMPAT_BACKEND_URI"] = source
    elif request.param == "mysql":
        if not MYSQL_URL:
            if os.environ.get("MLOX_TEST_REQUIRE_MYSQL"):
                pytest.fail("MLOX_TEST_REQUIRE_MYSQL is set but MLOX_TEST_MYSQL_URL is not")
            pytest.skip("MLOX_TEST_MYSQL_URL is not set (scripts/mysql-test-server.sh)")
        url = _fresh_mysql_database("mlflow_import_source")
        source = url.replace("mysql://", "mysql+pymysql://", 1)
        os.environ["MLOX_COMPAT_BACKEND_URI"] = source
    try:
        server = servers.start_mlflow(tmp, workers=1, env=_mlflow_env())
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
    try:
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient()
        ids = mlflow_data.seed(client, tmp)
        dump = mlflow_data.dump(client)
    finally:
        server.stop()
    return tmp, dump, ids, source, request.param


def _mlox_dump_of(tmp: Path, db) -> dict:
    """The dump through `mlox server` on `db` (a SQLite path or a URI), serving the MLflow
    server's artifact folder."""
    os.environ["MLOX_COMPAT_BACKEND_URI"] = db if isinstance(db, str) else f"sqlite:///{db}"
    try:
        return _dump(servers.start_mlox(tmp))
    finally:
        del os.environ["MLOX_COMPAT_BACKEND_URI"]


def _differences(a, b, path="", out=None):
    """The paths where two dumps differ, with both values."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            _differences(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _differences(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: MLflow {a!r} != mlox {b!r}")
    return out


def _assert_same(expected: dict, got: dict):
    diffs = _differences(expected, got)
    assert not diffs, "dumps differ:\n" + "\n".join(diffs[:40])
    assert got == expected


def test_import_gives_the_same_answers(mlflow_store):
    tmp, expected, ids, source, kind = mlflow_store
    before = (tmp / "mlflow.db").read_bytes() if kind == "sqlite" else None
    target = tmp / "import1" / "mlox.db"
    proc = _import(source, f"sqlite:///{target}")
    assert "metric points: " in proc.stdout
    assert "webhook" in proc.stderr  # the secret MLflow encrypted is said to be left out
    if before is not None:
        assert (tmp / "mlflow.db").read_bytes() == before, "the source must only be read"

    # What the dump covers is really there (a dump of nothing would compare equal too).
    assert len(expected["experiments"]) == 4
    assert {r["info"]["run_id"] for r in expected["runs"]} >= {ids["parent"], ids["child"]}
    parent = next(r for r in expected["runs"] if r["info"]["run_id"] == ids["parent"])
    assert len(parent["histories"]["loss"]) == 300
    values = [p[2] for p in parent["histories"]["loss"]]
    # MLflow keeps NaN, and infinities as the largest doubles.
    assert {"NaN", repr(1.7976931348623157e308), repr(-1.7976931348623157e308)} <= set(values)
    assert parent["inputs"] and parent["artifacts"]
    assert expected["logged_models"][0]["metrics"]
    assert len(expected["traces"]) == 2 and expected["traces"][0]["spans"]
    assert expected["prompts"] and expected["webhooks"]
    assert [len(s["versions"]) for s in expected["scorers"]] == [2, 1]
    assert [len(d["records"]) for d in expected["datasets"]] in ([4, 0], [0, 4])
    assert [len(d["experiment_ids"]) for d in expected["datasets"]] in ([2, 1], [1, 2])
    assert len(expected["online_scoring_configs"]) == 1

    _assert_same(expected, _mlox_dump_of(tmp, target))

    # A second import into the same store would duplicate ids: refused, nothing written.
    size = target.stat().st_size
    again = _import(source, f"sqlite:///{target}", check=False)
    assert again.returncode != 0
    assert "already holds" in again.stderr
    assert target.stat().st_size == size


def test_import_into_postgresql(mlflow_store):
    tmp, expected, _, source, kind = mlflow_store
    if not PG_URL:
        pytest.skip("MLOX_TEST_POSTGRES_URL is not set")
    target = _fresh_pg_database(f"mlox_import_target_{kind}")
    _import(source, target)
    _assert_same(expected, _mlox_dump_of(tmp, target))
    # A new experiment gets the id after the imported ones.
    os.environ["MLOX_COMPAT_BACKEND_URI"] = target
    server = servers.start_mlox(tmp)
    os.environ.pop("MLOX_COMPAT_BACKEND_URI")
    try:
        mlflow.set_tracking_uri(server.url)
        new_id = MlflowClient().create_experiment("after-import")
        assert int(new_id) > max(int(e["id"]) for e in expected["experiments"])
    finally:
        server.stop()

    # And back: `mlox export` of the PostgreSQL store, served by MLflow again, answers
    # as the original did (the experiment created above aside).
    exported = tmp / f"export-from-pg-{kind}" / "mlflow.db"
    proc = subprocess.run(
        [_mlox_bin(), "export", f"sqlite:///{exported}", "--backend-store-uri", target, "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    os.environ["MLOX_COMPAT_BACKEND_URI"] = f"sqlite:///{exported}"
    try:
        server = servers.start_mlflow(tmp, workers=1)
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI")
    got = _dump(server)
    got["experiments"] = [e for e in got["experiments"] if e["name"] != "after-import"]
    _assert_same(expected, got)


def test_webhook_secret_comes_across_with_the_key(mlflow_store, tmp_path):
    """With MLflow's MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY, `mlox import` decrypts webhook
    secrets (mlox server then signs with the same secret) and `mlox export` encrypts them
    again (MLflow, run with that key, signs with it too); with another key, the secret is
    said to be undecryptable and left out."""
    tmp, expected, _, source, kind = mlflow_store
    if kind != "sqlite":
        pytest.skip("exercised with the SQLite source")
    hook_id = expected["webhooks"][0]["id"]
    target = tmp_path / "mlox.db"
    proc = _import(source, f"sqlite:///{target}",
                   env={"MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": WEBHOOK_KEY})
    assert "webhook" not in proc.stderr, proc.stderr
    with _serving(servers.start_mlox, f"sqlite:///{target}", tmp) as server:
        assert _signs_with_the_secret(server.url, hook_id)

    other_key = "b3RoZXIta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGlqa2w="
    wrong = _import(source, f"sqlite:///{tmp_path / 'wrong.db'}",
                    env={"MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": other_key})
    assert "could not be decrypted" in wrong.stderr
    # A value that is no Fernet key at all is refused before anything is written.
    bad = _import(source, f"sqlite:///{tmp_path / 'bad.db'}", check=False,
                  env={"MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": "not-a-key"})
    assert bad.returncode != 0 and "Fernet" in bad.stderr
    assert not (tmp_path / "bad.db").exists()

    exported = tmp_path / "export" / "mlflow.db"
    proc = subprocess.run(
        [_mlox_bin(), "export", f"sqlite:///{exported}", "--backend-store-uri",
         f"sqlite:///{target}", "--quiet"],
        capture_output=True, text=True, timeout=600, env=_mlflow_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "webhook" not in proc.stderr, proc.stderr
    with _serving(servers.start_mlflow, f"sqlite:///{exported}", tmp,
                  workers=1, env=_mlflow_env()) as server:
        assert _signs_with_the_secret(server.url, hook_id)


def test_copy_artifacts_of_proxied_locations(mlflow_store, tmp_path):
    """`--copy-artifacts` with `mlflow-artifacts:/` locations: the URIs stay, the files
    are copied from the MLflow server's destination (`--artifacts-source`) to DEST, and
    `mlox server --artifacts-destination DEST` serves them."""
    tmp, expected, ids, source, kind = mlflow_store
    if kind != "sqlite":
        pytest.skip("exercised with the SQLite source")
    dest = tmp_path / "moved-art"
    target = tmp_path / "mlox.db"
    # Without the source destination, proxied locations cannot be read: said clearly.
    first = _import(source, f"sqlite:///{target}", "--copy-artifacts", str(dest), check=False)
    assert first.returncode != 0 and "--artifacts-source" in first.stderr
    assert "import itself is complete" in first.stderr
    # The import is done; the copy alone is run again with what it needs.
    proc = subprocess.run(
        [_mlox_bin(), "import", "--backend-store-uri", f"sqlite:///{target}", "--quiet",
         "--copy-artifacts", str(dest), "--artifacts-source", str(tmp / "art")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "copied " in proc.stdout
    parent = next(r for r in expected["runs"] if r["info"]["run_id"] == ids["parent"])
    rel = parent["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
    assert (dest / rel / "notes" / "hello.txt").read_text() == "hello"
    os.environ["MLOX_COMPAT_ARTIFACTS_DESTINATION"] = str(dest)
    try:
        got = _mlox_dump_of(tmp, target)
    finally:
        del os.environ["MLOX_COMPAT_ARTIFACTS_DESTINATION"]
    _assert_same(expected, got)


def test_interrupted_import_resumes_without_duplicates(mlflow_store):
    tmp, expected, _, source, kind = mlflow_store
    if kind != "sqlite":
        pytest.skip("resumption is exercised with the SQLite source")
    target = tmp / "import2" / "mlox.db"
    # Small batches, stopped after the metric histories are partly written.
    first = _import(source, f"sqlite:///{target}", "--batch-size", "7",
                    env={"MLOX_IMPORT_FAIL_AFTER_BATCHES": "25"}, check=False)
    assert first.returncode != 0 and "interrupted" in first.stderr
    second = _import(source, f"sqlite:///{target}", "--batch-size", "7")
    assert "(resumed)" in second.stdout
    con = sqlite3.connect(target)
    try:
        points = con.execute("SELECT COALESCE(SUM(n), 0) FROM metric_chunks").fetchone()[0]
        src = sqlite3.connect(tmp / "mlflow.db")
        linked = src.execute("SELECT COUNT(*) FROM logged_model_metrics").fetchone()[0]
        total = src.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        src.close()
        assert points == total - linked, "metric points stored twice or lost"
        assert con.execute("SELECT COUNT(*) FROM mlox_import").fetchone()[0] == 0
    finally:
        con.close()
    _assert_same(expected, _mlox_dump_of(tmp, target))


def test_unknown_schema_revision_is_refused(mlflow_store, tmp_path):
    tmp, _, _, _, kind = mlflow_store
    if kind != "sqlite":
        pytest.skip("checked on a copy of the SQLite source")
    copy = tmp_path / "newer.db"
    shutil.copy(tmp / "mlflow.db", copy)
    con = sqlite3.connect(copy)
    con.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    con.commit()
    con.close()
    target = tmp_path / "mlox.db"
    proc = _import(f"sqlite:///{copy}", f"sqlite:///{target}", check=False)
    assert proc.returncode != 0
    assert "f00dfeedbeef" in proc.stderr
    assert not target.exists(), "nothing may be written for a source that cannot be read"


def test_unsupported_source_is_refused_clearly(tmp_path):
    proc = _import("mssql://user:pw@127.0.0.1/mlflow", f"sqlite:///{tmp_path / 'x.db'}",
                   check=False)
    assert proc.returncode != 0
    assert "mssql" in proc.stderr and "not supported" in proc.stderr
    assert not (tmp_path / "x.db").exists()


def test_unreachable_mysql_source_is_said_clearly(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = _import(f"mysql://user:pw@127.0.0.1:{port}/mlflow", f"sqlite:///{tmp_path / 'x.db'}",
                   check=False)
    assert proc.returncode != 0
    assert "cannot connect to the MySQL database" in proc.stderr
    assert not (tmp_path / "x.db").exists()
