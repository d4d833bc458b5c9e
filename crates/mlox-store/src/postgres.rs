//! The PostgreSQL backend.
//!
//! Writes go through one writer thread with its own connection, doing group commit as the
//! SQLite writer does (`group.rs`): every request waiting at that moment runs in its own
//! savepoint of one transaction, which commits once, so concurrent writes share one WAL
//! flush and one bad request never fails another. Reads use a bounded pool of
//! connections, each statement on its own (autocommit). Every connection keeps its
//! prepared statements, so a statement costs one round trip, not a parse each time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mlox_core::{MlflowError, Result};
use postgres::types::{IsNull, ToSql, Type};
use postgres::{NoTls, Statement};
use tokio::sync::{mpsc, Semaphore};

use crate::db::{numbered_placeholders, Conn, DbError, Dialect, Row, RowView, SqlValue, Value};
use crate::group::{self, Deliver, Queued, MAX_GROUP};
use crate::Durability;

/// Most prepared statements a connection keeps; past it, the cache starts over (the
/// statements built for IN lists and multi-row INSERTs vary with their length).
const MAX_STATEMENTS: usize = 512;
/// Writer threads, each with its own connection, when no standby is configured.
const WRITERS: usize = 4;

/// A connection and the statements prepared on it.
pub(crate) struct Client {
    client: postgres::Client,
    statements: HashMap<String, Statement>,
}

impl Client {
    pub(crate) fn connect(
        config: &postgres::Config,
        durability: Durability,
    ) -> Result<Self, DbError> {
        let mut client = config.connect(NoTls).map_err(pg_err)?;
        if durability == Durability::Process {
            // An acknowledged write may be lost by a crash of the database server or the
            // machine (never corrupted); mlox's own crash loses nothing.
            client
                .batch_execute("SET synchronous_commit = off")
                .map_err(pg_err)?;
        }
        Ok(Client {
            client,
            statements: HashMap::new(),
        })
    }

    pub(crate) fn conn(&mut self) -> PgConn<'_> {
        PgConn {
            client: &mut self.client,
            statements: &mut self.statements,
        }
    }
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // Coerce to the type PostgreSQL inferred for the placeholder.
        match (self, ty) {
            (SqlValue::Null, _) => Ok(IsNull::Yes),
            (SqlValue::Int(v), &Type::INT4) => (*v as i32).to_sql(ty, out),
            (SqlValue::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (SqlValue::Int(v), &Type::INT2) => (*v as i16).to_sql(ty, out),
            (SqlValue::Int(v), &Type::FLOAT8) => (*v as f64).to_sql(ty, out),
            (SqlValue::Int(v), &Type::FLOAT4) => (*v as f32).to_sql(ty, out),
            (SqlValue::Int(v), &Type::TEXT | &Type::VARCHAR) => v.to_string().to_sql(ty, out),
            (SqlValue::Int(v), _) => v.to_sql(ty, out),
            (SqlValue::Real(v), &Type::INT8) => (*v as i64).to_sql(ty, out),
            (SqlValue::Real(v), &Type::INT4) => (*v as i32).to_sql(ty, out),
            (SqlValue::Real(v), &Type::TEXT | &Type::VARCHAR) => v.to_string().to_sql(ty, out),
            (SqlValue::Real(v), _) => v.to_sql(ty, out),
            (SqlValue::Text(s), &Type::INT8) => s.parse::<i64>()?.to_sql(ty, out),
            (SqlValue::Text(s), &Type::FLOAT8) => s.parse::<f64>()?.to_sql(ty, out),
            (SqlValue::Text(s), _) => s.as_str().to_sql(ty, out),
            (SqlValue::Blob(b), _) => b.as_slice().to_sql(ty, out),
            (SqlValue::TextArray(v), _) => v.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

pub(crate) struct PgConn<'a> {
    client: &'a mut postgres::Client,
    statements: &'a mut HashMap<String, Statement>,
}

fn pg_err(e: postgres::Error) -> DbError {
    if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        DbError::UniqueViolation(e.to_string())
    } else {
        DbError::Postgres(e)
    }
}

