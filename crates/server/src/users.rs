//! Users and API tokens: the admin made at first start, and tokens (random, shown once,
//! stored as SHA-256 hashes).

use store::{Store, StoreError, TokenRow, UserRow};

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
            token_hash: engine::tokens::hash_token(&token),
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
/// one of its tokens. The token itself is never logged: it lives in the token file (0600) or
/// the operator's environment.
pub async fn ensure_admin(store: &Store, token: &str) -> Result<(), StoreError> {
    // Replicas starting at once race here: an insert that lost to another's is fine once the
    // row is there.
    if store.user_get(ADMIN_ID).await?.is_none() {
        let admin = UserRow {
            id: ADMIN_ID.into(),
            name: "admin".into(),
            is_admin: true,
            created_at: now_ms(),
            spend_cap_micros: None,
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
    let hash = engine::tokens::hash_token(token);
    if store.user_by_token_hash(&hash).await?.is_none() {
        let row = TokenRow {
            id: format!("tok_{}", uuid::Uuid::now_v7().simple()),
            user_id: ADMIN_ID.into(),
            token_hash: hash.clone(),
            label: "admin (first start)".into(),
            created_at: now_ms(),
        };
        if let Err(e) = store.token_insert(&row).await
            && store.user_by_token_hash(&hash).await?.is_none()
        {
            return Err(e);
        }
    }
    Ok(())
}
