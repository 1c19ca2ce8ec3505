//! Pod log collection: one follower per live attempt that has a pod.
//!
//! Owns: the `job_logs` rows (a job's pod output, kept after teardown and bounded per job) and
//! the exit the wrapper prints (`podwarden-exit: job=… code=…`). A follower streams its pod's
//! logs from where the stored ones end, stores each batch, and when the exit line appears
//! records the exit exactly as the pod's callback would — so a job ends with its true outcome
//! even when the callback cannot reach this server (no public URL, a firewall), as fast as
//! the log stream carries the line. A line of the host's saying the image cannot be pulled or
//! its container cannot start, for good, ends the attempt at the next pass instead of at the
//! boot timeout (the pod bills while RunPod retries the pull or the start). A follower whose
//! stream ends or fails reopens it after a pause (RunPod's `Retry-After`, else a backoff); it
//! stops when its attempt leaves the live set (torn down) or at shutdown. While the pod boots,
//! its host's lines ("pulling image …") become the job's reason and events, so a pod stuck
//! booting says why. A container whose first lines are not the wrapper's start line
//! (`podwarden-start:`) is told to the engine, which gives the job up if the wrapper never
//! starts: its image's entrypoint ignores the arguments podwarden gives it.
//!
//! Invariants: at most one follower per attempt; a resume never stores a line twice (the
//! stream's event ids are its resume points); the exit is recorded once (the engine keeps the
//! first of callback and log line); an exit line that was stored is acted on, also when the
//! follower that stored it died first (its successor looks among the stored lines).

