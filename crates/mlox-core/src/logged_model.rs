//! Logged models (MLflow 3): the model artifacts a run produced, with their own params,
//! tags and metrics (`mlflow/entities/logged_model.py`).

use crate::entities::{MetricWithRunId, Param, Tag};
use crate::error::{MlflowError, Result};

/// Default page size of `logged-models/search` (`SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT`).
pub const SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT: i64 = 100;

/// `LoggedModelStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelStatus {
    Unspecified,
    Pending,
    Ready,
    UploadFailed,
}

impl LoggedModelStatus {
    pub fn as_proto(self) -> &'static str {
        match self {
            LoggedModelStatus::Unspecified => "LOGGED_MODEL_STATUS_UNSPECIFIED",
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    /// The number stored in the database (the proto number, as MLflow stores it).
    pub fn as_int(self) -> i64 {
        match self {
            LoggedModelStatus::Unspecified => 0,
            LoggedModelStatus::Pending => 1,
            LoggedModelStatus::Ready => 2,
            LoggedModelStatus::UploadFailed => 3,
        }
    }

    pub fn from_int(n: i64) -> Self {
        match n {
            1 => LoggedModelStatus::Pending,
            2 => LoggedModelStatus::Ready,
            3 => LoggedModelStatus::UploadFailed,
            _ => LoggedModelStatus::Unspecified,
        }
    }

    /// Parses the proto name (`LOGGED_MODEL_READY`), its short form (`READY`) or the number.
    pub fn parse(s: &str) -> Result<Self> {
        let upper = s.trim().to_ascii_uppercase();
        let short = upper.strip_prefix("LOGGED_MODEL_").unwrap_or(&upper);
        Ok(match short {
            "STATUS_UNSPECIFIED" | "UNSPECIFIED" | "0" => LoggedModelStatus::Unspecified,
            "PENDING" | "1" => LoggedModelStatus::Pending,
            "READY" | "2" => LoggedModelStatus::Ready,
            "UPLOAD_FAILED" | "3" => LoggedModelStatus::UploadFailed,
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid value '{s}' for parameter 'status': expected one of LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED"
                )))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub artifact_uri: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub status: LoggedModelStatus,
    pub status_message: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub lifecycle_stage: String,
    pub tags: Vec<Tag>,
    pub params: Vec<Param>,
    /// Every metric point logged against the model (by any run), with its run.
    pub metrics: Vec<MetricWithRunId>,
}

/// A logged model to create.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// One structured `order_by` element of `logged-models/search`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggedModelOrderBy {
    pub field_name: String,
    pub ascending: bool,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

/// A `datasets` element of `logged-models/search`: metrics must have been computed on it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggedModelDatasetFilter {
    pub dataset_name: String,
    pub dataset_digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchLoggedModelsRequest {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub datasets: Vec<LoggedModelDatasetFilter>,
    pub max_results: Option<i64>,
    pub order_by: Vec<LoggedModelOrderBy>,
    pub page_token: Option<String>,
}

/// `_validate_logged_model_name`: when given, non-empty and without `/ : . % " '`.
pub fn validate_logged_model_name(name: &str) -> Result<()> {
    const BAD: [char; 6] = ['/', ':', '.', '%', '"', '\''];
    if name.is_empty() || name.contains(BAD) {
        return Err(MlflowError::invalid(format!(
            "Invalid model name ('{name}') provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%', '\"', \"'\")"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            LoggedModelStatus::parse("LOGGED_MODEL_READY").unwrap(),
            LoggedModelStatus::Ready
        );
        assert_eq!(
            LoggedModelStatus::parse("2").unwrap(),
            LoggedModelStatus::Ready
        );
        assert_eq!(
            LoggedModelStatus::parse("upload_failed").unwrap(),
            LoggedModelStatus::UploadFailed
        );
        assert!(LoggedModelStatus::parse("DONE").is_err());
        for s in [
            LoggedModelStatus::Pending,
            LoggedModelStatus::Ready,
            LoggedModelStatus::UploadFailed,
        ] {
            assert_eq!(LoggedModelStatus::from_int(s.as_int()), s);
        }
    }

    #[test]
    fn names() {
        assert!(validate_logged_model_name("model").is_ok());
        assert!(validate_logged_model_name("my.model").is_err());
        assert!(validate_logged_model_name("").is_err());
    }
}
