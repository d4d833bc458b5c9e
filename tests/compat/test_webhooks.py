"""Webhooks through MlflowClient: CRUD, test deliveries, and deliveries on registry events
to a receiver on loopback, checked for payload shape and HMAC signature.

The servers under test allow http:// webhooks to private addresses and do not cache
webhook lists (see conftest.py); MLflow's defaults are https only and public addresses only.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlflow.entities.webhook import WebhookStatus
from mlflow.exceptions import MlflowException

from conftest import server_message, unique

SECRET = "s3cr3t-key"


class Receiver:
    """An HTTP server on loopback that records deliveries and answers with queued statuses."""

    def __init__(self):
        self.requests = []
        self.statuses = []  # answered in order; 200 once empty
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if status == 200:
                        receiver.requests.append((dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self, name, entity=None, timeout=15.0, count=1):
        """Deliveries whose data names `name` (other tests share the server)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [
                    (h, b)
                    for h, b in self.requests
                    if json.loads(b)["data"].get("name") == name
                    and (entity is None or json.loads(b)["entity"] == entity)
                ]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def webhooks(client):
    """Webhooks created by a test, deleted afterwards so later tests see no deliveries."""
    created = []

    def make(**kwargs):
        hook = client.create_webhook(**kwargs)
        created.append(hook.webhook_id)
        return hook

    yield make
    for webhook_id in created:
        try:
            client.delete_webhook(webhook_id)
        except MlflowException:
            pass


def header(headers, name):
    return {k.lower(): v for k, v in headers.items()}[name.lower()]


def check_signature(headers, body):
    delivery_id = header(headers, "X-MLflow-Delivery-Id")
    timestamp = header(headers, "X-MLflow-Timestamp")
    signed = f"{delivery_id}.{timestamp}.{body.decode()}".encode()
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()
    assert header(headers, "X-MLflow-Signature") == "v1," + base64.b64encode(digest).decode()
    assert abs(int(timestamp) - time.time()) < 120


def test_webhook_crud(client, webhooks, receiver):
    name = unique("hook")
    hook = webhooks(
        name=name,
        url=receiver.url,
        events=["registered_model.created", "model_version.created"],
        description="my hook",
        secret=SECRET,
    )
    assert hook.name == name
    assert hook.url == receiver.url
    assert hook.description == "my hook"
    assert hook.status == WebhookStatus.ACTIVE
    assert sorted(str(e) for e in hook.events) == [
        "model_version.created",
        "registered_model.created",
    ]
    assert hook.creation_timestamp > 0

    got = client.get_webhook(hook.webhook_id)
    assert (got.webhook_id, got.name, got.url) == (hook.webhook_id, name, receiver.url)
    assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks(max_results=1000)]

    updated = client.update_webhook(
        hook.webhook_id,
        name=name + "-2",
        description="changed",
        events=["model_version_tag.set"],
        status="DISABLED",
    )
    assert updated.name == name + "-2"
    assert updated.description == "changed"
    assert [str(e) for e in updated.events] == ["model_version_tag.set"]
    assert updated.status == WebhookStatus.DISABLED
    assert updated.last_updated_timestamp >= hook.last_updated_timestamp

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException) as e:
        client.get_webhook(hook.webhook_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == f"Webhook with ID {hook.webhook_id} not found."


def test_list_webhooks_paging(client, webhooks, receiver):
    ids = [
        webhooks(name=unique("page"), url=receiver.url, events=["model_version.created"]).webhook_id
        for _ in range(3)
    ]
    seen = []
    token = None
    while True:
        page = client.list_webhooks(max_results=2, page_token=token)
        assert len(page) <= 2
        seen.extend(w.webhook_id for w in page)
        token = page.token
        if not token:
            break
    assert set(ids) <= set(seen)
    # Newest first.
    order = [i for i in seen if i in ids]
    assert order == ids[::-1]


def test_invalid_webhooks(client, receiver):
    with pytest.raises(MlflowException) as e:
        client.create_webhook(name="-bad", url=receiver.url, events=["model_version.created"])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value).startswith("Webhook name '-bad' is invalid.")
    with pytest.raises(MlflowException) as e:
        client.create_webhook(
            name=unique("h"), url="ftp://127.0.0.1/x", events=["model_version.created"]
        )
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value).startswith("Invalid webhook URL scheme: 'ftp'.")
    with pytest.raises(MlflowException) as e:
        client.get_webhook("no-such-webhook")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_deliveries_on_registry_events(client, webhooks, receiver, experiment_id):
    webhooks(
        name=unique("deliver"),
        url=receiver.url,
        events=[
            "registered_model.created",
            "model_version.created",
            "model_version_tag.set",
            "model_version_tag.deleted",
            "model_version_alias.created",
            "model_version_alias.deleted",
        ],
        secret=SECRET,
    )
    run_id = client.create_run(experiment_id).info.run_id
    name = unique("hooked")
    client.create_registered_model(name, tags={"team": "a"}, description="d")
    client.create_model_version(
        name, f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"}, description="v1"
    )
    client.set_model_version_tag(name, "1", "stage", "qa")
    client.delete_model_version_tag(name, "1", "stage")
    client.set_registered_model_alias(name, "champ", "1")
    client.delete_registered_model_alias(name, "champ")

    got = receiver.payloads(name, count=6)
    assert len(got) == 6, [json.loads(b) for _, b in got]
    events = {}
    for headers, body in got:
        check_signature(headers, body)
        assert header(headers, "Content-Type") == "application/json"
        payload = json.loads(body)
        # The bytes (which the signature covers) are what MLflow's `json.dumps` writes.
        assert body == json.dumps(payload).encode(), body
        assert set(payload) == {"entity", "action", "timestamp", "data"}
        assert payload["timestamp"].endswith("+00:00")
        events[(payload["entity"], payload["action"])] = payload["data"]
    assert events == {
        ("registered_model", "created"): {
            "name": name,
            "tags": {"team": "a"},
            "description": "d",
        },
        ("model_version", "created"): {
            "name": name,
            "version": "1",
            "source": f"runs:/{run_id}/model",
            "run_id": run_id,
            "tags": {"k": "v"},
            "description": "v1",
        },
        ("model_version_tag", "set"): {"name": name, "version": "1", "key": "stage", "value": "qa"},
        ("model_version_tag", "deleted"): {"name": name, "version": "1", "key": "stage"},
        ("model_version_alias", "created"): {"name": name, "alias": "champ", "version": "1"},
        ("model_version_alias", "deleted"): {"name": name, "alias": "champ"},
    }


