//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations and the API's
//! types (utoipa). Checked in as `docs/openapi.json`; a test fails when the file is stale
//! (`UPDATE_OPENAPI=1 cargo test -p podwarden-server --test openapi` rewrites it), and the
//! server serves it at `/api/v1/openapi.json`.

use crate::api::*;
use crate::routes::{self, Exit, KeyBody, NewTokenBody, NewUser, UserUpdate};
use core_domain::spec::JobSpec;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "podwarden", description = "podwarden's control plane: GPU jobs on RunPod with budgets, deadlines and teardown that always happens. Every route takes `Authorization: Bearer <API token>` except the pod callbacks (`/exit`, `POST /metrics`), which take the job's own token. Errors are `{code, message, hint?}`."),
    paths(
        routes::status,
        routes::create_job, routes::list_jobs, routes::get_job, routes::stop_job, routes::events, routes::logs,
        routes::list_metrics, routes::report_metrics, routes::report_exit,
        routes::gpus,
        routes::deploy_endpoint, routes::list_endpoints, routes::get_endpoint, routes::remove_endpoint,
        routes::create_request, routes::list_requests, routes::get_request, routes::stop_request,
        routes::cost,
        crate::volumes::create_volume, crate::volumes::list_volumes, crate::volumes::remove_volume, crate::volumes::volume_s3,
        crate::volumes::report_transfer, crate::volumes::audit_log, crate::volume_files::get_file, crate::volume_files::head_file, crate::volume_files::put_file,
        routes::me, routes::get_key, routes::save_key, routes::delete_key,
        routes::list_users, routes::create_user, routes::update_user, routes::create_token, routes::list_tokens, routes::delete_token,
    ),
    components(schemas(JobSpec, ErrorBody, Exit, KeyBody, NewUser, NewTokenBody, UserUpdate)),
    modifiers(&Security),
    security(("api_token" = [])),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("a user's API token")).build()),
        );
        c.add_security_scheme(
            "job_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the job's own token (PODWARDEN_JOB_TOKEN in the pod)"))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.to_pretty_json().unwrap_or_default() + "\n"
}
