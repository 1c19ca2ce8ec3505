//! `/api/v1` routes. Clients get `{code, message, hint?}` errors; internals stay in the log.

use crate::AppState;
use crate::accounts::{client_for, engine_for};
use crate::api::{
    AttemptView, ComputeSettings, CostReport, DeployResult, EndpointView, ErrorBody, EventView,
    GpuRow, JobDetail, JobSummary, NewToken, ServerlessJobView, Status, TokenView, UserView,
};
use crate::extract::{Body, Query};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use core_domain::gpu::{CloudTier, rank_placements};
use core_domain::spec::JobSpec;
use core_domain::{Money, WorkId};
use engine::EngineError;
use futures::StreamExt;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{AttemptRow, EndpointRow, JobRow, ServerlessJobRow, UserRow};

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

/// Jobs listed by `GET /api/v1/jobs` (newest first).
const LIST_LIMIT: i64 = 10_000;

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
        .route("/api/v1/requests/{id}/events", get(events))
        .route("/api/v1/cost", get(cost))
        .route("/api/v1/me", get(me))
        .route("/api/v1/settings/runpod-key", get(get_key).post(save_key).delete(delete_key))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", axum::routing::patch(update_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(delete_token))
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
    Router::new()
        .merge(authed)
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

fn summary(j: &JobRow, attempts: &[AttemptRow]) -> JobSummary {
    let current = attempts.iter().rev().find(|a| a.state != "abandoned");
    JobSummary {
        id: j.id.clone(),
        name: j.name.clone(),
        state: match (&j.state[..], &j.outcome) {
            ("tearing_down", Some(o)) => format!("tearing_down ({o})"),
            (s, _) => s.to_owned(),
        },
        reason: j.reason.clone(),
        gpu: current.map(|a| format!("{}× {}", a.gpu_count, a.gpu_type)),
        created_at: j.created_at,
        started_at: j.started_at,
        // Spend includes what running pods ran up since their last ledger write.
        spent_usd: Money(engine::reconcilers::pods::projected_spend(
            j,
            &attempts.iter().collect::<Vec<_>>(),
            now_ms(),
        ))
        .usd(),
        budget_usd: j.budget_micros.map(|b| Money(b).usd()),
        attempts_made: j.attempts_made,
        exit_code: j.exit_code,
        ended_at: j.phase().is_ok_and(|p| p.state.is_final()).then_some(j.updated_at),
        backend: if j.account == store::HOSTED { "hosted" } else { "runpod" }.into(),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn attempt_view(a: &AttemptRow) -> AttemptView {
    AttemptView {
        id: a.id.clone(),
        state: a.state.clone(),
        pod_name: a.pod_name.clone(),
        pod_id: a.pod_id.clone(),
        gpu_type: a.gpu_type.clone(),
        gpu_count: a.gpu_count,
        cloud: a.cloud.clone(),
        price_per_hour_usd: Money(a.price_micros_per_hour).usd(),
        cost_usd: Money(a.cost_micros).usd(),
        reason: a.reason.clone(),
    }
}

/// Server version, install id and provider.
#[utoipa::path(get, path = "/api/v1/status", tag = "status", responses((status = 200, body = Status), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn status(State(s): S) -> Json<Status> {
    Json(Status {
        version: env!("CARGO_PKG_VERSION").into(),
        install: s.engine.install().into(),
        simulated: s.simulated,
        provider: s.provider.clone(),
    })
}

/// Submits a job (a job spec, see docs/job-spec.md).
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = JobSpec, responses((status = 201, body = JobDetail), (status = 402, description = "the hosted spend cap has too little left (spent or reserved)", body = ErrorBody), (status = 400, description = "malformed JSON (with line and column)", body = ErrorBody), (status = 422, description = "invalid spec: the field, the problem, a hint", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn create_job(
    State(s): S,
    Extension(c): C,
    Body(v): Body<serde_json::Value>,
) -> R<(StatusCode, Json<JobDetail>)> {
    let mut spec = JobSpec::from_json(v).map_err(|e| spec_error("invalid_spec", &e))?;
    let account = user_account(&s, &c.0.id).await?;
    crate::volumes::resolve(&s, &c.0.id, &account, &mut spec.network_volume).await?;
    spec.image = image_alias(&spec.image)?;
    // Hosted work is admitted against the owner's spend cap in the insert's own transaction
    // (store::spend); a user's own key is theirs to spend.
    // The account's engine plans it with that account's offers and runs it.
    let sub = engine_for(&s, &account)
        .await
        .map_err(account_error)?
        .submit_to(spec, &c.0.id, &account)
        .await?;
    crate::driving::poke(&s, &account);
    let detail = job_detail(&s, &sub.job.to_string(), &c.0.id).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Sets the endpoint's `user_field` in the job's input to the caller (whatever they sent).
async fn stamp_user(
    s: &AppState,
    user: &str,
    spec: &mut core_domain::serverless_job::ServerlessJobSpec,
) -> R<()> {
    let store = s.engine.store();
    let row = match store.endpoint_by_name(user, &spec.endpoint).await.map_err(EngineError::from)? {
        Some(r) => Some(r),
        None => store.endpoint_published(&spec.endpoint).await.map_err(EngineError::from)?,
    };
    let field = row
        .and_then(|r| serde_json::from_str::<core_domain::endpoint::EndpointSpec>(&r.spec).ok())
        .and_then(|e| e.user_field);
    if let (Some(f), Some(obj)) = (field, spec.input.as_object_mut()) {
        obj.insert(f, serde_json::Value::String(user.to_owned()));
    }
    Ok(())
}

/// A spec's `@alias` image as configured (`core_domain::images`).
fn image_alias(image: &str) -> R<String> {
    core_domain::images::resolve_env(image).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_spec",
            format!("`image`: {e}"),
            Some("use a registry path, or an alias podwarden knows"),
        )
    })
}

/// The account a user's new work goes to: their own key's, else hosted.
pub(crate) async fn user_account(s: &AppState, user: &str) -> R<String> {
    let has_key =
        s.engine.store().provider_key_get(user).await.map_err(EngineError::from)?.is_some();
    Ok(if has_key { crate::accounts::byok_account(user) } else { store::HOSTED.to_owned() })
}

pub(crate) fn account_error(e: crate::accounts::AccountError) -> ApiError {
    match e {
        crate::accounts::AccountError::NoKey => ApiError::new(
            StatusCode::CONFLICT,
            "no_key",
            e.to_string(),
            Some("save a key in Settings → Compute"),
        ),
        crate::accounts::AccountError::NoOperatorKey => ApiError::new(
            StatusCode::CONFLICT,
            "no_operator_key",
            e.to_string(),
            Some(
                "save your RunPod API key in Settings → Compute (or POST /api/v1/settings/runpod-key), then submit again",
            ),
        ),
        crate::accounts::AccountError::Sealed => {
            tracing::error!(
                "a stored RunPod key cannot be decrypted: was PODWARDEN_SECRET_KEY changed without `podwarden admin rotate-secret`?"
            );
            ApiError::new(
                StatusCode::CONFLICT,
                "key_unreadable",
                "your saved RunPod key cannot be read by this server",
                Some("save the key again in Settings → Compute"),
            )
        }
        crate::accounts::AccountError::Other(e) => {
            tracing::error!(error = %e, "cannot open a user's RunPod account");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error (see the server log)",
                None,
            )
        }
    }
}