def test_only_subscribed_and_active_webhooks_deliver(client, webhooks, receiver):
    hook = webhooks(name=unique("sub"), url=receiver.url, events=["model_version.created"])
    quiet = unique("quiet")
    client.create_registered_model(quiet)
    client.create_model_version(quiet, "s3://bucket/model")
    [(headers, body)] = receiver.payloads(quiet)
    assert json.loads(body)["entity"] == "model_version"
    assert "x-mlflow-signature" not in {k.lower() for k in headers}, "no secret, no signature"

    client.update_webhook(hook.webhook_id, status="DISABLED")
    off = unique("off")
    client.create_registered_model(off)
    client.create_model_version(off, "s3://bucket/model")
    time.sleep(2)
    assert receiver.payloads(off, timeout=0) == []


def test_failed_delivery_is_retried(client, webhooks, receiver):
    receiver.statuses = [500]
    webhooks(
        name=unique("retry"), url=receiver.url, events=["registered_model.created"], secret=SECRET
    )
    name = unique("retried")
    start = time.monotonic()
    client.create_registered_model(name)
    assert time.monotonic() - start < 5, "the request does not wait for the receiver"
    [(headers, body)] = receiver.payloads(name, timeout=20)
    check_signature(headers, body)


def test_test_webhook(client, webhooks, receiver):
    hook = webhooks(
        name=unique("test"),
        url=receiver.url,
        events=["model_version_alias.created", "registered_model.created"],
        secret=SECRET,
    )
    result = client.test_webhook(hook.webhook_id)
    assert result.success is True
    assert result.response_status == 200
    assert result.response_body == "ok"
    assert result.error_message is None
    result = client.test_webhook(hook.webhook_id, event="registered_model.created")
    assert result.success
    deliveries = receiver.payloads("example_model", count=2)
    payloads = [json.loads(b) for _, b in deliveries]
    for headers, body in deliveries:
        check_signature(headers, body)
    assert {(p["entity"], p["action"]) for p in payloads} == {
        ("model_version_alias", "created"),
        ("registered_model", "created"),
    }
    alias = next(p for p in payloads if p["entity"] == "model_version_alias")
    assert alias["data"] == {"name": "example_model", "alias": "example_alias", "version": "1"}

    receiver.statuses = [404]
    result = client.test_webhook(hook.webhook_id)
    assert (result.success, result.response_status) == (False, 404)


def test_test_webhook_unreachable(client, webhooks):
    hook = webhooks(
        name=unique("dead"), url="http://127.0.0.1:9/hook", events=["registered_model.created"]
    )
    result = client.test_webhook(hook.webhook_id)
    assert result.success is False
    assert result.response_status is None
    assert result.error_message.startswith("Failed to test webhook: ")
