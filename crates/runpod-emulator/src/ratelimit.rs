//! Request budgets, as RunPod enforces them.
//!
//! REST v2 (docs `api-reference-v2/rate-limits`): each user (account) has a quota per window —
//! minute, hour and day; every request counts against all three, and once any is spent the API
//! answers 429 with `Retry-After` until that window resets. Every authenticated response carries
//! `RateLimit-Policy` (`"minute";q=60;w=60, …`) and `RateLimit` (`"minute";r=59;t=42, …`). The
//! defaults are the pinned spec's example values; RunPod publishes no others.
//!
//! The serverless job API (docs `serverless/endpoints/send-requests`) limits each operation per
//! user per endpoint over 10 s windows (`/run` 1000, `/runsync` 2000, `/status` and `/stream`
//! 2000, `/cancel` 100, `/purge-queue` 2). RunPod raises them with running workers; the emulator
//! does not (the stricter reading).
//!
//! Windows run on the emulator's clock: real time normally; with a manual clock, emulated time,
//! so a test that moves time also refills budgets. Tests that compress time on a real clock (a
//! reconciler ticking every 100 ms instead of 2 s) scale the quotas by the same factor
//! (`RateLimitConfig::scaled`), which keeps calls per budget what they are in production.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// One window of a REST quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `minute`, `hour`, `day` (the name in the headers).
    pub name: String,
    /// Requests allowed per window.
    pub quota: u64,
    /// Window length in seconds.
    pub secs: u64,
}

/// Every request budget the emulator enforces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// REST v2 windows per account (pod-scoped keys count against their pod's account).
    pub rest: Vec<Window>,
    /// Serverless job API: requests per 10 s per account and endpoint, by operation
    /// (`run`, `runsync`, `status`, `stream`, `cancel`, `purge-queue`, `retry`, `health`).
    pub serverless: HashMap<String, u64>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let w = |name: &str, quota, secs| Window { name: name.into(), quota, secs };
        Self {
            rest: vec![w("minute", 60, 60), w("hour", 3000, 3600), w("day", 50_000, 86_400)],
            serverless: [
                ("run", 1000),
                ("runsync", 2000),
                ("status", 2000),
                ("stream", 2000),
                ("cancel", 100),
                ("purge-queue", 2),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        }
    }
}

impl RateLimitConfig {
    /// Effectively no limits (benchmarks that measure something else).
    pub fn unlimited() -> Self {
        Self { rest: Vec::new(), serverless: HashMap::new() }
    }

    /// Every quota multiplied by `factor`: for tests that compress time (a reconciler ticking
    /// every 50 ms makes in a second the calls a real one makes in a minute).
    pub fn scaled(factor: u64) -> Self {
        let mut c = Self::default();
        c.scale(factor);
        c
    }

    /// Multiplies every quota by `factor`.
    pub fn scale(&mut self, factor: u64) {
        for w in &mut self.rest {
            w.quota = w.quota.saturating_mul(factor);
        }
        for q in self.serverless.values_mut() {
            *q = q.saturating_mul(factor);
        }
    }
}

fn elapsed(from: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - from).to_std().unwrap_or_default()
}

/// Length of a serverless operation's window.
const SERVERLESS_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Count {
    started: DateTime<Utc>,
    used: u64,
}

/// The outcome of counting one REST request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `None`: allowed. `Some(secs)`: refused; retry after this many seconds.
    pub retry_after: Option<u64>,
    /// The window that refused it.
    pub spent: Option<String>,
    /// `RateLimit` header value.
    pub state: String,
    /// `RateLimit-Policy` header value.
    pub policy: String,
}

/// Counters per account (REST) and per account, endpoint and operation (serverless).
#[derive(Debug, Default)]
pub struct Limiter {
    rest: HashMap<String, Vec<Count>>,
    serverless: HashMap<(String, String, String), Count>,
    /// REST requests refused with 429, ever (benchmarks and tests read it).
    pub refused: u64,
}

