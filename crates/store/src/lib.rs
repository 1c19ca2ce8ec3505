//! podwarden's store: jobs, attempts (one provider resource each), append-only job events,
//! metrics and the cost ledger. Two backends behind one interface: SQLite embedded by default
//! (`open_sqlite`), Postgres for teams running several replicas (`open_postgres`). The SQL is
//! one portable dialect (`$n` placeholders, integer times and money, no booleans read back)
//! run through sqlx's `Any` driver; each backend has its own migrations, with the same versions.
//! Every state write is a compare-and-swap on a `generation` column: no read-modify-write
//! across an await.
//!
//! Owns: the rows, the live set (`live.rs`) and the atomic admission of work against spend caps
//! (`spend.rs`). Must not: call a provider, decide a state change (the engine does, through
//! `core::state`), or read the clock (callers pass times).
//!
//! ```no_run
//! # async fn demo() -> Result<(), podwarden_store::StoreError> {
//! let store = podwarden_store::Store::open_sqlite(std::path::Path::new("/tmp/podwarden.db")).await?;
//! let live = store.jobs_live().await?;
//! # Ok(()) }
//! ```

/// The final job states as an SQL list: the one place SQL names them, as
/// `podwarden_core::state::JobState::is_final` is for code (a test keeps the two equal).
macro_rules! final_job_states {
    () => {
        "('succeeded', 'failed', 'cancelled', 'budget_exceeded', 'timed_out')"
    };
}

/// The operator's accounts (`Account::is_hosted`) as an SQL list: whose work a spend cap
/// counts.
macro_rules! hosted_accounts {
    () => {
        "('hosted', 'aws:hosted')"
    };
}

/// The live job states as an SQL list (every state but the final ones).
macro_rules! live_job_states {
    () => {
        "('pending', 'queued', 'provisioning', 'running', 'recovering', 'tearing_down')"
    };
}

/// The live attempt states as an SQL list (every state but the final ones).
macro_rules! live_attempt_states {
    () => {
        "('intent', 'created', 'running', 'terminating')"
    };
}

/// The stored name of a removed volume's and endpoint's final state (`VolumeState::Deleted`,
/// `EndpointState::Deleted`): their live rows are the others.
macro_rules! deleted {
    () => {
        "'deleted'"
    };
}

mod attempts;
mod audit;
mod billing;
mod endpoint_billing;
mod endpoints;
mod events;
mod invites;
mod jobs;
mod leases;
mod ledger;
mod live;
mod logs;
mod metrics;
pub mod notify;
mod offers;
mod serverless_jobs;
mod spend;
#[cfg(feature = "testing")]
pub mod testing;
mod users;
mod volumes;
mod webhooks;

pub use attempts::AttemptRow;
pub use audit::AuditRow;
pub use billing::{BillingCheck, Unchecked};
pub use endpoint_billing::EndpointBilling;
pub use endpoints::EndpointRow;
pub use events::EventRow;
pub use invites::{InviteRow, Redeem};
pub use jobs::JobRow;
pub use leases::{Fence, LeaseRow, fenced};
pub use ledger::{Bill, CostRow};
pub use live::LiveSet;
pub use logs::{JOB_LOG_LINES_KEPT, LogRow};
pub use metrics::MetricRow;
pub use serverless_jobs::{SERVERLESS_JOB_LIVE, ServerlessJobRow};
pub use spend::{Admission, Reclaim, Rehome};
pub use users::{ProviderKeyRow, TokenRow, UserRow};
pub use volumes::VolumeRow;
pub use webhooks::{ClaimedEvent, POSTGRES_COMMIT_LAG_MS};

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

/// A store failure. Database details stay here (and in logs), never in API answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    /// A pass's write under a lease this replica no longer holds (`leases`): nothing landed.
    #[error(
        "this replica no longer holds the lease of account {account} (epoch {epoch}); another replica reconciles it now"
    )]
    Fenced { account: podwarden_core::Account, epoch: i64 },
}

impl StoreError {
    /// The database is locked by someone else (another process holds a write lock past
    /// its busy timeout, or Postgres reports a conflict to retry): the caller may retry.
    pub fn is_busy(&self) -> bool {
        match self {
            // Postgres: serialization failure, deadlock, lock not available, too many clients.
            StoreError::Db(sqlx::Error::Database(e))
                if e.code()
                    .is_some_and(|c| matches!(&*c, "40001" | "40P01" | "55P03" | "53300")) =>
            {
                true
            }
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

/// A database URL, kept out of `Debug`.
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) Arc<str>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<database url>")
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one server: the live set in memory is exact.
    Sqlite,
    /// Shared by replicas: other replicas write too, so a replica reloads an account's live
    /// rows (`refresh_live`) before it reconciles the account.
    Postgres,
}

/// The database, and the live set this process keeps of it.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The Postgres URL, for listeners (`notify`); never printed (it may hold a password).
    url: Option<Secret>,
    /// On Postgres: this store's name as a writer (its connections' `application_name`), so
    /// its listener skips the row changes it made itself.
    writer: Option<Arc<str>>,
    /// On Postgres: the schema the tables are in, read once at open (the notification
    /// channels are suffixed with it).
    schema: Option<Arc<str>>,
    live: Arc<Mutex<LiveSet>>,
    /// Held across every write to `jobs`/`attempts` and its update of `live`, so the live set
    /// changes in commit order (SQLite serializes writers anyway).
    writes: Arc<tokio::sync::Mutex<()>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Set on every SQLite connection: WAL so readers never block the writer; a short busy
/// timeout so a request waiting on a lock someone else holds answers "busy, retry"
/// (`StoreError::is_busy`) rather than hanging; foreign keys on.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 3000; PRAGMA foreign_keys = ON;";

/// Connections a Postgres store keeps: enough for a replica's 32 concurrent account passes
/// to rarely wait, few enough that three replicas stay well under Postgres's default 100.
const POSTGRES_CONNECTIONS: u32 = 16;

impl Store {
    /// Opens (creating if needed) a SQLite file and applies migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        private_file(path)?;
        let url = SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy();
        Self::connect(Backend::Sqlite, url.as_str(), 4).await
    }

