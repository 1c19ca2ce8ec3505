//! `Provider` on AWS: a job's pod is an EC2 GPU instance (one per attempt) that runs the job's
//! container from its user data (`user_data`), priced from a dated table (`prices`).
//!
//! Owns: the instances tagged `podwarden:install = <this install>`. Invariants:
//! - every instance is launched with the pod's name as its `Name` tag and the install's tag, in
//!   one call (tags on create), so a crash after the launch still leaves it findable: the
//!   reconciler adopts or reaps it by name exactly as on RunPod (`list_pods` reads every page);
//! - `InstanceInitiatedShutdownBehavior=terminate`: an instance that powers itself off (its
//!   ceiling, its container ended) is terminated and bills no more;
//! - the launch carries a client token derived from the pod's name and zone, so a launch retried
//!   after a lost answer is the same launch on AWS (moto does not honour tokens: the name is what
//!   the reconciler relies on).
//!
//! Not here: serverless (RunPod's), network volumes (RunPod's), provider-side secrets (the job
//! token is in the user data, readable by the job itself and by whoever may describe the
//! account's instances), a bill to check against (Cost Explorer is out of scope).

mod prices;
mod user_data;

pub use prices::{BulkPrices, GPU_FAMILIES, MIN_BILLED_MS, PriceFile, PriceTable};
pub use user_data::{Boot, script as user_data};

use crate::provider::{
    KeyCheck, PodInfo, PodLogLine, PodLogQuery, PodLogStream, PodPhase, PodRequest, Provider,
    ProviderError, Serverless,
};
use podwarden_core::gpu::GpuOffer;
use podwarden_core::money::Money;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The tag naming the install an instance belongs to.
pub const INSTALL_TAG: &str = "podwarden:install";
/// The tag naming the job an instance runs.
pub const JOB_TAG: &str = "podwarden:job";

/// The machine image instances boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ami {
    /// An AMI id (`ami-…`).
    Id(String),
    /// An SSM parameter that names the current AMI (AWS publishes the Deep Learning AMIs' so).
    Ssm(String),
}

/// The Deep Learning Base AMI (Ubuntu 22.04, NVIDIA driver, Docker with NVIDIA's runtime), as
/// AWS publishes its current id in SSM.
pub const DEFAULT_AMI_PARAMETER: &str =
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id";

/// How this install launches instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// This install's id (the `podwarden:install` tag).
    pub install: String,
    pub ami: Ami,
    /// The AMI's root device (`/dev/sda1` on the Ubuntu DLAMIs), sized to the job's `disk_gb`.
    pub root_device: String,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    /// An EC2 key pair, for SSH into instances (none by default).
    pub key_name: Option<String>,
    /// The instance profile the job's programs act as (none by default: no AWS rights).
    pub instance_profile: Option<String>,
    /// The prices (`PODWARDEN_AWS_PRICES`); the shipped table when `None`.
    pub prices: Option<PriceFile>,
}

impl AwsSettings {
    /// The defaults for `install`: the DLAMI by SSM, the default VPC, no SSH, no role.
    pub fn new(install: impl Into<String>) -> Self {
        Self {
            install: install.into(),
            ami: Ami::Ssm(DEFAULT_AMI_PARAMETER.into()),
            root_device: "/dev/sda1".into(),
            subnet_id: None,
            security_group_ids: Vec::new(),
            key_name: None,
            instance_profile: None,
            prices: None,
        }
    }
}

/// AWS through the `aws` client.
#[derive(Debug, Clone)]
pub struct AwsProvider {
    client: aws::Client,
    settings: Arc<AwsSettings>,
    prices: Option<Arc<PriceTable>>,
    /// Why there are no prices, when there are none.
    unpriced: Arc<str>,
    /// The AMI, resolved once (an SSM read).
    ami: Arc<OnceCell<String>>,
}

