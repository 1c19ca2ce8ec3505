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
//! - `aws`: moto, and a stand in front of it that boots EC2 instances in the emulator's sandbox;
//! - [`ssh_keygen`]: a key pair for the tests that log in to pods with OpenSSH's client.
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

/// A fresh ed25519 key pair at `path` (and `path.pub`), no passphrase, by OpenSSH's
/// `ssh-keygen` (`scripts/test` installs it).
pub fn ssh_keygen(path: &std::path::Path) {
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs (Debian: openssh-client)");
    assert!(ok.success(), "ssh-keygen failed for {}", path.display());
}
