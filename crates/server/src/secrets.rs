//! The server's own secrets at start: the job-token secret and the key that seals users'
//! provider keys, from the settings or kept in the data directory, checked to agree with the
//! other replicas' on a shared database, and rotated (`podwarden admin rotate-secret`).

use crate::config::ServerConfig;
use crate::keys;
use anyhow::Context;
use podwarden_store::Store;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;

/// Re-encrypts every stored provider key sealed by `old` under `new` (`podwarden admin
/// rotate-secret`); returns how many were re-encrypted.
pub async fn rotate_secret(db: &str, new: &str, old: &str) -> anyhow::Result<usize> {
    let sealer = keys::Sealer::new(new, Some(old))?;
    // `db`: a Postgres URL or a SQLite file (never printed: a URL may hold a password).
    let store = Store::open_url(db).await.context("cannot open the database")?;
    let mut n = 0;
    for mut row in store.provider_keys().await? {
        let sealed = keys::Sealed {
            key_id: row.key_id.clone(),
            nonce: row.nonce.clone(),
            ciphertext: row.ciphertext.clone(),
        };
        if let Some(s) =
            sealer.reseal(&sealed).with_context(|| format!("the key of user {}", row.user_id))?
        {
            (row.key_id, row.nonce, row.ciphertext) = (s.key_id, s.nonce, s.ciphertext);
            store.provider_key_put(&row).await?;
            n += 1;
        }
    }
    // Replicas started with the new key alone now agree with the database (`same_sealing_key`).
    store.setting_put("sealing_key_id", sealer.key_id()).await?;
    Ok(n)
}

/// Reads a secret file, creating it (mode 0600) with fresh random hex when missing.
pub fn secret_file(path: &Path) -> anyhow::Result<String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        if !s.trim().is_empty() {
            return Ok(s.trim().to_owned());
        }
    }
    let v: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    std::fs::write(path, &v).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).ok();
    }
    Ok(v)
}

/// Refuses to start a replica whose job-token secret differs from the others' (a pod's
/// callback through the proxy would be refused by half of them): the first replica stores a
/// fingerprint of its secret, and the others compare.
pub(crate) async fn same_token_secret(store: &Store, secret: &str) -> anyhow::Result<()> {
    use sha2::Digest;
    let print = keys::hex(&sha2::Sha256::digest(format!("podwarden job-token secret\0{secret}")));
    let stored = store.setting_or_insert("token_secret_sha256", &print).await?;
    if stored != print {
        anyhow::bail!(
            "this replica's job-token secret differs from the other replicas' on this database: \
             give every replica the same PODWARDEN_TOKEN_SECRET (docs/deployment.md)"
        );
    }
    Ok(())
}

/// Refuses to start a replica whose `PODWARDEN_SECRET_KEY` differs from the others' (a user's
/// key sealed by one replica would not open on it). The setting holds the id of the key in
/// use (an id, not the key); a replica rotating from that key to a new one records the new id.
pub(crate) async fn same_sealing_key(store: &Store, sealer: &keys::Sealer) -> anyhow::Result<()> {
    const SETTING: &str = "sealing_key_id";
    let stored = store.setting_or_insert(SETTING, sealer.key_id()).await?;
    if stored == sealer.key_id() {
        return Ok(());
    }
    if sealer.old_key_id() == Some(stored.as_str()) {
        store.setting_put(SETTING, sealer.key_id()).await?;
        return Ok(());
    }
    anyhow::bail!(
        "this replica's PODWARDEN_SECRET_KEY differs from the one the other replicas on this database use: \
         give every replica the same key (docs/deployment.md); to change it, use PODWARDEN_OLD_SECRET_KEY \
         (docs/configuration.md → Bring your own RunPod key)"
    )
}

/// A secret from the configuration, else the one kept in the data directory at `file`.
pub(crate) fn secret_or_file(given: Option<&SecretString>, file: &Path) -> anyhow::Result<String> {
    match given.map(|t| t.expose_secret().trim()).filter(|t| !t.is_empty()) {
        Some(t) => Ok(t.to_owned()),
        None => secret_file(file),
    }
}

/// The sealer of provider keys at rest: a real deployment must bring its secret
/// (`PODWARDEN_SECRET_KEY`); dev (the embedded emulator or a test client) gets one made in the
/// data directory. The old key, while set, still opens what it sealed.
pub(crate) fn sealer(cfg: &ServerConfig, dev: bool) -> anyhow::Result<keys::Sealer> {
    let key_secret = match cfg.secret_key.as_ref().map(|k| k.expose_secret()) {
        Some(v) if !v.trim().is_empty() => v.to_owned(),
        _ if dev => secret_file(&cfg.home.join("secret_key"))?,
        _ => anyhow::bail!(keys::KeyError::Missing),
    };
    let old =
        cfg.old_secret_key.as_ref().map(|k| k.expose_secret()).filter(|k| !k.trim().is_empty());
    Ok(keys::Sealer::new(&key_secret, old)?)
}
