//! Pods: placement, the boot state machine, container restarts, stop/start/terminate, billing.
//!
//! Status goes PROVISIONING → STARTING → RUNNING on the emulated clock; STARTING lasts as long
//! as the image's pull. In RUNNING the container runs (`process.rs`: the image's entrypoint
//! with `args` as words, in a sandbox with the pod volume at its mount path); `runtime` stays
//! null until it has started, and an image that cannot be pulled never starts (the pull is
//! retried, with the reason in the pod's logs). Like RunPod, a container whose main process
//! exits is restarted, so a finished command keeps the pod billing until someone stops it.
//!
//! Over 600 lines: one state machine (placement, boot, restarts, stop/start/terminate, billing)
//! whose transitions read top to bottom; split, billing would sit apart from the transitions
//! that start and stop it.

use super::ledger::{Kind, Split};
use super::{Effect, Owner, SpawnSpec, World, random_id, random_secret};
use crate::clock::{rfc3339, secs_between};
use crate::logs::LogBuffer;
use crate::problem::{ApiError, ApiResult};
use chrono::{DateTime, TimeDelta, Utc};
use runpod::types::pods::{
    Cloud, CreatePodRequest, Mounts, Pod, PodAction, PodGlobalNetworking, PodGpuUtilization,
    PodRuntime, PodStatus, UpdatePodRequest, Utilization,
};
use runpod::types::problem::{
    INSUFFICIENT_BALANCE_DETAIL, NO_CAPACITY_DETAIL, NOT_ENOUGH_FREE_GPUS_DETAIL,
    SPEND_LIMIT_DETAIL, VOLUME_SECURE_ONLY_DETAIL,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Serialize)]
struct ListView<'a> {
    pods: Vec<PodView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<runpod::types::pagination::Pagination>,
}

/// USD per GB-month of running disk (container and pod volume).
const DISK_RUNNING_GB_MONTH: f64 = 0.10;
/// USD per GB-month of a stopped pod's volume.
const VOLUME_STOPPED_GB_MONTH: f64 = 0.20;
const HOURS_PER_MONTH: f64 = 730.0;
/// Illustrative CPU pod price per vCPU-hour.
const CPU_PRICE_PER_VCPU_HR: f64 = 0.03;

/// Helpers on the wire status.
#[allow(clippy::wrong_self_convention)] // PodStatus is Copy; by value is right
pub trait StatusExt {
    /// Compute (GPU/CPU and running disk) bills in this status.
    fn is_billing_compute(self) -> bool;
}

impl StatusExt for PodStatus {
    fn is_billing_compute(self) -> bool {
        matches!(self, PodStatus::Provisioning | PodStatus::Starting | PodStatus::Running)
    }
}

/// The pod's container process.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// Generation of the current process (0: never started).
    pub generation: u64,
    pub running: bool,
    /// Has started since the pod last started (RunPod reports `runtime` from then on).
    pub up: bool,
    pub exited_at: Option<DateTime<Utc>>,
    pub last_exit_code: Option<i32>,
    pub restarts: u32,
}

/// One pod, including terminated ones (kept for billing; hidden from the API).
#[derive(Debug, Clone)]
pub struct PodRecord {
    pub id: String,
    /// The account it belongs to (and bills).
    pub account: String,
    pub name: String,
    pub image: String,
    pub args: String,
    pub disk: i64,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<String>,
    pub registry: Option<String>,
    pub mounts: Mounts,
    pub gpu: Option<(String, i64)>,
    pub cpu: Option<(String, i64)>,
    pub cloud: Cloud,
    pub data_center: String,
    pub template: Option<String>,
    pub locked: bool,
    pub global_networking: bool,
    pub start_ssh: bool,
    pub start_jupyter: bool,
    pub status: PodStatus,
    /// When the current PROVISIONING/STARTING phase ends.
    pub phase_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    /// `created_at`/`started_at` as RFC 3339, rendered once (lists of 10k pods show them all).
    pub created_at_text: String,
    pub started_at_text: Option<String>,
    /// SSH proxy user name, fixed at create.
    pub ssh_user: String,
    pub terminated_at: Option<DateTime<Utc>>,
    /// Pinned at create: USD/h of compute.
    pub compute_per_hr: f64,
    /// Holds GPUs from stock.
    pub holds_gpus: bool,
    pub boot_hang: bool,
    pub preempt_after_secs: Option<f64>,
    pub preempted: bool,
    pub key: String,
    pub container: Container,
    pub billed_until: DateTime<Utc>,
    pub logs: Arc<LogBuffer>,
}

impl PodRecord {
    fn running_disk_per_hr(&self) -> f64 {
        let vol = self.mounts.persistent.as_ref().map_or(0, |p| p.size);
        (self.disk + vol) as f64 * DISK_RUNNING_GB_MONTH / HOURS_PER_MONTH
    }

