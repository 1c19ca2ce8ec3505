//! podwarden's engine: every side effect on a provider goes through here.
//!
//! Owns: the pod launch and endpoint deploy sagas (`sagas/`), the reconcilers that heal what a
//! saga or a crash left half-done (`reconcilers/`: pods, endpoints, serverless jobs), GPU
//! choice, budgets, deadlines, boot timeouts, keep-alive and teardown, the cost ledger and its
//! check against the provider's bill (`billing`), job tokens (`tokens`).
//!
//! Invariants it keeps (ARCHITECTURE.md): a provider resource is only created after the row
//! naming it is committed; every resource with this install's name prefix belongs to a live
//! row or is deleted; every state write is a compare-and-swap, and a lost race is re-read and
//! re-decided on the next pass (level-triggered, no retries inside a pass).
//!
//! Must not: read the environment or the wall clock (options and `Clock` come from the
//! caller), know HTTP or users' sessions (that is the server), or hold a lock across a
//! provider call — save the offers cache's, on purpose: callers who find it stale wait for one
//! fetch instead of each making their own (single flight; the lock guards nothing else).

pub mod aws_provider;
pub mod billing;
pub mod clock;
pub mod crash;
pub mod driver;
pub mod error;
pub mod jobs;
pub mod provider;
pub mod reconcilers;
pub mod rehome;
pub mod runpod_provider;
pub mod sagas;
pub mod serverless_billing;
pub mod serverless_jobs;
pub mod strays;
pub mod tokens;
pub mod volumes;
pub mod wrapper;

pub use aws_provider::AwsProvider;
pub use clock::Clock;
pub use crash::{CrashPoint, Failpoint, OnCrash};
pub use error::EngineError;
pub use jobs::Submitted;
pub use provider::{
    AnyProvider, Deployment, EndpointInfo, Headroom, PodInfo, PodPhase, PodRequest, Provider,
    ProviderError, QueueHealth, RemoteJob, RemoteStatus, RunOptions, Serverless, TemplateInfo,
    VolumeInfo,
};
pub use reconcilers::TickReport;
pub use runpod_provider::RunPodProvider;

use podwarden_core::events::{EventKind, StateChange};
use podwarden_core::gpu::GpuOffer;
use podwarden_core::metrics::DivergenceWatch;
use podwarden_core::spec::JobSpec;
use podwarden_core::{Account, AttemptId, EndpointRecordId, JobId, ServerlessJobId, WorkId};
use podwarden_store::{AttemptRow, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;

/// How an engine runs, fixed when it is built (`Engine::new`).
#[derive(Clone)]
pub struct EngineOptions {
    pub clock: Clock,
    /// Secret the job tokens are derived from (kept outside the database).
    pub token_secret: Vec<u8>,
    /// The provider account the engine works on (default hosted).
    pub account: Account,
    /// Base URL pods call back; `None`: commands run unwrapped (tests of the engine alone).
    pub callback_base: Option<String>,
    /// How long an intent may wait for its pod before it is abandoned.
    pub intent_grace_ms: i64,
    /// The in-pod watchdog's ceiling for jobs without `max_runtime`, seconds.
    pub watchdog_ceiling_secs: u64,
    /// How long a RunPod container may print before the wrapper starts (its image's entrypoint
    /// ignores its arguments: the job is given up), ms.
    pub wrapper_start_ms: i64,
    /// Offers are re-read after this many ms.
    pub offers_ttl_ms: i64,
    /// How often an idle engine still lists the provider.
    pub idle_sweep_ms: i64,
    /// The period its driver runs its passes on: a pass due sooner is an early pass, taken from
    /// the account's budget of them (`reconcilers::EarlyPasses`); one due later is the period's.
    pub pass_period_ms: i64,
    /// The job-event channel followers wait on (engines of one server share one).
    pub events: tokio::sync::watch::Sender<u64>,
    /// A crash to inject at a saga step (tests only; the server reads the crash test's from
    /// `PODWARDEN_CRASH_AT`, the engine reads no environment).
    pub crash: Option<Failpoint>,
}

impl std::fmt::Debug for EngineOptions {
    // The token secret never prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("account", &self.account)
            .field("callback_base", &self.callback_base)
            .field("intent_grace_ms", &self.intent_grace_ms)
            .field("watchdog_ceiling_secs", &self.watchdog_ceiling_secs)
            .finish_non_exhaustive()
    }
}

