//! The HTTP surface: REST v2, the serverless job API, worker callbacks, GraphQL and the admin
//! API, behind auth, fault injection and (for tests) a recorder.

mod admin;
mod graphql;
mod jobs;
mod logs;
mod rest;
mod worker;

use crate::problem::ApiError;
use crate::world::Res;
use crate::{Exchange, Shared};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    Account,
    /// A pod-scoped key: may only stop or terminate that pod.
    Pod(String),
    /// A worker key: may only use the worker callbacks of that endpoint.
    Worker(String),
}

/// The account (user id) a request acts for: the key's account, or the account of the pod or
/// endpoint a scoped key belongs to. Every handler sees only this account's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller(pub String);

/// Largest body accepted at all; per-operation limits (10 MB `/run`, 20 MB `/runsync`) are
/// checked by the handlers so the answer can name the limit.
const BODY_LIMIT: usize = 21 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        // REST v2
        .route("/v2/pods", get(rest::list_pods).post(rest::create_pod))
        .route("/v2/pods/{id}", get(rest::get_pod).patch(rest::update_pod).delete(rest::delete_pod))
        .route("/v2/pods/{id}/action", post(rest::pod_action))
        .route("/v2/pods/{id}/logs", get(logs::pod_logs))
        .route("/v2/serverless", get(rest::list_endpoints).post(rest::create_endpoint))
        .route(
            "/v2/serverless/{id}",
            get(rest::get_endpoint).patch(rest::update_endpoint).delete(rest::delete_endpoint),
        )
        .route("/v2/serverless/{id}/workers", get(rest::endpoint_workers))
        .route("/v2/serverless/{id}/releases", get(rest::endpoint_releases))
        .route("/v2/registries", get(rest::list_registries).post(rest::create_registry))
        .route("/v2/registries/{id}", get(rest::get_registry).delete(rest::delete_registry))
        .route("/v2/clusters", get(rest::list_clusters).post(rest::create_cluster))
        .route(
            "/v2/clusters/{id}",
            get(rest::no_cluster).patch(rest::no_cluster).delete(rest::no_cluster),
        )
        .route("/v2/clusters/{id}/pods", get(rest::no_cluster))
        .route("/v2/serverless/{id}/workers/{worker_id}/logs", get(logs::worker_logs))
        .route("/v2/templates", get(rest::list_templates).post(rest::create_template))
        .route(
            "/v2/templates/{id}",
            get(rest::get_template).patch(rest::update_template).delete(rest::delete_template),
        )
        .route("/v2/network-volumes", get(rest::list_volumes).post(rest::create_volume))
        .route(
            "/v2/network-volumes/{id}",
            get(rest::get_volume).patch(rest::update_volume).delete(rest::delete_volume),
        )
        .route("/v2/account/limits", get(rest::account_limits))
        .route("/v2/billing/balance", get(rest::account_balance))
        .route("/v2/account/secrets", get(rest::list_secrets).post(rest::create_secret))
        .route("/v2/account/secrets/{id}", get(rest::get_secret).delete(rest::delete_secret))
        .route("/v2/queued-pods", get(rest::list_queued_pods))
        .route("/v2/queued-pods/{id}", get(rest::get_queued_pod).delete(rest::cancel_queued_pod))
        .route("/v2/catalog/gpus", get(rest::list_gpus))
        .route("/v2/catalog/gpus/{id}", get(rest::get_gpu))
        .route("/v2/catalog/datacenters", get(rest::list_data_centers))
        .route("/v2/catalog/datacenters/{id}", get(rest::get_data_center))
        .route("/v2/billing/pods", get(rest::pod_billing))
        .route("/v2/billing/serverless", get(rest::serverless_billing))
        .route("/v2/billing", get(rest::billing))
        .route("/v2/billing/endpoints", get(rest::endpoint_billing))
        .route("/v2/billing/network-volumes", get(rest::volume_billing))
        .route("/v2/billing/clusters", get(rest::cluster_billing))
        // Serverless job API
        .route("/v2/{endpoint_id}/run", post(jobs::run))
        .route("/v2/{endpoint_id}/runsync", post(jobs::run_sync))
        .route("/v2/{endpoint_id}/status/{job_id}", get(jobs::status).post(jobs::status))
        .route("/v2/{endpoint_id}/status-sync/{job_id}", get(jobs::status_sync))
        .route("/v2/{endpoint_id}/stream/{job_id}", get(jobs::stream).post(jobs::stream))
        .route("/v2/{endpoint_id}/cancel/{job_id}", post(jobs::cancel))
        .route("/v2/{endpoint_id}/retry/{job_id}", post(jobs::retry))
        .route("/v2/{endpoint_id}/purge-queue", post(jobs::purge_queue))
        .route("/v2/{endpoint_id}/health", get(jobs::health))
        // Worker callbacks
        .route("/v2/{endpoint_id}/job-take/{worker_id}", get(worker::take))
        .route("/v2/{endpoint_id}/job-take-batch/{worker_id}", get(worker::take_batch))
        .route("/v2/{endpoint_id}/job-stop/{worker_id}", get(worker::stop_list))
        .route("/v2/{endpoint_id}/job-done/{worker_id}/{job_id}", post(worker::done))
        .route("/v2/{endpoint_id}/job-stream/{worker_id}/{job_id}", post(worker::stream_chunk))
        .route("/v2/{endpoint_id}/ping/{worker_id}", get(worker::ping))
        // GraphQL subset
        .route("/graphql", post(graphql::handle))
        // Admin (tests)
        .route("/_emulator/state", get(admin::state))
        .route(
            "/_emulator/faults",
            get(admin::get_faults).put(admin::set_faults).delete(admin::clear_faults),
        )
        .route("/_emulator/clock", get(admin::clock))
        .route("/_emulator/clock/advance", post(admin::advance))
        .route("/_emulator/tick", post(admin::tick))
        .route("/_emulator/account", axum::routing::put(admin::set_account))
        .route("/_emulator/stock", axum::routing::put(admin::set_stock))
        .route("/_emulator/pods/{id}/logs", get(admin::pod_log_text))
        .route("/_emulator/jobs/{job_id}/wait", get(admin::wait_job))
        .route("/_emulator/reset", delete(admin::reset_jobs))
        .route_layer(axum::middleware::map_response(problemize))
        .route_layer(from_fn_with_state(shared.clone(), faults))
        .route_layer(from_fn_with_state(shared.clone(), auth))
        .route_layer(from_fn_with_state(shared.clone(), record));
    api.fallback(|uri: axum::http::Uri| async move {
        // REST v1 is retired (RunPod's docs; v1 calls failed from 2026-11-16, API-NOTES).
        if uri.path() == "/v1" || uri.path().starts_with("/v1/") {
            ApiError::new(410, "REST v1 is retired; use REST v2 (/v2/...)")
        } else {
            ApiError::new(404, "no such route")
        }
    })
    .method_not_allowed_fallback(|| async {
        ApiError::new(405, "method not allowed on this route")
    })
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(axum::middleware::map_response(problemize))
    .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
        ApiError::new(500, "internal emulator error").into_response()
    }))
    .with_state(shared)
}

