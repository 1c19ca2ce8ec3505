//! Why an engine call failed. The server maps each variant to an HTTP status and a hint;
//! converting an error logs nothing (the server logs each failed request once).

use crate::crash::CrashPoint;
use crate::provider::ProviderError;
use podwarden_core::money::Money;
use podwarden_store::StoreError;

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("job {0} not found")]
    NoSuchJob(String),
    #[error("the job token is not valid for job {0} (or the job ended more than 5 minutes ago)")]
    BadToken(String),
    #[error("no GPU offer matches the spec: {0}")]
    NoGpuFits(String),
    /// A `gpu.types` entry names nothing offered (with the closest names).
    #[error("{0}")]
    UnknownGpuType(String),
    #[error("{0}")]
    BadVolume(String),
    #[error("{job} cannot be {what}: {state}")]
    WrongState { job: String, what: &'static str, state: String },
    #[error("endpoint {0} not found")]
    NoSuchEndpoint(String),
    #[error("serverless job {0} not found")]
    NoSuchServerlessJob(String),
    #[error("endpoint {name} is not ready ({state})")]
    EndpointNotReady { name: String, state: String },
    #[error("the job input is {bytes} bytes; RunPod's limit for {route} is {limit} bytes")]
    PayloadTooLarge { bytes: usize, limit: usize, route: &'static str },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("point {index}: {error}")]
    BadMetrics { index: usize, error: podwarden_core::metrics::PointError },
    /// The owner's hosted spend cap has `left`, and the work needs more.
    #[error("your hosted spend cap of {cap} has {} left (spent or reserved by running work){}", (*left).max(Money::ZERO), needs.map(|n| format!("; this needs up to {n}")).unwrap_or_default())]
    SpendCapReached { cap: Money, left: Money, needs: Option<Money> },
    /// A row was asked to move along an edge its state machine does not have (a lost race:
    /// someone else moved it first).
    #[error("{what}: {error}")]
    Transition { what: String, error: podwarden_core::state::IllegalTransition },
    /// A test's injected crash (`crash::OnCrash::FailStep`); never seen in production.
    #[error("crash test: crashed at {0}")]
    Crashed(CrashPoint),
}
