//! `webhooks` and the notifier's cursor over `job_events`.
//!
//! Owns: each user's webhook URL, and the `event_cursors` row `webhooks`. Invariants: a batch of
//! events is claimed by moving the cursor with a compare-and-set, so with several replicas each
//! event is handed to one of them (at most once: a replica that dies mid-batch loses its
//! batch's deliveries); on Postgres, where ids of different jobs' events may commit out of
//! order, only events older than [`POSTGRES_COMMIT_LAG_MS`] are claimed.

use crate::{Backend, EventRow, Result, Store};

/// On Postgres an event id is taken at insert and seen at commit: events younger than this are
/// left for the next claim, so a late commit with a lower id is not skipped.
pub const POSTGRES_COMMIT_LAG_MS: i64 = 10_000;

/// One claimed event, with whose job it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEvent {
    pub event: EventRow,
    /// The owner of the job (pod or serverless) the event is about.
    pub owner: String,
    /// The owner's webhook URL.
    pub url: String,
}

impl Store {
    /// Sets (or replaces) a user's webhook URL.
    pub async fn webhook_set(&self, user_id: &str, url: &str, at: i64) -> Result<()> {
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM webhooks WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO webhooks (user_id, url, created_at) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(url)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's webhook URL.
    pub async fn webhook_get(&self, user_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_as::<_, (String,)>("SELECT url FROM webhooks WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?
            .map(|(u,)| u))
    }

    /// Removes a user's webhook; true when there was one.
    pub async fn webhook_delete(&self, user_id: &str) -> Result<bool> {
        let _w = self.writes.lock().await;
        Ok(sqlx::query("DELETE FROM webhooks WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?
            .rows_affected()
            > 0)
    }

    /// Claims the next events (up to `limit`) whose job's owner has a webhook. The first claim
    /// starts at the newest event: what happened before webhooks were read is not sent.
    pub async fn webhook_claim(&self, now: i64, limit: i64) -> Result<Vec<ClaimedEvent>> {
        // Not under the store's write lock: the cursor's compare-and-set is the only write, and
        // reads here must never hold up the reconcilers' writes.
        let cursor: Option<(i64,)> =
            sqlx::query_as("SELECT last_event_id FROM event_cursors WHERE name = 'webhooks'")
                .fetch_optional(self.pool())
                .await?;
        let Some((from,)) = cursor else {
            let (newest,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM job_events")
                .fetch_one(self.pool())
                .await?;
            // A concurrent first claim of another replica wins; this one claims nothing now.
            let _ = sqlx::query(
                "INSERT INTO event_cursors (name, last_event_id) VALUES ('webhooks', $1)",
            )
            .bind(newest)
            .execute(self.pool())
            .await;
            return Ok(Vec::new());
        };
        let before = if self.backend() == Backend::Postgres {
            now - POSTGRES_COMMIT_LAG_MS
        } else {
            i64::MAX
        };
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, job_id, at, kind, message, data FROM job_events WHERE id > $1 AND at <= $2 ORDER BY id LIMIT $3",
        )
        .bind(from)
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let Some(last) = rows.last().map(|r| r.id) else { return Ok(Vec::new()) };
        // Whose each event is, before the cursor moves: a failed read loses nothing.
        let mut out = Vec::new();
        for event in rows {
            let found: Option<(String, String)> = sqlx::query_as(
                "SELECT w.user_id, w.url FROM webhooks w WHERE w.user_id = \
                 COALESCE((SELECT owner FROM jobs WHERE id = $1), (SELECT owner FROM requests WHERE id = $1))",
            )
            .bind(event.job_id)
            .fetch_optional(self.pool())
            .await?;
            if let Some((owner, url)) = found {
                out.push(ClaimedEvent { event, owner, url });
            }
        }
        let moved = sqlx::query(
            "UPDATE event_cursors SET last_event_id = $1 WHERE name = 'webhooks' AND last_event_id = $2",
        )
        .bind(last)
        .bind(from)
        .execute(self.pool())
        .await?
        .rows_affected();
        if moved == 0 {
            // Another replica claimed this batch.
            return Ok(Vec::new());
        }
        Ok(out)
    }
}
