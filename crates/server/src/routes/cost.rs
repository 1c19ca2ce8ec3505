//! Status, GPU offers and the caller's cost report.

use super::*;
use crate::accounts::engine_for;
use crate::api::{CostReport, ErrorBody, EstimateView, GpuRow, Status};
use crate::extract::Query;
use axum::extract::State;
use axum::{Extension, Json};
use podwarden_core::ProviderKind;
use podwarden_core::gpu::{CloudTier, rank_placements};
use podwarden_core::spec::JobSpec;
use serde::Deserialize;

/// Server version, install id and provider.
#[utoipa::path(get, path = "/api/v1/status", tag = "status", responses((status = 200, body = Status), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn status(State(s): S) -> Json<Status> {
    Json(Status {
        version: env!("CARGO_PKG_VERSION").into(),
        install: s.engine.install().into(),
        simulated: s.simulated,
        provider: s.provider.clone(),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GpuQuery {
    /// GPU memory at least, GB.
    #[param(minimum = 1, maximum = 10_000)]
    min_vram_gb: Option<i64>,
    /// GPUs per pod.
    #[param(minimum = 1, maximum = 8)]
    count: Option<i64>,
    /// `any` (default), `secure` or `community`.
    #[param(pattern = r"^(any|secure|community)$")]
    cloud: Option<String>,
    /// A price ceiling, USD per hour.
    #[param(exclusive_minimum = 0, maximum = 1_000)]
    max_price_per_hour: Option<f64>,
    /// Only this provider's offers (`runpod`, `aws`); default every provider the server has.
    #[param(pattern = r"^(runpod|aws)$")]
    provider: Option<String>,
}

/// GPU offers that fit, ranked as the engine ranks them, with live prices and stock.
#[utoipa::path(get, path = "/api/v1/gpus", tag = "gpus", params(GpuQuery), responses((status = 200, body = Vec<GpuRow>), (status = 409, description = "the provider asked for has no account here (`no_provider`)", body = ErrorBody), (status = 422, description = "a query value is out of range (named)", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn gpus(
    State(s): S,
    Extension(c): C,
    Query(q): Query<GpuQuery>,
) -> R<Json<Vec<GpuRow>>> {
    // The same ranking `run` uses, on a spec made only of the query's GPU requirements.
    let spec = JobSpec::from_json(serde_json::json!({
        "name": "gpus", "image": "gpus-query", "command": "-",
        "cloud": q.cloud.as_deref().unwrap_or("any"),
        "gpu": {"min_vram_gb": q.min_vram_gb.unwrap_or(1), "count": q.count.unwrap_or(1), "max_price_per_hour": q.max_price_per_hour},
    }))
    .map_err(|e| spec_error(ErrorCode::InvalidQuery, &e))?;
    let named: Option<ProviderKind> = match q.provider.as_deref() {
        None => None,
        Some(p) => Some(p.parse().map_err(|e: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidQuery, e, None)
        })?),
    };
    let providers: Vec<ProviderKind> = match named {
        Some(p) => vec![p],
        None if s.aws.is_some() => vec![ProviderKind::RunPod, ProviderKind::Aws],
        None => vec![ProviderKind::RunPod],
    };
    let mut rows = Vec::new();
    for provider in providers {
        // The caller's own account's catalog when they compute on their own key there.
        let account = user_account(&s, &c.0.id, provider).await?;
        let offers = match engine_for(&s, &account).await.map_err(account_error)?.offers().await {
            Ok(o) => o,
            // A provider the caller did not name does not take the others' offers down.
            Err(e) if named.is_none() && provider != s.default_provider => {
                tracing::warn!(%provider, error = %e, "no offers from this provider for `gpus`");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        rows.extend(rank_placements(&spec, &offers).into_iter().map(|p| GpuRow {
            provider: provider.as_str().into(),
            name: p.display_name,
            gpu_type: p.gpu_type,
            vram_gb: p.vram_gb,
            cloud: match (provider, p.cloud) {
                (ProviderKind::Aws, _) => "on-demand".into(),
                (_, CloudTier::Secure) => "secure".into(),
                (_, CloudTier::Community) => "community".into(),
            },
            price_per_hour_usd: p.price_per_hour.usd(),
            data_centers: p.data_centers,
        }));
    }
    // Side by side, cheapest first (each provider's own order among equal prices).
    rows.sort_by(|a, b| a.price_per_hour_usd.total_cmp(&b.price_per_hour_usd));
    Ok(Json(rows))
}

/// What a pod job would cost before it runs: the offer the planner would try first, at its
/// live price, for a typical boot plus `max_runtime`, capped by the budget.
#[utoipa::path(post, path = "/api/v1/estimate", tag = "jobs", request_body = JobSpec, responses((status = 200, body = EstimateView), (status = 409, description = "the spec's provider has no account here (`no_provider`)", body = ErrorBody), (status = 422, description = "invalid spec, or no GPU offer fits it", body = ErrorBody), (status = 400, description = "malformed JSON (with line and column)", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn estimate(
    State(s): S,
    Extension(c): C,
    crate::extract::Body(v): crate::extract::Body<serde_json::Value>,
) -> R<Json<EstimateView>> {
    let mut spec = JobSpec::from_json(v).map_err(|e| spec_error(ErrorCode::InvalidSpec, &e))?;
    // Where it would start (with `providers`, the first cloud that has an account here).
    let account = super::jobs::first_account(&s, &c.0.id, &mut spec).await?;
    let engine = engine_for(&s, &account).await.map_err(account_error)?;
    let offers = engine.offers().await?;
    spec.gpu.types = podwarden_core::gpu::resolve_gpu_types(&spec.gpu.types, &offers)
        .map_err(|e| EngineError::UnknownGpuType(e.to_string()))?;
    let e = podwarden_core::estimate::estimate(&spec, &offers)
        .ok_or_else(|| EngineError::NoGpuFits("nothing offered fits the spec's [gpu]".into()))?;
    Ok(Json(EstimateView {
        gpu_type: e.gpu_type,
        name: e.display_name,
        count: e.count,
        cloud: match e.cloud {
            CloudTier::Secure => "secure".into(),
            CloudTier::Community => "community".into(),
        },
        price_per_hour_usd: e.price_per_hour.usd(),
        max_cost_usd: e.max_cost.map(|m| m.usd()),
        bound: match e.bound {
            podwarden_core::estimate::Bound::Budget => "budget",
            podwarden_core::estimate::Bound::MaxRuntime => "max_runtime",
            podwarden_core::estimate::Bound::None => "none",
        }
        .into(),
        boot_s: podwarden_core::estimate::TYPICAL_BOOT_MS / 1000,
        boot_cost_usd: e.boot_cost.usd(),
        simulated: s.simulated,
    }))
}

/// The caller's spend: total, per job, per GPU type, per day.
#[utoipa::path(get, path = "/api/v1/cost", tag = "cost", responses((status = 200, body = CostReport), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn cost(State(s): S, Extension(c): C) -> R<Json<CostReport>> {
    let c = s.engine.cost_summary(&c.0.id).await?;
    Ok(Json(CostReport {
        total_usd: c.total.usd(),
        by_job: c.by_job.into_iter().map(|(id, name, m)| (id, name, m.usd())).collect(),
        by_gpu: c.by_gpu.into_iter().map(|(k, m)| (k, m.usd())).collect(),
        by_provider: c.by_provider.into_iter().map(|(k, m)| (k, m.usd())).collect(),
        by_day: c.by_day.into_iter().map(|(k, m)| (k, m.usd())).collect(),
        awaiting_bills: c.awaiting_bills,
        simulated: s.simulated,
    }))
}
