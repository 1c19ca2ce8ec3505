//! `POST /v2/pods`: the handler-layer rules, the template resolved, placement, credit, and the new pod record.

use super::*;

impl World {
    /// `POST /v2/pods` after schema validation: the handler-layer rules, placement, credit.
    pub fn pod_create(
        &mut self,
        acct: &str,
        req: CreatePodRequest,
        now: DateTime<Utc>,
    ) -> ApiResult<Pod> {
        check_request(&req)?;
        let Resolved { tpl, env, image, args, disk, ports, mounts } = self.resolve(acct, &req)?;
        let global_networking = req.global_networking.unwrap_or(false);
        let private_ip = if global_networking {
            self.check_global_networking(req.gpu.as_ref().map(|g| g.id.as_str()))?;
            Some(self.free_private_ip(acct)?)
        } else {
            None
        };

        self.refresh_capacity(now);
        let Placed { gpu, cpu, compute_per_hr, data_center, cloud, holds_gpus } =
            self.place(acct, &req, &mounts, disk)?;
        // The capacity model's word on this launch (`capacity.rs`): a create refused although
        // the offer was listed, a host that never boots, its own boot time and preemption.
        let launch = gpu.as_ref().and_then(|g| self.capacity_launch(&g.0, &data_center, cloud));
        if launch == Some(crate::capacity::Launch::CreateFails) {
            if let Some((g, n)) = &gpu {
                self.catalog.release(g, *n, &data_center, cloud);
            }
            return Err(ApiError::bad_request(NO_CAPACITY_DETAIL));
        }
        let (dud, boot_secs, preempt) = match launch {
            Some(crate::capacity::Launch::Dud) => (true, None, None),
            Some(crate::capacity::Launch::Boots { boot_secs, preempt_after_secs }) => {
                (false, Some(boot_secs), preempt_after_secs)
            }
            _ => (false, None, None),
        };

        let id = loop {
            let id = random_id(14);
            if !self.pods.contains_key(&id) {
                break id;
            }
        };
        let key = random_secret("rpa_POD");
        self.pod_keys.insert(key.clone(), id.clone());
        let logs = Arc::new(LogBuffer::default());
        logs.push(
            now,
            "system",
            format!(
                "pod {id} created: {} in {data_center}",
                gpu.as_ref().map_or_else(|| "cpu".to_owned(), |g| format!("{}x {}", g.1, g.0))
            ),
        );
        self.ledger.own(Kind::Pod, &id, acct);
        let rec = PodRecord {
            id: id.clone(),
            account: acct.to_owned(),
            name: req.name,
            image,
            args,
            disk,
            env,
            ports,
            registry: req
                .registry
                .clone()
                .or_else(|| tpl.as_ref().and_then(|t| t.template.registry.clone())),
            mounts,
            gpu,
            cpu,
            cloud,
            data_center,
            template: req.template_id.map(|t| t.0),
            locked: false,
            global_networking,
            private_ip,
            start_ssh: req.start_ssh,
            start_jupyter: req.start_jupyter,
            published: Vec::new(),
            status: PodStatus::Provisioning,
            phase_until: Some(after(now, self.cfg.pods.provisioning_secs)),
            created_at: now,
            started_at: None,
            created_at_text: rfc3339(now),
            started_at_text: None,
            ssh_user: String::new(),
            terminated_at: None,
            compute_per_hr,
            holds_gpus,
            boot_hang: self.pod_faults.boot_hang,
            boot_secs,
            never_boots: dud,
            preempt_after_secs: self.take_preemption().or(preempt),
            preempted: false,
            key,
            container: Container::default(),
            billed_until: now,
            logs,
        };
        let mut rec = rec;
        rec.ssh_user = format!("{}-{}", rec.id, rec.key[rec.key.len() - 8..].to_ascii_lowercase());
        self.pods.insert(id.clone(), rec);
        if private_ip.is_some() {
            // Before any container of the account can start: every one resolves the new name.
            self.hosts_changed(acct);
        }
        self.tick_pod(&id, now);
        Ok(self.pods[&id].to_api(now))
    }

