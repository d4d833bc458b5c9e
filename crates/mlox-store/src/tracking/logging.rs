//! Logging to a run: metrics, params and tags (and deleting a tag), inputs and outputs.

use std::collections::{BTreeMap, HashMap};

use mlox_core::entities::*;
use mlox_core::{validation, MlflowError, Result};

use crate::chunks;
use crate::db::{in_list, in_list_len, Conn, Dialect, RowView, SqlValue};

use super::runs::{active_run, upsert_tag};
use super::{parse_experiment_id, RUN_NAME_TAG};

/// Orders metric points as MLflow's `latest_metrics` does: by (step, timestamp, value).
fn newer(a: (i64, i64, f64), b: (i64, i64, f64)) -> bool {
    (a.0, a.1)
        .cmp(&(b.0, b.1))
        .then(a.2.total_cmp(&b.2))
        .is_gt()
}

/// Metrics, params and tags that passed MLflow's validation (long values truncated).
/// Validated before the write is queued, so that the writer spends no time on it.
pub(crate) struct Entities {
    metrics: Vec<Metric>,
    params: Vec<Param>,
    tags: Vec<Tag>,
    single: bool,
}

impl Entities {
    /// `single` selects the messages of the one-entity endpoints.
    pub(crate) fn validate(
        metrics: Vec<Metric>,
        mut params: Vec<Param>,
        mut tags: Vec<Tag>,
        single: bool,
    ) -> Result<Entities> {
        validation::validate_entities(&metrics, &mut params, &mut tags, single)?;
        Ok(Entities {
            metrics,
            params,
            tags,
            single,
        })
    }
}

/// Logs validated metrics, params and tags to an active run. Returns how many rows it
/// added to the searched tables (new params and metric keys; tags written), which is what
/// makes the planner's statistics due.
pub(crate) fn log_entities(c: &mut dyn Conn, run_id: &str, entities: Entities) -> Result<u64> {
    let Entities {
        metrics,
        params,
        tags,
        single,
    } = entities;
    active_run(c, run_id)?;
    let mut added = tags.len() as u64;
    // Params are immutable: the same value again is a no-op, a different one an error.
    if !params.is_empty() {
        let mut existing: HashMap<String, String> = HashMap::new();
        for chunk in params.chunks(in_list_len(c.dialect())) {
            let mut args: Vec<SqlValue> = vec![run_id.into()];
            let keys: Vec<String> = chunk.iter().map(|p| p.key.clone()).collect();
            let sql = format!(
                "SELECT key, value FROM params WHERE run_uuid = ? AND {}",
                in_list(c.dialect(), "key", &keys, &mut args)
            );
            for r in c.query(&sql, &args)? {
                existing.insert(r.text(0)?, r.text(1)?);
            }
        }
        let changed: Vec<&Param> = params
            .iter()
            .filter(|p| existing.get(&p.key).is_some_and(|v| *v != p.value))
            .collect();
        if let ([p], true) = (changed.as_slice(), single) {
            return Err(MlflowError::invalid(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with value='{}' for run ID='{run_id}'. Attempted logging new value '{}'.",
                p.key, existing[&p.key], p.value
            )));
        }
        if !changed.is_empty() {
            let list: Vec<String> = changed
                .iter()
                .map(|p| {
                    format!(
                        "{{'key': '{}', 'old_value': '{}', 'new_value': '{}'}}",
                        p.key, existing[&p.key], p.value
                    )
                })
                .collect();
            return Err(MlflowError::invalid(format!(
                "Changing param values is not allowed. Params were already logged='[{}]' for run ID='{run_id}'.",
                list.join(", ")
            )));
        }
        for p in params.iter().filter(|p| !existing.contains_key(&p.key)) {
            added += c.execute(
                "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                &[
                    run_id.into(),
                    p.key.as_str().into(),
                    p.value.as_str().into(),
                ],
            )?;
        }
    }
    for t in &tags {
        upsert_tag(c, run_id, t)?;
        if t.key == RUN_NAME_TAG {
            c.execute(
                "UPDATE runs SET name = ? WHERE run_uuid = ?",
                &[t.value.as_str().into(), run_id.into()],
            )?;
        }
    }
    if !metrics.is_empty() {
        added += log_metrics(c, run_id, metrics)?;
    }
    Ok(added)
}

