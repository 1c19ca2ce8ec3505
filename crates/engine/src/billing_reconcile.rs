//! Billing reconciliation: podwarden's ledger compared with the provider's bill, pod by pod.
//!
//! Owns: the check of each settled attempt of this engine's account (`store::billing`).
//! Invariant: once an attempt is checked, its ledger rows sum to what the provider billed for
//! its pod, and the difference (a crash that double-billed a span, a price that changed under a
//! running pod, a rounding) is recorded with its size and shown as an event on the job. A check
//! waits `settle_ms` after the attempt ended, for the provider's bill to be complete.

use crate::cloud::Cloud;
use crate::engine::{Engine, EngineError};
use core_domain::Money;

/// One check that found a difference.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub job_id: String,
    pub pod_id: String,
    pub ours: Money,
    pub theirs: Money,
}

/// What a reconciliation pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BillingReport {
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
}

impl<C: Cloud> Engine<C> {
    /// Checks up to `limit` settled attempts that ended at least `settle_ms` ago against the
    /// provider's billing API, correcting the ledger to the provider's figure.
    pub async fn reconcile_billing(
        &self,
        settle_ms: i64,
        limit: i64,
    ) -> Result<BillingReport, EngineError> {
        let now = self.now_ms();
        let mut report = BillingReport::default();
        for u in self.store().attempts_unchecked(&self.account, now - settle_ms, limit).await? {
            let Some(theirs) = self.cloud().pod_billed(&u.pod_id, u.created_at, now).await? else {
                break;
            };
            self.store().billing_check(&u, theirs.0, now).await?;
            report.checked += 1;
            if theirs.0 != u.ours_micros {
                let m = Mismatch {
                    job_id: u.job_id.clone(),
                    pod_id: u.pod_id.clone(),
                    ours: Money(u.ours_micros),
                    theirs,
                };
                self.event(
                    &u.job_id,
                    "billing",
                    &format!(
                        "RunPod billed {} for pod {}, podwarden's ledger said {} (off by {}); the ledger now says {}",
                        m.theirs,
                        m.pod_id,
                        m.ours,
                        Money(theirs.0 - u.ours_micros),
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
