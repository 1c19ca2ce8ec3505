//! Workers: scaled on queue depth between `workers.min` and `workers.max`, started as sandboxed processes, pinged, idled out, restarted with backoff after a crash, billed while they run; and the serverless tick that drives it all.

use super::*;

impl World {
    pub(super) fn worker_entry(
        &mut self,
        ep: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
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

    pub(super) fn worker_spawn(&mut self, ep: &str, now: DateTime<Utc>) {
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

    pub(super) fn worker_start_process(&mut self, id: &str, now: DateTime<Utc>) {
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
            // A worker has no sshd, publishes no ports and is on no global network.
            sshd: None,
            published: None,
            private_net: None,
        };
        self.effect(Effect::Spawn(Box::new(SpawnSpec {
            owner: Owner::Worker(id.to_owned()),
            generation,
            container,
            logs,
            published: Vec::new(),
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
    pub(super) fn fail_orphans(
        &mut self,
        ep: &str,
        jobs: &[String],
        now: DateTime<Utc>,
        why: &str,
    ) {
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

    pub(super) fn accrue_worker(&mut self, id: &str, to: DateTime<Utc>) {
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
}
