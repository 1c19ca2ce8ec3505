//! Invite codes: an admin issues one per person; redeeming it (without a token) creates that
//! person's user, with the invite's spend cap (by default the operator's
//! `PODWARDEN_DEFAULT_SPEND_CAP_USD`), and hands back their first token. The chat bot signs
//! people up this way. A code is 128 random bits, stored only as its hash, used once.

use super::*;
use crate::api::{ErrorBody, InviteView, NewInvite, NewInviteCode, NewToken, Redemption};
use crate::extract::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use podwarden_core::Money;
use podwarden_engine::EngineError;
use podwarden_store::{InviteRow, Redeem};

/// How long an invite lasts unless the admin says otherwise, and at most.
const DEFAULT_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
const MAX_TTL: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);

fn invite_view(i: &InviteRow) -> InviteView {
    InviteView {
        id: i.id.clone(),
        note: i.note.clone(),
        created_at: i.created_at,
        expires_at: i.expires_at,
        spend_cap_usd: i.spend_cap.map(Money::usd),
        redeemed_by: i.redeemed_by.clone(),
    }
}

/// Issues an invite code (admin); the code is shown this once.
#[utoipa::path(post, path = "/api/v1/invites", tag = "users", request_body = NewInvite, responses((status = 201, body = NewInviteCode), (status = 403, description = "not an admin", body = ErrorBody), (status = 422, description = "a bad amount or duration", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn create_invite(
    State(s): S,
    Extension(c): C,
    Body(b): Body<NewInvite>,
) -> R<(StatusCode, Json<NewInviteCode>)> {
    admin_only(&c)?;
    valid_spend_cap(b.spend_cap_usd)?;
    let ttl = match b.expires_in.as_deref() {
        None => DEFAULT_TTL,
        Some(t) => match humantime::parse_duration(t) {
            Ok(d) if !d.is_zero() && d <= MAX_TTL => d,
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidDuration,
                    format!("expires_in must be a duration up to 90 days, got {t:?}"),
                    Some("e.g. \"7d\" or \"12h\""),
                ));
            }
        },
    };
    let note = b.note.unwrap_or_default();
    if note.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidNote,
            "note is longer than 200 characters",
            None,
        ));
    }
    let code = format!(
        "pwi_{}",
        (0..16).map(|_| format!("{:02x}", rand::random::<u8>())).collect::<String>()
    );
    let now = s.engine.now_ms();
    let cap = b.spend_cap_usd.or(s.default_spend_cap_usd);
    let row = InviteRow {
        id: format!("inv_{}", uuid::Uuid::now_v7().simple()),
        code_hash: podwarden_engine::tokens::hash_token(&code),
        created_by: c.0.id.clone(),
        created_at: now,
        expires_at: now + ttl.as_millis() as i64,
        spend_cap: cap.map(Money::from_usd),
        note,
        redeemed_by: None,
        redeemed_at: None,
    };
    s.engine.store().invite_insert(&row).await.map_err(EngineError::from)?;
    Ok((StatusCode::CREATED, Json(NewInviteCode { code, invite: invite_view(&row) })))
}

/// Every invite, newest first (admin); never the codes.
#[utoipa::path(get, path = "/api/v1/invites", tag = "users", responses((status = 200, body = Vec<InviteView>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_invites(State(s): S, Extension(c): C) -> R<Json<Vec<InviteView>>> {
    admin_only(&c)?;
    let rows = s.engine.store().invites().await.map_err(EngineError::from)?;
    Ok(Json(rows.iter().map(invite_view).collect()))
}

/// Redeems an invite code (no token needed): creates the user, with the invite's spend cap,
/// and returns their first token, shown this once.
#[utoipa::path(post, path = "/api/v1/invites/redeem", tag = "users", security(), request_body = Redemption, responses((status = 201, body = NewToken), (status = 404, description = "the code is unknown, used or expired", body = ErrorBody), (status = 429, description = "too many wrong codes from this address; wait `Retry-After` seconds", body = ErrorBody), (status = 409, description = "the name is taken", body = ErrorBody), (status = 422, description = "not a valid user name", body = ErrorBody)))]
pub(crate) async fn redeem_invite(
    State(s): S,
    ext: axum::http::Extensions,
    headers: axum::http::HeaderMap,
    Body(b): Body<Redemption>,
) -> R<(StatusCode, Json<NewToken>)> {
    valid_user_name(&b.name)?;
    let store = s.engine.store();
    let user = UserRow {
        id: format!("usr_{}", uuid::Uuid::now_v7().simple()),
        name: b.name.clone(),
        is_admin: false,
        created_at: s.engine.now_ms(),
        spend_cap: None,
    };
    match store
        .invite_redeem(&podwarden_engine::tokens::hash_token(b.code.trim()), &user)
        .await
        .map_err(EngineError::from)?
    {
        Redeem::Created => {}
        Redeem::Invalid => {
            // A wrong code counts against its client like a wrong token (`guard`): guessing
            // 128-bit codes is hopeless, and this keeps it slow and visible anyway.
            let peer =
                ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
            let client = peer.map(|p| crate::listener::client_ip(&s.limits, p, &headers));
            if let Some(secs) = client.and_then(|ip| s.guard.failed(ip)) {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many wrong invite codes from this address",
                    Some("wait, then send the code the operator gave you"),
                )
                .retry_after(secs));
            }
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidInvite,
                "this invite code is unknown, already used or expired",
                Some("ask the operator for a new one (`podwarden admin invite`)"),
            ));
        }
        Redeem::NameTaken => {
            return Err(crate::routes::users::name_taken(
                &b.name,
                "pick another name; the invite is still unused",
            ));
        }
    }
    let user = store.user_get(&user.id).await.map_err(EngineError::from)?.unwrap_or(user);
    let token = crate::users::issue_token(store, &user.id, "first token")
        .await
        .map_err(EngineError::from)?;
    tracing::info!(user = %user.id, name = %user.name, "an invite was redeemed");
    Ok((
        StatusCode::CREATED,
        Json(NewToken { id: token.0, token: token.1, user: crate::routes::user_view(&user) }),
    ))
}
