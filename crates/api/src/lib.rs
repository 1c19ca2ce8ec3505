//! podwarden's REST API (`/api/v1`) as Rust: the wire types (`types`) the server answers with
//! and a typed client (`Client`) the CLI, the tests and the benchmarks call it through.
//!
//! Owns: the shape of the API. Must not: depend on the server, the engine or the store (a
//! client links this crate alone), or build paths anywhere but in `Client`.

pub mod client;
pub mod tabular;
pub mod types;

pub use client::{Client, Error};
/// The boot the server's estimates assume (ms), billed like the run.
pub use podwarden_core::estimate::TYPICAL_BOOT_MS;
/// How far ahead the server's budget enforcement looks (a budget worth less than this much of
/// its GPU stops at once).
pub use podwarden_core::limits::BUDGET_LOOKAHEAD_MS;

/// Bytes in one part of a file streamed through `/api/v1/volumes/{name}/files/{path}` (and of
/// a multipart upload behind it).
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// S3's most parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;

/// The part size for an upload of `size` bytes: `PART_BYTES`, grown in whole MiB for files over
/// ~80 GB so the upload stays within S3's 10,000 parts.
pub fn part_bytes_for(size: u64) -> usize {
    const MIB: u64 = 1024 * 1024;
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    needed.max(PART_BYTES as u64) as usize
}

/// Parts of one transfer in flight at once (memory per transfer: `PART_BYTES × PARTS_IN_FLIGHT`).
pub const PARTS_IN_FLIGHT: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_past_80_gb_and_never_exceed_10000() {
        assert_eq!(part_bytes_for(0), PART_BYTES);
        assert_eq!(part_bytes_for(10_000 * PART_BYTES as u64), PART_BYTES, "80 GiB - a little");
        for gb in [81u64, 200, 1000, 4900] {
            let size = gb * 1024 * 1024 * 1024;
            let p = part_bytes_for(size) as u64;
            assert!(size.div_ceil(p) <= MAX_PARTS && p > PART_BYTES as u64, "{gb} GB: {p}");
            assert_eq!(p % (1024 * 1024), 0);
        }
    }
}
