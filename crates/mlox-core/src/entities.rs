//! The tracking vocabulary: experiments, runs and what is logged to them.

use crate::error::MlflowError;

pub const LIFECYCLE_ACTIVE: &str = "active";
pub const LIFECYCLE_DELETED: &str = "deleted";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A parameter has the same shape as a tag; only the rules differ (immutable once logged).
pub type Param = Tag;

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parses MLflow's enum name or number (the protobuf JSON rules allow both).
    pub fn parse(s: &str) -> Result<Self, MlflowError> {
        Ok(match s {
            "RUNNING" | "1" => RunStatus::Running,
            "SCHEDULED" | "2" => RunStatus::Scheduled,
            "FINISHED" | "3" => RunStatus::Finished,
            "FAILED" | "4" => RunStatus::Failed,
            "KILLED" | "5" => RunStatus::Killed,
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid value '{s}' for parameter 'status': expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
                )))
            }
        })
    }

    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn parse(s: &str) -> Result<Self, MlflowError> {
        Ok(match s {
            "ACTIVE_ONLY" | "1" => ViewType::ActiveOnly,
            "DELETED_ONLY" | "2" => ViewType::DeletedOnly,
            "ALL" | "3" => ViewType::All,
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid value '{s}' for parameter 'view_type': expected one of ACTIVE_ONLY, DELETED_ONLY, ALL"
                )))
            }
        })
    }

    /// The lifecycle stages this view admits.
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            ViewType::ActiveOnly => &[LIFECYCLE_ACTIVE],
            ViewType::DeletedOnly => &[LIFECYCLE_DELETED],
            ViewType::All => &[LIFECYCLE_ACTIVE, LIFECYCLE_DELETED],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub model_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

impl Metric {
    pub fn new(key: impl Into<String>, value: f64, timestamp: i64, step: i64) -> Self {
        Metric {
            key: key.into(),
            value,
            timestamp,
            step,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        }
    }
}

/// One point of a metric's history, without its key (the history's): histories reach
/// millions of points, so a point is 32 bytes and allocates nothing unless it was logged
/// with a model or dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub origin: Option<Box<MetricOrigin>>,
}

/// The model and dataset a metric point was logged for (MLflow 3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricOrigin {
    pub model_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

impl MetricPoint {
    pub fn to_metric(&self, key: &str) -> Metric {
        let origin = self.origin.as_deref().cloned().unwrap_or_default();
        Metric {
            key: key.to_string(),
            value: self.value,
            timestamp: self.timestamp,
            step: self.step,
            model_id: origin.model_id,
            dataset_name: origin.dataset_name,
            dataset_digest: origin.dataset_digest,
        }
    }
}

/// A metric point with the run it belongs to (bulk history).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricWithRunId {
    pub run_id: String,
    pub metric: Metric,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInput {
    pub tags: Vec<Tag>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: Vec<DatasetInput>,
    /// Model inputs (logged model ids) of the run.
    pub model_inputs: Vec<String>,
    /// Model outputs (logged model id, step).
    pub model_outputs: Vec<(String, i64)>,
}

/// How many runs an experiment holds (mlox's own count for the web UI; MLflow's API has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCounts {
    pub experiment_id: String,
    /// Runs in the active lifecycle stage.
    pub active: i64,
    /// Active and deleted runs (not yet removed by `mlox gc`).
    pub total: i64,
}

/// One page of results and the token for the next, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// A run to create.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewRun {
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<Tag>,
}

/// Changes to a run's info; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchRunsRequest {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub view_type: ViewType,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchExperimentsRequest {
    pub filter: String,
    pub view_type: ViewType,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricHistoryRequest {
    pub run_id: String,
    pub metric_key: String,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkIntervalRequest {
    pub run_ids: Vec<String>,
    pub metric_key: String,
    pub start_step: Option<i64>,
    pub end_step: Option<i64>,
    pub max_results: Option<i64>,
}
