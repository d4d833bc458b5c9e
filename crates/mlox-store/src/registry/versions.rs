//! Model versions: create, update, stage transitions, delete, download URI, search, tags.

use mlox_core::entities::{Page, Tag};
use mlox_core::registry::*;
use mlox_core::{page_token, ErrorCode, MlflowError, Result};

use crate::db::{Conn, DbError, RowView, SqlValue};
use crate::tracking::now_ms;
use crate::{logged_models, search_sql};

use super::loading::{
    full_version, get_registered_model, load_version_tags, mv_from_row, mv_row, MV_COLUMNS,
};
use super::models::{check_registry_max_results, dedup_tags};
use super::sources::{
    logged_model_location, resolve_registered_source, validate_source_model, validate_source_run,
};
use super::{rm_not_found, SourcePolicy};

pub(crate) fn create_model_version(
    c: &mut dyn Conn,
    policy: &SourcePolicy,
    req: NewModelVersion,
) -> Result<ModelVersion> {
    let is_prompt = is_prompt_tags(&req.tags);
    let mut source = req.source.clone();
    if is_prompt && source != "dummy-source" && source != "prompt-template" {
        return Err(MlflowError::invalid(format!(
            "Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
        )));
    }
    if let Some(scheme) =
        rejected_host_addressed_scheme(&source, &policy.allowed_host_schemes, &policy.artifact_root)
    {
        return Err(MlflowError::invalid(host_addressed_rejection_message(
            &scheme, "source",
        )));
    }
    let mut run_id = req.run_id.clone().unwrap_or_default();
    let mut model_id = req.model_id.clone().unwrap_or_default();
    if !is_prompt {
        // `_resolve_registered_model_source_lineage`: a version made from another version
        // inherits its run and logged model.
        if uri_scheme(&source).is_some_and(|s| s.eq_ignore_ascii_case("models")) {
            if source.starts_with("models://") {
                return Err(MlflowError::invalid(format!(
                    "Invalid model version source: '{source}'. Registered model sources must use the active model registry."
                )));
            }
            let parsed =
                parse_model_uri(&source).map_err(|_| invalid_source_for(&source, "model_id"))?;
            if !matches!(parsed, ModelUri::ModelId(_)) {
                let source_name = match &parsed {
                    ModelUri::Version { name, .. }
                    | ModelUri::Stage { name, .. }
                    | ModelUri::Latest { name }
                    | ModelUri::Alias { name, .. } => name.clone(),
                    ModelUri::ModelId(_) => unreachable!("checked above"),
                };
                if get_registered_model(c, &source_name)?.is_prompt() {
                    return Err(MlflowError::invalid(format!(
                        "Invalid model version source: '{source}'. Prompt versions cannot be used as model version sources."
                    )));
                }
                let (name, number) = resolve_registered_source(c, &parsed, &source)?;
                let referenced = mv_row(c, &name, &number.to_string())?;
                let ref_run = referenced.run_id.clone().unwrap_or_default();
                let ref_model = referenced.model_id.clone().unwrap_or_default();
                if (req.run_id.is_some() && run_id != ref_run)
                    || (req.model_id.is_some() && model_id != ref_model)
                {
                    return Err(MlflowError::invalid(format!(
                        "Invalid model version source: '{source}'. The run_id and model_id request parameters must match the referenced model version."
                    )));
                }
                source = format!("models:/{name}/{number}");
                if req.run_id.is_none() {
                    run_id = ref_run;
                }
                if req.model_id.is_none() {
                    model_id = ref_model;
                }
            }
        }
        if !model_id.is_empty() {
            validate_source_model(c, &source, &model_id)?;
        } else {
            validate_source_run(c, &source, &run_id)?;
        }
    }

    validate_model_name(&req.name)?;
    for t in &req.tags {
        validate_model_version_tag(&t.key, &t.value)?;
    }
    let mut storage_location = source.clone();
    if uri_scheme(&source).is_some_and(|s| s.eq_ignore_ascii_case("models")) {
        let unable = |e: MlflowError| {
            MlflowError::internal(format!(
                "Unable to fetch model from model URI source artifact location '{source}'.Error: {}",
                e.message
            ))
        };
        match parse_model_uri(&source).map_err(unable)? {
            ModelUri::ModelId(id) => {
                let (location, source_run) = logged_model_location(c, &id)?.ok_or_else(|| {
                    unable(MlflowError::not_found(format!(
                        "Logged model with ID '{id}' not found."
                    )))
                })?;
                storage_location = location;
                if run_id.is_empty() {
                    run_id = source_run.unwrap_or_default();
                }
            }
            parsed => {
                let (name, number) =
                    resolve_registered_source(c, &parsed, &source).map_err(unable)?;
                storage_location = get_model_version_download_uri(c, &name, &number.to_string())
                    .map_err(unable)?;
            }
        }
    }
    if run_id.is_empty() && !model_id.is_empty() {
        let (_, source_run) = logged_model_location(c, &model_id)?.ok_or_else(|| {
            MlflowError::not_found(format!("Logged model with ID '{model_id}' not found."))
        })?;
        run_id = source_run.unwrap_or_default();
    }

    // Taking the registered model's row first serializes concurrent creations of versions
    // of one model on PostgreSQL, so `MAX(version) + 1` is safe.
    let now = now_ms();
    let locked = c.execute(
        "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
        &[now.into(), req.name.as_str().into()],
    )?;
    if locked == 0 {
        return Err(rm_not_found(&req.name));
    }
    let version = c
        .query_opt(
            "SELECT MAX(version) FROM model_versions WHERE name = ?",
            &[req.name.as_str().into()],
        )?
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(0)
        + 1;
    // A version made from a `runs:/` or artifact source keeps an empty `model_id`, as in MLflow.
    let stored_model_id = Some(model_id.clone()).filter(|m| !m.is_empty());
    c.execute(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message, model_id) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, NULL, ?)",
        &[
            req.name.as_str().into(),
            version.into(),
            now.into(),
            now.into(),
            req.description.clone().unwrap_or_default().into(),
            STAGE_NONE.into(),
            source.as_str().into(),
            storage_location.into(),
            run_id.as_str().into(),
            req.run_link.clone().unwrap_or_default().into(),
            MODEL_VERSION_STATUS_READY.into(),
            stored_model_id.into(),
        ],
    )?;
    for t in dedup_tags(req.tags) {
        c.execute(
            "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)",
            &[
                req.name.as_str().into(),
                version.into(),
                t.key.into(),
                t.value.into(),
            ],
        )?;
    }
    if !is_prompt && !model_id.is_empty() {
        logged_models::add_model_version_to_tag(c, &model_id, &req.name, version)?;
    }
    full_version(c, &req.name, &version.to_string())
}

