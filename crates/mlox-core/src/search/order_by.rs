//! `order_by` clauses: syntax and identifier resolution.

use crate::error::MlflowError;

use super::lexer::{Scanner, SyntaxError};
use super::parser::{parse_ident, RawIdent};
use super::python::py_set;
use super::resolve::{attr_or_tag_entity, invalid_attribute_key, logged_model_entity, run_entity};
use super::tables::{
    canonical_logged_model_attr, canonical_run_attr, lookup, EXPERIMENT_KEYS,
    MODEL_VERSION_ORDER_KEYS, REGISTERED_MODEL_ORDER_KEYS_SHOWN, RUN_ORDER_KEYS,
};
use super::types::{Entity, Ident, SearchKind};

/// Parses `<identifier> [ASC|DESC]`; returns the raw identifier and the direction.
pub(super) fn parse_order_by_syntax(clause: &str) -> Result<(RawIdent, bool), MlflowError> {
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
pub(super) fn resolve_order_by_ident(
    kind: SearchKind,
    raw: &RawIdent,
) -> Result<Ident, MlflowError> {
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
