//! REST v2 billing records.

use serde::{Deserialize, Serialize};

/// Query of the billing routes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `hour|day|week|month|year`, default `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_n: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless_id: Option<String>,
}

/// Spend of one pod in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBillingRecord {
    pub start_time: String,
    pub end_time: String,
    pub pod_id: String,
    pub total_amount: f64,
    #[serde(default)]
    pub gpu_amount: f64,
    #[serde(default)]
    pub cpu_amount: f64,
    #[serde(default)]
    pub disk_amount: f64,
}

/// Totals of pod billing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBillingAmounts {
    pub total_amount: f64,
    pub gpu_amount: f64,
    pub cpu_amount: f64,
    pub disk_amount: f64,
}

/// The query as the server understood it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingQueryEcho {
    pub start_time: String,
    pub end_time: String,
    pub bucket_size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless_id: Option<String>,
}

/// Metadata of `GET /v2/billing/pods`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBillingMetadata {
    pub query: BillingQueryEcho,
    pub record_count: i64,
    pub unique_pod_count: i64,
    pub totals: PodBillingAmounts,
}

/// `GET /v2/billing/pods` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPodBillingResponse {
    #[serde(default)]
    pub records: Vec<PodBillingRecord>,
    #[serde(default)]
    pub metadata: PodBillingMetadata,
}

/// Spend of one endpoint in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessBillingRecord {
    pub start_time: String,
    pub end_time: String,
    pub serverless_id: String,
    pub total_amount: f64,
    #[serde(default)]
    pub gpu_amount: f64,
    #[serde(default)]
    pub cpu_amount: f64,
    #[serde(default)]
    pub disk_amount: f64,
    #[serde(default)]
    pub fee_amount: f64,
}

/// Totals of serverless billing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessBillingAmounts {
    pub total_amount: f64,
    pub gpu_amount: f64,
    pub cpu_amount: f64,
    pub disk_amount: f64,
    pub fee_amount: f64,
}

/// Metadata of `GET /v2/billing/serverless`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessBillingMetadata {
    pub query: BillingQueryEcho,
    pub record_count: i64,
    pub unique_serverless_count: i64,
    pub totals: ServerlessBillingAmounts,
}

/// `GET /v2/billing/serverless` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListServerlessBillingResponse {
    #[serde(default)]
    pub records: Vec<ServerlessBillingRecord>,
    #[serde(default)]
    pub metadata: ServerlessBillingMetadata,
}
