//! Errors as RunPod sends them: `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runpod::types::problem::{ErrorResponse, VALIDATION_FAILED_DETAIL};

/// An API error the emulator answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub detail: String,
    pub errors: Option<Vec<String>>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any status with a detail.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), errors: None, retry_after: None }
    }
    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, detail)
    }
    /// 404 with RunPod's text.
    pub fn not_found() -> Self {
        Self::new(404, "resource not found")
    }
    /// 401 with RunPod's text.
    pub fn unauthorized() -> Self {
        Self::new(401, "missing bearer token")
    }
    /// 403 with RunPod's text.
    pub fn forbidden() -> Self {
        Self::new(403, "access denied")
    }
    /// 422 with individual failures.
    pub fn validation(errors: Vec<String>) -> Self {
        Self {
            status: 422,
            detail: VALIDATION_FAILED_DETAIL.into(),
            errors: Some(errors),
            retry_after: None,
        }
    }
    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self::rate_limited_in("minute", retry_after)
    }

    /// 429 naming the spent window, with `Retry-After`.
    pub fn rate_limited_in(window: &str, retry_after: u64) -> Self {
        Self {
            status: 429,
            detail: format!("rate limit exceeded for the {window} window"),
            errors: None,
            retry_after: Some(retry_after),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = ErrorResponse::new(self.status, self.detail);
        body.errors = self.errors;
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = (status, json).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
