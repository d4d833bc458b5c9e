//! mlox-server: the MLflow-compatible tracking server.
//!
//! This is the only crate that knows MLflow's REST paths and JSON shapes. It turns HTTP
//! requests into calls on a [`TrackingStore`] and store results into MLflow's JSON.

pub mod error;
mod models;
pub mod ops;
pub mod request;
mod routes;
mod ui;
pub mod webhooks;
pub mod wire;

pub use models::ModelsState;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;
use serde_json::json;
use tokio::net::TcpListener;

/// The MLflow version whose protocol this server speaks; `/version` reports it, since
/// clients gate features on it.
pub const MLFLOW_COMPAT_VERSION: &str = "3.17.2";

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn TrackingStore>,
    pub artifacts: ArtifactsConfig,
    /// Logged models, the model registry and webhooks.
    pub models: ModelsState,
}

impl AppState {
    /// A state serving the tracking API only, without proxied artifacts.
    pub fn new<S>(store: Arc<S>) -> Self
    where
        S: TrackingStore
            + mlox_core::store::ModelRegistryStore
            + mlox_core::store::LoggedModelStore,
    {
        AppState {
            models: ModelsState::new(store.clone()),
            store,
            artifacts: ArtifactsConfig::default(),
        }
    }
}

/// How the server handles artifacts (`--serve-artifacts`, `--artifacts-only`).
#[derive(Clone, Debug, Default)]
pub struct ArtifactsConfig {
    /// The proxied artifact destination; `None` with `--no-serve-artifacts`.
    pub repo: Option<mlox_artifacts::ArtifactRepo>,
    /// Serve only the artifact routes (`--artifacts-only`).
    pub artifacts_only: bool,
}

async fn health() -> &'static str {
    "OK"
}

async fn version() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        MLFLOW_COMPAT_VERSION,
    )
        .into_response()
}

async fn server_info(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Json<serde_json::Value> {
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        // Parts go to this server and are assembled into the destination on completion.
        "multipart_uploads_enabled": state.artifacts.repo.is_some(),
        "multipart_downloads_enabled": false,
        "server": "mlox",
        "mlox_version": env!("CARGO_PKG_VERSION"),
    }))
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> Response {
    error::error_response(
        ErrorCode::ENDPOINT_NOT_FOUND,
        &format!("No API endpoint at {}", uri.path()),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let mut r = error::error_response(ErrorCode::INTERNAL_ERROR, "internal server error");
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let artifacts_only = state.artifacts.artifacts_only;
    routes::api_router()
        .layer(axum::middleware::from_fn(move |req, next| {
            routes::artifacts::tracking_gate(artifacts_only, req, next)
        }))
        .merge(routes::artifacts::artifact_router())
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(server_info))
        .fallback(ui::fallback)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

/// Serves on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