/// Refuses a key change while jobs run on the user's own account: their pods could no longer
/// be watched or torn down.
async fn no_live_byok_jobs(s: &AppState, user: &str) -> R<()> {
    let account = crate::accounts::byok_account(user);
    let endpoints = s
        .engine
        .store()
        .endpoints_live()
        .await
        .map_err(EngineError::from)?
        .iter()
        .filter(|e| e.account == account)
        .count();
    if endpoints > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "endpoints_on_key",
            format!(
                "{endpoints} endpoint(s) live on your RunPod account; podwarden could no longer manage them"
            ),
            Some("remove them first (`podwarden endpoint rm <name>`), then change the key"),
        ));
    }
    let n = s.engine.store().live().jobs().filter(|j| j.account == account).count();
    if n > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "jobs_running_on_key",
            format!(
                "{n} job(s) are running on your RunPod key; changing or removing it now would leave their pods unmanaged"
            ),
            Some("stop them (or let them finish), then change the key"),
        ));
    }
    Ok(())
}

fn endpoint_view(r: &EndpointRow) -> EndpointView {
    let spec: Option<core_domain::endpoint::EndpointSpec> = serde_json::from_str(&r.spec).ok();
    EndpointView {
        name: r.name.clone(),
        state: r.state.clone(),
        resource_name: r.resource_name.clone(),
        endpoint_id: r.endpoint_id.clone(),
        template_id: r.template_id.clone(),
        reason: r.reason.clone(),
        image: spec.as_ref().map(|s| s.image.clone()).unwrap_or_default(),
        gpu_pools: spec.as_ref().map(|s| s.gpu.pools.clone()).unwrap_or_default(),
        workers_min: spec.as_ref().map_or(0, |s| s.workers.min),
        workers_max: spec.as_ref().map_or(0, |s| s.workers.max),
        execution_timeout_secs: spec.as_ref().map_or(0, |s| s.execution_timeout.as_secs()),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Deploys a serverless endpoint (create, or update in place).
#[utoipa::path(post, path = "/api/v1/endpoints", tag = "endpoints", request_body = core_domain::endpoint::EndpointSpec, responses((status = 201, description = "created", body = DeployResult), (status = 200, description = "updated or unchanged", body = DeployResult), (status = 402, description = "a capped hosted user asked for always-on workers", body = ErrorBody), (status = 422, description = "invalid spec: the field, the problem, a hint", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn deploy_endpoint(
    State(s): S,
    Extension(c): C,
    Body(v): Body<serde_json::Value>,
) -> R<(StatusCode, Json<DeployResult>)> {
    let mut spec = core_domain::endpoint::EndpointSpec::from_json(v)
        .map_err(|e| spec_error("invalid_spec", &e))?;
    // An existing endpoint stays on its account; a new one goes where the user computes.
    let account = match s
        .engine
        .store()
        .endpoint_by_name(&c.0.id, &spec.name)
        .await
        .map_err(EngineError::from)?
    {
        Some(row) => row.account,
        None => user_account(&s, &c.0.id).await?,
    };
    // Always-on workers bill by the second whether or not jobs come, with no end a cap could
    // reserve for: a capped user's hosted endpoints scale from zero (their jobs reserve their
    // estimates against the cap instead).
    if account == store::HOSTED && c.0.spend_cap_micros.is_some() && spec.workers.min > 0 {
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "spend_cap_reached",
            format!(
                "workers.min = {} keeps workers billing with no end, which a hosted spend cap cannot reserve",
                spec.workers.min
            ),
            Some(
                "use workers.min = 0 (each job's cost is then reserved against your cap), or save your own RunPod key",
            ),
        ));
    }
    crate::volumes::resolve(&s, &c.0.id, &account, &mut spec.network_volume).await?;
    spec.image = image_alias(&spec.image)?;
    let d = engine_for(&s, &account).await.map_err(account_error)?.deploy(spec, &c.0.id).await?;
    let status = if d.change == engine::sagas::endpoint_deploy::Change::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let change = serde_json::to_value(d.change)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((status, Json(DeployResult { endpoint: endpoint_view(&d.row), change })))
}

