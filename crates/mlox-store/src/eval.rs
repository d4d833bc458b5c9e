//! Evaluation datasets and the scorer registry (MLflow 3 GenAI, migration 0008), written
//! once over [`Conn`].
//!
//! A dataset is an `eval_datasets` row with tag and experiment-link rows; each record is
//! one `eval_dataset_records` row holding its JSON body, unique per dataset by the hash of
//! its inputs (as MLflow deduplicates records), read in (created time, id) order with
//! MLflow's cursor tokens. A scorer is a `scorers` row per (experiment, name) and a
//! `scorer_versions` row per registered payload.

use std::collections::BTreeMap;

use base64::Engine;
use mlox_core::entities::{Page, LIFECYCLE_ACTIVE};
use mlox_core::eval::*;
use mlox_core::{page_token, MlflowError, Result};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::db::{placeholders, Conn, DbError, Row, RowView, SqlValue};
use crate::search_sql::comparison_sql;
use crate::tracking::{get_experiment, now_ms};

const DATASET_COLUMNS: &str = "dataset_id, name, schema_json, profile, digest, created_time, last_update_time, created_by, last_updated_by";

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `_compute_dataset_digest`: the first 8 hex digits of SHA-256 of `name:time`.
fn digest(name: &str, time: i64) -> String {
    hex(&Sha256::digest(format!("{name}:{time}").as_bytes()))[..8].to_string()
}

/// The key deduplicating a record in `eval_dataset_records`: SHA-256 of its inputs as
/// canonical JSON (mlox's own; MLflow's `input_hash` is computed otherwise, see
/// `mlflow_export::mlflow_input_hash`).
pub(crate) fn inputs_hash(record: &Map<String, Value>) -> String {
    hex(&Sha256::digest(inputs_key(record).as_bytes()))
}

fn dataset_from_row(r: &Row) -> Result<EvalDataset, DbError> {
    Ok(EvalDataset {
        dataset_id: r.text(0)?,
        name: r.text(1)?,
        schema: r.opt_text(2)?,
        profile: r.opt_text(3)?,
        digest: r.text(4)?,
        created_time: r.int(5)?,
        last_update_time: r.int(6)?,
        created_by: r.opt_text(7)?,
        last_updated_by: r.opt_text(8)?,
        tags: BTreeMap::new(),
        experiment_ids: None,
    })
}

fn load_tags(c: &mut dyn Conn, datasets: &mut [EvalDataset]) -> Result<()> {
    for chunk in datasets.chunks_mut(400) {
        let ids: Vec<SqlValue> = chunk.iter().map(|d| d.dataset_id.as_str().into()).collect();
        let rows = c.query(
            &format!(
                "SELECT dataset_id, key, value FROM eval_dataset_tags WHERE dataset_id IN ({})",
                placeholders(ids.len())
            ),
            &ids,
        )?;
        for r in rows {
            let id = r.text(0)?;
            if let Some(d) = chunk.iter_mut().find(|d| d.dataset_id == id) {
                d.tags.insert(r.text(1)?, r.text(2)?);
            }
        }
    }
    Ok(())
}

fn find_dataset(c: &mut dyn Conn, dataset_id: &str) -> Result<Option<EvalDataset>> {
    let Some(row) = c.query_opt(
        &format!("SELECT {DATASET_COLUMNS} FROM eval_datasets WHERE dataset_id = ?"),
        &[dataset_id.into()],
    )?
    else {
        return Ok(None);
    };
    let mut d = vec![dataset_from_row(&row)?];
    load_tags(c, &mut d)?;
    Ok(d.pop())
}

pub(crate) fn get_dataset(c: &mut dyn Conn, dataset_id: &str) -> Result<EvalDataset> {
    find_dataset(c, dataset_id)?.ok_or_else(|| dataset_not_found(dataset_id))
}

fn experiment_id_of(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        MlflowError::invalid(format!(
            "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
        ))
    })
}

fn put_tag(c: &mut dyn Conn, dataset_id: &str, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO eval_dataset_tags (dataset_id, key, value) VALUES (?, ?, ?) ON CONFLICT (dataset_id, key) DO UPDATE SET value = excluded.value",
        &[dataset_id.into(), key.into(), value.into()],
    )?;
    Ok(())
}

