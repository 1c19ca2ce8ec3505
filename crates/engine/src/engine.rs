//! The engine: submit, cancel, exit reports, and the reconcile tick (snapshot → plan →
//! execute). Every state write is a compare-and-swap; a lost race is re-read and re-decided on
//! the next tick (level-triggered, no retries inside).

use crate::cloud::{Cloud, CloudError, PodRequest};
use crate::planner::{Action, Snapshot, plan};
use core_domain::gpu::{Cloud as Tier, GpuOffer, Placement, rank_placements};
use core_domain::ids::pod_name;
use core_domain::metrics::{DivergenceWatch, EarlyStop, normalize_point};
use core_domain::money::Money;
use core_domain::spec::JobSpec;
use core_domain::state::{
    AttemptEvent, AttemptState, JobEvent, JobState, attempt_transition, job_transition,
};
use core_domain::{AttemptId, JobId};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use store::{AttemptRow, Bill, JobRow, Store, StoreError};

/// How often a running pod's cost is written to the ledger (spend between writes is projected).
pub const ACCRUE_EVERY_MS: i64 = 60_000;

/// Milliseconds since the Unix epoch, from the system or from a test.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// Wall-clock time.
    pub fn system() -> Self {
        Self(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
        }))
    }
    /// Any time source (tests share the emulator's manual clock).
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }
    /// Now.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error("job {0} not found")]
    NoSuchJob(String),
    #[error("the job token is not valid for job {0} (or the job ended more than 5 minutes ago)")]
    BadToken(String),
    #[error("no GPU offer matches the spec: {0}")]
    NoGpuFits(String),
    #[error("{0}")]
    BadVolume(String),
    #[error("{job} cannot be {what}: {state}")]
    WrongState { job: String, what: &'static str, state: String },
    #[error("endpoint {0} not found")]
    NoSuchEndpoint(String),
    #[error("serverless job {0} not found")]
    NoSuchRequest(String),
    #[error("endpoint {name} is not ready ({state})")]
    EndpointNotReady { name: String, state: String },
    #[error("the job input is {bytes} bytes; RunPod's limit for {route} is {limit} bytes")]
    PayloadTooLarge { bytes: usize, limit: usize, route: &'static str },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("point {index}: {error}")]
    BadMetrics { index: usize, error: core_domain::metrics::PointError },
    /// The owner's hosted spend cap has `left` micro-USD, and the work needs more.
    #[error("your hosted spend cap of {} has {} left (spent or reserved by running work){}", Money(*cap), Money((*left).max(0)), needs.map(|n| format!("; this needs up to {}", Money(n))).unwrap_or_default())]
    SpendCapReached { cap: i64, left: i64, needs: Option<i64> },
}

/// A submitted job and its callback token (shown once; only its hash is stored).
#[derive(Debug, Clone)]
pub struct Submitted {
    pub job: JobId,
    pub token: String,
}

/// What one tick did (the status document a reconciler returns).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TickReport {
    pub pods_seen: usize,
    pub actions: Vec<String>,
    pub errors: Vec<String>,
}

/// How an engine runs, fixed when it is built (`Engine::new`).
#[derive(Clone)]
pub struct EngineOptions {
    pub clock: Clock,
    /// Secret the job tokens are derived from (kept outside the database).
    pub token_secret: Vec<u8>,
    /// The RunPod account the engine's cloud is (default `hosted`).
    pub account: String,
    /// Base URL pods call back; `None`: commands run unwrapped (tests of the engine alone).
    pub callback_base: Option<String>,
    /// How long an intent may wait for its pod before it is abandoned.
    pub intent_grace_ms: i64,
    /// The in-pod watchdog's ceiling for jobs without `max_runtime`, seconds.
    pub watchdog_ceiling_secs: u64,
    /// Offers are re-read after this many ms.
    pub offers_ttl_ms: i64,
    /// How often an idle engine still lists the provider.
    pub idle_sweep_ms: i64,
    /// The job-event channel followers wait on (engines of one server share one).
    pub events: tokio::sync::watch::Sender<u64>,
    /// Crash-test failpoint: the process aborts at this step (the server reads it from
    /// `PODWARDEN_CRASH_AT`; the engine reads no environment).
    pub crash_at: Option<String>,
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
            account: store::HOSTED.to_owned(),
            callback_base: None,
            intent_grace_ms: crate::planner::INTENT_GRACE_MS,
            watchdog_ceiling_secs: DEFAULT_WATCHDOG_CEILING_SECS,
            offers_ttl_ms: 30_000,
            idle_sweep_ms: IDLE_SWEEP_MS,
            events: tokio::sync::watch::channel(0).0,
            crash_at: None,
        }
    }
}

