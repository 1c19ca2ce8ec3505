//! podwarden's server: the REST API the CLI, apps and the dashboard call, over the orchestration
//! of `podwarden-control` (accounts, the supervised reconcile loop that enforces limits whether
//! or not a client is connected, replicas, followers), which it starts and holds.
//!
//! `start` takes a `ServerConfig` (`config.rs`: every setting, filled by `podwarden serve` from
//! its flags and environment; this crate reads no environment), opens the store, chooses the
//! provider — RunPod with the operator's key (its URLs configurable, so a standalone emulator
//! works the same), else an embedded emulator — and serves on the given address.
//!
//! Owns: HTTP (routes, auth, limits, the dashboard), users, webhook delivery, and building the
//! `Control` at start. Must not: hold policy (caps, costs, provider checks live in engine and
//! store) or orchestration (`podwarden-control`), or link the emulator without
//! `embedded-emulator`.

/// The wire types (the `podwarden-api` crate's).
pub use podwarden_api::types as api;
mod body_budget;
mod config;
mod dashboard;
pub mod embedded;
mod error;
mod extract;
mod guard;
mod image_checks;
pub mod listener;
pub mod openapi;
pub mod registry;
mod routes;
mod secrets;
pub mod users;
pub mod volume_files;
mod volumes;
mod webhooks;

pub(crate) use config::S3Settings;
pub use config::{AwsConfig, RunPodSettings, ServerConfig};
pub use podwarden_control::{Control, keys, tasks};
use podwarden_control::{accounts, driving, pod_logs, replicas, serverless_streams};
pub use secrets::{rotate_secret, secret_file};
use secrets::{same_sealing_key, same_token_secret, sealer, secret_or_file};

use anyhow::Context;
use podwarden_engine::{AnyProvider, Clock, Engine, RunPodProvider};
use podwarden_store::Store;
use secrecy::ExposeSecret;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the HTTP layer holds: the orchestration (`Control`, which the state dereferences to)
/// and what only requests need.
pub(crate) struct AppState {
    pub control: Arc<Control>,
    pub simulated: bool,
    pub provider: String,
    pub guard: guard::AuthGuard,
    pub s3: S3Settings,
    /// The registry's word on images jobs name (`image_checks`).
    pub(crate) images: image_checks::ImageChecks,
    pub limits: listener::ConnLimits,
    pub body_budget: body_budget::BodyBudget,
    /// What an invite's spend cap is unless the admin names one.
    pub default_spend_cap_usd: Option<f64>,
    /// Webhooks may go to this machine (`ServerConfig::webhooks_local`).
    pub webhooks_local: bool,
}

impl std::ops::Deref for AppState {
    type Target = Control;
    fn deref(&self) -> &Control {
        &self.control
    }
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    pub url: String,
    pub token: String,
    pub simulated: bool,
    cancel: CancellationToken,
    tracker: TaskTracker,
    emulator: Option<embedded::Embedded>,
    /// On Postgres: the leases to give up at shutdown.
    replicas: Option<(Arc<replicas::Replicas>, Store)>,
}

impl RunningServer {
    /// Stops serving and reconciling (pods keep their in-pod watchdogs).
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tracker.wait()).await;
        if let Some((r, store)) = &self.replicas {
            r.release_all(store).await;
        }
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }

    /// Waits until a shutdown is requested elsewhere.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }
}

