//! Money: the ledger and its check against the provider's bill.
//!
//! Owns: the cost rows of pod attempts. A pod-holding attempt is billed every
//! `ACCRUE_EVERY_MS` (budgets are enforced on projected spend, so batching the writes cannot
//! overshoot them) and up to the moment it ends, in one transaction per batch (`podwarden_store::bill`).
//!
//! Billing reconciliation compares the ledger with the provider's bill, pod by pod.
//!
//! Owns: the reads and the check of each settled attempt of this engine's account
//! (`podwarden_store::billing`). Invariants: once an attempt is checked, its ledger rows sum to what the
//! provider billed for its pod, and the difference (a crash that double-billed a span, a price
//! that changed under a running pod, a rounding) is recorded with its size and shown as an event
//! on the job. RunPod's billing lags — it "runs every 5 minutes", and its history routes have been
//! seen empty an hour after use (API-NOTES, corrections of 2026-12-05) — so a bill is read again
//! and again ([`BillingPolicy`]) and booked only when two reads agree or the attempt ended longer
//! ago than the settle time; an absent bill never replaces the ledger's figure.

use crate::provider::Provider;
use crate::{Engine, EngineError};
use podwarden_core::events::EventKind;
use podwarden_core::{AttemptId, EndpointRecordId, JobId, Money, WorkId};
use podwarden_store::{AttemptRow, Bill};

/// One check that found a difference.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub job_id: JobId,
    pub pod_id: String,
    pub ours: Money,
    pub theirs: Money,
}

/// What a reconciliation pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BillingReport {
    /// Attempts whose bill was read.
    pub read: usize,
    /// Attempts booked to the provider's figure.
    pub checked: usize,
    /// Read, and the provider has no bill for the pod yet.
    pub awaiting: usize,
    /// Read, and the figure is not trusted yet (it may still grow): read again later.
    pub pending: usize,
    /// Settled with no bill from RunPod at all after the settle time: the ledger's figure stands.
    pub unbilled: usize,
    pub mismatches: Vec<Mismatch>,
    /// Reads that failed (each attempt is read again next time; one does not stop the others).
    pub errors: Vec<String>,
}

/// RunPod bills "every 5 minutes" (`accounts-billing/billing.mdx`): no pod's bill is read sooner.
pub const FIRST_BILL_READ_AFTER_MS: i64 = 5 * 60_000;
/// Between two reads of one pod's bill.
pub const BILL_REREAD_MS: i64 = 10 * 60_000;
/// After this long since a pod ended, one present figure is trusted without a second read, and
/// a bill still absent is given up on (the ledger's figure stands).
pub const DEFAULT_BILL_SETTLE_MS: i64 = 6 * 3_600_000;
/// Two agreeing reads are trusted only once the pod ended at least this long ago: RunPod's
/// history has been seen empty an hour after use, so two early reads may agree on a part.
pub const BILL_MIN_AGE_MS: i64 = 3_600_000;

/// When a pod's bill is read, and when a figure is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingPolicy {
    /// Wait this long after a pod ended before the first read.
    pub first_read_after_ms: i64,
    /// Read an attempt's bill at most this often.
    pub reread_ms: i64,
    /// A present figure is trusted on one read once the pod ended this long ago; before that
    /// it must be read twice, the same. A bill still absent then is given up on.
    pub settle_ms: i64,
    /// Two agreeing reads count only once the pod ended this long ago.
    pub min_age_ms: i64,
}

impl BillingPolicy {
    /// The server's own checks: first read after RunPod's billing cycle, again every
    /// `BILL_REREAD_MS`, trusted when two reads agree an hour or more after the pod ended, or
    /// after `settle_ms`.
    pub fn automatic(settle_ms: i64) -> Self {
        Self {
            first_read_after_ms: FIRST_BILL_READ_AFTER_MS,
            reread_ms: BILL_REREAD_MS,
            settle_ms,
            min_age_ms: BILL_MIN_AGE_MS.min(settle_ms),
        }
    }

    /// An operator's "check now" (`cost --reconcile`): every unchecked attempt is read, and the
    /// bill as it stands is trusted if RunPod has one (an absent one still books nothing).
    pub fn now() -> Self {
        Self { first_read_after_ms: 0, reread_ms: 0, settle_ms: 0, min_age_ms: 0 }
    }
}

