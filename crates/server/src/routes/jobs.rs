//! Pod jobs: submit (placed on the caller's account, admitted against their spend cap), list,
//! read, stop; the pods' exit and metric callbacks (authenticated by the job's token).

use super::*;
use crate::AppState;
use crate::accounts::engine_for;
use crate::api::{AttemptView, ErrorBody, JobDetail, JobSummary};
use crate::extract::{Body, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{AttemptState, JobState};
use podwarden_core::{JobId, Money};
use podwarden_engine::EngineError;
use podwarden_store::{AttemptRow, JobRow};
use serde::Deserialize;

/// Jobs listed by `GET /api/v1/jobs` (newest first).
pub(crate) const LIST_LIMIT: i64 = 10_000;

/// A job as lists show it, its spend projected to `now` (the engine's clock).
pub(crate) fn summary(j: &JobRow, attempts: &[AttemptRow], now: i64) -> JobSummary {
    let current = attempts.iter().rev().find(|a| a.state != AttemptState::Abandoned);
    JobSummary {
        id: j.id.to_string(),
        name: j.name.clone(),
        state: j.state,
        ending: j.phase().ok().and_then(|p| p.outcome).map(|o| o.final_state()),
        reason: j.reason.clone(),
        gpu: current.map(|a| format!("{}× {}", a.gpu_count, a.gpu_type)),
        created_at: j.created_at,
        started_at: j.started_at,
        // Spend includes what running pods ran up since their last ledger write.
        spent_usd: j.projected_spend(&attempts.iter().collect::<Vec<_>>(), now).usd(),
        budget_usd: j.budget.map(Money::usd),
        attempts_made: j.attempts_made,
        exit_code: j.exit_code,
        ended_at: j.phase().is_ok_and(|p| p.state.is_final()).then_some(j.updated_at),
        backend: j.account.backend().into(),
        kind: JobSpec::kind_of_json(&j.spec).into(),
        queued_since: j.queued_at.filter(|_| j.state == podwarden_core::state::JobState::Queued),
    }
}

pub(crate) fn attempt_view(a: &AttemptRow) -> AttemptView {
    AttemptView {
        id: a.id.to_string(),
        state: a.state,
        pod_name: a.pod_name.clone(),
        pod_id: a.pod_id.clone(),
        gpu_type: a.gpu_type.clone(),
        gpu_count: a.gpu_count,
        cloud: a.cloud.clone(),
        price_per_hour_usd: a.price_per_hour.usd(),
        cost_usd: a.cost.usd(),
        reason: a.reason.clone(),
        node: a.node,
    }
}

/// Submits a job (a job spec, see docs/job-spec.md).
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = JobSpec, responses((status = 404, description = "the spec names a network volume that is neither one of yours nor on the account", body = ErrorBody), (status = 201, body = JobDetail), (status = 402, description = "the hosted spend cap has too little left (spent or reserved)", body = ErrorBody), (status = 409, description = "the spec's provider has no account here: this server has no AWS account (`no_provider`) or no operator key (`no_operator_key`)", body = ErrorBody), (status = 400, description = "malformed JSON (with line and column)", body = ErrorBody), (status = 422, description = "invalid spec: the field, the problem, a hint", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn create_job(
    State(s): S,
    Extension(c): C,
    Body(v): Body<serde_json::Value>,
) -> R<(StatusCode, Json<JobDetail>)> {
    let mut spec = JobSpec::from_json(v).map_err(|e| spec_error(ErrorCode::InvalidSpec, &e))?;
    if spec.ssh.as_ref().is_some_and(|k| k.public_keys.is_empty()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidSpec,
            "`ssh.public_keys`: empty; the server cannot read your ~/.ssh, so a job with `ssh` sends the keys that may log in",
            Some(
                "send ssh = {\"public_keys\": [\"ssh-ed25519 AAAA… you@laptop\"]} (podwarden run fills in ~/.ssh/id_ed25519.pub)",
            ),
        ));
    }
    let account = first_account(&s, &c.0.id, &mut spec).await?;
    crate::volumes::no_account_secrets(&c.0, &account, &spec.env)?;
    let auth = spec.registry_auth.clone();
    crate::volumes::resolve(&s, &c.0, &account, &mut spec.network_volume, auth.as_deref()).await?;
    spec.image = pullable_image(&s, &spec.image, spec.registry_auth.is_some()).await?;
    // Hosted work is admitted against the owner's spend cap in the insert's own transaction
    // (podwarden_store::spend); a user's own key is theirs to spend.
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

/// The account a new job goes to: its `provider`'s (else the server's default's), or with
/// `providers` the first of them this server has an account for, written into the spec as
/// where it runs now (a queued job may move on to the next, `podwarden_control::rehome`).
pub(crate) async fn first_account(
    s: &AppState,
    user: &str,
    spec: &mut JobSpec,
) -> R<podwarden_core::Account> {
    let mut unusable = None;
    for p in spec.providers.clone() {
        let account = user_account(s, user, p).await?;
        match crate::accounts::engine_for(s, &account).await {
            Ok(_) => {
                spec.provider = Some(p);
                return Ok(account);
            }
            Err(e) => {
                unusable.get_or_insert(e);
            }
        }
    }
    if let Some(e) = unusable {
        return Err(account_error(e));
    }
    let provider = provider_of(s, spec)?;
    user_account(s, user, provider).await
}

/// Where a spec runs: its `provider`, else the server's default, which is then written into
/// the spec and checked against it (an AWS job has AWS's rules whichever way it got there).
pub(crate) fn provider_of(s: &AppState, spec: &mut JobSpec) -> R<podwarden_core::ProviderKind> {
    if spec.provider.is_none() && s.default_provider != podwarden_core::ProviderKind::RunPod {
        spec.provider = Some(s.default_provider);
        spec.validate().map_err(|e| spec_error(ErrorCode::InvalidSpec, &e))?;
    }
    Ok(spec.provider.unwrap_or(s.default_provider))
}

/// Sets the endpoint's `user_field` in the job's input to the caller (whatever they sent).
pub(crate) async fn stamp_user(
    s: &AppState,
    user: &str,
    spec: &mut podwarden_core::serverless_job::ServerlessJobSpec,
) -> R<()> {
    let store = s.engine.store();
    let row = match store.endpoint_by_name(user, &spec.endpoint).await.map_err(EngineError::from)? {
        Some(r) => Some(r),
        None => store.endpoint_published(&spec.endpoint).await.map_err(EngineError::from)?,
    };
    let field = row
        .and_then(|r| serde_json::from_str::<podwarden_core::endpoint::EndpointSpec>(&r.spec).ok())
        .and_then(|e| e.user_field);
    if let (Some(f), Some(obj)) = (field, spec.input.as_object_mut()) {
        obj.insert(f, serde_json::Value::String(user.to_owned()));
    }
    Ok(())
}

/// A spec's `@alias` image as configured (`podwarden_core::images`).
/// The image a spec names, its alias resolved, refused when its registry says RunPod could not
/// pull it (`image_checks`; a spec with `registry_auth` brings its own credential).
pub(crate) async fn pullable_image(s: &AppState, image: &str, has_credential: bool) -> R<String> {
    let image = podwarden_core::images::resolve_env(image).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidSpec,
            format!("`image`: {e}"),
            Some("use a registry path, or an alias podwarden knows"),
        )
    })?;
    if let Some(why) = s.images.missing(&image, has_credential).await {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ImageUnavailable,
            format!("`image`: {why}"),
            Some(
                "push the image (a new GitHub package is private: make it public), fix the tag, or give the spec `registry_auth` for a private image",
            ),
        ));
    }
    Ok(image)
}

