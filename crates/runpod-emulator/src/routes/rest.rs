//! REST v2 handlers: pods, endpoints, templates, network volumes, catalog, billing.
//!
//! Over 600 lines: one thin handler per REST v2 operation of RunPod's spec (about forty), each
//! checking its input and calling `World`; split by resource they would repeat the extractors.

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

// ---- catalog ----

/// The query of `/v2/catalog/gpus[/{id}]`, checked as the spec says: `include` takes at most
/// one value (AVAILABILITY); `product` is required with it and valid only with it, and so are
/// `count`, `cloud`, `countryCodes`, `cudaVersions` and `minCudaVersion` (400 otherwise); a
/// malformed value is a 422; `cudaVersions` and `minCudaVersion` exclude each other (400).
fn gpu_filter(q: Option<&str>) -> ApiResult<Option<AvailabilityScope>> {
    let q = query_map(q);
    let list = |name: &str| {
        q.get(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
    };
    let invalid = |name: &str, why: String| {
        ApiError::validation(vec![format!("query parameter '{name}': {why}")])
    };
    let include = list("include").unwrap_or_default();
    if include.len() > 1 {
        return Err(invalid("include", format!("at most 1 item allowed, got {}", include.len())));
    }
    if let Some(other) = include.iter().find(|i| i.as_str() != "AVAILABILITY") {
        return Err(invalid(
            "include",
            format!("value must be one of 'AVAILABILITY', got {other:?}"),
        ));
    }
    let availability = !include.is_empty();
    let scoped = ["product", "count", "cloud", "countryCodes", "cudaVersions", "minCudaVersion"];
    if !availability {
        if let Some(p) = scoped.iter().find(|p| q.contains_key(**p)) {
            return Err(ApiError::bad_request(format!(
                "`{p}` is valid only with include=AVAILABILITY"
            )));
        }
        return Ok(None);
    }
    let products = list("product").unwrap_or_default();
    if products.is_empty() {
        return Err(ApiError::bad_request(
            "`product` is required with `include=AVAILABILITY` (POD, CLUSTER or SERVERLESS)",
        ));
    }
    if let Some(p) =
        products.iter().find(|p| !["POD", "CLUSTER", "SERVERLESS"].contains(&p.as_str()))
    {
        return Err(invalid(
            "product",
            format!("value must be one of 'POD', 'CLUSTER', 'SERVERLESS', got {p:?}"),
        ));
    }
    let cloud = match q.get("cloud").map(String::as_str) {
        None | Some("SECURE") => Some(Cloud::Secure),
        Some("COMMUNITY") => Some(Cloud::Community),
        Some(c) => {
            return Err(invalid(
                "cloud",
                format!("value must be one of 'SECURE', 'COMMUNITY', got {c:?}"),
            ));
        }
    };
    let countries = list("countryCodes").unwrap_or_default();
    if let Some(c) =
        countries.iter().find(|c| c.len() != 2 || !c.chars().all(|x| x.is_ascii_uppercase()))
    {
        return Err(invalid(
            "countryCodes",
            format!("{c:?} is not an upper-case ISO 3166-1 alpha-2 code"),
        ));
    }
    let cuda_versions = list("cudaVersions").unwrap_or_default();
    let is_num = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
    if let Some(v) = cuda_versions
        .iter()
        .find(|v| !v.split_once('.').is_some_and(|(a, b)| is_num(a) && is_num(b)))
    {
        return Err(invalid("cudaVersions", format!("{v:?} is not major.minor (e.g. 12.8)")));
    }
    let min_cuda = match q.get("minCudaVersion") {
        None => None,
        Some(v) => {
            let (a, b) = v.split_once('.').map_or((v.as_str(), None), |(a, b)| (a, Some(b)));
            match (
                a.parse::<u32>().ok().filter(|_| is_num(a)),
                b.map(|b| b.parse::<u32>().ok().filter(|_| is_num(b))),
            ) {
                (Some(maj), None) => Some((maj, None)),
                (Some(maj), Some(Some(min))) => Some((maj, Some(min))),
                _ => {
                    return Err(invalid(
                        "minCudaVersion",
                        format!("{v:?} is not a major or major.minor version"),
                    ));
                }
            }
        }
    };
    if !cuda_versions.is_empty() && min_cuda.is_some() {
        return Err(ApiError::bad_request(
            "`cudaVersions` and `minCudaVersion` are mutually exclusive",
        ));
    }
    let count = query_int(&q, "count", 1, i64::from(u16::MAX))?.unwrap_or(1);
    Ok(Some(AvailabilityScope { count, cloud, countries, cuda_versions, min_cuda }))
}

pub(crate) async fn list_gpus(
    State(s): S,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListGpuTypesResponse>> {
    let scope = gpu_filter(q.as_deref())?;
    Ok(Json(ListGpuTypesResponse {
        gpus: s.with_world(|w, _| {
            w.catalog
                .gpus
                .iter()
                // Countries narrow the list to GPU types deployable there (spec).
                .filter(|g| scope.as_ref().is_none_or(|sc| sc.deployable(&w.catalog, g)))
                .map(|g| w.catalog.gpu_type(g, scope.as_ref()))
                .collect()
        }),
    }))
}

pub(crate) async fn get_gpu(
    State(s): S,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let scope = gpu_filter(q.as_deref())?;
    s.with_world(|w, _| {
        w.catalog
            .offer(&id)
            .map(|g| Json(w.catalog.gpu_type(g, scope.as_ref())).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

/// The query of `/v2/catalog/datacenters`: `include` expansions, and filters that combine with
/// AND (`regions` OR within, `networkVolumeTypes` and `compliance` AND within, `globalNetwork`).
struct DcFilter {
    gpus: bool,
    regions: Vec<String>,
    volume_types: Vec<String>,
    compliance: Vec<String>,
    global_network: Option<bool>,
}

const REGIONS: [&str; 9] = [
    "NORTH_AMERICA",
    "SOUTH_AMERICA",
    "EUROPE",
    "ASIA",
    "MIDDLE_EAST",
    "AFRICA",
    "OCEANIA",
    "ANTARCTICA",
    "UNKNOWN",
];
const COMPLIANCE: [&str; 12] = [
    "GDPR",
    "ISO_IEC_27001",
    "ISO_14001",
    "PCI_DSS",
    "HITRUST",
    "SOC_1_TYPE_2",
    "SOC_2_TYPE_2",
    "SOC_3_TYPE_2",
    "ITAR",
    "FISMA_HIGH",
    "HIPAA",
    "RENEWABLE",
];

fn dc_filter(q: Option<&str>) -> ApiResult<DcFilter> {
    let q = query_map(q);
    let list = |name: &str, allowed: &[&str]| -> ApiResult<Vec<String>> {
        let v: Vec<String> = q
            .get(name)
            .map(|v| {
                v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        match v.iter().find(|x| !allowed.contains(&x.as_str())) {
            Some(bad) => Err(ApiError::validation(vec![format!(
                "query parameter '{name}': value must be one of {}, got {bad:?}",
                allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
            )])),
            None => Ok(v),
        }
    };
    let include = list("include", &["GPU_AVAILABILITY", "CPU_AVAILABILITY"])?;
    let global_network = match q.get("globalNetwork").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::validation(vec![format!(
                "query parameter 'globalNetwork': got {v:?}, want boolean"
            )]));
        }
    };
    Ok(DcFilter {
        gpus: include.iter().any(|i| i == "GPU_AVAILABILITY"),
        regions: list("regions", &REGIONS)?,
        volume_types: list("networkVolumeTypes", &["STANDARD", "HIGH_PERFORMANCE"])?,
        compliance: list("compliance", &COMPLIANCE)?,
        global_network,
    })
}

impl DcFilter {
    fn keeps(&self, d: &crate::config::DataCenterConfig) -> bool {
        (self.regions.is_empty() || self.regions.contains(&d.region))
            && self.volume_types.iter().all(|t| d.network_volume_types.contains(t))
            && self.compliance.iter().all(|c| d.compliance.contains(c))
            && self.global_network.is_none_or(|g| g == d.global_network)
    }
}

pub(crate) async fn list_data_centers(
    State(s): S,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListDataCentersResponse>> {
    let f = dc_filter(q.as_deref())?;
    Ok(Json(ListDataCentersResponse {
        data_centers: s.with_world(|w, _| {
            w.catalog
                .data_centers
                .iter()
                .filter(|d| f.keeps(d))
                .map(|d| w.catalog.data_center(d, f.gpus))
                .collect()
        }),
    }))
}

pub(crate) async fn get_data_center(
    State(s): S,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let f = dc_filter(q.as_deref())?;
    s.with_world(|w, _| {
        w.catalog
            .data_centers
            .iter()
            .find(|d| d.id == id)
            .map(|d| Json(w.catalog.data_center(d, f.gpus)).into_response())
            .ok_or_else(ApiError::not_found)
    })
}

// ---- billing ----

/// The resolved window of a billing query: `startTime` snapped down and `endTime` snapped up to
/// bucket boundaries, or the last `lastN` buckets ending with the current one (spec: the two
/// forms are mutually exclusive).
struct BillingWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    bucket: Bucket,
}

fn billing_window(
    q: &std::collections::HashMap<String, String>,
    now: DateTime<Utc>,
) -> ApiResult<BillingWindow> {
    let time = |name: &str| -> ApiResult<Option<DateTime<Utc>>> {
        q.get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                    ApiError::validation(vec![format!(
                        "query parameter '{name}': {v:?} is not an RFC 3339 date-time"
                    )])
                })
            })
            .transpose()
    };
    let bucket_name = q.get("bucketSize").map_or("day", String::as_str);
    let Some(bucket) = Bucket::parse(bucket_name) else {
        return Err(ApiError::validation(vec![format!(
            "query parameter 'bucketSize': value must be one of 'hour', 'day', 'week', 'month', 'year', got {bucket_name:?}"
        )]));
    };
    let (start, end) = (time("startTime")?, time("endTime")?);
    let last_n = query_int(q, "lastN", 1, 100_000)?;
    if let Some(n) = last_n {
        if start.is_some() || end.is_some() {
            return Err(ApiError::bad_request(
                "lastN is mutually exclusive with startTime/endTime; provide one or the other",
            ));
        }
        let current = bucket.floor(now);
        return Ok(BillingWindow {
            start: bucket.back(current, (n - 1) as u32),
            end: bucket.next(current),
            bucket,
        });
    }
    let end = bucket.ceil(end.unwrap_or(now));
    let start = bucket.floor(start.unwrap_or(now - TimeDelta::days(30)));
    if start > end {
        return Err(ApiError::bad_request("startTime must not be after endTime"));
    }
    Ok(BillingWindow { start, end, bucket })
}

fn echo(w: &BillingWindow, pod: Option<&str>, serverless: Option<&str>) -> BillingQueryEcho {
    BillingQueryEcho {
        start_time: rfc3339(w.start),
        end_time: rfc3339(w.end),
        bucket_size: w.bucket.name().into(),
        pod_id: pod.map(str::to_owned),
        serverless_id: serverless.map(str::to_owned),
    }
}

/// Runs `f` on the world with a billing window parsed from the query, after a tick (so the
/// records include everything billed up to now).
fn with_billing<R>(
    s: &Arc<Shared>,
    q: Option<&str>,
    f: impl FnOnce(
        &crate::world::World,
        &std::collections::HashMap<String, String>,
        &BillingWindow,
    ) -> R,
) -> ApiResult<R> {
    let q = query_map(q);
    s.with_world(|w, now| {
        w.tick(now);
        let win = billing_window(&q, now)?;
        Ok(f(w, &q, &win))
    })
}

pub(crate) async fn pod_billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListPodBillingResponse>> {
    with_billing(&s, q.as_deref(), |w, q, win| {
        let pod = q.get("podId").map(String::as_str);
        let records: Vec<PodBillingRecord> = w
            .ledger
            .records(&a, Kind::Pod, win.start, win.end, win.bucket, pod)
            .into_iter()
            .map(|(id, t, a)| PodBillingRecord {
                start_time: rfc3339(t),
                end_time: rfc3339(win.bucket.next(t)),
                pod_id: id,
                total_amount: a.total(),
                gpu_amount: a.gpu,
                cpu_amount: 0.0,
                disk_amount: a.disk,
            })
            .collect();
        let mut totals = PodBillingAmounts::default();
        for r in &records {
            totals.total_amount += r.total_amount;
            totals.gpu_amount += r.gpu_amount;
            totals.disk_amount += r.disk_amount;
        }
        let unique = records
            .iter()
            .map(|r| r.pod_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        Json(ListPodBillingResponse {
            metadata: PodBillingMetadata {
                query: echo(win, pod, None),
                record_count: records.len() as i64,
                unique_pod_count: unique,
                totals,
            },
            records,
        })
    })
}

pub(crate) async fn serverless_billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<ListServerlessBillingResponse>> {
    with_billing(&s, q.as_deref(), |w, q, win| {
        let ep = q.get("serverlessId").map(String::as_str);
        let records: Vec<ServerlessBillingRecord> = w
            .ledger
            .records(&a, Kind::Serverless, win.start, win.end, win.bucket, ep)
            .into_iter()
            .map(|(id, t, a)| ServerlessBillingRecord {
                start_time: rfc3339(t),
                end_time: rfc3339(win.bucket.next(t)),
                serverless_id: id,
                total_amount: a.total(),
                gpu_amount: a.gpu,
                cpu_amount: 0.0,
                disk_amount: a.disk,
                fee_amount: 0.0,
            })
            .collect();
        let mut totals = ServerlessBillingAmounts::default();
        for r in &records {
            totals.total_amount += r.total_amount;
            totals.gpu_amount += r.gpu_amount;
            totals.disk_amount += r.disk_amount;
        }
        let unique = records
            .iter()
            .map(|r| r.serverless_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        Json(ListServerlessBillingResponse {
            metadata: ServerlessBillingMetadata {
                query: echo(win, None, ep),
                record_count: records.len() as i64,
                unique_serverless_count: unique,
                totals,
            },
            records,
        })
    })
}

fn query_echo(win: &BillingWindow) -> Value {
    json!({"startTime": rfc3339(win.start), "endTime": rfc3339(win.end), "bucketSize": win.bucket.name()})
}

/// `GET /v2/billing`: every resource family's spend per bucket.
pub(crate) async fn billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |w, _, win| {
        const FIELDS: [&str; 14] = [
            "totalAmount",
            "podGpuAmount",
            "podCpuAmount",
            "podDiskAmount",
            "serverlessGpuAmount",
            "serverlessCpuAmount",
            "serverlessDiskAmount",
            "serverlessFeeAmount",
            "storageStandardAmount",
            "storageHighPerformanceAmount",
            "endpointAmount",
            "clusterGpuAmount",
            "clusterDiskAmount",
            "clusterNetworkingAmount",
        ];
        let mut buckets: std::collections::BTreeMap<
            DateTime<Utc>,
            std::collections::HashMap<&str, f64>,
        > = Default::default();
        let mut add = |t: DateTime<Utc>, field: &'static str, v: f64| {
            let b = buckets.entry(t).or_default();
            *b.entry(field).or_default() += v;
            *b.entry("totalAmount").or_default() += v;
        };
        for (_, t, am) in w.ledger.records(&a, Kind::Pod, win.start, win.end, win.bucket, None) {
            add(t, "podGpuAmount", am.gpu);
            add(t, "podDiskAmount", am.disk);
        }
        for (_, t, am) in
            w.ledger.records(&a, Kind::Serverless, win.start, win.end, win.bucket, None)
        {
            add(t, "serverlessGpuAmount", am.gpu);
            add(t, "serverlessDiskAmount", am.disk);
        }
        for (_, t, am) in
            w.ledger.records(&a, Kind::NetworkVolume, win.start, win.end, win.bucket, None)
        {
            add(t, "storageStandardAmount", am.total());
        }
        let amounts = |m: &std::collections::HashMap<&str, f64>| {
            Value::Object(
                FIELDS
                    .iter()
                    .map(|f| ((*f).to_owned(), json!(m.get(f).copied().unwrap_or(0.0))))
                    .collect(),
            )
        };
        let mut totals = std::collections::HashMap::new();
        let records: Vec<Value> = buckets
            .iter()
            .map(|(t, m)| {
                for (k, v) in m {
                    *totals.entry(*k).or_insert(0.0) += v;
                }
                let mut r = amounts(m);
                r["startTime"] = json!(rfc3339(*t));
                r["endTime"] = json!(rfc3339(win.bucket.next(*t)));
                r
            })
            .collect();
        Json(
            json!({"records": records, "metadata": {"query": query_echo(win), "recordCount": records.len(), "totals": amounts(&totals)}}),
        )
    })
}

