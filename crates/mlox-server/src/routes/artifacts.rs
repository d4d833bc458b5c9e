//! Proxied artifacts (`/api/2.0/mlflow-artifacts/...`) and the tracking-side run listing.
//! Bodies stream both ways: no request or response holds a whole file in memory.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{StreamExt, TryStreamExt};
use mlox_artifacts::{ArtifactError, ArtifactRepo};
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::request::Params;
use crate::{AppState, SharedState};

const PREFIXES: [&str; 2] = [
    "/api/2.0/mlflow-artifacts",
    "/ajax-api/2.0/mlflow-artifacts",
];

pub(crate) fn artifact_router() -> Router<SharedState> {
    let mut r = Router::new();
    for prefix in PREFIXES {
        r = r
            .route(&format!("{prefix}/artifacts"), get(list))
            .route(&format!("{prefix}/artifacts/"), get(list))
            .route(
                &format!("{prefix}/artifacts/{{*path}}"),
                get(download).put(upload).delete(delete),
            )
            .route(&format!("{prefix}/mpu/create"), post(mpu_create_root))
            .route(&format!("{prefix}/mpu/create/{{*path}}"), post(mpu_create))
            .route(&format!("{prefix}/mpu/complete"), post(mpu_complete_root))
            .route(
                &format!("{prefix}/mpu/complete/{{*path}}"),
                post(mpu_complete),
            )
            .route(&format!("{prefix}/mpu/abort"), post(mpu_abort_root))
            .route(&format!("{prefix}/mpu/abort/{{*path}}"), post(mpu_abort))
            .route(
                &format!("{prefix}/mpu/part/{{upload_id}}/{{part}}"),
                axum::routing::put(mpu_part),
            );
    }
    r
}

/// With `--artifacts-only`, tracking endpoints answer 503 as MLflow's do.
pub(crate) async fn tracking_gate(req: Request, _next: Next) -> Response {
    let msg = format!(
        "Endpoint: {} disabled due to the mlflow server running in `--artifacts-only` mode. To enable tracking server functionality, run `mlflow server` without `--artifacts-only`",
        req.uri().path()
    );
    (StatusCode::SERVICE_UNAVAILABLE, msg).into_response()
}

/// The proxied repository, or MLflow's 503 when artifacts are not served.
#[allow(clippy::result_large_err)] // the error is the response itself
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

async fn download(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Path(path): Path<String>,
) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match repo.get(&path).await {
        Ok(download) => {
            let name = path.rsplit('/').next().unwrap_or(&path).to_string();
            let mime = guess_mime(&name);
            let disposition = content_disposition(&name);
            let stream = download.stream.map(|r| r.map_err(std::io::Error::other));
            let mut resp = Response::new(Body::from_stream(stream));
            let h = resp.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
            if let Ok(v) = HeaderValue::from_str(&mime) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            resp
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Extensions MLflow serves as `text/plain` (so browsers preview them).
const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "log",
    "err",
    "cfg",
    "conf",
    "cnf",
    "cf",
    "ini",
    "properties",
    "prop",
    "hocon",
    "toml",
    "yaml",
    "yml",
    "xml",
    "json",
    "js",
    "py",
    "py3",
    "csv",
    "tsv",
    "md",
    "rst",
    "ipynb",
    "MLmodel",
    "MLproject",
];

/// The content type MLflow gives an artifact.
fn guess_mime(name: &str) -> String {
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext,
        None => name,
    };
    if TEXT_EXTENSIONS.contains(&ext) {
        return "text/plain".to_string();
    }
    mime_guess::from_path(name)
        .first_or_octet_stream()
        .to_string()
}

/// `Content-Disposition: attachment` with an ASCII name, plus an RFC 5987 `filename*`
/// when the name is not ASCII.
fn content_disposition(name: &str) -> String {
    let quoted = |s: &str| format!("\"{}\"", s.replace(['"', '\\'], ""));
    if name.is_ascii() {
        return format!("attachment; filename={}", quoted(name));
    }
    let fallback: String = name.chars().filter(char::is_ascii).collect();
    let fallback = if fallback.is_empty() {
        "download".to_string()
    } else {
        fallback
    };
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "attachment; filename={}; filename*=UTF-8''{encoded}",
        quoted(&fallback)
    )
}

