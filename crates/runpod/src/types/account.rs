//! REST v2 account limits and balance (RunPod's docs pages "Get account limits", scope
//! `account:read`, and "Get the account balance", scope `billing:read`, modified 2026-11-18; not
//! in the pinned spec). The paths are *unconfirmed* (`/v2/account/limits`, `/v2/billing/balance`
//! are the likely ones), and so are the fields inside `spendRate` and `serverlessWorkers`: every
//! field here is optional, so a different shape reads as "unknown", never as an error.

use super::wire_enum;
use serde::{Deserialize, Serialize};

wire_enum!(/// How the account pays.
BillingMode { Prepaid = "PREPAID", Postpaid = "POSTPAID" });

/// A limit and what is used of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    /// The cap (USD per hour for `spendRate`, workers for `serverlessWorkers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// What running pods and workers use of it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
}

/// `GET /v2/account/limits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountLimits {
    /// The hourly spend cap checked when a pod or serverless worker starts: the start is refused
    /// when running pods and workers plus the new one would pass it.
    #[serde(default)]
    pub spend_rate: Limit,
    /// The sum of `workersMax` across the account's endpoints.
    #[serde(default)]
    pub serverless_workers: Limit,
}

/// `GET /v2/billing/balance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountBalance {
    /// USD.
    pub balance_amount: f64,
    /// Prepaid accounts cannot start pods or workers with no balance.
    pub billing_mode: BillingMode,
}
