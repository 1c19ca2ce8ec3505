//! The embedded emulator: with no RunPod key, `podwarden serve` runs against a local emulator
//! of RunPod's APIs (pods are sandboxed local processes), so the whole flow works offline.
//!
//! Owns: starting it (its state under the data directory, the volumes made on earlier runs
//! known to it again, its request budgets compressed with a short tick), and adopting its
//! seeded volumes as the admin's.
//!
//! Only with the `embedded-emulator` feature (on for the `podwarden` binary, off for the
//! server image): without it the emulator is not linked, and a server with no key says so.

use crate::{S3Settings, ServerConfig};
use podwarden_store::Store;

#[cfg(feature = "embedded-emulator")]
pub use runpod_emulator::EmulatorConfig;

/// Without the emulator there is nothing to configure.
#[cfg(not(feature = "embedded-emulator"))]
#[derive(Debug, Clone, Default)]
pub struct EmulatorConfig {}

/// The emulator's settings a server starts with: pods boot in a second.
pub(crate) fn default_config() -> EmulatorConfig {
    #[cfg(feature = "embedded-emulator")]
    {
        let mut c = EmulatorConfig::default();
        c.pods.provisioning_secs = 1.0;
        c.pods.starting_secs = 1.0;
        c
    }
    #[cfg(not(feature = "embedded-emulator"))]
    EmulatorConfig::default()
}

/// A running embedded emulator.
#[derive(Debug)]
pub(crate) struct Embedded {
    #[cfg(feature = "embedded-emulator")]
    emu: runpod_emulator::RunningEmulator,
    #[cfg(not(feature = "embedded-emulator"))]
    never: std::convert::Infallible,
}

#[cfg(feature = "embedded-emulator")]
impl Embedded {
    /// Starts it for `cfg`'s data directory.
    pub(crate) async fn start(
        cfg: &ServerConfig,
        store: &Store,
        server_port: u16,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let mut ecfg = cfg.emulator.clone();
        ecfg.state_dir = Some(cfg.home.join("emulator"));
        // Pods call this server back (exits, metrics): its port is one a container may reach.
        ecfg.allow_host_ports.push(server_port);
        // Volumes made on an earlier run: their files are still under the state directory,
        // and RunPod keeps a volume until it is deleted, so the emulator must know them again.
        for v in store.volumes_on(&podwarden_core::Account::Hosted).await? {
            let Some(id) =
                v.volume_id.filter(|_| v.state == podwarden_core::state::VolumeState::Ready)
            else {
                continue;
            };
            if !ecfg.volumes.iter().any(|s| s.id == id) {
                ecfg.volumes.push(runpod_emulator::config::VolumeSeed {
                    id,
                    name: v.resource_name,
                    data_center: v.data_center,
                    size: v.size_gb,
                    dir: None,
                });
            }
        }
        // A reconcile period shorter than the default compresses time; RunPod's request
        // budgets are compressed with it, so calls per budget stay what they are in production.
        let factor = (std::time::Duration::from_secs(2).as_millis() / cfg.tick.as_millis().max(1))
            .max(1) as u64;
        ecfg.rate_limits.scale(factor);
        let emu = runpod_emulator::start(ecfg, runpod_emulator::Options::default())
            .await
            .context("cannot start the embedded emulator")?;
        Ok(Self { emu })
    }

    pub(crate) fn client(&self) -> runpod::Client {
        self.emu.client()
    }

    pub(crate) fn base_url(&self) -> String {
        self.emu.base_url().to_string()
    }

    /// Its S3 endpoints and the operator's S3 key.
    pub(crate) fn s3_settings(&self) -> S3Settings {
        S3Settings {
            data_centers: self.emu.s3_urls().keys().cloned().collect(),
            endpoints: self.emu.s3_urls().clone(),
            operator_key: self.emu.s3_credentials(self.emu.api_key().expose()),
        }
    }

    /// Its seeded volumes (the quickstart's) are the admin's, so `volume ls` shows them and
    /// `cp` reaches them.
    pub(crate) async fn adopt_seeded_volumes(&self, store: &Store) -> anyhow::Result<()> {
        let known: Vec<String> = store
            .volumes_on(&podwarden_core::Account::Hosted)
            .await?
            .into_iter()
            .filter_map(|v| v.volume_id)
            .collect();
        for v in &self.emu.shared.cfg.volumes {
            if !known.contains(&v.id)
                && store.volume_by_name(crate::users::ADMIN_ID, &v.name).await?.is_none()
            {
                store
                    .volume_insert(&podwarden_store::VolumeRow {
                        id: podwarden_core::ids::VolumeRecordId::new(),
                        owner: crate::users::ADMIN_ID.into(),
                        account: podwarden_core::Account::Hosted,
                        name: v.name.clone(),
                        resource_name: v.name.clone(),
                        volume_id: Some(v.id.clone()),
                        data_center: v.data_center.clone(),
                        size_gb: v.size,
                        state: podwarden_core::state::VolumeState::Ready,
                        created_at: 0,
                    })
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn shutdown(self) {
        self.emu.shutdown().await;
    }
}

#[cfg(not(feature = "embedded-emulator"))]
impl Embedded {
    pub(crate) async fn start(
        _cfg: &ServerConfig,
        _store: &Store,
        _server_port: u16,
    ) -> anyhow::Result<Self> {
        anyhow::bail!(
            "no RunPod key: set RUNPOD_API_KEY, or serve with `--provider runpod` so every user brings their own key; this build has no embedded emulator (the `embedded-emulator` feature) to run offline"
        )
    }

    pub(crate) fn client(&self) -> runpod::Client {
        match self.never {}
    }

    pub(crate) fn base_url(&self) -> String {
        match self.never {}
    }

    pub(crate) fn s3_settings(&self) -> S3Settings {
        match self.never {}
    }

    pub(crate) async fn adopt_seeded_volumes(&self, _store: &Store) -> anyhow::Result<()> {
        match self.never {}
    }

    pub(crate) async fn shutdown(self) {
        match self.never {}
    }
}
