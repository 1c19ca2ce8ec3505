//! Serverless endpoints (deploy, list, read, remove) and the serverless jobs sent to them.

use super::*;
use crate::AppState;
use crate::accounts::engine_for;
use crate::api::{DeployResult, EndpointView, ErrorBody, ServerlessJobView};
use crate::extract::{Body, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use podwarden_engine::EngineError;
use podwarden_store::{EndpointRow, ServerlessJobRow};
use serde::Deserialize;

pub(crate) fn endpoint_view(r: &EndpointRow) -> EndpointView {
    let spec: Option<podwarden_core::endpoint::EndpointSpec> = serde_json::from_str(&r.spec).ok();
    EndpointView {
        name: r.name.clone(),
        state: r.state,
        resource_name: r.resource_name.clone(),
        endpoint_id: r.endpoint_id.clone(),
        template_id: r.template_id.clone(),
        reason: r.reason.clone(),
        image: spec.as_ref().map(|s| s.image.clone()).unwrap_or_default(),
        gpu_pools: spec.as_ref().map(|s| s.gpu.pools.clone()).unwrap_or_default(),
        workers_min: spec.as_ref().map_or(0, |s| s.workers.min),
        workers_max: spec.as_ref().map_or(0, |s| s.workers.max),
        execution_timeout_secs: spec.as_ref().map_or(0, |s| s.execution_timeout.as_secs()),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Deploys a serverless endpoint (create, or update in place).
#[utoipa::path(post, path = "/api/v1/endpoints", tag = "endpoints", request_body = podwarden_core::endpoint::EndpointSpec, responses((status = 404, description = "the spec names a network volume that is neither one of yours nor on the account", body = ErrorBody), (status = 201, description = "created", body = DeployResult), (status = 200, description = "updated or unchanged", body = DeployResult), (status = 402, description = "a capped hosted user asked for always-on workers", body = ErrorBody), (status = 422, description = "invalid spec: the field, the problem, a hint", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn deploy_endpoint(
    State(s): S,
    Extension(c): C,
    Body(v): Body<serde_json::Value>,
) -> R<(StatusCode, Json<DeployResult>)> {
    let mut spec = podwarden_core::endpoint::EndpointSpec::from_json(v)
        .map_err(|e| spec_error(ErrorCode::InvalidSpec, &e))?;
    // An existing endpoint stays on its account; a new one goes where the user computes.
    let account = match s
        .engine
        .store()
        .endpoint_by_name(&c.0.id, &spec.name)
        .await
        .map_err(EngineError::from)?
    {
        Some(row) => row.account,
        None => user_account(&s, &c.0.id, podwarden_core::ProviderKind::RunPod).await?,
    };
    // Always-on workers bill by the second whether or not jobs come, with no end a cap could
    // reserve for: a capped user's hosted endpoints scale from zero (their jobs reserve their
    // estimates against the cap instead).
    if account.is_hosted() && c.0.spend_cap.is_some() && spec.workers.min > 0 {
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            ErrorCode::SpendCapReached,
            format!(
                "workers.min = {} keeps workers billing with no end, which a hosted spend cap cannot reserve",
                spec.workers.min
            ),
            Some(
                "use workers.min = 0 (each job's cost is then reserved against your cap), or save your own RunPod key",
            ),
        ));
    }
    crate::volumes::no_account_secrets(&c.0, &account, &spec.env)?;
    let auth = spec.registry_auth.clone();
    crate::volumes::resolve(&s, &c.0, &account, &mut spec.network_volume, auth.as_deref()).await?;
    spec.image = pullable_image(&s, &spec.image, spec.registry_auth.is_some()).await?;
    let d = engine_for(&s, &account).await.map_err(account_error)?.deploy(spec, &c.0.id).await?;
    let status = if d.change == podwarden_engine::sagas::endpoint_deploy::Change::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let change = serde_json::to_value(d.change)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((status, Json(DeployResult { endpoint: endpoint_view(&d.row), change })))
}