use crate::Control;
use crate::accounts::engine_for;
use futures::StreamExt;
use podwarden_core::state::AttemptState;
use podwarden_core::{AttemptId, JobId};
use podwarden_engine::provider::{PodLogQuery, Provider, ProviderError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause before a follower reopens a stream that ended or failed.
const REOPEN_AFTER: Duration = Duration::from_secs(2);
/// The longest pause between reopenings of a stream that keeps failing.
const MAX_REOPEN: Duration = Duration::from_secs(60);
/// Lines of history a follower asks for when it starts with nothing stored.
const FIRST_TAIL: u32 = 5_000;

/// The running followers, by attempt id.
#[derive(Debug, Default)]
pub struct Followers {
    live: std::sync::Mutex<HashMap<AttemptId, CancellationToken>>,
}

/// One attempt to follow.
struct Target {
    attempt: AttemptId,
    job: JobId,
    pod: String,
    account: podwarden_core::Account,
}

/// Starts a follower for every live attempt with a pod and stops those whose attempt is gone.
pub fn sync(s: &Arc<Control>, tracker: &TaskTracker, shutdown: &CancellationToken) {
    let targets: Vec<Target> = {
        let live = s.engine.store().live();
        live.attempts()
            .filter(|a| matches!(a.state, AttemptState::Created | AttemptState::Running))
            .filter_map(|a| {
                let job = live.job(a.job_id)?;
                Some(Target {
                    attempt: a.id,
                    job: a.job_id,
                    pod: a.pod_id.clone()?,
                    account: job.account.clone(),
                })
            })
            // With replicas, the one reconciling the account follows its pods.
            .filter(|t| s.replicas.as_ref().is_none_or(|r| r.holds(&t.account)))
            .collect()
    };
    let mut followers = s.followers.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    followers.retain(|attempt, cancel| {
        let keep = targets.iter().any(|t| &t.attempt == attempt);
        if !keep {
            cancel.cancel();
        }
        keep
    });
    for t in targets {
        if followers.contains_key(&t.attempt) {
            continue;
        }
        let cancel = shutdown.child_token();
        followers.insert(t.attempt, cancel.clone());
        tracker.spawn(follow(s.clone(), t, cancel));
    }
}

async fn follow(s: Arc<Control>, t: Target, cancel: CancellationToken) {
    // This attempt's own resume point: a relaunched job's new pod has a stream of its own.
    let mut after = s.engine.store().job_logs_last_at(t.job, t.attempt).await.ok().flatten();
    // A predecessor (a crashed server, a replica that lost the account) may have stored the
    // exit line and died before acting on it: the stream resumes after it, so it is looked for
    // among the stored lines until acted on (the engine keeps the first exit).
    let mut resumed = after.is_some();
    // Whether the wrapper starts is judged only from a container read from its first line: an
    // attempt this engine launched, still booting, nothing stored yet (and the stream must
    // begin with the host's lines, below).
    let judging = match engine_for(&s, &t.account).await {
        Ok(engine) if after.is_none() => {
            engine.judges_wrapper_start(t.attempt)
                && s.engine
                    .store()
                    .live()
                    .attempt(t.attempt)
                    .is_some_and(|a| a.state == AttemptState::Created)
        }
        _ => false,
    };
    let mut wrapper = WrapperWatch { judging, read_any: false, started: false, told: false };
    let mut failures = 0;
    while !cancel.is_cancelled() {
        if resumed {
            match exit_already_stored(&s, &t).await {
                Ok(()) => resumed = false,
                Err(e) => tracing::debug!(job = %t.job, error = %e, "cannot check stored logs"),
            }
        }
        let before = after.clone();
        let retry_after = match follow_once(&s, &t, &mut after, &mut wrapper, &cancel).await {
            Ok(()) => None,
            Err(e) => {
                tracing::debug!(job = %t.job, error = %e, "pod log stream ended; reopening");
                match e.downcast_ref::<ProviderError>() {
                    Some(ProviderError::RateLimited { retry_after_secs, .. }) => {
                        retry_after_secs.map(Duration::from_secs)
                    }
                    _ => None,
                }
            }
        };
        // A stream that carried lines was healthy: start the backoff over.
        failures = if after != before { 0 } else { failures + 1 };
        tokio::select! {
            () = tokio::time::sleep(reopen_delay(failures, retry_after)) => {}
            () = cancel.cancelled() => {}
        }
    }
    // Torn down, or followed elsewhere now (a replica took the account): what this follower
    // told of the wrapper must not outlive it (a stale entry would end a running job later).
    if wrapper.told {
        if let Ok(engine) = engine_for(&s, &t.account).await {
            engine.wrapper_started(t.attempt);
        }
    }
}

/// Acts on an exit line of this attempt's already stored.
async fn exit_already_stored(s: &Arc<Control>, t: &Target) -> anyhow::Result<()> {
    let needle = format!("{} job={} code=", podwarden_engine::wrapper::EXIT_MARKER, t.job);
    let lines = s.engine.store().job_logs_containing(t.job, t.attempt, &needle, 1).await?;
    match lines
        .iter()
        .find_map(|l| podwarden_engine::wrapper::parse_exit_line(l, &t.job.to_string()))
    {
        Some(code) => record_exit(s, t, code).await,
        None => Ok(()),
    }
}

/// Records the exit the pod's log carried, as its callback would, and wakes the account's
/// reconciler to tear down.
async fn record_exit(s: &Arc<Control>, t: &Target, code: i32) -> anyhow::Result<()> {
    let engine = engine_for(s, &t.account).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    engine.exit_seen_in_logs(t.job, t.attempt, i64::from(code)).await?;
    crate::driving::poke(s, &t.account);
    Ok(())
}

/// How long a follower waits before reopening: RunPod's `Retry-After` when it sent one (a
/// rate-limited account must not spend its budget on log streams), else 2 s doubling with each
/// stream in a row that brought nothing, up to a minute.
fn reopen_delay(failures: u32, retry_after: Option<Duration>) -> Duration {
    let backoff =
        REOPEN_AFTER.saturating_mul(1 << failures.saturating_sub(1).min(5)).min(MAX_REOPEN);
    retry_after.map_or(backoff, |r| r.max(backoff))
}

/// What a follower has seen of its pod's wrapper starting. Updated only once the engine was
/// told (a batch that fails is read again, and its start line must then be told again).
struct WrapperWatch {
    /// It reads the container from its first line, so a line before the start line means the
    /// wrapper was not first (`Engine::container_printed_before_wrapper`). Dropped when the
    /// stream's first line is the container's, not the host's: a tail that was cut.
    judging: bool,
    /// A line was read.
    read_any: bool,
    /// The wrapper's start (or exit) line was read and told.
    started: bool,
    /// The engine was told of a container line before it.
    told: bool,
}

/// One stream: from `after` until it ends, fails or the follower is cancelled.
async fn follow_once(
    s: &Arc<Control>,
    t: &Target,
    after: &mut Option<String>,
    wrapper: &mut WrapperWatch,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let q = PodLogQuery { tail: after.is_none().then_some(FIRST_TAIL), after: after.clone() };
    let stream = {
        let engine = engine_for(s, &t.account).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        engine.provider().pod_logs(&t.pod, q).await?
    };
    let mut batches = Box::pin(stream.ready_chunks(256));
    loop {
        let batch = tokio::select! {
            b = batches.next() => b,
            () = cancel.cancelled() => return Ok(()),
        };
        let Some(batch) = batch else { return Ok(()) };
        let mut rows = Vec::with_capacity(batch.len());
        let mut exit = None;
        let mut boot_failed = None;
        // The host's latest word only: one write per batch keeps the follower up with its pod
        // (a write per line made it fall behind, and a fast job's own lines were never read).
        let mut boot_line = None;
        // A line of the container's before the wrapper's start line, and whether that came.
        let (mut printed_first, mut started_now) = (None, false);
        let booting = s
            .engine
            .store()
            .live()
            .attempt(t.attempt)
            .is_some_and(|a| a.state == AttemptState::Created);
        // The lines read before a broken stream are handled like any others, and the resume
        // point moves only once they are stored: an exit line in a batch cut short is never
        // skipped (it was, and a job whose exit only the logs carry then ran until its limits).
        let mut broke = None;
        let mut last = None;
        let job = t.job.to_string();
        for line in batch {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    broke = Some(e);
                    break;
                }
            };
            if booting && line.source == "system" {
                boot_line = Some(line.line.clone());
            }
            if exit.is_none() {
                exit = podwarden_engine::wrapper::parse_exit_line(&line.line, &job);
            }
            if !wrapper.read_any {
                wrapper.read_any = true;
                // The host's lines (the pull, the start) come before the container's: a first
                // line of the container's means the tail began past its start.
                wrapper.judging &= line.source == "system";
            }
            if line.source != "system" && !wrapper.started && !started_now {
                // The exit line is the wrapper's too: it started.
                if podwarden_engine::wrapper::is_start_line(&line.line, &job) || exit.is_some() {
                    started_now = true;
                } else if wrapper.judging && !wrapper.told && printed_first.is_none() {
                    printed_first = Some(line.line.clone());
                }
            }
            if boot_failed.is_none() {
                boot_failed = podwarden_engine::jobs::boot_failure(&line.source, &line.line);
            }
            last = Some(line.id.clone());
            rows.push((line.id, line.source, line.line));
        }
        s.engine.store().job_logs_append(t.job, t.attempt, &rows).await?;
        if let Some(code) = exit {
            record_exit(s, t, code).await?;
        }
        // Most batches are the job's own output: nothing more for the engine.
        if boot_failed.is_some() || boot_line.is_some() || printed_first.is_some() || started_now {
            let engine = engine_for(s, &t.account).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            // In the order read: a banner before the start line is no harm.
            if let Some(line) = printed_first {
                engine.container_printed_before_wrapper(t.attempt, &line);
                wrapper.told = true;
            }
            if started_now {
                engine.wrapper_started(t.attempt);
                wrapper.started = true;
            }
            if let Some(reason) = boot_failed {
                engine.boot_failed(t.attempt, &reason);
                crate::driving::poke(s, &t.account);
            }
            // What the host says while booting is shown, not needed: a failure is logged.
            if let Some(line) = boot_line {
                if let Err(e) = engine.boot_line(t.job, t.attempt, &line).await {
                    tracing::debug!(job = %t.job, error = %e, "cannot record a boot line");
                }
            }
        }
        if last.is_some() {
            *after = last;
        }
        if let Some(e) = broke {
            return Err(e.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_stream_backs_off_and_retry_after_is_honoured() {
        let d = |f, r: Option<u64>| reopen_delay(f, r.map(Duration::from_secs)).as_secs();
        assert_eq!([d(0, None), d(1, None), d(2, None), d(3, None)], [2, 2, 4, 8]);
        assert_eq!(d(30, None), 60, "at most a minute");
        assert_eq!(d(1, Some(45)), 45, "RunPod's Retry-After wins over a shorter backoff");
        assert_eq!(d(7, Some(5)), 60, "and never shortens a longer one");
    }
}
