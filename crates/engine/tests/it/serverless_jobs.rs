//! Serverless jobs against the emulator on a manual clock, with a worker driven step by step
//! through RunPod's worker protocol: followed to the result (progress, stream chunks, cost),
//! a queue that says why it is stuck, worker timeouts with the fix, cancel, payload limits and
//! a bad key — each with the error a user can act on.

use podwarden_core::ServerlessJobId;
use podwarden_core::state::ServerlessJobState;
use podwarden_test_utils::engine as common;

use podwarden_core::endpoint::EndpointSpec;
use podwarden_core::money::Money;
use podwarden_core::serverless_job::ServerlessJobSpec;

use podwarden_engine::{Engine, EngineError, ProviderError, RunPodProvider};
use runpod::client::worker::WorkerClient;
use runpod::types::worker::JobResultBody;
use runpod_emulator::RunningEmulator;
use runpod_emulator::faults::{FaultConfig, WorkerFaults};
use serde_json::json;
use std::time::Duration;

async fn setup() -> (RunningEmulator, Engine<RunPodProvider>) {
    common::setup(|c| c.serverless.worker_boot_secs = 5.0).await
}

/// Deploys `predict` (its own workers never take jobs: `sleep`) and returns its provider id.
async fn deploy(e: &Engine<RunPodProvider>, extra: &str) -> String {
    let spec = EndpointSpec::from_toml(
        "ep.toml",
        &format!("name = \"predict\"\nimage = \"img\"\ncommand = \"sleep 100000\"\n{extra}\n[workers]\nmax = 1\nidle_timeout = \"5s\"\n"),
    )
    .expect("spec");
    e.deploy(spec, "alice").await.expect("deploy").row.endpoint_id.expect("id")
}

fn request(input: serde_json::Value) -> ServerlessJobSpec {
    ServerlessJobSpec::from_json(json!({"endpoint": "predict", "input": input})).expect("request")
}

/// A worker of `endpoint` driven by the test.
fn worker(emu: &RunningEmulator, endpoint: &str) -> WorkerClient {
    WorkerClient::new(emu.worker_config(endpoint, emu.api_key().clone())).expect("worker client")
}

/// Alice's job `{}` on `ep`, taken by a worker the test drives.
async fn submit_and_take(
    emu: &RunningEmulator,
    e: &Engine<RunPodProvider>,
    ep: &str,
) -> (podwarden_store::ServerlessJobRow, WorkerClient, runpod::types::worker::TakenJob) {
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    let w = worker(emu, ep);
    let job = w.take(false).await.expect("take").pop().expect("a job");
    (row, w, job)
}

/// The worker finishes `job` (output `1`) and a pass settles it.
async fn finish(e: &Engine<RunPodProvider>, w: &WorkerClient, job: &str) {
    w.post_result(job, &JobResultBody { output: Some(json!(1)), ..Default::default() }, false)
        .await
        .expect("done");
    e.tick().await.expect("tick: done");
}

/// Removes `predict` and lets its workers go (a few passes, 15 s).
async fn remove_endpoint(emu: &RunningEmulator, e: &Engine<RunPodProvider>) {
    e.remove("alice", "predict").await.expect("remove");
    for _ in 0..3 {
        e.tick().await.expect("tick: removed");
        emu.advance(Duration::from_secs(5));
    }
}

async fn log(e: &Engine<RunPodProvider>, id: ServerlessJobId) -> Vec<(String, String)> {
    e.store()
        .events_since(id, 0, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|x| (x.kind.to_string(), x.message))
        .collect()
}

