//! Schema migrations, embedded in the binary and applied in order under a lock.

use crate::db::{Conn, DbError, Dialect, RowView, SqlValue};

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
    Migration {
        version: 9,
        name: "online_scoring",
        sqlite: include_str!("../migrations/sqlite/0009_online_scoring.sql"),
        postgres: include_str!("../migrations/postgres/0009_online_scoring.sql"),
    },
    Migration {
        version: 10,
        name: "trace_rows_by_key",
        sqlite: include_str!("../migrations/sqlite/0010_trace_rows_by_key.sql"),
        postgres: include_str!("../migrations/postgres/0010_trace_rows_by_key.sql"),
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

/// Every embedded migration's version and SQLite script (for tests of upgrades).
#[cfg(test)]
pub(crate) fn embedded() -> Vec<(i64, &'static str)> {
    MIGRATIONS.iter().map(|m| (m.version, m.sqlite)).collect()
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
            .collect::<Result<_, DbError>>()?;
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
            for stmt in statements(sql) {
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

/// The statements of a migration script, split on the `;`s that end a statement: not those
/// inside quotes (`'…'`, `"…"`), PostgreSQL dollar quotes (`$$…$$`, `$tag$…$tag$`),
/// comments (`-- …`, `/* … */`) or the `BEGIN … END` body of a `CREATE TRIGGER`. Statements
/// holding nothing but comments and blanks are left out.
pub(crate) fn statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // The statement's words so far (upper-cased, outside quotes and comments), enough to
    // tell a trigger body's `;` from the one ending the statement.
    let mut words: Vec<String> = Vec::new();
    let mut has_code = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(b.len(), |n| i + n + 1);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                continue;
            }
            b'\'' | b'"' => {
                has_code = true;
                // A doubled quote inside is an escaped quote: the scan just reopens it.
                i = sql[i + 1..]
                    .find(c as char)
                    .map_or(b.len(), |n| i + 1 + n + 1);
                continue;
            }
            b'$' => {
                // A dollar quote's tag is `$`, letters, digits or `_`, `$`; `$1` is a parameter.
                let tag_end = sql[i + 1..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .map(|n| i + 1 + n);
                if let Some(e) = tag_end.filter(|&e| b.get(e) == Some(&b'$')) {
                    let tag = &sql[i..=e];
                    if !tag[1..].starts_with(|ch: char| ch.is_ascii_digit()) {
                        has_code = true;
                        i = sql[e + 1..]
                            .find(tag)
                            .map_or(b.len(), |n| e + 1 + n + tag.len());
                        continue;
                    }
                }
            }
            b';' => {
                let in_trigger = words.len() >= 2
                    && words[0] == "CREATE"
                    && words.iter().take(5).any(|w| w == "TRIGGER")
                    && words.iter().any(|w| w == "BEGIN");
                if !in_trigger || words.last().is_some_and(|w| w == "END") {
                    if has_code {
                        out.push(sql[start..i].trim());
                    }
                    start = i + 1;
                    words.clear();
                    has_code = false;
                }
                i += 1;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let n = sql[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .unwrap_or(b.len() - i);
                words.push(sql[i..i + n].to_ascii_uppercase());
                has_code = true;
                i += n;
                continue;
            }
            c if !c.is_ascii_whitespace() => has_code = true,
            _ => {}
        }
        i += 1;
    }
    if has_code {
        out.push(sql[start..].trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn splits_only_on_statement_ends() {
        let sql = "-- the run's row; a comment\n\
            CREATE TABLE t (a TEXT DEFAULT 'x;y', \"we;ird\" INT); /* c; */\n\
            INSERT INTO t VALUES ('it''s; fine', 1);\n\
            CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN RETURN NEW; END; $body$ LANGUAGE plpgsql;\n\
            CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'z'; DELETE FROM t WHERE a = ';'; END;\n\
            SELECT $1, $$a;b$$;\n\
            -- trailing comment; nothing to run\n";
        assert_eq!(
            statements(sql),
            [
                "-- the run's row; a comment\nCREATE TABLE t (a TEXT DEFAULT 'x;y', \"we;ird\" INT)",
                "/* c; */\nINSERT INTO t VALUES ('it''s; fine', 1)",
                "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN RETURN NEW; END; $body$ LANGUAGE plpgsql",
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 'z'; DELETE FROM t WHERE a = ';'; END",
                "SELECT $1, $$a;b$$",
            ]
        );
    }

    #[test]
    fn every_embedded_migration_splits_into_its_statements() {
        // Each script ends every statement with `;` at the end of a line (0009's comment
        // holds a `;` too, which the former split on every `;` cut into a broken statement).
        for m in super::MIGRATIONS {
            for sql in [m.sqlite, m.postgres] {
                let stmts = statements(sql);
                let ends = sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--") && l.trim_end().ends_with(';'))
                    .count();
                // (The last statement may go without its `;`.)
                assert!(
                    stmts.len() == ends || stmts.len() == ends + 1,
                    "migration {}: {} statements, {ends} ends",
                    m.name,
                    stmts.len()
                );
                for st in stmts {
                    let code: Vec<&str> = st
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("--"))
                        .collect();
                    let first = code.first().map_or("", |l| l.trim_start());
                    assert!(
                        ["CREATE", "ALTER", "INSERT", "UPDATE", "DROP", "DELETE"]
                            .iter()
                            .any(|k| first.starts_with(k)),
                        "migration {}: {st}",
                        m.name
                    );
                }
            }
        }
    }
}
