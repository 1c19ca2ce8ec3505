//! Hosted spend caps, checked and reserved in one transaction.
//!
//! Owns: the admission of hosted work against its owner's cap (`users.spend_cap_micros`), a
//! queued job's return to holding its whole budget before it launches, and a queued job's
//! move to another of its owner's accounts (admitted like a submit when that one is hosted).
//!
//! Invariant: what a user has committed on hosted compute (settled spend, live jobs' budgets,
//! queued jobs' estimates, serverless jobs' estimates, their endpoints' booked overhead) never
//! exceeds their cap because of concurrent submits or launches. The transaction first writes
//! the user's row (`UPDATE users … WHERE id`), which takes SQLite's single write lock (and on
//! Postgres the row's lock), then reads the cap and sums what is committed, then inserts the
//! work with its reservation (or, for a queued job about to launch, raises its hold back to
//! its budget). A second submit of the same user waits for the first to commit and then sees
//! its reservation.
//!
//! A queued job holds only its estimate (`jobs.queued_hold_micros`, written by the engine when
//! it queues the job): nothing of it runs, so its budget need not keep others out. The hold
//! stays through a recheck's launch until the engine takes the budget back
//! ([`Store::job_reclaim_budget`]), which it does before anything of the job is made: a row
//! with a hold has nothing being created.

use crate::{JobRow, Result, ServerlessJobRow, Store};
use podwarden_core::{Account, JobId, Money};
use sqlx::AnyConnection;

/// What one job holds of its owner's cap: an ended one what it spent; a live one with a hold
/// (it waits, or is between a wait and its next create) what it spent plus its hold, at most
/// its budget; any other live one its budget (or what it spent, when more).
macro_rules! job_holds {
    () => {
        concat!(
            "CASE WHEN state IN ",
            final_job_states!(),
            " THEN spent_micros \
             WHEN queued_hold_micros IS NOT NULL THEN \
               (CASE WHEN budget_micros IS NULL OR spent_micros + queued_hold_micros <= budget_micros THEN spent_micros + queued_hold_micros \
                     WHEN budget_micros < spent_micros THEN spent_micros ELSE budget_micros END) \
             WHEN budget_micros IS NULL OR budget_micros < spent_micros THEN spent_micros ELSE budget_micros END"
        )
    };
}

/// What a user's jobs on the operator's accounts (RunPod's and AWS's) hold.
const JOBS_COMMITTED: &str = concat!(
    "SELECT CAST(SUM(",
    job_holds!(),
    ") AS BIGINT) FROM jobs WHERE owner = $1 AND account IN ",
    hosted_accounts!()
);

/// What a user's other jobs hold (`$2`: the one left out).
const OTHER_JOBS_COMMITTED: &str = concat!(
    "SELECT CAST(SUM(",
    job_holds!(),
    ") AS BIGINT) FROM jobs WHERE owner = $1 AND id <> $2 AND account IN ",
    hosted_accounts!()
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
    let (jobs,): (Option<Money>,) =
        sqlx::query_as(JOBS_COMMITTED).bind(owner).fetch_one(&mut *conn).await?;
    Ok(jobs.unwrap_or(Money::ZERO).saturating_add(committed_beyond_jobs(conn, owner).await?))
}

/// What a user has committed on hosted compute apart from `job`.
async fn committed_by_others(conn: &mut AnyConnection, owner: &str, job: JobId) -> Result<Money> {
    let (jobs,): (Option<Money>,) =
        sqlx::query_as(OTHER_JOBS_COMMITTED).bind(owner).bind(job).fetch_one(&mut *conn).await?;
    Ok(jobs.unwrap_or(Money::ZERO).saturating_add(committed_beyond_jobs(conn, owner).await?))
}

