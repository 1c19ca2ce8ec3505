//! The pod reconciler.
//!
//! Owns: every pod with this install's name prefix on this engine's account, and the attempt
//! rows that name them. Each pass lists the provider's pods once, bills what is due, plans
//! from the live set in memory (`plan`, pure and table-tested) and executes the plan here.
//!
//! Invariants: a pod of this install belongs to a live attempt or is terminated; pods of
//! other installs or of no install are never touched; an attempt ends only when the provider
//! confirms its pod is gone; a refused terminate is retried with per-pod backoff (1 s doubling
//! to 60 s), not on every pass.

mod plan;

pub use plan::{Action, INTENT_GRACE_MS, Snapshot, plan};

use super::Status;
use crate::crash::CrashPoint;
use crate::jobs::ignore_missing;
use crate::provider::Provider;
use crate::{Engine, EngineError, lock};
use podwarden_core::events::{EventKind, StateChange};
use podwarden_core::learned::{BootRecord, BootSample, OfferEvent};
use podwarden_core::money::Money;
use podwarden_core::state::{AttemptEvent, AttemptState, JobEvent};
use podwarden_core::{AttemptId, JobId};
use podwarden_store::AttemptRow;
use std::collections::HashMap;
use std::sync::Arc;

/// First wait after a failed terminate (doubling with each failure), and the longest.
const TERMINATE_BACKOFF_MS: i64 = 1_000;
const TERMINATE_BACKOFF_MAX_MS: i64 = 60_000;