pub(crate) fn create_dataset(
    c: &mut dyn Conn,
    name: String,
    tags: BTreeMap<String, String>,
    experiment_ids: Vec<String>,
) -> Result<EvalDataset> {
    let id = format!("d-{}", uuid::Uuid::new_v4().simple());
    let now = now_ms();
    let user = tags.get(MLFLOW_USER).cloned();
    let exp_ids: Vec<i64> = experiment_ids
        .iter()
        .map(|e| experiment_id_of(e))
        .collect::<Result<_>>()?;
    c.execute(
        &format!("INSERT INTO eval_datasets ({DATASET_COLUMNS}) VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?)"),
        &[
            id.as_str().into(),
            name.as_str().into(),
            digest(&name, now).into(),
            now.into(),
            now.into(),
            user.clone().into(),
            user.into(),
        ],
    )?;
    for (k, v) in &tags {
        put_tag(c, &id, k, v)?;
    }
    for e in &exp_ids {
        c.execute(
            "INSERT INTO eval_dataset_experiments (dataset_id, experiment_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &[id.as_str().into(), (*e).into()],
        )?;
    }
    let mut d = get_dataset(c, &id)?;
    d.experiment_ids = Some(experiment_ids);
    Ok(d)
}

/// Removes a dataset with its tags, links and records (also used when an experiment's
/// datasets go with it).
pub(crate) fn remove_dataset(c: &mut dyn Conn, dataset_id: &str) -> Result<()> {
    for table in [
        "eval_dataset_records",
        "eval_dataset_tags",
        "eval_dataset_experiments",
        "eval_datasets",
    ] {
        c.execute(
            &format!("DELETE FROM {table} WHERE dataset_id = ?"),
            &[dataset_id.into()],
        )?;
    }
    Ok(())
}

pub(crate) fn search_datasets(
    c: &mut dyn Conn,
    req: SearchDatasetsRequest,
) -> Result<Page<EvalDataset>> {
    let max_results = req.max_results.unwrap_or(DEFAULT_DATASETS_PAGE);
    if max_results <= 0 || max_results > 50_000 {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer and no greater than 50000"
        )));
    }
    let clauses = match req.filter.as_deref() {
        Some(f) if !f.trim().is_empty() => parse_dataset_filter(f)?,
        _ => Vec::new(),
    };
    let order = parse_dataset_order_by(&req.order_by)?;
    let offset = page_token::decode(req.page_token.as_deref())?;
    let mut wheres = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if !req.experiment_ids.is_empty() {
        let ids: Vec<i64> = req
            .experiment_ids
            .iter()
            .map(|e| experiment_id_of(e))
            .collect::<Result<_>>()?;
        wheres.push(format!(
            "d.dataset_id IN (SELECT dataset_id FROM eval_dataset_experiments WHERE experiment_id IN ({}))",
            placeholders(ids.len())
        ));
        params.extend(ids.into_iter().map(SqlValue::from));
    }
    for clause in &clauses {
        match &clause.field {
            DatasetField::Attribute(col) => {
                wheres.push(comparison_sql(
                    &format!("d.{col}"),
                    clause.cmp,
                    &clause.value,
                    &mut params,
                )?);
            }
            DatasetField::Tag(key) => {
                params.push(key.as_str().into());
                let cmp = comparison_sql("t.value", clause.cmp, &clause.value, &mut params)?;
                wheres.push(format!(
                    "EXISTS (SELECT 1 FROM eval_dataset_tags t WHERE t.dataset_id = d.dataset_id AND t.key = ? AND {cmp})"
                ));
            }
        }
    }
    let mut order_sql: Vec<String> = order
        .iter()
        .map(|(col, asc)| format!("d.{col} {}", if *asc { "ASC" } else { "DESC" }))
        .collect();
    order_sql.push("d.dataset_id DESC".into());
    let cols: Vec<String> = DATASET_COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect();
    let sql = format!(
        "SELECT {} FROM eval_datasets d{} ORDER BY {} LIMIT ? OFFSET ?",
        cols.join(", "),
        if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        },
        order_sql.join(", ")
    );
    params.push((max_results + 1).into());
    params.push((offset as i64).into());
    let mut items: Vec<EvalDataset> = c
        .query(&sql, &params)?
        .iter()
        .map(dataset_from_row)
        .collect::<Result<_, DbError>>()?;
    let next_page_token = page_token::finish_page(&mut items, max_results, offset);
    load_tags(c, &mut items)?;
    Ok(Page {
        items,
        next_page_token,
    })
}

