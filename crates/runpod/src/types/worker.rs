//! The worker callback API a serverless container speaks (runpod-python 1.12 semantics).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A job handed to a worker by `job-take`. Every key reaches the handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakenJob {
    pub id: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, rename = "s3Config", skip_serializing_if = "Option::is_none")]
    pub s3_config: Option<Value>,
}

/// Reply of `job-stop`: jobs the worker must cancel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobsToStop {
    pub jobs_to_stop: Vec<String>,
}

/// Body of `job-done` (final result or, with `status: IN_PROGRESS`, a progress update) and of
/// `job-stream` (one chunk in `output`). The Python runtime sends it as JSON text under a
/// form-urlencoded content type, so servers parse the raw body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobResultBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// `IN_PROGRESS` marks a progress update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Recycle this worker after the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_pod: Option<bool>,
}

impl JobResultBody {
    /// Whether this is a progress update rather than a final result.
    pub fn is_progress(&self) -> bool {
        self.status.as_deref() == Some("IN_PROGRESS")
    }
}
