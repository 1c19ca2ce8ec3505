//! REST v2 handlers: pods, endpoints, templates, network volumes, registries, queued pods,
//! secrets, the account; the catalog (`catalog`) and billing (`billing`) with their query
//! checks. One thin handler per REST v2 operation of RunPod's spec, each checking its input and
//! calling `World`.

mod billing;
mod catalog;

pub(crate) use billing::*;
pub(crate) use catalog::*;

use super::{Caller, Principal, query_bool, query_int, query_map};
use crate::Shared;
use crate::clock::rfc3339;
use crate::paging::PageRequest;
use crate::problem::{ApiError, ApiResult};
use crate::validate::parse;
use crate::world::catalog::AvailabilityScope;
use crate::world::ledger::{Bucket, Kind};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use runpod::types::billing::{
    BillingQueryEcho, ListPodBillingResponse, ListServerlessBillingResponse, PodBillingAmounts,
    PodBillingMetadata, PodBillingRecord, ServerlessBillingAmounts, ServerlessBillingMetadata,
    ServerlessBillingRecord,
};
use runpod::types::catalog::{ListDataCentersResponse, ListGpuTypesResponse};
use runpod::types::endpoints::{
    CreateEndpointRequest, ListEndpointsResponse, UpdateEndpointRequest,
};
use runpod::types::network_volumes::{
    CreateNetworkVolumeRequest, ListNetworkVolumesResponse, UpdateNetworkVolumeRequest,
};
use runpod::types::pods::{Cloud, CreatePodRequest, PodAction, PodActionRequest, UpdatePodRequest};
use runpod::types::templates::{
    CreateTemplateRequest, ListTemplatesResponse, UpdateTemplateRequest,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;

type S = State<Arc<Shared>>;
type C = Extension<Caller>;

/// The page of list `list` a request asks for (`limit`, `cursor`), for account `a`.
fn page_of(
    s: &Shared,
    a: &str,
    q: &std::collections::HashMap<String, String>,
    list: &str,
) -> ApiResult<PageRequest> {
    PageRequest::from_query(q, a, list, s.cfg.page_size)
}

fn created<T: Serialize>(v: T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

// ---- pods ----

pub(crate) async fn list_pods(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = query_map(q.as_deref());
    // No cluster exists here, so `includeClusterPods` changes nothing once it is a boolean.
    query_bool(&q, "includeClusterPods")?;
    let page = page_of(&s, &a, &q, "pods")?;
    let body = s.with_world(|w, now| w.pod_list_json(&a, &page, now));
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub(crate) async fn create_pod(
    State(s): S,
    Extension(Caller(a)): C,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreatePodRequest = parse(&body)?;
    s.with_world(|w, now| w.pod_create(&a, req, now)).map(created)
}

pub(crate) async fn get_pod(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, now| {
        w.tick_pod(&id, now);
        w.pod_live(&id).map(|p| Json(p.to_api(now)).into_response())
    })
}

pub(crate) async fn update_pod(
    State(s): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UpdatePodRequest = parse(&body)?;
    s.with_world(|w, now| w.pod_update(&id, req, now)).map(|p| Json(p).into_response())
}

pub(crate) async fn delete_pod(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, now| w.pod_terminate(&id, now)).map(|()| StatusCode::NO_CONTENT)
}

pub(crate) async fn pod_action(
    State(s): S,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: PodActionRequest = parse(&body)?;
    if matches!(who, Principal::Pod(_))
        && !matches!(req.action, PodAction::Stop | PodAction::Terminate)
    {
        return Err(ApiError::forbidden());
    }
    s.with_world(|w, now| w.pod_action(&id, req.action, now)).map(|p| Json(p).into_response())
}

// ---- serverless endpoints ----

pub(crate) async fn list_endpoints(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListEndpointsResponse>> {
    let page = page_of(&s, &a, &query_map(q.as_deref()), "endpoints")?;
    Ok(Json(s.with_world(|w, _| w.endpoint_list(&a, &page))))
}

pub(crate) async fn create_endpoint(
    State(s): S,
    Extension(Caller(a)): C,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateEndpointRequest = parse(&body)?;
    s.with_world(|w, now| w.endpoint_create(&a, req, now)).map(created)
}

pub(crate) async fn get_endpoint(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| w.endpoint_api(&id)).map(|e| Json(e).into_response())
}

pub(crate) async fn update_endpoint(
    State(s): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UpdateEndpointRequest = parse(&body)?;
    s.with_world(|w, now| w.endpoint_update(&id, req, now)).map(|e| Json(e).into_response())
}

pub(crate) async fn delete_endpoint(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, now| w.endpoint_delete(&id, now)).map(|()| StatusCode::NO_CONTENT)
}