/// Whether the provider's REST API is on this machine (a standalone `podwarden emulator`): its
/// pods run here too and reach a loopback URL. RunPod itself is never at a loopback address.
pub fn is_local_provider(rest: &url::Url) -> bool {
    match rest.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Against RunPod, pods must be able to reach the public URL, or the operator must say they
/// cannot (`none`): a loopback or private address would leave every callback unanswered.
pub fn check_public_url(public: Option<&str>) -> anyhow::Result<()> {
    const HINT: &str = "set PODWARDEN_PUBLIC_URL (or --public-url) to the https URL pods reach this server at (docs/deployment.md), \
                        or to `none` to run without callbacks: exits are then read from the pods' logs and pods cannot post metrics";
    let Some(public) = public else {
        anyhow::bail!("podwarden serve with RUNPOD_API_KEY needs a public URL; {HINT}")
    };
    if public == "none" {
        return Ok(());
    }
    let u = url::Url::parse(public).map_err(|e| {
        anyhow::anyhow!("PODWARDEN_PUBLIC_URL {public:?} is not a URL ({e}); {HINT}")
    })?;
    let unreachable = match u.host() {
        None => true,
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.ends_with(".localhost")
                || d.ends_with(".local")
                || !d.contains('.')
        }
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
        }
    };
    if unreachable {
        anyhow::bail!(
            "PODWARDEN_PUBLIC_URL {public} is not reachable from RunPod's pods (a loopback, private or local address); {HINT}"
        );
    }
    Ok(())
}

/// The install's identity (the prefix of every pod and endpoint name it creates) outlives its
/// database: it is kept in `home/install_id` (or given as `PODWARDEN_INSTALL_ID`), and a new or
/// restored database adopts it, so the pods a lost database knew are recognised as this
/// install's orphans and terminated instead of billing unnoticed.
async fn install_identity(
    store: &Store,
    home: &Path,
    given: Option<&str>,
) -> anyhow::Result<String> {
    let file = home.join("install_id");
    let valid = |v: &str| {
        (4..=16).contains(&v.len())
            && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let given = given.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(g) = given.as_deref().filter(|g| !valid(g)) {
        anyhow::bail!(
            "PODWARDEN_INSTALL_ID={g:?} is not an install id (4–16 lowercase letters and digits)"
        );
    }
    let kept = given.or_else(|| {
        std::fs::read_to_string(&file).ok().map(|v| v.trim().to_owned()).filter(|v| valid(v))
    });
    let id = store.install_id_or(kept.as_deref()).await?;
    match kept {
        Some(k) if k != id => tracing::warn!(
            database = %id, kept = %k,
            "the database belongs to another install than install_id says; using the database's (pods named pw-{k}-… show up as strays: GET /api/v1/strays)"
        ),
        _ => {}
    }
    if std::fs::read_to_string(&file).ok().as_deref().map(str::trim) != Some(id.as_str()) {
        std::fs::write(&file, format!("{id}\n"))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(id)
}

/// Opens the SQLite file `db`, saying what to do when it cannot.
async fn open_file(db: &Path) -> anyhow::Result<Store> {
    Store::open_sqlite(db).await.map_err(|e| {
        if e.is_corrupt_file() {
            anyhow::anyhow!(
                "{} is not a readable SQLite database (damaged or not podwarden's): restore it from a backup, or move it aside to start \
                 afresh — pods it started still stop on their own (in-pod watchdog), and `podwarden doctor` lists any still billing",
                db.display()
            )
        } else if e.is_busy() {
            anyhow::anyhow!("{} is locked by another process (another podwarden server on this data directory?)", db.display())
        } else {
            anyhow::Error::new(e).context(format!("cannot open the database {}", db.display()))
        }
    })
}

/// Connects to a shared Postgres (the URL is never printed: it may hold a password).
async fn open_shared(url: &str) -> anyhow::Result<Store> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        anyhow::bail!(
            "the database URL must be postgres://USER@HOST/DB (or sqlite://PATH); it starts with {:?}",
            url.split("://").next().unwrap_or_default()
        );
    }
    Store::open_postgres(url).await.map_err(|e| {
        let what = if e.is_busy() {
            "Postgres refused more connections"
        } else {
            "cannot use the Postgres database"
        };
        anyhow::Error::new(e).context(format!("{what} (PODWARDEN_DATABASE_URL or --database)"))
    })
}

/// Where work runs, as `start` decided from `cfg`.
struct ProviderChoice {
    client: runpod::Client,
    emulator: Option<embedded::Embedded>,
    /// The embedded emulator: nothing bills.
    simulated: bool,
    /// How the server names it in `/api/v1/info`.
    name: String,
}

