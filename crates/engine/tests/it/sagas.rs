//! The sagas with a crash injected at each of their steps (`CrashPoint`): the engine fails the
//! step and stops its pass, as a killed process would; a fresh engine on the same database
//! (its live set re-read from disk) then finishes or undoes what was left. At every point: the
//! job or endpoint reaches its final state, no pod or endpoint is left at the provider, none
//! was made twice, and the ledger agrees with the provider's bill.
//!
//! The crash test (`cli/tests/crash.rs`) kills a real server process at the same points.

use podwarden_core::JobId;
use podwarden_test_utils::engine as common;

use podwarden_core::endpoint::EndpointSpec;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::EndpointState;
use podwarden_core::state::JobState;
use podwarden_engine::sagas::steps;
use podwarden_engine::{
    Clock, CrashPoint, Engine, EngineOptions, Failpoint, OnCrash, RunPodProvider,
};
use podwarden_store::testing::TestDb;
use runpod::types::pods::PodStatus;
use runpod_emulator::RunningEmulator;
use std::time::Duration;

/// An engine on the database at `db` (opened afresh: what a restarted server sees), crashing
/// at `crash` if given.
async fn engine_at(
    emu: &RunningEmulator,
    db: &TestDb,
    crash: Option<CrashPoint>,
) -> Engine<RunPodProvider> {
    let store = db.open().await.expect("store");
    let clock = emu.shared.clock.clone();
    let mut options = EngineOptions::new(
        Clock::from_fn(move || clock.now().timestamp_millis()),
        b"test-secret".to_vec(),
    );
    options.crash = crash.map(|at| Failpoint { at, then: OnCrash::FailStep });
    Engine::new(store, RunPodProvider::new(emu.client()), options).await.expect("engine")
}

fn crashed(r: &Result<podwarden_engine::TickReport, podwarden_engine::EngineError>) -> bool {
    match r {
        Ok(r) => r.errors().iter().any(|e| e.contains("crash test")),
        Err(e) => e.to_string().contains("crash test"),
    }
}

async fn job_state(e: &Engine<RunPodProvider>, job: JobId) -> JobState {
    e.store().job_get(job).await.expect("get").expect("job").phase().expect("phase").state
}

/// Names of every pod (live or terminated) the provider ever made for `install`.
fn pods_made(emu: &RunningEmulator, install: &str) -> Vec<(String, PodStatus)> {
    let prefix = format!("pw-{install}-");
    let w = emu.shared.world.lock();
    w.pods
        .values()
        .filter(|p| p.name.starts_with(&prefix))
        .map(|p| (p.name.clone(), p.status))
        .collect()
}

