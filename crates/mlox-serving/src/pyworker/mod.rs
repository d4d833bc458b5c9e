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

mod batch;
mod process;
mod slot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::error::{Result, ServeError};
use crate::request::ContentType;

use batch::{merge_info, Merge};
use process::Process;
use slot::Slot;

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