/// Returns the number of keys new to the run.
fn log_metrics(c: &mut dyn Conn, run_id: &str, metrics: Vec<Metric>) -> Result<u64> {
    // On PostgreSQL, several writers (of this server and of others) may write one run's
    // metrics at once, each in its own group transaction. Row locks alone (the last chunk,
    // then the latest value) can cross: a second request of a group, already holding the
    // latest-value row, locks a chunk another group has just locked before asking for
    // that row. A lock on the run, held to the commit, gives one order: the only way here,
    // `SqlStore::log_entities`, queues the write with its run (`Db::write_run`), and the
    // writer takes the locks of all the group's runs, in one order, before any job runs
    // (`postgres::lock_runs`).
    // Ordered by key, like the chunks below.
    let mut latest: BTreeMap<&str, (i64, i64, f64, bool)> = BTreeMap::new();
    // Plain points go to packed chunks, one list per key in first-seen order; points that
    // name a model or dataset get a row each (see chunks.rs).
    let mut plain: Vec<(&str, Vec<chunks::Plain>)> = Vec::new();
    // With each: its stored value and NaN flag.
    let mut rows: Vec<(&Metric, f64, bool)> = Vec::new();
    for m in &metrics {
        let is_nan = m.value.is_nan();
        // MLflow stores NaN as 0 with a flag and clamps infinities to the largest doubles.
        let value = if is_nan {
            0.0
        } else {
            m.value.clamp(f64::MIN, f64::MAX)
        };
        let cand = (m.step, m.timestamp, value, is_nan);
        match latest.get(m.key.as_str()) {
            Some(cur) if !newer((cand.0, cand.1, cand.2), (cur.0, cur.1, cur.2)) => {}
            _ => {
                latest.insert(m.key.as_str(), cand);
            }
        }
        if m.model_id.is_some() || m.dataset_name.is_some() || m.dataset_digest.is_some() {
            rows.push((m, value, is_nan));
            continue;
        }
        let point = chunks::Plain {
            step: m.step,
            timestamp: m.timestamp,
            value: if is_nan { f64::NAN } else { value },
        };
        match plain.iter_mut().find(|(k, _)| *k == m.key) {
            Some((_, list)) => list.push(point),
            None => plain.push((m.key.as_str(), vec![point])),
        }
    }
    // Keys in one order in every request, so that PostgreSQL writers lock rows in the
    // same order and never deadlock.
    plain.sort_unstable_by(|a, b| a.0.cmp(b.0));
    chunks::append_keys(c, run_id, &plain)?;
    // Multi-row INSERTs: one statement per `ROWS_PER_INSERT` points.
    const ROWS_PER_INSERT: usize = 100;
    const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut args: Vec<SqlValue> = Vec::with_capacity(chunk.len() * 9);
        for &(m, value, is_nan) in chunk {
            args.extend([
                run_id.into(),
                m.key.as_str().into(),
                m.step.into(),
                m.timestamp.into(),
                value.into(),
                SqlValue::Int(is_nan.into()),
                m.model_id.clone().into(),
                m.dataset_name.clone().into(),
                m.dataset_digest.clone().into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) VALUES {} ON CONFLICT DO NOTHING",
            vec![ROW; chunk.len()].join(", ")
        );
        c.execute(&sql, &args)?;
    }
    if c.dialect() == Dialect::Postgres {
        return upsert_latest_pg(c, run_id, &latest);
    }
    let mut new_keys = 0;
    for (key, (step, ts, value, is_nan)) in latest {
        let args = [
            SqlValue::from(step),
            ts.into(),
            value.into(),
            SqlValue::Int(is_nan.into()),
            run_id.into(),
            key.into(),
        ];
        // Insert, or else replace the stored latest point only when this one is newer.
        let inserted = c.execute(
            "INSERT INTO latest_metrics (step, timestamp, value, is_nan, run_uuid, key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &args,
        )?;
        if inserted > 0 {
            new_keys += 1;
            continue;
        }
        c.execute(
            "UPDATE latest_metrics SET step = ?1, timestamp = ?2, value = ?3, is_nan = ?4 \
             WHERE run_uuid = ?5 AND key = ?6 \
               AND (?1 > step OR (?1 = step AND ?2 > timestamp) OR (?1 = step AND ?2 = timestamp AND ?3 > value))",
            &args,
        )?;
    }
    Ok(new_keys)
}

/// The latest point of every key in one statement (PostgreSQL): inserted, or replacing
/// the stored one only when newer. Returns the number of keys new to the run
/// (`xmax = 0` marks a row inserted rather than updated).
fn upsert_latest_pg(
    c: &mut dyn Conn,
    run_id: &str,
    latest: &BTreeMap<&str, (i64, i64, f64, bool)>,
) -> Result<u64> {
    if latest.is_empty() {
        return Ok(0);
    }
    let mut args: Vec<SqlValue> = Vec::with_capacity(latest.len() * 6);
    for (key, (step, ts, value, is_nan)) in latest {
        args.extend([
            SqlValue::from(*step),
            (*ts).into(),
            (*value).into(),
            SqlValue::Int((*is_nan).into()),
            run_id.into(),
            (*key).into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO latest_metrics AS l (step, timestamp, value, is_nan, run_uuid, key) VALUES {} \
         ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan \
         WHERE excluded.step > l.step OR (excluded.step = l.step AND excluded.timestamp > l.timestamp) \
            OR (excluded.step = l.step AND excluded.timestamp = l.timestamp AND excluded.value > l.value) \
         RETURNING (xmax = 0)",
        vec!["(?, ?, ?, ?, ?, ?)"; latest.len()].join(", ")
    );
    let rows = c.query(&sql, &args)?;
    let mut inserted = 0;
    for r in &rows {
        if r.int(0)? == 1 {
            inserted += 1;
        }
    }
    Ok(inserted)
}

pub(crate) fn delete_tag(c: &mut dyn Conn, run_id: &str, key: &str) -> Result<()> {
    active_run(c, run_id)?;
    let n = c.execute(
        "DELETE FROM tags WHERE run_uuid = ? AND key = ?",
        &[run_id.into(), key.into()],
    )?;
    if n == 0 {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in run with id {run_id}"
        )));
    }
    Ok(())
}

