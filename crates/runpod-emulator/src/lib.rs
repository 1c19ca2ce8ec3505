//! A faithful local emulator of RunPod: REST v2, the serverless job API, the worker callback
//! API and a GraphQL subset, on one port, so every flow runs offline and for free.
//!
//! Pods run their command as local processes; serverless workers are local processes speaking
//! RunPod's worker protocol (RunPod's own Python runtime works unchanged). It serves several
//! accounts, each key belonging to one, with RunPod's per-account request budgets
//! (`ratelimit.rs`) and the spec's query rules (catalog filters, billing windows). Billing, capacity,
//! boot delays, timeouts and retention follow RunPod's documented behaviour, on a real clock or
//! on a manual one that moves only when a test says so. Faults (429 storms, 5xx, lost create
//! responses, pods that never boot, preemption, crash-looping workers) are configurable.
//!
//! Must not: be more forgiving than RunPod (`docs/emulator.md` records every reading taken), or
//! be linked into a production image (the server's and CLI's `embedded-emulator` feature).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use runpod_emulator::{EmulatorConfig, Options, start};
//! let emu = start(EmulatorConfig::default(), Options::default()).await?;
//! let client = emu.client();
//! println!("{} pods", client.list_pods().await?.len());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

pub mod capacity;
pub mod clock;
pub mod config;
pub mod container;
pub mod faults;
mod globalnet;
pub mod image;
pub mod logs;
mod net;
pub mod paging;
pub mod problem;
pub mod process;
pub mod ratelimit;
mod routes;
mod s3;
pub mod validate;
pub mod world;

pub use clock::Clock;
pub use config::EmulatorConfig;
pub use faults::{FaultConfig, HttpFault};

use anyhow::Context;
use chrono::{DateTime, Utc};
use faults::FaultState;
use parking_lot::Mutex;
use runpod::ApiKey;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use world::{Effect, Owner, World};

/// One request/response pair, recorded for contract tests.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// The route template, e.g. `/v2/pods/{id}`.
    pub route: String,
    pub status: u16,
    pub content_type: String,
    pub body: bytes::Bytes,
}

/// Per-key wake-ups for long polls: `job-take` waits on its endpoint's queue, `/runsync` on
/// its job, `job-stop` on its worker, so one change wakes only the polls that care.
#[derive(Debug, Default)]
pub struct Notifier {
    map: Mutex<std::collections::HashMap<String, Arc<tokio::sync::Notify>>>,
}

impl Notifier {
    /// A subscription to `key`; arm it with `notified()` before checking the state.
    pub fn subscribe(&self, key: String) -> Subscription<'_> {
        let notify = self.map.lock().entry(key.clone()).or_default().clone();
        Subscription { notifier: self, key, notify }
    }

    /// Wakes every poll waiting on `key`.
    pub fn wake(&self, key: &str) {
        if let Some(n) = self.map.lock().get(key) {
            n.notify_waiters();
        }
    }

    /// Wakes every poll.
    pub fn wake_all(&self) {
        for n in self.map.lock().values() {
            n.notify_waiters();
        }
    }
}

/// A live subscription; the key is dropped with its last subscriber.
#[derive(Debug)]
pub struct Subscription<'a> {
    notifier: &'a Notifier,
    key: String,
    pub notify: Arc<tokio::sync::Notify>,
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        let mut map = self.notifier.map.lock();
        // The map holds one reference and this subscription another: nobody else waits.
        if Arc::strong_count(&self.notify) <= 2
            && map.get(&self.key).is_some_and(|n| Arc::ptr_eq(n, &self.notify))
        {
            map.remove(&self.key);
        }
    }
}

