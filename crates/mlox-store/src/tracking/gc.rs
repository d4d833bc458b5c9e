//! Permanent deletion of deleted runs and experiments (`mlox gc`).

use mlox_core::entities::*;
use mlox_core::{MlflowError, Result};

use crate::db::{Conn, RowView};

use super::experiments::{experiments_from_rows, get_experiment, EXPERIMENT_COLUMNS};
use super::parse_experiment_id;
use super::runs::{get_run_info, run_info_from_row, RUN_COLUMNS};

pub(crate) fn deleted_runs(c: &mut dyn Conn, deleted_before: Option<i64>) -> Result<Vec<RunInfo>> {
    let rows = match deleted_before {
        Some(t) => c.query(
            &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.lifecycle_stage = 'deleted' AND COALESCE(r.deleted_time, 0) < ? ORDER BY r.run_uuid"),
            &[t.into()],
        )?,
        None => c.query(
            &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.lifecycle_stage = 'deleted' ORDER BY r.run_uuid"),
            &[],
        )?,
    };
    rows.iter().map(run_info_from_row).collect()
}

const RUN_CHILD_TABLES: [&str; 7] = [
    "metrics",
    "metric_chunks",
    "latest_metrics",
    "params",
    "tags",
    "run_input_tags",
    "run_inputs",
];

pub(crate) fn hard_delete_run(c: &mut dyn Conn, run_id: &str) -> Result<()> {
    let info = get_run_info(c, run_id)?;
    if info.lifecycle_stage != LIFECYCLE_DELETED {
        return Err(MlflowError::invalid(format!(
            "Run {run_id} is not in the deleted state; delete it before removing it permanently"
        )));
    }
    for table in RUN_CHILD_TABLES.iter().chain(["run_model_io"].iter()) {
        c.execute(
            &format!("DELETE FROM {table} WHERE run_uuid = ?"),
            &[run_id.into()],
        )?;
    }
    c.execute("DELETE FROM runs WHERE run_uuid = ?", &[run_id.into()])?;
    Ok(())
}

pub(crate) fn deleted_experiments(c: &mut dyn Conn) -> Result<Vec<Experiment>> {
    let rows = c.query(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE lifecycle_stage = 'deleted' ORDER BY experiment_id"),
        &[],
    )?;
    experiments_from_rows(c, rows)
}

pub(crate) fn hard_delete_experiment(c: &mut dyn Conn, id: &str) -> Result<()> {
    let exp = get_experiment(c, id)?;
    if exp.lifecycle_stage != LIFECYCLE_DELETED {
        return Err(MlflowError::invalid(format!(
            "Experiment {id} is not in the deleted state; delete it before removing it permanently"
        )));
    }
    let eid = parse_experiment_id(id)?;
    let runs = c.query(
        "SELECT run_uuid FROM runs WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    for r in runs {
        let run_id = r.text(0)?;
        for table in RUN_CHILD_TABLES.iter().chain(["run_model_io"].iter()) {
            c.execute(
                &format!("DELETE FROM {table} WHERE run_uuid = ?"),
                &[run_id.as_str().into()],
            )?;
        }
    }
    c.execute("DELETE FROM runs WHERE experiment_id = ?", &[eid.into()])?;
    for table in ["logged_model_params", "logged_model_tags"] {
        c.execute(
            &format!("DELETE FROM {table} WHERE model_id IN (SELECT model_id FROM logged_models WHERE experiment_id = ?)"),
            &[eid.into()],
        )?;
    }
    c.execute(
        "DELETE FROM logged_models WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    let traces = crate::traces::experiment_trace_ids(c, eid)?;
    crate::traces::remove_traces(c, &traces)?;
    crate::eval::remove_experiment_scorers(c, eid)?;
    c.execute(
        "DELETE FROM datasets WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    c.execute(
        "DELETE FROM experiment_tags WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    c.execute(
        "DELETE FROM experiments WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    Ok(())
}