impl<C: Provider> Engine<C> {
    /// live set in memory, execute.
    pub(crate) async fn reconcile_pods(
        &self,
        status: &mut Status<Action>,
    ) -> Result<(), EngineError> {
        let pods = self.cloud.list_pods().await?;
        let now = self.clock.now_ms();
        // Backoffs of pods the provider no longer lists are done with.
        lock(&self.terminate_backoff).retain(|id, _| pods.iter().any(|p| &p.id == id));
        self.accrue_due(now).await?;
        let creating = self.creating.lock().map(|g| g.clone()).unwrap_or_default();
        // The side tables the log follower and earlier passes fill: only live rows are worth
        // remembering; the planner reads copies.
        let (boot_failed, boot_notes, silent_wrappers) = {
            let live = self.store.live();
            let attempt = |a: &AttemptId| live.attempt(*a).is_some();
            let job = |j: &JobId| live.job(*j).is_some();
            lock(&self.logs_drained).retain(job);
            lock(&self.past_learned_deadline).retain(job);
            lock(&self.launched_here).retain(attempt);
            let mut f = lock(&self.boot_failed);
            f.retain(|a, _| attempt(a));
            let mut n = lock(&self.boot_notes);
            n.retain(|a, _| attempt(a));
            let mut w = lock(&self.silent_wrappers);
            w.retain(|a, _| attempt(a));
            (f.clone(), n.clone(), w.clone())
        };
        let boot_deadlines = self.boot_deadlines().await;
        let actions = {
            let live = self.store.live();
            let mut specs = lock(&self.specs);
            // Specs never change after submit: parse each live job's once.
            let mut jobs = Vec::new();
            for j in live.jobs_of(&self.account) {
                if let std::collections::hash_map::Entry::Vacant(e) = specs.entry(j.id) {
                    e.insert(Arc::new(j.spec()?));
                }
            }
            if specs.len() > live.jobs().len() + 1024 {
                specs.retain(|k, _| live.job(*k).is_some());
            }
            for j in live.jobs_of(&self.account) {
                if let Some(sp) = specs.get(&j.id) {
                    jobs.push((j, &**sp));
                }
            }
            // This account's attempts are acted on; another account's attempt that owns one of
            // the listed pods is still not an orphan (a user's key may be the operator's own
            // account). Looked up by pod, so a pass costs its own rows, not every account's.
            let attempts: Vec<&AttemptRow> = live.attempts_of(&self.account);
            let mut others: Vec<&AttemptRow> = pods
                .iter()
                .filter_map(|p| live.attempt_of_pod(&p.name, &p.id))
                .filter(|a| !self.acts_on(a))
                .collect();
            others.sort_by_key(|a| a.id);
            others.dedup_by(|a, b| a.id == b.id);
            plan(&Snapshot {
                now,
                install: &self.install,
                jobs: &jobs,
                attempts: &attempts,
                other_accounts: &others,
                pods: &pods,
                creating: &creating,
                intent_grace_ms: self.intent_grace_ms,
                boot_failed: &boot_failed,
                boot_notes: &boot_notes,
                boot_deadlines: &boot_deadlines,
                silent_wrappers: &silent_wrappers,
                wrapper_start_ms: self.wrapper_start_ms,
                watchdog_ceiling_ms: self.watchdog_ceiling_secs as i64 * 1000,
            })
        };
        status.seen = pods.len();
        for action in actions {
            if self.crashed() {
                break;
            }
            status.actions.push(action.clone());
            match self.execute(action, &pods).await {
                Ok(moved) => status.follow_up |= moved,
                Err(e) => {
                    tracing::warn!(error = %e, "pod reconcile action failed; the next tick retries");
                    if !status.failed(e.to_string(), &e, error_policy) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Carries out one action; says whether it moved something whose next step a prompt pass
    /// finds (a terminated pod to see gone, a gone attempt's job to settle, a job on its way to
    /// an end whose pods to terminate), so the account's next pass comes after
    /// [`super::FOLLOW_UP`] rather than the period.
    async fn execute(
        &self,
        action: Action,
        pods: &[crate::provider::PodInfo],
    ) -> Result<bool, EngineError> {
        let now = self.clock.now_ms();
        match action {
            Action::Adopt { attempt, pod_id } => {
                self.adopt(attempt, &pod_id, pods).await?;
                Ok(false)
            }
            Action::Abandon { attempt, reason } => self.attempt_unmade(attempt, now, &reason).await,
            Action::Booted { attempt } => {
                let booted = self
                    .attempt_event(attempt, AttemptEvent::Booted, |a| a.booted_at = Some(now))
                    .await?;
                if booted {
                    if let Some(a) = self.store.attempt_get(attempt).await? {
                        let boot_ms = now - a.created_at;
                        self.learn(&a, OfferEvent::Booted { boot_ms }, now).await;
                        self.learn_boot(&a, BootSample::Booted, boot_ms, now).await;
                    }
                }
                Ok(false)
            }
            Action::Learn { attempt, event } => {
                if let Some(a) = self.store.attempt_get(attempt).await? {
                    self.learn(&a, event, now).await;
                }
                Ok(false)
            }
            Action::LearnedDeadlinePassed { attempt, deadline_ms } => {
                if let Some(a) = self.store.attempt_get(attempt).await? {
                    self.learn(&a, OfferEvent::Dud, now).await;
                    self.learn_boot(&a, BootSample::DeadlinePassed, deadline_ms, now).await;
                    lock(&self.past_learned_deadline).insert(a.job_id);
                }
                Ok(false)
            }
            Action::Terminate { pod_id, attempt, reason } => {
                self.terminate(&pod_id, attempt, &reason, now).await
            }
            Action::Gone { attempt, reason } => self.gone(attempt, &reason, now).await,
            Action::Job { job, event, reason } => {
                if matches!(
                    event,
                    JobEvent::BudgetExhausted
                        | JobEvent::DeadlinePassed
                        | JobEvent::Exited { .. }
                        | JobEvent::Interrupted
                        | JobEvent::GiveUp
                ) {
                    // The record of spend is exact at the moments users look at it.
                    self.accrue_job(job, now).await?;
                }
                let landed = self.apply_job_event(job, event, &reason).await?;
                // A job on its way to an end has pods to terminate soon; a launched, booted or
                // settled one has nothing for a prompt pass to do.
                let ending =
                    !matches!(event, JobEvent::Launch | JobEvent::Booted | JobEvent::Settled);
                Ok(landed && ending)
            }
            Action::Launch { job } => {
                self.launch(job).await?;
                Ok(false)
            }
            Action::BudgetAlert { job, pct, spent } => {
                self.budget_alert(job, pct, spent).await?;
                Ok(false)
            }
        }
    }

    /// Adds what `a` showed to its offer's record (`podwarden_core::learned`). A failed write
    /// loses one observation, never the pass.
    async fn learn(&self, a: &AttemptRow, event: OfferEvent, now: i64) {
        let Some(key) = offer_key(a) else { return };
        if let Err(e) = self.store.offer_record(&key, event, now).await {
            tracing::warn!(attempt = %a.id, error = %e, "cannot record what the offer showed");
        }
    }

    /// Adds a boot's time to its image's record on its offer (the learned boot deadline): a
    /// real boot (`BootSample::Booted`) or a pod ended at its learned deadline.
    async fn learn_boot(
        &self,
        a: &AttemptRow,
        sample: fn(i64) -> BootSample,
        boot_ms: i64,
        now: i64,
    ) {
        let Some(key) = offer_key(a) else { return };
        let Some(spec) = self.job_spec(a.job_id).await else { return };
        // A boot seen late (a pass delayed by an outage or a restart) is not one that slow.
        let sample = sample(boot_ms.min(spec.limits.boot_timeout.as_millis() as i64));
        if let Err(e) = self.store.offer_boot_record(&key, &spec.image, sample, now).await {
            tracing::warn!(attempt = %a.id, error = %e, "cannot record the boot's time");
        }
    }

    /// The learned boot deadline of each of this account's booting attempts whose image booted
    /// on its offer often enough (`podwarden_core::learned::BootRecord::deadline_ms`, never past
    /// the job's `boot_timeout`). A failed read leaves the jobs' own timeouts.
    async fn boot_deadlines(&self) -> HashMap<AttemptId, i64> {
        // (attempt, its offer, its job) of attempts whose pods may be booting, but not of jobs
        // that already had a pod ended at a learned deadline.
        let booting: Vec<(AttemptId, podwarden_core::learned::OfferKey, JobId)> = {
            let live = self.store.live();
            let past = lock(&self.past_learned_deadline);
            live.attempts_of(&self.account)
                .into_iter()
                .filter(|a| a.state == AttemptState::Created && !past.contains(&a.job_id))
                .filter_map(|a| Some((a.id, offer_key(a)?, a.job_id)))
                .collect()
        };
        let mut out = HashMap::new();
        let mut by_image: HashMap<String, Vec<(podwarden_core::learned::OfferKey, BootRecord)>> =
            HashMap::new();
        for (attempt, key, job) in booting {
            let Some(spec) = self.job_spec(job).await else { continue };
            if !by_image.contains_key(&spec.image) {
                match self.store.offer_boots(&spec.image).await {
                    Ok(r) => by_image.insert(spec.image.clone(), r),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read boot times; jobs' own boot timeouts stand");
                        return HashMap::new();
                    }
                };
            }
            let timeout = spec.limits.boot_timeout.as_millis() as i64;
            if let Some((_, r)) = by_image[&spec.image].iter().find(|(k, _)| *k == key) {
                out.insert(attempt, r.deadline_ms(timeout));
            }
        }
        out
    }

    /// A live job's parsed spec, from the cache (else its row).
    async fn job_spec(&self, job: JobId) -> Option<Arc<podwarden_core::spec::JobSpec>> {
        let cached = lock(&self.specs).get(&job).cloned();
        match cached {
            Some(s) => Some(s),
            None => self.store.job_get(job).await.ok()??.spec().ok().map(Arc::new),
        }
    }

    /// An intent's pod was found by its name: the attempt records it at the listed price.
    async fn adopt(
        &self,
        attempt: AttemptId,
        pod_id: &str,
        pods: &[crate::provider::PodInfo],
    ) -> Result<(), EngineError> {
        let price = pods
            .iter()
            .find(|p| p.id == pod_id)
            .map(|p| p.cost_per_hour)
            .filter(|c| *c > Money::ZERO);
        let adopted = self
            .attempt_event(attempt, AttemptEvent::Created, |a| {
                a.pod_id = Some(pod_id.to_owned());
                if let Some(p) = price {
                    a.price_per_hour = p;
                }
            })
            .await?;
        if adopted {
            self.say_attempt(attempt, |_| format!("adopted pod {pod_id} found by its name"))
                .await?;
        }
        Ok(())
    }

    /// Terminates a pod (an attempt's, or an orphan's), backing off per pod after a refusal.
    /// The first terminate of an attempt is followed up (its pod is usually gone at once); a
    /// pod the provider is slow to remove is asked again on the period.
    pub(crate) async fn terminate(
        &self,
        pod_id: &str,
        attempt: Option<AttemptId>,
        reason: &str,
        now: i64,
    ) -> Result<bool, EngineError> {
        let first = attempt.is_some_and(|a| {
            let live = self.store.live();
            live.attempt(a).is_some_and(|r| r.state != AttemptState::Terminating)
        });
        if let Some(a) = attempt {
            self.attempt_event(a, AttemptEvent::Terminate, |row| {
                row.reason = Some(reason.to_owned())
            })
            .await?;
        }
        let backoff = || lock(&self.terminate_backoff);
        let waiting = backoff().get(pod_id).copied();
        if waiting.is_some_and(|(_, not_before)| now < not_before) {
            // Backing off: nothing was sent, nothing to look for soon.
            return Ok(false);
        }
        self.crash_point(CrashPoint::BeforeTerminate)?;
        if let Err(e) = self.cloud.terminate_pod(pod_id).await {
            let failures = waiting.map_or(1, |(n, _)| n + 1);
            let delay = TERMINATE_BACKOFF_MS
                .saturating_mul(1 << failures.min(16))
                .min(TERMINATE_BACKOFF_MAX_MS);
            backoff().insert(pod_id.to_owned(), (failures, now + delay));
            return Err(e.into());
        }
        backoff().remove(pod_id);
        if let Some(a) = attempt {
            self.billing_stopped(a, now).await?;
        }
        self.crash_point(CrashPoint::AfterTerminate)?;
        tracing::info!(pod = pod_id, reason, "terminate requested");
        Ok(first)
    }

    /// The provider confirmed the attempt's pod is gone: its cost is accrued to the end and the
    /// attempt ends (followed up: its job may now settle).
    async fn gone(&self, attempt: AttemptId, reason: &str, now: i64) -> Result<bool, EngineError> {
        self.accrue_attempt(attempt, now).await?;
        let ended = self
            .attempt_event(attempt, AttemptEvent::Gone, |a| {
                a.ended_at.get_or_insert(now);
                a.reason.get_or_insert(reason.to_owned());
            })
            .await?;
        if ended {
            self.say_attempt(attempt, |a| {
                format!(
                    "pod {} is gone ({reason}); attempt cost {}",
                    a.pod_id.as_deref().unwrap_or("?"),
                    a.cost
                )
            })
            .await?;
        }
        Ok(ended)
    }

    /// Tells the attempt's job what became of it: an `attempt` event with its new state and
    /// `message` (made from the stored row).
    async fn say_attempt(
        &self,
        attempt: AttemptId,
        message: impl FnOnce(&AttemptRow) -> String,
    ) -> Result<(), EngineError> {
        if let Some(a) = self.store.attempt_get(attempt).await? {
            let change = StateChange { attempt: Some(a.state), ..Default::default() };
            self.change_event(a.job_id, EventKind::Attempt, change, &message(&a)).await;
        }
        Ok(())
    }

    /// Spend crossed an alert level: said once per level, with the amount that decided it
    /// (projected spend: billed, and run up since the last bill), not the billed ledger alone,
    /// which lags by up to a minute.
    async fn budget_alert(&self, job: JobId, pct: i64, spent: Money) -> Result<(), EngineError> {
        let landed = ignore_missing(
            self.update_job(job, |j| {
                if j.alert_pct >= pct {
                    return Ok(None);
                }
                j.alert_pct = pct;
                Ok(Some((spent, j.budget.unwrap_or(Money::ZERO))))
            })
            .await,
        )?;
        if let Some((spent, budget)) = landed {
            self.event(
                job,
                EventKind::BudgetAlert,
                &format!("{pct} % of the budget spent ({spent} of {budget})"),
            )
            .await;
        }
        Ok(())
    }
}

/// The pods reconciler's error policy: the shared one (`provider_policy`); a failed create or
/// terminate is retried by the next pass from fresh state (a terminate also backs off per pod,
/// `terminate_backoff`).
pub fn error_policy(e: &EngineError) -> super::OnError {
    super::provider_policy(e)
}

/// The offer an attempt ran on, once it has a data center.
pub(crate) fn offer_key(a: &AttemptRow) -> Option<podwarden_core::learned::OfferKey> {
    Some(podwarden_core::learned::OfferKey {
        provider: a.provider().as_str().to_owned(),
        gpu_type: a.gpu_type.clone(),
        data_center: a.data_center.clone()?,
        cloud: a.cloud.clone(),
    })
}
