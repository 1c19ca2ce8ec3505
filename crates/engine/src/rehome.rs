//! A queued job moving to another of its owner's accounts, on another cloud its spec allows
//! (`providers = ["runpod", "aws"]`): the engine of the account it would move to decides
//! whether it can place it now, and takes it. Which jobs to offer to which account is
//! `podwarden_control::rehome`'s choice.
//!
//! Owns: the move's checks and its record (events).
//!
//! Invariants: a job moves only while `queued` and while nothing of it may still hold a
//! resource (every attempt of it ended: terminated, or its create abandoned), so the account
//! it leaves has nothing left to end; each attempt keeps the account its pod was made on
//! (`attempts.account`), whose bill it is checked against. A job that already spent moves only
//! between accounts whose spend the cap counts alike (the operator's to the operator's, or the
//! owner's own to their own): the cap sums a job's spend by the account it is on. Onto the
//! operator's account it is admitted against its owner's spend cap as a submit is
//! (`Store::job_rehome`), and only an admin's job that names account secrets in its env moves
//! there (as a submit is refused); the account it left never launches it again (a `launch` is
//! refused for another account's row, `Engine::apply_job_event`).

use crate::provider::Provider;
use crate::{Engine, EngineError};
use podwarden_core::JobId;
use podwarden_core::events::EventKind;
use podwarden_core::gpu::rank_placements;
use podwarden_core::state::JobState;
use podwarden_store::Rehome;

impl<C: Provider> Engine<C> {
    /// Takes queued job `job` from another account of its owner when its spec allows this
    /// account's cloud and this account lists a GPU for it now, and the module's invariants
    /// allow the move. True: it moved, and its next launch is due here at once.
    pub async fn take_queued_job(&self, job: JobId) -> Result<bool, EngineError> {
        let Some(mut j) = self.store.job_get(job).await? else { return Ok(false) };
        let provider = self.account.provider();
        if j.state != JobState::Queued || j.account.provider() == provider {
            return Ok(false);
        }
        let mut spec = j.spec()?;
        if !spec.providers.contains(&provider) {
            return Ok(false);
        }
        // The operator's account fills `{{ RUNPOD_SECRET_… }}` from its own secrets (others'
        // job tokens among them): only an admin's job may name them there, as at submit.
        if self.account.is_hosted() && spec.env_referencing_account_secrets().is_some() {
            let admin = self.store.user_get(&j.owner).await?.is_some_and(|u| u.is_admin);
            if !admin {
                return Ok(false);
            }
        }
        let attempts = self.store.attempts_for_job(job).await?;
        if !attempts.iter().all(|a| a.state.is_final()) {
            return Ok(false);
        }
        let spent_here = attempts.iter().any(|a| a.pod_id.is_some());
        if spent_here && j.account.is_hosted() != self.account.is_hosted() {
            return Ok(false);
        }
        let from = j.account.provider();
        spec.provider = Some(provider);
        let offers = self.offers().await?;
        let Some(first) = rank_placements(&spec, &offers).into_iter().next() else {
            return Ok(false);
        };
        let hold = podwarden_core::estimate::queued_hold(&spec, &offers);
        let json = serde_json::to_string(&spec)
            .map_err(|e| EngineError::Corrupt(format!("job {job} spec: {e}")))?;
        let now = self.clock.now_ms();
        match self.store.job_rehome(&mut j, &self.account, &json, hold, now).await? {
            Rehome::Moved { capped_to } => {
                let msg = format!(
                    "moved to {}: {} had nothing for it, {} lists {} ({}); it launches there now",
                    provider.title(),
                    from.title(),
                    provider.title(),
                    first.display_name,
                    first.gpu_type
                );
                self.event(job, EventKind::Placement, &msg).await;
                if let Some(b) = capped_to {
                    self.budget_capped(job, b).await;
                }
                Ok(true)
            }
            Rehome::CapShort { .. } | Rehome::Raced => Ok(false),
        }
    }
}
