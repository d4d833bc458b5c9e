//! MLflow search grammar: `filter` strings and `order_by` clauses.
//!
//! MLflow parses filters with `sqlparse` and then validates the resulting tokens in
//! `mlflow/utils/search_utils.py` (plus a few extra checks in its SQLAlchemy stores).
//! This module is a hand-written equivalent: a small character-level scanner, a
//! syntactic pass that turns the filter into raw comparisons, and a semantic pass per
//! search endpoint ([`SearchKind`]) that resolves identifiers, checks comparators and
//! types the values.
//!
//! The accepted language is MLflow's, with a handful of deliberate extensions where
//! MLflow's rejection is an accident rather than a rule (listed on [`parse_filter`]).
//! Errors are `INVALID_PARAMETER_VALUE` and reuse MLflow's message text; where MLflow's
//! message is generic (syntax errors) ours also names the character position and what
//! was expected there.
//!
//! Quirks of MLflow that are kept on purpose:
//! * `AND` is the only connective, but it is not actually required between two
//!   complete comparisons, and stray leading/trailing/doubled `AND`s are ignored.
//! * Quoted strings are not unescaped: `'it''s'` and `'it\'s'` yield `it''s` and
//!   `it\'s`, exactly as MLflow stores them (values inside `IN (...)` lists, which
//!   MLflow evaluates as Python literals, *are* unescaped).
//! * Entity prefixes (`metrics.`, `tags.` ...) are case-sensitive; operator keywords
//!   (`LIKE`, `and`, `is not null` ...) are not.
//! * A key with dots may be written unquoted (`tags.mlflow.runName`).

use std::fmt;

use crate::error::MlflowError;

// ------------------------------------------------------------------------------------------------
// Public types
// ------------------------------------------------------------------------------------------------

/// What an identifier refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Entity {
    /// The canonical (singular) name MLflow uses for the entity type.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Metric => "metric",
            Entity::Param => "parameter",
            Entity::Tag => "tag",
            Entity::Attribute => "attribute",
            Entity::Dataset => "dataset",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved identifier. `key` is unquoted; attribute keys are canonical
/// (`created` → `start_time`, `Run Name` → `run_name`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub entity: Entity,
    pub key: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Cmp {
    /// The operator as MLflow spells it (`"="`, `"NOT IN"`, `"IS NULL"` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Like => "LIKE",
            Cmp::ILike => "ILIKE",
            Cmp::In => "IN",
            Cmp::NotIn => "NOT IN",
            Cmp::IsNull => "IS NULL",
            Cmp::IsNotNull => "IS NOT NULL",
        }
    }

    /// Parses an upper-cased operator with single spaces (`"NOT IN"`).
    fn from_op(op: &str) -> Option<Cmp> {
        Some(match op {
            "=" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            "LIKE" => Cmp::Like,
            "ILIKE" => Cmp::ILike,
            "IN" => Cmp::In,
            "NOT IN" => Cmp::NotIn,
            "IS NULL" => Cmp::IsNull,
            "IS NOT NULL" => Cmp::IsNotNull,
            _ => return None,
        })
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (quotes removed, not unescaped).
    Str(String),
    /// A number (metrics and numeric attributes).
    Num(f64),
    /// The items of an `IN (...)` / `NOT IN (...)` list.
    List(Vec<String>),
    /// No value: `IS NULL` / `IS NOT NULL`.
    None,
}

/// One comparison of a filter; a filter is the conjunction of its clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub ident: Ident,
    pub cmp: Cmp,
    pub value: Value,
}

/// One `order_by` element.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub ident: Ident,
    pub ascending: bool,
}

/// Which search endpoint's rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Runs,
    Experiments,
    RegisteredModels,
    ModelVersions,
    LoggedModels,
}

// ------------------------------------------------------------------------------------------------
// Public entry points
// ------------------------------------------------------------------------------------------------

/// Parses and validates a filter string for the given search endpoint.
///
/// An empty or all-whitespace filter yields no clauses (match everything).
///
/// Extensions over MLflow (inputs MLflow rejects, or crashes on, that are accepted here):
/// * numbers may carry a `+` sign and a signed exponent (`1.5E+3`);
/// * `like`/`ilike` in lower case for experiments (MLflow accepts them everywhere else);
/// * the attribute-prefix aliases `attributes.`/`attr.` for experiments and registry
///   searches, and the singular/plural aliases for logged models;
/// * quoted attribute names for registry searches (``"name" = 'x'``);
/// * `IS NOT NULL` with arbitrary whitespace.
///
/// Rejected although MLflow accepts them: a list on the right of a non-`IN` comparator
/// (`run_id = ('a')`), an empty key written as `metrics. > 1`, and whitespace after the
/// dot of an identifier (`metrics. a`).
pub fn parse_filter(kind: SearchKind, filter: &str) -> Result<Vec<Clause>, MlflowError> {
    if filter.trim().is_empty() {
        return Ok(Vec::new());
    }
    let chars: Vec<char> = filter.chars().collect();
    check_single_statement(kind, filter, &chars)?;
    let raws = match parse_raw_clauses(&chars) {
        Ok(raws) => raws,
        Err(fail) => return Err(syntax_failure(kind, filter, fail)),
    };
    let pending = raws
        .iter()
        .map(|raw| resolve_clause(kind, raw))
        .collect::<Result<Vec<_>, _>>()?;
    pending
        .into_iter()
        .map(|p| check_comparator(kind, p))
        .collect()
}

/// Parses and validates `order_by` clauses (`<identifier> [ASC|DESC]`) for the given
/// search endpoint.
///
/// Duplicated fields are rejected for runs, registered models and model versions, as by
/// MLflow's SQL stores (experiments and logged models allow them, as MLflow does).
/// Leading/trailing whitespace is tolerated (MLflow rejects it).
pub fn parse_order_by(kind: SearchKind, clauses: &[String]) -> Result<Vec<OrderBy>, MlflowError> {
    let mut out: Vec<OrderBy> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let (raw, ascending) = parse_order_by_syntax(clause)?;
        let ident = resolve_order_by_ident(kind, &raw)?;
        let checks_duplicates = matches!(
            kind,
            SearchKind::Runs | SearchKind::RegisteredModels | SearchKind::ModelVersions
        );
        if checks_duplicates && out.iter().any(|o| o.ident == ident) {
            return Err(MlflowError::invalid(format!(
                "`order_by` contains duplicate fields: {}",
                py_list(clauses)
            )));
        }
        out.push(OrderBy { ident, ascending });
    }
    Ok(out)
}

/// Resolves one structured `order_by` element of `search_logged_models`
/// (`{"field_name": ..., "ascending": ...}`), the way MLflow does: `field_name` is either
/// `metrics.<name>` (the name taken verbatim) or an attribute name.
pub fn parse_logged_model_order_field(
    field_name: &str,
    ascending: bool,
) -> Result<OrderBy, MlflowError> {
    if let Some((entity, key)) = field_name.split_once('.') {
        if entity != "metrics" {
            return Err(MlflowError::invalid(format!(
                "Invalid order by field name: {entity}, only `metrics.<name>` is allowed."
            )));
        }
        return Ok(OrderBy {
            ident: Ident {
                entity: Entity::Metric,
                key: key.to_string(),
            },
            ascending,
        });
    }
    let field = field_name.trim();
    match canonical_logged_model_attr(field) {
        Some(key) => Ok(OrderBy {
            ident: Ident {
                entity: Entity::Attribute,
                key: key.to_string(),
            },
            ascending,
        }),
        None => Err(MlflowError::invalid(format!(
            "Invalid order by field name: {field}."
        ))),
    }
}

// ------------------------------------------------------------------------------------------------
// Attribute tables
// ------------------------------------------------------------------------------------------------

/// Comparator sets as MLflow prints them in messages.
const METRIC_CMPS: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
const PARAM_TAG_CMPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const STRING_ATTR_CMPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
const LOGGED_MODEL_NUMERIC_OPS: &[&str] = &["<", "<=", ">", ">=", "=", "!="];
const LOGGED_MODEL_STRING_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];

const RUN_FILTER_KEYS: &[&str] = &[
    "run_id",
    "run_name",
    "user_id",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "Created",
    "run name",
    "Run name",
    "Run Name",
];
const RUN_ORDER_KEYS: &[&str] = &[
    "run_id",
    "run_name",
    "user_id",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "Created",
];
const DATASET_KEYS: &[&str] = &["name", "digest", "context"];
const EXPERIMENT_KEYS: &[&str] = &["name", "experiment_id", "creation_time", "last_update_time"];
const REGISTERED_MODEL_FILTER_KEYS: &[&str] = &["name"];
const REGISTERED_MODEL_ORDER_KEYS_SHOWN: &[&str] = &["name", "timestamp"];
const MODEL_VERSION_FILTER_KEYS: &[&str] = &["name", "version_number", "run_id", "source_path"];
const MODEL_VERSION_ORDER_KEYS: &[&str] = &[
    "name",
    "version_number",
    "creation_timestamp",
    "last_updated_timestamp",
];
const MODEL_VERSION_NUMERIC_KEYS: &[&str] = &[
    "creation_timestamp",
    "last_updated_timestamp",
    "version_number",
];
const LOGGED_MODEL_KEYS: &[&str] = &[
    "name",
    "model_id",
    "model_type",
    "status",
    "source_run_id",
    "creation_timestamp",
    "creation_time",
    "last_updated_timestamp",
    "last_updated_time",
];

/// Canonical name of a run attribute as used in filters (`None` if unknown).
fn canonical_run_attr(key: &str) -> Option<&'static str> {
    Some(match key {
        "run_id" => "run_id",
        "run_name" | "run name" | "Run name" | "Run Name" => "run_name",
        "user_id" => "user_id",
        "status" => "status",
        "artifact_uri" => "artifact_uri",
        "start_time" | "created" | "Created" => "start_time",
        "end_time" => "end_time",
        _ => return None,
    })
}

fn is_numeric_run_attr(canonical: &str) -> bool {
    matches!(canonical, "start_time" | "end_time")
}

fn canonical_logged_model_attr(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "name",
        "model_id" => "model_id",
        "model_type" => "model_type",
        "status" => "status",
        "source_run_id" => "source_run_id",
        "creation_timestamp" | "creation_time" => "creation_timestamp",
        "last_updated_timestamp" | "last_updated_time" => "last_updated_timestamp",
        _ => return None,
    })
}

