//! mlox-client: a small typed client for MLflow's tracking REST API.
//!
//! It speaks the same JSON over HTTP as the official `mlflow` client, so it works against
//! `mlox server` and against a real `mlflow server` alike. It is not a complete binding of
//! the API: it holds the calls that mlox's own tools (`mlox run`, `mlox artifacts`, the
//! model URI resolution of `mlox models serve`) and tests need, and grows one file per
//! resource (`experiments.rs`, `runs.rs`, `registry.rs`, `logged_models.rs`,
//! `artifacts.rs`). It is the only code in mlox that speaks the REST API as a client.

mod artifacts;
mod experiments;
mod http;
mod lenient;
mod logged_models;
mod registry;
mod runs;
pub use runs::CreateRun;
mod types;

pub use artifacts::{proxied_location, ArtifactEntry};
pub use http::Http;
pub use logged_models::LoggedModel;
pub use registry::{ModelAlias, ModelVersion, RegisteredModel, SearchPage};
pub use types::*;

use serde_json::Value;

/// The error of a tracking API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the tracking server at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an MLflow error (`{"error_code": ..., "message": ...}`).
    #[error("{error_code}: {message}")]
    Api {
        status: u16,
        error_code: String,
        message: String,
    },
    /// The tracking URI is not a server's http(s) URL (a database URI, say).
    #[error("'{uri}' is not a tracking server URL: this command talks to a tracking server over its REST API; set --tracking-uri (or MLFLOW_TRACKING_URI) to its http(s)://host:port")]
    NotAServer { uri: String },
    /// The server's answer was not the JSON we expected.
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
}

impl ClientError {
    /// The MLflow error code (`RESOURCE_DOES_NOT_EXIST`, ...) when the server sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            ClientError::Api { error_code, .. } => Some(error_code),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// How requests authenticate, as the official client reads it from `MLFLOW_TRACKING_TOKEN`
/// or `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        username: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

impl Auth {
    /// The credentials named by MLflow's environment variables, if any.
    pub fn from_env() -> Auth {
        if let Ok(token) = std::env::var("MLFLOW_TRACKING_TOKEN") {
            if !token.is_empty() {
                return Auth::Bearer(token);
            }
        }
        match (
            std::env::var("MLFLOW_TRACKING_USERNAME"),
            std::env::var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Ok(username), Ok(password)) => Auth::Basic { username, password },
            _ => Auth::None,
        }
    }
}

/// A client for one tracking server, e.g. `http://127.0.0.1:5000`.
#[derive(Clone, Debug)]
pub struct TrackingClient {
    http: Http,
    base_url: String,
}

impl TrackingClient {
    /// A client for the server at `base_url` (`http://host:port`, optionally with a path
    /// prefix; a trailing slash is ignored), with the TLS, timeout and retry settings of
    /// MLflow's environment variables ([`Http::from_env`]) but no credentials.
    pub fn new(base_url: &str) -> Self {
        TrackingClient {
            http: Http::from_env().with_auth(Auth::None),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// A client sending the credentials of MLflow's environment variables too.
    pub fn from_env(base_url: &str) -> Self {
        TrackingClient {
            http: Http::from_env(),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// [`TrackingClient::from_env`] for a tracking URI given by a user, which must be an
    /// http(s) URL: anything else (`sqlite:///…`, a folder) is
    /// [`ClientError::NotAServer`].
    pub fn connect(tracking_uri: &str) -> Result<Self> {
        if is_server_url(tracking_uri) {
            Ok(TrackingClient::from_env(tracking_uri))
        } else {
            Err(ClientError::NotAServer {
                uri: tracking_uri.to_string(),
            })
        }
    }

    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.http = self.http.with_auth(auth);
        self
    }

    /// The HTTP client this one uses (for requests outside the tracking API, e.g. the
    /// artifact proxy), with the same credentials and settings.
    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{path}", self.base_url)
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = self.url(path);
        let req = self.http.post(&url).json(body);
        self.send(url, req).await
    }

    pub(crate) async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        let url = self.url(path);
        let req = self.http.get(&url).query(query);
        self.send(url, req).await
    }

    /// Sends `req`, retried as [`Http::send`] does; a connection failure becomes
    /// [`ClientError::Transport`].
    async fn transport(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        self.http
            .send(req)
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_string(),
                source,
            })
    }

    async fn send(&self, url: String, req: reqwest::RequestBuilder) -> Result<Value> {
        let resp = self.transport(&url, req).await?;
        if !resp.status().is_success() {
            return Err(self.api_error(url, resp).await);
        }
        let text = resp.text().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|_| ClientError::Decode {
            url,
            message: format!("not JSON: {}", truncate(&text)),
        })
    }

    /// The error an unsuccessful answer carries: MLflow's `error_code` and `message` when
    /// the body has them.
    async fn api_error(&self, url: String, resp: reqwest::Response) -> ClientError {
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(source) => return ClientError::Transport { url, source },
        };
        let body: Option<Value> = serde_json::from_str(&text).ok();
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        ClientError::Api {
            status: status.as_u16(),
            error_code: field("error_code").unwrap_or_else(|| {
                if status.as_u16() == 404 {
                    "ENDPOINT_NOT_FOUND".to_string()
                } else {
                    "INTERNAL_ERROR".to_string()
                }
            }),
            message: field("message")
                .unwrap_or_else(|| format!("HTTP {status}: {}", truncate(&text))),
        }
    }
}

/// Whether `uri` is a tracking server's URL (`http://` or `https://`).
pub fn is_server_url(uri: &str) -> bool {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn truncate(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    client: &TrackingClient,
    path: &str,
    value: Value,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| ClientError::Decode {
        url: client.url(path),
        message: e.to_string(),
    })
}
