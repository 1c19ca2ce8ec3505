//! The reconcilers: level-triggered loops that bring the provider and the database together,
//! whatever a saga, a crash or the provider left half-done.
//!
//! Each is a pure plan over a snapshot (the live rows, what the provider lists, the clock) and
//! a thin executor; each pass of each returns a typed [`Status`]. One engine pass (`tick`)
//! runs the three on the engine's account: pods, endpoints, serverless jobs. A pass never
//! retries inside itself; what fails is decided again, from fresh state, on the next pass.

pub mod endpoints;
pub mod pods;
pub mod serverless_jobs;

use crate::provider::{Provider, ProviderError};
use crate::{Engine, EngineError};

/// What one reconciler's pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct Status<A> {
    /// Whether it looked at the provider (an idle account is listed only every sweep period).
    pub ran: bool,
    /// Resources the provider listed (pods, endpoints), or live rows polled (serverless jobs).
    pub seen: usize,
    /// Live rows of this account the reconciler owns (jobs, endpoints, serverless jobs): with
    /// none anywhere, the account has nothing to reconcile.
    pub live: usize,
    /// What it decided to do, in order.
    pub actions: Vec<A>,
    /// What failed (retried on the next pass).
    pub errors: Vec<String>,
    /// How long the pass took (a measurement for operators; nothing decides on it).
    pub took: std::time::Duration,
    /// The provider answered 429: wait this long before the account's next pass (its request
    /// budget is spent; more calls now only fail).
    pub retry_after: Option<std::time::Duration>,
    /// An action moved something whose next step a prompt pass finds (a terminate sent, a pod
    /// gone, a job event): the next pass comes after [`FOLLOW_UP`], not the period.
    pub follow_up: bool,
}

impl<A> Status<A> {
    /// Records `e` and applies `policy` to it; `false` when the pass must stop calling the
    /// provider (the account waits, `retry_after`).
    pub(crate) fn failed(
        &mut self,
        what: String,
        e: &EngineError,
        policy: fn(&EngineError) -> OnError,
    ) -> bool {
        self.errors.push(what);
        match policy(e) {
            OnError::Retry => true,
            OnError::Wait(wait) => {
                self.retry_after = Some(self.retry_after.map_or(wait, |w| w.max(wait)));
                false
            }
        }
    }
}

/// What a reconciler's pass does after an error, decided from the error alone by one function
/// per reconciler (as kube-runtime's `error_policy`): each reconciler module has its
/// `error_policy`, and nothing else in a pass decides whether to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Go on with the pass's other actions; the next pass decides again from fresh state.
    Retry,
    /// Stop calling the provider for this account, and start its next pass only after this
    /// long: more calls now can only fail.
    Wait(std::time::Duration),
}

/// How long an account whose key the provider refuses waits before its next pass: every call
/// would be refused the same way until someone replaces the key, so the pass asks once a
/// minute instead of every tick (a new key is used from the next of those passes).
pub const REFUSED_KEY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The policy every reconciler shares: the provider's 429 is waited out (its `Retry-After`,
/// else a minute: RunPod's budgets refill per minute), a refused key waits
/// [`REFUSED_KEY_WAIT`], anything else is retried on the next pass.
pub(crate) fn provider_policy(e: &EngineError) -> OnError {
    use crate::provider::ProviderError;
    match e {
        EngineError::Provider(ProviderError::RateLimited { retry_after_secs, .. }) => {
            OnError::Wait(std::time::Duration::from_secs(retry_after_secs.unwrap_or(60)))
        }
        EngineError::Provider(ProviderError::Auth(_)) => OnError::Wait(REFUSED_KEY_WAIT),
        _ => OnError::Retry,
    }
}

impl<A> Default for Status<A> {
    fn default() -> Self {
        Self {
            ran: false,
            seen: 0,
            live: 0,
            actions: Vec::new(),
            errors: Vec::new(),
            took: std::time::Duration::ZERO,
            retry_after: None,
            follow_up: false,
        }
    }
}

/// How soon the pass after one that moved something runs: long enough for the provider to
/// show what the pass did (a terminated pod gone from its list), short enough that a pod that
/// ended is not billed for the rest of a period. It costs one pod listing per step of a job's
/// end, well inside RunPod's per-minute request budget.
pub const FOLLOW_UP: std::time::Duration = std::time::Duration::from_millis(500);

