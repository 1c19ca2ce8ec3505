//! The serverless job reconciler.
//!
//! Owns: the live `requests` rows (serverless jobs) of this engine's account, each tied to a
//! provider job on a deployed endpoint.
//!
//! Invariants: a row the provider never confirmed (`submitting` with no provider id) is failed
//! after `SUBMIT_GRACE_MS` with a reason that says to submit again; a row the provider no longer
//! knows is failed; every other live row is polled once per pass, its state, progress and the
//! reason it waits in the queue recorded (a running job's stream chunks are read by a follower
//! of its own, `follow_stream`: RunPod may hold a `/stream` call; an ended job's last ones here); a settled row is billed once, from the
//! provider's execution time plus the worker's idle tail.

use super::Status;
use crate::provider::{Provider, ProviderError, RemoteJob, RemoteStatus};
use crate::serverless_jobs::{
    SUBMIT_GRACE_MS, cost_of, error_text, queue_reason, spec_of, to_state,
};
use crate::{Engine, EngineError};
use podwarden_core::ServerlessJobId;
use podwarden_core::endpoint::EndpointSpec;
use podwarden_core::events::{EventKind, StateChange};
use podwarden_core::money::Money;
use podwarden_core::state::{ServerlessJobEvent, ServerlessJobState, serverless_job_transition};
use podwarden_store::{CostRow, EndpointRow, ServerlessJobRow};
use std::collections::HashSet;

/// One thing to do to a serverless job (polling the live ones is not an action: every pass
/// polls each once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Never confirmed by the provider within `SUBMIT_GRACE_MS`: fail it.
    Abandon { job: ServerlessJobId },
    /// Polled: the provider no longer knows it (TTL passed, endpoint deleted): fail it.
    Lost { job: ServerlessJobId },
}

/// What a pass does: rows to abandon, rows to poll.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub abandon: Vec<ServerlessJobId>,
    pub poll: Vec<ServerlessJobId>,
}

/// Splits this account's live rows into those to abandon and those to poll; rows a submit is
/// working on are left alone.
pub fn plan(
    rows: &[ServerlessJobRow],
    account: &podwarden_core::Account,
    held: &HashSet<ServerlessJobId>,
    now: i64,
) -> Plan {
    let mut p = Plan::default();
    for r in rows.iter().filter(|r| r.account == *account && !held.contains(&r.id)) {
        match &r.provider_job_id {
            Some(_) => p.poll.push(r.id),
            None if now - r.created_at > SUBMIT_GRACE_MS => p.abandon.push(r.id),
            None => {}
        }
    }
    p
}

