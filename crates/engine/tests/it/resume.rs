//! Training that resumes after a lost pod: a command that checkpoints every 5 steps on the
//! job's network volume loses its host three times mid-run (the emulator's preemption: the pod
//! stops, its container is killed); each relaunch gets the newest complete checkpoint as
//! `PODWARDEN_RESUME_FROM`, so at most one checkpoint interval is redone per loss, and the job
//! pays for every attempt. `--nocapture` prints the work lost and the time to resume per loss
//! (`BENCHMARKS.md`).

use podwarden_core::Money;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::JobState;
use podwarden_engine::{Engine, RunPodProvider};
use podwarden_test_utils::emulator::LIMIT;
use runpod_emulator::RunningEmulator;
use runpod_emulator::faults::PodFaults;
use std::path::Path;
use std::time::Duration;

/// Steps in all, and how often the trainer checkpoints.
const STEPS: u32 = 40;
const EVERY: u32 = 5;

/// The trainer: resumes from `PODWARDEN_RESUME_FROM`, logs each step to the volume, takes a
/// step only when the test allows it (`allow`), checkpoints every `EVERY` steps (the marker
/// last), and marks the end.
const TRAIN_PY: &str = r#"import os, time
v = "/workspace"
ck = os.environ["PODWARDEN_CHECKPOINT_DIR"]
r = os.environ.get("PODWARDEN_RESUME_FROM")
step = int(open(os.path.join(r, "step")).read()) if r else 0
log = open(v + "/steps.log", "a")
log.write(f"start {step}\n"); log.flush()
while step < STEPS:
    while True:
        try:
            allow = int(open(v + "/allow").read())
        except Exception:
            allow = 0
        if step < allow:
            break
        time.sleep(0.01)
    step += 1
    log.write(f"step {step}\n"); log.flush()
    if step % EVERY == 0:
        d = os.path.join(ck, f"checkpoint-{step}")
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "step"), "w").write(str(step))
        open(os.path.join(d, ".complete"), "w").close()
open(v + "/done", "w").close()
print("trained", flush=True)
"#;

async fn state(e: &Engine<RunPodProvider>, job: podwarden_core::JobId) -> JobState {
    e.store().job_get(job).await.expect("get").expect("job").phase().expect("phase").state
}

