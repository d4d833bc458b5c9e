//! The trace scenarios (bench/traces): the requests MLflow 3.17's Python client sends for
//! a trace, and a search over many traces.
//!
//! What the client sends for one trace of 10 spans, captured against both servers
//! (`@mlflow.trace` functions, default settings): its `BatchSpanProcessor` hands the
//! exporter batches of at most `MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE` (5) ended
//! spans, each sent as one OTLP/HTTP protobuf request `POST /v1/traces` with the header
//! `x-mlflow-experiment-id`; when the batch holding the root span is exported, the trace
//! info follows as `POST /api/3.0/mlflow/traces` (start-trace, JSON). So a trace of 10
//! spans is two OTLP requests of 5 spans and one start-trace. If the start-trace answer
//! did not say the spans are in the tracking store (`mlflow.trace.spansLocation =
//! TRACKING_STORE`), the client would also upload the spans as an artifact; the
//! scenario counts such answers (`artifact_uploads_needed`) rather than hiding them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::http::{self, now_ms, Api};
use crate::otlp::{self, Any, SpanOut};
use crate::scenarios::fan_out;
use crate::stats::{median_ms, round3, summary, Errors};

pub const START_TRACE: &str = "/api/3.0/mlflow/traces";
pub const SEARCH_TRACES: &str = "/api/3.0/mlflow/traces/search";
pub const BATCH_GET_TRACES: &str = "/api/3.0/mlflow/traces/batchGet";
pub const OTLP_TRACES: &str = "/v1/traces";

/// The client's default OTLP batch (MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE).
const CLIENT_BATCH: usize = 5;

/// Request times of seeded traces start here (ms), one millisecond apart.
pub const SEED_T0_MS: u64 = 1_764_000_000_000;

/// "2025-11-24T16:00:00.000Z" from Unix milliseconds (UTC).
pub fn rfc3339_ms(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        write!(s, "{x:02x}").unwrap();
    }
    s
}

/// MLflow's trace id for an OpenTelemetry trace id.
pub fn trace_id_of(otel: &[u8; 16]) -> String {
    format!("tr-{}", hex(otel))
}

/// What a start-trace body says about its trace.
struct InfoBody<'a> {
    trace_id: &'a str,
    experiment_id: &'a str,
    request_ms: u64,
    duration_ms: u64,
    name: &'a str,
    inputs: &'a str,
    outputs: &'a str,
    spans: usize,
    tags: &'a [(String, String)],
}

/// The start-trace body the client sends (its metadata keys, previews and the trace name
/// tag), with `tags` added.
fn start_trace_body(b: InfoBody) -> String {
    let InfoBody {
        trace_id,
        experiment_id,
        request_ms,
        duration_ms,
        name,
        inputs,
        outputs,
        spans,
        tags,
    } = b;
    let size = 540 * spans;
    let mut tag_map = serde_json::Map::new();
    tag_map.insert("mlflow.traceName".into(), json!(name));
    for (k, v) in tags {
        tag_map.insert(k.clone(), json!(v));
    }
    json!({"trace": {"trace_info": {
        "trace_id": trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}},
        "request_time": rfc3339_ms(request_ms),
        "execution_duration": format!("{:.3}s", duration_ms as f64 / 1000.0),
        "state": "OK",
        "trace_metadata": {
            "mlflow.traceInputs": inputs,
            "mlflow.traceOutputs": outputs,
            "mlflow.source.git.branch": "",
            "mlflow.trace_schema.version": "3",
            "mlflow.source.type": "LOCAL",
            "mlflow.source.name": "agent.py",
            "mlflow.user": "bench",
            "mlflow.trace.sizeStats": format!("{{\"total_size_bytes\": {size}, \"num_spans\": {spans}, \"max\": 553, \"p25\": 535, \"p50\": 535, \"p75\": 536}}"),
            "mlflow.trace.sizeBytes": size.to_string(),
            "mlflow.source.git.commit": "",
            "mlflow.source.git.repoURL": "",
        },
        "tags": tag_map,
        "request_preview": inputs,
        "response_preview": outputs,
    }}})
    .to_string()
}

/// One trace of `n` spans as the client sends it: the OTLP bodies (batches of 5 ended
/// spans, the root last) and the start-trace body.
struct TraceRequests {
    trace_id: String,
    otlp: Vec<Vec<u8>>,
    start: String,
}

