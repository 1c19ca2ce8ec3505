//! REST v2 handlers: pods, endpoints, templates, network volumes, catalog, billing.

use super::{Principal, query_int, query_map};
use crate::Shared;
use crate::clock::rfc3339;
use crate::problem::{ApiError, ApiResult};
use crate::validate::parse;
use crate::world::ledger::{Kind, bucket_start};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use runpod::types::billing::{
    BillingQueryEcho, ListPodBillingResponse, ListServerlessBillingResponse, PodBillingAmounts, PodBillingMetadata, PodBillingRecord,
    ServerlessBillingAmounts, ServerlessBillingMetadata, ServerlessBillingRecord,
};
use runpod::types::catalog::{ListDataCentersResponse, ListGpuTypesResponse};
use runpod::types::endpoints::{CreateEndpointRequest, ListEndpointsResponse, UpdateEndpointRequest};
use runpod::types::network_volumes::{CreateNetworkVolumeRequest, ListNetworkVolumesResponse, UpdateNetworkVolumeRequest};
use runpod::types::pods::{CreatePodRequest, PodAction, PodActionRequest, UpdatePodRequest};
use runpod::types::templates::{CreateTemplateRequest, ListTemplatesResponse, UpdateTemplateRequest};
use serde::Serialize;
use std::sync::Arc;

type S = State<Arc<Shared>>;

fn created<T: Serialize>(v: T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

// ---- pods ----

pub(crate) async fn list_pods(State(s): S) -> Response {
    let body = s.with_world(|w, now| w.pod_list_json(now));
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) async fn create_pod(State(s): S, body: Bytes) -> ApiResult<Response> {
    let req: CreatePodRequest = parse(&body)?;
    s.with_world(|w, now| w.pod_create(req, now)).map(created)
}

pub(crate) async fn get_pod(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, now| {
        w.tick_pod(&id, now);
        w.pod_live(&id).map(|p| Json(p.to_api(now)).into_response())
    })
}

pub(crate) async fn update_pod(State(s): S, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
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
    if matches!(who, Principal::Pod(_)) && !matches!(req.action, PodAction::Stop | PodAction::Terminate) {
        return Err(ApiError::forbidden());
    }
    s.with_world(|w, now| w.pod_action(&id, req.action, now)).map(|p| Json(p).into_response())
}

// ---- serverless endpoints ----

pub(crate) async fn list_endpoints(State(s): S) -> Json<ListEndpointsResponse> {
    Json(ListEndpointsResponse { endpoints: s.with_world(|w, _| w.endpoint_list()) })
}

pub(crate) async fn create_endpoint(State(s): S, body: Bytes) -> ApiResult<Response> {
    let req: CreateEndpointRequest = parse(&body)?;
    s.with_world(|w, now| w.endpoint_create(req, now)).map(created)
}

pub(crate) async fn get_endpoint(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| w.endpoint_api(&id)).map(|e| Json(e).into_response())
}

pub(crate) async fn update_endpoint(State(s): S, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let req: UpdateEndpointRequest = parse(&body)?;
    s.with_world(|w, now| w.endpoint_update(&id, req, now)).map(|e| Json(e).into_response())
}

pub(crate) async fn delete_endpoint(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, now| w.endpoint_delete(&id, now)).map(|()| StatusCode::NO_CONTENT)
}

pub(crate) async fn endpoint_workers(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, now| w.endpoint_workers(&id, now)).map(|r| Json(r).into_response())
}

// ---- templates ----

pub(crate) async fn list_templates(State(s): S) -> Json<ListTemplatesResponse> {
    Json(ListTemplatesResponse { templates: s.with_world(|w, _| w.template_list()) })
}

pub(crate) async fn create_template(State(s): S, body: Bytes) -> ApiResult<Response> {
    let req: CreateTemplateRequest = parse(&body)?;
    s.with_world(|w, now| w.template_create(req, now)).map(created)
}

pub(crate) async fn get_template(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| w.templates.get(&id).map(|t| Json(t.template.clone()).into_response()).ok_or_else(ApiError::not_found))
}

pub(crate) async fn update_template(State(s): S, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let req: UpdateTemplateRequest = parse(&body)?;
    s.with_world(|w, _| w.template_update(&id, req)).map(|t| Json(t).into_response())
}

pub(crate) async fn delete_template(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, _| w.template_delete(&id)).map(|()| StatusCode::NO_CONTENT)
}

// ---- network volumes ----

pub(crate) async fn list_volumes(State(s): S) -> Json<ListNetworkVolumesResponse> {
    Json(ListNetworkVolumesResponse {
        network_volumes: s.with_world(|w, _| {
            let mut v: Vec<_> = w.volumes.values().map(|v| v.volume.clone()).collect();
            v.sort_by(|a, b| a.id.cmp(&b.id));
            v
        }),
    })
}