impl EngineOptions {
    /// The defaults, on `clock` with `token_secret`.
    pub fn new(clock: Clock, token_secret: Vec<u8>) -> Self {
        Self {
            clock,
            token_secret,
            account: Account::Hosted,
            callback_base: None,
            intent_grace_ms: crate::reconcilers::pods::INTENT_GRACE_MS,
            watchdog_ceiling_secs: DEFAULT_WATCHDOG_CEILING_SECS,
            wrapper_start_ms: DEFAULT_WRAPPER_START_MS,
            offers_ttl_ms: 30_000,
            idle_sweep_ms: IDLE_SWEEP_MS,
            pass_period_ms: 2_000,
            events: tokio::sync::watch::channel(0).0,
            crash: None,
        }
    }
}

/// The engine over one provider.
pub struct Engine<C: Provider> {
    store: Store,
    cloud: C,
    clock: Clock,
    install: String,
    /// The GPU offers and when they were fetched; held across the refresh (single flight).
    offers: tokio::sync::Mutex<Option<(i64, Vec<GpuOffer>)>>,
    /// Attempts whose create call is in flight: the reconciler leaves them be.
    pub(crate) creating: Mutex<HashSet<AttemptId>>,
    /// Endpoints whose deploy call is in flight, likewise.
    pub(crate) deploying: Mutex<HashSet<EndpointRecordId>>,
    /// Serverless jobs whose `/run` (or retry) is in flight, likewise.
    pub(crate) submitting: Mutex<HashSet<ServerlessJobId>>,
    /// Attempts whose pod's logs say it cannot boot for good, with the reason (set by the log
    /// follower: an image that cannot be pulled, a container that cannot start).
    pub(crate) boot_failed: Mutex<std::collections::HashMap<AttemptId, String>>,
    /// The latest line of the host's (`system`) from each booting pod (set by the log follower):
    /// what a pod stuck booting was last doing, for the boot timeout's reason.
    pub(crate) boot_notes: Mutex<std::collections::HashMap<AttemptId, String>>,
    /// Attempts whose container printed before podwarden's wrapper started (set by the log
    /// follower, which read the container from its first line), with when it was seen and the
    /// first line: an entrypoint that ignores its arguments prints and never runs the job.
    pub(crate) silent_wrappers: Mutex<std::collections::HashMap<AttemptId, (i64, String)>>,
    /// Attempts this process launched: only they are judged by their wrapper's start line (an
    /// attempt another replica or an earlier build launched may have a wrapper that prints
    /// none). Kept while live (the pods reconciler prunes it).
    pub(crate) launched_here: Mutex<HashSet<AttemptId>>,
    /// Jobs a pod of which was ended at a learned boot deadline: their next pods get the job's
    /// own `boot_timeout` (kept while live).
    pub(crate) past_learned_deadline: Mutex<HashSet<JobId>>,
    /// Jobs whose exit line is among their stored logs (set by the log follower): their pod's
    /// output is all kept, so teardown need not wait for it ([`jobs::LOG_DRAIN_MAX_MS`]).
    pub(crate) logs_drained: Mutex<HashSet<JobId>>,
    /// The account's budget of passes earlier than the period (each lists its pods again).
    pub(crate) early_passes: Mutex<reconcilers::EarlyPasses>,
    /// Pods whose terminate failed: (failures so far, not before this time). A provider that
    /// keeps refusing is asked again with backoff, not on every tick.
    terminate_backoff: Mutex<HashMap<String, (u32, i64)>>,
    /// Offers are re-read after this many ms.
    offers_ttl_ms: i64,
    /// Secret the job tokens are derived from (kept outside the database).
    token_secret: Vec<u8>,
    /// Bumped after every job event: followers long-poll on it instead of sleeping (shared by
    /// every account's engine of one server).
    events: tokio::sync::watch::Sender<u64>,
    /// How long an intent may wait for its pod before it is abandoned.
    pub(crate) intent_grace_ms: i64,
    /// Parsed specs of live jobs. Only `provider` and `providers` change after submit (a
    /// queued job moving between clouds, `rehome.rs`), and nothing read from here uses them:
    /// the launch reads the row's own.
    specs: Mutex<std::collections::HashMap<JobId, Arc<JobSpec>>>,
    /// Early-stop state of jobs with an `[early_stop]` rule (rebuilt from stored points after
    /// a restart).
    watches: Mutex<std::collections::HashMap<JobId, DivergenceWatch>>,
    /// The crash to inject, if any, and whether it happened (a crashed engine does nothing
    /// more in the pass that crashed).
    crash: Option<Failpoint>,
    crashed: std::sync::atomic::AtomicBool,
    /// The RunPod account this engine's cloud is (`hosted`, or `byok:<user>`): it reconciles
    /// only jobs placed on that account.
    pub(crate) account: Account,
    /// Base URL pods call back (`{base}/api/v1/jobs/{id}/exit`). `None`: commands run
    /// unwrapped and exits are not reported (tests of the engine alone).
    callback_base: Option<String>,
    /// The in-pod watchdog's ceiling for a job without `max_runtime` (seconds, before grace):
    /// no pod bills forever once the control plane is gone.
    watchdog_ceiling_secs: u64,
    wrapper_start_ms: i64,
    /// With nothing of this account in flight, the provider is listed (for orphans and
    /// vanished endpoints) only this often: RunPod's request budgets are per account and per
    /// day (`docs/emulator.md` → Rate limits), and an idle server must not spend them.
    idle_sweep_ms: i64,
    pass_period_ms: i64,
    /// What it was built with (an account's engine is built from the hosted one's).
    options: EngineOptions,
    /// When pods and endpoints were last listed (ms; `i64::MIN`: never).
    pub(crate) last_pod_list: std::sync::atomic::AtomicI64,
    /// When queued pod entries were last swept.
    pub(crate) last_queued_sweep: std::sync::atomic::AtomicI64,
    /// When token secrets were last swept; how many this engine made, and how many of those a
    /// sweep had seen when it last found none left (while they differ it sweeps every minute,
    /// else every ten).
    pub(crate) last_secret_sweep: std::sync::atomic::AtomicI64,
    pub(crate) secrets_made: std::sync::atomic::AtomicU64,
    pub(crate) secrets_swept: std::sync::atomic::AtomicU64,
    /// When endpoints' bills were last read (`serverless_billing`).
    pub(crate) last_endpoint_bills: std::sync::atomic::AtomicI64,
    /// The account's headroom as last read, and when (read at most every `HEADROOM_MS`).
    pub(crate) headroom: tokio::sync::Mutex<Option<(i64, Option<Headroom>)>>,
    pub(crate) last_endpoint_list: std::sync::atomic::AtomicI64,
}