pub(crate) fn set_dataset_tags(
    c: &mut dyn Conn,
    dataset_id: &str,
    tags: BTreeMap<String, String>,
) -> Result<()> {
    if find_dataset(c, dataset_id)?.is_none() {
        return Err(MlflowError::not_found(format!(
            "Could not find evaluation dataset with ID {dataset_id}"
        )));
    }
    for (k, v) in &tags {
        put_tag(c, dataset_id, k, v)?;
    }
    Ok(())
}

pub(crate) fn delete_dataset_tag(c: &mut dyn Conn, dataset_id: &str, key: &str) -> Result<()> {
    c.execute(
        "DELETE FROM eval_dataset_tags WHERE dataset_id = ? AND key = ?",
        &[dataset_id.into(), key.into()],
    )?;
    Ok(())
}

fn parse_body(text: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| MlflowError::internal(format!("corrupt record: {e}")))
}

fn body_text(body: &Map<String, Value>) -> Result<String> {
    serde_json::to_string(body).map_err(|e| MlflowError::internal(e.to_string()))
}

fn count_records(c: &mut dyn Conn, dataset_id: &str) -> Result<i64> {
    Ok(c.query_opt(
        "SELECT COUNT(*) FROM eval_dataset_records WHERE dataset_id = ?",
        &[dataset_id.into()],
    )?
    .map_or(Ok(0), |r| r.int(0))?)
}

pub(crate) fn upsert_dataset_records(
    c: &mut dyn Conn,
    dataset_id: &str,
    records: Vec<Map<String, Value>>,
) -> Result<(i64, i64)> {
    let dataset = get_dataset(c, dataset_id)?;
    let now = now_ms();
    let (mut inserted, mut updated) = (0, 0);
    let mut updated_by = None;
    let mut schema = DatasetSchema::parse(dataset.schema.as_deref());
    for r in &records {
        let hash = inputs_hash(r);
        if let Some(user) = record_user(r) {
            updated_by = Some(user);
        }
        let existing = c.query_opt(
            "SELECT dataset_record_id, body FROM eval_dataset_records WHERE dataset_id = ? AND inputs_hash = ?",
            &[dataset_id.into(), hash.as_str().into()],
        )?;
        if let Some(row) = existing {
            let mut body = parse_body(&row.text(1)?)?;
            merge_record_body(&mut body, r);
            c.execute(
                "UPDATE eval_dataset_records SET body = ?, last_update_time = ? WHERE dataset_record_id = ?",
                &[body_text(&body)?.into(), now.into(), row.text(0)?.into()],
            )?;
            updated += 1;
        } else {
            let body = new_record_body(r)?;
            c.execute(
                "INSERT INTO eval_dataset_records (dataset_record_id, dataset_id, inputs_hash, created_time, last_update_time, body) VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    format!("dr-{}", uuid::Uuid::new_v4().simple()).into(),
                    dataset_id.into(),
                    hash.into(),
                    now.into(),
                    now.into(),
                    body_text(&body)?.into(),
                ],
            )?;
            inserted += 1;
        }
        schema.add_record(r);
    }
    let schema_text = if records.is_empty() && dataset.schema.is_none() {
        None
    } else {
        Some(schema.to_text())
    };
    let count = count_records(c, dataset_id)?;
    let profile = (count > 0).then(|| format!("{{\"num_records\": {count}}}"));
    c.execute(
        "UPDATE eval_datasets SET last_update_time = ?, last_updated_by = ?, digest = ?, schema_json = COALESCE(?, schema_json), profile = COALESCE(?, profile) WHERE dataset_id = ?",
        &[
            now.into(),
            updated_by.into(),
            digest(&dataset.name, now).into(),
            schema_text.into(),
            profile.into(),
            dataset_id.into(),
        ],
    )?;
    Ok((inserted, updated))
}

fn record_cursor(created_time: i64, id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{created_time}:{id}"))
}

