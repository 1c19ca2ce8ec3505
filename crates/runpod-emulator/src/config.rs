//! Emulator configuration: catalog, account, delays and faults. Loadable from TOML.

use crate::faults::FaultConfig;
use crate::image::ImageConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything the emulator can be told at start. Every field has a default, so an empty TOML
/// file is a valid config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// The account's API key. `None`: a random key is minted and printed.
    pub api_key: Option<String>,
    /// Further keys of the same account (a team member's own key, in BYOK tests). Which key
    /// each account call came with is recorded (`RunningEmulator::account_calls`).
    pub extra_api_keys: Vec<String>,
    /// Where pod workspaces, worker directories and the state snapshot live. `None`: a
    /// temporary directory removed at exit.
    pub state_dir: Option<PathBuf>,
    /// Start the manual clock at this RFC 3339 time instead of using real time.
    pub manual_clock_start: Option<String>,
    /// How often the real-clock driver ticks, in ms.
    pub tick_ms: u64,
    /// Seed of the random generator behind random faults, so fault runs repeat.
    pub seed: u64,
    pub account: AccountConfig,
    /// Further accounts, each with its own keys, resources, balance and bills (a BYOK user's
    /// own RunPod account). A key of one account sees nothing of another's.
    pub accounts: Vec<AccountSeed>,
    pub pods: PodTiming,
    pub serverless: ServerlessConfig,
    /// When spend shows on the billing routes.
    pub billing: BillingConfig,
    /// GPU types for sale.
    pub gpus: Vec<GpuOffer>,
    /// Data centers.
    pub data_centers: Vec<DataCenterConfig>,
    pub faults: FaultConfig,
    /// Request budgets per account (`ratelimit.rs`); defaults are RunPod's published ones.
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// Images containers can run, by `name:tag` (`name:*` for any tag), over the built-in
    /// ones (`image::default_images`). An image in neither does not exist.
    pub images: BTreeMap<String, ImageConfig>,
    /// Network volumes that exist from the start, optionally over a host directory (the
    /// embedded emulator's quickstart volume lives in podwarden's data directory).
    pub volumes: Vec<VolumeSeed>,
    /// Ports of the S3 API per data center id (default: any free port).
    pub s3_ports: BTreeMap<String, u16>,
    /// The data centers that serve the S3 API, as on RunPod only some do (default: RunPod's
    /// docs' list, `runpod::types::network_volumes::S3_API_DATA_CENTERS`).
    pub s3_data_centers: Option<Vec<String>>,
    /// Items per page of a REST v2 list when the request names no `limit` (RunPod: 1000; tests
    /// set a small one so every client walks pages).
    pub page_size: u32,
    /// Bytes a network volume holds per GB of its size (RunPod: 10^9; tests set a small one so
    /// a 10 GB volume fills with a few kilobytes). Writes over S3 past it are refused.
    pub volume_bytes_per_gb: u64,
    /// Ports of this machine's loopback a sandboxed container may reach besides the emulator's
    /// own and its S3 endpoints (the embedded server's, for callbacks): a container has a
    /// network of its own, and nothing else of the host's (`net.rs`).
    pub allow_host_ports: Vec<u16>,
    /// A capacity model (`capacity.rs`): stock that changes over the day and launch outcomes
    /// (refused creates, duds, slow boots, preemptions) drawn from a seed. Absent: the catalog's
    /// stock stays as configured and every launch boots.
    pub capacity: Option<crate::capacity::CapacityModel>,
    /// Run containers as plain processes when bubblewrap is not available. They then share
    /// the host's files and tools; every container start says so.
    pub unsandboxed: bool,
    /// The program images that ship OpenSSH's server get at `/usr/sbin/sshd`
    /// (`podwarden-emulator-sshd`); absent: `$PODWARDEN_EMULATOR_SSHD`, else that program next
    /// to this one. Without it those images have no sshd (each start says so).
    pub sshd_program: Option<std::path::PathBuf>,
}

impl EmulatorConfig {
    /// Whether data center `dc` serves the S3 API.
    pub fn has_s3(&self, dc: &str) -> bool {
        match &self.s3_data_centers {
            Some(list) => list.iter().any(|d| d == dc),
            None => runpod::types::network_volumes::S3_API_DATA_CENTERS.contains(&dc),
        }
    }
}

/// Balance and limits of the emulated account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountConfig {
    /// The S3 API secret (`rps_…`; the access key is the account's user id). Default: random.
    pub s3_secret: Option<String>,
    /// USD.
    pub balance: f64,
    /// USD per hour across all resources (RunPod's default is 80).
    pub spend_limit: f64,
}

