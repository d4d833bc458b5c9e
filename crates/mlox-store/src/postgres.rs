//! The PostgreSQL backend: a bounded pool of connections; each write is one transaction.

use std::time::Duration;

use mlox_core::{MlflowError, Result};
use postgres::types::{IsNull, ToSql, Type};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use crate::db::{numbered_placeholders, Conn, DbError, Dialect, Row, RowView, SqlValue};

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

pub struct PgDb {
    /// Always `Some` until drop.
    pool: Option<Pool>,
}

impl PgDb {
    /// The pool's connections (open, idle) and its bound, for metrics.
    pub(crate) fn pool_stats(&self) -> Option<crate::ops::PoolStats> {
        let pool = self.pool.as_ref()?;
        let state = pool.state();
        Some(crate::ops::PoolStats {
            connections: state.connections,
            idle: state.idle_connections,
            max: pool.max_size(),
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Closing a synchronous postgres client blocks on its own runtime, which panics
        // inside an async context: close the pool on a plain thread.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::Builder::new()
                .name("mlox-pg-close".into())
                .spawn(move || drop(pool));
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
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

struct PgConn<'a, 'b>(&'a mut postgres::Transaction<'b>);

fn pg_err(e: postgres::Error) -> DbError {
    if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        DbError::UniqueViolation(e.to_string())
    } else {
        DbError::Postgres(e)
    }
}

impl Conn for PgConn<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        let sql = numbered_placeholders(sql);
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let stmt = self.0.prepare(&sql).map_err(pg_err)?;
        let rows = self.0.query(&stmt, &refs).map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut vals = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let v = match *col.type_() {
                    Type::INT8 => r
                        .try_get::<_, Option<i64>>(i)
                        .map_err(pg_err)?
                        .map(SqlValue::Int),
                    Type::INT4 => r
                        .try_get::<_, Option<i32>>(i)
                        .map_err(pg_err)?
                        .map(|v| SqlValue::Int(v.into())),
                    Type::INT2 => r
                        .try_get::<_, Option<i16>>(i)
                        .map_err(pg_err)?
                        .map(|v| SqlValue::Int(v.into())),
                    Type::FLOAT8 => r
                        .try_get::<_, Option<f64>>(i)
                        .map_err(pg_err)?
                        .map(SqlValue::Real),
                    Type::FLOAT4 => r
                        .try_get::<_, Option<f32>>(i)
                        .map_err(pg_err)?
                        .map(|v| SqlValue::Real(v.into())),
                    Type::BOOL => r
                        .try_get::<_, Option<bool>>(i)
                        .map_err(pg_err)?
                        .map(|v| SqlValue::Int(v.into())),
                    Type::BYTEA => r
                        .try_get::<_, Option<Vec<u8>>>(i)
                        .map_err(pg_err)?
                        .map(SqlValue::Blob),
                    _ => r
                        .try_get::<_, Option<String>>(i)
                        .map_err(pg_err)?
                        .map(SqlValue::Text),
                };
                vals.push(v.unwrap_or(SqlValue::Null));
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn RowView),
    ) -> Result<(), DbError> {
        use postgres::fallible_iterator::FallibleIterator;
        let sql = numbered_placeholders(sql);
        let stmt = self.0.prepare(&sql).map_err(pg_err)?;
        // Rows stream from the server as they are read: memory stays flat at any size.
        let mut rows = self
            .0
            .query_raw(&stmt, params.iter().map(|p| p as &(dyn ToSql + Sync)))
            .map_err(pg_err)?;
        while let Some(r) = rows.next().map_err(pg_err)? {
            f(&PgRow(&r));
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        let sql = numbered_placeholders(sql);
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.0.execute(sql.as_str(), &refs).map_err(pg_err)
    }
}

struct PgRow<'a>(&'a postgres::Row);

impl RowView for PgRow<'_> {
    fn int(&self, i: usize) -> i64 {
        let r = self.0;
        match *r.columns()[i].type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).ok().flatten(),
            Type::INT4 => r.try_get::<_, Option<i32>>(i).ok().flatten().map(i64::from),
            Type::INT2 => r.try_get::<_, Option<i16>>(i).ok().flatten().map(i64::from),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)
                .ok()
                .flatten()
                .map(i64::from),
            _ => None,
        }
        .unwrap_or(0)
    }
    fn real(&self, i: usize) -> f64 {
        let r = self.0;
        match *r.columns()[i].type_() {
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).ok().flatten(),
            Type::FLOAT4 => r.try_get::<_, Option<f32>>(i).ok().flatten().map(f64::from),
            _ => Some(self.int(i) as f64),
        }
        .unwrap_or(f64::NAN)
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.0.try_get::<_, Option<String>>(i).ok().flatten()
    }
    fn str(&self, i: usize) -> &str {
        self.0
            .try_get::<_, Option<&str>>(i)
            .ok()
            .flatten()
            .unwrap_or("")
    }
    fn blob(&self, i: usize) -> &[u8] {
        self.0
            .try_get::<_, Option<&[u8]>>(i)
            .ok()
            .flatten()
            .unwrap_or(&[])
    }
}

struct PgMigrator<'a>(&'a mut postgres::Client);

impl crate::migrate::Migrator for PgMigrator<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn locked(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let mut tx = self.0.transaction().map_err(pg_err)?;
        // One migrator at a time across every server sharing this database.
        tx.execute("SELECT pg_advisory_xact_lock(7340291)", &[])
            .map_err(pg_err)?;
        f(&mut PgConn(&mut tx))?;
        tx.commit().map_err(pg_err)
    }
}

impl PgDb {
    pub fn open(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| DbError::Other(format!("invalid PostgreSQL URL: {e}")))?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        let mut client = pool.get()?;
        crate::migrate::apply(&mut PgMigrator(&mut client))?;
        drop(client);
        Ok(PgDb { pool: Some(pool) })
    }

    async fn run<T, F>(&self, f: F, read_only: bool) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        let pool = self
            .pool
            .clone()
            .ok_or_else(|| MlflowError::internal("the PostgreSQL pool is closed"))?;
        tokio::task::spawn_blocking(move || {
            let mut client = pool.get().map_err(DbError::from)?;
            let mut tx = if read_only {
                client
                    .build_transaction()
                    .read_only(true)
                    .start()
                    .map_err(pg_err)?
            } else {
                client.transaction().map_err(pg_err)?
            };
            let result = f(&mut PgConn(&mut tx));
            match result {
                Ok(v) => {
                    tx.commit().map_err(pg_err)?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = tx.rollback();
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| MlflowError::internal(format!("database task failed: {e}")))?
    }

    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        self.run(f, false).await
    }

    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        self.run(f, true).await
    }
}
