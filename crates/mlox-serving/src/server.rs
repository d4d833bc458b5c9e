//! The scoring server: MLflow's protocol (`/ping`, `/health`, `/version`, `/invocations`)
//! and the Open Inference Protocol v2 (`/v2/health/*`, `/v2/models/{name}[/ready|/infer]`),
//! over one loaded model whose back end is native ONNX or the Python worker pool.
//! Every error leaves as MLflow's `{"error_code", "message"}` with its status (v2 routes:
//! `{"error": ...}`); a panic becomes a 500 of the same shape.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::data::{self, Input, Tensor};
use crate::error::{Result, ServeError};
use crate::mlmodel::{MlModel, ModelDir};
use crate::onnx::OnnxModel;
use crate::pyworker::{PoolConfig, PythonEnv, Reply, WorkerPool};
use crate::request::{self, ContentType};
use crate::schema::{Schema, Signature};

/// How a model is scored.
pub enum Backend {
    Onnx(OnnxModel),
    Python(WorkerPool),
}

/// A model ready to serve.
pub struct LoadedModel {
    /// The name used by the v2 protocol.
    pub name: String,
    pub dir: PathBuf,
    pub mlmodel: MlModel,
    pub signature: Option<Signature>,
    pub backend: Backend,
}

/// Options for loading.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub name: String,
    pub workers: usize,
    /// Serve `onnx` models through Python even so (for comparisons).
    pub no_native: bool,
    /// The Python environment, when the Python back end is used. Built lazily by the
    /// caller only when needed, hence a closure result passed in.
    pub max_batch_size: usize,
    pub max_batch_wait: std::time::Duration,
    pub timeout: std::time::Duration,
}

/// Whether this model will be served natively (no Python).
pub fn is_native(mlmodel: &MlModel, no_native: bool) -> bool {
    !no_native && mlmodel.flavor("onnx").is_some()
}

impl LoadedModel {
    /// Loads the model at `dir`; `python` is used only for the Python back end.
    pub async fn load(
        dir: &Path,
        opts: &LoadOptions,
        python: Option<PythonEnv>,
    ) -> Result<LoadedModel> {
        let ModelDir { path, mlmodel } = ModelDir::open(dir)?;
        let signature = mlmodel.signature()?;
        let backend = if is_native(&mlmodel, opts.no_native) {
            let flavor = mlmodel.flavor("onnx").cloned().unwrap_or_default();
            let file = flavor
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or("model.onnx");
            let model_file = path.join(file);
            let sessions = opts.workers.max(1);
            let onnx = tokio::task::spawn_blocking(move || OnnxModel::load(&model_file, sessions))
                .await
                .map_err(|e| {
                    ServeError::InvalidModel(format!("loading the ONNX model panicked: {e}"))
                })??;
            Backend::Onnx(onnx)
        } else if mlmodel.flavor("python_function").is_some() {
            let env = python.ok_or_else(|| {
                ServeError::InvalidModel("this model needs a Python environment".to_string())
            })?;
            Backend::Python(
                WorkerPool::start(PoolConfig {
                    model_dir: path.clone(),
                    env,
                    workers: opts.workers.max(1),
                    max_batch_size: opts.max_batch_size.max(1),
                    max_batch_wait: opts.max_batch_wait,
                    timeout: opts.timeout,
                })
                .await?,
            )
        } else {
            return Err(ServeError::InvalidModel(format!(
                "Model does not have the \"python_function\" flavor (flavors: {:?})",
                mlmodel.flavors().keys().collect::<Vec<_>>()
            )));
        };
        Ok(LoadedModel {
            name: opts.name.clone(),
            dir: path,
            mlmodel,
            signature,
            backend,
        })
    }

    fn input_schema(&self) -> Option<&Schema> {
        self.signature.as_ref().and_then(|s| s.inputs.as_ref())
    }

    /// The MLflow version `/version` reports.
    pub fn version(&self) -> String {
        match &self.backend {
            Backend::Python(p) if !p.mlflow_version.is_empty() => p.mlflow_version.clone(),
            _ => self
                .mlmodel
                .mlflow_version()
                .unwrap_or(env!("CARGO_PKG_VERSION"))
                .to_string(),
        }
    }

