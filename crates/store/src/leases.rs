//! `account_leases`: which replica reconciles which account, when several replicas share one
//! Postgres.
//!
//! Owns: acquiring, renewing and releasing leases, and the fence a pass's writes check.
//!
//! Invariants:
//! - An account has at most one holder whose lease is unexpired. A lease is taken over only
//!   once expired, and every change of holder (or a holder coming back after its lease
//!   expired) bumps `epoch`.
//! - A holder whose lease expired may still be mid-pass (paused, partitioned). So a pass runs
//!   inside [`fenced`], and its state writes (`job_cas`, `attempt_insert`, `attempt_cas`,
//!   `endpoint_cas`, `serverless_job_cas`, `bill`, `event_append`) first check, in their own
//!   transaction, that holder and epoch are still the lease's (`FOR SHARE` on Postgres, so a
//!   takeover waits for the write to commit, or the write sees the takeover). A deposed
//!   replica's write is refused with [`StoreError::Fenced`] and lands nothing.
//! - Times are the callers' clocks (the store reads none): replicas' clocks must agree to
//!   well within a lease's length (NTP), which docs/deployment.md asks for.

use crate::{Backend, Result, Store, StoreError};
use podwarden_core::{Account, WorkId};
use sqlx::{Any, Transaction};
use std::sync::Arc;

/// The lease a pass runs under: its writes land only while `holder` still holds `account` at
/// `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub account: Account,
    pub holder: String,
    pub epoch: i64,
}

tokio::task_local! {
    static FENCE: Arc<Fence>;
}

/// Runs `f` (a pass) with its writes fenced by `fence`.
pub async fn fenced<F: std::future::Future>(fence: Fence, f: F) -> F::Output {
    FENCE.scope(Arc::new(fence), f).await
}

/// One lease.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRow {
    #[sqlx(try_from = "String")]
    pub account: Account,
    pub holder: String,
    pub epoch: i64,
    pub expires_at: i64,
}

impl Store {
    /// Takes or keeps `account`'s lease for `holder` until `now_ms + ttl_ms`; returns its epoch,
    /// or `None` while another holder's lease is unexpired.
    pub async fn lease_acquire(
        &self,
        account: &Account,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO account_leases (account, holder, epoch, expires_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (account) DO UPDATE SET \
               epoch = CASE WHEN account_leases.holder = excluded.holder AND account_leases.expires_at >= $4 \
                       THEN account_leases.epoch ELSE account_leases.epoch + 1 END, \
               holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE account_leases.holder = excluded.holder OR account_leases.expires_at < $4 \
             RETURNING epoch",
        )
        .bind(account.to_string())
        .bind(holder)
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }

    /// Extends every unexpired lease `holder` has to `now_ms + ttl_ms` (the replica's
    /// heartbeat); returns how many. An expired one is not revived: its next pass takes it
    /// again, under a new epoch.
    pub async fn leases_renew(&self, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE account_leases SET expires_at = $1 WHERE holder = $2 AND expires_at >= $3",
        )
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(holder)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Gives up `account` if `holder` has it (its work is done): another replica may take it
    /// at once.
    pub async fn lease_release(&self, account: &Account, holder: &str) -> Result<()> {
        sqlx::query("UPDATE account_leases SET expires_at = 0 WHERE account = $1 AND holder = $2")
            .bind(account.to_string())
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives up every lease of `holder` (a clean shutdown): other replicas take its accounts
    /// at their next pass instead of after the leases expire.
    pub async fn leases_release(&self, holder: &str) -> Result<u64> {
        let r = sqlx::query("UPDATE account_leases SET expires_at = 0 WHERE holder = $1")
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// Every lease, by account.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>> {
        Ok(sqlx::query_as(
            "SELECT account, holder, epoch, expires_at FROM account_leases ORDER BY account",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Begins a state write: a transaction that, inside a [`fenced`] pass, has checked the
    /// pass's lease first.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        let mut tx = self.write_tx().await?;
        if let Ok(fence) = FENCE.try_with(Arc::clone) {
            let lock = match self.backend() {
                // Holds the lease row until commit: a takeover waits for this write.
                Backend::Postgres => {
                    "SELECT epoch FROM account_leases WHERE account = $1 AND holder = $2 AND epoch = $3 FOR SHARE"
                }
                // One writer at a time: nothing can change the lease before this commits.
                Backend::Sqlite => {
                    "SELECT epoch FROM account_leases WHERE account = $1 AND holder = $2 AND epoch = $3"
                }
            };
            let held: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(lock))
                .bind(fence.account.to_string())
                .bind(&fence.holder)
                .bind(fence.epoch)
                .fetch_optional(&mut *tx)
                .await?;
            if held.is_none() {
                return Err(StoreError::Fenced {
                    account: fence.account.clone(),
                    epoch: fence.epoch,
                });
            }
        }
        Ok(tx)
    }

    /// Orders a job's event inserts across replicas: on Postgres, event ids come from a sequence
    /// and commit in any order, so a stream resuming "after id N" could skip a row committed
    /// late with a smaller id. Appends of one job's events take this lock (until commit) first,
    /// which makes each job's ids commit in order.
    pub(crate) async fn order_events(
        &self,
        tx: &mut Transaction<'static, Any>,
        job_id: WorkId,
    ) -> Result<()> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(job_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
