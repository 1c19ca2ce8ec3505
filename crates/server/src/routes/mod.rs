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
use crate::api::ErrorBody;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use engine::EngineError;
use std::sync::Arc;
use store::UserRow;

pub(crate) type S = State<Arc<AppState>>;

/// An API error: status, body, an optional `Retry-After`, and the cause behind it for the
/// server's log (never sent; logged once by `log_errors` from a response extension, so turning
/// an error into a response has no side effect).
pub(crate) struct ApiError(StatusCode, ErrorBody, Option<u64>, Option<String>);

/// The cause of an error response, for `log_errors`.
#[derive(Clone)]
struct ErrorCause(String);

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> Self {
        Self(
            status,
            ErrorBody { code: code.into(), message: message.into(), hint: hint.map(str::to_owned) },
            None,
            None,
        )
    }

    /// With the cause the server's log should show (the provider's or the store's error).
    pub(crate) fn caused_by(mut self, cause: impl std::fmt::Debug) -> Self {
        self.3 = Some(format!("{cause:?}"));
        self
    }

    /// With a `Retry-After` header of `secs` seconds.
    pub(crate) fn retry_after(mut self, secs: u64) -> Self {
        self.2 = Some(secs);
        self
    }

    /// What the error says (for audit entries).
    pub(crate) fn message(&self) -> &str {
        &self.1.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(self.1)).into_response();
        if let Some(secs) = self.2 {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        if let Some(cause) = self.3 {
            r.extensions_mut().insert(ErrorCause(cause));
        }
        r
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::NoSuchJob(_) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                e.to_string(),
                Some("`podwarden ps` lists jobs"),
            ),
            EngineError::NoSuchServerlessJob(_) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                e.to_string(),
                Some("`podwarden ps` lists jobs"),
            ),
            EngineError::EndpointNotReady { .. } => {
                Self::new(StatusCode::CONFLICT, "endpoint_not_ready", e.to_string(), None)
            }
            EngineError::PayloadTooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.to_string(),
                Some(
                    "put large inputs in storage (a network volume or S3) and pass their path in the input",
                ),
            ),
            EngineError::Cloud(c @ engine::CloudError::Auth(_)) => Self::new(
                StatusCode::BAD_GATEWAY,
                "invalid_api_key",
                format!("RunPod rejected the API key: {c}"),
                Some("check RUNPOD_API_KEY (or the key saved for your user)"),
            ),
            EngineError::Cloud(c @ engine::CloudError::InsufficientBalance(_)) => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
                c.to_string(),
                Some("add funds to the RunPod account (console → billing)"),
            ),
            EngineError::NoSuchEndpoint(_) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                e.to_string(),
                Some("`podwarden endpoint ls` lists endpoints"),
            ),
            EngineError::Corrupt(_) | EngineError::Crashed(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error (see the server log)",
                None,
            )
            .caused_by(&e),
            EngineError::BadToken(_) => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid or expired job token",
                Some("a job token works while its job runs and 5 minutes after it ends"),
            ),
            EngineError::NoGpuFits(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_gpu_fits",
                e.to_string(),
                Some(
                    "`podwarden gpus` shows what is offered; relax gpu.min_vram_gb or gpu.max_price_per_hour",
                ),
            ),
            EngineError::UnknownGpuType(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_gpu_type",
                e.to_string(),
                Some("fix gpu.types: `podwarden gpus` lists the names offered (a part such as \"A100\" or \"4090\" is enough)"),
            ),
            EngineError::WrongState { .. } | EngineError::Transition { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string(), None)
            }
            EngineError::BadVolume(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_network_volume",
                e.to_string(),
                Some(
                    "check the volume's id and data center with RunPod's console or `GET /v2/network-volumes`",
                ),
            ),
            EngineError::Cloud(engine::CloudError::RateLimited { message, retry_after_secs }) => {
                Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "provider_rate_limited",
                    format!("RunPod's request budget for this account is spent: {message}"),
                    Some("nothing was done; retry after the Retry-After seconds"),
                )
                .retry_after(retry_after_secs.unwrap_or(60))
            }
            EngineError::Cloud(c @ engine::CloudError::Rejected(_)) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "provider_rejected",
                format!("RunPod refused the request: {c}"),
                Some("podwarden passed it on as given; fix the field RunPod names"),
            ),
            EngineError::Cloud(c) => {
                Self::new(StatusCode::BAD_GATEWAY, "provider_error", c.to_string(), None).caused_by(c)
            }
            EngineError::BadMetrics { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_metrics",
                e.to_string(),
                Some(
                    "known fields (step, epoch, loss, eval_loss, learning_rate, grad_norm, samples_per_second, elapsed_seconds, remaining_seconds, progress 0-100, gpu_memory_*_gb) are numbers; see docs/job-spec.md",
                ),
            ),
            EngineError::SpendCapReached { .. } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "spend_cap_reached",
                e.to_string(),
                Some(
                    "ask the operator to raise it, wait for running work to end, or save your own RunPod key in Settings → Compute",
                ),
            ),
            EngineError::Store(s) if s.is_busy() => {
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_busy",
                    "the database is locked by another process; nothing was changed",
                    Some("retry in a few seconds; if it persists, look for another program holding podwarden.db open"),
                )
                .retry_after(2)
                .caused_by(s)
            }
            EngineError::Store(s) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error (see the server log)",
                None,
            )
            .caused_by(s),
        }
    }
}

pub(crate) type R<T> = Result<T, ApiError>;

/// A 422 naming the offending field, with the spec's hint.
fn spec_error(code: &str, e: &core_domain::spec::SpecError) -> ApiError {
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
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route", None)
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
                    "internal",
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
        "rate_limited",
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
        s.engine.store().user_by_token_hash(&engine::tokens::hash_token(token)).await.ok().flatten()
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
            "unauthorized",
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
