//! Rate limiting of failed authentication per client address: a burst of bad tokens gets
//! `429` with `Retry-After`, and while an address is locked out its tokens are not even looked
//! at (so guessing cannot go faster than the quota). Quota math by `governor` (GCRA).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed in a burst, then one per `REFILL`.
const BURST: u32 = 10;
const REFILL: Duration = Duration::from_secs(6);

/// Failed-authentication limits per address.
#[derive(Debug)]
pub(crate) struct AuthGuard {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    locked: Mutex<HashMap<IpAddr, Instant>>,
}

impl AuthGuard {
    pub(crate) fn new() -> Self {
        let quota = Quota::with_period(REFILL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN));
        Self { failures: RateLimiter::keyed(quota), locked: Mutex::new(HashMap::new()) }
    }

    /// Seconds until `ip` may try again, when it is locked out.
    pub(crate) fn locked_for(&self, ip: IpAddr) -> Option<u64> {
        let mut g = self.locked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = *g.get(&ip)?;
        let now = Instant::now();
        if until <= now {
            g.remove(&ip);
            return None;
        }
        Some((until - now).as_secs().max(1))
    }

    /// Counts a failed attempt; returns the lockout in seconds when this one went over.
    pub(crate) fn failed(&self, ip: IpAddr) -> Option<u64> {
        let not_until = self.failures.check_key(&ip).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut g = self.locked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.len() > 100_000 {
            let now = Instant::now();
            g.retain(|_, t| *t > now); // bounded memory under a spray of addresses
        }
        g.insert(ip, Instant::now() + wait);
        Some(wait.as_secs().max(1))
    }
}
