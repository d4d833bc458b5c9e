//! Model registry operations written once over [`Conn`](crate::db::Conn), shared by both backends.
//!
//! The registry tables carry no foreign keys: renames and deletes cascade here, in the
//! same transaction, so both backends behave the same.

mod aliases;
mod loading;
mod models;
mod sources;
mod store;
mod versions;
mod webhooks;

use mlox_core::MlflowError;

/// What `create_model_version` needs to know about the server (MLflow reads these from its
/// environment and CLI options).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourcePolicy {
    /// The server's default artifact root: sources on its host are trusted.
    pub artifact_root: String,
    /// `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`.
    pub allowed_host_schemes: Vec<String>,
}

fn rm_not_found(name: &str) -> MlflowError {
    MlflowError::not_found(format!("Registered Model with name={name} not found"))
}

fn mv_not_found(name: &str, version: &str) -> MlflowError {
    MlflowError::not_found(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}
