//! Registered model aliases.

use mlox_core::registry::*;
use mlox_core::{MlflowError, Result};

use crate::db::{Conn, RowView};

use super::loading::{full_version, mv_row, rm_row};
use super::models::get_latest_versions;

pub(crate) fn set_registered_model_alias(
    c: &mut dyn Conn,
    name: &str,
    alias: &str,
    version: &str,
) -> Result<()> {
    validate_model_name(name)?;
    validate_alias_name(alias)?;
    validate_alias_not_reserved(alias)?;
    let number = parse_model_version(version)?;
    mv_row(c, name, version)?;
    c.execute(
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        &[name.into(), alias.into(), number.into()],
    )?;
    Ok(())
}

pub(crate) fn delete_registered_model_alias(
    c: &mut dyn Conn,
    name: &str,
    alias: &str,
) -> Result<()> {
    validate_model_name(name)?;
    validate_alias_name(alias)?;
    rm_row(c, name)?;
    c.execute(
        "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
        &[name.into(), alias.into()],
    )?;
    Ok(())
}

pub(crate) fn get_model_version_by_alias(
    c: &mut dyn Conn,
    name: &str,
    alias: &str,
) -> Result<ModelVersion> {
    validate_model_name(name)?;
    validate_alias_name(alias)?;
    if alias.eq_ignore_ascii_case("latest") {
        let latest = get_latest_versions(c, name, vec![])?;
        let best = latest
            .into_iter()
            .max_by_key(|v| v.version)
            .ok_or_else(|| {
                MlflowError::not_found(format!("Latest version not found for model {name}."))
            })?;
        return Ok(best);
    }
    rm_row(c, name)?;
    let row = c.query_opt(
        "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
        &[name.into(), alias.into()],
    )?;
    match row {
        Some(r) => full_version(c, name, &r.int(0)?.to_string()),
        // MLflow answers INVALID_PARAMETER_VALUE (400) here, not RESOURCE_DOES_NOT_EXIST.
        None => Err(MlflowError::invalid(format!(
            "Registered model alias {alias} not found."
        ))),
    }
}