/// The caller's endpoints.
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "endpoints", responses((status = 200, body = Vec<EndpointView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_endpoints(State(s): S, Extension(c): C) -> R<Json<Vec<EndpointView>>> {
    Ok(Json(s.engine.endpoints(&c.0.id).await?.iter().map(endpoint_view).collect()))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}", tag = "endpoints", params(("name" = String, Path, description = "endpoint name")), responses((status = 200, body = EndpointView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn get_endpoint(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
) -> R<Json<EndpointView>> {
    Ok(Json(endpoint_view(&s.engine.endpoint(&c.0.id, &name).await?)))
}

/// Removes an endpoint (deleted at RunPod, then forgotten).
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}", tag = "endpoints", params(("name" = String, Path, description = "endpoint name")), responses((status = 200, description = "deleted", body = EndpointView), (status = 202, description = "deleting", body = EndpointView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn remove_endpoint(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
) -> R<(StatusCode, Json<EndpointView>)> {
    let account = s.engine.endpoint(&c.0.id, &name).await?.account;
    let row = engine_for(&s, &account).await.map_err(account_error)?.remove(&c.0.id, &name).await?;
    crate::driving::poke(&s, &account);
    let status = if row.state == podwarden_core::state::EndpointState::Deleted {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(endpoint_view(&row))))
}

/// Largest `POST /api/v1/requests` body: RunPod's `/runsync` limit plus room for the envelope.
pub(crate) const REQUEST_BODY_LIMIT: usize =
    runpod::types::serverless::RUNSYNC_PAYLOAD_LIMIT + 1024 * 1024;

pub(crate) fn serverless_job_view(r: &ServerlessJobRow, simulated: bool) -> ServerlessJobView {
    ServerlessJobView {
        id: r.id.to_string(),
        name: r.name.clone(),
        endpoint: r.endpoint_name.clone(),
        endpoint_id: r.endpoint_id.clone(),
        state: r.state,
        reason: r.reason.clone(),
        provider_job_id: r.provider_job_id.clone(),
        gpu: r.gpu.clone(),
        price_per_hour_usd: r.price_per_hour.usd(),
        estimate_usd: r.estimate.usd(),
        cost_usd: r.cost.usd(),
        delay_ms: r.delay_ms,
        execution_ms: r.execution_ms,
        output: r.output.as_deref().and_then(|o| serde_json::from_str(o).ok()),
        created_at: r.created_at,
        ended_at: r.ended_at,
        simulated,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SyncQuery {
    /// Use RunPod's `/runsync` (waits up to 90 s).
    #[serde(default)]
    sync: bool,
}

/// Submits a serverless job to an endpoint.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", params(SyncQuery), request_body = podwarden_core::serverless_job::ServerlessJobSpec, responses((status = 201, body = ServerlessJobView), (status = 402, description = "the hosted spend cap has too little left (spent or reserved)", body = ErrorBody), (status = 413, description = "input over RunPod's payload limit", body = ErrorBody), (status = 422, description = "invalid spec: the field, the problem, a hint", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn create_serverless_job(
    State(s): S,
    Extension(c): C,
    Query(q): Query<SyncQuery>,
    Body(v): Body<serde_json::Value>,
) -> R<(StatusCode, Json<ServerlessJobView>)> {
    let spec = podwarden_core::serverless_job::ServerlessJobSpec::from_json(v)
        .map_err(|e| spec_error(ErrorCode::InvalidSpec, &e))?;
    let store = s.engine.store();
    let account = match store
        .endpoint_by_name(&c.0.id, &spec.endpoint)
        .await
        .map_err(EngineError::from)?
    {
        Some(own) => own.account,
        None => {
            let account = user_account(&s, &c.0.id, podwarden_core::ProviderKind::RunPod).await?;
            if !account.is_hosted() {
                // A BYOK user's first job for a published endpoint: their own copy of it
                // (template and endpoint) is created on their account and kept for the next.
                let published =
                    store.endpoint_published(&spec.endpoint).await.map_err(EngineError::from)?;
                let Some(published) = published else {
                    return Err(EngineError::NoSuchEndpoint(spec.endpoint.clone()).into());
                };
                let ep_spec: podwarden_core::endpoint::EndpointSpec =
                    serde_json::from_str(&published.spec)
                        .map_err(|e| EngineError::Corrupt(e.to_string()))?;
                let ep_spec = ep_spec.for_another_account();
                let engine = engine_for(&s, &account).await.map_err(account_error)?;
                let d = engine.deploy(ep_spec, &c.0.id).await?;
                tracing::info!(user = %c.0.id, endpoint = %d.row.resource_name, from = %published.name, "created a BYOK user's copy of a published endpoint");
            }
            account
        }
    };
    let mut spec = spec;
    stamp_user(&s, &c.0.id, &mut spec).await?;
    let row = engine_for(&s, &account)
        .await
        .map_err(account_error)?
        .submit_serverless_job(spec, &c.0.id, q.sync)
        .await?;
    crate::driving::poke(&s, &account);
    Ok((StatusCode::CREATED, Json(serverless_job_view(&row, s.simulated))))
}

/// The caller's serverless jobs, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(ListQuery), responses((status = 200, body = Vec<ServerlessJobView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_serverless_jobs(
    State(s): S,
    Extension(c): C,
    Query(q): Query<ListQuery>,
) -> R<Json<Vec<ServerlessJobView>>> {
    let rows = s
        .engine
        .store()
        .serverless_jobs_recent(&c.0.id, q.limit.unwrap_or(50).clamp(1, LIST_LIMIT))
        .await
        .map_err(EngineError::from)?;
    Ok(Json(rows.iter().map(|r| serverless_job_view(r, s.simulated)).collect()))
}

