//! The client's typed errors against the emulator's faults: every kind, the body kept, retries
//! only where safe, and the key never printed.

use podwarden_test_utils::emulator as common;

use common::{assert_contract, emu};
use runpod::types::pods::{CreateGpuConfig, CreatePodRequest, PodAction};
use runpod::{ApiKey, Client, ErrorKind, GpuTypeId, PodId, RetryPolicy};
use runpod_emulator::{FaultConfig, HttpFault};
use std::time::Duration;

fn pod(name: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: Some("img".into()),
        gpu: Some(CreateGpuConfig {
            id: GpuTypeId::new("NVIDIA RTX A4000"),
            count: None,
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    }
}

fn fault(route: &str, status: u16, times: u32) -> HttpFault {
    HttpFault {
        route: route.into(),
        status: Some(status),
        probability: 1.0,
        times: Some(times),
        retry_after: Some(0),
        latency_ms: 0,
        lose_response: false,
    }
}

fn count(emu: &runpod_emulator::RunningEmulator, method: &str, route: &str) -> usize {
    emu.recorded().iter().filter(|x| x.method == method && x.route == route).count()
}

#[tokio::test]
async fn every_error_kind_is_typed_and_keeps_the_body() {
    let emu = emu().await;
    let c = emu.client();

    let wrong = Client::builder()
        .api_key(ApiKey::new("rpa_WRONGWRONGWRONG"))
        .rest_url(emu.base_url())
        .build()
        .expect("client");
    let e = wrong.list_pods().await.expect_err("bad key");
    assert_eq!(
        (e.kind(), e.status(), e.detail()),
        (ErrorKind::Unauthorized, Some(401), Some("invalid bearer token"))
    );
    assert!(e.body().is_some_and(|b| b.starts_with(b"{")));

    assert_eq!(
        c.get_pod(&PodId::new("nope")).await.expect_err("missing").kind(),
        ErrorKind::NotFound
    );

    let mut invalid = pod("");
    invalid.disk = Some(0);
    let e = c.create_pod(&invalid).await.expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(
        e.validation_errors(),
        ["$.name: length must be >= 1, but got 0", "$.disk: must be >= 1 but found 0"]
    );
    assert_eq!(e.detail(), Some("Request validation failed."));

    let p = c.create_pod(&pod("conflict")).await.expect("create");
    c.pod_action(&p.id, PodAction::Stop).await.expect("stop");
    assert_eq!(
        c.pod_action(&p.id, PodAction::Stop).await.expect_err("already stopped").kind(),
        ErrorKind::Conflict
    );

    emu.set_faults(FaultConfig {
        http: vec![fault("GET /v2/pods/{id}", 500, 1)],
        ..FaultConfig::default()
    });
    let e = c.get_pod(&p.id).await.expect_err("500");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Server, 1), "500 is not retried");

    emu.set_faults(FaultConfig {
        http: vec![fault("GET /v2/pods", 429, 100)],
        ..FaultConfig::default()
    });
    let e = c.list_pods().await.expect_err("storm outlasts the retries");
    assert_eq!(
        (e.kind(), e.attempts(), e.retry_after()),
        (ErrorKind::RateLimited, 4, Some(Duration::ZERO))
    );
    assert!(e.to_string().contains("rate limit exceeded for the minute window"), "{e}");
    emu.set_faults(FaultConfig::default());

    // A lost create response: the pod exists, the caller must look it up by name.
    emu.set_faults(FaultConfig {
        http: vec![HttpFault { lose_response: true, status: None, ..fault("POST /v2/pods", 0, 1) }],
        ..FaultConfig::default()
    });
    let e = c.create_pod(&pod("maybe")).await.expect_err("lost response");
    assert_eq!((e.kind(), e.status(), e.attempts()), (ErrorKind::MaybeCreated, Some(502), 1));
    assert_eq!(c.list_pods().await.expect("list").iter().filter(|p| p.name == "maybe").count(), 1);

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let quick = RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        ..RetryPolicy::default()
    };
    let t = Client::builder()
        .api_key(ApiKey::new("k"))
        .rest_url(dead)
        .retry(quick)
        .build()
        .expect("client");
    let e = t.create_pod(&pod("x")).await.expect_err("connection refused");
    assert_eq!(
        (e.kind(), e.attempts()),
        (ErrorKind::Transport, 3),
        "a request that never left is safe to resend, even a create"
    );

    use axum::{Router, routing::get};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            l,
            Router::new().route("/v2/pods", get(|| async { "<html>maintenance</html>" })),
        )
        .await
        .ok()
    });
    let h = Client::builder()
        .api_key(ApiKey::new("k"))
        .rest_url(format!("http://{addr}"))
        .build()
        .expect("client");
    let e = h.list_pods().await.expect_err("html");
    assert_eq!(e.kind(), ErrorKind::Undecodable);
    assert_eq!(e.body(), Some(&b"<html>maintenance</html>"[..]));
    assert_contract(&emu);
}