/// A job id from a path: one that does not parse is no job's ("not found", as an unknown one).
pub(crate) fn job_id(id: &str) -> R<JobId> {
    Ok(id.parse().map_err(|_| EngineError::NoSuchJob(id.into()))?)
}

/// The caller's job (another user's is "not found": no existence leak).
pub(crate) async fn owned_job(s: &AppState, id: &str, owner: &str) -> R<JobRow> {
    Ok(s.engine
        .store()
        .job_get(job_id(id)?)
        .await
        .map_err(EngineError::from)?
        .filter(|j| j.owner == owner)
        .ok_or_else(|| EngineError::NoSuchJob(id.into()))?)
}

/// The caller's job in detail.
pub(crate) async fn job_detail(s: &AppState, id: &str, owner: &str) -> R<JobDetail> {
    let store = s.engine.store();
    let j = owned_job(s, id, owner).await?;
    let attempts = store.attempts_for_job(j.id).await.map_err(EngineError::from)?;
    let spec = j.spec().ok();
    // Pods that ended without ever booting: made, billed, never ran the command.
    let duds: Vec<&AttemptRow> = attempts
        .iter()
        .filter(|a| a.pod_id.is_some() && a.booted_at.is_none() && a.ended_at.is_some())
        .collect();
    let duds = crate::api::DudLoss {
        pods: duds.len() as i64,
        secs: duds.iter().map(|a| a.ended_at.unwrap_or(a.created_at) - a.created_at).sum::<i64>()
            as f64
            / 1000.0,
        cost_usd: duds.iter().map(|a| a.cost).sum::<Money>().usd(),
    };
    Ok(JobDetail {
        duds,
        job: summary(&j, &attempts, s.engine.now_ms()),
        attempts: attempts.iter().map(attempt_view).collect(),
        simulated: s.simulated,
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
pub(crate) struct ListQuery {
    /// Most recent jobs to return (default 50, at most 10 000).
    pub(crate) limit: Option<i64>,
}

/// The caller's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(ListQuery), responses((status = 200, body = Vec<JobSummary>), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn list_jobs(
    State(s): S,
    Extension(c): C,
    Query(q): Query<ListQuery>,
) -> R<Json<Vec<JobSummary>>> {
    let limit = q.limit.unwrap_or(50).clamp(1, LIST_LIMIT);
    let store = s.engine.store();
    let mut by_job: std::collections::HashMap<JobId, Vec<AttemptRow>> =
        std::collections::HashMap::new();
    for a in store.attempts_for_recent_jobs_of(&c.0.id, limit).await.map_err(EngineError::from)? {
        by_job.entry(a.job_id).or_default().push(a);
    }
    let jobs = store.job_list_of(&c.0.id, limit).await.map_err(EngineError::from)?;
    let now = s.engine.now_ms();
    Ok(Json(
        jobs.iter()
            .map(|j| summary(j, by_job.get(&j.id).map_or(&[][..], Vec::as_slice), now))
            .collect(),
    ))
}

/// A job with its attempts.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "job id")), responses((status = 200, body = JobDetail), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn get_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<Json<JobDetail>> {
    Ok(Json(job_detail(&s, &id, &c.0.id).await?))
}

/// Stops a job: it tears down and settles as cancelled.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/stop", tag = "jobs", params(("id" = String, Path, description = "job id")), responses((status = 202, body = JobDetail), (status = 409, description = "already ending", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn stop_job(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
) -> R<(StatusCode, Json<JobDetail>)> {
    let j = owned_job(&s, &id, &c.0.id).await?;
    s.engine.cancel(j.id).await?;
    crate::driving::poke_job(&s, j.id);
    Ok((StatusCode::ACCEPTED, Json(job_detail(&s, &id, &c.0.id).await?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SshQuery {
    /// Which pod of the job (default 0).
    #[serde(default)]
    node: u32,
}

/// How to reach the job's pod over SSH: its host, port and user, once it has booted and the
/// provider has mapped its `22/tcp`. `409 not_ready` until then (the message says why; ask
/// again), `409 no_pod` for a job without `ssh` or one that has ended.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/ssh", tag = "jobs", params(("id" = String, Path, description = "job id"), SshQuery), responses((status = 200, body = crate::api::SshInfo), (status = 409, description = "no SSH to give: the job has no `ssh` or has ended (`no_pod`), or its pod is not booted yet (`not_ready`, ask again)", body = ErrorBody), (status = 422, description = "no such node: the job has fewer pods", body = ErrorBody), (status = 400, description = "malformed query (`node` not a number)", body = ErrorBody), (status = 502, description = "the provider did not answer", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn job_ssh(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Query(q): Query<SshQuery>,
) -> R<Json<crate::api::SshInfo>> {
    let j = owned_job(&s, &id, &c.0.id).await?;
    let conflict = |code: ErrorCode, message: String, hint: &str| {
        ApiError::new(StatusCode::CONFLICT, code, message, Some(hint))
    };
    let spec = j.spec().map_err(EngineError::from)?;
    if spec.ssh.is_none() {
        return Err(conflict(
            ErrorCode::NoPod,
            format!("job {id} was submitted without `ssh`"),
            "submit it with ssh = true (podwarden run --ssh)",
        ));
    }
    let phase = j.phase().map_err(EngineError::from)?;
    if phase.state.is_final() || phase.state == JobState::TearingDown {
        return Err(conflict(
            ErrorCode::NoPod,
            format!("job {id} has ended ({}); its pod is gone", phase.state.as_str()),
            "submit it again",
        ));
    }
    let node = check_node(&id, q.node, spec.nodes)?;
    let not_ready = |why: &str| {
        conflict(
            ErrorCode::NotReady,
            format!("the pod of job {id} is not reachable yet: {why}"),
            "ask again in a few seconds (podwarden ssh waits)",
        )
    };
    let pod = s
        .engine
        .store()
        .live()
        .attempts()
        .filter(|a| {
            a.job_id == j.id
                && a.node == i64::from(node)
                && matches!(a.state, AttemptState::Created | AttemptState::Running)
        })
        .find_map(|a| a.pod_id.clone());
    let Some(pod) = pod else {
        return Err(not_ready(j.reason.as_deref().unwrap_or("it has no pod yet")));
    };
    let engine = engine_for(&s, &j.account).await.map_err(account_error)?;
    let ports = podwarden_engine::provider::Provider::pod_ports(engine.provider(), &pod)
        .await
        .map_err(EngineError::from)?;
    let Some(ssh) = ports.into_iter().find(|p| p.private == 22) else {
        return Err(not_ready("it is booting (its 22/tcp has no public port yet)"));
    };
    Ok(Json(crate::api::SshInfo {
        job_id: id,
        node: q.node,
        pod_id: pod,
        command: format!("ssh -p {} root@{}", ssh.public, ssh.ip),
        host: ssh.ip,
        port: ssh.public,
        user: "root".into(),
    }))
}

/// `node` of a job of `nodes` pods, or 422 saying which exist.
pub(crate) fn check_node(id: &str, node: u32, nodes: u32) -> R<u32> {
    if node < nodes.max(1) {
        return Ok(node);
    }
    let (has, hint) = match nodes {
        0 | 1 => ("one pod".to_owned(), "leave `node` out, or use 0".to_owned()),
        n => (format!("{n} nodes"), format!("use a node from 0 to {}", n - 1)),
    };
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidQuery,
        format!("job {id} has {has}; node {node} does not exist"),
        Some(&hint),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Exit {
    exit_code: i64,
    /// The node that exited (`PODWARDEN_NODE_RANK`; 0 or absent for a single-node job).
    #[serde(default)]
    node: Option<i64>,
    /// The node's attempt (`PODWARDEN_ATTEMPT_ID`; empty or absent for a single-node job): an
    /// exit of an earlier launch's node is not counted for the current one.
    #[serde(default)]
    attempt: Option<String>,
}

/// The pod's wrapper reports the command's exit status (job token).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/exit", tag = "jobs", params(("id" = String, Path, description = "job id")), request_body = Exit, security(("job_token" = [])), responses((status = 204, description = "recorded"), (status = 401, description = "not this job's token", body = ErrorBody)))]
pub(crate) async fn report_exit(
    State(s): S,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Body(b): Body<Exit>,
) -> R<StatusCode> {
    let id = job_id(&id)?;
    // An attempt id that does not parse names no current node: it is ignored like a stale one.
    let attempt = b.attempt.filter(|a| !a.is_empty()).map(|a| a.parse().ok());
    s.engine.report_exit(id, bearer(&headers), b.exit_code, b.node, attempt).await?;
    crate::driving::poke_job(&s, id);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/jobs/{id}/metrics` with the job's bearer token: one point (an object) or a
/// batch (an array of objects).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/metrics", tag = "jobs", params(("id" = String, Path, description = "job id")), request_body(content = Object, description = "a point (object) or an array of points; fields in docs/job-spec.md"), security(("job_token" = [])), responses((status = 202, description = "`{accepted: n}`", body = Object), (status = 400, description = "malformed JSON (with line and column)", body = ErrorBody), (status = 401, description = "not this job's token", body = ErrorBody), (status = 413, description = "too many points", body = ErrorBody), (status = 422, description = "a field of a point is wrong (named)", body = ErrorBody)))]
pub(crate) async fn report_metrics(
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
                ErrorCode::InvalidMetrics,
                "send a point (a JSON object) or an array of points",
                None,
            ));
        }
    };
    if let Some(i) = points.iter().position(|p| !p.is_object()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidMetrics,
            format!("point {i} is not a JSON object"),
            None,
        ));
    }
    if points.len() > METRICS_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyPoints,
            format!("{} points in one request; at most {METRICS_BATCH}", points.len()),
            Some("split the batch"),
        ));
    }
    let n = s.engine.report_metrics(job_id(&id)?, token, &points).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "accepted": n }))))
}

/// A job's metric points, oldest first.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/metrics", tag = "jobs", params(("id" = String, Path, description = "job id"), After), responses((status = 200, description = "`[{id, at, point}]`", body = Vec<Object>), (status = 401, description = "missing or invalid token", body = ErrorBody), (status = 404, description = "not found (or another user's)", body = ErrorBody)))]
pub(crate) async fn list_metrics(
    State(s): S,
    Extension(c): C,
    Path(id): Path<String>,
    Query(q): Query<After>,
) -> R<Json<Vec<serde_json::Value>>> {
    let j = owned_job(&s, &id, &c.0.id).await?;
    let rows =
        s.engine.store().metrics_since(j.id, q.after, 10_000).await.map_err(EngineError::from)?;
    Ok(Json(rows.iter().map(|r| serde_json::json!({"id": r.id, "at": r.at, "point": serde_json::from_str::<serde_json::Value>(&r.data).unwrap_or_default()})).collect()))
}