pub(crate) async fn endpoint_workers(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, now| w.endpoint_workers(&id, now)).map(|r| Json(r).into_response())
}

pub(crate) async fn endpoint_releases(
    State(s): S,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.with_world(|w, _| w.endpoint_releases(&id)).map(Json)
}

// ---- container registry credentials ----

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRegistry {
    name: String,
    username: String,
    password: String,
}

fn registry_json(r: &crate::world::storage::RegistryRecord) -> Value {
    json!({"id": r.id, "name": r.name})
}

pub(crate) async fn list_registries(State(s): S, Extension(Caller(a)): C) -> Json<Value> {
    Json(
        json!({"registries": s.with_world(|w, _| w.registry_list(&a).into_iter().map(registry_json).collect::<Vec<_>>())}),
    )
}

pub(crate) async fn create_registry(
    State(s): S,
    Extension(Caller(a)): C,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateRegistry =
        serde_json::from_slice(&body).map_err(|e| ApiError::validation(vec![format!("$: {e}")]))?;
    let empty: Vec<String> =
        [("name", &req.name), ("username", &req.username), ("password", &req.password)]
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| format!("$.{k}: length must be >= 1, but got 0"))
            .collect();
    if !empty.is_empty() {
        return Err(ApiError::validation(empty));
    }
    s.with_world(|w, now| w.registry_create(&a, &req.name, now)).map(|r| created(registry_json(&r)))
}

pub(crate) async fn get_registry(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    s.with_world(|w, _| {
        w.registries.get(&id).map(registry_json).map(Json).ok_or_else(ApiError::not_found)
    })
}

pub(crate) async fn delete_registry(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, _| w.registry_delete(&id)).map(|()| StatusCode::NO_CONTENT)
}

// ---- Instant Clusters (not emulated: none ever exists) ----

pub(crate) async fn list_clusters() -> Json<Value> {
    Json(json!({"clusters": []}))
}

pub(crate) async fn create_cluster() -> ApiError {
    ApiError::bad_request(
        "Instant Clusters are not emulated; the emulator runs single pods (docs/emulator.md)",
    )
}

pub(crate) async fn no_cluster() -> ApiError {
    ApiError::not_found()
}

// ---- templates ----