/// How often an idle engine still lists the provider's pods and endpoints.
pub const IDLE_SWEEP_MS: i64 = 60_000;

/// Default in-pod watchdog ceiling for jobs without `max_runtime`.
pub const DEFAULT_WATCHDOG_CEILING_SECS: u64 = 24 * 3600;

/// How long a RunPod container may print before podwarden's wrapper starts, by default: an
/// entrypoint's own setup before it runs its arguments (`exec "$@"`) has that long, and a log
/// stream that was down while the start line went by is back well within it.
pub const DEFAULT_WRAPPER_START_MS: i64 = 600_000;

impl<C: Provider> std::fmt::Debug for Engine<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("install", &self.install).finish_non_exhaustive()
    }
}

impl<C: Provider> Engine<C> {
    /// An engine on `store` and `cloud`.
    pub async fn new(store: Store, cloud: C, options: EngineOptions) -> Result<Self, EngineError> {
        let install = store.install_id().await?;
        let o = options.clone();
        Ok(Self {
            store,
            cloud,
            clock: o.clock,
            install,
            offers: tokio::sync::Mutex::new(None),
            creating: Mutex::new(HashSet::new()),
            deploying: Mutex::new(HashSet::new()),
            submitting: Mutex::new(HashSet::new()),
            boot_failed: Mutex::new(std::collections::HashMap::new()),
            boot_notes: Mutex::new(std::collections::HashMap::new()),
            silent_wrappers: Mutex::new(std::collections::HashMap::new()),
            launched_here: Mutex::new(HashSet::new()),
            past_learned_deadline: Mutex::new(HashSet::new()),
            logs_drained: Mutex::new(HashSet::new()),
            early_passes: Mutex::default(),
            terminate_backoff: Mutex::new(HashMap::new()),
            offers_ttl_ms: o.offers_ttl_ms,
            callback_base: o.callback_base,
            watchdog_ceiling_secs: o.watchdog_ceiling_secs,
            wrapper_start_ms: o.wrapper_start_ms,
            token_secret: o.token_secret,
            events: o.events,
            crash: o.crash,
            crashed: std::sync::atomic::AtomicBool::new(false),
            intent_grace_ms: o.intent_grace_ms,
            specs: Mutex::new(std::collections::HashMap::new()),
            watches: Mutex::new(std::collections::HashMap::new()),
            account: o.account,
            idle_sweep_ms: o.idle_sweep_ms,
            pass_period_ms: o.pass_period_ms,
            last_pod_list: std::sync::atomic::AtomicI64::new(i64::MIN),
            last_queued_sweep: std::sync::atomic::AtomicI64::new(i64::MIN),
            last_secret_sweep: std::sync::atomic::AtomicI64::new(i64::MIN),
            secrets_made: std::sync::atomic::AtomicU64::new(0),
            secrets_swept: std::sync::atomic::AtomicU64::new(0),
            last_endpoint_bills: std::sync::atomic::AtomicI64::new(i64::MIN),
            headroom: tokio::sync::Mutex::new(None),
            last_endpoint_list: std::sync::atomic::AtomicI64::new(i64::MIN),
            options,
        })
    }