pub(crate) async fn create_volume(State(s): S, body: Bytes) -> ApiResult<Response> {
    let req: CreateNetworkVolumeRequest = parse(&body)?;
    s.with_world(|w, now| w.volume_create(req, now)).map(created)
}

pub(crate) async fn get_volume(State(s): S, Path(id): Path<String>) -> ApiResult<Response> {
    s.with_world(|w, _| w.volumes.get(&id).map(|v| Json(v.volume.clone()).into_response()).ok_or_else(ApiError::not_found))
}

pub(crate) async fn update_volume(State(s): S, Path(id): Path<String>, body: Bytes) -> ApiResult<Response> {
    let req: UpdateNetworkVolumeRequest = parse(&body)?;
    s.with_world(|w, now| w.volume_update(&id, req, now)).map(|v| Json(v).into_response())
}

pub(crate) async fn delete_volume(State(s): S, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.with_world(|w, now| w.volume_delete(&id, now)).map(|()| StatusCode::NO_CONTENT)
}

// ---- catalog ----

struct GpuFilter {
    availability: bool,
    count: i64,
    cloud: Option<String>,
}

fn gpu_filter(q: Option<&str>) -> ApiResult<GpuFilter> {
    let q = query_map(q);
    let availability = match q.get("include").map(String::as_str) {
        None | Some("") => false,
        Some("AVAILABILITY") => true,
        Some(other) => {
            return Err(ApiError::validation(vec![format!(
                "query parameter 'include': value must be one of 'AVAILABILITY', got {other:?}"
            )]));
        }
    };
    if availability && !q.contains_key("product") {
        return Err(ApiError::bad_request("`product` is required with `include=AVAILABILITY` (POD, CLUSTER or SERVERLESS)"));
    }
    if let Some(p) = q.get("product") {
        for part in p.split(',') {
            if !["POD", "CLUSTER", "SERVERLESS"].contains(&part) {
                return Err(ApiError::validation(vec![format!(
                    "query parameter 'product': value must be one of 'POD', 'CLUSTER', 'SERVERLESS', got {part:?}"
                )]));
            }
        }
    }
    let cloud = match q.get("cloud").map(String::as_str) {
        None => None,
        Some(c @ ("SECURE" | "COMMUNITY")) => Some(c.to_owned()),
        Some(c) => {
            return Err(ApiError::validation(vec![format!(
                "query parameter 'cloud': value must be one of 'SECURE', 'COMMUNITY', got {c:?}"
            )]));
        }
    };
    Ok(GpuFilter { availability, count: query_int(&q, "count", 1, 64)?.unwrap_or(1), cloud })
}

