"""`mlox import` of an MLflow file store (`mlruns/`, issue 16): the official client 3.17
writes a file store (tracking URI a folder, MLFLOW_ALLOW_FILE_STORE=true) with
experiments, runs, params, tags, metric histories (NaN, infinities), datasets and inputs,
logged models, the registry (versions, stages, aliases, prompts) and traces with spans
and assessments, and dumps it through the client; `mlox import ./mlruns`; `mlox server`
on the result must give the same dump (the file store has no webhooks).

Run: MLOX_BIN=$PWD/target/release/mlox .venv/bin/python -m pytest tests/migrate -q
"""

import copy
import os
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlflow_data  # noqa: E402
import servers  # noqa: E402
from test_import import _assert_same, _import, _mlox_dump_of  # noqa: E402

BIG = repr(1.7976931348623157e308)


@pytest.fixture(scope="module")
def file_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-file-store")
    root = tmp / "mlruns"
    saved = {k: os.environ.get(k) for k in ("MLFLOW_ALLOW_FILE_STORE",
                                             "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")}
    # MLflow 3.17 refuses a file store unless allowed; traces are written synchronously so
    # that the assessments logged right after find them.
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    try:
        mlflow.set_tracking_uri(str(root))
        ids = mlflow_data.seed(MlflowClient(), tmp, webhooks=False)
        # Read back through `mlflow server` on the file store, so that both dumps come
        # over the REST API (the client's direct file-store reads type a few fields
        # differently: versions as numbers, None for empty strings).
        os.environ["MLOX_COMPAT_BACKEND_URI"] = str(root)
        try:
            server = servers.start_mlflow(tmp, workers=1)
        finally:
            os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
        try:
            mlflow.set_tracking_uri(server.url)
            dump = mlflow_data.dump(MlflowClient(), webhooks=False)
        finally:
            server.stop()
    finally:
        mlflow.set_tracking_uri(None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return tmp, root, dump, ids


def _as_sql_store_answers(dump: dict) -> dict:
    """What MLflow's SQL store (and so mlox) answers where the file store answers
    differently: infinities are kept as the largest doubles; a point logged with a
    dataset is a 5-field line (`timestamp value step name digest`), which the file store
    reads back with step 0 (it takes the step from 3-field lines only) and with the
    dataset, while a SQL store's run history keeps the step and names no dataset; a SQL
    store answers a history in (timestamp, step) order, the file store in the order the
    points were logged; the file store fills a version's aliases in model-version
    searches, a SQL store there leaves them empty (the registered model lists them);
    and the assessments of a trace come in creation order rather than by file name."""
    for model in dump["registered_models"]:
        for v in model["versions"]:
            v["aliases"] = []
    for run in dump["runs"]:
        for points in run["histories"].values():
            points.sort(key=lambda p: (p[1], p[0]))
        for key, points in run["histories"].items():
            for p in points:
                if p[2] in ("inf", "-inf"):
                    p[2] = BIG if p[2] == "inf" else "-" + BIG
                if p[4] is not None:
                    p[0] = 2  # the step written (mlflow_data.seed logs model_acc at step 2)
                    p[3] = p[4] = p[5] = None
        for key, v in run["latest"].items():
            if v in ("inf", "-inf"):
                run["latest"][key] = BIG if v == "inf" else "-" + BIG
    return _assessments_sorted(dump)


def _assessments_sorted(dump: dict) -> dict:
    for t in dump["traces"]:
        t["info"].get("assessments", []).sort(key=lambda a: a["assessment_id"])
    return dump


def test_file_store_import_gives_the_same_answers(file_store):
    tmp, root, expected, ids = file_store
    # What the dump covers is really there.
    assert len(expected["experiments"]) == 4
    parent = next(r for r in expected["runs"] if r["info"]["run_id"] == ids["parent"])
    assert len(parent["histories"]["loss"]) == 300
    assert {"NaN", "inf", "-inf"} <= {p[2] for p in parent["histories"]["loss"]}
    assert parent["inputs"] and parent["artifacts"] and parent["model_outputs"]
    assert expected["logged_models"][0]["metrics"]
    assert expected["registered_models"] and expected["prompts"]
    assert len(expected["traces"]) == 2 and expected["traces"][0]["spans"]

    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    target = tmp / "import" / "mlox.db"
    proc = _import(str(root), f"sqlite:///{target}")
    assert "file store" in proc.stdout and "metric points: " in proc.stdout
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before, \
        "the file store must only be read"

    _assert_same(_as_sql_store_answers(expected), _assessments_sorted(_mlox_dump_of(tmp, target)))

    # The same store again (as a file:// URI) would duplicate ids: refused.
    again = _import(root.as_uri(), f"sqlite:///{target}", check=False)
    assert again.returncode != 0 and "already holds" in again.stderr


def test_a_folder_that_is_not_a_file_store_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = _import(str(tmp_path / "empty"), f"sqlite:///{tmp_path / 'x.db'}", check=False)
    assert proc.returncode != 0 and "not an MLflow file store" in proc.stderr
    missing = _import(str(tmp_path / "nope"), f"sqlite:///{tmp_path / 'y.db'}", check=False)
    assert missing.returncode != 0 and "nope" in missing.stderr
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "y.db").exists()