/// The operator's RunPod account, BYOK-only RunPod, a test's client, or the embedded emulator.
async fn choose_provider(
    cfg: &ServerConfig,
    store: &Store,
    port: u16,
) -> anyhow::Result<ProviderChoice> {
    let operator = cfg.runpod.api_key.clone();
    if cfg.byok_only && operator.is_some() && cfg.client.is_none() {
        anyhow::bail!(
            "RUNPOD_API_KEY is set, so this server has an operator key; unset it to run BYOK-only"
        );
    }
    let p = |client: runpod::Client, name: String| ProviderChoice {
        client,
        emulator: None,
        simulated: false,
        name,
    };
    Ok(match (&cfg.client, operator) {
        // No operator key: a client that only carries RunPod's URLs (its key is never used:
        // the hosted engine does not run and hosted work is refused).
        (c, _) if cfg.byok_only => {
            let urls = match c {
                Some(c) => RunPodSettings {
                    api_key: None,
                    rest_url: Some(c.rest_url().to_string()),
                    endpoint_base_url: Some(c.endpoint_base_url().to_string()),
                },
                None => cfg.runpod.clone(),
            };
            let c = urls.client(runpod::ApiKey::new("no-operator-key"))?;
            let name = format!("RunPod at {} (BYOK only: every user's own key)", c.rest_url());
            p(c, name)
        }
        (Some(c), _) => p(c.clone(), c.rest_url().to_string()),
        (None, Some(key)) => {
            let c = cfg.runpod.client(key)?;
            let name = c.rest_url().to_string();
            p(c, name)
        }
        (None, None) => {
            if store.backend() == podwarden_store::Backend::Postgres {
                tracing::warn!(
                    "the embedded emulator lives in this server alone: other replicas on this Postgres \
                     would each see their own; for several replicas run one `podwarden emulator` \
                     (or RunPod) and point every replica at it"
                );
            }
            let emu = embedded::Embedded::start(cfg, store, port).await?;
            let name = format!("embedded emulator at {}", emu.base_url());
            ProviderChoice { client: emu.client(), emulator: Some(emu), simulated: true, name }
        }
    })
}

/// Where volumes' files are over S3: the embedded emulator's own, else `cfg`'s or RunPod's.
fn s3_settings(cfg: &ServerConfig, emulator: Option<&embedded::Embedded>) -> S3Settings {
    if let Some(emu) = emulator {
        return emu.s3_settings();
    }
    S3Settings {
        data_centers: match &cfg.s3_data_centers {
            Some(list) => list.iter().filter(|d| !d.is_empty()).cloned().collect(),
            None => runpod::types::network_volumes::S3_API_DATA_CENTERS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
        },
        endpoints: cfg.s3_endpoints.clone(),
        operator_key: cfg
            .s3_operator_key
            .as_ref()
            .map(|(id, secret)| (id.clone(), secret.expose_secret().to_owned())),
    }
}

/// Opens the database `cfg` names: a shared Postgres, or a SQLite file (the data directory's).
async fn open_store(cfg: &ServerConfig) -> anyhow::Result<Store> {
    match &cfg.database {
        Some(url) if !url.starts_with("sqlite:") => open_shared(url).await,
        other => {
            open_file(&other.as_deref().map_or_else(
                || cfg.home.join("podwarden.db"),
                |u| PathBuf::from(u.strip_prefix("sqlite://").unwrap_or(u)),
            ))
            .await
        }
    }
}