/// The engine over one provider.
pub struct Engine<C: Cloud> {
    store: Store,
    cloud: C,
    clock: Clock,
    install: String,
    offers: tokio::sync::Mutex<Option<(i64, Vec<GpuOffer>)>>,
    /// Attempts (and endpoints) whose create call is in flight: the reconciler leaves them be.
    pub(crate) creating: Mutex<HashSet<String>>,
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
    /// Parsed specs of live jobs (specs never change after submit).
    specs: Mutex<std::collections::HashMap<String, Arc<JobSpec>>>,
    /// Early-stop state of jobs with an `[early_stop]` rule (rebuilt from stored points after
    /// a restart).
    watches: Mutex<std::collections::HashMap<String, DivergenceWatch>>,
    /// Crash-test failpoint: the process aborts at that step.
    crash_at: Option<String>,
    /// The RunPod account this engine's cloud is (`hosted`, or `byok:<user>`): it reconciles
    /// only jobs placed on that account.
    pub(crate) account: String,
    /// Base URL pods call back (`{base}/api/v1/jobs/{id}/exit`). `None`: commands run
    /// unwrapped and exits are not reported (tests of the engine alone).
    callback_base: Option<String>,
    /// The in-pod watchdog's ceiling for a job without `max_runtime` (seconds, before grace):
    /// no pod bills forever once the control plane is gone.
    watchdog_ceiling_secs: u64,
    /// With nothing of this account in flight, the provider is listed (for orphans and
    /// vanished endpoints) only this often: RunPod's request budgets are per account and per
    /// day (`docs/emulator.md` → Rate limits), and an idle server must not spend them.
    idle_sweep_ms: i64,
    /// What it was built with (an account's engine is built from the hosted one's).
    options: EngineOptions,
    /// When pods and endpoints were last listed (ms; `i64::MIN`: never).
    pub(crate) last_pod_list: std::sync::atomic::AtomicI64,
    pub(crate) last_endpoint_list: std::sync::atomic::AtomicI64,
}

/// How often an idle engine still lists the provider's pods and endpoints.
pub const IDLE_SWEEP_MS: i64 = 60_000;

/// Default in-pod watchdog ceiling for jobs without `max_runtime`.
pub const DEFAULT_WATCHDOG_CEILING_SECS: u64 = 24 * 3600;

impl<C: Cloud> std::fmt::Debug for Engine<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("install", &self.install).finish_non_exhaustive()
    }
}

