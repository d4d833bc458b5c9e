//! Semantics, first pass: identifiers and values resolved per search endpoint.

use crate::error::MlflowError;

use super::compare::logged_model_cmp;
use super::lexer::Scanner;
use super::parser::{RawClause, RawIdent, RawValue};
use super::python::{py_list, py_repr, py_set};
use super::tables::{
    canonical_logged_model_attr, canonical_run_attr, is_numeric_run_attr, lookup, DATASET_KEYS,
    EXPERIMENT_KEYS, LOGGED_MODEL_KEYS, MODEL_VERSION_FILTER_KEYS, MODEL_VERSION_NUMERIC_KEYS,
    REGISTERED_MODEL_FILTER_KEYS, RUN_FILTER_KEYS,
};
use super::types::{Entity, Ident, SearchKind, Value};

/// A clause whose identifier and value are resolved but whose comparator is unchecked.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) ident: Ident,
    pub(super) op: String,
    pub(super) value: Value,
    /// For numeric literals: whether it was written as an integer.
    pub(super) is_int: bool,
    /// The value as written.
    pub(super) value_text: String,
}

/// Entity resolution for runs (`SearchUtils._valid_entity_type`).
pub(super) fn run_entity(word: &str) -> Result<Entity, MlflowError> {
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
pub(super) fn attr_or_tag_entity(word: &str) -> Result<Entity, MlflowError> {
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
pub(super) fn logged_model_entity(word: &str) -> Result<Entity, MlflowError> {
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

pub(super) fn invalid_attribute_key(key: &str, valid: &[&str]) -> MlflowError {
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
pub(super) fn is_numeric_attr(kind: SearchKind, canonical: &str) -> bool {
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
pub(super) fn parse_list_items(
    text: &str,
    numbers_as_text: bool,
) -> Result<Vec<String>, MlflowError> {
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
pub(super) fn resolve_clause(kind: SearchKind, raw: &RawClause) -> Result<Pending, MlflowError> {
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
