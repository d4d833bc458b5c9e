//! What the group-commit writers of both backends share: a request's unit of work and
//! how its caller waits for the outcome.
//!
//! A writer takes every request waiting at that moment, runs each inside its own
//! savepoint of one transaction, commits once and only then answers them all: concurrent
//! writes share one transaction and one sync of the log, and a request that fails rolls
//! back its own savepoint only.

use mlox_core::{MlflowError, Result};
use tokio::sync::{mpsc, oneshot};

use crate::db::Conn;

/// Delivers a job's outcome once the commit is known (`Some(error)` if it failed).
pub(crate) type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

/// A unit of work for a writer: runs inside a savepoint, reports whether it succeeded,
/// and returns the callback that answers its caller.
pub(crate) type Job = Box<dyn FnOnce(&mut dyn Conn) -> (bool, Deliver) + Send>;

/// Largest number of requests committed in one transaction.
pub(crate) const MAX_GROUP: usize = 512;

/// A job as queued: with the run whose lock it needs, if any. The PostgreSQL writer takes
/// the locks of all the runs of a group at its start, in one order (see `postgres.rs`);
/// the SQLite writer, alone on its database, needs none.
pub(crate) struct Queued {
    pub lock: Option<String>,
    pub job: Job,
}

/// Queues `f` on a writer and waits until the group it ran in has committed. `lock`
/// names the run whose writes the job serializes with (metric writes), if any.
pub(crate) async fn submit<T, F>(
    writer: &mpsc::UnboundedSender<Queued>,
    lock: Option<String>,
    f: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
{
    let (tx, rx) = oneshot::channel::<Result<T>>();
    let job: Job = Box::new(move |conn| {
        let result = f(conn);
        let ok = result.is_ok();
        let deliver: Deliver = Box::new(move |commit_error: Option<&str>| {
            let outcome = match commit_error {
                Some(e) if ok => Err(MlflowError::internal(format!("commit failed: {e}"))),
                _ => result,
            };
            let _ = tx.send(outcome);
        });
        (ok, deliver)
    });
    writer
        .send(Queued { lock, job })
        .map_err(|_| MlflowError::internal("the store's writer has stopped"))?;
    rx.await
        .map_err(|_| MlflowError::internal("the store's writer dropped a request"))?
}

/// Takes the next group of jobs: blocks for the first, then takes every job already
/// waiting (up to [`MAX_GROUP`]). `None` once every sender is gone.
pub(crate) fn next_group(
    rx: &mut mpsc::UnboundedReceiver<Queued>,
    batch: &mut Vec<Queued>,
) -> bool {
    let Some(first) = rx.blocking_recv() else {
        return false;
    };
    batch.push(first);
    while batch.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    true
}

/// Runs a job, turning a panic into a failure whose caller gets an internal error (its
/// reply channel is dropped).
pub(crate) fn run_job(job: Job, conn: &mut dyn Conn) -> (bool, Option<Deliver>) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn))) {
        Ok((ok, deliver)) => (ok, Some(deliver)),
        Err(_) => {
            tracing::error!("a store write panicked; its changes were rolled back");
            (false, None)
        }
    }
}
