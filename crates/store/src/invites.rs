//! `invites`: codes an operator issues so that a person (or a bot acting for one) can create
//! their own user. A code is redeemed at most once and only before it expires; the user it
//! creates gets the invite's spend cap. Only the code's hash is stored.

use crate::{Result, Store, UserRow};
use podwarden_core::Money;

/// An invite (never its code).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InviteRow {
    pub id: String,
    pub code_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[sqlx(rename = "spend_cap_micros")]
    pub spend_cap: Option<Money>,
    /// What the operator wrote about whom it is for.
    pub note: String,
    pub redeemed_by: Option<String>,
    pub redeemed_at: Option<i64>,
}

/// Why a redemption made no user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeem {
    /// The user was created.
    Created,
    /// No invite has this code, or it was used, or it expired.
    Invalid,
    /// The name is taken; the invite is still unused.
    NameTaken,
}

impl Store {
    /// Adds an invite.
    pub async fn invite_insert(&self, i: &InviteRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (id, code_hash, created_by, created_at, expires_at, spend_cap_micros, note) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&i.id)
        .bind(&i.code_hash)
        .bind(&i.created_by)
        .bind(i.created_at)
        .bind(i.expires_at)
        .bind(i.spend_cap)
        .bind(&i.note)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every invite, newest first.
    pub async fn invites(&self) -> Result<Vec<InviteRow>> {
        Ok(sqlx::query_as(
            "SELECT id, code_hash, created_by, created_at, expires_at, spend_cap_micros, note, redeemed_by, redeemed_at FROM invites ORDER BY created_at DESC, id DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Redeems the invite whose code hashes to `code_hash` by creating `user` (its spend cap
    /// is the invite's), in one transaction: the invite is marked used and the user inserted
    /// together, so two redemptions of one code make one user.
    pub async fn invite_redeem(&self, code_hash: &str, user: &UserRow) -> Result<Redeem> {
        let mut tx = self.write_tx().await?;
        crate::users::lock_names(self.backend(), &mut tx).await?;
        let cap: Option<(Option<Money>,)> = sqlx::query_as(
            "UPDATE invites SET redeemed_by = $1, redeemed_at = $2 WHERE code_hash = $3 AND redeemed_by IS NULL AND expires_at > $2 RETURNING spend_cap_micros",
        )
        .bind(&user.id)
        .bind(user.created_at)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((cap,)) = cap else {
            return Ok(Redeem::Invalid);
        };
        if crate::users::name_taken(&mut tx, &user.name).await? {
            // Dropping the transaction rolls the invite back to unused.
            return Ok(Redeem::NameTaken);
        }
        let inserted = sqlx::query(
            "INSERT INTO users (id, name, is_admin, created_at, spend_cap_micros) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(false)
        .bind(user.created_at)
        .bind(cap)
        .execute(&mut *tx)
        .await;
        match inserted {
            // Another redemption took the name meanwhile (the check cannot see it).
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(Redeem::NameTaken);
            }
            r => r?,
        };
        tx.commit().await?;
        Ok(Redeem::Created)
    }
}
