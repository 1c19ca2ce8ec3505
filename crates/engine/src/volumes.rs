//! Network volumes a user makes through podwarden, on the account they compute on.
//!
//! Owns: `volumes` rows and the provider volumes named `pw-<install>-vol-<hex>`.
//! Invariants: the row is committed (`creating`) before the provider is asked, so a create lost
//! to a crash is found again by its provider name (adopted, or forgotten when the provider has
//! no such volume) the next time the owner's volumes are listed (`settle_volumes`); a volume
//! is never deleted while a live job of its owner mounts it (an endpoint that mounts it is not
//! checked yet); volumes hold users' data, so nothing deletes
//! one but its owner.

use crate::provider::{Provider, ProviderError, VolumeInfo};
use crate::{Engine, EngineError};
use podwarden_core::money::Money;
use podwarden_core::state::VolumeState;
use podwarden_store::VolumeRow;

/// RunPod's network volume price under 1 TB: USD per GB-month.
pub const USD_PER_GB_MONTH: f64 = 0.07;

/// How long a `creating` row may wait for its provider call before a listing settles it.
const CREATE_GRACE_MS: i64 = 60_000;

/// What a volume costs a month.
pub fn monthly_cost(size_gb: i64) -> Money {
    Money::from_usd(size_gb as f64 * USD_PER_GB_MONTH)
}

/// Checks a volume name: 1–40 lowercase letters, digits and `-`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid volume name: use 1–40 lowercase letters, digits and `-`"
        ))
    }
}

impl<C: Provider> Engine<C> {
    /// Creates a network volume for `owner` in `data_center`.
    pub async fn volume_create(
        &self,
        owner: &str,
        name: &str,
        size_gb: i64,
        data_center: &str,
    ) -> Result<VolumeRow, EngineError> {
        check_name(name).map_err(EngineError::BadVolume)?;
        if !(10..=4096).contains(&size_gb) {
            return Err(EngineError::BadVolume(format!(
                "size_gb {size_gb}: a network volume is 10 to 4096 GB"
            )));
        }
        let id = podwarden_core::ids::VolumeRecordId::new();
        let row = VolumeRow {
            id,
            owner: owner.to_owned(),
            account: self.account.clone(),
            name: name.to_owned(),
            resource_name: format!("pw-{}-vol-{}", self.install(), id.hex()),
            volume_id: None,
            data_center: data_center.to_owned(),
            size_gb,
            state: VolumeState::Creating,
            created_at: self.now_ms(),
        };
        if !self.store().volume_insert(&row).await? {
            return Err(EngineError::WrongState {
                job: name.to_owned(),
                what: "created",
                state: "you already have a volume of that name".into(),
            });
        }
        match self.provider().create_network_volume(&row.resource_name, size_gb, data_center).await
        {
            Ok(v) => {
                self.store().volume_set(row.id, VolumeState::Ready, Some(&v.id)).await?;
                Ok(VolumeRow { volume_id: Some(v.id), state: VolumeState::Ready, ..row })
            }
            Err(
                e @ (ProviderError::Rejected(_)
                | ProviderError::Auth(_)
                | ProviderError::InsufficientBalance(_)
                | ProviderError::NoCapacity(_)),
            ) => {
                self.store().volume_forget(row.id).await?;
                Err(e.into())
            }
            // It may exist: the next listing adopts it by name or forgets the row.
            Err(e) => Err(e.into()),
        }
    }

    /// An owner's volume `rows` on this engine's account (from `Store::volumes_of`), with
    /// creates a crash or a lost response left `creating` settled: adopted by name, or
    /// forgotten when the provider has no such volume.
    pub async fn settle_volumes(
        &self,
        mut rows: Vec<VolumeRow>,
    ) -> Result<Vec<VolumeRow>, EngineError> {
        let now = self.now_ms();
        if rows
            .iter()
            .any(|v| v.state == VolumeState::Creating && now - v.created_at > CREATE_GRACE_MS)
        {
            let at_provider: Vec<VolumeInfo> = self.provider().list_network_volumes().await?;
            for v in rows.iter_mut().filter(|v| {
                v.state == VolumeState::Creating && now - v.created_at > CREATE_GRACE_MS
            }) {
                match at_provider.iter().find(|p| p.name == v.resource_name) {
                    Some(p) => {
                        self.store().volume_set(v.id, VolumeState::Ready, Some(&p.id)).await?;
                        (v.state, v.volume_id) = (VolumeState::Ready, Some(p.id.clone()));
                    }
                    None => {
                        self.store().volume_forget(v.id).await?;
                        v.state = VolumeState::Deleted;
                    }
                }
            }
            rows.retain(|v| v.state != VolumeState::Deleted);
        }
        Ok(rows)
    }

    /// Deletes the owner's volume `name` (and its files). Refused while a live job or endpoint
    /// of the owner uses it.
    pub async fn volume_remove(&self, owner: &str, name: &str) -> Result<VolumeRow, EngineError> {
        let row = self
            .store()
            .volume_by_name(owner, name)
            .await?
            .ok_or_else(|| EngineError::BadVolume(format!("no volume named {name:?}")))?;
        let Some(vid) = row.volume_id.clone() else {
            return Err(EngineError::WrongState {
                job: name.to_owned(),
                what: "removed",
                state: "it is still being created".into(),
            });
        };
        let in_use = {
            let live = self.store().live();
            let jobs: Vec<String> = live
                .jobs()
                .filter(|j| {
                    j.owner == owner
                        && j.spec().is_ok_and(|s| s.network_volume.as_deref() == Some(vid.as_str()))
                })
                .map(|j| j.name.clone())
                .collect();
            jobs
        };
        if !in_use.is_empty() {
            return Err(EngineError::WrongState {
                job: name.to_owned(),
                what: "removed",
                state: format!("job {} uses it", in_use.join(", ")),
            });
        }
        self.provider().delete_network_volume(&vid).await?;
        self.store().volume_set(row.id, VolumeState::Deleted, None).await?;
        Ok(VolumeRow { state: VolumeState::Deleted, ..row })
    }
}
