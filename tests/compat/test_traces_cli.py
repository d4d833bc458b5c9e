"""The `mlflow traces`, `mlflow datasets` and `mlflow scorers` commands of the official
client (3.17) against the server (issue 15): search, get, tags, assessments and delete,
run as a user would with MLFLOW_TRACKING_URI. Runs unchanged against the real MLflow
server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.genai import datasets as gd

MLFLOW_CLI = str(Path(sys.executable).with_name("mlflow"))


def cli(*args: str) -> str:
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri()}
    proc = subprocess.run(
        [MLFLOW_CLI, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, f"mlflow {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def cli_json(*args: str):
    out = cli(*args)
    # The JSON document is the output; skip any log line printed before it.
    start = min(i for i in (out.find("{"), out.find("[")) if i >= 0)
    return json.loads(out[start:])


@mlflow.trace
def _greet(name):
    return f"hello {name}"


@pytest.fixture
def traced(experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    ids = []
    for who in ("ann", "bob", "cy"):
        _greet(who)
        ids.append(mlflow.get_last_active_trace_id())
    return experiment_id, ids


def test_traces_search_get_tag_and_delete(traced):
    exp, ids = traced
    found = cli_json("traces", "search", "-x", exp, "--output", "json")
    assert {t["info"]["trace_id"] for t in found["traces"]} == set(ids)

    cli("traces", "set-tag", "--trace-id", ids[0], "--key", "team", "--value", "qa")
    tagged = cli_json(
        "traces", "search", "-x", exp, "--filter-string", "tags.team = 'qa'", "--output", "json"
    )
    assert [t["info"]["trace_id"] for t in tagged["traces"]] == [ids[0]]

    got = cli_json("traces", "get", "--trace-id", ids[0])
    assert got["info"]["trace_id"] == ids[0]
    assert got["info"]["tags"]["team"] == "qa"
    assert [s["name"] for s in got["data"]["spans"]] == ["_greet"]
    names = cli("traces", "get", "--trace-id", ids[0], "--extract-fields", "data.spans.*.name")
    assert "_greet" in names

    cli("traces", "delete-tag", "--trace-id", ids[0], "--key", "team")
    assert "team" not in mlflow.get_trace(ids[0]).info.tags

    out = cli("traces", "delete", "-x", exp, "--trace-ids", ",".join(ids[:2]))
    assert "Deleted 2 trace(s)" in out
    left = cli_json("traces", "search", "-x", exp, "--output", "json")
    assert [t["info"]["trace_id"] for t in left["traces"]] == [ids[2]]


def test_traces_assessments_from_the_cli(traced):
    _, ids = traced
    out = cli(
        "traces", "log-feedback", "--trace-id", ids[1], "--name", "relevance",
        "--value", "0.9", "--source-type", "HUMAN", "--source-id", "ann@example.com",
        "--rationale", "on topic",
    )
    assessments = mlflow.get_trace(ids[1]).info.assessments
    assert [a.name for a in assessments] == ["relevance"]
    feedback = assessments[0]
    assert feedback.value == 0.9 and feedback.rationale == "on topic"
    assert feedback.assessment_id in out

    got = cli_json(
        "traces", "get-assessment", "--trace-id", ids[1], "--assessment-id", feedback.assessment_id
    )
    assert got["assessment_name"] == "relevance"
    cli(
        "traces", "update-assessment", "--trace-id", ids[1],
        "--assessment-id", feedback.assessment_id, "--rationale", "still on topic",
    )
    assert mlflow.get_trace(ids[1]).info.assessments[0].rationale == "still on topic"

    cli(
        "traces", "log-expectation", "--trace-id", ids[1], "--name", "answer",
        "--value", '"hello bob"',
    )
    names = sorted(a.name for a in mlflow.get_trace(ids[1]).info.assessments)
    assert names == ["answer", "relevance"]

    cli("traces", "delete-assessment", "--trace-id", ids[1], "--assessment-id", feedback.assessment_id)
    assert [a.name for a in mlflow.get_trace(ids[1]).info.assessments] == ["answer"]


def test_datasets_and_scorers_list_commands(experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    ds = gd.create_dataset(name="cli-ds", experiment_id=experiment_id)
    listed = cli_json("datasets", "list", "-x", experiment_id, "--output", "json")
    rows = listed["datasets"] if isinstance(listed, dict) else listed
    assert [d["dataset_id"] for d in rows] == [ds.dataset_id]
    scorers = cli_json("scorers", "list", "-x", experiment_id, "--output", "json")
    assert scorers == {"scorers": []} or scorers == []