pub(crate) fn get_dataset_records(
    c: &mut dyn Conn,
    dataset_id: &str,
    max_results: i64,
    page_token: Option<String>,
) -> Result<(Vec<DatasetRecord>, Option<String>)> {
    let max_results = if max_results <= 0 {
        DEFAULT_RECORDS_PAGE
    } else {
        max_results
    };
    let mut params: Vec<SqlValue> = vec![dataset_id.into()];
    let mut after = String::new();
    let mut offset = 0i64;
    if let Some(token) = page_token.filter(|t| !t.is_empty()) {
        let cursor = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                let (t, id) = s.split_once(':')?;
                Some((t.parse::<i64>().ok()?, id.to_string()))
            });
        match cursor {
            Some((t, id)) => {
                after = " AND (created_time > ? OR (created_time = ? AND dataset_record_id > ?))"
                    .into();
                params.extend([t.into(), t.into(), id.into()]);
            }
            // MLflow's store also takes a plain offset.
            None => {
                offset = token
                    .parse()
                    .map_err(|_| MlflowError::invalid(format!("Invalid page token '{token}'")))?;
            }
        }
    }
    params.push((max_results + 1).into());
    params.push(offset.max(0).into());
    let rows = c.query(
        &format!("SELECT dataset_record_id, created_time, last_update_time, body FROM eval_dataset_records WHERE dataset_id = ?{after} ORDER BY created_time, dataset_record_id LIMIT ? OFFSET ?"),
        &params,
    )?;
    let mut records = rows
        .iter()
        .map(|r| {
            Ok(DatasetRecord {
                dataset_record_id: r.text(0)?,
                dataset_id: dataset_id.to_string(),
                created_time: r.int(1)?,
                last_update_time: r.int(2)?,
                body: parse_body(&r.text(3)?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next = if records.len() as i64 > max_results {
        records.truncate(max_results as usize);
        records
            .last()
            .map(|r| record_cursor(r.created_time, &r.dataset_record_id))
    } else {
        None
    };
    Ok((records, next))
}

pub(crate) fn delete_dataset_records(
    c: &mut dyn Conn,
    dataset_id: &str,
    record_ids: Vec<String>,
) -> Result<i64> {
    let mut deleted = 0i64;
    for chunk in record_ids.chunks(400) {
        let mut params: Vec<SqlValue> = vec![dataset_id.into()];
        params.extend(chunk.iter().map(SqlValue::from));
        deleted += c.execute(
            &format!(
                "DELETE FROM eval_dataset_records WHERE dataset_id = ? AND dataset_record_id IN ({})",
                placeholders(chunk.len())
            ),
            &params,
        )? as i64;
    }
    if deleted > 0 {
        // MLflow writes `json.dumps(None)` once a dataset has no records left.
        let count = count_records(c, dataset_id)?;
        let profile = if count > 0 {
            format!("{{\"num_records\": {count}}}")
        } else {
            "null".to_string()
        };
        c.execute(
            "UPDATE eval_datasets SET profile = ? WHERE dataset_id = ?",
            &[profile.into(), dataset_id.into()],
        )?;
    }
    Ok(deleted)
}

pub(crate) fn get_dataset_experiment_ids(
    c: &mut dyn Conn,
    dataset_id: &str,
) -> Result<Vec<String>> {
    Ok(c.query(
        "SELECT experiment_id FROM eval_dataset_experiments WHERE dataset_id = ? ORDER BY experiment_id",
        &[dataset_id.into()],
    )?
    .iter()
    .map(|r| Ok(r.int(0)?.to_string()))
    .collect::<Result<_, DbError>>()?)
}

fn dataset_missing(dataset_id: &str) -> MlflowError {
    MlflowError::not_found(format!("Dataset '{dataset_id}' not found"))
}

pub(crate) fn add_dataset_to_experiments(
    c: &mut dyn Conn,
    dataset_id: &str,
    experiment_ids: Vec<String>,
) -> Result<EvalDataset> {
    if find_dataset(c, dataset_id)?.is_none() {
        return Err(dataset_missing(dataset_id));
    }
    for e in &experiment_ids {
        let eid = experiment_id_of(e)?;
        if c.query_opt(
            "SELECT 1 FROM experiments WHERE experiment_id = ?",
            &[eid.into()],
        )?
        .is_none()
        {
            return Err(MlflowError::not_found(format!("No Experiment with id={e}")));
        }
        c.execute(
            "INSERT INTO eval_dataset_experiments (dataset_id, experiment_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &[dataset_id.into(), eid.into()],
        )?;
    }
    c.execute(
        "UPDATE eval_datasets SET last_update_time = ? WHERE dataset_id = ?",
        &[now_ms().into(), dataset_id.into()],
    )?;
    get_dataset(c, dataset_id)
}

pub(crate) fn remove_dataset_from_experiments(
    c: &mut dyn Conn,
    dataset_id: &str,
    experiment_ids: Vec<String>,
) -> Result<EvalDataset> {
    if find_dataset(c, dataset_id)?.is_none() {
        return Err(dataset_missing(dataset_id));
    }
    let mut removed = 0;
    for e in &experiment_ids {
        let Ok(eid) = e.trim().parse::<i64>() else {
            continue;
        };
        removed += c.execute(
            "DELETE FROM eval_dataset_experiments WHERE dataset_id = ? AND experiment_id = ?",
            &[dataset_id.into(), eid.into()],
        )?;
    }
    if removed > 0 {
        c.execute(
            "UPDATE eval_datasets SET last_update_time = ? WHERE dataset_id = ?",
            &[now_ms().into(), dataset_id.into()],
        )?;
    }
    get_dataset(c, dataset_id)
}

// ---- scorers -------------------------------------------------------------------------------

fn active_experiment(c: &mut dyn Conn, experiment_id: &str) -> Result<i64> {
    let exp = get_experiment(c, experiment_id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {}.",
            exp.experiment_id, exp.lifecycle_stage
        )));
    }
    experiment_id_of(&exp.experiment_id)
}

fn scorer_not_found(experiment_id: &str, name: &str, version: Option<i64>) -> MlflowError {
    MlflowError::not_found(match version {
        Some(v) => format!(
            "Scorer with name '{name}' and version {v} not found for experiment {experiment_id}."
        ),
        None => format!("Scorer with name '{name}' not found for experiment {experiment_id}."),
    })
}

fn find_scorer(c: &mut dyn Conn, eid: i64, name: &str) -> Result<Option<String>> {
    Ok(c.query_opt(
        "SELECT scorer_id FROM scorers WHERE experiment_id = ? AND name = ?",
        &[eid.into(), name.into()],
    )?
    .map(|r| r.text(0))
    .transpose()?)
}

const VERSION_SELECT: &str = "SELECT s.experiment_id, s.name, v.version, v.serialized_scorer, v.creation_time, s.scorer_id FROM scorer_versions v JOIN scorers s ON s.scorer_id = v.scorer_id";

fn version_from_row(r: &Row) -> Result<ScorerVersion, DbError> {
    Ok(ScorerVersion {
        experiment_id: r.int(0)?.to_string(),
        scorer_name: r.text(1)?,
        scorer_version: r.int(2)?,
        serialized_scorer: r.text(3)?,
        creation_time: r.int(4)?,
        scorer_id: r.text(5)?,
    })
}

pub(crate) fn register_scorer(
    c: &mut dyn Conn,
    experiment_id: &str,
    name: &str,
    serialized_scorer: String,
) -> Result<ScorerVersion> {
    validate_scorer_name(name)?;
    let eid = active_experiment(c, experiment_id)?;
    let scorer_id = match find_scorer(c, eid, name)? {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            c.execute(
                "INSERT INTO scorers (scorer_id, experiment_id, name) VALUES (?, ?, ?)",
                &[id.as_str().into(), eid.into(), name.into()],
            )?;
            id
        }
    };
    let version = c
        .query_opt(
            "SELECT MAX(version) FROM scorer_versions WHERE scorer_id = ?",
            &[scorer_id.as_str().into()],
        )?
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten()
        .unwrap_or(0)
        + 1;
    c.execute(
        "INSERT INTO scorer_versions (scorer_id, version, serialized_scorer, creation_time) VALUES (?, ?, ?, ?)",
        &[
            scorer_id.as_str().into(),
            version.into(),
            serialized_scorer.into(),
            now_ms().into(),
        ],
    )?;
    let row = c
        .query_opt(
            &format!("{VERSION_SELECT} WHERE v.scorer_id = ? AND v.version = ?"),
            &[scorer_id.into(), version.into()],
        )?
        .ok_or_else(|| MlflowError::internal("registered scorer version vanished"))?;
    Ok(version_from_row(&row)?)
}

