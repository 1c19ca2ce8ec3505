//! `billing_checks`: podwarden's ledger compared with the provider's bill, pod by pod.
//!
//! Owns: the reads of each settled attempt's bill until it is trusted (`billing_reads`), the
//! check of each settled attempt (once) and the adjustment that makes the ledger agree with the
//! bill. Invariant: after a check, the attempt's ledger rows sum to what the
//! provider billed for its pod; the job's `spent_micros` and the attempt's `cost_micros` move by
//! the same difference in the same transaction. Only attempts of settled jobs are checked, so
//! no live job's cached row can overwrite the correction.

use crate::{Result, Store, StoreError};
use podwarden_core::{Account, AttemptId, JobId, Money};

/// An attempt due for a check.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Unchecked {
    pub attempt_id: AttemptId,
    pub job_id: JobId,
    pub pod_id: String,
    pub created_at: i64,
    pub ended_at: i64,
    #[sqlx(rename = "ours_micros")]
    pub ours: Money,
    /// The provider's figure at the last read (`None`: no read yet, or no bill then).
    #[sqlx(rename = "read_theirs_micros")]
    pub read_theirs: Option<Money>,
    /// When the bill was last read.
    pub read_at: Option<i64>,
}

/// A check done (`GET /api/v1/cost/reconciliation`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BillingCheck {
    pub attempt_id: AttemptId,
    pub job_id: JobId,
    pub pod_id: String,
    pub at: i64,
    #[sqlx(rename = "ours_micros")]
    pub ours: Money,
    #[sqlx(rename = "theirs_micros")]
    pub theirs: Money,
}

impl Store {
    /// Attempts of settled jobs whose pod was made on `account`, ended before `ended_before`, were
    /// not checked yet, and whose bill was not read since `read_before`; oldest first.
    pub async fn attempts_unchecked(
        &self,
        account: &Account,
        ended_before: i64,
        read_before: i64,
        limit: i64,
    ) -> Result<Vec<Unchecked>> {
        const Q: &str = concat!(
            "SELECT a.id AS attempt_id, a.job_id, a.pod_id, a.created_at, a.ended_at, ",
            "CAST(COALESCE((SELECT SUM(c.amount_micros) FROM cost_ledger c WHERE c.attempt_id = a.id), 0) AS BIGINT) AS ours_micros, ",
            "r.theirs_micros AS read_theirs_micros, r.read_at ",
            "FROM attempts a JOIN jobs j ON j.id = a.job_id LEFT JOIN billing_checks b ON b.attempt_id = a.id ",
            "LEFT JOIN billing_reads r ON r.attempt_id = a.id ",
            // Parameters appear in their numeric order: SQLite numbers `$N` by appearance.
            "WHERE b.attempt_id IS NULL AND a.pod_id IS NOT NULL AND a.ended_at IS NOT NULL AND a.ended_at <= $1 ",
            "AND (r.read_at IS NULL OR r.read_at <= $2) ",
            "AND a.account = $3 AND j.state IN ",
            final_job_states!(),
            " ",
            "ORDER BY a.ended_at LIMIT $4"
        );
        Ok(sqlx::query_as(Q)
            .bind(ended_before)
            .bind(read_before)
            .bind(account.to_string())
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Accounts with settled pod attempts that ended before `ended_before`, were not checked,
    /// and whose bill was not read since `read_before`.
    pub async fn accounts_unchecked(
        &self,
        ended_before: i64,
        read_before: i64,
    ) -> Result<Vec<Account>> {
        let rows: Vec<(String,)> = sqlx::query_as(concat!(
            "SELECT DISTINCT a.account FROM attempts a JOIN jobs j ON j.id = a.job_id LEFT JOIN billing_checks b ON b.attempt_id = a.id ",
            "LEFT JOIN billing_reads r ON r.attempt_id = a.id ",
            "WHERE b.attempt_id IS NULL AND a.pod_id IS NOT NULL AND a.ended_at IS NOT NULL AND a.ended_at <= $1 ",
            "AND (r.read_at IS NULL OR r.read_at <= $2) ",
            "AND j.state IN ",
            final_job_states!()
        ))
        .bind(ended_before)
        .bind(read_before)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| r.0.parse().map_err(|e| StoreError::Corrupt(format!("attempt account: {e}"))))
            .collect()
    }

    /// Remembers what the provider's bill said for an attempt at `at` (`None`: no bill yet).
    pub async fn billing_read(
        &self,
        attempt_id: AttemptId,
        at: i64,
        theirs: Option<Money>,
    ) -> Result<()> {
        let _w = self.writes.lock().await;
        sqlx::query(concat!(
            "INSERT INTO billing_reads (attempt_id, read_at, theirs_micros) VALUES ($1, $2, $3) ",
            "ON CONFLICT (attempt_id) DO UPDATE SET read_at = excluded.read_at, theirs_micros = excluded.theirs_micros"
        ))
        .bind(attempt_id)
        .bind(at)
        .bind(theirs)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Settled pod attempts of `owner`'s jobs whose bill is not checked yet ("awaiting bill").
    pub async fn bills_awaited(&self, owner: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(concat!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM attempts a JOIN jobs j ON j.id = a.job_id ",
            "LEFT JOIN billing_checks b ON b.attempt_id = a.id ",
            "WHERE b.attempt_id IS NULL AND a.pod_id IS NOT NULL AND a.ended_at IS NOT NULL AND j.owner = $1 ",
            "AND j.state IN ",
            final_job_states!()
        ))
        .bind(owner)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Records a check and books the difference (provider minus ours) to the ledger, the
    /// attempt and the job, in one transaction.
    pub async fn billing_check(&self, u: &Unchecked, theirs: Money, at: i64) -> Result<()> {
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        let diff = theirs - u.ours;
        sqlx::query(
            "INSERT INTO billing_checks (attempt_id, job_id, pod_id, at, ours_micros, theirs_micros) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(u.attempt_id)
        .bind(u.job_id)
        .bind(&u.pod_id)
        .bind(at)
        .bind(u.ours)
        .bind(theirs)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM billing_reads WHERE attempt_id = $1")
            .bind(u.attempt_id)
            .execute(&mut *tx)
            .await?;
        if diff != Money::ZERO {
            sqlx::query(
                "INSERT INTO cost_ledger (job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type) VALUES ($1, $2, $3, $3, $4, 'billing adjustment')",
            )
            .bind(u.job_id)
            .bind(u.attempt_id)
            .bind(at)
            .bind(diff)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE attempts SET cost_micros = cost_micros + $1 WHERE id = $2")
                .bind(diff)
                .bind(u.attempt_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE jobs SET spent_micros = spent_micros + $1 WHERE id = $2")
                .bind(diff)
                .bind(u.job_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks, newest first.
    pub async fn billing_checks(&self, limit: i64) -> Result<Vec<BillingCheck>> {
        Ok(sqlx::query_as(
            "SELECT attempt_id, job_id, pod_id, at, ours_micros, theirs_micros FROM billing_checks ORDER BY at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
