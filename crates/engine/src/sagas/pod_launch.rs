//! The pod launch saga: one attempt of a job, from "choose a GPU" to a pod with its id
//! recorded.
//!
//! Its steps, crash points and what heals each: `steps::POD_LAUNCH` (the table in
//! `docs/state-machines.md` → Sagas is generated from it).
//!
//! Invariant: the intent is committed before the create call (so every pod this install
//! creates has a row naming it), and a pod's name is derived from the attempt id (so a retry
//! or a reconciler finds it, and never creates a second one for the same attempt).

use crate::crash::CrashPoint;
use crate::jobs::ignore_missing;
use crate::provider::{PodRequest, Provider, ProviderError};
use crate::{Engine, EngineError, lock};
use podwarden_core::events::{EventKind, StateChange};
use podwarden_core::gpu::{CloudTier, Placement, rank_placements};
use podwarden_core::ids::pod_name;
use podwarden_core::money::Money;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{AttemptEvent, AttemptState, JobEvent, JobState};
use podwarden_core::{AttemptId, JobId};
use podwarden_store::{AttemptRow, Reclaim};
use std::collections::HashSet;
use std::sync::Mutex;

impl<C: Provider> Engine<C> {
    /// The launch saga: intent row first (with the pod's deterministic name), then the create;
    /// on no capacity the next placement, on a lost response nothing more (the reconciler
    /// adopts the pod by name or abandons the intent).
    pub(crate) async fn launch(&self, job: JobId) -> Result<(), EngineError> {
        let Some(j) = self.store.job_get(job).await? else { return Ok(()) };
        let spec = j.spec()?;
        if !spec.providers.is_empty() && !spec.providers.contains(&self.account.provider()) {
            // This cloud refused it (`leave_cloud`): it waits here, nothing made, for
            // `podwarden_control::rehome` to move it to one its spec still allows.
            let later = self.clock.now_ms() + crate::jobs::QUEUE_RECHECK_MS;
            let waits = self
                .update_job(job, |j| {
                    Ok((j.state == JobState::Queued).then(|| j.next_attempt_at = Some(later)))
                })
                .await;
            return ignore_missing(waits).map(|_| ());
        }
        let offers = self.offers().await?;
        // What the job holds of its owner's spend cap if it has to wait (its estimate).
        let hold = podwarden_core::estimate::queued_hold(&spec, &offers);
        // Ranked by what this install has seen of each offer (`podwarden_core::learned`):
        // expected cost to finish (the run as long as the job's speed there makes it), with
        // the wait to start at the spec's value, the operator's pins and bans.
        let provider = self.account.provider().as_str();
        // How fast the owner's job of this name and image ran on each GPU here: a slower one
        // takes longer to finish.
        let speeds: Vec<_> = self
            .store
            .offer_speeds_of(&j.owner, &j.name, &spec.image)
            .await?
            .into_iter()
            .filter(|(k, _)| k.provider == provider)
            .collect();
        // A dud is ended at the deadline the image's boots on its offer taught, unless a pod
        // of this job was already ended at one (its next pods get the whole boot timeout).
        let boots = if lock(&self.past_learned_deadline).contains(&job) {
            Vec::new()
        } else {
            self.store.offer_boots(&spec.image).await?
        };
        let placements = podwarden_core::learned::rerank(
            rank_placements(&spec, &offers),
            &podwarden_core::learned::Ranking {
                provider,
                records: &self.store.offer_stats().await?,
                boots: &boots,
                run_ms: spec
                    .max_runtime()
                    .map_or(podwarden_core::estimate::ASSUMED_RUN_MS, |d| d.as_millis() as i64),
                run_factors: &podwarden_core::learned::RunFactors::from_records(&speeds),
                boot_timeout_ms: spec.limits.boot_timeout.as_millis() as i64,
                wait_usd_per_hour: spec.limits.wait_usd_per_hour,
            },
        );
        if !self.apply_job_event(job, JobEvent::Launch, "choosing a GPU").await? {
            return Ok(());
        }
        // Attempts made and the deadline (from the first launch).
        let counted = self
            .update_job(job, |j| {
                let now = self.clock.now_ms();
                j.attempts_made += 1;
                if j.started_at.is_none() {
                    j.started_at = Some(now);
                    j.deadline_at = spec.max_runtime().map(|d| now + d.as_millis() as i64);
                }
                Ok(Some(()))
            })
            .await;
        if ignore_missing(counted)?.is_none() {
            return Ok(());
        }
        let seq = self.store.attempts_for_job(job).await?.len() as i64 + 1;
        let placements = match self.private_network_placements(&spec, placements).await {
            Ok(p) => p,
            Err(why) => return self.queue(job, &why, hold, true).await,
        };
        // RunPod refuses a start past the account's spend limit or (prepaid) without balance,
        // in words it does not publish: ask first, where the account says, and wait with the
        // reason instead of spending the candidates on refusals.
        let placements = match self.headroom().await {
            Some(h) => {
                // Every node of a multi-node job bills at once.
                let all = |p: &Placement| Money(p.price_per_hour.0 * i64::from(spec.nodes.max(1)));
                let (fit, refused): (Vec<_>, Vec<_>) =
                    placements.into_iter().partition(|p| h.refuses(all(p)).is_none());
                if fit.is_empty() {
                    if let Some(why) = refused.first().and_then(|p| h.refuses(all(p))) {
                        return self.queue(job, &why, hold, true).await;
                    }
                }
                fit
            }
            None => placements,
        };
        // The job token reaches the pod as a provider secret, not as a value any pod read shows.
        let token = match self.token_for_pods(job).await {
            Ok(t) => t,
            Err(why) => return self.queue(job, &why, hold, true).await,
        };
        // A job that waited held only its estimate of the spend cap: it takes its budget back
        // before anything of it is made, or waits on with the cap as its reason.
        if !placements.is_empty() {
            if let Some(short) = self.reclaim_budget(job).await? {
                return self.queue(job, &short, hold, true).await;
            }
        }
        let mut tried = Vec::new();
        // The last refusal that was not for capacity, and whether any placement lacked capacity:
        // a refusal every placement gets is the request's own problem (the spec's reading).
        let mut refused: Option<String> = None;
        let mut lacked_capacity = false;
        for p in placements.iter() {
            let seq = seq + tried.len() as i64 * i64::from(spec.nodes.max(1));
            match self.try_placement(job, &spec, p, seq, token.as_deref()).await? {
                Outcome::Created | Outcome::Unknown => return Ok(()),
                Outcome::NoCapacity => {
                    lacked_capacity = true;
                    tried.push(format!("{} ({:?})", p.gpu_type, p.cloud));
                }
                Outcome::Refused(why) => {
                    tried.push(format!("{} ({:?}): refused", p.gpu_type, p.cloud));
                    refused = Some(why);
                }
                Outcome::Wait(why) => return self.queue(job, &why, hold, true).await,
                Outcome::Lost(why) => {
                    // Pods were made and ended: an attempt that counts (its backoff grows, its
                    // retries run out), unlike a wait before anything was made.
                    self.apply_job_event(job, JobEvent::Interrupted, &why).await?;
                    return Ok(());
                }
                Outcome::Fatal(why) if spec.providers.len() > 1 => {
                    return self.leave_cloud(job, &spec, &why, hold).await;
                }
                Outcome::Fatal(why) => {
                    self.apply_job_event(job, JobEvent::Interrupted, &why).await?;
                    // Non-retryable: give up right away.
                    self.force_give_up(job, &why).await?;
                    return Ok(());
                }
            }
        }
        if let Some(why) = refused.filter(|_| !lacked_capacity) {
            let why = format!(
                "{} refused all {} placements ({}); the last refusal, read as a problem with the job's request: {why}",
                self.account.provider().title(),
                tried.len(),
                tried.join(", ")
            );
            if spec.providers.len() > 1 {
                return self.leave_cloud(job, &spec, &why, hold).await;
            }
            self.apply_job_event(job, JobEvent::Interrupted, &why).await?;
            self.force_give_up(job, &why).await?;
            return Ok(());
        }
        // No capacity anywhere it may go: the job waits for some.
        let why = if placements.is_empty() && spec.nodes > 1 {
            "no GPU matching the spec has stock in a data center with global networking (a multi-node job's pods reach each other over it) right now".to_owned()
        } else if placements.is_empty() {
            "no GPU matching the spec has stock right now".to_owned()
        } else {
            format!(
                "no capacity for any of {} offers (tried {})",
                placements.len(),
                tried.join(", ")
            )
        };
        // Pods made and ended on the way (a multi-node group short of room) were paid for:
        // that launch counts, so a job that keeps half-placing runs out of retries instead of
        // paying for partial groups every 30 s.
        let made = self
            .store
            .attempts_for_job(job)
            .await?
            .iter()
            .any(|a| a.seq >= seq && a.pod_id.is_some());
        // Pods were made (and ended): its budget stays held, as when anything of it runs.
        self.queue(job, &why, hold.filter(|_| !made), !made).await
    }

