"""Error cases as seen through the client (MlflowException.error_code + server message)."""

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from conftest import server_message, unique

KEY_CHARS_MSG = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
    "spaces ( ), colon(:) and slashes (/)."
)


def test_duplicate_experiment_name(client):
    name = unique("dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert e.value.get_http_status_code() == 400
    assert server_message(e.value).startswith(f"Experiment(name={name}) already exists.")


def test_get_unknown_run(client):
    run_id = "f" * 32
    with pytest.raises(MlflowException) as e:
        client.get_run(run_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert e.value.get_http_status_code() == 404
    assert server_message(e.value) == f"Run with id={run_id} not found"


def test_get_experiment_non_numeric_id(client):
    with pytest.raises(MlflowException) as e:
        client.get_experiment("abc")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."
    )


def test_changing_param_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "lr", "0.1")  # same value: fine
    with pytest.raises(MlflowException) as e:
        client.log_param(run_id, "lr", "0.2")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert e.value.get_http_status_code() == 400
    assert (
        "Changing param values is not allowed. Param with key='lr' was already logged with "
        f"value='0.1' for run ID='{run_id}'. Attempted logging new value '0.2'."
    ) in e.value.message
    assert client.get_run(run_id).data.params == {"lr": "0.1"}


def test_changing_param_value_fluent(client):
    mlflow.set_experiment(unique("err"))
    with mlflow.start_run() as run:
        mlflow.log_params({"a": 1})
        with pytest.raises(MlflowException) as e:
            mlflow.log_params({"a": 2})
        assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params == {"a": "1"}


@pytest.mark.parametrize(
    "filter_string, message",
    [
        ("metrics.acc > 0.8 OR metrics.acc < 0.1", "Invalid clause(s) in filter string: 'OR'"),
        ("metrics.acc > 'high'", "Expected numeric value type for metric. Found 'high'"),
        (
            "params.model = cnn",
            "Parameter value is either not quoted or unidentified quote types used for string "
            "value cnn. Use either single or double quotes.",
        ),
        (
            "attributes.status IN ('FINISHED')",
            "Only ['run_id'] attributes support comparison with a list of quoted string values.",
        ),
        (
            "foo.bar = 'x'",
            "Invalid entity type 'foo'. Valid values are "
            "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
        ),
        ("metrics.acc", "Invalid clause(s) in filter string: 'metrics.acc'"),
        (
            "attributes.start_time = 'abc'",
            "Expected numeric value type for numeric attribute: start_time. Found 'abc'",
        ),
        (
            "attributes.run_id IN ()",
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got empty list",
        ),
    ],
)
def test_bad_filter_string(client, experiment_id, filter_string, message):
    with pytest.raises(MlflowException) as e:
        client.search_runs([experiment_id], filter_string)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert e.value.get_http_status_code() == 400
    # mlox appends where the error is (" (at position N: expected …)") to MLflow's text.
    assert server_message(e.value).startswith(message)


def test_bad_order_by(client, experiment_id):
    with pytest.raises(MlflowException) as e:
        client.search_runs([experiment_id], "", order_by=["metrics.acc DESC ASC"])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value).startswith(
        "Invalid order_by clause 'metrics.acc DESC ASC'. Could not be parsed."
    )
    with pytest.raises(MlflowException) as e:
        client.search_runs([experiment_id], "", order_by=["metrics.acc sideways"])
    assert server_message(e.value).startswith(
        "Invalid ordering key in order_by clause 'metrics.acc sideways'."
    )


@pytest.mark.parametrize(
    "key, shown",
    [
        ("bad*key", '"bad*key"'),
        ("semi;colon", '"semi;colon"'),
        ("quote'", '"quote\'"'),
        # The value is rendered with Python's json.dumps (ASCII only, escapes).
        ("tab\tkey", '"tab\\tkey"'),
        ('dq"', '"dq\\""'),
        ("é*", '"\\u00e9*"'),
    ],
)
def test_invalid_metric_key_chars(client, experiment_id, key, shown):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, key, 1.0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        f"Invalid value {shown} for parameter 'name' supplied: {KEY_CHARS_MSG}"
    )
    assert client.get_run(run_id).data.metrics == {}