/// Another account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSeed {
    pub api_key: String,
    /// More keys of the same account.
    #[serde(default)]
    pub extra_api_keys: Vec<String>,
    /// The S3 API secret. Default: random.
    #[serde(default)]
    pub s3_secret: Option<String>,
    #[serde(default = "default_balance")]
    pub balance: f64,
    #[serde(default = "default_spend_limit")]
    pub spend_limit: f64,
}

impl AccountSeed {
    /// An account with `key` and the default balance and spend limit.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            api_key: key.into(),
            extra_api_keys: Vec::new(),
            s3_secret: None,
            balance: default_balance(),
            spend_limit: default_spend_limit(),
        }
    }
}

fn default_balance() -> f64 {
    AccountConfig::default().balance
}

fn default_spend_limit() -> f64 {
    AccountConfig::default().spend_limit
}

/// Pod boot timing (emulated seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodTiming {
    /// PROVISIONING → STARTING.
    pub provisioning_secs: f64,
    /// STARTING → RUNNING (the container's process starts here).
    pub starting_secs: f64,
    /// Delay before a container whose process exited is started again.
    pub restart_delay_secs: f64,
    /// Real seconds between SIGTERM and SIGKILL when a pod stops.
    pub stop_grace_ms: u64,
}

/// When spend shows on `/v2/billing/*`: RunPod's billing "runs every 5 minutes"
/// (`accounts-billing/billing.mdx`) and its history routes have been seen to lag far longer
/// (API-NOTES, corrections of 2026-12-05). The routes show the ledger as of the last billing
/// run; the balance stays live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BillingConfig {
    /// Seconds between billing runs; 0 shows spend the moment it accrues.
    pub cycle_secs: f64,
    /// Up to this many seconds added to each run's time (deterministic from `seed`).
    pub jitter_secs: f64,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self { cycle_secs: 300.0, jitter_secs: 60.0 }
    }
}

impl BillingConfig {
    /// Bills show as they accrue (tests about amounts, not about lag).
    pub fn live() -> Self {
        Self { cycle_secs: 0.0, jitter_secs: 0.0 }
    }
}

/// Serverless behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerlessConfig {
    /// How long `job-take` holds a poll open with nothing to hand out (real ms; must stay
    /// under the Python runtime's 90 s client timeout).
    pub take_hold_ms: u64,
    /// Default `/runsync` wait when `?wait=` is absent (real ms; RunPod: 90 000).
    pub runsync_wait_ms: u64,
    /// How long a `/stream` call with nothing new is held for a chunk or the job's end when
    /// `?wait=` is absent (real ms). RunPod's hold is *unconfirmed*: its JS SDK polls with no
    /// delay (so RunPod must pace it), its Go SDK sends `?wait=90000`, its Python SDK polls
    /// every second with a 10 s timeout (so a default hold must stay under 10 s).
    pub stream_hold_ms: u64,
    /// Result retention after `/run` completes (emulated seconds; RunPod: 30 min).
    pub run_retention_secs: u64,
    /// Result retention after `/runsync` completes (emulated seconds; RunPod: 1 min).
    pub runsync_retention_secs: u64,
    /// Worker boot time before it is started (emulated seconds).
    pub worker_boot_secs: f64,
    /// Real ms between webhook retries (RunPod: 10 000).
    pub webhook_retry_ms: u64,
    /// `RUNPOD_PING_INTERVAL` given to workers (ms; RunPod's runtime default 10 000).
    pub ping_interval_ms: u64,
}

/// One GPU type for sale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuOffer {
    pub id: String,
    pub name: String,
    /// Serverless pool id.
    pub pool: Option<String>,
    #[serde(default = "nvidia")]
    pub manufacturer: String,
    /// VRAM, GB.
    pub memory_gb: i64,
    /// USD per GPU-hour.
    pub secure_price: f64,
    pub community_price: f64,
    /// USD per GPU-hour on serverless.
    pub serverless_price: Option<f64>,
    #[serde(default = "eight")]
    pub max_count: i64,
    /// GPUs free per data center id, per cloud (`secure`/`community`).
    #[serde(default)]
    pub stock: BTreeMap<String, Stock>,
    #[serde(default = "cuda_default")]
    pub cuda_versions: Vec<String>,
}