/// The caller's endpoints.
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "endpoints", responses((status = 200, body = Vec<EndpointView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn list_endpoints(State(s): S, Extension(c): C) -> R<Json<Vec<EndpointView>>> {
    Ok(Json(s.engine.endpoints(&c.0.id).await?.iter().map(endpoint_view).collect()))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/endpoints/{name}", tag = "endpoints", params(("name" = String, Path, description = "endpoint name")), responses((status = 200, body = EndpointView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn get_endpoint(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
) -> R<Json<EndpointView>> {
    Ok(Json(endpoint_view(&s.engine.endpoint(&c.0.id, &name).await?)))
}

/// Removes an endpoint (deleted at RunPod, then forgotten).
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}", tag = "endpoints", params(("name" = String, Path, description = "endpoint name")), responses((status = 200, description = "deleted", body = EndpointView), (status = 202, description = "deleting", body = EndpointView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn remove_endpoint(
    State(s): S,
    Extension(c): C,
    Path(name): Path<String>,
) -> R<(StatusCode, Json<EndpointView>)> {
    let account = s.engine.endpoint(&c.0.id, &name).await?.account;
    let row = engine_for(&s, &account).await.map_err(account_error)?.remove(&c.0.id, &name).await?;
    crate::driving::poke(&s, &account);
    let status = if row.state == core_domain::state::EndpointState::Deleted.as_str() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(endpoint_view(&row))))
}

/// Largest `POST /api/v1/requests` body: RunPod's `/runsync` limit plus room for the envelope.
const REQUEST_BODY_LIMIT: usize = runpod::types::serverless::RUNSYNC_PAYLOAD_LIMIT + 1024 * 1024;

fn serverless_job_view(r: &ServerlessJobRow, simulated: bool) -> ServerlessJobView {
    ServerlessJobView {
        id: r.id.clone(),
        name: r.name.clone(),
        endpoint: r.endpoint_name.clone(),
        endpoint_id: r.endpoint_id.clone(),
        state: r.state.clone(),
        reason: r.reason.clone(),
        provider_job_id: r.provider_job_id.clone(),
        gpu: r.gpu.clone(),
        price_per_hour_usd: Money(r.price_micros_per_hour).usd(),
        estimate_usd: Money(r.estimate_micros).usd(),
        cost_usd: Money(r.cost_micros).usd(),
        delay_ms: r.delay_ms,
        execution_ms: r.execution_ms,
        output: r.output.as_deref().and_then(|o| serde_json::from_str(o).ok()),
        created_at: r.created_at,
        ended_at: r.ended_at,
        simulated,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SyncQuery {
    /// Use RunPod's `/runsync` (waits up to 90 s).
    #[serde(default)]
    sync: bool,
}

/// Submits a serverless job to an endpoint.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", params(SyncQuery), request_body = core_domain::serverless_job::ServerlessJobSpec, responses((status = 201, body = ServerlessJobView), (status = 402, description = "the hosted spend cap has too little left (spent or reserved)", body = ErrorBody), (status = 413, description = "input over RunPod's payload limit", body = ErrorBody), (status = 422, description = "invalid spec: the field, the problem, a hint", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn create_serverless_job(
    State(s): S,
    Extension(c): C,
    Query(q): Query<SyncQuery>,
    Body(v): Body<serde_json::Value>,
) -> R<(StatusCode, Json<ServerlessJobView>)> {
    let spec = core_domain::serverless_job::ServerlessJobSpec::from_json(v)
        .map_err(|e| spec_error("invalid_spec", &e))?;
    let store = s.engine.store();
    let account = match store
        .endpoint_by_name(&c.0.id, &spec.endpoint)
        .await
        .map_err(EngineError::from)?
    {
        Some(own) => own.account,
        None => {
            let account = user_account(&s, &c.0.id).await?;
            if account != store::HOSTED {
                // A BYOK user's first job for a published endpoint: their own copy of it
                // (template and endpoint) is created on their account and kept for the next.
                let published =
                    store.endpoint_published(&spec.endpoint).await.map_err(EngineError::from)?;
                let Some(published) = published else {
                    return Err(EngineError::NoSuchEndpoint(spec.endpoint.clone()).into());
                };
                let ep_spec: core_domain::endpoint::EndpointSpec =
                    serde_json::from_str(&published.spec)
                        .map_err(|e| EngineError::Corrupt(e.to_string()))?;
                let ep_spec = ep_spec.for_another_account();
                let engine = engine_for(&s, &account).await.map_err(account_error)?;
                let d = engine.deploy(ep_spec, &c.0.id).await?;
                tracing::info!(user = %c.0.id, endpoint = %d.row.resource_name, from = %published.name, "created a BYOK user's copy of a published endpoint");
            }
            account
        }
    };
    let mut spec = spec;
    stamp_user(&s, &c.0.id, &mut spec).await?;
    let row = engine_for(&s, &account)
        .await
        .map_err(account_error)?
        .submit_serverless_job(spec, &c.0.id, q.sync)
        .await?;
    crate::driving::poke(&s, &account);
    Ok((StatusCode::CREATED, Json(serverless_job_view(&row, s.simulated))))
}

/// The caller's serverless jobs, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(ListQuery), responses((status = 200, body = Vec<ServerlessJobView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn list_serverless_jobs(
    State(s): S,
    Extension(c): C,
    Query(q): Query<ListQuery>,
) -> R<Json<Vec<ServerlessJobView>>> {
    let rows = s
        .engine
        .store()
        .serverless_jobs_recent(&c.0.id, q.limit.unwrap_or(50).clamp(1, LIST_LIMIT))
        .await
        .map_err(EngineError::from)?;
    Ok(Json(rows.iter().map(|r| serverless_job_view(r, s.simulated)).collect()))
}