    /// A multi-node job's placements, kept to the data centers with a private network (RunPod's
    /// global networking is in some only), one per data center. Err: the provider could not
    /// say which (the launch waits).
    async fn private_network_placements(
        &self,
        spec: &JobSpec,
        placements: Vec<Placement>,
    ) -> Result<Vec<Placement>, String> {
        if spec.nodes <= 1 {
            return Ok(placements);
        }
        let with = match self.cloud.private_network_data_centers().await {
            Ok(Some(dcs)) => dcs,
            Ok(None) => return Ok(placements),
            Err(e) => {
                return Err(format!(
                    "could not read which data centers have global networking ({e}); trying again shortly"
                ));
            }
        };
        // One placement per data center: all nodes go to one, and a data center without room
        // for all of them is followed by the same offer in the next (not by the next offer).
        Ok(placements
            .iter()
            .flat_map(|p| {
                let dcs = if p.data_centers.is_empty() { &with } else { &p.data_centers };
                dcs.iter().filter(|d| with.contains(d)).map(|d| p.in_data_center(d))
            })
            .collect())
    }

    /// Nothing can be placed now (no capacity, the account's spend limit or balance, a refusal):
    /// the job waits, queued with the reason, looking again every `QUEUE_RECHECK_MS` until its
    /// `start_within` passes, holding `hold` of its owner's spend cap (at most the rest of its
    /// budget; `None` leaves what it holds as it is). `uncounted`: the launch is not counted
    /// against its retries (nothing was created), and a job that never had a pod has not
    /// started: its `max_runtime` begins with its first pod, not while it waits.
    async fn queue(
        &self,
        job: JobId,
        why: &str,
        hold: Option<Money>,
        uncounted: bool,
    ) -> Result<(), EngineError> {
        let set = self
            .update_job(job, |j| {
                if j.state != JobState::Provisioning {
                    // Cancelled (or ended) meanwhile: not queued.
                    return Ok(None);
                }
                // A hold is only ever lowered here, and only to the rest of the job's budget;
                // it goes (back to the whole budget) only with the cap's check
                // (`Store::job_reclaim_budget`).
                let rest = |h: Money| j.budget.map_or(h, |b| h.min(b.saturating_sub(j.spent)));
                j.queued_hold = match (hold.map(rest), j.queued_hold) {
                    (Some(new), Some(held)) => Some(new.min(held)),
                    (new, held) => new.or(held),
                };
                if uncounted {
                    j.attempts_made = (j.attempts_made - 1).max(0);
                    if j.attempts_made == 0 {
                        j.started_at = None;
                        j.deadline_at = None;
                    }
                }
                Ok(Some(()))
            })
            .await;
        ignore_missing(set)?;
        self.apply_job_event(job, JobEvent::Queue, &waiting(why)).await.map(|_| ())
    }