async fn upload(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Path(path): Path<String>,
    body: Body,
) -> Response {
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

async fn delete(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Path(path): Path<String>,
) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match repo.delete(&path).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

// ---------------------------------------------------------------- multipart uploads
//
// MLflow's client uploads files of 500 MiB and more in parts when `server-info` says the
// server supports it: `mpu/create` hands out one URL per part, the client PUTs the parts
// (in parallel), then `mpu/complete` lists them. mlox's part URLs point back at itself;
// parts are staged as files on the server's disk and streamed, in order, into the
// destination on completion (any destination, flat memory).

fn staging_root() -> std::path::PathBuf {
    std::env::temp_dir().join("mlox-mpu")
}

fn staging_dir(upload_id: &str) -> Result<std::path::PathBuf, MlflowError> {
    if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MlflowError::invalid(format!(
            "Invalid upload_id '{upload_id}'"
        )));
    }
    Ok(staging_root().join(upload_id))
}

/// The final artifact path: the request's directory joined with the local file's name.
fn mpu_target(dir: &str, p: &Params) -> Result<String, MlflowError> {
    let local = p.req_str("path")?;
    let name = local
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&local)
        .to_string();
    let joined = if dir.trim_matches('/').is_empty() {
        name
    } else {
        format!("{}/{name}", dir.trim_matches('/'))
    };
    mlox_artifacts::validate_artifact_path(&joined).map_err(|e| MlflowError::invalid(e.to_string()))
}

fn base_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

async fn mpu_create_root(
    s: State<AppState>,
    uri: axum::http::Uri,
    original: axum::extract::OriginalUri,
    headers: axum::http::HeaderMap,
    p: Params,
) -> Response {
    mpu_create(s, uri, original, headers, Path(String::new()), p).await
}

async fn mpu_create(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    original: axum::extract::OriginalUri,
    headers: axum::http::HeaderMap,
    Path(dir): Path<String>,
    p: Params,
) -> Response {
    if let Err(resp) = repo(&s, uri.path()) {
        return resp;
    }
    let result: ApiResult<Json<Value>> = async {
        let target = mpu_target(&dir, &p)?;
        let num_parts = p.opt_i64("num_parts")?.unwrap_or(1);
        if !(1..=10_000).contains(&num_parts) {
            return Err(MlflowError::invalid(format!(
                "num_parts must be between 1 and 10000, got {num_parts}"
            ))
            .into());
        }
        let upload_id = format!("{:032x}", rand_u128());
        let staging = staging_dir(&upload_id)?;
        tokio::fs::create_dir_all(&staging)
            .await
            .map_err(|e| MlflowError::internal(format!("cannot stage upload: {e}")))?;
        tokio::fs::write(staging.join("target"), &target)
            .await
            .map_err(|e| MlflowError::internal(e.to_string()))?;
        // Under --static-prefix the router sees the path without it; the client needs it.
        let static_prefix = original.0.path().strip_suffix(uri.path()).unwrap_or("");
        let base = format!("{}{static_prefix}", base_url(&headers));
        let prefix = if uri.path().starts_with("/ajax-api") {
            "/ajax-api"
        } else {
            "/api"
        };
        let credentials: Vec<Value> = (1..=num_parts)
            .map(|n| {
                json!({
                    "url": format!("{base}{prefix}/2.0/mlflow-artifacts/mpu/part/{upload_id}/{n}"),
                    "part_number": n,
                    "headers": {},
                })
            })
            .collect();
        Ok(Json(
            json!({ "upload_id": upload_id, "credentials": credentials }),
        ))
    }
    .await;
    result.into_response()
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut out = 0u128;
    for i in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
                + i,
        );
        out = (out << 64) | u128::from(h.finish());
    }
    out
}

