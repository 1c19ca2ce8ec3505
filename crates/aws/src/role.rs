//! An EC2 instance role's credentials, as AWS's SDKs read them on an instance: IMDSv2 (a
//! session token from `PUT /latest/api/token`, then `GET
//! /latest/meta-data/iam/security-credentials/` for the role's name and again for its keys).
//! AWS rotates them at least five minutes before they expire; they are read again after five
//! minutes (a link-local call), so a key in use is never older than its rotation allows.

use crate::{Credentials, Error, Result};
use secrecy::SecretString;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// EC2's metadata service.
pub(crate) const EC2_METADATA: &str = "http://169.254.169.254";

/// How long read credentials are used before they are read again.
const REREAD_AFTER: Duration = Duration::from_secs(300);

/// A metadata service's answer wait: it is on the link, or not there at all (off EC2).
const TIMEOUT: Duration = Duration::from_secs(2);

/// The role's credentials, read when needed.
#[derive(Debug)]
pub(crate) struct RoleKeys {
    base: Url,
    cached: Mutex<Option<(Credentials, Instant)>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: String,
}

impl RoleKeys {
    pub(crate) fn new(endpoint: &str) -> Result<Self> {
        let base = Url::parse(endpoint).map_err(|e| {
            Error::Config(format!("the metadata service endpoint {endpoint:?} is not a URL: {e}"))
        })?;
        Ok(Self { base, cached: Mutex::new(None) })
    }

    /// The role's current credentials.
    pub(crate) async fn get(&self, http: &reqwest::Client) -> Result<Credentials> {
        {
            let c = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((creds, _)) = c.as_ref().filter(|(_, at)| at.elapsed() < REREAD_AFTER) {
                return Ok(creds.clone());
            }
        }
        let creds = self.read(http).await?;
        *self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((creds.clone(), Instant::now()));
        Ok(creds)
    }

    async fn read(&self, http: &reqwest::Client) -> Result<Credentials> {
        let fail = |what: String| {
            Error::Config(format!(
                "no AWS credentials: none in the environment or a profile, and the instance role's could not be read from {} ({what}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
                self.base
            ))
        };
        let url = |path: &str| self.base.join(path).map_err(|e| fail(e.to_string()));
        let token = http
            .put(url("/latest/api/token")?)
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            .timeout(TIMEOUT)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(e.to_string()))?
            .text()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let get = |path: String| {
            let token = token.clone();
            async move {
                http.get(url(&path)?)
                    .header("x-aws-ec2-metadata-token", token)
                    .timeout(TIMEOUT)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| fail(e.to_string()))?
                    .text()
                    .await
                    .map_err(|e| fail(e.to_string()))
            }
        };
        let roles = get("/latest/meta-data/iam/security-credentials/".into()).await?;
        let role = roles
            .lines()
            .next()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| fail("the instance has no role (an instance profile)".into()))?;
        let text = get(format!("/latest/meta-data/iam/security-credentials/{role}")).await?;
        let c: RoleCredentials = serde_json::from_str(&text)
            .map_err(|_| fail("its answer is not credentials".into()))?;
        Ok(Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: SecretString::from(c.secret_access_key),
            session_token: Some(SecretString::from(c.token)),
        })
    }
}
