//! The embedded SQLite backend.
//!
//! One writer thread owns the only write connection. Requests queue on a channel; the
//! writer takes every request waiting at that moment, runs each inside its own savepoint
//! of one transaction, commits once and only then answers them all (group commit). More
//! concurrent writers therefore mean bigger transactions, not lock contention, and SQLite
//! never reports "database is locked". Readers use a small pool of WAL read connections.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mlox_core::{MlflowError, Result};
use rusqlite::types::{ToSqlOutput, Value as RValue, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, Semaphore};

use crate::db::{Conn, DbError, Dialect, Row, RowView, SqlValue, Value};
use crate::group::{self, Queued, MAX_GROUP};
use crate::Durability;

const READERS: usize = 8;
/// Page cache of each read connection, in KiB (negative: SQLite's unit for KiB).
const READER_CACHE_KIB: i64 = -8192;

pub(crate) struct SqliteConn<'a>(pub(crate) &'a Connection);

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::TextArray(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "a text array is a PostgreSQL parameter (db::in_list)".into(),
                ))
            }
            SqlValue::Null => ToSqlOutput::Owned(RValue::Null),
            SqlValue::Int(v) => ToSqlOutput::Owned(RValue::Integer(*v)),
            SqlValue::Real(v) => ToSqlOutput::Owned(RValue::Real(*v)),
            SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let ncols = stmt.column_count();
        let columns: Arc<[String]> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let row = SqliteRow(r);
            let mut vals = Vec::with_capacity(ncols);
            for i in 0..ncols {
                vals.push(row.value(i)?.into());
            }
            out.push(Row::new(columns.clone(), vals));
        }
        Ok(out)
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn RowView) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            f(&SqliteRow(r))?;
        }
        Ok(())
    }

    fn query_bounded(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        budget: u32,
    ) -> Result<Option<Vec<Row>>, DbError> {
        let mut units = 0u32;
        self.0.progress_handler(
            crate::db::WORK_UNIT,
            Some(move || {
                units += 1;
                units > budget
            }),
        );
        let result = self.query(sql, params);
        self.0.progress_handler(0, None::<fn() -> bool>);
        match result {
            Ok(rows) => Ok(Some(rows)),
            Err(DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        match stmt.execute(rusqlite::params_from_iter(params.iter())) {
            Ok(n) => Ok(n as u64),
            Err(rusqlite::Error::SqliteFailure(e, msg))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(DbError::UniqueViolation(msg.unwrap_or_default()))
            }
            Err(e) => Err(e.into()),
        }
    }
}

struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl RowView for SqliteRow<'_, '_> {
    fn value(&self, i: usize) -> Result<Value<'_>, DbError> {
        Ok(match self.0.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(v) => Value::Real(v),
            ValueRef::Text(t) => Value::Text(t),
            ValueRef::Blob(b) => Value::Blob(b),
        })
    }
    fn column_name(&self, i: usize) -> String {
        self.0
            .as_ref()
            .column_name(i)
            .map_or_else(|_| format!("#{i}"), str::to_string)
    }
}

pub struct SqliteDb {
    /// Tells the checkpoint thread to end.
    stop: Arc<std::sync::atomic::AtomicBool>,
    path: PathBuf,
    writer: mpsc::UnboundedSender<Queued>,
    /// Idle read connections, each with the statistics generation it loaded.
    readers: Arc<Mutex<Vec<(u64, Connection)>>>,
    /// Bumped after each ANALYZE: SQLite loads the planner's statistics when a connection
    /// opens, and a later ANALYZE does not reach connections already open.
    stats_generation: Arc<std::sync::atomic::AtomicU64>,
    reader_permits: Arc<Semaphore>,
    /// The writer's counters, for metrics.
    pub(crate) stats: Arc<WriterStats>,
}

/// Counters of the writer thread (read for metrics; atomics only).
#[derive(Default)]
pub(crate) struct WriterStats {
    /// Jobs sent to the writer and not yet taken into a group.
    pub queued: std::sync::atomic::AtomicU64,
    /// Transactions committed (or rolled back) by the writer, and the jobs they held.
    pub groups: std::sync::atomic::AtomicU64,
    pub jobs: std::sync::atomic::AtomicU64,
    /// Groups by size: bucket `i` counts groups of at most `2^i` jobs.
    pub group_sizes: [std::sync::atomic::AtomicU64; GROUP_SIZE_BUCKETS],
}

/// 1, 2, 4, … 512 (`MAX_GROUP`).
pub(crate) const GROUP_SIZE_BUCKETS: usize = 10;