/// The caller's serverless job (another user's is "not found": no existence leak).
async fn owned_serverless_job(s: &AppState, id: &str, owner: &str) -> R<ServerlessJobRow> {
    let r = s.engine.serverless_job(id).await?;
    if r.owner != owner {
        return Err(EngineError::NoSuchServerlessJob(id.into()).into());
    }
    Ok(r)
}

/// One serverless job (state, why it waits, output, cost).
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = String, Path, description = "serverless job id")), responses((status = 200, body = ServerlessJobView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn get_serverless_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<Json<ServerlessJobView>> {
    Ok(Json(serverless_job_view(&owned_serverless_job(&s, &id, &c.0.id).await?, s.simulated)))
}

/// Cancels a serverless job.
#[utoipa::path(post, path = "/api/v1/requests/{id}/stop", tag = "requests", params(("id" = String, Path, description = "serverless job id")), responses((status = 202, body = ServerlessJobView), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn stop_serverless_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<(StatusCode, Json<ServerlessJobView>)> {
    let r = owned_serverless_job(&s, &id, &c.0.id).await?;
    let row =
        engine_for(&s, &r.account).await.map_err(account_error)?.cancel_serverless_job(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(serverless_job_view(&row, s.simulated))))
}

/// The caller's job (another user's is "not found": no existence leak).
async fn owned_job(s: &AppState, id: &str, owner: &str) -> R<JobRow> {
    Ok(s.engine
        .store()
        .job_get(id)
        .await
        .map_err(EngineError::from)?
        .filter(|j| j.owner == owner)
        .ok_or_else(|| EngineError::NoSuchJob(id.into()))?)
}

/// The caller's job in detail.
async fn job_detail(s: &AppState, id: &str, owner: &str) -> R<JobDetail> {
    let store = s.engine.store();
    let j = owned_job(s, id, owner).await?;
    let attempts = store.attempts_for_job(id).await.map_err(EngineError::from)?;
    let spec = j.spec().ok();
    Ok(JobDetail {
        job: summary(&j, &attempts),
        attempts: attempts.iter().map(attempt_view).collect(),
        simulated: s.simulated,
        kind: spec.as_ref().map_or("command", JobSpec::kind).into(),
        image: spec.as_ref().map(|s| s.image.clone()).unwrap_or_default(),
        // A finetune job's generated script is long; its model says what it runs.
        command: spec
            .as_ref()
            .map(|s| {
                s.finetune.as_ref().map_or_else(
                    || s.shell_command(),
                    |f| format!("finetune {} on {}", f.model, f.dataset()),
                )
            })
            .unwrap_or_default(),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Most recent jobs to return (default 50, at most 10 000).
    limit: Option<i64>,
}

/// The caller's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(ListQuery), responses((status = 200, body = Vec<JobSummary>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn list_jobs(
    State(s): S,
    Extension(c): C,
    Query(q): Query<ListQuery>,
) -> R<Json<Vec<JobSummary>>> {
    let limit = q.limit.unwrap_or(50).clamp(1, LIST_LIMIT);
    let store = s.engine.store();
    let mut by_job: std::collections::HashMap<String, Vec<AttemptRow>> =
        std::collections::HashMap::new();
    for a in store.attempts_for_recent_jobs_of(&c.0.id, limit).await.map_err(EngineError::from)? {
        by_job.entry(a.job_id.clone()).or_default().push(a);
    }
    let jobs = store.job_list_of(&c.0.id, limit).await.map_err(EngineError::from)?;
    Ok(Json(
        jobs.iter().map(|j| summary(j, by_job.get(&j.id).map_or(&[][..], Vec::as_slice))).collect(),
    ))
}

/// A job with its attempts.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "job id")), responses((status = 200, body = JobDetail), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn get_job(State(s): S, Extension(c): C, Path(id): Path<String>) -> R<Json<JobDetail>> {
    Ok(Json(job_detail(&s, &id, &c.0.id).await?))
}

