//! `job_events`: append-only; the source of the event stream clients follow.

use crate::{Result, Store};
use podwarden_core::WorkId;
use podwarden_core::events::EventKind;

/// One event.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub job_id: WorkId,
    pub at: i64,
    #[sqlx(try_from = "String")]
    pub kind: EventKind,
    pub message: String,
    pub data: Option<String>,
}

impl Store {
    /// Appends an event; returns its id (increasing).
    pub async fn event_append(
        &self,
        job_id: impl Into<WorkId>,
        at: i64,
        kind: EventKind,
        message: &str,
        data: Option<&serde_json::Value>,
    ) -> Result<i64> {
        let job_id = job_id.into();
        let _w = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        self.order_events(&mut tx, job_id).await?;
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO job_events (job_id, at, kind, message, data) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(job_id)
                .bind(at)
                .bind(kind.as_str())
                .bind(message)
                .bind(data.map(|d| d.to_string()))
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A job's events after `after_id`, oldest first.
    pub async fn events_since(
        &self,
        job_id: impl Into<WorkId>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        Ok(sqlx::query_as("SELECT id, job_id, at, kind, message, data FROM job_events WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(job_id.into())
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }
}
