//! The engine against the emulator on a manual clock: the launch saga, reconciliation,
//! capacity fallback, budgets, boot timeouts, lost create responses and orphans — and no pod
//! is ever left behind.
//!
//! Over 600 lines: one scenario per rule the engine keeps, each a few ticks on the manual clock.

use podwarden_core::JobId;
use podwarden_core::Money;
use podwarden_core::state::AttemptState;
use podwarden_test_utils::engine as common;

use podwarden_core::spec::JobSpec;
use podwarden_core::state::JobState;
use podwarden_engine::{Engine, RunPodProvider};
use runpod_emulator::faults::{FaultConfig, HttpFault, PodFaults};
use runpod_emulator::{EmulatorConfig, RunningEmulator};
use std::time::Duration;

async fn setup(cfg: impl FnOnce(&mut EmulatorConfig)) -> (RunningEmulator, Engine<RunPodProvider>) {
    common::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        cfg(c);
    })
    .await
}

fn spec(extra: &str) -> JobSpec {
    JobSpec::from_toml(
        "job.toml",
        &format!("name = \"t\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 1000\"\n{extra}"),
    )
    .expect("spec")
}

/// The job's first attempt (the one a single-node job's log lines belong to).
async fn first_attempt(e: &Engine<RunPodProvider>, job: JobId) -> podwarden_core::AttemptId {
    e.store().attempts_for_job(job).await.expect("attempts")[0].id
}

async fn state(e: &Engine<RunPodProvider>, job: JobId) -> JobState {
    e.store().job_get(job).await.expect("get").expect("job").phase().expect("phase").state
}

/// Ticks (advancing the clock by `step` each time) until the job settles.
async fn settle(
    emu: &RunningEmulator,
    e: &Engine<RunPodProvider>,
    job: JobId,
    step: Duration,
) -> JobState {
    for _ in 0..40 {
        let s = state(e, job).await;
        if s.is_final() {
            return s;
        }
        e.tick().await.expect("tick");
        emu.advance(step);
    }
    panic!("job {job} did not settle: {}", state(e, job).await);
}

fn live_pods(emu: &RunningEmulator) -> usize {
    emu.shared
        .world
        .lock()
        .pods
        .values()
        .filter(|p| p.status != runpod::types::pods::PodStatus::Terminated)
        .count()
}

async fn events(e: &Engine<RunPodProvider>, job: JobId) -> String {
    e.store()
        .events_since(job, 0, 1000)
        .await
        .expect("events")
        .iter()
        .map(|x| x.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_job_runs_reports_its_exit_and_leaves_nothing_behind() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit");
    let job = sub.job;
    e.tick().await.expect("tick: launch");
    assert_eq!(state(&e, job).await, JobState::Provisioning);
    assert_eq!(live_pods(&emu), 1);
    let owner =
        emu.shared.world.lock().pods.values().find_map(|p| p.env.get("PODWARDEN_USER").cloned());
    assert_eq!(owner.as_deref(), Some("local"), "the pod knows whose job it runs");
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("tick: booted");
    assert_eq!(state(&e, job).await, JobState::Running);
    emu.advance(Duration::from_secs(3600));
    e.tick().await.expect("tick: bill");
    e.report_exit(job, &sub.token, 0, None, None).await.expect("exit");
    assert!(
        e.report_exit(job, "wrong", 1, None, None).await.is_err(),
        "only the job's token works"
    );
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Succeeded);
    assert_eq!(live_pods(&emu), 0, "nothing left at the provider");
    // Costs agree with the provider's billing to the cent.
    let ours: Money = e.store().cost_rows().await.expect("rows").iter().map(|r| r.amount).sum();
    let theirs: f64 = {
        let w = emu.shared.world.lock();
        w.pods
            .keys()
            .map(|id| w.ledger.total_for(runpod_emulator::world::ledger::Kind::Pod, id))
            .sum()
    };
    assert!((ours.usd() - theirs).abs() < 0.01, "ours {ours:?} vs provider {theirs} $");
    let log = events(&e, job).await;
    assert!(log.contains("pod ") && log.contains("succeeded"), "{log}");
    // The token outlives the job by a grace period only.
    let point = [serde_json::json!({"step": 1, "loss": 0.5})];
    assert_eq!(e.report_metrics(job, &sub.token, &point).await.expect("a late flush lands"), 1);
    emu.advance(Duration::from_millis(podwarden_engine::tokens::TOKEN_GRACE_MS as u64 + 1000));
    let late = e.report_metrics(job, &sub.token, &point).await.expect_err("expired");
    assert!(matches!(late, podwarden_engine::EngineError::BadToken(_)), "{late}");
    assert!(e.report_exit(job, &sub.token, 0, None, None).await.is_err(), "nor an exit");
}

#[tokio::test]
async fn no_capacity_falls_through_to_the_next_offer() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e
        .submit(
            spec("[gpu]\ntypes = [\"NVIDIA H100 80GB HBM3\", \"NVIDIA A100 80GB PCIe\"]\n"),
            "local",
        )
        .await
        .expect("submit");
    // The H100s go between the catalog read and the create (stock does not predict success).
    emu.shared.with_world(|w, _| {
        w.catalog.set_stock("NVIDIA H100 80GB HBM3", "US-TX-3", Default::default())
    });
    let job = sub.job;
    e.tick().await.expect("tick");
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(
        attempts.last().map(|a| a.gpu_type.as_str()),
        Some("NVIDIA A100 80GB PCIe"),
        "{attempts:?}"
    );
    assert!(events(&e, job).await.contains("no capacity for NVIDIA H100 80GB HBM3"));
    assert_eq!(live_pods(&emu), 1);
    e.cancel(job).await.expect("cancel");
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Cancelled);
    assert_eq!(live_pods(&emu), 0);
}

#[tokio::test]
async fn the_budget_stops_a_job_within_one_tick() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e
        .submit(
            spec("[gpu]\ntypes = [\"NVIDIA RTX A4000\"]\ncount = 1\n[limits]\nbudget_usd = 0.01\n"),
            "local",
        )
        .await
        .expect("submit");
    let job = sub.job;
    e.tick().await.expect("launch");
    let price = e.store().attempts_for_job(job).await.expect("a")[0].price_per_hour;
    let step = Duration::from_secs(30);
    let mut ticks = 0;
    while state(&e, job).await != JobState::TearingDown {
        emu.advance(step);
        e.tick().await.expect("tick");
        ticks += 1;
        assert!(ticks < 100, "never stopped");
    }
    let j = e.store().job_get(job).await.expect("get").expect("job");
    let one_tick = price.per_hour_for_millis(step.as_millis() as i64);
    assert!(
        j.spent >= Money(10_000) && j.spent <= Money(10_000) + one_tick,
        "overspend ≤ one tick of burn: {} (tick = {one_tick})",
        j.spent
    );
    assert_eq!(j.outcome.as_deref(), Some("budget_exceeded"));
    let log = events(&e, job).await;
    assert!(log.contains("80 % of the budget") && log.contains("90 % of the budget"), "{log}");
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::BudgetExceeded);
    assert_eq!(live_pods(&emu), 0);
}

