//! Loading registered models and versions with their tags, aliases and latest versions.

use std::collections::HashMap;

use mlox_core::entities::Tag;
use mlox_core::registry::*;
use mlox_core::Result;

use crate::db::{placeholders, Conn, DbError, Row, RowView, SqlValue};

use super::{mv_not_found, rm_not_found};

pub(super) const RM_COLUMNS: &str =
    "rm.name, rm.creation_time, rm.last_updated_time, rm.description";
pub(super) const MV_COLUMNS: &str = "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.status, mv.status_message, mv.model_id, mv.storage_location";

pub(super) fn rm_from_row(r: &Row) -> Result<RegisteredModel, DbError> {
    Ok(RegisteredModel {
        name: r.text(0)?,
        creation_timestamp: r.int(1)?,
        last_updated_timestamp: r.int(2)?,
        description: r.opt_text(3)?,
        latest_versions: vec![],
        tags: vec![],
        aliases: vec![],
    })
}

pub(super) fn mv_from_row(r: &Row) -> Result<ModelVersion, DbError> {
    Ok(ModelVersion {
        name: r.text(0)?,
        version: r.int(1)?,
        creation_timestamp: r.int(2)?,
        last_updated_timestamp: r.int(3)?,
        description: r.opt_text(4)?,
        user_id: r.opt_text(5)?,
        current_stage: r.text(6)?,
        source: r.opt_text(7)?,
        run_id: r.opt_text(8)?,
        run_link: r.opt_text(9)?,
        status: r.text(10)?,
        status_message: r.opt_text(11)?,
        tags: vec![],
        aliases: vec![],
        model_id: r.opt_text(12)?,
    })
}

pub(super) fn text_args(items: &[String]) -> Vec<SqlValue> {
    items.iter().map(SqlValue::from).collect()
}

/// Fills tags, aliases and latest versions of registered models.
pub(super) fn load_models(
    c: &mut dyn Conn,
    mut models: Vec<RegisteredModel>,
) -> Result<Vec<RegisteredModel>> {
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
            if let Some(&i) = index.get(&r.text(0)?) {
                models[i].tags.push(Tag::new(r.text(1)?, r.text(2)?));
            }
        }
        for r in c.query(
            &format!("SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({ph}) ORDER BY alias"),
            &args,
        )? {
            if let Some(&i) = index.get(&r.text(0)?) {
                models[i].aliases.push((r.text(1)?, r.int(2)?));
            }
        }
        let mut args = args;
        args.push(STAGE_DELETED_INTERNAL.into());
        let rows = c.query(
            &format!("SELECT {MV_COLUMNS} FROM model_versions mv WHERE mv.name IN ({ph}) AND mv.current_stage != ? ORDER BY mv.name, mv.version"),
            &args,
        )?;
        let versions = load_version_tags(
            c,
            rows.iter()
                .map(mv_from_row)
                .collect::<Result<_, DbError>>()?,
        )?;
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

pub(super) fn load_version_tags(
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
            if let Some(&i) = index.get(&(r.text(0)?, r.int(1)?)) {
                versions[i].tags.push(Tag::new(r.text(2)?, r.text(3)?));
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
        .collect::<Result<_, DbError>>()?;
    Ok(())
}

pub(super) fn rm_row(c: &mut dyn Conn, name: &str) -> Result<RegisteredModel> {
    validate_model_name(name)?;
    let row = c
        .query_opt(
            &format!("SELECT {RM_COLUMNS} FROM registered_models rm WHERE rm.name = ?"),
            &[name.into()],
        )?
        .ok_or_else(|| rm_not_found(name))?;
    Ok(rm_from_row(&row)?)
}

pub(crate) fn get_registered_model(c: &mut dyn Conn, name: &str) -> Result<RegisteredModel> {
    let rm = rm_row(c, name)?;
    load_models(c, vec![rm])?
        .pop()
        .ok_or_else(|| rm_not_found(name))
}

/// A live (not deleted) version, with tags; aliases are left empty.
pub(super) fn mv_row(c: &mut dyn Conn, name: &str, version: &str) -> Result<ModelVersion> {
    validate_model_name(name)?;
    let number = parse_model_version(version)?;
    let row = c
        .query_opt(
            &format!("SELECT {MV_COLUMNS} FROM model_versions mv WHERE mv.name = ? AND mv.version = ? AND mv.current_stage != ?"),
            &[name.into(), number.into(), STAGE_DELETED_INTERNAL.into()],
        )?
        .ok_or_else(|| mv_not_found(name, version))?;
    Ok(mv_from_row(&row)?)
}

/// A live version with its tags and aliases (what `get_model_version` returns).
pub(super) fn full_version(c: &mut dyn Conn, name: &str, version: &str) -> Result<ModelVersion> {
    let v = mv_row(c, name, version)?;
    let mut v = load_version_tags(c, vec![v])?
        .pop()
        .ok_or_else(|| mv_not_found(name, version))?;
    load_version_aliases(c, &mut v)?;
    Ok(v)
}
