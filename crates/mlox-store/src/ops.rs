//! Operations on a store as a whole: statistics for metrics, flushing the writer at
//! shutdown, and online backups of SQLite stores.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

use mlox_core::{MlflowError, Result};

use crate::{Db, SqlStore};

/// A snapshot of the store's internals, read when metrics are scraped.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    pub sqlite: Option<SqliteStats>,
    pub postgres: Option<PoolStats>,
}

#[derive(Debug, Clone, Default)]
pub struct SqliteStats {
    /// Writes waiting for the writer thread.
    pub write_queue: u64,
    /// Transactions the writer ran, and the writes they held (group commit).
    pub write_groups: u64,
    pub write_jobs: u64,
    /// Cumulative group counts: `(at most n writes, groups)`, n = 1, 2, 4 … 512.
    pub group_sizes: Vec<(u64, u64)>,
    /// Size of the write-ahead log file in bytes.
    pub wal_bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct PoolStats {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

impl SqlStore {
    /// The store's counters and gauges (cheap: atomics and one `stat` of the WAL file).
    pub fn stats(&self) -> StoreStats {
        match &self.db {
            Db::Sqlite(db) => {
                let s = &db.stats;
                let mut total = 0;
                let group_sizes = s
                    .group_sizes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        total += n.load(Relaxed);
                        (1u64 << i, total)
                    })
                    .collect();
                StoreStats {
                    sqlite: Some(SqliteStats {
                        write_queue: s.queued.load(Relaxed),
                        write_groups: s.groups.load(Relaxed),
                        write_jobs: s.jobs.load(Relaxed),
                        group_sizes,
                        wal_bytes: std::fs::metadata(wal_path(db.path()))
                            .map(|m| m.len())
                            .unwrap_or(0),
                    }),
                    postgres: None,
                }
            }
            Db::Postgres(db) => StoreStats {
                sqlite: None,
                postgres: db.pool_stats(),
            },
        }
    }

    /// Waits until every write queued before this call has committed (the SQLite
    /// writer answers in order); then checkpoints the WAL into the database file.
    /// Called at shutdown, after the last request.
    pub async fn flush(&self) -> Result<()> {
        self.db.write(|_| Ok(())).await?;
        if let Db::Sqlite(db) = &self.db {
            let path = db.path().to_path_buf();
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open(&path)?;
                // The checkpoint thread may be mid-checkpoint: wait for it.
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                let busy: i64 =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy != 0 {
                    tracing::warn!("the WAL could not be checkpointed at shutdown (busy)");
                }
                Ok::<(), rusqlite::Error>(())
            })
            .await
            .map_err(|e| MlflowError::internal(e.to_string()))?
            .map_err(|e| MlflowError::internal(format!("checkpoint at shutdown: {e}")))?;
        }
        Ok(())
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

/// Copies a SQLite store, live or not, into `dest` (which must not exist): one
/// consistent snapshot, as of the moment the copy starts, of everything committed.
/// It is a read transaction, so a running server keeps reading and writing meanwhile.
/// The copy is written beside `dest` and renamed into place once complete.
pub fn backup_sqlite(src: &Path, dest: &Path) -> Result<u64> {
    if !src.exists() {
        return Err(MlflowError::invalid(format!(
            "no SQLite store at {}",
            src.display()
        )));
    }
    if dest.exists() {
        return Err(MlflowError::invalid(format!(
            "{} already exists; choose a new file for the backup",
            dest.display()
        )));
    }
    let mut partial = dest.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let copy = || -> rusqlite::Result<()> {
        let conn = rusqlite::Connection::open_with_flags(
            src,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // VACUUM INTO reads one snapshot and writes a compact copy of it.
        conn.execute("VACUUM INTO ?1", [partial.to_string_lossy()])?;
        Ok(())
    };
    copy().map_err(|e| MlflowError::internal(format!("backup failed: {e}")))?;
    let sync = std::fs::File::open(&partial).and_then(|f| f.sync_all());
    let done = sync.and_then(|_| std::fs::rename(&partial, dest));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&partial);
        return Err(MlflowError::internal(format!(
            "writing {}: {e}",
            dest.display()
        )));
    }
    Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
}

/// Replaces the SQLite store at `dest` with the backup `src`. The server must be
/// stopped: a store still open by another process is refused.
pub fn restore_sqlite(src: &Path, dest: &Path) -> Result<()> {
    let check = || -> rusqlite::Result<String> {
        let conn =
            rusqlite::Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.query_row("PRAGMA quick_check", [], |r| r.get(0))
    };
    match check() {
        Ok(ok) if ok == "ok" => {}
        Ok(msg) => {
            return Err(MlflowError::invalid(format!(
                "{} is damaged: {msg}",
                src.display()
            )))
        }
        Err(e) => {
            return Err(MlflowError::invalid(format!(
                "{} is not a SQLite store: {e}",
                src.display()
            )))
        }
    }
    if dest.exists() && in_use(dest) {
        return Err(MlflowError::invalid(format!(
            "{} is in use (is a server running on it?); stop it before restoring",
            dest.display()
        )));
    }
    let mut staged = dest.as_os_str().to_owned();
    staged.push(".restoring");
    let staged = PathBuf::from(staged);
    let io = |e: std::io::Error| MlflowError::internal(format!("restoring: {e}"));
    std::fs::copy(src, &staged).map_err(io)?;
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    // The old store's log must not be replayed into the restored file.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = dest.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::rename(&staged, dest).map_err(io)?;
    Ok(())
}

/// Whether another process has the SQLite file open: taking an exclusive lock in
/// exclusive locking mode fails while any other connection holds the database.
fn in_use(path: &Path) -> bool {
    let probe = || -> rusqlite::Result<()> {
        let conn = rusqlite::Connection::open(path)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
        Ok(())
    };
    probe().is_err()
}