/// State shared by every handler and background task.
#[derive(Debug)]
pub struct Shared {
    pub world: Mutex<World>,
    pub clock: Clock,
    pub faults: Mutex<FaultState>,
    /// The main account's key.
    pub key: ApiKey,
    /// Every account key → the account (user id) it belongs to.
    pub keys: std::collections::HashMap<String, String>,
    pub runner: process::Runner,
    /// Wakes long polls (`job-take`, `job-stop`, `/runsync`) when what they wait on changes.
    pub notifier: Notifier,
    /// Request budgets spent so far.
    pub limiter: Mutex<ratelimit::Limiter>,
    /// Bumped after every world operation; lets tests wait for a state without sleeping.
    pub world_changed: tokio::sync::watch::Sender<u64>,
    pub recorder: Option<Mutex<Vec<Exchange>>>,
    /// The most recent account calls and the key each came with (last 4 characters).
    pub account_calls: Mutex<std::collections::VecDeque<AccountCall>>,
    pub cfg: Arc<EmulatorConfig>,
    http: reqwest::Client,
}

/// One call made with an account key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountCall {
    pub method: String,
    pub path: String,
    /// Last 4 characters of the key it came with.
    pub key_last4: String,
}

/// Account calls kept for `account_calls` (oldest dropped first).
const ACCOUNT_CALLS_KEPT: usize = 10_000;

impl Shared {
    /// The account `k` is a key of, if it is an account key.
    pub fn account_of(&self, k: &str) -> Option<&str> {
        self.keys.get(k).map(String::as_str)
    }

    /// Records an account call (for tests of which key a client used).
    pub fn record_account_call(&self, method: &str, path: &str, key: &str) {
        let last4: String =
            key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        let mut calls = self.account_calls.lock();
        if calls.len() >= ACCOUNT_CALLS_KEPT {
            calls.pop_front();
        }
        calls.push_back(AccountCall {
            method: method.to_owned(),
            path: path.to_owned(),
            key_last4: last4,
        });
    }

    /// Runs `f` on the world at the current emulated time, then performs the effects it queued.
    pub fn with_world<R>(self: &Arc<Self>, f: impl FnOnce(&mut World, DateTime<Utc>) -> R) -> R {
        let now = self.clock.now();
        let (r, effects) = {
            let mut w = self.world.lock();
            let r = f(&mut w, now);
            (r, w.drain_effects())
        };
        self.apply(effects);
        self.world_changed.send_modify(|v| *v = v.wrapping_add(1));
        r
    }

    fn apply(self: &Arc<Self>, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Spawn(spec) => self.runner.spawn(self, *spec),
                Effect::Kill { owner, generation, grace_ms } => {
                    self.runner.kill(owner, generation, grace_ms)
                }
                Effect::Wake(world::Wake::All) => self.notifier.wake_all(),
                Effect::Wake(w) => self.notifier.wake(&w.key()),
                Effect::Webhook { url, body } => self.webhook(url, body),
                Effect::RemoveDir(dir) => {
                    let _ = std::fs::remove_dir_all(dir);
                }
                Effect::WriteHosts { dir, version, text } => {
                    if let Err(e) = self.runner.global.write_hosts(&dir, version, &text) {
                        tracing::warn!(dir = %dir.display(), "cannot write a global network's hosts file: {e}");
                    }
                }
            }
        }
    }

    pub(crate) fn process_exited(
        self: &Arc<Self>,
        owner: Owner,
        generation: u64,
        code: Option<i32>,
    ) {
        self.with_world(|w, now| match &owner {
            Owner::Pod(id) => w.pod_process_exited(id, generation, code, now),
            Owner::Worker(id) => w.worker_process_exited(id, generation, code, now),
        });
    }

    /// RunPod posts the `/status` body once; failures are retried up to 2 more times.
    fn webhook(self: &Arc<Self>, url: String, body: serde_json::Value) {
        let (http, cancel, wait) = (
            self.http.clone(),
            self.runner.cancel.clone(),
            Duration::from_millis(self.cfg.serverless.webhook_retry_ms),
        );
        self.runner.tracker.spawn(async move {
            for attempt in 0..3 {
                if attempt > 0 {
                    tokio::select! { () = tokio::time::sleep(wait) => {}, () = cancel.cancelled() => return }
                }
                match http.post(&url).json(&body).timeout(Duration::from_secs(10)).send().await {
                    Ok(r) if r.status().is_success() => return,
                    _ => tracing::debug!(attempt, "webhook delivery failed"),
                }
            }
        });
    }

    /// Advances every state machine to now.
    pub fn tick(self: &Arc<Self>) {
        self.with_world(|w, now| w.tick(now));
    }
}

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Listen address; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Keep every request/response pair (contract tests).
    pub record: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { addr: SocketAddr::from(([127, 0, 0, 1], 0)), record: false }
    }
}