#[tokio::test]
async fn a_pod_stuck_booting_is_terminated_and_the_job_fails_when_retries_run_out() {
    let (emu, e) = setup(|c| {
        c.faults.pods = PodFaults { boot_hang: true, preempt_after_secs: None, preempt_pods: None }
    })
    .await;
    let sub = e
        .submit(
            spec(
                "[gpu]\nmin_vram_gb = 16\n[limits]\nboot_timeout = \"2m\"\n[retry]\nattempts = 1\n",
            ),
            "local",
        )
        .await
        .expect("submit");
    let job = sub.job;
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(30)).await, JobState::Failed);
    assert!(events(&e, job).await.contains("did not boot within 120 s"));
    assert_eq!(live_pods(&emu), 0);
}

#[tokio::test]
async fn a_lost_create_response_is_adopted_by_name_not_duplicated() {
    let (emu, e) = setup(|_| {}).await;
    emu.set_faults(FaultConfig {
        http: vec![HttpFault {
            route: "POST /v2/pods".into(),
            status: None,
            probability: 1.0,
            times: Some(1),
            retry_after: None,
            latency_ms: 0,
            lose_response: true,
        }],
        ..FaultConfig::default()
    });
    let sub = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit");
    let job = sub.job;
    e.tick().await.expect("launch: response lost");
    assert_eq!(live_pods(&emu), 1, "the pod exists");
    e.tick().await.expect("adopt");
    let a = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(a.len(), 1);
    assert!(a[0].pod_id.is_some(), "adopted: {a:?}");
    assert!(events(&e, job).await.contains("adopted pod"));
    e.cancel(job).await.expect("cancel");
    settle(&emu, &e, job, Duration::from_secs(1)).await;
    assert_eq!(live_pods(&emu), 0);
}

#[tokio::test]
async fn orphans_with_our_prefix_are_terminated_and_other_pods_are_untouched() {
    // Two pods a page: the inventory is read across pages (RunPod pages every v2 list), so an
    // orphan on a later page is found too.
    let (emu, e) = setup(|c| c.page_size = 2).await;
    let c = emu.client();
    let mk = |name: String| runpod::types::pods::CreatePodRequest {
        name,
        image: Some("img".into()),
        gpu: Some(runpod::types::pods::CreateGpuConfig {
            id: "NVIDIA RTX A4000".into(),
            count: None,
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..Default::default()
    };
    let mine = c.create_pod(&mk("my notebook".into())).await.expect("user pod");
    let mut orphans = Vec::new();
    for _ in 0..5 {
        let name = podwarden_core::ids::pod_name(e.install(), podwarden_core::AttemptId::new());
        orphans.push(c.create_pod(&mk(name)).await.expect("orphan").id);
    }
    e.tick().await.expect("tick");
    e.tick().await.expect("tick");
    for orphan in &orphans {
        assert_eq!(
            c.get_pod(orphan).await.expect_err("terminated").kind(),
            runpod::ErrorKind::NotFound,
            "orphan {orphan}"
        );
    }
    assert!(c.get_pod(&mine.id).await.is_ok(), "pods without our prefix are never touched");
}

#[tokio::test]
async fn specs_no_gpu_can_satisfy_are_refused_before_anything_is_created() {
    let (emu, e) = setup(|_| {}).await;
    let err = e.submit(spec("[gpu]\nmin_vram_gb = 500\n"), "local").await.expect_err("no fit");
    assert!(err.to_string().contains("no GPU offer matches the spec"), "{err}");
    // A name nothing is called: said so, with the closest names, not as a VRAM or price miss.
    let err = e.submit(spec("[gpu]\ntypes = [\"A100X\"]\n"), "local").await.expect_err("unknown");
    assert!(
        err.to_string().contains("no GPU offered is called \"A100X\"")
            && err.to_string().contains("A100 PCIe"),
        "{err}"
    );
    assert!(e.store().jobs_live().await.expect("live").is_empty());
    assert_eq!(live_pods(&emu), 0);
    // A short name stands for the ids it names, and the job's events say what it meant.
    let job = e.submit(spec("[gpu]\ntypes = [\"a100\"]\n"), "local").await.expect("submits");
    let id = job.job;
    let row = e.store().job_get(id).await.expect("read").expect("the job");
    assert_eq!(row.spec().expect("spec").gpu.types, ["NVIDIA A100 80GB PCIe"]);
    let events = e.store().events_since(id, 0, 100).await.expect("events");
    assert!(
        events.iter().any(|v| v.message == "gpu.types a100 means NVIDIA A100 80GB PCIe"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_preempted_pod_is_replaced_and_the_job_still_succeeds() {
    let (emu, e) = setup(|c| {
        c.faults.pods =
            PodFaults { boot_hang: false, preempt_after_secs: Some(60.0), preempt_pods: None }
    })
    .await;
    let sub = e
        .submit(
            spec("[gpu]\nmin_vram_gb = 16\n[retry]\nattempts = 3\nbackoff = \"10s\"\n"),
            "local",
        )
        .await
        .expect("submit");
    let job = sub.job;
    e.tick().await.expect("launch");
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("booted");
    // The fault applies to pods created while it is set: the replacement will not be preempted.
    emu.set_faults(FaultConfig::default());
    emu.advance(Duration::from_secs(60));
    e.tick().await.expect("preempted: terminate + interrupt");
    assert_eq!(state(&e, job).await, JobState::Recovering);
    assert!(events(&e, job).await.contains("preempted or out of credit"));
    for _ in 0..6 {
        emu.advance(Duration::from_secs(10));
        e.tick().await.expect("tick");
    }
    assert_eq!(state(&e, job).await, JobState::Running, "{}", events(&e, job).await);
    assert_eq!(e.store().attempts_for_job(job).await.expect("a").len(), 2);
    e.report_exit(job, &sub.token, 0, None, None).await.expect("exit");
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Succeeded);
    assert_eq!(live_pods(&emu), 0);
}

#[tokio::test]
async fn max_runtime_times_the_job_out() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e
        .submit(spec("[gpu]\nmin_vram_gb = 16\n[limits]\nmax_runtime = \"5m\"\n"), "local")
        .await
        .expect("submit");
    let job = sub.job;
    e.tick().await.expect("launch");
    emu.advance(Duration::from_secs(299));
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Running);
    emu.advance(Duration::from_secs(1));
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::TimedOut);
    assert_eq!(live_pods(&emu), 0);
}

/// A spent request budget (RunPod's 429, beyond the client's own retries) is not a failed pass:
/// the report says how long the account must wait, and the pass calls RunPod no further.
#[tokio::test]
async fn a_spent_request_budget_reports_how_long_the_account_must_wait() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit");
    e.tick().await.expect("launch");
    emu.set_faults(FaultConfig {
        http: vec![HttpFault {
            route: "GET /v2/pods".into(),
            status: Some(429),
            probability: 1.0,
            times: None,
            // Longer than the client waits on its own: it gives up and says so.
            retry_after: Some(120),
            latency_ms: 0,
            lose_response: false,
        }],
        ..FaultConfig::default()
    });
    let r = e.tick().await.expect("a rate limit is the pass's news, not its failure");
    assert_eq!(r.retry_after(), Some(Duration::from_secs(120)), "{r:?}");
    assert!(!r.endpoints.ran, "the other reconcilers wait too: {r:?}");
    emu.set_faults(FaultConfig::default());
    let r = e.tick().await.expect("tick");
    assert_eq!(r.retry_after(), None, "{r:?}");
    assert!(r.pods.ran);
    e.cancel(sub.job).await.expect("cancel");
}

