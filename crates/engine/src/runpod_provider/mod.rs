//! `Provider` on RunPod's REST v2 (or the emulator, which serves the same contract): pods,
//! offers, volumes, secrets, billing here; endpoints, templates and serverless jobs in
//! `serverless`.

mod serverless;

use crate::provider::{
    Deployment, EndpointInfo, KeyCheck, PodInfo, PodLogLine, PodLogQuery, PodLogStream, PodPhase,
    PodRequest, Provider, ProviderError, PublishedPort, QueueHealth, RemoteJob, RemoteStatus,
    RunOptions, Serverless, TemplateInfo, VolumeInfo,
};
use podwarden_core::gpu::{CloudTier, GpuOffer};
use podwarden_core::money::Money;
use runpod::types::catalog::{AvailabilityLevel, GpuCatalogQuery};
use runpod::types::endpoints::{
    CreateEndpointGpuConfig, CreateEndpointRequest, EndpointWorkers, FlashBoot,
    UpdateEndpointRequest,
};
use runpod::types::logs::LogsQuery;
use runpod::types::pods::{
    Cloud as RpCloud, CreateGpuConfig, CreatePodRequest, Mounts, NetworkMount, PersistentMount,
    Pod, PodStatus,
};
use runpod::types::serverless::{JobPolicy, JobState, JobStatus, RunRequest};
use runpod::types::templates::{CreateTemplateRequest, UpdateTemplateRequest};
use runpod::{Client, EndpointId, ErrorKind, NetworkVolumeId, PodId, TemplateId};

/// RunPod through the `runpod` client.
#[derive(Debug, Clone)]
pub struct RunPodProvider {
    client: Client,
}

impl RunPodProvider {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The same provider (its REST and serverless URLs) under another account's key: a user's
    /// own. The key goes into the client only, which never prints it.
    pub fn with_key(&self, key: String) -> Result<Self, ProviderError> {
        let client = Client::builder()
            .api_key(runpod::ApiKey::new(key))
            .rest_url(self.client.rest_url().to_string())
            .endpoint_base_url(self.client.endpoint_base_url().to_string())
            .build()
            .map_err(|e| ProviderError::Rejected(format!("cannot build a RunPod client: {e}")))?;
        Ok(Self { client })
    }
}

fn map_err(e: runpod::Error) -> ProviderError {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::NoCapacity => ProviderError::NoCapacity(msg),
        ErrorKind::MaybeCreated => ProviderError::MaybeCreated(msg),
        ErrorKind::InsufficientBalance => ProviderError::InsufficientBalance(msg),
        ErrorKind::SpendLimit => ProviderError::SpendLimit(msg),
        ErrorKind::Unauthorized | ErrorKind::Forbidden => ProviderError::Auth(msg),
        ErrorKind::NotFound => ProviderError::NotFound(msg),
        ErrorKind::Validation
        | ErrorKind::BadRequest
        | ErrorKind::PayloadTooLarge
        | ErrorKind::Conflict => ProviderError::Rejected(msg),
        // Typed, with the provider's Retry-After: callers pace themselves and tell the user.
        ErrorKind::RateLimited => ProviderError::RateLimited {
            message: msg,
            retry_after_secs: e.retry_after().map(|d| d.as_secs().max(1)),
        },
        ErrorKind::Server | ErrorKind::Transport | ErrorKind::Undecodable => {
            ProviderError::Transient(msg)
        }
    }
}

/// A pod create's refusal, classified as the spec's `createPod` table says: `400` (not capacity,
/// not a spend limit) and `403` → try the next candidate; `422` → fix the request; `402` →
/// stop; `429`/`5xx` → back off (and look the pod up by name).
fn map_create_err(e: runpod::Error) -> ProviderError {
    match e.kind() {
        ErrorKind::BadRequest | ErrorKind::Forbidden => ProviderError::Unplaceable(e.to_string()),
        _ => map_err(e),
    }
}

fn phase(s: PodStatus) -> PodPhase {
    match s {
        PodStatus::Provisioning | PodStatus::Starting => PodPhase::Booting,
        PodStatus::Running => PodPhase::Running,
        PodStatus::Exited | PodStatus::Error => PodPhase::Stopped,
        PodStatus::Terminated => PodPhase::Gone,
        PodStatus::Unknown => PodPhase::Booting,
    }
}

