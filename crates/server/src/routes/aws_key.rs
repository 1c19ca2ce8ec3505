//! A user's own AWS key pair (bring your own key on AWS): checked with
//! `sts:GetCallerIdentity`, sealed like a RunPod key, and then the account of that user's AWS
//! jobs (`aws:byok:<user>`), on the operator's AWS settings (region, AMI, network).

use super::*;
use crate::AppState;
use crate::api::{AwsKeySettings, ErrorBody};
use crate::extract::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use podwarden_core::{Account, ProviderKind};
use podwarden_engine::provider::{KeyCheck, Provider};
use serde::Deserialize;

fn view(row: Option<&podwarden_store::ProviderKeyRow>) -> AwsKeySettings {
    AwsKeySettings { saved: row.is_some(), access_key_id_last4: row.map(|r| r.last4.clone()) }
}

/// The server's AWS engine, or why AWS keys mean nothing here.
fn aws_engine(s: &AppState) -> R<&podwarden_engine::Engine<podwarden_engine::AnyProvider>> {
    s.aws.as_ref().ok_or_else(|| account_error(crate::accounts::AccountError::NoAws))
}

#[utoipa::path(get, path = "/api/v1/settings/aws-key", tag = "settings", responses((status = 200, body = AwsKeySettings), (status = 409, description = "this server has no AWS account (`no_provider`)", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn get_aws_key(State(s): S, Extension(c): C) -> R<Json<AwsKeySettings>> {
    aws_engine(&s)?;
    let k = s.engine.store().provider_key_get(&c.0.id, "aws").await.map_err(EngineError::from)?;
    Ok(Json(view(k.as_ref())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AwsKeyBody {
    /// An IAM user's access key id (`AKIA…`; temporary `ASIA…` keys expire and are refused).
    #[schema(pattern = r"^[A-Z0-9]{16,128}$")]
    access_key_id: String,
    /// Its secret access key.
    #[schema(pattern = r"^[!-~]{16,128}$")]
    secret_access_key: String,
}

/// Checks the key pair with AWS (`sts:GetCallerIdentity`), then stores it sealed. Neither the
/// secret nor AWS's answer about it is logged or returned.
#[utoipa::path(post, path = "/api/v1/settings/aws-key", tag = "settings", request_body = AwsKeyBody, responses((status = 200, body = AwsKeySettings), (status = 400, description = "AWS rejected the key pair", body = ErrorBody), (status = 409, description = "this server has no AWS account, or jobs run on the current key", body = ErrorBody), (status = 422, description = "not an access key pair", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn save_aws_key(
    State(s): S,
    Extension(c): C,
    Body(b): Body<AwsKeyBody>,
) -> R<Json<AwsKeySettings>> {
    let engine = aws_engine(&s)?;
    no_live_byok_jobs(&s, &Account::byok_on(ProviderKind::Aws, &c.0.id)).await?;
    let (id, secret) = (b.access_key_id.trim(), b.secret_access_key.trim());
    let id_ok = (16..=128).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let secret_ok =
        (16..=128).contains(&secret.len()) && secret.chars().all(|c| c.is_ascii_graphic());
    if !id_ok || !secret_ok || id.starts_with("ASIA") {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidKeyFormat,
            "that is not an AWS access key pair podwarden can keep",
            Some(
                "create an access key of an IAM user (IAM → Users → Security credentials) with the policy in docs/providers/aws.md; temporary (ASIA…) keys expire and cannot be kept",
            ),
        ));
    }
    let cloud =
        engine.provider().with_key(format!("{id}:{secret}")).map_err(|_| ApiError::internal())?;
    match cloud.check_key().await {
        KeyCheck::Usable | KeyCheck::NoFunds(_) => {}
        KeyCheck::Rejected => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidApiKey,
                "AWS rejected this access key pair",
                Some(
                    "check that both parts are complete and the key is active (IAM → Users → Security credentials)",
                ),
            ));
        }
        KeyCheck::Unreachable => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::ProviderError,
                "could not reach AWS to verify the key; try again",
                None,
            ));
        }
    }
    let row = store_key(&s, &c.0.id, ProviderKind::Aws, &format!("{id}:{secret}"), id).await?;
    Ok(Json(view(Some(&row))))
}

/// Removes the caller's AWS key pair (their AWS jobs go back to the operator's account).
#[utoipa::path(delete, path = "/api/v1/settings/aws-key", tag = "settings", responses((status = 200, body = AwsKeySettings), (status = 409, description = "jobs run on the key", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn delete_aws_key(State(s): S, Extension(c): C) -> R<Json<AwsKeySettings>> {
    no_live_byok_jobs(&s, &Account::byok_on(ProviderKind::Aws, &c.0.id)).await?;
    s.engine.store().provider_key_delete(&c.0.id, "aws").await.map_err(EngineError::from)?;
    s.accounts.forget(&c.0.id, ProviderKind::Aws).await;
    Ok(Json(view(None)))
}
