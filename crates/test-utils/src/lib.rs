//! What podwarden's integration tests share, in one place instead of a copy per crate:
//!
//! - `emulator`: an emulator on a manual clock whose every response is checked against RunPod's
//!   pinned spec when the test ends, a test worker, fixtures;
//! - `engine`: an engine on such an emulator, on its clock;
//! - `server`: a server on its embedded emulator (fast pods and ticks), and waits on jobs
//!   through the typed API client (long-polls, no sleeping);
//! - `log`: this process's log lines, to wait on;
//! - `telegram`: a fake of Telegram's Bot API for the bot's conversations;
//! - `bench`: rows the benchmarks seed their stores with;
//! - `aws`: moto, and a stand in front of it that boots EC2 instances in the emulator's sandbox.
//!
//! Tests only: nothing here is linked into a shipped binary.

pub mod aws;
pub mod bench;
pub mod emulator;
pub mod engine;
pub mod log;
pub mod server;
pub mod telegram;

/// A benchmark's size: `full`, or `smoke` when `BENCH_SMOKE` is set (`scripts/test` runs every
/// benchmark that way, so a change that breaks one fails CI; the figures come from full runs).
pub fn bench_size(full: usize, smoke: usize) -> usize {
    if bench_smoke() { smoke } else { full }
}

/// Whether benchmarks run at their smoke sizes (`BENCH_SMOKE=1`).
pub fn bench_smoke() -> bool {
    std::env::var_os("BENCH_SMOKE").is_some_and(|v| !v.is_empty() && v != "0")
}