    fn stopped_disk_per_hr(&self) -> f64 {
        self.mounts.persistent.as_ref().map_or(0, |p| p.size) as f64 * VOLUME_STOPPED_GB_MONTH
            / HOURS_PER_MONTH
    }

    /// USD/h billed right now.
    pub fn current_rate(&self) -> f64 {
        match self.status {
            s if s.is_billing_compute() => self.compute_per_hr + self.running_disk_per_hr(),
            PodStatus::Exited => self.stopped_disk_per_hr(),
            _ => 0.0,
        }
    }

    /// Whether a network volume is attached.
    pub fn has_network_volume(&self) -> bool {
        self.mounts.network.as_ref().is_some_and(|n| !n.is_empty())
    }

    fn actions(&self) -> &'static [PodAction] {
        match self.status {
            PodStatus::Provisioning | PodStatus::Starting | PodStatus::Running => {
                &[PodAction::Stop, PodAction::Restart, PodAction::Terminate]
            }
            PodStatus::Exited => &[PodAction::Start, PodAction::Terminate],
            PodStatus::Error => &[PodAction::Terminate],
            _ => &[],
        }
    }

    fn runtime(&self, now: DateTime<Utc>) -> Option<PodRuntime> {
        (self.status == PodStatus::Running && self.container.up).then(|| PodRuntime {
            uptime: self.started_at.map_or(0, |s| secs_between(s, now) as i64),
            gpus: (0..self.gpu.as_ref().map_or(0, |g| g.1))
                .map(|_| PodGpuUtilization { util: 0, memory_util: 0 })
                .collect(),
            cpu: Some(Utilization { util: i64::from(self.container.running) }),
            memory: Some(Utilization { util: 0 }),
            ports: Vec::new(),
        })
    }

    fn cost(&self) -> f64 {
        if self.status.is_billing_compute() { round4(self.current_rate()) } else { 0.0 }
    }

    /// The same JSON as [`Self::to_api`], borrowed instead of cloned: `GET /v2/pods` renders
    /// thousands of these under the lock.
    pub fn view(&self, now: DateTime<Utc>) -> PodView<'_> {
        let running = self.status == PodStatus::Running;
        PodView {
            id: &self.id,
            name: &self.name,
            status: self.status,
            actions: self.actions(),
            image: &self.image,
            args: &self.args,
            disk: self.disk,
            mounts: &self.mounts,
            ports: &self.ports,
            env: &self.env,
            registry: &self.registry,
            gpu: self.gpu.as_ref().map(|(id, count)| GpuView { id, count: *count }),
            cpu: self.cpu.as_ref().map(|(id, v)| CpuView { id, vcpu_count: *v, memory: v * 2 }),
            cloud: self.cloud,
            data_center_id: Some(&self.data_center),
            cuda_version: self.gpu.as_ref().map(|_| HOST_CUDA),
            ssh: SshView {
                proxy: running.then(|| SshEndpointView {
                    host: SSH_HOST,
                    port: 22,
                    username: &self.ssh_user,
                    command: SshCommand(&self.ssh_user),
                }),
                direct: None,
            },
            template: self.template.as_deref(),
            cost: self.cost(),
            locked: self.locked,
            global_networking: PodGlobalNetworking {
                enabled: self.global_networking,
                ip: None,
                internal_dns: None,
            },
            runtime: self.runtime(now),
            created_at: Some(&self.created_at_text),
            started_at: self.started_at_text.as_deref(),
        }
    }

    /// The pod as REST v2 shows it.
    pub fn to_api(&self, now: DateTime<Utc>) -> Pod {
        // One rendering path: the typed value is parsed from the view's JSON.
        serde_json::to_value(self.view(now))
            .and_then(serde_json::from_value)
            .unwrap_or_else(|_| unreachable!("PodView renders a Pod"))
    }
}

const SSH_HOST: &str = "ssh.emulator.invalid";

/// Borrowed rendering of a pod, field for field the REST v2 `Pod`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodView<'a> {
    id: &'a str,
    name: &'a str,
    status: PodStatus,
    actions: &'static [PodAction],
    image: &'a str,
    args: &'a str,
    disk: i64,
    mounts: &'a Mounts,
    ports: &'a [String],
    env: &'a BTreeMap<String, String>,
    registry: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu: Option<GpuView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<CpuView<'a>>,
    cloud: Cloud,
    data_center_id: Option<&'a str>,
    cuda_version: Option<&'static str>,
    ssh: SshView<'a>,
    template: Option<&'a str>,
    cost: f64,
    locked: bool,
    global_networking: PodGlobalNetworking,
    runtime: Option<PodRuntime>,
    created_at: Option<&'a str>,
    started_at: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct GpuView<'a> {
    id: &'a str,
    count: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CpuView<'a> {
    id: &'a str,
    vcpu_count: i64,
    memory: i64,
}

