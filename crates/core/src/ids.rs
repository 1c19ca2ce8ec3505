//! Typed, time-sortable ids (UUID v7) and the deterministic provider names derived from them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! v7_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id; ids created later sort later.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// The 32 hex digits without prefix.
            pub fn hex(&self) -> String {
                self.0.simple().to_string()
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "_{}"), self.0.simple())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            /// Only the form `Display` writes (`job_` and 32 lowercase hex digits): an id has one
            /// spelling, so the API answers only to ids it issued and a stored id matches its row.
            fn from_str(s: &str) -> Result<Self, IdError> {
                s.strip_prefix(concat!($prefix, "_"))
                    .filter(|hex| canonical_hex(hex))
                    .and_then(|hex| Uuid::try_parse(hex).ok())
                    .map(Self)
                    .ok_or_else(|| IdError { kind: stringify!($name), value: s.to_owned() })
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

/// 32 lowercase hex digits: the one spelling of an id's UUID.
fn canonical_hex(hex: &str) -> bool {
    hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

v7_id!(/// A job: what the user asked for.
    JobId, "job");
v7_id!(/// An attempt: one provider resource (pod) for a job.
    AttemptId, "att");
v7_id!(/// A serverless job (a request to an endpoint).
    ServerlessJobId, "req");
v7_id!(/// A deployed serverless endpoint (its template and endpoint at the provider).
    EndpointRecordId, "ep");
v7_id!(/// A network volume made through podwarden.
    VolumeRecordId, "vol");

/// A user-facing id of work: a pod job (`job_…`) or a serverless job (`req_…`). The API's
/// events and cost, and the CLI's `stop` and `logs`, take either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WorkId {
    Job(JobId),
    ServerlessJob(ServerlessJobId),
}

impl FromStr for WorkId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.starts_with("req_") {
            return s.parse().map(Self::ServerlessJob);
        }
        s.parse().map(Self::Job).map_err(|_| IdError { kind: "job id", value: s.to_owned() })
    }
}

impl TryFrom<String> for WorkId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<WorkId> for String {
    fn from(id: WorkId) -> String {
        id.to_string()
    }
}

impl From<JobId> for WorkId {
    fn from(id: JobId) -> Self {
        Self::Job(id)
    }
}

impl From<ServerlessJobId> for WorkId {
    fn from(id: ServerlessJobId) -> Self {
        Self::ServerlessJob(id)
    }
}

impl fmt::Display for WorkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Job(id) => id.fmt(f),
            Self::ServerlessJob(id) => id.fmt(f),
        }
    }
}

/// An id that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} (expected e.g. job_0193...)")]
pub struct IdError {
    kind: &'static str,
    value: String,
}

/// Prefix of every provider resource podwarden creates. Resources without it are never
/// touched by reconciliation.
pub const NAME_PREFIX: &str = "pw-";

/// The deterministic provider name of an attempt's pod: `pw-<install>-<attempt>`. It carries
/// its owner, so after a crash the pod can be found and tied back to its row.
pub fn pod_name(install: &str, attempt: AttemptId) -> String {
    format!("{NAME_PREFIX}{install}-{}", attempt.hex())
}

/// Where the other pods of the account's global network reach a RunPod pod: REST v2's
/// `globalNetworking.internalDns`, documented as `<podId>.runpod.internal`.
pub fn runpod_internal_dns(pod_id: &str) -> String {
    format!("{pod_id}.runpod.internal")
}

/// The attempt a provider name belongs to, when it is one of this install's names.
pub fn parse_pod_name(install: &str, name: &str) -> Option<AttemptId> {
    let rest = name.strip_prefix(NAME_PREFIX)?.strip_prefix(install)?.strip_prefix('-')?;
    Uuid::try_parse(rest).ok().map(AttemptId)
}

/// The provider secret holding a job's callback token: `pw-<install>-tok-<job>`.
pub fn token_secret_name(install: &str, job: JobId) -> String {
    format!("{NAME_PREFIX}{install}-tok-{}", job.hex())
}

/// The job a provider secret name belongs to, when it is one of this install's names.
pub fn parse_token_secret_name(install: &str, name: &str) -> Option<JobId> {
    let rest = name.strip_prefix(NAME_PREFIX)?.strip_prefix(install)?.strip_prefix("-tok-")?;
    Uuid::try_parse(rest).ok().map(JobId)
}

