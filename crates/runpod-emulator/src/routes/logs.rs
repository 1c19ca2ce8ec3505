//! `GET /v2/pods/{id}/logs` and worker logs: Server-Sent Events with `tail`, `since`, `source`
//! and `Last-Event-ID` resume. Event ids are `<ts>/<seq>`, so a resume is exact.

use super::{query_int, query_map};
use crate::Shared;
use crate::logs::LogBuffer;
use crate::problem::{ApiError, ApiResult};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use runpod::types::pods::PodStatus;
use std::sync::Arc;

struct LogQuery {
    source: Option<&'static str>,
    tail: usize,
    since: Option<DateTime<Utc>>,
    after_seq: Option<u64>,
}

fn log_query(q: Option<&str>, headers: &HeaderMap) -> ApiResult<LogQuery> {
    let q = query_map(q);
    let source = match q.get("source").map(String::as_str) {
        None => None,
        Some("container") => Some("container"),
        Some("system") => Some("system"),
        Some(other) => {
            return Err(ApiError::validation(vec![format!(
                "query parameter 'source': value must be one of 'container', 'system', got {other:?}"
            )]));
        }
    };
    let tail = query_int(&q, "tail", 0, 5000)?.unwrap_or(100) as usize;
    let mut since = match q.get("since") {
        None => None,
        Some(v) => Some(
            DateTime::parse_from_rfc3339(v)
                .map_err(|_| {
                    ApiError::validation(vec![format!(
                        "query parameter 'since': {v:?} is not an RFC 3339 date-time"
                    )])
                })?
                .with_timezone(&Utc),
        ),
    };
    let mut after_seq = None;
    if let Some(id) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        // Our ids are `<ts>/<seq>`; a bare timestamp (RunPod's documented form) resumes by time.
        match id.rsplit_once('/').and_then(|(_, seq)| seq.parse::<u64>().ok()) {
            Some(seq) => after_seq = Some(seq),
            None => {
                if let Ok(t) = DateTime::parse_from_rfc3339(id) {
                    since = Some(t.with_timezone(&Utc));
                }
            }
        }
    }
    Ok(LogQuery { source, tail, since, after_seq })
}

fn sse(s: &Arc<Shared>, logs: Arc<LogBuffer>, q: LogQuery) -> Response {
    let cancel = s.runner.cancel.clone();
    let stream = async_stream::stream! {
        let mut rx = logs.subscribe();
        let first = match q.after_seq {
            Some(seq) => logs.since(seq, q.source, q.since),
            None => logs.tail(q.tail, q.source, q.since),
        };
        let mut last = first.last().map_or(q.after_seq.unwrap_or(0), |r| r.seq);
        if q.after_seq.is_none() && first.is_empty() {
            // Nothing matched the tail: follow from the newest line.
            last = logs.since(0, None, None).last().map_or(0, |r| r.seq);
        }
        for r in first {
            yield Ok::<_, std::convert::Infallible>(event(&r));
        }
        loop {
            let closed = *rx.borrow_and_update() == u64::MAX;
            for r in logs.since(last, q.source, q.since) {
                last = r.seq;
                yield Ok(event(&r));
            }
            if closed {
                break;
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { break },
                () = cancel.cancelled() => break,
            }
        }
    };
    let mut resp = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    let h = resp.headers_mut();
    h.insert("Cache-Control", HeaderValue::from_static("no-cache"));
    h.insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    resp
}

fn event(r: &crate::logs::LogRecord) -> Event {
    let data = serde_json::json!({ "ts": crate::clock::rfc3339(r.ts), "source": r.source, "line": r.line });
    Event::default().id(r.event_id()).data(data.to_string())
}

pub(crate) async fn pod_logs(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = log_query(q.as_deref(), &headers)?;
    let logs = s
        .world
        .lock()
        .pods
        .get(&id)
        .filter(|p| p.status != PodStatus::Terminated)
        .map(|p| p.logs.clone())
        .ok_or_else(ApiError::not_found)?;
    Ok(sse(&s, logs, q))
}

pub(crate) async fn worker_logs(
    State(s): State<Arc<Shared>>,
    Path((ep, worker)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let q = log_query(q.as_deref(), &headers)?;
    let logs = s
        .world
        .lock()
        .workers
        .get(&worker)
        .filter(|w| w.endpoint_id == ep)
        .map(|w| w.logs.clone())
        .ok_or_else(ApiError::not_found)?;
    Ok(sse(&s, logs, q))
}
