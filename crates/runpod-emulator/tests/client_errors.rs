//! The client's typed errors against the emulator's faults: every kind, the body kept, retries
//! only where safe, and the key never printed.

mod common;

use common::{assert_contract, emu};
use runpod::types::pods::{CreateGpuConfig, CreatePodRequest, PodAction};
use runpod::{ApiKey, Client, ErrorKind, GpuTypeId, PodId, RetryPolicy};
use runpod_emulator::{FaultConfig, HttpFault};
use std::sync::{Arc, Mutex};
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

    let wrong = Client::builder().api_key(ApiKey::new("rpa_WRONGWRONGWRONG")).rest_url(emu.base_url()).build().expect("client");
    let e = wrong.list_pods().await.expect_err("bad key");
    assert_eq!((e.kind(), e.status(), e.detail()), (ErrorKind::Unauthorized, Some(401), Some("invalid bearer token")));
    assert!(e.body().is_some_and(|b| b.starts_with(b"{")));

    assert_eq!(c.get_pod(&PodId::new("nope")).await.expect_err("missing").kind(), ErrorKind::NotFound);

    let mut invalid = pod("");
    invalid.disk = Some(0);
    let e = c.create_pod(&invalid).await.expect_err("invalid");
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(e.validation_errors(), ["$.name: length must be >= 1, but got 0", "$.disk: must be >= 1 but found 0"]);
    assert_eq!(e.detail(), Some("Request validation failed."));

    let p = c.create_pod(&pod("conflict")).await.expect("create");
    c.pod_action(&p.id, PodAction::Stop).await.expect("stop");
    assert_eq!(c.pod_action(&p.id, PodAction::Stop).await.expect_err("already stopped").kind(), ErrorKind::Conflict);

    emu.set_faults(FaultConfig { http: vec![fault("GET /v2/pods/{id}", 500, 1)], ..FaultConfig::default() });
    let e = c.get_pod(&p.id).await.expect_err("500");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Server, 1), "500 is not retried");

    emu.set_faults(FaultConfig { http: vec![fault("GET /v2/pods", 429, 100)], ..FaultConfig::default() });
    let e = c.list_pods().await.expect_err("storm outlasts the retries");
    assert_eq!((e.kind(), e.attempts(), e.retry_after()), (ErrorKind::RateLimited, 4, Some(Duration::ZERO)));
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
    let quick =
        RetryPolicy { max_attempts: 3, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2), ..RetryPolicy::default() };
    let t = Client::builder().api_key(ApiKey::new("k")).rest_url(dead).retry(quick).build().expect("client");
    let e = t.create_pod(&pod("x")).await.expect_err("connection refused");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Transport, 3), "a request that never left is safe to resend, even a create");

    use axum::{Router, routing::get};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, Router::new().route("/v2/pods", get(|| async { "<html>maintenance</html>" }))).await.ok() });
    let h = Client::builder().api_key(ApiKey::new("k")).rest_url(format!("http://{addr}")).build().expect("client");
    let e = h.list_pods().await.expect_err("html");
    assert_eq!(e.kind(), ErrorKind::Undecodable);
    assert_eq!(e.body(), Some(&b"<html>maintenance</html>"[..]));
    assert_contract(&emu);
}

#[tokio::test]
async fn retries_ride_out_429_and_503_but_never_resend_a_create_after_5xx() {
    let emu = emu().await;
    let c = emu.client();
    emu.set_faults(FaultConfig { http: vec![fault("GET /v2/pods", 503, 2)], ..FaultConfig::default() });
    c.list_pods().await.expect("third attempt succeeds");
    assert_eq!(count(&emu, "GET", "/v2/pods"), 3);

    emu.set_faults(FaultConfig { http: vec![fault("POST /v2/pods", 429, 2)], ..FaultConfig::default() });
    c.create_pod(&pod("after-429")).await.expect("429 means not processed: retried");
    assert_eq!(c.list_pods().await.expect("list").len(), 1, "created exactly once");

    emu.set_faults(FaultConfig { http: vec![fault("POST /v2/pods", 503, 1)], ..FaultConfig::default() });
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

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_api_key_never_appears_in_logs_or_errors() {
    let buf = Buf::default();
    let writer = buf.clone();
    let sub = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).with_ansi(false).finish();
    let _g = tracing::subscriber::set_default(sub);

    const SECRET: &str = "rpa_TOPSECRETKEY0123456789ABCDEFGH";
    let mut cfg = common::config();
    cfg.api_key = Some(SECRET.into());
    let emu = common::emu_with(cfg).await;
    let c = emu.client();
    let mut seen = vec![format!("{c:?}"), format!("{:?}", emu.api_key()), emu.api_key().to_string()];
    c.list_pods().await.expect("ok");
    let p = c.create_pod(&pod("s")).await.expect("create");
    for e in [
        c.get_pod(&PodId::new("missing")).await.expect_err("404"),
        c.create_pod(&pod("")).await.expect_err("422"),
        c.pod_action(&p.id, PodAction::Start).await.expect_err("409"),
        Client::builder()
            .api_key(ApiKey::new(SECRET))
            .rest_url("http://127.0.0.1:9")
            .retry(RetryPolicy::none())
            .build()
            .expect("c")
            .list_pods()
            .await
            .expect_err("down"),
    ] {
        seen.push(format!("{e} | {e:?}"));
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            seen.push(s.to_string());
            src = s.source();
        }
    }
    let logs = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logs.contains("runpod call"), "the client did log its calls:\n{logs}");
    for s in seen.iter().chain(std::iter::once(&logs)) {
        assert!(!s.contains(SECRET) && !s.contains("TOPSECRETKEY"), "the key leaked into: {s}");
    }
    assert!(seen[0].contains("****"), "{}", seen[0]);
}
