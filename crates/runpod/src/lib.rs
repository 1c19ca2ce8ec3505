//! RunPod's public contract as Rust types, and an async client for it.
//!
//! Four surfaces, one crate: REST v2 (`https://api.runpod.io/v2/...`), the serverless job API
//! (`https://api.runpod.ai/v2/{endpoint}/...`), the worker callback API a serverless container
//! speaks, and the GraphQL subset still needed for the account balance. The types are shared
//! with `runpod-emulator`, which serves the same contract locally.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use runpod::{Client, types::pods::CreatePodRequest};
//! // RUNPOD_API_KEY, RUNPOD_REST_URL and RUNPOD_ENDPOINT_BASE_URL, as RunPod's SDK reads them.
//! let client = Client::from_env()?;
//! for pod in client.list_pods().await? {
//!     println!("{} {} ${}/h", pod.id, pod.status, pod.cost);
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are typed ([`ErrorKind`]) and keep RunPod's body; retries happen only where they are
//! safe (see [`RetryPolicy`]); the key is an [`ApiKey`] that never prints.
//!
//! Must not: know podwarden (no jobs, no users), or retry a call that is not safe to repeat.

pub mod client;
pub mod ids;
pub mod key;
pub mod types;

pub use client::{Client, ClientBuilder, ConfigError, Error, ErrorKind, RetryPolicy};
pub use ids::*;
pub use key::ApiKey;
