//! Experiments: create, read, rename, tag, delete and restore, search, run counts.

use std::collections::HashMap;

use mlox_core::entities::*;
use mlox_core::{page_token, validation, MlflowError, Result};

use crate::db::{placeholders, Conn, DbError, RowView, SqlValue};
use crate::search_sql;

use super::{append_uri_path, experiment_not_found, now_ms, parse_experiment_id};

pub(super) const EXPERIMENT_COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn load_experiment_tags(c: &mut dyn Conn, ids: &[i64]) -> Result<HashMap<i64, Vec<Tag>>> {
    let mut map: HashMap<i64, Vec<Tag>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let params: Vec<SqlValue> = chunk.iter().map(|i| SqlValue::Int(*i)).collect();
        let sql = format!(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ({}) ORDER BY key",
            placeholders(chunk.len())
        );
        for r in c.query(&sql, &params)? {
            map.entry(r.int(0)?)
                .or_default()
                .push(Tag::new(r.text(1)?, r.text(2)?));
        }
    }
    Ok(map)
}

pub(super) fn experiments_from_rows(
    c: &mut dyn Conn,
    rows: Vec<crate::db::Row>,
) -> Result<Vec<Experiment>> {
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<_, DbError>>()?;
    let mut tags = load_experiment_tags(c, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            Ok(Experiment {
                experiment_id: r.int(0)?.to_string(),
                name: r.text(1)?,
                artifact_location: r.text(2)?,
                lifecycle_stage: r.text(3)?,
                creation_time: r.int(4)?,
                last_update_time: r.int(5)?,
                tags: tags.remove(&r.int(0)?).unwrap_or_default(),
            })
        })
        .collect::<Result<_, DbError>>()?)
}

pub(crate) fn get_experiment(c: &mut dyn Conn, id: &str) -> Result<Experiment> {
    let eid = parse_experiment_id(id)?;
    let rows = c.query(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?"),
        &[eid.into()],
    )?;
    experiments_from_rows(c, rows)?
        .pop()
        .ok_or_else(|| experiment_not_found(id))
}

/// An experiment's id, artifact location and lifecycle stage: what a write into it needs,
/// in one statement (no tags).
pub(crate) struct ExperimentPlace {
    pub id: i64,
    pub artifact_location: String,
    pub lifecycle_stage: String,
}

pub(crate) fn experiment_place(c: &mut dyn Conn, id: &str) -> Result<ExperimentPlace> {
    let eid = parse_experiment_id(id)?;
    let row = c.query_opt(
        "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    let row = row.ok_or_else(|| experiment_not_found(id))?;
    Ok(ExperimentPlace {
        id: eid,
        artifact_location: row.text(0)?,
        lifecycle_stage: row.text(1)?,
    })
}

pub(crate) fn get_experiment_by_name(c: &mut dyn Conn, name: &str) -> Result<Experiment> {
    let rows = c.query(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE name = ?"),
        &[name.into()],
    )?;
    experiments_from_rows(c, rows)?.pop().ok_or_else(|| {
        MlflowError::not_found(format!("Could not find experiment with name '{name}'"))
    })
}

/// Creates the default experiment "0" if the store has none.
pub(crate) fn ensure_default_experiment(c: &mut dyn Conn, artifact_root: &str) -> Result<()> {
    if c.query_opt("SELECT 1 FROM experiments WHERE experiment_id = 0", &[])?
        .is_some()
    {
        return Ok(());
    }
    let now = now_ms();
    c.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', ?, 'active', ?, ?) ON CONFLICT DO NOTHING",
        &[append_uri_path(artifact_root, "0").into(), now.into(), now.into()],
    )?;
    Ok(())
}

pub(crate) fn create_experiment(
    c: &mut dyn Conn,
    artifact_root: &str,
    name: String,
    artifact_location: Option<String>,
    tags: Vec<Tag>,
) -> Result<String> {
    validation::validate_experiment_name(&name)?;
    for t in &tags {
        validation::validate_experiment_tag(&t.key, &t.value)?;
    }
    if let Some(loc) = &artifact_location {
        if loc.starts_with("runs:") {
            return Err(MlflowError::invalid(format!(
                "Artifact location cannot be a runs:/ URI. Given: '{loc}'"
            )));
        }
    }
    if c.query_opt(
        "SELECT 1 FROM experiments WHERE name = ?",
        &[name.as_str().into()],
    )?
    .is_some()
    {
        return Err(MlflowError::already_exists(format!(
            "Experiment(name={name}) already exists."
        )));
    }
    let now = now_ms();
    let row = c
        .query_opt(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', 'active', ?, ?) RETURNING experiment_id",
            &[name.as_str().into(), now.into(), now.into()],
        )
        .map_err(|e| match e {
            DbError::UniqueViolation(_) => MlflowError::already_exists(format!("Experiment(name={name}) already exists.")),
            e => e.into(),
        })?
        .ok_or_else(|| MlflowError::internal("experiment insert returned no id"))?;
    let id = row.int(0)?;
    let location = match artifact_location.filter(|l| !l.is_empty()) {
        Some(l) => l,
        None => append_uri_path(artifact_root, &id.to_string()),
    };
    c.execute(
        "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
        &[location.into(), id.into()],
    )?;
    for t in tags {
        c.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            &[id.into(), t.key.into(), t.value.into()],
        )?;
    }
    Ok(id.to_string())
}