    /// Scores a natively parsed input (ONNX back end only).
    pub async fn predict_native(self: &Arc<Self>, input: Input) -> Result<Value> {
        let Backend::Onnx(_) = &self.backend else {
            return Err(ServeError::InvalidModel("not a native model".to_string()));
        };
        // Small inputs run inline (microseconds); big ones off the async threads.
        if input.rows() <= 64 {
            let Backend::Onnx(m) = &self.backend else {
                unreachable!()
            };
            return m.predict(&input);
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || match &me.backend {
            Backend::Onnx(m) => m.predict(&input),
            Backend::Python(_) => unreachable!("checked above"),
        })
        .await
        .map_err(|e| ServeError::Worker(format!("inference panicked: {e}")))?
    }

    /// One `/invocations` request: (status, content type, body).
    pub async fn invoke(self: &Arc<Self>, content_type: Option<&str>, body: Bytes) -> Reply {
        let ct = match request::content_type(content_type) {
            Ok(ct) => ct,
            Err(request::Unsupported(msg)) => {
                return Reply {
                    status: 415,
                    mimetype: "text/plain".to_string(),
                    body: msg,
                }
            }
        };
        match &self.backend {
            Backend::Python(pool) => {
                pool.invoke(ct, content_type.unwrap_or_default(), body.to_vec())
                    .await
            }
            Backend::Onnx(_) => match self.invoke_native(ct, &body).await {
                Ok(preds) => Reply {
                    status: 200,
                    mimetype: "application/json".to_string(),
                    body: json!({ "predictions": preds }).to_string(),
                },
                Err(e) => error_reply(&e),
            },
        }
    }

    async fn invoke_native(self: &Arc<Self>, ct: ContentType, body: &[u8]) -> Result<Value> {
        let input = match ct {
            ContentType::Json => {
                let req = request::parse_json(body)?;
                data::enforce(data::from_json(&req)?, self.input_schema(), req.format)?
            }
            ContentType::Csv => {
                let table = request::parse_csv(body)?;
                data::enforce(data::from_csv(table)?, self.input_schema(), "csv")?
            }
            ContentType::Parquet => {
                return Err(ServeError::BadRequest(
                    "Parquet bodies are not supported by the native ONNX server; send application/json or text/csv".to_string(),
                ))
            }
        };
        self.predict_native(input).await
    }
}

fn error_reply(e: &ServeError) -> Reply {
    if matches!(e.error_code(), mlox_core::ErrorCode::INTERNAL_ERROR) {
        tracing::error!(error = %e, "scoring failed");
    }
    Reply {
        status: e.error_code().http_status(),
        mimetype: "application/json".to_string(),
        body: e.to_json().to_string(),
    }
}

fn reply(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, r.mimetype)], r.body).into_response()
}

type AppState = Arc<LoadedModel>;

/// The routes of the scoring server.
pub fn router(model: Arc<LoadedModel>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .route("/version", get(version))
        .route("/invocations", post(invocations))
        .route("/v2/health/live", get(v2_live))
        .route("/v2/health/ready", get(v2_ready))
        .route("/v2/models/{name}", get(v2_metadata))
        .route("/v2/models/{name}/ready", get(v2_model_ready))
        .route("/v2/models/{name}/infer", post(v2_infer))
        .with_state(model)
        .layer(DefaultBodyLimit::max(1 << 30))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                let e = ServeError::Worker("internal error while scoring".to_string());
                let body = json!({"error_code": "INTERNAL_ERROR", "message": e.to_string()});
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            },
        ))
}

/// Serves until the listener fails or the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    model: Arc<LoadedModel>,
) -> std::io::Result<()> {
    axum::serve(listener, router(model)).await
}

async fn ping() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "\n",
    )
        .into_response()
}

async fn version(State(m): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        m.version(),
    )
        .into_response()
}

async fn invocations(State(m): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    reply(m.invoke(ct, body).await)
}

fn v2_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": msg.into()}))).into_response()
}

async fn v2_live() -> Response {
    axum::Json(json!({"live": true})).into_response()
}

async fn v2_ready() -> Response {
    axum::Json(json!({"ready": true})).into_response()
}

fn check_name(m: &LoadedModel, name: &str) -> std::result::Result<(), Box<Response>> {
    if name == m.name {
        Ok(())
    } else {
        Err(Box::new(v2_error(
            StatusCode::NOT_FOUND,
            format!("Model {name} not found (this server serves '{}')", m.name),
        )))
    }
}

async fn v2_model_ready(State(m): State<AppState>, UrlPath(name): UrlPath<String>) -> Response {
    if let Err(r) = check_name(&m, &name) {
        return *r;
    }
    axum::Json(json!({"name": name, "ready": true})).into_response()
}