#[tokio::test]
async fn a_rate_limit_storm_is_survived_without_leaks() {
    let (emu, e) = setup(|_| {}).await;
    emu.set_faults(FaultConfig {
        http: vec![HttpFault {
            route: "*".into(),
            status: Some(429),
            probability: 0.3,
            times: None,
            retry_after: Some(0),
            latency_ms: 0,
            lose_response: false,
        }],
        ..FaultConfig::default()
    });
    let sub = e
        .submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local")
        .await
        .expect("submit (retried through the storm)");
    let job = sub.job;
    let mut exited = false;
    for _ in 0..60 {
        let _ = e.tick().await; // a tick may fail outright in the storm; the next one resumes
        emu.advance(Duration::from_secs(10));
        if !exited && state(&e, job).await == JobState::Running {
            e.report_exit(job, &sub.token, 0, None, None).await.expect("exit");
            exited = true;
        }
        if state(&e, job).await.is_final() {
            break;
        }
    }
    assert_eq!(state(&e, job).await, JobState::Succeeded, "{}", events(&e, job).await);
    emu.set_faults(FaultConfig::default());
    assert_eq!(live_pods(&emu), 0);
}

/// Saga harness: every step is run twice (a tick right after a tick, a launch racing a
/// launch) and nothing is duplicated or leaked.
#[tokio::test]
async fn every_step_run_twice_changes_nothing_the_second_time() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit");
    let job = sub.job;
    let (a, b) = tokio::join!(e.tick(), e.tick());
    a.expect("tick");
    b.expect("tick");
    assert_eq!(live_pods(&emu), 1, "two concurrent ticks launched one pod");
    assert_eq!(
        e.store()
            .attempts_for_job(job)
            .await
            .expect("a")
            .iter()
            .filter(|a| a.state != AttemptState::Abandoned)
            .count(),
        1
    );
    for step in [30, 1, 1, 1, 1, 1] {
        emu.advance(Duration::from_secs(step));
        let first = e.tick().await.expect("tick");
        let second = e.tick().await.expect("tick again");
        assert!(
            second
                .pods
                .actions
                .iter()
                .all(|x| !matches!(x, podwarden_engine::reconcilers::pods::Action::Launch { .. })),
            "no second launch: {first:?} then {second:?}"
        );
        assert!(live_pods(&emu) <= 1);
        if state(&e, job).await == JobState::Running {
            e.report_exit(job, &sub.token, 0, None, None).await.expect("exit");
            e.report_exit(job, &sub.token, 0, None, None)
                .await
                .expect("exit reported twice is fine");
        }
    }
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Succeeded);
    assert_eq!(live_pods(&emu), 0);
    let pods_created = emu.shared.world.lock().pods.len();
    assert_eq!(pods_created, 1, "exactly one pod was ever created");
}

#[tokio::test]
async fn a_job_waiting_for_capacity_always_says_why_and_launches_when_stock_returns() {
    let (emu, e) = setup(|_| {}).await;
    let a4000 = "NVIDIA RTX A4000";
    let saved: Vec<((String, String), runpod_emulator::config::Stock)> =
        emu.shared.with_world(|w, _| {
            let all: Vec<_> = w
                .catalog
                .free
                .iter()
                .filter(|((g, _), _)| g == a4000)
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            for ((g, dc), _) in &all {
                w.catalog.set_stock(g, dc, Default::default());
            }
            all
        });
    let sub = e
        .submit(
            spec(&format!("[gpu]\ntypes = [\"{a4000}\"]\n[retry]\nattempts = 5\nbackoff = \"30s\"\nallow_other_gpu_types = false\n")),
            "local",
        )
        .await
        .expect("submit");
    let job = sub.job;
    e.tick().await.expect("tick");
    let j = e.store().job_get(job).await.expect("get").expect("job");
    assert_eq!(j.phase().expect("phase").state, JobState::Queued);
    let reason = j.reason.unwrap_or_default();
    assert!(
        reason.contains("no GPU matching the spec has stock right now"),
        "a waiting job names its reason: {reason}"
    );
    assert_eq!(live_pods(&emu), 0);

    // Stock comes back: after the backoff (and the offers' cache), the job launches.
    emu.shared.with_world(|w, _| {
        for ((g, dc), s) in &saved {
            w.catalog.set_stock(g, dc, *s);
        }
    });
    emu.advance(Duration::from_secs(31));
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Provisioning, "{}", events(&e, job).await);
    assert_eq!(live_pods(&emu), 1);
    e.cancel(job).await.expect("cancel");
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Cancelled);
    assert_eq!(live_pods(&emu), 0);
}

fn create_fault(status: u16, times: Option<u32>) -> FaultConfig {
    FaultConfig {
        http: vec![HttpFault {
            route: "POST /v2/pods".into(),
            status: Some(status),
            probability: 1.0,
            times,
            retry_after: None,
            latency_ms: 0,
            lose_response: false,
        }],
        ..FaultConfig::default()
    }
}

