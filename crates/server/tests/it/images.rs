//! On RunPod an image that cannot be pulled bills until the boot timeout, so the server asks
//! the image's registry first and refuses a job or endpoint naming one that does not exist or
//! is private (unless it brings a registry credential), saying what to do.

use podwarden_test_utils::server as common;

use axum::http::StatusCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A registry on this machine that has `acme/present:1` and nothing else; counts its asks.
async fn registry() -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let n = asked.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let n = n.clone();
        async move {
            n.fetch_add(1, Ordering::SeqCst);
            if uri.path() == "/v2/acme/present/manifests/1" {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            }
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr.to_string(), asked)
}

#[tokio::test]
async fn an_image_its_registry_does_not_have_is_refused_before_runpod_pulls_it() {
    let (reg, asked) = registry().await;
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| {
        c.image_checks = Some(true);
        c.image_checks_local = true;
    })
    .await;
    let http = reqwest::Client::new();
    let submit = |image: String, auth: bool| {
        let mut spec = serde_json::json!({"name": "x", "image": image, "command": "true", "gpu": {"min_vram_gb": 16}});
        if auth {
            spec["registry_auth"] = "cred".into();
        }
        http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(&s.token).json(&spec).send()
    };
    let r = submit(format!("{reg}/acme/missing:1"), false).await.expect("post");
    assert_eq!(r.status().as_u16(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "image_unavailable", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("does not exist")), "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("registry_auth")), "{body}");
    let asks = asked.load(Ordering::SeqCst);
    let r = submit(format!("{reg}/acme/missing:1"), false).await.expect("post");
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(asked.load(Ordering::SeqCst), asks, "the verdict is remembered");

    // A private image with the job's own credential: only RunPod can tell.
    let r = submit(format!("{reg}/acme/missing:1"), true).await.expect("post");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    let r = submit(format!("{reg}/acme/present:1"), false).await.expect("post");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());

    let r = http
        .post(format!("{}/api/v1/endpoints", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "ep", "image": format!("{reg}/acme/gone:2"), "command": "x"}))
        .send()
        .await
        .expect("deploy");
    assert_eq!(r.status().as_u16(), 422, "endpoints too");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "image_unavailable", "{body}");
    s.shutdown().await;
}

/// Without leave for local registries, an image on this machine's or a private network's
/// address is not asked about (a user must not probe the server's network through the check):
/// nothing is refused and the registry never hears of it.
#[tokio::test]
async fn the_image_check_never_asks_a_registry_on_a_private_address() {
    let (reg, asked) = registry().await;
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| c.image_checks = Some(true)).await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "x", "image": format!("{reg}/acme/missing:1"), "command": "true", "gpu": {"min_vram_gb": 16}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    assert_eq!(asked.load(Ordering::SeqCst), 0, "the server probed {reg}");
    s.shutdown().await;
}
