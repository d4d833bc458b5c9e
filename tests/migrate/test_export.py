"""`mlox export` to MLflow (issue 16, the way out): `mlox server` is filled through the
official client with everything MLflow keeps, dumped through the client, stopped;
`mlox export` writes an MLflow database; the real `mlflow server` 3.17.2 on it, with the
same artifact folder, must open it without migrating and give the same dump, field for
field.

The exported schema is also compared, table by table (columns with types, nullability
and defaults, primary keys, indexes, foreign keys, triggers, the schema revision), with
a database `mlflow db upgrade` creates.

Run: MLOX_BIN=$PWD/target/release/mlox .venv/bin/python -m pytest tests/migrate/test_export.py -q
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlflow_data  # noqa: E402
import servers  # noqa: E402
from test_import import _assert_same, _mlox_bin  # noqa: E402


def _export(target: Path, source: Path, check=True):
    proc = subprocess.run(
        [_mlox_bin(), "export", f"sqlite:///{target}", "--backend-store-uri",
         f"sqlite:///{source}", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"mlox export failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def mlox_store(tmp_path_factory):
    """An mlox store filled through the official client, its artifact folder (tmp/art)
    and the dump of it read from `mlox server`."""
    tmp = tmp_path_factory.mktemp("mlox-export")
    os.environ["MLOX_COMPAT_BACKEND_URI"] = f"sqlite:///{tmp / 'mlox.db'}"
    try:
        server = servers.start_mlox(tmp)
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
    try:
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient()
        ids = mlflow_data.seed(client, tmp)
        dump = mlflow_data.dump(client)
    finally:
        server.stop()
    return tmp, dump, ids


def _shape(path: Path):
    """Everything SQLite reports about a database's tables: columns (type, NOT NULL,
    default, key position, hidden/generated), indexes with their columns and order,
    foreign keys with actions; and the triggers."""
    con = sqlite3.connect(path)
    try:
        tables = {}
        for (t,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ):
            cols = con.execute(f"PRAGMA table_xinfo('{t}')").fetchall()
            indexes = sorted(
                (
                    "<auto>" if name.startswith("sqlite_autoindex") else name, unique, origin,
                    tuple((c[2], c[3]) for c in con.execute(f"PRAGMA index_xinfo('{name}')")
                          if c[5]),
                )
                for _, name, unique, origin, _ in con.execute(f"PRAGMA index_list('{t}')")
            )
            fks = sorted(tuple(r[2:]) for r in con.execute(f"PRAGMA foreign_key_list('{t}')"))
            tables[t] = {"columns": cols, "indexes": indexes, "foreign_keys": fks}
        triggers = sorted(con.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall())
        return tables, triggers
    finally:
        con.close()


def test_export_schema_is_mlflows(mlox_store, tmp_path):
    tmp, _, _ = mlox_store
    exported = tmp_path / "exported.db"
    _export(exported, tmp / "mlox.db")
    reference = tmp_path / "reference.db"
    mlflow_exe = Path(sys.executable).parent / "mlflow"
    subprocess.run([str(mlflow_exe), "db", "upgrade", f"sqlite:///{reference}"],
                   check=True, capture_output=True, timeout=300)
    ours, theirs = _shape(exported), _shape(reference)
    assert sorted(ours[0]) == sorted(theirs[0]), "the tables differ"
    for table in sorted(theirs[0]):
        assert ours[0][table] == theirs[0][table], f"table {table} differs"
    assert ours[1] == theirs[1], "the triggers differ"
    head = sqlite3.connect(reference).execute("SELECT version_num FROM alembic_version").fetchall()
    assert sqlite3.connect(exported).execute(
        "SELECT version_num FROM alembic_version").fetchall() == head


def test_mlflow_serves_the_export_with_the_same_answers(mlox_store):
    tmp, expected, ids = mlox_store
    # What the dump covers is really there (a dump of nothing would compare equal too).
    assert len(expected["experiments"]) == 4
    parent = next(r for r in expected["runs"] if r["info"]["run_id"] == ids["parent"])
    assert len(parent["histories"]["loss"]) == 300
    assert parent["inputs"] and parent["artifacts"]
    assert expected["logged_models"][0]["metrics"]
    assert len(expected["traces"]) == 2 and expected["traces"][0]["spans"]
    assert expected["prompts"] and expected["webhooks"]

    target = tmp / "export" / "mlflow.db"
    before = (tmp / "mlox.db").read_bytes()
    proc = _export(target, tmp / "mlox.db")
    assert "metric points: " in proc.stdout
    assert "webhook" in proc.stderr  # the secret MLflow would encrypt is said to be left out
    assert (tmp / "mlox.db").read_bytes() == before, "the store must only be read"
    assert not list(target.parent.glob("*.partial"))
    schema_before = sqlite3.connect(target).execute(
        "SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()

    os.environ["MLOX_COMPAT_BACKEND_URI"] = f"sqlite:///{target}"
    try:
        server = servers.start_mlflow(tmp, workers=1)
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
    try:
        mlflow.set_tracking_uri(server.url)
        got = mlflow_data.dump(MlflowClient())
    finally:
        server.stop()
    _assert_same(expected, got)
    # MLflow opened it as it was: no migration, no table created or altered.
    con = sqlite3.connect(target)
    assert con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() \
        == schema_before


def test_export_refuses_an_existing_file(mlox_store, tmp_path):
    tmp, _, _ = mlox_store
    target = tmp_path / "there.db"
    target.write_bytes(b"keep me")
    proc = _export(target, tmp / "mlox.db", check=False)
    assert proc.returncode != 0 and "already exists" in proc.stderr
    assert target.read_bytes() == b"keep me"
