//! The one place where errors become HTTP responses in MLflow's error shape.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use mlox_core::{ErrorCode, HasErrorCode, MlflowError};

/// An error on its way to an MLflow client.
#[derive(Debug)]
pub struct ApiError {
    pub error: MlflowError,
    /// A status other than the code's own (413 for oversized bodies).
    pub status: Option<StatusCode>,
}

impl<E: HasErrorCode + std::fmt::Display> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError {
            error: MlflowError::new(e.error_code(), e.to_string()),
            status: None,
        }
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            error: MlflowError::new(code, message),
            status: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }
}

/// `{"error_code": …, "message": …}` with the status MLflow uses for the code.
pub fn error_response(code: ErrorCode, message: &str) -> Response {
    let status =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "error_code": code.as_str(), "message": message });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError { error, status } = self;
        if error.code.http_status() >= 500 {
            tracing::error!(code = %error.code, message = %error.message, "request failed");
        }
        let mut response = error_response(error.code, &error.message);
        if let Some(status) = status {
            *response.status_mut() = status;
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
