//! The worker callback API RunPod's worker runtime speaks (API-NOTES §3.5).

use super::query_map;
use crate::Shared;
use crate::problem::{ApiError, ApiResult};
use crate::world::Wake;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use runpod::types::worker::{JobResultBody, JobsToStop, TakenJob};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

type S = State<Arc<Shared>>;

/// The worker id segment. RunPod's own local server leaves `$RUNPOD_POD_ID&job_in_progress=0`
/// in the path (no `?` in its template), so anything after `&` is not part of the id.
fn worker_id(raw: &str) -> String {
    raw.split('&').next().unwrap_or(raw).to_owned()
}

/// Holds a poll until `f` yields something or the hold time passes (then `None`), waking
/// when `on` is signalled.
async fn hold<T>(
    s: &Arc<Shared>,
    on: Wake,
    mut f: impl FnMut() -> ApiResult<Option<T>>,
) -> ApiResult<Option<T>> {
    let deadline = Instant::now() + Duration::from_millis(s.cfg.serverless.take_hold_ms);
    let sub = s.notifier.subscribe(on.key());
    loop {
        let notified = sub.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(v) = f()? {
            return Ok(Some(v));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::select! {
            () = &mut notified => {},
            () = tokio::time::sleep_until(deadline) => {}
            () = s.runner.cancel.cancelled() => return Ok(None),
        }
    }
}

pub(crate) async fn take(
    State(s): S,
    Path((ep, w)): Path<(String, String)>,
) -> ApiResult<Response> {
    let w = worker_id(&w);
    let got = hold(&s, Wake::Queue(ep.clone()), || {
        s.with_world(|world, now| world.job_take(&ep, &w, 1, now))
            .map(|v: Vec<TakenJob>| v.into_iter().next())
    })
    .await?;
    Ok(match got {
        Some(job) => Json(job).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub(crate) async fn take_batch(
    State(s): S,
    Path((ep, w)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let w = worker_id(&w);
    let n = query_map(q.as_deref())
        .get("batch_size")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 64);
    let got = hold(&s, Wake::Queue(ep.clone()), || {
        s.with_world(|world, now| world.job_take(&ep, &w, n, now))
            .map(|v| (!v.is_empty()).then_some(v))
    })
    .await?;
    Ok(match got {
        Some(jobs) => Json(jobs).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub(crate) async fn stop_list(
    State(s): S,
    Path((ep, w)): Path<(String, String)>,
) -> ApiResult<Response> {
    let w = worker_id(&w);
    let got = hold(&s, Wake::Stops(w.clone()), || {
        s.with_world(|world, now| world.job_stop_list(&ep, &w, now))
            .map(|v| (!v.is_empty()).then_some(v))
    })
    .await?;
    Ok(match got {
        Some(jobs_to_stop) => Json(JobsToStop { jobs_to_stop }).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// The Python runtime posts JSON text as `application/x-www-form-urlencoded`: read it raw.
fn result_body(body: &Bytes) -> ApiResult<JobResultBody> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(JobResultBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("result body is not valid JSON: {e}")))
}

pub(crate) async fn done(
    State(s): S,
    Path((ep, w, job)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let (w, b) = (worker_id(&w), result_body(&body)?);
    s.with_world(|world, now| world.job_done(&ep, &w, &job, b, now)).map(|()| StatusCode::OK)
}

pub(crate) async fn stream_chunk(
    State(s): S,
    Path((ep, w, job)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let (w, b) = (worker_id(&w), result_body(&body)?);
    s.with_world(|world, now| world.job_stream_chunk(&ep, &w, &job, b, now))
        .map(|()| StatusCode::OK)
}

pub(crate) async fn ping(
    State(s): S,
    Path((ep, w)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<StatusCode> {
    let w = worker_id(&w);
    let running: Vec<String> = query_map(q.as_deref())
        .get("job_id")
        .map(|v| v.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    s.with_world(|world, now| world.worker_ping(&ep, &w, &running, now)).map(|()| StatusCode::OK)
}
