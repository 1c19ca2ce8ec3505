//! The serverless half of the provider boundary: endpoints and their templates, serverless
//! jobs, queue health.

use super::*;

/// A serverless endpoint at the provider, as the endpoint reconciler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInfo {
    pub id: String,
    pub name: String,
    pub template_id: Option<String>,
    /// The container settings the endpoint runs (as the provider reports them; `None` when it
    /// does not say), for drift detection.
    pub image: Option<String>,
    pub args: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    /// Its max workers now (RunPod lowers it to 2, then 0, after 3 and 7 idle days).
    pub workers_max: Option<i64>,
}

impl EndpointInfo {
    /// What of `d` the endpoint does not run, if anything (fields the provider does not report
    /// are not compared).
    pub fn drift(&self, d: &Deployment) -> Option<String> {
        let mut what = Vec::new();
        // Compared as RunPod may normalise them, so one normalisation is not a redeploy a minute.
        if self.image.as_ref().is_some_and(|i| image_ref(i) != image_ref(&d.image)) {
            what.push("image");
        }
        if self.args.as_ref().is_some_and(|a| !same_args(a, d.command.as_deref().unwrap_or(""))) {
            what.push("command");
        }
        // Only RunPod's documented idle values (2, then 0): a max held lower for another reason
        // (an account quota) would be "repaired" every sweep.
        if self.workers_max.is_some_and(|m| m < d.workers_max && (m == 0 || m == 2)) {
            what.push("max workers (RunPod lowers them on an endpoint idle for days)");
        }
        // Only the spec's own variables are compared: a provider may add its own.
        if self.env.as_ref().is_some_and(|e| d.env.iter().any(|(k, v)| e.get(k) != Some(v))) {
            what.push("env");
        }
        (!what.is_empty()).then(|| what.join(", "))
    }
}

/// An image reference as a registry resolves it: Docker Hub's implied host and `library/`
/// dropped, `:latest` made explicit.
fn image_ref(i: &str) -> String {
    let mut r = i.trim();
    for host in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        r = r.strip_prefix(host).unwrap_or(r);
    }
    let r = r.strip_prefix("library/").unwrap_or(r);
    let last = r.rsplit('/').next().unwrap_or(r);
    if last.contains(':') || last.contains('@') { r.to_owned() } else { format!("{r}:latest") }
}

/// Two `args` the same once split into words (spacing and quoting may be normalised).
fn same_args(a: &str, b: &str) -> bool {
    match (shell_words::split(a), shell_words::split(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// What the account may still start: RunPod refuses a pod or worker whose hourly cost would
/// take running spend past the spend limit, and on a prepaid account any start without balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    /// The hourly spend cap (`spendRate`), if reported.
    pub spend_limit_per_hour: Option<Money>,
    /// What running pods and workers cost an hour now, if reported.
    pub spending_per_hour: Option<Money>,
    /// The balance, and whether the account is prepaid.
    pub balance: Option<Money>,
    pub prepaid: bool,
}

impl Headroom {
    /// Why a start costing `per_hour` would be refused now, if it would.
    pub fn refuses(&self, per_hour: Money) -> Option<String> {
        if self.prepaid && self.balance.is_some_and(|b| b.0 <= 0) {
            return Some(format!(
                "the RunPod account's balance is {} (prepaid): RunPod starts no pod until funds are added",
                self.balance.unwrap_or_default()
            ));
        }
        let (Some(limit), Some(now)) = (self.spend_limit_per_hour, self.spending_per_hour) else {
            return None;
        };
        (now.0 + per_hour.0 > limit.0).then(|| {
            format!(
                "a pod at {per_hour}/h would take the account past its spend limit of {limit}/h (spending {now}/h now); waiting for running pods to end or the limit to be raised"
            )
        })
    }
}

/// A template at the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateInfo {
    pub id: String,
    pub name: String,
}

/// What a deployed endpoint should look like: its template (image, command, env, disk) and
/// the endpoint around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The endpoint's provider name; the template's is `template_name(name)`.
    pub name: String,
    pub template_name: String,
    pub image: String,
    pub command: Option<String>,
    pub env: BTreeMap<String, String>,
    pub disk_gb: Option<i64>,
    pub gpu_pools: Vec<String>,
    pub gpu_count: i64,
    pub workers_min: i64,
    pub workers_max: i64,
    pub idle_timeout_secs: i64,
    pub execution_timeout_ms: i64,
    pub flashboot: bool,
    pub network_volume: Option<String>,
    pub registry_auth: Option<String>,
}