impl AwsProvider {
    /// A provider over `client` (its region, endpoints and credentials).
    pub fn new(client: aws::Client, settings: AwsSettings) -> Self {
        let file = settings.prices.clone().unwrap_or_else(PriceFile::shipped);
        let prices = file.table(client.region()).map(Arc::new);
        let unpriced = format!(
            "podwarden has no EC2 prices for region {} (its table of {} covers {}); set AWS_REGION to one of them, or make a table for it with `podwarden aws-prices` and PODWARDEN_AWS_PRICES",
            client.region(),
            file.date,
            file.regions().join(", ")
        );
        Self {
            client,
            settings: Arc::new(settings),
            prices,
            unpriced: unpriced.into(),
            ami: Arc::new(OnceCell::new()),
        }
    }

    /// The same install under a user's own key pair (`ACCESS_KEY_ID:SECRET`).
    pub fn with_key(&self, key: String) -> Result<Self, ProviderError> {
        let (id, secret) = key.split_once(':').ok_or_else(|| {
            ProviderError::Rejected(
                "an AWS key is saved as ACCESS_KEY_ID:SECRET_ACCESS_KEY".to_owned(),
            )
        })?;
        Ok(Self {
            client: self.client.with_credentials(aws::Credentials::new(id, secret)),
            settings: self.settings.clone(),
            prices: self.prices.clone(),
            unpriced: self.unpriced.clone(),
            ami: Arc::new(OnceCell::new()),
        })
    }

    fn prices(&self) -> Result<&PriceTable, ProviderError> {
        self.prices.as_deref().ok_or_else(|| ProviderError::Rejected(self.unpriced.to_string()))
    }

    async fn ami(&self) -> Result<String, ProviderError> {
        self.ami
            .get_or_try_init(|| async {
                match &self.settings.ami {
                    Ami::Id(id) => Ok(id.clone()),
                    Ami::Ssm(name) => self.client.ssm_parameter(name).await.map_err(|e| {
                        if e.is_not_found() {
                            ProviderError::Rejected(format!(
                                "the AMI parameter {name} does not exist in {}: set [providers.aws] ami to an AMI id (one with Docker and NVIDIA's container runtime)",
                                self.client.region()
                            ))
                        } else {
                            map_err(e)
                        }
                    }),
                }
            })
            .await
            .cloned()
    }

    fn info(&self, i: &aws::ec2::Instance) -> PodInfo {
        let phase = match i.state.name.as_str() {
            "pending" => PodPhase::Booting,
            "running" => PodPhase::Running,
            "stopping" | "stopped" => PodPhase::Stopped,
            _ => PodPhase::Gone,
        };
        let billing = matches!(phase, PodPhase::Running | PodPhase::Booting);
        PodInfo {
            id: i.id.clone(),
            name: i.tag("Name").unwrap_or_default().to_owned(),
            phase,
            data_center: i.placement.as_ref().map(|p| p.availability_zone.clone()),
            cost_per_hour: self
                .prices
                .as_deref()
                .and_then(|t| t.hourly(&i.instance_type))
                .filter(|_| billing)
                .unwrap_or(Money::ZERO),
        }
    }

    /// One launch in `zone` (AWS chooses when `None`).
    async fn launch(
        &self,
        req: &PodRequest,
        script: &str,
        ami: &str,
        zone: Option<&str>,
    ) -> Result<aws::ec2::Instance, aws::Error> {
        let mut tags = vec![
            ("Name".to_owned(), req.name.clone()),
            (INSTALL_TAG.to_owned(), self.settings.install.clone()),
        ];
        if let Some(job) = req.env.get("PODWARDEN_JOB_ID") {
            tags.push((JOB_TAG.to_owned(), job.clone()));
        }
        let s = &self.settings;
        self.client
            .run_instance(&aws::ec2::RunInstance {
                image_id: ami.to_owned(),
                instance_type: req.gpu_type.clone(),
                user_data: Some(script.to_owned()),
                tags,
                shutdown_terminates: true,
                availability_zone: zone.map(str::to_owned),
                client_token: Some(client_token(&req.name, zone.unwrap_or("any"))),
                root_volume: Some((s.root_device.clone(), req.disk_gb.max(1))),
                subnet_id: s.subnet_id.clone(),
                security_group_ids: s.security_group_ids.clone(),
                key_name: s.key_name.clone(),
                instance_profile: s.instance_profile.clone(),
                metadata_host_only: true,
            })
            .await
    }
}

