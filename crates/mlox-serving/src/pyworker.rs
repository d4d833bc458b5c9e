//! The Python back end: N long-lived worker processes, each running the program in
//! `worker.py` (shipped inside the binary) that loads the model with `mlflow.pyfunc` and
//! scores with MLflow's own scoring-server function. The Rust front talks to each worker
//! over its stdin/stdout with length-prefixed JSON frames.
//!
//! Batching: requests wait in one queue; a worker that becomes free takes the first and
//! then every queued request that can be merged with it (same format, same columns, same
//! params), waiting at most `max_batch_wait` for more, up to `max_batch_size` rows. The
//! merged request is scored once and the predictions are split back by row counts; when a
//! merged call fails or its predictions cannot be split, each request is scored alone, so a
//! bad request never fails its neighbours.
//!
//! Failure: a worker that dies is restarted by its slot; requests it was scoring get an
//! error at once. A request that runs longer than the timeout kills its worker (504).
//! Invariant: every queued request gets exactly one answer.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::error::{Result, ServeError};
use crate::request::{parse_csv, parse_json, ContentType};

const WORKER_PY: &str = include_str!("worker.py");

/// How to start a worker process.
#[derive(Clone, Debug)]
pub struct PythonEnv {
    /// The interpreter.
    pub python: PathBuf,
    /// Variables to set and to remove in the worker's environment.
    pub vars: Vec<(String, String)>,
    pub unset: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub model_dir: PathBuf,
    pub env: PythonEnv,
    pub workers: usize,
    /// Rows per merged call (a larger single request is still scored whole).
    pub max_batch_size: usize,
    pub max_batch_wait: Duration,
    /// MLflow's `MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT`.
    pub timeout: Duration,
}

/// A worker's answer, as MLflow's server would send it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub mimetype: String,
    pub body: String,
}

impl Reply {
    fn error(e: &ServeError) -> Reply {
        Reply {
            status: e.error_code().http_status(),
            mimetype: "application/json".to_string(),
            body: e.to_json().to_string(),
        }
    }
}

/// A request as the front received it, with what batching needs.
#[derive(Debug)]
pub struct Job {
    content_type: String,
    body: Vec<u8>,
    merge: Option<Merge>,
    reply: oneshot::Sender<Reply>,
}

/// How a request can be merged with others.
#[derive(Debug, Clone)]
struct Merge {
    /// Requests merge only with equal keys.
    key: String,
    rows: usize,
    data: MergeData,
}

#[derive(Debug, Clone)]
enum MergeData {
    /// A JSON format whose value is a list of rows (`columns` for dataframe_split).
    Json {
        format: &'static str,
        columns: Option<Value>,
        params: Option<Map<String, Value>>,
        rows: Vec<Value>,
    },
    /// CSV lines after the header.
    Csv { header: String, lines: String },
}

/// Bodies larger than this are scored alone without being parsed here.
const MERGE_MAX_BYTES: usize = 256 * 1024;

fn merge_info(ct: ContentType, body: &[u8]) -> Option<Merge> {
    if body.len() > MERGE_MAX_BYTES {
        return None;
    }
    match ct {
        ContentType::Json => {
            let req = parse_json(body).ok()?;
            let (columns, rows) = match (req.format, req.data) {
                ("dataframe_split", Value::Object(mut o)) => {
                    if o.keys().any(|k| k != "columns" && k != "data") {
                        return None;
                    }
                    let Some(Value::Array(rows)) = o.remove("data") else {
                        return None;
                    };
                    (Some(o.remove("columns").unwrap_or(Value::Null)), rows)
                }
                ("dataframe_split", _) => return None,
                (_, Value::Array(rows)) if !rows.is_empty() => (None, rows),
                _ => return None,
            };
            let key = format!(
                "json|{}|{}|{}",
                req.format,
                columns.as_ref().map(Value::to_string).unwrap_or_default(),
                req.params
                    .as_ref()
                    .map(|p| Value::Object(p.clone()).to_string())
                    .unwrap_or_default()
            );
            Some(Merge {
                key,
                rows: rows.len(),
                data: MergeData::Json {
                    format: req.format,
                    columns,
                    params: req.params,
                    rows,
                },
            })
        }
        ContentType::Csv => {
            let text = std::str::from_utf8(body).ok()?;
            // Only simple CSV (no quoted newlines) is merged: one record per line.
            if text.contains('"') {
                return None;
            }
            let table = parse_csv(body).ok()?;
            let (header, rest) = text.split_once('\n')?;
            let mut lines = rest.trim_end_matches(['\n', '\r']).to_string();
            lines.push('\n');
            Some(Merge {
                key: format!("csv|{}", header.trim_end_matches('\r')),
                rows: table.rows.len(),
                data: MergeData::Csv {
                    header: header.trim_end_matches('\r').to_string(),
                    lines,
                },
            })
        }
        ContentType::Parquet => None,
    }
}

