//! Just enough protobuf to write OTLP `ExportTraceServiceRequest` bodies the way MLflow's
//! Python client does (`RestStore.log_spans`: one resource with the SDK attributes, one
//! scope, the spans with MLflow's `mlflow.*` attributes as OTLP `AnyValue`s).
//! Field numbers are those of opentelemetry-proto's `trace.proto`, `common.proto` and
//! `resource.proto`.

/// An OTLP attribute value.
#[derive(Clone)]
pub enum Any<'a> {
    Str(&'a str),
    Int(i64),
    /// A key-value list (MLflow sends a span's dict inputs as one).
    Map(Vec<(&'a str, Any<'a>)>),
}

/// One span as the exporter sends it.
#[derive(Clone)]
pub struct SpanOut<'a> {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: &'a str,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<(&'a str, Any<'a>)>,
    pub error: bool,
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(buf, field, 2);
    varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// A length-delimited sub-message written by `f`.
fn message(buf: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    f(&mut inner);
    bytes(buf, field, &inner);
}

fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    key(buf, field, 1);
    buf.extend_from_slice(&v.to_le_bytes());
}

fn any_value(buf: &mut Vec<u8>, v: &Any) {
    match v {
        Any::Str(s) => bytes(buf, 1, s.as_bytes()),
        Any::Int(i) => {
            key(buf, 3, 0);
            varint(buf, *i as u64);
        }
        Any::Map(kvs) => message(buf, 6, |b| {
            for (k, v) in kvs {
                message(b, 1, |kv| key_value(kv, k, v));
            }
        }),
    }
}

fn key_value(buf: &mut Vec<u8>, k: &str, v: &Any) {
    bytes(buf, 1, k.as_bytes());
    message(buf, 2, |b| any_value(b, v));
}

fn span(buf: &mut Vec<u8>, s: &SpanOut) {
    bytes(buf, 1, &s.trace_id);
    bytes(buf, 2, &s.span_id);
    if let Some(p) = &s.parent {
        bytes(buf, 4, p);
    }
    bytes(buf, 5, s.name.as_bytes());
    fixed64(buf, 7, s.start_ns);
    fixed64(buf, 8, s.end_ns);
    for (k, v) in &s.attributes {
        message(buf, 9, |b| key_value(b, k, v));
    }
    // Status { code = 3 }: STATUS_CODE_OK (1) or STATUS_CODE_ERROR (2).
    message(buf, 15, |b| {
        key(b, 3, 0);
        varint(b, if s.error { 2 } else { 1 });
    });
}

/// An `ExportTraceServiceRequest` with one resource (MLflow's SDK attributes) and one scope.
pub fn export_request(spans: &[SpanOut]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + spans.len() * 600);
    message(&mut out, 1, |rs| {
        message(rs, 1, |res| {
            for (k, v) in [
                ("telemetry.sdk.language", "python"),
                ("telemetry.sdk.name", "mlflow"),
                ("telemetry.sdk.version", "3.17.2"),
            ] {
                message(res, 1, |kv| key_value(kv, k, &Any::Str(v)));
            }
        });
        message(rs, 2, |ss| {
            for s in spans {
                message(ss, 2, |b| span(b, s));
            }
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_an_empty_request() {
        let mut b = Vec::new();
        varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        // resource_spans { resource { 3 attributes } scope_spans {} }
        let r = export_request(&[]);
        assert_eq!(r[0], 0x0a);
        assert!(r.windows(6).any(|w| w == b"mlflow"));
    }
}
