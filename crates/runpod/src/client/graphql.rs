//! The deprecated GraphQL API, used only for what REST lacks: balance and spend limit.

use super::retry::Idempotency::Idempotent;
use super::{Call, Client, Error, ErrorKind};
use crate::types::graphql::{GraphqlResponse, Myself, MyselfData};
use reqwest::Method;

const MYSELF_QUERY: &str = "query { myself { id clientBalance currentSpendPerHr spendLimit } }";

impl Client {
    /// Account balance, current spend rate and spend limit (`POST /graphql`, `myself`).
    pub async fn myself(&self) -> Result<Myself, Error> {
        let body = serde_json::json!({ "query": MYSELF_QUERY }).to_string();
        let call = Call {
            operation: "read account balance",
            method: Method::POST,
            url: self.rest(&["graphql"]),
            body: Some(body.into()),
            idem: Idempotent,
            timeout: None,
        };
        let r: GraphqlResponse<MyselfData> = self.json(call).await?;
        if let Some(e) = r.errors.as_ref().and_then(|e| e.first()) {
            // GraphQL reports auth failures as HTTP 200 with `Unauthorized`.
            let kind = if e.message.eq_ignore_ascii_case("unauthorized") {
                ErrorKind::Unauthorized
            } else {
                ErrorKind::BadRequest
            };
            let mut err = Error::new(kind, "read account balance", "POST", "/graphql".into());
            err.inner.status = Some(200);
            err.inner.detail = Some(e.message.clone());
            return Err(err);
        }
        match r.data.and_then(|d| d.myself) {
            Some(m) => Ok(m),
            None => {
                let mut err = Error::new(
                    ErrorKind::Undecodable,
                    "read account balance",
                    "POST",
                    "/graphql".into(),
                );
                err.inner.detail = Some("response has no data.myself".into());
                Err(err)
            }
        }
    }
}
