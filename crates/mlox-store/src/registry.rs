//! Model registry operations written once over [`Conn`], shared by both backends.
//!
//! The registry tables carry no foreign keys: renames and deletes cascade here, in the
//! same transaction, so both backends behave the same.

use std::collections::HashMap;

use mlox_core::entities::{Page, Tag, LIFECYCLE_ACTIVE};
use mlox_core::registry::*;
use mlox_core::{page_token, ErrorCode, MlflowError, Result};

use crate::db::{placeholders, Conn, DbError, Row, SqlValue};
use crate::logged_models;
use crate::search_sql;
use crate::tracking::now_ms;

/// What `create_model_version` needs to know about the server (MLflow reads these from its
/// environment and CLI options).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourcePolicy {
    /// The server's default artifact root: sources on its host are trusted.
    pub artifact_root: String,
    /// `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`.
    pub allowed_host_schemes: Vec<String>,
}

fn rm_not_found(name: &str) -> MlflowError {
    MlflowError::not_found(format!("Registered Model with name={name} not found"))
}

fn mv_not_found(name: &str, version: &str) -> MlflowError {
    MlflowError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

// ---------------------------------------------------------------- loading

const RM_COLUMNS: &str = "rm.name, rm.creation_time, rm.last_updated_time, rm.description";
const MV_COLUMNS: &str = "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.status, mv.status_message, mv.model_id, mv.storage_location";

fn rm_from_row(r: &Row) -> RegisteredModel {
    RegisteredModel {
        name: r.text(0),
        creation_timestamp: r.int(1),
        last_updated_timestamp: r.int(2),
        description: r.opt_text(3),
        latest_versions: vec![],
        tags: vec![],
        aliases: vec![],
    }
}

fn mv_from_row(r: &Row) -> ModelVersion {
    ModelVersion {
        name: r.text(0),
        version: r.int(1),
        creation_timestamp: r.int(2),
        last_updated_timestamp: r.int(3),
        description: r.opt_text(4),
        user_id: r.opt_text(5),
        current_stage: r.text(6),
        source: r.opt_text(7),
        run_id: r.opt_text(8),
        run_link: r.opt_text(9),
        status: r.text(10),
        status_message: r.opt_text(11),
        tags: vec![],
        aliases: vec![],
        model_id: r.opt_text(12),
    }
}

fn text_args(items: &[String]) -> Vec<SqlValue> {
    items.iter().map(SqlValue::from).collect()
}

/// Fills tags, aliases and latest versions of registered models.
fn load_models(c: &mut dyn Conn, mut models: Vec<RegisteredModel>) -> Result<Vec<RegisteredModel>> {
    let index: HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.clone(), i))
        .collect();
    let names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
    for chunk in names.chunks(500) {
        let args = text_args(chunk);
        let ph = placeholders(chunk.len());
        for r in c.query(
            &format!("SELECT name, key, value FROM registered_model_tags WHERE name IN ({ph}) ORDER BY key"),
            &args,
        )? {
            if let Some(&i) = index.get(&r.text(0)) {
                models[i].tags.push(Tag::new(r.text(1), r.text(2)));
            }
        }
        for r in c.query(
            &format!("SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({ph}) ORDER BY alias"),
            &args,
        )? {
            if let Some(&i) = index.get(&r.text(0)) {
                models[i].aliases.push((r.text(1), r.int(2)));
            }
        }
        let mut args = args;
        args.push(STAGE_DELETED_INTERNAL.into());
        let rows = c.query(
            &format!("SELECT {MV_COLUMNS} FROM model_versions mv WHERE mv.name IN ({ph}) AND mv.current_stage != ? ORDER BY mv.name, mv.version"),
            &args,
        )?;
        let versions = load_version_tags(c, rows.iter().map(mv_from_row).collect())?;
        let mut by_model: HashMap<String, Vec<ModelVersion>> = HashMap::new();
        for v in versions {
            by_model.entry(v.name.clone()).or_default().push(v);
        }
        for (name, versions) in by_model {
            if let Some(&i) = index.get(&name) {
                models[i].latest_versions = latest_per_stage(versions);
            }
        }
    }
    Ok(models)
}

