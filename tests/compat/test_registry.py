"""The model registry through MlflowClient: registered models, versions, stages, aliases,
tags, searches with filters and paging, and the errors MLflow reports."""

import warnings

import pytest
import requests
from mlflow.exceptions import MlflowException

from conftest import server_message, unique

# Stage APIs are deprecated in MLflow 3 but still served; keep the test output quiet.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture
def run_id(client, experiment_id):
    return client.create_run(experiment_id).info.run_id


@pytest.fixture
def model_name(client):
    name = unique("reg")
    client.create_registered_model(name)
    return name


def new_version(client, name, run_id, **kwargs):
    return client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, **kwargs)


def test_create_get_update_registered_model(client):
    name = unique("reg")
    rm = client.create_registered_model(name, tags={"team": "a"}, description="first")
    assert rm.name == name
    assert rm.description == "first"
    assert rm.tags == {"team": "a"}
    assert rm.latest_versions == []
    assert rm.creation_timestamp > 0
    assert rm.last_updated_timestamp >= rm.creation_timestamp

    got = client.get_registered_model(name)
    assert (got.name, got.description, got.tags) == (name, "first", {"team": "a"})
    assert got.aliases == {}

    updated = client.update_registered_model(name, description="second")
    assert updated.description == "second"
    assert client.get_registered_model(name).description == "second"


def test_duplicate_registered_model(client, model_name):
    with pytest.raises(MlflowException) as e:
        client.create_registered_model(model_name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert server_message(e.value) == f"Registered Model (name={model_name}) already exists."


def test_invalid_and_missing_registered_models(client):
    with pytest.raises(MlflowException) as e:
        client.create_registered_model("bad/name")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == "Invalid model name 'bad/name'. Names cannot contain '/' or ':'."
    missing = unique("missing")
    with pytest.raises(MlflowException) as e:
        client.get_registered_model(missing)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == f"Registered Model with name={missing} not found"


def test_registered_model_tags(client, model_name):
    client.set_registered_model_tag(model_name, "k1", "v1")
    client.set_registered_model_tag(model_name, "k2", "v2")
    client.set_registered_model_tag(model_name, "k1", "v1b")
    assert client.get_registered_model(model_name).tags == {"k1": "v1b", "k2": "v2"}
    client.delete_registered_model_tag(model_name, "k2")
    # Deleting a missing tag is not an error in the registry.
    client.delete_registered_model_tag(model_name, "k2")
    assert client.get_registered_model(model_name).tags == {"k1": "v1b"}


def test_model_versions_numbering_and_fields(client, model_name, run_id):
    v1 = new_version(client, model_name, run_id, tags={"k": "v"}, description="one")
    v2 = new_version(client, model_name, run_id, run_link="http://link")
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.status == "READY"
    assert v1.current_stage == "None"
    assert v1.run_id == run_id
    assert v1.source == f"runs:/{run_id}/model"
    assert v1.tags == {"k": "v"}
    assert v1.description == "one"
    assert v2.description == ""
    assert v2.run_link == "http://link"

    got = client.get_model_version(model_name, "1")
    assert (got.version, got.run_id, got.tags) == ("1", run_id, {"k": "v"})
    updated = client.update_model_version(model_name, "1", description="changed")
    assert updated.description == "changed"
    assert client.get_model_version_download_uri(model_name, "1") == f"runs:/{run_id}/model"

    client.delete_model_version(model_name, "2")
    v3 = new_version(client, model_name, run_id)
    assert v3.version == "3", "version numbers are never reused"
    rm = client.get_registered_model(model_name)
    assert [v.version for v in rm.latest_versions] == ["3"]


def test_model_version_sources(client, model_name, experiment_id, run_id):
    run = client.get_run(run_id)
    artifact_source = f"{run.info.artifact_uri}/model"
    v = client.create_model_version(model_name, artifact_source, run_id=run_id)
    assert v.source == artifact_source
    v = client.create_model_version(model_name, "s3://bucket/path/model")
    assert v.run_id in (None, "")
    assert client.get_model_version_download_uri(model_name, v.version) == "s3://bucket/path/model"

    pinned = client.create_model_version(model_name, f"models:/{model_name}/1")
    assert pinned.source == f"models:/{model_name}/1"
    assert pinned.run_id == run_id, "lineage comes from the referenced version"

    with pytest.raises(MlflowException) as e:
        client.create_model_version(model_name, "runs:/someotherrun/model", run_id=run_id)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Invalid model version source: 'runs:/someotherrun/model'. The run_id request "
        "parameter must identify the resource that contains the source."
    )
    with pytest.raises(MlflowException) as e:
        client.create_model_version(model_name, "s3://bucket/a/../../etc")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Invalid model version source" in server_message(e.value)


