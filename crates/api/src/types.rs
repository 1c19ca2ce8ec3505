//! JSON shapes of the REST API (`/api/v1`): what the server answers and the clients read. The
//! OpenAPI document (`docs/openapi.json`) is generated from these.

/// The specs a client sends (`POST /jobs`, `/endpoints`, `/requests`): the server's own types,
/// so a client cannot build one the server would read differently.
pub use podwarden_core::endpoint::EndpointSpec;
pub use podwarden_core::events::EventKind;
pub use podwarden_core::serverless_job::ServerlessJobSpec;
pub use podwarden_core::spec::JobSpec;
pub use podwarden_core::state::{AttemptState, EndpointState, JobState, ServerlessJobState};
use serde::{Deserialize, Serialize};

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
    /// Whose RunPod account it runs on: `hosted` (the operator's) or `runpod` (the owner's key).
    #[serde(default)]
    pub backend: String,
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
}

/// A job in detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: JobSummary,
    pub attempts: Vec<AttemptView>,
    /// Provider costs are simulated (embedded emulator).
    pub simulated: bool,
    /// `command` or `finetune`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub image: String,
    /// The command the pod runs (for `finetune`: the model and dataset).
    #[serde(default)]
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
    pub gpu_type: String,
    pub name: String,
    pub vram_gb: i64,
    pub cloud: String,
    pub price_per_hour_usd: f64,
    pub data_centers: Vec<String>,
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

/// What went wrong, as a program decides on it (`ErrorBody::code`); the message says it to a
/// person. A code this client does not know reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadBody,
    BadNetworkVolume,
    BadPath,
    BadQuery,
    BadRange,
    BadWebhook,
    Busy,
    Conflict,
    DatabaseBusy,
    EndpointNotReady,
    EndpointsOnKey,
    Forbidden,
    ImageUnavailable,
    InsufficientBalance,
    Internal,
    InvalidAmount,
    InvalidApiKey,
    InvalidBody,
    InvalidDuration,
    InvalidInvite,
    InvalidKeyFormat,
    InvalidMetrics,
    InvalidName,
    InvalidNote,
    InvalidQuery,
    InvalidReport,
    InvalidSpec,
    JobsRunningOnKey,
    KeyUnreadable,
    MalformedJson,
    NoGpuFits,
    NoKey,
    NoOperatorKey,
    NoPod,
    NoS3Api,
    NoS3Key,
    NoSuchAttempt,
    NoSuchVolume,
    NotFound,
    NotReady,
    PayloadTooLarge,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    RateLimited,
    S3Error,
    SpendCapReached,
    TooDeep,
    TooLarge,
    TooManyPoints,
    TooManyValues,
    Unauthorized,
    UnknownGpuType,
    VolumeFull,
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadBody => "bad_body",
            Self::BadNetworkVolume => "bad_network_volume",
            Self::BadPath => "bad_path",
            Self::BadQuery => "bad_query",
            Self::BadRange => "bad_range",
            Self::BadWebhook => "bad_webhook",
            Self::Busy => "busy",
            Self::Conflict => "conflict",
            Self::DatabaseBusy => "database_busy",
            Self::EndpointNotReady => "endpoint_not_ready",
            Self::EndpointsOnKey => "endpoints_on_key",
            Self::Forbidden => "forbidden",
            Self::ImageUnavailable => "image_unavailable",
            Self::InsufficientBalance => "insufficient_balance",
            Self::Internal => "internal",
            Self::InvalidAmount => "invalid_amount",
            Self::InvalidApiKey => "invalid_api_key",
            Self::InvalidBody => "invalid_body",
            Self::InvalidDuration => "invalid_duration",
            Self::InvalidInvite => "invalid_invite",
            Self::InvalidKeyFormat => "invalid_key_format",
            Self::InvalidMetrics => "invalid_metrics",
            Self::InvalidName => "invalid_name",
            Self::InvalidNote => "invalid_note",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidReport => "invalid_report",
            Self::InvalidSpec => "invalid_spec",
            Self::JobsRunningOnKey => "jobs_running_on_key",
            Self::KeyUnreadable => "key_unreadable",
            Self::MalformedJson => "malformed_json",
            Self::NoGpuFits => "no_gpu_fits",
            Self::NoKey => "no_key",
            Self::NoOperatorKey => "no_operator_key",
            Self::NoPod => "no_pod",
            Self::NoS3Api => "no_s3_api",
            Self::NoS3Key => "no_s3_key",
            Self::NoSuchAttempt => "no_such_attempt",
            Self::NoSuchVolume => "no_such_volume",
            Self::NotFound => "not_found",
            Self::NotReady => "not_ready",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ProviderError => "provider_error",
            Self::ProviderRateLimited => "provider_rate_limited",
            Self::ProviderRejected => "provider_rejected",
            Self::RateLimited => "rate_limited",
            Self::S3Error => "s3_error",
            Self::SpendCapReached => "spend_cap_reached",
            Self::TooDeep => "too_deep",
            Self::TooLarge => "too_large",
            Self::TooManyPoints => "too_many_points",
            Self::TooManyValues => "too_many_values",
            Self::Unauthorized => "unauthorized",
            Self::UnknownGpuType => "unknown_gpu_type",
            Self::VolumeFull => "volume_full",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
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

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub is_admin: bool,
    pub created_at: i64,
    /// The operator's cap on this user's hosted spend (none: no cap).
    #[serde(default)]
    pub spend_cap_usd: Option<f64>,
}