/// Stops a job: it tears down and settles as cancelled.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/stop", tag = "jobs", params(("id" = String, Path, description = "job id")), responses((status = 202, body = JobDetail), (status = 409, description = "already ending", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn stop_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<(StatusCode, Json<JobDetail>)> {
    owned_job(&s, &id, &c.0.id).await?;
    s.engine.cancel(&id).await?;
    crate::driving::poke_job(&s, &id);
    Ok((StatusCode::ACCEPTED, Json(job_detail(&s, &id, &c.0.id).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct After {
    #[serde(default)]
    after: i64,
    /// Long-poll: wait up to this many ms for an event after `after` (max 60 000).
    #[serde(default)]
    wait_ms: u64,
    /// SSE only: also stream the job's pod log lines live (`event: log`, not resumable).
    #[serde(default)]
    logs: bool,
}

/// A job's (or serverless job's) events: JSON with a long-poll (`?after=&wait_ms=`), or — with
/// `Accept: text/event-stream` — Server-Sent Events (state changes, logs of the engine, metric
/// points, stream chunks, budget alerts), resumable with `Last-Event-ID`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", params(("id" = String, Path, description = "job or serverless job id"), After, ("Last-Event-ID" = Option<i64>, Header, description = "resume an SSE stream after this event")), responses((status = 200, description = "events (JSON) or an SSE stream", content((Vec<EventView> = "application/json"), (String = "text/event-stream"))), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn events(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Query(q): Query<After>,
    headers: axum::http::HeaderMap,
) -> R<Response> {
    // Only the owner's events; unknown, malformed and foreign ids alike are "not found".
    let work = id.parse::<WorkId>().map_err(|_| EngineError::NoSuchJob(id.clone()))?;
    match work {
        WorkId::ServerlessJob(_) => owned_serverless_job(&s, &id, &c.0.id).await.map(|_| ())?,
        WorkId::Job(_) => owned_job(&s, &id, &c.0.id).await.map(|_| ())?,
    }
    let wants_sse = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_sse {
        let resume = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let end = s.shutdown.clone().cancelled_owned();
        let stored = event_stream(s.clone(), id.clone(), resume.unwrap_or(q.after));
        let stream = if q.logs && matches!(work, WorkId::Job(_)) {
            futures::stream::select(stored, pod_log_lines(s, id)).boxed()
        } else {
            stored.boxed()
        };
        return Ok(Sse::new(stream.take_until(end))
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    Ok(Json(long_poll(&s, &id, &q).await?).into_response())
}

/// How much of a pod's log a new follower gets first.
const POD_LOG_TAIL: runpod::types::logs::LogsQuery = runpod::types::logs::LogsQuery {
    source: None,
    tail: Some(1000),
    since: None,
    last_event_id: None,
};

/// The pod of the job's latest attempt that holds one (created or running).
fn current_pod(attempts: &[AttemptRow]) -> Option<String> {
    attempts
        .iter()
        .rev()
        .find_map(|a| a.pod_id.clone().filter(|_| matches!(&a.state[..], "created" | "running")))
}

/// The job's pod log lines as `log` events: follows each pod the job gets, until it settles.
fn pod_log_lines(
    s: Arc<AppState>,
    id: String,
) -> impl futures::Stream<Item = Result<Event, std::convert::Infallible>> {
    async_stream::stream! {
        let mut rx = s.engine.subscribe();
        let mut followed = std::collections::HashSet::new();
        loop {
            let Ok(Some(job)) = s.engine.store().job_get(&id).await else { break };
            let attempts = s.engine.store().attempts_for_job(&id).await.unwrap_or_default();
            if let Some(pod) = current_pod(&attempts).filter(|p| !followed.contains(p)) {
                followed.insert(pod.clone());
                let lines = match client_for(&s, &job.account).await {
                    Ok(c) => c.pod_logs(&runpod::PodId::new(pod), &POD_LOG_TAIL).await.ok(),
                    Err(_) => None,
                };
                if let Some(lines) = lines {
                    let mut lines = Box::pin(lines);
                    while let Some(Ok(l)) = lines.next().await {
                        let data = serde_json::json!({"source": l.event.source, "line": l.event.line});
                        yield Ok(Event::default().event("log").data(data.to_string()));
                    }
                }
                continue;
            }
            if job.phase().is_ok_and(|p| p.state.is_final()) || rx.changed().await.is_err() {
                break;
            }
        }
    }
}

fn event_stream(
    s: Arc<AppState>,
    id: String,
    after: i64,
) -> impl futures::Stream<Item = Result<Event, std::convert::Infallible>> {
    futures::stream::unfold((s, id, after, None::<tokio::sync::watch::Receiver<u64>>), |(s, id, after, rx)| async move {
        let mut rx = rx.unwrap_or_else(|| s.engine.subscribe());
        loop {
            match s.engine.store().events_since(&id, after, 1000).await {
                Ok(rows) if !rows.is_empty() => {
                    let last = rows.last().map_or(after, |e| e.id);
                    let events: Vec<Result<Event, std::convert::Infallible>> = rows
                        .into_iter()
                        .map(|e| {
                            let data = serde_json::json!({"id": e.id, "at": e.at, "kind": e.kind, "message": e.message,
                                "data": e.data.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())});
                            Ok(Event::default().id(e.id.to_string()).event(e.kind).data(data.to_string()))
                        })
                        .collect();
                    return Some((futures::stream::iter(events), (s, id, last, Some(rx))));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed");
                    return None;
                }
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    })
    .flatten()
}

async fn long_poll(s: &AppState, id: &str, q: &After) -> R<Vec<EventView>> {
    let id = id.to_owned();
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_millis(q.wait_ms.min(60_000));
    let mut rx = s.engine.subscribe();
    loop {
        let rows =
            s.engine.store().events_since(&id, q.after, 1000).await.map_err(EngineError::from)?;
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(rows
                .into_iter()
                .map(|e| EventView { id: e.id, at: e.at, kind: e.kind, message: e.message })
                .collect());
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return Ok(Vec::new()) },
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// The current pod's logs, proxied from the provider's SSE stream; once the job has no pod,
/// the lines kept from its pods (the newest 10,000), and the stream ends.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/logs", tag = "jobs", params(("id" = String, Path, description = "job id")), responses((status = 200, description = "SSE: one event per log line", content_type = "text/event-stream"), (status = 404, description = "no such job, or no pod yet and no lines kept", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn logs(State(s): S, Extension(c): C, Path(id): Path<String>) -> R<Response> {
    let job = owned_job(&s, &id, &c.0.id).await?;
    let attempts = s.engine.store().attempts_for_job(&id).await.map_err(EngineError::from)?;
    let Some(pod) = current_pod(&attempts) else {
        // Kept lines need no provider: no key is decrypted, and a removed key does not hide them.
        let kept = s
            .engine
            .store()
            .job_logs(&id, store::JOB_LOG_LINES_KEPT)
            .await
            .map_err(EngineError::from)?;
        if kept.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_pod",
                "the job has no pod yet, and no log lines were kept",
                Some("`podwarden ps` shows its state"),
            ));
        }
        let events = futures::stream::iter(kept.into_iter().map(|l| {
            Ok::<_, std::convert::Infallible>(Event::default().event(l.source).data(l.line))
        }));
        return Ok(Sse::new(events).into_response());
    };
    let client = client_for(&s, &job.account).await.map_err(account_error)?;
    let stream = client.pod_logs(&runpod::PodId::new(pod), &POD_LOG_TAIL).await.map_err(|e| {
        ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.to_string(), None)
    })?;
    let events = stream.filter_map(|l| async move {
        l.ok().map(|l| {
            Ok::<_, std::convert::Infallible>(
                Event::default().event(l.event.source).data(l.event.line),
            )
        })
    });
    Ok(Sse::new(events.take_until(s.shutdown.clone().cancelled_owned()))
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Exit {
    exit_code: i64,
}

/// The pod's wrapper reports the command's exit status (job token).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/exit", tag = "jobs", params(("id" = String, Path, description = "job id")), request_body = Exit, security(("job_token" = [])), responses((status = 204, description = "recorded"), (status = 401, description = "not this job's token", body = ErrorBody)))]
async fn report_exit(
    State(s): S,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Body(b): Body<Exit>,
) -> R<StatusCode> {
    s.engine.report_exit(&id, bearer(&headers), b.exit_code).await?;
    crate::driving::poke_job(&s, &id);
    Ok(StatusCode::NO_CONTENT)
}

async fn settings(
    s: &AppState,
    user: &UserRow,
    k: Option<&store::ProviderKeyRow>,
) -> R<ComputeSettings> {
    Ok(ComputeSettings {
        backend: if k.is_some() { "runpod" } else { "hosted" }.into(),
        last4: k.map(|k| k.last4.clone()),
        endpoint_status: {
            let account = crate::accounts::byok_account(&user.id);
            let eps = s.engine.store().endpoints_live().await.map_err(EngineError::from)?;
            let mine: Vec<_> = eps.iter().filter(|e| e.account == account).collect();
            if mine.is_empty() {
                "none".to_owned()
            } else {
                mine.iter()
                    .map(|e| format!("{}: {}", e.name, e.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        },
        spend_cap_usd: user.spend_cap_micros.map(|m| Money(m).usd()),
        hosted_committed_usd: Money(
            s.engine.store().hosted_committed_micros(&user.id).await.map_err(EngineError::from)?,
        )
        .usd(),
    })
}

#[utoipa::path(get, path = "/api/v1/settings/runpod-key", tag = "settings", responses((status = 200, body = ComputeSettings), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn get_key(State(s): S, Extension(c): C) -> R<Json<ComputeSettings>> {
    let k = s.engine.store().provider_key_get(&c.0.id).await.map_err(EngineError::from)?;
    Ok(Json(settings(&s, &c.0, k.as_ref()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyBody {
    api_key: String,
}

/// Validates the key against RunPod (it must authenticate and the account must have funds),
/// then stores it sealed. Neither the key nor RunPod's answer about it is logged.
#[utoipa::path(post, path = "/api/v1/settings/runpod-key", tag = "settings", request_body = KeyBody, responses((status = 200, body = ComputeSettings), (status = 400, description = "RunPod rejected the key", body = ErrorBody), (status = 402, description = "the account has no funds", body = ErrorBody), (status = 422, description = "not a key", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn save_key(
    State(s): S,
    Extension(c): C,
    Body(b): Body<KeyBody>,
) -> R<Json<ComputeSettings>> {
    no_live_byok_jobs(&s, &c.0.id).await?;
    let key = b.api_key.trim().to_owned();
    if key.len() < 8 || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_key_format",
            "that does not look like a RunPod API key",
            Some("copy it from RunPod's console → Settings → API Keys"),
        ));
    }
    let client = runpod::Client::builder()
        .api_key(runpod::ApiKey::new(key.clone()))
        .rest_url(s.client.rest_url().to_string())
        .endpoint_base_url(s.client.endpoint_base_url().to_string())
        .build()
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error (see the server log)",
                None,
            )
        })?;
    match client.myself().await {
        Ok(me) if me.client_balance <= 0.0 => {
            return Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_balance",
                format!(
                    "the RunPod account behind this key has no funds (${:.2})",
                    me.client_balance
                ),
                Some("add funds in RunPod's console → Billing, then save the key again"),
            ));
        }
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                runpod::ErrorKind::Unauthorized | runpod::ErrorKind::Forbidden
            ) =>
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_api_key",
                "RunPod rejected this API key",
                Some(
                    "check that it is complete and not revoked (RunPod's console → Settings → API Keys)",
                ),
            ));
        }
        Err(e) => {
            tracing::warn!(kind = %e.kind(), "could not verify a RunPod key");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                "could not reach RunPod to verify the key; try again",
                None,
            ));
        }
    }
    let sealed = s.sealer.seal(&key);
    let last4: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let row = store::ProviderKeyRow {
        user_id: c.0.id.clone(),
        provider: "runpod".into(),
        key_id: sealed.key_id,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        last4,
        created_at: now_ms(),
    };
    s.engine.store().provider_key_put(&row).await.map_err(EngineError::from)?;
    s.accounts.forget(&c.0.id).await;
    Ok(Json(settings(&s, &c.0, Some(&row)).await?))
}

