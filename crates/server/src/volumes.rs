//! The volumes API: a user's network volumes on the account they compute on, and where their
//! files are reached over RunPod's S3 API (`podwarden volume …`, `podwarden cp`).
//!
//! S3 keys: RunPod makes them only in its console, one per account, and one key opens every
//! volume of the account. So the server hands out the operator's key to an admin only (the
//! embedded emulator's alike: it would open every other user's volumes too). Other hosted users'
//! `cp` goes through the server (`volume_files`); a user on their own RunPod account brings
//! their own key to `cp`.

use crate::accounts::engine_for;
use crate::api::{
    AuditEntry, ErrorBody, ErrorCode, NewVolume, TransferReport, VolumeS3, VolumeView,
};
use crate::extract::Body;
use crate::routes::{ApiError, C, R, S, account_error, user_account};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use podwarden_engine::EngineError;
use podwarden_store::{AuditRow, VolumeRow};

/// Records a storage operation; a failure to record is logged, never the caller's error.
pub(crate) async fn audit(
    s: &crate::AppState,
    user: &str,
    op: &str,
    volume: &str,
    path: Option<&str>,
    bytes: Option<i64>,
    result: &str,
) {
    let row = AuditRow {
        id: 0,
        at: s.engine.now_ms(),
        user_id: user.to_owned(),
        op: op.to_owned(),
        volume: volume.to_owned(),
        path: path.map(str::to_owned),
        bytes,
        result: result.chars().take(500).collect(),
    };
    if let Err(e) = s.engine.store().audit(&row).await {
        tracing::error!(error = ?e, op, volume, "cannot write the storage audit log");
    }
}

fn view(s: &crate::AppState, v: &VolumeRow) -> VolumeView {
    VolumeView {
        s3_api: s.s3.serves(&v.data_center),
        name: v.name.clone(),
        volume_id: v.volume_id.clone(),
        data_center: v.data_center.clone(),
        size_gb: v.size_gb,
        state: v.state,
        monthly_usd: podwarden_engine::volumes::monthly_cost(v.size_gb).usd(),
        backend: v.account.backend().into(),
        created_at: v.created_at,
    }
}

/// Creates a network volume on the caller's account.
#[utoipa::path(post, path = "/api/v1/volumes", tag = "volumes", request_body = NewVolume, responses((status = 201, body = VolumeView), (status = 409, description = "a volume of that name exists", body = ErrorBody), (status = 422, description = "bad name, size or data center", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn create_volume(
    State(s): S,
    Extension(c): C,
    Body(b): Body<NewVolume>,
) -> R<(StatusCode, Json<VolumeView>)> {
    let account = user_account(&s, &c.0.id, podwarden_core::ProviderKind::RunPod).await?;
    let made = engine_for(&s, &account)
        .await
        .map_err(account_error)?
        .volume_create(&c.0.id, &b.name, b.size_gb, &b.data_center)
        .await;
    let result = made.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into());
    audit(
        &s,
        &c.0.id,
        "volume_create",
        &b.name,
        None,
        Some(b.size_gb.saturating_mul(1_000_000_000)),
        &result,
    )
    .await;
    Ok((StatusCode::CREATED, Json(view(&s, &made?))))
}

/// The caller's volumes.
#[utoipa::path(get, path = "/api/v1/volumes", tag = "volumes", responses((status = 200, body = Vec<VolumeView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_volumes(State(s): S, Extension(c): C) -> R<Json<Vec<VolumeView>>> {
    let mut by_account: std::collections::BTreeMap<podwarden_core::Account, Vec<VolumeRow>> =
        std::collections::BTreeMap::new();
    for v in s.engine.store().volumes_of(&c.0.id).await.map_err(EngineError::from)? {
        by_account.entry(v.account.clone()).or_default().push(v);
    }
    let mut out = Vec::new();
    for (a, rows) in by_account {
        match engine_for(&s, &a).await {
            Ok(e) => out.extend(e.settle_volumes(rows).await?),
            // A removed key: its volumes are still listed as stored.
            Err(_) => out.extend(rows),
        }
    }
    out.sort_by_key(|v| v.created_at);
    Ok(Json(out.iter().map(|v| view(&s, v)).collect()))
}

