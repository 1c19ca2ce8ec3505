//! REST v2 pods: `/v2/pods`.

use super::{is_false, wire_enum};
use crate::ids::{DataCenterId, GpuTypeId, NetworkVolumeId, PodId, TemplateId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

wire_enum!(/// Lifecycle status of a pod.
PodStatus {
    Provisioning = "PROVISIONING",
    Starting = "STARTING",
    Running = "RUNNING",
    Exited = "EXITED",
    Error = "ERROR",
    Terminated = "TERMINATED",
});

wire_enum!(/// An action on `POST /v2/pods/{id}/action`.
PodAction {
    Start = "start",
    Stop = "stop",
    Restart = "restart",
    Terminate = "terminate",
});

wire_enum!(/// Cloud tier.
Cloud {
    Secure = "SECURE",
    Community = "COMMUNITY",
});

/// Storage mounts: at most one of `persistent` or `network`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<PersistentMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Vec<NetworkMount>>,
}

/// Host-local persistent volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistentMount {
    /// GB, at least 10.
    pub size: i64,
    pub path: String,
}

/// A network volume attached at `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkMount {
    pub volume_id: NetworkVolumeId,
    pub path: String,
}

/// GPU request of a pod create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateGpuConfig {
    pub id: GpuTypeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cuda_versions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cuda_version: Option<String>,
}

/// CPU request (`cpu5c`, vCPUs a power of two ≥ 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCpuConfig {
    pub id: String,
    pub vcpu_count: i64,
}

/// `POST /v2/pods` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePodRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Arguments to the image's entrypoint (or its command, when it has none), as one string
    /// that RunPod splits into words; not run through a shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// Container disk, GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Omit for "any cloud".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Cloud>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<CreateGpuConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CreateCpuConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_center_ids: Option<Vec<DataCenterId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_networking: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub start_jupyter: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub start_ssh: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
}

/// `PATCH /v2/pods/{id}` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdatePodRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_networking: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Mounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
}

/// `POST /v2/pods/{id}/action` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodActionRequest {
    pub action: PodAction,
}

/// GPU of a pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuConfig {
    pub id: GpuTypeId,
    #[serde(default = "one")]
    pub count: i64,
}

fn one() -> i64 {
    1
}

/// CPU of a pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuConfig {
    pub id: String,
    pub vcpu_count: i64,
    #[serde(default)]
    pub memory: i64,
}

/// One SSH route to a pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodSshEndpoint {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub command: String,
}

/// SSH routes (both null until the pod has them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodSsh {
    pub proxy: Option<PodSshEndpoint>,
    pub direct: Option<PodSshEndpoint>,
}

/// Global networking state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodGlobalNetworking {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_dns: Option<String>,
}

/// A utilisation percentage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Utilization {
    #[serde(default)]
    pub util: i64,
}

/// Per-GPU utilisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodGpuUtilization {
    #[serde(default)]
    pub util: i64,
    #[serde(default)]
    pub memory_util: i64,
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodRuntimePort {
    pub private: u16,
    pub public: Option<u16>,
    #[serde(rename = "type")]
    pub kind: String,
    pub ip: Option<String>,
}

/// Live metrics; null while the pod is not RUNNING.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodRuntime {
    #[serde(default)]
    pub uptime: i64,
    #[serde(default)]
    pub gpus: Vec<PodGpuUtilization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Utilization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Utilization>,
    #[serde(default)]
    pub ports: Vec<PodRuntimePort>,
}

/// A pod as REST v2 returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    pub id: PodId,
    #[serde(default)]
    pub name: String,
    #[serde(default = "unknown_status")]
    pub status: PodStatus,
    #[serde(default)]
    pub actions: Vec<PodAction>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub args: String,
    #[serde(default)]
    pub disk: i64,
    #[serde(default)]
    pub mounts: Mounts,
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuConfig>,
    #[serde(default = "secure")]
    pub cloud: Cloud,
    #[serde(default)]
    pub data_center_id: Option<DataCenterId>,
    #[serde(default)]
    pub cuda_version: Option<String>,
    #[serde(default)]
    pub ssh: PodSsh,
    #[serde(default)]
    pub template: Option<TemplateId>,
    /// USD per hour, 0 when EXITED or TERMINATED.
    #[serde(default)]
    pub cost: f64,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub global_networking: PodGlobalNetworking,
    #[serde(default)]
    pub runtime: Option<PodRuntime>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
}

fn unknown_status() -> PodStatus {
    PodStatus::Unknown
}

fn secure() -> Cloud {
    Cloud::Secure
}

/// `GET /v2/pods` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPodsResponse {
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// The next page's cursor, when the list is paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::pagination::Pagination>,
}

/// The few fields of a pod a reconciler needs; decoding a 10,000-pod list into these is much
/// cheaper than into [`Pod`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBrief {
    pub id: PodId,
    #[serde(default)]
    pub name: String,
    #[serde(default = "unknown_status")]
    pub status: PodStatus,
    #[serde(default)]
    pub cost: f64,
    #[serde(default)]
    pub data_center_id: Option<DataCenterId>,
    /// Whether `runtime` is set: the container runs (RUNNING alone can mean "still pulling").
    /// Its contents are not read here.
    #[serde(default, rename = "runtime", deserialize_with = "is_set", skip_serializing)]
    pub has_runtime: bool,
}

/// `true` for any value but `null`.
fn is_set<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(<Option<serde::de::IgnoredAny> as Deserialize>::deserialize(d)?.is_some())
}

/// `GET /v2/pods`, brief.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPodsBrief {
    #[serde(default)]
    pub pods: Vec<PodBrief>,
    /// The next page's cursor, when the list is paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::pagination::Pagination>,
}
