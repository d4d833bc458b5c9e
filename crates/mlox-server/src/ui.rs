//! Serves the embedded web UI (`mlox-ui`) for every GET that no API route took.
//!
//! Files under `assets/` carry a content hash and are cached forever; every other
//! path that is not a file gets `index.html` (the app routes deep links itself).
//! API paths never reach the UI: they keep MLflow's `ENDPOINT_NOT_FOUND` JSON.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Paths that belong to the API: a miss there is an API 404, never the UI.
const API_PREFIXES: &[&str] = &["/api/", "/ajax-api/"];
const API_PATHS: &[&str] = &[
    "/api",
    "/ajax-api",
    "/health",
    "/version",
    // MLflow's artifact download endpoints (not served by mlox) stay API misses.
    "/get-artifact",
    "/model-versions/get-artifact",
];

pub(crate) async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    prefix: Option<axum::Extension<crate::ops::UiPrefix>>,
) -> Response {
    let path = uri.path();
    let is_api = API_PATHS.contains(&path) || API_PREFIXES.iter().any(|p| path.starts_with(p));
    if is_api || state.artifacts.artifacts_only || (method != Method::GET && method != Method::HEAD)
    {
        return crate::not_found(uri).await;
    }
    let rel = path.trim_start_matches('/');
    let asset = match mlox_ui::get(rel) {
        Some(a) if rel != "index.html" => a,
        // A missing hashed file is a stale page asking for an old build: a plain 404,
        // not the app's HTML under a script's name.
        None if rel.starts_with("assets/") => {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        }
        // Under --static-prefix, the page rewritten for the prefix.
        _ if is_app_route(rel) && prefix.is_some() => {
            let index = prefix.map(|p| p.0 .0).unwrap_or_default();
            return (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                index,
            )
                .into_response();
        }
        _ if is_app_route(rel) => mlox_ui::index(),
        // Anything else is a 404, as on MLflow's server.
        _ => return crate::not_found(uri).await,
    };
    respond(asset, &headers)
}

/// The app's pages (see `ui/src/routes.js`): `/`, `/index.html`, `/experiments…`,
/// `/runs/…`, `/compare`, `/models…`, `/logged-models/…`, and the path forms of MLflow's
/// UI routes (`/experiments/<id>/runs/<run>`, `/compare-runs?runs=[…]`, `/metric/<key>`,
/// `/compare-experiments/…`), and `/admin/users` (the basic-auth app's users page).
fn is_app_route(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or("");
    matches!(
        first,
        "" | "index.html"
            | "experiments"
            | "runs"
            | "compare"
            | "models"
            | "logged-models"
            | "compare-runs"
            | "compare-experiments"
            | "metric"
            | "admin"
    )
}

fn respond(asset: &'static mlox_ui::Asset, headers: &HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // `br`, `gzip;q=0.5` accept; `br;q=0` refuses.
    let accepts = |enc: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            it.next().unwrap_or("").trim() == enc
                && it.all(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .is_none_or(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0))
                })
        })
    };
    let (body, encoding) = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts("br") => (br, Some("br")),
        (_, Some(gz)) if accepts("gzip") => (gz, Some("gzip")),
        _ => (asset.body, None),
    };
    let mime = mime_guess::from_path(asset.path).first_or_octet_stream();
    let content_type = if mime.type_() == "text" || mime.essence_str() == "application/javascript" {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_string()
    };
    let cache = if asset.is_immutable() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("mime types are valid header values"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(enc) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    resp
}
