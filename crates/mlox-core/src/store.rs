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
    /// The run counts of each experiment of `experiment_ids`, in that order (an experiment
    /// without runs, or that does not exist, counts 0); one grouped count, not a search.
    async fn count_runs(&self, experiment_ids: &[String]) -> Result<Vec<RunCounts>>;

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
    /// One metric's history of one run, ordered by timestamp, step and value; the points'
    /// key is `req.metric_key`.
    async fn get_metric_history(&self, req: MetricHistoryRequest) -> Result<Page<MetricPoint>>;
    async fn get_metric_history_bulk_interval(
        &self,
        req: BulkIntervalRequest,
    ) -> Result<Vec<MetricWithRunId>>;

    // Permanent deletion (`mlox gc`)
    /// Runs in the deleted state, deleted before `deleted_before` (ms) when given.
    async fn deleted_runs(&self, deleted_before: Option<i64>) -> Result<Vec<RunInfo>>;
    /// Removes a deleted run and everything logged to it. Refuses active runs.
    async fn hard_delete_run(&self, run_id: &str) -> Result<()>;
    /// Experiments in the deleted state.
    async fn deleted_experiments(&self) -> Result<Vec<Experiment>>;
    /// Removes a deleted experiment with all its runs. Refuses active experiments.
    async fn hard_delete_experiment(&self, experiment_id: &str) -> Result<()>;
}

/// Logged models (MLflow 3), kept in the tracking store as MLflow keeps them.
///
/// Contract: as [`TrackingStore`]; a model's metrics are the metric points logged to runs
/// with its `model_id`.
#[async_trait]
pub trait LoggedModelStore: Send + Sync + 'static {
    async fn create_logged_model(
        &self,
        model: crate::logged_model::NewLoggedModel,
    ) -> Result<crate::logged_model::LoggedModel>;
    /// Deleted models are found only with `allow_deleted`.
    async fn get_logged_model(
        &self,
        model_id: &str,
        allow_deleted: bool,
    ) -> Result<crate::logged_model::LoggedModel>;
    async fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: crate::logged_model::LoggedModelStatus,
    ) -> Result<crate::logged_model::LoggedModel>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Param>) -> Result<()>;
    async fn search_logged_models(
        &self,
        req: crate::logged_model::SearchLoggedModelsRequest,
    ) -> Result<Page<crate::logged_model::LoggedModel>>;
}

/// The model registry: registered models, their versions, aliases and webhooks.
///
/// Contract: as [`TrackingStore`]. `create_model_version` resolves `models:/` and
/// `runs:/` sources against the runs and logged models of the tracking store it shares a
/// database with (MLflow's source checks), and records the new version in the logged
/// model's `mlflow.modelVersions` tag. Versions are numbered per model from 1 and never
/// reused; deleted versions are kept redacted.
#[async_trait]
pub trait ModelRegistryStore: Send + Sync + 'static {
    async fn create_registered_model(
        &self,
        name: String,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<crate::registry::RegisteredModel>;
    async fn get_registered_model(&self, name: &str) -> Result<crate::registry::RegisteredModel>;
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: String,
    ) -> Result<crate::registry::RegisteredModel>;
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<crate::registry::RegisteredModel>;
    /// Deletes the model with its versions, tags and aliases.
    async fn delete_registered_model(&self, name: &str) -> Result<()>;
    async fn search_registered_models(
        &self,
        req: crate::registry::RegistrySearchRequest,
    ) -> Result<Page<crate::registry::RegisteredModel>>;
    /// For each requested stage (all when empty), the highest version in it.
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<crate::registry::ModelVersion>>;
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()>;
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    async fn create_model_version(
        &self,
        version: crate::registry::NewModelVersion,
    ) -> Result<crate::registry::ModelVersion>;
    async fn get_model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<crate::registry::ModelVersion>;
    /// `description: None` clears it, as in MLflow.
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<crate::registry::ModelVersion>;
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<crate::registry::ModelVersion>;
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()>;
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String>;
    async fn search_model_versions(
        &self,
        req: crate::registry::RegistrySearchRequest,
    ) -> Result<Page<crate::registry::ModelVersion>>;
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()>;
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()>;

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()>;
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()>;
    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<crate::registry::ModelVersion>;

    // Webhooks
    async fn create_webhook(
        &self,
        webhook: crate::registry::NewWebhook,
    ) -> Result<crate::registry::Webhook>;
    async fn get_webhook(&self, webhook_id: &str) -> Result<crate::registry::Webhook>;
    async fn list_webhooks(
        &self,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<Page<crate::registry::Webhook>>;
    /// Every (not deleted) webhook subscribed to `event`, active or not.
    async fn list_webhooks_by_event(
        &self,
        event: crate::registry::WebhookEvent,
    ) -> Result<Vec<crate::registry::Webhook>>;
    async fn update_webhook(
        &self,
        webhook_id: &str,
        update: crate::registry::WebhookUpdate,
    ) -> Result<crate::registry::Webhook>;
    async fn delete_webhook(&self, webhook_id: &str) -> Result<()>;
}
