#!/usr/bin/env python3
"""Artifact transfer benchmark: upload and download of one large artifact through the
tracking server's proxy (`/api/2.0/mlflow-artifacts/artifacts/...`), for the real MLflow
server and for mlox, in the same run. Reports MB/s each way and the peak RSS of each
server's process tree, and checks the sha256 of what comes back.

    .venv/bin/python bench/artifacts.py [--size-mib 1024] [--client http|mlflow] [--only mlox]

The default client is curl (so that the client is not the bottleneck);
`--client mlflow` moves the file with the official client (mlflow.log_artifact /
download_artifacts) instead of plain streaming HTTP. Writes bench/ARTIFACTS_RESULTS.md.
"""

import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def tree_rss_kib(pid):
    """Summed RSS (KiB) of a process and its descendants."""
    pids, total = [pid], 0
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    while pids:
        p = pids.pop()
        pids.extend(children.get(p, []))
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, False

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, tree_rss_kib(self.pid))
            time.sleep(0.05)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_healthy(url, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy")


def start(kind, tmp):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if kind == "mlflow":
        argv = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db", "--artifacts-destination", f"{tmp}/art"]
    else:
        argv = [str(ROOT / "target/release/mlox"), "server", "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", f"sqlite:///{tmp}/mlox.db", "--artifacts-destination", f"{tmp}/art"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_healthy(url, 120)
    return proc, url


def make_file(path, mib):
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            chunk = block[i % 4093 :] + block[: i % 4093]
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def transfer(url, src, dst, client):
    size = src.stat().st_size
    if client == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(url)
        with mlflow.start_run() as run:
            t0 = time.perf_counter()
            mlflow.log_artifact(str(src), artifact_path="big")
            up = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=f"big/{src.name}", dst_path=str(dst))
        down = time.perf_counter() - t0
        return size, up, down, Path(out)
    # curl moves the bytes: a Python client tops out below 1 GB/s and would measure itself.
    target = f"{url}/api/2.0/mlflow-artifacts/artifacts/bench/{src.name}"
    out = dst / src.name
    t0 = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", "/dev/null", "-T", str(src), target], check=True)
    up = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(["curl", "-sSf", "-o", str(out), target], check=True)
    down = time.perf_counter() - t0
    return size, up, down, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--client", choices=["http", "mlflow"], default="http")
    ap.add_argument("--only", choices=["mlox", "mlflow"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "ARTIFACTS_RESULTS.md"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlox-art-bench-", dir=os.environ.get("BENCH_TMP")))
    try:
        src = work / "artifact.bin"
        digest = make_file(src, args.size_mib)
        results = {}
        for kind in ["mlflow", "mlox"]:
            if args.only and kind != args.only:
                continue
            tmp = work / kind
            tmp.mkdir()
            proc, url = start(kind, tmp)
            try:
                idle = tree_rss_kib(proc.pid)
                sampler = Sampler(proc.pid)
                sampler.start()
                dst = tmp / "download"
                dst.mkdir()
                size, up, down, out = transfer(url, src, dst, args.client)
                sampler.stop = True
                sampler.join()
                ok = sha256_file(out) == digest
                results[kind] = dict(up=size / up / 1e6, down=size / down / 1e6, peak=sampler.peak / 1024, idle=idle / 1024, ok=ok)
                print(kind, results[kind], flush=True)
                shutil.rmtree(tmp, ignore_errors=True)
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(30)
        lines = [
            "# Artifact transfer: mlox vs MLflow",
            "",
            f"- Command: `.venv/bin/python bench/artifacts.py --size-mib {args.size_mib} --client {args.client}" + (f" --only {args.only}`" if args.only else "`"),
            f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {os.cpu_count()} CPUs",
            f"- One artifact of {args.size_mib} MiB, uploaded then downloaded through each server's proxy ({'curl' if args.client == 'http' else 'official mlflow'} client); sha256 checked.",
            "",
            "| figure | MLflow | mlox | ratio |",
            "|---|---:|---:|---:|",
        ]
        def row(name, key, unit, better_high):
            a, b = results.get("mlflow", {}).get(key), results.get("mlox", {}).get(key)
            fa = f"{a:,.1f} {unit}" if a is not None else "–"
            fb = f"{b:,.1f} {unit}" if b is not None else "–"
            ratio = "–" if a is None or b is None else f"{(b / a if better_high else a / b):,.1f}×"
            lines.append(f"| {name} | {fa} | {fb} | {ratio} |")
        row("upload", "up", "MB/s", True)
        row("download", "down", "MB/s", True)
        row("peak RSS of the server's process tree", "peak", "MiB", False)
        row("idle RSS before the transfer", "idle", "MiB", False)
        lines.append("")
        lines.append("sha256 round trip: " + ", ".join(f"{k} {'ok' if v['ok'] else 'MISMATCH'}" for k, v in results.items()))
        Path(args.out).write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        if not all(v["ok"] for v in results.values()):
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
