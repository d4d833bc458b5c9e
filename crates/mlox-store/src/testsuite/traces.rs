//! The traces part of the conformance suite (issue 15): ingest in either order, reads,
//! search, deletion, run links and assessments.

use std::sync::Arc;

use mlox_core::entities::NewRun;
use mlox_core::store::TrackingStore;
use mlox_core::trace::*;
use mlox_core::ErrorCode;

/// What the trace tests need of a store.
pub trait TraceStores: TrackingStore + TraceStore {}
impl<S> TraceStores for S where S: TrackingStore + TraceStore {}

fn hex_id(n: usize) -> String {
    format!("{:032x}", uuid::Uuid::new_v4().as_u128() ^ n as u128)
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
    }
}

fn span(trace: &str, id: u64, parent: Option<u64>, name: &str, start_ms: u64, end_ms: u64) -> Span {
    Span {
        trace_id: trace.into(),
        span_id: format!("{id:016x}"),
        parent_span_id: parent.map(|p| format!("{p:016x}")),
        trace_state: String::new(),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: start_ms * 1_000_000,
        end_time_unix_nano: end_ms * 1_000_000,
        attributes: vec![kv(keys::SPAN_TYPE, AnyValue::Str("\"CHAIN\"".into()))],
        events: vec![],
        links: vec![],
        status_code: 1,
        status_message: String::new(),
    }
}

async fn experiment<S: TraceStores>(store: &S, prefix: &str) -> String {
    store
        .create_experiment(
            format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
            None,
            vec![],
        )
        .await
        .unwrap()
}

/// A finished trace of one root span, with tags and its trace info sent after the spans.
async fn simple_trace<S: TraceStores>(
    store: &S,
    exp: &str,
    name: &str,
    start_ms: i64,
    state: TraceState,
    tags: &[(&str, &str)],
) -> String {
    let hex = hex_id(start_ms as usize);
    let mut root = span(&hex, 1, None, name, start_ms as u64, start_ms as u64 + 10);
    if state == TraceState::Error {
        root.status_code = 2;
    }
    store.log_spans(exp, vec![root]).await.unwrap();
    let mut info = TraceInfo {
        trace_id: format!("tr-{hex}"),
        experiment_id: exp.into(),
        request_time: start_ms,
        execution_duration: Some(10),
        state,
        ..Default::default()
    };
    info.tags.insert(keys::TRACE_NAME.into(), name.into());
    for (k, v) in tags {
        info.tags.insert((*k).into(), (*v).into());
    }
    store.start_trace(info).await.unwrap().trace_id
}

