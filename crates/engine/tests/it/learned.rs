//! Placement that learns: each attempt's outcome is kept for its offer (a boot and how long it
//! took, a dud that never booted, a booted pod lost), and launches rank offers by what was
//! learned and by the operator's pins and bans.

use podwarden_core::JobId;
use podwarden_core::learned::{BootSample, OfferKey, OfferRecord};
use podwarden_core::spec::JobSpec;
use podwarden_core::state::JobState;
use podwarden_engine::{Engine, RunPodProvider};
use runpod_emulator::RunningEmulator;
use runpod_emulator::faults::{FaultConfig, PodFaults};
use std::time::Duration;

fn spec() -> JobSpec {
    JobSpec::from_toml(
        "job.toml",
        "name = \"learn\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 3600\"\ncloud = \"secure\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nboot_timeout = \"2m\"\n[retry]\nbackoff = \"10s\"\n",
    )
    .expect("spec")
}

fn key(gpu: &str, dc: &str) -> OfferKey {
    OfferKey {
        provider: "runpod".into(),
        gpu_type: gpu.into(),
        data_center: dc.into(),
        cloud: "secure".into(),
    }
}

async fn state(e: &Engine<RunPodProvider>, job: JobId) -> JobState {
    e.store().job_get(job).await.expect("get").expect("job").state
}

/// Ticks 10 emulated seconds apart until the job runs (at most 60).
async fn until_running(emu: &RunningEmulator, e: &Engine<RunPodProvider>, job: JobId) {
    for _ in 0..60 {
        e.tick().await.expect("tick");
        if state(e, job).await == JobState::Running {
            return;
        }
        emu.advance(Duration::from_secs(10));
    }
    panic!("never ran: {:?}", state(e, job).await);
}

async fn stats(e: &Engine<RunPodProvider>) -> Vec<(OfferKey, OfferRecord)> {
    e.store().offer_stats().await.expect("stats")
}

#[tokio::test]
async fn a_pod_that_never_boots_is_a_dud_of_its_offer_and_a_boot_is_timed() {
    let (emu, e) = podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        c.faults.pods = PodFaults { boot_hang: true, ..PodFaults::default() };
    })
    .await;
    let job = e.submit(spec(), "local").await.expect("submit").job;
    e.tick().await.expect("launch");
    let first = e.store().attempts_for_job(job).await.expect("attempts")[0].clone();
    // Hung past its boot timeout: terminated, and its offer learns of it.
    emu.advance(Duration::from_secs(121));
    e.tick().await.expect("the hang is seen");
    assert_eq!(state(&e, job).await, JobState::Recovering);
    let dud = key(&first.gpu_type, first.data_center.as_deref().expect("dc"));
    let learned = stats(&e).await;
    assert_eq!(learned.len(), 1, "{learned:?}");
    assert_eq!((&learned[0].0, learned[0].1.duds, learned[0].1.boots), (&dud, 1, 0));
    // Hosts boot again: the relaunch's boot is timed.
    emu.set_faults(FaultConfig::default());
    emu.advance(Duration::from_secs(11));
    until_running(&emu, &e, job).await;
    let second = e.store().attempts_for_job(job).await.expect("attempts")[1].clone();
    let booted = key(&second.gpu_type, second.data_center.as_deref().expect("dc"));
    let r = stats(&e).await.into_iter().find(|(k, _)| k == &booted).expect("booted offer").1;
    assert_eq!(r.boots, 1);
    assert!((30_000..=60_000).contains(&r.boot_ms_total), "{r:?}");
}

/// Once its image booted a few times on an offer (30 s each), a pod there that hangs is ended
/// at the learned deadline (3 min, the floor) rather than the job's 10-minute boot timeout;
/// another image's boots say nothing of this one; the job's next pod gets its own timeout.
#[tokio::test]
async fn a_hang_is_found_out_at_the_deadline_its_images_boots_taught() {
    let (emu, e) = podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        c.faults.pods = PodFaults { boot_hang: true, ..PodFaults::default() };
    })
    .await;
    let mut spec = spec();
    spec.limits.boot_timeout = Duration::from_secs(600);
    let job = e.submit(spec, "local").await.expect("submit").job;
    e.tick().await.expect("launch");
    let first = e.store().attempts_for_job(job).await.expect("attempts")[0].clone();
    let offer = key(&first.gpu_type, first.data_center.as_deref().expect("dc"));
    for _ in 0..3 {
        e.store()
            .offer_boot_record(&offer, "other:1", BootSample::Booted(30_000), 0)
            .await
            .expect("boot");
    }
    emu.advance(Duration::from_secs(181));
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Provisioning, "another image's boots");
    for _ in 0..3 {
        e.store()
            .offer_boot_record(&offer, "python:3.11-slim", BootSample::Booted(30_000), 0)
            .await
            .expect("boot");
    }
    e.tick().await.expect("the hang is seen");
    assert_eq!(state(&e, job).await, JobState::Recovering);
    let ended = e.store().attempts_for_job(job).await.expect("attempts")[0].clone();
    let why = ended.reason.clone().unwrap_or_default();
    assert!(why.contains("did not boot within 180 s") && why.contains("learned"), "{ended:?}");
    // A dud of the offer, and for the deadline a boot that long (it grows after one).
    let r = stats(&e).await.into_iter().find(|(k, _)| k == &offer).expect("offer").1;
    assert_eq!(r.duds, 1, "{r:?}");
    let boots = e.store().offer_boots("python:3.11-slim").await.expect("boots");
    assert_eq!((boots[0].1.boots, boots[0].1.boot_ms_total), (4, 90_000 + 180_000));
    // The job's next pod gets its own 10-minute timeout: a cold pull slower than the boots
    // seen must not use up its retries.
    emu.advance(Duration::from_secs(11));
    e.tick().await.expect("relaunch");
    assert_eq!(state(&e, job).await, JobState::Provisioning);
    emu.advance(Duration::from_secs(300));
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Provisioning, "past 3 min, within 10");
    emu.advance(Duration::from_secs(301));
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Recovering, "at its own timeout");
}

#[tokio::test]
async fn a_banned_offer_is_never_tried_and_a_pinned_one_goes_first() {
    let (emu, e) = podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
    })
    .await;
    let now = 0;
    // The cheapest (RTX A4000) banned wherever it is stocked.
    for dc in ["US-TX-3", "EU-RO-1"] {
        e.store().offer_flag(&key("NVIDIA RTX A4000", dc), false, true, now).await.expect("ban");
    }
    let job = e.submit(spec(), "local").await.expect("submit").job;
    until_running(&emu, &e, job).await;
    let a = &e.store().attempts_for_job(job).await.expect("attempts")[0];
    assert_eq!(a.gpu_type, "NVIDIA RTX A5000", "the next cheapest: {a:?}");

    // A dear one pinned goes first.
    e.store()
        .offer_flag(&key("NVIDIA GeForce RTX 4090", "EU-RO-1"), true, false, now)
        .await
        .expect("pin");
    let job = e.submit(spec(), "local").await.expect("submit").job;
    until_running(&emu, &e, job).await;
    let a = &e.store().attempts_for_job(job).await.expect("attempts")[0];
    assert_eq!(
        (a.gpu_type.as_str(), a.data_center.as_deref()),
        ("NVIDIA GeForce RTX 4090", Some("EU-RO-1"))
    );
}
