//! `docs/openapi.json` is what the code generates (CI fails when it is stale), and it describes
//! every route the server answers.
//! `UPDATE_OPENAPI=1 cargo test -p podwarden-server --test openapi` rewrites it.

use std::path::PathBuf;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_checked_in_document_is_current() {
    let generated = podwarden_server::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(checked_in(), &generated).expect("write docs/openapi.json");
    }
    let file = std::fs::read_to_string(checked_in()).unwrap_or_default();
    assert!(
        file == generated,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p podwarden-server --test openapi` and commit it"
    );
}

#[test]
fn the_document_covers_the_api() {
    let doc: serde_json::Value =
        serde_json::from_str(&podwarden_server::openapi::document()).expect("json");
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/jobs", "post"),
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs/{id}", "get"),
        ("/api/v1/jobs/{id}/stop", "post"),
        ("/api/v1/jobs/{id}/events", "get"),
        ("/api/v1/jobs/{id}/metrics", "post"),
        ("/api/v1/endpoints", "post"),
        ("/api/v1/gpus", "get"),
        ("/api/v1/cost", "get"),
        ("/api/v1/settings/runpod-key", "post"),
        ("/api/v1/users", "post"),
        ("/api/v1/tokens/{id}", "delete"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // The job spec's schema comes from the Rust type, durations as strings.
    let spec = &doc["components"]["schemas"]["JobSpec"];
    assert!(
        spec["properties"]["finetune"].is_object() && spec["properties"]["early_stop"].is_object(),
        "{spec}"
    );
    assert_eq!(
        doc["components"]["schemas"]["Limits"]["properties"]["boot_timeout"]["type"],
        "string"
    );
    assert!(doc["components"]["securitySchemes"]["job_token"].is_object());
}
