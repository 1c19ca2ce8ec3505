//! The AWS APIs podwarden drives, and only those: EC2's instances and instance types
//! (`ec2.rs`), STS's caller identity (`sts.rs`, what a key check asks) and SSM's parameters
//! (`ssm.rs`, where AWS publishes its current GPU AMIs). A thin client rather than the official
//! SDK (`docs/dependencies.md`): the handful of calls are form posts answered in XML (EC2, STS)
//! or JSON (SSM), signed with SigV4 by `aws-sigv4` and sent by the project's own reqwest.
//!
//! Endpoints follow the SDKs' convention, so one binary talks to AWS or to a stand-in (moto)
//! unchanged: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else
//! `https://<service>.<region>.amazonaws.com`. Credentials come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) or are given (a user's own
//! key); the secret never appears in `Debug`, errors or logs.
//!
//! Errors keep AWS's code (`InsufficientInstanceCapacity`, `VcpuLimitExceeded`, …) so callers
//! decide on the code, never on the message.

mod client;
pub mod ec2;
mod role;
mod sign;
pub mod ssm;
pub mod sts;
mod xml;

pub use client::{Client, ClientBuilder, Credentials, Service, env_region};
pub use xml::Items;

/// What a call to AWS can end in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// AWS answered with an error: its code (`InvalidInstanceID.NotFound`, …), message and HTTP
    /// status.
    #[error("AWS {service} refused {action}: {code}: {message} (HTTP {status})")]
    Api { service: &'static str, action: String, code: String, message: String, status: u16 },
    /// The request never got an answer (connection, TLS, timeout).
    #[error("AWS {service} could not be reached: {source}")]
    Transport {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// An answer this client cannot read.
    #[error("AWS {service}'s answer to {action} is unreadable: {detail}")]
    Undecodable { service: &'static str, action: String, detail: String },
    /// The client is misconfigured (no region, no credentials, a bad endpoint URL).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// AWS's error code, when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// No capacity for this instance type in this place now: try another type or zone.
    pub fn is_capacity(&self) -> bool {
        matches!(
            self.code(),
            Some("InsufficientInstanceCapacity" | "InsufficientHostCapacity" | "Unsupported")
        )
    }

    /// An account quota stands in the way (vCPUs of a family, instances).
    pub fn is_quota(&self) -> bool {
        matches!(
            self.code(),
            Some("VcpuLimitExceeded" | "InstanceLimitExceeded" | "MaxSpotInstanceCountExceeded")
        )
    }

    /// The credentials are refused (unknown key, bad signature, expired token, no permission).
    pub fn is_auth(&self) -> bool {
        matches!(
            self.code(),
            Some(
                "AuthFailure"
                    | "UnauthorizedOperation"
                    | "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "AccessDenied"
                    | "AccessDeniedException"
                    | "UnrecognizedClientException"
            )
        )
    }

    /// The named thing does not exist (an instance, a parameter).
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|c| c.ends_with(".NotFound") || c == "ParameterNotFound")
    }
}

/// A result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
