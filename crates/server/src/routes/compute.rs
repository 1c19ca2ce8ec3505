//! Where a user's work runs: the operator's account (hosted) or their own RunPod key (BYOK),
//! saved sealed after RunPod accepted it.

use super::*;
use crate::AppState;
use crate::api::{ComputeSettings, ErrorBody, WebhookView};
use crate::extract::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use podwarden_core::{Account, Money, ProviderKind};
use podwarden_engine::EngineError;
use podwarden_store::UserRow;
use serde::Deserialize;

/// The account a user's new work on `provider` goes to: their own key's when the key they
/// saved is for that provider, else the operator's.
pub(crate) async fn user_account(s: &AppState, user: &str, provider: ProviderKind) -> R<Account> {
    Ok(podwarden_control::accounts::user_account(s, user, provider)
        .await
        .map_err(EngineError::from)?)
}

pub(crate) fn account_error(e: crate::accounts::AccountError) -> ApiError {
    match e {
        crate::accounts::AccountError::NoKey => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoKey,
            e.to_string(),
            Some("save a key in Settings → Compute"),
        ),
        crate::accounts::AccountError::NoOperatorKey => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoOperatorKey,
            e.to_string(),
            Some(
                "save your RunPod API key in Settings → Compute (or POST /api/v1/settings/runpod-key), then submit again",
            ),
        ),
        crate::accounts::AccountError::NoAws => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoProvider,
            e.to_string(),
            Some(
                "drop `provider = \"aws\"` to run on RunPod, or ask the operator to turn AWS on (PODWARDEN_AWS=on with AWS credentials; docs/providers/aws.md)",
            ),
        ),
        crate::accounts::AccountError::Sealed => {
            tracing::error!(
                "a stored RunPod key cannot be decrypted: was PODWARDEN_SECRET_KEY changed without `podwarden admin rotate-secret`?"
            );
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::KeyUnreadable,
                "your saved RunPod key cannot be read by this server",
                Some("save the key again in Settings → Compute"),
            )
        }
        crate::accounts::AccountError::Other(e) => {
            tracing::error!(error = %e, "cannot open a user's RunPod account");
            ApiError::internal()
        }
    }
}

/// Refuses a key change while jobs run on the user's own account there (`account`): their
/// pods could no longer be watched or torn down.
pub(crate) async fn no_live_byok_jobs(s: &AppState, account: &Account) -> R<()> {
    let provider = account.provider().title();
    let endpoints = s
        .engine
        .store()
        .endpoints_live()
        .await
        .map_err(EngineError::from)?
        .iter()
        .filter(|e| e.account == *account)
        .count();
    if endpoints > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::EndpointsOnKey,
            format!(
                "{endpoints} endpoint(s) live on your {provider} account; podwarden could no longer manage them"
            ),
            Some("remove them first (`podwarden endpoint rm <name>`), then change the key"),
        ));
    }
    let n = s.engine.store().live().jobs().filter(|j| j.account == *account).count();
    if n > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::JobsRunningOnKey,
            format!(
                "{n} job(s) are running on your {provider} key; changing or removing it now would leave their pods unmanaged"
            ),
            Some("stop them (or let them finish), then change the key"),
        ));
    }
    Ok(())
}

pub(crate) async fn settings(
    s: &AppState,
    user: &UserRow,
    k: Option<&podwarden_store::ProviderKeyRow>,
) -> R<ComputeSettings> {
    Ok(ComputeSettings {
        backend: if k.is_some() { "runpod" } else { "hosted" }.into(),
        last4: k.map(|k| k.last4.clone()),
        endpoint_status: {
            let account = Account::Byok(user.id.clone());
            let eps = s.engine.store().endpoints_live().await.map_err(EngineError::from)?;
            let mine: Vec<_> = eps.iter().filter(|e| e.account == account).collect();
            if mine.is_empty() {
                "none".to_owned()
            } else {
                mine.iter()
                    .map(|e| format!("{}: {}", e.name, e.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        },
        spend_cap_usd: user.spend_cap.map(Money::usd),
        hosted_committed_usd: s
            .engine
            .store()
            .hosted_committed(&user.id)
            .await
            .map_err(EngineError::from)?
            .usd(),
    })
}

#[utoipa::path(get, path = "/api/v1/settings/runpod-key", tag = "settings", responses((status = 200, body = ComputeSettings), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn get_key(State(s): S, Extension(c): C) -> R<Json<ComputeSettings>> {
    let k =
        s.engine.store().provider_key_get(&c.0.id, "runpod").await.map_err(EngineError::from)?;
    Ok(Json(settings(&s, &c.0, k.as_ref()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyBody {
    /// A RunPod API key (RunPod's console → Settings → API Keys).
    #[schema(pattern = r"^[!-~]{8,200}$")]
    api_key: String,
}

/// Validates the key against RunPod (it must authenticate and the account must have funds),
/// then stores it sealed. Neither the key nor RunPod's answer about it is logged.
#[utoipa::path(post, path = "/api/v1/settings/runpod-key", tag = "settings", request_body = KeyBody, responses((status = 200, body = ComputeSettings), (status = 400, description = "RunPod rejected the key", body = ErrorBody), (status = 402, description = "the account has no funds", body = ErrorBody), (status = 422, description = "not a key", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn save_key(
    State(s): S,
    Extension(c): C,
    Body(b): Body<KeyBody>,
) -> R<Json<ComputeSettings>> {
    no_live_byok_jobs(&s, &Account::Byok(c.0.id.clone())).await?;
    let key = b.api_key.trim().to_owned();
    if key.len() < 8 || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidKeyFormat,
            "that does not look like a RunPod API key",
            Some("copy it from RunPod's console → Settings → API Keys"),
        ));
    }
    use podwarden_engine::provider::Provider;
    let cloud = s.engine.provider().with_key(key.clone()).map_err(|_| ApiError::internal())?;
    match cloud.check_key().await {
        podwarden_engine::provider::KeyCheck::Usable => {}
        podwarden_engine::provider::KeyCheck::NoFunds(balance) => {
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                ErrorCode::InsufficientBalance,
                format!("the RunPod account behind this key has no funds (${balance:.2})"),
                Some("add funds in RunPod's console → Billing, then save the key again"),
            ));
        }
        podwarden_engine::provider::KeyCheck::Rejected => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidApiKey,
                "RunPod rejected this API key",
                Some(
                    "check that it is complete and not revoked (RunPod's console → Settings → API Keys)",
                ),
            ));
        }
        podwarden_engine::provider::KeyCheck::Unreachable => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::ProviderError,
                "could not reach RunPod to verify the key; try again",
                None,
            ));
        }
    }
    let row = store_key(&s, &c.0.id, ProviderKind::RunPod, &key, &key).await?;
    Ok(Json(settings(&s, &c.0, Some(&row)).await?))
}