/// Serverless jobs and endpoints' overhead.
async fn committed_beyond_jobs(conn: &mut AnyConnection, owner: &str) -> Result<Money> {
    let mut sum = Money::ZERO;
    for q in [REQUESTS_COMMITTED, ENDPOINTS_SPENT] {
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

/// The outcome of a queued job taking its budget back before it launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaim {
    /// It holds its budget again. `capped_to`: lowered to what was left of the cap.
    Held { capped_to: Option<Money> },
    /// Less than it needs (its hold, at most the rest of its budget) is left of the cap for it
    /// (`left`: beyond what others hold and it spent): nothing written; it stays queued,
    /// holding its estimate.
    CapShort { cap: Money, left: Money, needs: Money },
    /// Someone else wrote the job first (re-read and decide again).
    Raced,
}

/// The outcome of moving a queued job to another of its owner's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rehome {
    /// Moved. `capped_to`: its budget was lowered to what was left of the cap.
    Moved { capped_to: Option<Money> },
    /// Onto the operator's account, and less than it needs is left of the cap: not moved.
    CapShort { cap: Money, left: Money },
    /// It is no longer queued, or someone else wrote it first: not moved.
    Raced,
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
        let capped_to;
        (j.budget, capped_to) = within(j.budget, left);
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

impl Store {
    /// A queued job about to launch takes back its whole budget (or, when less is left of its
    /// owner's cap, what is left, if that covers its hold): its hold is cleared and its
    /// budget possibly lowered, in one transaction with the cap's check. On `Held`, `j` is
    /// the row as stored.
    pub async fn job_reclaim_budget(&self, j: &mut JobRow, now_ms: i64) -> Result<Reclaim> {
        let Some(hold) = j.queued_hold else { return Ok(Reclaim::Held { capped_to: None }) };
        // It needs no more than the rest of its own budget.
        let needs = j.budget.map_or(hold, |b| hold.min(b.saturating_sub(j.spent))).max(Money(1));
        let _w = self.writes.lock().await;
        // Fenced: a replica that lost the account's lease writes nothing.
        let mut tx = self.begin_write().await?;
        let mut budget = j.budget;
        let mut capped_to = None;
        let cap = if j.account.is_hosted() { lock_cap(&mut tx, &j.owner).await? } else { None };
        if let Some(cap) = cap {
            let left = cap.saturating_sub(committed_by_others(&mut tx, &j.owner, j.id).await?);
            if left.saturating_sub(j.spent) < needs {
                let left = left.saturating_sub(j.spent);
                return Ok(Reclaim::CapShort { cap, left, needs });
            }
            (budget, capped_to) = within(budget, left);
        }
        let stored: Option<JobRow> = sqlx::query_as(concat!(
            "UPDATE jobs SET queued_hold_micros = NULL, budget_micros = $1, updated_at = $2, generation = generation + 1 \
             WHERE id = $3 AND generation = $4 RETURNING ",
            crate::jobs::job_columns!()
        ))
        .bind(budget)
        .bind(now_ms)
        .bind(j.id)
        .bind(j.generation)
        .fetch_optional(&mut *tx)
        .await?;
        if !commit_row(self, tx, stored, j).await? {
            return Ok(Reclaim::Raced);
        }
        Ok(Reclaim::Held { capped_to })
    }
}

impl Store {
    /// Moves a queued job to another of its owner's accounts (`account`; `spec` is its spec
    /// naming that account's provider), compare-and-swap on its generation and only while it
    /// is `queued`: the caller has checked that nothing of it is left on the old one (every
    /// attempt ended) and, if it spent, that both accounts count against the cap alike.
    /// Onto the operator's accounts it is admitted against its owner's cap as a submit is,
    /// needing `hold` (its estimate there; without one, its budget): a job without a budget, or
    /// with more than is left, gets what is left. Its next launch is due at once.
    pub async fn job_rehome(
        &self,
        j: &mut JobRow,
        account: &Account,
        spec: &str,
        hold: Option<Money>,
        now_ms: i64,
    ) -> Result<Rehome> {
        // A hold is at most the rest of the job's own budget.
        let rest = j.budget.map(|b| b.saturating_sub(j.spent));
        let hold = hold.map(|h| rest.map_or(h, |r| h.min(r)));
        let _w = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        let mut budget = j.budget;
        let mut capped_to = None;
        let cap = if account.is_hosted() { lock_cap(&mut tx, &j.owner).await? } else { None };
        if let Some(cap) = cap {
            let left = cap.saturating_sub(committed_by_others(&mut tx, &j.owner, j.id).await?);
            // Its hold (its whole budget without one).
            let needs = hold.or(rest).unwrap_or(Money(1)).max(Money(1));
            if left.saturating_sub(j.spent) < needs {
                return Ok(Rehome::CapShort { cap, left });
            }
            (budget, capped_to) = within(budget, left);
        }
        let stored: Option<JobRow> = sqlx::query_as(concat!(
            "UPDATE jobs SET account = $1, spec = $2, queued_hold_micros = $3, budget_micros = $4, next_attempt_at = $5, \
             updated_at = $5, generation = generation + 1 WHERE id = $6 AND generation = $7 AND state = 'queued' RETURNING ",
            crate::jobs::job_columns!()
        ))
        .bind(account.to_string())
        .bind(spec)
        .bind(hold)
        .bind(budget)
        .bind(now_ms)
        .bind(j.id)
        .bind(j.generation)
        .fetch_optional(&mut *tx)
        .await?;
        if !commit_row(self, tx, stored, j).await? {
            return Ok(Rehome::Raced);
        }
        Ok(Rehome::Moved { capped_to })
    }
}

/// `budget` within what is `left` of a cap: lowered to it when it has none or more, and then
/// also returned as what it was capped to.
fn within(budget: Option<Money>, left: Money) -> (Option<Money>, Option<Money>) {
    match budget {
        Some(b) if b <= left => (Some(b), None),
        _ => (Some(left), Some(left)),
    }
}

/// Commits `tx` when its compare-and-swap returned the row (`stored`), which `j` and the live
/// set then become; false (nothing committed) when it lost.
async fn commit_row(
    store: &Store,
    tx: sqlx::Transaction<'static, sqlx::Any>,
    stored: Option<JobRow>,
    j: &mut JobRow,
) -> Result<bool> {
    let Some(stored) = stored else { return Ok(false) };
    tx.commit().await?;
    store.live().put_job(&stored);
    *j = stored;
    Ok(true)
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