fn v2_datatype(numpy: &str) -> &'static str {
    match numpy {
        "float32" => "FP32",
        "float64" => "FP64",
        "int32" => "INT32",
        "int64" => "INT64",
        "bool" => "BOOL",
        _ => "BYTES",
    }
}

async fn v2_metadata(State(m): State<AppState>, UrlPath(name): UrlPath<String>) -> Response {
    if let Err(r) = check_name(&m, &name) {
        return *r;
    }
    let specs = |s: Option<&Schema>| -> Vec<Value> {
        match s {
            Some(Schema::Columns(cols)) => cols
                .iter()
                .map(|c| json!({"name": c.name.clone().unwrap_or_default(), "datatype": v2_datatype(c.ty.numpy_dtype()), "shape": [-1]}))
                .collect(),
            Some(Schema::Tensors(ts)) => ts
                .iter()
                .map(|t| json!({"name": t.name.clone().unwrap_or_else(|| "input-0".into()), "datatype": v2_datatype(&t.dtype), "shape": t.shape}))
                .collect(),
            None => Vec::new(),
        }
    };
    let sig = m.signature.as_ref();
    let platform = match &m.backend {
        Backend::Onnx(_) => "onnxruntime",
        Backend::Python(_) => "mlflow",
    };
    axum::Json(json!({
        "name": m.name,
        "versions": [],
        "platform": platform,
        "inputs": specs(sig.and_then(|s| s.inputs.as_ref())),
        "outputs": specs(sig.and_then(|s| s.outputs.as_ref())),
    }))
    .into_response()
}

/// One v2 input tensor as nested JSON lists.
fn v2_tensor(input: &Value) -> std::result::Result<(String, Value, Vec<usize>), String> {
    let name = input["name"].as_str().unwrap_or("input-0").to_string();
    let shape: Vec<usize> = input["shape"]
        .as_array()
        .ok_or("each input needs a shape")?
        .iter()
        .map(|d| {
            d.as_u64()
                .map(|d| d as usize)
                .ok_or("shape must hold non-negative integers")
        })
        .collect::<std::result::Result<_, _>>()?;
    let data = input.get("data").ok_or("each input needs data")?;
    let mut flat = Vec::new();
    flatten(data, &mut flat);
    let numel: usize = shape.iter().product();
    if flat.len() != numel {
        return Err(format!(
            "input '{name}' has {} values but shape {shape:?} needs {numel}",
            flat.len()
        ));
    }
    let t = Tensor {
        shape: shape.clone(),
        elems: data::Elems::Obj(flat),
    };
    Ok((name, t.to_json(), shape))
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        other => out.push(other.clone()),
    }
}

/// A v2 request as an MLflow JSON body: named 1-D (or [N,1]) inputs, or one 2-D input for
/// a column signature, become a `dataframe_split`; anything else `inputs`.
fn v2_to_mlflow(m: &LoadedModel, req: &Value) -> std::result::Result<Value, String> {
    let inputs = req["inputs"]
        .as_array()
        .ok_or("the request needs an `inputs` list")?;
    if inputs.is_empty() {
        return Err("the request needs at least one input".to_string());
    }
    let tensors: Vec<(String, Value, Vec<usize>)> = inputs
        .iter()
        .map(v2_tensor)
        .collect::<std::result::Result<_, _>>()?;
    let columns_schema = match m.signature.as_ref().and_then(|s| s.inputs.as_ref()) {
        Some(Schema::Columns(c)) => {
            Some(c.iter().filter_map(|c| c.name.clone()).collect::<Vec<_>>())
        }
        _ => None,
    };
    let params = req.get("parameters").filter(|p| p.is_object()).cloned();
    let mut body = Map::new();
    if tensors.len() == 1 {
        let (_, data, shape) = &tensors[0];
        match &columns_schema {
            Some(cols) if shape.len() == 2 && shape[1] == cols.len() => {
                body.insert(
                    "dataframe_split".into(),
                    json!({"columns": cols, "data": data}),
                );
            }
            _ => {
                body.insert("inputs".into(), data.clone());
            }
        }
    } else {
        let one_d = tensors
            .iter()
            .all(|(_, _, s)| s.len() == 1 || (s.len() == 2 && s[1] == 1));
        let rows = tensors[0].2[0];
        if one_d && tensors.iter().all(|(_, _, s)| s[0] == rows) {
            let cols: Vec<Vec<Value>> = tensors
                .iter()
                .map(|(_, d, _)| {
                    let mut f = Vec::new();
                    flatten(d, &mut f);
                    f
                })
                .collect();
            let data: Vec<Value> = (0..rows)
                .map(|r| Value::Array(cols.iter().map(|c| c[r].clone()).collect()))
                .collect();
            let names: Vec<&String> = tensors.iter().map(|(n, _, _)| n).collect();
            body.insert(
                "dataframe_split".into(),
                json!({"columns": names, "data": data}),
            );
        } else {
            let dict: Map<String, Value> = tensors.into_iter().map(|(n, d, _)| (n, d)).collect();
            body.insert("inputs".into(), Value::Object(dict));
        }
    }
    if let Some(p) = params.filter(|p| p.as_object().is_some_and(|o| !o.is_empty())) {
        body.insert("params".into(), p);
    }
    Ok(Value::Object(body))
}

