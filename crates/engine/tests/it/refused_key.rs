//! A key the provider stops accepting (revoked, rotated, the account closed): the account's
//! waiting jobs say so, where users look (`ps`, the API, events), not only at `/admin/tasks`.

use podwarden_core::events::EventKind;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::JobState;
use podwarden_engine::provider::{PodInfo, PodRequest, Provider, ProviderError, Serverless};
use podwarden_engine::{Engine, RunPodProvider};
use podwarden_test_utils::engine as common;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// RunPod through the emulator, until `revoked`: then every call is refused as RunPod refuses
/// a key it no longer knows (401).
struct Revocable {
    inner: RunPodProvider,
    revoked: Arc<AtomicBool>,
}

impl Revocable {
    fn check(&self) -> Result<(), ProviderError> {
        if self.revoked.load(Ordering::SeqCst) {
            return Err(ProviderError::Auth("401 Unauthorized".into()));
        }
        Ok(())
    }
}

impl Serverless for Revocable {}

impl Provider for Revocable {
    async fn offers(&self) -> Result<Vec<podwarden_core::gpu::GpuOffer>, ProviderError> {
        self.check()?;
        self.inner.offers().await
    }
    async fn list_pods(&self) -> Result<Vec<PodInfo>, ProviderError> {
        self.check()?;
        self.inner.list_pods().await
    }
    async fn create_pod(&self, req: &PodRequest) -> Result<PodInfo, ProviderError> {
        self.check()?;
        self.inner.create_pod(req).await
    }
    async fn terminate_pod(&self, id: &str) -> Result<(), ProviderError> {
        self.check()?;
        self.inner.terminate_pod(id).await
    }
}

#[tokio::test]
async fn a_refused_key_is_the_reason_its_waiting_jobs_give() {
    let emu = common::emulator(|_| {}).await;
    let revoked = Arc::new(AtomicBool::new(false));
    let clock = emu.shared.clock.clone();
    let options = podwarden_engine::EngineOptions::new(
        podwarden_engine::Clock::from_fn(move || clock.now().timestamp_millis()),
        b"test-secret".to_vec(),
    );
    let provider = Revocable { inner: RunPodProvider::new(emu.client()), revoked: revoked.clone() };
    let store = podwarden_store::testing::open().await.expect("store");
    let e = Engine::new(store, provider, options).await.expect("engine");
    let spec = JobSpec::from_toml(
        "job.toml",
        "name = \"t\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 1000\"\n[gpu]\nmin_vram_gb = 16\n",
    )
    .expect("spec");
    let job = e.submit(spec, "local").await.expect("submitted while the key worked").job;
    revoked.store(true, Ordering::SeqCst);
    let report = e.tick().await.expect("a refused key is the pass's news, not its failure");
    assert!(report.retry_after().is_some(), "the account waits instead of asking every tick");
    let row = e.store().job_get(job).await.expect("get").expect("job");
    assert_eq!(row.state, JobState::Pending, "nothing was started");
    let reason = row.reason.unwrap_or_default();
    assert!(reason.contains("refused this account's API key"), "{reason}");
    assert!(
        reason.contains("RUNPOD_API_KEY"),
        "the hosted account's fix is the operator's: {reason}"
    );
    let said = |e: &Engine<Revocable>| {
        let store = e.store().clone();
        async move {
            store
                .events_since(job, 0, 1000)
                .await
                .expect("events")
                .into_iter()
                .filter(|ev| ev.kind == EventKind::Placement && ev.message.contains("refused"))
                .count()
        }
    };
    assert_eq!(said(&e).await, 1);
    // Still refused a minute on: said once, not once a pass.
    emu.advance(Duration::from_secs(61));
    e.tick().await.expect("pass");
    assert_eq!(said(&e).await, 1, "the same reason is not repeated");
    // The key works again: the job launches, and its reason moves on.
    revoked.store(false, Ordering::SeqCst);
    emu.advance(Duration::from_secs(61));
    e.tick().await.expect("pass");
    let row = e.store().job_get(job).await.expect("get").expect("job");
    assert_eq!(row.state, JobState::Provisioning, "{:?}", row.reason);
    assert!(!row.reason.unwrap_or_default().contains("refused"));
}
