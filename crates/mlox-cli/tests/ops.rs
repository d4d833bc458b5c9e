//! Operations against the real binary: graceful shutdown under load, the JSON access
//! log, Prometheus metrics, online backup and restore, and hosting under a path prefix.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A server whose stdout lines are kept (the access log goes there).
struct Proc {
    child: Child,
    url: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Proc {
    spawn_env(args, &[])
}

fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["server", "--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .envs(env.iter().copied())
        .env_remove("MLFLOW_AUTH_CONFIG_PATH")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mlox");
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = reader
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(i) = line.find("http://") {
            break line[i..].trim().to_string();
        }
    };
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = lines.clone();
    std::thread::spawn(move || {
        for line in reader.map_while(Result::ok) {
            keep.lock().unwrap().push(line);
        }
    });
    Proc { child, url, lines }
}

fn sqlite(db: &std::path::Path) -> String {
    format!("sqlite:///{}", db.display())
}

fn mlox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(args)
        .output()
        .expect("run mlox")
}

async fn create_run(http: &reqwest::Client, url: &str) -> String {
    let run: Value = http
        .post(format!("{url}/api/2.0/mlflow/runs/create"))
        .json(&json!({"experiment_id": "0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    run["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

/// Writers log metric points (step = 0, 1, …) to `run_id` until a request fails or
/// `stop` is set; the steps answered 200 are recorded per writer.
fn write_load(
    http: &reqwest::Client,
    url: &str,
    run_id: &str,
    writers: usize,
    acked: Arc<Mutex<Vec<(usize, i64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..writers)
        .map(|w| {
            let (http, url, run_id, acked, stop) = (
                http.clone(),
                url.to_string(),
                run_id.to_string(),
                acked.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                for step in 0i64.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let r = http
                        .post(format!("{url}/api/2.0/mlflow/runs/log-metric"))
                        .json(&json!({"run_id": run_id, "key": format!("m{w}"), "value": step, "timestamp": 1000 + step, "step": step}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => acked.lock().unwrap().push((w, step)),
                        _ => break,
                    }
                }
            })
        })
        .collect()
}

/// Asserts that every acknowledged (writer, step) is in the run's histories.
async fn assert_present(http: &reqwest::Client, url: &str, run_id: &str, acked: &[(usize, i64)]) {
    let writers = acked.iter().map(|(w, _)| w + 1).max().unwrap_or(0);
    for w in 0..writers {
        let hist: Value = http
            .get(format!("{url}/api/2.0/mlflow/metrics/get-history"))
            .query(&[("run_id", run_id), ("metric_key", &format!("m{w}"))])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut steps: Vec<i64> = hist["metrics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| p["step"].as_i64().unwrap())
            .collect();
        steps.sort();
        for (_, step) in acked.iter().filter(|(ww, _)| *ww == w) {
            assert!(
                steps.binary_search(step).is_ok(),
                "m{w}: acknowledged step {step} is missing"
            );
        }
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "server still running after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_exits_zero_and_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let mut server = spawn(&["--backend-store-uri", &sqlite(&db), "--no-access-log"]);
    let http = reqwest::Client::new();
    let run_id = create_run(&http, &server.url).await;
    let acked: Arc<Mutex<Vec<(usize, i64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = write_load(&http, &server.url, &run_id, 8, acked.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = acked.lock().unwrap().len();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status =
        tokio::task::block_in_place(|| wait_exit(&mut server.child, Duration::from_secs(20)));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status:?}"
    );
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        before > 50,
        "too few writes before SIGTERM ({before}) to prove anything"
    );
    let server = spawn(&["--backend-store-uri", &sqlite(&db), "--no-access-log"]);
    assert_present(&http, &server.url, &run_id, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_request_finish() {
    // A large upload is in flight when SIGTERM arrives: it completes with 200.
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn(&[
        "--backend-store-uri",
        &sqlite(&dir.path().join("s.db")),
        "--artifacts-destination",
        dir.path().join("art").to_str().unwrap(),
        "--no-access-log",
    ]);
    let url = server.url.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(stream_of(rx));
    let upload = tokio::spawn(async move {
        reqwest::Client::new()
            .put(format!(
                "{url}/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/big.bin"
            ))
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tx.send(Ok(vec![1u8; 1 << 20])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server waits for the upload, and keeps reading it.
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request running"
    );
    for _ in 0..4 {
        tx.send(Ok(vec![2u8; 1 << 20])).await.unwrap();
    }
    drop(tx);
    assert_eq!(upload.await.unwrap().unwrap(), 200);
    let status =
        tokio::task::block_in_place(|| wait_exit(&mut server.child, Duration::from_secs(20)));
    assert_eq!(status.code(), Some(0));
    let stored = dir.path().join("art/0/r/artifacts/big.bin");
    assert_eq!(std::fs::metadata(stored).unwrap().len(), 5 << 20);
}

fn stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_access_log_has_one_line_per_request_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&[
        "--backend-store-uri",
        &sqlite(&dir.path().join("s.db")),
        "--log-format",
        "json",
    ]);
    let http = reqwest::Client::new();
    let run_id = create_run(&http, &server.url).await;
    let r = http
        .get(format!("{}/api/2.0/mlflow/runs/get", server.url))
        .query(&[("run_id", run_id.as_str()), ("token", "hunter2")])
        .header("Authorization", "Bearer s3cr3t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got_len = r.bytes().await.unwrap().len() as u64;
    let r = http
        .get(format!(
            "{}/api/2.0/mlflow/runs/get?run_id=nope",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let entries = json_lines(&server, 3);
    assert_eq!(entries.len(), 3, "{entries:#?}");
    let create = &entries[0];
    assert_eq!(create["method"], "POST");
    assert_eq!(create["route"], "/api/2.0/mlflow/runs/create");
    assert_eq!(create["status"], 200);
    let get = &entries[1];
    assert_eq!(get["method"], "GET");
    assert_eq!(get["path"], "/api/2.0/mlflow/runs/get");
    assert_eq!(get["route"], "/api/2.0/mlflow/runs/get");
    assert_eq!(get["status"], 200);
    assert_eq!(get["bytes"].as_u64(), Some(got_len));
    assert!(get["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(get["time"].as_str().unwrap().ends_with('Z'));
    assert!(get["remote"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(get["user"], Value::Null);
    assert_eq!(entries[2]["status"], 404);
    let all = server.lines.lock().unwrap().join("\n");
    assert!(!all.contains("hunter2") && !all.contains("s3cr3t"), "{all}");
}

/// The JSON access-log lines the server has printed, once there are `n` of them (the log's
/// writer thread flushes as soon as its queue is empty) or after 5 s.
fn json_lines(server: &Proc, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let entries: Vec<Value> = server
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if entries.len() >= n || Instant::now() > deadline {
            return entries;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of the sample `series` (name with labels, as printed) in a scrape.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_requests() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("prom");
    let server = spawn(&[
        "--backend-store-uri",
        &sqlite(&dir.path().join("s.db")),
        "--artifacts-destination",
        dir.path().join("art").to_str().unwrap(),
        "--expose-prometheus",
        prom.to_str().unwrap(),
        "--no-access-log",
    ]);
    assert!(
        prom.is_dir(),
        "--expose-prometheus creates its folder, as MLflow's does"
    );
    let http = reqwest::Client::new();
    let scrape = || async {
        let r = http
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        r.text().await.unwrap()
    };
    let created = r#"mlox_http_requests_total{method="POST",route="/api/2.0/mlflow/runs/create",status="200"}"#;
    let before = scrape().await;
    assert_eq!(sample(&before, created), 0.0);
    let run_id = create_run(&http, &server.url).await;
    for i in 0..5 {
        let r = http
            .post(format!("{}/api/2.0/mlflow/runs/log-metric", server.url))
            .json(&json!({"run_id": run_id, "key": "k", "value": i, "timestamp": i, "step": i}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http
        .put(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/0/a.txt",
            server.url
        ))
        .body(vec![7u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/0/a.txt",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 1000);
    let r = http
        .get(format!(
            "{}/api/2.0/mlflow/runs/get?run_id=nope",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let after = scrape().await;
    assert_eq!(sample(&after, created), 1.0, "{after}");
    let logged = r#"mlox_http_requests_total{method="POST",route="/api/2.0/mlflow/runs/log-metric",status="200"}"#;
    assert_eq!(sample(&after, logged), 5.0);
    assert_eq!(
        sample(
            &after,
            r#"mlox_http_requests_total{method="GET",route="/api/2.0/mlflow/runs/get",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"mlox_http_request_duration_seconds_count{method="POST",route="/api/2.0/mlflow/runs/log-metric",status="200"}"#
        ),
        5.0
    );
    assert_eq!(
        sample(
            &after,
            r#"mlox_http_request_duration_seconds_bucket{method="POST",route="/api/2.0/mlflow/runs/log-metric",status="200",le="+Inf"}"#
        ),
        5.0
    );
    // MLflow's own family, by method and status.
    assert_eq!(
        sample(
            &after,
            r#"mlflow_http_request_total{method="POST",status="200"}"#
        ),
        6.0
    );
    assert_eq!(
        sample(&after, r#"mlox_artifact_bytes_total{direction="in"}"#),
        1000.0
    );
    assert_eq!(
        sample(&after, r#"mlox_artifact_bytes_total{direction="out"}"#),
        1000.0
    );
    // The scrape itself is not in flight (it is answered outside the tracked routes).
    assert_eq!(sample(&after, "mlox_http_requests_in_flight"), 0.0);
    // 7 writes went through the SQLite writer (the default experiment's at start too).
    assert!(
        sample(&after, "mlox_store_write_group_size_count") >= 7.0,
        "{after}"
    );
    assert!(sample(&after, "mlox_store_write_group_size_sum") >= 7.0);
    assert_eq!(sample(&after, "mlox_store_write_queue_depth"), 0.0);
    assert!(after.contains("\nmlox_sqlite_wal_bytes "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&["--backend-store-uri", &sqlite(&dir.path().join("s.db"))]);
    let r = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_write_load_restores_every_earlier_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let backup = dir.path().join("backup.db");
    let server = spawn(&["--backend-store-uri", &sqlite(&db), "--no-access-log"]);
    let http = reqwest::Client::new();
    let run_id = create_run(&http, &server.url).await;
    let acked: Arc<Mutex<Vec<(usize, i64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = write_load(&http, &server.url, &run_id, 6, acked.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Everything acknowledged now must be in the backup.
    let before_backup = acked.lock().unwrap().clone();
    let out = tokio::task::block_in_place(|| {
        mlox(&[
            "db",
            "backup",
            backup.to_str().unwrap(),
            "--backend-store-uri",
            &sqlite(&db),
        ])
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server kept answering writes during the backup.
    let during = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        acked.lock().unwrap().len() > during,
        "writes stalled after the backup"
    );
    // A backup never overwrites.
    let again = mlox(&[
        "db",
        "backup",
        backup.to_str().unwrap(),
        "--backend-store-uri",
        &sqlite(&db),
    ]);
    assert!(!again.status.success());
    // Restoring onto a store in use is refused.
    let refused = mlox(&[
        "db",
        "restore",
        backup.to_str().unwrap(),
        "--backend-store-uri",
        &sqlite(&db),
    ]);
    assert!(
        !refused.status.success(),
        "restore over a running server was allowed"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        before_backup.len() > 30,
        "too few writes ({}) to prove anything",
        before_backup.len()
    );
    drop(server);

    // Restore into a new location and serve it.
    let restored = dir.path().join("restored.db");
    let out = mlox(&[
        "db",
        "restore",
        backup.to_str().unwrap(),
        "--backend-store-uri",
        &sqlite(&restored),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = spawn(&["--backend-store-uri", &sqlite(&restored), "--no-access-log"]);
    assert_present(&http, &server.url, &run_id, &before_backup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_prefix_serves_api_artifacts_and_ui_under_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&[
        "--backend-store-uri",
        &sqlite(&dir.path().join("s.db")),
        "--artifacts-destination",
        dir.path().join("art").to_str().unwrap(),
        "--static-prefix",
        "/mlflow",
        "--no-access-log",
    ]);
    assert!(
        server.url.ends_with("/mlflow"),
        "printed URL: {}",
        server.url
    );
    let base = server.url.trim_end_matches("/mlflow").to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let run_id = create_run(&http, &server.url).await;
    assert_eq!(run_id.len(), 32);
    let get = |p: String| {
        let http = http.clone();
        async move { http.get(p).send().await.unwrap() }
    };
    assert_eq!(get(format!("{base}/mlflow/health")).await.status(), 200);
    assert_eq!(get(format!("{base}/mlflow/version")).await.status(), 200);
    // Outside the prefix there is nothing.
    let r = get(format!(
        "{base}/api/2.0/mlflow/experiments/search?max_results=1"
    ))
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(get(format!("{base}/health")).await.status(), 404);
    // Artifacts through the prefix.
    let r = http
        .put(format!(
            "{base}/mlflow/api/2.0/mlflow-artifacts/artifacts/0/x.txt"
        ))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(format!(
        "{base}/mlflow/api/2.0/mlflow-artifacts/artifacts/0/x.txt"
    ))
    .await;
    assert_eq!(r.text().await.unwrap(), "hello");
    // The UI: the prefix is announced to the app, and its assets live under it.
    for page in ["/mlflow", "/mlflow/", "/mlflow/experiments/0"] {
        let r = get(format!("{base}{page}")).await;
        assert_eq!(r.status(), 200, "{page}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(
            html.contains(r#"<script>window.__MLOX_STATIC_PREFIX__="/mlflow"</script>"#),
            "{html}"
        );
        assert!(
            !html.contains("src=\"/assets/") && !html.contains("href=\"/assets/"),
            "{html}"
        );
    }
    let html = get(format!("{base}/mlflow/")).await.text().await.unwrap();
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/mlflow/assets/"))
        .collect();
    if mlox_ui_built(&html) {
        assert!(!assets.is_empty(), "{html}");
    }
    for a in assets {
        let r = get(format!("{base}{a}")).await;
        assert_eq!(r.status(), 200, "{a}");
    }
}

/// Whether this binary embeds the UI (not built with MLOX_UI_SKIP=1).
fn mlox_ui_built(html: &str) -> bool {
    !html.contains("built without its web UI")
}

/// With the basic-auth app, each access-log line names the user the request was
/// authenticated as; a refused request names none.
#[tokio::test]
async fn access_log_names_the_authenticated_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_env(
        &[
            "--backend-store-uri",
            &sqlite(&dir.path().join("s.db")),
            "--log-format",
            "json",
            "--app-name",
            "basic-auth",
        ],
        &[("MLFLOW_AUTH_ADMIN_PASSWORD", "admin-password-1234")],
    );
    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/2.0/mlflow/experiments/search?max_results=1",
        server.url
    );
    let ok = http
        .get(&url)
        .basic_auth("admin", Some("admin-password-1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let entries = json_lines(&server, 2);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[0]["user"], "admin");
    assert_eq!(entries[1]["status"], 401);
    assert_eq!(entries[1]["user"], Value::Null);
    let all = server.lines.lock().unwrap().join("\n");
    assert!(!all.contains("admin-password-1234"), "{all}");
}

#[test]
fn log_format_json_makes_the_diagnostics_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["server", "--host", "127.0.0.1", "--port", "0"])
        .args(["--backend-store-uri", &sqlite(&dir.path().join("s.db"))])
        .args(["--log-format", "json"])
        .env_remove("MLFLOW_AUTH_CONFIG_PATH")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn mlox");
    let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
    while !reader
        .next()
        .expect("server exited before listening")
        .unwrap()
        .contains("http://")
    {}
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(20)).code(),
        Some(0)
    );
    let text = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        entries
            .iter()
            .any(|e| e["level"] == "INFO" && e["fields"]["message"] == "shutting down"),
        "{text}"
    );
}
