//! Jobs that wait for capacity on one cloud and may run on another (`providers` in their
//! spec): each pass of the server's loop offers every such queued job to its owner's account
//! on each other cloud it allows, in the spec's order, and the first whose engine lists a GPU
//! for it takes it (`Engine::take_queued_job`, which holds the move's invariants).
//!
//! Owns: the choice of jobs and accounts. A job is offered only after its own account tried it
//! and queued it again (its next check is in the future), so a job just moved is first tried
//! where it went.

use crate::Control;
use crate::accounts::{engine_for, user_account};
use podwarden_core::JobId;
use podwarden_core::ProviderKind;
use podwarden_core::state::JobState;

/// Offers each queued multi-cloud job to its owner's accounts on its other clouds; returns
/// how many moved.
pub async fn rehome_queued(s: &Control) -> usize {
    let now = s.engine.now_ms();
    let waiting: Vec<(JobId, String, ProviderKind, Vec<ProviderKind>)> = s
        .engine
        .store()
        .live()
        .jobs()
        .filter(|j| j.state == JobState::Queued && j.next_attempt_at.is_some_and(|t| t > now))
        // Most specs name no `providers`: skip them without parsing.
        .filter(|j| j.spec.contains("\"providers\""))
        .filter_map(|j| {
            let spec = j.spec().ok()?;
            (spec.providers.len() > 1)
                .then(|| (j.id, j.owner.clone(), j.account.provider(), spec.providers))
        })
        .collect();
    let mut moved = 0;
    for (job, owner, on, providers) in waiting {
        for p in providers.into_iter().filter(|p| *p != on) {
            let account = match user_account(s, &owner, p).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(%job, error = %e, "cannot read the owner's accounts");
                    break;
                }
            };
            // No account on that cloud here (no AWS, no operator key): not an option.
            let Ok(engine) = engine_for(s, &account).await else { continue };
            match engine.take_queued_job(job).await {
                Ok(true) => {
                    tracing::info!(%job, %account, "a queued job moved to another cloud");
                    crate::driving::poke(s, &account);
                    moved += 1;
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%job, %account, error = %e, "could not offer a queued job")
                }
            }
        }
    }
    moved
}
