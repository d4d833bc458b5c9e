"""The fluent API (mlflow.start_run, mlflow.log_*) against the server."""

import math
import re
import sys
import time

import mlflow
import pytest
from mlflow.entities import RunStatus

from conftest import unique

DBL_MAX = sys.float_info.max  # 1.7976931348623157e308


def test_set_experiment_creates_then_reuses(client):
    name = unique("fluent")
    assert client.get_experiment_by_name(name) is None
    exp = mlflow.set_experiment(name)
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.experiment_id != "0"
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    by_id = mlflow.set_experiment(experiment_id=exp.experiment_id)
    assert by_id.name == name
    assert client.get_experiment_by_name(name).experiment_id == exp.experiment_id


def test_start_run_context_finishes_run(client):
    mlflow.set_experiment(unique("fluent"))
    before = int(time.time() * 1000)
    with mlflow.start_run() as run:
        run_id = run.info.run_id
        assert mlflow.active_run().info.run_id == run_id
        live = client.get_run(run_id)
        assert live.info.status == "RUNNING"
        assert live.info.end_time is None
        assert live.info.lifecycle_stage == "active"
    after = int(time.time() * 1000)
    assert mlflow.active_run() is None
    done = client.get_run(run_id)
    assert done.info.status == "FINISHED"
    assert before - 5000 <= done.info.start_time <= done.info.end_time <= after + 5000
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)


def test_with_block_raising_marks_run_failed(client):
    mlflow.set_experiment(unique("fluent"))
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as run:
            1 / 0
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    assert client.get_run(run.info.run_id).info.end_time is not None


def test_explicit_end_run_with_status(client):
    mlflow.set_experiment(unique("fluent"))
    run = mlflow.start_run()
    mlflow.end_run(status="KILLED")
    info = client.get_run(run.info.run_id).info
    assert info.status == "KILLED"
    assert info.status == RunStatus.to_string(RunStatus.KILLED)


def test_nested_runs_have_parent_tag(client):
    exp = mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
        assert mlflow.active_run().info.run_id == parent.info.run_id
    child_run = client.get_run(child.info.run_id)
    parent_run = client.get_run(parent.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.parentRunId" not in parent_run.data.tags
    assert child_run.info.experiment_id == exp.experiment_id
    assert child_run.info.status == "FINISHED"
    found = client.search_runs(
        [exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]


def test_run_name_given(client):
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run(run_name="my run ✓") as run:
        pass
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "my run ✓"
    assert got.data.tags["mlflow.runName"] == "my run ✓"


def test_run_name_generated(client):
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        pass
    got = client.get_run(run.info.run_id)
    name = got.info.run_name
    # The reference server generates "<adjective>-<noun>-<number>" (at most 20 chars).
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,4}", name), name
    assert len(name) <= 20
    assert got.data.tags["mlflow.runName"] == name
    assert run.info.run_name == name


def test_default_run_tags(client):
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        pass
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["mlflow.source.type"] == "LOCAL"
    assert "mlflow.user" in tags
    assert "mlflow.source.name" in tags
    assert client.get_run(run.info.run_id).info.user_id == tags["mlflow.user"]


def test_log_params(client):
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_param("empty", "")
        mlflow.log_params({"beta": 2, "gamma": "g", "flag": True, "none": None})
        # Same value again is fine.
        mlflow.log_param("alpha", 0.5)
    params = client.get_run(run.info.run_id).data.params
    assert params == {
        "alpha": "0.5",
        "empty": "",
        "beta": "2",
        "gamma": "g",
        "flag": "True",
        "none": "None",
    }


def test_log_param_long_value_roundtrip(client):
    mlflow.set_experiment(unique("fluent"))
    value = "x" * 6000  # MAX_PARAM_VAL_LENGTH is 6000
    with mlflow.start_run() as run:
        mlflow.log_param("long", value)
    assert client.get_run(run.info.run_id).data.params["long"] == value


def test_log_metric_with_step_and_timestamp(client):
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.5, step=0, timestamp=1_000)
        mlflow.log_metric("loss", 0.75, step=1, timestamp=2_000)
        mlflow.log_metric("loss", 0.25, step=2, timestamp=3_000)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=7, timestamp=5_000)
    run_id = run.info.run_id
    got = client.get_run(run_id)
    assert got.data.metrics == {"loss": 0.25, "acc": 0.9, "f1": 0.8}
    hist = client.get_metric_history(run_id, "loss")
    assert [(m.key, m.value, m.step, m.timestamp) for m in hist] == [
        ("loss", 1.5, 0, 1_000),
        ("loss", 0.75, 1, 2_000),
        ("loss", 0.25, 2, 3_000),
    ]
    acc = client.get_metric_history(run_id, "acc")
    assert [(m.value, m.step, m.timestamp) for m in acc] == [(0.9, 7, 5_000)]
    assert client.get_metric_history(run_id, "missing") == []