/// Passes earlier than the period an account may have: a burst of [`EARLY_PASS_BURST`], then
/// [`EARLY_PASSES_PER_MINUTE`]. Each lists the account's pods once more, and RunPod's REST
/// budget may be as small as the spec's example (60 requests a minute, for everything the key
/// does): the period's listing takes 30 of them, so early passes may take at most 10 more. A job's
/// end takes three (terminate, see it gone, settle); beyond the budget, jobs end on the period.
pub const EARLY_PASS_BURST: f64 = 6.0;
/// See [`EARLY_PASS_BURST`].
pub const EARLY_PASSES_PER_MINUTE: f64 = 10.0;

/// A token bucket of early passes on the engine's clock.
#[derive(Debug)]
pub(crate) struct EarlyPasses {
    tokens: f64,
    /// When a pass was last asked for (none yet: the bucket is full).
    last_ms: Option<i64>,
}

impl Default for EarlyPasses {
    fn default() -> Self {
        Self { tokens: EARLY_PASS_BURST, last_ms: None }
    }
}

impl EarlyPasses {
    /// Takes one early pass if the budget has one at `now`.
    pub(crate) fn take(&mut self, now: i64) -> bool {
        if let Some(last) = self.last_ms {
            let refill = (now - last).max(0) as f64 * EARLY_PASSES_PER_MINUTE / 60_000.0;
            self.tokens = (self.tokens + refill).min(EARLY_PASS_BURST);
        }
        self.last_ms = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What one engine pass did, per reconciler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    pub pods: Status<pods::Action>,
    pub endpoints: Status<endpoints::Action>,
    pub serverless_jobs: Status<serverless_jobs::Action>,
    /// When the account's next pass is due before the driver's period, if it is: a follow-up
    /// ([`FOLLOW_UP`]), or the earliest moment one of its jobs is due something (its teardown
    /// after `keep_alive`, its deadline, its next attempt after a backoff); `None` when that is
    /// not before the period, or the account's budget of early passes is spent
    /// ([`EARLY_PASS_BURST`]).
    pub next_pass: Option<std::time::Duration>,
}

impl TickReport {
    /// Live rows of the account, all three reconcilers together.
    pub fn live(&self) -> usize {
        self.pods.live + self.endpoints.live + self.serverless_jobs.live
    }

    /// Actions taken by all three.
    pub fn action_count(&self) -> usize {
        self.pods.actions.len() + self.endpoints.actions.len() + self.serverless_jobs.actions.len()
    }

    /// How long the account must wait before its next pass (the provider's 429), if at all.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        [self.pods.retry_after, self.endpoints.retry_after, self.serverless_jobs.retry_after]
            .into_iter()
            .flatten()
            .max()
    }

    /// Every error of the pass, each prefixed with its reconciler.
    pub fn errors(&self) -> Vec<String> {
        let tagged = |name: &str, errs: &[String]| -> Vec<String> {
            errs.iter().map(|e| format!("{name}: {e}")).collect()
        };
        let mut all = tagged("pods", &self.pods.errors);
        all.extend(tagged("endpoints", &self.endpoints.errors));
        all.extend(tagged("serverless jobs", &self.serverless_jobs.errors));
        all
    }
}

