//! Process-level helpers for bench/run.sh: a free port, time-to-healthy, the RSS of a
//! process tree, and a null HTTP server that measures the load generator's own ceiling.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::stats::round3;

pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Polls GET {url}/health every `interval` until it answers 200. `since_ns` is the
/// launch time (Unix ns, from `date +%s%N` just before the server was started);
/// the result is launch → first 200.
pub async fn wait_healthy(
    url: &str,
    since_ns: Option<u128>,
    timeout: Duration,
    interval: Duration,
    pid: Option<u32>,
) -> Result<Value> {
    let since = since_ns.unwrap_or_else(unix_ns);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()?;
    let target = format!("{}/health", url.trim_end_matches('/'));
    let start = Instant::now();
    let mut attempts = 0u64;
    loop {
        attempts += 1;
        if let Ok(r) = client.get(&target).send().await {
            if r.status().is_success() {
                let now = unix_ns();
                return Ok(json!({
                    "scenario": "startup",
                    "healthy_ms": round3((now.saturating_sub(since)) as f64 / 1e6),
                    "attempts": attempts,
                }));
            }
        }
        if let Some(p) = pid {
            if !Path::new(&format!("/proc/{p}")).exists() {
                bail!("server process {p} exited before /health answered");
            }
        }
        if start.elapsed() > timeout {
            bail!("{target} not healthy after {timeout:?}");
        }
        // Fine-grained polling while a fast server may come up; coarser afterwards so
        // the poller does not steal CPU from a slow starter on a small machine.
        let wait = if start.elapsed() < Duration::from_secs(2) {
            interval
        } else {
            interval.max(Duration::from_millis(25))
        };
        tokio::time::sleep(wait).await;
    }
}

/// Parent pid of every process (from /proc/*/stat).
fn parents() -> HashMap<u32, u32> {
    let mut m = HashMap::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return m;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may contain spaces and parentheses.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) {
            let mut it = rest.split_whitespace();
            it.next(); // state
            if let Some(ppid) = it.next().and_then(|s| s.parse().ok()) {
                m.insert(pid, ppid);
            }
        }
    }
    m
}

/// The process `root` and all its descendants.
pub fn tree(root: u32) -> Vec<u32> {
    let par = parents();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&p, &pp) in &par {
        children.entry(pp).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if !seen.insert(p) || !par.contains_key(&p) {
            continue;
        }
        out.push(p);
        if let Some(cs) = children.get(&p) {
            stack.extend(cs);
        }
    }
    out
}

fn status_kib(pid: u32, field: &str, file: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub struct Sample {
    pub rss_kib: u64,
    pub pss_kib: Option<u64>,
    pub procs: usize,
}

pub fn sample(root: u32, with_pss: bool) -> Sample {
    let pids = tree(root);
    let mut rss = 0;
    let mut pss = 0;
    let mut pss_ok = with_pss;
    for &p in &pids {
        rss += status_kib(p, "VmRSS:", "status").unwrap_or(0);
        if with_pss {
            match status_kib(p, "Pss:", "smaps_rollup") {
                Some(v) => pss += v,
                None => pss_ok = false,
            }
        }
    }
    Sample {
        rss_kib: rss,
        pss_kib: pss_ok.then_some(pss),
        procs: pids.len(),
    }
}

/// Samples the summed RSS of the tree rooted at `pid` every `interval` until
/// `stop_file` exists, `seconds` have passed, or the root exits. PSS (which counts
/// shared pages once across the tree) is sampled every 10th time because reading
/// smaps_rollup costs more.
pub fn rss(
    pid: u32,
    interval: Duration,
    seconds: Option<f64>,
    stop_file: Option<PathBuf>,
) -> Result<Value> {
    if !Path::new(&format!("/proc/{pid}")).exists() {
        bail!("no process {pid}");
    }
    let start = Instant::now();
    let mut n = 0u64;
    let (mut rss_peak, mut rss_first, mut rss_last) = (0u64, 0u64, 0u64);
    let (mut pss_peak, mut pss_last) = (None::<u64>, None::<u64>);
    let (mut procs_max, mut procs_last) = (0usize, 0usize);
    loop {
        let s = sample(pid, n.is_multiple_of(10));
        if s.procs == 0 {
            break;
        }
        if n == 0 {
            rss_first = s.rss_kib;
        }
        n += 1;
        rss_peak = rss_peak.max(s.rss_kib);
        rss_last = s.rss_kib;
        if let Some(p) = s.pss_kib {
            pss_peak = Some(pss_peak.unwrap_or(0).max(p));
            pss_last = Some(p);
        }
        procs_max = procs_max.max(s.procs);
        procs_last = s.procs;
        if stop_file.as_ref().is_some_and(|f| f.exists()) {
            break;
        }
        if seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s) {
            break;
        }
        std::thread::sleep(interval);
    }
    let names: Vec<String> = tree(pid).into_iter().map(comm).collect();
    let mib = |k: u64| round3(k as f64 / 1024.0);
    Ok(json!({
        "scenario": "rss",
        "pid": pid,
        "samples": n,
        "interval_ms": interval.as_millis() as u64,
        "seconds": round3(start.elapsed().as_secs_f64()),
        "rss_mib_first": mib(rss_first),
        "rss_mib_last": mib(rss_last),
        "rss_mib_peak": mib(rss_peak),
        "pss_mib_last": pss_last.map(mib),
        "pss_mib_peak": pss_peak.map(mib),
        "procs_max": procs_max,
        "procs_last": procs_last,
        "process_names": names,
    }))
}

const NULL_BODY: &[u8] = br#"{"run":{"info":{"run_id":"null","run_uuid":"null","experiment_id":"0"}},"experiment_id":"0"}"#;

/// A minimal HTTP/1.1 keep-alive server that answers every request with the same small
/// 200 JSON body, as fast as it can. Used only to measure the load generator's ceiling.
pub async fn null_server(port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("Listening on http://{addr}");
    use std::io::Write;
    std::io::stdout().flush()?;
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        NULL_BODY.len()
    )
    .into_bytes();
    resp.extend_from_slice(NULL_BODY);
    let resp: &'static [u8] = Box::leak(resp.into_boxed_slice());
    loop {
        let (mut sock, _) = listener.accept().await?;
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                // Answer every complete request in the buffer.
                while let Some(hdr_end) = find(&buf, b"\r\n\r\n") {
                    let body_len = content_length(&buf[..hdr_end]);
                    let total = hdr_end + 4 + body_len;
                    if buf.len() < total {
                        break;
                    }
                    buf.drain(..total);
                    if sock.write_all(resp).await.is_err() {
                        return;
                    }
                }
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    let s = String::from_utf8_lossy(head);
    s.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// Machine facts for the report.
pub fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    json!({
        "nproc": cpus,
        "mem_gib": round3(mem_kib as f64 / 1024.0 / 1024.0),
        "cpu": model,
        "kernel": kernel,
    })
}

pub fn read_json(path: &Path) -> Option<Value> {
    let s = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(s.trim()).ok()
}

pub fn write_file(path: &Path, s: &str) -> Result<()> {
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}
