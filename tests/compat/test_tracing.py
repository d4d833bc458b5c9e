"""MLflow 3 tracing (issue 15) through the official client: traced functions exported as
the client does by default (spans over OTLP, trace info over the v3 API), get/search
traces, tags, run links, assessments, deletion, and OTLP ingest from a plain
OpenTelemetry SDK. Runs unchanged against the real MLflow server."""

import gzip
import time

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.entities import AssessmentSource, Feedback, SpanType
from mlflow.exceptions import MlflowException


@pytest.fixture
def traced_experiment(experiment_id):
    """The test's experiment made active, so traces land in it."""
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@mlflow.trace(span_type=SpanType.LLM)
def _child(x):
    return x * 2


@mlflow.trace
def _root(x, y=3):
    return {"out": _child(x) + y}


@mlflow.trace
def _fails(x):
    raise ValueError("boom")


def _last_trace_id():
    return mlflow.get_last_active_trace_id()


def test_spans_parent_links_and_previews(traced_experiment):
    assert _root(2) == {"out": 7}
    trace = mlflow.get_trace(_last_trace_id())
    info = trace.info
    assert info.trace_id.startswith("tr-") and len(info.trace_id) == 35
    assert info.experiment_id == traced_experiment
    assert info.state.value == "OK"
    assert info.request_preview == '{"x": 2, "y": 3}'
    assert info.response_preview == '{"out": 7}'
    assert info.tags["mlflow.traceName"] == "_root"
    assert info.execution_duration is not None and info.execution_duration >= 0
    assert info.request_time > 0

    spans = trace.data.spans
    assert [s.name for s in spans] == ["_root", "_child"]
    root, child = spans
    assert root.parent_id is None
    assert child.parent_id == root.span_id
    assert child.span_type == SpanType.LLM
    assert root.inputs == {"x": 2, "y": 3}
    assert root.outputs == {"out": 7}
    assert child.inputs == {"x": 2}
    assert child.outputs == 4
    assert root.start_time_ns <= child.start_time_ns <= child.end_time_ns <= root.end_time_ns
    assert child.status.status_code.value == "OK"


def test_error_trace_records_the_exception(traced_experiment):
    with pytest.raises(ValueError):
        _fails(1)
    trace = mlflow.get_trace(_last_trace_id())
    assert trace.info.state.value == "ERROR"
    (span,) = trace.data.spans
    assert span.status.status_code.value == "ERROR"
    assert "boom" in span.status.description
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "boom"
    assert event.attributes["exception.type"] == "ValueError"
    assert "Traceback" in event.attributes["exception.stacktrace"]


def test_trace_in_a_run_and_linked_to_a_run(client, traced_experiment):
    with mlflow.start_run() as run:
        _root(1)
    in_run = _last_trace_id()
    assert mlflow.get_trace(in_run).info.trace_metadata["mlflow.sourceRun"] == run.info.run_id

    _root(5)
    outside = _last_trace_id()
    other_run = client.create_run(traced_experiment)
    client.link_traces_to_run([outside], other_run.info.run_id)

    found = mlflow.search_traces(
        locations=[traced_experiment], run_id=run.info.run_id, return_type="list"
    )
    assert [t.info.trace_id for t in found] == [in_run]
    linked = mlflow.search_traces(
        locations=[traced_experiment], run_id=other_run.info.run_id, return_type="list"
    )
    assert [t.info.trace_id for t in linked] == [outside]


def _make_traces(n):
    ids = []
    for i in range(n):
        with mlflow.start_span(name=f"op{i % 2}") as span:
            span.set_inputs({"i": i})
            span.set_outputs(i * 10)
            mlflow.update_current_trace(tags={"parity": "even" if i % 2 == 0 else "odd", "i": str(i)})
        ids.append(_last_trace_id())
        time.sleep(0.005)
    return ids