/// HMAC-SHA256 of `job` under the install's token secret: the job's bearer token. Derived,
/// not stored, so a relaunch after a crash can hand it to a new pod while the database holds
/// only its hash.
pub fn derive_job_token(secret: &[u8], job: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(job.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 hex of a token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` is the job's callback token (constant-time on the hashes).
/// First wait after a failed terminate (doubling with each failure), and the longest.
const TERMINATE_BACKOFF_MS: i64 = 1_000;
const TERMINATE_BACKOFF_MAX_MS: i64 = 60_000;

/// How long a job's token still works after the job settled: a last metric flush or exit
/// callback racing the teardown lands; after that the token is dead.
pub const TOKEN_GRACE_MS: i64 = 5 * 60 * 1000;

fn token_matches(j: &JobRow, token: &str) -> bool {
    constant_eq(&j.token_hash, &hash_token(token))
}

/// The token is the job's, and the job is live or settled less than `TOKEN_GRACE_MS` ago.
fn token_valid(j: &JobRow, token: &str, now_ms: i64) -> bool {
    let settled = j.phase().is_ok_and(|p| p.state.is_final());
    token_matches(j, token) && (!settled || now_ms - j.updated_at <= TOKEN_GRACE_MS)
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<C: Cloud> Engine<C> {
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
            terminate_backoff: Mutex::new(HashMap::new()),
            offers_ttl_ms: o.offers_ttl_ms,
            callback_base: o.callback_base,
            watchdog_ceiling_secs: o.watchdog_ceiling_secs,
            token_secret: o.token_secret,
            events: o.events,
            crash_at: o.crash_at,
            intent_grace_ms: o.intent_grace_ms,
            specs: Mutex::new(std::collections::HashMap::new()),
            watches: Mutex::new(std::collections::HashMap::new()),
            account: o.account,
            idle_sweep_ms: o.idle_sweep_ms,
            last_pod_list: std::sync::atomic::AtomicI64::new(i64::MIN),
            last_endpoint_list: std::sync::atomic::AtomicI64::new(i64::MIN),
            options,
        })
    }

    /// What this engine was built with (to build another account's engine alike).
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The RunPod account this engine works on (`hosted`, or `byok:<user>`).
    pub fn account(&self) -> &str {
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

    /// Whether an idle sweep last done at `last` is due again; records it as done when it is.
    pub(crate) fn sweep_due(&self, last: &std::sync::atomic::AtomicI64, now: i64) -> bool {
        use std::sync::atomic::Ordering;
        let prev = last.load(Ordering::Relaxed);
        let due = prev == i64::MIN || now.saturating_sub(prev) >= self.idle_sweep_ms || now < prev;
        if due {
            last.store(now, Ordering::Relaxed);
        }
        due
    }

    /// Dies here, without any cleanup, when the crash test asks for this step.
    pub(crate) fn crash_point(&self, step: &str) {
        if self.crash_at.as_deref() == Some(step) {
            eprintln!("podwarden: crash test: aborting at {step}");
            std::process::abort();
        }
    }

    /// The bearer token of a job's callbacks.
    pub fn job_token(&self, job: &str) -> String {
        derive_job_token(&self.token_secret, job)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The provider.
    pub fn cloud(&self) -> &C {
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

    pub(crate) async fn event(&self, job: &str, kind: &str, message: &str) {
        self.event_with(job, kind, message, None).await;
    }

    /// An event with a JSON payload (stream chunks, progress).
    pub(crate) async fn event_with(
        &self,
        job: &str,
        kind: &str,
        message: &str,
        data: Option<&serde_json::Value>,
    ) {
        if let Err(e) = self.store.event_append(job, self.clock.now_ms(), kind, message, data).await
        {
            tracing::warn!(job, error = %e, "could not record event");
        }
        self.events.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Accepts a job. Fails before anything is created when no offered GPU could ever fit.
    pub async fn submit(&self, spec: JobSpec, owner: &str) -> Result<Submitted, EngineError> {
        self.submit_to(spec, owner, store::HOSTED).await
    }

    /// Submits a job onto `account` (the engine for that account runs it), its budget capped
    /// at `budget_cap_micros` (what is left of a hosted spend cap).
    pub async fn submit_to(
        &self,
        mut spec: JobSpec,
        owner: &str,
        account: &str,
    ) -> Result<Submitted, EngineError> {
        let pinned = self.pin_to_volume(&mut spec).await?;
        let offers = self.offers().await?;
        let mut everywhere = offers.clone();
        for o in &mut everywhere {
            // Ask "could it ever fit", ignoring current stock.
            o.data_centers = vec!["*".into()];
        }
        let mut probe = spec.clone();
        probe.data_centers.clear();
        if rank_placements(&probe, &everywhere).is_empty() {
            let want = if spec.gpu.types.is_empty() {
                format!("≥ {} GB VRAM", spec.gpu.min_vram_gb.unwrap_or(0))
            } else {
                spec.gpu.types.join(", ")
            };
            let price =
                spec.gpu.max_price_per_hour.map(|p| format!(" at ≤ ${p}/h")).unwrap_or_default();
            return Err(EngineError::NoGpuFits(format!(
                "{} × {want}{price} in {:?} cloud",
                spec.gpu_count(),
                spec.cloud
            )));
        }
        let id = JobId::new();
        let token = self.job_token(&id.to_string());
        let mut row = JobRow::new(id, &spec, owner, &hash_token(&token), self.clock.now_ms());
        row.account = account.to_owned();
        // Hosted work is admitted against its owner's spend cap atomically (store::spend).
        let capped = match self.store.job_insert_within_cap(&mut row).await? {
            store::Admission::Admitted { capped_to } => capped_to,
            store::Admission::CapReached { cap, left } => {
                return Err(EngineError::SpendCapReached { cap, left, needs: None });
            }
        };
        if let Some(cap) = capped {
            self.event(
                &row.id,
                "budget",
                &format!("budget set to {} (what is left of your hosted spend cap)", Money(cap)),
            )
            .await;
        }
        if let Some(dc) = pinned {
            let fits_now = !rank_placements(&spec, &offers).is_empty();
            let msg = if fits_now {
                format!("placed in {dc}, the network volume's data center")
            } else {
                format!(
                    "no GPU that fits is in stock in {dc}, the network volume's data center; waiting for one there"
                )
            };
            self.event(&row.id, "placement", &msg).await;
        }
        self.event(&row.id, "state", "pending: waiting for a GPU").await;
        Ok(Submitted { job: id, token })
    }

    /// A pod mounting a network volume runs in the volume's data center (RunPod rejects any
    /// other): the spec's data centers become that one, or the spec is refused when it names
    /// others. Returns the data center pinned.
    async fn pin_to_volume(&self, spec: &mut JobSpec) -> Result<Option<String>, EngineError> {
        let Some(vol) = spec.network_volume.clone() else { return Ok(None) };
        let dc = match self.cloud.network_volume_data_center(&vol).await {
            Ok(dc) => dc,
            Err(CloudError::NotFound(_)) => {
                return Err(EngineError::BadVolume(format!(
                    "network volume {vol} does not exist on this RunPod account; `network_volume` takes a volume id"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if !spec.data_centers.is_empty() && !spec.data_centers.contains(&dc) {
            return Err(EngineError::BadVolume(format!(
                "network volume {vol} is in {dc}, which `data_centers` ({}) leaves out; a pod runs where its network volume is",
                spec.data_centers.join(", ")
            )));
        }
        spec.data_centers = vec![dc.clone()];
        Ok(Some(dc))
    }

    /// Stops a job: it tears down and settles as cancelled.
    pub async fn cancel(&self, job: &str) -> Result<(), EngineError> {
        self.apply_job_event(job, JobEvent::Cancel, "stopped by the user").await.map(|_| ())
    }

    /// Re-reads job `id`, lets `f` change it, and writes it with compare-and-swap, re-reading
    /// on a lost race (up to 5 times). `f` returns `None` to leave the row alone. Returns what
    /// `f` returned when its write landed; `NoSuchJob` when the job does not exist.
    async fn update_job<T>(
        &self,
        id: &str,
        mut f: impl FnMut(&mut JobRow) -> Result<Option<T>, EngineError>,
    ) -> Result<Option<T>, EngineError> {
        for _ in 0..5 {
            let mut j =
                self.store.job_get(id).await?.ok_or_else(|| EngineError::NoSuchJob(id.into()))?;
            let Some(v) = f(&mut j)? else { return Ok(None) };
            if self.store.job_cas(&mut j, self.clock.now_ms()).await? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The job's command reported its exit status (authenticated by the job's token).
    pub async fn report_exit(&self, job: &str, token: &str, code: i64) -> Result<(), EngineError> {
        self.record_exit(job, Some(token), code, "").await
    }

    /// The wrapper's exit line was read from the pod's logs: the same exit as a callback, for
    /// when the callback cannot reach the control plane (no public URL, a firewall).
    pub async fn exit_seen_in_logs(&self, job: &str, code: i64) -> Result<(), EngineError> {
        self.record_exit(job, None, code, " (read from the pod's logs)").await
    }

    /// Records the first exit status of `job`; later ones (a callback after the log line, or
    /// the reverse) change nothing.
    async fn record_exit(
        &self,
        job: &str,
        token: Option<&str>,
        code: i64,
        how: &str,
    ) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        let landed = self
            .update_job(job, |j| {
                if token.is_some_and(|t| !token_valid(j, t, now)) {
                    return Err(EngineError::BadToken(job.into()));
                }
                if j.exit_code.is_some() {
                    return Ok(None);
                }
                j.exit_code = Some(code);
                Ok(Some(()))
            })
            .await?;
        if landed.is_some() {
            self.event(job, "exit", &format!("the command exited with code {code}{how}")).await;
        }
        Ok(())
    }

    /// Points the job's code reports (authenticated by the job's token): checked (a bad
    /// field fails the whole batch, naming point and field), stored in one transaction, the
    /// last one also as a `metric` event for followers. A job with `[early_stop]` is stopped
    /// when its metric diverges.
    pub async fn report_metrics(
        &self,
        job: &str,
        token: &str,
        points: &[serde_json::Value],
    ) -> Result<usize, EngineError> {
        let j = self.store.job_get(job).await?.ok_or_else(|| EngineError::NoSuchJob(job.into()))?;
        if !token_valid(&j, token, self.clock.now_ms()) {
            return Err(EngineError::BadToken(job.into()));
        }
        let values = points
            .iter()
            .enumerate()
            .map(|(index, p)| {
                normalize_point(p)
                    .map(serde_json::Value::Object)
                    .map_err(|error| EngineError::BadMetrics { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The points and the event announcing the last one commit together.
        let message = values.last().map(|last| format!("metric: {last}"));
        let event = values.last().zip(message.as_deref()).map(|(last, m)| ("metric", m, last));
        self.store.metrics_append_with_event(job, self.clock.now_ms(), &values, event).await?;
        self.events.send_modify(|v| *v = v.wrapping_add(1));
        if let Some(rule) = self.spec_of(&j)?.early_stop.as_ref().filter(|_| j.outcome.is_none()) {
            if let Some(why) = self.watch_divergence(job, rule, &values).await? {
                self.event(job, "early_stop", &why).await;
                if let Err(e) = self.apply_job_event(job, JobEvent::Cancel, &why).await {
                    tracing::debug!(job, error = %e, "early stop found the job already ending");
                }
            }
        }
        Ok(values.len())
    }

    /// A job's parsed spec, from the cache the tick keeps for live jobs.
    fn spec_of(&self, j: &JobRow) -> Result<Arc<JobSpec>, EngineError> {
        let cached = self
            .specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&j.id)
            .cloned();
        Ok(match cached {
            Some(spec) => spec,
            None => Arc::new(j.spec()?),
        })
    }

    /// Feeds new points to the job's divergence watch (built from its stored points when this
    /// process has not seen the job yet); the reason to stop, if any.
    async fn watch_divergence(
        &self,
        job: &str,
        rule: &EarlyStop,
        points: &[serde_json::Value],
    ) -> Result<Option<String>, EngineError> {
        let known = self
            .watches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(job);
        let mut rebuilt = None;
        if !known {
            // Everything stored before this batch, oldest first.
            let mut w = DivergenceWatch::default();
            let rows = self.store.metrics_since(job, 0, i64::MAX).await?;
            for r in &rows[..rows.len().saturating_sub(points.len())] {
                if let Ok(serde_json::Value::Object(p)) = serde_json::from_str(&r.data) {
                    w.observe(rule, &p);
                }
            }
            rebuilt = Some(w);
        }
        let mut watches = self.watches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = watches.entry(job.to_owned()).or_insert_with(|| rebuilt.unwrap_or_default());
        Ok(points.iter().filter_map(serde_json::Value::as_object).find_map(|p| w.observe(rule, p)))
    }

    /// Applies one job event with CAS (re-reading on a lost race), setting what the event
    /// implies: teardown time, backoff, deadline.
    async fn apply_job_event(
        &self,
        job: &str,
        event: JobEvent,
        reason: &str,
    ) -> Result<bool, EngineError> {
        let landed = self
            .update_job(job, |j| {
                let spec = j.spec()?;
                let from = j.phase()?;
                let next = match job_transition(from, event) {
                    Ok(n) => n,
                    Err(_) if event == JobEvent::Cancel => {
                        return Err(EngineError::WrongState {
                            job: format!("job {job}"),
                            what: "stopped",
                            state: format!("it is {}", from.state),
                        });
                    }
                    Err(e) => {
                        tracing::debug!(job, %e, "skipping stale event");
                        return Ok(None);
                    }
                };
                let now = self.clock.now_ms();
                match event {
                    JobEvent::Exited { .. } => {
                        j.teardown_at = Some(now + spec.limits.keep_alive.as_millis() as i64)
                    }
                    JobEvent::Cancel if from.state == JobState::TearingDown => {}
                    JobEvent::Cancel
                    | JobEvent::BudgetExhausted
                    | JobEvent::DeadlinePassed
                    | JobEvent::GiveUp => j.teardown_at = Some(now),
                    JobEvent::Interrupted => {
                        let backoff = spec.retry.backoff.as_millis() as i64
                            * (1i64 << (j.attempts_made - 1).clamp(0, 10));
                        j.next_attempt_at = Some(now + backoff.min(600_000));
                    }
                    _ => {}
                }
                // A settled job keeps its cause (exit code, budget, no capacity…) as its reason;
                // "every resource is gone" is how it settled, not why it ended.
                let cause = j.reason.clone();
                if event != JobEvent::Settled || cause.is_none() {
                    j.reason = Some(reason.to_owned());
                }
                j.set_phase(next);
                Ok(Some((next, cause)))
            })
            .await?;
        let Some((next, cause)) = landed else { return Ok(false) };
        let msg = match (next.outcome, cause) {
            (Some(o), _) if next.state == JobState::TearingDown => {
                format!("tearing down ({}): {reason}", o.as_str())
            }
            (_, Some(cause)) if event == JobEvent::Settled => {
                format!("{}: {cause}; {reason}", next.state)
            }
            _ => format!("{}: {reason}", next.state),
        };
        self.event(job, "state", &msg).await;
        Ok(true)
    }

    async fn attempt_event(
        &self,
        id: &str,
        event: AttemptEvent,
        f: impl Fn(&mut AttemptRow),
    ) -> Result<bool, EngineError> {
        for _ in 0..5 {
            let Some(mut a) = self.store.attempt_get(id).await? else { return Ok(false) };
            let from = a.state()?;
            let to = match attempt_transition(from, event) {
                Ok(t) => t,
                Err(_) => return Ok(false),
            };
            a.set_state(to);
            f(&mut a);
            if self.store.attempt_cas(&mut a).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The bill of a pod-holding attempt up to `now`, if anything is unbilled.
    fn bill_of(a: &AttemptRow, now: i64) -> Option<Bill> {
        let holds_pod = a.state().is_ok_and(AttemptState::holds_pod);
        (holds_pod && now > a.billed_until.unwrap_or(a.created_at)).then(|| Bill {
            attempt: a.clone(),
            to_ms: now,
            amount_micros: crate::planner::unbilled(a, now),
        })
    }

    /// Whether this engine acts on `a`: its job was placed on this engine's account. An
    /// attempt whose job is no longer live is the hosted engine's (one engine, not all).
    fn acts_on(&self, live: &store::LiveSet, a: &AttemptRow) -> bool {
        live.job(&a.job_id).map_or(self.account == store::HOSTED, |j| j.account == self.account)
    }

    /// Bills, in one transaction, the pod-holding attempts last billed `ACCRUE_EVERY_MS` ago
    /// (budgets are enforced on projected spend, so batching the writes cannot overshoot them).
    async fn accrue_due(&self, now: i64) -> Result<(), EngineError> {
        let bills: Vec<Bill> = {
            let live = self.store.live();
            live.attempts()
                .filter(|a| self.acts_on(&live, a))
                .filter(|a| now - a.billed_until.unwrap_or(a.created_at) >= ACCRUE_EVERY_MS)
                .filter_map(|a| Self::bill_of(a, now))
                .collect()
        };
        self.store.bill(&bills, now).await?;
        Ok(())
    }

    /// Bills every pod-holding attempt of `job` up to now (before the job ends).
    async fn accrue_job(&self, job: &str, now: i64) -> Result<(), EngineError> {
        let bills: Vec<Bill> = self
            .store
            .live()
            .attempts()
            .filter(|a| a.job_id == job)
            .filter_map(|a| Self::bill_of(a, now))
            .collect();
        self.store.bill(&bills, now).await?;
        Ok(())
    }

    /// Bills one attempt up to now (before it ends).
    async fn accrue_attempt(&self, attempt: &str, now: i64) -> Result<(), EngineError> {
        let bill = self.store.live().attempt(attempt).and_then(|a| Self::bill_of(a, now));
        self.store.bill(bill.as_slice(), now).await?;
        Ok(())
    }

    /// One reconcile pass: list the provider's pods once, bill what is due, plan from the live
    /// set in memory, execute.
    pub async fn tick(&self) -> Result<TickReport, EngineError> {
        let now = self.clock.now_ms();
        let busy = {
            let live = self.store.live();
            let creating = self.creating.lock().map(|g| !g.is_empty()).unwrap_or(true);
            creating
                || live.jobs().any(|j| j.account == self.account)
                || live.attempts().any(|a| self.acts_on(&live, a))
        };
        if busy {
            self.last_pod_list.store(now, std::sync::atomic::Ordering::Relaxed);
        }
        let mut report = TickReport::default();
        if busy || self.sweep_due(&self.last_pod_list, now) {
            self.tick_pods(&mut report).await?;
        }
        if let Err(e) = self.reconcile_endpoints(&mut report).await {
            tracing::warn!(error = %e, "endpoint reconcile failed; the next tick retries");
            report.errors.push(e.to_string());
        }
        if let Err(e) = self.reconcile_requests(&mut report).await {
            tracing::warn!(error = %e, "serverless job reconcile failed; the next tick retries");
            report.errors.push(e.to_string());
        }
        Ok(report)
    }

    /// The pod half of a tick: list the provider's pods once, bill what is due, plan from the
    /// live set in memory, execute.
    async fn tick_pods(&self, report: &mut TickReport) -> Result<(), EngineError> {
        let pods = self.cloud.list_pods().await?;
        let now = self.clock.now_ms();
        // Backoffs of pods the provider no longer lists are done with.
        self.terminate_backoff
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|id, _| pods.iter().any(|p| &p.id == id));
        self.accrue_due(now).await?;
        let creating = self.creating.lock().map(|g| g.clone()).unwrap_or_default();
        let actions = {
            let live = self.store.live();
            let mut specs = self.specs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Specs never change after submit: parse each live job's once.
            let mut jobs = Vec::with_capacity(live.jobs().len());
            for j in live.jobs().filter(|j| j.account == self.account) {
                if !specs.contains_key(&j.id) {
                    specs.insert(j.id.clone(), Arc::new(j.spec()?));
                }
            }
            if specs.len() > live.jobs().len() + 1024 {
                specs.retain(|k, _| live.job(k).is_some());
            }
            for j in live.jobs().filter(|j| j.account == self.account) {
                if let Some(sp) = specs.get(&j.id) {
                    jobs.push((j, &**sp));
                }
            }
            // This account's attempts are acted on; every other one's pod is still not an
            // orphan (a user's key may be the operator's own account).
            let (attempts, others): (Vec<&AttemptRow>, Vec<&AttemptRow>) =
                live.attempts().partition(|a| self.acts_on(&live, a));
            plan(&Snapshot {
                now,
                install: &self.install,
                jobs: &jobs,
                attempts: &attempts,
                other_accounts: &others,
                pods: &pods,
                creating: &creating,
                intent_grace_ms: self.intent_grace_ms,
            })
        };
        report.pods_seen = pods.len();
        for action in actions {
            report.actions.push(format!("{action:?}"));
            if let Err(e) = self.execute(action, &pods).await {
                tracing::warn!(error = %e, "reconcile action failed; the next tick retries");
                report.errors.push(e.to_string());
            }
        }
        Ok(())
    }

    async fn execute(
        &self,
        action: Action,
        pods: &[crate::cloud::PodInfo],
    ) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        match action {
            Action::Adopt { attempt, pod_id } => {
                let price = pods
                    .iter()
                    .find(|p| p.id == pod_id)
                    .map(|p| p.cost_per_hour.0)
                    .filter(|c| *c > 0);
                if self
                    .attempt_event(&attempt, AttemptEvent::Created, |a| {
                        a.pod_id = Some(pod_id.clone());
                        if let Some(p) = price {
                            a.price_micros_per_hour = p;
                        }
                    })
                    .await?
                {
                    if let Some(a) = self.store.attempt_get(&attempt).await? {
                        self.event(
                            &a.job_id,
                            "attempt",
                            &format!("adopted pod {pod_id} found by its name"),
                        )
                        .await;
                    }
                }
            }
            Action::Abandon { attempt, reason } => {
                self.attempt_event(&attempt, AttemptEvent::CreateFailed, |a| {
                    a.ended_at = Some(now);
                    a.reason = Some(reason.clone());
                })
                .await?;
            }
            Action::Booted { attempt } => {
                self.attempt_event(&attempt, AttemptEvent::Booted, |a| a.booted_at = Some(now))
                    .await?;
            }
            Action::Terminate { pod_id, attempt, reason } => {
                if let Some(a) = &attempt {
                    self.attempt_event(a, AttemptEvent::Terminate, |row| {
                        row.reason = Some(reason.clone())
                    })
                    .await?;
                }
                let waiting = self
                    .terminate_backoff
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&pod_id)
                    .copied();
                if waiting.is_some_and(|(_, not_before)| now < not_before) {
                    return Ok(());
                }
                self.crash_point("before-terminate");
                if let Err(e) = self.cloud.terminate_pod(&pod_id).await {
                    let failures = waiting.map_or(1, |(n, _)| n + 1);
                    let delay = TERMINATE_BACKOFF_MS
                        .saturating_mul(1 << failures.min(16))
                        .min(TERMINATE_BACKOFF_MAX_MS);
                    self.terminate_backoff
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(pod_id.clone(), (failures, now + delay));
                    return Err(e.into());
                }
                self.terminate_backoff
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&pod_id);
                self.crash_point("after-terminate");
                tracing::info!(pod = pod_id, reason, "terminate requested");
            }
            Action::Gone { attempt, reason } => {
                self.accrue_attempt(&attempt, now).await?;
                if self
                    .attempt_event(&attempt, AttemptEvent::Gone, |a| {
                        a.ended_at = Some(now);
                        a.reason.get_or_insert(reason.clone());
                    })
                    .await?
                {
                    if let Some(a) = self.store.attempt_get(&attempt).await? {
                        self.event(
                            &a.job_id,
                            "attempt",
                            &format!(
                                "pod {} is gone ({reason}); attempt cost {}",
                                a.pod_id.as_deref().unwrap_or("?"),
                                Money(a.cost_micros)
                            ),
                        )
                        .await;
                    }
                }
            }
            Action::Job { job, event, reason } => {
                if matches!(
                    event,
                    JobEvent::BudgetExhausted
                        | JobEvent::DeadlinePassed
                        | JobEvent::Exited { .. }
                        | JobEvent::Interrupted
                ) {
                    // The record of spend is exact at the moments users look at it.
                    self.accrue_job(&job, now).await?;
                }
                self.apply_job_event(&job, event, &reason).await?;
            }
            Action::Launch { job } => self.launch(&job).await?,
            Action::BudgetAlert { job, pct } => {
                let landed = ignore_missing(
                    self.update_job(&job, |j| {
                        if j.alert_pct >= pct {
                            return Ok(None);
                        }
                        j.alert_pct = pct;
                        Ok(Some((j.spent_micros, j.budget_micros.unwrap_or(0))))
                    })
                    .await,
                )?;
                if let Some((spent, budget)) = landed {
                    self.event(
                        &job,
                        "budget",
                        &format!(
                            "{pct} % of the budget spent ({} of {})",
                            Money(spent),
                            Money(budget)
                        ),
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    /// The launch saga: intent row first (with the pod's deterministic name), then the create;
    /// on no capacity the next placement, on a lost response nothing more (the reconciler
    /// adopts the pod by name or abandons the intent).
    async fn launch(&self, job: &str) -> Result<(), EngineError> {
        let Some(j) = self.store.job_get(job).await? else { return Ok(()) };
        let spec = j.spec()?;
        let placements = rank_placements(&spec, &self.offers().await?);
        if !self.apply_job_event(job, JobEvent::Launch, "choosing a GPU").await? {
            return Ok(());
        }
        // Attempts made and the deadline (from the first launch).
        let counted = self
            .update_job(job, |j| {
                let now = self.clock.now_ms();
                j.attempts_made += 1;
                if j.started_at.is_none() {
                    j.started_at = Some(now);
                    j.deadline_at = spec.limits.max_runtime.map(|d| now + d.as_millis() as i64);
                }
                Ok(Some(()))
            })
            .await;
        if ignore_missing(counted)?.is_none() {
            return Ok(());
        }
        let seq = self.store.attempts_for_job(job).await?.len() as i64 + 1;
        let mut tried = Vec::new();
        for p in placements.iter() {
            match self.try_placement(job, &spec, p, seq + tried.len() as i64).await? {
                Outcome::Created | Outcome::Unknown => return Ok(()),
                Outcome::NoCapacity => tried.push(format!("{} ({:?})", p.gpu_type, p.cloud)),
                Outcome::Fatal(why) => {
                    self.apply_job_event(job, JobEvent::Interrupted, &why).await?;
                    // Non-retryable: give up right away.
                    self.force_give_up(job, &why).await?;
                    return Ok(());
                }
            }
        }
        let why = if placements.is_empty() {
            "no GPU matching the spec has stock right now".to_owned()
        } else {
            format!(
                "no capacity for any of {} offers (tried {})",
                placements.len(),
                tried.join(", ")
            )
        };
        self.apply_job_event(job, JobEvent::Interrupted, &why).await?;
        Ok(())
    }

    async fn force_give_up(&self, job: &str, why: &str) -> Result<(), EngineError> {
        self.apply_job_event(job, JobEvent::GiveUp, why).await.map(|_| ())
    }

    async fn try_placement(
        &self,
        job: &str,
        spec: &JobSpec,
        p: &Placement,
        seq: i64,
    ) -> Result<Outcome, EngineError> {
        let (command, env) = self.pod_command(job, spec).await?;
        let att = AttemptId::new();
        let now = self.clock.now_ms();
        let mut row = AttemptRow {
            id: att.to_string(),
            job_id: job.to_owned(),
            seq,
            state: AttemptState::Intent.as_str().into(),
            generation: 0,
            pod_name: pod_name(&self.install, att),
            pod_id: None,
            gpu_type: p.gpu_type.clone(),
            gpu_count: p.count,
            cloud: match p.cloud {
                Tier::Secure => "secure".into(),
                Tier::Community => "community".into(),
            },
            data_center: None,
            price_micros_per_hour: p.price_per_hour.0,
            created_at: now,
            booted_at: None,
            ended_at: None,
            billed_until: None,
            cost_micros: 0,
            reason: None,
        };
        self.crash_point("before-intent");
        // Invariant 1: the intent is committed before the create call.
        self.store.attempt_insert(&row).await?;
        self.crash_point("after-intent");
        // Out of the set however this step ends (a store error's early return included), or
        // the reconciler would skip the attempt forever and the job hang in provisioning.
        let _creating = Creating::hold(&self.creating, &row.id);
        let req = PodRequest {
            name: row.pod_name.clone(),
            image: spec.image.clone(),
            command,
            env,
            ports: spec.ports.clone(),
            gpu_type: p.gpu_type.clone(),
            gpu_count: p.count,
            tier: p.cloud,
            data_centers: p.data_centers.clone(),
            disk_gb: spec.disk_gb,
            volume_gb: spec.volume_gb,
            network_volume: spec.network_volume.clone(),
            registry_auth: spec.registry_auth.clone(),
        };
        let result = self.cloud.create_pod(&req).await;
        let outcome = match result {
            Ok(pod) => {
                self.crash_point("after-create");
                let price = Some(pod.cost_per_hour.0).filter(|c| *c > 0);
                self.attempt_event(&row.id, AttemptEvent::Created, |a| {
                    a.pod_id = Some(pod.id.clone());
                    a.data_center = pod.data_center.clone();
                    if let Some(c) = price {
                        a.price_micros_per_hour = c;
                    }
                })
                .await?;
                self.crash_point("after-record");
                self.event(
                    job,
                    "attempt",
                    &format!(
                        "pod {} created: {} × {} ({:?}) at {}/h",
                        pod.id,
                        p.count,
                        p.gpu_type,
                        p.cloud,
                        Money(price.unwrap_or(row.price_micros_per_hour))
                    ),
                )
                .await;
                Outcome::Created
            }
            Err(CloudError::NoCapacity(msg)) => {
                row.reason = Some(msg.clone());
                self.attempt_event(&row.id, AttemptEvent::CreateFailed, |a| {
                    a.ended_at = Some(now);
                    a.reason = Some(msg.clone());
                })
                .await?;
                self.event(
                    job,
                    "attempt",
                    &format!(
                        "no capacity for {} ({:?}); trying the next offer",
                        p.gpu_type, p.cloud
                    ),
                )
                .await;
                Outcome::NoCapacity
            }
            Err(
                CloudError::MaybeCreated(msg)
                | CloudError::Transient(msg)
                | CloudError::RateLimited { message: msg, .. },
            ) => {
                self.event(job, "attempt", &format!("the create may have happened ({msg}); the reconciler will look the pod up by name"))
                    .await;
                Outcome::Unknown
            }
            Err(
                e @ (CloudError::InsufficientBalance(_)
                | CloudError::Auth(_)
                | CloudError::Rejected(_)
                | CloudError::NotFound(_)),
            ) => {
                let why = e.to_string();
                self.attempt_event(&row.id, AttemptEvent::CreateFailed, |a| {
                    a.ended_at = Some(now);
                    a.reason = Some(why.clone());
                })
                .await?;
                Outcome::Fatal(why)
            }
        };
        Ok(outcome)
    }
}

impl<C: Cloud> Engine<C> {
    /// The pod's `args` and env: the command wrapped to report its exit when a callback is
    /// configured. RunPod execs `args` as words (no shell), so a shell command travels as
    /// `sh -c '<script>'` and an argv as its quoted words.
    async fn pod_command(
        &self,
        job: &str,
        spec: &JobSpec,
    ) -> Result<(String, std::collections::BTreeMap<String, String>), EngineError> {
        let mut env = spec.env.clone();
        // Whose job this is: podwarden's own workloads keep to this user's prefix on volumes.
        if let Some(owner) = self.store.live().job(job).map(|j| j.owner.clone()) {
            env.insert("PODWARDEN_USER".into(), owner);
        }
        let Some(base) = &self.callback_base else {
            let args = match (&spec.command, &spec.args, &spec.finetune) {
                (None, Some(argv), None) => {
                    argv.iter().map(|a| crate::wrapper::sq(a)).collect::<Vec<_>>().join(" ")
                }
                _ => crate::wrapper::start_args(&spec.shell_command()),
            };
            return Ok((args, env));
        };
        env.insert("PODWARDEN_JOB_ID".into(), job.to_owned());
        env.insert(
            "PODWARDEN_CALLBACK_URL".into(),
            format!("{}/api/v1/jobs/{job}/exit", base.trim_end_matches('/')),
        );
        env.insert("PODWARDEN_JOB_TOKEN".into(), self.job_token(job));
        env.insert(
            "PODWARDEN_METRICS_URL".into(),
            format!("{}/api/v1/jobs/{job}/metrics", base.trim_end_matches('/')),
        );
        let watchdog = self.cloud.rest_base().map(|rest| {
            env.insert("PODWARDEN_RUNPOD_REST_URL".into(), rest);
            spec.limits.max_runtime.map_or(self.watchdog_ceiling_secs, |d| d.as_secs())
                + crate::wrapper::WATCHDOG_GRACE_SECS
        });
        let data = crate::wrapper::DataPlan {
            fetch: spec
                .inputs
                .iter()
                .filter(|i| i.is_url())
                .map(|i| (i.source.clone(), i.path.clone()))
                .collect(),
            outputs: spec.required_outputs(),
        };
        Ok((
            crate::wrapper::start_args(&crate::wrapper::wrap(
                &spec.shell_command(),
                watchdog,
                &data,
            )),
            env,
        ))
    }
}

/// An attempt whose create call is in flight (the reconciler leaves it alone meanwhile), for as
/// long as this guard lives.
struct Creating<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl<'a> Creating<'a> {
    fn hold(set: &'a Mutex<HashSet<String>>, id: &str) -> Self {
        set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.to_owned());
        Self { set, id: id.to_owned() }
    }
}

impl Drop for Creating<'_> {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
}

/// A job that vanished between plan and write is nothing to do.
fn ignore_missing<T>(r: Result<Option<T>, EngineError>) -> Result<Option<T>, EngineError> {
    match r {
        Err(EngineError::NoSuchJob(_)) => Ok(None),
        other => other,
    }
}

enum Outcome {
    Created,
    NoCapacity,
    Unknown,
    Fatal(String),
}