/// A running emulator. Dropping it without [`RunningEmulator::shutdown`] still stops the
/// server and kills every process it started.
#[derive(Debug)]
pub struct RunningEmulator {
    pub shared: Arc<Shared>,
    addr: SocketAddr,
    /// The S3 API's base URL per data center.
    s3_urls: std::collections::BTreeMap<String, String>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    _tmp: Option<tempfile::TempDir>,
}

/// Starts an emulator per `cfg`.
pub async fn start(cfg: EmulatorConfig, opts: Options) -> anyhow::Result<RunningEmulator> {
    let clock = match &cfg.manual_clock_start {
        Some(s) => Clock::manual(
            DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("manual_clock_start {s:?} is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => Clock::Real,
    };
    let (state_dir, tmp) = match &cfg.state_dir {
        Some(d) => {
            private_dir(d).with_context(|| format!("cannot create state dir {}", d.display()))?;
            (d.canonicalize().unwrap_or_else(|_| d.clone()), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("runpod-emulator-")
                .tempdir()
                .context("cannot create a temporary state dir")?;
            (PathBuf::from(t.path()), Some(t))
        }
    };
    let isolation = if cfg.unsandboxed {
        tracing::warn!(
            "containers run UNSANDBOXED: they share this machine's files and tools (emulator config `unsandboxed`)"
        );
        process::Isolation::Unsandboxed
    } else {
        process::probe_sandbox().and_then(|()| net::probe().map(|_| ())).map_err(|e| {
            anyhow::anyhow!("the emulator runs pods and workers in a sandbox, and {e}; or start it unsandboxed (`--unsandboxed`, config `unsandboxed = true`) to run them as plain processes")
        })?;
        process::Isolation::Sandbox
    };
    let key = ApiKey::new(cfg.api_key.clone().unwrap_or_else(|| world::random_secret("rpa_EMU")));
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .with_context(|| format!("cannot listen on {}", opts.addr))?;
    let addr = listener.local_addr()?;
    let mut cfg = cfg;
    if cfg.sshd_program.is_none() {
        cfg.sshd_program = cfg.find_sshd();
    }
    let cfg = Arc::new(cfg);
    let (mut world, keys) = World::new(cfg.clone(), state_dir.clone(), key.expose());
    world.base_url = format!("http://{addr}");
    for v in world.volumes.values_mut() {
        v.billed_until = clock.now();
    }
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    let shared = Arc::new(Shared {
        world: Mutex::new(world),
        faults: Mutex::new(FaultState::new(cfg.faults.clone(), cfg.seed)),
        clock: clock.clone(),
        key,
        keys,
        runner: process::Runner::new(tracker.clone(), cancel.clone(), isolation),
        notifier: Notifier::default(),
        limiter: Mutex::new(ratelimit::Limiter::default()),
        world_changed: tokio::sync::watch::channel(0).0,
        recorder: opts.record.then(|| Mutex::new(Vec::new())),
        account_calls: Mutex::new(std::collections::VecDeque::new()),
        http: reqwest::Client::builder().build().context("cannot build the webhook HTTP client")?,
        cfg: cfg.clone(),
    });
    // The first billing run is a cycle after the start: until then no bill shows.
    shared.with_world(|w, now| w.ledger.run_billing(now, &cfg.billing, cfg.seed));
    let app = routes::router(shared.clone());
    let c = cancel.clone();
    tracker.spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(c.cancelled_owned()).await;
    });
    let s3_urls = serve_s3(&shared, &state_dir, opts.addr.ip(), &cancel, &tracker).await?;
    // What a sandboxed container reaches on this machine: the emulator, its S3 endpoints and
    // the ports the operator allows (`net`).
    if isolation == process::Isolation::Sandbox {
        let mut ports: Vec<u16> = vec![addr.port()];
        ports.extend(s3_urls.values().filter_map(|u| u.rsplit(':').next()?.parse::<u16>().ok()));
        ports.extend(cfg.allow_host_ports.iter().copied());
        ports.sort_unstable();
        ports.dedup();
        let dir = state_dir.join("net");
        net::serve(&dir, &ports, &tracker, &cancel).await.with_context(|| {
            format!("cannot set up the containers' network bridge in {}", dir.display())
        })?;
        let (sh, socat) = net::probe().map_err(|e| anyhow::anyhow!(e))?;
        let _ = shared.runner.net.set(net::Bridge { dir, ports, sh, socat });
    }
    if !clock.is_manual() {
        let (s, c) = (shared.clone(), cancel.clone());
        let period = Duration::from_millis(cfg.tick_ms.max(10));
        tracker.spawn(async move {
            let mut iv = tokio::time::interval(period);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! { _ = iv.tick() => s.tick(), () = c.cancelled() => break }
            }
        });
    }
    Ok(RunningEmulator { shared, addr, s3_urls, cancel, tracker, _tmp: tmp })
}

