//! Hosted spend caps, checked and reserved in one transaction.
//!
//! Owns: the admission of hosted work against its owner's cap (`users.spend_cap_micros`).
//!
//! Invariant: what a user has committed on hosted compute (settled spend, live jobs' budgets,
//! serverless jobs' estimates, their endpoints' booked overhead) never exceeds their cap because of concurrent submits. The
//! transaction first writes the user's row (`UPDATE users … WHERE id`), which takes SQLite's
//! single write lock (and on Postgres the row's lock), then reads the cap and sums what is
//! committed, then inserts the work with its reservation. A second submit of the same user
//! waits for the first to commit and then sees its reservation.

use crate::{JobRow, Result, ServerlessJobRow, Store};
use podwarden_core::Money;
use sqlx::AnyConnection;

/// Live jobs reserve their budget (or what they spent, when more); ended ones what they spent.
const JOBS_COMMITTED: &str = concat!(
    "SELECT CAST(SUM(CASE WHEN state IN ",
    final_job_states!(),
    " THEN spent_micros WHEN budget_micros IS NULL OR budget_micros < spent_micros THEN spent_micros ELSE budget_micros END) AS BIGINT) ",
    "FROM jobs WHERE owner = $1 AND account = 'hosted'"
);

/// Live serverless jobs reserve their estimate (or their cost, when more); ended ones their cost.
const REQUESTS_COMMITTED: &str = "SELECT CAST(SUM(CASE WHEN ended_at IS NULL AND estimate_micros > cost_micros THEN estimate_micros ELSE cost_micros END) AS BIGINT) \
     FROM requests WHERE owner = $1 AND account = 'hosted'";

/// Endpoints' overhead beyond their jobs (cold starts, idle and active workers), as booked
/// from RunPod's bill.
const ENDPOINTS_SPENT: &str = "SELECT CAST(SUM(c.amount_micros) AS BIGINT) FROM cost_ledger c JOIN endpoints e ON e.id = c.job_id \
     WHERE e.owner = $1 AND e.account = 'hosted'";

/// What a user has committed on hosted compute.
pub(crate) async fn committed(conn: &mut AnyConnection, owner: &str) -> Result<Money> {
    let mut sum = Money::ZERO;
    for q in [JOBS_COMMITTED, REQUESTS_COMMITTED, ENDPOINTS_SPENT] {
        let (part,): (Option<Money>,) = sqlx::query_as(q).bind(owner).fetch_one(&mut *conn).await?;
        sum = sum.saturating_add(part.unwrap_or(Money::ZERO));
    }
    Ok(sum)
}

/// The outcome of admitting work against a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Inserted. `capped_to`: the job's budget was lowered to what was left of the cap.
    Admitted { capped_to: Option<Money> },
    /// Not inserted: the cap has `left` (≤ 0 when used up) and the work needs more.
    CapReached { cap: Money, left: Money },
}

impl Store {
    /// Inserts a job, first holding its owner's hosted cap (if any): a job without a budget, or
    /// with more than is left, gets what is left as its budget; nothing left refuses it.
    pub async fn job_insert_within_cap(&self, j: &mut JobRow) -> Result<Admission> {
        if !j.account.is_hosted() {
            self.job_insert(j).await?;
            return Ok(Admission::Admitted { capped_to: None });
        }
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        let Some(cap) = lock_cap(&mut tx, &j.owner).await? else {
            crate::jobs::insert_job(j).execute(&mut *tx).await?;
            tx.commit().await?;
            self.live().put_job(j);
            return Ok(Admission::Admitted { capped_to: None });
        };
        let left = cap.saturating_sub(committed(&mut tx, &j.owner).await?);
        if left <= Money::ZERO {
            return Ok(Admission::CapReached { cap, left });
        }
        let capped_to = j.budget.is_none_or(|b| b > left).then_some(left);
        if capped_to.is_some() {
            j.budget = Some(left);
        }
        crate::jobs::insert_job(j).execute(&mut *tx).await?;
        tx.commit().await?;
        self.live().put_job(j);
        Ok(Admission::Admitted { capped_to })
    }

    /// Inserts a serverless job if its estimate fits in what is left of its owner's hosted cap.
    pub async fn serverless_job_insert_within_cap(
        &self,
        r: &ServerlessJobRow,
    ) -> Result<Admission> {
        if !r.account.is_hosted() {
            self.serverless_job_insert(r).await?;
            return Ok(Admission::Admitted { capped_to: None });
        }
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        if let Some(cap) = lock_cap(&mut tx, &r.owner).await? {
            let left = cap.saturating_sub(committed(&mut tx, &r.owner).await?);
            if left < r.estimate.max(Money(1)) {
                return Ok(Admission::CapReached { cap, left });
            }
        }
        crate::serverless_jobs::insert_serverless_job(r).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Admission::Admitted { capped_to: None })
    }
}

/// Takes the write lock on the user's row and reads their cap.
async fn lock_cap(conn: &mut AnyConnection, user: &str) -> Result<Option<Money>> {
    sqlx::query("UPDATE users SET spend_cap_micros = spend_cap_micros WHERE id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    let cap: Option<(Option<Money>,)> =
        sqlx::query_as("SELECT spend_cap_micros FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(cap.and_then(|c| c.0))
}
