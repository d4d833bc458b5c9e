"""Artifacts through the official client: proxied upload, listing and download.

Runs against mlox (local destination by default; S3 when MLOX_COMPAT_ARTIFACTS_DESTINATION
names an s3:// URI) and against the real MLflow server.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from mlflow.artifacts import download_artifacts, load_dict, load_text

from conftest import unique

TIMEOUT = 60
LARGE_MIB = int(os.environ.get("MLOX_COMPAT_LARGE_ARTIFACT_MIB", "96"))


@pytest.fixture
def run(tracking_uri):
    mlflow.set_experiment(unique("art"))
    with mlflow.start_run() as r:
        yield r


def names(infos):
    return sorted((i.path, i.is_dir) for i in infos)


def test_log_artifact_list_and_download(run, tmp_path, client):
    src = tmp_path / "hello world.txt"
    src.write_text("hello, artifacts\n")
    mlflow.log_artifact(str(src))
    mlflow.log_artifact(str(src), artifact_path="nested/dir")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert names(client.list_artifacts(run.info.run_id)) == [("hello world.txt", False), ("nested", True)]
    infos = client.list_artifacts(run.info.run_id, "nested/dir")
    assert [(i.path, i.file_size) for i in infos] == [("nested/dir/hello world.txt", 17)]
    out = download_artifacts(run_id=run.info.run_id, artifact_path="nested", dst_path=str(tmp_path / "dl"))
    assert (Path(out) / "dir" / "hello world.txt").read_text() == "hello, artifacts\n"


def test_log_artifacts_directory_tree_with_unicode(run, tmp_path, client):
    tree = tmp_path / "tree"
    (tree / "sub dir" / "tiefer").mkdir(parents=True)
    (tree / "a.csv").write_text("x,y\n1,2\n")
    (tree / "sub dir" / "grüße €.txt").write_text("unicode ✓")
    (tree / "sub dir" / "tiefer" / "b.bin").write_bytes(bytes(range(256)))
    mlflow.log_artifacts(str(tree), artifact_path="data")
    assert names(client.list_artifacts(run.info.run_id, "data")) == [("data/a.csv", False), ("data/sub dir", True)]
    out = Path(download_artifacts(run_id=run.info.run_id, artifact_path="data", dst_path=str(tmp_path / "o")))
    assert (out / "sub dir" / "grüße €.txt").read_text() == "unicode ✓"
    assert (out / "sub dir" / "tiefer" / "b.bin").read_bytes() == bytes(range(256))


def test_log_text_dict_image_and_load(run):
    mlflow.log_text("some text", "notes/readme.md")
    mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
    mlflow.log_image(np.zeros((8, 8, 3), dtype=np.uint8), "images/black.png")
    base = run.info.artifact_uri
    assert load_text(f"{base}/notes/readme.md") == "some text"
    assert load_dict(f"{base}/config.json") == {"a": 1, "b": [1, 2]}
    png = Path(download_artifacts(artifact_uri=f"{base}/images/black.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_artifact_download_fails(run, tmp_path):
    with pytest.raises(Exception):
        download_artifacts(run_id=run.info.run_id, artifact_path="nope.txt", dst_path=str(tmp_path))


def test_large_artifact_sha256_round_trip(run, tmp_path, server_pid):
    src = tmp_path / "large.bin"
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with open(src, "wb") as f:
        for i in range(LARGE_MIB):
            chunk = block[i % 997 :] + block[: i % 997]
            f.write(chunk)
            digest.update(chunk)
    mlflow.log_artifact(str(src), artifact_path="big")
    out = download_artifacts(run_id=run.info.run_id, artifact_path="big/large.bin", dst_path=str(tmp_path / "dl"))
    check = hashlib.sha256()
    with open(out, "rb") as f:
        while chunk := f.read(1 << 20):
            check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()
    if server_pid:
        # mlox streams: its peak memory stays flat whatever the artifact's size.
        status = Path(f"/proc/{server_pid}/status").read_text()
        peak_kib = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
        assert peak_kib < 100 * 1024, f"server peak RSS {peak_kib} KiB"


def test_artifact_paths_cannot_escape_the_root(tracking_uri, target):
    base = f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts"
    # On POSIX a backslash is an ordinary character to MLflow, which stores such a name
    # inside the root (200); mlox refuses backslashes outright, as Windows-style
    # separators (a deliberate, stricter choice).
    r = requests.put(f"{base}/a/..%5C..%5Cescape.txt", data=b"x", timeout=TIMEOUT)
    assert r.status_code == (400 if target == "mlox" else 200), r.text
    for bad in ["..%2F..%2Fescape.txt", "a/%2e%2e/%2e%2e/escape.txt", "%2Fetc%2Fpasswd"]:
        r = requests.put(f"{base}/{bad}", data=b"x", timeout=TIMEOUT)
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        r = requests.get(f"{base}/{bad}", timeout=TIMEOUT)
        assert r.status_code == 400, (bad, r.status_code)
    r = requests.get(base, params={"path": "../.."}, timeout=TIMEOUT)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_delete_artifact_over_http(run, tracking_uri, client):
    mlflow.log_text("x", "gone/soon.txt")
    rel = run.info.artifact_uri.split("mlflow-artifacts:/", 1)[1]
    r = requests.delete(f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{rel}/gone/soon.txt", timeout=TIMEOUT)
    assert r.status_code == 200
    assert client.list_artifacts(run.info.run_id, "gone") == []


def test_download_headers(run, tracking_uri):
    mlflow.log_text("{\"k\": 1}", "h/data.json")
    rel = run.info.artifact_uri.split("mlflow-artifacts:/", 1)[1]
    r = requests.get(f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{rel}/h/data.json", timeout=TIMEOUT)
    assert r.status_code == 200
    # MLflow serves text formats (json, yaml, csv, MLmodel, …) as text/plain.
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "attachment" in r.headers["Content-Disposition"] and "data.json" in r.headers["Content-Disposition"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(r.content) == {"k": 1}
    missing = requests.get(f"{tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{rel}/h/none.json", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_multipart_upload_when_the_server_offers_it(run, tmp_path, client, monkeypatch):
    """Files above MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE go up in parts when the server's
    server-info enables multipart uploads (mlox does; MLflow on a local store does not, and
    the client then falls back to one PUT). Either way the artifact arrives intact."""
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(1024 * 1024))
    src = tmp_path / "parts.bin"
    data = os.urandom(5 * 1024 * 1024 + 12345)
    src.write_bytes(data)
    mlflow.log_artifact(str(src), artifact_path="mp")
    infos = client.list_artifacts(run.info.run_id, "mp")
    assert [(i.path, i.file_size) for i in infos] == [("mp/parts.bin", len(data))]
    out = download_artifacts(run_id=run.info.run_id, artifact_path="mp/parts.bin", dst_path=str(tmp_path / "o"))
    assert hashlib.sha256(Path(out).read_bytes()).digest() == hashlib.sha256(data).digest()