#[tokio::test]
async fn a_refused_candidate_is_skipped_and_a_refusal_of_every_candidate_fails_the_job() {
    let two = "[gpu]\ntypes = [\"NVIDIA RTX A4000\", \"NVIDIA RTX A5000\"]\n[retry]\nallow_other_gpu_types = false\n";
    let (emu, e) = setup(|_| {}).await;
    // The spec's createPod table: 403 "skip this candidate, keep going"; 400 "try your next".
    emu.set_faults(create_fault(403, Some(1)));
    let job = e.submit(spec(two), "local").await.expect("submit").job;
    e.tick().await.expect("launch");
    assert_eq!(live_pods(&emu), 1, "the next candidate was placed");
    assert!(events(&e, job).await.contains("RunPod refused for NVIDIA RTX A4000"));
    e.cancel(job).await.expect("cancel");
    settle(&emu, &e, job, Duration::from_secs(1)).await;

    // A 400 every candidate gets is the request's own problem: the job fails with it, at once.
    emu.set_faults(create_fault(400, None));
    let job = e.submit(spec(two), "local").await.expect("submit").job;
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Failed);
    let r = e.store().job_get(job).await.expect("get").expect("job").reason.unwrap_or_default();
    assert!(r.contains("RunPod refused all 4 placements"), "{r}");
    assert_eq!(live_pods(&emu), 0);
}

/// A job whose spec allows another cloud is not failed by a refusal of every placement here:
/// this cloud leaves its `providers` and it waits, nothing more made, to move to the next.
#[tokio::test]
async fn a_refusal_of_every_candidate_sends_a_multi_cloud_job_to_its_next_cloud() {
    let (emu, e) = setup(|_| {}).await;
    emu.set_faults(create_fault(400, None));
    let either = "providers = [\"runpod\", \"aws\"]\nprovider = \"runpod\"\n[gpu]\ntypes = [\"NVIDIA RTX A4000\"]\n[retry]\nallow_other_gpu_types = false\n";
    let job = e.submit(spec(either), "local").await.expect("submit").job;
    e.tick().await.expect("launch");
    let j = e.store().job_get(job).await.expect("get").expect("job");
    assert_eq!(j.state, JobState::Queued, "{:?}", j.reason);
    let reason = j.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("RunPod refused all") && reason.contains("waiting to move to AWS"),
        "{reason}"
    );
    let left = j.spec().expect("spec");
    assert_eq!(left.providers, [podwarden_core::ProviderKind::Aws]);
    assert_eq!(j.attempts_made, 0, "a refusal here is not a retry");
    // It stays, making nothing, until it is moved (or its start_within passes).
    let tried = e.store().attempts_for_job(job).await.expect("attempts").len();
    for _ in 0..3 {
        emu.advance(Duration::from_secs(31));
        e.tick().await.expect("tick");
    }
    assert_eq!(e.store().attempts_for_job(job).await.expect("attempts").len(), tried);
    assert_eq!(state(&e, job).await, JobState::Queued);
    assert_eq!(live_pods(&emu), 0);
}

#[tokio::test]
async fn a_start_over_the_accounts_spend_limit_waits_instead_of_failing() {
    // Two readings of RunPod: the account reports its limits (v2, path unconfirmed) and the
    // engine asks first; or it does not (404), and the create's own refusal decides.
    for reported in [true, false] {
        let (emu, e) = setup(|_| {}).await;
        if !reported {
            let gone = |route: &str| HttpFault {
                route: route.into(),
                status: Some(404),
                probability: 1.0,
                times: None,
                retry_after: None,
                latency_ms: 0,
                lose_response: false,
            };
            emu.set_faults(FaultConfig {
                http: vec![gone("GET /v2/account/limits"), gone("GET /v2/billing/balance")],
                ..FaultConfig::default()
            });
        }
        emu.shared.with_world(|w, _| w.main_account_mut().spend_limit = 0.1);
        // One attempt only: waiting for the account spends none.
        let job = e
            .submit(spec("[gpu]\nmin_vram_gb = 16\n[retry]\nattempts = 1\n"), "local")
            .await
            .expect("submit")
            .job;
        e.tick().await.expect("launch");
        assert_eq!(live_pods(&emu), 0);
        assert_eq!(state(&e, job).await, JobState::Queued, "waiting, not failed");
        let ev = events(&e, job).await;
        let attempts = e.store().attempts_for_job(job).await.expect("attempts").len();
        if reported {
            assert!(ev.contains("past its spend limit of $0.1000/h"), "{ev}");
            assert_eq!(attempts, 0, "asked first: no create was refused");
        } else {
            assert!(ev.contains("would pass the account's hourly spend limit"), "{ev}");
            assert_eq!(attempts, 1, "no other candidate is tried against the same limit");
        }
        for _ in 0..3 {
            emu.advance(Duration::from_secs(40));
            e.tick().await.expect("tick");
            assert_eq!(state(&e, job).await, JobState::Queued, "still waiting ({reported})");
        }
        emu.shared.with_world(|w, _| w.main_account_mut().spend_limit = 80.0);
        for _ in 0..10 {
            if live_pods(&emu) == 1 {
                break;
            }
            emu.advance(Duration::from_secs(30));
            e.tick().await.expect("tick");
        }
        assert_eq!(live_pods(&emu), 1, "launched once the limit allows it ({reported})");
        e.cancel(job).await.expect("cancel");
        settle(&emu, &e, job, Duration::from_secs(1)).await;
        assert_eq!(live_pods(&emu), 0);
    }
}

