//! The API key never appears in logs, errors or `Debug` output, across a run that succeeds,
//! fails in every common way, and talks to a dead host.

use podwarden_test_utils::emulator as common;

use common::pod;
use runpod::types::pods::PodAction;
use runpod::{ApiKey, Client, PodId, RetryPolicy};
use std::sync::{Arc, Mutex};

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

#[tokio::test]
async fn the_api_key_never_appears_in_logs_or_errors() {
    let buf = Buf::default();
    let writer = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global, and alone in this test binary: no other test can race the callsite cache.
    tracing::subscriber::set_global_default(sub).expect("first subscriber");

    const SECRET: &str = "rpa_TOPSECRETKEY0123456789ABCDEFGH";
    let mut cfg = common::config();
    cfg.api_key = Some(SECRET.into());
    let emu = common::emu_with(cfg).await;
    let c = emu.client();
    let mut seen =
        vec![format!("{c:?}"), format!("{:?}", emu.api_key()), emu.api_key().to_string()];
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