fn ten_span_trace(rng: &mut StdRng, experiment_id: &str, n: usize) -> TraceRequests {
    let otel: [u8; 16] = rng.gen();
    let trace_id = trace_id_of(&otel);
    let root_id: [u8; 8] = rng.gen();
    let t0 = now_ms() * 1_000_000;
    let question = format!("{{\"question\": \"what is {}?\"}}", rng.gen::<u32>());
    let answer = "\"[0, 2, 4, 6, 8, 10, 12, 14, 16]\"";
    let child_inputs: Vec<String> = (0..n.saturating_sub(1)).map(|k| k.to_string()).collect();
    let mut spans: Vec<SpanOut> = Vec::with_capacity(n);
    for (k, _) in child_inputs.iter().enumerate() {
        let start = t0 + 1_000_000 + k as u64 * 300_000;
        spans.push(SpanOut {
            trace_id: otel,
            span_id: rng.gen(),
            parent: Some(root_id),
            name: "child",
            start_ns: start,
            end_ns: start + 250_000,
            attributes: vec![
                ("mlflow.traceRequestId", Any::Str(&trace_id)),
                ("mlflow.spanType", Any::Str("UNKNOWN")),
                ("mlflow.spanFunctionName", Any::Str("child")),
                (
                    "mlflow.spanInputs",
                    Any::Map(vec![("i", Any::Int(k as i64))]),
                ),
                ("mlflow.spanOutputs", Any::Int(2 * k as i64)),
                ("mlflow.spanLogLevel", Any::Int(10)),
            ],
            error: false,
        });
    }
    let end = t0 + 1_000_000 + n as u64 * 300_000 + 500_000;
    spans.push(SpanOut {
        trace_id: otel,
        span_id: root_id,
        parent: None,
        name: "agent",
        start_ns: t0,
        end_ns: end,
        attributes: vec![
            ("mlflow.traceRequestId", Any::Str(&trace_id)),
            ("mlflow.spanType", Any::Str("AGENT")),
            ("mlflow.spanFunctionName", Any::Str("agent")),
            ("mlflow.spanInputs", Any::Str(&question)),
            ("mlflow.spanOutputs", Any::Str(answer)),
            ("mlflow.spanLogLevel", Any::Int(10)),
        ],
        error: false,
    });
    let otlp = spans
        .chunks(CLIENT_BATCH)
        .map(otlp::export_request)
        .collect();
    let start = start_trace_body(InfoBody {
        trace_id: &trace_id,
        experiment_id,
        request_ms: t0 / 1_000_000,
        duration_ms: (end - t0) / 1_000_000,
        name: "agent",
        inputs: &question,
        outputs: answer,
        spans: n,
        tags: &[],
    });
    TraceRequests {
        trace_id,
        otlp,
        start,
    }
}

fn spans_in_store(start_answer: &[u8]) -> Result<bool> {
    let v: Value = serde_json::from_slice(start_answer).context("start-trace answer")?;
    Ok(
        v.pointer("/trace/trace_info/tags/mlflow.trace.spansLocation")
            .and_then(Value::as_str)
            == Some("TRACKING_STORE"),
    )
}