/// One S3 endpoint per data center (`s3.rs`), each on its own port as RunPod has one host per
/// data center; returns their base URLs.
async fn serve_s3(
    shared: &Arc<Shared>,
    state_dir: &std::path::Path,
    ip: std::net::IpAddr,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let keys: std::collections::HashMap<String, String> = shared
        .world
        .lock()
        .accounts
        .values()
        .map(|a| (a.user_id.clone(), a.s3_secret.clone()))
        .collect();
    // Only where RunPod serves it: elsewhere `s3api-<dc>.runpod.io` does not resolve.
    let dcs: Vec<String> = shared
        .cfg
        .data_centers
        .iter()
        .map(|d| d.id.clone())
        .filter(|d| shared.cfg.has_s3(d))
        .collect();
    let mut urls = std::collections::BTreeMap::new();
    for dc in dcs {
        let port = shared.cfg.s3_ports.get(&dc).copied().unwrap_or(0);
        let listener = tokio::net::TcpListener::bind((ip, port))
            .await
            .with_context(|| format!("cannot listen for {dc}'s S3 API on port {port}"))?;
        urls.insert(dc.clone(), format!("http://{}", listener.local_addr()?));
        let mut b = s3s::service::S3ServiceBuilder::new(s3::VolumeS3::new(
            &dc,
            Arc::downgrade(shared),
            state_dir.join("s3").join(&dc),
        ));
        b.set_auth(s3::Keys(keys.clone()));
        let service = b.build().into_shared();
        let c = cancel.clone();
        tracker.spawn(async move {
            let http =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                let socket = tokio::select! {
                    r = listener.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
                    () = c.cancelled() => break,
                };
                let conn = http
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
        });
    }
    Ok(urls)
}

impl RunningEmulator {
    /// The worker-protocol settings of a worker of `endpoint` that a test drives by hand
    /// (`WorkerClient::new`), calling with `key` (the account's, or one of its extra keys).
    pub fn worker_config(
        &self,
        endpoint: &str,
        key: ApiKey,
    ) -> runpod::client::worker::WorkerConfig {
        let b = self.base_url();
        runpod::client::worker::WorkerConfig {
            get_job_url: format!("{b}/v2/{endpoint}/job-take/$ID?gpu=TEST"),
            post_output_url: format!("{b}/v2/{endpoint}/job-done/$RUNPOD_POD_ID/$ID?gpu=TEST"),
            post_stream_url: format!("{b}/v2/{endpoint}/job-stream/$RUNPOD_POD_ID/$ID?gpu=TEST"),
            ping_url: None,
            worker_id: "test-worker".into(),
            endpoint_id: Some(endpoint.into()),
            api_key: key,
            ping_interval: Duration::from_secs(10),
        }
    }

