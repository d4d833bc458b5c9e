"""MlflowClient run CRUD, tags, log_batch and metric history."""

import math
import time

import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from conftest import server_message


def test_create_and_get_run(client, experiment_id):
    before = int(time.time() * 1000)
    run = client.create_run(experiment_id, tags={"k": "v"}, run_name="named")
    after = int(time.time() * 1000)
    info = run.info
    assert info.experiment_id == experiment_id
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.run_name == "named"
    assert before <= info.start_time <= after
    assert info.end_time is None
    assert run.data.tags == {"k": "v", "mlflow.runName": "named"}
    assert run.data.params == {}
    assert run.data.metrics == {}

    got = client.get_run(info.run_id)
    assert got.info.run_id == info.run_id
    assert got.info.experiment_id == experiment_id
    assert got.info.start_time == info.start_time
    assert got.info.artifact_uri == info.artifact_uri
    assert got.info.artifact_uri.endswith(f"/{info.run_id}/artifacts")
    assert got.data.tags == {"k": "v", "mlflow.runName": "named"}
    assert got.inputs.dataset_inputs == []


def test_create_run_explicit_start_time(client, experiment_id):
    run = client.create_run(experiment_id, start_time=1_234_567)
    assert client.get_run(run.info.run_id).info.start_time == 1_234_567


def test_create_run_name_from_tag(client, experiment_id):
    run = client.create_run(experiment_id, tags={"mlflow.runName": "from-tag"})
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "from-tag"
    assert got.data.tags["mlflow.runName"] == "from-tag"


def test_create_run_conflicting_name_and_tag(client, experiment_id):
    with pytest.raises(MlflowException) as e:
        client.create_run(experiment_id, tags={"mlflow.runName": "a"}, run_name="b")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
        "different values (run_name='b', mlflow.runName='a')."
    )


def test_create_run_in_unknown_experiment(client):
    with pytest.raises(MlflowException) as e:
        client.create_run("987654321")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == "No Experiment with id=987654321 exists"


def test_update_run_status_and_name(client, experiment_id):
    run = client.create_run(experiment_id, run_name="first")
    run_id = run.info.run_id
    client.update_run(run_id, name="second")
    got = client.get_run(run_id)
    assert got.info.run_name == "second"
    assert got.data.tags["mlflow.runName"] == "second"
    assert got.info.status == "RUNNING"
    client.update_run(run_id, status="FAILED")
    got = client.get_run(run_id)
    assert got.info.status == "FAILED"
    assert got.info.run_name == "second"
    assert got.info.end_time is None  # update_run does not set end_time


def test_set_terminated(client, experiment_id):
    run = client.create_run(experiment_id)
    client.set_terminated(run.info.run_id, status="KILLED", end_time=9_999_999_999_999)
    info = client.get_run(run.info.run_id).info
    assert info.status == "KILLED"
    assert info.end_time == 9_999_999_999_999
    client.set_terminated(run.info.run_id)  # FINISHED, end_time now
    info = client.get_run(run.info.run_id).info
    assert info.status == "FINISHED"
    assert abs(info.end_time - time.time() * 1000) < 60_000


def test_rename_via_tag_updates_run_name(client, experiment_id):
    run = client.create_run(experiment_id, run_name="before")
    client.set_tag(run.info.run_id, "mlflow.runName", "after")
    got = client.get_run(run.info.run_id)
    assert got.data.tags["mlflow.runName"] == "after"
    assert got.info.run_name == "after"


def test_delete_and_restore_run(client, experiment_id):
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]


def test_delete_unknown_run(client):
    with pytest.raises(MlflowException) as e:
        client.delete_run("0123456789abcdef0123456789abcdef")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == "Run with id=0123456789abcdef0123456789abcdef not found"


def test_set_and_delete_tag(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "a", "1")
    client.set_tag(run_id, "b", "2")
    client.set_tag(run_id, "a", "3")
    client.delete_tag(run_id, "b")
    tags = client.get_run(run_id).data.tags
    assert tags["a"] == "3"
    assert "b" not in tags


