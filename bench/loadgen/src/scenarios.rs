//! The benchmark scenarios. Each returns one JSON object (printed by main).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::http::{self, now_ms, Api};
use crate::stats::{median_ms, round3, summary, Errors};

/// How long / how much a throughput scenario runs.
#[derive(Clone, Debug)]
pub struct Load {
    pub concurrency: usize,
    pub seconds: f64,
    pub count: Option<u64>,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Health,
    CreateRun { experiment_id: String },
    LogMetric,
    LogBatch { batch: usize },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Health => "health",
            Kind::CreateRun { .. } => "create-run",
            Kind::LogMetric => "log-metric",
            Kind::LogBatch { .. } => "log-batch",
        }
    }

    /// Units of work per operation (metrics per request for log-batch).
    fn units(&self) -> u64 {
        match self {
            Kind::LogBatch { batch } => *batch as u64,
            _ => 1,
        }
    }
}

/// Per-worker state prepared before the clock starts.
struct WorkerState {
    run_id: String,
    ts0: u64,
}

struct WorkerOut {
    lat_us: Vec<u64>,
    errors: Errors,
}

/// Throughput scenario: `concurrency` workers issue requests back to back (closed loop)
/// until `seconds` have passed or `count` operations were started.
pub async fn timed(api: &Api, kind: Kind, load: &Load) -> Result<Value> {
    let c = load.concurrency.max(1);
    // Setup outside the measured window: one run per worker for the write scenarios
    // (so workers do not contend on one run's rows, as separate training jobs would not).
    let setup_t = Instant::now();
    let mut states = Vec::with_capacity(c);
    for _ in 0..c {
        let run_id = match &kind {
            Kind::LogMetric | Kind::LogBatch { .. } => api.create_run("0", now_ms()).await?,
            _ => String::new(),
        };
        states.push(WorkerState {
            run_id,
            ts0: now_ms(),
        });
    }
    let setup_s = setup_t.elapsed().as_secs_f64();

    let remaining = Arc::new(AtomicI64::new(
        load.count.map(|n| n as i64).unwrap_or(i64::MAX),
    ));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(load.seconds);
    let mut handles = Vec::with_capacity(c);
    for st in states {
        let api = api.clone();
        let kind = kind.clone();
        let remaining = remaining.clone();
        handles.push(tokio::spawn(async move {
            let mut out = WorkerOut {
                lat_us: Vec::with_capacity(4096),
                errors: Errors::default(),
            };
            let mut i: u64 = 0;
            loop {
                if Instant::now() >= deadline || remaining.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    break;
                }
                // The body is built before the clock starts for the request.
                let t0;
                let r = match &kind {
                    Kind::Health => {
                        t0 = Instant::now();
                        api.get_discard("/health").await
                    }
                    Kind::CreateRun { experiment_id } => {
                        let body = format!(
                            r#"{{"experiment_id":{},"start_time":{}}}"#,
                            http::json_str(experiment_id),
                            st.ts0 + i
                        );
                        t0 = Instant::now();
                        api.post_discard(http::CREATE_RUN, body).await
                    }
                    Kind::LogMetric => {
                        let body = format!(
                            r#"{{"run_id":"{}","key":"m","value":{},"timestamp":{},"step":{i}}}"#,
                            st.run_id,
                            value_for(i),
                            st.ts0 + i
                        );
                        t0 = Instant::now();
                        api.post_discard(http::LOG_METRIC, body).await
                    }
                    Kind::LogBatch { batch } => {
                        let body = batch_body(&st.run_id, *batch, i, st.ts0);
                        t0 = Instant::now();
                        api.post_discard(http::LOG_BATCH, body).await
                    }
                };
                let dt = t0.elapsed().as_micros() as u64;
                match r {
                    Ok(_) => out.lat_us.push(dt),
                    Err(e) => out.errors.add(&e),
                }
                i += 1;
            }
            out
        }));
    }
    let mut lat = Vec::new();
    let mut errors = Errors::default();
    for h in handles {
        let out = h.await?;
        lat.extend(out.lat_us);
        errors.merge(out.errors);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ops = lat.len() as u64;
    let units = ops * kind.units();
    Ok(json!({
        "scenario": kind.name(),
        "concurrency": c,
        "seconds": round3(elapsed),
        "ops": ops,
        "ops_per_s": round3(ops as f64 / elapsed),
        "units": units,
        "units_per_s": round3(units as f64 / elapsed),
        "unit": if matches!(kind, Kind::LogBatch { .. }) { "metrics" } else { "requests" },
        "latency_ms": summary(&mut lat),
        "errors": errors.count,
        "error_samples": errors.samples,
        "setup_s": round3(setup_s),
    }))
}