pub(crate) fn list_scorers(
    c: &mut dyn Conn,
    experiment_ids: Option<Vec<String>>,
) -> Result<Vec<ScorerVersion>> {
    // Only active experiments' scorers are listed (MLflow filters the ids it is given).
    let experiment_ids: Vec<String> = match experiment_ids {
        Some(ids) => {
            let mut active = Vec::new();
            for id in ids {
                let eid = experiment_id_of(&id)?;
                if c.query_opt(
                    "SELECT 1 FROM experiments WHERE experiment_id = ? AND lifecycle_stage = 'active'",
                    &[eid.into()],
                )?
                .is_some()
                {
                    active.push(id);
                }
            }
            active
        }
        None => c
            .query(
                "SELECT DISTINCT s.experiment_id FROM scorers s JOIN experiments e ON e.experiment_id = s.experiment_id WHERE e.lifecycle_stage = 'active'",
                &[],
            )?
            .iter()
            .map(|r| Ok(r.int(0)?.to_string()))
            .collect::<Result<_, DbError>>()?,
    };
    let mut out = Vec::new();
    for chunk in experiment_ids.chunks(400) {
        let ids: Vec<SqlValue> = chunk
            .iter()
            .map(|e| experiment_id_of(e).map(SqlValue::from))
            .collect::<Result<_>>()?;
        let rows = c.query(
            &format!(
                "{VERSION_SELECT} WHERE s.experiment_id IN ({}) AND v.version = (SELECT MAX(m.version) FROM scorer_versions m WHERE m.scorer_id = s.scorer_id)",
                placeholders(ids.len())
            ),
            &ids,
        )?;
        out.extend(
            rows.iter()
                .map(version_from_row)
                .collect::<Result<Vec<_>, DbError>>()?,
        );
    }
    out.sort_by(|a, b| {
        (a.experiment_id.parse::<i64>().unwrap_or(0), &a.scorer_name)
            .cmp(&(b.experiment_id.parse::<i64>().unwrap_or(0), &b.scorer_name))
    });
    Ok(out)
}