pub(crate) async fn list_templates(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListTemplatesResponse>> {
    let page = page_of(&s, &a, &query_map(q.as_deref()), "templates")?;
    Ok(Json(s.with_world(|w, _| w.template_list(&a, &page))))
}

pub(crate) async fn create_template(
    State(s): S,
    Extension(Caller(a)): C,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateTemplateRequest = parse(&body)?;
    s.with_world(|w, now| w.template_create(&a, req, now)).map(created)
}

pub(crate) async fn get_template(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| {
        w.templates
            .get(&id)
            .map(|t| Json(t.template.clone()).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

pub(crate) async fn update_template(
    State(s): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UpdateTemplateRequest = parse(&body)?;
    s.with_world(|w, _| w.template_update(&id, req)).map(|t| Json(t).into_response())
}

pub(crate) async fn delete_template(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, _| w.template_delete(&id)).map(|()| StatusCode::NO_CONTENT)
}

// ---- network volumes ----

pub(crate) async fn list_volumes(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListNetworkVolumesResponse>> {
    let page = page_of(&s, &a, &query_map(q.as_deref()), "network-volumes")?;
    let mut v: Vec<(String, _)> = s.with_world(|w, _| {
        w.volumes
            .values()
            .filter(|v| v.account == a)
            .map(|v| (v.volume.id.0.clone(), v.volume.clone()))
            .collect()
    });
    v.sort_by(|x, y| x.0.cmp(&y.0));
    let (network_volumes, pagination) = page.page(v);
    Ok(Json(ListNetworkVolumesResponse { network_volumes, pagination }))
}

pub(crate) async fn create_volume(
    State(s): S,
    Extension(Caller(a)): C,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateNetworkVolumeRequest = parse(&body)?;
    s.with_world(|w, now| w.volume_create(&a, req, now)).map(created)
}

pub(crate) async fn get_volume(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| {
        w.volumes
            .get(&id)
            .map(|v| Json(v.volume.clone()).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

pub(crate) async fn update_volume(
    State(s): S,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UpdateNetworkVolumeRequest = parse(&body)?;
    s.with_world(|w, now| w.volume_update(&id, req, now)).map(|v| Json(v).into_response())
}

pub(crate) async fn delete_volume(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, now| w.volume_delete(&id, now)).map(|()| StatusCode::NO_CONTENT)
}

// ---- queued pods ----

pub(crate) async fn list_queued_pods(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<runpod::types::queued_pods::ListQueuedPodsResponse>> {
    let page = page_of(&s, &a, &query_map(q.as_deref()), "queued-pods")?;
    Ok(Json(s.with_world(|w, _| w.queued_list(&a, &page))))
}

pub(crate) async fn get_queued_pod(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| {
        w.queued_pods
            .get(&id)
            .map(|q| Json(q.entry.clone()).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

pub(crate) async fn cancel_queued_pod(
    State(s): S,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.with_world(|w, _| w.queued_cancel(&id)).map(|()| StatusCode::NO_CONTENT)
}

// ---- account secrets (values are write-only: no answer carries one) ----

pub(crate) async fn list_secrets(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<runpod::types::secrets::ListSecretsResponse>> {
    let q = query_map(q.as_deref());
    let page = page_of(&s, &a, &q, "secrets")?;
    let name = q.get("name").map(String::as_str);
    Ok(Json(s.with_world(|w, _| w.secret_list(&a, name, &page))))
}

pub(crate) async fn create_secret(
    State(s): S,
    Extension(Caller(a)): C,
    body: Bytes,
) -> ApiResult<Response> {
    let req: runpod::types::secrets::CreateSecretRequest = parse(&body)?;
    s.with_world(|w, now| w.secret_create(&a, req, now)).map(|r| created(r.view()))
}

pub(crate) async fn get_secret(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| {
        w.secrets.get(&id).map(|r| Json(r.view()).into_response()).ok_or_else(ApiError::not_found)
    })
}

pub(crate) async fn delete_secret(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, _| w.secret_delete(&id)).map(|()| StatusCode::NO_CONTENT)
}

// ---- account (paths unconfirmed: docs/emulator.md) ----

pub(crate) async fn account_limits(
    State(s): S,
    Extension(Caller(a)): C,
) -> ApiResult<Json<runpod::types::account::AccountLimits>> {
    use runpod::types::account::{AccountLimits, Limit};
    s.with_world(|w, _| {
        let acct = w.account(&a).ok_or_else(ApiError::unauthorized)?;
        let workers: i64 =
            w.endpoints.values().filter(|e| e.account == a).map(|e| e.workers_max).sum();
        Ok(Json(AccountLimits {
            spend_rate: Limit {
                limit: Some(acct.spend_limit),
                current: Some(w.current_spend_per_hr(&a)),
            },
            serverless_workers: Limit { limit: None, current: Some(workers as f64) },
        }))
    })
}

pub(crate) async fn account_balance(
    State(s): S,
    Extension(Caller(a)): C,
) -> ApiResult<Json<runpod::types::account::AccountBalance>> {
    use runpod::types::account::{AccountBalance, BillingMode};
    s.with_world(|w, _| {
        let acct = w.account(&a).ok_or_else(ApiError::unauthorized)?;
        // Prepaid, the stricter mode: no pod or worker starts without balance.
        Ok(Json(AccountBalance {
            balance_amount: (acct.balance * 100.0).round() / 100.0,
            billing_mode: BillingMode::Prepaid,
        }))
    })
}
