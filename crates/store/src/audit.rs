//! `storage_audit`: every storage operation on a user's volumes (create, remove, S3 access
//! granted, transfers reported by `podwarden cp`), with who, what, when, bytes and result.

use crate::{Result, Store};

/// One audited storage operation.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    /// ms since the epoch.
    pub at: i64,
    pub user_id: String,
    /// `volume_create`, `volume_remove`, `s3_access`, `upload`, `download`, `head` (through the
    /// server, which saw the bytes), or `upload (reported by cp)` / `download (reported by cp)`
    /// (the client's word: `cp` moves bytes over S3 itself).
    pub op: String,
    pub volume: String,
    pub path: Option<String>,
    pub bytes: Option<i64>,
    /// `ok`, `refused: …` (nothing was done: another user's volume, a bad path), or what went
    /// wrong (`failed: …` in a client's report).
    pub result: String,
}

impl Store {
    /// Appends an entry; the database assigns its id (increasing), so replicas writing at once
    /// never collide.
    pub async fn audit(&self, row: &AuditRow) -> Result<()> {
        let _w = self.writes.lock().await;
        sqlx::query("INSERT INTO storage_audit (at, user_id, op, volume, path, bytes, result) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(row.at)
            .bind(&row.user_id)
            .bind(&row.op)
            .bind(&row.volume)
            .bind(&row.path)
            .bind(row.bytes)
            .bind(&row.result)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The newest `limit` entries, newest first: one user's, or everyone's (`None`).
    pub async fn audit_log(&self, user: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
        Ok(match user {
            Some(u) => sqlx::query_as(
                "SELECT id, at, user_id, op, volume, path, bytes, result FROM storage_audit WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(u)
            .bind(limit)
            .fetch_all(self.pool())
            .await?,
            None => {
                sqlx::query_as("SELECT id, at, user_id, op, volume, path, bytes, result FROM storage_audit ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        })
    }
}