/// The ids of a console's lines: `<position>:<hash of the line>:<hash of the line before>`. EC2
/// keeps only the console's last 64 KiB, so the window rolls and a position alone would point at
/// another line once it did (the reader then skipped every new line, the exit's included).
fn console_ids(lines: &[&str]) -> Vec<String> {
    (0..lines.len())
        .map(|i| {
            let prev = if i == 0 { 0 } else { fnv(lines[i - 1]) };
            format!("{}:{:016x}:{prev:016x}", i + 1, fnv(lines[i]))
        })
        .collect()
}

/// FNV-1a: stable across builds (the ids are stored, and read back by the next server).
fn fnv(line: &str) -> u64 {
    line.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// How many of the lines of `ids` to skip to resume after the line `after` named: that line is
/// looked for by its hash, and the one before it where the window still holds it, at or before
/// its old position (the window only rolls forward); one rolled out of the window resumes at
/// the window's start, so lines may be read twice but the newest (the exit line) never skipped.
fn resume_at(ids: &[String], after: Option<&str>) -> usize {
    let Some(after) = after else { return 0 };
    let mut parts = after.split(':');
    let pos = parts.next().and_then(|p| p.parse::<usize>().ok()).unwrap_or(0).min(ids.len());
    let (Some(line), Some(prev)) = (parts.next(), parts.next()) else { return pos };
    (0..pos)
        .rev()
        .find(|&i| {
            let mut p = ids[i].split(':').skip(1);
            p.next() == Some(line) && (i == 0 || p.next() == Some(prev))
        })
        .map_or(0, |i| i + 1)
}

/// A launch's idempotency token: at most 64 characters, one per pod and zone.
fn client_token(name: &str, zone: &str) -> String {
    let tail = &name[name.len().saturating_sub(40)..];
    format!("{tail}-{zone}")
}

/// An AWS error, as the engine acts on it.
fn map_err(e: aws::Error) -> ProviderError {
    let msg = e.to_string();
    if e.is_auth() {
        return ProviderError::Auth(format!(
            "{msg} (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile, and that its policy allows the actions in docs/providers/aws.md)"
        ));
    }
    if e.is_not_found() {
        return ProviderError::NotFound(msg);
    }
    match &e {
        aws::Error::Api { code, .. } if code == "RequestLimitExceeded" || code == "Throttling" => {
            ProviderError::RateLimited { message: msg, retry_after_secs: None }
        }
        aws::Error::Api { status, .. } if *status >= 500 => ProviderError::Transient(msg),
        aws::Error::Api { .. } | aws::Error::Config(_) => ProviderError::Rejected(msg),
        aws::Error::Transport { .. } | aws::Error::Undecodable { .. } => {
            ProviderError::Transient(msg)
        }
    }
}

/// A launch's refusal: capacity → the next zone or offer; a quota → the next offer (another
/// family has its own), said with the fix; a lost or failed answer → it may have launched.
fn map_launch_err(e: aws::Error) -> ProviderError {
    if e.is_capacity() {
        return ProviderError::NoCapacity(e.to_string());
    }
    // Throttled (a 503 on EC2): nothing was launched; the account's pass backs off.
    if matches!(e.code(), Some("RequestLimitExceeded" | "Throttling")) {
        return map_err(e);
    }
    if e.is_quota() {
        return ProviderError::Unplaceable(format!(
            "{e}: the account's quota stands in the way; ask for more in the Service Quotas console (EC2 → \"Running On-Demand G and VT instances\" or \"… P instances\", in vCPUs) or choose a smaller instance type"
        ));
    }
    match &e {
        // This type with these settings (an AMI's architecture, a zone's network): the next
        // offer may do.
        aws::Error::Api { code, .. } if code == "InvalidParameterCombination" => {
            ProviderError::Unplaceable(e.to_string())
        }
        aws::Error::Api { status, .. } if *status >= 500 => {
            ProviderError::MaybeCreated(e.to_string())
        }
        aws::Error::Transport { .. } | aws::Error::Undecodable { .. } => {
            ProviderError::MaybeCreated(e.to_string())
        }
        _ => map_err(e),
    }
}

impl Serverless for AwsProvider {}

impl Provider for AwsProvider {
    /// One instance type per offer: its GPUs come only together (`fixed_count`), priced per
    /// GPU from the instance's hourly price, in the zones of this region that offer it.
    async fn offers(&self) -> Result<Vec<GpuOffer>, ProviderError> {
        let prices = self.prices()?;
        let names: Vec<&str> = prices.types().collect();
        let (types, zones) = tokio::try_join!(
            self.client.describe_instance_types(&names),
            self.client.instance_type_zones(&names),
        )
        .map_err(map_err)?;
        let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (t, z) in zones {
            by_type.entry(t).or_default().push(z);
        }
        Ok(types
            .into_iter()
            .filter_map(|t| {
                let gpu = t.gpu.as_ref()?;
                let first = gpu.gpus.item.first()?;
                let count = i64::from(gpu.gpus.item.iter().map(|g| g.count).sum::<u32>());
                let hourly = prices.hourly(&t.name)?;
                let mut zones = by_type.remove(&t.name).unwrap_or_default();
                zones.sort();
                (count > 0).then(|| GpuOffer {
                    display_name: format!(
                        "{count}× {} {} ({}: {} vCPU, {} GiB)",
                        first.manufacturer,
                        first.name,
                        t.name,
                        t.vcpu.default_vcpus,
                        t.memory.size_mib / 1024
                    ),
                    gpu_type: t.name.clone(),
                    vram_gb: ((first.memory.size_mib + 512) / 1024) as i64,
                    max_count: count,
                    fixed_count: Some(count),
                    secure_price: Some(Money(hourly.0 / count)),
                    community_price: None,
                    data_centers: zones,
                })
            })
            .collect())
    }

    async fn list_pods(&self) -> Result<Vec<PodInfo>, ProviderError> {
        let all = self
            .client
            .instances_tagged(INSTALL_TAG, &self.settings.install)
            .await
            .map_err(map_err)?;
        Ok(all.iter().filter(|i| i.state.name != "terminated").map(|i| self.info(i)).collect())
    }

    /// Launches in each of the request's zones in turn until one has capacity.
    async fn create_pod(&self, req: &PodRequest) -> Result<PodInfo, ProviderError> {
        let offered = self.prices()?.hourly(&req.gpu_type).ok_or_else(|| {
            ProviderError::Unplaceable(format!(
                "{} is not an instance type podwarden prices",
                req.gpu_type
            ))
        })?;
        let script = user_data(&Boot { req, ceiling_secs: req.ceiling_secs })?;
        // AWS refuses user data over 16 KiB (before base64).
        if script.len() > 16 * 1024 {
            return Err(ProviderError::Rejected(format!(
                "the job's start script is {} KiB; EC2 takes at most 16 KiB of user data: shorten the command or its env",
                script.len().div_ceil(1024)
            )));
        }
        let ami = self.ami().await?;
        // A subnet is in one zone: AWS places the instance there (naming another is refused).
        let zones: Vec<Option<&str>> =
            if req.data_centers.is_empty() || self.settings.subnet_id.is_some() {
                vec![None]
            } else {
                req.data_centers.iter().map(|z| Some(z.as_str())).collect()
            };
        let mut lacked = Vec::new();
        for zone in zones {
            match self.launch(req, &script, &ami, zone).await {
                Ok(i) => {
                    let mut info = self.info(&i);
                    // The answer of a launch may not echo the tags yet.
                    info.name = req.name.clone();
                    info.cost_per_hour = offered;
                    return Ok(info);
                }
                Err(e) if e.is_capacity() => {
                    lacked.push(format!("{}: {e}", zone.unwrap_or("any zone")))
                }
                Err(e) => return Err(map_launch_err(e)),
            }
        }
        Err(ProviderError::NoCapacity(format!(
            "no {} capacity in {}",
            req.gpu_type,
            lacked.join("; ")
        )))
    }

    async fn terminate_pod(&self, id: &str) -> Result<(), ProviderError> {
        match self.client.terminate_instance(id).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map_err(map_err),
        }
    }

    /// The instance's serial console (what its user data printed, the job's output with it),
    /// read whole and streamed from `q.after` (`console_ids`, `resume_at`).
    async fn pod_logs(&self, pod_id: &str, q: PodLogQuery) -> Result<PodLogStream, ProviderError> {
        use futures::StreamExt;
        let text = self.client.console_output(pod_id).await.map_err(map_err)?.unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let ids = console_ids(&lines);
        let skip = match (q.tail, q.after.as_deref()) {
            (Some(t), None) => lines.len().saturating_sub(t as usize),
            (_, after) => resume_at(&ids, after),
        };
        let out: Vec<Result<PodLogLine, ProviderError>> = lines
            .iter()
            .zip(ids)
            .skip(skip)
            .map(|(line, id)| {
                Ok(PodLogLine { id, source: "container".into(), line: (*line).to_owned() })
            })
            .collect();
        Ok(futures::stream::iter(out).boxed())
    }

    /// `sts:GetCallerIdentity`: needs no permission, so it tells a bad key from a good one;
    /// whether the key may launch is learnt at the first launch (said with the fix).
    async fn check_key(&self) -> KeyCheck {
        match self.client.caller_identity().await {
            Ok(_) => KeyCheck::Usable,
            Err(e) if e.is_auth() => KeyCheck::Rejected,
            Err(e) => {
                tracing::warn!(error = %e, "could not verify an AWS key");
                KeyCheck::Unreachable
            }
        }
    }

    fn min_billed_ms(&self) -> i64 {
        MIN_BILLED_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once the console window rolls, a reader resumes after the line it last read, wherever
    /// that line now is, and never past the newest (the review found positions skipping every
    /// new line, the exit's included, once EC2's 64 KiB window was full).
    #[test]
    fn a_console_read_resumes_after_its_last_line_as_the_window_rolls() {
        let all: Vec<String> = (1..=9).map(|i| format!("line {i}")).collect();
        let window =
            |from: usize, to: usize| all[from..to].iter().map(String::as_str).collect::<Vec<_>>();
        let first = window(0, 5);
        let ids = console_ids(&first);
        let last = ids[2].clone(); // "line 3" read last
        assert_eq!(resume_at(&ids, Some(&last)), 3);
        // Two lines rolled out, four came in: "line 3" is now the first.
        let rolled = window(2, 9);
        assert_eq!(resume_at(&console_ids(&rolled), Some(&last)), 1, "after line 3: line 4 next");
        // Rolled past it: the window from its start.
        assert_eq!(resume_at(&console_ids(&window(5, 9)), Some(&last)), 0);
        assert_eq!(resume_at(&ids, None), 0);
        assert_eq!(resume_at(&ids, Some("2")), 2, "an id of positions only still resumes");
        // Repeated lines are told apart by the line before them.
        let same = ["a", "x", "b", "x"];
        let ids = console_ids(&same);
        assert_eq!(resume_at(&ids, Some(&ids[1])), 2, "the first x, not the second");
        assert_eq!(resume_at(&ids, Some(&ids[3])), 4);
    }

    #[test]
    fn client_tokens_fit_and_differ_per_pod_and_zone() {
        let a = client_token(&format!("pw-{}-{}", "i".repeat(30), "a".repeat(32)), "us-east-1a");
        assert!(a.len() <= 64, "{a}");
        let b = client_token(&format!("pw-{}-{}", "i".repeat(30), "b".repeat(32)), "us-east-1a");
        assert_ne!(a, b);
        assert_ne!(
            a,
            client_token(&format!("pw-{}-{}", "i".repeat(30), "a".repeat(32)), "us-east-1b")
        );
    }
}