impl<C: Provider> Engine<C> {
    /// One reconcile pass of this engine's account: pods (list once, bill what is due, plan,
    /// execute), then endpoints, then serverless jobs. A failing reconciler does not stop the
    /// others; its error is in the report.
    pub async fn tick(&self) -> Result<TickReport, EngineError> {
        let now = self.now_ms();
        let mut report = TickReport::default();
        let busy = {
            let live = self.store().live();
            let creating = self.creating.lock().map(|g| !g.is_empty()).unwrap_or(true)
                || self.deploying.lock().map(|g| !g.is_empty()).unwrap_or(true)
                || self.submitting.lock().map(|g| !g.is_empty()).unwrap_or(true);
            report.pods.live = live.jobs_of(self.account()).count();
            creating || report.pods.live > 0 || !live.attempts_of(self.account()).is_empty()
        };
        if busy {
            self.last_pod_list.store(now, std::sync::atomic::Ordering::Relaxed);
        }
        if busy || self.sweep_due(&self.last_pod_list, now) {
            report.pods.ran = true;
            let t = std::time::Instant::now();
            let r = self.reconcile_pods(&mut report.pods).await;
            report.pods.took = t.elapsed();
            if let Err(e) = r {
                // A pass the provider makes wait is the pass's news, not its failure: the
                // driver waits.
                if pods::error_policy(&e) == OnError::Retry {
                    return Err(e);
                }
                if let EngineError::Provider(ProviderError::Auth(detail)) = &e {
                    self.say_key_refused(detail).await;
                }
                report.pods.failed(e.to_string(), &e, pods::error_policy);
            }
        }
        // With the account's request budget spent, the other reconcilers wait too.
        if report.retry_after().is_some() {
            return Ok(report);
        }
        if !self.crashed() && crate::due_every(&self.last_queued_sweep, now, QUEUED_SWEEP_MS) {
            if let Err(e) = self.sweep_queued_pods().await {
                tracing::warn!(error = %e, "queued pod sweep failed; the next one retries");
                report.pods.failed(e.to_string(), &e, pods::error_policy);
            }
        }
        let outstanding = self.secrets_made.load(std::sync::atomic::Ordering::SeqCst)
            != self.secrets_swept.load(std::sync::atomic::Ordering::SeqCst);
        let secret_period = if outstanding { SECRET_SWEEP_MS } else { QUEUED_SWEEP_MS };
        if !self.crashed() && crate::due_every(&self.last_secret_sweep, now, secret_period) {
            if let Err(e) = self.sweep_token_secrets().await {
                tracing::warn!(error = %e, "token secret sweep failed; the next one retries");
                report.pods.failed(e.to_string(), &e, pods::error_policy);
            }
        }
        if report.retry_after().is_some() {
            return Ok(report);
        }
        if !self.crashed() {
            let t = std::time::Instant::now();
            if let Err(e) = self.reconcile_endpoints(&mut report.endpoints).await {
                tracing::warn!(error = %e, "endpoint reconcile failed; the next tick retries");
                report.endpoints.failed(e.to_string(), &e, endpoints::error_policy);
            }
            report.endpoints.took = t.elapsed();
        }
        if report.retry_after().is_some() {
            return Ok(report);
        }
        if !self.crashed() {
            let t = std::time::Instant::now();
            if let Err(e) = self.reconcile_serverless_jobs(&mut report.serverless_jobs).await {
                tracing::warn!(error = %e, "serverless job reconcile failed; the next tick retries");
                report.serverless_jobs.failed(e.to_string(), &e, serverless_jobs::error_policy);
            }
            report.serverless_jobs.took = t.elapsed();
        }
        let job_due =
            self.next_job_due(now).map(|at| std::time::Duration::from_millis((at - now) as u64));
        let follow_up = report.pods.follow_up.then_some(FOLLOW_UP);
        // Each early pass lists the account's pods once more: only while the budget lasts, and
        // only a pass due before the period is early (a deadline an hour away is the period's).
        let period = std::time::Duration::from_millis(self.pass_period_ms.max(0) as u64);
        report.next_pass = [job_due, follow_up]
            .into_iter()
            .flatten()
            .min()
            .filter(|due| *due < period)
            .filter(|_| self.early_passes.lock().map(|mut b| b.take(now)).unwrap_or(false));
        Ok(report)
    }

    /// The earliest future moment one of this account's live jobs is due something: its
    /// teardown (an exited job kept alive), its deadline, its next attempt.
    fn next_job_due(&self, now: i64) -> Option<i64> {
        let live = self.store().live();
        live.jobs_of(self.account())
            .flat_map(|j| [j.teardown_at, j.deadline_at, j.next_attempt_at])
            .flatten()
            .filter(|at| *at > now)
            .min()
    }
}

/// How often queued pod entries are swept. podwarden never queues a pod; an entry with its
/// install prefix is a leftover (another client, an older podwarden) that could become a billing
/// pod when capacity comes, and a deployed one is also an orphan the pod sweep terminates.
pub const QUEUED_SWEEP_MS: i64 = 10 * 60_000;

