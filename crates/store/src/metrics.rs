//! `metrics`: points a job's code reports (training progress, loss, score), append-only, each
//! a JSON object; a batch is written in one transaction.

use crate::{Result, Store};

/// One stored point.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MetricRow {
    pub id: i64,
    pub job_id: String,
    pub at: i64,
    pub data: String,
}

impl Store {
    /// Appends points (JSON objects) for a job in one transaction.
    pub async fn metrics_append(&self, job_id: &str, at: i64, points: &[serde_json::Value]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        for p in points {
            sqlx::query("INSERT INTO metrics (job_id, at, data) VALUES ($1, $2, $3)")
                .bind(job_id)
                .bind(at)
                .bind(p.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A job's points after `after_id`, oldest first.
    pub async fn metrics_since(&self, job_id: &str, after_id: i64, limit: i64) -> Result<Vec<MetricRow>> {
        Ok(sqlx::query_as("SELECT id, job_id, at, data FROM metrics WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(job_id)
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }
}
