//! How to run a server: every setting `start` takes, with their defaults. `podwarden serve`
//! fills it from its flags and environment (`crates/cli/src/serve.rs`); tests build it directly.

use crate::{embedded, listener};
use anyhow::Context;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Data directory: database, token, secret, embedded emulator state.
    pub home: PathBuf,
    pub addr: SocketAddr,
    /// Reconcile period.
    pub tick: Duration,
    /// URL pods use for exit callbacks (default: the server's own URL, fine for the embedded
    /// emulator whose pods are local processes; set it for real RunPod pods).
    pub public_url: Option<String>,
    /// Embedded emulator settings when no RunPod key is configured.
    pub emulator: embedded::EmulatorConfig,
    /// Use this RunPod client instead of the environment (tests).
    pub client: Option<runpod::Client>,
    /// The operator's AWS account (`PODWARDEN_AWS=on`): EC2 instances for jobs that name
    /// `provider = "aws"`. `None`: AWS jobs are refused with how to turn it on.
    pub aws: Option<AwsConfig>,
    /// Where a job that names no provider runs (`PODWARDEN_DEFAULT_PROVIDER`; default RunPod).
    pub default_provider: podwarden_core::ProviderKind,
    /// How long a pod-create intent may wait for its pod (default 60 s).
    pub intent_grace: Duration,
    /// The in-pod watchdog's ceiling for jobs without `max_runtime` (default 24 h).
    pub watchdog_ceiling: Duration,
    /// How long a RunPod container may print before podwarden's wrapper starts before its job
    /// is given up (its image's entrypoint ignores its arguments; default 10 min).
    pub wrapper_start: Duration,
    /// RunPod with no operator key: every user's work runs on their own key, hosted compute is
    /// refused. (`client`, when set, then only names the provider's URLs; its key is unused.)
    pub byok_only: bool,
    /// S3 endpoints of network volumes by data center (default: RunPod's
    /// `https://s3api-<dc>.runpod.io`; the embedded emulator fills in its own).
    pub s3_endpoints: std::collections::BTreeMap<String, String>,
    /// The data centers whose volumes have RunPod's S3 API (default: `PODWARDEN_S3_DATA_CENTERS`,
    /// comma-separated, else RunPod's docs' list; the embedded emulator's own).
    pub s3_data_centers: Option<Vec<String>>,
    /// The operator account's S3 key (default: `RUNPOD_S3_ACCESS_KEY_ID` and
    /// `RUNPOD_S3_SECRET_ACCESS_KEY`; the embedded emulator's own).
    pub s3_operator_key: Option<(String, SecretString)>,
    /// Connection limits and timeouts (`listener`).
    pub limits: listener::ConnLimits,
    /// After this long since a pod ended, one present figure of the provider's bill is trusted;
    /// before, two reads ten minutes apart must agree (default 6 h; RunPod's billing lags).
    pub billing_settle: Duration,
    /// The database: `None` is the data directory's SQLite file; `postgres://…` is a Postgres
    /// that several replicas may share (`replicas`).
    pub database: Option<String>,
    /// The spend cap an invite gives a new user unless the admin names one
    /// (`PODWARDEN_DEFAULT_SPEND_CAP_USD`; none: no cap).
    pub default_spend_cap_usd: Option<f64>,
    /// Whether the images jobs and endpoints name are checked in their registry before RunPod
    /// is asked to pull them (`image_checks`). Default: on against RunPod unless
    /// `PODWARDEN_IMAGE_CHECKS=off`; off on the embedded emulator and a provider on this machine.
    pub image_checks: Option<bool>,
    /// Registries on this machine or a private network may be asked by the image checks (tests;
    /// by default only public registries are, so no user can make the server probe its network).
    pub image_checks_local: bool,
    /// The admin's token (`PODWARDEN_ADMIN_TOKEN`; default: the data directory's `token` file,
    /// made at first start).
    pub admin_token: Option<SecretString>,
    /// The admin token the replicas used so far, for a rotation on Postgres
    /// (`PODWARDEN_OLD_ADMIN_TOKEN`).
    pub old_admin_token: Option<SecretString>,
    /// The job tokens' secret, which replicas share (`PODWARDEN_TOKEN_SECRET`; default: the data
    /// directory's `secret` file).
    pub token_secret: Option<SecretString>,
    /// The key that seals users' provider keys at rest (`PODWARDEN_SECRET_KEY`): required
    /// against RunPod; the embedded emulator or a test client makes one in the data directory.
    pub secret_key: Option<SecretString>,
    /// The sealing key being rotated away from (`PODWARDEN_OLD_SECRET_KEY`).
    pub old_secret_key: Option<SecretString>,
    /// The operator's RunPod account (`RUNPOD_API_KEY`, `RUNPOD_REST_URL`,
    /// `RUNPOD_ENDPOINT_BASE_URL`): no key is the embedded emulator, or BYOK only.
    pub runpod: RunPodSettings,
    /// The install's id (`PODWARDEN_INSTALL_ID`; default: the data directory's `install_id`).
    pub install_id: Option<String>,
    /// The crash test's failpoint (`PODWARDEN_CRASH_AT`).
    pub crash_at: Option<podwarden_engine::CrashPoint>,
    /// This replica's name in leases and logs (`HOSTNAME`; default `replica`).
    pub replica_name: Option<String>,
    /// Webhooks may be plain http to this machine or a private network (tests; by default only
    /// https to public hosts, so no user can make the server post into its network).
    pub webhooks_local: bool,
}

