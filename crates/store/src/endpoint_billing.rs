//! `endpoint_billing`: serverless endpoints' ledger checked against RunPod's bill, hour by hour.
//!
//! Owns: each endpoint's watermark (`booked_through`: every UTC hour before it is booked), the
//! last read of the hour at the watermark, and the endpoint's own ledger rows (job id = the
//! endpoint's row id, `gpu_type` = `serverless overhead`): what RunPod billed for the hour beyond
//! what podwarden charged the endpoint's jobs — cold starts, idle workers, active workers.
//!
//! Invariants: an hour is booked once: the overhead row and the watermark's move are one
//! transaction, a compare-and-swap on the watermark (a replica that booked it first wins); after
//! it, the hour's rows of the endpoint (its jobs' spans that started in it, and the overhead)
//! sum to RunPod's figure. An hour with no bill moves the watermark without a row: an absent
//! bill is never a bill of $0.

use crate::{Result, Store};
use podwarden_core::{EndpointRecordId, Money};

/// An endpoint's billing watermark and the last read of its head hour.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EndpointBilling {
    pub endpoint_id: EndpointRecordId,
    /// Every hour before this (ms, on an hour) is booked.
    pub booked_through: i64,
    pub read_at: Option<i64>,
    /// RunPod's figure for the head hour at the last read (`None`: no read, or no bill then).
    #[sqlx(rename = "theirs_micros")]
    pub theirs: Option<Money>,
}

impl Store {
    /// The endpoint's billing state, `None` before its first read.
    pub async fn endpoint_billing(
        &self,
        endpoint_id: EndpointRecordId,
    ) -> Result<Option<EndpointBilling>> {
        Ok(sqlx::query_as(
            "SELECT endpoint_id, booked_through, read_at, theirs_micros FROM endpoint_billing WHERE endpoint_id = $1",
        )
        .bind(endpoint_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a read of the hour at `booked_through` that did not book it.
    pub async fn endpoint_bill_read(
        &self,
        endpoint_id: EndpointRecordId,
        booked_through: i64,
        at: i64,
        theirs: Option<Money>,
    ) -> Result<()> {
        let _w = self.writes.lock().await;
        sqlx::query(concat!(
            "INSERT INTO endpoint_billing (endpoint_id, booked_through, read_at, theirs_micros) VALUES ($1, $2, $3, $4) ",
            "ON CONFLICT (endpoint_id) DO UPDATE SET read_at = excluded.read_at, theirs_micros = excluded.theirs_micros"
        ))
        .bind(endpoint_id)
        .bind(booked_through)
        .bind(at)
        .bind(theirs)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// What the ledger holds for provider endpoint `provider_id`'s jobs in spans that started
    /// in `[from, to)`.
    pub async fn endpoint_jobs_cost(&self, provider_id: &str, from: i64, to: i64) -> Result<Money> {
        let (n,): (Option<Money>,) = sqlx::query_as(concat!(
            "SELECT CAST(SUM(c.amount_micros) AS BIGINT) FROM cost_ledger c JOIN requests r ON r.id = c.job_id ",
            "WHERE r.endpoint_id = $1 AND c.from_ms >= $2 AND c.from_ms < $3"
        ))
        .bind(provider_id)
        .bind(from)
        .bind(to)
        .fetch_one(self.pool())
        .await?;
        Ok(n.unwrap_or(Money::ZERO))
    }

    /// Whether provider endpoint `provider_id` has a serverless job submitted before `before`
    /// that has not settled: its cost is not in the ledger yet, so no hour it may have run in
    /// can be compared with the bill.
    pub async fn endpoint_has_unsettled(&self, provider_id: &str, before: i64) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as(concat!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM requests WHERE endpoint_id = $1 AND created_at < $2 ",
            "AND state IN ($3, $4, $5)"
        ))
        .bind(provider_id)
        .bind(before)
        .bind(crate::SERVERLESS_JOB_LIVE[0])
        .bind(crate::SERVERLESS_JOB_LIVE[1])
        .bind(crate::SERVERLESS_JOB_LIVE[2])
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Books the hour `[from, to)` of endpoint row `endpoint_id`: an overhead row of
    /// `overhead` (none when `None` or 0) and the watermark moved to `to`, in one
    /// transaction. False when the watermark was not at `from` (booked elsewhere): nothing is
    /// written.
    pub async fn endpoint_bill_book(
        &self,
        endpoint_id: EndpointRecordId,
        provider_id: &str,
        from: i64,
        to: i64,
        overhead: Option<Money>,
    ) -> Result<bool> {
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO endpoint_billing (endpoint_id, booked_through) VALUES ($1, $2) ON CONFLICT (endpoint_id) DO NOTHING",
        )
        .bind(endpoint_id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        let moved = sqlx::query(
            "UPDATE endpoint_billing SET booked_through = $1, read_at = NULL, theirs_micros = NULL WHERE endpoint_id = $2 AND booked_through = $3",
        )
        .bind(to)
        .bind(endpoint_id)
        .bind(from)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        if let Some(amount) = overhead.filter(|a| *a != Money::ZERO) {
            sqlx::query(
                "INSERT INTO cost_ledger (job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type) VALUES ($1, $2, $3, $4, $5, 'serverless overhead')",
            )
            .bind(endpoint_id)
            .bind(provider_id)
            .bind(from)
            .bind(to)
            .bind(amount)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
