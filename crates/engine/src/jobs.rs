//! Jobs as users and their pods see them: submit (placed on an account, admitted against the
//! owner's spend cap in the insert's own transaction), cancel, the exit and metric callbacks
//! (authenticated by the job's token), early stop, and the compare-and-swap helpers every
//! state change of a job or an attempt goes through (`core::state` decides the edges).

use crate::provider::{Provider, ProviderError};
use crate::tokens::{hash_token, token_valid};
use crate::{Engine, EngineError, lock};
use podwarden_core::Account;
use podwarden_core::events::{EventKind, StateChange};
use podwarden_core::gpu::rank_placements;
use podwarden_core::metrics::{DivergenceWatch, EarlyStop, normalize_point};
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{
    AttemptEvent, AttemptState, JobEvent, JobState, attempt_transition, job_transition,
};
use podwarden_core::{AttemptId, JobId};
use podwarden_store::{AttemptRow, JobRow};
use std::sync::Arc;

/// A submitted job and its callback token (shown once; only its hash is stored).
#[derive(Debug, Clone)]
pub struct Submitted {
    pub job: JobId,
    pub token: String,
}

mod boot;
pub use boot::{boot_failure, container_start_failure, image_pull_failure};

/// How long a pod that exited on its own is kept, at most, for its last log lines: the exit's
/// callback can beat them to the server, and once the pod is gone its logs are too. The wait
/// ends as soon as the log follower has stored the wrapper's exit line (the pod's last), so
/// this bound is paid only when the logs cannot be read (5 s of the pod's price: half a cent at
/// $4/h). The spec's `keep_alive` is kept in any case.
pub const LOG_DRAIN_MAX_MS: i64 = 5_000;

impl<C: Provider> Engine<C> {
    /// Accepts a job. Fails before anything is created when no offered GPU could ever fit.
    pub async fn submit(&self, spec: JobSpec, owner: &str) -> Result<Submitted, EngineError> {
        self.submit_to(spec, owner, &Account::Hosted).await
    }

    /// Submits a job onto `account` (the engine for that account runs it), its budget capped
    /// at `budget_cap_micros` (what is left of a hosted spend cap).
    pub async fn submit_to(
        &self,
        mut spec: JobSpec,
        owner: &str,
        account: &Account,
    ) -> Result<Submitted, EngineError> {
        let pinned = self.pin_to_volume(&mut spec).await?;
        let offers = self.offers().await?;
        // Short names (`A100`) become the provider's ids before anything is stored, so every
        // attempt asks for what the user meant.
        let named = spec.gpu.types.clone();
        spec.gpu.types = podwarden_core::gpu::resolve_gpu_types(&named, &offers)
            .map_err(|e| EngineError::UnknownGpuType(e.to_string()))?;
        let mut everywhere = offers.clone();
        for o in &mut everywhere {
            // Ask "could it ever fit", ignoring current stock.
            o.data_centers = vec!["*".into()];
        }
        let mut probe = spec.clone();
        probe.data_centers.clear();
        if rank_placements(&probe, &everywhere).is_empty() {
            let want = if spec.gpu.types.is_empty() {
                format!("≥ {} GB VRAM", spec.gpu.min_vram_gb.unwrap_or(0))
            } else {
                spec.gpu.types.join(", ")
            };
            let price =
                spec.gpu.max_price_per_hour.map(|p| format!(" at ≤ ${p}/h")).unwrap_or_default();
            return Err(EngineError::NoGpuFits(format!(
                "{} × {want}{price} in {:?} cloud",
                spec.gpu_count(),
                spec.cloud
            )));
        }
        let id = JobId::new();
        let token = self.job_token(id);
        let mut row = JobRow::new(id, &spec, owner, &hash_token(&token), self.clock.now_ms());
        row.account = account.clone();
        // Hosted work is admitted against its owner's spend cap atomically (podwarden_store::spend).
        let capped = match self.store.job_insert_within_cap(&mut row).await? {
            podwarden_store::Admission::Admitted { capped_to } => capped_to,
            podwarden_store::Admission::CapReached { cap, left } => {
                return Err(EngineError::SpendCapReached { cap, left, needs: None });
            }
        };
        if let Some(cap) = capped {
            self.budget_capped(row.id, cap).await;
        }
        if named != spec.gpu.types {
            let msg = format!("gpu.types {} means {}", named.join(", "), spec.gpu.types.join(", "));
            self.event(row.id, EventKind::Placement, &msg).await;
        }
        if let Some(dc) = pinned {
            let fits_now = !rank_placements(&spec, &offers).is_empty();
            let msg = if fits_now {
                format!("placed in {dc}, the network volume's data center")
            } else {
                format!(
                    "no GPU that fits is in stock in {dc}, the network volume's data center; waiting for one there"
                )
            };
            self.event(row.id, EventKind::Placement, &msg).await;
        }
        let pending = StateChange { state: Some(JobState::Pending), ..Default::default() };
        self.change_event(row.id, EventKind::State, pending, "pending: waiting for a GPU").await;
        Ok(Submitted { job: id, token })
    }