#[tokio::test]
async fn a_crash_at_each_step_of_pod_launch_and_teardown_is_healed_by_a_fresh_engine() {
    let (launch, teardown) = (steps::POD_LAUNCH.points(), steps::POD_TEARDOWN.points());
    for point in launch.into_iter().chain(teardown) {
        let emu = common::emulator(|c| {
            c.pods.provisioning_secs = 10.0;
            c.pods.starting_secs = 20.0;
        })
        .await;
        let db = TestDb::new().await;
        let first = engine_at(&emu, &db, Some(point)).await;
        let spec = JobSpec::from_toml(
            "job.toml",
            "name = \"t\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 1000\"\n[gpu]\nmin_vram_gb = 16\n",
        )
        .expect("spec");
        let job = first.submit(spec, "local").await.expect("submit").job;
        let teardown = matches!(point, CrashPoint::BeforeTerminate | CrashPoint::AfterTerminate);
        let mut hit = false;
        for _ in 0..40 {
            if teardown && job_state(&first, job).await == JobState::Running {
                first.cancel(job).await.expect("cancel");
            }
            if crashed(&first.tick().await) {
                hit = true;
                break;
            }
            emu.advance(Duration::from_secs(5));
        }
        assert!(hit, "{point}: the saga reached its crash point");
        let install = first.install().to_owned();
        drop(first);

        let e = engine_at(&emu, &db, None).await;
        let mut cancelled = teardown;
        for _ in 0..60 {
            let s = job_state(&e, job).await;
            if s.is_final() {
                break;
            }
            if s == JobState::Running && !cancelled {
                e.cancel(job).await.expect("cancel");
                cancelled = true;
            }
            let r = e.tick().await;
            assert!(!crashed(&r), "{point}: the fresh engine has no failpoint");
            emu.advance(Duration::from_secs(5));
        }
        assert_eq!(job_state(&e, job).await, JobState::Cancelled, "{point}: the job settles");
        let made = pods_made(&emu, &install);
        let mut names: Vec<&str> = made.iter().map(|(n, _)| n.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), made.len(), "{point}: no pod made twice under one name: {made:?}");
        assert!(
            made.iter().all(|(_, s)| *s == PodStatus::Terminated),
            "{point}: no pod left running: {made:?}"
        );
        let attempts = e.store().attempts_for_job(job).await.expect("attempts");
        for (name, _) in &made {
            assert!(
                attempts.iter().any(|a| &a.pod_name == name && a.pod_id.is_some()),
                "{point}: pod {name} has an attempt that recorded it: {attempts:?}"
            );
        }
        // A billing run (RunPod bills every 5 minutes) before the check, so there is a bill.
        emu.advance(Duration::from_secs(400));
        let billing = e
            .reconcile_billing(podwarden_engine::billing::BillingPolicy::now(), 100)
            .await
            .expect("bills");
        assert!(billing.checked >= 1, "{point}: the bill was there to check: {billing:?}");
        assert!(
            billing.mismatches.is_empty(),
            "{point}: ledger = bill: {billing:?} {attempts:#?} {:#?}",
            e.store()
                .events_since(job, 0, 100)
                .await
                .expect("ev")
                .iter()
                .map(|x| (x.at, x.message.clone()))
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_crash_at_each_step_of_endpoint_deploy_is_finished_by_a_fresh_engine() {
    for point in steps::ENDPOINT_DEPLOY.points() {
        let emu = common::emulator(|_| {}).await;
        let db = TestDb::new().await;
        let first = engine_at(&emu, &db, Some(point)).await;
        let spec = EndpointSpec::from_toml(
            "ep.toml",
            "name = \"predict\"\nimage = \"img:1\"\ncommand = \"run-worker\"\n",
        )
        .expect("spec");
        let err = first.deploy(spec.clone(), "alice").await.expect_err("crashes");
        assert!(err.to_string().contains("crash test"), "{point}: {err}");
        let install = first.install().to_owned();
        drop(first);

        let e = engine_at(&emu, &db, None).await;
        let report = e.tick().await.expect("tick");
        assert!(report.errors().is_empty(), "{point}: {report:?}");
        let row = e.endpoint("alice", "predict").await.expect("row");
        assert_eq!(row.state, EndpointState::Ready, "{point}: converged");
        let prefix = format!("pw-{install}-");
        let provider = |emu: &RunningEmulator| {
            let w = emu.shared.world.lock();
            let eps = w.endpoints.values().filter(|x| x.name.starts_with(&prefix)).count();
            let tpls =
                w.templates.values().filter(|t| t.template.name.starts_with(&prefix)).count();
            (eps, tpls)
        };
        assert_eq!(provider(&emu), (1, 1), "{point}: one endpoint and one template, not two");
        let again = e.deploy(spec, "alice").await.expect("redeploy");
        assert_eq!(
            again.change,
            podwarden_engine::sagas::endpoint_deploy::Change::Unchanged,
            "{point}"
        );
        let removed = e.remove("alice", "predict").await.expect("remove");
        assert_eq!(removed.state, EndpointState::Deleted, "{point}");
        assert_eq!(provider(&emu), (0, 0), "{point}: nothing left");
    }
}
