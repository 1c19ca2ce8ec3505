//! `job_logs`: a job's pod log lines, kept after its pods are gone. Bounded per job: each
//! append drops what falls beyond the newest [`JOB_LOG_LINES_KEPT`] lines.

use crate::{Result, Store};
use podwarden_core::{AttemptId, JobId};

/// Lines kept per job.
pub const JOB_LOG_LINES_KEPT: i64 = 10_000;

/// One stored log line.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LogRow {
    pub seq: i64,
    /// The provider's timestamp (RFC 3339; also the log stream's event id).
    pub at: String,
    pub source: String,
    pub line: String,
    /// The attempt whose pod wrote it (`None` for lines kept before attempts were recorded).
    pub attempt_id: Option<AttemptId>,
}

impl Store {
    /// Appends lines of one attempt's pod to its job's log, in order, and trims the job's log
    /// to the newest lines.
    pub async fn job_logs_append(
        &self,
        job_id: JobId,
        attempt_id: AttemptId,
        lines: &[(String, String, String)],
    ) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let _w = self.writes.lock().await;
        let mut tx = self.write_tx().await?;
        let (next,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM job_logs WHERE job_id = $1")
                .bind(job_id)
                .fetch_one(&mut *tx)
                .await?;
        for (i, (at, source, line)) in lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO job_logs (job_id, seq, at, source, line, attempt_id) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(job_id)
            .bind(next + i as i64)
            .bind(at)
            .bind(source)
            .bind(line)
            .bind(attempt_id)
            .execute(&mut *tx)
            .await?;
        }
        let last = next + lines.len() as i64 - 1;
        sqlx::query("DELETE FROM job_logs WHERE job_id = $1 AND seq <= $2")
            .bind(job_id)
            .bind(last - JOB_LOG_LINES_KEPT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `tail` lines of a job's log, oldest first.
    pub async fn job_logs(&self, job_id: JobId, tail: i64) -> Result<Vec<LogRow>> {
        let mut rows: Vec<LogRow> =
            sqlx::query_as("SELECT seq, at, source, line, attempt_id FROM job_logs WHERE job_id = $1 ORDER BY seq DESC LIMIT $2")
                .bind(job_id)
                .bind(tail)
                .fetch_all(self.pool())
                .await?;
        rows.reverse();
        Ok(rows)
    }

    /// The provider timestamp of an attempt's newest stored line: where its pod's follower
    /// resumes (another attempt's pod has a stream of its own).
    pub async fn job_logs_last_at(
        &self,
        job_id: JobId,
        attempt_id: AttemptId,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_as::<_, (String,)>(
            "SELECT at FROM job_logs WHERE job_id = $1 AND attempt_id = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(job_id)
        .bind(attempt_id)
        .fetch_optional(self.pool())
        .await?
        .map(|(a,)| a))
    }

    /// An attempt's stored lines containing `needle`, oldest first, at most `limit` of them: a
    /// restarted follower looks here for an exit line its predecessor stored but did not act on.
    pub async fn job_logs_containing(
        &self,
        job_id: JobId,
        attempt_id: AttemptId,
        needle: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        let pattern =
            format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        Ok(sqlx::query_as::<_, (String,)>(
            "SELECT line FROM job_logs WHERE job_id = $1 AND attempt_id = $2 AND line LIKE $3 ESCAPE '\\' ORDER BY seq LIMIT $4",
        )
        .bind(job_id)
        .bind(attempt_id)
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|(l,)| l)
        .collect())
    }
}
