//! Semantics, second pass: comparators checked per identifier, giving the final [`Clause`].

use crate::error::MlflowError;

use super::python::{py_repr, py_set};
use super::resolve::{is_numeric_attr, Pending};
use super::tables::{
    is_numeric_run_attr, LOGGED_MODEL_NUMERIC_OPS, LOGGED_MODEL_STRING_OPS, METRIC_CMPS,
    PARAM_TAG_CMPS, STRING_ATTR_CMPS,
};
use super::types::{Clause, Cmp, Entity, SearchKind, Value};

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
pub(super) fn logged_model_cmp(entity: Entity, key: &str, op: &str) -> Result<Cmp, MlflowError> {
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
pub(super) fn check_comparator(kind: SearchKind, p: Pending) -> Result<Clause, MlflowError> {
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
