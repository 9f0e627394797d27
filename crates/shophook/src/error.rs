//! The one API error type: every failure of every handler maps here, and from here
//! to a status code and the spec's body `{"error": {"code", "message", "field"?}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shophook_core::FieldError;
use shophook_store::StoreError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or unknown key.
    #[error("missing or invalid API key: send `Authorization: Bearer <key>`")]
    Unauthorized,
    /// Authenticated, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Machine code.
        code: &'static str,
        /// What to do.
        message: String,
    },
    /// The resource does not exist (or belongs to another account).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A field is invalid.
    #[error("{0}")]
    Invalid(FieldError),
    /// The request is malformed.
    #[error("{message}")]
    BadRequest {
        /// Machine code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than allowed.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Not JSON.
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// The key made too many requests; retry after this many seconds.
    #[error("too many requests with this key; retry in {0} s")]
    TooManyRequests(u64),
    /// Wrong method for the path.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The database is unreachable: nothing was stored; retry.
    #[error("storage is unavailable, nothing was stored; retry shortly ({0})")]
    Unavailable(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// HTTP status and machine code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Invalid(e) => (StatusCode::UNPROCESSABLE_ENTITY, e.code),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// Shorthand for a field error.
    pub fn field(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::Invalid(FieldError::new(field, code, message))
    }

    /// Shorthand for a bad request.
    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::LimitReached(m) => ApiError::Forbidden {
                code: "limit_reached",
                message: m,
            },
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            StoreError::Corrupt(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let (message, field) = match &self {
            ApiError::Invalid(e) => (
                e.to_string(),
                Some(e.field.clone()).filter(|f| !f.is_empty()),
            ),
            other => (other.to_string(), None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                field,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        if let ApiError::TooManyRequests(secs) = self {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// One error: a machine code, a message saying what to fix, the field at fault.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `invalid_field`, `not_found`, `unauthorized`.
    pub code: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The request field at fault (`url`, `conditions[0].op`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A handler result.
pub type ApiResult<T> = Result<T, ApiError>;