/// The body of a merged request.
fn merged_body(merges: &[&Merge]) -> (String, Vec<u8>) {
    match &merges[0].data {
        MergeData::Json {
            format,
            columns,
            params,
            ..
        } => {
            let mut all = Vec::new();
            for m in merges {
                if let MergeData::Json { rows, .. } = &m.data {
                    all.extend(rows.iter().cloned());
                }
            }
            let data = match columns {
                Some(c) if !c.is_null() => json!({"columns": c, "data": all}),
                Some(_) => json!({"data": all}),
                None => Value::Array(all),
            };
            let mut obj = Map::new();
            obj.insert(format.to_string(), data);
            if let Some(p) = params {
                obj.insert("params".to_string(), Value::Object(p.clone()));
            }
            (
                "application/json".to_string(),
                Value::Object(obj).to_string().into_bytes(),
            )
        }
        MergeData::Csv { header, .. } => {
            let mut text = format!("{header}\n");
            for m in merges {
                if let MergeData::Csv { lines, .. } = &m.data {
                    text.push_str(lines);
                }
            }
            ("text/csv".to_string(), text.into_bytes())
        }
    }
}

/// Splits `{"predictions": X}` of a merged call into one body per request, when X is a
/// list with one item per row (or a dict of such lists).
fn split_predictions(body: &str, rows: &[usize]) -> Option<Vec<String>> {
    let total: usize = rows.iter().sum();
    let v: Value = serde_json::from_str(body).ok()?;
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let preds = obj.get("predictions")?;
    let cut = |list: &Vec<Value>| -> Option<Vec<Value>> {
        if list.len() != total {
            return None;
        }
        let mut out = Vec::new();
        let mut at = 0;
        for n in rows {
            out.push(Value::Array(list[at..at + n].to_vec()));
            at += n;
        }
        Some(out)
    };
    let parts: Vec<Value> = match preds {
        Value::Array(list) => cut(list)?,
        Value::Object(m) => {
            let mut per: Vec<Map<String, Value>> = vec![Map::new(); rows.len()];
            for (k, list) in m {
                let pieces = cut(list.as_array()?)?;
                for (slot, piece) in per.iter_mut().zip(pieces) {
                    slot.insert(k.clone(), piece);
                }
            }
            per.into_iter().map(Value::Object).collect()
        }
        _ => return None,
    };
    Some(
        parts
            .into_iter()
            .map(|p| json!({ "predictions": p }).to_string())
            .collect(),
    )
}

/// The pool: a queue and N worker slots.
pub struct WorkerPool {
    tx: mpsc::Sender<Job>,
    /// Requests submitted and not yet answered: a free worker waits for more to merge
    /// only while others are on their way, so a lone request never waits.
    pending: Arc<std::sync::atomic::AtomicUsize>,
    pids: Arc<std::sync::Mutex<Vec<Option<u32>>>>,
    pub mlflow_version: String,
}

impl WorkerPool {
    /// Starts the workers and waits until each has loaded the model.
    pub async fn start(config: PoolConfig) -> Result<WorkerPool> {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let rx = Arc::new(Mutex::new(rx));
        let pids = Arc::new(std::sync::Mutex::new(vec![None; config.workers.max(1)]));
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let config = Arc::new(config);
        // Start them all at once; model loading is the slow part.
        let mut starting = Vec::new();
        for _ in 0..config.workers.max(1) {
            let config = config.clone();
            starting.push(tokio::spawn(async move { Process::spawn(&config).await }));
        }
        let mut mlflow_version = String::new();
        let mut procs = Vec::new();
        for s in starting {
            let p = s
                .await
                .map_err(|e| ServeError::Worker(format!("worker start panicked: {e}")))??;
            mlflow_version = p.mlflow_version.clone();
            procs.push(p);
        }
        if let Ok(mut ids) = pids.lock() {
            for (slot, p) in procs.iter().enumerate() {
                ids[slot] = Some(p.pid);
            }
        }
        for (slot, p) in procs.into_iter().enumerate() {
            let slot = Slot {
                index: slot,
                config: config.clone(),
                rx: rx.clone(),
                pids: pids.clone(),
                pending: pending.clone(),
                carry: None,
            };
            tokio::spawn(slot.run(p));
        }
        Ok(WorkerPool {
            tx,
            pending,
            pids,
            mlflow_version,
        })
    }

