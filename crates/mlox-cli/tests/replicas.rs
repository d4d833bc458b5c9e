//! Several `mlox server` processes on one PostgreSQL database (issue 14): a write through
//! one is read at once through the other, and concurrent appends to one metric through
//! both, one of them killed midway, lose and duplicate nothing that was acknowledged.
//!
//! Runs when `MLOX_TEST_POSTGRES_URL` names a PostgreSQL database (scripts/test.sh sets it).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

mod common;

/// The test PostgreSQL server; `None` (the test is skipped, and says so) when there is none,
/// unless `MLOX_TEST_REQUIRE_POSTGRES` is set, as `scripts/test.sh` does: then a missing
/// server fails the test.
fn pg_url() -> Option<String> {
    let url = std::env::var("MLOX_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    assert!(
        url.is_some() || std::env::var_os("MLOX_TEST_REQUIRE_POSTGRES").is_none(),
        "MLOX_TEST_REQUIRE_POSTGRES is set but MLOX_TEST_POSTGRES_URL is not"
    );
    url
}

async fn post(http: &reqwest::Client, url: &str, path: &str, body: Value) -> Value {
    let r = http
        .post(format!("{url}/api/2.0/mlflow/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

async fn get(http: &reqwest::Client, url: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let r = http
        .get(format!("{url}/api/2.0/mlflow/{path}"))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

async fn history_steps(http: &reqwest::Client, url: &str, run_id: &str, key: &str) -> Vec<i64> {
    let h = get(
        http,
        url,
        "metrics/get-history",
        &[("run_id", run_id), ("metric_key", key)],
    )
    .await;
    let mut steps: Vec<i64> = h["metrics"]
        .as_array()
        .map(|a| a.iter().map(|p| p["step"].as_i64().unwrap()).collect())
        .unwrap_or_default();
    steps.sort_unstable();
    steps
}

/// Two servers on the database `db`, a client, and an experiment created through the
/// first (its name, from `prefix`, and id).
async fn two_servers(
    db: &str,
    prefix: &str,
) -> (
    common::Server,
    common::Server,
    reqwest::Client,
    String,
    String,
) {
    let a = common::start(&["--backend-store-uri", db]);
    let b = common::start(&["--backend-store-uri", db]);
    let http = reqwest::Client::new();
    let name = format!("{prefix}-{}", std::process::id());
    let exp = post(&http, &a.url, "experiments/create", json!({"name": name})).await;
    let exp_id = exp["experiment_id"].as_str().unwrap().to_string();
    (a, b, http, name, exp_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgres_database() {
    let Some(db) = pg_url() else {
        eprintln!("SKIPPED: MLOX_TEST_POSTGRES_URL is not set");
        return;
    };
    let (a, b, http, name, exp_id) = two_servers(&db, "replicas").await;

    // Writes through one are read at once through the other.
    let got = get(
        &http,
        &b.url,
        "experiments/get-by-name",
        &[("experiment_name", &name)],
    )
    .await;
    assert_eq!(got["experiment"]["experiment_id"], exp_id);
    let run = post(
        &http,
        &b.url,
        "runs/create",
        json!({"experiment_id": exp_id}),
    )
    .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    post(
        &http,
        &b.url,
        "runs/log-parameter",
        json!({"run_id": run_id, "key": "alpha", "value": "0.5"}),
    )
    .await;
    let seen = get(&http, &a.url, "runs/get", &[("run_id", &run_id)]).await;
    assert_eq!(seen["run"]["data"]["params"][0]["value"], "0.5");
    let found = post(
        &http,
        &a.url,
        "runs/search",
        json!({"experiment_ids": [exp_id], "filter": "params.alpha = '0.5'"}),
    )
    .await;
    assert_eq!(found["runs"].as_array().map(Vec::len), Some(1));

    // Concurrent appends to one metric through both servers; `b` is killed midway.
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let mut writers = Vec::new();
    for (s, url) in [a.url.clone(), b.url.clone()].into_iter().enumerate() {
        for w in 0..4i64 {
            let (http, url, run_id, acked) =
                (http.clone(), url.clone(), run_id.clone(), acked.clone());
            let base = (s as i64 * 4 + w) * 1_000_000;
            writers.push(tokio::spawn(async move {
                for i in 0..150i64 {
                    let step = base + i * 10;
                    let (path, body) = if i % 10 == 9 {
                        // A batch of 5 points of the same metric now and then.
                        let metrics: Vec<Value> = (0..5)
                            .map(|j| json!({"key": "shared", "value": j, "timestamp": step + j, "step": step + j}))
                            .collect();
                        ("runs/log-batch", json!({"run_id": run_id, "metrics": metrics}))
                    } else {
                        (
                            "runs/log-metric",
                            json!({"run_id": run_id, "key": "shared", "value": i, "timestamp": step, "step": step}),
                        )
                    };
                    let r = http
                        .post(format!("{url}/api/2.0/mlflow/{path}"))
                        .json(&body)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let mut acked = acked.lock().unwrap();
                            let n = if path == "runs/log-batch" { 5 } else { 1 };
                            acked.extend(step..step + n);
                        }
                        // Only the killed server may fail.
                        Ok(r) => panic!("{path} through {url}: {}", r.status()),
                        Err(_) => {
                            assert_eq!(s, 1, "the surviving server refused a write");
                            break;
                        }
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    drop(b); // SIGKILL
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let from_b = acked.iter().filter(|s| **s >= 4_000_000).count();
    assert!(
        from_b > 0,
        "no write went through the second server before it was killed"
    );

    // A restarted replica and the survivor read the same history: every acknowledged
    // point once.
    let c = common::start(&["--backend-store-uri", &db]);
    for url in [&a.url, &c.url] {
        let steps = history_steps(&http, url, &run_id, "shared").await;
        let unique: BTreeSet<i64> = steps.iter().copied().collect();
        assert_eq!(unique.len(), steps.len(), "a point is stored twice");
        let lost: Vec<&i64> = acked.difference(&unique).take(5).collect();
        assert!(lost.is_empty(), "acknowledged points lost: {lost:?}");
        // Points of the killed server's last unacknowledged requests may be stored
        // (committed before the kill, answered after): nothing else.
        assert!(unique.iter().all(|s| acked.contains(s) || *s >= 4_000_000));
    }
}

/// Runs one SQL statement with psql; returns its output (unaligned, tuples only).
/// Metric writes to several runs at once, through two servers (each with its own writer
/// connections and group commits): groups that hold one run's lock while asking for
/// another's would deadlock, and PostgreSQL would fail one request of each pair after a
/// second. Every group takes its runs' locks in one order first, so every write succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_writes_to_several_runs_never_deadlock() {
    let Some(db) = pg_url() else {
        eprintln!("SKIPPED: MLOX_TEST_POSTGRES_URL is not set");
        return;
    };
    let (a, b, http, _, exp_id) = two_servers(&db, "crossing").await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = post(
            &http,
            &a.url,
            "runs/create",
            json!({"experiment_id": exp_id}),
        )
        .await;
        runs.push(run["run"]["info"]["run_id"].as_str().unwrap().to_string());
    }
    // 16 clients, 8 per server, each cycling over the runs from its own starting point,
    // so that the groups of both servers mix the runs in every order.
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..16usize {
        let url = if c % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let (http, runs, failures) = (http.clone(), runs.clone(), failures.clone());
        clients.push(tokio::spawn(async move {
            for i in 0..60usize {
                let run_id = &runs[(c + i) % runs.len()];
                let metrics: Vec<Value> = (0..3)
                    .map(|k| json!({"key": format!("m{k}"), "value": i, "timestamp": 1, "step": c * 1000 + i}))
                    .collect();
                let r = http
                    .post(format!("{url}/api/2.0/mlflow/runs/log-batch"))
                    .json(&json!({"run_id": run_id, "metrics": metrics, "tags": [{"key": format!("c{c}"), "value": i.to_string()}]}))
                    .send()
                    .await
                    .unwrap();
                if !r.status().is_success() {
                    let failure = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
                    failures.lock().unwrap().push(failure);
                }
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} writes failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    // Every point is there: 16 clients × 60 requests × 3 keys over the runs.
    let mut total = 0;
    for run_id in &runs {
        for k in 0..3 {
            total += history_steps(&http, &b.url, run_id, &format!("m{k}"))
                .await
                .len();
        }
    }
    assert_eq!(total, 16 * 60 * 3);
}

fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args(["-tAq", url, "-c", sql])
        .output()
        .expect("psql is needed for this test");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `--read-replica-backend-store-uri`: reads come from a streaming standby once it has
/// replayed this server's writes, from the primary before; `MLOX_TEST_POSTGRES_STANDBY_URL`
/// names a standby of `MLOX_TEST_POSTGRES_URL` (scripts/test.sh starts one with
/// `pg-test-server.sh standby`, which runs pg_basebackup -R).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_standby_and_a_writer_reads_its_writes() {
    let (Some(primary), Ok(standby)) = (pg_url(), std::env::var("MLOX_TEST_POSTGRES_STANDBY_URL"))
    else {
        eprintln!("SKIPPED: MLOX_TEST_POSTGRES_URL or MLOX_TEST_POSTGRES_STANDBY_URL is not set");
        return;
    };
    let server = common::start(&[
        "--backend-store-uri",
        &primary,
        "--read-replica-backend-store-uri",
        &standby,
    ]);
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let name = format!("standby-{}", std::process::id());
    let exp = post(&http, &url, "experiments/create", json!({"name": name})).await;
    let exp_id = exp["experiment_id"].as_str().unwrap().to_string();

    // Read-your-writes, whatever the standby's lag.
    for i in 0..30i64 {
        let run = post(&http, &url, "runs/create", json!({"experiment_id": exp_id})).await;
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
        post(
            &http,
            &url,
            "runs/log-metric",
            json!({"run_id": run_id, "key": "m", "value": i, "timestamp": i, "step": i}),
        )
        .await;
        let got = get(&http, &url, "runs/get", &[("run_id", &run_id)]).await;
        assert_eq!(got["run"]["data"]["metrics"][0]["step"], i);
        assert_eq!(history_steps(&http, &url, &run_id, "m").await, vec![i]);
        let found = post(
            &http,
            &url,
            "runs/search",
            json!({"experiment_ids": [exp_id], "max_results": 1000}),
        )
        .await;
        assert_eq!(found["runs"].as_array().map(Vec::len), Some(i as usize + 1));
    }

    // Once the standby has caught up, reads come from it: with its replay paused, a change
    // made on the primary behind mlox's back is not seen; mlox's own next write is.
    // The insert position, as the server records it: under synchronous_commit=off the
    // write position can lag the server's last commit.
    let lsn = psql(&primary, "SELECT pg_current_wal_insert_lsn()");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while psql(
        &standby,
        &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
    ) != "t"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby does not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // pg_wal_replay_pause() only asks for a pause: wait until replay has stopped, so that
    // the change below is surely not replayed.
    psql(&standby, "SELECT pg_wal_replay_pause()");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while psql(&standby, "SELECT pg_get_wal_replay_pause_state()") != "paused" {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby does not pause"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    psql(
        &primary,
        &format!("UPDATE experiments SET name = '{name}-renamed' WHERE experiment_id = {exp_id}"),
    );
    let seen = get(
        &http,
        &url,
        "experiments/get",
        &[("experiment_id", &exp_id)],
    )
    .await;
    assert_eq!(
        seen["experiment"]["name"], name,
        "the read did not come from the (paused) standby"
    );
    post(
        &http,
        &url,
        "experiments/set-experiment-tag",
        json!({"experiment_id": exp_id, "key": "k", "value": "v"}),
    )
    .await;
    let seen = get(
        &http,
        &url,
        "experiments/get",
        &[("experiment_id", &exp_id)],
    )
    .await;
    psql(&standby, "SELECT pg_wal_replay_resume()");
    assert_eq!(
        seen["experiment"]["name"],
        format!("{name}-renamed"),
        "after its own write, the server read from the lagging standby"
    );
    assert_eq!(seen["experiment"]["tags"][0]["key"], "k");
}
