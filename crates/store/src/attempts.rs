//! `attempts`: one provider resource each. The row (with the pod's deterministic name) is
//! committed before the create call, so no pod can exist without an owner.

use crate::{Result, Store};
use podwarden_core::state::AttemptState;
use podwarden_core::{Account, AttemptId, JobId, Money};

/// An attempt as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: AttemptId,
    pub job_id: JobId,
    pub seq: i64,
    #[sqlx(try_from = "String")]
    pub state: AttemptState,
    pub generation: i64,
    pub pod_name: String,
    pub pod_id: Option<String>,
    pub gpu_type: String,
    pub gpu_count: i64,
    pub cloud: String,
    pub data_center: Option<String>,
    #[sqlx(rename = "price_micros_per_hour")]
    pub price_per_hour: Money,
    pub created_at: i64,
    pub booted_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub billed_until: Option<i64>,
    #[sqlx(rename = "cost_micros")]
    pub cost: Money,
    pub reason: Option<String>,
    /// Its place in a multi-node job (`PODWARDEN_NODE_RANK`); 0 for a single-node job.
    pub node: i64,
    /// What its node's command exited with (multi-node jobs; a single node's is the job's).
    pub exit_code: Option<i64>,
    /// The account its pod is made on: its job's when it was made (a queued job may later
    /// move to another cloud; this pod's bill stays with this account).
    #[sqlx(try_from = "String")]
    pub account: Account,
}

impl AttemptRow {
    /// The cloud its pod is on.
    pub fn provider(&self) -> podwarden_core::ProviderKind {
        self.account.provider()
    }

    /// What it has run up since it was last billed (`podwarden_core::money::unbilled`); 0 when it
    /// holds no pod.
    pub fn unbilled(&self, now: i64) -> Money {
        if !self.state.holds_pod() {
            return Money::ZERO;
        }
        let from = self.billed_until.unwrap_or(self.created_at);
        podwarden_core::money::unbilled(self.price_per_hour, from, self.ended_at, now)
    }
}

macro_rules! attempt_columns {
    () => {
        "id, job_id, seq, state, generation, pod_name, pod_id, gpu_type, gpu_count, cloud, data_center, price_micros_per_hour, \
    created_at, booted_at, ended_at, billed_until, cost_micros, reason, node, exit_code, account"
    };
}
pub(crate) use attempt_columns;

impl Store {
    /// Commits an attempt's intent (before any provider call).
    pub async fn attempt_insert(&self, a: &AttemptRow) -> Result<()> {
        let _w = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO attempts (",
            attempt_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        ))
        .bind(a.id)
        .bind(a.job_id)
        .bind(a.seq)
        .bind(a.state.as_str())
        .bind(a.generation)
        .bind(&a.pod_name)
        .bind(&a.pod_id)
        .bind(&a.gpu_type)
        .bind(a.gpu_count)
        .bind(&a.cloud)
        .bind(&a.data_center)
        .bind(a.price_per_hour)
        .bind(a.created_at)
        .bind(a.booted_at)
        .bind(a.ended_at)
        .bind(a.billed_until)
        .bind(a.cost)
        .bind(&a.reason)
        .bind(a.node)
        .bind(a.exit_code)
        .bind(a.account.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.live().put_attempt(a);
        Ok(())
    }

    /// One attempt.
    pub async fn attempt_get(&self, id: AttemptId) -> Result<Option<AttemptRow>> {
        Ok(sqlx::query_as(concat!("SELECT ", attempt_columns!(), " FROM attempts WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A job's attempts, oldest first.
    pub async fn attempts_for_job(&self, job_id: JobId) -> Result<Vec<AttemptRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE job_id = $1 ORDER BY seq"
        ))
        .bind(job_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Attempts of the owner's `limit` most recent jobs.
    pub async fn attempts_for_recent_jobs_of(
        &self,
        owner: &str,
        limit: i64,
    ) -> Result<Vec<AttemptRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            attempt_columns!(),
            " FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE owner = $1 ORDER BY id DESC LIMIT $2) ORDER BY job_id, seq"
        ))
        .bind(owner)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Attempts that may still own a provider resource, read from the database (the server
    /// reads [`Store::live`]).
    pub async fn attempts_live(&self) -> Result<Vec<AttemptRow>> {
        attempts_live(&mut *self.pool().acquire().await?).await
    }

    /// Compare-and-swap write of an attempt; on success `a` becomes the row as stored.
    pub async fn attempt_cas(&self, a: &mut AttemptRow) -> Result<bool> {
        let _w = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        let stored: Option<AttemptRow> = sqlx::query_as(concat!(
            "UPDATE attempts SET state = $1, pod_id = $2, data_center = $3, booted_at = $4, ended_at = $5, billed_until = $6, cost_micros = $7, \
             reason = $8, price_micros_per_hour = $9, exit_code = $10, generation = generation + 1 WHERE id = $11 AND generation = $12 RETURNING ",
            attempt_columns!()
        ))
        .bind(a.state.as_str())
        .bind(&a.pod_id)
        .bind(&a.data_center)
        .bind(a.booted_at)
        .bind(a.ended_at)
        .bind(a.billed_until)
        .bind(a.cost)
        .bind(&a.reason)
        .bind(a.price_per_hour)
        .bind(a.exit_code)
        .bind(a.id)
        .bind(a.generation)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(stored) = stored else { return Ok(false) };
        self.live().put_attempt(&stored);
        *a = stored;
        Ok(true)
    }
}

/// Attempts that may still own a provider resource, read on `conn`.
pub(crate) async fn attempts_live(conn: &mut sqlx::AnyConnection) -> Result<Vec<AttemptRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM attempts WHERE state IN ",
        live_attempt_states!(),
        " ORDER BY id"
    ))
    .fetch_all(conn)
    .await?)
}
