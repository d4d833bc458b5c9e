"""Raw HTTP checks of wire details the client relies on (or that other clients see).

Everything asserted here is what the reference MLflow server does.
"""

import json
import re

import pytest
import requests

from conftest import unique

TIMEOUT = 30
API = "/api/2.0/mlflow"
MISSING_NAME = (
    "Missing value for required parameter 'name'. "
    "See the API docs for more information about request parameters."
)


@pytest.fixture
def api(base_url):
    return base_url + API


def post(url, body, **kw):
    return requests.post(url, json=body, timeout=TIMEOUT, **kw)


def assert_error(r, status, code, message=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["error_code"] == code, body
    if message is not None:
        assert body["message"] == message
    return body


@pytest.fixture
def run_id(api):
    exp_id = post(f"{api}/experiments/create", {"name": unique("http")}).json()["experiment_id"]
    r = post(f"{api}/runs/create", {"experiment_id": exp_id, "start_time": 5, "run_name": "x"})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]["run_id"]


# --- non-API routes ----------------------------------------------------------------------


def test_health(base_url):
    r = requests.get(f"{base_url}/health", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.text == "OK"


def test_version(base_url):
    r = requests.get(f"{base_url}/version", timeout=TIMEOUT)
    assert r.status_code == 200
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)\S*", r.text.strip())
    assert m, r.text
    # The 3.x client needs >= 3.4 to export spans to the server.
    assert (int(m.group(1)), int(m.group(2))) >= (3, 4)


def test_server_info(base_url):
    r = requests.get(f"{base_url}/api/3.0/mlflow/server-info", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    info = r.json()
    assert isinstance(info["store_type"], str)
    assert info["workspaces_enabled"] is False
    assert isinstance(info.get("multipart_uploads_enabled", False), bool)
    # Every field MLflow 3.17 sends is there, with its type.
    for key in [
        "trace_archival_enabled",
        "multipart_downloads_enabled",
        "presigned_upload_run_id_supported",
        "presigned_upload_model_id_supported",
    ]:
        assert isinstance(info[key], bool), key
    assert isinstance(info["features_enabled"], dict)
    assert isinstance(info["features_enabled"]["gateway"], bool)


def test_unknown_route_is_404(base_url):
    for path in ["/api/2.0/mlflow/no-such-endpoint", "/definitely/not/here"]:
        r = requests.get(base_url + path, timeout=TIMEOUT)
        assert r.status_code == 404
        # The client maps a 404 without a JSON error body to ENDPOINT_NOT_FOUND.
        try:
            body = r.json()
        except ValueError:
            continue
        assert body.get("error_code") in ("ENDPOINT_NOT_FOUND", None)


def test_wrong_method_is_405(api):
    r = requests.get(f"{api}/experiments/create", params={"name": "x"}, timeout=TIMEOUT)
    assert r.status_code == 405


def test_ajax_api_prefix(base_url):
    r = requests.get(
        f"{base_url}/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": "0"},
        timeout=TIMEOUT,
    )  # fmt: skip
    assert r.status_code == 200
    assert r.json()["experiment"]["name"] == "Default"


# --- request parsing --------------------------------------------------------------------


def test_missing_content_type(api):
    r = requests.post(
        f"{api}/experiments/create", data=json.dumps({"name": unique("ct")}), timeout=TIMEOUT
    )
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type(api, ctype):
    r = requests.post(
        f"{api}/experiments/create",
        data=json.dumps({"name": unique("ct")}),
        headers={"Content-Type": ctype},
        timeout=TIMEOUT,
    )
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "Bad Request. Content-Type must be one of ['application/json'].",
    )  # fmt: skip