/// The caller's serverless job (another user's is "not found": no existence leak).
pub(crate) async fn owned_serverless_job(
    s: &AppState,
    id: &str,
    owner: &str,
) -> R<ServerlessJobRow> {
    let parsed = id.parse().map_err(|_| EngineError::NoSuchServerlessJob(id.into()))?;
    let r = s.engine.serverless_job(parsed).await?;
    if r.owner != owner {
        return Err(EngineError::NoSuchServerlessJob(id.into()).into());
    }
    Ok(r)
}

/// One serverless job (state, why it waits, output, cost).
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = String, Path, description = "serverless job id")), responses((status = 200, body = ServerlessJobView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn get_serverless_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<Json<ServerlessJobView>> {
    Ok(Json(serverless_job_view(&owned_serverless_job(&s, &id, &c.0.id).await?, s.simulated)))
}

/// Cancels a serverless job.
#[utoipa::path(post, path = "/api/v1/requests/{id}/stop", tag = "requests", params(("id" = String, Path, description = "serverless job id")), responses((status = 409, description = "the serverless job has already ended", body = ErrorBody), (status = 202, body = ServerlessJobView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn stop_serverless_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<(StatusCode, Json<ServerlessJobView>)> {
    let r = owned_serverless_job(&s, &id, &c.0.id).await?;
    let row = engine_for(&s, &r.account)
        .await
        .map_err(account_error)?
        .cancel_serverless_job(r.id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(serverless_job_view(&row, s.simulated))))
}

/// Runs a failed or timed-out serverless job again (RunPod's `/retry`: the same input): a new
/// serverless job, admitted against the spend cap like a submit.
#[utoipa::path(post, path = "/api/v1/requests/{id}/retry", tag = "requests", params(("id" = String, Path, description = "serverless job id")), responses((status = 201, description = "the new serverless job", body = ServerlessJobView), (status = 402, description = "the hosted spend cap has too little left (spent or reserved)", body = ErrorBody), (status = 409, description = "not failed or timed out, or its endpoint is gone", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn retry_serverless_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<(StatusCode, Json<ServerlessJobView>)> {
    let r = owned_serverless_job(&s, &id, &c.0.id).await?;
    let account = r.account.clone();
    let row =
        engine_for(&s, &account).await.map_err(account_error)?.retry_serverless_job(r.id).await?;
    crate::driving::poke(&s, &account);
    Ok((StatusCode::CREATED, Json(serverless_job_view(&row, s.simulated))))
}
