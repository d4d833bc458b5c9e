//! The one error type of project runs.

/// Why a project could not be run. Messages that MLflow users know are copied from
/// MLflow 3.17.2 (mlflow/projects/*.py) verbatim.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A malformed YAML file (`MLproject`, an environment file), a tool that is missing
    /// or failed (git, uv, conda, docker, kubectl, python), or a file that could not be
    /// read or written: the errors environment building has too.
    #[error(transparent)]
    Env(#[from] mlox_env::EnvError),
    /// The user's input (URI, parameters, options) is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Fetching the project's code failed.
    #[error("{0}")]
    Fetch(String),
    /// The tracking server refused a call or could not be reached.
    #[error("tracking server: {0}")]
    Tracking(#[from] mlox_client::ClientError),
    /// Ctrl-C (or SIGTERM) arrived before the run could start.
    #[error("interrupted")]
    Interrupted,
}

impl ProjectError {
    /// A tool the run needs is missing or failed.
    pub(crate) fn environment(message: impl Into<String>) -> Self {
        mlox_env::EnvError::Environment(message.into()).into()
    }
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;
