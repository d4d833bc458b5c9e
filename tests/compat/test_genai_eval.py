"""MLflow 3 GenAI evaluation datasets and the scorer registry (issue 15) through the official
client: create/merge/read back/search/tag/delete datasets, and register/list/get/delete
scorers with versions. Runs unchanged against the real MLflow server."""

import json

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.genai import datasets as gd
from mlflow.genai.scorers import scorer

from conftest import unique


@pytest.fixture
def active_experiment(experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def test_dataset_records_merge_and_read_back(active_experiment):
    name = unique("ds")
    ds = gd.create_dataset(name=name, experiment_id=active_experiment, tags={"team": "qa"})
    assert ds.dataset_id.startswith("d-")
    assert ds.name == name
    assert ds.tags["team"] == "qa"
    assert len(ds.digest) == 8

    ds.merge_records(
        [
            {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}},
            {"inputs": {"question": "capital of France?"}, "expectations": {"answer": "Paris"}},
        ]
    )
    # The same inputs again: the record is updated (expectations merged), not duplicated.
    ds.merge_records(
        [
            {"inputs": {"question": "2+2?"}, "expectations": {"explanation": "arithmetic"}},
            {"inputs": {"question": "1+1?"}, "outputs": "2"},
        ]
    )
    again = gd.get_dataset(dataset_id=ds.dataset_id)
    df = again.to_df()
    assert len(df) == 3
    by_q = {row["inputs"]["question"]: row for _, row in df.iterrows()}
    assert by_q["2+2?"]["expectations"] == {"answer": "4", "explanation": "arithmetic"}
    assert by_q["1+1?"]["outputs"] == "2"
    assert by_q["capital of France?"]["expectations"] == {"answer": "Paris"}
    ids = set(df["dataset_record_id"])
    assert len(ids) == 3 and all(i.startswith("dr-") for i in ids)

    schema = json.loads(again.schema)
    assert schema["inputs"] == {"question": "string"}
    assert schema["expectations"]["answer"] == "string"
    assert json.loads(again.profile) == {"num_records": 3}
    assert again.digest != ds.digest or again.last_update_time >= ds.last_update_time

    # By name, too (the client searches by name).
    assert gd.get_dataset(name=name).dataset_id == ds.dataset_id


def test_dataset_search_tags_and_delete(active_experiment):
    prefix = unique("srch")
    made = [
        gd.create_dataset(name=f"{prefix}-{i}", experiment_id=active_experiment, tags={"n": str(i)})
        for i in range(3)
    ]
    found = gd.search_datasets(experiment_ids=[active_experiment])
    assert {d.dataset_id for d in found} == {d.dataset_id for d in made}
    # Newest first by default; ordered by name when asked.
    by_name = gd.search_datasets(
        experiment_ids=[active_experiment], order_by=["name DESC"], max_results=2
    )
    assert [d.name for d in by_name] == [f"{prefix}-2", f"{prefix}-1"]
    only = gd.search_datasets(filter_string=f"name = '{prefix}-1'")
    assert [d.dataset_id for d in only] == [made[1].dataset_id]
    tagged = gd.search_datasets(experiment_ids=[active_experiment], filter_string="tags.n = '2'")
    assert [d.dataset_id for d in tagged] == [made[2].dataset_id]
    liked = gd.search_datasets(filter_string=f"name LIKE '{prefix}-%'")
    assert len(liked) == 3
    with pytest.raises(MlflowException, match="Invalid attribute key"):
        gd.search_datasets(filter_string="digest = 'x'")

    gd.set_dataset_tags(dataset_id=made[0].dataset_id, tags={"stage": "gold", "n": "zero"})
    got = gd.get_dataset(dataset_id=made[0].dataset_id)
    assert got.tags["stage"] == "gold" and got.tags["n"] == "zero"
    gd.delete_dataset_tag(dataset_id=made[0].dataset_id, key="stage")
    assert "stage" not in gd.get_dataset(dataset_id=made[0].dataset_id).tags
    assert gd.get_dataset(dataset_id=made[0].dataset_id).experiment_ids == [active_experiment]

    gd.delete_dataset(dataset_id=made[0].dataset_id)
    with pytest.raises(MlflowException, match="not found") as err:
        gd.get_dataset(dataset_id=made[0].dataset_id)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    left = gd.search_datasets(experiment_ids=[active_experiment])
    assert {d.dataset_id for d in left} == {made[1].dataset_id, made[2].dataset_id}