#[tokio::test]
async fn a_job_on_a_network_volume_runs_in_the_volumes_data_center_or_is_refused() {
    let (emu, e) = setup(|_| {}).await;
    let c = emu.client();
    let vol = c
        .create_network_volume(&runpod::types::network_volumes::CreateNetworkVolumeRequest {
            name: "data".into(),
            size: 10,
            data_center: "EU-RO-1".into(),
            kind: None,
        })
        .await
        .expect("volume");
    // The cheapest 16 GB GPU is stocked in both data centers; the volume decides.
    let sub = e
        .submit(
            spec(&format!("network_volume = \"{}\"\n[gpu]\nmin_vram_gb = 16\n", vol.id)),
            "local",
        )
        .await
        .expect("submit");
    let job = sub.job;
    e.tick().await.expect("tick: launch");
    let pods = c.list_pods().await.expect("pods");
    assert_eq!(pods.len(), 1, "created, not refused by RunPod's data-center or Secure-only rule");
    assert_eq!(pods[0].data_center_id.as_ref().map(|d| d.as_str()), Some("EU-RO-1"));
    // Community is cheaper, but network volumes are Secure Cloud only on RunPod.
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(
        attempts.iter().map(|a| a.cloud.as_str()).collect::<Vec<_>>(),
        ["secure"],
        "{attempts:?}"
    );
    assert!(events(&e, job).await.contains("placed in EU-RO-1, the network volume's data center"));

    let err = e
        .submit(
            spec(&format!(
                "network_volume = \"{}\"\ndata_centers = [\"US-TX-3\"]\n[gpu]\nmin_vram_gb = 16\n",
                vol.id
            )),
            "local",
        )
        .await
        .expect_err("the volume is elsewhere");
    assert!(
        err.to_string().contains("is in EU-RO-1, which `data_centers` (US-TX-3) leaves out"),
        "{err}"
    );
    let err = e
        .submit(spec("network_volume = \"nosuchvol\"\n[gpu]\nmin_vram_gb = 16\n"), "local")
        .await
        .expect_err("unknown volume");
    assert!(
        err.to_string().contains("no network volume \"nosuchvol\"")
            && err.to_string().contains("podwarden volume create nosuchvol"),
        "{err}"
    );
}

#[tokio::test]
async fn a_pod_whose_image_never_pulls_is_booting_not_running_and_meets_the_boot_timeout() {
    // RunPod shows such a pod RUNNING; only `runtime` tells the container never started.
    let (emu, e) = setup(|_| {}).await;
    let s = JobSpec::from_toml(
        "job.toml",
        "name = \"t\"\nimage = \"ghcr.io/nobody/nothing:1\"\ncommand = \"true\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nboot_timeout = \"2m\"\n[retry]\nattempts = 1\n",
    )
    .expect("spec");
    let job = e.submit(s, "local").await.expect("submit").job;
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(30)).await, JobState::Failed);
    let log = events(&e, job).await;
    assert!(
        log.contains("did not boot within 120 s") && !log.contains("running: the pod is running"),
        "{log}"
    );
    assert_eq!(live_pods(&emu), 0);
}

/// RunPod's request budgets are per account and per day: an idle engine lists the provider once
/// per `idle_sweep_ms`, not every tick; with a job in flight it lists every tick.
#[tokio::test]
async fn an_idle_engine_spends_few_requests_and_a_busy_one_watches_every_tick() {
    let (emu, e) = setup(|_| {}).await;
    let lists = |emu: &RunningEmulator| {
        let calls = emu.account_calls();
        let n = |p: &str| calls.iter().filter(|c| c.method == "GET" && c.path == p).count();
        (n("/v2/pods"), n("/v2/serverless"))
    };
    for _ in 0..10 {
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(2));
    }
    assert_eq!(lists(&emu), (1, 1), "ten idle ticks in 20 s: one sweep");
    let queued_lists = emu.account_calls().iter().filter(|c| c.path == "/v2/queued-pods").count();
    assert_eq!(queued_lists, 1, "queued pods are swept every ten minutes");
    emu.advance(Duration::from_secs(60));
    e.tick().await.expect("tick");
    assert_eq!(lists(&emu), (2, 2), "the next sweep a minute later");

    let sub = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit");
    for _ in 0..5 {
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(2));
    }
    assert_eq!(lists(&emu).0, 7, "a live job: every tick lists pods");
    e.cancel(sub.job).await.expect("cancel");
    assert_eq!(settle(&emu, &e, sub.job, Duration::from_secs(2)).await, JobState::Cancelled);
}

/// A private image pulls with the job's `registry_auth` (RunPod's `registry`, v1's `containerRegistryAuthId`);
/// without it the pod never boots and the boot timeout ends the job with that reason.
#[tokio::test]
async fn a_private_image_runs_with_its_registry_credential_and_never_boots_without() {
    let (emu, e) = setup(|c| {
        let mut img = runpod_emulator::image::default_images()["python:3.11-slim"].clone();
        img.private = true;
        c.images.insert("acme/private:1".into(), img);
    })
    .await;
    let cred = emu
        .shared
        .with_world(|w, now| {
            let acct = w.main_account.clone();
            w.registry_create(&acct, "acme", now).map(|r| r.id)
        })
        .expect("credential");
    let job = |auth: &str| {
        JobSpec::from_toml(
            "job.toml",
            &format!("name = \"p\"\nimage = \"acme/private:1\"\n{auth}command = \"sleep 1000\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nboot_timeout = \"2m\"\n"),
        )
        .expect("spec")
    };
    let with =
        e.submit(job(&format!("registry_auth = \"{cred}\"\n")), "local").await.expect("submit").job;
    let without = e.submit(job(""), "local").await.expect("submit").job;
    e.tick().await.expect("tick: launch");
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("tick: boot");
    assert_eq!(state(&e, with).await, JobState::Running);
    assert_ne!(
        state(&e, without).await,
        JobState::Running,
        "a pod whose image never pulls is not running"
    );
    let end = settle(&emu, &e, without, Duration::from_secs(15)).await;
    assert_eq!(end, JobState::Failed);
    let why =
        e.store().job_get(without).await.expect("get").expect("job").reason.unwrap_or_default();
    assert!(why.contains("boot"), "{why}");
    assert_eq!(state(&e, with).await, JobState::Running, "the credentialed one is untouched");
}

/// A store error after the create call (here: another process holds the database's write lock
/// while the create is in flight, and the create is refused) must not leave the attempt marked
/// "create in flight" forever: the intent, with no pod behind it, is abandoned after its grace
/// and the job tries again and runs, instead of hanging in provisioning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_error_after_the_create_call_does_not_strand_the_job() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("podwarden.db");
    let emu = common::emulator(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        // The create is refused after 1.5 s (real time): long enough to take the lock meanwhile.
        c.faults.http.push(HttpFault {
            route: "POST /v2/pods".into(),
            status: Some(400),
            probability: 1.0,
            times: Some(1),
            retry_after: None,
            latency_ms: 1500,
            lose_response: false,
        });
    })
    .await;
    let e = std::sync::Arc::new(
        common::engine_on(
            &emu,
            podwarden_store::Store::open_sqlite(&db).await.expect("store"),
            emu.client(),
        )
        .await,
    );
    let job = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit").job;
    let ticking = tokio::spawn({
        let e = e.clone();
        async move { e.tick().await }
    });
    // Once the intent is committed (the create call is then in flight), lock the database.
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
    let mut other = sqlx::SqliteConnection::connect_with(&opts).await.expect("connect");
    loop {
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM attempts")
            .fetch_one(&mut other)
            .await
            .expect("count");
        if n.0 > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.expect("lock");
    let first = ticking.await.expect("join");
    sqlx::query("ROLLBACK").execute(&mut other).await.expect("unlock");
    let failed = match &first {
        Err(_) => true,
        Ok(r) => !r.errors().is_empty(),
    };
    assert!(failed, "the tick saw the store error: {first:?}");
    assert_eq!(live_pods(&emu), 0, "the create was refused");
    // The intent is abandoned after its grace; the next attempt boots and runs.
    for _ in 0..20 {
        if state(&e, job).await == JobState::Running {
            break;
        }
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(15));
    }
    assert_eq!(state(&e, job).await, JobState::Running, "{}", events(&e, job).await);
    assert_eq!(live_pods(&emu), 1, "one pod");
}

