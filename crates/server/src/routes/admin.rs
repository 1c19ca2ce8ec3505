//! Operators' views: the background tasks' last passes, billing reconciliation, strays.

use super::*;
use crate::AppState;
use crate::api::ErrorBody;
use crate::extract::Body;
use axum::extract::State;
use axum::{Extension, Json};
use podwarden_core::Money;
use podwarden_engine::EngineError;

/// The background tasks' last activations, per task and account (admin): when each ran, how
/// long it took, what it did and what failed.
#[utoipa::path(get, path = "/api/v1/admin/tasks", tag = "admin", responses((status = 200, body = Vec<crate::tasks::TaskStatus>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn admin_tasks(
    State(s): S,
    Extension(c): C,
) -> R<Json<Vec<crate::tasks::TaskStatus>>> {
    admin_only(&c)?;
    Ok(Json(s.tasks.all()))
}

/// The ledger against RunPod's billing API, pod by pod (admin).
#[utoipa::path(get, path = "/api/v1/cost/reconciliation", tag = "cost", responses((status = 200, body = crate::api::Reconciliation), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn reconciliation(
    State(s): S,
    Extension(c): C,
) -> R<Json<crate::api::Reconciliation>> {
    admin_only(&c)?;
    Ok(Json(reconciliation_view(&s, 0).await?))
}

/// Checks every settled pod not checked yet, and every closed hour of the operator's endpoints,
/// against RunPod's bill as it stands now, correcting the ledger to the bill (admin; an absent
/// bill books nothing). The server also does this on
/// its own, waiting until two reads of a pod's bill agree or the settle time passed.
#[utoipa::path(post, path = "/api/v1/cost/reconcile", tag = "cost", responses((status = 200, body = crate::api::Reconciliation), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn reconcile(State(s): S, Extension(c): C) -> R<Json<crate::api::Reconciliation>> {
    admin_only(&c)?;
    let mut checked = 0;
    if s.hosted {
        let policy = podwarden_engine::billing::BillingPolicy::now();
        checked +=
            s.engine.reconcile_billing(policy, crate::accounts::RECONCILE_NOW_LIMIT).await?.checked;
        checked += s.engine.reconcile_endpoint_bills(policy).await?.checked;
    }
    if let Some(aws) = &s.aws {
        let policy = podwarden_engine::billing::BillingPolicy::now();
        checked +=
            aws.reconcile_billing(policy, crate::accounts::RECONCILE_NOW_LIMIT).await?.checked;
    }
    checked += crate::accounts::reconcile_all(&s).await?;
    Ok(Json(reconciliation_view(&s, checked).await?))
}

pub(crate) async fn reconciliation_view(
    s: &AppState,
    checked_now: usize,
) -> R<crate::api::Reconciliation> {
    let rows = s.engine.store().billing_checks(1000).await.map_err(EngineError::from)?;
    Ok(crate::api::Reconciliation {
        checked_now,
        mismatches: rows.iter().filter(|r| r.ours != r.theirs).count(),
        overcounted_usd: rows.iter().map(|r| r.ours - r.theirs).sum::<Money>().usd(),
        checks: rows
            .into_iter()
            .map(|r| crate::api::BillingCheckView {
                job_id: r.job_id.to_string(),
                pod_id: r.pod_id,
                at: r.at,
                ours_usd: r.ours.usd(),
                theirs_usd: r.theirs.usd(),
            })
            .collect(),
    })
}

/// Pods on the operator's RunPod account named by another podwarden install (admin): a lost
/// database's, or another podwarden's on the same account. Reported, never touched unasked.
#[utoipa::path(get, path = "/api/v1/strays", tag = "admin", responses((status = 200, body = Vec<crate::api::StrayView>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_strays(
    State(s): S,
    Extension(c): C,
) -> R<Json<Vec<crate::api::StrayView>>> {
    admin_only(&c)?;
    let strays = s.engine.strays().await?;
    Ok(Json(
        strays
            .into_iter()
            .map(|x| crate::api::StrayView {
                pod_id: x.pod_id,
                name: x.name,
                install: x.install,
                running: x.running,
                cost_per_hour_usd: x.cost_per_hour.usd(),
            })
            .collect(),
    ))
}

/// Terminates every stray pod of one install (admin, on purpose: another podwarden on the same
/// account names its pods the same way).
#[utoipa::path(post, path = "/api/v1/strays/reap", tag = "admin", request_body = crate::api::ReapBody, responses((status = 200, description = "`{terminated: [pod ids]}`", body = Object), (status = 403, description = "not an admin", body = ErrorBody), (status = 409, description = "that is this install", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn reap_strays(
    State(s): S,
    Extension(c): C,
    Body(b): Body<crate::api::ReapBody>,
) -> R<Json<serde_json::Value>> {
    admin_only(&c)?;
    let done = s.engine.reap_strays(&b.install).await?;
    Ok(Json(serde_json::json!({"terminated": done})))
}

