//! Users, tokens, invites, compute settings, network volumes and the admin's views (bills,
//! strays, the audit log, background tasks).

use super::*;

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

/// `GET|POST|DELETE /api/v1/settings/aws-key`: whether the user keeps their own AWS key pair
/// (their AWS jobs then run on it). Only the access key id's last 4 characters are shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AwsKeySettings {
    pub saved: bool,
    pub access_key_id_last4: Option<String>,
}

/// A network volume (`podwarden volume ls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VolumeView {
    pub name: String,
    /// RunPod's id (the S3 bucket); `null` while being created.
    pub volume_id: Option<String>,
    pub data_center: String,
    pub size_gb: i64,
    /// `creating` until the provider has it, then `ready`.
    pub state: VolumeState,
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

/// What this install has learned of one offer from its own launches, and the operator's word
/// on it (`GET /api/v1/admin/offers`; `podwarden gpus --learned`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LearnedOffer {
    pub provider: String,
    pub gpu_type: String,
    pub data_center: String,
    /// `secure`, `community` (RunPod) or `aws`.
    pub cloud: String,
    /// Pods that booted here.
    pub boots: i64,
    /// Their mean time from create to running (`None` before the first boot).
    pub mean_boot_secs: Option<f64>,
    /// Pods that never booted within their job's boot timeout (they billed while they hung).
    pub duds: i64,
    /// Booted pods lost (preempted, vanished).
    pub losses: i64,
    /// The shares the ranking uses, with its prior (one in ten for both).
    pub dud_rate: f64,
    pub loss_rate: f64,
    pub pinned: bool,
    pub banned: bool,
}

/// How fast one workload (a user's job, by name and image) ran on one GPU, from the
/// `samples_per_second` it reported (`GET /api/v1/admin/speeds`; `podwarden gpus --speeds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LearnedSpeed {
    /// The user whose jobs these are (their figures rank only their jobs).
    pub owner: String,
    pub job_name: String,
    pub image: String,
    pub provider: String,
    pub gpu_type: String,
    /// GPUs per pod.
    pub gpu_count: i64,
    /// Metric batches that reported a speed.
    pub reports: i64,
    /// Their mean (each batch's mean, averaged).
    pub mean_samples_per_second: f64,
    /// How many times longer the workload's run takes here than on the fastest GPU seen for it:
    /// what the ranking multiplies the expected run by (1 until a few reports came).
    pub run_factor: f64,
}

/// `PUT /api/v1/admin/offers`: pin an offer (tried first), ban it (never tried), or clear both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferFlag {
    /// `runpod` (default) or `aws`.
    #[serde(default = "runpod_provider")]
    pub provider: String,
    pub gpu_type: String,
    pub data_center: String,
    /// `secure` (default), `community` or `aws`.
    #[serde(default = "secure_cloud")]
    pub cloud: String,
    /// `pin`, `ban` or `clear`.
    pub flag: String,
}

fn runpod_provider() -> String {
    "runpod".into()
}

fn secure_cloud() -> String {
    "secure".into()
}
