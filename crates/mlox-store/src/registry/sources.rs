//! A new version's source resolved and checked against this database's runs and models.

use mlox_core::entities::LIFECYCLE_ACTIVE;
use mlox_core::registry::*;
use mlox_core::{MlflowError, Result};

use crate::db::{Conn, DbError, RowView};

use super::aliases::get_model_version_by_alias;
use super::models::get_latest_versions;

fn run_artifact_uri(c: &mut dyn Conn, run_id: &str) -> Result<Option<String>> {
    Ok(c.query_opt(
        "SELECT artifact_uri FROM runs WHERE run_uuid = ?",
        &[run_id.into()],
    )?
    .map(|r| r.text(0))
    .transpose()?)
}

pub(super) fn logged_model_location(
    c: &mut dyn Conn,
    model_id: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(c.query_opt(
        "SELECT artifact_location, source_run_id FROM logged_models WHERE model_id = ? AND lifecycle_stage = ?",
        &[model_id.into(), LIFECYCLE_ACTIVE.into()],
    )?
    .map(|r| Ok::<_, DbError>((r.text(0)?, r.opt_text(1)?)))
    .transpose()?)
}

fn local_path(uri: &str) -> String {
    let path = match uri_scheme(uri) {
        Some(s) if s.eq_ignore_ascii_case("file") => {
            let rest = &uri[s.len() + 1..];
            match rest.strip_prefix("//") {
                Some(after) => after.find('/').map_or("", |i| &after[i..]),
                None => rest,
            }
        }
        _ => uri,
    };
    mlox_core::validation::posix_normpath(path)
}

fn local_within(source: &str, root: &str) -> bool {
    let (s, r) = (local_path(source), local_path(root));
    s == r || s.starts_with(&format!("{}/", r.trim_end_matches('/')))
}

/// `_validate_source_run`: the source must lie in the run named by `run_id`.
pub(super) fn validate_source_run(c: &mut dyn Conn, source: &str, run_id: &str) -> Result<()> {
    if is_local_uri(source) {
        if !run_id.is_empty() {
            let root =
                run_artifact_uri(c, run_id)?.ok_or_else(|| invalid_source_for(source, "run_id"))?;
            if is_local_uri(&root) && local_within(source, &root) {
                return Ok(());
            }
        }
        return Err(MlflowError::invalid(format!(
            "Invalid model version source: '{}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.",
            local_path(source)
        )));
    }
    validate_source_has_no_relative_paths(source)?;
    let scheme = uri_scheme(source).unwrap_or("").to_ascii_lowercase();
    if scheme == "runs" {
        if source.starts_with("runs://") && !source.starts_with("runs:///") {
            return Err(invalid_source_for(source, "run_id"));
        }
        match runs_uri_run_id(source) {
            Some(id) if !run_id.is_empty() && id == run_id => return Ok(()),
            _ => return Err(invalid_source_for(source, "run_id")),
        }
    }
    if scheme == "models" {
        if source.starts_with("models://") {
            return Err(invalid_source_for(source, "model_id"));
        }
        match parse_model_uri(source) {
            Ok(ModelUri::ModelId(_)) | Err(_) => {
                return Err(invalid_source_for(source, "model_id"))
            }
            Ok(_) => {}
        }
    }
    if is_mlflow_artifact_source(source) {
        if !run_id.is_empty() {
            let root =
                run_artifact_uri(c, run_id)?.ok_or_else(|| invalid_source_for(source, "run_id"))?;
            if is_uri_within_root(source, &root) {
                return Ok(());
            }
        }
        return Err(invalid_source_for(source, "run_id"));
    }
    Ok(())
}

/// `_validate_source_model`: the source must lie in the logged model named by `model_id`.
pub(super) fn validate_source_model(c: &mut dyn Conn, source: &str, model_id: &str) -> Result<()> {
    if is_local_uri(source) {
        let root = logged_model_location(c, model_id)?
            .ok_or_else(|| invalid_source_for(source, "model_id"))?
            .0;
        if is_local_uri(&root) && local_within(source, &root) {
            return Ok(());
        }
        return Err(MlflowError::invalid(format!(
            "Invalid model version source: '{}'. To use a local path as a model version source, the model_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the model_id.",
            local_path(source)
        )));
    }
    validate_source_has_no_relative_paths(source)?;
    let scheme = uri_scheme(source).unwrap_or("").to_ascii_lowercase();
    if scheme == "models" {
        if source.starts_with("models://") {
            return Err(invalid_source_for(source, "model_id"));
        }
        match parse_model_uri(source) {
            Err(_) => return Err(invalid_source_for(source, "model_id")),
            Ok(ModelUri::ModelId(id)) => {
                return if id == model_id {
                    Ok(())
                } else {
                    Err(invalid_source_for(source, "model_id"))
                }
            }
            Ok(_) => {}
        }
    }
    if scheme == "runs" {
        return Err(invalid_source_for(source, "model_id"));
    }
    if is_mlflow_artifact_source(source) {
        let root = logged_model_location(c, model_id)?
            .ok_or_else(|| invalid_source_for(source, "model_id"))?
            .0;
        if is_uri_within_root(source, &root) {
            return Ok(());
        }
        return Err(invalid_source_for(source, "model_id"));
    }
    Ok(())
}

/// Resolves `models:/<name>/<version|stage|latest>` and `models:/<name>@<alias>` to a version number.
pub(super) fn resolve_registered_source(
    c: &mut dyn Conn,
    uri: &ModelUri,
    source: &str,
) -> Result<(String, i64)> {
    let (name, version) = match uri {
        ModelUri::ModelId(_) => return Err(invalid_source_for(source, "model_id")),
        ModelUri::Version { name, version } => (name.clone(), parse_model_version(version)?),
        ModelUri::Alias { name, alias } => {
            let v = get_model_version_by_alias(c, name, alias)?;
            (name.clone(), v.version)
        }
        ModelUri::Stage { name, stage } => {
            let latest = get_latest_versions(c, name, vec![stage.clone()])?;
            let v = latest.iter().map(|v| v.version).max().ok_or_else(|| {
                MlflowError::internal(format!(
                    "No versions of model with name '{name}' and stage '{stage}' found"
                ))
            })?;
            (name.clone(), v)
        }
        ModelUri::Latest { name } => {
            let latest = get_latest_versions(c, name, vec![])?;
            let v = latest.iter().map(|v| v.version).max().ok_or_else(|| {
                MlflowError::internal(format!("No versions of model with name '{name}' found"))
            })?;
            (name.clone(), v)
        }
    };
    Ok((name, version))
}