/// What this install has learned of each offer it has launched on (admin): boots and their
/// time, duds, losses, and the operator's pins and bans (`docs/job-spec.md` → Capacity).
#[utoipa::path(get, path = "/api/v1/admin/offers", tag = "admin", responses((status = 200, body = Vec<crate::api::LearnedOffer>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn learned_offers(
    State(s): S,
    Extension(c): C,
) -> R<Json<Vec<crate::api::LearnedOffer>>> {
    admin_only(&c)?;
    let stats = s.engine.store().offer_stats().await.map_err(EngineError::from)?;
    Ok(Json(
        stats
            .into_iter()
            .map(|(k, r)| crate::api::LearnedOffer {
                mean_boot_secs: (r.boots > 0)
                    .then(|| r.boot_ms_total as f64 / r.boots as f64 / 1000.0),
                dud_rate: r.dud_rate(),
                loss_rate: r.loss_rate(),
                provider: k.provider,
                gpu_type: k.gpu_type,
                data_center: k.data_center,
                cloud: k.cloud,
                boots: r.boots,
                duds: r.duds,
                losses: r.losses,
                pinned: r.pinned,
                banned: r.banned,
            })
            .collect(),
    ))
}

/// How fast each workload (a user's job, by name and image) ran on each GPU, from the
/// `samples_per_second` it reported (admin), with the factor the ranking multiplies its
/// expected run by there.
#[utoipa::path(get, path = "/api/v1/admin/speeds", tag = "admin", responses((status = 200, body = Vec<crate::api::LearnedSpeed>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn learned_speeds(
    State(s): S,
    Extension(c): C,
) -> R<Json<Vec<crate::api::LearnedSpeed>>> {
    admin_only(&c)?;
    let speeds = s.engine.store().offer_speeds().await.map_err(EngineError::from)?;
    // Factors are relative within one workload on one provider.
    let mut groups: std::collections::BTreeMap<_, Vec<_>> = Default::default();
    for (k, r) in speeds {
        let workload = (k.owner.clone(), k.job_name.clone(), k.image.clone(), k.provider.clone());
        groups.entry(workload).or_default().push((k, r));
    }
    Ok(Json(
        groups
            .into_values()
            .flat_map(|g| {
                let factors = podwarden_core::learned::RunFactors::from_records(&g);
                g.into_iter().map(move |(k, r)| crate::api::LearnedSpeed {
                    run_factor: factors.of(&k.gpu_type, k.gpu_count),
                    mean_samples_per_second: r.mean().unwrap_or(0.0),
                    reports: r.reports,
                    owner: k.owner,
                    job_name: k.job_name,
                    provider: k.provider,
                    image: k.image,
                    gpu_type: k.gpu_type,
                    gpu_count: k.gpu_count,
                })
            })
            .collect(),
    ))
}

/// Pins an offer (tried before any other that fits), bans it (never tried), or clears both
/// (admin). The GPU type and data center are taken as given: a name no offer has matches
/// nothing.
#[utoipa::path(put, path = "/api/v1/admin/offers", tag = "admin", request_body = crate::api::OfferFlag, responses((status = 204, description = "set"), (status = 422, description = "an unknown flag, provider or cloud", body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn flag_offer(
    State(s): S,
    Extension(c): C,
    Body(b): Body<crate::api::OfferFlag>,
) -> R<axum::http::StatusCode> {
    admin_only(&c)?;
    let invalid = |what: String, hint: &str| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            crate::api::ErrorCode::InvalidSpec,
            what,
            Some(hint),
        )
    };
    let (pinned, banned) = match b.flag.as_str() {
        "pin" => (true, false),
        "ban" => (false, true),
        "clear" => (false, false),
        other => return Err(invalid(format!("unknown flag {other:?}"), "use pin, ban or clear")),
    };
    if !matches!(b.provider.as_str(), "runpod" | "aws") {
        return Err(invalid(format!("unknown provider {:?}", b.provider), "use runpod or aws"));
    }
    match (b.provider.as_str(), b.cloud.as_str()) {
        ("runpod", "secure" | "community") | ("aws", "aws") => {}
        (p, c) => {
            return Err(invalid(
                format!("{p} has no cloud {c:?}"),
                "RunPod's clouds are secure and community; AWS's is aws",
            ));
        }
    }
    for (field, v) in [("gpu_type", &b.gpu_type), ("data_center", &b.data_center)] {
        if v.trim().is_empty() || v.len() > 200 {
            return Err(invalid(
                format!("{field} must be 1 to 200 characters"),
                "e.g. NVIDIA RTX A4000, EU-RO-1",
            ));
        }
    }
    let key = podwarden_core::learned::OfferKey {
        provider: b.provider,
        gpu_type: b.gpu_type,
        data_center: b.data_center,
        cloud: b.cloud,
    };
    let now = s.engine.now_ms();
    s.engine.store().offer_flag(&key, pinned, banned, now).await.map_err(EngineError::from)?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