fn route_of(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default()
}

/// The key in `Authorization`, with or without `Bearer `.
fn presented_key(req: &Request, bearer_only: bool) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    match v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
        Some(k) => Some(k.trim().to_owned()),
        None if bearer_only => None,
        None => Some(v.to_owned()),
    }
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn is_worker_route(route: &str) -> bool {
    ["/job-take/", "/job-take-batch/", "/job-stop/", "/job-done/", "/job-stream/", "/ping/"]
        .iter()
        .any(|p| route.contains(p))
}

fn is_job_api_route(route: &str) -> bool {
    route.starts_with("/v2/{endpoint_id}/")
}

/// The resource a by-id route names, for the ownership check.
fn addressed(route: &str, segs: &[&str]) -> Option<(Res, String)> {
    let at = |i: usize| segs.get(i).map(|s| (*s).to_owned());
    let res = if route.starts_with("/v2/pods/{id}") || route.starts_with("/_emulator/pods/{id}") {
        (Res::Pod, at(3)?)
    } else if route.starts_with("/v2/serverless/{id}") {
        (Res::Endpoint, at(3)?)
    } else if route.starts_with("/v2/templates/{id}") {
        (Res::Template, at(3)?)
    } else if route.starts_with("/v2/network-volumes/{id}") {
        (Res::Volume, at(3)?)
    } else if route.starts_with("/v2/registries/{id}") {
        (Res::Registry, at(3)?)
    } else if route.starts_with("/v2/queued-pods/{id}") {
        (Res::QueuedPod, at(3)?)
    } else if route.starts_with("/v2/account/secrets/{id}") {
        (Res::Secret, at(4)?)
    } else if route.starts_with("/v2/{endpoint_id}/") {
        (Res::Endpoint, at(2)?)
    } else {
        return None;
    };
    Some(res)
}

