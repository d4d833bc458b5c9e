"""The container and deployment files (Dockerfile, deploy/) are consistent with the binary.

There is no container engine here: these tests check that the files parse, that every
flag and environment variable they give mlox exists in ``mlox server --help``, and that
the pieces refer to each other correctly (probes, ports, secrets, replicas).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MLOX = Path(os.environ.get("MLOX_BIN", ROOT / "target" / "release" / "mlox"))
# Variables read by libraries mlox uses, documented in `--help` as "AWS variables".
LIBRARY_ENV = re.compile(r"^AWS_[A-Z_]+$")


@pytest.fixture(scope="module")
def server_help() -> str:
    if not MLOX.exists():
        pytest.fail(f"mlox binary not found at {MLOX} (build it or set MLOX_BIN)")
    return subprocess.run(
        [str(MLOX), "server", "--help"], check=True, capture_output=True, text=True
    ).stdout


def check_args(args: list[str], help_text: str) -> None:
    assert args and args[0] == "server", args
    for a in args[1:]:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            assert re.search(rf"(^|\s){re.escape(flag)}[\s,=<]", help_text), f"{flag} is not a flag of mlox server"


def check_env(names, help_text: str) -> None:
    for name in names:
        if LIBRARY_ENV.match(name):
            continue
        assert name in help_text, f"{name} is not read by mlox server (see mlox server --help)"


def test_dockerfile(server_help):
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(stages) == 2, "multi-stage: build, then runtime"
    runtime = text[text.rindex("\nFROM ") :]
    assert "COPY --from=build" in runtime
    assert re.search(r"^USER\s+(?!root|0\b)\S+", runtime, re.M), "runs as a non-root user"
    assert re.search(r"^VOLUME\s+/data\s*$", runtime, re.M)
    assert re.search(r"^EXPOSE\s+5000\s*$", runtime, re.M)
    health = re.search(r"^HEALTHCHECK .*\n(?:.*\n)*?\s*CMD (.*)$", runtime, re.M)
    assert health and "/health" in health.group(1)
    env = dict(re.findall(r"(\w+)=(\S+)", re.search(r"^ENV ((?:.*\\\n)*.*)$", runtime, re.M).group(1)))
    check_env(env, server_help)
    assert env["MLFLOW_PORT"] == "5000"
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("sqlite:////data/")
    assert env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("/data/")
    entry = eval(re.search(r"^ENTRYPOINT (.*)$", runtime, re.M).group(1))
    cmd = eval(re.search(r"^CMD (.*)$", runtime, re.M).group(1))
    assert entry == ["mlox"]
    check_args(cmd, server_help)
    build = text[: text.rindex("\nFROM ")]
    assert "cargo build --release" in build and "npm" in build


def test_compose(server_help):
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "minio", "mlox", "proxy"} <= services.keys()
    mlox = services["mlox"]
    assert mlox["deploy"]["replicas"] == 2
    assert mlox["build"]["dockerfile"] == "Dockerfile"
    assert (ROOT / "deploy" / mlox["build"]["context"] / "Dockerfile").exists()
    env = mlox["environment"]
    check_env(env, server_help)
    check_args(mlox["command"], server_help)
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    user = services["postgres"]["environment"]
    assert f"{user['POSTGRES_USER']}:{user['POSTGRES_PASSWORD']}@postgres:5432/{user['POSTGRES_DB']}" in env[
        "MLFLOW_BACKEND_STORE_URI"
    ]
    assert env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert env["AWS_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    bucket = env["MLFLOW_ARTIFACTS_DESTINATION"].split("/")[2]
    assert f"local/{bucket}" in " ".join(services["bucket"]["command"])
    # The proxy balances over the replicas on the port they listen on.
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert f"server mlox:{env['MLFLOW_PORT']};" in nginx
    mount = services["proxy"]["volumes"][0].split(":")[0]
    assert (ROOT / "deploy" / mount).resolve() == (ROOT / "deploy" / "nginx.conf")


def test_kubernetes(server_help):
    docs = []
    for f in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    by_kind = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "Secret"} <= by_kind.keys()
    dep, svc, secret = by_kind["Deployment"], by_kind["Service"], by_kind["Secret"]
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [c] = pod["spec"]["containers"]
    check_args(c["args"], server_help)
    port = int(c["args"][c["args"].index("--port") + 1])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert svc["spec"]["ports"][0]["targetPort"] in ports and port in ports.values()
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"
        assert c[probe]["httpGet"]["port"] in ports
    check_env([e["name"] for e in c["env"]], server_help)
    secret_keys = set(secret["stringData"])
    refs = [e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e]
    assert any(r["key"] == "backend-store-uri" for r in refs), "the database URI comes from the Secret"
    for r in refs:
        assert r["name"] == secret["metadata"]["name"] and r["key"] in secret_keys
    # Kubernetes waits terminationGracePeriodSeconds after SIGTERM; mlox must be done first.
    grace = float(c["args"][c["args"].index("--shutdown-timeout") + 1])
    assert grace < pod["spec"]["terminationGracePeriodSeconds"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_every_mlflow_env_var_in_help_is_a_real_option(server_help):
    # Guards check_env itself: a made-up name is rejected.
    with pytest.raises(AssertionError):
        check_env(["MLFLOW_NOT_A_REAL_OPTION"], server_help)
    with pytest.raises(AssertionError):
        check_args(shlex.split("server --not-a-flag"), server_help)