async fn mpu_part(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Path((upload_id, part)): Path<(String, u32)>,
    body: Body,
) -> Response {
    if let Err(resp) = repo(&s, uri.path()) {
        return resp;
    }
    let result: Result<String, ApiError> = async {
        let staging = staging_dir(&upload_id)?;
        if !tokio::fs::try_exists(staging.join("target"))
            .await
            .unwrap_or(false)
        {
            return Err(MlflowError::not_found(format!(
                "No multipart upload with id '{upload_id}'"
            ))
            .into());
        }
        let tmp = staging.join(format!("{part}.partial"));
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| MlflowError::internal(e.to_string()))?;
        let mut stream = body.into_data_stream();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                MlflowError::new(
                    mlox_core::ErrorCode::BAD_REQUEST,
                    format!("upload interrupted: {e}"),
                )
            })?;
            size += chunk.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| MlflowError::internal(e.to_string()))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| MlflowError::internal(e.to_string()))?;
        tokio::fs::rename(&tmp, staging.join(part.to_string()))
            .await
            .map_err(|e| MlflowError::internal(e.to_string()))?;
        Ok(format!("\"{upload_id}-{part}-{size}\""))
    }
    .await;
    match result {
        Ok(etag) => {
            let mut resp = Json(json!({})).into_response();
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn mpu_complete_root(s: State<AppState>, uri: axum::http::Uri, p: Params) -> Response {
    mpu_complete(s, uri, Path(String::new()), p).await
}

async fn mpu_complete(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Path(dir): Path<String>,
    p: Params,
) -> Response {
    let repo = match repo(&s, uri.path()) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let result: ApiResult<Json<Value>> = async {
        let upload_id = p.req_str("upload_id")?;
        let staging = staging_dir(&upload_id)?;
        let target = mpu_target(&dir, &p)?;
        let recorded = tokio::fs::read_to_string(staging.join("target"))
            .await
            .map_err(|_| {
                MlflowError::not_found(format!("No multipart upload with id '{upload_id}'"))
            })?;
        if recorded != target {
            return Err(MlflowError::invalid(format!(
                "upload {upload_id} was created for '{recorded}', not '{target}'"
            ))
            .into());
        }
        let mut numbers = Vec::new();
        for part in p.obj_list("parts")? {
            let n = part
                .get("part_number")
                .map(|v| crate::request::value_i64("part_number", v))
                .transpose()?
                .ok_or_else(|| MlflowError::invalid("each part needs a part_number"))?;
            numbers.push(n);
        }
        numbers.sort_unstable();
        if numbers.is_empty() {
            return Err(MlflowError::invalid("a multipart upload needs at least one part").into());
        }
        let mut files = Vec::with_capacity(numbers.len());
        for n in &numbers {
            let path = staging.join(n.to_string());
            if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return Err(MlflowError::invalid(format!(
                    "part {n} of upload {upload_id} was never uploaded"
                ))
                .into());
            }
            files.push(path);
        }
        // Stream the parts, in order, into the destination.
        let stream = futures::stream::iter(files)
            .then(|path| async move { tokio::fs::File::open(path).await })
            .map_ok(|file| tokio_util::io::ReaderStream::with_capacity(file, 1 << 20))
            .try_flatten();
        repo.put_stream(&target, stream).await?;
        let _ = tokio::fs::remove_dir_all(&staging).await;
        Ok(Json(json!({})))
    }
    .await;
    result.into_response()
}

async fn mpu_abort_root(s: State<AppState>, uri: axum::http::Uri, p: Params) -> Response {
    mpu_abort(s, uri, Path(String::new()), p).await
}

async fn mpu_abort(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Path(_dir): Path<String>,
    p: Params,
) -> Response {
    if let Err(resp) = repo(&s, uri.path()) {
        return resp;
    }
    let result: ApiResult<Json<Value>> = async {
        let staging = staging_dir(&p.req_str("upload_id")?)?;
        let _ = tokio::fs::remove_dir_all(&staging).await;
        Ok(Json(json!({})))
    }
    .await;
    result.into_response()
}

/// Where a run's artifacts live: the proxied repository and a prefix inside it, or a
/// repository opened directly on the run's artifact URI.
fn run_repo(state: &AppState, artifact_uri: &str) -> Result<(ArtifactRepo, String), MlflowError> {
    if let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") {
        // mlflow-artifacts:/p or mlflow-artifacts://host:port/p
        let rest = rest
            .strip_prefix("//")
            .map_or(rest, |r| r.find('/').map_or("", |i| &r[i..]));
        let repo = state.artifacts.repo.clone().ok_or_else(|| {
            MlflowError::invalid("this server does not serve artifacts (--no-serve-artifacts)")
        })?;
        return Ok((repo, rest.trim_start_matches('/').to_string()));
    }
    let repo =
        ArtifactRepo::from_uri(artifact_uri).map_err(|e| MlflowError::invalid(e.to_string()))?;
    Ok((repo, String::new()))
}

/// `GET /mlflow/artifacts/list`: paths relative to the run's artifact root.
pub(crate) async fn list_run_artifacts(
    State(s): State<AppState>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let run = s.store.get_run(&p.run_id()?).await?;
    let path = mlox_artifacts::validate_artifact_path(&p.opt_str("path")?.unwrap_or_default())?;
    let (repo, prefix) = run_repo(&s, &run.info.artifact_uri)?;
    let full = [prefix.as_str(), path.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    let mut out = Map::new();
    out.insert("root_uri".into(), json!(run.info.artifact_uri));
    if let Some(files) = repo.list(&full).await? {
        out.insert("files".into(), file_infos(files, Some(&path)));
    }
    Ok(Json(Value::Object(out)))
}
