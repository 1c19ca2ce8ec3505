//! JSON shapes of the REST API (`/api/v1`): what the server answers and the clients read. The
//! OpenAPI document (`docs/openapi.json`) is generated from these.

/// The specs a client sends (`POST /jobs`, `/endpoints`, `/requests`): the server's own types,
/// so a client cannot build one the server would read differently.
pub use podwarden_core::endpoint::EndpointSpec;
pub use podwarden_core::events::EventKind;
pub use podwarden_core::serverless_job::ServerlessJobSpec;
pub use podwarden_core::spec::JobSpec;
pub use podwarden_core::state::{
    AttemptState, EndpointState, JobState, ServerlessJobState, VolumeState,
};
use serde::{Deserialize, Serialize};

mod accounts;
mod errors;

pub use accounts::*;
pub use errors::*;

/// A job in lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobSummary {
    pub id: String,
    pub name: String,
    pub state: JobState,
    /// While `tearing_down`: the final state it is heading for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<JobState>,
    /// Why it is where it is (last transition's reason).
    pub reason: Option<String>,
    pub gpu: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub spent_usd: f64,
    pub budget_usd: Option<f64>,
    pub attempts_made: i64,
    pub exit_code: Option<i64>,
    /// When it settled (final states only).
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// Whose provider account it runs on: `hosted` (the operator's RunPod key), `runpod` (the
    /// owner's RunPod key), `aws` (the operator's AWS account) or `aws (own key)`.
    #[serde(default)]
    pub backend: String,
    /// `command`, `finetune` or `dev` (a dev pod: `ssh` and no command, up until stopped).
    #[serde(default = "command_kind")]
    pub kind: String,
    /// While `queued`: since when it has waited for capacity (ms since the epoch); its reason
    /// says for what, and it fails once its `limits.start_within` has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_since: Option<i64>,
}

fn command_kind() -> String {
    "command".into()
}

/// One attempt (pod) of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub id: String,
    pub state: AttemptState,
    pub pod_name: String,
    pub pod_id: Option<String>,
    pub gpu_type: String,
    pub gpu_count: i64,
    pub cloud: String,
    pub price_per_hour_usd: f64,
    pub cost_usd: f64,
    pub reason: Option<String>,
    /// Its node in a multi-node job (0 otherwise).
    #[serde(default)]
    pub node: i64,
}

/// A job in detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobSummary,
    pub attempts: Vec<AttemptView>,
    /// Provider costs are simulated (embedded emulator).
    pub simulated: bool,
    #[serde(default)]
    pub image: String,
    /// The command the pod runs (for `finetune`: the model and dataset).
    #[serde(default)]
    pub command: String,
    /// Pods of this job that never booted (a dud host, a boot timeout) and what they cost: the
    /// time and money lost to them.
    #[serde(default)]
    pub duds: DudLoss,
}

/// What a job lost to pods that never booted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DudLoss {
    pub pods: i64,
    /// From each one's create to its end.
    pub secs: f64,
    pub cost_usd: f64,
}

/// How to reach a job's pod over SSH (`GET /api/v1/jobs/{id}/ssh`): the pod's published
/// `22/tcp`, as the provider maps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SshInfo {
    pub job_id: String,
    /// Which pod of the job (0 for a job of one pod).
    pub node: u32,
    pub pod_id: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The same as one `ssh` invocation: `ssh -p PORT USER@HOST`.
    pub command: String,
}

/// One job event. `message` is for people; what a program decides on is in the typed fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: i64,
    pub at: i64,
    pub kind: EventKind,
    pub message: String,
    /// `state` events of a pod job: the state it moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// With `state: tearing_down`: the final state it is heading for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<JobState>,
    /// `attempt` events of a pod created, adopted or gone: the attempt's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AttemptState>,
    /// `state` events of a serverless job: the state it moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ServerlessJobState>,
    /// `progress` and `chunk` events: the handler's value; `metric` events: the last point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// A GPU offer row of `podwarden gpus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GpuRow {
    /// Whose offer: `runpod` or `aws` (absent from servers before AWS: RunPod's).
    #[serde(default = "runpod")]
    pub provider: String,
    /// RunPod's GPU type id, or an EC2 instance type (`g5.xlarge`).
    pub gpu_type: String,
    pub name: String,
    pub vram_gb: i64,
    pub cloud: String,
    pub price_per_hour_usd: f64,
    pub data_centers: Vec<String>,
}