pub(crate) async fn list_gpus(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<ListGpuTypesResponse>> {
    let f = gpu_filter(q.as_deref())?;
    Ok(Json(ListGpuTypesResponse {
        gpus: s.with_world(|w, _| {
            w.catalog
                .gpus
                .iter()
                .filter(|g| g.max_count >= f.count)
                .map(|g| w.catalog.gpu_type(g, f.availability))
                .filter(|t| match f.cloud.as_deref() {
                    Some("SECURE") => t.secure,
                    Some(_) => t.community,
                    None => true,
                })
                .collect()
        }),
    }))
}

pub(crate) async fn get_gpu(State(s): S, Path(id): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let f = gpu_filter(q.as_deref())?;
    s.with_world(|w, _| {
        w.catalog.offer(&id).map(|g| Json(w.catalog.gpu_type(g, f.availability)).into_response()).ok_or_else(ApiError::not_found)
    })
}

fn dc_include(q: Option<&str>) -> bool {
    query_map(q).get("include").is_some_and(|v| v.split(',').any(|x| x == "GPU_AVAILABILITY"))
}

pub(crate) async fn list_data_centers(State(s): S, RawQuery(q): RawQuery) -> Json<ListDataCentersResponse> {
    let gpus = dc_include(q.as_deref());
    Json(ListDataCentersResponse {
        data_centers: s.with_world(|w, _| w.catalog.data_centers.iter().map(|d| w.catalog.data_center(d, gpus)).collect()),
    })
}

pub(crate) async fn get_data_center(State(s): S, Path(id): Path<String>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let gpus = dc_include(q.as_deref());
    s.with_world(|w, _| {
        w.catalog
            .data_centers
            .iter()
            .find(|d| d.id == id)
            .map(|d| Json(w.catalog.data_center(d, gpus)).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

// ---- billing ----

struct BillingWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: TimeDelta,
    bucket_name: String,
    last_n: Option<usize>,
}

fn billing_window(q: &std::collections::HashMap<String, String>, now: DateTime<Utc>) -> ApiResult<BillingWindow> {
    let time = |name: &str| -> ApiResult<Option<DateTime<Utc>>> {
        q.get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::validation(vec![format!("query parameter '{name}': {v:?} is not an RFC 3339 date-time")]))
            })
            .transpose()
    };
    let bucket_name = q.get("bucketSize").cloned().unwrap_or_else(|| "day".into());
    let bucket = match bucket_name.as_str() {
        "hour" => TimeDelta::hours(1),
        "day" => TimeDelta::days(1),
        "week" => TimeDelta::weeks(1),
        "month" => TimeDelta::days(30),
        "year" => TimeDelta::days(365),
        other => {
            return Err(ApiError::validation(vec![format!(
                "query parameter 'bucketSize': value must be one of 'hour', 'day', 'week', 'month', 'year', got {other:?}"
            )]));
        }
    };
    let end = time("endTime")?.unwrap_or(now + TimeDelta::hours(1));
    let start = time("startTime")?.unwrap_or(end - TimeDelta::days(30));
    if start > end {
        return Err(ApiError::bad_request("startTime must not be after endTime"));
    }
    let last_n = query_int(q, "lastN", 1, 100_000)?.map(|n| n as usize);
    Ok(BillingWindow { start: bucket_start(start, TimeDelta::hours(1)), end, bucket, bucket_name, last_n })
}

fn echo(w: &BillingWindow, pod: Option<&str>, serverless: Option<&str>) -> BillingQueryEcho {
    BillingQueryEcho {
        start_time: rfc3339(w.start),
        end_time: rfc3339(w.end),
        bucket_size: w.bucket_name.clone(),
        pod_id: pod.map(str::to_owned),
        serverless_id: serverless.map(str::to_owned),
    }
}

fn keep_last<T>(mut v: Vec<T>, n: Option<usize>) -> Vec<T> {
    if let Some(n) = n {
        let skip = v.len().saturating_sub(n);
        v.drain(..skip);
    }
    v
}

pub(crate) async fn pod_billing(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<ListPodBillingResponse>> {
    let q = query_map(q.as_deref());
    let pod = q.get("podId").map(String::as_str);
    s.with_world(|w, now| {
        w.tick(now);
        let win = billing_window(&q, now)?;
        let rows = w.ledger.records(Kind::Pod, win.start, win.end, win.bucket, pod);
        let records: Vec<PodBillingRecord> = keep_last(
            rows.into_iter()
                .map(|(id, t, a)| PodBillingRecord {
                    start_time: rfc3339(t),
                    end_time: rfc3339(t + win.bucket),
                    pod_id: id,
                    total_amount: a.total(),
                    gpu_amount: a.gpu,
                    cpu_amount: 0.0,
                    disk_amount: a.disk,
                })
                .collect(),
            win.last_n,
        );
        let mut totals = PodBillingAmounts::default();
        for r in &records {
            totals.total_amount += r.total_amount;
            totals.gpu_amount += r.gpu_amount;
            totals.disk_amount += r.disk_amount;
        }
        let unique = records.iter().map(|r| r.pod_id.as_str()).collect::<std::collections::BTreeSet<_>>().len() as i64;
        Ok(Json(ListPodBillingResponse {
            metadata: PodBillingMetadata {
                query: echo(&win, pod, None),
                record_count: records.len() as i64,
                unique_pod_count: unique,
                totals,
            },
            records,
        }))
    })
}

pub(crate) async fn serverless_billing(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<ListServerlessBillingResponse>> {
    let q = query_map(q.as_deref());
    let ep = q.get("serverlessId").map(String::as_str);
    s.with_world(|w, now| {
        w.tick(now);
        let win = billing_window(&q, now)?;
        let rows = w.ledger.records(Kind::Serverless, win.start, win.end, win.bucket, ep);
        let records: Vec<ServerlessBillingRecord> = keep_last(
            rows.into_iter()
                .map(|(id, t, a)| ServerlessBillingRecord {
                    start_time: rfc3339(t),
                    end_time: rfc3339(t + win.bucket),
                    serverless_id: id,
                    total_amount: a.total(),
                    gpu_amount: a.gpu,
                    cpu_amount: 0.0,
                    disk_amount: a.disk,
                    fee_amount: 0.0,
                })
                .collect(),
            win.last_n,
        );
        let mut totals = ServerlessBillingAmounts::default();
        for r in &records {
            totals.total_amount += r.total_amount;
            totals.gpu_amount += r.gpu_amount;
            totals.disk_amount += r.disk_amount;
        }
        let unique = records.iter().map(|r| r.serverless_id.as_str()).collect::<std::collections::BTreeSet<_>>().len() as i64;
        Ok(Json(ListServerlessBillingResponse {
            metadata: ServerlessBillingMetadata {
                query: echo(&win, None, ep),
                record_count: records.len() as i64,
                unique_serverless_count: unique,
                totals,
            },
            records,
        }))
    })
}