/// A terminate the provider keeps refusing is asked again with backoff (1 s, 2 s, 4 s … up to a
/// minute), not on every tick; once the provider takes it, the pod goes.
#[tokio::test]
async fn a_refused_terminate_is_retried_with_backoff() {
    let (emu, e) = setup(|_| {}).await;
    let job = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit").job;
    e.tick().await.expect("launch");
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("booted");
    assert_eq!(state(&e, job).await, JobState::Running);
    let refuse = FaultConfig {
        http: vec![HttpFault {
            route: "DELETE /v2/pods/{id}".into(),
            status: Some(400),
            probability: 1.0,
            times: None,
            retry_after: None,
            latency_ms: 0,
            lose_response: false,
        }],
        ..FaultConfig::default()
    };
    emu.set_faults(refuse);
    e.cancel(job).await.expect("cancel");
    let deletes = || {
        emu.account_calls()
            .iter()
            .filter(|c| c.method == "DELETE" && c.path.starts_with("/v2/pods/"))
            .count()
    };
    // 30 ticks, one a second: without backoff, 30 refused terminates.
    for _ in 0..30 {
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(1));
    }
    let asked = deletes();
    assert!((3..=6).contains(&asked), "asked {asked} times in 30 s (1, 2, 4, 8, 16 s apart)");
    assert_eq!(live_pods(&emu), 1, "still refused");
    emu.set_faults(FaultConfig::default());
    for _ in 0..5 {
        emu.advance(Duration::from_secs(60));
        e.tick().await.expect("tick");
    }
    assert_eq!(live_pods(&emu), 0, "taken once the provider accepts");
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Cancelled);
}

/// A job whose pod boots and runs for a few emulated seconds before it is stopped and settled.
async fn ran_briefly(emu: &RunningEmulator, e: &Engine<RunPodProvider>) -> JobId {
    let job = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit").job;
    for _ in 0..4 {
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(10));
    }
    e.cancel(job).await.expect("cancel");
    assert_eq!(settle(emu, e, job, Duration::from_secs(1)).await, JobState::Cancelled);
    job
}

/// RunPod's billing lags (it runs every 5 minutes; its history has been seen empty an hour
/// later): an absent bill never replaces the ledger's figure, and a present one is booked only
/// once two reads agree.
#[tokio::test]
async fn a_bill_is_booked_only_once_it_settles_and_never_from_an_absent_one() {
    use podwarden_engine::billing::{BILL_REREAD_MS, BillingPolicy, DEFAULT_BILL_SETTLE_MS};
    let (emu, e) = setup(|_| {}).await;
    let job = ran_briefly(&emu, &e).await;
    let spent = || async { e.store().job_get(job).await.expect("get").expect("job").spent };
    let ours = spent().await;
    assert!(ours > Money(0), "the ledger billed the pod");
    let pod =
        e.store().attempts_for_job(job).await.expect("attempts")[0].pod_id.clone().expect("pod");

    // Within RunPod's billing cycle the bill is absent: "check now" books nothing.
    let r = e.reconcile_billing(BillingPolicy::now(), 100).await.expect("reconcile");
    assert_eq!((r.read, r.awaiting, r.checked), (1, 1, 0), "{r:?}");
    assert_eq!(spent().await, ours, "an absent bill is no bill of $0");

    // The server's own checks read a bill at most every BILL_REREAD_MS.
    let auto = BillingPolicy::automatic(DEFAULT_BILL_SETTLE_MS);
    emu.advance(Duration::from_secs(400));
    let r = e.reconcile_billing(auto, 100).await.expect("reconcile");
    assert_eq!(r.read, 0, "not read again before {BILL_REREAD_MS} ms: {r:?}");
    // After a billing run the figure is there, but read once it is not trusted yet.
    emu.advance(Duration::from_millis(BILL_REREAD_MS as u64));
    let r = e.reconcile_billing(auto, 100).await.expect("reconcile");
    assert_eq!((r.read, r.pending, r.checked), (1, 1, 0), "{r:?}");
    assert_eq!(spent().await, ours, "a figure read once books nothing");
    // A second read that agrees, less than an hour after the pod ended, is not trusted yet
    // (RunPod's history has been seen empty an hour after use).
    emu.advance(Duration::from_millis(BILL_REREAD_MS as u64));
    let r = e.reconcile_billing(auto, 100).await.expect("reconcile");
    assert_eq!((r.read, r.pending, r.checked), (1, 1, 0), "{r:?}");
    // An hour on, a read that agrees books it: the ledger is the bill.
    emu.advance(Duration::from_secs(3600));
    let r = e.reconcile_billing(auto, 100).await.expect("reconcile");
    assert_eq!((r.read, r.checked), (1, 1), "{r:?}");
    let bill =
        emu.shared.world.lock().ledger.total_for(runpod_emulator::world::ledger::Kind::Pod, &pod);
    assert!((spent().await.usd() - bill).abs() < 2e-6, "{:?} vs {bill}", spent().await);
    let r = e.reconcile_billing(BillingPolicy::now(), 100).await.expect("reconcile");
    assert_eq!(r.read, 0, "checked once");
}

