"""MlflowClient experiment CRUD and search_experiments."""

import time

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

import requests

from conftest import server_message, unique


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_create_and_get_experiment(client):
    name = unique("exp")
    before = int(time.time() * 1000)
    exp_id = client.create_experiment(name, tags={"team": "a", "prio": "1"})
    after = int(time.time() * 1000)
    assert isinstance(exp_id, str) and exp_id.isdigit()
    exp = client.get_experiment(exp_id)
    assert exp.experiment_id == exp_id
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "a", "prio": "1"}
    assert before <= exp.creation_time <= after
    assert exp.last_update_time == exp.creation_time
    assert exp.artifact_location  # server chooses; non-empty
    by_name = client.get_experiment_by_name(name)
    assert by_name.experiment_id == exp_id
    assert by_name.tags == {"team": "a", "prio": "1"}


def test_experiment_ids_increase(client):
    a = int(client.create_experiment(unique("exp")))
    b = int(client.create_experiment(unique("exp")))
    assert b > a


def test_create_experiment_with_artifact_location(client, tmp_path):
    loc = (tmp_path / "custom").as_uri()
    exp_id = client.create_experiment(unique("exp"), artifact_location=loc)
    assert client.get_experiment(exp_id).artifact_location == loc


def test_get_experiment_by_name_unknown_returns_none(client):
    assert client.get_experiment_by_name(unique("nope")) is None


def test_rename_experiment(client):
    old, new = unique("old"), unique("new")
    exp_id = client.create_experiment(old)
    created = client.get_experiment(exp_id)
    time.sleep(0.01)
    client.rename_experiment(exp_id, new)
    exp = client.get_experiment(exp_id)
    assert exp.name == new
    assert exp.last_update_time >= created.last_update_time
    assert client.get_experiment_by_name(old) is None
    assert client.get_experiment_by_name(new).experiment_id == exp_id


def test_rename_experiment_to_existing_name_fails(client):
    a, b = unique("a"), unique("b")
    client.create_experiment(a)
    b_id = client.create_experiment(b)
    with pytest.raises(MlflowException) as e:
        client.rename_experiment(b_id, a)
    # The reference server reports the unique-constraint failure as a 400 BAD_REQUEST
    # (the message is the database error text).
    assert e.value.error_code == "BAD_REQUEST"
    assert e.value.get_http_status_code() == 400
    assert client.get_experiment(b_id).name == b


def test_delete_and_restore_experiment(client):
    name = unique("del")
    exp_id = client.create_experiment(name)
    run = client.create_run(exp_id)
    client.delete_experiment(exp_id)

    exp = client.get_experiment(exp_id)  # still readable by id
    assert exp.lifecycle_stage == "deleted"
    # get-by-name also finds deleted experiments
    assert client.get_experiment_by_name(name).lifecycle_stage == "deleted"
    # runs of a deleted experiment are deleted too
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    active = client.search_experiments(filter_string=f"name = '{name}'")
    assert active == []
    deleted = client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{name}'"
    )
    assert [e.experiment_id for e in deleted] == [exp_id]

    # Creating runs in a deleted experiment is refused.
    with pytest.raises(MlflowException) as e:
        client.create_run(exp_id)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert f"The experiment {exp_id} must be in the 'active' state" in e.value.message

    # The name stays taken while the experiment is deleted.
    with pytest.raises(MlflowException) as e:
        client.create_experiment(name)
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_delete_experiment_twice_fails(client):
    exp_id = client.create_experiment(unique("del"))
    client.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as e:
        client.delete_experiment(exp_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_restore_active_experiment_fails(client):
    exp_id = client.create_experiment(unique("res"))
    with pytest.raises(MlflowException) as e:
        client.restore_experiment(exp_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_rename_deleted_experiment_fails(client, base_url):
    name = unique("ren")
    exp_id = client.create_experiment(name)
    client.delete_experiment(exp_id)
    # INVALID_STATE maps to HTTP 500, which the client treats as retryable and finally
    # reports as a generic error, so check the wire response directly.
    r = requests.post(
        f"{base_url}/api/2.0/mlflow/experiments/update",
        json={"experiment_id": exp_id, "new_name": unique("ren2")},
        timeout=30,
    )
    assert r.status_code == 500
    body = r.json()
    assert body["error_code"] == "INVALID_STATE"
    assert body["message"] == "Cannot rename a non-active experiment."
    with pytest.raises(MlflowException):
        client.rename_experiment(exp_id, unique("ren3"))
    assert client.get_experiment(exp_id).name == name


def test_get_unknown_experiment(client):
    with pytest.raises(MlflowException) as e:
        client.get_experiment("987654321")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert server_message(e.value) == "No Experiment with id=987654321 exists"
    assert e.value.get_http_status_code() == 404


def test_experiment_tags_set_and_delete(client):
    exp_id = client.create_experiment(unique("tags"))
    client.set_experiment_tag(exp_id, "k1", "v1")
    client.set_experiment_tag(exp_id, "k2", "v2")
    client.set_experiment_tag(exp_id, "k1", "v1b")  # overwrite
    client.set_experiment_tag(exp_id, "with space", "")
    assert client.get_experiment(exp_id).tags == {"k1": "v1b", "k2": "v2", "with space": ""}
    client.delete_experiment_tag(exp_id, "k2")
    assert client.get_experiment(exp_id).tags == {"k1": "v1b", "with space": ""}


def test_delete_unknown_experiment_tag_fails(client):
    exp_id = client.create_experiment(unique("tags"))
    with pytest.raises(MlflowException) as e:
        client.delete_experiment_tag(exp_id, "nope")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_set_tag_on_deleted_experiment_fails(client):
    exp_id = client.create_experiment(unique("tags"))
    client.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as e:
        client.set_experiment_tag(exp_id, "k", "v")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert server_message(e.value) == (
        f"The experiment {exp_id} must be in the 'active' state. Current state is deleted."
    )


# --- search_experiments -----------------------------------------------------------------


@pytest.fixture
def three_experiments(client):
    prefix = unique("se")
    ids = []
    for i, (suffix, tags) in enumerate(
        [("alpha", {"grp": "x", "n": "1"}), ("Beta", {"grp": "y"}), ("gamma", {"grp": "x"})]
    ):
        ids.append(client.create_experiment(f"{prefix}-{suffix}", tags=tags))
        time.sleep(0.005)  # distinct creation_time
    return prefix, ids


def names(exps):
    return [e.name for e in exps]


def test_search_experiments_filter_by_name(client, three_experiments):
    prefix, ids = three_experiments
    got = client.search_experiments(filter_string=f"name = '{prefix}-alpha'")
    assert [e.experiment_id for e in got] == [ids[0]]
    got = client.search_experiments(filter_string=f"name LIKE '{prefix}-%a'")
    # default order: creation_time DESC
    assert names(got) == [f"{prefix}-gamma", f"{prefix}-Beta", f"{prefix}-alpha"]
    got = client.search_experiments(filter_string=f"name LIKE '{prefix}-b%'")
    assert got == []  # LIKE is case-sensitive
    got = client.search_experiments(filter_string=f"name ILIKE '{prefix}-b%'")
    assert names(got) == [f"{prefix}-Beta"]
    got = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND name != '{prefix}-Beta'"
    )
    assert names(got) == [f"{prefix}-gamma", f"{prefix}-alpha"]


def test_search_experiments_filter_by_tags(client, three_experiments):
    prefix, ids = three_experiments
    got = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND tags.grp = 'x'", order_by=["name ASC"]
    )
    assert names(got) == [f"{prefix}-alpha", f"{prefix}-gamma"]
    got = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.n = '1'")
    assert names(got) == [f"{prefix}-alpha"]
    got = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND tags.`grp` != 'x'"
    )
    assert names(got) == [f"{prefix}-Beta"]
    got = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.grp LIKE 'y%'")
    assert names(got) == [f"{prefix}-Beta"]