pub(crate) fn list_scorer_versions(
    c: &mut dyn Conn,
    experiment_id: &str,
    name: &str,
) -> Result<Vec<ScorerVersion>> {
    let eid = active_experiment(c, experiment_id)?;
    let Some(id) = find_scorer(c, eid, name)? else {
        return Err(scorer_not_found(experiment_id, name, None));
    };
    Ok(c.query(
        &format!("{VERSION_SELECT} WHERE v.scorer_id = ? ORDER BY v.version"),
        &[id.into()],
    )?
    .iter()
    .map(version_from_row)
    .collect::<Result<_, DbError>>()?)
}

pub(crate) fn get_scorer(
    c: &mut dyn Conn,
    experiment_id: &str,
    name: &str,
    version: Option<i64>,
) -> Result<ScorerVersion> {
    let eid = active_experiment(c, experiment_id)?;
    let Some(id) = find_scorer(c, eid, name)? else {
        return Err(scorer_not_found(experiment_id, name, None));
    };
    let row = match version {
        Some(v) => c.query_opt(
            &format!("{VERSION_SELECT} WHERE v.scorer_id = ? AND v.version = ?"),
            &[id.into(), v.into()],
        )?,
        None => c.query_opt(
            &format!("{VERSION_SELECT} WHERE v.scorer_id = ? ORDER BY v.version DESC LIMIT 1"),
            &[id.into()],
        )?,
    };
    row.map(|r| version_from_row(&r))
        .transpose()?
        .ok_or_else(|| scorer_not_found(experiment_id, name, version))
}

pub(crate) fn delete_scorer(
    c: &mut dyn Conn,
    experiment_id: &str,
    name: &str,
    version: Option<i64>,
) -> Result<()> {
    let eid = active_experiment(c, experiment_id)?;
    let Some(id) = find_scorer(c, eid, name)? else {
        return Err(scorer_not_found(experiment_id, name, None));
    };
    let deleted = match version {
        Some(v) => c.execute(
            "DELETE FROM scorer_versions WHERE scorer_id = ? AND version = ?",
            &[id.as_str().into(), v.into()],
        )?,
        None => c.execute(
            "DELETE FROM scorer_versions WHERE scorer_id = ?",
            &[id.as_str().into()],
        )?,
    };
    if deleted == 0 {
        return Err(scorer_not_found(experiment_id, name, version));
    }
    if version.is_none() {
        c.execute(
            "DELETE FROM online_scoring_configs WHERE scorer_id = ?",
            &[id.as_str().into()],
        )?;
        c.execute("DELETE FROM scorers WHERE scorer_id = ?", &[id.into()])?;
    }
    Ok(())
}

fn online_config_from_row(r: &Row) -> Result<OnlineScoringConfig, DbError> {
    Ok(OnlineScoringConfig {
        online_scoring_config_id: r.text(0)?,
        scorer_id: r.text(1)?,
        sample_rate: r.real(2)?,
        experiment_id: r.int(3)?.to_string(),
        filter_string: r.opt_text(4)?,
    })
}