/// Spans of a trace read back with batchGet (as `mlflow.search_traces` reads them).
async fn span_count(api: &Api, trace_id: &str) -> Result<usize> {
    let v = api
        .get_json(&format!(
            "{BATCH_GET_TRACES}?trace_ids={}",
            http::url_encode(trace_id)
        ))
        .await?;
    let t = v
        .pointer("/traces/0")
        .ok_or_else(|| anyhow!("batchGet: no trace {trace_id}: {}", http::short(&v)))?;
    Ok(t.get("spans")
        .or_else(|| t.pointer("/data/spans"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len))
}

/// trace-ingest: `concurrency` clients each log traces of `spans` spans back to back
/// (two OTLP requests and one start-trace per trace, in the client's order).
pub async fn ingest(
    api: &Api,
    experiment_name: &str,
    spans: usize,
    concurrency: usize,
    seconds: f64,
    count: Option<u64>,
) -> Result<Value> {
    let exp = api.experiment_id(experiment_name, true).await?;
    // One untimed trace first: a server's first trace pays for lazy start-up work (MLflow
    // imports its tracing modules on the first OTLP request).
    let mut rng = StdRng::seed_from_u64(now_ms());
    let warm = ten_span_trace(&mut rng, &exp, spans);
    for body in warm.otlp {
        api.post_bytes(OTLP_TRACES, body, "application/x-protobuf", &exp)
            .await?;
    }
    api.post(START_TRACE, warm.start).await?;
    let remaining = Arc::new(AtomicI64::new(count.map_or(i64::MAX, |n| n as i64)));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut handles = Vec::new();
    for w in 0..concurrency.max(1) {
        let api = api.clone();
        let exp = exp.clone();
        let remaining = remaining.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(now_ms() ^ (w as u64) << 40);
            let mut lat = Vec::with_capacity(4096);
            let mut errors = Errors::default();
            let mut uploads = 0u64;
            let mut last = None;
            while Instant::now() < deadline && remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
                let t = ten_span_trace(&mut rng, &exp, spans);
                let t0 = Instant::now();
                let r: Result<Vec<u8>> = async {
                    for body in &t.otlp {
                        api.post_bytes(OTLP_TRACES, body.clone(), "application/x-protobuf", &exp)
                            .await?;
                    }
                    api.post(START_TRACE, t.start.clone()).await
                }
                .await;
                let dt = t0.elapsed().as_micros() as u64;
                match r.and_then(|answer| spans_in_store(&answer)) {
                    Ok(in_store) => {
                        lat.push(dt);
                        uploads += u64::from(!in_store);
                        last = Some(t.trace_id);
                    }
                    Err(e) => errors.add(&e),
                }
            }
            (lat, errors, uploads, last)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = Errors::default();
    let mut uploads = 0;
    let mut sample = None;
    for h in handles {
        let (l, e, u, last) = h.await?;
        lat.extend(l);
        errors.merge(e);
        uploads += u;
        sample = sample.or(last);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let traces = lat.len() as u64;
    // Read one trace back: a fast answer that lost the spans must not count.
    let mut read_back = Value::Null;
    if let Some(id) = &sample {
        match span_count(api, id).await {
            Ok(n) => {
                read_back = json!(n);
                if n != spans {
                    errors.add_msg(format!(
                        "trace {id} read back with {n} spans, expected {spans}"
                    ));
                }
            }
            Err(e) => errors.add(&e),
        }
    }
    Ok(json!({
        "scenario": "trace-ingest",
        "experiment_id": exp,
        "spans_per_trace": spans,
        "requests_per_trace": spans.div_ceil(CLIENT_BATCH) + 1,
        "concurrency": concurrency,
        "seconds": round3(elapsed),
        "traces": traces,
        "traces_per_s": round3(traces as f64 / elapsed),
        "spans_per_s": round3((traces * spans as u64) as f64 / elapsed),
        "latency_ms": summary(&mut lat),
        "artifact_uploads_needed": uploads,
        "sample_trace": sample,
        "sample_spans_read_back": read_back,
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}

/// The deterministic content of seeded trace `i` (the same on every server): its ids,
/// request time, and tags `customer` (10 values) and `env` (3 values).
pub struct SeedTrace {
    pub trace_id: String,
    pub request_ms: u64,
    pub tags: Vec<(String, String)>,
}

pub fn seed_trace(i: u64) -> SeedTrace {
    let mut r = StdRng::seed_from_u64(0x7472_6163_6500 ^ i);
    let otel: [u8; 16] = r.gen();
    SeedTrace {
        trace_id: trace_id_of(&otel),
        request_ms: SEED_T0_MS + i,
        tags: vec![
            ("customer".into(), format!("customer-{}", i % 10)),
            (
                "env".into(),
                ["prod", "staging", "dev"][(i % 3) as usize].into(),
            ),
        ],
    }
}

impl SeedTrace {
    pub fn to_json(&self, i: u64) -> Value {
        json!({
            "i": i,
            "trace_id": self.trace_id,
            "timestamp_ms": self.request_ms,
            "tags": Value::Object(self.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
        })
    }
}

/// seed-traces: start-trace for traces `offset..offset+traces` (trace infos with the
/// client's metadata and two tags; no spans: a search reads trace infos only).
pub async fn seed(
    api: &Api,
    experiment_name: &str,
    offset: u64,
    traces: u64,
    concurrency: usize,
) -> Result<Value> {
    let exp = api.experiment_id(experiment_name, true).await?;
    let (secs, errors) = {
        let api = api.clone();
        let exp = exp.clone();
        fan_out(traces, concurrency, move |k| {
            let api = api.clone();
            let i = offset + k;
            let t = seed_trace(i);
            let body = start_trace_body(InfoBody {
                trace_id: &t.trace_id,
                experiment_id: &exp,
                request_ms: t.request_ms,
                duration_ms: 40 + i % 200,
                name: "agent",
                inputs: &format!("{{\"question\": \"question {i}\"}}"),
                outputs: &format!("\"answer {i}\""),
                spans: 10,
                tags: &t.tags,
            });
            async move { api.post_discard(START_TRACE, body).await.map(|_| ()) }
        })
        .await
    };
    Ok(json!({
        "scenario": "seed-traces",
        "experiment_id": exp,
        "offset": offset,
        "traces": traces,
        "concurrency": concurrency,
        "seed_s": round3(secs),
        "traces_per_s": round3(traces as f64 / secs),
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}

/// The first page `search` must return: the newest traces of `0..traces` whose tag
/// `customer` is `customer`, newest first.
fn expected_page(traces: u64, customer: u64, max_results: u64) -> Vec<String> {
    (0..traces)
        .rev()
        .filter(|i| i % 10 == customer)
        .take(max_results as usize)
        .map(|i| seed_trace(i).trace_id)
        .collect()
}

/// search-traces: the client's `search_traces` request (locations, filter, max_results; no
/// order_by, so newest first) for `tags.customer = 'customer-<customer>'`, `repeat`
/// times; every page is checked against the seeded data.
pub async fn search(
    api: &Api,
    experiment_name: &str,
    traces: u64,
    customer: u64,
    max_results: u64,
    repeat: usize,
) -> Result<Value> {
    let exp = api.experiment_id(experiment_name, false).await?;
    let filter = format!("tags.customer = 'customer-{customer}'");
    let body = json!({
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}],
        "filter": filter,
        "max_results": max_results,
    })
    .to_string();
    let expect = expected_page(traces, customer, max_results);
    let mut errors = Errors::default();
    let page = |bytes: &[u8]| -> Result<Vec<String>> {
        let v: Value = serde_json::from_slice(bytes)?;
        let list = v.get("traces").and_then(Value::as_array);
        Ok(list
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.get("trace_id").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    };
    let t0 = Instant::now();
    let first = api.post(SEARCH_TRACES, body.clone()).await?;
    let first_us = t0.elapsed().as_micros() as u64;
    if page(&first)? != expect {
        bail!(
            "traces/search: the first page is not the {} newest traces of customer-{customer} (got {} traces)",
            expect.len(),
            page(&first)?.len()
        );
    }
    let mut times = Vec::new();
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        match api.post(SEARCH_TRACES, body.clone()).await {
            Ok(bytes) => {
                let us = t0.elapsed().as_micros() as u64;
                match page(&bytes) {
                    Ok(ids) if ids == expect => times.push(us),
                    Ok(ids) => errors.add_msg(format!("wrong page ({} traces)", ids.len())),
                    Err(e) => errors.add(&e),
                }
            }
            Err(e) => errors.add(&e),
        }
    }
    let mut sorted = times.clone();
    Ok(json!({
        "scenario": "search-traces",
        "experiment_id": exp,
        "traces_seeded": traces,
        "filter": filter,
        "max_results": max_results,
        "matches_total": (0..traces).filter(|i| i % 10 == customer).count(),
        "page_traces": expect.len(),
        "repeat": repeat,
        "first_ms": round3(first_us as f64 / 1000.0),
        "median_ms": median_ms(&times),
        "latency_ms": summary(&mut sorted),
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}

/// seed-big-trace: one trace of `spans` spans (a root, 99 steps, the rest LLM and tool
/// calls under the steps, each with a few hundred bytes of inputs and outputs), sent over
/// OTLP in requests of `batch` spans, then its start-trace. Prints its ids.
pub async fn big_trace(
    api: &Api,
    experiment_name: &str,
    spans: usize,
    batch: usize,
) -> Result<Value> {
    let exp = api.experiment_id(experiment_name, true).await?;
    let mut rng = StdRng::seed_from_u64(0x6269_6774);
    let otel: [u8; 16] = rng.gen();
    let trace_id = trace_id_of(&otel);
    let ids: Vec<[u8; 8]> = (0..spans).map(|_| rng.gen()).collect();
    let steps = 99.min(spans.saturating_sub(1));
    let t0 = now_ms() * 1_000_000 - spans as u64 * 10_000_000;
    let prompt = "You are a helpful assistant. Answer the user's question using the tools you have; cite the documents you used and keep the answer short. ".repeat(2);
    let reply = "The answer, according to the retrieved documents, is that the quarterly figures grew by four percent over the previous quarter. ".repeat(2);
    let names: Vec<String> = (0..spans)
        .map(|i| match i {
            0 => "agent".to_string(),
            i if i <= steps => format!("step-{i}"),
            i if i % 3 == 0 => "search_documents".to_string(),
            _ => "ChatModel.invoke".to_string(),
        })
        .collect();
    // Leaf i hangs under step 1 + (i - steps - 1) % steps; each leaf lasts 10 ms.
    let parent = |i: usize| -> Option<usize> {
        match i {
            0 => None,
            i if i <= steps => Some(0),
            i => Some(1 + (i - steps - 1) % steps.max(1)),
        }
    };
    let leaf_start = |i: usize| t0 + (i as u64) * 10_000_000;
    let mut out: Vec<SpanOut> = Vec::with_capacity(spans);
    for i in 0..spans {
        let (start, end) = match i {
            0 => (t0, t0 + (spans as u64 + 1) * 10_000_000),
            i if i <= steps => {
                let mine: Vec<usize> = (steps + 1..spans)
                    .filter(|&l| parent(l) == Some(i))
                    .collect();
                let s = mine.first().map_or(t0 + 1, |&l| leaf_start(l) - 1_000);
                let e = mine
                    .last()
                    .map_or(s + 1_000, |&l| leaf_start(l) + 9_000_000);
                (s, e)
            }
            i => (leaf_start(i), leaf_start(i) + 9_000_000),
        };
        let kind = match i {
            0 => "AGENT",
            i if i <= steps => "CHAIN",
            i if i % 3 == 0 => "RETRIEVER",
            _ => "CHAT_MODEL",
        };
        out.push(SpanOut {
            trace_id: otel,
            span_id: ids[i],
            parent: parent(i).map(|p| ids[p]),
            name: &names[i],
            start_ns: start,
            end_ns: end,
            attributes: vec![
                ("mlflow.traceRequestId", Any::Str(&trace_id)),
                ("mlflow.spanType", Any::Str(kind)),
                (
                    "mlflow.spanInputs",
                    Any::Map(vec![("prompt", Any::Str(&prompt))]),
                ),
                ("mlflow.spanOutputs", Any::Str(&reply)),
            ],
            error: false,
        });
    }
    let t = Instant::now();
    // Leaves first, then steps, root last: the order in which spans end.
    let mut order: Vec<usize> = (steps + 1..spans).collect();
    order.extend(1..=steps);
    order.push(0);
    let ordered: Vec<&SpanOut> = order.iter().map(|&i| &out[i]).collect();
    for chunk in ordered.chunks(batch.max(1)) {
        let owned: Vec<SpanOut> = chunk.iter().map(|s| (*s).clone()).collect();
        api.post_bytes(
            OTLP_TRACES,
            otlp::export_request(&owned),
            "application/x-protobuf",
            &exp,
        )
        .await?;
    }
    let root = &out[0];
    let body = start_trace_body(InfoBody {
        trace_id: &trace_id,
        experiment_id: &exp,
        request_ms: root.start_ns / 1_000_000,
        duration_ms: (root.end_ns - root.start_ns) / 1_000_000,
        name: "agent",
        inputs: "{\"question\": \"how did the quarter go?\"}",
        outputs: "\"four percent up\"",
        spans,
        tags: &[],
    });
    api.post(START_TRACE, body).await?;
    let seed_s = t.elapsed().as_secs_f64();
    let n = span_count(api, &trace_id).await?;
    if n != spans {
        bail!("the big trace read back with {n} spans, expected {spans}");
    }
    Ok(json!({
        "scenario": "seed-big-trace",
        "experiment_id": exp,
        "trace_id": trace_id,
        "spans": spans,
        "otlp_batch": batch,
        "seed_s": round3(seed_s),
        "errors": 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(SEED_T0_MS + 7), "2025-11-24T16:00:00.007Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }

    #[test]
    fn expected_pages_are_newest_first() {
        let p = expected_page(100, 7, 3);
        assert_eq!(p, [97, 87, 77].map(|i| seed_trace(i).trace_id));
    }
}