def test_model_version_from_logged_model(client, experiment_id, run_id, model_name):
    lm = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    client.finalize_logged_model(lm.model_id, "READY")
    v = client.create_model_version(model_name, f"models:/{lm.model_id}", model_id=lm.model_id)
    assert v.run_id == run_id, "run id filled from the logged model"
    assert client.get_model_version_download_uri(model_name, v.version) == lm.artifact_location
    tags = client.get_logged_model(lm.model_id).tags
    assert tags["mlflow.modelVersions"] == f'[{{"name": "{model_name}", "version": 1}}]'


def test_unknown_versions(client, model_name, run_id):
    new_version(client, model_name, run_id)
    with pytest.raises(MlflowException) as e:
        client.get_model_version(model_name, "42")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == f"Model Version (name={model_name}, version=42) not found"
    with pytest.raises(MlflowException) as e:
        client.update_model_version(model_name, "42", description="x")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.get_model_version(model_name, "abc")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == "Parameter 'version' must be an integer, got 'abc'."
    with pytest.raises(MlflowException) as e:
        client.create_model_version(unique("nomodel"), "s3://bucket/m")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_stage_transitions_and_latest_versions(client, model_name, run_id):
    for _ in range(3):
        new_version(client, model_name, run_id)
    v = client.transition_model_version_stage(model_name, "1", "production")
    assert v.current_stage == "Production"
    client.transition_model_version_stage(model_name, "2", "Staging")
    v = client.transition_model_version_stage(
        model_name, "3", "Production", archive_existing_versions=True
    )
    assert v.current_stage == "Production"
    assert client.get_model_version(model_name, "1").current_stage == "Archived"
    assert client.get_model_version(model_name, "2").current_stage == "Staging"

    latest = client.get_latest_versions(model_name)
    assert sorted((v.current_stage, v.version) for v in latest) == [
        ("Archived", "1"),
        ("Production", "3"),
        ("Staging", "2"),
    ]
    assert [v.version for v in client.get_latest_versions(model_name, stages=["Staging"])] == ["2"]
    assert client.get_latest_versions(model_name, stages=["None"]) == []

    with pytest.raises(MlflowException) as e:
        client.transition_model_version_stage(model_name, "1", "prod")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        "Invalid Model Version stage: prod. Value must be one of None, Staging, Production, "
        "Archived."
    )


def test_aliases(client, model_name, run_id):
    new_version(client, model_name, run_id)
    new_version(client, model_name, run_id)
    client.set_registered_model_alias(model_name, "champion", "1")
    mv = client.get_model_version_by_alias(model_name, "champion")
    assert (mv.version, mv.aliases) == ("1", ["champion"])
    client.set_registered_model_alias(model_name, "champion", "2")
    client.set_registered_model_alias(model_name, "challenger", "1")
    assert client.get_model_version_by_alias(model_name, "champion").version == "2"
    assert client.get_registered_model(model_name).aliases == {"champion": "2", "challenger": "1"}
    assert client.get_model_version(model_name, "1").aliases == ["challenger"]

    client.delete_registered_model_alias(model_name, "challenger")
    assert client.get_registered_model(model_name).aliases == {"champion": "2"}
    with pytest.raises(MlflowException) as e:
        client.get_model_version_by_alias(model_name, "challenger")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == "Registered model alias challenger not found."

    # Deleting a version drops its aliases.
    client.delete_model_version(model_name, "2")
    assert client.get_registered_model(model_name).aliases == {}


