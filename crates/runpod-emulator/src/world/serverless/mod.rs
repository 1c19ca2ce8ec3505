//! Serverless: endpoints, their workers (local processes speaking RunPod's worker protocol),
//! and the job queue behind `/run`, `/runsync`, `/status`, `/stream`, `/cancel`, `/retry`,
//! `/purge-queue` and `/health`.
//!
//! Workers scale between `workers.min` and `workers.max` on queue depth, go idle and are
//! stopped after `idleTimeout`, and are restarted with backoff when they crash (a crash loop
//! shows as UNHEALTHY). Jobs honour `executionTimeout` (FAILED, and the worker is told to
//! stop), `ttl` (deleted: 404), and result retention (30 min after `/run`, 1 min after
//! `/runsync`).
//!
//! Here: the records (endpoint, worker, job) and their states. `endpoints` holds the REST side,
//! `queue` the job API and the worker protocol, `workers` scaling, processes and the tick; they
//! are one machine at RunPod (a job moves with its worker, a worker with its endpoint's scaling
//! and idle timeout), so each file reaches into the others' records.

use super::ledger::{Kind, Split};
use super::{Effect, Owner, SpawnSpec, Wake, World, random_id, random_secret};
use crate::clock::rfc3339;
use crate::logs::LogBuffer;
use crate::problem::{ApiError, ApiResult};
use chrono::{DateTime, TimeDelta, Utc};
use runpod::types::endpoints::{
    CreateEndpointGpuConfig, CreateEndpointRequest, Endpoint, EndpointGpuConfig, EndpointScaling,
    EndpointType, EndpointWorkersStatus, FlashBoot, ListEndpointWorkersResponse,
    ListEndpointsResponse, UpdateEndpointRequest, Worker, WorkerStatus, WorkerSummary,
};
use runpod::types::serverless::{
    Health, HealthJobs, HealthWorkers, JobState, JobStatus, PurgeQueueResponse, StreamChunk,
    StreamResponse,
};
use runpod::types::worker::{JobResultBody, TakenJob};
use runpod::{DataCenterId, EndpointId, GpuTypeId, JobId, NetworkVolumeId, TemplateId, WorkerId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// RunPod's per-job execution timeout default when nothing else says (ms).
pub const DEFAULT_POLICY_EXECUTION_TIMEOUT_MS: u64 = 600_000;
/// RunPod's job TTL default (ms).
pub const DEFAULT_TTL_MS: u64 = 86_400_000;
/// The v2 spec's default endpoint timeout (ms).
pub const DEFAULT_ENDPOINT_TIMEOUT_MS: i64 = 300_000;

/// A serverless endpoint.
#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub id: String,
    /// The account it belongs to (and bills).
    pub account: String,
    pub name: String,
    pub template_id: Option<String>,
    pub image: Option<String>,
    pub args: Option<String>,
    pub disk: Option<i64>,
    pub env: BTreeMap<String, String>,
    pub ports: Option<Vec<String>>,
    pub registry: Option<String>,
    pub gpu: Option<CreateEndpointGpuConfig>,
    pub cpu: Option<Vec<runpod::types::pods::CreateCpuConfig>>,
    pub workers_min: i64,
    pub workers_max: i64,
    /// Seconds.
    pub idle_timeout: i64,
    pub scaling: EndpointScaling,
    pub timeout_ms: i64,
    pub flashboot: FlashBoot,
    pub network_volumes: Vec<String>,
    pub data_center_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The last request (`/run`, `/runsync`) or configuration change: RunPod lowers an idle
    /// endpoint's max workers after 3 and 7 days without requests.
    pub last_request_at: DateTime<Utc>,
    pub version: i64,
    pub queue: VecDeque<String>,
    pub worker_key: String,
    pub completed: u64,
    pub failed: u64,
    pub retried: u64,
    /// GPU type workers run on and its per-worker USD/h.
    pub gpu_type: Option<String>,
    pub price_per_hr: f64,
    /// Every configuration version, oldest first (`/v2/serverless/{id}/releases`).
    pub releases: Vec<Release>,
}

/// One configuration version of an endpoint and what changed to make it.
#[derive(Debug, Clone)]
pub struct Release {
    pub id: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// `(field, old, new)` of the REST view.
    pub diff: Vec<(String, Value, Value)>,
}

/// One worker of an endpoint.
#[derive(Debug, Clone)]
pub struct WorkerRecord {
    pub id: String,
    pub endpoint_id: String,
    pub status: WorkerStatus,
    pub created_at: DateTime<Utc>,
    pub boot_until: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// Has called `job-take` since its process started.
    pub polled: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub in_flight: BTreeSet<String>,
    pub to_stop: Vec<String>,
    pub idle_since: Option<DateTime<Utc>>,
    pub generation: u64,
    pub process_running: bool,
    /// Not started by the emulator: a worker someone runs by hand against it.
    pub external: bool,
    pub crash_count: u32,
    pub next_restart: Option<DateTime<Utc>>,
    pub stopping: bool,
    pub logs: Arc<LogBuffer>,
    pub price_per_hr: f64,
    pub billed_until: DateTime<Utc>,
    pub gpu_type: Option<String>,
    pub version: i64,
}

impl WorkerRecord {
    /// Billed "from when a worker starts until it fully stops" (`serverless/pricing.mdx`):
    /// from the moment it is allocated (its boot and image pull, a crash loop's restarts and
    /// the stop's grace included) until it is gone, not only while it runs jobs. A worker run
    /// by hand against the emulator (`external`) is nobody's bill.
    pub fn is_billing(&self) -> bool {
        !self.external
    }
}

/// One job.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub endpoint_id: String,
    pub input: Value,
    pub webhook: Option<String>,
    pub s3_config: Option<Value>,
    pub execution_timeout_ms: Option<u64>,
    pub ttl_ms: u64,
    pub low_priority: bool,
    pub status: JobStatus,
    pub submitted_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub worker_id: Option<String>,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub progress: Option<Value>,
    pub chunks: Vec<Value>,
    pub cursor: usize,
    pub sync: bool,
    pub retries: u32,
}

fn ms(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    (b - a).num_milliseconds().max(0) as u64
}

fn after_secs(t: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    t + TimeDelta::milliseconds((secs * 1000.0) as i64)
}

impl JobRecord {
    /// The `/status` body.
    pub fn state(&self, now: DateTime<Utc>) -> JobState {
        JobState {
            id: JobId::new(&self.id),
            status: self.status,
            delay_time: self.started_at.map(|s| ms(self.submitted_at, s)),
            execution_time: self.started_at.map(|s| ms(s, self.completed_at.unwrap_or(now))),
            output: if self.status.is_final() {
                self.output.clone()
            } else {
                self.progress.clone()
            },
            error: self.error.clone(),
            worker_id: self.worker_id.as_deref().map(WorkerId::new),
            retries: (self.retries > 0).then_some(self.retries),
        }
    }
}

/// The body a worker receives from `job-take`.
fn taken(j: &JobRecord) -> TakenJob {
    TakenJob {
        id: j.id.clone(),
        input: j.input.clone(),
        webhook: j.webhook.clone(),
        s3_config: j.s3_config.clone(),
    }
}

mod endpoints;
mod queue;
mod workers;
