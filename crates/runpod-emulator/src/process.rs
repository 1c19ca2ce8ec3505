//! Local processes standing in for containers: pods' commands and serverless workers.
//!
//! Each runs as `sh -c COMMAND` in its own process group (so a kill takes the whole tree),
//! with stdout and stderr streamed line by line into the owner's log buffer. Every task is
//! tracked, and shutdown kills every group it started.

use crate::Shared;
use crate::world::{Owner, SpawnSpec};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Environment variables never passed from the emulator's own environment into a container
/// (the operator's keys must not leak into user code).
fn inheritable(name: &str) -> bool {
    !(name.starts_with("RUNPOD_")
        || name.starts_with("PODWARDEN_")
        || name.ends_with("_API_KEY")
        || name.ends_with("_TOKEN")
        || name.ends_with("_SECRET"))
}

/// Starts, watches and kills processes.
#[derive(Debug)]
pub struct Runner {
    groups: Arc<Mutex<HashMap<(Owner, u64), i32>>>,
    pub(crate) tracker: TaskTracker,
    pub(crate) cancel: CancellationToken,
}

impl Runner {
    pub(crate) fn new(tracker: TaskTracker, cancel: CancellationToken) -> Self {
        Self { groups: Arc::new(Mutex::new(HashMap::new())), tracker, cancel }
    }

    /// Number of live process groups.
    pub fn live(&self) -> usize {
        self.groups.lock().len()
    }

    pub(crate) fn spawn(&self, shared: &Arc<Shared>, spec: SpawnSpec) {
        let SpawnSpec { owner, generation, command, env, cwd, logs } = spec;
        let clock = shared.clock.clone();
        if let Err(e) = std::fs::create_dir_all(&cwd) {
            logs.push(clock.now(), "system", format!("cannot create working directory {}: {e}", cwd.display()));
        }
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&command)
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd.env_clear();
        cmd.envs(std::env::vars().filter(|(k, _)| inheritable(k)));
        cmd.envs(env);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                logs.push(clock.now(), "system", format!("failed to start container command: {e}"));
                let s = shared.clone();
                self.tracker.spawn(async move { s.process_exited(owner, generation, Some(127)) });
                return;
            }
        };
        let Some(pid) = child.id() else { return };
        self.groups.lock().insert((owner.clone(), generation), pid as i32);
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn AsyncRead + Unpin + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (logs, clock) = (logs.clone(), clock.clone());
            self.tracker.spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.push(clock.now(), "container", line);
                }
            });
        }
        let (s, cancel) = (shared.clone(), self.cancel.clone());
        self.tracker.spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s.ok(),
                () = cancel.cancelled() => {
                    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
                    child.wait().await.ok()
                }
            };
            s.runner.groups.lock().remove(&(owner.clone(), generation));
            s.process_exited(owner, generation, status.and_then(|st| st.code()));
        });
    }

    /// SIGTERM now, SIGKILL after `grace_ms` (at once when 0). Kills the whole group.
    pub(crate) fn kill(&self, owner: Owner, generation: u64, grace_ms: u64) {
        let Some(pgid) = self.groups.lock().get(&(owner.clone(), generation)).copied() else { return };
        let pg = Pid::from_raw(pgid);
        if grace_ms == 0 {
            let _ = killpg(pg, Signal::SIGKILL);
            return;
        }
        let _ = killpg(pg, Signal::SIGTERM);
        let (cancel, groups, key) = (self.cancel.clone(), self.groups.clone(), (owner, generation));
        self.tracker.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(grace_ms)) => {}
                () = cancel.cancelled() => {}
            }
            // Only if the same group is still ours: a pid may have been reused since.
            if groups.lock().get(&key) == Some(&pgid) {
                let _ = killpg(pg, Signal::SIGKILL);
            }
        });
    }

    /// Kills every group (shutdown).
    pub(crate) fn kill_all(&self) {
        for pgid in self.groups.lock().values() {
            let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
        }
    }
}
