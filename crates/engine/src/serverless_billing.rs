//! Serverless spend checked against RunPod's bill, endpoint by endpoint and hour by hour.
//!
//! RunPod bills a worker "from when a worker starts until it fully stops"
//! (`serverless/pricing.mdx`): its boot, its idle time before it scales down and an active
//! (min) worker's every hour, not only the jobs it runs. podwarden charges each serverless job
//! its execution plus the idle tail it keeps the worker for; what RunPod billed beyond that in
//! an hour is booked as the endpoint's own overhead (`podwarden_store::endpoint_billing`), so the ledger
//! agrees with the bill and the owner's spend (and cap) counts it.
//!
//! Owns: the reads of each endpoint's hours (`GET /v2/billing/serverless?serverlessId=…`).
//! Invariants: hours are booked in order, each once, and none while a job submitted before its
//! end is unsettled (its cost would land in a booked hour); a figure is trusted as for pods
//! ([`BillingPolicy`]: two agreeing reads an hour after it ended, or one after the settle time),
//! and never read within RunPod's billing cycle of the hour's end; an hour with no bill books
//! nothing, and only after the settle time is it passed over. Endpoints that existed before this
//! check (migration 0016) start at the hour it was added: their past is not billed anew.

use crate::billing::{BillingPolicy, BillingReport, FIRST_BILL_READ_AFTER_MS};
use crate::provider::Provider;
use crate::{Engine, EngineError};
use podwarden_core::Money;
use podwarden_core::state::EndpointState;

const HOUR_MS: i64 = 3_600_000;

/// Hours of one endpoint booked at most per pass (a backlog clears over a few passes).
pub const HOURS_PER_PASS: usize = 48;

impl<C: Provider> Engine<C> {
    /// Whether this account's endpoint bills are due a read (every `BILL_REREAD_MS`); true
    /// once per period.
    pub fn endpoint_bills_due(&self) -> bool {
        crate::due_every(&self.last_endpoint_bills, self.now_ms(), crate::billing::BILL_REREAD_MS)
    }

    /// Reads RunPod's bill for the next unbooked hours of this account's endpoints and books
    /// each hour once its figure is trusted under `policy`.
    pub async fn reconcile_endpoint_bills(
        &self,
        policy: BillingPolicy,
    ) -> Result<BillingReport, EngineError> {
        let now = self.now_ms();
        let mut report = BillingReport::default();
        for ep in self.store().endpoints_billable(&self.account).await? {
            let Some(provider) = ep.endpoint_id.clone() else { continue };
            // A deleted endpoint bills nothing after the hour it was deleted in.
            let end =
                if ep.state == EndpointState::Deleted { ceil_hour(ep.updated_at) } else { now };
            let state = self.store().endpoint_billing(ep.id).await?;
            let mut head = state.as_ref().map_or(floor_hour(ep.created_at), |b| b.booked_through);
            // The first hour also takes job spans the ledger dates before it (a span is dated
            // `end - billed`, which can precede the endpoint's first hour).
            let (mut read_at, mut last) = state.map_or((None, None), |b| (b.read_at, b.theirs));
            for _ in 0..HOURS_PER_PASS {
                let hour_end = head + HOUR_MS;
                // Even "check now" leaves an hour alone for RunPod's billing cycle: a figure read
                // sooner is a part of the hour's.
                let first_read = policy.first_read_after_ms.max(FIRST_BILL_READ_AFTER_MS);
                let closed = hour_end <= now - first_read && head < end;
                let read_lately = read_at.is_some_and(|r| r > now - policy.reread_ms);
                if !closed || read_lately {
                    break;
                }
                // A job still running (or queued) from before the hour's end has no ledger row
                // yet: when it settles, its row is dated into this hour, which would then be
                // charged twice. Wait for it.
                if self.store().endpoint_has_unsettled(&provider, hour_end).await? {
                    report.pending += 1;
                    break;
                }
                report.read += 1;
                let theirs = match self.provider().endpoint_billed(&provider, head, hour_end).await
                {
                    Ok(t) => t,
                    Err(e) => {
                        report.errors.push(format!("endpoint {provider}: {e}"));
                        break;
                    }
                };
                let settled = hour_end <= now - policy.settle_ms;
                let trusted = match theirs {
                    // No bill: passed over (the ledger stands) only once it is settled.
                    None => settled && policy.settle_ms > 0,
                    Some(t) => settled || (last == Some(t) && hour_end <= now - policy.min_age_ms),
                };
                if !trusted {
                    let at = now;
                    self.store().endpoint_bill_read(ep.id, head, at, theirs).await?;
                    match theirs {
                        None => report.awaiting += 1,
                        Some(_) => report.pending += 1,
                    }
                    break;
                }
                let overhead = match theirs {
                    Some(t) => {
                        let first = head == floor_hour(ep.created_at);
                        let from = if first { i64::MIN } else { head };
                        let ours =
                            self.store().endpoint_jobs_cost(&provider, from, hour_end).await?;
                        Some(t - ours)
                    }
                    None => None,
                };
                if !self
                    .store()
                    .endpoint_bill_book(ep.id, &provider, head, hour_end, overhead)
                    .await?
                {
                    break; // booked elsewhere meanwhile
                }
                match overhead {
                    Some(o) => {
                        report.checked += 1;
                        if o != Money::ZERO {
                            tracing::info!(endpoint = %ep.name, hour = head, overhead = %o, "endpoint hour booked to RunPod's bill");
                        }
                    }
                    None => report.unbilled += 1,
                }
                head = hour_end;
                (read_at, last) = (None, None);
            }
        }
        Ok(report)
    }
}

fn floor_hour(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

fn ceil_hour(ms: i64) -> i64 {
    floor_hour(ms + HOUR_MS - 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hours_round_down_and_up_on_utc_hours() {
        assert_eq!(super::floor_hour(3_600_001), 3_600_000);
        assert_eq!(super::ceil_hour(3_600_001), 7_200_000);
        assert_eq!(super::ceil_hour(3_600_000), 3_600_000);
    }
}
