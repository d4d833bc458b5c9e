"""Fills a tracking server with everything MLflow keeps, through the official client,
and reads it back as one canonical dump (plain JSON-able data, ordered), so that two
servers holding the same store can be compared field for field."""

import dataclasses
import math
import time

import mlflow
from mlflow import MlflowClient
from mlflow.entities import AssessmentSource, LoggedModelStatus, SpanType, ViewType


def seed(client: MlflowClient, work_dir, webhooks: bool = True) -> dict:
    """Logs the data set; returns a few ids for checks. MLflow's file store has no
    webhooks and no scorer registry: `webhooks=False` leaves both out."""
    import pandas as pd

    ids = {}
    exp = client.create_experiment("import-main", tags={"team": "ml", "note": "ünïcode"})
    other = client.create_experiment("import-other")
    gone = client.create_experiment("import-deleted", tags={"x": "y"})
    ids["experiments"] = [exp, other, gone]

    mlflow.set_experiment(experiment_id=exp)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    with mlflow.start_run(run_name="parent", tags={"stage": "dev"}) as parent:
        mlflow.log_params({"lr": "0.01", "layers": "3"})
        mlflow.log_metric("loss", float("nan"), step=0)
        mlflow.log_metric("loss", float("inf"), step=1)
        mlflow.log_metric("loss", float("-inf"), step=2)
        for step in range(3, 300):
            mlflow.log_metric("loss", 1.0 / step, step=step, timestamp=1_700_000_000_000 + step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=5)
        ds = mlflow.data.from_pandas(frame, name="train-frame", targets="b")
        mlflow.log_input(ds, context="training", tags={"split": "a"})
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": 1}, "config.json")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_param("seed", "7")
            mlflow.log_metric("loss", 0.3, step=1)
            mlflow.set_tag("kind", "child")
        model = mlflow.initialize_logged_model(
            name="lm", tags={"team": "a"}, params={"alpha": "0.5"}, model_type="clf"
        )
        mlflow.log_metric("model_acc", 0.77, step=2, model_id=model.model_id, dataset=ds)
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        client.log_outputs(parent.info.run_id, [mlflow.entities.LoggedModelOutput(model.model_id, 3)])
    ids["parent"] = parent.info.run_id
    ids["child"] = child.info.run_id
    ids["model_id"] = model.model_id

    failed = client.create_run(other, run_name="failed", tags={"mlflow.user": "bob"})
    client.log_batch(
        failed.info.run_id,
        params=[mlflow.entities.Param("p", "v" * 300)],
    )
    client.set_terminated(failed.info.run_id, "FAILED", end_time=1_700_000_999_000)
    deleted_run = client.create_run(other, run_name="to-delete")
    client.delete_run(deleted_run.info.run_id)
    running = client.create_run(gone, run_name="in-gone")
    client.log_metric(running.info.run_id, "m", -1.5, step=-3)
    client.delete_experiment(gone)

    # Registry: models, versions (stages, tags, descriptions, run links, model ids), aliases.
    client.create_registered_model("reg-a", tags={"owner": "ml"}, description="first model")
    v1 = client.create_model_version(
        "reg-a", f"runs:/{parent.info.run_id}/model", run_id=parent.info.run_id,
        tags={"v": "1"}, description="version one",
    )
    v2 = client.create_model_version("reg-a", f"models:/{model.model_id}", model_id=model.model_id)
    client.transition_model_version_stage("reg-a", v1.version, "Production")
    client.transition_model_version_stage("reg-a", v2.version, "Staging")
    client.set_registered_model_alias("reg-a", "champion", v1.version)
    client.set_model_version_tag("reg-a", v2.version, "checked", "yes")
    client.create_registered_model("reg-b")
    client.create_model_version("reg-b", "s3://bucket/some/model")
    client.delete_model_version("reg-b", "1")
    client.create_model_version("reg-b", "s3://bucket/other/model")

    # A prompt (a registered model with prompt tags) with two versions.
    mlflow.genai.register_prompt(name="greet", template="Hello {{name}}", commit_message="v1")
    mlflow.genai.register_prompt(name="greet", template="Hi {{name}}!", commit_message="v2")

    # Registered scorers: two versions of one, another in a second experiment.
    if webhooks:
        from mlflow.genai.scorers import Guidelines

        for rules in (["be polite"], ["be polite", "be brief"]):
            Guidelines(name="polite", guidelines=rules, model="openai:/gpt-4o").register(
                name="polite", experiment_id=exp)
        Guidelines(name="kind", guidelines=["be kind"], model="openai:/gpt-4o").register(
            name="kind", experiment_id=other)

    # A webhook.
    if webhooks:
        client.create_webhook(
            name="hook", url="https://example.com/hook", events=["model_version.created"],
            description="d", secret="s3cret",
        )

    # Traces with spans and assessments.
    @mlflow.trace(span_type=SpanType.LLM)
    def child_fn(x):
        return x * 2

    @mlflow.trace
    def root_fn(x, y=3):
        return {"out": child_fn(x) + y}

    @mlflow.trace
    def fails(x):
        raise ValueError("boom")

    mlflow.set_experiment(experiment_id=exp)
    root_fn(2)
    t1 = mlflow.get_last_active_trace_id()
    try:
        fails(1)
    except ValueError:
        pass
    t2 = mlflow.get_last_active_trace_id()
    client.set_trace_tag(t1, "reviewed", "yes")
    src = AssessmentSource(source_type="HUMAN", source_id="alice@example.com")
    mlflow.log_feedback(trace_id=t1, name="correct", value=True, rationale="ok", source=src)
    mlflow.log_expectation(trace_id=t1, name="expected", value={"out": 9}, source=src)
    ids["traces"] = [t1, t2]

    # Evaluation datasets: records merged twice (the second merge updates one record),
    # sources of every kind, tags set and deleted, links to two experiments; an empty one.
    if webhooks:
        from mlflow.genai.datasets import create_dataset, delete_dataset_tag, set_dataset_tags

        qa = create_dataset(name="qa", experiment_id=[exp, other],
                            tags={"stage": "dev", "owner": "ml", "mlflow.user": "alice"})
        qa.merge_records([
            {"inputs": {"question": "What is MLflow?", "n": 1},
             "expectations": {"answer": "a platform"}, "tags": {"mlflow.user": "alice"}},
            {"inputs": {"question": "Ünïcode?", "x": 1.5, "deep": {"b": [1, None], "a": 1e-05}},
             "outputs": {"text": "yes"}, "expectations": {"score": 0.5}},
            {"inputs": {"question": "plain output"}, "outputs": "just text",
             "source": {"source_type": "HUMAN", "source_data": {"source_id": "bob"}}},
            {"inputs": {"question": "from a trace"},
             "source": {"source_type": "TRACE", "source_data": {"trace_id": t1}}},
        ])
        time.sleep(0.01)
        qa.merge_records([
            {"inputs": {"n": 1, "question": "What is MLflow?"},
             "expectations": {"extra": True}, "tags": {"mlflow.user": "carol", "round": "2"}},
        ])
        set_dataset_tags(qa.dataset_id, {"reviewed": "yes"})
        delete_dataset_tag(qa.dataset_id, "owner")
        empty = create_dataset(name="empty", experiment_id=other)
        ids["datasets"] = [qa.dataset_id, empty.dataset_id]

        # An online-scoring configuration (rate 0, which needs no AI gateway judge).
        from mlflow.genai.scorers import ScorerSamplingConfig, get_scorer

        get_scorer(name="polite", experiment_id=exp).update(
            experiment_id=exp,
            sampling_config=ScorerSamplingConfig(sample_rate=0.0, filter_string="tags.env = 'prod'"),
        )
    return ids


