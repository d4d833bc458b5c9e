"""search_runs: filter grammar, ordering, pagination, view types, pandas output."""

import math

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from conftest import unique

NAN = float("nan")

# name, start_time, metrics, params, tags, final status (None = still RUNNING)
RUNS = [
    ("alpha", 1000, {"acc": 0.9, "loss": 0.3}, {"model": "cnn", "lr": "0.1"},
     {"team": "vision", "my key": "a b"}, "FINISHED"),
    ("beta", 2000, {"acc": 0.7, "loss": NAN}, {"model": "rnn", "lr": "0.01"},
     {"team": "nlp"}, "FAILED"),
    ("gamma", 3000, {"loss": 0.5}, {"model": "CNN-large"}, {"team": "Vision"}, None),
    ("delta", 4000, {"acc": 0.95}, {"model": "mlp", "batch size": "32"}, {}, "FINISHED"),
    ("Alpha2", 5000, {"acc": 0.7}, {}, {}, "KILLED"),
    ("epsilon", 5000, {"acc": NAN}, {}, {"team": "nlp"}, "FINISHED"),
]  # fmt: skip


class Fixture:
    def __init__(self, client, exp_id, ids):
        self.client = client
        self.exp_id = exp_id
        self.ids = ids  # run name -> run id
        by_id = {v: k for k, v in ids.items()}
        self.name_of = by_id.__getitem__

    def search(self, filter_string="", order_by=None, **kw):
        runs = self.client.search_runs([self.exp_id], filter_string, order_by=order_by, **kw)
        return [self.name_of(r.info.run_id) for r in runs]

    def tie(self, *names):
        """Runs with equal sort keys come out in run_id order."""
        return sorted(names, key=lambda n: self.ids[n])


@pytest.fixture(scope="module")
def fx(tracking_uri):
    client = MlflowClient(tracking_uri)
    exp_id = client.create_experiment(unique("search"))
    ids = {}
    for name, start, metrics, params, tags, status in RUNS:
        run = client.create_run(exp_id, start_time=start, run_name=name)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, 100, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if status:
            client.set_terminated(run_id, status, end_time=start + 500)
        ids[name] = run_id
    return Fixture(client, exp_id, ids)


