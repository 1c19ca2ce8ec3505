//! The job queue behind `/run`, `/runsync`, `/status`, `/stream`, `/cancel`, `/retry`, `/purge-queue` and `/health`, and the worker protocol that takes and finishes its jobs (`job-take`, `job-done`, `job-stream`).

use super::*;

impl World {
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

    pub(super) fn job_of(&self, ep: &str, job: &str) -> ApiResult<&JobRecord> {
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
