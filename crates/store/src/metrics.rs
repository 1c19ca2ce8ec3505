//! `metrics`: points a job's code reports (training progress, loss, score), append-only, each
//! a JSON object; a batch is written in one transaction.

use crate::{Result, Store};
use podwarden_core::WorkId;
use podwarden_core::events::EventKind;

/// One stored point.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MetricRow {
    pub id: i64,
    pub job_id: WorkId,
    pub at: i64,
    pub data: String,
}

impl Store {
    /// Appends points and, in the same transaction, the event that announces them (one commit
    /// per batch; rows go in as multi-row INSERTs). Serialized with the other writers in this
    /// process, so concurrent batches queue here instead of in SQLite's busy-retry sleeps.
    pub async fn metrics_append_with_event(
        &self,
        job_id: impl Into<WorkId>,
        at: i64,
        points: &[serde_json::Value],
        event: Option<(EventKind, &str, &serde_json::Value)>,
    ) -> Result<()> {
        /// Rows per INSERT (3 parameters each, well under SQLite's limit).
        const ROWS: usize = 500;
        let job_id = job_id.into();
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        for chunk in points.chunks(ROWS) {
            // `$n` placeholders built here: sqlx's QueryBuilder writes the `Any` driver's `?`,
            // which Postgres does not accept. Only numbers are spliced in.
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let sql = format!("INSERT INTO metrics (job_id, at, data) VALUES {}", rows.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                q = q.bind(job_id).bind(at).bind(p.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        if let Some((kind, message, data)) = event {
            self.order_events(&mut tx, job_id).await?;
            sqlx::query("INSERT INTO job_events (job_id, at, kind, message, data) VALUES ($1, $2, $3, $4, $5)")
                .bind(job_id)
                .bind(at)
                .bind(kind.as_str())
                .bind(message)
                .bind(data.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A job's points after `after_id`, oldest first.
    pub async fn metrics_since(
        &self,
        job_id: impl Into<WorkId>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<MetricRow>> {
        Ok(sqlx::query_as("SELECT id, job_id, at, data FROM metrics WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(job_id.into())
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }
}
