"""`mlox models serve` against `mlflow models serve` on the same model directories:
scikit-learn models through Python workers, their skl2onnx exports natively."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import child_env, mlox_bin

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


def close(a, b, tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tol
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    return a == b


def bodies(data: dict) -> dict:
    cols, rows = data["columns"], data["rows"][:5]
    csv = ",".join(cols) + "\n" + "\n".join(",".join(repr(v) for v in r) for r in rows) + "\n"
    return {
        "dataframe_split": (JSON, json.dumps({"dataframe_split": {"columns": cols, "data": rows}})),
        "dataframe_records": (JSON, json.dumps({"dataframe_records": [dict(zip(cols, r)) for r in rows]})),
        "instances": (JSON, json.dumps({"instances": rows})),
        "inputs": (JSON, json.dumps({"inputs": rows})),
        "inputs_params": (JSON, json.dumps({"inputs": rows, "params": {"unused": 1}})),
        "inputs_columns": (JSON, json.dumps({"inputs": {c: [r[i] for r in rows] for i, c in enumerate(cols)}})),
        "instances_records": (JSON, json.dumps({"instances": [dict(zip(cols, r)) for r in rows]})),
        "csv": (CSV, csv),
        "integers": (JSON, json.dumps({"dataframe_split": {"columns": cols, "data": [[1, 2, 3, 4], [0, -1, 2, 1]]}})),
        # Errors: MLflow's error shape and code.
        "bad_json": (JSON, "{not json"),
        "top_level_list": (JSON, "[1, 2]"),
        "two_format_keys": (JSON, json.dumps({"inputs": rows, "instances": rows})),
        "no_format_key": (JSON, json.dumps({"data": rows})),
        "missing_column": (JSON, json.dumps({"dataframe_split": {"columns": cols[:3], "data": [r[:3] for r in rows]}})),
        "wrong_type": (JSON, json.dumps({"dataframe_split": {"columns": cols, "data": [["x", 1.0, 2.0, 3.0]]}})),
        "unsupported_content_type": ({"Content-Type": "text/plain"}, "hello"),
        "pre_2_0_format_parameter": ({"Content-Type": "application/json; format=pandas-split"}, "{}"),
    }


MODELS = ["logreg", "rf", "logreg_onnx", "rf_onnx"]
FORMATS = list(bodies({"columns": ["a"], "rows": [[1]]}).keys())


def post(url, headers, body):
    return requests.post(url + "/invocations", headers=headers, data=body, timeout=60)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", MODELS)
def test_same_answer_as_mlflow(model, fmt, models, data, servers):
    headers, body = bodies(data)[fmt]
    ours = post(servers.mlox(str(models / model)).url, headers, body)
    theirs = post(servers.mlflow(models / model).url, headers, body)
    assert ours.status_code == theirs.status_code, (ours.text[:500], theirs.text[:500])
    if theirs.status_code == 415:
        assert ours.headers["content-type"].startswith("text/plain")
        return
    got, want = ours.json(), theirs.json()
    if theirs.status_code == 200:
        tol = 1e-5 if model.endswith("_onnx") else 0.0
        assert close(got, want, tol), (got, want)
    else:
        assert set(got) >= {"error_code", "message"}, got
        assert got["error_code"] == want["error_code"], (got, want)


def test_onnx_models_are_served_without_python(models, servers):
    srv = servers.mlox(str(models / "logreg_onnx"))
    children = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
    assert children == [], "a native ONNX server must not start Python"
    assert "native ONNX" in srv.log_path.read_text()


@pytest.mark.parametrize(
    "uri",
    [
        "runs:/{run_id}/model",
        "models:/{registered}@champion",
        "models:/{registered}/{version}",
        "models:/{registered}/Production",
        "models:/{registered}/latest",
        "models:/{model_id}",
    ],
)
def test_model_uris_through_the_tracking_server(uri, logged, models, data, servers):
    uri = uri.format(**logged)
    headers, body = bodies(data)["dataframe_split"]
    got = post(servers.mlox(uri).url, headers, body)
    want = post(servers.mlflow(models / "logreg").url, headers, body)
    assert got.status_code == 200, got.text
    assert got.json() == want.json()


def test_onnx_logged_model_uri(logged, models, data, servers):
    headers, body = bodies(data)["inputs"]
    got = post(servers.mlox(f"models:/{logged['onnx_model_id']}").url, headers, body)
    want = post(servers.mlflow(models / "logreg_onnx").url, headers, body)
    assert got.status_code == 200, got.text
    assert close(got.json(), want.json(), 1e-5)


def test_unknown_model_uri_is_a_clear_error(tracking, workdir):
    env = child_env()
    env["MLFLOW_TRACKING_URI"] = tracking
    env["MLOX_CACHE_DIR"] = str(workdir / "cache")
    r = subprocess.run(
        [mlox_bin(), "models", "serve", "-m", "models:/no-such-model@x", "-p", "0"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert r.returncode != 0
    assert "no-such-model" in r.stderr or "not found" in r.stderr.lower(), r.stderr


def test_ping_health_version(models, servers):
    for model in ["logreg", "logreg_onnx"]:
        url = servers.mlox(str(models / model)).url
        ref = servers.mlflow(models / model).url
        for path in ["/ping", "/health"]:
            r = requests.get(url + path, timeout=10)
            assert (r.status_code, r.text) == (200, "\n")
        assert requests.get(url + "/version", timeout=10).text == requests.get(ref + "/version", timeout=10).text


def test_open_inference_protocol_v2(models, data, servers):
    rows = data["rows"][:3]
    flat = [v for r in rows for v in r]
    for model in ["logreg", "logreg_onnx"]:
        url = servers.mlox(str(models / model)).url
        assert requests.get(url + "/v2/health/live", timeout=10).status_code == 200
        assert requests.get(url + "/v2/health/ready", timeout=10).status_code == 200
        meta = requests.get(url + "/v2/models/model", timeout=10).json()
        assert meta["name"] == "model" and meta["inputs"]
        r = requests.post(
            url + "/v2/models/model/infer",
            json={"id": "q1", "inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": flat}]},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"] == "q1"
        _, reference = bodies(data)["dataframe_split"] if model == "logreg" else bodies(data)["inputs"]
        ref = post(servers.mlflow(models / model).url, JSON, json.dumps(
            {"dataframe_split": {"columns": data["columns"], "data": rows}} if model == "logreg" else {"inputs": rows}
        )).json()["predictions"]
        labels = ref if model == "logreg" else ref["label"]
        out = {o["name"]: o for o in body["outputs"]}
        got = out["predictions"]["data"] if model == "logreg" else out["label"]["data"]
        assert got == labels
        assert requests.get(url + "/v2/models/other", timeout=10).status_code == 404


def test_concurrent_requests_are_batched_and_answered_correctly(models, data, servers):
    srv = servers.mlox(str(models / "rf"), "--workers", "1", "--max-batch-wait-ms", "5")
    cols, rows = data["columns"], data["rows"]
    expected = post(
        servers.mlflow(models / "rf").url, JSON, json.dumps({"dataframe_split": {"columns": cols, "data": rows}})
    ).json()["predictions"]

    def one(i):
        chunk = rows[i : i + 1 + i % 3]
        r = post(srv.url, JSON, json.dumps({"dataframe_split": {"columns": cols, "data": chunk}}))
        return i, r.status_code, r.json()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(60)))
    for i, status, body in results:
        assert status == 200, body
        assert body["predictions"] == expected[i : i + 1 + i % 3]
    # A bad request in the middle of a batch fails alone.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(20)]
        bad = pool.submit(post, srv.url, JSON, json.dumps({"dataframe_split": {"columns": cols[:3], "data": [rows[0][:3]]}}))
        assert bad.result().status_code == 400
        assert all(f.result()[1] == 200 for f in futures)


def worker_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_killed_worker_is_replaced_and_serving_goes_on(models, data, servers):
    srv = servers.mlox(str(models / "logreg"), "--workers", "1")
    headers, body = bodies(data)["dataframe_split"]
    want = post(srv.url, headers, body).json()
    [pid] = worker_pids(srv.proc.pid)
    os.kill(pid, signal.SIGKILL)
    # Every request gets an answer (an error while the worker is down is allowed, a hang
    # is not), and within a while answers are right again, from a new worker.
    deadline = time.monotonic() + 120
    while True:
        r = post(srv.url, headers, body)
        if r.status_code == 200:
            assert r.json() == want
            break
        assert set(r.json()) >= {"error_code", "message"}
        assert time.monotonic() < deadline, "the worker was not replaced"
        time.sleep(0.5)
    new = worker_pids(srv.proc.pid)
    assert len(new) == 1 and new[0] != pid


def test_inflight_request_of_a_dying_worker_gets_an_error_at_once(models, data, servers):
    srv = servers.mlox(str(models / "rf"), "--workers", "1", "--max-batch-size", "1000000")
    cols = data["columns"]
    big = json.dumps({"dataframe_split": {"columns": cols, "data": data["rows"] * 3000}})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(post, srv.url, JSON, big)
        time.sleep(0.3)
        [pid] = worker_pids(srv.proc.pid)
        started = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        r = fut.result(timeout=30)
    assert time.monotonic() - started < 10
    if r.status_code != 200:  # it may have finished before the kill
        assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE", r.text
        assert str(pid) in r.json()["message"]


def predict(uri, inp: Path, out: Path, servers, *extra) -> dict:
    env = child_env()
    env["MLFLOW_TRACKING_URI"] = servers.tracking
    env["MLOX_CACHE_DIR"] = str(servers.cache)
    r = subprocess.run(
        [mlox_bin(), "models", "predict", "-m", uri, "-i", inp, "-o", out, "--chunk-rows", "17", *extra],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("model", ["logreg", "logreg_onnx", "rf_onnx"])
def test_predict_files(model, models, data, servers, workdir):
    import pandas as pd

    cols, rows = data["columns"], data["rows"]
    df = pd.DataFrame(rows, columns=cols)
    d = workdir / f"predict-{model}"
    d.mkdir(exist_ok=True)
    df.to_csv(d / "in.csv", index=False)
    df.to_parquet(d / "in.parquet", row_group_size=23)
    (d / "in.json").write_text(json.dumps({"dataframe_split": {"columns": cols, "data": rows}}))
    want = post(
        servers.mlflow(models / model).url, JSON, json.dumps({"dataframe_split": {"columns": cols, "data": rows}})
    ).json()
    tol = 1e-5 if model.endswith("_onnx") else 0.0
    for kind in ["csv", "json", "parquet"]:
        got = predict(str(models / model), d / f"in.{kind}", d / f"out-{kind}.json", servers)
        assert close(got, want, tol), (kind, str(got)[:300], str(want)[:300])


def test_generate_dockerfile_and_build_docker(models, workdir):
    out = workdir / "docker-ctx"
    r = subprocess.run(
        [mlox_bin(), "models", "generate-dockerfile", "-m", models / "logreg_onnx", "-d", out],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = (out / "Dockerfile").read_text()
    assert "onnxruntime==1.32.0" in text and '"models", "serve", "-m", "/opt/ml/model"' in text
    assert (out / "model" / "MLmodel").exists() and (out / "mlox").exists()
    engine = subprocess.run(["docker", "info"], capture_output=True).returncode == 0 if _has("docker") else False
    if not engine:
        r = subprocess.run(
            [mlox_bin(), "models", "build-docker", "-m", models / "logreg", "-n", "mlox-test"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode != 0
        assert "docker" in r.stderr.lower()


def _has(cmd: str) -> bool:
    import shutil

    return shutil.which(cmd) is not None
