//! The serverless job API: `/v2/{endpoint_id}/run|runsync|status|stream|cancel|retry|purge-queue|health`.

use super::query_map;
use crate::Shared;
use crate::problem::{ApiError, ApiResult};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use runpod::types::serverless::{
    Health, JobState, PurgeQueueResponse, RUN_PAYLOAD_LIMIT, RUNSYNC_PAYLOAD_LIMIT, StreamResponse,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

type S = State<Arc<Shared>>;

fn body_json(body: &Bytes, limit: usize, op: &str) -> ApiResult<serde_json::Value> {
    if body.len() > limit {
        return Err(ApiError::new(
            413,
            format!(
                "request body is {} bytes; {op} accepts at most {} MB",
                body.len(),
                limit / (1024 * 1024)
            ),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))
}

/// Waits until `job` is final or `wait` passes (real time: this is a connection's patience).
async fn wait_final(s: &Arc<Shared>, ep: &str, job: &str, wait: Duration) -> ApiResult<JobState> {
    hold(s, job, wait, |s| {
        let state = s.with_world(|w, now| w.job_status(ep, job, now))?;
        let done = state.status.is_final();
        Ok((state, done))
    })
    .await
}

/// Reads with `read` until it says done or `wait` passes, reading again each time `job`
/// changes (it ends, vanishes or streams a chunk).
async fn hold<T>(
    s: &Arc<Shared>,
    job: &str,
    wait: Duration,
    read: impl Fn(&Arc<Shared>) -> ApiResult<(T, bool)>,
) -> ApiResult<T> {
    let deadline = Instant::now() + wait;
    let sub = s.notifier.subscribe(crate::world::Wake::Job(job.to_owned()).key());
    loop {
        let notified = sub.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (v, done) = read(s)?;
        if done || Instant::now() >= deadline {
            return Ok(v);
        }
        tokio::select! {
            () = &mut notified => {},
            () = tokio::time::sleep_until(deadline) => {}
            () = s.runner.cancel.cancelled() => return Ok(v),
        }
    }
}

fn wait_param(s: &Shared, q: Option<&str>) -> ApiResult<Duration> {
    let q = query_map(q);
    match q.get("wait") {
        None => Ok(Duration::from_millis(s.cfg.serverless.runsync_wait_ms)),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if (1000..=300_000).contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(ApiError::bad_request(format!(
                "`wait` must be between 1000 and 300000 ms, got {v:?}"
            ))),
        },
    }
}

pub(crate) async fn run(
    State(s): S,
    Path(ep): Path<String>,
    body: Bytes,
) -> ApiResult<Json<JobState>> {
    let v = body_json(&body, RUN_PAYLOAD_LIMIT, "/run")?;
    s.with_world(|w, now| w.job_submit(&ep, v, false, now)).map(Json)
}

pub(crate) async fn run_sync(
    State(s): S,
    Path(ep): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Json<JobState>> {
    let v = body_json(&body, RUNSYNC_PAYLOAD_LIMIT, "/runsync")?;
    let wait = wait_param(&s, q.as_deref())?;
    let job = s.with_world(|w, now| w.job_submit(&ep, v, true, now))?;
    wait_final(&s, &ep, job.id.as_str(), wait).await.map(Json)
}

pub(crate) async fn status(
    State(s): S,
    Path((ep, job)): Path<(String, String)>,
) -> ApiResult<Json<JobState>> {
    s.with_world(|w, now| w.job_status(&ep, &job, now)).map(Json)
}

pub(crate) async fn status_sync(
    State(s): S,
    Path((ep, job)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<JobState>> {
    let wait = wait_param(&s, q.as_deref())?;
    wait_final(&s, &ep, &job, wait).await.map(Json)
}

/// `/stream/{job}`: what is new, held until a chunk comes or the job ends, for `?wait=` ms
/// (0–300 000) or `stream_hold_ms`. A client that polls without pause (RunPod's JS SDK) then
/// makes one call per chunk or hold, not hundreds a second.
pub(crate) async fn stream(
    State(s): S,
    Path((ep, job)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<StreamResponse>> {
    let hold_for = match query_map(q.as_deref()).get("wait") {
        None => Duration::from_millis(s.cfg.serverless.stream_hold_ms),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms <= 300_000 => Duration::from_millis(ms),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "`wait` must be between 0 and 300000 ms, got {v:?}"
                )));
            }
        },
    };
    hold(&s, &job, hold_for, |s| {
        let r = s.with_world(|w, _| w.job_stream(&ep, &job))?;
        let done = !r.stream.is_empty() || r.status.is_final();
        Ok((r, done))
    })
    .await
    .map(Json)
}

pub(crate) async fn cancel(
    State(s): S,
    Path((ep, job)): Path<(String, String)>,
) -> ApiResult<Json<JobState>> {
    s.with_world(|w, now| w.job_cancel(&ep, &job, now)).map(Json)
}

pub(crate) async fn retry(
    State(s): S,
    Path((ep, job)): Path<(String, String)>,
) -> ApiResult<Json<JobState>> {
    s.with_world(|w, now| w.job_retry(&ep, &job, now)).map(Json)
}

pub(crate) async fn purge_queue(
    State(s): S,
    Path(ep): Path<String>,
) -> ApiResult<Json<PurgeQueueResponse>> {
    s.with_world(|w, _| w.purge_queue(&ep)).map(Json)
}

pub(crate) async fn health(State(s): S, Path(ep): Path<String>) -> ApiResult<Json<Health>> {
    s.with_world(|w, _| w.health(&ep)).map(Json)
}
