"""Logged models (MLflow 3) through the fluent API and MlflowClient: create, get,
finalize, tags, params, metrics, search, delete, and run outputs."""

import mlflow
import pytest
from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from mlflow.exceptions import MlflowException

from conftest import server_message


def test_initialize_and_finalize(client, experiment_id):
    run = client.create_run(experiment_id)
    model = mlflow.initialize_logged_model(
        name="model",
        source_run_id=run.info.run_id,
        tags={"team": "a"},
        params={"alpha": "0.5"},
        model_type="classifier",
        experiment_id=experiment_id,
    )
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    assert model.status == LoggedModelStatus.PENDING
    assert model.experiment_id == experiment_id
    assert model.name == "model"
    assert model.source_run_id == run.info.run_id
    assert model.model_type == "classifier"
    assert model.params == {"alpha": "0.5"}
    assert model.tags["team"] == "a"
    experiment = client.get_experiment(experiment_id)
    assert model.artifact_location == (
        f"{experiment.artifact_location}/models/{model.model_id}/artifacts"
    )

    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    assert ready.last_updated_timestamp >= model.creation_timestamp
    got = client.get_logged_model(model.model_id)
    assert got.status == LoggedModelStatus.READY
    assert (got.name, got.params) == ("model", {"alpha": "0.5"})


def test_create_logged_model_defaults(client, experiment_id):
    model = client.create_logged_model(experiment_id)
    assert model.name, "a name is generated"
    assert model.source_run_id in (None, "")
    assert model.params == {}
    assert model.status == LoggedModelStatus.PENDING


def test_create_external_model(client, experiment_id):
    model = mlflow.create_external_model(name="ext", experiment_id=experiment_id)
    assert model.status == LoggedModelStatus.READY
    assert model.tags.get("mlflow.model.isExternal") == "true"
    assert client.get_logged_model(model.model_id).name == "ext"


def test_tags_params_and_metrics(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id, name="tagged", source_run_id=run_id)
    client.set_logged_model_tags(model.model_id, {"a": "1", "b": "2"})
    client.set_logged_model_tags(model.model_id, {"a": "3"})
    client.delete_logged_model_tag(model.model_id, "b")
    client.log_model_params(model.model_id, {"lr": "0.1", "depth": "3"})
    client.log_metric(run_id, "accuracy", 0.9, step=2, model_id=model.model_id)
    got = client.get_logged_model(model.model_id)
    assert {k: v for k, v in got.tags.items() if not k.startswith("mlflow.")} == {"a": "3"}
    assert got.params == {"lr": "0.1", "depth": "3"}
    assert [(m.key, m.value, m.step, m.run_id) for m in got.metrics] == [
        ("accuracy", 0.9, 2, run_id)
    ]

    with pytest.raises(MlflowException) as e:
        client.delete_logged_model_tag(model.model_id, "nope")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == (
        f"No tag with key 'nope' found for model with ID '{model.model_id}'."
    )


def test_unknown_model(client):
    with pytest.raises(MlflowException) as e:
        client.get_logged_model("m-00000000000000000000000000000000")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == (
        "Logged model with ID 'm-00000000000000000000000000000000' not found."
    )


def test_invalid_name_and_experiment(client, experiment_id):
    with pytest.raises(MlflowException) as e:
        client.create_logged_model(experiment_id, name="bad/name")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.create_logged_model("123456789")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_delete_logged_model(client, experiment_id):
    model = client.create_logged_model(experiment_id, name="gone")
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as e:
        client.get_logged_model(model.model_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    found = client.search_logged_models([experiment_id], filter_string="name = 'gone'")
    assert list(found) == []


def test_run_outputs_report_models(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id, name="out", source_run_id=run_id)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=3)])
    outputs = client.get_run(run_id).outputs
    assert [(o.model_id, o.step) for o in outputs.model_outputs] == [(model.model_id, 3)]


def test_search_logged_models(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    models = []
    for i in range(4):
        m = client.create_logged_model(
            experiment_id,
            name=f"model_{i}",
            source_run_id=run_id,
            params={"i": str(i)},
            tags={"parity": str(i % 2)},
        )
        client.log_metric(run_id, "score", float(i), model_id=m.model_id)
        models.append(m)
    ids = [m.model_id for m in models]
    client.finalize_logged_model(ids[3], LoggedModelStatus.READY)

    def search(**kwargs):
        return [m.model_id for m in client.search_logged_models([experiment_id], **kwargs)]

    assert search() == ids[::-1], "newest first"
    assert search(filter_string="name = 'model_1'") == [ids[1]]
    assert search(filter_string="name LIKE 'model_%' AND tags.parity = '1'") == [ids[3], ids[1]]
    assert search(filter_string="params.i = '2'") == [ids[2]]
    assert search(filter_string="metrics.score >= 2") == [ids[3], ids[2]]
    assert search(filter_string=f"source_run_id = '{run_id}'") == ids[::-1]
    assert search(filter_string="name = 'nothing'") == []
    assert search(order_by=[{"field_name": "metrics.score", "ascending": True}]) == ids
    assert search(order_by=[{"field_name": "name", "ascending": False}]) == ids[::-1]

    page = client.search_logged_models([experiment_id], max_results=3)
    assert [m.model_id for m in page] == ids[::-1][:3]
    assert page.token
    rest = client.search_logged_models([experiment_id], max_results=3, page_token=page.token)
    assert [m.model_id for m in rest] == ids[:1]
    assert not rest.token

    listed = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="name = 'model_0'", output_format="list"
    )
    assert [m.model_id for m in listed] == [ids[0]]


def test_search_logged_models_errors(client, experiment_id):
    with pytest.raises(MlflowException) as e:
        client.search_logged_models([experiment_id], filter_string="name = 'a' OR name = 'b'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.search_logged_models([experiment_id], order_by=[{"field_name": "params.x"}])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Invalid order by field name: params.x. Only metrics are supported."
    )
