//! Serverless endpoints: create (templates resolved, GPUs checked), read, list, update with releases, delete, and their workers as the REST API lists them.

use super::*;

impl World {
    pub(super) fn resolve_gpu(
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
        self.serverless_template(acct, req.template_id.as_ref())?;
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
            if !self.owns(acct, super::super::Res::Volume, v.as_str()) {
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
        let acct = self.owner(super::super::Res::Endpoint, id).unwrap_or_default().to_owned();
        self.check_update(&acct, &req)?;
        // A PATCH of `gpu` merges into the current selection (pools may be left out).
        let current = self.endpoints.get(id).ok_or_else(ApiError::not_found)?.gpu.clone();
        let before = serde_json::to_value(self.endpoint_api(id)?).unwrap_or_default();
        let merged = req.gpu.as_ref().map(|g| merged_gpu(g, current.clone().unwrap_or_default()));
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
        let new_version = apply_update(e, req, tpl, merged, gpu, now);
        e.workers_min = min;
        e.workers_max = max;
        if new_version {
            self.release(id, before, now)?;
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

    /// A template an endpoint may name: the account's own, and a serverless one.
    fn serverless_template(&self, acct: &str, id: Option<&TemplateId>) -> ApiResult<()> {
        let Some(t) = id else { return Ok(()) };
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
        Ok(())
    }

    /// What an update may name: a serverless template and volumes of the endpoint's account.
    fn check_update(&self, acct: &str, req: &UpdateEndpointRequest) -> ApiResult<()> {
        self.serverless_template(acct, req.template_id.as_ref())?;
        if req.network_volumes.as_ref().is_some_and(Vec::is_empty) {
            // As pods' `network: []` (spec prose on `Mounts`; API-NOTES, corrections 2026-12-05).
            return Err(ApiError::bad_request(
                "`networkVolumes: []` is not supported: an endpoint's network volumes cannot be cleared",
            ));
        }
        for v in req.network_volumes.iter().flatten() {
            if !self.owns(acct, super::super::Res::Volume, v.as_str()) {
                return Err(ApiError::bad_request(format!("network volume {v} not found")));
            }
        }
        Ok(())
    }

    /// A new version of the endpoint: a release with what changed.
    fn release(&mut self, id: &str, before: Value, now: DateTime<Utc>) -> ApiResult<()> {
        let e = self.endpoints.get_mut(id).ok_or_else(ApiError::not_found)?;
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
        Ok(())
    }
}

/// A PATCH of `gpu` merged into the current selection (pools may be left out; an empty
/// `minCudaVersion` clears it).
fn merged_gpu(
    g: &CreateEndpointGpuConfig,
    old: CreateEndpointGpuConfig,
) -> CreateEndpointGpuConfig {
    CreateEndpointGpuConfig {
        pools: g.pools.clone().or(old.pools),
        excluded_types: g.excluded_types.clone().or(old.excluded_types),
        count: g.count.or(old.count),
        allowed_cuda_versions: g.allowed_cuda_versions.clone().or(old.allowed_cuda_versions),
        min_cuda_version: match g.min_cuda_version.as_deref() {
            Some("") => None,
            Some(v) => Some(v.to_owned()),
            None => old.min_cuda_version,
        },
    }
}

/// Writes an update's fields into the endpoint (a new template's settings first, explicit
/// fields over them); whether what its workers run changed (a new version).
fn apply_update(
    e: &mut EndpointRecord,
    req: UpdateEndpointRequest,
    tpl: Option<runpod::types::templates::Template>,
    merged: Option<CreateEndpointGpuConfig>,
    gpu: Option<(Option<String>, f64)>,
    now: DateTime<Utc>,
) -> bool {
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
    new_version
}
