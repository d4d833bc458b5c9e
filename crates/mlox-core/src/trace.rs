//! MLflow 3 tracing: traces (trace info, spans) and assessments, the store trait that
//! keeps them, and MLflow's trace search grammar (`trace_search.rs`).
//!
//! Spans are OpenTelemetry spans: attribute values keep their OTLP `AnyValue` types, so a
//! span reads back exactly as it was sent. MLflow's own span attributes (`mlflow.spanInputs`
//! …) are ordinary attributes here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::entities::Page;
use crate::error::{MlflowError, Result};

/// Metadata and tag keys MLflow gives a meaning to.
pub mod keys {
    pub const TRACE_NAME: &str = "mlflow.traceName";
    pub const SOURCE_RUN: &str = "mlflow.sourceRun";
    pub const SPANS_LOCATION: &str = "mlflow.trace.spansLocation";
    pub const SPANS_LOCATION_TRACKING_STORE: &str = "TRACKING_STORE";
    pub const ARTIFACT_LOCATION: &str = "mlflow.artifactLocation";
    pub const INFO_FINALIZED: &str = "mlflow.trace.infoFinalized";
    pub const TOKEN_USAGE: &str = "mlflow.trace.tokenUsage";
    pub const TRACE_USER: &str = "mlflow.trace.user";
    pub const TRACE_SESSION: &str = "mlflow.trace.session";
    pub const SCHEMA_VERSION: &str = "mlflow.trace_schema.version";
    /// Assessment metadata: the run (an evaluation) that produced the assessment.
    pub const ASSESSMENT_SOURCE_RUN_ID: &str = "mlflow.assessment.sourceRunId";
    /// Span attributes.
    pub const SPAN_REQUEST_ID: &str = "mlflow.traceRequestId";
    pub const SPAN_INPUTS: &str = "mlflow.spanInputs";
    pub const SPAN_OUTPUTS: &str = "mlflow.spanOutputs";
    pub const SPAN_TYPE: &str = "mlflow.spanType";
    pub const SPAN_CHAT_USAGE: &str = "mlflow.chat.tokenUsage";
}

/// Previews are cut to this many characters, as MLflow's SQL store does.
pub const MAX_PREVIEW_CHARS: usize = 1000;

/// A trace's state (`TraceInfoV3.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TraceState {
    #[default]
    Unspecified,
    Ok,
    Error,
    InProgress,
}

impl TraceState {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceState::Unspecified => "STATE_UNSPECIFIED",
            TraceState::Ok => "OK",
            TraceState::Error => "ERROR",
            TraceState::InProgress => "IN_PROGRESS",
        }
    }

    /// Parses the enum name or number (protobuf JSON allows both).
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "STATE_UNSPECIFIED" | "0" => TraceState::Unspecified,
            "OK" | "1" => TraceState::Ok,
            "ERROR" | "2" => TraceState::Error,
            "IN_PROGRESS" | "3" => TraceState::InProgress,
            other => {
                return Err(MlflowError::invalid(format!(
                    "Invalid trace state '{other}'"
                )))
            }
        })
    }
}

/// `TraceInfoV3`, for traces located in an MLflow experiment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceInfo {
    /// `tr-` followed by the 32 hex digits of the OpenTelemetry trace id.
    pub trace_id: String,
    pub experiment_id: String,
    pub client_request_id: Option<String>,
    /// Milliseconds since the epoch.
    pub request_time: i64,
    /// Milliseconds.
    pub execution_duration: Option<i64>,
    pub state: TraceState,
    pub request_preview: Option<String>,
    pub response_preview: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub assessments: Vec<Assessment>,
}

/// A trace with its spans, ordered by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub info: TraceInfo,
    pub spans: Vec<Span>,
}

/// An OTLP `AnyValue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AnyValue {
    #[serde(rename = "s")]
    Str(String),
    #[serde(rename = "b")]
    Bool(bool),
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "d")]
    Double(f64),
    #[serde(rename = "y")]
    Bytes(Vec<u8>),
    #[serde(rename = "a")]
    Array(Vec<AnyValue>),
    #[serde(rename = "k")]
    KvList(Vec<KeyValue>),
    /// A value with none of the fields set.
    #[serde(rename = "n")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "v")]
    pub value: AnyValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    #[serde(rename = "t")]
    pub time_unix_nano: u64,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    /// 32 hex digits.
    #[serde(rename = "t")]
    pub trace_id: String,
    /// 16 hex digits.
    #[serde(rename = "s")]
    pub span_id: String,
    #[serde(rename = "ts", default, skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}

