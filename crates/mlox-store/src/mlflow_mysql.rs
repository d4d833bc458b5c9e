//! MLflow databases on MySQL or MariaDB, read by `mlox import` (never written, and never
//! an mlox store). MLflow's URI forms are accepted: `mysql://`, `mysql+pymysql://`,
//! `mysql+mysqldb://` (and `mariadb…`), with `user:password@host:port/db` and an optional
//! `unix_socket=` parameter; other parameters (`charset=`…) are ignored. No TLS.
//!
//! The connection reads in one consistent snapshot (a read-only REPEATABLE READ
//! transaction) and implements [`Conn`] for the importer's SELECTs, which are written for
//! SQLite and PostgreSQL: the session uses ANSI quotes (`"column"`), and the one MLflow
//! column name MySQL reserves, `key`, is quoted before a statement is sent. Rows are read
//! with the binary protocol, streamed, so numbers arrive as numbers; a binary string
//! (a BLOB) stays bytes, any other string is text.

use std::sync::Arc;

use mysql::consts::ColumnType;
use mysql::prelude::Queryable;

use crate::db::{Conn, DbError, Dialect, Row, RowView, SqlValue};
use mlox_core::{MlflowError, Result};

/// The character set number MySQL gives binary strings (BLOB, VARBINARY).
const BINARY_CHARSET: u16 = 63;

pub(crate) struct MysqlSource(mysql::Conn);

fn err(e: mysql::Error) -> DbError {
    DbError::Other(format!("MySQL: {e}"))
}

/// `%XX` escapes of a URI part decoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connection options of a MySQL URI (see the module comment).
fn options(uri: &str) -> Result<mysql::OptsBuilder> {
    let bad = |why: &str| MlflowError::invalid(format!("invalid MySQL URI '{uri}': {why}"));
    let (_, rest) = uri
        .split_once("://")
        .ok_or_else(|| bad("expected mysql://user:password@host:port/database"))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut b = mysql::OptsBuilder::new();
    if let Some(u) = userinfo {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        b = b.user(Some(percent_decode(user)));
        if u.contains(':') {
            b = b.pass(Some(percent_decode(pass)));
        }
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
        ),
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !host.is_empty() {
        b = b.ip_or_hostname(Some(percent_decode(host)));
    }
    if let Some(p) = port {
        b = b.tcp_port(p);
    }
    if db.is_empty() {
        return Err(bad("no database named"));
    }
    b = b.db_name(Some(percent_decode(db)));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "unix_socket" || k == "socket" {
            b = b.socket(Some(percent_decode(v)));
        }
    }
    Ok(b)
}

impl MysqlSource {
    /// Connects and starts the read-only snapshot all reads share.
    pub(crate) fn open(uri: &str) -> Result<Self> {
        let opts = options(uri)?;
        let mut conn = mysql::Conn::new(opts).map_err(|e| {
            MlflowError::invalid(format!("cannot connect to the MySQL database: {e}"))
        })?;
        for stmt in [
            "SET SESSION sql_mode = 'ANSI_QUOTES'",
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ] {
            conn.query_drop(stmt).map_err(|e| {
                MlflowError::internal(format!("preparing to read the MySQL database: {e}"))
            })?;
        }
        Ok(MysqlSource(conn))
    }
}

