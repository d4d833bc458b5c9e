//! Request parsing as MLflow's server does it: a JSON body for POST/PATCH/DELETE, query
//! parameters for GET, unknown fields ignored, protobuf-JSON leniency for numbers.

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Method, Request};
use mlox_core::validation::missing_value;
use mlox_core::{ErrorCode, MlflowError};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest JSON request body accepted by the tracking API.
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// The fields of one request, from its body or its query string.
#[derive(Debug, Default)]
pub struct Params {
    pub fields: Map<String, Value>,
    /// Size of the JSON body in bytes (MLflow limits log-batch by it).
    pub body_len: usize,
}

fn invalid_type(key: &str, value: &Value, expected: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid value {value} for parameter '{key}' supplied: expected {expected}"
    ))
}

/// A request read but not yet parsed: its method, query string and JSON body (checked
/// for size and content type). Handlers with a faster typed parse take this and fall back
/// to [`Params::from_raw`].
pub struct RawRequest {
    method: Method,
    query: String,
    pub body: axum::body::Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        Params::from_raw(RawRequest::from_request(req, state).await?)
    }
}

impl Params {
    pub fn from_raw(raw: RawRequest) -> Result<Self, ApiError> {
        let RawRequest {
            method,
            query,
            body,
        } = raw;
        if method == Method::GET && !query.is_empty() {
            return Ok(Params {
                fields: query_fields(&query),
                body_len: 0,
            });
        }
        let body_len = body.len();
        let fields = parse_body(&body)?;
        let mut params = Params { fields, body_len };
        // DELETE and PATCH may carry their fields in the query string too.
        if params.fields.is_empty() && !query.is_empty() {
            params.fields = query_fields(&query);
        }
        Ok(params)
    }
}

impl<S: Send + Sync> FromRequest<S> for RawRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let query = req.uri().query().unwrap_or("").to_string();
        if method == Method::GET && !query.is_empty() {
            return Ok(RawRequest {
                method,
                query,
                body: Default::default(),
            });
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_string());
        let bytes = read_body(req.into_body()).await?;
        if method == Method::POST || method == Method::PUT {
            match content_type.as_deref() {
                None => {
                    return Err(ApiError::new(
                        ErrorCode::INVALID_PARAMETER_VALUE,
                        "Bad Request. Content-Type header is missing.",
                    ))
                }
                Some(ct) if ct.split(';').next().map(str::trim) != Some("application/json") => {
                    return Err(ApiError::new(
                        ErrorCode::INVALID_PARAMETER_VALUE,
                        "Bad Request. Content-Type must be one of ['application/json'].",
                    ))
                }
                _ => {}
            }
        }
        Ok(RawRequest {
            method,
            query,
            body: bytes,
        })
    }
}

/// How much of an oversized body is read and dropped before the 413 is sent. A client
/// that writes its whole body before reading (Python's `http.client`) would otherwise get
/// a broken pipe instead of the error; past this, the connection is closed anyway.
const MAX_DISCARDED_BODY: usize = 256 * 1024 * 1024;

/// Reads a JSON body of at most [`MAX_JSON_BODY`] bytes. A larger one is read on (and
/// dropped) up to [`MAX_DISCARDED_BODY`], so the client is reading when the 413 comes.
async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    // A body that arrives in one frame is kept as it came, without a copy.
    let mut first: Option<axum::body::Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                ErrorCode::BAD_REQUEST,
                format!("Could not read the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len());
        if seen > MAX_JSON_BODY {
            first = None;
            rest = Vec::new();
            if seen > MAX_DISCARDED_BODY {
                break;
            }
        } else if first.is_none() && rest.is_empty() {
            first = Some(data);
        } else {
            if let Some(f) = first.take() {
                rest.extend_from_slice(&f);
            }
            rest.extend_from_slice(&data);
        }
    }
    if seen > MAX_JSON_BODY {
        return Err(ApiError::new(
            ErrorCode::RESOURCE_EXHAUSTED,
            format!("Request body is too large: the limit is {MAX_JSON_BODY} bytes"),
        )
        .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE));
    }
    Ok(first.unwrap_or_else(|| rest.into()))
}

fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // MLflow reads the body with Flask's `get_json(force=True, silent=True)`
    // (`_get_request_json` in `mlflow/server/handlers.py`), which gives `None` for a body
    // that is not JSON, and `_get_normalized_request_json` turns `None` into `{}`: a
    // malformed body is an empty request, answered as the handler answers one (a missing
    // required field is INVALID_PARAMETER_VALUE), never a parse error of its own.
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(Map::new());
    };
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        // Old clients double-encode: a JSON string holding the JSON object.
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(ApiError::new(
                ErrorCode::INVALID_PARAMETER_VALUE,
                "Request body must be a JSON object",
            )),
        },
        _ => Err(ApiError::new(
            ErrorCode::INVALID_PARAMETER_VALUE,
            "Request body must be a JSON object",
        )),
    }
}

/// Query parameters as JSON: a key given once is a string, a repeated key a list.
pub fn query_fields(query: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(items)) => items.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    map
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, MlflowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(a)) if a.len() == 1 => match &a[0] {
                Value::String(s) => Ok(Some(s.clone())),
                v => Err(invalid_type(key, v, "a string")),
            },
            Some(v) => Err(invalid_type(key, v, "a string")),
        }
    }

    /// A required string: absent or empty is MLflow's "Missing value" error.
    pub fn req_str(&self, key: &str) -> Result<String, MlflowError> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(missing_value(key)),
        }
    }

    /// A required string that may be empty (tag values).
    pub fn req_str_allow_empty(&self, key: &str) -> Result<String, MlflowError> {
        self.opt_str(key)?.ok_or_else(|| missing_value(key))
    }

    /// `run_id`, falling back to the deprecated `run_uuid`.
    pub fn run_id(&self) -> Result<String, MlflowError> {
        match self.opt_str("run_id")?.filter(|s| !s.is_empty()) {
            Some(id) => Ok(id),
            None => self
                .opt_str("run_uuid")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing_value("run_id")),
        }
    }

    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, MlflowError> {
        self.get(key).map(|v| value_i64(key, v)).transpose()
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, MlflowError> {
        self.get(key).map(|v| value_f64(key, v)).transpose()
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, MlflowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(Value::String(s)) => Err(MlflowError::invalid(format!(
                "Invalid boolean value: {s}, must be 'true' or 'false'."
            ))),
            Some(v) => Err(invalid_type(key, v, "a boolean")),
        }
    }

    pub fn str_list(&self, key: &str) -> Result<Vec<String>, MlflowError> {
        match self.get(key) {
            None => Ok(vec![]),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    v => Err(invalid_type(key, v, "a list of strings")),
                })
                .collect(),
            Some(v) => Err(invalid_type(key, v, "a list of strings")),
        }
    }

    pub fn obj_list(&self, key: &str) -> Result<Vec<Map<String, Value>>, MlflowError> {
        match self.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(m.clone()),
                    v => Err(invalid_type(key, v, "a list of objects")),
                })
                .collect(),
            Some(v) => Err(invalid_type(key, v, "a list of objects")),
        }
    }
}

/// An int64 field: a JSON integer or a numeric string (protobuf JSON rules).
pub fn value_i64(key: &str, v: &Value) -> Result<i64, MlflowError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| invalid_type(key, v, "a 64-bit integer")),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid_type(key, v, "a 64-bit integer")),
        v => Err(invalid_type(key, v, "a 64-bit integer")),
    }
}

/// A double field: a JSON number, or "NaN"/"Infinity"/"-Infinity" or a numeric string.
pub fn value_f64(key: &str, v: &Value) -> Result<f64, MlflowError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| invalid_type(key, v, "a double")),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            other => other
                .trim()
                .parse::<f64>()
                .map_err(|_| invalid_type(key, v, "a double")),
        },
        v => Err(invalid_type(key, v, "a double")),
    }
}

/// Reads a string field of a nested object (tags, metrics, datasets).
pub fn obj_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, MlflowError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(invalid_type(key, v, "a string")),
    }
}