fn params(params: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl PgConn<'_> {
    /// The statement for `sql` (`?` placeholders), prepared once per connection.
    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self
            .client
            .prepare(&numbered_placeholders(sql))
            .map_err(pg_err)?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Runs statements of transaction control in one round trip.
    fn control(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(pg_err)
    }
}

impl Conn for PgConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, args: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        let stmt = self.statement(sql)?;
        let rows = self.client.query(&stmt, &params(args)).map_err(pg_err)?;
        decode_rows(rows)
    }

    fn query_replanned(&mut self, sql: &str, args: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        // Prepared for this execution only (and closed when dropped): its first execution
        // is planned for these values.
        let stmt = self
            .client
            .prepare(&numbered_placeholders(sql))
            .map_err(pg_err)?;
        let rows = self.client.query(&stmt, &params(args)).map_err(pg_err)?;
        decode_rows(rows)
    }

    fn query_each(
        &mut self,
        sql: &str,
        args: &[SqlValue],
        f: &mut dyn FnMut(&dyn RowView) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        use postgres::fallible_iterator::FallibleIterator;
        let stmt = self.statement(sql)?;
        // Rows stream from the server as they are read: memory stays flat at any size.
        let mut rows = self
            .client
            .query_raw(&stmt, args.iter().map(|p| p as &(dyn ToSql + Sync)))
            .map_err(pg_err)?;
        while let Some(r) = rows.next().map_err(pg_err)? {
            f(&PgRow(&r))?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, args: &[SqlValue]) -> Result<u64, DbError> {
        let stmt = self.statement(sql)?;
        self.client.execute(&stmt, &params(args)).map_err(pg_err)
    }
}

/// Rows as values, by their column types.
fn decode_rows(rows: Vec<postgres::Row>) -> Result<Vec<Row>, DbError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut columns: Option<Arc<[String]>> = None;
    for r in rows {
        let columns = columns
            .get_or_insert_with(|| r.columns().iter().map(|c| c.name().to_string()).collect());
        let row = PgRow(&r);
        let vals = (0..r.len())
            .map(|i| row.value(i).map(SqlValue::from))
            .collect::<Result<_, DbError>>()?;
        out.push(Row::new(columns.clone(), vals));
    }
    Ok(out)
}

struct PgRow<'a>(&'a postgres::Row);

impl RowView for PgRow<'_> {
    fn value(&self, i: usize) -> Result<Value<'_>, DbError> {
        let r = self.0;
        let v = match *r.columns()[i].type_() {
            Type::INT8 => r
                .try_get::<_, Option<i64>>(i)
                .map_err(pg_err)?
                .map(Value::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)
                .map_err(pg_err)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)
                .map_err(pg_err)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)
                .map_err(pg_err)?
                .map(|v| Value::Int(v.into())),
            Type::FLOAT8 => r
                .try_get::<_, Option<f64>>(i)
                .map_err(pg_err)?
                .map(Value::Real),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)
                .map_err(pg_err)?
                .map(|v| Value::Real(v.into())),
            Type::BYTEA => r
                .try_get::<_, Option<&[u8]>>(i)
                .map_err(pg_err)?
                .map(Value::Blob),
            _ => r
                .try_get::<_, Option<&str>>(i)
                .map_err(pg_err)?
                .map(|s| Value::Text(s.as_bytes())),
        };
        Ok(v.unwrap_or(Value::Null))
    }
    fn column_name(&self, i: usize) -> String {
        self.0
            .columns()
            .get(i)
            .map_or_else(|| format!("#{i}"), |c| c.name().to_string())
    }
}

struct PgMigrator<'a>(&'a mut Client);

