//! podwarden's store: jobs, attempts (one provider resource each), append-only job events,
//! metrics and the cost ledger. SQLite embedded by default; the SQL is kept portable (`$n`
//! placeholders, integer times and money) for the Postgres backend. Every state write is a
//! compare-and-swap on a `generation` column: no read-modify-write across an await.
//!
//! Owns: the rows, the live set (`live.rs`) and the atomic admission of work against spend caps
//! (`spend.rs`). Must not: call a provider, decide a state change (the engine does, through
//! `core::state`), or read the clock (callers pass times).
//!
//! ```no_run
//! # async fn demo() -> Result<(), store::StoreError> {
//! let store = store::Store::open_sqlite(std::path::Path::new("/tmp/podwarden.db")).await?;
//! let live = store.jobs_live().await?;
//! # Ok(()) }
//! ```

mod attempts;
mod audit;
mod billing;
mod endpoints;
mod events;
mod jobs;
mod ledger;
mod live;
mod logs;
mod metrics;
mod serverless_jobs;
mod spend;
mod users;
mod volumes;

pub use attempts::AttemptRow;
pub use audit::AuditRow;
pub use billing::{BillingCheck, Unchecked};
pub use endpoints::EndpointRow;
pub use events::EventRow;
pub use jobs::{HOSTED, JobRow};
pub use ledger::{Bill, CostRow};
pub use live::LiveSet;
pub use logs::{JOB_LOG_LINES_KEPT, LogRow};
pub use metrics::MetricRow;
pub use serverless_jobs::{SERVERLESS_JOB_LIVE, ServerlessJobRow};
pub use spend::Admission;
pub use users::{ProviderKeyRow, TokenRow, UserRow};
pub use volumes::VolumeRow;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A store failure. Database details stay here (and in logs), never in API answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database is locked by someone else (another process holds a write lock past
    /// `BUSY_TIMEOUT`): the caller may retry.
    pub fn is_busy(&self) -> bool {
        match self {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            StoreError::Db(sqlx::Error::Database(e)) => e
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
            StoreError::Db(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
    }

    /// The file is not a SQLite database (SQLITE_NOTADB, SQLITE_CORRUPT).
    pub fn is_corrupt_file(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 11 | 26)),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(e))) => {
                e.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 11 | 26))
            }
            _ => false,
        }
    }
}

/// How long a write waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

/// The database holds job env and sealed keys: readable by its owner only (0600), created so
/// before SQLite first writes it; SQLite gives its `-wal` and `-shm` files the same mode.
fn private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |e: std::io::Error| StoreError::Db(sqlx::Error::Io(e));
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Result of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The database, and the live set this process keeps of it.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    live: Arc<Mutex<LiveSet>>,
    /// Held across every write to `jobs`/`attempts` and its update of `live`, so the live set
    /// changes in commit order (SQLite serializes writers anyway).
    writes: Arc<tokio::sync::Mutex<()>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Store {
    /// Opens (creating if needed) a SQLite file and applies migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        private_file(path)?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Short: a request waiting on a lock someone else holds answers "busy, retry"
            // (StoreError::is_busy) rather than hanging.
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        Self::connect(opts, 4).await
    }

    /// A private in-memory database (tests).
    pub async fn open_memory() -> Result<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to `:memory:` is its own database.
        Self::connect(opts, 1).await
    }

    async fn connect(opts: SqliteConnectOptions, max: u32) -> Result<Self> {
        let pool = SqlitePoolOptions::new().max_connections(max).connect_with(opts).await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        let mut store = Self { pool, live: Arc::default(), writes: Arc::default() };
        // Loaded before the store is handed out, so no write can race the load.
        store.live = Arc::new(Mutex::new(LiveSet::load(
            store.jobs_live().await?,
            store.attempts_live().await?,
        )));
        Ok(store)
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The live set (jobs not settled, attempts that may own a resource), from memory: this
    /// process's view, exact for the server that owns the database. Hold the guard briefly
    /// and never across an await.
    pub fn live(&self) -> MutexGuard<'_, LiveSet> {
        // A panic while holding the guard cannot leave a half-written row: `put_*` replace
        // whole rows. So a poisoned lock is still consistent.
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This installation's id, created on first use. It prefixes every provider resource name,
    /// so two installs sharing a RunPod account never touch each other's pods.
    pub async fn install_id(&self) -> Result<String> {
        self.install_id_or(None).await
    }

    /// This installation's id; when the database has none yet (new, or lost and recreated),
    /// `known` (the id kept beside it) is adopted, so the pods the install started are still
    /// recognised as its own.
    pub async fn install_id_or(&self, known: Option<&str>) -> Result<String> {
        if let Some((v,)) =
            sqlx::query_as::<_, (String,)>("SELECT value FROM settings WHERE key = $1")
                .bind("install_id")
                .fetch_optional(&self.pool)
                .await?
        {
            return Ok(v);
        }
        let id: String = known.map_or_else(
            || uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            str::to_owned,
        );
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind("install_id")
        .bind(&id)
        .execute(&self.pool)
        .await?;
        let (v,) = sqlx::query_as::<_, (String,)>("SELECT value FROM settings WHERE key = $1")
            .bind("install_id")
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn install_id_is_stable_across_reopen() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("pw.db");
        let a = Store::open_sqlite(&path).await.expect("open").install_id().await.expect("id");
        let b = Store::open_sqlite(&path).await.expect("reopen").install_id().await.expect("id");
        assert_eq!(a, b);
        assert_eq!(a.len(), 8);
    }
}