fn nvidia() -> String {
    "NVIDIA".into()
}
fn eight() -> i64 {
    8
}
fn cuda_default() -> Vec<String> {
    vec!["12.8".into(), "12.6".into(), "12.4".into()]
}

/// Free GPUs of a type in one data center.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stock {
    pub secure: i64,
    pub community: i64,
}

/// A network volume present at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSeed {
    pub id: String,
    pub name: String,
    pub data_center: String,
    /// GB.
    pub size: i64,
    /// Host directory holding its files (default: under the state directory).
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

/// A data center.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCenterConfig {
    pub id: String,
    pub name: String,
    pub region: String,
    /// ISO 3166-1 alpha-2 country (`countryCodes` filter). Default: from the id (`US-TX-3` →
    /// `US`, `EU-RO-1` → `RO`).
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub compliance: Vec<String>,
    #[serde(default)]
    pub global_network: bool,
    /// Network volume tiers offered here.
    #[serde(default = "standard_volumes")]
    pub network_volume_types: Vec<String>,
}

fn standard_volumes() -> Vec<String> {
    vec!["STANDARD".into()]
}

impl DataCenterConfig {
    /// A data center in `region` with standard volumes and nothing else declared.
    pub fn new(id: &str, name: &str, region: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            region: region.into(),
            country: None,
            compliance: Vec::new(),
            global_network: false,
            network_volume_types: standard_volumes(),
        }
    }

    /// Its country code.
    pub fn country(&self) -> String {
        if let Some(c) = &self.country {
            return c.clone();
        }
        let mut parts = self.id.split('-');
        match (parts.next(), parts.next()) {
            (Some("EU" | "EUR" | "AP" | "SEA"), Some(c)) if c.len() == 2 => c.to_owned(),
            (Some(c), _) => c.chars().take(2).collect(),
            _ => String::new(),
        }
    }
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self { s3_secret: None, balance: 100.0, spend_limit: 80.0 }
    }
}

impl Default for PodTiming {
    fn default() -> Self {
        Self {
            provisioning_secs: 2.0,
            starting_secs: 3.0,
            restart_delay_secs: 2.0,
            stop_grace_ms: 2_000,
        }
    }
}

impl Default for ServerlessConfig {
    fn default() -> Self {
        Self {
            take_hold_ms: 20_000,
            runsync_wait_ms: 90_000,
            stream_hold_ms: 5_000,
            run_retention_secs: 30 * 60,
            runsync_retention_secs: 60,
            worker_boot_secs: 1.0,
            webhook_retry_ms: 10_000,
            ping_interval_ms: 10_000,
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            extra_api_keys: Vec::new(),
            state_dir: None,
            manual_clock_start: None,
            tick_ms: 200,
            seed: 1,
            account: AccountConfig::default(),
            accounts: Vec::new(),
            rate_limits: crate::ratelimit::RateLimitConfig::default(),
            s3_ports: BTreeMap::new(),
            s3_data_centers: None,
            page_size: runpod::types::pagination::MAX_PAGE,
            volume_bytes_per_gb: 1_000_000_000,
            allow_host_ports: Vec::new(),
            capacity: None,
            pods: PodTiming::default(),
            serverless: ServerlessConfig::default(),
            billing: BillingConfig::default(),
            gpus: default_gpus(),
            data_centers: default_data_centers(),
            faults: FaultConfig::default(),
            images: BTreeMap::new(),
            volumes: Vec::new(),
            unsandboxed: false,
            sshd_program: None,
        }
    }
}

impl EmulatorConfig {
    /// Parses a TOML config; unknown keys are errors so typos do not pass silently.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The sshd stand-in: `sshd_program`, `$PODWARDEN_EMULATOR_SSHD`, or
    /// `podwarden-emulator-sshd` beside the running program (or one directory up: a test
    /// binary runs from `target/<profile>/deps`).
    pub fn find_sshd(&self) -> Option<std::path::PathBuf> {
        const NAME: &str = "podwarden-emulator-sshd";
        if let Some(p) = &self.sshd_program {
            return Some(p.clone());
        }
        if let Some(p) = std::env::var_os("PODWARDEN_EMULATOR_SSHD").filter(|p| !p.is_empty()) {
            return Some(p.into());
        }
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        [dir.join(NAME), dir.parent()?.join(NAME)].into_iter().find(|p| p.is_file())
    }
}

