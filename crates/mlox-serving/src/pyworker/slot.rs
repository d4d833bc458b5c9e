//! A worker slot: one process kept alive, fed batches from the queue, restarted when it
//! dies; every job it takes gets exactly one answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex};

use super::batch::{merged_body, split_predictions, Merge};
use super::process::Process;
use super::{Job, PoolConfig, Reply};
use crate::error::{Result, ServeError};

/// A worker slot: keeps one process alive and feeds it batches from the queue.
pub(super) struct Slot {
    pub(super) index: usize,
    pub(super) config: Arc<PoolConfig>,
    pub(super) rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    pub(super) pids: Arc<std::sync::Mutex<Vec<Option<u32>>>>,
    pub(super) pending: Arc<std::sync::atomic::AtomicUsize>,
    /// A job taken from the queue that did not fit the previous batch.
    pub(super) carry: Option<Job>,
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

    pub(super) async fn run(mut self, first: Process) {
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