impl crate::migrate::Migrator for PgMigrator<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn locked(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let mut conn = self.0.conn();
        conn.control("BEGIN")?;
        // One migrator at a time across every server sharing this database.
        let result = conn
            .execute("SELECT pg_advisory_xact_lock(7340291)", &[])
            .and_then(|_| f(&mut conn));
        match result {
            Ok(()) => conn.control("COMMIT"),
            Err(e) => {
                let _ = conn.control("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// A bounded pool of read connections to one server.
struct Pool {
    config: postgres::Config,
    durability: Durability,
    idle: Arc<Mutex<Vec<Client>>>,
    permits: Arc<Semaphore>,
    max: u32,
}

impl Pool {
    fn new(config: postgres::Config, durability: Durability, max_connections: u32) -> Self {
        Pool {
            config,
            durability,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(max_connections.max(1) as usize)),
            max: max_connections.max(1),
        }
    }

    /// Runs `f` on a pooled connection when `ready` says the connection may serve it;
    /// otherwise gives `f` back, as it does when this server cannot be reached and
    /// `has_fallback` (another server can serve the read).
    async fn run<T, F>(
        &self,
        ready: impl FnOnce(&mut PgConn<'_>) -> Result<bool, DbError> + Send + 'static,
        has_fallback: bool,
        f: F,
    ) -> Result<std::result::Result<T, F>>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| MlflowError::internal("reader pool closed"))?;
        let idle = self.idle.clone();
        let config = self.config.clone();
        let durability = self.durability;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = idle
                .lock()
                .map_err(|_| MlflowError::internal("reader pool poisoned"))?
                .pop();
            let mut client = match pooled {
                Some(c) if !c.client.is_closed() => c,
                _ => match Client::connect(&config, durability) {
                    Ok(c) => c,
                    // A standby that cannot be reached leaves its reads to the primary.
                    Err(e) if has_fallback => {
                        tracing::warn!(error = %e, "cannot connect to the read replica");
                        return Ok(Err(f));
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            let result = match ready(&mut client.conn()) {
                Ok(true) => f(&mut client.conn()).map(Ok),
                Ok(false) => Ok(Err(f)),
                Err(e) if has_fallback => {
                    tracing::warn!(error = %e, "the read replica did not answer");
                    Ok(Err(f))
                }
                Err(e) => Err(e.into()),
            };
            if !client.client.is_closed() {
                if let Ok(mut pool) = idle.lock() {
                    pool.push(client);
                }
            }
            result
        })
        .await
        .map_err(|e| MlflowError::internal(format!("reader task failed: {e}")))?
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing a synchronous postgres client blocks on its own runtime, which panics
        // inside an async context: close the idle connections on a plain thread. (The
        // writer closes its own when its channel closes.)
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("mlox-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

/// A streaming standby that serves reads, and how far the primary's WAL had reached at
/// the last commit of this server's writer.
struct Replica {
    pool: Pool,
    committed_lsn: Arc<AtomicU64>,
}

pub struct PgDb {
    writer: mpsc::UnboundedSender<Queued>,
    primary: Pool,
    replica: Option<Replica>,
}

impl PgDb {
    /// The primary's read pool: connections open (in use or idle), idle, and its bound,
    /// for metrics. The writer's own connection is not counted.
    pub(crate) fn pool_stats(&self) -> Option<crate::ops::PoolStats> {
        let pool = &self.primary;
        let idle = pool.idle.lock().map_or(0, |v| v.len()) as u32;
        let in_use = pool
            .max
            .saturating_sub(pool.permits.available_permits() as u32);
        Some(crate::ops::PoolStats {
            connections: in_use + idle,
            idle,
            max: pool.max,
        })
    }
}

fn parse_config(url: &str) -> Result<postgres::Config, DbError> {
    url.parse()
        .map_err(|e: postgres::Error| DbError::Other(format!("invalid PostgreSQL URL: {e}")))
}

/// A WAL position (`16/B374D848`) as a number.
fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

impl PgDb {
    /// Opens the primary (`url`) and, when given, a streaming standby for reads.
    pub fn open(
        url: &str,
        replica_url: Option<&str>,
        max_connections: u32,
        durability: Durability,
    ) -> Result<Self, DbError> {
        let config = parse_config(url)?;
        let mut first = Client::connect(&config, durability)?;
        crate::migrate::apply(&mut PgMigrator(&mut first))?;
        let replica = match replica_url {
            Some(u) => Some(Replica {
                pool: Pool::new(parse_config(u)?, durability, max_connections),
                committed_lsn: Arc::new(AtomicU64::new(0)),
            }),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel::<Queued>();
        let rx = Arc::new(Mutex::new(rx));
        let committed_lsn = replica.as_ref().map(|r| r.committed_lsn.clone());
        // A writer spends most of its time waiting for PostgreSQL's answers, one statement
        // at a time: several writers, each with its own connection and group commit, keep
        // more of the machine busy. They are what several mlox servers on one database
        // already are, and the run locks taken in one order at the start of every group
        // (`commit_group`) keep them from deadlocking. With a standby, one writer: the
        // commit position it records must only grow.
        let writers = if committed_lsn.is_some() { 1 } else { WRITERS };
        let mut first = Some(first);
        for _ in 0..writers {
            let client = match first.take() {
                Some(c) => c,
                None => Client::connect(&config, durability)?,
            };
            let (writer_config, committed_lsn, rx) =
                (config.clone(), committed_lsn.clone(), rx.clone());
            std::thread::Builder::new()
                .name("mlox-pg-writer".into())
                .spawn(move || writer_loop(client, writer_config, durability, committed_lsn, &rx))
                .map_err(|e| DbError::Other(e.to_string()))?;
        }
        Ok(PgDb {
            writer: tx,
            primary: Pool::new(config, durability, max_connections),
            replica,
        })
    }

    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        group::submit(&self.writer, None, f).await
    }

    /// As [`PgDb::write`], for a job that writes the metrics of `run_id`: its group takes
    /// the run's lock before any job runs.
    pub async fn write_locked<T, F>(&self, run_id: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        group::submit(&self.writer, Some(run_id.to_string()), f).await
    }

    /// Runs `f` on a pooled connection, each statement in its own snapshot (autocommit).
    /// With a standby, on the standby when it has replayed every write this server has
    /// acknowledged (so whoever just wrote reads it back), else on the primary.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let f = match &self.replica {
            Some(replica) => {
                let needed = replica.committed_lsn.load(Ordering::Acquire);
                let caught_up = move |c: &mut PgConn<'_>| {
                    if needed == 0 {
                        return Ok(true);
                    }
                    let replayed = c
                        .query("SELECT pg_last_wal_replay_lsn()::text", &[])?
                        .first()
                        .map(|r| r.opt_text(0))
                        .transpose()?
                        .flatten()
                        .and_then(|t| parse_lsn(&t));
                    Ok(replayed.is_some_and(|r| r >= needed))
                };
                match replica.pool.run(caught_up, true, f).await? {
                    Ok(v) => return Ok(v),
                    Err(f) => f,
                }
            }
            None => f,
        };
        match self.primary.run(|_| Ok(true), false, f).await? {
            Ok(v) => Ok(v),
            Err(_) => Err(MlflowError::internal("the primary refused a read")),
        }
    }
}

/// The writer: group commit over its own connection, reconnecting when it breaks.
fn writer_loop(
    client: Client,
    config: postgres::Config,
    durability: Durability,
    committed_lsn: Option<Arc<AtomicU64>>,
    rx: &Mutex<mpsc::UnboundedReceiver<Queued>>,
) {
    let mut client = Some(client);
    let mut batch: Vec<Queued> = Vec::with_capacity(MAX_GROUP);
    // The queue is shared: a writer holds it while it waits for the next group's first
    // request and takes what else is waiting, then leaves it to the next idle writer.
    while rx
        .lock()
        .is_ok_and(|mut rx| group::next_group(&mut rx, &mut batch))
    {
        if client.as_ref().is_none_or(|c| c.client.is_closed()) {
            client = match Client::connect(&config, durability) {
                Ok(c) => Some(c),
                Err(e) => {
                    // Dropping the jobs drops their reply channels: their callers get an
                    // internal error, and the next group tries again.
                    tracing::error!(error = %e, "the PostgreSQL writer cannot connect");
                    batch.clear();
                    continue;
                }
            };
        }
        let Some(c) = client.as_mut() else {
            continue;
        };
        let mut conn = c.conn();
        let answers = commit_group(&mut conn, &mut batch);
        if let Some(lsn) = &committed_lsn {
            // The primary's WAL insert position covers the commit just made (the write
            // position may lag it when the server runs with synchronous_commit=off): a standby
            // that has replayed up to here shows every write answered so far. Recorded
            // before the answers go out, so that a client's next read sees its write.
            let now = conn
                .query("SELECT pg_current_wal_insert_lsn()::text", &[])
                .ok()
                .and_then(|rows| rows.first().and_then(|r| r.opt_text(0).ok().flatten()))
                .and_then(|t| parse_lsn(&t));
            // Unknown: reads go to the primary until a later commit tells.
            lsn.store(now.unwrap_or(u64::MAX), Ordering::Release);
        }
        for (deliver, error) in answers {
            deliver(error.as_deref());
        }
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint, and returns each job's
/// answer (with its error, if its own release or the commit failed) once the commit is
/// known. Even a lone job gets a savepoint: PostgreSQL turns the
/// COMMIT of a transaction that saw an error into a silent ROLLBACK, while a RELEASE
/// there fails, so a job that swallowed a database error is never acknowledged.
fn commit_group(conn: &mut PgConn<'_>, batch: &mut Vec<Queued>) -> Vec<(Deliver, Option<String>)> {
    let mut deliveries: Vec<(Deliver, Option<String>)> = Vec::with_capacity(batch.len());
    let mut runs: Vec<String> = batch.iter().filter_map(|q| q.lock.clone()).collect();
    runs.sort_unstable();
    runs.dedup();
    let begun = conn.control("BEGIN").and_then(|()| lock_runs(conn, runs));
    if let Err(e) = begun.and_then(|()| conn.control("SAVEPOINT job")) {
        tracing::error!(error = %e, "the PostgreSQL writer could not begin a transaction");
        let _ = conn.control("ROLLBACK");
        // Dropping the jobs drops their reply channels: their callers get an error.
        batch.clear();
        return deliveries;
    }
    let n = batch.len();
    for (i, Queued { job, .. }) in batch.drain(..).enumerate() {
        let (ok, deliver) = group::run_job(job, conn);
        // The savepoint of the next job is opened in the same round trip.
        let next = if i + 1 < n { "; SAVEPOINT job" } else { "" };
        let own_error = if ok {
            match conn.control(&format!("RELEASE job{next}")) {
                Ok(()) => None,
                Err(e) => {
                    // The job ended without error but its transaction had failed.
                    let _ = conn.control(&format!("ROLLBACK TO job; RELEASE job{next}"));
                    Some(e.to_string())
                }
            }
        } else {
            let _ = conn.control(&format!("ROLLBACK TO job; RELEASE job{next}"));
            None
        };
        if let Some(deliver) = deliver {
            deliveries.push((deliver, own_error));
        }
    }
    let commit = conn.control("COMMIT").err().map(|e| e.to_string());
    if commit.is_some() {
        let _ = conn.control("ROLLBACK");
    }
    for (_, own_error) in &mut deliveries {
        if own_error.is_none() {
            own_error.clone_from(&commit);
        }
    }
    deliveries
}

/// Takes the transaction-scoped locks of `runs` (the runs whose metrics a group writes),
/// all in one statement, in the order of their lock ids. Every group of every writer and
/// every server takes its run locks this way, before any of its jobs runs, so two groups
/// never hold one run each while waiting for the other's: no deadlock between writers.
/// (`log_metrics` relies on it: it takes no lock of its own.)
pub(crate) fn lock_runs(conn: &mut PgConn<'_>, runs: Vec<String>) -> Result<(), DbError> {
    if runs.is_empty() {
        return Ok(());
    }
    conn.query(
        "SELECT count(pg_advisory_xact_lock(h)) FROM \
         (SELECT DISTINCT hashtextextended(r, 0) AS h FROM unnest(?::text[]) AS r ORDER BY 1) AS s",
        &[SqlValue::TextArray(runs)],
    )?;
    Ok(())
}
