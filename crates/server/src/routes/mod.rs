//! `/api/v1`: the router, authentication, error answers, and the handlers, one file per
//! resource. Handlers are thin: they check who is asking and what they may see, then call the
//! engine or the store; policy lives there. Clients get `{code, message, hint?}` errors;
//! internals stay in the log.

mod admin;
mod compute;
mod cost;
mod events;
mod invites;
mod jobs;
mod serverless;
mod users;

pub(crate) use admin::*;
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
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use podwarden_engine::EngineError;
use podwarden_store::UserRow;
use std::sync::Arc;

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

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let authed = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/jobs", get(list_jobs).post(create_job))
        .route(
            "/api/v1/volumes",
            get(crate::volumes::list_volumes).post(crate::volumes::create_volume),
        )
        .route("/api/v1/volumes/{name}", axum::routing::delete(crate::volumes::remove_volume))
        .route("/api/v1/volumes/{name}/s3", get(crate::volumes::volume_s3))
        .route("/api/v1/volumes/{name}/transfers", post(crate::volumes::report_transfer))
        .route(
            "/api/v1/volumes/{name}/files/{*path}",
            get(crate::volume_files::get_file)
                .head(crate::volume_files::head_file)
                .put(crate::volume_files::put_file)
                // Streamed in bounded parts (volume_files), never buffered whole.
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/v1/audit", get(crate::volumes::audit_log))
        .route("/api/v1/strays", get(list_strays))
        .route("/api/v1/admin/tasks", get(admin_tasks))
        .route("/api/v1/cost/reconciliation", get(reconciliation))
        .route("/api/v1/cost/reconcile", post(reconcile))
        .route("/api/v1/strays/reap", post(reap_strays))
        .route("/api/v1/jobs/{id}", get(get_job))
        .route("/api/v1/jobs/{id}/stop", post(stop_job))
        .route("/api/v1/jobs/{id}/events", get(events))
        .route("/api/v1/jobs/{id}/logs", get(logs))
        .route("/api/v1/jobs/{id}/metrics", get(list_metrics))
        .route("/api/v1/gpus", get(gpus))
        .route("/api/v1/estimate", post(estimate))
        .route("/api/v1/endpoints", get(list_endpoints).post(deploy_endpoint))
        .route("/api/v1/endpoints/{name}", get(get_endpoint))
        .route("/api/v1/endpoints/{name}", delete(remove_endpoint))
        .route(
            "/api/v1/requests",
            get(list_serverless_jobs)
                .post(create_serverless_job)
                .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BODY_LIMIT)),
        )
        .route("/api/v1/requests/{id}", get(get_serverless_job))
        .route("/api/v1/requests/{id}/stop", post(stop_serverless_job))
        .route("/api/v1/requests/{id}/retry", post(retry_serverless_job))
        .route("/api/v1/requests/{id}/events", get(events))
        .route("/api/v1/cost", get(cost))
        .route("/api/v1/me", get(me))
        .route("/api/v1/settings/runpod-key", get(get_key).post(save_key).delete(delete_key))
        .route("/api/v1/settings/webhook", get(get_webhook).put(set_webhook).delete(delete_webhook))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", axum::routing::patch(update_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(delete_token))
        .route("/api/v1/invites", get(list_invites).post(create_invite))
        // Inside auth: only signed-in callers' bodies take parsing memory.
        .layer(axum::middleware::from_fn_with_state(
            state.body_budget.clone(),
            crate::body_budget::limit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    let job_callbacks = Router::new()
        .route("/api/v1/jobs/{id}/exit", post(report_exit))
        .route("/api/v1/jobs/{id}/metrics", post(report_metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.body_budget.clone(),
            crate::body_budget::limit,
        ));
    // Signing up with an invite code: the one API call without a token.
    let public = Router::new().route("/api/v1/invites/redeem", post(redeem_invite)).layer(
        axum::middleware::from_fn_with_state(state.body_budget.clone(), crate::body_budget::limit),
    );
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
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "internal error (see the server log)",
                    None,
                )
                .into_response()
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
