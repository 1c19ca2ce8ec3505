//! `cost_ledger`: billed intervals per attempt, the source of `podwarden cost`.

use crate::{Result, Store};

/// A billed interval.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CostRow {
    pub job_id: String,
    pub attempt_id: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub amount_micros: i64,
    pub gpu_type: String,
}

impl Store {
    /// Records a billed interval.
    pub async fn cost_append(&self, c: &CostRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO cost_ledger (job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.job_id)
        .bind(&c.attempt_id)
        .bind(c.from_ms)
        .bind(c.to_ms)
        .bind(c.amount_micros)
        .bind(&c.gpu_type)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every billed interval, oldest first.
    pub async fn cost_rows(&self) -> Result<Vec<CostRow>> {
        Ok(sqlx::query_as("SELECT job_id, attempt_id, from_ms, to_ms, amount_micros, gpu_type FROM cost_ledger ORDER BY id")
            .fetch_all(self.pool())
            .await?)
    }
}
