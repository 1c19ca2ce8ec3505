//! The GraphQL subset podwarden still needs: account balance and spend limit.

use serde::{Deserialize, Serialize};

/// `myself { clientBalance currentSpendPerHr spendLimit }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    #[serde(default)]
    pub id: Option<String>,
    /// USD.
    #[serde(default)]
    pub client_balance: f64,
    /// USD per hour across all resources.
    #[serde(default)]
    pub current_spend_per_hr: f64,
    /// USD per hour.
    #[serde(default)]
    pub spend_limit: f64,
}

/// A GraphQL error entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphqlError {
    pub message: String,
    #[serde(default)]
    pub path: Option<Vec<serde_json::Value>>,
}

/// A GraphQL response envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphqlResponse<T> {
    #[serde(default = "Option::default")]
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Option<Vec<GraphqlError>>,
}

/// `data` of the `myself` query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyselfData {
    pub myself: Option<Myself>,
}
