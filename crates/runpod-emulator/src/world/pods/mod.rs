//! Pods: placement, the boot state machine, container restarts, stop/start/terminate, billing.
//!
//! Status goes PROVISIONING → STARTING → RUNNING on the emulated clock; STARTING lasts as long
//! as the image's pull. In RUNNING the container runs (`process.rs`: the image's entrypoint
//! with `args` as words, in a sandbox with the pod volume at its mount path); `runtime` stays
//! null until it has started, and an image that cannot be pulled never starts (the pull is
//! retried, with the reason in the pod's logs). Like RunPod, a container whose main process
//! exits is restarted, so a finished command keeps the pod billing until someone stops it.
//!
//! Here: the pod record, its views and billing rates. `create` places a new pod, `requests`
//! answers the REST calls on existing ones, `machine` is the state machine (boot, restarts,
//! stop/start/terminate, billing accrual) the tick drives.

use super::ledger::{Kind, Split};
use super::{Effect, Owner, SpawnSpec, World, random_id, random_secret};
use crate::clock::{rfc3339, secs_between};
use crate::logs::LogBuffer;
use crate::problem::{ApiError, ApiResult};
use chrono::{DateTime, TimeDelta, Utc};
use runpod::types::pods::{
    Cloud, CreatePodRequest, Mounts, Pod, PodAction, PodGlobalNetworking, PodGpuUtilization,
    PodRuntime, PodRuntimePort, PodStatus, UpdatePodRequest, Utilization,
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
    /// Asked for (create, PATCH); a PATCH takes effect at the next container start.
    pub global_networking: bool,
    /// Its address on the account's global network (`global_net.rs`), held until terminated.
    pub private_ip: Option<std::net::Ipv4Addr>,
    pub start_ssh: bool,
    pub start_jupyter: bool,
    /// The running container's published TCP ports: (in the container, on this machine).
    pub published: Vec<(u16, u16)>,
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
    /// Its host's time from STARTING to RUNNING, when the capacity model set one.
    pub boot_secs: Option<f64>,
    /// A dud host (the capacity model's): it reports RUNNING, but its container never starts
    /// (no `runtime`), billing all the while.
    pub never_boots: bool,
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
            ports: self
                .published
                .iter()
                .map(|&(private, public)| PodRuntimePort {
                    private,
                    public: Some(public),
                    kind: "tcp".into(),
                    ip: Some(PUBLIC_IP.into()),
                })
                .collect(),
        })
    }

    /// The public port of the container's 22/tcp while it runs (`ssh.direct`).
    fn direct_ssh_port(&self) -> Option<u16> {
        let up = self.status == PodStatus::Running && self.container.up;
        up.then(|| self.published.iter().find(|(private, _)| *private == 22).map(|p| p.1))?
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
                    command: SshCommand::Proxy(&self.ssh_user),
                }),
                direct: self.direct_ssh_port().map(|port| SshEndpointView {
                    host: PUBLIC_IP,
                    port,
                    username: "root",
                    command: SshCommand::Direct(port),
                }),
            },
            template: self.template.as_deref(),
            cost: self.cost(),
            locked: self.locked,
            // "Derived from whether the pod has an assigned global-network address" (spec).
            global_networking: PodGlobalNetworking {
                enabled: self.private_ip.is_some(),
                ip: self.private_ip.map(|ip| ip.to_string()),
                internal_dns: self.private_ip.map(|_| global_net::internal_dns(&self.id)),
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
/// The pods' public address: this machine's loopback, where their published ports listen.
pub(crate) const PUBLIC_IP: &str = "127.0.0.1";

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

/// `ssh USER@HOST` (the proxy) or `ssh root@IP -p PORT` (direct), written without allocating.
#[derive(Debug)]
enum SshCommand<'a> {
    Proxy(&'a str),
    Direct(u16),
}

impl Serialize for SshCommand<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Proxy(user) => s.collect_str(&format_args!("ssh {user}@{SSH_HOST}")),
            Self::Direct(port) => s.collect_str(&format_args!("ssh root@{PUBLIC_IP} -p {port}")),
        }
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

mod create;
mod global_net;
mod machine;
mod requests;

pub use global_net::{GLOBAL_NETWORKING_GPU_ONLY, GlobalNet};
