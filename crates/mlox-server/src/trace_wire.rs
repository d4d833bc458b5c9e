//! Traces, spans and assessments in MLflow's JSON (`TraceInfoV3`, `Trace`, `Assessment`
//! as `message_to_json` writes them): protobuf `Timestamp`s as RFC 3339 text, `Duration`s
//! as `"1.5s"`, span ids as base64 bytes, OTLP enums by name.

use std::collections::BTreeMap;

use base64::Engine;
use mlox_core::trace::*;
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use crate::otlp::STATUS_CODES;

// ---- time --------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds since the epoch as a protobuf JSON `Timestamp`.
pub fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if millis == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{millis:03}Z")
    }
}

fn bad(field: &str, v: &Value) -> MlflowError {
    MlflowError::invalid(format!("Invalid value {v} for field '{field}'"))
}

/// Parses a protobuf JSON `Timestamp` (RFC 3339) to milliseconds.
pub fn parse_timestamp(field: &str, v: &Value) -> Result<i64, MlflowError> {
    let Value::String(s) = v else {
        return Err(bad(field, v));
    };
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let parsed = (|| {
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &s[19..];
        let mut nanos: i64 = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            nanos = format!("{digits:0<9}").parse().ok()?;
            rest = &frac[digits.len()..];
        }
        let offset_secs = match rest {
            "Z" | "z" => 0,
            o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let oh: i64 = o.get(1..3)?.parse().ok()?;
                let om: i64 = o.get(4..6)?.parse().ok()?;
                sign * (oh * 3600 + om * 60)
            }
            _ => return None,
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
        Some(secs * 1000 + nanos / 1_000_000)
    })();
    parsed.ok_or_else(|| bad(field, v))
}

/// Milliseconds as a protobuf JSON `Duration`.
pub fn duration(ms: i64) -> String {
    let (s, frac) = (ms / 1000, (ms % 1000).abs());
    if frac == 0 {
        format!("{s}s")
    } else if ms < 0 && s == 0 {
        format!("-0.{frac:03}s")
    } else {
        format!("{s}.{frac:03}s")
    }
}

/// Parses a protobuf JSON `Duration` (`"1.5s"`) to milliseconds.
pub fn parse_duration(field: &str, v: &Value) -> Result<i64, MlflowError> {
    let Value::String(s) = v else {
        return Err(bad(field, v));
    };
    let secs: f64 = s
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| bad(field, v))?;
    Ok((secs * 1000.0).round() as i64)
}

// ---- trace info --------------------------------------------------------------------------

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(m)) = v {
        for (k, v) in m {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k.clone(), s);
        }
    }
    out
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

pub fn trace_info(info: &TraceInfo) -> Value {
    let mut m = Map::new();
    m.insert("trace_id".into(), json!(info.trace_id));
    if let Some(c) = &info.client_request_id {
        m.insert("client_request_id".into(), json!(c));
    }
    m.insert(
        "trace_location".into(),
        json!({"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": info.experiment_id}}),
    );
    if let Some(p) = &info.request_preview {
        m.insert("request_preview".into(), json!(p));
    }
    if let Some(p) = &info.response_preview {
        m.insert("response_preview".into(), json!(p));
    }
    m.insert("request_time".into(), json!(timestamp(info.request_time)));
    if let Some(d) = info.execution_duration {
        m.insert("execution_duration".into(), json!(duration(d)));
    }
    m.insert("state".into(), json!(info.state.as_str()));
    if !info.metadata.is_empty() {
        m.insert("trace_metadata".into(), json!(info.metadata));
    }
    if !info.assessments.is_empty() {
        m.insert(
            "assessments".into(),
            Value::Array(info.assessments.iter().map(assessment).collect()),
        );
    }
    if !info.tags.is_empty() {
        m.insert("tags".into(), json!(info.tags));
    }
    Value::Object(m)
}