    /// `http://127.0.0.1:PORT`: REST v2 lives under `/v2`, GraphQL at `/graphql`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// The serverless job API base (`RUNPOD_ENDPOINT_BASE_URL`).
    pub fn endpoint_base_url(&self) -> String {
        format!("{}/v2", self.base_url())
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Base URL of a data center's S3 API (RunPod: `https://s3api-<dc>.runpod.io`).
    pub fn s3_url(&self, dc: &str) -> Option<&str> {
        self.s3_urls.get(dc).map(String::as_str)
    }
    /// Every data center's S3 API base URL.
    pub fn s3_urls(&self) -> &std::collections::BTreeMap<String, String> {
        &self.s3_urls
    }
    /// The S3 API key of the account `api_key` belongs to: (access key id = user id, secret).
    pub fn s3_credentials(&self, api_key: &str) -> Option<(String, String)> {
        let acct = self.shared.account_of(api_key)?.to_owned();
        self.shared.world.lock().account(&acct).map(|a| (a.user_id.clone(), a.s3_secret.clone()))
    }
    /// Calls made with an account key, oldest first, with the key's last 4 characters.
    pub fn account_calls(&self) -> Vec<AccountCall> {
        self.shared.account_calls.lock().iter().cloned().collect()
    }

    /// The account key.
    pub fn api_key(&self) -> &ApiKey {
        &self.shared.key
    }
    /// A `runpod::Client` for this emulator's main account, with quick retries.
    pub fn client(&self) -> runpod::Client {
        self.client_for(self.shared.key.clone())
    }

    /// A `runpod::Client` calling with `key` (another account's, say), with quick retries.
    pub fn client_for(&self, key: ApiKey) -> runpod::Client {
        runpod::Client::builder()
            .api_key(key)
            .rest_url(self.base_url())
            .endpoint_base_url(self.endpoint_base_url())
            .retry(runpod::RetryPolicy {
                max_attempts: 4,
                min_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
                max_retry_after: Duration::from_secs(60),
            })
            .build()
            .unwrap_or_else(|_| unreachable!("the emulator's own URLs and key are valid"))
    }
    /// Moves the manual clock forward and runs one tick. Returns false on a real clock.
    pub fn advance(&self, by: Duration) -> bool {
        let moved = self.shared.clock.advance(by);
        self.shared.tick();
        moved
    }
    /// Runs one tick now.
    pub fn tick(&self) {
        self.shared.tick();
    }
    /// Replaces every fault.
    pub fn set_faults(&self, f: FaultConfig) {
        self.shared.with_world(|w, _| {
            w.pod_faults = f.pods.clone();
            w.worker_faults = f.workers.clone();
        });
        self.shared.faults.lock().set(f);
    }
    /// Waits until `f` returns `Some` (re-checked after every change to the world), or fails
    /// after `limit` of real time: an event-driven wait, not a sleep.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut f: impl FnMut(&World) -> Option<T>,
    ) -> anyhow::Result<T> {
        let mut rx = self.shared.world_changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(v) = f(&self.shared.world.lock()) {
                return Ok(v);
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { anyhow::bail!("emulator stopped while waiting for {what}") },
                () = tokio::time::sleep_until(deadline) => anyhow::bail!("timed out after {limit:?} waiting for {what}"),
            }
        }
    }

    /// Recorded exchanges (when started with `record`).
    pub fn recorded(&self) -> Vec<Exchange> {
        self.shared.recorder.as_ref().map(|r| r.lock().clone()).unwrap_or_default()
    }
    /// Stops the server and background tasks and kills every process it started.
    pub async fn shutdown(self) {
        self.stop();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tracker.wait()).await;
    }
    fn stop(&self) {
        self.shared.runner.kill_all();
        self.cancel.cancel();
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates `d` (and its parents) and makes it its owner's alone (0700): the emulator's state and
/// every volume's files are no other host user's to read.
pub fn private_dir(d: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(d)?;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
}