pub async fn traces_ingest_and_read<S: TraceStores>(store: Arc<S>) {
    let exp = experiment(store.as_ref(), "traces").await;
    let hex = hex_id(0);
    let trace_id = format!("tr-{hex}");
    let mut root = span(&hex, 1, None, "root", 1_000, 1_050);
    root.attributes.push(kv(
        keys::SPAN_INPUTS,
        AnyValue::KvList(vec![
            kv("q", AnyValue::Str("hi".into())),
            kv("n", AnyValue::Int(2)),
        ]),
    ));
    root.attributes
        .push(kv(keys::SPAN_OUTPUTS, AnyValue::Str("bye".into())));
    let mut child = span(&hex, 2, Some(1), "child", 1_010, 1_020);
    child.status_code = 2;
    child.status_message = "bad".into();
    child.events.push(SpanEvent {
        time_unix_nano: 1_015_000_000,
        name: "exception".into(),
        attributes: vec![kv("exception.message", AnyValue::Str("bad".into()))],
    });

    // Spans first: the trace info is derived from them.
    store.log_spans(&exp, vec![child.clone()]).await.unwrap();
    let partial = store.get_trace_info(&trace_id).await.unwrap();
    assert_eq!(partial.state, TraceState::InProgress);
    assert_eq!(partial.request_time, 1_010);
    store.log_spans(&exp, vec![root.clone()]).await.unwrap();
    let info = store.get_trace_info(&trace_id).await.unwrap();
    assert_eq!(info.experiment_id, exp);
    assert_eq!(info.state, TraceState::Ok);
    assert_eq!(info.request_time, 1_000);
    assert_eq!(info.execution_duration, Some(50));
    assert_eq!(
        info.request_preview.as_deref(),
        Some(r#"{"q": "hi", "n": 2}"#)
    );
    assert_eq!(info.response_preview.as_deref(), Some(r#""bye""#));
    assert_eq!(
        info.tags.get(keys::SPANS_LOCATION).map(String::as_str),
        Some(keys::SPANS_LOCATION_TRACKING_STORE)
    );
    assert!(info.tags[keys::ARTIFACT_LOCATION].ends_with(&format!("/traces/{trace_id}/artifacts")));

    // Then the trace info from the client: it wins over what the spans said.
    let mut sent = TraceInfo {
        trace_id: trace_id.clone(),
        experiment_id: exp.clone(),
        request_time: 999,
        execution_duration: Some(60),
        state: TraceState::Ok,
        request_preview: Some("req".into()),
        ..Default::default()
    };
    sent.metadata.insert(keys::SOURCE_RUN.into(), "r1".into());
    sent.tags.insert(keys::TRACE_NAME.into(), "root".into());
    let stored = store.start_trace(sent).await.unwrap();
    assert_eq!(stored.request_time, 999);
    assert_eq!(stored.execution_duration, Some(60));
    assert_eq!(stored.request_preview.as_deref(), Some("req"));
    assert_eq!(stored.response_preview.as_deref(), Some(r#""bye""#));
    assert_eq!(stored.metadata[keys::SOURCE_RUN], "r1");
    assert_eq!(stored.metadata[keys::INFO_FINALIZED], "true");
    assert_eq!(stored.tags[keys::TRACE_NAME], "root");

    // A span sent again replaces its first version; spans read back in start order.
    let mut child2 = child.clone();
    child2.name = "child-renamed".into();
    store.log_spans(&exp, vec![child2]).await.unwrap();
    let traces = store
        .get_traces(vec![trace_id.clone(), "tr-missing".into()], true)
        .await
        .unwrap();
    assert_eq!(traces.len(), 1);
    let spans = &traces[0].spans;
    assert_eq!(
        spans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["root", "child-renamed"]
    );
    assert_eq!(spans[1].parent_span_id.as_deref(), Some("0000000000000001"));
    assert_eq!(spans[1].events[0].name, "exception");
    assert_eq!(
        spans[0].attribute(keys::SPAN_REQUEST_ID),
        Some(&AnyValue::Str(trace_id.clone()))
    );
    assert_eq!(
        spans[0].attribute(keys::SPAN_INPUTS),
        root.attribute(keys::SPAN_INPUTS)
    );
    // The finalized info is not moved by late spans.
    assert_eq!(
        store.get_trace_info(&trace_id).await.unwrap().request_time,
        999
    );

    let err = store.get_trace_info("tr-nope").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    let err = store
        .log_spans("123456789", vec![span(&hex_id(1), 1, None, "x", 1, 2)])
        .await;
    assert_eq!(err.unwrap_err().code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    // A big trace in one batch.
    let hex = hex_id(2);
    let mut many = vec![span(&hex, 1, None, "root", 5_000, 6_000)];
    for i in 2..=1000u64 {
        let mut s = span(&hex, i, Some(1), &format!("step-{i}"), 5_000 + i, 5_001 + i);
        s.attributes.push(kv("i", AnyValue::Int(i as i64)));
        many.push(s);
    }
    store.log_spans(&exp, many).await.unwrap();
    let big = store
        .get_traces(vec![format!("tr-{hex}")], true)
        .await
        .unwrap();
    assert_eq!(big[0].spans.len(), 1000);
}

fn one(id: &str) -> Vec<String> {
    vec![id.to_string()]
}

fn ids(page: &mlox_core::entities::Page<TraceInfo>) -> Vec<String> {
    page.items.iter().map(|t| t.trace_id.clone()).collect()
}

async fn search<S: TraceStores>(store: &S, exps: &[&str], filter: &str) -> Vec<String> {
    let page = store
        .search_traces(SearchTracesRequest {
            experiment_ids: exps.iter().map(|e| e.to_string()).collect(),
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    ids(&page)
}

pub async fn trace_search<S: TraceStores>(store: Arc<S>) {
    let s = store.as_ref();
    let exp = experiment(s, "trace-search").await;
    let other = experiment(s, "trace-search-other").await;
    let a = simple_trace(s, &exp, "alpha", 1_000, TraceState::Ok, &[("env", "prod")]).await;
    let b = simple_trace(s, &exp, "beta", 2_000, TraceState::Error, &[("env", "dev")]).await;
    let c = simple_trace(
        s,
        &exp,
        "alpha",
        3_000,
        TraceState::Ok,
        &[("env", "prod"), ("x", "1")],
    )
    .await;
    let d = simple_trace(s, &other, "gamma", 4_000, TraceState::Ok, &[]).await;

    assert_eq!(
        search(s, &[&exp], "").await,
        [c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        search(s, &[&exp, &other], "").await,
        [d.clone(), c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        search(s, &[&exp], "tags.env = 'prod'").await,
        [c.clone(), a.clone()]
    );
    assert_eq!(search(s, &[&exp], "tags.env != 'prod'").await, one(&b));
    // Equality on values longer than the indexed prefix (200 characters) compares them whole.
    let long = "v".repeat(250);
    let longer = format!("{long}-and-more");
    let e = simple_trace(s, &other, "long", 91_000, TraceState::Ok, &[("big", &long)]).await;
    simple_trace(
        s,
        &other,
        "longer",
        92_000,
        TraceState::Ok,
        &[("big", &longer)],
    )
    .await;
    assert_eq!(
        search(s, &[&other], &format!("tags.big = '{long}'")).await,
        one(&e)
    );
    let short = "w".repeat(199);
    let f = simple_trace(
        s,
        &other,
        "short",
        93_000,
        TraceState::Ok,
        &[("big", &short)],
    )
    .await;
    assert_eq!(
        search(s, &[&other], &format!("tags.big = '{short}'")).await,
        one(&f)
    );
    assert_eq!(
        search(s, &[&exp], "tags.env LIKE 'pr%'").await,
        [c.clone(), a.clone()]
    );
    assert_eq!(
        search(s, &[&exp], "tags.env ILIKE 'PR%'").await,
        [c.clone(), a.clone()]
    );
    assert_eq!(
        search(s, &[&exp], "tags.x IS NULL").await,
        [b.clone(), a.clone()]
    );
    assert_eq!(search(s, &[&exp], "tags.x IS NOT NULL").await, one(&c));
    assert_eq!(search(s, &[&exp], "trace.status = 'ERROR'").await, one(&b));
    assert_eq!(
        search(s, &[&exp], "trace.name = 'alpha'").await,
        [c.clone(), a.clone()]
    );
    assert_eq!(
        search(s, &[&exp], "trace.name IN ('beta', 'zeta')").await,
        one(&b)
    );
    assert_eq!(
        search(s, &[&exp], "trace.timestamp_ms > 1000").await,
        [c.clone(), b.clone()]
    );
    assert_eq!(
        search(
            s,
            &[&exp],
            "trace.timestamp_ms >= 1000 AND trace.timestamp_ms < 3000 AND trace.status = 'OK'"
        )
        .await,
        one(&a)
    );
    assert_eq!(
        search(s, &[&exp], "trace.execution_time_ms = 10")
            .await
            .len(),
        3
    );
    assert_eq!(search(s, &[&exp], "span.name = 'beta'").await, one(&b));
    assert_eq!(search(s, &[&exp], "span.status = 'ERROR'").await, one(&b));
    assert_eq!(search(s, &[&exp], "span.type = 'CHAIN'").await.len(), 3);
    assert_eq!(
        search(s, &[&exp], "tags.env = 'none'").await,
        Vec::<String>::new()
    );

    // Order and pages.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = s
            .search_traces(SearchTracesRequest {
                experiment_ids: vec![exp.clone()],
                order_by: vec!["timestamp_ms ASC".into()],
                max_results: Some(2),
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(ids(&page));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, [a.clone(), b.clone(), c.clone()]);
    let by_tag = s
        .search_traces(SearchTracesRequest {
            experiment_ids: vec![exp.clone()],
            order_by: vec!["tags.env DESC".into(), "trace.name ASC".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&by_tag), [c.clone(), a.clone(), b.clone()]);

    for bad in [
        "trace.nope = 'x'",
        "tags.a IN ('x')",
        "trace.timestamp_ms = 'abc'",
        "foo.x = 'y'",
    ] {
        let err = s
            .search_traces(SearchTracesRequest {
                experiment_ids: vec![exp.clone()],
                filter: bad.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE, "{bad}");
    }
    let err = s
        .search_traces(SearchTracesRequest {
            experiment_ids: vec![exp.clone()],
            max_results: Some(501),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    // Tags.
    s.set_trace_tag(&a, "reviewed".into(), "yes".into())
        .await
        .unwrap();
    assert_eq!(search(s, &[&exp], "tags.reviewed = 'yes'").await, one(&a));
    s.delete_trace_tag(&a, "reviewed").await.unwrap();
    assert!(search(s, &[&exp], "tags.reviewed = 'yes'").await.is_empty());
    let err = s.delete_trace_tag(&a, "reviewed").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    let err = s
        .set_trace_tag("tr-nope", "k".into(), "v".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

pub async fn trace_runs_and_deletion<S: TraceStores>(store: Arc<S>) {
    let s = store.as_ref();
    let exp = experiment(s, "trace-del").await;
    let t: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push(simple_trace(s, &exp, "t", 1_000 * (i + 1), TraceState::Ok, &[]).await);
        }
        v
    };
    let run = s
        .create_run(NewRun {
            experiment_id: Some(exp.clone()),
            user_id: None,
            start_time: Some(1),
            tags: vec![],
            run_name: None,
        })
        .await
        .unwrap()
        .info
        .run_id;
    s.link_traces_to_run(vec![t[1].clone(), t[3].clone()], &run)
        .await
        .unwrap();
    assert_eq!(
        search(s, &[&exp], &format!("trace.run_id = '{run}'")).await,
        [t[3].clone(), t[1].clone()]
    );
    let err = s
        .link_traces_to_run(vec![t[0].clone()], "nope")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    let n = s
        .delete_traces(DeleteTraces {
            experiment_id: exp.clone(),
            trace_ids: vec![t[0].clone(), "tr-unknown".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = s
        .delete_traces(DeleteTraces {
            experiment_id: exp.clone(),
            max_timestamp_millis: Some(4_000),
            max_traces: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(search(s, &[&exp], "").await, [t[4].clone(), t[3].clone()]);
    assert!(s
        .get_traces(vec![t[1].clone()], true)
        .await
        .unwrap()
        .is_empty());
    let err = s
        .delete_traces(DeleteTraces {
            experiment_id: exp.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    // `mlox gc` of the experiment removes its traces.
    s.delete_experiment(&exp).await.unwrap();
    s.hard_delete_experiment(&exp).await.unwrap();
    assert!(s
        .get_traces(vec![t[4].clone()], true)
        .await
        .unwrap()
        .is_empty());
}

pub async fn assessments<S: TraceStores>(store: Arc<S>) {
    let s = store.as_ref();
    let exp = experiment(s, "assess").await;
    let t = simple_trace(s, &exp, "t", 1_000, TraceState::Ok, &[]).await;
    let source = Some(AssessmentSource {
        source_type: "HUMAN".into(),
        source_id: "alice".into(),
    });
    let fb = s
        .create_assessment(Assessment {
            trace_id: t.clone(),
            name: "correct".into(),
            source: source.clone(),
            feedback: Some(serde_json::json!({"value": true})),
            rationale: Some("ok".into()),
            valid: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(fb.assessment_id.starts_with("a-"));
    assert!(fb.create_time_ms > 0);
    let ex = s
        .create_assessment(Assessment {
            trace_id: t.clone(),
            name: "expected".into(),
            source,
            expectation: Some(serde_json::json!({"value": "yes"})),
            valid: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(s.get_assessment(&t, &fb.assessment_id).await.unwrap(), fb);
    let info = s.get_trace_info(&t).await.unwrap();
    assert_eq!(info.assessments, vec![fb.clone(), ex.clone()]);
    assert_eq!(
        search(s, &[&exp], "feedback.correct = 'true'").await,
        one(&t)
    );
    assert_eq!(
        search(s, &[&exp], "expectation.expected = 'yes'").await,
        one(&t)
    );

    let up = s
        .update_assessment(
            &t,
            &fb.assessment_id,
            AssessmentUpdate {
                feedback: Some(serde_json::json!({"value": false})),
                rationale: Some("no".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(up.feedback, Some(serde_json::json!({"value": false})));
    assert_eq!(up.rationale.as_deref(), Some("no"));
    assert_eq!(up.create_time_ms, fb.create_time_ms);
    let err = s
        .update_assessment(
            &t,
            &ex.assessment_id,
            AssessmentUpdate {
                feedback: Some(serde_json::json!({"value": 1})),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    // An override invalidates the original until it is deleted.
    let over = s
        .create_assessment(Assessment {
            trace_id: t.clone(),
            name: "correct".into(),
            feedback: Some(serde_json::json!({"value": true})),
            overrides: Some(fb.assessment_id.clone()),
            valid: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!s.get_assessment(&t, &fb.assessment_id).await.unwrap().valid);
    s.delete_assessment(&t, &over.assessment_id).await.unwrap();
    assert!(s.get_assessment(&t, &fb.assessment_id).await.unwrap().valid);
    let err = s.get_assessment(&t, &over.assessment_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    let err = s
        .create_assessment(Assessment {
            trace_id: "tr-nope".into(),
            name: "x".into(),
            feedback: Some(serde_json::json!({"value": 1})),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}
