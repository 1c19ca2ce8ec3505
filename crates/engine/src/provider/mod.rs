//! The provider boundary. The engine owns every side effect on a provider and reaches it only
//! through this trait; `RunPodProvider` implements it on the `runpod` client (against RunPod or
//! its emulator alike). Pods, offers, volumes, keys and logs here; the serverless half
//! (endpoints, templates, serverless jobs) in `serverless`, re-exported.

mod any;
mod serverless;

pub use any::AnyProvider;
pub use serverless::*;

use podwarden_core::gpu::{CloudTier, GpuOffer};
use podwarden_core::money::Money;
use std::collections::BTreeMap;
use std::future::Future;

/// A provider pod, as the reconciler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub id: String,
    pub name: String,
    pub phase: PodPhase,
    pub data_center: Option<String>,
    /// Current USD/h (0 when stopped).
    pub cost_per_hour: Money,
}

/// A pod's TCP port reachable from outside: `private` in the pod is `ip:public`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    pub private: u16,
    pub ip: String,
    pub public: u16,
}

/// Where a provider pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    Booting,
    Running,
    /// Stopped: compute released (preemption, $0 balance, someone stopped it).
    Stopped,
    Gone,
}

/// What to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PodRequest {
    pub name: String,
    pub image: String,
    pub command: String,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<String>,
    pub gpu_type: String,
    pub gpu_count: i64,
    pub tier: CloudTier,
    pub data_centers: Vec<String>,
    pub disk_gb: i64,
    pub volume_gb: i64,
    pub network_volume: Option<String>,
    /// `registry` (REST v2; v1's `containerRegistryAuthId`) for a private image.
    pub registry_auth: Option<String>,
    /// The job's ceiling: a provider whose hosts can end themselves (EC2's `shutdown`) stops
    /// the pod after this long even without the control plane. RunPod's pods get theirs from
    /// the wrapper's watchdog instead.
    pub ceiling_secs: Option<u64>,
    /// How long the pod is kept after the command ends (the spec's `keep_alive`): a host that
    /// ends itself once the job is over waits at least this long.
    pub keep_alive_secs: u64,
    /// Files the pod's host fetches before the command, as `(s3://… URL, path under
    /// /workspace)` (AWS: the instance's role reads them). Empty on RunPod.
    pub host_inputs: Vec<(String, String)>,
    /// Files the pod's host uploads after a zero exit, before the exit is reported, as
    /// `(path under /workspace, s3://… URL)`. Empty on RunPod.
    pub host_outputs: Vec<(String, String)>,
    /// On the account's private network (RunPod's global networking): a node of a
    /// multi-node job, reachable by the others at `<pod id>.runpod.internal`.
    pub global_networking: bool,
}

/// Why a provider call failed, as far as the engine cares.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Nothing was created; try another placement.
    #[error("no capacity: {0}")]
    NoCapacity(String),
    /// A create the provider refused for this placement (a GPU type, data center or tier it
    /// cannot place, a pool the key may not use): nothing was created; try the next placement.
    /// A refusal that every placement gets is a problem with the request itself.
    #[error("refused for this placement: {0}")]
    Unplaceable(String),
    /// The start would push the account's hourly spend past its limit: nothing was created;
    /// wait for running work to end (or the limit to be raised) and try again.
    #[error("account spend limit reached: {0}")]
    SpendLimit(String),
    /// The create may have happened; look it up by name.
    #[error("create may have succeeded: {0}")]
    MaybeCreated(String),
    /// The account cannot pay.
    #[error("insufficient balance: {0}")]
    InsufficientBalance(String),
    /// Bad key.
    #[error("provider rejected the credentials: {0}")]
    Auth(String),
    /// The request itself is wrong (will not get better by retrying).
    #[error("provider rejected the request: {0}")]
    Rejected(String),
    /// Try again later.
    #[error("provider unavailable: {0}")]
    Transient(String),
    /// The account's request budget at the provider is spent: nothing was done; try again
    /// after `retry_after_secs` (the provider's `Retry-After`, when it sent one).
    #[error("provider rate limit reached: {message}")]
    RateLimited { message: String, retry_after_secs: Option<u64> },
    /// The resource does not exist (any more).
    #[error("not found at the provider: {0}")]
    NotFound(String),
}

