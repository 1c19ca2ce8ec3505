//! REST v2 network volumes: `/v2/network-volumes`.

use super::wire_enum;
use crate::ids::{DataCenterId, NetworkVolumeId};
use serde::{Deserialize, Serialize};

/// The data centers whose network volumes RunPod serves over its S3-compatible API
/// (`https://s3api-<dc>.runpod.io`), as RunPod's docs list them (`storage/s3-api.mdx`, late
/// November 2026; API-NOTES, corrections of 2026-12-05). No API lists them; elsewhere the
/// endpoint does not resolve ("Create your network volume in a supported datacenter").
pub const S3_API_DATA_CENTERS: &[&str] = &[
    "EUR-IS-1", "EUR-NO-1", "EU-RO-1", "EU-CZ-1", "US-CA-2", "US-GA-2", "US-KS-2", "US-MD-1",
    "US-MO-2", "US-NC-1", "US-NC-2",
];

wire_enum!(/// Storage tier.
VolumeType { Standard = "STANDARD", HighPerformance = "HIGH_PERFORMANCE" });

/// `POST /v2/network-volumes` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateNetworkVolumeRequest {
    pub name: String,
    /// GB, 10–4096.
    pub size: i64,
    pub data_center: DataCenterId,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<VolumeType>,
}

/// `PATCH /v2/network-volumes/{id}` body (size may only grow).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateNetworkVolumeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// A network volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkVolume {
    pub id: NetworkVolumeId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: i64,
    pub data_center: DataCenterId,
    #[serde(default = "standard", rename = "type")]
    pub kind: VolumeType,
}

fn standard() -> VolumeType {
    VolumeType::Standard
}

/// `GET /v2/network-volumes` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListNetworkVolumesResponse {
    #[serde(default)]
    pub network_volumes: Vec<NetworkVolume>,
    /// The next page's cursor, when the list is paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::pagination::Pagination>,
}