    /// A pod mounting a network volume runs in the volume's data center (RunPod rejects any
    /// other): the spec's data centers become that one, or the spec is refused when it names
    /// others. Returns the data center pinned.
    pub(crate) async fn pin_to_volume(
        &self,
        spec: &mut JobSpec,
    ) -> Result<Option<String>, EngineError> {
        let Some(vol) = spec.network_volume.clone() else { return Ok(None) };
        let dc = match self.cloud.network_volume_data_center(&vol).await {
            Ok(dc) => dc,
            Err(ProviderError::NotFound(_)) => {
                return Err(EngineError::BadVolume(format!(
                    "no network volume {vol:?}: neither one of your podwarden volumes nor a volume id on this RunPod account; create it first with `podwarden volume create {vol} --data-center EU-RO-1`"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if !spec.data_centers.is_empty() && !spec.data_centers.contains(&dc) {
            return Err(EngineError::BadVolume(format!(
                "network volume {vol} is in {dc}, which `data_centers` ({}) leaves out; a pod runs where its network volume is",
                spec.data_centers.join(", ")
            )));
        }
        spec.data_centers = vec![dc.clone()];
        Ok(Some(dc))
    }

    /// The data center of network volume `id` on this engine's account, `None` when the
    /// account has no such volume.
    pub async fn volume_data_center(&self, id: &str) -> Result<Option<String>, EngineError> {
        match self.cloud.network_volume_data_center(id).await {
            Ok(dc) => Ok(Some(dc)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops a job: it tears down and settles as cancelled.
    pub async fn cancel(&self, job: JobId) -> Result<(), EngineError> {
        self.apply_job_event(job, JobEvent::Cancel, "stopped by the user").await.map(|_| ())
    }

    /// Re-reads job `id`, lets `f` change it, and writes it with compare-and-swap, re-reading
    /// on a lost race (up to 5 times). `f` returns `None` to leave the row alone. Returns what
    /// `f` returned when its write landed; `NoSuchJob` when the job does not exist.
    pub(crate) async fn update_job<T>(
        &self,
        id: JobId,
        mut f: impl FnMut(&mut JobRow) -> Result<Option<T>, EngineError>,
    ) -> Result<Option<T>, EngineError> {
        for _ in 0..5 {
            let mut j =
                self.store.job_get(id).await?.ok_or_else(|| EngineError::NoSuchJob(id.into()))?;
            let Some(v) = f(&mut j)? else { return Ok(None) };
            if self.store.job_cas(&mut j, self.clock.now_ms()).await? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The job's command reported its exit status (authenticated by the job's token); `node`
    /// is which node of a multi-node job (absent: node 0), `attempt` which of its attempts
    /// (`Some(None)`: one that is not this job's, ignored).
    pub async fn report_exit(
        &self,
        job: JobId,
        token: &str,
        code: i64,
        node: Option<i64>,
        attempt: Option<Option<AttemptId>>,
    ) -> Result<(), EngineError> {
        let node = Reporter { node: node.unwrap_or(0), attempt };
        self.record_exit(job, Some(token), code, node, "").await
    }

    /// The wrapper's exit line was read from `attempt`'s pod's logs: the same exit as a
    /// callback, for when the callback cannot reach the control plane (no public URL, a
    /// firewall).
    pub async fn exit_seen_in_logs(
        &self,
        job: JobId,
        attempt: AttemptId,
        code: i64,
    ) -> Result<(), EngineError> {
        let node = self.store.attempt_get(attempt).await?.map_or(0, |a| a.node);
        let from = Reporter { node, attempt: Some(Some(attempt)) };
        self.record_exit(job, None, code, from, " (read from the pod's logs)").await?;
        // A multi-node job's other nodes may still be writing: its teardown waits the drain
        // bound rather than cut them off.
        let single = |j: &JobRow| j.spec().is_ok_and(|s| s.nodes <= 1);
        if self.store.job_get(job).await?.is_some_and(|j| j.exit_code.is_some() && single(&j)) {
            // The job's exit is known and this line is stored: its logs are in (a multi-node
            // job's, once its last node's line is).
            lock(&self.logs_drained).insert(job);
            self.end_log_drain(job).await?;
        }
        Ok(())
    }

    /// A job torn down after an exit the callback brought first is kept for its logs: once
    /// they are in, its pod goes when its `keep_alive` says, not at the end of the drain bound.
    async fn end_log_drain(&self, job: JobId) -> Result<(), EngineError> {
        ignore_missing(
            self.update_job(job, |j| {
                let keep = j.spec()?.limits.keep_alive.as_millis() as i64;
                let now = self.clock.now_ms();
                let draining = j.phase()?.state == JobState::TearingDown
                    && j.exit_code.is_some()
                    && j.teardown_at.is_some_and(|at| at > now + keep);
                if !draining {
                    return Ok(None);
                }
                j.teardown_at = Some(now + keep);
                Ok(Some(()))
            })
            .await,
        )?;
        Ok(())
    }

    /// Whether `job`'s exit line is among its stored logs.
    fn logs_drained(&self, job: JobId) -> bool {
        lock(&self.logs_drained).contains(&job)
    }

    /// The provider refused this account's key: every job of the account that waits for a pod
    /// says why (its reason, and an event once), so `ps`, the API and the dashboard show it —
    /// not only `/api/v1/admin/tasks`. The next launch, once the key works, says what it does.
    pub(crate) async fn say_key_refused(&self, detail: &str) {
        let fix = match &self.account {
            Account::Hosted => "the operator must replace the server's key (RUNPOD_API_KEY)",
            Account::Aws { user: None } => {
                "the operator must fix the server's AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile)"
            }
            Account::Byok(_) => {
                "save a working key (the dashboard's Settings, or POST /api/v1/settings/runpod-key)"
            }
            Account::Aws { user: Some(_) } => {
                "save a working AWS key pair (POST /api/v1/settings/aws-key)"
            }
        };
        let why = format!(
            "waiting: the provider refused this account's API key ({detail}); {fix}; asked again every minute"
        );
        let waiting: Vec<JobId> = self
            .store
            .live()
            .jobs_of(&self.account)
            .filter(|j| {
                matches!(j.state, JobState::Pending | JobState::Recovering | JobState::Queued)
            })
            .filter(|j| j.reason.as_deref() != Some(why.as_str()))
            .map(|j| j.id)
            .collect();
        for job in waiting {
            let set = self
                .update_job(job, |j| {
                    let waits = matches!(
                        j.state,
                        JobState::Pending | JobState::Recovering | JobState::Queued
                    );
                    if !waits || j.reason.as_deref() == Some(why.as_str()) {
                        return Ok(None);
                    }
                    j.reason = Some(why.clone());
                    Ok(Some(()))
                })
                .await;
            match ignore_missing(set) {
                Ok(Some(())) => self.event(job, EventKind::Placement, &why).await,
                Ok(None) => {}
                Err(e) => tracing::debug!(%job, error = %e, "cannot say why the job waits"),
            }
        }
    }

    /// The pod of `attempt` logged that it cannot boot for good ([`boot_failure`]'s reason): the
    /// pods reconciler ends the attempt on its next pass instead of at the boot timeout.
    pub fn boot_failed(&self, attempt: AttemptId, reason: &str) {
        lock(&self.boot_failed).insert(attempt, reason.to_owned());
    }

    /// The container of `attempt` printed `line` before podwarden's wrapper started (its
    /// [`crate::wrapper::START_MARKER`] line). The log follower says so only for an attempt
    /// this engine created and whose container it read from its first line. Kept from the
    /// first such line: the pods reconciler gives the job up if the wrapper has not started
    /// `EngineOptions::wrapper_start_ms` after it.
    pub fn container_printed_before_wrapper(&self, attempt: AttemptId, line: &str) {
        let now = self.clock.now_ms();
        lock(&self.silent_wrappers)
            .entry(attempt)
            .or_insert_with(|| (now, line.chars().take(200).collect()));
    }

    /// The wrapper of `attempt` started (its start line was read), or its follower ended: the
    /// attempt is not judged by what it told.
    pub fn wrapper_started(&self, attempt: AttemptId) {
        lock(&self.silent_wrappers).remove(&attempt);
    }

    /// Whether the log follower may judge `attempt`'s wrapper by its start line: an attempt
    /// this process launched (another replica's, or an earlier build's, wrapper may print
    /// none).
    pub fn judges_wrapper_start(&self, attempt: AttemptId) -> bool {
        lock(&self.launched_here).contains(&attempt)
    }

    /// A line of the host's (`system`, never the job's own output) from the booting pod of
    /// `attempt`: what the pod is doing ("pulling image …", "container started"). It becomes the
    /// job's reason while it provisions and an event, and is kept for the boot timeout's reason.
    /// A line equal to the last one changes nothing.
    pub async fn boot_line(
        &self,
        job: JobId,
        attempt: AttemptId,
        line: &str,
    ) -> Result<(), EngineError> {
        let line: String = line.chars().take(300).collect();
        let new = {
            let mut notes = lock(&self.boot_notes);
            notes.insert(attempt, line.clone()).as_ref() != Some(&line)
        };
        if !new {
            return Ok(());
        }
        let reason = format!("booting: {line}");
        let set = self
            .update_job(job, |j| {
                let provisioning = j.phase().is_ok_and(|p| p.state == JobState::Provisioning);
                if !provisioning || j.reason.as_deref() == Some(reason.as_str()) {
                    return Ok(None);
                }
                j.reason = Some(reason.clone());
                Ok(Some(()))
            })
            .await;
        match set {
            Ok(_) | Err(EngineError::NoSuchJob(_)) => {}
            Err(e) => return Err(e),
        }
        self.event(job, EventKind::Boot, &line).await;
        Ok(())
    }

    /// Records the first exit status of `job`; later ones (a callback after the log line, or
    /// the reverse) change nothing. A multi-node job's nodes report one by one: its exit is the
    /// first non-zero one (the rest are torn down), or 0 once every node of its current launch
    /// has exited 0.
    pub(crate) async fn record_exit(
        &self,
        job: JobId,
        token: Option<&str>,
        code: i64,
        from: Reporter,
        how: &str,
    ) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        let j = self.store.job_get(job).await?.ok_or_else(|| EngineError::NoSuchJob(job.into()))?;
        if token.is_some_and(|t| !token_valid(&j, t, now)) {
            return Err(EngineError::BadToken(job.into()));
        }
        let nodes = i64::from(j.spec()?.nodes.max(1));
        let mut what = format!("the command exited with code {code}{how}");
        if nodes > 1 {
            what = format!("node {}: {what}", from.node);
            match self.node_exited(job, &from, code, nodes).await? {
                // Not a node of this launch: nothing to say.
                None => return Ok(()),
                Some(false) => {
                    self.event(job, EventKind::Exit, &what).await;
                    return Ok(());
                }
                Some(true) => {}
            }
        }
        let landed = self
            .update_job(job, |j| {
                if j.exit_code.is_some() {
                    return Ok(None);
                }
                j.exit_code = Some(code);
                Ok(Some(()))
            })
            .await?;
        if landed.is_some() {
            self.event(job, EventKind::Exit, &what).await;
        }
        Ok(())
    }

    /// Keeps a node's exit on its live attempt; whether the job's exit is now known: this one
    /// failed, or every node of the current launch has exited 0. `None`: the reporter is no node
    /// of the current launch (an earlier one's, still reporting while it is torn down).
    async fn node_exited(
        &self,
        job: JobId,
        from: &Reporter,
        code: i64,
        nodes: i64,
    ) -> Result<Option<bool>, EngineError> {
        let current = |a: &AttemptRow| {
            matches!(a.state, AttemptState::Intent | AttemptState::Created | AttemptState::Running)
        };
        let mine = self.store.attempts_for_job(job).await?;
        let reporter = mine.iter().find(|a| match from.attempt {
            Some(id) => Some(a.id) == id,
            None => a.node == from.node && current(a),
        });
        let Some(reporter) = reporter.filter(|a| current(a)) else { return Ok(None) };
        // Kept however many writes race it (the attempt's state changes meanwhile).
        let mut a = reporter.clone();
        for _ in 0..10 {
            if a.exit_code.is_some() {
                break;
            }
            a.exit_code = Some(code);
            if self.store.attempt_cas(&mut a).await? {
                break;
            }
            match self.store.attempt_get(a.id).await? {
                Some(fresh) => a = fresh,
                None => break,
            }
        }
        if code != 0 {
            return Ok(Some(true));
        }
        let mine = self.store.attempts_for_job(job).await?;
        let group: Vec<_> = mine.iter().filter(|a| current(a)).collect();
        Ok(Some(group.len() as i64 >= nodes && group.iter().all(|a| a.exit_code == Some(0))))
    }

    /// Points the job's code reports (authenticated by the job's token): checked (a bad
    /// field fails the whole batch, naming point and field), stored in one transaction, the
    /// last one also as a `metric` event for followers. A job with `[early_stop]` is stopped
    /// when its metric diverges.
    pub async fn report_metrics(
        &self,
        job: JobId,
        token: &str,
        points: &[serde_json::Value],
    ) -> Result<usize, EngineError> {
        let j = self.store.job_get(job).await?.ok_or_else(|| EngineError::NoSuchJob(job.into()))?;
        if !token_valid(&j, token, self.clock.now_ms()) {
            return Err(EngineError::BadToken(job.into()));
        }
        let values = points
            .iter()
            .enumerate()
            .map(|(index, p)| {
                normalize_point(p)
                    .map(serde_json::Value::Object)
                    .map_err(|error| EngineError::BadMetrics { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The points and the event announcing the last one commit together.
        let message = values.last().map(|last| format!("metric: {last}"));
        let event =
            values.last().zip(message.as_deref()).map(|(last, m)| (EventKind::Metric, m, last));
        self.store.metrics_append_with_event(job, self.clock.now_ms(), &values, event).await?;
        self.events.send_modify(|v| *v = v.wrapping_add(1));
        self.learn_speed(&j, &values).await;
        if let Some(rule) = self.spec_of(&j)?.early_stop.as_ref().filter(|_| j.outcome.is_none()) {
            if let Some(why) = self.watch_divergence(job, rule, &values).await? {
                self.event(job, EventKind::EarlyStop, &why).await;
                if let Err(e) = self.apply_job_event(job, JobEvent::Cancel, &why).await {
                    tracing::debug!(%job, error = %e, "early stop found the job already ending");
                }
            }
        }
        Ok(values.len())
    }

    /// A batch's mean `samples_per_second`, if it reports any, goes to what is known of the
    /// job's workload (its owner, name and image) on the GPU its running pod has
    /// (`podwarden_core::learned::SpeedRecord`). Best effort: a failure to record it loses one
    /// report, never the metrics.
    async fn learn_speed(&self, j: &JobRow, points: &[serde_json::Value]) {
        use podwarden_core::learned::MAX_SAMPLES_PER_SECOND;
        let speeds: Vec<f64> = points
            .iter()
            .filter_map(|p| p.get("samples_per_second")?.as_f64())
            .filter(|v| v.is_finite() && *v > 0.0 && *v <= MAX_SAMPLES_PER_SECOND)
            .collect();
        if speeds.is_empty() {
            return;
        }
        let running = self
            .store
            .live()
            .attempts_of_job(j.id)
            .find(|a| a.node == 0 && a.booted_at.is_some() && a.ended_at.is_none())
            .cloned();
        let (Some(a), Ok(spec)) = (running, self.spec_of(j)) else { return };
        let key = podwarden_core::learned::SpeedKey {
            owner: j.owner.clone(),
            job_name: j.name.clone(),
            image: spec.image.clone(),
            provider: a.provider().as_str().to_owned(),
            gpu_type: a.gpu_type.clone(),
            gpu_count: a.gpu_count,
        };
        let mean = speeds.iter().sum::<f64>() / speeds.len() as f64;
        if let Err(e) = self.store.offer_speed_record(&key, mean, self.clock.now_ms()).await {
            tracing::warn!(job = %j.id, error = %e, "could not record the job's speed");
        }
    }

    /// A job's parsed spec, from the cache the tick keeps for live jobs.
    pub(crate) fn spec_of(&self, j: &JobRow) -> Result<Arc<JobSpec>, EngineError> {
        let cached = lock(&self.specs).get(&j.id).cloned();
        Ok(match cached {
            Some(spec) => spec,
            None => Arc::new(j.spec()?),
        })
    }

    /// Feeds new points to the job's divergence watch (built from its stored points when this
    /// process has not seen the job yet); the reason to stop, if any.
    pub(crate) async fn watch_divergence(
        &self,
        job: JobId,
        rule: &EarlyStop,
        points: &[serde_json::Value],
    ) -> Result<Option<String>, EngineError> {
        let known = lock(&self.watches).contains_key(&job);
        let mut rebuilt = None;
        if !known {
            // Everything stored before this batch, oldest first.
            let mut w = DivergenceWatch::default();
            let rows = self.store.metrics_since(job, 0, i64::MAX).await?;
            for r in &rows[..rows.len().saturating_sub(points.len())] {
                if let Ok(serde_json::Value::Object(p)) = serde_json::from_str(&r.data) {
                    w.observe(rule, &p);
                }
            }
            rebuilt = Some(w);
        }
        let mut watches = lock(&self.watches);
        let w = watches.entry(job).or_insert_with(|| rebuilt.unwrap_or_default());
        Ok(points.iter().filter_map(serde_json::Value::as_object).find_map(|p| w.observe(rule, p)))
    }

    /// Applies one job event with CAS (re-reading on a lost race), setting what the event
    /// implies: teardown time, backoff, deadline.
    pub(crate) async fn apply_job_event(
        &self,
        job: JobId,
        event: JobEvent,
        reason: &str,
    ) -> Result<bool, EngineError> {
        let landed = self
            .update_job(job, |j| {
                // A queued job may have moved to another of its owner's accounts since this
                // engine chose to launch it (podwarden_control's `rehome`): that account's
                // engine launches it now.
                if event == JobEvent::Launch && j.account != self.account {
                    return Ok(None);
                }
                let spec = j.spec()?;
                let from = j.phase()?;
                let next = match job_transition(from, event) {
                    Ok(n) => n,
                    Err(_) if event == JobEvent::Cancel => {
                        return Err(EngineError::WrongState {
                            job: format!("job {job}"),
                            what: "stopped",
                            state: format!("it is {}", from.state),
                        });
                    }
                    Err(e) => {
                        tracing::debug!(%job, %e, "skipping stale event");
                        return Ok(None);
                    }
                };
                let now = self.clock.now_ms();
                match event {
                    JobEvent::Exited { .. } => {
                        let drain = if self.logs_drained(job) { 0 } else { LOG_DRAIN_MAX_MS };
                        let keep = (spec.limits.keep_alive.as_millis() as i64).max(drain);
                        j.teardown_at = Some(now + keep)
                    }
                    JobEvent::Cancel if from.state == JobState::TearingDown => {}
                    JobEvent::Cancel
                    | JobEvent::BudgetExhausted
                    | JobEvent::DeadlinePassed
                    | JobEvent::GiveUp => j.teardown_at = Some(now),
                    JobEvent::Interrupted => {
                        let backoff = spec.retry.backoff.as_millis() as i64
                            * (1i64 << (j.attempts_made - 1).clamp(0, 10));
                        j.next_attempt_at = Some(now + backoff.min(600_000));
                        // A pod was made (and lost): a wait for capacity after this is a new one.
                        j.queued_at = None;
                    }
                    JobEvent::Queue => {
                        j.next_attempt_at = Some(now + QUEUE_RECHECK_MS);
                        j.queued_at.get_or_insert(now);
                    }
                    // Its wait is over (a later one starts its own `start_within`).
                    JobEvent::Booted => j.queued_at = None,
                    _ => {}
                }
                // A settled job keeps its cause (exit code, budget, no capacity…) as its reason;
                // "every resource is gone" is how it settled, not why it ended.
                let cause = j.reason.clone();
                if event != JobEvent::Settled || cause.is_none() {
                    j.reason = Some(reason.to_owned());
                }
                j.set_phase(next);
                Ok(Some((next, cause)))
            })
            .await?;
        let Some((next, cause)) = landed else { return Ok(false) };
        if matches!(event, JobEvent::Exited { .. }) && self.logs_drained(job) {
            // The exit line may have been stored between this event's read of `logs_drained`
            // and its write, when the follower still saw the job running.
            self.end_log_drain(job).await?;
        }
        let msg = match (next.outcome, cause) {
            (Some(o), _) if next.state == JobState::TearingDown => {
                format!("tearing down ({}): {reason}", o.as_str())
            }
            (_, Some(cause)) if event == JobEvent::Settled => {
                format!("{}: {cause}; {reason}", next.state)
            }
            _ => format!("{}: {reason}", next.state),
        };
        let change = StateChange {
            state: Some(next.state),
            ending: next.outcome.map(|o| o.final_state()),
            ..Default::default()
        };
        self.change_event(job, EventKind::State, change, &msg).await;
        Ok(true)
    }

    /// Records when the provider accepted the terminate of the attempt's pod (the first time):
    /// the ledger bills up to then, as the provider does.
    pub(crate) async fn billing_stopped(&self, id: AttemptId, at: i64) -> Result<(), EngineError> {
        for _ in 0..5 {
            let Some(mut a) = self.store.attempt_get(id).await? else { return Ok(()) };
            if a.ended_at.is_some() {
                return Ok(());
            }
            a.ended_at = Some(at);
            if self.store.attempt_cas(&mut a).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Ends an attempt whose pod was never made (its create failed, or left nothing behind),
    /// saying why; whether it landed.
    pub(crate) async fn attempt_unmade(
        &self,
        attempt: AttemptId,
        now: i64,
        why: &str,
    ) -> Result<bool, EngineError> {
        self.attempt_event(attempt, AttemptEvent::CreateFailed, |a| {
            a.ended_at = Some(now);
            a.reason = Some(why.to_owned());
        })
        .await
    }

    pub(crate) async fn attempt_event(
        &self,
        id: AttemptId,
        event: AttemptEvent,
        f: impl Fn(&mut AttemptRow),
    ) -> Result<bool, EngineError> {
        for _ in 0..5 {
            let Some(mut a) = self.store.attempt_get(id).await? else { return Ok(false) };
            let from = a.state;
            let to = match attempt_transition(from, event) {
                Ok(t) => t,
                Err(_) => return Ok(false),
            };
            a.state = to;
            f(&mut a);
            if self.store.attempt_cas(&mut a).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Who reported an exit: a node, and (when it said) which of its attempts — `Some(None)` for
/// an attempt id that is not one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reporter {
    node: i64,
    attempt: Option<Option<AttemptId>>,
}

/// How often a queued job looks for capacity again.
pub const QUEUE_RECHECK_MS: i64 = 30_000;

/// A job that vanished between plan and write is nothing to do.
pub(crate) fn ignore_missing<T>(
    r: Result<Option<T>, EngineError>,
) -> Result<Option<T>, EngineError> {
    match r {
        Err(EngineError::NoSuchJob(_)) => Ok(None),
        other => other,
    }
}
