//! `invoke`: POST one fixed body to a scoring server's `/invocations` in closed loops
//! (bench/serving): requests/s and latency percentiles at a given concurrency.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};

use crate::http::Api;
use crate::stats::{round3, summary, Errors};

pub async fn run(
    api: &Api,
    path: &str,
    body: String,
    concurrency: usize,
    seconds: f64,
    count: Option<u64>,
) -> Result<Value> {
    let c = concurrency.max(1);
    // One warm-up request per worker, outside the clock (connections, first batch).
    for _ in 0..c {
        let _ = api.post_discard(path, body.clone()).await;
    }
    let remaining = Arc::new(AtomicI64::new(count.map_or(i64::MAX, |n| n as i64)));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut handles = Vec::with_capacity(c);
    for _ in 0..c {
        let api = api.clone();
        let body = body.clone();
        let path = path.to_string();
        let remaining = remaining.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut errors = Errors::default();
            while Instant::now() < deadline && remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
                let t0 = Instant::now();
                match api.post_discard(&path, body.clone()).await {
                    Ok(_) => lat.push(t0.elapsed().as_micros() as u64),
                    Err(e) => errors.add(&e),
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = Errors::default();
    for h in handles {
        let (l, e) = h.await?;
        lat.extend(l);
        errors.merge(e);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = lat.len();
    Ok(json!({
        "scenario": "invoke",
        "concurrency": c,
        "seconds": round3(elapsed),
        "ok": n,
        "ops_per_s": round3(n as f64 / elapsed),
        "latency_ms": summary(&mut lat),
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}