/// Refuses env values that reference RunPod account secrets (`{{ RUNPOD_SECRET_… }}`, which
/// RunPod substitutes at boot) from anyone but an admin on the operator's account: hosted users
/// share it, and its secrets (job tokens of others' jobs included) are not theirs.
pub(crate) fn no_account_secrets(
    caller: &podwarden_store::UserRow,
    account: &podwarden_core::Account,
    env: &std::collections::BTreeMap<String, String>,
) -> R<()> {
    if !account.is_hosted() || caller.is_admin {
        return Ok(());
    }
    match podwarden_core::spec::env_referencing_account_secrets(env) {
        None => Ok(()),
        Some(k) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "`env.{k}` references a RunPod account secret, and the operator's account's secrets are not yours"
            ),
            Some(
                "pass the value itself, or save your own RunPod key (`podwarden key set`) and use your account's secrets",
            ),
        )),
    }
}

/// A spec's `network_volume` and `registry_auth`, checked as the caller's: a volume is named by
/// one of the caller's volumes (it becomes that volume's RunPod id, which must live on the
/// account the work runs on) or by the RunPod id of one of them. A raw id of anything else is
/// refused: hosted users share the operator's RunPod account, so an unchecked id would mount
/// another user's files. On the caller's own key (BYOK) the account is theirs, and an admin may
/// name any. `registry_auth` names a credential of the account: on the operator's account only
/// an admin may use one.
pub(crate) async fn resolve(
    s: &crate::AppState,
    caller: &podwarden_store::UserRow,
    account: &podwarden_core::Account,
    volume: &mut Option<String>,
    registry_auth: Option<&str>,
) -> R<()> {
    let own_account = !account.is_hosted();
    if registry_auth.is_some() && !own_account && !caller.is_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "`registry_auth` names a registry credential of the operator's RunPod account, which only an admin may use",
            Some(
                "ask an admin to run the job, make the image public, or save your own RunPod key (`podwarden key set`) and use a credential of your account",
            ),
        ));
    }
    let Some(name) = volume.clone() else { return Ok(()) };
    let store = s.engine.store();
    let vol = match store.volume_by_name(&caller.id, &name).await.map_err(EngineError::from)? {
        Some(v) => v,
        None => {
            let mine = store.volumes_of(&caller.id).await.map_err(EngineError::from)?;
            if mine
                .iter()
                .any(|v| v.volume_id.as_deref() == Some(name.as_str()) && v.account == *account)
            {
                return Ok(());
            }
            let hint = format!(
                "create it first: `podwarden volume create {name} --data-center EU-RO-1` (`podwarden volume ls` lists yours)"
            );
            if own_account || caller.is_admin {
                // A raw RunPod volume id of the account is theirs to name; a name that is
                // neither is said so here, not as RunPod's refusal of a field.
                let engine = crate::accounts::engine_for(s, account)
                    .await
                    .map_err(crate::routes::account_error)?;
                if !matches!(engine.volume_data_center(&name).await, Ok(None)) {
                    return Ok(());
                }
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::NoSuchVolume,
                    format!(
                        "no network volume {name:?}: neither one of your podwarden volumes nor a volume id on the RunPod account"
                    ),
                    Some(&hint),
                ));
            }
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no volume named {name:?} among yours"),
                Some(&hint),
            ));
        }
    };
    if vol.account != *account {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadNetworkVolume,
            format!(
                "volume {name:?} lives on another RunPod account than the one this work would run on"
            ),
            Some(
                "a pod or worker mounts only volumes of its own account: create the volume again (`podwarden volume create`)",
            ),
        ));
    }
    *volume = Some(vol.volume_id.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NotReady,
            format!("volume {name:?} is still being created"),
            Some("try again in a minute"),
        )
    })?);
    Ok(())
}

pub(crate) async fn own(s: &crate::AppState, user: &str, name: &str) -> R<VolumeRow> {
    s.engine.store().volume_by_name(user, name).await.map_err(EngineError::from)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no volume named {name:?}"),
            Some("`podwarden volume ls` lists yours"),
        )
    })
}

/// Deletes a volume and its files.
#[utoipa::path(delete, path = "/api/v1/volumes/{name}", tag = "volumes", params(("name" = String, Path, description = "volume name")), responses((status = 200, body = VolumeView), (status = 404, description = "not found (or another user's)", body = ErrorBody), (status = 409, description = "in use", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn remove_volume(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
) -> R<Json<VolumeView>> {
    let row = own(&s, &c.0.id, &name).await?;
    let gone = engine_for(&s, &row.account)
        .await
        .map_err(account_error)?
        .volume_remove(&c.0.id, &name)
        .await;
    audit(
        &s,
        &c.0.id,
        "volume_remove",
        &name,
        None,
        None,
        &gone.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into()),
    )
    .await;
    Ok(Json(view(&s, &gone?)))
}