pub(crate) fn get_model_version(
    c: &mut dyn Conn,
    name: &str,
    version: &str,
) -> Result<ModelVersion> {
    full_version(c, name, version)
}

pub(crate) fn update_model_version(
    c: &mut dyn Conn,
    name: &str,
    version: &str,
    description: Option<String>,
) -> Result<ModelVersion> {
    let v = mv_row(c, name, version)?;
    c.execute(
        "UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?",
        &[description.into(), now_ms().into(), name.into(), v.version.into()],
    )?;
    full_version(c, name, version)
}

pub(crate) fn transition_model_version_stage(
    c: &mut dyn Conn,
    name: &str,
    version: &str,
    stage: &str,
    archive_existing_versions: bool,
) -> Result<ModelVersion> {
    let stage = canonical_stage(stage)?;
    let is_active_stage = stage == STAGE_STAGING || stage == STAGE_PRODUCTION;
    if archive_existing_versions && !is_active_stage {
        // MLflow raises this without an error code, so clients see INTERNAL_ERROR (500).
        return Err(MlflowError::new(
            ErrorCode::INTERNAL_ERROR,
            format!(
                "Model version transition cannot archive existing model versions because '{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']"
            ),
        ));
    }
    let v = mv_row(c, name, version)?;
    let now = now_ms();
    if archive_existing_versions {
        c.execute(
            "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version != ? AND current_stage = ?",
            &[STAGE_ARCHIVED.into(), now.into(), name.into(), v.version.into(), stage.into()],
        )?;
    }
    c.execute(
        "UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?",
        &[stage.into(), now.into(), name.into(), v.version.into()],
    )?;
    c.execute(
        "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
        &[now.into(), name.into()],
    )?;
    full_version(c, name, version)
}

