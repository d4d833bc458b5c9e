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
from test_import import PG_URL, _assert_same, _fresh_pg_database, _mlox_bin  # noqa: E402


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
    assert sorted(len(d["records"]) for d in expected["datasets"]) == [0, 4]
    assert len(expected["online_scoring_configs"]) == 1

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


def _export_to(target: str, source: Path, check=True):
    proc = subprocess.run(
        [_mlox_bin(), "export", target, "--backend-store-uri", f"sqlite:///{source}", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"mlox export failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def _pg_shape(url: str):
    """What PostgreSQL's catalogs say of a database's current schema: columns (type,
    length, nullability, default, generation), constraints, indexes, sequences, triggers
    and the schema revision."""
    import psycopg2

    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            def rows(sql):
                cur.execute(sql)
                return sorted(tuple(r) for r in cur.fetchall())
            return {
                "columns": rows(
                    "SELECT table_name, column_name, data_type, character_maximum_length, "
                    "is_nullable, column_default, is_generated, generation_expression, "
                    "is_identity FROM information_schema.columns "
                    "WHERE table_schema = current_schema()"),
                "constraints": rows(
                    "SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid) "
                    "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                    "JOIN pg_namespace n ON n.oid = t.relnamespace "
                    "WHERE n.nspname = current_schema()"),
                "indexes": rows(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema()"),
                "sequences": rows(
                    "SELECT sequence_name, data_type, start_value, increment FROM "
                    "information_schema.sequences WHERE sequence_schema = current_schema()"),
                "triggers": rows(
                    "SELECT event_object_table, trigger_name, event_manipulation, "
                    "action_statement FROM information_schema.triggers "
                    "WHERE trigger_schema = current_schema()"),
                "revision": rows("SELECT version_num FROM alembic_version"),
            }
    finally:
        con.close()


@pytest.mark.skipif(not PG_URL, reason="MLOX_TEST_POSTGRES_URL is not set")
def test_postgresql_export_schema_is_mlflows(mlox_store):
    tmp, _, _ = mlox_store
    reference = _fresh_pg_database("mlflow_export_reference")
    subprocess.run(
        [str(Path(sys.executable).parent / "mlflow"), "db", "upgrade",
         reference.replace("postgresql://", "postgresql+psycopg2://", 1)],
        check=True, capture_output=True, timeout=600,
    )
    exported = _fresh_pg_database("mlflow_export_shape")
    _export_to(exported, tmp / "mlox.db")
    ours, theirs = _pg_shape(exported), _pg_shape(reference)
    for part in theirs:
        assert ours[part] == theirs[part], f"the {part} differ"


@pytest.mark.skipif(not PG_URL, reason="MLOX_TEST_POSTGRES_URL is not set")
def test_mlflow_serves_a_postgresql_export_with_the_same_answers(mlox_store):
    tmp, expected, _ = mlox_store
    target = _fresh_pg_database("mlflow_export_target")
    before = (tmp / "mlox.db").read_bytes()
    proc = _export_to(target, tmp / "mlox.db")
    assert "metric points: " in proc.stdout
    assert (tmp / "mlox.db").read_bytes() == before, "the store must only be read"
    # A database that is not empty is refused, and left as it was.
    again = _export_to(target, tmp / "mlox.db", check=False)
    assert again.returncode != 0 and "not empty" in again.stderr
    shape = _pg_shape(target)

    os.environ["MLOX_COMPAT_BACKEND_URI"] = target.replace(
        "postgresql://", "postgresql+psycopg2://", 1)
    try:
        server = servers.start_mlflow(tmp, workers=1)
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
    try:
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient()
        got = mlflow_data.dump(client)
        # New experiments continue after the exported ids, as in a database MLflow filled.
        new_id = client.create_experiment("after-export")
        assert int(new_id) > max(int(e["id"]) for e in expected["experiments"])
    finally:
        server.stop()
    _assert_same(expected, got)
    assert _pg_shape(target) == shape, "MLflow must open the export without migrating it"
