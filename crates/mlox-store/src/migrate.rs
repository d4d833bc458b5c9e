//! Schema migrations, embedded in the binary and applied in order under a lock.

use crate::db::{Conn, DbError, Dialect, SqlValue};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tracking",
        sqlite: include_str!("../migrations/sqlite/0001_tracking.sql"),
        postgres: include_str!("../migrations/postgres/0001_tracking.sql"),
    },
    Migration {
        version: 2,
        name: "registry",
        sqlite: include_str!("../migrations/sqlite/0002_registry.sql"),
        postgres: include_str!("../migrations/postgres/0002_registry.sql"),
    },
    Migration {
        version: 3,
        name: "metric_chunks",
        sqlite: include_str!("../migrations/sqlite/0003_metric_chunks.sql"),
        postgres: include_str!("../migrations/postgres/0003_metric_chunks.sql"),
    },
    Migration {
        version: 4,
        name: "run_lookup",
        sqlite: include_str!("../migrations/sqlite/0004_run_lookup.sql"),
        postgres: include_str!("../migrations/postgres/0004_run_lookup.sql"),
    },
    Migration {
        version: 5,
        name: "metric_order",
        sqlite: include_str!("../migrations/sqlite/0005_metric_order.sql"),
        postgres: include_str!("../migrations/postgres/0005_metric_order.sql"),
    },
    Migration {
        version: 6,
        name: "traces",
        sqlite: include_str!("../migrations/sqlite/0006_traces.sql"),
        postgres: include_str!("../migrations/postgres/0006_traces.sql"),
    },
    Migration {
        version: 7,
        name: "auth",
        sqlite: include_str!("../migrations/sqlite/0007_auth.sql"),
        postgres: include_str!("../migrations/postgres/0007_auth.sql"),
    },
    Migration {
        version: 8,
        name: "eval",
        sqlite: include_str!("../migrations/sqlite/0008_eval.sql"),
        postgres: include_str!("../migrations/postgres/0008_eval.sql"),
    },
];

/// A backend's way of running work while holding the migration lock.
pub(crate) trait Migrator {
    fn dialect(&self) -> Dialect;
    fn locked(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Conn) -> Result<(), DbError>,
    ) -> Result<(), DbError>;
}

/// The schema version this binary expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Applies every migration not yet recorded; returns the versions applied.
pub(crate) fn apply(m: &mut dyn Migrator) -> Result<Vec<i64>, DbError> {
    let dialect = m.dialect();
    let mut applied = Vec::new();
    m.locked(&mut |conn| {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS mlox_schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            &[],
        )?;
        // Every migration not recorded is applied, not only those above the highest
        // recorded one: branches number their migrations apart (0006, 0007, …) and may be
        // merged in any order.
        let recorded: std::collections::HashSet<i64> = conn
            .query("SELECT version FROM mlox_schema_migrations", &[])?
            .iter()
            .map(|r| r.int(0))
            .collect();
        let current = recorded.iter().copied().max().unwrap_or(0);
        if current > latest_version() {
            return Err(DbError::Other(format!(
                "the database schema is at version {current}, newer than this mlox ({}); upgrade mlox",
                latest_version()
            )));
        }
        for mig in MIGRATIONS.iter().filter(|m| !recorded.contains(&m.version)) {
            let sql = match dialect {
                Dialect::Sqlite => mig.sqlite,
                Dialect::Postgres => mig.postgres,
            };
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                conn.execute(stmt, &[])?;
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            conn.execute(
                "INSERT INTO mlox_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                &[SqlValue::Int(mig.version), SqlValue::from(mig.name), SqlValue::Int(now)],
            )?;
            applied.push(mig.version);
        }
        Ok(())
    })?;
    Ok(applied)
}
