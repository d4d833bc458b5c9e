//! Syntax: a filter string into raw clauses (identifier, operator, value), not yet resolved.

use crate::error::MlflowError;

use super::lexer::{is_op_char, is_word_char, Scanner, SyntaxError};
use super::python::py_repr;
use super::types::SearchKind;

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
pub(super) struct RawIdent {
    parts: Vec<Part>,
    /// Source text, for messages.
    pub(super) text: String,
}

impl RawIdent {
    /// Splits into (entity as written, key). A single part is a bare key.
    ///
    /// The entity keeps double/single quotes (MLflow only strips backticks from it).
    /// The key is the remaining parts' source joined by dots with one enclosing pair of
    /// quotes removed, as MLflow does (`tags.mlflow.runName` → `mlflow.runName`,
    /// ``tags.`a b` `` → `a b`).
    pub(super) fn split(&self) -> (Option<String>, String) {
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
pub(super) enum RawValue {
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
pub(super) struct RawClause {
    pub(super) ident: RawIdent,
    /// Upper-cased operator, words separated by one space (`"NOT IN"`, `"=="`).
    pub(super) op: String,
    pub(super) value: RawValue,
    /// The value's source text (for messages and list parsing).
    pub(super) value_text: String,
}

/// Why the syntactic pass failed: the stretches of input that are not comparisons
/// (as MLflow lists them) and the first precise error.
#[derive(Debug)]
pub(super) struct SyntaxFailure {
    pub(super) invalid: Vec<String>,
    truncated: bool,
    pub(super) first: SyntaxError,
}

/// Upper bound on the number of unparseable stretches collected for one message.
const MAX_INVALID_TOKENS: usize = 20;

/// Splits the filter into raw comparisons. Like `sqlparse`, every stretch of input that
/// cannot start a comparison (and is not the keyword `AND`) is collected as invalid.
pub(super) fn parse_raw_clauses(chars: &[char]) -> Result<Vec<RawClause>, SyntaxFailure> {
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
pub(super) fn parse_ident(sc: &mut Scanner<'_>) -> Result<RawIdent, SyntaxError> {
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
pub(super) fn check_single_statement(
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
pub(super) fn syntax_failure(kind: SearchKind, filter: &str, fail: SyntaxFailure) -> MlflowError {
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
