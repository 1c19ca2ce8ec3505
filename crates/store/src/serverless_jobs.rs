//! `requests`: serverless jobs. The row is committed before the provider's `/run`; every state
//! change is compare-and-swap on `generation`. States: `submitting` (row written, `/run` not
//! confirmed), `queued`, `running`, and the final `succeeded`, `failed`, `cancelled`,
//! `timed_out`.

use crate::{Result, Store};
use podwarden_core::state::ServerlessJobState;
use podwarden_core::{Account, Money, ServerlessJobId};

/// A serverless job as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ServerlessJobRow {
    pub id: ServerlessJobId,
    pub owner: String,
    pub name: String,
    pub endpoint_name: String,
    /// The provider's endpoint id at submission.
    pub endpoint_id: String,
    pub provider_job_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: ServerlessJobState,
    pub generation: i64,
    /// The request spec (JSON).
    pub spec: String,
    /// The handler's output (JSON), once final.
    pub output: Option<String>,
    pub reason: Option<String>,
    /// The GPU type (or pool) the price is for.
    pub gpu: String,
    #[sqlx(rename = "price_micros_per_hour")]
    pub price_per_hour: Money,
    #[sqlx(rename = "estimate_micros")]
    pub estimate: Money,
    #[sqlx(rename = "cost_micros")]
    pub cost: Money,
    pub delay_ms: Option<i64>,
    pub execution_ms: Option<i64>,
    /// The worker's billed idle tail after the job (the endpoint's idle timeout).
    pub idle_ms: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub ended_at: Option<i64>,
    /// The account it runs on.
    #[sqlx(try_from = "String")]
    pub account: Account,
}

/// States of a request that may still change.
pub const SERVERLESS_JOB_LIVE: [&str; 3] = ["submitting", "queued", "running"];

macro_rules! columns {
    () => {
        "id, owner, name, endpoint_name, endpoint_id, provider_job_id, state, generation, spec, output, reason, gpu, \
         price_micros_per_hour, estimate_micros, cost_micros, delay_ms, execution_ms, idle_ms, created_at, updated_at, ended_at, account"
    };
}

/// `INSERT` of a request row (run on the pool or in a transaction).
pub(crate) fn insert_serverless_job(
    r: &ServerlessJobRow,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(concat!(
        "INSERT INTO requests (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
    ))
    .bind(r.id)
    .bind(&r.owner)
    .bind(&r.name)
    .bind(&r.endpoint_name)
    .bind(&r.endpoint_id)
    .bind(&r.provider_job_id)
    .bind(r.state.as_str())
    .bind(r.generation)
    .bind(&r.spec)
    .bind(&r.output)
    .bind(&r.reason)
    .bind(&r.gpu)
    .bind(r.price_per_hour)
    .bind(r.estimate)
    .bind(r.cost)
    .bind(r.delay_ms)
    .bind(r.execution_ms)
    .bind(r.idle_ms)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.ended_at)
    .bind(r.account.to_string())
}

impl Store {
    /// Commits a new request.
    pub async fn serverless_job_insert(&self, r: &ServerlessJobRow) -> Result<()> {
        insert_serverless_job(r).execute(self.pool()).await?;
        Ok(())
    }

    /// One request.
    pub async fn serverless_job_get(
        &self,
        id: ServerlessJobId,
    ) -> Result<Option<ServerlessJobRow>> {
        Ok(sqlx::query_as(concat!("SELECT ", columns!(), " FROM requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Requests that may still change (all owners), oldest first.
    pub async fn serverless_jobs_live(&self) -> Result<Vec<ServerlessJobRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM requests WHERE state IN ($1, $2, $3) ORDER BY id"
        ))
        .bind(SERVERLESS_JOB_LIVE[0])
        .bind(SERVERLESS_JOB_LIVE[1])
        .bind(SERVERLESS_JOB_LIVE[2])
        .fetch_all(self.pool())
        .await?)
    }

    /// The owner's most recent requests, newest first.
    pub async fn serverless_jobs_recent(
        &self,
        owner: &str,
        limit: i64,
    ) -> Result<Vec<ServerlessJobRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM requests WHERE owner = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(owner)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Compare-and-swap write; on success `r` becomes the stored row.
    pub async fn serverless_job_cas(&self, r: &mut ServerlessJobRow, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let stored: Option<ServerlessJobRow> = sqlx::query_as(concat!(
            "UPDATE requests SET provider_job_id = $1, state = $2, output = $3, reason = $4, gpu = $5, price_micros_per_hour = $6, \
             cost_micros = $7, delay_ms = $8, execution_ms = $9, idle_ms = $10, ended_at = $11, updated_at = $12, \
             generation = generation + 1 WHERE id = $13 AND generation = $14 RETURNING ",
            columns!()
        ))
        .bind(&r.provider_job_id)
        .bind(r.state.as_str())
        .bind(&r.output)
        .bind(&r.reason)
        .bind(&r.gpu)
        .bind(r.price_per_hour)
        .bind(r.cost)
        .bind(r.delay_ms)
        .bind(r.execution_ms)
        .bind(r.idle_ms)
        .bind(r.ended_at)
        .bind(now_ms)
        .bind(r.id)
        .bind(r.generation)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(stored) = stored else { return Ok(false) };
        *r = stored;
        Ok(true)
    }
}
