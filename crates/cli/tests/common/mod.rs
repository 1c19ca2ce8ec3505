//! Running the `podwarden` binary as a user does, with its own data directory.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn podwarden(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("PODWARDEN_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("PODWARDEN_URL")
        .output()
        .expect("podwarden runs")
}

/// Stops the background server the CLI started.
pub struct Server<'a>(pub &'a Path);

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if let Ok(b) = std::fs::read(self.0.join("server.json")) {
            if let Some(pid) = serde_json::from_slice::<serde_json::Value>(&b).ok().and_then(|v| v["pid"].as_i64()) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}
