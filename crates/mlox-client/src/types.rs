//! The tracking entities as the REST API sends them (protobuf JSON).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A run or experiment tag.
pub type Tag = KeyValue;
/// A run parameter.
pub type Param = KeyValue;

#[derive(Clone, Debug, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    #[serde(default)]
    pub artifact_location: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// MLflow's run statuses (mlflow/entities/run_status.py).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

    /// FINISHED, FAILED and KILLED are final (`RunStatus.is_terminated`).
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    #[serde(default)]
    pub run_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    pub status: RunStatus,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub artifact_uri: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Metric {
    pub key: String,
    #[serde(deserialize_with = "crate::lenient::f64")]
    pub value: f64,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub step: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RunData {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<Param>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
}

impl Run {
    pub fn param(&self, key: &str) -> Option<&str> {
        find(&self.data.params, key)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        find(&self.data.tags, key)
    }

    /// The latest value of a metric.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.data
            .metrics
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value)
    }
}

fn find<'a>(list: &'a [KeyValue], key: &str) -> Option<&'a str> {
    list.iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_decode_from_protobuf_json() {
        let run: Run = serde_json::from_value(serde_json::json!({
            "info": {
                "run_id": "abc", "run_uuid": "abc", "experiment_id": "1",
                "status": "FINISHED", "start_time": "1700000000000", "end_time": 1700000000500_i64,
                "lifecycle_stage": "active"
            },
            "data": {
                "metrics": [{"key": "m", "value": "NaN", "timestamp": 1, "step": 0},
                            {"key": "r", "value": 0.5, "timestamp": 1, "step": 0}],
                "params": [{"key": "alpha", "value": "0.5"}],
                "tags": [{"key": "mlflow.user", "value": "me"}]
            }
        }))
        .unwrap();
        assert_eq!(run.info.status, RunStatus::Finished);
        assert_eq!(run.info.start_time, Some(1_700_000_000_000));
        assert_eq!(run.info.end_time, Some(1_700_000_000_500));
        assert!(run.metric("m").unwrap().is_nan());
        assert_eq!(run.metric("r"), Some(0.5));
        assert_eq!(run.param("alpha"), Some("0.5"));
        assert_eq!(run.tag("mlflow.user"), Some("me"));
        assert!(RunStatus::Killed.is_terminated() && !RunStatus::Running.is_terminated());
    }

    #[test]
    fn a_run_without_data_decodes() {
        let run: Run = serde_json::from_value(serde_json::json!({
            "info": {"run_id": "x", "experiment_id": "0", "status": "RUNNING"}
        }))
        .unwrap();
        assert!(run.data.params.is_empty());
        assert_eq!(run.info.end_time, None);
    }
}
