//! podwarden's domain, without I/O: typed ids, the job spec (TOML and JSON), the state machines of
//! jobs, attempts, endpoints and serverless jobs (one transition function each), money in
//! micro-dollars, GPU choice and the cost model. Everything here is pure and table-tested.
//!
//! Must not: do I/O, read the clock or the environment, or know about HTTP or the database.
//!
//! ```
//! use podwarden_core::spec::JobSpec;
//! let spec = JobSpec::from_toml("job.toml", r#"
//!     name = "hello"
//!     image = "python:3.11-slim"
//!     command = "python -c 'print(42)'"
//!     [gpu]
//!     min_vram_gb = 16
//!     [limits]
//!     budget_usd = 0.5
//! "#).expect("valid");
//! assert_eq!(spec.limits.boot_timeout.as_secs(), 600);
//! ```

pub mod account;
pub mod endpoint;
pub mod estimate;
pub mod events;
pub mod finetune;
pub mod gpu;
pub mod ids;
pub mod images;
pub mod learned;
pub mod limits;
pub mod metrics;
pub mod money;
pub mod serverless_job;
pub mod spec;
#[cfg(feature = "sqlx")]
mod sql;
pub mod state;

pub use account::{Account, ProviderKind};
pub use ids::{AttemptId, EndpointRecordId, JobId, ServerlessJobId, WorkId};
pub use money::Money;