    /// A job whose spec allows other clouds, refused by this one (every placement refused, or
    /// a refusal that would fail it here: a bad key, no funds, a request this cloud cannot
    /// take): this cloud leaves its spec's `providers` and it waits, uncounted, for
    /// `podwarden_control::rehome` to move it to the next, instead of failing. It fails only
    /// once no cloud is left or its `start_within` passes.
    async fn leave_cloud(
        &self,
        job: JobId,
        spec: &JobSpec,
        why: &str,
        hold: Option<Money>,
    ) -> Result<(), EngineError> {
        let here = self.account.provider();
        let mut rest = spec.clone();
        rest.providers.retain(|p| *p != here);
        let json = serde_json::to_string(&rest)
            .map_err(|e| EngineError::Corrupt(format!("job {job} spec: {e}")))?;
        let left = self
            .update_job(job, |j| {
                if j.state != JobState::Provisioning {
                    return Ok(None);
                }
                j.spec = json.clone();
                Ok(Some(()))
            })
            .await;
        ignore_missing(left)?;
        let next: Vec<&str> = rest.providers.iter().map(|p| p.title()).collect();
        let why = format!(
            "{why}; {} will not run it, waiting to move to {}",
            here.title(),
            next.join(" or ")
        );
        self.queue(job, &why, hold, true).await
    }

