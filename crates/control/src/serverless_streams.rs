//! Serverless stream followers: one per running serverless job of an account this replica
//! reconciles.
//!
//! Owns: reading `/stream/{job}` while a job runs, and so its `chunk` events until it ends (the
//! reconciler reads the last chunks of an ended job). RunPod may hold a `/stream` call until a
//! chunk comes or a timeout passes (its JS SDK polls without pause and relies on that; its Go
//! SDK asks `?wait=90000`), which a reconcile pass must never wait on; or it may answer at once,
//! and then the follower paces itself as RunPod's Python SDK does (a read a second).
//!
//! Invariants: at most one follower per job; a chunk is recorded once (RunPod hands each out
//! once); a follower stops when its job is no longer running or at shutdown, and backs off on
//! errors (RunPod's `Retry-After` first).

use crate::Control;
use crate::accounts::engine_for;
use podwarden_core::ServerlessJobId;
use podwarden_core::state::ServerlessJobState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause after a read that brought nothing (RunPod answered at once: no hold).
const EMPTY_READ_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause after failed reads in a row.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The running followers, by serverless job id.
#[derive(Debug, Default)]
pub struct StreamFollowers {
    live: std::sync::Mutex<HashMap<ServerlessJobId, CancellationToken>>,
}

/// Starts a follower for every running serverless job and stops those whose job is not.
pub async fn sync(s: &Arc<Control>, tracker: &TaskTracker, shutdown: &CancellationToken) {
    let rows = match s.engine.store().serverless_jobs_live().await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::debug!(error = %e, "cannot list live serverless jobs for their streams");
            return;
        }
    };
    let targets: Vec<(ServerlessJobId, podwarden_core::Account)> = rows
        .into_iter()
        .filter(|r| r.state == ServerlessJobState::Running && r.provider_job_id.is_some())
        // With replicas, the one reconciling the account follows its jobs.
        .filter(|r| s.replicas.as_ref().is_none_or(|rep| rep.holds(&r.account)))
        .map(|r| (r.id, r.account))
        .collect();
    let mut followers =
        s.stream_followers.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    followers.retain(|job, cancel| {
        let keep = targets.iter().any(|(t, _)| t == job);
        if !keep {
            cancel.cancel();
        }
        keep
    });
    for (job, account) in targets {
        if followers.contains_key(&job) {
            continue;
        }
        let cancel = shutdown.child_token();
        followers.insert(job, cancel.clone());
        tracker.spawn(follow(s.clone(), job, account, cancel));
    }
}

async fn follow(
    s: Arc<Control>,
    job: ServerlessJobId,
    account: podwarden_core::Account,
    cancel: CancellationToken,
) {
    let mut failures: u32 = 0;
    while !cancel.is_cancelled() {
        let read = async {
            let engine = engine_for(&s, &account).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            anyhow::Ok(engine.follow_stream(job).await?)
        };
        let pause = tokio::select! {
            r = read => match r {
                Ok(0) => {
                    failures = 0;
                    EMPTY_READ_PAUSE
                }
                Ok(_) => {
                    failures = 0;
                    Duration::ZERO
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::debug!(%job, error = %e, "serverless stream not read; backing off");
                    backoff(failures, retry_after(&e))
                }
            },
            () = cancel.cancelled() => return,
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// RunPod's `Retry-After` of a rate-limited read, if it sent one.
fn retry_after(e: &anyhow::Error) -> Option<Duration> {
    match e.downcast_ref::<podwarden_engine::EngineError>() {
        Some(podwarden_engine::EngineError::Provider(
            podwarden_engine::provider::ProviderError::RateLimited { retry_after_secs, .. },
        )) => retry_after_secs.map(Duration::from_secs),
        _ => None,
    }
}

/// 1 s doubling with each failure in a row, up to a minute; never under `Retry-After`.
fn backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    let b =
        EMPTY_READ_PAUSE.saturating_mul(1 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF);
    retry_after.map_or(b, |r| r.max(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_to_a_minute_and_never_under_retry_after() {
        assert_eq!(backoff(1, None), Duration::from_secs(1));
        assert_eq!(backoff(3, None), Duration::from_secs(4));
        assert_eq!(backoff(30, None), MAX_BACKOFF);
        assert_eq!(backoff(1, Some(Duration::from_secs(9))), Duration::from_secs(9));
    }
}
