//! Runs: read, create, update, delete and restore.

use std::collections::HashMap;

use mlox_core::entities::*;
use mlox_core::{validation, MlflowError, Result};

use crate::db::{in_list, in_list_len, Conn, DbError, RowView, SqlValue};

use super::{
    append_uri_path, experiment_not_found, now_ms, parse_experiment_id, run_not_found, RUN_NAME_TAG,
};

pub(super) const RUN_COLUMNS: &str =
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

pub(super) fn run_info_from_row(r: &crate::db::Row) -> Result<RunInfo> {
    Ok(RunInfo {
        run_id: r.text(0)?,
        run_name: r.text(1)?,
        experiment_id: r.int(2)?.to_string(),
        user_id: r.text(3)?,
        status: RunStatus::parse(&r.text(4)?)?,
        start_time: r.int(5)?,
        end_time: r.opt_int(6)?,
        artifact_uri: r.text(7)?,
        lifecycle_stage: r.text(8)?,
    })
}

pub(super) fn get_run_info(c: &mut dyn Conn, run_id: &str) -> Result<RunInfo> {
    let row = c
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?"),
            &[run_id.into()],
        )?
        .ok_or_else(|| run_not_found(run_id))?;
    run_info_from_row(&row)
}

pub(super) fn active_run(c: &mut dyn Conn, run_id: &str) -> Result<RunInfo> {
    let info = get_run_info(c, run_id)?;
    if info.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is {}.",
            info.lifecycle_stage
        )));
    }
    Ok(info)
}

/// Loads the full runs (data and inputs) for the given infos, keeping their order.
pub(super) fn load_runs(c: &mut dyn Conn, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    let mut runs: Vec<Run> = infos
        .into_iter()
        .map(|info| Run {
            info,
            data: RunData::default(),
            inputs: vec![],
            model_inputs: vec![],
            model_outputs: vec![],
        })
        .collect();
    let index: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.info.run_id.clone(), i))
        .collect();
    let per_statement = in_list_len(c.dialect());
    for start in (0..runs.len()).step_by(per_statement) {
        let end = start.saturating_add(per_statement).min(runs.len());
        let chunk: Vec<String> = runs[start..end]
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect();
        let mut ids = Vec::new();
        let is_run = in_list(c.dialect(), "run_uuid", &chunk, &mut ids);
        let is_input_run = in_list(c.dialect(), "ri.run_uuid", &chunk, &mut Vec::new());
        // Params, tags and metrics are read in place, row by row: a page of runs has
        // thousands of them.
        c.query_each(
            &format!("SELECT run_uuid, key, value FROM params WHERE {is_run} ORDER BY key"),
            &ids,
            &mut |r| {
                if let Some(&i) = index.get(r.str(0)?) {
                    runs[i].data.params.push(Tag::new(r.str(1)?, r.str(2)?));
                }
                Ok(())
            },
        )?;
        c.query_each(
            &format!("SELECT run_uuid, key, value FROM tags WHERE {is_run} ORDER BY key"),
            &ids,
            &mut |r| {
                if let Some(&i) = index.get(r.str(0)?) {
                    runs[i].data.tags.push(Tag::new(r.str(1)?, r.str(2)?));
                }
                Ok(())
            },
        )?;
        c.query_each(
            &format!("SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE {is_run} ORDER BY key"),
            &ids,
            &mut |r| {
                if let Some(&i) = index.get(r.str(0)?) {
                    let value = if r.int(5)? != 0 { f64::NAN } else { r.real(2)? };
                    runs[i]
                        .data
                        .metrics
                        .push(Metric::new(r.str(1)?, value, r.int(3)?, r.int(4)?));
                }
                Ok(())
            },
        )?;
        let mut inputs: HashMap<(String, String), usize> = HashMap::new();
        for r in c.query(
            &format!(
                "SELECT ri.run_uuid, d.dataset_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile FROM run_inputs ri JOIN datasets d ON d.dataset_uuid = ri.dataset_uuid WHERE {is_input_run} ORDER BY d.name, d.digest"
            ),
            &ids,
        )? {
            if let Some(&i) = index.get(r.str(0)?) {
                let run = &mut runs[i];
                inputs.insert((r.text(0)?, r.text(1)?), run.inputs.len());
                run.inputs.push(DatasetInput {
                    tags: vec![],
                    dataset: Dataset {
                        name: r.text(2)?,
                        digest: r.text(3)?,
                        source_type: r.text(4)?,
                        source: r.text(5)?,
                        schema: r.opt_text(6)?,
                        profile: r.opt_text(7)?,
                    },
                });
            }
        }
        if !inputs.is_empty() {
            for r in c.query(
                &format!("SELECT run_uuid, dataset_uuid, key, value FROM run_input_tags WHERE {is_run} ORDER BY key"),
                &ids,
            )? {
                if let (Some(idx), Some(&i)) =
                    (inputs.get(&(r.text(0)?, r.text(1)?)), index.get(r.str(0)?))
                {
                    runs[i].inputs[*idx].tags.push(Tag::new(r.text(2)?, r.text(3)?));
                }
            }
        }
        for r in c.query(
            &format!("SELECT run_uuid, direction, model_id, step FROM run_model_io WHERE {is_run} ORDER BY model_id"),
            &ids,
        )? {
            if let Some(&i) = index.get(r.str(0)?) {
                if r.str(1)? == "input" {
                    runs[i].model_inputs.push(r.text(2)?);
                } else {
                    runs[i].model_outputs.push((r.text(2)?, r.int(3)?));
                }
            }
        }
    }
    Ok(runs)
}