fn value_for(i: u64) -> f64 {
    // Deterministic, varied, finite.
    ((i % 1000) as f64) / 997.0 + 0.125
}

/// A log-batch body with `n` metrics over 10 keys (m0..m9), all with distinct steps.
fn batch_body(run_id: &str, n: usize, iter: u64, ts0: u64) -> String {
    let mut s = String::with_capacity(64 + n * 72);
    write!(s, r#"{{"run_id":"{run_id}","metrics":["#).unwrap();
    let per_key = n.div_ceil(10) as u64;
    for j in 0..n as u64 {
        if j > 0 {
            s.push(',');
        }
        let step = iter * per_key + j / 10;
        write!(
            s,
            r#"{{"key":"m{}","value":{},"timestamp":{},"step":{step}}}"#,
            j % 10,
            value_for(iter * n as u64 + j),
            ts0 + step
        )
        .unwrap();
    }
    s.push_str("]}");
    s
}

/// Runs `f(i)` for i in 0..n over `c` workers; returns (elapsed seconds, errors).
pub(crate) async fn fan_out<F, Fut>(n: u64, c: usize, f: F) -> (f64, Errors)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..c.max(1) {
        let f = f.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let mut errors = Errors::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if let Err(e) = f(i).await {
                    errors.add(&e);
                }
            }
            errors
        }));
    }
    let mut errors = Errors::default();
    for h in handles {
        match h.await {
            Ok(e) => errors.merge(e),
            Err(e) => errors.add_msg(format!("worker panicked: {e}")),
        }
    }
    (start.elapsed().as_secs_f64(), errors)
}

