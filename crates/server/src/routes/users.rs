//! Users and their API tokens (admins manage users; everyone manages their own tokens).

use super::*;
use crate::api::{ErrorBody, NewToken, TokenView, UserView};
use crate::extract::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use podwarden_core::Money;
use podwarden_engine::EngineError;
use podwarden_store::UserRow;
use serde::Deserialize;

pub(crate) fn user_view(u: &UserRow) -> UserView {
    UserView {
        id: u.id.clone(),
        name: u.name.clone(),
        is_admin: u.is_admin,
        created_at: u.created_at,
        spend_cap_usd: u.spend_cap.map(Money::usd),
    }
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserView), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn me(Extension(c): C) -> Json<UserView> {
    Json(user_view(&c.0))
}

/// A user name: 1–64 letters, digits, `- _ . @`.
/// 409 for a user name that is taken: another user's name or id, whatever the case.
pub(crate) fn name_taken(name: &str, hint: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        format!(
            "the user name {name:?} is taken (names are compared without case, and may not be a user id)"
        ),
        Some(hint),
    )
}

pub(crate) fn valid_user_name(name: &str) -> R<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.@".contains(ch));
    if ok {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidName,
        format!("{name:?} is not a valid user name"),
        Some("1–64 letters, digits, - _ . @"),
    ))
}

/// A spend cap: none, or an amount between 0 and the largest podwarden takes.
pub(crate) fn valid_spend_cap(cap: Option<f64>) -> R<()> {
    match cap {
        Some(v) if !(v.is_finite() && (0.0..=podwarden_core::limits::USD).contains(&v)) => {
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidAmount,
                format!(
                    "spend_cap_usd must be an amount between 0 and {} USD, got {v}",
                    podwarden_core::limits::USD
                ),
                Some("null removes the cap"),
            ))
        }
        _ => Ok(()),
    }
}

pub(crate) fn admin_only(c: &Caller) -> R<()> {
    if c.0.is_admin {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only an admin can manage users",
            None,
        ))
    }
}

/// Every user (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<UserView>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_users(State(s): S, Extension(c): C) -> R<Json<Vec<UserView>>> {
    admin_only(&c)?;
    Ok(Json(
        s.engine.store().users().await.map_err(EngineError::from)?.iter().map(user_view).collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    /// 1–64 letters, digits, `- _ . @`.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    name: String,
    #[serde(default)]
    admin: bool,
}

/// `POST /api/v1/users` (admin): the user and their first token, shown this once.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser, responses((status = 201, body = NewToken), (status = 403, description = "not an admin", body = ErrorBody), (status = 409, description = "the name is taken", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn create_user(
    State(s): S,
    Extension(c): C,
    Body(b): Body<NewUser>,
) -> R<(StatusCode, Json<NewToken>)> {
    admin_only(&c)?;
    valid_user_name(&b.name)?;
    let store = s.engine.store();
    let user = UserRow {
        id: format!("usr_{}", uuid::Uuid::now_v7().simple()),
        name: b.name,
        is_admin: b.admin,
        created_at: s.engine.now_ms(),
        spend_cap: None,
    };
    if !store.user_insert(&user).await.map_err(EngineError::from)? {
        return Err(name_taken(&user.name, "pick another name"));
    }
    let token = crate::users::issue_token(store, &user.id, "first token")
        .await
        .map_err(EngineError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken { id: token.0, token: token.1, user: user_view(&user) }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserUpdate {
    /// Cap on the user's hosted spend, USD (`null`: no cap).
    #[schema(minimum = 0, maximum = 1_000_000)]
    spend_cap_usd: Option<f64>,
}

/// Sets a user's hosted spend cap (admin). Running jobs keep the budgets they got; new hosted
/// jobs, and queued ones when they launch, get at most what is left of the cap.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "user id")), request_body = UserUpdate, responses((status = 200, body = UserView), (status = 403, description = "not an admin", body = ErrorBody), (status = 404, description = "no such user", body = ErrorBody), (status = 422, description = "not a positive amount", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn update_user(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Body(b): Body<UserUpdate>,
) -> R<Json<UserView>> {
    admin_only(&c)?;
    valid_spend_cap(b.spend_cap_usd)?;
    let store = s.engine.store();
    if !store
        .user_set_spend_cap(&id, b.spend_cap_usd.map(Money::from_usd))
        .await
        .map_err(EngineError::from)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("user {id} not found"),
            Some("GET /api/v1/users lists them"),
        ));
    }
    let user = store.user_get(&id).await.map_err(EngineError::from)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("user {id} not found"),
            None,
        )
    })?;
    Ok(Json(user_view(&user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenBody {
    #[serde(default)]
    label: Option<String>,
}

/// Creates an API token for the caller, shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenBody, responses((status = 201, body = NewToken), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn create_token(
    State(s): S,
    Extension(c): C,
    Body(b): Body<NewTokenBody>,
) -> R<(StatusCode, Json<NewToken>)> {
    let label = b.label.unwrap_or_else(|| "token".into()).chars().take(100).collect::<String>();
    let (id, token) = crate::users::issue_token(s.engine.store(), &c.0.id, &label)
        .await
        .map_err(EngineError::from)?;
    Ok((StatusCode::CREATED, Json(NewToken { id, token, user: user_view(&c.0) })))
}

/// The caller's tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_tokens(State(s): S, Extension(c): C) -> R<Json<Vec<TokenView>>> {
    let rows = s.engine.store().tokens_of(&c.0.id).await.map_err(EngineError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|t| TokenView { id: t.id, label: t.label, created_at: t.created_at })
            .collect(),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path, description = "token id")), responses((status = 204, description = "revoked"), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn delete_token(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<StatusCode> {
    if s.engine.store().token_delete(&c.0.id, &id).await.map_err(EngineError::from)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("token {id} not found"),
            Some("GET /api/v1/tokens lists yours"),
        ))
    }
}