    /// A job that waited takes its whole budget back from its owner's spend cap
    /// (`Store::job_reclaim_budget`) before anything of it is made. `Some(why)`: less than its
    /// estimate is left of the cap, and it must wait on.
    async fn reclaim_budget(&self, job: JobId) -> Result<Option<String>, EngineError> {
        for _ in 0..5 {
            let Some(mut j) = self.store.job_get(job).await? else { return Ok(None) };
            if j.queued_hold.is_none() {
                return Ok(None);
            }
            match self.store.job_reclaim_budget(&mut j, self.clock.now_ms()).await? {
                Reclaim::Held { capped_to } => {
                    if let Some(b) = capped_to {
                        self.budget_capped(job, b).await;
                    }
                    return Ok(None);
                }
                Reclaim::CapShort { cap, left, needs } => {
                    let short = EngineError::SpendCapReached { cap, left, needs: Some(needs) };
                    return Ok(Some(format!(
                        "{short} (its estimate); it starts when your other work leaves room"
                    )));
                }
                Reclaim::Raced => continue,
            }
        }
        // Five lost races: the job is being moved by someone else; this launch makes nothing.
        Ok(Some("the job changed while it was being launched".into()))
    }

    async fn force_give_up(&self, job: JobId, why: &str) -> Result<(), EngineError> {
        self.apply_job_event(job, JobEvent::GiveUp, why).await.map(|_| ())
    }

    async fn try_placement(
        &self,
        job: JobId,
        spec: &JobSpec,
        p: &Placement,
        seq: i64,
        token: Option<&str>,
    ) -> Result<Outcome, EngineError> {
        let (command, env) = self.pod_command(job, spec, token).await?;
        if command.len() > crate::wrapper::MAX_START_ARGS {
            // Quotes and base64 grow a command; past Linux's limit for one argument the
            // container could never start and the pod would bill until the boot timeout.
            return Ok(Outcome::Fatal(format!(
                "the command is {} KiB once wrapped for RunPod (at most {} KiB can start); shorten it, e.g. put the script in a file on the network volume and run that",
                command.len() / 1024,
                crate::wrapper::MAX_START_ARGS / 1024
            )));
        }
        let nodes = i64::from(spec.nodes.max(1));
        let rows: Vec<AttemptRow> =
            (0..nodes).map(|node| self.intent_row(job, p, seq + node, node)).collect();
        self.crash_point(CrashPoint::BeforeIntent)?;
        // Invariant 1: the intent is committed before the create call (every node's, before
        // the first create: a crash between two creates leaves rows for all of them).
        for row in &rows {
            self.store.attempt_insert(row).await?;
        }
        // This build's wrapper prints its start line: its pods may be judged by it (without a
        // callback base a command runs unwrapped, and prints none).
        if self.callback_base.is_some() {
            lock(&self.launched_here).extend(rows.iter().map(|r| r.id));
        }
        self.crash_point(CrashPoint::AfterIntent)?;
        // Out of the set however this step ends (a store error's early return included), or
        // the reconciler would skip the attempt forever and the job hang in provisioning.
        let _creating: Vec<_> = rows.iter().map(|r| InFlight::hold(&self.creating, r.id)).collect();
        let mut req = PodRequest {
            name: String::new(),
            image: spec.image.clone(),
            command,
            env,
            ports: spec.exposed_ports(),
            gpu_type: p.gpu_type.clone(),
            gpu_count: p.count,
            tier: p.cloud,
            data_centers: p.data_centers.clone(),
            disk_gb: spec.disk_gb,
            volume_gb: spec.volume_gb,
            network_volume: spec.network_volume.clone(),
            registry_auth: spec.registry_auth.clone(),
            ceiling_secs: Some(self.ceiling_secs(spec)),
            keep_alive_secs: spec.limits.keep_alive.as_secs(),
            host_inputs: spec
                .inputs
                .iter()
                .filter(|i| i.source.starts_with("s3://"))
                .map(|i| (i.source.clone(), i.path.clone()))
                .collect(),
            host_outputs: spec
                .outputs
                .iter()
                .filter_map(|o| {
                    let to = o.to.as_deref().filter(|t| t.starts_with("s3://"))?;
                    // A prefix (`…/`) takes the file's name, as `aws s3 cp` does.
                    let name = o.path.rsplit('/').next().unwrap_or(&o.path);
                    let url = if to.ends_with('/') { format!("{to}{name}") } else { to.to_owned() };
                    Some((o.path.clone(), url))
                })
                .collect(),
            global_networking: nodes > 1,
        };
        for (i, row) in rows.iter().enumerate() {
            req.name = row.pod_name.clone();
            if nodes > 1 {
                node_env(&mut req.env, row, nodes);
            }
            if i > 0 && !self.still_launching(job).await? {
                // Stopped (by its user, budget or deadline) while its nodes were being made:
                // the rest are never made; teardown ends the ones that were.
                let now = self.clock.now_ms();
                for rest in &rows[i..] {
                    self.attempt_unmade(rest.id, now, "the job ended during its launch").await?;
                }
                return Ok(Outcome::Unknown);
            }
            match self.cloud.create_pod(&req).await {
                Ok(pod) => {
                    self.crash_point(CrashPoint::AfterCreate)?;
                    self.record_created(job, row, p, &pod).await?;
                    if i == 0 && nodes > 1 {
                        // The other nodes join rank 0, in its data center.
                        req.env.insert(
                            "PODWARDEN_MASTER_ADDR".into(),
                            podwarden_core::ids::runpod_internal_dns(&pod.id),
                        );
                        if let Some(dc) = &pod.data_center {
                            req.data_centers = vec![dc.clone()];
                        }
                    }
                }
                Err(e) => {
                    let outcome = self.record_create_failure(job, row, p, e).await?;
                    if nodes > 1 {
                        self.abandon_group(job, &rows[..i], &rows[i + 1..], i, &outcome).await?;
                    }
                    return Ok(match outcome {
                        Outcome::Wait(why) if i > 0 => Outcome::Lost(why),
                        o => o,
                    });
                }
            }
        }
        Ok(Outcome::Created)
    }