impl<C: Provider> Engine<C> {
    /// Cancels every queued entry named as this install names its pods. Entries of other
    /// installs, or without such a name, are never touched. Returns how many were cancelled.
    pub async fn sweep_queued_pods(&self) -> Result<usize, EngineError> {
        let mut cancelled = 0;
        let mut failed = None;
        for (id, name) in self.provider().list_queued_pods().await? {
            if podwarden_core::ids::parse_pod_name(self.install(), &name).is_none() {
                continue;
            }
            // One that cannot be cancelled (it deployed meanwhile: the pod sweep has it) does
            // not keep the others queued.
            match self.provider().cancel_queued_pod(&id).await {
                Ok(()) => {
                    tracing::info!(queued = %id, name, "cancelled a queued pod of this install");
                    cancelled += 1;
                }
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(cancelled),
        }
    }
}

/// How often token secrets are swept while this engine has made some: a job's token is deleted
/// within this long of its last pod going.
pub const SECRET_SWEEP_MS: i64 = 60_000;

impl<C: Provider> Engine<C> {
    /// Deletes the token secret of every job of this install that is settled and has no pod
    /// left (a crash between a job's end and this sweep included: the names say whose they
    /// are). Secrets of other installs, or not named as podwarden names them, are never touched.
    /// Returns how many were deleted.
    pub async fn sweep_token_secrets(&self) -> Result<usize, EngineError> {
        // Secrets made after this point may be missing from the list: only those made before
        // count as swept.
        let made = self.secrets_made.load(std::sync::atomic::Ordering::SeqCst);
        let mut deleted = 0;
        let mut kept = false;
        let mut failed = None;
        for (id, name) in self.provider().list_secrets().await? {
            let Some(job) = podwarden_core::ids::parse_token_secret_name(self.install(), &name)
            else {
                continue;
            };
            if self.store().live().job_or_its_pods_live(job) {
                kept = true;
                continue;
            }
            match self.provider().delete_secret(&id).await {
                Ok(()) => {
                    tracing::debug!(secret = %name, "deleted the token secret of a finished job");
                    deleted += 1;
                }
                Err(e) => {
                    kept = true;
                    failed = Some(e);
                }
            }
        }
        if !kept {
            self.secrets_swept.store(made, std::sync::atomic::Ordering::SeqCst);
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(deleted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Early passes come in a burst of six, then one every six seconds: with the period's
    /// listings, at most 40 pod listings a minute of RunPod's (possibly) 60.
    #[test]
    fn early_passes_are_budgeted_so_the_pod_listings_stay_within_runpods_minute() {
        let mut b = EarlyPasses::default();
        let granted = (0..10).filter(|i| b.take(i * 100)).count();
        assert_eq!(granted, 6, "the burst");
        assert!(!b.take(5_000), "5 s later: not yet a whole pass back");
        assert!(b.take(6_100), "6 s after the burst: one");
        assert!(!b.take(6_200));
        let minute: usize = (0..600).filter(|i| b.take(60_000 + i * 100)).count();
        assert!(minute <= 6 + 10, "{minute} early passes in a minute");
    }
    use crate::provider::ProviderError;

    /// The provider's 429 is waited out for its `Retry-After` (a minute without one), a
    /// refused key for `REFUSED_KEY_WAIT`; anything else goes on, and the pass with it.
    #[test]
    fn the_error_policy_waits_out_a_spent_budget_and_a_refused_key_and_retries_the_rest() {
        let limited = |secs| {
            EngineError::Provider(ProviderError::RateLimited {
                message: "429".into(),
                retry_after_secs: secs,
            })
        };
        let wait = |s| OnError::Wait(std::time::Duration::from_secs(s));
        assert_eq!(provider_policy(&limited(Some(7))), wait(7));
        assert_eq!(provider_policy(&limited(None)), wait(60));
        assert_eq!(
            provider_policy(&EngineError::Provider(ProviderError::Auth("401".into()))),
            OnError::Wait(REFUSED_KEY_WAIT)
        );
        assert_eq!(
            provider_policy(&EngineError::Provider(ProviderError::Transient("502".into()))),
            OnError::Retry
        );
        let mut st: Status<()> = Status::default();
        assert!(st.failed(
            "a".into(),
            &EngineError::Provider(ProviderError::Transient("x".into())),
            pods::error_policy
        ));
        assert!(!st.failed("b".into(), &limited(Some(3)), endpoints::error_policy));
        assert!(!st.failed("c".into(), &limited(Some(2)), serverless_jobs::error_policy));
        assert_eq!((st.errors.len(), st.retry_after), (3, Some(std::time::Duration::from_secs(3))));
    }
}