@pytest.mark.parametrize(
    "key, resolved", [("../up", "../up"), ("/abs", "/abs"), ("a//b", "a/b"), ("a/./b", "a/b")]
)
def test_metric_key_not_path_safe(client, experiment_id, key, resolved):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, key, 1.0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        f"Invalid value \"{key}\" for parameter 'name' supplied: Names may be treated as files "
        "in certain cases, and must not resolve to other names when treated as such. This name "
        f"would resolve to '{resolved}'"
    )


def test_valid_unusual_keys(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    keys = ["a b", "x:y", "dir/sub/leaf", "dots.and-dashes_", "k" * 250, "ÄÖÜ"]
    client.log_batch(run_id, metrics=[Metric(k, 1.0, 1, 0) for k in keys])
    assert set(client.get_run(run_id).data.metrics) == set(keys)


def test_invalid_param_and_tag_keys(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_param(run_id, "bad*key", "v")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert f"Invalid value \"bad*key\" for parameter 'key' supplied: {KEY_CHARS_MSG}" in (
        e.value.message
    )
    with pytest.raises(MlflowException) as e:
        client.set_tag(run_id, "bad*key", "v")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        f"Invalid value \"bad*key\" for parameter 'key' supplied: {KEY_CHARS_MSG}"
    )


def test_metric_key_too_long(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, "k" * 251, 1.0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == "'Metric name' exceeds the maximum length of 250 characters"


def test_negative_metric_timestamp(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, "m", 1.0, timestamp=-5)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Invalid value -5 for parameter 'timestamp' supplied: metric 'm' (value=1.0). "
        "Timestamp must be a nonnegative long (64-bit integer) "
    )
    # Negative steps are fine.
    client.log_metric(run_id, "m", 2.0, timestamp=5, step=-3)
    (m,) = client.get_metric_history(run_id, "m")
    assert (m.value, m.timestamp, m.step) == (2.0, 5, -3)


def test_batch_with_invalid_metric_key_stores_nothing(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_batch(
            run_id,
            metrics=[Metric("ok", 1.0, 1, 0), Metric("b@d", 1.0, 1, 0)],
            params=[Param("p", "v")],
            tags=[RunTag("t", "v")],
        )
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        f"Invalid value \"b@d\" for parameter 'metrics[1].name' supplied: {KEY_CHARS_MSG}"
    )
    run = client.get_run(run_id)
    assert run.data.metrics == {}
    assert run.data.params == {}
    assert "t" not in run.data.tags


def _deleted_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    return run_id


@pytest.mark.parametrize(
    "action",
    [
        lambda c, r: c.log_metric(r, "m", 1.0),
        lambda c, r: c.log_param(r, "p", "v"),
        lambda c, r: c.set_tag(r, "t", "v"),
        lambda c, r: c.log_batch(r, metrics=[Metric("m", 1.0, 1, 0)]),
        lambda c, r: c.update_run(r, status="FINISHED"),
        lambda c, r: c.delete_tag(r, "mlflow.user"),
    ],
    ids=["log_metric", "log_param", "set_tag", "log_batch", "update_run", "delete_tag"],
)
def test_logging_to_deleted_run(client, experiment_id, action):
    run_id = _deleted_run(client, experiment_id)
    with pytest.raises(MlflowException) as e:
        action(client, run_id)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert e.value.get_http_status_code() == 400
    assert (
        f"The run {run_id} must be in the 'active' state. Current state is deleted."
        in e.value.message
    )


def test_logging_to_unknown_run(client):
    run_id = "e" * 32
    with pytest.raises(MlflowException) as e:
        client.log_metric(run_id, "m", 1.0)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == f"Run with id={run_id} not found"
    with pytest.raises(MlflowException) as e:
        client.set_tag(run_id, "t", "v")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_experiment_name_too_long(client):
    with pytest.raises(MlflowException) as e:
        client.create_experiment("n" * 501)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == "'name' exceeds the maximum length of 500 characters"


def test_empty_experiment_name(client):
    with pytest.raises(MlflowException) as e:
        client.create_experiment("")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Missing value for required parameter 'name'. "
        "See the API docs for more information about request parameters."
    )