    /// Whether the job still wants its launch (it is provisioning).
    async fn still_launching(&self, job: JobId) -> Result<bool, EngineError> {
        let j = self.store.job_get(job).await?;
        Ok(j.is_some_and(|j| j.phase().is_ok_and(|p| p.state == JobState::Provisioning)))
    }

    /// A multi-node launch lost node `failed`: all or none, so the nodes created before it are
    /// terminated now (unless its create may have happened: the reconciler then adopts or
    /// abandons it, and the job, short of nodes, is relaunched whole), and the ones after it
    /// are never created.
    async fn abandon_group(
        &self,
        job: JobId,
        created: &[AttemptRow],
        after: &[AttemptRow],
        failed: usize,
        outcome: &Outcome,
    ) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        let why = format!(
            "node {failed} of the job could not be placed: all nodes start together or none does"
        );
        for row in after {
            self.attempt_unmade(row.id, now, &why).await?;
        }
        if matches!(outcome, Outcome::Unknown) {
            return Ok(());
        }
        for row in created {
            let Some(pod) = self.store.attempt_get(row.id).await?.and_then(|a| a.pod_id) else {
                continue;
            };
            // A refused terminate is retried by the reconciler (the attempt is terminating).
            if let Err(e) = self.terminate(&pod, Some(row.id), &why, now).await {
                tracing::info!(job = %job, pod, error = %e, "terminate of a partial group failed; the reconciler retries");
            }
        }
        if !created.is_empty() {
            self.event(
                job,
                EventKind::Attempt,
                &format!("{why}; terminated the {} created", created.len()),
            )
            .await;
        }
        Ok(())
    }

    /// The attempt's intent: its pod's name (install prefix + attempt id) and the offer it
    /// takes, before anything is asked of the provider.
    fn intent_row(&self, job: JobId, p: &Placement, seq: i64, node: i64) -> AttemptRow {
        let att = AttemptId::new();
        let now = self.clock.now_ms();
        AttemptRow {
            id: att,
            job_id: job,
            seq,
            state: AttemptState::Intent,
            generation: 0,
            pod_name: pod_name(&self.install, att),
            pod_id: None,
            gpu_type: p.gpu_type.clone(),
            gpu_count: p.count,
            cloud: match (self.account.provider(), p.cloud) {
                (podwarden_core::ProviderKind::Aws, _) => "aws".into(),
                (_, CloudTier::Secure) => "secure".into(),
                (_, CloudTier::Community) => "community".into(),
            },
            data_center: None,
            price_per_hour: Money(p.price_per_hour.0),
            created_at: now,
            booted_at: None,
            ended_at: None,
            billed_until: None,
            cost: Money(0),
            reason: None,
            node,
            exit_code: None,
            account: self.account.clone(),
        }
    }

    /// The provider created the pod: the attempt records it (its id, data center and real
    /// price), the job's events and reason say where it boots.
    async fn record_created(
        &self,
        job: JobId,
        row: &AttemptRow,
        p: &Placement,
        pod: &crate::provider::PodInfo,
    ) -> Result<(), EngineError> {
        let price = Some(pod.cost_per_hour).filter(|c| *c > Money::ZERO);
        self.attempt_event(row.id, AttemptEvent::Created, |a| {
            a.pod_id = Some(pod.id.clone());
            a.data_center = pod.data_center.clone();
            if let Some(c) = price {
                a.price_per_hour = c;
            }
        })
        .await?;
        self.crash_point(CrashPoint::AfterRecord)?;
        let created = StateChange { attempt: Some(AttemptState::Created), ..Default::default() };
        self.change_event(
            job,
            EventKind::Attempt,
            created,
            &format!(
                "pod {} created: {} × {} ({:?}{}) at {}/h",
                pod.id,
                p.count,
                p.gpu_type,
                p.cloud,
                pod.data_center.as_deref().map(|d| format!(", {d}")).unwrap_or_default(),
                price.unwrap_or(row.price_per_hour)
            ),
        )
        .await;
        // The job is past choosing: say where it boots (the log follower adds what the
        // pod's host reports, "pulling image …").
        let booting = format!(
            "booting pod {} ({} × {}{})",
            pod.id,
            p.count,
            p.gpu_type,
            pod.data_center.as_deref().map(|d| format!(" in {d}")).unwrap_or_default()
        );
        let _ = self
            .update_job(job, |j| {
                let provisioning = j.phase().is_ok_and(|ph| ph.state == JobState::Provisioning);
                if !provisioning {
                    return Ok(None);
                }
                j.reason = Some(booting.clone());
                // A pod is made: no longer waiting for capacity (a multi-node job once all its
                // nodes run: half a group may yet be ended, and its wait go on).
                if spec_nodes(j) <= 1 {
                    j.queued_at = None;
                }
                Ok(Some(()))
            })
            .await;
        Ok(())
    }

    /// The create failed: the attempt ends unless the pod may exist (the reconciler looks it up
    /// by name), and the error says what the launch does next.
    async fn record_create_failure(
        &self,
        job: JobId,
        row: &AttemptRow,
        p: &Placement,
        e: ProviderError,
    ) -> Result<Outcome, EngineError> {
        let now = self.clock.now_ms();
        // What ends the attempt (nothing was created), and what the launch does next.
        let (ended, outcome) = match e {
            e @ (ProviderError::NoCapacity(_) | ProviderError::Unplaceable(_)) => {
                let msg = e.to_string();
                let (what, outcome) = match e {
                    ProviderError::NoCapacity(_) => ("no capacity", Outcome::NoCapacity),
                    _ => ("RunPod refused", Outcome::Refused(msg.clone())),
                };
                self.event(
                    job,
                    EventKind::Attempt,
                    &format!("{what} for {} ({:?}); trying the next offer", p.gpu_type, p.cloud),
                )
                .await;
                (Some(msg), outcome)
            }
            ProviderError::SpendLimit(msg) => {
                let why = format!(
                    "RunPod refused the start: it would pass the account's hourly spend limit; waiting for running pods to end or the limit to be raised ({msg})"
                );
                (Some(why.clone()), Outcome::Wait(why))
            }
            ProviderError::MaybeCreated(msg)
            | ProviderError::Transient(msg)
            | ProviderError::RateLimited { message: msg, .. } => {
                self.event(job, EventKind::Attempt, &format!("the create may have happened ({msg}); the reconciler will look the pod up by name"))
                .await;
                (None, Outcome::Unknown)
            }
            e @ (ProviderError::InsufficientBalance(_)
            | ProviderError::Auth(_)
            | ProviderError::Rejected(_)
            | ProviderError::NotFound(_)) => {
                let why = e.to_string();
                (Some(why.clone()), Outcome::Fatal(why))
            }
        };
        if let Some(why) = ended {
            self.attempt_unmade(row.id, now, &why).await?;
        }
        Ok(outcome)
    }

    /// The pod's `args` and env: the command wrapped to report its exit when a callback is
    /// configured. RunPod execs `args` as words (no shell), so a shell command travels as
    /// `sh -c` of its base64 ([`crate::wrapper::start_args`]) and an argv as its quoted words.
    async fn pod_command(
        &self,
        job: JobId,
        spec: &JobSpec,
        token: Option<&str>,
    ) -> Result<(String, std::collections::BTreeMap<String, String>), EngineError> {
        let mut env = spec.env.clone();
        // Whose job this is: podwarden's own workloads keep to this user's prefix on volumes.
        if let Some(owner) = self.store.live().job(job).map(|j| j.owner.clone()) {
            env.insert("PODWARDEN_USER".into(), owner);
        }
        // The job's own keys, as RunPod's images expect them (`podwarden_core::spec::SshSpec`).
        if let Some(ssh) = &spec.ssh {
            env.insert("PUBLIC_KEY".into(), ssh.public_key_env());
        }
        let Some(base) = &self.callback_base else {
            // No control plane to report to: the command as it is, after what must come first.
            let mut before = String::new();
            if spec.nodes > 1 {
                before.push_str(crate::wrapper::NODE_SETUP);
            }
            if spec.ssh.is_some() {
                before.push_str(crate::wrapper::SSH_SETUP);
            }
            if let Some(dir) = &spec.checkpoint_dir {
                before.push_str(&crate::wrapper::resume_setup(dir));
            }
            let args = match (&spec.command, &spec.args, &spec.finetune) {
                (None, Some(argv), None) if before.is_empty() => {
                    argv.iter().map(|a| crate::wrapper::sq(a)).collect::<Vec<_>>().join(" ")
                }
                _ => crate::wrapper::start_args(&format!("{before}{}", spec.shell_command())),
            };
            return Ok((args, env));
        };
        env.insert("PODWARDEN_JOB_ID".into(), job.to_string());
        env.insert(
            "PODWARDEN_CALLBACK_URL".into(),
            format!("{}/api/v1/jobs/{job}/exit", base.trim_end_matches('/')),
        );
        let token = token.map_or_else(|| self.job_token(job), str::to_owned);
        env.insert("PODWARDEN_JOB_TOKEN".into(), token);
        env.insert(
            "PODWARDEN_METRICS_URL".into(),
            format!("{}/api/v1/jobs/{job}/metrics", base.trim_end_matches('/')),
        );
        let watchdog = self.cloud.rest_base().map(|rest| {
            env.insert("PODWARDEN_RUNPOD_REST_URL".into(), rest);
            self.ceiling_secs(spec)
        });
        let data = crate::wrapper::DataPlan {
            fetch: spec
                .inputs
                .iter()
                .filter(|i| i.is_url())
                .map(|i| (i.source.clone(), i.path.clone()))
                .collect(),
            outputs: spec.required_outputs(),
            ssh: spec.ssh.is_some(),
            checkpoints: spec.checkpoint_dir.clone(),
            multi_node: spec.nodes > 1,
        };
        Ok((
            crate::wrapper::start_args(&crate::wrapper::wrap(
                &spec.shell_command(),
                watchdog,
                &data,
            )),
            env,
        ))
    }
}