/// Removes the caller's key (back to hosted).
#[utoipa::path(delete, path = "/api/v1/settings/runpod-key", tag = "settings", responses((status = 200, body = ComputeSettings), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn delete_key(State(s): S, Extension(c): C) -> R<Json<ComputeSettings>> {
    no_live_byok_jobs(&s, &c.0.id).await?;
    s.engine.store().provider_key_delete(&c.0.id).await.map_err(EngineError::from)?;
    s.accounts.forget(&c.0.id).await;
    Ok(Json(settings(&s, &c.0, None).await?))
}

fn user_view(u: &UserRow) -> UserView {
    UserView {
        id: u.id.clone(),
        name: u.name.clone(),
        is_admin: u.is_admin,
        created_at: u.created_at,
        spend_cap_usd: u.spend_cap_micros.map(|m| Money(m).usd()),
    }
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses((status = 200, body = UserView), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn me(Extension(c): C) -> Json<UserView> {
    Json(user_view(&c.0))
}

fn admin_only(c: &Caller) -> R<()> {
    if c.0.is_admin {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an admin can manage users",
            None,
        ))
    }
}

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

/// Checks every settled pod not checked yet against RunPod's bill now, correcting the ledger
/// to the bill (admin; the server also does this on its own, 15 minutes after a pod ends).
#[utoipa::path(post, path = "/api/v1/cost/reconcile", tag = "cost", responses((status = 200, body = crate::api::Reconciliation), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn reconcile(State(s): S, Extension(c): C) -> R<Json<crate::api::Reconciliation>> {
    admin_only(&c)?;
    let mut checked = 0;
    if s.hosted {
        loop {
            let r = s.engine.reconcile_billing(0, 100).await?;
            checked += r.checked;
            if r.checked < 100 {
                break;
            }
        }
    }
    checked += crate::accounts::reconcile_all(&s).await?;
    Ok(Json(reconciliation_view(&s, checked).await?))
}