#[tokio::test]
async fn retries_ride_out_429_and_503_but_never_resend_a_create_after_5xx() {
    let emu = emu().await;
    let c = emu.client();
    emu.set_faults(FaultConfig {
        http: vec![fault("GET /v2/pods", 503, 2)],
        ..FaultConfig::default()
    });
    c.list_pods().await.expect("third attempt succeeds");
    assert_eq!(count(&emu, "GET", "/v2/pods"), 3);

    emu.set_faults(FaultConfig {
        http: vec![fault("POST /v2/pods", 429, 2)],
        ..FaultConfig::default()
    });
    c.create_pod(&pod("after-429")).await.expect("429 means not processed: retried");
    assert_eq!(c.list_pods().await.expect("list").len(), 1, "created exactly once");

    emu.set_faults(FaultConfig {
        http: vec![fault("POST /v2/pods", 503, 1)],
        ..FaultConfig::default()
    });
    let before = count(&emu, "POST", "/v2/pods");
    let e = c.create_pod(&pod("after-503")).await.expect_err("503 on a create");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::MaybeCreated, 1));
    assert_eq!(count(&emu, "POST", "/v2/pods") - before, 1, "not re-sent");

    // A random storm (seeded, so it repeats): every call still lands within 8 attempts.
    emu.set_faults(FaultConfig {
        http: vec![HttpFault { probability: 0.4, times: None, ..fault("GET /v2/pods", 429, 0) }],
        ..FaultConfig::default()
    });
    let patient = Client::builder()
        .api_key(emu.api_key().clone())
        .rest_url(emu.base_url())
        .retry(RetryPolicy {
            max_attempts: 8,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            ..RetryPolicy::default()
        })
        .build()
        .expect("client");
    for _ in 0..25 {
        patient.list_pods().await.expect("rides out the storm");
    }
    assert!(count(&emu, "GET", "/v2/pods") > 30, "the storm did fire");
    assert_contract(&emu);
}

#[tokio::test]
async fn faults_and_the_clock_are_driven_over_the_admin_api() {
    let emu = emu().await;
    let http = reqwest::Client::new();
    let admin = |p: &str| format!("{}/_emulator/{p}", emu.base_url());
    let key = emu.api_key().expose().to_owned();
    let faults = serde_json::json!({"http": [{"route": "GET /v2/templates", "status": 503, "times": 10, "retry_after": 0}], "pods": {"boot_hang": true}});
    let r = http
        .put(admin("faults"))
        .header("Authorization", &key)
        .json(&faults)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let c = emu.client();
    let e = c.list_templates().await.expect_err("503 storm");
    assert_eq!(
        (e.kind(), e.attempts()),
        (ErrorKind::Server, 4),
        "idempotent GETs retry 503 up to max_attempts"
    );
    let p = c.create_pod(&pod("hangs")).await.expect("create");
    let r = http
        .post(admin("clock/advance"))
        .header("Authorization", &key)
        .json(&serde_json::json!({"seconds": 600}))
        .send()
        .await
        .expect("advance");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        c.get_pod(&p.id).await.expect("get").status,
        runpod::types::pods::PodStatus::Starting,
        "boot_hang from the admin API"
    );
    let r = http.delete(admin("faults")).header("Authorization", &key).send().await.expect("clear");
    assert_eq!(r.status().as_u16(), 204);
    c.list_templates().await.expect("faults cleared");
    let bad = http
        .put(admin("faults"))
        .header("Authorization", &key)
        .json(&serde_json::json!({"htp": []}))
        .send()
        .await
        .expect("typo");
    assert_eq!(bad.status().as_u16(), 422, "unknown fault keys are rejected");
    let anon = http.get(admin("state")).send().await.expect("no key");
    assert_eq!(anon.status().as_u16(), 401);
}
