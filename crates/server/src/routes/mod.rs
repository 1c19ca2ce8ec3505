//! `/api/v1`: the router, authentication, error answers, and the handlers, one file per
//! resource. Handlers are thin: they check who is asking and what they may see, then call the
//! engine or the store; policy lives there. Clients get `{code, message, hint?}` errors;
//! internals stay in the log.

mod admin;
mod aws_key;
mod compute;
mod cost;
mod events;
mod invites;
mod jobs;
mod serverless;
mod users;

pub(crate) use admin::*;
pub(crate) use aws_key::*;
pub(crate) use compute::*;
pub(crate) use cost::*;
pub(crate) use events::*;
pub(crate) use invites::*;
pub(crate) use jobs::*;
pub(crate) use serverless::*;
pub(crate) use users::*;

use crate::AppState;
use crate::api::ErrorCode;
pub(crate) use crate::error::{ApiError, ErrorCause, R};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use podwarden_engine::EngineError;
use podwarden_store::UserRow;
use std::sync::Arc;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub(crate) type S = State<Arc<AppState>>;

/// A 422 naming the offending field, with the spec's hint.
fn spec_error(code: ErrorCode, e: &podwarden_core::spec::SpecError) -> ApiError {
    let field = e.field.as_deref().map(|f| format!("`{f}`: ")).unwrap_or_default();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("{field}{}", e.message),
        e.hint.as_deref(),
    )
}

/// The routes a signed-in caller reaches (an API token). This list is the one source of the
/// router and of the OpenAPI document (`documented`): a route is served if and only if it is
/// documented.
fn authed_routes() -> OpenApiRouter<Arc<AppState>> {
    use crate::{volume_files as files, volumes};
    OpenApiRouter::default()
        .routes(routes!(status))
        .routes(routes!(create_job, list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(stop_job))
        .routes(routes!(job_ssh))
        .routes(routes!(events))
        .routes(routes!(logs))
        .routes(routes!(list_metrics))
        .routes(routes!(gpus))
        .routes(routes!(estimate))
        .routes(routes!(deploy_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, remove_endpoint))
        .routes(
            routes!(create_serverless_job, list_serverless_jobs)
                .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BODY_LIMIT)),
        )
        .routes(routes!(get_serverless_job))
        .routes(routes!(stop_serverless_job))
        .routes(routes!(retry_serverless_job))
        .routes(routes!(serverless_job_events))
        .routes(routes!(cost))
        .routes(routes!(volumes::create_volume, volumes::list_volumes))
        .routes(routes!(volumes::remove_volume))
        .routes(routes!(volumes::volume_s3))
        .routes(routes!(volumes::report_transfer))
        .routes(routes!(volumes::audit_log))
        .routes(routes!(me))
        .routes(routes!(get_key, save_key, delete_key))
        .routes(routes!(get_aws_key, save_aws_key, delete_aws_key))
        .routes(routes!(get_webhook, set_webhook, delete_webhook))
        .routes(routes!(list_strays))
        .routes(routes!(reap_strays))
        .routes(routes!(admin_tasks))
        .routes(routes!(learned_offers, flag_offer))
        .routes(routes!(learned_speeds))
        .routes(routes!(reconciliation))
        .routes(routes!(reconcile))
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(delete_token))
        .routes(routes!(create_invite, list_invites))
        .merge(routes_at(
            // A path of any depth: the document's `{path}` is axum's `{*path}`.
            "/api/v1/volumes/{name}/files/{*path}",
            // Streamed in bounded parts (volume_files), never buffered whole.
            routes!(files::get_file, files::head_file, files::put_file)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        ))
}

/// `r` served at `axum_path` (a wildcard OpenAPI cannot spell) and documented as its
/// annotations say.
fn routes_at(
    axum_path: &str,
    (schemas, paths, method_router): utoipa_axum::router::UtoipaMethodRouter<Arc<AppState>>,
) -> OpenApiRouter<Arc<AppState>> {
    let mut router = OpenApiRouter::default().route(axum_path, method_router);
    let doc = router.get_openapi_mut();
    doc.paths.merge(paths);
    doc.components.get_or_insert_with(Default::default).schemas.extend(schemas);
    router
}