/// The deterministic provider name of an endpoint: `pw-<install>-ep-<id>` (its template is
/// the same name with `-tpl`).
pub fn endpoint_name(install: &str, id: EndpointRecordId) -> String {
    format!("{NAME_PREFIX}{install}-ep-{}", id.hex())
}

/// The template name of an endpoint name.
pub fn template_name(endpoint_name: &str) -> String {
    format!("{endpoint_name}-tpl")
}

/// The endpoint record a provider endpoint or template name belongs to, when it is one of this
/// install's names.
pub fn parse_endpoint_name(install: &str, name: &str) -> Option<EndpointRecordId> {
    let rest = name.strip_prefix(NAME_PREFIX)?.strip_prefix(install)?.strip_prefix("-ep-")?;
    let rest = rest.strip_suffix("-tpl").unwrap_or(rest);
    Uuid::try_parse(rest).ok().map(EndpointRecordId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_work_id_is_a_job_or_a_serverless_job_by_its_prefix() {
        let j = JobId::new();
        let r = ServerlessJobId::new();
        assert_eq!(j.to_string().parse::<WorkId>(), Ok(WorkId::Job(j)));
        assert_eq!(r.to_string().parse::<WorkId>(), Ok(WorkId::ServerlessJob(r)));
        assert_eq!(WorkId::ServerlessJob(r).to_string(), r.to_string());
        assert!("req_nothex".parse::<WorkId>().is_err());
        assert!("job_nothex".parse::<WorkId>().is_err());
    }

    #[test]
    fn a_token_secret_name_is_runpods_kind_and_names_its_job_and_install() {
        let j = JobId::new();
        let name = token_secret_name("inst1", j);
        assert_eq!(parse_token_secret_name("inst1", &name), Some(j));
        assert_eq!(parse_token_secret_name("other", &name), None);
        assert_eq!(parse_token_secret_name("inst1", &pod_name("inst1", AttemptId::new())), None);
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn an_id_has_one_spelling() {
        let a = JobId::new();
        let hex = a.hex();
        for other in [
            hex.clone(),
            format!("job_{}", a.0.hyphenated()),
            format!("job_{}", hex.to_uppercase()),
            format!("job_{{{hex}}}"),
            format!("job_urn:uuid:{}", a.0.hyphenated()),
            format!("req_{hex}"),
            format!("job_{hex}0"),
        ] {
            assert!(other.parse::<JobId>().is_err(), "{other} is not how a job id is written");
        }
        assert_eq!(format!("job_{hex}").parse::<JobId>(), Ok(a));
        assert!(hex.parse::<WorkId>().is_err(), "a bare UUID names no work");
    }

    #[test]
    fn ids_sort_by_creation_and_round_trip() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<JobId>(), Ok(a));
        assert!(a.to_string().starts_with("job_"));
        assert!("nope".parse::<JobId>().is_err());
        let json = serde_json::to_string(&a).expect("json");
        assert_eq!(serde_json::from_str::<JobId>(&json).expect("back"), a);
    }

    #[test]
    fn pod_names_carry_their_owner_and_only_ours_parse() {
        let att = AttemptId::new();
        let name = pod_name("a1b2c3", att);
        assert_eq!(parse_pod_name("a1b2c3", &name), Some(att));
        assert_eq!(parse_pod_name("other1", &name), None, "another install's pod is not ours");
        assert_eq!(parse_pod_name("a1b2c3", "my training pod"), None);
        assert!(name.len() < 64);
    }

    #[test]
    fn endpoint_names_carry_their_owner_and_differ_from_pod_names() {
        let id = EndpointRecordId::new();
        let name = endpoint_name("a1b2c3", id);
        assert_eq!(parse_endpoint_name("a1b2c3", &name), Some(id));
        assert_eq!(parse_endpoint_name("a1b2c3", &template_name(&name)), Some(id));
        assert_eq!(parse_endpoint_name("zzz999", &name), None);
        assert_eq!(parse_pod_name("a1b2c3", &name), None, "an endpoint name is not a pod name");
        assert_eq!(parse_endpoint_name("a1b2c3", &pod_name("a1b2c3", AttemptId::new())), None);
        assert!(template_name(&name).len() < 64);
    }
}
