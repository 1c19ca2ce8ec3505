//! Databases for tests, on either backend. Every store, engine and server test opens its store
//! through here, so one switch runs the whole suite on Postgres:
//! `PODWARDEN_TEST_DATABASE=postgres` (the Postgres is `PODWARDEN_TEST_POSTGRES`, by default
//! the local server's `test` database). Each Postgres store gets a fresh schema of its own, so
//! tests never see each other's rows.
//!
//! In CI (`CI` set) a missing Postgres fails the test; elsewhere a Postgres-only test says it
//! skipped.

use crate::{Backend, Result, Store};
use sqlx::{AssertSqlSafe, Connection};

/// The Postgres tests use.
pub fn postgres_url() -> String {
    std::env::var("PODWARDEN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The backend this test run uses (`PODWARDEN_TEST_DATABASE`: `sqlite`, the default, or
/// `postgres`).
pub fn backend() -> Backend {
    match std::env::var("PODWARDEN_TEST_DATABASE").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A URL of a fresh, empty schema in the test Postgres; `None` (after saying so) when there is
/// no Postgres outside CI.
pub async fn fresh_postgres() -> Option<String> {
    let url = postgres_url();
    let mut pg = match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("Postgres at {url}: {e} (set PODWARDEN_TEST_POSTGRES)")
        }
        Err(e) => {
            eprintln!("note: no Postgres at {url} ({e}); skipping (set PODWARDEN_TEST_POSTGRES)");
            return None;
        }
    };
    let schema = format!("pw_test_{}", uuid::Uuid::new_v4().simple());
    // Only our own uuid-named schema is spliced in.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut pg)
        .await
        .expect("create a test schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

/// A fresh store on this run's backend: a private in-memory SQLite, or a fresh Postgres schema.
pub async fn open() -> Result<Store> {
    match backend() {
        Backend::Sqlite => Store::open_memory().await,
        Backend::Postgres => {
            let url =
                fresh_postgres().await.expect("PODWARDEN_TEST_DATABASE=postgres needs a Postgres");
            Store::open_postgres(&url).await
        }
    }
}

/// A database URL on this run's backend for a server: `None` means the server's own SQLite
/// file in its data dir.
pub async fn server_database() -> Option<String> {
    match backend() {
        Backend::Sqlite => None,
        Backend::Postgres => {
            Some(fresh_postgres().await.expect("PODWARDEN_TEST_DATABASE=postgres needs a Postgres"))
        }
    }
}

/// A database tests can open again (what a restarted server sees): a SQLite file in a private
/// temporary directory, or a fresh Postgres schema.
#[derive(Debug)]
pub struct TestDb {
    /// What `Store::open_url` opens.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// On this run's backend.
    pub async fn new() -> Self {
        match backend() {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => {
                Self::postgres().await.expect("PODWARDEN_TEST_DATABASE=postgres needs a Postgres")
            }
        }
    }

    /// A SQLite file.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = dir.path().join("podwarden.db").display().to_string();
        Self { url, _dir: Some(dir) }
    }

    /// A fresh Postgres schema; `None` when there is none outside CI.
    pub async fn postgres() -> Option<Self> {
        Some(Self { url: fresh_postgres().await?, _dir: None })
    }

    /// Opens it (again).
    pub async fn open(&self) -> Result<Store> {
        Store::open_url(&self.url).await
    }
}

/// Adds user `id` (not an admin) with a hosted spend cap of `cap`; panics on failure (tests).
pub async fn capped_user(store: &Store, id: &str, cap: podwarden_core::money::Money) {
    let user = crate::UserRow {
        id: id.into(),
        name: id.into(),
        is_admin: false,
        created_at: 0,
        spend_cap: None,
    };
    assert!(store.user_insert(&user).await.expect("user"));
    assert!(store.user_set_spend_cap(id, Some(cap)).await.expect("cap"));
}