def test_copy_artifacts_moves_them_and_rewrites_the_locations(file_store, tmp_path):
    tmp, root, expected, ids = file_store
    expected = _as_sql_store_answers(copy.deepcopy(expected))
    dest = tmp_path / "moved"
    target = tmp_path / "mlox.db"
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    proc = _import(str(root), f"sqlite:///{target}", "--copy-artifacts", str(dest))
    assert "copied " in proc.stdout
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before
    assert (dest / ids_experiment(expected, ids) / ids["parent"] / "artifacts" / "notes"
            / "hello.txt").read_text() == "hello"

    # The answers are the same but for the locations, which are now under DEST in
    # MLflow's layout; the artifact listings are read from there.
    for e in expected["experiments"]:
        e["artifact_location"] = f"{dest}/{e['id']}"
    for r in expected["runs"]:
        i = r["info"]
        i["artifact_uri"] = f"{dest}/{i['experiment_id']}/{i['run_id']}/artifacts"
    for m in expected["logged_models"]:
        m["artifact_location"] = f"{dest}/{m['experiment_id']}/models/{m['id']}/artifacts"
    got = _mlox_dump_of(tmp, target)
    _assert_same(expected, _assessments_sorted(got))
    parent = next(r for r in got["runs"] if r["info"]["run_id"] == ids["parent"])
    assert parent["artifacts"], "the listing must come from the copies"


def ids_experiment(dump: dict, ids: dict) -> str:
    return next(r["info"]["experiment_id"] for r in dump["runs"]
                if r["info"]["run_id"] == ids["parent"])


def test_interrupted_file_store_import_resumes(file_store, tmp_path):
    """An interrupted import of a file store is resumed by the same command, the store
    named either way (folder or file:// URI), without duplicates: the ids the file store
    does not keep (datasets, inputs) are derived, not drawn."""
    tmp, root, expected, _ = file_store
    target = tmp_path / "mlox.db"
    first = _import(str(root), f"sqlite:///{target}", "--batch-size", "7",
                    env={"MLOX_IMPORT_FAIL_AFTER_BATCHES": "25"}, check=False)
    assert first.returncode != 0 and "interrupted" in first.stderr
    second = _import(root.as_uri(), f"sqlite:///{target}", "--batch-size", "7")
    assert "(resumed)" in second.stdout
    expected = _as_sql_store_answers(copy.deepcopy(expected))
    _assert_same(expected, _assessments_sorted(_mlox_dump_of(tmp, target)))


def test_proxied_trace_spans_come_from_the_artifacts_source(tmp_path):
    """`mlflow server` on a file store with proxied artifacts keeps a trace's spans under
    its --artifacts-destination (trace location `mlflow-artifacts:/…`): without
    `--artifacts-source` the import says they are left out; with it, they come across."""
    root = tmp_path / "mlruns"
    saved = {k: os.environ.get(k) for k in ("MLFLOW_ALLOW_FILE_STORE",
                                             "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")}
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    os.environ["MLOX_COMPAT_BACKEND_URI"] = str(root)
    try:
        server = servers.start_mlflow(tmp_path, workers=1)
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
    try:
        mlflow.set_tracking_uri(server.url)
        client = MlflowClient()
        exp = client.create_experiment("proxied-traces")
        mlflow.set_experiment(experiment_id=exp)

        @mlflow.trace
        def inner(x):
            return x * 2

        @mlflow.trace
        def outer(x):
            return inner(x) + 1

        outer(3)
        trace_id = mlflow.get_last_active_trace_id()
        client.set_trace_tag(trace_id, "kept", "yes")
        expected = mlflow_data.dump(client, webhooks=False)
    finally:
        server.stop()
        mlflow.set_tracking_uri(None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    trace = next(t for t in expected["traces"] if t["info"]["trace_id"] == trace_id)
    assert len(trace["spans"]) == 2
    location = trace["info"]["tags"]["mlflow.artifactLocation"]
    assert location.startswith("mlflow-artifacts:"), location

    without = _import(str(root), f"sqlite:///{tmp_path / 'without.db'}")
    assert "--artifacts-source" in without.stderr and trace_id in without.stderr

    target = tmp_path / "mlox.db"
    proc = _import(str(root), f"sqlite:///{target}", "--artifacts-source", str(tmp_path / "art"))
    assert trace_id not in proc.stderr
    _assert_same(_assessments_sorted(expected), _assessments_sorted(_mlox_dump_of(tmp_path, target)))