#[tokio::test]
async fn a_serverless_job_is_followed_to_its_result_with_progress_chunks_and_cost() {
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let row =
        e.submit_serverless_job(request(json!({"x": 1})), "alice", false).await.expect("submit");
    assert_eq!(row.state, ServerlessJobState::Queued);
    assert!(row.estimate > Money(0), "an estimate before it runs");
    let first = &log(&e, row.id).await[0].1;
    assert!(first.contains("at most $") && first.contains("execution timeout 7200 s"), "{first}");

    e.tick().await.expect("tick: queued");
    let queued = e.serverless_job(row.id).await.expect("row");
    assert!(
        queued.reason.as_deref().is_some_and(|r| r.contains("worker")),
        "says why it waits: {:?}",
        queued.reason
    );

    let w = worker(&emu, &ep);
    let job = w.take(false).await.expect("take").pop().expect("a job");
    assert_eq!(job.input, json!({"x": 1}));
    e.tick().await.expect("tick: running");
    assert_eq!(e.serverless_job(row.id).await.expect("row").state, ServerlessJobState::Running);

    w.post_progress(&job.id, json!({"pct": 50})).await.expect("progress");
    w.post_stream_chunk(&job.id, json!("a")).await.expect("chunk a");
    w.post_stream_chunk(&job.id, json!("b")).await.expect("chunk b");
    e.tick().await.expect("tick: progress");
    let streams = || emu.account_calls().iter().filter(|c| c.path.contains("/stream/")).count();
    assert_eq!(streams(), 0, "a pass never reads /stream of a running job: RunPod may hold it");
    assert_eq!(e.follow_stream(row.id).await.expect("follow"), 2, "its follower reads both");
    emu.advance(Duration::from_secs(30));
    w.post_result(
        &job.id,
        &JobResultBody { output: Some(json!({"y": 2})), ..Default::default() },
        false,
    )
    .await
    .expect("done");
    e.tick().await.expect("tick: done");

    let done = e.serverless_job(row.id).await.expect("row");
    assert_eq!(done.state, ServerlessJobState::Succeeded);
    // The last event says so in its data, as every state event does (a follower reads it).
    let last = e.store().events_since(row.id, 0, 1000).await.expect("events").pop().expect("one");
    assert_eq!(last.data.as_deref(), Some(r#"{"request":"succeeded"}"#), "{last:?}");
    assert_eq!(done.output.as_deref(), Some(r#"{"y":2}"#));
    assert_eq!(done.execution_ms, Some(30_000));
    // 30 s running + the 5 s idle tail, at the endpoint's per-second price.
    assert_eq!(done.cost, Money(done.price_per_hour.0 * 35 / 3600));
    assert!(done.cost > Money(0) && done.cost < done.estimate);
    let ledger: Money = e
        .store()
        .cost_rows()
        .await
        .expect("ledger")
        .iter()
        .filter(|c| c.job_id == row.id.to_string())
        .map(|c| c.amount)
        .sum();
    assert_eq!(ledger, done.cost, "the ledger has the settled cost");
    let events = log(&e, row.id).await;
    let chunks: Vec<&str> =
        events.iter().filter(|(k, _)| k == "chunk").map(|(_, m)| m.as_str()).collect();
    assert_eq!(chunks, vec!["\"a\"", "\"b\""], "every chunk once, in order");
    assert!(events.iter().any(|(k, m)| k == "progress" && m.contains("50")), "{events:?}");
    assert!(
        events.last().is_some_and(|(_, m)| m.starts_with("succeeded") && m.contains("cost $")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_job_stuck_in_the_queue_says_why() {
    // workers.max = 0.
    let (_emu, e) = setup().await;
    let spec = EndpointSpec::from_toml(
        "ep.toml",
        "name = \"predict\"\nimage = \"img\"\ncommand = \"sleep 1000\"\n[workers]\nmax = 0\n",
    )
    .expect("spec");
    e.deploy(spec, "alice").await.expect("deploy");
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    e.tick().await.expect("tick");
    let r = e.serverless_job(row.id).await.expect("row").reason.unwrap_or_default();
    assert!(r.contains("workers.max is 0") && r.contains("redeploy"), "{r}");

    // No GPU: workers throttled.
    let (emu, e) = setup().await;
    emu.set_faults(FaultConfig {
        workers: WorkerFaults { throttled: true, ..Default::default() },
        ..Default::default()
    });
    deploy(&e, "[gpu]\npools = [\"ADA_24\"]\n").await;
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    e.tick().await.expect("tick");
    let r = e.serverless_job(row.id).await.expect("row").reason.unwrap_or_default();
    assert!(
        r.contains("no GPU available") && r.contains("ADA_24") && r.contains("add other pools"),
        "{r}"
    );

    // Workers crash-looping.
    let (emu, e) = setup().await;
    emu.set_faults(FaultConfig {
        workers: WorkerFaults { crash_on_start: true, ..Default::default() },
        ..Default::default()
    });
    let ep = deploy(&e, "").await;
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    emu.advance(Duration::from_secs(6)); // the worker boots and its process exits
    emu.wait_for("an unhealthy worker", Duration::from_secs(20), |w| {
        w.workers
            .values()
            .any(|x| {
                x.endpoint_id == ep && x.status == runpod::types::endpoints::WorkerStatus::Unhealthy
            })
            .then_some(())
    })
    .await
    .expect("crash loop");
    e.tick().await.expect("tick");
    let r = e.serverless_job(row.id).await.expect("row").reason.unwrap_or_default();
    assert!(r.contains("crash-looping"), "{r}");
    let events = log(&e, row.id).await;
    assert!(events.iter().any(|(k, m)| k == "queue" && m.contains("crash-looping")), "{events:?}");

    // No credit left.
    let (emu, e) = setup().await;
    deploy(&e, "").await;
    emu.shared.world.lock().main_account_mut().balance = 0.0;
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    e.tick().await.expect("tick");
    let r = e.serverless_job(row.id).await.expect("row").reason.unwrap_or_default();
    assert!(r.contains("insufficient balance") && r.contains("add funds"), "{r}");
}

#[tokio::test]
async fn a_worker_timeout_shows_the_endpoints_timeout_and_how_to_raise_it() {
    let (emu, e) = setup().await;
    let ep = deploy(&e, "execution_timeout = \"10s\"").await;
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    let w = worker(&emu, &ep);
    w.take(false).await.expect("take").pop().expect("job");
    emu.advance(Duration::from_secs(11));
    e.tick().await.expect("tick");
    let r = e.serverless_job(row.id).await.expect("row");
    assert_eq!(r.state, ServerlessJobState::TimedOut);
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("execution timeout is 10 s")
            && reason.contains("podwarden endpoint deploy"),
        "{reason}"
    );
    assert!(r.cost > Money(0), "the time it ran is billed");
}

#[tokio::test]
async fn stop_cancels_a_running_job_and_its_worker_is_told() {
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let row = e.submit_serverless_job(request(json!({})), "alice", false).await.expect("submit");
    let w = worker(&emu, &ep);
    let job = w.take(false).await.expect("take").pop().expect("job");
    emu.advance(Duration::from_secs(4));
    let r = e.cancel_serverless_job(row.id).await.expect("cancel");
    assert_eq!(r.state, ServerlessJobState::Cancelled);
    assert_eq!(r.reason.as_deref(), Some("stopped by the user"));
    assert!(
        w.jobs_to_stop().await.expect("job-stop").contains(&job.id),
        "the worker is told to stop it"
    );
    assert!(
        matches!(e.cancel_serverless_job(row.id).await, Err(EngineError::WrongState { .. })),
        "already stopped"
    );
    assert!(e.serverless_job(row.id).await.expect("row").state.is_final());
}

#[tokio::test]
async fn runsync_returns_the_settled_result() {
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let w = worker(&emu, &ep);
    let serve = tokio::spawn(async move {
        let job = w.take(false).await.expect("take").pop().expect("job");
        w.post_result(
            &job.id,
            &JobResultBody { output: Some(json!({"echo": job.input})), ..Default::default() },
            false,
        )
        .await
        .expect("done");
    });
    let r =
        e.submit_serverless_job(request(json!({"q": "hi"})), "alice", true).await.expect("runsync");
    serve.await.expect("worker");
    assert_eq!(r.state, ServerlessJobState::Succeeded);
    assert_eq!(r.output.as_deref(), Some(r#"{"echo":{"q":"hi"}}"#));
}

#[tokio::test]
async fn bad_input_is_refused_with_what_to_do_and_nothing_is_left_running() {
    let (emu, e) = setup().await;
    // No such endpoint.
    let err =
        e.submit_serverless_job(request(json!({})), "alice", false).await.expect_err("no endpoint");
    assert!(matches!(err, EngineError::NoSuchEndpoint(_)), "{err}");
    deploy(&e, "").await;
    // Over RunPod's /run limit: refused before anything is sent or stored.
    let big = "x".repeat(11 * 1024 * 1024);
    let err = e
        .submit_serverless_job(request(json!({ "blob": big })), "alice", false)
        .await
        .expect_err("too big");
    assert!(
        err.to_string().contains("10485760 bytes") && err.to_string().contains("/run"),
        "{err}"
    );
    assert!(
        e.store().serverless_jobs_recent("alice", 10).await.expect("rows").is_empty(),
        "nothing stored"
    );
    // Another user cannot use alice's endpoint.
    assert!(matches!(
        e.submit_serverless_job(request(json!({})), "bob", false).await,
        Err(EngineError::NoSuchEndpoint(_))
    ));
    // An invalid key: refused before anything runs, saying so, and the key appears nowhere.
    let bad_key = "rpa_THIS_KEY_IS_WRONG_0123456789";
    let bad = runpod::Client::builder()
        .api_key(runpod::ApiKey::new(bad_key))
        .rest_url(emu.base_url())
        .endpoint_base_url(emu.endpoint_base_url())
        .build()
        .expect("client");
    let e2 = common::engine_on(&emu, e.store().clone(), bad).await;
    let err =
        e2.submit_serverless_job(request(json!({})), "alice", false).await.expect_err("bad key");
    assert!(matches!(err, EngineError::Provider(ProviderError::Auth(_))), "{err}");
    assert!(
        err.to_string().contains("invalid API key") && !err.to_string().contains(bad_key),
        "{err}"
    );
    assert!(e.store().serverless_jobs_recent("alice", 10).await.expect("rows").is_empty());
}

/// RunPod bills an endpoint's workers from start until they fully stop, not the jobs'
/// execution: once RunPod's bill for the endpoint's hours settles, the difference is booked as
/// the endpoint's overhead, and the owner's spend equals what RunPod billed.
#[tokio::test]
async fn an_endpoints_hours_are_booked_to_runpods_bill_beyond_its_jobs() {
    use podwarden_engine::billing::BillingPolicy;
    use runpod_emulator::world::ledger::Kind;
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let (row, w, job) = submit_and_take(&emu, &e, &ep).await;
    e.tick().await.expect("tick: running");
    emu.advance(Duration::from_secs(20));
    finish(&e, &w, &job.id).await;
    let charged = e.serverless_job(row.id).await.expect("row").cost;
    assert!(charged > Money(0));
    remove_endpoint(&emu, &e).await;
    let billed = Money::from_usd(emu.shared.world.lock().ledger.total_for(Kind::Serverless, &ep));
    // RunPod bills its workers' lives (here the endpoint's own worker, from its allocation),
    // not the jobs' execution podwarden charged.
    assert_ne!(billed, charged, "{billed} vs {charged}");

    // Within the hour nothing is read; later, two agreeing reads book it.
    let policy = BillingPolicy::automatic(6 * 3_600_000);
    assert_eq!(e.reconcile_endpoint_bills(policy).await.expect("reconcile").read, 0);
    emu.advance(Duration::from_secs(2 * 3600));
    let r = e.reconcile_endpoint_bills(policy).await.expect("reconcile");
    assert_eq!((r.read, r.pending, r.checked), (1, 1, 0), "one read is not trusted: {r:?}");
    emu.advance(Duration::from_secs(600));
    let r = e.reconcile_endpoint_bills(policy).await.expect("reconcile");
    assert_eq!(r.checked, 1, "{r:?}");
    let summary = e.cost_summary("alice").await.expect("cost");
    assert!(
        summary.by_job.iter().any(|(_, name, _)| name.starts_with("predict (endpoint")),
        "{:?}",
        summary.by_job
    );
    let spent = summary.total;
    assert!(
        (spent.0 - billed.0).abs() <= 1,
        "the owner's spend is RunPod's bill: {spent} vs {billed} (jobs {charged})"
    );
    emu.advance(Duration::from_secs(3600));
    assert_eq!(e.reconcile_endpoint_bills(policy).await.expect("reconcile").checked, 0, "once");
}

/// A job that runs across hours has no ledger row until it settles (its row is then dated back
/// to its start): no hour it may have run in is booked before, or it would be charged twice.
#[tokio::test]
async fn no_hour_is_booked_while_a_job_that_ran_in_it_is_unsettled() {
    use podwarden_engine::billing::BillingPolicy;
    use runpod_emulator::world::ledger::Kind;
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let (row, w, job) = submit_and_take(&emu, &e, &ep).await;
    e.tick().await.expect("tick: running");
    let policy = BillingPolicy::automatic(6 * 3_600_000);
    // 90 minutes in (under the 2 h execution timeout): the first hour is closed.
    emu.advance(Duration::from_secs(5400));
    let r = e.reconcile_endpoint_bills(policy).await.expect("reconcile");
    assert_eq!((r.checked, r.pending), (0, 1), "the running job holds the hour back: {r:?}");
    let r = e.reconcile_endpoint_bills(BillingPolicy::now()).await.expect("check now");
    assert_eq!(r.checked, 0, "so does an operator's check now: {r:?}");
    finish(&e, &w, &job.id).await;
    assert!(e.serverless_job(row.id).await.expect("row").cost > Money(0));
    remove_endpoint(&emu, &e).await;
    emu.advance(Duration::from_secs(7 * 3600));
    let r = e.reconcile_endpoint_bills(policy).await.expect("reconcile");
    assert!(r.checked >= 2, "every settled hour, in one pass: {r:?}");
    let billed = Money::from_usd(emu.shared.world.lock().ledger.total_for(Kind::Serverless, &ep));
    let spent = e.cost_summary("alice").await.expect("cost").total;
    assert!((spent.0 - billed.0).abs() <= 8, "spend {spent} is RunPod's bill {billed}");
}

/// A job its worker finished within the same instant (`executionTime` 0) still kept the worker
/// for its idle tail: it costs that, not $0 (RunPod bills workers, not execution).
#[tokio::test]
async fn a_job_run_in_no_time_still_costs_its_workers_idle_tail() {
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let (row, w, job) = submit_and_take(&emu, &e, &ep).await;
    finish(&e, &w, &job.id).await;
    let done = e.serverless_job(row.id).await.expect("row");
    assert_eq!((done.state.as_str(), done.execution_ms), ("succeeded", Some(0)));
    assert_eq!(done.cost, Money(done.price_per_hour.0 * 5 / 3600), "the 5 s idle tail");
    assert!(done.cost > Money(0));
}

#[tokio::test]
async fn a_failed_job_is_retried_as_a_new_job_with_its_own_cost_and_a_finished_one_is_not() {
    let (emu, e) = setup().await;
    let ep = deploy(&e, "").await;
    let (row, w, job) = submit_and_take(&emu, &e, &ep).await;
    emu.advance(Duration::from_secs(3));
    let failed = JobResultBody { error: Some(json!("CUDA out of memory")), ..Default::default() };
    w.post_result(&job.id, &failed, false).await.expect("failed");
    e.tick().await.expect("tick: failed");
    let first = e.serverless_job(row.id).await.expect("row");
    assert_eq!(first.state, ServerlessJobState::Failed);
    let retry = e.retry_serverless_job(row.id).await.expect("retry");
    assert_ne!(retry.id, row.id, "a job of its own");
    assert_eq!(retry.provider_job_id, first.provider_job_id, "RunPod's same job, run again");
    assert_eq!(retry.state, ServerlessJobState::Queued);
    // A worker takes the same input again; this time it succeeds.
    let again = w.take(false).await.expect("take").pop().expect("the retried job");
    assert_eq!(again.id, job.id);
    emu.advance(Duration::from_secs(2));
    finish(&e, &w, &again.id).await;
    let done = e.serverless_job(retry.id).await.expect("row");
    assert_eq!(done.state, ServerlessJobState::Succeeded);
    assert!(done.cost > Money(0), "the retry's own run is billed");
    let first_after = e.serverless_job(row.id).await.expect("row");
    assert_eq!(first_after.cost, first.cost, "the first run keeps its own cost");
    assert!(log(&e, row.id).await.iter().any(|(_, m)| m == &format!("retried as {}", retry.id)));
    // Only a failed or timed-out job can be retried.
    assert!(matches!(e.retry_serverless_job(retry.id).await, Err(EngineError::WrongState { .. })));
}
