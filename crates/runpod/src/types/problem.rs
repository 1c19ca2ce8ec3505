//! RFC 9457 problem details, REST v2's error body.

use serde::{Deserialize, Serialize};

/// `application/problem+json` body of every REST v2 error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Short summary, e.g. `Not Found`.
    #[serde(default)]
    pub title: String,
    /// The HTTP status repeated.
    #[serde(default)]
    pub status: u16,
    /// Human-readable explanation. Capacity errors are recognised by this text.
    #[serde(default)]
    pub detail: String,
    /// Individual validation failures (422 only), e.g. `$.action: value must be one of ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
}

/// The `detail` RunPod returns when no machine can take a pod.
pub const NO_CAPACITY_DETAIL: &str = "There are no longer any instances available with the requested specifications. Please refresh and try again.";
/// The substring every no-capacity variant shares.
pub const NO_CAPACITY_MARKER: &str = "no longer any instances available";
/// The `detail` when a stopped pod cannot be resumed on its host.
pub const NOT_ENOUGH_FREE_GPUS_DETAIL: &str =
    "There are not enough free GPUs on the host machine to start this pod.";
/// Synthetic (RunPod publishes no exact text): creation refused for lack of credit.
pub const INSUFFICIENT_BALANCE_DETAIL: &str =
    "Insufficient balance: deploying requires at least one hour of credit for this configuration.";
/// Lower-case phrases of a refusal for the account's hourly spend limit (`spendRate`). RunPod
/// publishes no text; these cover the emulator's and the wordings seen in the docs.
pub const SPEND_LIMIT_MARKERS: &[&str] = &["spend limit", "spend rate", "spendrate"];
/// The emulator's refusal of a spend-limit overrun (synthetic: RunPod publishes none).
pub const SPEND_LIMIT_DETAIL: &str = "This request would exceed your spend limit";
/// RunPod's docs sentence, used as the emulator's refusal of a Community pod with a network
/// volume (RunPod's own wording of that 400 is unpublished).
pub const VOLUME_SECURE_ONLY_DETAIL: &str =
    "Network volumes are only available for Pods in the Secure Cloud.";
/// The `detail` of every 422.
pub const VALIDATION_FAILED_DETAIL: &str = "Request validation failed.";

impl ErrorResponse {
    /// A problem with the standard title for `status`.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self { title: title_for(status).to_owned(), status, detail: detail.into(), errors: None }
    }
}

/// The reason phrase RunPod uses as `title`.
pub fn title_for(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}
