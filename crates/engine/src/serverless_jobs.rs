//! Serverless jobs as users see them: submit to a deployed endpoint (`/run`, or `/runsync` for short requests),
//! follow the provider's state with the reconciler (status, stream chunks, progress, and why a
//! job sits in the queue), cancel, retry a failed one, and settle the cost.
//!
//! States: `submitting` (row committed, `/run` not confirmed) → `queued` → `running` →
//! `succeeded` | `failed` | `timed_out` | `cancelled`. Cost: the endpoint's per-second GPU price
//! × (execution time + the worker's idle tail); estimated before (at the execution timeout),
//! settled from the provider's `executionTime` after.

use crate::provider::{Provider, ProviderError, QueueHealth, RemoteStatus, RunOptions};
use crate::sagas::InFlight;
use crate::{Engine, EngineError};
use podwarden_core::ServerlessJobId;
use podwarden_core::endpoint::EndpointSpec;
use podwarden_core::events::{EventKind, StateChange};
use podwarden_core::money::Money;
use podwarden_core::serverless_job::ServerlessJobSpec;
use podwarden_core::state::{EndpointState, ServerlessJobEvent, ServerlessJobState};
use podwarden_store::{EndpointRow, ServerlessJobRow};
use runpod::types::serverless::{RUN_PAYLOAD_LIMIT, RUNSYNC_PAYLOAD_LIMIT};

/// A `submitting` row older than this was never confirmed by the provider.
pub const SUBMIT_GRACE_MS: i64 = 120_000;

/// Why queued jobs are not running, in words, from the endpoint's health and its spec.
pub fn queue_reason(h: &QueueHealth, spec: &EndpointSpec, balance: Option<f64>) -> String {
    let pools = spec.gpu.pools.join(", ");
    if balance.is_some_and(|b| b <= 0.0) {
        "insufficient balance: the RunPod account has no credit left, so no worker can start; add funds in RunPod's billing settings".into()
    } else if spec.workers.max == 0 {
        "the endpoint's workers.max is 0, so no worker can start: raise workers.max in the endpoint spec and redeploy".into()
    } else if h.throttled > 0 && h.running + h.idle + h.initializing == 0 {
        format!(
            "no GPU available: {} worker(s) throttled waiting for a GPU in pools {pools}; add other pools to gpu.pools (e.g. AMPERE_24, ADA_24, AMPERE_48) and redeploy",
            h.throttled
        )
    } else if h.unhealthy > 0 && h.running + h.idle == 0 {
        format!(
            "workers are crash-looping ({} unhealthy): see the worker logs; fix the image or command and redeploy",
            h.unhealthy
        )
    } else if h.initializing > 0 && h.running + h.idle == 0 {
        format!(
            "waiting for a worker to start ({} initializing; a cold start pulls the image)",
            h.initializing
        )
    } else if h.running + h.idle + h.initializing + h.throttled + h.unhealthy == 0 {
        "no workers yet: the endpoint is scaling up from zero".into()
    } else if h.running as i64 >= spec.workers.max {
        format!(
            "all {} worker(s) busy (workers.max = {}): waiting for a free one",
            h.running, spec.workers.max
        )
    } else {
        format!("waiting for a free worker ({} running, {} in queue)", h.running, h.in_queue)
    }
}

pub(crate) fn to_state(s: RemoteStatus) -> ServerlessJobState {
    match s {
        RemoteStatus::InQueue => ServerlessJobState::Queued,
        RemoteStatus::InProgress => ServerlessJobState::Running,
        RemoteStatus::Completed => ServerlessJobState::Succeeded,
        RemoteStatus::Failed => ServerlessJobState::Failed,
        RemoteStatus::Cancelled => ServerlessJobState::Cancelled,
        RemoteStatus::TimedOut => ServerlessJobState::TimedOut,
    }
}