impl Limiter {
    /// Counts a REST v2 request of `account` at `now`. A refused request consumes nothing.
    /// `None` when no window is configured.
    pub fn rest(
        &mut self,
        cfg: &RateLimitConfig,
        account: &str,
        now: DateTime<Utc>,
    ) -> Option<Verdict> {
        if cfg.rest.is_empty() {
            return None;
        }
        let counts = self.rest.entry(account.to_owned()).or_default();
        counts.resize(cfg.rest.len(), Count { started: now, used: 0 });
        for (c, w) in counts.iter_mut().zip(&cfg.rest) {
            if elapsed(c.started, now) >= Duration::from_secs(w.secs) {
                *c = Count { started: now, used: 0 };
            }
        }
        let reset = |c: &Count, w: &Window| {
            Duration::from_secs(w.secs).saturating_sub(elapsed(c.started, now)).as_secs_f64().ceil()
                as u64
        };
        let spent = counts
            .iter()
            .zip(&cfg.rest)
            .filter(|(c, w)| c.used >= w.quota)
            .map(|(c, w)| (reset(c, w).max(1), w.name.clone()))
            .max();
        if spent.is_none() {
            for c in counts.iter_mut() {
                c.used += 1;
            }
        } else {
            self.refused += 1;
        }
        let state = counts
            .iter()
            .zip(&cfg.rest)
            .map(|(c, w)| {
                format!("\"{}\";r={};t={}", w.name, w.quota.saturating_sub(c.used), reset(c, w))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let policy = cfg
            .rest
            .iter()
            .map(|w| format!("\"{}\";q={};w={}", w.name, w.quota, w.secs))
            .collect::<Vec<_>>()
            .join(", ");
        let (retry_after, spent) = spent.map_or((None, None), |(t, n)| (Some(t), Some(n)));
        Some(Verdict { retry_after, spent, state, policy })
    }

    /// Counts a serverless job-API request; `Some(secs)` when refused.
    pub fn serverless(
        &mut self,
        cfg: &RateLimitConfig,
        account: &str,
        endpoint: &str,
        op: &str,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let quota = *cfg.serverless.get(op)?;
        let c = self
            .serverless
            .entry((account.to_owned(), endpoint.to_owned(), op.to_owned()))
            .or_insert(Count { started: now, used: 0 });
        if elapsed(c.started, now) >= SERVERLESS_WINDOW {
            *c = Count { started: now, used: 0 };
        }
        if c.used >= quota {
            return Some(
                SERVERLESS_WINDOW
                    .saturating_sub(elapsed(c.started, now))
                    .as_secs_f64()
                    .ceil()
                    .max(1.0) as u64,
            );
        }
        c.used += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(minute: u64, hour: u64) -> RateLimitConfig {
        RateLimitConfig {
            rest: vec![
                Window { name: "minute".into(), quota: minute, secs: 60 },
                Window { name: "hour".into(), quota: hour, secs: 3600 },
            ],
            serverless: [("cancel".to_owned(), 2)].into_iter().collect(),
        }
    }

    #[test]
    fn every_window_counts_and_the_spent_one_decides_retry_after() {
        let (c, mut l, t0) = (cfg(2, 3), Limiter::default(), Utc::now());
        let v = l.rest(&c, "a", t0).expect("limited");
        assert_eq!(
            (v.retry_after, v.state.as_str()),
            (None, "\"minute\";r=1;t=60, \"hour\";r=2;t=3600")
        );
        assert_eq!(v.policy, "\"minute\";q=2;w=60, \"hour\";q=3;w=3600");
        assert_eq!(l.rest(&c, "a", t0).expect("limited").retry_after, None);
        assert_eq!(
            l.rest(&c, "a", t0 + chrono::TimeDelta::seconds(10)).expect("limited").retry_after,
            Some(50),
            "minute spent"
        );
        assert_eq!(
            l.rest(&c, "b", t0).expect("limited").retry_after,
            None,
            "another account has its own budget"
        );
        // The minute resets; the hour has one request left, then it is the one that refuses.
        assert_eq!(
            l.rest(&c, "a", t0 + chrono::TimeDelta::seconds(61)).expect("limited").retry_after,
            None
        );
        assert_eq!(
            l.rest(&c, "a", t0 + chrono::TimeDelta::seconds(62)).expect("limited").retry_after,
            Some(3538)
        );
    }

    #[test]
    fn serverless_operations_have_ten_second_windows_per_endpoint() {
        let (c, mut l, t0) = (cfg(100, 100), Limiter::default(), Utc::now());
        assert_eq!(l.serverless(&c, "a", "ep", "cancel", t0), None);
        assert_eq!(l.serverless(&c, "a", "ep", "cancel", t0), None);
        assert_eq!(
            l.serverless(&c, "a", "ep", "cancel", t0 + chrono::TimeDelta::seconds(3)),
            Some(7)
        );
        assert_eq!(l.serverless(&c, "a", "ep2", "cancel", t0), None, "per endpoint");
        assert_eq!(
            l.serverless(&c, "a", "ep", "run", t0),
            None,
            "unlisted operations are unlimited"
        );
        assert_eq!(
            l.serverless(&c, "a", "ep", "cancel", t0 + chrono::TimeDelta::seconds(10)),
            None,
            "the window reset"
        );
    }
}
