//! mlox-server: the MLflow-compatible tracking server.
//!
//! This is the only crate that knows MLflow's REST paths and JSON shapes. It turns HTTP
//! requests into calls on a [`TrackingStore`] and store results into MLflow's JSON.

pub mod auth;
pub mod error;
mod models;
pub mod ops;
mod otlp;
pub mod request;
mod routes;
pub mod security;
mod trace_wire;
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

/// What the router holds: every per-route layer clones the route it wraps for each
/// request, and with it the state, so the router keeps one reference-counted copy (one
/// atomic increment per clone). Handlers still take `State<AppState>` ([`FromRef`]).
pub(crate) type SharedState = Arc<AppState>;

impl axum::extract::FromRef<SharedState> for AppState {
    fn from_ref(shared: &SharedState) -> AppState {
        AppState::clone(shared)
    }
}

impl AppState {
    /// A state serving the tracking API only, without proxied artifacts.
    pub fn new<S>(store: Arc<S>) -> Self
    where
        S: TrackingStore
            + mlox_core::store::ModelRegistryStore
            + mlox_core::store::LoggedModelStore
            + mlox_core::trace::TraceStore
            + mlox_core::eval::EvalStore,
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
        // MLflow answers these true: it serves presigned artifact upload URLs. mlox has no
        // such endpoint yet, so it says so rather than invite a call that would 404.
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
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
    let mut api = routes::api_router();
    if state.artifacts.artifacts_only {
        // Every layer costs each request a clone of the route it wraps: this one is there
        // only when it refuses something.
        api = api.layer(axum::middleware::from_fn(routes::artifacts::tracking_gate));
    }
    api.merge(routes::artifacts::artifact_router())
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(server_info))
        .fallback(ui::fallback)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(Arc::new(state))
}

/// Serves on an already bound listener until `shutdown` resolves, behind the default
/// [`Guards`] (MLflow's secure defaults).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Guards::default(), shutdown).await
}

/// What stands in front of every handler: the security middleware (Host check, CORS,
/// security headers), then, with `--app-name basic-auth`, authentication and
/// authorization. A request refused by either reaches no handler.
#[derive(Clone, Debug, Default)]
pub struct Guards {
    pub security: security::SecurityConfig,
    pub auth: Option<Arc<auth::Auth>>,
}

/// [`router`] behind its [`Guards`].
pub fn guarded_router(state: AppState, guards: Guards) -> Router {
    let app = router(state);
    let app = match guards.auth {
        Some(auth) => auth.wrap(app),
        None => app,
    };
    guards.security.wrap(app)
}

/// [`serve`] with explicit [`Guards`].
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    guards: Guards,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        guarded_router(state, guards).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
