//! Pod and worker log events (the SSE `data` payload).

use serde::{Deserialize, Serialize};

/// One log line. The SSE event `id` is `<ts>/<sequence>`, so `Last-Event-ID` resumes exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    /// RFC 3339 timestamp.
    pub ts: String,
    /// `container` or `system`.
    pub source: String,
    pub line: String,
}

/// Options of `GET /v2/pods/{id}/logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsQuery {
    /// `container` (default upstream: both) or `system`.
    pub source: Option<String>,
    /// Lines of history to send first (default 100, max 5000).
    pub tail: Option<u32>,
    /// Only lines at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Resume after this event id.
    pub last_event_id: Option<String>,
}

/// A log event with its SSE id.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// SSE event id, for resuming.
    pub id: String,
    pub event: LogEvent,
}
