//! A job's (or serverless job's) events: long-polled JSON or an SSE stream that resumes from
//! `Last-Event-ID`, with the pod's log lines merged in on request; and the pod logs alone.

use super::*;
use crate::AppState;
use crate::accounts::engine_for;
use crate::api::{ErrorBody, EventView};
use crate::extract::Query;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use podwarden_core::state::AttemptState;
use podwarden_core::{AttemptId, JobId, WorkId};
use podwarden_engine::EngineError;
use podwarden_engine::provider::{Provider, ProviderError};
use podwarden_store::AttemptRow;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct After {
    #[serde(default)]
    pub(crate) after: i64,
    /// Long-poll: wait up to this many ms for an event after `after` (max 60 000).
    #[serde(default)]
    #[param(maximum = 60_000)]
    pub(crate) wait_ms: u64,
    /// SSE only: also stream the job's pod log lines live (`event: log`, not resumable).
    #[serde(default)]
    pub(crate) logs: bool,
}

/// A job's (or serverless job's) events: JSON with a long-poll (`?after=&wait_ms=`), or — with
/// `Accept: text/event-stream` — Server-Sent Events (state changes, logs of the engine, metric
/// points, stream chunks, budget alerts), resumable with `Last-Event-ID`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", params(("id" = String, Path, description = "job or serverless job id"), After, ("Last-Event-ID" = Option<i64>, Header, description = "resume an SSE stream after this event")), responses((status = 200, description = "events (JSON) or an SSE stream", content((Vec<EventView> = "application/json"), (String = "text/event-stream"))), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn events(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Query(q): Query<After>,
    headers: axum::http::HeaderMap,
) -> R<Response> {
    // Only the owner's events; unknown, malformed and foreign ids alike are "not found".
    let work = id.parse::<WorkId>().map_err(|_| EngineError::NoSuchJob(id.clone()))?;
    match work {
        WorkId::ServerlessJob(_) => owned_serverless_job(&s, &id, &c.0.id).await.map(|_| ())?,
        WorkId::Job(_) => owned_job(&s, &id, &c.0.id).await.map(|_| ())?,
    }
    let wants_sse = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_sse {
        let resume = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let end = s.shutdown.clone().cancelled_owned();
        let stored = event_stream(s.clone(), work, resume.unwrap_or(q.after));
        let stream = match work {
            WorkId::Job(job) if q.logs => {
                futures::stream::select(stored, pod_log_lines(s, job)).boxed()
            }
            _ => stored.boxed(),
        };
        return Ok(Sse::new(stream.take_until(end))
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    Ok(Json(long_poll(&s, work, &q).await?).into_response())
}

/// A serverless job's events, as `/api/v1/jobs/{id}/events` serves them (the same handler).
#[utoipa::path(get, path = "/api/v1/requests/{id}/events", tag = "serverless", params(("id" = String, Path, description = "serverless job id (`req_…`)"), After, ("Last-Event-ID" = Option<i64>, Header, description = "resume an SSE stream after this event")), responses((status = 200, description = "events (JSON) or an SSE stream", content((Vec<EventView> = "application/json"), (String = "text/event-stream"))), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn serverless_job_events(
    state: S,
    caller: C,
    id: Path<String>,
    q: Query<After>,
    headers: axum::http::HeaderMap,
) -> R<Response> {
    events(state, caller, id, q, headers).await
}

/// How much of a pod's log a new follower gets first.
pub(crate) const POD_LOG_TAIL: podwarden_engine::provider::PodLogQuery =
    podwarden_engine::provider::PodLogQuery { tail: Some(1000), after: None };

/// The pod of the job's latest attempt that holds one (created or running).
pub(crate) fn current_pod(attempts: &[AttemptRow]) -> Option<String> {
    current_attempt(attempts).and_then(|a| a.pod_id.clone())
}

/// The newest attempt whose pod is up (created or running).
fn current_attempt(attempts: &[AttemptRow]) -> Option<&AttemptRow> {
    attempts.iter().rev().find(|a| {
        a.pod_id.is_some() && matches!(a.state, AttemptState::Created | AttemptState::Running)
    })
}

/// The job's pod log lines as `log` events: follows each pod the job gets, until it settles.
pub(crate) fn pod_log_lines(
    s: Arc<AppState>,
    id: JobId,
) -> impl futures::Stream<Item = Result<Event, std::convert::Infallible>> {
    async_stream::stream! {
        let mut rx = s.engine.subscribe();
        let mut followed = std::collections::HashSet::new();
        loop {
            let Ok(Some(job)) = s.engine.store().job_get(id).await else { break };
            let attempts = s.engine.store().attempts_for_job(id).await.unwrap_or_default();
            if let Some(pod) = current_pod(&attempts).filter(|p| !followed.contains(p)) {
                followed.insert(pod.clone());
                let lines = match engine_for(&s, &job.account).await {
                    Ok(e) => e.provider().pod_logs(&pod, POD_LOG_TAIL).await.ok(),
                    Err(_) => None,
                };
                if let Some(mut lines) = lines {
                    while let Some(Ok(l)) = lines.next().await {
                        let data = serde_json::json!({"source": l.source, "line": l.line});
                        yield Ok(Event::default().event("log").data(data.to_string()));
                    }
                }
                continue;
            }
            if job.phase().is_ok_and(|p| p.state.is_final()) || rx.changed().await.is_err() {
                break;
            }
        }
    }
}

pub(crate) fn event_stream(
    s: Arc<AppState>,
    id: WorkId,
    after: i64,
) -> impl futures::Stream<Item = Result<Event, std::convert::Infallible>> {
    futures::stream::unfold(
        (s, id, after, None::<tokio::sync::watch::Receiver<u64>>),
        |(s, id, after, rx)| async move {
            let mut rx = rx.unwrap_or_else(|| s.engine.subscribe());
            loop {
                match s.engine.store().events_since(id, after, 1000).await {
                    Ok(rows) if !rows.is_empty() => {
                        let last = rows.last().map_or(after, |e| e.id);
                        let events: Vec<Result<Event, std::convert::Infallible>> = rows
                            .into_iter()
                            .map(|e| {
                                let (id, kind) = (e.id.to_string(), e.kind.as_str());
                                let data =
                                    serde_json::to_string(&event_view(e)).unwrap_or_default();
                                Ok(Event::default().id(id).event(kind).data(data))
                            })
                            .collect();
                        return Some((futures::stream::iter(events), (s, id, last, Some(rx))));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream read failed");
                        return None;
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        },
    )
    .flatten()
}

/// An event as the API shows it: its typed state change read from `data`, or for progress
/// and chunks the handler's value.
pub(crate) fn event_view(e: podwarden_store::EventRow) -> EventView {
    use podwarden_core::events::{EventKind, StateChange};
    let change = StateChange::of(e.kind, e.data.as_deref());
    let data = match e.kind {
        EventKind::Progress | EventKind::Chunk | EventKind::Metric => {
            e.data.as_deref().and_then(|d| serde_json::from_str(d).ok())
        }
        _ => None,
    };
    EventView {
        id: e.id,
        at: e.at,
        kind: e.kind,
        message: e.message,
        state: change.state,
        ending: change.ending,
        attempt: change.attempt,
        request: change.request,
        data,
    }
}

pub(crate) async fn long_poll(s: &AppState, id: WorkId, q: &After) -> R<Vec<EventView>> {
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_millis(q.wait_ms.min(60_000));
    let mut rx = s.engine.subscribe();
    loop {
        let rows =
            s.engine.store().events_since(id, q.after, 1000).await.map_err(EngineError::from)?;
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(rows.into_iter().map(event_view).collect());
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Ok(Vec::new()) },
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// `?attempt=N`: one attempt's lines.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Only this attempt's lines (1 is the job's first pod); without it, every attempt's, each
    /// after an `event: attempt` separator when the job had more than one.
    pub(crate) attempt: Option<u32>,
    /// Which node of a multi-node job (default 0); `attempt` then counts that node's pods.
    pub(crate) node: Option<u32>,
}

/// A job's pod logs: the lines kept from its earlier pods (the newest 10,000 in all), then the
/// current pod's, proxied live from the provider's SSE stream; once the job has no pod, the
/// stream ends after the kept lines. Each attempt's lines follow an `event: attempt` line when
/// the job had more than one.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/logs", tag = "jobs", params(("id" = String, Path, description = "job id"), LogsQuery), responses((status = 200, description = "SSE: one event per log line (`container`, `system`), and `attempt` before each attempt's lines", content_type = "text/event-stream"), (status = 404, description = "no such job or attempt, or no pod yet and no lines kept", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn logs(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Query(q): Query<LogsQuery>,
) -> R<Response> {
    let job = owned_job(&s, &id, &c.0.id).await?;
    let nodes = job.spec().map_err(EngineError::from)?.nodes;
    let node = i64::from(super::jobs::check_node(&id, q.node.unwrap_or(0), nodes)?);
    let attempts = s.engine.store().attempts_for_job(job.id).await.map_err(EngineError::from)?;
    // One node's pods: a multi-node job's nodes each have their own log.
    let attempts: Vec<_> = attempts.into_iter().filter(|a| a.node == node).collect();
    let wanted = match q.attempt {
        Some(n) => Some(
            attempts
                .get((n as usize).wrapping_sub(1))
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        ErrorCode::NoSuchAttempt,
                        format!("job {id} has no attempt {n} (it has {})", attempts.len()),
                        Some("`podwarden ps JOB` lists its attempts"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let live = current_attempt(&attempts)
        .filter(|a| wanted.as_ref().is_none_or(|w| w == &a.id))
        .map(|a| (a.id, a.pod_id.clone().unwrap_or_default()));
    // The live attempt's pod streams its lines; one already gone at the provider (torn down
    // between the attempt's last pass and now) has them kept, as an ended attempt does.
    let (live, stream) = match live {
        Some((attempt, pod)) => {
            let engine = engine_for(&s, &job.account).await.map_err(account_error)?;
            match engine.provider().pod_logs(&pod, POD_LOG_TAIL).await {
                Ok(stream) => (Some(attempt), Some(stream)),
                Err(ProviderError::NotFound(_)) => (None, None),
                Err(e) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        ErrorCode::ProviderError,
                        e.to_string(),
                        None,
                    ));
                }
            }
        }
        None => (None, None),
    };
    // Kept lines need no provider: no key is decrypted, and a removed key does not hide them.
    let kept = s
        .engine
        .store()
        .job_logs(job.id, podwarden_store::JOB_LOG_LINES_KEPT)
        .await
        .map_err(EngineError::from)?;
    let kept: Vec<_> = kept
        .into_iter()
        // The live attempt's lines come from its stream (which starts at its first line).
        .filter(|l| l.attempt_id.is_none() || l.attempt_id != live)
        .filter(|l| wanted.is_none() || l.attempt_id == wanted)
        .filter(|l| nodes <= 1 || l.attempt_id.is_some_and(|a| attempts.iter().any(|x| x.id == a)))
        .collect();
    if kept.is_empty() && live.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoPod,
            "the job has no pod yet, and no log lines were kept",
            Some("`podwarden ps` shows its state"),
        ));
    }
    // Separators only where they tell attempts apart.
    let separate = wanted.is_none() && attempts.iter().filter(|a| a.pod_id.is_some()).count() > 1;
    let separator = |attempt: AttemptId| {
        let n = attempts.iter().position(|a| a.id == attempt);
        let a = n.map(|n| &attempts[n]);
        let text = format!(
            "── attempt {} of {}: pod {} ({} × {}) ──",
            n.map_or(0, |n| n + 1),
            attempts.len(),
            a.and_then(|a| a.pod_id.as_deref()).unwrap_or("?"),
            a.map_or(0, |a| a.gpu_count),
            a.map_or("?", |a| a.gpu_type.as_str()),
        );
        Ok::<_, std::convert::Infallible>(Event::default().event("attempt").data(text))
    };
    let mut events = Vec::with_capacity(kept.len() + 2);
    let mut shown: Option<Option<AttemptId>> = None;
    for l in kept {
        if separate && shown.as_ref() != Some(&l.attempt_id) {
            if let Some(a) = l.attempt_id {
                events.push(separator(a));
            }
            shown = Some(l.attempt_id);
        }
        events.push(Ok(Event::default().event(l.source).data(l.line)));
    }
    let (Some(attempt), Some(stream)) = (live, stream) else {
        return Ok(Sse::new(futures::stream::iter(events)).into_response());
    };
    if separate {
        events.push(separator(attempt));
    }
    let lines = stream.filter_map(|l| async move {
        l.ok().map(|l| {
            Ok::<_, std::convert::Infallible>(Event::default().event(l.source).data(l.line))
        })
    });
    Ok(Sse::new(
        futures::stream::iter(events).chain(lines).take_until(s.shutdown.clone().cancelled_owned()),
    )
    .keep_alive(KeepAlive::default())
    .into_response())
}