/// A v2 output tensor from a JSON value (nested lists).
fn v2_output(name: &str, v: &Value) -> Value {
    let mut shape = Vec::new();
    let mut probe = v;
    while let Value::Array(a) = probe {
        shape.push(a.len());
        match a.first() {
            Some(f) => probe = f,
            None => break,
        }
    }
    let mut flat = Vec::new();
    flatten(v, &mut flat);
    let datatype = if flat.iter().all(Value::is_boolean) {
        "BOOL"
    } else if flat.iter().all(Value::is_i64) {
        "INT64"
    } else if flat.iter().all(Value::is_number) {
        "FP64"
    } else {
        "BYTES"
    };
    let data: Vec<Value> = flat
        .into_iter()
        .map(|x| match x {
            Value::Object(_) => Value::String(x.to_string()),
            other => other,
        })
        .collect();
    if shape.is_empty() {
        shape.push(1);
    }
    json!({"name": name, "shape": shape, "datatype": datatype, "data": data})
}

fn v2_outputs(preds: &Value) -> Vec<Value> {
    match preds {
        Value::Object(m) => m.iter().map(|(k, v)| v2_output(k, v)).collect(),
        // Records (a DataFrame): one output per column.
        Value::Array(rows) if !rows.is_empty() && rows.iter().all(Value::is_object) => {
            let mut names: Vec<String> = Vec::new();
            for r in rows {
                for k in r.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
            names
                .iter()
                .map(|n| {
                    let col: Vec<Value> = rows
                        .iter()
                        .map(|r| r.get(n).cloned().unwrap_or(Value::Null))
                        .collect();
                    v2_output(n, &Value::Array(col))
                })
                .collect()
        }
        other => vec![v2_output("predictions", other)],
    }
}

async fn v2_infer(
    State(m): State<AppState>,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_name(&m, &name) {
        return *r;
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let mlflow_body = match v2_to_mlflow(&m, &req) {
        Ok(b) => b,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, e),
    };
    let r = m
        .invoke(
            Some("application/json"),
            Bytes::from(mlflow_body.to_string()),
        )
        .await;
    let parsed: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    if r.status != 200 {
        let msg = parsed["message"]
            .as_str()
            .map_or(r.body.clone(), str::to_string);
        return v2_error(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            msg,
        );
    }
    let preds = parsed.get("predictions").cloned().unwrap_or(parsed.clone());
    let mut out = json!({
        "model_name": m.name,
        "outputs": v2_outputs(&preds),
    });
    if let Some(id) = req.get("id") {
        out["id"] = id.clone();
    }
    axum::Json(out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_outputs_from_every_prediction_shape() {
        let o = v2_outputs(&json!([0, 1, 1]));
        assert_eq!(
            o[0],
            json!({"name": "predictions", "shape": [3], "datatype": "INT64", "data": [0, 1, 1]})
        );
        let o = v2_outputs(&json!({"label": [1], "probabilities": [[0.25, 0.75]]}));
        assert_eq!(o[1]["shape"], json!([1, 2]));
        assert_eq!(o[1]["datatype"], "FP64");
        let o = v2_outputs(&json!([{"a": 1, "b": {"0": 0.5}}]));
        assert_eq!(o[0]["name"], "a");
        assert_eq!(o[1]["datatype"], "BYTES");
    }

    #[test]
    fn v2_tensors_are_reshaped() {
        let (name, data, shape) = v2_tensor(
            &json!({"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}),
        )
        .unwrap();
        assert_eq!(name, "x");
        assert_eq!(shape, [2, 2]);
        assert_eq!(data, json!([[1, 2], [3, 4]]));
        assert!(v2_tensor(&json!({"name": "x", "shape": [3], "data": [1, 2]})).is_err());
    }
}