/// A queued pod entry named as this install names its pods would become a billing pod when
/// capacity comes: it is cancelled; other installs' entries and unnamed ones are left alone.
#[tokio::test]
async fn queued_pod_entries_of_this_install_are_cancelled_and_others_left_alone() {
    use runpod::types::queued_pods::QueuedPodStatus;
    let (emu, e) = setup(|c| c.page_size = 1).await;
    let ours = podwarden_core::ids::pod_name(e.install(), podwarden_core::AttemptId::new());
    let theirs = podwarden_core::ids::pod_name("0ther1n5", podwarden_core::AttemptId::new());
    let ids: Vec<String> = emu.shared.with_world(|w, now| {
        let acct = w.main_account.clone();
        [ours.as_str(), theirs.as_str(), "my queued notebook"]
            .iter()
            .map(|n| w.queued_seed(&acct, n, now))
            .collect()
    });
    e.tick().await.expect("tick");
    let status = |id: &str| emu.shared.world.lock().queued_pods[id].entry.status;
    assert_eq!(
        ids.iter().map(|i| status(i)).collect::<Vec<_>>(),
        [QueuedPodStatus::Cancelled, QueuedPodStatus::Queued, QueuedPodStatus::Queued],
        "found across pages (one entry a page)"
    );
}

/// A pod RunPod never bills is given up on after the settle time (its ledger figure stands),
/// and a bill that fails to read does not stop the others.
#[tokio::test]
async fn a_bill_that_never_comes_is_given_up_on_after_the_settle_time() {
    use podwarden_engine::billing::BillingPolicy;
    let (emu, e) = setup(|c| {
        c.billing = runpod_emulator::config::BillingConfig {
            // Longer than the settle time below: RunPod never shows this pod's bill.
            cycle_secs: 100_000.0,
            jitter_secs: 0.0,
        }
    })
    .await;
    let job = ran_briefly(&emu, &e).await;
    let policy = BillingPolicy::automatic(2 * 3_600_000);
    emu.advance(Duration::from_secs(600));
    let r = e.reconcile_billing(policy, 100).await.expect("reconcile");
    assert_eq!((r.read, r.awaiting), (1, 1), "{r:?}");
    emu.advance(Duration::from_secs(2 * 3600));
    let r = e.reconcile_billing(policy, 100).await.expect("reconcile");
    assert_eq!((r.read, r.unbilled, r.checked), (1, 1, 0), "{r:?}");
    assert!(events(&e, job).await.contains("RunPod has no bill for pod"));
    emu.advance(Duration::from_secs(3600));
    assert_eq!(e.reconcile_billing(policy, 100).await.expect("reconcile").read, 0, "done with it");
}

/// An image built for a newer CUDA than any host offers is never placed on an older driver:
/// the create asks for the image's CUDA (`minCudaVersion`), RunPod answers no capacity, and the
/// job waits instead of running on a host where it would crash.
#[tokio::test]
async fn an_image_built_for_a_newer_cuda_asks_for_it_and_waits_for_such_a_host() {
    let (emu, e) = setup(|_| {}).await;
    let newer = JobSpec::from_toml(
        "job.toml",
        "name = \"t\"\nimage = \"runpod/pytorch:2.9.0-py3.12-cuda13.0.0-devel-ubuntu24.04\"\ncommand = \"true\"\n[gpu]\nmin_vram_gb = 16\n",
    )
    .expect("spec");
    let job = e.submit(newer, "local").await.expect("submit").job;
    e.tick().await.expect("launch");
    assert_eq!(live_pods(&emu), 0, "no 12.8 host takes a CUDA 13.0 image");
    assert_eq!(state(&e, job).await, JobState::Queued);
    assert!(events(&e, job).await.contains("no capacity"));
}

/// The job token reaches the pod as a RunPod secret: the pod's env (what `GET /v2/pods` shows)
/// holds only the reference, the container gets the token at boot, and once the job has ended
/// and its pod is gone the sweep deletes the secret, leaving others' secrets alone.
#[tokio::test]
async fn the_job_token_travels_as_a_secret_that_is_deleted_once_the_job_is_over() {
    use runpod::types::secrets::{CreateSecretRequest, reference};
    let emu = common::emulator(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
    })
    .await;
    let clock = emu.shared.clock.clone();
    let mut options = podwarden_engine::EngineOptions::new(
        podwarden_engine::Clock::from_fn(move || clock.now().timestamp_millis()),
        b"test-secret".to_vec(),
    );
    // Nothing listens there: the token is checked from inside the pod, not by a callback.
    options.callback_base = Some("http://127.0.0.1:9".into());
    let store = podwarden_store::testing::open().await.expect("store");
    let e = Engine::new(store, RunPodProvider::new(emu.client()), options).await.expect("engine");
    let c = emu.client();
    let foreign = podwarden_core::ids::token_secret_name("0ther1n5", podwarden_core::JobId::new());
    for name in [foreign.as_str(), "my_hf_token"] {
        let req = CreateSecretRequest { name: name.into(), value: "v".into(), description: None };
        c.create_secret(&req).await.expect("seed");
    }

    let sub = e
        .submit(
            JobSpec::from_toml(
                "job.toml",
                "name = \"t\"\nimage = \"python:3.11-slim\"\ncommand = 'echo \"token=$PODWARDEN_JOB_TOKEN\"; sleep 1000'\n[gpu]\nmin_vram_gb = 16\n",
            )
            .expect("spec"),
            "local",
        )
        .await
        .expect("submit");
    let job = sub.job;
    let name = podwarden_core::ids::token_secret_name(e.install(), sub.job);
    for _ in 0..4 {
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(10));
    }
    let pod =
        e.store().attempts_for_job(job).await.expect("attempts")[0].pod_id.clone().expect("pod");
    let shown = c.get_pod(&runpod::PodId::new(&pod)).await.expect("get pod");
    assert_eq!(shown.env.get("PODWARDEN_JOB_TOKEN"), Some(&reference(&name)), "{:?}", shown.env);
    let token = e.job_token(job);
    let line = format!("token={token}");
    // Log lines do not change the world: wait on the pod's log itself.
    let logs = emu.shared.world.lock().pods[pod.as_str()].logs.clone();
    let mut more = logs.subscribe();
    while !logs.text().iter().any(|l| l.contains(&line)) {
        let next = tokio::time::timeout(podwarden_test_utils::emulator::LIMIT, more.changed());
        assert!(
            matches!(next.await, Ok(Ok(()))),
            "the container did not get the token:\n{}",
            logs.text().join("\n")
        );
    }

    e.cancel(job).await.expect("cancel");
    assert_eq!(settle(&emu, &e, job, Duration::from_secs(1)).await, JobState::Cancelled);
    let names = |emu: &RunningEmulator| {
        let mut v: Vec<String> =
            emu.shared.world.lock().secrets.values().map(|s| s.name.clone()).collect();
        v.sort();
        v
    };
    assert!(names(&emu).contains(&name), "still there until the sweep");
    emu.advance(Duration::from_secs(61));
    e.tick().await.expect("tick");
    let mut left = vec![foreign.clone(), "my_hf_token".to_owned()];
    left.sort();
    assert_eq!(names(&emu), left, "only the finished job's token is deleted");
}

