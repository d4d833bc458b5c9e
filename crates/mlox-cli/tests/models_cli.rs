//! `mlox models` against a real server.

mod common;

use serde_json::{json, Value};

async fn post(http: &reqwest::Client, url: &str, path: &str, body: Value) -> Value {
    let resp = http
        .post(format!("{url}/api/2.0/mlflow/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = common::mlox(args);
    assert!(
        out.status.success(),
        "mlox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_versions_and_alias() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", dir.path().join("m.db").display());
    let server = common::start(&["--backend-store-uri", &db]);
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let run = post(&http, &url, "runs/create", json!({"experiment_id": "0"})).await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    post(
        &http,
        &url,
        "registered-models/create",
        json!({"name": "fraud", "description": "catches fraud"}),
    )
    .await;
    post(
        &http,
        &url,
        "registered-models/create",
        json!({"name": "churn"}),
    )
    .await;
    for _ in 0..2 {
        post(
            &http,
            &url,
            "model-versions/create",
            json!({"name": "fraud", "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
        )
        .await;
    }

    let alias = stdout_of(&[
        "models",
        "alias",
        "--tracking-uri",
        &url,
        "fraud",
        "champion",
        "1",
    ]);
    assert_eq!(alias, "fraud@champion -> version 1\n");

    let list = stdout_of(&["models", "list", "--tracking-uri", &url]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("NAME"), "{list}");
    assert!(lines[1].starts_with("churn"), "{list}");
    assert!(
        lines[2].starts_with("fraud")
            && lines[2].contains("None:2")
            && lines[2].contains("champion=1"),
        "{list}"
    );
    assert!(lines[2].ends_with("catches fraud"), "{list}");
    let filtered = stdout_of(&[
        "models",
        "list",
        "--tracking-uri",
        &url,
        "--filter",
        "name LIKE 'fr%'",
    ]);
    assert_eq!(filtered.lines().count(), 2, "{filtered}");

    let versions = stdout_of(&["models", "versions", "--tracking-uri", &url, "fraud"]);
    let lines: Vec<&str> = versions.lines().collect();
    assert_eq!(lines.len(), 3, "{versions}");
    assert!(lines[1].starts_with("2 "), "newest first: {versions}");
    assert!(
        lines[2].starts_with("1 ") && lines[2].contains("champion"),
        "{versions}"
    );
    assert!(lines[2].contains(&run_id), "{versions}");

    // MLFLOW_TRACKING_URI works as for the official client; errors say what failed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["models", "alias", "fraud", "latest", "1"])
        .env("MLFLOW_TRACKING_URI", &url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'latest' alias name (case insensitive) is reserved."),
        "{err}"
    );
    let out = common::mlox(&["models", "versions", "--tracking-uri", &url, "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no registered model named nope"));
}