    /// The pids of the live workers.
    pub fn pids(&self) -> Vec<u32> {
        self.pids
            .lock()
            .map(|p| p.iter().flatten().copied().collect())
            .unwrap_or_default()
    }

    /// Scores one `/invocations` request.
    pub async fn invoke(&self, ct: ContentType, content_type: &str, body: Vec<u8>) -> Reply {
        let merge = merge_info(ct, &body);
        let (reply, rx) = oneshot::channel();
        let job = Job {
            content_type: content_type.to_string(),
            body,
            merge,
            reply,
        };
        use std::sync::atomic::Ordering;
        self.pending.fetch_add(1, Ordering::SeqCst);
        let answer = if self.tx.send(job).await.is_err() {
            Reply::error(&ServeError::Worker("the worker pool has stopped".into()))
        } else {
            rx.await.unwrap_or_else(|_| {
                Reply::error(&ServeError::Worker(
                    "the worker handling this request stopped".into(),
                ))
            })
        };
        self.pending.fetch_sub(1, Ordering::SeqCst);
        answer
    }
}

/// One running worker process.
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    pid: u32,
    mlflow_version: String,
}

async fn read_raw(r: &mut ChildStdout) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await?;
    let n = u32::from_le_bytes(head) as usize;
    let mut data = vec![0u8; n];
    r.read_exact(&mut data).await?;
    Ok(data)
}

async fn read_frame(r: &mut ChildStdout) -> std::io::Result<Value> {
    serde_json::from_slice(&read_raw(r).await?).map_err(std::io::Error::other)
}

impl Process {
    async fn spawn(config: &PoolConfig) -> Result<Process> {
        let mut cmd = Command::new(&config.env.python);
        cmd.arg("-c")
            .arg(WORKER_PY)
            .arg(&config.model_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in &config.env.vars {
            cmd.env(k, v);
        }
        for k in &config.env.unset {
            cmd.env_remove(k);
        }
        let mut child = cmd.spawn().map_err(|e| {
            ServeError::Worker(format!(
                "cannot start the Python worker {}: {e}",
                config.env.python.display()
            ))
        })?;
        let pid = child.id().unwrap_or(0);
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| ServeError::Worker("no stdin".into()))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| ServeError::Worker("no stdout".into()))?;
        let hello = read_frame(&mut stdout).await.map_err(|e| {
            ServeError::Worker(format!(
                "the Python worker (pid {pid}) exited while loading the model ({e}); its error is above"
            ))
        })?;
        if hello["ready"] != true {
            return Err(ServeError::Worker(format!(
                "the Python worker could not load the model: {}",
                hello["message"].as_str().unwrap_or("unknown error")
            )));
        }
        tracing::info!(pid, "python worker ready");
        Ok(Process {
            child,
            stdin,
            stdout,
            pid,
            mlflow_version: hello["mlflow_version"].as_str().unwrap_or("").to_string(),
        })
    }

    /// One request/answer exchange: header and raw body each way.
    async fn call(&mut self, content_type: &str, body: &[u8]) -> std::io::Result<Reply> {
        let head = serde_json::to_vec(&json!({ "content_type": content_type }))
            .map_err(std::io::Error::other)?;
        let mut buf = Vec::with_capacity(head.len() + body.len() + 8);
        buf.extend_from_slice(&(head.len() as u32).to_le_bytes());
        buf.extend_from_slice(&head);
        buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        buf.extend_from_slice(body);
        self.stdin.write_all(&buf).await?;
        self.stdin.flush().await?;
        let v: Value = serde_json::from_slice(&read_raw(&mut self.stdout).await?)
            .map_err(std::io::Error::other)?;
        let body = read_raw(&mut self.stdout).await?;
        Ok(Reply {
            status: v["status"].as_u64().unwrap_or(500) as u16,
            mimetype: v["mimetype"]
                .as_str()
                .unwrap_or("application/json")
                .to_string(),
            body: String::from_utf8(body).map_err(std::io::Error::other)?,
        })
    }
}