impl WriterStats {
    fn group_taken(&self, jobs: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.queued.fetch_sub(jobs as u64, Relaxed);
        self.groups.fetch_add(1, Relaxed);
        self.jobs.fetch_add(jobs as u64, Relaxed);
        let bucket =
            (jobs.max(1).next_power_of_two().trailing_zeros() as usize).min(GROUP_SIZE_BUCKETS - 1);
        self.group_sizes[bucket].fetch_add(1, Relaxed);
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "case_sensitive_like", true)?;
    conn.pragma_update(None, "foreign_keys", false)?;
    // Each request in a group commit runs in a savepoint; keep its sub-journal in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

pub(crate) fn open(path: &Path, read_only: bool) -> Result<Connection, DbError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    if read_only {
        // A search probes the runs, params and metrics of thousands of candidate runs:
        // with SQLite's default 2 MiB cache most of those pages are read again each time.
        // The cache fills only as far as reads need it.
        conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
    }
    Ok(conn)
}

impl SqliteDb {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, DbError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Other(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let conn = open(path, false)?;
        // WAL: readers never block the writer. synchronous=FULL syncs the WAL at every
        // commit, so an acknowledged write is on stable storage; the writer's group
        // commit makes that one sync per group of requests, not one per request.
        // synchronous=NORMAL (Durability::Process) keeps every committed transaction
        // across a crash of the process (the WAL is in the OS page cache) and syncs at
        // checkpoints only: a power cut may lose the last acknowledged writes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Process => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        // The writer revisits the same index pages constantly: give it an 8 MiB page
        // cache. Not more: at the end of every transaction SQLite walks the cache's hash
        // table (pcache1TruncateUnsafe), a cost that grows with the cache; 32 MiB made
        // create-run c8 5-10% and trace ingest 1-6% slower than 8 MiB (A/B, same machine).
        conn.pragma_update(None, "cache_size", -8192)?;
        crate::migrate::apply(&mut SqliteTx::new(&conn))?;
        // Checkpoints copy the WAL back into the database file. A background thread does
        // that work every 100 ms; once it has copied everything, the writer's next
        // transaction starts the WAL again from its beginning, so it stays small. The
        // writer's own automatic checkpoint is only a backstop (64 MiB of WAL), for when
        // long reads keep the background thread from finishing.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpointer = open(path, false)?;
        let stop_flag = stop.clone();
        std::thread::Builder::new()
            .name("mlox-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, stop_flag))
            .map_err(|e| DbError::Other(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel::<Queued>();
        let stats = Arc::new(WriterStats::default());
        let writer_stats = stats.clone();
        std::thread::Builder::new()
            .name("mlox-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, &writer_stats))
            .map_err(|e| DbError::Other(e.to_string()))?;
        Ok(SqliteDb {
            stop,
            path: path.to_path_buf(),
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            stats_generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            reader_permits: Arc::new(Semaphore::new(READERS)),
            stats,
        })
    }

    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        self.stats
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        group::submit(&self.writer, None, f).await
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Tells the read pool that ANALYZE has run: connections opened before are replaced.
    pub fn statistics_refreshed(&self) {
        self.stats_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if let Ok(mut pool) = self.readers.lock() {
            pool.clear();
        }
    }

    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let permit = self
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| MlflowError::internal("reader pool closed"))?;
        let readers = self.readers.clone();
        let path = self.path.clone();
        let generation = self
            .stats_generation
            .load(std::sync::atomic::Ordering::Acquire);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = readers
                .lock()
                .map_err(|_| MlflowError::internal("reader pool poisoned"))?
                .pop();
            // A connection opened before the last ANALYZE plans with old statistics.
            let conn = match pooled {
                Some((g, c)) if g == generation => c,
                _ => open(&path, true)?,
            };
            // A read transaction gives every read one consistent snapshot.
            let result = (|| {
                conn.execute_batch("BEGIN").map_err(DbError::from)?;
                let r = f(&mut SqliteConn(&conn));
                conn.execute_batch("COMMIT").map_err(DbError::from)?;
                r
            })();
            if conn.is_autocommit() {
                if let Ok(mut pool) = readers.lock() {
                    pool.push((generation, conn));
                }
            }
            result
        })
        .await
        .map_err(|e| MlflowError::internal(format!("reader task failed: {e}")))?
    }
}

/// Runs the migrations inside one IMMEDIATE transaction, which is SQLite's lock.
struct SqliteTx<'a> {
    conn: &'a Connection,
}

