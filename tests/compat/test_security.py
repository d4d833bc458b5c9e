"""Secure defaults (MLflow 3.17's security middleware): Host-header check against DNS
rebinding, CORS for localhost origins, refusal of cross-origin state-changing requests,
security headers, and the flags that widen or disable them. Raw HTTP with ``requests``:
these are what a browser sees."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests

from conftest import unique

INVALID_HOST = "Invalid Host header - possible DNS rebinding attack detected"
BLOCKED = "Cross-origin request blocked"
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def _get(url, path, **headers):
    return requests.get(url + path, headers=headers, timeout=30)


def _create(url, name, **headers):
    return requests.post(
        url + "/api/2.0/mlflow/experiments/create",
        json={"name": name},
        headers={"Content-Type": "application/json", **headers},
        timeout=30,
    )


def _exists(url, name, host=None) -> bool:
    headers = {"Host": host} if host else {}
    r = requests.get(
        url + "/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": name},
        headers=headers,
        timeout=30,
    )
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        SEARCH,
        "/ajax-api/2.0/mlflow/experiments/search?max_results=1",
        "/api/2.0/mlflow-artifacts/artifacts",
        "/ajax-api/2.0/mlflow-artifacts/artifacts",
        "/",
        "/no-such-page",
    ],
)
def test_foreign_host_is_refused_everywhere(base_url, path):
    r = _get(base_url, path, Host="evil.example.com")
    assert r.status_code == 403
    assert r.text == INVALID_HOST
    assert r.headers["Content-Type"].startswith("text/plain")


def test_foreign_host_cannot_write(base_url):
    name = unique("rebind")
    r = _create(base_url, name, Host="evil.example.com")
    assert r.status_code == 403
    assert r.text == INVALID_HOST
    assert not _exists(base_url, name)


@pytest.mark.parametrize("path", ["/health", "/version"])
def test_health_and_version_ignore_host(base_url, path):
    assert _get(base_url, path, Host="evil.example.com").status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:5000",
        "127.0.0.1:8080",
        "[::1]:5000",
        "0.0.0.0:5000",
        "10.1.2.3",
        "172.16.0.1:80",
        "172.31.255.1",
        "192.168.1.5:5000",
    ],
)
def test_local_and_private_hosts_are_allowed(base_url, host):
    assert _get(base_url, SEARCH, Host=host).status_code == 200


@pytest.mark.parametrize("host", ["172.32.0.1", "LOCALHOST:5000", "example.com", "8.8.8.8"])
def test_other_hosts_are_refused(base_url, host):
    assert _get(base_url, SEARCH, Host=host).status_code == 403


def test_localhost_origin_gets_cors_grant(base_url):
    origin = "http://localhost:3000"
    r = _get(base_url, SEARCH, Origin=origin)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_foreign_origin_gets_no_cors_grant(base_url):
    r = _get(base_url, SEARCH, Origin="https://evil.example.com")
    assert r.status_code == 200  # a read: the browser withholds the answer from the page
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_from_localhost(base_url):
    origin = "http://127.0.0.1:8888"
    r = requests.options(
        base_url + "/api/2.0/mlflow/experiments/create",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "content-type" in r.headers["Access-Control-Allow-Headers"].lower()


def test_preflight_from_foreign_origin(base_url):
    r = requests.options(
        base_url + "/api/2.0/mlflow/experiments/create",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert r.status_code == 400
    assert r.text == "Disallowed CORS origin"
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize(
    "origin", ["https://evil.example.com", "null", "http://localhost.evil.example.com"]
)
def test_foreign_origin_cannot_change_state(base_url, origin):
    name = unique("csrf")
    r = _create(base_url, name, Origin=origin)
    assert r.status_code == 403
    assert r.text == BLOCKED
    assert not _exists(base_url, name)


def test_foreign_origin_cannot_change_state_via_ajax(base_url, client):
    exp_id = client.create_experiment(unique("csrf-del"))
    r = requests.post(
        base_url + "/ajax-api/2.0/mlflow/experiments/delete",
        json={"experiment_id": exp_id},
        headers={"Origin": "https://evil.example.com"},
        timeout=30,
    )
    assert r.status_code == 403
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_localhost_origin_can_change_state(base_url):
    name = unique("cors-ok")
    r = _create(base_url, name, Origin="http://localhost:3000")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert _exists(base_url, name)


@pytest.mark.parametrize("path", ["/health", SEARCH, "/api/2.0/mlflow/experiments/get?experiment_id=x"])
def test_security_headers(base_url, path):
    r = _get(base_url, path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.fixture(scope="module")
def widened(start_server):
    return start_server([
        "--allowed-hosts", "mlflow.example.com,*.corp.example",
        "--cors-allowed-origins", "https://app.example.com",
        "--x-frame-options", "DENY",
    ])  # fmt: skip


def test_allowed_hosts_widens_and_replaces_defaults(widened):
    assert _get(widened, SEARCH, Host="mlflow.example.com").status_code == 200
    assert _get(widened, SEARCH, Host="ml.corp.example").status_code == 200
    assert _get(widened, SEARCH, Host="evil.example.com").status_code == 403
    # An explicit list replaces the defaults.
    port = urlparse(widened).port
    assert _get(widened, SEARCH, Host=f"127.0.0.1:{port}").status_code == 403
    assert _get(widened, "/health", Host="evil.example.com").status_code == 200


def test_cors_allowed_origins_widens(widened):
    host = "mlflow.example.com"
    name = unique("cors-app")
    r = _create(widened, name, Origin="https://app.example.com", Host=host)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert _exists(widened, name, host=host)
    # Localhost origins stay allowed; others stay blocked.
    assert _create(widened, unique("c"), Origin="http://localhost:1", Host=host).status_code == 200
    blocked = unique("c")
    r = _create(widened, blocked, Origin="https://evil.example.com", Host=host)
    assert r.status_code == 403
    assert not _exists(widened, blocked, host=host)


def test_x_frame_options_flag(widened):
    r = _get(widened, SEARCH, Host="mlflow.example.com")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_disable_security_middleware(start_server):
    url = start_server(["--disable-security-middleware"])
    r = _get(url, SEARCH, Host="evil.example.com")
    assert r.status_code == 200
    assert "X-Frame-Options" not in r.headers
    assert "X-Content-Type-Options" not in r.headers
    name = unique("open")
    assert _create(url, name, Origin="https://evil.example.com").status_code == 200
    assert _exists(url, name)