def test_default_order_is_start_time_desc_then_run_id(fx):
    assert fx.search() == [*fx.tie("Alpha2", "epsilon"), "delta", "gamma", "beta", "alpha"]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.acc > 0.8", ["delta", "alpha"]),
        ("metrics.acc >= 0.9", ["delta", "alpha"]),
        ("metrics.acc = 0.7", ["Alpha2", "beta"]),
        ("metrics.acc = 0.70", ["Alpha2", "beta"]),
        # NaN never compares, except that it is "!=" to everything
        ("metrics.acc != 0.7", ["epsilon", "delta", "alpha"]),
        ("metrics.acc <= 0.9", ["Alpha2", "beta", "alpha"]),
        ("metrics.acc < 1", ["Alpha2", "delta", "beta", "alpha"]),
        ("metrics.loss < 1", ["gamma", "alpha"]),
        ("metrics.loss > -1e10", ["gamma", "alpha"]),
        ("metric.acc > 0.8", ["delta", "alpha"]),
        ("metrics.`acc` > 0.8", ["delta", "alpha"]),
        ("metrics.missing > 0", []),
        ("params.model = 'cnn'", ["alpha"]),
        ('params.model = "cnn"', ["alpha"]),
        ("params.model LIKE 'cnn%'", ["alpha"]),
        ("params.model ILIKE 'cnn%'", ["gamma", "alpha"]),
        ("params.model LIKE '%n'", ["beta", "alpha"]),
        ("params.model LIKE '_nn'", ["beta", "alpha"]),
        ("params.model LIKE '%N%'", ["gamma"]),
        ("params.model != 'cnn'", ["delta", "gamma", "beta"]),
        ("params.lr IS NOT NULL", ["beta", "alpha"]),
        ("param.lr = '0.01'", ["beta"]),
        ("parameters.lr = '0.01'", ["beta"]),
        ("params.`batch size` = '32'", ["delta"]),
        ('params."batch size" = \'32\'', ["delta"]),
        ("tags.team = 'nlp'", ["epsilon", "beta"]),
        ("tags.team = 'Vision'", ["gamma"]),
        ("tags.team ILIKE 'VISION'", ["gamma", "alpha"]),
        ("tags.team LIKE 'v%'", ["alpha"]),
        ("tags.team != 'nlp'", ["gamma", "alpha"]),
        ("tag.team = 'nlp'", ["epsilon", "beta"]),
        ("tags.`my key` = 'a b'", ["alpha"]),
        ("tags.`mlflow.runName` = 'beta'", ["beta"]),
        ("tags.\"mlflow.runName\" LIKE '%lta'", ["delta"]),
        ("attributes.status = 'FINISHED'", ["epsilon", "delta", "alpha"]),
        ("attributes.status != 'FINISHED'", ["Alpha2", "gamma", "beta"]),
        ("attribute.status = 'RUNNING'", ["gamma"]),
        ("status = 'FAILED'", ["beta"]),
        ("attributes.status LIKE 'FIN%'", ["epsilon", "delta", "alpha"]),
        ("attributes.run_name = 'gamma'", ["gamma"]),
        ("attributes.run_name LIKE 'alpha%'", ["alpha"]),
        ("attributes.run_name ILIKE 'alpha%'", ["Alpha2", "alpha"]),
        ("run_name != 'alpha'", ["Alpha2", "epsilon", "delta", "gamma", "beta"]),
        ("attributes.`Run name` = 'beta'", ["beta"]),
        ("attributes.start_time > 1000 AND attributes.start_time < 4000", ["gamma", "beta"]),
        ("attributes.start_time = 2000", ["beta"]),
        ("attributes.start_time != 5000", ["delta", "gamma", "beta", "alpha"]),
        ("attributes.created <= 2000", ["beta", "alpha"]),
        ("attributes.end_time > 2000", ["Alpha2", "epsilon", "delta", "beta"]),
        (
            "metrics.acc > 0.5 and params.model != 'mlp' AND tags.team = 'nlp'",
            ["beta"],
        ),
        ("params.model = 'cnn' AND params.model = 'rnn'", []),
    ],
)
def test_filter(fx, filter_string, expected):
    got = fx.search(filter_string)
    if set(got) >= {"Alpha2", "epsilon"}:  # equal start_time: tie broken by run_id
        i = got.index("Alpha2") if got.index("Alpha2") < got.index("epsilon") else got.index("epsilon")
        assert got[i : i + 2] == fx.tie("Alpha2", "epsilon")
        got = [n for n in got if n not in ("Alpha2", "epsilon")]
        expected = [n for n in expected if n not in ("Alpha2", "epsilon")]
    assert got == expected, filter_string


def test_filter_is_null_tie_order(fx):
    assert fx.search("params.lr IS NULL") == [*fx.tie("Alpha2", "epsilon"), "delta", "gamma"]
    assert fx.search("tags.team IS NULL") == ["Alpha2", "delta"]


def test_filter_start_time_tie(fx):
    assert fx.search("attributes.start_time >= 4000") == [*fx.tie("Alpha2", "epsilon"), "delta"]


def test_filter_run_id_in(fx):
    a, d = fx.ids["alpha"], fx.ids["delta"]
    assert fx.search(f"attributes.run_id IN ('{a}', '{d}')") == ["delta", "alpha"]
    assert fx.search(f"attributes.run_id = '{a}'") == ["alpha"]
    got = fx.search(f"attributes.run_id NOT IN ('{a}', '{d}')")
    assert sorted(got) == sorted(["Alpha2", "epsilon", "gamma", "beta"])
    assert fx.search(f"run_id IN ('{a}') AND metrics.acc > 0.1") == ["alpha"]