def test_search_order_pages_and_dataframe(client, traced_experiment):
    ids = _make_traces(5)

    newest_first = mlflow.search_traces(locations=[traced_experiment], return_type="list")
    assert [t.info.trace_id for t in newest_first] == ids[::-1]
    assert all(len(t.data.spans) == 1 for t in newest_first)

    oldest_first = client.search_traces(
        locations=[traced_experiment], order_by=["timestamp_ms ASC"], max_results=2
    )
    assert [t.info.trace_id for t in oldest_first] == ids[:2]
    assert oldest_first.token
    seen = [t.info.trace_id for t in oldest_first]
    token = oldest_first.token
    while token:
        page = client.search_traces(
            locations=[traced_experiment],
            order_by=["timestamp_ms ASC"],
            max_results=2,
            page_token=token,
        )
        seen += [t.info.trace_id for t in page]
        token = page.token
    assert seen == ids

    df = mlflow.search_traces(locations=[traced_experiment])
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 5
    assert set(df["trace_id"]) == set(ids)
    assert {"trace_id", "request", "response", "state", "tags", "spans"} <= set(df.columns)
    row = df[df["trace_id"] == ids[3]].iloc[0]
    assert row["request"] == {"i": 3}
    assert row["response"] == 30
    assert row["tags"]["parity"] == "odd"