fn check_len(what: &str, limit: usize, value: &str) -> Result<()> {
    if value.chars().count() > limit {
        return Err(MlflowError::invalid(format!(
            "{what} exceeds the maximum length of {limit}"
        )));
    }
    Ok(())
}

pub(crate) fn log_inputs(
    c: &mut dyn Conn,
    run_id: &str,
    inputs: Vec<DatasetInput>,
    model_ids: Vec<String>,
) -> Result<()> {
    let info = active_run(c, run_id)?;
    let eid = parse_experiment_id(&info.experiment_id)?;
    for input in inputs {
        let d = &input.dataset;
        for (field, value) in [
            ("name", &d.name),
            ("digest", &d.digest),
            ("source_type", &d.source_type),
            ("source", &d.source),
        ] {
            if value.is_empty() {
                return Err(MlflowError::invalid(format!(
                    "Dataset {field} cannot be None"
                )));
            }
        }
        check_len("Dataset name", validation::MAX_DATASET_NAME_SIZE, &d.name)?;
        check_len(
            "Dataset digest",
            validation::MAX_DATASET_DIGEST_SIZE,
            &d.digest,
        )?;
        check_len(
            "Dataset source",
            validation::MAX_DATASET_SOURCE_SIZE,
            &d.source,
        )?;
        check_len(
            "Dataset schema",
            validation::MAX_DATASET_SCHEMA_SIZE,
            d.schema.as_deref().unwrap_or(""),
        )?;
        check_len(
            "Dataset profile",
            validation::MAX_DATASET_PROFILE_SIZE,
            d.profile.as_deref().unwrap_or(""),
        )?;
        for t in &input.tags {
            check_len("Input tag key", validation::MAX_INPUT_TAG_KEY_SIZE, &t.key)?;
            check_len(
                "Input tag value",
                validation::MAX_INPUT_TAG_VALUE_SIZE,
                &t.value,
            )?;
        }
        let existing = c.query_opt(
            "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
            &[eid.into(), d.name.as_str().into(), d.digest.as_str().into()],
        )?;
        let dataset_uuid = match existing {
            Some(r) => r.text(0)?,
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                c.execute(
                    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &[
                        id.as_str().into(),
                        eid.into(),
                        d.name.as_str().into(),
                        d.digest.as_str().into(),
                        d.source_type.as_str().into(),
                        d.source.as_str().into(),
                        d.schema.clone().into(),
                        d.profile.clone().into(),
                    ],
                )?;
                id
            }
        };
        c.execute(
            "INSERT INTO run_inputs (run_uuid, dataset_uuid) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &[run_id.into(), dataset_uuid.as_str().into()],
        )?;
        for t in &input.tags {
            c.execute(
                "INSERT INTO run_input_tags (run_uuid, dataset_uuid, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (run_uuid, dataset_uuid, key) DO UPDATE SET value = excluded.value",
                &[run_id.into(), dataset_uuid.as_str().into(), t.key.as_str().into(), t.value.as_str().into()],
            )?;
        }
    }
    for model_id in model_ids {
        c.execute(
            "INSERT INTO run_model_io (run_uuid, direction, model_id, step) VALUES (?, 'input', ?, 0) ON CONFLICT DO NOTHING",
            &[run_id.into(), model_id.into()],
        )?;
    }
    Ok(())
}

pub(crate) fn log_outputs(
    c: &mut dyn Conn,
    run_id: &str,
    models: Vec<(String, i64)>,
) -> Result<()> {
    active_run(c, run_id)?;
    for (model_id, step) in models {
        c.execute(
            "INSERT INTO run_model_io (run_uuid, direction, model_id, step) VALUES (?, 'output', ?, ?) ON CONFLICT (run_uuid, direction, model_id) DO UPDATE SET step = excluded.step",
            &[run_id.into(), model_id.into(), step.into()],
        )?;
    }
    Ok(())
}
