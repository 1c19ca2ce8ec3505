//! Users and API tokens: the admin made at first start, and tokens (random, shown once,
//! stored as SHA-256 hashes).

use podwarden_store::{Store, StoreError, TokenRow, UserRow};

/// The admin's user id: a single-user install's rows (owner `local`) are the admin's.
pub const ADMIN_ID: &str = "local";

/// A new random token for `user`: `(token id, token)`; only its hash is stored.
pub async fn issue_token(
    store: &Store,
    user: &str,
    label: &str,
) -> Result<(String, String), StoreError> {
    let token = format!(
        "pw_{}",
        (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect::<String>()
    );
    let id = format!("tok_{}", uuid::Uuid::now_v7().simple());
    store
        .token_insert(&TokenRow {
            id: id.clone(),
            user_id: user.to_owned(),
            token_hash: podwarden_engine::tokens::hash_token(&token),
            label: label.to_owned(),
            created_at: now_ms(),
        })
        .await?;
    Ok((id, token))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Makes sure the admin exists and `token` (the token file's, or `PODWARDEN_ADMIN_TOKEN`) is
/// its start token, the only one: earlier start tokens are revoked. The token itself is never logged: it lives in the token file (0600) or
/// the operator's environment.
pub async fn ensure_admin(store: &Store, token: &str) -> Result<(), StoreError> {
    ensure_admin_user(store).await?;
    let hash = podwarden_engine::tokens::hash_token(token);
    if store.user_by_token_hash(&hash).await?.is_none() {
        let row = TokenRow {
            id: format!("tok_{}", uuid::Uuid::now_v7().simple()),
            user_id: ADMIN_ID.into(),
            token_hash: hash.clone(),
            label: FIRST_START_LABEL.into(),
            created_at: now_ms(),
        };
        if let Err(e) = store.token_insert(&row).await
            && store.user_by_token_hash(&hash).await?.is_none()
        {
            return Err(e);
        }
    }
    // The admin token is the one this server started with: every earlier one (an old
    // `PODWARDEN_ADMIN_TOKEN`, an old token file) is revoked. Tokens the admin made over the
    // API are theirs and stay.
    for t in store.tokens_of(ADMIN_ID).await? {
        if t.label == FIRST_START_LABEL && t.token_hash != hash {
            store.token_delete(ADMIN_ID, &t.id).await?;
            tracing::info!("revoked the admin token this server was started with before");
        }
    }
    Ok(())
}

/// The label of the admin token a server starts with.
const FIRST_START_LABEL: &str = "admin (first start)";

/// Refuses a replica whose admin token differs from the other replicas' on a shared database:
/// its token would work on all of them, and theirs on it. A server alone on its database
/// rotates instead (the new token replaces the old); on Postgres one replica rotates when told
/// the old token (`PODWARDEN_OLD_ADMIN_TOKEN`), and the others are then restarted with the new.
pub async fn same_admin_token(
    store: &Store,
    token: &str,
    old: Option<&str>,
    shared: bool,
) -> anyhow::Result<()> {
    use sha2::Digest;
    const SETTING: &str = "admin_token_sha256";
    let print =
        |t: &str| crate::keys::hex(&sha2::Sha256::digest(format!("podwarden admin token\0{t}")));
    let stored = store.setting_or_insert(SETTING, &print(token)).await?;
    if stored == print(token) {
        return Ok(());
    }
    if shared && old.is_none_or(|o| print(o) != stored) {
        anyhow::bail!(
            "this replica's PODWARDEN_ADMIN_TOKEN differs from the other replicas' on this database: \
             give every replica the same one; to change it, start one replica with the new token and \
             PODWARDEN_OLD_ADMIN_TOKEN set to the old, then restart the others with the new (docs/deployment.md)"
        );
    }
    store.setting_put(SETTING, &print(token)).await?;
    tracing::info!("the admin token changed: the old one is revoked");
    Ok(())
}

/// The admin user, made once (replicas starting at once race here: an insert that lost to
/// another's is fine once the row is there).
async fn ensure_admin_user(store: &Store) -> Result<(), StoreError> {
    // Replicas starting at once race here: an insert that lost to another's is fine once the
    // row is there.
    if store.user_get(ADMIN_ID).await?.is_none() {
        let admin = UserRow {
            id: ADMIN_ID.into(),
            name: "admin".into(),
            is_admin: true,
            created_at: now_ms(),
            spend_cap: None,
        };
        match store.user_insert(&admin).await {
            Ok(true) => tracing::info!(
                "created the admin user (its token is in the server's token file or PODWARDEN_ADMIN_TOKEN)"
            ),
            Ok(false) if store.user_get(ADMIN_ID).await?.is_none() => tracing::error!(
                "cannot create the admin user: a user named \"admin\" exists; rename it"
            ),
            Ok(false) => {}
            Err(e) if store.user_get(ADMIN_ID).await?.is_none() => return Err(e),
            Err(_) => {}
        }
    }
    Ok(())
}