impl<C: Provider> Engine<C> {
    /// Reads the provider's bill for up to `limit` settled attempts due a read under `policy`,
    /// booking the ledger to the provider's figure once it is trusted.
    pub async fn reconcile_billing(
        &self,
        policy: BillingPolicy,
        limit: i64,
    ) -> Result<BillingReport, EngineError> {
        let now = self.now_ms();
        let mut report = BillingReport::default();
        let due = self
            .store()
            .attempts_unchecked(
                &self.account,
                now - policy.first_read_after_ms,
                now - policy.reread_ms,
                limit,
            )
            .await?;
        let provider = self.account.provider().title();
        for u in due {
            report.read += 1;
            if !self.provider().bills_pods() {
                // Nothing to compare with (AWS: no per-instance bill short of Cost Explorer):
                // the ledger's figure is the cost, checked at once rather than asked for again.
                self.store().billing_check(&u, u.ours, now).await?;
                report.checked += 1;
                continue;
            }
            let theirs = match self.provider().pod_billed(&u.pod_id, u.created_at, now).await {
                Ok(t) => t,
                Err(e) => {
                    // Read again next time; the other attempts' bills still get read.
                    report.errors.push(format!("pod {}: {e}", u.pod_id));
                    continue;
                }
            };
            let settled = u.ended_at <= now - policy.settle_ms;
            let Some(theirs) = theirs else {
                if settled && policy.settle_ms > 0 {
                    // Still no bill long after the pod ended: stop asking; the ledger stands.
                    self.store().billing_check(&u, u.ours, now).await?;
                    self.event(
                        u.job_id,
                        EventKind::Billing,
                        &format!(
                            "{provider} has no bill for pod {} {} h after it ended; podwarden's ledger figure ({}) stands",
                            u.pod_id,
                            policy.settle_ms / 3_600_000,
                            u.ours
                        ),
                    )
                    .await;
                    report.unbilled += 1;
                    continue;
                }
                // No bill yet: nothing is booked; the ledger's figure stands.
                self.store().billing_read(u.attempt_id, now, None).await?;
                report.awaiting += 1;
                continue;
            };
            let agreed = u.read_theirs == Some(theirs) && u.ended_at <= now - policy.min_age_ms;
            let trusted = agreed || settled;
            if !trusted {
                self.store().billing_read(u.attempt_id, now, Some(theirs)).await?;
                report.pending += 1;
                continue;
            }
            self.store().billing_check(&u, theirs, now).await?;
            report.checked += 1;
            if theirs != u.ours {
                let m =
                    Mismatch { job_id: u.job_id, pod_id: u.pod_id.clone(), ours: u.ours, theirs };
                self.event(
                    u.job_id,
                    EventKind::Billing,
                    &format!(
                        "{provider} billed {} for pod {}, podwarden's ledger said {} (off by {}); the ledger now says {}",
                        m.theirs,
                        m.pod_id,
                        m.ours,
                        theirs - u.ours,
                        m.theirs
                    ),
                )
                .await;
                tracing::warn!(job = %m.job_id, pod = %m.pod_id, ours = %m.ours, theirs = %m.theirs, "ledger corrected to the provider's bill");
                report.mismatches.push(m);
            }
        }
        Ok(report)
    }
}

/// How often a running pod's cost is written to the ledger (spend between writes is projected).
pub const ACCRUE_EVERY_MS: i64 = 60_000;

impl<C: Provider> Engine<C> {
    /// The bill of a pod-holding attempt up to `now`, if anything is unbilled. A pod stops
    /// billing when its terminate is accepted (`ended_at`), not when a later pass sees it gone,
    /// and one that ended is billed at least the provider's minimum (EC2: a minute from its
    /// start), owed as soon as it ended.
    pub(crate) fn bill_of(&self, a: &AttemptRow, now: i64) -> Option<Bill> {
        let from = a.billed_until.unwrap_or(a.created_at);
        let to = match a.ended_at {
            Some(e) => e.min(now).max(a.created_at + self.cloud.min_billed_ms()),
            None => now,
        };
        (a.state.holds_pod() && to > from).then(|| Bill {
            attempt: a.clone(),
            to_ms: to,
            amount: podwarden_core::money::unbilled(a.price_per_hour, from, Some(to), to),
        })
    }

    /// Bills, in one transaction, the pod-holding attempts last billed `ACCRUE_EVERY_MS` ago
    /// (budgets are enforced on projected spend, so batching the writes cannot overshoot them).
    pub(crate) async fn accrue_due(&self, now: i64) -> Result<(), EngineError> {
        let bills: Vec<Bill> = {
            let live = self.store.live();
            live.attempts_of(&self.account)
                .into_iter()
                .filter(|a| now - a.billed_until.unwrap_or(a.created_at) >= ACCRUE_EVERY_MS)
                .filter_map(|a| self.bill_of(a, now))
                .collect()
        };
        self.store.bill(&bills, now).await?;
        Ok(())
    }

