//! `jobs`: one row per job; state changes are compare-and-swap on `generation`.

use crate::{Result, Store, StoreError};
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{JobPhase, JobState, Outcome};
use podwarden_core::{Account, JobId, Money};

/// A job as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub id: JobId,
    pub name: String,
    pub owner: String,
    pub spec: String,
    #[sqlx(try_from = "String")]
    pub state: JobState,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub generation: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub deadline_at: Option<i64>,
    pub teardown_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub attempts_made: i64,
    #[sqlx(rename = "budget_micros")]
    pub budget: Option<Money>,
    #[sqlx(rename = "spent_micros")]
    pub spent: Money,
    pub alert_pct: i64,
    pub exit_code: Option<i64>,
    pub token_hash: String,
    /// The account it runs on: set at submit; a queued job may move to another of its owner's
    /// (`Store::job_rehome`). Each attempt records the account its pod was made on.
    #[sqlx(try_from = "String")]
    pub account: Account,
    /// Since when it has waited for capacity (queued), until a pod is made for it.
    pub queued_at: Option<i64>,
    /// What it holds of its owner's hosted spend cap while it waits (its estimate, at most its
    /// budget): set when it is queued, cleared before its next create; `None` holds its whole
    /// budget.
    #[sqlx(rename = "queued_hold_micros")]
    pub queued_hold: Option<Money>,
}

impl JobRow {
    /// A new pending job.
    pub fn new(id: JobId, spec: &JobSpec, owner: &str, token_hash: &str, now_ms: i64) -> Self {
        Self {
            id,
            name: spec.name.clone(),
            owner: owner.to_owned(),
            spec: serde_json::to_string(spec).unwrap_or_else(|_| "{}".into()),
            state: JobState::Pending,
            outcome: None,
            reason: None,
            generation: 0,
            created_at: now_ms,
            updated_at: now_ms,
            started_at: None,
            deadline_at: None,
            teardown_at: None,
            next_attempt_at: Some(now_ms),
            attempts_made: 0,
            budget: spec.limits.budget_usd.map(Money::from_usd),
            spent: Money::ZERO,
            alert_pct: 0,
            exit_code: None,
            token_hash: token_hash.to_owned(),
            account: Account::Hosted,
            queued_at: None,
            queued_hold: None,
        }
    }

    /// State and pending outcome.
    pub fn phase(&self) -> Result<JobPhase> {
        let state = self.state;
        let outcome = match &self.outcome {
            Some(o) => Some(
                Outcome::parse(o)
                    .ok_or_else(|| StoreError::Corrupt(format!("job {} outcome {o:?}", self.id)))?,
            ),
            None => None,
        };
        Ok(JobPhase { state, outcome })
    }

    /// Sets state and outcome from a phase.
    pub fn set_phase(&mut self, p: JobPhase) {
        self.state = p.state;
        self.outcome = p.outcome.map(|o| o.as_str().to_owned());
    }

    /// Spend including what its pod-holding `attempts` ran up since they were last billed:
    /// what lists show and budgets are enforced on (billing writes are batched).
    pub fn projected_spend(&self, attempts: &[&crate::AttemptRow], now: i64) -> Money {
        attempts.iter().fold(self.spent, |sum, a| sum + a.unbilled(now))
    }

    /// The spec it was created from.
    pub fn spec(&self) -> Result<JobSpec> {
        serde_json::from_str(&self.spec)
            .map_err(|e| StoreError::Corrupt(format!("job {} spec: {e}", self.id)))
    }
}

macro_rules! job_columns {
    () => {
        "id, name, owner, spec, state, outcome, reason, generation, created_at, updated_at, started_at, deadline_at, teardown_at, \
    next_attempt_at, attempts_made, budget_micros, spent_micros, alert_pct, exit_code, token_hash, account, queued_at, queued_hold_micros"
    };
}
pub(crate) use job_columns;

/// `INSERT` of a job row (run on the pool or in a transaction).
pub(crate) fn insert_job(j: &JobRow) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(concat!(
        "INSERT INTO jobs (",
        job_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
    ))
    .bind(j.id)
    .bind(&j.name)
    .bind(&j.owner)
    .bind(&j.spec)
    .bind(j.state.as_str())
    .bind(&j.outcome)
    .bind(&j.reason)
    .bind(j.generation)
    .bind(j.created_at)
    .bind(j.updated_at)
    .bind(j.started_at)
    .bind(j.deadline_at)
    .bind(j.teardown_at)
    .bind(j.next_attempt_at)
    .bind(j.attempts_made)
    .bind(j.budget)
    .bind(j.spent)
    .bind(j.alert_pct)
    .bind(j.exit_code)
    .bind(&j.token_hash)
    .bind(j.account.to_string())
    .bind(j.queued_at)
    .bind(j.queued_hold)
}

impl Store {
    /// Inserts a new job.
    pub async fn job_insert(&self, j: &JobRow) -> Result<()> {
        let _w = self.writes.lock().await;
        insert_job(j).execute(self.pool()).await?;
        self.live().put_job(j);
        Ok(())
    }

    /// One job.
    pub async fn job_get(&self, id: JobId) -> Result<Option<JobRow>> {
        Ok(sqlx::query_as(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The owner's most recent jobs, newest first.
    pub async fn job_list_of(&self, owner: &str, limit: i64) -> Result<Vec<JobRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE owner = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(owner)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Jobs not yet settled, read from the database (the server reads [`Store::live`]).
    pub async fn jobs_live(&self) -> Result<Vec<JobRow>> {
        jobs_live(&mut *self.pool().acquire().await?).await
    }

    /// Writes `j` if its generation is still `j.generation`; on success `j` becomes the row as
    /// stored (generation bumped). Returns false when someone else wrote first (re-read and
    /// decide again).
    pub async fn job_cas(&self, j: &mut JobRow, now_ms: i64) -> Result<bool> {
        let _w = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        let stored: Option<JobRow> = sqlx::query_as(concat!(
            "UPDATE jobs SET state = $1, outcome = $2, reason = $3, updated_at = $4, started_at = $5, deadline_at = $6, teardown_at = $7, \
             next_attempt_at = $8, attempts_made = $9, spent_micros = $10, alert_pct = $11, exit_code = $12, queued_at = $13, \
             queued_hold_micros = $14, spec = $15, generation = generation + 1 WHERE id = $16 AND generation = $17 RETURNING ",
            job_columns!()
        ))
        .bind(j.state.as_str())
        .bind(&j.outcome)
        .bind(&j.reason)
        .bind(now_ms)
        .bind(j.started_at)
        .bind(j.deadline_at)
        .bind(j.teardown_at)
        .bind(j.next_attempt_at)
        .bind(j.attempts_made)
        .bind(j.spent)
        .bind(j.alert_pct)
        .bind(j.exit_code)
        .bind(j.queued_at)
        .bind(j.queued_hold)
        .bind(&j.spec)
        .bind(j.id)
        .bind(j.generation)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(stored) = stored else { return Ok(false) };
        self.live().put_job(&stored);
        *j = stored;
        Ok(true)
    }
}

/// Jobs not yet settled, read on `conn` (in a snapshot, when `live::refresh` reads).
pub(crate) async fn jobs_live(conn: &mut sqlx::AnyConnection) -> Result<Vec<JobRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE state IN ",
        live_job_states!(),
        " ORDER BY id"
    ))
    .fetch_all(conn)
    .await?)
}