/// A GPU provider (pods; serverless endpoints through its `Serverless` half).
pub trait Provider: Serverless + Send + Sync + 'static {
    /// GPU offers with price and stock.
    fn offers(&self) -> impl Future<Output = Result<Vec<GpuOffer>, ProviderError>> + Send;
    /// Every pod of the account, in one call.
    fn list_pods(&self) -> impl Future<Output = Result<Vec<PodInfo>, ProviderError>> + Send;
    /// Creates a pod.
    fn create_pod(
        &self,
        req: &PodRequest,
    ) -> impl Future<Output = Result<PodInfo, ProviderError>> + Send;
    /// Terminates a pod; `Ok` when it is gone (already gone included).
    fn terminate_pod(&self, id: &str) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// The data center a network volume is in (pods that mount it run there).
    fn network_volume_data_center(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send {
        let id = id.to_owned();
        async move {
            Err(ProviderError::Rejected(format!(
                "network volume {id}: this provider has no network volumes"
            )))
        }
    }
    /// The account's spend limit and balance, when the provider reports them (`None`: it does
    /// not, or not at this API's version). Starts past either are refused by RunPod.
    fn account_headroom(
        &self,
    ) -> impl Future<Output = Result<Option<Headroom>, ProviderError>> + Send {
        async { Ok(None) }
    }
    /// Queued pod entries of the account that still wait for capacity, as `(id, name)`: each
    /// can become a billing pod later. None when the provider queues nothing.
    fn list_queued_pods(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String)>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }
    /// Cancels a queued entry.
    fn cancel_queued_pod(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = id;
        async { Ok(()) }
    }
    /// Whether `pod_billed` reads a bill (RunPod's billing API). `false`: the provider has no
    /// per-pod bill, so the ledger's figure is the cost and is not asked about again.
    fn bills_pods(&self) -> bool {
        false
    }
    /// What the provider billed for a pod between `since_ms` and `until_ms` (its billing API),
    /// `None` when it has no bill for the pod (yet: RunPod's lags) or no billing API.
    fn pod_billed(
        &self,
        pod_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> impl Future<Output = Result<Option<Money>, ProviderError>> + Send {
        let _ = (pod_id, since_ms, until_ms);
        async { Ok(None) }
    }
    /// Creates a network volume.
    fn create_network_volume(
        &self,
        name: &str,
        size_gb: i64,
        data_center: &str,
    ) -> impl Future<Output = Result<VolumeInfo, ProviderError>> + Send {
        let _ = (name, size_gb, data_center);
        async { Err(ProviderError::Rejected("this provider has no network volumes".into())) }
    }
    /// Every network volume of the account.
    fn list_network_volumes(
        &self,
    ) -> impl Future<Output = Result<Vec<VolumeInfo>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }
    /// Deletes a network volume; `Ok` when it is gone.
    fn delete_network_volume(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = id;
        async { Err(ProviderError::Rejected("this provider has no network volumes".into())) }
    }
    /// Stores `value` as the account secret `name` (replacing one of that name) and returns the
    /// env value that stands for it in a pod (`{{ RUNPOD_SECRET_name }}`), so the provider's pod
    /// reads never show the value. `None`: this provider keeps no secrets; pass the value itself.
    fn put_secret(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<Option<String>, ProviderError>> + Send {
        let _ = (name, value);
        async { Ok(None) }
    }
    /// The account's secrets, as `(id, name)` (never values).
    fn list_secrets(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, String)>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }
    /// Deletes a secret; `Ok` when it is gone (already gone included).
    fn delete_secret(&self, id: &str) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = id;
        async { Ok(()) }
    }
    /// The provider's REST base (`https://api.runpod.io`), passed into pods so their watchdog
    /// reaches the API the control plane itself uses. `None`: no in-pod watchdog.
    fn rest_base(&self) -> Option<String> {
        None
    }
    /// A pod's log from `q.after` (or its last `q.tail` lines), streamed as the provider
    /// writes it; the stream ends when the provider closes it (the caller reopens).
    fn pod_logs(
        &self,
        pod_id: &str,
        q: PodLogQuery,
    ) -> impl Future<Output = Result<PodLogStream, ProviderError>> + Send {
        let _ = (pod_id, q);
        async { Err(unsupported()) }
    }
    /// The least a started pod is billed, whatever it ran (EC2 Linux: 60 seconds).
    fn min_billed_ms(&self) -> i64 {
        0
    }
    /// A running pod's published TCP ports, as the provider maps them (RunPod:
    /// `runtime.ports`); empty while it boots, and where the provider publishes none.
    fn pod_ports(
        &self,
        pod_id: &str,
    ) -> impl Future<Output = Result<Vec<PublishedPort>, ProviderError>> + Send {
        let _ = pod_id;
        async { Ok(Vec::new()) }
    }
    /// The data centers where pods can join the account's private network (RunPod's global
    /// networking, the catalog's `globalNetwork`); `None` where the provider has no such network.
    fn private_network_data_centers(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<String>>, ProviderError>> + Send {
        async { Ok(None) }
    }
    /// Whether the account behind this cloud's key may be used (checked before a user's own
    /// key is saved): it authenticates and has funds.
    fn check_key(&self) -> impl Future<Output = KeyCheck> + Send {
        async { KeyCheck::Unreachable }
    }
}

/// What a provider says about a key (`Provider::check_key`).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    /// It authenticates and the account has credit.
    Usable,
    /// It authenticates, but the account's balance (USD) is not above zero.
    NoFunds(f64),
    /// The provider refused it (unknown, revoked, or without the scopes needed).
    Rejected,
    /// The provider could not be asked (network, its own error): try again.
    Unreachable,
}

/// Which part of a pod's log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodLogQuery {
    /// Only the last lines (a follower's first read).
    pub tail: Option<u32>,
    /// Resume after this line's `id`.
    pub after: Option<String>,
}

/// One line of a pod's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLogLine {
    /// Where a stream resumes after this line.
    pub id: String,
    /// `container` (the job's own output) or `system` (the host's: pulls, starts).
    pub source: String,
    pub line: String,
}

/// A pod's log as it streams.
pub type PodLogStream = futures::stream::BoxStream<'static, Result<PodLogLine, ProviderError>>;

/// A network volume at the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeInfo {
    pub id: String,
    pub name: String,
    pub data_center: String,
    pub size_gb: i64,
}