@pytest.mark.parametrize(
    "alias, message",
    [
        ("latest", "'latest' alias name (case insensitive) is reserved."),
        ("v3", "Version alias name 'v3' is reserved."),
        (
            "bad alias",
            "Invalid alias name: 'bad alias'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-).",
        ),
    ],
)
def test_bad_aliases(client, model_name, run_id, alias, message):
    new_version(client, model_name, run_id)
    with pytest.raises(MlflowException) as e:
        client.set_registered_model_alias(model_name, alias, "1")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == message


def test_alias_to_unknown_version(client, model_name):
    with pytest.raises(MlflowException) as e:
        client.set_registered_model_alias(model_name, "champ", "9")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_model_version_tags(client, model_name, run_id):
    new_version(client, model_name, run_id)
    client.set_model_version_tag(model_name, "1", "a", "1")
    client.set_model_version_tag(model_name, "1", "b", "2")
    assert client.get_model_version(model_name, "1").tags == {"a": "1", "b": "2"}
    client.delete_model_version_tag(model_name, "1", "a")
    assert client.get_model_version(model_name, "1").tags == {"b": "2"}
    with pytest.raises(MlflowException) as e:
        client.set_model_version_tag(model_name, "5", "a", "1")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_rename_moves_versions_tags_and_aliases(client, model_name, run_id):
    new_version(client, model_name, run_id, tags={"t": "1"})
    client.set_registered_model_alias(model_name, "champ", "1")
    client.set_registered_model_tag(model_name, "k", "v")
    new_name = unique("renamed")
    client.rename_registered_model(model_name, new_name)
    got = client.get_registered_model(new_name)
    assert (got.tags, got.aliases) == ({"k": "v"}, {"champ": "1"})
    mv = client.get_model_version(new_name, "1")
    assert (mv.name, mv.tags, mv.aliases) == (new_name, {"t": "1"}, ["champ"])
    with pytest.raises(MlflowException) as e:
        client.get_registered_model(model_name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    taken = unique("taken")
    client.create_registered_model(taken)
    with pytest.raises(MlflowException) as e:
        client.rename_registered_model(new_name, taken)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert server_message(e.value).startswith(f"Registered Model (name={taken}) already exists.")


def test_delete_registered_model(client, model_name, run_id):
    new_version(client, model_name, run_id)
    client.delete_registered_model(model_name)
    with pytest.raises(MlflowException) as e:
        client.get_registered_model(model_name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.get_model_version(model_name, "1")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.delete_registered_model(model_name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_registered_models(client, run_id, base_url):
    prefix = unique("search")
    names = [f"{prefix}-{i}" for i in range(5)]
    for i, name in enumerate(names):
        client.create_registered_model(name, tags={"i": str(i), "parity": str(i % 2)})
    # Prompts share the table but are never returned by model searches. (The client refuses
    # to create them as models, so this one is made over raw HTTP.)
    r = requests.post(
        f"{base_url}/api/2.0/mlflow/registered-models/create",
        json={
            "name": f"{prefix}-prompt",
            "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}],
        },
    )
    assert r.status_code == 200, r.text

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'")
    assert [m.name for m in found] == names
    found = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}%' AND tags.parity = '1'", order_by=["name DESC"]
    )
    assert [m.name for m in found] == [names[3], names[1]]
    found = client.search_registered_models(filter_string=f"name ILIKE '{prefix.upper()}-2'")
    assert [m.name for m in found] == [names[2]]
    found = client.search_registered_models(filter_string=f"name = '{names[4]}'")
    assert [m.name for m in found] == [names[4]]
    assert client.search_registered_models(filter_string=f"name = '{prefix}-nope'") == []

    # Paging.
    page1 = client.search_registered_models(filter_string=f"name LIKE '{prefix}%'", max_results=2)
    assert [m.name for m in page1] == names[:2]
    assert page1.token
    page2 = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}%'", max_results=2, page_token=page1.token
    )
    assert [m.name for m in page2] == names[2:4]
    page3 = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}%'", max_results=2, page_token=page2.token
    )
    assert [m.name for m in page3] == names[4:]
    assert not page3.token

    # latest_versions and aliases come with search results.
    client.create_model_version(names[0], f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(names[0], "champ", "1")
    [hit] = client.search_registered_models(filter_string=f"name = '{names[0]}'")
    assert [v.version for v in hit.latest_versions] == ["1"]
    assert hit.aliases == {"champ": "1"}


def test_search_registered_models_errors(client):
    with pytest.raises(MlflowException) as e:
        client.search_registered_models(max_results=1001)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.search_registered_models(filter_string="name = 'a' OR name = 'b'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as e:
        client.search_registered_models(filter_string="description = 'x'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_model_versions(client, experiment_id):
    run_a = client.create_run(experiment_id).info.run_id
    run_b = client.create_run(experiment_id).info.run_id
    name = unique("mvs")
    client.create_registered_model(name)
    for run in [run_a, run_b, run_a, run_b, run_a]:
        client.create_model_version(name, f"runs:/{run}/model", run_id=run)
    client.set_model_version_tag(name, "2", "quality", "good")

    found = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in found] == ["1", "2", "3", "4", "5"]
    found = client.search_model_versions(
        f"name = '{name}' AND run_id = '{run_a}'", order_by=["version_number DESC"]
    )
    assert [v.version for v in found] == ["5", "3", "1"]
    found = client.search_model_versions(f"name = '{name}' AND version_number >= 4")
    assert sorted(v.version for v in found) == ["4", "5"]
    found = client.search_model_versions(f"name = '{name}' AND tags.quality = 'good'")
    assert [v.version for v in found] == ["2"]
    found = client.search_model_versions(f"run_id IN ('{run_b}') AND name = '{name}'")
    assert sorted(v.version for v in found) == ["2", "4"]

    page1 = client.search_model_versions(
        f"name = '{name}'", max_results=2, order_by=["version_number ASC"]
    )
    assert [v.version for v in page1] == ["1", "2"]
    page2 = client.search_model_versions(
        f"name = '{name}'", max_results=2, order_by=["version_number ASC"], page_token=page1.token
    )
    assert [v.version for v in page2] == ["3", "4"]

    client.delete_model_version(name, "5")
    found = client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in found) == ["1", "2", "3", "4"]

    with pytest.raises(MlflowException) as e:
        client.search_model_versions("version_number = 'abc'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_get_latest_versions_unknown_model(client):
    with pytest.raises(MlflowException) as e:
        client.get_latest_versions(unique("nomodel"))
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_registered_model_uri_resolution(client, model_name, run_id):
    """What `models:/` URIs resolve to (the client asks the registry, then downloads)."""
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

    new_version(client, model_name, run_id)
    new_version(client, model_name, run_id)
    client.set_registered_model_alias(model_name, "champ", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.transition_model_version_stage(model_name, "2", "Staging")
    for uri, expected in [
        (f"models:/{model_name}/1", f"runs:/{run_id}/model"),
        (f"models:/{model_name}@champ", f"runs:/{run_id}/model"),
        (f"models:/{model_name}/Staging", f"runs:/{run_id}/model"),
        (f"models:/{model_name}/latest", f"runs:/{run_id}/model"),
    ]:
        assert ModelsArtifactRepository.get_underlying_uri(uri) == expected, uri