/// A new API token: shown this once (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub id: String,
    pub token: String,
    pub user: UserView,
}

/// `POST /api/v1/invites` (admin): an invite code for one new user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    /// The new user's cap on hosted spend, USD (default: the operator's
    /// `PODWARDEN_DEFAULT_SPEND_CAP_USD`, if set).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub spend_cap_usd: Option<f64>,
    /// How long the code stays valid, e.g. `"7d"` (default 7 days, at most 90).
    #[serde(default)]
    #[schema(pattern = r"^[1-9][0-9]?(d|h|m)$")]
    pub expires_in: Option<String>,
    /// Whom it is for (shown in the invite list).
    #[serde(default)]
    pub note: Option<String>,
}

/// An invite as listed (never its code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InviteView {
    pub id: String,
    pub note: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub spend_cap_usd: Option<f64>,
    /// The user it created, once redeemed.
    pub redeemed_by: Option<String>,
}

/// A new invite: its code is shown this once (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewInviteCode {
    pub code: String,
    pub invite: InviteView,
}

/// `POST /api/v1/invites/redeem` (no token): the code and the new user's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    pub code: String,
    /// 1–64 letters, digits, `- _ . @`.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub name: String,
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub created_at: i64,
}

/// `GET|POST|DELETE /api/v1/settings/runpod-key`: which compute backend the user is on. The
/// key itself is never returned, only its last 4 characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComputeSettings {
    /// `hosted` (the operator's key) or `runpod` (the user's own).
    pub backend: String,
    pub last4: Option<String>,
    /// The user's serverless endpoint on their own account: `none` until it is created.
    pub endpoint_status: String,
    /// The operator's cap on hosted spend (none: no cap).
    #[serde(default)]
    pub spend_cap_usd: Option<f64>,
    /// Hosted spend so far plus what running hosted jobs have reserved (their budgets).
    #[serde(default)]
    pub hosted_committed_usd: f64,
}

/// A network volume (`podwarden volume ls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VolumeView {
    pub name: String,
    /// RunPod's id (the S3 bucket); `null` while being created.
    pub volume_id: Option<String>,
    pub data_center: String,
    pub size_gb: i64,
    /// `creating`, `ready`.
    pub state: String,
    /// RunPod's price for its size, USD a month.
    pub monthly_usd: f64,
    /// `hosted` (the operator's RunPod account) or `runpod` (the user's own key).
    pub backend: String,
    pub created_at: i64,
    /// Whether its data center serves RunPod's S3 API: without it, `cp`, the files routes
    /// and `[[inputs]]` cannot reach the volume from outside a pod.
    #[serde(default)]
    pub s3_api: bool,
}

/// `POST /api/v1/volumes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVolume {
    /// 1–40 lowercase letters, digits and `-`; unique per user.
    #[schema(pattern = r"^[a-z0-9-]{1,40}$")]
    pub name: String,
    /// 10–4096 GB.
    #[schema(minimum = 10, maximum = 4096)]
    pub size_gb: i64,
    /// A data center with network volumes (`podwarden gpus` lists where GPUs are).
    #[schema(min_length = 1)]
    pub data_center: String,
}

