//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations and the API's
//! types (utoipa), with its paths taken from the router's list of routes (`routes::documented`,
//! utoipa-axum): no second list of paths to keep in step. Checked in as `docs/openapi.json`; a test fails when the file is stale
//! (`UPDATE_OPENAPI=1 cargo test -p podwarden-server --test it openapi` rewrites it), and the
//! server serves it at `/api/v1/openapi.json`.

use crate::api::*;
use crate::routes::{self, Exit, KeyBody, NewTokenBody, NewUser, UserUpdate};
use podwarden_core::spec::JobSpec;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "podwarden", description = "podwarden's control plane: GPU jobs on RunPod with budgets, deadlines and teardown that always happens. Every route takes `Authorization: Bearer <API token>` except the pod callbacks (`/exit`, `POST /metrics`), which take the job's own token. Errors are `{code, message, hint?}`."),
    components(schemas(JobSpec, ErrorBody, Exit, KeyBody, routes::WebhookBody, NewUser, NewTokenBody, UserUpdate)),
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
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a user's API token"))
                    .build(),
            ),
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

/// Answers any route may give, documented on every operation they apply to (so a client and a
/// contract test see every status the server can return): the failed-login limit (429) on
/// routes taking an API token, a busy database or memory budget (503), and on routes with a
/// body or a query the ways those can be wrong (400, 413, 422).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |what: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(what)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in &mut doc.paths.paths {
            let job_callback = path.ends_with("/exit") || path.ends_with("/metrics");
            for (method, op) in [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
                ("head", &mut item.head),
            ] {
                let Some(op) = op.as_mut() else { continue };
                let job_token = job_callback && method == "post";
                let mut add = |status: &str, what: &str| {
                    op.responses.responses.entry(status.to_owned()).or_insert_with(|| error(what));
                };
                if !job_token {
                    add(
                        "429",
                        "too many wrong tokens from this client (a valid token is never refused), or RunPod's request budget for the account is spent (`provider_rate_limited`); wait `Retry-After` seconds",
                    );
                    add(
                        "502",
                        "RunPod failed or could not be reached (`provider_error`); nothing was changed, retry",
                    );
                }
                add(
                    "503",
                    "the database is locked by another process, or the server's memory for large bodies is in use; retry after `Retry-After`",
                );
                if job_token {
                    add("404", "no such job");
                }
                if op.request_body.is_some() {
                    add(
                        "400",
                        "malformed JSON (with line and column), or a body that could not be read",
                    );
                    add(
                        "413",
                        "the body is over the route's size limit, or has more than 1,000,000 JSON values",
                    );
                    add(
                        "422",
                        "the body does not fit the schema (the field is named), or nests more than 64 levels",
                    );
                }
                let has_query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter().any(|p| {
                        matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)
                    })
                });
                if has_query {
                    add("400", "a query parameter is malformed (named in the message)");
                }
            }
        }
    }
}

/// The document as pretty JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    // The paths come from the router's own list; the answers every route may give are added
    // to each of them after.
    doc.merge(routes::documented());
    CommonResponses.modify(&mut doc);
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.to_pretty_json().unwrap_or_default() + "\n"
}