impl<C: Provider> Engine<C> {
    /// How long a pod of `spec` may live even when no control plane is left to stop it: the
    /// server's ceiling as configured, or `max_runtime` with a grace, so the control plane's
    /// own stop at the deadline comes first.
    fn ceiling_secs(&self, spec: &JobSpec) -> u64 {
        spec.max_runtime().map_or(self.watchdog_ceiling_secs, |d| {
            d.as_secs() + crate::wrapper::WATCHDOG_GRACE_SECS
        })
    }

    /// The env value that gives a job's pods its callback token: a reference to the provider
    /// secret holding it (RunPod substitutes it at boot; `GET /v2/pods` shows only the
    /// reference), or the token itself where the provider keeps no secrets or refuses this key
    /// its secrets API (said on the job). `None` without a callback: no token is needed. Err:
    /// the provider could not be asked now; the launch waits with this reason.
    async fn token_for_pods(&self, job: JobId) -> Result<Option<String>, String> {
        if self.callback_base.is_none() {
            return Ok(None);
        }
        let name = podwarden_core::ids::token_secret_name(self.install(), job);
        let token = self.job_token(job);
        match self.cloud.put_secret(&name, &token).await {
            Ok(Some(reference)) => {
                self.secrets_made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(Some(reference))
            }
            Ok(None) => Ok(Some(token)),
            Err(
                e @ (ProviderError::Auth(_)
                | ProviderError::NotFound(_)
                | ProviderError::Rejected(_)),
            ) => {
                self.event(
                    job,
                    EventKind::Attempt,
                    &format!(
                        "RunPod would not keep the job's callback token as an account secret ({e}); it goes into the pod's env instead, where anyone who can list this account's pods can read it. Give the API key access to secrets to avoid that."
                    ),
                )
                .await;
                Ok(Some(token))
            }
            Err(e) => Err(format!(
                "could not store the job's callback token as a RunPod secret ({e}); trying again shortly"
            )),
        }
    }
}