    /// What this engine was built with (to build another account's engine alike).
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The RunPod account this engine works on (`hosted`, or `byok:<user>`).
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Where pods call back, if anywhere.
    pub fn callback_base(&self) -> Option<&str> {
        self.callback_base.as_deref()
    }

    /// A receiver bumped after every job event (followers long-poll on it).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events.subscribe()
    }

    /// Wakes every follower to re-read its events (an event was recorded elsewhere: another
    /// replica on the same Postgres).
    pub fn wake_followers(&self) {
        self.events.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Whether an idle sweep last done at `last` is due again; records it as done when it is.
    pub(crate) fn sweep_due(&self, last: &std::sync::atomic::AtomicI64, now: i64) -> bool {
        due_every(last, now, self.idle_sweep_ms)
    }

    /// Crashes here when a test asks for `point`: the process aborts with no cleanup, or the
    /// step fails with `Crashed` and the engine stops its current pass.
    pub(crate) fn crash_point(&self, point: CrashPoint) -> Result<(), EngineError> {
        let Some(f) = self.crash.filter(|f| f.at == point) else { return Ok(()) };
        match f.then {
            OnCrash::AbortProcess => {
                eprintln!("podwarden: crash test: aborting at {point}");
                std::process::abort();
            }
            OnCrash::FailStep => {
                self.crashed.store(true, std::sync::atomic::Ordering::SeqCst);
                Err(EngineError::Crashed(point))
            }
        }
    }

    /// Whether an injected crash happened (the pass stops; the test starts a new engine).
    pub(crate) fn crashed(&self) -> bool {
        self.crashed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The bearer token of a job's callbacks.
    pub fn job_token(&self, job: JobId) -> String {
        tokens::derive_job_token(&self.token_secret, &job.to_string())
    }

    /// The secret `user`'s webhook deliveries to `url` are signed with: derived from the
    /// install's token secret (never stored), so a new URL has a new secret. A job id never
    /// contains NUL, so no webhook secret is a job's token.
    pub fn webhook_secret(&self, user: &str, url: &str) -> String {
        tokens::derive_job_token(&self.token_secret, &format!("webhook\0{user}\0{url}"))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The provider.
    pub fn provider(&self) -> &C {
        &self.cloud
    }

    /// Now, by the engine's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// This install's id (the pod name prefix).
    pub fn install(&self) -> &str {
        &self.install
    }

    /// GPU offers, cached for `offers_ttl_ms`.
    pub async fn offers(&self) -> Result<Vec<GpuOffer>, EngineError> {
        let now = self.clock.now_ms();
        let mut g = self.offers.lock().await;
        if let Some((at, o)) = g.as_ref() {
            if now - at < self.offers_ttl_ms {
                return Ok(o.clone());
            }
        }
        let fresh = self.cloud.offers().await?;
        *g = Some((now, fresh.clone()));
        Ok(fresh)
    }

    pub(crate) async fn event(&self, job: impl Into<WorkId>, kind: EventKind, message: &str) {
        self.event_with(job, kind, message, None).await;
    }

    /// An event that says what state something moved to (`data`), for readers that must not
    /// parse the message: a `state` event of a job or serverless job, an `attempt` event of a
    /// pod created, adopted or gone.
    pub(crate) async fn change_event(
        &self,
        job: impl Into<WorkId>,
        kind: EventKind,
        change: StateChange,
        message: &str,
    ) {
        self.event_with(job, kind, message, Some(&change.to_json())).await;
    }

    /// The job's budget was lowered to what is left of its owner's hosted spend cap (at submit,
    /// when it took its budget back after waiting, or when it moved to an operator account).
    pub(crate) async fn budget_capped(&self, job: JobId, to: podwarden_core::money::Money) {
        let msg = format!("budget set to {to} (what is left of your hosted spend cap)");
        self.event(job, EventKind::Budget, &msg).await;
    }

    /// An event with a JSON payload (stream chunks, progress, state changes).
    pub(crate) async fn event_with(
        &self,
        job: impl Into<WorkId>,
        kind: EventKind,
        message: &str,
        data: Option<&serde_json::Value>,
    ) {
        let (at, job) = (self.clock.now_ms(), job.into());
        if let Err(e) = self.store.event_append(job, at, kind, message, data).await {
            tracing::warn!(%job, error = %e, "could not record event");
        }
        self.events.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Whether this engine acts on `a`: its pod is made on this engine's account (only this
    /// account's key reaches it), whether its job is live, settled, or moved since.
    pub(crate) fn acts_on(&self, a: &AttemptRow) -> bool {
        a.account == self.account
    }
}

/// A side table's lock: a panic elsewhere while it was held leaves it usable (each write to one
/// is whole).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a sweep last done at `last` is due again after `period_ms`; records it as done when
/// it is (a clock that went back counts as due).
pub(crate) fn due_every(last: &std::sync::atomic::AtomicI64, now: i64, period_ms: i64) -> bool {
    use std::sync::atomic::Ordering;
    let prev = last.load(Ordering::Relaxed);
    let due = prev == i64::MIN || now.saturating_sub(prev) >= period_ms || now < prev;
    if due {
        last.store(now, Ordering::Relaxed);
    }
    due
}