#[derive(Debug, Serialize)]
struct SshView<'a> {
    proxy: Option<SshEndpointView<'a>>,
    direct: Option<SshEndpointView<'a>>,
}

#[derive(Debug, Serialize)]
struct SshEndpointView<'a> {
    host: &'static str,
    port: u16,
    username: &'a str,
    command: SshCommand<'a>,
}

/// `ssh USER@HOST`, written without allocating.
#[derive(Debug)]
struct SshCommand<'a>(&'a str);

impl Serialize for SshCommand<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("ssh {}@{SSH_HOST}", self.0))
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The CUDA version every emulated GPU host reports.
pub const HOST_CUDA: &str = "12.8";

/// `major.minor` as numbers (so 12.11 is above 12.2, as the spec says).
fn cuda_pair(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// "You can configure up to 50 environment variables" (`pods/templates/environment-variables.mdx`).
pub const MAX_POD_ENV_VARS: usize = 50;

fn after(t: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    t + TimeDelta::milliseconds((secs * 1000.0) as i64)
}

impl World {
    /// `POST /v2/pods` after schema validation: the handler-layer rules, placement, credit.
    pub fn pod_create(
        &mut self,
        acct: &str,
        req: CreatePodRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Pod> {
        if req.gpu.is_some() == req.cpu.is_some() {
            return Err(ApiError::bad_request("exactly one of `gpu` or `cpu` must be set"));
        }
        let mounts = req.mounts.clone().unwrap_or_default();
        if mounts.persistent.is_some() && mounts.network.as_ref().is_some_and(|n| !n.is_empty()) {
            return Err(ApiError::bad_request(
                "`mounts.persistent` and `mounts.network` are mutually exclusive",
            ));
        }
        if req.cpu.is_some() && mounts.persistent.is_some() {
            return Err(ApiError::bad_request("`mounts.persistent` is invalid when `cpu` is set"));
        }
        if let Some(g) = &req.gpu {
            if g.allowed_cuda_versions.as_ref().is_some_and(|v| !v.is_empty())
                && g.min_cuda_version.is_some()
            {
                return Err(ApiError::bad_request(
                    "`gpu.allowedCudaVersions` and `gpu.minCudaVersion` are mutually exclusive",
                ));
            }
        }
        if let Some(g) = &req.gpu {
            // Every emulated host runs CUDA `HOST_CUDA`; a constraint none meets is a capacity
            // error, not a fallback (spec `CreateGpuConfig.allowedCudaVersions`).
            let host = cuda_pair(HOST_CUDA).unwrap_or((0, 0));
            let min_ok =
                g.min_cuda_version.as_deref().and_then(cuda_pair).is_none_or(|m| m <= host);
            let allowed_ok = g
                .allowed_cuda_versions
                .as_ref()
                .is_none_or(|v| v.is_empty() || v.iter().any(|x| cuda_pair(x) == Some(host)));
            if !(min_ok && allowed_ok) {
                return Err(ApiError::bad_request(NO_CAPACITY_DETAIL));
            }
        }
        if let Some(cpu) = &req.cpu {
            if !(cpu.vcpu_count as u64).is_power_of_two() {
                return Err(ApiError::bad_request("`cpu.vcpuCount` must be a power of two"));
            }
        }
        // Template settings first; body fields override them.
        let tpl = match &req.template_id {
            Some(t) => Some(
                self.templates
                    .get(t.as_str())
                    .filter(|t| t.account == acct)
                    .cloned()
                    .ok_or_else(ApiError::not_found)?,
            ),
            None => None,
        };
        if tpl.as_ref().is_some_and(|t| t.template.serverless) {
            return Err(ApiError::new(422, "a serverless template cannot be used for a pod"));
        }
        let mut env = tpl.as_ref().map(|t| t.template.env.clone()).unwrap_or_default();
        env.extend(req.env.clone().unwrap_or_default());
        if env.len() > MAX_POD_ENV_VARS {
            return Err(ApiError::bad_request(format!(
                "a pod takes at most {MAX_POD_ENV_VARS} environment variables, got {}",
                env.len()
            )));
        }
        let image = req
            .image
            .clone()
            .or_else(|| tpl.as_ref().map(|t| t.template.image.clone()))
            .unwrap_or_default();
        let args = req
            .args
            .clone()
            .or_else(|| tpl.as_ref().map(|t| t.template.args.clone()))
            .unwrap_or_default();
        let disk = req.disk.or_else(|| tpl.as_ref().map(|t| t.template.disk)).unwrap_or(50);
        let ports = req
            .ports
            .clone()
            .or_else(|| tpl.as_ref().map(|t| t.template.ports.clone()))
            .unwrap_or_default();
        let mounts = if mounts.persistent.is_none() && mounts.network.is_none() {
            Mounts {
                persistent: tpl.as_ref().and_then(|t| t.template.mounts.persistent.clone()),
                network: None,
            }
        } else {
            mounts
        };

        // Network volume pins placement to its data center.
        let mut dcs: Vec<String> =
            req.data_center_ids.clone().unwrap_or_default().into_iter().map(|d| d.0).collect();
        if let Some(nv) = mounts.network.as_ref().and_then(|n| n.first()) {
            if req.cloud == Some(Cloud::Community) {
                return Err(ApiError::bad_request(VOLUME_SECURE_ONLY_DETAIL));
            }
            let vol =
                self.volumes.get(nv.volume_id.as_str()).filter(|v| v.account == acct).ok_or_else(
                    || ApiError::bad_request(format!("network volume {} not found", nv.volume_id)),
                )?;
            if !dcs.is_empty() && !dcs.contains(&vol.volume.data_center.0) {
                return Err(ApiError::bad_request(
                    "the network volume's data center is not among `dataCenterIds`",
                ));
            }
            dcs = vec![vol.volume.data_center.0.clone()];
        }

        let (gpu, cpu, compute_per_hr) = match (&req.gpu, &req.cpu) {
            (Some(g), _) => {
                let offer = self.catalog.offer(g.id.as_str()).ok_or_else(|| {
                    ApiError::bad_request(format!("unknown GPU type id: {:?}", g.id.as_str()))
                })?;
                let count = g.count.unwrap_or(1);
                if count > offer.max_count {
                    return Err(ApiError::bad_request(format!(
                        "gpu.count {count} exceeds the maximum of {} for {}",
                        offer.max_count, offer.id
                    )));
                }
                let price = if req.cloud == Some(Cloud::Community) {
                    offer.community_price
                } else {
                    offer.secure_price
                };
                (Some((g.id.0.clone(), count)), None, price * count as f64)
            }
            (None, Some(c)) => (
                None,
                Some((c.id.clone(), c.vcpu_count)),
                CPU_PRICE_PER_VCPU_HR * c.vcpu_count as f64,
            ),
            (None, None) => {
                return Err(ApiError::bad_request("exactly one of `gpu` or `cpu` must be set"));
            }
        };
        let disk_per_hr = (disk + mounts.persistent.as_ref().map_or(0, |p| p.size)) as f64
            * DISK_RUNNING_GB_MONTH
            / HOURS_PER_MONTH;
        let rate = compute_per_hr + disk_per_hr;
        let Some(account) = self.account(acct) else { return Err(ApiError::unauthorized()) };
        if account.balance < rate {
            // 402, as the spec's createPod table has it ("Insufficient balance. Stop").
            return Err(ApiError::new(402, INSUFFICIENT_BALANCE_DETAIL));
        }
        if self.current_spend_per_hr(acct) + rate > account.spend_limit {
            return Err(ApiError::bad_request(format!(
                "{SPEND_LIMIT_DETAIL} of ${:.2}/hr (synthetic message: RunPod publishes no exact text).",
                account.spend_limit
            )));
        }
        let (data_center, cloud, holds_gpus) = match &gpu {
            Some((id, count)) => match self.catalog.allocate(id, *count, req.cloud, &dcs) {
                Some((dc, cloud)) => (dc, cloud, true),
                None => return Err(ApiError::bad_request(NO_CAPACITY_DETAIL)),
            },
            None => (
                dcs.first().cloned().unwrap_or_else(|| {
                    self.catalog.data_centers.first().map_or("US-TX-3".into(), |d| d.id.clone())
                }),
                req.cloud.unwrap_or(Cloud::Secure),
                false,
            ),
        };
        // Price is pinned to the cloud actually used.
        let compute_per_hr = match (&gpu, cloud) {
            (Some((id, count)), Cloud::Community) => {
                self.catalog.offer(id).map_or(compute_per_hr, |o| o.community_price * *count as f64)
            }
            (Some((id, count)), _) => {
                self.catalog.offer(id).map_or(compute_per_hr, |o| o.secure_price * *count as f64)
            }
            _ => compute_per_hr,
        };

        let id = loop {
            let id = random_id(14);
            if !self.pods.contains_key(&id) {
                break id;
            }
        };
        let key = random_secret("rpa_POD");
        self.pod_keys.insert(key.clone(), id.clone());
        let logs = Arc::new(LogBuffer::default());
        logs.push(
            now,
            "system",
            format!(
                "pod {id} created: {} in {data_center}",
                gpu.as_ref().map_or_else(|| "cpu".to_owned(), |g| format!("{}x {}", g.1, g.0))
            ),
        );
        self.ledger.own(Kind::Pod, &id, acct);
        let rec = PodRecord {
            id: id.clone(),
            account: acct.to_owned(),
            name: req.name,
            image,
            args,
            disk,
            env,
            ports,
            registry: req
                .registry
                .clone()
                .or_else(|| tpl.as_ref().and_then(|t| t.template.registry.clone())),
            mounts,
            gpu,
            cpu,
            cloud,
            data_center,
            template: req.template_id.map(|t| t.0),
            locked: false,
            global_networking: req.global_networking.unwrap_or(false),
            start_ssh: req.start_ssh,
            start_jupyter: req.start_jupyter,
            status: PodStatus::Provisioning,
            phase_until: Some(after(now, self.cfg.pods.provisioning_secs)),
            created_at: now,
            started_at: None,
            created_at_text: rfc3339(now),
            started_at_text: None,
            ssh_user: String::new(),
            terminated_at: None,
            compute_per_hr,
            holds_gpus,
            boot_hang: self.pod_faults.boot_hang,
            preempt_after_secs: self.pod_faults.preempt_after_secs,
            preempted: false,
            key,
            container: Container::default(),
            billed_until: now,
            logs,
        };
        let mut rec = rec;
        rec.ssh_user = format!("{}-{}", rec.id, rec.key[rec.key.len() - 8..].to_ascii_lowercase());
        self.pods.insert(id.clone(), rec);
        self.tick_pod(&id, now);
        Ok(self.pods[&id].to_api(now))
    }

    /// A live (not terminated) pod.
    pub fn pod_live(&self, id: &str) -> ApiResult<&PodRecord> {
        self.pods
            .get(id)
            .filter(|p| p.status != PodStatus::Terminated)
            .ok_or_else(ApiError::not_found)
    }

    /// `GET /v2/pods` rendered straight to JSON (`{"pods":[...]}`), without cloning records.
    pub fn pod_list_json(
        &self,
        acct: &str,
        page: &crate::paging::PageRequest,
        now: DateTime<Utc>,
    ) -> Vec<u8> {
        let keyed = self
            .live_pods_sorted(acct)
            .into_iter()
            .map(|p| (crate::paging::created_key(p.created_at.timestamp_millis(), &p.id), p))
            .collect();
        let (shown, pagination) = page.page(keyed);
        let pods: Vec<PodView<'_>> = shown.into_iter().map(|p| p.view(now)).collect();
        let mut out = Vec::with_capacity(64 + pods.len() * 512);
        // Serializing borrowed views of our own data cannot fail.
        let _ = serde_json::to_writer(&mut out, &ListView { pods, pagination });
        out
    }

    fn live_pods_sorted(&self, acct: &str) -> Vec<&PodRecord> {
        let mut v: Vec<&PodRecord> = self
            .pods
            .values()
            .filter(|p| p.account == acct && p.status != PodStatus::Terminated)
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        v
    }

    /// `PATCH /v2/pods/{id}`.
    pub fn pod_update(
        &mut self,
        id: &str,
        req: UpdatePodRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Pod> {
        let acct = self.owner(super::Res::Pod, id).unwrap_or_default().to_owned();
        let tpl = match &req.template_id {
            Some(t) => {
                let t = self
                    .templates
                    .get(t.as_str())
                    .filter(|t| t.account == acct)
                    .ok_or_else(ApiError::not_found)?;
                if t.template.serverless {
                    return Err(ApiError::new(
                        422,
                        "a serverless template cannot be applied to a pod",
                    ));
                }
                Some(t.template.clone())
            }
            None => None,
        };
        let pod = self
            .pods
            .get_mut(id)
            .filter(|p| p.status != PodStatus::Terminated)
            .ok_or_else(ApiError::not_found)?;
        if let Some(m) = &req.mounts {
            if m.network.as_ref().is_some_and(|n| n.is_empty()) {
                return Err(ApiError::bad_request("clearing mounts is not supported"));
            }
            let had_network = pod.has_network_volume();
            if (m.persistent.is_some() && pod.mounts.persistent.is_none())
                || (m.network.is_some() && !had_network)
            {
                return Err(ApiError::bad_request("mount kind is fixed at create"));
            }
            if let (Some(new), Some(old)) = (
                m.network.as_ref().and_then(|n| n.first()),
                pod.mounts.network.as_ref().and_then(|n| n.first()),
            ) {
                if new.volume_id != old.volume_id {
                    return Err(ApiError::bad_request(
                        "the volumeId of a network mount is immutable",
                    ));
                }
            }
        }
        let before = (pod.image.clone(), pod.args.clone(), pod.env.clone());
        if let Some(t) = &tpl {
            pod.image = t.image.clone();
            pod.args = t.args.clone();
            pod.disk = t.disk;
            pod.ports = t.ports.clone();
        }
        if let Some(v) = req.name {
            pod.name = v;
        }
        if let Some(v) = req.image {
            pod.image = v;
        }
        if let Some(v) = req.args {
            pod.args = v;
        }
        if let Some(v) = req.disk {
            pod.disk = v;
        }
        if req.env.is_some() || tpl.is_some() {
            let mut env = tpl.map(|t| t.env).unwrap_or_default();
            env.extend(req.env.unwrap_or_default());
            pod.env = env;
        }
        if let Some(v) = req.ports {
            pod.ports = v;
        }
        if let Some(v) = req.registry {
            pod.registry = Some(v);
        }
        if let Some(v) = req.locked {
            pod.locked = v;
        }
        if let Some(v) = req.global_networking {
            pod.global_networking = v;
        }
        if let Some(m) = req.mounts {
            if let Some(p) = m.persistent {
                pod.mounts.persistent = Some(p);
            }
            if let Some(n) = m.network {
                pod.mounts.network = Some(n);
            }
        }
        let changed = before != (pod.image.clone(), pod.args.clone(), pod.env.clone());
        if changed && pod.status == PodStatus::Running {
            // RunPod resets the container when its definition changes.
            self.pod_restart_container(id, now, "pod updated: restarting container");
        }
        Ok(self.pods[id].to_api(now))
    }

    /// `POST /v2/pods/{id}/action`.
    pub fn pod_action(
        &mut self,
        id: &str,
        action: PodAction,
        now: DateTime<Utc>,
    ) -> ApiResult<Pod> {
        self.tick_pod(id, now);
        let pod = self.pod_live(id)?;
        if !pod.actions().contains(&action) {
            return Err(ApiError::new(
                409,
                format!("cannot {} a pod in status {}", action.as_str(), pod.status),
            ));
        }
        if pod.locked && matches!(action, PodAction::Stop | PodAction::Restart) {
            return Err(ApiError::bad_request(
                "pod is locked: unlock it before stopping or restarting",
            ));
        }
        match action {
            PodAction::Stop => self.pod_stop(id, now)?,
            PodAction::Terminate => self.pod_terminate(id, now)?,
            PodAction::Start => self.pod_start(id, now)?,
            PodAction::Restart => {
                self.accrue_pod(id, now);
                self.pod_restart_container(id, now, "pod restart requested");
            }
            PodAction::Unknown => {
                return Err(ApiError::validation(vec![
                    "$.action: value must be one of 'start', 'stop', 'restart', 'terminate'".into(),
                ]));
            }
        }
        Ok(self.pods[id].to_api(now))
    }

    /// Stop: EXITED, GPUs released, the volume kept and billed at the stopped rate.
    pub fn pod_stop(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        self.accrue_pod(id, now);
        let grace = self.cfg.pods.stop_grace_ms;
        let pod = self.pods.get_mut(id).ok_or_else(ApiError::not_found)?;
        pod.status = PodStatus::Exited;
        pod.phase_until = None;
        pod.logs.push(now, "system", "pod stopped");
        let kill = pod.container.running.then(|| Effect::Kill {
            owner: Owner::Pod(id.to_owned()),
            generation: pod.container.generation,
            grace_ms: grace,
        });
        pod.container.running = false;
        pod.container.up = false;
        let release = pod.holds_gpus.then(|| (pod.gpu.clone(), pod.data_center.clone(), pod.cloud));
        pod.holds_gpus = false;
        if let Some(k) = kill {
            self.effect(k);
        }
        if let Some((Some((g, c)), dc, cloud)) = release {
            self.catalog.release(&g, c, &dc, cloud);
        }
        Ok(())
    }

    /// Terminate: the process tree is killed, GPUs released, the pod disappears from the API.
    pub fn pod_terminate(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        self.accrue_pod(id, now);
        let pod = self
            .pods
            .get_mut(id)
            .filter(|p| p.status != PodStatus::Terminated)
            .ok_or_else(ApiError::not_found)?;
        pod.status = PodStatus::Terminated;
        pod.phase_until = None;
        pod.terminated_at = Some(now);
        pod.logs.push(now, "system", "pod terminated");
        pod.logs.close();
        let kill = pod.container.running.then(|| Effect::Kill {
            owner: Owner::Pod(id.to_owned()),
            generation: pod.container.generation,
            grace_ms: 0,
        });
        pod.container.running = false;
        let release = pod.holds_gpus.then(|| (pod.gpu.clone(), pod.data_center.clone(), pod.cloud));
        pod.holds_gpus = false;
        let key = pod.key.clone();
        self.pod_keys.remove(&key);
        if let Some(k) = kill {
            self.effect(k);
        }
        let dir = self.state_dir.join("pods").join(id);
        self.effect(Effect::RemoveDir(dir));
        if let Some((Some((g, c)), dc, cloud)) = release {
            self.catalog.release(&g, c, &dc, cloud);
        }
        Ok(())
    }

    fn pod_start(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        self.accrue_pod(id, now);
        let (gpu, dc, cloud) = {
            let p = self.pod_live(id)?;
            (p.gpu.clone(), p.data_center.clone(), p.cloud)
        };
        if let Some((g, c)) = &gpu {
            // A stopped pod resumes on its own host, so only that data center counts.
            if !self.catalog.allocate_exact(g, *c, &dc, cloud) {
                return Err(ApiError::bad_request(NOT_ENOUGH_FREE_GPUS_DETAIL));
            }
        }
        let starting = self.cfg.pods.starting_secs;
        let pod = self.pods.get_mut(id).ok_or_else(ApiError::not_found)?;
        pod.holds_gpus = gpu.is_some();
        pod.status = PodStatus::Starting;
        pod.phase_until = Some(after(now, starting));
        pod.preempted = false;
        pod.logs.push(now, "system", "pod starting");
        self.tick_pod(id, now);
        Ok(())
    }

    fn pod_restart_container(&mut self, id: &str, now: DateTime<Utc>, why: &str) {
        let starting = self.cfg.pods.starting_secs;
        let Some(pod) = self.pods.get_mut(id) else { return };
        pod.logs.push(now, "system", why.to_owned());
        let kill = pod.container.running.then(|| Effect::Kill {
            owner: Owner::Pod(id.to_owned()),
            generation: pod.container.generation,
            grace_ms: 0,
        });
        pod.container.running = false;
        pod.container.up = false;
        pod.container.exited_at = None;
        pod.status = PodStatus::Starting;
        pod.phase_until = Some(after(now, starting));
        if let Some(k) = kill {
            self.effect(k);
        }
        self.tick_pod(id, now);
    }

    /// Bills the pod up to `to` at its current rate.
    fn accrue_pod(&mut self, id: &str, to: DateTime<Utc>) {
        let Some(p) = self.pods.get_mut(id) else { return };
        let from = p.billed_until;
        if to <= from {
            return;
        }
        p.billed_until = to;
        let rate = p.current_rate();
        let gpu_share =
            if rate > 0.0 && p.status.is_billing_compute() { p.compute_per_hr / rate } else { 0.0 };
        self.charge(Kind::Pod, id, from, to, rate, Split { gpu_share });
    }

    pub(crate) fn log_pod(&self, id: &str, now: DateTime<Utc>, source: &'static str, line: &str) {
        if let Some(p) = self.pods.get(id) {
            p.logs.push(now, source, line.to_owned());
        }
    }

    pub(crate) fn tick_pods(&mut self, now: DateTime<Utc>) {
        let ids: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.status != PodStatus::Terminated)
            .map(|(k, _)| k.clone())
            .collect();
        for id in ids {
            self.tick_pod(&id, now);
        }
    }

    /// Advances one pod to `now`, transition by transition, billing each phase at its rate.
    pub(crate) fn tick_pod(&mut self, id: &str, now: DateTime<Utc>) {
        loop {
            let Some(p) = self.pods.get(id) else { return };
            let until = p.phase_until;
            match (p.status, until) {
                (PodStatus::Provisioning, Some(t)) if now >= t => {
                    let pull = self.pull_secs(&p.image);
                    self.accrue_pod(id, t);
                    let starting = self.cfg.pods.starting_secs + pull.unwrap_or(0.0);
                    let Some(p) = self.pods.get_mut(id) else { return };
                    p.status = PodStatus::Starting;
                    p.phase_until = Some(after(t, starting));
                    p.logs.push(t, "system", format!("pulling image {}", p.image));
                }
                (PodStatus::Starting, Some(t)) if now >= t && !p.boot_hang => {
                    self.accrue_pod(id, t);
                    let Some(p) = self.pods.get_mut(id) else { return };
                    p.status = PodStatus::Running;
                    p.phase_until = None;
                    p.started_at = Some(t);
                    p.started_at_text = Some(rfc3339(t));
                    p.logs.push(t, "system", "container started");
                    self.spawn_container(id, t);
                }
                _ => break,
            }
        }
        let restart_delay = self.cfg.pods.restart_delay_secs;
        let Some(p) = self.pods.get(id) else { return };
        if p.status == PodStatus::Running {
            if let (Some(pre), Some(started)) = (p.preempt_after_secs, p.started_at) {
                let at = after(started, pre);
                if now >= at {
                    self.accrue_pod(id, at);
                    self.log_pod(
                        id,
                        at,
                        "system",
                        "pod preempted: interruptible capacity reclaimed (SIGTERM, then SIGKILL)",
                    );
                    let _ = self.pod_stop(id, at);
                    if let Some(p) = self.pods.get_mut(id) {
                        p.preempted = true;
                    }
                    self.accrue_pod(id, now);
                    return;
                }
            }
            if !p.container.running {
                if let Some(exited) = p.container.exited_at {
                    let at = after(exited, restart_delay);
                    if now >= at {
                        self.accrue_pod(id, at);
                        if let Some(p) = self.pods.get_mut(id) {
                            p.container.restarts += 1;
                        }
                        self.log_pod(id, at, "system", "restarting container");
                        self.spawn_container(id, at);
                    }
                }
            }
        }
        self.accrue_pod(id, now);
    }

    fn spawn_container(&mut self, id: &str, now: DateTime<Utc>) {
        let generation = self.generation();
        let Some(p) = self.pods.get(id) else { return };
        let resolved = self.resolve_container(&p.account, &p.image, p.registry.as_deref(), &p.args);
        let mut volumes = Vec::new();
        if let Some(v) = &p.mounts.persistent {
            volumes.push((self.pod_volume_dir(id), v.path.clone()));
        }
        for n in p.mounts.network.iter().flatten() {
            volumes.push((self.volume_dir(n.volume_id.as_str()), n.path.clone()));
        }
        let scratch = self.state_dir.join("pods").join(id).join("container");
        // RunPod's variables (docs: pods/references/environment-variables); nothing of the
        // emulator's own environment.
        let mut env: Vec<(String, String)> = vec![
            ("RUNPOD_POD_ID".into(), p.id.clone()),
            ("RUNPOD_API_KEY".into(), p.key.clone()),
            ("RUNPOD_POD_HOSTNAME".into(), format!("{}-emulator", p.id)),
            ("RUNPOD_GPU_COUNT".into(), p.gpu.as_ref().map_or(0, |g| g.1).to_string()),
            ("RUNPOD_CPU_COUNT".into(), p.cpu.as_ref().map_or(4, |c| c.1).to_string()),
            ("RUNPOD_DC_ID".into(), p.data_center.clone()),
            ("RUNPOD_PUBLIC_IP".into(), "127.0.0.1".into()),
        ];
        if let Some(nv) = p.mounts.network.as_ref().and_then(|n| n.first()) {
            env.push(("RUNPOD_VOLUME_ID".into(), nv.volume_id.0.clone()));
        }
        if p.start_jupyter && !p.env.contains_key("JUPYTER_PASSWORD") {
            env.push(("JUPYTER_PASSWORD".into(), random_id(16)));
        }
        env.extend(p.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        // Secrets are resolved at each boot: a rotated value applies from the next one.
        let resolved = resolved.and_then(|r| Ok((r, self.substitute_secrets(&p.account, env)?)));
        let Some(p) = self.pods.get_mut(id) else { return };
        let ((image, argv), env) = match resolved {
            Ok(r) => r,
            Err(why) => {
                // Nothing starts; the restart loop retries (a pull, or a start with bad args).
                p.logs.push(now, "system", why);
                p.container.running = false;
                p.container.exited_at = Some(now);
                return;
            }
        };
        p.container.generation = generation;
        p.container.running = true;
        p.container.up = true;
        p.container.exited_at = None;
        let container = crate::process::ContainerSpec {
            image,
            argv,
            env,
            volumes,
            hostname: p.id.clone(),
            scratch,
        };
        let effect = Effect::Spawn(Box::new(SpawnSpec {
            owner: Owner::Pod(id.to_owned()),
            generation,
            container,
            logs: p.logs.clone(),
        }));
        self.effect(effect);
    }

    /// Directory of a pod's own volume (kept across restarts and stops, gone at terminate).
    fn pod_volume_dir(&self, id: &str) -> std::path::PathBuf {
        self.state_dir.join("pods").join(id).join("volume")
    }

    /// A pod process ended (or failed to start).
    pub(crate) fn pod_process_exited(
        &mut self,
        id: &str,
        generation: u64,
        code: Option<i32>,
        now: DateTime<Utc>,
    ) {
        let restart = self.cfg.pods.restart_delay_secs;
        let Some(p) = self.pods.get_mut(id) else { return };
        if p.container.generation != generation || !p.container.running {
            return;
        }
        p.container.running = false;
        p.container.exited_at = Some(now);
        p.container.last_exit_code = code;
        let code = code.map_or_else(|| "a signal".to_owned(), |c| c.to_string());
        p.logs.push(
            now,
            "system",
            format!("container exited with code {code}; restarting in {restart}s"),
        );
    }
}
