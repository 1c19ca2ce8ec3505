//! Notifications (issue 26): a user's job endings and budget alerts are POSTed to the webhook
//! they set, signed with HMAC-SHA256 under the secret they were shown, retried when the
//! receiver fails; a URL into the server's own network is refused.

use podwarden_test_utils::server as common;

use axum::http::{HeaderMap, StatusCode};
use common::{new_user, server_with};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// A receiver on this machine: answers 500 to its first request and 200 after, and hands each
/// request (signature, event header, body) to the test.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, String, Vec<u8>)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (tx, seen) = (tx.clone(), seen.clone());
            async move {
                let h = |k: &str| {
                    headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                };
                let _ =
                    tx.send((h("x-podwarden-signature"), h("x-podwarden-event"), body.to_vec()));
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, rx)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_finished_job_is_posted_signed_to_its_owners_webhook_and_retried() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.webhooks_local = true).await;
    let http = reqwest::Client::new();
    let ana = new_user(&http, &s.url, &s.token, "ana").await.token;
    let (hook, mut rx) = receiver().await;
    let set = |body: serde_json::Value| {
        http.put(format!("{}/api/v1/settings/webhook", s.url)).bearer_auth(&ana).json(&body).send()
    };
    let v: serde_json::Value =
        set(serde_json::json!({"url": hook})).await.expect("put").json().await.expect("json");
    let secret = v["secret"].as_str().expect("the secret, shown once").to_owned();
    let shown: serde_json::Value = http
        .get(format!("{}/api/v1/settings/webhook", s.url))
        .bearer_auth(&ana)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!((shown["url"].as_str(), shown.get("secret")), (Some(hook.as_str()), None));

    let spec = serde_json::json!({"name": "hello", "image": "python:3.11-slim", "command": "exit 0",
        "gpu": {"min_vram_gb": 16}, "limits": {"budget_usd": 1.0}});
    let job = common::submit(&http, &s.url, &ana, &spec).await;
    // The first try is refused (500); the retry is the same body, signed the same way.
    let mut got = Vec::new();
    while got.len() < 2 {
        let r = tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
            .await
            .expect("a delivery within a minute")
            .expect("the receiver runs");
        got.push(r);
    }
    assert_eq!(got[0], got[1], "the retry resends the same delivery");
    let (sig, kind, body) = &got[1];
    assert_eq!(kind, "job.succeeded");
    assert_eq!(sig, &format!("sha256={}", hmac_hex(&secret, body)), "signed with the shown secret");
    let v: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(v["job"], job.job.id.as_str());
    assert_eq!(v["type"], "job.succeeded");
    assert!(v["message"].as_str().is_some_and(|m| m.starts_with("succeeded")), "{v}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_webhook_into_the_servers_network_is_refused() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |_| {}).await;
    let http = reqwest::Client::new();
    for url in
        ["http://127.0.0.1:9/hook", "https://127.0.0.1/hook", "https://10.0.0.5/hook", "ftp://x"]
    {
        let r = http
            .put(format!("{}/api/v1/settings/webhook", s.url))
            .bearer_auth(&s.token)
            .json(&serde_json::json!({"url": url}))
            .send()
            .await
            .expect("put");
        assert_eq!(r.status().as_u16(), 422, "{url}");
        let e: serde_json::Value = r.json().await.expect("json");
        assert_eq!(e["code"], "bad_webhook", "{e}");
    }
    let v: serde_json::Value = http
        .get(format!("{}/api/v1/settings/webhook", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(v["url"].is_null(), "nothing was stored: {v}");
    s.shutdown().await;
}