/// How long a read of the account's headroom (spend limit, balance) is reused: one account call
/// per this period at most, however many jobs launch.
pub const HEADROOM_MS: i64 = 30_000;

impl<C: Provider> Engine<C> {
    /// The account's headroom, read at most every `HEADROOM_MS`. A failed read is no headroom
    /// information (the create call still meets RunPod's own check).
    pub(crate) async fn headroom(&self) -> Option<crate::provider::Headroom> {
        let now = self.clock.now_ms();
        let mut cached = self.headroom.lock().await;
        if let Some((at, h)) = *cached {
            if now.saturating_sub(at) < HEADROOM_MS && now >= at {
                return h;
            }
        }
        let h = match self.cloud.account_headroom().await {
            Ok(h) => h,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the account's spend limit and balance");
                None
            }
        };
        *cached = Some((now, h));
        h
    }
}

/// A row (attempt, endpoint, serverless job) whose create call is in flight: the reconcilers
/// leave it alone meanwhile, for as long as this guard lives (dropped on every exit, an early
/// error return included).
pub(crate) struct InFlight<'a, Id: Eq + std::hash::Hash + Copy> {
    set: &'a Mutex<HashSet<Id>>,
    id: Id,
}

impl<'a, Id: Eq + std::hash::Hash + Copy> InFlight<'a, Id> {
    pub(crate) fn hold(set: &'a Mutex<HashSet<Id>>, id: Id) -> Self {
        lock(set).insert(id);
        Self { set, id }
    }
}