/// A provider with serverless endpoints. Separate from `Provider` so a pods-only provider (or a
/// benchmark double) need not implement it; the defaults say it is not supported.
pub trait Serverless: Send + Sync + 'static {
    /// Every endpoint of the account, in one call (a provider without endpoints has none).
    fn list_endpoints(
        &self,
    ) -> impl Future<Output = Result<Vec<EndpointInfo>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }
    /// Every template of the account, in one call.
    fn list_templates(
        &self,
    ) -> impl Future<Output = Result<Vec<TemplateInfo>, ProviderError>> + Send {
        async { Ok(Vec::new()) }
    }
    /// Creates the deployment's template.
    fn create_template(
        &self,
        d: &Deployment,
    ) -> impl Future<Output = Result<TemplateInfo, ProviderError>> + Send {
        let _ = d;
        async { Err(unsupported()) }
    }
    /// Makes template `id` match the deployment.
    fn update_template(
        &self,
        id: &str,
        d: &Deployment,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = (id, d);
        async { Err(unsupported()) }
    }
    /// Creates the endpoint on template `template_id`.
    fn create_endpoint(
        &self,
        d: &Deployment,
        template_id: &str,
    ) -> impl Future<Output = Result<EndpointInfo, ProviderError>> + Send {
        let _ = (d, template_id);
        async { Err(unsupported()) }
    }
    /// Makes endpoint `id` match the deployment.
    fn update_endpoint(
        &self,
        id: &str,
        d: &Deployment,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = (id, d);
        async { Err(unsupported()) }
    }
    /// Deletes an endpoint; `Ok` when it is gone (already gone included).
    fn delete_endpoint(&self, id: &str) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = id;
        async { Err(unsupported()) }
    }
    /// Deletes a template; `Ok` when it is gone (already gone included).
    fn delete_template(&self, id: &str) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = id;
        async { Err(unsupported()) }
    }
    /// The cheapest serverless GPU of `pools` and its USD/h for `count` GPUs per worker.
    fn serverless_price(
        &self,
        pools: &[String],
        count: i64,
    ) -> impl Future<Output = Result<(String, Money), ProviderError>> + Send {
        let _ = (pools, count);
        async { Err(unsupported()) }
    }
    /// Queues a job (`/run`, or `/runsync` waiting for the result when `sync`).
    fn submit_job(
        &self,
        endpoint_id: &str,
        input: &serde_json::Value,
        opts: &RunOptions,
    ) -> impl Future<Output = Result<RemoteJob, ProviderError>> + Send {
        let _ = (endpoint_id, input, opts);
        async { Err(unsupported()) }
    }
    /// A job's state, timings and output (or latest progress).
    fn job_status(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<RemoteJob, ProviderError>> + Send {
        let _ = (endpoint_id, job_id);
        async { Err(unsupported()) }
    }
    /// Stream chunks not handed out before (each is handed out once).
    fn job_stream(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, ProviderError>> + Send {
        let _ = (endpoint_id, job_id);
        async { Err(unsupported()) }
    }
    /// Cancels a job.
    fn cancel_job(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<RemoteJob, ProviderError>> + Send {
        let _ = (endpoint_id, job_id);
        async { Err(unsupported()) }
    }
    /// Runs a failed or timed-out job again (RunPod's `/retry`: the same job id, its original
    /// input, its output cleared).
    fn retry_job(
        &self,
        endpoint_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<RemoteJob, ProviderError>> + Send {
        let _ = (endpoint_id, job_id);
        async { Err(unsupported()) }
    }
    /// What the provider billed for endpoint `endpoint_id` in `[from_ms, to_ms)` (whole hours):
    /// its workers from start until they fully stop. `None` when it has no bill for the span
    /// (yet: RunPod's lags) or no billing API.
    fn endpoint_billed(
        &self,
        endpoint_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Future<Output = Result<Option<Money>, ProviderError>> + Send {
        let _ = (endpoint_id, from_ms, to_ms);
        async { Ok(None) }
    }
    /// The account's balance in USD, when the provider tells.
    fn balance(&self) -> impl Future<Output = Result<Option<f64>, ProviderError>> + Send {
        async { Ok(None) }
    }
    /// Queue and worker counts of an endpoint.
    fn endpoint_health(
        &self,
        endpoint_id: &str,
    ) -> impl Future<Output = Result<QueueHealth, ProviderError>> + Send {
        let _ = endpoint_id;
        async { Err(unsupported()) }
    }
}

/// Where a serverless job is at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteStatus {
    InQueue,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

/// A serverless job at the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteJob {
    pub id: String,
    pub status: RemoteStatus,
    /// Time in the queue (ms).
    pub delay_ms: Option<i64>,
    /// Time running (ms).
    pub execution_ms: Option<i64>,
    /// The result, or the latest progress update while in progress.
    pub output: Option<serde_json::Value>,
    pub error: Option<serde_json::Value>,
}

/// How to submit a serverless job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    pub sync: bool,
    pub execution_timeout_ms: Option<u64>,
    pub ttl_ms: Option<u64>,
    pub low_priority: bool,
}

/// Queue and worker counts of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueHealth {
    pub in_queue: u64,
    pub in_progress: u64,
    pub idle: u64,
    pub running: u64,
    pub initializing: u64,
    pub throttled: u64,
    pub unhealthy: u64,
}

pub(crate) fn unsupported() -> ProviderError {
    ProviderError::Rejected("this provider has no serverless endpoints".into())
}

#[cfg(test)]
mod drift_tests {
    use super::*;

    fn deployment(image: &str, command: &str, max: i64) -> Deployment {
        Deployment {
            name: "e".into(),
            template_name: "t".into(),
            image: image.into(),
            command: Some(command.into()),
            env: BTreeMap::new(),
            disk_gb: None,
            gpu_pools: vec![],
            gpu_count: 1,
            workers_min: 0,
            workers_max: max,
            idle_timeout_secs: 5,
            execution_timeout_ms: 1000,
            flashboot: false,
            network_volume: None,
            registry_auth: None,
        }
    }

    fn info(image: &str, args: &str, max: i64) -> EndpointInfo {
        EndpointInfo {
            id: "x".into(),
            name: "e".into(),
            template_id: None,
            image: Some(image.into()),
            args: Some(args.into()),
            env: None,
            workers_max: Some(max),
        }
    }

    #[test]
    fn a_normalised_image_or_command_is_no_drift_and_lowered_workers_are() {
        let d = deployment("python:3.11-slim", "sh -c 'echo  hi'", 2);
        assert_eq!(
            info("docker.io/library/python:3.11-slim", "sh  -c \"echo  hi\"", 2).drift(&d),
            None
        );
        assert_eq!(info("python:3.11-slim", "sh -c 'echo  hi'", 3).drift(&d), None, "more is fine");
        assert_eq!(
            info("python:3.12-slim", "sh -c 'echo hi'", 0).drift(&d).as_deref(),
            Some("image, command, max workers (RunPod lowers them on an endpoint idle for days)")
        );
        assert_eq!(image_ref("ubuntu"), "ubuntu:latest");
        assert_eq!(image_ref("ghcr.io/a/b:1"), "ghcr.io/a/b:1");
    }
}