    /// The pod's settings: the template's, with the body's fields over them.
    fn resolve(&self, acct: &str, req: &CreatePodRequest) -> ApiResult<Resolved> {
        // Template settings first; body fields override them.
        let tpl = match &req.template_id {
            Some(t) => Some(
                self.templates
                    .get(t.as_str())
                    .filter(|t| t.account == acct)
                    .cloned()
                    .ok_or_else(ApiError::not_found)?,
            ),
            None => None,
        };
        if tpl.as_ref().is_some_and(|t| t.template.serverless) {
            return Err(ApiError::new(422, "a serverless template cannot be used for a pod"));
        }
        let mut env = tpl.as_ref().map(|t| t.template.env.clone()).unwrap_or_default();
        env.extend(req.env.clone().unwrap_or_default());
        if env.len() > MAX_POD_ENV_VARS {
            return Err(ApiError::bad_request(format!(
                "a pod takes at most {MAX_POD_ENV_VARS} environment variables, got {}",
                env.len()
            )));
        }
        let image = req
            .image
            .clone()
            .or_else(|| tpl.as_ref().map(|t| t.template.image.clone()))
            .unwrap_or_default();
        let args = req
            .args
            .clone()
            .or_else(|| tpl.as_ref().map(|t| t.template.args.clone()))
            .unwrap_or_default();
        let disk = req.disk.or_else(|| tpl.as_ref().map(|t| t.template.disk)).unwrap_or(50);
        let ports = req
            .ports
            .clone()
            .or_else(|| tpl.as_ref().map(|t| t.template.ports.clone()))
            .unwrap_or_default();
        let mounts = req.mounts.clone().unwrap_or_default();
        let mounts = if mounts.persistent.is_none() && mounts.network.is_none() {
            Mounts {
                persistent: tpl.as_ref().and_then(|t| t.template.mounts.persistent.clone()),
                network: None,
            }
        } else {
            mounts
        };
        Ok(Resolved { tpl, env, image, args, disk, ports, mounts })
    }

    /// Where the pod goes and what it costs: a network volume pins its data center; the
    /// account's balance and spend limit must cover it; a GPU is allocated or there is no
    /// capacity.
    fn place(
        &mut self,
        acct: &str,
        req: &CreatePodRequest,
        mounts: &Mounts,
        disk: i64,
    ) -> ApiResult<Placed> {
        // Network volume pins placement to its data center.
        let mut dcs: Vec<String> =
            req.data_center_ids.clone().unwrap_or_default().into_iter().map(|d| d.0).collect();
        if let Some(nv) = mounts.network.as_ref().and_then(|n| n.first()) {
            if req.cloud == Some(Cloud::Community) {
                return Err(ApiError::bad_request(VOLUME_SECURE_ONLY_DETAIL));
            }
            let vol =
                self.volumes.get(nv.volume_id.as_str()).filter(|v| v.account == acct).ok_or_else(
                    || ApiError::bad_request(format!("network volume {} not found", nv.volume_id)),
                )?;
            if !dcs.is_empty() && !dcs.contains(&vol.volume.data_center.0) {
                return Err(ApiError::bad_request(
                    "the network volume's data center is not among `dataCenterIds`",
                ));
            }
            dcs = vec![vol.volume.data_center.0.clone()];
        }
        // Global networking exists only in some data centers (the catalog's `globalNetwork`):
        // a pod that asks for it is placed in one of them, or refused (RunPod's behaviour for
        // a request pinned elsewhere is undocumented; refusing is the stricter reading).
        if req.global_networking == Some(true) {
            let with: Vec<String> = self
                .catalog
                .data_centers
                .iter()
                .filter(|d| d.global_network && (dcs.is_empty() || dcs.contains(&d.id)))
                .map(|d| d.id.clone())
                .collect();
            if with.is_empty() {
                let asked = if dcs.is_empty() { "any data center".into() } else { dcs.join(", ") };
                return Err(ApiError::bad_request(format!(
                    "global networking is not available in {asked} (synthetic message: RunPod publishes no exact text; the data centers with it have globalNetwork in GET /v2/catalog/datacenters)"
                )));
            }
            dcs = with;
        }

        let (gpu, cpu, compute_per_hr) = match (&req.gpu, &req.cpu) {
            (Some(g), _) => {
                let offer = self.catalog.offer(g.id.as_str()).ok_or_else(|| {
                    ApiError::bad_request(format!("unknown GPU type id: {:?}", g.id.as_str()))
                })?;
                let count = g.count.unwrap_or(1);
                if count > offer.max_count {
                    return Err(ApiError::bad_request(format!(
                        "gpu.count {count} exceeds the maximum of {} for {}",
                        offer.max_count, offer.id
                    )));
                }
                let price = if req.cloud == Some(Cloud::Community) {
                    offer.community_price
                } else {
                    offer.secure_price
                };
                (Some((g.id.0.clone(), count)), None, price * count as f64)
            }
            (None, Some(c)) => (
                None,
                Some((c.id.clone(), c.vcpu_count)),
                CPU_PRICE_PER_VCPU_HR * c.vcpu_count as f64,
            ),
            (None, None) => {
                return Err(ApiError::bad_request("exactly one of `gpu` or `cpu` must be set"));
            }
        };
        let disk_per_hr = (disk + mounts.persistent.as_ref().map_or(0, |p| p.size)) as f64
            * DISK_RUNNING_GB_MONTH
            / HOURS_PER_MONTH;
        let rate = compute_per_hr + disk_per_hr;
        let Some(account) = self.account(acct) else { return Err(ApiError::unauthorized()) };
        if account.balance < rate {
            // 402, as the spec's createPod table has it ("Insufficient balance. Stop").
            return Err(ApiError::new(402, INSUFFICIENT_BALANCE_DETAIL));
        }
        if self.current_spend_per_hr(acct) + rate > account.spend_limit {
            return Err(ApiError::bad_request(format!(
                "{SPEND_LIMIT_DETAIL} of ${:.2}/hr (synthetic message: RunPod publishes no exact text).",
                account.spend_limit
            )));
        }
        let (data_center, cloud, holds_gpus) = match &gpu {
            Some((id, count)) => match self.catalog.allocate(id, *count, req.cloud, &dcs) {
                Some((dc, cloud)) => (dc, cloud, true),
                None => return Err(ApiError::bad_request(NO_CAPACITY_DETAIL)),
            },
            None => (
                dcs.first().cloned().unwrap_or_else(|| {
                    self.catalog.data_centers.first().map_or("US-TX-3".into(), |d| d.id.clone())
                }),
                req.cloud.unwrap_or(Cloud::Secure),
                false,
            ),
        };
        // Price is pinned to the cloud actually used.
        let compute_per_hr = match (&gpu, cloud) {
            (Some((id, count)), Cloud::Community) => {
                self.catalog.offer(id).map_or(compute_per_hr, |o| o.community_price * *count as f64)
            }
            (Some((id, count)), _) => {
                self.catalog.offer(id).map_or(compute_per_hr, |o| o.secure_price * *count as f64)
            }
            _ => compute_per_hr,
        };
        Ok(Placed { gpu, cpu, compute_per_hr, data_center, cloud, holds_gpus })
    }
}