/// A worker slot: keeps one process alive and feeds it batches from the queue.
struct Slot {
    index: usize,
    config: Arc<PoolConfig>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    pids: Arc<std::sync::Mutex<Vec<Option<u32>>>>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
    /// A job taken from the queue that did not fit the previous batch.
    carry: Option<Job>,
}

enum Outcome {
    Alive,
    Died(String),
}

impl Slot {
    fn set_pid(&self, pid: Option<u32>) {
        if let Ok(mut p) = self.pids.lock() {
            p[self.index] = pid;
        }
    }

    async fn run(mut self, first: Process) {
        let mut proc = Some(first);
        let mut failures = 0u32;
        loop {
            let mut p = match proc.take() {
                Some(p) => p,
                None => match Process::spawn(&self.config).await {
                    Ok(p) => {
                        failures = 0;
                        p
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::error!(error = %e, "cannot restart a python worker");
                        // Answer one queued job so nothing waits forever on a broken env.
                        if let Some(job) = self.next_job_nowait().await {
                            let _ = job.reply.send(Reply::error(&e));
                        }
                        tokio::time::sleep(Duration::from_millis(
                            500 * u64::from(failures.min(10)),
                        ))
                        .await;
                        continue;
                    }
                },
            };
            self.set_pid(Some(p.pid));
            // Wait for work, or for the idle process to die.
            let batch = tokio::select! {
                b = self.next_batch() => b,
                status = p.child.wait() => {
                    tracing::warn!(pid = p.pid, ?status, "python worker died while idle; restarting");
                    self.set_pid(None);
                    continue;
                }
            };
            let Some(batch) = batch else { return };
            match self.score(&mut p, batch).await {
                Outcome::Alive => proc = Some(p),
                Outcome::Died(why) => {
                    tracing::warn!(pid = p.pid, why, "python worker died; restarting");
                    let _ = p.child.start_kill();
                    let _ = p.child.wait().await;
                    self.set_pid(None);
                }
            }
        }
    }

    async fn next_job_nowait(&mut self) -> Option<Job> {
        if let Some(j) = self.carry.take() {
            return Some(j);
        }
        self.rx.lock().await.try_recv().ok()
    }

    /// The next batch: a first job and every compatible one that arrives in time.
    async fn next_batch(&mut self) -> Option<Vec<Job>> {
        let mut rx = self.rx.lock().await;
        let first = match self.carry.take() {
            Some(j) => j,
            None => rx.recv().await?,
        };
        let Some(merge) = first.merge.clone() else {
            return Some(vec![first]);
        };
        let mut rows = merge.rows;
        let mut batch = vec![first];
        let deadline = Instant::now() + self.config.max_batch_wait;
        while rows < self.config.max_batch_size {
            let next = match rx.try_recv() {
                Ok(j) => j,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Nothing else is on its way (all pending requests are in this
                    // batch or being scored): do not wait.
                    let others = self
                        .pending
                        .load(std::sync::atomic::Ordering::SeqCst)
                        .saturating_sub(batch.len());
                    if others == 0 {
                        break;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match tokio::time::timeout(left, rx.recv()).await {
                        Ok(Some(j)) => j,
                        _ => break,
                    }
                }
            };
            match &next.merge {
                Some(m) if m.key == merge.key && rows + m.rows <= self.config.max_batch_size => {
                    rows += m.rows;
                    batch.push(next);
                }
                _ => {
                    self.carry = Some(next);
                    break;
                }
            }
        }
        Some(batch)
    }

    async fn call(
        &self,
        p: &mut Process,
        content_type: &str,
        body: &[u8],
    ) -> Result<Reply, String> {
        match tokio::time::timeout(self.config.timeout, p.call(content_type, body)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                let status = p.child.try_wait().ok().flatten();
                Err(match status {
                    Some(s) => format!(
                        "the Python worker (pid {}) died while scoring this request ({s})",
                        p.pid
                    ),
                    None => format!("lost the Python worker (pid {}): {e}", p.pid),
                })
            }
            Err(_) => Err(String::new()),
        }
    }

