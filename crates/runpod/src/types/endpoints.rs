//! REST v2 serverless endpoints: `/v2/serverless`.

use super::pods::CreateCpuConfig;
use super::wire_enum;
use crate::ids::{
    DataCenterId, EndpointId, GpuPoolId, GpuTypeId, NetworkVolumeId, TemplateId, WorkerId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

wire_enum!(/// Queue-based or load-balancing endpoint.
EndpointType { Queue = "QUEUE", LoadBalancer = "LOAD_BALANCER" });

wire_enum!(/// FlashBoot mode.
FlashBoot { Off = "OFF", FlashBoot = "FLASHBOOT", PriorityFlashBoot = "PRIORITY_FLASHBOOT" });

wire_enum!(/// State of one serverless worker.
WorkerStatus {
    Running = "RUNNING",
    Idle = "IDLE",
    Initializing = "INITIALIZING",
    Throttled = "THROTTLED",
    Unhealthy = "UNHEALTHY",
});

/// How the endpoint scales, discriminated on `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum EndpointScaling {
    /// Scale up when a job waited `queueDelay` seconds.
    #[serde(rename = "QUEUE_DELAY", rename_all = "camelCase")]
    QueueDelay { queue_delay: f64 },
    /// Target workers = queue length ÷ `requestCount`.
    #[serde(rename = "REQUEST_COUNT", rename_all = "camelCase")]
    RequestCount { request_count: i64 },
}

/// Worker bounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointWorkers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// Seconds a worker stays warm after its last job (1–3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<i64>,
}

/// GPU selection of an endpoint create/update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEndpointGpuConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pools: Option<Vec<GpuPoolId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_types: Option<Vec<GpuTypeId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_cuda_versions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cuda_version: Option<String>,
}

/// `POST /v2/serverless` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEndpointRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EndpointType,
    pub scaling: EndpointScaling,
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
    pub gpu: Option<CreateEndpointGpuConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Vec<CreateCpuConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_center_ids: Option<Vec<DataCenterId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flashboot: Option<FlashBoot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_volumes: Option<Vec<NetworkVolumeId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
    /// Execution timeout in ms (spec default 300000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<EndpointWorkers>,
}

impl CreateEndpointRequest {
    /// A queue endpoint from a template, with the spec's defaults for everything else.
    pub fn from_template(name: impl Into<String>, template_id: TemplateId) -> Self {
        Self {
            name: name.into(),
            kind: EndpointType::Queue,
            scaling: EndpointScaling::QueueDelay { queue_delay: 4.0 },
            image: None,
            args: None,
            disk: None,
            env: None,
            ports: None,
            registry: None,
            gpu: None,
            cpu: None,
            data_center_ids: None,
            flashboot: None,
            network_volumes: None,
            template_id: Some(template_id),
            timeout: None,
            workers: None,
        }
    }
}

/// `PATCH /v2/serverless/{id}` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateEndpointRequest {
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
    pub gpu: Option<CreateEndpointGpuConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Vec<CreateCpuConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_center_ids: Option<Vec<DataCenterId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flashboot: Option<FlashBoot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_volumes: Option<Vec<NetworkVolumeId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<EndpointScaling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<EndpointWorkers>,
}

/// GPU selection as an endpoint reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointGpuConfig {
    #[serde(default)]
    pub pools: Vec<GpuPoolId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_types: Option<Vec<GpuTypeId>>,
    #[serde(default = "one")]
    pub count: i64,
    #[serde(default)]
    pub allowed_cuda_versions: Vec<String>,
    #[serde(default)]
    pub min_cuda_version: Option<String>,
}

fn one() -> i64 {
    1
}

/// Worker bounds as an endpoint reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWorkersStatus {
    #[serde(default)]
    pub min: i64,
    #[serde(default)]
    pub max: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<i64>,
}

/// URLs of the serverless job API for this endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueRequestUrls {
    pub run: String,
    pub run_sync: String,
    pub status: String,
    pub stream: String,
    pub cancel: String,
    pub retry: String,
    pub purge_queue: String,
    pub health: String,
}

/// An endpoint as REST v2 returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: EndpointId,
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<EndpointType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_urls: Option<serde_json::Value>,
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
    pub gpu: Option<EndpointGpuConfig>,
    #[serde(default)]
    pub workers: EndpointWorkersStatus,
    pub scaling: EndpointScaling,
    #[serde(default)]
    pub data_center_ids: Vec<DataCenterId>,
    #[serde(default)]
    pub network_volumes: Vec<NetworkVolumeId>,
    /// Execution timeout in ms.
    #[serde(default)]
    pub timeout: i64,
    #[serde(default = "flash_off")]
    pub flashboot: FlashBoot,
    #[serde(default)]
    pub created_at: String,
    /// Not in the v2 spec, but every endpoint has one; the emulator reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<TemplateId>,
}

fn flash_off() -> FlashBoot {
    FlashBoot::Off
}

/// `GET /v2/serverless` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListEndpointsResponse {
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// The next page's cursor, when the list is paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::pagination::Pagination>,
}

/// One worker of an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    pub id: WorkerId,
    pub status: WorkerStatus,
    #[serde(default)]
    pub is_stale: bool,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub gpu_count: i64,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub uptime_seconds: Option<i64>,
    #[serde(default)]
    pub gpu_type_id: Option<GpuTypeId>,
    #[serde(default)]
    pub data_center_id: Option<DataCenterId>,
    #[serde(default)]
    pub started_at: Option<String>,
}

/// Worker counts by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSummary {
    pub running: i64,
    pub idle: i64,
    pub initializing: i64,
    pub throttled: i64,
    pub unhealthy: i64,
    pub total: i64,
}

/// `GET /v2/serverless/{id}/workers` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListEndpointWorkersResponse {
    #[serde(default)]
    pub workers: Vec<Worker>,
    #[serde(default)]
    pub summary: WorkerSummary,
    #[serde(default)]
    pub endpoint_version: Option<i64>,
}
