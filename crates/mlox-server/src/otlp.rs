//! OTLP/HTTP trace payloads (`ExportTraceServiceRequest`): a small protobuf reader for
//! the binary encoding and a reader of the OTLP JSON encoding (hex ids, camelCase or
//! snake_case names, 64-bit integers as strings or numbers), both to [`Span`]s.
//!
//! Only the fields a span needs are read; unknown fields are skipped, as protobuf
//! parsers do. A malformed payload is an error and yields no span at all.

use base64::Engine;
use mlox_core::trace::{AnyValue, KeyValue, Span, SpanEvent, SpanLink};
use serde_json::Value;

/// Why a payload could not be read.
#[derive(Debug)]
pub struct OtlpError(pub String);

type R<T> = Result<T, OtlpError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(OtlpError(msg.into()))
}

// ---- protobuf ----------------------------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> R<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return err("truncated varint");
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("varint too long")
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return err("truncated field");
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field number and value, or `None` at the end.
    fn next(&mut self) -> R<Option<(u32, Field<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = (key >> 3) as u32;
        if number == 0 {
            return err("field number 0");
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or([0; 8]),
            )),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| OtlpError("length".into()))?;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            w => return err(format!("unsupported wire type {w}")),
        };
        Ok(Some((number, field)))
    }
}

fn bytes<'a>(f: Field<'a>) -> R<&'a [u8]> {
    match f {
        Field::Bytes(b) => Ok(b),
        _ => err("expected a length-delimited field"),
    }
}

fn string(f: Field<'_>) -> R<String> {
    String::from_utf8(bytes(f)?.to_vec()).map_err(|_| OtlpError("invalid UTF-8 in a string".into()))
}

fn varint(f: Field<'_>) -> R<u64> {
    match f {
        Field::Varint(v) => Ok(v),
        _ => err("expected a varint field"),
    }
}