/// Starts a server per `cfg` (which holds every setting: this reads no environment).
pub async fn start(cfg: ServerConfig) -> anyhow::Result<RunningServer> {
    {
        // The data directory holds the database and secrets: its owner's alone (0700).
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&cfg.home)
            .and_then(|()| {
                std::fs::set_permissions(&cfg.home, std::fs::Permissions::from_mode(0o700))
            })
            .with_context(|| format!("cannot create {}", cfg.home.display()))?;
    }
    // The admin's token: PODWARDEN_ADMIN_TOKEN, else the token file (made at first start, 0600).
    let token = secret_or_file(cfg.admin_token.as_ref(), &cfg.home.join("token"))?;
    // The job tokens' secret: replicas share PODWARDEN_TOKEN_SECRET (a pod calls back whichever
    // replica the proxy picks); one server keeps its own in the data directory.
    let secret = secret_or_file(cfg.token_secret.as_ref(), &cfg.home.join("secret"))?;
    let store = open_store(&cfg).await?;
    let old_token =
        cfg.old_admin_token.as_ref().map(|t| t.expose_secret().trim()).filter(|t| !t.is_empty());
    let shared = store.backend() == podwarden_store::Backend::Postgres;
    users::same_admin_token(&store, &token, old_token, shared).await?;
    users::ensure_admin(&store, &token).await.context("cannot set up the admin user")?;
    install_identity(&store, &cfg.home, cfg.install_id.as_deref()).await?;
    let listener = tokio::net::TcpListener::bind(cfg.addr)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.addr))?;
    let url = format!("http://{}", listener.local_addr()?);

    let ProviderChoice { client, emulator, simulated, name: provider } =
        choose_provider(&cfg, &store, listener.local_addr()?.port()).await?;
    // Provider keys at rest: a real deployment must bring its secret; dev (the embedded
    // emulator or a test client) gets one made in the data directory.
    let dev = simulated || cfg.client.is_some();
    // A provider on this machine (a standalone `podwarden emulator`) runs its pods here too:
    // they reach a loopback URL. RunPod itself is never at a loopback address.
    // Unset, the public URL is this server's own: right for a provider on this machine.
    let local = is_local_provider(client.rest_url()) && cfg.public_url.is_none();
    if !dev && !local {
        check_public_url(cfg.public_url.as_deref())?;
    }
    let sealer = sealer(&cfg, dev)?;
    if let Some(emu) = &emulator {
        emu.adopt_seeded_volumes(&store).await?;
    }
    let s3 = s3_settings(&cfg, emulator.as_ref());
    if store.backend() == podwarden_store::Backend::Postgres {
        same_token_secret(&store, &secret).await?;
        same_sealing_key(&store, &sealer).await?;
    }
    let options = engine_options(&cfg, secret.into_bytes(), &url);
    let check_images = !simulated && !is_local_provider(client.rest_url());
    let store_backend = store.backend();
    let aws = aws_engine(&cfg, &store, &options).await?;
    let engine =
        Engine::new(store, AnyProvider::from(RunPodProvider::new(client)), options).await?;
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    let control = Arc::new(Control {
        engine,
        poke: Notify::new(),
        hosted: !cfg.byok_only,
        aws,
        default_provider: cfg.default_provider,
        sealer,
        accounts: accounts::Accounts::default(),
        shutdown: cancel.clone(),
        followers: pod_logs::Followers::default(),
        stream_followers: serverless_streams::StreamFollowers::default(),
        tasks: tasks::Tasks::default(),
        driver: podwarden_engine::driver::Driver::new(
            driving::CONCURRENCY,
            cfg.tick,
            cancel.clone(),
        ),
        bills_due: Default::default(),
        billing_settle_ms: cfg.billing_settle.as_millis() as i64,
        replicas: (store_backend == podwarden_store::Backend::Postgres)
            .then(|| Arc::new(replicas::Replicas::new(cfg.tick, cfg.replica_name.as_deref()))),
    });
    let state = Arc::new(AppState {
        control: control.clone(),
        simulated,
        provider,
        guard: guard::AuthGuard::new(),
        images: image_checks::ImageChecks::new(
            cfg.image_checks.unwrap_or(check_images),
            cfg.image_checks_local,
        ),
        s3,
        // Kept under the process's file-descriptor limit, for the listener and the state alike.
        limits: cfg.limits.clone().within_fd_limit(),
        body_budget: body_budget::BodyBudget::new(cfg.limits.body_memory_mib),
        default_spend_cap_usd: cfg.default_spend_cap_usd,
        webhooks_local: cfg.webhooks_local,
    });
    replicas::Replicas::spawn_heartbeat(control.clone(), &tracker, cancel.clone());
    replicas::Replicas::spawn_listener(control.clone(), &tracker, cancel.clone());
    // podwarden's own images (`@tabular`): a missing one is said at start, not at a job's end.
    let s = state.clone();
    tracker.spawn(async move { s.images.check_own().await });
    tracker.spawn(webhooks::run(state.clone()));

    let app = routes::router(state.clone());
    let c = cancel.clone();
    let limits = state.limits.clone();
    tracker.spawn(listener::serve(listener, app, limits, c));
    // Each account's reconcilers run in their own task (`driving`); this loop starts the tasks
    // of accounts with work, on a period and on a poke, never told what changed.
    tracker.spawn(driving::run(control.clone(), tracker.clone(), cancel.clone(), cfg.tick));
    let replicas = state.replicas.clone().map(|r| (r, state.engine.store().clone()));
    Ok(RunningServer { url, token, simulated, cancel, tracker, emulator, replicas })
}

