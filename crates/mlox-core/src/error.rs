//! MLflow's error codes and the HTTP status each maps to, declared once.
//!
//! The table follows `ERROR_CODE_TO_HTTP_STATUS` in MLflow's `mlflow/exceptions.py`;
//! any code not listed there maps to 500, as in MLflow.

use std::fmt;

macro_rules! error_codes {
    ($($name:ident => $status:expr),* $(,)?) => {
        /// An MLflow `error_code`, as sent on the wire by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum ErrorCode { $($name),* }

        impl ErrorCode {
            /// The name MLflow puts in `error_code`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name)),* }
            }
            /// The HTTP status MLflow answers with for this code.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$name => $status),* }
            }
        }
    };
}

error_codes! {
    INTERNAL_ERROR => 500,
    TEMPORARILY_UNAVAILABLE => 503,
    IO_ERROR => 500,
    BAD_REQUEST => 400,
    DEADLINE_EXCEEDED => 504,
    CANCELLED => 499,
    RESOURCE_EXHAUSTED => 429,
    ABORTED => 409,
    NOT_FOUND => 404,
    ALREADY_EXISTS => 409,
    UNAUTHENTICATED => 401,
    INVALID_PARAMETER_VALUE => 400,
    ENDPOINT_NOT_FOUND => 404,
    MALFORMED_REQUEST => 500,
    INVALID_STATE => 500,
    PERMISSION_DENIED => 403,
    FEATURE_DISABLED => 500,
    CUSTOMER_UNAUTHORIZED => 401,
    REQUEST_LIMIT_EXCEEDED => 429,
    RESOURCE_CONFLICT => 409,
    NOT_IMPLEMENTED => 501,
    DATA_LOSS => 500,
    INVALID_STATE_TRANSITION => 500,
    RESOURCE_ALREADY_EXISTS => 400,
    RESOURCE_DOES_NOT_EXIST => 404,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Anything that can be reported to an MLflow client.
pub trait HasErrorCode {
    fn error_code(&self) -> ErrorCode;
}

/// A domain error: an MLflow error code and the message shown to the user.
///
/// Validation, search parsing and the stores all speak this type, so that the
/// HTTP layer maps errors in exactly one place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MlflowError {
    pub code: ErrorCode,
    pub message: String,
}

impl MlflowError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MlflowError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMETER_VALUE, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RESOURCE_DOES_NOT_EXIST, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RESOURCE_ALREADY_EXISTS, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }
}

impl HasErrorCode for MlflowError {
    fn error_code(&self) -> ErrorCode {
        self.code
    }
}

pub type Result<T, E = MlflowError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_mlflow_table() {
        let table = [
            (ErrorCode::INVALID_PARAMETER_VALUE, 400),
            (ErrorCode::RESOURCE_ALREADY_EXISTS, 400),
            (ErrorCode::RESOURCE_DOES_NOT_EXIST, 404),
            (ErrorCode::ENDPOINT_NOT_FOUND, 404),
            (ErrorCode::INTERNAL_ERROR, 500),
            (ErrorCode::NOT_IMPLEMENTED, 501),
            (ErrorCode::TEMPORARILY_UNAVAILABLE, 503),
            (ErrorCode::REQUEST_LIMIT_EXCEEDED, 429),
        ];
        for (code, status) in table {
            assert_eq!(code.http_status(), status, "{code}");
        }
    }
}
