//! STS: whose credentials these are (`GetCallerIdentity`, which needs no permission: the check
//! a key gets before it is saved).

use crate::{Client, Result, Service};
use serde::Deserialize;

/// The account and principal behind a set of credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallerIdentity {
    #[serde(rename = "Account")]
    pub account: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "UserId")]
    pub user_id: String,
}

#[derive(Deserialize)]
struct Response {
    #[serde(rename = "GetCallerIdentityResult")]
    result: CallerIdentity,
}

impl Client {
    /// Whose credentials these are; an auth error when AWS does not know them.
    pub async fn caller_identity(&self) -> Result<CallerIdentity> {
        let text = self.query(Service::Sts, "GetCallerIdentity", "2011-06-15", &[]).await?;
        let r: Response = crate::xml::parse(Service::Sts, "GetCallerIdentity", &text)?;
        Ok(r.result)
    }
}