/// An OpenTelemetry span (`opentelemetry.proto.trace.v1.Span`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// 32 hex digits.
    #[serde(rename = "t")]
    pub trace_id: String,
    /// 16 hex digits.
    #[serde(rename = "s")]
    pub span_id: String,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    #[serde(rename = "ts", default, skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    #[serde(rename = "n")]
    pub name: String,
    /// `SpanKind` number (0 = unspecified).
    #[serde(rename = "k", default)]
    pub kind: i32,
    #[serde(rename = "b")]
    pub start_time_unix_nano: u64,
    #[serde(rename = "e", default)]
    pub end_time_unix_nano: u64,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    #[serde(rename = "ev", default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<SpanEvent>,
    #[serde(rename = "l", default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<SpanLink>,
    /// `Status.StatusCode` number: 0 unset, 1 OK, 2 error.
    #[serde(rename = "sc", default)]
    pub status_code: i32,
    #[serde(rename = "sm", default, skip_serializing_if = "String::is_empty")]
    pub status_message: String,
}

impl Span {
    pub fn attribute(&self, key: &str) -> Option<&AnyValue> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    /// Sets an attribute, replacing an existing one of the same key.
    pub fn set_attribute(&mut self, key: &str, value: AnyValue) {
        match self.attributes.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = value,
            None => self.attributes.push(KeyValue {
                key: key.to_string(),
                value,
            }),
        }
    }

    /// The MLflow trace id of the span: `tr-` + its OpenTelemetry trace id.
    pub fn mlflow_trace_id(&self) -> String {
        format!("tr-{}", self.trace_id)
    }

    /// MLflow's span type attribute (`mlflow.spanType`), JSON-decoded when it is a JSON string.
    pub fn span_type(&self) -> Option<String> {
        self.attribute(keys::SPAN_TYPE)
            .map(AnyValue::as_plain_string)
    }
}

impl AnyValue {
    /// The value as text the way MLflow stores span attributes (`json.dumps` of the
    /// decoded value), for previews and metadata.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            AnyValue::Str(s) => Value::String(s.clone()),
            AnyValue::Bool(b) => Value::Bool(*b),
            AnyValue::Int(i) => Value::from(*i),
            AnyValue::Double(d) => serde_json::Number::from_f64(*d)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            AnyValue::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            AnyValue::Array(items) => Value::Array(items.iter().map(AnyValue::to_json).collect()),
            AnyValue::KvList(kvs) => Value::Object(
                kvs.iter()
                    .map(|kv| (kv.key.clone(), kv.value.to_json()))
                    .collect(),
            ),
            AnyValue::Empty => Value::Null,
        }
    }

    /// A string as it is, a string holding a JSON string decoded once, anything else as
    /// JSON text.
    pub fn as_plain_string(&self) -> String {
        match self {
            AnyValue::Str(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(serde_json::Value::String(inner)) => inner,
                _ => s.clone(),
            },
            other => other.to_json().to_string(),
        }
    }
}

/// Who made an assessment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AssessmentSource {
    pub source_type: String,
    pub source_id: String,
}

/// An assessment of a trace: feedback (a judgement, possibly an error) or an expectation
/// (a ground truth). Their values are kept as the JSON the client sent (`Feedback` /
/// `Expectation` messages), which the store does not interpret.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Assessment {
    pub assessment_id: String,
    pub trace_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<AssessmentSource>,
    pub create_time_ms: i64,
    pub last_update_time_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The id of the assessment this one replaces (which becomes invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    pub valid: bool,
}

/// The fields an update changes (MLflow's `update_mask`); `None` keeps the stored value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssessmentUpdate {
    pub name: Option<String>,
    pub feedback: Option<serde_json::Value>,
    pub expectation: Option<serde_json::Value>,
    pub rationale: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub valid: Option<bool>,
}

/// A search of traces (`SearchTracesV3`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchTracesRequest {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// Which traces `delete_traces` removes: the given ids, or the oldest traces of the
/// experiment (older than `max_timestamp_millis`, at most `max_traces`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteTraces {
    pub experiment_id: String,
    pub max_timestamp_millis: Option<i64>,
    pub max_traces: Option<i64>,
    pub trace_ids: Vec<String>,
}