const ONLINE_CONFIG_SELECT: &str = "SELECT online_scoring_config_id, scorer_id, sample_rate, experiment_id, filter_string FROM online_scoring_configs";

pub(crate) fn upsert_online_scoring_config(
    c: &mut dyn Conn,
    experiment_id: &str,
    name: &str,
    sample_rate: f64,
    filter_string: Option<String>,
) -> Result<OnlineScoringConfig> {
    check_online_config(sample_rate, filter_string.as_deref())?;
    let eid = active_experiment(c, experiment_id)?;
    let Some(id) = find_scorer(c, eid, name)? else {
        return Err(scorer_not_found(experiment_id, name, None));
    };
    let latest = c.query_opt(
        "SELECT serialized_scorer FROM scorer_versions WHERE scorer_id = ? ORDER BY version DESC LIMIT 1",
        &[id.as_str().into()],
    )?;
    if let Some(r) = latest {
        check_online_scorer(name, &r.text(0)?, sample_rate)?;
    }
    c.execute(
        "DELETE FROM online_scoring_configs WHERE scorer_id = ?",
        &[id.as_str().into()],
    )?;
    let config = OnlineScoringConfig {
        online_scoring_config_id: uuid::Uuid::new_v4().simple().to_string(),
        scorer_id: id,
        sample_rate,
        experiment_id: eid.to_string(),
        filter_string,
    };
    c.execute(
        "INSERT INTO online_scoring_configs (online_scoring_config_id, scorer_id, sample_rate, experiment_id, filter_string) VALUES (?, ?, ?, ?, ?)",
        &[
            config.online_scoring_config_id.as_str().into(),
            config.scorer_id.as_str().into(),
            sample_rate.into(),
            eid.into(),
            config.filter_string.clone().map_or(SqlValue::Null, SqlValue::from),
        ],
    )?;
    Ok(config)
}

pub(crate) fn get_online_scoring_configs(
    c: &mut dyn Conn,
    scorer_ids: Vec<String>,
) -> Result<Vec<OnlineScoringConfig>> {
    let mut out = Vec::new();
    for chunk in scorer_ids.chunks(400) {
        let ids: Vec<SqlValue> = chunk.iter().map(|s| s.as_str().into()).collect();
        let rows = c.query(
            &format!(
                "{ONLINE_CONFIG_SELECT} WHERE scorer_id IN ({})",
                placeholders(ids.len())
            ),
            &ids,
        )?;
        out.extend(
            rows.iter()
                .map(online_config_from_row)
                .collect::<Result<Vec<_>, DbError>>()?,
        );
    }
    Ok(out)
}