async fn reconciliation_view(s: &AppState, checked_now: usize) -> R<crate::api::Reconciliation> {
    let rows = s.engine.store().billing_checks(1000).await.map_err(EngineError::from)?;
    Ok(crate::api::Reconciliation {
        checked_now,
        mismatches: rows.iter().filter(|r| r.ours_micros != r.theirs_micros).count(),
        overcounted_usd: Money(rows.iter().map(|r| r.ours_micros - r.theirs_micros).sum()).usd(),
        checks: rows
            .into_iter()
            .map(|r| crate::api::BillingCheckView {
                job_id: r.job_id,
                pod_id: r.pod_id,
                at: r.at,
                ours_usd: Money(r.ours_micros).usd(),
                theirs_usd: Money(r.theirs_micros).usd(),
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

/// Every user (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<UserView>), (status = 403, description = "not an admin", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn list_users(State(s): S, Extension(c): C) -> R<Json<Vec<UserView>>> {
    admin_only(&c)?;
    Ok(Json(
        s.engine.store().users().await.map_err(EngineError::from)?.iter().map(user_view).collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    name: String,
    #[serde(default)]
    admin: bool,
}

/// `POST /api/v1/users` (admin): the user and their first token, shown this once.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser, responses((status = 201, body = NewToken), (status = 403, description = "not an admin", body = ErrorBody), (status = 409, description = "the name is taken", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn create_user(
    State(s): S,
    Extension(c): C,
    Body(b): Body<NewUser>,
) -> R<(StatusCode, Json<NewToken>)> {
    admin_only(&c)?;
    let name_ok = !b.name.is_empty()
        && b.name.len() <= 64
        && b.name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.@".contains(ch));
    if !name_ok {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            format!("{:?} is not a valid user name", b.name),
            Some("1–64 letters, digits, - _ . @"),
        ));
    }
    let store = s.engine.store();
    if store.users().await.map_err(EngineError::from)?.iter().any(|u| u.name == b.name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("user {} exists", b.name),
            None,
        ));
    }
    let user = UserRow {
        id: format!("usr_{}", uuid::Uuid::now_v7().simple()),
        name: b.name,
        is_admin: b.admin,
        created_at: now_ms(),
        spend_cap_micros: None,
    };
    store.user_insert(&user).await.map_err(EngineError::from)?;
    let token = crate::users::issue_token(store, &user.id, "first token")
        .await
        .map_err(EngineError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken { id: token.0, token: token.1, user: user_view(&user) }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserUpdate {
    /// Cap on the user's hosted spend, USD (`null`: no cap).
    spend_cap_usd: Option<f64>,
}

/// Sets a user's hosted spend cap (admin). Running jobs keep the budgets they got; new hosted
/// jobs get at most what is left of the cap.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "user id")), request_body = UserUpdate, responses((status = 200, body = UserView), (status = 403, description = "not an admin", body = ErrorBody), (status = 404, description = "no such user", body = ErrorBody), (status = 422, description = "not a positive amount", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn update_user(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Body(b): Body<UserUpdate>,
) -> R<Json<UserView>> {
    admin_only(&c)?;
    if let Some(v) = b.spend_cap_usd {
        if !(v.is_finite() && (0.0..=core_domain::limits::USD).contains(&v)) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_amount",
                format!(
                    "spend_cap_usd must be an amount between 0 and {} USD, got {v}",
                    core_domain::limits::USD
                ),
                Some("null removes the cap"),
            ));
        }
    }
    let store = s.engine.store();
    if !store
        .user_set_spend_cap(&id, b.spend_cap_usd.map(|v| Money::from_usd(v).0))
        .await
        .map_err(EngineError::from)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("user {id} not found"),
            Some("GET /api/v1/users lists them"),
        ));
    }
    let user = store.user_get(&id).await.map_err(EngineError::from)?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("user {id} not found"), None)
    })?;
    Ok(Json(user_view(&user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenBody {
    #[serde(default)]
    label: Option<String>,
}

/// Creates an API token for the caller, shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenBody, responses((status = 201, body = NewToken), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn create_token(
    State(s): S,
    Extension(c): C,
    Body(b): Body<NewTokenBody>,
) -> R<(StatusCode, Json<NewToken>)> {
    let label = b.label.unwrap_or_else(|| "token".into()).chars().take(100).collect::<String>();
    let (id, token) = crate::users::issue_token(s.engine.store(), &c.0.id, &label)
        .await
        .map_err(EngineError::from)?;
    Ok((StatusCode::CREATED, Json(NewToken { id, token, user: user_view(&c.0) })))
}

/// The caller's tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenView>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn list_tokens(State(s): S, Extension(c): C) -> R<Json<Vec<TokenView>>> {
    let rows = s.engine.store().tokens_of(&c.0.id).await.map_err(EngineError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|t| TokenView { id: t.id, label: t.label, created_at: t.created_at })
            .collect(),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path, description = "token id")), responses((status = 204, description = "revoked"), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn delete_token(State(s): S, Extension(c): C, Path(id): Path<String>) -> R<StatusCode> {
    if s.engine.store().token_delete(&c.0.id, &id).await.map_err(EngineError::from)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("token {id} not found"),
            Some("GET /api/v1/tokens lists yours"),
        ))
    }
}

