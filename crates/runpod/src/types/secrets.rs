//! REST v2 account secrets: `/v2/account/secrets` (RunPod's docs, `api-reference-v2/account/
//! {list-secrets,create-a-secret,get-a-secret,update-a-secret,delete-a-secret}`, September 2026;
//! not in the pinned spec). Create answers 201, or 409 for a name already taken. A secret's value
//! is write-only: no answer ever carries it. Pods, endpoints and templates reference one from an
//! env value as `{{ RUNPOD_SECRET_<name> }}`, substituted when the container boots.

use serde::{Deserialize, Serialize};

/// The longest secret name RunPod accepts.
pub const MAX_NAME_LEN: usize = 191;
/// The longest value RunPod accepts (16 MiB).
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// The longest description RunPod accepts.
pub const MAX_DESCRIPTION_CHARS: usize = 65_535;

/// Why `name` is not a secret name RunPod accepts (`^[a-zA-Z_][a-zA-Z0-9_.\-/]*$`, at most
/// 191 characters, not starting with `RUNPOD` in any case), or `None` when it is one.
pub fn name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if name.len() > MAX_NAME_LEN {
        Some(format!("must be at most {MAX_NAME_LEN} characters, but got {}", name.len()))
    } else if !first_ok || !rest_ok {
        Some(r"must match ^[a-zA-Z_][a-zA-Z0-9_.\-/]*$".into())
    } else if name.len() >= 6 && name[..6].eq_ignore_ascii_case("runpod") {
        Some("must not start with RUNPOD".into())
    } else {
        None
    }
}

/// The env value that references secret `name`.
pub fn reference(name: &str) -> String {
    format!("{{{{ RUNPOD_SECRET_{name} }}}}")
}

/// `POST /v2/account/secrets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecretRequest {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A secret's metadata (never its value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the value was last set (created or rotated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_last_updated_at: Option<String>,
}

/// `GET /v2/account/secrets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListSecretsResponse {
    #[serde(default)]
    pub secrets: Vec<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<super::pagination::Pagination>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_runpods_pattern() {
        assert_eq!(name_problem("pw-abc-tok-0123"), None);
        assert_eq!(name_problem("_a.b/c-d"), None);
        assert!(name_problem("1abc").is_some(), "a digit first");
        assert!(name_problem("a b").is_some(), "a space");
        assert!(name_problem("").is_some(), "empty");
        assert!(name_problem("RunPod_x").is_some(), "the reserved prefix, any case");
        assert!(name_problem(&"a".repeat(192)).is_some(), "too long");
        assert_eq!(name_problem(&"a".repeat(191)), None);
        assert_eq!(reference("x"), "{{ RUNPOD_SECRET_x }}");
    }
}
