//! Rate limiting of failed authentication per client (its address, or the one a trusted proxy
//! forwards): past a burst of wrong tokens, each further wrong one gets `429` with
//! `Retry-After`. A valid token is never refused (`routes::auth` looks it up first), so a
//! lockout cannot shut out real users sharing an address; it slows and flags guessing, which
//! against 256-bit random tokens has no chance anyway. Quota math by `governor` (GCRA).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Failed attempts allowed in a burst, then one per `REFILL`.
const BURST: u32 = 10;
const REFILL: std::time::Duration = std::time::Duration::from_secs(6);
/// Clients tracked before the idle ones are dropped (bounded memory under an address spray).
const TRACKED: usize = 100_000;

/// Failed-authentication limits per client.
#[derive(Debug)]
pub(crate) struct AuthGuard {
    failures: DefaultKeyedRateLimiter<IpAddr>,
}

impl AuthGuard {
    pub(crate) fn new() -> Self {
        let quota = Quota::with_period(REFILL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN));
        Self { failures: RateLimiter::keyed(quota) }
    }

    /// Counts a wrong token from `ip`; the seconds to wait when it is over the quota.
    pub(crate) fn failed(&self, ip: IpAddr) -> Option<u64> {
        if self.failures.len() > TRACKED {
            self.failures.retain_recent();
        }
        let not_until = self.failures.check_key(&ip).err()?;
        Some(not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}