#[allow(clippy::too_many_arguments)] // one row of the catalog table below
fn offer(
    id: &str,
    name: &str,
    pool: &str,
    mem: i64,
    secure: f64,
    community: f64,
    sls: f64,
    stock: &[(&str, i64, i64)],
) -> GpuOffer {
    GpuOffer {
        id: id.into(),
        name: name.into(),
        pool: Some(pool.into()),
        manufacturer: nvidia(),
        memory_gb: mem,
        secure_price: secure,
        community_price: community,
        serverless_price: Some(sls),
        max_count: 8,
        stock: stock
            .iter()
            .map(|(dc, s, c)| ((*dc).to_owned(), Stock { secure: *s, community: *c }))
            .collect(),
        cuda_versions: cuda_default(),
    }
}

/// A small catalog with realistic shape. Prices are illustrative (RunPod publishes none in its
/// docs); serverless prices follow the per-second table in API-NOTES §7 × 3600.
pub fn default_gpus() -> Vec<GpuOffer> {
    vec![
        offer(
            "NVIDIA RTX A4000",
            "RTX A4000",
            "AMPERE_16",
            16,
            0.25,
            0.17,
            0.58,
            &[("US-TX-3", 8, 8), ("EU-RO-1", 4, 4)],
        ),
        offer(
            "NVIDIA RTX A5000",
            "RTX A5000",
            "AMPERE_24",
            24,
            0.29,
            0.22,
            0.68,
            &[("US-TX-3", 8, 4), ("EU-RO-1", 4, 2)],
        ),
        offer(
            "NVIDIA GeForce RTX 3090",
            "RTX 3090",
            "AMPERE_24",
            24,
            0.43,
            0.30,
            0.68,
            &[("EU-RO-1", 4, 8)],
        ),
        offer(
            "NVIDIA GeForce RTX 4090",
            "RTX 4090",
            "ADA_24",
            24,
            0.69,
            0.44,
            1.12,
            &[("US-TX-3", 8, 8), ("EU-RO-1", 8, 8)],
        ),
        offer(
            "NVIDIA RTX A6000",
            "RTX A6000",
            "AMPERE_48",
            48,
            0.49,
            0.33,
            1.22,
            &[("US-TX-3", 4, 4)],
        ),
        offer(
            "NVIDIA L40S",
            "L40S",
            "ADA_48_PRO",
            48,
            0.86,
            0.79,
            1.91,
            &[("US-TX-3", 4, 0), ("EU-RO-1", 2, 0)],
        ),
        offer(
            "NVIDIA A100 80GB PCIe",
            "A100 PCIe",
            "AMPERE_80",
            80,
            1.64,
            1.19,
            2.74,
            &[("US-TX-3", 4, 2)],
        ),
        offer(
            "NVIDIA H100 80GB HBM3",
            "H100 SXM",
            "ADA_80_PRO",
            80,
            2.69,
            2.39,
            4.18,
            &[("US-TX-3", 8, 0)],
        ),
    ]
}

/// Two data centers, enough for placement and fallback tests.
pub fn default_data_centers() -> Vec<DataCenterConfig> {
    vec![
        DataCenterConfig {
            global_network: true,
            ..DataCenterConfig::new("US-TX-3", "Texas 3", "NORTH_AMERICA")
        },
        DataCenterConfig {
            compliance: vec!["GDPR".into(), "ISO_IEC_27001".into()],
            network_volume_types: vec!["STANDARD".into(), "HIGH_PERFORMANCE".into()],
            ..DataCenterConfig::new("EU-RO-1", "Romania 1", "EUROPE")
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_toml_is_the_default_and_typos_are_rejected() {
        let c = EmulatorConfig::from_toml("").expect("empty config parses");
        assert_eq!(c.gpus.len(), default_gpus().len());
        let e = EmulatorConfig::from_toml("tick_msec = 5").expect_err("typo");
        assert!(e.to_string().contains("tick_msec"), "{e}");
    }

    #[test]
    fn toml_overrides_catalog_and_account() {
        let c = EmulatorConfig::from_toml(
            r#"
            [account]
            balance = 5.0
            [[gpus]]
            id = "NVIDIA L4"
            name = "L4"
            pool = "AMPERE_24"
            memory_gb = 24
            secure_price = 0.44
            community_price = 0.31
            [gpus.stock.US-TX-3]
            secure = 1
            "#,
        )
        .expect("parses");
        assert_eq!(c.account.balance, 5.0);
        assert_eq!(c.gpus.len(), 1);
        assert_eq!(c.gpus[0].stock["US-TX-3"], Stock { secure: 1, community: 0 });
    }
}
