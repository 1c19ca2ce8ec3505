//! `/_emulator/...`: controls for tests and demos (clock, faults, account, stock, inspection).
//! Not part of RunPod's API; authenticated with the account key.

use super::Caller;
use crate::Shared;
use crate::config::Stock;
use crate::faults::FaultConfig;
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use runpod::types::pods::PodStatus;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

type S = State<Arc<Shared>>;

fn body<T: serde::de::DeserializeOwned>(b: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(b).map_err(|e| ApiError::validation(vec![format!("$: {e}")]))
}

/// Everything of the caller's account, including terminated pods and process state.
pub(crate) async fn state(State(s): S, Extension(Caller(acct)): Extension<Caller>) -> Json<Value> {
    let live = s.runner.live();
    Json(s.with_world(|w, now| {
        w.tick(now);
        let mut pods: Vec<Value> = w
            .pods
            .values()
            .filter(|p| p.account == acct)
            .map(|p| {
                json!({
                    "id": p.id, "name": p.name, "status": p.status, "dataCenterId": p.data_center,
                    "gpu": p.gpu.as_ref().map(|g| json!({"id": g.0, "count": g.1})),
                    "containerRunning": p.container.running, "restarts": p.container.restarts,
                    "lastExitCode": p.container.last_exit_code, "preempted": p.preempted,
                    "costPerHr": p.compute_per_hr, "billed": w.ledger.total_for(crate::world::ledger::Kind::Pod, &p.id),
                    "createdAt": crate::clock::rfc3339(p.created_at),
                })
            })
            .collect();
        pods.sort_by(|a, b| a["createdAt"].as_str().cmp(&b["createdAt"].as_str()));
        let endpoints: Vec<Value> = w
            .endpoints
            .values()
            .filter(|e| e.account == acct)
            .map(|e| json!({"id": e.id, "name": e.name, "queue": e.queue.len(), "queueReason": w.queue_reason(&e.id), "version": e.version}))
            .collect();
        let workers: Vec<Value> = w
            .workers
            .values()
            .filter(|x| w.owns(&acct, crate::world::Res::Endpoint, &x.endpoint_id))
            .map(|x| json!({"id": x.id, "endpointId": x.endpoint_id, "status": x.status, "inFlight": x.in_flight, "crashes": x.crash_count, "external": x.external}))
            .collect();
        json!({
            "now": crate::clock::rfc3339(now),
            "account": w.account(&acct).map(|a| json!({"id": a.user_id, "balance": a.balance, "spendLimit": a.spend_limit, "currentSpendPerHr": w.current_spend_per_hr(&acct)})),
            "pods": pods, "endpoints": endpoints, "workers": workers,
            "jobs": w.jobs.len(), "liveProcesses": live,
            "livePods": w.pods.values().filter(|p| p.account == acct && p.status != PodStatus::Terminated).count(),
        })
    }))
}

pub(crate) async fn get_faults(State(s): S) -> Json<FaultConfig> {
    Json(s.faults.lock().config.clone())
}

pub(crate) async fn set_faults(State(s): S, b: Bytes) -> ApiResult<Json<FaultConfig>> {
    let f: FaultConfig = body(&b)?;
    s.with_world(|w, _| {
        w.pod_faults = f.pods.clone();
        w.worker_faults = f.workers.clone();
    });
    s.faults.lock().set(f.clone());
    Ok(Json(f))
}

pub(crate) async fn clear_faults(State(s): S) -> StatusCode {
    s.with_world(|w, _| {
        w.pod_faults = Default::default();
        w.worker_faults = Default::default();
    });
    s.faults.lock().set(FaultConfig::default());
    StatusCode::NO_CONTENT
}

