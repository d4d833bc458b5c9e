//! The one error type of model serving, and its mapping to MLflow's `error_code` and HTTP
//! status (mlflow/pyfunc/scoring_server: `MlflowException.serialize_as_json`).

use mlox_core::ErrorCode;

/// What went wrong while loading a model or scoring a request.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request was malformed (bad JSON, unknown format key, unparsable CSV):
    /// MLflow's `BAD_REQUEST`.
    #[error("{0}")]
    BadRequest(String),
    /// The request did not match the model's signature (missing column, bad shape):
    /// MLflow's `INVALID_PARAMETER_VALUE`.
    #[error("{0}")]
    InvalidInput(String),
    /// An error reported by the Python worker, with MLflow's own code.
    #[error("{message}")]
    Model { code: ErrorCode, message: String },
    /// The model URI names nothing.
    #[error("{0}")]
    NotFound(String),
    /// The model directory or its metadata is unusable.
    #[error("{0}")]
    InvalidModel(String),
    /// A worker process died or could not be started.
    #[error("{0}")]
    Worker(String),
    /// The tracking server or artifact store failed.
    #[error("{0}")]
    Remote(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = ServeError> = std::result::Result<T, E>;

impl ServeError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
        let context = context.into();
        move |source| ServeError::Io { context, source }
    }

    /// MLflow's `error_code` for this error; the HTTP status follows from it.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ServeError::BadRequest(_) => ErrorCode::BAD_REQUEST,
            ServeError::InvalidInput(_) => ErrorCode::INVALID_PARAMETER_VALUE,
            ServeError::Model { code, .. } => *code,
            ServeError::NotFound(_) => ErrorCode::RESOURCE_DOES_NOT_EXIST,
            ServeError::InvalidModel(_) => ErrorCode::INVALID_PARAMETER_VALUE,
            ServeError::Worker(_) => ErrorCode::TEMPORARILY_UNAVAILABLE,
            ServeError::Remote(_) | ServeError::Io { .. } => ErrorCode::INTERNAL_ERROR,
        }
    }

    /// MLflow's error body: `{"error_code": ..., "message": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error_code": self.error_code().as_str(),
            "message": self.to_string(),
        })
    }
}

/// An error code name as MLflow spells it (from a Python worker) to our table.
pub fn code_from_name(name: &str) -> ErrorCode {
    match name {
        "BAD_REQUEST" => ErrorCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE" => ErrorCode::INVALID_PARAMETER_VALUE,
        "RESOURCE_DOES_NOT_EXIST" => ErrorCode::RESOURCE_DOES_NOT_EXIST,
        "NOT_FOUND" => ErrorCode::NOT_FOUND,
        "TEMPORARILY_UNAVAILABLE" => ErrorCode::TEMPORARILY_UNAVAILABLE,
        "DEADLINE_EXCEEDED" => ErrorCode::DEADLINE_EXCEEDED,
        "INVALID_STATE" => ErrorCode::INVALID_STATE,
        _ => ErrorCode::INTERNAL_ERROR,
    }
}
