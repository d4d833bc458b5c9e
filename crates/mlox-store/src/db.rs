//! A small dynamic SQL layer shared by both backends.
//!
//! Store logic is written once against [`Conn`]; SQL uses `?` placeholders, which the
//! PostgreSQL connection rewrites to `$n`. Every value from a user travels as a bound
//! [`SqlValue`], never as SQL text.

use mlox_core::MlflowError;

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// A list of texts as one parameter: PostgreSQL's `text[]` (for `= ANY(?)`, see
    /// [`in_list`]). Only ever sent, never read back; SQLite refuses it.
    TextArray(Vec<String>),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<SqlValue>);

impl Row {
    pub fn text(&self, i: usize) -> String {
        match &self.0[i] {
            SqlValue::Text(s) => s.clone(),
            SqlValue::Int(v) => v.to_string(),
            SqlValue::Real(v) => v.to_string(),
            SqlValue::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            SqlValue::Null | SqlValue::TextArray(_) => String::new(),
        }
    }
    /// The bytes of a BLOB (empty for any other type).
    pub fn blob(&self, i: usize) -> &[u8] {
        match &self.0[i] {
            SqlValue::Blob(b) => b,
            _ => &[],
        }
    }
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match &self.0[i] {
            SqlValue::Null => None,
            _ => Some(self.text(i)),
        }
    }
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match &self.0[i] {
            SqlValue::Int(v) => Some(*v),
            SqlValue::Real(v) => Some(*v as i64),
            SqlValue::Text(s) => s.parse().ok(),
            SqlValue::Null | SqlValue::Blob(_) | SqlValue::TextArray(_) => None,
        }
    }
    pub fn real(&self, i: usize) -> f64 {
        match &self.0[i] {
            SqlValue::Int(v) => *v as f64,
            SqlValue::Real(v) => *v,
            SqlValue::Text(s) => s.parse().unwrap_or(f64::NAN),
            SqlValue::Null | SqlValue::Blob(_) | SqlValue::TextArray(_) => f64::NAN,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Database errors, kept apart from MLflow errors until the store boundary.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", pg_detail(.0))]
    Postgres(#[from] postgres::Error),
    #[error("{0}")]
    Other(String),
}

impl From<DbError> for MlflowError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "database error");
        // A deadlock or serialization failure rolled back only this request: the client
        // may send it again (MLflow's clients retry a 503), as MLflow's store itself does.
        if let DbError::Postgres(pg) = &e {
            if let Some(code) = pg.code() {
                if *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    || *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                {
                    return MlflowError::new(
                        mlox_core::error::ErrorCode::TEMPORARILY_UNAVAILABLE,
                        "the database aborted this write to break a deadlock; retry it",
                    );
                }
            }
        }
        MlflowError::internal("internal database error")
    }
}

/// A PostgreSQL error with the server's SQLSTATE and message: the client library's own
/// `Display` says only "db error".
fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        // "error connecting to server" and the like: with their cause ("Connection refused").
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            text
        }
    }
}

/// A borrowed result row, read in place (see [`Conn::query_each`]). A NULL or a value of
/// another type reads as 0, NaN or `None`.
pub trait RowView {
    fn int(&self, i: usize) -> i64;
    fn real(&self, i: usize) -> f64;
    fn opt_text(&self, i: usize) -> Option<String>;
    /// The bytes of a BLOB, read in place (empty for any other type).
    fn blob(&self, i: usize) -> &[u8];
    /// The text of a TEXT column, read in place (empty for NULL and any other type).
    fn str(&self, i: usize) -> &str;
}

impl RowView for Row {
    fn int(&self, i: usize) -> i64 {
        Row::int(self, i)
    }
    fn real(&self, i: usize) -> f64 {
        Row::real(self, i)
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        Row::opt_text(self, i)
    }
    fn blob(&self, i: usize) -> &[u8] {
        Row::blob(self, i)
    }
    fn str(&self, i: usize) -> &str {
        match &self.0[i] {
            SqlValue::Text(s) => s,
            _ => "",
        }
    }
}

/// A connection inside a transaction. Implemented by both backends.
pub trait Conn {
    fn dialect(&self) -> Dialect;
    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError>;
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, DbError>;

    /// Calls `f` on each row as it is read, without building [`Row`]s: for results of
    /// many rows (metric histories), where per-row allocations dominate.
    fn query_each(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        f: &mut dyn FnMut(&dyn RowView),
    ) -> Result<(), DbError> {
        for row in self.query(sql, params)? {
            f(&row);
        }
        Ok(())
    }

    /// Like [`Conn::query`], for a statement whose best plan depends on its values (a
    /// search: filters, an ordered key and a LIMIT). PostgreSQL plans a cached prepared
    /// statement generically after five executions, blind to the values; for a run search
    /// that plan reads and sorts every match (35 ms instead of 8 on 10,000 runs). This
    /// prepares the statement afresh, so it is planned for these values.
    fn query_replanned(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, DbError> {
        self.query(sql, params)
    }

    fn query_opt(&mut self, sql: &str, params: &[SqlValue]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Like [`Conn::query`], but gives up once the statement has done about `budget`
    /// [`WORK_UNIT`]s of work, returning `None`: for trying a plan that is fast or
    /// hopeless before a steadier one. A backend that cannot bound work runs the
    /// statement whole.
    fn query_bounded(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        budget: u32,
    ) -> Result<Option<Vec<Row>>, DbError> {
        let _ = budget;
        self.query(sql, params).map(Some)
    }
}

/// The unit of [`Conn::query_bounded`]'s budget: this many SQLite virtual machine
/// instructions (a few microseconds of work).
pub const WORK_UNIT: i32 = 1000;

/// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL. A numbered `?N` (which SQLite
/// also reads) becomes `$N`: a statement may then use one value several times.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut in_quote = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_quote = !in_quote;
                out.push(c);
            }
            '?' if !in_quote => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    n += 1;
                    out.push_str(&n.to_string());
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Placeholders for an IN list: `?, ?, ?`.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// How many values one [`in_list`] takes: SQLite's statements stay small (one placeholder
/// per value); PostgreSQL's array takes any number.
pub fn in_list_len(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 500,
        Dialect::Postgres => usize::MAX,
    }
}

/// `column` is one of `values`, with its parameters pushed onto `params`. SQLite gets an
/// IN list of placeholders. PostgreSQL gets `= ANY(?)` with one `text[]` parameter: a
/// statement with a hundred placeholders costs a millisecond to bind and plan, one array
/// costs nothing, and the statement is the same for every length.
pub fn in_list(
    dialect: Dialect,
    column: &str,
    values: &[String],
    params: &mut Vec<SqlValue>,
) -> String {
    match dialect {
        Dialect::Sqlite => {
            params.extend(values.iter().map(SqlValue::from));
            format!("{column} IN ({})", placeholders(values.len()))
        }
        Dialect::Postgres => {
            params.push(SqlValue::TextArray(values.to_vec()));
            format!("{column} = ANY(?)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered_placeholders("a = ? AND b = '?' AND c IN (?, ?)"),
            "a = $1 AND b = '?' AND c IN ($2, $3)"
        );
        assert_eq!(
            numbered_placeholders("x = ?2 OR (?1 > y AND ?12 = z)"),
            "x = $2 OR ($1 > y AND $12 = z)"
        );
    }
}