def _clean(v):
    """Floats as text (NaN and infinities compare equal), dicts sorted."""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return repr(v)
    if isinstance(v, dict):
        return {k: _clean(v[k]) for k in sorted(v)}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _artifacts(client, run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.append({"path": f.path, "dir": True})
            out.extend(_artifacts(client, run_id, f.path))
        else:
            out.append({"path": f.path, "size": f.file_size})
    return out


def _all(fn, **kw):
    out, token = [], None
    while True:
        page = fn(page_token=token, **kw)
        out.extend(page)
        token = page.token
        if not token:
            return out


def dump(client: MlflowClient, webhooks: bool = True) -> dict:
    d = {}
    exps = _all(client.search_experiments, view_type=ViewType.ALL, max_results=1000)
    exps.sort(key=lambda e: int(e.experiment_id))
    d["experiments"] = [
        {
            "id": e.experiment_id, "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags),
            "creation_time": e.creation_time, "last_update_time": e.last_update_time,
        }
        for e in exps
    ]
    exp_ids = [e.experiment_id for e in exps]
    runs = _all(
        client.search_runs, experiment_ids=exp_ids, run_view_type=ViewType.ALL,
        max_results=1000, order_by=["attributes.start_time ASC"],
    )
    runs.sort(key=lambda r: r.info.run_id)
    d["runs"] = []
    for r in runs:
        run = client.get_run(r.info.run_id)
        i = run.info
        entry = {
            "info": {
                "run_id": i.run_id, "run_name": i.run_name, "experiment_id": i.experiment_id,
                "user_id": i.user_id, "status": i.status, "start_time": i.start_time,
                "end_time": i.end_time, "artifact_uri": i.artifact_uri,
                "lifecycle_stage": i.lifecycle_stage,
            },
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
            "latest": dict(run.data.metrics),
            "histories": {
                k: [
                    [m.step, m.timestamp, m.value, getattr(m, "model_id", None),
                     getattr(m, "dataset_name", None), getattr(m, "dataset_digest", None)]
                    for m in client.get_metric_history(i.run_id, k)
                ]
                for k in sorted(run.data.metrics)
            },
            "inputs": sorted(
                [
                    {
                        "name": di.dataset.name, "digest": di.dataset.digest,
                        "source_type": di.dataset.source_type, "source": di.dataset.source,
                        "schema": di.dataset.schema, "profile": di.dataset.profile,
                        "tags": {t.key: t.value for t in di.tags},
                    }
                    for di in (run.inputs.dataset_inputs if run.inputs else [])
                ],
                key=lambda x: (x["name"], x["digest"]),
            ),
            "model_inputs": sorted(
                m.model_id for m in (getattr(run.inputs, "model_inputs", None) or [])
            ),
            "model_outputs": sorted(
                [m.model_id, m.step] for m in (getattr(run.outputs, "model_outputs", None) or [])
            ),
            "artifacts": _artifacts(client, i.run_id) if i.lifecycle_stage == "active" else None,
        }
        d["runs"].append(entry)

    models = []
    for e in exp_ids:
        models.extend(_all(client.search_logged_models, experiment_ids=[e], max_results=100))
    models.sort(key=lambda m: m.model_id)
    d["logged_models"] = [
        {
            "id": m.model_id, "experiment_id": m.experiment_id, "name": m.name,
            "artifact_location": m.artifact_location,
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "status": str(m.status), "model_type": m.model_type,
            "source_run_id": m.source_run_id, "status_message": m.status_message,
            "tags": dict(m.tags), "params": dict(m.params),
            "metrics": sorted(
                [mt.key, mt.value, mt.step, mt.timestamp, mt.run_id, mt.dataset_name,
                 mt.dataset_digest]
                for mt in (m.metrics or [])
            ),
        }
        for m in models
    ]

    regs = _all(client.search_registered_models, max_results=100)
    regs.sort(key=lambda m: m.name)
    d["registered_models"] = []
    for m in regs:
        full = client.get_registered_model(m.name)
        versions = _all(client.search_model_versions, filter_string=f"name = '{m.name}'",
                        max_results=1000)
        versions.sort(key=lambda v: int(v.version))
        d["registered_models"].append({
            "name": full.name, "creation_timestamp": full.creation_timestamp,
            "last_updated_timestamp": full.last_updated_timestamp,
            "description": full.description, "tags": dict(full.tags),
            "aliases": dict(full.aliases),
            "latest": sorted([v.version, v.current_stage] for v in full.latest_versions),
            "versions": [
                {
                    "version": v.version, "creation_timestamp": v.creation_timestamp,
                    "last_updated_timestamp": v.last_updated_timestamp,
                    "description": v.description, "user_id": v.user_id,
                    "current_stage": v.current_stage, "source": v.source,
                    "run_id": v.run_id, "run_link": v.run_link, "status": v.status,
                    "status_message": v.status_message, "tags": dict(v.tags),
                    "aliases": sorted(v.aliases), "model_id": getattr(v, "model_id", None),
                }
                for v in versions
            ],
        })

    prompts = client.search_prompts(max_results=100)
    d["prompts"] = []
    for p in sorted(prompts, key=lambda p: p.name):
        versions = []
        for n in (1, 2):
            pv = client.get_prompt_version(p.name, n)
            versions.append({
                "version": pv.version, "template": pv.template,
                "commit_message": pv.commit_message, "creation_timestamp": pv.creation_timestamp,
                "tags": dict(pv.tags),
            })
        d["prompts"].append({"name": p.name, "tags": dict(p.tags), "versions": versions})

    # The scorer registry: every version of every scorer of the active experiments, and
    # the latest one as the client rebuilds it.
    d["scorers"] = []
    if webhooks:
        from mlflow.genai.scorers import get_scorer, list_scorers

        store = mlflow.tracking._tracking_service.utils._get_store()
        for e in exps:
            if e.lifecycle_stage != "active":
                continue
            for s in sorted(list_scorers(experiment_id=e.experiment_id), key=lambda s: s.name):
                latest = get_scorer(name=s.name, experiment_id=e.experiment_id)
                d["scorers"].append({
                    "experiment_id": e.experiment_id, "name": s.name,
                    "latest": {"type": type(latest).__name__,
                               "guidelines": getattr(latest, "guidelines", None)},
                    "versions": [
                        {"scorer_id": v.scorer_id, "name": v.scorer_name,
                         "version": v.scorer_version, "experiment_id": str(v.experiment_id),
                         "serialized": dataclasses.asdict(v.serialized_scorer),
                         "creation_time": v.creation_time}
                        for v in store.list_scorer_versions(e.experiment_id, s.name)
                    ],
                })

    # Evaluation datasets with their records, and the online-scoring configurations.
    d["datasets"] = []
    d["online_scoring_configs"] = []
    if webhooks:
        from mlflow.genai.datasets import get_dataset, search_datasets

        found = search_datasets(filter_string="created_time >= 0")
        for ds in sorted(found, key=lambda x: x.dataset_id):
            full = get_dataset(dataset_id=ds.dataset_id).to_dict()
            full["experiment_ids"] = sorted(full["experiment_ids"])
            full["records"] = sorted(full["records"], key=lambda r: r["dataset_record_id"])
            d["datasets"].append(full)
        scorer_ids = sorted({s["versions"][0]["scorer_id"] for s in d["scorers"]})
        configs = store.get_online_scoring_configs(scorer_ids) if scorer_ids else []
        d["online_scoring_configs"] = sorted(
            [dataclasses.asdict(c) if dataclasses.is_dataclass(c) else vars(c) for c in configs],
            key=lambda c: c["scorer_id"],
        )

    hooks = _all(client.list_webhooks, max_results=100) if webhooks else []
    d["webhooks"] = sorted(
        [
            {
                "id": h.webhook_id, "name": h.name, "url": h.url,
                "events": sorted(str(e) for e in h.events), "description": h.description,
                "status": str(h.status), "creation_timestamp": h.creation_timestamp,
                "last_updated_timestamp": h.last_updated_timestamp,
            }
            for h in hooks
        ],
        key=lambda h: h["id"],
    )

    traces = []
    for e in exp_ids:
        traces.extend(client.search_traces(locations=[e], max_results=500))
    traces.sort(key=lambda t: t.info.trace_id)
    d["traces"] = []
    for t in traces:
        full = client.get_trace(t.info.trace_id)
        info = full.info.to_dict()
        d["traces"].append({
            "info": info,
            "spans": [s.to_dict() for s in full.data.spans],
        })
    return _clean(d)
