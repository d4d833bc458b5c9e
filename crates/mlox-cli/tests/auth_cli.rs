//! The basic-auth app seen from mlox's own clients: `mlox artifacts`, `mlox models` and
//! `mlox run` send MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN; personal
//! access tokens; the trusted-proxy header; the refusal to start without an admin password.

mod common;

use std::process::{Command, Output};

use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "admin-password-1234";
const PASSWORD: &str = "user-password-1234";

fn auth_server(dir: &std::path::Path, extra: &[&str]) -> common::Server {
    let db = format!("sqlite:///{}", dir.join("a.db").display());
    let dest = dir.join("art");
    let mut args = vec![
        "--backend-store-uri",
        &db,
        "--artifacts-destination",
        dest.to_str().unwrap(),
        "--app-name",
        "basic-auth",
    ];
    args.extend_from_slice(extra);
    common::start_with_env(
        &args,
        &[("MLFLOW_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        &["MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_AUTH_ADMIN_USERNAME"],
    )
}

/// `mlox <args>` with exactly these credential variables.
fn mlox_as(args: &[&str], creds: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlox"));
    cmd.args(args)
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0");
    for (k, v) in creds {
        cmd.env(k, v);
    }
    cmd.output().expect("run mlox")
}

fn basic(user: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MLFLOW_TRACKING_USERNAME", user.to_string()),
        ("MLFLOW_TRACKING_PASSWORD", password.to_string()),
    ]
}

fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

async fn post(url: &str, auth: (&str, &str), body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .basic_auth(auth.0, Some(auth.1))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn create_user(server: &common::Server, name: &str) {
    let (status, body) = post(
        &format!("{}/api/2.0/mlflow/users/create", server.url),
        ("admin", ADMIN_PASSWORD),
        json!({"username": name, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn refuses_to_start_without_an_admin_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", dir.path().join("a.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["server", "--port", "0", "--backend-store-uri", &db])
        .args(["--app-name", "basic-auth"])
        .env_remove("MLFLOW_AUTH_ADMIN_PASSWORD")
        .env_remove("MLFLOW_AUTH_CONFIG_PATH")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MLFLOW_AUTH_ADMIN_PASSWORD"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Listening"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_models_and_tokens_as_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = auth_server(dir.path(), &[]);
    create_user(&server, "alice").await;
    create_user(&server, "bob").await;
    let (status, exp) = post(
        &format!("{}/api/2.0/mlflow/experiments/create", server.url),
        ("alice", PASSWORD),
        json!({"name": "alice-exp"}),
    )
    .await;
    assert_eq!(status, 200, "{exp}");
    let exp_id = exp["experiment_id"].as_str().unwrap().to_string();
    let (status, run) = post(
        &format!("{}/api/2.0/mlflow/runs/create", server.url),
        ("alice", PASSWORD),
        json!({"experiment_id": exp_id}),
    )
    .await;
    assert_eq!(status, 200, "{run}");
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();

    let local = dir.path().join("up");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("a.txt"), "alpha").unwrap();
    let target = ["--tracking-uri", server.url.as_str(), "--run-id", &run_id];
    let upload: Vec<&str> = [
        &["artifacts", "upload"][..],
        &target,
        &["--local-path", local.to_str().unwrap()],
    ]
    .concat();
    let list: Vec<&str> = [&["artifacts", "list"][..], &target].concat();

    // No credentials: refused.
    let out = mlox_as(&list, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    // Alice (MANAGE as the creator) uploads and lists.
    let alice = basic("alice", PASSWORD);
    let out = mlox_as(&upload, &refs(&alice));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mlox_as(&list, &refs(&alice));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a.txt\t5\n");

    // Bob may read (default READ), not write.
    let bob = basic("bob", PASSWORD);
    let out = mlox_as(&list, &refs(&bob));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mlox_as(&upload, &refs(&bob));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PERMISSION_DENIED"));

    // A wrong password is refused.
    let out = mlox_as(&list, &refs(&basic("alice", "wrong-password-00")));
    assert!(!out.status.success());

    // The registry through mlox-client's TrackingClient.
    let (status, _) = post(
        &format!("{}/api/2.0/mlflow/registered-models/create", server.url),
        ("alice", PASSWORD),
        json!({"name": "alice-model"}),
    )
    .await;
    assert_eq!(status, 200);
    let models = ["models", "list", "--tracking-uri", server.url.as_str()];
    let out = mlox_as(&models, &refs(&bob));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice-model"));
    assert!(!mlox_as(&models, &[]).status.success());

    // A personal access token, shown once, sent as MLFLOW_TRACKING_TOKEN.
    let (status, created) = post(
        &format!("{}/api/2.0/mlox/tokens/create", server.url),
        ("alice", PASSWORD),
        json!({"name": "ci"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("mlox_pat_"));
    let out = mlox_as(&list, &[("MLFLOW_TRACKING_TOKEN", token.as_str())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/api/2.0/mlox/tokens/list", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["tokens"][0]["name"], "ci");
    assert!(listed["tokens"][0].get("token").is_none(), "{listed}");
    let id = listed["tokens"][0]["id"].clone();
    let (status, _) = post(
        &format!("{}/api/2.0/mlox/tokens/revoke", server.url),
        ("alice", PASSWORD),
        json!({ "id": id }),
    )
    .await;
    assert_eq!(status, 200);
    let out = mlox_as(&list, &[("MLFLOW_TRACKING_TOKEN", token.as_str())]);
    assert!(!out.status.success());
    // A made-up token is refused.
    let out = mlox_as(&list, &[("MLFLOW_TRACKING_TOKEN", "mlox_pat_forged")]);
    assert!(!out.status.success());
}

#[test]
fn mlox_run_tracks_as_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = auth_server(dir.path(), &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_user(&server, "alice"));
    let project = dir.path().join("proj");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("MLproject"),
        "name: hello\nentry_points:\n  main:\n    command: \"echo hello\"\n",
    )
    .unwrap();
    let args = [
        "run",
        project.to_str().unwrap(),
        "--env-manager",
        "local",
        "--experiment-name",
        "auth-run",
    ];
    let run = |creds: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlox"));
        cmd.args(args)
            .env("MLFLOW_TRACKING_URI", &server.url)
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .env_remove("MLFLOW_EXPERIMENT_ID")
            .env_remove("MLFLOW_EXPERIMENT_NAME")
            .env_remove("MLFLOW_TRACKING_TOKEN");
        for (k, v) in creds {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[
        ("MLFLOW_TRACKING_USERNAME", "nobody"),
        ("MLFLOW_TRACKING_PASSWORD", "x"),
    ]);
    assert!(!out.status.success());
    // Alice may create the experiment and runs in it.
    let (status, _) = rt.block_on(post(
        &format!("{}/api/2.0/mlflow/experiments/create", server.url),
        ("alice", PASSWORD),
        json!({"name": "auth-run"}),
    ));
    assert_eq!(status, 200);
    let out = run(&[
        ("MLFLOW_TRACKING_USERNAME", "alice"),
        ("MLFLOW_TRACKING_PASSWORD", PASSWORD),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Value = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/2.0/mlflow/runs/search", server.url))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&json!({"experiment_ids": ["1"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(runs["runs"][0]["info"]["status"], "FINISHED", "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_header_only_from_trusted_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let trusting = auth_server(dir.path(), &["--trusted-proxy", "127.0.0.1"]);
    let other_dir = tempfile::tempdir().unwrap();
    let plain = auth_server(other_dir.path(), &[]);
    let http = reqwest::Client::new();
    let create = |url: &str, user: Option<&str>| {
        let mut req = http
            .post(format!("{url}/api/2.0/mlflow/experiments/create"))
            .json(&json!({"name": format!("sso-{}", user.unwrap_or("anon"))}));
        if let Some(u) = user {
            req = req.header("X-Forwarded-User", u);
        }
        req.send()
    };
    assert_eq!(
        create(&trusting.url, Some("carol")).await.unwrap().status(),
        200
    );
    assert_eq!(create(&trusting.url, None).await.unwrap().status(), 401);
    // Without --trusted-proxy the header means nothing.
    assert_eq!(
        create(&plain.url, Some("carol")).await.unwrap().status(),
        401
    );
    // Carol now exists, owns her experiment, and is no admin.
    let me: Value = http
        .get(format!("{}/api/2.0/mlflow/users/current", trusting.url))
        .header("X-Forwarded-User", "carol")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "carol");
    assert_eq!(me["user"]["is_admin"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_are_for_administrators() {
    // MLflow's exporter route has no authorization rule of its own, and its fail-closed
    // default leaves such routes to administrators.
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("prom");
    let server = auth_server(dir.path(), &["--expose-prometheus", prom.to_str().unwrap()]);
    create_user(&server, "mia").await;
    let http = reqwest::Client::new();
    let metrics = |auth: Option<(&str, &str)>| {
        let mut req = http.get(format!("{}/metrics", server.url));
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    let anon = metrics(None).await.unwrap();
    assert_eq!(anon.status(), 401);
    assert!(anon.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        metrics(Some(("mia", "wrong-password")))
            .await
            .unwrap()
            .status(),
        401
    );
    let user = metrics(Some(("mia", PASSWORD))).await.unwrap();
    assert_eq!(user.status(), 403);
    let body: Value = user.json().await.unwrap();
    assert_eq!(body["error_code"], "PERMISSION_DENIED");
    let admin = metrics(Some(("admin", ADMIN_PASSWORD))).await.unwrap();
    assert_eq!(admin.status(), 200);
    assert!(admin
        .text()
        .await
        .unwrap()
        .contains("mlflow_http_request_total"));
    // The security middleware guards it too: a foreign Host is refused.
    let foreign = http
        .get(format!("{}/metrics", server.url))
        .header("Host", "evil.example.com")
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
}
