//! Status, GPU offers and the caller's cost report.

use super::*;
use crate::accounts::engine_for;
use crate::api::{CostReport, ErrorBody, GpuRow, Status};
use crate::extract::Query;
use axum::extract::State;
use axum::{Extension, Json};
use core_domain::gpu::{CloudTier, rank_placements};
use core_domain::spec::JobSpec;
use core_domain::{Money, WorkId};
use engine::EngineError;
use serde::Deserialize;
use std::collections::BTreeMap;

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
    min_vram_gb: Option<i64>,
    count: Option<i64>,
    cloud: Option<String>,
    max_price_per_hour: Option<f64>,
}

/// GPU offers that fit, ranked as the engine ranks them, with live prices and stock.
#[utoipa::path(get, path = "/api/v1/gpus", tag = "gpus", params(GpuQuery), responses((status = 200, body = Vec<GpuRow>), (status = 422, description = "a query value is out of range (named)", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
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
    .map_err(|e| spec_error("invalid_query", &e))?;
    // The caller's own account's catalog when they compute on their own key.
    let account = user_account(&s, &c.0.id).await?;
    let offers = engine_for(&s, &account).await.map_err(account_error)?.offers().await?;
    Ok(Json(
        rank_placements(&spec, &offers)
            .into_iter()
            .map(|p| GpuRow {
                name: p.display_name,
                gpu_type: p.gpu_type,
                vram_gb: p.vram_gb,
                cloud: match p.cloud {
                    CloudTier::Secure => "secure".into(),
                    CloudTier::Community => "community".into(),
                },
                price_per_hour_usd: p.price_per_hour.usd(),
                data_centers: p.data_centers,
            })
            .collect(),
    ))
}

/// The caller's spend: total, per job, per GPU type, per day.
#[utoipa::path(get, path = "/api/v1/cost", tag = "cost", responses((status = 200, body = CostReport), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn cost(State(s): S, Extension(c): C) -> R<Json<CostReport>> {
    let store = s.engine.store();
    let rows = store.cost_rows_of(&c.0.id).await.map_err(EngineError::from)?;
    let (mut by_job, mut by_gpu, mut by_day) = (
        BTreeMap::<String, i64>::new(),
        BTreeMap::<String, i64>::new(),
        BTreeMap::<String, i64>::new(),
    );
    for r in &rows {
        *by_job.entry(r.job_id.clone()).or_default() += r.amount_micros;
        *by_gpu.entry(r.gpu_type.clone()).or_default() += r.amount_micros;
        let day = r.from_ms.div_euclid(86_400_000);
        *by_day.entry(day_string(day)).or_default() += r.amount_micros;
    }
    let mut jobs = Vec::new();
    for (id, m) in by_job {
        let name = if matches!(id.parse(), Ok(WorkId::ServerlessJob(_))) {
            store
                .serverless_job_get(&id)
                .await
                .map_err(EngineError::from)?
                .map(|r| format!("{} (serverless)", r.name))
                .unwrap_or_default()
        } else {
            store.job_get(&id).await.map_err(EngineError::from)?.map(|j| j.name).unwrap_or_default()
        };
        jobs.push((id, name, Money(m).usd()));
    }
    Ok(Json(CostReport {
        total_usd: Money(rows.iter().map(|r| r.amount_micros).sum()).usd(),
        by_job: jobs,
        by_gpu: by_gpu.into_iter().map(|(k, v)| (k, Money(v).usd())).collect(),
        by_day: by_day.into_iter().map(|(k, v)| (k, Money(v).usd())).collect(),
        simulated: s.simulated,
    }))
}

/// `YYYY-MM-DD` of a day number since the Unix epoch (civil-from-days).
pub(crate) fn day_string(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
