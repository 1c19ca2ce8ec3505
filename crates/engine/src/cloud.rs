//! The provider boundary. The engine owns every side effect on a provider and reaches it only
//! through this trait; `RunPodCloud` implements it on the `runpod` client (against RunPod or
//! its emulator alike).

use core_domain::gpu::{Cloud as Tier, GpuOffer};
use core_domain::money::Money;
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
    pub tier: Tier,
    pub data_centers: Vec<String>,
    pub disk_gb: i64,
    pub volume_gb: i64,
    pub network_volume: Option<String>,
}

/// Why a provider call failed, as far as the engine cares.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// Nothing was created; try another placement.
    #[error("no capacity: {0}")]
    NoCapacity(String),
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
}

/// A GPU provider.
pub trait Cloud: Send + Sync + 'static {
    /// GPU offers with price and stock.
    fn offers(&self) -> impl Future<Output = Result<Vec<GpuOffer>, CloudError>> + Send;
    /// Every pod of the account, in one call.
    fn list_pods(&self) -> impl Future<Output = Result<Vec<PodInfo>, CloudError>> + Send;
    /// Creates a pod.
    fn create_pod(&self, req: &PodRequest) -> impl Future<Output = Result<PodInfo, CloudError>> + Send;
    /// Terminates a pod; `Ok` when it is gone (already gone included).
    fn terminate_pod(&self, id: &str) -> impl Future<Output = Result<(), CloudError>> + Send;
}
