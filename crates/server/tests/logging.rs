//! An error response's cause reaches the server's log once, with the request it answered, and
//! never the response (errors are logged from a response extension, not while converting).

use podwarden_test_utils::server as common;

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_request_is_logged_once_with_its_cause() {
    use sqlx::Connection;
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .init();
    let home = tempfile::tempdir().expect("home");
    // SQLite on either run: another process locks the file.
    let s = common::server_with(home.path(), |c| c.database = None).await;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(home.path().join("podwarden.db"));
    let mut other = sqlx::SqliteConnection::connect_with(&opts).await.expect("connect");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.expect("lock");
    let spec = serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "true", "gpu": {"min_vram_gb": 16}});
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 503);
    let body = r.text().await.expect("body");
    sqlx::query("ROLLBACK").execute(&mut other).await.expect("unlock");
    s.shutdown().await;
    let text =
        String::from_utf8_lossy(&log.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            .into_owned();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request failed") && l.contains("/api/v1/jobs"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("status=503") && lines[0].to_lowercase().contains("lock"),
        "the cause is in the log: {}",
        lines[0]
    );
    assert!(
        !body.to_lowercase().contains("sqlx") && !body.contains("Database("),
        "the cause is not in the response: {body}"
    );
}
