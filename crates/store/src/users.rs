//! `users` and `api_tokens`: who may call the API. Tokens are stored as SHA-256 hashes.

use crate::{Result, Store};
use podwarden_core::Money;

/// A user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub is_admin: bool,
    pub created_at: i64,
    /// The operator's cap on this user's hosted spend, micro-USD.
    pub spend_cap: Option<Money>,
}

/// The columns a `UserRow` is read from. `is_admin` is read as an integer: SQLite has no
/// boolean to give back, and sqlx's `Any` driver decodes a bool only from a real one.
macro_rules! user_columns {
    () => {
        "u.id, u.name, CASE WHEN u.is_admin THEN 1 ELSE 0 END AS is_admin, u.created_at, u.spend_cap_micros"
    };
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for UserRow {
    fn from_row(row: &'r sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            is_admin: row.try_get::<i64, _>("is_admin")? != 0,
            created_at: row.try_get("created_at")?,
            spend_cap: row.try_get("spend_cap_micros")?,
        })
    }
}

/// An API token (its hash).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub label: String,
    pub created_at: i64,
}

impl Store {
    /// Sets (or clears) a user's hosted spend cap; false when there is no such user.
    pub async fn user_set_spend_cap(&self, id: &str, cap: Option<Money>) -> Result<bool> {
        let r = sqlx::query("UPDATE users SET spend_cap_micros = $1 WHERE id = $2")
            .bind(cap)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// What a user has spent or reserved on hosted compute: settled spend of ended jobs, the
    /// budget (or spend, when higher) of live ones, and their serverless jobs' cost.
    pub async fn hosted_committed(&self, owner: &str) -> Result<Money> {
        let mut conn = self.pool().acquire().await?;
        crate::spend::committed(&mut conn, owner).await
    }

    /// Adds a user; false (nothing written) when its name is taken ([`Store::user_name_taken`]),
    /// also by a concurrent insert the check could not see.
    pub async fn user_insert(&self, u: &UserRow) -> Result<bool> {
        // One statement, so SQLite takes its write lock up front and waits for it: a
        // transaction that read first and wrote second got an immediate SQLITE_BUSY when
        // another write landed in between (the contract fuzzer's 503). On Postgres the name
        // lock makes the check and the insert one step for concurrent inserts too.
        let mut tx = self.write_tx().await?;
        lock_names(self.backend(), &mut tx).await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, name, is_admin, created_at) SELECT $1, $2, $3, $4 \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE LOWER(name) = LOWER($2) OR LOWER(id) = LOWER($2))",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(u.is_admin)
        .bind(u.created_at)
        .execute(&mut *tx)
        .await;
        let landed = match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
            r => r?.rows_affected() == 1,
        };
        tx.commit().await?;
        Ok(landed)
    }

    /// Whether `name` is taken: by a user's name or id, compared without case (`Admin` is
    /// `admin`; a name may not be an id such as `local`).
    pub async fn user_name_taken(&self, name: &str) -> Result<bool> {
        let mut conn = self.pool().acquire().await?;
        name_taken(&mut conn, name).await
    }

    /// Every user, oldest first.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u ORDER BY u.created_at, u.id"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// One user.
    pub async fn user_get(&self, id: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The user a token hash belongs to.
    pub async fn user_by_token_hash(&self, hash: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u JOIN api_tokens t ON t.user_id = u.id WHERE t.token_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Adds a token (its hash).
    pub async fn token_insert(&self, t: &TokenRow) -> Result<()> {
        sqlx::query("INSERT INTO api_tokens (id, user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&t.id)
            .bind(&t.user_id)
            .bind(&t.token_hash)
            .bind(&t.label)
            .bind(t.created_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A user's tokens, oldest first.
    pub async fn tokens_of(&self, user_id: &str) -> Result<Vec<TokenRow>> {
        Ok(sqlx::query_as("SELECT id, user_id, token_hash, label, created_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Deletes one of a user's tokens; `false` when the user has no such token.
    pub async fn token_delete(&self, user_id: &str, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

/// A user's encrypted provider key (hex nonce and ciphertext).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProviderKeyRow {
    pub user_id: String,
    pub provider: String,
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
    pub last4: String,
    pub created_at: i64,
}

impl Store {
    /// Saves (replaces) a user's key of `k.provider`.
    pub async fn provider_key_put(&self, k: &ProviderKeyRow) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM provider_keys WHERE user_id = $1 AND provider = $2")
            .bind(&k.user_id)
            .bind(&k.provider)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO provider_keys (user_id, provider, key_id, nonce, ciphertext, last4, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.user_id)
        .bind(&k.provider)
        .bind(&k.key_id)
        .bind(&k.nonce)
        .bind(&k.ciphertext)
        .bind(&k.last4)
        .bind(k.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's key of `provider` (`runpod`, `aws`).
    pub async fn provider_key_get(
        &self,
        user_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderKeyRow>> {
        Ok(sqlx::query_as("SELECT user_id, provider, key_id, nonce, ciphertext, last4, created_at FROM provider_keys WHERE user_id = $1 AND provider = $2")
            .bind(user_id)
            .bind(provider)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Every stored provider key (for secret rotation).
    pub async fn provider_keys(&self) -> Result<Vec<ProviderKeyRow>> {
        Ok(sqlx::query_as("SELECT user_id, provider, key_id, nonce, ciphertext, last4, created_at FROM provider_keys ORDER BY user_id, provider")
            .fetch_all(self.pool())
            .await?)
    }

    /// Removes a user's key of `provider`; `false` when there was none.
    pub async fn provider_key_delete(&self, user_id: &str, provider: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM provider_keys WHERE user_id = $1 AND provider = $2")
            .bind(user_id)
            .bind(provider)
            .execute(self.pool())
            .await?
            .rows_affected()
            > 0)
    }
}

/// [`Store::user_name_taken`] on a connection (inside a transaction).
/// Makes user names one writer's at a time on Postgres, until the transaction ends: names are
/// unique without case, which no index of the schema says, so two inserts of `Ann` and `ann`
/// would otherwise both pass their checks. SQLite has one writer at a time anyway (a
/// transaction whose first statement writes takes the lock, waiting for it).
pub(crate) async fn lock_names(
    backend: crate::Backend,
    tx: &mut sqlx::AnyConnection,
) -> Result<()> {
    if backend == crate::Backend::Postgres {
        // Any constant: the key of the user-name lock.
        sqlx::query("SELECT pg_advisory_xact_lock(4242001)").execute(&mut *tx).await?;
    }
    Ok(())
}

pub(crate) async fn name_taken(conn: &mut sqlx::AnyConnection, name: &str) -> Result<bool> {
    let taken: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM users WHERE LOWER(name) = LOWER($1) OR LOWER(id) = LOWER($1) LIMIT 1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(taken.is_some())
}
