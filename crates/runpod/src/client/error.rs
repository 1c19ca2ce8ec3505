//! Typed client errors that keep what RunPod said.

use crate::types::problem::{ErrorResponse, NO_CAPACITY_MARKER, SPEND_LIMIT_MARKERS};
use bytes::Bytes;
use std::fmt;
use std::time::Duration;

/// What went wrong, coarsely enough to decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 401: the key is missing or invalid.
    Unauthorized,
    /// 403: the key is valid but lacks scope.
    Forbidden,
    /// 404: the resource does not exist, or a job's result expired.
    NotFound,
    /// No machine can take the request (`no longer any instances available` and variants).
    NoCapacity,
    /// 429; see [`Error::retry_after`].
    RateLimited,
    /// 422 (or 400 with `errors[]`): the body breaks the contract; never retry.
    Validation,
    /// The account lacks credit for this (402, the spec's status; or a 400 saying so).
    InsufficientBalance,
    /// The start would push the account's hourly spend past its limit (`spendRate`): it may
    /// succeed once running pods or workers stop.
    SpendLimit,
    /// A create returned 5xx or timed out: it may have happened. Look the resource up by name
    /// before trying again.
    MaybeCreated,
    /// 409.
    Conflict,
    /// 413: the payload is over RunPod's limit.
    PayloadTooLarge,
    /// Any other 400.
    BadRequest,
    /// 5xx on a request that is not a create.
    Server,
    /// The request did not complete: connect error, reset, timeout.
    Transport,
    /// A 2xx whose body is not what the contract says.
    Undecodable,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized (missing or invalid API key)",
            Self::Forbidden => "forbidden (the API key lacks permission)",
            Self::NotFound => "not found",
            Self::NoCapacity => "no capacity",
            Self::RateLimited => "rate limited",
            Self::Validation => "request rejected by validation",
            Self::InsufficientBalance => "insufficient balance",
            Self::SpendLimit => "account spend limit reached",
            Self::MaybeCreated => "create may have succeeded (no reliable response)",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload too large",
            Self::BadRequest => "bad request",
            Self::Server => "server error",
            Self::Transport => "transport error",
            Self::Undecodable => "undecodable response body",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A failed RunPod call. Keeps the status, the body, and how hard the client tried.
/// Boxed inside, so `Result<T, Error>` stays one pointer wide.
#[derive(Debug)]
pub struct Error {
    pub(crate) inner: Box<ErrorInner>,
}

