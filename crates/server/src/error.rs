//! The API's error answer: status, typed code, message and hint, an optional `Retry-After`, and
//! the cause for the server's log. Every layer that answers a request with an error (the
//! routes, the extractors, the body budget, volumes) builds one of these; the engine's errors
//! map onto them here, in one table.

use crate::api::{ErrorBody, ErrorCode};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use podwarden_engine::{EngineError, ProviderError};

/// An API error: status, body, an optional `Retry-After`, and the cause behind it for the
/// server's log (never sent; logged once by `log_errors` from a response extension, so turning
/// an error into a response has no side effect).
pub(crate) struct ApiError(StatusCode, ErrorBody, Option<u64>, Option<String>);

/// The cause of an error response, for `log_errors`.
#[derive(Clone)]
pub(crate) struct ErrorCause(pub(crate) String);

impl ApiError {
    /// What the client is told.
    #[cfg(test)]
    pub(crate) fn body(&self) -> &ErrorBody {
        &self.1
    }

    /// A 500 whose cause stays in the server's log.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error (see the server log)",
            None,
        )
    }

    pub(crate) fn new(
        status: StatusCode,
        code: ErrorCode,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> Self {
        Self(
            status,
            ErrorBody { code, message: message.into(), hint: hint.map(str::to_owned) },
            None,
            None,
        )
    }

    /// With the cause the server's log should show (the provider's or the store's error).
    pub(crate) fn caused_by(mut self, cause: impl std::fmt::Debug) -> Self {
        self.3 = Some(format!("{cause:?}"));
        self
    }

    /// With a `Retry-After` header of `secs` seconds.
    pub(crate) fn retry_after(mut self, secs: u64) -> Self {
        self.2 = Some(secs);
        self
    }

    /// What the error says (for audit entries).
    pub(crate) fn message(&self) -> &str {
        &self.1.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(self.1)).into_response();
        if let Some(secs) = self.2 {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        if let Some(cause) = self.3 {
            r.extensions_mut().insert(ErrorCause(cause));
        }
        r
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::NoSuchJob(_) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                e.to_string(),
                Some("`podwarden ps` lists jobs"),
            ),
            EngineError::NoSuchServerlessJob(_) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                e.to_string(),
                Some("`podwarden ps` lists jobs"),
            ),
            EngineError::EndpointNotReady { .. } => {
                Self::new(StatusCode::CONFLICT, ErrorCode::EndpointNotReady, e.to_string(), None)
            }
            EngineError::PayloadTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                e.to_string(),
                Some(
                    "put large inputs in storage (a network volume or S3) and pass their path in the input",
                ),
            ),
            EngineError::NoSuchEndpoint(_) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                e.to_string(),
                Some("`podwarden endpoint ls` lists endpoints"),
            ),
            EngineError::Corrupt(_) | EngineError::Crashed(_) => Self::internal()
            .caused_by(&e),
            EngineError::BadToken(_) => Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "invalid or expired job token",
                Some("a job token works while its job runs and 5 minutes after it ends"),
            ),
            EngineError::NoGpuFits(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NoGpuFits,
                e.to_string(),
                Some(
                    "`podwarden gpus` shows what is offered; relax gpu.min_vram_gb or gpu.max_price_per_hour",
                ),
            ),
            EngineError::UnknownGpuType(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::UnknownGpuType,
                e.to_string(),
                Some("fix gpu.types: `podwarden gpus` lists the names offered (a part such as \"A100\" or \"4090\" is enough)"),
            ),
            EngineError::WrongState { .. } | EngineError::Transition { .. } => {
                Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, e.to_string(), None)
            }
            EngineError::BadVolume(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadNetworkVolume,
                e.to_string(),
                Some(
                    "check the volume's id and data center with RunPod's console or `GET /v2/network-volumes`",
                ),
            ),
            EngineError::Provider(c) => Self::from_provider(c),
            EngineError::BadMetrics { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidMetrics,
                e.to_string(),
                Some(
                    "known fields (step, epoch, loss, eval_loss, learning_rate, grad_norm, samples_per_second, elapsed_seconds, remaining_seconds, progress 0-100, gpu_memory_*_gb) are numbers; see docs/job-spec.md",
                ),
            ),
            EngineError::SpendCapReached { .. } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::SpendCapReached,
                e.to_string(),
                Some(
                    "ask the operator to raise it, wait for running work to end, or save your own RunPod key in Settings → Compute",
                ),
            ),
            EngineError::Store(s) if s.is_busy() => {
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::DatabaseBusy,
                    "the database is locked by another process; nothing was changed",
                    Some("retry in a few seconds; if it persists, look for another program holding podwarden.db open"),
                )
                .retry_after(2)
                .caused_by(s)
            }
            EngineError::Store(s) => Self::internal()
            .caused_by(s),
        }
    }
}

impl ApiError {
    /// What the provider said, as the API says it: a refused key, an empty balance, a spent
    /// request budget (with its `Retry-After`), a refused request, anything else a 502.
    fn from_provider(c: &ProviderError) -> Self {
        match c {
            c @ ProviderError::Auth(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::InvalidApiKey,
                format!("RunPod rejected the API key: {c}"),
                Some("check RUNPOD_API_KEY (or the key saved for your user)"),
            ),
            c @ ProviderError::InsufficientBalance(_) => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::InsufficientBalance,
                c.to_string(),
                Some("add funds to the RunPod account (console → billing)"),
            ),
            ProviderError::RateLimited { message, retry_after_secs } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::ProviderRateLimited,
                format!("RunPod's request budget for this account is spent: {message}"),
                Some("nothing was done; retry after the Retry-After seconds"),
            )
            .retry_after(retry_after_secs.unwrap_or(60)),
            c @ ProviderError::Rejected(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ProviderRejected,
                format!("RunPod refused the request: {c}"),
                Some("podwarden passed it on as given; fix the field RunPod names"),
            ),
            c => Self::new(StatusCode::BAD_GATEWAY, ErrorCode::ProviderError, c.to_string(), None)
                .caused_by(c),
        }
    }
}

pub(crate) type R<T> = Result<T, ApiError>;