/// Where volumes' files are over S3, and the operator's S3 key.
#[derive(Clone, Default)]
pub(crate) struct S3Settings {
    pub endpoints: std::collections::BTreeMap<String, String>,
    pub operator_key: Option<(String, String)>,
    /// The data centers that serve the S3 API: a volume elsewhere has no S3 endpoint.
    pub data_centers: std::collections::BTreeSet<String>,
}

impl S3Settings {
    /// Whether volumes in `dc` are reachable over S3.
    pub fn serves(&self, dc: &str) -> bool {
        self.data_centers.contains(dc)
    }

    /// The data centers with the S3 API, for messages.
    pub fn listed(&self) -> String {
        self.data_centers.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

impl ServerConfig {
    /// Defaults for `home`.
    pub fn new(home: PathBuf, addr: SocketAddr) -> Self {
        let emulator = embedded::default_config();
        Self {
            home,
            addr,
            tick: Duration::from_secs(2),
            public_url: None,
            emulator,
            client: None,
            aws: None,
            default_provider: podwarden_core::ProviderKind::RunPod,
            intent_grace: Duration::from_secs(60),
            watchdog_ceiling: Duration::from_secs(podwarden_engine::DEFAULT_WATCHDOG_CEILING_SECS),
            wrapper_start: Duration::from_millis(podwarden_engine::DEFAULT_WRAPPER_START_MS as u64),
            byok_only: false,
            s3_endpoints: std::collections::BTreeMap::new(),
            s3_data_centers: None,
            s3_operator_key: None,
            limits: listener::ConnLimits::default(),
            billing_settle: Duration::from_millis(
                podwarden_engine::billing::DEFAULT_BILL_SETTLE_MS as u64,
            ),
            database: None,
            default_spend_cap_usd: None,
            image_checks: None,
            image_checks_local: false,
            old_admin_token: None,
            webhooks_local: false,
            admin_token: None,
            token_secret: None,
            secret_key: None,
            old_secret_key: None,
            runpod: RunPodSettings::default(),
            install_id: None,
            crash_at: None,
            replica_name: None,
        }
    }
}

/// The operator's AWS account: a client (its region, endpoints and credentials) and how
/// instances are launched (`settings.install` is filled in at start).
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub client: aws::Client,
    pub settings: podwarden_engine::aws_provider::AwsSettings,
}

/// The operator's RunPod account.
#[derive(Debug, Clone, Default)]
pub struct RunPodSettings {
    /// The operator's key: none runs the embedded emulator (or, with `byok_only`, no hosted work).
    pub api_key: Option<runpod::ApiKey>,
    /// RunPod's REST URL (default RunPod's own).
    pub rest_url: Option<String>,
    /// The serverless endpoints' base URL (default RunPod's own).
    pub endpoint_base_url: Option<String>,
}

impl RunPodSettings {
    /// A client for these settings with `key` (the operator's, or a placeholder never sent).
    pub(crate) fn client(&self, key: runpod::ApiKey) -> anyhow::Result<runpod::Client> {
        let mut b = runpod::Client::builder().api_key(key);
        if let Some(u) = &self.rest_url {
            b = b.rest_url(u.clone());
        }
        if let Some(u) = &self.endpoint_base_url {
            b = b.endpoint_base_url(u.clone());
        }
        b.build().context("invalid RunPod settings (RUNPOD_REST_URL, RUNPOD_ENDPOINT_BASE_URL)")
    }
}