fn lookup(table: &[&'static str], key: &str) -> Option<&'static str> {
    table.iter().copied().find(|k| *k == key)
}

// ------------------------------------------------------------------------------------------------
// Python-style rendering for messages
// ------------------------------------------------------------------------------------------------

/// Renders a string the way Python's `repr()` does (quote choice and escapes).
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Renders `items` as a Python set literal of strings (in the given order).
fn py_set(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Renders `items` as a Python list literal of strings.
fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_repr(s.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

// ------------------------------------------------------------------------------------------------
// Scanner
// ------------------------------------------------------------------------------------------------

/// A syntax error at a character position (0-based, counted in Unicode scalar values).
#[derive(Debug, Clone, PartialEq)]
struct SyntaxError {
    pos: usize,
    message: String,
}

impl SyntaxError {
    fn new(pos: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            pos,
            message: message.into(),
        }
    }
}

/// Characters allowed in unquoted identifiers and keys (`\w` in Python's `re`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that make up symbolic comparison operators (`sqlparse`'s `[<>=~!]+`).
fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!' | '~')
}

/// Result of scanning a quoted token.
#[derive(Debug, Clone, PartialEq)]
struct Quoted {
    /// The text between the quotes, escapes left as written.
    raw: String,
    /// Index just past the closing quote.
    end: usize,
}

/// A character cursor over the input. All accessors are bounds-checked.
struct Scanner<'a> {
    chars: &'a [char],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(chars: &'a [char]) -> Self {
        Scanner { chars, pos: 0 }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn peek(&self) -> Option<char> {
        self.at(self.pos)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn text(&self, start: usize, end: usize) -> String {
        let end = end.min(self.chars.len());
        let start = start.min(end);
        self.chars[start..end].iter().collect()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// End index of the run of word characters starting at `start`.
    fn word_end(&self, start: usize) -> usize {
        let mut i = start;
        while self.at(i).is_some_and(is_word_char) {
            i += 1;
        }
        i
    }

    /// The word starting at the cursor, if any (without consuming it).
    fn peek_word(&self) -> Option<String> {
        let end = self.word_end(self.pos);
        (end > self.pos).then(|| self.text(self.pos, end))
    }

    /// Whether the next word (case-insensitively) is `kw`.
    fn peek_keyword(&self, kw: &str) -> bool {
        self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    /// Scans a quoted token starting at `start` (which holds the quote character).
    ///
    /// Follows `sqlparse`: a doubled quote is an escape, and for `'` and `"` so is a
    /// backslash before the quote. If the input ends inside the string, the regex
    /// engine backtracks to the last escape and closes the string there; without any
    /// escape to fall back on the string is unterminated (`None`).
    fn scan_quoted(&self, start: usize) -> Option<Quoted> {
        let quote = self.at(start)?;
        let backslash_escapes = quote != '`';
        let mut i = start + 1;
        // Where the string would end if we had to backtrack: index of the closing quote.
        let mut fallback: Option<usize> = None;
        loop {
            let Some(c) = self.at(i) else {
                let close = fallback?;
                return Some(Quoted {
                    raw: self.text(start + 1, close),
                    end: close + 1,
                });
            };
            if c == quote {
                if self.at(i + 1) == Some(quote) {
                    fallback = Some(i);
                    i += 2;
                    continue;
                }
                return Some(Quoted {
                    raw: self.text(start + 1, i),
                    end: i + 1,
                });
            }
            if backslash_escapes && c == '\\' && self.at(i + 1) == Some(quote) {
                fallback = Some(i + 1);
                i += 2;
                continue;
            }
            i += 1;
        }
    }

    /// Scans a number at `start`: `[+-]? (\d+ (\.\d*)? | \.\d+) ([eE][+-]?\d+)?`.
    /// Returns the end index and whether the literal is an integer.
    fn scan_number(&self, start: usize) -> Option<(usize, bool)> {
        let mut i = start;
        if matches!(self.at(i), Some('+' | '-')) {
            i += 1;
        }
        let int_start = i;
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        let int_digits = i - int_start;
        let mut is_int = true;
        if self.at(i) == Some('.') {
            let frac_start = i + 1;
            let mut j = frac_start;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if int_digits == 0 && j == frac_start {
                return None;
            }
            is_int = false;
            i = j;
        } else if int_digits == 0 {
            return None;
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            let exp_start = j;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if j > exp_start {
                is_int = false;
                i = j;
            }
        }
        Some((i, is_int))
    }

    /// Index just past the `)` matching the `(` at `start`, skipping quoted text.
    fn matching_paren(&self, start: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = start;
        while let Some(c) = self.at(i) {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                '\'' | '"' | '`' => {
                    if let Some(q) = self.scan_quoted(i) {
                        i = q.end;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// Describes what is at the cursor, for "found ..." in error messages.
    fn describe_here(&self) -> String {
        if self.at_end() {
            return "end of input".to_string();
        }
        let end = self.generic_token_end(self.pos);
        let mut text = self.text(self.pos, end);
        if text.chars().count() > 40 {
            text = text.chars().take(40).collect::<String>() + "...";
        }
        format!("'{text}'")
    }

    /// End of the "token" at `start`, as `sqlparse` would roughly delimit it. Used to
    /// skip over input that does not form a comparison and to quote it in messages.
    fn generic_token_end(&self, start: usize) -> usize {
        let Some(c) = self.at(start) else {
            return start;
        };
        if matches!(c, '\'' | '"' | '`') {
            return self.scan_quoted(start).map_or(start + 1, |q| q.end);
        }
        if c == '(' {
            return self.matching_paren(start).unwrap_or(start + 1);
        }
        if is_op_char(c) {
            let mut i = start;
            while self.at(i).is_some_and(is_op_char) {
                i += 1;
            }
            return i;
        }
        if matches!(c, '+' | '-' | '.') || c.is_ascii_digit() {
            // A number, including any letters or dots glued to it (`1.5a`, `1e`).
            let Some((mut end, _)) = self.scan_number(start) else {
                return start + 1;
            };
            while self.at(end).is_some_and(|c| is_word_char(c) || c == '.') {
                end += 1;
            }
            return end;
        }
        if is_word_char(c) {
            // A dotted name, possibly with quoted parts: `params.a`, ``tags.`x y` ``.
            let mut i = self.word_end(start);
            while self.at(i) == Some('.') {
                let next = i + 1;
                match self.at(next) {
                    Some('\'' | '"' | '`') => match self.scan_quoted(next) {
                        Some(quoted) => i = quoted.end,
                        None => return next,
                    },
                    Some(ch) if is_word_char(ch) => i = self.word_end(next),
                    _ => return next,
                }
            }
            return i;
        }
        start + 1
    }
}

// ------------------------------------------------------------------------------------------------
// Syntax: raw clauses
// ------------------------------------------------------------------------------------------------

/// One dot-separated part of an identifier.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// An unquoted word.
    Word(String),
    /// A quoted part: the quote character and the raw text between the quotes.
    Quoted(char, String),
}

impl Part {
    /// The part as written, quotes included.
    fn source(&self) -> String {
        match self {
            Part::Word(w) => w.clone(),
            Part::Quoted(q, raw) => format!("{q}{raw}{q}"),
        }
    }

    /// The part with quotes removed.
    fn unquoted(&self) -> &str {
        match self {
            Part::Word(w) | Part::Quoted(_, w) => w,
        }
    }
}

/// An identifier as written: one or more parts joined by dots.
#[derive(Debug, Clone, PartialEq)]
struct RawIdent {
    parts: Vec<Part>,
    /// Source text, for messages.
    text: String,
}

impl RawIdent {
    /// Splits into (entity as written, key). A single part is a bare key.
    ///
    /// The entity keeps double/single quotes (MLflow only strips backticks from it).
    /// The key is the remaining parts' source joined by dots with one enclosing pair of
    /// quotes removed, as MLflow does (`tags.mlflow.runName` → `mlflow.runName`,
    /// ``tags.`a b` `` → `a b`).
    fn split(&self) -> (Option<String>, String) {
        match self.parts.as_slice() {
            [] => (None, String::new()),
            [only] => (None, only.unquoted().to_string()),
            [entity, rest @ ..] => {
                let entity = match entity {
                    Part::Quoted('`', raw) => raw.clone(),
                    other => other.source(),
                };
                let joined = rest.iter().map(Part::source).collect::<Vec<_>>().join(".");
                (Some(entity), strip_key_quotes(&joined))
            }
        }
    }
}

/// MLflow's `_trim_backticks(_strip_quotes(key))`: removes one pair of enclosing single
/// or double quotes, then one pair of enclosing backticks.
fn strip_key_quotes(key: &str) -> String {
    let strip = |s: &str, q: char| -> Option<String> {
        let n = s.chars().count();
        (n >= 2 && s.starts_with(q) && s.ends_with(q))
            .then(|| s.chars().skip(1).take(n - 2).collect())
    };
    let unquoted = strip(key, '\'')
        .or_else(|| strip(key, '"'))
        .unwrap_or_else(|| key.to_string());
    strip(&unquoted, '`').unwrap_or(unquoted)
}

/// A value as written.
#[derive(Debug, Clone, PartialEq)]
enum RawValue {
    /// `'...'` or `"..."`: raw text between the quotes.
    Str(String),
    /// A numeric literal.
    Num { value: f64, is_int: bool },
    /// An unquoted word or dotted name (`x`, `NULL`, `a.b`).
    Word,
    /// A back-quoted token.
    Backtick,
    /// A parenthesised list; the items are checked when the value is used.
    List,
    /// No value (`IS NULL`, `IS NOT NULL`).
    Absent,
}

/// A comparison as written, before any validation.
#[derive(Debug, Clone, PartialEq)]
struct RawClause {
    ident: RawIdent,
    /// Upper-cased operator, words separated by one space (`"NOT IN"`, `"=="`).
    op: String,
    value: RawValue,
    /// The value's source text (for messages and list parsing).
    value_text: String,
}

/// Why the syntactic pass failed: the stretches of input that are not comparisons
/// (as MLflow lists them) and the first precise error.
#[derive(Debug)]
struct SyntaxFailure {
    invalid: Vec<String>,
    truncated: bool,
    first: SyntaxError,
}

/// Upper bound on the number of unparseable stretches collected for one message.
const MAX_INVALID_TOKENS: usize = 20;

/// Splits the filter into raw comparisons. Like `sqlparse`, every stretch of input that
/// cannot start a comparison (and is not the keyword `AND`) is collected as invalid.
fn parse_raw_clauses(chars: &[char]) -> Result<Vec<RawClause>, SyntaxFailure> {
    let mut sc = Scanner::new(chars);
    let mut clauses = Vec::new();
    let mut invalid = Vec::new();
    let mut first: Option<SyntaxError> = None;
    let mut truncated = false;
    loop {
        sc.skip_ws();
        if sc.at_end() {
            break;
        }
        if sc.peek_keyword("AND") {
            sc.pos = sc.word_end(sc.pos);
            continue;
        }
        let start = sc.pos;
        match parse_comparison(&mut sc) {
            Ok(clause) => clauses.push(clause),
            Err(err) => {
                first.get_or_insert(err);
                if invalid.len() >= MAX_INVALID_TOKENS {
                    truncated = true;
                    break;
                }
                let end = sc.generic_token_end(start).max(start + 1);
                invalid.push(sc.text(start, end));
                sc.pos = end;
            }
        }
    }
    match first {
        None => Ok(clauses),
        Some(first) => Err(SyntaxFailure {
            invalid,
            truncated,
            first,
        }),
    }
}

/// Parses `<ident> <op> <value>` (or `<ident> IS [NOT] NULL`) at the cursor.
fn parse_comparison(sc: &mut Scanner<'_>) -> Result<RawClause, SyntaxError> {
    // Give targeted messages for constructs MLflow does not support at all.
    let here = sc.pos;
    match sc.peek() {
        Some('(') | Some(')') => {
            return Err(SyntaxError::new(
                here,
                "parentheses are not supported; write comparisons joined by AND",
            ))
        }
        Some(';') => return Err(SyntaxError::new(here, "unexpected ';'")),
        _ => {}
    }
    if let Some(word) = sc.peek_word() {
        let upper = word.to_ascii_uppercase();
        if upper == "OR" {
            return Err(SyntaxError::new(
                here,
                "OR is not supported; clauses can only be combined with AND",
            ));
        }
        if upper == "NOT" {
            return Err(SyntaxError::new(
                here,
                "NOT is only supported as part of NOT IN",
            ));
        }
    }
    let ident = parse_ident(sc)?;
    let op = parse_operator(sc)?;
    let (value, value_text) = match op.as_str() {
        "IS NULL" | "IS NOT NULL" => (RawValue::Absent, String::new()),
        "IN" | "NOT IN" => {
            sc.skip_ws();
            if sc.peek() != Some('(') {
                return Err(SyntaxError::new(
                    sc.pos,
                    format!(
                        "expected a parenthesised list of quoted strings after {op}, found {}",
                        sc.describe_here()
                    ),
                ));
            }
            parse_list_token(sc)?
        }
        _ => parse_value(sc)?,
    };
    Ok(RawClause {
        ident,
        op,
        value,
        value_text,
    })
}

/// Parses an identifier: `part ('.' part)*` with no whitespace around the dots. The
/// first part is a word not starting with a digit, or a back-/double-quoted name; later
/// parts may also be single-quoted.
fn parse_ident(sc: &mut Scanner<'_>) -> Result<RawIdent, SyntaxError> {
    let start = sc.pos;
    let expected = || {
        format!(
            "expected an identifier (such as metrics.<key>, params.<key>, tags.<key> or an \
             attribute name), found {}",
            sc.describe_here()
        )
    };
    let first = match sc.peek() {
        Some(c) if is_word_char(c) && !c.is_ascii_digit() => {
            let end = sc.word_end(sc.pos);
            let word = sc.text(sc.pos, end);
            sc.pos = end;
            Part::Word(word)
        }
        Some(q @ ('`' | '"')) => {
            let Some(quoted) = sc.scan_quoted(sc.pos) else {
                return Err(SyntaxError::new(
                    sc.pos,
                    format!("unterminated {q}-quoted name"),
                ));
            };
            sc.pos = quoted.end;
            Part::Quoted(q, quoted.raw)
        }
        _ => return Err(SyntaxError::new(start, expected())),
    };
    let mut parts = vec![first];
    while sc.peek() == Some('.') {
        let dot = sc.pos;
        sc.pos += 1;
        match sc.peek() {
            Some(c) if is_word_char(c) => {
                let end = sc.word_end(sc.pos);
                parts.push(Part::Word(sc.text(sc.pos, end)));
                sc.pos = end;
            }
            Some(q @ ('`' | '"' | '\'')) => {
                let Some(quoted) = sc.scan_quoted(sc.pos) else {
                    return Err(SyntaxError::new(
                        sc.pos,
                        format!("unterminated {q}-quoted key"),
                    ));
                };
                sc.pos = quoted.end;
                parts.push(Part::Quoted(q, quoted.raw));
            }
            _ => {
                return Err(SyntaxError::new(
                    dot + 1,
                    format!(
                        "expected a key after '.', found {} (quote keys containing spaces or \
                         special characters with backticks, e.g. metrics.`my-metric`)",
                        sc.describe_here()
                    ),
                ))
            }
        }
    }
    Ok(RawIdent {
        parts,
        text: sc.text(start, sc.pos),
    })
}

/// Parses a comparison operator: a run of `<>=!~`, or one of the keyword operators
/// `LIKE`, `ILIKE`, `IN`, `NOT IN`, `NOT LIKE`, `NOT ILIKE`, `IS NULL`, `IS NOT NULL`.
/// Unknown symbolic operators (`==`, `<>`) are returned as written and rejected later
/// with MLflow's "Invalid comparator" message.
fn parse_operator(sc: &mut Scanner<'_>) -> Result<String, SyntaxError> {
    sc.skip_ws();
    let start = sc.pos;
    let expected = |sc: &Scanner<'_>| {
        SyntaxError::new(
            sc.pos,
            format!(
                "expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, \
                 IS NULL, IS NOT NULL), found {}",
                sc.describe_here()
            ),
        )
    };
    if sc.peek().is_some_and(is_op_char) {
        while sc.peek().is_some_and(is_op_char) {
            sc.pos += 1;
        }
        return Ok(sc.text(start, sc.pos));
    }
    let Some(word) = sc.peek_word() else {
        return Err(expected(sc));
    };
    let upper = word.to_ascii_uppercase();
    match upper.as_str() {
        "LIKE" | "ILIKE" | "IN" => {
            sc.pos = sc.word_end(sc.pos);
            Ok(upper)
        }
        "NOT" => {
            sc.pos = sc.word_end(sc.pos);
            sc.skip_ws();
            let next = sc.peek_word().map(|w| w.to_ascii_uppercase());
            match next.as_deref() {
                Some(kw @ ("IN" | "LIKE" | "ILIKE")) => {
                    let op = format!("NOT {kw}");
                    sc.pos = sc.word_end(sc.pos);
                    Ok(op)
                }
                _ => Err(SyntaxError::new(
                    sc.pos,
                    format!("expected IN after NOT, found {}", sc.describe_here()),
                )),
            }
        }
        "IS" => {
            sc.pos = sc.word_end(sc.pos);
            sc.skip_ws();
            let negated = sc.peek_keyword("NOT");
            if negated {
                sc.pos = sc.word_end(sc.pos);
                sc.skip_ws();
            }
            if !sc.peek_keyword("NULL") {
                let what = if negated {
                    "NULL after IS NOT"
                } else {
                    "NULL or NOT NULL after IS"
                };
                return Err(SyntaxError::new(
                    sc.pos,
                    format!("expected {what}, found {}", sc.describe_here()),
                ));
            }
            sc.pos = sc.word_end(sc.pos);
            Ok(if negated { "IS NOT NULL" } else { "IS NULL" }.to_string())
        }
        _ => Err(expected(sc)),
    }
}

/// Parses a parenthesised list token at the cursor (which holds `(`).
fn parse_list_token(sc: &mut Scanner<'_>) -> Result<(RawValue, String), SyntaxError> {
    let start = sc.pos;
    let Some(end) = sc.matching_paren(start) else {
        return Err(SyntaxError::new(start, "unterminated list: expected ')'"));
    };
    sc.pos = end;
    Ok((RawValue::List, sc.text(start, end)))
}

/// Parses the right-hand side of a symbolic or `LIKE`-style comparison.
fn parse_value(sc: &mut Scanner<'_>) -> Result<(RawValue, String), SyntaxError> {
    sc.skip_ws();
    let start = sc.pos;
    let expected_value = |sc: &Scanner<'_>| {
        SyntaxError::new(
            sc.pos,
            format!(
                "expected a value (a quoted string or a number), found {}",
                sc.describe_here()
            ),
        )
    };
    let Some(c) = sc.peek() else {
        return Err(expected_value(sc));
    };
    match c {
        '\'' | '"' => {
            let Some(quoted) = sc.scan_quoted(start) else {
                return Err(SyntaxError::new(
                    start,
                    format!("unterminated string starting with {c}"),
                ));
            };
            sc.pos = quoted.end;
            Ok((RawValue::Str(quoted.raw), sc.text(start, sc.pos)))
        }
        '`' => {
            let Some(quoted) = sc.scan_quoted(start) else {
                return Err(SyntaxError::new(start, "unterminated `-quoted value"));
            };
            sc.pos = quoted.end;
            Ok((RawValue::Backtick, sc.text(start, sc.pos)))
        }
        '(' => parse_list_token(sc),
        c if c.is_ascii_digit() || matches!(c, '+' | '-' | '.') => {
            let Some((end, is_int)) = sc.scan_number(start) else {
                return Err(expected_value(sc));
            };
            let followed_by_word = sc.at(end).is_some_and(is_word_char);
            if followed_by_word || sc.at(end) == Some('.') {
                // `1e`, `1a`, `1_000`: sqlparse reads these as names, MLflow then
                // rejects them as non-numeric. Anything messier is a syntax error.
                let word_end = sc.word_end(start);
                if c.is_ascii_digit() && word_end > end && sc.at(word_end) != Some('.') {
                    sc.pos = word_end;
                    return Ok((RawValue::Word, sc.text(start, word_end)));
                }
                let mut bad_end = end;
                while sc.at(bad_end).is_some_and(|c| is_word_char(c) || c == '.') {
                    bad_end += 1;
                }
                return Err(SyntaxError::new(
                    start,
                    format!("invalid number '{}'", sc.text(start, bad_end)),
                ));
            }
            let text = sc.text(start, end);
            let Ok(value) = text.parse::<f64>() else {
                return Err(SyntaxError::new(start, format!("invalid number '{text}'")));
            };
            sc.pos = end;
            Ok((RawValue::Num { value, is_int }, text))
        }
        c if is_word_char(c) => {
            // A bare word or dotted name: syntactically a value, rejected later as
            // "not quoted" (or accepted as-is for logged models).
            let mut end = sc.word_end(start);
            while sc.at(end) == Some('.') && sc.at(end + 1).is_some_and(is_word_char) {
                end = sc.word_end(end + 1);
            }
            sc.pos = end;
            Ok((RawValue::Word, sc.text(start, end)))
        }
        _ => Err(expected_value(sc)),
    }
}

/// MLflow refuses filters with several `;`-separated statements before anything else.
fn check_single_statement(
    kind: SearchKind,
    filter: &str,
    chars: &[char],
) -> Result<(), MlflowError> {
    let sc = Scanner::new(chars);
    let mut i = 0;
    let mut depth = 0usize;
    while let Some(c) = sc.at(i) {
        match c {
            '\'' | '"' | '`' => {
                i = sc.scan_quoted(i).map_or(i + 1, |q| q.end);
                continue;
            }
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            ';' if depth > 0 => i += 1,
            ';' => {
                let rest_blank = chars
                    .get(i + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .all(|c| c.is_whitespace());
                if rest_blank {
                    return Ok(());
                }
                let message = if kind == SearchKind::LoggedModels {
                    format!(
                        "Invalid filter string: {}. Expected a single SQL expression.",
                        py_repr(filter)
                    )
                } else {
                    format!(
                        "Search filter contained multiple expression {}. Provide AND-ed \
                         expression list.",
                        py_repr(filter)
                    )
                };
                return Err(MlflowError::invalid(message));
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Builds MLflow's message for unparseable filters, followed by the position detail.
fn syntax_failure(kind: SearchKind, filter: &str, fail: SyntaxFailure) -> MlflowError {
    let detail = format!("(at position {}: {})", fail.first.pos, fail.first.message);
    let message = if kind == SearchKind::LoggedModels {
        format!(
            "Invalid filter string: {}. Expected a list of comparisons separated by 'AND' \
             (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01'). {detail}",
            py_repr(filter)
        )
    } else {
        // MLflow quotes each token for runs, and prints them bare for the other searches.
        let mut parts: Vec<String> = if kind == SearchKind::Runs {
            fail.invalid.iter().map(|t| format!("'{t}'")).collect()
        } else {
            fail.invalid.clone()
        };
        if fail.truncated {
            parts.push("...".to_string());
        }
        format!(
            "Invalid clause(s) in filter string: {} {detail}",
            parts.join(", ")
        )
    };
    MlflowError::invalid(message)
}

// ------------------------------------------------------------------------------------------------
// Semantics: identifiers and values
// ------------------------------------------------------------------------------------------------

/// A clause whose identifier and value are resolved but whose comparator is unchecked.
#[derive(Debug)]
struct Pending {
    ident: Ident,
    op: String,
    value: Value,
    /// For numeric literals: whether it was written as an integer.
    is_int: bool,
    /// The value as written.
    value_text: String,
}

/// Entity resolution for runs (`SearchUtils._valid_entity_type`).
fn run_entity(word: &str) -> Result<Entity, MlflowError> {
    Ok(match word {
        "metric" | "metrics" => Entity::Metric,
        "parameter" | "parameters" | "param" | "params" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        "dataset" | "datasets" => Entity::Dataset,
        _ => {
            return Err(MlflowError::invalid(format!(
                "Invalid entity type '{word}'. Valid values are ['metric', 'parameter', 'tag', \
                 'attribute', 'dataset']"
            )))
        }
    })
}

/// Entity resolution for experiment and registry searches (attributes and tags only).
fn attr_or_tag_entity(word: &str) -> Result<Entity, MlflowError> {
    Ok(match word {
        "attribute" | "attributes" | "attr" => Entity::Attribute,
        "tag" | "tags" => Entity::Tag,
        _ => {
            return Err(MlflowError::invalid(format!(
                "Invalid entity type '{word}'. Valid entity types are ('attribute', 'tag', 'tags')"
            )))
        }
    })
}

/// Entity resolution for logged models (`search_logged_model_utils.EntityType`).
fn logged_model_entity(word: &str) -> Result<Entity, MlflowError> {
    Ok(match word {
        "metric" | "metrics" => Entity::Metric,
        "parameter" | "parameters" | "param" | "params" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" => Entity::Attribute,
        _ => {
            return Err(MlflowError::invalid(format!(
                "Invalid entity type: {}. Expected one of ['attributes', 'metrics', 'params', \
                 'tags'].",
                py_repr(word)
            )))
        }
    })
}

fn invalid_attribute_key(key: &str, valid: &[&str]) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid attribute key '{key}' specified. Valid keys are '{}'",
        py_set(valid)
    ))
}

/// Resolves an identifier in a filter; returns the identifier and the key as written
/// (before alias translation, which some messages quote).
fn resolve_filter_ident(kind: SearchKind, raw: &RawIdent) -> Result<(Ident, String), MlflowError> {
    let (entity_word, key) = raw.split();
    let entity = match (kind, entity_word.as_deref()) {
        (_, None) => Entity::Attribute,
        (SearchKind::Runs, Some(word)) => run_entity(word)?,
        (SearchKind::LoggedModels, Some(word)) => logged_model_entity(word)?,
        (_, Some(word)) => attr_or_tag_entity(word)?,
    };
    let canonical = match entity {
        Entity::Attribute => {
            let found = match kind {
                SearchKind::Runs => canonical_run_attr(&key).ok_or(RUN_FILTER_KEYS),
                SearchKind::Experiments => lookup(EXPERIMENT_KEYS, &key).ok_or(EXPERIMENT_KEYS),
                SearchKind::RegisteredModels => {
                    lookup(REGISTERED_MODEL_FILTER_KEYS, &key).ok_or(REGISTERED_MODEL_FILTER_KEYS)
                }
                SearchKind::ModelVersions => {
                    lookup(MODEL_VERSION_FILTER_KEYS, &key).ok_or(MODEL_VERSION_FILTER_KEYS)
                }
                SearchKind::LoggedModels => {
                    canonical_logged_model_attr(&key).ok_or(LOGGED_MODEL_KEYS)
                }
            };
            found
                .map_err(|valid| invalid_attribute_key(&key, valid))?
                .to_string()
        }
        Entity::Dataset => {
            if lookup(DATASET_KEYS, &key).is_none() {
                return Err(MlflowError::invalid(format!(
                    "Invalid dataset key '{key}' specified. Valid keys are '{}'",
                    py_set(DATASET_KEYS)
                )));
            }
            key.clone()
        }
        _ => key.clone(),
    };
    Ok((
        Ident {
            entity,
            key: canonical,
        },
        key,
    ))
}

/// The "not quoted" message MLflow gives for bare words used as strings.
fn not_quoted(text: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Parameter value is either not quoted or unidentified quote types used for string value \
         {text}. Use either single or double quotes."
    ))
}

/// Whether an attribute of `kind` takes numeric values.
fn is_numeric_attr(kind: SearchKind, canonical: &str) -> bool {
    match kind {
        SearchKind::Runs => is_numeric_run_attr(canonical),
        SearchKind::Experiments => matches!(canonical, "creation_time" | "last_update_time"),
        SearchKind::RegisteredModels => false,
        SearchKind::ModelVersions => MODEL_VERSION_NUMERIC_KEYS.contains(&canonical),
        SearchKind::LoggedModels => {
            matches!(canonical, "creation_timestamp" | "last_updated_timestamp")
        }
    }
}

/// Attribute keys that accept `IN` lists, for MLflow's message (sorted, as MLflow sorts).
fn list_keys(kind: SearchKind) -> &'static [&'static str] {
    match kind {
        SearchKind::Runs => &["run_id"],
        SearchKind::Experiments => &["experiment_id"],
        SearchKind::RegisteredModels => &["name"],
        SearchKind::ModelVersions => &["name", "run_id"],
        SearchKind::LoggedModels => &[],
    }
}

/// Parses a list value: Python-literal tuple of strings, as MLflow evaluates it with
/// `ast.literal_eval`. Adjacent literals concatenate; a trailing comma is allowed.
/// With `numbers_as_text` (logged models, whose parser passes any literal through),
/// numeric items are kept as written instead of being rejected.
fn parse_list_items(text: &str, numbers_as_text: bool) -> Result<Vec<String>, MlflowError> {
    let ill_formed = || {
        MlflowError::invalid(
            "While parsing a list in the query, expected a non-empty list of string values, but \
             got ill-formed list.",
        )
    };
    let wrong_type = || {
        MlflowError::invalid(format!(
            "While parsing a list in the query, expected string value, punctuation, or \
             whitespace, but got different type in list: {text}"
        ))
    };
    let chars: Vec<char> = text.chars().collect();
    let sc = Scanner::new(&chars);
    if chars.first() != Some(&'(') || chars.last() != Some(&')') {
        return Err(ill_formed());
    }
    let inner_end = chars.len() - 1;
    let mut i = 1;
    let mut items = Vec::new();
    let mut saw_other = false;
    let skip_ws = |mut i: usize| {
        while i < inner_end && sc.at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= inner_end {
            break;
        }
        // One item: one or more adjacent string literals, or something else.
        let mut item: Option<String> = None;
        while let Some(q @ ('\'' | '"')) = sc.at(i).filter(|_| i < inner_end) {
            let Some(quoted) = sc.scan_quoted(i).filter(|q| q.end <= inner_end) else {
                return Err(ill_formed());
            };
            item.get_or_insert_with(String::new)
                .push_str(&python_unescape(&quoted.raw, q));
            i = skip_ws(quoted.end);
        }
        match item {
            Some(s) => items.push(s),
            None => {
                // A number or other literal: MLflow reports a type error for those that
                // Python can evaluate, and "ill-formed" for the rest.
                let (end, _) = sc.scan_number(i).ok_or_else(ill_formed)?;
                if end > inner_end {
                    return Err(ill_formed());
                }
                if numbers_as_text {
                    items.push(sc.text(i, end));
                } else {
                    saw_other = true;
                }
                i = skip_ws(end);
            }
        }
        if i >= inner_end {
            break;
        }
        if sc.at(i) != Some(',') {
            return Err(ill_formed());
        }
        i += 1;
    }
    if saw_other {
        return Err(wrong_type());
    }
    if items.is_empty() {
        return Err(MlflowError::invalid(
            "While parsing a list in the query, expected a non-empty list of string values, but \
             got empty list",
        ));
    }
    Ok(items)
}

/// Decodes a Python string literal body: backslash escapes, and a doubled quote (which
/// in Python is two adjacent literals, i.e. nothing).
fn python_unescape(raw: &str, quote: char) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == quote && chars.peek() == Some(&quote) {
            chars.next();
            continue;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Resolves identifier and value of one raw clause (MLflow's `_get_comparison`).
fn resolve_clause(kind: SearchKind, raw: &RawClause) -> Result<Pending, MlflowError> {
    let (ident, written_key) = resolve_filter_ident(kind, &raw.ident)?;
    let is_null = matches!(raw.op.as_str(), "IS NULL" | "IS NOT NULL");
    let mut pending = Pending {
        ident,
        op: raw.op.clone(),
        value: Value::None,
        is_int: false,
        value_text: raw.value_text.clone(),
    };
    if kind == SearchKind::LoggedModels {
        // MLflow checks the operator before looking at the value here.
        logged_model_cmp(pending.ident.entity, &pending.ident.key, &pending.op)?;
    }
    if is_null {
        let allowed = match kind {
            SearchKind::Runs => matches!(pending.ident.entity, Entity::Tag | Entity::Param),
            SearchKind::Experiments => pending.ident.entity == Entity::Tag,
            // Rejected with the comparator checks below (MLflow crashes on these).
            _ => true,
        };
        if !allowed {
            let message = if kind == SearchKind::Runs {
                format!(
                    "IS NULL / IS NOT NULL is only supported for tags and params, not for '{}' \
                     '{}'",
                    pending.ident.entity, written_key
                )
            } else {
                format!(
                    "IS NULL / IS NOT NULL is only supported for tags, not for attribute '{}'",
                    written_key
                )
            };
            return Err(MlflowError::invalid(message));
        }
        return Ok(pending);
    }
    let text = raw.value_text.as_str();
    let entity = pending.ident.entity;
    let key = pending.ident.key.clone();
    let numeric = match entity {
        Entity::Metric => true,
        Entity::Attribute => is_numeric_attr(kind, &key),
        _ => false,
    };

    // Numeric targets. (Model versions accept strings for numbers too; see below.)
    if numeric && kind != SearchKind::ModelVersions {
        if let RawValue::Num { value, is_int } = raw.value {
            pending.value = Value::Num(value);
            pending.is_int = is_int;
            return Ok(pending);
        }
        let message = if entity == Entity::Metric {
            format!("Expected numeric value type for metric. Found {text}")
        } else {
            format!(
                "Expected numeric value type for numeric attribute: {written_key}. Found {text}"
            )
        };
        return Err(MlflowError::invalid(message));
    }

    pending.value = match (&raw.value, entity) {
        (RawValue::Str(s), _) => Value::Str(s.clone()),
        (RawValue::Backtick, _) => return Err(not_quoted(text)),
        (RawValue::Word, _) if kind == SearchKind::LoggedModels => Value::Str(text.to_string()),
        // `NULL` is a keyword to sqlparse, so MLflow reports it as a non-string value.
        (RawValue::Word, _) if !text.eq_ignore_ascii_case("null") => return Err(not_quoted(text)),
        (RawValue::Num { value, is_int }, Entity::Attribute)
            if kind == SearchKind::ModelVersions =>
        {
            if !numeric {
                return Err(MlflowError::invalid(format!(
                    "Only the '{}' attributes support comparison with numeric values.",
                    py_set(MODEL_VERSION_NUMERIC_KEYS)
                )));
            }
            pending.is_int = *is_int;
            Value::Num(*value)
        }
        (RawValue::Num { .. }, _) if kind == SearchKind::LoggedModels => {
            Value::Str(text.to_string())
        }
        (RawValue::List, Entity::Attribute | Entity::Param | Entity::Tag)
            if kind == SearchKind::LoggedModels =>
        {
            Value::List(parse_list_items(text, true)?)
        }
        (RawValue::List, Entity::Attribute) => {
            if !list_keys(kind).contains(&key.as_str()) {
                return Err(MlflowError::invalid(format!(
                    "Only {} attributes support comparison with a list of quoted string values.",
                    py_list(list_keys(kind))
                )));
            }
            Value::List(parse_list_items(text, false)?)
        }
        (RawValue::List, Entity::Dataset) => Value::List(parse_list_items(text, false)?),
        (_, Entity::Param | Entity::Tag) => {
            return Err(MlflowError::invalid(format!(
                "Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {text}"
            )))
        }
        (_, Entity::Dataset) => {
            return Err(MlflowError::invalid(format!(
                "Expected a quoted string value for dataset attributes. Got value {text}"
            )))
        }
        _ => {
            let message = match kind {
                SearchKind::RegisteredModels | SearchKind::ModelVersions => format!(
                    "Expected a quoted string value or a list of quoted string values for \
                     attributes. Got value {text}"
                ),
                _ => format!("Expected a quoted string value for attributes. Got value {text}"),
            };
            return Err(MlflowError::invalid(message));
        }
    };
    Ok(pending)
}

// ------------------------------------------------------------------------------------------------
// Semantics: comparators
// ------------------------------------------------------------------------------------------------

fn invalid_comparator(op: &str, valid: &[&str]) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid comparator '{op}' not one of '{}'",
        py_set(valid)
    ))
}

/// Returns `op` as a [`Cmp`] if it is in `valid`.
fn cmp_in(op: &str, valid: &[&str]) -> Option<Cmp> {
    if valid.contains(&op) {
        Cmp::from_op(op)
    } else {
        None
    }
}

/// Parses a string the way Python's `int()` does for plain decimal input.
fn python_int(s: &str) -> Option<f64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Comparator check for logged models (`search_logged_model_utils.Entity.validate_op`).
fn logged_model_cmp(entity: Entity, key: &str, op: &str) -> Result<Cmp, MlflowError> {
    let numeric = entity == Entity::Metric
        || (entity == Entity::Attribute && is_numeric_attr(SearchKind::LoggedModels, key));
    let (ops, shown) = if numeric {
        (
            LOGGED_MODEL_NUMERIC_OPS,
            "('<', '<=', '>', '>=', '=', '!=')",
        )
    } else {
        (
            LOGGED_MODEL_STRING_OPS,
            "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')",
        )
    };
    let plural = match entity {
        Entity::Metric => "metrics",
        Entity::Param => "params",
        Entity::Tag => "tags",
        _ => "attributes",
    };
    cmp_in(op, ops).ok_or_else(|| {
        MlflowError::invalid(format!(
            "Invalid comparison operator for {plural}.{key}: {}. Expected one of {shown}.",
            py_repr(op)
        ))
    })
}

/// Checks the comparator of a resolved clause (the checks MLflow's stores make when
/// turning parsed filters into queries) and builds the final [`Clause`].
fn check_comparator(kind: SearchKind, p: Pending) -> Result<Clause, MlflowError> {
    let op = p.op.as_str();
    let key = p.ident.key.as_str();
    let entity = p.ident.entity;
    let mut value = p.value;
    let cmp = match kind {
        SearchKind::Runs => match entity {
            Entity::Metric => {
                cmp_in(op, METRIC_CMPS).ok_or_else(|| invalid_comparator(op, METRIC_CMPS))?
            }
            Entity::Param | Entity::Tag => {
                cmp_in(op, PARAM_TAG_CMPS).ok_or_else(|| invalid_comparator(op, PARAM_TAG_CMPS))?
            }
            Entity::Attribute if is_numeric_run_attr(key) => {
                cmp_in(op, METRIC_CMPS).ok_or_else(|| invalid_comparator(op, METRIC_CMPS))?
            }
            Entity::Attribute | Entity::Dataset => cmp_in(op, STRING_ATTR_CMPS)
                .ok_or_else(|| invalid_comparator(op, STRING_ATTR_CMPS))?,
        },
        SearchKind::Experiments => match entity {
            Entity::Attribute if key == "experiment_id" => {
                let cmp = cmp_in(op, &["=", "!=", "IN", "NOT IN"]).ok_or_else(|| {
                    MlflowError::invalid(format!("Invalid comparator for experiment_id: {op}"))
                })?;
                let ids: Vec<&str> = match &value {
                    Value::Str(s) => vec![s.as_str()],
                    Value::List(items) => items.iter().map(String::as_str).collect(),
                    _ => Vec::new(),
                };
                if let Some(bad) = ids.iter().find(|id| python_int(id).is_none()) {
                    return Err(MlflowError::invalid(format!(
                        "Invalid experiment ID '{bad}'. Experiment ID must be a valid integer."
                    )));
                }
                cmp
            }
            Entity::Attribute if is_numeric_attr(kind, key) => {
                let cmp =
                    cmp_in(op, METRIC_CMPS).ok_or_else(|| invalid_comparator(op, METRIC_CMPS))?;
                if !p.is_int {
                    return Err(MlflowError::invalid(format!(
                        "Invalid value for numeric attribute '{key}': {}",
                        py_repr(&p.value_text)
                    )));
                }
                cmp
            }
            Entity::Attribute => {
                cmp_in(op, STRING_ATTR_CMPS)
                    .ok_or_else(|| invalid_comparator(op, STRING_ATTR_CMPS))?;
                cmp_in(op, &["=", "!=", "LIKE", "ILIKE"]).ok_or_else(|| {
                    MlflowError::invalid(format!("Invalid comparator for string attribute: {op}"))
                })?
            }
            _ => cmp_in(op, PARAM_TAG_CMPS)
                .ok_or_else(|| MlflowError::invalid(format!("Invalid comparator for tag: {op}")))?,
        },
        SearchKind::RegisteredModels => match entity {
            Entity::Attribute => cmp_in(op, STRING_ATTR_CMPS).ok_or_else(|| {
                MlflowError::invalid(format!("Invalid comparator for attribute: {op}"))
            })?,
            _ => cmp_in(op, &["=", "!=", "LIKE", "ILIKE"])
                .ok_or_else(|| MlflowError::invalid(format!("Invalid comparator for tag: {op}")))?,
        },
        SearchKind::ModelVersions => match entity {
            Entity::Attribute if is_numeric_attr(kind, key) => {
                let cmp = cmp_in(op, METRIC_CMPS).ok_or_else(|| {
                    MlflowError::invalid(format!("Invalid comparator for attribute {key}: {op}"))
                })?;
                value = match value {
                    Value::Num(n) if p.is_int => Value::Num(n),
                    Value::Num(_) => {
                        return Err(MlflowError::invalid(format!(
                            "Invalid value for numeric attribute '{key}': {}",
                            p.value_text
                        )))
                    }
                    Value::Str(s) => Value::Num(python_int(&s).ok_or_else(|| {
                        MlflowError::invalid(format!(
                            "Invalid value for numeric attribute '{key}': {}",
                            py_repr(&s)
                        ))
                    })?),
                    other => other,
                };
                cmp
            }
            Entity::Attribute => {
                let list_ok = matches!(key, "run_id" | "name");
                cmp_in(op, STRING_ATTR_CMPS)
                    .filter(|c| list_ok || !matches!(c, Cmp::In | Cmp::NotIn))
                    .ok_or_else(|| {
                        MlflowError::invalid(format!("Invalid comparator for attribute: {op}"))
                    })?
            }
            _ => cmp_in(op, &["=", "!=", "LIKE", "ILIKE"])
                .ok_or_else(|| MlflowError::invalid(format!("Invalid comparator for tag: {op}")))?,
        },
        SearchKind::LoggedModels => logged_model_cmp(entity, key, op)?,
    };
    // A list only makes sense with IN / NOT IN (MLflow would build a nonsensical query).
    let is_list = matches!(value, Value::List(_));
    let wants_list = matches!(cmp, Cmp::In | Cmp::NotIn);
    if is_list != wants_list {
        return Err(MlflowError::invalid(format!(
            "Invalid comparison: '{}' cannot be used with the value {}; use IN or NOT IN with a \
             parenthesised list of quoted strings",
            cmp.as_str(),
            p.value_text
        )));
    }
    Ok(Clause {
        ident: p.ident,
        cmp,
        value,
    })
}

// ------------------------------------------------------------------------------------------------
// order_by
// ------------------------------------------------------------------------------------------------

/// Parses `<identifier> [ASC|DESC]`; returns the raw identifier and the direction.
fn parse_order_by_syntax(clause: &str) -> Result<(RawIdent, bool), MlflowError> {
    let not_parsed = |detail: Option<SyntaxError>| {
        let mut message = format!("Invalid order_by clause '{clause}'. Could not be parsed.");
        if let Some(err) = detail {
            message.push_str(&format!(" (at position {}: {})", err.pos, err.message));
        }
        MlflowError::invalid(message)
    };
    let chars: Vec<char> = clause.chars().collect();
    let mut sc = Scanner::new(&chars);
    sc.skip_ws();
    let ident = parse_ident(&mut sc).map_err(|e| not_parsed(Some(e)))?;
    let after_ident = sc.pos;
    sc.skip_ws();
    if sc.at_end() {
        return Ok((ident, true));
    }
    if sc.pos == after_ident {
        let err = SyntaxError::new(
            sc.pos,
            format!(
                "expected whitespace and ASC or DESC, found {}",
                sc.describe_here()
            ),
        );
        return Err(not_parsed(Some(err)));
    }
    // The direction must be a name (MLflow cannot parse `start_time 5` at all).
    let direction = sc
        .peek_word()
        .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()));
    let Some(word) = direction else {
        let err = SyntaxError::new(
            sc.pos,
            format!("expected ASC or DESC, found {}", sc.describe_here()),
        );
        return Err(not_parsed(Some(err)));
    };
    sc.pos = sc.word_end(sc.pos);
    sc.skip_ws();
    if !sc.at_end() {
        let err = SyntaxError::new(
            sc.pos,
            format!("expected end of clause, found {}", sc.describe_here()),
        );
        return Err(not_parsed(Some(err)));
    }
    match word.to_ascii_lowercase().as_str() {
        "asc" => Ok((ident, true)),
        "desc" => Ok((ident, false)),
        _ => Err(MlflowError::invalid(format!(
            "Invalid ordering key in order_by clause '{clause}'."
        ))),
    }
}

/// Resolves an `order_by` identifier for the given search.
fn resolve_order_by_ident(kind: SearchKind, raw: &RawIdent) -> Result<Ident, MlflowError> {
    let (entity_word, key) = raw.split();
    let attribute = |key: &str| Ident {
        entity: Entity::Attribute,
        key: key.to_string(),
    };
    match kind {
        SearchKind::Runs => {
            let entity = match entity_word.as_deref() {
                None => Entity::Attribute,
                Some(word) => run_entity(word)?,
            };
            match entity {
                Entity::Attribute => canonical_run_attr(&key)
                    .map(attribute)
                    .ok_or_else(|| invalid_attribute_key(&key, RUN_ORDER_KEYS)),
                Entity::Dataset => Err(MlflowError::invalid("Invalid identifier type 'dataset'")),
                entity => Ok(Ident { entity, key }),
            }
        }
        SearchKind::Experiments => {
            let entity = match entity_word.as_deref() {
                None => Entity::Attribute,
                Some(word) => attr_or_tag_entity(word)?,
            };
            if entity != Entity::Attribute {
                return Err(MlflowError::invalid("Invalid order_by entity: tag"));
            }
            lookup(EXPERIMENT_KEYS, &key)
                .map(attribute)
                .ok_or_else(|| invalid_attribute_key(&key, EXPERIMENT_KEYS))
        }
        SearchKind::RegisteredModels => {
            let is_attribute = match entity_word.as_deref() {
                None => true,
                Some(word) => attr_or_tag_entity(word).ok() == Some(Entity::Attribute),
            };
            let canonical = match key.as_str() {
                _ if !is_attribute => None,
                "name" => Some("name"),
                // MLflow's SQL store sorts `timestamp` by the last-updated time.
                "timestamp" | "last_updated_timestamp" => Some("last_updated_timestamp"),
                "creation_timestamp" => Some("creation_timestamp"),
                _ => None,
            };
            canonical.map(attribute).ok_or_else(|| {
                let shown = if is_attribute {
                    key.clone()
                } else {
                    raw.text.clone()
                };
                MlflowError::invalid(format!(
                    "Invalid order by key '{shown}' specified. Valid keys are '{}'",
                    py_set(REGISTERED_MODEL_ORDER_KEYS_SHOWN)
                ))
            })
        }
        SearchKind::ModelVersions => {
            let entity = match entity_word.as_deref() {
                None => Entity::Attribute,
                Some(word) => attr_or_tag_entity(word)?,
            };
            if entity != Entity::Attribute {
                return Err(MlflowError::invalid(format!(
                    "Invalid order by key '{key}' specified. Valid keys are {}",
                    py_set(MODEL_VERSION_ORDER_KEYS)
                )));
            }
            lookup(MODEL_VERSION_ORDER_KEYS, &key)
                .map(attribute)
                .ok_or_else(|| invalid_attribute_key(&key, MODEL_VERSION_ORDER_KEYS))
        }
        SearchKind::LoggedModels => {
            let entity = match entity_word.as_deref() {
                None => Entity::Attribute,
                Some(word) => logged_model_entity(word).map_err(|_| {
                    MlflowError::invalid(format!(
                        "Invalid order by field name: {word}, only `metrics.<name>` is allowed."
                    ))
                })?,
            };
            match entity {
                Entity::Metric => Ok(Ident { entity, key }),
                Entity::Attribute => {
                    canonical_logged_model_attr(&key)
                        .map(attribute)
                        .ok_or_else(|| {
                            MlflowError::invalid(format!("Invalid order by field name: {key}."))
                        })
                }
                _ => Err(MlflowError::invalid(format!(
                    "Invalid order by field name: {}, only `metrics.<name>` is allowed.",
                    entity_word.unwrap_or_default()
                ))),
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Raw comparisons, for grammars resolved elsewhere (trace search: `trace_search.rs`)
// ------------------------------------------------------------------------------------------------

/// The value of a [`RawComparison`].
#[derive(Debug, Clone, PartialEq)]
pub enum RawFilterValue {
    /// A quoted string (quotes removed, not unescaped).
    Str(String),
    /// A number, with whether it was written as an integer.
    Num(f64, bool),
    /// The items of a parenthesised list.
    List(Vec<String>),
    /// An unquoted word or back-quoted token (its source text).
    Word(String),
    /// No value (`IS NULL`, `IS NOT NULL`).
    None,
}

/// One comparison as written: the entity word (if the identifier has a dot), the key,
/// the upper-cased operator and the value. The same scanner as [`parse_filter`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawComparison {
    pub entity: Option<String>,
    pub key: String,
    pub op: String,
    pub value: RawFilterValue,
}

/// Splits a filter into raw comparisons joined by `AND`, without resolving identifiers.
pub fn parse_raw_filter(filter: &str) -> Result<Vec<RawComparison>, MlflowError> {
    if filter.trim().is_empty() {
        return Ok(Vec::new());
    }
    let chars: Vec<char> = filter.chars().collect();
    let raws = parse_raw_clauses(&chars).map_err(|fail| {
        MlflowError::invalid(format!(
            "Invalid clause(s) in filter string: {} (at position {}: {})",
            fail.invalid.join(", "),
            fail.first.pos,
            fail.first.message
        ))
    })?;
    raws.into_iter()
        .map(|raw| {
            let (entity, key) = raw.ident.split();
            let value = match raw.value {
                RawValue::Str(s) => RawFilterValue::Str(s),
                RawValue::Num { value, is_int } => RawFilterValue::Num(value, is_int),
                RawValue::List => RawFilterValue::List(parse_list_items(&raw.value_text, true)?),
                RawValue::Word | RawValue::Backtick => RawFilterValue::Word(raw.value_text),
                RawValue::Absent => RawFilterValue::None,
            };
            Ok(RawComparison {
                entity,
                key,
                op: raw.op,
                value,
            })
        })
        .collect()
}

/// Parses one `order_by` clause (`<identifier> [ASC|DESC]`) into (entity word, key,
/// ascending), without resolving the identifier.
pub fn parse_raw_order_by(clause: &str) -> Result<(Option<String>, String, bool), MlflowError> {
    let (raw, ascending) = parse_order_by_syntax(clause)?;
    let (entity, key) = raw.split();
    Ok((entity, key, ascending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    use Entity::{Attribute as A, Dataset as D, Metric as M, Param as P, Tag as T};
    use SearchKind::{
        Experiments as Exp, LoggedModels as Lm, ModelVersions as Mv, RegisteredModels as Rm, Runs,
    };

    fn c(entity: Entity, key: &str, cmp: Cmp, value: Value) -> Clause {
        Clause {
            ident: Ident {
                entity,
                key: key.to_string(),
            },
            cmp,
            value,
        }
    }
    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }
    fn n(v: f64) -> Value {
        Value::Num(v)
    }
    fn l(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| i.to_string()).collect())
    }
    fn o(entity: Entity, key: &str, ascending: bool) -> OrderBy {
        OrderBy {
            ident: Ident {
                entity,
                key: key.to_string(),
            },
            ascending,
        }
    }
    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| i.to_string()).collect()
    }

    /// Filters MLflow 3.17.2 accepts, with the AST it produces (cross-checked against
    /// `SearchUtils.parse_search_filter` and the stores' comparator checks).
    #[test]
    fn accepted_filters() {
        use Cmp::*;
        let cases: Vec<(SearchKind, &str, Vec<Clause>)> = vec![
            (Runs, "", vec![]),
            (Runs, "   \t\n ", vec![]),
            (Runs, "metrics.a > 1", vec![c(M, "a", Gt, n(1.0))]),
            (
                Runs,
                "metrics.a > 1 AND params.b = 'x'",
                vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
            ),
            (
                Runs,
                "metrics.a > 1 and params.b = 'x'",
                vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
            ),
            (
                Runs,
                "params.a='x'and params.b='y'",
                vec![c(P, "a", Eq, s("x")), c(P, "b", Eq, s("y"))],
            ),
            (
                Runs,
                "  metrics.a   >   1\tAND\tparams.b='x'  ",
                vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
            ),
            (
                Runs,
                "params.a = 'x'\nAND params.b = 'y'",
                vec![c(P, "a", Eq, s("x")), c(P, "b", Eq, s("y"))],
            ),
            (
                Runs,
                "metrics.a >= 1 AND metrics.b <= 2 AND metrics.c != 3 AND metrics.d < 4",
                vec![
                    c(M, "a", Ge, n(1.0)),
                    c(M, "b", Le, n(2.0)),
                    c(M, "c", Ne, n(3.0)),
                    c(M, "d", Lt, n(4.0)),
                ],
            ),
            // Dotted and quoted keys.
            (
                Runs,
                "tags.mlflow.runName = 'x'",
                vec![c(T, "mlflow.runName", Eq, s("x"))],
            ),
            (
                Runs,
                "tags.`mlflow.runName` = 'x'",
                vec![c(T, "mlflow.runName", Eq, s("x"))],
            ),
            (
                Runs,
                "tags.\"mlflow.runName\" = 'x'",
                vec![c(T, "mlflow.runName", Eq, s("x"))],
            ),
            (Runs, "`tags`.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
            (Runs, "tags.'a b' = 'x'", vec![c(T, "a b", Eq, s("x"))]),
            (Runs, "metrics.`a b` > 1", vec![c(M, "a b", Gt, n(1.0))]),
            (Runs, "metrics.\"a b\" > 1", vec![c(M, "a b", Gt, n(1.0))]),
            (Runs, "metrics.`a``b` > 1", vec![c(M, "a``b", Gt, n(1.0))]),
            (Runs, "metrics.`` > 1", vec![c(M, "", Gt, n(1.0))]),
            (Runs, "metrics.a.b > 1", vec![c(M, "a.b", Gt, n(1.0))]),
            (Runs, "metrics.1a > 1", vec![c(M, "1a", Gt, n(1.0))]),
            (
                Runs,
                "tags.a.`b c` = 'x'",
                vec![c(T, "a.`b c`", Eq, s("x"))],
            ),
            (Runs, "tags.`a`.`b` = 'x'", vec![c(T, "a`.`b", Eq, s("x"))]),
            (Runs, "params.é = 'x'", vec![c(P, "é", Eq, s("x"))]),
            (Runs, "params.日本 = '値'", vec![c(P, "日本", Eq, s("値"))]),
            (
                Runs,
                "params.select = 'x'",
                vec![c(P, "select", Eq, s("x"))],
            ),
            (
                Runs,
                "metrics.`ünïcödé` > 1",
                vec![c(M, "ünïcödé", Gt, n(1.0))],
            ),
            // Entity aliases.
            (Runs, "metric.a > 1", vec![c(M, "a", Gt, n(1.0))]),
            (Runs, "`metrics`.a > 1", vec![c(M, "a", Gt, n(1.0))]),
            (Runs, "parameters.a = 'x'", vec![c(P, "a", Eq, s("x"))]),
            (Runs, "parameter.a = 'x'", vec![c(P, "a", Eq, s("x"))]),
            (Runs, "param.a = 'x'", vec![c(P, "a", Eq, s("x"))]),
            (Runs, "tag.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
            (Runs, "run.status = 'x'", vec![c(A, "status", Eq, s("x"))]),
            (
                Runs,
                "attribute.status = 'x'",
                vec![c(A, "status", Eq, s("x"))],
            ),
            (
                Runs,
                "attributes.status != 'FAILED'",
                vec![c(A, "status", Ne, s("FAILED"))],
            ),
            (
                Runs,
                "attr.created > 5",
                vec![c(A, "start_time", Gt, n(5.0))],
            ),
            (
                Runs,
                "`attributes`.`status` = 'x'",
                vec![c(A, "status", Eq, s("x"))],
            ),
            (
                Runs,
                "attributes.\"status\" = 'x'",
                vec![c(A, "status", Eq, s("x"))],
            ),
            // Strings: both quote kinds, escapes kept verbatim as MLflow does.
            (Runs, "params.a = \"x\"", vec![c(P, "a", Eq, s("x"))]),
            (Runs, "params.a = ''", vec![c(P, "a", Eq, s(""))]),
            (Runs, "params.a = 'it''s'", vec![c(P, "a", Eq, s("it''s"))]),
            (
                Runs,
                "params.a = 'it\\'s'",
                vec![c(P, "a", Eq, s("it\\'s"))],
            ),
            (
                Runs,
                "params.a = \"it\"\"s\"",
                vec![c(P, "a", Eq, s("it\"\"s"))],
            ),
            (Runs, "params.a = \"x'y\"", vec![c(P, "a", Eq, s("x'y"))]),
            (Runs, "params.a = 'x\"y'", vec![c(P, "a", Eq, s("x\"y"))]),
            (Runs, "params.a = 'x\\'", vec![c(P, "a", Eq, s("x\\"))]),
            (Runs, "params.a = 'x\\\\'", vec![c(P, "a", Eq, s("x\\\\"))]),
            (
                Runs,
                "params.a = 'x\\'y\\'",
                vec![c(P, "a", Eq, s("x\\'y\\"))],
            ),
            (Runs, "params.a = '日本'", vec![c(P, "a", Eq, s("日本"))]),
            // Numbers.
            (Runs, "metrics.a = -1", vec![c(M, "a", Eq, n(-1.0))]),
            (Runs, "metrics.a = 1e5", vec![c(M, "a", Eq, n(1e5))]),
            (Runs, "metrics.a = 1E5", vec![c(M, "a", Eq, n(1e5))]),
            (Runs, "metrics.a = 1.5e-3", vec![c(M, "a", Eq, n(1.5e-3))]),
            (Runs, "metrics.a = .5", vec![c(M, "a", Eq, n(0.5))]),
            (Runs, "metrics.a = 5.", vec![c(M, "a", Eq, n(5.0))]),
            (Runs, "metrics.a > -.5", vec![c(M, "a", Gt, n(-0.5))]),
            (Runs, "metrics.a > 00012", vec![c(M, "a", Gt, n(12.0))]),
            (Runs, "metrics.a>-1", vec![c(M, "a", Gt, n(-1.0))]),
            (Runs, "metrics.a<-1", vec![c(M, "a", Lt, n(-1.0))]),
            (Runs, "metrics.a=-1", vec![c(M, "a", Eq, n(-1.0))]),
            (
                Runs,
                "metrics.a > 99999999999999999999999",
                vec![c(M, "a", Gt, n(1e23))],
            ),
            (
                Runs,
                "metrics.a > 1e400",
                vec![c(M, "a", Gt, n(f64::INFINITY))],
            ),
            // Extensions: signs and signed exponents MLflow's tokenizer splits apart.
            (Runs, "metrics.a = +5", vec![c(M, "a", Eq, n(5.0))]),
            (Runs, "metrics.a > -1.5E+3", vec![c(M, "a", Gt, n(-1500.0))]),
            (Runs, "metrics.a > 1.e5", vec![c(M, "a", Gt, n(1e5))]),
            (Runs, "metrics.a > .5e5", vec![c(M, "a", Gt, n(5e4))]),
            // Keyword operators, case-insensitive.
            (Runs, "params.a LIKE 'x%'", vec![c(P, "a", Like, s("x%"))]),
            (Runs, "params.a like 'x'", vec![c(P, "a", Like, s("x"))]),
            (Runs, "params.a ILIKE 'x'", vec![c(P, "a", ILike, s("x"))]),
            (Runs, "params.a ilike 'x'", vec![c(P, "a", ILike, s("x"))]),
            (
                Runs,
                "params.a IS NULL",
                vec![c(P, "a", IsNull, Value::None)],
            ),
            (
                Runs,
                "params.a is null",
                vec![c(P, "a", IsNull, Value::None)],
            ),
            (
                Runs,
                "tags.a IS NOT NULL",
                vec![c(T, "a", IsNotNull, Value::None)],
            ),
            (
                Runs,
                "params.a is not null",
                vec![c(P, "a", IsNotNull, Value::None)],
            ),
            (
                Runs,
                "params.a IS  NOT  NULL",
                vec![c(P, "a", IsNotNull, Value::None)],
            ),
            (
                Runs,
                "params.a IS NULL AND params.b IS NOT NULL",
                vec![
                    c(P, "a", IsNull, Value::None),
                    c(P, "b", IsNotNull, Value::None),
                ],
            ),
            // Lists.
            (
                Runs,
                "run_id IN ('a', 'b')",
                vec![c(A, "run_id", In, l(&["a", "b"]))],
            ),
            (
                Runs,
                "run_id in ('a', 'b')",
                vec![c(A, "run_id", In, l(&["a", "b"]))],
            ),
            (
                Runs,
                "run_id NOT IN ('a', 'b')",
                vec![c(A, "run_id", NotIn, l(&["a", "b"]))],
            ),
            (
                Runs,
                "run_id not in ('a')",
                vec![c(A, "run_id", NotIn, l(&["a"]))],
            ),
            (
                Runs,
                "run_id NOT  IN ('a')",
                vec![c(A, "run_id", NotIn, l(&["a"]))],
            ),
            (
                Runs,
                "run_id IN ('a',)",
                vec![c(A, "run_id", In, l(&["a"]))],
            ),
            (
                Runs,
                "run_id IN (\"a\", \"b\")",
                vec![c(A, "run_id", In, l(&["a", "b"]))],
            ),
            (
                Runs,
                "run_id IN ( 'a' )",
                vec![c(A, "run_id", In, l(&["a"]))],
            ),
            (
                Runs,
                "run_id IN ('a', 'b',)",
                vec![c(A, "run_id", In, l(&["a", "b"]))],
            ),
            (
                Runs,
                "run_id IN ('a' 'b')",
                vec![c(A, "run_id", In, l(&["ab"]))],
            ),
            (
                Runs,
                "run_id IN ('a\\'b')",
                vec![c(A, "run_id", In, l(&["a'b"]))],
            ),
            (
                Runs,
                "run_id IN ('it''s')",
                vec![c(A, "run_id", In, l(&["its"]))],
            ),
            (
                Runs,
                "run_id IN ('a\\\\b', \"c\\\"d\")",
                vec![c(A, "run_id", In, l(&["a\\b", "c\"d"]))],
            ),
            (
                Runs,
                "run_id IN ('', '')",
                vec![c(A, "run_id", In, l(&["", ""]))],
            ),
            (
                Runs,
                "run_id IN ('日本')",
                vec![c(A, "run_id", In, l(&["日本"]))],
            ),
            (
                Runs,
                "run_id IN ('a','b')AND params.x = 'y'",
                vec![c(A, "run_id", In, l(&["a", "b"])), c(P, "x", Eq, s("y"))],
            ),
            // Attributes and their aliases.
            (Runs, "run_id = 'abc'", vec![c(A, "run_id", Eq, s("abc"))]),
            (Runs, "run_name = 'x'", vec![c(A, "run_name", Eq, s("x"))]),
            (Runs, "`Run Name` = 'x'", vec![c(A, "run_name", Eq, s("x"))]),
            (Runs, "`run name` = 'x'", vec![c(A, "run_name", Eq, s("x"))]),
            (
                Runs,
                "\"Run name\" = 'x'",
                vec![c(A, "run_name", Eq, s("x"))],
            ),
            (
                Runs,
                "attributes.run_name = 'x'",
                vec![c(A, "run_name", Eq, s("x"))],
            ),
            (Runs, "`run_id` = 'x'", vec![c(A, "run_id", Eq, s("x"))]),
            (Runs, "created > 5", vec![c(A, "start_time", Gt, n(5.0))]),
            (Runs, "Created > 5", vec![c(A, "start_time", Gt, n(5.0))]),
            (
                Runs,
                "\"created\" > 5",
                vec![c(A, "start_time", Gt, n(5.0))],
            ),
            (
                Runs,
                "start_time > 5.5",
                vec![c(A, "start_time", Gt, n(5.5))],
            ),
            (
                Runs,
                "start_time > -5",
                vec![c(A, "start_time", Gt, n(-5.0))],
            ),
            (Runs, "end_time > 0", vec![c(A, "end_time", Gt, n(0.0))]),
            (Runs, "status LIKE 'x'", vec![c(A, "status", Like, s("x"))]),
            (
                Runs,
                "user_id ILIKE '%bob%'",
                vec![c(A, "user_id", ILike, s("%bob%"))],
            ),
            (
                Runs,
                "attribute.artifact_uri LIKE 's3://%'",
                vec![c(A, "artifact_uri", Like, s("s3://%"))],
            ),
            (
                Runs,
                "status = 'FINISHED' AND start_time >= 1700000000000",
                vec![
                    c(A, "status", Eq, s("FINISHED")),
                    c(A, "start_time", Ge, n(1.7e12)),
                ],
            ),
            // Datasets.
            (Runs, "datasets.name = 'x'", vec![c(D, "name", Eq, s("x"))]),
            (
                Runs,
                "dataset.context IN ('a','b')",
                vec![c(D, "context", In, l(&["a", "b"]))],
            ),
            (
                Runs,
                "datasets.digest LIKE 'a%'",
                vec![c(D, "digest", Like, s("a%"))],
            ),
            (Runs, "dataset.`name` = 'x'", vec![c(D, "name", Eq, s("x"))]),
            (
                Runs,
                "datasets.\"digest\" != 'x'",
                vec![c(D, "digest", Ne, s("x"))],
            ),
            // MLflow's leniency about AND.
            (Runs, "metrics.a > 1 AND", vec![c(M, "a", Gt, n(1.0))]),
            (Runs, "AND metrics.a > 1", vec![c(M, "a", Gt, n(1.0))]),
            (
                Runs,
                "metrics.a > 1 AND AND params.b = 'x'",
                vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
            ),
            (
                Runs,
                "metrics.a > 1 params.b = 'x'",
                vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
            ),
            (
                Runs,
                "params.a = 'x' AND params.a = 'y'",
                vec![c(P, "a", Eq, s("x")), c(P, "a", Eq, s("y"))],
            ),
            (Runs, "params.from = 'x'", vec![c(P, "from", Eq, s("x"))]),
            // Experiments.
            (Exp, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Exp, "name LIKE 'x%'", vec![c(A, "name", Like, s("x%"))]),
            (Exp, "name ilike 'x%'", vec![c(A, "name", ILike, s("x%"))]),
            (
                Exp,
                "name != 'a' AND name != 'b'",
                vec![c(A, "name", Ne, s("a")), c(A, "name", Ne, s("b"))],
            ),
            (Exp, "name = \"x\"", vec![c(A, "name", Eq, s("x"))]),
            (Exp, "`name` = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Exp, "\"name\" = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Exp, "attribute.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Exp, "attributes.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (
                Exp,
                "experiment_id = '1'",
                vec![c(A, "experiment_id", Eq, s("1"))],
            ),
            (
                Exp,
                "experiment_id != '5'",
                vec![c(A, "experiment_id", Ne, s("5"))],
            ),
            (
                Exp,
                "experiment_id IN ('1','2')",
                vec![c(A, "experiment_id", In, l(&["1", "2"]))],
            ),
            (
                Exp,
                "experiment_id NOT IN ('5')",
                vec![c(A, "experiment_id", NotIn, l(&["5"]))],
            ),
            (
                Exp,
                "creation_time > 5",
                vec![c(A, "creation_time", Gt, n(5.0))],
            ),
            (
                Exp,
                "creation_time = -5",
                vec![c(A, "creation_time", Eq, n(-5.0))],
            ),
            (
                Exp,
                "creation_time >= 1700000000000 AND last_update_time < 5",
                vec![
                    c(A, "creation_time", Ge, n(1.7e12)),
                    c(A, "last_update_time", Lt, n(5.0)),
                ],
            ),
            (Exp, "tags.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
            (Exp, "tag.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
            (Exp, "tags.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
            (Exp, "tags.\"a b\" = 'x'", vec![c(T, "a b", Eq, s("x"))]),
            (Exp, "tags.a IS NULL", vec![c(T, "a", IsNull, Value::None)]),
            (
                Exp,
                "tags.a IS NOT NULL",
                vec![c(T, "a", IsNotNull, Value::None)],
            ),
            (
                Exp,
                "name = 'x' AND tags.a LIKE 'y'",
                vec![c(A, "name", Eq, s("x")), c(T, "a", Like, s("y"))],
            ),
            // Registered models.
            (Rm, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Rm, "name ilike 'x%'", vec![c(A, "name", ILike, s("x%"))]),
            (
                Rm,
                "name IN ('a','b')",
                vec![c(A, "name", In, l(&["a", "b"]))],
            ),
            (
                Rm,
                "name NOT IN ('a')",
                vec![c(A, "name", NotIn, l(&["a"]))],
            ),
            (Rm, "attribute.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Rm, "\"name\" = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Rm, "tags.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
            (Rm, "tags.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
            (
                Rm,
                "tag.`mlflow.prompt.is_prompt` != 'true'",
                vec![c(T, "mlflow.prompt.is_prompt", Ne, s("true"))],
            ),
            (
                Rm,
                "name LIKE 'lin%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
                vec![
                    c(A, "name", Like, s("lin%")),
                    c(T, "mlflow.prompt.is_prompt", Ne, s("true")),
                ],
            ),
            // Model versions.
            (Mv, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (
                Mv,
                "name IN ('a','b')",
                vec![c(A, "name", In, l(&["a", "b"]))],
            ),
            (
                Mv,
                "version_number = 1",
                vec![c(A, "version_number", Eq, n(1.0))],
            ),
            (
                Mv,
                "version_number = '1'",
                vec![c(A, "version_number", Eq, n(1.0))],
            ),
            (
                Mv,
                "version_number = ' 3 '",
                vec![c(A, "version_number", Eq, n(3.0))],
            ),
            (
                Mv,
                "version_number > 1",
                vec![c(A, "version_number", Gt, n(1.0))],
            ),
            (
                Mv,
                "version_number >= 2 AND version_number < '5'",
                vec![
                    c(A, "version_number", Ge, n(2.0)),
                    c(A, "version_number", Lt, n(5.0)),
                ],
            ),
            (
                Mv,
                "source_path = 'x'",
                vec![c(A, "source_path", Eq, s("x"))],
            ),
            (
                Mv,
                "source_path LIKE 'x%'",
                vec![c(A, "source_path", Like, s("x%"))],
            ),
            (Mv, "run_id IN ('a')", vec![c(A, "run_id", In, l(&["a"]))]),
            (
                Mv,
                "run_id NOT IN ('a', 'b')",
                vec![c(A, "run_id", NotIn, l(&["a", "b"]))],
            ),
            (Mv, "run_id LIKE 'a'", vec![c(A, "run_id", Like, s("a"))]),
            (
                Mv,
                "name = 'x' AND tags.k ILIKE 'v'",
                vec![c(A, "name", Eq, s("x")), c(T, "k", ILike, s("v"))],
            ),
            (
                Mv,
                "tags.`mlflow.prompt.is_prompt` != 'true'",
                vec![c(T, "mlflow.prompt.is_prompt", Ne, s("true"))],
            ),
            // Logged models.
            (Lm, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Lm, "name ilike 'x%'", vec![c(A, "name", ILike, s("x%"))]),
            (
                Lm,
                "name IN ('a','b')",
                vec![c(A, "name", In, l(&["a", "b"]))],
            ),
            (
                Lm,
                "name NOT IN ('a')",
                vec![c(A, "name", NotIn, l(&["a"]))],
            ),
            (Lm, "name = x", vec![c(A, "name", Eq, s("x"))]),
            (Lm, "`name` = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (Lm, "attributes.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
            (
                Lm,
                "creation_time > 5",
                vec![c(A, "creation_timestamp", Gt, n(5.0))],
            ),
            (
                Lm,
                "creation_timestamp > 5.5",
                vec![c(A, "creation_timestamp", Gt, n(5.5))],
            ),
            (
                Lm,
                "last_updated_timestamp <= 5",
                vec![c(A, "last_updated_timestamp", Le, n(5.0))],
            ),
            (
                Lm,
                "last_updated_time = 5",
                vec![c(A, "last_updated_timestamp", Eq, n(5.0))],
            ),
            (
                Lm,
                "metrics.acc > 0.9 AND params.lr = 0.01",
                vec![c(M, "acc", Gt, n(0.9)), c(P, "lr", Eq, s("0.01"))],
            ),
            (Lm, "params.lr = '0.01'", vec![c(P, "lr", Eq, s("0.01"))]),
            (
                Lm,
                "params.lr IN ('a', 'b')",
                vec![c(P, "lr", In, l(&["a", "b"]))],
            ),
            (Lm, "tags.k IN ('a')", vec![c(T, "k", In, l(&["a"]))]),
            (
                Lm,
                "params.lr IN (0.01, '0.1', -1)",
                vec![c(P, "lr", In, l(&["0.01", "0.1", "-1"]))],
            ),
            (Lm, "tags.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
            (Lm, "status = 'READY'", vec![c(A, "status", Eq, s("READY"))]),
            (
                Lm,
                "source_run_id = 'abc'",
                vec![c(A, "source_run_id", Eq, s("abc"))],
            ),
            (Lm, "model_id = 'm-1'", vec![c(A, "model_id", Eq, s("m-1"))]),
            (
                Lm,
                "model_type LIKE '%sk%'",
                vec![c(A, "model_type", Like, s("%sk%"))],
            ),
            (Lm, "metric.acc >= 1", vec![c(M, "acc", Ge, n(1.0))]),
        ];
        let mut failures = Vec::new();
        for (kind, filter, expected) in cases {
            match parse_filter(kind, filter) {
                Ok(got) if got == expected => {}
                Ok(got) => failures.push(format!("{kind:?} {filter:?}: got {got:?}")),
                Err(e) => failures.push(format!("{kind:?} {filter:?} rejected: {}", e.message)),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Filters that are rejected, with a substring of the expected message. Where MLflow
    /// has a deterministic message it is reproduced exactly (the substring is the whole
    /// MLflow message); syntax errors add a position and an expectation.
    #[test]
    fn rejected_filters() {
        let cases: Vec<(SearchKind, &str, &str)> = vec![
            // Connectives and grouping.
            (Runs, "metrics.a > 1 OR params.b = 'x'", "Invalid clause(s) in filter string: 'OR' "),
            (Runs, "metrics.a > 1 OR params.b = 'x'", "at position 14: OR is not supported"),
            (
                Runs,
                "tags.a = 'b' AND tags.c = 'd' OR tags.e = 'f'",
                "Invalid clause(s) in filter string: 'OR'",
            ),
            (Runs, "(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
            (Runs, "(metrics.a > 1)", "parentheses are not supported"),
            (
                Runs,
                "metrics.a > 1 AND (params.b = 'x')",
                "Invalid clause(s) in filter string: '(params.b = 'x')'",
            ),
            (Runs, "NOT metrics.a > 1", "Invalid clause(s) in filter string: 'NOT'"),
            (Runs, "NOT metrics.a > 1", "NOT is only supported as part of NOT IN"),
            (Runs, "metrics.a > 1 AND OR", "Invalid clause(s) in filter string: 'OR'"),
            (Runs, "metrics.a > 1 && params.b = 'x'", "Invalid clause(s) in filter string: '&', '&'"),
            (
                Runs,
                "params.a = 'x' ANDAND params.b = 'y'",
                "Invalid clause(s) in filter string: 'ANDAND'",
            ),
            (
                Runs,
                "metrics.a > 1; params.b = 'x'",
                "Search filter contained multiple expression \"metrics.a > 1; params.b = 'x'\". \
                 Provide AND-ed expression list.",
            ),
            (Runs, "metrics.a > 1;", "Invalid clause(s) in filter string: ';'"),
            (Runs, ";", "Invalid clause(s) in filter string: ';'"),
            // Incomplete comparisons, with position and expectation.
            (Runs, "metrics.a >", "Invalid clause(s) in filter string: 'metrics.a', '>' "),
            (Runs, "metrics.a >", "at position 11: expected a value"),
            (Runs, "metrics.a >", "found end of input"),
            (Runs, "metrics.a", "Invalid clause(s) in filter string: 'metrics.a' "),
            (Runs, "metrics.a", "at position 9: expected a comparison operator"),
            (Runs, " > 1", "Invalid clause(s) in filter string: '>', '1'"),
            (Runs, " > 1", "at position 1: expected an identifier"),
            (Runs, "metrics.a = - 1", "Invalid clause(s) in filter string: 'metrics.a', '=', '-', '1'"),
            (Runs, "metrics.a > -inf", "Invalid clause(s) in filter string: 'metrics.a', '>', '-', 'inf'"),
            (Runs, "metrics.a ! = 1", "Invalid clause(s) in filter string: 'metrics.a', '!', '=', '1'"),
            (Runs, "metrics.a > 1 2", "Invalid clause(s) in filter string: '2'"),
            (Runs, "metrics.a > 1 AND 2", "Invalid clause(s) in filter string: '2'"),
            (Runs, "params.a = 'x' 'y'", "Invalid clause(s) in filter string: ''y''"),
            (Runs, "params.a = 'x' AND params.b", "Invalid clause(s) in filter string: 'params.b'"),
            (Runs, "params.a = 'x' AND params.b =", "at position 29: expected a value"),
            (Runs, "params.a IS", "Invalid clause(s) in filter string: 'params.a', 'IS'"),
            (Runs, "params.a IS", "expected NULL or NOT NULL after IS"),
            (Runs, "params.a IS NOT", "expected NULL after IS NOT"),
            (Runs, "params.a IS 'x'", "Invalid clause(s) in filter string: 'params.a', 'IS', ''x''"),
            (Runs, "params.a ISNULL", "Invalid clause(s) in filter string: 'params.a', 'ISNULL'"),
            (Runs, "params.a IS NULL extra", "Invalid clause(s) in filter string: 'extra'"),
            (Runs, "run_id NOT", "Invalid clause(s) in filter string: 'run_id', 'NOT'"),
            (Runs, "run_id NOT", "expected IN after NOT"),
            (Runs, "run_id IN", "Invalid clause(s) in filter string: 'run_id', 'IN'"),
            (Runs, "run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id', 'IN', ''a''"),
            (Runs, "run_id IN 'a'", "expected a parenthesised list of quoted strings after IN"),
            (Runs, "run_id IN (", "unterminated list"),
            (Runs, "run_id IN ('a'", "at position 10: unterminated list"),
            (Runs, "run_id IN [\"a\"]", "Invalid clause(s) in filter string: 'run_id', 'IN'"),
            (Runs, "params.a = 'x", "Invalid clause(s) in filter string: 'params.a', '=', ''', 'x'"),
            (Runs, "params.a = 'x", "at position 11: unterminated string"),
            (Runs, "params.a = \"x", "unterminated string"),
            (Runs, "params.a = 'x''", "Invalid clause(s) in filter string: '''"),
            (Runs, "metrics.a > 1 -- comment", "Invalid clause(s) in filter string: '-', '-', 'comment'"),
            (Runs, "'metrics'.a > 1", "Invalid clause(s) in filter string: ''metrics''"),
            (Runs, "'run_id' = 'x'", "at position 0: expected an identifier"),
            (Runs, ".a > 1", "Invalid clause(s) in filter string: '.' (at position 0"),
            // Keys with special characters must be quoted.
            (Runs, "params.learning-rate = 'x'", "Invalid clause(s) in filter string: 'params.learning', '-'"),
            (Runs, "params.learning-rate = 'x'", "at position 15: expected a comparison operator"),
            (Runs, "tags.a:b = 'x'", "Invalid clause(s) in filter string: 'tags.a', ':'"),
            (Runs, "params.a$b = 'x'", "Invalid clause(s) in filter string: 'params.a', '$'"),
            (Runs, "metrics. > 1", "at position 8: expected a key after '.'"),
            (Runs, "metrics. a > 1", "expected a key after '.'"),
            (Runs, "metrics . a > 1", "Invalid clause(s) in filter string: 'metrics', '.' "),
            (Runs, "tags.`a b = 'x'", "unterminated `-quoted key"),
            (Runs, "`tags.a = 'x'", "unterminated `-quoted name"),
            // Numbers that are not numbers.
            (Runs, "metrics.a > 1.5a", "invalid number '1.5a'"),
            (Runs, "metrics.a > 1.5.5", "invalid number '1.5.5'"),
            (Runs, "metrics.a = 1ANDmetrics.b=2", "invalid number '1ANDmetrics.b'"),
            (Runs, "metrics.a > 1e", "Expected numeric value type for metric. Found 1e"),
            (Runs, "metrics.a > 1_000", "Expected numeric value type for metric. Found 1_000"),
            (Runs, "metrics.a > 1a", "Expected numeric value type for metric. Found 1a"),
            (Runs, "metrics.a > inf", "Expected numeric value type for metric. Found inf"),
            (Runs, "metrics.a > NaN", "Expected numeric value type for metric. Found NaN"),
            (Runs, "metrics.a = 0x10", "Expected numeric value type for metric. Found 0x10"),
            // Entities and keys.
            (
                Runs,
                "\"tags\".\"a b\" = 'x'",
                "Invalid entity type '\"tags\"'. Valid values are ['metric', 'parameter', 'tag', \
                 'attribute', 'dataset']",
            ),
            (Runs, "foo.bar = 'x'", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"),
            (Runs, "METRICS.a > 1", "Invalid entity type 'METRICS'."),
            (Runs, "Metrics.a > 1", "Invalid entity type 'Metrics'."),
            (Runs, "params.a = 'x' ANDparams.b = 'y'", "Invalid entity type 'ANDparams'."),
            (Runs, "foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are '{'run_id', 'run_name', "),
            (Runs, "attributes.foo = 'x'", "Invalid attribute key 'foo' specified."),
            (Runs, "lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage' specified."),
            (Runs, "experiment_id = '1'", "Invalid attribute key 'experiment_id' specified."),
            (Runs, "`metrics.a` > 1", "Invalid attribute key 'metrics.a' specified."),
            (
                Runs,
                "datasets.foo = 'x'",
                "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'",
            ),
            // Values of the wrong type.
            (
                Runs,
                "params.a = x",
                "Parameter value is either not quoted or unidentified quote types used for string \
                 value x. Use either single or double quotes.",
            ),
            (Runs, "params.a = `x`", "unidentified quote types used for string value `x`."),
            (Runs, "tags.a = b.c", "unidentified quote types used for string value b.c."),
            (Runs, "status = RUNNING", "unidentified quote types used for string value RUNNING."),
            (
                Runs,
                "params.a = 1",
                "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1",
            ),
            (Runs, "tags.a = 1.5", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1.5"),
            (Runs, "params.a = NULL", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value NULL"),
            (
                Runs,
                "params.a IN ('x')",
                "Expected a quoted string value for parameter (e.g. 'my-value'). Got value ('x')",
            ),
            (Runs, "tags.a NOT IN ('x')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')"),
            (Runs, "metrics.a = '1'", "Expected numeric value type for metric. Found '1'"),
            (Runs, "metrics.a = \"1\"", "Expected numeric value type for metric. Found \"1\""),
            (Runs, "metrics.a IN (1)", "Expected numeric value type for metric. Found (1)"),
            (
                Runs,
                "start_time > '5'",
                "Expected numeric value type for numeric attribute: start_time. Found '5'",
            ),
            (Runs, "created > '5'", "Expected numeric value type for numeric attribute: created. Found '5'"),
            (Runs, "status = 1", "Expected a quoted string value for attributes. Got value 1"),
            (Runs, "datasets.name = 1", "Expected a quoted string value for dataset attributes. Got value 1"),
            (Runs, "datasets.context = x", "unidentified quote types used for string value x."),
            // Lists.
            (
                Runs,
                "status IN ('a')",
                "Only ['run_id'] attributes support comparison with a list of quoted string values.",
            ),
            (Runs, "run_name NOT IN ('a')", "Only ['run_id'] attributes support comparison"),
            (Runs, "status = ('a')", "Only ['run_id'] attributes support comparison"),
            (
                Runs,
                "run_id IN ()",
                "While parsing a list in the query, expected a non-empty list of string values, but \
                 got empty list",
            ),
            (
                Runs,
                "run_id IN (1, 2)",
                "While parsing a list in the query, expected string value, punctuation, or \
                 whitespace, but got different type in list: (1, 2)",
            ),
            (Runs, "run_id IN (1.5, 'a')", "but got different type in list: (1.5, 'a')"),
            (
                Runs,
                "run_id IN ('a'; 'b')",
                "While parsing a list in the query, expected a non-empty list of string values, but \
                 got ill-formed list.",
            ),
            (Runs, "run_id IN (,)", "got ill-formed list."),
            (Runs, "run_id IN ('a',,'b')", "got ill-formed list."),
            (Runs, "run_id IN (x)", "got ill-formed list."),
            (Runs, "run_id IN ('a' AND 'b')", "got ill-formed list."),
            (Runs, "run_id = ('a', 'b')", "Invalid comparison: '=' cannot be used with the value ('a', 'b')"),
            (Runs, "run_id LIKE ('a')", "Invalid comparison: 'LIKE' cannot be used"),
            // Comparators.
            (Runs, "metrics.a == 1", "Invalid comparator '==' not one of '{'=', '!=', '>', '>=', '<', '<='}'"),
            (Runs, "metrics.a <> 1", "Invalid comparator '<>' not one of"),
            (Runs, "metrics.a<>1", "Invalid comparator '<>' not one of"),
            (Runs, "metrics.a =< 1", "Invalid comparator '=<' not one of"),
            (Runs, "metrics.a ~ 1", "Invalid comparator '~' not one of"),
            (Runs, "metrics.a LIKE 1", "Invalid comparator 'LIKE' not one of '{'=', '!=', '>', '>=', '<', '<='}'"),
            (
                Runs,
                "params.a NOT LIKE 'x'",
                "Invalid comparator 'NOT LIKE' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', \
                 'IS NOT NULL'}'",
            ),
            (Runs, "tags.a NOT ILIKE 'x'", "Invalid comparator 'NOT ILIKE' not one of"),
            (Runs, "params.a > 'x'", "Invalid comparator '>' not one of"),
            (Runs, "params.a=='x'", "Invalid comparator '==' not one of"),
            (Runs, "start_time LIKE 5", "Invalid comparator 'LIKE' not one of"),
            (
                Runs,
                "status > 'x'",
                "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'",
            ),
            (Runs, "datasets.name > 'a'", "Invalid comparator '>' not one of"),
            (
                Runs,
                "metrics.a IS NULL",
                "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'a'",
            ),
            (
                Runs,
                "attributes.status IS NULL",
                "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' \
                 'status'",
            ),
            (Runs, "created IS NOT NULL", "not for 'attribute' 'created'"),
            (Runs, "datasets.name IS NULL", "not for 'dataset' 'name'"),
            // Experiments.
            (
                Exp,
                "name IN ('a','b')",
                "Only ['experiment_id'] attributes support comparison with a list of quoted string \
                 values.",
            ),
            (Exp, "experiment_id = 1", "Expected a quoted string value for attributes. Got value 1"),
            (Exp, "experiment_id LIKE '1'", "Invalid comparator for experiment_id: LIKE"),
            (
                Exp,
                "experiment_id = 'abc'",
                "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.",
            ),
            (Exp, "experiment_id IN ('1', 'a')", "Invalid experiment ID 'a'."),
            (Exp, "creation_time > 5.5", "Invalid value for numeric attribute 'creation_time': '5.5'"),
            (Exp, "creation_time = 1.0", "Invalid value for numeric attribute 'creation_time': '1.0'"),
            (
                Exp,
                "creation_time > '5'",
                "Expected numeric value type for numeric attribute: creation_time. Found '5'",
            ),
            (Exp, "creation_time LIKE 5", "Invalid comparator 'LIKE' not one of"),
            (
                Exp,
                "name IS NULL",
                "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'",
            ),
            (
                Exp,
                "tags.a IN ('x')",
                "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')",
            ),
            (
                Exp,
                "params.a = 'x'",
                "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')",
            ),
            (Exp, "metrics.a > 1", "Invalid entity type 'metrics'."),
            (Exp, "run.name = 'x'", "Invalid entity type 'run'."),
            (
                Exp,
                "foo = 'x'",
                "Invalid attribute key 'foo' specified. Valid keys are '{'name', 'experiment_id', \
                 'creation_time', 'last_update_time'}'",
            ),
            (Exp, "lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage' specified."),
            (Exp, "name = 'x' OR name = 'y'", "Invalid clause(s) in filter string: OR (at position 11"),
            (Exp, "name", "Invalid clause(s) in filter string: name (at position 4"),
            (Exp, "name > 'x'", "Invalid comparator '>' not one of"),
            (Exp, "name IN ('x')", "Only ['experiment_id'] attributes support"),
            (Exp, "tags.a > 'x'", "Invalid comparator for tag: >"),
            (Exp, "name = x", "unidentified quote types used for string value x."),
            (Exp, "name = 1", "Expected a quoted string value for attributes. Got value 1"),
            (Exp, "a; b", "Search filter contained multiple expression 'a; b'."),
            // Registered models.
            (
                Rm,
                "experiment_id = '1'",
                "Invalid attribute key 'experiment_id' specified. Valid keys are '{'name'}'",
            ),
            (Rm, "creation_time > 5", "Invalid attribute key 'creation_time' specified."),
            (Rm, "tags.a IS NULL", "Invalid comparator for tag: IS NULL"),
            (Rm, "tags.a IS NOT NULL", "Invalid comparator for tag: IS NOT NULL"),
            (Rm, "name IS NULL", "Invalid comparator for attribute: IS NULL"),
            (
                Rm,
                "name = 1",
                "Expected a quoted string value or a list of quoted string values for attributes. \
                 Got value 1",
            ),
            (Rm, "name > 'x'", "Invalid comparator for attribute: >"),
            (Rm, "tags.a > 'x'", "Invalid comparator for tag: >"),
            (
                Rm,
                "tags.a IN ('x')",
                "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')",
            ),
            (Rm, "params.a = 'x'", "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"),
            (Rm, "name = 'x' 2", "Invalid clause(s) in filter string: 2 (at position 11"),
            (Rm, "name = x", "unidentified quote types used for string value x."),
            // Model versions.
            (Mv, "version_number = 'abc'", "Invalid value for numeric attribute 'version_number': 'abc'"),
            (Mv, "version_number = '1.5'", "Invalid value for numeric attribute 'version_number': '1.5'"),
            (Mv, "version_number = 1.5", "Invalid value for numeric attribute 'version_number': 1.5"),
            (Mv, "version_number LIKE 1", "Invalid comparator for attribute version_number: LIKE"),
            (Mv, "version_number IS NULL", "Invalid comparator for attribute version_number: IS NULL"),
            (
                Mv,
                "version_number IN ('1')",
                "Only ['name', 'run_id'] attributes support comparison with a list of quoted string \
                 values.",
            ),
            (Mv, "source_path IN ('a')", "Only ['name', 'run_id'] attributes support comparison"),
            (
                Mv,
                "name = 1",
                "Only the '{'creation_timestamp', 'last_updated_timestamp', 'version_number'}' \
                 attributes support comparison with numeric values.",
            ),
            (Mv, "run_id = 1", "attributes support comparison with numeric values."),
            (Mv, "name > 'x'", "Invalid comparator for attribute: >"),
            (Mv, "tags.a > 'x'", "Invalid comparator for tag: >"),
            (Mv, "tags.a IS NULL", "Invalid comparator for tag: IS NULL"),
            (Mv, "creation_time > 5", "Invalid attribute key 'creation_time' specified. Valid keys are '{'name', 'version_number', 'run_id', 'source_path'}'"),
            (Mv, "metrics.a > 1", "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"),
            // Logged models.
            (
                Lm,
                "name > 'x'",
                "Invalid comparison operator for attributes.name: '>'. Expected one of ('=', '!=', \
                 'LIKE', 'ILIKE', 'IN', 'NOT IN').",
            ),
            (
                Lm,
                "creation_time LIKE 5",
                "Invalid comparison operator for attributes.creation_timestamp: 'LIKE'. Expected \
                 one of ('<', '<=', '>', '>=', '=', '!=').",
            ),
            (Lm, "metrics.acc IN (1)", "Invalid comparison operator for metrics.acc: 'IN'."),
            (Lm, "metrics.acc LIKE 1", "Invalid comparison operator for metrics.acc: 'LIKE'."),
            (Lm, "tags.a IS NULL", "Invalid comparison operator for tags.a: 'IS NULL'."),
            (Lm, "params.a > 'x'", "Invalid comparison operator for params.a: '>'."),
            (
                Lm,
                "datasets.name = 'x'",
                "Invalid entity type: 'datasets'. Expected one of ['attributes', 'metrics', \
                 'params', 'tags'].",
            ),
            (Lm, "foo = 'x'", "Invalid attribute key 'foo' specified."),
            (Lm, "experiment_id = '1'", "Invalid attribute key 'experiment_id' specified."),
            (Lm, "metrics.acc > '1'", "Expected numeric value type for metric. Found '1'"),
            (Lm, "metrics.acc > x", "Expected numeric value type for metric. Found x"),
            (
                Lm,
                "creation_time > 'x'",
                "Expected numeric value type for numeric attribute: creation_time. Found 'x'",
            ),
            (Lm, "name = `x`", "unidentified quote types used for string value `x`."),
            (
                Lm,
                "name = 'x' OR name = 'y'",
                "Invalid filter string: \"name = 'x' OR name = 'y'\". Expected a list of \
                 comparisons separated by 'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01'). \
                 (at position 11: OR is not supported",
            ),
            (Lm, "name", "Invalid filter string: 'name'. Expected a list of comparisons"),
            (Lm, "a; b", "Invalid filter string: 'a; b'. Expected a single SQL expression."),
        ];
        let mut failures = Vec::new();
        for (kind, filter, expected) in cases {
            match parse_filter(kind, filter) {
                Ok(got) => failures.push(format!("{kind:?} {filter:?} accepted: {got:?}")),
                Err(e) if e.code != ErrorCode::INVALID_PARAMETER_VALUE => {
                    failures.push(format!("{kind:?} {filter:?}: code {:?}", e.code))
                }
                Err(e) if !e.message.contains(expected) => failures.push(format!(
                    "{kind:?} {filter:?}:\n  message:  {}\n  expected: {expected}",
                    e.message
                )),
                Err(_) => {}
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn syntax_error_lists_at_most_twenty_stretches() {
        let filter = "x ".repeat(100);
        let err = parse_filter(Runs, &filter).unwrap_err();
        assert!(err.message.ends_with("expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL), found 'x')"), "{}", err.message);
        assert_eq!(err.message.matches("'x'").count(), 21, "{}", err.message);
        assert!(
            err.message.contains("'x', ...  (at") || err.message.contains("'x', ... (at"),
            "{}",
            err.message
        );
    }

    #[test]
    fn accepted_order_by() {
        let cases: Vec<(SearchKind, Vec<&str>, Vec<OrderBy>)> = vec![
            (Runs, vec![], vec![]),
            (Runs, vec!["start_time"], vec![o(A, "start_time", true)]),
            (
                Runs,
                vec!["start_time DESC"],
                vec![o(A, "start_time", false)],
            ),
            (
                Runs,
                vec!["start_time desc"],
                vec![o(A, "start_time", false)],
            ),
            (Runs, vec!["start_time Asc"], vec![o(A, "start_time", true)]),
            (
                Runs,
                vec!["start_time  DESC"],
                vec![o(A, "start_time", false)],
            ),
            (
                Runs,
                vec![" start_time DESC "],
                vec![o(A, "start_time", false)],
            ),
            (Runs, vec!["metrics.a DESC"], vec![o(M, "a", false)]),
            (Runs, vec!["metrics.`a b` DESC"], vec![o(M, "a b", false)]),
            (Runs, vec!["metrics.\"a b\" ASC"], vec![o(M, "a b", true)]),
            (Runs, vec!["params.a"], vec![o(P, "a", true)]),
            (
                Runs,
                vec!["tags.`mlflow.runName`"],
                vec![o(T, "mlflow.runName", true)],
            ),
            (
                Runs,
                vec!["tags.mlflow.runName DESC"],
                vec![o(T, "mlflow.runName", false)],
            ),
            (
                Runs,
                vec!["attributes.start_time"],
                vec![o(A, "start_time", true)],
            ),
            (Runs, vec!["attr.run_name"], vec![o(A, "run_name", true)]),
            (Runs, vec!["run_name"], vec![o(A, "run_name", true)]),
            (Runs, vec!["created DESC"], vec![o(A, "start_time", false)]),
            (Runs, vec!["Created"], vec![o(A, "start_time", true)]),
            (Runs, vec!["\"start_time\""], vec![o(A, "start_time", true)]),
            (
                Runs,
                vec!["`start_time` DESC"],
                vec![o(A, "start_time", false)],
            ),
            (Runs, vec!["`Run Name`"], vec![o(A, "run_name", true)]),
            (
                Runs,
                vec!["metrics.a", "params.a", "tags.a", "end_time DESC"],
                vec![
                    o(M, "a", true),
                    o(P, "a", true),
                    o(T, "a", true),
                    o(A, "end_time", false),
                ],
            ),
            (
                Runs,
                vec!["user_id", "status", "artifact_uri", "run_id"],
                vec![
                    o(A, "user_id", true),
                    o(A, "status", true),
                    o(A, "artifact_uri", true),
                    o(A, "run_id", true),
                ],
            ),
            (Exp, vec!["name"], vec![o(A, "name", true)]),
            (
                Exp,
                vec!["experiment_id ASC"],
                vec![o(A, "experiment_id", true)],
            ),
            (
                Exp,
                vec!["creation_time DESC"],
                vec![o(A, "creation_time", false)],
            ),
            (
                Exp,
                vec!["last_update_time"],
                vec![o(A, "last_update_time", true)],
            ),
            (Exp, vec!["attribute.name DESC"], vec![o(A, "name", false)]),
            (
                Exp,
                vec!["name", "name DESC"],
                vec![o(A, "name", true), o(A, "name", false)],
            ),
            (Rm, vec!["name"], vec![o(A, "name", true)]),
            (Rm, vec!["`name` DESC"], vec![o(A, "name", false)]),
            (
                Rm,
                vec!["timestamp"],
                vec![o(A, "last_updated_timestamp", true)],
            ),
            (
                Rm,
                vec!["timestamp DESC"],
                vec![o(A, "last_updated_timestamp", false)],
            ),
            (
                Rm,
                vec!["last_updated_timestamp DESC"],
                vec![o(A, "last_updated_timestamp", false)],
            ),
            (
                Rm,
                vec!["creation_timestamp"],
                vec![o(A, "creation_timestamp", true)],
            ),
            (
                Rm,
                vec!["name DESC", "timestamp"],
                vec![o(A, "name", false), o(A, "last_updated_timestamp", true)],
            ),
            (Mv, vec!["name"], vec![o(A, "name", true)]),
            (
                Mv,
                vec!["version_number DESC"],
                vec![o(A, "version_number", false)],
            ),
            (
                Mv,
                vec!["creation_timestamp"],
                vec![o(A, "creation_timestamp", true)],
            ),
            (
                Mv,
                vec![
                    "last_updated_timestamp DESC",
                    "name ASC",
                    "version_number DESC",
                ],
                vec![
                    o(A, "last_updated_timestamp", false),
                    o(A, "name", true),
                    o(A, "version_number", false),
                ],
            ),
            (
                Lm,
                vec!["creation_time DESC"],
                vec![o(A, "creation_timestamp", false)],
            ),
            (Lm, vec!["metrics.acc"], vec![o(M, "acc", true)]),
            (
                Lm,
                vec!["name ASC", "model_id"],
                vec![o(A, "name", true), o(A, "model_id", true)],
            ),
        ];
        let mut failures = Vec::new();
        for (kind, clauses, expected) in cases {
            match parse_order_by(kind, &strings(&clauses)) {
                Ok(got) if got == expected => {}
                Ok(got) => failures.push(format!("{kind:?} {clauses:?}: got {got:?}")),
                Err(e) => failures.push(format!("{kind:?} {clauses:?} rejected: {}", e.message)),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn rejected_order_by() {
        let cases: Vec<(SearchKind, Vec<&str>, &str)> = vec![
            (Runs, vec!["start_time ASC DESC"], "Invalid order_by clause 'start_time ASC DESC'. Could not be parsed."),
            (Runs, vec!["start_time ASC DESC"], "at position 15: expected end of clause, found 'DESC'"),
            (Runs, vec!["start_time DOWN"], "Invalid ordering key in order_by clause 'start_time DOWN'."),
            (Runs, vec![""], "Invalid order_by clause ''. Could not be parsed."),
            (Runs, vec!["   "], "Invalid order_by clause '   '. Could not be parsed."),
            (Runs, vec!["start_time,end_time"], "Invalid order_by clause 'start_time,end_time'. Could not be parsed."),
            (Runs, vec!["start_time;"], "Invalid order_by clause 'start_time;'. Could not be parsed."),
            (Runs, vec!["(start_time)"], "Invalid order_by clause '(start_time)'. Could not be parsed."),
            (Runs, vec!["start_time DESC NULLS LAST"], "Could not be parsed."),
            (Runs, vec!["metrics.a-b"], "Invalid order_by clause 'metrics.a-b'. Could not be parsed."),
            (Runs, vec!["'start_time'"], "Invalid order_by clause ''start_time''. Could not be parsed."),
            (Runs, vec!["start_time 5"], "Could not be parsed. (at position 11: expected ASC or DESC"),
            (Runs, vec!["metrics.`a"], "Could not be parsed. (at position 8: unterminated"),
            (
                Runs,
                vec!["start_time", "created"],
                "`order_by` contains duplicate fields: ['start_time', 'created']",
            ),
            (
                Runs,
                vec!["start_time", "start_time DESC"],
                "`order_by` contains duplicate fields: ['start_time', 'start_time DESC']",
            ),
            (Runs, vec!["metrics.a", "metrics.`a`"], "`order_by` contains duplicate fields"),
            (Runs, vec!["foo"], "Invalid attribute key 'foo' specified. Valid keys are '{'run_id', "),
            (Runs, vec!["attributes.foo"], "Invalid attribute key 'foo' specified."),
            (Runs, vec!["name"], "Invalid attribute key 'name' specified."),
            (Runs, vec!["datasets.name"], "Invalid identifier type 'dataset'"),
            (Runs, vec!["Metrics.a"], "Invalid entity type 'Metrics'."),
            (Exp, vec!["tags.a"], "Invalid order_by entity: tag"),
            (Exp, vec!["params.a"], "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"),
            (
                Exp,
                vec!["start_time"],
                "Invalid attribute key 'start_time' specified. Valid keys are '{'name', \
                 'experiment_id', 'creation_time', 'last_update_time'}'",
            ),
            (Exp, vec!["start_time DOWN"], "Invalid ordering key in order_by clause 'start_time DOWN'."),
            (
                Rm,
                vec!["start_time"],
                "Invalid order by key 'start_time' specified. Valid keys are '{'name', 'timestamp'}'",
            ),
            (Rm, vec!["tags.a"], "Invalid order by key 'tags.a' specified."),
            (Rm, vec!["metrics.a DESC"], "Invalid order by key 'metrics.a' specified."),
            (Rm, vec!["name", "name"], "`order_by` contains duplicate fields: ['name', 'name']"),
            (
                Rm,
                vec!["timestamp", "last_updated_timestamp"],
                "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp']",
            ),
            (
                Mv,
                vec!["tags.a"],
                "Invalid order by key 'a' specified. Valid keys are {'name', 'version_number', \
                 'creation_timestamp', 'last_updated_timestamp'}",
            ),
            (Mv, vec!["timestamp"], "Invalid attribute key 'timestamp' specified."),
            (Mv, vec!["metrics.a"], "Invalid entity type 'metrics'."),
            (Mv, vec!["name", "name DESC"], "`order_by` contains duplicate fields: ['name', 'name DESC']"),
            (
                Lm,
                vec!["params.a"],
                "Invalid order by field name: params, only `metrics.<name>` is allowed.",
            ),
            (Lm, vec!["datasets.a"], "Invalid order by field name: datasets, only `metrics.<name>` is allowed."),
            (Lm, vec!["foo"], "Invalid order by field name: foo."),
        ];
        let mut failures = Vec::new();
        for (kind, clauses, expected) in cases {
            match parse_order_by(kind, &strings(&clauses)) {
                Ok(got) => failures.push(format!("{kind:?} {clauses:?} accepted: {got:?}")),
                Err(e) if e.code != ErrorCode::INVALID_PARAMETER_VALUE => {
                    failures.push(format!("{kind:?} {clauses:?}: code {:?}", e.code))
                }
                Err(e) if !e.message.contains(expected) => failures.push(format!(
                    "{kind:?} {clauses:?}:\n  message:  {}\n  expected: {expected}",
                    e.message
                )),
                Err(_) => {}
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn logged_model_structured_order_fields() {
        let ok = |field: &str, asc: bool| parse_logged_model_order_field(field, asc);
        assert_eq!(
            ok("metrics.my metric", true).unwrap(),
            o(M, "my metric", true)
        );
        assert_eq!(ok("metrics.a.b", false).unwrap(), o(M, "a.b", false));
        assert_eq!(
            ok("creation_time", false).unwrap(),
            o(A, "creation_timestamp", false)
        );
        assert_eq!(ok(" name ", true).unwrap(), o(A, "name", true));
        assert_eq!(
            ok("last_updated_timestamp", true).unwrap(),
            o(A, "last_updated_timestamp", true)
        );
        assert_eq!(
            ok("params.x", true).unwrap_err().message,
            "Invalid order by field name: params, only `metrics.<name>` is allowed."
        );
        assert_eq!(
            ok("foo", true).unwrap_err().message,
            "Invalid order by field name: foo."
        );
    }

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("a\\b\n"), "'a\\\\b\\n'");
        assert_eq!(py_repr("\u{1}é"), "'\\x01é'");
        assert_eq!(py_list(&["a", "it's"]), "['a', \"it's\"]");
        assert_eq!(py_set(&["a", "b"]), "{'a', 'b'}");
    }

    #[test]
    fn comparator_names_round_trip() {
        use Cmp::*;
        for cmp in [
            Eq, Ne, Lt, Le, Gt, Ge, Like, ILike, In, NotIn, IsNull, IsNotNull,
        ] {
            assert_eq!(Cmp::from_op(cmp.as_str()), Some(cmp));
            assert_eq!(cmp.to_string(), cmp.as_str());
        }
        assert_eq!(Entity::Param.to_string(), "parameter");
    }

    /// A tiny deterministic PRNG (xorshift64*), so the fuzz test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const KINDS: [SearchKind; 5] = [Runs, Exp, Rm, Mv, Lm];

    /// Feeds random fragments, random characters and every prefix of valid filters to
    /// both parsers: each call must return (Ok or Err) without panicking.
    #[test]
    fn never_panics_on_garbage() {
        let fragments = [
            "metrics",
            "params",
            "tags",
            "attributes",
            "datasets",
            "run_id",
            "name",
            ".",
            "..",
            "`",
            "``",
            "'",
            "''",
            "\"",
            "\\",
            "\\'",
            "(",
            ")",
            "()",
            ",",
            ";",
            " ",
            "\t",
            "\n",
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "==",
            "<>",
            "~",
            "!",
            "AND",
            "and",
            "OR",
            "NOT",
            "IN",
            "NOT IN",
            "IS",
            "NULL",
            "IS NOT NULL",
            "LIKE",
            "ILIKE",
            "-",
            "+",
            "1",
            "1.5",
            "-2e-3",
            ".5",
            "1e",
            "0x1f",
            "'x'",
            "\"y\"",
            "`z`",
            "('a', 'b')",
            "(1,",
            "é",
            "日本",
            "🦀",
            "\u{0}",
            "\u{202e}",
            "\u{feff}",
            "a",
            "_",
            "%",
            "created",
            "timestamp",
            "DESC",
            "asc",
            "version_number",
            "creation_time",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = rng.below(12);
            let mut input = String::new();
            for _ in 0..len {
                if rng.below(5) == 0 {
                    // A random code point (surrogates are skipped by from_u32).
                    let cp = (rng.next() % 0x11_0000) as u32;
                    input.extend(char::from_u32(cp));
                } else {
                    input.push_str(fragments[rng.below(fragments.len())]);
                }
                if rng.below(2) == 0 {
                    input.push(' ');
                }
            }
            for kind in KINDS {
                let _ = parse_filter(kind, &input);
                let _ = parse_order_by(kind, &[input.clone(), "name".to_string()]);
            }
            let _ = parse_logged_model_order_field(&input, true);
        }

        let valid = [
            "metrics.a > 1 AND params.b = 'x' AND tags.`c d` LIKE '%e%'",
            "run_id IN ('a', \"b\", 'c\\'d') AND attributes.status != 'FAILED'",
            "tags.\"x.y\" IS NOT NULL AND datasets.context = 'train' AND created >= -1.5e3",
            "params.a = 'it''s' AND `Run Name` ILIKE 'é日本🦀%'",
            "version_number = '3' AND name NOT IN ('m') AND tags.k = \"v\"",
        ];
        for filter in valid {
            let chars: Vec<char> = filter.chars().collect();
            for end in 0..=chars.len() {
                let prefix: String = chars[..end].iter().collect();
                let suffix: String = chars[end..].iter().collect();
                for kind in KINDS {
                    let _ = parse_filter(kind, &prefix);
                    let _ = parse_filter(kind, &suffix);
                    let _ = parse_order_by(kind, std::slice::from_ref(&prefix));
                }
            }
        }
    }

    /// Pathological inputs stay fast (no quadratic blow-up on long garbage).
    #[test]
    fn long_garbage_is_handled() {
        let inputs = [
            "(".repeat(50_000),
            "'".repeat(50_001),
            "`a".repeat(30_000),
            "x = ".repeat(20_000),
            "AND ".repeat(30_000),
            format!("run_id IN ({})", "'a', ".repeat(20_000)),
            "metrics.a > 1 ".repeat(10_000),
        ];
        for input in &inputs {
            for kind in KINDS {
                let _ = parse_filter(kind, input);
            }
        }
        let many = parse_filter(Runs, &"metrics.a > 1 AND ".repeat(5_000)).unwrap();
        assert_eq!(many.len(), 5_000);
    }
}