/// `sql` with MySQL's reserved `key` quoted where it is a bare word (not in a string, not
/// already quoted, not part of a longer name).
fn quote_reserved(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    let bytes = sql.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            _ if sql[i..].len() >= 3
                && sql[i..i + 3].eq_ignore_ascii_case("key")
                && (i == 0 || !ident(bytes[i - 1]))
                && bytes.get(i + 3).is_none_or(|&n| !ident(n)) =>
            {
                out.push_str("\"key\"");
                chars.next();
                chars.next();
            }
            // `t.key`: the qualified form.
            '.' if sql[i + 1..].len() >= 3
                && sql[i + 1..i + 4].eq_ignore_ascii_case("key")
                && bytes.get(i + 4).is_none_or(|&n| !ident(n)) =>
            {
                out.push_str(".\"key\"");
                chars.next();
                chars.next();
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn param(v: &SqlValue) -> mysql::Value {
    match v {
        SqlValue::Null => mysql::Value::NULL,
        SqlValue::Int(i) => mysql::Value::Int(*i),
        SqlValue::Real(f) => mysql::Value::Double(*f),
        SqlValue::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
        SqlValue::Blob(b) => mysql::Value::Bytes(b.clone()),
        SqlValue::TextArray(a) => mysql::Value::Bytes(a.join(",").into_bytes()),
    }
}

fn value(v: mysql::Value, col: &mysql::Column) -> SqlValue {
    match v {
        mysql::Value::NULL => SqlValue::Null,
        mysql::Value::Int(i) => SqlValue::Int(i),
        mysql::Value::UInt(u) => SqlValue::Int(u as i64),
        mysql::Value::Float(f) => SqlValue::Real(f as f64),
        mysql::Value::Double(f) => SqlValue::Real(f),
        mysql::Value::Bytes(b) => match col.column_type() {
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                let s = String::from_utf8_lossy(&b);
                match s.parse::<i64>() {
                    Ok(i) => SqlValue::Int(i),
                    Err(_) => SqlValue::Real(s.parse().unwrap_or(f64::NAN)),
                }
            }
            _ if col.character_set() == BINARY_CHARSET => SqlValue::Blob(b),
            _ => SqlValue::Text(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        },
        mysql::Value::Date(y, mo, d, h, mi, s, us) => SqlValue::Text(format!(
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
        )),
        mysql::Value::Time(neg, d, h, mi, s, us) => SqlValue::Text(format!(
            "{}{}:{mi:02}:{s:02}.{us:06}",
            if neg { "-" } else { "" },
            d * 24 + u32::from(h)
        )),
    }
}

impl Conn for MysqlSource {
    /// SQLite's: `?` placeholders and bounded IN lists suit MySQL too. (The importer's
    /// reads of a source never depend on it.)
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> std::result::Result<Vec<Row>, DbError> {
        let mut rows = Vec::new();
        self.rows(sql, params, &mut |r| {
            rows.push(r);
            Ok(())
        })?;
        Ok(rows)
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> std::result::Result<u64, DbError> {
        let params: Vec<mysql::Value> = params.iter().map(param).collect();
        let result = self
            .0
            .exec_iter(quote_reserved(sql), mysql::Params::Positional(params))
            .map_err(err)?;
        Ok(result.affected_rows())
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn RowView) -> std::result::Result<(), DbError>,
    ) -> std::result::Result<(), DbError> {
        self.rows(sql, params, &mut |r| f(&r))
    }
}

impl MysqlSource {
    /// Streams the rows of `sql`, converted, to `f`; stops at the first error `f` returns.
    fn rows(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(Row) -> std::result::Result<(), DbError>,
    ) -> std::result::Result<(), DbError> {
        let params: Vec<mysql::Value> = params.iter().map(param).collect();
        let params = if params.is_empty() {
            mysql::Params::Empty
        } else {
            mysql::Params::Positional(params)
        };
        let result = self.0.exec_iter(quote_reserved(sql), params).map_err(err)?;
        let mut names: Option<Arc<[String]>> = None;
        for row in result {
            let row = row.map_err(err)?;
            let cols = row.columns();
            let names = names
                .get_or_insert_with(|| cols.iter().map(|c| c.name_str().into_owned()).collect())
                .clone();
            let values = row.unwrap();
            f(Row::new(
                names,
                values
                    .into_iter()
                    .zip(cols.iter())
                    .map(|(v, c)| value(v, c))
                    .collect(),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_key_is_quoted() {
        assert_eq!(
            quote_reserved("SELECT run_uuid, key, value FROM params WHERE x = 'key' ORDER BY run_uuid, key"),
            "SELECT run_uuid, \"key\", value FROM params WHERE x = 'key' ORDER BY run_uuid, \"key\""
        );
        assert_eq!(
            quote_reserved("SELECT t.key, \"key\", keys, monkey, key_x FROM t"),
            "SELECT t.\"key\", \"key\", keys, monkey, key_x FROM t"
        );
    }

    #[test]
    fn uri_forms() {
        for uri in [
            "mysql://u:p%40ss@127.0.0.1:3307/mlflow",
            "mysql+pymysql://u:p%40ss@127.0.0.1:3307/mlflow?charset=utf8mb4",
            "mysql+mysqldb://u:p%40ss@127.0.0.1:3307/mlflow",
        ] {
            let opts: mysql::Opts = options(uri).unwrap().into();
            assert_eq!(opts.get_user(), Some("u"));
            assert_eq!(opts.get_pass(), Some("p@ss"));
            assert_eq!(opts.get_tcp_port(), 3307);
            assert_eq!(opts.get_db_name(), Some("mlflow"));
            assert_eq!(&*opts.get_ip_or_hostname(), "127.0.0.1");
        }
        let opts: mysql::Opts = options("mysql://u@localhost/db?unix_socket=/tmp/s.sock")
            .unwrap()
            .into();
        assert_eq!(opts.get_socket(), Some("/tmp/s.sock"));
        assert!(options("mysql://u@localhost").is_err());
    }
}