/// The highest version of each stage, stages in order of first appearance by version
/// (the order MLflow's entity builds them in).
fn latest_per_stage(versions: Vec<ModelVersion>) -> Vec<ModelVersion> {
    let mut out: Vec<ModelVersion> = Vec::new();
    for v in versions {
        match out.iter_mut().find(|o| o.current_stage == v.current_stage) {
            Some(slot) if slot.version < v.version => *slot = v,
            Some(_) => {}
            None => out.push(v),
        }
    }
    out
}

fn load_version_tags(
    c: &mut dyn Conn,
    mut versions: Vec<ModelVersion>,
) -> Result<Vec<ModelVersion>> {
    if versions.is_empty() {
        return Ok(versions);
    }
    let index: HashMap<(String, i64), usize> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| ((v.name.clone(), v.version), i))
        .collect();
    let mut names: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
    names.sort();
    names.dedup();
    for chunk in names.chunks(500) {
        for r in c.query(
            &format!(
                "SELECT name, version, key, value FROM model_version_tags WHERE name IN ({}) ORDER BY key",
                placeholders(chunk.len())
            ),
            &text_args(chunk),
        )? {
            if let Some(&i) = index.get(&(r.text(0), r.int(1))) {
                versions[i].tags.push(Tag::new(r.text(2), r.text(3)));
            }
        }
    }
    Ok(versions)
}

fn load_version_aliases(c: &mut dyn Conn, v: &mut ModelVersion) -> Result<()> {
    v.aliases = c
        .query(
            "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias",
            &[v.name.as_str().into(), v.version.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect();
    Ok(())
}

fn rm_row(c: &mut dyn Conn, name: &str) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    let row = c
        .query_opt(
            &format!("SELECT {RM_COLUMNS} FROM registered_models rm WHERE rm.name = ?"),
            &[name.into()],
        )?
        .ok_or_else(|| rm_not_found(name))?;
    Ok(rm_from_row(&row))
}

pub(crate) fn get_registered_model(c: &mut dyn Conn, name: &str) -> Result<RegisteredModel> {
    let rm = rm_row(c, name)?;
    load_models(c, vec![rm])?
        .pop()
        .ok_or_else(|| rm_not_found(name))
}

/// A live (not deleted) version, with tags; aliases are left empty.
fn mv_row(c: &mut dyn Conn, name: &str, version: &str) -> Result<ModelVersion> {
    validate_model_name(name)?;
    let number = parse_model_version(version)?;
    let row = c
        .query_opt(
            &format!("SELECT {MV_COLUMNS} FROM model_versions mv WHERE mv.name = ? AND mv.version = ? AND mv.current_stage != ?"),
            &[name.into(), number.into(), STAGE_DELETED_INTERNAL.into()],
        )?
        .ok_or_else(|| mv_not_found(name, version))?;
    Ok(mv_from_row(&row))
}

/// A live version with its tags and aliases (what `get_model_version` returns).
fn full_version(c: &mut dyn Conn, name: &str, version: &str) -> Result<ModelVersion> {
    let v = mv_row(c, name, version)?;
    let mut v = load_version_tags(c, vec![v])?
        .pop()
        .ok_or_else(|| mv_not_found(name, version))?;
    load_version_aliases(c, &mut v)?;
    Ok(v)
}

// ---------------------------------------------------------------- registered models

fn dedup_tags(tags: Vec<Tag>) -> Vec<Tag> {
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        match out.iter_mut().find(|o| o.key == t.key) {
            Some(o) => o.value = t.value,
            None => out.push(t),
        }
    }
    out
}