/// Authentication as RunPod does it: REST v2 wants `Bearer <key>`; the serverless API takes
/// the raw key or `Bearer`; worker calls carry the raw worker key; GraphQL also takes
/// `?api_key=`. A pod-scoped key may only stop or terminate its own pod. Each key belongs to
/// one account, and another account's resource answers 404 exactly as a missing one does.
async fn auth(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let segs: Vec<&str> = req.uri().path().split('/').collect();
    let account_key = |k: Option<String>| {
        k.and_then(|k| s.account_of(&k).map(|a| (Principal::Account, a.to_owned())))
    };
    let principal = if route.starts_with("/_emulator")
        || is_job_api_route(&route) && !is_worker_route(&route)
    {
        account_key(presented_key(&req, false))
    } else if route == "/graphql" {
        account_key(presented_key(&req, true).or_else(|| query_param(&req, "api_key")))
    } else if is_worker_route(&route) {
        let ep = segs.get(2).copied().unwrap_or_default();
        presented_key(&req, false).and_then(|k| {
            account_key(Some(k.clone())).or_else(|| {
                let w = s.world.lock();
                let owner = w
                    .worker_keys
                    .get(&k)
                    .filter(|e| e.as_str() == ep)
                    .and_then(|e| w.owner(Res::Endpoint, e));
                owner.map(|a| (Principal::Worker(ep.to_owned()), a.to_owned()))
            })
        })
    } else {
        let Some(k) = presented_key(&req, true) else {
            return ApiError::unauthorized().into_response();
        };
        match account_key(Some(k.clone())) {
            Some(p) => Some(p),
            None => {
                let pod = {
                    let w = s.world.lock();
                    w.pod_keys
                        .get(&k)
                        .and_then(|id| w.pods.get(id).map(|p| (id.clone(), p.account.clone())))
                };
                match pod {
                    Some((id, account)) => {
                        let own = segs.get(3).copied() == Some(id.as_str());
                        let allowed = own
                            && ((route == "/v2/pods/{id}/action" && req.method() == Method::POST)
                                || (route == "/v2/pods/{id}" && req.method() == Method::DELETE));
                        if !allowed {
                            return ApiError::forbidden().into_response();
                        }
                        Some((Principal::Pod(id), account))
                    }
                    None => return ApiError::new(401, "invalid bearer token").into_response(),
                }
            }
        }
    };
    let Some((principal, account)) = principal else {
        return if route == "/graphql" || is_job_api_route(&route) || route.starts_with("/_emulator")
        {
            ApiError::new(401, "Unauthorized: missing or invalid API key").into_response()
        } else {
            ApiError::new(401, "invalid bearer token").into_response()
        };
    };
    if let Some((res, id)) = addressed(&route, &segs) {
        let foreign = s.world.lock().owner(res, &id).is_some_and(|o| o != account);
        if foreign {
            return ApiError::not_found().into_response();
        }
    }
    let key =
        presented_key(&req, false).or_else(|| query_param(&req, "api_key")).unwrap_or_default();
    let key = key.strip_prefix("Bearer ").unwrap_or(&key).to_owned();
    if principal == Principal::Account {
        s.record_account_call(req.method().as_str(), req.uri().path(), &key);
    }
    let now = s.clock.now();
    let verdict = if route.starts_with("/v2/") && !is_job_api_route(&route) {
        s.limiter.lock().rest(&s.cfg.rate_limits, &account, now)
    } else {
        None
    };
    if is_job_api_route(&route) && !is_worker_route(&route) {
        let (ep, op) =
            (segs.get(2).copied().unwrap_or_default(), segs.get(3).copied().unwrap_or_default());
        let op = if op == "status-sync" { "status" } else { op };
        if let Some(secs) = s.limiter.lock().serverless(&s.cfg.rate_limits, &account, ep, op, now) {
            return ApiError::rate_limited_in(&format!("10 s /{op}"), secs).into_response();
        }
    }
    let mut resp = match &verdict {
        Some(v) if v.retry_after.is_some() => ApiError::rate_limited_in(
            v.spent.as_deref().unwrap_or("minute"),
            v.retry_after.unwrap_or(1),
        )
        .into_response(),
        _ => {
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(Caller(account));
            next.run(req).await
        }
    };
    if let Some(v) = verdict {
        let h = resp.headers_mut();
        for (name, value) in [("RateLimit", v.state), ("RateLimit-Policy", v.policy)] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    resp
}

/// Injected HTTP faults (see [`crate::faults`]).
async fn faults(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let action = s.faults.lock().decide(req.method().as_str(), &route);
    let Some(a) = action else { return next.run(req).await };
    if a.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(a.latency_ms)).await;
    }
    if let Some((status, retry_after)) = a.fail {
        let mut e = ApiError::new(status, injected_detail(status));
        e.retry_after = retry_after.or((status == 429).then_some(1));
        return e.into_response();
    }
    let resp = next.run(req).await;
    match a.lose {
        // The handler ran (the resource exists); the caller never learns.
        Some(status) => {
            drop(resp);
            ApiError::new(status, "upstream connection lost").into_response()
        }
        None => resp,
    }
}