def test_log_metric_default_step_and_timestamp(client):
    mlflow.set_experiment(unique("fluent"))
    before = int(time.time() * 1000)
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 3)
    after = int(time.time() * 1000)
    (m,) = client.get_metric_history(run.info.run_id, "m")
    assert m.value == 3.0
    assert m.step == 0
    assert before <= m.timestamp <= after


def test_latest_metric_is_max_step_not_last_logged(client):
    """RunData.metrics holds the value with the greatest (step, timestamp, value)."""
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 10.0, step=5, timestamp=100)
        mlflow.log_metric("m", 20.0, step=1, timestamp=900)  # older step, newer time
        mlflow.log_metric("t", 1.0, step=3, timestamp=500)
        mlflow.log_metric("t", 2.0, step=3, timestamp=400)  # same step, older time
        mlflow.log_metric("v", 1.0, step=3, timestamp=500)
        mlflow.log_metric("v", 7.0, step=3, timestamp=500)  # same step+time, bigger value
        mlflow.log_metric("v", 4.0, step=3, timestamp=500)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert metrics == {"m": 10.0, "t": 1.0, "v": 7.0}


def test_metric_history_order_and_duplicates(client):
    """History is ordered by (timestamp, step, value); exact duplicates are stored once."""
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        mlflow.log_metric("h", 3.0, step=2, timestamp=300)
        mlflow.log_metric("h", 1.0, step=9, timestamp=100)
        mlflow.log_metric("h", 2.0, step=1, timestamp=300)
        mlflow.log_metric("h", 0.5, step=1, timestamp=300)
        mlflow.log_metric("h", 3.0, step=2, timestamp=300)  # exact duplicate
    hist = client.get_metric_history(run.info.run_id, "h")
    assert [(m.timestamp, m.step, m.value) for m in hist] == [
        (100, 9, 1.0),
        (300, 1, 0.5),
        (300, 1, 2.0),
        (300, 2, 3.0),
    ]


def test_non_finite_metric_values(client):
    """NaN comes back as NaN; +/-inf come back as +/-DBL_MAX (the reference SQL store clamps)."""
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"), step=0, timestamp=10)
        mlflow.log_metric("pinf", float("inf"), step=0, timestamp=10)
        mlflow.log_metric("ninf", float("-inf"), step=0, timestamp=10)
        mlflow.log_metrics({"b_nan": float("nan"), "b_inf": float("inf")}, step=1)
        mlflow.log_metric("mix", 1.0, step=0, timestamp=10)
        mlflow.log_metric("mix", float("nan"), step=1, timestamp=20)
    run_id = run.info.run_id
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == DBL_MAX
    assert metrics["ninf"] == -DBL_MAX
    assert math.isnan(metrics["b_nan"])
    assert metrics["b_inf"] == DBL_MAX
    assert math.isnan(metrics["mix"])
    (nan_m,) = client.get_metric_history(run_id, "nan")
    assert math.isnan(nan_m.value) and nan_m.step == 0 and nan_m.timestamp == 10
    (pinf_m,) = client.get_metric_history(run_id, "pinf")
    assert pinf_m.value == DBL_MAX
    (ninf_m,) = client.get_metric_history(run_id, "ninf")
    assert ninf_m.value == -DBL_MAX
    mix = client.get_metric_history(run_id, "mix")
    assert mix[0].value == 1.0 and math.isnan(mix[1].value)


def test_extreme_finite_metric_values(client):
    mlflow.set_experiment(unique("fluent"))
    values = {"tiny": 5e-324, "big": 1.2345678901234567e300, "neg": -0.0, "prec": 0.1 + 0.2}
    with mlflow.start_run() as run:
        for k, v in values.items():
            mlflow.log_metric(k, v, step=0, timestamp=1)
        mlflow.log_metric("bigstep", 1.0, step=2**62, timestamp=2**50)
    got = client.get_run(run.info.run_id).data.metrics
    for k, v in values.items():
        assert got[k] == v, k
    (m,) = client.get_metric_history(run.info.run_id, "bigstep")
    assert (m.step, m.timestamp) == (2**62, 2**50)


def test_set_tags(client):
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run() as run:
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"a": 1, "b": "two", "team": "nlp"})
        mlflow.set_tag("unicode", "héllo wörld ✓")
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["team"] == "nlp"
    assert tags["a"] == "1"
    assert tags["b"] == "two"
    assert tags["unicode"] == "héllo wörld ✓"


def test_active_run_data_via_get_run(client):
    exp = mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run(run_name="r") as run:
        mlflow.log_param("p", "v")
        mlflow.log_metric("m", 1.0)
        mlflow.set_tag("t", "x")
        fetched = mlflow.get_run(run.info.run_id)
    assert fetched.info.experiment_id == exp.experiment_id
    assert fetched.data.params == {"p": "v"}
    assert fetched.data.metrics == {"m": 1.0}
    assert fetched.data.tags["t"] == "x"
    assert fetched.info.artifact_uri.endswith(f"{run.info.run_id}/artifacts")
    last = mlflow.last_active_run()
    assert last.info.run_id == run.info.run_id
    assert last.info.status == "FINISHED"
