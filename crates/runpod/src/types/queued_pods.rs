//! REST v2 queued pods: `/v2/queued-pods` (RunPod's docs, modified 2026-11-13; not in the pinned
//! spec). A queued entry waits for capacity and may become a billing pod later (`podId`), so a
//! client that forgot one can be billed for it. How an entry is created is unconfirmed.

use super::wire_enum;
use serde::{Deserialize, Serialize};

wire_enum!(/// Where a queued entry stands.
QueuedPodStatus {
    Queued = "QUEUED",
    Deployed = "DEPLOYED",
    Failed = "FAILED",
    Expired = "EXPIRED",
    Cancelled = "CANCELLED",
});

/// One queued entry. The container settings are not echoed back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedPod {
    pub id: String,
    pub status: QueuedPodStatus,
    /// The pod's name as asked for (*unconfirmed* that RunPod echoes it; podwarden touches only
    /// entries whose name carries its install prefix, so an entry without one is never touched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The pod it became (`DEPLOYED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// `startsAt` / `expiresAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<serde_json::Value>,
}

/// `GET /v2/queued-pods`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQueuedPodsResponse {
    #[serde(default)]
    pub queued_pods: Vec<QueuedPod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::pagination::Pagination>,
}
