//! Serverless: endpoints, their workers (local processes speaking RunPod's worker protocol),
//! and the job queue behind `/run`, `/runsync`, `/status`, `/stream`, `/cancel`, `/retry`,
//! `/purge-queue` and `/health`.
//!
//! Workers scale between `workers.min` and `workers.max` on queue depth, go idle and are
//! stopped after `idleTimeout`, and are restarted with backoff when they crash (a crash loop
//! shows as UNHEALTHY). Jobs honour `executionTimeout` (FAILED, and the worker is told to
//! stop), `ttl` (deleted: 404), and result retention (30 min after `/run`, 1 min after
//! `/runsync`).
//!
//! Over 600 lines: endpoints, workers and the job queue are one machine at RunPod (a job moves
//! with its worker, a worker with its endpoint's scaling and idle timeout); each transition sits
//! beside the ones it triggers.

use super::ledger::{Kind, Split};
use super::{Effect, Owner, SpawnSpec, Wake, World, random_id, random_secret};
use crate::clock::rfc3339;
use crate::logs::LogBuffer;
use crate::problem::{ApiError, ApiResult};
use chrono::{DateTime, TimeDelta, Utc};
use runpod::types::endpoints::{
    CreateEndpointGpuConfig, CreateEndpointRequest, Endpoint, EndpointGpuConfig, EndpointScaling,
    EndpointType, EndpointWorkersStatus, FlashBoot, ListEndpointWorkersResponse,
    ListEndpointsResponse, UpdateEndpointRequest, Worker, WorkerStatus, WorkerSummary,
};
use runpod::types::serverless::{
    Health, HealthJobs, HealthWorkers, JobState, JobStatus, PurgeQueueResponse, StreamChunk,
    StreamResponse,
};
use runpod::types::worker::{JobResultBody, TakenJob};
use runpod::{DataCenterId, EndpointId, GpuTypeId, JobId, NetworkVolumeId, TemplateId, WorkerId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// RunPod's per-job execution timeout default when nothing else says (ms).
pub const DEFAULT_POLICY_EXECUTION_TIMEOUT_MS: u64 = 600_000;
/// RunPod's job TTL default (ms).
pub const DEFAULT_TTL_MS: u64 = 86_400_000;
/// The v2 spec's default endpoint timeout (ms).
pub const DEFAULT_ENDPOINT_TIMEOUT_MS: i64 = 300_000;

/// A serverless endpoint.
#[derive(Debug, Clone)]
pub struct EndpointRecord {
    pub id: String,
    /// The account it belongs to (and bills).
    pub account: String,
    pub name: String,
    pub template_id: Option<String>,
    pub image: Option<String>,
    pub args: Option<String>,
    pub disk: Option<i64>,
    pub env: BTreeMap<String, String>,
    pub ports: Option<Vec<String>>,
    pub registry: Option<String>,
    pub gpu: Option<CreateEndpointGpuConfig>,
    pub cpu: Option<Vec<runpod::types::pods::CreateCpuConfig>>,
    pub workers_min: i64,
    pub workers_max: i64,
    /// Seconds.
    pub idle_timeout: i64,
    pub scaling: EndpointScaling,
    pub timeout_ms: i64,
    pub flashboot: FlashBoot,
    pub network_volumes: Vec<String>,
    pub data_center_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The last request (`/run`, `/runsync`) or configuration change: RunPod lowers an idle
    /// endpoint's max workers after 3 and 7 days without requests.
    pub last_request_at: DateTime<Utc>,
    pub version: i64,
    pub queue: VecDeque<String>,
    pub worker_key: String,
    pub completed: u64,
    pub failed: u64,
    pub retried: u64,
    /// GPU type workers run on and its per-worker USD/h.
    pub gpu_type: Option<String>,
    pub price_per_hr: f64,
    /// Every configuration version, oldest first (`/v2/serverless/{id}/releases`).
    pub releases: Vec<Release>,
}

/// One configuration version of an endpoint and what changed to make it.
#[derive(Debug, Clone)]
pub struct Release {
    pub id: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// `(field, old, new)` of the REST view.
    pub diff: Vec<(String, Value, Value)>,
}

/// One worker of an endpoint.
#[derive(Debug, Clone)]
pub struct WorkerRecord {
    pub id: String,
    pub endpoint_id: String,
    pub status: WorkerStatus,
    pub created_at: DateTime<Utc>,
    pub boot_until: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// Has called `job-take` since its process started.
    pub polled: bool,
    pub last_seen: Option<DateTime<Utc>>,
    pub in_flight: BTreeSet<String>,
    pub to_stop: Vec<String>,
    pub idle_since: Option<DateTime<Utc>>,
    pub generation: u64,
    pub process_running: bool,
    /// Not started by the emulator: a worker someone runs by hand against it.
    pub external: bool,
    pub crash_count: u32,
    pub next_restart: Option<DateTime<Utc>>,
    pub stopping: bool,
    pub logs: Arc<LogBuffer>,
    pub price_per_hr: f64,
    pub billed_until: DateTime<Utc>,
    pub gpu_type: Option<String>,
    pub version: i64,
}

impl WorkerRecord {
    /// Billed "from when a worker starts until it fully stops" (`serverless/pricing.mdx`):
    /// from the moment it is allocated (its boot and image pull, a crash loop's restarts and
    /// the stop's grace included) until it is gone, not only while it runs jobs. A worker run
    /// by hand against the emulator (`external`) is nobody's bill.
    pub fn is_billing(&self) -> bool {
        !self.external
    }
}

/// One job.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub endpoint_id: String,
    pub input: Value,
    pub webhook: Option<String>,
    pub s3_config: Option<Value>,
    pub execution_timeout_ms: Option<u64>,
    pub ttl_ms: u64,
    pub low_priority: bool,
    pub status: JobStatus,
    pub submitted_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub worker_id: Option<String>,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub progress: Option<Value>,
    pub chunks: Vec<Value>,
    pub cursor: usize,
    pub sync: bool,
    pub retries: u32,
}

fn ms(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    (b - a).num_milliseconds().max(0) as u64
}

fn after_secs(t: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    t + TimeDelta::milliseconds((secs * 1000.0) as i64)
}

impl JobRecord {
    /// The `/status` body.
    pub fn state(&self, now: DateTime<Utc>) -> JobState {
        JobState {
            id: JobId::new(&self.id),
            status: self.status,
            delay_time: self.started_at.map(|s| ms(self.submitted_at, s)),
            execution_time: self.started_at.map(|s| ms(s, self.completed_at.unwrap_or(now))),
            output: if self.status.is_final() {
                self.output.clone()
            } else {
                self.progress.clone()
            },
            error: self.error.clone(),
            worker_id: self.worker_id.as_deref().map(WorkerId::new),
            retries: (self.retries > 0).then_some(self.retries),
        }
    }
}

/// The body a worker receives from `job-take`.
fn taken(j: &JobRecord) -> TakenJob {
    TakenJob {
        id: j.id.clone(),
        input: j.input.clone(),
        webhook: j.webhook.clone(),
        s3_config: j.s3_config.clone(),
    }
}

