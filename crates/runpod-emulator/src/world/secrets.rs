//! Account secrets (`/v2/account/secrets`): write-only values that pods and serverless workers
//! reference from env as `{{ RUNPOD_SECRET_<name> }}`, substituted when the container boots
//! (RunPod's docs: `pods/templates/secrets`, `api-reference-v2/account/create-a-secret`).
//!
//! No answer carries a value: pod and endpoint reads show the reference as it was sent. A
//! reference to a secret the account does not have keeps the container from starting (the
//! stricter reading: RunPod's docs do not say; docs/emulator.md).

use super::World;
use crate::problem::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use runpod::types::secrets::{CreateSecretRequest, ListSecretsResponse, Secret};

/// A secret of an account.
#[derive(Debug, Clone)]
pub struct SecretRecord {
    pub id: String,
    pub name: String,
    pub value: String,
    pub description: Option<String>,
    pub account: String,
    pub created_at: DateTime<Utc>,
}

impl SecretRecord {
    /// Its metadata as RunPod answers it: never the value.
    pub fn view(&self) -> Secret {
        Secret {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            created_at: Some(crate::clock::rfc3339(self.created_at)),
            value_last_updated_at: Some(crate::clock::rfc3339(self.created_at)),
        }
    }
}

impl World {
    /// `POST /v2/account/secrets` (the body already validated): a name unique in the account,
    /// else 409 as RunPod's docs say.
    pub fn secret_create(
        &mut self,
        acct: &str,
        req: CreateSecretRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<SecretRecord> {
        // Unique whatever the case (the stricter reading: RunPod's `?name=` lookup ignores case).
        if self
            .secrets
            .values()
            .any(|s| s.account == acct && s.name.eq_ignore_ascii_case(&req.name))
        {
            return Err(ApiError::new(
                409,
                format!("a secret named {:?} already exists", req.name),
            ));
        }
        let rec = SecretRecord {
            id: super::random_id(12),
            name: req.name,
            value: req.value,
            description: req.description,
            account: acct.to_owned(),
            created_at: now,
        };
        self.secrets.insert(rec.id.clone(), rec.clone());
        Ok(rec)
    }

    /// `GET /v2/account/secrets`, a page of `acct`'s secrets, oldest first.
    /// `name` keeps only the secret of that name (case-insensitive, as RunPod's docs say).
    pub fn secret_list(
        &self,
        acct: &str,
        name: Option<&str>,
        page: &crate::paging::PageRequest,
    ) -> ListSecretsResponse {
        let keyed = self
            .secrets
            .values()
            .filter(|s| s.account == acct)
            .filter(|s| name.is_none_or(|n| s.name.eq_ignore_ascii_case(n)))
            .map(|s| (crate::paging::created_key(s.created_at.timestamp_millis(), &s.id), s))
            .collect();
        let (shown, pagination) = page.page(keyed);
        ListSecretsResponse {
            secrets: shown.into_iter().map(SecretRecord::view).collect(),
            pagination,
        }
    }

    /// `DELETE /v2/account/secrets/{id}`: containers already booted keep what they were given.
    pub fn secret_delete(&mut self, id: &str) -> ApiResult<()> {
        self.secrets.remove(id).map(|_| ()).ok_or_else(ApiError::not_found)
    }

    /// `env` with every `{{ RUNPOD_SECRET_<name> }}` replaced by `acct`'s secret, or why the
    /// container cannot start (a reference to a secret the account does not have).
    pub(crate) fn substitute_secrets(
        &self,
        acct: &str,
        env: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, String> {
        env.into_iter()
            .map(|(k, v)| {
                let v = substitute(&v, |name| {
                    self.secrets
                        .values()
                        .find(|s| s.account == acct && s.name == name)
                        .map(|s| s.value.as_str())
                })
                .map_err(|name| {
                    format!(
                        "environment variable {k} references secret {name:?}, which does not exist in this account"
                    )
                })?;
                Ok((k, v))
            })
            .collect()
    }
}

/// `value` with each `{{ RUNPOD_SECRET_<name> }}` (spaces inside the braces optional) replaced
/// by `lookup(name)`; the first name it does not know is the error. Text that is not such a
/// reference is kept as it is.
fn substitute<'a>(value: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let inner = after[..close].trim();
        match inner.strip_prefix("RUNPOD_SECRET_") {
            Some(name) if runpod::types::secrets::name_problem(name).is_none() => {
                out.push_str(lookup(name).ok_or_else(|| name.to_owned())?);
            }
            _ => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn references_are_replaced_and_other_text_is_kept() {
        let look = |n: &str| (n == "tok").then_some("s3cr3t");
        assert_eq!(substitute("{{ RUNPOD_SECRET_tok }}", look).as_deref(), Ok("s3cr3t"));
        assert_eq!(substitute("a{{RUNPOD_SECRET_tok}}b", look).as_deref(), Ok("as3cr3tb"));
        assert_eq!(substitute("{{ other }} {{", look).as_deref(), Ok("{{ other }} {{"));
        assert_eq!(substitute("{{ RUNPOD_SECRET_nope }}", look), Err("nope".to_owned()));
    }
}