pub(crate) async fn clock(State(s): S) -> Json<Value> {
    Json(json!({"now": crate::clock::rfc3339(s.clock.now()), "manual": s.clock.is_manual()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

pub(crate) async fn advance(State(s): S, b: Bytes) -> ApiResult<Json<Value>> {
    let a: Advance = body(&b)?;
    if !(0.0..=365.0 * 86_400.0).contains(&a.seconds) {
        return Err(ApiError::validation(vec!["$.seconds: must be between 0 and one year".into()]));
    }
    if !s.clock.advance(Duration::from_secs_f64(a.seconds)) {
        return Err(ApiError::new(
            409,
            "the emulator runs on the real clock; start it with manual_clock_start to move time",
        ));
    }
    s.tick();
    Ok(Json(json!({"now": crate::clock::rfc3339(s.clock.now())})))
}

pub(crate) async fn tick(State(s): S) -> StatusCode {
    s.tick();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccountUpdate {
    balance: Option<f64>,
    spend_limit: Option<f64>,
}

/// Sets the balance or spend limit of the caller's account.
pub(crate) async fn set_account(
    State(s): S,
    Extension(Caller(acct)): Extension<Caller>,
    b: Bytes,
) -> ApiResult<StatusCode> {
    let a: AccountUpdate = body(&b)?;
    s.with_world(|w, now| {
        if let Some(account) = w.account_mut(&acct) {
            if let Some(v) = a.balance {
                account.balance = v;
            }
            if let Some(v) = a.spend_limit {
                account.spend_limit = v;
            }
        }
        w.tick(now);
    });
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StockUpdate {
    gpu_type_id: String,
    data_center_id: String,
    #[serde(default)]
    secure: i64,
    #[serde(default)]
    community: i64,
}

pub(crate) async fn set_stock(State(s): S, b: Bytes) -> ApiResult<StatusCode> {
    let u: StockUpdate = body(&b)?;
    s.with_world(|w, _| {
        if w.catalog.offer(&u.gpu_type_id).is_none() {
            return Err(ApiError::bad_request(format!("unknown GPU type id: {:?}", u.gpu_type_id)));
        }
        w.catalog.set_stock(
            &u.gpu_type_id,
            &u.data_center_id,
            Stock { secure: u.secure, community: u.community },
        );
        Ok(StatusCode::NO_CONTENT)
    })
}

/// Every log line of a pod as text, terminated pods included.
pub(crate) async fn pod_log_text(State(s): S, Path(id): Path<String>) -> ApiResult<String> {
    s.with_world(|w, _| {
        w.pods.get(&id).map(|p| p.logs.text().join("\n")).ok_or_else(ApiError::not_found)
    })
}

/// Drops every job (between benchmark rounds).
pub(crate) async fn reset_jobs(State(s): S) -> StatusCode {
    s.with_world(|w, _| {
        w.jobs.clear();
        for e in w.endpoints.values_mut() {
            e.queue.clear();
        }
    });
    StatusCode::NO_CONTENT
}

/// Long-polls until a job reaches a state: `until=final|in_progress|progress` (progress: an
/// update was posted). Lets out-of-process tests wait for a state without sleeping.
pub(crate) async fn wait_job(
    State(s): S,
    Path(job): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = super::query_map(q.as_deref());
    let until = q.get("until").cloned().unwrap_or_else(|| "final".into());
    if !["final", "in_progress", "progress"].contains(&until.as_str()) {
        return Err(ApiError::validation(vec![format!(
            "query parameter 'until': value must be one of 'final', 'in_progress', 'progress', got {until:?}"
        )]));
    }
    let limit = super::query_int(&q, "timeout_ms", 1, 120_000)?.unwrap_or(10_000);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(limit as u64);
    let mut rx = s.world_changed.subscribe();
    loop {
        let now = s.clock.now();
        let state = {
            let w = s.world.lock();
            let j = w
                .jobs
                .get(&job)
                .ok_or_else(|| ApiError::new(404, format!("job {job} not found")))?;
            let hit = match until.as_str() {
                "final" => j.status.is_final(),
                "in_progress" => j.status == runpod::types::serverless::JobStatus::InProgress,
                _ => j.progress.is_some(),
            };
            hit.then(|| serde_json::to_value(j.state(now)).unwrap_or(Value::Null))
        };
        if let Some(v) = state {
            return Ok(Json(v));
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Err(ApiError::new(503, "emulator stopping")) },
            () = tokio::time::sleep_until(deadline) => return Err(ApiError::new(408, format!("job {job} did not reach {until} within {limit} ms"))),
        }
    }
}
