//! Registered models: create, update, rename, delete, search, tags, latest versions.

use mlox_core::entities::{Page, Tag};
use mlox_core::registry::*;
use mlox_core::{page_token, MlflowError, Result};

use crate::db::{Conn, DbError, SqlValue};
use crate::search_sql;
use crate::tracking::now_ms;

use super::loading::{get_registered_model, load_models, rm_from_row, rm_row, RM_COLUMNS};

pub(super) fn dedup_tags(tags: Vec<Tag>) -> Vec<Tag> {
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

pub(super) fn check_registry_max_results(max_results: i64, threshold: i64) -> Result<()> {
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
    let mut models: Vec<RegisteredModel> = rows
        .iter()
        .map(rm_from_row)
        .collect::<Result<_, DbError>>()?;
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