/// RUNNING is not booted: RunPod reports RUNNING while the image still pulls; the container is
/// up once `runtime` is set (API-NOTES, corrections). A pod whose image never pulls therefore
/// stays booting and meets the job's boot timeout instead of passing for a running job.
fn booted(phase: PodPhase, has_runtime: bool) -> PodPhase {
    match phase {
        PodPhase::Running if !has_runtime => PodPhase::Booting,
        other => other,
    }
}

fn info(p: &Pod) -> PodInfo {
    PodInfo {
        id: p.id.0.clone(),
        name: p.name.clone(),
        phase: booted(phase(p.status), p.runtime.is_some()),
        data_center: p.data_center_id.as_ref().map(|d| d.0.clone()),
        cost_per_hour: Money::from_usd(p.cost),
    }
}

impl Provider for RunPodProvider {
    fn bills_pods(&self) -> bool {
        true
    }

    fn rest_base(&self) -> Option<String> {
        Some(self.client.rest_url().as_str().trim_end_matches('/').to_owned())
    }

    async fn pod_ports(&self, pod_id: &str) -> Result<Vec<PublishedPort>, ProviderError> {
        let pod = self.client.get_pod(&PodId::new(pod_id)).await.map_err(map_err)?;
        Ok(pod
            .runtime
            .map(|r| r.ports)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.kind == "tcp")
            .filter_map(|p| {
                Some(PublishedPort { private: p.private, ip: p.ip?, public: p.public? })
            })
            .collect())
    }

    async fn private_network_data_centers(&self) -> Result<Option<Vec<String>>, ProviderError> {
        let dcs = self.client.list_data_centers().await.map_err(map_err)?.data_centers;
        Ok(Some(dcs.into_iter().filter(|d| d.global_network).map(|d| d.id.0).collect()))
    }

    async fn pod_logs(&self, pod_id: &str, q: PodLogQuery) -> Result<PodLogStream, ProviderError> {
        use futures::StreamExt;
        let q = LogsQuery { tail: q.tail, last_event_id: q.after, ..LogsQuery::default() };
        let lines = self.client.pod_logs(&PodId::new(pod_id), &q).await.map_err(map_err)?;
        Ok(lines
            .map(|l| {
                l.map(|l| PodLogLine { id: l.id, source: l.event.source, line: l.event.line })
                    .map_err(map_err)
            })
            .boxed())
    }

    /// One read of the account (`myself`); neither the key nor RunPod's answer is logged.
    async fn check_key(&self) -> KeyCheck {
        match self.client.myself().await {
            Ok(me) if me.client_balance <= 0.0 => KeyCheck::NoFunds(me.client_balance),
            Ok(_) => KeyCheck::Usable,
            Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {
                KeyCheck::Rejected
            }
            Err(e) => {
                tracing::warn!(kind = %e.kind(), "could not verify a RunPod key");
                KeyCheck::Unreachable
            }
        }
    }

    async fn offers(&self) -> Result<Vec<GpuOffer>, ProviderError> {
        // Availability is per cloud, and SECURE when the query names none (spec): ask for both
        // and keep every data center with stock in either.
        let secure =
            GpuCatalogQuery { cloud: Some("SECURE".into()), ..GpuCatalogQuery::pod_availability() };
        let community = GpuCatalogQuery {
            cloud: Some("COMMUNITY".into()),
            ..GpuCatalogQuery::pod_availability()
        };
        let (gpus, community) = tokio::try_join!(
            self.client.list_gpu_types(&secure),
            self.client.list_gpu_types(&community),
        )
        .map_err(map_err)?;
        let stocked = |dcs: Option<Vec<runpod::types::catalog::DataCenterAvailability>>| {
            dcs.unwrap_or_default()
                .into_iter()
                .filter(|d| !matches!(d.availability, AvailabilityLevel::None))
                .map(|d| d.id.0)
        };
        let mut community_dcs: std::collections::HashMap<String, Vec<String>> =
            community.into_iter().map(|g| (g.id.0, stocked(g.data_centers).collect())).collect();
        Ok(gpus
            .into_iter()
            .map(|g| GpuOffer {
                fixed_count: None,
                data_centers: {
                    let mut dcs: Vec<String> = stocked(g.data_centers).collect();
                    for d in community_dcs.remove(&g.id.0).unwrap_or_default() {
                        if !dcs.contains(&d) {
                            dcs.push(d);
                        }
                    }
                    dcs
                },
                gpu_type: g.id.0,
                display_name: g.name,
                vram_gb: g.memory,
                max_count: g.max_count.secure.max(g.max_count.community),
                secure_price: g.secure.then(|| Money::from_usd(g.price.secure)),
                community_price: g.community.then(|| Money::from_usd(g.price.community)),
            })
            .collect())
    }

    async fn list_pods(&self) -> Result<Vec<PodInfo>, ProviderError> {
        Ok(self
            .client
            .list_pods_brief()
            .await
            .map_err(map_err)?
            .into_iter()
            .map(|p| PodInfo {
                phase: booted(phase(p.status), p.has_runtime),
                id: p.id.0,
                name: p.name,
                data_center: p.data_center_id.map(|d| d.0),
                cost_per_hour: Money::from_usd(p.cost),
            })
            .collect())
    }

    async fn pod_billed(
        &self,
        pod_id: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Option<Money>, ProviderError> {
        // Hourly buckets from the hour the pod was asked for to an hour from now: all of it.
        let hour = 3_600_000;
        let q = runpod::types::billing::BillingQuery {
            start_time: Some(rfc3339(since_ms - since_ms.rem_euclid(hour))),
            end_time: Some(rfc3339(until_ms + hour)),
            bucket_size: Some("hour".into()),
            pod_id: Some(pod_id.to_owned()),
            ..Default::default()
        };
        let bill = self.client.pod_billing(&q).await.map_err(map_err)?;
        let mine: Vec<f64> =
            bill.records.iter().filter(|r| r.pod_id == pod_id).map(|r| r.total_amount).collect();
        // No record is no bill yet (RunPod's history lags), never a bill of $0.
        Ok((!mine.is_empty()).then(|| Money::from_usd(mine.iter().sum())))
    }

    async fn create_pod(&self, r: &PodRequest) -> Result<PodInfo, ProviderError> {
        let mounts = match (&r.network_volume, r.volume_gb) {
            (Some(v), _) => Some(Mounts {
                persistent: None,
                network: Some(vec![NetworkMount {
                    volume_id: NetworkVolumeId::new(v),
                    path: "/workspace".into(),
                }]),
            }),
            (None, g) if g > 0 => Some(Mounts {
                persistent: Some(PersistentMount { size: g, path: "/workspace".into() }),
                network: None,
            }),
            _ => None,
        };
        let req = CreatePodRequest {
            name: r.name.clone(),
            image: Some(r.image.clone()),
            args: Some(r.command.clone()),
            disk: Some(r.disk_gb),
            env: Some(r.env.clone()),
            ports: (!r.ports.is_empty()).then(|| r.ports.clone()),
            cloud: Some(match r.tier {
                CloudTier::Secure => RpCloud::Secure,
                CloudTier::Community => RpCloud::Community,
            }),
            gpu: Some(CreateGpuConfig {
                id: r.gpu_type.as_str().into(),
                count: Some(r.gpu_count),
                allowed_cuda_versions: None,
                // A host whose driver supports less CUDA than the image was built for cannot
                // run it: ask for at least the image's (RunPod then refuses for capacity).
                min_cuda_version: podwarden_core::images::min_cuda(&r.image),
            }),
            data_center_ids: (!r.data_centers.is_empty())
                .then(|| r.data_centers.iter().map(|d| d.as_str().into()).collect()),
            mounts,
            registry: r.registry_auth.clone(),
            global_networking: r.global_networking.then_some(true),
            ..CreatePodRequest::default()
        };
        self.client.create_pod(&req).await.map(|p| info(&p)).map_err(map_create_err)
    }

    async fn account_headroom(&self) -> Result<Option<crate::provider::Headroom>, ProviderError> {
        use runpod::types::account::BillingMode;
        // Both routes are documented without a confirmed path: a 404 is "not reported".
        let absent = |e: &runpod::Error| e.kind() == ErrorKind::NotFound;
        let limits = match self.client.account_limits().await {
            Ok(l) => Some(l),
            Err(e) if absent(&e) => None,
            Err(e) => return Err(map_err(e)),
        };
        let balance = match self.client.account_balance().await {
            Ok(b) => Some(b),
            Err(e) if absent(&e) => None,
            Err(e) => return Err(map_err(e)),
        };
        if limits.is_none() && balance.is_none() {
            return Ok(None);
        }
        let usd = |v: Option<f64>| v.map(Money::from_usd);
        Ok(Some(crate::provider::Headroom {
            spend_limit_per_hour: usd(limits.as_ref().and_then(|l| l.spend_rate.limit)),
            spending_per_hour: usd(limits.as_ref().and_then(|l| l.spend_rate.current)),
            balance: usd(balance.as_ref().map(|b| b.balance_amount)),
            prepaid: balance.is_some_and(|b| b.billing_mode == BillingMode::Prepaid),
        }))
    }

    async fn list_queued_pods(&self) -> Result<Vec<(String, String)>, ProviderError> {
        use runpod::types::queued_pods::QueuedPodStatus;
        match self.client.list_queued_pods().await {
            Ok(entries) => Ok(entries
                .into_iter()
                .filter(|q| q.status == QueuedPodStatus::Queued)
                .filter_map(|q| Some((q.id, q.name?)))
                .collect()),
            // An API without queued pods has none to leak.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn put_secret(&self, name: &str, value: &str) -> Result<Option<String>, ProviderError> {
        use runpod::types::secrets::{CreateSecretRequest, reference};
        let req = CreateSecretRequest {
            name: name.to_owned(),
            value: value.to_owned(),
            description: Some(
                "podwarden: a job's callback token; deleted when the job ends".into(),
            ),
        };
        match self.client.create_secret(&req).await {
            Ok(_) => Ok(Some(reference(name))),
            // One of that name from an earlier launch of the job: the token is derived from the
            // job and the install's secret, so it holds the same value. (Replacing it would
            // leave a window in which a restarting pod of the job finds no secret.)
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(Some(reference(name))),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn list_secrets(&self) -> Result<Vec<(String, String)>, ProviderError> {
        match self.client.list_secrets().await {
            Ok(secrets) => Ok(secrets.into_iter().map(|s| (s.id, s.name)).collect()),
            // A key without the secrets API made none: job tokens went into env instead.
            Err(e) if matches!(e.kind(), ErrorKind::Forbidden | ErrorKind::NotFound) => {
                Ok(Vec::new())
            }
            Err(e) => Err(map_err(e)),
        }
    }

    async fn delete_secret(&self, id: &str) -> Result<(), ProviderError> {
        gone_is_ok(self.client.delete_secret(id).await)
    }

    async fn cancel_queued_pod(&self, id: &str) -> Result<(), ProviderError> {
        gone_is_ok(self.client.cancel_queued_pod(id).await)
    }

    async fn terminate_pod(&self, id: &str) -> Result<(), ProviderError> {
        gone_is_ok(self.client.delete_pod(&PodId::new(id)).await)
    }

    async fn create_network_volume(
        &self,
        name: &str,
        size_gb: i64,
        data_center: &str,
    ) -> Result<VolumeInfo, ProviderError> {
        let req = runpod::types::network_volumes::CreateNetworkVolumeRequest {
            name: name.to_owned(),
            size: size_gb,
            data_center: data_center.into(),
            kind: None,
        };
        self.client.create_network_volume(&req).await.map(|v| volume_info(&v)).map_err(map_err)
    }

    async fn list_network_volumes(&self) -> Result<Vec<VolumeInfo>, ProviderError> {
        Ok(self
            .client
            .list_network_volumes()
            .await
            .map_err(map_err)?
            .iter()
            .map(volume_info)
            .collect())
    }

    async fn delete_network_volume(&self, id: &str) -> Result<(), ProviderError> {
        gone_is_ok(self.client.delete_network_volume(&runpod::NetworkVolumeId::new(id)).await)
    }

    async fn network_volume_data_center(&self, id: &str) -> Result<String, ProviderError> {
        let v = self
            .client
            .get_network_volume(&runpod::NetworkVolumeId::new(id))
            .await
            .map_err(map_err)?;
        Ok(v.data_center.0)
    }
}

fn volume_info(v: &runpod::types::network_volumes::NetworkVolume) -> VolumeInfo {
    VolumeInfo {
        id: v.id.0.clone(),
        name: v.name.clone(),
        data_center: v.data_center.0.clone(),
        size_gb: v.size,
    }
}

/// `Ok` for a delete whose target is already gone.
fn gone_is_ok(r: Result<(), runpod::Error>) -> Result<(), ProviderError> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(map_err(e)),
    }
}

/// RFC 3339 (seconds, UTC) of a time in ms since the epoch, as RunPod's billing queries take it.
fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
    )
    .to_string()
}