impl World {
    fn resolve_gpu(
        &self,
        gpu: Option<&CreateEndpointGpuConfig>,
    ) -> ApiResult<(Option<String>, f64)> {
        let Some(g) = gpu else { return Ok((None, 0.0)) };
        let pools = g.pools.clone().unwrap_or_default();
        let excluded: Vec<String> =
            g.excluded_types.clone().unwrap_or_default().into_iter().map(|t| t.0).collect();
        let count = g.count.unwrap_or(1) as f64;
        let mut best: Option<(String, f64)> = None;
        for pool in &pools {
            let offers: Vec<_> = self
                .catalog
                .gpus
                .iter()
                .filter(|o| o.pool.as_deref() == Some(pool.as_str()))
                .collect();
            if offers.is_empty() && !runpod::ids::KNOWN_GPU_POOL_IDS.contains(&pool.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown GPU pool id: {:?}",
                    pool.as_str()
                )));
            }
            for o in offers.into_iter().filter(|o| !excluded.contains(&o.id)) {
                let price = o.serverless_price.unwrap_or(o.secure_price * 2.0);
                if best.as_ref().is_none_or(|(_, p)| price < *p) {
                    best = Some((o.id.clone(), price));
                }
            }
        }
        Ok(best.map_or((None, 0.0), |(id, p)| (Some(id), p * count)))
    }

    /// `POST /v2/serverless`.
    pub fn endpoint_create(
        &mut self,
        acct: &str,
        req: CreateEndpointRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Endpoint> {
        if req.kind == EndpointType::LoadBalancer {
            return Err(ApiError::bad_request(
                "load-balancing endpoints are not emulated; use type QUEUE",
            ));
        }
        if let Some(t) = &req.template_id {
            let tpl = self
                .templates
                .get(t.as_str())
                .filter(|t| t.account == acct)
                .ok_or_else(ApiError::not_found)?;
            if !tpl.template.serverless {
                return Err(ApiError::bad_request(
                    "templateId must name a serverless template (serverless: true)",
                ));
            }
        }
        if req.gpu.is_some() && req.cpu.is_some() {
            return Err(ApiError::bad_request("`gpu` and `cpu` are mutually exclusive"));
        }
        let w = req.workers.clone().unwrap_or_default();
        let (min, max) = (w.min.unwrap_or(0), w.max.unwrap_or(3));
        if min > max {
            return Err(ApiError::bad_request(format!(
                "workers.min ({min}) exceeds workers.max ({max})"
            )));
        }
        for v in req.network_volumes.iter().flatten() {
            if !self.owns(acct, super::Res::Volume, v.as_str()) {
                return Err(ApiError::bad_request(format!("network volume {v} not found")));
            }
        }
        let (gpu_type, price) = self.resolve_gpu(req.gpu.as_ref())?;
        // The template is resolved once, here (spec: "Later template edits do not affect the
        // endpoint"); the request's own fields win over it.
        let tpl = req
            .template_id
            .as_ref()
            .and_then(|t| self.templates.get(t.as_str()))
            .map(|t| t.template.clone());
        let mut env = tpl.as_ref().map(|t| t.env.clone()).unwrap_or_default();
        env.extend(req.env.unwrap_or_default());
        let id = random_id(14);
        let worker_key = random_secret("rpa_WORKER");
        self.worker_keys.insert(worker_key.clone(), id.clone());
        self.ledger.own(Kind::Serverless, &id, acct);
        let rec = EndpointRecord {
            id: id.clone(),
            account: acct.to_owned(),
            name: req.name,
            template_id: req.template_id.map(|t| t.0),
            image: req.image.or_else(|| tpl.as_ref().map(|t| t.image.clone())),
            args: req.args.or_else(|| tpl.as_ref().map(|t| t.args.clone())),
            disk: req.disk.or_else(|| tpl.as_ref().map(|t| t.disk)),
            env,
            ports: req.ports.or_else(|| tpl.as_ref().map(|t| t.ports.clone())),
            registry: req.registry.or_else(|| tpl.as_ref().and_then(|t| t.registry.clone())),
            gpu: req.gpu,
            cpu: req.cpu,
            workers_min: min,
            workers_max: max,
            idle_timeout: w.idle_timeout.unwrap_or(10),
            scaling: req.scaling,
            timeout_ms: req.timeout.unwrap_or(DEFAULT_ENDPOINT_TIMEOUT_MS),
            flashboot: req.flashboot.unwrap_or(FlashBoot::Off),
            network_volumes: req
                .network_volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.0)
                .collect(),
            data_center_ids: req
                .data_center_ids
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.0)
                .collect(),
            created_at: now,
            last_request_at: now,
            version: 1,
            queue: VecDeque::new(),
            worker_key,
            completed: 0,
            failed: 0,
            retried: 0,
            gpu_type,
            price_per_hr: price,
            releases: vec![Release {
                id: format!("rel_{}", random_id(10)),
                version: 1,
                created_at: now,
                diff: Vec::new(),
            }],
        };
        self.endpoints.insert(id.clone(), rec);
        self.scale_endpoint(&id, now);
        self.endpoint_api(&id)
    }

    /// The endpoint as REST v2 shows it.
    pub fn endpoint_api(&self, id: &str) -> ApiResult<Endpoint> {
        let e = self.endpoints.get(id).ok_or_else(ApiError::not_found)?;
        let base = format!("{}/v2/{}", self.base_url, e.id);
        Ok(Endpoint {
            id: EndpointId::new(&e.id),
            name: e.name.clone(),
            kind: Some(EndpointType::Queue),
            request_urls: Some(serde_json::json!({
                "run": format!("{base}/run"), "runSync": format!("{base}/runsync"), "status": format!("{base}/status"),
                "stream": format!("{base}/stream"), "cancel": format!("{base}/cancel"), "retry": format!("{base}/retry"),
                "purgeQueue": format!("{base}/purge-queue"), "health": format!("{base}/health"),
            })),
            image: e.image.clone(),
            args: e.args.clone(),
            disk: e.disk,
            env: Some(e.env.clone()),
            ports: e.ports.clone(),
            registry: e.registry.clone(),
            gpu: e.gpu.as_ref().map(|g| EndpointGpuConfig {
                pools: g.pools.clone().unwrap_or_default(),
                excluded_types: g.excluded_types.clone(),
                count: g.count.unwrap_or(1),
                allowed_cuda_versions: g.allowed_cuda_versions.clone().unwrap_or_default(),
                min_cuda_version: g.min_cuda_version.clone(),
            }),
            workers: EndpointWorkersStatus {
                min: e.workers_min,
                max: e.workers_max,
                idle_timeout: Some(e.idle_timeout),
            },
            scaling: e.scaling.clone(),
            data_center_ids: e.data_center_ids.iter().map(DataCenterId::new).collect(),
            network_volumes: e.network_volumes.iter().map(NetworkVolumeId::new).collect(),
            timeout: e.timeout_ms,
            flashboot: e.flashboot,
            created_at: rfc3339(e.created_at),
            template_id: e.template_id.as_deref().map(TemplateId::new),
        })
    }

    /// `GET /v2/serverless` of `acct`, oldest first.
    pub fn endpoint_list(
        &self,
        acct: &str,
        page: &crate::paging::PageRequest,
    ) -> ListEndpointsResponse {
        let mut v: Vec<&EndpointRecord> =
            self.endpoints.values().filter(|e| e.account == acct).collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        let keyed = v
            .into_iter()
            .map(|e| (crate::paging::created_key(e.created_at.timestamp_millis(), &e.id), e))
            .collect();
        let (shown, pagination) = page.page(keyed);
        ListEndpointsResponse {
            endpoints: shown.into_iter().filter_map(|e| self.endpoint_api(&e.id).ok()).collect(),
            pagination,
        }
    }

    /// `PATCH /v2/serverless/{id}`.
    pub fn endpoint_update(
        &mut self,
        id: &str,
        req: UpdateEndpointRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Endpoint> {
        let acct = self.owner(super::Res::Endpoint, id).unwrap_or_default().to_owned();
        if let Some(t) = &req.template_id {
            let tpl = self
                .templates
                .get(t.as_str())
                .filter(|t| t.account == acct)
                .ok_or_else(ApiError::not_found)?;
            if !tpl.template.serverless {
                return Err(ApiError::bad_request(
                    "templateId must name a serverless template (serverless: true)",
                ));
            }
        }
        if req.network_volumes.as_ref().is_some_and(Vec::is_empty) {
            // As pods' `network: []` (spec prose on `Mounts`; API-NOTES, corrections 2026-12-05).
            return Err(ApiError::bad_request(
                "`networkVolumes: []` is not supported: an endpoint's network volumes cannot be cleared",
            ));
        }
        for v in req.network_volumes.iter().flatten() {
            if !self.owns(&acct, super::Res::Volume, v.as_str()) {
                return Err(ApiError::bad_request(format!("network volume {v} not found")));
            }
        }
        // A PATCH of `gpu` merges into the current selection (pools may be left out).
        let current = self.endpoints.get(id).ok_or_else(ApiError::not_found)?.gpu.clone();
        let before = serde_json::to_value(self.endpoint_api(id)?).unwrap_or_default();
        let merged = req.gpu.as_ref().map(|g| {
            let old = current.clone().unwrap_or_default();
            CreateEndpointGpuConfig {
                pools: g.pools.clone().or(old.pools),
                excluded_types: g.excluded_types.clone().or(old.excluded_types),
                count: g.count.or(old.count),
                allowed_cuda_versions: g
                    .allowed_cuda_versions
                    .clone()
                    .or(old.allowed_cuda_versions),
                min_cuda_version: match g.min_cuda_version.as_deref() {
                    Some("") => None,
                    Some(v) => Some(v.to_owned()),
                    None => old.min_cuda_version,
                },
            }
        });
        if merged.as_ref().is_some_and(|g| g.pools.as_ref().is_none_or(Vec::is_empty)) {
            return Err(ApiError::bad_request(
                "`gpu.pools` is required: this endpoint has no GPU pools yet",
            ));
        }
        let gpu = match &merged {
            Some(g) => Some(self.resolve_gpu(Some(g))?),
            None => None,
        };
        // A new template is resolved now, like at create; explicit fields below win over it.
        let tpl = req
            .template_id
            .as_ref()
            .and_then(|t| self.templates.get(t.as_str()))
            .map(|t| t.template.clone());
        let e = self.endpoints.get_mut(id).ok_or_else(ApiError::not_found)?;
        let (min, max) = (
            req.workers.as_ref().and_then(|w| w.min).unwrap_or(e.workers_min),
            req.workers.as_ref().and_then(|w| w.max).unwrap_or(e.workers_max),
        );
        if min > max {
            return Err(ApiError::bad_request(format!(
                "workers.min ({min}) exceeds workers.max ({max})"
            )));
        }
        let mut new_version = false;
        if let Some(v) = req.name {
            e.name = v;
        }
        if let Some(v) = req.template_id {
            new_version |= e.template_id.as_deref() != Some(v.as_str());
            e.template_id = Some(v.0);
        }
        if let Some(t) = tpl {
            new_version |= e.image.as_ref() != Some(&t.image)
                || e.args.as_ref() != Some(&t.args)
                || e.env != t.env;
            e.image = Some(t.image);
            e.args = Some(t.args);
            e.env = t.env;
            e.disk = Some(t.disk);
            e.ports = Some(t.ports);
            e.registry = t.registry.or(e.registry.take());
        }
        if let Some(v) = req.image {
            new_version |= e.image.as_ref() != Some(&v);
            e.image = Some(v);
        }
        if let Some(v) = req.args {
            new_version |= e.args.as_ref() != Some(&v);
            e.args = Some(v);
        }
        if let Some(v) = req.env {
            new_version |= e.env != v;
            e.env = v;
        }
        if let Some(v) = req.disk {
            e.disk = Some(v);
        }
        if let Some(v) = req.ports {
            e.ports = Some(v);
        }
        if let Some(v) = req.registry {
            e.registry = Some(v);
        }
        if let Some(g) = merged {
            e.gpu = Some(g);
            if let Some((t, p)) = gpu {
                e.gpu_type = t;
                e.price_per_hr = p;
            }
        }
        if let Some(v) = req.cpu {
            e.cpu = Some(v);
        }
        if let Some(v) = req.scaling {
            e.scaling = v;
        }
        if let Some(v) = req.timeout {
            e.timeout_ms = v;
        }
        if let Some(v) = req.flashboot {
            e.flashboot = v;
        }
        if let Some(v) = req.network_volumes {
            e.network_volumes = v.into_iter().map(|x| x.0).collect();
        }
        if let Some(v) = req.data_center_ids {
            e.data_center_ids = v.into_iter().map(|x| x.0).collect();
        }
        if let Some(w) = req.workers {
            if let Some(t) = w.idle_timeout {
                e.idle_timeout = t;
            }
            // Setting the workers again counts as use (unconfirmed: RunPod documents only the
            // shrink), so a repaired endpoint is not shrunk again on the next tick.
            e.last_request_at = now;
        }
        e.workers_min = min;
        e.workers_max = max;
        if new_version {
            e.version += 1;
            let version = e.version;
            let after = serde_json::to_value(self.endpoint_api(id)?).unwrap_or_default();
            let diff = match (before, after) {
                (Value::Object(b), Value::Object(a)) => a
                    .iter()
                    .filter(|(k, v)| b.get(*k) != Some(*v) && k.as_str() != "version")
                    .map(|(k, v)| (k.clone(), b.get(k).cloned().unwrap_or(Value::Null), v.clone()))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(e) = self.endpoints.get_mut(id) {
                e.releases.push(Release {
                    id: format!("rel_{}", random_id(10)),
                    version,
                    created_at: now,
                    diff,
                });
            }
        }
        self.scale_endpoint(id, now);
        self.endpoint_api(id)
    }

    /// `GET /v2/serverless/{id}/releases`: newest first, with how many workers run each.
    pub fn endpoint_releases(&self, id: &str) -> ApiResult<Value> {
        let e = self.endpoints.get(id).ok_or_else(ApiError::not_found)?;
        let workers: Vec<&WorkerRecord> =
            self.workers.values().filter(|w| w.endpoint_id == id && !w.stopping).collect();
        let on = |v: i64| workers.iter().filter(|w| w.version == v).count();
        let latest = on(e.version);
        let releases: Vec<Value> = e
            .releases
            .iter()
            .rev()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "version": r.version, "source": "MANUAL", "buildId": null, "createdByUserId": e.account,
                    "workerCount": on(r.version), "createdAt": rfc3339(r.created_at),
                    "diff": r.diff.iter().map(|(f, o, n)| serde_json::json!({"field": f, "old": o, "new": n})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let total = workers.len();
        Ok(serde_json::json!({
            "endpointVersion": e.version,
            "rollout": {
                "inProgress": latest < total, "workersOnLatest": latest, "workersTotal": total,
                "percentOnLatest": (latest * 100).checked_div(total).unwrap_or(0),
            },
            "releases": releases,
        }))
    }

    /// `DELETE /v2/serverless/{id}`: workers stopped, jobs dropped.
    pub fn endpoint_delete(&mut self, id: &str, now: DateTime<Utc>) -> ApiResult<()> {
        if !self.endpoints.contains_key(id) {
            return Err(ApiError::not_found());
        }
        let workers: Vec<String> =
            self.workers.values().filter(|w| w.endpoint_id == id).map(|w| w.id.clone()).collect();
        for w in workers {
            self.worker_stop(&w, now);
        }
        self.jobs.retain(|_, j| j.endpoint_id != id);
        if let Some(e) = self.endpoints.remove(id) {
            self.worker_keys.remove(&e.worker_key);
        }
        self.effect(Effect::Wake(Wake::All));
        Ok(())
    }

    /// `GET /v2/serverless/{id}/workers`.
    pub fn endpoint_workers(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<ListEndpointWorkersResponse> {
        let e = self.endpoints.get(id).ok_or_else(ApiError::not_found)?;
        let mut list: Vec<&WorkerRecord> =
            self.workers.values().filter(|w| w.endpoint_id == id).collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        let mut summary = WorkerSummary::default();
        let workers = list
            .into_iter()
            .map(|w| {
                match w.status {
                    WorkerStatus::Running => summary.running += 1,
                    WorkerStatus::Idle => summary.idle += 1,
                    WorkerStatus::Initializing => summary.initializing += 1,
                    WorkerStatus::Throttled => summary.throttled += 1,
                    _ => summary.unhealthy += 1,
                }
                summary.total += 1;
                Worker {
                    id: WorkerId::new(&w.id),
                    status: w.status,
                    is_stale: w.version < e.version,
                    version: Some(w.version),
                    gpu_count: e.gpu.as_ref().map_or(0, |g| g.count.unwrap_or(1)),
                    image: e.image.clone(),
                    uptime_seconds: w.started_at.map(|s| (now - s).num_seconds().max(0)),
                    gpu_type_id: w.gpu_type.as_deref().map(GpuTypeId::new),
                    data_center_id: e.data_center_ids.first().map(DataCenterId::new),
                    started_at: w.started_at.map(rfc3339),
                }
            })
            .collect();
        Ok(ListEndpointWorkersResponse { workers, summary, endpoint_version: Some(e.version) })
    }

    // ---- jobs (client side) ----

    /// `/run` and `/runsync`: queue a job. RunPod drops unknown top-level keys.
    pub fn job_submit(
        &mut self,
        ep: &str,
        body: Value,
        sync: bool,
        now: DateTime<Utc>,
    ) -> ApiResult<JobState> {
        if !self.endpoints.contains_key(ep) {
            return Err(ApiError::not_found());
        }
        let Value::Object(mut body) = body else {
            return Err(ApiError::bad_request(
                "request body must be a JSON object with an `input` field",
            ));
        };
        let input = body
            .remove("input")
            .ok_or_else(|| ApiError::bad_request("missing required field `input`"))?;
        let policy = body.remove("policy").unwrap_or(Value::Null);
        let num = |k: &str| policy.get(k).and_then(Value::as_u64);
        let exec = num("executionTimeout");
        let ttl = num("ttl").unwrap_or(DEFAULT_TTL_MS);
        const WEEK_MS: u64 = 7 * 86_400_000;
        if exec.is_some_and(|e| !(5_000..=WEEK_MS).contains(&e)) {
            return Err(ApiError::bad_request(
                "policy.executionTimeout must be between 5000 ms and 7 days",
            ));
        }
        if !(10_000..=WEEK_MS).contains(&ttl) {
            return Err(ApiError::bad_request("policy.ttl must be between 10000 ms and 7 days"));
        }
        let uuid = uuid::Uuid::new_v4();
        let id = if sync { format!("sync-{uuid}-u1") } else { format!("{uuid}-u1") };
        let job = JobRecord {
            id: id.clone(),
            endpoint_id: ep.to_owned(),
            input,
            webhook: body.remove("webhook").and_then(|v| v.as_str().map(str::to_owned)),
            s3_config: body.remove("s3Config"),
            execution_timeout_ms: exec,
            ttl_ms: ttl,
            low_priority: policy.get("lowPriority").and_then(Value::as_bool).unwrap_or(false),
            status: JobStatus::InQueue,
            submitted_at: now,
            started_at: None,
            completed_at: None,
            worker_id: None,
            output: None,
            error: None,
            progress: None,
            chunks: Vec::new(),
            cursor: 0,
            sync,
            retries: 0,
        };
        let state = job.state(now);
        self.jobs.insert(id.clone(), job);
        if let Some(e) = self.endpoints.get_mut(ep) {
            e.queue.push_back(id);
            e.last_request_at = now;
        }
        self.scale_endpoint(ep, now);
        self.effect(Effect::Wake(Wake::Queue(ep.to_owned())));
        Ok(state)
    }

    fn job_of(&self, ep: &str, job: &str) -> ApiResult<&JobRecord> {
        self.jobs.get(job).filter(|j| j.endpoint_id == ep).ok_or_else(|| {
            ApiError::new(404, format!("job {job} not found (unknown, or its result expired)"))
        })
    }

    /// `/status/{job}`.
    pub fn job_status(&self, ep: &str, job: &str, now: DateTime<Utc>) -> ApiResult<JobState> {
        if !self.endpoints.contains_key(ep) {
            return Err(ApiError::not_found());
        }
        Ok(self.job_of(ep, job)?.state(now))
    }

    /// `/stream/{job}`: each chunk is delivered exactly once.
    pub fn job_stream(&mut self, ep: &str, job: &str) -> ApiResult<StreamResponse> {
        self.job_of(ep, job)?;
        let j = self.jobs.get_mut(job).ok_or_else(ApiError::not_found)?;
        let chunks: Vec<StreamChunk> =
            j.chunks[j.cursor..].iter().cloned().map(|output| StreamChunk { output }).collect();
        j.cursor = j.chunks.len();
        Ok(StreamResponse {
            status: j.status,
            stream: chunks,
            error: if j.status == JobStatus::Failed { j.error.clone() } else { None },
        })
    }

    /// `/cancel/{job}`: queued jobs leave the queue; running ones go on their worker's stop list.
    pub fn job_cancel(&mut self, ep: &str, job: &str, now: DateTime<Utc>) -> ApiResult<JobState> {
        self.job_of(ep, job)?;
        let j = self.jobs.get_mut(job).ok_or_else(ApiError::not_found)?;
        if !j.status.is_final() {
            let was = j.status;
            j.status = JobStatus::Cancelled;
            j.completed_at = Some(now);
            let worker = j.worker_id.clone();
            if was == JobStatus::InQueue {
                if let Some(e) = self.endpoints.get_mut(ep) {
                    e.queue.retain(|x| x != job);
                }
            } else if let Some(w) = worker.as_ref().and_then(|w| self.workers.get_mut(w)) {
                w.in_flight.remove(job);
                w.to_stop.push(job.to_owned());
                if w.in_flight.is_empty() {
                    w.status = WorkerStatus::Idle;
                    w.idle_since = Some(now);
                }
                let stops = Wake::Stops(w.id.clone());
                self.effect(Effect::Wake(stops));
            }
            self.effect(Effect::Wake(Wake::Job(job.to_owned())));
        }
        Ok(self.jobs[job].state(now))
    }

    /// `/retry/{job}`: FAILED or TIMED_OUT jobs go back in the queue with their input.
    pub fn job_retry(&mut self, ep: &str, job: &str, now: DateTime<Utc>) -> ApiResult<JobState> {
        self.job_of(ep, job)?;
        let j = self.jobs.get_mut(job).ok_or_else(ApiError::not_found)?;
        if !matches!(j.status, JobStatus::Failed | JobStatus::TimedOut) {
            return Err(ApiError::bad_request(format!(
                "only FAILED or TIMED_OUT jobs can be retried; this job is {}",
                j.status
            )));
        }
        j.status = JobStatus::InQueue;
        j.output = None;
        j.error = None;
        j.progress = None;
        j.chunks.clear();
        j.cursor = 0;
        j.started_at = None;
        j.completed_at = None;
        j.worker_id = None;
        j.retries += 1;
        j.submitted_at = now;
        if let Some(e) = self.endpoints.get_mut(ep) {
            e.queue.push_back(job.to_owned());
            e.retried += 1;
        }
        self.scale_endpoint(ep, now);
        self.effect(Effect::Wake(Wake::Queue(ep.to_owned())));
        Ok(self.jobs[job].state(now))
    }

    /// `/purge-queue`.
    pub fn purge_queue(&mut self, ep: &str) -> ApiResult<PurgeQueueResponse> {
        let e = self.endpoints.get_mut(ep).ok_or_else(ApiError::not_found)?;
        let ids: Vec<String> = e.queue.drain(..).collect();
        for id in &ids {
            self.jobs.remove(id);
        }
        self.effect(Effect::Wake(Wake::All));
        Ok(PurgeQueueResponse { removed: ids.len() as u64, status: "completed".into() })
    }

    /// `/health`.
    pub fn health(&self, ep: &str) -> ApiResult<Health> {
        let e = self.endpoints.get(ep).ok_or_else(ApiError::not_found)?;
        let in_progress = self
            .jobs
            .values()
            .filter(|j| j.endpoint_id == ep && j.status == JobStatus::InProgress)
            .count() as u64;
        let mut workers = HealthWorkers::default();
        for w in self.workers.values().filter(|w| w.endpoint_id == ep) {
            match w.status {
                WorkerStatus::Running => workers.running += 1,
                WorkerStatus::Idle => {
                    workers.idle += 1;
                    workers.ready += 1;
                }
                WorkerStatus::Initializing => workers.initializing += 1,
                WorkerStatus::Throttled => workers.throttled += 1,
                _ => workers.unhealthy += 1,
            }
        }
        Ok(Health {
            jobs: HealthJobs {
                completed: e.completed,
                failed: e.failed,
                in_progress,
                in_queue: e.queue.len() as u64,
                retried: e.retried,
            },
            workers,
        })
    }

    // ---- jobs (worker side) ----

    fn worker_entry(&mut self, ep: &str, worker: &str, now: DateTime<Utc>) -> ApiResult<()> {
        if self.retired_workers.contains(worker) {
            return Err(ApiError::new(404, format!("worker {worker} was stopped")));
        }
        let e = self.endpoints.get(ep).ok_or_else(ApiError::not_found)?;
        let (price, gpu, version) = (e.price_per_hr, e.gpu_type.clone(), e.version);
        let w = self.workers.entry(worker.to_owned()).or_insert_with(|| WorkerRecord {
            id: worker.to_owned(),
            endpoint_id: ep.to_owned(),
            status: WorkerStatus::Idle,
            created_at: now,
            boot_until: None,
            started_at: Some(now),
            polled: true,
            last_seen: Some(now),
            in_flight: BTreeSet::new(),
            to_stop: Vec::new(),
            idle_since: Some(now),
            generation: 0,
            process_running: false,
            external: true,
            crash_count: 0,
            next_restart: None,
            stopping: false,
            logs: Arc::new(LogBuffer::default()),
            price_per_hr: price,
            billed_until: now,
            gpu_type: gpu,
            version,
        });
        if w.endpoint_id != ep {
            return Err(ApiError::forbidden());
        }
        w.last_seen = Some(now);
        if !w.polled {
            w.polled = true;
            w.idle_since = Some(now);
            w.logs.push(now, "system", "worker ready: polling for jobs");
        }
        Ok(())
    }

    /// `job-take` / `job-take-batch`: hands out up to `max` queued jobs. An empty result means
    /// "hold the poll and try again".
    pub fn job_take(
        &mut self,
        ep: &str,
        worker: &str,
        max: usize,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<TakenJob>> {
        self.worker_entry(ep, worker, now)?;
        if self.workers.get(worker).is_some_and(|w| w.stopping) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(id) = self.endpoints.get_mut(ep).and_then(|e| e.queue.pop_front()) else {
                break;
            };
            let Some(j) = self.jobs.get_mut(&id) else { continue };
            if j.status != JobStatus::InQueue {
                continue;
            }
            j.status = JobStatus::InProgress;
            j.started_at = Some(now);
            j.worker_id = Some(worker.to_owned());
            out.push(taken(j));
        }
        if let Some(w) = self.workers.get_mut(worker) {
            for j in &out {
                w.in_flight.insert(j.id.clone());
            }
            if !w.in_flight.is_empty() {
                w.status = WorkerStatus::Running;
                w.idle_since = None;
            } else if w.status != WorkerStatus::Idle {
                w.status = WorkerStatus::Idle;
                w.idle_since = Some(now);
            }
        }
        // Nobody long-polls for a job to start (`/runsync` waits for its end): no wake here.
        Ok(out)
    }

    /// `job-stop`: jobs this worker must cancel (each reported once).
    pub fn job_stop_list(
        &mut self,
        ep: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<Vec<String>> {
        self.worker_entry(ep, worker, now)?;
        Ok(self.workers.get_mut(worker).map(|w| std::mem::take(&mut w.to_stop)).unwrap_or_default())
    }

    /// `job-done`: a progress update, or the final result (`isStream=true` ends a stream).
    pub fn job_done(
        &mut self,
        ep: &str,
        worker: &str,
        job: &str,
        body: JobResultBody,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        self.worker_entry(ep, worker, now)?;
        let Some(j) = self.jobs.get_mut(job).filter(|j| j.endpoint_id == ep) else {
            // A result for a job that expired or was purged: accepted and dropped, as RunPod does.
            return Ok(());
        };
        if j.status != JobStatus::InProgress {
            return Ok(());
        }
        if body.is_progress() {
            j.progress = body.output;
            return Ok(());
        }
        let failed =
            body.error.as_ref().is_some_and(|e| !e.is_null() && e != &Value::String(String::new()));
        j.status = if failed { JobStatus::Failed } else { JobStatus::Completed };
        j.output = if failed { None } else { body.output };
        j.error = if failed { body.error } else { None };
        j.completed_at = Some(now);
        let webhook = j
            .webhook
            .clone()
            .map(|url| (url, serde_json::to_value(j.state(now)).unwrap_or(Value::Null)));
        if let Some(e) = self.endpoints.get_mut(ep) {
            if failed {
                e.failed += 1;
            } else {
                e.completed += 1;
            }
        }
        if let Some(w) = self.workers.get_mut(worker) {
            w.in_flight.remove(job);
            if w.in_flight.is_empty() {
                w.status = WorkerStatus::Idle;
                w.idle_since = Some(now);
            }
        }
        if let Some((url, body)) = webhook {
            self.effect(Effect::Webhook { url, body });
        }
        if body.stop_pod == Some(true) {
            self.worker_stop(worker, now);
            self.scale_endpoint(ep, now);
        }
        self.effect(Effect::Wake(Wake::Job(job.to_owned())));
        Ok(())
    }

    /// `job-stream`: one more chunk for `/stream`.
    pub fn job_stream_chunk(
        &mut self,
        ep: &str,
        worker: &str,
        job: &str,
        body: JobResultBody,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        self.worker_entry(ep, worker, now)?;
        if let Some(j) = self
            .jobs
            .get_mut(job)
            .filter(|j| j.endpoint_id == ep && j.status == JobStatus::InProgress)
        {
            j.chunks.push(body.output.unwrap_or(Value::Null));
            self.effect(Effect::Wake(Wake::Job(job.to_owned())));
        }
        Ok(())
    }

    /// `ping`: the worker is alive, and says which jobs it is running. A job it still runs
    /// that is already over here (cancelled, timed out, expired) goes back on its stop list:
    /// a stop can reach a worker before its task exists, and the runtime then drops it.
    pub fn worker_ping(
        &mut self,
        ep: &str,
        worker: &str,
        running: &[String],
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        self.worker_entry(ep, worker, now)?;
        let stale: Vec<String> = running
            .iter()
            .filter(|id| {
                self.jobs
                    .get(id.as_str())
                    .is_none_or(|j| j.status.is_final() || j.worker_id.as_deref() != Some(worker))
            })
            .cloned()
            .collect();
        if let Some(w) = self.workers.get_mut(worker) {
            let mut added = false;
            for id in stale {
                if !w.to_stop.contains(&id) {
                    w.to_stop.push(id);
                    added = true;
                }
            }
            if added {
                self.effect(Effect::Wake(Wake::Stops(worker.to_owned())));
            }
        }
        Ok(())
    }

    // ---- workers (emulator side) ----

    /// Starts workers until the endpoint has as many as its queue needs (within min..=max).
    pub fn scale_endpoint(&mut self, ep: &str, now: DateTime<Utc>) {
        let Some(e) = self.endpoints.get(ep) else { return };
        let active = self
            .workers
            .values()
            .filter(|w| w.endpoint_id == ep && !w.stopping && !w.external)
            .count() as i64;
        let queued: Vec<&JobRecord> =
            e.queue.iter().filter_map(|id| self.jobs.get(id)).filter(|j| !j.low_priority).collect();
        let in_progress = self
            .jobs
            .values()
            .filter(|j| j.endpoint_id == ep && j.status == JobStatus::InProgress)
            .count() as i64;
        let idle = self
            .workers
            .values()
            .filter(|w| w.endpoint_id == ep && w.status == WorkerStatus::Idle && !w.stopping)
            .count() as i64;
        let outstanding = queued.len() as i64 + in_progress;
        let demand = match &e.scaling {
            EndpointScaling::RequestCount { request_count } => {
                (outstanding + request_count - 1) / (*request_count).max(1)
            }
            EndpointScaling::QueueDelay { queue_delay } => {
                let oldest = queued.iter().map(|j| j.submitted_at).min();
                let waited = oldest
                    .is_some_and(|t| (now - t).num_milliseconds() as f64 >= queue_delay * 1000.0);
                if !queued.is_empty() && (active == 0 || (waited && idle == 0)) {
                    outstanding
                } else {
                    active
                }
            }
        };
        let desired = demand.max(e.workers_min).min(e.workers_max);
        if self.balance(&e.account) <= 0.0 {
            return; // RunPod starts no worker for an account that cannot pay
        }
        for _ in active..desired {
            self.worker_spawn(ep, now);
        }
    }

    fn worker_spawn(&mut self, ep: &str, now: DateTime<Utc>) {
        let Some(e) = self.endpoints.get(ep) else { return };
        let id = loop {
            let id = random_id(14);
            if !self.workers.contains_key(&id) {
                break id;
            }
        };
        let boot = self.cfg.serverless.worker_boot_secs;
        let throttled = self.worker_faults.throttled;
        let logs = Arc::new(LogBuffer::default());
        logs.push(now, "system", format!("worker {id} scheduled for endpoint {ep}"));
        let rec = WorkerRecord {
            id: id.clone(),
            endpoint_id: ep.to_owned(),
            status: if throttled { WorkerStatus::Throttled } else { WorkerStatus::Initializing },
            created_at: now,
            boot_until: (!throttled).then(|| after_secs(now, boot)),
            started_at: None,
            polled: false,
            last_seen: None,
            in_flight: BTreeSet::new(),
            to_stop: Vec::new(),
            idle_since: None,
            generation: 0,
            process_running: false,
            external: false,
            crash_count: 0,
            next_restart: None,
            stopping: false,
            logs,
            price_per_hr: e.price_per_hr,
            billed_until: now,
            gpu_type: e.gpu_type.clone(),
            version: e.version,
        };
        self.workers.insert(id.clone(), rec);
        if boot <= 0.0 && !throttled {
            self.worker_start_process(&id, now);
        }
    }

    fn worker_start_process(&mut self, id: &str, now: DateTime<Utc>) {
        let generation = self.generation();
        let crash = self.worker_faults.crash_on_start;
        let base = self.base_url.clone();
        let Some(w) = self.workers.get(id) else { return };
        let Some(e) = self.endpoints.get(&w.endpoint_id) else { return };
        let image = e.image.clone().unwrap_or_default();
        let args = if crash {
            "sh -c 'echo \"emulator fault: worker crashed on start\" >&2; exit 1'".to_owned()
        } else {
            e.args.clone().unwrap_or_default()
        };
        let resolved = self.resolve_container(&e.account, &image, e.registry.as_deref(), &args);
        // RunPod mounts an endpoint's network volume at /runpod-volume.
        let volumes: Vec<_> = e
            .network_volumes
            .first()
            .map(|v| (self.volume_dir(v), "/runpod-volume".to_owned()))
            .into_iter()
            .collect();
        let mut env: Vec<(String, String)> = e.env.clone().into_iter().collect();
        let ep = e.id.clone();
        let key = e.worker_key.clone();
        let gpu_count = e.gpu.as_ref().map_or(0, |g| g.count.unwrap_or(1));
        let gpu = e.gpu_type.clone().unwrap_or_else(|| "CPU".into()).replace(' ', "+");
        let version = e.version;
        env.extend([
            ("RUNPOD_WEBHOOK_GET_JOB".to_owned(), format!("{base}/v2/{ep}/job-take/$ID?gpu={gpu}")),
            (
                "RUNPOD_WEBHOOK_POST_OUTPUT".to_owned(),
                format!("{base}/v2/{ep}/job-done/$RUNPOD_POD_ID/$ID?gpu={gpu}"),
            ),
            (
                "RUNPOD_WEBHOOK_POST_STREAM".to_owned(),
                format!("{base}/v2/{ep}/job-stream/$RUNPOD_POD_ID/$ID?gpu={gpu}"),
            ),
            (
                "RUNPOD_WEBHOOK_PING".to_owned(),
                format!("{base}/v2/{ep}/ping/$RUNPOD_POD_ID?gpu={gpu}"),
            ),
            ("RUNPOD_POD_ID".to_owned(), id.to_owned()),
            ("RUNPOD_AI_API_KEY".to_owned(), key),
            ("RUNPOD_ENDPOINT_ID".to_owned(), ep.clone()),
            ("RUNPOD_PING_INTERVAL".to_owned(), self.cfg.serverless.ping_interval_ms.to_string()),
            ("RUNPOD_POD_HOSTNAME".to_owned(), format!("{id}-emulator")),
            ("RUNPOD_GPU_COUNT".to_owned(), gpu_count.to_string()),
            ("RUNPOD_ENDPOINT_BASE_URL".to_owned(), format!("{base}/v2")),
            ("RUNPOD_SKIP_GPU_CHECK".to_owned(), "true".to_owned()),
            // RunPod's worker runtime checks the internet (8.8.8.8:53) at start; an emulated
            // worker's network is its loopback and the emulator's ports only (`net.rs`), so the
            // check, which passes on RunPod, is skipped rather than failed.
            ("RUNPOD_SKIP_AUTO_SYSTEM_CHECKS".to_owned(), "true".to_owned()),
            ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
        ]);
        let scratch = self.state_dir.join("workers").join(id);
        let account = e.account.clone();
        let resolved = resolved.and_then(|r| Ok((r, self.substitute_secrets(&account, env)?)));
        let Some(w) = self.workers.get_mut(id) else { return };
        let ((image, argv), env) = match resolved {
            Ok(r) => r,
            Err(why) => {
                w.status = WorkerStatus::Unhealthy;
                w.logs.push(now, "system", why);
                return;
            }
        };
        w.generation = generation;
        w.process_running = true;
        w.polled = false;
        w.started_at = Some(now);
        w.boot_until = None;
        w.status = WorkerStatus::Initializing;
        w.version = version;
        let logs = w.logs.clone();
        logs.push(now, "system", "worker process starting");
        let container = crate::process::ContainerSpec {
            image,
            argv,
            env,
            volumes,
            hostname: id.to_owned(),
            scratch,
        };
        self.effect(Effect::Spawn(Box::new(SpawnSpec {
            owner: Owner::Worker(id.to_owned()),
            generation,
            container,
            logs,
        })));
    }

    /// Stops a worker for good (idle timeout, refresh, endpoint deleted, zero balance).
    pub fn worker_stop(&mut self, id: &str, now: DateTime<Utc>) {
        self.accrue_worker(id, now);
        let Some(w) = self.workers.get_mut(id) else { return };
        w.stopping = true;
        w.logs.push(now, "system", "worker stopping");
        if w.process_running {
            let generation = w.generation;
            self.effect(Effect::Kill {
                owner: Owner::Worker(id.to_owned()),
                generation,
                grace_ms: 2_000,
            });
        } else {
            self.workers.remove(id);
            self.retired_workers.insert(id.to_owned());
        }
    }

    /// A worker process ended.
    pub(crate) fn worker_process_exited(
        &mut self,
        id: &str,
        generation: u64,
        code: Option<i32>,
        now: DateTime<Utc>,
    ) {
        self.accrue_worker(id, now);
        let Some(w) = self.workers.get_mut(id) else { return };
        if w.generation != generation {
            return;
        }
        w.process_running = false;
        if w.stopping {
            let ep = w.endpoint_id.clone();
            let orphans: Vec<String> = w.in_flight.iter().cloned().collect();
            self.workers.remove(id);
            self.retired_workers.insert(id.to_owned());
            self.fail_orphans(&ep, &orphans, now, "worker stopped while the job ran");
            return;
        }
        w.crash_count += 1;
        w.status = WorkerStatus::Unhealthy;
        // Crash-loop backoff: 1 s, 2 s, 4 s, … up to a minute.
        let backoff = 2f64.powi((w.crash_count.min(7) - 1) as i32).min(60.0);
        w.next_restart = Some(after_secs(now, backoff));
        let code = code.map_or_else(|| "a signal".to_owned(), |c| c.to_string());
        w.logs.push(
            now,
            "system",
            format!(
                "worker exited unexpectedly with {code}; restarting in {backoff}s (crash #{})",
                w.crash_count
            ),
        );
        let ep = w.endpoint_id.clone();
        let orphans: Vec<String> = std::mem::take(&mut w.in_flight).into_iter().collect();
        self.fail_orphans(&ep, &orphans, now, "worker exited unexpectedly while running the job");
    }

    /// Jobs whose worker died: requeued once, then FAILED.
    fn fail_orphans(&mut self, ep: &str, jobs: &[String], now: DateTime<Utc>, why: &str) {
        for id in jobs {
            let Some(j) = self.jobs.get_mut(id).filter(|j| j.status == JobStatus::InProgress)
            else {
                continue;
            };
            if j.retries == 0 {
                j.retries += 1;
                j.status = JobStatus::InQueue;
                j.started_at = None;
                j.worker_id = None;
                if let Some(e) = self.endpoints.get_mut(ep) {
                    e.queue.push_front(id.clone());
                    e.retried += 1;
                }
            } else {
                j.status = JobStatus::Failed;
                j.error = Some(Value::String(why.to_owned()));
                j.completed_at = Some(now);
                if let Some(e) = self.endpoints.get_mut(ep) {
                    e.failed += 1;
                }
            }
        }
        self.effect(Effect::Wake(Wake::Queue(ep.to_owned())));
        for id in jobs {
            self.effect(Effect::Wake(Wake::Job(id.clone())));
        }
    }

    fn accrue_worker(&mut self, id: &str, to: DateTime<Utc>) {
        let Some(w) = self.workers.get_mut(id) else { return };
        let from = w.billed_until;
        if to <= from {
            return;
        }
        w.billed_until = to;
        if !w.is_billing() {
            return;
        }
        let (ep, rate) = (w.endpoint_id.clone(), w.price_per_hr);
        self.charge(Kind::Serverless, &ep, from, to, rate, Split { gpu_share: 1.0 });
    }

    pub(crate) fn tick_serverless(&mut self, now: DateTime<Utc>) {
        // "After 3 days with no requests, the endpoint's max workers is reduced to 2 … after 7
        // days … set to 0" (`serverless/endpoints/endpoint-configurations.mdx`); jobs then queue.
        for e in self.endpoints.values_mut() {
            let idle = now - e.last_request_at;
            if idle >= TimeDelta::days(7) {
                e.workers_max = 0;
            } else if idle >= TimeDelta::days(3) {
                e.workers_max = e.workers_max.min(2);
            }
            e.workers_min = e.workers_min.min(e.workers_max);
        }
        let run_keep = TimeDelta::seconds(self.cfg.serverless.run_retention_secs as i64);
        let sync_keep = TimeDelta::seconds(self.cfg.serverless.runsync_retention_secs as i64);
        // Jobs: TTL, execution timeout, retention.
        let mut expired = Vec::new();
        let mut timed_out = Vec::new();
        for j in self.jobs.values() {
            if now >= j.submitted_at + TimeDelta::milliseconds(j.ttl_ms as i64) {
                expired.push(j.id.clone());
            } else if j.status == JobStatus::InProgress {
                let limit = j
                    .execution_timeout_ms
                    .or_else(|| {
                        self.endpoints.get(&j.endpoint_id).map(|e| e.timeout_ms.max(0) as u64)
                    })
                    .unwrap_or(DEFAULT_POLICY_EXECUTION_TIMEOUT_MS);
                if j.started_at.is_some_and(|s| now >= s + TimeDelta::milliseconds(limit as i64)) {
                    timed_out.push((j.id.clone(), limit));
                }
            } else if let Some(done) = j.completed_at {
                if now >= done + if j.sync { sync_keep } else { run_keep } {
                    expired.push(j.id.clone());
                }
            }
        }
        for (id, limit) in timed_out {
            let Some(j) = self.jobs.get_mut(&id) else { continue };
            j.status = JobStatus::Failed;
            j.error = Some(Value::String(format!(
                "job exceeded its execution timeout of {} s",
                limit / 1000
            )));
            j.completed_at = Some(now);
            let (ep, worker) = (j.endpoint_id.clone(), j.worker_id.clone());
            if let Some(e) = self.endpoints.get_mut(&ep) {
                e.failed += 1;
            }
            if let Some(w) = worker.as_ref().and_then(|w| self.workers.get_mut(w)) {
                w.in_flight.remove(&id);
                w.to_stop.push(id.clone());
                w.logs.push(
                    now,
                    "system",
                    format!("job {id} exceeded the execution timeout; stopping worker"),
                );
            }
            // RunPod: "the job fails and the worker stops".
            if let Some(w) = worker {
                self.worker_stop(&w, now);
            }
            self.effect(Effect::Wake(Wake::All));
        }
        if !expired.is_empty() {
            self.effect(Effect::Wake(Wake::All));
        }
        for id in expired {
            if let Some(j) = self.jobs.remove(&id) {
                if let Some(e) = self.endpoints.get_mut(&j.endpoint_id) {
                    e.queue.retain(|x| x != &id);
                }
                if j.status == JobStatus::InProgress {
                    if let Some(w) = j.worker_id.and_then(|w| self.workers.get_mut(&w)) {
                        w.in_flight.remove(&id);
                        w.to_stop.push(id);
                    }
                }
            }
        }
        // Workers: boot, crash-loop restarts, idle timeouts, billing.
        let ids: Vec<String> = self.workers.keys().cloned().collect();
        for id in ids {
            let Some(w) = self.workers.get(&id) else { continue };
            if w.stopping || w.external {
                continue;
            }
            let idle_timeout = self.endpoints.get(&w.endpoint_id).map_or(5, |e| e.idle_timeout);
            if w.boot_until.is_some_and(|t| now >= t) || w.next_restart.is_some_and(|t| now >= t) {
                if let Some(w) = self.workers.get_mut(&id) {
                    w.next_restart = None;
                }
                self.worker_start_process(&id, now);
                continue;
            }
            let ep = w.endpoint_id.clone();
            let over_min = {
                let active = self
                    .workers
                    .values()
                    .filter(|x| x.endpoint_id == ep && !x.stopping && !x.external)
                    .count() as i64;
                active > self.endpoints.get(&ep).map_or(0, |e| e.workers_min)
            };
            let Some(w) = self.workers.get(&id) else { continue };
            if w.status == WorkerStatus::Idle
                && over_min
                && w.idle_since.is_some_and(|t| now >= t + TimeDelta::seconds(idle_timeout))
            {
                self.worker_stop(&id, now);
                continue;
            }
            self.accrue_worker(&id, now);
        }
        let eps: Vec<String> = self.endpoints.keys().cloned().collect();
        for ep in eps {
            self.scale_endpoint(&ep, now);
        }
    }

    /// Why an endpoint's queued jobs are not running, in words (for `/_emulator` and tests).
    pub fn queue_reason(&self, ep: &str) -> Option<String> {
        let e = self.endpoints.get(ep)?;
        if e.queue.is_empty() {
            return None;
        }
        let workers: Vec<&WorkerRecord> =
            self.workers.values().filter(|w| w.endpoint_id == ep).collect();
        Some(if e.workers_max == 0 {
            "workers.max is 0: no worker can start".into()
        } else if !workers.is_empty() && workers.iter().all(|w| w.status == WorkerStatus::Throttled)
        {
            "workers are throttled: no GPU available".into()
        } else if workers.iter().any(|w| w.crash_count > 0 && w.status == WorkerStatus::Unhealthy) {
            "workers are crash-looping".into()
        } else if workers.is_empty() {
            "no workers yet".into()
        } else {
            "waiting for a free worker".into()
        })
    }
}