/// Traces and their assessments (MLflow 3 GenAI), kept in the tracking store.
///
/// Contract: as [`crate::store::TrackingStore`]. Spans may arrive before or after the
/// trace info (`log_spans` and `start_trace` in either order, as MLflow's client sends
/// them); both merge into one trace. A span logged twice keeps its last version.
#[async_trait]
pub trait TraceStore: Send + Sync + 'static {
    /// Stores spans of one or more traces in `experiment_id`, creating the trace info of a
    /// trace not yet known from its spans (time, duration, state, name, previews).
    async fn log_spans(&self, experiment_id: &str, spans: Vec<Span>) -> Result<()>;
    /// Creates or completes a trace's info (`StartTraceV3`); returns it as stored.
    async fn start_trace(&self, info: TraceInfo) -> Result<TraceInfo>;
    async fn get_trace_info(&self, trace_id: &str) -> Result<TraceInfo>;
    /// The traces found among `trace_ids`, with their spans, in the order asked.
    async fn get_traces(&self, trace_ids: Vec<String>, with_spans: bool) -> Result<Vec<Trace>>;
    async fn search_traces(&self, req: SearchTracesRequest) -> Result<Page<TraceInfo>>;
    async fn set_trace_tag(&self, trace_id: &str, key: String, value: String) -> Result<()>;
    async fn delete_trace_tag(&self, trace_id: &str, key: &str) -> Result<()>;
    /// Returns how many traces were deleted.
    async fn delete_traces(&self, req: DeleteTraces) -> Result<i64>;
    async fn link_traces_to_run(&self, trace_ids: Vec<String>, run_id: &str) -> Result<()>;

    async fn create_assessment(&self, assessment: Assessment) -> Result<Assessment>;
    async fn get_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<Assessment>;
    async fn update_assessment(
        &self,
        trace_id: &str,
        assessment_id: &str,
        update: AssessmentUpdate,
    ) -> Result<Assessment>;
    async fn delete_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<()>;
}

/// `json.dumps(value)` as Python writes it (`", "` and `": "` separators, non-ASCII
/// escaped): MLflow's previews and assessment values are written this way.
pub fn python_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

/// [`python_json`] of the decoded OTLP value, keeping the order of key-value lists.
pub fn python_json_any(value: &AnyValue) -> String {
    let mut out = String::new();
    write_any(&mut out, value);
    out
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_seq<T>(
    out: &mut String,
    items: &[T],
    open: char,
    close: char,
    mut f: impl FnMut(&mut String, &T),
) {
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        f(out, item);
    }
    out.push(close);
}

fn write_float(out: &mut String, d: f64) {
    if d.is_nan() {
        out.push_str("NaN");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // `json.dumps` writes a float as its `repr`: `1.0`, `1e-05`, `1e+16`.
        out.push_str(&crate::validation::py_float_repr(d));
    }
}

fn write_json(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => write_float(out, f),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_str(out, s),
        Value::Array(items) => write_seq(out, items, '[', ']', write_json),
        Value::Object(map) => {
            let entries: Vec<_> = map.iter().collect();
            write_seq(out, &entries, '{', '}', |out, (k, item)| {
                write_str(out, k);
                out.push_str(": ");
                write_json(out, item);
            });
        }
    }
}

fn write_any(out: &mut String, v: &AnyValue) {
    match v {
        AnyValue::Str(s) => write_str(out, s),
        AnyValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AnyValue::Int(i) => out.push_str(&i.to_string()),
        AnyValue::Double(d) => write_float(out, *d),
        AnyValue::Bytes(b) => write_str(out, &String::from_utf8_lossy(b)),
        AnyValue::Array(items) => write_seq(out, items, '[', ']', write_any),
        AnyValue::KvList(kvs) => write_seq(out, kvs, '{', '}', |out, kv| {
            write_str(out, &kv.key);
            out.push_str(": ");
            write_any(out, &kv.value);
        }),
        AnyValue::Empty => out.push_str("null"),
    }
}

/// A preview of a trace's request or response from its root span's inputs or outputs,
/// cut to [`MAX_PREVIEW_CHARS`] as MLflow cuts it.
pub fn preview(value: &AnyValue) -> String {
    let text = python_json_any(value);
    if text.chars().count() <= MAX_PREVIEW_CHARS {
        text
    } else {
        let mut cut: String = text.chars().take(MAX_PREVIEW_CHARS - 3).collect();
        cut.push_str("...");
        cut
    }
}
