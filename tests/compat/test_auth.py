"""The basic-auth app (``--app-name basic-auth``) through the official client: HTTP Basic,
users, READ/EDIT/MANAGE/DENY grants on experiments and registered models, user management
by ``mlflow.server.get_app_client("basic-auth", …)``. Runs against both servers."""

from __future__ import annotations

import contextlib
import os

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from conftest import AUTH_ADMIN, AUTH_ADMIN_PASSWORD, unique

PASSWORD = "user-password-1234"


@contextlib.contextmanager
def as_user(username: str, password: str):
    """Makes the official client send these credentials (its documented variables)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ["MLFLOW_TRACKING_USERNAME"] = username
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def app_client(url):
    from mlflow.server import get_app_client

    return get_app_client("basic-auth", tracking_uri=url)


def new_user(url, prefix="user") -> str:
    name = unique(prefix)
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).create_user(name, PASSWORD)
    return name


def denied(exc_info) -> None:
    assert exc_info.value.error_code == "PERMISSION_DENIED", exc_info.value.message


@pytest.fixture(scope="module")
def url(auth_server):
    return auth_server


@pytest.fixture
def alice(url):
    return new_user(url, "alice")


@pytest.fixture
def bob(url):
    return new_user(url, "bob")


def owned_experiment(url, owner) -> str:
    with as_user(owner, PASSWORD):
        return MlflowClient(url).create_experiment(unique("auth"))


SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


@pytest.mark.parametrize(
    "path",
    [
        SEARCH,
        "/ajax-api/2.0/mlflow/experiments/search?max_results=1",
        "/api/2.0/mlflow-artifacts/artifacts?path=0",
        "/",
    ],
)
def test_anonymous_is_challenged(url, path):
    r = requests.get(url + path, timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_anonymous_cannot_write(url):
    name = unique("anon")
    r = requests.post(
        url + "/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=30
    )
    assert r.status_code == 401
    r = requests.get(
        url + "/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": name},
        auth=(AUTH_ADMIN, AUTH_ADMIN_PASSWORD),
        timeout=30,
    )
    assert r.status_code == 404


def test_only_health_and_server_info_are_open(url):
    assert requests.get(url + "/health", timeout=30).status_code == 200
    assert requests.get(url + "/api/3.0/mlflow/server-info", timeout=30).status_code == 200
    # As in MLflow, /version needs a login.
    assert requests.get(url + "/version", timeout=30).status_code == 401
    assert requests.get(url + "/version", auth=(AUTH_ADMIN, AUTH_ADMIN_PASSWORD), timeout=30).ok


def test_wrong_password_is_challenged(url, alice):
    r = requests.get(url + SEARCH, auth=(alice, "not-the-password"), timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    r = requests.get(url + SEARCH, auth=("no-such-user", PASSWORD), timeout=30)
    assert r.status_code == 401
    assert requests.get(url + SEARCH, auth=(alice, PASSWORD), timeout=30).status_code == 200


def test_ajax_api_is_guarded_the_same(url, alice):
    path = "/ajax-api/2.0/mlflow/experiments/search?max_results=1"
    assert requests.get(url + path, timeout=30).status_code == 401
    assert requests.get(url + path, auth=(alice, PASSWORD), timeout=30).status_code == 200
    exp_id = owned_experiment(url, alice)
    bob = new_user(url, "bob")
    r = requests.post(
        url + "/ajax-api/2.0/mlflow/experiments/update",
        json={"experiment_id": exp_id, "new_name": unique("renamed")},
        auth=(bob, PASSWORD),
        timeout=30,
    )
    assert r.status_code == 403


def test_default_read_lets_others_read_not_write(url, alice, bob):
    exp_id = owned_experiment(url, alice)
    with as_user(alice, PASSWORD):
        run = MlflowClient(url).create_run(exp_id)
    with as_user(bob, PASSWORD):
        c = MlflowClient(url)
        assert c.get_experiment(exp_id).experiment_id == exp_id
        assert c.get_run(run.info.run_id).info.run_id == run.info.run_id
        with pytest.raises(MlflowException) as e:
            c.create_run(exp_id)
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.log_param(run.info.run_id, "p", "v")
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.set_experiment_tag(exp_id, "k", "v")
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.delete_experiment(exp_id)
        denied(e)
    with as_user(alice, PASSWORD):
        c = MlflowClient(url)
        assert c.get_run(run.info.run_id).data.params == {}
        assert "k" not in c.get_experiment(exp_id).tags
        assert c.get_experiment(exp_id).lifecycle_stage == "active"
        assert len(c.search_runs([exp_id])) == 1


def test_grant_edit_then_revoke(url, alice, bob):
    exp_id = owned_experiment(url, alice)
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).grant_user_permission(bob, "experiment", exp_id, "EDIT")
        perm = app_client(url).get_user_permission(bob, "experiment", exp_id)
        assert perm.permission == "EDIT"
    with as_user(bob, PASSWORD):
        run = MlflowClient(url).create_run(exp_id)
        MlflowClient(url).log_metric(run.info.run_id, "m", 1.0)
        # EDIT does not allow deleting.
        with pytest.raises(MlflowException) as e:
            MlflowClient(url).delete_experiment(exp_id)
        denied(e)
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).revoke_user_permission(bob, "experiment", exp_id)
    with as_user(bob, PASSWORD):
        with pytest.raises(MlflowException) as e:
            MlflowClient(url).log_metric(run.info.run_id, "m", 2.0)
        denied(e)
    with as_user(alice, PASSWORD):
        history = MlflowClient(url).get_metric_history(run.info.run_id, "m")
        assert [m.value for m in history] == [1.0]


def test_owner_delegates(url, alice, bob):
    carol = new_user(url, "carol")
    exp_id = owned_experiment(url, alice)
    # Bob has only READ: he may not hand out permissions on Alice's experiment.
    with as_user(bob, PASSWORD):
        with pytest.raises(MlflowException) as e:
            app_client(url).grant_user_permission(carol, "experiment", exp_id, "EDIT")
        denied(e)
    # Alice created it, so she has MANAGE and may.
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(bob, "experiment", exp_id, "MANAGE")
    with as_user(bob, PASSWORD):
        app_client(url).grant_user_permission(carol, "experiment", exp_id, "EDIT")
        MlflowClient(url).set_experiment_tag(exp_id, "by", "bob")
    with as_user(carol, PASSWORD):
        MlflowClient(url).create_run(exp_id)
    with as_user(alice, PASSWORD):
        assert MlflowClient(url).get_experiment(exp_id).tags["by"] == "bob"


def test_deny_hides_from_get_and_search(url, alice, bob):
    name = unique("secret")
    with as_user(alice, PASSWORD):
        exp_id = MlflowClient(url).create_experiment(name)
        run = MlflowClient(url).create_run(exp_id)
        app_client(url).grant_user_permission(bob, "experiment", exp_id, "DENY")
    with as_user(bob, PASSWORD):
        c = MlflowClient(url)
        with pytest.raises(MlflowException) as e:
            c.get_experiment(exp_id)
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.get_experiment_by_name(name)
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.get_run(run.info.run_id)
        denied(e)
        found = [e.experiment_id for e in c.search_experiments(filter_string=f"name = '{name}'")]
        assert found == []
        assert exp_id not in [e.experiment_id for e in c.search_experiments(max_results=1000)]
        assert len(c.search_runs([exp_id])) == 0
    with as_user(alice, PASSWORD):
        found = MlflowClient(url).search_experiments(filter_string=f"name = '{name}'")
        assert [e.experiment_id for e in found] == [exp_id]


def test_registered_model_grants(url, alice, bob):
    name = unique("model")
    with as_user(alice, PASSWORD):
        MlflowClient(url).create_registered_model(name)
    with as_user(bob, PASSWORD):
        c = MlflowClient(url)
        assert c.get_registered_model(name).name == name
        with pytest.raises(MlflowException) as e:
            c.update_registered_model(name, description="bob was here")
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.delete_registered_model(name)
        denied(e)
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(bob, "registered_model", name, "EDIT")
    with as_user(bob, PASSWORD):
        MlflowClient(url).update_registered_model(name, description="bob was here")
    with as_user(alice, PASSWORD):
        assert MlflowClient(url).get_registered_model(name).description == "bob was here"
        app_client(url).revoke_user_permission(bob, "registered_model", name)
        app_client(url).grant_user_permission(bob, "registered_model", name, "DENY")
    with as_user(bob, PASSWORD):
        c = MlflowClient(url)
        with pytest.raises(MlflowException) as e:
            c.get_registered_model(name)
        denied(e)
        assert c.search_registered_models(filter_string=f"name = '{name}'") == []


def test_non_admin_cannot_manage_users(url, alice, bob):
    with as_user(bob, PASSWORD):
        a = app_client(url)
        with pytest.raises(MlflowException) as e:
            a.create_user(unique("mallory"), PASSWORD)
        denied(e)
        with pytest.raises(MlflowException) as e:
            a.update_user_admin(bob, True)
        denied(e)
        with pytest.raises(MlflowException) as e:
            a.delete_user(alice)
        denied(e)
        with pytest.raises(MlflowException) as e:
            a.get_user(alice)
        denied(e)
        with pytest.raises(MlflowException) as e:
            a.update_user_password(alice, "new-password-9876")
        denied(e)
        me = a.get_user(bob)
        assert me.username == bob
        assert me.is_admin is False
    # Alice's password still works.
    assert requests.get(url + SEARCH, auth=(alice, PASSWORD), timeout=30).status_code == 200


def test_password_change(url, bob):
    new = "changed-password-5678"
    with as_user(bob, PASSWORD):
        with pytest.raises(MlflowException) as e:
            app_client(url).update_user_password(bob, new)  # no current password
        assert e.value.error_code == "INVALID_PARAMETER_VALUE"
        app_client(url).update_user_password(bob, new, current_password=PASSWORD)
    assert requests.get(url + SEARCH, auth=(bob, PASSWORD), timeout=30).status_code == 401
    assert requests.get(url + SEARCH, auth=(bob, new), timeout=30).status_code == 200
    # An admin resets it without the current one.
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).update_user_password(bob, PASSWORD)
    assert requests.get(url + SEARCH, auth=(bob, PASSWORD), timeout=30).status_code == 200


def test_promote_to_admin(url, alice, bob):
    exp_id = owned_experiment(url, alice)
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).update_user_admin(bob, True)
        assert app_client(url).get_user(bob).is_admin is True
    with as_user(bob, PASSWORD):
        # Admins bypass permissions and may manage users.
        MlflowClient(url).set_experiment_tag(exp_id, "admin", "yes")
        other = unique("made-by-bob")
        assert app_client(url).create_user(other, PASSWORD).username == other
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).update_user_admin(bob, False)
    with as_user(bob, PASSWORD):
        with pytest.raises(MlflowException) as e:
            MlflowClient(url).set_experiment_tag(exp_id, "admin", "no")
        denied(e)


def test_delete_user(url):
    carol = new_user(url, "carol")
    assert requests.get(url + SEARCH, auth=(carol, PASSWORD), timeout=30).status_code == 200
    with as_user(AUTH_ADMIN, AUTH_ADMIN_PASSWORD):
        app_client(url).delete_user(carol)
        with pytest.raises(MlflowException) as e:
            app_client(url).get_user(carol)
        assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        with pytest.raises(MlflowException) as e:
            app_client(url).delete_user(AUTH_ADMIN)  # not oneself
        assert e.value.error_code == "BAD_REQUEST"
    assert requests.get(url + SEARCH, auth=(carol, PASSWORD), timeout=30).status_code == 401


def test_full_fluent_run_as_normal_user(url, alice, tmp_path):
    import mlflow

    previous = mlflow.get_tracking_uri()
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hello from alice")
    try:
        mlflow.set_tracking_uri(url)
        with as_user(alice, PASSWORD):
            exp_id = mlflow.set_experiment(unique("fluent")).experiment_id
            with mlflow.start_run() as run:
                mlflow.log_param("lr", "0.1")
                mlflow.log_metrics({"loss": 0.5, "acc": 0.9}, step=1)
                mlflow.set_tag("team", "a")
                mlflow.log_artifact(str(artifact), artifact_path="docs")
            c = MlflowClient(url)
            got = c.get_run(run.info.run_id)
            assert got.info.status == "FINISHED"
            assert got.data.params == {"lr": "0.1"}
            assert got.data.metrics == {"loss": 0.5, "acc": 0.9}
            assert [f.path for f in c.list_artifacts(run.info.run_id, "docs")] == ["docs/notes.txt"]
            local = c.download_artifacts(run.info.run_id, "docs/notes.txt", str(tmp_path / "dl"))
            assert open(local).read() == "hello from alice"
            assert got.info.experiment_id == exp_id
        # Another user may read the run (default READ) but not write its artifacts.
        bob = new_user(url, "bob")
        r = requests.put(
            f"{url}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run.info.run_id}/artifacts/x.txt",
            data=b"x",
            auth=(bob, PASSWORD),
            timeout=30,
        )
        assert r.status_code == 403
        r = requests.get(
            f"{url}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run.info.run_id}/artifacts/docs/notes.txt",
            auth=(bob, PASSWORD),
            timeout=30,
        )
        assert r.status_code == 200
        assert r.content == b"hello from alice"
    finally:
        mlflow.set_tracking_uri(previous)


# ---- traces (authorized through their experiment) ----------------------------------------


def _trace_in(url, user, exp_id) -> str:
    """A trace logged by `user` with `@mlflow.trace` into `exp_id`; its id."""
    import mlflow

    @mlflow.trace
    def answer(question):
        return {"answer": question.upper()}

    previous = mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(url)
        with as_user(user, PASSWORD):
            mlflow.set_experiment(experiment_id=exp_id)
            assert answer("why") == {"answer": "WHY"}
            trace_id = mlflow.get_last_active_trace_id()
            mlflow.flush_trace_async_logging()
    finally:
        mlflow.set_tracking_uri(previous)
    assert trace_id
    return trace_id


def test_edit_user_logs_and_reads_traces(url, alice, bob):
    exp_id = owned_experiment(url, alice)
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(bob, "experiment", exp_id, "EDIT")
    trace_id = _trace_in(url, bob, exp_id)
    with as_user(bob, PASSWORD):
        c = MlflowClient(url)
        trace = c.get_trace(trace_id)
        assert trace.info.experiment_id == exp_id
        assert [s.name for s in trace.data.spans] == ["answer"]
        found = c.search_traces(locations=[exp_id])
        assert [t.info.trace_id for t in found] == [trace_id]
        c.set_trace_tag(trace_id, "reviewed", "yes")
        assert c.get_trace(trace_id).info.tags["reviewed"] == "yes"


def test_traces_follow_the_experiments_permission(url, alice, bob):
    exp_id = owned_experiment(url, alice)
    trace_id = _trace_in(url, alice, exp_id)
    carol = new_user(url, "carol")
    # Default READ: Carol may read the trace but not tag it or add traces.
    with as_user(carol, PASSWORD):
        c = MlflowClient(url)
        assert c.get_trace(trace_id).info.trace_id == trace_id
        with pytest.raises(MlflowException) as e:
            c.set_trace_tag(trace_id, "k", "v")
        denied(e)
    r = requests.post(
        f"{url}/v1/traces",
        data=b"",
        headers={"Content-Type": "application/x-protobuf", "X-Mlflow-Experiment-Id": exp_id},
        auth=(carol, PASSWORD),
        timeout=30,
    )
    assert r.status_code == 403
    # DENY: nothing of the experiment's traces is reachable.
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(bob, "experiment", exp_id, "DENY")
    with as_user(bob, PASSWORD):
        c = MlflowClient(url)
        with pytest.raises(MlflowException) as e:
            c.get_trace(trace_id)
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.search_traces(locations=[exp_id])
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.set_trace_tag(trace_id, "k", "v")
        denied(e)
        with pytest.raises(MlflowException) as e:
            c.delete_traces(exp_id, trace_ids=[trace_id])
        denied(e)
    for path in (f"/api/3.0/mlflow/traces/{trace_id}", f"/ajax-api/3.0/mlflow/traces/{trace_id}"):
        # (MLflow answers its 403 as text, mlox as MLflow's JSON error.)
        assert requests.get(url + path, auth=(bob, PASSWORD), timeout=30).status_code == 403
    with as_user(alice, PASSWORD):
        info = MlflowClient(url).get_trace(trace_id).info
        assert "k" not in info.tags


# ---- evaluation datasets (authorized through the experiments they are linked to) -------


@contextlib.contextmanager
def tracking_as(url, user):
    import mlflow

    previous = mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(url)
        with as_user(user, PASSWORD):
            yield
    finally:
        mlflow.set_tracking_uri(previous)


def test_datasets_follow_their_experiments_permission(url, alice, bob):
    """MLflow 3.17's DATASET_BEFORE_REQUEST_HANDLERS: a dataset's routes need READ
    (get, records, experiment ids), UPDATE (tags, records, links) or DELETE on every
    experiment the dataset is linked to."""
    import mlflow.genai.datasets as gd

    exp_id = owned_experiment(url, alice)
    other = owned_experiment(url, alice)
    with tracking_as(url, alice):
        ds = gd.create_dataset(name=unique("authds"), experiment_id=exp_id, tags={"team": "qa"})
        ds.merge_records([{"inputs": {"q": "one"}, "expectations": {"a": "1"}}])
        dataset_id = ds.dataset_id
    carol = new_user(url, "carol")
    # Default READ: Carol reads the dataset and its records, and changes nothing.
    with tracking_as(url, carol):
        got = gd.get_dataset(dataset_id=dataset_id)
        assert got.experiment_ids == [exp_id]
        assert len(got.to_df()) == 1
        for change in (
            lambda: gd.set_dataset_tags(dataset_id=dataset_id, tags={"k": "v"}),
            lambda: gd.delete_dataset_tag(dataset_id=dataset_id, key="team"),
            lambda: gd.get_dataset(dataset_id=dataset_id).merge_records([{"inputs": {"q": "two"}}]),
            lambda: gd.delete_dataset(dataset_id=dataset_id),
        ):
            with pytest.raises(MlflowException) as e:
                change()
            denied(e)
    auth = (carol, PASSWORD)
    base = f"{url}/api/3.0/mlflow/datasets/{dataset_id}"
    assert requests.get(f"{base}/experiment-ids", auth=auth, timeout=30).status_code == 200
    r = requests.post(f"{base}/add-experiments", json={"dataset_id": dataset_id, "experiment_ids": [other]}, auth=auth, timeout=30)
    assert r.status_code == 403
    # EDIT on the dataset's experiment is not enough to link it to an experiment Carol may
    # only read; with EDIT on both it is.
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(carol, "experiment", exp_id, "EDIT")
    r = requests.post(f"{base}/add-experiments", json={"dataset_id": dataset_id, "experiment_ids": [other]}, auth=auth, timeout=30)
    assert r.status_code == 403
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(carol, "experiment", other, "EDIT")
    r = requests.post(f"{base}/add-experiments", json={"dataset_id": dataset_id, "experiment_ids": [other]}, auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    with tracking_as(url, carol):
        gd.set_dataset_tags(dataset_id=dataset_id, tags={"k": "v"})
        assert gd.get_dataset(dataset_id=dataset_id).tags["k"] == "v"
        # Deleting needs DELETE (MANAGE) on every linked experiment: EDIT is not enough.
        with pytest.raises(MlflowException) as e:
            gd.delete_dataset(dataset_id=dataset_id)
        denied(e)
    # DENY on one linked experiment hides the dataset.
    with as_user(alice, PASSWORD):
        app_client(url).grant_user_permission(bob, "experiment", other, "DENY")
    with tracking_as(url, bob):
        with pytest.raises(MlflowException) as e:
            gd.get_dataset(dataset_id=dataset_id)
        denied(e)
    # An unknown dataset is refused, not reported (no oracle for ids).
    r = requests.get(f"{url}/api/3.0/mlflow/datasets/d-{'0' * 32}", auth=auth, timeout=30)
    assert r.status_code == 403
    with tracking_as(url, alice):
        gd.delete_dataset(dataset_id=dataset_id)


def test_no_api_route_is_open_to_anonymous_callers(url):
    """Every route of MLflow's API (and mlox's own) asks for a login, but /health and
    server-info."""
    from mlflow.server.handlers import get_endpoints

    routes = {(path, method) for path, _, methods in get_endpoints() for method in methods}
    routes |= {
        ("/v1/traces", "POST"),
        ("/metrics", "GET"),
        ("/version", "GET"),
        ("/api/2.0/mlox/tokens/list", "GET"),
        ("/api/2.0/mlflow-artifacts/artifacts/0/x", "GET"),
        ("/api/2.0/mlflow-artifacts/artifacts/0/x", "PUT"),
    }
    checked = 0
    for path, method in sorted(routes):
        concrete = path
        while "<" in concrete:
            start = concrete.index("<")
            concrete = concrete[:start] + "x1" + concrete[concrete.index(">", start) + 1 :]
        if concrete.endswith("/server-info") or not concrete.startswith("/"):
            continue
        r = requests.request(method, url + concrete, timeout=30)
        assert r.status_code == 401, (method, concrete, r.status_code)
        checked += 1
    assert checked > 100
