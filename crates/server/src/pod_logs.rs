//! Pod log collection: one follower per live attempt that has a pod.
//!
//! Owns: the `job_logs` rows (a job's pod output, kept after teardown and bounded per job) and
//! the exit the wrapper prints (`podwarden-exit: job=… code=…`). A follower streams its pod's
//! logs from where the stored ones end, stores each batch, and when the exit line appears
//! records the exit exactly as the pod's callback would — so a job ends with its true outcome
//! even when the callback cannot reach this server (no public URL, a firewall), as fast as
//! the log stream carries the line. A follower whose stream ends or fails reopens it after a
//! pause; it stops when its attempt leaves the live set (torn down) or at shutdown.
//!
//! Invariants: at most one follower per attempt; a resume never stores a line twice (the
//! stream's event ids are its resume points); the exit is recorded once (the engine keeps the
//! first of callback and log line).

use crate::AppState;
use crate::accounts::{client_for, engine_for};
use futures::StreamExt;
use runpod::PodId;
use runpod::types::logs::LogsQuery;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause before a follower reopens a stream that ended or failed.
const REOPEN_AFTER: Duration = Duration::from_secs(2);
/// Lines of history a follower asks for when it starts with nothing stored.
const FIRST_TAIL: u32 = 5_000;

/// The running followers, by attempt id.
#[derive(Debug, Default)]
pub(crate) struct Followers {
    live: std::sync::Mutex<HashMap<String, CancellationToken>>,
}

/// One attempt to follow.
struct Target {
    attempt: String,
    job: String,
    pod: String,
    account: String,
}

/// Starts a follower for every live attempt with a pod and stops those whose attempt is gone.
pub(crate) fn sync(s: &Arc<AppState>, tracker: &TaskTracker, shutdown: &CancellationToken) {
    let targets: Vec<Target> = {
        let live = s.engine.store().live();
        live.attempts()
            .filter(|a| matches!(a.state.as_str(), "created" | "running"))
            .filter_map(|a| {
                let job = live.job(&a.job_id)?;
                Some(Target {
                    attempt: a.id.clone(),
                    job: a.job_id.clone(),
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
        followers.insert(t.attempt.clone(), cancel.clone());
        tracker.spawn(follow(s.clone(), t, cancel));
    }
}

async fn follow(s: Arc<AppState>, t: Target, cancel: CancellationToken) {
    let mut after = s.engine.store().job_logs_last_at(&t.job).await.ok().flatten();
    while !cancel.is_cancelled() {
        if let Err(e) = follow_once(&s, &t, &mut after, &cancel).await {
            tracing::debug!(job = %t.job, error = %e, "pod log stream ended; reopening");
        }
        tokio::select! {
            () = tokio::time::sleep(REOPEN_AFTER) => {}
            () = cancel.cancelled() => {}
        }
    }
}

/// One stream: from `after` until it ends, fails or the follower is cancelled.
async fn follow_once(
    s: &Arc<AppState>,
    t: &Target,
    after: &mut Option<String>,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let client = client_for(s, &t.account).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let q = LogsQuery {
        tail: after.is_none().then_some(FIRST_TAIL),
        last_event_id: after.clone(),
        ..LogsQuery::default()
    };
    let stream = client.pod_logs(&PodId::new(&t.pod), &q).await?;
    let mut batches = Box::pin(stream.ready_chunks(256));
    loop {
        let batch = tokio::select! {
            b = batches.next() => b,
            () = cancel.cancelled() => return Ok(()),
        };
        let Some(batch) = batch else { return Ok(()) };
        let mut rows = Vec::with_capacity(batch.len());
        let mut exit = None;
        for line in batch {
            let line = line?;
            if exit.is_none() {
                exit = engine::wrapper::parse_exit_line(&line.event.line, &t.job);
            }
            *after = Some(line.id.clone());
            rows.push((line.id, line.event.source, line.event.line));
        }
        s.engine.store().job_logs_append(&t.job, &rows).await?;
        if let Some(code) = exit {
            let engine = engine_for(s, &t.account).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            engine.exit_seen_in_logs(&t.job, i64::from(code)).await?;
            crate::driving::poke(s, &t.account);
        }
    }
}
