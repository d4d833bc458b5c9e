//! A thin client for the MLflow REST API (only what the scenarios use).

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub const CREATE_RUN: &str = "/api/2.0/mlflow/runs/create";
pub const LOG_METRIC: &str = "/api/2.0/mlflow/runs/log-metric";
pub const LOG_BATCH: &str = "/api/2.0/mlflow/runs/log-batch";
pub const SEARCH_RUNS: &str = "/api/2.0/mlflow/runs/search";
pub const CREATE_EXPERIMENT: &str = "/api/2.0/mlflow/experiments/create";
pub const GET_EXPERIMENT_BY_NAME: &str = "/api/2.0/mlflow/experiments/get-by-name";
pub const GET_HISTORY: &str = "/api/2.0/mlflow/metrics/get-history";

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of `base`; with `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` set
    /// (as the official client reads them), every request carries HTTP Basic credentials
    /// (the authenticated scenarios of bench/auth).
    pub fn new(base: &str) -> Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let (Ok(user), Ok(password)) = (
            std::env::var("MLFLOW_TRACKING_USERNAME"),
            std::env::var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            use base64::Engine;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .pool_max_idle_per_host(4096)
            .tcp_nodelay(true)
            // MLflow can take many seconds for the big reads; never hang forever.
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POST a JSON body; returns the whole response body after checking for a 2xx status.
    pub async fn post(&self, path: &str, body: String) -> Result<Vec<u8>> {
        let resp = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        finish(resp, "POST", path).await
    }

    /// POST a non-JSON body (an OTLP protobuf payload) with MLflow's experiment header, as
    /// the client's span exporter does; returns the body after checking the status.
    pub async fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        experiment_id: &str,
    ) -> Result<Vec<u8>> {
        let resp = self
            .client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .header("x-mlflow-experiment-id", experiment_id)
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        finish(resp, "POST", path).await
    }

    /// GET `path` (which may carry a query string); returns the body after checking the status.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        finish(resp, "GET", path).await
    }

    /// Like `get` but only checks the status and drains the body (the hot path of `health`).
    pub async fn get_discard(&self, path: &str) -> Result<usize> {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: HTTP {status}: {}", snippet(&body));
        }
        Ok(body.len())
    }

    /// Like `post` but does not copy the body out (the hot path of the write scenarios).
    pub async fn post_discard(&self, path: &str, body: String) -> Result<usize> {
        let resp = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("POST {path}: HTTP {status}: {}", snippet(&body));
        }
        Ok(body.len())
    }

    pub async fn post_json(&self, path: &str, body: String) -> Result<Value> {
        let bytes = self.post(path, body).await?;
        serde_json::from_slice(&bytes).with_context(|| format!("POST {path}: response is not JSON"))
    }

    pub async fn get_json(&self, path: &str) -> Result<Value> {
        let bytes = self.get(path).await?;
        serde_json::from_slice(&bytes).with_context(|| format!("GET {path}: response is not JSON"))
    }

    /// Creates a run and returns its id.
    pub async fn create_run(&self, experiment_id: &str, start_time: u64) -> Result<String> {
        let body = format!(
            r#"{{"experiment_id":{},"start_time":{start_time}}}"#,
            json_str(experiment_id)
        );
        let v = self.post_json(CREATE_RUN, body).await?;
        v.pointer("/run/info/run_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("runs/create: no run.info.run_id in {}", short(&v)))
    }

    /// Returns the id of the experiment `name`, creating it if needed.
    pub async fn experiment_id(&self, name: &str, create: bool) -> Result<String> {
        if create {
            let body = format!(r#"{{"name":{}}}"#, json_str(name));
            match self.post_json(CREATE_EXPERIMENT, body).await {
                Ok(v) => {
                    if let Some(id) = v.get("experiment_id").and_then(Value::as_str) {
                        return Ok(id.to_string());
                    }
                }
                Err(e) if format!("{e:#}").contains("RESOURCE_ALREADY_EXISTS") => {}
                Err(e) => return Err(e),
            }
        }
        let v = self
            .get_json(&format!(
                "{GET_EXPERIMENT_BY_NAME}?experiment_name={}",
                url_encode(name)
            ))
            .await?;
        v.pointer("/experiment/experiment_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!(
                    "experiments/get-by-name: no experiment.experiment_id in {}",
                    short(&v)
                )
            })
    }
}

async fn finish(resp: reqwest::Response, method: &str, path: &str) -> Result<Vec<u8>> {
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .with_context(|| format!("{method} {path}: reading body"))?;
    if !status.is_success() {
        bail!("{method} {path}: HTTP {status}: {}", snippet(&body));
    }
    Ok(body.to_vec())
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(300).collect()
}

pub fn short(v: &Value) -> String {
    v.to_string().chars().take(300).collect()
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