def test_search_experiments_order_by(client, three_experiments):
    prefix, ids = three_experiments
    f = f"name LIKE '{prefix}%'"
    # Plain byte order: upper case sorts before lower case.
    assert names(client.search_experiments(filter_string=f, order_by=["name"])) == [
        f"{prefix}-Beta",
        f"{prefix}-alpha",
        f"{prefix}-gamma",
    ]
    assert names(client.search_experiments(filter_string=f, order_by=["name DESC"])) == [
        f"{prefix}-gamma",
        f"{prefix}-alpha",
        f"{prefix}-Beta",
    ]
    got = client.search_experiments(filter_string=f, order_by=["creation_time ASC"])
    assert [e.experiment_id for e in got] == ids
    got = client.search_experiments(filter_string=f, order_by=["experiment_id DESC"])
    assert [e.experiment_id for e in got] == list(reversed(ids))


def test_search_experiments_by_creation_time(client, three_experiments):
    prefix, ids = three_experiments
    second = client.get_experiment(ids[1])
    got = client.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND creation_time >= {second.creation_time}",
        order_by=["creation_time ASC"],
    )
    assert [e.experiment_id for e in got][0] == ids[1]
    assert ids[0] not in [e.experiment_id for e in got]


def test_search_experiments_pagination(client):
    prefix = unique("page")
    ids = [client.create_experiment(f"{prefix}-{i:02d}") for i in range(7)]
    seen = []
    token = None
    pages = 0
    while True:
        page = client.search_experiments(
            max_results=3,
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name ASC"],
            page_token=token,
        )
        pages += 1
        assert len(page) <= 3
        seen.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
    assert seen == ids
    assert pages == 3


def test_search_experiments_view_type(client):
    prefix = unique("vt")
    keep = client.create_experiment(f"{prefix}-keep")
    gone = client.create_experiment(f"{prefix}-gone")
    client.delete_experiment(gone)
    f = f"name LIKE '{prefix}-%'"
    assert [e.experiment_id for e in client.search_experiments(filter_string=f)] == [keep]
    assert [
        e.experiment_id
        for e in client.search_experiments(filter_string=f, view_type=ViewType.DELETED_ONLY)
    ] == [gone]
    assert {
        e.experiment_id for e in client.search_experiments(filter_string=f, view_type=ViewType.ALL)
    } == {keep, gone}


def test_search_experiments_bad_filter(client):
    with pytest.raises(MlflowException) as e:
        client.search_experiments(filter_string="name = 'a' OR name = 'b'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