/// Reads a `TraceInfoV3` object of a `StartTraceV3` request.
pub fn parse_trace_info(v: &Value) -> Result<TraceInfo, MlflowError> {
    let Value::Object(obj) = v else {
        return Err(MlflowError::invalid("Invalid value for field 'trace_info'"));
    };
    let experiment_id = obj
        .get("trace_location")
        .and_then(|l| l.get("mlflow_experiment"))
        .and_then(|e| e.get("experiment_id"))
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .ok_or_else(|| {
            MlflowError::invalid("A trace must be located in an MLflow experiment (trace_location.mlflow_experiment.experiment_id)")
        })?;
    let mut info = TraceInfo {
        trace_id: opt_string(obj, "trace_id").unwrap_or_default(),
        experiment_id,
        client_request_id: opt_string(obj, "client_request_id"),
        request_preview: opt_string(obj, "request_preview"),
        response_preview: opt_string(obj, "response_preview"),
        metadata: string_map(obj.get("trace_metadata")),
        tags: string_map(obj.get("tags")),
        ..Default::default()
    };
    if let Some(t) = obj.get("request_time").filter(|t| !t.is_null()) {
        info.request_time = parse_timestamp("request_time", t)?;
    }
    if let Some(d) = obj.get("execution_duration").filter(|d| !d.is_null()) {
        info.execution_duration = Some(parse_duration("execution_duration", d)?);
    }
    if let Some(s) = obj.get("state").filter(|s| !s.is_null()) {
        let text = match s {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        info.state = TraceState::parse(&text)?;
    }
    if let Some(Value::Array(items)) = obj.get("assessments") {
        for a in items {
            info.assessments.push(parse_assessment(a)?);
        }
    }
    Ok(info)
}

// ---- spans -------------------------------------------------------------------------------

fn b64_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn any_value(v: &AnyValue) -> Value {
    match v {
        AnyValue::Str(s) => json!({"string_value": s}),
        AnyValue::Bool(b) => json!({"bool_value": b}),
        AnyValue::Int(i) => json!({"int_value": i}),
        AnyValue::Double(d) => {
            if d.is_finite() {
                json!({"double_value": d})
            } else if d.is_nan() {
                json!({"double_value": "NaN"})
            } else if *d > 0.0 {
                json!({"double_value": "Infinity"})
            } else {
                json!({"double_value": "-Infinity"})
            }
        }
        AnyValue::Bytes(b) => {
            json!({"bytes_value": base64::engine::general_purpose::STANDARD.encode(b)})
        }
        AnyValue::Array(items) => {
            json!({"array_value": {"values": items.iter().map(any_value).collect::<Vec<_>>()}})
        }
        AnyValue::KvList(kvs) => json!({"kvlist_value": {"values": key_values(kvs)}}),
        AnyValue::Empty => json!({}),
    }
}

fn key_values(kvs: &[KeyValue]) -> Vec<Value> {
    kvs.iter()
        .map(|kv| json!({"key": kv.key, "value": any_value(&kv.value)}))
        .collect()
}

const SPAN_KIND_NAMES: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

/// An OpenTelemetry span as protobuf JSON (`opentelemetry.proto.trace.v1.Span`).
pub fn span(s: &Span) -> Value {
    let mut m = Map::new();
    m.insert("trace_id".into(), json!(b64_hex(&s.trace_id)));
    m.insert("span_id".into(), json!(b64_hex(&s.span_id)));
    if !s.trace_state.is_empty() {
        m.insert("trace_state".into(), json!(s.trace_state));
    }
    if let Some(p) = &s.parent_span_id {
        m.insert("parent_span_id".into(), json!(b64_hex(p)));
    }
    m.insert("name".into(), json!(s.name));
    if s.kind != 0 {
        let kind = usize::try_from(s.kind)
            .ok()
            .and_then(|k| SPAN_KIND_NAMES.get(k))
            .map_or(json!(s.kind), |n| json!(n));
        m.insert("kind".into(), kind);
    }
    m.insert("start_time_unix_nano".into(), json!(s.start_time_unix_nano));
    if s.end_time_unix_nano != 0 {
        m.insert("end_time_unix_nano".into(), json!(s.end_time_unix_nano));
    }
    if !s.attributes.is_empty() {
        m.insert("attributes".into(), Value::Array(key_values(&s.attributes)));
    }
    if !s.events.is_empty() {
        let events = s
            .events
            .iter()
            .map(|e| {
                let mut ev = Map::new();
                ev.insert("time_unix_nano".into(), json!(e.time_unix_nano));
                ev.insert("name".into(), json!(e.name));
                if !e.attributes.is_empty() {
                    ev.insert("attributes".into(), Value::Array(key_values(&e.attributes)));
                }
                Value::Object(ev)
            })
            .collect();
        m.insert("events".into(), Value::Array(events));
    }
    if !s.links.is_empty() {
        let links = s
            .links
            .iter()
            .map(|l| {
                let mut lk = Map::new();
                lk.insert("trace_id".into(), json!(b64_hex(&l.trace_id)));
                lk.insert("span_id".into(), json!(b64_hex(&l.span_id)));
                if !l.trace_state.is_empty() {
                    lk.insert("trace_state".into(), json!(l.trace_state));
                }
                if !l.attributes.is_empty() {
                    lk.insert("attributes".into(), Value::Array(key_values(&l.attributes)));
                }
                Value::Object(lk)
            })
            .collect();
        m.insert("links".into(), Value::Array(links));
    }
    let mut status = Map::new();
    if !s.status_message.is_empty() {
        status.insert("message".into(), json!(s.status_message));
    }
    if s.status_code != 0 {
        let code = usize::try_from(s.status_code)
            .ok()
            .and_then(|c| STATUS_CODES.get(c))
            .map_or(json!(s.status_code), |n| json!(n));
        status.insert("code".into(), code);
    }
    m.insert("status".into(), Value::Object(status));
    Value::Object(m)
}

pub fn trace(t: &Trace) -> Value {
    json!({
        "trace_info": trace_info(&t.info),
        "spans": t.spans.iter().map(span).collect::<Vec<_>>(),
    })
}

// ---- assessments -------------------------------------------------------------------------

pub fn assessment(a: &Assessment) -> Value {
    let mut m = Map::new();
    m.insert("assessment_id".into(), json!(a.assessment_id));
    m.insert("assessment_name".into(), json!(a.name));
    m.insert("trace_id".into(), json!(a.trace_id));
    if let Some(s) = &a.span_id {
        m.insert("span_id".into(), json!(s));
    }
    if let Some(src) = &a.source {
        m.insert(
            "source".into(),
            json!({"source_type": src.source_type, "source_id": src.source_id}),
        );
    }
    m.insert("create_time".into(), json!(timestamp(a.create_time_ms)));
    m.insert(
        "last_update_time".into(),
        json!(timestamp(a.last_update_time_ms)),
    );
    if let Some(f) = &a.feedback {
        m.insert("feedback".into(), f.clone());
    }
    if let Some(e) = &a.expectation {
        m.insert("expectation".into(), e.clone());
    }
    if let Some(r) = &a.rationale {
        m.insert("rationale".into(), json!(r));
    }
    if !a.metadata.is_empty() {
        m.insert("metadata".into(), json!(a.metadata));
    }
    if let Some(o) = &a.overrides {
        m.insert("overrides".into(), json!(o));
    }
    m.insert("valid".into(), json!(a.valid));
    if let Some(r) = &a.run_id {
        m.insert("run_id".into(), json!(r));
    }
    Value::Object(m)
}

/// Reads an `Assessment` object (create requests and start-trace payloads).
pub fn parse_assessment(v: &Value) -> Result<Assessment, MlflowError> {
    let Value::Object(obj) = v else {
        return Err(MlflowError::invalid("Invalid value for field 'assessment'"));
    };
    let source = obj
        .get("source")
        .and_then(Value::as_object)
        .map(|s| AssessmentSource {
            source_type: opt_string(s, "source_type")
                .unwrap_or_else(|| "SOURCE_TYPE_UNSPECIFIED".into()),
            source_id: opt_string(s, "source_id").unwrap_or_default(),
        });
    let mut a = Assessment {
        assessment_id: opt_string(obj, "assessment_id").unwrap_or_default(),
        trace_id: opt_string(obj, "trace_id").unwrap_or_default(),
        name: opt_string(obj, "assessment_name").unwrap_or_default(),
        source,
        feedback: obj.get("feedback").filter(|f| f.is_object()).cloned(),
        expectation: obj.get("expectation").filter(|e| e.is_object()).cloned(),
        rationale: opt_string(obj, "rationale"),
        metadata: string_map(obj.get("metadata")),
        span_id: opt_string(obj, "span_id").filter(|s| !s.is_empty()),
        run_id: opt_string(obj, "run_id").filter(|s| !s.is_empty()),
        overrides: opt_string(obj, "overrides").filter(|s| !s.is_empty()),
        valid: obj.get("valid").and_then(Value::as_bool).unwrap_or(true),
        ..Default::default()
    };
    if let Some(t) = obj.get("create_time").filter(|t| !t.is_null()) {
        a.create_time_ms = parse_timestamp("create_time", t)?;
    }
    if let Some(t) = obj.get("last_update_time").filter(|t| !t.is_null()) {
        a.last_update_time_ms = parse_timestamp("last_update_time", t)?;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for ms in [0, 1_796_615_312_281, 1_796_615_312_000, 951_782_400_123] {
            let s = timestamp(ms);
            assert_eq!(parse_timestamp("t", &json!(s)).unwrap(), ms, "{s}");
        }
        assert_eq!(timestamp(1_796_615_312_281), "2026-12-07T03:48:32.281Z");
        assert_eq!(
            parse_timestamp("t", &json!("2026-12-07T03:48:32.281123456Z")).unwrap(),
            1_796_615_312_281
        );
        assert_eq!(
            parse_timestamp("t", &json!("2026-12-07T04:48:32+01:00")).unwrap(),
            1_796_615_312_000
        );
        assert!(parse_timestamp("t", &json!("yesterday")).is_err());
    }

    #[test]
    fn durations_round_trip() {
        assert_eq!(duration(72), "0.072s");
        assert_eq!(duration(1682), "1.682s");
        assert_eq!(duration(2000), "2s");
        assert_eq!(parse_duration("d", &json!("0.053s")).unwrap(), 53);
        assert_eq!(parse_duration("d", &json!("3s")).unwrap(), 3000);
        assert!(parse_duration("d", &json!("3")).is_err());
    }
}