    /// A private in-memory database (tests).
    pub async fn open_memory() -> Result<Self> {
        // One connection: every connection to `:memory:` is its own database.
        Self::connect(Backend::Sqlite, "sqlite::memory:", 1).await
    }

    /// Connects to a Postgres database (`postgres://user@host/db`), applying migrations. Several
    /// replicas may share it.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        Self::connect(Backend::Postgres, url, POSTGRES_CONNECTIONS).await
    }

    /// Opens what `url` names: `postgres://…` (or `postgresql://…`), `sqlite://PATH`, or a
    /// plain file path (SQLite).
    pub async fn open_url(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            Self::open_sqlite(Path::new(url.strip_prefix("sqlite://").unwrap_or(url))).await
        }
    }

    async fn connect(backend: Backend, url: &str, max: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let writer = (backend == Backend::Postgres)
            .then(|| format!("podwarden-{}", uuid::Uuid::new_v4().simple()));
        let named = match &writer {
            Some(w) => {
                format!("{url}{}application_name={w}", if url.contains('?') { '&' } else { '?' })
            }
            None => url.to_owned(),
        };
        let opts = AnyConnectOptions::from_str(&named)?.disable_statement_logging();
        let mut pool = AnyPoolOptions::new().max_connections(max);
        if backend == Backend::Sqlite {
            // One plain connection first: a damaged or locked file fails here with its own
            // error, where the pool would retry until its acquire timeout.
            let mut first = sqlx::AnyConnection::connect_with(&opts).await?;
            sqlx::raw_sql(SQLITE_PRAGMAS).execute(&mut first).await?;
            first.close().await?;
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(SQLITE_PRAGMAS).execute(conn).await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(opts).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let url = (backend == Backend::Postgres).then(|| Secret(Arc::from(url)));
        let writer = writer.map(Arc::from);
        let schema = match backend {
            Backend::Postgres => {
                let (s,): (String,) =
                    sqlx::query_as("SELECT current_schema()::text").fetch_one(&pool).await?;
                Some(Arc::from(s))
            }
            Backend::Sqlite => None,
        };
        let mut store = Self {
            pool,
            backend,
            url,
            writer,
            schema,
            live: Arc::default(),
            writes: Arc::default(),
        };
        // Loaded before the store is handed out, so no write can race the load.
        store.live = Arc::new(Mutex::new(LiveSet::load(
            store.jobs_live().await?,
            store.attempts_live().await?,
        )));
        Ok(store)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), waiting out another writer within the busy timeout: a deferred transaction
    /// that read first is refused at its first write, at once and whatever the timeout
    /// (`SQLITE_BUSY_SNAPSHOT`), when another write committed since its read.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
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
        if let Some(v) = self.setting("install_id").await? {
            return Ok(v);
        }
        let id: String = known.map_or_else(
            || uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            str::to_owned,
        );
        self.setting_or_insert("install_id", &id).await
    }

    /// A setting.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_as::<_, (String,)>("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.0))
    }

    /// Sets a setting.
    pub async fn setting_put(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored value of `key`, storing `value` when there is none: the first writer wins,
    /// and replicas starting at once all get the same answer.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(self.setting(key).await?.unwrap_or_else(|| value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    /// The names in an SQL list `('a', 'b')`.
    fn sql_list(l: &str) -> Vec<String> {
        l.trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .map(|s| s.trim_matches('\'').to_owned())
            .collect()
    }

    #[test]
    fn the_sql_lists_of_states_are_the_domains() {
        use podwarden_core::state::{AttemptState, JobState};
        let jobs = |f: fn(JobState) -> bool| -> Vec<String> {
            JobState::ALL.into_iter().filter(|s| f(*s)).map(|s| s.as_str().to_owned()).collect()
        };
        assert_eq!(sql_list(final_job_states!()), jobs(JobState::is_final));
        assert_eq!(sql_list(live_job_states!()), jobs(JobState::is_live));
        let attempts: Vec<String> = AttemptState::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(sql_list(live_attempt_states!()), attempts);
        use podwarden_core::state::{EndpointState, VolumeState};
        assert_eq!(sql_list(deleted!()), [VolumeState::Deleted.as_str()]);
        assert_eq!(sql_list(deleted!()), [EndpointState::Deleted.as_str()]);
        use podwarden_core::{Account, ProviderKind};
        let hosted: Vec<String> = [ProviderKind::RunPod, ProviderKind::Aws]
            .map(|p| Account::hosted_on(p).to_string())
            .into();
        assert_eq!(sql_list(hosted_accounts!()), hosted);
        assert!(hosted.iter().all(|a| a.parse::<Account>().is_ok_and(|a| a.is_hosted())));
    }

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