def test_content_type_with_charset(api):
    name = unique("ct")
    r = requests.post(
        f"{api}/experiments/create",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200
    assert r.json()["experiment_id"]


def test_malformed_json_body(api):
    # MLflow reads bodies with Flask's get_json(silent=True): a body that is not JSON is
    # an empty request (issue #18), so the error is the one for a missing field.
    r = requests.post(
        f"{api}/experiments/create",
        data='{"name": ',
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", MISSING_NAME)
    r = requests.post(
        f"{api}/runs/search",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200
    assert r.json().get("runs", []) == []


def test_empty_body_means_no_fields(api):
    r = requests.post(
        f"{api}/experiments/create", headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", MISSING_NAME)
    r = requests.post(
        f"{api}/runs/search", headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert r.status_code == 200
    assert r.json().get("runs", []) == []


def test_wrong_field_type(api):
    r = post(f"{api}/experiments/create", {"name": 5})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_fields_ignored(api):
    name = unique("unk")
    r = post(f"{api}/experiments/create", {"name": name, "bogus": {"x": 1}, "another": [1, 2]})
    assert r.status_code == 200
    exp_id = r.json()["experiment_id"]
    r = requests.get(f"{api}/experiments/get", params={"experiment_id": exp_id}, timeout=TIMEOUT)
    assert r.json()["experiment"]["name"] == name


def test_double_encoded_json_body(api):
    """Old clients sent the JSON body as a JSON string."""
    name = unique("dbl")
    r = requests.post(
        f"{api}/experiments/create",
        data=json.dumps(json.dumps({"name": name})),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    r = requests.get(f"{api}/experiments/get-by-name", params={"experiment_name": name},
                     timeout=TIMEOUT)  # fmt: skip
    assert r.status_code == 200


def test_required_parameter_missing(api):
    r = requests.get(f"{api}/experiments/get", timeout=TIMEOUT)
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "Missing value for required parameter 'experiment_id'. "
        "See the API docs for more information about request parameters.",
    )  # fmt: skip


def test_int64_as_string_accepted(api, run_id):
    r = post(
        f"{api}/runs/log-metric",
        {"run_id": run_id, "key": "s", "value": 1.5, "timestamp": "1234", "step": "7"},
    )
    assert r.status_code == 200, r.text
    r = requests.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "s"},
                     timeout=TIMEOUT)  # fmt: skip
    assert r.json()["metrics"] == [{"key": "s", "value": 1.5, "timestamp": 1234, "step": 7}]


def test_run_uuid_alias(api, run_id):
    r = requests.get(f"{api}/runs/get", params={"run_uuid": run_id}, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json()["run"]["info"]["run_id"] == run_id
    r = post(f"{api}/runs/set-tag", {"run_uuid": run_id, "key": "via", "value": "uuid"})
    assert r.status_code == 200
    tags = requests.get(f"{api}/runs/get", params={"run_id": run_id}, timeout=TIMEOUT).json()
    assert {"key": "via", "value": "uuid"} in tags["run"]["data"]["tags"]


# --- response encoding ------------------------------------------------------------------


def test_experiment_json_shape(api):
    r = requests.get(f"{api}/experiments/get", params={"experiment_id": "0"}, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    exp = r.json()["experiment"]
    assert exp["experiment_id"] == "0"  # ids are strings
    assert exp["name"] == "Default"
    assert exp["lifecycle_stage"] == "active"
    assert isinstance(exp["creation_time"], int)  # int64 as JSON numbers
    assert isinstance(exp["last_update_time"], int)
    assert isinstance(exp["artifact_location"], str)
    assert exp["workspace"] == "default"  # 3.17 names the workspace even without workspaces
    r = post(f"{api}/experiments/search", {"max_results": 5})
    assert all(e["workspace"] == "default" for e in r.json()["experiments"])


def test_run_json_shape(api, run_id):
    r = requests.get(f"{api}/runs/get", params={"run_id": run_id}, timeout=TIMEOUT)
    run = r.json()["run"]
    info = run["info"]
    assert info["run_id"] == run_id
    assert info["run_uuid"] == run_id
    assert info["run_name"] == "x"
    assert info["status"] == "RUNNING"  # enums as names
    assert info["start_time"] == 5
    assert "end_time" not in info  # unset while running
    assert info["lifecycle_stage"] == "active"
    assert info["artifact_uri"].endswith(f"/{run_id}/artifacts")
    assert isinstance(info["experiment_id"], str)
    assert run["data"]["tags"] == [{"key": "mlflow.runName", "value": "x"}]
    assert "params" not in run["data"]  # empty repeated fields are omitted
    assert "metrics" not in run["data"]


def test_empty_response_is_empty_object(api, run_id):
    r = post(f"{api}/runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"})
    assert r.status_code == 200
    assert r.json() == {}


def test_non_finite_metrics_on_the_wire(api, run_id):
    metrics = [
        {"key": "m", "value": v, "timestamp": i, "step": i}
        for i, v in enumerate([1, "NaN", "Infinity", "-Infinity", 2.5])
    ]
    r = post(f"{api}/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    assert r.status_code == 200, r.text
    r = requests.get(f"{api}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"},
                     timeout=TIMEOUT)  # fmt: skip
    got = [(m["value"], m["step"]) for m in r.json()["metrics"]]
    assert got == [
        (1.0, 0),
        ("NaN", 1),  # NaN is sent as the string "NaN"
        (1.7976931348623157e308, 2),  # infinities are clamped to +/-DBL_MAX
        (-1.7976931348623157e308, 3),
        (2.5, 4),
    ]
    run = requests.get(f"{api}/runs/get", params={"run_id": run_id}, timeout=TIMEOUT).json()
    assert run["run"]["data"]["metrics"] == [{"key": "m", "value": 2.5, "timestamp": 4, "step": 4}]


# --- metric history paging --------------------------------------------------------------


def test_get_history_paging(api, run_id):
    metrics = [{"key": "p", "value": i, "timestamp": 100 + i, "step": i} for i in range(5)]
    assert post(f"{api}/runs/log-batch", {"run_id": run_id, "metrics": metrics}).status_code == 200
    url = f"{api}/metrics/get-history"
    r = requests.get(url, params={"run_id": run_id, "metric_key": "p"}, timeout=TIMEOUT)
    body = r.json()
    assert [m["step"] for m in body["metrics"]] == [0, 1, 2, 3, 4]
    assert not body.get("next_page_token")  # no max_results: everything, no token

    steps, token, pages = [], None, 0
    while True:
        params = {"run_id": run_id, "metric_key": "p", "max_results": 2}
        if token:
            params["page_token"] = token
        body = requests.get(url, params=params, timeout=TIMEOUT).json()
        pages += 1
        assert len(body["metrics"]) <= 2
        steps += [m["step"] for m in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert steps == [0, 1, 2, 3, 4]
    assert pages == 3

    # Exactly one full page: no token.
    body = requests.get(
        url, params={"run_id": run_id, "metric_key": "p", "max_results": 5}, timeout=TIMEOUT
    ).json()
    assert len(body["metrics"]) == 5
    assert not body.get("next_page_token")


def test_get_history_oversized_max_results(api, run_id):
    post(f"{api}/runs/log-metric", {"run_id": run_id, "key": "o", "value": 1, "timestamp": 1})
    for n in (25_001, 10**8):
        r = requests.get(
            f"{api}/metrics/get-history",
            params={"run_id": run_id, "metric_key": "o", "max_results": n},
            timeout=TIMEOUT,
        )
        assert r.status_code == 200
        assert len(r.json()["metrics"]) == 1


@pytest.mark.parametrize("n", [0, -1])
def test_get_history_non_positive_max_results(api, run_id, n):
    r = requests.get(
        f"{api}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "o", "max_results": n},
        timeout=TIMEOUT,
    )
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        f"Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer.",
    )  # fmt: skip


def test_get_history_missing_key(api, run_id):
    r = requests.get(f"{api}/metrics/get-history", params={"run_id": run_id}, timeout=TIMEOUT)
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "Missing value for required parameter 'metric_key'. "
        "See the API docs for more information about request parameters.",
    )  # fmt: skip


def test_bad_page_tokens(api, run_id):
    r = requests.get(
        f"{api}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "m", "page_token": "bad"},
        timeout=TIMEOUT,
    )
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid page token, could not base64-decode")
    r = post(f"{api}/runs/search", {"experiment_ids": ["0"], "page_token": "bad"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid page token, could not base64-decode")


def test_page_token_is_opaque_but_round_trips(api):
    exp_id = post(f"{api}/experiments/create", {"name": unique("tok")}).json()["experiment_id"]
    for i in range(3):
        post(f"{api}/runs/create", {"experiment_id": exp_id, "start_time": i})
    r = post(f"{api}/runs/search", {"experiment_ids": [exp_id], "max_results": 2})
    body = r.json()
    assert len(body["runs"]) == 2
    token = body["next_page_token"]
    assert isinstance(token, str) and token
    r = post(
        f"{api}/runs/search", {"experiment_ids": [exp_id], "max_results": 2, "page_token": token}
    )
    body = r.json()
    assert len(body["runs"]) == 1
    assert not body.get("next_page_token")


# --- search_runs limits -----------------------------------------------------------------


def test_search_runs_max_results_limits(api):
    r = post(f"{api}/runs/search", {"experiment_ids": ["0"], "max_results": 50000})
    assert r.status_code == 200
    r = post(f"{api}/runs/search", {"experiment_ids": ["0"], "max_results": 50001})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = post(f"{api}/runs/search", {"experiment_ids": ["0"], "max_results": 0})
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer",
    )  # fmt: skip


def test_search_runs_without_experiments_is_empty(api):
    r = post(f"{api}/runs/search", {})
    assert r.status_code == 200
    assert r.json().get("runs", []) == []
    r = post(f"{api}/runs/search", {"experiment_ids": ["987654321"]})
    assert r.status_code == 200
    assert r.json().get("runs", []) == []


def test_search_runs_duplicate_order_by(api):
    r = post(
        f"{api}/runs/search",
        {"experiment_ids": ["0"], "order_by": ["metrics.acc", "metrics.acc DESC"]},
    )
    # The reference server raises this as an INTERNAL_ERROR (HTTP 500), which makes a
    # client with default retries retry for minutes. mlox deliberately answers 400
    # INVALID_PARAMETER_VALUE with the same message (a documented deviation).
    assert (r.status_code, r.json()["error_code"]) in [(500, "INTERNAL_ERROR"), (400, "INVALID_PARAMETER_VALUE")]
    assert r.json()["message"] == (
        "`order_by` contains duplicate fields: ['metrics.acc', 'metrics.acc DESC']"
    )


def test_search_experiments_via_get(api):
    name = unique("sget")
    post(f"{api}/experiments/create", {"name": name})
    r = requests.get(
        f"{api}/experiments/search",
        params={"filter": f"name = '{name}'", "max_results": "10", "view_type": "ACTIVE_ONLY"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200
    assert [e["name"] for e in r.json()["experiments"]] == [name]


# --- status codes of common errors ------------------------------------------------------


def test_error_statuses(api):
    r = requests.get(f"{api}/runs/get", params={"run_id": "abc"}, timeout=TIMEOUT)
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=abc not found")
    r = requests.get(
        f"{api}/experiments/get-by-name", params={"experiment_name": "no such exp ✓"},
        timeout=TIMEOUT,
    )  # fmt: skip
    assert_error(
        r, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name 'no such exp ✓'"
    )
    name = unique("dupe")
    post(f"{api}/experiments/create", {"name": name})
    r = post(f"{api}/experiments/create", {"name": name})
    body = assert_error(r, 400, "RESOURCE_ALREADY_EXISTS")
    assert body["message"].startswith(f"Experiment(name={name}) already exists.")


def test_batch_limits(api, run_id):
    url = f"{api}/runs/log-batch"
    r = post(url, {"run_id": run_id, "params": [{"key": f"p{i}", "value": "1"} for i in range(101)]})
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 100 params. Got 101 params. "
        "Please split up params across multiple requests and try again.",
    )  # fmt: skip
    r = post(url, {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]})
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 100 tags. Got 101 tags. "
        "Please split up tags across multiple requests and try again.",
    )  # fmt: skip
    metrics = [{"key": "m", "value": 1, "timestamp": i, "step": 0} for i in range(1001)]
    r = post(url, {"run_id": run_id, "metrics": metrics})
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. "
        "Please split up metrics across multiple requests and try again.",
    )  # fmt: skip
    r = post(
        url,
        {
            "run_id": run_id,
            "metrics": metrics[:950],
            "params": [{"key": f"p{i}", "value": "1"} for i in range(51)],
        },
    )
    assert_error(
        r, 400, "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 1000 metrics, params, and tags. "
        "Got 1001 metrics, params, and tags. Please split up metrics, params, and tags across "
        "multiple requests and try again.",
    )  # fmt: skip
    run = requests.get(f"{api}/runs/get", params={"run_id": run_id}, timeout=TIMEOUT).json()
    assert "metrics" not in run["run"]["data"]
    assert "params" not in run["run"]["data"]


def test_long_values_are_truncated(api, run_id):
    r = post(f"{api}/runs/log-parameter", {"run_id": run_id, "key": "lp", "value": "v" * 6001})
    assert r.status_code == 200
    r = post(f"{api}/runs/set-tag", {"run_id": run_id, "key": "lt", "value": "w" * 8001})
    assert r.status_code == 200
    run = requests.get(f"{api}/runs/get", params={"run_id": run_id}, timeout=TIMEOUT).json()
    params = {p["key"]: p["value"] for p in run["run"]["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["run"]["data"]["tags"]}
    assert params["lp"] == "v" * 6000
    assert tags["lt"] == "w" * 8000