/// The operator's AWS account's engine, when `cfg` has one: its instances carry this install's
/// tag, and it acts only on jobs placed on `aws:hosted`.
async fn aws_engine(
    cfg: &ServerConfig,
    store: &Store,
    options: &podwarden_engine::EngineOptions,
) -> anyhow::Result<Option<Engine<AnyProvider>>> {
    let Some(a) = &cfg.aws else { return Ok(None) };
    let mut settings = a.settings.clone();
    settings.install = store.install_id().await?;
    let mut options = options.clone();
    options.account = podwarden_core::Account::hosted_on(podwarden_core::ProviderKind::Aws);
    let provider = podwarden_engine::AwsProvider::new(a.client.clone(), settings);
    Ok(Some(Engine::new(store.clone(), AnyProvider::from(provider), options).await?))
}

/// The engine's options from the server's settings: its callback base (`public_url`, else this
/// server's own URL; `none` for no callbacks), grace and ceilings, the crash test's failpoint.
fn engine_options(
    cfg: &ServerConfig,
    token_secret: Vec<u8>,
    url: &str,
) -> podwarden_engine::EngineOptions {
    let mut options = podwarden_engine::EngineOptions::new(Clock::system(), token_secret);
    // `none`: no callbacks (exits come from the pods' logs); the wrapper still runs.
    options.callback_base =
        Some(cfg.public_url.clone().filter(|u| u != "none").unwrap_or_else(|| url.to_owned()));
    options.intent_grace_ms = cfg.intent_grace.as_millis() as i64;
    options.watchdog_ceiling_secs = cfg.watchdog_ceiling.as_secs();
    options.wrapper_start_ms = cfg.wrapper_start.as_millis() as i64;
    options.pass_period_ms = cfg.tick.as_millis() as i64;
    // The crash test's failpoint (the engine itself reads no environment).
    options.crash = cfg.crash_at.map(|at| podwarden_engine::Failpoint {
        at,
        then: podwarden_engine::OnCrash::AbortProcess,
    });
    options
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_public_url_pods_cannot_reach_is_refused_against_runpod() {
        let refused = [
            None,
            Some("http://127.0.0.1:8711"),
            Some("http://localhost:8711"),
            Some("http://192.168.1.5:8711"),
            Some("http://10.0.0.2"),
            Some("http://100.64.0.1"),
            Some("http://[::1]:8711"),
            Some("http://myhost:8711"),
            Some("not a url"),
        ];
        for url in refused {
            let e = super::check_public_url(url).expect_err("refused");
            assert!(
                e.to_string().contains("PODWARDEN_PUBLIC_URL"),
                "{url:?}: says what to set: {e}"
            );
        }
        for url in ["https://podwarden.example.com", "http://203.0.113.7:8711", "none"] {
            assert!(super::check_public_url(Some(url)).is_ok(), "{url}");
        }
    }
}