/// Most points in one `POST /metrics`.
const METRICS_BATCH: usize = 10_000;

/// `POST /api/v1/jobs/{id}/metrics` with the job's bearer token: one point (an object) or a
/// batch (an array of objects).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/metrics", tag = "jobs", params(("id" = String, Path, description = "job id")), request_body(content = Object, description = "a point (object) or an array of points; fields in docs/job-spec.md"), security(("job_token" = [])), responses((status = 202, description = "`{accepted: n}`", body = Object), (status = 400, description = "malformed JSON (with line and column)", body = ErrorBody), (status = 401, description = "not this job's token", body = ErrorBody), (status = 413, description = "too many points", body = ErrorBody), (status = 422, description = "a field of a point is wrong (named)", body = ErrorBody)))]
async fn report_metrics(
    State(s): S,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Body(body): Body<serde_json::Value>,
) -> R<(StatusCode, Json<serde_json::Value>)> {
    let token = bearer(&headers);
    let points = match body {
        serde_json::Value::Array(a) => a,
        p @ serde_json::Value::Object(_) => vec![p],
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_metrics",
                "send a point (a JSON object) or an array of points",
                None,
            ));
        }
    };
    if let Some(i) = points.iter().position(|p| !p.is_object()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_metrics",
            format!("point {i} is not a JSON object"),
            None,
        ));
    }
    if points.len() > METRICS_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_points",
            format!("{} points in one request; at most {METRICS_BATCH}", points.len()),
            Some("split the batch"),
        ));
    }
    let n = s.engine.report_metrics(&id, token, &points).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "accepted": n }))))
}

/// A job's metric points, oldest first.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/metrics", tag = "jobs", params(("id" = String, Path, description = "job id"), After), responses((status = 200, description = "`[{id, at, point}]`", body = Vec<Object>), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
async fn list_metrics(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Query(q): Query<After>,
) -> R<Json<Vec<serde_json::Value>>> {
    owned_job(&s, &id, &c.0.id).await?;
    let rows =
        s.engine.store().metrics_since(&id, q.after, 10_000).await.map_err(EngineError::from)?;
    Ok(Json(rows.iter().map(|r| serde_json::json!({"id": r.id, "at": r.at, "point": serde_json::from_str::<serde_json::Value>(&r.data).unwrap_or_default()})).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct GpuQuery {
    min_vram_gb: Option<i64>,
    count: Option<i64>,
    cloud: Option<String>,
    max_price_per_hour: Option<f64>,
}

/// GPU offers that fit, ranked as the engine ranks them, with live prices and stock.
#[utoipa::path(get, path = "/api/v1/gpus", tag = "gpus", params(GpuQuery), responses((status = 200, body = Vec<GpuRow>), (status = 422, description = "a query value is out of range (named)", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
async fn gpus(State(s): S, Extension(c): C, Query(q): Query<GpuQuery>) -> R<Json<Vec<GpuRow>>> {
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
async fn cost(State(s): S, Extension(c): C) -> R<Json<CostReport>> {
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
fn day_string(days: i64) -> String {
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

#[cfg(test)]
mod tests {
    #[test]
    fn day_strings() {
        assert_eq!(super::day_string(0), "1970-01-01");
        assert_eq!(super::day_string(20_454), "2026-01-01");
    }
}
