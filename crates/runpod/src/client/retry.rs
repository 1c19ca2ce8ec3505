//! When and how long to wait before trying a RunPod call again.
//!
//! Only what is safe is retried: a request that never reached the server (connect error),
//! a 429 (RunPod did not process it; `Retry-After` honoured), and 502/503/504 on idempotent
//! requests. A create that may have happened is never re-sent blindly.

use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// Retry settings of a [`Client`](super::Client).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts, including the first (1 disables retries).
    pub max_attempts: u32,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured; longer waits fail the call with `RateLimited` at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// Jittered exponential delays, one per retry.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build()
    }
}

/// Whether a request may be sent again after a given outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// GET/DELETE/PUT and actions that converge (stop, terminate, cancel).
    Idempotent,
    /// A create: a lost response may mean it happened.
    Create,
    /// Anything else that must not run twice.
    NonIdempotent,
}

/// What to do after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Retry(Option<Duration>),
    GiveUp,
}

/// Decide on a response status.
pub(crate) fn on_status(status: u16, idem: Idempotency, retry_after: Option<Duration>) -> Decision {
    match status {
        429 => Decision::Retry(retry_after),
        502..=504 if idem == Idempotency::Idempotent => Decision::Retry(None),
        _ => Decision::GiveUp,
    }
}

/// Decide on a transport failure. `connect` means the request never left.
pub(crate) fn on_transport(connect: bool, idem: Idempotency) -> Decision {
    if connect || idem == Idempotency::Idempotent {
        Decision::Retry(None)
    } else {
        Decision::GiveUp
    }
}

/// Parses `Retry-After` in its delta-seconds form (RunPod sends integers).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_are_not_resent_after_a_server_error() {
        assert_eq!(on_status(503, Idempotency::Create, None), Decision::GiveUp);
        assert_eq!(on_status(503, Idempotency::Idempotent, None), Decision::Retry(None));
        assert_eq!(on_status(500, Idempotency::Idempotent, None), Decision::GiveUp);
    }

    #[test]
    fn rate_limits_are_retried_for_every_method_with_the_server_hint() {
        let d = Some(Duration::from_secs(3));
        assert_eq!(on_status(429, Idempotency::Create, d), Decision::Retry(d));
        assert_eq!(on_status(429, Idempotency::NonIdempotent, None), Decision::Retry(None));
    }

    #[test]
    fn connect_errors_are_safe_to_retry_but_timeouts_on_creates_are_not() {
        assert_eq!(on_transport(true, Idempotency::Create), Decision::Retry(None));
        assert_eq!(on_transport(false, Idempotency::Create), Decision::GiveUp);
        assert_eq!(on_transport(false, Idempotency::Idempotent), Decision::Retry(None));
    }

    #[test]
    fn retry_after_parses_seconds() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn delays_are_bounded_and_counted() {
        let p = RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        };
        let d: Vec<_> = p.delays().collect();
        assert_eq!(d.len(), 3);
        assert!(d.iter().all(|x| *x <= Duration::from_millis(100)), "{d:?}");
    }
}
