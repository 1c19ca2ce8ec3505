//! The serverless job API: `https://api.runpod.ai/v2/{endpoint_id}/...`.

use super::wire_enum;
use crate::ids::{JobId, WorkerId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

wire_enum!(/// State of a serverless job.
JobStatus {
    InQueue = "IN_QUEUE",
    InProgress = "IN_PROGRESS",
    Completed = "COMPLETED",
    Failed = "FAILED",
    Cancelled = "CANCELLED",
    TimedOut = "TIMED_OUT",
});

impl JobStatus {
    /// No further change will happen.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled | Self::TimedOut)
    }
}

/// Per-job policy; every duration is in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobPolicy {
    /// Default 600 000 (10 min); min 5 s, max 7 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<u64>,
    /// Default 86 400 000 (24 h); hard limit from submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// The job does not trigger scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_priority: Option<bool>,
}

/// S3 credentials passed through to the worker.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Config {
    pub access_id: String,
    pub access_secret: String,
    pub bucket_name: String,
    pub endpoint_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_path: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket_name", &self.bucket_name)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

/// Body of `/run` and `/runsync`. Unknown top-level keys are dropped by RunPod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, rename = "webhookV2", skip_serializing_if = "Option::is_none")]
    pub webhook_v2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<JobPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_config: Option<S3Config>,
}

impl RunRequest {
    /// A request with just an input.
    pub fn new(input: Value) -> Self {
        Self { input, ..Self::default() }
    }
}

/// Response of `/run`, `/runsync`, `/status`, `/cancel`, `/retry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    pub id: JobId,
    pub status: JobStatus,
    /// Queue time in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_time: Option<u64>,
    /// Run time in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<u64>,
    /// The result, or the latest progress update while IN_PROGRESS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<WorkerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// One element of a `/stream` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamChunk {
    pub output: Value,
}

/// Response of `/stream/{id}`: chunks not delivered before, and the job's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamResponse {
    pub status: JobStatus,
    #[serde(default)]
    pub stream: Vec<StreamChunk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// Response of `/purge-queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeQueueResponse {
    pub removed: u64,
    pub status: String,
}

/// Job counts of `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthJobs {
    pub completed: u64,
    pub failed: u64,
    pub in_progress: u64,
    pub in_queue: u64,
    pub retried: u64,
}

/// Worker counts of `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthWorkers {
    pub idle: u64,
    pub running: u64,
    #[serde(default)]
    pub initializing: u64,
    #[serde(default)]
    pub ready: u64,
    #[serde(default)]
    pub throttled: u64,
    #[serde(default)]
    pub unhealthy: u64,
}

/// Response of `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub jobs: HealthJobs,
    pub workers: HealthWorkers,
}

/// Largest `/run` body RunPod accepts.
pub const RUN_PAYLOAD_LIMIT: usize = 10 * 1024 * 1024;
/// Largest `/runsync` body RunPod accepts.
pub const RUNSYNC_PAYLOAD_LIMIT: usize = 20 * 1024 * 1024;
