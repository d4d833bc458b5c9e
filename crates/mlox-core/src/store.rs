//! The store trait: everything the tracking server persists goes through it.
//!
//! Contract for implementors: every method is atomic; a method that returns `Ok`
//! for a write has made it durable against a crash of the process; errors carry
//! MLflow's codes and messages.

use async_trait::async_trait;

use crate::entities::*;
use crate::error::Result;

#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    // Experiments
    async fn create_experiment(
        &self,
        name: String,
        artifact_location: Option<String>,
        tags: Vec<Tag>,
    ) -> Result<String>;
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment>;
    async fn search_experiments(&self, req: SearchExperimentsRequest) -> Result<Page<Experiment>>;
    async fn delete_experiment(&self, experiment_id: &str) -> Result<()>;
    async fn restore_experiment(&self, experiment_id: &str) -> Result<()>;
    async fn rename_experiment(&self, experiment_id: &str, new_name: String) -> Result<()>;
    async fn set_experiment_tag(&self, experiment_id: &str, tag: Tag) -> Result<()>;
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;

    // Runs
    async fn create_run(&self, run: NewRun) -> Result<Run>;
    async fn get_run(&self, run_id: &str) -> Result<Run>;
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo>;
    async fn delete_run(&self, run_id: &str) -> Result<()>;
    async fn restore_run(&self, run_id: &str) -> Result<()>;
    /// Logs metrics, params and tags atomically (log-metric, log-parameter and set-tag are batches of one).
    async fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> Result<()>;
    /// One metric (log-metric): as a batch of one, with the single-entity error messages.
    async fn log_metric(&self, run_id: &str, metric: Metric) -> Result<()>;
    /// One param (log-parameter).
    async fn log_param(&self, run_id: &str, param: Param) -> Result<()>;
    /// One tag (set-tag).
    async fn set_tag(&self, run_id: &str, tag: Tag) -> Result<()>;
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        model_ids: Vec<String>,
    ) -> Result<()>;
    async fn log_outputs(&self, run_id: &str, models: Vec<(String, i64)>) -> Result<()>;
    async fn search_runs(&self, req: SearchRunsRequest) -> Result<Page<Run>>;

    // Metric history
    async fn get_metric_history(&self, req: MetricHistoryRequest) -> Result<Page<Metric>>;
    async fn get_metric_history_bulk_interval(
        &self,
        req: BulkIntervalRequest,
    ) -> Result<Vec<MetricWithRunId>>;
}