fn active_experiment(c: &mut dyn Conn, id: &str) -> Result<i64> {
    let exp = get_experiment(c, id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {}.",
            exp.experiment_id, exp.lifecycle_stage
        )));
    }
    parse_experiment_id(id)
}

pub(crate) fn set_experiment_lifecycle(c: &mut dyn Conn, id: &str, delete: bool) -> Result<()> {
    let exp = get_experiment(c, id)?;
    let eid = parse_experiment_id(id)?;
    let (from, to) = if delete {
        (LIFECYCLE_ACTIVE, LIFECYCLE_DELETED)
    } else {
        (LIFECYCLE_DELETED, LIFECYCLE_ACTIVE)
    };
    if exp.lifecycle_stage != from {
        // MLflow looks the experiment up among the ones in the source state only.
        return Err(experiment_not_found(id));
    }
    if delete && eid == 0 {
        return Err(MlflowError::invalid(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
        ));
    }
    let now = now_ms();
    c.execute(
        "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
        &[to.into(), now.into(), eid.into()],
    )?;
    let deleted_time = if delete {
        SqlValue::Int(now)
    } else {
        SqlValue::Null
    };
    c.execute(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = ?",
        &[to.into(), deleted_time, eid.into(), from.into()],
    )?;
    Ok(())
}

pub(crate) fn rename_experiment(c: &mut dyn Conn, id: &str, new_name: String) -> Result<()> {
    validation::validate_experiment_name(&new_name)?;
    let exp = get_experiment(c, id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::new(
            mlox_core::ErrorCode::INVALID_STATE,
            "Cannot rename a non-active experiment.",
        ));
    }
    if exp.name == new_name {
        return Ok(());
    }
    if c.query_opt(
        "SELECT 1 FROM experiments WHERE name = ?",
        &[new_name.as_str().into()],
    )?
    .is_some()
    {
        // MLflow surfaces the database's unique-constraint error here as BAD_REQUEST.
        return Err(MlflowError::new(
            mlox_core::ErrorCode::BAD_REQUEST,
            format!("Experiment(name={new_name}) already exists. UNIQUE constraint failed: experiments.name"),
        ));
    }
    c.execute(
        "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
        &[
            new_name.into(),
            now_ms().into(),
            parse_experiment_id(id)?.into(),
        ],
    )?;
    Ok(())
}

pub(crate) fn set_experiment_tag(c: &mut dyn Conn, id: &str, tag: Tag) -> Result<()> {
    validation::validate_experiment_tag(&tag.key, &tag.value)?;
    let eid = active_experiment(c, id)?;
    c.execute(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        &[eid.into(), tag.key.into(), tag.value.into()],
    )?;
    Ok(())
}

pub(crate) fn delete_experiment_tag(c: &mut dyn Conn, id: &str, key: &str) -> Result<()> {
    let eid = active_experiment(c, id)?;
    let n = c.execute(
        "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
        &[eid.into(), key.into()],
    )?;
    if n == 0 {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in experiment with id {id}"
        )));
    }
    Ok(())
}

pub(crate) fn search_experiments(
    c: &mut dyn Conn,
    req: SearchExperimentsRequest,
) -> Result<Page<Experiment>> {
    let max_results = req
        .max_results
        .unwrap_or(validation::SEARCH_MAX_RESULTS_DEFAULT);
    validation::validate_search_max_results(max_results)?;
    let offset = page_token::decode(req.page_token.as_deref())?;
    let query = search_sql::experiments_query(&req.filter, &req.order_by, req.view_type)?;
    let mut params = query.params;
    params.push(SqlValue::Int(max_results + 1));
    params.push(SqlValue::Int(offset as i64));
    let sql = format!(
        "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time FROM experiments e {} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
        query.joins, query.where_sql, query.order_sql
    );
    let mut rows = c.query_replanned(&sql, &params)?;
    let next = page_token::finish_page(&mut rows, max_results, offset);
    Ok(Page {
        items: experiments_from_rows(c, rows)?,
        next_page_token: next,
    })
}

/// Active and total runs of each experiment, counted in one grouped scan per 500 ids of
/// the `runs_by_experiment` index (experiment, lifecycle stage, …), which covers it.
pub(crate) fn count_runs(c: &mut dyn Conn, experiment_ids: &[String]) -> Result<Vec<RunCounts>> {
    let ids = experiment_ids
        .iter()
        .map(|id| parse_experiment_id(id))
        .collect::<Result<Vec<i64>>>()?;
    let mut counts: HashMap<i64, (i64, i64)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let params: Vec<SqlValue> = chunk.iter().map(|i| SqlValue::Int(*i)).collect();
        let sql = format!(
            "SELECT experiment_id, lifecycle_stage, COUNT(*) FROM runs WHERE experiment_id IN ({}) GROUP BY experiment_id, lifecycle_stage",
            placeholders(chunk.len())
        );
        for r in c.query(&sql, &params)? {
            let entry = counts.entry(r.int(0)?).or_default();
            let n = r.int(2)?;
            if r.text(1)? == LIFECYCLE_ACTIVE {
                entry.0 += n;
            }
            entry.1 += n;
        }
    }
    Ok(ids
        .iter()
        .map(|id| {
            let (active, total) = counts.get(id).copied().unwrap_or_default();
            RunCounts {
                experiment_id: id.to_string(),
                active,
                total,
            }
        })
        .collect())
}
