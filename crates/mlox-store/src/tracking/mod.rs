//! Tracking operations written once over [`Conn`](crate::db::Conn), shared by both backends.

mod experiments;
mod gc;
mod history;
mod logging;
mod runs;
mod search;

pub(crate) use experiments::{
    count_runs, create_experiment, delete_experiment_tag, ensure_default_experiment,
    experiment_place, get_experiment, get_experiment_by_name, rename_experiment,
    search_experiments, set_experiment_lifecycle, set_experiment_tag,
};
pub(crate) use gc::{deleted_experiments, deleted_runs, hard_delete_experiment, hard_delete_run};
pub use history::sample_indices;
pub(crate) use history::{get_metric_history, get_metric_history_bulk_interval, metric_point};
pub(crate) use logging::{delete_tag, log_entities, log_inputs, log_outputs, Entities};
pub(crate) use runs::{create_run, get_run, set_run_lifecycle, update_run};
pub(crate) use search::{analyze, planner_stats_state, search_runs};

use mlox_core::{MlflowError, Result};

pub(crate) const RUN_NAME_TAG: &str = "mlflow.runName";

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Joins an artifact root and a child path as MLflow's `append_to_uri_path` does.
pub fn append_uri_path(root: &str, child: &str) -> String {
    if root.ends_with(':') {
        format!("{root}/{child}")
    } else {
        format!("{}/{child}", root.trim_end_matches('/'))
    }
}

fn parse_experiment_id(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        MlflowError::invalid(format!(
            "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
        ))
    })
}

fn experiment_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("No Experiment with id={id} exists"))
}

fn run_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("Run with id={id} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_join() {
        assert_eq!(
            append_uri_path("mlflow-artifacts:", "1"),
            "mlflow-artifacts:/1"
        );
        assert_eq!(
            append_uri_path("mlflow-artifacts:/1", "abc"),
            "mlflow-artifacts:/1/abc"
        );
        assert_eq!(append_uri_path("/tmp/art/", "1"), "/tmp/art/1");
        assert_eq!(append_uri_path("s3://b/p", "1"), "s3://b/p/1");
    }
}