pub(crate) fn delete_model_version(c: &mut dyn Conn, name: &str, version: &str) -> Result<()> {
    let number = parse_model_version(version)?;
    let v = mv_row(c, name, version)?;
    let now = now_ms();
    c.execute(
        "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
        &[now.into(), name.into()],
    )?;
    c.execute(
        "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?",
        &[name.into(), number.into()],
    )?;
    // Kept, redacted, so that version numbers are never reused (MLflow keeps the tags too).
    c.execute(
        "UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', status_message = NULL WHERE name = ? AND version = ?",
        &[STAGE_DELETED_INTERNAL.into(), now.into(), name.into(), v.version.into()],
    )?;
    Ok(())
}

pub(crate) fn get_model_version_download_uri(
    c: &mut dyn Conn,
    name: &str,
    version: &str,
) -> Result<String> {
    let v = mv_row(c, name, version)?;
    let row = c.query_opt(
        "SELECT storage_location, source FROM model_versions WHERE name = ? AND version = ?",
        &[name.into(), v.version.into()],
    )?;
    let Some(r) = row else {
        return Ok(String::new());
    };
    Ok(match r.opt_text(0)? {
        None => String::new(),
        Some(location) if !location.is_empty() => location,
        Some(_) => r.opt_text(1)?.unwrap_or_default(),
    })
}

pub(crate) fn search_model_versions(
    c: &mut dyn Conn,
    req: RegistrySearchRequest,
) -> Result<Page<ModelVersion>> {
    let max_results = req
        .max_results
        .unwrap_or(SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT);
    check_registry_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)?;
    let query = search_sql::model_versions_query(&req.filter, &req.order_by)?;
    let offset = page_token::decode(req.page_token.as_deref())?;
    let mut params = query.params;
    params.push(SqlValue::Int(max_results + 1));
    params.push(SqlValue::Int(offset as i64));
    let rows = c.query_replanned(
        &format!(
            "SELECT {MV_COLUMNS} FROM model_versions mv WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
            query.where_sql, query.order_sql
        ),
        &params,
    )?;
    let mut versions: Vec<ModelVersion> = rows
        .iter()
        .map(mv_from_row)
        .collect::<Result<_, DbError>>()?;
    let next = page_token::finish_page(&mut versions, max_results, offset);
    // MLflow leaves `aliases` empty in search results.
    Ok(Page {
        items: load_version_tags(c, versions)?,
        next_page_token: next,
    })
}

pub(crate) fn set_model_version_tag(
    c: &mut dyn Conn,
    name: &str,
    version: &str,
    tag: Tag,
) -> Result<()> {
    validate_model_name(name)?;
    let number = parse_model_version(version)?;
    validate_model_version_tag(&tag.key, &tag.value)?;
    mv_row(c, name, version)?;
    c.execute(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        &[name.into(), number.into(), tag.key.into(), tag.value.into()],
    )?;
    Ok(())
}

pub(crate) fn delete_model_version_tag(
    c: &mut dyn Conn,
    name: &str,
    version: &str,
    key: &str,
) -> Result<()> {
    validate_model_name(name)?;
    let number = parse_model_version(version)?;
    validate_tag_name(key)?;
    mv_row(c, name, version)?;
    c.execute(
        "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
        &[name.into(), number.into(), key.into()],
    )?;
    Ok(())
}
