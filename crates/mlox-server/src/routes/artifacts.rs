//! Proxied artifacts (`/api/2.0/mlflow-artifacts/...`) and the tracking-side run listing.
//! Bodies stream both ways: no request or response holds a whole file in memory.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use mlox_artifacts::{ArtifactError, ArtifactRepo};
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::request::Params;
use crate::AppState;

const PREFIXES: [&str; 2] = ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"];

pub(crate) fn artifact_router() -> Router<AppState> {
    let mut r = Router::new();
    for prefix in PREFIXES {
        r = r
            .route(&format!("{prefix}/artifacts"), get(list))
            .route(&format!("{prefix}/artifacts/"), get(list))
            .route(&format!("{prefix}/artifacts/{{*path}}"), get(download).put(upload).delete(delete))
            .route(&format!("{prefix}/mpu/{{*path}}"), axum::routing::post(multipart_not_supported));
    }
    r
}

/// With `--artifacts-only`, tracking endpoints answer 503 as MLflow's do.
pub(crate) async fn tracking_gate(artifacts_only: bool, req: Request, next: Next) -> Response {
    if artifacts_only {
        let msg = format!(
            "Endpoint: {} disabled due to the mlflow server running in `--artifacts-only` mode. To enable tracking server functionality, run `mlflow server` without `--artifacts-only`",
            req.uri().path()
        );
        return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
    }
    next.run(req).await
}

/// The proxied repository, or MLflow's 503 when artifacts are not served.
fn repo(state: &AppState, path: &str) -> Result<ArtifactRepo, Response> {
    state.artifacts.repo.clone().ok_or_else(|| {
        let msg = format!(
            "Endpoint: {path} disabled due to the mlflow server running with `--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`"
        );
        (StatusCode::SERVICE_UNAVAILABLE, msg).into_response()
    })
}

fn file_infos(files: Vec<mlox_artifacts::FileInfo>, parent: Option<&str>) -> Value {
    Value::Array(
        files
            .into_iter()
            .map(|f| {
                let path = match parent.filter(|p| !p.is_empty()) {
                    Some(p) => format!("{}/{}", p.trim_end_matches('/'), f.path),
                    None => f.path,
                };
                let mut obj = Map::new();
                obj.insert("path".into(), json!(path));
                obj.insert("is_dir".into(), json!(f.is_dir));
                if let Some(size) = f.file_size {
                    obj.insert("file_size".into(), json!(size));
                }
                Value::Object(obj)
            })
            .collect(),
    )
}

async fn list(State(s): State<AppState>, uri: axum::http::Uri, p: Params) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let result: ApiResult<Json<Value>> = async {
        let path = p.opt_str("path")?.unwrap_or_default();
        let mut out = Map::new();
        if let Some(files) = repo.list(&path).await? {
            out.insert("files".into(), file_infos(files, None));
        }
        Ok(Json(Value::Object(out)))
    }
    .await;
    result.into_response()
}

async fn download(State(s): State<AppState>, uri: axum::http::Uri, Path(path): Path<String>) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match repo.get(&path).await {
        Ok(download) => {
            let name = path.rsplit('/').next().unwrap_or(&path).to_string();
            let mime = mime_guess::from_path(&name).first_or_octet_stream();
            let disposition = format!("attachment; filename=\"{}\"", name.replace('"', ""));
            let stream = download.stream.map(|r| r.map_err(std::io::Error::other));
            let mut resp = Response::new(Body::from_stream(stream));
            let h = resp.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
            if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            resp
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn upload(State(s): State<AppState>, uri: axum::http::Uri, Path(path): Path<String>, body: Body) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match repo.put_stream(&path, body.into_data_stream()).await {
        Ok(_) => Json(json!({})).into_response(),
        Err(e) => {
            if !matches!(e, ArtifactError::InvalidPath(_)) {
                tracing::warn!(path = %path, error = %e, "artifact upload failed");
            }
            ApiError::from(e).into_response()
        }
    }
}

async fn delete(State(s): State<AppState>, uri: axum::http::Uri, Path(path): Path<String>) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match repo.delete(&path).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The client uses multipart uploads only when `server-info` says they are enabled; mlox
/// streams single uploads of any size instead, so it says they are not.
async fn multipart_not_supported() -> Response {
    ApiError::new(
        mlox_core::ErrorCode::NOT_IMPLEMENTED,
        "Multipart upload is not supported by this server: upload with a single streamed PUT (any size works)",
    )
    .into_response()
}

/// Where a run's artifacts live: the proxied repository and a prefix inside it, or a
/// repository opened directly on the run's artifact URI.
fn run_repo(state: &AppState, artifact_uri: &str) -> Result<(ArtifactRepo, String), MlflowError> {
    if let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") {
        // mlflow-artifacts:/p or mlflow-artifacts://host:port/p
        let rest = rest.strip_prefix("//").map_or(rest, |r| r.find('/').map_or("", |i| &r[i..]));
        let repo = state
            .artifacts
            .repo
            .clone()
            .ok_or_else(|| MlflowError::invalid("this server does not serve artifacts (--no-serve-artifacts)"))?;
        return Ok((repo, rest.trim_start_matches('/').to_string()));
    }
    let repo = ArtifactRepo::from_uri(artifact_uri).map_err(|e| MlflowError::invalid(e.to_string()))?;
    Ok((repo, String::new()))
}

/// `GET /mlflow/artifacts/list`: paths relative to the run's artifact root.
pub(crate) async fn list_run_artifacts(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run = s.store.get_run(&p.run_id()?).await?;
    let path = mlox_artifacts::validate_artifact_path(&p.opt_str("path")?.unwrap_or_default())?;
    let (repo, prefix) = run_repo(&s, &run.info.artifact_uri)?;
    let full = [prefix.as_str(), path.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("/");
    let mut out = Map::new();
    out.insert("root_uri".into(), json!(run.info.artifact_uri));
    if let Some(files) = repo.list(&full).await? {
        out.insert("files".into(), file_infos(files, Some(&path)));
    }
    Ok(Json(Value::Object(out)))
}
