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

mod compare;
mod lexer;
mod order_by;
mod parser;
mod python;
mod raw;
mod resolve;
mod tables;
#[cfg(test)]
mod tests;
mod types;

pub use raw::{parse_raw_filter, parse_raw_order_by, RawComparison, RawFilterValue};
pub use types::{Clause, Cmp, Entity, Ident, OrderBy, SearchKind, Value};

use crate::error::MlflowError;
use compare::check_comparator;
use order_by::{parse_order_by_syntax, resolve_order_by_ident};
use parser::{check_single_statement, parse_raw_clauses, syntax_failure};
use python::py_list;
use resolve::resolve_clause;
use tables::canonical_logged_model_attr;

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