impl<Id: Eq + std::hash::Hash + Copy> Drop for InFlight<'_, Id> {
    fn drop(&mut self) {
        lock(self.set).remove(&self.id);
    }
}

/// The job's node count (1 when its spec cannot be read).
fn spec_nodes(j: &podwarden_store::JobRow) -> u32 {
    j.spec().map_or(1, |s| s.nodes.max(1))
}

/// A queued job's reason: what it waits for, and when it looks again.
fn waiting(why: &str) -> String {
    format!("{why}; waiting, next check in {} s", crate::jobs::QUEUE_RECHECK_MS / 1000)
}

/// A node's place in its job, in its pod's env: torchrun's `--node_rank`, `--nnodes` and
/// `--master_addr`/`--master_port` (rank 0 has no address of its own before its create: its
/// wrapper fills in its own name); which attempt it is (its exit report names it, so a node of
/// an earlier launch still reporting is not taken for this one's) and its own exit mark (nodes
/// may share a volume).
fn node_env(env: &mut std::collections::BTreeMap<String, String>, row: &AttemptRow, nodes: i64) {
    env.insert("PODWARDEN_NODE_RANK".into(), row.node.to_string());
    env.insert("PODWARDEN_NUM_NODES".into(), nodes.to_string());
    env.insert("PODWARDEN_MASTER_PORT".into(), podwarden_core::spec::MASTER_PORT.to_string());
    env.insert("PODWARDEN_ATTEMPT_ID".into(), row.id.to_string());
    env.insert("PODWARDEN_EXIT_MARK".into(), format!("{}.{}", row.job_id, row.id.hex()));
}

/// How one placement's create ended, and so what the saga does next.
enum Outcome {
    Created,
    /// Try the next placement.
    NoCapacity,
    /// Refused for this placement (a 400 or 403 that is not capacity): try the next one.
    Refused(String),
    /// The create's answer was lost: the reconciler looks the pod up by name.
    Unknown,
    /// Nothing will be placed now (the account's spend limit): retry later.
    Wait(String),
    /// A multi-node launch was refused part-way (pods were made and are ended): the job is
    /// interrupted, and that counts as an attempt.
    Lost(String),
    /// Will not get better: the job gives up with this reason.
    Fatal(String),
}