pub(crate) fn get_run(c: &mut dyn Conn, run_id: &str) -> Result<Run> {
    let info = get_run_info(c, run_id)?;
    load_runs(c, vec![info])?
        .pop()
        .ok_or_else(|| run_not_found(run_id))
}

pub(crate) fn create_run(c: &mut dyn Conn, req: NewRun) -> Result<Run> {
    let experiment_id = req
        .experiment_id
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "0".to_string());
    // Only what a new run needs of its experiment (not its tags).
    let eid = parse_experiment_id(&experiment_id)?;
    let (artifact_location, stage) = c
        .query_opt(
            "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
            &[eid.into()],
        )?
        .map(|r| Ok::<_, DbError>((r.text(0)?, r.text(1)?)))
        .transpose()?
        .ok_or_else(|| experiment_not_found(&experiment_id))?;
    if stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {eid} must be in the 'active' state. Current state is {stage}."
        )));
    }
    let mut tags = req.tags;
    for (i, t) in tags.iter_mut().enumerate() {
        validation::validate_tag(t, &format!("tags[{i}]"))?;
    }
    let tag_name = tags
        .iter()
        .find(|t| t.key == RUN_NAME_TAG)
        .map(|t| t.value.clone());
    let run_name = req.run_name.filter(|n| !n.is_empty());
    if let (Some(a), Some(b)) = (&run_name, &tag_name) {
        if a != b {
            return Err(MlflowError::invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
            )));
        }
    }
    let name = run_name
        .or(tag_name.clone())
        .unwrap_or_else(crate::names::generate);
    if tag_name.is_none() {
        tags.push(Tag::new(RUN_NAME_TAG, name.clone()));
    }
    // 32 hex digits, as MLflow's ids, but ordered by creation time (UUID version 7): a new
    // run's entries in the indexes keyed by run id land on the last pages instead of
    // anywhere, so a commit writes a few pages, not one per index per run, and the runs of
    // one experiment sit together.
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let artifact_uri = append_uri_path(&append_uri_path(&artifact_location, &run_id), "artifacts");
    let start_time = req.start_time.unwrap_or_else(now_ms);
    let user_id = req.user_id.unwrap_or_default();
    c.execute(
        "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, 'active')",
        &[
            run_id.as_str().into(),
            name.as_str().into(),
            eid.into(),
            user_id.as_str().into(),
            start_time.into(),
            artifact_uri.as_str().into(),
        ],
    )?;
    for t in &tags {
        upsert_tag(c, &run_id, t)?;
    }
    // A new run has only its tags; build it rather than reading it back.
    let mut data = RunData {
        tags,
        ..Default::default()
    };
    data.tags.sort_by(|a, b| a.key.cmp(&b.key));
    data.tags.dedup_by(|b, a| {
        // Later duplicates of a key win, as the upserts above did.
        if a.key == b.key {
            a.value = b.value.clone();
            true
        } else {
            false
        }
    });
    Ok(Run {
        info: RunInfo {
            run_id,
            run_name: name,
            experiment_id: eid.to_string(),
            user_id,
            status: RunStatus::Running,
            start_time,
            end_time: None,
            artifact_uri,
            lifecycle_stage: LIFECYCLE_ACTIVE.to_string(),
        },
        data,
        inputs: vec![],
        model_inputs: vec![],
        model_outputs: vec![],
    })
}

pub(super) fn upsert_tag(c: &mut dyn Conn, run_id: &str, t: &Tag) -> Result<()> {
    c.execute(
        "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        &[run_id.into(), t.key.as_str().into(), t.value.as_str().into()],
    )?;
    Ok(())
}

pub(crate) fn update_run(c: &mut dyn Conn, run_id: &str, up: RunUpdate) -> Result<RunInfo> {
    active_run(c, run_id)?;
    if let Some(status) = up.status {
        c.execute(
            "UPDATE runs SET status = ? WHERE run_uuid = ?",
            &[status.as_str().into(), run_id.into()],
        )?;
    }
    if let Some(end) = up.end_time {
        c.execute(
            "UPDATE runs SET end_time = ? WHERE run_uuid = ?",
            &[end.into(), run_id.into()],
        )?;
    }
    if let Some(name) = up.run_name.filter(|n| !n.is_empty()) {
        c.execute(
            "UPDATE runs SET name = ? WHERE run_uuid = ?",
            &[name.as_str().into(), run_id.into()],
        )?;
        upsert_tag(c, run_id, &Tag::new(RUN_NAME_TAG, name))?;
    }
    get_run_info(c, run_id)
}

pub(crate) fn set_run_lifecycle(c: &mut dyn Conn, run_id: &str, delete: bool) -> Result<()> {
    get_run_info(c, run_id)?;
    let (stage, deleted_time) = if delete {
        (LIFECYCLE_DELETED, SqlValue::Int(now_ms()))
    } else {
        (LIFECYCLE_ACTIVE, SqlValue::Null)
    };
    c.execute(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
        &[stage.into(), deleted_time, run_id.into()],
    )?;
    if delete {
        crate::traces::delete_run_assessments(c, run_id)?;
    }
    Ok(())
}