/// `GET /v2/billing/endpoints`: RunPod's public endpoints, which the emulator does not offer.
pub(crate) async fn endpoint_billing(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |_, _, win| {
        Json(
            json!({"records": [], "metadata": {"query": query_echo(win), "recordCount": 0, "totals": {"totalAmount": 0.0}}}),
        )
    })
}

/// `GET /v2/billing/network-volumes`.
pub(crate) async fn volume_billing(
    State(s): S,
    Extension(Caller(a)): C,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |w, q, win| {
        let vol = q.get("networkVolumeId").map(String::as_str);
        let rows = w.ledger.records(&a, Kind::NetworkVolume, win.start, win.end, win.bucket, vol);
        let total: f64 = rows.iter().map(|r| r.2.total()).sum();
        let unique =
            rows.iter().map(|r| r.0.as_str()).collect::<std::collections::BTreeSet<_>>().len();
        let records: Vec<Value> = rows
            .iter()
            .map(|(id, t, am)| {
                json!({"startTime": rfc3339(*t), "endTime": rfc3339(win.bucket.next(*t)), "networkVolumeId": id,
                       "totalAmount": am.total(), "standardAmount": am.total(), "highPerformanceAmount": 0.0})
            })
            .collect();
        let mut query = query_echo(win);
        query["networkVolumeId"] = json!(vol);
        Json(
            json!({"records": records, "metadata": {"query": query, "recordCount": records.len(), "uniqueNetworkVolumeCount": unique,
            "totals": {"totalAmount": total, "standardAmount": total, "highPerformanceAmount": 0.0}}}),
        )
    })
}

/// `GET /v2/billing/clusters`: Instant Clusters are not emulated, so there is never a record.
pub(crate) async fn cluster_billing(State(s): S, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    with_billing(&s, q.as_deref(), |_, q, win| {
        let mut query = query_echo(win);
        query["clusterId"] = json!(q.get("clusterId"));
        Json(
            json!({"records": [], "metadata": {"query": query, "recordCount": 0, "uniqueClusterCount": 0,
            "totals": {"totalAmount": 0.0, "gpuAmount": 0.0, "diskAmount": 0.0, "networkingAmount": 0.0}}}),
        )
    })
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
