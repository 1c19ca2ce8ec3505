//! Log buffers behind `GET /v2/pods/{id}/logs` and worker logs.

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::watch;

/// Lines kept per buffer; older ones are dropped (RunPod's `tail` max is 5000).
pub const MAX_LINES: usize = 10_000;

/// One stored line.
#[derive(Debug, Clone)]
pub struct LogRecord {
    /// 1-based, increasing; the SSE id is `<ts>/<seq:012>`.
    pub seq: u64,
    pub ts: DateTime<Utc>,
    /// `container` or `system`.
    pub source: &'static str,
    pub line: String,
}

impl LogRecord {
    /// The SSE event id.
    pub fn event_id(&self) -> String {
        format!("{}/{:012}", crate::clock::rfc3339(self.ts), self.seq)
    }
}

/// An append-only, bounded log with live followers.
#[derive(Debug)]
pub struct LogBuffer {
    lines: Mutex<std::collections::VecDeque<LogRecord>>,
    /// Latest seq; `u64::MAX` once closed (the pod is gone).
    latest: watch::Sender<u64>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self { lines: Mutex::new(std::collections::VecDeque::new()), latest: watch::channel(0).0 }
    }
}

impl LogBuffer {
    /// Appends a line.
    pub fn push(&self, ts: DateTime<Utc>, source: &'static str, line: impl Into<String>) {
        let mut g = self.lines.lock();
        let seq = g.back().map_or(1, |r| r.seq + 1);
        g.push_back(LogRecord { seq, ts, source, line: line.into() });
        if g.len() > MAX_LINES {
            g.pop_front();
        }
        drop(g);
        self.latest.send_if_modified(|v| {
            if *v == u64::MAX {
                false
            } else {
                *v = seq;
                true
            }
        });
    }

    /// Marks the log finished; followers drain and end.
    pub fn close(&self) {
        self.latest.send_replace(u64::MAX);
    }

    /// Records after `after_seq`, filtered.
    pub fn since(
        &self,
        after_seq: u64,
        source: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Vec<LogRecord> {
        self.lines
            .lock()
            .iter()
            .filter(|r| {
                r.seq > after_seq
                    && source.is_none_or(|s| s == r.source)
                    && since.is_none_or(|t| r.ts >= t)
            })
            .cloned()
            .collect()
    }

    /// The last `n` matching records.
    pub fn tail(
        &self,
        n: usize,
        source: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Vec<LogRecord> {
        let all = self.since(0, source, since);
        let skip = all.len().saturating_sub(n);
        all.into_iter().skip(skip).collect()
    }

    /// A receiver that wakes on every new line.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Every line's text, oldest first (tests and the admin API).
    pub fn text(&self) -> Vec<String> {
        self.lines.lock().iter().map(|r| r.line.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_and_resume_by_sequence() {
        let b = LogBuffer::default();
        let t = Utc::now();
        for i in 0..5 {
            b.push(t, if i % 2 == 0 { "container" } else { "system" }, format!("l{i}"));
        }
        assert_eq!(
            b.tail(2, None, None).iter().map(|r| r.line.as_str()).collect::<Vec<_>>(),
            ["l3", "l4"]
        );
        assert_eq!(b.since(3, None, None).len(), 2);
        assert_eq!(b.tail(10, Some("system"), None).len(), 2);
        assert!(b.tail(1, None, None)[0].event_id().ends_with("/000000000005"));
    }
}