fn already_exists(name: &str, existing_is_prompt: bool, new_is_prompt: bool) -> MlflowError {
    let entity = |p: bool| if p { "Prompt" } else { "Registered Model" };
    let (old, new) = (entity(existing_is_prompt), entity(new_is_prompt));
    if old != new {
        return MlflowError::already_exists(format!(
            "Tried to create a {} with name '{name}', but the name is already taken by a {}. MLflow does not allow creating a model and a prompt with the same name.",
            new.to_lowercase(),
            old.to_lowercase()
        ));
    }
    MlflowError::already_exists(format!("{new} (name={name}) already exists."))
}

pub(crate) fn create_registered_model(
    c: &mut dyn Conn,
    name: String,
    tags: Vec<Tag>,
    description: Option<String>,
) -> Result<RegisteredModel> {
    validate_model_name(&name)?;
    for t in &tags {
        validate_registered_model_tag(&t.key, &t.value)?;
    }
    let new_is_prompt = is_prompt_tags(&tags);
    if c.query_opt(
        "SELECT 1 FROM registered_models WHERE name = ?",
        &[name.as_str().into()],
    )?
    .is_some()
    {
        let existing = get_registered_model(c, &name)?;
        return Err(already_exists(&name, existing.is_prompt(), new_is_prompt));
    }
    let now = now_ms();
    c.execute(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
        &[name.as_str().into(), now.into(), now.into(), description.into()],
    )
    .map_err(|e| match e {
        DbError::UniqueViolation(_) => already_exists(&name, false, new_is_prompt),
        e => e.into(),
    })?;
    for t in dedup_tags(tags) {
        c.execute(
            "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)",
            &[name.as_str().into(), t.key.into(), t.value.into()],
        )?;
    }
    get_registered_model(c, &name)
}

pub(crate) fn update_registered_model(
    c: &mut dyn Conn,
    name: &str,
    description: Option<String>,
) -> Result<RegisteredModel> {
    rm_row(c, name)?;
    c.execute(
        "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?",
        &[description.into(), now_ms().into(), name.into()],
    )?;
    get_registered_model(c, name)
}

pub(crate) fn rename_registered_model(
    c: &mut dyn Conn,
    name: &str,
    new_name: String,
) -> Result<RegisteredModel> {
    validate_model_renaming(&new_name)?;
    rm_row(c, name)?;
    let now = now_ms();
    if new_name != name {
        if c.query_opt(
            "SELECT 1 FROM registered_models WHERE name = ?",
            &[new_name.as_str().into()],
        )?
        .is_some()
        {
            return Err(MlflowError::already_exists(format!(
                "Registered Model (name={new_name}) already exists."
            )));
        }
        for table in [
            "registered_model_tags",
            "model_version_tags",
            "registered_model_aliases",
        ] {
            c.execute(
                &format!("UPDATE {table} SET name = ? WHERE name = ?"),
                &[new_name.as_str().into(), name.into()],
            )?;
        }
        c.execute(
            "UPDATE model_versions SET name = ?, last_updated_time = ? WHERE name = ?",
            &[new_name.as_str().into(), now.into(), name.into()],
        )?;
    }
    c.execute(
        "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?",
        &[new_name.as_str().into(), now.into(), name.into()],
    )
    .map_err(|e| match e {
        DbError::UniqueViolation(_) => MlflowError::already_exists(format!(
            "Registered Model (name={new_name}) already exists."
        )),
        e => e.into(),
    })?;
    get_registered_model(c, &new_name)
}

pub(crate) fn delete_registered_model(c: &mut dyn Conn, name: &str) -> Result<()> {
    rm_row(c, name)?;
    for table in [
        "registered_model_tags",
        "model_version_tags",
        "registered_model_aliases",
        "model_versions",
        "registered_models",
    ] {
        c.execute(
            &format!("DELETE FROM {table} WHERE name = ?"),
            &[name.into()],
        )?;
    }
    Ok(())
}