#[derive(Debug)]
pub(crate) struct ErrorInner {
    pub(crate) kind: ErrorKind,
    pub(crate) operation: &'static str,
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) status: Option<u16>,
    pub(crate) detail: Option<String>,
    pub(crate) errors: Vec<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Option<Bytes>,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
    pub(crate) source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// The coarse kind.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }
    /// HTTP status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }
    /// RunPod's explanation (`detail`, `message` or `error` of the body).
    pub fn detail(&self) -> Option<&str> {
        self.inner.detail.as_deref()
    }
    /// Individual validation failures.
    pub fn validation_errors(&self) -> &[String] {
        &self.inner.errors
    }
    /// How long RunPod asked us to wait (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }
    /// The raw response body, kept for diagnosis.
    pub fn body(&self) -> Option<&[u8]> {
        self.inner.body.as_deref()
    }
    /// Requests sent, including retries.
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }
    /// Time from the first attempt to giving up.
    pub fn elapsed(&self) -> Duration {
        self.inner.elapsed
    }
    /// The operation, e.g. `create pod`.
    pub fn operation(&self) -> &'static str {
        self.inner.operation
    }
    /// True when a retry later (not now) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::RateLimited
                | ErrorKind::Server
                | ErrorKind::Transport
                | ErrorKind::NoCapacity
        )
    }

    pub(crate) fn new(
        kind: ErrorKind,
        operation: &'static str,
        method: &'static str,
        path: String,
    ) -> Self {
        Self {
            inner: Box::new(ErrorInner {
                kind,
                operation,
                method,
                path,
                status: None,
                detail: None,
                errors: Vec::new(),
                retry_after: None,
                body: None,
                attempts: 1,
                elapsed: Duration::ZERO,
                source: None,
            }),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.inner.operation, self.inner.kind)?;
        if let Some(d) = &self.inner.detail {
            write!(f, ": {d}")?;
        }
        if !self.inner.errors.is_empty() {
            write!(f, " [{}]", self.inner.errors.join("; "))?;
        }
        write!(f, " ({} {}", self.inner.method, self.inner.path)?;
        if let Some(s) = self.inner.status {
            write!(f, ", HTTP {s}")?;
        }
        write!(
            f,
            ", {} attempt{} in {:.1?})",
            self.inner.attempts,
            if self.inner.attempts == 1 { "" } else { "s" },
            self.inner.elapsed
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What an error body says, whichever of RunPod's shapes it uses.
#[derive(Debug, Default)]
pub(crate) struct BodyMessage {
    pub detail: Option<String>,
    pub errors: Vec<String>,
}

/// Reads problem+json (`detail`, `errors`), v1-style `message`, or `error`; else the raw text.
pub(crate) fn parse_error_body(body: &[u8]) -> BodyMessage {
    if let Ok(p) = serde_json::from_slice::<ErrorResponse>(body) {
        if !p.detail.is_empty() {
            return BodyMessage { detail: Some(p.detail), errors: p.errors.unwrap_or_default() };
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "detail"] {
            if let Some(s) = v.get(key).and_then(|m| m.as_str()) {
                return BodyMessage { detail: Some(s.to_owned()), errors: Vec::new() };
            }
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_owned();
    BodyMessage { detail: (!text.is_empty()).then(|| truncate(&text, 500)), errors: Vec::new() }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Lower-case phrases of a capacity refusal: RunPod's own text, the resume variant, and those
/// RunPod's newer SDK treats as capacity (`runpod` 2.0.0rc2 `apps/api.py is_capacity_error`).
const CAPACITY_MARKERS: &[&str] = &[
    NO_CAPACITY_MARKER,
    "not enough free gpus",
    "resources to deploy your pod",
    "insufficient capacity",
    "no available machine",
    "out of stock",
];

/// Maps a non-2xx status and body to a kind. `is_create` turns 5xx into `MaybeCreated`.
pub(crate) fn classify(status: u16, msg: &BodyMessage, is_create: bool) -> ErrorKind {
    let detail = msg.detail.as_deref().unwrap_or("").to_ascii_lowercase();
    match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        413 => ErrorKind::PayloadTooLarge,
        422 => ErrorKind::Validation,
        429 => ErrorKind::RateLimited,
        402 => ErrorKind::InsufficientBalance,
        400 if CAPACITY_MARKERS.iter().any(|m| detail.contains(m)) => ErrorKind::NoCapacity,
        400 if detail.contains("insufficient balance") || detail.contains("insufficient funds") => {
            ErrorKind::InsufficientBalance
        }
        400 if SPEND_LIMIT_MARKERS.iter().any(|m| detail.contains(m)) => ErrorKind::SpendLimit,
        400 if !msg.errors.is_empty() => ErrorKind::Validation,
        400..=499 => ErrorKind::BadRequest,
        _ if is_create => ErrorKind::MaybeCreated,
        _ => ErrorKind::Server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_variants_are_recognised() {
        for text in [
            "There are no longer any instances available with the requested specifications. Please refresh and try again.",
            "There are no longer any instances available with enough disk space.",
            "There are not enough free GPUs on the host machine to start this pod.",
            "We could not find the resources to deploy your pod.",
            "Insufficient capacity for this GPU type.",
        ] {
            let body =
                serde_json::json!({"title":"Bad Request","status":400,"detail":text}).to_string();
            assert_eq!(
                classify(400, &parse_error_body(body.as_bytes()), true),
                ErrorKind::NoCapacity,
                "{text}"
            );
        }
    }

    #[test]
    fn create_refusals_are_told_apart() {
        let kind = |status: u16, text: &str| {
            let body = serde_json::json!({"status": status, "detail": text}).to_string();
            classify(status, &parse_error_body(body.as_bytes()), true)
        };
        assert_eq!(kind(402, "Insufficient balance."), ErrorKind::InsufficientBalance);
        assert_eq!(
            kind(400, "This request would exceed your spend limit of $80.00/hr"),
            ErrorKind::SpendLimit
        );
        assert_eq!(kind(400, "Your spend rate limit has been reached"), ErrorKind::SpendLimit);
        assert_eq!(kind(400, "Something went wrong."), ErrorKind::BadRequest);
        assert_eq!(kind(403, "access to this pool is denied"), ErrorKind::Forbidden);
    }

    #[test]
    fn v1_and_plain_bodies_keep_their_message() {
        assert_eq!(
            parse_error_body(br#"{"message":"Pod not found"}"#).detail.as_deref(),
            Some("Pod not found")
        );
        assert_eq!(
            parse_error_body(br#"{"error":"Something went wrong."}"#).detail.as_deref(),
            Some("Something went wrong.")
        );
        assert_eq!(
            parse_error_body(b"upstream connect error").detail.as_deref(),
            Some("upstream connect error")
        );
    }

    #[test]
    fn five_hundreds_on_creates_may_have_created() {
        let m = BodyMessage::default();
        assert_eq!(classify(500, &m, true), ErrorKind::MaybeCreated);
        assert_eq!(classify(503, &m, false), ErrorKind::Server);
    }

    #[test]
    fn display_names_operation_kind_status_and_attempts() {
        let mut e = Error::new(ErrorKind::RateLimited, "list pods", "GET", "/v2/pods".into());
        e.inner.status = Some(429);
        e.inner.attempts = 3;
        e.inner.detail = Some("rate limit exceeded for the minute window".into());
        let s = e.to_string();
        assert!(s.starts_with("list pods failed: rate limited: rate limit exceeded"), "{s}");
        assert!(s.contains("HTTP 429") && s.contains("3 attempts"), "{s}");
    }
}