def test_delete_missing_tag(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.delete_tag(run_id, "nope")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == f"No tag with name: nope in run with id {run_id}"


def test_long_tag_value(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "t" * 8000  # MAX_TAG_VAL_LENGTH
    client.set_tag(run_id, "long", value)
    assert client.get_run(run_id).data.tags["long"] == value


def test_log_batch(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("m1", 1.0, 1000, 0),
            Metric("m1", 2.0, 2000, 1),
            Metric("m2", -5.5, 1500, 3),
        ],
        params=[Param("p1", "a"), Param("p2", "b")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    run = client.get_run(run_id)
    assert run.data.metrics == {"m1": 2.0, "m2": -5.5}
    assert run.data.params == {"p1": "a", "p2": "b"}
    assert run.data.tags["t1"] == "x"
    assert run.data.tags["t2"] == "y"
    assert [(m.value, m.step, m.timestamp) for m in client.get_metric_history(run_id, "m1")] == [
        (1.0, 0, 1000),
        (2.0, 1, 2000),
    ]
    # Re-logging identical params in a batch is allowed.
    client.log_batch(run_id, params=[Param("p1", "a")])
    assert client.get_run(run_id).data.params == {"p1": "a", "p2": "b"}


def test_log_batch_many_params_and_tags(client, experiment_id):
    """More than 100 params/tags: the client splits them into several requests."""
    run_id = client.create_run(experiment_id).info.run_id
    params = [Param(f"p{i:03d}", str(i)) for i in range(250)]
    tags = [RunTag(f"t{i:03d}", str(i)) for i in range(150)]
    client.log_batch(run_id, params=params, tags=tags)
    run = client.get_run(run_id)
    assert run.data.params == {p.key: p.value for p in params}
    assert {k: v for k, v in run.data.tags.items() if k.startswith("t")} == {
        t.key: t.value for t in tags
    }


def test_log_batch_changing_param_fails(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    with pytest.raises(MlflowException) as e:
        client.log_batch(run_id, params=[Param("p", "2"), Param("q", "3")])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Changing param values is not allowed. Params were already logged="
        "'[{'key': 'p', 'old_value': '1', 'new_value': '2'}]' for run ID='" + run_id + "'."
    )
    # Nothing of the failed batch was stored.
    assert client.get_run(run_id).data.params == {"p": "1"}


def test_log_batch_duplicate_param_keys_fails(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as e:
        client.log_batch(run_id, params=[Param("d", "1"), Param("d", "2")])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Duplicate parameter keys have been submitted: ['d']" in server_message(e.value)
    assert client.get_run(run_id).data.params == {}


def test_metric_history_paging_over_25000_points(client, experiment_id):
    """The client asks for 25000 points per page and follows next_page_token."""
    run_id = client.create_run(experiment_id).info.run_id
    n = 25_500
    for start in range(0, n, 1000):
        client.log_batch(
            run_id,
            metrics=[
                Metric("big", float(i) * 0.5, 1_000_000 + i, i)
                for i in range(start, min(start + 1000, n))
            ],
        )
    hist = client.get_metric_history(run_id, "big")
    assert len(hist) == n
    assert [m.step for m in hist] == list(range(n))
    assert all(m.value == m.step * 0.5 and m.timestamp == 1_000_000 + m.step for m in hist)
    assert client.get_run(run_id).data.metrics["big"] == (n - 1) * 0.5


def test_metric_history_of_unknown_run_is_empty(client):
    # The reference server does not check that the run exists: 200 with no metrics.
    assert client.get_metric_history("0123456789abcdef0123456789abcdef", "m") == []


def test_metrics_with_nan_in_batch(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("x", float("nan"), 10, 0),
            Metric("x", float("inf"), 20, 1),
            Metric("y", float("-inf"), 30, 0),
        ],
    )
    hist = client.get_metric_history(run_id, "x")
    assert math.isnan(hist[0].value)
    assert hist[1].value == 1.7976931348623157e308
    assert client.get_run(run_id).data.metrics["x"] == 1.7976931348623157e308
    assert client.get_run(run_id).data.metrics["y"] == -1.7976931348623157e308
