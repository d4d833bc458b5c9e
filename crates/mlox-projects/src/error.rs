//! The one error type of project runs.

use std::path::PathBuf;

/// Why a project could not be run. Messages that MLflow users know are copied from
/// MLflow 3.17.2 (mlflow/projects/*.py) verbatim.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A YAML file is malformed or has the wrong structure; `line` points into it.
    #[error("{}:{line}: {message}", file.display())]
    Spec {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// The user's input (URI, parameters, options) is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Fetching the project's code failed.
    #[error("{0}")]
    Fetch(String),
    /// A tool the run needs (git, uv, conda, docker, kubectl, python) is missing or failed.
    #[error("{0}")]
    Environment(String),
    /// The tracking server refused a call or could not be reached.
    #[error("tracking server: {0}")]
    Tracking(#[from] mlox_client::ClientError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Ctrl-C (or SIGTERM) arrived before the run could start.
    #[error("interrupted")]
    Interrupted,
}

impl ProjectError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ProjectError {
        let context = context.into();
        move |source| ProjectError::Io { context, source }
    }

    pub(crate) fn spec(file: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        ProjectError::Spec {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// Each variant of an environment error becomes the variant of the same name and message.
impl From<mlox_env::EnvError> for ProjectError {
    fn from(e: mlox_env::EnvError) -> Self {
        match e {
            mlox_env::EnvError::Spec {
                file,
                line,
                message,
            } => ProjectError::Spec {
                file,
                line,
                message,
            },
            mlox_env::EnvError::Environment(m) => ProjectError::Environment(m),
            mlox_env::EnvError::Io { context, source } => ProjectError::Io { context, source },
        }
    }
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;