/// The detail RunPod gives for a status the fault layer injects.
fn injected_detail(status: u16) -> String {
    match status {
        429 => "rate limit exceeded for the minute window".into(),
        500 => "internal server error".into(),
        502 => "bad gateway".into(),
        503 => "service unavailable".into(),
        504 => "gateway timeout".into(),
        s => runpod::types::problem::title_for(s).to_owned(),
    }
}

/// Extractor rejections (bad path encoding, body over the limit) come as text; RunPod answers
/// every error as problem+json, so rewrite them.
async fn problemize(resp: Response) -> Response {
    let status = resp.status().as_u16();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/problem+json"));
    if status < 400 || is_problem {
        return resp;
    }
    let bytes = to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    ApiError::new(status, if text.is_empty() { injected_detail(status) } else { text })
        .into_response()
}

/// Keeps every non-streaming exchange when recording is on.
async fn record(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Some(rec) = &s.recorder else { return next.run(req).await };
    let (method, route) = (req.method().to_string(), route_of(&req));
    let resp = next.run(req).await;
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if ct.starts_with("text/event-stream") {
        rec.lock().push(Exchange {
            method,
            route,
            status: resp.status().as_u16(),
            content_type: ct,
            body: bytes::Bytes::new(),
        });
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    rec.lock().push(Exchange {
        method,
        route,
        status: parts.status.as_u16(),
        content_type: ct,
        body: bytes.clone(),
    });
    Response::from_parts(parts, Body::from(bytes))
}

/// Parses a query string into a map (no extractor rejections: bad input is ours to report).
pub(crate) fn query_map(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes()).into_owned().collect()
}

/// A boolean query parameter (`true`/`false`, as the spec's `type: boolean`), or a 422 naming
/// it: `?includeClusterPods=null` is no boolean.
pub(crate) fn query_bool(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<bool>, ApiError> {
    match q.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(ApiError::validation(vec![format!(
            "query parameter '{name}': got {v:?}, want boolean"
        )])),
    }
}

/// A query parameter as an integer within bounds, or a 422 naming it.
pub(crate) fn query_int(
    q: &HashMap<String, String>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Ok(n) => Err(ApiError::validation(vec![format!(
                "query parameter '{name}': must be between {min} and {max} but found {n}"
            )])),
            Err(_) => Err(ApiError::validation(vec![format!(
                "query parameter '{name}': got {v:?}, want integer"
            )])),
        },
    }
}
