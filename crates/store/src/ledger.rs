//! `cost_ledger`: billed intervals per attempt, the source of `podwarden cost`.

use crate::{AttemptRow, JobRow, Result, Store};
use podwarden_core::Money;

/// A billed interval.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CostRow {
    /// The job's id, or for an endpoint's overhead the endpoint's (`ep_…`).
    pub job_id: String,
    pub attempt_id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    #[sqlx(rename = "amount_micros")]
    pub amount: Money,
    pub gpu_type: String,
    /// Whose bill it is: `aws` for an EC2 instance's, else `runpod` (from the attempt's cloud).
    pub provider: String,
}

/// A cost row's columns, the ledger `l` with its attempt's cloud (`aws` or RunPod's tier).
macro_rules! cost_row_columns {
    () => {
        "SELECT l.job_id, l.attempt_id, l.from_ms, l.to_ms, l.amount_micros, l.gpu_type, \
         CASE WHEN a.cloud = 'aws' THEN 'aws' ELSE 'runpod' END AS provider \
         FROM cost_ledger l LEFT JOIN attempts a ON a.id = l.attempt_id"
    };
}

/// Billing one pod-holding attempt up to `to_ms`, written by [`Store::bill`].
#[derive(Debug, Clone)]
pub struct Bill {
    /// The attempt as last read; the write is a compare-and-swap on its generation.
    pub attempt: AttemptRow,
    pub to_ms: i64,
    /// Cost of `[billed_until (or created_at), to_ms)` at the attempt's pinned price.
    pub amount: Money,
}

impl Store {
    /// Writes many billing intervals in one transaction: per bill, the attempt's
    /// `billed_until`/`cost_micros` (compare-and-swap: a bill whose attempt changed meanwhile is
    /// skipped and the next tick bills from the new row), a ledger row, and the job's spend.
    /// Returns how many bills landed.
    pub async fn bill(&self, bills: &[Bill], now_ms: i64) -> Result<usize> {
        if bills.is_empty() {
            return Ok(0);
        }
        let _w = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        let (mut attempts, mut jobs) =
            (Vec::with_capacity(bills.len()), Vec::with_capacity(bills.len()));
        for b in bills {
            let a = &b.attempt;
            let stored: Option<AttemptRow> = sqlx::query_as(concat!(
                "UPDATE attempts SET billed_until = $1, cost_micros = cost_micros + $2, generation = generation + 1 \
                 WHERE id = $3 AND generation = $4 RETURNING ",
                crate::attempts::attempt_columns!()
            ))
            .bind(b.to_ms)
            .bind(b.amount)
            .bind(a.id)
            .bind(a.generation)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(stored) = stored else { continue };
            sqlx::query(
                "INSERT INTO cost_ledger (job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(a.job_id)
            .bind(a.id)
            .bind(a.billed_until.unwrap_or(a.created_at))
            .bind(b.to_ms)
            .bind(b.amount)
            .bind(&a.gpu_type)
            .execute(&mut *tx)
            .await?;
            let job: Option<JobRow> = sqlx::query_as(concat!(
                "UPDATE jobs SET spent_micros = spent_micros + $1, updated_at = $2, generation = generation + 1 WHERE id = $3 RETURNING ",
                crate::jobs::job_columns!()
            ))
            .bind(b.amount)
            .bind(now_ms)
            .bind(a.job_id)
            .fetch_optional(&mut *tx)
            .await?;
            attempts.push(stored);
            jobs.extend(job);
        }
        tx.commit().await?;
        let mut live = self.live();
        for a in &attempts {
            live.put_attempt(a);
        }
        for j in &jobs {
            live.put_job(j);
        }
        Ok(attempts.len())
    }

    /// Records a billed interval.
    pub async fn cost_append(&self, c: &CostRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO cost_ledger (job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.job_id)
        .bind(&c.attempt_id)
        .bind(c.from_ms)
        .bind(c.to_ms)
        .bind(c.amount)
        .bind(&c.gpu_type)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The billed intervals of the owner's jobs, serverless jobs and endpoints (their hours'
    /// overhead beyond their jobs), oldest first.
    pub async fn cost_rows_of(&self, owner: &str) -> Result<Vec<CostRow>> {
        Ok(sqlx::query_as(concat!(
            cost_row_columns!(),
            " WHERE l.job_id IN \
             (SELECT id FROM jobs WHERE owner = $1 UNION SELECT id FROM requests WHERE owner = $1 \
             UNION SELECT id FROM endpoints WHERE owner = $1) ORDER BY l.id"
        ))
        .bind(owner)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every billed interval, oldest first.
    pub async fn cost_rows(&self) -> Result<Vec<CostRow>> {
        Ok(sqlx::query_as(concat!(cost_row_columns!(), " ORDER BY l.id"))
            .fetch_all(self.pool())
            .await?)
    }
}
