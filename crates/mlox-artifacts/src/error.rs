use mlox_core::{ErrorCode, HasErrorCode};

/// Errors of the artifact repository.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A path that is not a safe relative artifact path.
    #[error("{0}")]
    InvalidPath(String),
    #[error("No such artifact: '{0}'")]
    NotFound(String),
    /// The repository URI or its settings are wrong.
    #[error("{0}")]
    Config(String),
    /// The client's upload stream broke off.
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    #[error("artifact store error: {0}")]
    Store(#[from] object_store::Error),
}

impl HasErrorCode for ArtifactError {
    fn error_code(&self) -> ErrorCode {
        match self {
            ArtifactError::InvalidPath(_) => ErrorCode::INVALID_PARAMETER_VALUE,
            ArtifactError::NotFound(_) => ErrorCode::RESOURCE_DOES_NOT_EXIST,
            ArtifactError::Config(_) => ErrorCode::INVALID_PARAMETER_VALUE,
            ArtifactError::Interrupted(_) => ErrorCode::BAD_REQUEST,
            ArtifactError::Store(object_store::Error::NotFound { .. }) => {
                ErrorCode::RESOURCE_DOES_NOT_EXIST
            }
            ArtifactError::Store(_) => ErrorCode::INTERNAL_ERROR,
        }
    }
}