def test_dataset_records_page_over_rest(active_experiment, base_url):
    ds = gd.create_dataset(name=unique("pages"), experiment_id=active_experiment)
    ds.merge_records([{"inputs": {"i": i}} for i in range(5)])
    url = f"{base_url}/api/3.0/mlflow/datasets/{ds.dataset_id}/records"
    seen, token = [], None
    while True:
        params = {"max_results": 2, **({"page_token": token} if token else {})}
        r = requests.get(url, params=params, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        page = json.loads(body["records"])
        assert len(page) <= 2
        seen.extend(rec["inputs"]["i"] for rec in page)
        token = body.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == [0, 1, 2, 3, 4]

    r = requests.get(f"{base_url}/api/3.0/mlflow/datasets/d-{'0' * 32}", timeout=30)
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@scorer
def _answer_mentions_four(outputs) -> bool:
    return "4" in str(outputs)


def test_custom_scorer_registration_is_refused_by_default(active_experiment):
    with pytest.raises(MlflowException, match="MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS") as err:
        _answer_mentions_four.register(name=unique("refused"))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.fixture(scope="module")
def scorer_server(start_server):
    """A server that accepts `@scorer` payloads, as MLflow does with
    MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS=true."""
    return start_server(env={"MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS": "true"})


def test_scorer_registry_versions_and_delete(scorer_server, monkeypatch):
    from mlflow.genai.scorers import delete_scorer, get_scorer, list_scorers

    monkeypatch.setenv("MLFLOW_TRACKING_URI", scorer_server)
    # The client reads the same flag before it rebuilds a `@scorer` it fetched.
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "true")
    mlflow.set_tracking_uri(scorer_server)
    try:
        exp = mlflow.MlflowClient(scorer_server).create_experiment(unique("scorers"))
        name = unique("four")
        first = _answer_mentions_four.register(name=name, experiment_id=exp)
        assert first.name == name
        second = _answer_mentions_four.register(name=name, experiment_id=exp)
        other = _answer_mentions_four.register(name=unique("other"), experiment_id=exp)

        listed = list_scorers(experiment_id=exp)
        assert sorted(s.name for s in listed) == sorted([name, other.name])
        latest = get_scorer(name=name, experiment_id=exp)
        assert latest.name == name
        assert latest(outputs="it is 4") is True
        v1 = get_scorer(name=name, experiment_id=exp, version=1)
        assert v1.name == name
        store = mlflow.tracking._tracking_service.utils._get_store()
        versions = store.list_scorer_versions(exp, name)
        assert [v.scorer_version for v in versions] == [1, 2]
        assert versions[0].scorer_id == versions[1].scorer_id

        delete_scorer(name=name, experiment_id=exp, version=1)
        assert [v.scorer_version for v in store.list_scorer_versions(exp, name)] == [2]
        with pytest.raises(MlflowException, match="version 1 not found") as err:
            get_scorer(name=name, experiment_id=exp, version=1)
        assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        delete_scorer(name=name, experiment_id=exp, version="all")
        assert [s.name for s in list_scorers(experiment_id=exp)] == [other.name]
        with pytest.raises(MlflowException, match="not found for experiment"):
            get_scorer(name=name, experiment_id=exp)
        assert second is not None
    finally:
        mlflow.set_tracking_uri(None)


def test_online_scoring_config_is_stored_and_checked(active_experiment, base_url):
    """`PUT /scorers/online-config` (what `scorer.start()`/`stop()` send) with MLflow's
    checks, and `online-configs` returning what was stored; the client reads the stored
    sampling back into the scorers it lists."""
    from mlflow.genai.scorers import Guidelines, get_scorer

    exp = active_experiment
    name = unique("polite")
    Guidelines(name=name, guidelines=["be polite"], model="openai:/gpt-4o").register(name=name)
    base = f"{base_url}/api/3.0/mlflow/scorers"

    def put(**body):
        return requests.put(f"{base}/online-config", json=body, timeout=30)

    # Stopping (rate 0) needs no gateway model; the answer is the stored configuration.
    r = put(experiment_id=exp, name=name, sample_rate=0, filter_string="tags.env = 'prod'")
    assert r.status_code == 200, r.text
    first = r.json()["config"]
    assert first["sample_rate"] == 0.0
    assert first["experiment_id"] == exp
    assert first["filter_string"] == "tags.env = 'prod'"
    assert len(first["online_scoring_config_id"]) == 32
    # An upsert replaces it.
    r = put(experiment_id=exp, name=name, sample_rate=0.0)
    assert r.status_code == 200, r.text
    second = r.json()["config"]
    assert second["online_scoring_config_id"] != first["online_scoring_config_id"]
    assert "filter_string" not in second
    scorer_id = second["scorer_id"]
    got = requests.get(f"{base}/online-configs", params={"scorer_ids": [scorer_id, "no-such-id"]}, timeout=30)
    assert got.status_code == 200
    assert got.json() == {"configs": [second]}
    assert get_scorer(name=name, experiment_id=exp).sample_rate == 0.0

    def error(r, status, code, text):
        assert r.status_code == status, r.text
        assert r.json()["error_code"] == code
        assert text in r.json()["message"], r.json()["message"]

    error(put(experiment_id=exp, name=name, sample_rate=0.5), 400, "INVALID_PARAMETER_VALUE",
          f"Scorer '{name}' does not use a gateway model. Automatic evaluation is only supported for scorers that use gateway models.")
    error(put(experiment_id=exp, name=name, sample_rate=1.5), 400, "INVALID_PARAMETER_VALUE",
          "sample_rate must be between 0.0 and 1.0, got 1.5")
    error(put(experiment_id=exp, name=name, sample_rate=0.2, filter_string=5), 400, "INVALID_PARAMETER_VALUE",
          "Invalid value 5 for parameter 'filter_string' supplied: Value was of type 'int'. Expected type 'str' or None.")
    error(put(experiment_id=exp, name=name, sample_rate=0.2, filter_string="bogus filter"), 400, "INVALID_PARAMETER_VALUE",
          "Invalid clause(s) in filter string")
    error(put(experiment_id=exp, name=name), 400, "INVALID_PARAMETER_VALUE",
          "Missing value for required parameter 'sample_rate'")
    error(put(experiment_id=exp, name="nobody", sample_rate=0.2), 404, "RESOURCE_DOES_NOT_EXIST",
          f"Scorer with name 'nobody' not found for experiment {exp}.")
    error(put(experiment_id="987654321", name=name, sample_rate=0.2), 404, "RESOURCE_DOES_NOT_EXIST",
          "No Experiment with id=987654321 exists")
    error(requests.get(f"{base}/online-configs", timeout=30), 400, "INVALID_PARAMETER_VALUE",
          "Missing value for required parameter 'scorer_ids'")
    # The failed upserts left the configuration as it was.
    assert requests.get(f"{base}/online-configs", params={"scorer_ids": scorer_id}, timeout=30).json() == {"configs": [second]}
