//! `endpoints`: serverless endpoints podwarden owns. The row (with the deterministic resource
//! name its template and endpoint get) is committed before either is created; state changes
//! are compare-and-swap on `generation`.

use crate::{Result, Store};
use podwarden_core::state::EndpointState;
use podwarden_core::{Account, EndpointRecordId};

/// An endpoint as stored. States: `intent` (row written, resources maybe not), `ready`,
/// `deleting` (removal requested, retried until the provider confirms), `deleted` (final).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: EndpointRecordId,
    pub name: String,
    pub owner: String,
    pub spec: String,
    pub spec_hash: String,
    #[sqlx(try_from = "String")]
    pub state: EndpointState,
    pub generation: i64,
    pub resource_name: String,
    pub template_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The account it lives on.
    #[sqlx(try_from = "String")]
    pub account: Account,
}

macro_rules! columns {
    () => {
        "id, name, owner, spec, spec_hash, state, generation, resource_name, template_id, endpoint_id, reason, created_at, updated_at, account"
    };
}

impl EndpointRow {}

impl Store {
    /// Commits a new endpoint's intent.
    pub async fn endpoint_insert(&self, e: &EndpointRow) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO endpoints (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(e.id)
        .bind(&e.name)
        .bind(&e.owner)
        .bind(&e.spec)
        .bind(&e.spec_hash)
        .bind(e.state.as_str())
        .bind(e.generation)
        .bind(&e.resource_name)
        .bind(&e.template_id)
        .bind(&e.endpoint_id)
        .bind(&e.reason)
        .bind(e.created_at)
        .bind(e.updated_at)
        .bind(e.account.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The owner's live endpoint called `name`.
    pub async fn endpoint_by_name(&self, owner: &str, name: &str) -> Result<Option<EndpointRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM endpoints WHERE owner = $1 AND name = $2 AND state <> ",
            deleted!()
        ))
        .bind(owner)
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A live endpoint an admin deployed (published: every user may send it jobs).
    pub async fn endpoint_published(&self, name: &str) -> Result<Option<EndpointRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM endpoints WHERE name = $1 AND state <> ",
            deleted!(),
            " AND account = 'hosted' AND owner IN (SELECT id FROM users WHERE is_admin) ORDER BY id LIMIT 1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }

    /// One endpoint by its row id (deleted ones included).
    pub async fn endpoint_get(&self, id: EndpointRecordId) -> Result<Option<EndpointRow>> {
        Ok(sqlx::query_as(concat!("SELECT ", columns!(), " FROM endpoints WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Endpoints of `account` that ever had a provider endpoint (deleted ones included: their
    /// last hours' bills may still be due), oldest first.
    pub async fn endpoints_billable(&self, account: &Account) -> Result<Vec<EndpointRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM endpoints WHERE account = $1 AND endpoint_id IS NOT NULL ORDER BY id"
        ))
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?)
    }

    /// Live endpoints (all owners), oldest first.
    pub async fn endpoints_live(&self) -> Result<Vec<EndpointRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM endpoints WHERE state <> ",
            deleted!(),
            " ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// Compare-and-swap write; on success `e` becomes the stored row.
    pub async fn endpoint_cas(&self, e: &mut EndpointRow, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let stored: Option<EndpointRow> = sqlx::query_as(concat!(
            "UPDATE endpoints SET spec = $1, spec_hash = $2, state = $3, template_id = $4, endpoint_id = $5, reason = $6, updated_at = $7, \
             generation = generation + 1 WHERE id = $8 AND generation = $9 RETURNING ",
            columns!()
        ))
        .bind(&e.spec)
        .bind(&e.spec_hash)
        .bind(e.state.as_str())
        .bind(&e.template_id)
        .bind(&e.endpoint_id)
        .bind(&e.reason)
        .bind(now_ms)
        .bind(e.id)
        .bind(e.generation)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(stored) = stored else { return Ok(false) };
        *e = stored;
        Ok(true)
    }
}
