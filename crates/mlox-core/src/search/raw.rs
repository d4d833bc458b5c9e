//! Raw comparisons, for grammars resolved elsewhere (trace search: `trace_search.rs`).

use crate::error::MlflowError;

use super::order_by::parse_order_by_syntax;
use super::parser::{parse_raw_clauses, RawValue};
use super::resolve::parse_list_items;

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
/// the upper-cased operator and the value. The same scanner as [`parse_filter`](super::parse_filter).
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
