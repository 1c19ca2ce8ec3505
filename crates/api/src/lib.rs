//! podwarden's REST API (`/api/v1`) as Rust: the wire types (`types`) the server answers with
//! and a typed client (`Client`) the CLI, the tests and the benchmarks call it through.
//!
//! Owns: the shape of the API. Must not: depend on the server, the engine or the store (a
//! client links this crate alone), or build paths anywhere but in `Client`.

pub mod client;
pub mod types;

pub use client::{Client, Error};

/// Bytes in one part of a file streamed through `/api/v1/volumes/{name}/files/{path}` (and of
/// a multipart upload behind it).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// Parts of one transfer in flight at once (memory per transfer: `PART_BYTES × PARTS_IN_FLIGHT`).
pub const PARTS_IN_FLIGHT: usize = 4;
