"""End-to-end model flows: `mlflow.sklearn.log_model` with `registered_model_name`, then
`mlflow.pyfunc.load_model` through every kind of model URI, with equal predictions.

These need proxied artifact upload and download (`/api/2.0/mlflow-artifacts/...`).
"""

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from conftest import unique

sklearn = pytest.importorskip("sklearn")
from sklearn.linear_model import LinearRegression  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

X = np.array([[1.0], [2.0], [3.0], [4.0]])
Y = np.array([2.0, 4.0, 6.0, 8.0])


@pytest.fixture(scope="module")
def logged(tracking_uri):
    """A linear model logged in a run and registered twice (versions 1 and 2)."""
    mlflow.set_experiment(unique("flows"))
    name = unique("linreg")
    model = LinearRegression().fit(X, Y)
    # Explicit requirements spare the client a slow inference subprocess per model.
    reqs = ["scikit-learn"]
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            input_example=X[:2],
            pip_requirements=reqs,
        )
        mlflow.sklearn.log_model(
            model, name="model2", registered_model_name=name, pip_requirements=reqs
        )
    return {
        "name": name,
        "run_id": run.info.run_id,
        "model_id": info.model_id,
        "expected": model.predict(X),
    }


def test_log_model_registers_and_records_outputs(logged):
    client = MlflowClient()
    v1 = client.get_model_version(logged["name"], "1")
    assert v1.run_id == logged["run_id"]
    assert v1.source == f"models:/{logged['model_id']}"
    assert v1.status == "READY"
    assert client.get_model_version(logged["name"], "2").version == "2"

    lm = client.get_logged_model(logged["model_id"])
    assert lm.status.to_proto() == 2  # LOGGED_MODEL_READY
    assert lm.source_run_id == logged["run_id"]
    assert client.get_model_version_download_uri(logged["name"], "1") == lm.artifact_location

    outputs = client.get_run(logged["run_id"]).outputs.model_outputs
    assert logged["model_id"] in [o.model_id for o in outputs]


def test_load_model_through_every_uri(logged):
    client = MlflowClient()
    name, run_id = logged["name"], logged["run_id"]
    client.set_registered_model_alias(name, "champion", "1")
    uris = [
        f"runs:/{run_id}/model",
        f"models:/{name}/1",
        f"models:/{name}@champion",
        f"models:/{logged['model_id']}",
        f"models:/{name}/latest",
    ]
    for uri in uris:
        loaded = mlflow.pyfunc.load_model(uri)
        np.testing.assert_allclose(loaded.predict(X), logged["expected"], err_msg=uri)


def test_load_model_by_stage(logged):
    client = MlflowClient()
    client.transition_model_version_stage(logged["name"], "1", "Production")
    loaded = mlflow.pyfunc.load_model(f"models:/{logged['name']}/Production")
    np.testing.assert_allclose(loaded.predict(X), logged["expected"])


def test_search_logged_models_finds_the_logged_model(logged):
    experiment_id = MlflowClient().get_run(logged["run_id"]).info.experiment_id
    found = mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="name = 'model'", output_format="list"
    )
    assert [m.model_id for m in found] == [logged["model_id"]]