fn fixed64(f: Field<'_>) -> R<u64> {
    match f {
        Field::Fixed64(v) => Ok(v),
        _ => err("expected a fixed64 field"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn pb_any(buf: &[u8], depth: u32) -> R<AnyValue> {
    if depth > 64 {
        return err("values nested too deeply");
    }
    let mut r = Reader::new(buf);
    let mut v = AnyValue::Empty;
    while let Some((n, f)) = r.next()? {
        v = match n {
            1 => AnyValue::Str(string(f)?),
            2 => AnyValue::Bool(varint(f)? != 0),
            3 => AnyValue::Int(varint(f)? as i64),
            4 => AnyValue::Double(f64::from_bits(fixed64(f)?)),
            5 => {
                let mut items = Vec::new();
                let mut a = Reader::new(bytes(f)?);
                while let Some((n, f)) = a.next()? {
                    if n == 1 {
                        items.push(pb_any(bytes(f)?, depth + 1)?);
                    }
                }
                AnyValue::Array(items)
            }
            6 => {
                let mut kvs = Vec::new();
                let mut a = Reader::new(bytes(f)?);
                while let Some((n, f)) = a.next()? {
                    if n == 1 {
                        kvs.push(pb_kv(bytes(f)?, depth + 1)?);
                    }
                }
                AnyValue::KvList(kvs)
            }
            7 => AnyValue::Bytes(bytes(f)?.to_vec()),
            _ => continue,
        };
    }
    Ok(v)
}

fn pb_kv(buf: &[u8], depth: u32) -> R<KeyValue> {
    let mut r = Reader::new(buf);
    let (mut key, mut value) = (String::new(), AnyValue::Empty);
    while let Some((n, f)) = r.next()? {
        match n {
            1 => key = string(f)?,
            2 => value = pb_any(bytes(f)?, depth)?,
            _ => {}
        }
    }
    Ok(KeyValue { key, value })
}

fn pb_event(buf: &[u8]) -> R<SpanEvent> {
    let mut r = Reader::new(buf);
    let mut e = SpanEvent {
        time_unix_nano: 0,
        name: String::new(),
        attributes: vec![],
    };
    while let Some((n, f)) = r.next()? {
        match n {
            1 => e.time_unix_nano = fixed64(f)?,
            2 => e.name = string(f)?,
            3 => e.attributes.push(pb_kv(bytes(f)?, 0)?),
            _ => {}
        }
    }
    Ok(e)
}

fn pb_link(buf: &[u8]) -> R<SpanLink> {
    let mut r = Reader::new(buf);
    let mut l = SpanLink {
        trace_id: String::new(),
        span_id: String::new(),
        trace_state: String::new(),
        attributes: vec![],
    };
    while let Some((n, f)) = r.next()? {
        match n {
            1 => l.trace_id = hex(bytes(f)?),
            2 => l.span_id = hex(bytes(f)?),
            3 => l.trace_state = string(f)?,
            4 => l.attributes.push(pb_kv(bytes(f)?, 0)?),
            _ => {}
        }
    }
    Ok(l)
}

fn empty_span() -> Span {
    Span {
        trace_id: String::new(),
        span_id: String::new(),
        parent_span_id: None,
        trace_state: String::new(),
        name: String::new(),
        kind: 0,
        start_time_unix_nano: 0,
        end_time_unix_nano: 0,
        attributes: vec![],
        events: vec![],
        links: vec![],
        status_code: 0,
        status_message: String::new(),
    }
}

fn pb_span(buf: &[u8]) -> R<Span> {
    let mut r = Reader::new(buf);
    let mut s = empty_span();
    while let Some((n, f)) = r.next()? {
        match n {
            1 => s.trace_id = hex(bytes(f)?),
            2 => s.span_id = hex(bytes(f)?),
            3 => s.trace_state = string(f)?,
            4 => {
                let b = bytes(f)?;
                s.parent_span_id = (!b.is_empty()).then(|| hex(b));
            }
            5 => s.name = string(f)?,
            6 => s.kind = varint(f)? as i32,
            7 => s.start_time_unix_nano = fixed64(f)?,
            8 => s.end_time_unix_nano = fixed64(f)?,
            9 => s.attributes.push(pb_kv(bytes(f)?, 0)?),
            11 => s.events.push(pb_event(bytes(f)?)?),
            13 => s.links.push(pb_link(bytes(f)?)?),
            15 => {
                let mut st = Reader::new(bytes(f)?);
                while let Some((n, f)) = st.next()? {
                    match n {
                        2 => s.status_message = string(f)?,
                        3 => s.status_code = varint(f)? as i32,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// Reads a binary `ExportTraceServiceRequest`. Returns its spans and whether it had any
/// `resource_spans` at all.
pub fn decode_protobuf(body: &[u8]) -> R<(Vec<Span>, bool)> {
    let mut spans = Vec::new();
    let mut any_resource = false;
    let mut r = Reader::new(body);
    while let Some((n, f)) = r.next()? {
        if n != 1 {
            continue;
        }
        any_resource = true;
        let mut rs = Reader::new(bytes(f)?);
        while let Some((n, f)) = rs.next()? {
            if n != 2 {
                // The resource (1) and schema URL (3) are checked for shape only.
                bytes(f)?;
                continue;
            }
            let mut ss = Reader::new(bytes(f)?);
            while let Some((n, f)) = ss.next()? {
                let b = bytes(f)?;
                if n == 2 {
                    spans.push(pb_span(b)?);
                }
            }
        }
    }
    Ok((spans, any_resource))
}

// ---- JSON --------------------------------------------------------------------------------

fn field<'a>(obj: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

fn json_u64(v: Option<&Value>) -> R<u64> {
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| OtlpError("bad integer".into())),
        Some(Value::String(s)) => s.parse().map_err(|_| OtlpError("bad integer".into())),
        Some(_) => err("bad integer"),
    }
}

fn json_str(v: Option<&Value>) -> R<String> {
    match v {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => err("expected a string"),
    }
}

fn json_id(v: Option<&Value>) -> R<String> {
    let s = json_str(v)?;
    if !s.chars().all(|c| c.is_ascii_hexdigit()) || s.len() % 2 != 0 {
        return err("ids must be hex strings");
    }
    Ok(s.to_ascii_lowercase())
}

fn json_list(v: Option<&Value>) -> R<&[Value]> {
    match v {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => err("expected a list"),
    }
}

fn json_enum(v: Option<&Value>, names: &[&str]) -> R<i32> {
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(|i| i as i32)
            .ok_or_else(|| OtlpError("bad enum".into())),
        Some(Value::String(s)) => names
            .iter()
            .position(|n| n == s)
            .map(|i| i as i32)
            .ok_or_else(|| OtlpError(format!("unknown enum value {s}"))),
        Some(_) => err("bad enum"),
    }
}

fn json_any(v: &Value, depth: u32) -> R<AnyValue> {
    if depth > 64 {
        return err("values nested too deeply");
    }
    let Value::Object(_) = v else {
        return err("expected an AnyValue object");
    };
    if let Some(s) = field(v, "stringValue", "string_value") {
        return Ok(AnyValue::Str(json_str(Some(s))?));
    }
    if let Some(b) = field(v, "boolValue", "bool_value") {
        return b
            .as_bool()
            .map(AnyValue::Bool)
            .ok_or_else(|| OtlpError("bad bool".into()));
    }
    if let Some(i) = field(v, "intValue", "int_value") {
        return match i {
            Value::Number(n) => n.as_i64().map(AnyValue::Int),
            Value::String(s) => s.parse().ok().map(AnyValue::Int),
            _ => None,
        }
        .ok_or_else(|| OtlpError("bad int".into()));
    }
    if let Some(d) = field(v, "doubleValue", "double_value") {
        return match d {
            Value::Number(n) => n.as_f64().map(AnyValue::Double),
            Value::String(s) => s.parse().ok().map(AnyValue::Double),
            _ => None,
        }
        .ok_or_else(|| OtlpError("bad double".into()));
    }
    if let Some(a) = field(v, "arrayValue", "array_value") {
        return json_list(a.get("values"))?
            .iter()
            .map(|x| json_any(x, depth + 1))
            .collect::<R<Vec<_>>>()
            .map(AnyValue::Array);
    }
    if let Some(k) = field(v, "kvlistValue", "kvlist_value") {
        return json_kvs(k.get("values"), depth + 1).map(AnyValue::KvList);
    }
    if let Some(b) = field(v, "bytesValue", "bytes_value") {
        let s = json_str(Some(b))?;
        return base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(AnyValue::Bytes)
            .map_err(|_| OtlpError("bad bytes".into()));
    }
    Ok(AnyValue::Empty)
}

fn json_kvs(v: Option<&Value>, depth: u32) -> R<Vec<KeyValue>> {
    json_list(v)?
        .iter()
        .map(|kv| {
            Ok(KeyValue {
                key: json_str(kv.get("key"))?,
                value: match kv.get("value") {
                    None | Some(Value::Null) => AnyValue::Empty,
                    Some(v) => json_any(v, depth)?,
                },
            })
        })
        .collect()
}

const SPAN_KINDS: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
pub(crate) const STATUS_CODES: &[&str] =
    &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

fn json_span(v: &Value) -> R<Span> {
    let mut s = empty_span();
    s.trace_id = json_id(field(v, "traceId", "trace_id"))?;
    s.span_id = json_id(field(v, "spanId", "span_id"))?;
    let parent = json_id(field(v, "parentSpanId", "parent_span_id"))?;
    s.parent_span_id = (!parent.is_empty()).then_some(parent);
    s.trace_state = json_str(field(v, "traceState", "trace_state"))?;
    s.name = json_str(v.get("name"))?;
    s.kind = json_enum(v.get("kind"), SPAN_KINDS)?;
    s.start_time_unix_nano = json_u64(field(v, "startTimeUnixNano", "start_time_unix_nano"))?;
    s.end_time_unix_nano = json_u64(field(v, "endTimeUnixNano", "end_time_unix_nano"))?;
    s.attributes = json_kvs(v.get("attributes"), 0)?;
    for e in json_list(v.get("events"))? {
        s.events.push(SpanEvent {
            time_unix_nano: json_u64(field(e, "timeUnixNano", "time_unix_nano"))?,
            name: json_str(e.get("name"))?,
            attributes: json_kvs(e.get("attributes"), 0)?,
        });
    }
    for l in json_list(v.get("links"))? {
        s.links.push(SpanLink {
            trace_id: json_id(field(l, "traceId", "trace_id"))?,
            span_id: json_id(field(l, "spanId", "span_id"))?,
            trace_state: json_str(field(l, "traceState", "trace_state"))?,
            attributes: json_kvs(l.get("attributes"), 0)?,
        });
    }
    if let Some(st) = v.get("status").filter(|s| !s.is_null()) {
        s.status_code = json_enum(st.get("code"), STATUS_CODES)?;
        s.status_message = json_str(st.get("message"))?;
    }
    Ok(s)
}

/// Reads an OTLP JSON `ExportTraceServiceRequest`.
pub fn decode_json(body: &[u8]) -> R<(Vec<Span>, bool)> {
    let v: Value = serde_json::from_slice(body).map_err(|e| OtlpError(e.to_string()))?;
    if !v.is_object() {
        return err("expected a JSON object");
    }
    let resources = json_list(field(&v, "resourceSpans", "resource_spans"))?;
    let mut spans = Vec::new();
    for rs in resources {
        for ss in json_list(field(rs, "scopeSpans", "scope_spans"))? {
            for s in json_list(ss.get("spans"))? {
                spans.push(json_span(s)?);
            }
        }
    }
    Ok((spans, !resources.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn len_field(n: u32, body: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(n << 3 | 2), out);
        varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }

    #[test]
    fn reads_a_hand_encoded_span() {
        let mut any = Vec::new();
        len_field(1, b"hello", &mut any);
        let mut kv = Vec::new();
        len_field(1, b"k", &mut kv);
        len_field(2, &any, &mut kv);
        let mut span = Vec::new();
        len_field(1, &[0xab; 16], &mut span);
        len_field(2, &[0x01; 8], &mut span);
        len_field(5, b"root", &mut span);
        varint(7 << 3 | 1, &mut span);
        span.extend_from_slice(&5_000_000u64.to_le_bytes());
        len_field(9, &kv, &mut span);
        let mut scope = Vec::new();
        len_field(2, &span, &mut scope);
        let mut rs = Vec::new();
        len_field(2, &scope, &mut rs);
        let mut req = Vec::new();
        len_field(1, &rs, &mut req);
        let (spans, any) = decode_protobuf(&req).unwrap();
        assert!(any);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].trace_id, "ab".repeat(16));
        assert_eq!(spans[0].span_id, "01".repeat(8));
        assert_eq!(spans[0].name, "root");
        assert_eq!(spans[0].start_time_unix_nano, 5_000_000);
        assert_eq!(
            spans[0].attribute("k"),
            Some(&AnyValue::Str("hello".into()))
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(decode_protobuf(b"this is not a protobuf").is_err());
        assert!(decode_protobuf(&[0x0a, 0x05, 0x01]).is_err());
        assert!(decode_json(b"{nope").is_err());
        assert!(decode_json(br#"{"resourceSpans": 3}"#).is_err());
    }

    #[test]
    fn reads_otlp_json() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"B7AD6B7169203331","name":"x","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","attributes":[{"key":"n","value":{"intValue":"3"}}],"status":{"code":"STATUS_CODE_ERROR","message":"bad"}}]}]}]}"#;
        let (spans, _) = decode_json(body).unwrap();
        assert_eq!(spans[0].trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(spans[0].kind, 2);
        assert_eq!(spans[0].status_code, 2);
        assert_eq!(spans[0].attribute("n"), Some(&AnyValue::Int(3)));
    }
}
