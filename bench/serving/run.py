"""bench/serving: `mlox models serve` against `mlflow models serve` for the same models.

    python bench/serving/run.py [--seconds 5] [--out bench/SERVING_RESULTS.md]

Trains the test models (tests/serving/make_models.py), then for each server: start-up
time (spawn → first 200 on /ping), requests/s and p50/p99 latency at concurrency 1 and 8
with bodies of 1 and 1,000 rows (bench/loadgen `invoke`, closed loops), and RSS of the
whole process tree after the load. Servers: MLflow on the sklearn logistic regression and
on its ONNX export, mlox with Python workers on the sklearn model, mlox native on the
ONNX export. Also the load generator's own ceiling against its null server.
Needs MLOX_BIN and LOADGEN_BIN (default: $CARGO_TARGET_DIR/release/...).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
MLOX = Path(os.environ.get("MLOX_BIN", TARGET / "release" / "mlox"))
LOADGEN = Path(os.environ.get("LOADGEN_BIN", TARGET / "release" / "mlox-loadgen"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(d))
            with open(f"/proc/{d}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss[int(d)] = int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return round(total / 1024, 1)


def start(argv, env, port, log):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv} exited {proc.returncode}")
        try:
            if requests.get(url + "/ping", timeout=1).status_code == 200:
                return proc, url, round(time.monotonic() - t0, 2)
        except requests.RequestException:
            pass
        if time.monotonic() - t0 > 300:
            raise RuntimeError(f"{argv} did not start")
        time.sleep(0.05)


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(url, body_file, c, seconds):
    out = subprocess.run(
        [LOADGEN, "--url", url, "--threads", "1", "invoke", "--body-file", body_file, "-c", str(c), "--seconds", str(seconds)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", default=str(REPO / "bench" / "SERVING_RESULTS.md"))
    ap.add_argument("--workers", type=int, default=2, help="mlox Python workers / ONNX sessions")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlox-bench-serving-"))
    env = dict(os.environ)
    env["MLOX_PYTHON"] = sys.executable
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MLOX_CACHE_DIR"] = str(work / "cache")
    env["MLOX_LOG"] = "warn"
    subprocess.run([sys.executable, REPO / "tests/serving/make_models.py", work / "models"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    data = json.loads((work / "models/data.json").read_text())
    cols, rows = data["columns"], data["rows"]
    big = (rows * (1000 // len(rows) + 1))[:1000]
    bodies = {}
    for n, rs in [(1, rows[:1]), (1000, big)]:
        for kind, body in [
            ("df", {"dataframe_split": {"columns": cols, "data": rs}}),
            ("tensor", {"inputs": rs}),
        ]:
            p = work / f"body-{kind}-{n}.json"
            p.write_text(json.dumps(body))
            bodies[(kind, n)] = p
    servers = [
        ("mlflow sklearn", "df", lambda port: [sys.executable, "-m", "mlflow", "models", "serve", "-m", work / "models/logreg",
                                              "-p", str(port), "-h", "127.0.0.1", "--env-manager", "local"]),
        ("mlox python (sklearn)", "df", lambda port: [MLOX, "models", "serve", "-m", work / "models/logreg", "-p", str(port),
                                                      "--workers", str(args.workers)]),
        ("mlflow onnx", "tensor", lambda port: [sys.executable, "-m", "mlflow", "models", "serve", "-m",
                                                work / "models/logreg_onnx", "-p", str(port), "-h", "127.0.0.1", "--env-manager", "local"]),
        ("mlox native onnx", "tensor", lambda port: [MLOX, "models", "serve", "-m", work / "models/logreg_onnx", "-p", str(port),
                                                     "--workers", str(args.workers)]),
    ]  # fmt: skip
    results = []
    for name, kind, argv in servers:
        port = free_port()
        with open(work / f"{name.replace(' ', '_')}.log", "w") as log:
            proc, url, startup = start([str(a) for a in argv(port)], env, port, log)
            try:
                rss_idle = tree_rss_mb(proc.pid)
                runs = []
                for n in (1, 1000):
                    for c in (1, 8):
                        r = load(url, bodies[(kind, n)], c, args.seconds)
                        runs.append({"rows": n, "c": c, **r})
                        print(f"{name:24} rows={n:5} c={c}: {r['ops_per_s']:9.1f} req/s  p50 {r['latency_ms']['p50']:8.3f} ms  "
                              f"p99 {r['latency_ms']['p99']:8.3f} ms  errors {r['errors']}", flush=True)  # fmt: skip
                results.append({"server": name, "startup_s": startup, "rss_idle_mb": rss_idle,
                                "rss_after_mb": tree_rss_mb(proc.pid), "runs": runs})  # fmt: skip
            finally:
                stop(proc)
    # The load generator's ceiling: the same loops against a server that answers at once.
    null = subprocess.Popen([LOADGEN, "null-server", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = null.stdout.readline()
    null_url = line.split("Listening on ")[1].strip()
    ceiling = {c: load(null_url, bodies[("df", 1)], c, args.seconds)["ops_per_s"] for c in (1, 8)}
    null.terminate()
    null.wait()
    (work / "results.json").write_text(json.dumps({"results": results, "ceiling": ceiling}, indent=1))
    write_report(results, ceiling, args, Path(args.out))
    print(f"wrote {args.out} (raw: {work / 'results.json'})")


def write_report(results, ceiling, args, out: Path):
    by = {r["server"]: r for r in results}

    def run(server, n, c):
        return next(x for x in by[server]["runs"] if x["rows"] == n and x["c"] == c)

    lines = [
        "# Model serving benchmark: `mlox models serve` vs `mlflow models serve`",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on this 2-core machine "
        "(shared with other builds: treat figures as ±20%). Command:",
        "",
        "```sh",
        f"{sys.executable} bench/serving/run.py --seconds {args.seconds:g} --workers {args.workers}",
        "```",
        "",
        "Models from `tests/serving/make_models.py`: a scikit-learn LogisticRegression (4 features, column "
        "signature) and its skl2onnx export (float32 tensor signature). MLflow 3.17.2 (`mlflow models serve "
        "--env-manager local`, uvicorn, its default single worker); mlox with "
        f"`--workers {args.workers}` (Python worker processes, or ONNX Runtime sessions for the native path). "
        "Load: `mlox-loadgen invoke` (closed loops, one request in flight per connection, "
        f"{args.seconds:g} s per cell, one warm-up request per connection). Bodies: `dataframe_split` for the "
        "sklearn model, `inputs` (tensor) for the ONNX model; 1 and 1,000 rows.",
        "",
        f"Load generator ceiling (its null server, same loop, 1-row body): {ceiling[1]:,.0f} req/s at c1, "
        f"{ceiling[8]:,.0f} req/s at c8 — above every figure below, so it is not the bottleneck.",
        "",
        "| server | rows | conc. | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for x in r["runs"]:
            lines.append(f"| {r['server']} | {x['rows']} | {x['c']} | {x['ops_per_s']:,.1f} | "
                         f"{x['latency_ms']['p50']:.3f} | {x['latency_ms']['p99']:.3f} | {x['errors']} |")  # fmt: skip
    lines += ["", "| server | start-up (spawn → /ping 200) | RSS idle (process tree) | RSS after load |", "|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['server']} | {r['startup_s']:.2f} s | {r['rss_idle_mb']:.0f} MB | {r['rss_after_mb']:.0f} MB |")
    lines += ["", "## Ratios", "", "| comparison | rows | conc. | mlox / MLflow req/s | target |", "|---|---:|---:|---:|---|"]
    for n in (1, 1000):
        for c in (1, 8):
            py = run("mlox python (sklearn)", n, c)["ops_per_s"] / max(run("mlflow sklearn", n, c)["ops_per_s"], 1e-9)
            target = "≥ 3×" if c == 8 else ""
            lines.append(f"| Python workers vs MLflow (sklearn) | {n} | {c} | {py:.1f}× | {target} |")
    for n in (1, 1000):
        for c in (1, 8):
            ox = run("mlox native onnx", n, c)["ops_per_s"]
            target = "≥ 30×" if c == 8 else ""
            lines.append(f"| native ONNX vs MLflow (sklearn) | {n} | {c} | {ox / max(run('mlflow sklearn', n, c)['ops_per_s'], 1e-9):.1f}× | {target} |")
            lines.append(f"| native ONNX vs MLflow (same ONNX model) | {n} | {c} | {ox / max(run('mlflow onnx', n, c)['ops_per_s'], 1e-9):.1f}× | |")
    p50 = run("mlox native onnx", 1, 1)["latency_ms"]["p50"]
    lines += ["", f"Native ONNX p50 for one row at c1: {p50:.3f} ms (target < 1 ms).", ""]
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