pub(crate) fn error_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The endpoint's spec; for an endpoint already gone, one with the spec's defaults (so reasons
/// still name the default execution timeout).
pub(crate) fn spec_of(ep: Option<&EndpointRow>, name: &str) -> EndpointSpec {
    ep.and_then(|e| serde_json::from_str(&e.spec).ok())
        .or_else(|| serde_json::from_value(serde_json::json!({ "name": name, "image": "" })).ok())
        .unwrap_or_else(|| unreachable!("a name and an image are all an endpoint spec needs"))
}

/// µ$ of `ms` at `micros_per_hour`.
pub(crate) fn cost_of(rate: Money, ms: i64) -> Money {
    Money((i128::from(rate.0) * i128::from(ms.max(0)) / 3_600_000) as i64)
}

impl<C: Provider> Engine<C> {
    /// One serverless job.
    pub async fn serverless_job(
        &self,
        id: ServerlessJobId,
    ) -> Result<ServerlessJobRow, EngineError> {
        self.store()
            .serverless_job_get(id)
            .await?
            .ok_or_else(|| EngineError::NoSuchServerlessJob(id.into()))
    }

    /// The endpoint `owner` sends a job to by `name` (theirs, or for a hosted user an admin's
    /// published one), on this engine's account and ready: its row, provider id and spec.
    async fn ready_endpoint(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<(EndpointRow, String, EndpointSpec), EngineError> {
        let ep = match self.store().endpoint_by_name(owner, name).await? {
            Some(ep) => ep,
            // An admin's endpoint is published: every hosted user may send it jobs.
            None if self.account.is_hosted() => self
                .store()
                .endpoint_published(name)
                .await?
                .ok_or_else(|| EngineError::NoSuchEndpoint(name.to_owned()))?,
            None => return Err(EngineError::NoSuchEndpoint(name.to_owned())),
        };
        if ep.account != self.account {
            return Err(EngineError::WrongState {
                job: format!("endpoint {}", ep.name),
                what: "used from this account",
                state: format!("it lives on the {} account", ep.account),
            });
        }
        let ep_state = ep.state;
        let Some(endpoint_id) = ep.endpoint_id.clone().filter(|_| ep_state == EndpointState::Ready)
        else {
            let state = match ep_state {
                EndpointState::Intent => "still being deployed; try again in a moment".into(),
                other => other.to_string(),
            };
            return Err(EngineError::EndpointNotReady { name: ep.name, state });
        };
        let ep_spec: EndpointSpec =
            serde_json::from_str(&ep.spec).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        Ok((ep, endpoint_id, ep_spec))
    }

    /// Submits a serverless job to the owner's endpoint. With `sync`, waits (RunPod's
    /// `/runsync`, up to 90 s) and returns the settled row when it finished in time.
    pub async fn submit_serverless_job(
        &self,
        spec: ServerlessJobSpec,
        owner: &str,
        sync: bool,
    ) -> Result<ServerlessJobRow, EngineError> {
        let (ep, endpoint_id, ep_spec) = self.ready_endpoint(owner, &spec.endpoint).await?;
        let body = serde_json::to_vec(&serde_json::json!({ "input": spec.input }))
            .map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let (limit, route) =
            if sync { (RUNSYNC_PAYLOAD_LIMIT, "/runsync") } else { (RUN_PAYLOAD_LIMIT, "/run") };
        if body.len() > limit {
            return Err(EngineError::PayloadTooLarge { bytes: body.len(), limit, route });
        }
        let (gpu, price) =
            self.provider().serverless_price(&ep_spec.gpu.pools, ep_spec.gpu.count).await?;
        let timeout_ms =
            spec.policy.execution_timeout.unwrap_or(ep_spec.execution_timeout).as_millis() as i64;
        let idle_ms = if ep_spec.workers.min == 0 {
            ep_spec.workers.idle_timeout.as_millis() as i64
        } else {
            0
        };
        let now = self.now_ms();
        let mut row = ServerlessJobRow {
            id: ServerlessJobId::new(),
            owner: owner.to_owned(),
            name: spec.label().to_owned(),
            endpoint_name: ep.name.clone(),
            endpoint_id: endpoint_id.clone(),
            provider_job_id: None,
            state: ServerlessJobState::Submitting,
            generation: 0,
            spec: serde_json::to_string(&spec).map_err(|e| EngineError::Corrupt(e.to_string()))?,
            output: None,
            reason: None,
            gpu,
            price_per_hour: price,
            estimate: cost_of(price, timeout_ms + idle_ms),
            cost: Money::ZERO,
            delay_ms: None,
            execution_ms: None,
            idle_ms,
            created_at: now,
            updated_at: now,
            ended_at: None,
            account: self.account.clone(),
        };
        if let podwarden_store::Admission::CapReached { cap, left } =
            self.store().serverless_job_insert_within_cap(&row).await?
        {
            return Err(EngineError::SpendCapReached { cap, left, needs: Some(row.estimate) });
        }
        self.change_event(
            row.id,
            EventKind::State,
            StateChange { request: Some(ServerlessJobState::Submitting), ..Default::default() },
            &format!(
                "submitting to endpoint {} ({} at {}/h); at most {} (execution timeout {} s)",
                ep.name,
                row.gpu,
                row.price_per_hour,
                row.estimate,
                timeout_ms / 1000
            ),
        )
        .await;
        let opts = RunOptions {
            sync,
            execution_timeout_ms: spec.policy.execution_timeout.map(|d| d.as_millis() as u64),
            ttl_ms: spec.policy.ttl.map(|d| d.as_millis() as u64),
            low_priority: spec.policy.low_priority,
        };
        let sent = {
            let _in_flight = InFlight::hold(&self.submitting, row.id);
            self.provider().submit_job(&endpoint_id, &spec.input, &opts).await
        };
        match sent {
            Ok(job) => {
                row.provider_job_id = Some(job.id.clone());
                self.observe(&mut row, job, &ep_spec).await?;
                Ok(row)
            }
            Err(e) => {
                let why = match &e {
                    ProviderError::Auth(_) => "RunPod rejected the API key".to_owned(),
                    ProviderError::InsufficientBalance(_) => {
                        "the RunPod account has insufficient balance".to_owned()
                    }
                    other => other.to_string(),
                };
                self.finish(&mut row, ServerlessJobEvent::SubmitRefused, Some(why), None).await?;
                Err(EngineError::Provider(e))
            }
        }
    }

    /// Runs a failed or timed-out serverless job again with RunPod's `/retry` (the same provider
    /// job, its original input). The retry is a new podwarden job, admitted against the spend
    /// cap like a submit, whose cost is the new run's; the old job keeps its own.
    pub async fn retry_serverless_job(
        &self,
        id: ServerlessJobId,
    ) -> Result<ServerlessJobRow, EngineError> {
        let old = self.serverless_job(id).await?;
        let state = old.state;
        let wrong = |why: String| EngineError::WrongState {
            job: format!("serverless job {id}"),
            what: "retried",
            state: why,
        };
        if !matches!(state, ServerlessJobState::Failed | ServerlessJobState::TimedOut) {
            return Err(wrong(format!(
                "it is {state}; RunPod retries only a failed or timed-out job (submit it again instead)"
            )));
        }
        let Some(provider_job) = old.provider_job_id.clone() else {
            return Err(wrong("RunPod never accepted it; submit it again instead".into()));
        };
        let ep = self.store().endpoint_by_name(&old.owner, &old.endpoint_name).await?;
        let ep = match ep {
            Some(ep) => Some(ep),
            None => self.store().endpoint_published(&old.endpoint_name).await?,
        };
        let ep = ep
            .filter(|e| e.endpoint_id.as_deref() == Some(old.endpoint_id.as_str()))
            .ok_or_else(|| wrong(format!("its endpoint {} is gone", old.endpoint_name)))?;
        if ep.state != EndpointState::Ready {
            return Err(EngineError::EndpointNotReady {
                name: ep.name,
                state: ep.state.to_string(),
            });
        }
        let ep_spec: EndpointSpec =
            serde_json::from_str(&ep.spec).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let now = self.now_ms();
        let mut row = ServerlessJobRow {
            id: ServerlessJobId::new(),
            state: ServerlessJobState::Submitting,
            generation: 0,
            output: None,
            reason: None,
            cost: Money::ZERO,
            delay_ms: None,
            execution_ms: None,
            created_at: now,
            updated_at: now,
            ended_at: None,
            ..old.clone()
        };
        if let podwarden_store::Admission::CapReached { cap, left } =
            self.store().serverless_job_insert_within_cap(&row).await?
        {
            return Err(EngineError::SpendCapReached { cap, left, needs: Some(row.estimate) });
        }
        self.change_event(
            row.id,
            EventKind::State,
            StateChange { request: Some(ServerlessJobState::Submitting), ..Default::default() },
            &format!("retrying {id} (RunPod's /retry of {provider_job}); at most {}", row.estimate),
        )
        .await;
        self.event(id, EventKind::State, &format!("retried as {}", row.id)).await;
        let sent = {
            let _in_flight = InFlight::hold(&self.submitting, row.id);
            self.provider().retry_job(&row.endpoint_id, &provider_job).await
        };
        match sent {
            Ok(job) => {
                self.observe(&mut row, job, &ep_spec).await?;
                Ok(row)
            }
            Err(e) => {
                let why = format!("RunPod refused the retry: {e}");
                self.finish(&mut row, ServerlessJobEvent::SubmitRefused, Some(why), None).await?;
                Err(EngineError::Provider(e))
            }
        }
    }

    /// Cancels a serverless job (RunPod's `/cancel`); what ran is billed.
    pub async fn cancel_serverless_job(
        &self,
        id: ServerlessJobId,
    ) -> Result<ServerlessJobRow, EngineError> {
        let mut row = self.serverless_job(id).await?;
        if row.state.is_final() {
            return Err(EngineError::WrongState {
                job: format!("serverless job {id}"),
                what: "stopped",
                state: format!("it is {}", row.state),
            });
        }
        match row.provider_job_id.clone() {
            Some(job) => {
                let mut r = self.provider().cancel_job(&row.endpoint_id, &job).await?;
                if !matches!(
                    r.status,
                    RemoteStatus::Completed | RemoteStatus::Failed | RemoteStatus::TimedOut
                ) {
                    r.status = RemoteStatus::Cancelled;
                }
                let ep_spec = self.endpoint_spec_of(&row).await;
                row.reason = Some("stopped by the user".into());
                self.observe(&mut row, r, &ep_spec).await?;
            }
            None => {
                self.finish(
                    &mut row,
                    ServerlessJobEvent::Cancel,
                    Some("stopped by the user before the provider confirmed it".into()),
                    None,
                )
                .await?
            }
        }
        Ok(row)
    }
}