/// Where the volume's files are over S3, with a key when the server may give one.
#[utoipa::path(get, path = "/api/v1/volumes/{name}/s3", tag = "volumes", params(("name" = String, Path, description = "volume name")), responses((status = 200, body = VolumeS3), (status = 404, description = "not found (or another user's)", body = ErrorBody), (status = 409, description = "still being created", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn volume_s3(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
) -> R<Json<VolumeS3>> {
    let row = own(&s, &c.0.id, &name).await?;
    let mut loc = location(&s, &row, &name)?;
    if let Some((key, secret)) =
        (row.account.is_hosted() && c.0.is_admin).then(|| s.s3.operator_key.clone()).flatten()
    {
        (loc.access_key_id, loc.secret_access_key) = (Some(key), Some(secret));
    }
    let handed =
        if loc.access_key_id.is_some() { "ok: key handed out" } else { "ok: location only" };
    audit(&s, &c.0.id, "s3_access", &name, None, None, handed).await;
    Ok(Json(loc))
}

/// Where a volume's files are over S3 (no key).
pub(crate) fn location(s: &crate::AppState, row: &VolumeRow, name: &str) -> R<VolumeS3> {
    let Some(bucket) = row.volume_id.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NotReady,
            format!("volume {name:?} is still being created"),
            Some("try again in a minute"),
        ));
    };
    if !s.s3.serves(&row.data_center) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoS3Api,
            format!(
                "volume {name:?} is in {}, where RunPod has no S3 API, so its files cannot be moved from outside a pod",
                row.data_center
            ),
            Some(&format!(
                "create a volume in a data center with the S3 API ({}) and use that one",
                s.s3.listed()
            )),
        ));
    }
    let endpoint =
        s.s3.endpoints.get(&row.data_center).cloned().unwrap_or_else(|| {
            format!("https://s3api-{}.runpod.io", row.data_center.to_lowercase())
        });
    Ok(VolumeS3 {
        endpoint,
        region: row.data_center.clone(),
        bucket,
        access_key_id: None,
        secret_access_key: None,
    })
}

/// `podwarden cp` reports what it moved (the server does not see S3 traffic); who is the caller.
#[utoipa::path(post, path = "/api/v1/volumes/{name}/transfers", tag = "volumes", params(("name" = String, Path, description = "volume name")), request_body = TransferReport, responses((status = 204, description = "recorded"), (status = 404, description = "not found (or another user's)", body = ErrorBody), (status = 422, description = "bad report", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn report_transfer(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
    Body(t): Body<TransferReport>,
) -> R<StatusCode> {
    own(&s, &c.0.id, &name).await?;
    // The server did not see these bytes: the entry says the client reported them, and only a
    // report that could be true is taken (a path on the volume, a known result).
    let result_ok = t.result == "ok"
        || (!t.result.is_empty()
            && t.result.len() <= 1024
            && !t.result.chars().any(char::is_control));
    let path_ok = podwarden_core::spec::check_volume_path(&t.path).is_ok();
    if !matches!(t.op.as_str(), "upload" | "download") || t.bytes < 0 || !path_ok || !result_ok {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidReport,
            "op must be upload or download, bytes ≥ 0, path a path on the volume, result `ok` or an error text (≤ 1024 characters, one line)",
            None,
        ));
    }
    let result = if t.result == "ok" { "ok".to_owned() } else { format!("failed: {}", t.result) };
    let op = format!("{} (reported by cp)", t.op);
    audit(&s, &c.0.id, &op, &name, Some(&t.path), Some(t.bytes), &result).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Everyone's entries (admins only).
    #[serde(default)]
    all: bool,
    /// At most this many, newest first (default 100, at most 10,000).
    limit: Option<i64>,
}

/// The storage audit log: the caller's operations, newest first (an admin may ask for all).
#[utoipa::path(get, path = "/api/v1/audit", tag = "volumes", params(AuditQuery), responses((status = 200, body = Vec<AuditEntry>), (status = 403, description = "`all` is for admins", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn audit_log(
    State(s): S,
    Extension(c): C,
    crate::extract::Query(q): crate::extract::Query<AuditQuery>,
) -> R<Json<Vec<AuditEntry>>> {
    if q.all && !c.0.is_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only an admin reads everyone's storage operations",
            None,
        ));
    }
    let rows = s
        .engine
        .store()
        .audit_log((!q.all).then_some(c.0.id.as_str()), q.limit.unwrap_or(100).clamp(1, 10_000))
        .await
        .map_err(EngineError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                user: r.user_id,
                op: r.op,
                volume: r.volume,
                path: r.path,
                bytes: r.bytes,
                result: r.result,
            })
            .collect(),
    ))
}