/// The pods' callbacks (the job's own token, checked by each handler).
fn job_callback_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::default().routes(routes!(report_metrics)).routes(routes!(report_exit))
}

/// Signing up with an invite code: the one API call without a token.
fn public_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::default().routes(routes!(redeem_invite))
}

/// Every route's part of the OpenAPI document (paths and the schemas they use).
pub(crate) fn documented() -> utoipa::openapi::OpenApi {
    authed_routes().merge(job_callback_routes()).merge(public_routes()).into_openapi()
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let budget = || {
        axum::middleware::from_fn_with_state(state.body_budget.clone(), crate::body_budget::limit)
    };
    let authed: Router<Arc<AppState>> = authed_routes()
        // Inside auth: only signed-in callers' bodies take parsing memory.
        .layer(budget())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .into();
    let job_callbacks: Router<Arc<AppState>> = job_callback_routes().layer(budget()).into();
    let public: Router<Arc<AppState>> = public_routes().layer(budget()).into();
    Router::new()
        .merge(authed)
        .merge(public)
        .merge(crate::dashboard::router())
        .merge(job_callbacks)
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    crate::openapi::document(),
                )
            }),
        )
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route", None)
        })
        .layer(axum::middleware::from_fn(no_store))
        .layer(axum::middleware::from_fn(log_errors))
        // A bug must not drop the connection: the caller gets a JSON 500, the log the panic.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |p: Box<dyn std::any::Any + Send>| {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                tracing::error!(panic = %what, "a request handler panicked");
                ApiError::internal().into_response()
            },
        ))
        .with_state(state)
}

/// Logs each error response's cause once, with the request it answered: 5xx as errors (the
/// server or RunPod failed), others as warnings.
async fn log_errors(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let r = next.run(req).await;
    if let Some(ErrorCause(cause)) = r.extensions().get::<ErrorCause>() {
        let status = r.status().as_u16();
        if r.status().is_server_error() {
            tracing::error!(%method, path, status, cause, "request failed");
        } else {
            tracing::warn!(%method, path, status, cause, "request refused");
        }
    }
    r
}

/// API answers are one user's (some carry a token shown once): no cache or proxy may keep them.
async fn no_store(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut r = next.run(req).await;
    if api {
        r.headers_mut()
            .entry(axum::http::header::CACHE_CONTROL)
            .or_insert(axum::http::HeaderValue::from_static("no-store"));
    }
    r
}

/// The user a request is made by (set by `auth`).
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub UserRow);

pub(crate) type C = Extension<Caller>;

fn bearer(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

fn too_many(secs: u64) -> Response {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        "too many failed authentications from this address",
        Some("wait, then use a valid token"),
    )
    .retry_after(secs)
    .into_response()
}

async fn auth(State(s): S, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let client = peer.map(|p| crate::listener::client_ip(&s.limits, p, req.headers()));
    let token = bearer(req.headers());
    // A valid token always gets in, whatever its address did before: the lockout below slows
    // wrong tokens only, and never locks a real user out (behind a proxy, or sharing a NAT).
    let user = if token.is_empty() {
        None
    } else {
        s.engine
            .store()
            .user_by_token_hash(&podwarden_engine::tokens::hash_token(token))
            .await
            .ok()
            .flatten()
    };
    let Some(user) = user else {
        // A wrong token counts against its client; a missing one (a browser's first look, a
        // CORS preflight) is not a guess and does not.
        if !token.is_empty() && req.method() != axum::http::Method::OPTIONS {
            if let Some(secs) = client.and_then(|ip| s.guard.failed(ip)) {
                return too_many(secs);
            }
        }
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "missing or invalid token",
            Some(
                "send `Authorization: Bearer <token>`; the CLI reads it from PODWARDEN_HOME/token",
            ),
        )
        .into_response();
    };
    req.extensions_mut().insert(Caller(user));
    next.run(req).await
}

/// Most points in one `POST /metrics`.
const METRICS_BATCH: usize = 10_000;