/// The rules RunPod's handler applies before anything else (the schema cannot say them).
fn check_request(req: &CreatePodRequest) -> ApiResult<()> {
    if req.gpu.is_some() == req.cpu.is_some() {
        return Err(ApiError::bad_request("exactly one of `gpu` or `cpu` must be set"));
    }
    let mounts = req.mounts.clone().unwrap_or_default();
    if mounts.persistent.is_some() && mounts.network.as_ref().is_some_and(|n| !n.is_empty()) {
        return Err(ApiError::bad_request(
            "`mounts.persistent` and `mounts.network` are mutually exclusive",
        ));
    }
    if req.cpu.is_some() && mounts.persistent.is_some() {
        return Err(ApiError::bad_request("`mounts.persistent` is invalid when `cpu` is set"));
    }
    if let Some(g) = &req.gpu {
        if g.allowed_cuda_versions.as_ref().is_some_and(|v| !v.is_empty())
            && g.min_cuda_version.is_some()
        {
            return Err(ApiError::bad_request(
                "`gpu.allowedCudaVersions` and `gpu.minCudaVersion` are mutually exclusive",
            ));
        }
    }
    if let Some(g) = &req.gpu {
        // Every emulated host runs CUDA `HOST_CUDA`; a constraint none meets is a capacity
        // error, not a fallback (spec `CreateGpuConfig.allowedCudaVersions`).
        let host = cuda_pair(HOST_CUDA).unwrap_or((0, 0));
        let min_ok = g.min_cuda_version.as_deref().and_then(cuda_pair).is_none_or(|m| m <= host);
        let allowed_ok = g
            .allowed_cuda_versions
            .as_ref()
            .is_none_or(|v| v.is_empty() || v.iter().any(|x| cuda_pair(x) == Some(host)));
        if !(min_ok && allowed_ok) {
            return Err(ApiError::bad_request(NO_CAPACITY_DETAIL));
        }
    }
    if let Some(cpu) = &req.cpu {
        if !(cpu.vcpu_count as u64).is_power_of_two() {
            return Err(ApiError::bad_request("`cpu.vcpuCount` must be a power of two"));
        }
    }
    Ok(())
}

/// A pod's settings after its template.
struct Resolved {
    tpl: Option<crate::world::storage::TemplateRecord>,
    env: BTreeMap<String, String>,
    image: String,
    args: String,
    disk: i64,
    ports: Vec<String>,
    mounts: Mounts,
}

/// Where a pod runs and its price.
struct Placed {
    gpu: Option<(String, i64)>,
    cpu: Option<(String, i64)>,
    compute_per_hr: f64,
    data_center: String,
    cloud: Cloud,
    holds_gpus: bool,
}

impl World {
    /// The preemption a new pod gets, counting it against `preempt_pods`.
    fn take_preemption(&mut self) -> Option<f64> {
        let f = &mut self.pod_faults;
        let after = f.preempt_after_secs?;
        match &mut f.preempt_pods {
            Some(0) => None,
            Some(n) => {
                *n -= 1;
                Some(after)
            }
            None => Some(after),
        }
    }
}