impl<C: Provider> Engine<C> {
    /// One pass over live serverless jobs: abandon the unconfirmed, poll the rest once each.
    pub(crate) async fn reconcile_serverless_jobs(
        &self,
        status: &mut Status<Action>,
    ) -> Result<(), EngineError> {
        let rows = self.store().serverless_jobs_live().await?;
        status.live = rows.iter().filter(|r| r.account == *self.account()).count();
        let held = self.submitting.lock().map(|g| g.clone()).unwrap_or_default();
        let p = plan(&rows, self.account(), &held, self.now_ms());
        if p.abandon.is_empty() && p.poll.is_empty() {
            return Ok(());
        }
        status.ran = true;
        status.seen = p.poll.len();
        // One read of the endpoints for the whole pass, not one per job.
        let endpoints = self.store().endpoints_live().await?;
        let row_of = |id: ServerlessJobId| rows.iter().find(|r| r.id == id).cloned();
        for id in p.abandon {
            let Some(mut row) = row_of(id) else { continue };
            status.actions.push(Action::Abandon { job: id });
            let why = "the provider never confirmed the submission (the server stopped mid-submit); submit it again".to_owned();
            self.finish(&mut row, ServerlessJobEvent::NeverConfirmed, Some(why), None).await?;
        }
        for id in p.poll {
            let Some(mut row) = row_of(id) else { continue };
            let Some(job) = row.provider_job_id.clone() else { continue };
            let ep = spec_of(
                endpoints
                    .iter()
                    .find(|e| e.endpoint_id.as_deref() == Some(row.endpoint_id.as_str())),
                &row.endpoint_name,
            );
            match self.provider().job_status(&row.endpoint_id, &job).await {
                Ok(r) => self.observe(&mut row, r, &ep).await?,
                Err(ProviderError::NotFound(_)) => {
                    status.actions.push(Action::Lost { job: id });
                    let why = "the provider no longer knows the job (its TTL passed or the endpoint was deleted)".to_owned();
                    self.finish(&mut row, ServerlessJobEvent::Lost, Some(why), None).await?;
                }
                Err(e) => {
                    let e = EngineError::from(e);
                    if !status.failed(format!("serverless job {}: {e}", row.id), &e, error_policy) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn endpoint_spec_of(&self, row: &ServerlessJobRow) -> EndpointSpec {
        let ep: Option<EndpointRow> =
            self.store().endpoint_by_name(&row.owner, &row.endpoint_name).await.ok().flatten();
        spec_of(ep.as_ref(), &row.endpoint_name)
    }

    /// Writes what the provider says about the job: state changes, progress, the final output,
    /// the reason a failure happened, the settled cost.
    pub(crate) async fn observe(
        &self,
        row: &mut ServerlessJobRow,
        job: RemoteJob,
        ep: &EndpointSpec,
    ) -> Result<(), EngineError> {
        let from = row.state;
        let observed = to_state(job.status);
        // What the provider reports, as an event of the machine: the answer to the submit, or
        // a poll.
        let seen = |s| match from {
            ServerlessJobState::Submitting => ServerlessJobEvent::Accepted(s),
            _ => ServerlessJobEvent::Observed(s),
        };
        row.delay_ms = job.delay_ms.or(row.delay_ms);
        row.execution_ms = job.execution_ms.or(row.execution_ms);
        if observed.is_final() {
            self.drain_stream(row).await;
            let reason = match job.status {
                RemoteStatus::Completed => None,
                RemoteStatus::Cancelled => Some(row.reason.clone().unwrap_or_else(|| "cancelled".into())),
                RemoteStatus::Failed => {
                    let err = job.error.as_ref().map(error_text).unwrap_or_else(|| "the handler failed".into());
                    if err.contains("execution timeout") {
                        Some(format!(
                            "worker timeout: {err}. The endpoint's execution timeout is {} s; raise `execution_timeout` in its spec and run `podwarden endpoint deploy` again (or set policy.execution_timeout on the job)",
                            ep.execution_timeout.as_secs()
                        ))
                    } else {
                        Some(format!("the handler failed: {err}"))
                    }
                }
                RemoteStatus::TimedOut => Some(
                    "the job timed out at the provider (its TTL passed, or its worker stopped reporting); see `podwarden endpoint ls` and the worker logs"
                        .into(),
                ),
                _ => None,
            };
            let observed = if job.status == RemoteStatus::Failed
                && reason.as_deref().is_some_and(|r| r.starts_with("worker timeout"))
            {
                ServerlessJobState::TimedOut
            } else {
                observed
            };
            let output = job.output.map(|o| o.to_string());
            return self.finish(row, seen(observed), reason, output).await;
        }
        let to = transition(row, seen(observed))?;
        let mut changed = false;
        if from != to {
            let msg = match to {
                ServerlessJobState::Queued => {
                    format!("queued on endpoint {} as provider job {}", row.endpoint_name, job.id)
                }
                _ => format!("running (queued {} ms)", job.delay_ms.unwrap_or(0)),
            };
            row.state = to;
            row.reason = None;
            changed = true;
            let change = StateChange { request: Some(to), ..Default::default() };
            self.change_event(row.id, EventKind::State, change, &format!("{to}: {msg}")).await;
        }
        if to == ServerlessJobState::Running {
            if let Some(p) = job.output.filter(|p| row.output.as_deref() != Some(&p.to_string())) {
                row.output = Some(p.to_string());
                changed = true;
                self.event_with(row.id, EventKind::Progress, &format!("progress: {p}"), Some(&p))
                    .await;
            }
        }
        if to == ServerlessJobState::Queued {
            if let Ok(h) = self.provider().endpoint_health(&row.endpoint_id).await {
                // The balance only matters when nothing runs (one GraphQL call then).
                let balance = if h.running + h.idle == 0 {
                    self.provider().balance().await.ok().flatten()
                } else {
                    None
                };
                let why = queue_reason(&h, ep, balance);
                if row.reason.as_deref() != Some(&why) {
                    self.event(row.id, EventKind::Queue, &format!("in queue: {why}")).await;
                    row.reason = Some(why);
                    changed = true;
                }
            }
        }
        if changed {
            self.store().serverless_job_cas(row, self.now_ms()).await?;
        }
        Ok(())
    }

    /// Hands the last stream chunks of a job that ended to its events (the provider gives each
    /// chunk out once, and answers at once for an ended job).
    pub(crate) async fn drain_stream(&self, row: &ServerlessJobRow) {
        if let Err(e) = self.read_stream(row).await {
            tracing::debug!(request = %row.id, error = %e, "stream not read");
        }
    }

    /// Reads a running serverless job's stream once and records the chunks as events; returns
    /// how many came. RunPod may hold the call until a chunk comes (its JS SDK relies on it), so
    /// this runs in a per-job follower (the server's `serverless_streams`), never in a
    /// reconcile pass. A job that is not running, or unknown, reads nothing.
    pub async fn follow_stream(&self, id: ServerlessJobId) -> Result<usize, EngineError> {
        let Some(row) = self.store().serverless_job_get(id).await? else { return Ok(0) };
        if row.state != ServerlessJobState::Running {
            return Ok(0);
        }
        Ok(self.read_stream(&row).await?)
    }

    async fn read_stream(&self, row: &ServerlessJobRow) -> Result<usize, ProviderError> {
        let Some(job) = &row.provider_job_id else { return Ok(0) };
        let chunks = self.provider().job_stream(&row.endpoint_id, job).await?;
        for c in &chunks {
            self.event_with(row.id, EventKind::Chunk, &c.to_string(), Some(c)).await;
        }
        Ok(chunks.len())
    }

    /// Settles a serverless job by `event` (to a final state): reason, output, cost (execution
    /// + idle tail).
    pub(crate) async fn finish(
        &self,
        row: &mut ServerlessJobRow,
        event: ServerlessJobEvent,
        reason: Option<String>,
        output: Option<String>,
    ) -> Result<(), EngineError> {
        let state = transition(row, event)?;
        let now = self.now_ms();
        // A worker that ran the job (it reported an execution time, 0 ms included) is billed
        // for it and for the idle tail it is kept for; a job no worker took costs nothing.
        let ran = row.execution_ms.unwrap_or(0);
        let billed_ms = row.execution_ms.map_or(0, |ran| ran + row.idle_ms);
        row.cost = cost_of(row.price_per_hour, billed_ms);
        row.state = state;
        row.reason = reason;
        if output.is_some() {
            row.output = output;
        }
        row.ended_at = Some(now);
        if !self.store().serverless_job_cas(row, now).await? {
            return Ok(()); // someone else settled it
        }
        if row.cost > Money::ZERO {
            self.store()
                .cost_append(&CostRow {
                    job_id: row.id.to_string(),
                    attempt_id: row.provider_job_id.clone().unwrap_or_default(),
                    from_ms: now - billed_ms,
                    to_ms: now,
                    amount: row.cost,
                    gpu_type: row.gpu.clone(),
                    // Serverless is RunPod's.
                    provider: podwarden_core::ProviderKind::RunPod.as_str().into(),
                })
                .await?;
        }
        let why = row.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        // Typed like every state event: a follower knows the job ended without reading prose.
        self.change_event(
            row.id,
            EventKind::State,
            StateChange { request: Some(state), ..Default::default() },
            &format!(
                "{state}{why} (ran {} ms + {} ms idle tail; cost {})",
                ran,
                if row.execution_ms.is_some() { row.idle_ms } else { 0 },
                row.cost
            ),
        )
        .await;
        Ok(())
    }
}

/// Where `event` takes the row (`core::state::serverless_job`); the row is not changed.
fn transition(
    row: &ServerlessJobRow,
    event: ServerlessJobEvent,
) -> Result<ServerlessJobState, EngineError> {
    serverless_job_transition(row.state, event).map_err(|error| EngineError::Transition {
        what: format!("serverless job {}", row.id),
        error,
    })
}

/// The serverless jobs reconciler's error policy: the shared one (`provider_policy`); a status
/// read that fails is read again on the next pass (a job the provider lost is `Lost`, not an
/// error).
pub fn error_policy(e: &EngineError) -> super::OnError {
    super::provider_policy(e)
}