@pytest.mark.parametrize(
    "order_by, expected",
    [
        (["metrics.acc DESC"], ["delta", "alpha", "Alpha2", "beta", "epsilon", "gamma"]),
        (["metrics.acc ASC"], ["Alpha2", "beta", "alpha", "delta", "epsilon", "gamma"]),
        (["metrics.acc"], ["Alpha2", "beta", "alpha", "delta", "epsilon", "gamma"]),
        (["metrics.`acc` desc"], ["delta", "alpha", "Alpha2", "beta", "epsilon", "gamma"]),
        # Byte order, missing values last in both directions.
        (["params.model ASC"], ["gamma", "alpha", "delta", "beta", "*", "*"]),
        (["params.model DESC"], ["beta", "delta", "alpha", "gamma", "*", "*"]),
        (["tags.team ASC", "metrics.acc DESC"],
         ["gamma", "beta", "epsilon", "alpha", "delta", "Alpha2"]),
        (["tags.team DESC", "metrics.acc ASC"],
         ["alpha", "beta", "epsilon", "gamma", "Alpha2", "delta"]),
        (["attributes.run_name ASC"], ["Alpha2", "alpha", "beta", "delta", "epsilon", "gamma"]),
        (["run_name DESC"], ["gamma", "epsilon", "delta", "beta", "alpha", "Alpha2"]),
        (["attributes.status ASC", "attributes.run_name DESC"],
         ["beta", "epsilon", "delta", "alpha", "Alpha2", "gamma"]),
        (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta", "*", "*"]),
        (["attributes.end_time DESC", "metrics.acc ASC"],
         ["Alpha2", "epsilon", "delta", "beta", "alpha", "gamma"]),
        (["tags.`mlflow.runName` ASC"], ["Alpha2", "alpha", "beta", "delta", "epsilon", "gamma"]),
        (["params.`batch size` DESC", "attributes.start_time ASC"],
         ["delta", "alpha", "beta", "gamma", "*", "*"]),
    ],
)  # fmt: skip
def test_order_by(fx, order_by, expected):
    got = fx.search(order_by=order_by)
    n_tied = expected.count("*")
    if n_tied:
        # The trailing runs tie on every key (and on start_time): run_id order.
        assert got[-n_tied:] == fx.tie(*got[-n_tied:])
        assert set(got[-n_tied:]) == {"Alpha2", "epsilon"}
        got, expected = got[:-n_tied], expected[:-n_tied]
    assert got == expected, order_by


def test_filter_and_order(fx):
    got = fx.search("metrics.acc > 0", order_by=["metrics.acc DESC", "attributes.run_name ASC"])
    assert got == ["delta", "alpha", "Alpha2", "beta"]


@pytest.mark.parametrize("page_size", [1, 2, 4, 5, 6, 7])
@pytest.mark.parametrize("order_by", [None, ["metrics.acc DESC"], ["params.model ASC"]])
def test_pagination_covers_all_runs_once(fx, page_size, order_by):
    full = fx.search(order_by=order_by)
    seen = []
    token = None
    for _ in range(20):
        page = fx.client.search_runs(
            [fx.exp_id], "", order_by=order_by, max_results=page_size, page_token=token
        )
        assert len(page) <= page_size
        seen.extend(fx.name_of(r.info.run_id) for r in page)
        token = page.token
        if not token:
            break
    assert seen == full
    assert len(seen) == len(RUNS)


def test_last_full_page_has_no_token(fx):
    page = fx.client.search_runs([fx.exp_id], "", max_results=len(RUNS))
    assert len(page) == len(RUNS)
    # The reference server only hands out a token when it has seen more results.
    assert not page.token
    page = fx.client.search_runs([fx.exp_id], "", max_results=len(RUNS) - 1)
    assert page.token


def test_search_runs_returns_full_run_data(fx):
    (run,) = fx.client.search_runs([fx.exp_id], "attributes.run_name = 'alpha'")
    assert run.info.run_id == fx.ids["alpha"]
    assert run.info.status == "FINISHED"
    assert run.info.start_time == 1000
    assert run.info.end_time == 1500
    assert run.data.metrics == {"acc": 0.9, "loss": 0.3}
    assert run.data.params == {"model": "cnn", "lr": "0.1"}
    assert run.data.tags["team"] == "vision"
    assert run.data.tags["my key"] == "a b"
    assert run.data.tags["mlflow.runName"] == "alpha"
    (beta,) = fx.client.search_runs([fx.exp_id], "attributes.run_name = 'beta'")
    assert math.isnan(beta.data.metrics["loss"])


def test_view_types(tracking_uri):
    client = MlflowClient(tracking_uri)
    exp_id = client.create_experiment(unique("view"))
    live = client.create_run(exp_id, start_time=2).info.run_id
    dead = client.create_run(exp_id, start_time=1).info.run_id
    client.delete_run(dead)

    def ids(view):
        return [r.info.run_id for r in client.search_runs([exp_id], run_view_type=view)]

    assert ids(ViewType.ACTIVE_ONLY) == [live]
    assert ids(ViewType.DELETED_ONLY) == [dead]
    assert ids(ViewType.ALL) == [live, dead]
    (run,) = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert run.info.lifecycle_stage == "deleted"


def test_search_several_experiments(tracking_uri):
    client = MlflowClient(tracking_uri)
    e1 = client.create_experiment(unique("multi"))
    e2 = client.create_experiment(unique("multi"))
    r1 = client.create_run(e1, start_time=10).info.run_id
    r2 = client.create_run(e2, start_time=20).info.run_id
    got = client.search_runs([e1, e2])
    assert [r.info.run_id for r in got] == [r2, r1]
    assert [r.info.experiment_id for r in got] == [e2, e1]
    assert client.search_runs([e1, e2], "attributes.start_time < 15")[0].info.run_id == r1


def test_search_empty_experiment(client, experiment_id):
    got = client.search_runs([experiment_id])
    assert list(got) == []
    assert not got.token


def test_pandas_search_runs(fx):
    df = mlflow.search_runs(experiment_ids=[fx.exp_id], order_by=["attributes.start_time ASC"])
    assert len(df) == len(RUNS)
    for col in [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "metrics.acc",
        "metrics.loss",
        "params.model",
        "params.lr",
        "params.batch size",
        "tags.team",
        "tags.mlflow.runName",
    ]:
        assert col in df.columns, col
    assert list(df["tags.mlflow.runName"][:4]) == ["alpha", "beta", "gamma", "delta"]
    alpha = df[df["run_id"] == fx.ids["alpha"]].iloc[0]
    assert alpha["metrics.acc"] == 0.9
    assert alpha["params.model"] == "cnn"
    assert alpha["status"] == "FINISHED"
    assert alpha["experiment_id"] == fx.exp_id
    gamma = df[df["run_id"] == fx.ids["gamma"]].iloc[0]
    assert math.isnan(gamma["metrics.acc"])  # missing metric -> NaN
    assert gamma["params.lr"] is None or gamma["params.lr"] != gamma["params.lr"]  # None or NaN
    filtered = mlflow.search_runs([fx.exp_id], filter_string="params.model LIKE '%nn'")
    assert sorted(filtered["params.model"]) == ["cnn", "rnn"]


def test_pandas_search_runs_by_experiment_name(fx):
    name = fx.client.get_experiment(fx.exp_id).name
    df = mlflow.search_runs(experiment_names=[name], filter_string="metrics.acc > 0.8")
    assert set(df["run_id"]) == {fx.ids["alpha"], fx.ids["delta"]}
    runs = mlflow.search_runs(experiment_names=[name], output_format="list", max_results=2)
    assert len(runs) == 2


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.acc > 0.8 OR metrics.acc < 0.1",
        "metrics.acc > 'high'",
        "params.model > 'a'",
        "params.model = cnn",
        "attributes.status IN ('FINISHED')",
        "foo.bar = 'x'",
        "metrics.acc",
        "(metrics.acc > 0.8)",
        "attributes.start_time = 'abc'",
        "attributes.nonexistent = 'x'",
    ],
)
def test_invalid_filters(fx, filter_string):
    with pytest.raises(MlflowException) as e:
        fx.client.search_runs([fx.exp_id], filter_string)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert e.value.get_http_status_code() == 400


@pytest.mark.parametrize(
    "order_by",
    [["metrics.acc sideways"], ["foo.acc"], ["attributes.nonexistent"], ["metrics.acc DESC ASC"]],
)
def test_invalid_order_by(fx, order_by):
    with pytest.raises(MlflowException) as e:
        fx.client.search_runs([fx.exp_id], "", order_by=order_by)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