/// Scorers of an experiment being permanently deleted.
pub(crate) fn remove_experiment_scorers(c: &mut dyn Conn, experiment_id: i64) -> Result<()> {
    c.execute(
        "DELETE FROM online_scoring_configs WHERE scorer_id IN (SELECT scorer_id FROM scorers WHERE experiment_id = ?)",
        &[experiment_id.into()],
    )?;
    c.execute(
        "DELETE FROM scorer_versions WHERE scorer_id IN (SELECT scorer_id FROM scorers WHERE experiment_id = ?)",
        &[experiment_id.into()],
    )?;
    c.execute(
        "DELETE FROM scorers WHERE experiment_id = ?",
        &[experiment_id.into()],
    )?;
    c.execute(
        "DELETE FROM eval_dataset_experiments WHERE experiment_id = ?",
        &[experiment_id.into()],
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl EvalStore for crate::SqlStore {
    async fn create_dataset(
        &self,
        name: String,
        tags: BTreeMap<String, String>,
        experiment_ids: Vec<String>,
    ) -> Result<EvalDataset> {
        self.db
            .write(move |c| create_dataset(c, name, tags, experiment_ids))
            .await
    }
    async fn get_dataset(&self, dataset_id: &str) -> Result<EvalDataset> {
        let id = dataset_id.to_string();
        self.db.read(move |c| get_dataset(c, &id)).await
    }
    async fn delete_dataset(&self, dataset_id: &str) -> Result<()> {
        let id = dataset_id.to_string();
        self.db.write(move |c| remove_dataset(c, &id)).await
    }
    async fn search_datasets(&self, req: SearchDatasetsRequest) -> Result<Page<EvalDataset>> {
        self.db.read(move |c| search_datasets(c, req)).await
    }
    async fn set_dataset_tags(
        &self,
        dataset_id: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        let id = dataset_id.to_string();
        self.db.write(move |c| set_dataset_tags(c, &id, tags)).await
    }
    async fn delete_dataset_tag(&self, dataset_id: &str, key: &str) -> Result<()> {
        let (id, key) = (dataset_id.to_string(), key.to_string());
        self.db
            .write(move |c| delete_dataset_tag(c, &id, &key))
            .await
    }
    async fn upsert_dataset_records(
        &self,
        dataset_id: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<(i64, i64)> {
        let id = dataset_id.to_string();
        self.db
            .write(move |c| upsert_dataset_records(c, &id, records))
            .await
    }
    async fn get_dataset_records(
        &self,
        dataset_id: &str,
        max_results: i64,
        page_token: Option<String>,
    ) -> Result<(Vec<DatasetRecord>, Option<String>)> {
        let id = dataset_id.to_string();
        self.db
            .read(move |c| get_dataset_records(c, &id, max_results, page_token))
            .await
    }
    async fn delete_dataset_records(
        &self,
        dataset_id: &str,
        record_ids: Vec<String>,
    ) -> Result<i64> {
        let id = dataset_id.to_string();
        self.db
            .write(move |c| delete_dataset_records(c, &id, record_ids))
            .await
    }
    async fn get_dataset_experiment_ids(&self, dataset_id: &str) -> Result<Vec<String>> {
        let id = dataset_id.to_string();
        self.db
            .read(move |c| get_dataset_experiment_ids(c, &id))
            .await
    }
    async fn add_dataset_to_experiments(
        &self,
        dataset_id: &str,
        experiment_ids: Vec<String>,
    ) -> Result<EvalDataset> {
        let id = dataset_id.to_string();
        self.db
            .write(move |c| add_dataset_to_experiments(c, &id, experiment_ids))
            .await
    }
    async fn remove_dataset_from_experiments(
        &self,
        dataset_id: &str,
        experiment_ids: Vec<String>,
    ) -> Result<EvalDataset> {
        let id = dataset_id.to_string();
        self.db
            .write(move |c| remove_dataset_from_experiments(c, &id, experiment_ids))
            .await
    }
    async fn register_scorer(
        &self,
        experiment_id: &str,
        name: &str,
        serialized_scorer: String,
    ) -> Result<ScorerVersion> {
        let (e, n) = (experiment_id.to_string(), name.to_string());
        self.db
            .write(move |c| register_scorer(c, &e, &n, serialized_scorer))
            .await
    }
    async fn list_scorers(
        &self,
        experiment_ids: Option<Vec<String>>,
    ) -> Result<Vec<ScorerVersion>> {
        self.db.read(move |c| list_scorers(c, experiment_ids)).await
    }
    async fn list_scorer_versions(
        &self,
        experiment_id: &str,
        name: &str,
    ) -> Result<Vec<ScorerVersion>> {
        let (e, n) = (experiment_id.to_string(), name.to_string());
        self.db.read(move |c| list_scorer_versions(c, &e, &n)).await
    }
    async fn get_scorer(
        &self,
        experiment_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<ScorerVersion> {
        let (e, n) = (experiment_id.to_string(), name.to_string());
        self.db.read(move |c| get_scorer(c, &e, &n, version)).await
    }
    async fn delete_scorer(
        &self,
        experiment_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<()> {
        let (e, n) = (experiment_id.to_string(), name.to_string());
        self.db
            .write(move |c| delete_scorer(c, &e, &n, version))
            .await
    }
    async fn upsert_online_scoring_config(
        &self,
        experiment_id: &str,
        name: &str,
        sample_rate: f64,
        filter_string: Option<String>,
    ) -> Result<OnlineScoringConfig> {
        // Checked before the write is queued, so the writer only writes.
        check_online_config(sample_rate, filter_string.as_deref())?;
        let (e, n) = (experiment_id.to_string(), name.to_string());
        self.db
            .write(move |c| upsert_online_scoring_config(c, &e, &n, sample_rate, filter_string))
            .await
    }
    async fn get_online_scoring_configs(
        &self,
        scorer_ids: Vec<String>,
    ) -> Result<Vec<OnlineScoringConfig>> {
        self.db
            .read(move |c| get_online_scoring_configs(c, scorer_ids))
            .await
    }
}
