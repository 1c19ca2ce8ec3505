//! `volumes`: the network volumes users made through podwarden. A row is written (`creating`)
//! before the provider is asked, so a create lost to a crash is found by its resource name.

use crate::{Result, Store};
use podwarden_core::Account;
use podwarden_core::ids::VolumeRecordId;
use podwarden_core::state::VolumeState;

/// One volume.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct VolumeRow {
    pub id: VolumeRecordId,
    pub owner: String,
    #[sqlx(try_from = "String")]
    pub account: Account,
    /// The user's name for it (unique per user among live volumes).
    pub name: String,
    /// The provider-side name, `pw-<install>-vol-<id>`.
    pub resource_name: String,
    pub volume_id: Option<String>,
    pub data_center: String,
    pub size_gb: i64,
    #[sqlx(try_from = "String")]
    pub state: VolumeState,
    pub created_at: i64,
}

/// A volume row's columns, in `VolumeRow`'s order.
macro_rules! volume_columns {
    () => {
        "id, owner, account, name, resource_name, volume_id, data_center, size_gb, state, created_at"
    };
}

impl Store {
    /// Inserts a new volume row; `false` when the owner already has a live one of that name.
    pub async fn volume_insert(&self, v: &VolumeRow) -> Result<bool> {
        let _w = self.writes.lock().await;
        // One statement, so SQLite takes its write lock up front and waits for it: a
        // transaction that read first and wrote second got an immediate SQLITE_BUSY when
        // another write landed in between (the contract fuzzer's 503 on `POST /volumes`, as
        // for users before).
        let r = sqlx::query(concat!(
            "INSERT INTO volumes (",
            volume_columns!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
             WHERE NOT EXISTS (SELECT 1 FROM volumes WHERE owner = $2 AND name = $4 AND state <> ",
            deleted!(),
            ")"
        ))
        .bind(v.id)
        .bind(&v.owner)
        .bind(v.account.to_string())
        .bind(&v.name)
        .bind(&v.resource_name)
        .bind(&v.volume_id)
        .bind(&v.data_center)
        .bind(v.size_gb)
        .bind(v.state.as_str())
        .bind(v.created_at)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Sets a volume's state and provider id.
    pub async fn volume_set(
        &self,
        id: VolumeRecordId,
        state: VolumeState,
        volume_id: Option<&str>,
    ) -> Result<()> {
        let _w = self.writes.lock().await;
        sqlx::query(
            "UPDATE volumes SET state = $2, volume_id = COALESCE($3, volume_id) WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(volume_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes a row whose create the provider refused.
    pub async fn volume_forget(&self, id: VolumeRecordId) -> Result<()> {
        let _w = self.writes.lock().await;
        sqlx::query("DELETE FROM volumes WHERE id = $1").bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// An owner's live volumes, oldest first.
    pub async fn volumes_of(&self, owner: &str) -> Result<Vec<VolumeRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            volume_columns!(),
            " FROM volumes WHERE owner = $1 AND state <> ",
            deleted!(),
            " ORDER BY created_at, id"
        ))
        .bind(owner)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every owner's live volumes on `account`, oldest first.
    pub async fn volumes_on(&self, account: &Account) -> Result<Vec<VolumeRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            volume_columns!(),
            " FROM volumes WHERE account = $1 AND state <> ",
            deleted!(),
            " ORDER BY created_at, id"
        ))
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?)
    }

    /// An owner's live volume by name.
    pub async fn volume_by_name(&self, owner: &str, name: &str) -> Result<Option<VolumeRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            volume_columns!(),
            " FROM volumes WHERE owner = $1 AND name = $2 AND state <> ",
            deleted!()
        ))
        .bind(owner)
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }
}