impl<'a> SqliteTx<'a> {
    fn new(conn: &'a Connection) -> Self {
        SqliteTx { conn }
    }
}

impl crate::migrate::Migrator for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn locked(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(&mut SqliteConn(self.conn)) {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

impl Drop for SqliteDb {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Checkpoints the WAL a few times a second (PASSIVE: never blocks readers or the writer).
fn checkpoint_loop(conn: Connection, stop: Arc<std::sync::atomic::AtomicBool>) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
    // A last full checkpoint keeps the database file compact after a clean shutdown.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// Runs one statement of the writer's own (transaction control), prepared once.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn writer_loop(conn: Connection, mut rx: mpsc::UnboundedReceiver<Queued>, stats: &WriterStats) {
    // The only writer of its database: runs need no locks (`Queued::lock` is ignored).
    let mut batch: Vec<Queued> = Vec::with_capacity(MAX_GROUP);
    while group::next_group(&mut rx, &mut batch) {
        stats.group_taken(batch.len());
        let mut deliveries = Vec::with_capacity(batch.len());
        let begin = run(&conn, "BEGIN IMMEDIATE");
        if let Err(e) = begin {
            // Never run a job outside a transaction: dropping a job drops its reply
            // channel, and its caller gets an internal error.
            tracing::error!(error = %e, "sqlite writer could not begin a transaction");
            batch.clear();
            continue;
        }
        if batch.len() == 1 {
            // A lone request needs no savepoint: its failure rolls back the transaction.
            if let Some(Queued { job, .. }) = batch.pop() {
                let (ok, deliver) = group::run_job(job, &mut SqliteConn(&conn));
                let err = if ok {
                    let commit = run(&conn, "COMMIT");
                    commit.err().map(|e| {
                        let _ = conn.execute_batch("ROLLBACK");
                        e.to_string()
                    })
                } else {
                    let _ = conn.execute_batch("ROLLBACK");
                    None
                };
                if let Some(deliver) = deliver {
                    deliver(err.as_deref());
                }
            }
            continue;
        }
        for Queued { job, .. } in batch.drain(..) {
            if run(&conn, "SAVEPOINT job").is_err() {
                continue;
            }
            match group::run_job(job, &mut SqliteConn(&conn)) {
                (true, Some(deliver)) => {
                    let _ = run(&conn, "RELEASE job");
                    deliveries.push(deliver);
                }
                (_, deliver) => {
                    let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    deliveries.extend(deliver);
                }
            }
        }
        let commit = run(&conn, "COMMIT");
        let err = commit.as_ref().err().map(|e| e.to_string());
        if err.is_some() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for deliver in deliveries {
            deliver(err.as_deref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_rows_stored_before_schema_10_survive_the_move_of_metadata_and_span_names() {
        let conn = Connection::open_in_memory().unwrap();
        // The schema as a mlox before migration 10 left it, with a trace in it.
        conn.execute_batch(
            "CREATE TABLE mlox_schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .unwrap();
        for m in crate::migrate::embedded().iter().filter(|m| m.0 < 10) {
            for stmt in crate::migrate::statements(m.1) {
                conn.execute_batch(stmt).unwrap();
            }
            conn.execute(
                "INSERT INTO mlox_schema_migrations VALUES (?, 'x', 0)",
                [m.0],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO trace_tags VALUES ('tr-1', 'mlflow.user', 'ann'), ('tr-1', 'k', 'v');
             INSERT INTO trace_metadata VALUES ('tr-1', 'mlflow.sourceRun', 'r1');
             INSERT INTO trace_span_names VALUES ('tr-1', 'predict', 'LLM', 'OK');",
        )
        .unwrap();
        let applied = crate::migrate::apply(&mut SqliteTx { conn: &conn }).unwrap();
        assert_eq!(applied, [10]);
        let rows = |sql: &str| -> Vec<String> {
            let mut st = conn.prepare(sql).unwrap();
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            rows("SELECT key || '=' || value FROM trace_tags WHERE trace_id = 'tr-1' ORDER BY key"),
            ["k=v", "mlflow.user=ann"]
        );
        assert_eq!(
            rows("SELECT value FROM trace_metadata WHERE key = 'mlflow.sourceRun'"),
            ["r1"]
        );
        assert_eq!(
            rows("SELECT trace_id FROM trace_span_names WHERE name = 'predict'"),
            ["tr-1"]
        );
        // Stored by key now (the tags keep their row ids), and their indexes are back.
        for table in ["trace_metadata", "trace_span_names"] {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
        }
        assert_eq!(
            rows("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'trace%' AND name NOT LIKE 'sqlite_%' ORDER BY name"),
            [
                "trace_metadata_source_run",
                "trace_runs_by_trace",
                "trace_span_names_by_name",
                "trace_span_names_by_type",
                "trace_tags_by_value",
                "traces_by_experiment"
            ]
        );
        // The run filter of a trace search (`traces::kv_exists`) names the key as a literal,
        // which is what lets SQLite use the partial index.
        let plan: Vec<String> = {
            let mut st = conn
                .prepare("EXPLAIN QUERY PLAN SELECT x.trace_id FROM trace_metadata x WHERE x.key = 'mlflow.sourceRun' AND substr(x.value, 1, 200) = substr(?, 1, 200)")
                .unwrap();
            st.query_map(["r1"], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert!(
            plan.iter().any(|d| d.contains("trace_metadata_source_run")),
            "{plan:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bounded_read_gives_up_and_the_next_reads_run() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        let (cut, whole, after) = db
            .read(|c| {
                let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT count(*) FROM n";
                let cut = c.query_bounded(sql, &[], 1)?;
                let whole = c.query_bounded(sql, &[], 1_000_000)?;
                let after = c.query(sql, &[])?;
                Ok((cut, whole, after))
            })
            .await
            .unwrap();
        assert!(cut.is_none(), "a read over budget gives up");
        assert_eq!(whole.unwrap()[0].int(0).unwrap(), 100_000);
        assert_eq!(
            after[0].int(0).unwrap(),
            100_000,
            "no budget is left behind"
        );
        // The connection went back to the pool in a usable state.
        let n = db
            .read(|c| Ok(c.query("SELECT 41 + 1", &[])?[0].int(0)?))
            .await
            .unwrap();
        assert_eq!(n, 42);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn columns_decode_by_type_and_a_bad_value_names_its_column() {
        use crate::db::RowView;
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("t.db"), Durability::Full).unwrap();
        db.write(|c| {
            c.execute("CREATE TABLE t (n INTEGER, x REAL, s TEXT, b BLOB)", &[])?;
            c.execute("INSERT INTO t VALUES (7, 1.5, 'seven', x'01')", &[])?;
            c.execute("INSERT INTO t VALUES (NULL, 'high', NULL, 'text')", &[])?;
            Ok(())
        })
        .await
        .unwrap();
        let rows = db
            .read(|c| Ok(c.query("SELECT n, x, s, b FROM t ORDER BY rowid", &[])?))
            .await
            .unwrap();
        // Valid values, and the conversions without loss: an integer as text or a real.
        assert_eq!(rows[0].int(0).unwrap(), 7);
        assert_eq!(rows[0].text(0).unwrap(), "7");
        assert_eq!(rows[0].real(0).unwrap(), 7.0);
        assert_eq!(rows[0].real(1).unwrap(), 1.5);
        assert_eq!(rows[0].str(2).unwrap(), "seven");
        assert_eq!(rows[0].blob(3).unwrap(), &[1u8][..]);
        // NULL: `None` from the accessors for nullable columns, an error from the others.
        assert_eq!(rows[1].opt_int(0).unwrap(), None);
        assert_eq!(rows[1].opt_text(2).unwrap(), None);
        let err = |e: DbError| e.to_string();
        assert_eq!(
            err(rows[1].int(0).unwrap_err()),
            "column n: NULL where an integer belongs"
        );
        assert_eq!(
            err(rows[1].text(2).unwrap_err()),
            "column s: NULL where text belongs"
        );
        assert_eq!(
            err(rows[1].real(1).unwrap_err()),
            "column x: text where a number belongs"
        );
        assert_eq!(
            err(rows[1].blob(3).unwrap_err()),
            "column b: text where a blob belongs"
        );
        assert_eq!(
            err(rows[0].int(2).unwrap_err()),
            "column s: text where an integer belongs"
        );
        // Rows read in place say the same.
        let mut seen = Vec::new();
        let e = db
            .read(|c| {
                c.query_each("SELECT n AS count FROM t ORDER BY rowid", &[], &mut |r| {
                    seen.push(r.int(0)?);
                    Ok(())
                })?;
                Ok(seen)
            })
            .await
            .unwrap_err();
        assert_eq!(e.code, mlox_core::ErrorCode::INTERNAL_ERROR);
        assert!(e.message.contains("column count: NULL"), "{}", e.message);
    }
}
