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

/// Milliseconds since the epoch as a protobuf JSON `Timestamp`: UTC, `Z`, the
/// milliseconds only when there are some.
pub fn timestamp(ms: i64) -> String {
    // Beyond chrono's range (±262,000 years, far outside a protobuf Timestamp's years
    // 1 to 9999) the nearest time it has.
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        chrono::DateTime::<chrono::Utc>::MIN_UTC
    } else {
        chrono::DateTime::<chrono::Utc>::MAX_UTC
    });
    if ms.rem_euclid(1000) == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

fn bad(field: &str, v: &Value) -> MlflowError {
    MlflowError::invalid(format!("Invalid value {v} for field '{field}'"))
}

/// Parses a protobuf JSON `Timestamp` (RFC 3339: a `T` between date and time, at most
/// nine fractional digits, `Z` or an offset) to milliseconds.
pub fn parse_timestamp(field: &str, v: &Value) -> Result<i64, MlflowError> {
    let Value::String(s) = v else {
        return Err(bad(field, v));
    };
    let fraction_digits = s
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map_or(0, |f| f.bytes().take_while(u8::is_ascii_digit).count());
    if s.as_bytes().get(10) != Some(&b'T') || fraction_digits > 9 {
        return Err(bad(field, v));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| bad(field, v))
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

    /// The bytes the hand-written civil-date code gave before chrono replaced it (checked
    /// equal on 200,000 random times, years 0 to 9999, with offsets, when it was replaced).
    #[test]
    fn timestamps_as_before_chrono() {
        for (ms, text) in [
            (-1, "1969-12-31T23:59:59.999Z"),
            (-500, "1969-12-31T23:59:59.500Z"),
            (-1000, "1969-12-31T23:59:59Z"),
            (-86_400_001, "1969-12-30T23:59:59.999Z"),
            (-62_135_596_800_000, "0001-01-01T00:00:00Z"),
            (-2_208_988_800_123, "1899-12-31T23:59:59.877Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(timestamp(ms), text);
            assert_eq!(parse_timestamp("t", &json!(text)).unwrap(), ms, "{text}");
        }
        for (text, ms) in [
            ("1969-12-31T23:59:59.5Z", -500),
            ("2000-02-29T23:30:00-01:30", 951_872_400_000),
            ("1900-01-01T00:00:00.000000001+14:00", -2_209_039_200_000),
            ("9999-12-31T23:59:59.999999999-00:00", 253_402_300_799_999),
            ("2024-01-01T00:00:60Z", 1_704_067_260_000),
            ("2026-12-07T03:48:32z", 1_796_615_312_000),
        ] {
            assert_eq!(parse_timestamp("t", &json!(text)).unwrap(), ms, "{text}");
        }
        for text in [
            "2026-12-07t03:48:32Z",
            "2026-12-07 03:48:32Z",
            "2026-12-07T03:48:32.Z",
            "2026-12-07T03:48:32.1234567891Z",
            "2026-12-07T03:48:32+0100",
            "2026-12-07T03:48:32",
        ] {
            assert!(parse_timestamp("t", &json!(text)).is_err(), "{text}");
        }
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
