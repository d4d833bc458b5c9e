//! The REST API in process: requests in, MLflow-shaped responses out.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mlox_artifacts::ArtifactRepo;
use mlox_server::{router, AppState, ArtifactsConfig};
use mlox_store::{SqlStore, StoreOptions, StoreUri};
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(
        &StoreUri::Sqlite(dir.path().join("t.db")),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let store = Arc::new(store);
    App {
        router: router(AppState {
            models: mlox_server::ModelsState::new(store.clone()),
            store,
            artifacts: ArtifactsConfig {
                repo: Some(
                    ArtifactRepo::from_uri(dir.path().join("art").to_str().unwrap()).unwrap(),
                ),
                artifacts_only: false,
            },
        }),
        _dir: dir,
    }
}

impl App {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }
}

fn error_code(body: &Value) -> &str {
    body["error_code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn health_version_and_server_info() {
    let app = app().await;
    assert_eq!(app.get("/health").await, (StatusCode::OK, json!("OK")));
    assert_eq!(app.get("/version").await.1, json!("3.17.2"));
    let (status, info) = app.get("/api/3.0/mlflow/server-info").await;
    assert_eq!(status, StatusCode::OK);
    // This app proxies artifacts, so it offers multipart uploads.
    assert_eq!(info["multipart_uploads_enabled"], json!(true));
}

#[tokio::test]
async fn experiment_round_trip_on_both_prefixes() {
    let app = app().await;
    let (status, created) = app
        .post(
            "/api/2.0/mlflow/experiments/create",
            json!({"name": "e1", "tags": [{"key": "a", "value": "b"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = created["experiment_id"].as_str().unwrap().to_string();
    let (status, got) = app
        .get(&format!(
            "/ajax-api/2.0/mlflow/experiments/get?experiment_id={id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["experiment"]["name"], json!("e1"));
    assert_eq!(
        got["experiment"]["artifact_location"],
        json!(format!("mlflow-artifacts:/{id}"))
    );
    assert_eq!(
        got["experiment"]["tags"],
        json!([{"key": "a", "value": "b"}])
    );
    let (status, dup) = app
        .post("/api/2.0/mlflow/experiments/create", json!({"name": "e1"}))
        .await;
    assert_eq!(
        (status, error_code(&dup)),
        (StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS")
    );
    let (status, missing) = app
        .get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope")
        .await;
    assert_eq!(
        (status, error_code(&missing)),
        (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST")
    );
}

/// mlox's own run counts (the web UI's experiment list): GET or POST, both prefixes.
#[tokio::test]
async fn run_counts_per_experiment() {
    let app = app().await;
    let (_, created) = app
        .post(
            "/api/2.0/mlflow/experiments/create",
            json!({"name": "counted"}),
        )
        .await;
    let id = created["experiment_id"].as_str().unwrap().to_string();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (_, run) = app
            .post("/api/2.0/mlflow/runs/create", json!({"experiment_id": id}))
            .await;
        runs.push(run["run"]["info"]["run_id"].as_str().unwrap().to_string());
    }
    app.post("/api/2.0/mlflow/runs/delete", json!({"run_id": runs[0]}))
        .await;
    let (status, body) = app
        .post(
            "/ajax-api/2.0/mlox/experiments/run-counts",
            json!({"experiment_ids": [id, "0"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"run_counts": [
            {"experiment_id": id, "active": 2, "total": 3},
            {"experiment_id": "0", "active": 0, "total": 0},
        ]})
    );
    let (status, got) = app
        .get(&format!(
            "/api/2.0/mlox/experiments/run-counts?experiment_ids={id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["run_counts"][0]["active"], json!(2));
    let (status, bad) = app
        .get("/api/2.0/mlox/experiments/run-counts?experiment_ids=abc")
        .await;
    assert_eq!(
        (status, error_code(&bad)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    let too_many: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let (status, _) = app
        .post(
            "/api/2.0/mlox/experiments/run-counts",
            json!({ "experiment_ids": too_many }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Other mlox paths stay MLflow's not-found.
    let (status, missing) = app.get("/ajax-api/2.0/mlox/experiments/nope").await;
    assert_eq!(
        (status, error_code(&missing)),
        (StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND")
    );
}

#[tokio::test]
async fn runs_metrics_with_non_finite_values() {
    let app = app().await;
    let (_, run) = app
        .post(
            "/api/2.0/mlflow/runs/create",
            json!({"experiment_id": "0", "start_time": "123"}),
        )
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(run["run"]["info"]["start_time"], json!(123));
    assert_eq!(run["run"]["info"]["status"], json!("RUNNING"));
    for v in [
        json!("NaN"),
        json!("Infinity"),
        json!("-Infinity"),
        json!(1.5),
    ] {
        let (status, body) = app
            .post(
                "/api/2.0/mlflow/runs/log-metric",
                json!({"run_id": run_id, "key": "m", "value": v, "timestamp": 5, "step": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, hist) = app
        .get(&format!(
            "/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=m"
        ))
        .await;
    let values: Vec<Value> = hist["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    // NaN is stored as 0 with a flag, as MLflow does, so it orders like 0 here.
    // Infinities are clamped to the largest doubles, as MLflow stores them.
    assert_eq!(
        values,
        vec![json!(f64::MIN), json!("NaN"), json!(1.5), json!(f64::MAX)]
    );
}

#[tokio::test]
async fn bad_input_gets_mlflow_errors_and_the_next_request_is_served() {
    let app = app().await;
    // Malformed JSON is an empty request, as on MLflow (Flask's silent `get_json`):
    // here the required name is missing.
    let (status, body) = app
        .send(
            Request::post("/api/2.0/mlflow/experiments/create")
                .header("content-type", "application/json")
                .body(Body::from("{\"name\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Missing value for required parameter 'name'"));
    // Missing content type
    let (status, body) = app
        .send(
            Request::post("/api/2.0/mlflow/experiments/create")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "Bad Request. Content-Type header is missing."
        )
    );
    // Wrong types
    let (status, body) = app
        .post(
            "/api/2.0/mlflow/runs/search",
            json!({"experiment_ids": ["0"], "max_results": "lots"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    // Missing required field
    let (status, body) = app
        .post(
            "/api/2.0/mlflow/experiments/create",
            json!({"unknown_field": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Missing value for required parameter 'name'"));
    // SQL-looking text is data
    let evil = "x'); DROP TABLE runs; --";
    let (status, _) = app
        .post("/api/2.0/mlflow/experiments/create", json!({"name": evil}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/2.0/mlflow/runs/search",
            json!({"experiment_ids": ["0"], "filter": "params.a = 'x' OR 1=1"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    // Invalid page token
    let (status, body) = app
        .post(
            "/api/2.0/mlflow/runs/search",
            json!({"experiment_ids": ["0"], "page_token": "%%%"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    // A crafted page token whose offset does not fit a SQL bigint (base64 of
    // {"offset": 18446744073709551615}) is a bad parameter, not a 500 or page 1.
    for search in [
        "/api/2.0/mlflow/runs/search",
        "/api/2.0/mlflow/experiments/search",
    ] {
        let (status, body) = app
            .post(
                search,
                json!({"experiment_ids": ["0"], "page_token": "eyJvZmZzZXQiOiAxODQ0Njc0NDA3MzcwOTU1MTYxNX0="}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            "{search}: {body}"
        );
    }
    // Unknown endpoint
    let (status, body) = app.get("/api/2.0/mlflow/nothing-here").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND")
    );
    // Oversized body
    let big = "x".repeat(33 * 1024 * 1024);
    let (status, body) = app
        .send(
            Request::post("/api/2.0/mlflow/experiments/create")
                .header("content-type", "application/json")
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error_code"].is_string());
    // Still serving, nothing damaged.
    let (status, body) = app
        .get(&format!(
            "/api/2.0/mlflow/experiments/get-by-name?experiment_name={}",
            "x%27%29%3B%20DROP%20TABLE%20runs%3B%20--"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["experiment"]["name"], json!(evil));
    let (status, _) = app
        .post(
            "/api/2.0/mlflow/runs/search",
            json!({"experiment_ids": ["0"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn log_batch_limits() {
    let app = app().await;
    let (_, run) = app
        .post("/api/2.0/mlflow/runs/create", json!({"experiment_id": "0"}))
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let params: Vec<Value> = (0..101)
        .map(|i| json!({"key": format!("p{i}"), "value": "v"}))
        .collect();
    let (status, body) = app
        .post(
            "/api/2.0/mlflow/runs/log-batch",
            json!({"run_id": run_id, "params": params}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        json!("A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.")
    );
    let metrics: Vec<Value> = (0..1000)
        .map(|i| json!({"key": "m", "value": i, "timestamp": i, "step": i}))
        .collect();
    let (status, _) = app
        .post(
            "/api/2.0/mlflow/runs/log-batch",
            json!({"run_id": run_id, "metrics": metrics}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, got) = app
        .get(&format!("/api/2.0/mlflow/runs/get?run_id={run_id}"))
        .await;
    assert_eq!(
        got["run"]["data"]["metrics"][0],
        json!({"key": "m", "value": 999.0, "timestamp": 999, "step": 999})
    );
}

#[tokio::test]
async fn proxied_artifacts_round_trip_and_refuse_traversal() {
    let app = app().await;
    let put = |path: &str, body: &'static str| {
        Request::put(format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _) = app
        .send(put(
            "1/abc/artifacts/dir/hello%20w%C3%B6rld.txt",
            "hi there",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = app
        .router
        .clone()
        .oneshot(
            Request::get(
                "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/dir/hello%20w%C3%B6rld.txt",
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"hello wrld.txt\"; filename*=UTF-8''hello%20w%C3%B6rld.txt"
    );
    assert_eq!(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .as_ref(),
        b"hi there"
    );
    let (status, listing) = app
        .get("/api/2.0/mlflow-artifacts/artifacts?path=1/abc/artifacts")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listing, json!({"files": [{"path": "dir", "is_dir": true}]}));
    let (_, listing) = app
        .get("/ajax-api/2.0/mlflow-artifacts/artifacts?path=1/abc/artifacts/dir")
        .await;
    assert_eq!(
        listing,
        json!({"files": [{"path": "hello wörld.txt", "is_dir": false, "file_size": 8}]})
    );
    // A file or a missing path lists as {}.
    assert_eq!(
        app.get("/api/2.0/mlflow-artifacts/artifacts?path=nope")
            .await,
        (StatusCode::OK, json!({}))
    );
    let (status, body) = app
        .get("/api/2.0/mlflow-artifacts/artifacts/1/missing.txt")
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST")
    );
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "a/%2e%2e/%2e%2e/x",
        "a/..%5C..%5Cx",
        "%2Fetc%2Fpasswd",
        "a/%252e%252e/x",
    ] {
        let (status, body) = app.send(put(bad, "x")).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            "{bad}"
        );
        let (status, _) = app
            .get(&format!("/api/2.0/mlflow-artifacts/artifacts/{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, _) = app
        .send(
            Request::delete("/api/2.0/mlflow-artifacts/artifacts/1/abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/api/2.0/mlflow-artifacts/artifacts?path=1")
            .await
            .1,
        json!({})
    );
}

#[tokio::test]
async fn run_artifact_listing_is_relative_to_the_run_root() {
    let app = app().await;
    let (_, run) = app
        .post("/api/2.0/mlflow/runs/create", json!({"experiment_id": "0"}))
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let uri = run["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let rel = uri.strip_prefix("mlflow-artifacts:/").unwrap();
    let req = Request::put(format!(
        "/api/2.0/mlflow-artifacts/artifacts/{rel}/model/MLmodel"
    ))
    .body(Body::from("flavors: {}"))
    .unwrap();
    assert_eq!(app.send(req).await.0, StatusCode::OK);
    let (status, body) = app
        .get(&format!(
            "/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=model"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"root_uri": uri, "files": [{"path": "model/MLmodel", "is_dir": false, "file_size": 11}]})
    );
}

/// Issue #18: MLflow reads a request body with Flask's `get_json(force=True, silent=True)`,
/// so a body that is not JSON is answered exactly as an empty body is, never with an error
/// of its own (no BAD_REQUEST, no parse message).
#[tokio::test]
async fn malformed_json_body_is_answered_as_an_empty_body() {
    let app = app().await;
    let raw = |path: &str, body: &'static [u8]| {
        Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    for path in [
        "/api/2.0/mlflow/runs/log-batch",
        "/api/2.0/mlflow/experiments/create",
        "/api/2.0/mlflow/registered-models/create",
    ] {
        let empty = app.send(raw(path, b"")).await;
        assert_eq!(empty.0, StatusCode::BAD_REQUEST, "{path}: {}", empty.1);
        assert_eq!(error_code(&empty.1), "INVALID_PARAMETER_VALUE", "{path}");
        for body in [&b"{not json"[..], b"{\"run_id\": ", b"\xff\xfe"] {
            assert_eq!(app.send(raw(path, body)).await, empty, "{path} {body:?}");
        }
    }
    // A search with an unreadable body is a search with no criteria.
    let (status, body) = app
        .send(raw("/api/2.0/mlflow/experiments/search", b"{not json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["experiments"][0]["name"], "Default");
}