/// seed-history: log `points` values of one metric into one run via log-batch, then
/// time GET metrics/get-history for that key `repeat` times (sequentially).
pub async fn seed_history(
    api: &Api,
    points: u64,
    batch: u64,
    concurrency: usize,
    repeat: usize,
    key: &str,
) -> Result<Value> {
    let run_id = api.create_run("0", now_ms()).await?;
    let ts0 = now_ms();
    let nbatches = points.div_ceil(batch);
    let (seed_s, seed_errors) = {
        let api = api.clone();
        let run_id = run_id.clone();
        let key = key.to_string();
        fan_out(nbatches, concurrency, move |b| {
            let api = api.clone();
            let run_id = run_id.clone();
            let key = key.clone();
            async move {
                let lo = b * batch;
                let hi = (lo + batch).min(points);
                let mut s = String::with_capacity(64 + (hi - lo) as usize * 72);
                write!(s, r#"{{"run_id":"{run_id}","metrics":["#).unwrap();
                for i in lo..hi {
                    if i > lo {
                        s.push(',');
                    }
                    write!(
                        s,
                        r#"{{"key":"{key}","value":{},"timestamp":{},"step":{i}}}"#,
                        value_for(i),
                        ts0 + i
                    )
                    .unwrap();
                }
                s.push_str("]}");
                api.post_discard(http::LOG_BATCH, s).await.map(|_| ())
            }
        })
        .await
    };

    let mut times = Vec::new();
    let mut errors = Errors::default();
    let mut returned = 0u64;
    for _ in 0..repeat.max(1) {
        match get_history(api, &run_id, key).await {
            Ok((us, n)) => {
                returned = n;
                if n != points {
                    errors.add_msg(format!(
                        "get-history returned {n} points, expected {points}"
                    ));
                } else {
                    times.push(us);
                }
            }
            Err(e) => errors.add(&e),
        }
    }
    Ok(json!({
        "scenario": "seed-history",
        "points": points,
        "batch": batch,
        "seed_concurrency": concurrency,
        "seed_s": round3(seed_s),
        "seed_points_per_s": round3(points as f64 / seed_s),
        "seed_errors": seed_errors.count,
        "seed_error_samples": seed_errors.samples,
        "run_id": run_id,
        "history_points_returned": returned,
        "history_repeat": repeat,
        "history_ms_each": times.iter().map(|&t| round3(t as f64 / 1000.0)).collect::<Vec<_>>(),
        "history_median_ms": median_ms(&times),
        "errors": errors.count + seed_errors.count,
        "error_samples": errors.samples,
    }))
}

/// One full get-history read (following next_page_token if the server pages).
/// Returns (microseconds spent waiting for the server, points). JSON parsing of the
/// response happens outside the timed part unless a page token has to be read.
async fn get_history(api: &Api, run_id: &str, key: &str) -> Result<(u64, u64)> {
    let mut token: Option<String> = None;
    let mut n = 0u64;
    let mut us = 0u64;
    loop {
        let mut path = format!(
            "{}?run_id={}&metric_key={}",
            http::GET_HISTORY,
            http::url_encode(run_id),
            http::url_encode(key)
        );
        if let Some(t) = &token {
            path.push_str("&page_token=");
            path.push_str(&http::url_encode(t));
        }
        let t0 = Instant::now();
        let body = api.get(&path).await?;
        us += t0.elapsed().as_micros() as u64;
        let v: Value = serde_json::from_slice(&body)?;
        n += v
            .get("metrics")
            .and_then(Value::as_array)
            .map(|a| a.len() as u64)
            .unwrap_or(0);
        token = v
            .get("next_page_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok((us, n));
        }
    }
}

/// The deterministic content of seeded run `i` (same data on every server).
pub struct SeedRun {
    pub params: [(String, String); 3],
    pub metrics: [(String, f64); 5],
    pub tags: [(String, String); 3],
}

pub fn seed_run(i: u64) -> SeedRun {
    let mut r = StdRng::seed_from_u64(0x6d6c_6f78 ^ i);
    let abc = ["a", "b", "c"];
    SeedRun {
        params: [
            ("p1".into(), abc[r.gen_range(0..3)].into()),
            ("p2".into(), format!("{}", r.gen_range(0..100))),
            ("p3".into(), format!("lr-{:.4}", r.gen::<f64>() / 10.0)),
        ],
        metrics: [
            ("m1".into(), round6(r.gen::<f64>())),
            ("m2".into(), round6(r.gen::<f64>())),
            ("m3".into(), round6(r.gen::<f64>() * 100.0)),
            ("m4".into(), round6(r.gen::<f64>() - 0.5)),
            ("m5".into(), round6(r.gen::<f64>() * 1e6)),
        ],
        tags: [
            ("t1".into(), format!("team-{}", r.gen_range(0..5))),
            (
                "t2".into(),
                if r.gen_bool(0.5) {
                    "gpu".into()
                } else {
                    "cpu".into()
                },
            ),
            ("t3".into(), format!("seed-{i}")),
        ],
    }
}

impl SeedRun {
    pub fn to_json(&self, i: u64) -> Value {
        let obj = |kv: &[(String, String)]| {
            Value::Object(
                kv.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        json!({
            "i": i,
            "params": obj(&self.params),
            "metrics": Value::Object(self.metrics.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
            "tags": obj(&self.tags),
        })
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// seed-search: create `runs` runs in experiment `name`, each with 3 params, 5 metrics
/// and 3 tags written by one log-batch (so two requests per run).
pub async fn seed_search(
    api: &Api,
    offset: u64,
    runs: u64,
    concurrency: usize,
    name: &str,
) -> Result<Value> {
    let exp = api.experiment_id(name, true).await?;
    let ts0 = now_ms();
    let (seed_s, errors) = {
        let api = api.clone();
        let exp = exp.clone();
        fan_out(runs, concurrency, move |k| {
            let api = api.clone();
            let exp = exp.clone();
            let i = offset + k;
            async move {
                let run_id = api.create_run(&exp, ts0 + i).await?;
                let r = seed_run(i);
                let mut s = String::with_capacity(600);
                write!(s, r#"{{"run_id":"{run_id}","metrics":["#).unwrap();
                for (k, (key, v)) in r.metrics.iter().enumerate() {
                    if k > 0 {
                        s.push(',');
                    }
                    write!(
                        s,
                        r#"{{"key":"{key}","value":{v},"timestamp":{},"step":0}}"#,
                        ts0 + i
                    )
                    .unwrap();
                }
                s.push_str(r#"],"params":["#);
                for (k, (key, v)) in r.params.iter().enumerate() {
                    if k > 0 {
                        s.push(',');
                    }
                    write!(s, r#"{{"key":"{key}","value":{}}}"#, http::json_str(v)).unwrap();
                }
                s.push_str(r#"],"tags":["#);
                for (k, (key, v)) in r.tags.iter().enumerate() {
                    if k > 0 {
                        s.push(',');
                    }
                    write!(s, r#"{{"key":"{key}","value":{}}}"#, http::json_str(v)).unwrap();
                }
                s.push_str("]}");
                api.post_discard(http::LOG_BATCH, s).await.map(|_| ())
            }
        })
        .await
    };
    Ok(json!({
        "scenario": "seed-search",
        "experiment_id": exp,
        "experiment_name": name,
        "runs": runs,
        "offset": offset,
        "concurrency": concurrency,
        "requests": runs * 2,
        "seed_s": round3(seed_s),
        "runs_per_s": round3(runs as f64 / seed_s),
        "requests_per_s": round3(2.0 * runs as f64 / seed_s),
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}

fn run_param<'a>(run: &'a Value, key: &str) -> Option<&'a str> {
    run.pointer("/data/params")?
        .as_array()?
        .iter()
        .find(|p| p.get("key").and_then(Value::as_str) == Some(key))?
        .get("value")?
        .as_str()
}

fn run_metric(run: &Value, key: &str) -> Option<f64> {
    run.pointer("/data/metrics")?
        .as_array()?
        .iter()
        .find(|p| p.get("key").and_then(Value::as_str) == Some(key))?
        .get("value")?
        .as_f64()
}

fn search_body(
    exp: &str,
    filter: &str,
    order_by: &[String],
    max_results: u64,
    token: Option<&str>,
) -> String {
    let mut v = json!({
        "experiment_ids": [exp],
        "max_results": max_results,
    });
    if !filter.is_empty() {
        v["filter"] = json!(filter);
    }
    if !order_by.is_empty() {
        v["order_by"] = json!(order_by);
    }
    if let Some(t) = token {
        v["page_token"] = json!(t);
    }
    v.to_string()
}

/// One page: (microseconds, runs, next token).
async fn search_page(api: &Api, body: String) -> Result<(u64, Vec<Value>, Option<String>)> {
    let t0 = Instant::now();
    let bytes = api.post(http::SEARCH_RUNS, body).await?;
    let us = t0.elapsed().as_micros() as u64;
    let mut v: Value = serde_json::from_slice(&bytes)?;
    let runs = match v.get_mut("runs").map(Value::take) {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => bail!("runs/search: 'runs' is not a list: {}", http::short(&other)),
    };
    let token = v
        .get("next_page_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((us, runs, token))
}

/// Checks a filtered, ordered page against the seeded data (cheap correctness check, so
/// that a fast wrong answer does not count).
fn check_search_page(runs: &[Value], errors: &mut Errors) {
    let mut prev = f64::INFINITY;
    for r in runs {
        let p1 = run_param(r, "p1");
        let m1 = run_metric(r, "m1");
        let m2 = run_metric(r, "m2");
        if p1 != Some("a") || !m1.is_some_and(|m| m > 0.5) {
            errors.add_msg(format!(
                "run does not match the filter: p1={p1:?} m1={m1:?}"
            ));
            return;
        }
        match m2 {
            Some(m) if m <= prev => prev = m,
            _ => {
                errors.add_msg(format!(
                    "runs not ordered by metrics.m2 DESC ({m2:?} after {prev})"
                ));
                return;
            }
        }
    }
}

/// search: POST runs/search with a filter and order_by, `repeat` times, sequentially.
pub async fn search(
    api: &Api,
    name: &str,
    filter: &str,
    order_by: &[String],
    max_results: u64,
    repeat: usize,
) -> Result<Value> {
    let exp = api.experiment_id(name, false).await?;
    let mut errors = Errors::default();
    // How many runs match in total (untimed; also a correctness check of paging + filter).
    let mut matches = 0u64;
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let (_, runs, next) = search_page(
            api,
            search_body(&exp, filter, order_by, 1000, token.as_deref()),
        )
        .await?;
        matches += runs.len() as u64;
        pages += 1;
        token = next;
        if token.is_none() || pages > 1000 {
            break;
        }
    }
    // Untimed warm-up (first query after seeding), reported separately.
    let (first_us, _, _) =
        search_page(api, search_body(&exp, filter, order_by, max_results, None)).await?;
    let mut times = Vec::new();
    let mut page_len = 0;
    for _ in 0..repeat.max(1) {
        match search_page(api, search_body(&exp, filter, order_by, max_results, None)).await {
            Ok((us, runs, _)) => {
                let before = errors.count;
                check_search_page(&runs, &mut errors);
                let expect = matches.min(max_results) as usize;
                if runs.len() != expect {
                    errors.add_msg(format!("page has {} runs, expected {expect}", runs.len()));
                }
                if errors.count == before {
                    times.push(us);
                }
                page_len = runs.len();
            }
            Err(e) => errors.add(&e),
        }
    }
    let mut sorted = times.clone();
    Ok(json!({
        "scenario": "search",
        "experiment_id": exp,
        "filter": filter,
        "order_by": order_by,
        "max_results": max_results,
        "matches_total": matches,
        "page_runs": page_len,
        "repeat": repeat,
        "first_ms": round3(first_us as f64 / 1000.0),
        "median_ms": median_ms(&times),
        "latency_ms": summary(&mut sorted),
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}

/// paginate: read every run of the experiment, `max_results` per page, following
/// next_page_token; `repeat` times; reports the median total time.
pub async fn paginate(
    api: &Api,
    name: &str,
    max_results: u64,
    repeat: usize,
    expect: Option<u64>,
) -> Result<Value> {
    let exp = api.experiment_id(name, false).await?;
    let mut errors = Errors::default();
    let mut totals = Vec::new();
    let mut wall = Vec::new();
    let mut last_runs = 0u64;
    let mut last_pages = 0u64;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let mut server_us = 0u64;
        let mut ids = HashSet::new();
        let mut token: Option<String> = None;
        let mut pages = 0u64;
        let mut failed = false;
        loop {
            match search_page(
                api,
                search_body(&exp, "", &[], max_results, token.as_deref()),
            )
            .await
            {
                Ok((us, runs, next)) => {
                    server_us += us;
                    pages += 1;
                    for r in &runs {
                        if let Some(id) = r.pointer("/info/run_id").and_then(Value::as_str) {
                            ids.insert(id.to_string());
                        }
                    }
                    token = next;
                    if token.is_none() {
                        break;
                    }
                    if pages > 100_000 {
                        errors.add_msg("more than 100000 pages; giving up".into());
                        failed = true;
                        break;
                    }
                }
                Err(e) => {
                    errors.add(&e);
                    failed = true;
                    break;
                }
            }
        }
        let n = ids.len() as u64;
        last_runs = n;
        last_pages = pages;
        if failed {
            continue;
        }
        if let Some(x) = expect {
            if n != x {
                errors.add_msg(format!(
                    "pagination returned {n} distinct runs, expected {x}"
                ));
                continue;
            }
        }
        totals.push(server_us);
        wall.push(t0.elapsed().as_micros() as u64);
    }
    Ok(json!({
        "scenario": "paginate",
        "experiment_id": exp,
        "max_results": max_results,
        "runs": last_runs,
        "pages": last_pages,
        "repeat": repeat,
        "total_ms_each": totals.iter().map(|&t| round3(t as f64 / 1000.0)).collect::<Vec<_>>(),
        "median_ms": median_ms(&totals),
        "median_wall_ms": median_ms(&wall),
        "errors": errors.count,
        "error_samples": errors.samples,
    }))
}