    /// Bills every pod-holding attempt of `job` up to now (before the job ends).
    pub(crate) async fn accrue_job(&self, job: JobId, now: i64) -> Result<(), EngineError> {
        let bills: Vec<Bill> = self
            .store
            .live()
            .attempts()
            .filter(|a| a.job_id == job)
            .filter_map(|a| self.bill_of(a, now))
            .collect();
        self.store.bill(&bills, now).await?;
        Ok(())
    }

    /// Bills one attempt to its end, its pod being gone: up to when its terminate was
    /// accepted, else now, and at least the provider's minimum.
    pub(crate) async fn accrue_attempt(
        &self,
        attempt: AttemptId,
        now: i64,
    ) -> Result<(), EngineError> {
        let ended = self
            .store
            .live()
            .attempt(attempt)
            .map(|a| AttemptRow { ended_at: Some(a.ended_at.unwrap_or(now)), ..a.clone() });
        let bill = ended.and_then(|a| self.bill_of(&a, now));
        self.store.bill(bill.as_slice(), now).await?;
        Ok(())
    }
}

/// An owner's spend from the ledger, by job (with its name), by GPU and by UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSummary {
    pub total: Money,
    /// (job, serverless job or endpoint id, its name, spend), by id. An endpoint's line is what
    /// RunPod billed for its workers beyond its jobs (`serverless_billing`).
    pub by_job: Vec<(String, String, Money)>,
    pub by_gpu: Vec<(String, Money)>,
    /// (`runpod`/`aws`, spend).
    pub by_provider: Vec<(String, Money)>,
    /// (`YYYY-MM-DD`, spend), oldest first; a span is counted on the day it started.
    pub by_day: Vec<(String, Money)>,
    /// Ended pods whose cost is not yet checked against the provider's bill: their figures
    /// are podwarden's and may still change.
    pub awaiting_bills: i64,
}

impl<C: Provider> Engine<C> {
    /// What `owner` has spent, from the ledger (billing adjustments included).
    pub async fn cost_summary(&self, owner: &str) -> Result<CostSummary, EngineError> {
        use std::collections::BTreeMap;
        let rows = self.store().cost_rows_of(owner).await?;
        let (mut by_job, mut by_gpu, mut by_provider, mut by_day) = (
            BTreeMap::<String, Money>::new(),
            BTreeMap::<String, Money>::new(),
            BTreeMap::<String, Money>::new(),
            BTreeMap::<String, Money>::new(),
        );
        for r in &rows {
            *by_job.entry(r.job_id.clone()).or_default() += r.amount;
            *by_gpu.entry(r.gpu_type.clone()).or_default() += r.amount;
            *by_provider.entry(r.provider.clone()).or_default() += r.amount;
            *by_day.entry(utc_day(r.from_ms)).or_default() += r.amount;
        }
        let mut jobs = Vec::with_capacity(by_job.len());
        for (id, m) in by_job {
            // The ledger's `job_id` is a job's, a serverless job's, or an endpoint's (its
            // overhead): ids carry their kind in their prefix.
            let name = match (id.parse::<EndpointRecordId>(), id.parse::<WorkId>()) {
                (Ok(e), _) => self
                    .store()
                    .endpoint_get(e)
                    .await?
                    .map(|e| format!("{} (endpoint: workers' boots and idle time)", e.name)),
                (_, Ok(WorkId::ServerlessJob(r))) => self
                    .store()
                    .serverless_job_get(r)
                    .await?
                    .map(|r| format!("{} (serverless)", r.name)),
                (_, Ok(WorkId::Job(j))) => self.store().job_get(j).await?.map(|j| j.name),
                _ => None,
            };
            jobs.push((id, name.unwrap_or_default(), m));
        }
        Ok(CostSummary {
            total: rows.iter().map(|r| r.amount).sum(),
            by_job: jobs,
            by_gpu: by_gpu.into_iter().collect(),
            by_provider: by_provider.into_iter().collect(),
            by_day: by_day.into_iter().collect(),
            awaiting_bills: self.store().bills_awaited(owner).await?,
        })
    }
}

/// `YYYY-MM-DD` (UTC) of a time in ms since the epoch.
pub fn utc_day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| "invalid date".to_owned(), |t| t.date_naive().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_days_are_calendar_days() {
        assert_eq!(super::utc_day(0), "1970-01-01");
        assert_eq!(super::utc_day(951_782_400_000), "2000-02-29");
        assert_eq!(super::utc_day(1_767_225_599_999), "2025-12-31");
        assert_eq!(super::utc_day(-1), "1969-12-31");
    }
}