/// The trainer writes outside anything the engine or emulator observes: poll its log (every
/// 20 ms, failing after `LIMIT`).
async fn until_logged(dir: &Path, line: &str) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let text = std::fs::read_to_string(dir.join("steps.log")).unwrap_or_default();
        if text.lines().any(|l| l == line) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trainer never logged {line:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The lost pod's processes are gone (killed by the emulator, reaped by its runner).
async fn until_no_container(emu: &RunningEmulator) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while emu.shared.runner.live() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the lost pod's container never died");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ticks, 10 emulated seconds apart, until the job runs on a pod whose container is up.
async fn until_running(
    emu: &RunningEmulator,
    e: &Engine<RunPodProvider>,
    job: podwarden_core::JobId,
) {
    for _ in 0..60 {
        e.tick().await.expect("tick");
        let up = emu.shared.world.lock().pods.values().any(|p| p.container.running);
        if state(e, job).await == JobState::Running && up {
            return;
        }
        emu.advance(Duration::from_secs(10));
    }
    panic!("job {job} never ran again: {:?}", state(e, job).await);
}

#[tokio::test]
async fn a_checkpointing_job_resumes_after_each_lost_pod_and_pays_for_every_attempt() {
    // The first three pods lose their host 60 emulated seconds after they reach RUNNING.
    let (emu, e) = podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        // A failed host: its processes die at once (no SIGTERM grace).
        c.pods.stop_grace_ms = 0;
        c.faults.pods =
            PodFaults { boot_hang: false, preempt_after_secs: Some(60.0), preempt_pods: Some(3) };
    })
    .await;
    let vol = emu
        .client()
        .create_network_volume(&runpod::types::network_volumes::CreateNetworkVolumeRequest {
            name: "train".into(),
            size: 10,
            data_center: "EU-RO-1".into(),
            kind: None,
        })
        .await
        .expect("volume");
    let dir = emu.shared.world.lock().volume_dir(vol.id.as_str());
    std::fs::create_dir_all(&dir).expect("volume dir");
    let script = TRAIN_PY.replace("STEPS", &STEPS.to_string()).replace("EVERY", &EVERY.to_string());
    std::fs::write(dir.join("train.py"), script).expect("train.py");
    let spec = JobSpec::from_toml(
        "job.toml",
        &format!(
            "name = \"resume\"\nimage = \"python:3.11-slim\"\ncommand = \"python3 /workspace/train.py\"\nnetwork_volume = \"{}\"\ncheckpoint_dir = \"checkpoints\"\n[gpu]\nmin_vram_gb = 16\n[retry]\nattempts = 5\nbackoff = \"10s\"\n",
            vol.id
        ),
    )
    .expect("spec");
    let sub = e.submit(spec, "local").await.expect("submit");
    let job = sub.job;

    // Each attempt is let run to a step past its last checkpoint, then loses its host.
    let mut resumed_at = vec![0];
    for (loss, allow) in [7, 16, 23].into_iter().enumerate() {
        until_running(&emu, &e, job).await;
        until_logged(&dir, &format!("start {}", resumed_at[loss])).await;
        std::fs::write(dir.join("allow"), allow.to_string()).expect("allow");
        until_logged(&dir, &format!("step {allow}")).await;
        emu.advance(Duration::from_secs(60));
        e.tick().await.expect("the loss is seen");
        assert_eq!(state(&e, job).await, JobState::Recovering, "loss {loss}");
        until_no_container(&emu).await;
        // The relaunch resumes from the newest complete checkpoint.
        let from = allow / EVERY * EVERY;
        resumed_at.push(from);
    }
    until_running(&emu, &e, job).await;
    until_logged(&dir, &format!("start {}", resumed_at[3])).await;
    std::fs::write(dir.join("allow"), STEPS.to_string()).expect("allow");
    until_logged(&dir, &format!("step {STEPS}")).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !dir.join("done").exists() {
        assert!(tokio::time::Instant::now() < deadline, "the trainer never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // (No control plane here to read the exit line: the test reports it, as the callback would.)
    e.report_exit(job, &sub.token, 0, None, None).await.expect("exit");
    for _ in 0..40 {
        if state(&e, job).await.is_final() {
            break;
        }
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(1));
    }
    assert_eq!(state(&e, job).await, JobState::Succeeded);

    // Work lost per loss: the steps done past the checkpoint the next pod resumed from.
    let log = std::fs::read_to_string(dir.join("steps.log")).expect("log");
    let starts: Vec<u32> =
        log.lines().filter_map(|l| l.strip_prefix("start ")?.parse().ok()).collect();
    assert_eq!(starts, resumed_at, "each relaunch resumed from the newest checkpoint:\n{log}");
    let steps_run = log.lines().filter(|l| l.starts_with("step ")).count() as u32;
    let lost: Vec<u32> = [7, 16, 23].iter().zip(&resumed_at[1..]).map(|(a, r)| a - r).collect();
    assert!(lost.iter().all(|l| *l < EVERY), "at most one interval lost per loss: {lost:?}");
    assert_eq!(steps_run, STEPS + lost.iter().sum::<u32>(), "{log}");

    // Every attempt was paid for, and the job's spend is their sum.
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.cost > Money(0)), "{attempts:?}");
    let spent = e.store().job_get(job).await.expect("get").expect("job").spent;
    assert_eq!(spent, attempts.iter().map(|a| a.cost).sum::<Money>());
    let billed = podwarden_test_utils::engine::pods_billed(&emu);
    assert!((spent.usd() - billed).abs() < 0.01, "ours {spent} vs RunPod's bill {billed} $");
    // Time to resume: from a pod's loss to its successor booted (emulated).
    let resume_secs: Vec<f64> = attempts
        .windows(2)
        .filter_map(|w| Some((w[1].booted_at? - w[0].ended_at?) as f64 / 1000.0))
        .collect();
    assert_eq!(resume_secs.len(), 3, "{attempts:?}");
    println!(
        "resume: {STEPS} steps, a checkpoint every {EVERY}; 3 lost pods; steps lost per loss {lost:?} ({} of {} run redone); time to resume per loss {resume_secs:?} s (emulated: backoff + boot); cost {} over 4 attempts",
        lost.iter().sum::<u32>(),
        steps_run,
        spent
    );
}
