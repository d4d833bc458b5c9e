"""`pip install mlox`: the wheel built by scripts/build-wheel.sh installs into a fresh
venv, puts `mlox` on its PATH, and that binary serves /health and the web UI.

Set MLOX_WHEEL to test an already built wheel instead of building one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def build_wheel() -> Path:
    if os.environ.get("MLOX_WHEEL"):
        return Path(os.environ["MLOX_WHEEL"])
    env = dict(os.environ, VENV=str(Path(sys.executable).parent.parent))
    subprocess.run(["bash", str(ROOT / "scripts" / "build-wheel.sh")], check=True, env=env, cwd=ROOT)
    [wheel] = sorted((ROOT / "dist").glob("mlox-*.whl"))
    return wheel


def test_wheel_installs_and_serves(tmp_path):
    wheel = build_wheel()
    # A manylinux tag: installable on any current glibc Linux, not only this machine.
    assert re.search(r"-py3-none-manylinux_2_\d+_x86_64", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        binary = [n for n in names if n.endswith(".data/scripts/mlox")]
        assert binary, names
        size = z.getinfo(binary[0]).file_size
    # Stripped, no Python code of its own.
    assert size <= 40 * 1024 * 1024, f"binary is {size / 2**20:.1f} MiB"
    assert not [n for n in names if n.endswith(".py")], names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", str(wheel)],
        check=True,
    )
    mlox = env_dir / "bin" / "mlox"
    assert mlox.exists()
    proc = subprocess.Popen(
        [str(mlox), "server", "--host", "127.0.0.1", "--port", "0",
         "--backend-store-uri", f"sqlite:///{tmp_path}/mlox.db",
         "--artifacts-destination", str(tmp_path / "art")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"Listening on (http://\S+)", line)
            url = m and m.group(1)
        assert url, "the server did not print its address"
        r = requests.get(f"{url}/health", timeout=10)
        assert r.status_code == 200 and r.text == "OK"
        r = requests.get(f"{url}/", timeout=10)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert '<div id="app">' in r.text, "the web UI is embedded"
        js = re.search(r'src="(/assets/[^"]+\.js)"', r.text)
        assert js and requests.get(f"{url}{js.group(1)}", timeout=10).status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, "mlox exits 0 on SIGTERM"