/// Seals `secret` (the key as the provider takes it) and stores it as `user`'s key of
/// `provider`, shown by the last 4 characters of `shown`; the user's engines are rebuilt on
/// next use.
pub(crate) async fn store_key(
    s: &AppState,
    user: &str,
    provider: ProviderKind,
    secret: &str,
    shown: &str,
) -> R<podwarden_store::ProviderKeyRow> {
    let sealed = s.sealer.seal(secret);
    let last4: String = shown.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let row = podwarden_store::ProviderKeyRow {
        user_id: user.to_owned(),
        provider: provider.as_str().into(),
        key_id: sealed.key_id,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        last4,
        created_at: s.engine.now_ms(),
    };
    s.engine.store().provider_key_put(&row).await.map_err(EngineError::from)?;
    s.accounts.forget(user, provider).await;
    Ok(row)
}

/// Removes the caller's key (back to hosted).
#[utoipa::path(delete, path = "/api/v1/settings/runpod-key", tag = "settings", responses((status = 200, body = ComputeSettings), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn delete_key(State(s): S, Extension(c): C) -> R<Json<ComputeSettings>> {
    no_live_byok_jobs(&s, &Account::Byok(c.0.id.clone())).await?;
    s.engine.store().provider_key_delete(&c.0.id, "runpod").await.map_err(EngineError::from)?;
    s.accounts.forget(&c.0.id, ProviderKind::RunPod).await;
    Ok(Json(settings(&s, &c.0, None).await?))
}

/// `PUT /api/v1/settings/webhook`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookBody {
    /// An https URL on a public host (not this machine or a private network).
    #[schema(format = "uri", pattern = r"^https://")]
    url: String,
}

/// The event types a webhook gets.
const WEBHOOK_EVENTS: [&str; 6] = [
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "job.budget_exceeded",
    "job.timed_out",
    "budget.alert",
];

fn webhook_view(url: Option<String>, secret: Option<String>) -> WebhookView {
    WebhookView { url, secret, events: WEBHOOK_EVENTS.iter().map(|e| (*e).to_owned()).collect() }
}

/// The caller's webhook (its URL; the secret is shown only when it is set).
#[utoipa::path(get, path = "/api/v1/settings/webhook", tag = "settings", responses((status = 200, body = WebhookView), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn get_webhook(State(s): S, Extension(c): C) -> R<Json<WebhookView>> {
    let url = s.engine.store().webhook_get(&c.0.id).await.map_err(EngineError::from)?;
    Ok(Json(webhook_view(url, None)))
}

/// Sets where the caller's job endings and budget alerts are POSTed (JSON, signed with
/// HMAC-SHA256; retried twice). The answer holds the signing secret, once.
#[utoipa::path(put, path = "/api/v1/settings/webhook", tag = "settings", request_body = WebhookBody, responses((status = 200, body = WebhookView), (status = 422, description = "not an https URL on a public host", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn set_webhook(
    State(s): S,
    Extension(c): C,
    Body(b): Body<WebhookBody>,
) -> R<Json<WebhookView>> {
    if b.url.len() > 2048 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadWebhook,
            "the webhook URL is longer than 2048 characters",
            None,
        ));
    }
    if let Some(why) = crate::webhooks::refused(&b.url, s.webhooks_local).await {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadWebhook,
            why,
            Some(
                "use an https URL on a host on the public internet, e.g. https://hooks.example.com/podwarden",
            ),
        ));
    }
    let now = s.engine.now_ms();
    s.engine.store().webhook_set(&c.0.id, &b.url, now).await.map_err(EngineError::from)?;
    let secret = s.engine.webhook_secret(&c.0.id, &b.url);
    Ok(Json(webhook_view(Some(b.url), Some(secret))))
}

/// Removes the caller's webhook.
#[utoipa::path(delete, path = "/api/v1/settings/webhook", tag = "settings", responses((status = 200, body = WebhookView), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn delete_webhook(State(s): S, Extension(c): C) -> R<Json<WebhookView>> {
    s.engine.store().webhook_delete(&c.0.id).await.map_err(EngineError::from)?;
    Ok(Json(webhook_view(None, None)))
}
