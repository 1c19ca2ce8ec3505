//! `offer_stats`: what podwarden has seen of each offer from its own launches, and the
//! operator's pin or ban (`podwarden_core::learned` reads them); `offer_boots`: how each image
//! booted on each offer (the learned boot deadline); `offer_speeds`: how fast each workload (a
//! user's job by name and image) ran on each GPU type and count (the expected run in the
//! ranking).

use crate::{Result, Store};
use podwarden_core::learned::{
    BootRecord, BootSample, OfferEvent, OfferKey, OfferRecord, SpeedKey, SpeedRecord,
};
use sqlx::Row as _;

/// Adds one attempt's outcome to its offer's record, made when new.
const RECORD: &str = "INSERT INTO offer_stats (provider, gpu_type, data_center, cloud, boots, boot_ms_total, duds, losses, last_dud_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (provider, gpu_type, data_center, cloud) DO UPDATE SET \
     boots = offer_stats.boots + $5, boot_ms_total = offer_stats.boot_ms_total + $6, \
     duds = offer_stats.duds + $7, losses = offer_stats.losses + $8, \
     last_dud_at = COALESCE($9, offer_stats.last_dud_at), updated_at = $10";

/// Sets an offer's pin and ban, made when new.
const FLAG: &str = "INSERT INTO offer_stats (provider, gpu_type, data_center, cloud, pinned, banned, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (provider, gpu_type, data_center, cloud) DO UPDATE SET \
     pinned = $5, banned = $6, updated_at = $7";

/// Adds one boot sample of an image on an offer, made when new; the slowest is kept.
const BOOT_RECORD: &str = "INSERT INTO offer_boots (provider, gpu_type, data_center, cloud, image, boots, boot_ms_total, boot_ms_max, updated_at) \
     VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) \
     ON CONFLICT (provider, gpu_type, data_center, cloud, image) DO UPDATE SET \
     boots = offer_boots.boots + 1, boot_ms_total = offer_boots.boot_ms_total + $6, \
     boot_ms_max = CASE WHEN offer_boots.boot_ms_max > $7 THEN offer_boots.boot_ms_max ELSE $7 END, \
     updated_at = $8";

/// Adds one speed report of a workload on a GPU, made when new.
const SPEED_RECORD: &str = "INSERT INTO offer_speeds (owner, job_name, image, provider, gpu_type, gpu_count, reports, sps_total, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8) \
     ON CONFLICT (owner, job_name, image, provider, gpu_type, gpu_count) DO UPDATE SET \
     reports = offer_speeds.reports + 1, sps_total = offer_speeds.sps_total + $7, updated_at = $8";

/// The `SELECT` of every column a [`SpeedKey`] and [`SpeedRecord`] are read from.
macro_rules! select_speeds {
    () => {
        "SELECT owner, job_name, image, provider, gpu_type, gpu_count, reports, sps_total FROM offer_speeds"
    };
}

