//! A small dynamic SQL layer shared by both backends.
//!
//! Store logic is written once against [`Conn`]; SQL uses `?` placeholders, which the
//! PostgreSQL connection rewrites to `$n`. Every value from a user travels as a bound
//! [`SqlValue`], never as SQL text.

use std::sync::Arc;

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

/// One result row: its values, and the names of its columns (shared by the rows of one
/// result) for errors that name a column.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<SqlValue>) -> Self {
        Row { columns, values }
    }
}

/// One value of a row, borrowed from it: what a [`RowView`] reads before decoding it to
/// the type a caller asks for.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    /// The bytes of a TEXT value (UTF-8 unless the database holds something else).
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// A value read from a row, owned (for a [`Row`]).
impl From<Value<'_>> for SqlValue {
    fn from(v: Value<'_>) -> Self {
        match v {
            Value::Null => SqlValue::Null,
            Value::Int(n) => SqlValue::Int(n),
            Value::Real(x) => SqlValue::Real(x),
            Value::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
            Value::Blob(b) => SqlValue::Blob(b.to_vec()),
        }
    }
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// A result row, read by column index and decoded to the type the caller asks for. A
/// value of that type, or one that converts without loss of meaning (an integer read as
/// text, digits in a TEXT or NUMERIC column read as a number), decodes; a NULL where the
/// schema has none, or a value of another type, is [`DbError::Column`] naming the column.
/// Columns the schema lets be NULL are read with the `opt_` accessors.
pub trait RowView {
    /// The value in column `i`.
    fn value(&self, i: usize) -> Result<Value<'_>, DbError>;
    /// The name of column `i`, for errors.
    fn column_name(&self, i: usize) -> String;

    /// An error naming column `i`, which holds `found` where `wanted` belongs.
    fn column_error(&self, i: usize, wanted: &str, found: &Value<'_>) -> DbError {
        DbError::Column {
            column: self.column_name(i),
            problem: format!("{} where {wanted} belongs", found.kind()),
        }
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        let v = self.value(i)?;
        Ok(Some(match v {
            Value::Null => return Ok(None),
            Value::Int(n) => n,
            Value::Real(x) if x.fract() == 0.0 && x.abs() < 9.3e18 => x as i64,
            Value::Text(t) => match std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()) {
                Some(n) => n,
                None => return Err(self.column_error(i, "an integer", &v)),
            },
            _ => return Err(self.column_error(i, "an integer", &v)),
        }))
    }
    fn int(&self, i: usize) -> Result<i64, DbError> {
        self.opt_int(i)?
            .ok_or_else(|| self.column_error(i, "an integer", &Value::Null))
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, DbError> {
        let v = self.value(i)?;
        Ok(Some(match v {
            Value::Null => return Ok(None),
            Value::Int(n) => n as f64,
            Value::Real(x) => x,
            Value::Text(t) => match std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()) {
                Some(x) => x,
                None => return Err(self.column_error(i, "a number", &v)),
            },
            Value::Blob(_) => return Err(self.column_error(i, "a number", &v)),
        }))
    }
    fn real(&self, i: usize) -> Result<f64, DbError> {
        self.opt_real(i)?
            .ok_or_else(|| self.column_error(i, "a number", &Value::Null))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        Ok(Some(match self.value(i)? {
            Value::Null => return Ok(None),
            Value::Text(t) | Value::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            Value::Int(n) => n.to_string(),
            Value::Real(x) => x.to_string(),
        }))
    }
    fn text(&self, i: usize) -> Result<String, DbError> {
        self.opt_text(i)?
            .ok_or_else(|| self.column_error(i, "text", &Value::Null))
    }
    /// The text of a TEXT column, read in place.
    fn str(&self, i: usize) -> Result<&str, DbError> {
        let v = self.value(i)?;
        match v {
            Value::Text(t) => std::str::from_utf8(t).map_err(|_| DbError::Column {
                column: self.column_name(i),
                problem: "text that is not UTF-8".into(),
            }),
            _ => Err(self.column_error(i, "text", &v)),
        }
    }
    /// The bytes of a BLOB, read in place.
    fn blob(&self, i: usize) -> Result<&[u8], DbError> {
        let v = self.value(i)?;
        match v {
            Value::Blob(b) => Ok(b),
            _ => Err(self.column_error(i, "a blob", &v)),
        }
    }
}

/// Reading a database of MLflow's own (import) or writing one (export), as MLflow's
/// readers do: its schema lets most columns be NULL, and a NULL, or a value that does not
/// decode, reads as empty, 0 or NaN. The store's own reads use [`RowView`]'s typed
/// accessors.
pub trait LenientRow: RowView {
    fn text_or_empty(&self, i: usize) -> String {
        self.opt_text(i).ok().flatten().unwrap_or_default()
    }
    fn opt_text_or_none(&self, i: usize) -> Option<String> {
        self.opt_text(i).ok().flatten()
    }
    fn int_or_zero(&self, i: usize) -> i64 {
        self.opt_int_or_none(i).unwrap_or(0)
    }
    fn opt_int_or_none(&self, i: usize) -> Option<i64> {
        match self.value(i) {
            Ok(Value::Int(x)) => Some(x),
            Ok(Value::Real(x)) => Some(x as i64),
            Ok(Value::Null) => None,
            _ => self.opt_int(i).ok().flatten(),
        }
    }
    fn real_or_nan(&self, i: usize) -> f64 {
        self.opt_real(i).ok().flatten().unwrap_or(f64::NAN)
    }
    fn str_or_empty(&self, i: usize) -> &str {
        self.str(i).unwrap_or("")
    }
    fn blob_or_empty(&self, i: usize) -> &[u8] {
        self.blob(i).unwrap_or(&[])
    }
}

impl<T: RowView + ?Sized> LenientRow for T {}

impl RowView for Row {
    fn value(&self, i: usize) -> Result<Value<'_>, DbError> {
        Ok(match &self.values[i] {
            SqlValue::Null | SqlValue::TextArray(_) => Value::Null,
            SqlValue::Int(n) => Value::Int(*n),
            SqlValue::Real(x) => Value::Real(*x),
            SqlValue::Text(s) => Value::Text(s.as_bytes()),
            SqlValue::Blob(b) => Value::Blob(b),
        })
    }
    fn column_name(&self, i: usize) -> String {
        self.columns
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
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
    /// A value that does not decode to what its column should hold (a NULL where the
    /// schema has none, text where a number belongs): the database was changed by hand.
    #[error("column {column}: {problem}")]
    Column { column: String, problem: String },
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
        if let DbError::Column { .. } = &e {
            return MlflowError::internal(format!("internal database error: {e}"));
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
        f: &mut dyn FnMut(&dyn RowView) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        for row in self.query(sql, params)? {
            f(&row)?;
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