fn check_registry_max_results(max_results: i64, threshold: i64) -> Result<()> {
    if max_results < 1 {
        return Err(MlflowError::invalid(format!(
            "Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )));
    }
    if max_results > threshold {
        return Err(MlflowError::invalid(format!(
            "Invalid value for request parameter max_results. It must be at most {threshold}, but got value {max_results}"
        )));
    }
    Ok(())
}

pub(crate) fn search_registered_models(
    c: &mut dyn Conn,
    req: RegistrySearchRequest,
) -> Result<Page<RegisteredModel>> {
    let max_results = req
        .max_results
        .unwrap_or(SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT);
    check_registry_max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)?;
    let query = search_sql::registered_models_query(&req.filter, &req.order_by)?;
    let offset = page_token::decode(req.page_token.as_deref())?;
    let mut params = query.params;
    params.push(SqlValue::Int(max_results + 1));
    params.push(SqlValue::Int(offset as i64));
    let rows = c.query_replanned(
        &format!(
            "SELECT {RM_COLUMNS} FROM registered_models rm WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
            query.where_sql, query.order_sql
        ),
        &params,
    )?;
    let mut models: Vec<RegisteredModel> = rows.iter().map(rm_from_row).collect();
    let next = page_token::finish_page(&mut models, max_results, offset);
    Ok(Page {
        items: load_models(c, models)?,
        next_page_token: next,
    })
}

pub(crate) fn get_latest_versions(
    c: &mut dyn Conn,
    name: &str,
    stages: Vec<String>,
) -> Result<Vec<ModelVersion>> {
    let rm = get_registered_model(c, name)?;
    let wanted: Vec<&str> = if stages.is_empty() {
        ALL_STAGES.to_vec()
    } else {
        stages
            .iter()
            .map(|s| canonical_stage(s))
            .collect::<Result<_>>()?
    };
    let mut out = Vec::new();
    for mut v in rm.latest_versions {
        if wanted.contains(&v.current_stage.as_str()) {
            v.aliases = rm
                .aliases
                .iter()
                .filter(|(_, ver)| *ver == v.version)
                .map(|(a, _)| a.clone())
                .collect();
            out.push(v);
        }
    }
    Ok(out)
}

pub(crate) fn set_registered_model_tag(c: &mut dyn Conn, name: &str, tag: Tag) -> Result<()> {
    validate_model_name(name)?;
    validate_registered_model_tag(&tag.key, &tag.value)?;
    rm_row(c, name)?;
    c.execute(
        "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        &[name.into(), tag.key.into(), tag.value.into()],
    )?;
    Ok(())
}

pub(crate) fn delete_registered_model_tag(c: &mut dyn Conn, name: &str, key: &str) -> Result<()> {
    validate_model_name(name)?;
    validate_tag_name(key)?;
    rm_row(c, name)?;
    // Deleting a missing tag is not an error in MLflow's registry.
    c.execute(
        "DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
        &[name.into(), key.into()],
    )?;
    Ok(())
}

// ---------------------------------------------------------------- model versions

fn run_artifact_uri(c: &mut dyn Conn, run_id: &str) -> Result<Option<String>> {
    Ok(c.query_opt(
        "SELECT artifact_uri FROM runs WHERE run_uuid = ?",
        &[run_id.into()],
    )?
    .map(|r| r.text(0)))
}

fn logged_model_location(
    c: &mut dyn Conn,
    model_id: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(c.query_opt(
        "SELECT artifact_location, source_run_id FROM logged_models WHERE model_id = ? AND lifecycle_stage = ?",
        &[model_id.into(), LIFECYCLE_ACTIVE.into()],
    )?
    .map(|r| (r.text(0), r.opt_text(1))))
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
fn validate_source_run(c: &mut dyn Conn, source: &str, run_id: &str) -> Result<()> {
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
fn validate_source_model(c: &mut dyn Conn, source: &str, model_id: &str) -> Result<()> {
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
fn resolve_registered_source(
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
        .and_then(|r| r.opt_int(0))
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
    Ok(row
        .and_then(|r| {
            r.opt_text(0)
                .filter(|s| !s.is_empty())
                .or_else(|| r.opt_text(1))
        })
        .unwrap_or_default())
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
    let mut versions: Vec<ModelVersion> = rows.iter().map(mv_from_row).collect();
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

// ---------------------------------------------------------------- aliases

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
        Some(r) => full_version(c, name, &r.int(0).to_string()),
        // MLflow answers INVALID_PARAMETER_VALUE (400) here, not RESOURCE_DOES_NOT_EXIST.
        None => Err(MlflowError::invalid(format!(
            "Registered model alias {alias} not found."
        ))),
    }
}

// ---------------------------------------------------------------- webhooks

const WEBHOOK_COLUMNS: &str = "w.webhook_id, w.name, w.description, w.url, w.status, w.secret, w.creation_timestamp, w.last_updated_timestamp";

fn webhook_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("Webhook with ID {id} not found."))
}

/// Events come back ordered by entity and action names, as MLflow lists them.
fn webhooks_from_rows(c: &mut dyn Conn, rows: Vec<Row>) -> Result<Vec<Webhook>> {
    let mut hooks: Vec<Webhook> = rows
        .iter()
        .map(|r| Webhook {
            webhook_id: r.text(0),
            name: r.text(1),
            description: r.opt_text(2),
            url: r.text(3),
            status: WebhookStatus::parse(&r.text(4)).unwrap_or(WebhookStatus::Disabled),
            secret: r.opt_text(5),
            creation_timestamp: r.int(6),
            last_updated_timestamp: r.int(7),
            events: vec![],
        })
        .collect();
    let index: HashMap<String, usize> = hooks
        .iter()
        .enumerate()
        .map(|(i, h)| (h.webhook_id.clone(), i))
        .collect();
    let ids: Vec<String> = hooks.iter().map(|h| h.webhook_id.clone()).collect();
    for chunk in ids.chunks(500) {
        for r in c.query(
            &format!(
                "SELECT webhook_id, entity, action FROM webhook_events WHERE webhook_id IN ({}) ORDER BY entity, action",
                placeholders(chunk.len())
            ),
            &text_args(chunk),
        )? {
            let event = WebhookEntity::parse(&r.text(1))
                .zip(WebhookAction::parse(&r.text(2)))
                .map(|(entity, action)| WebhookEvent { entity, action });
            if let (Some(&i), Some(event)) = (index.get(&r.text(0)), event) {
                hooks[i].events.push(event);
            }
        }
    }
    Ok(hooks)
}

fn insert_events(c: &mut dyn Conn, id: &str, events: &[WebhookEvent]) -> Result<()> {
    for e in events {
        c.execute(
            "INSERT INTO webhook_events (webhook_id, entity, action) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &[id.into(), e.entity.as_str().into(), e.action.as_str().into()],
        )?;
    }
    Ok(())
}

pub(crate) fn get_webhook(c: &mut dyn Conn, id: &str) -> Result<Webhook> {
    let rows = c.query(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.webhook_id = ? AND w.deleted_timestamp IS NULL"),
        &[id.into()],
    )?;
    webhooks_from_rows(c, rows)?
        .pop()
        .ok_or_else(|| webhook_not_found(id))
}

pub(crate) fn create_webhook(c: &mut dyn Conn, w: NewWebhook) -> Result<Webhook> {
    validate_webhook_name(&w.name)?;
    validate_webhook_events(&w.events)?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    c.execute(
        "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, last_updated_timestamp, deleted_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        &[
            id.as_str().into(),
            w.name.into(),
            w.description.into(),
            w.url.into(),
            w.status.unwrap_or(WebhookStatus::Active).as_proto().into(),
            w.secret.into(),
            now.into(),
            now.into(),
        ],
    )?;
    insert_events(c, &id, &w.events)?;
    get_webhook(c, &id)
}

pub(crate) fn list_webhooks(
    c: &mut dyn Conn,
    max_results: Option<i64>,
    page_token: Option<String>,
) -> Result<Page<Webhook>> {
    let max_results = max_results.filter(|m| *m != 0).unwrap_or(100);
    if !(1..=1000).contains(&max_results) {
        return Err(MlflowError::invalid(
            "max_results must be between 1 and 1000.",
        ));
    }
    let offset = page_token::decode(page_token.as_deref())?;
    let rows = c.query(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.deleted_timestamp IS NULL ORDER BY w.creation_timestamp DESC, w.webhook_id LIMIT ? OFFSET ?"),
        &[(max_results + 1).into(), (offset as i64).into()],
    )?;
    let mut hooks = webhooks_from_rows(c, rows)?;
    let next = page_token::finish_page(&mut hooks, max_results, offset);
    Ok(Page {
        items: hooks,
        next_page_token: next,
    })
}

pub(crate) fn list_webhooks_by_event(
    c: &mut dyn Conn,
    event: WebhookEvent,
) -> Result<Vec<Webhook>> {
    let rows = c.query(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w JOIN webhook_events e ON e.webhook_id = w.webhook_id WHERE w.deleted_timestamp IS NULL AND e.entity = ? AND e.action = ? ORDER BY w.creation_timestamp DESC, w.webhook_id"),
        &[event.entity.as_str().into(), event.action.as_str().into()],
    )?;
    webhooks_from_rows(c, rows)
}

pub(crate) fn update_webhook(c: &mut dyn Conn, id: &str, u: WebhookUpdate) -> Result<Webhook> {
    get_webhook(c, id)?;
    if let Some(name) = &u.name {
        validate_webhook_name(name)?;
        c.execute(
            "UPDATE webhooks SET name = ? WHERE webhook_id = ?",
            &[name.as_str().into(), id.into()],
        )?;
    }
    if let Some(url) = &u.url {
        c.execute(
            "UPDATE webhooks SET url = ? WHERE webhook_id = ?",
            &[url.as_str().into(), id.into()],
        )?;
    }
    if let Some(events) = &u.events {
        validate_webhook_events(events)?;
        c.execute(
            "DELETE FROM webhook_events WHERE webhook_id = ?",
            &[id.into()],
        )?;
        insert_events(c, id, events)?;
    }
    if let Some(description) = &u.description {
        c.execute(
            "UPDATE webhooks SET description = ? WHERE webhook_id = ?",
            &[description.as_str().into(), id.into()],
        )?;
    }
    if let Some(secret) = &u.secret {
        c.execute(
            "UPDATE webhooks SET secret = ? WHERE webhook_id = ?",
            &[secret.as_str().into(), id.into()],
        )?;
    }
    if let Some(status) = u.status {
        c.execute(
            "UPDATE webhooks SET status = ? WHERE webhook_id = ?",
            &[status.as_proto().into(), id.into()],
        )?;
    }
    c.execute(
        "UPDATE webhooks SET last_updated_timestamp = ? WHERE webhook_id = ?",
        &[now_ms().into(), id.into()],
    )?;
    get_webhook(c, id)
}

pub(crate) fn delete_webhook(c: &mut dyn Conn, id: &str) -> Result<()> {
    get_webhook(c, id)?;
    let now = now_ms();
    c.execute(
        "UPDATE webhooks SET deleted_timestamp = ?, last_updated_timestamp = ? WHERE webhook_id = ?",
        &[now.into(), now.into(), id.into()],
    )?;
    Ok(())
}

impl crate::SqlStore {
    fn source_policy(&self) -> SourcePolicy {
        SourcePolicy {
            artifact_root: self.artifact_root.clone(),
            allowed_host_schemes: self.allowed_host_schemes.clone(),
        }
    }
}

/// Owned copies of borrowed arguments, for the `'static` closures the database runs.
macro_rules! owned {
    ($($name:ident),*) => { $(let $name = $name.to_string();)* };
}

#[async_trait::async_trait]
impl mlox_core::store::ModelRegistryStore for crate::SqlStore {
    async fn create_registered_model(
        &self,
        name: String,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        self.db
            .write(move |c| create_registered_model(c, name, tags, description))
            .await
    }
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        owned!(name);
        self.db.read(move |c| get_registered_model(c, &name)).await
    }
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: String,
    ) -> Result<RegisteredModel> {
        owned!(name);
        self.db
            .write(move |c| rename_registered_model(c, &name, new_name))
            .await
    }
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        owned!(name);
        self.db
            .write(move |c| update_registered_model(c, &name, description))
            .await
    }
    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        owned!(name);
        self.db
            .write(move |c| delete_registered_model(c, &name))
            .await
    }
    async fn search_registered_models(
        &self,
        req: RegistrySearchRequest,
    ) -> Result<Page<RegisteredModel>> {
        self.db
            .read(move |c| search_registered_models(c, req))
            .await
    }
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>> {
        owned!(name);
        self.db
            .read(move |c| get_latest_versions(c, &name, stages))
            .await
    }
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()> {
        owned!(name);
        self.db
            .write(move |c| set_registered_model_tag(c, &name, tag))
            .await
    }
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        owned!(name, key);
        self.db
            .write(move |c| delete_registered_model_tag(c, &name, &key))
            .await
    }
    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        let policy = self.source_policy();
        self.db
            .write(move |c| create_model_version(c, &policy, version))
            .await
    }
    async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        owned!(name, version);
        self.db
            .read(move |c| get_model_version(c, &name, &version))
            .await
    }
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        owned!(name, version);
        self.db
            .write(move |c| update_model_version(c, &name, &version, description))
            .await
    }
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        owned!(name, version, stage);
        self.db
            .write(move |c| {
                transition_model_version_stage(
                    c,
                    &name,
                    &version,
                    &stage,
                    archive_existing_versions,
                )
            })
            .await
    }
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        owned!(name, version);
        self.db
            .write(move |c| delete_model_version(c, &name, &version))
            .await
    }
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        owned!(name, version);
        self.db
            .read(move |c| get_model_version_download_uri(c, &name, &version))
            .await
    }
    async fn search_model_versions(
        &self,
        req: RegistrySearchRequest,
    ) -> Result<Page<ModelVersion>> {
        self.db.read(move |c| search_model_versions(c, req)).await
    }
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()> {
        owned!(name, version);
        self.db
            .write(move |c| set_model_version_tag(c, &name, &version, tag))
            .await
    }
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        owned!(name, version, key);
        self.db
            .write(move |c| delete_model_version_tag(c, &name, &version, &key))
            .await
    }
    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        owned!(name, alias, version);
        self.db
            .write(move |c| set_registered_model_alias(c, &name, &alias, &version))
            .await
    }
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        owned!(name, alias);
        self.db
            .write(move |c| delete_registered_model_alias(c, &name, &alias))
            .await
    }
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        owned!(name, alias);
        self.db
            .read(move |c| get_model_version_by_alias(c, &name, &alias))
            .await
    }
    async fn create_webhook(&self, webhook: NewWebhook) -> Result<Webhook> {
        self.db.write(move |c| create_webhook(c, webhook)).await
    }
    async fn get_webhook(&self, webhook_id: &str) -> Result<Webhook> {
        owned!(webhook_id);
        self.db.read(move |c| get_webhook(c, &webhook_id)).await
    }
    async fn list_webhooks(
        &self,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<Page<Webhook>> {
        self.db
            .read(move |c| list_webhooks(c, max_results, page_token))
            .await
    }
    async fn list_webhooks_by_event(&self, event: WebhookEvent) -> Result<Vec<Webhook>> {
        self.db
            .read(move |c| list_webhooks_by_event(c, event))
            .await
    }
    async fn update_webhook(&self, webhook_id: &str, update: WebhookUpdate) -> Result<Webhook> {
        owned!(webhook_id);
        self.db
            .write(move |c| update_webhook(c, &webhook_id, update))
            .await
    }
    async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        owned!(webhook_id);
        self.db.write(move |c| delete_webhook(c, &webhook_id)).await
    }
}
