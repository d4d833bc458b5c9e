//! The HTTP side of every mlox command that talks to a tracking server, configured once
//! from MLflow's client environment variables:
//!
//! - `MLFLOW_TRACKING_TOKEN` (sent as `Authorization: Bearer`), else
//!   `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` (HTTP Basic);
//! - `MLFLOW_TRACKING_INSECURE_TLS` (skip certificate checks),
//!   `MLFLOW_TRACKING_SERVER_CERT_PATH` (a CA bundle to trust);
//! - `MLFLOW_HTTP_REQUEST_TIMEOUT` (seconds, default 120), `MLFLOW_HTTP_REQUEST_MAX_RETRIES`
//!   (default 7), `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` (default 2) and
//!   `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER` (default 1): connection failures and MLflow's
//!   transient statuses (408, 429, 500, 502, 503, 504) are retried after
//!   `factor × 2^(attempt-1)` seconds plus up to `jitter` seconds.

use std::time::Duration;

use crate::Auth;

/// MLflow's transient statuses (`mlflow.utils.request_utils`).
const TRANSIENT: [u16; 6] = [408, 429, 500, 502, 503, 504];
/// Waits between retries are capped (MLflow caps its backoff factor too).
const MAX_WAIT: Duration = Duration::from_secs(120);

/// A configured HTTP client: credentials, TLS, timeout and retries.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    auth: Auth,
    max_retries: u32,
    backoff_factor: f64,
    backoff_jitter: f64,
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn env_true(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
        .unwrap_or(false)
}

impl Http {
    /// Configured from the environment, as the official client is.
    pub fn from_env() -> Http {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(env_parse(
            "MLFLOW_HTTP_REQUEST_TIMEOUT",
            120u64,
        )));
        if env_true("MLFLOW_TRACKING_INSECURE_TLS") {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Ok(path) = std::env::var("MLFLOW_TRACKING_SERVER_CERT_PATH") {
            match std::fs::read(&path).map(|pem| reqwest::Certificate::from_pem_bundle(&pem)) {
                Ok(Ok(certs)) => {
                    for cert in certs {
                        builder = builder.add_root_certificate(cert);
                    }
                }
                Ok(Err(e)) => eprintln!("warning: MLFLOW_TRACKING_SERVER_CERT_PATH={path}: {e}"),
                Err(e) => eprintln!("warning: MLFLOW_TRACKING_SERVER_CERT_PATH={path}: {e}"),
            }
        }
        Http {
            client: builder.build().unwrap_or_else(|_| reqwest::Client::new()),
            auth: Auth::from_env(),
            max_retries: env_parse("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7u32),
            backoff_factor: env_parse("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2.0f64),
            backoff_jitter: env_parse("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0f64),
        }
    }

    /// The same settings with other credentials.
    pub fn with_auth(mut self, auth: Auth) -> Http {
        self.auth = auth;
        self
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// A request with the credentials attached.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.request(method, url);
        match &self.auth {
            Auth::None => req,
            Auth::Bearer(token) => req.bearer_auth(token),
            Auth::Basic { username, password } => req.basic_auth(username, Some(password)),
        }
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }

    pub fn put(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::PUT, url)
    }

    /// Sends `req`, retrying connection failures and transient statuses while the request
    /// can be replayed (a streamed body cannot: it is sent once).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
        let mut attempt = 0u32;
        loop {
            let Some(replay) = req.try_clone().filter(|_| attempt < self.max_retries) else {
                return req.send().await;
            };
            match replay.send().await {
                Ok(resp) if !TRANSIENT.contains(&resp.status().as_u16()) => return Ok(resp),
                Err(e) if !(e.is_connect() || e.is_timeout() || e.is_request()) => return Err(e),
                _ => {}
            }
            attempt += 1;
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.backoff_factor * f64::from(1u32 << (attempt - 1).min(16));
        let jitter = if self.backoff_jitter > 0.0 {
            // No RNG needed: the clock's nanoseconds spread clients apart well enough.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            self.backoff_jitter * f64::from(nanos) / 1e9
        } else {
            0.0
        };
        Duration::from_secs_f64((base + jitter).max(0.0)).min(MAX_WAIT)
    }
}
