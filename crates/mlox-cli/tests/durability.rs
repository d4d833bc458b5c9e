//! A write acknowledged with 200 survives `kill -9`.
//!
//! Clients log metrics concurrently; the server is killed with SIGKILL at a random
//! moment, restarted on the same store, and every acknowledged point must be present
//! exactly once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};

mod common;

fn start(db: &std::path::Path) -> common::Server {
    common::start(&[
        "--backend-store-uri",
        &format!("sqlite:///{}", db.display()),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("durable.db");
    let server = start(&db);
    let http = reqwest::Client::new();
    let url = server.url.clone();
    let run: Value = http
        .post(format!("{url}/api/2.0/mlflow/runs/create"))
        .json(&json!({"experiment_id": "0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();

    // Each writer logs points with increasing steps; `acked` records the ones answered 200.
    let acked: Arc<Mutex<Vec<(usize, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8usize {
        let (http, url, run_id, acked) = (http.clone(), url.clone(), run_id.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for step in 0i64.. {
                let body = if step % 5 == 0 {
                    // Every fifth request is a batch of 20 points under another key.
                    let metrics: Vec<Value> = (0..20)
                        .map(|j| json!({"key": format!("batch{w}"), "value": j, "timestamp": step, "step": step * 100 + j}))
                        .collect();
                    (format!("{url}/api/2.0/mlflow/runs/log-batch"), json!({"run_id": run_id, "metrics": metrics}))
                } else {
                    (
                        format!("{url}/api/2.0/mlflow/runs/log-metric"),
                        json!({"run_id": run_id, "key": format!("m{w}"), "value": step as f64, "timestamp": 1000 + step, "step": step}),
                    )
                };
                match http.post(&body.0).json(&body.1).send().await {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push((w, step)),
                    _ => break,
                }
            }
        }));
    }
    let delay = rand::thread_rng().gen_range(300..1500);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    drop(server); // SIGKILL: Child::kill sends SIGKILL on Unix.
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few writes before the kill ({}) to prove anything",
        acked.len()
    );

    let server = start(&db);
    let url = server.url.clone();
    for w in 0..8usize {
        for (key, per_step) in [(format!("m{w}"), 1usize), (format!("batch{w}"), 20usize)] {
            let hist: Value = http
                .get(format!("{url}/api/2.0/mlflow/metrics/get-history"))
                .query(&[("run_id", run_id.as_str()), ("metric_key", key.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let points = hist["metrics"].as_array().cloned().unwrap_or_default();
            let steps: Vec<i64> = points.iter().map(|p| p["step"].as_i64().unwrap()).collect();
            let mut unique = steps.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), steps.len(), "{key}: a point is stored twice");
            for (_, step) in acked
                .iter()
                .filter(|(ww, s)| *ww == w && (s % 5 == 0) == (per_step == 20))
            {
                let expected: Vec<i64> = if per_step == 20 {
                    (0..20).map(|j| step * 100 + j).collect()
                } else {
                    vec![*step]
                };
                for e in expected {
                    assert!(
                        unique.binary_search(&e).is_ok(),
                        "{key}: acknowledged step {e} lost after kill -9"
                    );
                }
            }
        }
    }
}

/// Runs `writes` sequential `log-metric` calls against a server started with `args`
/// while `strace` counts the server's fsync/fdatasync calls; returns the count.
async fn syncs_during_sequential_writes(args: &[&str], writes: usize) -> usize {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("synced.db");
    let store = format!("sqlite:///{}", db.display());
    let mut all = vec!["--backend-store-uri", store.as_str()];
    all.extend_from_slice(args);
    let server = common::start(&all);
    let http = reqwest::Client::new();
    let url = server.url.clone();
    let run: Value = http
        .post(format!("{url}/api/2.0/mlflow/runs/create"))
        .json(&json!({"experiment_id": "0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    // Let start-up work (migrations, the first checkpoints) finish before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let trace = dir.path().join("strace.out");
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .args(["-p", &server.child.id().to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace is needed for this test (scripts/install-test-deps.sh installs it)");
    // -qq silences the attach messages: /proc tells when every thread is traced.
    let stderr = strace.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr)
            .lines()
            .map_while(std::result::Result::ok)
        {
            eprintln!("strace: {line}");
        }
    });
    wait_traced(server.child.id());

    for step in 0..writes {
        let r = http
            .post(format!("{url}/api/2.0/mlflow/runs/log-metric"))
            .json(&json!({"run_id": run_id, "key": "m", "value": step as f64, "timestamp": 1000 + step, "step": step}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "log-metric answered {}",
            r.status()
        );
    }

    // SIGINT detaches strace from the server, which keeps running until dropped.
    let killed = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    strace.wait().unwrap();
    let out = std::fs::read_to_string(&trace).unwrap();
    drop(server);
    // A call interrupted by another thread's is written `fsync(7 <unfinished ...>` and
    // later `<... fsync resumed>`: count the opening lines only.
    out.lines()
        .filter(|l| l.contains("fsync(") || l.contains("fdatasync("))
        .count()
}

/// Waits until every thread of `pid` is stopped under a tracer (TracerPid set).
fn wait_traced(pid: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        let all = tasks.flatten().all(|t| {
            std::fs::read_to_string(t.path().join("status"))
                .map(|s| {
                    s.lines()
                        .any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0")
                })
                .unwrap_or(true)
        });
        if all {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "strace did not attach to the server (is ptrace allowed here?)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 14: with the default durability, an acknowledged write is on stable storage: the
/// server syncs at least once per sequential write (each is its own group commit).
/// `--durability=process` syncs at checkpoints only: far fewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_acknowledged_write_is_synced_by_default() {
    const WRITES: usize = 200;
    let full = syncs_during_sequential_writes(&[], WRITES).await;
    assert!(
        full >= WRITES,
        "{full} syncs for {WRITES} acknowledged sequential writes with --durability=full"
    );
    let process = syncs_during_sequential_writes(&["--durability", "process"], WRITES).await;
    assert!(
        process * 4 <= WRITES,
        "{process} syncs for {WRITES} sequential writes with --durability=process"
    );
    eprintln!("syncs for {WRITES} sequential writes: full {full}, process {process}");
}