/// A pod that exited is kept for its last log lines only until they are in: the exit line the
/// log follower stores ends the wait (`exit_seen_in_logs`), whichever of it and the callback
/// comes first; with logs that never come, the pod goes at the drain bound. Each pass that
/// moves a job toward its end asks for a prompt next pass, and one with a teardown ahead says
/// when it is due.
#[tokio::test]
async fn an_exited_pod_waits_for_its_last_log_lines_and_no_longer() {
    use podwarden_engine::jobs::LOG_DRAIN_MAX_MS;
    use podwarden_engine::reconcilers::FOLLOW_UP;
    let (emu, e) = setup(|_| {}).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        // A deadline an hour away is the period's business: it spends no early pass.
        let limits = "[gpu]\nmin_vram_gb = 16\n[limits]\nmax_runtime = \"1h\"\n";
        let sub = e.submit(spec(limits), "local").await.expect("submit");
        jobs.push((sub.job, sub.token));
    }
    e.tick().await.expect("launch");
    for _ in 0..10 {
        emu.advance(Duration::from_secs(3));
        let r = e.tick().await.expect("booting, then running");
        assert_eq!(r.next_pass, None, "nothing due before the period: {r:?}");
    }
    for (job, _) in &jobs {
        assert_eq!(state(&e, *job).await, JobState::Running);
    }
    let [(callback_then_logs, t1), (logs_first, _), (callback_only, t3)] = &jobs[..] else {
        unreachable!()
    };
    e.report_exit(*callback_then_logs, t1, 0, None, None).await.expect("exit");
    e.exit_seen_in_logs(*logs_first, first_attempt(&e, *logs_first).await, 0)
        .await
        .expect("exit line");
    e.report_exit(*callback_only, t3, 0, None, None).await.expect("exit");
    let r = e.tick().await.expect("exits seen");
    assert_eq!(r.next_pass, Some(FOLLOW_UP), "three jobs began their teardown");
    let pods = |job: JobId| {
        let e = &e;
        async move {
            e.store()
                .attempts_for_job(job)
                .await
                .expect("attempts")
                .iter()
                .filter(|a| !a.state.is_final())
                .count()
        }
    };
    // Terminated, then seen gone: a follow-up each.
    for _ in 0..2 {
        emu.advance(Duration::from_millis(250));
        let r = e.tick().await.expect("follow-up");
        assert_eq!(r.next_pass, Some(FOLLOW_UP), "{r:?}");
    }
    assert_eq!(pods(*logs_first).await, 0, "its logs were in: gone at once");
    assert_eq!(pods(*callback_then_logs).await, 1, "kept for its logs");
    assert_eq!(pods(*callback_only).await, 1, "kept for its logs");
    let r = e.tick().await.expect("settled");
    assert_eq!(state(&e, *logs_first).await, JobState::Succeeded);
    assert_eq!(r.next_pass, None, "settling asks for no follow-up; the drain ends past the period");

    emu.advance(Duration::from_secs(1));
    e.exit_seen_in_logs(*callback_then_logs, first_attempt(&e, *callback_then_logs).await, 0)
        .await
        .expect("its exit line came");
    e.tick().await.expect("terminate");
    e.tick().await.expect("gone");
    e.tick().await.expect("settled");
    assert_eq!(pods(*callback_then_logs).await, 0, "gone once its logs were in");
    assert_eq!(pods(*callback_only).await, 1, "still within the bound");
    assert_eq!(state(&e, *callback_then_logs).await, JobState::Succeeded);

    // 1.5 s of the drain bound passed: the rest is due before the period.
    emu.advance(Duration::from_secs(2));
    let r = e.tick().await.expect("nothing moved");
    assert_eq!(
        r.next_pass,
        Some(Duration::from_millis(LOG_DRAIN_MAX_MS as u64 - 3_500)),
        "the next pass is due when the drain bound ends"
    );
    emu.advance(Duration::from_millis(LOG_DRAIN_MAX_MS as u64));
    assert_eq!(
        settle(&emu, &e, *callback_only, Duration::from_millis(500)).await,
        JobState::Succeeded
    );
    assert_eq!(live_pods(&emu), 0);
}

/// A running job's reported `samples_per_second` (each batch's mean) is kept for its workload
/// (owner, name, image) on its pod's GPU; a batch without it, an absurd figure, or a job not
/// running on a pod adds nothing.
#[tokio::test]
async fn a_running_jobs_speed_is_learned_for_its_workload_on_its_gpu() {
    let (emu, e) = setup(|_| {}).await;
    let sub = e.submit(spec("[gpu]\nmin_vram_gb = 16\n"), "local").await.expect("submit");
    let job = sub.job;
    let row = e.store().job_get(job).await.expect("get").expect("job");
    let image = row.spec().expect("spec").image;
    let learned = || e.store().offer_speeds_of("local", &row.name, &image);
    e.tick().await.expect("tick: launch");
    let batch = |sps: &[f64]| {
        sps.iter().map(|v| serde_json::json!({"samples_per_second": v})).collect::<Vec<_>>()
    };
    e.report_metrics(job, &sub.token, &batch(&[8.0])).await.expect("booting");
    assert!(learned().await.expect("speeds").is_empty(), "no pod runs it yet");
    emu.advance(Duration::from_secs(30));
    e.tick().await.expect("tick: booted");
    assert_eq!(state(&e, job).await, JobState::Running);
    e.report_metrics(job, &sub.token, &batch(&[10.0, 14.0])).await.expect("metrics");
    e.report_metrics(job, &sub.token, &batch(&[18.0])).await.expect("metrics");
    let point = [serde_json::json!({"step": 1, "loss": 0.5})];
    e.report_metrics(job, &sub.token, &point).await.expect("no speed");
    e.report_metrics(job, &sub.token, &batch(&[1e300])).await.expect("absurd");
    let speeds = learned().await.expect("speeds");
    let a = &e.store().attempts_for_job(job).await.expect("attempts")[0];
    assert_eq!(speeds.len(), 1, "{speeds:?}");
    assert_eq!(e.store().offer_speeds().await.expect("all").len(), 1, "nothing under another key");
    let (k, r) = &speeds[0];
    assert_eq!(
        (k.provider.as_str(), &k.gpu_type, k.gpu_count),
        ("runpod", &a.gpu_type, a.gpu_count)
    );
    assert_eq!((r.reports, r.mean()), (2, Some(15.0)), "batch means 12 and 18");
}