impl Store {
    /// Adds one attempt's outcome to its offer's record (made when new): one statement, so
    /// concurrent outcomes add up.
    pub async fn offer_record(&self, k: &OfferKey, e: OfferEvent, now: i64) -> Result<()> {
        let (boots, boot_ms, duds, losses, dud_at) = match e {
            OfferEvent::Booted { boot_ms } => (1i64, boot_ms.max(0), 0i64, 0i64, None),
            OfferEvent::Dud => (0, 0, 1, 0, Some(now)),
            OfferEvent::Lost => (0, 0, 0, 1, None),
        };
        let _w = self.writes.lock().await;
        bind_key(sqlx::query(RECORD), k)
            .bind(boots)
            .bind(boot_ms)
            .bind(duds)
            .bind(losses)
            .bind(dud_at)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Pins (tried first), bans (never tried) or clears an offer: the operator's word.
    pub async fn offer_flag(
        &self,
        k: &OfferKey,
        pinned: bool,
        banned: bool,
        now: i64,
    ) -> Result<()> {
        let _w = self.writes.lock().await;
        bind_key(sqlx::query(FLAG), k)
            .bind(pinned)
            .bind(banned)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every offer's record, in key order.
    pub async fn offer_stats(&self) -> Result<Vec<(OfferKey, OfferRecord)>> {
        // Booleans as integers: SQLite has none.
        let rows = sqlx::query(
            "SELECT provider, gpu_type, data_center, cloud, boots, boot_ms_total, duds, losses, last_dud_at, \
             CASE WHEN pinned THEN 1 ELSE 0 END AS pinned, CASE WHEN banned THEN 1 ELSE 0 END AS banned \
             FROM offer_stats ORDER BY provider, gpu_type, data_center, cloud",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    offer_key(r)?,
                    OfferRecord {
                        boots: r.try_get("boots")?,
                        boot_ms_total: r.try_get("boot_ms_total")?,
                        duds: r.try_get("duds")?,
                        losses: r.try_get("losses")?,
                        last_dud_at: r.try_get("last_dud_at")?,
                        pinned: r.try_get::<i64, _>("pinned")? != 0,
                        banned: r.try_get::<i64, _>("banned")? != 0,
                    },
                ))
            })
            .collect()
    }

    /// Adds one boot of `image` on the offer (or a pod ended at its learned deadline, which
    /// counts in the total but not as the slowest boot): one statement, so concurrent samples
    /// add up.
    pub async fn offer_boot_record(
        &self,
        k: &OfferKey,
        image: &str,
        sample: BootSample,
        now: i64,
    ) -> Result<()> {
        let (boot_ms, slowest) = match sample {
            BootSample::Booted(ms) => (ms.max(0), ms.max(0)),
            BootSample::DeadlinePassed(ms) => (ms.max(0), 0),
        };
        let _w = self.writes.lock().await;
        bind_key(sqlx::query(BOOT_RECORD), k)
            .bind(image)
            .bind(boot_ms)
            .bind(slowest)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How `image` booted on each offer it booted on.
    pub async fn offer_boots(&self, image: &str) -> Result<Vec<(OfferKey, BootRecord)>> {
        let rows = sqlx::query(
            "SELECT provider, gpu_type, data_center, cloud, boots, boot_ms_total, boot_ms_max \
             FROM offer_boots WHERE image = $1 ORDER BY provider, gpu_type, data_center, cloud",
        )
        .bind(image)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    offer_key(r)?,
                    BootRecord {
                        boots: r.try_get("boots")?,
                        boot_ms_total: r.try_get("boot_ms_total")?,
                        boot_ms_max: r.try_get("boot_ms_max")?,
                    },
                ))
            })
            .collect()
    }

    /// Adds one speed report (`sps`, a metrics batch's mean samples per second) of a workload
    /// on a GPU: one statement, so concurrent reports add up.
    pub async fn offer_speed_record(&self, k: &SpeedKey, sps: f64, now: i64) -> Result<()> {
        let _w = self.writes.lock().await;
        sqlx::query(SPEED_RECORD)
            .bind(&k.owner)
            .bind(&k.job_name)
            .bind(&k.image)
            .bind(&k.provider)
            .bind(&k.gpu_type)
            .bind(k.gpu_count)
            .bind(sps)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How fast one workload (`owner`'s job `job_name` of `image`) ran on each GPU.
    pub async fn offer_speeds_of(
        &self,
        owner: &str,
        job_name: &str,
        image: &str,
    ) -> Result<Vec<(SpeedKey, SpeedRecord)>> {
        let rows = sqlx::query(concat!(
            select_speeds!(),
            " WHERE owner = $1 AND job_name = $2 AND image = $3",
            " ORDER BY provider, gpu_type, gpu_count"
        ))
        .bind(owner)
        .bind(job_name)
        .bind(image)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(speed_row).collect()
    }

    /// How fast every workload ran on each GPU.
    pub async fn offer_speeds(&self) -> Result<Vec<(SpeedKey, SpeedRecord)>> {
        let rows = sqlx::query(concat!(
            select_speeds!(),
            " ORDER BY owner, job_name, image, provider, gpu_type, gpu_count"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(speed_row).collect()
    }
}

/// A row of `offer_speeds`.
fn speed_row(r: &sqlx::any::AnyRow) -> Result<(SpeedKey, SpeedRecord)> {
    Ok((
        SpeedKey {
            owner: r.try_get("owner")?,
            job_name: r.try_get("job_name")?,
            image: r.try_get("image")?,
            provider: r.try_get("provider")?,
            gpu_type: r.try_get("gpu_type")?,
            gpu_count: r.try_get("gpu_count")?,
        },
        SpeedRecord { reports: r.try_get("reports")?, sps_total: r.try_get("sps_total")? },
    ))
}

/// The offer a row of `offer_stats` or `offer_boots` is about.
fn offer_key(r: &sqlx::any::AnyRow) -> std::result::Result<OfferKey, sqlx::Error> {
    Ok(OfferKey {
        provider: r.try_get("provider")?,
        gpu_type: r.try_get("gpu_type")?,
        data_center: r.try_get("data_center")?,
        cloud: r.try_get("cloud")?,
    })
}

/// `q` with an offer's key bound as `$1`-`$4` (provider, GPU type, data center, tier).
fn bind_key<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    k: &'q OfferKey,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&k.provider).bind(&k.gpu_type).bind(&k.data_center).bind(&k.cloud)
}
