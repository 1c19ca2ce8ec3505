//! The emulator's clock: real time, or a manual clock that moves only when a test says so.

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// Which clock drives billing, boot delays, timeouts and retention.
#[derive(Debug, Clone)]
pub enum Clock {
    /// Wall-clock time.
    Real,
    /// Time stands still until [`Clock::advance`].
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self::Manual(Arc::new(Mutex::new(start)))
    }

    /// The current emulated time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Real => Utc::now(),
            Self::Manual(t) => *t.lock(),
        }
    }

    /// Moves a manual clock forward; returns false for the real clock.
    pub fn advance(&self, by: Duration) -> bool {
        match self {
            Self::Real => false,
            Self::Manual(t) => {
                let mut g = t.lock();
                *g += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
                true
            }
        }
    }

    /// Whether this is the manual clock.
    pub fn is_manual(&self) -> bool {
        matches!(self, Self::Manual(_))
    }
}

/// RFC 3339 with a `Z`, as RunPod prints timestamps.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Seconds from `a` to `b` as a float (0 when `b` is earlier).
pub fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    ((b - a).num_milliseconds().max(0)) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start =
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").expect("date").with_timezone(&Utc);
        let c = Clock::manual(start);
        assert_eq!(c.now(), start);
        assert!(c.advance(Duration::from_secs(90)));
        assert_eq!(rfc3339(c.now()), "2026-01-01T00:01:30.000Z");
        assert!(!Clock::Real.advance(Duration::from_secs(1)));
    }
}
