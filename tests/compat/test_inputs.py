"""Dataset inputs: mlflow.log_input and reading run.inputs back."""

import json

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag

from conftest import unique


@pytest.fixture
def frame():
    return pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0], "name": ["a", "b", "c"]})


def test_log_input_dataset_roundtrip(client, frame):
    mlflow.set_experiment(unique("inputs"))
    ds = mlflow.data.from_pandas(frame, source="file:///data/train.csv", name="train-set",
                                 targets="y")  # fmt: skip
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="training", tags={"split": "a"})
    got = client.get_run(run.info.run_id)
    (di,) = got.inputs.dataset_inputs
    assert di.dataset.name == "train-set"
    assert di.dataset.digest == ds.digest
    assert len(di.dataset.digest) <= 36
    assert di.dataset.source_type == "local"
    assert json.loads(di.dataset.source) == {"uri": "file:///data/train.csv"}
    schema = json.loads(di.dataset.schema)
    assert [c["name"] for c in schema["mlflow_colspec"]] == ["x", "y", "name"]
    profile = json.loads(di.dataset.profile)
    assert profile["num_rows"] == 3
    tags = {t.key: t.value for t in di.tags}
    assert tags == {"mlflow.data.context": "training", "split": "a"}


def test_same_dataset_two_contexts_and_two_runs(client, frame):
    exp = mlflow.set_experiment(unique("inputs"))
    train = mlflow.data.from_pandas(frame, name="d1")
    evald = mlflow.data.from_pandas(frame.iloc[:2], name="d2")
    with mlflow.start_run() as r1:
        mlflow.log_input(train, context="training")
        mlflow.log_input(evald, context="eval")
    with mlflow.start_run() as r2:
        mlflow.log_input(train, context="eval")
    inputs = client.get_run(r1.info.run_id).inputs.dataset_inputs
    got = sorted(
        (i.dataset.name, i.dataset.digest, {t.key: t.value for t in i.tags}["mlflow.data.context"])
        for i in inputs
    )
    assert got == sorted([("d1", train.digest, "training"), ("d2", evald.digest, "eval")])
    (i2,) = client.get_run(r2.info.run_id).inputs.dataset_inputs
    assert (i2.dataset.name, i2.dataset.digest) == ("d1", train.digest)
    assert {t.key: t.value for t in i2.tags} == {"mlflow.data.context": "eval"}

    # search_runs returns inputs too, and can filter on datasets.
    (found,) = client.search_runs([exp.experiment_id], "datasets.name = 'd2'")
    assert found.info.run_id == r1.info.run_id
    assert len(found.inputs.dataset_inputs) == 2
    ctx = client.search_runs([exp.experiment_id], "datasets.context = 'eval'")
    assert {r.info.run_id for r in ctx} == {r1.info.run_id, r2.info.run_id}
    dig = client.search_runs([exp.experiment_id], f"datasets.digest = '{evald.digest}'")
    assert [r.info.run_id for r in dig] == [r1.info.run_id]
    names_in = client.search_runs([exp.experiment_id], "datasets.name IN ('d1', 'zzz')")
    assert {r.info.run_id for r in names_in} == {r1.info.run_id, r2.info.run_id}


def test_log_inputs_with_client(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ds = Dataset(
        name="raw",
        digest="abc123",
        source_type="http",
        source='{"url": "http://example.invalid/x.csv"}',
        schema=None,
        profile=None,
    )
    client.log_inputs(run_id, [DatasetInput(ds, [InputTag("mlflow.data.context", "test")])])
    # Logging the same dataset input again does not duplicate it.
    client.log_inputs(run_id, [DatasetInput(ds, [InputTag("mlflow.data.context", "test")])])
    (di,) = client.get_run(run_id).inputs.dataset_inputs
    assert di.dataset.name == "raw"
    assert di.dataset.digest == "abc123"
    assert di.dataset.source_type == "http"
    assert di.dataset.source == '{"url": "http://example.invalid/x.csv"}'
    assert not di.dataset.schema
    assert not di.dataset.profile
    assert [(t.key, t.value) for t in di.tags] == [("mlflow.data.context", "test")]
