//! `users` and `api_tokens`: who may call the API. Tokens are stored as SHA-256 hashes.

use crate::{Result, Store};

/// A user.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub is_admin: bool,
    pub created_at: i64,
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
    /// Adds a user.
    pub async fn user_insert(&self, u: &UserRow) -> Result<()> {
        sqlx::query("INSERT INTO users (id, name, is_admin, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&u.id)
            .bind(&u.name)
            .bind(u.is_admin)
            .bind(u.created_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every user, oldest first.
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as("SELECT id, name, is_admin, created_at FROM users ORDER BY created_at, id").fetch_all(self.pool()).await?)
    }

    /// One user.
    pub async fn user_get(&self, id: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT id, name, is_admin, created_at FROM users WHERE id = $1").bind(id).fetch_optional(self.pool()).await?)
    }

    /// The user a token hash belongs to.
    pub async fn user_by_token_hash(&self, hash: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(
            "SELECT u.id, u.name, u.is_admin, u.created_at FROM users u JOIN api_tokens t ON t.user_id = u.id WHERE t.token_hash = $1",
        )
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
        let r = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2").bind(id).bind(user_id).execute(self.pool()).await?;
        Ok(r.rows_affected() > 0)
    }
}
