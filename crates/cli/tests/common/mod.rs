//! Running the `podwarden` binary as a user does, with its own data directory. (Not in
//! `podwarden-test-utils`: the binary's path, `CARGO_BIN_EXE_podwarden`, is known only to
//! this crate's tests, and each test file uses a part of this.)

#![allow(dead_code)]

pub mod fleet;

/// A port nothing listens on now (for a server the test restarts on the same port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

use std::path::Path;
use std::process::{Command, Output};

pub fn podwarden(home: &Path, args: &[&str]) -> Output {
    podwarden_env(home, args, &[])
}

/// `podwarden` with `env` set besides (a background server it starts inherits it).
pub fn podwarden_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("PODWARDEN_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .output()
        .expect("podwarden runs")
}

/// Stops the background server the CLI started.
/// A child process killed (SIGKILL) and reaped when dropped: a test that fails part-way leaves
/// no `podwarden serve` running to trouble the tests after it.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

pub struct Server<'a>(pub &'a Path);

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if let Ok(b) = std::fs::read(self.0.join("server.json")) {
            if let Some(pid) =
                serde_json::from_slice::<serde_json::Value>(&b).ok().and_then(|v| v["pid"].as_i64())
            {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

/// Pids of processes whose command line holds `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Polls `f` every 20 ms until it holds (processes live outside anything the test can wait
/// on); fails after 60 s.
pub fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
