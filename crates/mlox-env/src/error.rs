//! The one error type of environment building.

use std::path::PathBuf;

/// Why an environment could not be prepared. `mlox-projects` wraps it whole
/// (`ProjectError::Env`), with the same message.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A YAML file is malformed or has the wrong structure; `line` points into it.
    #[error("{}:{line}: {message}", file.display())]
    Spec {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// A tool the environment needs (uv, conda, python) is missing or failed.
    #[error("{0}")]
    Environment(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl EnvError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EnvError {
        let context = context.into();
        move |source| EnvError::Io { context, source }
    }

    pub fn spec(file: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        EnvError::Spec {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

pub type Result<T, E = EnvError> = std::result::Result<T, E>;