def test_search_across_experiments(client, experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    _root(1)
    first = _last_trace_id()
    other = client.create_experiment(f"{client.get_experiment(experiment_id).name}-other")
    mlflow.set_experiment(experiment_id=other)
    _root(2)
    second = _last_trace_id()
    both = mlflow.search_traces(locations=[experiment_id, other], return_type="list")
    assert {t.info.trace_id for t in both} == {first, second}


def _ids(experiment_id, filter_string, **kw):
    return [
        t.info.trace_id
        for t in mlflow.search_traces(
            locations=[experiment_id], filter_string=filter_string, return_type="list", **kw
        )
    ]


def test_search_filters(traced_experiment):
    ids = _make_traces(4)
    with pytest.raises(ValueError):
        _fails(0)
    failed = _last_trace_id()

    assert _ids(traced_experiment, "tags.parity = 'even'") == [ids[2], ids[0]]
    assert _ids(traced_experiment, "tags.parity != 'even'") == [ids[3], ids[1]]
    assert _ids(traced_experiment, "tags.i LIKE '%3'") == [ids[3]]
    assert _ids(traced_experiment, "trace.status = 'ERROR'") == [failed]
    assert _ids(traced_experiment, "trace.status = 'OK'") == ids[::-1]
    assert _ids(traced_experiment, "trace.name = 'op1'") == [ids[3], ids[1]]
    assert _ids(traced_experiment, "trace.name = '_fails'") == [failed]
    t2 = mlflow.get_trace(ids[2]).info.request_time
    assert _ids(traced_experiment, f"trace.timestamp_ms >= {t2} AND tags.parity = 'odd'") == [ids[3]]
    assert _ids(traced_experiment, "trace.execution_time_ms >= 0 AND trace.status = 'ERROR'") == [
        failed
    ]
    assert _ids(traced_experiment, "span.name = 'op0'") == [ids[2], ids[0]]
    assert _ids(traced_experiment, "tags.parity = 'none'") == []
    with pytest.raises(MlflowException) as e:
        _ids(traced_experiment, "trace.nope = 'x'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_trace_tags_set_and_delete(client, traced_experiment):
    _root(1)
    trace_id = _last_trace_id()
    client.set_trace_tag(trace_id, "reviewed", "yes")
    assert client.get_trace(trace_id).info.tags["reviewed"] == "yes"
    assert _ids(traced_experiment, "tags.reviewed = 'yes'") == [trace_id]
    client.delete_trace_tag(trace_id, "reviewed")
    assert "reviewed" not in client.get_trace(trace_id).info.tags
    assert _ids(traced_experiment, "tags.reviewed = 'yes'") == []


def test_feedback_and_expectation(client, traced_experiment):
    _root(3)
    trace_id = _last_trace_id()
    source = AssessmentSource(source_type="HUMAN", source_id="alice@example.com")
    fb = mlflow.log_feedback(
        trace_id=trace_id, name="correct", value=True, rationale="looks right", source=source
    )
    ex = mlflow.log_expectation(
        trace_id=trace_id, name="expected", value={"out": 9}, source=source
    )
    err = mlflow.log_feedback(
        trace_id=trace_id,
        name="judge",
        error=mlflow.entities.AssessmentError(error_code="RATE_LIMIT", error_message="slow down"),
        source=AssessmentSource(source_type="LLM_JUDGE", source_id="gpt"),
    )
    assert fb.assessment_id.startswith("a-")

    got = mlflow.get_assessment(trace_id, fb.assessment_id)
    assert got.name == "correct"
    assert got.value is True
    assert got.rationale == "looks right"
    assert got.source.source_type == "HUMAN"
    assert got.source.source_id == "alice@example.com"
    assert got.valid is True
    assert got.trace_id == trace_id
    got_ex = mlflow.get_assessment(trace_id, ex.assessment_id)
    assert got_ex.value == {"out": 9}
    got_err = mlflow.get_assessment(trace_id, err.assessment_id)
    assert got_err.error.error_code == "RATE_LIMIT"
    assert got_err.error.error_message == "slow down"

    on_trace = mlflow.get_trace(trace_id).info.assessments
    assert {a.assessment_id for a in on_trace} == {
        fb.assessment_id,
        ex.assessment_id,
        err.assessment_id,
    }

    updated = mlflow.update_assessment(
        trace_id=trace_id,
        assessment_id=fb.assessment_id,
        assessment=Feedback(name="correct", value=False, rationale="on second thought"),
    )
    assert updated.value is False
    assert mlflow.get_assessment(trace_id, fb.assessment_id).rationale == "on second thought"

    new = mlflow.override_feedback(
        trace_id=trace_id, assessment_id=fb.assessment_id, value=True, rationale="fixed"
    )
    assert new.overrides == fb.assessment_id
    assert mlflow.get_assessment(trace_id, fb.assessment_id).valid is False

    mlflow.delete_assessment(trace_id=trace_id, assessment_id=ex.assessment_id)
    with pytest.raises(MlflowException):
        mlflow.get_assessment(trace_id, ex.assessment_id)
    remaining = {a.assessment_id for a in mlflow.get_trace(trace_id).info.assessments}
    assert ex.assessment_id not in remaining and new.assessment_id in remaining


def test_delete_traces_by_ids_and_by_time(client, traced_experiment):
    ids = _make_traces(5)
    assert client.delete_traces(traced_experiment, trace_ids=[ids[0], ids[1]]) == 2
    left = _ids(traced_experiment, None)
    assert left == ids[:1:-1]

    cutoff = mlflow.get_trace(ids[3]).info.request_time
    assert client.delete_traces(traced_experiment, max_timestamp_millis=cutoff, max_traces=1) == 1
    assert _ids(traced_experiment, None) == [ids[4], ids[3]]
    assert client.delete_traces(traced_experiment, max_timestamp_millis=int(time.time() * 1000) + 1000) == 2
    assert _ids(traced_experiment, None) == []


def test_unknown_trace_is_an_error(client):
    with pytest.raises(MlflowException) as e:
        client.get_trace("tr-" + "0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.delete_trace_tag("tr-" + "1" * 32, "k")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_a_trace_of_200_spans(traced_experiment):
    with mlflow.start_span(name="root") as root:
        root.set_inputs({"n": 199})
        for i in range(199):
            with mlflow.start_span(name=f"step-{i}", span_type=SpanType.TOOL) as s:
                s.set_inputs({"i": i})
                s.set_attribute("index", i)
                s.set_outputs(i)
    trace = mlflow.get_trace(_last_trace_id())
    spans = trace.data.spans
    assert len(spans) == 200
    root_id = spans[0].span_id
    assert spans[0].name == "root"
    assert all(s.parent_id == root_id for s in spans[1:])
    assert sorted(s.get_attribute("index") for s in spans[1:]) == list(range(199))


def _otel_provider(base_url, experiment_id, **headers):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = OTLPSpanExporter(
        endpoint=f"{base_url}/v1/traces",
        headers={"x-mlflow-experiment-id": experiment_id, **headers},
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "compat-otel"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_otlp_protobuf_ingest_from_an_opentelemetry_sdk(client, base_url, experiment_id):
    from opentelemetry.trace import Status, StatusCode

    provider = _otel_provider(base_url, experiment_id)
    tracer = provider.get_tracer("compat")
    with tracer.start_as_current_span("otel-root") as root:
        root.set_attribute("user.kind", "external")
        with tracer.start_as_current_span("otel-child") as child:
            child.set_attribute("n", 3)
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "upstream failed"))
    provider.shutdown()
    otel_trace_id = format(root.get_span_context().trace_id, "032x")

    traces = mlflow.search_traces(locations=[experiment_id], return_type="list")
    assert [t.info.trace_id for t in traces] == [f"tr-{otel_trace_id}"]
    trace = client.get_trace(f"tr-{otel_trace_id}")
    assert trace.info.state.value == "OK"
    by_name = {s.name: s for s in trace.data.spans}
    assert set(by_name) == {"otel-root", "otel-child"}
    assert by_name["otel-child"].parent_id == by_name["otel-root"].span_id
    assert by_name["otel-root"].get_attribute("user.kind") == "external"
    assert by_name["otel-child"].get_attribute("n") == 3
    assert by_name["otel-child"].status.status_code.value == "ERROR"
    assert [e.name for e in by_name["otel-child"].events] == ["retry"]
    assert by_name["otel-child"].events[0].attributes == {"attempt": 2}


def test_otlp_garbage_is_rejected_and_stores_nothing(base_url, experiment_id):
    headers = {"x-mlflow-experiment-id": experiment_id}
    r = requests.post(
        f"{base_url}/v1/traces",
        data=b"this is not an OTLP payload",
        headers={**headers, "Content-Type": "application/x-protobuf"},
    )
    assert 400 <= r.status_code < 500
    r = requests.post(
        f"{base_url}/v1/traces",
        data=gzip.compress(b"\xff\xff\xff garbage"),
        headers={
            **headers,
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
        },
    )
    assert 400 <= r.status_code < 500
    r = requests.post(
        f"{base_url}/v1/traces",
        data=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500
    assert mlflow.search_traces(locations=[experiment_id], return_type="list") == []


def test_genai_evaluate_with_a_custom_scorer(client, traced_experiment):
    from mlflow.genai.scorers import scorer

    @scorer
    def exact(outputs, expectations):
        return outputs == expectations["expected"]

    def predict(question):
        return question.upper()

    data = [
        {"inputs": {"question": "a"}, "expectations": {"expected": "A"}},
        {"inputs": {"question": "b"}, "expectations": {"expected": "x"}},
    ]
    result = mlflow.genai.evaluate(data=data, predict_fn=predict, scorers=[exact])
    assert result.metrics["exact/mean"] == 0.5
    run = client.get_run(result.run_id)
    assert run.info.experiment_id == traced_experiment
    assert run.data.metrics["exact/mean"] == 0.5

    traces = mlflow.search_traces(
        locations=[traced_experiment], run_id=result.run_id, return_type="list"
    )
    assert len(traces) == 2
    by_question = {t.data.spans[0].inputs["question"]: t for t in traces}
    for question, verdict, expected in [("a", True, "A"), ("b", False, "x")]:
        trace = by_question[question]
        assert trace.data.spans[0].outputs == question.upper()
        values = {a.name: a.value for a in trace.info.assessments}
        assert values == {"exact": verdict, "expected": expected}
        feedback = next(a for a in trace.info.assessments if a.name == "exact")
        assert feedback.source.source_type == "CODE"


def test_deleting_runs_and_experiments_keeps_traces_as_mlflow_does(client, traced_experiment):
    """Deleting an evaluation's run drops the assessments it produced (their metadata names
    the run) but keeps the traces; a deleted experiment's traces stay readable until the
    experiment is garbage-collected."""
    from mlflow.genai.scorers import scorer

    @scorer
    def nonempty(outputs):
        return bool(outputs)

    result = mlflow.genai.evaluate(
        data=[{"inputs": {"question": "q"}, "expectations": {"expected": "Q"}}],
        predict_fn=lambda question: question.upper(),
        scorers=[nonempty],
    )
    (trace,) = mlflow.search_traces(
        locations=[traced_experiment], run_id=result.run_id, return_type="list"
    )
    names = {a.name for a in trace.info.assessments}
    assert "nonempty" in names
    # A feedback logged by hand, not by the run, survives the run's deletion.
    mlflow.log_feedback(trace_id=trace.info.trace_id, name="manual", value=True)

    client.delete_run(result.run_id)
    after = mlflow.get_trace(trace.info.trace_id)
    assert after is not None
    left = {a.name for a in after.info.assessments}
    assert "nonempty" not in left
    assert "manual" in left

    _root(1)
    kept = _last_trace_id()
    client.delete_experiment(traced_experiment)
    assert mlflow.get_trace(kept).info.trace_id == kept
