//! The embedded web UI: deep links get the app, hashed assets are cached forever and
//! compressed, and API paths keep MLflow's JSON 404s.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mlox_server::{router, AppState, ArtifactsConfig};
use mlox_store::{SqlStore, StoreOptions, StoreUri};
use tower::ServiceExt;

async fn app(artifacts_only: bool) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(
        &StoreUri::Sqlite(dir.path().join("t.db")),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let store = Arc::new(store);
    let state = AppState {
        models: mlox_server::ModelsState::new(store.clone()),
        store,
        artifacts: ArtifactsConfig {
            repo: None,
            artifacts_only,
        },
    };
    (router(state), dir)
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(app: &axum::Router, method: Method, path: &str, accept: Option<&str>) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(enc) = accept {
        req = req.header(header::ACCEPT_ENCODING, enc);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

fn is_index(r: &Resp) -> bool {
    r.status == StatusCode::OK
        && r.header(header::CONTENT_TYPE) == "text/html; charset=utf-8"
        && r.header(header::CACHE_CONTROL) == "no-cache"
        && r.body == mlox_ui::index().body
}

#[tokio::test]
async fn deep_links_get_the_app() {
    let (app, _dir) = app(false).await;
    for path in [
        "/",
        "/index.html",
        "/experiments/1,2?filter=metrics.acc%20%3E%201",
        "/runs/0123abcd/artifacts/model/MLmodel",
        "/runs/0123abcd/artifacts/plot.png",
        "/models/my%20model/versions/3",
        "/compare?runs=a,b",
        "/experiments",
        "/models",
        // MLflow's UI routes in their path form (the hash form is the app's).
        "/experiments/1/runs",
        "/experiments/1/runs/0123abcd",
        "/experiments/1/runs/0123abcd/artifacts/model/MLmodel",
        "/experiments/1/models",
        "/experiments/1/models/m-0123abcd",
        "/experiments/1/traces",
        "/compare-runs?runs=%5B%22a%22%5D&experiments=%5B%221%22%5D",
        "/compare-experiments/s?experiments=%5B%221%22%2C%222%22%5D",
        "/metric/loss?runs=%5B%22a%22%5D",
        "/logged-models/m-0123abcd",
    ] {
        let r = send(&app, Method::GET, path, None).await;
        assert!(is_index(&r), "{path}: {} {:?}", r.status, r.headers);
    }
    // Paths that are no page of the app are MLflow's 404, not the app.
    for path in [
        "/definitely/not/here",
        "/apiary",
        "/healthy-runs",
        "/versions",
        "/compare-runsx",
        "/metrics/loss",
    ] {
        let r = send(&app, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    if mlox_ui::is_built() {
        let r = send(&app, Method::GET, "/", None).await;
        assert!(r.text().contains("<div id=\"app\">"), "{}", r.text());
    }
}

#[tokio::test]
async fn api_paths_keep_mlflow_404_json() {
    let (app, _dir) = app(false).await;
    for path in [
        "/api/2.0/mlflow/nothing-here",
        "/ajax-api/2.0/mlflow/nothing-here",
        "/api/2.0/mlflow-artifacts/nothing",
        "/api",
        "/ajax-api/",
        "/api/3.0/mlflow/nothing",
        "/get-artifact",
    ] {
        let r = send(&app, Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error_code"], "ENDPOINT_NOT_FOUND", "{path}");
    }
    // Only GET and HEAD reach the UI.
    let r = send(&app, Method::POST, "/experiments/1", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("ENDPOINT_NOT_FOUND"));
}

#[tokio::test]
async fn artifacts_only_server_has_no_ui() {
    let (app, _dir) = app(true).await;
    let r = send(&app, Method::GET, "/", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("ENDPOINT_NOT_FOUND"));
}

#[tokio::test]
async fn hashed_assets_are_immutable_typed_and_compressed() {
    let (app, _dir) = app(false).await;
    let r = send(&app, Method::GET, "/assets/no-such-file-1234.js", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    if !mlox_ui::is_built() {
        return;
    }
    let index = send(&app, Method::GET, "/", None).await.text();
    let js = index
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("index.html names its script");
    let css = index
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".css"))
        .expect("index.html names its stylesheet");

    let plain = send(&app, Method::GET, js, None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(
        plain.header(header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        plain.header(header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(plain.header(header::CONTENT_ENCODING), "");
    assert_eq!(plain.body, mlox_ui::get(&js[1..]).unwrap().body);

    let gz = send(&app, Method::GET, js, Some("gzip, deflate")).await;
    assert_eq!(gz.header(header::CONTENT_ENCODING), "gzip");
    assert!(gz.body.len() < plain.body.len() / 2);
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b]);
    let br = send(&app, Method::GET, js, Some("gzip, deflate, br")).await;
    assert_eq!(br.header(header::CONTENT_ENCODING), "br");
    assert!(br.body.len() <= gz.body.len());
    assert_eq!(br.header(header::VARY), "accept-encoding");
    // An encoding refused with q=0 is not used.
    let no_br = send(&app, Method::GET, js, Some("br;q=0, gzip")).await;
    assert_eq!(no_br.header(header::CONTENT_ENCODING), "gzip");
    let weighted = send(&app, Method::GET, js, Some("br;q=0.5")).await;
    assert_eq!(weighted.header(header::CONTENT_ENCODING), "br");

    let c = send(&app, Method::GET, css, None).await;
    assert_eq!(c.header(header::CONTENT_TYPE), "text/css; charset=utf-8");
}
