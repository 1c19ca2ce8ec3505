//! What an adversarial user or a broken disk does to the server: oversized fields, amounts that
//! would overflow the ledger, a database locked by someone else or damaged, and the database's
//! file mode.

mod common;

use common::server;
use server::api::ErrorBody;

fn job(extra: serde_json::Value) -> serde_json::Value {
    let mut j = serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "true", "gpu": {"min_vram_gb": 16}});
    if let (Some(o), Some(e)) = (j.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    j
}

#[tokio::test]
async fn oversized_fields_and_amounts_are_refused_by_name_and_nothing_overflows() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(&s.token).json(&body).send();
    let huge = "x".repeat(1_000_000);
    let cases = [
        (job(serde_json::json!({"limits": {"budget_usd": 1e13}})), "limits.budget_usd"),
        (job(serde_json::json!({"command": format!("echo {huge}")})), "command"),
        (job(serde_json::json!({"image": huge})), "image"),
        (job(serde_json::json!({"env": {"BIG": huge}})), "env.BIG"),
        (job(serde_json::json!({"data_centers": [huge]})), "data_centers[0]"),
        (job(serde_json::json!({"name": huge})), "name"),
        (job(serde_json::json!({"gpu": {"min_vram_gb": 16, "max_price_per_hour": 1e300}})), "gpu.max_price_per_hour"),
    ];
    // A wrong type: serde names the value it got, cut short.
    let r = post(job(serde_json::json!({"disk_gb": huge}))).await.expect("post");
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.expect("body").len() < 1000);
    for (body, field) in cases {
        let r = post(body).await.expect("post");
        assert_eq!(r.status().as_u16(), 422, "{field}");
        let e: ErrorBody = r.json().await.expect("json");
        assert!(e.message.contains(&format!("`{field}`")), "{field}: {}", e.message);
        assert!(e.message.len() < 500, "the error does not echo the field back: {} bytes", e.message.len());
    }
    // The largest amounts allowed, twice: the sums stay exact and nothing answers 500.
    for _ in 0..2 {
        let r = post(job(serde_json::json!({"command": "sleep 300", "limits": {"budget_usd": 1_000_000.0}}))).await.expect("post");
        assert_eq!(r.status().as_u16(), 201);
    }
    let r = http.get(format!("{}/api/v1/settings/runpod-key", s.url)).bearer_auth(&s.token).send().await.expect("settings");
    assert_eq!(r.status().as_u16(), 200);
    let cap = http
        .patch(format!("{}/api/v1/users/{}", s.url, server::users::ADMIN_ID))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"spend_cap_usd": 1e13}))
        .send()
        .await
        .expect("cap");
    assert_eq!(cap.status().as_u16(), 422);
    s.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("home");
    let db = home.path().join("podwarden.db");
    // An existing, world-readable file is made private too.
    std::fs::write(&db, b"").expect("touch");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let s = server(home.path()).await;
    for f in ["podwarden.db", "podwarden.db-wal"] {
        let mode = std::fs::metadata(home.path().join(f)).expect(f).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}: {mode:o}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn a_damaged_database_says_so_at_start() {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("podwarden.db"), vec![0x5a; 8192]).expect("garbage");
    let mut cfg = server::ServerConfig::new(home.path().to_path_buf(), "127.0.0.1:0".parse().expect("addr"));
    cfg.tick = std::time::Duration::from_millis(100);
    let e = server::start(cfg).await.expect_err("refused");
    let text = format!("{e:#}");
    assert!(text.contains("not a readable SQLite database") && text.contains("backup"), "{text}");
    assert!(!text.contains("port"), "{text}");
}

/// Another process holding the write lock: the request answers 503 (retry) within the busy
/// timeout instead of hanging, and nothing is half-written.
#[tokio::test]
async fn a_locked_database_answers_busy_not_internal() {
    use sqlx::Connection;
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(home.path().join("podwarden.db"));
    let mut other = sqlx::SqliteConnection::connect_with(&opts).await.expect("connect");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.expect("lock");
    let r = http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(&s.token).json(&job(serde_json::json!({}))).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 503);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, "database_busy");
    sqlx::query("ROLLBACK").execute(&mut other).await.expect("unlock");
    let r = http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(&s.token).json(&job(serde_json::json!({}))).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 201, "works again once the lock is gone");
    s.shutdown().await;
}

/// A response carrying a token (shown once) is never cached; nor is any other API answer.
#[tokio::test]
async fn api_answers_are_not_cached() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/users", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "zoe"}))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let r = http.get(format!("{}/api/v1/jobs", s.url)).send().await.expect("unauthorized");
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "errors too");
    s.shutdown().await;
}