    async fn score(&mut self, p: &mut Process, batch: Vec<Job>) -> Outcome {
        let died = |jobs: Vec<Job>, why: &str| {
            let err = if why.is_empty() {
                Reply {
                    status: 504,
                    mimetype: "application/json".to_string(),
                    body: "Request processing time exceeded limit".to_string(),
                }
            } else {
                Reply::error(&ServeError::Worker(why.to_string()))
            };
            for j in jobs {
                let _ = j.reply.send(err.clone());
            }
        };
        if batch.len() > 1 {
            let merges: Vec<&Merge> = batch.iter().filter_map(|j| j.merge.as_ref()).collect();
            let rows: Vec<usize> = merges.iter().map(|m| m.rows).collect();
            let (ct, body) = merged_body(&merges);
            match self.call(p, &ct, &body).await {
                Err(why) => {
                    died(batch, &why);
                    return Outcome::Died(if why.is_empty() {
                        "timed out".into()
                    } else {
                        why
                    });
                }
                Ok(reply) if reply.status == 200 => {
                    if let Some(parts) = split_predictions(&reply.body, &rows) {
                        for (job, body) in batch.into_iter().zip(parts) {
                            let _ = job.reply.send(Reply {
                                status: 200,
                                mimetype: reply.mimetype.clone(),
                                body,
                            });
                        }
                        return Outcome::Alive;
                    }
                }
                Ok(_) => {}
            }
            tracing::debug!(
                n = batch.len(),
                "merged call not splittable; scoring one by one"
            );
        }
        let mut jobs = batch.into_iter();
        while let Some(job) = jobs.next() {
            match self.call(p, &job.content_type, &job.body).await {
                Ok(reply) => {
                    let _ = job.reply.send(reply);
                }
                Err(why) => {
                    let mut rest = vec![job];
                    rest.extend(jobs);
                    died(rest, &why);
                    return Outcome::Died(if why.is_empty() {
                        "timed out".into()
                    } else {
                        why
                    });
                }
            }
        }
        Outcome::Alive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_same_shape_requests_and_splits_predictions() {
        let a = merge_info(
            ContentType::Json,
            br#"{"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}}"#,
        )
        .unwrap();
        let b = merge_info(
            ContentType::Json,
            br#"{"dataframe_split": {"columns": ["a"], "data": [[3]]}}"#,
        )
        .unwrap();
        let c = merge_info(
            ContentType::Json,
            br#"{"dataframe_split": {"columns": ["b"], "data": [[3]]}}"#,
        )
        .unwrap();
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        let (_, body) = merged_body(&[&a, &b]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"dataframe_split": {"columns": ["a"], "data": [[1], [2], [3]]}})
        );
        assert_eq!(
            split_predictions(r#"{"predictions": [0, 1, 1]}"#, &[2, 1]).unwrap(),
            [r#"{"predictions":[0,1]}"#, r#"{"predictions":[1]}"#]
        );
        let dict = split_predictions(
            r#"{"predictions": {"l": [0, 1, 1], "p": [[1], [2], [3]]}}"#,
            &[1, 2],
        )
        .unwrap();
        assert_eq!(dict[1], r#"{"predictions":{"l":[1,1],"p":[[2],[3]]}}"#);
        // Not one prediction per row: not splittable.
        assert!(split_predictions(r#"{"predictions": [0, 1]}"#, &[2, 1]).is_none());
        assert!(split_predictions(r#"{"predictions": 3}"#, &[1]).is_none());
    }

    #[test]
    fn params_and_csv_headers_are_part_of_the_key() {
        let p1 = merge_info(
            ContentType::Json,
            br#"{"inputs": [[1]], "params": {"k": 1}}"#,
        )
        .unwrap();
        let p2 = merge_info(
            ContentType::Json,
            br#"{"inputs": [[1]], "params": {"k": 2}}"#,
        )
        .unwrap();
        assert_ne!(p1.key, p2.key);
        let c1 = merge_info(ContentType::Csv, b"a,b\n1,2\n3,4\n").unwrap();
        let c2 = merge_info(ContentType::Csv, b"a,b\n5,6").unwrap();
        assert_eq!(c1.rows, 2);
        let (_, body) = merged_body(&[&c1, &c2]);
        assert_eq!(String::from_utf8(body).unwrap(), "a,b\n1,2\n3,4\n5,6\n");
        assert!(merge_info(ContentType::Json, br#"{"inputs": {"a": [1]}}"#).is_none());
        assert!(merge_info(ContentType::Json, b"{bad").is_none());
    }
}