fn runpod() -> String {
    "runpod".into()
}

/// `POST /api/v1/estimate`: what a pod job would cost, from the offer the planner would try
/// first at its live price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EstimateView {
    pub gpu_type: String,
    /// The GPU's display name.
    pub name: String,
    pub count: i64,
    /// `secure` or `community`.
    pub cloud: String,
    /// For all its GPUs.
    pub price_per_hour_usd: f64,
    /// The most the job can cost; absent when nothing bounds it (no budget, no `max_runtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// What bounds it: `budget`, `max_runtime` or `none`.
    pub bound: String,
    /// The boot assumed (seconds), billed like the run.
    pub boot_s: i64,
    pub boot_cost_usd: f64,
    /// Provider prices are simulated (embedded emulator).
    pub simulated: bool,
}

/// `/api/v1/settings/webhook`: where the caller's job events are POSTed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookView {
    /// `null` when none is set.
    pub url: Option<String>,
    /// The HMAC-SHA256 key deliveries are signed with (`X-Podwarden-Signature: sha256=<hex of
    /// the body's HMAC>`): shown only in the answer to setting the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The event types sent.
    pub events: Vec<String>,
}

/// `GET /api/v1/cost`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostReport {
    pub total_usd: f64,
    /// `[job id, job name, USD]`, per job.
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_job: Vec<(String, String, f64)>,
    /// `[GPU type, USD]`.
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_gpu: Vec<(String, f64)>,
    /// `[provider, USD]`: `runpod`, `aws` (absent from servers before AWS).
    #[serde(default)]
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_provider: Vec<(String, f64)>,
    /// `[YYYY-MM-DD, USD]`.
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_day: Vec<(String, f64)>,
    pub simulated: bool,
    /// Ended pods whose cost awaits the provider's bill: their figures are podwarden's own and
    /// may still change once RunPod's billing (which lags) is read.
    #[serde(default)]
    pub awaiting_bills: i64,
}

/// `GET /api/v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    pub version: String,
    pub install: String,
    pub simulated: bool,
    pub provider: String,
}

/// A deployed serverless endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub name: String,
    /// `intent` (being made to match its spec), `ready`, `deleting`, `deleted`.
    pub state: EndpointState,
    /// Its name at the provider (`pw-<install>-ep-<id>`).
    pub resource_name: String,
    pub endpoint_id: Option<String>,
    pub template_id: Option<String>,
    pub reason: Option<String>,
    pub image: String,
    pub gpu_pools: Vec<String>,
    pub workers_min: i64,
    pub workers_max: i64,
    pub execution_timeout_secs: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /api/v1/endpoints`: the endpoint and what the deploy did (`created`, `updated`,
/// `unchanged`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeployResult {
    pub endpoint: EndpointView,
    pub change: String,
}

/// A serverless job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServerlessJobView {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    /// The provider's endpoint it was sent to.
    #[serde(default)]
    pub endpoint_id: String,
    pub state: ServerlessJobState,
    /// Why it is where it is (why it waits in the queue, why it failed).
    pub reason: Option<String>,
    pub provider_job_id: Option<String>,
    pub gpu: String,
    pub price_per_hour_usd: f64,
    /// Most it can cost (execution timeout + idle tail).
    pub estimate_usd: f64,
    pub cost_usd: f64,
    pub delay_ms: Option<i64>,
    pub execution_ms: Option<i64>,
    /// The result (or the latest progress while running).
    pub output: Option<serde_json::Value>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub simulated: bool,
}
