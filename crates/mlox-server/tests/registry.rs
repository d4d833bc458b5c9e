//! Logged models, the model registry and webhooks over HTTP: MLflow's shapes and codes,
//! and webhook deliveries to a receiver on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use mlox_server::webhooks::WebhookConfig;
use mlox_server::{router, AppState, ModelsState};
use mlox_store::{SqlStore, StoreOptions, StoreUri};
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlStore::open(
            &StoreUri::Sqlite(dir.path().join("t.db")),
            StoreOptions::default(),
        )
        .await
        .unwrap(),
    );
    let mut state = AppState::new(store.clone());
    // Deliveries go to a receiver on loopback, over plain HTTP, with quick retries.
    state.models = ModelsState::with_webhook_config(
        store,
        WebhookConfig {
            allowed_schemes: vec!["http".into(), "https".into()],
            allow_private_ips: true,
            backoff: Duration::from_millis(50),
            ..WebhookConfig::default()
        },
    );
    App {
        router: router(state),
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

    async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            Request::builder()
                .method(method)
                .uri(format!("/api/2.0/mlflow{path}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, body).await
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        self.send(
            Request::get(format!("/api/2.0/mlflow{path_and_query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, out) = self.call(method, path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {out}");
        out
    }
}

fn error_code(body: &Value) -> &str {
    body["error_code"].as_str().unwrap_or("<none>")
}

/// Replaces timestamps and ids with placeholders so whole bodies can be compared.
fn redact(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, val) in m.iter_mut() {
                    if k.ends_with("timestamp") || k.ends_with("timestamp_ms") {
                        *val = json!("<ts>");
                    } else if matches!(k.as_str(), "model_id" | "run_id" | "source_run_id")
                        && val.is_string()
                    {
                        *val = json!("<id>");
                    } else {
                        walk(val);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

async fn experiment_and_run(app: &App, name: &str) -> (String, String) {
    let exp = app
        .ok("POST", "/experiments/create", json!({"name": name}))
        .await["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = app
        .ok("POST", "/runs/create", json!({"experiment_id": exp}))
        .await["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    (exp, run)
}

#[tokio::test]
async fn logged_model_flow_as_log_model_drives_it() {
    let app = app().await;
    let (exp, run) = experiment_and_run(&app, "lm").await;
    let created = app
        .ok(
            "POST",
            "/logged-models",
            json!({"experiment_id": exp, "name": "model", "source_run_id": run,
                   "tags": [{"key": "mlflow.user", "value": "me"}],
                   "params": [{"key": "alpha", "value": "0.5"}]}),
        )
        .await;
    let id = created["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        redact(created),
        json!({"model": {
            "info": {
                "model_id": "<id>", "experiment_id": exp, "name": "model",
                "creation_timestamp_ms": "<ts>", "last_updated_timestamp_ms": "<ts>",
                "artifact_uri": format!("mlflow-artifacts:/{exp}/models/{id}/artifacts"),
                "status": "LOGGED_MODEL_PENDING", "source_run_id": "<id>", "model_type": "",
                "tags": [{"key": "mlflow.user", "value": "me"}],
            },
            "data": {"params": [{"key": "alpha", "value": "0.5"}]},
        }})
    );
    app.ok(
        "POST",
        "/runs/outputs",
        json!({"run_id": run, "models": [{"model_id": id, "step": 0}]}),
    )
    .await;
    let (_, got) = app.get(&format!("/runs/get?run_id={run}")).await;
    assert_eq!(
        got["run"]["outputs"],
        json!({"model_outputs": [{"model_id": id, "step": 0}]})
    );
    let fin = app
        .ok(
            "PATCH",
            &format!("/logged-models/{id}"),
            json!({"model_id": id, "status": "LOGGED_MODEL_READY"}),
        )
        .await;
    assert_eq!(fin["model"]["info"]["status"], "LOGGED_MODEL_READY");
    assert_eq!(
        app.ok(
            "PATCH",
            &format!("/logged-models/{id}/tags"),
            json!({"tags": [{"key": "k", "value": "v"}]})
        )
        .await,
        json!({})
    );
    app.ok(
        "POST",
        &format!("/logged-models/{id}/params"),
        json!({"params": [{"key": "beta", "value": "1"}]}),
    )
    .await;
    app.ok(
        "POST",
        "/runs/log-metric",
        json!({"run_id": run, "key": "acc", "value": 0.75, "timestamp": 5, "step": 2, "model_id": id}),
    )
    .await;
    let (_, got) = app.get(&format!("/logged-models/{id}")).await;
    assert_eq!(
        got["model"]["data"]["metrics"],
        json!([{"key": "acc", "value": 0.75, "timestamp": 5, "step": 2, "model_id": id, "run_id": run}])
    );
    assert_eq!(
        got["model"]["info"]["tags"],
        json!([{"key": "k", "value": "v"}, {"key": "mlflow.user", "value": "me"}])
    );

    let found = app
        .ok(
            "POST",
            "/logged-models/search",
            json!({"experiment_ids": [exp], "filter": "name = 'model'"}),
        )
        .await;
    assert_eq!(found["models"][0]["info"]["model_id"], id);
    let none = app
        .ok(
            "POST",
            "/logged-models/search",
            json!({"experiment_ids": [exp], "filter": "name = 'other'"}),
        )
        .await;
    assert_eq!(none, json!({}));
    let ordered = app
        .ok(
            "POST",
            "/logged-models/search",
            json!({"experiment_ids": [exp], "order_by": [{"field_name": "metrics.acc", "ascending": false}], "max_results": 1}),
        )
        .await;
    assert_eq!(ordered["models"].as_array().unwrap().len(), 1);
    let (status, body) = app
        .post(
            "/logged-models/search",
            json!({"experiment_ids": [exp], "order_by": [{"field_name": "params.x"}]}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    assert_eq!(
        body["message"],
        "Invalid order by field name: params.x. Only metrics are supported."
    );
    let (status, body) = app.post("/logged-models/search", json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );

    app.ok("DELETE", &format!("/logged-models/{id}/tags/k"), json!({}))
        .await;
    let (status, body) = app
        .call("DELETE", &format!("/logged-models/{id}/tags/k"), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST")
    );
    app.ok("DELETE", &format!("/logged-models/{id}"), json!({}))
        .await;
    let (status, body) = app.get(&format!("/logged-models/{id}")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": format!("Logged model with ID '{id}' not found.")})
        )
    );
    let (status, _) = app
        .get(&format!("/logged-models/{id}?allow_deleted=true"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.post("/logged-models", json!({"name": "x"})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
}

#[tokio::test]
async fn registry_shapes_and_errors() {
    let app = app().await;
    let (exp, run) = experiment_and_run(&app, "reg").await;
    let rm = app
        .ok(
            "POST",
            "/registered-models/create",
            json!({"name": "lin", "tags": [{"key": "t", "value": "1"}], "description": "d"}),
        )
        .await;
    assert_eq!(
        redact(rm),
        json!({"registered_model": {"name": "lin", "creation_timestamp": "<ts>", "last_updated_timestamp": "<ts>", "description": "d", "tags": [{"key": "t", "value": "1"}]}})
    );
    let (status, body) = app
        .post("/registered-models/create", json!({"name": "lin"}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Registered Model (name=lin) already exists."})
        )
    );
    let (status, body) = app.post("/registered-models/create", json!({})).await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "Missing value for required parameter 'name'. See the API docs for more information about request parameters."
        )
    );
    let (status, body) = app
        .post("/registered-models/create", json!({"name": "a/b"}))
        .await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (
            StatusCode::BAD_REQUEST,
            "Invalid model name 'a/b'. Names cannot contain '/' or ':'."
        )
    );

    let mv = app
        .ok(
            "POST",
            "/model-versions/create",
            json!({"name": "lin", "source": format!("runs:/{run}/model"), "run_id": run}),
        )
        .await;
    assert_eq!(
        redact(mv),
        json!({"model_version": {
            "name": "lin", "version": "1", "creation_timestamp": "<ts>", "last_updated_timestamp": "<ts>",
            "description": "", "current_stage": "None", "source": format!("runs:/{run}/model"),
            "run_id": "<id>", "run_link": "", "status": "READY",
        }})
    );
    let (status, body) = app
        .post(
            "/model-versions/create",
            json!({"name": "lin", "source": "runs:/other/model"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    assert_eq!(
        body["message"],
        "Invalid model version source: 'runs:/other/model'. The run_id request parameter must identify the resource that contains the source."
    );

    let (status, body) = app.get("/model-versions/get?name=lin&version=7").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Model Version (name=lin, version=7) not found"})
        )
    );
    let (status, body) = app.get("/registered-models/get?name=nope").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST")
    );

    // Aliases: POST / GET / DELETE on one path.
    app.ok(
        "POST",
        "/registered-models/alias",
        json!({"name": "lin", "alias": "champ", "version": "1"}),
    )
    .await;
    let (_, by_alias) = app
        .get("/registered-models/alias?name=lin&alias=champ")
        .await;
    assert_eq!(by_alias["model_version"]["aliases"], json!(["champ"]));
    let (_, got) = app.get("/registered-models/get?name=lin").await;
    assert_eq!(
        got["registered_model"]["aliases"],
        json!([{"alias": "champ", "version": "1"}])
    );
    assert_eq!(
        got["registered_model"]["latest_versions"][0]["version"],
        "1"
    );
    for (alias, message) in [
        ("latest", "'latest' alias name (case insensitive) is reserved."),
        ("v2", "Version alias name 'v2' is reserved."),
        ("a b", "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."),
    ] {
        let (status, body) = app
            .post(
                "/registered-models/alias",
                json!({"name": "lin", "alias": alias, "version": "1"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{alias}");
        assert_eq!(body["message"], message);
    }
    app.ok(
        "DELETE",
        "/registered-models/alias",
        json!({"name": "lin", "alias": "champ"}),
    )
    .await;
    let (status, body) = app
        .get("/registered-models/alias?name=lin&alias=champ")
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );

    // Stages and latest versions (POST, as the client sends it).
    let t = app
        .ok(
            "POST",
            "/model-versions/transition-stage",
            json!({"name": "lin", "version": "1", "stage": "staging", "archive_existing_versions": false}),
        )
        .await;
    assert_eq!(t["model_version"]["current_stage"], "Staging");
    let (status, body) = app
        .post(
            "/model-versions/transition-stage",
            json!({"name": "lin", "version": "1", "stage": "Archived", "archive_existing_versions": true}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
    );
    let latest = app
        .ok(
            "POST",
            "/registered-models/get-latest-versions",
            json!({"name": "lin", "stages": ["Staging"]}),
        )
        .await;
    assert_eq!(latest["model_versions"][0]["version"], "1");
    let (_, latest) = app
        .get("/registered-models/get-latest-versions?name=lin&stages=Production")
        .await;
    assert_eq!(latest, json!({}));

    // Searches (GET with query parameters, as the client sends them).
    let (_, found) = app
        .get("/registered-models/search?filter=name+LIKE+%27li%25%27+AND+tag.%60mlflow.prompt.is_prompt%60+%21%3D+%27true%27&max_results=100")
        .await;
    assert_eq!(found["registered_models"][0]["name"], "lin");
    let (status, body) = app.get("/registered-models/search?max_results=1001").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE")
    );
    assert_eq!(
        body["message"],
        "Invalid value \"1001\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'. See the API docs for more information about request parameters."
    );
    let (_, found) = app
        .get(&format!(
            "/model-versions/search?filter=run_id+%3D+%27{run}%27"
        ))
        .await;
    assert_eq!(found["model_versions"][0]["version"], "1");
    let (_, uri) = app
        .get("/model-versions/get-download-uri?name=lin&version=1")
        .await;
    assert_eq!(uri, json!({"artifact_uri": format!("runs:/{run}/model")}));

    // Update, tags, rename, delete.
    let upd = app
        .ok(
            "PATCH",
            "/model-versions/update",
            json!({"name": "lin", "version": "1", "description": "new"}),
        )
        .await;
    assert_eq!(upd["model_version"]["description"], "new");
    app.ok(
        "POST",
        "/model-versions/set-tag",
        json!({"name": "lin", "version": "1", "key": "k", "value": "v"}),
    )
    .await;
    app.ok(
        "DELETE",
        "/model-versions/delete-tag",
        json!({"name": "lin", "version": "1", "key": "k"}),
    )
    .await;
    let upd = app
        .ok(
            "PATCH",
            "/registered-models/update",
            json!({"name": "lin", "description": "changed"}),
        )
        .await;
    assert_eq!(upd["registered_model"]["description"], "changed");
    let renamed = app
        .ok(
            "POST",
            "/registered-models/rename",
            json!({"name": "lin", "new_name": "lin2"}),
        )
        .await;
    assert_eq!(renamed["registered_model"]["name"], "lin2");
    app.ok(
        "DELETE",
        "/model-versions/delete",
        json!({"name": "lin2", "version": "1"}),
    )
    .await;
    app.ok(
        "DELETE",
        "/registered-models/delete",
        json!({"name": "lin2"}),
    )
    .await;
    let (status, _) = app.get("/registered-models/get?name=lin2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = exp;
}

#[tokio::test]
async fn model_version_from_a_logged_model_fills_run_and_location() {
    let app = app().await;
    let (exp, run) = experiment_and_run(&app, "lineage").await;
    let id = app
        .ok(
            "POST",
            "/logged-models",
            json!({"experiment_id": exp, "name": "model", "source_run_id": run}),
        )
        .await["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok("POST", "/registered-models/create", json!({"name": "m"}))
        .await;
    let mv = app
        .ok(
            "POST",
            "/model-versions/create",
            json!({"name": "m", "source": format!("models:/{id}"), "model_id": id}),
        )
        .await;
    assert_eq!(mv["model_version"]["run_id"], run);
    assert!(
        mv["model_version"].get("model_id").is_none(),
        "MLflow 3.17 does not send it"
    );
    let (_, uri) = app
        .get("/model-versions/get-download-uri?name=m&version=1")
        .await;
    assert_eq!(
        uri["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
    );
    let (_, lm) = app.get(&format!("/logged-models/{id}")).await;
    assert_eq!(
        lm["model"]["info"]["tags"],
        json!([{"key": "mlflow.modelVersions", "value": "[{\"name\": \"m\", \"version\": 1}]"}])
    );
}

/// What the loopback receiver saw: headers and raw body of each delivery.
type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver answering 500 to the first `failures` deliveries, then 200.
async fn receiver(failures: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let count = Arc::new(Mutex::new(0usize));
    let state = (seen.clone(), count);
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                move |axum::extract::State((seen, count)): axum::extract::State<(
                    Seen,
                    Arc<Mutex<usize>>,
                )>,
                      headers: HeaderMap,
                      body: Bytes| async move {
                    let mut n = count.lock().unwrap();
                    *n += 1;
                    if *n <= failures {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "try again");
                    }
                    seen.lock().unwrap().push((headers, body));
                    (StatusCode::OK, "thanks")
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn wait_for(seen: &Seen, n: usize) -> Vec<(HeaderMap, Bytes)> {
    for _ in 0..200 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn webhooks_crud_delivery_retries_and_signature() {
    let app = app().await;
    let (url, seen) = receiver(1).await;
    let hook = app
        .ok(
            "POST",
            "/webhooks",
            json!({"name": "hook", "url": url, "secret": "s3cret",
                   "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"},
                              {"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}]}),
        )
        .await;
    let id = hook["webhook"]["webhook_id"].as_str().unwrap().to_string();
    assert_eq!(
        redact(hook),
        json!({"webhook": {"webhook_id": id, "name": "hook", "url": url,
            // Listed by entity name, as MLflow lists them.
            "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}, {"entity": "REGISTERED_MODEL", "action": "CREATED"}],
            "status": "ACTIVE", "creation_timestamp": "<ts>", "last_updated_timestamp": "<ts>"}})
    );
    let (_, listed) = app.get("/webhooks").await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    let (status, body) = app
        .post(
            "/webhooks",
            json!({"name": "bad", "url": url, "events": [{"entity": "REGISTERED_MODEL", "action": "DELETED"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "Invalid action 'deleted' for entity 'registered_model'. Valid actions are: ['created']"
    );

    // The first delivery fails with 500 and is retried; the request is not held up.
    app.ok(
        "POST",
        "/registered-models/create",
        json!({"name": "hooked", "tags": [{"key": "a", "value": "b"}]}),
    )
    .await;
    let got = wait_for(&seen, 1).await;
    assert_eq!(got.len(), 1, "delivered after a retry");
    let (headers, body) = &got[0];
    let delivery = headers["x-mlflow-delivery-id"].to_str().unwrap();
    let timestamp = headers["x-mlflow-timestamp"].to_str().unwrap();
    let text = std::str::from_utf8(body).unwrap();
    assert_eq!(
        headers["x-mlflow-signature"].to_str().unwrap(),
        mlox_server::webhooks::sign("s3cret", delivery, timestamp, text)
    );
    let payload: Value = serde_json::from_str(text).unwrap();
    assert_eq!(payload["entity"], "registered_model");
    assert_eq!(payload["action"], "created");
    assert_eq!(
        payload["data"],
        json!({"name": "hooked", "tags": {"a": "b"}, "description": ""})
    );

    // Events the webhook did not subscribe to are not sent; disabled webhooks get nothing.
    app.ok(
        "POST",
        "/model-versions/create",
        json!({"name": "hooked", "source": "s3://b/m"}),
    )
    .await;
    app.ok(
        "POST",
        "/registered-models/alias",
        json!({"name": "hooked", "alias": "champ", "version": "1"}),
    )
    .await;
    let got = wait_for(&seen, 2).await;
    assert_eq!(got.len(), 2);
    let payload: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(
        (payload["entity"].clone(), payload["data"].clone()),
        (
            json!("model_version_alias"),
            json!({"name": "hooked", "alias": "champ", "version": "1"})
        )
    );
    let upd = app
        .ok(
            "PATCH",
            &format!("/webhooks/{id}"),
            json!({"status": "DISABLED"}),
        )
        .await;
    assert_eq!(upd["webhook"]["status"], "DISABLED");
    app.ok(
        "POST",
        "/registered-models/create",
        json!({"name": "quiet"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().unwrap().len(), 2);

    // Test deliveries send MLflow's example payload and report the answer.
    let result = app
        .ok(
            "POST",
            &format!("/webhooks/{id}/test"),
            json!({"event": {"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}}),
        )
        .await;
    assert_eq!(
        result,
        json!({"result": {"success": true, "response_status": 200, "response_body": "thanks"}})
    );
    let got = wait_for(&seen, 3).await;
    let payload: Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(
        payload["data"],
        json!({"name": "example_model", "alias": "example_alias", "version": "1"})
    );

    app.ok("DELETE", &format!("/webhooks/{id}"), json!({}))
        .await;
    let (status, body) = app.get(&format!("/webhooks/{id}")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST")
    );
}

#[tokio::test]
async fn a_dead_receiver_never_slows_requests() {
    let app = app().await;
    // Nothing listens on this port: every delivery attempt fails and is retried in the
    // background.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    app.ok(
        "POST",
        "/webhooks",
        json!({"name": "dead", "url": format!("http://127.0.0.1:{port}/x"),
               "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]}),
    )
    .await;
    let start = std::time::Instant::now();
    for i in 0..5 {
        app.ok(
            "POST",
            "/registered-models/create",
            json!({"name": format!("fast-{i}")}),
        )
        .await;
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn webhook_urls_follow_mlflow_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlStore::open(
            &StoreUri::Sqlite(dir.path().join("t.db")),
            StoreOptions::default(),
        )
        .await
        .unwrap(),
    );
    // MLflow's defaults: https only, public addresses only.
    let mut state = AppState::new(store.clone());
    state.models = ModelsState::with_webhook_config(store, WebhookConfig::default());
    let app = App {
        router: router(state),
        _dir: dir,
    };
    let events = json!([{"entity": "MODEL_VERSION", "action": "CREATED"}]);
    let (status, body) = app
        .post(
            "/webhooks",
            json!({"name": "h", "url": "http://example.com/x", "events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "Invalid webhook URL scheme: 'http'. Allowed schemes are: https."
    );
    let (status, body) = app
        .post(
            "/webhooks",
            json!({"name": "h", "url": "https://127.0.0.1/x", "events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "Webhook URL must not resolve to a non-public IP address. '127.0.0.1' resolves to 127.0.0.1."
    );
}
