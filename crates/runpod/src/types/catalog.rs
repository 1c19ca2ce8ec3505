//! REST v2 catalog: GPU and CPU types with prices and availability, data centers.

use super::wire_enum;
use crate::ids::{DataCenterId, GpuPoolId, GpuTypeId};
use serde::{Deserialize, Serialize};

wire_enum!(/// GPU vendor.
GpuManufacturer { Nvidia = "NVIDIA", Amd = "AMD" });

wire_enum!(/// Coarse stock level.
AvailabilityLevel { None = "NONE", Low = "LOW", Medium = "MEDIUM", High = "HIGH" });

wire_enum!(/// Which product the availability is asked for.
Product { Pod = "POD", Cluster = "CLUSTER", Serverless = "SERVERLESS" });

wire_enum!(/// Data center region.
DataCenterRegion {
    NorthAmerica = "NORTH_AMERICA",
    SouthAmerica = "SOUTH_AMERICA",
    Europe = "EUROPE",
    Asia = "ASIA",
    MiddleEast = "MIDDLE_EAST",
    Africa = "AFRICA",
    Oceania = "OCEANIA",
    Antarctica = "ANTARCTICA",
});

/// USD per hour per GPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuPrice {
    pub secure: f64,
    pub community: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless: Option<f64>,
}

/// Largest GPU count per pod, per cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuMaxCount {
    pub secure: i64,
    pub community: i64,
}

/// Stock in one data center.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataCenterAvailability {
    pub id: DataCenterId,
    pub name: String,
    pub availability: AvailabilityLevel,
}

/// Whether hosts with a CUDA version have stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CudaVersionAvailability {
    pub version: String,
    pub available: bool,
}

/// A GPU type from `/v2/catalog/gpus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuType {
    pub id: GpuTypeId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub pool: Option<GpuPoolId>,
    #[serde(default = "unknown_manufacturer")]
    pub manufacturer: GpuManufacturer,
    /// VRAM in GB.
    #[serde(default)]
    pub memory: i64,
    #[serde(default)]
    pub secure: bool,
    #[serde(default)]
    pub community: bool,
    #[serde(default)]
    pub price: GpuPrice,
    #[serde(default)]
    pub max_count: GpuMaxCount,
    /// Only with `include=AVAILABILITY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<AvailabilityLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_centers: Option<Vec<DataCenterAvailability>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_versions: Option<Vec<CudaVersionAvailability>>,
}

fn unknown_manufacturer() -> GpuManufacturer {
    GpuManufacturer::Unknown
}

/// `GET /v2/catalog/gpus` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListGpuTypesResponse {
    #[serde(default)]
    pub gpus: Vec<GpuType>,
}

/// Query of `GET /v2/catalog/gpus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuCatalogQuery {
    /// `AVAILABILITY` to add stock; requires `product`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
}

impl GpuCatalogQuery {
    /// Prices and per-data-center pod stock.
    pub fn pod_availability() -> Self {
        Self {
            include: Some("AVAILABILITY".into()),
            product: Some("POD".into()),
            ..Self::default()
        }
    }
}

/// Availability of one resource in a data center listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogResourceAvailability {
    pub id: String,
    pub name: String,
    pub availability: AvailabilityLevel,
}

/// A data center.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataCenter {
    pub id: DataCenterId,
    #[serde(default)]
    pub name: String,
    #[serde(default = "unknown_region")]
    pub region: DataCenterRegion,
    #[serde(default)]
    pub global_network: bool,
    #[serde(default)]
    pub network_volume_types: Vec<String>,
    #[serde(default)]
    pub compliance: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_availability: Option<Vec<CatalogResourceAvailability>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_availability: Option<Vec<CatalogResourceAvailability>>,
}

fn unknown_region() -> DataCenterRegion {
    DataCenterRegion::Unknown
}

/// `GET /v2/catalog/datacenters` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListDataCentersResponse {
    #[serde(default)]
    pub data_centers: Vec<DataCenter>,
}