/// Where a volume's files are reached over RunPod's S3 API (`podwarden cp`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VolumeS3 {
    /// The data center's S3 endpoint (RunPod: `https://s3api-<dc>.runpod.io`).
    pub endpoint: String,
    /// The region to sign with: the data center id.
    pub region: String,
    /// The bucket: the volume's RunPod id.
    pub bucket: String,
    /// The S3 key to use, when the server may hand one out (the operator's, to an admin);
    /// otherwise the client brings its own (`RUNPOD_S3_ACCESS_KEY_ID` /
    /// `RUNPOD_S3_SECRET_ACCESS_KEY`) or, for a hosted volume, moves the files through the
    /// server (`/api/v1/volumes/{name}/files/{path}`).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// One pod's cost checked against RunPod's bill (`/api/v1/cost/reconciliation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingCheckView {
    pub job_id: String,
    pub pod_id: String,
    /// ms since the epoch.
    pub at: i64,
    /// What podwarden's ledger said before the check.
    pub ours_usd: f64,
    /// What RunPod billed (the ledger says this now).
    pub theirs_usd: f64,
}

/// The ledger against RunPod's bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// Pods checked by this request (`POST`), 0 for `GET`.
    pub checked_now: usize,
    /// Checks so far, newest first (at most 1,000).
    pub checks: Vec<BillingCheckView>,
    /// Checks that found a difference.
    pub mismatches: usize,
    /// Sum of (ours − theirs) over the checks: what the ledger over-counted before correction.
    pub overcounted_usd: f64,
}

/// A pod another podwarden install named (`GET /api/v1/strays`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StrayView {
    pub pod_id: String,
    pub name: String,
    /// The install prefix in its name (`pw-<install>-…`).
    pub install: String,
    /// Booting or running (billing for compute).
    pub running: bool,
    pub cost_per_hour_usd: f64,
}

/// `POST /api/v1/strays/reap`: terminate every stray pod of one install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReapBody {
    pub install: String,
}

/// One storage operation (`GET /api/v1/audit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// ms since the epoch.
    pub at: i64,
    pub user: String,
    /// `volume_create`, `volume_remove`, `s3_access`, `upload`, `download`.
    pub op: String,
    pub volume: String,
    pub path: Option<String>,
    pub bytes: Option<i64>,
    /// `ok`, or what went wrong.
    pub result: String,
}

/// A transfer `podwarden cp` reports (`POST /api/v1/volumes/{name}/transfers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferReport {
    /// `upload` or `download`.
    pub op: String,
    pub path: String,
    pub bytes: i64,
    /// `ok`, or what went wrong.
    pub result: String,
}

/// The last activation of one task on one account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskStatus {
    /// A reconciler (`pods`, `endpoints`, `serverless_jobs`), `billing`, or `reconcile` (an
    /// account's pass that could not start, or panicked).
    pub task: String,
    /// `hosted`, or a user's own RunPod account.
    pub account: String,
    /// When the last activation started, ms since the epoch.
    pub last_started_at: i64,
    pub last_duration_ms: i64,
    /// The last activation ended without an error.
    pub ok: bool,
    /// Actions the last activation took (pods launched, adopted, terminated, …; pods checked).
    pub actions: usize,
    /// A reconciler's last pass as it reported it: what it decided, in order (at most 50, as
    /// the engine names them, e.g. `Terminate { pod_id: "…", attempt: None, reason: "orphan…" }`).
    #[serde(default)]
    pub decided: Vec<String>,
    /// A reconciler's last pass: what the provider listed (pods, endpoints) or the live rows
    /// it polled (serverless jobs), and the live rows of the account it owns.
    #[serde(default)]
    pub seen: usize,
    #[serde(default)]
    pub live: usize,
    /// The reconciler's error policy made the account wait this long before its next pass
    /// (the provider's 429, a refused key).
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    /// The last activation's errors (at most 20).
    pub errors: Vec<String>,
    /// Activations since the server started, and how many of them had errors.
    pub runs: u64,
    pub failures: u64,
}
