"""`mlox import --from-basic-auth` (issue 16): the real `mlflow server --app-name
basic-auth` gets users (one an admin) and permissions on an experiment and a registered
model through MLflow's auth client; `mlox import` brings its tracking database and its
basic_auth.db in one command; `mlox server --app-name basic-auth` on the result must let
the same users in with the same passwords (Werkzeug's scrypt hashes, as MLflow wrote
them), refuse a wrong one, and report the same admin flags and permissions.

Run: MLOX_BIN=$PWD/target/release/mlox .venv/bin/python -m pytest tests/migrate/test_basic_auth.py -q
"""

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.server import get_app_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # noqa: E402
from test_import import _mlox_bin  # noqa: E402

ADMIN, ADMIN_PW = "admin", "admin-password-1234"
USERS = {"alice": "alice-password-1", "bob": "bob-password-22"}


def _auth_env(tmp: Path) -> dict:
    ini = tmp / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{tmp}/basic_auth.db\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PW,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "mlox-migrate-secret",
    }


def _as(user, password):
    os.environ["MLFLOW_TRACKING_USERNAME"] = user
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password


def _view(url: str, exp: str) -> dict:
    """Each user's admin flag and effective permissions on the resources, as the admin
    reads them."""
    _as(ADMIN, ADMIN_PW)
    auth = get_app_client("basic-auth", tracking_uri=url)
    out = {}
    for name in [ADMIN, *USERS]:
        perms = {}
        for kind, rid in [("experiment", exp), ("experiment", "0"),
                          ("registered_model", "guarded-model")]:
            got = auth.get_user_permission(name, kind, rid)
            perms[f"{kind}:{rid}"] = (got.permission, got.allowed)
        out[name] = {"is_admin": auth.get_user(name).is_admin, "permissions": perms}
    return out


@pytest.fixture(autouse=True)
def _restore_env():
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_basic_auth_users_and_permissions_come_across(tmp_path):
    env = _auth_env(tmp_path)
    server = servers.start_mlflow(tmp_path, ["--app-name", "basic-auth"], env=env, workers=1)
    try:
        _as(ADMIN, ADMIN_PW)
        mlflow.set_tracking_uri(server.url)
        auth = get_app_client("basic-auth", tracking_uri=server.url)
        for name, pw in USERS.items():
            auth.create_user(name, pw)
        auth.update_user_admin("bob", True)
        client = MlflowClient()
        exp = client.create_experiment("guarded")
        client.create_registered_model("guarded-model")
        auth.grant_user_permission("alice", "experiment", exp, "READ")
        auth.grant_user_permission("alice", "registered_model", "guarded-model", "EDIT")
        expected = _view(server.url, exp)
    finally:
        server.stop()
    assert expected["alice"]["permissions"][f"experiment:{exp}"][0] == "READ"
    assert expected["alice"]["permissions"]["registered_model:guarded-model"][0] == "EDIT"
    assert expected["bob"]["is_admin"]

    target = tmp_path / "mlox.db"
    proc = subprocess.run(
        [_mlox_bin(), "import", f"sqlite:///{tmp_path / 'mlflow.db'}", "--from-basic-auth",
         f"sqlite:///{tmp_path / 'basic_auth.db'}", "--backend-store-uri",
         f"sqlite:///{target}", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "imported 3 users" in proc.stdout

    # No admin password this time: the imported admin must be there already.
    env.pop("MLFLOW_AUTH_ADMIN_PASSWORD", None)
    os.environ["MLOX_COMPAT_BACKEND_URI"] = f"sqlite:///{target}"
    try:
        server = servers.start_mlox(tmp_path, ["--app-name", "basic-auth"], env=env)
    finally:
        os.environ.pop("MLOX_COMPAT_BACKEND_URI", None)
    try:
        assert _view(server.url, exp) == expected
        # Alice signs in with the password she had on MLflow and reads what she may.
        _as("alice", USERS["alice"])
        mlflow.set_tracking_uri(server.url)
        assert MlflowClient().get_experiment(exp).name == "guarded"
        api = f"{server.url}/api/2.0/mlflow/experiments/get"
        wrong = requests.get(api, params={"experiment_id": exp}, auth=("alice", "nope"), timeout=30)
        assert wrong.status_code == 401
        right = requests.get(api, params={"experiment_id": exp}, auth=("alice", USERS["alice"]),
                             timeout=30)
        assert right.status_code == 200
        # No permission on the default experiment (NO_PERMISSIONS by default).
        denied = requests.get(api, params={"experiment_id": "0"},
                              auth=("alice", USERS["alice"]), timeout=30)
        assert denied.status_code == 403
    finally:
        server.stop()

    # Importing the same users again would collide: refused, nothing written.
    again = subprocess.run(
        [_mlox_bin(), "import", "--from-basic-auth", f"sqlite:///{tmp_path / 'basic_auth.db'}",
         "--backend-store-uri", f"sqlite:///{target}", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert again.returncode != 0 and "already has a user" in again.stderr
